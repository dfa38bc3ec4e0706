"""bernoulli, multinomial and normal (PyTorch's samplers from tensors of parameters): shapes and dtypes as
PyTorch's, statistics within a few standard errors, reproducibility under ``manual_seed`` and PyTorch's errors."""

import numpy as np
import pytest

import ember
from ember.graph import Graph

torch = pytest.importorskip("torch")


def _draws(fn, seed=0):
    ember.manual_seed(seed)
    return fn().numpy()


@pytest.mark.parametrize("fn", [
    lambda: ember.bernoulli(ember.full((4, 5), 0.5)),
    lambda: ember.multinomial(ember.tensor([[0.2, 0.3, 0.5], [1.0, 1.0, 0.0]]), 2),
    lambda: ember.multinomial(ember.tensor([0.2, 0.3, 0.5]), 6, replacement=True),
    lambda: ember.normal(ember.zeros(3, 1), ember.ones(4)),
    lambda: ember.zeros(6).bernoulli_(0.4),
])
def test_draws_repeat_under_a_seed_and_change_with_it(fn):
    np.testing.assert_array_equal(_draws(fn, 1), _draws(fn, 1))
    assert any(not np.array_equal(_draws(fn, 1), _draws(fn, seed)) for seed in range(2, 6))


def test_shapes_and_dtypes_match_torch():
    cases = [
        (lambda m: m.bernoulli(m.full((2, 3), 0.5, dtype=m.float64)), ()),
        (lambda m: m.bernoulli(m.zeros(4), 0.25), ()),
        (lambda m: m.zeros(2, 3).bernoulli(), ()),
        (lambda m: m.multinomial(m.ones(5), 3), ()),
        (lambda m: m.ones(2, 5, dtype=m.float64).multinomial(7, replacement=True), ()),
        (lambda m: m.normal(m.zeros(2, 1), m.ones(3)), ()),
        (lambda m: m.normal(m.zeros(3, dtype=m.float64), 2.0), ()),
        (lambda m: m.normal(1.0, m.ones(3)), ()),
        (lambda m: m.normal(0.0, 1.0, (2, 4)), ()),
        (lambda m: m.zeros(3, dtype=m.int64).bernoulli_(0.5), ()),
    ]
    for fn, _ in cases:
        ours, theirs = fn(ember), fn(torch)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_bernoulli_frequencies_follow_the_probabilities():
    ember.manual_seed(0)
    p = ember.tensor(np.tile(np.array([0.0, 0.3, 0.9, 1.0], np.float32), (50_000, 1)))
    mean = ember.bernoulli(p).numpy().mean(0)
    np.testing.assert_array_equal(mean[[0, 3]], [0.0, 1.0])
    np.testing.assert_allclose(mean[1:3], [0.3, 0.9], atol=0.01)  # standard errors 0.002 and 0.0013
    assert set(np.unique(ember.bernoulli(ember.zeros(100), 0.5).numpy())) == {0.0, 1.0}
    filled = ember.zeros(50_000, 2).bernoulli_(ember.tensor([0.2, 1.0])).numpy().mean(0)
    np.testing.assert_allclose(filled, [0.2, 1.0], atol=0.01)
    assert abs(ember.zeros(50_000).bernoulli_(0.7).numpy().mean() - 0.7) < 0.01


def test_multinomial_with_replacement_frequencies():
    ember.manual_seed(0)
    probs = np.array([[1.0, 0.0, 3.0, 4.0], [0.0, 0.0, 5.0, 0.0]])
    draws = ember.multinomial(ember.tensor(probs), 40_000, replacement=True).numpy()
    assert draws.dtype == np.int64 and draws.shape == (2, 40_000)
    np.testing.assert_allclose(np.bincount(draws[0], minlength=4) / 40_000, probs[0] / 8, atol=0.01)
    assert (draws[1] == 2).all()


def test_multinomial_without_replacement_is_distinct_and_successive():
    ember.manual_seed(0)
    p = np.array([0.5, 0.3, 0.2])
    draws = ember.multinomial(ember.tensor(np.tile(p, (30_000, 1))), 2).numpy()
    assert all(len(set(row)) == 2 for row in draws[:1000])
    np.testing.assert_allclose(np.bincount(draws[:, 0], minlength=3) / 30_000, p, atol=0.015)
    # P(i among two successive draws without replacement) = p_i + sum_j p_j p_i / (1 - p_j)
    inclusion = [p[i] + sum(p[j] * p[i] / (1 - p[j]) for j in range(3) if j != i) for i in range(3)]
    np.testing.assert_allclose(np.bincount(draws.reshape(-1), minlength=3) / 30_000, inclusion, atol=0.015)
    every = ember.multinomial(ember.tensor([0.1, 0.0, 0.6, 0.3]), 4).numpy()
    assert sorted(every) == [0, 1, 2, 3] and every[-1] == 1  # the zero-weight category comes last
    assert ember.multinomial(ember.tensor([1.0, 0.0, 0.0]), 1).numpy().tolist() == [0]


def test_normal_broadcasts_tensor_mean_and_std():
    ember.manual_seed(0)
    mean, std = ember.tensor([-2.0, 0.0, 3.0]), ember.tensor([[0.5], [2.0]])
    draws = np.stack([ember.normal(mean, std).numpy() for _ in range(20_000)])
    assert draws.shape == (20_000, 2, 3) and draws.dtype == np.float32
    np.testing.assert_allclose(draws.mean(0), np.broadcast_to([-2.0, 0.0, 3.0], (2, 3)), atol=0.06)
    np.testing.assert_allclose(draws.std(0), np.broadcast_to([[0.5], [2.0]], (2, 3)), rtol=0.03)
    assert abs(ember.normal(5.0, ember.full((40_000,), 2.0)).numpy().mean() - 5.0) < 0.05
    assert not ember.normal(ember.zeros(3, requires_grad=True), 1.0).requires_grad


@pytest.mark.parametrize("call, error, match", [
    (lambda: ember.multinomial(ember.tensor([1.0, -1.0, 0.0]), 1), ValueError, "inf, nan or a negative"),
    (lambda: ember.multinomial(ember.tensor([1.0, np.nan]), 1), ValueError, "inf, nan or a negative"),
    (lambda: ember.multinomial(ember.tensor([1.0, np.inf]), 1), ValueError, "inf, nan or a negative"),
    (lambda: ember.multinomial(ember.zeros(3), 1), ValueError, "sum to 0"),
    (lambda: ember.multinomial(ember.tensor([1, 2, 3]), 1), TypeError, "floating dtype, got int64"),
    (lambda: ember.multinomial(ember.ones(2, 2, 2), 1), ValueError, r"1-D or 2-D, got shape \[2, 2, 2\]"),
    (lambda: ember.multinomial(ember.ones(()), 1), ValueError, "1-D or 2-D"),
    (lambda: ember.multinomial(ember.ones(3), 0), ValueError, "num_samples=0 <= 0"),
    (lambda: ember.multinomial(ember.ones(3), 4), ValueError, "4 samples without replacement from 3 categories"),
    (lambda: ember.bernoulli(ember.tensor([0.5, 1.5])), ValueError, r"probabilities must be in \[0, 1\]"),
    (lambda: ember.bernoulli(ember.tensor([1, 0])), TypeError, "bernoulli: the probabilities must have a floating"),
    (lambda: ember.zeros(3).bernoulli_(1.5), ValueError, r"bernoulli_: p must be in \[0, 1\]"),
    (lambda: ember.zeros(3).bernoulli_(ember.tensor([0.0, 1.0])), ValueError, r"shape \[2\] does not broadcast"),
    (lambda: ember.normal(ember.zeros(2), -ember.ones(2)), ValueError, "std must be >= 0"),
    (lambda: ember.normal(ember.zeros(3), -2.0), ValueError, "std must be >= 0"),
    (lambda: ember.normal(0.0, -1.0, (2,)), ValueError, "std must be >= 0"),
    (lambda: ember.normal(ember.zeros(2), ember.ones(3)), ValueError, r"\[2\] and std of shape \[3\] do not"),
    (lambda: ember.normal(ember.zeros(2, dtype=ember.int64), 1.0), TypeError, "floating dtype, got int64"),
    (lambda: ember.normal(0.0, 1.0), TypeError, "give the size"),
    # a size with a tensor mean was ignored: normal(zeros(2), 1.0, (5,)) gave 2 samples
    (lambda: ember.normal(ember.zeros(2), 1.0, (5,)), TypeError, r"normal: size is for a number mean and std"),
    (lambda: ember.normal(0.0, ember.ones(2), size=(5,)), TypeError, r"got size=\(5,\)"),
])
def test_errors_where_torch_refuses(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_multinomial_and_normal_refuse_a_graph():
    g = Graph()
    probs = g.input("p", (2, 3), np.float32)
    with g.building():
        with pytest.raises(TypeError, match="multinomial: .*graph"):
            ember.multinomial(probs, 1)
        with pytest.raises(TypeError, match="normal: .*graph"):
            ember.normal(probs, 1.0)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_bernoulli_with_p_takes_an_integer_or_bool_tensor_for_its_shape_and_dtype_as_pytorch(dtype):
    # bernoulli(zeros(n, dtype=int64), 0.3) was a TypeError (a floating input was required even beside p)
    ours = ember.bernoulli(ember.zeros(100_000, dtype=dtype), 0.3)
    theirs = torch.bernoulli(torch.zeros(3, dtype=getattr(torch, dtype)), 0.3)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert set(np.unique(ours.numpy().astype(np.int64))) == {0, 1}
    assert abs(ours.numpy().astype(np.float64).mean() - 0.3) < 0.01
    with pytest.raises(TypeError, match="bernoulli: the probabilities must have a floating dtype"):
        ember.bernoulli(ember.zeros(3, dtype=dtype))


def test_samplers_take_requires_grad_as_pytorch():
    # normal(0., 1., size, requires_grad=True) and randperm(n, dtype=float32, requires_grad=True) were TypeErrors
    sample = ember.normal(0.0, 1.0, (3,), requires_grad=True)
    assert sample.requires_grad and sample.is_leaf
    sample.sum().backward()
    assert sample.grad.tolist() == [1.0, 1.0, 1.0]
    assert ember.normal(2.0, 1.0, (2,), dtype=ember.float64).dtype == ember.float64
    perm = ember.randperm(4, dtype=ember.float32, requires_grad=True)
    assert perm.requires_grad and sorted(perm.tolist()) == [0.0, 1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="normal: requires_grad= is for the form with numbers"):
        ember.normal(ember.zeros(2), 1.0, requires_grad=True)


def test_random_from_past_the_dtype_is_refused_naming_it():
    # random_(2, None) on bool failed inside NumPy ("low > high")
    with pytest.raises(ValueError, match=r"random_: from = 2 is out of bounds for bool"):
        ember.zeros(4, dtype=ember.bool).random_(2, None)
    assert set(ember.zeros(64, dtype=ember.bool).random_(0, None).tolist()) <= {False, True}


def test_top_level_clone_keeps_or_sets_the_memory_format():
    # ember.clone(x, memory_format=) was a TypeError, and ember.clone of a channels-last tensor made it row-major
    x = ember.ones(2, 3, 4, 5)
    assert ember.clone(x, memory_format=ember.channels_last).stride() == torch.ones(2, 3, 4, 5).clone(
        memory_format=torch.channels_last).stride()
    assert ember.clone(x.to(memory_format=ember.channels_last)).stride() == (60, 1, 15, 3)
    assert ember.clone(x).stride() == (60, 20, 5, 1)


def test_complex_samples_are_writable():
    # randn/rand with a complex dtype gave view_as_complex's read-only copy: add_, w[0] = 1 were refused
    w = ember.randn(2, 3, dtype=ember.complex64)
    w.add_(1)
    w[0] = 1
    assert w[0].tolist() == [1, 1, 1]
    r = ember.rand(2, dtype=ember.complex128, requires_grad=True)
    assert r.is_leaf and r.requires_grad

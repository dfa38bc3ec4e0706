"""Embedding's and EmbeddingBag's max_norm (the looked-up rows renormalized in place) and scale_grad_by_freq against
PyTorch: outputs, the weight after the call, gradients, eagerly and under ember.jit."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

IDS = np.array([[1, 2, 0, 5], [5, 5, 3, 0]])


def _layers(cls, *args, dtype=np.float64, seed=0, **kwargs):
    """The same layer in both frameworks, with PyTorch's weight scaled by 2 so some rows exceed a max_norm of 1."""
    theirs = getattr(torch.nn, cls)(*args, **kwargs).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(np.random.default_rng(seed).standard_normal(theirs.weight.shape) * 2))
    ours = getattr(nn, cls)(*args, **kwargs, dtype=ember.float64)
    ours.load_state_dict({"weight": ember.tensor(theirs.weight.detach().numpy().copy())})
    return ours, theirs


def _step_matches(ours, theirs, inputs: list, rtol=1e-12):
    """Two calls with a backward each: outputs, weight gradients and the (renormalized) weights agree."""
    rng = np.random.default_rng(1)
    for _ in range(2):
        y = ours(*[ember.tensor(a) for a in inputs])
        expected = theirs(*[torch.tensor(a) for a in inputs])
        np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=rtol, atol=1e-14)
        g = rng.standard_normal(tuple(expected.shape))
        (y * ember.tensor(g)).sum().backward()
        (expected * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=rtol, atol=1e-14)
        np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=rtol,
                                   atol=1e-14)


@pytest.mark.parametrize("kwargs", [{"max_norm": 1.0}, {"max_norm": 2.5, "norm_type": 1.0},
                                    {"max_norm": 1.0, "padding_idx": 2}, {"scale_grad_by_freq": True},
                                    {"scale_grad_by_freq": True, "padding_idx": 5},
                                    {"max_norm": 1.5, "norm_type": 3.0, "scale_grad_by_freq": True}])
def test_embedding_max_norm_and_scale_grad_by_freq_match_torch(kwargs):
    ours, theirs = _layers("Embedding", 6, 3, **kwargs)
    _step_matches(ours, theirs, [IDS])
    assert repr(ours) == repr(theirs)


def test_embedding_function_takes_torchs_positional_arguments():
    weight = np.random.default_rng(0).standard_normal((6, 3)) * 2
    ours, theirs = ember.tensor(weight.copy(), requires_grad=True), torch.tensor(weight.copy(), requires_grad=True)
    y = F.embedding(ember.tensor(IDS), ours, None, 1.0, 2.0, True)
    expected = TF.embedding(torch.tensor(IDS), theirs, None, 1.0, 2.0, True)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_embedding_from_pretrained_keeps_max_norm():
    weight = np.random.default_rng(0).standard_normal((6, 3)) * 2
    ours = nn.Embedding.from_pretrained(ember.tensor(weight.copy()), max_norm=1.0)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(weight.copy()), max_norm=1.0)
    np.testing.assert_allclose(ours(ember.tensor(IDS)).numpy(), theirs(torch.tensor(IDS)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("kwargs", [{"max_norm": 1.0}, {"max_norm": 2.0, "norm_type": 1.0, "padding_idx": 4}])
def test_embedding_bag_max_norm_matches_torch(mode, kwargs):
    ours, theirs = _layers("EmbeddingBag", 6, 3, mode=mode, **kwargs)
    _step_matches(ours, theirs, [np.array([1, 2, 4, 5, 4, 3, 2, 0, 5]), np.array([0, 2, 2, 5])])


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq_divides_by_each_ids_count(mode):
    """Each id's gradient divided by its count in the input, as Embedding's (PyTorch's CPU EmbeddingBag divides by
    another id's count where ids of different counts meet, pytorch/pytorch#190063: compared with its Embedding)."""
    ids, offsets = np.array([1, 2, 4, 5, 4, 3, 2, 0, 5, 5]), np.array([0, 2, 2, 5])
    ours, theirs = _layers("EmbeddingBag", 6, 3, mode=mode, scale_grad_by_freq=True)
    y = ours(ember.tensor(ids), ember.tensor(offsets))
    rows = TF.embedding(torch.tensor(ids), theirs.weight, scale_grad_by_freq=True)
    bags = np.repeat(np.arange(4), np.diff(np.append(offsets, ids.size)))
    sizes = np.maximum(np.bincount(bags, minlength=4), 1)[:, None] if mode == "mean" else np.ones((4, 1))
    expected = torch.zeros(4, 3, dtype=torch.float64).index_add(0, torch.tensor(bags), rows) / torch.tensor(sizes)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(1).standard_normal((4, 3))
    (y * ember.tensor(g)).sum().backward()
    (expected * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_embedding_bag_max_refuses_scale_grad_by_freq_as_torch():
    """A bag's maximum takes one row per column, so PyTorch refuses to scale it by frequency (it was scaled)."""
    ours, theirs = _layers("EmbeddingBag", 6, 3, mode="max", scale_grad_by_freq=True)
    ids, offsets = np.array([1, 2, 2, 4]), np.array([0, 2])
    with pytest.raises(ValueError, match="max mode does not support scaling"):
        theirs(torch.tensor(ids), torch.tensor(offsets))
    with pytest.raises(ValueError, match=r"EmbeddingBag: mode='max' does not support scale_grad_by_freq=True"):
        ours(ember.tensor(ids), ember.tensor(offsets))
    with pytest.raises(ValueError, match="embedding_bag: mode='max'"):
        ember.nn.functional.embedding_bag(ember.tensor(ids), ours.weight, ember.tensor(offsets), mode="max",
                                          scale_grad_by_freq=True)


def test_embedding_max_norm_and_frequency_scaling_trace_under_jit():
    """ember.jit repeats the in-place renormalization (an assign) on every call, and scales the gradient."""
    ours, theirs = _layers("Embedding", 6, 3, max_norm=1.0, scale_grad_by_freq=True)

    def step(ids):
        ours(ids).sum().backward()
        return ours.weight.grad

    traced = ember.jit(step)
    ids = [IDS, np.array([[4, 4, 1, 1], [1, 2, 2, 2]])]
    for batch in ids:
        ours.weight.grad = None
        theirs.weight.grad = None
        grad = traced(ember.tensor(batch))
        theirs(torch.tensor(batch)).sum().backward()
        np.testing.assert_allclose(grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_max_norm_renormalizes_a_row_looked_up_several_times_once(dtype):
    """An id looked up three times renormalizes its row as once, as PyTorch's (which skips the repeats): the copies
    were written back by index_copy, which averages repeated indices' rows, and the mean of three equal float16 rows
    is not always that row (3 of 16 elements an ulp off). float16 and bfloat16 rows are torch's bits, eagerly and
    under ember.jit."""
    start = np.random.default_rng(5).standard_normal((30, 16)).astype(np.float32)
    ids = np.array([12, 3, 12, 7, 12])
    once = ember.tensor(start).to(dtype)
    F.embedding(ember.tensor(np.array([12, 3, 7])), once, max_norm=2.0)
    eager = nn.Embedding(30, 16, max_norm=2.0, _weight=ember.tensor(start).to(dtype))
    eager(ember.tensor(ids))
    compiled = nn.Embedding(30, 16, max_norm=2.0, _weight=ember.tensor(start).to(dtype))
    ember.jit(lambda i: compiled(i))(ember.tensor(ids))
    for weight in (eager.weight, compiled.weight):
        np.testing.assert_array_equal(weight.detach().numpy(), once.numpy())
    if dtype in ("float16", "bfloat16"):
        theirs = torch.tensor(start).to(getattr(torch, dtype))
        torch.embedding_renorm_(theirs, torch.tensor(ids), 2.0, 2.0)
        np.testing.assert_array_equal(eager.weight.detach().numpy().astype(np.float32), theirs.float().numpy())


@pytest.mark.parametrize("ids", [[0, 6], [0, -1]])
def test_max_norm_refuses_ids_out_of_range_naming_embedding(ids):
    # the renormalization looked the rows up first: an id of 6 failed inside take, one of -1 inside scatter_reduce,
    # and the weight was left as it was
    weight = ember.tensor(np.random.default_rng(0).standard_normal((6, 3)) * 2)
    before = weight.numpy().copy()
    for call in (lambda: F.embedding(ember.tensor(ids), weight, max_norm=1.0),
                 lambda: F.embedding_bag(ember.tensor([ids]), weight, max_norm=1.0)):
        with pytest.raises(IndexError, match=r"embedding: ids must lie in \[0, 6\)"):
            call()
        np.testing.assert_array_equal(weight.numpy(), before)


@pytest.mark.parametrize("kwargs", [{}, {"mode": "max", "max_norm": 1.0, "norm_type": 1.0},
                                    {"scale_grad_by_freq": True, "sparse": True, "padding_idx": 2},
                                    {"include_last_offset": True, "mode": "sum"}])
def test_embedding_bag_repr_is_torchs(kwargs):
    # it put mode first, left norm_type out and showed sparse=True, which PyTorch's does not
    assert repr(nn.EmbeddingBag(5, 3, **kwargs)) == repr(torch.nn.EmbeddingBag(5, 3, **kwargs))

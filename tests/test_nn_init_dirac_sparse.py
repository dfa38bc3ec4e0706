"""nn.init.dirac_ (equal to torch's) and sparse_ (torch's definition: per column, ceil(sparsity * rows) zeros)."""

import math

import numpy as np
import pytest

import ember
from ember.nn import init


@pytest.mark.parametrize("shape,groups", [((4, 4, 3), 1), ((6, 4, 5), 1), ((3, 5, 2, 2), 1), ((8, 2, 3, 3), 2),
                                          ((6, 3, 3, 4, 5), 3), ((4, 2, 1, 1, 1), 4)])
def test_dirac_equals_torch(shape, groups):
    torch = pytest.importorskip("torch")
    ours = init.dirac_(ember.randn(*shape), groups=groups)
    theirs = torch.nn.init.dirac_(torch.empty(shape), groups=groups)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_a_dirac_convolution_passes_its_input_through():
    x = ember.randn(2, 4, 7, 7)
    conv = ember.nn.Conv2d(4, 4, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), rtol=0, atol=1e-6)


def test_dirac_errors():
    with pytest.raises(ValueError, match=r"dirac_: only 3-, 4- or 5-D tensors are supported, got shape \[3, 3\]"):
        init.dirac_(ember.empty(3, 3))
    with pytest.raises(ValueError, match=r"dirac_: the tensor's dim 0 \(6\) must be divisible by groups \(4\)"):
        init.dirac_(ember.empty(6, 2, 3), groups=4)


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.35, 1.0])
def test_sparse_zeros_the_same_count_in_every_column(sparsity):
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    w = init.sparse_(ember.empty(200, 300), sparsity, std=0.5).numpy()
    ref = torch.nn.init.sparse_(torch.empty(200, 300), sparsity, std=0.5).numpy()
    zeros = math.ceil(sparsity * 200)
    assert ((w == 0).sum(axis=0) == zeros).all() and ((ref == 0).sum(axis=0) == zeros).all()
    if zeros < 200:
        kept = w[w != 0]
        assert abs(kept.std() - 0.5) < 0.01 and abs(kept.mean()) < 0.01


def test_sparse_zeros_rows_uniformly_and_is_seeded():
    ember.manual_seed(3)
    a = init.sparse_(ember.empty(10, 20000), 0.3).numpy()
    np.testing.assert_allclose((a == 0).mean(axis=1), 0.3, atol=0.015)  # every row is zeroed equally often
    ember.manual_seed(3)
    np.testing.assert_array_equal(init.sparse_(ember.empty(10, 20000), 0.3).numpy(), a)
    one, two = (init.sparse_(ember.empty(5, 4, dtype=ember.float64), 0.4, generator=np.random.default_rng(1))
                for _ in range(2))
    assert one.dtype == np.float64
    np.testing.assert_array_equal(one.numpy(), two.numpy())


def test_sparse_errors():
    with pytest.raises(ValueError, match=r"sparse_: only 2-D tensors are supported, got shape \[3, 3, 3\]"):
        init.sparse_(ember.empty(3, 3, 3), 0.1)
    with pytest.raises(ValueError, match="sparse_: sparsity must be in \\[0, 1\\], got -0.5"):
        init.sparse_(ember.empty(3, 3), -0.5)


@pytest.mark.parametrize("name, args", [
    ("uniform_", ()), ("normal_", ()), ("trunc_normal_", ()), ("sparse_", (0.5,)), ("orthogonal_", ()),
    ("xavier_uniform_", ()), ("xavier_normal_", ()), ("kaiming_uniform_", ()), ("kaiming_normal_", ()),
])
@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_random_initialisers_refuse_integer_and_bool_tensors(name, args, dtype):
    # the float draws were cast to the tensor's dtype: uniform_ of an int64 tensor filled it with zeros (PyTorch's
    # samplers refuse it); the deterministic fills still take any dtype
    tensor = ember.zeros(3, 4, dtype=dtype)
    message = rf"{name}: random initialisation needs a (real )?floating tensor, got {dtype}\[3, 4\]"
    with pytest.raises(TypeError, match=message):
        getattr(init, name)(tensor, *args)
    assert init.constant_(ember.zeros(3, dtype="int64"), 7).numpy().tolist() == [7, 7, 7]


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_random_initialisers_of_complex_tensors_draw_both_parts_as_torch(dtype):
    # the real draws were cast to complex: every imaginary part was 0 and normal_'s real part had the whole std
    # (PyTorch: uniform_ draws each part from U(a, b), normal_ each part from N(mean, std^2 / 2): the imaginary
    # part's mean was 0, not PyTorch's 0.5)
    ember.manual_seed(0)
    u = init.uniform_(ember.empty(300, 200, dtype=dtype), -1.0, 3.0).numpy()
    n = init.normal_(ember.empty(300, 200, dtype=dtype), 0.5, 2.0).numpy()
    for part in (u.real, u.imag):
        assert part.min() >= -1.0 and part.max() <= 3.0
        assert abs(part.mean() - 1.0) < 0.02 and abs(part.std() - 4 / math.sqrt(12)) < 0.02
    assert abs(n.real.mean() - 0.5) < 0.02 and abs(n.imag.mean() - 0.5) < 0.02
    assert abs(n.real.std() - math.sqrt(2)) < 0.02 and abs(n.imag.std() - math.sqrt(2)) < 0.02
    s = init.sparse_(ember.empty(300, 200, dtype=dtype), 0.5, std=1.0).numpy()
    assert abs(s.imag[s != 0].std() - math.sqrt(0.5)) < 0.02
    for name in ("trunc_normal_", "orthogonal_"):  # no complex form in PyTorch
        with pytest.raises(TypeError, match=f"{name}: random initialisation needs a real floating tensor"):
            getattr(init, name)(ember.empty(3, 4, dtype=dtype))


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, 10.0, 11.0), (0.0, 1.0, -11.0, -10.0), (5.0, 2.0, -1.0, 0.0),
                                             (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_samples_intervals_far_in_a_tail(mean, std, a, b):
    # it redrew until every value was inside [a, b]: an interval 10 std from the mean never ended (PyTorch's inverse
    # CDF fills it); each case's mean and std against the truncated normal's, to 1% of the interval's width
    ember.manual_seed(0)
    values = init.trunc_normal_(ember.empty(100000, dtype="float64"), mean, std, a, b).numpy()
    alpha, beta = (a - mean) / std, (b - mean) / std
    grid = np.linspace(alpha, beta, 200001)
    density = np.exp(-grid**2 / 2)
    expected_mean = np.sum(grid * density) / np.sum(density)
    expected_std = np.sqrt(np.sum((grid - expected_mean) ** 2 * density) / np.sum(density))
    assert values.min() >= a and values.max() <= b
    assert abs(values.mean() - (mean + std * expected_mean)) < 0.01 * (b - a)
    assert abs(values.std() - std * expected_std) < 0.01 * (b - a)


def test_trunc_normal_refuses_an_empty_interval_and_a_negative_std():
    with pytest.raises(ValueError, match=r"trunc_normal_: needs std >= 0 and a <= b, got std=1.0, a=1.0, b=-1.0"):
        init.trunc_normal_(ember.empty(3), 0.0, 1.0, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"trunc_normal_: needs std >= 0 and a <= b, got std=-1.0"):
        init.trunc_normal_(ember.empty(3), 0.0, -1.0)
    assert init.trunc_normal_(ember.empty(3), 5.0, 0.0, -1.0, 1.0).numpy().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 2, 2)])
def test_orthogonal_of_an_empty_tensor_is_a_no_op(shape):
    # (0, 3) divided its 0 elements by 0 rows: a ZeroDivisionError (PyTorch returns the tensor)
    tensor = ember.empty(*shape)
    assert init.orthogonal_(tensor) is tensor and tensor.shape == shape


@pytest.mark.parametrize("fill, message", [
    (lambda t: init.uniform_(t, 1.0, 0.0), r"uniform_: expects a <= b, got a=1.0, b=0.0"),
    (lambda t: init.xavier_uniform_(t, gain=-1.0), r"uniform_: expects a <= b"),
    (lambda t: init.normal_(t, 0.0, -1.0), r"normal_: std must be >= 0, got -1.0"),
    (lambda t: init.xavier_normal_(t, gain=-1.0), r"normal_: std must be >= 0"),
    (lambda t: init.sparse_(t, 0.5, std=-1.0), r"sparse_: std must be >= 0, got -1.0"),
])
def test_reversed_bounds_and_negative_stds_are_refused_as_torch(fill, message):
    # they filled the tensor (U(b, a), mirrored normal draws) where PyTorch's samplers refuse them
    with pytest.raises(ValueError, match=message):
        fill(ember.empty(3, 3))


def test_constant_zeros_ones_write_as_fill_so_a_recorded_gradient_and_overflow_are_refused():
    # they stored into the array directly: a gradient that had read the old values came out of the new ones (2 * 1,
    # not 2 * w), and 1e5 became inf in float16; PyTorch's fill_ refuses both
    for fill in (lambda w: init.constant_(w, 1.0), init.zeros_, init.ones_):
        weight = ember.nn.Parameter(ember.tensor([3.0, 2.0]))
        loss = (weight * weight).sum()
        fill(weight)
        with pytest.raises(RuntimeError, match="modified by an in-place"):
            loss.backward()
    with pytest.raises(RuntimeError, match="100000.0 cannot be converted to float16 without overflow"):
        init.constant_(ember.zeros(2, dtype="float16"), 1e5)
    base = ember.zeros(3, 4)
    init.constant_(base[:, 1], 5.0)
    assert base.numpy()[:, 1].tolist() == [5.0] * 3 and base.numpy().sum() == 15.0

"""Pooling against PyTorch: adaptive average pooling and area interpolation with non-finite inputs (values and
gradients)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

import ember  # noqa: E402
import ember.nn.functional as F  # noqa: E402

TOLERANCE = {np.float32: {"rtol": 1e-5, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}


def _check_values_and_grads(ours, theirs, x: np.ndarray, gy_fill=None, seed=1):
    """``ours`` and ``theirs`` on ``x``: the result and the gradient for a random output gradient (its first
    element replaced by ``gy_fill`` when given), NaN and inf where PyTorch has them."""
    dtype = x.dtype.type
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours(a), theirs(b)
    assert y.shape == tuple(expected.shape)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    if gy_fill is not None:
        gy.reshape(-1)[0] = gy_fill
    y.backward(ember.tensor(gy))
    expected.backward(torch.tensor(gy))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOLERANCE[dtype])


def _with_non_finite(shape, dtype, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[3], flat[flat.size // 2], flat[-1] = np.inf, np.nan, -np.inf
    return x


ADAPTIVE = {
    "1d_uneven": (F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, (2, 3, 10), 4),
    "2d_uneven": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (2, 3, 7, 9), (3, 4)),
    "2d_resnet_5x5": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (2, 4, 14, 14), 5),
    "2d_finer_bins": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (1, 2, 3, 4), (5, 7)),
    "3d_uneven": (F.adaptive_avg_pool3d, TF.adaptive_avg_pool3d, (2, 2, 7, 5, 6), (3, 2, 4)),
    "1d_equal": (F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, (2, 3, 12), 4),
    "2d_equal_7x7": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (2, 4, 14, 14), 7),
    "2d_equal_and_uneven": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (2, 3, 14, 9), (7, 4)),
    "3d_equal": (F.adaptive_avg_pool3d, TF.adaptive_avg_pool3d, (2, 2, 8, 9, 4), (4, 3, 1)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ADAPTIVE))
def test_adaptive_avg_pool_with_inf_and_nan_matches_torch(name, dtype):
    """An inf or NaN reaches only the bins that hold it (a product with the bins' weights made NaN of every bin
    of its row, inf * 0); an inf in the output gradient only the elements of its bin."""
    ours, theirs, shape, size = ADAPTIVE[name]
    x = _with_non_finite(shape, dtype)
    _check_values_and_grads(lambda t: ours(t, size), lambda t: theirs(t, size), x, gy_fill=np.inf)
    y = ours(ember.tensor(x), size).numpy()
    assert np.isfinite(y).any() and not np.isfinite(y).all()


@pytest.mark.parametrize("shape, size", [((2, 3, 10), 4), ((1, 2, 7, 9), (3, 4)), ((1, 2, 5, 7, 6), (2, 3, 4))])
def test_interpolate_area_with_inf_matches_torch(shape, size):
    x = _with_non_finite(shape, np.float64)
    _check_values_and_grads(lambda t: F.interpolate(t, size=size, mode="area"),
                            lambda t: TF.interpolate(t, size=size, mode="area"), x)


@pytest.mark.parametrize("shape, size", [((8, 16, 14, 14), 7), ((4, 8, 6, 12, 12), (3, 4, 6)),
                                         ((8, 16, 12, 14), (4, 5)), ((16, 32, 60), 20), ((8, 16, 7, 14), (7, 2))])
def test_adaptive_avg_pool_of_equal_bins_is_one_mean_equal_under_jit(shape, size):
    """Equal bins: one reshape and one mean (the sum adds the windows' slices), its gradient one broadcast;
    ember.jit computes the same bits as eager mode, and both PyTorch's numbers."""
    pool = {3: F.adaptive_avg_pool1d, 4: F.adaptive_avg_pool2d, 5: F.adaptive_avg_pool3d}[len(shape)]
    x0 = np.random.default_rng(2).standard_normal(shape).astype(np.float32)

    def step(x):
        y = pool(x, size)
        (y * y).sum().backward()
        return y, x.grad

    eager_x = ember.tensor(x0, requires_grad=True)
    eager_y, _ = step(eager_x)
    traced = ember.jit(step)
    for _ in range(2):
        jit_x = ember.tensor(x0, requires_grad=True)
        jit_y, _ = traced(jit_x)
    np.testing.assert_array_equal(jit_y.numpy(), eager_y.detach().numpy())
    np.testing.assert_array_equal(jit_x.grad.numpy(), eager_x.grad.numpy())
    theirs = getattr(TF, pool.__name__)
    _check_values_and_grads(lambda t: pool(t, size), lambda t: theirs(t, size), x0)


@pytest.mark.parametrize("name, shape, size", [("adaptive_avg_pool1d", (2, 3, 0), 2),
                                               ("adaptive_avg_pool2d", (2, 3, 0, 4), 2),
                                               ("adaptive_avg_pool2d", (2, 3, 4, 0), (1, 4)),
                                               ("adaptive_avg_pool2d", (3, 0, 4), (1, 2)),
                                               ("adaptive_avg_pool3d", (2, 3, 4, 4, 0), 2)])
def test_adaptive_avg_pool_of_an_empty_spatial_axis_is_refused_as_torch(name, shape, size):
    """An empty spatial axis averaged no element into every bin (NaN, or a reshape error in 1-D); as PyTorch, it is
    refused, naming the op, unless every output size is 1 (PyTorch's global mean: NaN)."""
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.zeros(shape), size)
    with pytest.raises(ValueError, match=f"{name}: .*must not be empty"):
        getattr(F, name)(ember.zeros(*shape), size)
    ones = 1 if isinstance(size, int) else (1,) * len(size)
    expected = getattr(TF, name)(torch.zeros(shape), ones)
    y = getattr(F, name)(ember.zeros(*shape), ones)
    assert y.shape == tuple(expected.shape) and np.isnan(y.numpy()).all()


def _parity(ours, theirs, x: np.ndarray):
    """Values and the gradient for a random output gradient (float64, no ties)."""
    _check_values_and_grads(ours, theirs, x)


# name: (ember function, torch function, unbatched input shape, arguments)
UNBATCHED_POOLS = {
    "max_pool1d": (F.max_pool1d, TF.max_pool1d, (3, 9), (3, 2, 1)),
    "max_pool2d": (F.max_pool2d, TF.max_pool2d, (3, 7, 6), (3, 2, 1)),
    "max_pool3d": (F.max_pool3d, TF.max_pool3d, (2, 5, 4, 6), (2,)),
    "avg_pool1d": (F.avg_pool1d, TF.avg_pool1d, (3, 9), (3, 2, 1)),
    "avg_pool2d": (F.avg_pool2d, TF.avg_pool2d, (3, 7, 6), (3, 2, 1)),
    "avg_pool3d": (F.avg_pool3d, TF.avg_pool3d, (2, 5, 4, 6), (2,)),
    "adaptive_avg_pool1d": (F.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, (3, 9), (4,)),
    "adaptive_avg_pool2d": (F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, (3, 7, 6), ((3, 4),)),
    "adaptive_avg_pool3d": (F.adaptive_avg_pool3d, TF.adaptive_avg_pool3d, (2, 5, 4, 6), ((2, 3, 4),)),
}


@pytest.mark.parametrize("name", sorted(UNBATCHED_POOLS))
def test_unbatched_pooling_matches_torch(name):
    ours, theirs, shape, args = UNBATCHED_POOLS[name]
    x = np.random.default_rng(0).standard_normal(shape)
    _parity(lambda t: ours(t, *args), lambda t: theirs(t, *args), x)


@pytest.mark.parametrize("layer, args, shape", [
    ("MaxPool1d", (3,), (2, 9)), ("MaxPool2d", (2,), (2, 6, 7)), ("MaxPool3d", (2,), (2, 4, 4, 5)),
    ("AvgPool1d", (3,), (2, 9)), ("AvgPool2d", (2,), (2, 6, 7)), ("AvgPool3d", (2,), (2, 4, 4, 5)),
    ("AdaptiveAvgPool1d", (4,), (2, 9)), ("AdaptiveAvgPool2d", (3,), (2, 6, 7)),
    ("AdaptiveAvgPool3d", (2,), (2, 4, 4, 5)),
])
def test_unbatched_pooling_layers_match_torch(layer, args, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    _parity(getattr(ember.nn, layer)(*args), getattr(torch.nn, layer)(*args), x)


def _pair_parity(ours, theirs, x: np.ndarray, seed=1):
    """Values, indices and the input's gradient of a (values, indices) pooling, against torch."""
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (y, i), (expected, expected_i) = ours(a), theirs(b)
    assert i.dtype == ember.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), expected_i.numpy())
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), **TOLERANCE[x.dtype.type])
    gy = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    y.backward(ember.tensor(gy))
    expected.backward(torch.tensor(gy))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOLERANCE[x.dtype.type])
    return i


# name: (ember function, torch function, input shape, arguments)
WITH_INDICES = {
    "max_pool1d": (F.max_pool1d_with_indices, TF.max_pool1d_with_indices, (2, 3, 11), (3, 2, 1, 1, True)),
    "max_pool1d_unbatched": (F.max_pool1d_with_indices, TF.max_pool1d_with_indices, (3, 11), (2,)),
    "max_pool2d": (F.max_pool2d_with_indices, TF.max_pool2d_with_indices, (2, 3, 7, 8), (3, 2, 1, 1, True)),
    "max_pool2d_dilated": (F.max_pool2d_with_indices, TF.max_pool2d_with_indices, (2, 2, 9, 8),
                           ((3, 2), (2, 1), (1, 0), (2, 1))),
    "max_pool2d_unbatched": (F.max_pool2d_with_indices, TF.max_pool2d_with_indices, (3, 7, 8), (2,)),
    "max_pool3d": (F.max_pool3d_with_indices, TF.max_pool3d_with_indices, (2, 2, 5, 6, 7), (3, 2, 1)),
    "adaptive_max_pool1d": (F.adaptive_max_pool1d_with_indices, TF.adaptive_max_pool1d_with_indices, (2, 3, 10),
                            (4,)),
    "adaptive_max_pool2d": (F.adaptive_max_pool2d_with_indices, TF.adaptive_max_pool2d_with_indices, (2, 3, 7, 9),
                            ((3, 4),)),
    "adaptive_max_pool2d_unbatched": (F.adaptive_max_pool2d_with_indices, TF.adaptive_max_pool2d_with_indices,
                                      (3, 7, 9), ((3, None),)),
    "adaptive_max_pool3d": (F.adaptive_max_pool3d_with_indices, TF.adaptive_max_pool3d_with_indices,
                            (2, 2, 5, 7, 6), ((2, 3, 4),)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(WITH_INDICES))
def test_pooling_with_indices_matches_torch(name, dtype):
    ours, theirs, shape, args = WITH_INDICES[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    _pair_parity(lambda t: ours(t, *args), lambda t: theirs(t, *args), x)


def test_max_pool_indices_with_padding_inf_and_nan_match_torch():
    """A window of -inf points at its first element inside the input (never at padding); NaN wins."""
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6))
    x[0, 0, :3, :3] = -np.inf
    x[0, 1, 2, 3] = np.nan
    ours = F.max_pool2d(ember.tensor(x), 3, 2, 1, return_indices=True)[1]
    theirs = TF.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)[1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# kernel, stride, padding: overlapping windows (each kernel's own path), side by side, tiling with padding
@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (2, 2, 0), (2, 1, 1)])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_max_pool_gradient_goes_to_a_nan_window_s_last_nan_as_torch(rank, kernel, stride, padding):
    """The gradient kernels find each window's maximum by equality, which NaN fails: a NaN window's gradient went
    nowhere (torch sends it to the window's index, its last NaN)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3) + (7, 6, 5)[:rank])
    x.reshape(-1)[rng.choice(x.size, x.size // 6, replace=False)] = np.nan
    pool = f"max_pool{rank}d"
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = getattr(F, pool)(a, kernel, stride, padding), getattr(TF, pool)(b, kernel, stride, padding)
    g = rng.standard_normal(y.shape)
    (ga,) = ember.grad((y * ember.tensor(g)).sum(), a, create_graph=True)
    (gb,) = torch.autograd.grad((expected * torch.tensor(g)).sum(), b, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gb.detach().numpy(), rtol=1e-12)
    # the gradient's own vjp gathers at the same places
    gg = rng.standard_normal(x.shape)
    h = ember.tensor(g, requires_grad=True)
    (ha,) = ember.grad((ember.grad((y * h).sum(), a, create_graph=True)[0] * ember.tensor(gg)).sum(), h)
    t = torch.tensor(g, requires_grad=True)
    (hb,) = torch.autograd.grad((torch.autograd.grad((expected * t).sum(), b, create_graph=True)[0]
                                 * torch.tensor(gg)).sum(), t)
    np.testing.assert_allclose(ha.numpy(), hb.numpy(), rtol=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_max_pool_layers_return_indices_and_unpool_round_trip_as_torch(rank):
    shape = (2, 3) + (6, 5, 4)[:rank]
    x = np.random.default_rng(0).standard_normal(shape)
    pool, unpool = f"MaxPool{rank}d", f"MaxUnpool{rank}d"
    y, i = getattr(ember.nn, pool)(2, return_indices=True)(ember.tensor(x))
    ty, ti = getattr(torch.nn, pool)(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    size = shape[2:]  # odd sizes: the default output size is one short, output_size picks the input's
    _check_values_and_grads(lambda t: getattr(ember.nn, unpool)(2)(t, i, output_size=size),
                            lambda t: getattr(torch.nn, unpool)(2)(t, ti, output_size=size), y.numpy())


@pytest.mark.parametrize("kwargs", [{}, {"stride": 1}, {"stride": 2, "padding": 1}])
def test_max_unpool2d_matches_torch(kwargs):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    pool = {"kernel_size": 3, **kwargs}
    y, i = F.max_pool2d(ember.tensor(x), return_indices=True, **pool)
    ty, ti = TF.max_pool2d(torch.tensor(x), return_indices=True, **pool)
    size = (7, 6)
    _check_values_and_grads(lambda t: F.max_unpool2d(t, i, output_size=size, **pool),
                            lambda t: TF.max_unpool2d(t, ti, output_size=size, **pool), y.numpy())
    unbatched = F.max_unpool2d(y[0], i[0], output_size=size, **pool).numpy()
    np.testing.assert_array_equal(unbatched, TF.max_unpool2d(ty[0], ti[0], output_size=size, **pool).numpy())


def test_max_unpool_errors_name_the_op():
    y, i = F.max_pool2d(ember.randn(1, 2, 6, 6), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size \[9, 6\] must lie between \[5, 5\] and \[7, 7\]"):
        F.max_unpool2d(y, i, 2, output_size=(9, 6))
    with pytest.raises(IndexError, match=r"max_unpool: indices must lie in \[0, 25\)"):
        F.max_unpool2d(y, i, 2, output_size=(5, 5))
    with pytest.raises(ValueError, match=r"max_unpool3d: input must be 5-D or 4-D, got shape \[2, 6\]"):
        F.max_unpool3d(ember.randn(2, 6), i, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rank, kernel, size", [(2, (3, 2), (4, 5)), (2, 2, (5, 1)), (3, (2, 3, 2), (3, 2, 4))])
def test_fractional_max_pool_matches_torch(rank, kernel, size, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3) + (9, 8, 7)[:rank]).astype(dtype)
    samples = rng.random((2, 3, rank)).astype(dtype)
    ours = getattr(F, f"fractional_max_pool{rank}d")
    theirs = getattr(TF, f"fractional_max_pool{rank}d")
    _pair_parity(lambda t: ours(t, kernel, size, return_indices=True, _random_samples=ember.tensor(samples)),
                 lambda t: theirs(t, kernel, size, return_indices=True, _random_samples=torch.tensor(samples)), x)


def test_fractional_max_pool_ratio_layers_and_random_windows():
    x = np.random.default_rng(0).standard_normal((2, 3, 10, 9))
    samples = np.random.default_rng(1).random((1, 3, 2))
    theirs = TF.fractional_max_pool2d(torch.tensor(x[0]), 3, output_ratio=(0.5, 0.7),
                                      _random_samples=torch.tensor(samples))
    ours = ember.nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.7), _random_samples=ember.tensor(samples))
    np.testing.assert_array_equal(ours(ember.tensor(x[0])).numpy(), theirs.numpy())  # unbatched
    y, i = ember.nn.FractionalMaxPool2d(3, output_size=4, return_indices=True)(ember.tensor(x))
    assert y.shape == i.shape == (2, 3, 4, 4)
    # whatever the samples, each value is its window's maximum: the element the index names
    np.testing.assert_array_equal(y.numpy(), np.take_along_axis(x.reshape(2, 3, -1), i.numpy().reshape(2, 3, -1),
                                                                axis=2).reshape(y.shape))
    assert ember.nn.FractionalMaxPool3d(2, output_ratio=0.5)(ember.randn(1, 2, 8, 6, 4)).shape == (1, 2, 4, 3, 2)
    with pytest.raises(ValueError, match="FractionalMaxPool2d: needs exactly one of output_size and output_ratio"):
        ember.nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match=r"FractionalMaxPool2d: output_ratio must be a number or 2 numbers in \(0, 1"):
        ember.nn.FractionalMaxPool2d(2, output_ratio=1.5)
    with pytest.raises(ValueError, match="fractional_max_pool_indices: output_size .* exceeds the input size 10"):
        F.fractional_max_pool2d(ember.tensor(x), 3, output_size=9)


@pytest.mark.parametrize("rank", [2, 3])
def test_fractional_max_pool_layer_keeps_its_samples_as_a_buffer(rank):
    samples = np.random.default_rng(1).random((2, 3, rank))
    theirs = getattr(torch.nn, f"FractionalMaxPool{rank}d")(2, output_size=3, _random_samples=torch.tensor(samples))
    ours = getattr(ember.nn, f"FractionalMaxPool{rank}d")(2, output_size=3, _random_samples=ember.zeros(2, 3, rank))
    ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in theirs.state_dict().items()})  # strict
    x = np.random.default_rng(0).standard_normal((2, 3) + (7, 6, 5)[:rank])
    np.testing.assert_array_equal(ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    assert list(ours.state_dict()) == ["_random_samples"]
    assert ours.float()._random_samples.dtype == ember.float32
    assert list(getattr(ember.nn, f"FractionalMaxPool{rank}d")(2, output_size=3).state_dict()) == []


@pytest.mark.parametrize("rank, norm_type, kernel, stride, ceil_mode", [
    (1, 2, 3, 2, False), (1, 3.0, 2, None, True), (2, 2, (3, 2), 2, True), (2, 1.5, 2, 1, False),
    (3, 2, 2, None, False), (3, 4, (2, 3, 2), (1, 2, 1), True),
])
def test_lp_pool_matches_torch(rank, norm_type, kernel, stride, ceil_mode):
    x = np.random.default_rng(0).uniform(0.2, 2.0, (2, 3) + (7, 6, 5)[:rank])
    ours, theirs = getattr(F, f"lp_pool{rank}d"), getattr(TF, f"lp_pool{rank}d")
    _check_values_and_grads(lambda t: ours(t, norm_type, kernel, stride, ceil_mode),
                            lambda t: theirs(t, norm_type, kernel, stride, ceil_mode), x)
    layer, torch_layer = getattr(ember.nn, f"LPPool{rank}d"), getattr(torch.nn, f"LPPool{rank}d")
    _check_values_and_grads(layer(norm_type, kernel, stride, ceil_mode),
                            torch_layer(norm_type, kernel, stride, ceil_mode), x[0])  # unbatched


@pytest.mark.parametrize("rank, kernel, stride, ceil_mode", [(1, 3, 2, True), (2, 2, None, False), (3, 2, 1, False)])
@pytest.mark.parametrize("norm_type", [math.inf, -math.inf])
def test_lp_pool_of_an_infinite_norm_is_the_largest_or_smallest_magnitude_as_torch(rank, norm_type, kernel, stride,
                                                                                   ceil_mode):
    x = np.random.default_rng(0).standard_normal((2, 3) + (7, 6, 5)[:rank])
    ours, theirs = getattr(F, f"lp_pool{rank}d"), getattr(TF, f"lp_pool{rank}d")
    _check_values_and_grads(lambda t: ours(t, norm_type, kernel, stride, ceil_mode),
                            lambda t: theirs(t, norm_type, kernel, stride, ceil_mode), x)


def test_adaptive_max_pool3d_layer_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7, 6))
    _check_values_and_grads(ember.nn.AdaptiveMaxPool3d((2, None, 4)), torch.nn.AdaptiveMaxPool3d((2, None, 4)), x)
    y, i = ember.nn.AdaptiveMaxPool3d(2, return_indices=True)(ember.tensor(x[0]))
    ty, ti = torch.nn.AdaptiveMaxPool3d(2, return_indices=True)(torch.tensor(x[0]))
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_adaptive_max_pool_sends_a_tied_bins_gradient_to_its_first_maximum_as_torch(rank):
    """Ties (rounded values, overlapping uneven bins): the whole gradient goes to each bin's first maximum, not
    shared among the tied elements; eagerly and under ember.jit, with and without indices."""
    shape = (2, 3) + (7, 5, 6)[:rank]
    x = np.round(np.random.default_rng(0).standard_normal(shape))
    ours = getattr(F, f"adaptive_max_pool{rank}d")
    theirs = getattr(TF, f"adaptive_max_pool{rank}d")
    size = (4, 3, 4)[:rank]
    _check_values_and_grads(lambda t: ours(t, size), lambda t: theirs(t, size), x)
    _check_values_and_grads(lambda t: ours(t, size, return_indices=True)[0],
                            lambda t: theirs(t, size, return_indices=True)[0], x)

    def step(t):
        ours(t, size).sum().backward()
        return t.grad

    b = torch.tensor(x, requires_grad=True)
    theirs(b, size).sum().backward()
    traced = ember.jit(step)
    for _ in range(2):
        grad = traced(ember.tensor(x, requires_grad=True))
    np.testing.assert_array_equal(grad.numpy(), b.grad.numpy())


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("kwargs", [{"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 4},
                                    {"kernel_size": 2, "ceil_mode": True, "count_include_pad": False,
                                     "divisor_override": -3}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool_divisor_override_matches_torch(rank, kwargs, dtype):
    """Each window's sum over the divisor, whatever the padding and ceil_mode windows hold; layers and functions."""
    x = np.random.default_rng(0).standard_normal((2, 3) + (7, 6, 5)[:rank]).astype(dtype)
    ours, theirs = getattr(F, f"avg_pool{rank}d"), getattr(TF, f"avg_pool{rank}d")
    _check_values_and_grads(lambda t: ours(t, **kwargs), lambda t: theirs(t, **kwargs), x)
    layer = f"AvgPool{rank}d"
    _check_values_and_grads(getattr(ember.nn, layer)(**kwargs), getattr(torch.nn, layer)(**kwargs), x[0])
    assert ours(ember.tensor(x), **kwargs).dtype == dtype
    assert repr(getattr(ember.nn, layer)(3, 2)) == repr(getattr(torch.nn, layer)(3, 2))
    with pytest.raises(ValueError, match=rf"avg_pool{rank}d: divisor_override must be a non-zero integer, got 0"):
        ours(ember.tensor(x), 2, divisor_override=0)


@pytest.mark.parametrize("layer, args", [("AvgPool1d", (3, 2, 1)), ("AvgPool1d", (4,)), ("MaxUnpool1d", (3, 2, 1)),
                                         ("MaxUnpool2d", ((3, 2),)), ("MaxUnpool3d", (2, 1))])
def test_avg_pool1d_and_max_unpool_layers_store_tuples_as_torch(layer, args):
    """AvgPool1d and MaxUnpool1d/2d/3d kept their window sizes as given (kernel_size=3 where PyTorch holds (3,)),
    so their reprs and attributes differed from PyTorch's; the layers still compute PyTorch's values."""
    ours, theirs = getattr(ember.nn, layer)(*args), getattr(torch.nn, layer)(*args)
    assert repr(ours) == repr(theirs)
    for name in ("kernel_size", "stride", "padding"):
        assert getattr(ours, name) == getattr(theirs, name)
    rank = int(layer[-2])
    x = np.random.default_rng(0).standard_normal((2, 3) + (7, 6, 5)[:rank])
    if layer.startswith("AvgPool"):
        _check_values_and_grads(ours, theirs, x)
    else:
        pooled, indices = getattr(TF, f"max_pool{rank}d")(torch.tensor(x), *args, return_indices=True)
        size = x.shape[2:]
        _check_values_and_grads(lambda t: ours(t, ember.tensor(indices.numpy()), size),
                                lambda t: theirs(t, indices, size), pooled.numpy())


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_avg_pool_in_low_precision_sums_in_float32_as_torch(rank, dtype):
    """The windows were summed in the input's dtype: float16 overflowed to inf (49 values near 1500) and bfloat16
    drifted (a 64 x 64 mean of values near 305 was 273 off); PyTorch sums in float32 and rounds once. PyTorch has
    no float16 avg_pool3d on the CPU, so the 3-D case is checked against its float32 result rounded."""
    rng = np.random.default_rng(0)
    shape, kernel = {1: ((2, 3, 150), 49), 2: ((1, 2, 64, 64), 64), 3: ((1, 2, 7, 7, 7), 7)}[rank]
    x = (rng.random(shape) * 10 + 1500).astype(np.float32)
    ours = getattr(F, f"avg_pool{rank}d")(ember.tensor(x).to(getattr(ember, dtype)), kernel)
    low = getattr(torch, dtype)
    if rank == 3:
        theirs = TF.avg_pool3d(torch.tensor(x), kernel).to(low)
    else:
        theirs = getattr(TF, f"avg_pool{rank}d")(torch.tensor(x).to(low), kernel)
    assert ours.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_avg_pool_divisor_override_in_low_precision_rounds_once_as_torch(rank, dtype):
    """divisor_override rescaled the float16 / bfloat16 means, rounded, by a factor and rounded again (20-55% of
    the outputs an ulp off PyTorch's); PyTorch divides the float32 window sums and rounds once. The 3-D case is
    checked against PyTorch's float32 result rounded (it has no float16 avg_pool3d on the CPU)."""
    low = getattr(torch, dtype)
    x = torch.tensor(np.random.default_rng(0).standard_normal((2, 3) + (9, 9, 5)[:rank]) * 3).to(low)
    kwargs = {"kernel_size": 3, "stride": 2, "padding": 1, "divisor_override": 4}
    ours = getattr(F, f"avg_pool{rank}d")(ember.tensor(x.float().numpy()).to(getattr(ember, dtype)), **kwargs)
    theirs = getattr(TF, f"avg_pool{rank}d")(x if rank == 2 else x.float(), **kwargs).to(low).float().numpy()
    assert ours.dtype == getattr(ember, dtype)
    ours = ours.float().numpy()
    assert np.mean(ours != theirs) < 0.01  # (the mean times count / divisor in float32 may part a tie)
    np.testing.assert_allclose(ours, theirs, rtol=2.0 ** (-10 if dtype == "float16" else -7), atol=0)


@pytest.mark.parametrize("name, shape, size", [("adaptive_avg_pool1d", (2, 3, 150), 7),
                                               ("adaptive_avg_pool2d", (1, 2, 30, 31), (7, 6)),
                                               ("adaptive_avg_pool2d", (1, 2, 30, 31), (None, 4)),
                                               ("area", (1, 2, 30, 31), (7, 6))])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_adaptive_avg_pool_in_low_precision_averages_in_float32_as_torch(name, shape, size, dtype):
    """Uneven bins were averaged in the input's dtype, one axis at a time, rounding after each (float16: 25 of 42
    2-D means off PyTorch's, bfloat16 24); PyTorch averages in float32 and rounds once. The gradient is the
    float32 one rounded once too."""
    x = (np.random.default_rng(0).standard_normal(shape) * 3 + 20).astype(np.float32)
    low = getattr(torch, dtype)
    if name == "area":
        ours, theirs = F.interpolate, TF.interpolate
        kwargs = {"size": size, "mode": "area"}
    else:
        ours, theirs = getattr(F, name), getattr(TF, name)
        kwargs = {"output_size": size}
    a = ember.tensor(x).to(getattr(ember, dtype)).requires_grad_()
    y = ours(a, **kwargs)
    expected = theirs(torch.tensor(x).to(low), **kwargs)
    assert y.dtype == getattr(ember, dtype)
    ours_y, their_y = y.detach().float().numpy(), expected.float().numpy()
    # PyTorch divides a bin's float32 sum once, Ember averages axis by axis in float32: rarely an ulp apart
    np.testing.assert_allclose(ours_y, their_y, rtol={"float16": 2.0**-10, "bfloat16": 2.0**-7}[dtype])
    assert (ours_y != their_y).mean() <= 0.01
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(ember.tensor(gy).to(getattr(ember, dtype)))
    b = torch.tensor(x).to(low).double().requires_grad_()
    theirs(b, **kwargs).backward(torch.tensor(gy).to(low).double())
    np.testing.assert_array_equal(a.grad.float().numpy(), b.grad.to(low).float().numpy())


def test_new_pooling_ops_trace_under_jit():
    """ember.jit: indices, unpooling, fractional windows from fixed samples, lp pooling and uneven adaptive
    averaging in one traced step, forward and gradient equal to eager mode's."""
    samples = ember.tensor(np.random.default_rng(1).random((2, 3, 2)))

    def step(x):
        y, i = F.max_pool2d(x, 2, return_indices=True)
        z = F.max_unpool2d(y, i, 2) + F.lp_pool2d(x, 2, 1, 1)
        z = F.fractional_max_pool2d(z, 2, output_size=5, _random_samples=samples)
        loss = F.adaptive_avg_pool2d(z, 3).sum() + F.conv2d(z, ember.ones(1, 3, 2, 2), padding="same").sum()
        loss.backward()
        return loss, x.grad

    x0 = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    eager_x = ember.tensor(x0, requires_grad=True)
    eager = step(eager_x)
    traced = ember.jit(step)
    for _ in range(2):
        jit_x = ember.tensor(x0, requires_grad=True)
        result = traced(jit_x)
    np.testing.assert_allclose(result[0].numpy(), eager[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(jit_x.grad.numpy(), eager_x.grad.numpy(), rtol=1e-12, atol=1e-12)

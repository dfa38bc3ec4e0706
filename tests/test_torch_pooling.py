"""Pooling against PyTorch: adaptive average pooling and area interpolation with non-finite inputs (values and
gradients)."""

from __future__ import annotations

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

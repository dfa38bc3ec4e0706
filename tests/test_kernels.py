"""The reduction shortcuts give what NumPy's own reductions give."""

import numpy as np
import pytest

from ember.ops.kernels import max_last, sum_last


@pytest.mark.parametrize("shape", [(7, 10), (200, 10), (3, 64, 5), (130, 1), (128, 32), (200, 33), (6, 0), (128, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_axis_reductions_match_numpy(shape, keepdims, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(sum_last(np, x, -1, keepdims), x.sum(-1, keepdims=keepdims), rtol=1e-6, atol=1e-6)
    if shape[-1]:
        np.testing.assert_array_equal(max_last(np, x, x.ndim - 1, keepdims), x.max(-1, keepdims=keepdims))


def test_other_axes_and_layouts_fall_back_to_numpy():
    x = np.random.default_rng(1).standard_normal((6, 8)).astype(np.float32)
    np.testing.assert_array_equal(sum_last(np, x, 0, False), x.sum(0))
    np.testing.assert_array_equal(max_last(np, x.T, -1, True), x.T.max(-1, keepdims=True))
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(sum_last(np, ints, -1, False), ints.sum(-1))


def test_max_keeps_nan():
    x = np.tile(np.array([[1.0, np.nan, 3.0], [2.0, 1.0, 0.0]], np.float32), (100, 1))  # 200 rows: the shortcut
    assert np.isnan(max_last(np, x, -1, False)[0]) and np.isnan(x.max(-1)[0])
    assert not np.isnan(max_last(np, x, -1, False)[1])

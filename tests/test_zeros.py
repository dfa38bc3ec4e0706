"""Read-only zeros from one never-written mapping (``ember.backend.zeros``), and ReLU computed against them."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.backend.zeros import zeros_of


def test_zeros_are_read_only_cached_views_of_any_shape():
    z = zeros_of((3, 5), np.float32)
    assert z.shape == (3, 5) and z.dtype == np.float32 and z.flags.c_contiguous and not z.flags.writeable
    assert not z.any() and zeros_of((3, 5), np.float32) is z
    with pytest.raises(ValueError, match="read-only"):
        z[0, 0] = 1
    big = zeros_of((1 << 20,), np.float64)  # grows the mapping; earlier views stay valid
    assert not big.any() and not z.any() and zeros_of((), np.float64).shape == ()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_against_zeros_equals_maximum_with_a_scalar_bit_for_bit(dtype):
    x = np.random.default_rng(0).standard_normal((33, 17)).astype(dtype)
    x[0, :4] = [np.nan, -0.0, 0.0, -np.inf]
    expected = np.maximum(x, dtype(0))
    eager = ember.relu(ember.tensor(x)).numpy()
    compiled = ember.jit(ember.relu)(ember.tensor(x)).numpy()
    for got in (eager, compiled):
        np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))  # NaN, signed zeros too
    assert not np.shares_memory(eager, zeros_of(x.shape, x.dtype))
    np.testing.assert_array_equal(ember.relu(ember.tensor(np.array([-2, 3]))).numpy(), [0, 3])  # integers

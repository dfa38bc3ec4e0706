"""float64 erf (a vectorized evaluation, no per-element Python) against math.erf on a dense grid, the tails,
subnormals and the special values, in eager mode and in standalone code; float32 erf's relative accuracy."""

import math

import numpy as np

import ember
from ember.ops import special_kernels, standalone


def _math_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


GRID = np.concatenate([
    np.linspace(-7.0, 7.0, 400_001),  # each range of the evaluation and its edges 1, 3 and 6
    np.geomspace(5e-324, 1e-3, 3001), -np.geomspace(5e-324, 1e-3, 3001),  # subnormals and tiny values
    np.nextafter(np.array([1.0, 3.0, 6.0]), 0.0), np.array([1.0, 3.0, 6.0]),
    np.array([1e300, -1e300, 26.0, -26.0, 2.2250738585072014e-308]),
])


def test_float64_erf_is_within_two_units_in_the_last_place_of_math_erf():
    ours, reference = ember.erf(ember.tensor(GRID)).numpy(), _math_erf(GRID)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, reference, rtol=4.5e-16, atol=1e-323)


def test_float64_erf_special_values():
    x = np.array([0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324])
    ours = ember.erf(ember.tensor(x)).numpy()
    np.testing.assert_array_equal(ours[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.signbit(ours[1]) and not np.signbit(ours[0])
    assert np.isnan(ours[4])
    np.testing.assert_array_equal(ours[5:], _math_erf(x[5:]))
    assert float(ember.erf(ember.tensor(np.float64(0.5)))) == math.erf(0.5)  # a 0-d input


def test_the_standalone_kernel_gives_the_eager_bits():
    x = np.linspace(-8.0, 8.0, 10_001)
    np.testing.assert_array_equal(standalone.op_erf(x), special_kernels.erf(np, x))
    np.testing.assert_array_equal(standalone.op_erf(x), ember.erf(ember.tensor(x)).numpy())


def test_float32_erf_keeps_its_relative_accuracy_near_zero():
    x = np.concatenate([np.geomspace(1e-37, 8.0, 20_001), -np.geomspace(1e-37, 8.0, 2001)]).astype(np.float32)
    ours = ember.erf(ember.tensor(x)).numpy()
    assert ours.dtype == np.float32
    reference = _math_erf(x.astype(np.float64))
    np.testing.assert_allclose(ours, reference, rtol=2.5e-7)  # A & S 7.1.26 alone: 17% off at 1e-6, 0 at 1e-9
    special = ember.erf(ember.tensor(np.array([0.0, -0.0, math.inf, -math.inf, math.nan], np.float32))).numpy()
    np.testing.assert_array_equal(special, [0.0, -0.0, 1.0, -1.0, math.nan])
    assert np.signbit(special[1])
    np.testing.assert_array_equal(standalone.op_erf(x), ours)

"""ember.backend.openblas: the one-pass axpby against NumPy in float64, and the arrays it must refuse."""

import numpy as np
import pytest

from ember.backend import blas_threads, openblas

pytestmark = pytest.mark.skipif(openblas.axpby_routine(np.float32) is None, reason="NumPy's BLAS is not OpenBLAS")
N = openblas.AXPBY_MIN_SIZE


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.9), (-0.01, 1.0), (0.3, 0.0), (0.0, -2.0)])
def test_axpby_matches_numpy(dtype, rtol, order, alpha, beta):
    rng = np.random.default_rng(0)
    shape = (N // 128 + 3, 128)
    x = np.asarray(rng.standard_normal(shape), dtype, order=order)
    y = np.asarray(rng.standard_normal(shape), dtype, order=order)
    expected = alpha * x.astype(np.float64) + beta * y.astype(np.float64)
    assert openblas.axpby(alpha, x, beta, y)
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=rtol)


def test_axpby_with_x_as_y_doubles_in_place():
    y = np.arange(N, dtype=np.float32)
    assert openblas.axpby(1.0, y, 1.0, y)
    np.testing.assert_array_equal(y, 2 * np.arange(N, dtype=np.float32))


def _refused(x, y) -> None:
    before = y.copy()
    assert not openblas.axpby(2.0, x, 1.0, y)
    np.testing.assert_array_equal(y, before)


def test_axpby_refuses_what_it_cannot_run_in_one_pass():
    rows, cols = N // 128 + 3, 128
    x = np.ones((rows, cols), np.float32)
    _refused(x[:2], np.ones((2, cols), np.float32))  # too small: NumPy is faster
    _refused(x, np.ones((rows, cols), np.float64))  # dtypes differ
    _refused(x.astype(np.int32), np.ones((rows, cols), np.int32))  # no integer routine
    _refused(x, np.ones((cols, rows), np.float32))  # shapes differ
    _refused(x, np.asfortranarray(np.ones((rows, cols), np.float32)))  # element orders differ
    _refused(np.ones((2 * rows, cols), np.float32)[::2], np.ones((rows, cols), np.float32))  # strided
    _refused(x.tolist(), np.ones((rows, cols), np.float32))  # not an array
    readonly = np.ones((rows, cols), np.float32)
    readonly.flags.writeable = False
    _refused(x, readonly)


def test_thread_controls_are_found_with_the_library():
    assert blas_threads.available()
    assert blas_threads.threads() >= 1

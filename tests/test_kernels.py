"""The reduction shortcuts give what NumPy's own reductions give, and the running ufuncs what NumPy's accumulate
gives."""

import numpy as np
import pytest

from ember.ops.kernels import (
    accumulate_by_doubling,
    is_blas_matrix_product,
    matrix_product,
    max_last,
    sum_blocks,
    sum_first,
    sum_last,
    sums_blocks,
    sums_channels,
    sums_columns,
    sums_leading,
    sums_rows,
)


@pytest.mark.parametrize("shape", [(7, 10), (64, 10), (200, 10), (3, 64, 5), (3, 20, 6), (130, 1), (200, 4), (128, 32),
                                   (200, 33), (6, 0), (128, 0)])
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
    wide = np.tile(np.array([[1.0, 2.0, 5.0, 4.0, 3.0, np.nan], [np.inf, 0.0, -np.inf, 1.0, 2.0, 3.0]], np.float32),
                   (32, 1))  # 64 rows of 6: the transposed copy
    np.testing.assert_array_equal(max_last(np, wide, -1, True), wide.max(-1, keepdims=True))


@pytest.mark.parametrize("shape", [(1, 5), (7, 3), (64, 256), (300, 10), (0, 4), (5, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_sums_through_blas_match_numpy(shape, keepdims, dtype):
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    for axis in (0, -2, (0,)):
        assert sums_columns(x.shape, x.dtype, axis)
        got = sum_first(np, x, axis, keepdims)
        assert got.shape == x.sum(0, keepdims=keepdims).shape and got.dtype == dtype
        np.testing.assert_allclose(got, x.astype(np.float64).sum(0, keepdims=keepdims), rtol=1e-5, atol=1e-5)
    assert not sums_columns((4, 5, 6), x.dtype, 0) and not sums_columns(x.shape, x.dtype, 1)
    assert not sums_columns(x.shape, np.int64, 0)


@pytest.mark.parametrize("shape", [(4, 3, 5), (64, 16, 8, 8), (2, 3, 4, 5, 6), (1, 1, 1), (128, 256, 4, 4)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_sums_through_blas_match_numpy(shape, keepdims, dtype):
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    axes = (0,) + tuple(range(2, len(shape)))
    assert sums_channels(x.shape, x.dtype, axes)
    _sums_like_numpy(x, axes, keepdims)


def _sums_like_numpy(x, axes, keepdims: bool) -> None:
    expected = x.astype(np.float64).sum(axes, keepdims=keepdims)
    for array in (x, np.asfortranarray(x)):  # a strided input is summed too (copied by the reshape)
        got = sum_first(np, array, axes, keepdims)
        assert got.shape == expected.shape and got.dtype == x.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 if x.dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("shape", [(16, 64, 128), (2, 3, 4, 5), (1, 1, 7), (3, 5, 1), (0, 4, 3), (4, 0, 3), (2, 3, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_over_every_axis_but_the_last_match_numpy(shape, keepdims, dtype):
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    axes = tuple(range(len(shape) - 1))
    assert sums_leading(x.shape, x.dtype, axes)
    _sums_like_numpy(x, axes, keepdims)
    assert not sums_leading((4, 5), dtype, (0,)) and not sums_leading((4, 5, 6), dtype, (0, 2))
    assert not sums_leading((4, 5, 6), np.int64, (0, 1))


@pytest.mark.parametrize("shape,axes", [((64, 32, 7, 2, 7, 2), (3, 5)), ((32, 16, 4, 3, 4, 8, 2), (3, 5)),
                                        ((64, 32, 98, 2), 3), ((16, 8, 4, 2, 7, 2, 7, 2), (3, 5, 7)),
                                        ((256, 4, 64), (1,)), ((64, 32, 2, 7, 2, 7), (2, 4))])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_over_short_axes_add_slices_as_numpy_sums(shape, axes, keepdims, dtype):
    x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    assert sums_blocks(x.shape, x.dtype, axes)
    got = sum_first(np, x, axes, keepdims)
    assert got.shape == x.sum(axes, keepdims=keepdims).shape and got.dtype == dtype
    np.testing.assert_allclose(got, x.astype(np.float64).sum(axes, keepdims=keepdims), rtol=1e-5,
                               atol=1e-5 if dtype == np.float32 else 1e-12)
    if isinstance(axes, int) or len(axes) == 1:  # along one axis, NumPy's own order of additions
        np.testing.assert_array_equal(got, np.add.reduce(x, axes, keepdims=keepdims))


def test_sums_over_long_axes_small_arrays_and_integers_stay_numpys():
    assert not sums_blocks((64, 32, 7, 28), np.float32, 3)  # a long summed axis
    assert not sums_blocks((2, 3, 7, 2), np.float32, (3,))  # too few elements for the loop to pay
    assert not sums_blocks((64, 32, 7, 2, 7, 2), np.int64, (3, 5))
    assert not sums_blocks((64, 32, 7, 2), np.float32, None)
    x = np.array([[[1.0, np.inf], [np.nan, 2.0]]] * 8192, np.float32)
    np.testing.assert_array_equal(sum_blocks(x, (1,), False), x.sum(1))


def test_long_row_sums_stay_close_to_float64():
    x = np.random.default_rng(6).random((64, 1024), dtype=np.float32)  # positive: no cancellation to hide errors
    expected = x.astype(np.float64).sum(-1)
    np.testing.assert_allclose(sum_last(np, x, -1, False), expected, rtol=4e-7)
    np.testing.assert_allclose(sum_first(np, x.reshape(4, 16, 1024), (0, 1), False), x.astype(np.float64).sum(0),
                               rtol=4e-7)


def test_channel_sums_leave_other_axes_and_empty_arrays_to_numpy():
    assert not sums_channels((4, 3), np.float32, (0,)) and not sums_channels((4, 3, 5), np.float32, (0, 1))
    assert not sums_channels((4, 3, 5), np.int64, (0, 2)) and not sums_channels((0, 3, 5), np.float32, (0, 2))
    for shape in [(0, 3, 5), (2, 0, 5), (2, 3, 0)]:
        x = np.zeros(shape, np.float32)
        np.testing.assert_array_equal(sum_first(np, x, (0, 2), True), x.sum((0, 2), keepdims=True))
    x = np.array([[[1.0, np.inf]], [[np.nan, 2.0]]], np.float32)
    assert np.isnan(sum_first(np, x, (0, 2), False)[0])


def test_column_sums_keep_nan_and_inf():
    x = np.array([[1.0, np.inf, np.nan], [2.0, 1.0, 0.0]], np.float32)
    np.testing.assert_array_equal(sum_first(np, x, 0, False), x.sum(0))


@pytest.mark.parametrize("a_shape,b_shape,transpose_a", [((32, 13), (13, 64), False), ((64, 32), (32, 3), True),
                                                        ((1, 5), (5, 1), False), ((3, 0), (0, 4), False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_products_through_dot_equal_matmul_bit_for_bit(a_shape, b_shape, transpose_a, dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal(a_shape[::-1] if transpose_a else a_shape).astype(dtype)
    a = a.T if transpose_a else a
    b = rng.standard_normal(b_shape).astype(dtype)
    assert is_blas_matrix_product(a, b)
    np.testing.assert_array_equal(matrix_product(np, a, b), np.matmul(a, b))


def test_other_matrix_products_keep_matmul_semantics():
    rng = np.random.default_rng(4)
    batched, vector = rng.standard_normal((2, 3, 4)), rng.standard_normal(4)
    assert not is_blas_matrix_product(batched, vector)
    np.testing.assert_array_equal(matrix_product(np, batched, vector), np.matmul(batched, vector))
    ints = np.arange(6).reshape(2, 3)
    assert not is_blas_matrix_product(ints, ints.T)
    large = np.ones((64, 784), np.float32), np.ones((784, 256), np.float32)  # matmul: faster there
    assert not is_blas_matrix_product(*large)
    np.testing.assert_array_equal(matrix_product(np, *large), np.matmul(*large))
    np.testing.assert_array_equal(matrix_product(np, ints, ints.T), ints @ ints.T)


@pytest.mark.parametrize("a_shape,b_shape,dtype", [
    ((32, 13), (13, 64), np.float32), ((64, 64), (64, 64), np.float64), ((64, 64), (64, 65), np.float32),
    ((64, 784), (784, 256), np.float32), ((2, 3, 4), (4, 5), np.float32), ((3, 4), (4, 2), np.int64),
    ((3, 4), (4,), np.float32)])
def test_matrix_product_calls_dot_exactly_where_the_code_generator_does(a_shape, b_shape, dtype, monkeypatch):
    """matrix_product inlines is_blas_matrix_product; the generated code calls the predicate itself."""
    a, b = np.ones(a_shape, dtype), np.ones(b_shape, dtype)
    calls = []
    dot = np.dot
    monkeypatch.setattr(np, "dot", lambda *args: calls.append(1) or dot(*args))
    matrix_product(np, a, b)
    assert bool(calls) == is_blas_matrix_product(a, b)


def test_row_sums_through_blas_for_any_row_count_and_axis_spelling():
    x = np.random.default_rng(5).standard_normal((3, 4, 5)).astype(np.float32)
    for axis in (-1, 2, (2,), (-1,)):
        assert sums_rows(x.shape, x.dtype, axis)
        for keepdims in (False, True):
            got = sum_last(np, x, axis, keepdims)
            np.testing.assert_array_equal(got, sum_last(np, x, 2, keepdims))  # one call, however it is spelled
            np.testing.assert_allclose(got, x.sum(2, keepdims=keepdims), rtol=1e-6, atol=1e-6)
    assert not sums_rows(x.shape, x.dtype, 1) and sums_rows((4, 1024), x.dtype, 1)
    assert not sums_rows((4, 1025), x.dtype, 1)  # longer rows keep NumPy's pairwise sum
    assert not sums_rows(x.shape, np.int32, -1) and not sums_rows((5,), x.dtype, 0)


@pytest.mark.parametrize("shape, axis", [((1,), 0), ((2,), 0), ((7,), 0), ((3, 8), 1), ((9, 4), 0), ((2, 5, 17), 1),
                                         ((2, 3, 33), -1), ((4, 0), 1)])
def test_the_running_ufuncs_by_doubling_give_numpys_accumulate(shape, axis):
    # the path array modules without a general ufunc.accumulate (CuPy) take
    x = np.random.default_rng(0).standard_normal(shape)
    if x.size > 4:
        x.reshape(-1)[3] = np.nan
    for ufunc in (np.maximum, np.minimum):
        np.testing.assert_array_equal(accumulate_by_doubling(np, ufunc, x, axis), ufunc.accumulate(x, axis=axis))
    ints = np.random.default_rng(1).integers(0, 5, shape)
    np.testing.assert_array_equal(accumulate_by_doubling(np, np.maximum, ints, axis), np.maximum.accumulate(ints, axis))
    finite = np.nan_to_num(x) * 20
    np.testing.assert_allclose(accumulate_by_doubling(np, np.logaddexp, finite, axis),
                               np.logaddexp.accumulate(finite, axis=axis), rtol=1e-13)

"""ember.backend.rows.put_rows equals NumPy's row assignment, on the fast path and the fallback."""

import numpy as np
import pytest

from ember.backend.rows import put_rows


@pytest.mark.parametrize("shape", [(7, 3), (7, 2, 4), (7, 1)])
def test_put_rows_equals_assignment_with_repeats_last_wins(shape):
    rng = np.random.default_rng(0)
    table = rng.standard_normal(shape).astype(np.float32)
    index = np.array([4, 0, 4, 6])
    rows = rng.standard_normal((4,) + shape[1:]).astype(np.float32)
    expected = table.copy()
    expected[index] = rows  # NumPy: the last of repeated indices wins
    put_rows(np, table, index, rows)
    np.testing.assert_array_equal(table, expected)


def test_put_rows_falls_back_on_views_other_dtypes_and_broadcast_rows():
    table = np.zeros((5, 6), np.float64)
    view = table[:, ::2]  # not C-contiguous
    put_rows(np, view, np.array([1, 3]), np.ones((2, 3), np.float32))
    assert table[1, ::2].tolist() == [1, 1, 1] and table[1, 1::2].tolist() == [0, 0, 0]
    put_rows(np, table, np.array([0]), np.full((1, 6), 2, np.float32))  # cast, as assignment casts
    assert table[0].tolist() == [2.0] * 6
    put_rows(np, table, np.array([2, 4]), np.float64(3.0))  # a scalar broadcast to the rows
    assert table[2].tolist() == [3.0] * 6 and table[4].tolist() == [3.0] * 6


def test_put_rows_with_no_rows_changes_nothing():
    table = np.arange(6, dtype=np.float32).reshape(3, 2)
    put_rows(np, table, np.array([], np.int64), np.empty((0, 2), np.float32))
    assert table.tolist() == [[0, 1], [2, 3], [4, 5]]

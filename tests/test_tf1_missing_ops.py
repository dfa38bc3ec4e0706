"""TF-1 names that were missing from ``ember.compat.tf`` (each a clear AttributeError before): each against
hand-computed NumPy values, and ``tf.gradients`` against finite differences where it is differentiable."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The central-difference gradient of the scalar ``f`` (float64 NumPy) at ``x``."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


def check_gradient(build, x: np.ndarray, atol: float = 1e-6) -> None:
    """``tf.gradients`` of sum(build(x) * w) against finite differences of the same graph, in float64."""
    x = x.astype(np.float64)
    w = np.random.default_rng(1).normal(size=run(build(tf.constant(x))).shape)
    placeholder = tf.placeholder(tf.float64, list(x.shape))
    loss = tf.reduce_sum(build(placeholder) * w)
    grad, = tf.gradients(loss, [placeholder])
    with tf.Session() as sess:
        got = sess.run(grad, {placeholder: x})
        expected = numeric_gradient(lambda v: sess.run(loss, {placeholder: v}), x)
    np.testing.assert_allclose(got, expected, atol=atol)


# --- segments, bincount, tensor_scatter_nd_* ------------------------------------------------------------------

DATA = np.array([[1.0, 2.0], [3.0, -4.0], [5.0, 6.0], [7.0, 8.0]], np.float32)
IDS = np.array([0, 0, 2, 2])


@pytest.mark.parametrize("reduce, expected", [
    ("sum", [[4, -2], [0, 0], [12, 14]]), ("mean", [[2, -1], [0, 0], [6, 7]]), ("max", [[3, 2], [0, 0], [7, 8]]),
    ("min", [[1, -4], [0, 0], [5, 6]]), ("prod", [[3, -8], [1, 1], [35, 48]]),
])
def test_sorted_segment_reductions_give_max_id_plus_one_rows_empty_ones_as_tf(reduce, expected):
    fn = getattr(tf.math, f"segment_{reduce}")
    assert getattr(tf, f"segment_{reduce}") is fn
    ids = tf.placeholder(tf.int32, [None])
    got = run(fn(DATA, ids), {ids: IDS})
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array(expected, np.float32))
    check_gradient(lambda x: fn(x, IDS), DATA + np.array([[0.0, 0.1], [0.2, 0.3], [0.4, 0.5], [0.6, 0.7]]))


def test_sorted_segments_refuse_unsorted_or_negative_ids_and_integer_means_truncate():
    with pytest.raises(ValueError, match=r"tf.math.segment_sum: segment ids are not increasing: "
                                         r"segment_ids\[2\] = 1 after 2"):
        run(tf.math.segment_sum(DATA, [0, 2, 1, 1]))
    with pytest.raises(ValueError, match=r"tf.math.segment_max: segment ids must be >= 0, got segment_ids\[0\] = -1"):
        run(tf.math.segment_max(DATA, [-1, 0, 0, 0]))
    with pytest.raises(ValueError, match="one id per row"):
        run(tf.math.segment_sum(DATA, [0, 0, 1]))
    np.testing.assert_array_equal(run(tf.math.segment_mean(np.array([1, 2, -3, 4, 7]), [0, 0, 1, 1, 3])),
                                  [1, 0, 0, 7])  # (1 + 2) / 2 and (-3 + 4) / 2 rounded toward zero


@pytest.mark.parametrize("reduce", ["max", "min", "prod"])
def test_unsorted_segment_max_min_prod_drop_negative_ids_and_fill_empty_segments_as_tf(reduce):
    fn = getattr(tf.math, f"unsorted_segment_{reduce}")
    ids = np.array([1, -1, 1, 0])
    got = run(fn(DATA, ids, 3))
    kept = {0: DATA[[3]], 1: DATA[[0, 2]]}
    numpy_fn = {"max": np.max, "min": np.min, "prod": np.prod}[reduce]
    empty = {"max": np.finfo(np.float32).min, "min": np.finfo(np.float32).max, "prod": 1.0}[reduce]
    expected = np.stack([numpy_fn(kept[0], 0), numpy_fn(kept[1], 0), np.full(2, empty, np.float32)])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(run(fn(np.array([3, 1], np.int32), [0, 0], 2))[1],
                                  {"max": -2 ** 31, "min": 2 ** 31 - 1, "prod": 1}[reduce])
    with pytest.raises(IndexError, match=rf"tf.math.unsorted_segment_{reduce}: segment_ids\[1\] = 3 is out of "
                                         r"range \[0, 3\)"):
        run(fn(DATA, [0, 3, 0, 0], 3))
    check_gradient(lambda x: fn(x, [1, -1, 1, 0], 3)[:2], DATA + np.array([[0.0, 0.1], [0.2, 0.3], [0.4, 0.5],
                                                                          [0.6, 0.7]]))


def test_bincount_lengths_weights_and_dtypes_as_tf1():
    values = np.array([1, 1, 2, 3, 2, 4, 4, 5])
    counts = run(tf.math.bincount(values))
    assert counts.dtype == np.int32 and counts.tolist() == [0, 2, 2, 1, 2, 1]
    weighted = run(tf.bincount(values, weights=np.array([1, 5, 0, 1, 0, 5, 4, 5], np.float64)))
    assert weighted.dtype == np.float64 and weighted.tolist() == [0, 6, 0, 1, 9, 5]
    assert run(tf.math.bincount([1, 1, 7], minlength=10)).tolist() == [0, 2, 0, 0, 0, 0, 0, 1, 0, 0]
    assert run(tf.math.bincount([1, 1, 7], maxlength=3)).tolist() == [0, 2, 0]  # 7 is skipped
    assert run(tf.math.bincount(np.zeros(0, np.int32))).tolist() == []
    as_float = run(tf.math.bincount([[1, 2], [2, 0]], dtype=tf.float32))
    assert as_float.dtype == np.float32 and as_float.tolist() == [1, 1, 2]
    with pytest.raises(ValueError, match=r"tf.math.bincount: arr must hold non-negative values, got arr\[1\] = -1"):
        run(tf.math.bincount([1, -1]))


@pytest.mark.parametrize("name", ["tensor_scatter_nd_update", "tensor_scatter_nd_add", "tensor_scatter_nd_sub"])
def test_tensor_scatter_nd_updates_a_copy(name):
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows = np.array([[10.0, 20.0, 30.0], [1.0, 2.0, 3.0]], np.float32)
    fn = getattr(tf, name)
    assert getattr(tf, name.replace("_nd", "")) is fn
    expected = base.copy()
    if name.endswith("update"):
        expected[[3, 1]] = rows
    else:
        np.add.at(expected, [3, 1], rows if name.endswith("add") else -rows)
    np.testing.assert_array_equal(run(fn(base, [[3], [1]], rows)), expected)
    element = base.copy()
    if name.endswith("update"):
        element[1, 2] = 7.0
    else:
        element[1, 2] += 2 * (7.0 if name.endswith("add") else -7.0)  # a repeated index combines
    indices = [[1, 2]] if name.endswith("update") else [[1, 2], [1, 2]]
    updates = np.full(len(indices), 7.0, np.float32)
    np.testing.assert_array_equal(run(fn(base, indices, updates)), element)
    with pytest.raises(IndexError, match=rf"tf.{name}: indices\[0\] = \[4\] does not index into shape \[4, 3\]"):
        run(fn(base, [[4]], rows[:1]))
    with pytest.raises(ValueError, match="must have shape"):
        fn(base, [[1]], rows)
    check_gradient(lambda x: fn(x, [[3], [1]], tf.constant(rows, tf.float64)), base)

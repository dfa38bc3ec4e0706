"""TF-1's scatter ops on variables (``tf.scatter_*``, ``tf.scatter_nd_*`` and the ``Variable`` methods): each run
updates the variable in place and gives its new value, checked against NumPy over several runs, with TF-1's
rules for repeated indices and its errors; and ``Variable.read_value()``."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

START = np.arange(12, dtype=np.float32).reshape(4, 3) + 1.0
DELTA = np.array([[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]], np.float32)


def _reference(how: str, ref: np.ndarray, indices, updates) -> np.ndarray:
    """TF-1's documented semantics, one update at a time, in index order."""
    out = ref.copy()
    updates = np.broadcast_to(updates, np.shape(indices) + ref.shape[1:])
    for i, u in zip(np.reshape(indices, -1), updates.reshape((-1,) + ref.shape[1:])):
        if how == "update":
            out[i] = u
        elif how == "add":
            out[i] += u
        elif how == "sub":
            out[i] -= u
        elif how == "mul":
            out[i] *= u
        elif how == "div":
            out[i] = out[i] / u
        elif how == "max":
            out[i] = np.maximum(out[i], u)
        else:
            out[i] = np.minimum(out[i], u)
    return out


@pytest.mark.parametrize("how", ["update", "add", "sub", "mul", "div", "max", "min"])
def test_scatter_ops_update_the_variable_over_several_runs_with_repeated_indices(how):
    rng = np.random.default_rng(1)
    indices = np.array([[2, 0], [2, 3]], np.int32)  # 2 repeated
    updates = (rng.uniform(0.5, 2.0, (2, 2, 3)) * rng.choice([-1, 1], (2, 2, 3))).astype(np.float32)
    v = tf.Variable(START)
    step = getattr(tf, f"scatter_{how}")(v, indices, updates, use_locking=True)
    assert step.shape.as_list() == [4, 3] and step.dtype == np.float32
    expected = START
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            expected = _reference(how, expected, indices, updates)
            np.testing.assert_allclose(sess.run(step), expected, rtol=1e-6)
            np.testing.assert_allclose(sess.run(v), expected, rtol=1e-6)


@pytest.mark.parametrize("how", ["update", "add", "sub", "mul", "div", "max", "min"])
def test_variable_scatter_methods_take_indexed_slices(how):
    v = tf.Variable(START)
    delta = tf.IndexedSlices(tf.constant(DELTA), tf.constant([3, 1], tf.int64))
    step = getattr(v, f"scatter_{how}")(delta)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(step), _reference(how, START, [3, 1], DELTA), rtol=1e-6)
    with pytest.raises(TypeError, match=f"Variable.scatter_{how}: sparse_delta must be a tf.IndexedSlices"):
        getattr(v, f"scatter_{how}")([[1.0, 2.0, 3.0]])


def test_scatter_update_last_update_of_a_repeated_index_wins_and_scalar_updates_broadcast():
    v = tf.Variable(START)
    last = tf.scatter_update(v, [1, 3, 1, 1], [[1.0] * 3, [2.0] * 3, [3.0] * 3, [4.0] * 3])
    scalar = tf.scatter_add(v, [0, 0], 10.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        expected = START.copy()
        expected[1], expected[3] = 4.0, 2.0
        np.testing.assert_array_equal(sess.run(last), expected)
        expected[0] += 20.0
        np.testing.assert_array_equal(sess.run(scalar), expected)


def test_integer_scatter_div_rounds_toward_zero_and_refuses_division_by_zero():
    v = tf.Variable(np.array([-7, 7, 9], np.int32))
    step = tf.scatter_div(v, [0, 1, 1], np.array([2, 2, 2], np.int32))
    by_zero = tf.scatter_div(v, [2], np.array([0], np.int32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(step).tolist() == [-3, 1, 9]  # -7/2 -> -3, 7/2/2 -> 1 (TF: toward zero)
        with pytest.raises(ValueError, match="tf.scatter_div: integer division by zero"):
            sess.run(by_zero)
        assert sess.run(v).tolist() == [-3, 1, 9]


def test_scatter_nd_ops_over_several_runs_with_repeated_index_vectors():
    v = tf.Variable(START)
    indices = np.array([[0, 1], [3, 2], [0, 1]], np.int64)
    updates = np.array([1.5, -2.0, 4.0], np.float32)
    add, sub = tf.scatter_nd_add(v, indices, updates), tf.scatter_nd_sub(v, indices, updates)
    update = tf.scatter_nd_update(v, indices, updates)
    rows = v.scatter_nd_update([[2]], [[9.0, 8.0, 7.0]])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        expected = START.copy()
        for _ in range(2):
            np.add.at(expected, (indices[:, 0], indices[:, 1]), updates)
            np.testing.assert_array_equal(sess.run(add), expected)
        np.subtract.at(expected, (indices[:, 0], indices[:, 1]), updates)
        np.testing.assert_array_equal(sess.run(sub), expected)
        expected[0, 1], expected[3, 2] = 4.0, -2.0  # the last of the repeated vector wins
        np.testing.assert_array_equal(sess.run(update), expected)
        expected[2] = [9.0, 8.0, 7.0]
        np.testing.assert_array_equal(sess.run(rows), expected)
        np.testing.assert_array_equal(sess.run(v), expected)


def test_fed_indices_are_checked_when_the_op_runs_and_leave_the_variable_unchanged():
    v = tf.Variable(START)
    i = tf.placeholder(tf.int32, [None])
    u = tf.placeholder(tf.float32, [None, 3])
    step = tf.scatter_add(v, i, u)
    nd = tf.scatter_nd_add(v, tf.placeholder_with_default(np.array([[1, 3]], np.int64), [None, 2]), [1.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(ValueError, match=r"tf.scatter_add: indices\[1\] = 4 is not an index of the variable "
                                             r"of shape \[4, 3\]"):
            sess.run(step, {i: [0, 4], u: np.ones((2, 3))})
        with pytest.raises(ValueError, match=r"tf.scatter_add: indices\[0\] = -1 is not an index"):
            sess.run(step, {i: [-1], u: np.ones((1, 3))})
        with pytest.raises(ValueError, match=r"tf.scatter_add: updates of shape \[1, 3\] for indices of shape \[2\]"):
            sess.run(step, {i: [0, 1], u: np.ones((1, 3))})
        with pytest.raises(ValueError, match=r"tf.scatter_nd_add: indices\[0\] = \[1, 3\] is not an index"):
            sess.run(nd)
        np.testing.assert_array_equal(sess.run(v), START)
        np.testing.assert_array_equal(sess.run(step, {i: [3, 3], u: np.ones((2, 3))})[3], START[3] + 2)


def test_scatter_ops_refuse_bad_arguments_when_built():
    v = tf.Variable(START)
    with pytest.raises(TypeError, match="tf.scatter_add: ref must be a tf.Variable, got Tensor"):
        tf.scatter_add(tf.constant(START), [0], [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="tf.scatter_update: indices must be int32 or int64, got float32"):
        tf.scatter_update(v, [0.0], [[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="tf.scatter_add: updates of dtype float64 for 'Variable:0' of dtype float32"):
        tf.scatter_add(v, [0], tf.constant(np.ones((1, 3))))
    with pytest.raises(ValueError, match=r"updates must have shape indices.shape \+ ref.shape\[1:\] = \[2, 3\]"):
        tf.scatter_sub(v, [0, 1], [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"tf.scatter_nd_add: index vectors of length 3 into 'Variable:0' of shape "
                                         r"\[4, 3\]"):
        tf.scatter_nd_add(v, [[0, 0, 0]], [1.0])
    with pytest.raises(ValueError, match=r"updates must have shape indices.shape\[:-1\] \+ ref.shape\[2:\] = \[2\]"):
        tf.scatter_nd_update(v, [[0, 0], [1, 1]], [1.0])
    with pytest.raises(ValueError, match="tf.scatter_max: 'Variable_1:0' is a scalar"):
        tf.scatter_max(tf.Variable(1.0), [0], [2.0])


def test_read_value_reads_the_variable_and_after_its_control_dependencies():
    v = tf.Variable([1.0, 2.0])
    read = v.read_value()
    step = tf.scatter_add(v, [1], [10.0])
    with tf.control_dependencies([step]):
        after = v.read_value()
    assert read.name == "Variable/read:0" and read.shape.as_list() == [2] and read.dtype == np.float32
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(read), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(after), [1.0, 12.0])
        np.testing.assert_array_equal(sess.run(after), [1.0, 22.0])
        np.testing.assert_array_equal(sess.run(read), [1.0, 22.0])

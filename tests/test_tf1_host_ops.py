"""TF-1's Python callbacks in graphs: ``tf.py_func``/``tf.numpy_function`` (declared dtypes, unknown shapes until
``set_shape``, several results, no gradient), ``tf.Print`` (its input, printing its data as TF-1 does) and
``tf.print`` (an op run by a fetch or a control dependency)."""

import sys

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

DATA = np.array([[1.0, 3.0, 2.0], [4.0, 6.0, 5.0]], np.float32)


def _sorted_rows(calls):
    def sort(a):
        calls.append(a.shape)
        return -np.sort(-a, axis=1)

    return sort


def test_py_func_of_unknown_shape_feeds_the_rest_of_the_graph():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    calls = []
    y = tf.py_func(_sorted_rows(calls), [x], tf.float32)
    assert y.shape is None and y.dtype == np.float32 and y.name == "PyFunc:0" and y.op.type == "PyFunc"
    z = y * 2.0
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(z, {x: DATA}), -np.sort(-DATA, axis=1) * 2)
        fetched = sess.run([y, z], {x: DATA[:1]})
        np.testing.assert_array_equal(fetched[1], fetched[0] * 2)
    assert calls == [(2, 3), (1, 3)]  # once per run


def test_py_func_with_a_set_shape_is_one_op_of_the_graph():
    x = tf.placeholder(tf.float32, [2, 3])
    calls = []
    y = tf.numpy_function(_sorted_rows(calls), [x], tf.float32)
    y.set_shape([2, 3])
    assert y.shape.as_list() == [2, 3]
    with pytest.raises(ValueError, match="not compatible"):
        y.set_shape([3, 3])
    constant = tf.py_func(lambda: calls.append("c") or np.float32(1.5), [], tf.float32)
    constant.set_shape([])
    with tf.Session() as sess:
        for _ in range(2):
            out, again = sess.run([y + constant, y], {x: DATA})
            np.testing.assert_array_equal(out, again + 1.5)
    assert calls == [(2, 3), "c"] * 2  # one call per run; a function of no inputs is not folded at compile time


def test_py_func_with_several_results_and_a_wrong_dtype():
    x = tf.placeholder(tf.int32, [None])
    low, high = tf.py_func(lambda a: (a.min(), a.max()), [x], [tf.int32, tf.int32], name="range")
    assert (low.name, high.name) == ("range:0", "range:1")
    wrong = tf.py_func(lambda a: a.astype(np.float64), [x], tf.float32)
    with tf.Session() as sess:
        assert sess.run([low, high], {x: [3, -1, 7]}) == [-1, 7]
        with pytest.raises(TypeError, match="returned a value of dtype float64, but the declared dtype is float32"):
            sess.run(wrong, {x: [1]})


def test_py_func_runs_for_its_effect_under_control_dependencies_and_as_an_op():
    x = tf.placeholder(tf.float32, [3])
    seen = []
    logged = tf.py_func(lambda a: (seen.append(a.sum()), np.float32(0))[1], [x], tf.float32)
    logged.set_shape([])
    with tf.control_dependencies([logged]):
        y = tf.identity(x * 2.0)
    with tf.Session() as sess:
        sess.run(y, {x: [1.0, 2.0, 3.0]})
        assert sess.run(logged.op, {x: [1.0, 1.0, 1.0]}) is None
    assert seen == [6.0, 3.0]


def test_gradients_through_a_py_func_are_none():
    w = tf.Variable(np.ones(3, np.float32))
    through = tf.py_func(lambda a: a * 2, [w], tf.float32)
    through.set_shape([3])
    assert tf.gradients(tf.reduce_sum(through), [w]) == [None]
    both = tf.reduce_sum(through) + tf.reduce_sum(w * 3.0)
    grad, = tf.gradients(both, [w])
    with pytest.raises(ValueError, match="no trainable variable"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(through))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(grad), [3.0, 3.0, 3.0])


def test_print_writes_its_data_when_its_result_is_computed(capsys):
    x = tf.placeholder(tf.float32, [None, 3])
    printed = tf.Print(x, [x, tf.reduce_sum(x)], "values: ")
    once = tf.Print(x, [tf.range(10)], "first: ", first_n=1, summarize=4)
    loss = tf.reduce_sum(printed * printed)
    grad, = tf.gradients(loss, [x])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(grad, {x: DATA}), 2 * DATA)  # Print passes the gradient through
        assert capsys.readouterr().err == "values: [[1 3 2]...]21\n"
        sess.run(x * 2.0, {x: DATA})  # Print's result is not needed: nothing is printed
        assert capsys.readouterr().err == ""
        for _ in range(2):
            np.testing.assert_array_equal(sess.run(once, {x: DATA}), DATA)
        assert capsys.readouterr().err == "first: [0 1 2 3...]\n"


def test_tf_print_is_an_op_run_by_a_fetch_or_a_control_dependency(capsys, tmp_path):
    x = tf.placeholder(tf.float32, [None])
    shown = tf.print("x:", x, "sum", tf.reduce_sum(x), summarize=2)
    assert shown.name == "PrintV2" and shown.type == "PrintV2"
    with tf.control_dependencies([shown]):
        y = x * 2.0
    to_file = tf.print(tf.reduce_max(x), output_stream=f"file://{tmp_path / 'log.txt'}")
    to_stdout = tf.print("on stdout", output_stream=sys.stdout)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: np.arange(6, dtype=np.float32)}), np.arange(6) * 2)
        assert capsys.readouterr().err == "x: [0. 1. ... 4. 5.] sum 15.0\n"
        assert sess.run([to_file, to_stdout], {x: [1.0, 4.0]}) == [None, None]
        assert capsys.readouterr().out == "on stdout\n"
    assert (tmp_path / "log.txt").read_text() == "4.0\n"

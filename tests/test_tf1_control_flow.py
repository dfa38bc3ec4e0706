"""TF-1's ``tf.cond`` and ``tf.while_loop``: the structures their branches and bodies return, and what TF-1
refuses (a predicate that is not a scalar)."""

import collections

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

Pair = collections.namedtuple("Pair", "first second")


def test_cond_of_a_tensor_predicate_keeps_dicts_and_namedtuples():
    p = tf.placeholder(tf.bool)
    x = tf.placeholder(tf.float32, [2])
    # a dict was one leaf, handed back as the true branch's dict of tensors whatever the predicate; the keys
    # pair up by name, not by the order each branch wrote them in
    chosen = tf.cond(p, lambda: {"b": x, "a": x * 2.0}, lambda: {"a": x + 1.0, "b": x - 1.0})
    pair = tf.cond(p, lambda: Pair(x, x * 3.0), lambda: Pair(x - 1.0, x))  # (a TypeError building the namedtuple)
    with tf.Session() as sess:
        feed = {p: False, x: [1.0, 2.0]}
        out = sess.run(chosen, feed)
        np.testing.assert_array_equal(out["a"], [2.0, 3.0])
        np.testing.assert_array_equal(out["b"], [0.0, 1.0])
        got = sess.run(pair, {p: True, x: [1.0, 2.0]})
        assert isinstance(got, Pair)
        np.testing.assert_array_equal(got.second, [3.0, 6.0])


def test_cond_refuses_a_predicate_that_is_not_a_scalar():
    # a [2] predicate selected elementwise between the branches ([2. 3.]) where TF-1 wants a scalar
    x = tf.placeholder(tf.float32, [2])
    with pytest.raises(ValueError, match=r"tf.cond: pred must be a scalar, got '.*' of shape \[2\]"):
        tf.cond(tf.placeholder(tf.bool, [2]), lambda: x * 2.0, lambda: x + 1.0)
    unknown = tf.placeholder(tf.bool)
    chosen = tf.cond(unknown, lambda: x * 2.0, lambda: x + 1.0)
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=r"pred must be a scalar, got shape \[2\]"):
            sess.run(chosen, {unknown: [True, False], x: [1.0, 2.0]})


def test_while_loop_returns_the_body_structure_as_tf1():
    # one loop variable in a list came back as a one-item list (sess.run gave [5]) and a namedtuple or tuple as
    # a list; TF-1 gives the tensor itself, and the body's structure otherwise
    counter = tf.while_loop(lambda i: i < 5, lambda i: [i + 1], [tf.constant(0)])
    assert isinstance(counter, tf.Tensor)
    pair = tf.while_loop(lambda a, b: a < 3, lambda a, b: Pair(a + 1, b * 2.0), Pair(tf.constant(0), tf.constant(1.0)))
    capped = tf.while_loop(lambda i: i < 10, lambda i: i + 1, tf.constant(0), maximum_iterations=tf.constant(3))
    with tf.Session() as sess:
        assert sess.run(counter) == 5
        got = sess.run(pair)
        assert isinstance(got, Pair) and got.first == 3 and got.second == 8.0
        assert sess.run(capped) == 3  # (a tensor maximum_iterations was a TypeError)
    with pytest.raises(ValueError, match="tf.while_loop: body returned 1 loop variables for 2"):
        tf.while_loop(lambda i, a: i < 3, lambda i, a: i + 1, (tf.constant(0), tf.constant(1.0)))


def test_cond_refuses_branches_it_would_broadcast_or_promote():
    # branches of shapes [3] and [1] were broadcast to [3] (TF-1 gives the taken branch's [1]); int and float promoted
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match=r"shapes must agree: output 0 is \[3\] .* and \[1\]"):
        tf.cond(p, lambda: tf.constant([1.0, 2.0, 3.0]), lambda: tf.constant([5.0]))
    with pytest.raises(ValueError, match="must have the same type, got int32 .* and float32"):
        tf.cond(p, lambda: tf.constant(1), lambda: tf.constant(2.0))
    fed = tf.cond(p, lambda: x, lambda: tf.constant([5.0]))  # sizes known only when fed
    agreeing = tf.cond(p, lambda: x * 2, lambda: x + 1)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(agreeing, {p: False, x: [1, 2, 3]}), [2, 3, 4])
        np.testing.assert_array_equal(sess.run(fed, {p: True, x: [7]}), [7])
        with pytest.raises(ValueError, match=r"shapes must agree: got \[3\] and \[1\]"):
            sess.run(fed, {p: False, x: [1, 2, 3]})


def test_cond_runs_the_effects_of_the_branch_taken_only():
    # TF-1 runs only the taken branch: an assignment a branch's result depends on (through
    # control_dependencies, the batch-norm moving-average pattern) happened in every run, taken or not
    p = tf.placeholder(tf.bool, [])
    v = tf.Variable(0.0)

    def counted():
        with tf.control_dependencies([tf.assign_add(v, 1.0)]):
            return tf.identity(v)

    read = tf.cond(p, counted, lambda: tf.identity(v))
    assigned = tf.cond(p, lambda: tf.assign(v, 5.0), lambda: v + 0.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(read, {p: True}) == 1.0 and sess.run(v) == 1.0
        assert sess.run(read, {p: False}) == 1.0 and sess.run(v) == 1.0
        assert sess.run(assigned, {p: False}) == 1.0 and sess.run(v) == 1.0
        assert sess.run(assigned, {p: True}) == 5.0 and sess.run(v) == 5.0


def test_nested_cond_effects_need_every_enclosing_branch_taken():
    p, q = tf.placeholder(tf.bool, []), tf.placeholder(tf.bool, [])
    v = tf.Variable(0.0)
    w = tf.Variable([1.0, 2.0, 3.0])

    def inner():
        return tf.cond(q, lambda: tf.assign_add(v, 1.0), lambda: tf.assign_add(v, 10.0))

    total = tf.cond(p, inner, lambda: tf.assign_add(v, 100.0))
    rows = tf.cond(p, lambda: tf.scatter_add(w, [1], [5.0]), lambda: tf.identity(w))
    with tf.Session() as sess:
        for taken_p, taken_q, expected in [(True, True, 1.0), (True, False, 10.0), (False, True, 100.0),
                                           (False, False, 100.0)]:
            sess.run([v.initializer, w.initializer])
            assert sess.run(total, {p: taken_p, q: taken_q}) == expected and sess.run(v) == expected
            np.testing.assert_array_equal(sess.run(rows, {p: taken_p}), [1.0, 7.0 if taken_p else 2.0, 3.0])
            np.testing.assert_array_equal(sess.run(w), [1.0, 7.0 if taken_p else 2.0, 3.0])


def test_cond_checks_and_prints_only_in_the_branch_taken(capsys):
    x = tf.placeholder(tf.float32, [None])

    def checked():
        with tf.control_dependencies([tf.assert_positive(x)]):
            return tf.sqrt(tf.abs(x))

    root = tf.cond(tf.reduce_all(x > 0), checked, lambda: tf.zeros_like(x))
    p = tf.placeholder(tf.bool, [])
    shown = tf.cond(p, lambda: tf.Print(x, [x], "taken: "), lambda: x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(root, {x: [4.0, 9.0]}), [2.0, 3.0])
        np.testing.assert_array_equal(sess.run(root, {x: [-1.0, 4.0]}), [0.0, 0.0])  # the assert was not run
        sess.run(shown, {p: False, x: [1.0]})
        assert "taken" not in capsys.readouterr().err
        sess.run(shown, {p: True, x: [1.0]})
        assert "taken: [1]" in capsys.readouterr().err


def test_cond_of_ops_runs_the_op_of_the_branch_taken():
    p = tf.placeholder(tf.bool, [])
    v = tf.Variable(0.0)
    step = tf.cond(p, lambda: tf.group(tf.assign_add(v, 1.0)), tf.no_op)
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(step, {p: False})
        assert sess.run(v) == 0.0
        sess.run(step, {p: True})
        assert sess.run(v) == 1.0


def test_cond_refuses_what_it_cannot_make_conditional():
    p = tf.placeholder(tf.bool, [])
    y = tf.Variable(3.0)
    with pytest.raises(ValueError, match=r"tf.cond: 'GradientDescent' \(Train\) is built inside a branch"):
        tf.cond(p, lambda: tf.train.GradientDescentOptimizer(0.1).minimize(y * y), tf.no_op)
    with pytest.raises(ValueError, match="output 0 is an op in one branch and a tensor in the other"):
        tf.cond(p, tf.no_op, lambda: y + 1.0)
    with pytest.raises(TypeError, match="tf.cond: pred must be a bool tensor, got .* int32"):
        tf.cond(tf.placeholder(tf.int32, []), lambda: y, lambda: y)

"""TF-1's map_fn, scan, foldl and foldr: unrolled over a static first dimension, with gradients."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3)).astype(np.float32)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feed)


def test_map_fn_over_a_tensor_and_its_gradient():
    x = tf.placeholder(tf.float32, [4, 3])
    y = tf.map_fn(lambda row: tf.reduce_sum(row * row) * row, x)
    assert y.shape.as_list() == [4, 3]
    (grad,) = tf.gradients(tf.reduce_sum(y), [x])
    value, g = _run([y, grad], {x: X})
    sq = (X * X).sum(1, keepdims=True)
    np.testing.assert_allclose(value, sq * X, rtol=1e-5)
    # d/dx_j sum_k (s x_k) = s + 2 x_j sum_k x_k, with s = sum x^2
    np.testing.assert_allclose(g, sq + 2 * X * X.sum(1, keepdims=True), rtol=1e-5)


def test_map_fn_over_a_tuple_returning_a_tuple():
    a = tf.constant(X)
    b = tf.constant(np.arange(4, dtype=np.float32))
    total, scaled = tf.map_fn(lambda pair: (tf.reduce_sum(pair[0]) + pair[1], pair[0] * pair[1]), (a, b),
                              dtype=(tf.float32, tf.float32))
    got_total, got_scaled = _run([total, scaled])
    np.testing.assert_allclose(got_total, X.sum(1) + np.arange(4), rtol=1e-5)
    np.testing.assert_allclose(got_scaled, X * np.arange(4)[:, None], rtol=1e-6)


def test_map_fn_needs_a_static_first_dimension():
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match=r"tf.map_fn: .*first dimension.*\[None, 3\]"):
        tf.map_fn(lambda row: row * 2.0, x)
    with pytest.raises(ValueError, match="different first dimensions"):
        tf.map_fn(lambda p: p[0], (tf.constant(X), tf.constant(np.ones(3, np.float32))))


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_cumulative_sum_with_and_without_initializer(reverse):
    x = tf.constant(X)
    plain = tf.scan(lambda acc, row: acc + row, x, reverse=reverse)
    started = tf.scan(lambda acc, row: acc * 0.5 + row, x, initializer=tf.ones([3]), reverse=reverse)
    got_plain, got_started = _run([plain, started])
    rows = X[::-1] if reverse else X
    expect_plain = np.cumsum(rows, axis=0)
    acc, expect_started = np.ones(3, np.float32), []
    for row in rows:
        acc = acc * 0.5 + row
        expect_started.append(acc)
    expect_started = np.stack(expect_started)
    if reverse:  # result i is the accumulator after slice i
        expect_plain, expect_started = expect_plain[::-1], expect_started[::-1]
    np.testing.assert_allclose(got_plain, expect_plain, rtol=1e-5)
    np.testing.assert_allclose(got_started, expect_started, rtol=1e-5)


def test_scan_with_a_tuple_accumulator_fibonacci():
    elems = tf.constant(np.ones(6, np.int32))
    a, b = tf.scan(lambda acc, _: (acc[1], acc[0] + acc[1]), elems, initializer=(tf.constant(0), tf.constant(1)))
    got_a, got_b = _run([a, b])
    np.testing.assert_array_equal(got_a, [1, 1, 2, 3, 5, 8])
    np.testing.assert_array_equal(got_b, [1, 2, 3, 5, 8, 13])


def test_scan_gradient_through_a_recurrence():
    w = tf.Variable(0.5)
    x = tf.placeholder(tf.float32, [5])
    states = tf.scan(lambda h, xt: tf.tanh(w * h + xt), x, initializer=tf.constant(0.0))
    loss = tf.reduce_sum(states)
    (grad,) = tf.gradients(loss, [w])
    xs = RNG.normal(size=5).astype(np.float32)
    got_loss, got_grad = _run([loss, grad], {x: xs})

    def numpy_loss(wv):
        h, total = 0.0, 0.0
        for xt in xs.astype(np.float64):
            h = np.tanh(wv * h + xt)
            total += h
        return total

    np.testing.assert_allclose(got_loss, numpy_loss(0.5), rtol=1e-5)
    np.testing.assert_allclose(got_grad, (numpy_loss(0.5 + 1e-6) - numpy_loss(0.5 - 1e-6)) / 2e-6, rtol=1e-4)


def test_foldl_and_foldr():
    x = tf.constant(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    left = tf.foldl(lambda acc, v: acc * 10.0 + v, x)
    right = tf.foldr(lambda acc, v: acc * 10.0 + v, x)
    minus = tf.foldl(lambda acc, v: acc - v, x, initializer=tf.constant(100.0))
    got = _run([left, right, minus])
    np.testing.assert_allclose(got, [1234.0, 4321.0, 90.0])
    (grad,) = tf.gradients(left, [x])
    np.testing.assert_allclose(_run(grad), [1000.0, 100.0, 10.0, 1.0])

"""TF-1's static shapes and dtypes of tensors built on a None batch: losses, shape queries, filled constants and
the global step, as TF 1.15 reports them before anything runs."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

REDUCTIONS = [tf.losses.Reduction.MEAN, tf.losses.Reduction.SUM, tf.losses.Reduction.SUM_OVER_BATCH_SIZE,
              tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_a_reduced_loss_over_a_none_batch_is_a_float32_scalar(reduction):
    labels = tf.placeholder(tf.int64, [None])
    logits = tf.placeholder(tf.float32, [None, 5])
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=2.0, reduction=reduction)
    assert loss.shape == () and loss.dtype == np.float32  # not the labels' int64, nor an unknown shape
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 5)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    per_example = np.log(np.exp(z).sum(1)) - z[np.arange(6), y]
    expected = {tf.losses.Reduction.MEAN: per_example.mean(), tf.losses.Reduction.SUM: 2 * per_example.sum(),
                tf.losses.Reduction.SUM_OVER_BATCH_SIZE: 2 * per_example.mean(),
                tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS: 2 * per_example.mean()}[reduction]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss, {labels: y, logits: z}), expected, rtol=1e-5)


def test_shape_size_and_rank_are_int32_with_their_static_shapes():
    x = tf.placeholder(tf.float32, [None, 3])
    shape, size, rank, batch = tf.shape(x), tf.size(x), tf.rank(x), tf.shape(x)[0]
    assert (shape.shape, shape.dtype) == ((2,), np.int32)
    assert (size.shape, size.dtype) == ((), np.int32)
    assert (rank.shape, rank.dtype) == ((), np.int32)
    assert (batch.shape, batch.dtype) == ((), np.int32)
    assert tf.shape(x, out_type=tf.int64).dtype == np.int64
    with tf.Session() as sess:
        got = sess.run([shape, size, rank, batch], {x: np.ones((4, 3), np.float32)})
    assert [np.asarray(v).tolist() for v in got] == [[4, 3], 12, 2, 4]


def test_fill_types_its_value_as_tf_constant():
    assert tf.fill([2, 3], 1).dtype == np.int32  # a Python int: int32
    assert tf.fill([2], 1.5).dtype == np.float32
    assert tf.fill([2], np.int64(3)).dtype == np.int64
    assert tf.fill([2], True).dtype == np.bool_
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(tf.fill([2, 3], 7)), np.full((2, 3), 7, np.int32))


def test_the_global_step_is_int64():
    step = tf.train.get_or_create_global_step()
    assert step.dtype == np.int64 and step.shape == ()
    assert tf.constant(np.int64(5)).dtype == np.int64  # a NumPy scalar keeps its type
    assert tf.constant(5).dtype == np.int32
    increment = tf.assign_add(step, 1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(increment)
        assert sess.run(step) == 1 and sess.run(step).dtype == np.int64


@pytest.mark.parametrize("kwargs, dtype, on, off", [
    ({}, np.float32, 1, 0),
    ({"on_value": 5, "off_value": 0}, np.int32, 5, 0),  # Python ints: int32, as tf.constant
    ({"off_value": -1}, np.int32, 1, -1),
    ({"on_value": 2.0}, np.float32, 2, 0),
    ({"dtype": tf.int64}, np.int64, 1, 0),
])
def test_one_hot_takes_its_dtype_from_on_and_off_values(kwargs, dtype, on, off):
    hot = tf.one_hot([0, 2, -1], 3, **kwargs)
    assert hot.dtype == dtype
    expected = np.full((3, 3), off, dtype)
    expected[0, 0] = expected[1, 2] = on
    with tf.Session() as sess:
        got = sess.run(hot)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_top_k_fetches_as_a_namedtuple():
    values, indices = result = tf.nn.top_k(tf.constant([1.0, 3.0, 2.0]), 2)
    with tf.Session() as sess:
        got = sess.run(result)
    np.testing.assert_array_equal(got.values, [3.0, 2.0])
    np.testing.assert_array_equal(got.indices, [1, 2])
    assert got.indices.dtype == np.int32 and indices.dtype == np.int32 and values.shape == (2,)


def test_ops_on_a_placeholder_of_unknown_rank_have_their_own_dtype():
    x = tf.placeholder(tf.float32)  # no shape (MiniFlow's and many TF-1 tutorials' placeholders)
    as_int = tf.cast(x, tf.int32)
    assert as_int.dtype == np.int32
    assert tf.equal(x, x).dtype == np.bool_
    assert tf.argmax(x, 0).dtype == np.int64
    halved = as_int // 2  # int32 floor division
    hot = tf.one_hot(halved, 3)  # takes the int indices
    with tf.Session() as sess:
        got, got_hot = sess.run([halved, hot], {x: [3.0, 5.0]})
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, [1, 2])
    np.testing.assert_array_equal(got_hot, np.eye(3, dtype=np.float32)[[1, 2]])


def test_range_fills_and_draws_of_run_time_sizes_have_their_own_dtype_and_shape():
    x = tf.placeholder(tf.float32, [None, 4])
    rows = tf.range(tf.shape(x)[0])
    assert (rows.shape, rows.dtype) == ((None,), np.int32)  # not (0,): a length known when the Session runs
    zeros = tf.zeros(tf.shape(x), dtype=tf.int32)
    assert (zeros.shape, zeros.dtype) == ((None, 4), np.int32)  # not x's float32
    ones = tf.ones([tf.shape(x)[0], 2], dtype=tf.int64)
    assert (ones.shape, ones.dtype) == ((None, 2), np.int64)
    draws = tf.random_uniform(tf.shape(x), maxval=5, dtype=tf.int32)
    assert (draws.shape, draws.dtype) == ((None, 4), np.int32)
    with tf.Session() as sess:
        got = sess.run([rows * tf.ones([3], tf.int32), (zeros + 7) // 2, ones * 3, draws // 5],
                       {x: np.ones((3, 4), np.float32)})
    assert [g.dtype for g in got] == [np.int32, np.int32, np.int64, np.int32]
    np.testing.assert_array_equal(got[0], [0, 1, 2])
    np.testing.assert_array_equal(got[1], np.full((3, 4), 3))
    np.testing.assert_array_equal(got[2], np.full((3, 2), 3))
    np.testing.assert_array_equal(got[3], np.zeros((3, 4)))


def test_tile_by_a_run_time_batch_size():
    x = tf.placeholder(tf.float32, [None, 4])
    row = tf.Variable([[1.0, 2.0]])
    tiled = tf.tile(row, [tf.shape(x)[0], 1])  # one copy per example: it failed with int() of a Tensor
    assert (tiled.shape, tiled.dtype) == ((None, 2), np.float32)
    (grad,) = tf.gradients(tf.reduce_sum(tiled * 2.0), row)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_grad = sess.run([tiled, grad], {x: np.ones((3, 4), np.float32)})
    np.testing.assert_array_equal(got, [[1.0, 2.0]] * 3)
    np.testing.assert_array_equal(got_grad, [[6.0, 6.0]])


def test_fill_of_a_run_time_shape():
    x = tf.placeholder(tf.float32, [None, 4])
    threes, halves = tf.fill(tf.shape(x), 3), tf.fill([tf.shape(x)[0], 2], 0.5)  # they refused a tensor shape
    assert (threes.shape, threes.dtype) == ((None, 4), np.int32)
    assert (halves.shape, halves.dtype) == ((None, 2), np.float32)
    with tf.Session() as sess:
        got = sess.run([threes, halves], {x: np.ones((2, 4), np.float32)})
    np.testing.assert_array_equal(got[0], np.full((2, 4), 3, np.int32))
    np.testing.assert_array_equal(got[1], np.full((2, 2), 0.5, np.float32))


def test_placeholder_with_default_has_the_shape_given():
    # the shape was ignored for the default's: a [None] placeholder of default [1, 2] refused a fed [3, 4, 5]
    given = tf.placeholder_with_default(tf.constant([1.0, 2.0]), [None])
    doubled = given * 2
    assert given.shape == (None,) and doubled.shape == (None,)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(doubled), [2.0, 4.0])
        np.testing.assert_array_equal(sess.run(doubled, {given: [3.0, 4.0, 5.0]}), [6.0, 8.0, 10.0])
        with pytest.raises(ValueError, match="Cannot feed"):
            sess.run(doubled, {given: [[3.0]]})
    with pytest.raises(ValueError, match="does not fit"):
        tf.placeholder_with_default(tf.constant([1.0, 2.0]), [3])


def test_range_of_python_floats_is_float32():
    # (np.arange's float64 was kept: tf.range(0, 1, 0.25) said float64, and float32 * it was float64)
    fractions, counts = tf.range(0, 1, 0.25), tf.range(5)
    assert fractions.dtype == np.float32 and counts.dtype == np.int32
    assert tf.range(np.int64(3)).dtype == np.int64 and tf.range(3, dtype=tf.float64).dtype == np.float64
    with tf.Session() as sess:
        got = sess.run(fractions * tf.constant(2.0))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [0.0, 0.5, 1.0, 1.5])


def test_integer_sums_products_and_cumulative_sums_keep_their_dtype():
    # (Ember's widen integers to int64, as PyTorch's; TF's keep int32, and uint8 wraps)
    x = tf.constant([[1, 2, 3], [4, 5, 6]])
    small = tf.constant(np.array([200, 100], np.uint8))
    fetches = [tf.reduce_sum(x), tf.reduce_prod(x, 1), tf.cumsum(x, axis=1), tf.cumprod(x, exclusive=True),
               tf.reduce_sum(small)]
    assert [t.dtype for t in fetches] == [np.int32] * 4 + [np.uint8]
    with tf.Session() as sess:
        got = sess.run(fetches)
    assert [g.dtype for g in got] == [np.int32] * 4 + [np.uint8]
    assert [g.tolist() for g in got] == [21, [6, 120], [[1, 3, 6], [4, 9, 15]], [[1, 1, 1], [1, 2, 3]], 44]


def test_fill_with_a_tensor_value():
    # a tf.Tensor value made an object array of Tensor references
    w = tf.Variable(2.0)
    p = tf.placeholder(tf.int32, [])
    x = tf.placeholder(tf.float32, [None, 3])
    filled, fours = tf.fill([3, 2], w), tf.fill(tf.shape(x), p)
    assert (filled.shape, filled.dtype) == ((3, 2), np.float32)
    assert (fours.shape, fours.dtype) == ((None, 3), np.int32)
    loss = tf.reduce_sum(filled * tf.constant(np.arange(6.0).reshape(3, 2), dtype=tf.float32))
    grad = tf.gradients(loss, w)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_loss, got_grad, got_fours = sess.run([loss, grad, fours], {p: 4, x: np.zeros((2, 3), np.float32)})
    assert got_loss == 30.0 and got_grad == 15.0  # the value's gradient is the sum of the result's
    np.testing.assert_array_equal(got_fours, np.full((2, 3), 4, np.int32))
    with pytest.raises(ValueError, match="tf.fill: value must be a scalar"):
        tf.fill([2], tf.constant([1.0, 2.0]))

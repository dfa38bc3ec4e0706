"""TF-1's value-sized ops: tf.boolean_mask (with its gradient), tf.where(condition), tf.unique."""

import numpy as np
import pytest

from ember.compat import tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def test_boolean_mask_selects_what_numpy_selects_on_every_axis():
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    masks = {0: np.array([False, True]), 1: np.array([True, False, True]), 2: np.array([True, False, True, True])}
    x = tf.placeholder(tf.float32, [None, 3, 4])
    with tf.Session() as sess:
        for axis, mask in masks.items():
            out = tf.boolean_mask(x, tf.constant(mask), axis=axis)
            expected = np.compress(mask, data, axis=axis)
            np.testing.assert_array_equal(sess.run(out, {x: data}), expected)
        two_d = np.array([[True, False, True], [False, False, True]])
        np.testing.assert_array_equal(sess.run(tf.boolean_mask(x, two_d), {x: data}), data[two_d])
        none = tf.boolean_mask(x, tf.zeros([2], tf.bool))
        assert sess.run(none, {x: data}).shape == (0, 3, 4)


def test_boolean_mask_in_a_loss_trains_on_the_kept_rows_only():
    rng = np.random.default_rng(0)
    features = rng.standard_normal((64, 3)).astype(np.float32)
    kept = rng.random(64) > 0.3
    labels = np.where(kept, features @ np.array([1.0, -2.0, 0.5]), 100.0).astype(np.float32)  # the rest is junk
    x, y, valid = tf.placeholder(tf.float32, [None, 3]), tf.placeholder(tf.float32, [None]), \
        tf.placeholder(tf.bool, [None])
    w = tf.Variable(tf.zeros([3, 1]))
    errors = tf.square(tf.reshape(tf.matmul(x, w), [-1]) - y)
    loss = tf.reduce_mean(tf.boolean_mask(errors, valid))
    (grad,) = tf.gradients(loss, [w])
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(grad, {x: features, y: labels, valid: kept})
        rows = features[kept]  # d/dw mean((x w - y)^2) over the kept rows at w = 0
        np.testing.assert_allclose(first.ravel(), -2 * rows.T @ labels[kept] / kept.sum(), rtol=1e-5)
        for _ in range(200):
            sess.run(train, {x: features, y: labels, valid: kept})
        np.testing.assert_allclose(sess.run(w).ravel(), [1.0, -2.0, 0.5], atol=1e-4)


def test_boolean_mask_refuses_a_fed_mask_of_other_sizes():
    # unknown while the graph is built, the sizes are compared when fed (this gave [0. 2.] and all six entries)
    x, mask = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.bool, [None])
    x2, mask2 = tf.placeholder(tf.float32, [None, None]), tf.placeholder(tf.bool, [None, None])
    with tf.Session() as sess:
        with pytest.raises(ValueError, match=r"mask's shape \[3\] differs from dimensions 0..0 .* \[4\]"):
            sess.run(tf.boolean_mask(x, mask), {x: np.arange(4.0), mask: [True, False, True]})
        with pytest.raises(ValueError, match=r"mask's shape \[3, 2\] differs"):
            sess.run(tf.boolean_mask(x2, mask2), {x2: np.ones((2, 3)), mask2: np.ones((3, 2), bool)})
        assert sess.run(tf.boolean_mask(x, mask), {x: [1.0, 2.0], mask: [False, True]}).tolist() == [2.0]


def test_value_sized_ops_of_random_values_see_the_draw_the_rest_of_the_run_sees():
    # one TF-1 run draws a random op once; the host run sizing the mask drew its own values, so the mask of
    # another draw picked the rows (and tf.unique counted other ids) than the ones fetched beside it
    x = tf.random_uniform([50])
    seeded = tf.random_uniform([40], maxval=6, dtype=tf.int64, seed=3)
    kept, (distinct, _) = tf.boolean_mask(x, x > 0.5), tf.unique(seeded)
    with tf.Session() as sess:
        for _ in range(3):
            got_x, got_kept, ids, got_distinct = sess.run([x, kept, seeded, distinct])
            np.testing.assert_array_equal(got_kept, got_x[got_x > 0.5])
            np.testing.assert_array_equal(got_distinct, ids[np.sort(np.unique(ids, return_index=True)[1])])
    with tf.Session() as sess:  # the seeded op's sequence, as a run without host calls draws it
        first = sess.run(seeded)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run([seeded, distinct])[0], first)


def test_where_of_a_condition_gives_the_coordinates_of_the_true_elements():
    condition = tf.placeholder(tf.bool, [None, 3])
    coordinates = tf.where(condition)
    assert coordinates.shape.as_list() == [None, 2] and coordinates.dtype == tf.int64
    values = np.array([[True, False, True], [False, False, True]])
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(coordinates, {condition: values}), np.argwhere(values))
        np.testing.assert_array_equal(sess.run(tf.where(tf.constant(values), tf.ones([2, 3]), tf.zeros([2, 3]))),
                                      values.astype(np.float32))


def test_unique_keeps_the_order_of_first_appearance():
    x = tf.placeholder(tf.int64, [None])
    y, idx = tf.unique(x)
    counted = tf.unique_with_counts(x, out_idx=tf.int64)
    values = np.array([7, 2, 7, 5, 2, 2])
    with tf.Session() as sess:
        got_y, got_idx = sess.run([y, idx], {x: values})
        np.testing.assert_array_equal(got_y, [7, 2, 5])
        np.testing.assert_array_equal(got_idx, [0, 1, 0, 2, 1, 1])
        assert got_idx.dtype == np.int32
        result = sess.run(counted, {x: values})
        np.testing.assert_array_equal(result.count, [2, 3, 1])
        assert result.idx.dtype == np.int64


def test_mistakes_are_named():
    x = tf.placeholder(tf.float32, [4, 3])
    with pytest.raises(TypeError, match="tf.boolean_mask: the mask must be bool"):
        tf.boolean_mask(x, tf.ones([4]))
    with pytest.raises(ValueError, match="the mask's shape \\[5\\] differs from dimensions 0..0"):
        tf.boolean_mask(x, tf.placeholder(tf.bool, [5]))
    with pytest.raises(ValueError, match="a mask of rank 2 at axis 1 does not fit"):
        tf.boolean_mask(x, tf.placeholder(tf.bool, [3, 1]), axis=1)
    with pytest.raises(ValueError, match="tf.Unique: the input must be 1-D"):
        tf.unique(x)


def test_value_sized_op_of_samples_with_tensor_parameters_sees_the_fetched_draw():
    # a random op with a tensor mean/stddev was drawn again for the mask's host run (its float inputs kept it from
    # the draws a Session makes once per step): the mask kept values below the threshold
    mean = tf.Variable(0.2)
    stddev = tf.Variable([1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5, 3.5])
    x = tf.random_normal([8], mean=mean, stddev=stddev, seed=1)
    kept = tf.boolean_mask(x, x > 0.5)
    grads = tf.gradients(tf.reduce_sum(x * x), [mean, stddev])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            values, masked = sess.run([x, kept])
            np.testing.assert_array_equal(masked, values[values > 0.5])
        values, (d_mean, d_stddev) = sess.run([x, grads])  # (one run: the gradients at the fetched draw)
        np.testing.assert_allclose(d_mean, 2 * values.sum(), rtol=1e-5)
        std = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 1.5, 2.5, 3.5])
        np.testing.assert_allclose(d_stddev, 2 * values * (values - 0.2) / std, rtol=1e-4)

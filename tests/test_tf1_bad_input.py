"""TF-1 refuses bad input while the graph is built, naming the function and the shapes or dtypes: what TF 1.15
rejects is not silently accepted."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def test_matmul_needs_matrices():
    with pytest.raises(ValueError, match=r"tf.matmul: a must have rank 2 or more.*\[3\]"):
        tf.matmul(tf.zeros([3]), tf.zeros([3, 2]))
    with pytest.raises(ValueError, match=r"tf.matmul: b must have rank 2"):
        tf.matmul(tf.zeros([2, 3]), tf.zeros([3]))
    assert tf.matmul(tf.zeros([5, 2, 3]), tf.zeros([5, 3, 4])).shape == (5, 2, 4)


def test_the_cross_entropies_take_named_integer_labels():
    logits = tf.zeros([2, 4])
    with pytest.raises(ValueError, match="sparse_softmax_cross_entropy_with_logits: call it with named arguments"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(tf.zeros([2], tf.int32), logits)
    with pytest.raises(ValueError, match="softmax_cross_entropy_with_logits: call it with named arguments"):
        tf.nn.softmax_cross_entropy_with_logits(tf.zeros([2, 4]), logits)
    with pytest.raises(ValueError, match="sigmoid_cross_entropy_with_logits: call it with named arguments"):
        tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros([2, 4]), logits)
    with pytest.raises(TypeError, match="labels must be int32 or int64 class indices.*float32"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros([2]), logits=logits)
    with pytest.raises(TypeError, match="tf.one_hot: indices must be integers.*float32"):
        tf.one_hot(tf.constant([1.0]), 3)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([0, 3], tf.int64), logits=logits)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), [np.log(4)] * 2, rtol=1e-6)


def test_softmax_cross_entropy_names_itself_for_labels_and_logits_that_do_not_broadcast():
    # (it was broadcast_tensors' RuntimeError, naming neither the function nor the arguments)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy_with_logits: labels of shape \[1, 3\] and logits "
                                         r"of shape \[1, 2\]"):
        tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.zeros([1, 3]), logits=tf.zeros([1, 2]))
    logits = tf.placeholder(tf.float32, [None, None])
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.constant([[0.0, 1.0]]), logits=logits)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss, {logits: np.zeros((3, 2))}), [np.log(2)] * 3, rtol=1e-6)
        with pytest.raises(ValueError, match=r"labels of shape \[1, 2\] and logits of shape \[3, 4\]"):
            sess.run(loss, {logits: np.zeros((3, 4))})


def test_top_k_refuses_a_scalar():
    # (a scalar was its own top 1, index 0; TF's TopKV2 needs rank 1 or more)
    with pytest.raises(ValueError, match="tf.nn.top_k: input must have rank 1 or more"):
        tf.nn.top_k(tf.constant(1.0), 1)


def test_concat_refuses_inputs_of_different_ranks():
    # a 1-D empty tensor beside matrices joined them as PyTorch's cat does; TF-1 refuses it
    with pytest.raises(ValueError, match=r"tf.concat: ranks of all inputs must match.*\[3, 4\], \[0\]"):
        tf.concat([tf.zeros([3, 4]), tf.zeros([0])], 1)
    fed = tf.placeholder(tf.float32)
    joined = tf.concat([tf.zeros([3, 4]), fed], 1)
    with tf.Session() as sess:
        assert sess.run(joined, {fed: np.ones((3, 2), np.float32)}).shape == (3, 6)
        with pytest.raises(ValueError, match=r"tf.concat: ranks of all inputs must match"):
            sess.run(joined, {fed: np.ones(0, np.float32)})


def test_shape_functions_refuse_what_tf_refuses():
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match=r"tf.squeeze: cannot squeeze axis 0 of size 2"):
        tf.squeeze(tf.zeros([2, 3]), [0])
    with pytest.raises(ValueError, match=r"tf.split: axis 1 of length 5 does not split into 2 equal parts"):
        tf.split(tf.zeros([2, 5]), 2, axis=1)
    with pytest.raises(ValueError, match=r"tf.tile: multiples \[2\] need one entry per axis .*\[None, 3\]"):
        tf.tile(x, [2])
    with pytest.raises(ValueError, match=r"tf.expand_dims: axis 3 is out of \[-3, 2\]"):
        tf.expand_dims(x, 3)
    # the limits themselves are fine
    assert tf.expand_dims(x, 2).shape == (None, 3, 1) and tf.expand_dims(x, -3).shape == (1, None, 3)
    assert tf.squeeze(tf.zeros([1, 3, 1]), [0]).shape == (3, 1)
    assert [p.shape for p in tf.split(tf.zeros([2, 6]), 3, axis=1)] == [(2, 2)] * 3
    # a size known only when the Session runs is checked then
    y = tf.placeholder(tf.float32, [None, 3])
    squeezed = tf.squeeze(y, [0])
    with tf.Session() as sess:
        assert sess.run(squeezed, {y: np.ones((1, 3), np.float32)}).shape == (3,)
        with pytest.raises(ValueError, match="cannot squeeze axis 0 of size 2"):
            sess.run(squeezed, {y: np.ones((2, 3), np.float32)})


def test_newaxis_indexes_a_new_axis():
    assert tf.newaxis is None
    assert tf.constant([1, 2])[tf.newaxis, :].shape == (1, 2)


def test_loss_weights_need_the_losses_rank():
    y = np.arange(9, dtype=np.float32).reshape(3, 3)
    rows = np.array([1.0, 0.0, 2.0], np.float32)
    # NumPy broadcasting would weight the columns; TF-1 refuses a [batch] vector for [batch, k] losses
    with pytest.raises(ValueError, match=r"weights of shape \[3\] can not be broadcast to the "
                                         r"tf.losses.mean_squared_error losses of shape \[3, 3\]"):
        tf.losses.mean_squared_error(y, tf.zeros([3, 3]), weights=rows)
    fed = tf.placeholder(tf.float32, [None])
    with pytest.raises(ValueError, match=r"weights of shape \[None\] can not be broadcast"):
        tf.losses.sigmoid_cross_entropy(tf.zeros([2, 3]), tf.zeros([2, 3]), weights=fed)
    # [batch, 1] weights the rows; the sparse loss takes them for [batch] labels, squeezed, as TF-1
    logits = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    labels = np.array([0, 2, 3])
    per_row = np.log(np.exp(logits).sum(1)) - logits[np.arange(3), labels]
    losses = [tf.losses.mean_squared_error(y, tf.zeros([3, 3]), weights=rows[:, None]),
              tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=rows[:, None])]
    with tf.Session() as sess:
        squares, sparse = sess.run(losses)
    np.testing.assert_allclose(squares, (y ** 2 * rows[:, None]).sum() / 6, rtol=1e-6)
    np.testing.assert_allclose(sparse, (per_row * rows).sum() / 2, rtol=1e-5)


def test_losses_refuse_labels_and_predictions_of_different_shapes():
    # NumPy broadcasting paired [batch] labels with [batch, 1] predictions into [batch, batch] losses
    labels = np.array([0.1, 0.5, 0.9, 0.3], np.float32)
    predictions = np.array([[0.2], [0.4], [0.6], [0.8]], np.float32)
    for name in ("mean_squared_error", "absolute_difference", "huber_loss", "log_loss", "hinge_loss",
                 "sigmoid_cross_entropy"):
        with pytest.raises(ValueError, match=rf"tf.losses.{name}: Shapes \[4, 1\] and \[4\] are incompatible"):
            getattr(tf.losses, name)(labels, predictions)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: Shapes \[2, 4\] and \[2, 1\] are incompatible"):
        tf.losses.softmax_cross_entropy(tf.zeros([2, 1]), tf.zeros([2, 4]))
    # shapes known only when fed are checked when the Session runs
    y, p = tf.placeholder(tf.float32), tf.placeholder(tf.float32)
    loss = tf.losses.mean_squared_error(y, p)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss, {y: labels, p: predictions[:, 0]}),
                                   ((labels - predictions[:, 0]) ** 2).mean(), rtol=1e-6)
        with pytest.raises(ValueError, match=r"Shapes \[4, 1\] and \[4\] are incompatible"):
            sess.run(loss, {y: labels, p: predictions})


def test_a_static_size_from_tf_shape_serves_as_an_int_and_a_run_time_one_says_why_not():
    logits = tf.placeholder(tf.float32, [None, 3])
    labels = tf.placeholder(tf.int32, [None])
    hot = tf.one_hot(labels, tf.shape(logits)[1])  # the class count, known statically: it failed in int()
    assert (hot.shape, hot.dtype) == ((None, 3), np.float32)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(hot, {labels: [2, 0]}), np.eye(3, dtype=np.float32)[[2, 0]])
    with pytest.raises(TypeError, match=r"'strided_slice_1:0' has no value while the graph is built"):
        tf.eye(tf.shape(logits)[0])  # the batch size: known only when the Session runs


def test_sparse_softmax_refuses_the_label_minus_100():
    # -100 is PyTorch's default ignore_index: it gave a loss of 0; TF refuses a label outside [0, classes)
    logits = tf.constant(np.zeros((3, 4), np.float32))
    labels = tf.constant(np.array([0, -100, 1], np.int32))
    for loss in (tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits),
                 tf.losses.sparse_softmax_cross_entropy(labels, logits)):
        with tf.Session() as sess, pytest.raises(IndexError, match=r"must lie in \[0, 4\).*-100"):
            sess.run(loss)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.constant([0, 3, 1]), logits=logits)), [np.log(4)] * 3, rtol=1e-6)


def test_weighted_cross_entropy_needs_labels_and_logits_of_one_shape():
    # [1, 2] labels against [2, 1] logits were broadcast to a [2, 2] loss; TF refuses them
    with pytest.raises(ValueError, match=r"weighted_cross_entropy_with_logits: logits and labels must have the same "
                                         r"shape \(got \[2, 1\] and \[1, 2\]\)"):
        tf.nn.weighted_cross_entropy_with_logits(labels=tf.zeros([1, 2]), logits=tf.zeros([2, 1]), pos_weight=2.0)
    x = tf.placeholder(tf.float32, [None, 2])
    loss = tf.nn.weighted_cross_entropy_with_logits(labels=x, logits=tf.zeros([3, 2]), pos_weight=2.0)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss, {x: np.ones((3, 2), np.float32)}), 2 * np.log(2), rtol=1e-6)


def test_softmax_cross_entropy_broadcasts_labels_and_logits_before_the_softmax():
    # logits (2, 1) and labels (1, 2): the softmax was taken over the logits' own size-1 axis (probability 1, loss
    # 0) where TF's kernel broadcasts the two first (uniform over 2 classes: log 2 each)
    loss = tf.nn.softmax_cross_entropy_with_logits_v2(labels=tf.constant([[1.0, 0.0]]),
                                                      logits=tf.constant([[0.5], [0.2]]))
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), [np.log(2.0)] * 2, rtol=1e-6)


def test_assign_refuses_a_value_of_another_shape():
    # a scalar was broadcast into the vector ([7. 7. 7.]) and tf.assign(v, x, False) took False as the name
    # (AttributeError 'bool' object has no attribute 'endswith'); TF-1 refuses the shapes at build
    v = tf.Variable([1.0, 2.0, 3.0], name="v")
    with pytest.raises(ValueError, match=r"assign to v:0: shapes \[3\] and \[\] are incompatible"):
        tf.assign(v, 7.0)
    with pytest.raises(ValueError, match=r"shapes \[3\] and \[2\] are incompatible \(Ember's variables keep"):
        tf.assign(v, [1.0, 2.0], False)
    fed = tf.placeholder(tf.float32)
    late = tf.assign(v, fed)
    new = tf.assign(v, [4.0, 5.0, 6.0], True)
    with tf.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(ValueError, match=r"assign to v:0: shapes \[3\] and \[1\] are incompatible"):
            sess.run(late, {fed: [9.0]})
        np.testing.assert_array_equal(sess.run(new), [4.0, 5.0, 6.0])


def test_a_label_outside_the_classes_is_named_without_an_ignore_index_tf1_has_not():
    # the error spoke of an ignore_index (-9223372036854775808) that TF-1 code never set
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([2]), logits=tf.constant([[1.0, 2.0]]))
    with tf.Session() as sess, pytest.raises(IndexError, match=r"must lie in \[0, 2\), got \[2\]"):
        sess.run(loss)


@pytest.mark.parametrize("fn", [tf.nn.softmax, tf.nn.log_softmax, tf.nn.l2_loss])
def test_float_only_nn_ops_refuse_integer_tensors(fn):
    # TF-1's kernels take float16, bfloat16, float32 and float64 only (the result was a silent float32)
    with pytest.raises(TypeError, match=f"tf.nn.{fn.__name__}: .* dtype int32"):
        fn(tf.constant([1, 2]))
    with tf.Session() as sess:
        assert sess.run(fn(tf.constant([1.0, 2.0], tf.float64))).dtype == np.float64


@pytest.mark.parametrize("build, message", [
    (lambda: tf.nn.conv2d(tf.zeros([3, 5, 5]), tf.zeros([3, 3, 3, 4]), [1, 1, 1, 1], "SAME"),
     r"tf.nn.conv2d: input must be 4-D \(NHWC\), got shape \[3, 5, 5\]"),
    (lambda: tf.nn.conv2d(tf.zeros([1, 5, 5, 3]), tf.zeros([3, 3, 4]), [1, 1, 1, 1], "SAME"),
     "tf.nn.conv2d: filter must be 4-D"),
    (lambda: tf.nn.max_pool(tf.zeros([3, 5, 5]), [1, 2, 2, 1], [1, 2, 2, 1], "SAME"),
     "tf.nn.max_pool: value must be 4-D"),
    (lambda: tf.nn.avg_pool(tf.zeros([3, 5, 5]), [1, 2, 2, 1], [1, 2, 2, 1], "SAME"),
     "tf.nn.avg_pool: value must be 4-D"),
    (lambda: tf.nn.conv1d(tf.zeros([5, 3]), tf.zeros([3, 3, 4]), 1, "SAME"), "tf.nn.conv1d: value must be 3-D"),
    (lambda: tf.nn.conv2d_transpose(tf.zeros([5, 5, 3]), tf.zeros([3, 3, 2, 3]), [1, 10, 10, 2], [1, 2, 2, 1]),
     "tf.nn.conv2d_transpose: value must be 4-D"),
])
def test_convolutions_and_pools_name_the_rank_they_expect(build, message):
    # (was an internal 'transpose: axis 3 is out of range for 3 dimensions')
    with pytest.raises(ValueError, match=message):
        build()


def test_optimizer_names_an_integer_loss_or_variable():
    v = tf.Variable(3, dtype=tf.int32)
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="minimize: the loss 'mul:0' has dtype int32"):
        opt.minimize(v * v)
    with pytest.raises(ValueError, match="compute_gradients: the loss .* has dtype int32"):
        opt.compute_gradients(v * v)
    with pytest.raises(ValueError, match=r"integer or bool dtype have no gradient: 'Variable:0' \(int32\)"):
        opt.minimize(tf.cast(v, tf.float32) ** 2)

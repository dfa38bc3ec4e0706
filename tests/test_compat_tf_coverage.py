"""``ember.compat.tf`` beyond the basics: the TF-1 API tutorials use, each checked against a reference."""

import os
import struct
import sys

import numpy as np
import pytest
import torch
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feeds)


# --- the two silent TF-1 misuses ----------------------------------------------------------------------------


def test_an_int_feed_out_of_the_placeholders_range_raises_instead_of_wrapping():
    x = tf.placeholder(tf.int32, [None])
    doubled = x * 2
    with pytest.raises(ValueError,
                       match=r"cannot feed values in \[1, 1099511627776\] to 'Placeholder:0' of dtype int32"):
        _run(doubled, {x: np.array([1, 2 ** 40], np.int64)})
    assert _run(doubled, {x: np.array([1, 2 ** 30 - 1], np.int64)}).tolist() == [2, 2 ** 31 - 2]


def test_tensors_of_another_graph_cannot_be_fetched_or_fed_or_mixed():
    other = tf.Graph()
    with other.as_default():
        foreign = tf.placeholder(tf.float32, [2])
        foreign_sum = tf.reduce_sum(foreign)
    local = tf.placeholder(tf.float32, [2])
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="'Sum:0': it is not an element of this session's graph"):
            sess.run(foreign_sum, {foreign: [1.0, 2.0]})
        with pytest.raises(ValueError, match="feed tensor 'Placeholder:0'.*not an element"):
            sess.run(local * 2, {local: [1.0, 2.0], foreign: [1.0, 2.0]})
    with pytest.raises(ValueError, match="must be from the same graph"):
        tf.add(local, foreign)
    tf.reset_default_graph()
    with tf.Session() as sess, pytest.raises(ValueError, match="not an element"):
        sess.run(local * 2, {local: [1.0, 2.0]})


# --- tf.nn: convolution, pooling, dropout -------------------------------------------------------------------


@pytest.mark.parametrize("padding, stride, size", [("SAME", 1, 7), ("SAME", 2, 7), ("VALID", 2, 8), ("SAME", 2, 8)])
def test_conv2d_nhwc_same_and_valid_match_torch(padding, stride, size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, size, size, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    ours = _run(tf.nn.conv2d(tf.constant(x), tf.constant(w), strides=[1, stride, stride, 1], padding=padding))
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)
    if padding == "SAME":  # TF pads ceil(size / stride) windows' worth, the odd pixel after
        total = max((-(-size // stride) - 1) * stride + 3 - size, 0)
        xt = torch.nn.functional.pad(xt, (total // 2, total - total // 2, total // 2, total - total // 2))
    reference = torch.nn.functional.conv2d(xt, torch.from_numpy(w).permute(3, 2, 0, 1), stride=stride)
    np.testing.assert_allclose(ours, reference.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4)


def test_max_and_avg_pool_same_padding_as_tf():
    x = np.arange(2 * 5 * 5 * 1, dtype=np.float32).reshape(2, 5, 5, 1) - 20.0
    pooled_max = _run(tf.nn.max_pool(tf.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], "SAME"))
    pooled_avg = _run(tf.nn.avg_pool(tf.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], "SAME"))
    assert pooled_max.shape == (2, 3, 3, 1) == pooled_avg.shape
    for i in range(3):
        for j in range(3):
            window = x[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2, :]  # SAME: the window is cut at the image's edge
            np.testing.assert_allclose(pooled_max[:, i, j], window.max(axis=(1, 2)))
            np.testing.assert_allclose(pooled_avg[:, i, j], window.mean(axis=(1, 2)), rtol=1e-6)
    assert _run(tf.nn.max_pool(tf.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], "VALID")).shape == (2, 2, 2, 1)


def test_dropout_with_a_fed_keep_prob_scales_kept_units_as_tf():
    x = tf.placeholder(tf.float32, [None, 1000])
    keep = tf.placeholder(tf.float32)
    out = tf.nn.dropout(x, keep)
    ones = np.ones((4, 1000), np.float32)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(out, {x: ones, keep: 1.0}), ones)
        dropped = sess.run(out, {x: ones, keep: 0.8})
    assert set(np.unique(dropped)) <= {0.0, np.float32(1 / 0.8)}
    assert 0.75 < (dropped > 0).mean() < 0.85


def test_dropout_in_float64_with_a_fed_keep_prob_of_its_dtype_matches_numpy_and_another_dtype_is_refused():
    x = tf.placeholder(tf.float64, [2, 50])
    keep = tf.placeholder(tf.float64, [])
    out = tf.nn.dropout(x, keep, seed=5)
    X = np.random.default_rng(0).normal(size=(2, 50))
    with tf.Session() as sess:
        got = sess.run(out, {x: X, keep: 0.7})
    assert got.dtype == np.float64
    kept = got != 0
    np.testing.assert_allclose(got[kept], X[kept] / 0.7, rtol=1e-15)
    # a float32 rate against float16 values turned them float32 (and float64 ones stayed so silently); TF converts
    # the rate to x's dtype, which refuses a tensor of another one
    for dtype, fed in ((tf.float64, tf.float32), (tf.float16, tf.float32)):
        with pytest.raises(ValueError, match=f"tf.nn.dropout: the keep probability \\(or rate\\) 'Placeholder.*' has "
                                             f"dtype {fed.name}, but x .* has dtype {dtype.name}"):
            tf.nn.dropout(tf.ones([2, 3], dtype), rate=tf.placeholder(fed, []))
    cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), output_keep_prob=tf.placeholder(tf.float32, []))
    with pytest.raises(ValueError, match="has dtype float32, but x .* has dtype float64"):
        tf.nn.dynamic_rnn(cell, tf.ones([2, 4, 2], tf.float64), dtype=tf.float64)


def test_dropout_noise_shape_keeps_or_drops_whole_axes():
    x = tf.placeholder(tf.float32, [None, 50])
    rows = tf.nn.dropout(x, 0.5, noise_shape=[None, 1])
    columns = tf.layers.dropout(x, 0.5, noise_shape=[1, 50], training=True)
    bad = tf.nn.dropout(x, 0.5, noise_shape=[3, 50])
    ones = np.ones((40, 50), np.float32)
    with tf.Session() as sess:
        got_rows, got_columns = sess.run([rows, columns], {x: ones})
        with pytest.raises(ValueError, match=r"noise_shape \[3, 50\] must broadcast to x's shape \[40, 50\]"):
            sess.run(bad, {x: ones})
    assert set(np.unique(got_rows)) == {0.0, 2.0} and set(np.unique(got_columns)) == {0.0, 2.0}
    assert (got_rows == got_rows[:, :1]).all() and (got_columns == got_columns[:1]).all()
    with pytest.raises(ValueError, match=r"tf.nn.dropout: noise_shape \[None, 2\] must broadcast"):
        tf.nn.dropout(x, 0.5, noise_shape=[None, 2])


def test_dropout_seeds_repeat_the_mask_in_each_session_and_bad_arguments_are_refused():
    # TF-1's flags are a random_uniform of the op seed: each Session repeats them, other seeds differ
    tf.set_random_seed(3)
    x = tf.ones((8, 64))
    first, again, other = (tf.nn.dropout(x, 0.5, seed=s) for s in (1, 1, 2))
    with tf.Session() as sess:
        a, b, c = sess.run([first, again, other])
    with tf.Session() as sess:
        a2 = sess.run(first)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, a2)
    assert (a != c).any()
    with pytest.raises(ValueError, match="not both"):
        tf.nn.dropout(x, keep_prob=0.5, rate=0.5)
    with pytest.raises(ValueError, match="floating point"):
        tf.nn.dropout(tf.constant([[1, 2]]), 0.5)


# --- RNN cells against PyTorch -----------------------------------------------------------------------------


def test_static_and_dynamic_lstm_match_torch_lstm():
    rng = np.random.default_rng(1)
    batch, steps, features, units = 3, 5, 4, 6
    data = rng.standard_normal((batch, steps, features)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, steps, features])
    cell = tf.nn.rnn_cell.BasicLSTMCell(units, forget_bias=1.0)
    outputs, state = tf.nn.static_rnn(cell, tf.unstack(x, steps, 1), dtype=tf.float32)
    kernel, bias = cell.variables["kernel"], cell.variables["bias"]
    assert kernel.name == "rnn/basic_lstm_cell/kernel:0" and kernel.shape.as_list() == [features + units, 4 * units]
    with tf.variable_scope("dyn"):
        dynamic_outputs, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(units), x, dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        k, b = sess.run([kernel, bias])
        b[:] = rng.standard_normal(b.shape)
        sess.run(bias.assign(b))
        last, c = sess.run([outputs[-1], state.c], {x: data})
        assert sess.run(dynamic_outputs, {x: data}).shape == (batch, steps, units)
    lstm = torch.nn.LSTM(features, units, batch_first=True)
    i, j, f, o = np.split(k, 4, axis=1)  # TF's gate order i, j, f, o; torch's i, f, g, o
    bi, bj, bf, bo = np.split(b, 4)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(np.concatenate([i, f, j, o], 1)[:features].T))
        lstm.weight_hh_l0.copy_(torch.from_numpy(np.concatenate([i, f, j, o], 1)[features:].T))
        lstm.bias_ih_l0.copy_(torch.from_numpy(np.concatenate([bi, bf + 1.0, bj, bo])))
        lstm.bias_hh_l0.zero_()
        out, (_, c_ref) = lstm(torch.from_numpy(data))
    np.testing.assert_allclose(last, out[:, -1].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c, c_ref[0].numpy(), rtol=1e-4, atol=1e-5)


def test_gru_and_basic_rnn_cells_and_sequence_length():
    rng = np.random.default_rng(2)
    data = rng.standard_normal((2, 3, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3, 4])
    gru = tf.nn.rnn_cell.GRUCell(5)
    outputs, state = tf.nn.dynamic_rnn(gru, x, sequence_length=tf.constant([3, 1]), dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out, final = sess.run([outputs, state], {x: data})
        gk, gb = sess.run(list(gru.variables["gates"]))
        ck, cb = sess.run(list(gru.variables["candidate"]))
    assert (gb == 1.0).all()  # TF's GRU gate bias starts at 1

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    h = np.zeros((2, 5), np.float32)
    expected = []
    for t in range(3):
        r, u = np.split(sigmoid(np.concatenate([data[:, t], h], 1) @ gk + gb), 2, axis=1)
        candidate = np.tanh(np.concatenate([data[:, t], r * h], 1) @ ck + cb)
        new = u * h + (1 - u) * candidate
        running = (np.array([3, 1]) > t)[:, None]
        expected.append(np.where(running, new, 0.0))
        h = np.where(running, new, h)
    np.testing.assert_allclose(out, np.stack(expected, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final, h, rtol=1e-5, atol=1e-6)


def test_sizes_from_tf_shape_are_read_when_the_session_runs():
    x = tf.placeholder(tf.float32, [None, 3])
    batch = tf.shape(x)[0]
    noise = tf.random_normal(tf.shape(x), stddev=2.0)
    index = tf.range(0, batch) * 3 + 2  # dynamic_rnn tutorial's indexing trick
    picked = tf.gather(tf.reshape(x, [-1]), index)
    flat = tf.reshape(x, tf.shape(tf.zeros([3, 4])))
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = _run({"noise": noise, "picked": picked, "ones": tf.ones(tf.shape(x)), "batch": batch}, {x: values})
    assert out["noise"].shape == (4, 3) and out["ones"].shape == (4, 3) and out["batch"] == 4
    np.testing.assert_array_equal(out["picked"], values[:, 2])
    assert _run(flat, {x: values}).shape == (3, 4)


def test_bidirectional_rnns_concatenate_forward_and_reversed_backward_outputs():
    steps = [tf.placeholder(tf.float32, [None, 2]) for _ in range(3)]
    fw, bw = tf.nn.rnn_cell.BasicRNNCell(4), tf.nn.rnn_cell.BasicRNNCell(4)
    outputs, state_fw, state_bw = tf.contrib.rnn.static_bidirectional_rnn(fw, bw, steps, dtype=tf.float32)
    assert fw.variables["kernel"].name == "bidirectional_rnn/fw/basic_rnn_cell/kernel:0"
    data = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([outputs, state_fw, state_bw], dict(zip(steps, data)))
        kernels = sess.run([fw.variables["kernel"], bw.variables["kernel"]])

    def run(kernel, sequence):
        h, hs = np.zeros((5, 4)), []
        for x in sequence:
            h = np.tanh(np.concatenate([x, h], 1) @ kernel)
            hs.append(h)
        return hs

    forward, backward = run(kernels[0], data), run(kernels[1], data[::-1])[::-1]
    for t in range(3):
        np.testing.assert_allclose(got[0][t], np.concatenate([forward[t], backward[t]], 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], forward[-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], backward[0], rtol=1e-5, atol=1e-6)


# --- shape and indexing ops, dtypes ----------------------------------------------------------------------


def test_shape_and_indexing_ops_match_numpy():
    x = tf.placeholder(tf.float32, [None, 3])
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    parts = tf.unstack(x, axis=1)
    fetched = _run({
        "shape": tf.shape(x), "stacked": tf.stack(parts, axis=0), "range": tf.range(2, 11, 3),
        "gather": tf.gather(x, [3, 0]), "argmin": tf.arg_min(x, 1), "argmax": tf.argmax(x, axis=0),
        "int16": tf.cast(x, tf.int16), "split": tf.split(x, 3, axis=1)[2], "rank": tf.rank(x),
    }, {x: values})
    assert fetched["shape"].tolist() == [4, 3] and fetched["shape"].dtype == np.int32
    np.testing.assert_array_equal(fetched["stacked"], values.T)
    assert fetched["range"].tolist() == [2, 5, 8] and fetched["range"].dtype == np.int32
    np.testing.assert_array_equal(fetched["gather"], values[[3, 0]])
    assert fetched["argmin"].tolist() == [0, 0, 0, 0] and fetched["argmax"].tolist() == [3, 3, 3]
    assert fetched["int16"].dtype == np.int16 and fetched["rank"] == 2
    np.testing.assert_array_equal(fetched["split"], values[:, 2:])
    assert len(parts) == 3 and parts[0].shape.as_list() == [None]
    with pytest.raises(ValueError, match="pass num="):
        tf.unstack(tf.placeholder(tf.float32, [None, 3]))


def test_one_hot_follows_axis_and_gives_an_off_row_for_an_index_out_of_range():
    x = tf.placeholder(tf.int32, [None])
    fetched = _run({
        "docs": tf.one_hot([[0, 2], [1, -1]], 3),  # TF-1's documented example
        "axis0": tf.one_hot(x, 4, axis=0, on_value=5.0, off_value=-1.0),
        "axis1": tf.one_hot([[0, 2], [1, 3]], 3, axis=1),
    }, {x: np.array([3, 7, 0])})
    np.testing.assert_array_equal(fetched["docs"], [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 0]]])
    np.testing.assert_array_equal(fetched["axis0"], np.where(np.eye(4)[:, [3, 7 % 4, 0]] * [1, 0, 1], 5.0, -1.0))
    hot = np.eye(3)[[[0, 2], [1, 0]]] * [[[1], [1]], [[1], [0]]]  # depth 3: index 3 is out of range
    np.testing.assert_array_equal(fetched["axis1"], hot.transpose(0, 2, 1))


def test_one_hot_entries_are_exactly_on_and_off_value_which_may_be_tensors():
    on = tf.placeholder(tf.float32, [])
    fetched = _run({
        "smooth": tf.one_hot([0, 2], 3, on_value=0.9, off_value=0.05),  # (on - off) * 1 + off is 0.90000004
        "nan": tf.one_hot([0, 1], 2, on_value=np.nan, off_value=0.0),
        "tensor": tf.one_hot([1, 0], 2, on_value=on, off_value=tf.constant(-1.0)),
    }, {on: 3.0})
    assert fetched["smooth"].dtype == np.float32
    np.testing.assert_array_equal(fetched["smooth"], np.where(np.eye(3)[[0, 2]], np.float32(0.9), np.float32(0.05)))
    np.testing.assert_array_equal(fetched["nan"], [[np.nan, 0.0], [0.0, np.nan]])
    np.testing.assert_array_equal(fetched["tensor"], [[-1.0, 3.0], [3.0, -1.0]])
    with pytest.raises(ValueError, match="axis -1 or more"):  # axis=-2 gave the transpose of axis=-1's result
        tf.one_hot([0, 1], 3, axis=-2)
    with pytest.raises(ValueError, match="depth must be non-negative"):
        tf.one_hot([0, 1], -1)


def test_random_normal_with_a_tensor_stddev_and_feeds_by_name():
    scale = tf.placeholder(tf.float32, [], name="scale")
    samples = tf.random_normal([20000], mean=1.0, stddev=scale)
    tf.set_random_seed(0)
    drawn = _run(samples, {"scale:0": 3.0})
    assert abs(drawn.mean() - 1.0) < 0.1 and abs(drawn.std() - 3.0) < 0.1
    assert _run("scale:0", {"scale:0": 2.0}) == 2.0


def test_operation_run_and_cond_and_while_loop():
    counter = tf.Variable(0, dtype=tf.int32)
    increment = counter.assign_add(1).op
    flag = tf.placeholder(tf.bool, [])
    x = tf.constant([1.0, -2.0])
    chosen = tf.cond(flag, lambda: x * 10.0, lambda: x - 1.0)
    looped = tf.while_loop(lambda i, acc: i < 4, lambda i, acc: (i + 1, acc * 2.0), [0, x])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        increment.run()
        tf.group(increment).run(session=sess)
        assert sess.run(counter) == 2
        assert sess.run(chosen, {flag: True}).tolist() == [10.0, -20.0]
        assert sess.run(chosen, {flag: False}).tolist() == [0.0, -3.0]
        assert looped[0] == 4 and sess.run(looped[1]).tolist() == [16.0, -32.0]
    with pytest.raises(ValueError, match="depends on 'Placeholder"):
        n = tf.placeholder(tf.int32, [])
        tf.while_loop(lambda i: i < n, lambda i: i + 1, [tf.constant(0)])


# --- training: RMSProp, losses, layers, Saver ---------------------------------------------------------------


def test_rmsprop_follows_tf1s_update_rule():
    w = tf.Variable([1.0, -2.0])
    loss = tf.reduce_sum(w * w)
    step = tf.train.RMSPropOptimizer(0.01, decay=0.9, momentum=0.5, epsilon=1e-10).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(step)
        ours = sess.run(w)
    ref, ms, mom = np.array([1.0, -2.0]), np.ones(2), np.zeros(2)
    for _ in range(3):
        g = 2 * ref
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.5 * mom + 0.01 * g / np.sqrt(ms + 1e-10)
        ref = ref - mom
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_losses_match_their_formulas():
    rng = np.random.default_rng(3)
    y, p = rng.random((4, 3)).astype(np.float32), rng.random((4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    onehot = np.eye(3, dtype=np.float32)[labels]
    weights = np.array([[1.0], [0.0], [2.0], [1.0]], np.float32)
    log_softmax = p - np.log(np.exp(p).sum(1, keepdims=True))
    fetched = _run({
        "mse": tf.losses.mean_squared_error(y, p), "abs": tf.losses.absolute_difference(y, p),
        "weighted": tf.losses.mean_squared_error(y, p, weights=weights),
        "xent": tf.losses.softmax_cross_entropy(onehot, p), "sparse": tf.losses.sparse_softmax_cross_entropy(labels, p),
        "sigmoid": tf.losses.sigmoid_cross_entropy(y, p), "huber": tf.losses.huber_loss(y, p * 3, delta=0.5),
    })
    np.testing.assert_allclose(fetched["mse"], ((p - y) ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(fetched["abs"], np.abs(p - y).mean(), rtol=1e-5)
    # SUM_BY_NONZERO_WEIGHTS: the weighted sum over the 9 elements whose weight is not zero
    np.testing.assert_allclose(fetched["weighted"], ((p - y) ** 2 * weights).sum() / 9, rtol=1e-5)
    np.testing.assert_allclose(fetched["xent"], -(onehot * log_softmax).sum(1).mean(), rtol=1e-5)
    np.testing.assert_allclose(fetched["sparse"], fetched["xent"], rtol=1e-5)
    bce = np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))
    np.testing.assert_allclose(fetched["sigmoid"], bce.mean(), rtol=1e-5)
    d = np.abs(p * 3 - y)
    huber = np.where(d <= 0.5, 0.5 * d ** 2, 0.5 * (d - 0.25))
    np.testing.assert_allclose(fetched["huber"], huber.mean(), rtol=1e-5)


def test_tf_layers_train_a_small_cnn_on_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images[:600] / 16.0).astype(np.float32)[..., None]
    labels = digits.target[:600]
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    y = tf.placeholder(tf.int64, [None])
    training = tf.placeholder(tf.bool, [])
    h = tf.layers.conv2d(x, 8, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.dropout(tf.layers.flatten(h), rate=0.2, training=training)
    logits = tf.layers.dense(h, 10)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    step = tf.train.AdamOptimizer(0.01).minimize(loss)
    names = sorted(v.name for v in tf.trainable_variables())
    assert names == ["conv2d/bias:0", "conv2d/kernel:0", "dense/bias:0", "dense/kernel:0"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(10):
            for i in range(0, 500, 50):
                sess.run(step, {x: images[i:i + 50], y: labels[i:i + 50], training: True})
        held_out = sess.run(accuracy, {x: images[500:], y: labels[500:], training: False})
    assert held_out > 0.8  # (the same network in PyTorch: about 0.9 on these 100 held-out digits)


def test_saver_round_trip_and_latest_checkpoint(tmp_path):
    w = tf.Variable(tf.random_normal([3, 2]), name="w")
    b = tf.Variable(tf.zeros([2]), name="b")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(b.assign([1.0, 2.0]))
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=7)
        saved = sess.run([w, b])
    assert path.endswith("model.ckpt-7") and tf.train.latest_checkpoint(str(tmp_path)) == path
    with tf.Session() as sess:
        saver.restore(sess, path)
        for a, e in zip(sess.run([w, b]), saved):
            np.testing.assert_array_equal(a, e)
    with tf.Session() as sess, pytest.raises(ValueError, match="no checkpoint"):
        saver.restore(sess, str(tmp_path / "missing.ckpt"))


# --- tf.app, tf.summary, missing names --------------------------------------------------------------------


def test_app_run_parses_flags_and_exits_with_mains_result(monkeypatch):
    tf.app.flags.DEFINE_integer("steps_for_test", 3, "steps")
    tf.app.flags.DEFINE_boolean("fast_for_test", False, "fast")
    seen = {}

    def main(argv):
        seen.update(steps=tf.app.flags.FLAGS.steps_for_test, fast=tf.app.flags.FLAGS.fast_for_test, argv=argv)
        return 0

    monkeypatch.setattr(sys, "argv", ["prog", "--steps_for_test=9", "--fast_for_test", "extra"])
    with pytest.raises(SystemExit) as exit_info:
        tf.app.run(main)
    assert exit_info.value.code == 0 and seen == {"steps": 9, "fast": True, "argv": ["prog", "extra"]}


def _events(directory):
    from tensorboardX.proto import event_pb2

    (name,) = os.listdir(directory)
    data = open(os.path.join(directory, name), "rb").read()
    events, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[offset + 12:offset + 12 + length])
        events.append(event)
        offset += 12 + length + 4
    return events


def test_summary_file_writer_writes_tensorboard_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    w = tf.Variable(2.0)
    loss = w * w
    tf.summary.scalar("loss", loss)
    tf.summary.histogram("weights", tf.reshape(w, [1]))
    merged = tf.summary.merge_all()
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    writer = tf.summary.FileWriter(str(tmp_path), tf.get_default_graph())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(3):
            summary, _ = sess.run([merged, step])
            writer.add_summary(summary, i)
    writer.close()
    scalars = [(e.step, v.simple_value) for e in _events(tmp_path) for v in e.summary.value if v.tag == "loss"]
    assert [s for s, _ in scalars] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in scalars], [4.0, 4.0 * 0.8 ** 2, 4.0 * 0.8 ** 4], rtol=1e-5)


def test_summary_file_writer_flush_puts_every_event_on_disk(tmp_path):
    # flush() left the last events in tensorboardX's queue (49 of 50 summaries in the file, 0 of 1 after one)
    pytest.importorskip("tensorboardX")
    w = tf.Variable(2.0)
    merged = tf.summary.merge([tf.summary.scalar("w", w)])
    writer = tf.summary.FileWriter(str(tmp_path))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(50):
            writer.add_summary(sess.run(merged), step)
            writer.flush()
            assert [e.step for e in _events(tmp_path) if e.summary.value] == list(range(step + 1))
    writer.close()
    writer.add_summary(b"", 50)  # dropped after close, as TF-1's
    assert len([e for e in _events(tmp_path) if e.summary.value]) == 50


def test_summary_file_writer_writes_the_graph_for_tensorboard(tmp_path):
    # the graph given to FileWriter (or add_graph) was accepted and not written
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import graph_pb2, types_pb2

    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.ones((3, 2), np.float32), name="w")
    y = tf.nn.relu(tf.matmul(x, w), name="y")
    tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_mean(y), name="train")
    with tf.Session() as sess:
        tf.summary.FileWriter(str(tmp_path), sess.graph).close()
    (event,) = [e for e in _events(tmp_path) if e.graph_def]
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(event.graph_def)
    nodes = {node.name: node for node in graph.node}
    assert nodes["x"].op == "Placeholder" and nodes["w"].op == "VariableV2"
    assert nodes["x"].attr["dtype"].type == types_pb2.DT_FLOAT
    assert [d.size for d in nodes["x"].attr["_output_shapes"].list.shape[0].dim] == [-1, 3]
    assert all(source in nodes for node in graph.node for source in node.input)
    matmul = nodes[nodes["y"].input[0]]
    assert list(matmul.input) == ["x", "w"]
    assert "train" in nodes


def test_a_missing_name_says_what_to_use_instead():
    with pytest.raises(AttributeError, match=r"'tf' has no attribute 'SparseTensor'.*dense tensors"):
        _ = tf.SparseTensor
    with pytest.raises(AttributeError, match=r"'reduce_summ'.*did you mean tf.reduce_sum"):
        _ = tf.reduce_summ
    with pytest.raises(AttributeError, match=r"tf.train.*AdamOptimizer"):
        _ = tf.train.AdamOptimiser


def test_stop_gradient_blocks_the_gradient_in_minimize_and_gradients():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    loss = x * tf.stop_gradient(x * y) + y
    gx, gy = tf.gradients(loss, [x, y])
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run([gx, gy]) == pytest.approx([6.0, 1.0])  # d/dx = x*y held fixed, d/dy = 1 only
        sess.run(step)
        assert sess.run([x, y]) == pytest.approx([2.0 - 0.6, 3.0 - 0.1])


def test_gradients_hold_stop_gradients_constant_as_tf1():
    # TF-1's own example: both are held constant, so each gets 1 (without stop_gradients, a gets 3)
    a = tf.constant(0.0)
    b = 2 * a
    held = tf.gradients(a + b, [a, b], stop_gradients=[a, b])
    x = tf.placeholder(tf.float64, [3])
    square = x * x
    y = tf.reduce_sum(square * x)
    values = np.array([1.0, 2.0, 3.0])
    through, past = tf.gradients(y, x), tf.gradients(y, x, stop_gradients=square)
    own = tf.gradients(y, [x, square], stop_gradients=[square])
    assert tf.gradients(square, x, stop_gradients=[square]) == [None]  # nothing reaches x past the held square
    with tf.Session() as sess:
        assert sess.run(held) == [1.0, 1.0]
        assert sess.run(tf.gradients(a + b, [a, b])) == [3.0, 1.0]
        np.testing.assert_allclose(sess.run(through, {x: values}), [3 * values ** 2])
        np.testing.assert_allclose(sess.run(past, {x: values}), [values ** 2])  # only the outer factor x
        got_x, got_square = sess.run(own, {x: values})
        np.testing.assert_allclose(got_x, values ** 2)
        np.testing.assert_allclose(got_square, values)
    with pytest.raises(TypeError, match="tf.gradients: stop_gradients must hold tf Tensors, got ndarray"):
        tf.gradients(y, x, stop_gradients=[values])


def test_first_softmax_cross_entropy_passes_no_gradient_to_its_labels():
    rng = np.random.default_rng(0)
    teacher = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
    student = tf.Variable(rng.standard_normal((3, 4)).astype(np.float32))
    labels = tf.nn.softmax(teacher)
    v1 = tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=student)
    v2 = tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=student)
    collected = tf.losses.softmax_cross_entropy(labels, student)
    # TF-1 stops the labels' gradient in the first version and in tf.losses; v2 lets it through
    assert tf.gradients(v1, teacher) == [None] and tf.gradients(collected, teacher) == [None]
    assert tf.gradients(tf.stop_gradient(teacher), teacher) == [None]
    through = tf.gradients(v2, teacher)[0]
    step = tf.train.GradientDescentOptimizer(1.0).minimize(tf.reduce_sum(v1), var_list=[teacher, student])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(teacher)
        assert np.abs(sess.run(through)).sum() > 0.1
        sess.run(step)
        np.testing.assert_array_equal(sess.run(teacher), before)


def test_softmax_cross_entropy_gradient_is_the_kernels_softmax_minus_labels():
    # TF-1's gradient for the logits is its kernel's backprop, softmax - labels, even for labels not summing to 1
    # (multi-hot [1, 1, 0] gave the exact softmax * 2 - labels, [-0.54, 0.26, 0.28] for TF's [-0.77, -0.37, 0.14]);
    # the labels' gradient (v2) is -log_softmax, the logits' second derivative the softmax's Jacobian
    z, y = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]]), np.array([[1.0, 1.0, 0.0], [0.2, 0.3, 0.1]])
    logits, labels = tf.constant(z), tf.constant(y)
    softmax = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    losses = [tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits),
              tf.nn.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits),
              tf.losses.softmax_cross_entropy(labels, logits, reduction=tf.losses.Reduction.NONE)]
    for loss in losses:
        value, grad, hessian = _run([loss, tf.gradients(loss, logits)[0], tf.hessians(tf.reduce_sum(loss), logits)[0]])
        np.testing.assert_allclose(value, -(y * np.log(softmax)).sum(1), rtol=1e-12)
        np.testing.assert_allclose(grad, softmax - y, rtol=1e-12, atol=1e-15)
        for b in range(2):
            np.testing.assert_allclose(hessian[b, :, b], np.diag(softmax[b]) - np.outer(softmax[b], softmax[b]),
                                       atol=1e-15)
    np.testing.assert_allclose(_run(tf.gradients(losses[1], labels)[0]), -np.log(softmax), rtol=1e-12)


def test_einsum_and_tensordot_over_listed_axes_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((4, 3, 5)).astype(np.float32)
    pa, pb = tf.placeholder(tf.float32, [None, 3, 4]), tf.placeholder(tf.float32, [4, 3, 5])
    batched = tf.einsum("bij,jik->bk", pa, pb)
    dot = tf.tensordot(pa, pb, axes=[[1, 2], [1, 0]])
    with tf.Session() as sess:
        got_e, got_t = sess.run([batched, dot], {pa: a, pb: b})
    want = np.einsum("bij,jik->bk", a, b)
    np.testing.assert_allclose(got_e, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_t, want, rtol=1e-5, atol=1e-5)


def test_rounding_and_floor_division_pass_no_gradient_as_tf1():
    # TF-1 registers None as the gradient of Floor, Ceil, Round, FloorDiv and TruncateDiv (Rint's and Sign's are
    # zeros): tf.gradients of what only they read is None, and minimize finds no variable to train
    x = tf.placeholder(tf.float32, [3])
    for ungraded in (tf.floor(x), tf.ceil(x), tf.round(x), x // 2.0, tf.floordiv(x, 2.0), tf.truncatediv(x, 2.0)):
        assert tf.gradients(tf.reduce_sum(ungraded), x) == [None]
    assert tf.round(x).op.type == "Round" and tf.floor(x).op.type == "Floor"
    zero_graded = tf.gradients(tf.reduce_sum(tf.rint(x)) + tf.reduce_sum(tf.sign(x)), x)
    mixed = tf.gradients(tf.reduce_sum(tf.round(x) * x + x), x)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(zero_graded, {x: [0.4, 1.6, 2.5]})[0], [0.0, 0.0, 0.0])
        np.testing.assert_array_equal(sess.run(mixed, {x: [0.4, 1.6, 2.5]})[0], [1.0, 3.0, 3.0])
    w = tf.Variable([1.5, 2.5])
    with pytest.raises(ValueError, match="no trainable variable that the loss depends on"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(tf.round(w)))

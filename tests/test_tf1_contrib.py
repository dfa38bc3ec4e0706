"""``tf.contrib``: the slim-style layers (fully_connected, conv2d, batch_norm...) against NumPy with the weights
read back from the Session, their variable names, collections and TF-1 defaults."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

layers = tf.contrib.layers


def _names(variables) -> list:
    return [v.name for v in variables]


def _conv_nhwc(x, w, stride=1, pad=(0, 0)):
    """A plain NumPy 2-D cross-correlation (NHWC, HWIO), explicit zero padding (top/left, bottom/right equal)."""
    x = np.pad(x, ((0, 0), (pad[0], pad[0]), (pad[1], pad[1]), (0, 0)))
    kh, kw = w.shape[:2]
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return out


def test_fully_connected_defaults_relu_names_and_collections():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    h = layers.fully_connected(x, 4, biases_initializer=tf.constant_initializer(0.25))
    out = layers.fully_connected(h, 2, activation_fn=None)
    assert _names(tf.global_variables()) == ["fully_connected/weights:0", "fully_connected/biases:0",
                                             "fully_connected_1/weights:0", "fully_connected_1/biases:0"]
    assert _names(tf.get_collection(tf.GraphKeys.MODEL_VARIABLES)) == _names(tf.global_variables())
    assert _names(tf.trainable_variables()) == _names(tf.global_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        (w1, b1, w2, b2), got_h, got = sess.run(tf.global_variables()), *sess.run([h, out], {x: X})
    np.testing.assert_array_equal(b1, np.full(4, 0.25, np.float32))
    want_h = np.maximum(X @ w1 + b1, 0.0)  # the default activation is relu
    np.testing.assert_allclose(got_h, want_h, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got, want_h @ w2 + b2, rtol=1e-6, atol=1e-6)
    limit = np.sqrt(6.0 / (3 + 4))  # xavier uniform
    assert np.all(np.abs(w1) <= limit) and np.all(b2 == 0.0)


def test_fully_connected_scope_reuse_regularizers_and_outputs_collections():
    x = tf.placeholder(tf.float32, [None, 3])
    a = layers.fully_connected(x, 2, scope="fc", weights_regularizer=layers.l2_regularizer(0.5),
                               biases_regularizer=layers.l1_regularizer(0.1), outputs_collections="outs",
                               variables_collections=["mine"])
    b = layers.fully_connected(x, 2, scope="fc", reuse=True)
    assert _names(tf.global_variables()) == ["fc/weights:0", "fc/biases:0"]
    assert _names(tf.get_collection("mine")) == ["fc/weights:0", "fc/biases:0"]
    assert tf.get_collection("outs") == [a] and a.alias == "fc"
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 2
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.global_variables()[1].assign([0.5, -2.0]))
        w, bias = sess.run(tf.global_variables())
        got_a, got_b, l2, l1 = sess.run([a, b, *losses], {x: X})
    np.testing.assert_allclose(got_a, got_b)
    np.testing.assert_allclose(l2, 0.5 * np.sum(w ** 2) / 2, rtol=1e-6)
    np.testing.assert_allclose(l1, 0.1 * 2.5, rtol=1e-6)
    with pytest.raises(ValueError, match="fully_connected: reuse=True needs a scope"):
        layers.fully_connected(x, 2, reuse=True)
    with pytest.raises(ValueError, match="fully_connected: num_outputs must be a positive integer"):
        layers.fully_connected(x, 0)
    with pytest.raises(ValueError, match=r"fully_connected: .*shape \[3\]"):
        layers.fully_connected(tf.zeros([3]), 2)


def test_fully_connected_normalizer_fn_replaces_biases():
    x = tf.placeholder(tf.float32, [None, 3])
    out = layers.fully_connected(x, 4, normalizer_fn=layers.batch_norm, normalizer_params={"scale": True},
                                 biases_regularizer=layers.l2_regularizer(1.0))  # (no biases: ignored, as TF-1)
    assert _names(tf.global_variables()) == [
        "fully_connected/weights:0", "fully_connected/BatchNorm/beta:0", "fully_connected/BatchNorm/gamma:0",
        "fully_connected/BatchNorm/moving_mean:0", "fully_connected/BatchNorm/moving_variance:0"]
    assert tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES) == []
    X = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = sess.run(tf.global_variables()[0])
        got = sess.run(out, {x: X})
    z = X.astype(np.float64) @ w
    want = np.maximum((z - z.mean(0)) / np.sqrt(z.var(0) + 0.001), 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding,stride", [("SAME", 1), ("VALID", 2)])
def test_conv2d_matches_numpy(padding, stride):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2, 7, 7, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 7, 7, 3])
    out = layers.conv2d(x, 4, 3, stride=stride, padding=padding, biases_initializer=tf.constant_initializer(0.1))
    second = layers.conv2d(x, 4, [1, 1], activation_fn=None)
    assert _names(tf.global_variables()) == ["Conv/weights:0", "Conv/biases:0", "Conv_1/weights:0", "Conv_1/biases:0"]
    assert tf.global_variables()[0].shape == (3, 3, 3, 4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w, b, w2, _ = sess.run(tf.global_variables())
        got, got2 = sess.run([out, second], {x: X})
    want = np.maximum(_conv_nhwc(X, w, stride, (1, 1) if padding == "SAME" else (0, 0)) + b, 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got2, np.einsum("nhwc,co->nhwo", X, w2[0, 0]), rtol=1e-5, atol=1e-5)


def test_conv2d_errors_name_the_layer():
    x = tf.placeholder(tf.float32, [None, 7, 7, 3])
    with pytest.raises(ValueError, match="conv2d: only one of rate"):
        layers.conv2d(x, 4, 3, stride=2, rate=2)
    with pytest.raises(ValueError, match=r"conv2d: the inputs must have rank 4, got shape \[None, 3\]"):
        layers.conv2d(tf.placeholder(tf.float32, [None, 3]), 4, 3)
    with pytest.raises(ValueError, match="conv2d: padding must be 'SAME' or 'VALID'"):
        layers.conv2d(x, 4, 3, padding="full")
    with pytest.raises(ValueError, match="conv2d: data_format must be 'NHWC' or 'NCHW'"):
        layers.conv2d(x, 4, 3, data_format="channels_last")


def test_conv2d_transpose_and_pools_match_numpy():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1, 3, 3, 2)).astype(np.float32)
    x = tf.constant(X)
    up = layers.conv2d_transpose(x, 1, 2, stride=2, activation_fn=None)
    assert _names(tf.global_variables()) == ["Conv2d_transpose/weights:0", "Conv2d_transpose/biases:0"]
    assert tf.global_variables()[0].shape == (2, 2, 1, 2) and up.shape == (1, 6, 6, 1)
    Y = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
    mx, av = layers.max_pool2d(tf.constant(Y), 2), layers.avg_pool2d(tf.constant(Y), [3, 3], stride=1)
    assert mx.shape == (2, 2, 2, 3) and av.shape == (2, 3, 3, 3)  # stride 2, 'VALID' by default
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = sess.run(tf.global_variables()[0])
        got_up, got_mx, got_av = sess.run([up, mx, av])
    want_up = np.zeros((1, 6, 6, 1))
    for i in range(3):
        for j in range(3):  # stride equal to the kernel: each input pixel paints its own 2x2 block
            want_up[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0] = np.einsum("hwc,c->hw", w[:, :, 0, :], X[0, i, j])
    np.testing.assert_allclose(got_up, want_up, rtol=1e-5, atol=1e-6)
    want_mx = Y[:, :4, :4].reshape(2, 2, 2, 2, 2, 3).max(axis=(2, 4))
    np.testing.assert_allclose(got_mx, want_mx)
    want_av = np.stack([np.stack([Y[:, i:i + 3, j:j + 3].mean(axis=(1, 2)) for j in range(3)], 1) for i in range(3)],
                       1)
    np.testing.assert_allclose(got_av, want_av, rtol=1e-6, atol=1e-6)


def test_batch_norm_defaults_no_gamma_update_ops_and_bessel():
    rng = np.random.default_rng(4)
    X = rng.normal(2.0, 3.0, size=(8, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    out = layers.batch_norm(x)
    assert _names(tf.global_variables()) == ["BatchNorm/beta:0", "BatchNorm/moving_mean:0",
                                             "BatchNorm/moving_variance:0"]  # scale=False: no gamma
    assert _names(tf.trainable_variables()) == ["BatchNorm/beta:0"]
    updates = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    assert len(updates) == 2
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(out, {x: X})
        sess.run(updates, {x: X})
        mean, var = sess.run(tf.global_variables()[1:])
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(got, (X64 - X64.mean(0)) / np.sqrt(X64.var(0) + 0.001), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mean, 0.001 * X64.mean(0), rtol=1e-5)  # decay 0.999
    np.testing.assert_allclose(var, 0.999 + 0.001 * X64.var(0, ddof=1), rtol=1e-5)  # the fused kernel's Bessel


def test_batch_norm_in_place_updates_and_inference():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4, 2, 2, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 2, 2, 3])
    train = tf.placeholder(tf.bool, [])
    out = layers.batch_norm(x, decay=0.5, scale=True, updates_collections=None, is_training=train,
                            param_initializers={"gamma": tf.constant_initializer(2.0)}, scope="bn")
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    X64 = X.astype(np.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(out, {x: X, train: True})  # the updates ran with the output
        mean, var = sess.run(["bn/moving_mean:0", "bn/moving_variance:0"])
        inference = sess.run(out, {x: X, train: False})
        unchanged = sess.run(["bn/moving_mean:0", "bn/moving_variance:0"])
    axes = (0, 1, 2)
    np.testing.assert_allclose(got, 2.0 * (X64 - X64.mean(axes)) / np.sqrt(X64.var(axes) + 0.001), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(mean, 0.5 * X64.mean(axes), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(var, 0.5 + 0.5 * X64.var(axes, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(inference, 2.0 * (X64 - mean) / np.sqrt(var + 0.001), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(unchanged, [mean, var])


def test_batch_norm_refuses_what_it_cannot_do():
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(NotImplementedError, match="batch_norm: batch_weights, renorm"):
        layers.batch_norm(x, renorm=True)
    with pytest.raises(ValueError, match=r"batch_norm: unknown parameter names \['alpha'\]"):
        layers.batch_norm(x, param_initializers={"alpha": tf.zeros_initializer()})
    with pytest.raises(TypeError, match="batch_norm: is_training must be a bool"):
        layers.batch_norm(x, is_training="yes")
    with pytest.raises(ValueError, match=r"batch_norm: .*rank of 2 or more, got shape \[3\]"):
        layers.batch_norm(tf.zeros([3]))


def test_layer_norm_matches_numpy():
    rng = np.random.default_rng(6)
    X = rng.normal(1.0, 2.0, size=(3, 4, 5)).astype(np.float32)
    x = tf.constant(X)
    out = layers.layer_norm(x)
    last = layers.layer_norm(x, begin_norm_axis=-1, center=False, activation_fn=tf.nn.relu)
    assert _names(tf.global_variables()) == ["LayerNorm/beta:0", "LayerNorm/gamma:0", "LayerNorm_1/gamma:0"]
    assert tf.global_variables()[0].shape == (5,)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.global_variables()[1].assign(np.arange(5, dtype=np.float32)))
        sess.run(tf.global_variables()[0].assign(np.full(5, 0.5, np.float32)))
        got, got_last = sess.run([out, last])
    X64 = X.astype(np.float64)
    m, v = X64.mean((1, 2), keepdims=True), X64.var((1, 2), keepdims=True)
    np.testing.assert_allclose(got, (X64 - m) / np.sqrt(v + 1e-12) * np.arange(5) + 0.5, rtol=1e-5, atol=1e-5)
    m, v = X64.mean(-1, keepdims=True), X64.var(-1, keepdims=True)
    np.testing.assert_allclose(got_last, np.maximum((X64 - m) / np.sqrt(v + 1e-12), 0), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="layer_norm: begin_norm_axis must be an int in"):
        layers.layer_norm(x, begin_norm_axis=3)


def test_dropout_keep_prob_and_is_training():
    X = np.ones((200, 50), np.float32)
    x = tf.constant(X)
    train = tf.placeholder(tf.bool, [])
    out = layers.dropout(x, keep_prob=0.8, is_training=train)
    off = layers.dropout(x, is_training=False)
    with tf.Session() as sess:
        on_values, off_values, fixed = sess.run([out, out, off], {train: True})[0], sess.run(out, {train: False}), \
            sess.run(off)
    assert set(np.unique(on_values)) <= {0.0, np.float32(1 / 0.8)}
    assert abs((on_values == 0).mean() - 0.2) < 0.02
    np.testing.assert_array_equal(off_values, X)
    np.testing.assert_array_equal(fixed, X)
    with pytest.raises(ValueError, match=r"dropout: keep_prob must be a number in \(0, 1\] or a float tensor"):
        layers.dropout(x, keep_prob=0.0)


def test_dropout_with_a_fed_keep_prob():
    keep = tf.placeholder(tf.float32, [])
    out = layers.dropout(tf.ones([100, 100]), keep_prob=keep)
    with tf.Session() as sess:
        quarter, everything = sess.run(out, {keep: 0.25}), sess.run(out, {keep: 1.0})
    assert set(np.unique(quarter)) == {0.0, 4.0} and abs((quarter != 0).mean() - 0.25) < 0.03
    np.testing.assert_array_equal(everything, np.ones((100, 100)))


@pytest.mark.parametrize("mode,uniform", [("FAN_IN", False), ("FAN_AVG", True), ("FAN_OUT", False)])
def test_variance_scaling_initializer_statistics(mode, uniform):
    init = layers.variance_scaling_initializer(factor=2.0, mode=mode, uniform=uniform, seed=3)
    v = tf.get_variable("w", [3, 3, 40, 60], initializer=init)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        w = sess.run(v).astype(np.float64)
    fan_in, fan_out = 9 * 40, 9 * 60
    n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2}[mode]
    if uniform:
        limit = np.sqrt(3 * 2.0 / n)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    else:  # TF-1 contrib's: a normal of stddev sqrt(1.3 factor / n) cut at two stddevs
        sd = np.sqrt(1.3 * 2.0 / n)
        assert np.abs(w).max() <= 2 * sd
        np.testing.assert_allclose(w.std(), sd * 0.87962566103423978, rtol=0.02)
    with pytest.raises(TypeError, match="variance_scaling_initializer: mode must be"):
        layers.variance_scaling_initializer(mode="fan_in")
    with pytest.raises(TypeError, match="variance_scaling_initializer: dtype must be a floating"):
        layers.variance_scaling_initializer(dtype=tf.int32)


def test_embed_sequence_names_values_and_reuse():
    ids = tf.constant([[0, 2, 1], [3, 3, 0]])
    out = layers.embed_sequence(ids, vocab_size=4, embed_dim=2)
    again = layers.embed_sequence(ids, scope="EmbedSequence", reuse=True)
    assert _names(tf.global_variables()) == ["EmbedSequence/embeddings:0"] and out.shape == (2, 3, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        table = sess.run(tf.global_variables()[0])
        got, got_again = sess.run([out, again])
    np.testing.assert_array_equal(got, table[[[0, 2, 1], [3, 3, 0]]])
    np.testing.assert_array_equal(got_again, got)
    with pytest.raises(ValueError, match="embed_sequence: vocab_size and embed_dim are needed"):
        layers.embed_sequence(ids, vocab_size=4)


def test_missing_contrib_layer_names_an_alternative():
    with pytest.raises(AttributeError, match="tf.contrib.layers"):
        layers.no_such_layer  # noqa: B018


def test_contrib_cnn_trains_on_generated_images():
    """A small TF-1 CNN of contrib layers (conv2d, batch_norm as normalizer, max_pool2d, flatten,
    fully_connected) learns to tell horizontal from vertical bars."""
    rng = np.random.default_rng(7)
    tf.set_random_seed(7)

    def batch(n):
        images = rng.normal(0.0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
        labels = rng.integers(0, 2, n)
        for k, label in enumerate(labels):
            row = rng.integers(0, 8)
            if label:
                images[k, :, row, 0] += 1.0
            else:
                images[k, row, :, 0] += 1.0
        return images, labels

    x = tf.placeholder(tf.float32, [None, 8, 8, 1])
    y = tf.placeholder(tf.int64, [None])
    training = tf.placeholder(tf.bool, [])
    net = layers.conv2d(x, 4, 3, normalizer_fn=layers.batch_norm,
                        normalizer_params={"is_training": training, "decay": 0.9})
    net = layers.max_pool2d(net, 2)
    net = layers.flatten(net)
    net = layers.fully_connected(net, 16, weights_regularizer=layers.l2_regularizer(1e-4))
    logits = layers.fully_connected(net, 2, activation_fn=None)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits) + tf.losses.get_regularization_loss()
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    test_x, test_y = batch(200)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(100):
            bx, by = batch(32)
            sess.run(train, {x: bx, y: by, training: True})
        acc = sess.run(accuracy, {x: test_x, y: test_y, training: False})
    assert acc >= 0.95


def _rnn_numpy(X, kernel, bias):
    """BasicRNNCell over (batch, time, features): h = tanh(concat(x, h) @ kernel + bias)."""
    h = np.zeros((X.shape[0], kernel.shape[1]))
    outputs = []
    for t in range(X.shape[1]):
        h = np.tanh(np.concatenate([X[:, t], h], 1) @ kernel + bias)
        outputs.append(h)
    return np.stack(outputs, 1)


def test_dropout_wrapper_output_dropout_fresh_mask_each_step():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(20, 6, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 6, 3])
    keep = tf.placeholder(tf.float32, [])
    cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicRNNCell(8), output_keep_prob=keep)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert _names(tf.global_variables()) == ["rnn/basic_rnn_cell/kernel:0", "rnn/basic_rnn_cell/bias:0"]
    assert cell.state_size == 8 and cell.output_size == 8
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias = sess.run(tf.global_variables())
        dropped, final = sess.run([out, state], {x: X, keep: 0.5})
        plain = sess.run(out, {x: X, keep: 1.0})
    want = _rnn_numpy(X.astype(np.float64), kernel, bias)
    np.testing.assert_allclose(plain, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(final, want[:, -1], rtol=1e-5, atol=1e-6)  # the state is not dropped
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], 2.0 * want[kept], rtol=1e-5, atol=1e-6)
    assert abs(kept.mean() - 0.5) < 0.05
    assert not np.array_equal(kept[:, 0], kept[:, 1])  # a fresh mask at each step


def test_dropout_wrapper_variational_shares_one_mask():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(5, 4, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 4, 3])
    cell = tf.contrib.rnn.DropoutWrapper(tf.nn.rnn_cell.BasicRNNCell(50), output_keep_prob=0.6,
                                         variational_recurrent=True, dtype=tf.float32, seed=4)
    out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias = sess.run(tf.global_variables())
        first, second = sess.run(out, {x: X}), sess.run(out, {x: X})
    want = _rnn_numpy(X.astype(np.float64), kernel, bias)
    kept = first != 0
    assert np.all(kept == kept[:1, :1])  # one (1, units) mask for every example and step
    assert 0 < kept[0, 0].sum() < 50
    np.testing.assert_allclose(first[kept], want[kept] / 0.6, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(kept, second != 0)  # drawn afresh at each run


def test_dropout_wrapper_state_dropout_spares_lstm_memory():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(30, 1, 2)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 1, 2])
    plain_cell = tf.nn.rnn_cell.BasicLSTMCell(6, name="plain")
    plain_out, plain_state = tf.nn.dynamic_rnn(plain_cell, x, dtype=tf.float32, scope="a")
    cell = tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.BasicLSTMCell(6, name="plain"), state_keep_prob=0.5)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope="b")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for src, dst in zip(tf.global_variables(scope="a"), tf.global_variables(scope="b")):
            sess.run(dst.assign(src))
        (c0, h0), (c1, h1), o0, o1 = sess.run([plain_state, state, plain_out, out], {x: X})
    np.testing.assert_allclose(c1, c0, rtol=1e-6)  # c is never dropped
    np.testing.assert_allclose(o1, o0, rtol=1e-6)  # nor the output
    kept = h1 != 0
    np.testing.assert_allclose(h1[kept], 2.0 * h0[kept], rtol=1e-5)
    assert 0.3 < kept.mean() < 0.7


def test_dropout_wrapper_errors():
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    with pytest.raises(ValueError, match=r"DropoutWrapper: output_keep_prob must be a number in \(0, 1\]"):
        tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=0.0)
    with pytest.raises(ValueError, match="DropoutWrapper: variational_recurrent=True needs dtype"):
        tf.nn.rnn_cell.DropoutWrapper(cell, output_keep_prob=0.5, variational_recurrent=True)
    with pytest.raises(ValueError, match="DropoutWrapper: variational_recurrent=True with input dropout needs "
                                         "input_size"):
        tf.nn.rnn_cell.DropoutWrapper(cell, input_keep_prob=0.5, variational_recurrent=True, dtype=tf.float32)
    with pytest.raises(TypeError, match="DropoutWrapper: cell must be an RNN cell"):
        tf.nn.rnn_cell.DropoutWrapper("lstm")


def test_residual_and_output_projection_wrappers_match_numpy():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(3, 5, 4)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5, 4])
    residual = tf.nn.rnn_cell.ResidualWrapper(tf.nn.rnn_cell.BasicRNNCell(4))
    res_out, _ = tf.nn.dynamic_rnn(residual, x, dtype=tf.float32, scope="res")
    projected = tf.contrib.rnn.OutputProjectionWrapper(tf.nn.rnn_cell.BasicRNNCell(6), 2)
    proj_out, proj_state = tf.nn.dynamic_rnn(projected, x, dtype=tf.float32, scope="proj")
    assert _names(tf.global_variables(scope="proj")) == [
        "proj/output_projection_wrapper/basic_rnn_cell/kernel:0", "proj/output_projection_wrapper/basic_rnn_cell/"
        "bias:0", "proj/output_projection_wrapper/kernel:0", "proj/output_projection_wrapper/bias:0"]
    assert projected.output_size == 2 and projected.state_size == 6 and proj_out.shape == (None, 5, 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        rk, rb = sess.run(tf.global_variables(scope="res"))
        pk, pb, wk, wb = sess.run(tf.global_variables(scope="proj"))
        got_res, got_proj, got_state = sess.run([res_out, proj_out, proj_state], {x: X})
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(got_res, X64 + _rnn_numpy(X64, rk, rb), rtol=1e-5, atol=1e-6)
    hidden = _rnn_numpy(X64, pk, pb)
    np.testing.assert_allclose(got_proj, hidden @ wk + wb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_state, hidden[:, -1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"ResidualWrapper: the inputs \(shape \[None, 4\]\) and the cell's output"):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.ResidualWrapper(tf.nn.rnn_cell.BasicRNNCell(3)), x, dtype=tf.float32,
                          scope="bad")
    with pytest.raises(ValueError, match="OutputProjectionWrapper: output_size must be a positive integer"):
        tf.contrib.rnn.OutputProjectionWrapper(tf.nn.rnn_cell.BasicRNNCell(6), 0)


def test_wrapped_cells_in_a_multi_rnn_cell_keep_tf1_names():
    x = tf.placeholder(tf.float32, [None, 3, 2])
    cells = [tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(3), output_keep_prob=0.9) for _ in range(2)]
    tf.nn.dynamic_rnn(tf.nn.rnn_cell.MultiRNNCell(cells), x, dtype=tf.float32)
    assert _names(tf.global_variables())[::4] == ["rnn/multi_rnn_cell/cell_0/gru_cell/gates/kernel:0",
                                                  "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel:0"]


def test_arg_scope_sets_contrib_layer_defaults():
    framework = tf.contrib.framework
    x = tf.placeholder(tf.float32, [None, 4, 4, 2])
    with framework.arg_scope([layers.conv2d, layers.fully_connected], activation_fn=None,
                             weights_initializer=tf.constant_initializer(0.5)) as outer:
        with framework.arg_scope([layers.conv2d], padding="VALID"):
            conv = layers.conv2d(x, 3, 3)
            assert framework.current_arg_scope()[layers.conv2d._key_op]["padding"] == "VALID"
        same = layers.conv2d(x, 3, 3)
        dense = layers.fully_connected(layers.flatten(same), 2, activation_fn=tf.nn.relu)  # the call's wins
    with framework.arg_scope(outer):
        reopened = layers.fully_connected(layers.flatten(same), 2)
    plain = layers.fully_connected(layers.flatten(same), 2)
    assert conv.shape == (None, 2, 2, 3) and same.shape == (None, 4, 4, 3)
    X = -np.ones((1, 4, 4, 2), np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_conv, got_dense, got_reopened, weights = sess.run([conv, dense, reopened, "fully_connected_2/weights:0"],
                                                              {x: X})
    np.testing.assert_allclose(got_conv, np.full((1, 2, 2, 3), -9.0))  # no relu, 0.5 weights
    np.testing.assert_array_equal(got_dense, np.zeros((1, 2)))  # relu of negative sums
    assert np.all(got_reopened < 0)  # the reopened scope: no activation
    assert not np.all(weights == 0.5)  # outside: xavier again
    with pytest.raises(ValueError, match="arg_scope: 'dense' is not decorated with @add_arg_scope"):
        with framework.arg_scope([tf.layers.dense], units=3):
            pass
    del plain


def test_framework_variable_lookups():
    framework = tf.contrib.framework
    x = tf.placeholder(tf.float32, [None, 3])
    with tf.variable_scope("encoder"):
        layers.fully_connected(x, 4)
    with tf.variable_scope("head"):
        layers.fully_connected(x, 2)
    tf.Variable(0, name="counter", trainable=False)
    assert _names(framework.get_variables("encoder")) == ["encoder/fully_connected/weights:0",
                                                          "encoder/fully_connected/biases:0"]
    assert _names(framework.get_variables(suffix="weights")) == ["encoder/fully_connected/weights:0",
                                                                 "head/fully_connected/weights:0"]
    assert _names(framework.get_variables_by_name("biases", scope="head")) == ["head/fully_connected/biases:0"]
    assert len(framework.get_model_variables()) == 4 and len(framework.get_trainable_variables()) == 4
    assert _names(framework.get_variables_to_restore(exclude=["head"])) == [
        "encoder/fully_connected/weights:0", "encoder/fully_connected/biases:0", "counter:0"]
    assert _names(framework.get_variables_to_restore(include=["head"])) == ["head/fully_connected/weights:0",
                                                                            "head/fully_connected/biases:0"]
    with pytest.raises(TypeError, match="get_variables_to_restore: exclude must be a list"):
        framework.get_variables_to_restore(exclude="head")


def _adam_numpy(w, grad_fn, steps, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        g = grad_fn(w)  # at the undecayed weights
        w = w - wd(t) * w
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        w = w - lr(t) * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return w


def test_adamw_optimizer_decays_then_steps_as_tf1():
    target = np.array([1.0, -2.0, 3.0])
    w = tf.Variable(np.array([0.5, 0.5, 0.5], np.float32))
    loss = tf.reduce_sum(tf.square(w - target.astype(np.float32)))
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.1, step, 1, 0.9)  # a schedule: decayed each step
    opt = tf.contrib.opt.AdamWOptimizer(weight_decay=0.01 * lr / 0.1, learning_rate=lr)
    train = opt.minimize(loss, global_step=step)
    assert _names(opt.variables())[:2] == ["beta1_power:0", "beta2_power:0"]
    assert opt.get_slot(w, "m").name == "Variable/AdamW:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            sess.run(train)
        got = sess.run(w)
    want = _adam_numpy(np.full(3, 0.5), lambda v: 2 * (v - target), 5, lambda t: 0.1 * 0.9 ** (t - 1),
                       lambda t: 0.01 * 0.9 ** (t - 1))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)  # (float32 steps)
    plain = _adam_numpy(np.full(3, 0.5), lambda v: 2 * (v - target), 5, lambda t: 0.1 * 0.9 ** (t - 1),
                        lambda t: 0.0)
    assert np.abs(want - plain).max() > 1e-3  # the decay did something


def test_adamw_optimizer_apply_gradients_and_decay_var_list():
    w = tf.Variable(np.ones(2, np.float32))
    b = tf.Variable(np.zeros(1, np.float32))
    loss = tf.reduce_sum(w * 3.0) + tf.reduce_sum(b)
    opt = tf.contrib.opt.AdamWOptimizer(0.5, learning_rate=0.0 + 1e-3)
    train = opt.apply_gradients(opt.compute_gradients(loss), decay_var_list=[w, b])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        got = sess.run(w)
    np.testing.assert_allclose(got, 0.5 - 1e-3 * np.sqrt(1 - 0.999) / (1 - 0.9) * 0.3 / (np.sqrt(0.009) + 1e-8),
                               rtol=1e-5)
    with pytest.raises(ValueError, match="weight_decay must be non-negative"):
        tf.contrib.opt.AdamWOptimizer(-0.1)


def _regression(seed=0):
    """A linear model's float64 data, weights and bias, and its loss (a tf Tensor) over variables w and bias."""
    rng = np.random.default_rng(seed)
    x, y, w0, b0 = rng.normal(size=(8, 3)), rng.normal(size=(8, 2)), rng.normal(size=(3, 2)), rng.normal(size=2)
    w, b = tf.Variable(w0, name="w"), tf.Variable(b0, name="bias")
    loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(x), w) + b - y))
    grads = lambda w, b: (2 * x.T @ (x @ w + b - y), 2 * (x @ w + b - y).sum(0))  # noqa: E731
    return (w, b), (w0, b0), loss, grads


@pytest.mark.parametrize("how", ["minimize", "apply_gradients"])
def test_adamw_decay_var_list_spares_the_other_variables(how):
    (w, b), (w_np, b_np), loss, grads = _regression()
    step = tf.train.get_or_create_global_step()
    opt = tf.contrib.opt.AdamWOptimizer(tf.train.exponential_decay(0.05, step, 1, 0.5), learning_rate=0.01)
    no_bias = [v for v in tf.trainable_variables() if "bias" not in v.name]  # (TF-1's usual pattern)
    train = opt.minimize(loss, global_step=step, decay_var_list=no_bias) if how == "minimize" else \
        opt.apply_gradients(opt.compute_gradients(loss), global_step=step, decay_var_list=no_bias)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train)
        got_w, got_b = sess.run([w, b])
    m, v = [np.zeros_like(w_np), np.zeros_like(b_np)], [np.zeros_like(w_np), np.zeros_like(b_np)]
    for t in range(1, 5):
        params = [w_np, b_np]
        g = grads(*params)  # at the undecayed weights
        params[0] = params[0] - 0.05 * 0.5 ** (t - 1) * params[0]  # only w decays
        for i in range(2):
            m[i], v[i] = 0.9 * m[i] + 0.1 * g[i], 0.999 * v[i] + 0.001 * g[i] ** 2
            params[i] = params[i] - 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m[i] / (np.sqrt(v[i]) + 1e-8)
        w_np, b_np = params
    # (to float32 rounding: the schedule's decay and TF-1's beta powers are float32)
    np.testing.assert_allclose(got_w, w_np, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_b, b_np, rtol=1e-5, atol=1e-6)  # (decayed, it would be about 5% smaller)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentumw_and_extend_with_decoupled_weight_decay(nesterov):
    (w, b), (w_np, b_np), loss, grads = _regression(1)
    momentum_w = tf.contrib.opt.extend_with_decoupled_weight_decay(tf.train.MomentumOptimizer)
    trains = [tf.contrib.opt.MomentumWOptimizer(0.03, 0.01, 0.9, use_nesterov=nesterov).minimize(loss,
                                                                                                decay_var_list=[w]),
              momentum_w(0.03, 0.01, 0.9, use_nesterov=nesterov).minimize(loss, decay_var_list=[w])]
    accum = [np.zeros_like(w_np), np.zeros_like(b_np)]
    for _ in range(4):
        g = grads(w_np, b_np)
        w_np = w_np - 0.03 * w_np
        params = [w_np, b_np]
        for i in range(2):
            accum[i] = 0.9 * accum[i] + g[i]
            params[i] = params[i] - 0.01 * (g[i] + 0.9 * accum[i] if nesterov else accum[i])
        w_np, b_np = params
    for train in trains:
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(4):
                sess.run(train)
            got_w, got_b = sess.run([w, b])
        np.testing.assert_allclose(got_w, w_np, rtol=1e-12)
        np.testing.assert_allclose(got_b, b_np, rtol=1e-12)
    assert trains[0].optimizer.get_slot(w, "momentum").name == "w/MomentumW:0"


@pytest.mark.parametrize("cls", ["AdamW", "MomentumW"])
def test_decoupled_weight_decay_of_an_embedding_decays_the_rows_looked_up(cls):
    rng = np.random.default_rng(2)
    e_np, w_np, ids = rng.normal(size=(6, 3)), rng.normal(size=3), np.array([1, 4, 1, 2])
    e0 = e_np.copy()
    e, w = tf.Variable(e_np, name="emb"), tf.Variable(w_np, name="w")
    loss = tf.reduce_sum(tf.square(tf.reduce_sum(tf.nn.embedding_lookup(e, ids) * w, axis=1) - 1.0))
    opt = tf.contrib.opt.AdamWOptimizer(0.1, 0.01) if cls == "AdamW" else \
        tf.contrib.opt.MomentumWOptimizer(0.1, 0.01, 0.9)
    train = opt.minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
        got_e, got_w = sess.run([e, w])
    slots = [[np.zeros_like(e_np), np.zeros_like(w_np)] for _ in range(2)]
    for t in range(1, 4):
        r = (e_np[ids] * w_np).sum(1) - 1.0
        g_e, g_w = np.zeros_like(e_np), 2 * (r[:, None] * e_np[ids]).sum(0)
        np.add.at(g_e, ids, 2 * r[:, None] * w_np)
        e_np, w_np = e_np.copy(), w_np - 0.1 * w_np
        e_np[[1, 2, 4]] -= 0.1 * e_np[[1, 2, 4]]  # TF-1: only the rows looked up decay, once each
        params = [e_np, w_np]
        for i, g in enumerate([g_e, g_w]):
            m, v = slots[0][i], slots[1][i]
            if cls == "AdamW":
                m[...], v[...] = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
                params[i] = params[i] - 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (np.sqrt(v) + 1e-8)
            else:  # (TF-1's lazy momentum: the accumulators of rows not looked up are left alone)
                rows = slice(None) if i else [1, 2, 4]
                m[rows] = 0.9 * m[rows] + g[rows]
                params[i] = params[i] - 0.01 * m
        e_np, w_np = params
    np.testing.assert_allclose(got_e, e_np, rtol=1e-5, atol=1e-6)  # (TF-1's float32 beta powers)
    np.testing.assert_allclose(got_w, w_np, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got_e[[0, 3, 5]], e0[[0, 3, 5]])


def test_decoupled_weight_decay_errors():
    (w, b), _, loss, _ = _regression()
    opt = tf.contrib.opt.AdamWOptimizer(0.1)
    with pytest.raises(TypeError, match=r"AdamWOptimizer: decay_var_list must hold tf.Variables, got <tf.Tensor"):
        opt.minimize(loss, decay_var_list=[w, w + 1.0])
    with pytest.raises(TypeError, match=r"AdamWOptimizer: decay_var_list must hold tf.Variables, got 'w'"):
        opt.apply_gradients(opt.compute_gradients(loss), decay_var_list=["w"])
    with pytest.raises(TypeError, match=r"AdamWOptimizer: decay_var_list must be a list of tf.Variables"):
        opt.minimize(loss, decay_var_list=w)
    with pytest.raises(TypeError, match="MomentumWOptimizer: weight_decay must be a number or a scalar tensor"):
        tf.contrib.opt.MomentumWOptimizer(lambda: 0.1, 0.1, 0.9)
    with pytest.raises(TypeError, match="base_optimizer must be a tf.train.Optimizer class, got 3"):
        tf.contrib.opt.extend_with_decoupled_weight_decay(3)


def test_hparams_parse_set_values():
    hp = tf.contrib.training.HParams(learning_rate=0.1, layers=[64, 32], use_bn=True, name="mlp", steps=100)
    assert hp.learning_rate == 0.1 and hp.layers == [64, 32]
    assert hp.parse("learning_rate=0.5, layers=[8,4,2],use_bn=false,name=cnn, steps=7") is hp
    assert hp.values() == {"learning_rate": 0.5, "layers": [8, 4, 2], "use_bn": False, "name": "cnn", "steps": 7}
    hp.set_hparam("learning_rate", 1)  # an int is a float, as TF-1 casts it
    assert hp.learning_rate == 1.0 and type(hp.learning_rate) is float
    hp.add_hparam("dropout", 0.2)
    assert "dropout" in hp and hp.get("dropout") == 0.2 and hp.get("missing", 3) == 3
    with pytest.raises(ValueError, match="could not cast hparam 'steps' of type int from value 0.5"):
        hp.set_hparam("steps", 0.5)
    with pytest.raises(ValueError, match="could not parse hparam 'steps' of type int from '2.5'"):
        hp.parse("steps=2.5")
    with pytest.raises(ValueError, match="unknown hyperparameter type for batch"):
        hp.parse("batch=3")
    with pytest.raises(ValueError, match="multiple assignments to variable 'steps'"):
        hp.parse("steps=1,steps=2")
    with pytest.raises(ValueError, match="must pass a list for multi-valued parameter: layers"):
        hp.parse("layers=3")
    with pytest.raises(ValueError, match="name is reserved or already used: parse"):
        hp.add_hparam("parse", 1)
    with pytest.raises(ValueError, match="could not cast hparam 'use_bn' of type bool from value 1"):
        hp.set_hparam("use_bn", 1)

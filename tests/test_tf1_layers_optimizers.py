"""TF-1 layer objects and 1-D/transposed layers, Adadelta/Ftrl, ExponentialMovingAverage."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(0)


def test_layer_objects_share_their_variables_between_calls():
    x = tf.placeholder(tf.float32, [None, 4])
    layer = tf.layers.Dense(3, activation=tf.nn.relu)
    other = tf.layers.Dense(3)
    a, b, c = layer(x), layer(x * 2.0), other(x)
    assert layer.name == "dense" and other.name == "dense_1"
    assert [v.name for v in layer.variables] == ["dense/kernel:0", "dense/bias:0"]
    assert layer.kernel is layer.trainable_variables[0]
    assert len(tf.trainable_variables()) == 4
    data = RNG.normal(size=(5, 4)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias = sess.run([layer.kernel, layer.bias])
        np.testing.assert_allclose(sess.run(a, {x: data}), np.maximum(data @ kernel + bias, 0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sess.run(b, {x: data}), np.maximum(2 * data @ kernel + bias, 0), rtol=1e-5,
                                   atol=1e-6)
        assert not np.allclose(sess.run(c, {x: data}), sess.run(a, {x: data}))
    with pytest.raises(AttributeError, match="no attribute 'gamma'"):
        _ = layer.gamma


def test_layer_objects_for_a_small_convnet():
    images = tf.placeholder(tf.float32, [None, 8, 8, 1])
    training = tf.placeholder_with_default(False, [])
    net = tf.layers.Conv2D(4, 3, padding="same", activation=tf.nn.relu)(images)
    net = tf.layers.BatchNormalization()(net, training=training)
    net = tf.layers.MaxPooling2D(2, 2)(net)
    net = tf.layers.Flatten()(net)
    net = tf.layers.Dropout(0.5)(net, training=training)
    logits = tf.layers.Dense(2)(net)
    assert logits.shape.as_list() == [None, 2]
    names = sorted(v.name for v in tf.global_variables())
    assert "batch_normalization/moving_mean:0" in names and "conv2d/kernel:0" in names
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run(logits, {images: RNG.normal(size=(3, 8, 8, 1)).astype(np.float32)})
        assert out.shape == (3, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv1d_and_pooling1d_layers(padding):
    x = tf.placeholder(tf.float32, [None, 10, 2])
    y = tf.layers.conv1d(x, 3, 3, strides=1, padding=padding, name="c")
    pooled = tf.layers.max_pooling1d(y, 2, 2)
    averaged = tf.layers.AveragePooling1D(2, 2)(y)
    data = RNG.normal(size=(2, 10, 2)).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias, out, mx, av = sess.run(["c/kernel:0", "c/bias:0", y, pooled, averaged], {x: data})
    padded = np.pad(data, ((0, 0), (1, 1), (0, 0))) if padding == "same" else data
    expected = np.stack([np.einsum("nkc,kcf->nf", padded[:, i:i + 3], kernel) for i in range(padded.shape[1] - 2)],
                        axis=1) + bias
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    n = out.shape[1] // 2
    np.testing.assert_allclose(mx, out[:, :2 * n].reshape(2, n, 2, 3).max(2), rtol=1e-6)
    np.testing.assert_allclose(av, out[:, :2 * n].reshape(2, n, 2, 3).mean(2), rtol=1e-5)


@pytest.mark.parametrize("padding,expected", [("same", 8), ("valid", 9)])
def test_conv2d_transpose_layer_shapes_and_values(padding, expected):
    x = tf.placeholder(tf.float32, [None, 4, 4, 2])
    y = tf.layers.conv2d_transpose(x, 3, 3, strides=2, padding=padding, name="up")
    assert y.shape.as_list() == [None, expected, expected, 3]
    data = RNG.normal(size=(1, 4, 4, 2)).astype(np.float32)
    out, full = _transposed_and_reference(y, x, data, stride=2)
    # SAME with stride 2 and kernel 3 pads one row after the image: the output is the first 8 rows
    np.testing.assert_allclose(out, full[:, :expected, :expected], rtol=1e-5, atol=1e-5)


def _transposed_and_reference(y, x, data, stride: int) -> tuple:
    """The layer "up"'s output for ``data`` and the full transposed convolution of its kernel (plus its bias): each
    input pixel's kernel-sized patch added at stride ``stride``."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, bias, out = sess.run(["up/kernel:0", "up/bias:0", y], {x: data})
    size, k = data.shape[1], kernel.shape[0]
    full = np.zeros((1, (size - 1) * stride + max(k, stride), (size - 1) * stride + max(k, stride), kernel.shape[2]),
                    np.float32)
    for i in range(size):
        for j in range(size):
            full[:, stride * i:stride * i + k, stride * j:stride * j + k] += np.einsum("nc,hwfc->nhwf",
                                                                                       data[:, i, j], kernel)
    return out, full + bias


def _step_with(optimizer_tf, torch_factory, steps=5):
    torch = pytest.importorskip("torch")
    w0 = RNG.normal(size=(3, 2)).astype(np.float32)
    data = RNG.normal(size=(4, 3)).astype(np.float32)
    w = tf.Variable(w0)
    loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(data), w)))
    train = optimizer_tf.minimize(loss)
    wt = torch.tensor(w0, requires_grad=True)
    opt = torch_factory([wt])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train)
            opt.zero_grad()
            ((torch.tensor(data) @ wt) ** 2).sum().backward()
            opt.step()
        return sess.run(w), wt.detach().numpy()


def test_adadelta_matches_torch_with_tf_defaults():
    torch = pytest.importorskip("torch")
    got, expected = _step_with(tf.train.AdadeltaOptimizer(1.0, rho=0.95, epsilon=1e-8),
                               lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.95, eps=1e-8))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_ftrl_follows_the_ftrl_proximal_update():
    w0 = np.array([0.5, -0.3], np.float32)
    g = np.array([0.2, -0.1], np.float32)
    w = tf.Variable(w0)
    loss = tf.reduce_sum(w * g)  # a constant gradient g
    train = tf.train.FtrlOptimizer(0.1, l1_regularization_strength=0.01, l2_regularization_strength=0.02).minimize(loss)
    accum, linear, var = np.full(2, 0.1), np.zeros(2), w0.astype(np.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train)
            new_accum = accum + g * g
            linear += g - (np.sqrt(new_accum) - np.sqrt(accum)) / 0.1 * var
            quadratic = np.sqrt(new_accum) / 0.1 + 2 * 0.02
            var = np.where(np.abs(linear) > 0.01, (np.sign(linear) * 0.01 - linear) / quadratic, 0.0)
            accum = new_accum
        np.testing.assert_allclose(sess.run(w), var, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="learning_rate_power"):
        tf.train.FtrlOptimizer(0.1, learning_rate_power=0.5)


def test_exponential_moving_average_after_the_training_step():
    w = tf.Variable([1.0, 2.0])
    loss = tf.reduce_sum(w * tf.constant([1.0, -1.0]))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    ema = tf.train.ExponentialMovingAverage(0.9)
    with tf.control_dependencies([train]):
        step = ema.apply([w])
    shadow = ema.average(w)
    assert shadow.name == "Variable/ExponentialMovingAverage:0" and not shadow.trainable
    expected_w, expected_s = np.array([1.0, 2.0]), np.array([1.0, 2.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(step)
            expected_w = expected_w - 0.5 * np.array([1.0, -1.0])
            expected_s = expected_s - 0.1 * (expected_s - expected_w)  # the average reads the updated weights
        np.testing.assert_allclose(sess.run(w), expected_w, rtol=1e-6)
        np.testing.assert_allclose(sess.run(shadow), expected_s, rtol=1e-6)
    restore = ema.variables_to_restore()
    assert restore == {"Variable/ExponentialMovingAverage": w}


def test_variables_to_restore_maps_the_trainable_and_the_listed_variables_to_their_averages_as_tf():
    a, b = tf.Variable(1.0, name="a"), tf.Variable(2.0, name="b")
    c = tf.Variable(3.0, name="c", trainable=False)
    ema = tf.train.ExponentialMovingAverage(0.9)
    ema.apply([a])
    shadow = ema.average(a)
    # default: the trainable variables (applied or not) and the averaged ones restore from their averages
    assert ema.variables_to_restore() == {"a/ExponentialMovingAverage": a, "b/ExponentialMovingAverage": b, "c": c}
    # moving_avg_variables: only those do; the others (a's shadow too) restore their own values
    assert ema.variables_to_restore([b]) == {"b/ExponentialMovingAverage": b, "a": a, "c": c,
                                             "a/ExponentialMovingAverage": shadow}


def test_reading_an_average_made_under_control_dependencies_runs_no_training_step():
    # the shadow was made under control_dependencies([train]): each read of it ran a step (global step 1, 3, 5...)
    w = tf.Variable([1.0, 2.0])
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w * w), global_step=step)
    ema = tf.train.ExponentialMovingAverage(0.9, num_updates=step)
    with tf.control_dependencies([train]):
        update = ema.apply([w])
    shadow = ema.average(w)
    expected_w, expected_s = np.array([1.0, 2.0]), np.array([1.0, 2.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for n in range(1, 4):
            sess.run(update)
            expected_w = expected_w - 0.1 * 2 * expected_w
            decay = min(0.9, (1 + n) / (10 + n))  # num_updates read after the step
            expected_s = expected_s - (1 - decay) * (expected_s - expected_w)
            np.testing.assert_allclose(sess.run(shadow), expected_s, rtol=1e-6)
            assert sess.run(step) == n
            np.testing.assert_allclose(sess.run(w), expected_w, rtol=1e-6)


def test_exponential_moving_average_with_num_updates():
    w = tf.Variable(0.0)
    ema = tf.train.ExponentialMovingAverage(0.99, num_updates=tf.constant(0))
    update = ema.apply([w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign(1.0))
        sess.run(update)
        np.testing.assert_allclose(sess.run(ema.average(w)), 1.0 - 0.1, rtol=1e-6)  # decay min(0.99, 1/10)


def test_flatten_channels_first_moves_the_channels_last_first():
    # TF-1's Flatten transposes a channels_first input to channels-last before flattening; the format was ignored
    x = tf.placeholder(tf.float32, [None, 2, 3, 4])
    y = tf.layers.flatten(x, data_format="channels_first")
    z = tf.layers.Flatten(data_format="channels_first")(tf.placeholder(tf.float32, [None, 5]))
    assert y.shape.as_list() == [None, 24] and z.shape.as_list() == [None, 5]
    data = RNG.normal(size=(2, 2, 3, 4)).astype(np.float32)
    with tf.Session() as sess:
        out = sess.run(y, {x: data})
    np.testing.assert_array_equal(out, data.transpose(0, 2, 3, 1).reshape(2, 24))
    with pytest.raises(ValueError, match="tf.layers.flatten: data_format"):
        tf.layers.flatten(x, data_format="NCHW")


def test_conv2d_transpose_layer_valid_with_a_kernel_smaller_than_the_stride():
    # TF's 'valid' size is size * stride + max(kernel - stride, 0): 9, not (3 - 1) * 3 + 2 = 8
    x = tf.placeholder(tf.float32, [None, 3, 3, 2])
    y = tf.layers.conv2d_transpose(x, 1, 2, strides=3, padding="valid", name="up")
    assert y.shape.as_list() == [None, 9, 9, 1]
    out, full = _transposed_and_reference(y, x, RNG.normal(size=(1, 3, 3, 2)).astype(np.float32), stride=3)
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-5)


def test_minimize_and_compute_gradients_refuse_a_misspelled_argument_and_take_tfs_own():
    # a misspelled var_list was swallowed, and every trainable variable trained
    w, v = tf.Variable(1.0), tf.Variable(2.0)
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(TypeError, match="varlist"):
        opt.minimize(w * v, varlist=[w])
    with pytest.raises(TypeError, match="global_step"):
        opt.compute_gradients(w * v, global_step=None)
    train = opt.minimize(w * v, var_list=[w], gate_gradients=tf.train.Optimizer.GATE_NONE, aggregation_method=None,
                         colocate_gradients_with_ops=True, name="step")
    pairs = opt.compute_gradients(w * v, [v], tf.train.Optimizer.GATE_GRAPH)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        assert sess.run([w, v]) == pytest.approx([0.8, 2.0])
        assert sess.run(pairs[0][0]) == pytest.approx(0.8)


@pytest.mark.parametrize("num_updates", [None, 3])
def test_exponential_moving_average_takes_a_tensor_decay_as_tf(num_updates):
    # a tensor decay was a TypeError from float()
    w = tf.Variable([1.0, 2.0])
    rate = tf.placeholder(tf.float32, [])
    ema = tf.train.ExponentialMovingAverage(rate, num_updates=num_updates)
    update = ema.apply([w])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(w, [3.0, 6.0]))
        sess.run(update, {rate: 0.5})
        decay = 0.5 if num_updates is None else min(0.5, 4 / 13)
        np.testing.assert_allclose(sess.run(ema.average(w)), np.array([1.0, 2.0]) + (1 - decay) * np.array([2.0, 4.0]),
                                   rtol=1e-6)


def test_an_optimizer_subclass_with_tfs_hooks_is_refused_not_run_as_its_base():
    # a GradientDescentOptimizer subclass's _apply_dense was silently not called (the base's step ran); a direct
    # subclass of tf.train.Optimizer failed with "the first argument must be callable"
    class Doubled(tf.train.GradientDescentOptimizer):
        def _apply_dense(self, grad, var):
            return tf.assign_sub(var, 2 * self._learning_rate * grad)

    class Own(tf.train.Optimizer):
        def __init__(self, use_locking=False, name="Own"):
            super().__init__(name=name)

    w = tf.Variable([1.0, 2.0])
    loss = tf.reduce_sum(w * w)
    for opt in (Doubled(0.1), Own()):
        with pytest.raises(NotImplementedError, match=f"{type(opt).__name__}: .*_apply_dense"):
            opt.minimize(loss)
        with pytest.raises(NotImplementedError, match=type(opt).__name__):
            opt.apply_gradients([(tf.ones([2]), w)])


def test_moving_averages_of_tensors_in_the_batch_norm_pattern():
    # the well-known TF-1 batch norm: the batch moments' averages, updated only in training runs (apply on tensors
    # was a TypeError: "is not a tf.Variable")
    x = tf.placeholder(tf.float32, [None, 3])
    training = tf.placeholder(tf.bool, [])
    batch_mean, batch_var = tf.nn.moments(x, [0])
    ema = tf.train.ExponentialMovingAverage(decay=0.5)

    def mean_var_with_update():
        with tf.control_dependencies([ema.apply([batch_mean, batch_var])]):
            return tf.identity(batch_mean), tf.identity(batch_var)

    mean, var = tf.cond(training, mean_var_with_update, lambda: (ema.average(batch_mean), ema.average(batch_var)))
    out = tf.nn.batch_normalization(x, mean, var, None, None, 1e-3)
    assert ema.average(batch_mean).name == "moments/mean/ExponentialMovingAverage:0"
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(out, {x: data, training: True})
        np.testing.assert_allclose(sess.run(ema.average(batch_mean)), 0.5 * data.mean(0))  # from zeros
        np.testing.assert_allclose(sess.run(ema.average(batch_var)), 0.5 * data.var(0))
        evaluated = sess.run(out, {x: data + 100.0, training: False})
        np.testing.assert_allclose(sess.run(ema.average(batch_mean)), 0.5 * data.mean(0))  # not moved
        np.testing.assert_allclose(evaluated, (data + 100.0 - 0.5 * data.mean(0)) / np.sqrt(0.5 * data.var(0) + 1e-3),
                                   rtol=1e-5)


def test_zero_debiased_moving_average_of_a_tensor():
    t = tf.placeholder(tf.float64, [2])
    w = tf.Variable([1.0, 1.0], dtype=tf.float64)
    ema = tf.train.ExponentialMovingAverage(0.9, zero_debias=True)  # (was a NotImplementedError)
    update = ema.apply([t, w])
    biased, decay = np.zeros(2), float(np.float32(0.9))  # (TF-1 takes a number decay as float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for k, value in enumerate([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], start=1):
            sess.run(update, {t: value})
            biased -= (biased - np.array(value)) * (1 - decay)
            np.testing.assert_allclose(sess.run(ema.average(t)), biased / (1 - decay**k), rtol=1e-12)
            np.testing.assert_allclose(sess.run(ema.average(w)), [1.0, 1.0])  # a variable's is not debiased
    names = [v.name for v in tf.global_variables()]
    assert "Placeholder/ExponentialMovingAverage/biased:0" in names
    assert "Placeholder/ExponentialMovingAverage/local_step:0" in names
    with pytest.raises(ValueError, match="the shape of Placeholder_1:0 must be fully known"):
        ema.apply([tf.placeholder(tf.float32, [None])])
    with pytest.raises(TypeError, match="has dtype int32; it must be float"):
        ema.apply([tf.placeholder(tf.int32, [2])])

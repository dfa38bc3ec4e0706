"""TF-1 training idioms: transformed gradients through apply_gradients, tensor learning rates and their decays,
control dependencies with batch normalization's UPDATE_OPS, loss collections and regularizers."""

import math

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def _regression(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    Y = X @ np.array([[1.0], [2.0], [-1.0]], np.float32) + 0.5
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(tf.zeros([3, 1]))
    b = tf.Variable(tf.zeros([1]))
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    return X, Y, x, y, w, b, loss


def _numpy_grads(X, Y, W, B):
    r = X @ W + B - Y
    return 2 * X.T @ r / len(X), 2 * r.mean(0)


def test_clip_by_global_norm_then_apply_gradients_matches_numpy():
    X, Y, x, y, w, b, loss = _regression()
    step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.1, step, 10, 0.5, staircase=True)
    opt = tf.train.GradientDescentOptimizer(lr)
    grads, variables = zip(*opt.compute_gradients(loss))
    clipped, norm = tf.clip_by_global_norm(list(grads), 1.0)
    train = opt.apply_gradients(zip(clipped, variables), global_step=step)
    W, B = np.zeros((3, 1), np.float64), np.zeros(1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(25):
            gw, gb = _numpy_grads(X, Y, W, B)
            n = math.sqrt((gw ** 2).sum() + (gb ** 2).sum())
            factor = min(1.0, 1.0 / n)
            rate = 0.1 * 0.5 ** (i // 10)
            _, got_norm, got_lr = sess.run([train, norm, lr], {x: X, y: Y})
            assert got_norm == pytest.approx(n, rel=1e-4)
            assert got_lr == pytest.approx(rate, rel=1e-6)
            W -= rate * factor * gw
            B -= rate * factor * gb
        np.testing.assert_allclose(sess.run(w), W, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(sess.run(b), B, rtol=1e-4, atol=1e-6)
        assert sess.run(step) == 25


def test_scaled_gradients_and_none_gradients():
    X, Y, x, y, w, b, loss = _regression()
    opt = tf.train.GradientDescentOptimizer(0.05)
    pairs = opt.compute_gradients(loss)
    # half the weight gradient, and no gradient for b: b stays where it is
    train = opt.apply_gradients([(g * 0.5, v) if v is w else (None, v) for g, v in pairs])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: X, y: Y})
        gw, _ = _numpy_grads(X, Y, np.zeros((3, 1)), np.zeros(1))
        np.testing.assert_allclose(sess.run(w), -0.05 * 0.5 * gw, rtol=1e-5)
        assert sess.run(b)[0] == 0.0


def test_apply_gradients_applies_each_gradient_to_the_variable_it_is_paired_with():
    # gradients of compute_gradients paired with other variables, or taken with stop_gradients, were taken
    # again for the variables as minimize would (the paired gradient and the stop ignored)
    a, b = tf.Variable([1.0, 2.0]), tf.Variable([10.0, 20.0])
    loss = tf.reduce_sum(a * a) + tf.reduce_sum(3.0 * b)
    opt = tf.train.GradientDescentOptimizer(0.1)
    (ga, _), (gb, _) = opt.compute_gradients(loss, [a, b])
    swapped = opt.apply_gradients([(gb, a), (ga, b)])
    fast, slow = tf.Variable([5.0, 7.0]), tf.Variable([1.0, 2.0])
    (g_fast, _), = opt.compute_gradients(tf.reduce_sum(fast * fast) + tf.reduce_sum(slow), [fast])
    to_slow = opt.apply_gradients([(g_fast, slow)])
    w = tf.Variable([1.0, 2.0])
    h = w * w
    g_stopped, = tf.gradients(tf.reduce_sum(h * w), [w], stop_gradients=[h])  # w^2, not 3 w^2
    stopped = opt.apply_gradients([(g_stopped, w)])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([swapped, to_slow, stopped])
        np.testing.assert_allclose(sess.run(a), [0.7, 1.7], rtol=1e-6)
        np.testing.assert_allclose(sess.run(b), [9.8, 19.6], rtol=1e-6)
        np.testing.assert_allclose(sess.run(slow), [0.0, 0.6], atol=1e-6)
        np.testing.assert_allclose(sess.run(fast), [5.0, 7.0])
        np.testing.assert_allclose(sess.run(w), [0.9, 1.6], rtol=1e-6)


def test_apply_gradients_refuses_mismatched_shapes_and_empty_lists():
    X, Y, x, y, w, b, loss = _regression()
    opt = tf.train.GradientDescentOptimizer(0.1)
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(tf.zeros([4, 1]), w)])
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, w)])


@pytest.mark.parametrize("make", [
    lambda lr: tf.train.AdamOptimizer(lr),
    lambda lr: tf.train.MomentumOptimizer(lr, 0.9),
    lambda lr: tf.train.RMSPropOptimizer(lr),
    lambda lr: tf.train.AdagradOptimizer(lr),
])
def test_fed_learning_rate_equals_the_same_constant(make):
    values = []
    for fed in (False, True):
        tf.reset_default_graph()
        X, Y, x, y, w, b, loss = _regression()
        rate = tf.placeholder(tf.float32, []) if fed else 0.01
        train = make(rate).minimize(loss)
        feed = {x: X, y: Y, **({rate: 0.01} if fed else {})}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(5):
                sess.run(train, feed)
            values.append(sess.run(w))
    np.testing.assert_allclose(values[1], values[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("make", [
    lambda c: tf.train.AdamOptimizer(0.05, epsilon=c(1e-2)),
    lambda c: tf.train.AdadeltaOptimizer(1.0, rho=c(0.8), epsilon=c(1e-3)),
    lambda c: tf.train.RMSPropOptimizer(0.05, epsilon=c(1e-2), centered=True),
    lambda c: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=c(0.01), l2_regularization_strength=c(0.1),
                                     l2_shrinkage_regularization_strength=c(0.05)),
    lambda c: tf.train.ProximalGradientDescentOptimizer(0.05, c(0.01), c(0.1)),
    lambda c: tf.train.ProximalAdagradOptimizer(0.05, 0.1, c(0.01), c(0.1)),
])
def test_epsilon_rho_and_penalties_may_be_tensors_as_in_tf1(make):
    # TF-1 converts these to tensors; they failed in float() with no word of the optimizer or argument
    values = []
    for as_tensor in (False, True):
        tf.reset_default_graph()
        X, Y, x, y, w, b, loss = _regression()
        train = make(tf.constant if as_tensor else float).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train, {x: X, y: Y})
            values.append(sess.run(w))
    np.testing.assert_allclose(values[1], values[0], rtol=1e-6, atol=1e-7)


def test_fed_learning_rate_is_read_at_each_step():
    X, Y, x, y, w, b, loss = _regression()
    rate = tf.placeholder(tf.float32, [])
    momentum = tf.placeholder(tf.float32, [])
    train = tf.train.MomentumOptimizer(rate, momentum).minimize(loss)
    W, B, mw, mb = np.zeros((3, 1)), np.zeros(1), np.zeros((3, 1)), np.zeros(1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for lr_value, m_value in [(0.1, 0.0), (0.0, 0.5), (0.05, 0.9)]:
            sess.run(train, {x: X, y: Y, rate: lr_value, momentum: m_value})
            gw, gb = _numpy_grads(X, Y, W, B)
            mw, mb = m_value * mw + gw, m_value * mb + gb
            W, B = W - lr_value * mw, B - lr_value * mb
        np.testing.assert_allclose(sess.run(w), W, rtol=1e-5, atol=1e-6)


def test_a_learning_rate_tensor_must_be_a_scalar():
    with pytest.raises(ValueError, match="scalar"):
        tf.train.GradientDescentOptimizer(tf.constant([0.1, 0.2]))


def _decayed(schedule, steps):
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    rate = schedule(step)
    out = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for s in steps:
            sess.run(step.assign(s))
            out.append(float(sess.run(rate)))
    return out


STEPS = [0, 1, 5, 10, 15, 20, 35]


@pytest.mark.parametrize("schedule,reference", [
    (lambda s: tf.train.exponential_decay(0.1, s, 10, 0.5), lambda t: 0.1 * 0.5 ** (t / 10)),
    (lambda s: tf.train.exponential_decay(0.1, s, 10, 0.5, staircase=True), lambda t: 0.1 * 0.5 ** (t // 10)),
    (lambda s: tf.train.natural_exp_decay(0.1, s, 10, 0.5), lambda t: 0.1 * math.exp(-0.5 * t / 10)),
    (lambda s: tf.train.inverse_time_decay(0.1, s, 10, 0.5, staircase=True), lambda t: 0.1 / (1 + 0.5 * (t // 10))),
    (lambda s: tf.train.polynomial_decay(0.1, s, 20, 0.01, power=2.0),
     lambda t: (0.1 - 0.01) * (1 - min(t, 20) / 20) ** 2 + 0.01),
    (lambda s: tf.train.polynomial_decay(0.1, s, 10, 0.01, cycle=True),
     lambda t: (0.1 - 0.01) * (1 - t / (10 * max(math.ceil(t / 10), 1))) + 0.01),
    (lambda s: tf.train.cosine_decay(0.1, s, 20, alpha=0.1),
     lambda t: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(t, 20) / 20)) + 0.1)),
    (lambda s: tf.train.piecewise_constant(s, [5, 15], [1.0, 0.5, 0.1]),
     lambda t: 1.0 if t <= 5 else 0.5 if t <= 15 else 0.1),
])
def test_learning_rate_decays(schedule, reference):
    np.testing.assert_allclose(_decayed(schedule, STEPS), [reference(t) for t in STEPS], rtol=1e-5)


def test_cosine_decay_restarts_follows_sgdr_periods():
    got = _decayed(lambda s: tf.train.cosine_decay_restarts(1.0, s, 10, t_mul=2.0, m_mul=0.5), [0, 5, 10, 20, 30])
    # periods [0, 10), [10, 30), [30, 70): restarts at 10 (peak 0.5) and 30 (peak 0.25)
    expected = [1.0, 0.5, 0.5, 0.5 * 0.5 * (1 + math.cos(math.pi * 0.5)), 0.25]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_decays_refuse_bad_arguments():
    step = tf.train.get_or_create_global_step()
    with pytest.raises(ValueError, match="decay_steps"):
        tf.train.exponential_decay(0.1, step, 0, 0.5)
    with pytest.raises(ValueError, match="global_step"):
        tf.train.exponential_decay(0.1, None, 10, 0.5)
    with pytest.raises(ValueError, match="one value more"):
        tf.train.piecewise_constant(step, [1, 2], [0.1, 0.2])


def test_piecewise_constant_keeps_its_values_dtype_and_refuses_mixed_ones_as_tf():
    # Python int values gave int64 (TF-1: int32), np.float64 ones float32, a tensor among them failed in NumPy,
    # and a float boundary was cast to the integer step's dtype (-2.5 to -2); each as TF-1 now
    step = tf.train.get_or_create_global_step()
    ints = tf.train.piecewise_constant(step, [5, 15], [1, 2, 3])
    wide = tf.train.piecewise_constant(step, [5], [np.float64(0.5), np.float64(0.25)])
    given = tf.train.piecewise_constant(step, [5], [tf.constant(0.5), 0.25])
    assert (ints.dtype, wide.dtype, given.dtype) == (tf.int32, tf.float64, tf.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t, want in [(0, [1, 0.5, 0.5]), (6, [2, 0.25, 0.25]), (16, [3, 0.25, 0.25])]:
            sess.run(step.assign(t))
            got = sess.run([ints, wide, given])
            assert [g.dtype for g in got] == [np.int32, np.float64, np.float32]
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="share one dtype"):
        tf.train.piecewise_constant(step, [5], [1, 0.5])
    with pytest.raises(ValueError, match="boundar"):
        tf.train.piecewise_constant(step, [-2.5], [1, 2])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf, on purpose
def test_clip_by_norm_and_global_norm_values():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    clipped_rows = tf.clip_by_norm(tf.constant(a), 0.5, axes=[1])
    clipped_all = tf.clip_by_norm(tf.constant(a), 100.0)
    norm = tf.global_norm([tf.constant(a), None, tf.constant(b)])
    ca, _ = tf.clip_by_global_norm([tf.constant(a), None], 1.0)
    inf_clipped, _ = tf.clip_by_global_norm([tf.constant(np.array([np.inf, 1.0], np.float32))], 1.0)
    with tf.Session() as sess:
        rows = np.linalg.norm(a, axis=1, keepdims=True)
        np.testing.assert_allclose(sess.run(clipped_rows), a * 0.5 / np.maximum(rows, 0.5), rtol=1e-5)
        np.testing.assert_allclose(sess.run(clipped_all), a, rtol=1e-6)
        np.testing.assert_allclose(sess.run(norm), math.sqrt((a ** 2).sum() + (b ** 2).sum()), rtol=1e-5)
        np.testing.assert_allclose(sess.run(ca[0]), a / np.linalg.norm(a), rtol=1e-5)
        assert ca[1] is None
        assert np.isnan(sess.run(inf_clipped[0])).all()
    with pytest.raises(TypeError, match="list"):
        tf.clip_by_global_norm(tf.constant(a), 1.0)


def test_clip_by_norm_of_a_zero_tensor_has_a_finite_gradient():
    # TF's clip_by_norm takes the norm through a two-where trick: a zero tensor's gradient is clip / clip = 1, not
    # the NaN of 0 * d sqrt(0); embedding_lookup(max_norm=) clips through it too
    v = tf.Variable(np.array([[0.0, 0.0], [3.0, 4.0]], np.float32))
    clipped = tf.clip_by_norm(v, 1.0, axes=[1])
    rows = tf.nn.embedding_lookup(v, [0, 1, 0], max_norm=1.0)
    grad = tf.gradients(tf.reduce_sum(clipped), v)[0]
    grad_rows = tf.gradients(tf.reduce_sum(rows), v)[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(clipped), [[0, 0], [0.6, 0.8]], rtol=1e-6)
        # row 1: d/dv sum(v / |v|) = (1 - v * sum(v) / |v|^2) / |v|
        expected_row = (1.0 - np.array([3.0, 4.0]) * 7.0 / 25.0) / 5.0
        np.testing.assert_allclose(sess.run(grad), [[1.0, 1.0], expected_row], rtol=1e-5)
        np.testing.assert_allclose(sess.run(grad_rows), [[2.0, 2.0], expected_row], rtol=1e-5)


def _bn_graph(training, shape=(8, 3), axis=-1):
    x = tf.placeholder(tf.float32, [None, *shape[1:]])
    out = tf.layers.batch_normalization(x, axis=axis, momentum=0.9, training=training)
    return x, out


@pytest.mark.parametrize("shape,axis", [((8, 3), -1), ((4, 5, 5, 3), -1), ((4, 3, 5, 5), 1)])
def test_layers_batch_normalization_updates_moving_statistics(shape, axis):
    rng = np.random.default_rng(2)
    data = (rng.normal(size=shape) * 3 + 1).astype(np.float32)
    x, out = _bn_graph(True, shape, axis)
    target = tf.reduce_sum(out)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        step = tf.identity(target)
    mean_var = [v for v in tf.global_variables() if "moving" in v.name]
    assert sorted(v.name for v in mean_var) == ["batch_normalization/moving_mean:0",
                                               "batch_normalization/moving_variance:0"]
    axes = tuple(a for a in range(len(shape)) if a != axis % len(shape))
    n = int(np.prod([shape[a] for a in axes]))
    bessel = n / (n - 1) if len(shape) == 4 else 1.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        y = sess.run(out, {x: data})
        keep = [1 if a in axes else shape[a] for a in range(len(shape))]
        expected = (data - data.mean(axes).reshape(keep)) / np.sqrt(data.var(axes).reshape(keep) + 1e-3)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
        mm = [v for v in mean_var if v.op.name.endswith("mean")][0]
        mv = [v for v in mean_var if v.op.name.endswith("variance")][0]
        np.testing.assert_allclose(sess.run(mm), 0.0)  # running the output alone updates nothing
        sess.run(step, {x: data})
        np.testing.assert_allclose(sess.run(mm), 0.1 * data.mean(axes), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sess.run(mv), 0.9 + 0.1 * data.var(axes) * bessel, rtol=1e-5)


def test_batch_normalization_with_a_fed_training_flag():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(16, 4)).astype(np.float32) * 2 + 3
    training = tf.placeholder(tf.bool, [])
    x, out = _bn_graph(training, (16, 4))
    loss = tf.reduce_mean(tf.square(out))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: data, training: True})
        mm = sess.run(tf.get_default_graph().get_tensor_by_name("batch_normalization/moving_mean:0"))
        np.testing.assert_allclose(mm, 0.1 * data.mean(0), rtol=1e-5)
        inferred = sess.run(out, {x: data, training: False})
        mv = 0.9 + 0.1 * data.var(0)
        gamma, beta = sess.run(["batch_normalization/gamma:0", "batch_normalization/beta:0"])
        np.testing.assert_allclose(inferred, (data - mm) / np.sqrt(mv + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-5)
        sess.run(train, {x: data, training: False})  # not training: the statistics stay
        np.testing.assert_allclose(sess.run("batch_normalization/moving_mean:0"), mm, rtol=1e-6)


def test_batch_normalization_trains_a_classifier():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(256, 2)).astype(np.float32) * [10.0, 0.1] + [50.0, -3.0]
    labels = ((X[:, 0] - 50) / 10 + (X[:, 1] + 3) / 0.1 > 0).astype(np.int64)
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.placeholder(tf.int64, [None])
    training = tf.placeholder_with_default(False, [])
    h = tf.layers.batch_normalization(x, momentum=0.9, training=training)
    logits = tf.layers.dense(h, 2)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.AdamOptimizer(0.05).minimize(loss)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(150):
            sess.run(train, {x: X, y: labels, training: True})
        assert sess.run(accuracy, {x: X, y: labels}) >= 0.95


def test_moments_takes_one_int_axis_and_keepdims_over_keep_dims():
    # TF's reduce_mean takes an int axis (it raised "'int' object is not iterable"); keepdims=False is not
    # overridden by the older keep_dims
    data = np.random.default_rng(4).normal(size=(4, 3))
    mean, var = tf.nn.moments(tf.constant(data), 0)
    kept, _ = tf.nn.moments(tf.constant(data), [1], keep_dims=True)
    flat, _ = tf.nn.moments(tf.constant(data), [1], keepdims=False, keep_dims=True)
    assert kept.shape.as_list() == [4, 1] and flat.shape.as_list() == [4]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run([mean, var]), [data.mean(0), data.var(0)], rtol=1e-12)


def test_nn_batch_normalization_and_fused_batch_norm():
    rng = np.random.default_rng(5)
    data = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    gamma, beta = rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32)
    mean, var = tf.nn.moments(tf.constant(data), [0, 1, 2])
    manual = tf.nn.batch_normalization(tf.constant(data), mean, var, beta, gamma, 1e-3)
    no_affine = tf.nn.batch_normalization(tf.constant(data), mean, var, None, None, 1e-3)
    fused, fm, fv = tf.nn.fused_batch_norm(tf.constant(data), gamma, beta, epsilon=1e-3)
    nchw = np.ascontiguousarray(data.transpose(0, 3, 1, 2))
    fused_nchw, _, _ = tf.nn.fused_batch_norm(tf.constant(nchw), gamma, beta, epsilon=1e-3, data_format="NCHW")
    inferred, _, _ = tf.nn.fused_batch_norm(tf.constant(data), gamma, beta, mean=np.zeros(4, np.float32),
                                            variance=np.ones(4, np.float32), epsilon=0.0, is_training=False)
    normed = (data - data.mean((0, 1, 2))) / np.sqrt(data.var((0, 1, 2)) + 1e-3)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(manual), normed * gamma + beta, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sess.run(no_affine), normed, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sess.run(fused), normed * gamma + beta, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sess.run(fv), data.var((0, 1, 2)) * 18 / 17, rtol=1e-5)
        np.testing.assert_allclose(sess.run(fused_nchw), (normed * gamma + beta).transpose(0, 3, 1, 2), rtol=1e-4,
                                   atol=1e-5)
        np.testing.assert_allclose(sess.run(inferred), data / np.sqrt(1 + 1.001e-5) * gamma + beta, rtol=1e-5,
                                   atol=1e-6)  # (epsilon 0 is raised to TF's floor)
    with pytest.raises(ValueError, match="mean and variance"):
        tf.nn.fused_batch_norm(tf.constant(data), gamma, beta, is_training=False)


def test_nn_batch_normalization_keeps_the_dtype_of_x():
    # TF-1 casts the float32 statistics' scale and shift to x's dtype: a float16 x stays float16
    data = np.random.default_rng(6).normal(size=(4, 3)).astype(np.float16)
    mean, var = np.full(3, 0.25, np.float32), np.full(3, 4.0, np.float32)
    gamma, beta = np.full(3, 2.0, np.float32), np.full(3, 0.5, np.float32)
    out = tf.nn.batch_normalization(tf.constant(data), mean, var, beta, gamma, 1e-3)
    assert out.dtype == tf.float16
    with tf.Session() as sess:
        got = sess.run(out)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, (data - 0.25) / np.sqrt(4.001) * 2 + 0.5, rtol=2e-3, atol=2e-3)


def test_fused_batch_norm_epsilon_floor_half_dtypes_and_training_statistics():
    # TF-1 raises epsilon to 1.001e-5, normalizes a float16 x in float32 (y float16, statistics float32), and
    # refuses mean/variance in training
    rng = np.random.default_rng(6)
    data = rng.normal(size=(2, 3, 3, 4)) * 1e-3
    gamma, beta = np.ones(4), np.zeros(4)
    y, _, _ = tf.nn.fused_batch_norm(tf.constant(data), gamma, beta, epsilon=0.0)
    half, m16, v16 = tf.nn.fused_batch_norm(tf.constant(data.astype(np.float16)), gamma.astype(np.float32),
                                            beta.astype(np.float32))
    assert (half.dtype, m16.dtype, v16.dtype) == (tf.float16, tf.float32, tf.float32)
    expected = (data - data.mean((0, 1, 2))) / np.sqrt(data.var((0, 1, 2)) + 1.001e-5)
    with tf.Session() as sess:
        got, got_half = sess.run([y, half])
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert got_half.dtype == np.float16
    with pytest.raises(ValueError, match="must be None when is_training=True"):
        tf.nn.fused_batch_norm(tf.constant(data), gamma, beta, mean=np.zeros(4), variance=np.ones(4))


def test_control_dependencies_order_effects_before_reads():
    counter = tf.Variable(0.0)
    bump = counter.assign_add(1.0)
    with tf.control_dependencies([bump]):
        after = tf.identity(counter) * 10.0
    with tf.control_dependencies(None):
        plain = counter * 1.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(after) == 10.0
        assert sess.run(after) == 20.0
        assert sess.run(plain) == 2.0
    with pytest.raises(TypeError, match="control_dependencies"):
        with tf.control_dependencies([1.0]):
            pass


def test_identity_under_control_dependencies_reads_the_written_variable():
    # tf.identity(v) hands v's value on as it is: it must still read v after the control inputs wrote it
    counter = tf.Variable(0, name="counter")
    with tf.control_dependencies([tf.assign_add(counter, 1)]):
        count = tf.identity(counter)
    w = tf.Variable([1.0, 2.0], name="w")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(w * w))
    with tf.control_dependencies([train]):
        trained = tf.identity(w)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert [int(sess.run(count)) for _ in range(3)] == [1, 2, 3]
        np.testing.assert_allclose(sess.run(trained), [0.8, 1.6], rtol=1e-6)
        np.testing.assert_allclose(sess.run(w), [0.8, 1.6], rtol=1e-6)


def test_losses_collect_and_regularizers_add_penalties():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(8, 3)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    out = tf.layers.dense(x, 2, kernel_regularizer=tf.contrib.layers.l2_regularizer(0.5),
                          bias_regularizer=tf.contrib.layers.l1_regularizer(0.0), name="fc")
    conv_in = tf.placeholder(tf.float32, [None, 4, 4, 1])
    tf.layers.conv2d(conv_in, 2, 3, kernel_regularizer=tf.contrib.layers.l1_regularizer(0.1), name="conv")
    mse = tf.losses.mean_squared_error(tf.zeros_like(out), out)
    hinge = tf.losses.hinge_loss(tf.constant([[1.0], [0.0]]), tf.constant([[0.3], [0.4]]), loss_collection=None)
    tf.losses.add_loss(tf.constant(2.0))
    assert tf.losses.get_losses()[0] is mse and len(tf.losses.get_losses()) == 2
    assert len(tf.losses.get_regularization_losses()) == 2  # a scale of 0 gives no penalty
    total = tf.losses.get_total_loss()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        kernel, conv_kernel, y = sess.run(["fc/kernel:0", "conv/kernel:0", out], {x: X})
        penalty = 0.5 * (kernel ** 2).sum() / 2 + 0.1 * np.abs(conv_kernel).sum()
        np.testing.assert_allclose(sess.run(tf.losses.get_regularization_loss()), penalty, rtol=1e-5)
        np.testing.assert_allclose(sess.run(total, {x: X}), (y ** 2).mean() + 2.0 + penalty, rtol=1e-5)
        np.testing.assert_allclose(sess.run(hinge), (0.7 + 1.4) / 2, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="constraint"):
        tf.layers.dense(x, 2, kernel_constraint=lambda w: w)
    with pytest.raises(ValueError, match="non-negative"):
        tf.contrib.layers.l2_regularizer(-1.0)


def test_cosine_distance_and_compute_weighted_loss():
    a = np.array([[1.0, 0.0], [0.6, 0.8]], np.float32)
    b = np.array([[0.0, 1.0], [0.6, 0.8]], np.float32)
    loss = tf.losses.cosine_distance(tf.constant(a), tf.constant(b), axis=1)
    weighted = tf.losses.compute_weighted_loss(tf.constant([1.0, 3.0]), weights=tf.constant([1.0, 0.0]))
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), 0.5, atol=1e-6)
        np.testing.assert_allclose(sess.run(weighted), 1.0)


def test_add_n():
    total = tf.add_n([tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0]), tf.constant([5.0, 6.0])])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(total), [9.0, 12.0])
    with pytest.raises(ValueError, match="one shape"):
        tf.add_n([tf.constant([1.0]), tf.constant([1.0, 2.0])])


def test_a_float64_variable_keeps_its_digits():
    value = np.array([1.0 + 1e-12, np.pi])
    v = tf.Variable(value, dtype=tf.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(v)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, value)


def test_compute_gradients_pairs_every_variable_none_where_the_loss_does_not_use_it():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")
    loss = 3.0 * a * a
    opt = tf.train.GradientDescentOptimizer(0.1)
    pairs = opt.compute_gradients(loss)  # all the trainable variables, as TF-1
    assert [v for _, v in pairs] == [a, b] and pairs[1][0] is None
    grads, variables = zip(*pairs)
    clipped, norm = tf.clip_by_global_norm(list(grads), 1.0)
    assert clipped[1] is None
    step = opt.apply_gradients(zip(clipped, variables))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(pairs[0][0]) == pytest.approx(6.0) and sess.run(norm) == pytest.approx(6.0)
        sess.run(step)
        assert sess.run(a) == pytest.approx(1.0 - 0.1 * 1.0) and sess.run(b) == 2.0


def test_no_gradient_passes_through_integer_tensors():
    count = tf.Variable(3, name="count")  # an int32 trainable variable, as TF-1 makes tf.Variable(3)
    w = tf.Variable(2.0, name="w")
    x = tf.placeholder(tf.float32)
    loss = tf.cast(count, tf.float32) * x * w + tf.cast(tf.cast(w * 3.0, tf.int32), tf.float32)
    assert tf.gradients(loss, count) == [None]
    assert tf.gradients(tf.cast(tf.cast(x * w, tf.int32), tf.float32), [x, w]) == [None, None]
    pairs = tf.train.GradientDescentOptimizer(0.1).compute_gradients(loss)
    assert [(g is None, v) for g, v in pairs] == [(True, count), (False, w)]
    step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)  # trains w only (it failed at run time)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step, {x: 5.0})
        assert sess.run(count) == 3 and sess.run(w) == pytest.approx(2.0 - 0.1 * 15.0)
    with pytest.raises(ValueError, match="no trainable variable"):
        tf.train.GradientDescentOptimizer(0.1).minimize(tf.cast(count, tf.float32) * x)


def test_a_loss_of_int_labels_on_placeholders_of_unknown_rank_trains():
    x, y = tf.placeholder(tf.float32), tf.placeholder(tf.int32)  # no shapes: the loss's dtype is not probed
    w = tf.Variable(tf.zeros([4, 3]))
    xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(x, w))
    assert xent.dtype == np.float32  # the logits', not the labels' int32
    loss = tf.reduce_mean(xent)
    step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feed = {x: np.eye(4, dtype=np.float32)[:3], y: np.arange(3, dtype=np.int32)}
        first = sess.run([step, loss], feed)[1]
        assert first == pytest.approx(math.log(3.0), rel=1e-6) and sess.run(loss, feed) < first


@pytest.mark.parametrize("make", [lambda: tf.train.GradientDescentOptimizer(0.1),
                                  lambda: tf.train.MomentumOptimizer(0.1, 0.9),
                                  lambda: tf.train.AdagradOptimizer(0.1)])
def test_grad_loss_seeds_the_backward_as_in_tf1(make):
    w = tf.Variable([1.0, 2.0])
    reference = tf.Variable([1.0, 2.0])
    step = make().minimize(tf.reduce_sum(w * w), grad_loss=tf.constant(3.0))  # it was ignored
    scaled = make().minimize(3.0 * tf.reduce_sum(reference * reference))
    (grad, _), = make().compute_gradients(tf.reduce_sum(w * w), var_list=[w], grad_loss=3.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(grad), [6.0, 12.0])
        for _ in range(3):
            sess.run([step, scaled])
        np.testing.assert_allclose(sess.run(w), sess.run(reference), rtol=1e-6)
        assert not np.allclose(sess.run(w), [1.0, 2.0])


def test_decay_schedules_take_tensor_decay_steps_and_rates_as_tf():
    # a tensor decay_steps or decay_rate failed ("using tf.Tensor as a Python bool", float() of a Tensor)
    step = tf.placeholder(tf.int64, [])
    schedules = {
        "exponential": (tf.train.exponential_decay(0.5, step, tf.constant(10), tf.constant(0.5), staircase=True),
                        lambda k: 0.5 * 0.5 ** math.floor(k / 10)),
        "inverse_time": (tf.train.inverse_time_decay(0.5, step, tf.constant(10.0), tf.constant(0.5)),
                         lambda k: 0.5 / (1 + 0.5 * k / 10)),
        "polynomial": (tf.train.polynomial_decay(0.5, step, tf.constant(20, tf.int64), tf.constant(0.01),
                                                 tf.constant(2.0), cycle=True),
                       lambda k: 0.49 * (1 - k / (20 * max(math.ceil(k / 20), 1))) ** 2 + 0.01),
        "cosine": (tf.train.cosine_decay(0.5, step, tf.constant(30), tf.constant(0.1)),
                   lambda k: 0.5 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(k, 30) / 30)) + 0.1)),
    }
    with tf.Session() as sess:
        for name, (schedule, expected) in schedules.items():
            for k in (0, 7, 10, 25, 45):
                assert sess.run(schedule, {step: k}) == pytest.approx(expected(k), rel=1e-6), (name, k)


def test_global_norm_and_saver_refuse_what_tf1_refuses():
    # a float32 and a float64 gradient were clipped by one norm computed in float64; TF-1's stack refuses the mix
    with pytest.raises(TypeError, match=r"tf.global_norm: .* one dtype, got \['float32', 'float64'\]"):
        tf.clip_by_global_norm([tf.constant([1.0, 2.0]), tf.constant(np.array([3.0]))], 1.0)
    w = tf.Variable([1.0], name="w")
    with pytest.raises(ValueError, match="at least two variables have the same name: w"):
        tf.train.Saver([w, w])  # (was accepted: one entry)
    with pytest.raises(ValueError, match="under two names: 'a' and 'b'"):
        tf.train.Saver({"a": w, "b": w})

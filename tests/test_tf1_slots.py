"""TF-1's optimizer slots are variables: named as TF names them (``w/Adam``, ``w/Adam_1``, Adam's ``beta1_power``),
listed by ``tf.global_variables()``, read with ``get_slot``, saved and restored by ``tf.train.Saver``, so a
restored run continues exactly where the saved one stopped."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 3)).astype(np.float32)
Y = RNG.normal(size=(16, 2)).astype(np.float32)

OPTIMIZERS = {  # TF's slot names, and the names their variables get
    "adam": (lambda: tf.train.AdamOptimizer(0.05), ["m", "v"], ["w/Adam", "w/Adam_1"]),
    "momentum": (lambda: tf.train.MomentumOptimizer(0.05, 0.9), ["momentum"], ["w/Momentum"]),
    "nesterov": (lambda: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True), ["momentum"], ["w/Momentum"]),
    "adagrad": (lambda: tf.train.AdagradOptimizer(0.1), ["accumulator"], ["w/Adagrad"]),
    "rmsprop": (lambda: tf.train.RMSPropOptimizer(0.01, momentum=0.5), ["momentum", "rms"],
                ["w/RMSProp", "w/RMSProp_1"]),
    "adadelta": (lambda: tf.train.AdadeltaOptimizer(1.0), ["accum", "accum_update"], ["w/Adadelta", "w/Adadelta_1"]),
    "ftrl": (lambda: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=0.01), ["accum", "linear"],
             ["w/Ftrl", "w/Ftrl_1"]),
    # (accum_name and linear_name were ignored: the slots were w/Ftrl and w/Ftrl_1)
    "ftrl_named": (lambda: tf.train.FtrlOptimizer(0.1, accum_name="acc", linear_name="lin"), ["accum", "linear"],
                   ["w/acc", "w/lin"]),
    "ftrl_linear_named": (lambda: tf.train.FtrlOptimizer(0.1, linear_name="lin"), ["accum", "linear"],
                          ["w/Ftrl", "w/lin"]),
    "proximal_adagrad": (lambda: tf.train.ProximalAdagradOptimizer(0.1), ["accumulator"], ["w/ProximalAdagrad"]),
    "sgd": (lambda: tf.train.GradientDescentOptimizer(0.1), [], []),
}


def _model(make_optimizer):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 2], name="y")
    w = tf.Variable(RNG.normal(size=(3, 2)).astype(np.float32), name="w")
    b = tf.Variable(np.zeros(2, np.float32), name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    optimizer = make_optimizer()
    return optimizer, optimizer.minimize(loss), w, b


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_slots_are_global_variables_with_tf_names(kind):
    make, slot_names, w_slots = OPTIMIZERS[kind]
    optimizer, _, w, b = _model(make)
    assert optimizer.get_slot_names() == slot_names
    names = [v.op.name for v in tf.global_variables()]
    shared = ["beta1_power", "beta2_power"] if kind == "adam" else []
    assert names == ["w", "b", *shared, *w_slots, *[n.replace("w/", "b/") for n in w_slots]]
    assert [v.op.name for v in tf.trainable_variables()] == ["w", "b"]
    assert sorted(v.op.name for v in optimizer.variables()) == sorted(names[2:])
    for name in slot_names:
        slot = optimizer.get_slot(w, name)
        assert slot.shape.as_list() == [3, 2] and slot.dtype == np.float32 and not slot.trainable
    assert optimizer.get_slot(w, "nothing") is None


def test_adam_slots_hold_the_moments_and_powers_tf_computes():
    optimizer, train, w, b = _model(lambda: tf.train.AdamOptimizer(0.05, 0.8, 0.9))
    x, y = tf.get_default_graph().get_tensor_by_name("x:0"), tf.get_default_graph().get_tensor_by_name("y:0")
    grad = tf.gradients(tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y)), [w])[0]
    m_ref = v_ref = np.zeros((3, 2), np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run("beta1_power:0") == np.float32(0.8) and not sess.run(optimizer.get_slot(w, "m")).any()
        for _ in range(3):
            g = sess.run(grad, {x: X, y: Y})
            m_ref, v_ref = 0.8 * m_ref + 0.2 * g, 0.9 * v_ref + 0.1 * g * g
            sess.run(train, {x: X, y: Y})
        np.testing.assert_allclose(sess.run(optimizer.get_slot(w, "m")), m_ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(sess.run("w/Adam_1:0"), v_ref, rtol=1e-5, atol=1e-9)
        powers = sess.run(["beta1_power:0", "beta2_power:0"])
        assert powers == [np.float32(0.8) ** 4, np.float32(0.9) ** 4]  # TF's float32 products, one per step


def _train(sess, train, steps: int) -> None:
    x, y = tf.get_default_graph().get_tensor_by_name("x:0"), tf.get_default_graph().get_tensor_by_name("y:0")
    for _ in range(steps):
        sess.run(train, {x: X, y: Y})


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_a_restored_run_continues_exactly_where_the_saved_one_stopped(kind, tmp_path):
    make = OPTIMIZERS[kind][0]
    start = RNG.normal(size=(3, 2)).astype(np.float32)
    path = str(tmp_path / "model.ckpt")

    def build():
        tf.reset_default_graph()
        _, train, w, _ = _model(make)
        return train, w, tf.global_variables()

    train, w, variables = build()
    with tf.Session() as sess:  # five steps straight
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign(start))
        _train(sess, train, 5)
        straight = {v.op.name: sess.run(v) for v in variables}
    train, w, _ = build()
    with tf.Session() as sess:  # three steps, saved
        sess.run(tf.global_variables_initializer())
        sess.run(w.assign(start))
        _train(sess, train, 3)
        tf.train.Saver().save(sess, path)
    train, w, variables = build()
    with tf.Session() as sess:  # restored into a fresh graph (no initializer), two steps more
        tf.train.Saver().restore(sess, path)
        _train(sess, train, 2)
        resumed = {v.op.name: sess.run(v) for v in variables}
    assert sorted(resumed) == sorted(straight)
    for name, value in straight.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_slots_are_made_outside_control_dependencies_and_name_scopes():
    counter = tf.Variable(0, name="counter")
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.ones((3, 1), np.float32), name="w")
    with tf.name_scope("training"), tf.control_dependencies([counter.assign_add(1)]):
        optimizer = tf.train.MomentumOptimizer(0.1, 0.9)
        train = optimizer.minimize(tf.reduce_sum(tf.matmul(x, w)))
    slot = optimizer.get_slot(w, "momentum")
    assert slot.name == "w/Momentum:0"
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(slot).tolist() == [[0.0]] * 3 and sess.run(counter) == 0
        sess.run(train, {x: np.ones((2, 3), np.float32)})
        assert sess.run(counter) == 1 and sess.run(slot).tolist() == [[2.0]] * 3


def test_slots_can_be_assigned_and_are_kept_when_their_variable_is_initialized_alone():
    optimizer, train, w, b = _model(lambda: tf.train.MomentumOptimizer(0.5, 1.0))
    slot = optimizer.get_slot(w, "momentum")
    x, y = tf.get_default_graph().get_tensor_by_name("x:0"), tf.get_default_graph().get_tensor_by_name("y:0")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="uninitialized value w/Momentum"):
            sess.run(slot)
        sess.run(tf.global_variables_initializer())
        sess.run(slot.assign(np.ones((3, 2), np.float32)))
        before = sess.run(w)
        sess.run(tf.variables_initializer([w]))  # TF-1: the slots keep their values
        np.testing.assert_array_equal(sess.run(slot), np.ones((3, 2)))
        start = sess.run(w)
        grad = sess.run(tf.gradients(tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y)), [w])[0], {x: X, y: Y})
        sess.run(train, {x: X, y: Y})
        np.testing.assert_allclose(sess.run(w), start - 0.5 * (1.0 + grad), rtol=1e-6, atol=1e-6)
        assert before is not None

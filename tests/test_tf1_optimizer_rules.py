"""TF-1 optimizer updates that differ from PyTorch's: Adam's epsilon, Nesterov momentum, the proximal rules."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

W0 = np.array([0.5, -0.3, 0.02, 1.5], np.float32).astype(np.float64)  # (float32 data)
GRADS = [np.array([0.2, -0.1, 0.003, -2.0]), np.array([-0.4, 0.05, 0.001, 1.0]), np.array([0.3, 0.3, -0.002, 0.5])]


def _run_steps(optimizer) -> list:
    """The variable after each step of ``optimizer`` on a loss whose gradient is fed (GRADS in turn)."""
    w = tf.Variable(W0, dtype=tf.float64)
    g = tf.placeholder(tf.float64, [4])
    train = optimizer.minimize(tf.reduce_sum(w * g))
    out = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for grad in GRADS:
            sess.run(train, {g: grad})
            out.append(sess.run(w))
    return out


def test_adam_adds_epsilon_to_the_raw_sqrt_v_as_tf():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-2  # a large epsilon shows where it is added
    got = _run_steps(tf.train.AdamOptimizer(lr, b1, b2, eps))
    var, m, v = W0.copy(), np.zeros(4), np.zeros(4)
    # TF-1's beta1_power and beta2_power are float32 variables (made from Python numbers), cast to the
    # variable's dtype in each step
    p1, p2 = np.float32(b1), np.float32(b2)
    for grad, after in zip(GRADS, got):
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        var = var - lr * np.sqrt(1 - np.float64(p2)) / (1 - np.float64(p1)) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(after, var, rtol=1e-12)
        p1, p2 = p1 * np.float32(b1), p2 * np.float32(b2)
    # PyTorch's placement (epsilon added to the bias-corrected sqrt) moves the small coordinate differently
    torch_first = W0 - lr * GRADS[0] / (np.abs(GRADS[0]) + eps)
    assert abs(got[0][2] - torch_first[2]) > 1e-4


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_follows_tf_formulas(nesterov):
    lr, mu = 0.1, 0.9
    got = _run_steps(tf.train.MomentumOptimizer(lr, mu, use_nesterov=nesterov))
    var, accum = W0.copy(), np.zeros(4)
    for grad, after in zip(GRADS, got):
        accum = mu * accum + grad
        var = var - lr * (grad + mu * accum) if nesterov else var - lr * accum
        np.testing.assert_allclose(after, var, rtol=1e-12)


def _prox(v, step, l1, l2):
    if l1 > 0:
        v = np.sign(v) * np.maximum(np.abs(v) - step * l1, 0.0)
    return v / (1 + step * l2)


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.0, 0.5), (0.1, 0.1)])
def test_proximal_gradient_descent(l1, l2):
    lr = 0.1
    got = _run_steps(tf.train.ProximalGradientDescentOptimizer(lr, l1, l2))
    var = W0.copy()
    for grad, after in zip(GRADS, got):
        var = _prox(var - lr * grad, lr, l1, l2)
        np.testing.assert_allclose(after, var, rtol=1e-12, atol=1e-15)
    if l1 > 0:  # the L1 step zeroes the small coordinate
        assert got[-1][2] == 0.0


@pytest.mark.parametrize("l1, l2", [(0.0, 0.0), (0.01, 0.2)])
def test_proximal_adagrad(l1, l2):
    lr, init = 0.2, 0.1
    got = _run_steps(tf.train.ProximalAdagradOptimizer(lr, init, l1, l2))
    var, accum = W0.copy(), np.full(4, init)
    for grad, after in zip(GRADS, got):
        accum = accum + grad * grad
        step = lr / np.sqrt(accum)
        var = _prox(var - step * grad, step, l1, l2)
        np.testing.assert_allclose(after, var, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        tf.train.ProximalAdagradOptimizer(0.1, initial_accumulator_value=0.0)
    with pytest.raises(ValueError, match="l1"):
        tf.train.ProximalGradientDescentOptimizer(0.1, l1_regularization_strength=-1.0)


def test_proximal_gradient_descent_with_l1_trains_a_sparse_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    true = np.array([2.0, -1.0, 0.0, 0.0, 0.0, 0.5])
    y = x @ true
    w = tf.Variable(np.zeros(6), dtype=tf.float64)
    loss = tf.reduce_mean(tf.square(tf.matmul(tf.constant(x), tf.reshape(w, [6, 1])) - y[:, None]))
    train = tf.train.ProximalGradientDescentOptimizer(0.1, l1_regularization_strength=0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(loss)
        for _ in range(300):
            sess.run(train)
        final, weights = sess.run([loss, w])
    assert final < first / 100
    np.testing.assert_array_equal(weights[2:5], 0.0)  # the L1 proximal step keeps the unused weights at 0
    np.testing.assert_allclose(weights[[0, 1, 5]], true[[0, 1, 5]], atol=0.05)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_centered_rmsprop_follows_tf_formulas(momentum):
    lr, decay, eps = 0.01, 0.9, 1e-3
    optimizer = tf.train.RMSPropOptimizer(lr, decay, momentum, eps, centered=True)
    got = _run_steps(optimizer)
    var, ms, mg, mom = W0.copy(), np.ones(4), np.zeros(4), np.zeros(4)
    for grad, after in zip(GRADS, got):
        ms = decay * ms + (1 - decay) * grad * grad
        mg = decay * mg + (1 - decay) * grad
        mom = momentum * mom + lr * grad / np.sqrt(ms - mg * mg + eps)
        var = var - mom
        np.testing.assert_allclose(after, var, rtol=1e-12)
    names = sorted(v.name for v in tf.global_variables())  # TF's slots: rms, mg, momentum, in that order
    assert names == ["Variable/RMSProp:0", "Variable/RMSProp_1:0", "Variable/RMSProp_2:0", "Variable:0"]
    assert optimizer.get_slot_names() == ["mg", "momentum", "rms"]
    (w,) = [v for v in tf.global_variables() if v.name == "Variable:0"]
    assert optimizer.get_slot(w, "mg").name == "Variable/RMSProp_1:0"


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_adam_keeps_its_beta_powers_in_float32_as_tf(dtype):
    # kept in bfloat16, beta2_power was 0.999 rounded to 1.0: lr_t was 0 and the variable never moved
    w0 = np.array([0.5, -0.3, 0.02, 1.5], np.float32)
    w = tf.Variable(w0.astype(dtype))
    g = tf.placeholder(dtype, [4])
    train = tf.train.AdamOptimizer(0.01).minimize(tf.reduce_sum(w * g))
    var, m, v = w0.astype(np.float64), np.zeros(4), np.zeros(4)
    p1, p2 = np.float32(0.9), np.float32(0.999)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for grad in [np.array([0.2, -0.1, 0.3, -2.0]), np.array([-0.4, 0.05, 0.1, 1.0])] * 4:
            sess.run(train, {g: grad.astype(dtype)})
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad * grad
            lr_t = 0.01 * np.sqrt(1 - float(p2.astype(dtype))) / (1 - float(p1.astype(dtype)))
            var = var - lr_t * m / (np.sqrt(v) + 1e-8)
            p1, p2 = p1 * np.float32(0.9), p2 * np.float32(0.999)
        assert sess.run("beta2_power:0").dtype == np.float32 and sess.run("beta2_power:0") == p2
        got = sess.run(w).astype(np.float64)
    assert np.abs(got - w0).max() > 0.03
    np.testing.assert_allclose(got, var, atol=8e-3 if dtype == "bfloat16" else 1e-3)


TABLE = np.array([[0.5, -0.3], [0.2, 0.8], [-1.0, 0.1], [0.7, 0.05]])
LOOKUPS = [[0, 2, 0], [1], [2, 2]]  # row 1 is looked up in one step only, row 3 never


def _run_lookups(optimizer, slots: list | None = None, lookup=tf.nn.embedding_lookup, steps=LOOKUPS) -> list:
    """The table after each step of ``optimizer`` on ``sum(lookup(table, ids) * [1, -2])``, ids ``steps`` in turn
    (and the optimizer's slots then, appended to ``slots``)."""
    table = tf.Variable(TABLE, dtype=tf.float64)
    ids = tf.placeholder(tf.int32, [None])
    train = optimizer.minimize(tf.reduce_sum(lookup(table, ids) * tf.constant([1.0, -2.0], tf.float64)))
    out = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step_ids in steps:
            sess.run(train, {ids: step_ids})
            out.append(sess.run(table))
            if slots is not None:
                slots.append(sess.run(optimizer.variables()))
    return out


def _lookup_rows(step_ids):
    """The rows a step's gradient names and each one's summed gradient (TF-1 sums repeated ids' gradients)."""
    rows = sorted(set(step_ids))
    return rows, {r: step_ids.count(r) * np.array([1.0, -2.0]) for r in rows}


def test_momentum_and_ftrl_update_only_the_rows_an_embedding_lookup_names_as_tf():
    # TF-1 applies an embedding lookup's gradient (IndexedSlices) with SparseApplyMomentum / SparseApplyFtrl:
    # the other rows and their slots stay. The dense update moved row 1 on by its momentum after it was looked
    # up, and FTRL set the never looked-up row 3 to 0.
    lr, mu = 0.1, 0.9
    got = _run_lookups(tf.train.MomentumOptimizer(lr, mu))
    var, accum = TABLE.copy(), np.zeros_like(TABLE)
    for step_ids, after in zip(LOOKUPS, got):
        rows, grads = _lookup_rows(step_ids)
        for r in rows:
            accum[r] = mu * accum[r] + grads[r]
            var[r] -= lr * accum[r]
        np.testing.assert_allclose(after, var, rtol=1e-12)
    got = _run_lookups(tf.train.FtrlOptimizer(lr, l1_regularization_strength=0.01))
    var, accum, linear = TABLE.copy(), np.full_like(TABLE, 0.1), np.zeros_like(TABLE)
    for step_ids, after in zip(LOOKUPS, got):
        rows, grads = _lookup_rows(step_ids)
        for r in rows:
            new_accum = accum[r] + grads[r] ** 2
            linear[r] += grads[r] - (np.sqrt(new_accum) - np.sqrt(accum[r])) / lr * var[r]
            quadratic = np.sqrt(new_accum) / lr
            var[r] = np.where(np.abs(linear[r]) > 0.01, (np.sign(linear[r]) * 0.01 - linear[r]) / quadratic, 0.0)
            accum[r] = new_accum
        np.testing.assert_allclose(after, var, rtol=1e-12)
    np.testing.assert_array_equal(got[-1][3], TABLE[3])


@pytest.mark.parametrize("make", [
    lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5),
    lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5, centered=True),
    lambda: tf.train.AdadeltaOptimizer(1.0),
    lambda: tf.train.ProximalGradientDescentOptimizer(0.1, 0.01, 0.5),
    lambda: tf.train.ProximalAdagradOptimizer(0.1, 0.1, 0.01, 0.5),
])
def test_sparse_updates_leave_the_rows_not_looked_up_as_tf(make):
    # each step equals the dense rule on the looked-up rows alone, their slots alike (the dense rule decayed
    # Adadelta's and RMSProp's accumulators of every row, moved rows by their momentum, shrank them by l2)
    slots = []
    got = _run_lookups(make(), slots)
    for before, after, kept in [(0, 1, [0, 2, 3]), (1, 2, [0, 1, 3])]:  # step 2 looks up row 1 only, step 3 row 2
        np.testing.assert_array_equal(got[after][kept], got[before][kept])
        for slot_before, slot_after in zip(slots[before], slots[after]):
            np.testing.assert_array_equal(slot_after[kept], slot_before[kept])
    np.testing.assert_array_equal(got[-1][3], TABLE[3])
    assert not np.array_equal(got[1][1], TABLE[1])


@pytest.mark.parametrize("value", [0.0, -0.1])
def test_adagrad_refuses_an_accumulator_that_does_not_start_positive_as_tf(value):
    # TF-1's Adagrad divides by sqrt(accum) with no epsilon: from 0, an element whose gradient is 0 became NaN
    with pytest.raises(ValueError, match="AdagradOptimizer: initial_accumulator_value must be positive"):
        tf.train.AdagradOptimizer(0.1, initial_accumulator_value=value)


def test_gather_of_a_variable_gives_the_optimizers_an_embedding_lookups_row_sparse_gradient():
    # TF-1's GatherV2 gradient along axis 0 is an IndexedSlices, as embedding_lookup's: row 1, looked up in the
    # first step only, stays where that step left it (0.2 - 0.1 = 0.1); the dense update moved it on by its
    # momentum (to 0.01), and FTRL zeroed rows 2 and 3, never looked up
    steps = [[0, 1], [0]]
    got = _run_lookups(tf.train.MomentumOptimizer(0.1, 0.9), lookup=tf.gather, steps=steps)
    np.testing.assert_allclose(got[-1][1], [0.1, 1.0], rtol=1e-12)
    np.testing.assert_allclose(got[-1][0], TABLE[0] - 0.1 * (1 + 1.9) * np.array([1.0, -2.0]), rtol=1e-12)
    np.testing.assert_array_equal(got[-1][2:], TABLE[2:])
    for make in (lambda: tf.train.FtrlOptimizer(0.1), lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5)):
        got = _run_lookups(make(), lookup=tf.gather, steps=steps)
        want = _run_lookups(make(), lookup=tf.nn.embedding_lookup, steps=steps)
        np.testing.assert_array_equal(got[-1], want[-1])
        np.testing.assert_array_equal(got[-1][2:], TABLE[2:])


def _run_clipped(optimizer, clip, steps) -> tuple:
    """The table after ``steps`` of ``optimizer`` applying ``clip(gradients)`` (a list and a norm to fetch) from
    ``compute_gradients`` of the lookups' loss, and the norm fetched at each step."""
    table = tf.Variable(TABLE, dtype=tf.float64)
    ids = tf.placeholder(tf.int32, [None])
    loss = tf.reduce_sum(tf.nn.embedding_lookup(table, ids) * tf.constant([1.0, -2.0], tf.float64))
    grads, variables = zip(*optimizer.compute_gradients(loss, [table]))
    clipped, norm = clip(list(grads))
    train = optimizer.apply_gradients(zip(clipped, variables))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        norms = [sess.run([train, norm], {ids: step_ids})[1] for step_ids in steps]
        return sess.run(table), norms


def test_clipped_lookup_gradients_stay_row_sparse_and_their_norm_squares_each_slice_as_tf():
    # TF-1 clips an IndexedSlices' values and keeps it sparse; its global norm squares each slice (ids [0, 0, 1]:
    # 3 * 5, not 4 * 5 + 5), and SparseApplyMomentum leaves row 1 after the second step. The dense gradient gave
    # norm 5 and moved row 1 on by its momentum
    g = np.array([1.0, -2.0])
    steps = [[0, 0, 1], [0]]
    got, norms = _run_clipped(tf.train.MomentumOptimizer(0.1, 0.9), lambda grads: tf.clip_by_global_norm(grads, 1.5),
                              steps)
    np.testing.assert_allclose(norms, [np.sqrt(15.0), np.sqrt(5.0)], rtol=1e-12)
    var, accum = TABLE.copy(), np.zeros_like(TABLE)
    for step_ids, norm in zip(steps, norms):
        factor = 1.5 / max(norm, 1.5)
        for r in sorted(set(step_ids)):
            accum[r] = 0.9 * accum[r] + step_ids.count(r) * factor * g
            var[r] -= 0.1 * accum[r]
    np.testing.assert_allclose(got, var, rtol=1e-12)
    np.testing.assert_allclose(got[1], TABLE[1] - 0.1 * g * 1.5 / np.sqrt(15.0), rtol=1e-12)
    # clip_by_value clips each slice before the repeated ids sum: row 0 gets 2 * [0.8, -0.8], not [0.8, -0.8]
    got, _ = _run_clipped(tf.train.GradientDescentOptimizer(0.1),
                          lambda grads: ([tf.clip_by_value(x, -0.8, 0.8) for x in grads], tf.constant(0.0)), steps[:1])
    np.testing.assert_allclose(got[0], TABLE[0] - 0.1 * np.array([1.6, -1.6]), rtol=1e-12)
    # clip_by_norm reads the slices' norm, and FTRL leaves the rows never looked up
    got, _ = _run_clipped(tf.train.FtrlOptimizer(0.1),
                          lambda grads: ([tf.clip_by_norm(x, 100.0) for x in grads], tf.constant(0.0)), steps)
    np.testing.assert_array_equal(got[2:], TABLE[2:])
    np.testing.assert_allclose(got, _run_lookups(tf.train.FtrlOptimizer(0.1), steps=steps)[-1], rtol=1e-12)

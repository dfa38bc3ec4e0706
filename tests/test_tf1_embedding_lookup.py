"""TF-1's embedding_lookup over shards ('mod' and 'div') and with max_norm."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(0)
TABLE = RNG.normal(size=(10, 4)).astype(np.float32)
IDS = np.array([[0, 9, 3], [4, 4, 7]], np.int64)


def _shards(table, strategy: str, n: int) -> list:
    """``table`` split as TF's partition strategy lays it out: 'mod' puts row p in shard p % n, 'div' gives
    each shard a contiguous range, the first (rows % n) shards one row more."""
    if strategy == "mod":
        return [table[k::n] for k in range(n)]
    per, extras = divmod(len(table), n)
    bounds = np.cumsum([0] + [per + 1 if k < extras else per for k in range(n)])
    return [table[bounds[k]:bounds[k + 1]] for k in range(n)]


@pytest.mark.parametrize("strategy", ["mod", "div"])
@pytest.mark.parametrize("n", [1, 3, 4])
def test_sharded_lookup_equals_the_whole_table(strategy, n):
    shards = [tf.Variable(s) for s in _shards(TABLE, strategy, n)]
    ids = tf.placeholder(tf.int64, [None, 3])
    rows = tf.nn.embedding_lookup(shards, ids, partition_strategy=strategy)
    weights = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    grads = tf.gradients(tf.reduce_sum(rows * weights), shards)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, got_grads = sess.run([rows, grads], {ids: IDS})
    np.testing.assert_array_equal(got, TABLE[IDS])
    unranked = tf.placeholder(tf.int64, None)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        looked_up = tf.nn.embedding_lookup(shards, unranked, partition_strategy=strategy)
        np.testing.assert_array_equal(sess.run(looked_up, {unranked: IDS[0]}), TABLE[IDS[0]])
    whole = np.zeros_like(TABLE)
    np.add.at(whole, IDS.ravel(), weights.reshape(-1, 4))
    for got_grad, expected in zip(got_grads, _shards(whole, strategy, n)):
        np.testing.assert_allclose(got_grad, expected, rtol=1e-6)


def test_max_norm_clips_the_looked_up_rows():
    table = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 2.0]], np.float32)  # norms 5, 0.5, 2
    params = tf.Variable(table)
    rows = tf.nn.embedding_lookup(params, tf.constant([[0, 1], [2, 0]]), max_norm=1.0)
    (grad,) = tf.gradients(tf.reduce_sum(rows[0, 0]), [params])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got, g = sess.run([rows, grad])
    expected = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(got, expected[[[0, 1], [2, 0]]], rtol=1e-6)
    # d/dx sum(x / |x|) at x = (3, 4): (1/|x|) - x sum(x) / |x|^3
    x = table[0].astype(np.float64)
    np.testing.assert_allclose(g[0], 1 / 5 - x * x.sum() / 125, rtol=1e-5)
    np.testing.assert_allclose(g[1:], 0.0)


def test_bad_shards_and_strategy():
    with pytest.raises(ValueError, match="partition_strategy"):
        tf.nn.embedding_lookup([tf.constant(TABLE)], tf.constant([0]), partition_strategy="range")
    with pytest.raises(ValueError, match=r"first dimension.*\[None, 4\]"):
        tf.nn.embedding_lookup([tf.placeholder(tf.float32, [None, 4]), tf.constant(TABLE)], tf.constant([0]))
    # TF-1's DynamicStitch takes one dtype: float32 and float64 shards were concatenated into float64
    with pytest.raises(TypeError, match="embedding_lookup: the shards must have one dtype.*float32.*float64"):
        tf.nn.embedding_lookup([tf.constant(TABLE), tf.constant(TABLE.astype(np.float64))], tf.constant([0]))
    with pytest.raises(ValueError, match=r"embedding_lookup: the shards' rows must have one shape.*\[10, 2\]"):
        tf.nn.embedding_lookup([tf.constant(TABLE), tf.constant(TABLE[:, :2])], tf.constant([0]))


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_ids_outside_the_table_and_float_ids_are_refused(shards, strategy):
    # a -1 read the last row (counted from the end) and, with shards, an id past the table another shard's row
    params = TABLE if shards == 1 else _shards(TABLE, strategy, shards)
    for bad in ([-1], [0, 10]):
        with tf.Session() as sess, pytest.raises(IndexError, match=r"ids must lie in \[0, 10\)"):
            sess.run(tf.nn.embedding_lookup(params, tf.constant(np.array(bad, np.int64)),
                                            partition_strategy=strategy))
    with pytest.raises(TypeError, match="embedding_lookup: ids must be int32 or int64.*float32"):
        tf.nn.embedding_lookup(params, tf.constant([1.5]), partition_strategy=strategy)


STEPS = [[[0, 9], [3, 0]], [[4, 4], [7, 7]], [[9, 1], [1, 9]]]  # rows 2, 5, 6 and 8 never looked up


def _reference(rule: str, lr: float) -> tuple:
    """The table and its slot after ``STEPS`` of TF-1's sparse update (``rule``) on ``sum(rows * W)``, in
    float64: Momentum and Adagrad update only the rows looked up in a step and their slots (SparseApply*),
    Adam's sparse update decays every row's moments (TF-1's AdamOptimizer is not lazy; its beta powers float32)."""
    var, slot, v = TABLE.astype(np.float64), np.full(TABLE.shape, 0.1 if rule == "adagrad" else 0.0), None
    weights = np.arange(1.0, 5.0) / 4
    p1, p2 = np.float32(0.9), np.float32(0.999)
    for ids in STEPS:
        grad = np.zeros_like(var)
        np.add.at(grad, np.ravel(ids), weights)
        rows = np.unique(ids)
        if rule == "momentum":
            slot[rows] = 0.9 * slot[rows] + grad[rows]
            var[rows] -= lr * slot[rows]
        elif rule == "adagrad":
            slot[rows] += grad[rows] ** 2
            var[rows] -= lr * grad[rows] / np.sqrt(slot[rows])
        else:
            v = np.zeros_like(var) if v is None else v
            slot, v = 0.9 * slot + 0.1 * grad, 0.999 * v + 0.001 * grad ** 2
            var -= lr * np.sqrt(1 - float(p2)) / (1 - float(p1)) * slot / (np.sqrt(v) + 1e-8)
            p1, p2 = p1 * np.float32(0.9), p2 * np.float32(0.999)
    return var, slot


@pytest.mark.parametrize("strategy", ["mod", "div"])
@pytest.mark.parametrize("rule", ["momentum", "adagrad", "adam"])
def test_sharded_lookups_update_only_each_shards_looked_up_rows_as_tf(strategy, rule):
    # TF-1 looks each shard up with its own ids (dynamic_partition), so each shard's gradient is an IndexedSlices
    # of its looked-up rows: SparseApplyMomentum / SparseApplyAdagrad leave the other rows and their slots. The
    # shards were concatenated, their gradients dense: row 9 (shard 0 under 'mod'), looked up in steps 1 and 3,
    # moved on by its momentum in step 2
    lr = 0.1
    optimizer = {"momentum": lambda: tf.train.MomentumOptimizer(lr, 0.9),
                 "adagrad": lambda: tf.train.AdagradOptimizer(lr),
                 "adam": lambda: tf.train.AdamOptimizer(lr)}[rule]()
    shards = [tf.Variable(s.astype(np.float64)) for s in _shards(TABLE, strategy, 3)]
    ids = tf.placeholder(tf.int32, [2, 2])
    loss = tf.reduce_sum(tf.nn.embedding_lookup(shards, ids, partition_strategy=strategy) *
                         tf.constant(np.arange(1.0, 5.0) / 4))
    train = optimizer.minimize(loss)
    slot = {"momentum": "momentum", "adagrad": "accumulator", "adam": "m"}[rule]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in STEPS:
            sess.run(train, {ids: step})
        got = sess.run(shards)
        got_slots = sess.run([optimizer.get_slot(s, slot) for s in shards])
    var, slots = _reference(rule, lr)
    for g, want in zip(got, _shards(var, strategy, 3)):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)
    for g, want in zip(got_slots, _shards(slots, strategy, 3)):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_sharded_lookup_with_max_norm_clips_each_row_as_tf(strategy):
    table = TABLE.astype(np.float64) * 3
    ids = np.array([[1, 8, 8], [0, 5, 2]])
    shards = [tf.constant(s) for s in _shards(table, strategy, 4)]
    with tf.Session() as sess:
        got = sess.run(tf.nn.embedding_lookup(shards, ids, partition_strategy=strategy, max_norm=2.5))
    rows = table[ids]
    np.testing.assert_allclose(got, rows * 2.5 / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 2.5),
                               rtol=1e-12)


def test_shards_not_laid_out_as_the_strategy_says_refuse_an_id_past_their_rows_as_tf():
    # TF-1 looks id 4 up at row 4 // 2 = 2 of shard 0 under 'mod', which has 2 rows: an error. The concatenated
    # shards read row 2 of the whole table, shard 1's first row
    shards = [tf.constant(TABLE[:2]), tf.constant(TABLE[2:7])]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(tf.nn.embedding_lookup(shards, [1, 3])), TABLE[[2, 3]])
        with pytest.raises(IndexError, match=r"ids must lie in \[0, 7\).*got 4"):
            sess.run(tf.nn.embedding_lookup(shards, [1, 4]))


def _sparse_apply(rule: str, var, grad, slots: dict, lr: float) -> None:
    """TF-1's SparseApply* kernel ``rule`` on the rows of ``var`` and ``slots`` a step's (summed) ``grad`` names, in
    float64 NumPy (tensorflow/core/kernels/training_ops.cc); ``var`` and the slots are those rows, updated in place."""
    if rule == "momentum":
        slots["momentum"][:] = 0.9 * slots["momentum"] + grad
        var -= lr * slots["momentum"]
    elif rule == "rmsprop":  # decay 0.9, momentum 0.5, epsilon 1e-10
        ms, mom = slots["rms"], slots["momentum"]
        ms += (grad * grad - ms) * 0.1
        mom[:] = 0.5 * mom + lr * grad / np.sqrt(ms + 1e-10)
        var -= mom
    else:  # ftrl: learning_rate_power -0.5, l1 0.01, l2 0.02
        accum, linear = slots["accum"], slots["linear"]
        new = accum + grad * grad
        linear += grad - (np.sqrt(new) - np.sqrt(accum)) / lr * var
        quadratic = np.sqrt(new) / lr + 2 * 0.02
        var[:] = np.where(np.abs(linear) > 0.01, (np.sign(linear) * 0.01 - linear) / quadratic, 0.0)
        accum[:] = new


@pytest.mark.parametrize("shape", [(6,), (6, 2, 3)])
@pytest.mark.parametrize("how", ["embedding_lookup", "gather"])
@pytest.mark.parametrize("rule", ["momentum", "rmsprop", "ftrl"])
def test_lookup_in_a_table_of_any_rank_updates_only_its_looked_up_rows_as_tf(shape, how, rule):
    # TF-1 gives any gather on a variable (axis 0) an IndexedSlices gradient, so SparseApply* moves only the rows
    # looked up, repeats summed. A 1-D or 3-D table's gradient was dense: a momentum row looked up in step 1 and
    # not in step 2 moved on by its momentum (nce_loss's 1-D biases), its slots decayed
    lr = 0.1
    optimizer = {"momentum": lambda: tf.train.MomentumOptimizer(lr, 0.9),
                 "rmsprop": lambda: tf.train.RMSPropOptimizer(lr, 0.9, 0.5),
                 "ftrl": lambda: tf.train.FtrlOptimizer(lr, l1_regularization_strength=0.01,
                                                        l2_regularization_strength=0.02)}[rule]()
    rng = np.random.default_rng(0)
    table = rng.normal(size=shape)
    steps = [[0, 2, 2], [2], [0, 3], [1, 1, 1]]  # rows 4 and 5 never looked up
    weights = [rng.normal(size=(len(s),) + shape[1:]) for s in steps]
    v = tf.Variable(table)
    ids, w = tf.placeholder(tf.int32, [None]), tf.placeholder(tf.float64, [None, *shape[1:]])
    rows = tf.nn.embedding_lookup(v, ids) if how == "embedding_lookup" else tf.gather(v, ids)
    train = optimizer.minimize(tf.reduce_sum(rows * w))
    names = {"momentum": ["momentum"], "rmsprop": ["rms", "momentum"], "ftrl": ["accum", "linear"]}[rule]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step, weight in zip(steps, weights):
            sess.run(train, {ids: step, w: weight})
        got, got_slots = sess.run(v), sess.run([optimizer.get_slot(v, n) for n in names])
    var = table.copy()
    slots = {n: np.full(shape, {"rms": 1.0, "accum": 0.1}.get(n, 0.0)) for n in names}
    for step, weight in zip(steps, weights):
        grad = np.zeros(shape)
        np.add.at(grad, step, weight)
        looked = np.unique(step)
        part, part_slots = var[looked], {n: s[looked] for n, s in slots.items()}
        _sparse_apply(rule, part, grad[looked], part_slots, lr)
        var[looked] = part
        for n, s in part_slots.items():
            slots[n][looked] = s
    np.testing.assert_allclose(got, var, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(got[4:], table[4:])
    for g, n in zip(got_slots, names):
        np.testing.assert_allclose(g, slots[n], rtol=1e-12, atol=1e-14)

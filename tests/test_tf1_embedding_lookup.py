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

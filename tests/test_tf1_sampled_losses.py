"""TF-1's candidate samplers and sampled losses (nce_loss, sampled_softmax_loss): TF's formulas against NumPy,
the samplers' laws, and a small skip-gram model that trains."""

import numpy as np
import pytest

import ember.compat.tf as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    tf.set_random_seed(0)
    yield
    tf.reset_default_graph()


RNG = np.random.default_rng(0)
CLASSES, DIM = 12, 5
W = RNG.normal(size=(CLASSES, DIM)).astype(np.float32)
B = RNG.normal(size=CLASSES).astype(np.float32)
X = RNG.normal(size=(3, DIM)).astype(np.float32)
LABELS = np.array([[2, 7], [0, 5], [11, 3]], np.int64)
SAMPLED = np.array([5, 1, 9, 3], np.int64)  # 5 and 3 are true classes of some rows
TRUE_COUNT = RNG.uniform(0.1, 1.0, size=(3, 2)).astype(np.float32)
SAMPLED_COUNT = RNG.uniform(0.1, 1.0, size=4).astype(np.float32)


def _numpy_logits(x, remove_hits: bool):
    """TF's _compute_sampled_logits in float64."""
    w, b = W.astype(np.float64), B.astype(np.float64)
    true_logits = np.einsum("bd,btd->bt", x, w[LABELS]) + b[LABELS] - np.log(TRUE_COUNT)
    sampled_logits = x @ w[SAMPLED].T + b[SAMPLED] - np.log(SAMPLED_COUNT)
    if remove_hits:
        hits = (LABELS[:, :, None] == SAMPLED[None, None, :]).any(axis=1)
        sampled_logits = sampled_logits + np.where(hits, np.finfo(np.float32).min, 0.0)  # TF's -FLT_MAX
    logits = np.concatenate([true_logits, sampled_logits], axis=1)
    labels = np.concatenate([np.full((3, 2), 0.5), np.zeros((3, 4))], axis=1)
    return logits, labels


def _numpy_nce(x, remove_hits=False):
    z, y = _numpy_logits(x, remove_hits)
    return (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)


def _numpy_sampled_softmax(x, remove_hits=True):
    z, y = _numpy_logits(x, remove_hits)
    top = z.max(axis=1, keepdims=True)
    log_softmax = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
    return -(y * log_softmax).sum(axis=1)


def _numeric_grad(fn, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (fn(x + d).sum() - fn(x - d).sum()) / (2 * eps)
    return g


@pytest.mark.parametrize("loss_name, reference, remove", [
    ("nce_loss", _numpy_nce, False), ("nce_loss", _numpy_nce, True),
    ("sampled_softmax_loss", _numpy_sampled_softmax, True), ("sampled_softmax_loss", _numpy_sampled_softmax, False),
])
def test_sampled_losses_equal_tf_formula(loss_name, reference, remove):
    inputs = tf.placeholder(tf.float32, [None, DIM])
    loss = getattr(tf.nn, loss_name)(
        weights=tf.constant(W), biases=tf.constant(B), labels=tf.constant(LABELS), inputs=inputs, num_sampled=4,
        num_classes=CLASSES, num_true=2, remove_accidental_hits=remove,
        sampled_values=(tf.constant(SAMPLED), tf.constant(TRUE_COUNT), tf.constant(SAMPLED_COUNT)))
    assert loss.shape.as_list() == [3]
    (grad,) = tf.gradients(tf.reduce_sum(loss), [inputs])
    with tf.Session() as sess:
        got, got_grad = sess.run([loss, grad], {inputs: X})
    x = X.astype(np.float64)
    np.testing.assert_allclose(got, reference(x, remove), rtol=1e-5)
    np.testing.assert_allclose(got_grad, _numeric_grad(lambda v: reference(v, remove), x), rtol=1e-4, atol=1e-5)


def test_sampled_losses_over_weight_shards():
    shards = [tf.constant(W[k::3]) for k in range(3)]
    loss = tf.nn.nce_loss(shards, tf.constant(B), tf.constant(LABELS), tf.constant(X), 4, CLASSES, num_true=2,
                          sampled_values=(tf.constant(SAMPLED), tf.constant(TRUE_COUNT), tf.constant(SAMPLED_COUNT)))
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss), _numpy_nce(X.astype(np.float64)), rtol=1e-5)


def _log_uniform(range_max):
    k = np.arange(range_max)
    return np.log((k + 2.0) / (k + 1.0)) / np.log(range_max + 1.0)


def _tf_unique_tries(p, num_sampled, rng):
    """TF's loop: draw until num_sampled distinct classes, counting every try."""
    seen, tries = set(), 0
    while len(seen) < num_sampled:
        seen.add(int(rng.choice(len(p), p=p)))
        tries += 1
    return tries


def _assert_frequencies(freq, p, n):
    """Empirical frequencies of n draws within four standard errors (plus a little) of the law p."""
    tolerance = 4 * np.sqrt(p * (1 - p) / n) + 1e-3
    assert (np.abs(freq - p) <= tolerance).all(), (freq, p)


def test_log_uniform_sampler_follows_the_law_and_is_fresh_each_run():
    true_classes = tf.placeholder(tf.int64, [None, 1])
    sampled, true_count, sampled_count = tf.random.log_uniform_candidate_sampler(true_classes, 1, 8, False, 20)
    assert sampled.dtype == np.int64 and true_count.dtype == np.float32
    p = _log_uniform(20)
    runs = 1500
    counts = np.zeros(20)
    with tf.Session() as sess:
        first = sess.run(sampled, {true_classes: [[0]]})
        for _ in range(runs):
            s, tc, sc = sess.run([sampled, true_count, sampled_count], {true_classes: [[0], [4]]})
            counts += np.bincount(s, minlength=20)
    assert not np.array_equal(first, s)
    freq = counts / (runs * 8)
    _assert_frequencies(freq, p, runs * 8)
    # without unique, the expected count is p * num_sampled
    np.testing.assert_allclose(tc, 8 * p[[[0], [4]]], rtol=1e-5)
    np.testing.assert_allclose(sc, 8 * p[s], rtol=1e-5)


def test_unique_log_uniform_sampler_matches_tf_rejection_loop():
    true_classes = tf.constant(np.array([[1]], np.int64))
    sampled, true_count, sampled_count = tf.nn.log_uniform_candidate_sampler(true_classes, 1, 6, True, 15)
    p = _log_uniform(15)
    runs = 1500
    firsts, tries = np.zeros(15), []
    with tf.Session() as sess:
        for _ in range(runs):
            s, tc, sc = sess.run([sampled, true_count, sampled_count])
            assert len(set(s)) == 6
            firsts[s[0]] += 1
            if np.isclose(sc[0], 6 * p[s[0]], rtol=1e-6):  # no try rejected
                tries.append(6)
                np.testing.assert_allclose(tc[0, 0], 6 * p[1], rtol=1e-5)
            else:  # the tries, from TF's expected count 1 - (1 - p) ** tries
                tries.append(np.log1p(-float(sc[0])) / np.log1p(-p[s[0]]))
                np.testing.assert_allclose(tc[0, 0], -np.expm1(tries[-1] * np.log1p(-p[1])), rtol=1e-4)
    _assert_frequencies(firsts / runs, p, runs)  # the first class drawn follows the law
    rng = np.random.default_rng(1)
    reference = [_tf_unique_tries(p, 6, rng) for _ in range(runs)]
    spread = np.std(reference) / np.sqrt(runs)
    assert abs(np.mean(tries) - np.mean(reference)) < 5 * spread


def test_uniform_and_fixed_unigram_samplers():
    true_classes = tf.constant(np.array([[0]], np.int64))
    uniform = tf.random.uniform_candidate_sampler(true_classes, 1, 10, True, 10)
    unigram = tf.random.fixed_unigram_candidate_sampler(true_classes, 1, 3, False, 5, unigrams=[1, 0, 3, 0, 4],
                                                        distortion=0.5)
    counts = np.zeros(5)
    with tf.Session() as sess:
        s, tc, _ = sess.run(uniform)
        assert sorted(s) == list(range(10))  # every class once
        for _ in range(1000):
            counts += np.bincount(sess.run(unigram[0]), minlength=5)
    weights = np.sqrt([1, 0, 3, 0, 4])
    p = weights / weights.sum()
    assert counts[1] == counts[3] == 0
    np.testing.assert_allclose(counts / 3000, p, atol=0.03)
    with pytest.raises(ValueError, match=r"num_sampled \(11\) cannot exceed range_max \(10\)"):
        tf.random.uniform_candidate_sampler(true_classes, 1, 11, True, 10)
    with pytest.raises(ValueError, match="must equal range_max"):
        tf.random.fixed_unigram_candidate_sampler(true_classes, 1, 2, False, 4, unigrams=[1, 2])
    with pytest.raises(ValueError, match=r"true_classes must have shape \[batch_size, num_true=2\]"):
        tf.random.log_uniform_candidate_sampler(true_classes, 2, 3, True, 10)


@pytest.mark.parametrize("loss_fn", [tf.nn.nce_loss, tf.nn.sampled_softmax_loss])
def test_a_tiny_skip_gram_model_trains(loss_fn):
    # a corpus of 6 "sentences" over 30 words: each word's context is its neighbour in a fixed cycle
    vocab, dim, batch = 30, 8, 32
    rng = np.random.default_rng(0)
    centers = tf.placeholder(tf.int64, [batch])
    contexts = tf.placeholder(tf.int64, [batch, 1])
    embeddings = tf.Variable(tf.random_uniform([vocab, dim], -1.0, 1.0))
    weights = tf.Variable(tf.truncated_normal([vocab, dim], stddev=1.0 / np.sqrt(dim)))
    biases = tf.Variable(tf.zeros([vocab]))
    embedded = tf.nn.embedding_lookup(embeddings, centers)
    loss = tf.reduce_mean(loss_fn(weights=weights, biases=biases, labels=contexts, inputs=embedded, num_sampled=5,
                                  num_classes=vocab))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    # the full softmax's cross-entropy of the true context, to judge the model independently of the sampling
    logits = tf.matmul(embedded, weights, transpose_b=True) + biases
    full = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=contexts[:, 0], logits=logits))
    permutation = rng.permutation(vocab)
    following = np.empty(vocab, np.int64)
    following[permutation] = np.roll(permutation, -1)
    evaluation = {centers: np.arange(batch) % vocab, contexts: following[np.arange(batch) % vocab][:, None]}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(full, evaluation)
        for _ in range(300):
            c = rng.integers(0, vocab, batch)
            sess.run(train, {centers: c, contexts: following[c][:, None]})
        after = sess.run(full, evaluation)
    assert before > np.log(vocab) * 0.8
    assert after < before / 10  # the full cross-entropy falls from about log(30) = 3.4 by a factor of 10 or more


@pytest.mark.parametrize("unique", [True, False])
def test_a_seeded_sampler_repeats_its_draws_in_each_new_session(unique):
    # seed= was accepted and ignored: every Session drew other classes
    true_classes = tf.constant([[1], [2]], dtype=tf.int64)
    first = tf.random.log_uniform_candidate_sampler(true_classes, 1, 6, unique, 100, seed=3)[0]
    other = tf.random.uniform_candidate_sampler(true_classes, 1, 6, unique, 100, seed=4)[0]
    loss = tf.nn.sampled_softmax_loss(tf.ones([100, 3]), tf.zeros([100]), true_classes, tf.ones([2, 3]), 6, 100,
                                      seed=5)
    runs = []
    for _ in range(2):
        with tf.Session() as sess:
            runs.append([sess.run([first, other, loss]) for _ in range(2)])
    for (a, b, c), (d, e, f) in zip(*runs):  # each run of the second Session repeats the first's
        np.testing.assert_array_equal(a, d)
        np.testing.assert_array_equal(b, e)
        np.testing.assert_array_equal(c, f)
    assert not np.array_equal(runs[0][0][0], runs[0][1][0])  # fresh on every run of one Session


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_sampled_losses_over_shards_equal_those_over_the_whole_table(strategy):
    # each shard is looked up with its own sampled ids, routed by a host call: those are the ids the run draws,
    # so the losses equal the whole table's with the same seeded sampler, run after run
    def shards(table):
        if strategy == "mod":
            return [tf.constant(table[k::3]) for k in range(3)]
        return [tf.constant(part) for part in np.split(table, [4, 8])]

    labels = tf.constant(LABELS[:, :1])
    losses = []
    for w, b in ((tf.constant(W), tf.constant(B)), (shards(W), shards(B))):
        sampled = tf.nn.log_uniform_candidate_sampler(labels, 1, 4, True, CLASSES, seed=7)
        losses.append(tf.nn.sampled_softmax_loss(w, b, labels, tf.constant(X), 4, CLASSES, sampled_values=sampled,
                                                 partition_strategy=strategy))
    with tf.Session() as sess:
        for _ in range(3):
            whole, sharded = sess.run(losses)
            np.testing.assert_allclose(sharded, whole, rtol=1e-6)

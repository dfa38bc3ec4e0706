"""Hash-embedding admission, eviction and metadata, and a small training run to a stated AUC."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.embedding import (
    CountingBloomFilter,
    CountThreshold,
    HashEmbedding,
    HashEmbeddingBag,
    L2Norm,
    Probability,
    StepTTL,
)


def _values(emb, ids) -> np.ndarray:
    return emb.table.read(emb.table.lookup(np.asarray(ids, np.int64), train=False))


def _step(emb, opt, ids) -> ember.Tensor:
    out = emb(np.asarray(ids))
    (out * out).sum().backward()
    opt.step()
    opt.zero_grad()
    return out


# --- admission ---

def test_count_threshold_admits_on_the_nth_lookup_and_leaves_others_untrained():
    emb = HashEmbedding(3, seed=4, admission=CountThreshold(3))
    plain = HashEmbedding(3, seed=4)
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)
    out = _step(emb, opt, [7, 8, 8])
    assert len(emb) == 0 and not out.detach().numpy().any()  # kept out: default rows, nothing to update
    out = _step(emb, opt, [7, 8])  # 8 reaches 3 lookups (two in the first batch)
    assert len(emb) == 1
    np.testing.assert_array_equal(out.detach().numpy()[1], plain(np.array([8])).detach().numpy()[0])
    assert not out.detach().numpy()[0].any()
    assert emb.weight.grad is None
    _step(emb, opt, [7])
    assert len(emb) == 2 and len(emb.table.admission) == 0  # admitted ids leave the counter


def test_counting_bloom_filter_never_underestimates_and_admits_at_the_threshold():
    bloom = CountingBloomFilter(4, num_counters=257, num_hashes=3)  # small: collisions on purpose
    rng = np.random.default_rng(0)
    truth: dict = {}
    for _ in range(20):
        keys, counts = np.unique(rng.integers(0, 300, 50), return_counts=True)
        admitted = bloom.admit(keys, counts)
        for k, c in zip(keys.tolist(), counts.tolist()):
            truth[k] = truth.get(k, 0) + c
        assert all(admitted[i] for i, k in enumerate(keys.tolist()) if truth[k] >= 4)
    keys = np.array(sorted(truth))
    assert (bloom.estimate(keys) >= np.array([truth[k] for k in keys.tolist()])).all()
    emb = HashEmbedding(2, admission=CountingBloomFilter(2, num_counters=1 << 16))
    emb(np.array([5]))
    assert len(emb) == 0
    emb(np.array([5, 6]))
    assert len(emb) == 1


def test_probability_admission_rate_and_determinism():
    first = HashEmbedding(2, admission=Probability(0.3, seed=1))
    first(np.arange(20000))
    assert abs(len(first) / 20000 - 0.3) < 0.02
    twice = HashEmbedding(2, admission=Probability(0.3, seed=1))
    twice(np.arange(20000))
    assert np.array_equal(np.sort(first.table.index.key_of_row[first.table.live_rows()]),
                          np.sort(twice.table.index.key_of_row[twice.table.live_rows()]))
    repeated = HashEmbedding(2, admission=Probability(0.3, seed=2))
    repeated(np.repeat(np.arange(20000), 3))  # three lookups in one batch: 1 - 0.7**3
    assert abs(len(repeated) / 20000 - (1 - 0.7**3)) < 0.02
    assert len(HashEmbedding(2, admission=Probability(1.0))(np.arange(10))) == 10
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\]"):
        Probability(0)


def _admitted(emb) -> np.ndarray:
    return np.sort(emb.table.index.key_of_row[emb.table.live_rows()])


def test_probability_admission_does_not_depend_on_the_other_ids_of_the_table():
    """A draw is a function of (seed, id, step, earlier lookups in the step): two tables each seeing half the ids
    (the shards of a sharded table) admit what one table seeing them all admits (a generator's next numbers gave
    each shard other draws: ids 1, 2, 3 in one table, 2, 3, 4, 7, 8 in two)."""
    ids = np.arange(40).reshape(4, 10)
    one = HashEmbedding(2, seed=0, admission=Probability(0.5, seed=0))
    halves = [HashEmbedding(2, seed=0, admission=Probability(0.5, seed=0)) for _ in range(2)]
    opts = [ember.optim.SGD(m.parameters(), lr=0.1) for m in (one, *halves)]
    for _ in range(3):  # ids kept out draw again in later steps
        for opt in opts:
            opt.zero_grad()
        one(ids).sum().backward()
        for half, part in zip(halves, (ids[ids % 2 == 0], ids[ids % 2 == 1])):
            half(part).sum().backward()
        for opt in opts:
            opt.step()
    assert 0 < len(one) < 40
    np.testing.assert_array_equal(_admitted(one), np.sort(np.concatenate([_admitted(h) for h in halves])))


def test_probability_admission_keeps_its_rate_per_lookup():
    """Each lookup of an unseen id is admitted with probability p, independently: within 4 standard errors over
    1e5 ids for one lookup, three in one batch, a second lookup in the same step and one after an update."""
    n, p = 100_000, 0.3

    def check(emb, expected):
        assert abs(len(emb) / n - expected) < 4 * np.sqrt(expected * (1 - expected) / n), (len(emb) / n, expected)

    emb = HashEmbedding(2, admission=Probability(p, seed=5))
    emb(np.arange(n))
    check(emb, p)
    emb(np.arange(n))  # the same step: new draws for the second lookup
    check(emb, 1 - (1 - p) ** 2)
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)
    emb(np.arange(n)).sum().backward()
    opt.step()
    emb(np.arange(n))  # after an update: new draws again
    check(emb, 1 - (1 - p) ** 4)
    repeated = HashEmbedding(2, admission=Probability(p, seed=6))
    repeated(np.repeat(np.arange(n), 3))
    check(repeated, 1 - (1 - p) ** 3)
    split = HashEmbedding(2, admission=Probability(p, seed=6))
    split(np.arange(n))  # a first lookup and a second one in the same step: the draws of one lookup of three
    split(np.repeat(np.arange(n), 2))
    check(split, 1 - (1 - p) ** 3)


def test_probability_admission_resumes_from_its_state():
    emb = HashEmbedding(2, admission=Probability(0.4, seed=3), seed=0)
    emb(np.arange(1000))
    copy = HashEmbedding(2, admission=Probability(0.4, seed=9), seed=0)
    copy.load_state_dict(emb.state_dict())  # the seed and the step's draws so far come with the state
    emb(np.arange(2000))
    copy(np.arange(2000))
    np.testing.assert_array_equal(_admitted(emb), _admitted(copy))


# --- eviction and metadata ---

def test_metadata_counts_lookups_and_steps():
    emb = HashEmbedding(2, seed=0, metadata=True)
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)
    _step(emb, opt, [1, 1, 2])
    _step(emb, opt, [1])
    state = emb.state_dict()
    by_key = dict(zip(state["keys"].tolist(), zip(state["meta.freq"].tolist(), state["meta.last_step"].tolist())))
    assert by_key == {1: (3, 2), 2: (1, 1)}  # the (1-based) step each row was last written for
    assert state["step"] == 2


def test_step_ttl_evicts_idle_rows_and_reuses_them():
    emb = HashEmbedding(2, seed=0, eviction=StepTTL(2))
    opt = ember.optim.SGD(emb.parameters(), lr=0.5)
    _step(emb, opt, [1, 2])
    for _ in range(3):
        _step(emb, opt, [1])
    assert len(emb) == 1 and emb.table.index.find(np.array([2])).tolist() == [-1]
    top = emb.table.top
    emb.eval()
    assert not _values(emb, [2]).any()
    emb.train()
    fresh = emb(np.array([3])).detach().numpy()
    assert emb.table.top == top  # the evicted row was reused
    np.testing.assert_array_equal(fresh, HashEmbedding(2, seed=0)(np.array([3])).detach().numpy())


def test_step_ttl_scans_every_chunk_and_skips_rows_given_back():
    emb = HashEmbedding(2, seed=0, eviction=StepTTL(2), chunk_rows=4)  # rows over several chunks
    opt = ember.optim.SGD(emb.parameters(), lr=0.5)
    _step(emb, opt, list(range(1, 11)))
    _step(emb, opt, [1])
    _step(emb, opt, [1])  # keys 2..10 idle for two steps: evicted, their rows given back
    assert len(emb) == 1 and emb.table.free.size == 9
    for _ in range(3):  # key 2 comes back in a reused row; the others' stale rows must not take it away
        _step(emb, opt, [1, 2])
        assert sorted(emb.table.index.key_of_row[emb.table.live_rows()].tolist()) == [1, 2]
    assert emb.table.free.size == 8


def test_l2_eviction_removes_rows_driven_to_zero():
    emb = HashEmbedding(2, initializer=lambda keys, dim, seed: np.repeat((keys % 2)[:, None], dim, 1) * 1.0,
                        eviction=L2Norm(1e-3))
    opt = ember.optim.SGD(emb.parameters(), lr=0.0)
    _step(emb, opt, [2, 3, 4, 5])
    assert sorted(emb.table.index.key_of_row[emb.table.live_rows()].tolist()) == [3, 5]


@pytest.mark.parametrize("policy,survivors", [("lfu", [1, 2, 3]), ("lru", [3, 4, 5])])
def test_capacity_cap_keeps_the_most_used_rows(policy, survivors):
    emb = HashEmbedding(2, capacity=3, capacity_policy=policy, seed=0)
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)
    emb(np.array([1, 1, 1, 2, 2, 2, 3, 3]))  # frequent, looked up before the others
    for ids in ([4], [5], [3]):
        emb(np.array(ids))
    emb.table.step += 1  # 4, 5 and 3 above share one step; advance the clock before the last lookups
    emb(np.array([4, 5, 3])).sum().backward()
    opt.step()
    assert sorted(emb.table.index.key_of_row[emb.table.live_rows()].tolist()) == survivors


# --- a small training run ---

def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    ranks = np.empty(scores.size)
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, scores.size + 1)
    positives = labels.sum()
    return float((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * (labels.size - positives)))


def test_logistic_regression_on_hashed_string_ids_reaches_the_planted_auc():
    rng = np.random.default_rng(0)
    users = np.array([f"user:{i}" for i in range(300)])
    items = np.array([f"item:{i}" for i in range(150)])
    weight_u, weight_i = rng.normal(size=300) * 1.5, rng.normal(size=150) * 1.5

    def sample(n):
        u, i = rng.integers(0, 300, n), rng.integers(0, 150, n)
        p = 1 / (1 + np.exp(-(weight_u[u] + weight_i[i])))
        return np.stack([users[u], items[i]], axis=1), (rng.random(n) < p).astype(np.float32), p

    train_x, train_y, _ = sample(30000)
    test_x, test_y, test_p = sample(5000)
    ember.manual_seed(0)
    bag = HashEmbeddingBag(1, mode="sum", initializer=0.0, seed=0)
    bias = ember.nn.Parameter(ember.zeros(1))
    sparse_opt = ember.optim.Adagrad(bag.parameters(), lr=0.3)
    dense_opt = ember.optim.SGD([bias], lr=0.05)
    for _ in range(3):
        for start in range(0, train_x.shape[0], 500):
            logits = bag(train_x[start:start + 500]).reshape(-1) + bias
            labels = ember.tensor(train_y[start:start + 500])
            loss = ember.nn.functional.binary_cross_entropy_with_logits(logits, labels)
            loss.backward()
            sparse_opt.step()
            dense_opt.step()
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
    bag.eval()
    with ember.no_grad():
        scores = (bag(test_x).reshape(-1) + bias).numpy()
    ceiling = _auc(test_p, test_y)  # the planted model's own AUC on these labels
    assert len(bag) == 450
    assert _auc(scores, test_y) > ceiling - 0.02, (_auc(scores, test_y), ceiling)  # 0.873 against 0.878


def test_frequency_saturates_at_16_bits_and_old_32_bit_counts_load_clipped():
    emb = HashEmbedding(2, seed=0, metadata=("freq",))
    with ember.no_grad():
        emb(np.full(70_000, 5, np.int64))  # one batch repeating a key past 65535
        emb(np.array([5, 6]))
    state = emb.state_dict()
    assert state["meta.freq"].dtype == np.uint16
    assert dict(zip(state["keys"].tolist(), state["meta.freq"].tolist())) == {5: 65535, 6: 1}
    state["meta.freq"] = np.array([100_000, 7], np.uint32)[np.argsort(state["keys"])]  # an older checkpoint
    restored = HashEmbedding(2, seed=0, metadata=("freq",))
    restored.load_state_dict(state)
    loaded = restored.state_dict()
    assert dict(zip(loaded["keys"].tolist(), loaded["meta.freq"].tolist())) == {5: 65535, 6: 7}


@pytest.mark.parametrize("policy", ["lfu", "lru"])
def test_capacity_selection_equals_a_full_sort_with_ties_free_rows_and_many_chunks(policy, monkeypatch):
    from ember.embedding import eviction
    from ember.embedding.eviction import over_capacity

    monkeypatch.setattr(eviction, "_BLOCK", 24)  # blocks of 24 rows, within chunks of 64
    emb = HashEmbedding(2, capacity=10**6, capacity_policy=policy, seed=0, chunk_rows=64)
    table = emb.table
    rng = np.random.default_rng(7)
    keys = rng.permutation(2000).astype(np.int64) * 7 - 5000
    with ember.no_grad():
        for part in np.array_split(keys, 200):  # rows in batch order, not key order (a batch gets sorted ids)
            emb(part)
    table.remove_rows(rng.choice(2000, 150, replace=False))  # free rows keep stale metadata
    plan = table.layout.plan(np.arange(table.top))
    table.meta["freq"].write(plan, rng.integers(0, 4, table.top) * 30000)  # few values: many ties
    table.meta["last_step"].write(plan, rng.choice([-2**31, -7, 0, 3, 2**31 - 1], table.top))
    live = table.live_rows()
    for excess in (1, 2, 37, 500, 1700, 1849, 1850, 5000):
        excluded = np.unique(rng.choice(live, 60, replace=False))
        candidates = np.setdiff1d(live, excluded)
        freq = table.meta["freq"].read(table.layout.plan(candidates))
        last = table.meta["last_step"].read(table.layout.plan(candidates))
        ids = table.index.key_of_row[candidates]
        order = np.lexsort((ids, last, freq) if policy == "lfu" else (ids, freq, last))
        expected = np.sort(candidates[order[:excess]])
        assert np.sort(over_capacity(table, excluded, excess)).tolist() == expected.tolist()

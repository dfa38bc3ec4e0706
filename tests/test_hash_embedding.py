"""Hash embeddings: the id index, lookups, gradients, sparse optimizers, bags, dtypes and growth."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.embedding import Constant, HashEmbedding, HashEmbeddingBag, Normal, Uniform, hash_strings
from ember.embedding.index import IdIndex
from ember.embedding.pool import ChunkLayout, RowPool
from ember.embedding.segments import Deduper, segment_sum
from ember.sparse import RowSparse


def _rows(emb, ids) -> np.ndarray:
    with ember.no_grad():
        return emb(np.asarray(ids)).numpy()


# --- the index and the pools ---

def test_index_matches_a_dict_through_inserts_and_removals():
    rng = np.random.default_rng(0)
    index, reference, next_row = IdIndex(capacity=16), {}, 0
    for _ in range(30):
        batch = np.unique(rng.integers(-2**63, 2**63 - 1, rng.integers(1, 400), dtype=np.int64))
        batch = np.concatenate([batch, rng.integers(-50, 50, 40)])  # small keys collide with earlier batches
        found = index.find(batch)
        assert found.tolist() == [reference.get(int(k), -1) for k in batch]
        new = np.unique(batch[found < 0])
        rows = np.arange(next_row, next_row + new.size)
        next_row += new.size
        index.add(new, rows)
        reference.update(zip(new.tolist(), rows.tolist()))
        gone = np.unique(np.array(list(reference)[:: 7][:20], np.int64))
        assert index.remove(np.concatenate([gone, gone[:3]])).tolist() == [reference.pop(int(k)) for k in gone]
        assert len(index) == len(reference)
    keys = np.array(list(reference), np.int64)
    assert index.find(keys).tolist() == list(reference.values())
    assert index.find(keys.reshape(-1, 1)).shape == (keys.size, 1)
    assert index.capacity * 0.8 >= index.used


def test_index_grows_to_prime_slot_counts_and_rebuilds_in_blocks(monkeypatch):
    from ember.embedding import index as index_module

    monkeypatch.setattr(index_module, "_REBUILD_BLOCK", 64)  # many blocks per rebuild
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(-2**63, 2**63 - 1, 5000, dtype=np.int64))
    rng.shuffle(keys)
    index, top, growths = IdIndex(capacity=16), 0, 0
    for part in np.array_split(keys, 37):
        before = index.capacity
        index.add(part, np.arange(top, top + part.size))
        top += part.size
        if index.capacity != before:  # grown to the smallest prime holding the rows at the grown load
            growths += 1
            assert index.capacity == index_module.next_prime(int(top / 0.4) + 1)
        assert index.used <= 0.8 * index.capacity
    assert growths >= 5
    assert index.find(keys).tolist() == list(range(keys.size))
    index.remove(keys[::3])
    assert index.find(keys).tolist() == [-1 if i % 3 == 0 else i for i in range(keys.size)]
    index._rebuild(index.capacity)  # rows are missing below top: re-placed from the old slots; markers go
    assert index.used == len(index) == keys.size - keys[::3].size
    assert index.find(keys).tolist() == [-1 if i % 3 == 0 else i for i in range(keys.size)]
    assert index.rows().tolist() == [i for i in range(keys.size) if i % 3]


def test_a_large_index_grows_by_a_quarter_to_load_0_72(monkeypatch):
    from ember.embedding import index as index_module

    monkeypatch.setattr(index_module, "_LARGE", 1000)  # "large" past 1000 rows
    keys = np.random.default_rng(5).permutation(20_000).astype(np.int64) * 104729
    index, sizes = IdIndex(capacity=16), []
    for lo in range(0, keys.size, 500):
        index.add(keys[lo : lo + 500], np.arange(lo, lo + 500))
        if not sizes or index.capacity != sizes[-1]:
            sizes.append(index.capacity)
            if lo + 500 > 1000:  # grown for load 0.72, after passing 0.9
                assert index.capacity == index_module.next_prime(int((lo + 500) / 0.72) + 1)
        assert index.used <= 0.9 * index.capacity
    assert len(sizes) >= 8 and 0.72 <= keys.size / index.capacity <= 0.9
    assert all(1.1 < b / a < 1.35 for a, b in zip(sizes[-4:-1], sizes[-3:]))
    assert index.find(keys).tolist() == list(range(keys.size))


def test_next_prime_and_the_probe_start_for_any_slot_count():
    from ember.embedding.index import _probe_start, next_prime

    assert [next_prime(n) for n in (0, 2, 14, 17, 18, 7920, 2**31 - 2)] == [2, 2, 17, 17, 19, 7927, 2**31 - 1]
    keys = np.arange(-1000, 1000, dtype=np.int64)
    for size in (17, 4099, 2**31 - 1, 2**33 + 17):
        home, step = _probe_start(keys, size)
        assert home.min() >= 0 and home.max() < size
        assert step.min() >= 1 and step.max() < size


def test_growing_a_dense_index_never_holds_two_slot_arrays(monkeypatch):
    import tracemalloc

    from ember.embedding import index as index_module

    monkeypatch.setattr(index_module, "_REBUILD_BLOCK", 2048)  # temporaries small beside the slots

    def rebuild_peak(index, capacity):
        """Traced memory's peak during a rebuild, above what was traced before it."""
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        index._rebuild(capacity)
        return tracemalloc.get_traced_memory()[1] - before

    n = 150_000
    keys = np.random.default_rng(4).permutation(n).astype(np.int64) * 7919
    monkeypatch.setattr(index_module, "_GROWN_LOAD", {False: 0.3, True: 0.3})  # growth away from key_of_row's
    tracemalloc.start()  # before the slots are made, so that freeing them counts
    try:
        index = IdIndex()
        for lo, hi in [(0, 50_000), (50_000, 90_000), (90_000, 110_000), (110_000, 131_000)]:
            index.add(keys[lo:hi], np.arange(lo, hi))
        old_bytes, key_column = index.slots.nbytes, index.key_of_row.size
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        index.add(keys[131_000:134_000], np.arange(131_000, 134_000))  # past the 0.8 load: the slots grow
        peak = tracemalloc.get_traced_memory()[1] - before
        new_bytes = index.slots.nbytes
        assert new_bytes > 2 * old_bytes and index.key_of_row.size == key_column
        assert peak < new_bytes - 0.25 * old_bytes  # the old slots went before the new ones came
        np.testing.assert_array_equal(index.find(keys[:134_000]), np.arange(134_000))  # (no Python ints)
        index.add(keys[134_000:], np.arange(134_000, n))
        old_bytes = index.slots.nbytes
        peak = rebuild_peak(index, 2 * index.capacity)  # every row below the top is live: keys suffice
        new_bytes = index.slots.nbytes
        assert new_bytes > 1.9 * old_bytes
        assert peak < new_bytes - 0.5 * old_bytes
        np.testing.assert_array_equal(index.find(keys), np.arange(n))
        index.remove(keys[:1])  # a row missing below the top: the live rows come from the old slots
        peak = rebuild_peak(index, index.capacity)
        assert peak >= index.slots.nbytes  # the new slots came while the old ones were still held
        np.testing.assert_array_equal(index.find(keys), np.r_[-1, 1:n])
    finally:
        tracemalloc.stop()


def test_row_pool_across_many_chunks_matches_a_dense_array():
    layout = ChunkLayout(first_chunk=3, max_chunk=8)
    pool = RowPool(layout, (2,), np.float32)
    layout.grow_to(100)
    pool.sync()
    assert layout.num_chunks > 5
    dense = np.zeros((100, 2), np.float32)
    rng = np.random.default_rng(1)
    rows = rng.permutation(100)
    values = rng.normal(size=(100, 2)).astype(np.float32)
    pool.write(layout.plan(rows), values)
    dense[rows] = values
    probe = rng.integers(0, 100, 57)
    np.testing.assert_array_equal(pool.read(layout.plan(probe)), dense[probe])
    np.testing.assert_array_equal(pool.to_array(100), dense)


@pytest.mark.parametrize("top", [50, 100_000, 1 << 26])  # the last: past the scratch array, np.unique instead
def test_dedupe_and_segment_sums_match_coalesce_bit_for_bit(top):
    rng = np.random.default_rng(top)
    rows = rng.integers(-1, min(top, 400), 3000)
    unique, inverse = Deduper(max_scratch_rows=1 << 25)(rows, top)
    np.testing.assert_array_equal(unique[inverse], rows)
    assert np.unique(unique).size == unique.size
    values = rng.normal(size=(rows.size, 5)).astype(np.float32)
    sums = segment_sum(values, inverse, unique.size)
    keep = rows >= 0
    coalesced = RowSparse(rows[keep], ember.tensor(values[keep]), (top, 5)).coalesce()
    order = np.argsort(unique[unique >= 0])
    np.testing.assert_array_equal(sums[unique >= 0][order], coalesced.values.numpy())


def test_string_hashes_are_stable_and_distinct():
    keys = hash_strings(["user:1", "user:2", "", "é", b"user:1"])
    assert keys.dtype == np.int64
    assert keys[0] == keys[4] and len(set(keys[:4].tolist())) == 4
    assert hash_strings(np.array([["a", "bb"]])).shape == (1, 2)
    for text in ["user:1", "é", ""]:  # the same bits on every machine and run: FNV-1a, length, splitmix64
        assert hash_strings([text])[0] == _reference_hash(text)


def _reference_hash(text: str) -> int:
    data, m = text.encode("utf-8"), 2**64
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) % m
    h ^= (len(data) * 0x9E3779B97F4A7C15) % m
    z = (h + 0x9E3779B97F4A7C15) % m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
    z ^= z >> 31
    return z - m if z >= 2**63 else z


# --- lookups ---

def test_lookups_match_a_dict_reference_and_depend_only_on_key_and_seed():
    emb = HashEmbedding(6, seed=3, chunk_rows=16)  # small chunks: the multi-chunk paths run too
    rng = np.random.default_rng(2)
    reference = {}
    for _ in range(12):
        ids = rng.choice(np.array([-(2**62), 2**62, 7, 0, -1] + list(range(100, 300))), size=(5, 9))
        out = _rows(emb, ids)
        assert out.shape == (5, 9, 6) and out.dtype == np.float32
        for key, row in zip(ids.reshape(-1).tolist(), out.reshape(-1, 6)):
            reference.setdefault(key, row.copy())
            np.testing.assert_array_equal(row, reference[key])
    assert len(emb) == len(reference)
    other = HashEmbedding(6, seed=3)
    keys = np.array(sorted(reference)[::-1])
    np.testing.assert_array_equal(_rows(other, keys), np.stack([reference[k] for k in keys.tolist()]))
    assert not np.array_equal(_rows(HashEmbedding(6, seed=4), keys), _rows(other, keys))


def test_default_initializer_is_a_truncated_normal_with_std_one_over_sqrt_dim():
    values = _rows(HashEmbedding(16, seed=0), np.arange(20000))
    assert np.abs(values).max() <= 2 / 4 + 1e-6
    assert 0.85 * 0.25 < values.std() < 0.9 * 0.25  # 2-sigma truncation keeps 0.88 of the std
    assert _rows(HashEmbedding(4, initializer=0.5), [1]).tolist() == [[0.5] * 4]
    u = _rows(HashEmbedding(4, initializer=Uniform(-1, 1), seed=0), np.arange(5000))
    assert -1 <= u.min() and u.max() < 1 and abs(u.mean()) < 0.03
    n = _rows(HashEmbedding(4, initializer=Normal(std=2.0), seed=0), np.arange(5000))
    assert abs(n.std() - 2) < 0.1


def test_string_ids_and_eval_mode():
    emb = HashEmbedding(4, seed=0)
    a = _rows(emb, ["cat", "dog", "cat"])
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_array_equal(_rows(emb, hash_strings(["dog"])), a[1:2])
    emb.eval()
    assert _rows(emb, ["bird"]).tolist() == [[0.0] * 4] and len(emb) == 2  # unseen in eval: default, no row


def test_gradient_equals_a_dense_embedding_of_the_same_rows():
    emb = HashEmbedding(5, seed=1)
    ids = np.array([[10**12, 4, 4], [-3, 10**12, 9]])
    keys = np.unique(ids)
    dense = ember.nn.Embedding(keys.size, 5, sparse=True)
    dense.weight.array[...] = _rows(emb, keys)
    local = np.searchsorted(keys, ids)
    w = ember.tensor(np.random.default_rng(0).normal(size=(2, 3, 5)).astype(np.float32))

    hashed = emb(ids)
    plain = dense(ember.tensor(local))
    np.testing.assert_array_equal(hashed.detach().numpy(), plain.detach().numpy())
    ((hashed * w).sum() * (hashed * hashed).sum()).backward()
    ((plain * w).sum() * (plain * plain).sum()).backward()
    g = emb.weight.grad
    assert isinstance(g, RowSparse)
    by_row = dict(zip(*(a.tolist() for a in (g.coalesce().indices, g.coalesce().values.numpy()))))
    hashed_grad = np.array([by_row[r] for r in emb.table.lookup(keys, train=False).tolist()])
    np.testing.assert_allclose(hashed_grad, dense.weight.grad.to_dense().numpy(), rtol=1e-6, atol=1e-7)


def test_dense_path_gradient_matches_finite_differences():
    emb = HashEmbedding(3, seed=2)
    ids = np.array([5, 6, 5, 8])
    keys = np.unique(ids)
    table = _rows(emb, keys).astype(np.float64)
    local = np.searchsorted(keys, ids)
    w = np.random.default_rng(1).normal(size=(4, 3))

    def loss(t):
        x = t[local]
        return float(np.sum(np.tanh(x) * w) + np.sum(x**2) ** 1.5)

    out = emb(ids)
    ((ember.tanh(out) * ember.tensor(w.astype(np.float32))).sum() + (out * out).sum() ** 1.5).backward()
    g = emb.weight.grad.coalesce()
    by_row = dict(zip(g.indices.tolist(), g.values.numpy()))
    analytic = np.stack([by_row[r] for r in emb.table.lookup(keys, train=False).tolist()])
    eps = 1e-6
    numeric = np.zeros_like(table)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            up, down = table.copy(), table.copy()
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = (loss(up) - loss(down)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=2e-4, atol=2e-4)


# --- optimizers: each equals its dense counterpart on the touched rows ---

OPTIMIZERS = [
    ("sgd", lambda p: ember.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("adagrad", lambda p: ember.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, lr_decay=0.01)),
    ("rowwise_adagrad", lambda p: ember.optim.RowWiseAdagrad(p, lr=0.05, weight_decay=0.01)),
    ("lazy_adam", lambda p: ember.optim.SparseAdam(p, lr=0.01)),
    ("ftrl", lambda p: ember.optim.Ftrl(p, lr=0.1, l1=0.01, l2=0.01)),
]


@pytest.mark.parametrize("name,make", OPTIMIZERS, ids=[name for name, _ in OPTIMIZERS])
def test_optimizer_on_a_hash_table_equals_it_on_a_dense_table(name, make):
    rng = np.random.default_rng(5)
    keys = rng.integers(-2**63, 2**63 - 1, 10, dtype=np.int64)
    emb = HashEmbedding(4, seed=7, chunk_rows=4)  # rows spread over several chunks
    dense = ember.nn.Embedding(keys.size, 4, sparse=True)
    dense.weight.array[...] = _rows(emb, keys)
    opt_hash, opt_dense = make(emb.parameters()), make(dense.parameters())
    for step in range(6):
        local = rng.integers(0, 6 + step % 4, size=(3, 4))  # later steps reach rows not touched before
        w = ember.tensor(rng.normal(size=(3, 4, 4)).astype(np.float32))
        for layer, ids, opt in ((emb, keys[local], opt_hash), (dense, ember.tensor(local), opt_dense)):
            out = layer(ids)
            ((out * w).sum() + (out * out).sum()).backward()
            opt.step()
            opt.zero_grad()
        np.testing.assert_array_equal(_rows(emb, keys), dense.weight.detach().numpy(), err_msg=f"step {step}")


def test_two_lookups_of_one_table_merge_their_rows_before_the_update():
    """One lookup's gradient holds each row once (``distinct``), so the update skips merging; the sum of
    two lookups' gradients repeats rows and must be merged: both equal a dense table's step."""
    rng = np.random.default_rng(8)
    keys = rng.integers(0, 2**40, 6, dtype=np.int64)
    emb = HashEmbedding(3, seed=1, chunk_rows=4)
    dense = ember.nn.Embedding(keys.size, 3, sparse=True)
    dense.weight.array[...] = _rows(emb, keys)
    opt_hash, opt_dense = ember.optim.Adagrad(emb.parameters(), lr=0.1), ember.optim.Adagrad(dense.parameters(), lr=0.1)
    first, second = np.array([0, 1, 1, 2]), np.array([2, 3, 0])
    for layer, opt, ids in ((emb, opt_hash, keys), (dense, opt_dense, None)):
        pick = (lambda i: keys[i]) if ids is not None else (lambda i: ember.tensor(i))
        out = (layer(pick(first)) ** 2).sum() + (layer(pick(second)) * 3.0).sum()
        out.backward()
        if layer is emb:
            assert not layer.weight.grad.distinct  # a sum of two lookups' rows
        opt.step()
    np.testing.assert_array_equal(_rows(emb, keys), dense.weight.detach().numpy())
    emb.zero_grad()
    emb(keys[first]).sum().backward()
    assert emb.weight.grad.distinct and np.unique(emb.weight.grad.indices).size == emb.weight.grad.indices.size
    assert not RowSparse(np.array([1, 1]), ember.zeros(2, 3), (4, 3)).distinct


def test_rowwise_adagrad_matches_its_formula_dense_and_sparse():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(size=(5, 3)).astype(np.float32) for _ in range(3)]
    w, total = w0.astype(np.float64), np.full(5, 0.1)
    for g in grads:  # FBGEMM's row-wise Adagrad in float64
        total += (g.astype(np.float64) ** 2).mean(axis=1)
        w -= 0.5 * g / (np.sqrt(total) + 1e-10)[:, None]
    dense, sparse = ember.tensor(w0.copy(), requires_grad=True), ember.tensor(w0.copy(), requires_grad=True)
    opt_dense = ember.optim.RowWiseAdagrad([dense], lr=0.5, initial_accumulator_value=0.1)
    opt_sparse = ember.optim.RowWiseAdagrad([sparse], lr=0.5, initial_accumulator_value=0.1)
    for g in grads:
        dense.grad = ember.tensor(g)
        sparse.grad = RowSparse(np.arange(5), ember.tensor(g), (5, 3))
        opt_dense.step()
        opt_sparse.step()
    np.testing.assert_allclose(dense.detach().numpy(), w, rtol=1e-5)
    np.testing.assert_array_equal(sparse.detach().numpy(), dense.detach().numpy())
    assert opt_dense.state[dense]["sum"].shape == (5,)
    with pytest.raises(ValueError, match="RowWiseAdagrad: lr"):
        ember.optim.RowWiseAdagrad([dense], lr=-1)


def test_unadmitted_and_untouched_rows_are_left_alone():
    emb = HashEmbedding(3, seed=0)
    opt = ember.optim.Adagrad(emb.parameters(), lr=0.1)
    before = _rows(emb, [1, 2, 3])
    emb(np.array([1, 1])).sum().backward()
    opt.step()
    after = _rows(emb, [1, 2, 3])
    assert not np.array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1:], before[1:])


# --- storage dtypes ---

@pytest.mark.parametrize("dtype", [ember.bfloat16, ember.float16])
def test_low_precision_rows_are_stored_rounded_and_computed_in_float32(dtype):
    emb = HashEmbedding(4, dtype=dtype, seed=1)
    reference = HashEmbedding(4, seed=1)
    ids = np.arange(50)
    out = emb(ids)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.detach().numpy(), _rows(reference, ids).astype(dtype).astype(np.float32))
    opt = ember.optim.SGD(emb.parameters(), lr=0.5)
    (out * out).sum().backward()
    start = out.detach().numpy()
    opt.step()
    np.testing.assert_array_equal(_rows(emb, ids), (start - 0.5 * 2 * start).astype(dtype).astype(np.float32))
    assert emb.state_dict()["values"].dtype == np.dtype(dtype)


class _TwoFields(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.users = HashEmbedding(4, seed=1)
        self.tags = HashEmbeddingBag(4, mode="mean", seed=2)
        ember.manual_seed(0)
        self.head = ember.nn.Linear(8, 1)

    def forward(self, ids, tags, offsets):
        return self.head(ember.concat([self.users(ids), self.tags(tags, offsets)], axis=1)).reshape(-1)


def test_a_model_cast_to_float64_looks_rows_up_in_float64():
    # model.double() cast the handles, but lookups stayed float32: the next Linear refused them
    wide, narrow = _TwoFields().double(), _TwoFields()
    optimizers = [ember.optim.Adagrad(m.parameters(), lr=0.1) for m in (wide, narrow)]
    rng = np.random.default_rng(0)
    for _ in range(3):
        ids, tags, offsets = rng.integers(0, 20, 6), rng.integers(0, 9, 10), np.array([0, 2, 2, 5, 7, 9])
        losses = []
        for model, opt in zip((wide, narrow), optimizers):
            opt.zero_grad()
            out = model(ids, tags, offsets)
            assert out.dtype == model.head.weight.dtype
            loss = (out * out).sum()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert wide.users.table.dtype == np.float32 and wide.users.state_dict()["values"].dtype == np.float32
    wide.eval()
    with ember.no_grad():
        rows = wide.users(np.array([3, 10**9]))
    assert rows.dtype == np.float64
    np.testing.assert_allclose(rows.numpy(), _rows(narrow.users.eval(), [3, 10**9]), rtol=1e-6)


# --- bags ---

def _torch_bag(torch, emb, keys, mode):
    table = torch.tensor(emb.table.read(emb.rows(keys)), requires_grad=True)
    return table, lambda ids, offsets=None, psw=None: torch.nn.functional.embedding_bag(
        ids, table, offsets, mode=mode, per_sample_weights=psw)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_bag_matches_torch_embedding_bag(mode):
    torch = pytest.importorskip("torch")
    bag = HashEmbeddingBag(4, mode=mode, seed=2)
    keys = np.array([10**11, 5, -2, 77, 8])
    table, torch_bag = _torch_bag(torch, bag, keys, mode)
    local = np.array([0, 1, 1, 3, 4, 2, 0])
    offsets = np.array([0, 3, 3, 5])  # an empty bag in the middle
    psw = np.linspace(0.5, 2, local.size).astype(np.float32) if mode == "sum" else None
    out = bag(keys[local], offsets, psw)
    expected = torch_bag(torch.tensor(local), torch.tensor(offsets), None if psw is None else torch.tensor(psw))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-7)
    w = np.random.default_rng(0).normal(size=out.shape).astype(np.float32)
    (out * ember.tensor(w)).sum().backward()
    (expected * torch.tensor(w)).sum().backward()
    g = bag.weight.grad.coalesce()
    by_row = dict(zip(g.indices.tolist(), g.values.numpy()))
    got = np.array([by_row.get(r, np.zeros(4, np.float32)) for r in bag.table.lookup(keys, False).tolist()])
    np.testing.assert_allclose(got, table.grad.numpy(), rtol=1e-5, atol=1e-6)
    two_d = bag(keys[np.array([[0, 1], [2, 2]])])
    expected_2d = torch_bag(torch.tensor([[0, 1], [2, 2]]))
    np.testing.assert_allclose(two_d.detach().numpy(), expected_2d.detach().numpy(), rtol=1e-6)


def test_bag_include_last_offset_and_errors():
    bag = HashEmbeddingBag(2, mode="sum", include_last_offset=True, initializer=1.0)
    assert bag(np.array([1, 2, 3]), np.array([0, 1, 3])).detach().numpy().tolist() == [[1, 1], [2, 2]]
    with pytest.raises(ValueError, match="offsets must start at 0"):
        bag(np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match=r"the last offset must be len\(ids\) = 3 .*got offsets \[0, 1, 2\]"):
        bag(np.array([1, 2, 3]), np.array([0, 1, 2]))  # (id 3 was silently dropped before)
    with pytest.raises(ValueError, match="1-D ids need offsets"):
        bag(np.array([1, 2]))
    with pytest.raises(ValueError, match="mode must be one of"):
        HashEmbeddingBag(2, mode="max")
    with pytest.raises(ValueError, match="per_sample_weights need mode='sum'"):
        HashEmbeddingBag(2, mode="mean")(np.array([1]), np.array([0]), np.array([1.0]))


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_empty_bags_give_zeros_in_both_layouts(mode):
    bag = HashEmbeddingBag(3, mode=mode, initializer=1.0)
    ragged = bag(np.zeros(0, np.int64), np.array([0, 0]))
    fixed = bag(np.zeros((2, 0), np.int64))  # two bags of no ids
    assert ragged.detach().numpy().tolist() == fixed.detach().numpy().tolist() == [[0.0] * 3] * 2


# --- errors, copies ---

def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="embedding_dim must be a positive int"):
        HashEmbedding(0)
    with pytest.raises(TypeError, match="dtype must be one of"):
        HashEmbedding(4, dtype=np.int32)
    with pytest.raises(TypeError, match=r"ids must be integers .* got dtype float64 of shape \[2\]"):
        HashEmbedding(4)(np.array([1.5, 2.0]))
    with pytest.raises(TypeError, match="initializer must be None"):
        HashEmbedding(4, initializer="ones")
    with pytest.raises(ValueError, match="initializer returned shape"):
        HashEmbedding(4, initializer=lambda keys, dim, seed: np.zeros((1, 1)))(np.array([1, 2]))
    with pytest.raises(ValueError, match="capacity must be a positive int"):
        HashEmbedding(4, capacity=0)
    # a policy of the wrong kind was taken, and failed later (a str eviction only after the first update)
    with pytest.raises(TypeError, match=r"admission must be a policy with admit\(keys, counts\).* got 3"):
        HashEmbedding(4, admission=3)
    with pytest.raises(TypeError, match=r"eviction must be a policy with select\(table\).* got 'ttl'"):
        HashEmbedding(4, eviction="ttl")


def test_deepcopy_copies_the_table():
    emb = HashEmbedding(3, seed=0)
    emb(np.array([1, 2]))
    twin = copy.deepcopy(emb)
    assert twin.weight.table is twin.table and twin.table is not emb.table
    opt = ember.optim.SGD(twin.parameters(), lr=1.0)
    twin(np.array([1])).sum().backward()
    opt.step()
    assert not np.array_equal(_rows(twin, [1]), _rows(emb, [1]))
    assert len(twin) == 2 and Constant(2.0)(np.array([1]), 2, 0).tolist() == [[2.0, 2.0]]


def test_rows_in_memory_mapped_files_train_like_rows_in_memory(tmp_path):
    rng = np.random.default_rng(3)
    on_disk = HashEmbedding(4, seed=1, chunk_rows=8, storage_dir=tmp_path / "table")
    in_memory = HashEmbedding(4, seed=1, chunk_rows=8)
    optimizers = [ember.optim.Adagrad(emb.parameters(), lr=0.1) for emb in (on_disk, in_memory)]
    for _ in range(4):
        ids = rng.integers(0, 40, 16)
        for emb, opt in zip((on_disk, in_memory), optimizers):
            (emb(ids) ** 2).sum().backward()
            opt.step()
            opt.zero_grad()
    on_disk.flush()
    assert isinstance(on_disk.table.values.chunks[0], np.memmap)
    names = sorted(p.name for p in (tmp_path / "table").iterdir())
    assert "values.0" in names and "slot.sum.0" in names and "meta.last_step.0" in names
    keys = np.arange(40)
    np.testing.assert_array_equal(_rows(on_disk, keys), _rows(in_memory, keys))


def test_evaluation_reads_rows_in_memory_mapped_files(tmp_path):
    # a memory-mapped chunk's take is a memmap, which Tensor.numpy() took for a GPU array: AttributeError
    on_disk = HashEmbedding(4, seed=1, storage_dir=tmp_path / "table")
    in_memory = HashEmbedding(4, seed=1)
    for emb in (on_disk, in_memory):
        emb(np.arange(10)).sum().backward()
        emb.eval()
    for ids in ([3, 4], [3, 99]):  # rows all found, and with an unseen id (the default row)
        rows = _rows(on_disk, np.array(ids))
        assert type(rows) is np.ndarray
        np.testing.assert_array_equal(rows, _rows(in_memory, np.array(ids)))


def test_a_storage_dir_holds_one_table(tmp_path):
    # two tables mapped the same files: each overwrote the other's rows
    import gc
    import subprocess
    import sys

    first = HashEmbedding(4, seed=1, storage_dir=tmp_path)
    rows = _rows(first.train(), [1, 2, 3])
    with pytest.raises(ValueError, match="storage_dir .* holds the rows of another table"):
        HashEmbedding(4, seed=2, storage_dir=tmp_path)
    other_process = ("import sys\nfrom ember.embedding import HashEmbedding\n"
                     "try:\n    HashEmbedding(4, storage_dir=sys.argv[1])\n"
                     "except ValueError as e:\n    print(e)\n")
    run = subprocess.run([sys.executable, "-c", other_process, str(tmp_path)], capture_output=True, text=True,
                         timeout=120)
    assert "holds the rows of another table" in run.stdout, run.stderr
    np.testing.assert_array_equal(_rows(first.eval(), [1, 2, 3]), rows)
    copied = copy.deepcopy(first)  # a copy keeps the rows it copied
    np.testing.assert_array_equal(_rows(copied.eval(), [1, 2, 3]), rows)
    del first, copied
    gc.collect()
    HashEmbedding(4, seed=2, storage_dir=tmp_path)  # the directory is free once its table is gone


def test_tracing_a_lookup_is_refused_with_a_clear_error():
    emb = HashEmbedding(4, seed=0)

    @ember.jit
    def traced(x):
        return emb(np.array([1, 2])).sum() + x.sum()

    with pytest.raises(TypeError, match="HashEmbedding: hash-table lookups .* outside ember.jit"):
        traced(ember.ones(3))


def test_training_steps_of_varying_sizes_keep_no_scratch_per_size():
    import gc
    import tracemalloc

    emb = HashEmbedding(4, seed=0)
    opt = ember.optim.RowWiseAdagrad(emb.parameters(), lr=0.01)
    rng = np.random.default_rng(0)

    def step(n):
        emb(rng.permutation(30_000)[:n]).sum().backward()  # n distinct ids
        opt.step()
        opt.zero_grad()

    step(30_000)  # every id in the table, and the largest scratch, before measuring
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1000, 30_000, 1000):  # 29 steps, each with its own number of distinct rows
            step(n)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000, grown  # an 8-byte scratch kept per size would be 3.5 MB


def test_a_copy_of_a_table_in_a_storage_dir_grows_in_memory(tmp_path):
    # the copy kept the directory: its new chunks reopened the original's file names (mode w+), and each
    # table's growth truncated the other's rows
    on_disk = HashEmbedding(2, seed=0, chunk_rows=4, storage_dir=tmp_path)
    on_disk(np.arange(6))
    copied = copy.deepcopy(on_disk)
    rows = _rows(on_disk, np.arange(6))
    copied(np.arange(100, 140))
    on_disk(np.arange(200, 240))
    fresh = HashEmbedding(2, seed=0)
    for emb, keys in ((copied, np.arange(100, 140)), (on_disk, np.arange(200, 240))):
        np.testing.assert_array_equal(_rows(emb, keys), _rows(fresh, keys))
    np.testing.assert_array_equal(_rows(on_disk, np.arange(6)), rows)
    assert copied.table.storage_dir is None and not isinstance(copied.table.values.chunks[-1], np.memmap)


def test_ember_embedding_is_the_package_after_a_plain_import_and_still_the_op():
    # In a fresh process: any test module importing ember.embedding would put the package in place itself.
    script = ("import numpy as np, ember\n"
              "emb = ember.embedding.HashEmbedding(2, seed=0)\n"
              "w = ember.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)\n"
              "ember.embedding(ember.tensor([0, 2, 2]), w, padding_idx=2).sum().backward()\n"
              "print(emb(np.array([7])).shape, w.grad.numpy().sum(axis=1).tolist())\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=root,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "(1, 2) [2.0, 0.0, 0.0]"


def test_ids_no_int_dtype_holds_are_refused_naming_the_layer_and_the_range():
    # NumPy made [-1, 2**63] float64 and [2**64] object: the errors said "float64" or "hash_strings" and no layer
    with pytest.raises(TypeError, match=r"HashEmbedding: ids must be integers that fit int64 \(or uint64 when none is "
                                        r"negative\): got values from -1 to 9223372036854775808"):
        HashEmbedding(4)([-1, 2**63])
    with pytest.raises(TypeError, match=r"HashEmbeddingBag: ids must be integers that fit int64 .* from 1 to "
                                        r"18446744073709551616, which NumPy holds as object"):
        HashEmbeddingBag(4)([[2**64, 1]])
    with pytest.raises(TypeError, match="HashEmbedding: ids must be integers .* got dtype float64"):
        HashEmbedding(4)([1.5, 2])
    with pytest.raises(TypeError, match="HashEmbedding: ids must be integers .* or strings: .* got NoneType"):
        HashEmbedding(4)(["a", None])
    # [2**63, 1] is float64 to NumPy: taken as the uint64 ids they are, as an array of them is
    layer = HashEmbedding(4, seed=0)
    np.testing.assert_array_equal(layer([2**63, 1]).detach().numpy(),
                                  layer(np.array([2**63, 1], np.uint64)).detach().numpy())


def test_a_ragged_list_of_ids_is_refused_naming_the_layer_and_what_it_takes():
    # NumPy's "inhomogeneous shape" error came out, naming neither the layer nor what it takes
    for layer, ids in ((HashEmbedding(4), [[1, 2], [3]]), (HashEmbedding(4), [["a", "b"], ["c"]]),
                       (HashEmbeddingBag(4), [[1, 2], [3]])):
        with pytest.raises(ValueError, match=rf"{type(layer).__name__}: ids must be a rectangular array .* of "
                                             r"integer or string ids, got a ragged list; pad its rows"):
            layer(ids)

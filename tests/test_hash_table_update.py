"""A hash table's rows chunk by chunk: lookups list them so, and row-local rules update them in place."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.embedding import HashEmbedding
from ember.embedding.admission import CountThreshold
from ember.embedding.pool import ChunkLayout, RowPool

OPTIMIZERS = [
    ("sgd", lambda p: ember.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("adagrad", lambda p: ember.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, lr_decay=0.01)),
    ("adagrad_maximize", lambda p: ember.optim.Adagrad(p, lr=0.05, weight_decay=0.02, maximize=True)),
    ("rowwise_adagrad", lambda p: ember.optim.RowWiseAdagrad(p, lr=0.05, weight_decay=0.01)),
    ("lazy_adam", lambda p: ember.optim.SparseAdam(p, lr=0.01)),
    ("ftrl", lambda p: ember.optim.Ftrl(p, lr=0.1, l1=0.01, l2=0.01)),
]


def _plain(rule):
    """``rule`` without its traits: the table runs it on compact copies of the rows (the general path)."""

    def plain(param, grad, state, **hyper):
        return rule(param, grad, state, **hyper)

    return plain


def _assert_same_state(got: dict, want: dict, where: str) -> None:
    assert sorted(got) == sorted(want), where
    for key, value in want.items():
        if isinstance(value, dict):  # the admission policy's counters
            _assert_same_state(got[key], value, f"{key} {where}")
        else:
            np.testing.assert_array_equal(got[key], value, err_msg=f"{key} {where}")


@pytest.mark.parametrize("name,make", OPTIMIZERS, ids=[name for name, _ in OPTIMIZERS])
def test_in_place_update_equals_the_compact_update_bit_for_bit(name, make):
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 2**40, 400, dtype=np.int64)
    fast, reference = (HashEmbedding(4, seed=7, chunk_rows=8, admission=CountThreshold(2)) for _ in range(2))
    opt_fast, opt_reference = make(fast.parameters()), make(reference.parameters())
    assert getattr(opt_fast.sparse_update, "row_local", False)
    opt_reference.sparse_update = _plain(opt_reference.sparse_update)
    in_place = []
    run = fast.table._update_in_place
    fast.table._update_in_place = lambda *args: (in_place.append(args[1]), run(*args))
    for step in range(6):
        ids = keys[rng.integers(0, 100 + 60 * step, (24, 3))]  # repeats; later steps add rows in new chunks
        w = ember.tensor(rng.normal(size=(24, 3, 4)).astype(np.float32))
        for emb, opt in ((fast, opt_fast), (reference, opt_reference)):
            out = emb(ids)
            ((out * w).sum() + (out * out).sum()).backward()
            opt.step()
            opt.zero_grad()
        _assert_same_state(fast.state_dict(), reference.state_dict(), f"after step {step}")
        for p_fast, p_reference in zip(fast.parameters(), reference.parameters()):
            scalars = {k: v for k, v in opt_reference.state[p_reference].items()}
            assert opt_fast.state[p_fast] == scalars
    # the first update starts the optimizer's slots (the general path); the later ones span several chunks
    assert len(in_place) == 5 and all(len(plan.groups) > 3 for plan in in_place)
    assert fast.table.layout.num_chunks > 8


def test_lookup_lists_distinct_rows_chunk_by_chunk():
    emb = HashEmbedding(2, seed=0, chunk_rows=8, admission=CountThreshold(2))
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 1000, 300)
    with ember.no_grad():
        emb(keys)
        emb(keys[:150])  # admits the keys seen twice
    table = emb.table
    unique, inverse = table.lookup_unique(keys, train=False)
    np.testing.assert_array_equal(unique[inverse], table.lookup(keys, train=False))
    assert (unique == -1).any() and np.unique(unique).size == unique.size
    chunk = np.searchsorted(table.layout.starts, unique, side="right") - 1
    valid = chunk[unique >= 0]
    assert valid.size > 20 and (np.diff(valid) >= 0).all() and np.unique(valid).size > 3
    assert table.layout.order(unique[unique >= 0]) is None
    plan = table.layout.plan(unique[unique >= 0])
    assert all(where.__class__ is slice for _, where, _ in plan.groups)


def test_row_pool_reads_and_writes_rows_listed_chunk_by_chunk():
    layout = ChunkLayout(first_chunk=3, max_chunk=8)
    pool = RowPool(layout, (2,), np.float32)
    layout.grow_to(100)
    pool.sync()
    rng = np.random.default_rng(2)
    dense = rng.normal(size=(100, 2)).astype(np.float32)
    pool.write(layout.plan(np.arange(100)), dense)
    rows = rng.choice(100, 60, replace=False)
    order = layout.order(rows)
    assert order is not None and layout.order(rows[order]) is None
    plan = layout.plan(rows[order])
    assert len(plan.groups) > 5 and all(where.__class__ is slice for _, where, _ in plan.groups)
    np.testing.assert_array_equal(pool.read(plan), dense[rows[order]])
    values = rng.normal(size=(60, 2)).astype(np.float32)
    pool.write(plan, values)
    dense[rows[order]] = values
    np.testing.assert_array_equal(pool.to_array(100), dense)
    assert layout.order(np.array([5])) is None and ChunkLayout().order(rows) is None


@pytest.mark.parametrize("first,largest,rows", [(4096, 1 << 22, 2_600_000), (3, 8, 100), (4096, 5000, 30_000),
                                                (2, 1 << 30, 1 << 21)])  # the last: a binary search per row
def test_chunk_of_rows_matches_a_binary_search_over_the_chunk_starts(first, largest, rows):
    layout = ChunkLayout(first, largest)
    layout.grow_to(rows)
    probe = np.concatenate([np.random.default_rng(0).integers(0, layout.capacity, 2000), layout.starts[:-1],
                            layout.starts[1:] - 1])
    np.testing.assert_array_equal(layout.chunk_of(probe), np.searchsorted(layout.starts, probe, side="right") - 1)
    layout.grow_to(layout.capacity + 1)  # a new chunk: the block table follows
    np.testing.assert_array_equal(layout.chunk_of(probe), np.searchsorted(layout.starts, probe, side="right") - 1)
    assert layout.chunk_of(np.array([layout.capacity - 1])).item() == layout.num_chunks - 1


def test_rows_prefetched_by_the_loader_come_chunk_by_chunk_and_train_alike():
    from ember.data.ctr_dataset import CTRBatch
    from ember.recsys import FieldEmbedding, make_table

    rng = np.random.default_rng(4)
    keys = [rng.integers(0, 500, (32, 5)) for _ in range(4)]
    models = [FieldEmbedding(make_table(3, "hash", seed=1, chunk_rows=16)) for _ in range(2)]
    opts = [ember.optim.Adagrad(m.parameters(), lr=0.1) for m in models]
    for step, k in enumerate(keys):
        w = ember.tensor(rng.normal(size=(32, 5, 3)).astype(np.float32))
        batches = [CTRBatch(np.zeros(32), np.zeros((32, 0)), k, dedup=True) for _ in models]
        models[0].prefetch(batches[0])  # as the loader's thread does; the other model looks its keys up itself
        rows, inverse = batches[0].prefetched[id(models[0])]
        table = models[0].table.table
        np.testing.assert_array_equal(rows[inverse], table.lookup(k.reshape(-1), train=False))
        if step:
            assert table.layout.order(rows) is None and len(table.layout.plan(rows).groups) > 3
        for model, batch, opt in zip(models, batches, opts):
            ((model(batch) * w).sum() ** 2).backward()
            opt.step()
            opt.zero_grad()
        _assert_same_state(models[0].table.state_dict(), models[1].table.state_dict(), f"after step {step}")


def test_a_slot_a_changed_hyper_parameter_adds_starts_at_its_fill_for_every_row():
    """Momentum turned on mid-training adds a momentum slot: the rows there already start it at zero, as a
    dense table's buffer does, not from the new chunk's uninitialized memory."""
    ids = np.arange(6)
    emb = HashEmbedding(4, seed=0)
    dense = ember.nn.Embedding(6, 4, sparse=True)
    dense.weight.array[...] = emb.table.read(emb.table.lookup(ids, train=True))
    optimizers = [ember.optim.SGD(m.parameters(), lr=0.1) for m in (emb, dense)]
    rng = np.random.default_rng(0)
    for step in range(4):
        if step == 2:
            for opt in optimizers:
                opt.param_groups[0]["momentum"] = 0.9
            scratch = np.full(4096 * 4, np.nan, np.float32)  # freed memory of a slot chunk's size, which
            del scratch  # the new slot's np.empty chunk may reuse
        batch, w = rng.integers(0, 6, 5), ember.tensor(rng.normal(size=(5, 4)).astype(np.float32))
        for module, opt in zip((emb, dense), optimizers):
            opt.zero_grad()
            (module(batch) * w).sum().backward()
            opt.step()
        np.testing.assert_allclose(emb.table.read(emb.table.lookup(ids, train=False)), dense.weight.detach().numpy(),
                                   rtol=1e-6, atol=1e-7, err_msg=f"step {step}")


def test_a_schedule_of_betas_keeps_the_remembered_slot_probes_bounded():
    emb = HashEmbedding(3, seed=0)
    opt = ember.optim.SparseAdam(emb.parameters(), lr=0.01)
    schedule = ember.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=1000)  # cycles beta1 each step
    for _ in range(200):
        opt.zero_grad()
        emb(np.array([1, 2])).sum().backward()
        opt.step()
        schedule.step()
    assert len(emb.table._slot_names) <= 64
    assert opt.param_groups[0]["betas"][0] < 0.9  # the schedule did change beta1

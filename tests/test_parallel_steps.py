"""A compiled step's work shared over the runtime's threads: large products in row parts (BLAS on one thread per
call), a sparse update started on another thread while the work it does not need runs (``sparse_first`` moves it
up), each against the sequential path (the same bits) and eager mode."""

from __future__ import annotations

import contextlib
import functools
import threading
import time

import numpy as np
import pytest

import ember
from ember import nn
from ember.backend import blas_threads, onednn
from ember.graph.ir import Graph
from ember.ops.effects import sparse_update
from ember.optim.functional import sparse_adagrad_update
from ember.passes.sparse_first import sparse_first
from ember.runtime import codegen, parallel
from ember.sparse import RowSparse

needs_blas_control = pytest.mark.skipif(not blas_threads.available(), reason="NumPy's OpenBLAS was not found")


@contextlib.contextmanager
def _helpers_busy():
    """A started piece running (or waiting to) on the helper threads for the duration."""
    release = threading.Event()
    batch = parallel.start_pieces([release.wait], threads=2)
    try:
        assert parallel.helpers_busy()
        yield
    finally:
        release.set()
        parallel.finish_pieces(batch)
    assert not parallel.helpers_busy()


@needs_blas_control
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("product", [np.dot, np.matmul])
def test_rows_in_parts_equal_one_call_bit_for_bit(dtype, product, monkeypatch):
    """Without oneDNN (float64, or the extra off), the parts are OpenBLAS's one-thread calls: one call's bits."""
    monkeypatch.setattr(onednn, "_enabled", False)
    rng = np.random.default_rng(0)
    for rows, inner, cols in ((512, 430, 400), (401, 512, 400)):
        b = rng.standard_normal((inner, cols)).astype(dtype)
        for a in (rng.standard_normal((rows, inner)).astype(dtype), rng.standard_normal((inner, rows)).astype(dtype).T):
            with blas_threads.single_threaded():
                want = product(a, b)
            for parts in (2, 3):
                split = parallel.RowsInParts(product, parts)
                np.testing.assert_array_equal(split(a, b), want)
                out = np.empty_like(want)
                assert split(a, b, out=out) is out
                np.testing.assert_array_equal(out, want)


@pytest.mark.skipif(not onednn.available(), reason="the onednn extra is not installed")
@pytest.mark.parametrize("product", [np.dot, np.matmul])
def test_float32_rows_in_parts_run_on_onednn_s_one_thread_sgemm(product, monkeypatch):
    """With oneDNN and a helper busy, a float32 product is one sgemm on the calling thread (rows, columns or both
    transposed), within float32 rounding of the float64 product; where oneDNN cannot take it (a strided matrix)
    it runs in parts, each falling back to BLAS. With oneDNN on one thread (a forked child), each part is one
    sgemm on its thread."""
    monkeypatch.setattr(onednn, "_enabled", True)
    taken = []
    one_thread_product = onednn.one_thread_product
    monkeypatch.setattr(onednn, "one_thread_product", lambda a, b, out: taken.append(one_thread_product(a, b, out))
                        or taken[-1])
    rng = np.random.default_rng(1)
    b = rng.standard_normal((430, 400)).astype(np.float32)
    by_rows = rng.standard_normal((512, 430)).astype(np.float32)
    by_columns = rng.standard_normal((430, 512)).astype(np.float32).T
    strided = rng.standard_normal((512, 860)).astype(np.float32)[:, ::2]
    matrices = (by_rows, by_columns, strided)
    for a, fast in zip(matrices, (True, True, False)):
        for right in (b, np.asfortranarray(b)):
            taken.clear()
            with _helpers_busy():
                got = parallel.RowsInParts(product, 2)(a, right)
            assert taken == ([True] if fast else [False, False, False])
            want = a.astype(np.float64) @ right.astype(np.float64)
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
            taken.clear()
            monkeypatch.setattr(onednn, "_threads", 1)
            np.testing.assert_allclose(parallel.RowsInParts(product, 2)(a, right), want, rtol=1e-4, atol=1e-4)
            assert taken == [fast, fast]
            monkeypatch.setattr(onednn, "_threads", 0)


def test_rows_in_parts_hand_what_they_do_not_split_to_the_product():
    split = parallel.RowsInParts(np.matmul, 2)
    ints = np.arange(12).reshape(4, 3)
    np.testing.assert_array_equal(split(ints, ints.T), ints @ ints.T)  # not a BLAS float
    vector = np.ones(3, np.float32)
    np.testing.assert_array_equal(split(np.ones((4, 3), np.float32), vector), np.full(4, 3, np.float32))
    strided = np.zeros((8, 6), np.float32)[:, ::2]  # out= not C-contiguous: the product's own call
    split(np.ones((8, 3), np.float32), np.eye(3, dtype=np.float32), out=strided)
    np.testing.assert_array_equal(strided, np.ones((8, 3), np.float32))
    with pytest.raises(ValueError, match="matmul"):
        split(np.ones((8, 3), np.float32), np.ones((4, 2), np.float32))


def test_rows_in_parts_run_then_on_each_parts_rows_once_split_or_not(monkeypatch):
    """``then(start, stop)`` runs after each part's product on that part's rows, every row once; an unsplit
    product runs it once over all its rows."""
    monkeypatch.setattr(onednn, "_enabled", False)  # products in parts (oneDNN takes float32 ones whole)
    rng = np.random.default_rng(2)
    a = rng.standard_normal((64, 32)).astype(np.float32)
    b = rng.standard_normal((32, 16)).astype(np.float32)
    for parts, left in ((2, a), (4, a), (2, a[:, ::1].astype(np.float64))):
        out = np.empty((64, 16), left.dtype)
        seen = []

        def then(start, stop, out=out, seen=seen):
            seen.append((start, stop))
            np.maximum(out[start:stop], 0, out=out[start:stop])

        parallel.RowsInParts(np.matmul, parts)(left, b.astype(left.dtype), out=out, then=then)
        covered = sorted(seen)
        assert covered[0][0] == 0 and covered[-1][1] == 64 and all(x[1] == y[0] for x, y in zip(covered, covered[1:]))
        assert len(seen) == parts
        np.testing.assert_allclose(out, np.maximum(left @ b.astype(left.dtype), 0), rtol=1e-5, atol=1e-5)
    seen = []
    ints = np.arange(12).reshape(4, 3)
    parallel.RowsInParts(np.matmul, 2)(ints, ints.T, then=lambda start, stop: seen.append((start, stop)))
    assert seen == [(0, 4)]  # not a BLAS float: one call, then over all the rows


@pytest.mark.skipif(not onednn.available(), reason="the onednn extra is not installed")
def test_rows_in_parts_run_on_openmp_threads_while_the_helpers_are_idle(monkeypatch):
    """With the helpers idle, a float32 product runs whole on oneDNN's sgemm over ``parts`` OpenMP threads, with
    ``then`` once over all its rows; while started pieces run, whole on the calling thread, with the same bits;
    with oneDNN on one thread, in row parts, again the same bits. The next hand-off to the helpers first pauses
    OpenMP's threads, once."""
    monkeypatch.setattr(onednn, "_enabled", True)
    teams, paused = [], []
    team_product = onednn.team_product
    monkeypatch.setattr(onednn, "team_product",
                        lambda a, b, out, count: teams.append(count) or team_product(a, b, out, count))
    monkeypatch.setattr(onednn, "_pause_all", lambda kind: paused.append(kind) or 0)
    rng = np.random.default_rng(3)
    a = rng.standard_normal((512, 430)).astype(np.float32)
    b = rng.standard_normal((430, 400)).astype(np.float32)
    seen = []
    whole = parallel.RowsInParts(np.matmul, 2)(a, b, then=lambda start, stop: seen.append((start, stop)))
    assert teams == [2] and seen == [(0, 512)] and paused == []
    with _helpers_busy():
        assert paused == [onednn._PAUSE_SOFT]
        split = parallel.RowsInParts(np.matmul, 2)(a, b, then=lambda start, stop: seen.append((start, stop)))
    assert teams == [2] and seen == [(0, 512), (0, 512)] and paused == [onednn._PAUSE_SOFT]
    np.testing.assert_array_equal(whole, split)
    parallel.finish_pieces(parallel.start_pieces([lambda: None], threads=2))
    assert paused == [onednn._PAUSE_SOFT]  # no team product since the last pause
    monkeypatch.setattr(onednn, "_threads", 1)  # oneDNN on one thread (a forked child): the row parts
    seen.clear()
    parts = parallel.RowsInParts(np.matmul, 2)(a, b, then=lambda start, stop: seen.append((start, stop)))
    np.testing.assert_array_equal(parts, whole)
    assert teams == [2, 2] and len(seen) == 2  # asked, refused, and run in two parts


@needs_blas_control
def test_single_threaded_regions_nest_and_restore_the_count():
    before = blas_threads.threads()
    with blas_threads.single_threaded():
        assert blas_threads.threads() == 1
        seen = []
        other = threading.Thread(target=lambda: seen.append(blas_threads.threads()))
        other.start()
        other.join()
        assert seen == [1]  # the setting is the process's
        with blas_threads.single_threaded():
            assert blas_threads.threads() == 1
        assert blas_threads.threads() == 1
    assert blas_threads.threads() == before


@pytest.mark.parametrize("threads", [1, 2])
def test_started_pieces_all_run_and_finish_reraises(threads):
    ran = []
    batch = parallel.start_pieces([lambda i=i: ran.append(i) for i in range(5)], threads=threads)
    if threads == 1:
        assert batch is None and ran == list(range(5))  # one thread: run at once
    parallel.finish_pieces(batch)
    assert sorted(ran) == list(range(5))

    def fail():
        raise ValueError("piece failed")

    batch = parallel.start_pieces([fail, lambda: ran.append(5)], threads=2)
    with pytest.raises(ValueError, match="piece failed"):
        parallel.finish_pieces(batch)
    assert ran[-1] == 5


def _lookup_dense_update():
    """A lookup, a product the update does not need, a read of the table, then the table's sparse update."""
    g = Graph()
    table, ids = g.input("table", (10, 4), np.float32), g.input("ids", (5,), np.int64)
    x, w = g.input("x", (5, 3), np.float32), g.input("w", (3, 3), np.float32)
    with g.building():
        rows = ember.embedding(ids, table, sparse=True)
        unneeded = ember.matmul(x, w)
        total = table.sum()  # reads the table: stays before its update
        grad = RowSparse(ids.reshape(-1), rows * 2.0, (10, 4))
        sparse_update(table, grad, sparse_adagrad_update, {}, {"lr": 0.1})
    g.outputs = [unneeded, total]
    return g


def test_sparse_first_moves_the_update_before_what_it_does_not_need():
    g = _lookup_dense_update()
    before = [node.op.name for node in g.nodes]
    assert before.index("matmul") < before.index("sparse_update")
    after = [node.op.name for node in sparse_first(g).nodes]
    g.verify()
    assert sorted(after) == sorted(before)
    assert after.index("sparse_update") < after.index("matmul")  # the product follows the update now
    assert after.index("sum") < after.index("sparse_update")  # the table's reader still precedes it
    ids, x, w = np.array([1, 3, 3, 9, 0]), np.ones((5, 3), np.float32), np.eye(3, dtype=np.float32)
    table = np.arange(40, dtype=np.float32).reshape(10, 4)
    tables = [table.copy(), table.copy()]
    results = [ember.graph.interpret(graph, t, ids, x, w) for graph, t in zip((_lookup_dense_update(), g), tables)]
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(tables[0], tables[1])  # the update ran on both
    assert not np.array_equal(tables[0], table)


def test_sparse_first_puts_the_first_long_product_right_after_the_update():
    g = Graph()
    table, ids = g.input("table", (10, 4), np.float32), g.input("ids", (5,), np.int64)
    x, w = g.input("x", (64, 256), np.float32), g.input("w", (256, 256), np.float32)
    with g.building():
        rows = ember.embedding(ids, table, sparse=True)
        small = ember.exp(x[:2]).sum()  # a few small calls, then two long products
        first = ember.matmul(ember.tanh(x), w)
        second = ember.matmul(first, w)
        sparse_update(table, RowSparse(ids.reshape(-1), rows * 2.0, (10, 4)), sparse_adagrad_update, {}, {"lr": 0.1})
    g.outputs = [small, second]
    names = [node.op.name for node in sparse_first(g).nodes]
    g.verify()
    after = names[names.index("sparse_update") + 1:]
    assert after[:2] == ["tanh", "matmul"]  # the first product, after what it needs
    assert after.index("exp") < after.index("matmul", 2)  # the small calls still before the second product
    inputs = (np.arange(40, dtype=np.float32).reshape(10, 4), np.array([1, 3, 3, 9, 0]),
              np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32) / 16,
              np.eye(256, dtype=np.float32))
    for a, b in zip(ember.graph.interpret(g, *inputs), [np.exp(inputs[2][:2]).sum(), np.tanh(inputs[2])]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _ctr(seed, fields=8, rows=300, dim=32, hidden=256):
    """Layers wide enough that their products are split (over two parts of codegen._PART_FLOPS each)."""
    ember.manual_seed(seed)

    class CTR(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList([nn.Embedding(rows, dim, sparse=True) for _ in range(fields)])
            self.mlp = nn.Sequential(nn.Linear(fields * dim + 2, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                     nn.ReLU(), nn.Linear(hidden, 1))

        def forward(self, ids, features):
            embedded = [table(ids[:, i]) for i, table in enumerate(self.tables)]
            return self.mlp(ember.cat(embedded + [features], 1)).reshape(-1)

    net = CTR()
    optimizer = ember.optim.Adagrad(net.parameters(), lr=0.05)

    def step(ids, features, y):
        optimizer.zero_grad()
        loss = ember.binary_cross_entropy_with_logits(net(ids, features), y)
        loss.backward()
        optimizer.step()
        return loss

    return net, step


def _batches(count, fields=8, rows=300, batch=256):
    rng = np.random.default_rng(4)
    for i in range(count):
        ids = ember.tensor(rng.integers(0, 7 if i % 2 else rows, (batch, fields)))  # odd steps: repeated ids
        features = ember.tensor(rng.standard_normal((batch, 2)).astype(np.float32))
        yield ids, features, ember.tensor(rng.integers(0, 2, batch).astype(np.float32))


@needs_blas_control
def test_threaded_ctr_step_equals_the_sequential_one_and_eager(monkeypatch):
    batches = list(_batches(4))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    plain_net, plain_step = _ctr(0)
    plain = ember.jit(plain_step)
    with blas_threads.single_threaded():  # the split products equal one-thread BLAS calls
        plain_losses = [plain(*batch).item() for batch in batches]
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    net, step = _ctr(0)
    threaded = ember.jit(step)
    eager_net, eager_step = _ctr(0)
    for batch, expected in zip(batches, plain_losses):
        assert threaded(*batch).item() == expected
        np.testing.assert_allclose(eager_step(*batch).item(), expected, rtol=1e-5)
    for name, a in net.state_dict().items():
        np.testing.assert_array_equal(a.numpy(), plain_net.state_dict()[name].numpy(), err_msg=name)
        np.testing.assert_allclose(a.numpy(), eager_net.state_dict()[name].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    fn = threaded._last.fn
    bound = [cell.cell_contents for cell in fn.__closure__]  # the objects the generated code reads
    assert sum(isinstance(obj, parallel.RowsInParts) for obj in bound) >= 4  # forward and backward products
    assert any(obj is parallel.start_pieces for obj in bound) and any(obj is parallel.finish_pieces for obj in bound)
    assert any(obj is parallel.run_pieces for obj in bound)  # the hidden layers' updates, a piece each
    plain_bound = [cell.cell_contents for cell in plain._last.fn.__closure__]
    assert not any(isinstance(obj, parallel.RowsInParts) for obj in plain_bound)
    assert not any(obj is parallel.start_pieces for obj in plain_bound)
    assert blas_threads._open == 0  # every step's region closed


def test_a_read_of_the_table_after_its_update_waits_for_the_update(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")

    def make():
        ember.manual_seed(5)
        tables = nn.ModuleList([nn.Embedding(20, 4, sparse=True) for _ in range(2)])
        layer = nn.Linear(3, 2)
        optimizer = ember.optim.Adagrad(list(tables.parameters()) + list(layer.parameters()), lr=0.1)

        def step(ids, x):
            optimizer.zero_grad()
            (tables[0](ids).sum() + (tables[1](ids) ** 2).sum() + (layer(x) ** 2).sum()).backward()
            optimizer.step()
            return tables[1].weight.sum()  # read after the update: the update must have finished

        return step

    compiled, eager = ember.jit(make()), make()
    ids, x = ember.tensor(np.array([1, 3, 3, 19])), ember.ones(5, 3)
    for _ in range(3):
        assert compiled(ids, x).item() == pytest.approx(eager(ids, x).item(), rel=1e-6)
    lines = codegen.compile_graph(compiled._last.graph, compiled._last.bound).source.splitlines()
    started = [i for i, line in enumerate(lines) if " = start" in line]
    finished = [i for i, line in enumerate(lines) if "finish" in line]
    assert len(started) == len(finished) == 1 and started[0] < finished[0]
    assert "(var" in lines[finished[0] + 1]  # the table's sum follows the finish


@needs_blas_control
def test_a_step_failing_beside_the_sparse_update_waits_for_it_before_raising(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    started, finished = [], []
    real_start = parallel.start_pieces

    def slow_start(pieces, threads=None):
        def slowly(piece):
            time.sleep(0.2)
            piece()
            finished.append(piece)

        started.append(True)
        return real_start([functools.partial(slowly, piece) for piece in pieces], threads)

    monkeypatch.setattr(parallel, "start_pieces", slow_start)
    net, step = _ctr(0)
    compiled = ember.jit(step)
    batch = next(_batches(1))
    compiled(*batch)
    started.clear(), finished.clear()
    real_call = parallel.RowsInParts.__call__

    def fail_after_the_start(self, *args, **kwargs):
        if started:
            raise FloatingPointError("a product beside the sparse update failed")
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(parallel.RowsInParts, "__call__", fail_after_the_start)
    with pytest.raises(FloatingPointError, match="beside the sparse update"):
        compiled(*batch)
    assert started and len(finished) == len(started)  # the update had finished when the step raised
    assert blas_threads._open == 0


@pytest.mark.parametrize("overlap", [False, True], ids=["apart", "overlapping"])
def test_dense_updates_beside_a_sparse_one_run_as_pieces_only_on_memory_of_their_own(monkeypatch, overlap):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(codegen, "_UPDATE_PIECE_ELEMENTS", 1)
    monkeypatch.setattr(codegen, "_GATHER_PART_ELEMENTS", 1)  # a step on threads, whatever the updates

    def make():
        ember.manual_seed(6)
        tables = nn.ModuleList([nn.Embedding(20, 4, sparse=True) for _ in range(2)])
        memory = np.random.default_rng(2).standard_normal(60).astype(np.float32)
        views = (memory[:30], memory[20:50]) if overlap else (memory[:30], memory[30:60])
        first, second = (nn.Parameter(ember.from_numpy(v)) for v in views)  # not moved into an arena: views
        optimizer = ember.optim.Adagrad(list(tables.parameters()) + [first, second], lr=0.1)

        def step(ids):
            optimizer.zero_grad()
            a, b = tables[0](ids), tables[1](ids)
            loss = a.sum() + (b ** 2).sum() + (first ** 2).sum() + (second * 3.0).sum()
            loss.backward()
            optimizer.step()
            return loss + first.sum() + second.sum()

        return step, list(tables.parameters()) + [first, second]

    (compiled_step, compiled_params), (eager_step, eager_params) = make(), make()
    compiled = ember.jit(compiled_step)
    ids = ember.tensor(np.array([1, 3, 3, 19]))
    for _ in range(3):
        assert compiled(ids).item() == pytest.approx(eager_step(ids).item(), rel=1e-6)
    for a, b in zip(compiled_params, eager_params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6)
    bound = [cell.cell_contents for cell in compiled._last.fn.__closure__]
    assert any(isinstance(obj, codegen.TableRows) and len(obj.parts) == 2 for obj in bound)
    # beside the sparse update, a piece each; overlapping memory: one after the other, after the sparse update
    assert any(obj is parallel.start_pieces for obj in bound) == any(obj is parallel.run_pieces for obj in bound) \
        == (not overlap)


@needs_blas_control
def test_joined_lookups_ordered_rows_and_update_pieces_keep_the_sequential_bits(monkeypatch):
    """The threaded step with the joined gather, the sparse rule taking rows id by id, the first long product
    right after the sparse update's start, the dense updates as pieces and the relu (forward) and its gradient
    (backward) run on each split product's rows by its part, against a one-thread step with all of them off:
    parameters and accumulators equal bit for bit after each of 3 steps (repeated ids included)."""
    from ember.optim import functional
    from ember.passes import sparse_first as sparse_first_module

    batches = list(_batches(3))
    by_id = functional._Rows.by_id.__func__
    in_id_order = []

    def spied(cls, *args):
        rows = by_id(cls, *args)
        in_id_order.append(rows is not None)
        return rows

    def run(threads: str, features_on: bool):
        with monkeypatch.context() as patch:
            patch.setenv("OMP_NUM_THREADS", threads)
            if features_on:
                patch.setattr(functional._Rows, "by_id", classmethod(spied))
            else:
                patch.setattr(codegen, "_joining_concat", lambda *args: None)
                patch.setattr(codegen, "_UPDATE_PIECE_ELEMENTS", 1 << 60)
                patch.setattr(sparse_first_module, "LONG_FLOPS", 1 << 60)
                patch.setattr(functional, "_side_by_side", lambda arrays: None)
            net, step = _ctr(3)
            compiled = ember.jit(step)
            snapshots = []
            with blas_threads.single_threaded():  # the split products equal one-thread BLAS calls
                for batch in batches:
                    loss = compiled(*batch).item()
                    snapshots.append((loss, {k: v.numpy().copy() for k, v in net.state_dict().items()}))
            source = codegen.compile_graph(compiled._last.graph, compiled._last.bound).source
            bound = [cell.cell_contents for cell in compiled._last.fn.__closure__]
        return snapshots, source, bound

    plain, plain_source, _ = run("1", False)
    threaded, source, bound = run("2", True)
    assert "joined" in source and "joined" not in plain_source
    assert source.count(", then=") == 3 and "then=" not in plain_source  # two relus, one relu gradient
    assert any(obj is parallel.run_pieces for obj in bound) and any(obj is parallel.start_pieces for obj in bound)
    assert in_id_order and all(in_id_order)  # the sparse rule took the rows id by id
    for step, ((loss, params), (plain_loss, plain_params)) in enumerate(zip(threaded, plain)):
        assert loss == plain_loss, f"step {step}"
        for name, array in params.items():
            np.testing.assert_array_equal(array, plain_params[name], err_msg=f"step {step}: {name}")


@needs_blas_control
def test_a_failing_dense_update_piece_waits_for_the_sparse_update_before_raising(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    started, finished = [], []
    real_start, real_run = parallel.start_pieces, parallel.run_pieces

    def slow_start(pieces, threads=None):
        def slowly(piece):
            time.sleep(0.2)
            piece()
            finished.append(piece)

        started.append(True)
        return real_start([functools.partial(slowly, piece) for piece in pieces], threads)

    failing = []

    def run_failing(pieces, threads=None):
        def fail():
            raise FloatingPointError("a dense update piece failed")

        updates = any("lr" in getattr(piece, "keywords", {}) for piece in pieces)  # not a product's parts
        return real_run(list(pieces) + [fail] if failing and updates else pieces, threads)

    monkeypatch.setattr(parallel, "start_pieces", slow_start)
    monkeypatch.setattr(parallel, "run_pieces", run_failing)
    net, step = _ctr(0)
    compiled = ember.jit(step)
    batch = next(_batches(1))
    compiled(*batch)
    bound = [cell.cell_contents for cell in compiled._last.fn.__closure__]
    assert any(obj is run_failing for obj in bound)  # the dense updates run as pieces
    started.clear(), finished.clear()
    failing.append(True)
    with pytest.raises(FloatingPointError, match="dense update piece"):
        compiled(*batch)
    assert started and len(finished) == len(started)  # the sparse update had finished when the step raised
    assert blas_threads._open == 0

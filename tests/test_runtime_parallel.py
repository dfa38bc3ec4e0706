"""The sparse parts of a compiled step on several threads (``ember.runtime.parallel``): the pieces runner, the
tables' updates in parts, and one gather for the lookups of tables that lie in one array, each against the plain
per-table path (the same bits) and eager mode."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ember
from ember import nn
from ember.ops.indexing import _embedding_forward
from ember.runtime import arena, codegen, compile_graph, parallel
from ember.runtime.codegen import TableRows


def test_run_pieces_runs_each_piece_once_and_takes_part_itself():
    for threads in (1, 2, 4):
        ran, names = [], set()

        def piece(i):
            ran.append(i)
            names.add(threading.current_thread().name)

        parallel.run_pieces([lambda i=i: piece(i) for i in range(7)], threads=threads)
        assert sorted(ran) == list(range(7))
        if threads == 1:
            assert names == {threading.current_thread().name}


def test_run_pieces_reraises_after_every_piece_has_run():
    done = []

    def fail():
        raise ValueError("piece 1 failed")

    pieces = [lambda: done.append(0), fail, lambda: done.append(2), lambda: done.append(3)]
    with pytest.raises(ValueError, match="piece 1 failed"):
        parallel.run_pieces(pieces, threads=2)
    assert sorted(done) == [0, 2, 3]


def test_run_pieces_inside_a_piece_finishes():
    inner = []
    parallel.run_pieces([lambda: parallel.run_pieces([lambda: inner.append(1)] * 3, threads=2)] * 2, threads=2)
    assert inner == [1] * 6


def test_num_threads_follows_the_thread_setting(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert parallel.num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert parallel.num_threads() >= 1


def _ctr(seed, fields=4, rows=50, dim=8):
    ember.manual_seed(seed)

    class CTR(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList([nn.Embedding(rows, dim, sparse=True) for _ in range(fields)])
            self.mlp = nn.Sequential(nn.Linear(fields * dim + 2, 16), nn.ReLU(), nn.Linear(16, 1))

        def forward(self, ids, features):
            embedded = [table(ids[:, i]) for i, table in enumerate(self.tables)]
            return self.mlp(ember.cat(embedded + [features], 1)).reshape(-1)

    net = CTR()
    return net, ember.optim.Adagrad(net.parameters(), lr=0.05)


def _step(net, optimizer, ids, features, y):
    optimizer.zero_grad()
    loss = ember.binary_cross_entropy_with_logits(net(ids, features), y)
    loss.backward()
    optimizer.step()
    return loss


def _batches(count, fields=4, rows=50):
    rng = np.random.default_rng(3)
    for i in range(count):
        ids = ember.tensor(rng.integers(0, 6 if i % 2 else rows, (64, fields)))  # odd steps: many repeated ids
        features = ember.tensor(rng.standard_normal((64, 2)).astype(np.float32))
        yield ids, features, ember.tensor(rng.integers(0, 2, 64).astype(np.float32))


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_compiled_ctr_step_in_parts_equals_the_plain_path_and_eager(monkeypatch, threads):
    monkeypatch.setattr(codegen, "_PART_ELEMENTS", 64)  # parts of the small model's updates get threads too
    monkeypatch.setattr(codegen, "_GATHER_PART_ELEMENTS", 64)  # and of its gathers
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    (eager_net, eager_opt), (jit_net, jit_opt) = _ctr(0), _ctr(0)
    compiled = ember.jit(lambda ids, features, y: _step(jit_net, jit_opt, ids, features, y))
    with monkeypatch.context() as plain:  # the same step, one call for the update and a lookup per table
        plain.setattr(codegen, "_lookup_runs", lambda *args: {})
        plain.setenv("OMP_NUM_THREADS", "1")
        plain_net, plain_opt = _ctr(0)
        reference = ember.jit(lambda ids, features, y: _step(plain_net, plain_opt, ids, features, y))
        batches = list(_batches(5))
        reference_losses = [reference(*batch).item() for batch in batches]
    for batch, expected in zip(batches, reference_losses):
        assert compiled(*batch).item() == expected
        np.testing.assert_allclose(_step(eager_net, eager_opt, *batch).item(), expected, rtol=1e-6)
    for name, a in jit_net.state_dict().items():
        np.testing.assert_array_equal(a.numpy(), plain_net.state_dict()[name].numpy(), err_msg=name)
        np.testing.assert_allclose(a.numpy(), eager_net.state_dict()[name].numpy(), rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    source = compile_graph(compiled._last.graph, compiled._last.bound).source
    assert source.count("= rows") == 1  # one gather for the four lookups
    fn = compiled._last.fn
    bound = [cell.cell_contents for cell in fn.__closure__]  # the objects the generated code reads
    in_parts = [obj for obj in bound if isinstance(obj, codegen._ManyInParts)]
    gathers = [obj for obj in bound if isinstance(obj, TableRows)]
    assert len(gathers) == 1 and len(gathers[0].parts) == int(threads)
    if threads == "1":
        assert not in_parts
    else:
        assert len(in_parts) == 1 and len(in_parts[0].parts) == int(threads)


def test_lookups_of_tables_in_one_array_raise_the_lookups_error():
    net, optimizer = _ctr(1)
    compiled = ember.jit(lambda ids, features, y: _step(net, optimizer, ids, features, y))
    ids, features, y = next(_batches(1))
    compiled(ids, features, y)
    bad = ids.numpy().copy()
    bad[5, 2] = 50
    with pytest.raises(IndexError, match=r"embedding: ids must lie in \[0, 50\) .* got values from \d+ to 50"):
        compiled(ember.tensor(bad), features, y)


def test_table_rows_gathers_what_each_lookup_gathers():
    rng = np.random.default_rng(0)
    tables = arena.lay_out([rng.standard_normal((n, 4)).astype(np.float32) for n in (5, 9, 1, 7)])
    lookup = lambda xp, table, ids: _embedding_forward(xp, table, ids, sparse=True)  # noqa: E731
    rows = TableRows.of(tables, [lookup] * 4)
    ids = [rng.integers(0, t.shape[0], (4, 2)) for t in tables]
    for got, table, index in zip(rows(*ids), tables, ids):
        np.testing.assert_array_equal(got, table[index])
    for parts in ([(0, 2), (2, 4)], [(0, 1), (1, 3), (3, 4)]):  # gathered on threads: the same rows
        for got, table, index in zip(TableRows.of(tables, [lookup] * 4, parts)(*ids), tables, ids):
            np.testing.assert_array_equal(got, table[index])
    empty = [np.zeros((0,), np.int64)] * 4
    assert [r.shape for r in rows(*empty)] == [(0, 4)] * 4
    with pytest.raises(IndexError, match=r"\[0, 1\) for a weight of shape \[1, 4\]"):
        rows(ids[0], ids[1], np.array([[0, 1], [0, 0], [0, 0], [0, 0]]), ids[3])
    apart = [rng.standard_normal((5, 3)).astype(np.float32) for _ in range(2)]
    assert TableRows.of([apart[0][:, :2], apart[1][:, :2]], [lookup] * 2) is None  # not views of one array
    wide = arena.lay_out([np.zeros((2, 4), np.float32), np.zeros((2, 8), np.float32)])
    assert TableRows.of(wide, [lookup] * 2) is None  # rows of different widths
    odd = arena.lay_out([np.zeros((5, 3), np.float32), np.zeros((2, 3), np.float32)])
    assert TableRows.of(odd, [lookup] * 2) is None  # the second starts inside a row of width 3


def test_joined_table_rows_lie_id_by_id_as_their_concatenation():
    rng = np.random.default_rng(1)
    tables = arena.lay_out([rng.standard_normal((n, 4)).astype(np.float32) for n in (5, 9, 1, 7)])
    lookup = lambda xp, table, ids: _embedding_forward(xp, table, ids, sparse=True)  # noqa: E731
    for shape in [(6,), (3, 2), ()]:
        ids = [rng.integers(0, t.shape[0], shape) for t in tables]
        for parts in ([(0, 6)], [(0, 2), (2, 6)]) if shape == (6,) else ([(0, 1)],):
            block, *got = TableRows.of(tables, [lookup] * 4, parts, joined=True)(*ids)
            np.testing.assert_array_equal(block, np.concatenate([t[i] for t, i in zip(tables, ids)], axis=-1))
            for rows, table, index in zip(got, tables, ids):
                np.testing.assert_array_equal(rows, table[index])
                assert np.shares_memory(rows, block)
    rows = TableRows.of(tables, [lookup] * 4, joined=True)
    with pytest.raises(IndexError, match=r"\[0, 1\) for a weight of shape \[1, 4\]"):
        rows(np.array([0, 1]), np.array([0, 8]), np.array([0, 1]), np.array([0, 6]))


def _joined_lookups_graph():
    from ember.graph.ir import Graph

    g = Graph()
    first, second = g.input("first", (10, 4), np.float32), g.input("second", (10, 4), np.float32)
    ids, x = g.input("ids", (5,), np.int64), g.input("x", (5, 3), np.float32)
    with g.building():
        a, b = ember.embedding(ids, first), ember.embedding(ids, second)
        around = ember.cat([x, a, b, x], 1)  # the rows in the middle of other inputs
        alone = ember.cat([a, b], -1)  # the rows alone: a copy of the gathered block
    return g, (first, second), (around, alone, a, b)


@pytest.mark.parametrize("returned", ["around", "alone"])
def test_a_concatenation_of_joined_lookups_copies_the_gathered_block_once(returned):
    g, (first, second), (around, alone, a, b) = _joined_lookups_graph()
    g.outputs = [around, a, b] if returned == "around" else [alone, a, b]
    rng = np.random.default_rng(4)
    tables = arena.lay_out([rng.standard_normal((10, 4)).astype(np.float32) for _ in range(2)])
    run = compile_graph(g, {first.id: tables[0], second.id: tables[1]})
    ids, x = np.array([1, 2, 9, 2, 0]), rng.standard_normal((5, 3)).astype(np.float32)
    joined, rows_a, rows_b = run(ids, x)
    a_, b_ = tables[0][ids], tables[1][ids]
    expected = np.concatenate([x, a_, b_, x], 1) if returned == "around" else np.concatenate([a_, b_], 1)
    np.testing.assert_array_equal(joined, expected)
    np.testing.assert_array_equal(rows_a, a_)
    np.testing.assert_array_equal(rows_b, b_)
    assert not np.shares_memory(joined, rows_a)  # the caller's concatenation is not the lookups' memory
    assert run.source.count("= rows") == 1 and run.source.count("joined") == 2  # the gather and the one copy


def test_a_folded_layer_reads_joined_lookups_from_its_input_buffer(monkeypatch):
    """A CTR model's first layer folded with its bias: the concatenation writes into the layer's [h, 1] buffer."""
    monkeypatch.setattr(codegen, "_GATHER_PART_ELEMENTS", 64)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    (net, optimizer), (eager_net, eager_opt) = _ctr(0), _ctr(0)
    compiled = ember.jit(lambda ids, features, y: _step(net, optimizer, ids, features, y))
    for batch in _batches(3):
        np.testing.assert_allclose(compiled(*batch).item(), _step(eager_net, eager_opt, *batch).item(), rtol=1e-6)
    source = compile_graph(compiled._last.graph, compiled._last.bound).source
    lines = [line.strip() for line in source.splitlines()]
    gather = next(i for i, line in enumerate(lines) if "= rows" in line)
    assert lines[gather].startswith("joined")
    assert "out=o" in lines[gather + 1] and "joined" in lines[gather + 1]  # straight into the layer's buffer
    for name, a in net.state_dict().items():
        np.testing.assert_allclose(a.numpy(), eager_net.state_dict()[name].numpy(), rtol=1e-6, atol=1e-7)


def test_a_lookup_read_before_the_last_one_keeps_its_own_call():
    ember.manual_seed(2)
    tables = nn.ModuleList([nn.Embedding(10, 4, sparse=True) for _ in range(3)])
    optimizer = ember.optim.Adagrad(tables.parameters(), lr=0.1)

    def step(ids):
        optimizer.zero_grad()
        first = tables[0](ids) * 2.0  # read before the other lookups: a gather of its own
        second, third = tables[1](ids), tables[2](ids)
        total = first.sum() + second.sum() + (third ** 2).sum()
        total.backward()
        optimizer.step()
        return total

    compiled = ember.jit(step)
    ids = ember.tensor(np.array([1, 3, 3, 9]))
    compiled(ids)
    source = compile_graph(compiled._last.graph, compiled._last.bound).source
    assert source.count("= rows") == 1  # the two lookups read after the last one
    ember.manual_seed(2)
    eager_tables = nn.ModuleList([nn.Embedding(10, 4, sparse=True) for _ in range(3)])
    eager_opt = ember.optim.Adagrad(eager_tables.parameters(), lr=0.1)
    for _ in range(2):
        eager_opt.zero_grad()
        total = (eager_tables[0](ids) * 2.0).sum() + eager_tables[1](ids).sum() + (eager_tables[2](ids) ** 2).sum()
        total.backward()
        eager_opt.step()
    compiled(ids)
    for a, b in zip(tables.parameters(), eager_tables.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("write_between", [False, True], ids=["one-gather", "table-written-between"])
def test_lookups_around_a_write_of_a_table_read_it_where_they_stand(write_between):
    from ember.graph.ir import Graph
    from ember.ops.effects import assign

    g = Graph()
    first, second = g.input("first", (10, 4), np.float32), g.input("second", (10, 4), np.float32)
    ids = g.input("ids", (5,), np.int64)
    with g.building():
        before = ember.embedding(ids, first)
        if write_between:
            assign(first, ember.zeros((10, 4)))
        after = ember.embedding(ids, second)
        again = ember.embedding(ids, first)
    g.outputs = [before, after, again]
    rng = np.random.default_rng(4)
    tables = arena.lay_out([rng.standard_normal((10, 4)).astype(np.float32) for _ in range(2)])
    expected = [tables[0][[1, 2, 9, 2, 0]], tables[1][[1, 2, 9, 2, 0]]]
    run = compile_graph(g, {first.id: tables[0], second.id: tables[1]})
    got = run(np.array([1, 2, 9, 2, 0]))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2], 0 if write_between else expected[0])
    assert run.source.count("= rows") == 1  # the two lookups after the write, or all three


def test_updates_in_parts_of_overlapping_parameters_run_as_one_call():
    from ember.optim.functional import sparse_adagrad_update

    rng = np.random.default_rng(7)
    memory = rng.standard_normal(40).astype(np.float32)
    overlapping = [memory[:24].reshape(6, 4), memory[16:40].reshape(6, 4)]  # rows 4-5 of one are rows 0-1 of the other
    expected = memory.copy()
    reference = [expected[:24].reshape(6, 4), expected[16:40].reshape(6, 4)]
    ids = [np.array([5, 4, 1]), np.array([0, 1, 3])]
    values = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]
    many = sparse_adagrad_update.many
    in_parts = codegen._ManyInParts(many, [(0, 1), (1, 2)])
    in_parts(overlapping, ids, values, [{}, {}], lr=0.1)
    many(reference, ids, values, [{}, {}], lr=0.1)
    np.testing.assert_array_equal(memory, expected)
    assert not codegen._disjoint(overlapping) and codegen._disjoint(arena.lay_out([np.ones((2, 4))] * 3))

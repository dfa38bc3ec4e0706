"""The row-sparse optimizer kernels (repeated ids merged without a sort, rows written back in place) against
a float64 NumPy reference of sparse Adagrad, the rule over many tables at once against one call per table, and
a CTR training step compiled by ember.jit against eager."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.optim.functional import sparse_adagrad_update, sparse_sgd_update
from ember.runtime import arena, compile_graph
from ember.sparse import RowSparse, sum_repeated_rows, unique_rows
from ember.tensor import Tensor


def _grad(ids, values, rows):
    return RowSparse(np.asarray(ids, np.int64), Tensor._make(np.asarray(values, np.float32), None), (rows, 3))


def np_sparse_adagrad(param, total, ids, values, lr, eps=1e-10):
    """Reference in float64: sum each id's rows, then Adagrad on the touched rows only."""
    param, total = param.astype(np.float64), total.astype(np.float64)
    summed = np.zeros_like(param)
    np.add.at(summed, ids, values.astype(np.float64))
    touched = np.unique(ids)
    g = summed[touched]
    total[touched] += g * g
    param[touched] -= lr * g / (np.sqrt(total[touched]) + eps)
    return param, total


@pytest.mark.parametrize("ids", [
    [4, 1, 4, 7, 1, 4, 0],  # repeats, unsorted
    [5, 2, 8],  # no repeats
    [3],  # one id
    [6, 6, 6, 6],  # one id, repeated
    [],  # an empty batch
], ids=["repeats", "unique", "one", "one-repeated", "empty"])
def test_sparse_adagrad_equals_a_float64_reference(ids):
    rng = np.random.default_rng(len(ids))
    param = rng.standard_normal((9, 3)).astype(np.float32)
    ref_param, ref_total, state = param.astype(np.float64), np.zeros((9, 3)), {}
    for step in range(3):
        values = rng.standard_normal((len(ids), 3)).astype(np.float32)
        sparse_adagrad_update(param, _grad(ids, values, 9), state, lr=0.1)
        ref_param, ref_total = np_sparse_adagrad(ref_param, ref_total, np.asarray(ids, np.int64), values, 0.1)
        np.testing.assert_allclose(param, ref_param, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
        np.testing.assert_allclose(state["sum"], ref_total, rtol=1e-5, atol=1e-6)
    untouched = np.setdiff1d(np.arange(9), ids)
    assert (state["sum"][untouched] == 0).all()


def test_unique_rows_merges_in_order_of_first_occurrence_and_matches_coalesce():
    rng = np.random.default_rng(0)
    for n in (2, 7, 40, 300):
        ids = rng.integers(0, 12, n)
        values = rng.standard_normal((n, 3)).astype(np.float32)
        index, rows = unique_rows(ids, values, 12)
        _, first = np.unique(ids, return_index=True)
        np.testing.assert_array_equal(index, ids[np.sort(first)])
        coalesced = _grad(ids, values, 12).coalesce()
        order = np.argsort(index)
        np.testing.assert_array_equal(index[order], coalesced.indices)
        np.testing.assert_array_equal(rows[order], coalesced.values.array)  # the same bits
    ids = np.array([3, 1, 2])
    assert unique_rows(ids, values[:3], 12)[0] is ids  # no repeats: handed back as they are
    with pytest.raises(IndexError):
        unique_rows(np.array([1, 12]), values[:2], 12)


def test_sum_repeated_rows_gives_every_repeat_its_keys_merged_row():
    rng = np.random.default_rng(3)
    for n, keys_range in ((2, 2), (9, 4), (60, 25), (300, 40), (50, 1000)):  # pairs, triples and more
        keys = rng.integers(0, keys_range, n)
        values = rng.standard_normal((n, 3)).astype(np.float32)
        rows = values.copy()
        repeated = sum_repeated_rows(keys, rows, keys_range)
        index, merged = unique_rows(keys, values, keys_range)
        assert repeated == (index.size < n)
        by_key = dict(zip(index.tolist(), merged))
        for key, row in zip(keys.tolist(), rows):
            np.testing.assert_array_equal(row, by_key[key])  # the same bits as unique_rows' sum
    rows = values[:3].copy()
    assert not sum_repeated_rows(np.array([7, 1, 2]), rows, 1000)
    np.testing.assert_array_equal(rows, values[:3])
    with pytest.raises(IndexError):
        sum_repeated_rows(np.array([1, 12]), values[:2].copy(), 12)


def _tables(rng, count, rows=30, dim=3, side_by_side=False):
    tables = [rng.standard_normal((rows, dim)).astype(np.float32) for _ in range(count)]
    return arena.lay_out(tables) if side_by_side else tables


@pytest.mark.parametrize("side_by_side", [False, True], ids=["apart", "one-array"])
@pytest.mark.parametrize("hyper", [{"lr": 0.1}, {"lr": 0.05, "lr_decay": 0.1, "eps": 1e-6, "maximize": True},
                                   {"lr": 0.1, "weight_decay": 0.01}], ids=["plain", "decay-maximize", "weight-decay"])
def test_sparse_adagrad_over_many_tables_equals_one_call_per_table(side_by_side, hyper):
    """The batched form the code generator emits for a run of sparse updates: the same bits, repeats included."""
    many = sparse_adagrad_update.many
    rng = np.random.default_rng(5)
    tables = _tables(rng, 4, side_by_side=side_by_side)
    reference = [t.copy() for t in tables]
    states, ref_states = [{} for _ in tables], [{} for _ in tables]
    for step in range(3):
        ids = [rng.integers(0, 8 if step % 2 else 30, n) for n in (12, 7, 1, 20)]  # odd steps: many repeats
        grads = rng.standard_normal((20, 4 * 3 + 2)).astype(np.float32)
        values = [grads[:n, 3 * k:3 * k + 3] for k, n in enumerate((12, 7, 1, 20))]  # strided, as a cat's grad
        gathered = [t[i] for t, i in zip(tables, ids)] if step else None  # the rows a lookup gathered
        many(tables, ids, values, states, rows=gathered, **hyper)
        for table, index, value, state in zip(reference, ids, values, ref_states):
            sparse_adagrad_update(table, RowSparse(index, Tensor._make(value, None), table.shape), state, **hyper)
        for k in range(4):
            np.testing.assert_array_equal(tables[k], reference[k], err_msg=f"step {step} table {k}")
            np.testing.assert_array_equal(states[k]["sum"], ref_states[k]["sum"])
            assert states[k]["step"] == ref_states[k]["step"] == step + 1
    if "weight_decay" not in hyper:  # accumulators made together lie side by side
        assert all(s["sum"].base is states[0]["sum"].base is not None for s in states)


@pytest.mark.parametrize("side_by_side", [False, True], ids=["apart", "one-array"])
@pytest.mark.parametrize("gathered", [False, True], ids=["rows-gathered-here", "lookup-rows"])
def test_sparse_adagrad_over_tables_in_id_order_equals_one_call_per_table(monkeypatch, side_by_side, gathered):
    """Ids, gradient rows and looked-up rows that lie id by id (the columns of one ids array, the slices of a
    concatenation's gradient, a joined gather's rows): the rule takes them in that order, with the same bits."""
    from ember.optim import functional

    in_id_order = []
    by_id = functional._Rows.by_id.__func__

    def spied(cls, *args):
        rows = by_id(cls, *args)
        in_id_order.append(rows is not None)
        return rows

    monkeypatch.setattr(functional._Rows, "by_id", classmethod(spied))
    many = sparse_adagrad_update.many
    rng = np.random.default_rng(8)
    tables = _tables(rng, 4, side_by_side=side_by_side)
    reference = [t.copy() for t in tables]
    states, ref_states = [{} for _ in tables], [{} for _ in tables]
    for step in range(3):
        ids = rng.integers(0, 6 if step % 2 else 30, (16, 4))  # odd steps: many repeats
        grads = rng.standard_normal((16, 4 * 3 + 2)).astype(np.float32)
        values = [grads[:, 3 * k:3 * k + 3] for k in range(4)]
        rows = None
        if gathered:
            block = np.empty((16, 4, 3), np.float32)
            for k, table in enumerate(tables):
                block[:, k] = table[ids[:, k]]
            rows = [block[:, k] for k in range(4)]
        many(tables, [ids[:, k] for k in range(4)], values, states, rows=rows, lr=0.1, eps=1e-6)
        for k, (table, state) in enumerate(zip(reference, ref_states)):
            sparse_adagrad_update(table, RowSparse(ids[:, k], Tensor._make(values[k], None), table.shape), state,
                                  lr=0.1, eps=1e-6)
        for k in range(4):
            np.testing.assert_array_equal(tables[k], reference[k], err_msg=f"step {step} table {k}")
            np.testing.assert_array_equal(states[k]["sum"], ref_states[k]["sum"])
    assert in_id_order and all(in_id_order) == side_by_side  # tables apart: gathered table by table


def test_side_by_side_views_only_neighbours_in_order():
    from ember.optim.functional import _side_by_side

    ids = np.arange(40).reshape(10, 4)
    block = _side_by_side([ids[:, k] for k in range(4)])
    np.testing.assert_array_equal(block, ids)
    assert not block.flags.writeable
    grads = np.arange(70, dtype=np.float32).reshape(5, 14)
    block = _side_by_side([grads[:, 3 * k:3 * k + 3] for k in range(4)])
    np.testing.assert_array_equal(block, grads[:, :12].reshape(5, 4, 3))
    assert _side_by_side([ids[:, k] for k in (0, 2)]) is None  # a gap between them
    assert _side_by_side([ids[:, k] for k in (1, 0)]) is None  # not in order
    assert _side_by_side([ids[:, 0], ids.copy()[:, 1]]) is None  # two arrays
    assert _side_by_side([grads[:, 0:3], grads[:, 3:5]]) is None  # rows of two widths
    assert _side_by_side([grads[:, 3 * k:3 * k + 3] for k in range(5)]) is None  # 15 columns of a 14-column row
    assert _side_by_side([grads[:, 2 * k:2 * k + 3] for k in range(3)]) is None  # overlapping rows
    assert _side_by_side([grads.T[:, k] for k in range(3)]) is None  # rows that are not one piece of memory


def test_sparse_adagrad_over_many_tables_falls_back_where_it_cannot_batch():
    many = sparse_adagrad_update.many
    rng = np.random.default_rng(6)
    table, other = _tables(rng, 2)
    values = rng.standard_normal((4, 3)).astype(np.float32)
    ids = np.array([1, 5, 1, 2])
    expected = table.copy()  # one table twice, with two states: the second update sees the first
    sparse_adagrad_update(expected, _grad(ids, values, 30), {}, lr=0.1)
    sparse_adagrad_update(expected, _grad(ids, values, 30), {}, lr=0.1)
    many([table, table], [ids, ids], [values, values], [{}, {}], lr=0.1)
    np.testing.assert_array_equal(table, expected)
    with pytest.raises(IndexError):  # an index past a table's rows: the error one call per table raises
        many([table, other], [ids, np.array([1, 30])], [values, values[:2]], [{}, {}], lr=0.1)


def test_sparse_rules_write_rows_of_a_non_contiguous_table():
    table = np.zeros((6, 8), np.float32)[:, ::2]  # rows are not contiguous: plain assignment is used
    sparse_sgd_update(table, _grad([1, 4, 1], np.ones((3, 4)), 6), {}, lr=0.5)
    expected = np.zeros((6, 4))
    expected[1], expected[4] = -1.0, -0.5
    np.testing.assert_array_equal(table, expected)


def _ctr(seed, rows=40, fields=3, dim=4, dense=2):
    ember.manual_seed(seed)

    class CTR(nn.Module):
        def __init__(self):
            super().__init__()
            self.tables = nn.ModuleList([nn.Embedding(rows, dim, sparse=True) for _ in range(fields)])
            self.mlp = nn.Sequential(nn.Linear(fields * dim + dense, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                                     nn.Linear(16, 1))

        def forward(self, ids, features):
            embedded = [table(ids[:, i]) for i, table in enumerate(self.tables)]
            return self.mlp(ember.cat(embedded + [features], 1)).reshape(-1)

    net = CTR()
    return net, ember.optim.Adagrad(net.parameters(), lr=0.05)


def test_compiled_ctr_step_equals_eager():
    """W5s in small: sparse tables, MLP, BCE, Adagrad; ember.jit's step equals eager mode's."""
    (eager_net, eager_opt), (jit_net, jit_opt) = _ctr(0), _ctr(0)

    def step(net, optimizer, ids, features, y):
        optimizer.zero_grad()
        loss = ember.binary_cross_entropy_with_logits(net(ids, features), y)
        loss.backward()
        optimizer.step()
        return loss

    compiled = ember.jit(lambda ids, features, y: step(jit_net, jit_opt, ids, features, y))
    rng = np.random.default_rng(1)
    for i in range(5):
        ids = ember.tensor(rng.integers(0, 12 if i % 2 else 40, (16, 3)))  # odd steps: many repeated ids
        features = ember.tensor(rng.standard_normal((16, 2)).astype(np.float32))
        y = ember.tensor(rng.integers(0, 2, 16).astype(np.float32))
        expected = step(eager_net, eager_opt, ids, features, y).item()
        np.testing.assert_allclose(compiled(ids, features, y).item(), expected, rtol=1e-6)
    for (name, a), b in zip(eager_net.state_dict().items(), jit_net.state_dict().values()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
    graph = str(compiled.graph_for(ids, features, y))
    assert graph.count("sparse_update") == 3 and "embedding_grad" not in graph
    assert compiled.traces == 1
    tables = [table.weight.array for table in jit_net.tables]
    assert all(t.base is tables[0].base is not None for t in tables)  # laid side by side in one array
    source = compile_graph(compiled._last.graph, compiled._last.bound).source
    assert source.count("many") == 1  # one call of the rule over the three tables
    assert "rows=[" in source  # reading the rows the lookups gathered (passes.sparse_rows)


def test_data_parallel_refuses_a_sparse_update_clearly():
    import ember.distributed  # noqa: F401  (registers the all_reduce op)
    from ember.passes.data_parallel import data_parallel

    table = nn.Embedding(10, 4, sparse=True)
    optimizer = ember.optim.Adagrad(table.parameters(), lr=0.1)

    def step(ids):
        optimizer.zero_grad()
        table(ids).sum().backward()
        optimizer.step()

    graph = ember.jit(step, passes=()).graph_for(ember.tensor([1, 2, 1]))
    with pytest.raises(RuntimeError, match="data_parallel: the graph updates a sparse embedding"):
        data_parallel(graph)


def _lookup_then_update(write_between: bool):
    from ember.graph.ir import Graph
    from ember.ops.effects import assign, sparse_update

    g = Graph()
    table, ids = g.input("table", (10, 4), np.float32), g.input("ids", (5,), np.int64)
    with g.building():
        rows = ember.embedding(ids, table, sparse=True)
        if write_between:
            assign(table, ember.zeros((10, 4)))
        grad = RowSparse(ids.reshape(-1), rows * 2.0, (10, 4))
        sparse_update(table, grad, sparse_adagrad_update, {}, {"lr": 0.1})
    g.outputs = [rows]
    return g, rows


def test_sparse_rows_pass_hands_the_lookups_rows_to_the_update_unless_the_table_changed_between():
    from ember.passes.sparse_rows import sparse_rows

    g, rows = _lookup_then_update(write_between=False)
    update = sparse_rows(g).nodes[-1]
    assert update.op.name == "sparse_update" and len(update.inputs) == 4 and update.inputs[3] is rows
    g.verify()
    g, _ = _lookup_then_update(write_between=True)
    assert len(sparse_rows(g).nodes[-1].inputs) == 3  # the assign wrote the table: its rows are gathered anew

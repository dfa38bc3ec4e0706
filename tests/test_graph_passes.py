"""Each pass alone: what it changes, and that results are preserved (against the reference interpreter)."""

from __future__ import annotations

import numpy as np
import pytest
from graph_cases import CASES, _inputs, build_case

import ember
from ember.graph import Graph, interpret
from ember.optim.functional import adam_update, sgd_update
from ember.passes import (
    PASSES,
    PassManager,
    TrainRequest,
    autodiff,
    cse,
    fold_constants,
    prune,
    run_passes,
    simplify,
)
from ember.runtime import compile_graph


def _ops(graph):
    return [n.op.name for n in graph.nodes]


@pytest.mark.parametrize("name", ["prune", "fold_constants", "simplify", "cse"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_pass_preserves_results(name, case):
    _, fn, shapes = case
    arrays = _inputs(shapes, seed=1)
    graph = build_case(fn, shapes)
    before = interpret(graph, *arrays)
    after_graph = PASSES[name](graph).verify()
    after = interpret(after_graph, *arrays)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    compiled = compile_graph(after_graph)(*arrays)
    for a, b in zip(before, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_default_pipeline_preserves_results_and_shrinks_graphs():
    for _, fn, shapes in CASES:
        arrays = _inputs(shapes, seed=2)
        graph = build_case(fn, shapes)
        size = len(graph.nodes)
        before = interpret(graph, *arrays)
        graph = run_passes(graph, verify=True)
        assert len(graph.nodes) <= size
        for a, b in zip(before, interpret(graph, *arrays)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def _graph_with_dead_code():
    g = Graph()
    x = g.input("x", (3,), "float32")
    with g.building():
        y = ember.exp(x)
        ember.tanh(x) * 3.0  # dead
    g.outputs = [y]
    return g, x, y


def test_prune_drops_dead_nodes():
    g, x, y = _graph_with_dead_code()
    assert _ops(prune(g).verify()) == ["exp"]
    assert g.inputs == [x]


def test_prune_keeps_updates():
    g = Graph()
    w = g.input("w", (3,), "float32")
    with g.building():
        loss = (w * w).sum()
    g.requests.append(TrainRequest(loss, [w], sgd_update, {"lr": 0.1}, [{}]))
    autodiff(g)
    g.outputs = []
    prune(g).verify()
    assert _ops(g)[-1] == "update"
    assert "mul" in _ops(g)


def test_fold_constants_computes_constant_subgraphs():
    g = Graph()
    x = g.input("x", (2,), "float32")
    c = g.constant(np.array([1.0, 2.0], np.float32))
    with g.building():
        k = ember.exp(c) * 2.0 + 1.0
        y = x * k
    g.outputs = [y]
    fold_constants(g).verify()
    prune(g)
    assert _ops(g) == ["const", "mul"]
    np.testing.assert_allclose(interpret(g, np.ones(2, np.float32))[0], np.exp([1.0, 2.0]) * 2 + 1, rtol=1e-6)


def test_fold_constants_leaves_random_nodes():
    import ember.compat.tf as tf

    g = tf.Graph()
    with g.as_default():
        noise = tf.random_normal([3]) * 2.0
        sess = tf.Session(graph=g)
    first, second = sess.run(noise), sess.run(noise)
    assert not np.array_equal(first, second)


def test_cse_merges_repeated_work():
    g = Graph()
    x = g.input("x", (3,), "float32")
    with g.building():
        a = ember.exp(x) + 1.0
        b = ember.exp(x) + 1.0
        g.outputs = [a * b]
    cse(g).verify()
    assert _ops(g).count("exp") == 1 and _ops(g).count("add") == 1
    assert _ops(g).count("const") == 1


def test_cse_keeps_two_outputs_two_arrays():
    # (exp(x) + 1, exp(x) + 1) returned one array twice, so writing into one result changed the other (eager
    # mode makes two); the shared exp is still computed once
    g = Graph()
    x = g.input("x", (3,), "float32")
    with g.building():
        g.outputs = [ember.exp(x) + 1.0, (ember.exp(x) + 1.0).reshape(1, 3)]
    cse(g).verify()
    assert _ops(g).count("exp") == 1 and _ops(g).count("add") == 2
    fast = ember.jit(lambda t: (t.exp() + 1, t.exp() + 1))
    t = ember.zeros(3)
    for _ in range(2):
        a, b = fast(t)
        a.add_(1)
        assert b.tolist() == [2.0, 2.0, 2.0]


def test_simplify_removes_identities_but_not_broadcasts():
    g = Graph()
    x = g.input("x", (3,), "float32")
    s = g.input("s", (), "float32")
    with g.building():
        y = (x * 1.0 - 0.0).reshape(3) * s
        z = s * np.ones(3, np.float32)  # broadcasting: must stay
        w = ember.sum(x.reshape(1, 3), axis=0) * s  # sum over a length-1 axis: a reshape
    g.outputs = [y, z, w]
    simplify(g).verify()
    prune(g)
    assert sorted(_ops(g)) == ["const", "mul", "mul", "mul", "reshape", "reshape"]
    assert g.nodes[0].inputs[0] is x
    out = interpret(g, np.arange(3, dtype=np.float32), np.float32(2))
    assert out[1].tolist() == [2.0, 2.0, 2.0] and out[2].tolist() == [0.0, 2.0, 4.0]


def test_simplify_keeps_an_identity_whose_result_would_hand_out_an_input():
    # x * 1 (or a sum over a length-1 axis) returned as x would give the caller its own array, which eager mode
    # never does: writing into the result, or into the argument later, changed the other
    g = Graph()
    x = g.input("x", (3,), "float32")
    with g.building():
        outs = [x * 1.0, (x - 0.0).reshape(1, 3), ember.sum(x.reshape(1, 3), axis=0), (x + -0.0) * 2.0]
    g.outputs = outs
    simplify(g).verify()
    prune(g)
    assert all(v is not x for v in g.outputs) and _ops(g).count("sum") == 1 and _ops(g).count("add") == 0
    x0 = np.arange(3, dtype=np.float32)
    got = interpret(g, x0)
    assert not any(np.shares_memory(a, x0) for a in got)
    fast = ember.jit(lambda t: (t * 1.0, t.reshape(1, 3).sum(0)))
    t = ember.ones(3)
    for result in fast(t):
        result.add_(1)
    assert t.tolist() == [1.0, 1.0, 1.0]


def test_simplify_keeps_the_sign_of_zero_and_complex_parts():
    # -0.0 + 0.0 is 0.0 and (inf + 1j) * 1 is inf + nanj: only x + (-0.0), x - 0.0 and integer x + 0 are x
    g = Graph()
    x = g.input("x", (2,), "float32")
    i = g.input("i", (2,), "int64")
    z = g.input("z", (1,), "complex64")
    with g.building():
        kept = [1.0 / (x + 0.0), 1.0 / (0.0 + x), 1.0 / (x - -0.0), x + ember.zeros(2), z * 1.0, z / 1.0]
        gone = [x + -0.0, -0.0 + x, x - 0.0, i + 0]
    g.outputs = kept + gone
    simplify(g).verify()
    assert g.outputs[len(kept):] == [x, x, x, i]
    x0, z0 = np.array([-0.0, 2.0], np.float32), np.array([complex(np.inf, 1.0)], np.complex64)
    with np.errstate(divide="ignore", invalid="ignore"):
        got = interpret(g, x0, np.arange(2), z0)
    assert [a.tolist() for a in got[:3]] == [[np.inf, 0.5]] * 3 and np.signbit(got[3]).tolist() == [False, False]
    assert np.isnan(got[4].imag).all() and np.isnan(got[5].imag).all()


def test_simplify_keeps_an_identity_of_a_variable_written_before_its_readers():
    # v * 1 computed before v is written keeps the old values for a reader after the write; one read before
    # any write is v itself; a graph output of a written variable is read before (Session) or after (ember.jit)
    g = Graph()
    v = g.input("v", (3,), "float32")
    with g.building():
        early = v * 1.0
        unchanged = (v - 0.0) * 2.0  # read before the write: v itself
        ember.ops.effects.assign(v, v * 3.0)
        late = early - 0.0  # of a fresh value: removed
        fetched = v * 1.0
    g.outputs = [late, unchanged, fetched]
    simplify(g).verify()
    prune(g)
    assert _ops(g).count("mul") == 4 and "sub" not in _ops(g)
    v0 = np.arange(3, dtype=np.float32)
    out = interpret(g, v0.copy())
    assert out[0].tolist() == [0.0, 1.0, 2.0] and out[1].tolist() == [0.0, 2.0, 4.0]
    assert out[2].tolist() == [0.0, 3.0, 6.0]


def test_simplify_keeps_a_sum_over_length_one_axes_of_a_variable_written_before_its_readers():
    # the sum's own rewrite into a reshape made it a view of v, so a reader after the write saw the new values: a
    # traced s = x.sum(0); x[0] = 0.5; return s * 2 gave [1, 1] where eager mode gives [2, 4]
    g = Graph()
    v = g.input("v", (1, 2), "float32")
    with g.building():
        early = v.sum(axis=0)
        unchanged = v.sum(axis=0) * 2.0  # read before the write: a reshape of v
        ember.ops.effects.assign(v, v * 3.0)
        late = early * 2.0
    g.outputs = [late, unchanged]
    simplify(g).verify()
    assert _ops(g).count("sum") == 1 and _ops(g).count("reshape") == 1
    out = interpret(g, np.array([[1.0, 2.0]], np.float32))
    assert out[0].tolist() == [2.0, 4.0] and out[1].tolist() == [2.0, 4.0]

    def fn(x):
        s = x.sum(0)
        x[0] = 0.5
        return s * 2

    for run in (fn, ember.jit(fn)):
        assert run(ember.tensor([[1.0, 2.0]])).tolist() == [2.0, 4.0]


def test_simplify_keeps_an_identity_of_a_sum_it_made_a_view_of_a_written_variable():
    # x.mean(-1) of one element is sum * 1: the sum became a reshape of x (its readers came before the write), then
    # the identity * 1 was removed as if the sum were new memory, so the mean read x after the write: a traced
    # m = x.mean(-1); x.mul_(-1); return m.long() % 3 gave 2 for 1 at x = [1.5]
    g = Graph()
    v = g.input("v", (1,), "float32")
    with g.building():
        mean = v.sum(axis=0) * 1.0
        ember.ops.effects.assign(v, v * -1.0)
        late = mean * 2.0
    g.outputs = [late]
    simplify(g).verify()
    assert interpret(g, np.array([1.5], np.float32))[0].tolist() == 3.0

    def fn(x):
        m = x.mean(-1)
        x.mul_(-1)
        return m.long() % 3

    for run in (fn, ember.jit(fn), ember.jit(fn, dynamic=False)):
        assert run(ember.tensor([1.5])).item() == 1


def test_simplify_keeps_an_identity_whose_view_is_read_after_a_write():
    # v * 1 read through its transpose after v is written was removed, its only direct reader coming before the
    # write: a traced t = (x * 1).T; x.add_(1); return t * 2 gave [[4], [6]] where eager mode gives [[2], [4]]
    g = Graph()
    v = g.input("v", (1, 2), "float32")
    with g.building():
        viewed = ember.transpose(v * 1.0)
        ember.ops.effects.assign(v, v + 1.0)
        late = viewed * 2.0
    g.outputs = [late]
    simplify(g).verify()
    assert interpret(g, np.array([[1.0, 2.0]], np.float32))[0].tolist() == [[2.0], [4.0]]

    def fn(x):
        t = (x * 1).T
        x.add_(1)
        return t * 2

    for run in (fn, ember.jit(fn)):
        assert run(ember.tensor([[1.0, 2.0]])).tolist() == [[2.0], [4.0]]


def test_simplify_computes_exp_of_log_softmax_as_softmax_only_when_nothing_else_reads_it():
    x0 = np.random.default_rng(6).standard_normal((5, 4)) * 10
    for also_fetch_log_probs in (False, True):
        g = Graph()
        x = g.input("x", (5, 4), "float64")
        with g.building():
            logp = ember.log_softmax(x, axis=1)
            p = ember.exp(logp) * 2.0
        g.outputs = [p, logp] if also_fetch_log_probs else [p]
        simplify(g).verify()
        prune(g)
        assert ("softmax" in _ops(g)) != also_fetch_log_probs
        assert ("log_softmax" in _ops(g)) == also_fetch_log_probs
        e = np.exp(x0 - x0.max(1, keepdims=True))
        expected = 2 * e / e.sum(1, keepdims=True)
        np.testing.assert_allclose(interpret(g, x0)[0], expected, rtol=1e-14)


@pytest.mark.parametrize("rule,hyper", [(sgd_update, {"lr": 0.1}), (sgd_update, {"lr": 0.1, "momentum": 0.9}),
                                        (adam_update, {"lr": 0.01})])
def test_autodiff_updates_match_eager_optimizer_math(rule, hyper):
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    g = Graph()
    w = g.input("w", (4,), "float32")
    x = g.input("x", (4,), "float32")
    with g.building():
        loss = ((w * x - 1.0) ** 2.0).sum()
    state: dict = {}
    g.requests.append(TrainRequest(loss, [w], rule, hyper, [state]))
    g.outputs = [loss]
    g = run_passes(g, verify=True)
    assert _ops(g)[-1] == "update"
    weights = w0.copy()
    run = compile_graph(g, {w.id: weights})
    expected, expected_state = w0.copy(), {}
    for _ in range(3):
        run(x0)
        grad = 2 * (expected * x0 - 1.0) * x0
        rule(expected, grad.astype(np.float32), expected_state, **hyper)
    np.testing.assert_allclose(weights, expected, rtol=1e-5)


def test_values_outside_building_give_a_clear_error():
    g = Graph()
    x = g.input("x", (3,), "float32")
    with pytest.raises(TypeError, match="inside `with graph.building"):
        ember.exp(x)


def test_pass_manager_names_and_dump(monkeypatch, capsys):
    with pytest.raises(ValueError, match="unknown pass 'nope'"):
        PassManager(["prune", "nope"])
    g, *_ = _graph_with_dead_code()
    monkeypatch.setenv("EMBER_DUMP_IR", "1")
    PassManager(["prune", "cse"]).run(g)
    err = capsys.readouterr().err
    assert "// after prune" in err and "// after cse" in err and "exp(%0)" in err


def test_default_pipeline_golden_linear_regression():
    g = Graph()
    x = g.input("x", (4,), "float32")
    y = g.input("y", (4,), "float32")
    w = g.input("w", (), "float32")
    b = g.input("b", (), "float32")
    with g.building():
        d = w * x + b - y
        loss = (d * d).mean()
    g.requests.append(TrainRequest(loss, [w, b], sgd_update, {"lr": 0.01}, [{}, {}]))
    g.outputs = [loss]
    assert run_passes(g, verify=True).dump() == """\
graph(%0: float32[4] x, %1: float32[4] y, %2: float32[] w, %3: float32[] b) {
  %4 = mul(%2, %0) : float32[4]  @buf0
  %5 = add(%4, %3) : float32[4]  @buf0 over %4
  %6 = sub(%5, %1) : float32[4]  @buf0 over %5
  %7 = mul(%6, %6) : float32[4]  @buf1
  %8 = sum(%7, axis=None, keepdims=False) : float32[]
  %9 = const(0.25) : float32[]
  %10 = mul(%8, %9) : float32[]
  %14 = const([0.25, 0.25, 0.25, 0.25]) : float32[4]
  %15 = mul(%14, %6) : float32[4]  @buf0 over %6
  %17 = add(%15, %15) : float32[4]  @buf0 over %15
  %18 = sum(%17, axis=0, keepdims=False) : float32[]
  %19 = mul(%17, %0) : float32[4]  @buf0 over %17
  %20 = sum(%19, axis=0, keepdims=False) : float32[]
  update(%2, %20, rule=sgd_update, hyper={lr=0.01})
  update(%3, %18, rule=sgd_update, hyper={lr=0.01})
  return %10
  // buffers (7 values in 2): buf0 16 B, buf1 16 B
}"""

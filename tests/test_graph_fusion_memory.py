"""fuse_elementwise and plan_memory: results preserved (generated code vs interpreter vs eager), groups really
fused, buffers really shared, and the memory plan's safety rules (views, outputs, inputs, kept gradients)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import test_graph_random as table
from graph_cases import CASES, _eager, _inputs, build_case

import ember
from ember import nn
from ember.graph import ASSIGN, Graph, GraphError, interpret
from ember.optim.functional import adam_update, sgd_update
from ember.passes import (
    PASSES,
    PassManager,
    TrainRequest,
    fuse_elementwise,
    gradients,
    plan_memory,
    run_passes,
)
from ember.runtime import compile_graph

BEFORE = ("autodiff", "prune", "fold_constants", "simplify", "cse", "prune")


def _always(group, elements):
    return True


def _optimize(graph: Graph, fuse: bool = True, plan: bool = True) -> Graph:
    """The default pipeline with both passes forced to act on every size (the defaults skip small graphs)."""
    graph = run_passes(graph, BEFORE, verify=True)
    if fuse:
        fuse_elementwise(graph, pays=_always).verify()
    if plan:
        plan_memory(graph, min_bytes=0).verify()
    return graph


def _ops(graph):
    return [n.op.name for n in graph.nodes]


def _assert_close(got, expected, rtol=1e-12, atol=1e-14):
    for a, b in zip(got, expected):
        np.testing.assert_allclose(np.asarray(a), b, rtol=rtol, atol=atol)


# --- results preserved ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fuse,plan", [(True, False), (False, True), (True, True)], ids=["fuse", "plan", "both"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_passes_preserve_results_on_the_graph_cases(case, fuse, plan):
    _, fn, shapes = case
    arrays = _inputs(shapes, seed=4)
    copies = [a.copy() for a in arrays]
    out, grads = _eager(fn, arrays)
    reference = interpret(build_case(fn, shapes), *arrays)
    _assert_close(reference, [out, *grads], 1e-10, 1e-12)
    graph = _optimize(build_case(fn, shapes), fuse, plan)
    _assert_close(interpret(graph, *arrays), reference)
    run = compile_graph(graph)
    first = run(*arrays)  # kept as returned: the next calls must not write into these arrays
    _assert_close(first, reference)
    _assert_close(run(*[a * 0.5 for a in arrays]), interpret(graph, *[a * 0.5 for a in arrays]))
    _assert_close(run(*arrays), reference)
    _assert_close(first, reference)
    for a, b in zip(arrays, copies):
        np.testing.assert_array_equal(a, b)


def test_random_graph_table_with_both_passes_forced():
    fused = planned = 0
    for seed in table.SEEDS:
        steps = table.random_program(seed)
        arrays = table._arrays(seed)
        expected = table._eager(steps, arrays)
        graph = _optimize(table._graph(steps, arrays))
        fused += _ops(graph).count("fused")
        planned += len(graph.memory_plan.slots)
        table._check(interpret(graph, *arrays), expected, f"seed {seed}: interpreter")
        run = compile_graph(graph)
        first = run(*arrays)  # kept as returned: the next calls must not write into these arrays
        table._check(first, expected, f"seed {seed}: generated code")
        run(*[a[::-1].copy() for a in arrays])
        table._check(run(*arrays), expected, f"seed {seed}: third call")
        table._check(first, expected, f"seed {seed}: first results after two more calls")
    assert fused > len(table.SEEDS) and planned > 5 * len(table.SEEDS)


@pytest.mark.parametrize("rule,hyper", [(sgd_update, {"lr": 0.05, "momentum": 0.9}), (adam_update, {"lr": 0.01})])
def test_training_graph_matches_the_interpreter(rule, hyper):
    """An MLP training step (matmul, relu, softmax cross-entropy, updates) with both passes forced."""
    rng = np.random.default_rng(0)
    shapes = {"w1": (6, 32), "b1": (32,), "w2": (32, 3)}
    params = {k: (rng.standard_normal(s) * 0.3).astype(np.float32) for k, s in shapes.items()}

    def build():
        g = Graph()
        x = g.input("x", (16, 6), "float32")
        y = g.input("y", (16,), "int64")
        ws = [g.input(k, s, "float32") for k, s in shapes.items()]
        with g.building():
            h = ember.relu(x @ ws[0] + ws[1])
            loss = ember.cross_entropy(ember.tanh(h) * 2.0 @ ws[2], y)
        g.requests.append(TrainRequest(loss, ws, rule, hyper, [{} for _ in ws]))
        g.outputs = [loss]
        return g, ws

    graph, ws = build()
    graph = _optimize(graph)
    assert graph.memory_plan.inplace and "fused" in _ops(graph)
    reference, ref_ws = build()
    reference = run_passes(reference, BEFORE)
    live = {k: v.copy() for k, v in params.items()}
    ref = {k: v.copy() for k, v in params.items()}
    run = compile_graph(graph, {v.id: live[k] for k, v in zip(shapes, ws)})
    ref_run = compile_graph(reference, {v.id: ref[k] for k, v in zip(shapes, ref_ws)})
    for _ in range(4):
        x = rng.standard_normal((16, 6)).astype(np.float32)
        y = rng.integers(0, 3, 16)
        x_copy = x.copy()
        (loss,) = run(x, y)
        (ref_loss,) = ref_run(x, y)
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
        np.testing.assert_array_equal(x, x_copy)
    for k in shapes:
        np.testing.assert_allclose(live[k], ref[k], rtol=1e-5, atol=1e-6)


def test_jit_training_with_both_passes_forced_matches_eager(monkeypatch):
    monkeypatch.setitem(PASSES, "fuse_always", functools.partial(fuse_elementwise, pays=_always))
    monkeypatch.setitem(PASSES, "plan_all", functools.partial(plan_memory, min_bytes=0))

    def build():
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
        return net, ember.optim.Adam(net.parameters(), lr=1e-2)

    def step(net, opt, x, y):
        opt.zero_grad()
        loss = ember.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    eager_net, eager_opt = build()
    net, opt = build()
    traced = ember.jit(lambda x, y: step(net, opt, x, y), passes=BEFORE + ("fuse_always", "plan_all"))
    rng = np.random.default_rng(1)
    for _ in range(4):
        x = ember.tensor(rng.standard_normal((8, 6)).astype(np.float32))
        y = ember.tensor(rng.integers(0, 3, 8))
        np.testing.assert_allclose(traced(x, y).item(), step(eager_net, eager_opt, x, y).item(), rtol=1e-5)
    for a, b in zip(eager_net.parameters(), net.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)
    graph = traced.graph_for(x, y)  # (runs one more step)
    assert "fused" in _ops(graph) and graph.memory_plan.slots


# --- fuse_elementwise -----------------------------------------------------------------------------------


def _chain_graph(n: int, dtype="float32", transcendental: bool = False):
    g = Graph()
    x = g.input("x", (n,), dtype)
    y = g.input("y", (n,), dtype)
    with g.building():
        if transcendental:
            g.outputs = [ember.sigmoid(ember.exp(x * 0.5) + y) * y - ember.tanh(x) / (y * y + 1.0)]
        else:
            g.outputs = [ember.relu(x * 0.5 + y) * y - x / ember.sqrt(y * y + 1.0)]
    return g


def test_a_chain_becomes_one_fused_node_and_one_kernel_call():
    graph = run_passes(_chain_graph(64), verify=True)
    assert [name for name in _ops(graph) if name != "const"] == ["fused"]
    body = graph.nodes[-1].attrs["body"]
    assert repr(body) == "sub(mul(relu(add(mul($0, $1), $2)), $2), div($0, sqrt(add(mul($2, $2), $3))))"
    run = compile_graph(graph)
    assert run.source.count(" = ") == 1 and "ex_uses_vml" in run.source  # one line: one numexpr call
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 64)).astype(np.float32)
    (got,) = run(x, y)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, interpret(_chain_graph(64), x, y)[0])  # the same rounding as NumPy's


@pytest.mark.parametrize("extremum", [ember.maximum, ember.minimum], ids=["maximum", "minimum"])
def test_fused_extrema_pick_numpys_operand_on_signed_zeros_and_nans(extremum):
    nan = np.float32(np.nan)
    values = np.array([nan, -nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, 3.0, -2.5], np.float32)
    a, b = (v.ravel().copy() for v in np.meshgrid(values, values))  # every pair, (-0.0, 0.0) and (0.0, -0.0)
    g = Graph()
    x, y = g.input("x", a.shape, "float32"), g.input("y", b.shape, "float32")
    with g.building():
        g.outputs = [extremum(x, y) * 1.5]
    graph = fuse_elementwise(run_passes(g, BEFORE), pays=_always)
    assert [name for name in _ops(graph) if name != "const"] == ["fused"]
    (got,) = compile_graph(graph)(a, b)
    np.testing.assert_array_equal(got.view(np.uint32), (extremum(ember.tensor(a), ember.tensor(b)) * 1.5).numpy()
                                  .view(np.uint32))  # the same bits: max(-0.0, 0.0) is 0.0, as NumPy's


def test_transcendental_chains_keep_their_dtype_and_are_fused_only_on_request():
    assert "fused" not in _ops(run_passes(_chain_graph(64, transcendental=True)))  # 1-ulp differences from NumPy
    graph = fuse_elementwise(run_passes(_chain_graph(64, transcendental=True), BEFORE), pays=_always)
    assert [name for name in _ops(graph) if name != "const"] == ["fused"]
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 64)).astype(np.float32)
    (got,) = compile_graph(graph)(x, y)
    assert got.dtype == np.float32  # constants enter numexpr as float32 values, never as float64 literals
    expected = interpret(_chain_graph(64, transcendental=True), x, y)[0]
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-7)


def test_fused_sigmoid_keeps_its_relative_precision_for_negative_inputs():
    x = np.array([-85.0, -40.0, -17.0, -10.0, -1.0, 0.0, 1.0, 10.0, 40.0, np.inf, -np.inf], np.float32)
    g = Graph()
    v = g.input("x", x.shape, "float32")
    with g.building():
        g.outputs = [ember.sigmoid(v) * 1.5]
    graph = fuse_elementwise(run_passes(g, BEFORE), pays=_always)
    assert [name for name in _ops(graph) if name != "const"] == ["fused"]
    (got,) = compile_graph(graph)(x)
    np.testing.assert_allclose(got, 1.5 / (1.0 + np.exp(-x.astype(np.float64))), rtol=1e-6, atol=0)


def test_default_rule_follows_the_measurements():
    def fused(n, fn=None):
        g = Graph()
        x = g.input("x", (n,), "float32")
        with g.building():
            g.outputs = [(fn or (lambda a: ((a * a + a) * a - a) * a + a))(x)]
        return "fused" in _ops(fuse_elementwise(g))

    assert fused(16) and fused(128)
    assert not fused(1)  # one element: the runtime's NumPy-scalar path is faster
    assert not fused(1024) and not fused(100_000)  # NumPy's SIMD loops win
    assert fused(1 << 20)  # passes over memory dominate
    assert not fused(1 << 20, lambda a: ember.relu(a * a) + a)  # numexpr's where() is 5x slower per element
    assert not fused(64, lambda a: (((a * a) + a) * a - a) * a)  # five NumPy calls cost less than one numexpr call
    assert not fused(64, lambda a: ember.exp(((a * a + a) * a - a) * a))  # exp rounds unlike NumPy's


def test_per_channel_terms_stay_outside_a_full_size_group():
    """A batch-norm-like chain: the per-channel factors are computed once, by NumPy, not once per element inside
    the kernel; the kernel holds only the full-size steps."""
    g = Graph()
    x = g.input("x", (16, 8, 4, 4), "float32")
    y = g.input("y", (16, 8, 4, 4), "float32")
    a = g.input("a", (1, 8, 1, 1), "float32")
    b = g.input("b", (1, 8, 1, 1), "float32")
    with g.building():
        g.outputs = [x * (a * b) + y * (a - b) + b * b]
    graph = fuse_elementwise(run_passes(g, BEFORE), pays=_always)
    full = [n for n in graph.nodes if n.op.name == "fused" and tuple(n.outputs[0].array.shape) == (16, 8, 4, 4)]
    assert len(full) == 1 and repr(full[0].attrs["body"]) == "add(add(mul($0, $1), mul($2, $3)), $4)"
    assert [tuple(v.array.shape) for v in full[0].inputs] == [(16, 8, 4, 4), (1, 8, 1, 1)] * 2 + [(1, 8, 1, 1)]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(v.array.shape).astype(np.float32) for v in g.inputs]
    (got,) = compile_graph(graph)(*arrays)
    np.testing.assert_array_equal(got, interpret(g, *arrays)[0])


def _shared_value_graph():
    g = Graph()
    x = g.input("x", (8,), "float32")
    w = g.input("w", (8,), "float32")
    with g.building():
        shared = ember.exp(x) * 2.0  # read by two chains
        a = ember.tanh(shared) + 1.0
        b = shared * x - 3.0
        out = a * b
        loss = (w * out).sum()
    g.requests.append(TrainRequest(loss, [w], sgd_update, {"lr": 0.1}, [{}]))
    g.outputs = [a, out]
    return run_passes(g, BEFORE), w


def test_fusion_stops_at_shared_values_and_outputs():
    graph, w = _shared_value_graph()
    fuse_elementwise(graph, pays=_always).verify()
    bodies = [repr(n.attrs["body"]) for n in graph.nodes if n.op.name == "fused"]
    assert "mul(exp($0), $1)" in bodies  # `shared` ends a group: its value leaves it
    assert "add(tanh($0), $1)" in bodies  # `a` is an output: its own group, not absorbed into `out`
    assert _ops(graph)[-1] == "update"
    reference, w_ref_value = _shared_value_graph()
    x0 = np.linspace(-1, 1, 8).astype(np.float32)
    w_run, w_ref = np.ones(8, np.float32), np.ones(8, np.float32)
    run = compile_graph(graph, {w.id: w_run})
    ref_run = compile_graph(reference, {w_ref_value.id: w_ref})
    for _ in range(2):
        _assert_close(run(x0), ref_run(x0), 1e-6, 1e-6)
        np.testing.assert_allclose(w_run, w_ref, rtol=1e-6, atol=1e-6)


def test_fusion_never_moves_a_read_past_an_assign():
    g = Graph()
    x = g.input("x", (8,), "float64")
    y = g.input("y", (8,), "float64")
    with g.building():
        a = ember.exp(x * 2.0)  # reads x before the assign below
    g.add(ASSIGN, (x, y))
    with g.building():
        g.outputs = [ember.tanh(a) + 1.0]
    graph = _optimize(g)
    x0, y0 = np.linspace(-1, 1, 8), np.zeros(8)
    expected = np.tanh(np.exp(x0 * 2.0)) + 1.0
    variable = x0.copy()
    _assert_close(compile_graph(graph, {x.id: variable})(y0), [expected])
    np.testing.assert_array_equal(variable, y0)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "int8", "uint8", "int64"])
def test_no_fusion_for_dtypes_numexpr_lacks(dtype):
    g = Graph()
    x = g.input("x", (16,), dtype)
    with g.building():
        g.outputs = [((x * x + x) * x - x) * x + x]
    assert "fused" not in _ops(fuse_elementwise(g, pays=_always))


def test_dump_shows_fused_nodes_and_the_buffer_plan(monkeypatch, capsys):
    graph = _chain_graph(64)
    with graph.building():
        graph.outputs = [graph.outputs[0].sum()]
    monkeypatch.setenv("EMBER_DUMP_IR", "1")
    PassManager().run(graph)
    err = capsys.readouterr().err
    assert "// after fuse_elementwise" in err and "// after plan_memory" in err
    assert "= fused(%0, %" in err and ", body=sub(mul(relu(add(mul($0, $1), $2)), $2), div($0, sqrt(" in err
    assert ") : float32[64]  @buf0\n" in err and "// buffers (1 values in 1): buf0 256 B" in err


# --- plan_memory ----------------------------------------------------------------------------------------


def _deep_chain(depth: int = 12, n: int = 32):
    g = Graph()
    x = g.input("x", (n, n), "float64")
    w = g.input("w", (n, n), "float64")
    with g.building():
        h = x
        for _ in range(depth):
            h = ember.tanh(h @ w) * 0.5
        g.outputs = [h.sum(axis=0)]
    return g


def test_deep_chain_shares_few_buffers():
    graph = plan_memory(run_passes(_deep_chain(), BEFORE)).verify()
    plan = graph.memory_plan
    intermediates = sum(len(n.outputs) for n in graph.nodes if n.op.name != "const")
    assert len(plan.slots) == intermediates - 1  # all but the returned sum
    assert len(plan.buffers) <= 2 < intermediates  # matmul needs a buffer apart from its input; the rest in place
    assert plan.inplace
    run = compile_graph(graph)
    assert run.source.count("out=") == intermediates - 1
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 32, 32)) * 0.3
    _assert_close(run(x, w), interpret(graph, x, w))
    _assert_close(run(x, w), interpret(graph, x, w))


def test_outputs_are_not_overwritten_by_the_next_call():
    g = Graph()
    x = g.input("x", (64,), "float32")
    with g.building():
        a = ember.exp(x)
        view = (a * 2.0).reshape(8, 8)  # an output that is a view of an intermediate
        later = ember.tanh(a * 3.0) + a  # enough work after them to reuse any freed buffer
        g.outputs = [a, view, later * later]
    graph = _optimize(g, fuse=False)
    run = compile_graph(graph)
    x1 = np.linspace(-1, 1, 64).astype(np.float32)
    first = run(x1)
    kept = [np.array(a, copy=True) for a in first]
    run(x1 + 5.0)
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b)


def test_a_view_keeps_its_base_buffer_alive():
    g = Graph()
    x = g.input("x", (8, 8), "float64")
    with g.building():
        a = ember.exp(x) + 1.0  # planned
        t = ember.transpose(a)  # a view of a's buffer
        r = (a * 3.0).reshape(4, 16)  # a view of another planned buffer
        b = ember.tanh(a * 2.0) - 1.0  # the last plain read of a: its buffer looks free...
        c = ember.sqrt(b * b + 3.0) * 0.5  # ...to these
        d = ember.exp(c * 0.25) + 2.0
        g.outputs = [((d + t).reshape(4, 16) * r).sum(axis=0)]  # ...but t and r still read them
    graph = _optimize(g, fuse=False)
    run = compile_graph(graph)
    x0 = np.random.default_rng(0).standard_normal((8, 8))
    a0 = np.exp(x0) + 1.0
    d0 = np.exp(np.sqrt((np.tanh(a0 * 2.0) - 1.0) ** 2 + 3.0) * 0.5 * 0.25) + 2.0
    expected = (((d0 + a0.T).reshape(4, 16)) * (a0 * 3.0).reshape(4, 16)).sum(axis=0)
    _assert_close(run(x0), [expected])
    _assert_close(run(x0), [expected])


def test_in_place_never_over_an_input_another_operand_views():
    """A fused kernel reads its inputs block by block: writing into a while reading a's transpose would
    read values it has already overwritten."""
    g = Graph()
    x = g.input("x", (128, 128), "float64")
    with g.building():
        a = ember.exp(x * 0.1)
        g.outputs = [(a * 2.0 + ember.transpose(a) * 3.0).sum(axis=0)]
    graph = _optimize(g)
    assert "fused" in _ops(graph)
    x0 = np.random.default_rng(0).standard_normal((128, 128))
    a0 = np.exp(x0 * 0.1)
    _assert_close(compile_graph(graph)(x0), [(a0 * 2.0 + a0.T * 3.0).sum(axis=0)], 1e-12, 1e-12)


def test_inputs_and_constants_are_never_written():
    g = Graph()
    x = g.input("x", (16,), "float32")
    values = np.arange(16, dtype=np.float32) * 0.1
    c = g.constant(values.copy())
    with g.building():
        y = ember.relu(x)  # x dies here: still an input, so never a destination
        g.outputs = [(ember.exp(c) + y).sum()]  # c dies at exp: still a constant
    graph = plan_memory(run_passes(g, ("prune",))).verify()  # (no fold_constants: exp(c) stays)
    plan = graph.memory_plan
    assert not {x.id, c.id} & (set(plan.slots) | set(plan.inplace.values()))
    x0 = np.linspace(-2, 2, 16).astype(np.float32)
    before = x0.copy()
    run = compile_graph(graph)
    first = run(x0)[0]
    assert run(x0)[0] == first
    np.testing.assert_array_equal(x0, before)
    const = next(n for n in graph.nodes if n.outputs and n.outputs[0] is c)
    np.testing.assert_array_equal(const.attrs["value"], values)


@pytest.mark.parametrize("dynamic", [None, True])
def test_an_op_without_out_written_over_its_dying_input_keeps_its_result(dynamic):
    # integer pow (computed by its forward, with no out=) planned over its dying input was taken for a call that
    # wrote into it, as its argument sat where a reduction's positional out does: the code dropped the power and
    # read the input, ((a - b) ** 3).mean(0) giving [5.5, 1.5, ...] where eager mode gives [269.5, 31.5, ...]
    def fn(a, b):
        return ((a - b) ** 3).to(ember.float32).mean(0)

    a, b = ember.tensor(np.array([3, 0, 1, 2, -1])), ember.tensor(np.arange(10).reshape(2, 5) - 5)
    compiled = ember.jit(fn, dynamic=dynamic)
    for _ in range(3):
        np.testing.assert_array_equal(compiled(a, b).numpy(), fn(a, b).numpy())
    assert fn(a, b).numpy().tolist() == [269.5, 31.5, 31.5, 31.5, -62.5]


def test_elementwise_nodes_write_over_arrays_the_call_made():
    """After a primitive with no out= form (log_softmax...), relu writes over its dying result."""
    g = Graph()
    x = g.input("x", (32, 8), "float32")
    w = g.input("w", (16, 8), "float32")
    b = g.input("b", (16,), "float32")
    with g.building():
        h = ember.relu(ember.log_softmax(ember.linear(x, w, b), axis=1))
        g.outputs = [ember.log_softmax(h, axis=1).sum(axis=1)]
    graph = _optimize(g, fuse=False)
    relu = next(n for n in graph.nodes if n.op.name == "relu")
    assert graph.memory_plan.inplace[relu.outputs[0].id] == relu.inputs[0].id
    assert relu.outputs[0].id not in graph.memory_plan.slots and "  over %" in graph.dump()
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((32, 8), (16, 8), (16,))]
    copies = [a.copy() for a in arrays]
    run = compile_graph(graph)
    _assert_close(run(*arrays), interpret(graph, *arrays), 1e-6, 1e-6)
    _assert_close(run(*arrays), interpret(graph, *arrays), 1e-6, 1e-6)
    for a, copy in zip(arrays, copies):
        np.testing.assert_array_equal(a, copy)


def test_a_rule_that_keeps_its_gradient_gets_fresh_ones():
    def keep(param, grad, state, *, lr):
        state.setdefault("seen", []).append(grad)
        param -= grad * lr

    g = Graph()
    w = g.input("w", (4,), "float64")
    x = g.input("x", (4,), "float64")
    with g.building():
        loss = (ember.exp(w * x) * x).sum()
    state: dict = {}
    g.requests.append(TrainRequest(loss, [w], keep, {"lr": 0.1}, [state]))
    g.outputs = []
    graph = _optimize(g, fuse=False)
    weights = np.zeros(4)
    run = compile_graph(graph, {w.id: weights})
    xs = [np.arange(4.0), np.full(4, -1.0)]
    for xv in xs:
        run(xv)
    w_first = np.zeros(4)
    np.testing.assert_allclose(state["seen"][0], np.exp(w_first * xs[0]) * xs[0] * xs[0])
    assert state["seen"][0] is not state["seen"][1]


def test_a_changed_graph_drops_its_plan():
    graph = plan_memory(run_passes(_deep_chain(3), BEFORE))
    assert "out=" in compile_graph(graph).source
    graph.nodes = graph.nodes[:-1] + [graph.nodes[-1]]  # same nodes: still valid
    assert "out=" in compile_graph(graph).source
    tail = graph.nodes[-1]
    graph.nodes[-1] = type(tail)(tail.op, list(tail.inputs), list(tail.outputs), dict(tail.attrs))
    assert "out=" not in compile_graph(graph).source  # a node the plan does not know: planned afresh or not at all


def test_without_numexpr_a_fused_node_runs_its_body(monkeypatch):
    import ember.runtime.codegen as codegen

    monkeypatch.setattr(codegen, "numexpr_kernel", lambda body, dtypes: None)
    graph = run_passes(_chain_graph(64))
    run = compile_graph(graph)
    assert "ex_uses_vml" not in run.source
    x, y = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    _assert_close(run(x, y), interpret(_chain_graph(64), x, y), 1e-6, 1e-7)


def test_gradients_through_a_fused_node_are_refused():
    graph = run_passes(_chain_graph(64), verify=True)
    x = graph.inputs[0]
    with pytest.raises(GraphError, match="before fuse_elementwise"):
        gradients(graph, [graph.outputs[0]], [x])


@pytest.mark.parametrize("second", [slice(3, 6), slice(2, 5)], ids=["disjoint", "overlapping"])
def test_returned_slices_of_a_fresh_product_are_the_calls_own_only_when_disjoint(second):
    g = Graph()
    a = g.input("a", (4, 5), "float64")
    b = g.input("b", (5, 6), "float64")
    with g.building():
        product = a @ b
        first, other = product[:, 0:3], product[:, second]
    g.outputs = [first, other]
    run = compile_graph(g)
    arrays = [np.arange(20.0).reshape(4, 5), np.ones((5, 6))]
    results = run(*arrays)
    _assert_close(results, interpret(g, *arrays), 0, 0)
    if second.start == 3:  # the call's own: handed out as they are, views of one product
        assert run.fn.owned == {0, 1} and results[0].base is results[1].base
    else:  # a caller changing one would change the other: not the call's own
        assert run.fn.owned == set()

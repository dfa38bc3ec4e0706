"""The op record is the only per-op table: the lowering traits are complete and right, passes and the code
generator hold no op-name lists, and every op-table row computes the same in compiled code as in eager mode.

- every elementwise op says how it fuses; an exact fusion form rounds as the forward does (numexpr, bit for
  bit, NaN, infinities and signed zeros included); a ``ufunc`` computes what the forward computes;
- an AST scan counts string constants equal to a registered op name in ``ember/runtime`` and
  ``ember/passes``: at most ``MAX_OP_NAME_LITERALS``, each with a comment saying why;
- each row of the op table (tests/op_cases*.py) runs eagerly, through ``ember.jit`` and through a ``Graph``
  run by ``GraphFunction`` (the default pass pipeline and generated code), in float32: the compiled results
  equal the eager ones bit for bit, except on the rows in ``ROUNDING`` (a pass reorders arithmetic there).
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
from op_cases import CASES
from test_ops import ALL_CASES, _inputs, _is_float, _outputs

import ember
from ember.graph.ir import Graph
from ember.ops.registry import ELEMENTWISE, NOT_FUSIBLE, REGISTRY, Fusion, Spec
from ember.passes.autodiff import gradients
from ember.passes.fuse_elementwise import FUSED, Body
from ember.runtime import GraphFunction
from ember.runtime.kernels import numexpr_kernel

ROOT = Path(__file__).resolve().parent.parent
MAX_OP_NAME_LITERALS = 10

assert CASES  # op_cases is the table ALL_CASES extends


# --- no op-name lists in passes and runtime ---------------------------------------------------------------


def _op_name_literals() -> list:
    found = []
    for folder in ("ember/runtime", "ember/passes"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in REGISTRY:
                    found.append((f"{folder}/{path.name}", node.lineno, node.value))
    return found


def test_passes_and_runtime_name_few_ops():
    found = _op_name_literals()
    assert len(found) <= MAX_OP_NAME_LITERALS, f"op names in passes/runtime (read a trait instead): {found}"
    for file, line, name in found:  # each says why
        text = (ROOT / file).read_text().splitlines()
        assert "#" in text[line - 1] or text[line - 2].lstrip().startswith("#"), f"{file}:{line} {name!r}"


# --- the traits are declared and right ----------------------------------------------------------------------


def test_every_elementwise_op_declares_how_it_fuses():
    for name, op in REGISTRY.items():
        if op.elementwise:
            assert isinstance(op.fusion, Fusion) or op.fusion is NOT_FUSIBLE, name
        else:
            assert op.fusion is None, f"{name}: only elementwise ops fuse"
        assert op.writes_out or not op.in_place, f"{name}: in_place without writes_out"
        if op.writes_out and op.ufunc is None and op.lower is None:
            assert "out" in inspect.signature(op.forward).parameters, f"{name}: writes_out, but where?"
        assert op.infix is None or op.ufunc is not None, f"{name}: an infix form needs its ufunc"
    assert ELEMENTWISE == {name for name, op in REGISTRY.items() if op.elementwise}


def _specs_for(op, dtype) -> list | None:
    """Input specs the elementwise ``op`` accepts with float ``dtype`` operands (a bool condition first where
    the op needs one), or None."""
    arity = sum(1 for p in inspect.signature(op.forward).parameters.values() if p.kind == p.POSITIONAL_OR_KEYWORD)
    f, b = Spec((7,), np.dtype(dtype)), Spec((7,), np.dtype(bool))
    for specs in ([f] * (arity - 1), [b] + [f] * (arity - 2)):
        try:
            op.infer(*specs)
        except (TypeError, ValueError):
            continue
        return specs
    return None


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5])


def _sample(spec, rng):
    if spec.dtype == np.bool_:
        return rng.random(spec.shape) < 0.5
    values = np.concatenate([SPECIAL, rng.standard_normal(53) * 4, rng.integers(-8, 9, 16).astype(float)])
    return rng.permutation(values).astype(spec.dtype)


FUSIBLE = sorted(name for name, op in REGISTRY.items() if isinstance(op.fusion, Fusion))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", FUSIBLE)
def test_fusion_forms_round_as_the_forward(name, dtype):
    pytest.importorskip("numexpr")
    op = REGISTRY[name]
    specs = _specs_for(op, dtype)
    assert specs is not None, f"{name}: no float signature"
    rng = np.random.default_rng(len(name))
    arrays = [_sample(Spec((80,), s.dtype), rng) for s in specs]
    if len(arrays) == 2 and name == "pow":
        arrays[0] = np.abs(arrays[0])  # negative bases to fractional powers are NaN either way
    body = Body(((op, tuple(range(len(arrays))), {}),), len(arrays), np.dtype(dtype))
    kernel = numexpr_kernel(body, [a.dtype for a in arrays])
    fused = kernel.fn(*arrays, *kernel.constants)
    with np.errstate(all="ignore"):
        expected = op.forward(np, *arrays)
    assert fused.dtype == expected.dtype
    if op.fusion.exact:
        np.testing.assert_array_equal(fused.view(np.uint8), expected.view(np.uint8), err_msg=name)
    else:
        eps = np.finfo(dtype).eps
        np.testing.assert_allclose(fused, expected, rtol=1000 * eps, atol=eps, err_msg=name)


UFUNC_OPS = sorted(name for name, op in REGISTRY.items() if op.ufunc is not None)


@pytest.mark.parametrize("name", UFUNC_OPS)
def test_ufunc_computes_what_the_forward_computes(name):
    op = REGISTRY[name]
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        arrays = [_sample(Spec((80,), s.dtype), rng) for s in _specs_for(op, dtype)]
        with np.errstate(all="ignore"):
            expected = op.forward(np, *arrays)
            np.testing.assert_array_equal(op.ufunc(*arrays), expected)
            if op.writes_out:
                out = np.empty_like(expected)
                op.ufunc(*arrays, out=out)
                np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))


# --- eager equals compiled on every row of the op table -------------------------------------------------------

# Rows a traced graph cannot hold, and why: each raises a clear error when traced (test below).
UNTRACEABLE = {
    "one_hot_infer_classes": "the number of classes is read from the values",
    "getitem_bool_mask": "a boolean mask's result shape is read from the values",
    "getitem_bool_row_mask": "a boolean mask's result shape is read from the values",
}
# Rows that draw from a generator state made inside the function: a trace holds it as one constant that each
# call advances, so the first compiled call repeats the eager draw and the next one draws afresh.
FRESH_DRAWS = {"random_sample_gamma", "random_sample_poisson", "random_sample_binomial"}
# Rows ember.jit runs but a Graph built directly refuses (none since running statistics became effect ops).
NO_GRAPH: dict = {}
# Rows whose compiled results differ from eager ones by rounding, and the tolerance (rtol) that bounds it.
# logsumexp on graph values keeps its shift (the max) as a node, so the gradient gains the term
# (1 - sum(softmax)) * d max / dx, zero but for rounding; eagerly the shift is a constant.
ROUNDING: dict = {c.name: 1e-6 for c in ALL_CASES if c.name.startswith("logsumexp")}


def _float32(arrays) -> list:
    return [a.astype(np.float32) if _is_float(a) else a for a in arrays]


def _eager(case, arrays) -> list:
    with ember.no_grad():
        return [np.asarray(o.numpy()) for o in _outputs(case.fn(*[ember.tensor(a) for a in arrays]))]


def _jitted(case, arrays) -> list:
    fast = ember.jit(case.fn)
    result = [np.asarray(o.numpy()) for o in _outputs(fast(*[ember.tensor(a) for a in arrays]))]
    again = [np.asarray(o.numpy()) for o in _outputs(fast(*[ember.tensor(a) for a in arrays]))]  # cached code
    for a, b in zip(result, again):
        np.testing.assert_array_equal(a, b)
    return result


def _graph(case, arrays, upstream=None, idx=()) -> list:
    """The row's outputs, then (with ``upstream``) the gradients of sum(outputs * upstream) for the inputs
    ``idx``, from a Graph run by GraphFunction: the default pipeline and generated code."""
    graph = Graph()
    inputs = [graph.input(f"a{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    with graph.building():
        outs = _outputs(case.fn(*inputs))
    graph.outputs = list(outs)
    if upstream is not None:
        grads = gradients(graph, outs, [inputs[i] for i in idx], [ember.tensor(u) for u in upstream])
        graph.outputs += [g for g in grads if g is not None]
    results = [np.asarray(o) for o in GraphFunction(graph)(*arrays)]
    if upstream is None:
        return results
    found = iter(results[len(outs):])
    return results[:len(outs)], [None if g is None else next(found) for g in grads]


def _eager_grads(case, arrays, upstream, idx) -> list:
    leaves = [ember.tensor(a, requires_grad=i in idx) for i, a in enumerate(arrays)]
    outs = _outputs(case.fn(*leaves))
    grads = ember.grad(outs, [leaves[i] for i in idx], grad_outputs=[ember.tensor(u) for u in upstream],
                       allow_unused=True)
    return [None if g is None else np.asarray(g.numpy()) for g in grads]


def _same(actual, expected, case, what):
    assert len(actual) == len(expected), what
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape and a.dtype == e.dtype, f"{what} output {k}: {a.dtype}{a.shape} vs {e.dtype}{e.shape}"
        if case.name in ROUNDING:
            np.testing.assert_allclose(a, e, rtol=ROUNDING[case.name], err_msg=f"{what} output {k}")
        else:
            np.testing.assert_array_equal(a, e, err_msg=f"{what} output {k} of {case.name}")


COMPILED_CASES = [c for c in ALL_CASES if c.name not in UNTRACEABLE]


@pytest.mark.parametrize("case", COMPILED_CASES, ids=[c.name for c in COMPILED_CASES])
def test_eager_equals_jit_and_graph(case):
    arrays = _float32(_inputs(case))
    expected = _eager(case, arrays)
    if case.name in FRESH_DRAWS:
        fast = ember.jit(case.fn)
        first, again = (_outputs(fast(*[ember.tensor(a) for a in arrays])) for _ in range(2))
        _same([np.asarray(o.numpy()) for o in first], expected, case, "ember.jit")
        assert not np.array_equal(again[0].numpy(), expected[0]), "a second compiled call repeated the draw"
        _same(_graph(case, arrays), expected, case, "Graph")
        return
    _same(_jitted(case, arrays), expected, case, "ember.jit")
    if case.name in NO_GRAPH:
        return
    if not case.grad:
        _same(_graph(case, arrays), expected, case, "Graph")
        return
    idx = tuple(case.grad_inputs if case.grad_inputs is not None else
                (i for i, a in enumerate(arrays) if _is_float(a)))
    rng = np.random.default_rng(7)
    upstream = [rng.standard_normal(e.shape).astype(e.dtype) for e in expected]
    outs, grads = _graph(case, arrays, upstream, idx)
    _same(outs, expected, case, "Graph")
    eager = _eager_grads(case, arrays, upstream, idx)
    for k, (g, e) in enumerate(zip(grads, eager)):
        if g is None or e is None:
            assert g is None and (e is None or not e.any()), f"gradient {k}: graph {g}, eager {e}"
        else:
            _same([g], [e], case, f"Graph gradient of input {idx[k]}")


@pytest.mark.parametrize("name", sorted(UNTRACEABLE) + sorted(NO_GRAPH))
def test_untraceable_rows_say_why_when_traced(name):
    case = next(c for c in ALL_CASES if c.name == name)
    with pytest.raises((TypeError, ValueError)) as info:  # GraphError is a ValueError
        (_jitted if name in UNTRACEABLE else _graph)(case, _float32(_inputs(case)))
    assert str(info.value)


# --- a new elementwise op is fused, memory-planned and compiled ------------------------------------------------


def test_hardswish_is_fused_planned_and_compiled_in_graph_mode():
    graph = Graph()
    x, w = graph.input("x", (4, 8), "float32"), graph.input("w", (8,), "float32")
    with graph.building():
        h = ember.hardswish(x * w + 1.0)
        graph.outputs = [(ember.hardswish(h - w) * w).sum(axis=1)]
    function = GraphFunction(graph)
    optimized = function.concrete_graph((4, 8), (8,))
    fused = [n for n in optimized.nodes if n.op is FUSED]
    assert len(fused) == 1, optimized.dump()
    steps = [op.name for op, _, _ in fused[0].attrs["body"].steps]
    assert steps.count("hardswish") == 2 and {"mul", "add", "sub"} <= set(steps), steps
    assert not any(n.op.name == "hardswish" for n in optimized.nodes)  # none left outside the kernel
    plan = optimized.memory_plan
    assert plan is not None and plan.matches(optimized) and fused[0].outputs[0].id in plan.slots
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((4, 8)).astype(np.float32) * 4, rng.standard_normal(8).astype(np.float32)
    (out,) = function(xs, ws)
    with ember.no_grad():
        t, tw = ember.tensor(xs), ember.tensor(ws)
        eager = (ember.hardswish(ember.hardswish(t * tw + 1.0) - tw) * tw).sum(axis=1).numpy()
    np.testing.assert_array_equal(out, eager)


def test_hardswish_kernel_source_calls_numexpr_not_the_forward():
    from ember.passes.manager import DEFAULT_PIPELINE, run_passes
    from ember.runtime import compile_graph

    graph = Graph()
    x = graph.input("x", (4, 8), "float32")
    with graph.building():
        graph.outputs = [ember.hardswish(ember.hardswish(x * 2.0 + 1.0) - x) * x - 0.5]
    compiled = compile_graph(run_passes(graph, DEFAULT_PIPELINE))
    assert "ex_uses_vml" in compiled.source, compiled.source  # one numexpr kernel
    assert compiled.source.count("(np, ") == 0, compiled.source  # no op forward called as a fallback



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_grad_into_a_buffer_gives_the_new_arrays_bits(dtype):
    """relu_grad writes its mask into ``out`` and multiplies there: g * (y > 0) bit for bit (NaNs, infinities and
    signed zeros included); an ``out`` that overlaps g takes the path that reads g first."""
    op = REGISTRY["relu_grad"]
    rng = np.random.default_rng(5)
    g, y = (_sample(Spec((8, 10), np.dtype(dtype)), rng) for _ in range(2))
    with np.errstate(all="ignore"):
        want = g * (y > 0).astype(dtype)
        fresh = op.forward(np, g, y)
        out = np.full_like(g, 7.0)
        into = op.forward(np, g, y, out=out)
        overlapping = g.copy()
        op.forward(np, overlapping, y, out=overlapping)
    assert into is out
    for got in (fresh, into, overlapping):
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))

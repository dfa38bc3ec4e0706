"""The IR: text dump, verifier, building through the op functions, interpreter and runtime vs eager."""

from __future__ import annotations

import numpy as np
import pytest
from graph_cases import CASES, _eager, _inputs, build_case

import ember
from ember.backend.devices import CPU, Device
from ember.graph import CONST, Graph, GraphError, Node, interpret
from ember.graph.ir import Symbol
from ember.runtime import GraphFunction, compile_graph


def _linear_graph():
    g = Graph()
    x = g.input("x", (2, 3), "float32")
    w = g.input("w", (3, 4), "float32")
    with g.building():
        y = ember.relu(x @ w) * 2.0
    g.outputs = [y]
    return g, x, w, y


def test_dump_golden():
    g, *_ = _linear_graph()
    assert g.dump() == (
        "graph(%0: float32[2, 3] x, %1: float32[3, 4] w) {\n"
        "  %2 = matmul(%0, %1) : float32[2, 4]\n"
        "  %3 = relu(%2) : float32[2, 4]\n"
        "  %4 = const(2.) : float32[]\n"
        "  %5 = mul(%3, %4) : float32[2, 4]\n"
        "  return %5\n"
        "}"
    )
    assert g.verify() is g


def test_unknown_dimension_prints_as_question_mark_and_flows_through_shape_rules():
    g = Graph()
    x = g.input("x", (None, 10), "float32")
    w = g.input("w", (10, 3), "float32")
    assert "%0: float32[?, 10] x" in g.dump()
    with g.building():
        y = ember.exp(x) @ w
        m = y.mean(axis=0)
    assert y.shape == (None, 3) and m.shape == (3,)
    assert "%3 = matmul(%2, %1) : float32[?, 3]" in g.dump()
    assert g.verify() is g


def test_values_are_tensors_and_use_the_same_op_functions():
    g, x, w, y = _linear_graph()
    assert isinstance(y, ember.Tensor)
    assert y.shape == (2, 4) and y.dtype == np.float32
    assert [n.op.name for n in g.nodes] == ["matmul", "relu", "const", "mul"]
    assert g.nodes[0].op is ember.REGISTRY["matmul"]


def test_building_is_scoped_and_eager_mode_is_unchanged():
    g = Graph()
    x = g.input("x", (3,), "float32")
    with g.building():
        t = ember.ones(3) * 2.0  # concrete inputs only: computed now
        assert not isinstance(t, type(x))
        y = x + t
    g.outputs = [y]
    assert isinstance(ember.ones(2) + 1.0, ember.Tensor)
    assert (ember.ones(2) + 1.0).numpy().tolist() == [2.0, 2.0]
    assert g.nodes[0].op is CONST


def test_value_refuses_python_truth_and_numbers():
    g = Graph()
    x = g.input("x", (3,), "float32")
    with pytest.raises(TypeError, match="truth value"):
        bool(x)
    with pytest.raises(TypeError, match="symbolic"):
        x.item()


def test_shape_errors_at_building_time_name_the_op():
    g = Graph()
    x = g.input("x", (2, 3), "float32")
    w = g.input("w", (4, 5), "float32")
    with g.building(), pytest.raises(ValueError, match=r"matmul.*float32\[2, 3\], float32\[4, 5\]"):
        x @ w


def test_verifier_reports_node_op_and_shapes():
    g, x, w, y = _linear_graph()
    out = g.nodes[0].outputs[0]
    out.array = Symbol((2, 5), out.array.dtype)  # corrupt the recorded type
    with pytest.raises(GraphError, match=r"%2 = matmul\(%0, %1\).*float32\[2, 4\].*float32\[2, 5\]"):
        g.verify()


def test_verifier_catches_use_before_definition_and_foreign_values():
    g, x, w, y = _linear_graph()
    g.nodes.reverse()
    with pytest.raises(GraphError, match="not defined before"):
        g.verify()
    other = Graph()
    stranger = other.input("z", (2, 3), "float32")
    g2, *_ = _linear_graph()
    g2.nodes[0].inputs[0] = stranger
    with pytest.raises(GraphError, match="not a Value of this graph"):
        g2.verify()
    g3, *_ = _linear_graph()
    g3.outputs = [stranger]
    with pytest.raises(GraphError):
        g3.verify()


def test_verifier_catches_redefinition():
    g, x, w, y = _linear_graph()
    g.nodes.append(Node(g.nodes[0].op, list(g.nodes[0].inputs), list(g.nodes[0].outputs), {}))
    with pytest.raises(GraphError, match="redefines"):
        g.verify()


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_interpreter_and_compiled_match_eager(name, fn, shapes):
    arrays = _inputs(shapes)
    expected, grads = _eager(fn, arrays)
    g = build_case(fn, shapes).verify()
    for run in (lambda *a: interpret(g, *a), compile_graph(g)):
        out, *got = run(*arrays)
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
        for gg, eg in zip(got, grads):
            np.testing.assert_allclose(gg, eg, rtol=1e-10, atol=1e-12)


def test_compiled_binds_inputs_and_copies_fetched_variables():
    g = Graph()
    x = g.input("x", (3,), "float32")
    v = g.input("v", (3,), "float32")
    with g.building():
        y = x * v
    g.outputs = [y, v]
    store = np.arange(3, dtype=np.float32)
    run = compile_graph(g, {v.id: store})
    out, fetched = run(np.ones(3, np.float32))
    assert out.tolist() == [0.0, 1.0, 2.0]
    assert fetched is not store and fetched.tolist() == store.tolist()
    assert "def graph_" in run.source


def test_values_are_typed_by_device_and_scalars_go_with_any_device():
    g = Graph()
    x = g.input("x", (None, 3), "float32", device="cuda")
    w = g.input("w", (3, 2), "float32", device="cuda:0")
    with g.building():
        y = ember.relu(x @ w * 2.0).mean(axis=0)
    g.outputs = [y]
    assert y.device == Device("cuda:0") and x.device == "cuda:0"
    assert "%0: float32[?, 3] cuda:0 x" in g.dump()
    assert "= matmul(%0, %1) : float32[?, 2] cuda:0" in g.dump()
    assert "const(2.) : float32[]\n" in g.dump()  # a Python number stays a CPU scalar
    assert g.verify() is g
    cpu = g.input("c", (3,), "float32")
    assert cpu.device == CPU and "%" + str(cpu.id) + ": float32[3] c" in g.dump()
    with g.building(), pytest.raises(GraphError, match=r"add: inputs on different devices \(float32\[\?, 3\] cuda:0, "
                                                       r"float32\[3\]\)"):
        x + cpu


def test_the_verifier_and_the_runtime_check_devices():
    g = Graph()
    x = g.input("x", (2, 3), "float32", device="cuda")
    with g.building():
        y = ember.exp(x)
    g.outputs = [y]
    with pytest.raises(RuntimeError, match=r"compile_graph: %0 is float32\[2, 3\] cuda:0.*not built yet"):
        compile_graph(g)
    with pytest.raises(TypeError, match=r"input %0 \(x\) is float32\[2, 3\] cuda:0, got an array of float32\[2, 3\]$"):
        GraphFunction(g)(np.ones((2, 3), np.float32))
    y.array.device = CPU  # a node whose output left its inputs' device
    with pytest.raises(GraphError, match=r"exp\(%0\).*values on different devices \(cuda:0, cpu\)"):
        g.verify()


def test_traced_and_tf_graphs_live_on_the_cpu():
    traced = ember.jit(lambda a: ember.tanh(a) * 2.0)
    g = traced.graph_for(ember.ones(2, 3))
    assert all(v.device == CPU for v in g.inputs + [o for n in g.nodes for o in n.outputs])


@pytest.mark.parametrize("dims", [(5, 1), (None, 1)], ids=["known", "unknown"])
def test_integer_powers_with_negative_exponents_in_every_runner(dims):
    a = np.array([[-3], [-1], [0], [1], [2]])
    b = np.array([-2, -1, 0, 3])
    g = Graph()
    x, y = g.input("a", dims, "int64"), g.input("b", (4,), "int64")
    with g.building():
        g.outputs = [x ** y, 2 ** y]
    expected = [[[0, 0, 1, -27], [1, -1, 1, -1], [0, 0, 1, 0], [1, 1, 1, 1], [0, 0, 1, 8]], [0, 0, 1, 8]]
    for run in (lambda *v: interpret(g, *v), compile_graph(g), GraphFunction(g)):
        for got, want in zip(run(a, b), expected):
            np.testing.assert_array_equal(got, np.array(want))
            assert got.dtype == np.int64

"""The runtime's generated code against the reference interpreter, including its specialised paths."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.graph import Graph, interpret
from ember.ops.activation import SOFTMAX
from ember.optim.functional import adam_update, sgd_update
from ember.passes import TrainRequest, run_passes
from ember.runtime import compile_graph


def _training_graph(shape, rule, hyper, dtype="float32"):
    """loss = mean((w * x + b - y)^2) with an update request for w and b (states returned)."""
    g = Graph()
    x = g.input("x", shape, dtype)
    y = g.input("y", shape, dtype)
    w = g.input("w", (), dtype)
    b = g.input("b", (), dtype)
    with g.building():
        diff = w * x + b - y
        loss = (diff * diff).mean()
    states = [{}, {}]
    g.requests.append(TrainRequest(loss, [w, b], rule, hyper, states))
    g.outputs = [loss]
    return run_passes(g, verify=True), (x, y, w, b)


@pytest.mark.parametrize("shape", [(1,), (), (1, 1), (5,)])
@pytest.mark.parametrize("rule,hyper", [(sgd_update, {"lr": 0.05}), (sgd_update, {"lr": 0.05, "momentum": 0.9}),
                                        (adam_update, {"lr": 0.05})])
def test_generated_training_step_is_bit_identical_to_the_interpreter(shape, rule, hyper):
    rng = np.random.default_rng(0)
    graph, (x, y, w, b) = _training_graph(shape, rule, hyper)
    reference, _ = _training_graph(shape, rule, hyper)
    params = [np.array(0.3, np.float32), np.array(-0.1, np.float32)]
    ref_params = [p.copy() for p in params]
    run = compile_graph(graph, {w.id: params[0], b.id: params[1]})
    for _ in range(4):
        xs = rng.standard_normal(shape).astype(np.float32)
        ys = (2 * xs + 1).astype(np.float32)
        (loss,) = run(xs, ys)
        (ref_loss,) = interpret(reference, xs, ys, *ref_params)
        assert np.float32(loss) == np.float32(ref_loss)
        assert params[0] == ref_params[0] and params[1] == ref_params[1]
    scalar = int(np.prod(shape)) == 1 and rule is sgd_update and set(hyper) == {"lr"}
    assert ("var1[()] = " in run.source) == scalar


def test_scalar_path_covers_unary_ops_and_returns_arrays():
    g = Graph()
    x = g.input("x", (1, 1), "float64")
    with g.building():
        y = ember.tanh(ember.exp(x) * 0.5) + ember.relu(-x) - ember.maximum(x, 0.25) / ember.sqrt(ember.abs(x) + 1.0)
        z = ember.cast(y, "float32").sum()
    g.outputs = [y, z]
    run = compile_graph(g)
    assert "x0[0, 0]" in run.source
    for value in (-1.5, 0.0, 0.7):
        arrays = run(np.array([[value]]))
        expected = interpret(g, np.array([[value]]))
        assert arrays[0].shape == (1, 1) and arrays[0].dtype == np.float64
        np.testing.assert_array_equal(arrays[0], expected[0])
        assert np.float32(arrays[1]) == expected[1]


def test_unsupported_scalar_ops_fall_back_to_arrays():
    g = Graph()
    x = g.input("x", (1,), "float32")
    with g.building():
        g.outputs = [ember.softmax(x)]
    run = compile_graph(g)
    assert "x0[0]" not in run.source
    assert run(np.array([3.0], np.float32))[0].tolist() == [1.0]


@pytest.mark.parametrize("rows", [7, 300])  # 300 rows: the short-last-axis sum takes its BLAS shortcut
def test_generated_reductions_and_products_equal_eager_bit_for_bit(rows):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((rows, 10)).astype(np.float32), rng.standard_normal((10, 6)).astype(np.float32)]
    g = Graph()
    x, w = g.input("x", (rows, 10), "float32"), g.input("w", (10, 6), "float32")
    with g.building():
        h = x @ w
        outputs = [h, h.sum(axis=0), h.sum(axis=0, keepdims=True), h.sum(axis=1), x.sum(axis=1, keepdims=True),
                   (h.T.reshape(6 * rows) * 2.0).reshape(rows, 6),  # the reshape of a transpose copies
                   ember.softmax(h * 3.0, axis=1) + 1.0]
    g.outputs = outputs
    run = compile_graph(run_passes(g))
    calls_softmax = any(getattr(c.cell_contents, "func", None) is SOFTMAX.forward for c in run.fn.__closure__)
    assert calls_softmax  # the op's own forward, given the planned buffer as out= (not its calls written again)
    ex, ew = (ember.from_numpy(a) for a in arrays)
    eh = ex @ ew
    expected = [eh, eh.sum(axis=0), eh.sum(axis=0, keepdims=True), eh.sum(axis=1), ex.sum(axis=1, keepdims=True),
                (eh.T.reshape(6 * rows) * 2.0).reshape(rows, 6), ember.softmax(eh * 3.0, axis=1) + 1.0]
    for _ in range(2):
        for got, want in zip(run(*arrays), expected):
            np.testing.assert_array_equal(got, want.numpy())

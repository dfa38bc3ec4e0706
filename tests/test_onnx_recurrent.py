"""Recurrent layers in ONNX: RNN, LSTM, GRU and their cells export as ONNX's own RNN/LSTM/GRU nodes, so the file
runs in onnxruntime at batch sizes and sequence lengths other than the example's; the importer reads those nodes
back (one ``recurrent`` op, or its steps when a gradient is recorded)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import ember  # noqa: E402
from ember import nn  # noqa: E402
from ember.ops.recurrent import recurrent  # noqa: E402
from ember.ops.registry import ShapeError  # noqa: E402

SIZES = [(2, 5), (3, 1), (1, 9)]  # (batch, steps): the first is the example's


def _float(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _run(model, feeds: dict) -> list:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def _flat(out) -> list:
    if isinstance(out, ember.Tensor):
        return [out.detach().numpy()]
    return [a for o in out for a in _flat(o)]


class _WithState(nn.Module):
    """A layer called with explicit initial states, as the exported model's extra inputs."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, h, c=None):
        return self.layer(x, h if c is None else (h, c))


def _layer_inputs(layer, batch: int, steps: int, state: bool, seed: int) -> dict:
    first = layer.batch_first
    feeds = {"x": _float(*((batch, steps) if first else (steps, batch)), layer.input_size, seed=seed)}
    if state:
        shape = (layer.num_layers * (2 if layer.bidirectional else 1), batch, layer.hidden_size)
        feeds["h"] = _float(*shape, seed=seed + 1)
        if layer.mode == "LSTM":
            feeds["c"] = _float(*shape, seed=seed + 2)
    return feeds


def _dynamic(layer, names) -> dict:
    batch, time = (0, 1) if layer.batch_first else (1, 0)
    axes = {"x": {batch: "batch", time: "time"}, "h": {1: "batch"}, "c": {1: "batch"}}
    return {name: axes[name] for name in names}


CONFIGS = [
    ("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}),
    ("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTM", {"bias": False, "batch_first": True}),
    ("GRU", {}), ("GRU", {"num_layers": 2, "bidirectional": True}), ("GRU", {"bias": False, "batch_first": True}),
]


@pytest.mark.parametrize("state", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("kind,config", CONFIGS, ids=[f"{k}-{'-'.join(map(str, c.values())) or 'plain'}"
                                                      for k, c in CONFIGS])
def test_layer_exports_as_onnx_recurrent_nodes_for_any_batch_and_length(kind, config, state):
    ember.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, **config)
    module = _WithState(layer) if state else layer
    example = _layer_inputs(layer, *SIZES[0], state, seed=0)
    names = list(example)
    model = ember.onnx.export(module, list(example.values()), input_names=names, dynamic_axes=_dynamic(layer, names))
    types = [node.op_type for node in model.graph.node]
    assert types.count(kind) == layer.num_layers and "MatMul" not in types  # one node per layer, not unrolled
    layer.eval()
    for k, (batch, steps) in enumerate(SIZES):
        feeds = _layer_inputs(layer, batch, steps, state, seed=10 * k)
        with ember.no_grad():
            expected = _flat(module(*[ember.tensor(a) for a in feeds.values()]))
        got = _run(model, feeds)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("state", [False, True], ids=["zero_state", "initial_state"])
@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_exports_with_a_dynamic_batch(kind, state):
    ember.manual_seed(0)
    cell = getattr(nn, kind)(3, 4, **({"nonlinearity": "relu"} if kind == "RNNCell" else {}))
    lstm = kind == "LSTMCell"

    class Step(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = cell

        def forward(self, x, *hx):
            return self.cell(x, (tuple(hx) if lstm else hx[0]) if hx else None)

    names = ["x"] + (["h", "c"] if lstm else ["h"]) * state

    def feeds(batch, seed):
        return {n: _float(batch, 3 if n == "x" else 4, seed=seed + i) for i, n in enumerate(names)}

    model = ember.onnx.export(Step(), list(feeds(2, 0).values()), input_names=names,
                              dynamic_axes={n: {0: "batch"} for n in names})
    assert kind[:-4] in [node.op_type for node in model.graph.node]
    for batch in (1, 5):
        inputs = feeds(batch, batch)
        with ember.no_grad():
            expected = _flat(Step()(*[ember.tensor(a) for a in inputs.values()]))
        for g, e in zip(_run(model, inputs), expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_lstm_with_a_projection_exports_as_its_steps():
    """ONNX's LSTM has no projection: the layer exports as its steps, with the example's batch and length."""
    layer = nn.LSTM(3, 6, proj_size=2, num_layers=2, bidirectional=True).eval()
    x = _float(5, 2, 3)
    model = ember.onnx.export(layer, [x])
    assert "LSTM" not in {node.op_type for node in model.graph.node}
    for got, want in zip(_run(model, {model.graph.input[0].name: x}), _flat(layer(ember.tensor(x)))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_unbatched_cell_and_layer_trace_into_the_op():
    ember.manual_seed(0)
    cell, layer = nn.GRUCell(3, 4), nn.LSTM(3, 4)
    x, seq = ember.tensor(_float(3)), ember.tensor(_float(5, 3))
    with ember.no_grad():
        traced_cell = ember.onnx.trace(cell, [x.numpy()])
        traced_layer = ember.onnx.trace(layer, [seq.numpy()])
        assert "recurrent" in [n.op.name for n in traced_cell.nodes + traced_layer.nodes]
        np.testing.assert_allclose(ember.jit(cell)(x).numpy(), cell(x).numpy(), rtol=1e-6, atol=1e-6)
        out, (h, c) = ember.jit(layer)(seq)
        out_e, (h_e, c_e) = layer(seq)
    for a, b in ((out, out_e), (h, h_e), (c, c_e)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_import_round_trip_keeps_the_dynamic_axes(kind):
    ember.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    layer.eval()
    dynamic = {"x": {0: "batch", 1: "time"}}
    model = ember.onnx.export(layer, [_float(2, 5, 3)], input_names=["x"], dynamic_axes=dynamic)
    imported = ember.onnx.load(model.SerializeToString())
    for batch, steps in SIZES:
        x = ember.tensor(_float(batch, steps, 3, seed=steps))
        with ember.no_grad():
            expected, got = _flat(layer(x)), _flat(imported(x))
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
    again = ember.onnx.export(imported, [_float(2, 5, 3)], input_names=["x"], dynamic_axes=dynamic)
    assert [n.op_type for n in again.graph.node].count(kind) == 2
    x = _float(3, 7, 3, seed=1)
    with ember.no_grad():
        expected = _flat(layer(ember.tensor(x)))
    for g, e in zip(_run(again, {"x": x}), expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_imported_recurrent_node_passes_gradients():
    # with a gradient to record, the imported node runs as Ember ops step by step: the same input gradient
    ember.manual_seed(0)
    layer = nn.GRU(3, 4, bidirectional=True)
    model = ember.onnx.export(layer, [_float(5, 2, 3)])
    imported = ember.onnx.load(model.SerializeToString())
    x = _float(5, 2, 3, seed=3)
    grads = []
    for net in (layer, imported):
        xt = ember.tensor(x, requires_grad=True)
        (net(xt)[0] ** 2).sum().backward()
        grads.append(xt.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-5, atol=1e-6)
    assert all(p.grad is not None and np.abs(p.grad.numpy()).max() > 0 for p in imported.parameters())


def test_recurrent_errors_name_the_op_and_shapes():
    x, h = ember.tensor(_float(4, 2, 3)), ember.tensor(_float(1, 2, 5))
    w, r, b = ember.tensor(_float(1, 20, 3)), ember.tensor(_float(1, 20, 5)), ember.tensor(_float(1, 40))
    with pytest.raises(ShapeError, match=r"recurrent: w must have shape \[1, 16, 3\] for a LSTM layer with 1 "
                       r"direction\(s\) and hidden size 4, got \[1, 20, 3\].*float32\[1, 20, 4\]"):
        recurrent(x, w, ember.tensor(_float(1, 20, 4)), b, mode="LSTM")
    with pytest.raises(ShapeError, match=r"recurrent: w must have shape \[2, 20, 3\]"):
        recurrent(x, w, r, b, mode="LSTM", direction="bidirectional")
    with pytest.raises(ShapeError, match=r"recurrent: mode must be one of"):
        recurrent(x, w, r, b, mode="lstm")
    with pytest.raises(ValueError, match=r"both initial states \(h0, c0\) or neither"):
        recurrent(x, w, r, b, h, mode="LSTM")
    with pytest.raises(ShapeError, match=r"h0 must have shape \[1, 2, 5\].*got \[1, 3, 5\]"):
        recurrent(x, w, r, b, ember.tensor(_float(1, 3, 5)), h, mode="LSTM")


def test_recurrent_takes_arrays_and_gives_the_onnx_node_s_outputs():
    # onnxruntime's LSTM node on the same arrays: Y, Y_h and Y_c are the packed result's parts
    from onnx import TensorProto, helper

    x, w, r, b = _float(4, 2, 3), _float(2, 8, 3, seed=1), _float(2, 8, 2, seed=2), _float(2, 16, seed=3)
    names = ["x", "w", "r", "b"]
    node = helper.make_node("LSTM", names, ["y", "y_h", "y_c"], hidden_size=2, direction="bidirectional")
    graph = helper.make_graph([node], "lstm", [helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                                               for n in names],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "y_h", "y_c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    y, y_h, y_c = _run(model, dict(zip(names, (x, w, r, b))))
    packed = recurrent(x, w, r, b, mode="LSTM", direction="bidirectional").numpy()
    for got, expected in ((packed[:4], y), (packed[4], y_h), (packed[5], y_c)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_a_batch_first_node_stepped_one_step_at_a_time_reads_its_initial_states_batch_first(kind, direction):
    # sequence_lens makes the importer unroll the node; layout=1's states are (batch, directions, hidden)
    from onnx import TensorProto, helper, numpy_helper

    batch, steps, hidden, dirs, gates = 3, 4, 2, 2 if direction == "bidirectional" else 1, 4 if kind == "LSTM" else 3
    x, h0, c0 = _float(steps, batch, 3), _float(dirs, batch, hidden, seed=1), _float(dirs, batch, hidden, seed=2)
    weights = {"w": _float(dirs, gates * hidden, 3, seed=3), "r": _float(dirs, gates * hidden, hidden, seed=4),
               "b": _float(dirs, 2 * gates * hidden, seed=5), "lens": np.full(batch, steps, np.int32)}
    outputs = ["y", "y_h"] + (["y_c"] if kind == "LSTM" else [])

    def model(layout: int, states: list):
        names = ["x", "w", "r", "b", "lens", "h0"] + (["c0"] if kind == "LSTM" else [])
        node = helper.make_node(kind, names, outputs, hidden_size=hidden, direction=direction, layout=layout)
        inits = [numpy_helper.from_array(v, k) for k, v in weights.items()]
        inits += [numpy_helper.from_array(s, n) for s, n in zip(states, ("h0", "c0"))]
        graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                                  [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs], inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    states = [h0, c0][:len(outputs) - 1]
    expected = _run(model(0, states), {"x": x})  # onnxruntime has no layout=1
    batch_first = ember.onnx.load(model(1, [np.ascontiguousarray(s.swapaxes(0, 1)) for s in states]))
    with ember.no_grad():
        got = _flat(batch_first(ember.tensor(np.ascontiguousarray(x.swapaxes(0, 1)))))
    np.testing.assert_allclose(got[0], expected[0].transpose(2, 0, 1, 3), rtol=1e-5, atol=1e-6)
    for state, want in zip(got[1:], expected[1:]):
        np.testing.assert_allclose(state, want.swapaxes(0, 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind, direction, activations, alpha, beta", [
    ("GRU", "bidirectional", ["HardSigmoid", "Tanh", "Sigmoid", "HardSigmoid"], [0.3, 0.15], [0.4]),
    ("GRU", "forward", ["Tanh", "HardSigmoid"], [0.25], [0.45]),  # the value belongs to the second activation
    ("LSTM", "forward", ["HardSigmoid", "LeakyRelu", "Elu"], [0.3, 0.05, 0.7], [0.6]),
    ("RNN", "bidirectional", ["LeakyRelu", "Tanh"], [0.2], None),  # the second direction's Tanh takes none
    ("LSTM", "forward", ["Sigmoid", "Affine", "ScaledTanh"], [0.5, 0.8], [0.3]),
    ("LSTM", "forward", ["HardSigmoid", "Tanh", "Affine"], [0.3], None),  # defaults once the values run out
])
def test_activation_alphas_and_betas_go_to_the_activations_that_take_them(kind, direction, activations, alpha, beta):
    # the unrolled node against onnxruntime, which hands activation_alpha / activation_beta in order to the
    # activations that have an alpha / a beta
    from onnx import TensorProto, helper, numpy_helper

    batch, steps, hidden, gates = 2, 3, 2, {"RNN": 1, "GRU": 3, "LSTM": 4}[kind]
    dirs = 2 if direction == "bidirectional" else 1
    x = _float(steps, batch, 3)
    weights = {"w": _float(dirs, gates * hidden, 3, seed=3), "r": _float(dirs, gates * hidden, hidden, seed=4),
               "b": _float(dirs, 2 * gates * hidden, seed=5)}
    attrs = {"activation_alpha": alpha} if alpha else {}
    if beta:
        attrs["activation_beta"] = beta
    node = helper.make_node(kind, ["x", "w", "r", "b"], ["y"], hidden_size=hidden, direction=direction,
                            activations=activations, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    try:
        (expected,) = _run(model, {"x": x})
    except Exception as exc:  # an activation this onnxruntime build does not run
        pytest.skip(f"onnxruntime: {exc}")
    with ember.no_grad():
        got = ember.onnx.load(model)(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

"""The ``recurrent`` op (ONNX's RNN/LSTM/GRU) against PyTorch's layers: values and gradients of the op function
with PyTorch's weights put in ONNX's gate orders, and the layers' traced (one op per layer) forward."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.export.trace import trace
from ember.ops.recurrent import recurrent

torch = pytest.importorskip("torch")

ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}  # PyTorch's gate blocks in ONNX's order
MODE = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN_TANH", "RNN_relu": "RNN_RELU"}


def _onnx_order(kind: str, t, hidden: int):
    return torch.cat([t[g * hidden:(g + 1) * hidden] for g in ORDER[kind]])


@pytest.mark.parametrize("bidirectional", [False, True], ids=["forward", "bidirectional"])
@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU"])
def test_recurrent_matches_torch_in_values_and_gradients(kind, bidirectional):
    name = kind.split("_")[0]
    hidden, steps, batch = 4, 5, 3
    torch.manual_seed(0)
    extra = {"nonlinearity": "relu"} if kind == "RNN_relu" else {}
    ref = getattr(torch.nn, name)(2, hidden, bidirectional=bidirectional, **extra).double()
    dirs = 2 if bidirectional else 1
    suffixes = ["_l0", "_l0_reverse"][:dirs]
    x = torch.randn(steps, batch, 2, dtype=torch.float64, requires_grad=True)
    states = [torch.randn(dirs, batch, hidden, dtype=torch.float64, requires_grad=True)
              for _ in range(2 if name == "LSTM" else 1)]
    out, finals = ref(x, tuple(states) if name == "LSTM" else states[0])
    finals = list(finals) if name == "LSTM" else [finals]

    def onnx_weight(stem):
        return torch.stack([_onnx_order(name, getattr(ref, stem + s), hidden) for s in suffixes])

    w, r = onnx_weight("weight_ih"), onnx_weight("weight_hh")
    b = torch.cat([onnx_weight("bias_ih"), onnx_weight("bias_hh")], dim=1)
    leaves = [ember.tensor(t.detach().numpy(), requires_grad=True) for t in (x, w, r, b, *states)]
    packed = recurrent(*leaves[:4], *leaves[4:], mode=MODE[kind],
                       direction="bidirectional" if bidirectional else "forward")
    y = packed[:steps]  # (L, D, N, H)
    got = ember.concat([y[:, d] for d in range(dirs)], axis=2)
    np.testing.assert_allclose(got.detach().numpy(), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for k, f in enumerate(finals):
        np.testing.assert_allclose(packed[steps + k].detach().numpy(), f.detach().numpy(), rtol=1e-10, atol=1e-12)

    rng = np.random.default_rng(1)
    g_out = rng.standard_normal(out.shape)
    g_finals = [rng.standard_normal(f.shape) for f in finals]
    loss_t = (out * torch.tensor(g_out)).sum() + sum((f * torch.tensor(g)).sum() for f, g in zip(finals, g_finals))
    loss_t.backward()
    loss_e = (got * ember.tensor(g_out)).sum() + sum(
        (packed[steps + k] * ember.tensor(g)).sum() for k, g in enumerate(g_finals))
    loss_e.backward()
    expected = [x.grad, onnx_weight_grad(ref, name, "weight_ih", suffixes, hidden),
                onnx_weight_grad(ref, name, "weight_hh", suffixes, hidden),
                torch.cat([onnx_weight_grad(ref, name, "bias_ih", suffixes, hidden),
                           onnx_weight_grad(ref, name, "bias_hh", suffixes, hidden)], dim=1), *[s.grad for s in states]]
    for leaf, e in zip(leaves, expected):
        np.testing.assert_allclose(leaf.grad.numpy(), e.numpy(), rtol=1e-9, atol=1e-11)


def onnx_weight_grad(ref, name, stem, suffixes, hidden):
    return torch.stack([_onnx_order(name, getattr(ref, stem + s).grad, hidden) for s in suffixes])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_traced_layer_runs_one_op_per_layer_and_matches_torch(kind):
    ember.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ref = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    ref.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in layer.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(np.float32)
    graph = trace(layer, [x], dynamic_axes={"input0": {0: "batch", 1: "time"}})
    assert [n.op.name for n in graph.nodes].count("recurrent") == 2
    with ember.no_grad():
        out, finals = ember.jit(layer)(ember.tensor(x))
    with torch.no_grad():
        out_t, finals_t = ref(torch.from_numpy(x))
    pairs = [(out, out_t)] + (list(zip(finals, finals_t)) if kind == "LSTM" else [(finals, finals_t)])
    for a, b in pairs:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)

"""PyTorch's top-level recurrent cell functions (torch.rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell) against
PyTorch: values and gradients for every argument, with both, one or no biases."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

GATES = {"rnn_tanh_cell": 1, "rnn_relu_cell": 1, "lstm_cell": 4, "gru_cell": 3}
BATCH, INPUT, HIDDEN = 3, 4, 5


def _arguments(name: str, biases: str, batched: bool = True, seed: int = 0) -> list:
    """input, hx (a pair for lstm_cell), w_ih, w_hh, b_ih, b_hh as float64 arrays (None for a missing bias)."""
    rng = np.random.default_rng(seed)
    gates = GATES[name] * HIDDEN
    lead = (BATCH,) if batched else ()
    states = [rng.standard_normal(lead + (HIDDEN,)) for _ in range(2 if name == "lstm_cell" else 1)]
    b_ih, b_hh = rng.standard_normal(gates), rng.standard_normal(gates)
    return [rng.standard_normal(lead + (INPUT,)), states, rng.standard_normal((gates, INPUT)),
            rng.standard_normal((gates, HIDDEN)) * 0.5, b_ih if "i" in biases else None,
            b_hh if "h" in biases else None]


def _call(module, name: str, arrays: list, make):
    """The function of ``module`` on the arrays made tensors by ``make``; returns (results, leaves)."""
    x, states, *params = arrays
    x, states = make(x), [make(s) for s in states]
    params = [None if p is None else make(p) for p in params]
    hx = tuple(states) if name == "lstm_cell" else states[0]
    out = getattr(module, name)(x, hx, *params)
    return (list(out) if name == "lstm_cell" else [out]), [x, *states, *(p for p in params if p is not None)]


@pytest.mark.parametrize("biases", ["ih", "i", "h", ""])
@pytest.mark.parametrize("name", sorted(GATES))
def test_cell_functions_match_torch_values_and_gradients(name, biases):
    arrays = _arguments(name, biases)
    ours, our_leaves = _call(ember, name, arrays, lambda a: ember.tensor(a, requires_grad=True))
    theirs, their_leaves = _call(torch, name, arrays, lambda a: torch.tensor(a, requires_grad=True))
    weights = np.random.default_rng(1).standard_normal((len(ours), BATCH, HIDDEN))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    sum((t * ember.tensor(w)).sum() for t, w in zip(ours, weights)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights)).backward()
    for a, b in zip(our_leaves, their_leaves):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(GATES))
def test_cell_functions_equal_the_cell_modules(name):
    """The cell modules run the same step: nn.RNNCell and the others give the function's numbers."""
    arrays = _arguments(name, "ih", seed=2)
    cell = {"rnn_tanh_cell": lambda: ember.nn.RNNCell(INPUT, HIDDEN),
            "rnn_relu_cell": lambda: ember.nn.RNNCell(INPUT, HIDDEN, nonlinearity="relu"),
            "lstm_cell": lambda: ember.nn.LSTMCell(INPUT, HIDDEN), "gru_cell": lambda: ember.nn.GRUCell(INPUT, HIDDEN)}
    module = cell[name]().double()
    with ember.no_grad():
        for p, a in zip((module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh), arrays[2:]):
            p.copy_(ember.tensor(a))
    ours, _ = _call(ember, name, arrays, ember.tensor)
    x, states = ember.tensor(arrays[0]), [ember.tensor(s) for s in arrays[1]]
    out = module(x, tuple(states) if name == "lstm_cell" else states[0])
    for a, b in zip(ours, out if name == "lstm_cell" else [out]):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())


def test_cell_functions_trace_under_jit():
    arrays = _arguments("lstm_cell", "ih", seed=3)

    def step(x, h, c, w_ih, w_hh, b_ih, b_hh):
        h1, c1 = ember.lstm_cell(x, (h, c), w_ih, w_hh, b_ih, b_hh)
        return ember.gru_cell(x, h1, w_ih[:3 * HIDDEN], w_hh[:3 * HIDDEN]) + c1

    tensors = [ember.tensor(a) for a in (arrays[0], *arrays[1], *arrays[2:])]
    eager = step(*tensors)
    traced = ember.jit(step)
    for _ in range(2):
        got = traced(*tensors)
    np.testing.assert_allclose(got.numpy(), eager.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, error, words", [
    (lambda e: e.rnn_tanh_cell(e.randn(3, 4), None, e.randn(5, 4), e.randn(5, 5)), TypeError,
     ["rnn_tanh_cell", "hx", "NoneType"]),
    (lambda e: e.rnn_tanh_cell(e.randn(3, 4), e.randn(3, 4), e.randn(5, 4), e.randn(5, 5)), ValueError,
     ["rnn_tanh_cell", "hx", "[3, 5]", "[3, 4]"]),
    (lambda e: e.gru_cell(e.randn(3, 4), e.randn(3, 5), e.randn(14, 4), e.randn(15, 5)), ValueError,
     ["gru_cell", "w_ih", "(15, 4)", "[14, 4]"]),
    (lambda e: e.lstm_cell(e.randn(3, 4), e.randn(3, 5), e.randn(20, 4), e.randn(20, 5)), TypeError,
     ["lstm_cell", "hx", "tuple"]),
    (lambda e: e.lstm_cell(e.randn(3, 4), (e.randn(3, 5),), e.randn(20, 4), e.randn(20, 5)), ValueError,
     ["lstm_cell", "two states"]),
    (lambda e: e.rnn_relu_cell(e.randn(3, 4), e.randn(3, 5), e.randn(5, 4), e.randn(5, 5), e.randn(4)), ValueError,
     ["rnn_relu_cell", "b_ih", "[5]", "[4]"]),
    (lambda e: e.rnn_tanh_cell(e.randn(3, 4).double(), e.randn(3, 5), e.randn(5, 4), e.randn(5, 5)), TypeError,
     ["rnn_tanh_cell", "dtype", "float64", "float32"]),
])
def test_cell_functions_refuse_bad_arguments_naming_them(call, error, words):
    with pytest.raises(error) as info:
        call(ember)
    for word in words:
        assert word in str(info.value)
    with pytest.raises((TypeError, RuntimeError, ValueError)):  # PyTorch refuses them too
        call(torch)

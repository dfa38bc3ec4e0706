"""RNN, LSTM, GRU and their cells: parity with PyTorch (outputs, states, input/state/parameter gradients),
state_dict names, initialisation, errors, and a small training run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from parity_helpers import adam as _adam
from parity_helpers import close as _close
from parity_helpers import copy_to_torch as _copy_to_torch

import ember
from ember import nn

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CONFIGS = [
    {},
    {"num_layers": 2},
    {"batch_first": True},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("kind", ["RNN", "RNN_relu", "LSTM", "GRU"])
def test_matches_torch(kind, config, steps: int = 6):
    torch = pytest.importorskip("torch")
    name = "RNN" if kind.startswith("RNN") else kind
    extra = {"nonlinearity": "relu"} if kind == "RNN_relu" else {}
    ember.manual_seed(0)
    layer = LAYERS[name](3, 5, **config, **extra)
    ref = getattr(torch.nn, name)(3, 5, **config, **extra)
    _copy_to_torch(layer, ref)
    rng = np.random.default_rng(1)
    batch = 4
    shape = (batch, steps, 3) if config.get("batch_first") else (steps, batch, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    directions = 2 if config.get("bidirectional") else 1
    state_shape = (config.get("num_layers", 1) * directions, batch, 5)
    states = [rng.standard_normal(state_shape).astype(np.float32) for _ in range(2 if name == "LSTM" else 1)]

    xe = ember.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    se = [ember.tensor(s, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    out_e, hn_e = layer(xe, tuple(se) if name == "LSTM" else se[0])
    out_t, hn_t = ref(xt, tuple(st) if name == "LSTM" else st[0])
    finals_e = list(hn_e) if name == "LSTM" else [hn_e]
    finals_t = list(hn_t) if name == "LSTM" else [hn_t]
    _close(out_e, out_t)
    for a, b in zip(finals_e, finals_t):
        _close(a, b)

    g = rng.standard_normal(out_t.shape).astype(np.float32)
    loss_e = (out_e * ember.tensor(g)).sum() + sum((f * f).sum() for f in finals_e)
    loss_t = (out_t * torch.tensor(g)).sum() + sum((f * f).sum() for f in finals_t)
    loss_e.backward()
    loss_t.backward()
    _close(xe.grad, xt.grad)
    for a, b in zip(se, st):
        _close(a.grad, b.grad)
    torch_params = dict(ref.named_parameters())
    for pname, p in layer.named_parameters():
        _close(p.grad, torch_params[pname].grad)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_long_sequence_matches_torch(kind):
    # 40 steps take the blocked slicing path of the time loop.
    test_matches_torch(kind, {"bidirectional": True}, steps=40)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_state_dict_names_match_torch(name):
    torch = pytest.importorskip("torch")
    layer = LAYERS[name](4, 6, num_layers=2, bidirectional=True)
    ref = getattr(torch.nn, name)(4, 6, num_layers=2, bidirectional=True)
    assert list(layer.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert tuple(layer.state_dict()[key].shape) == tuple(value.shape)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(name):
    torch = pytest.importorskip("torch")
    layer = LAYERS[name](3, 4, num_layers=2)
    ref = getattr(torch.nn, name)(3, 4, num_layers=2)
    _copy_to_torch(layer, ref)
    x = np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32)
    out_e, hn_e = layer(ember.tensor(x))
    out_t, hn_t = ref(torch.tensor(x))
    _close(out_e, out_t)
    if name == "LSTM":
        _close(hn_e[0], hn_t[0])
        _close(hn_e[1], hn_t[1])
    else:
        assert hn_e.shape == (2, 4)
        _close(hn_e, hn_t)


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(name, bias):
    torch = pytest.importorskip("torch")
    cell = getattr(nn, name)(3, 5, bias=bias)
    ref = getattr(torch.nn, name)(3, 5, bias=bias)
    assert list(cell.state_dict()) == list(ref.state_dict())
    _copy_to_torch(cell, ref)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    states = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(2 if name == "LSTMCell" else 1)]
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    se = [ember.tensor(s, requires_grad=True) for s in states]
    st = [torch.tensor(s, requires_grad=True) for s in states]
    if name == "LSTMCell":
        out_e, out_t = cell(xe, tuple(se)), ref(xt, tuple(st))
        loss_e = (out_e[0] * out_e[0]).sum() + out_e[1].sum()
        loss_t = (out_t[0] * out_t[0]).sum() + out_t[1].sum()
        _close(out_e[1], out_t[1])
        out_e, out_t = out_e[0], out_t[0]
    else:
        out_e, out_t = cell(xe, se[0]), ref(xt, st[0])
        loss_e, loss_t = (out_e * out_e).sum(), (out_t * out_t).sum()
    _close(out_e, out_t)
    loss_e.backward()
    loss_t.backward()
    _close(xe.grad, xt.grad)
    for a, b in zip(se, st):
        _close(a.grad, b.grad)
    torch_params = dict(ref.named_parameters())
    for pname, p in cell.named_parameters():
        _close(p.grad, torch_params[pname].grad)
    # Without a state the cells start from zeros, on a batched or an unbatched input.
    first = cell(ember.tensor(x[0]))
    first_ref = ref(torch.tensor(x[0]))
    _close(first[0] if name == "LSTMCell" else first, first_ref[0] if name == "LSTMCell" else first_ref)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_dtype_and_device_arguments_match_torch(name):
    # PyTorch's layers and cells take device= and dtype= (they were refused); flatten_parameters is a no-op.
    torch = pytest.importorskip("torch")
    layer = getattr(nn, name)(3, 5, device="cpu", dtype=ember.float64)
    ref = getattr(torch.nn, name)(3, 5, device="cpu", dtype=torch.float64)
    assert {str(p.dtype) for p in layer.parameters()} == {"float64"}
    _copy_to_torch(layer, ref)
    x = np.random.default_rng(4).standard_normal((4, 3) if name.endswith("Cell") else (6, 4, 3))
    out_e, out_t = layer(ember.tensor(x)), ref(torch.tensor(x))
    out_e, out_t = (out_e, out_t) if name in ("RNNCell", "GRUCell") else (out_e[0], out_t[0])
    assert out_e.dtype == np.float64
    np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    if not name.endswith("Cell"):
        layer.flatten_parameters()


def test_initialisation_range_and_shapes():
    ember.manual_seed(0)
    lstm = nn.LSTM(10, 16, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(16)
    for name, p in lstm.named_parameters():
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound, name
        assert values.std() > bound / 3, name  # uniform, not zeros
    assert lstm.weight_ih_l0.shape == (64, 10)
    assert lstm.weight_ih_l1_reverse.shape == (64, 32)
    assert len(lstm.all_weights) == 4 and len(lstm.all_weights[0]) == 4
    assert "bidirectional=True" in repr(lstm)


@pytest.mark.parametrize("call", [
    lambda: nn.GRU(3, 4)(ember.zeros(5, 2, 3), (ember.zeros(1, 2, 4),)),
    lambda: nn.RNN(3, 4)(ember.zeros(5, 2, 3), [ember.zeros(1, 2, 4)]),
    lambda: nn.RNNCell(3, 4)(ember.zeros(2, 3), (ember.zeros(2, 4),)),
    lambda: nn.LSTM(3, 4)(ember.zeros(5, 3), (ember.zeros(1, 4), (ember.zeros(1, 4),))),
    lambda: nn.GRU(3, 4)(nn.utils.rnn.pack_sequence([ember.zeros(2, 3)]), (ember.zeros(1, 1, 4),)),
])
def test_a_state_that_is_not_a_tensor_is_refused_as_such(call):
    with pytest.raises(TypeError, match=r"(hidden state|cell state|hx) must be a Tensor, got (tuple|list)"):
        call()


def test_cell_repr_names_a_relu_nonlinearity_as_torch():
    torch = pytest.importorskip("torch")
    for kwargs in ({}, {"nonlinearity": "relu"}, {"nonlinearity": "relu", "bias": False}):
        assert repr(nn.RNNCell(3, 4, **kwargs)) == repr(torch.nn.RNNCell(3, 4, **kwargs))


def test_dropout_between_layers_only_in_training():
    ember.manual_seed(0)
    gru = nn.GRU(4, 8, num_layers=2, dropout=0.5)
    x = ember.randn(5, 3, 4)
    gru.eval()
    first, _ = gru(x)
    second, _ = gru(x)
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    gru.train()
    out, _ = gru(x)
    assert not np.allclose(out.detach().numpy(), first.detach().numpy())


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_dropout_with_one_layer_warns_as_torch(name):
    # dropout acts between stacked layers only: with one layer PyTorch warns that it does nothing (it was silent)
    with pytest.warns(UserWarning, match="num_layers=1"):
        LAYERS[name](3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LAYERS[name](3, 4, num_layers=2, dropout=0.5)
        LAYERS[name](3, 4)


def test_errors_name_the_problem():
    lstm = nn.LSTM(3, 4)
    with pytest.raises(ValueError, match="3 features"):
        lstm(ember.randn(5, 2, 7))
    with pytest.raises(ValueError, match="initial hidden state"):
        lstm(ember.randn(5, 2, 3), (ember.zeros(1, 3, 4), ember.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        lstm(ember.randn(5, 2, 3), ember.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, 0)
    # an empty sequence (PyTorch refuses it too) failed inside with "stack: needs at least one tensor"
    for shape, batch_first in (((0, 2, 3), False), ((2, 0, 3), True), ((0, 3), False)):
        with pytest.raises(ValueError, match="at least one step"):
            nn.GRU(3, 4, batch_first=batch_first)(ember.randn(*shape))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_sizes_are_checked_and_zero_hidden_works_as_torch(name):
    # hidden_size=0 raised ZeroDivisionError, 2.0 "'float' object is not iterable" and -1 an error without the cell
    for arg, sizes in (("hidden_size", (3, 2.0)), ("hidden_size", (3, -1)), ("input_size", (True, 2))):
        with pytest.raises(ValueError, match=f"{name}: {arg} must be a non-negative integer"):
            getattr(nn, name)(*sizes)
    assert getattr(nn, name)(np.int64(3), np.int64(2)).hidden_size == 2
    out = getattr(nn, name)(3, 0)(ember.randn(4, 3))  # PyTorch's cells take hidden_size 0: a (4, 0) state
    assert [t.shape for t in (out if isinstance(out, tuple) else (out,))] == [(4, 0)] * (2 if name == "LSTMCell" else 1)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("dtype", ["float64", "int64"])
def test_state_of_another_dtype_is_refused(name, dtype):
    # As PyTorch: a float64 or integer state into a float32 layer was promoted silently (float64 outputs).
    layer = getattr(nn, name)(3, 4)
    cell = name.endswith("Cell")
    x = ember.randn(2, 3) if cell else ember.randn(5, 2, 3)
    state = ember.zeros(*((2, 4) if cell else (1, 2, 4)), dtype=dtype)
    with pytest.raises(TypeError, match=f"{name}: expected .* of dtype float32 .* got {dtype}"):
        layer(x, (state, ember.zeros(*state.shape)) if name.startswith("LSTM") else state)
    if not cell:
        packed = nn.utils.rnn.pack_sequence([ember.randn(3, 3), ember.randn(2, 3)])
        with pytest.raises(TypeError, match="initial hidden state of dtype float32"):
            layer(packed, (state, ember.zeros(*state.shape)) if name == "LSTM" else state)


def test_lstm_learns_to_count_ones():
    """An LSTM reads 8 bits and classifies how many are set (9 classes): >= 95% accuracy."""
    ember.manual_seed(0)
    rng = np.random.default_rng(0)

    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(1, 24, batch_first=True)
            self.head = nn.Linear(24, 9)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return self.head(h[-1])

    net = Counter()
    params = list(net.parameters())
    state: dict = {}
    for step in range(1, 301):
        bits = rng.integers(0, 2, (64, 8))
        loss = ember.cross_entropy(net(ember.tensor(bits[..., None].astype(np.float32))), ember.tensor(bits.sum(1)))
        net.zero_grad()
        loss.backward()
        _adam(params, state, step)
    bits = rng.integers(0, 2, (500, 8))
    with ember.no_grad():
        predicted = net(ember.tensor(bits[..., None].astype(np.float32))).numpy().argmax(1)
    assert (predicted == bits.sum(1)).mean() >= 0.95


def test_layers_and_cells_still_take_numpy_arrays():
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    for layer in (nn.RNN(3, 4), nn.LSTM(3, 4), nn.GRU(3, 4)):
        assert layer(x)[0].shape == (5, 2, 4)
    for cell in (nn.RNNCell(3, 4), nn.GRUCell(3, 4)):
        assert cell(x[0]).shape == (2, 4)
    assert nn.LSTMCell(3, 4)(x[0])[0].shape == (2, 4)

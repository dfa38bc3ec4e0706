"""One recurrent step: the steps the RNN, LSTM and GRU layers run at each time step, and PyTorch's top-level
cell functions on them (``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``, ``gru_cell``), which the
cell modules (``nn.RNNCell``...) call.

Gate order: LSTM (i, f, g, o), GRU (r, z, n) with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

>>> h = ember.rnn_tanh_cell(ember.randn(4, 8), ember.zeros(4, 16), ember.randn(16, 8), ember.randn(16, 16))
>>> h.shape
(4, 16)
"""

from __future__ import annotations

from ember import ops
from ember.ops.autocast import lowered
from ember.tensor import Tensor

__all__ = ["gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell"]


def rnn_step(gx: Tensor, h: Tensor, w_hh_t: Tensor, relu: bool) -> Tensor:
    """An Elman step; ``gx`` already holds ``x @ W_ih^T + b_ih + b_hh``."""
    pre = gx + ops.matmul(h, w_hh_t)
    return ops.relu(pre) if relu else ops.tanh(pre)


def lstm_step(gx: Tensor, h: Tensor, c: Tensor, w_hh_t: Tensor) -> tuple[Tensor, Tensor]:
    """An LSTM step, ``(h', c')``; ``gx`` already holds both biases."""
    # One sigmoid over all four gates costs less than three separate calls.
    n = c.shape[-1]  # (h may be projected to fewer features)
    gates = gx + ops.matmul(h, w_hh_t)
    s = ops.sigmoid(gates)
    i = s[..., :n]
    f = s[..., n:2 * n]
    o = s[..., 3 * n:]
    g = ops.tanh(gates[..., 2 * n:3 * n])
    c = f * c + i * g
    return o * ops.tanh(c), c


def gru_step(gx: Tensor, h: Tensor, w_hh_t: Tensor, b_hh: Tensor | None) -> Tensor:
    """A GRU step; ``gx`` holds ``x @ W_ih^T + b_ih``, while b_hh stays on the hidden side because r multiplies
    ``W_hn h + b_hn``."""
    n = h.shape[-1]
    gh = ops.matmul(h, w_hh_t)
    if b_hh is not None:
        gh = gh + lowered(b_hh)[0]
    rz = ops.sigmoid(gx[..., :2 * n] + gh[..., :2 * n])
    r = rz[..., :n]
    z = rz[..., n:]
    cand = ops.tanh(gx[..., 2 * n:] + r * gh[..., 2 * n:])
    return cand + z * (h - cand)


def input_gates(input: Tensor, w_ih: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    """``input @ w_ih^T`` plus the biases given (pass b_hh None to keep it on the hidden side); under autocast the
    biases are added in the product's dtype, as PyTorch's ``linear`` adds them."""
    gx = ops.matmul(input, ops.transpose(w_ih))
    bias = b_ih if b_hh is None else b_hh if b_ih is None else b_ih + b_hh
    return gx if bias is None else gx + lowered(bias)[0]


def _check(name: str, gates: int, input, states: tuple, w_ih, w_hh, b_ih, b_hh) -> None:
    """PyTorch's checks of a cell function's arguments, naming the function, the argument and the shapes."""
    for what, t in (("input", input), *states, ("w_ih", w_ih), ("w_hh", w_hh)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(t).__name__}")
    if input.ndim not in (1, 2) or w_ih.ndim != 2 or w_hh.ndim != 2:
        raise ValueError(f"{name}: input must be (N, input_size) or (input_size,) and w_ih, w_hh 2-D, got shapes "
                         f"input {list(input.shape)}, w_ih {list(w_ih.shape)}, w_hh {list(w_hh.shape)}")
    hidden = w_hh.shape[1]
    if w_hh.shape[0] != gates * hidden or w_ih.shape != (gates * hidden, input.shape[-1]):
        raise ValueError(f"{name}: w_ih must be ({gates} * hidden_size, input_size) = "
                         f"({gates * hidden}, {input.shape[-1]}) and w_hh ({gates * hidden}, {hidden}), got "
                         f"w_ih {list(w_ih.shape)}, w_hh {list(w_hh.shape)}")
    expected = tuple(input.shape[:-1]) + (hidden,)
    for what, state in states:
        if tuple(state.shape) != expected:
            raise ValueError(f"{name}: {what} must have shape {list(expected)} for input {list(input.shape)} and "
                             f"hidden_size {hidden}, got {list(state.shape)}")
    for what, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * hidden,):
            raise ValueError(f"{name}: {what} must have shape [{gates * hidden}], got {list(b.shape)}")
    dtypes = {t.dtype for t in (input, w_ih, w_hh, b_ih, b_hh, *(s for _, s in states)) if t is not None}
    if len(dtypes) > 1:
        raise TypeError(f"{name}: input, states, weights and biases must share one dtype, got "
                        f"{sorted(str(d) for d in dtypes)}")


def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman RNN step, ``tanh(input @ w_ih^T + b_ih + hx @ w_hh^T + b_hh)`` (``torch.rnn_tanh_cell``).

    >>> ember.rnn_tanh_cell(ember.randn(4, 8), ember.zeros(4, 16), ember.randn(16, 8), ember.randn(16, 16)).shape
    (4, 16)
    """
    _check("rnn_tanh_cell", 1, input, (("hx", hx),), w_ih, w_hh, b_ih, b_hh)
    return rnn_step(input_gates(input, w_ih, b_ih, b_hh), hx, ops.transpose(w_hh), False)


def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
                  b_hh: Tensor | None = None) -> Tensor:
    """One Elman RNN step with relu, ``relu(input @ w_ih^T + b_ih + hx @ w_hh^T + b_hh)`` (``torch.rnn_relu_cell``).

    >>> ember.rnn_relu_cell(ember.randn(4, 8), ember.zeros(4, 16), ember.randn(16, 8), ember.randn(16, 16)).shape
    (4, 16)
    """
    _check("rnn_relu_cell", 1, input, (("hx", hx),), w_ih, w_hh, b_ih, b_hh)
    return rnn_step(input_gates(input, w_ih, b_ih, b_hh), hx, ops.transpose(w_hh), True)


def lstm_cell(input: Tensor, hx, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
              b_hh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step, gates (i, f, g, o): ``hx`` is ``(h, c)``, the result ``(h', c')`` (``torch.lstm_cell``).

    >>> x, h = ember.randn(4, 8), ember.zeros(4, 16)
    >>> h1, c1 = ember.lstm_cell(x, (h, h), ember.randn(64, 8), ember.randn(64, 16))
    """
    if not isinstance(hx, (tuple, list)):
        raise TypeError(f"lstm_cell: hx must be a tuple (h, c) of Tensors, got {type(hx).__name__}")
    if len(hx) != 2:
        raise ValueError(f"lstm_cell: hx must hold two states (h, c), got {len(hx)}")
    h, c = hx
    _check("lstm_cell", 4, input, (("hx[0]", h), ("hx[1]", c)), w_ih, w_hh, b_ih, b_hh)
    return lstm_step(input_gates(input, w_ih, b_ih, b_hh), h, c, ops.transpose(w_hh))


def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None = None,
             b_hh: Tensor | None = None) -> Tensor:
    """One GRU step, gates (r, z, n) as PyTorch's (``torch.gru_cell``).

    >>> ember.gru_cell(ember.randn(4, 8), ember.zeros(4, 16), ember.randn(48, 8), ember.randn(48, 16)).shape
    (4, 16)
    """
    _check("gru_cell", 3, input, (("hx", hx),), w_ih, w_hh, b_ih, b_hh)
    return gru_step(input_gates(input, w_ih, b_ih, None), hx, ops.transpose(w_hh), b_hh)

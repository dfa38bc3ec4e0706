"""Recurrent layers with PyTorch's names, gate order and initialisation: RNN, LSTM, GRU and their cells.

The input projection ``x @ W_ih^T + b`` of a whole sequence is one matmul; the time loop then does only
the hidden matmul and the gate arithmetic per step (``cell_steps``, which also holds PyTorch's top-level cell
functions), all with Ember ops (so autograd needs nothing else).

A packed batch (``nn.utils.rnn.PackedSequence``) runs each step on the sequences still running, a prefix of the
batch sorted longest first (``packed_steps``), and comes back packed, with the final states in the caller's order.

A graph built with gradients off (an ONNX export, an inference trace) gets one ``recurrent`` op per layer
instead (ONNX's RNN/LSTM/GRU node, ONNX's gate orders), which needs neither the batch size nor the sequence
length; the cells are such an op over one step.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ember import ops
from ember.creation import empty, zeros
from ember.grad_mode import is_grad_enabled
from ember.nn import init
from ember.nn.layers.cell_steps import gru_step, input_gates, lstm_step, rnn_step
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.layers.packed_steps import packed_direction
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence, batch_sizes_list
from ember.ops.autocast import active, lowered
from ember.ops.recurrent import recurrent
from ember.ops.sized import size_along
from ember.tensor import Tensor

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_ONNX_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2)}  # PyTorch's gates in ONNX's order: (i, o, f, c), (z, r, h)


def _fused(x: Tensor) -> bool:
    """Whether to run the ``recurrent`` op: a graph is being built and nothing will be differentiated, outside
    autocast (the op computes in its inputs' dtype; the steps take autocast's dtypes, as in eager mode)."""
    return getattr(x, "symbolic", False) and not is_grad_enabled() and not active()  # (a NumPy input is eager)


def _onnx_gates(mode: str, hidden: int, p: Tensor) -> Tensor:
    """A weight or bias with its gate blocks (along the first axis) in ONNX's order."""
    order = _ONNX_ORDER.get(mode)
    if order is None:
        return p
    return ops.concat([p[g * hidden:(g + 1) * hidden] for g in order], axis=0)


def _onnx_bias(mode: str, hidden: int, b_ih: Tensor | None, b_hh: Tensor | None, like: Tensor) -> Tensor:
    """ONNX's B: the input biases then the hidden ones, zeros for a layer without bias."""
    if b_ih is None:
        return zeros(2 * _GATES[mode] * hidden, dtype=like.dtype, device=like.device)
    return ops.concat([_onnx_gates(mode, hidden, b_ih), _onnx_gates(mode, hidden, b_hh)], axis=0)


def _projected(state: tuple, w_hr_t: Tensor) -> tuple:
    """An LSTM step's (h, c) with h projected: ``h W_hr^T`` (PyTorch's proj_size)."""
    h, c = state
    return ops.matmul(h, w_hr_t), c


def _time_steps(x: Tensor) -> list[Tensor]:
    """``[x[0], x[1], ...]``. Each ``x[t]`` sends back a gradient the size of all of ``x``, so slicing L
    steps straight from x costs O(L^2) in backward; slicing blocks of about sqrt(L) steps first, then the
    steps from their block, brings that down to O(L^1.5)."""
    steps = x.shape[0]
    if not x.requires_grad or steps < 16:
        return [x[t] for t in range(steps)]
    block = math.isqrt(steps)
    out = []
    for start in range(0, steps, block):
        chunk = x[start:start + block]
        out.extend(chunk[i] for i in range(chunk.shape[0]))
    return out


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU: parameters per layer and direction, and the time loop."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r}")
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError(f"{name}: proj_size must be a non-negative integer, got {proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is only supported for LSTM, got proj_size={proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size ({proj_size}) must be smaller than hidden_size ({hidden_size})")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout is applied between stacked layers only, so with num_layers=1 "
                          f"dropout={dropout} has no effect", UserWarning, stacklevel=3)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size  # the size of h: the projection's, where there is one
        kw = {"dtype": dtype, "device": device}
        self._weight_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * num_directions
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                names = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
                setattr(self, names[0], Parameter(empty(gate_size, layer_input, **kw)))
                setattr(self, names[1], Parameter(empty(gate_size, out_size, **kw)))
                if bias:
                    names += [f"bias_ih{suffix}", f"bias_hh{suffix}"]
                    setattr(self, names[2], Parameter(empty(gate_size, **kw)))
                    setattr(self, names[3], Parameter(empty(gate_size, **kw)))
                if proj_size:
                    names.append(f"weight_hr{suffix}")
                    setattr(self, names[-1], Parameter(empty(proj_size, hidden_size, **kw)))
                self._weight_names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight and bias, like PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """PyTorch's compaction of the weights into one cuDNN buffer; Ember's layers need none, so nothing to do."""

    @property
    def all_weights(self) -> list:
        """The parameters per layer and direction: [[w_ih, w_hh, b_ih, b_hh(, w_hr)], ...]."""
        return [[getattr(self, n) for n in names] for names in self._weight_names]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    def _check_state(self, what: str, state: Tensor, expected: tuple) -> None:
        check_input_dtype(self, state, self.weight_ih_l0.dtype, what.removeprefix("the "))
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: {what} must have shape {list(expected)}, "
                             f"got {list(state.shape)}")

    def _run(self, input: Tensor, h0: Tensor | None, c0: Tensor | None):
        """(output, h_n, c_n or None) for a time-major batched input (L, N, H_in)."""
        name = type(self).__name__
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input must have {self.input_size} features in its last dimension, "
                             f"got shape {list(input.shape)}")
        batch = input.shape[1]
        num_directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * num_directions, batch, self.hidden_size)
        h_shape = state_shape[:2] + (self.proj_size or self.hidden_size,)
        is_lstm = self.mode == "LSTM"
        if h0 is not None:
            self._check_state("the initial hidden state", h0, h_shape)
        if is_lstm and c0 is not None:
            self._check_state("the initial cell state", c0, state_shape)
        if _fused(input) and not self.proj_size:  # (ONNX's LSTM has no projection)
            return self._run_fused(input, h0, c0)
        states = (state_shape[0], size_along(input, 1))  # (an unknown batch: read when a graph runs)
        if h0 is None:
            h0 = zeros(*states, h_shape[2], dtype=input.dtype, device=input.device)
        if is_lstm and c0 is None:
            c0 = zeros(*states, state_shape[2], dtype=input.dtype, device=input.device)
        if is_lstm and not self.proj_size:  # PyTorch's CPU autocast runs this LSTM (oneDNN's) all in its dtype
            h0, c0 = lowered(h0, c0)
        layer_input = input
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                out, h, c = self._direction(layer_input, k, h0[k], c0[k] if is_lstm else None, bool(direction))
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = outputs[0] if num_directions == 1 else ops.concat(outputs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = ops.dropout(layer_input, self.dropout, True)
        return layer_input, ops.stack(h_n), ops.stack(c_n) if is_lstm else None

    def _run_fused(self, input: Tensor, h0: Tensor | None, c0: Tensor | None):
        """``_run`` as one ``recurrent`` op per layer (ONNX's layouts), for any batch size and length."""
        dirs = 2 if self.bidirectional else 1
        finals = 2 if self.mode == "LSTM" else 1
        layer_input, h_n, c_n = input, [], []
        for layer in range(self.num_layers):
            w, r, b = self._onnx_weights(layer, dirs)
            k = slice(layer * dirs, (layer + 1) * dirs)
            packed = recurrent(layer_input, w, r, b, None if h0 is None else h0[k], None if c0 is None else c0[k],
                               mode=self.mode, direction="bidirectional" if dirs == 2 else "forward")
            y = packed[:-finals]  # (L, D, N, H)
            h_n.append(packed[-finals])
            if finals == 2:
                c_n.append(packed[-1])
            layer_input = y[:, 0] if dirs == 1 else ops.concat([y[:, 0], y[:, 1]], axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = ops.dropout(layer_input, self.dropout, True)
        return layer_input, ops.concat(h_n, axis=0), ops.concat(c_n, axis=0) if c_n else None

    def _onnx_weights(self, layer: int, dirs: int) -> tuple[Tensor, Tensor, Tensor]:
        """ONNX's W (D, G*H, I), R (D, G*H, H) and B (D, 2*G*H) of one layer."""
        ws, rs, bs = [], [], []
        n, mode = self.hidden_size, self.mode
        for k in range(layer * dirs, (layer + 1) * dirs):
            params = [getattr(self, name) for name in self._weight_names[k]]
            ws.append(_onnx_gates(mode, n, params[0]))
            rs.append(_onnx_gates(mode, n, params[1]))
            biases = params[2:] if self.bias else (None, None)
            bs.append(_onnx_bias(mode, n, *biases, like=params[0]))
        return ops.stack(ws), ops.stack(rs), ops.stack(bs)

    def _direction(self, x: Tensor, k: int, h: Tensor, c: Tensor | None, reverse: bool):
        """Run one layer in one direction over the whole sequence."""
        steps, batch, features = x.shape
        if batch is None:  # a graph's unknown batch: (steps, ?, features) as it is, no (steps * ?) rows of a new size
            gx = _time_steps(self._projection(x, k))
        else:
            gx = self._projection(ops.reshape(x, (steps * batch, features)), k)
            gx = _time_steps(ops.reshape(gx, (steps, batch, gx.shape[-1])))
        step = self._cell_step(k)
        outputs = [None] * steps
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h, c = step(gx[t], h, c)
            outputs[t] = h
        return ops.stack(outputs), h, c

    def _projection(self, rows: Tensor, k: int) -> Tensor:
        """``rows @ W_ih^T`` plus the biases the steps need not add (b_hh stays with a GRU's hidden side)."""
        params = [getattr(self, n) for n in self._weight_names[k]]
        gx = ops.matmul(rows, ops.transpose(params[0]))
        if self.bias:  # (under autocast added in the product's dtype, as PyTorch's linear adds a bias)
            gx = gx + lowered(params[2] if self.mode == "GRU" else params[2] + params[3])[0]
        return gx

    def _cell_step(self, k: int):
        """``step(gx_t, h, c) -> (h, c)`` of layer-direction k, for the projection ``_projection`` made."""
        w_hh_t = ops.transpose(getattr(self, self._weight_names[k][1]))
        mode = self.mode
        if mode == "LSTM" and self.proj_size:
            w_hr_t = ops.transpose(getattr(self, self._weight_names[k][-1]))
            return lambda gx, h, c: _projected(lstm_step(gx, h, c, w_hh_t), w_hr_t)
        if mode == "LSTM":
            return lambda gx, h, c: lstm_step(gx, h, c, w_hh_t)
        if mode == "GRU":
            b_hh = getattr(self, self._weight_names[k][3]) if self.bias else None
            return lambda gx, h, c: (gru_step(gx, h, w_hh_t, b_hh), c)
        relu = mode == "RNN_RELU"
        return lambda gx, h, c: (rnn_step(gx, h, w_hh_t, relu), c)

    def _run_packed(self, packed: PackedSequence, hx: tuple) -> tuple:
        """(output PackedSequence, h_n, c_n or None) for a packed input; states in the caller's batch order."""
        name = type(self).__name__
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        check_input_dtype(self, data, self.weight_ih_l0.dtype)
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ValueError(f"{name}: a packed input's data must be (sum of lengths, {self.input_size}), got shape "
                             f"{list(data.shape)}")
        sizes = batch_sizes_list(name, packed)
        dirs = 2 if self.bidirectional else 1
        cell_shape = (self.num_layers * dirs, sizes[0], self.hidden_size)
        states = []
        for what, state in zip(("the initial hidden state", "the initial cell state"), hx):
            state_shape = cell_shape[:2] + (self.proj_size or self.hidden_size,) if not states else cell_shape
            if state is None:
                state = zeros(*state_shape, dtype=data.dtype, device=data.device)
            else:
                self._check_state(what, state, state_shape)
                if sorted_indices is not None:
                    state = ops.take(state, sorted_indices, axis=1)
            states.append(state)
        h0, c0 = states if len(states) == 2 else (states[0], None)
        layer_input, h_n, c_n = data, [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(dirs):
                k = layer * dirs + direction
                gx = self._projection(layer_input, k)
                out, h, c = packed_direction(self._cell_step(k), gx, sizes, h0[k], None if c0 is None else c0[k],
                                             bool(direction))
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = outputs[0] if dirs == 1 else ops.concat(outputs, axis=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = ops.dropout(layer_input, self.dropout, True)
        finals = [ops.stack(h_n)] + ([ops.stack(c_n)] if c0 is not None else [])
        if unsorted_indices is not None:
            finals = [ops.take(f, unsorted_indices, axis=1) for f in finals]
        output = PackedSequence(layer_input, batch_sizes, sorted_indices, unsorted_indices)
        return output, finals[0], finals[1] if c0 is not None else None

    def _prepare(self, input: Tensor) -> tuple[Tensor, bool]:
        """The input made time-major and batched, and whether it came batched."""
        check_input_dtype(self, input, self.weight_ih_l0.dtype)
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: input must be (L, H_in), (L, N, H_in) or, with "
                             f"batch_first, (N, L, H_in); got shape {list(input.shape)}")
        batched = input.ndim == 3
        if input.shape[1 if batched and self.batch_first else 0] == 0:
            raise ValueError(f"{type(self).__name__}: the input sequence must have at least one step, got shape "
                             f"{list(input.shape)}")
        if not batched:
            input = ops.unsqueeze(input, 1)
        elif self.batch_first:
            input = ops.swapaxes(input, 0, 1)
        return input, batched

    def _unbatch_state(self, state: Tensor | None, batched: bool, what: str) -> Tensor | None:
        if state is None or batched:
            return state
        check_input_dtype(self, state, self.weight_ih_l0.dtype, f"initial {what}")
        if state.ndim != 2:
            raise ValueError(f"{type(self).__name__}: for an unbatched input the {what} must be 2-D, "
                             f"got shape {list(state.shape)}")
        return ops.unsqueeze(state, 1)

    def _finish(self, output: Tensor, batched: bool) -> Tensor:
        if not batched:
            return ops.squeeze(output, 1)
        return ops.swapaxes(output, 0, 1) if self.batch_first else output


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu), stacked and
    optionally bidirectional. Returns ``(output, h_n)`` like ``torch.nn.RNN``; a ``PackedSequence`` input
    (``nn.utils.rnn``) gives a packed output.

    >>> rnn = ember.nn.RNN(8, 16, num_layers=2, batch_first=True)
    >>> output, h_n = rnn(ember.randn(4, 10, 8))
    >>> output.shape, h_n.shape
    ((4, 10, 16), (2, 4, 16))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        if isinstance(input, PackedSequence):
            output, h_n, _ = self._run_packed(input, (hx,))
            return output, h_n
        input, batched = self._prepare(input)
        hx = self._unbatch_state(hx, batched, "hidden state")
        output, h_n, _ = self._run(input, hx, None)
        return self._finish(output, batched), h_n if batched else ops.squeeze(h_n, 1)


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) like PyTorch. Returns ``(output, (h_n, c_n))``; a
    ``PackedSequence`` input (``nn.utils.rnn``) gives a packed output. ``proj_size > 0`` projects each step's h
    to that size with ``weight_hr_l{k}`` (the output and h_n have it; c_n keeps hidden_size).

    >>> lstm = ember.nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    >>> output, (h_n, c_n) = lstm(ember.randn(10, 4, 8))
    >>> output.shape, h_n.shape
    ((10, 4, 32), (4, 4, 16))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def forward(self, input: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
        if isinstance(input, PackedSequence):
            output, h_n, c_n = self._run_packed(input, (None, None) if hx is None else tuple(hx))
            return output, (h_n, c_n)
        input, batched = self._prepare(input)
        h0 = c0 = None
        if hx is not None:
            h0 = self._unbatch_state(hx[0], batched, "hidden state")
            c0 = self._unbatch_state(hx[1], batched, "cell state")
        output, h_n, c_n = self._run(input, h0, c0)
        if not batched:
            h_n, c_n = ops.squeeze(h_n, 1), ops.squeeze(c_n, 1)
        return self._finish(output, batched), (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) like PyTorch. Returns ``(output, h_n)``; a ``PackedSequence``
    input (``nn.utils.rnn``) gives a packed output.

    >>> gru = ember.nn.GRU(8, 16, batch_first=True)
    >>> output, h_n = gru(ember.randn(4, 10, 8))
    >>> output.shape, h_n.shape
    ((4, 10, 16), (1, 4, 16))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        if isinstance(input, PackedSequence):
            output, h_n, _ = self._run_packed(input, (hx,))
            return output, h_n
        input, batched = self._prepare(input)
        hx = self._unbatch_state(hx, batched, "hidden state")
        output, h_n, _ = self._run(input, hx, None)
        return self._finish(output, batched), h_n if batched else ops.squeeze(h_n, 1)


# --- cells ----------------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Parameters weight_ih, weight_hh, bias_ih, bias_hh of one recurrent step, initialised like PyTorch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:  # (0: as PyTorch's)
                raise ValueError(f"{type(self).__name__}: {arg} must be a non-negative integer, got {value!r}")
        input_size, hidden_size = int(input_size), int(hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"dtype": dtype, "device": device}
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, **kw))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight and bias, like PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"

    def _check_input(self, input: Tensor) -> None:
        check_input_dtype(self, input, self.weight_ih.dtype)
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: input must be (N, {self.input_size}) or "
                             f"({self.input_size},), got shape {list(input.shape)}")

    def _input(self, input: Tensor, fold_hidden_bias: bool) -> Tensor:
        """x @ W_ih^T plus b_ih (and b_hh when it can be folded in), for a (N, H_in) or (H_in,) input."""
        self._check_input(input)
        return input_gates(input, self.weight_ih, self.bias_ih, self.bias_hh if fold_hidden_bias else None)

    def _step_fused(self, mode: str, input: Tensor, states: tuple) -> list[Tensor]:
        """The step as a ``recurrent`` op over one time step (see the module docstring): [h'] or [h', c']."""
        self._check_input(input)
        states = [self._state(s, input, what) for s, what in zip(states, ("h", "c")) if s is not None]
        batched = input.ndim == 2

        def sequence(t: Tensor) -> Tensor:  # (N, F) or (F,) -> (1, N, F)
            return ops.unsqueeze(t if batched else ops.unsqueeze(t, 0), 0)

        n = self.hidden_size
        w, r = (ops.unsqueeze(_onnx_gates(mode, n, p), 0) for p in (self.weight_ih, self.weight_hh))
        b = ops.unsqueeze(_onnx_bias(mode, n, self.bias_ih, self.bias_hh, self.weight_ih), 0)
        packed = recurrent(sequence(input), w, r, b, *map(sequence, states), mode=mode)  # (1 + finals, 1, N, H)
        out = [packed[1 + i, 0] for i in range(2 if mode == "LSTM" else 1)]
        return out if batched else [ops.squeeze(t, 0) for t in out]

    def _state(self, state: Tensor | None, input: Tensor, what: str) -> Tensor:
        expected = tuple(input.shape[:-1]) + (self.hidden_size,)
        if state is None:
            return zeros(*expected, dtype=ops.to_float(input).dtype, device=input.device)
        check_input_dtype(self, state, self.weight_ih.dtype, what)
        if tuple(state.shape) != expected:
            raise ValueError(f"{type(self).__name__}: {what} must have shape {list(expected)}, "
                             f"got {list(state.shape)}")
        return state


class RNNCell(RNNCellBase):
    """One Elman RNN step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    >>> cell = ember.nn.RNNCell(8, 16)
    >>> cell(ember.randn(4, 8)).shape
    (4, 16)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if _fused(input):
            return self._step_fused("RNN_RELU" if self.nonlinearity == "relu" else "RNN_TANH", input, (hx,))[0]
        gx = self._input(input, True)
        h = self._state(hx, input, "hx")
        return rnn_step(gx, h, ops.transpose(self.weight_hh), self.nonlinearity == "relu")


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``.

    >>> cell = ember.nn.LSTMCell(8, 16)
    >>> h, c = cell(ember.randn(4, 8))
    >>> h.shape, c.shape
    ((4, 16), (4, 16))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: hx must be a tuple (h, c)")
        if _fused(input):
            return tuple(self._step_fused("LSTM", input, (None, None) if hx is None else tuple(hx)))
        gx = self._input(input, True)
        if hx is None:
            h = c = self._state(None, input, "h")
        else:
            h = self._state(hx[0], input, "h")
            c = self._state(hx[1], input, "c")
        return lstm_step(gx, h, c, ops.transpose(self.weight_hh))


class GRUCell(RNNCellBase):
    """One GRU step, gates (r, z, n) like PyTorch.

    >>> cell = ember.nn.GRUCell(8, 16)
    >>> cell(ember.randn(4, 8)).shape
    (4, 16)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if _fused(input):
            return self._step_fused("GRU", input, (hx,))[0]
        gx = self._input(input, False)
        h = self._state(hx, input, "hx")
        return gru_step(gx, h, ops.transpose(self.weight_hh), self.bias_hh)

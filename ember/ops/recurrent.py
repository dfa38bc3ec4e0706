"""``recurrent``: one RNN, LSTM or GRU layer over a whole sequence as a single op, with ONNX's conventions (so it
exports as ONNX's own RNN/LSTM/GRU node, whatever the batch size and sequence length).

Layouts are ONNX's: x (L, N, I); w (D, G*H, I); r (D, G*H, H); b (D, 2*G*H), the input biases then the hidden
ones; initial states (D, N, H); D is 2 for a bidirectional layer. Gate orders are ONNX's: LSTM (i, o, f, c),
GRU (z, r, h); ``linear_before_reset`` is 1 for PyTorch's GRU. The result packs ONNX's outputs along time:
``[Y; Y_h]`` of shape (L + 1, D, N, H), and ``[Y; Y_h; Y_c]`` (L + 2, ...) for an LSTM.

The layers (``ember.nn.RNN``...) use it when a graph is built with gradients off (an export or inference
trace); eager mode and training unroll the steps with Ember ops, which autograd differentiates, so the op
itself has no vjp: ``recurrent`` (the function) computes the same steps with Ember ops when a gradient is to be
recorded (an imported ONNX model being fine-tuned) or a graph of known sizes is built with gradients on.
"""

from __future__ import annotations

import numpy as np

from ember.ops import dispatch
from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import relu, sigmoid, tanh
from ember.ops.infer import differ, require_float, same_dtype
from ember.ops.join import stack
from ember.ops.linalg import matmul
from ember.ops.registry import Cost, Spec, defop, format_shape, shape_error
from ember.ops.shape import transpose

MODES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}  # mode -> gates
DIRECTIONS = ("forward", "reverse", "bidirectional")


def _sigmoid(xp, x):
    # the sigmoid op's formula: no overflow, full precision for x < 0
    return xp.exp(xp.minimum(x, x.dtype.type(0))) / (x.dtype.type(1) + xp.exp(-xp.abs(x)))


def _step(xp, mode, gx, h, c, r, rb, linear_before_reset):
    """One time step: the new (h, c) from the input's projection ``gx`` (biases of the input side included)."""
    n = h.shape[-1]
    if mode == "GRU":
        gh = h @ r[:2 * n].T + rb[:2 * n]
        z = _sigmoid(xp, gx[:, :n] + gh[:, :n])
        reset = _sigmoid(xp, gx[:, n:2 * n] + gh[:, n:])
        if linear_before_reset:
            cand = xp.tanh(gx[:, 2 * n:] + reset * (h @ r[2 * n:].T + rb[2 * n:]))
        else:
            cand = xp.tanh(gx[:, 2 * n:] + (reset * h) @ r[2 * n:].T + rb[2 * n:])
        return cand + z * (h - cand), c
    pre = gx + h @ r.T + rb
    if mode == "LSTM":
        gates = _sigmoid(xp, pre[:, :3 * n])
        c = gates[:, 2 * n:] * c + gates[:, :n] * xp.tanh(pre[:, 3 * n:])
        return gates[:, n:2 * n] * xp.tanh(c), c
    return xp.maximum(pre, 0) if mode == "RNN_RELU" else xp.tanh(pre), c


def _recurrent_forward(xp, x, w, r, b, *state, mode, direction, linear_before_reset):
    steps, batch, _ = x.shape
    dirs, gate_size, _ = w.shape
    hidden = r.shape[-1]
    finals = 2 if mode == "LSTM" else 1
    out = xp.empty((steps + finals, dirs, batch, hidden), x.dtype)
    zeros = xp.zeros((dirs, batch, hidden), x.dtype)
    h0 = state[0] if state else zeros
    c0 = state[1] if len(state) > 1 else zeros
    for d in range(dirs):
        gx = (x.reshape(steps * batch, -1) @ w[d].T + b[d, :gate_size]).reshape(steps, batch, gate_size)
        h, c = h0[d], c0[d]
        reverse = d == 1 or direction == "reverse"
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h, c = _step(xp, mode, gx[t], h, c, r[d], b[d, gate_size:], linear_before_reset)
            out[t, d] = h
        out[steps, d] = h
        if mode == "LSTM":
            out[steps + 1, d] = c
    return out


def _recurrent_infer(x, w, r, b, *state, mode, direction, linear_before_reset):
    specs = [x, w, r, b, *state]
    if mode not in MODES:
        raise shape_error("recurrent", specs, f"mode must be one of {sorted(MODES)}, got {mode!r}")
    if direction not in DIRECTIONS:
        raise shape_error("recurrent", specs, f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    require_float("recurrent", specs)
    dtype = same_dtype("recurrent", specs)
    if x.ndim != 3 or w.ndim != 3 or r.ndim != 3 or b.ndim != 2:
        raise shape_error("recurrent", specs, "expects x (L, N, I), w (D, G*H, I), r (D, G*H, H), b (D, 2*G*H)")
    dirs = 2 if direction == "bidirectional" else 1
    hidden = r.shape[2]
    gate_size = None if hidden is None else MODES[mode] * hidden
    batch = x.shape[1]
    expected = {"w": (w, (dirs, gate_size, x.shape[2])), "r": (r, (dirs, gate_size, hidden)),
                "b": (b, (dirs, None if gate_size is None else 2 * gate_size))}
    if len(state) > (2 if mode == "LSTM" else 1) or mode == "LSTM" and len(state) == 1:
        raise shape_error("recurrent", specs, f"takes no initial state or {'(h0, c0)' if mode == 'LSTM' else 'h0'}, "
                          f"got {len(state)} state inputs")
    for i, s in enumerate(state):
        expected[("h0", "c0")[i]] = (s, (dirs, batch, hidden))
    for what, (spec, shape) in expected.items():
        if len(spec.shape) != len(shape) or any(differ(a, e) for a, e in zip(spec.shape, shape)):
            raise shape_error("recurrent", specs, f"{what} must have shape {list(shape)} for a {mode} layer with "
                              f"{dirs} direction(s) and hidden size {hidden}, got {list(spec.shape)}")
    steps = x.shape[0]
    finals = 2 if mode == "LSTM" else 1
    return Spec((None if steps is None else steps + finals, dirs, batch, hidden), dtype)


def _recurrent_cost(out: Spec, x: Spec, w: Spec, r: Spec, *rest: Spec, mode, **attrs) -> Cost:
    dirs, gate_size, features = w.shape
    steps_batch = (x.shape[0] or 1) * (x.shape[1] or 1)
    flops = 2 * dirs * steps_batch * gate_size * (features + r.shape[2]) + 4 * (out.size or 0) * MODES[mode]
    inputs = sum(s.nbytes or 0 for s in (x, w, r, *rest))
    return Cost(flops, inputs + (out.nbytes or 0))


# ONNX's RNN, LSTM or GRU node by mode (the rule in ``onnx_rules``); no vjp (see the module docstring)
def _recurrent_vjp(ctx, g):
    # the fused op stands only where no gradient was expected (an unknown batch or time size, or gradients off);
    # a gradient through it would need the steps the layer unrolls into, so asking for one is an error, not a zero
    x = ctx.inputs[0]
    raise ValueError(f"recurrent: a {ctx.attrs['mode']} layer fused into one op (input {format_shape(x.shape)}) has "
                     "no gradient; build the graph with known batch and time sizes and gradients on, where the "
                     "layer unrolls into ops that have one")


RECURRENT = defop("recurrent", forward=_recurrent_forward, infer=_recurrent_infer, vjp=_recurrent_vjp,
                  cost=_recurrent_cost, onnx="RNN")


def recurrent(x, w, r, b, h0=None, c0=None, *, mode: str, direction: str = "forward",
              linear_before_reset: int = 1) -> TensorLike:
    """One recurrent layer over a sequence with ONNX's layouts and gate orders (see the module docstring);
    returns ``[Y; Y_h]`` (``[Y; Y_h; Y_c]`` for an LSTM) packed along the first axis. An LSTM takes both
    initial states or neither; absent states start at zero."""
    if mode == "LSTM" and (h0 is None) != (c0 is None):
        raise ValueError("recurrent: an LSTM takes both initial states (h0, c0) or neither")
    if mode != "LSTM" and c0 is not None:
        raise ValueError(f"recurrent: a {mode} layer has no cell state; c0 must be None")
    state = tuple(s for s in (h0, c0) if s is not None)
    attrs = {"mode": mode, "direction": direction, "linear_before_reset": int(linear_before_reset)}
    inputs = tuple(as_tensor(t) for t in (x, w, r, b, *state))
    _recurrent_infer(*[Spec(tuple(t.shape), t.dtype) for t in inputs], **attrs)
    if dispatch.grad_enabled() and _differentiable(inputs):
        return _unrolled(*inputs, **attrs)
    return dispatch.apply(RECURRENT, inputs, attrs)


def _differentiable(inputs) -> bool:
    """Whether a gradient may be asked for: an input requires one, or a graph of known sizes is built (a graph's
    gradients are asked for after it is built)."""
    if True in [t.symbolic for t in inputs]:
        return None not in inputs[0].shape[:2]
    return True in [t.requires_grad for t in inputs]


def _unrolled(x, w, r, b, *state, mode, direction, linear_before_reset) -> TensorLike:
    """The op's result from Ember ops step by step (so autograd differentiates it); the sizes must be known."""
    steps, batch, _ = x.shape
    dirs, gate_size, _ = w.shape
    n = r.shape[2]
    zeros = dispatch.new(np.zeros((batch, n)), x.dtype, x.device)
    outputs = []
    for d in range(dirs):
        gx = matmul(x, transpose(w[d])) + b[d, :gate_size]
        rt, rb = transpose(r[d]), b[d, gate_size:]
        h = state[0][d] if state else zeros
        c = state[1][d] if len(state) > 1 else zeros
        ys = [None] * steps
        reverse = d == 1 or direction == "reverse"
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h, c = _unrolled_step(mode, gx[t], h, c, rt, rb, linear_before_reset)
            ys[t] = h
        outputs.append(stack(ys + [h, c] if mode == "LSTM" else ys + [h]))
    return stack(outputs, axis=1)


def _unrolled_step(mode, gx, h, c, rt, rb, linear_before_reset):
    """``_step`` with Ember ops (``rt``: r transposed)."""
    n = h.shape[-1]
    if mode == "GRU":
        gh = matmul(h, rt[:, :2 * n]) + rb[:2 * n]
        zr = sigmoid(gx[:, :2 * n] + gh)
        z, reset = zr[:, :n], zr[:, n:]
        if linear_before_reset:
            cand = tanh(gx[:, 2 * n:] + reset * (matmul(h, rt[:, 2 * n:]) + rb[2 * n:]))
        else:
            cand = tanh(gx[:, 2 * n:] + matmul(reset * h, rt[:, 2 * n:]) + rb[2 * n:])
        return cand + z * (h - cand), c
    pre = gx + matmul(h, rt) + rb
    if mode == "LSTM":
        gates = sigmoid(pre[:, :3 * n])
        c = gates[:, 2 * n:3 * n] * c + gates[:, :n] * tanh(pre[:, 3 * n:])
        return gates[:, n:2 * n] * tanh(c), c
    return (relu(pre) if mode == "RNN_RELU" else tanh(pre)), c

"""Elementwise, activation, logical and reduction converters."""

from __future__ import annotations

import numpy as np

import ember
from ember.onnx.converters.base import (
    Tensor,
    UnsupportedError,
    _axes,
    _channel,
    _const_like,
    _dtype,
    _no_attrs,
    _stashed,
    _tensor,
    _unary,
    converter,
)

# --- elementwise -------------------------------------------------------------------------------------------


def _legacy_broadcast(b: Tensor, a: Tensor, attrs: dict) -> Tensor:
    """Opset < 7 binary ops: ``broadcast=1`` with ``axis`` aligns b at that axis of a."""
    attrs.pop("broadcast", None)
    axis = attrs.pop("axis", None)
    if axis is None or b.ndim == a.ndim:
        return b
    axis %= a.ndim
    return b.reshape(tuple(b.shape) + (1,) * (a.ndim - axis - b.ndim))


@converter("Add", "Sub", "Mul")
def _arith(cx, a, b, **attrs):
    b = _legacy_broadcast(b, a, attrs)
    _no_attrs(cx.op_type, attrs, ("consumed_inputs",))
    return {"Add": ember.add, "Sub": ember.sub, "Mul": ember.mul}[cx.op_type](a, b)


@converter("Div")
def _div(cx, a, b, **attrs):
    b = _legacy_broadcast(b, a, attrs)
    if a.dtype.kind in "iu":  # ONNX's integer division truncates toward zero
        q = ember.floor_divide(a, b)
        inexact = (ember.remainder(a, b) != 0) & ((a < 0) ^ (b < 0))
        return ember.where(inexact, q + ember.tensor(np.array(1, q.dtype)), q)
    return ember.div(a, b)


@converter("Pow")
def _pow(cx, a, b, **attrs):
    b = _legacy_broadcast(b, a, attrs)
    return ember.cast(ember.power(a, b), a.dtype) if a.dtype.kind == "f" or b.dtype.kind != "f" else ember.cast(
        ember.power(ember.cast(a, b.dtype), b), a.dtype)


@converter("Mod")
def _mod(cx, a, b, fmod=0):
    r = ember.remainder(a, b)
    if not fmod:
        return r
    zero = ember.tensor(np.array(0, r.dtype))
    fix = (r != zero) & ((r < zero) ^ (a < zero))  # C's fmod takes the dividend's sign
    return ember.where(fix, r - b, r)


@converter("Max", "Min", "Sum", "Mean")
def _variadic(cx, *xs, **attrs):
    _no_attrs(cx.op_type, attrs, ("consumed_inputs",))
    fn = {"Max": ember.maximum, "Min": ember.minimum, "Sum": ember.add, "Mean": ember.add}[cx.op_type]
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    if cx.op_type == "Mean":
        out = out / ember.tensor(np.array(len(xs), out.dtype))
    return out if len(xs) > 1 else ember.clone(out)


_unary("Abs", ember.abs)
_unary("Neg", ember.neg)
_unary("Exp", ember.exp)
_unary("Log", ember.log)
_unary("Sqrt", ember.sqrt)
_unary("Sigmoid", ember.sigmoid)
_unary("Tanh", ember.tanh)
_unary("Relu", ember.relu)
_unary("Reciprocal", lambda x: _const_like(x, 1) / x)
_unary("Floor", ember.floor)
_unary("Ceil", ember.ceil)
_unary("Round", ember.round)  # halves to even, as ONNX's
_unary("Sign", lambda x: ember.where(ember.isnan(x), x, ember.sign(x)) if x.dtype.kind == "f"
       else ember.sign(x))  # NaN stays NaN, as onnxruntime (ember.sign gives PyTorch's 0)
_unary("Tan", ember.tan)
_unary("Softsign", lambda x: x / (_const_like(x, 1) + ember.abs(x)))
_unary("Softplus", ember.softplus)
_unary("Mish", ember.mish)
_unary("Identity", lambda x: x if isinstance(x, list) else ember.clone(x))


@converter("LeakyRelu")
def _leaky_relu(cx, x, alpha=0.01):
    return ember.leaky_relu(x, alpha)


@converter("Elu")
def _elu(cx, x, alpha=1.0, **attrs):
    return ember.elu(x, alpha)


@converter("Selu")
def _selu(cx, x, alpha=1.67326319217681884765625, gamma=1.05070102214813232421875, **attrs):
    return _const_like(x, gamma) * ember.where(x > _const_like(x, 0), x, _const_like(x, alpha) * (
        ember.exp(x) - _const_like(x, 1)))


@converter("Celu")
def _celu(cx, x, alpha=1.0):
    zero = _const_like(x, 0)
    return ember.maximum(x, zero) + ember.minimum(zero, _const_like(x, alpha) * (
        ember.exp(x / _const_like(x, alpha)) - _const_like(x, 1)))


@converter("ThresholdedRelu")
def _thresholded_relu(cx, x, alpha=1.0):
    return ember.where(x > _const_like(x, alpha), x, _const_like(x, 0))


@converter("HardSigmoid")
def _hard_sigmoid(cx, x, alpha=0.2, beta=0.5, **attrs):
    return ember.clip(x * _const_like(x, alpha) + _const_like(x, beta), 0.0, 1.0)


@converter("HardSwish")
def _hard_swish(cx, x):
    return x * _hard_sigmoid(cx, x, 1 / 6, 0.5)


@converter("Gelu")
def _gelu(cx, x, approximate="none"):
    return ember.gelu(x, approximate)


@converter("PRelu")
def _prelu(cx, x, slope, **attrs):
    # before opset 7: one slope per channel; from 7 a 1-D slope broadcasts against the last axis as NumPy's
    if cx.opset < 7 and slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] != 1:
        slope = slope.reshape((slope.shape[0],) + (1,) * (x.ndim - 2))
    zero = _const_like(x, 0)
    return ember.maximum(x, zero) + slope * ember.minimum(x, zero)


@converter("Shrink")
def _shrink(cx, x, bias=0.0, lambd=0.5):
    low, high = _const_like(x, -lambd), _const_like(x, lambd)
    shifted_up, shifted_down = x + _const_like(x, bias), x - _const_like(x, bias)
    return ember.where(x < low, shifted_up, ember.where(x > high, shifted_down, _const_like(x, 0)))


@converter("Clip", static=(1, 2))
def _clip(cx, x, low=None, high=None, min=None, max=None, **attrs):
    if low is not None:
        min = cx.static(low).item()
    if high is not None:
        max = cx.static(high).item()
    if min is None and max is None:
        return ember.clone(x)
    if min is not None and max is not None and min > max:  # ONNX (like NumPy) then gives max everywhere
        return ember.minimum(ember.maximum(x, _const_like(x, min)), _const_like(x, max))
    return ember.clip(x, min, max)


@converter("Where")
def _where(cx, cond, a, b):
    return ember.where(cond, a, b)


@converter("Cast")
def _cast(cx, x, to, saturate=1):
    return ember.cast(x, _dtype(to))


@converter("Dropout", static=(1, 2))
def _dropout(cx, x, ratio=None, training_mode=None, **attrs):
    if training_mode is not None and bool(cx.static(training_mode)):
        raise UnsupportedError("Dropout: training_mode=True is not supported (inference only)")
    out = ember.clone(x)
    if cx.outputs > 1:
        return out, _tensor(np.ones(x.shape, bool))
    return out


# --- more elementwise and normalization ops ----------------------------------------------------------------


def _logical(name: str, fn):
    @converter(name)
    def convert(cx, *xs):
        return fn(*xs)

    return convert


for _name, _fn in (("And", ember.bitwise_and), ("Or", ember.bitwise_or), ("Xor", ember.bitwise_xor),
                   ("Not", ember.invert), ("BitwiseAnd", ember.bitwise_and), ("BitwiseOr", ember.bitwise_or),
                   ("BitwiseXor", ember.bitwise_xor), ("BitwiseNot", ember.invert)):
    _logical(_name, _fn)
_unary("Sinh", lambda x: (ember.exp(x) - ember.exp(-x)) * _const_like(x, 0.5))
_unary("Cosh", lambda x: (ember.exp(x) + ember.exp(-x)) * _const_like(x, 0.5))
_unary("IsNaN", lambda x: x != x)


@converter("CastLike")
def _cast_like(cx, x, like, saturate=1):
    return ember.cast(x, like.dtype)


@converter("Swish")
def _swish(cx, x, alpha=1.0):
    return x * ember.sigmoid(x * _const_like(x, alpha))


@converter("IsInf")
def _is_inf(cx, x, detect_negative=1, detect_positive=1):
    inf = _const_like(x, np.inf)
    found = (x == inf) if detect_positive else None
    if detect_negative:
        found = (x == -inf) if found is None else found | (x == -inf)
    return found if found is not None else _tensor(np.zeros(x.shape, bool))


@converter("Trilu", static=(1,))
def _trilu(cx, x, k=None, upper=1):
    shift = 0 if k is None else int(cx.static(k).reshape(-1)[0])
    rows, cols = x.shape[-2:]
    keep = (np.triu if upper else np.tril)(np.ones((rows, cols), bool), shift)
    return ember.where(_tensor(keep), x, _const_like(x, 0))


@converter("Hardmax")
def _hardmax(cx, x, axis=None):
    if cx.opset < 13:  # before opset 13: one row per leading index, over the flattened trailing axes (from 1)
        axis = (1 if axis is None else axis) % max(x.ndim, 1)
        flat = x.reshape((int(np.prod(x.shape[:axis])), -1))
        return _hardmax_rows(flat, 1).reshape(tuple(x.shape))
    return _hardmax_rows(x, -1 if axis is None else axis)


def _hardmax_rows(x: Tensor, axis: int) -> Tensor:
    """1 at the first maximum along ``axis``, 0 elsewhere, in x's dtype."""
    axis %= x.ndim
    hot = ember.one_hot(ember.argmax(x, axis), x.shape[axis])
    return ember.cast(ember.moveaxis(hot, -1, axis), x.dtype)


@converter("LpNormalization")
def _lp_normalization(cx, x, axis=-1, p=2):
    dtype, x = x.dtype, _stashed(x)
    norm = ember.sum(ember.abs(x), axis, True) if p == 1 else ember.sqrt(ember.sum(x * x, axis, True))
    return ember.cast(ember.where(norm == _const_like(x, 0), _const_like(x, 0), x / norm), dtype)


@converter("SpaceToDepth")
def _space_to_depth(cx, x, blocksize, mode="DCR"):
    n, c, h, w = x.shape
    b = blocksize
    order = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
    y = x.reshape((n, c, h // b, b, w // b, b)).transpose(order)
    return y.reshape((n, c * b * b, h // b, w // b))


@converter("DepthToSpace")
def _depth_to_space(cx, x, blocksize, mode="DCR"):
    n, c, h, w = x.shape
    b = blocksize
    if mode == "DCR":
        y = x.reshape((n, b, b, c // (b * b), h, w)).transpose((0, 3, 4, 1, 5, 2))
    else:
        y = x.reshape((n, c // (b * b), b, b, h, w)).transpose((0, 1, 4, 2, 5, 3))
    return y.reshape((n, c // (b * b), h * b, w * b))


@converter("EyeLike")
def _eye_like(cx, x, dtype=None, k=0):
    out = np.eye(x.shape[0], x.shape[1], k, dtype=_dtype(dtype) if dtype is not None else x.dtype)
    return _tensor(out)


@converter("RMSNormalization")
def _rms_normalization(cx, x, scale, axis=-1, epsilon=1e-5, stash_type=1):
    axes, dtype, x = tuple(range(axis % x.ndim, x.ndim)), x.dtype, _stashed(x)
    return ember.cast(x / ember.sqrt(ember.mean(x * x, axes, True) + _const_like(x, epsilon)) * scale, dtype)


@converter("GroupNormalization")
def _group_normalization(cx, x, scale, bias, epsilon=1e-5, num_groups=1, stash_type=1):
    n, c = x.shape[:2]
    dtype, x = x.dtype, _stashed(x)
    grouped = x.reshape((n, num_groups, -1))
    mean = ember.mean(grouped, 2, True)
    centered = grouped - mean
    var = ember.mean(centered * centered, 2, True)
    y = (centered / ember.sqrt(var + _const_like(x, epsilon))).reshape(tuple(x.shape))
    if scale.shape[0] != c:  # opset 18: one scale per group
        scale, bias = (ember.repeat(t, c // num_groups, 0) for t in (scale, bias))
    return ember.cast(y * _channel(scale, x.ndim) + _channel(bias, x.ndim), dtype)


# --- reductions --------------------------------------------------------------------------------------------


def _reduce_axes(cx, x, attrs, axes_input):
    axes = _axes(cx, attrs, axes_input, x.ndim)
    keepdims = bool(attrs.pop("keepdims", 1))
    noop = attrs.pop("noop_with_empty_axes", 0)
    if axes is None or not axes:  # no axes (omitted or empty): all of them, or none with noop_with_empty_axes
        axes = [] if noop else None
    return (tuple(axes) if axes is not None else None), keepdims


_REDUCERS = {
    "ReduceSum": ember.sum, "ReduceMean": ember.mean, "ReduceMax": ember.max, "ReduceMin": ember.min,
    "ReduceProd": ember.prod, "ReduceLogSumExp": ember.logsumexp,
    "ReduceL1": lambda x, axis, keepdims: ember.sum(ember.abs(x), axis, keepdims),
    "ReduceL2": lambda x, axis, keepdims: ember.sqrt(ember.sum(_stashed(x) * _stashed(x), axis, keepdims)),
    "ReduceSumSquare": lambda x, axis, keepdims: ember.sum(x * x, axis, keepdims),
    "ReduceLogSum": lambda x, axis, keepdims: ember.log(ember.sum(x, axis, keepdims)),
}


@converter(*_REDUCERS, static=(1,))
def _reduce(cx, x, axes_input=None, **attrs):
    axes, keepdims = _reduce_axes(cx, x, attrs, axes_input)
    out = _REDUCERS[cx.op_type](x, axes, keepdims)
    return ember.cast(out, x.dtype) if out.dtype != x.dtype else out


@converter("BitShift")
def _bit_shift(cx, x, shift, direction):
    """ONNX's BitShift: unsigned integers (opset 11), signed ones too from opset 28 (a left shift wraps, a right
    shift keeps the sign). A shift below 0 or past the bit width gives 0 (-1 for a negative value shifted right),
    as the spec's reference."""
    if x.dtype.kind not in "iu" or shift.dtype != x.dtype or (x.dtype.kind == "i" and cx.opset < 28):
        raise UnsupportedError(f"BitShift: takes two tensors of one unsigned integer type (signed ones too from "
                               f"opset 28), got {x.dtype} and {shift.dtype} at opset {cx.opset}")
    if direction not in ("LEFT", "RIGHT"):
        raise UnsupportedError(f"BitShift: direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    bits = np.iinfo(x.dtype).bits
    valid = (shift >= _const_like(shift, 0)) & (shift < _const_like(shift, bits))
    safe = ember.where(valid, shift, ember.zeros_like(shift))
    shifted = (ember.bitwise_left_shift if direction == "LEFT" else ember.bitwise_right_shift)(x, safe)
    outside = ember.zeros_like(shifted)
    if direction == "RIGHT" and x.dtype.kind == "i":
        outside = ember.where(x < _const_like(x, 0), _const_like(x, -1), _const_like(x, 0))
    return ember.where(valid, shifted, outside)

"""ONNX -> Ember: one converter per ONNX op type, written with Ember's op functions.

A converter is ``fn(cx, *inputs, **attributes)``: ``inputs`` are Tensors (None for an omitted optional
input; Python lists for ONNX sequences), ``cx`` gives the opset, the node's output count and ``static``
(an input's value as a NumPy array: shapes, axes, pads, which Ember takes as attributes). ONNX ops that are a
plain registry op without attributes come from the op records themselves (``onnx`` names), see
``_from_registry``; this table holds the rest. ``STATIC`` lists the inputs each op reads as values.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import helper

import ember
from ember.autograd import apply
from ember.ops.registry import NO_ONNX, REGISTRY
from ember.tensor import Tensor


class UnsupportedError(NotImplementedError):
    """An ONNX op, attribute or dtype Ember's importer does not handle; the message names it."""


CONVERTERS: dict = {}
STATIC: dict[str, tuple] = {}  # op type -> indices of inputs read as values (frozen when traced)


def converter(*names: str, static: tuple = ()):
    def register(fn):
        for name in names:
            CONVERTERS[name] = fn
            if static:
                STATIC[name] = static
        return fn

    return register


def _from_registry() -> None:
    """ONNX ops that are one registry op with no attributes: read from the records' ``onnx`` field."""
    import inspect

    for op in REGISTRY.values():
        if op.onnx is NO_ONNX or op.onnx_export is not None or op.onnx in CONVERTERS:
            continue
        params = inspect.signature(op.forward).parameters.values()
        if any(p.kind is p.KEYWORD_ONLY for p in params):
            continue

        def convert(cx, *xs, _op=op, **attrs):
            _no_attrs(_op.onnx, attrs)
            return apply(_op, tuple(xs))

        CONVERTERS[op.onnx] = convert


def _no_attrs(name: str, attrs: dict, allowed=()) -> None:
    extra = [k for k in attrs if k not in allowed]
    if extra:
        raise UnsupportedError(f"{name}: attributes {extra} are not supported")


def _tensor(array) -> Tensor:
    return ember.tensor(np.asarray(array))


def _dtype(code: int) -> np.dtype:
    if code in (8, 16):  # string, bfloat16 as ONNX type codes
        raise UnsupportedError(f"tensor type {helper.tensor_dtype_to_string(code)} is not supported")
    return np.dtype(helper.tensor_dtype_to_np_dtype(code))


def _values(cx, value) -> np.ndarray:
    """An attribute's list (older opsets) or a static input's array (newer ones) as an array."""
    return np.asarray(value) if isinstance(value, (list, tuple)) else cx.static(value)


def _axes(cx, attrs: dict, axes_input, ndim: int | None = None):
    """Axes from the ``axes`` attribute (older opsets) or input (newer), normalized when ``ndim`` given."""
    axes = attrs.pop("axes", None)
    if axes_input is not None:
        axes = cx.static(axes_input).reshape(-1).tolist()
    if axes is None:
        return None
    axes = [int(a) for a in axes]
    return [a % ndim for a in axes] if ndim is not None else axes


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


def _unary(name: str, fn):
    @converter(name)
    def convert(cx, x, **attrs):
        _no_attrs(name, attrs, ("consumed_inputs",))
        return fn(x)

    return convert


def _const_like(x: Tensor, value) -> Tensor:
    return ember.tensor(np.array(value, x.dtype))


_unary("Abs", ember.abs)
_unary("Neg", ember.neg)
_unary("Exp", ember.exp)
_unary("Log", ember.log)
_unary("Sqrt", ember.sqrt)
_unary("Sigmoid", ember.sigmoid)
_unary("Tanh", ember.tanh)
_unary("Relu", ember.relu)
_unary("Reciprocal", lambda x: _const_like(x, 1) / x)
_unary("Floor", lambda x: ember.floor_divide(x, _const_like(x, 1)))
_unary("Ceil", lambda x: -ember.floor_divide(-x, _const_like(x, 1)))
_unary("Tan", lambda x: ember.sin(x) / ember.cos(x))
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
    if slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] != 1:  # opset < 7: one slope per channel
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


# --- constants and shapes ----------------------------------------------------------------------------------


@converter("Constant")
def _constant(cx, **attrs):
    from onnx import numpy_helper

    (key, value), = attrs.items()
    if key == "value":
        return _tensor(numpy_helper.to_array(value))
    if key == "sparse_value" or key.endswith("string") or key.endswith("strings"):
        raise UnsupportedError(f"Constant: {key} is not supported")
    dtype = np.float32 if key.startswith("value_float") else np.int64
    return _tensor(np.asarray(value, dtype))


@converter("ConstantOfShape", static=(0,))
def _constant_of_shape(cx, shape, value=None):
    from onnx import numpy_helper

    fill = numpy_helper.to_array(value) if value is not None else np.zeros(1, np.float32)
    return _tensor(np.full(tuple(cx.static(shape).astype(int).tolist()), fill.reshape(-1)[0], fill.dtype))


@converter("Shape")
def _shape(cx, x, start=0, end=None):
    shape = list(x.shape)
    if None in shape:
        raise UnsupportedError("Shape: the input has unknown dimensions")
    return _tensor(np.array(shape[start:end], np.int64))


@converter("Size")
def _size(cx, x):
    return _tensor(np.array(int(np.prod(x.shape)), np.int64))


@converter("Range", static=(0, 1, 2))
def _range(cx, start, limit, delta):
    s, lim, d = (cx.static(v) for v in (start, limit, delta))
    return _tensor(np.arange(s.item(), lim.item(), d.item()).astype(s.dtype))


@converter("Reshape", static=(1,))
def _reshape(cx, x, shape=None, allowzero=0, **attrs):
    target = _values(cx, shape).astype(int).tolist()  # an input, or the attribute before opset 5
    if not allowzero:
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return ember.reshape(x, tuple(target))


@converter("Flatten")
def _flatten(cx, x, axis=1):
    axis %= max(x.ndim, 1) if axis < 0 else x.ndim + 1
    lead = int(np.prod(x.shape[:axis]))
    return ember.reshape(x, (lead, int(np.prod(x.shape[axis:]))))


@converter("Transpose")
def _transpose(cx, x, perm=None):
    return ember.transpose(x, tuple(perm) if perm is not None else None)


@converter("Squeeze", static=(1,))
def _squeeze(cx, x, axes_input=None, **attrs):
    axes = _axes(cx, attrs, axes_input, x.ndim)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    return ember.reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


@converter("Unsqueeze", static=(1,))
def _unsqueeze(cx, x, axes_input=None, **attrs):
    rank = x.ndim + len(_axes(cx, dict(attrs), axes_input))
    axes = sorted(_axes(cx, attrs, axes_input, rank))
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return ember.reshape(x, tuple(shape))


@converter("Expand", static=(1,))
def _expand(cx, x, shape):
    return ember.broadcast_to(x, np.broadcast_shapes(tuple(x.shape), tuple(cx.static(shape).astype(int).tolist())))


@converter("Concat")
def _concat(cx, *xs, axis=None):
    return ember.concat(list(xs), axis=1 if axis is None else axis)


@converter("Split", static=(1,))
def _split(cx, x, split=None, axis=0, num_outputs=None, **attrs):
    sizes = None if split is None else _values(cx, split).astype(int).reshape(-1).tolist()
    n = x.shape[axis]
    if sizes is None:
        parts = cx.outputs
        step = -(-n // parts)
        sizes = [min(step, n - i * step) for i in range(parts)]
    return tuple(_split_sizes(x, sizes, axis))


def _split_sizes(x: Tensor, sizes, axis: int) -> list:
    axis %= x.ndim
    out, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        out.append(x[index])
        start += size
    return out


@converter("Slice", static=(1, 2, 3, 4))
def _slice(cx, x, starts=None, ends=None, axes=None, steps=None, **attrs):
    starts, ends = _values(cx, starts).tolist(), _values(cx, ends).tolist()  # inputs, or attributes before 10
    axes = _values(cx, axes).tolist() if axes is not None else None
    steps = _values(cx, steps).tolist() if steps is not None else None
    axes = list(range(len(starts))) if axes is None else [a % x.ndim for a in axes]
    steps = steps or [1] * len(starts)
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[axis] = _onnx_slice(int(start), int(end), int(step), x.shape[axis])
    return x[tuple(index)]


def _onnx_slice(start: int, end: int, step: int, dim: int) -> slice:
    """ONNX's clamping rules as a Python slice (they differ from Python's for negative steps)."""
    if start < 0:
        start += dim
    if end < 0:
        end += dim
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return slice(start, end, step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, end if end >= 0 else None, step)


@converter("Pad", static=(1, 2, 3))
def _pad(cx, x, pads=None, constant_value=None, axes=None, mode="constant", **attrs):
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise UnsupportedError(f"Pad: mode {mode!r} is not supported")
    value = attrs.pop("value", 0.0)
    pads = _values(cx, pads if pads is not None else attrs.pop("paddings")).astype(int).tolist()
    if constant_value is not None:
        value = cx.static(constant_value).item()
    axes = list(range(x.ndim)) if axes is None else [a % x.ndim for a in cx.static(axes).tolist()]
    k = len(axes)
    width = [[0, 0] for _ in range(x.ndim)]
    for i, a in enumerate(axes):
        width[a] = [pads[i], pads[i + k]]
    crop = tuple(slice(-b if b < 0 else None, e if e < 0 else None) for b, e in width)
    if any(b < 0 or e < 0 for b, e in width):
        x = x[crop]
    width = [(max(b, 0), max(e, 0)) for b, e in width]
    if not any(b or e for b, e in width):
        return ember.clone(x)
    if mode == "constant":
        return ember.pad(x, tuple(width), value)
    for axis, (b, e) in enumerate(width):  # reflect / edge: concatenate mirrored or repeated slices
        if not (b or e):
            continue
        lead = (slice(None),) * axis
        if mode == "reflect":
            left, right = x[lead + (slice(b, 0, -1),)], x[lead + (slice(-2, -2 - e, -1),)]
        elif mode == "wrap":
            left, right = x[lead + (slice(x.shape[axis] - b, None),)], x[lead + (slice(0, e),)]
        else:
            reps = [1] * x.ndim
            left = ember.tile(x[lead + (slice(0, 1),)], tuple(reps[:axis] + [b] + reps[axis + 1:]))
            right = ember.tile(x[lead + (slice(-1, None),)], tuple(reps[:axis] + [e] + reps[axis + 1:]))
        x = ember.concat([t for t, n in ((left, b), (x, 1), (right, e)) if n], axis=axis)
    return x


@converter("Tile", static=(1,))
def _tile(cx, x, repeats, **attrs):
    return ember.tile(x, tuple(cx.static(repeats).astype(int).tolist()))


# --- indexing ----------------------------------------------------------------------------------------------


@converter("Gather")
def _gather(cx, x, indices, axis=0):
    axis %= x.ndim
    if indices.dtype.kind in "iu":
        n = x.shape[axis]
        indices = ember.where(indices < 0, indices + ember.tensor(np.array(n, indices.dtype)), indices)
    return ember.take(x, indices, axis=axis)


@converter("GatherElements")
def _gather_elements(cx, x, index, axis=0):
    n = x.shape[axis]
    index = ember.where(index < 0, index + ember.tensor(np.array(n, index.dtype)), index)
    return ember.gather(x, axis % x.ndim, index)


@converter("ScatterElements", "Scatter")
def _scatter_elements(cx, x, index, updates, axis=0, reduction="none"):
    axis %= x.ndim
    n = x.shape[axis]
    index = ember.where(index < 0, index + ember.tensor(np.array(n, index.dtype)), index)
    if reduction == "add":
        return ember.scatter_add(x, axis, index, updates)
    if reduction != "none":
        raise UnsupportedError(f"ScatterElements: reduction {reduction!r} is not supported")
    zeros = ember.zeros_like(x)
    hit = ember.scatter_add(zeros, axis, index, ember.ones_like(updates)) > _const_like(x, 0)
    return ember.where(hit, ember.scatter_add(zeros, axis, index, updates), x)


@converter("OneHot", static=(1, 2))
def _one_hot(cx, indices, depth, values, axis=-1):
    n = int(cx.static(depth).reshape(-1)[0])
    off, on = cx.static(values).reshape(-1)[:2]
    indices = ember.cast(indices, np.int64)
    indices = ember.where(indices < 0, indices + ember.tensor(np.array(n, np.int64)), indices)
    hot = ember.one_hot(indices, n)  # class axis last
    out_axis = axis % (indices.ndim + 1)
    if out_axis != indices.ndim:
        hot = ember.moveaxis(hot, -1, out_axis)
    hot = ember.cast(hot, values.dtype if isinstance(values, Tensor) else off.dtype)
    return hot * ember.tensor(np.array(on - off, hot.dtype)) + ember.tensor(np.array(off, hot.dtype))


@converter("ArgMax", "ArgMin")
def _arg(cx, x, axis=0, keepdims=1, select_last_index=0):
    fn = ember.argmax if cx.op_type == "ArgMax" else ember.argmin
    axis %= x.ndim
    if select_last_index:
        n = x.shape[axis]
        flipped = x[(slice(None),) * axis + (slice(None, None, -1),)]
        return ember.tensor(np.array(n - 1, np.int64)) - fn(flipped, axis, bool(keepdims))
    return fn(x, axis, bool(keepdims))


# --- reductions --------------------------------------------------------------------------------------------


def _reduce_axes(cx, x, attrs, axes_input):
    axes = _axes(cx, attrs, axes_input, x.ndim)
    keepdims = bool(attrs.pop("keepdims", 1))
    noop = attrs.pop("noop_with_empty_axes", 0)
    if axes is not None and not axes:
        axes = None if not noop else []
    return (tuple(axes) if axes is not None else None), keepdims


_REDUCERS = {
    "ReduceSum": ember.sum, "ReduceMean": ember.mean, "ReduceMax": ember.max, "ReduceMin": ember.min,
    "ReduceProd": ember.prod, "ReduceLogSumExp": ember.logsumexp,
    "ReduceL1": lambda x, axis, keepdims: ember.sum(ember.abs(x), axis, keepdims),
    "ReduceL2": lambda x, axis, keepdims: ember.sqrt(ember.sum(x * x, axis, keepdims)),
    "ReduceSumSquare": lambda x, axis, keepdims: ember.sum(x * x, axis, keepdims),
    "ReduceLogSum": lambda x, axis, keepdims: ember.log(ember.sum(x, axis, keepdims)),
}


@converter(*_REDUCERS, static=(1,))
def _reduce(cx, x, axes_input=None, **attrs):
    axes, keepdims = _reduce_axes(cx, x, attrs, axes_input)
    if axes == ():
        return ember.clone(x)
    out = _REDUCERS[cx.op_type](x, axes, keepdims)
    return ember.cast(out, x.dtype) if out.dtype != x.dtype else out


# --- networks ----------------------------------------------------------------------------------------------


@converter("MatMul")
def _matmul(cx, a, b):
    return ember.matmul(a, b)


@converter("Gemm")
def _gemm(cx, a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=None):
    a = a.T if transA else a
    b = b.T if transB else b
    y = ember.matmul(a, b)
    if alpha != 1.0:
        y = y * _const_like(y, alpha)
    if c is not None:
        y = y + (c * _const_like(c, beta) if beta != 1.0 else c)
    return y


def _same_pads(auto_pad: str, sizes, kernel, strides, dilations) -> list:
    """Begin and end pads of ``SAME_UPPER`` / ``SAME_LOWER``: the output keeps ceil(size / stride)."""
    begins, ends = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilations):
        total = max((math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)
        small, big = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else big)
        ends.append(big if auto_pad == "SAME_UPPER" else small)
    return begins + ends


def _window(cx, x, attrs, kernel) -> tuple:
    """(strides, dilations, begin pads, end pads) of a conv or pool node."""
    k = len(kernel)
    strides = list(attrs.pop("strides", None) or [1] * k)
    dilations = list(attrs.pop("dilations", None) or [1] * k)
    pads = attrs.pop("pads", None) or [0] * (2 * k)
    auto_pad = attrs.pop("auto_pad", "NOTSET")
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(auto_pad, x.shape[2:], kernel, strides, dilations)
    elif auto_pad == "VALID":
        pads = [0] * (2 * k)
    return strides, dilations, list(pads[:k]), list(pads[k:])


def _pad_spatial(x: Tensor, begins, ends, value=0.0) -> Tensor:
    return ember.pad(x, ((0, 0), (0, 0)) + tuple(zip(begins, ends)), value)


def _as_2d(x: Tensor, *more):
    """1-D spatial ops run as 2-D ones with a height of one."""
    return x.reshape(tuple(x.shape[:2]) + (1, x.shape[2])), [m.reshape(tuple(m.shape[:2]) + (1, m.shape[2]))
                                                             if m is not None else None for m in more]


@converter("Conv")
def _conv(cx, x, w, bias=None, group=1, kernel_shape=None, **attrs):
    kernel = list(kernel_shape or w.shape[2:])
    strides, dilations, begins, ends = _window(cx, x, attrs, kernel)
    if len(kernel) not in (1, 2, 3):
        raise UnsupportedError(f"Conv: {len(kernel)}-D convolution is not supported (1-D to 3-D are)")
    if len(kernel) == 3 or begins != ends:
        x, begins = _pad_spatial(x, begins, ends), [0] * len(kernel)
    if len(kernel) == 3:
        return _depth_loop(x, kernel[0], strides[0], dilations[0], lambda t, k: ember.conv2d(
            t, w[:, :, k], None, tuple(strides[1:]), 0, tuple(dilations[1:]), group), bias, "sum")
    one_d = len(kernel) == 1
    if one_d:
        x, (w,) = _as_2d(x, w)
        strides, dilations, begins = [1] + strides, [1] + dilations, [0] + begins
    y = ember.conv2d(x, w, bias, tuple(strides), tuple(begins), tuple(dilations), group)
    return y.reshape(tuple(y.shape[:2]) + (y.shape[3],)) if one_d else y


@converter("ConvTranspose")
def _conv_transpose(cx, x, w, bias=None, group=1, kernel_shape=None, output_padding=None, output_shape=None,
                    **attrs):
    kernel = list(kernel_shape or w.shape[2:])
    k = len(kernel)
    if k not in (1, 2):
        raise UnsupportedError(f"ConvTranspose: {k}-D is not supported (1-D and 2-D are)")
    auto_pad = attrs.get("auto_pad", "NOTSET")
    strides, dilations, begins, ends = _window(cx, x, dict(attrs, auto_pad="NOTSET"), kernel)
    extra = list(output_padding or [0] * k)
    full = [(n - 1) * s + (kk - 1) * d + 1 + e for n, s, kk, d, e in zip(x.shape[2:], strides, kernel, dilations,
                                                                         extra)]
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        wanted = list(output_shape)[-k:] if output_shape is not None else [n * s for n, s in zip(x.shape[2:],
                                                                                                strides)]
        total = [f - o for f, o in zip(full, wanted)]
        upper = auto_pad == "SAME_UPPER"
        begins = [t // 2 if upper else t - t // 2 for t in total]
        ends = [t - b for t, b in zip(total, begins)]
    one_d = k == 1
    if one_d:
        x, (w,) = _as_2d(x, w)
        strides, dilations, extra = [1] + strides, [1] + dilations, [0] + extra
    y = ember.conv_transpose2d(x, w, None, tuple(strides), 0, tuple(extra), group, tuple(dilations))
    spatial = y.shape[2:] if not one_d else y.shape[3:]
    crop = tuple(slice(max(b, 0), n - max(e, 0)) for b, e, n in zip(begins, ends, spatial))
    y = y[(slice(None), slice(None)) + ((0,) if one_d else ()) + crop]
    if any(b < 0 or e < 0 for b, e in zip(begins, ends)):  # an output_shape past the full size: zeros
        y = _pad_spatial(y, [-min(b, 0) for b in begins], [-min(e, 0) for e in ends])
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * k)
    return y


@converter("MaxPool")
def _max_pool(cx, x, kernel_shape, ceil_mode=0, storage_order=0, **attrs):
    if cx.outputs > 1:
        raise UnsupportedError("MaxPool: the Indices output is not supported")
    strides, dilations, begins, ends = _window(cx, x, attrs, kernel_shape)
    if len(kernel_shape) not in (1, 2, 3):
        raise UnsupportedError(f"MaxPool: {len(kernel_shape)}-D pooling is not supported (1-D to 3-D are)")
    if begins != ends or len(kernel_shape) == 3 or any(2 * p > k for p, k in zip(begins, kernel_shape)):
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        x, begins = _pad_spatial(x, begins, ends, fill), [0] * len(kernel_shape)
    if len(kernel_shape) == 3:
        if ceil_mode:
            raise UnsupportedError("MaxPool: ceil_mode for 3-D pooling is not supported")
        return _depth_loop(x, kernel_shape[0], strides[0], dilations[0], lambda t, k: ember.max_pool2d(
            t, tuple(kernel_shape[1:]), tuple(strides[1:]), 0, tuple(dilations[1:])), None, "max")
    if len(kernel_shape) == 1:
        return ember.max_pool1d(x, kernel_shape[0], strides[0], begins[0], dilations[0], bool(ceil_mode))
    return ember.max_pool2d(x, tuple(kernel_shape), tuple(strides), tuple(begins), tuple(dilations), bool(ceil_mode))


@converter("AveragePool")
def _avg_pool(cx, x, kernel_shape, ceil_mode=0, count_include_pad=0, **attrs):
    strides, dilations, begins, ends = _window(cx, x, attrs, kernel_shape)
    k = len(kernel_shape)
    if k not in (1, 2, 3) or any(d != 1 for d in dilations):
        raise UnsupportedError("AveragePool: only 1-D to 3-D pooling without dilation is supported")
    if k == 3:
        if ceil_mode or (any(begins + ends) and not count_include_pad):
            raise UnsupportedError("AveragePool: 3-D pooling supports neither ceil_mode nor excluded padding")
        x = _pad_spatial(x, begins, ends)
        total = _depth_loop(x, kernel_shape[0], strides[0], 1, lambda t, i: ember.avg_pool2d(
            t, tuple(kernel_shape[1:]), tuple(strides[1:])), None, "sum")
        return total / _const_like(total, kernel_shape[0])
    pool = ember.avg_pool1d if k == 1 else ember.avg_pool2d
    args = (kernel_shape[0], strides[0]) if k == 1 else (tuple(kernel_shape), tuple(strides))

    def run(t, pads, include):
        return pool(t, *args, pads[0] if k == 1 else tuple(pads), bool(ceil_mode), include)

    if begins == ends and all(2 * p <= kk for p, kk in zip(begins, kernel_shape)):
        return run(x, begins, bool(count_include_pad))
    padded = _pad_spatial(x, begins, ends)
    if count_include_pad:
        return run(padded, [0] * k, True)
    counts = run(_pad_spatial(ember.ones_like(x), begins, ends), [0] * k, True)
    return run(padded, [0] * k, True) / counts


@converter("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(cx, x):
    axes = tuple(range(2, x.ndim))
    return (ember.mean if cx.op_type == "GlobalAveragePool" else ember.max)(x, axes, True)


def _depth_loop(x: Tensor, kd: int, stride: int, dilation: int, plane, bias, combine: str) -> Tensor:
    """A 3-D window op on (N, C, D, H, W) as 2-D ones: output depth d combines ``plane(x[:, :, d * stride +
    k * dilation], k)`` over the kd taps k (summed or maxed); no depth padding (the caller pads)."""
    depth = (x.shape[2] - (kd - 1) * dilation - 1) // stride + 1
    planes = []
    for d in range(depth):
        out = None
        for k in range(kd):
            y = plane(x[:, :, d * stride + k * dilation], k)
            out = y if out is None else (out + y if combine == "sum" else ember.maximum(out, y))
        planes.append(out)
    y = ember.stack(planes, axis=2)
    return y if bias is None else y + bias.reshape((1, -1, 1, 1, 1))


def _channel(t: Tensor, ndim: int) -> Tensor:
    return t.reshape((1, -1) + (1,) * (ndim - 2))


@converter("BatchNormalization")
def _batch_norm(cx, x, scale, bias, mean, var, epsilon=1e-5, momentum=0.9, spatial=1, is_test=None,
                training_mode=0, consumed_inputs=None):
    if training_mode:
        raise UnsupportedError("BatchNormalization: training_mode=1 is not supported (inference only)")
    if cx.outputs > 1 and is_test is None and cx.opset < 7:
        raise UnsupportedError("BatchNormalization: training outputs are not supported")
    inv = _channel(scale, x.ndim) / ember.sqrt(_channel(var, x.ndim) + _const_like(var, epsilon))
    return (x - _channel(mean, x.ndim)) * inv + _channel(bias, x.ndim)


@converter("InstanceNormalization")
def _instance_norm(cx, x, scale, bias, epsilon=1e-5):
    axes = tuple(range(2, x.ndim))
    mean = ember.mean(x, axes, True)
    centered = x - mean
    var = ember.mean(centered * centered, axes, True)
    return centered / ember.sqrt(var + _const_like(x, epsilon)) * _channel(scale, x.ndim) + _channel(bias, x.ndim)


@converter("LayerNormalization")
def _layer_norm(cx, x, scale, bias=None, axis=-1, epsilon=1e-5, stash_type=1):
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = ember.mean(x, axes, True)
    centered = x - mean
    inv = _const_like(x, 1) / ember.sqrt(ember.mean(centered * centered, axes, True) + _const_like(x, epsilon))
    y = centered * inv * scale
    if bias is not None:
        y = y + bias
    return (y, mean, inv)[:cx.outputs] if cx.outputs > 1 else y


@converter("LRN")
def _lrn(cx, x, size, alpha=1e-4, beta=0.75, bias=1.0):
    square = x * x
    low, high = (size - 1) // 2, size - 1 - (size - 1) // 2
    padded = ember.pad(square, ((0, 0), (low, high)) + ((0, 0),) * (x.ndim - 2))
    c = x.shape[1]
    total = padded[:, 0:c]
    for i in range(1, size):
        total = total + padded[:, i:i + c]
    return x / ember.power(total * _const_like(x, alpha / size) + _const_like(x, bias), _const_like(x, beta))


@converter("Softmax", "LogSoftmax")
def _softmax(cx, x, axis=None):
    fn = ember.softmax if cx.op_type == "Softmax" else ember.log_softmax
    if cx.opset >= 13:
        return fn(x, -1 if axis is None else axis)
    axis = (1 if axis is None else axis) % max(x.ndim, 1)  # before opset 13: over the flattened trailing axes
    flat = x.reshape((int(np.prod(x.shape[:axis])), -1))
    return fn(flat, 1).reshape(tuple(x.shape))


@converter("CumSum", static=(1,))
def _cumsum(cx, x, axis, exclusive=0, reverse=0):
    """A product with a triangular matrix of ones along ``axis`` (Ember has no scan op)."""
    axis = int(cx.static(axis).reshape(-1)[0]) % x.ndim
    n = x.shape[axis]
    j, k = np.arange(n)[:, None], np.arange(n)[None, :]
    keep = (j >= k if reverse else j <= k) if not exclusive else (j > k if reverse else j < k)
    moved = ember.moveaxis(x, axis, -1)
    out = ember.matmul(moved, _tensor(keep.astype(x.dtype)))
    return ember.moveaxis(out, -1, axis)


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
def _hardmax(cx, x, axis=-1):
    axis %= x.ndim
    hot = ember.one_hot(ember.argmax(x, axis), x.shape[axis])
    return ember.cast(ember.moveaxis(hot, -1, axis), x.dtype)


@converter("LpNormalization")
def _lp_normalization(cx, x, axis=-1, p=2):
    norm = ember.sum(ember.abs(x), axis, True) if p == 1 else ember.sqrt(ember.sum(x * x, axis, True))
    return ember.where(norm == _const_like(x, 0), _const_like(x, 0), x / norm)


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
    axes = tuple(range(axis % x.ndim, x.ndim))
    return x / ember.sqrt(ember.mean(x * x, axes, True) + _const_like(x, epsilon)) * scale


@converter("GroupNormalization")
def _group_normalization(cx, x, scale, bias, epsilon=1e-5, num_groups=1, stash_type=1):
    n, c = x.shape[:2]
    grouped = x.reshape((n, num_groups, -1))
    mean = ember.mean(grouped, 2, True)
    centered = grouped - mean
    var = ember.mean(centered * centered, 2, True)
    y = (centered / ember.sqrt(var + _const_like(x, epsilon))).reshape(tuple(x.shape))
    if scale.shape[0] != c:  # opset 18: one scale per group
        scale, bias = (ember.repeat(t, c // num_groups, 0) for t in (scale, bias))
    return y * _channel(scale, x.ndim) + _channel(bias, x.ndim)


# --- recurrent layers (ONNX's RNN, GRU and LSTM ops), unrolled over the sequence -----------------------------


def _activation(name: str, alpha, beta):
    name = name.lower()
    table = {
        "sigmoid": ember.sigmoid, "tanh": ember.tanh, "relu": ember.relu, "softsign": lambda x: x / (
            _const_like(x, 1) + ember.abs(x)), "softplus": ember.softplus,
        "leakyrelu": lambda x: ember.leaky_relu(x, 0.01 if alpha is None else alpha),
        "elu": lambda x: ember.elu(x, 1.0 if alpha is None else alpha),
        "hardsigmoid": lambda x: ember.clip(x * _const_like(x, 0.2 if alpha is None else alpha)
                                            + _const_like(x, 0.5 if beta is None else beta), 0.0, 1.0),
        "affine": lambda x: x * _const_like(x, alpha) + _const_like(x, beta),
        "scaledtanh": lambda x: ember.tanh(x * _const_like(x, beta)) * _const_like(x, alpha),
    }
    if name not in table:
        raise UnsupportedError(f"recurrent activation {name!r} is not supported")
    return table[name]


_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


@converter("RNN", "GRU", "LSTM", static=(4,))
def _recurrent(cx, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, hidden_size=None,
               activations=None, activation_alpha=None, activation_beta=None, clip=None, direction="forward",
               layout=0, linear_before_reset=0, input_forget=0):
    kind = cx.op_type
    if clip is not None or input_forget:
        raise UnsupportedError(f"{kind}: clip and input_forget are not supported")
    if layout:
        x = ember.swapaxes(x, 0, 1)
    steps, batch = x.shape[0], x.shape[1]
    if sequence_lens is not None and not np.all(cx.static(sequence_lens) == steps):
        raise UnsupportedError(f"{kind}: sequences of different lengths (sequence_lens) are not supported")
    hidden = hidden_size or r.shape[-1]
    directions = 2 if direction == "bidirectional" else 1
    per_direction = len(_DEFAULT_ACTIVATIONS[kind])
    names = activations or _DEFAULT_ACTIVATIONS[kind] * directions
    alphas = list(activation_alpha or [])
    betas = list(activation_beta or [])
    ys, hs, cs = [], [], []
    for d in range(directions):
        reverse = direction == "reverse" or d == 1
        acts = [_activation(names[d * per_direction + i] if len(names) > per_direction else names[i],
                            alphas.pop(0) if alphas else None, betas.pop(0) if betas else None)
                for i in range(per_direction)]
        n = _GATES[kind]
        bias = b[d] if b is not None else None
        wb = bias[:n * hidden] if bias is not None else None
        rb = bias[n * hidden:] if bias is not None else None
        h = initial_h[d] if initial_h is not None else ember.tensor(np.zeros((batch, hidden), x.dtype))
        c = initial_c[d] if initial_c is not None else ember.tensor(np.zeros((batch, hidden), x.dtype))
        peep = p[d] if p is not None else None
        xw = ember.matmul(x, ember.transpose(w[d]))  # (steps, batch, n * hidden) for every step at once
        if wb is not None:
            xw = xw + wb
        outs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            h, c = _cell(kind, acts, xw[t], h, c, r[d], rb, peep, hidden, linear_before_reset)
            outs[t] = h
        ys.append(ember.stack(outs, 0))
        hs.append(h)
        cs.append(c)
    y = ember.stack(ys, 1)  # (steps, directions, batch, hidden)
    y_h, y_c = ember.stack(hs, 0), ember.stack(cs, 0)
    if layout:
        y, y_h, y_c = ember.transpose(y, (2, 0, 1, 3)), ember.swapaxes(y_h, 0, 1), ember.swapaxes(y_c, 0, 1)
    return (y, y_h, y_c)[:cx.outputs] if cx.outputs > 1 else y


def _cell(kind, acts, xw, h, c, r, rb, peep, hidden, linear_before_reset):
    """One step of an ONNX recurrent cell; ``xw`` is the input's product with W plus W's bias."""
    def gate(t, i):
        return t[:, i * hidden:(i + 1) * hidden]

    if kind == "RNN":
        hr = ember.matmul(h, ember.transpose(r)) + (rb if rb is not None else 0.0)
        return acts[0](xw + hr), c
    if kind == "GRU":
        f, g = acts
        rbs = [gate(rb.reshape((1, -1)), i) for i in range(3)] if rb is not None else [None] * 3
        hz = ember.matmul(h, ember.transpose(r[:2 * hidden]))
        z = f(gate(xw, 0) + gate(hz, 0) + (rbs[0] if rbs[0] is not None else 0.0))
        reset = f(gate(xw, 1) + gate(hz, 1) + (rbs[1] if rbs[1] is not None else 0.0))
        rh = ember.transpose(r[2 * hidden:])
        if linear_before_reset:
            inner = ember.matmul(h, rh) + (rbs[2] if rbs[2] is not None else 0.0)
            candidate = g(gate(xw, 2) + reset * inner)
        else:
            candidate = g(gate(xw, 2) + ember.matmul(reset * h, rh) + (rbs[2] if rbs[2] is not None else 0.0))
        return (_const_like(z, 1) - z) * candidate + z * h, c
    f, g, out_act = acts
    total = xw + ember.matmul(h, ember.transpose(r)) + (rb if rb is not None else 0.0)
    i_pre, o_pre, f_pre, c_pre = (gate(total, k) for k in range(4))
    if peep is not None:
        i_pre = i_pre + peep[:hidden] * c
        f_pre = f_pre + peep[2 * hidden:] * c
    c_new = f(f_pre) * c + f(i_pre) * g(c_pre)
    if peep is not None:
        o_pre = o_pre + peep[hidden:2 * hidden] * c_new
    return f(o_pre) * out_act(c_new), c_new


# --- losses ---------------------------------------------------------------------------------------------------


@converter("NegativeLogLikelihoodLoss")
def _nll_loss(cx, x, target, weight=None, ignore_index=None, reduction="mean"):
    target = ember.cast(target, np.int64)
    valid = None
    if ignore_index is not None:
        valid = target != ember.tensor(np.array(ignore_index, np.int64))
        target = ember.where(valid, target, ember.zeros_like(target))
    picked = ember.gather(x, 1, ember.unsqueeze(target, 1)).reshape(tuple(target.shape))
    loss = -picked
    w = None
    if weight is not None:
        w = ember.take(weight, target, axis=0)
    if valid is not None:
        mask = ember.cast(valid, x.dtype)
        w = mask if w is None else w * mask
    if w is not None:
        loss = loss * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return ember.sum(loss)
    return ember.sum(loss) / ember.sum(w) if w is not None else ember.mean(loss)


@converter("SoftmaxCrossEntropyLoss")
def _softmax_cross_entropy_loss(cx, scores, labels, weights=None, ignore_index=None, reduction="mean"):
    log_prob = ember.log_softmax(scores, 1)
    loss = _nll_loss(cx, log_prob, labels, weights, ignore_index, reduction)
    return (loss, log_prob) if cx.outputs > 1 else loss


# --- strings: NumPy arrays of str (Ember computes on numbers; string ops run on the host) -----------------


@converter("StringNormalizer")
def _string_normalizer(cx, x, case_change_action="NONE", is_case_sensitive=0, locale=None, stopwords=None):
    change = {"LOWER": str.lower, "UPPER": str.upper, "NONE": lambda w: w}.get(case_change_action)
    if change is None:
        raise UnsupportedError(f"StringNormalizer: unknown case_change_action {case_change_action!r}")
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.ndim == 2 and x.shape[0] != 1:
        raise UnsupportedError(f"StringNormalizer: input of shape {list(x.shape)}; expected [C] or [1, C]")
    stops = set(stopwords or ())
    if not is_case_sensitive:
        stops = {w.lower() for w in stops}
    kept = []
    for word in x.reshape(-1).tolist():
        if (word if is_case_sensitive else word.lower()) in stops:
            continue
        kept.append(change(word))
    kept = kept or [""]
    out = np.array(kept, dtype=object)
    return out.reshape(1, -1) if x.ndim == 2 else out


# --- sequences: Python lists of Tensors --------------------------------------------------------------------


@converter("SequenceConstruct")
def _sequence_construct(cx, *xs):
    return list(xs)


@converter("SequenceEmpty")
def _sequence_empty(cx, dtype=None):
    return []


def _position(cx, seq: list, position, default: int) -> int:
    p = default if position is None else int(cx.static(position).reshape(-1)[0])
    return p + len(seq) if p < 0 else p


@converter("SequenceAt", static=(1,))
def _sequence_at(cx, seq, position):
    return seq[_position(cx, seq, position, 0)]


@converter("SequenceInsert", static=(2,))
def _sequence_insert(cx, seq, tensor, position=None):
    seq = list(seq)
    seq.insert(_position(cx, seq, position, len(seq)), tensor)
    return seq


@converter("SequenceErase", static=(1,))
def _sequence_erase(cx, seq, position=None):
    seq = list(seq)
    del seq[_position(cx, seq, position, -1)]
    return seq


@converter("SequenceLength")
def _sequence_length(cx, seq):
    return _tensor(np.array(len(seq), np.int64))


@converter("SplitToSequence", static=(1,))
def _split_to_sequence(cx, x, split=None, axis=0, keepdims=1):
    axis %= x.ndim
    n = x.shape[axis]
    if split is None:
        parts = [x[(slice(None),) * axis + (i,)] for i in range(n)]
        return parts if not keepdims else [p.reshape(tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:]))
                                           for p in parts]
    sizes = cx.static(split).astype(int).reshape(-1).tolist()
    if len(sizes) == 1:
        size = sizes[0]
        sizes = [min(size, n - i) for i in range(0, n, size)]
    return _split_sizes(x, sizes, axis)


@converter("ConcatFromSequence")
def _concat_from_sequence(cx, seq, axis, new_axis=0):
    if new_axis:
        return ember.stack(list(seq), axis=axis)
    return ember.concat(list(seq), axis=axis)


_from_registry()

"""Matrix products, convolution, pooling, normalization, recurrent layers and losses."""

from __future__ import annotations

import math

import numpy as np

import ember
from ember.backend.dtypes import LOW_PRECISION
from ember.onnx.converters.base import (
    Tensor,
    UnsupportedError,
    _channel,
    _const_like,
    _dtype,
    _no_attrs,
    _stashed,
    _tensor,
    converter,
)
from ember.ops.recurrent import recurrent

# --- networks ----------------------------------------------------------------------------------------------


@converter("MatMul")
def _matmul(cx, a, b):
    return ember.matmul(a, b)


@converter("Einsum")
def _einsum(cx, *xs, equation):
    return ember.einsum(equation, *xs)


@converter("Gemm")
def _gemm(cx, a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=None):
    if a.dtype in LOW_PRECISION:  # product, scaling and sum in float32, rounded once (onnxruntime, PyTorch's addmm)
        wide = [None if t is None else _stashed(t) for t in (a, b, c)]
        return ember.cast(_gemm(cx, *wide, alpha=alpha, beta=beta, transA=transA, transB=transB), a.dtype)
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


def _drop_windows_in_end_pads(y: Tensor, sizes, kernel, strides, dilations, begins, ends) -> Tensor:
    """A ceil_mode pool run on explicitly padded input: drop the last window where it starts in the end padding,
    as the spec, onnxruntime and PyTorch ignore it (pads [1, 2], kernel 3, stride 2 on 9: 5 windows, not 6)."""
    keep = []
    for n, k, s, d, b, e in zip(sizes, kernel, strides, dilations, begins, ends):
        count = -(-(n + b + e - (k - 1) * d - 1) // s) + 1
        keep.append(count - 1 if (count - 1) * s >= n + b else count)
    if all(c == m for c, m in zip(keep, y.shape[2:])):
        return y
    return y[(slice(None), slice(None)) + tuple(slice(0, c) for c in keep)]


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
    if begins != ends:
        x, begins = _pad_spatial(x, begins, ends), [0] * len(kernel)
    if len(kernel) == 3:
        return ember.conv3d(x, w, bias, tuple(strides), tuple(begins), tuple(dilations), group)
    one_d = len(kernel) == 1
    if one_d:
        x, (w,) = _as_2d(x, w)
        strides, dilations, begins = [1] + strides, [1] + dilations, [0] + begins
    y = ember.conv2d(x, w, bias, tuple(strides), tuple(begins), tuple(dilations), group)
    return y.reshape(tuple(y.shape[:2]) + (y.shape[3],)) if one_d else y


@converter("ConvTranspose")
def _conv_transpose(cx, x, w, bias=None, group=1, kernel_shape=None, output_padding=None, output_shape=None,
                    **attrs):
    if x.dtype in LOW_PRECISION:  # the bias added to the float32 sums, rounded once (onnxruntime, PyTorch)
        wide = [None if t is None else _stashed(t) for t in (x, w, bias)]
        return ember.cast(_conv_transpose(cx, *wide, group, kernel_shape, output_padding, output_shape, **attrs),
                          x.dtype)
    kernel = list(kernel_shape or w.shape[2:])
    k = len(kernel)
    if k not in (1, 2, 3):
        raise UnsupportedError(f"ConvTranspose: {k}-D is not supported (1-D to 3-D are)")
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
    transposed = ember.conv_transpose3d if k == 3 else ember.conv_transpose2d
    y = transposed(x, w, None, tuple(strides), 0, tuple(extra), group, tuple(dilations))
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
    strides, dilations, begins, ends = _window(cx, x, attrs, kernel_shape)
    if len(kernel_shape) not in (1, 2, 3):
        raise UnsupportedError(f"MaxPool: {len(kernel_shape)}-D pooling is not supported (1-D to 3-D are)")
    if cx.outputs > 1:
        return _max_pool_indices(x, kernel_shape, ceil_mode, storage_order, strides, dilations, begins, ends)
    if begins != ends or any(2 * p > k for p, k in zip(begins, kernel_shape)):
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        sizes, padded = x.shape[2:], _pad_spatial(x, begins, ends, fill)
        y = _max_pool(cx, padded, kernel_shape, ceil_mode, strides=strides, dilations=dilations)
        return _drop_windows_in_end_pads(y, sizes, kernel_shape, strides, dilations, begins, ends) if ceil_mode else y
    if len(kernel_shape) == 3:
        return ember.max_pool3d(x, tuple(kernel_shape), tuple(strides), tuple(begins), tuple(dilations),
                                ceil_mode=bool(ceil_mode))
    if len(kernel_shape) == 1:
        return ember.max_pool1d(x, kernel_shape[0], strides[0], begins[0], dilations[0], bool(ceil_mode))
    return ember.max_pool2d(x, tuple(kernel_shape), tuple(strides), tuple(begins), tuple(dilations), bool(ceil_mode))


def _window_sums(x: Tensor, kernel, strides, dilations, begins, ends, ceil_mode: int, fill: float = 0.0) -> Tensor:
    """The sum of each (dilated) pooling window of x, pads read as ``fill``, any number of spatial axes: one strided
    slice per kernel offset. With ``ceil_mode`` a last partial window counts (its part past the end pad reads 0),
    unless it starts in the end padding."""
    counts, extra = [], []
    for n, k, s, d, b, e in zip(x.shape[2:], kernel, strides, dilations, begins, ends):
        span, total = (k - 1) * d + 1, n + b + e
        count = (-(-(total - span) // s) if ceil_mode else (total - span) // s) + 1
        if ceil_mode and (count - 1) * s >= n + b:
            count -= 1
        if count < 1:
            raise ValueError(f"pooling: a window of {span} (kernel {k}, dilation {d}) does not fit the {n} elements "
                             f"padded by ({b}, {e})")
        counts.append(count)
        extra.append(max((count - 1) * s + span - total, 0))
    padded = _pad_spatial(x, begins, ends, fill) if any(begins) or any(ends) else x
    if any(extra):
        padded = _pad_spatial(padded, [0] * len(extra), extra)
    total = None
    for offsets in np.ndindex(*kernel):
        index = tuple(slice(o * d, o * d + (c - 1) * s + 1, s)
                      for o, d, c, s in zip(offsets, dilations, counts, strides))
        part = padded[(slice(None), slice(None)) + index]
        total = part if total is None else total + part
    return total


def _dilated_avg_pool(x: Tensor, kernel, strides, dilations, begins, ends, ceil_mode, count_include_pad) -> Tensor:
    """Average pooling with dilations (opset 19): window sums over the count of the elements they read (pads
    included with ``count_include_pad``, never the part past the end pad a ceil_mode window reaches)."""
    sums = _window_sums(x, kernel, strides, dilations, begins, ends, ceil_mode)
    ones = ember.ones_like(x[:1, :1])
    counts = _window_sums(ones, kernel, strides, dilations, begins, ends, ceil_mode,
                          1.0 if count_include_pad else 0.0)
    return sums / counts


@converter("LpPool")
def _lp_pool(cx, x, kernel_shape, p=2, ceil_mode=0, **attrs):
    """(sum over each window of |x| ** p) ** (1 / p); pads read as zeros."""
    strides, dilations, begins, ends = _window(cx, x, attrs, kernel_shape)
    _no_attrs("LpPool", attrs)
    power = _const_like(x, p)
    sums = _window_sums(ember.power(ember.abs(x), power), kernel_shape, strides, dilations, begins, ends, ceil_mode)
    return ember.power(sums, _const_like(x, 1.0 / p))


@converter("GlobalLpPool")
def _global_lp_pool(cx, x, p=2):
    axes = tuple(range(2, x.ndim))
    sums = ember.sum(ember.power(ember.abs(x), _const_like(x, p)), axis=axes, keepdims=True)
    return ember.power(sums, _const_like(x, 1.0 / p))


def _max_pool_indices(x: Tensor, kernel, ceil_mode, storage_order, strides, dilations, begins, ends) -> tuple:
    """(Y, Indices): each maximum's position flattened over the whole N x C x spatial input, spatial axes in
    row-major order (``storage_order=1``: column-major), as onnxruntime."""
    if storage_order not in (0, 1):
        raise UnsupportedError(f"MaxPool: storage_order must be 0 or 1, got {storage_order}")
    k = len(kernel)
    sizes = list(x.shape[2:])
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    padded = _pad_spatial(x, begins, ends, fill) if any(begins) or any(ends) else x
    pool = {1: ember.max_pool1d, 2: ember.max_pool2d, 3: ember.max_pool3d}[k]
    args = (kernel[0], strides[0], 0, dilations[0]) if k == 1 else (tuple(kernel), tuple(strides), 0,
                                                                   tuple(dilations))
    y, where = pool(padded, *args, ceil_mode=bool(ceil_mode), return_indices=True)
    if ceil_mode:
        y = _drop_windows_in_end_pads(y, sizes, kernel, strides, dilations, begins, ends)
        where = _drop_windows_in_end_pads(where, sizes, kernel, strides, dilations, begins, ends)
    # the padded input's flat spatial position -> coordinates in x -> x's flat position in the wanted order
    coords, rest = [], ember.cast(where, np.int64)
    for n in reversed(padded.shape[2:]):
        coords.insert(0, ember.remainder(rest, _tensor(np.array(n, np.int64))))
        rest = ember.floor_divide(rest, _tensor(np.array(n, np.int64)))
    coords = [c - _tensor(np.array(b, np.int64)) for c, b in zip(coords, begins)]
    axes = list(range(k))[::-1] if storage_order else list(range(k))
    flat = None
    for a in axes:
        flat = coords[a] if flat is None else flat * _tensor(np.array(sizes[a], np.int64)) + coords[a]
    n, c = x.shape[0], x.shape[1]
    plane = np.arange(n * c, dtype=np.int64).reshape((n, c) + (1,) * k) * int(np.prod(sizes))
    return y, flat + _tensor(plane)


@converter("AveragePool")
def _avg_pool(cx, x, kernel_shape, ceil_mode=0, count_include_pad=0, **attrs):
    strides, dilations, begins, ends = _window(cx, x, attrs, kernel_shape)
    k = len(kernel_shape)
    if any(d != 1 for d in dilations) or k not in (1, 2, 3):
        return _dilated_avg_pool(x, kernel_shape, strides, dilations, begins, ends, ceil_mode, count_include_pad)
    pool = {1: ember.avg_pool1d, 2: ember.avg_pool2d, 3: ember.avg_pool3d}[k]
    args = (kernel_shape[0], strides[0]) if k == 1 else (tuple(kernel_shape), tuple(strides))

    def run(t, pads, include):
        return pool(t, *args, pads[0] if k == 1 else tuple(pads), bool(ceil_mode), include)

    if begins == ends and all(2 * p <= kk for p, kk in zip(begins, kernel_shape)):
        return run(x, begins, bool(count_include_pad))
    padded = _pad_spatial(x, begins, ends)
    if count_include_pad:
        y = run(padded, [0] * k, True)
    else:
        y = run(padded, [0] * k, True) / run(_pad_spatial(ember.ones_like(x), begins, ends), [0] * k, True)
    return _drop_windows_in_end_pads(y, x.shape[2:], kernel_shape, strides, dilations, begins, ends) if ceil_mode else y


@converter("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(cx, x):
    axes = tuple(range(2, x.ndim))
    return (ember.mean if cx.op_type == "GlobalAveragePool" else ember.max)(x, axis=axes, keepdims=True)


@converter("BatchNormalization")
def _batch_norm(cx, x, scale, bias, mean, var, epsilon=1e-5, momentum=0.9, spatial=1, is_test=None,
                training_mode=0, consumed_inputs=None):
    if training_mode:
        raise UnsupportedError("BatchNormalization: training_mode=1 is not supported (inference only)")
    if cx.outputs > 1 and is_test is None and cx.opset < 7:
        raise UnsupportedError("BatchNormalization: training outputs are not supported")
    dtype = x.dtype  # float16 / bfloat16 computed in float32 and rounded once, as onnxruntime and PyTorch
    x, scale, bias, mean, var = (_stashed(t) for t in (x, scale, bias, mean, var))
    inv = _channel(scale, x.ndim) / ember.sqrt(_channel(var, x.ndim) + _const_like(var, epsilon))
    y = (x - _channel(mean, x.ndim)) * inv + _channel(bias, x.ndim)
    return ember.cast(y, dtype) if y.dtype != dtype else y


@converter("InstanceNormalization")
def _instance_norm(cx, x, scale, bias, epsilon=1e-5):
    axes, dtype, x = tuple(range(2, x.ndim)), x.dtype, _stashed(x)
    mean = ember.mean(x, axes, True)
    centered = x - mean
    var = ember.mean(centered * centered, axes, True)
    y = centered / ember.sqrt(var + _const_like(x, epsilon)) * _channel(scale, x.ndim) + _channel(bias, x.ndim)
    return ember.cast(y, dtype)


@converter("LayerNormalization")
def _layer_norm(cx, x, scale, bias=None, axis=-1, epsilon=1e-5, stash_type=1):
    axes = tuple(range(axis % x.ndim, x.ndim))
    trailing = tuple(x.shape[axis % x.ndim:])
    if cx.outputs == 1 and None not in trailing and tuple(scale.shape) == trailing \
            and (bias is None or tuple(bias.shape) == trailing):  # Ember's own op: one node
        return ember.layer_norm(x, trailing, scale, bias, epsilon)
    dtype, x = x.dtype, _stashed(x)  # Mean and InvStdDev stay in the stash type (float32)
    mean = ember.mean(x, axes, True)
    centered = x - mean
    inv = _const_like(x, 1) / ember.sqrt(ember.mean(centered * centered, axes, True) + _const_like(x, epsilon))
    y = centered * inv * scale
    if bias is not None:
        y = y + bias
    y = ember.cast(y, dtype)
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
        # (Affine and ScaledTanh have no defaults in ONNX: a missing value is 0, as onnxruntime reads it)
        "affine": lambda x: x * _const_like(x, alpha or 0.0) + _const_like(x, beta or 0.0),
        "scaledtanh": lambda x: ember.tanh(x * _const_like(x, beta or 0.0)) * _const_like(x, alpha or 0.0),
    }
    if name not in table:
        raise UnsupportedError(f"recurrent activation {name!r} is not supported")
    return table[name]


_TAKES_ALPHA = ("leakyrelu", "elu", "hardsigmoid", "affine", "scaledtanh")
_TAKES_BETA = ("hardsigmoid", "affine", "scaledtanh")


def _activations(names: list, alphas: list, betas: list) -> list:
    """The activation functions ``names``, each taking the next of ``alphas`` (``betas``) only if it has an alpha
    (a beta), its default when they have run out: the order onnxruntime reads them in."""
    alphas, betas = list(alphas), list(betas)
    made = []
    for name in names:
        low = name.lower()
        alpha = alphas.pop(0) if low in _TAKES_ALPHA and alphas else None
        beta = betas.pop(0) if low in _TAKES_BETA and betas else None
        made.append(_activation(name, alpha, beta))
    return made


_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_DEFAULT_ACTIVATIONS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}


@converter("RNN", "GRU", "LSTM", static=(4,))
def _recurrent(cx, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, hidden_size=None,
               activations=None, activation_alpha=None, activation_beta=None, clip=None, direction="forward",
               layout=0, linear_before_reset=0, input_forget=0):
    kind = cx.op_type
    if input_forget and kind != "LSTM":
        raise UnsupportedError(f"{kind}: input_forget is LSTM's attribute")
    mode = None if clip is not None or input_forget else _fused_mode(kind, activations, direction, p, sequence_lens)
    if mode is not None:
        return _fused(cx, mode, x, w, r, b, initial_h, initial_c, direction, layout, linear_before_reset)
    if layout:  # batch first: (N, L, I), states (N, D, H)
        x = ember.swapaxes(x, 0, 1)
        initial_h, initial_c = (None if s is None else ember.swapaxes(s, 0, 1) for s in (initial_h, initial_c))
    steps, batch = x.shape[0], x.shape[1]
    masks = _step_masks(kind, cx.static(sequence_lens), steps, batch) if sequence_lens is not None else None
    bound = None if clip is None else (_const_like(x, -clip), _const_like(x, clip))
    hidden = hidden_size or r.shape[-1]
    directions = 2 if direction == "bidirectional" else 1
    per_direction = len(_DEFAULT_ACTIVATIONS[kind])
    names = list(activations or _DEFAULT_ACTIVATIONS[kind] * directions)
    if len(names) == per_direction:  # one list for both directions
        names = names * directions
    every = _activations(names, activation_alpha or [], activation_beta or [])
    ys, hs, cs = [], [], []
    for d in range(directions):
        reverse = direction == "reverse" or d == 1
        acts = every[d * per_direction : (d + 1) * per_direction]
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
        zero = ember.zeros_like(h) if masks is not None else None
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            h_new, c_new = _cell(kind, acts, xw[t], h, c, r[d], rb, peep, hidden, linear_before_reset, bound,
                                 input_forget)
            if masks is None:
                h, c = h_new, c_new
                outs[t] = h
            else:  # a sequence past its length keeps its state (the final one: at its length) and outputs zeros
                h, c = ember.where(masks[t], h_new, h), ember.where(masks[t], c_new, c)
                outs[t] = ember.where(masks[t], h_new, zero)
        ys.append(ember.stack(outs, 0))
        hs.append(h)
        cs.append(c)
    y = ember.stack(ys, 1)  # (steps, directions, batch, hidden)
    y_h, y_c = ember.stack(hs, 0), ember.stack(cs, 0)
    if layout:
        y, y_h, y_c = ember.transpose(y, (2, 0, 1, 3)), ember.swapaxes(y_h, 0, 1), ember.swapaxes(y_c, 0, 1)
    return (y, y_h, y_c)[:cx.outputs] if cx.outputs > 1 else y


def _fused_mode(kind: str, activations, direction: str, p, sequence_lens) -> str | None:
    """The ``recurrent`` op's mode for a node it computes (PyTorch's activations, no peepholes, every sequence
    whole), else None (the node is unrolled step by step)."""
    if p is not None or sequence_lens is not None:
        return None
    default = [a.lower() for a in _DEFAULT_ACTIVATIONS[kind]]
    names = [a.lower() for a in activations or default]
    if kind == "RNN" and len(set(names)) == 1 and names[0] in ("tanh", "relu"):
        return "RNN_TANH" if names[0] == "tanh" else "RNN_RELU"
    return kind if kind != "RNN" and names in (default, default * 2) else None


def _fused(cx, mode, x, w, r, b, initial_h, initial_c, direction, layout, linear_before_reset):
    """The node as one ``recurrent`` op (which needs neither the batch size nor the sequence length)."""
    if layout:  # batch first: (N, L, I), states (N, D, H)
        x = ember.swapaxes(x, 0, 1)
        initial_h, initial_c = (None if s is None else ember.swapaxes(s, 0, 1) for s in (initial_h, initial_c))
    if b is None:
        b = _tensor(np.zeros((w.shape[0], 2 * w.shape[1]), x.dtype))
    if mode == "LSTM" and (initial_h is None) != (initial_c is None):
        initial_h, initial_c = (ember.zeros_like(initial_c) if initial_h is None else initial_h,
                                ember.zeros_like(initial_h) if initial_c is None else initial_c)
    packed = recurrent(x, w, r, b, initial_h, initial_c if mode == "LSTM" else None, mode=mode,
                       direction=direction, linear_before_reset=linear_before_reset)
    finals = 2 if mode == "LSTM" else 1
    y, y_h, y_c = packed[:-finals], packed[-finals], packed[-1] if finals == 2 else None
    if layout:
        y, y_h = ember.transpose(y, (2, 0, 1, 3)), ember.swapaxes(y_h, 0, 1)
        y_c = None if y_c is None else ember.swapaxes(y_c, 0, 1)
    return (y, y_h, y_c)[:cx.outputs] if cx.outputs > 1 else y


def _step_masks(kind: str, lengths: np.ndarray, steps: int, batch: int) -> list | None:
    """Per step, which sequences of the batch it is within (None when every sequence is whole)."""
    lengths = np.asarray(lengths).reshape(-1).astype(np.int64)
    if lengths.shape[0] != batch or lengths.min(initial=1) < 1 or lengths.max(initial=0) > steps:
        raise ValueError(f"{kind}: sequence_lens {lengths.tolist()} must hold one length in [1, {steps}] for each of "
                         f"the {batch} sequences")
    if np.all(lengths == steps):
        return None
    return [_tensor((t < lengths).reshape(batch, 1)) for t in range(steps)]


def _cell(kind, acts, xw, h, c, r, rb, peep, hidden, linear_before_reset, bound=None, input_forget=0):
    """One step of an ONNX recurrent cell; ``xw`` is the input's product with W plus W's bias. ``bound``: the
    (-clip, clip) each gate's input is clipped to before its activation (peepholes included), as onnxruntime."""
    def gate(t, i):
        return t[:, i * hidden:(i + 1) * hidden]

    def clipped(t):
        return t if bound is None else ember.minimum(ember.maximum(t, bound[0]), bound[1])

    if kind == "RNN":
        hr = ember.matmul(h, ember.transpose(r)) + (rb if rb is not None else 0.0)
        return acts[0](clipped(xw + hr)), c
    if kind == "GRU":
        f, g = acts
        rbs = [gate(rb.reshape((1, -1)), i) for i in range(3)] if rb is not None else [None] * 3
        hz = ember.matmul(h, ember.transpose(r[:2 * hidden]))
        z = f(clipped(gate(xw, 0) + gate(hz, 0) + (rbs[0] if rbs[0] is not None else 0.0)))
        reset = f(clipped(gate(xw, 1) + gate(hz, 1) + (rbs[1] if rbs[1] is not None else 0.0)))
        rh = ember.transpose(r[2 * hidden:])
        if linear_before_reset:
            inner = ember.matmul(h, rh) + (rbs[2] if rbs[2] is not None else 0.0)
            candidate = g(clipped(gate(xw, 2) + reset * inner))
        else:
            candidate = g(clipped(gate(xw, 2) + ember.matmul(reset * h, rh)
                                  + (rbs[2] if rbs[2] is not None else 0.0)))
        return (_const_like(z, 1) - z) * candidate + z * h, c
    f, g, out_act = acts
    total = xw + ember.matmul(h, ember.transpose(r)) + (rb if rb is not None else 0.0)
    i_pre, o_pre, f_pre, c_pre = (gate(total, k) for k in range(4))
    if peep is not None:
        i_pre = i_pre + peep[:hidden] * c
        f_pre = f_pre + peep[2 * hidden:] * c
    i_gate = f(clipped(i_pre))
    f_gate = _const_like(i_gate, 1) - i_gate if input_forget else f(clipped(f_pre))  # coupled input and forget
    c_new = f_gate * c + i_gate * g(clipped(c_pre))
    if peep is not None:
        o_pre = o_pre + peep[hidden:2 * hidden] * c_new
    return f(clipped(o_pre)) * out_act(c_new), c_new


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


# --- attention (opset 23 and later) -----------------------------------------------------------------------


def _static_bias(sq: int, skv: int, causal: bool, offset, left: int, right: int, dtype) -> np.ndarray:
    """0 / -inf of the causal and sliding-window rules; ``offset``: an int or one per batch row."""
    i = np.arange(sq).reshape(sq, 1)
    j = np.arange(skv).reshape(1, skv)
    offset = np.asarray(offset).reshape(-1, 1, 1, 1) if np.ndim(offset) else int(offset)
    allowed = np.ones(np.broadcast_shapes(np.shape(offset), (sq, skv)), bool)
    if causal:
        allowed &= j <= i + offset
    diff = i + offset - j
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    return np.where(allowed, 0, -np.inf).astype(dtype)


@converter("Attention", static=(6,))
def _attention(cx, q, k, v, attn_mask=None, past_key=None, past_value=None, nonpad_kv_seqlen=None, is_causal=0,
               kv_num_heads=None, q_num_heads=None, qk_matmul_output_mode=0, scale=None, softcap=0.0,
               softmax_precision=None, left_window_size=-1, right_window_size=-1):
    three_d = q.ndim == 3
    if three_d:
        def heads(t, n):
            return ember.transpose(t.reshape((t.shape[0], t.shape[1], n, t.shape[2] // n)), (0, 2, 1, 3))

        q, k, v = heads(q, q_num_heads), heads(k, kv_num_heads), heads(v, kv_num_heads)
    dtype = q.dtype
    if scale is None:
        scale = 1 / math.sqrt(q.shape[3])
    root = _const_like(q, math.sqrt(scale))
    present_key = ember.concat([past_key, k], axis=2) if past_key is not None else k
    present_value = ember.concat([past_value, v], axis=2) if past_value is not None else v
    sq, skv = q.shape[2], present_key.shape[2]
    bias = None
    if attn_mask is not None:
        if attn_mask.shape[-1] < skv:
            fill = False if attn_mask.dtype == np.bool_ else -np.inf
            width = ((0, 0),) * (attn_mask.ndim - 1) + ((0, skv - attn_mask.shape[-1]),)
            attn_mask = ember.pad(attn_mask, width, fill)
        if attn_mask.dtype == np.bool_:
            attn_mask = ember.where(attn_mask, _const_like(q, 0), _const_like(q, -np.inf))
        bias = attn_mask
    lengths = cx.static(nonpad_kv_seqlen).reshape(-1) if nonpad_kv_seqlen is not None else None
    offset = past_key.shape[2] if past_key is not None else (lengths - sq if lengths is not None else 0)
    if is_causal or left_window_size >= 0 or right_window_size >= 0:
        rule = _tensor(_static_bias(sq, skv, bool(is_causal), offset, left_window_size, right_window_size, dtype))
        bias = rule if bias is None else bias + rule
    if lengths is not None:
        pad = np.where(np.arange(skv) < lengths[:, None], 0, -np.inf).astype(dtype).reshape(-1, 1, 1, skv)
        bias = _tensor(pad) if bias is None else bias + _tensor(pad)
    heads_q, heads_kv = q.shape[1], present_key.shape[1]
    keys, values = present_key, present_value
    if heads_q != heads_kv:  # grouped-query attention: each key/value head serves several query heads
        keys, values = (ember.repeat(t, heads_q // heads_kv, 1) for t in (keys, values))
    qk = ember.matmul(q * root, ember.swapaxes(keys, -1, -2) * root)
    if softcap and softcap > 0:
        qk = ember.tanh(qk / _const_like(qk, softcap)) * _const_like(qk, softcap)
    scores = qk if bias is None else qk + bias
    qk_out = scores if qk_matmul_output_mode == 2 else qk
    work = scores if softmax_precision is None else ember.cast(scores, _dtype(softmax_precision))
    top = ember.max(work, axis=-1, keepdims=True)
    top = ember.where(top == _const_like(top, -np.inf), _const_like(top, 0), top)
    e = ember.exp(work - top)
    total = ember.sum(e, -1, True)
    probs = e / ember.where(total == _const_like(total, 0), _const_like(total, 1), total)
    if bias is not None:
        masked = ember.max(bias, axis=-1, keepdims=True) == _const_like(bias, -np.inf)
        probs = ember.where(masked, _const_like(probs, 0), probs)
    probs = ember.cast(probs, dtype) if probs.dtype != dtype else probs
    if qk_matmul_output_mode == 3:
        qk_out = probs
    y = ember.matmul(probs, values)
    if three_d:
        y = ember.transpose(y, (0, 2, 1, 3))
        y = y.reshape((y.shape[0], y.shape[1], -1))
    outs = (y, present_key, present_value, ember.cast(qk_out, dtype) if qk_out.dtype != dtype else qk_out)
    return outs[:cx.outputs] if cx.outputs > 1 else y

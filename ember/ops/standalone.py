"""NumPy-only forwards for standalone inference code: the ``standalone`` field of the op records.

``ember export --standalone`` copies the source of these functions (and of the helpers each lists in
``NEEDS``) into a generated module that imports NumPy alone. Each takes arrays and the node's attributes,
like the op's forward without ``xp``, and computes the same numbers (the same formulas, in the same order
where the order matters for rounding). Nothing here may use Ember: only ``np``.
"""

from __future__ import annotations

import numpy as np

from ember.ops import registry
from ember.ops.special_kernels import erf, erf_single, erfcx_middle  # noqa: F401  (op_erf's helpers, copied into standalone code)

NEEDS: dict = {}  # kernel name -> names of the helper functions its source needs


def _kernel(op_name: str, *helpers):
    def attach(fn):
        registry.REGISTRY[op_name].standalone = fn
        NEEDS[fn.__name__] = helpers
        return fn

    return attach


def _expression(op_name: str, params: str, expression: str):
    """A one-line kernel ``op_<name>(params): return expression``, made from its source text."""
    source = f"def op_{op_name}({params}):\n    return {expression}\n"
    namespace: dict = {}
    exec(source, {"np": np}, namespace)
    fn = namespace[f"op_{op_name}"]
    fn.__source__ = source
    return _kernel(op_name)(fn)


# --- helpers -------------------------------------------------------------------------------------------------


def pool_out_size(size, kernel, stride, padding, dilation, ceil_mode):
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def padded_windows(x, kernel_size, stride, padding, dilation, ceil_mode, value):
    """x padded (with ceil mode's extra far rows), and the strided slice each kernel tap meets, in row-major order;
    any number of spatial axes."""
    out, extra = [], []
    for a in range(x.ndim - 2):
        size = x.shape[2 + a]
        o = pool_out_size(size, kernel_size[a], stride[a], padding[a], dilation[a], ceil_mode)
        reach = (o - 1) * stride[a] + dilation[a] * (kernel_size[a] - 1) + 1
        out.append(o)
        extra.append(max(0, reach - size - 2 * padding[a]))
    spatial = x.shape[2:]
    full = np.full(x.shape[:2] + tuple(s + 2 * p + e for s, p, e in zip(spatial, padding, extra)), value, x.dtype)
    full[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, spatial))] = x
    slices = []
    for taps in np.ndindex(*kernel_size):
        slices.append((slice(None), slice(None)) + tuple(
            slice(t * d, t * d + s * (o - 1) + 1, s) for t, s, d, o in zip(taps, stride, dilation, out)))
    return full, slices, out


# --- convolution and pooling ------------------------------------------------------------------------------


@_kernel("conv2d")
def op_conv2d(x, w, bias=None, *, stride, padding, dilation, groups):
    n, c, h, width = x.shape
    o, _, kh, kw = w.shape
    ph, pw = padding
    out_h = (h + 2 * ph - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (width + 2 * pw - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    xt = np.zeros((c, h + 2 * ph, width + 2 * pw, n), x.dtype)  # batch last, as Ember's kernel
    xt[:, ph:ph + h, pw:pw + width] = x.transpose(1, 2, 3, 0)
    sc, sh, sw, sn = xt.strides
    view = np.lib.stride_tricks.as_strided(
        xt, (c, kh, kw, out_h, out_w, n),
        (sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1], sn))
    cols = view.reshape(c * kh * kw, out_h * out_w * n)
    y = np.matmul(w.reshape(groups, o // groups, -1), cols.reshape(groups, -1, cols.shape[1]))
    y = np.ascontiguousarray(y.reshape(o, out_h, out_w, n).transpose(3, 0, 1, 2))
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)


@_kernel("conv_transpose2d")
def op_conv_transpose2d(x, w, *, stride, padding, dilation, groups, output_padding):
    n, c_in, in_h, in_w = x.shape
    _, c_out_group, kh, kw = w.shape
    out_h = (in_h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    out_w = (in_w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    xt = x.transpose(1, 2, 3, 0).reshape(groups, c_in // groups, -1)
    cols = np.matmul(w.reshape(groups, c_in // groups, -1).transpose(0, 2, 1), xt)
    c = c_out_group * groups
    cols = cols.reshape(c, kh, kw, in_h, in_w, n)
    ph, pw = padding
    full = np.zeros((c, out_h + 2 * ph, out_w + 2 * pw, n), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation[0], j * dilation[1]
            full[:, top:top + stride[0] * (in_h - 1) + 1:stride[0],
                 left:left + stride[1] * (in_w - 1) + 1:stride[1]] += cols[:, i, j]
    return np.ascontiguousarray(full[:, ph:ph + out_h, pw:pw + out_w].transpose(3, 0, 1, 2))


@_kernel("max_pool3d", "pool_out_size", "padded_windows")
@_kernel("max_pool2d", "pool_out_size", "padded_windows")
def op_max_pool(x, *, kernel_size, stride, padding, dilation, ceil_mode):
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    full, slices, _ = padded_windows(x, kernel_size, stride, padding, dilation, ceil_mode, lowest)
    out = full[slices[0]].copy()
    for index in slices[1:]:
        np.maximum(out, full[index], out=out)
    return out


@_kernel("avg_pool3d", "pool_out_size", "padded_windows")
@_kernel("avg_pool2d", "pool_out_size", "padded_windows")
def op_avg_pool(x, *, kernel_size, stride, padding, ceil_mode, count_include_pad):
    full, slices, out_size = padded_windows(x, kernel_size, stride, padding, (1,) * (x.ndim - 2), ceil_mode, 0)
    divisor = np.ones((), dtype=np.int64)
    for a in range(x.ndim - 2):
        start = np.arange(out_size[a]) * stride[a] - padding[a]
        end = np.minimum(start + kernel_size[a], x.shape[2 + a] + padding[a])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, x.shape[2 + a])
        divisor = np.multiply.outer(divisor, end - start)
    out = full[slices[0]].copy()
    for index in slices[1:]:
        np.add(out, full[index], out=out)
    out /= divisor.astype(x.dtype)
    return out


@_kernel("conv3d")
def op_conv3d(x, w, bias=None, *, stride, padding, dilation, groups):
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    o, kernel = w.shape[0], w.shape[2:]
    out = tuple((s + 2 * p - d * (k - 1) - 1) // t + 1
                for s, k, t, p, d in zip(spatial, kernel, stride, padding, dilation))
    xt = np.zeros((c,) + tuple(s + 2 * p for s, p in zip(spatial, padding)) + (n,), x.dtype)  # batch last
    xt[(slice(None),) + tuple(slice(p, p + s) for p, s in zip(padding, spatial))] = x.transpose(1, 2, 3, 4, 0)
    axes = xt.strides[1:-1]
    view = np.lib.stride_tricks.as_strided(
        xt, (c,) + tuple(kernel) + out + (n,),
        (xt.strides[0],) + tuple(s * d for s, d in zip(axes, dilation)) + tuple(s * t for s, t in zip(axes, stride))
        + (xt.strides[-1],))
    cols = np.ascontiguousarray(view).reshape(c * int(np.prod(kernel)), -1)
    y = np.matmul(w.reshape(groups, o // groups, -1), cols.reshape(groups, -1, cols.shape[1]))
    y = np.ascontiguousarray(y.reshape((o,) + out + (n,)).transpose(4, 0, 1, 2, 3))
    return y if bias is None else y + bias.reshape(1, -1, 1, 1, 1)


@_kernel("conv_transpose3d")
def op_conv_transpose3d(x, w, *, stride, padding, dilation, groups, output_padding):
    n, c_in, in_size = x.shape[0], x.shape[1], x.shape[2:]
    kernel = w.shape[2:]
    out = tuple((s - 1) * t - 2 * p + d * (k - 1) + e + 1
                for s, k, t, p, d, e in zip(in_size, kernel, stride, padding, dilation, output_padding))
    xt = x.transpose(1, 2, 3, 4, 0).reshape(groups, c_in // groups, -1)
    cols = np.matmul(w.reshape(groups, c_in // groups, -1).transpose(0, 2, 1), xt)
    c = w.shape[1] * groups
    cols = cols.reshape((c,) + tuple(kernel) + tuple(in_size) + (n,))
    full = np.zeros((c,) + tuple(s + 2 * p for s, p in zip(out, padding)) + (n,), cols.dtype)
    for taps in np.ndindex(*kernel):
        index = tuple(slice(t * d, t * d + s * (m - 1) + 1, s) for t, d, s, m in zip(taps, dilation, stride, in_size))
        full[(slice(None),) + index] += cols[(slice(None),) + taps]
    full = full[(slice(None),) + tuple(slice(p, p + s) for p, s in zip(padding, out))]
    return np.ascontiguousarray(full.transpose(4, 0, 1, 2, 3))


# --- matrix products and indexing --------------------------------------------------------------------------


@_kernel("matmul")
def op_matmul(a, b):
    return np.matmul(a, b)


@_kernel("linear")
def op_linear(x, weight, bias=None):
    y = np.matmul(x, weight.T)
    return y if bias is None else y + bias


@_kernel("embedding")
def op_embedding(weight, ids, *, sparse, padding_idx=None, scale_grad_by_freq=False):
    n = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):  # np.take would count -1 from the end
        raise IndexError(f"embedding: ids must lie in [0, {n}) for a weight of shape {list(weight.shape)}, "
                         f"got values from {int(ids.min())} to {int(ids.max())}")
    return np.take(weight, ids, axis=0)


@_kernel("take")
def op_take(x, indices, *, axis):
    return np.take(x, indices, axis=axis)


@_kernel("getitem")
def op_getitem(x, *, index):
    return x[index]


# --- shape -------------------------------------------------------------------------------------------------


@_kernel("reshape")
def op_reshape(x, *, shape):
    return x.reshape(tuple(-1 if d is None else d for d in shape))


@_kernel("transpose")
def op_transpose(x, *, axes):
    return x.transpose(axes)


@_kernel("broadcast_to")
def op_broadcast_to(x, *, shape):
    return np.broadcast_to(x, shape)


@_kernel("concat")
def op_concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


@_kernel("pad")
def op_pad(x, *, pad_width, value):
    return np.pad(x, pad_width, mode="constant", constant_values=value)


@_kernel("copy")
def op_copy(x):
    return x.copy()


@_kernel("cast")
def op_cast(x, *, dtype):
    return x.astype(dtype)


# --- elementwise -------------------------------------------------------------------------------------------


_expression("neg", "x", "np.negative(x)")
_expression("exp", "x", "np.exp(x)")
_expression("log", "x", "np.log(x)")
_expression("log1p", "x", "np.log1p(x)")
_expression("sqrt", "x", "np.sqrt(x)")
_expression("abs", "x", "np.abs(x)")
_expression("tanh", "x", "np.tanh(x)")
_expression("sin", "x", "np.sin(x)")
_expression("cos", "x", "np.cos(x)")
_expression("log2", "x", "np.log2(x)")
_expression("log10", "x", "np.log10(x)")
_expression("expm1", "x", "np.expm1(x)")
_expression("asin", "x", "np.arcsin(x)")
_expression("acos", "x", "np.arccos(x)")
_expression("atan", "x", "np.arctan(x)")
_expression("sinh", "x", "np.sinh(x)")
_expression("cosh", "x", "np.cosh(x)")
_expression("asinh", "x", "np.arcsinh(x)")
_expression("acosh", "x", "np.arccosh(x)")
_expression("atanh", "x", "np.arctanh(x)")
_expression("atan2", "a, b", "np.arctan2(a, b)")
_expression("relu", "x", "np.maximum(x, x.dtype.type(0))")


@_kernel("sigmoid")
def op_sigmoid(x):
    return np.exp(np.minimum(x, x.dtype.type(0))) / (x.dtype.type(1) + np.exp(-np.abs(x)))


@_kernel("erf", "erfcx_middle", "erf", "erf_single")
def op_erf(x):
    work = x.astype(np.float32) if x.dtype.itemsize < 4 else x
    if work.dtype.itemsize >= 8:
        return erf(np, work)
    return erf_single(np, work).astype(x.dtype)


@_kernel("softplus")
def op_softplus(x, *, beta, threshold):
    z = x * x.dtype.type(beta)
    soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / x.dtype.type(beta)
    return np.where(z > threshold, x, soft)


@_kernel("clip")
def op_clip(x, *, min, max):
    return np.clip(x, min, max)


_expression("add", "a, b", "a + b")
_expression("sub", "a, b", "a - b")
_expression("mul", "a, b", "a * b")
_expression("div", "a, b", "np.true_divide(a, b)")
_expression("maximum", "a, b", "np.maximum(a, b)")
_expression("minimum", "a, b", "np.minimum(a, b)")
_expression("eq", "a, b", "a == b")
_expression("ne", "a, b", "a != b")
_expression("lt", "a, b", "a < b")
_expression("le", "a, b", "a <= b")
_expression("gt", "a, b", "a > b")
_expression("ge", "a, b", "a >= b")


@_kernel("pow")
def op_pow(a, b):
    if a.dtype.kind != "i":
        return np.power(a, b)
    negative = b < 0
    inverse = np.where(np.abs(a) == 1, np.power(a, b & 1), 0)
    return np.where(negative, inverse, np.power(a, np.where(negative, 0, b))).astype(a.dtype, copy=False)


@_kernel("where")
def op_where(cond, a, b):
    return np.where(cond, a, b)


# --- reductions and softmax ---------------------------------------------------------------------------------


@_kernel("sum")
def op_sum(x, *, axis, keepdims):
    if x.dtype.kind not in "f":
        return x.sum(axis=axis, keepdims=keepdims).astype(np.int64)
    return x.sum(axis=axis, keepdims=keepdims)


@_kernel("max")
def op_max(x, *, axis, keepdims):
    return x.max(axis=axis, keepdims=keepdims)


@_kernel("min")
def op_min(x, *, axis, keepdims):
    return x.min(axis=axis, keepdims=keepdims)


@_kernel("argmax")
def op_argmax(x, *, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int64)


@_kernel("reciprocal_count")
def op_reciprocal_count(x, *, axes, ddof, dtype):
    n = 1
    for a in axes:
        n *= x.shape[a]
    return np.asarray(np.inf if ddof and n <= ddof else 1.0 / (n - ddof), dtype)  # (a variance: no degrees of freedom)


@_kernel("softmax")
def op_softmax(x, *, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@_kernel("log_softmax")
def op_log_softmax(x, *, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@_kernel("layer_norm")
def op_layer_norm(x, weight, bias, *, dims, eps):
    n = int(np.prod(x.shape[x.ndim - dims:]))
    rows = x.reshape(-1, n)
    centred = rows - rows.sum(axis=-1, keepdims=True) * (1.0 / n)
    rstd = 1.0 / np.sqrt((centred * centred).sum(axis=-1, keepdims=True) * (1.0 / n) + eps)
    return (centred * rstd * weight.reshape(n) + bias.reshape(n)).reshape(x.shape)


# --- the rest of the op table -------------------------------------------------------------------------------

_expression("sign", "x", "x.copy() if x.dtype == np.bool_ else np.nan_to_num(np.sign(x), nan=0.0)")  # NaN: 0
_expression("invert", "x", "~x")
_expression("bitwise_and", "a, b", "a & b")
_expression("bitwise_or", "a, b", "a | b")
_expression("bitwise_xor", "a, b", "a ^ b")


def nonzero_integer_divisor(name, b):
    """Ember's ZeroDivisionError for an integer division by zero, where NumPy gives 0."""
    if b.dtype.kind in "iu" and not np.all(b):
        raise ZeroDivisionError(f"{name}: integer division by zero ({b.dtype} divisor of shape {list(b.shape)})")


@_kernel("floor_divide", "nonzero_integer_divisor")
def op_floor_divide(a, b):
    nonzero_integer_divisor("floor_divide", b)
    return np.floor_divide(a, b)


@_kernel("remainder", "nonzero_integer_divisor")
def op_remainder(a, b):
    nonzero_integer_divisor("remainder", b)
    out = np.remainder(a, b)
    if out.dtype.kind not in "iub":  # a float (bfloat16's kind is V): a zero takes a's sign, as PyTorch's
        out = np.where(out == 0, np.copysign(out, a), out)
    return out


_expression("tile", "x, *, reps", "np.tile(x, reps)")
_expression("repeat", "x, *, repeats, axis", "np.repeat(x, repeats, axis=axis)")
_expression("any", "x, *, axis, keepdims", "x.any(axis=axis, keepdims=keepdims)")
_expression("all", "x, *, axis, keepdims", "x.all(axis=axis, keepdims=keepdims)")
_expression("argmin", "x, *, axis, keepdims", "np.argmin(x, axis=axis, keepdims=keepdims).astype(np.int64)")
_expression("gather", "x, index, *, axis", "np.take_along_axis(x, index, axis=axis)")


@_kernel("one_hot")
def op_one_hot(indices, *, num_classes):
    if indices.size and (indices.min() < 0 or indices.max() >= num_classes):  # == would give a row of zeros
        raise IndexError(f"one_hot: indices must lie in [0, {num_classes}), got values from {int(indices.min())} "
                         f"to {int(indices.max())}")
    return (indices[..., None] == np.arange(num_classes)).astype(np.int64)


@_kernel("prod")
def op_prod(x, *, axis, keepdims):
    dtype = x.dtype if x.dtype.kind == "f" else np.int64
    return x.prod(axis=axis, keepdims=keepdims).astype(dtype)


@_kernel("scatter_add")
def op_scatter_add(x, index, src, *, axis):
    out = x.copy()
    axis = axis % x.ndim
    grids = np.indices(index.shape, sparse=True)
    where = tuple(index if a == axis else grids[a] for a in range(x.ndim))
    np.add.at(out, where, src[tuple(slice(0, n) for n in index.shape)])
    return out


@_kernel("index_add")
def op_index_add(x, indices, src, *, axis):
    out = x.copy()
    np.add.at(out, (slice(None),) * (axis % x.ndim) + (indices,), src)
    return out


@_kernel("trunc_divide", "nonzero_integer_divisor")
def op_trunc_divide(a, b):
    if a.dtype.kind == "f":
        return np.trunc(np.true_divide(a, b))
    nonzero_integer_divisor("trunc_divide", b)
    quotient = np.floor_divide(a, b)
    return quotient + ((quotient < 0) & (quotient * b != a))


def scan_dtypes(dtype):
    """A running sum's or product's (accumulator, result) dtypes, as the op's forward: float16 runs in float32,
    float32 and complex64 in double precision, rounded once; integers and bools give int64."""
    result = dtype if dtype.kind in "fc" else np.dtype(np.int64)
    wide = {np.float16: np.float32, np.float32: np.float64, np.complex64: np.complex128}.get(result.type, result)
    return np.dtype(wide), result


@_kernel("cumsum", "scan_dtypes")
def op_cumsum(x, *, axis, reverse):
    wide, result = scan_dtypes(x.dtype)
    if reverse:
        out = np.ascontiguousarray(np.flip(np.cumsum(np.flip(x, axis), axis, dtype=wide), axis))
    else:
        out = np.cumsum(x, axis, dtype=wide)
    return out.astype(result, copy=False)


@_kernel("cumprod", "scan_dtypes")
def op_cumprod(x, *, axis):
    wide, result = scan_dtypes(x.dtype)
    return np.cumprod(x, axis, dtype=wide).astype(result, copy=False)


@_kernel("argsort")
def op_argsort(x, *, axis, descending):
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.ascontiguousarray(x.shape[axis] - 1 - np.flip(flipped, axis))


@_kernel("searchsorted")
def op_searchsorted(boundaries, values, *, right, out_int32):
    side, dtype = "right" if right else "left", np.int32 if out_int32 else np.int64
    if boundaries.ndim == 1:
        return np.asarray(np.searchsorted(boundaries, values, side=side), dtype=dtype)
    rows, queries = boundaries.reshape(-1, boundaries.shape[-1]), values.reshape(-1, values.shape[-1])
    out = np.empty(queries.shape, dtype)
    for r in range(rows.shape[0]):
        out[r] = np.searchsorted(rows[r], queries[r], side=side)
    return out.reshape(values.shape)


@_kernel("median")
def op_median(x, *, axis, keepdims):
    flat = x.reshape(-1)
    k = (flat.size - 1) // 2
    value = x.dtype.type("nan") if x.dtype.kind == "f" and np.isnan(flat).any() else np.partition(flat, k)[k]
    return np.asarray(value, dtype=x.dtype).reshape((1,) * x.ndim if keepdims else ())


def recurrent_sigmoid(x):
    return np.exp(np.minimum(x, x.dtype.type(0))) / (x.dtype.type(1) + np.exp(-np.abs(x)))


def recurrent_step(mode, gx, h, c, r, rb, linear_before_reset):
    n = h.shape[-1]
    if mode == "GRU":
        gh = h @ r[:2 * n].T + rb[:2 * n]
        z = recurrent_sigmoid(gx[:, :n] + gh[:, :n])
        reset = recurrent_sigmoid(gx[:, n:2 * n] + gh[:, n:])
        if linear_before_reset:
            cand = np.tanh(gx[:, 2 * n:] + reset * (h @ r[2 * n:].T + rb[2 * n:]))
        else:
            cand = np.tanh(gx[:, 2 * n:] + (reset * h) @ r[2 * n:].T + rb[2 * n:])
        return cand + z * (h - cand), c
    pre = gx + h @ r.T + rb
    if mode == "LSTM":
        gates = recurrent_sigmoid(pre[:, :3 * n])
        c = gates[:, 2 * n:] * c + gates[:, :n] * np.tanh(pre[:, 3 * n:])
        return gates[:, n:2 * n] * np.tanh(c), c
    return np.maximum(pre, 0) if mode == "RNN_RELU" else np.tanh(pre), c


@_kernel("recurrent", "recurrent_sigmoid", "recurrent_step")
def op_recurrent(x, w, r, b, *state, mode, direction, linear_before_reset):
    steps, batch, _ = x.shape
    dirs, gate_size, _ = w.shape
    hidden = r.shape[-1]
    finals = 2 if mode == "LSTM" else 1
    out = np.empty((steps + finals, dirs, batch, hidden), x.dtype)
    zeros = np.zeros((dirs, batch, hidden), x.dtype)
    h0 = state[0] if state else zeros
    c0 = state[1] if len(state) > 1 else zeros
    for d in range(dirs):
        gx = (x.reshape(steps * batch, -1) @ w[d].T + b[d, :gate_size]).reshape(steps, batch, gate_size)
        h, c = h0[d], c0[d]
        reverse = d == 1 or direction == "reverse"
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h, c = recurrent_step(mode, gx[t], h, c, r[d], b[d, gate_size:], linear_before_reset)
            out[t, d] = h
        out[steps, d] = h
        if mode == "LSTM":
            out[steps + 1, d] = c
    return out

"""Constants, shapes, slicing, padding, indexing and scans."""

from __future__ import annotations

import math

import numpy as np

import ember
from ember.autograd import apply
from ember.graph.errors import GraphError
from ember.onnx.converters.base import (
    Tensor,
    UnsupportedError,
    _axes,
    _const_like,
    _split_sizes,
    _tensor,
    _values,
    converter,
)
from ember.ops.reduction import CUMSUM

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
    if None in shape:  # a GraphError: ember.jit then traces for the call's own sizes
        raise GraphError(f"Shape: the input has unknown dimensions {shape}; the model needs known sizes here")
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
    """``split``'s sizes; else ``num_outputs`` chunks of ceil(n / num_outputs), the last one smaller (or empty);
    else (before opset 18) equal parts. A model that breaks those rules is refused, as onnxruntime refuses it."""
    n, parts = x.shape[axis], cx.outputs
    if split is not None:
        sizes = _values(cx, split).astype(int).reshape(-1).tolist()
        if len(sizes) != parts or min(sizes, default=0) < 0 or sum(sizes) != n:
            raise GraphError(f"Split: split {sizes} must be {parts} non-negative sizes (one per output) summing to "
                             f"the axis's {n} elements")
    elif num_outputs is not None:
        step = -(-n // parts)
        if step * (parts - 1) > n:  # (a last chunk left empty is taken, as onnxruntime takes it)
            raise GraphError(f"Split: {n} elements do not make num_outputs={parts} chunks of {step} and a last, "
                             "smaller one")
        sizes = [step] * (parts - 1) + [n - step * (parts - 1)]
    else:
        if n % parts:
            raise GraphError(f"Split: the axis's {n} elements do not split evenly into {parts} outputs")
        sizes = [n // parts] * parts
    return tuple(_split_sizes(x, sizes, axis))


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
    if dim is None:  # an unknown size (a traced graph): Python's rules, which clamp as ONNX's do
        return slice(start, end, step)
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
    for axis, (b, e) in enumerate(width):  # reflect / edge / wrap: each position's source along the axis
        if not (b or e):
            continue
        if x.shape[axis] is not None:  # as NumPy's pad (ONNX's reference) picks it: pads past the axis's size
            # reflect or wrap again (slices stopped at its ends, the result too short)
            x = ember.take(x, _tensor(np.pad(np.arange(x.shape[axis]), (b, e), mode=mode)), axis=axis)
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
    # take reads [-n, n) as ONNX does and refuses the rest (shifted by n first, -6 of 4 read element 2)
    return ember.take(x, indices, axis=axis % x.ndim)


@converter("GatherND")
def _gather_nd(cx, x, indices, batch_dims=0):
    """Slices of x at the index tuples of indices' last axis, after ``batch_dims`` shared leading axes: one take
    from x flattened over those axes and the indexed ones, at each tuple's flat position."""
    b, k = batch_dims, indices.shape[-1]
    if tuple(indices.shape[:b]) != tuple(x.shape[:b]):  # (the offsets below would broadcast a batch of 1)
        raise GraphError(f"GatherND: the first batch_dims={b} axes of the indices {list(indices.shape)} and the "
                         f"data {list(x.shape)} must be equal")
    batch, inner, rest = tuple(x.shape[:b]), tuple(x.shape[b:b + k]), tuple(x.shape[b + k:])
    middle = tuple(indices.shape[b:-1])
    index = ember.cast(indices, np.int64)
    # each coordinate through a take from its axis's positions: [-n, n) as non-negative, the rest refused (they
    # shifted, or spilled into the next row of the flat table: [0, 5] of a 3 x 4 read element (1, 1))
    flat = sum(ember.take(_tensor(np.arange(n, dtype=np.int64) * math.prod(inner[i + 1:])), index[..., i])
               for i, n in enumerate(inner))
    offsets = np.arange(math.prod(batch), dtype=np.int64).reshape(batch + (1,) * len(middle)) * math.prod(inner)
    flat = flat + _tensor(offsets)
    table = ember.reshape(x, (math.prod(batch) * math.prod(inner),) + rest)
    return ember.reshape(ember.take(table, ember.reshape(flat, (-1,)), axis=0), batch + middle + rest)


@converter("ScatterND")
def _scatter_nd(cx, x, indices, updates, reduction="none"):
    """x with the slices at the index tuples of indices' last axis replaced by (or reduced with) updates' slices:
    one write into x flattened over the indexed axes, at each tuple's flat position."""
    k = indices.shape[-1]
    lead, rest = tuple(x.shape[:k]), tuple(x.shape[k:])
    index = ember.cast(indices, np.int64)
    index = ember.where(index < _const_like(index, 0), index + _tensor(np.array(lead, np.int64)), index)
    strides = np.array([math.prod(lead[i + 1:]) for i in range(k)], np.int64)
    flat = ember.reshape(ember.sum(index * _tensor(strides), -1), (-1,))
    table = ember.reshape(x, (math.prod(lead),) + rest)
    rows = ember.reshape(updates, (-1,) + rest)
    if reduction == "add":
        out = ember.index_add(table, flat, rows, axis=0)
    elif reduction == "none":  # (the spec leaves repeated positions undefined: their mean, as ember.index_copy)
        out = ember.index_copy(table, 0, flat, rows)
    elif reduction in ("mul", "max", "min"):
        at = ember.broadcast_to(ember.reshape(flat, (-1,) + (1,) * len(rest)), tuple(rows.shape))
        out = ember.scatter_reduce(table, 0, at, rows, {"mul": "prod", "max": "amax", "min": "amin"}[reduction])
    else:
        raise UnsupportedError(f"ScatterND: reduction {reduction!r} is not supported")
    return ember.reshape(out, tuple(x.shape))


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
    if reduction in ("mul", "max", "min"):
        return ember.scatter_reduce(x, axis, index, updates, {"mul": "prod", "max": "amax", "min": "amin"}[reduction])
    if reduction != "none":
        raise UnsupportedError(f"ScatterElements: reduction {reduction!r} is not supported")
    return ember.scatter(x, axis, index, updates)  # (repeated positions, undefined in the spec: their mean)


@converter("OneHot", static=(1, 2))
def _one_hot(cx, indices, depth, values, axis=-1):
    """An index outside [-depth, depth) gives a row of off values, as the spec and onnxruntime (no error)."""
    n = int(cx.static(depth).reshape(-1)[0])
    off, on = cx.static(values).reshape(-1)[:2]
    indices = ember.cast(indices, np.int64)
    indices = ember.where(indices < 0, indices + ember.tensor(np.array(n, np.int64)), indices)
    hot = ember.unsqueeze(indices, -1) == ember.arange(n, dtype=np.int64)  # class axis last
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


@converter("NonZero")
def _nonzero(cx, x):
    """(rank, count) int64 indices of the non-zero elements in row-major order (a boolean mask index, x[x > 0],
    exported by torch). Their count depends on the values, so it runs eagerly only. A scalar counts as one
    element (one row), as onnxruntime reads it."""
    return ember.nonzero(x.reshape(1) if x.ndim == 0 else x).T


def _data_dependent(op_type: str, x: Tensor) -> None:
    if x.symbolic:
        raise TypeError(f"how many elements {op_type} gives depends on the values of {x!r}, which a graph does "
                        "not have while it is built (it runs eagerly only, as NonZero)")


@converter("Compress")
def _compress(cx, x, condition, axis=None):
    """The slices of x along ``axis`` (of x flattened without it) where the 1-D condition holds; a condition
    shorter than the axis drops the rest. Its size depends on the condition's values: eager only, as NonZero."""
    _data_dependent("Compress", condition)
    if axis is None:
        x, axis = ember.reshape(x, (-1,)), 0
    axis %= max(x.ndim, 1)
    n = x.shape[axis]
    if condition.ndim != 1:
        raise ValueError(f"Compress: the condition must be 1-D, got shape {list(condition.shape)}")
    if condition.shape[0] > n:
        raise ValueError(f"Compress: the condition's {condition.shape[0]} entries are more than the {n} elements "
                         f"along axis {axis} of the input {list(x.shape)}")
    keep = ember.nonzero(condition).reshape(-1)
    return ember.take(x, keep, axis=axis)


@converter("Unique")
def _unique(cx, x, axis=None, sorted=1):  # noqa: A002  (ONNX's name)
    """(Y, indices, inverse_indices, counts): the unique values (slices along ``axis``) in ascending order, or
    in order of first occurrence with ``sorted=0``; Y is taken from x at ``indices``, so it carries gradients.
    Its size depends on x's values: eager only, as NonZero."""
    _data_dependent("Unique", x)
    if axis is None:
        x = ember.reshape(x, (-1,))
    axis = 0 if axis is None else axis % x.ndim
    values = np.asarray(x.detach().numpy())
    _, first, inverse, counts = np.unique(values, return_index=True, return_inverse=True, return_counts=True,
                                          axis=axis)
    inverse = inverse.reshape(-1)
    if not sorted:  # order of first occurrence
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        first, counts, inverse = first[order], counts[order], rank[inverse]
    y = ember.take(x, _tensor(first.astype(np.int64)), axis=axis)
    return y, _tensor(first.astype(np.int64)), _tensor(inverse.astype(np.int64)), _tensor(counts.astype(np.int64))


@converter("TopK", static=(1,))
def _top_k(cx, x, k=None, axis=-1, largest=1, sorted=1, **attrs):  # noqa: A002  (ONNX's name)
    """(values, indices): ties in the order of their indices, as the spec and Ember's (stable) topk."""
    k = int(_values(cx, k if k is not None else attrs.pop("k")).reshape(-1)[0])  # an input from opset 10
    values, indices = ember.topk(x, k, axis, bool(largest))
    return values, indices


@converter("CumSum", static=(1,))
def _cumsum(cx, x, axis, exclusive=0, reverse=0):
    """Ember's running sum along ``axis``; ``exclusive`` shifts it by one, a zero first (an infinity or NaN reaches
    only the sums that include it)."""
    axis = int(cx.static(axis).reshape(-1)[0]) % x.ndim
    out = apply(CUMSUM, (x,), {"axis": axis, "reverse": bool(reverse)})
    if out.dtype != x.dtype:  # integers run as int64
        out = ember.cast(out, x.dtype)
    if exclusive:
        lead = (slice(None),) * axis
        kept = out[lead + ((slice(1, None),) if reverse else (slice(None, -1),))]
        zero = ember.zeros_like(out[lead + (slice(0, 1),)])
        out = ember.concat([kept, zero] if reverse else [zero, kept], axis=axis)
    return out


# --- resizing: one interpolation matrix per resized axis ------------------------------------------------------


def _source_coordinate(x: int, scale: float, size_in: int, size_out: int, mode: str, roi) -> float | None:
    """Where output position ``x`` samples the input (ONNX's coordinate_transformation_mode); None: outside
    the crop of tf_crop_and_resize (the extrapolation value). align_corners and tf_crop_and_resize map the
    corners of the output's length (the spec's length_resized, onnxruntime and PyTorch), not of scale * size_in,
    which differs for a fractional scale."""
    width = scale * size_in
    if mode == "align_corners":
        return 0.0 if size_out == 1 else x * (size_in - 1) / (size_out - 1)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        at = (end - start) * (size_in - 1) / 2 if size_out == 1 else x * (end - start) * (size_in - 1) / (size_out - 1)
        at += start * (size_in - 1)
        return None if at < 0 or at > size_in - 1 else at
    if mode == "pytorch_half_pixel":
        return -0.5 if width == 1 else (x + 0.5) / scale - 0.5
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        offset = size_in / 2 * (1 - size_out / width)
        return offset + (x + 0.5) / scale - 0.5
    raise UnsupportedError(f"Resize: coordinate_transformation_mode {mode!r} is not supported")


def _taps(mode: str, ratio: float, nearest_mode: str, cubic_a: float, shrink: float = 1.0) -> list:
    """The weights of the neighbours from ceil(at) - len // 2 on; ``shrink`` < 1 (antialias when downscaling)
    stretches the linear or cubic kernel by 1 / shrink, more taps normalized to sum to 1, as the spec's reference."""
    if shrink < 1 and mode in ("linear", "cubic"):
        reach = 1 if mode == "linear" else 2
        start = math.floor(-reach / shrink) + 1
        args = [abs(shrink * (i - ratio)) for i in range(start, 2 - start)]
        if mode == "linear":
            weights = [max(1 - t, 0.0) for t in args]
        else:
            a = cubic_a
            weights = [((a + 2) * t - (a + 3)) * t * t + 1 if t <= 1 else
                       ((a * t - 5 * a) * t + 8 * a) * t - 4 * a if t < 2 else 0.0 for t in args]
        total = sum(weights)
        return [w / total for w in weights]
    if mode == "nearest":
        if ratio == 1:
            return [0.0, 1.0]
        left = {"round_prefer_floor": ratio <= 0.5, "round_prefer_ceil": ratio < 0.5, "floor": True,
                "ceil": False}.get(nearest_mode)
        if left is None:
            raise UnsupportedError(f"Resize: nearest_mode {nearest_mode!r} is not supported")
        return [1.0, 0.0] if left else [0.0, 1.0]
    if mode == "linear":
        return [1 - ratio, ratio]
    a, r, s = cubic_a, ratio, 1 - ratio
    return [((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
            ((a + 2) * s - (a + 3)) * s * s + 1, ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a]


def _interpolation_matrix(size_in, size_out, scale, attrs, roi) -> tuple:
    """(M, outside): output = M @ input along one axis; ``outside`` marks the rows given the extrapolation
    value. Taps past the edges read the edge element, as ONNX's reference does."""
    m = np.zeros((size_out, size_in))
    outside = np.zeros(size_out, bool)
    for x in range(size_out):
        at = _source_coordinate(x, scale, size_in, size_out, attrs["coordinate_transformation_mode"], roi)
        if at is None:
            outside[x] = True
            continue
        ratio = 1.0 if float(at).is_integer() else at - math.floor(at)
        taps = _taps(attrs["mode"], ratio, attrs["nearest_mode"], attrs["cubic_coeff_a"],
                     min(scale, 1.0) if attrs["antialias"] else 1.0)
        first = math.ceil(at) - len(taps) // 2
        index = [first + k for k in range(len(taps))]
        if attrs["exclude_outside"]:
            taps = [t if 0 <= i < size_in else 0.0 for t, i in zip(taps, index)]
            total = sum(taps)
            taps = [t / total for t in taps]
        for t, i in zip(taps, index):
            m[x, min(max(i, 0), size_in - 1)] += t
    return m, outside


@converter("Resize", static=(1, 2, 3))
def _resize(cx, x, roi=None, scales=None, sizes=None, antialias=0, axes=None,
            coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75, exclude_outside=0,
            extrapolation_value=0.0, keep_aspect_ratio_policy="stretch", mode="nearest",
            nearest_mode="round_prefer_floor"):
    if cx.opset < 11:  # opset 10: (X, scales), sampled as Upsample (asymmetric; see the loop for nearest)
        roi, scales, coordinate_transformation_mode = None, roi if scales is None else scales, "asymmetric"
    rank = x.ndim
    axes = [a % rank for a in axes] if axes is not None else list(range(rank))
    roi_values = cx.static(roi).astype(float).tolist() if roi is not None and cx.static(roi).size else None
    shape = list(x.shape)
    if sizes is not None and cx.static(sizes).size:
        wanted = cx.static(sizes).astype(int).tolist()
        factors = [w / shape[a] for w, a in zip(wanted, axes)]
        if keep_aspect_ratio_policy != "stretch":
            scale = min(factors) if keep_aspect_ratio_policy == "not_larger" else max(factors)
            factors = [scale] * len(axes)
            wanted = [int(scale * shape[a] + 0.5) for a in axes]
    else:
        factors = cx.static(scales).astype(float).tolist()
        if len(factors) == rank and len(axes) != rank:
            factors = [factors[a] for a in axes]
        wanted = [int(f * shape[a]) for f, a in zip(factors, axes)]
    settings = {"coordinate_transformation_mode": coordinate_transformation_mode, "mode": mode,
                "nearest_mode": nearest_mode, "cubic_coeff_a": cubic_coeff_a, "exclude_outside": exclude_outside,
                "antialias": antialias}
    y = x
    for i, (a, size_out, scale) in enumerate(zip(axes, wanted, factors)):
        if size_out == shape[a] and scale == 1.0 and coordinate_transformation_mode != "tf_crop_and_resize":
            continue
        crop = (roi_values[i], roi_values[i + len(axes)]) if roi_values is not None and len(roi_values) == 2 * len(
            axes) else (roi_values[a], roi_values[a + rank]) if roi_values is not None else (0.0, 1.0)
        if cx.opset < 11:  # onnxruntime's opset-10 nearest: the lower neighbour, the upper one when shrinking
            settings["nearest_mode"] = "ceil" if scale < 1 else "floor"
        m, outside = _interpolation_matrix(shape[a], size_out, scale, settings, crop)
        moved = ember.moveaxis(y, a, -1)
        if mode == "nearest" and not outside.any():
            y = ember.moveaxis(ember.take(moved, _tensor(m.argmax(axis=1)), axis=-1), -1, a)
            continue
        work = moved if moved.dtype.kind == "f" else ember.cast(moved, np.float64)
        out = ember.matmul(work, _tensor(m.T.astype(work.dtype)))
        if outside.any():
            out = ember.where(_tensor(outside), _const_like(out, extrapolation_value), out)
        y = ember.moveaxis(out, -1, a)  # integers stay float64 until every axis is done: truncated once
    if y is x:
        return ember.clone(x)
    return ember.cast(y, x.dtype) if y.dtype != x.dtype else y


@converter("Upsample", static=(1,))
def _upsample(cx, x, scales=None, mode="nearest", **attrs):
    factors = attrs.pop("scales", None) if scales is None else cx.static(scales).tolist()
    return _resize(cx, x, None, np.asarray(factors, np.float32), None, coordinate_transformation_mode="asymmetric",
                   mode="linear" if mode in ("linear", "bilinear") else mode, nearest_mode="floor")


@converter("GridSample")
def _grid_sample(cx, x, grid, align_corners=0, mode="bilinear", padding_mode="zeros"):
    mode = {"linear": "bilinear", "cubic": "bicubic"}.get(mode, mode)  # opset 20's names
    if mode not in ember.ops.sampling.MODES or padding_mode not in ember.ops.sampling.PADDING_MODES:
        raise UnsupportedError(f"GridSample: mode {mode!r} with padding_mode {padding_mode!r} is not supported")
    return ember.grid_sample(x, grid, mode, padding_mode, bool(align_corners))

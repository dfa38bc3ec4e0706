"""Pooling in NCHW layout with PyTorch's signatures: max, average and adaptive average, 2-D and 1-D.

Each pooling primitive loops over the kernel positions only: position (i, j) meets one strided slice of
the padded input, so a window reduction is kh * kw whole-array operations. Max pooling with overlapping
windows runs on NumPy over phase planes instead (``pool_planes``), where every position is a contiguous slice;
the gradient of windows side by side copies each position's elements into a contiguous plane once.
Max pooling routes the gradient to the first maximum of each window, as PyTorch does; with the ``onednn``
extra, float32 max pooling and its gradient run on oneDNN's kernels (the same first maxima); an eager forward
that will be differentiated keeps oneDNN's workspace for the gradient (``residuals``). The gradient
primitives are linear in the incoming gradient and each is the other's vjp, so gradients of gradients work
as well. The records' shape rules, vjps and costs are ``pool_records``'s, shared with the 3-D ones; this module
holds the 2-D kernels.
"""

from __future__ import annotations

import functools

import numpy as np

from ember.backend import onednn
from ember.backend.dtypes import LOW_PRECISION, float32, is_floating
from ember.ops import dispatch, pool_planes
from ember.ops.adaptive_pool import ADAPTIVE_AVG_AXIS
from ember.ops.conv import ints, pad2d, window_slice
from ember.ops.conv_padding import unbatched
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.piecewise import piecewise
from ember.ops.pool_indices import holds_nan, max_pool_indices, nan_routed_gather, nan_routed_grad
from ember.ops.pool_records import avg_pool_ops, max_pool_ops, pool_out_size
from ember.ops.registry import Spec
from ember.ops.shape import clone, reshape


def _geometry(shape, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """Output size and the extra padding on the bottom/right that ceil mode's last windows need."""
    out, extra = [], []
    for a in (0, 1):
        size = shape[2 + a]
        o = pool_out_size(size, kernel_size[a], stride[a], padding[a], dilation[a], ceil_mode)
        reach = (o - 1) * stride[a] + dilation[a] * (kernel_size[a] - 1) + 1  # extent of the padded input used
        out.append(o)
        extra.append(max(0, reach - size - 2 * padding[a]))
    return tuple(out), tuple(extra)


def _padded(xp, x, kernel_size, stride, padding, dilation, ceil_mode, value):
    (out_h, out_w), (extra_h, extra_w) = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    ph, pw = padding
    return pad2d(xp, x, ph, ph + extra_h, pw, pw + extra_w, value), out_h, out_w


def _positions(kernel_size):
    return [(i, j) for i in range(kernel_size[0]) for j in range(kernel_size[1])]


def _lowest(xp, dtype):
    # bfloat16 is a float whose NumPy kind is "V" (ml_dtypes): ask Ember's dtype table, not the kind
    return -xp.inf if is_floating(np.dtype(dtype)) else np.iinfo(dtype).min


# --- max pooling ---------------------------------------------------------------------------------------------


def _gpu_pool_args(x, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """The int32 geometry the max-pooling kernels take: H, W, OH, OW, KH, KW, SH, SW, PH, PW, DH, DW."""
    (out_h, out_w), _ = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    sizes = (x.shape[2], x.shape[3], out_h, out_w, *kernel_size, *stride, *padding, *dilation)
    return tuple(np.int32(v) for v in sizes)


def _on_onednn(xp, x) -> bool:
    # oneDNN's maximum skips NaN where PyTorch's and NumPy's keep it: inputs holding NaN (NumPy's maximum of all
    # of them, one fast pass, is NaN) take the NumPy kernels
    return xp is np and onednn.runs(x.dtype) and x.size > 0 and not np.isnan(np.maximum.reduce(x, axis=None))


def _max_pool2d_forward(xp, x, *, kernel_size, stride, padding, dilation, ceil_mode):
    if xp is not np and x.dtype in (np.float32, np.float64):  # one launch on a GPU
        from ember.backend import cuda_kernels

        args = _gpu_pool_args(x, kernel_size, stride, padding, dilation, ceil_mode)
        out = xp.empty(x.shape[:2] + (int(args[2]), int(args[3])), x.dtype)
        return cuda_kernels.max_pool2d()(xp.ascontiguousarray(x), *args, x.dtype.type(-np.inf), out)
    if _on_onednn(xp, x):  # 2-7x faster than the NumPy kernels below on LeNet-5's and ResNet's
        out_hw = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)[0]
        out = onednn.max_pool2d(x, out_hw, kernel_size, stride, padding, dilation)
        if out is not None:
            return out
    if xp is np and _overlapping(kernel_size, stride, dilation):
        out_hw = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)[0]
        return pool_planes.max_pool2d(x, out_hw, kernel_size, stride, padding, dilation, _lowest(xp, x.dtype))
    x, out_h, out_w = _padded(xp, x, kernel_size, stride, padding, dilation, ceil_mode, _lowest(xp, x.dtype))
    out = None
    for i, j in _positions(kernel_size):
        window = x[window_slice(i, j, out_h, out_w, stride, dilation)]
        out = window.copy() if out is None else xp.maximum(out, window, out=out)
    return out


def _first_max_masks(xp, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Per kernel position: the index of its slice of the padded input, and a mask (N, C, OH, OW) of the
    windows whose first maximum (row-major over the kernel, as PyTorch picks) sits at that position.
    Equality with the window maxima plus a running "taken" mask is a few plain array operations per
    position, much cheaper in NumPy than arg-max bookkeeping with masked assignments."""
    x, out_h, out_w = _padded(xp, x, kernel_size, stride, padding, dilation, ceil_mode, _lowest(xp, x.dtype))
    indices = [window_slice(i, j, out_h, out_w, stride, dilation) for i, j in _positions(kernel_size)]
    best = x[indices[0]].copy()
    for index in indices[1:]:
        xp.maximum(best, x[index], out=best)
    masks, taken = [], None
    last = len(indices) - 1
    for k, index in enumerate(indices):
        hit = x[index] == best
        if taken is None:
            taken = hit.copy() if last else hit
        else:
            xp.greater(hit, taken, out=hit)  # hit and not yet taken
            if k != last:
                xp.logical_or(taken, hit, out=taken)
        masks.append((index, hit))
    return masks, x.shape


def _overlapping(kernel_size, stride, dilation) -> bool:
    return any(stride[a] < dilation[a] * (kernel_size[a] - 1) + 1 for a in (0, 1))


def _tiles_exactly(padded_shape, kernel_size, stride, dilation) -> bool:
    """Whether the windows cover the padded input once each (then no zero fill is needed)."""
    return all(
        dilation[a] == 1 and stride[a] == kernel_size[a] and padded_shape[2 + a] % kernel_size[a] == 0
        for a in (0, 1)
    )


def _max_pool2d_residuals(xp, x, *, kernel_size, stride, padding, dilation, ceil_mode):
    """The forward when the gradient will be wanted: on oneDNN, its training pass, which also records each
    window's first maximum (a workspace) for the gradient to route by; otherwise the forward, nothing saved."""
    if _on_onednn(xp, x):
        out_hw = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)[0]
        found = onednn.max_pool2d_training(x, out_hw, kernel_size, stride, padding, dilation)
        if found is not None:
            return found
    return _max_pool2d_forward(xp, x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                               ceil_mode=ceil_mode), None


def _max_pool2d_grad_forward(xp, x, g, *, kernel_size, stride, padding, dilation, ceil_mode, workspace=None):
    """``workspace``: the forward's oneDNN workspace for this x (eager mode), read instead of pooling x again."""
    if xp is np and holds_nan(xp, x):
        return nan_routed_grad(xp, x, g, kernel_size=kernel_size, stride=stride, padding=padding,
                               dilation=dilation, ceil_mode=ceil_mode)
    if workspace is not None and xp is np and g.dtype == np.float32:
        out = onednn.max_pool2d_grad_from(workspace, g, x.shape, kernel_size, stride, padding, dilation)
        if out is not None:
            return out
    if xp is not np and x.dtype in (np.float32, np.float64):  # one launch on a GPU
        from ember.backend import cuda_kernels

        args = _gpu_pool_args(x, kernel_size, stride, padding, dilation, ceil_mode)
        out = xp.empty(x.shape, x.dtype)
        return cuda_kernels.max_pool2d_grad()(xp.ascontiguousarray(x), xp.ascontiguousarray(g), *args,
                                              x.dtype.type(-np.inf), out)
    if _on_onednn(xp, x):
        out = onednn.max_pool2d_grad(x, g, kernel_size, stride, padding, dilation)
        if out is not None:
            return out
    overlapping = _overlapping(kernel_size, stride, dilation)
    if xp is np and overlapping:  # 1.7x faster at ResNet's stem; no faster for windows that do not overlap
        return pool_planes.max_pool2d_grad(x, g, kernel_size, stride, padding, dilation, _lowest(xp, x.dtype))
    if xp is np and _side_by_side(x.shape, g.shape, kernel_size, stride, padding, dilation):
        return _side_by_side_grad(x, g, kernel_size)
    masks, padded_shape = _first_max_masks(xp, x, kernel_size, stride, padding, dilation, ceil_mode)
    if _tiles_exactly(padded_shape, kernel_size, stride, dilation):
        out = xp.empty(padded_shape, dtype=g.dtype)
    else:
        out = xp.zeros(padded_shape, dtype=g.dtype)
    for index, hit in masks:
        if overlapping:
            out[index] += g * hit
        else:
            xp.multiply(g, hit, out=out[index])
    h, w = x.shape[2:]
    return out[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


def _side_by_side(x_shape, g_shape, kernel_size, stride, padding, dilation) -> bool:
    """Whether the windows lie side by side inside the input, without padding (LeNet's 2 x 2 pooling)."""
    return (tuple(stride) == tuple(kernel_size) and not any(padding) and tuple(dilation) == (1, 1)
            and all(g_shape[2 + a] * kernel_size[a] <= x_shape[2 + a] for a in (0, 1)))


def _side_by_side_grad(x, g, kernel_size):
    """max_pool2d_grad on NumPy for windows side by side: each kernel position's elements copied once into a
    contiguous (N, C, OH, OW) plane, so the maxima and first-maximum masks run on contiguous arrays, and only
    the copies and the routed gradients' stores are strided (LeNet's poolings: 1.3x faster than window slices)."""
    kh, kw = kernel_size
    n, c, out_h, out_w = g.shape
    covered = (slice(None), slice(None), slice(0, out_h * kh), slice(0, out_w * kw))
    windows = x[covered].reshape(n, c, out_h, kh, out_w, kw)
    planes = [np.ascontiguousarray(windows[:, :, :, i, :, j]) for i in range(kh) for j in range(kw)]
    best = planes[0] if len(planes) == 1 else np.maximum(planes[0], planes[1])
    for plane in planes[2:]:
        np.maximum(best, plane, out=best)
    whole = (out_h * kh, out_w * kw) == tuple(x.shape[2:])
    out = np.empty(x.shape, dtype=g.dtype) if whole else np.zeros(x.shape, dtype=g.dtype)
    routed = out[covered].reshape(n, c, out_h, kh, out_w, kw)
    hits = pool_planes.first_maxima((plane == best for plane in planes), len(planes))
    for k, hit in enumerate(hits):  # each window's first maximum, row-major
        np.multiply(g, hit, out=routed[:, :, :, k // kw, :, k % kw])
    return out


def _max_pool2d_gather_forward(xp, x, h, *, kernel_size, stride, padding, dilation, ceil_mode):
    if xp is np and holds_nan(xp, x):
        return nan_routed_gather(xp, x, h, kernel_size=kernel_size, stride=stride, padding=padding,
                                 dilation=dilation, ceil_mode=ceil_mode)
    masks, _ = _first_max_masks(xp, x, kernel_size, stride, padding, dilation, ceil_mode)
    h = _padded(xp, h, kernel_size, stride, padding, dilation, ceil_mode, 0)[0]
    out = None
    for index, hit in masks:
        out = h[index] * hit if out is None else xp.add(out, h[index] * hit, out=out)
    return out


MAX_POOL2D, MAX_POOL2D_GRAD, MAX_POOL2D_GATHER = max_pool_ops(
    2, _max_pool2d_forward, _max_pool2d_grad_forward, _max_pool2d_gather_forward, residuals=_max_pool2d_residuals)
_max_pool2d_infer = MAX_POOL2D.infer


# --- average pooling ---------------------------------------------------------------------------------------

_NO_DILATION = (1, 1)


def _divisor(xp, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad, dtype):
    """How many elements each window averages, one axis per spatial axis of ``input_size`` (any rank): PyTorch's
    rule, windows clipped to the padded input and, without ``count_include_pad``, to the input itself."""
    counts = []
    for a in range(len(input_size)):
        out = pool_out_size(input_size[a], kernel_size[a], stride[a], padding[a], 1, ceil_mode)
        start = np.arange(out) * stride[a] - padding[a]
        end = np.minimum(start + kernel_size[a], input_size[a] + padding[a])
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, input_size[a])
        counts.append(end - start)
    return xp.asarray(functools.reduce(np.multiply.outer, counts).astype(dtype))


def _avg_pool2d_forward(xp, x, *, kernel_size, stride, padding, ceil_mode, count_include_pad):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: summed in float32, rounded once (as PyTorch)
        return _avg_pool2d_forward(xp, x.astype(np.float32), kernel_size=kernel_size, stride=stride, padding=padding,
                                   ceil_mode=ceil_mode, count_include_pad=count_include_pad).astype(x.dtype)
    divisor = _divisor(xp, x.shape[2:], kernel_size, stride, padding, ceil_mode, count_include_pad, x.dtype)
    x, out_h, out_w = _padded(xp, x, kernel_size, stride, padding, _NO_DILATION, ceil_mode, 0)
    out = None
    for i, j in _positions(kernel_size):
        window = x[window_slice(i, j, out_h, out_w, stride, _NO_DILATION)]
        out = window.copy() if out is None else xp.add(out, window, out=out)
    out /= divisor
    return out


def _avg_pool2d_grad_forward(xp, g, *, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad):
    g = g / _divisor(xp, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad, g.dtype)
    shape = g.shape[:2] + tuple(input_size)
    extra = _geometry(shape, kernel_size, stride, padding, _NO_DILATION, ceil_mode)[1]
    h, w = input_size
    out = xp.zeros(shape[:2] + (h + 2 * padding[0] + extra[0], w + 2 * padding[1] + extra[1]), dtype=g.dtype)
    out_h, out_w = g.shape[2:]
    for i, j in _positions(kernel_size):
        out[window_slice(i, j, out_h, out_w, stride, _NO_DILATION)] += g
    return out[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]


AVG_POOL2D, AVG_POOL2D_GRAD = avg_pool_ops(2, _avg_pool2d_forward, _avg_pool2d_grad_forward)
_avg_pool2d_infer = AVG_POOL2D.infer


# --- public functions --------------------------------------------------------------------------------------


def _pool_attrs(name: str, kernel_size, stride, padding, dilation=1, rank: int = 2) -> dict:
    kernel_size = ints(name, "kernel_size", kernel_size, 1, rank)
    return {
        "kernel_size": kernel_size,
        "stride": kernel_size if stride is None else ints(name, "stride", stride, 1, rank),
        "padding": ints(name, "padding", padding, 0, rank),
        "dilation": ints(name, "dilation", dilation, 1, rank),
    }


def _one(name: str, arg: str, value):
    """A 1-D pooling argument (an int or a one-element sequence) as a plain value for the 2-D call."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError(f"{name}: {arg} must be an int or a one-element sequence, got {value!r}")
        value = value[0]
    return value


def _as_3d_input(name: str, x: TensorLike) -> TensorLike:
    if x.ndim != 3:
        raise ValueError(f"{name}: input must be 3-D (N, C, L) or 2-D (C, L), got shape {list(x.shape)}")
    return reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))


def _from_4d(y: TensorLike) -> TensorLike:
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def max_pool2d(x: TensorLike, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> TensorLike:
    """Maximum over each ``kernel_size`` window of ``x`` (N, C, H, W) or (C, H, W); ``stride`` defaults to the
    kernel size, padding counts as -inf. The gradient goes to the first maximum of each window, as in PyTorch;
    ``return_indices`` also returns each maximum's flat index in its (H, W) plane (int64), as PyTorch's.

    >>> y = ember.max_pool2d(ember.randn(1, 3, 8, 8), 2)   # (1, 3, 4, 4)
    """
    x = as_tensor(x)
    if x.ndim == 3:  # unbatched (C, H, W)
        return unbatched(max_pool2d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    attrs = _pool_attrs("max_pool2d", kernel_size, stride, padding, dilation)
    attrs["ceil_mode"] = bool(ceil_mode)
    _max_pool2d_infer(Spec(tuple(x.shape), x.dtype), **attrs)
    y = dispatch.apply(MAX_POOL2D, (x,), attrs)
    return (y, max_pool_indices(x, attrs)) if return_indices else y


def max_pool1d(x: TensorLike, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> TensorLike:
    """Maximum over each window of ``x`` (N, C, L) or (C, L): max_pool2d on a height-1 view; ``return_indices``
    also returns each maximum's index along L.

    >>> y = ember.max_pool1d(ember.randn(2, 4, 10), 3, stride=2)   # (2, 4, 4)
    """
    name = "max_pool1d"
    kernel_size, padding, dilation = (_one(name, a, v) for a, v in
                                      (("kernel_size", kernel_size), ("padding", padding), ("dilation", dilation)))
    stride = None if stride is None else _one(name, "stride", stride)
    attrs = _pool_attrs(name, kernel_size, stride, padding, dilation)
    attrs = {"kernel_size": (1, attrs["kernel_size"][1]), "stride": (1, attrs["stride"][1]),
             "padding": (0, attrs["padding"][1]), "dilation": (1, attrs["dilation"][1]), "ceil_mode": bool(ceil_mode)}
    x = as_tensor(x)
    if x.ndim == 2:  # unbatched (C, L)
        return unbatched(max_pool1d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    x4 = _as_3d_input(name, x)
    _max_pool2d_infer(Spec(tuple(x4.shape), x4.dtype), **attrs)
    y = _from_4d(dispatch.apply(MAX_POOL2D, (x4,), attrs))
    return (y, _from_4d(max_pool_indices(x4, attrs))) if return_indices else y


def avg_pool2d(x: TensorLike, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> TensorLike:
    """Mean over each ``kernel_size`` window of ``x`` (N, C, H, W); zero padding counts in the mean when
    ``count_include_pad`` (PyTorch's default and divisor rule); ``divisor_override``: each window's sum divided by
    that number instead.

    >>> y = ember.avg_pool2d(ember.randn(1, 3, 8, 8), 3, stride=2, padding=1)   # (1, 3, 4, 4)
    """
    x = to_float(x)
    if divisor_override is not None and x.dtype in LOW_PRECISION:  # rescaled in float32, rounded once (as PyTorch)
        return cast(avg_pool2d(cast(x, float32), kernel_size, stride, padding, ceil_mode, count_include_pad,
                               divisor_override), x.dtype)
    if x.ndim == 3:  # unbatched (C, H, W)
        return unbatched(avg_pool2d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    attrs = _pool_attrs("avg_pool2d", kernel_size, stride, padding)
    del attrs["dilation"]
    attrs["ceil_mode"] = bool(ceil_mode)
    attrs["count_include_pad"] = bool(count_include_pad) or divisor_override is not None
    _avg_pool2d_infer(Spec(tuple(x.shape), x.dtype), **attrs)
    y = dispatch.apply(AVG_POOL2D, (x,), attrs)
    return y if divisor_override is None else override_divisor("avg_pool2d", x, y, attrs, divisor_override)


def override_divisor(name: str, x: TensorLike, y: TensorLike, attrs: dict, divisor) -> TensorLike:
    """PyTorch's ``divisor_override``: the windows' means ``y`` (padding counted) rescaled to sums over
    ``divisor``, by a constant factor per window (its element count over the divisor)."""
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor == 0:
        raise ValueError(f"{name}: divisor_override must be a non-zero integer, got {divisor!r}")
    spatial = tuple(x.shape[2:])
    if any(size is None for size in spatial):
        raise ValueError(f"{name}: divisor_override needs the input's spatial sizes, got shape {list(x.shape)}")
    counts = _divisor(np, spatial, attrs["kernel_size"], attrs["stride"], attrs["padding"], attrs["ceil_mode"], True,
                      np.float64)
    return y * as_tensor((counts / divisor).astype(y.dtype).reshape((1, 1) + counts.shape), y)


def avg_pool1d(x: TensorLike, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> TensorLike:
    """Mean over each window of ``x`` (N, C, L): avg_pool2d on a height-1 view.

    >>> y = ember.avg_pool1d(ember.randn(2, 4, 10), 2)   # (2, 4, 5)
    """
    name = "avg_pool1d"
    kernel_size, padding = _one(name, "kernel_size", kernel_size), _one(name, "padding", padding)
    stride = None if stride is None else _one(name, "stride", stride)
    attrs = _pool_attrs(name, kernel_size, stride, padding)
    attrs = {"kernel_size": (1, attrs["kernel_size"][1]), "stride": (1, attrs["stride"][1]),
             "padding": (0, attrs["padding"][1]), "ceil_mode": bool(ceil_mode),
             "count_include_pad": bool(count_include_pad)}
    x = to_float(x)
    if x.ndim == 2:  # unbatched (C, L)
        return unbatched(avg_pool1d, x, kernel_size, stride, padding, ceil_mode, count_include_pad)
    x4 = _as_3d_input(name, x)
    _avg_pool2d_infer(Spec(tuple(x4.shape), x4.dtype), **attrs)
    return _from_4d(dispatch.apply(AVG_POOL2D, (x4,), attrs))


def _adaptive_axis(x: TensorLike, axis: int, out: int) -> TensorLike:
    """Adaptive averaging along spatial ``axis`` of ``x`` whose bins overlap: the ``adaptive_avg_axis`` op."""
    attrs = {"axis": axis, "output_size": out}
    ADAPTIVE_AVG_AXIS.infer(Spec(tuple(x.shape), x.dtype), **attrs)
    return dispatch.apply(ADAPTIVE_AVG_AXIS, (x,), attrs)


def _adaptive_blocks(x: TensorLike, sizes: tuple) -> TensorLike:
    """Adaptive averaging of spatial axes whose size is a multiple of their output size (equal bins; ``sizes``
    per spatial axis, None to leave one as it is): one reshape splitting each into (out, size // out) and one mean
    over the bins, whose gradient is one broadcast."""
    from ember.ops.reduction import mean

    split, bins = list(x.shape[:2]), []
    for axis, out in enumerate(sizes, start=2):
        size = x.shape[axis]
        if out is not None and size != out:
            split += [out, size // out]
            bins.append(len(split) - 1)
        else:
            split.append(size)
    if not bins:
        return x
    if bins == [len(split) - 1] and split.count(None) <= 1 and split[-1] != 0:
        # the last axis alone: a sum of the rows of a matrix (an N-D array's measured many times slower)
        rows = mean(reshape(x, (-1, split[-1])), axis=1)
        return reshape(rows, tuple(-1 if d is None else d for d in split[:-1]))
    return mean(reshape(x, tuple(split)), axis=tuple(bins))


def _nonempty_spatial(name: str, x: TensorLike, sizes: tuple) -> None:
    """Refuse an empty spatial axis, which would average no element into every bin (NaN), as PyTorch refuses it
    unless every output size is 1 (its global mean, NaN)."""
    if any(size == 0 for size in x.shape[2:]) and any(s != 1 for s in sizes):
        raise ValueError(f"{name}: the input's spatial axes must not be empty, got shape {list(x.shape)}")


# per rank: the input's layout, and how many output sizes it takes
_ADAPTIVE = {2: ("(N, C, H, W)", "a pair"), 3: ("(N, C, D, H, W)", "3 values")}


def _adaptive_avg_pool(name: str, x: TensorLike, output_size, rank: int) -> TensorLike:
    """adaptive_avg_pool2d or adaptive_avg_pool3d (``rank``): every axis at once where all bins are equal, else
    one axis at a time, the last first."""
    layout, count = _ADAPTIVE[rank]
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # averaged in float32 (both axes' bins), rounded once (as PyTorch)
        return cast(_adaptive_avg_pool(name, cast(x, float32), output_size, rank), x.dtype)
    if x.ndim == rank + 1:  # unbatched (C, *spatial)
        return unbatched(lambda batch: _adaptive_avg_pool(name, batch, output_size, rank), x)
    if x.ndim != rank + 2:
        raise ValueError(f"{name}: input must be {rank + 2}-D {layout} or {rank + 1}-D, got shape {list(x.shape)}")
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * rank
    output_size = tuple(output_size)
    if len(output_size) != rank:
        raise ValueError(f"{name}: output_size must be an int or {count}, got {output_size!r}")
    sizes = tuple(x.shape[2 + a] if s is None else s for a, s in enumerate(output_size))
    if not all(isinstance(s, (int, np.integer)) and s > 0 for s in sizes):
        raise ValueError(f"{name}: output_size must be positive ints, got {output_size!r}")
    sizes = tuple(int(s) for s in sizes)
    _nonempty_spatial(name, x, sizes)
    if any(s != 1 for s in sizes):  # PyTorch's backward reads x (its global mean's does not): see piecewise
        x = piecewise(x)
    if sizes == tuple(x.shape[2:]):
        return clone(x)  # every bin one element: still a new tensor, as PyTorch's
    if all(x.shape[2 + a] % s == 0 for a, s in enumerate(sizes)):
        return _adaptive_blocks(x, sizes)
    for axis in range(rank + 1, 1, -1):  # one axis at a time, the last first (PyTorch's rounding, more often)
        if x.shape[axis] % sizes[axis - 2] == 0:
            x = _adaptive_blocks(x, tuple(sizes[axis - 2] if a == axis else None for a in range(2, rank + 2)))
        else:
            x = _adaptive_axis(x, axis, sizes[axis - 2])
    return x


def adaptive_avg_pool2d(input: TensorLike, output_size) -> TensorLike:
    """Average ``input`` (N, C, H, W) into ``output_size`` (an int, or a pair whose None entries keep the input
    size) with PyTorch's bins: bin i spans [floor(i * H / OH), ceil((i + 1) * H / OH)).

    >>> y = ember.adaptive_avg_pool2d(ember.randn(2, 8, 7, 7), 1)   # (2, 8, 1, 1): global average pooling
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", input, output_size, 2)


def adaptive_avg_pool1d(x: TensorLike, output_size: int) -> TensorLike:
    """Average ``x`` (N, C, L) into ``output_size`` bins, like adaptive_avg_pool2d along one axis.

    >>> y = ember.adaptive_avg_pool1d(ember.randn(2, 4, 10), 3)   # (2, 4, 3)
    """
    x = to_float(x)
    if x.ndim == 2:  # unbatched (C, L)
        return unbatched(adaptive_avg_pool1d, x, output_size)
    x4 = _as_3d_input("adaptive_avg_pool1d", x)
    _nonempty_spatial("adaptive_avg_pool1d", x, (output_size,))
    return _from_4d(adaptive_avg_pool2d(x4, (1, _one("adaptive_avg_pool1d", "output_size", output_size))))

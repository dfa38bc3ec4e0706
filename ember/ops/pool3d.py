"""3-D (volumetric) pooling in NCDHW layout with PyTorch's signatures: max_pool3d, avg_pool3d, adaptive_avg_pool3d.

The primitives loop over kernel positions only, as the 2-D window-slice kernels do (``ember.ops.pooling``):
position (i, j, k) meets one strided slice of the padded input, so a window reduction is kd * kh * kw whole-array
operations, on NumPy or CuPy. Max pooling routes the gradient to the first maximum of each window in row-major
order, as PyTorch does; with the ``onednn`` extra, float32 max pooling and its gradient run on oneDNN's kernels (the
same first maxima; inputs holding NaN stay here, as for 2-D: ``pooling._on_onednn``). ``max_pool3d_grad`` and
``max_pool3d_gather`` are linear in the incoming gradient and each is the other's vjp, so gradients of gradients
work. Adaptive average pooling is composed of means and matmuls. The records' shape rules, vjps and costs are
``pool_records``'s, as the 2-D ones'.
"""

from __future__ import annotations

import itertools

import numpy as np

from ember.backend import onednn
from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.autocast import widened_on_cpu
from ember.ops.conv_padding import unbatched
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.pool_indices import holds_nan, max_pool_indices, nan_routed_gather, nan_routed_grad
from ember.ops.pool_records import avg_pool_ops, max_pool_ops, pool_out_size
from ember.ops.pooling import _adaptive_avg_pool, _divisor, _lowest, _on_onednn, _pool_attrs, override_divisor
from ember.ops.registry import Spec

_RANK = 3
_NO_DILATION = (1,) * _RANK


def _geometry(size, kernel_size, stride, padding, dilation, ceil_mode) -> tuple:
    """Output size per spatial axis, and the extra padding at the far end that ceil mode's last windows need."""
    out, extra = [], []
    for a in range(len(size)):
        o = pool_out_size(size[a], kernel_size[a], stride[a], padding[a], dilation[a], ceil_mode)
        reach = (o - 1) * stride[a] + dilation[a] * (kernel_size[a] - 1) + 1  # extent of the padded input used
        out.append(o)
        extra.append(max(0, reach - size[a] - 2 * padding[a]))
    return tuple(out), tuple(extra)


def _padded(xp, x, kernel_size, stride, padding, dilation, ceil_mode, value):
    """``x`` padded with ``value`` (and ceil mode's far planes), the output size and each kernel position's index of
    the padded input, in row-major order."""
    out, extra = _geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)
    if any(padding) or any(extra):
        full = xp.full(x.shape[:2] + tuple(s + 2 * p + e for s, p, e in zip(x.shape[2:], padding, extra)), value,
                       dtype=x.dtype)
        full[(slice(None), slice(None)) + tuple(slice(p, p + s) for s, p in zip(x.shape[2:], padding))] = x
        x = full
    return x, out, _windows(kernel_size, stride, dilation, out)


def _windows(kernel_size, stride, dilation, out) -> list:
    return [(slice(None), slice(None)) + tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                                               for t, s, d, o in zip(position, stride, dilation, out))
            for position in itertools.product(*(range(k) for k in kernel_size))]


def _cropped(y, padding, size):
    return y[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(padding, size))]


# --- max pooling ---------------------------------------------------------------------------------------------


def _max_pool3d_forward(xp, x, *, kernel_size, stride, padding, dilation, ceil_mode):
    if _on_onednn(xp, x):  # 2-3x faster than the window slices below
        out_size = _geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode)[0]
        out = onednn.max_pool2d(x, out_size, kernel_size, stride, padding, dilation)
        if out is not None:
            return out
    x, _, windows = _padded(xp, x, kernel_size, stride, padding, dilation, ceil_mode, _lowest(xp, x.dtype))
    out = x[windows[0]].copy()
    for index in windows[1:]:
        xp.maximum(out, x[index], out=out)
    return out


def _first_max_masks(xp, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Per kernel position: its index of the padded input and the mask of the windows whose first maximum
    (row-major over the kernel, PyTorch's pick) it holds; and the padded shape."""
    x, _, windows = _padded(xp, x, kernel_size, stride, padding, dilation, ceil_mode, _lowest(xp, x.dtype))
    best = x[windows[0]].copy()
    for index in windows[1:]:
        xp.maximum(best, x[index], out=best)
    masks, taken = [], None
    for index in windows:
        hit = x[index] == best
        if taken is None:
            taken = hit.copy()
        else:
            xp.greater(hit, taken, out=hit)  # equal to the maximum and not yet taken
            xp.logical_or(taken, hit, out=taken)
        masks.append((index, hit))
    return masks, x.shape


def _max_pool3d_grad_forward(xp, x, g, *, kernel_size, stride, padding, dilation, ceil_mode):
    if xp is np and holds_nan(xp, x):
        return nan_routed_grad(xp, x, g, kernel_size=kernel_size, stride=stride, padding=padding,
                               dilation=dilation, ceil_mode=ceil_mode)
    if _on_onednn(xp, x):  # 3-4x faster than the masks below
        out = onednn.max_pool2d_grad(x, g, kernel_size, stride, padding, dilation)
        if out is not None:
            return out
    masks, padded_shape = _first_max_masks(xp, x, kernel_size, stride, padding, dilation, ceil_mode)
    out = xp.zeros(padded_shape, dtype=g.dtype)
    for index, hit in masks:
        out[index] += g * hit
    return _cropped(out, padding, x.shape[2:])


def _max_pool3d_gather_forward(xp, x, h, *, kernel_size, stride, padding, dilation, ceil_mode):
    if xp is np and holds_nan(xp, x):
        return nan_routed_gather(xp, x, h, kernel_size=kernel_size, stride=stride, padding=padding,
                                 dilation=dilation, ceil_mode=ceil_mode)
    masks, _ = _first_max_masks(xp, x, kernel_size, stride, padding, dilation, ceil_mode)
    h = _padded(xp, h, kernel_size, stride, padding, dilation, ceil_mode, 0)[0]
    out = None
    for index, hit in masks:
        out = h[index] * hit if out is None else xp.add(out, h[index] * hit, out=out)
    return out


MAX_POOL3D, MAX_POOL3D_GRAD, MAX_POOL3D_GATHER = max_pool_ops(
    _RANK, _max_pool3d_forward, _max_pool3d_grad_forward, _max_pool3d_gather_forward)


# --- average pooling ---------------------------------------------------------------------------------------


def _avg_pool3d_forward(xp, x, *, kernel_size, stride, padding, ceil_mode, count_include_pad):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: summed in float32, rounded once (as PyTorch)
        return _avg_pool3d_forward(xp, x.astype(np.float32), kernel_size=kernel_size, stride=stride, padding=padding,
                                   ceil_mode=ceil_mode, count_include_pad=count_include_pad).astype(x.dtype)
    divisor = _divisor(xp, x.shape[2:], kernel_size, stride, padding, ceil_mode, count_include_pad, x.dtype)
    x, _, windows = _padded(xp, x, kernel_size, stride, padding, _NO_DILATION, ceil_mode, 0)
    out = x[windows[0]].copy()
    for index in windows[1:]:
        xp.add(out, x[index], out=out)
    out /= divisor
    return out


def _avg_pool3d_grad_forward(xp, g, *, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad):
    g = g / _divisor(xp, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad, g.dtype)
    extra = _geometry(input_size, kernel_size, stride, padding, _NO_DILATION, ceil_mode)[1]
    out = xp.zeros(g.shape[:2] + tuple(s + 2 * p + e for s, p, e in zip(input_size, padding, extra)), dtype=g.dtype)
    for index in _windows(kernel_size, stride, _NO_DILATION, g.shape[2:]):
        out[index] += g
    return _cropped(out, padding, input_size)


AVG_POOL3D, AVG_POOL3D_GRAD = avg_pool_ops(_RANK, _avg_pool3d_forward, _avg_pool3d_grad_forward)


# --- public functions --------------------------------------------------------------------------------------


def max_pool3d(x: TensorLike, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False) -> TensorLike:
    """Maximum over each ``kernel_size`` window of ``x`` (N, C, D, H, W) or (C, D, H, W); ``stride`` defaults to the
    kernel size, padding counts as -inf. The gradient goes to the first maximum of each window, as in PyTorch;
    ``return_indices`` also returns each maximum's flat index in its (D, H, W) volume (int64).

    >>> y = ember.max_pool3d(ember.randn(1, 3, 8, 8, 8), 2)   # (1, 3, 4, 4, 4)
    """
    x = as_tensor(x)
    if not return_indices:  # (float32 in a CPU autocast region, as PyTorch's; max_pool3d_with_indices is not)
        (x,) = widened_on_cpu(x)
    if x.ndim == 4:  # unbatched (C, D, H, W)
        return unbatched(max_pool3d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    attrs = _pool_attrs("max_pool3d", kernel_size, stride, padding, dilation, _RANK)
    attrs["ceil_mode"] = bool(ceil_mode)
    MAX_POOL3D.infer(Spec(tuple(x.shape), x.dtype), **attrs)
    y = dispatch.apply(MAX_POOL3D, (x,), attrs)
    return (y, max_pool_indices(x, attrs)) if return_indices else y


def avg_pool3d(x: TensorLike, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> TensorLike:
    """Mean over each ``kernel_size`` window of ``x`` (N, C, D, H, W); zero padding counts in the mean when
    ``count_include_pad`` (PyTorch's default and divisor rule); ``divisor_override``: each window's sum divided by
    that number instead.

    >>> y = ember.avg_pool3d(ember.randn(1, 3, 8, 8, 8), 3, stride=2, padding=1)   # (1, 3, 4, 4, 4)
    """
    (x,) = widened_on_cpu(to_float(x))  # (float32 in a CPU autocast region, as PyTorch's)
    if divisor_override is not None and x.dtype in LOW_PRECISION:  # rescaled in float32, rounded once (as PyTorch)
        return cast(avg_pool3d(cast(x, float32), kernel_size, stride, padding, ceil_mode, count_include_pad,
                               divisor_override), x.dtype)
    if x.ndim == 4:  # unbatched (C, D, H, W)
        return unbatched(avg_pool3d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    attrs = _pool_attrs("avg_pool3d", kernel_size, stride, padding, rank=_RANK)
    del attrs["dilation"]
    attrs["ceil_mode"] = bool(ceil_mode)
    attrs["count_include_pad"] = bool(count_include_pad) or divisor_override is not None
    AVG_POOL3D.infer(Spec(tuple(x.shape), x.dtype), **attrs)
    y = dispatch.apply(AVG_POOL3D, (x,), attrs)
    return y if divisor_override is None else override_divisor("avg_pool3d", x, y, attrs, divisor_override)


def adaptive_avg_pool3d(input: TensorLike, output_size) -> TensorLike:
    """Average ``input`` (N, C, D, H, W) into ``output_size`` (an int, or a triple whose None entries keep the input
    size) with PyTorch's bins: bin i spans [floor(i * D / OD), ceil((i + 1) * D / OD)).

    >>> y = ember.adaptive_avg_pool3d(ember.randn(2, 8, 4, 7, 7), 1)   # (2, 8, 1, 1, 1): global average pooling
    """
    (input,) = widened_on_cpu(as_tensor(input))  # (float32 in a CPU autocast region, as PyTorch's)
    return _adaptive_avg_pool("adaptive_avg_pool3d", input, output_size, _RANK)

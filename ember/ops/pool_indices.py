"""Where max pooling finds its maxima, for any number of spatial axes: ``max_pool_indices``,
``adaptive_max_pool_indices`` and ``fractional_max_pool_indices``, each the flat position of every window's maximum
in its (N, C) plane of the input (PyTorch's ``return_indices``), int64 and not differentiable.

The rule is PyTorch's: a window's index starts at its first element inside the input and moves to each later
element that is greater, or NaN (so a NaN wins, the last NaN of the window); padding never wins. Fractional windows
start where PyTorch's pseudo-random sequence puts them: for samples u in [0, 1), window i of ``out`` over an axis
of ``size`` with kernel ``k`` starts at floor((i + u) * a) - floor(u * a), a = (size - k) / (out - 1), the last at
size - k.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ember.backend.dtypes import FLOATING, int64
from ember.ops.adaptive_pool import adaptive_bins
from ember.ops.infer import check_window, differ
from ember.ops.pool_records import check_max_pool_dtype, check_pool, pool_cost, pool_out_size
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error


def _plane_strides(spatial: tuple) -> list:
    """The flat-index stride of each spatial axis in a row-major plane."""
    return [math.prod(spatial[a + 1:]) for a in range(len(spatial))]


def _take_greater(xp, best, index, candidate, candidate_index) -> None:
    """Move ``best`` and ``index`` (in place) to the candidates that are greater, or NaN."""
    wins = candidate > best
    if candidate.dtype in FLOATING:
        wins |= xp.isnan(candidate)
    xp.copyto(best, candidate, where=wins)
    xp.copyto(index, xp.broadcast_to(candidate_index, index.shape), where=wins)


def _lowest(dtype):
    return -np.inf if np.dtype(dtype) in FLOATING else np.iinfo(dtype).min


def _max_pool_indices_forward(xp, x, *, kernel_size, stride, padding, dilation, ceil_mode):
    spatial = tuple(x.shape[2:])
    rank = len(spatial)
    out = [pool_out_size(spatial[a], kernel_size[a], stride[a], padding[a], dilation[a], ceil_mode)
           for a in range(rank)]
    reach = [(out[a] - 1) * stride[a] + dilation[a] * (kernel_size[a] - 1) + 1 for a in range(rank)]
    pads = [(0, 0), (0, 0)] + [(padding[a], max(0, reach[a] - spatial[a] - padding[a])) for a in range(rank)]
    padded = xp.pad(x, pads, constant_values=_lowest(x.dtype))
    strides = _plane_strides(spatial)
    starts = [np.arange(out[a]) * stride[a] - padding[a] for a in range(rank)]

    def flat(positions):  # the flat plane index of per-axis position vectors, broadcast over the output grid
        total = np.zeros(out, dtype=np.int64)
        for a, p in enumerate(positions):
            total += (p * strides[a]).reshape([-1 if b == a else 1 for b in range(rank)])
        return xp.asarray(total)

    # each window's first element inside the input: padding is at most half the kernel, so there is one
    first = [s + -(-np.maximum(-s, 0) // dilation[a]) * dilation[a] for a, s in enumerate(starts)]
    index = xp.empty(x.shape[:2] + tuple(out), dtype=np.int64)
    index[...] = flat(first)
    best = xp.full(index.shape, _lowest(x.dtype), dtype=x.dtype)
    for offsets in itertools.product(*(range(k) for k in kernel_size)):
        window = tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in zip(offsets, dilation, out, stride))
        inside = [starts[a] + offsets[a] * dilation[a] for a in range(rank)]
        _take_greater(xp, best, index, padded[(slice(None), slice(None)) + window],
                      flat([np.clip(p, 0, spatial[a] - 1) for a, p in enumerate(inside)]))
    return index


def holds_nan(xp, x) -> bool:
    """Whether ``x`` is floating and holds a NaN (its maximum over everything, one fast pass, is NaN)."""
    return x.dtype in FLOATING and x.size > 0 and bool(xp.isnan(xp.max(x)))


def nan_routed_grad(xp, x, g, *, kernel_size, stride, padding, dilation, ceil_mode):
    """Max pooling's gradient for input holding NaN: each window's ``g`` added at its index (a NaN window's last
    NaN, PyTorch's pick), where the kernels' equality with the window maximum finds no NaN element."""
    index = _max_pool_indices_forward(xp, x, kernel_size=kernel_size, stride=stride, padding=padding,
                                      dilation=dilation, ceil_mode=ceil_mode)
    planes, plane = x.shape[0] * x.shape[1], math.prod(x.shape[2:])
    flat = (index.reshape(planes, -1) + xp.arange(planes).reshape(-1, 1) * plane).reshape(-1)
    summed = xp.bincount(flat, weights=g.reshape(-1).astype(np.float64), minlength=planes * plane)
    return summed.astype(g.dtype).reshape(x.shape)


def nan_routed_gather(xp, x, h, *, kernel_size, stride, padding, dilation, ceil_mode):
    """``h`` at the windows' indices of ``x`` (the gradient's own vjp), for input holding NaN."""
    index = _max_pool_indices_forward(xp, x, kernel_size=kernel_size, stride=stride, padding=padding,
                                      dilation=dilation, ceil_mode=ceil_mode)
    planes = x.shape[0] * x.shape[1]
    return xp.take_along_axis(h.reshape(planes, -1), index.reshape(planes, -1), axis=1).reshape(index.shape)


def _max_pool_indices_infer(x, *, kernel_size, stride, padding, dilation, ceil_mode):
    name = "max_pool_indices"
    check_max_pool_dtype(name, x)
    rank = _spatial_rank(name, x)
    spec = check_pool(name, x, rank, kernel_size, stride, padding, dilation, ceil_mode)
    return Spec(spec.shape, int64)


MAX_POOL_INDICES = defop("max_pool_indices", forward=_max_pool_indices_forward, infer=_max_pool_indices_infer,
                         vjp=NON_DIFFERENTIABLE, cost=pool_cost, onnx=NO_ONNX)


def _regions_argmax(xp, x, regions: list):
    """The flat plane index of the maximum of each output position's region, ``regions`` holding each spatial
    axis's (starts, ends) (the same for every plane): one argmax per output position."""
    spatial = tuple(x.shape[2:])
    strides = _plane_strides(spatial)
    out = [len(starts) for starts, _ in regions]
    index = xp.empty(x.shape[:2] + tuple(out), dtype=np.int64)
    for position in itertools.product(*(range(n) for n in out)):
        bounds = [(int(regions[a][0][i]), int(regions[a][1][i])) for a, i in enumerate(position)]
        block = x[(slice(None), slice(None)) + tuple(slice(b, e) for b, e in bounds)]
        local = _first_argmax(xp, block.reshape(x.shape[:2] + (-1,)))
        coords = xp.unravel_index(local, tuple(e - b for b, e in bounds))
        index[(slice(None), slice(None)) + position] = sum((coords[a] + bounds[a][0]) * strides[a]
                                                           for a in range(len(spatial)))
    return index


def _first_argmax(xp, rows):
    """The index of the maximum along the last axis, with PyTorch's NaN rule (the last NaN where there is one)."""
    at = xp.argmax(rows, axis=-1)
    if rows.dtype in FLOATING:
        nan = xp.isnan(rows)
        last_nan = rows.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
        at = xp.where(nan.any(axis=-1), last_nan, at)
    return at


def _adaptive_max_pool_indices_forward(xp, x, *, output_size):
    regions = [adaptive_bins(x.shape[2 + a], n) for a, n in enumerate(output_size)]
    return _regions_argmax(xp, x, regions)


def _spatial_rank(name: str, x: Spec) -> int:
    if x.ndim < 3:
        raise shape_error(name, [x], f"input must be (N, C, *spatial) with a spatial axis, got {x.ndim}-D")
    return x.ndim - 2


def _adaptive_max_pool_indices_infer(x, *, output_size):
    name = "adaptive_max_pool_indices"
    check_max_pool_dtype(name, x, bools=True)
    check_window(name, [x], _spatial_rank(name, x), output_size=output_size)
    if any(s is not None and s <= 0 for s in x.shape[2:]):
        raise shape_error(name, [x], "the spatial sizes must be positive")
    return Spec(tuple(x.shape[:2]) + tuple(output_size), int64)


def _adaptive_cost(out: Spec, x: Spec, **attrs) -> Cost:
    return Cost(x.size or 0, (x.nbytes or 0) + (out.nbytes or 0))


ADAPTIVE_MAX_POOL_INDICES = defop("adaptive_max_pool_indices", forward=_adaptive_max_pool_indices_forward,
                                  infer=_adaptive_max_pool_indices_infer, vjp=NON_DIFFERENTIABLE,
                                  cost=_adaptive_cost, onnx=NO_ONNX)


def fractional_starts(samples: np.ndarray, size: int, kernel: int, out: int) -> np.ndarray:
    """PyTorch's fractional window starts along one axis for ``samples`` in [0, 1) (any shape), computed in the
    samples' float type as PyTorch does: (*shape, out) int64."""
    samples = np.asarray(samples)[..., None]
    starts = np.empty(samples.shape[:-1] + (out,), dtype=np.int64)
    if out > 1:
        real = samples.dtype.type
        alpha = real(size - kernel) / real(out - 1)
        i = np.arange(out - 1).astype(samples.dtype)
        starts[..., :-1] = (np.floor((i + samples) * alpha) - np.floor(samples * alpha)).astype(np.int64)
    starts[..., -1] = size - kernel
    return starts


# which column of a plane's samples each spatial axis reads: PyTorch's 2-D pooling takes width first
_SAMPLE_COLUMN = {2: (1, 0), 3: (0, 1, 2)}


def _fractional_forward(xp, x, samples, *, kernel_size, output_size):
    """``samples`` (N, C, rank) in [0, 1): PyTorch's ``_random_samples``, one per plane and spatial axis."""
    rank = len(kernel_size)
    host = np.asarray(samples.get() if hasattr(samples, "get") else samples)
    starts = [fractional_starts(host[:, :, _SAMPLE_COLUMN[rank][a]], x.shape[2 + a], kernel_size[a], output_size[a])
              for a in range(rank)]
    return _planewise_argmax(xp, x, starts, kernel_size)


def _planewise_argmax(xp, x, starts: list, kernel_size: tuple):
    """The flat plane index of each window's maximum, the windows' ``starts`` (N, C, out) differing per plane:
    one gather per kernel offset."""
    spatial = tuple(x.shape[2:])
    rank = len(spatial)
    strides = _plane_strides(spatial)
    n, c = x.shape[:2]
    out = tuple(s.shape[-1] for s in starts)
    rows = x.reshape(n, c, -1)
    index = best = None
    for offsets in itertools.product(*(range(k) for k in kernel_size)):
        position = np.zeros((n, c) + out, dtype=np.int64)
        for a in range(rank):
            position += ((starts[a] + offsets[a]) * strides[a]).reshape((n, c) + tuple(
                -1 if b == a else 1 for b in range(rank)))
        position = xp.asarray(position)
        values = xp.take_along_axis(rows, position.reshape(n, c, -1), axis=2).reshape(position.shape)
        if index is None:
            index, best = position, values
        else:
            _take_greater(xp, best, index, values, position)
    return index


def _fractional_infer(x, samples, *, kernel_size, output_size):
    name = "fractional_max_pool_indices"
    check_max_pool_dtype(name, x, bools=True)
    rank = _spatial_rank(name, x)
    check_window(name, [x, samples], rank, kernel_size=kernel_size, output_size=output_size)
    if rank not in _SAMPLE_COLUMN:
        raise shape_error(name, [x, samples], f"input must be 4-D or 5-D, got {x.ndim}-D")
    expected = (x.shape[0], x.shape[1], rank)
    if samples.ndim != 3 or any(differ(a, b) for a, b in zip(samples.shape, expected)) \
            or samples.dtype not in FLOATING:
        raise shape_error(name, [x, samples], f"_random_samples must be floats of shape (N, C, {rank})")
    for a in range(rank):
        size = x.shape[2 + a]
        if size is not None and output_size[a] + kernel_size[a] - 1 > size:
            raise shape_error(name, [x, samples], f"output_size {list(output_size)} plus kernel_size "
                              f"{list(kernel_size)} minus 1 exceeds the input size {size} along spatial axis {a}")
    return Spec(tuple(x.shape[:2]) + tuple(output_size), int64)


FRACTIONAL_MAX_POOL_INDICES = defop("fractional_max_pool_indices", forward=_fractional_forward,
                                    infer=_fractional_infer, vjp=NON_DIFFERENTIABLE,
                                    cost=lambda out, x, s, **attrs: _adaptive_cost(out, x), onnx=NO_ONNX)


def max_pool_indices(x, attrs: dict):
    """The indices of ``x``'s max pooling with the max_pool op's ``attrs`` (an int64 Tensor, no gradient)."""
    from ember.ops import dispatch

    return dispatch.apply(MAX_POOL_INDICES, (x,), attrs)

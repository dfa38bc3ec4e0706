"""Max pooling on NumPy arrays as whole-array operations on phase planes, beside pooling.py's window slices.

A window slice of an (N, C, H, W) input is strided along W, so NumPy runs each operation on it in inner loops
only OW long: at ResNet's stem (8x8 outputs) an operation costs 5-8x a contiguous one, and the gradient of a
3x3 / stride 2 pooling, a dozen such operations per kernel position, cost 30-40x PyTorch's indexed scatter.

Here the padded input is split once into its stride x stride phases (rows r = s * e + phase): one plane per
phase, each (N * C, E_h, E_w) with E = output size + the largest tap offset, flattened, with the filler (-inf)
below and to the right. Kernel tap (i, j) then reads plane (i * dh % sh, j * dw % sw) at a flat offset of
(i * dh // sh) rows and (j * dw // sw) columns: a contiguous slice of the whole flat array, whatever N and C.
Values that a shift carries across a row or plane boundary come from the filler rows and columns and land
only in output positions beyond OH x OW, which are dropped. The gradient scatters back the same way, into
planes of zeros, and the planes are written into the (N, C, H, W) result once.
"""

from __future__ import annotations

import numpy as np


class _Axis:
    """One axis's geometry: per kernel tap its phase and offset, the plane extent, and per phase which input
    indices fill which plane indices (``first_plane``, ``first_input``, ``count``)."""

    __slots__ = ("phases", "offsets", "extent", "first_plane", "first_input", "count", "stride", "covers")

    def __init__(self, size: int, kernel: int, stride: int, before: int, dilation: int, out: int):
        self.stride = stride
        self.phases = [(t * dilation) % stride for t in range(kernel)]
        self.offsets = [(t * dilation) // stride for t in range(kernel)]
        self.extent = out + max(self.offsets)
        self.first_plane, self.first_input, self.count = [], [], []
        covered = 0
        for phase in range(stride):  # phases no tap reads (a stride above the kernel's reach) keep count 0
            e0 = max(0, -(-(before - phase) // stride))
            h0 = stride * e0 + phase - before
            n = max(0, min(-(-(size - h0) // stride), self.extent - e0)) if phase in self.phases else 0
            self.first_plane.append(e0)
            self.first_input.append(h0)
            self.count.append(n)
            covered += n
        self.covers = covered == size  # every input index lies on some plane (else the gradient starts at zero)

    def planes(self, phase: int) -> slice:
        return slice(self.first_plane[phase], self.first_plane[phase] + self.count[phase])

    def inputs(self, phase: int) -> slice:
        start = self.first_input[phase]
        return slice(start, start + self.stride * (self.count[phase] - 1) + 1 if self.count[phase] else start,
                     self.stride)


def _geometry(x_shape, out_hw, kernel_size, stride, padding, dilation) -> tuple:
    return tuple(_Axis(x_shape[2 + a], kernel_size[a], stride[a], padding[a], dilation[a], out_hw[a])
                 for a in (0, 1))


def _phase_planes(x, rows: _Axis, cols: _Axis, fill, tail: int) -> dict:
    """The flat planes of ``x`` per (row phase, column phase) that some tap reads, ``fill`` outside x."""
    planes = {}
    channels = x.shape[0] * x.shape[1]
    size = channels * rows.extent * cols.extent
    for p in sorted(set(rows.phases)):
        for q in sorted(set(cols.phases)):
            flat = np.full(size + tail, fill, dtype=x.dtype)
            view = flat[:size].reshape(channels, rows.extent, cols.extent)
            view[:, rows.planes(p), cols.planes(q)] = x[:, :, rows.inputs(p), cols.inputs(q)].reshape(
                channels, rows.count[p], cols.count[q])
            planes[p, q] = flat
    return planes


def _taps(rows: _Axis, cols: _Axis) -> list:
    """Per kernel tap in row-major order: its plane key and flat offset."""
    width = cols.extent
    return [((rows.phases[i], cols.phases[j]), rows.offsets[i] * width + cols.offsets[j])
            for i in range(len(rows.phases)) for j in range(len(cols.phases))]


def _window_maxima(planes: dict, taps: list, size: int):
    """The flat (N * C, E_h, E_w) maxima (np.maximum's, so NaN wins) over the taps, in row-major order."""
    (key, offset), *rest = taps
    best = planes[key][offset:offset + size].copy()
    for key, offset in rest:
        np.maximum(best, planes[key][offset:offset + size], out=best)
    return best


def first_maxima(hits, count: int):
    """Given, in row-major tap order, each of ``count`` taps' mask of the windows whose maximum it equals, yield
    each tap's mask of the windows whose first maximum it holds (equal and not taken by an earlier tap),
    computed in place over the mask given."""
    taken = None
    for k, hit in enumerate(hits):
        if taken is None:
            taken = hit.copy() if count > 1 else hit
        else:
            np.greater(hit, taken, out=hit)
            if k != count - 1:
                np.logical_or(taken, hit, out=taken)
        yield hit


def max_pool2d(x, out_hw, kernel_size, stride, padding, dilation, fill):
    """Max pooling of NumPy ``x`` (N, C, H, W) into ``out_hw``; ``fill``: the padding value (-inf)."""
    rows, cols = _geometry(x.shape, out_hw, kernel_size, stride, padding, dilation)
    size = x.shape[0] * x.shape[1] * rows.extent * cols.extent
    taps = _taps(rows, cols)
    planes = _phase_planes(x, rows, cols, fill, max(offset for _, offset in taps))
    best = _window_maxima(planes, taps, size).reshape(x.shape[0], x.shape[1], rows.extent, cols.extent)
    return np.ascontiguousarray(best[:, :, :out_hw[0], :out_hw[1]])


def max_pool2d_grad(x, g, kernel_size, stride, padding, dilation, fill):
    """The gradient of ``max_pool2d`` for NumPy ``x`` given the output gradient ``g``: each window's g goes to
    its first maximum in row-major order (none when the maximum is NaN), summed where windows overlap."""
    out_hw = g.shape[2:]
    rows, cols = _geometry(x.shape, out_hw, kernel_size, stride, padding, dilation)
    channels = x.shape[0] * x.shape[1]
    size = channels * rows.extent * cols.extent
    taps = _taps(rows, cols)
    tail = max(offset for _, offset in taps)
    planes = _phase_planes(x, rows, cols, fill, tail)
    best = _window_maxima(planes, taps, size)
    grad = np.zeros(size, dtype=g.dtype)
    grad.reshape(channels, rows.extent, cols.extent)[:, :out_hw[0], :out_hw[1]] = g.reshape(channels, *out_hw)
    # each tap's windows whose first maximum (row-major) it holds: equal to the maximum and not yet taken;
    # boolean passes over the flat planes (np.copyto and np.where with a mask run 10-20x slower)
    sums, routed = {}, np.empty(size, dtype=g.dtype)
    hits = (planes[key][offset:offset + size] == best for key, offset in taps)
    for (key, offset), hit in zip(taps, first_maxima(hits, len(taps))):
        np.multiply(grad, hit, out=routed)
        target = sums.get(key)
        if target is None:
            target = sums[key] = np.zeros(size + tail, dtype=g.dtype)
        target[offset:offset + size] += routed
    out = (np.empty if rows.covers and cols.covers else np.zeros)(x.shape, dtype=g.dtype)
    for (p, q), flat in sums.items():
        view = flat[:size].reshape(x.shape[0], x.shape[1], rows.extent, cols.extent)
        out[:, :, rows.inputs(p), cols.inputs(q)] = view[:, :, rows.planes(p), cols.planes(q)]
    return out

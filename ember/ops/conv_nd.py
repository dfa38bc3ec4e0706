"""im2col kernels over any number of spatial axes, for the 3-D convolutions (``ember.ops.conv3d``).

The layout is conv.py's: the input moved batch-last, (C, *S, N), so every window slice keeps runs of the last
output axis times N contiguous elements; a strided view of it with the kernel axes beside the output axes is
copied once into columns (C * prod(kernel), prod(out) * N), and each group is one matmul. The adjoint, col2im,
adds each kernel position's columns back with one strided add (a loop over kernel positions only).
Every kernel here takes the spatial rank from its arrays' shapes and runs on NumPy or CuPy (``xp``).
"""

from __future__ import annotations

import itertools
import math


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length of a convolution along one axis (may be <= 0 when the kernel does not fit)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def transposed_size(size: int, kernel: int, stride: int, padding: int, dilation: int, output_padding: int) -> int:
    """Output length of a transposed convolution along one axis."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def conv_out_sizes(size, kernel, stride, padding, dilation) -> tuple:
    """Output sizes of a convolution along each spatial axis (may be <= 0 where the kernel does not fit)."""
    return tuple(map(conv_out_size, size, kernel, stride, padding, dilation))


def transposed_sizes(size, kernel, stride, padding, dilation, output_padding) -> tuple:
    """Output sizes of a transposed convolution along each spatial axis."""
    return tuple(map(transposed_size, size, kernel, stride, padding, dilation, output_padding))


def batch_last(xp, x, padding):
    """``x`` (N, C, *S) as a contiguous (C, *(S + 2 * padding), N) array, zeros in the padding."""
    n, c, spatial = x.shape[0], x.shape[1], x.shape[2:]
    shape = (c,) + tuple(s + 2 * p for s, p in zip(spatial, padding)) + (n,)
    out = (xp.zeros if any(padding) else xp.empty)(shape, dtype=x.dtype)
    inner = (slice(None),) + tuple(slice(p, p + s) for s, p in zip(spatial, padding))
    out[inner] = x.transpose((1,) + tuple(range(2, x.ndim)) + (0,))
    return out


def batch_first(xp, y):
    """(C, *S, N) back to a contiguous (N, C, *S)."""
    return xp.ascontiguousarray(y.transpose((y.ndim - 1,) + tuple(range(y.ndim - 1))))


def im2col(xp, x, kernel, stride, padding, dilation, out_size):
    """Columns (C * prod(kernel), prod(out_size) * N) of ``x`` (N, C, *S): one copy of a strided window view.
    ``out_size`` may be smaller than the convolution's (its leading pixels: what a cropped gradient needs)."""
    xt = batch_last(xp, x, padding)
    c, n = xt.shape[0], xt.shape[-1]
    axes = xt.strides[1:-1]
    view = xp.lib.stride_tricks.as_strided(
        xt,
        (c,) + tuple(kernel) + tuple(out_size) + (n,),
        (xt.strides[0],) + tuple(s * d for s, d in zip(axes, dilation)) + tuple(s * t for s, t in zip(axes, stride))
        + (xt.strides[-1],),
    )
    return xp.ascontiguousarray(view).reshape(c * math.prod(kernel), math.prod(out_size) * n)


def col2im(xp, cols, shape, kernel, stride, padding, dilation, in_size):
    """The adjoint of ``im2col``: columns (C * prod(kernel), prod(in_size) * N) summed back into an (N, C, *S)
    array of ``shape``, where ``in_size`` is the size of the window grid (the columns' pixels)."""
    n, c, spatial = shape[0], shape[1], shape[2:]
    cols = cols.reshape((c,) + tuple(kernel) + tuple(in_size) + (n,))
    out = xp.zeros((c,) + tuple(s + 2 * p for s, p in zip(spatial, padding)) + (n,), dtype=cols.dtype)
    for position in itertools.product(*(range(k) for k in kernel)):
        index = tuple(slice(t * d, t * d + st * (m - 1) + 1, st)
                      for t, d, st, m in zip(position, dilation, stride, in_size))
        out[(slice(None),) + index] += cols[(slice(None),) + position]
    inner = (slice(None),) + tuple(slice(p, p + s) for s, p in zip(spatial, padding))
    return batch_first(xp, out[inner])


def conv(xp, x, w, stride, padding, dilation, groups: int):
    """Convolution (cross-correlation) of ``x`` (N, C, *S) with ``w`` (O, C / groups, *K) as (N, O, *out)."""
    o, kernel = w.shape[0], w.shape[2:]
    out_size = conv_out_sizes(x.shape[2:], kernel, stride, padding, dilation)
    cols = im2col(xp, x, kernel, stride, padding, dilation, out_size)
    y = xp.matmul(w.reshape(groups, o // groups, -1), cols.reshape(groups, -1, cols.shape[1]))
    return batch_first(xp, y.reshape((o,) + out_size + (x.shape[0],)))


def conv_transpose(xp, x, w, stride, padding, dilation, groups: int, output_padding):
    """Transposed convolution of ``x`` (N, C_in, *S) with ``w`` (C_in, C_out / groups, *K) as (N, C_out, *out):
    the adjoint of ``conv`` from (C_out, *out) images to (C_in, *S) ones."""
    n, c_in, in_size = x.shape[0], x.shape[1], x.shape[2:]
    kernel = w.shape[2:]
    out_size = transposed_sizes(in_size, kernel, stride, padding, dilation, output_padding)
    xt = batch_last(xp, x, (0,) * len(in_size)).reshape(groups, c_in // groups, -1)
    taps = w.reshape(groups, c_in // groups, -1).transpose(0, 2, 1)  # (groups, C_out/groups * prod(K), C_in/groups)
    cols = xp.matmul(taps, xt)
    shape = (n, w.shape[1] * groups) + out_size
    return col2im(xp, cols.reshape(-1, cols.shape[2]), shape, kernel, stride, padding, dilation, in_size)


def conv_weight_grad(xp, x, gy, kernel, stride, padding, dilation, groups: int):
    """The (O, C / groups, *K) weight gradient of ``conv`` for ``x`` (N, C, *S) and ``gy`` (N, O, *out), which may
    cover only the leading pixels of the convolution's output."""
    o, c = gy.shape[1], x.shape[1]
    cols = im2col(xp, x, kernel, stride, padding, dilation, gy.shape[2:])
    cols = cols.reshape(groups, -1, cols.shape[1])
    gy = batch_last(xp, gy, (0,) * (gy.ndim - 2)).reshape(groups, o // groups, -1)
    gw = xp.matmul(gy, cols.transpose(0, 2, 1))
    return gw.reshape((o, c // groups) + tuple(kernel))

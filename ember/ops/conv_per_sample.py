"""Per-sample (NCHW) im2col kernels for the CPU, chosen by shape beside conv.py's batch-last kernels.

conv.py's kernels move the batch last so every copy runs over long contiguous stretches; that wins when
the output image is small. When it is large (OH * OW of a few hundred pixels and up), the batch-last
transposes and one huge column matrix cost more than they save: a column matrix per sample, built from
a strided view of the NCHW input and used by a batched matmul while it is still in cache, runs about
twice as fast (LeNet's first layer, ResNet's 32x32 stage) and needs no transpose of the output.
The choice depends only on shapes, so a given model always runs the same kernels (reproducible sums).
"""

from __future__ import annotations

import numpy as np

# Output pixels per image from which the per-sample kernels win (measured on LeNet-5 and ResNet-18 shapes:
# 576 and 1024 pixels win by 1.5-3x, 64 pixels loses by 10-40%); the weight gradient needs more pixels,
# because its per-sample products are summed afterwards.
FORWARD_MIN_PIXELS = 256
WEIGHT_GRAD_MIN_PIXELS = 512
# Samples per batched matmul: enough columns to keep BLAS busy, few enough to stay in the L2 cache.
_CHUNK_BYTES = 2 << 20


def use_per_sample(xp, groups: int, out_h: int, out_w: int, min_pixels: int) -> bool:
    """Whether a NumPy convolution of this output size runs faster through the per-sample kernels."""
    return xp is np and groups == 1 and out_h * out_w >= min_pixels


def weight_grad_per_sample(xp, groups: int, out_h: int, out_w: int, column_rows: int) -> bool:
    """Whether a NumPy weight gradient runs faster through the per-sample kernels: from 512 output pixels,
    and from 256 when a sample's column matrix has fewer rows (C * kh * kw) than pixels, so the per-sample
    partial sums are smaller than the output gradient the batch-last kernel would transpose (ResNet's
    7x7 stem on 32x32 images: 8.4 against 9.9 ms)."""
    pixels = out_h * out_w
    return use_per_sample(xp, groups, out_h, out_w, FORWARD_MIN_PIXELS) and (
        pixels >= WEIGHT_GRAD_MIN_PIXELS or column_rows <= pixels)


def _columns(x, kernel, stride, dilation, out_h: int, out_w: int):
    """Columns (n, C * kh * kw, OH * OW) of an already padded (n, C, H, W) chunk."""
    n, c = x.shape[:2]
    sn, sc, sh, sw = x.strides
    view = np.lib.stride_tricks.as_strided(
        x,
        (n, c, kernel[0], kernel[1], out_h, out_w),
        (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
    )
    return view.reshape(n, c * kernel[0] * kernel[1], out_h * out_w)


def _chunk(x, kernel, out_h: int, out_w: int) -> int:
    per_sample = x.shape[1] * kernel[0] * kernel[1] * out_h * out_w * x.itemsize
    return max(1, min(x.shape[0], _CHUNK_BYTES // max(per_sample, 1)))


def conv2d(x, w, stride, dilation, out_h: int, out_w: int):
    """conv2d of a padded float (N, C, H, W) ``x`` with ``w`` (O, C, kh, kw) as (N, O, OH, OW)."""
    n, o = x.shape[0], w.shape[0]
    kernel = w.shape[2:]
    w2 = w.reshape(o, -1)
    out = np.empty((n, o, out_h, out_w), dtype=np.result_type(x, w))
    flat = out.reshape(n, o, out_h * out_w)
    step = _chunk(x, kernel, out_h, out_w)
    for start in range(0, n, step):
        cols = _columns(x[start:start + step], kernel, stride, dilation, out_h, out_w)
        np.matmul(w2, cols, out=flat[start:start + step])
    return out


def conv2d_weight_grad(x, gy, kernel, stride, dilation):
    """The (O, C, kh, kw) weight gradient of conv2d for a padded float ``x`` and ``gy`` (N, O, OH, OW)."""
    n, c = x.shape[:2]
    o, out_h, out_w = gy.shape[1:]
    gy = gy.reshape(n, o, out_h * out_w)
    total = None
    step = _chunk(x, kernel, out_h, out_w)
    for start in range(0, n, step):
        cols = _columns(x[start:start + step], kernel, stride, dilation, out_h, out_w)
        part = np.matmul(gy[start:start + step], cols.transpose(0, 2, 1)).sum(axis=0)
        total = part if total is None else np.add(total, part, out=total)
    return total.reshape((o, c) + tuple(kernel))

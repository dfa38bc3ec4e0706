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


def _wide(x, stride):
    """``x`` with rows that follow each other in memory when the columns are taken as whole input rows (stride
    1: output pixel (oh, ow) at oh * W + ow), else None."""
    if tuple(stride) != (1, 1):
        return None
    return x if x.strides[2] == x.shape[3] * x.strides[3] else np.ascontiguousarray(x)


def _wide_span(x_shape, out_h: int, out_w: int) -> int:
    """Wide pixels a sample's columns cover: OH rows of the input's width W, the last one cut at OW."""
    return (out_h - 1) * x_shape[3] + out_w


def _wide_columns(x, kernel, dilation, out_h: int, out_w: int):
    """Columns (n, C * kh * kw, span) of a padded (n, C, H, W) chunk for a stride-1 convolution, over "wide"
    output pixels oh * W + ow that run on past OW to the end of each input row. Each row of the columns is
    then one contiguous run of the input (kernel tap (i, j) starts at i * dh * W + j * dw), so the copy makes
    C * kh * kw long runs per sample instead of C * kh * kw * OH short ones of OW; the pixels past OW are
    computed and dropped (LeNet's first layer: forward 1.13x faster in a training step)."""
    n, c = x.shape[:2]
    sn, sc, sh, sw = x.strides
    span = _wide_span(x.shape, out_h, out_w)
    view = np.lib.stride_tricks.as_strided(
        x, (n, c, kernel[0], kernel[1], span), (sn, sc, sh * dilation[0], sw * dilation[1], sw))
    return view.reshape(n, c * kernel[0] * kernel[1], span)


def _chunk(per_sample_bytes: int, n: int) -> int:
    return max(1, min(n, _CHUNK_BYTES // max(per_sample_bytes, 1)))


def conv2d(x, w, stride, dilation, out_h: int, out_w: int):
    """conv2d of a padded float (N, C, H, W) ``x`` with ``w`` (O, C, kh, kw) as (N, O, OH, OW)."""
    n, o = x.shape[0], w.shape[0]
    kernel = w.shape[2:]
    w2 = w.reshape(o, -1)
    out = np.empty((n, o, out_h, out_w), dtype=np.result_type(x, w))
    wide = _wide(x, stride)
    if wide is None:
        flat = out.reshape(n, o, out_h * out_w)
        step = _chunk(w2.shape[1] * out_h * out_w * x.itemsize, n)
        for start in range(0, n, step):
            cols = _columns(x[start:start + step], kernel, stride, dilation, out_h, out_w)
            np.matmul(w2, cols, out=flat[start:start + step])
        return out
    span = _wide_span(wide.shape, out_h, out_w)
    step = _chunk(w2.shape[1] * span * x.itemsize, n)
    y = np.empty((min(step, n), o, out_h * wide.shape[3]), dtype=out.dtype)  # one chunk's wide outputs
    for start in range(0, n, step):
        stop = min(start + step, n)
        cols = _wide_columns(wide[start:stop], kernel, dilation, out_h, out_w)
        np.matmul(w2, cols, out=y[:stop - start, :, :span])
        out[start:stop] = y[:stop - start].reshape(stop - start, o, out_h, wide.shape[3])[..., :out_w]
    return out


def conv2d_weight_grad(x, gy, kernel, stride, dilation):
    """The (O, C, kh, kw) weight gradient of conv2d for a padded float ``x`` and ``gy`` (N, O, OH, OW).
    (Columns over whole input rows would need the output gradient widened with zeros too: in a training step,
    with its caches cold, that ran LeNet's first layer 1.2x slower.)"""
    n, c = x.shape[:2]
    o, out_h, out_w = gy.shape[1:]
    gy = gy.reshape(n, o, out_h * out_w)
    total = None
    step = _chunk(c * kernel[0] * kernel[1] * out_h * out_w * x.itemsize, n)
    for start in range(0, n, step):
        cols = _columns(x[start:start + step], kernel, stride, dilation, out_h, out_w)
        part = np.matmul(gy[start:start + step], cols.transpose(0, 2, 1)).sum(axis=0)
        total = part if total is None else np.add(total, part, out=total)
    return total.reshape((o, c) + tuple(kernel))

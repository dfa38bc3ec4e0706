"""Convolutions of small images as one dense matrix product, beside conv.py's im2col kernels.

When an image has no more pixels than the kernel has taps (ResNet's last stages: 2x2 and 1x1 images
under 3x3 kernels), im2col multiplies mostly zeros of the padding: a 3x3 kernel on a 1x1 image does
9 times the work that matters. There a convolution is better seen as what it is, a linear map from the
(C, H, W) input of a sample to its (O, OH, OW) output: one dense (O * OH * OW, C * H * W) matrix whose
blocks are the kernel taps that connect an output pixel to an input pixel (zero blocks where none does).
Its products run on the NCHW arrays as they are, with no copies or transposes; the weight gradient is
the same product's gradient, summed back into the taps. They are ``matrix_product``'s, so the large float32
ones run on oneDNN's sgemm where the ``onednn`` extra is enabled (1.3-1.9x faster than OpenBLAS's through
``np.matmul`` on ResNet-18's 2x2 and 1x1 stages).

The choice depends only on shapes (``use_dense``), so a model always runs the same kernels.
"""

from __future__ import annotations

import functools

import numpy as np

from ember.ops.kernels import matrix_product


def use_dense(groups: int, in_h: int, in_w: int, kernel) -> bool:
    """Whether a convolution over ``in_h`` x ``in_w`` images is cheaper as one dense matrix: when the
    dense matrix has no more blocks per output pixel (H * W) than im2col has taps (kh * kw)."""
    return groups == 1 and in_h * in_w <= kernel[0] * kernel[1]


_LOOP_PAIRS = 8  # up to this many connected pixel pairs, a loop over blocks beats a gather (or summing pixel blocks)


@functools.lru_cache(maxsize=128)
def tap_index(in_hw: tuple, out_hw: tuple, kernel: tuple, stride: tuple, padding: tuple,
              dilation: tuple) -> np.ndarray:
    """(OH * OW, H * W) int array: the kernel tap (i * kw + j) joining each output pixel to each input
    pixel, or kh * kw (the index of a zero block) where no tap does. Read-only, cached per geometry."""
    taps = []
    for axis in (0, 1):
        out = np.arange(out_hw[axis])[:, None]
        position = np.arange(in_hw[axis])[None, :] + padding[axis] - out * stride[axis]
        tap, rest = np.divmod(position, dilation[axis])
        valid = (rest == 0) & (tap >= 0) & (tap < kernel[axis])
        taps.append(np.where(valid, tap, -1))
    th, tw = taps  # (OH, H) and (OW, W)
    index = th[:, None, :, None] * kernel[1] + tw[None, :, None, :]  # (OH, OW, H, W)
    valid = (th[:, None, :, None] >= 0) & (tw[None, :, None, :] >= 0)
    index = np.where(valid, index, kernel[0] * kernel[1]).reshape(out_hw[0] * out_hw[1], in_hw[0] * in_hw[1])
    index.flags.writeable = False
    return index


@functools.lru_cache(maxsize=128)
def _gather_index(index_key: tuple, channels: int, taps: int) -> np.ndarray:
    """Flat positions in an (O, C * taps) weight matrix of each (OH * OW, C, H * W) dense column."""
    index = tap_index(*index_key)
    flat = np.arange(channels)[None, :, None] * taps + index[:, None, :]
    flat.flags.writeable = False
    return flat


def dense_matrix(w, index_key: tuple):
    """The (O * OH * OW, C * H * W) matrix of conv2d with weight ``w`` (O, C, kh, kw) for the geometry
    ``index_key`` (the arguments of ``tap_index``)."""
    o, c, kh, kw = w.shape
    index = tap_index(*index_key)
    pairs = np.argwhere(index < kh * kw)
    if len(pairs) <= _LOOP_PAIRS:  # a few blocks: copy each tap where it goes (1x1 images: one block)
        taps = w.reshape(o, c, kh * kw)
        p_out, p_in = index.shape
        if len(pairs) == p_out * p_in == 1:  # a 1x1 image to a 1x1 output: the tap that joins them
            # copied by rows of C, the order it is strided in: 3x faster than a copy of its transpose, and
            # BLAS takes either orientation of the copy as it is
            return np.ascontiguousarray(taps[:, :, index[0, 0]])
        dense = np.zeros((o, p_out, c, p_in), dtype=w.dtype)
        for q, p in pairs:
            dense[:, q, :, p] = taps[:, :, index[q, p]]
        return dense.reshape(o * p_out, c * p_in)
    if len(pairs) == index.size:  # every output pixel meets every input pixel (2x2 images): no zero block
        source = w.reshape(o, -1)
    else:
        padded = np.zeros((o, c, kh * kw + 1), dtype=w.dtype)  # the last tap is the zero block
        padded[:, :, :-1] = w.reshape(o, c, kh * kw)
        source = padded.reshape(o, -1)
    gathered = np.take(source, _gather_index(index_key, c, source.shape[1] // c), axis=1)  # (O, OH*OW, C, H*W)
    return gathered.reshape(o * gathered.shape[1], -1)


def geometry(in_hw, out_hw, kernel, stride, padding, dilation) -> tuple:
    """The key ``dense_matrix`` and ``tap_index`` take for a convolution's geometry."""
    return tuple(in_hw), tuple(out_hw), tuple(kernel), tuple(stride), tuple(padding), tuple(dilation)


def _stored(matrix):
    """``matrix`` stored by rows or by columns, as BLAS takes it: a 1x1 image's one tap, a strided slice of the
    weight, is copied by rows (that copy and the product beat one product over the slice 1.3-1.5x)."""
    return matrix if matrix.flags.c_contiguous or matrix.flags.f_contiguous else np.ascontiguousarray(matrix)


def conv2d(x, w, stride, padding, dilation, out_h: int, out_w: int, dense=None):
    """conv2d of ``x`` (N, C, H, W) with ``w`` (O, C, kh, kw), groups 1, as (N, O, OH, OW); ``dense``: its
    ``dense_matrix`` where the caller has it."""
    n = x.shape[0]
    if dense is None:
        dense = dense_matrix(w, geometry(x.shape[2:], (out_h, out_w), w.shape[2:], stride, padding, dilation))
    y = matrix_product(np, x.reshape(n, -1), _stored(dense.T))
    return y.reshape(n, w.shape[0], out_h, out_w)


def conv_transpose2d(x, w, stride, padding, dilation, out_h: int, out_w: int, dense=None):
    """conv_transpose2d of ``x`` (N, C_in, H, W) with ``w`` (C_in, C_out, kh, kw), groups 1: the adjoint
    of the conv2d from (C_out, out_h, out_w) images to (C_in, H, W) ones, as (N, C_out, out_h, out_w).
    ``dense``: that conv2d's ``dense_matrix`` where the caller has it (its forward's, kept for its gradient)."""
    n = x.shape[0]
    if dense is None:
        dense = dense_matrix(w, geometry((out_h, out_w), x.shape[2:], w.shape[2:], stride, padding, dilation))
    y = matrix_product(np, x.reshape(n, -1), _stored(dense))
    return y.reshape(n, w.shape[1], out_h, out_w)


def conv2d_weight_grad(x, gy, kernel, stride, padding, dilation):
    """The (O, C, kh, kw) weight gradient of conv2d for ``x`` (N, C, H, W) and ``gy`` (N, O, OH, OW)
    (the leading OH x OW output pixels): the dense matrix's gradient, each block added into its tap."""
    n, c = x.shape[:2]
    o = gy.shape[1]
    key = geometry(x.shape[2:], gy.shape[2:], kernel, stride, padding, dilation)
    index = tap_index(*key)
    p_out, p_in = index.shape
    taps = kernel[0] * kernel[1]
    pairs = np.argwhere(index < taps)
    if len(pairs) > _LOOP_PAIRS:
        return _weight_grad_by_pixel_blocks(x, gy, index, pairs, taps).reshape(o, c, *kernel)
    grad = matrix_product(np, gy.reshape(n, -1).T, x.reshape(n, -1)).reshape(o, p_out, c, p_in)
    gw = np.zeros((o, c, taps), dtype=grad.dtype)
    for q, p in pairs:
        gw[:, :, index[q, p]] += grad[:, q, :, p]
    return gw.reshape(o, c, kernel[0], kernel[1])


def _weight_grad_by_pixel_blocks(x, gy, index, pairs, taps: int):
    """The (O, C, taps) weight gradient where many pixel pairs meet (2x2 images under 3x3 kernels: 16 pairs).
    The gradient and the input laid out pixel-major make the product's (O, C) block of each (output, input)
    pixel pair a piece of whole rows; each tap's blocks are summed into a (taps, O, C) array in pair order,
    then laid out as the weight is. On ResNet-18's 2x2 stage this ran 1.6x faster than the product laid out
    (O, pixel, C, pixel), whose blocks had to be transposed into rows (a copy at a quarter of memory speed)
    to be summed by a product with a one-hot (pairs, taps) matrix."""
    n, c, o = x.shape[0], x.shape[1], gy.shape[1]
    p_out, p_in = index.shape
    gy_by_pixel = np.ascontiguousarray(gy.reshape(n, o, p_out).transpose(0, 2, 1)).reshape(n, p_out * o)
    x_by_pixel = np.ascontiguousarray(x.reshape(n, c, p_in).transpose(0, 2, 1)).reshape(n, p_in * c)
    blocks = matrix_product(np, gy_by_pixel.T, x_by_pixel).reshape(p_out, o, p_in, c)
    by_tap = np.empty((taps, o, c), blocks.dtype)
    filled = np.zeros(taps, bool)
    for q, p in pairs:
        tap = index[q, p]
        if filled[tap]:
            np.add(by_tap[tap], blocks[q, :, p], out=by_tap[tap])
        else:
            np.copyto(by_tap[tap], blocks[q, :, p])
            filled[tap] = True
    by_tap[~filled] = 0  # taps that join no pixels
    return by_tap.transpose(1, 2, 0).copy()

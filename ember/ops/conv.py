"""Convolutions in NCHW layout with PyTorch's signatures: conv1d, conv2d, conv_transpose1d/2d.

Three primitives carry all of them. ``conv2d(x, w)`` is bilinear, and its two partial adjoints are
``conv_transpose2d(gy, w)`` (with respect to x) and ``conv2d_weight_grad(x, gy)`` (with respect to w).
Each of the three is bilinear too, and the vjps of each are the other two, so gradients of any order
stay inside this closed set. conv2d also takes the bias as an optional third input (added inside the kernel;
its gradient is a sum of gy). Their shape rules, vjps and costs are ``conv_records``'s, shared with the 3-D ones;
this module holds the 2-D kernels.

Each forward is im2col: the input moved batch-last (C, H, W, N), a strided window view of it copied
once into columns (C * kh * kw, OH * OW * N), and one matmul per group; the adjoint scatters columns
back with one strided add per kernel position (col2im). Batch-last keeps every copy and add running
over long contiguous stretches, which is what makes NumPy fast at the small images of CNNs.

On NumPy the kernel is chosen by shape alone (so eager mode and generated code, which both call these
forwards, sum in the same order): images no larger than the kernel as one dense product
(``conv_dense``); large output images per sample (``conv_per_sample``); stride-1 outputs of 64-255 pixels
one product per kernel row; stride-1 transposed convolutions as a flipped-kernel conv2d, or, where that
one's columns would be larger (fewer output than input channels), col2im by flat offsets into wide rows.
Column matrices and products keep their rows off multiples of 1 KiB (``matrix_rows``).

With the ``onednn`` extra, float32 convolutions run on oneDNN's direct kernels instead (``_on_onednn``), some
dense products of tiny images excepted; they sum in their own order, the same in eager mode and generated code.
"""

from __future__ import annotations

import math

import numpy as np

from ember.backend import onednn
from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import conv_dense, conv_per_sample, dispatch
from ember.ops.autocast import active, lowered, suspended
from ember.ops.conv_nd import conv_out_size, transposed_size
from ember.ops.conv_padding import pad_for_string, unbatched
from ember.ops.conv_records import conv_ops, empty_safe
from ember.ops.convert import as_tensor, cast, promote
from ember.ops.dispatch import TensorLike
from ember.ops.registry import Spec
from ember.ops.shape import reshape

# --- shared helpers ---------------------------------------------------------------------------------------


def pair(name: str, arg: str, value, minimum: int) -> tuple:
    """An int or a pair of ints as a pair, each at least ``minimum``; the error names the op and argument."""
    return ints(name, arg, value, minimum, 2)


def ints(name: str, arg: str, value, minimum: int, count: int) -> tuple:
    """An int or ``count`` ints as a tuple of ``count`` ints, each at least ``minimum``; the error names the op and
    argument."""
    what = "a pair of ints" if count == 2 else f"{count} ints"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * count
    else:
        try:
            value = tuple(value)
        except TypeError:
            raise TypeError(f"{name}: {arg} must be an int or {what}, got {value!r}") from None
        if len(value) not in (1, count) or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                          for v in value):
            raise TypeError(f"{name}: {arg} must be an int or {what}, got {value!r}")
        value = tuple(int(v) for v in value)
        if len(value) == 1:  # PyTorch's functional forms spread one given size over every axis
            value *= count
    if min(value) < minimum:
        raise ValueError(f"{name}: {arg} must be at least {minimum}, got {value}")
    return value


def pad2d(xp, x, top: int, bottom: int, left: int, right: int, value=0):
    """``x`` (N, C, H, W) padded on its last two axes with ``value``; ``x`` itself when nothing is added."""
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    out = xp.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[:, :, top:top + h, left:left + w] = x
    return out


def window_slice(i: int, j: int, out_h: int, out_w: int, stride, dilation) -> tuple:
    """Index of the padded input elements that kernel position (i, j) meets, one per output pixel."""
    top, left = i * dilation[0], j * dilation[1]
    return (
        slice(None), slice(None),
        slice(top, top + stride[0] * (out_h - 1) + 1, stride[0]),
        slice(left, left + stride[1] * (out_w - 1) + 1, stride[1]),
    )


# Rows of a product's operands and result that lie a multiple of this many bytes apart map to a few cache sets
# (4K aliasing): OpenBLAS ran LeNet's (16, 150) x (150, 4096) product and its input gradient's (150, 16) x
# (16, 4096) 1.6-1.9x slower than with rows 64 bytes further apart, ResNet's (64, 576) x (576, 4096) 1.1x.
_ALIASING_BYTES = 1024
_ROW_GAP_BYTES = 64


def matrix_rows(xp, rows: int, columns: int, dtype, zeros: bool = False):
    """An uninitialized (``rows``, ``columns``) matrix (zeros with ``zeros``) whose rows do not lie a multiple of
    1 KiB apart: on NumPy, when they would, a view of a slightly wider array."""
    itemsize = np.dtype(dtype).itemsize
    make = xp.zeros if zeros else xp.empty
    if xp is not np or (columns * itemsize) % _ALIASING_BYTES or rows < 2:
        return make((rows, columns), dtype=dtype)
    return make((rows, columns + _ROW_GAP_BYTES // itemsize), dtype=dtype)[:, :columns]


def _compute_dtype(xp, *arrays) -> tuple:
    # NumPy has no BLAS for float16 / bfloat16 products: compute in float32 and round the result back once.
    if arrays[0].dtype in LOW_PRECISION and xp is np:
        return tuple(a.astype(float32) for a in arrays), arrays[0].dtype
    return arrays, None


_MAX_BYTES = 1 << 62


def _batch_last(xp, x, padding=(0, 0)):
    """``x`` (N, C, H, W) as a contiguous, zero-padded (C, H + 2 * ph, W + 2 * pw, N) array.

    The convolutions work batch-last: every window slice then keeps runs of OW * N contiguous elements,
    where NCHW would give runs of OW, and NumPy's per-run overhead dominates at small spatial sizes.
    Channels lie ``matrix_rows`` apart, so the (C, H * W * N) matrix the products read needs no copy.
    """
    n, c, h, w = x.shape
    ph, pw = padding
    shape = (c, h + 2 * ph, w + 2 * pw, n)
    if math.prod(shape) * x.dtype.itemsize >= _MAX_BYTES:  # NumPy refuses such a size with a ValueError
        raise MemoryError(f"convolution: padding {tuple(padding)} makes the padded input {x.dtype}{list(shape)} "
                          "larger than memory can hold")
    out = matrix_rows(xp, c, shape[1] * shape[2] * n, x.dtype, zeros=bool(ph or pw)).reshape(shape)
    inner = out[:, ph:ph + h, pw:pw + w]
    # When one sample spans a multiple of 4 KiB, reading across samples hits one cache set over and over
    # (a 64x16x8x8 float32 batch transposes 3-4x slower); a few samples at a time avoids that.
    step = 8 if xp is np and (x.strides[0] % 4096 == 0) else n
    for start in range(0, n, step):
        inner[..., start:start + step] = x[start:start + step].transpose(1, 2, 3, 0)
    return out


def _batch_first(xp, y):
    """(C, H, W, N) back to a contiguous (N, C, H, W)."""
    return xp.ascontiguousarray(y.transpose(3, 0, 1, 2))


def _im2col(xp, x, kernel, stride, padding, dilation, out_h: int, out_w: int):
    """Columns (C * kh * kw, OH * OW * N) of ``x`` (N, C, H, W): one copy of a strided window view."""
    xt = _batch_last(xp, x, padding)
    c, n = xt.shape[0], xt.shape[3]
    sc, sh, sw, sn = xt.strides
    view = xp.lib.stride_tricks.as_strided(
        xt,
        (c, kernel[0], kernel[1], out_h, out_w, n),
        (sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1], sn),
    )
    cols = matrix_rows(xp, c * kernel[0] * kernel[1], out_h * out_w * n, x.dtype)
    cols.reshape(view.shape)[...] = view  # a view of cols: its rows split into (c, kh, kw), its columns into pixels
    return cols


def _col2im(xp, cols, shape, kernel, stride, padding, dilation, out_h: int, out_w: int):
    """The adjoint of ``_im2col``: columns summed back into an (N, C, H, W) array of ``shape``."""
    n, c, h, w = shape
    kh, kw = kernel
    ph, pw = padding
    if xp is not np and cols.dtype in (np.float32, np.float64):  # one kernel on a GPU, not kh * kw adds
        from ember.backend import cuda_kernels

        out = xp.empty(shape, cols.dtype)
        args = (c, h, w, n, kh, kw, out_h, out_w, *stride, ph, pw, *dilation)
        cuda_kernels.col2im()(xp.ascontiguousarray(cols), *(np.int32(a) for a in args), out, size=out.size)
        return out
    cols = cols.reshape(c, kh, kw, out_h, out_w, n)
    out = xp.zeros((c, h + 2 * ph, w + 2 * pw, n), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            index = window_slice(i, j, out_h, out_w, stride, dilation)[1:]  # axes (C, H, W) of (C, H, W, N)
            out[index] += cols[:, i, j]
    return _batch_first(xp, out[:, ph:ph + h, pw:pw + w])


def _on_onednn(xp, dtype, groups: int, image_hw, kernel, out_pixels: int) -> bool:
    """Whether a float32 convolution over images of ``image_hw`` with ``out_pixels`` output pixels per channel runs
    on oneDNN (``ember.backend.onednn``).

    Its direct kernels ran 1.2-9x faster than the NumPy ones on LeNet-5's and ResNet-18's layers, on two cores.
    Where images are no larger than the kernel, one dense product was 1.9-7x faster for a single output pixel
    (ResNet-18's last stage). On its 2x2 images the dense forward was as fast as oneDNN's, and the input gradient
    (reusing the forward's matrix, ``_conv2d_residuals``) and the weight gradient 1.2-1.6x faster; on 3x3 images
    under 3x3 kernels and 4x4 ones under 5x5 kernels oneDNN was 1.2-1.5x faster in all three directions."""
    if xp is not np or not onednn.runs(dtype):
        return False
    small = image_hw[0] * image_hw[1] <= _DENSE_MAX_PIXELS or out_pixels == 1
    return not (small and conv_dense.use_dense(groups, image_hw[0], image_hw[1], kernel))


_DENSE_MAX_PIXELS = 4


# --- conv2d -------------------------------------------------------------------------------------------------


def _conv2d_forward(xp, x, w, bias=None, *, stride, padding, dilation, groups):
    (x, w), result_dtype = _compute_dtype(xp, x, w)
    if bias is not None and result_dtype is not None:
        bias = bias.astype(float32)
    n = x.shape[0]
    o, _, kh, kw = w.shape
    out_h = conv_out_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
    out_w = conv_out_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
    if _on_onednn(xp, x.dtype, groups, x.shape[2:], (kh, kw), out_h * out_w):
        y = onednn.conv2d(x, w, (out_h, out_w), stride, padding, dilation, groups, bias)  # the bias added in it
        if y is not None:
            return y.astype(result_dtype) if result_dtype is not None else y
    if xp is np and conv_dense.use_dense(groups, x.shape[2], x.shape[3], (kh, kw)):
        y = conv_dense.conv2d(x, w, stride, padding, dilation, out_h, out_w)
    elif conv_per_sample.use_per_sample(xp, groups, out_h, out_w, conv_per_sample.FORWARD_MIN_PIXELS):
        padded = pad2d(xp, x, padding[0], padding[0], padding[1], padding[1])
        y = conv_per_sample.conv2d(padded, w, stride, dilation, out_h, out_w)
    elif _by_kernel_rows(xp, groups, stride, out_h, out_w, x.shape[1] * kw):
        y = _batch_first(xp, _conv2d_by_kernel_rows(xp, x, w, stride, padding, dilation, out_h, out_w))
    else:
        cols = _im2col(xp, x, (kh, kw), stride, padding, dilation, out_h, out_w)
        y = matrix_rows(xp, o, cols.shape[1], cols.dtype)
        xp.matmul(w.reshape(groups, o // groups, -1), cols.reshape(groups, -1, cols.shape[1]),
                  out=y.reshape(groups, o // groups, -1))
        y = _batch_first(xp, y.reshape(o, out_h, out_w, n))
    if bias is not None:  # y is this kernel's own new array
        xp.add(y, bias.reshape(1, -1, 1, 1), out=y)
    return y.astype(result_dtype) if result_dtype is not None else y


def _conv2d_residuals(xp, x, w, bias=None, *, stride, padding, dilation, groups):
    """conv2d's forward where eager mode records its node: on small images (``conv_dense``) also the dense matrix
    it multiplied by, which the input gradient multiplies by again (from the other side), so that the backward
    does not build it a second time; None as the residual elsewhere."""
    dense = None
    if xp is np and x.dtype == w.dtype and x.dtype in _DENSE_DTYPES and x.size and w.size \
            and (bias is None or bias.dtype == x.dtype):
        kh, kw = w.shape[2:]
        out_h = conv_out_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
        out_w = conv_out_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
        if not _on_onednn(xp, x.dtype, groups, x.shape[2:], (kh, kw), out_h * out_w) \
                and conv_dense.use_dense(groups, x.shape[2], x.shape[3], (kh, kw)):
            key = conv_dense.geometry(x.shape[2:], (out_h, out_w), (kh, kw), stride, padding, dilation)
            dense = conv_dense.dense_matrix(w, key)
    if dense is None:
        arrays = (x, w) if bias is None else (x, w, bias)
        return _conv2d_safe_forward(xp, *arrays, stride=stride, padding=padding, dilation=dilation, groups=groups), None
    y = conv_dense.conv2d(x, w, stride, padding, dilation, out_h, out_w, dense=dense)
    if bias is not None:
        np.add(y, bias.reshape(1, -1, 1, 1), out=y)
    return y, dense


_DENSE_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# Output pixels from which (below the per-sample kernels' 256) and rows per product (C * kw) from which the
# kernel-row products pay: ResNet-18's 8x8 stage (64 pixels, 192 rows) and 32 channels under a 5x5 kernel
# on 8x8 images ran 1.05-1.2x faster; its 4x4 stage (16 pixels) no faster, LeNet's second layer (30 rows)
# 1.2x slower.
_ROWS_MIN_PIXELS = 64
_ROWS_MIN_DEPTH = 128


def _by_kernel_rows(xp, groups: int, stride, out_h: int, out_w: int, depth: int) -> bool:
    return xp is np and groups == 1 and stride[0] == 1 and out_h * out_w >= _ROWS_MIN_PIXELS \
        and depth >= _ROWS_MIN_DEPTH


def _kernel_row_columns(xp, x, kernel_width: int, stride, padding, dilation, out_w: int):
    """Columns (C * kw, H', OW * N) of ``x`` (N, C, H, W) over the kernel's width and the full padded height
    H': kh times less to copy than im2col's. Kernel row i meets rows i * dh .. i * dh + OH of it, a strided
    view that BLAS reads in place (stride 1 along H)."""
    xt = _batch_last(xp, x, padding)
    c, height, _, n = xt.shape
    sc, sh, sw, sn = xt.strides
    span = xp.lib.stride_tricks.as_strided(
        xt, (c, kernel_width, height, out_w, n), (sc, sw * dilation[1], sh, sw * stride[1], sn))
    return span.reshape(c * kernel_width, height, out_w * n)


def _kernel_row(columns, i: int, dilation, out_h: int):
    return columns[:, i * dilation[0]:i * dilation[0] + out_h].reshape(columns.shape[0], -1)


def _conv2d_by_kernel_rows(xp, x, w, stride, padding, dilation, out_h: int, out_w: int):
    """conv2d with stride 1 along H as batch-last (O, OH, OW, N): one product per kernel row, summed."""
    o, c, kh, kw = w.shape
    columns = _kernel_row_columns(xp, x, kw, stride, padding, dilation, out_w)
    rows = xp.ascontiguousarray(w.transpose(2, 0, 1, 3)).reshape(kh, o, c * kw)
    y = None
    for i in range(kh):
        product = xp.matmul(rows[i], _kernel_row(columns, i, dilation, out_h))
        y = product if y is None else xp.add(y, product, out=y)
    return y.reshape(o, out_h, out_w, x.shape[0])


def _weight_grad_by_kernel_rows(xp, x, gy, kernel, stride, padding, dilation):
    """conv2d_weight_grad with stride 1 along H: each kernel row's (O, C, kw) slice is one product."""
    o, out_h, out_w = gy.shape[1:]
    c = x.shape[1]
    columns = _kernel_row_columns(xp, x, kernel[1], stride, padding, dilation, out_w)
    gy = _batch_last(xp, gy).reshape(o, -1)
    gw = xp.empty((kernel[0], c * kernel[1], o), dtype=xp.result_type(x, gy))
    for i in range(kernel[0]):  # (C * kw, OH * OW * N) @ (OH * OW * N, O): the few output channels last
        xp.matmul(_kernel_row(columns, i, dilation, out_h), gy.T, out=gw[i])
    return xp.ascontiguousarray(gw.reshape(kernel[0], c, kernel[1], o).transpose(3, 1, 0, 2))


# --- conv2d_weight_grad ------------------------------------------------------------------------------------


def _weight_grad_forward(xp, x, gy, *, stride, padding, dilation, groups, kernel_size):
    # gy may cover fewer output pixels than conv2d(x, w) has (the leading OH x OW of them): the adjoint of
    # a convolution cropped at the bottom/right, which conv_transpose2d's vjp needs when output_padding
    # adds rows that no window of its input reaches.
    (x, gy), result_dtype = _compute_dtype(xp, x, gy)
    c = x.shape[1]
    o, out_h, out_w = gy.shape[1:]
    if _on_onednn(xp, x.dtype, groups, x.shape[2:], kernel_size, out_h * out_w):
        gw = onednn.conv2d_weight_grad(x, gy, tuple(kernel_size), stride, padding, dilation, groups)
        if gw is not None:
            return gw.astype(result_dtype) if result_dtype is not None else gw
    if xp is np and conv_dense.use_dense(groups, x.shape[2], x.shape[3], kernel_size):
        gw = conv_dense.conv2d_weight_grad(x, gy, tuple(kernel_size), stride, padding, dilation)
        return gw.astype(result_dtype) if result_dtype is not None else gw
    if conv_per_sample.weight_grad_per_sample(xp, groups, out_h, out_w, c * kernel_size[0] * kernel_size[1]):
        padded = pad2d(xp, x, padding[0], padding[0], padding[1], padding[1])
        gw = conv_per_sample.conv2d_weight_grad(padded, gy, tuple(kernel_size), stride, dilation)
        return gw.astype(result_dtype) if result_dtype is not None else gw
    if _by_kernel_rows(xp, groups, stride, out_h, out_w, c * kernel_size[1]) and o <= 128:
        gw = _weight_grad_by_kernel_rows(xp, x, gy, tuple(kernel_size), stride, padding, dilation)
        return gw.astype(result_dtype) if result_dtype is not None else gw
    cols = _im2col(xp, x, kernel_size, stride, padding, dilation, out_h, out_w)
    cols = cols.reshape(groups, -1, cols.shape[1])
    gy = _batch_last(xp, gy).reshape(groups, o // groups, -1)
    if xp is np and o // groups <= 128:
        # OpenBLAS runs this long-K product about 2x faster with the few output channels as its last axis.
        gw = xp.matmul(cols, gy.transpose(0, 2, 1)).transpose(0, 2, 1)
    else:
        gw = xp.matmul(gy, cols.transpose(0, 2, 1))
    gw = gw.reshape((o, c // groups) + tuple(kernel_size))
    return gw.astype(result_dtype) if result_dtype is not None else gw


# --- conv_transpose2d --------------------------------------------------------------------------------------


def _conv_transpose2d_forward(xp, x, w, *, stride, padding, dilation, groups, output_padding, dense=None):
    # dense: the dense matrix of the conv2d this is the input gradient of (its forward's residual), or None
    (x, w), result_dtype = _compute_dtype(xp, x, w)
    n, c_in, in_h, in_w = x.shape
    _, c_out_group, kh, kw = w.shape
    out_h, out_w = _transposed_size(x.shape, w.shape, stride, padding, dilation, output_padding)
    if dense is not None and dense.shape == (c_in * in_h * in_w, c_out_group * out_h * out_w) \
            and dense.dtype == x.dtype == w.dtype:
        return conv_dense.conv_transpose2d(x, w, stride, padding, dilation, out_h, out_w, dense=dense)
    if _on_onednn(xp, x.dtype, groups, (out_h, out_w), (kh, kw), in_h * in_w) and (groups > 1 or c_out_group >= 4):
        # (oneDNN's input gradient of a convolution over 1-3 image channels ran 1.1-4x slower than NumPy's)
        y = onednn.conv2d_input_grad(x, w, (out_h, out_w), stride, padding, dilation, groups)
        if y is not None:
            return y.astype(result_dtype) if result_dtype is not None else y
    if xp is np and conv_dense.use_dense(groups, out_h, out_w, (kh, kw)):
        y = conv_dense.conv_transpose2d(x, w, stride, padding, dilation, out_h, out_w)
        return y.astype(result_dtype) if result_dtype is not None else y
    if _as_flipped_conv(xp, x.shape, w.shape, stride, padding, dilation, groups, output_padding, out_h, out_w):
        # With stride 1 the transposed convolution is a convolution with the kernel flipped and its channel
        # axes swapped: one copy into columns (im2col) instead of kh * kw strided adds (col2im), about
        # 1.2-1.5x faster whichever forward kernel the shape selects.
        pad = tuple(dilation[a] * (w.shape[2 + a] - 1) - padding[a] for a in (0, 1))
        flipped = w[:, :, ::-1, ::-1].reshape(groups, c_in // groups, c_out_group, kh, kw).transpose(0, 2, 1, 3, 4)
        flipped = xp.ascontiguousarray(flipped).reshape(groups * c_out_group, c_in // groups, kh, kw)
        y = _conv2d_forward(xp, x, flipped, stride=stride, padding=pad, dilation=dilation, groups=groups)
        return y.astype(result_dtype) if result_dtype is not None else y
    xt = _batch_last(xp, x).reshape(groups, c_in // groups, -1)
    taps = w.reshape(groups, c_in // groups, -1).transpose(0, 2, 1)  # (groups, C_out/groups * kh * kw, C_in/groups)
    shape = (n, c_out_group * groups, out_h, out_w)
    if xp is np and tuple(stride) == (1, 1):
        y = _col2im_by_rows(taps, xt, shape, (kh, kw), padding, dilation, in_h, in_w)
        return y.astype(result_dtype) if result_dtype is not None else y
    cols = matrix_rows(xp, c_out_group * groups * kh * kw, xt.shape[2], xt.dtype)
    xp.matmul(taps, xt, out=cols.reshape(groups, -1, xt.shape[2]))
    y = _col2im(xp, cols, shape, (kh, kw), stride, padding, dilation, in_h, in_w)
    return y.astype(result_dtype) if result_dtype is not None else y


def _col2im_by_rows(taps, xt, shape, kernel, padding, dilation, in_h: int, in_w: int):
    """conv_transpose2d with stride 1 on NumPy: ``taps`` (groups, C_out/groups * kh * kw, C_in/groups) times the
    batch-last input ``xt`` (groups, C_in/groups, H * W * N), summed back over the kernel positions.

    The products go one input row at a time into "wide" rows as long as the padded output's (Wp * N, zeros
    past W * N), so that kernel position (i, j) adds its columns into the flat (C_out, Hp * Wp * N) output at
    the offset (i * dh * Wp + j * dw) * N: C_out long runs per position instead of C_out * H short ones of
    W * N. What a run carries past the end of an output row comes from the zeros, so it adds nothing
    (LeNet's second layer: product and col2im 1.2x faster)."""
    n, c, out_h, out_w = shape
    kh, kw = kernel
    (ph, pw), (dh, dw) = padding, dilation
    height, width = out_h + 2 * ph, out_w + 2 * pw
    row = width * n
    rows = taps.shape[0] * taps.shape[1]
    wide = matrix_rows(np, rows, in_h * row, xt.dtype, zeros=True)
    products = wide.reshape(taps.shape[0], taps.shape[1], in_h, row)[..., :in_w * n]
    inputs = xt.reshape(xt.shape[0], xt.shape[1], in_h, in_w * n)
    for r in range(in_h):
        np.matmul(taps, inputs[:, :, r], out=products[:, :, r])
    wide = wide.reshape(c, kh, kw, in_h * row)
    plane = height * row
    flat = np.zeros(c * plane + ((kh - 1) * dh * width + (kw - 1) * dw) * n, dtype=xt.dtype)
    for i in range(kh):
        for j in range(kw):
            start = (i * dh * width + j * dw) * n
            target = flat[start:start + c * plane].reshape(c, plane)[:, :in_h * row]
            np.add(target, wide[:, i, j], out=target)
    return _batch_first(np, flat[:c * plane].reshape(c, height, width, n)[:, ph:ph + out_h, pw:pw + out_w])


def _as_flipped_conv(xp, x_shape, w_shape, stride, padding, dilation, groups, output_padding, out_h: int,
                     out_w: int) -> bool:
    # Only where its columns are no larger than col2im's: (C_in * kh * kw) x output pixels against
    # (C_out * kh * kw) x input pixels (LeNet's second layer has 6x more, and runs 4x slower).
    return (
        xp is np and tuple(stride) == (1, 1) and not any(output_padding)
        and all(padding[a] <= dilation[a] * (w_shape[2 + a] - 1) for a in (0, 1))
        and x_shape[1] * out_h * out_w <= w_shape[1] * groups * x_shape[2] * x_shape[3]
    )


def _transposed_size(x_shape, w_shape, stride, padding, dilation, output_padding) -> tuple:
    return tuple([transposed_size(x_shape[2 + a], w_shape[2 + a], stride[a], padding[a], dilation[a],
                                  output_padding[a]) for a in (0, 1)])


# --- the records ------------------------------------------------------------------------------------------

CONV2D, CONV2D_WEIGHT_GRAD, CONV_TRANSPOSE2D = conv_ops(2, _conv2d_forward, _weight_grad_forward,
                                                        _conv_transpose2d_forward, _conv2d_residuals)
_conv2d_infer = CONV2D.infer
_conv2d_safe_forward = empty_safe(_conv2d_infer)(_conv2d_forward)  # CONV2D's forward
_conv_transpose2d_infer = CONV_TRANSPOSE2D.infer


def _check_output_padding(name: str, output_padding, stride, dilation):
    for a in range(len(output_padding)):
        if output_padding[a] >= max(stride[a], dilation[a]):
            raise ValueError(
                f"{name}: output_padding {output_padding} must be smaller than stride {stride} or dilation "
                f"{dilation} (per axis)")


# --- public functions --------------------------------------------------------------------------------------


def _operands(name: str, x, weight, bias) -> tuple:
    x, weight = promote(as_tensor(x), as_tensor(weight))
    if bias is not None:
        bias = as_tensor(bias, x)
        if bias.ndim != 1:
            raise ValueError(f"{name}: bias must be 1-D, got shape {list(bias.shape)}")
    return x, weight, bias


def _add_bias(name: str, y: TensorLike, bias) -> TensorLike:
    if bias is None:
        return y
    if bias.shape[0] != y.shape[1]:
        raise ValueError(f"{name}: bias has {bias.shape[0]} elements, the output has {y.shape[1]} channels")
    if bias.dtype != y.dtype:
        bias = cast(bias, y.dtype)
    return y + reshape(bias, (1, -1) + (1,) * (y.ndim - 2))


def _biased_in_float32(transposed, x: TensorLike, weight: TensorLike, bias: TensorLike, *args) -> TensorLike | None:
    """A transposed convolution of float16 / bfloat16 operands and a bias, computed and biased in float32 and rounded
    once, as PyTorch (its op rounds, and ``_add_bias`` adds after it); None for other dtypes or no bias. Under
    autocast, of the operands in its dtype (as PyTorch's, which casts the bias too)."""
    if bias is None:
        return None
    if active():
        x, weight, bias = lowered(x, weight, bias)
        if x.dtype not in LOW_PRECISION:
            return None
        with suspended():
            return _biased_in_float32(transposed, x, weight, bias, *args)
    if x.dtype not in LOW_PRECISION:
        return None
    return cast(transposed(cast(x, float32), cast(weight, float32), cast(bias, float32), *args), x.dtype)


def _groups(name: str, groups) -> int:
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _conv_attrs(name: str, stride, padding, dilation, groups, rank: int = 2) -> dict:
    return {
        "stride": ints(name, "stride", stride, 1, rank),
        "padding": ints(name, "padding", padding, 0, rank),
        "dilation": ints(name, "dilation", dilation, 1, rank),
        "groups": _groups(name, groups),
    }


def _specs(*tensors) -> list:
    return [Spec(tuple(t.shape), t.dtype) for t in tensors]


def conv2d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> TensorLike:
    """2-D convolution (cross-correlation) of ``x`` (N, C, H, W) with ``weight`` (O, C/groups, kH, kW), plus
    ``bias`` (O,); ``stride``, ``padding`` and ``dilation`` are ints or (h, w) pairs, ``padding`` also 'same' or
    'valid', as in PyTorch; unbatched (C, H, W) input gives a (O, H', W') result.

    >>> y = ember.conv2d(ember.randn(8, 3, 32, 32), ember.randn(16, 3, 3, 3), padding=1)   # (8, 16, 32, 32)
    """
    x, weight, bias = _operands("conv2d", x, weight, bias)
    if x.ndim == 3 and weight.ndim == 4:  # unbatched (C, H, W)
        return unbatched(conv2d, x, weight, bias, stride, padding, dilation, groups)
    if isinstance(padding, str):
        x, padding = pad_for_string("conv2d", x, weight, padding, pair("conv2d", "stride", stride, 1),
                                    pair("conv2d", "dilation", dilation, 1))
    attrs = _conv_attrs("conv2d", stride, padding, dilation, groups)
    _conv2d_infer(*_specs(x, weight), **attrs)
    if _fits(bias, x, weight):  # added inside the op (in oneDNN's kernel, where it runs)
        return dispatch.apply(CONV2D, (x, weight, bias), attrs)
    return _add_bias("conv2d", dispatch.apply(CONV2D, (x, weight), attrs), bias)


def _fits(bias, x, weight) -> bool:
    """Whether ``bias`` can be the op's third input: one value per output channel, in the input's dtype
    (otherwise ``_add_bias`` casts it or names the mismatch)."""
    return bias is not None and bias.dtype == x.dtype and tuple(bias.shape) == (weight.shape[0],)


def conv1d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1) -> TensorLike:
    """1-D convolution of ``x`` (N, C, L) or unbatched (C, L) with ``weight`` (O, C/groups, k): conv2d on a height-1
    view; ``padding`` is an int, 'same' or 'valid'.

    >>> y = ember.conv1d(ember.randn(4, 2, 50), ember.randn(6, 2, 5), stride=2)   # (4, 6, 23)
    """
    x, weight, bias = _operands("conv1d", x, weight, bias)
    if x.ndim == 2 and weight.ndim == 3:  # unbatched (C, L)
        return unbatched(conv1d, x, weight, bias, stride, padding, dilation, groups)
    if isinstance(padding, str):
        x, padding = pad_for_string("conv1d", x, weight, padding, (_single("conv1d", "stride", stride, 1),),
                                    (_single("conv1d", "dilation", dilation, 1),))
        padding = padding[0]
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv1d: input (N, C, L) and weight (O, C/groups, k) must be 3-D, got shapes {list(x.shape)} and "
            f"{list(weight.shape)}")
    attrs = {
        "stride": (1, _single("conv1d", "stride", stride, 1)),
        "padding": (0, _single("conv1d", "padding", padding, 0)),
        "dilation": (1, _single("conv1d", "dilation", dilation, 1)),
        "groups": _groups("conv1d", groups),
    }
    x4 = reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))
    w4 = reshape(weight, (weight.shape[0], weight.shape[1], 1, weight.shape[2]))
    _conv2d_infer(*_specs(x4, w4), **attrs)
    if _fits(bias, x4, w4):
        y = dispatch.apply(CONV2D, (x4, w4, bias), attrs)
        return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))
    y = dispatch.apply(CONV2D, (x4, w4), attrs)
    return _add_bias("conv1d", reshape(y, (y.shape[0], y.shape[1], y.shape[3])), bias)


def _single(name: str, arg: str, value, minimum: int) -> int:
    """An int (or a one-element sequence, PyTorch's 1-d form) checked to be at least ``minimum``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return _int(name, arg, value, minimum)


def _int(name: str, arg: str, value, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name}: {arg} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: {arg} must be at least {minimum}, got {value}")
    return int(value)


def conv_transpose2d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> TensorLike:
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input) of ``x`` (N, C_in, H, W)
    with ``weight`` (C_in, C_out/groups, kH, kW), as in PyTorch; ``output_padding`` adds rows and columns
    on one side to pick among the input sizes a strided conv2d maps to the same output size.

    >>> y = ember.conv_transpose2d(ember.randn(2, 8, 7, 7), ember.randn(8, 4, 4, 4), stride=2, padding=1)  # 14x14
    """
    x, weight, bias = _operands("conv_transpose2d", x, weight, bias)
    widened = _biased_in_float32(conv_transpose2d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if widened is not None:
        return widened
    if x.ndim == 3 and weight.ndim == 4:  # unbatched (C_in, H, W)
        return unbatched(conv_transpose2d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    attrs = _conv_attrs("conv_transpose2d", stride, padding, dilation, groups)
    attrs["output_padding"] = pair("conv_transpose2d", "output_padding", output_padding, 0)
    _check_output_padding("conv_transpose2d", attrs["output_padding"], attrs["stride"], attrs["dilation"])
    _conv_transpose2d_infer(*_specs(x, weight), **attrs)
    return _add_bias("conv_transpose2d", dispatch.apply(CONV_TRANSPOSE2D, (x, weight), attrs), bias)


def conv_transpose1d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride: int = 1,
                     padding: int = 0, output_padding: int = 0, groups: int = 1, dilation: int = 1) -> TensorLike:
    """Transposed 1-D convolution of ``x`` (N, C_in, L) with ``weight`` (C_in, C_out/groups, k).

    >>> y = ember.conv_transpose1d(ember.randn(2, 4, 10), ember.randn(4, 3, 3), stride=2)   # (2, 3, 21)
    """
    x, weight, bias = _operands("conv_transpose1d", x, weight, bias)
    widened = _biased_in_float32(conv_transpose1d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if widened is not None:
        return widened
    if x.ndim == 2 and weight.ndim == 3:  # unbatched (C_in, L)
        return unbatched(conv_transpose1d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if x.ndim != 3 or weight.ndim != 3:
        raise ValueError(
            f"conv_transpose1d: input (N, C_in, L) and weight (C_in, C_out/groups, k) must be 3-D, got shapes "
            f"{list(x.shape)} and {list(weight.shape)}")
    name = "conv_transpose1d"
    attrs = {
        "stride": (1, _single(name, "stride", stride, 1)),
        "padding": (0, _single(name, "padding", padding, 0)),
        "dilation": (1, _single(name, "dilation", dilation, 1)),
        "groups": _groups(name, groups),
        "output_padding": (0, _single(name, "output_padding", output_padding, 0)),
    }
    _check_output_padding(name, attrs["output_padding"], attrs["stride"], attrs["dilation"])
    x4 = reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))
    w4 = reshape(weight, (weight.shape[0], weight.shape[1], 1, weight.shape[2]))
    _conv_transpose2d_infer(*_specs(x4, w4), **attrs)
    y = dispatch.apply(CONV_TRANSPOSE2D, (x4, w4), attrs)
    return _add_bias(name, reshape(y, (y.shape[0], y.shape[1], y.shape[3])), bias)

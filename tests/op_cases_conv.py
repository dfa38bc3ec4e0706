"""Op table rows for convolution and pooling (run by the generic tests in tests/test_ops.py).

The float64 references below are deliberately naive (loops over output pixels, PyTorch's documented
size and divisor rules) so they share no code with ember/ops/conv.py and ember/ops/pooling.py.
Random normal inputs have no ties, so max pooling is differentiable at every sample.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from op_table import OpCase

import ember

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch comparisons are skipped
    torch = F = None

CASES: list[OpCase] = []

CONV_OPS = ("conv2d", "conv_transpose2d", "conv2d_weight_grad")
MAX_OPS = ("max_pool2d", "max_pool2d_grad")
AVG_OPS = ("avg_pool2d", "avg_pool2d_grad")
ADAPTIVE_OPS = ("adaptive_avg_axis", "adaptive_avg_axis_grad")


def _row(name, fn, ref, inputs, covers, torch_fn=None, **options):
    CASES.append(OpCase(name=name, fn=fn, ref=ref, inputs=inputs, covers=tuple(covers), torch_fn=torch_fn, **options))


def normal(*shapes):
    return lambda rng: [rng.standard_normal(shape) for shape in shapes]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# --- references ---------------------------------------------------------------------------------------------


def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            for g in range(groups):
                out[:, g * og:(g + 1) * og, i, j] = np.einsum(
                    "nckl,ockl->no", patch[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
    if b is not None:
        out += b[None, :, None, None]
    return out


def ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    oph, opw = _pair(output_padding)
    n, c, h, wd = x.shape
    _, og, kh, kw = w.shape
    cg = c // groups
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((n, og * groups, oh + 2 * ph, ow + 2 * pw))
    for i in range(h):
        for j in range(wd):
            for g in range(groups):
                contribution = np.einsum("nc,cokl->nokl", x[:, g * cg:(g + 1) * cg, i, j], w[g * cg:(g + 1) * cg])
                full[:, g * og:(g + 1) * og, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                     j * sw:j * sw + dw * (kw - 1) + 1:dw] += contribution
    out = full[:, :, ph:ph + oh, pw:pw + ow]
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def _pool_size(size, k, s, p, d, ceil_mode):
    """PyTorch's documented output size, including the ceil-mode rule for the last window."""
    span = (size + 2 * p - d * (k - 1) - 1) / s
    out = (math.ceil(span) if ceil_mode else math.floor(span)) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def ref_max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    n, c, h, w = x.shape
    oh, ow = _pool_size(h, kh, sh, ph, dh, ceil_mode), _pool_size(w, kw, sw, pw, dw, ceil_mode)
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            best = np.full((n, c), -np.inf)
            for a in range(kh):
                for b in range(kw):
                    r, q = i * sh - ph + a * dh, j * sw - pw + b * dw
                    if 0 <= r < h and 0 <= q < w:
                        best = np.maximum(best, x[:, :, r, q])
            out[:, :, i, j] = best
    return out


def ref_avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    (kh, kw), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = _pair(kernel_size if stride is None else stride)
    n, c, h, w = x.shape
    oh, ow = _pool_size(h, kh, sh, ph, 1, ceil_mode), _pool_size(w, kw, sw, pw, 1, ceil_mode)
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
            size = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            divisor = size if count_include_pad else (h1 - h0) * (w1 - w0)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / divisor
    return out


def ref_adaptive_avg_pool2d(x, output_size):
    oh, ow = _pair(output_size)
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, h1 = (i * h) // oh, math.ceil((i + 1) * h / oh)
            w0, w1 = (j * w) // ow, math.ceil((j + 1) * w / ow)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


def _as_2d(ref):
    """A 1-D reference from the 2-D one: (N, C, L) runs as (N, C, 1, L) with height-1 windows."""

    def one_d(x, *args, **kwargs):
        return ref(x[:, :, None, :], *args, **kwargs)[:, :, 0, :]

    return one_d


# --- conv2d -----------------------------------------------------------------------------------------------------

_row("conv2d_basic_bias", lambda x, w, b: ember.conv2d(x, w, b), ref_conv2d,
     normal((2, 3, 7, 6), (4, 3, 3, 3), (4,)), CONV_OPS, lambda x, w, b: F.conv2d(x, w, b))

# Height 8 with kernel 3, stride 2, padding 1 leaves one input row no window reaches: the input gradient
# needs conv_transpose2d's output_padding.
_row("conv2d_stride2_pad1", lambda x, w: ember.conv2d(x, w, stride=2, padding=1),
     lambda x, w: ref_conv2d(x, w, stride=2, padding=1),
     normal((2, 3, 8, 7), (4, 3, 3, 2)), CONV_OPS, lambda x, w: F.conv2d(x, w, stride=2, padding=1))

_row("conv2d_pairs_dilation", lambda x, w: ember.conv2d(x, w, stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
     lambda x, w: ref_conv2d(x, w, stride=(1, 2), padding=(2, 1), dilation=(2, 1)),
     normal((1, 2, 9, 8), (3, 2, 3, 2)), CONV_OPS,
     lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=(2, 1), dilation=(2, 1)))

_row("conv2d_groups2_bias", lambda x, w, b: ember.conv2d(x, w, b, padding=1, groups=2),
     lambda x, w, b: ref_conv2d(x, w, b, padding=1, groups=2),
     normal((2, 4, 5, 6), (6, 2, 3, 3), (6,)), CONV_OPS, lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2))

_row("conv2d_depthwise_stride2", lambda x, w: ember.conv2d(x, w, stride=2, padding=1, groups=3),
     lambda x, w: ref_conv2d(x, w, stride=2, padding=1, groups=3),
     normal((2, 3, 6, 5), (3, 1, 3, 3)), CONV_OPS, lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=3))

_row("conv2d_1x1", lambda x, w: ember.conv2d(x, w), ref_conv2d,
     normal((2, 3, 4, 4), (5, 3, 1, 1)), CONV_OPS, lambda x, w: F.conv2d(x, w))

# Output images of 256 pixels and more run the per-sample kernels (forward from 256, weight gradient from
# 512, or from 256 with fewer C * kh * kw than pixels: the stride-2 row's 306); with stride 1 the input
# gradient is the flipped-kernel convolution that reuses the forward.
_row("conv2d_large_image_dilation", lambda x, w, b: ember.conv2d(x, w, b, padding=2, dilation=(2, 1)),
     lambda x, w, b: ref_conv2d(x, w, b, padding=2, dilation=(2, 1)),
     normal((2, 2, 24, 22), (3, 2, 3, 3), (3,)), CONV_OPS,
     lambda x, w, b: F.conv2d(x, w, b, padding=2, dilation=(2, 1)))

_row("conv2d_large_image_stride2", lambda x, w: ember.conv2d(x, w, stride=(2, 1), padding=1),
     lambda x, w: ref_conv2d(x, w, stride=(2, 1), padding=1),
     normal((2, 3, 36, 17), (2, 3, 3, 2)), CONV_OPS, lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1))

# Images with no more pixels than the kernel has taps run as one dense matrix product (conv_dense.py):
# 1x1 and 2x2 images under a 3x3 kernel, odd sizes, strides and dilation; above 8 connected pixel pairs
# the dense matrix is gathered and the weight gradient's pixel blocks summed per tap instead of a loop.
_row("conv2d_dense_2x2_image", lambda x, w: ember.conv2d(x, w, padding=1),
     lambda x, w: ref_conv2d(x, w, padding=1),
     normal((2, 3, 2, 2), (4, 3, 3, 3)), CONV_OPS, lambda x, w: F.conv2d(x, w, padding=1))

_row("conv2d_dense_1x1_image_bias", lambda x, w, b: ember.conv2d(x, w, b, padding=1),
     lambda x, w, b: ref_conv2d(x, w, b, padding=1),
     normal((3, 4, 1, 1), (5, 4, 3, 3), (5,)), CONV_OPS, lambda x, w, b: F.conv2d(x, w, b, padding=1))

_row("conv2d_dense_stride_dilation", lambda x, w: ember.conv2d(x, w, stride=(2, 1), padding=(2, 1), dilation=(2, 1)),
     lambda x, w: ref_conv2d(x, w, stride=(2, 1), padding=(2, 1), dilation=(2, 1)),
     normal((2, 3, 3, 2), (4, 3, 3, 3)), CONV_OPS,
     lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=(2, 1), dilation=(2, 1)))

_row("conv2d_dense_many_pairs", lambda x, w: ember.conv2d(x, w, padding=2),
     lambda x, w: ref_conv2d(x, w, padding=2),
     normal((2, 2, 3, 3), (3, 2, 3, 3)), CONV_OPS, lambda x, w: F.conv2d(x, w, padding=2))

# Output images of 64-255 pixels with C * kw >= 128 run one product per kernel row (stride 1 along H; any
# stride along W, dilation).
_row("conv2d_kernel_rows", lambda x, w: ember.conv2d(x, w, padding=(1, 4)),
     lambda x, w: ref_conv2d(x, w, padding=(1, 4)),
     normal((2, 16, 8, 8), (3, 16, 3, 8)), CONV_OPS, lambda x, w: F.conv2d(x, w, padding=(1, 4)))

_row("conv2d_kernel_rows_stride_dilation",
     lambda x, w: ember.conv2d(x, w, stride=(1, 2), padding=(1, 4), dilation=(2, 1)),
     lambda x, w: ref_conv2d(x, w, stride=(1, 2), padding=(1, 4), dilation=(2, 1)),
     normal((2, 16, 12, 12), (3, 16, 3, 8)), CONV_OPS,
     lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=(1, 4), dilation=(2, 1)))

# A dilated kernel can step over the only pixel: no tap joins input and output, the output is the bias.
_row("conv2d_dense_no_tap_reaches", lambda x, w, b: ember.conv2d(x, w, b, padding=1, dilation=2),
     lambda x, w, b: ref_conv2d(x, w, b, padding=1, dilation=2),
     normal((2, 2, 1, 1), (3, 2, 2, 2), (3,)), CONV_OPS, lambda x, w, b: F.conv2d(x, w, b, padding=1, dilation=2))

_row("conv1d_stride_dilation_groups",
     lambda x, w, b: ember.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
     lambda x, w, b: _as_2d(ref_conv2d)(x, w[:, :, None, :], b, stride=(1, 2), padding=(0, 1), dilation=(1, 2),
                                        groups=2),
     normal((2, 4, 11), (6, 2, 3), (6,)), CONV_OPS + ("reshape",),
     lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2))

# --- conv_transpose2d -----------------------------------------------------------------------------------------

_row("conv_transpose2d_basic_bias", lambda x, w, b: ember.conv_transpose2d(x, w, b), ref_conv_transpose2d,
     normal((2, 3, 4, 5), (3, 2, 3, 3), (2,)), CONV_OPS, lambda x, w, b: F.conv_transpose2d(x, w, b))

_row("conv_transpose2d_stride2_output_padding",
     lambda x, w: ember.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     lambda x, w: ref_conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     normal((2, 4, 3, 4), (4, 3, 3, 2)), CONV_OPS,
     lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1))

_row("conv_transpose2d_groups_dilation",
     lambda x, w: ember.conv_transpose2d(x, w, stride=(1, 2), output_padding=(1, 1), groups=2, dilation=(2, 1)),
     lambda x, w: ref_conv_transpose2d(x, w, stride=(1, 2), output_padding=(1, 1), groups=2, dilation=(2, 1)),
     normal((1, 4, 3, 3), (4, 1, 2, 3)), CONV_OPS,
     lambda x, w: F.conv_transpose2d(x, w, stride=(1, 2), output_padding=(1, 1), groups=2, dilation=(2, 1)))

_row("conv_transpose2d_large_image_stride1", lambda x, w, b: ember.conv_transpose2d(x, w, b, padding=(1, 0)),
     lambda x, w, b: ref_conv_transpose2d(x, w, b, padding=(1, 0)),
     normal((2, 3, 16, 15), (3, 2, 3, 3), (2,)), CONV_OPS,
     lambda x, w, b: F.conv_transpose2d(x, w, b, padding=(1, 0)))

# Transposed convolutions to 2x2 outputs (dense), and stride-1 ones run as a flipped-kernel conv2d.
_row("conv_transpose2d_dense_stride2_output_padding",
     lambda x, w: ember.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     lambda x, w: ref_conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
     normal((2, 4, 1, 1), (4, 3, 3, 3)), CONV_OPS,
     lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1))

_row("conv_transpose2d_flipped_groups_dilation",
     lambda x, w: ember.conv_transpose2d(x, w, padding=(1, 2), groups=2, dilation=(1, 2)),
     lambda x, w: ref_conv_transpose2d(x, w, padding=(1, 2), groups=2, dilation=(1, 2)),
     normal((2, 4, 5, 6), (4, 3, 3, 2)), CONV_OPS,
     lambda x, w: F.conv_transpose2d(x, w, padding=(1, 2), groups=2, dilation=(1, 2)))

_row("conv_transpose1d_stride3_output_padding",
     lambda x, w, b: ember.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
     lambda x, w, b: _as_2d(ref_conv_transpose2d)(x, w[:, :, None, :], b, stride=(1, 3), padding=(0, 1),
                                                  output_padding=(0, 2)),
     normal((2, 3, 4), (3, 2, 3), (2,)), CONV_OPS + ("reshape",),
     lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2))

# --- max pooling -------------------------------------------------------------------------------------------------

_row("max_pool2d_k2", lambda x: ember.max_pool2d(x, 2), lambda x: ref_max_pool2d(x, 2),
     normal((2, 3, 6, 6)), MAX_OPS, lambda x: F.max_pool2d(x, 2))

_row("max_pool2d_k3_s2_p1_ceil", lambda x: ember.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     lambda x: ref_max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     normal((2, 2, 7, 8)), MAX_OPS, lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True))

# ResNet's stem pooling: overlapping windows, run on phase planes (ember.ops.pool_planes) on NumPy
_row("max_pool2d_k3_s2_p1", lambda x: ember.max_pool2d(x, 3, stride=2, padding=1),
     lambda x: ref_max_pool2d(x, 3, stride=2, padding=1),
     normal((2, 3, 8, 6)), MAX_OPS, lambda x: F.max_pool2d(x, 3, stride=2, padding=1))

_row("max_pool2d_pairs_dilation",
     lambda x: ember.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1)),
     lambda x: ref_max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1)),
     normal((1, 2, 9, 8)), MAX_OPS,
     lambda x: F.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1)))

# Squaring the pooled values makes the first gradient depend on them, so grad-of-grad runs the
# gradient's own vjp (max_pool2d_gather).
_row("max_pool2d_squared_overlapping", lambda x: ember.max_pool2d(x, 3, stride=1) ** 2,
     lambda x: ref_max_pool2d(x, 3, stride=1) ** 2,
     normal((1, 2, 5, 6)), MAX_OPS + ("max_pool2d_gather",), lambda x: F.max_pool2d(x, 3, stride=1) ** 2)

_row("max_pool1d_ceil", lambda x: ember.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True),
     lambda x: _as_2d(ref_max_pool2d)(x, (1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True),
     normal((2, 3, 10)), MAX_OPS + ("reshape",), lambda x: F.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True))

# --- average pooling ---------------------------------------------------------------------------------------------

_row("avg_pool2d_k2", lambda x: ember.avg_pool2d(x, 2), lambda x: ref_avg_pool2d(x, 2),
     normal((2, 3, 6, 5)), AVG_OPS, lambda x: F.avg_pool2d(x, 2))

_row("avg_pool2d_k3_s2_p1_ceil", lambda x: ember.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     lambda x: ref_avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
     normal((2, 2, 7, 8)), AVG_OPS, lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True))

_row("avg_pool2d_exclude_pad_ceil",
     lambda x: ember.avg_pool2d(x, (3, 2), stride=(2, 3), padding=1, ceil_mode=True, count_include_pad=False),
     lambda x: ref_avg_pool2d(x, (3, 2), stride=(2, 3), padding=1, ceil_mode=True, count_include_pad=False),
     normal((2, 2, 7, 8)), AVG_OPS,
     lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 3), padding=1, ceil_mode=True, count_include_pad=False))

_row("avg_pool1d_ceil", lambda x: ember.avg_pool1d(x, 4, stride=3, padding=2, ceil_mode=True),
     lambda x: _as_2d(ref_avg_pool2d)(x, (1, 4), stride=(1, 3), padding=(0, 2), ceil_mode=True),
     normal((2, 3, 11)), AVG_OPS + ("reshape",), lambda x: F.avg_pool1d(x, 4, stride=3, padding=2, ceil_mode=True))

# --- adaptive average pooling ---------------------------------------------------------------------------------------

_row("adaptive_avg_pool2d_uneven_bins", lambda x: ember.adaptive_avg_pool2d(x, (3, 4)),
     lambda x: ref_adaptive_avg_pool2d(x, (3, 4)), normal((2, 3, 7, 9)), ADAPTIVE_OPS,
     lambda x: F.adaptive_avg_pool2d(x, (3, 4)))

# more bins than elements: each element lies in up to three bins
_row("adaptive_avg_pool2d_finer_bins", lambda x: ember.adaptive_avg_pool2d(x, (5, 7)),
     lambda x: ref_adaptive_avg_pool2d(x, (5, 7)), normal((1, 2, 3, 2)), ADAPTIVE_OPS,
     lambda x: F.adaptive_avg_pool2d(x, (5, 7)))

_row("adaptive_avg_pool2d_global", lambda x: ember.adaptive_avg_pool2d(x, 1),
     lambda x: ref_adaptive_avg_pool2d(x, 1), normal((2, 3, 5, 5)), ("reshape",),
     lambda x: F.adaptive_avg_pool2d(x, 1))

_row("adaptive_avg_pool1d", lambda x: ember.adaptive_avg_pool1d(x, 4),
     lambda x: _as_2d(ref_adaptive_avg_pool2d)(x, (1, 4)), normal((2, 3, 10)), ADAPTIVE_OPS + ("reshape",),
     lambda x: F.adaptive_avg_pool1d(x, 4))


# --- 3-D convolution and pooling ------------------------------------------------------------------------------------

CONV3D_OPS = ("conv3d", "conv_transpose3d", "conv3d_weight_grad")
MAX3D_OPS = ("max_pool3d", "max_pool3d_grad")
AVG3D_OPS = ("avg_pool3d", "avg_pool3d_grad")


def _triple(v):
    return (v, v, v) if isinstance(v, int) else tuple(v)


def _outputs(shape):
    return itertools.product(*(range(s) for s in shape))


def ref_conv3d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    (st, pd, dl) = _triple(stride), _triple(padding), _triple(dilation)
    n, c = x.shape[:2]
    o, cg = w.shape[:2]
    kernel = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in pd))
    out_size = [(s + 2 * p - d * (k - 1) - 1) // t + 1 for s, k, t, p, d in zip(x.shape[2:], kernel, st, pd, dl)]
    og = o // groups
    out = np.zeros((n, o, *out_size))
    for pos in _outputs(out_size):
        patch = xp[(slice(None), slice(None)) + tuple(slice(i * t, i * t + d * (k - 1) + 1, d)
                                                      for i, t, d, k in zip(pos, st, dl, kernel))]
        for g in range(groups):
            out[(slice(None), slice(g * og, (g + 1) * og)) + pos] = np.einsum(
                "ncdhw,ocdhw->no", patch[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
    if b is not None:
        out += b[None, :, None, None, None]
    return out


def ref_conv_transpose3d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    st, pd, dl, op = _triple(stride), _triple(padding), _triple(dilation), _triple(output_padding)
    n, c = x.shape[:2]
    og, kernel = w.shape[1], w.shape[2:]
    cg = c // groups
    out_size = [(s - 1) * t - 2 * p + d * (k - 1) + e + 1
                for s, k, t, p, d, e in zip(x.shape[2:], kernel, st, pd, dl, op)]
    full = np.zeros((n, og * groups) + tuple(s + 2 * p for s, p in zip(out_size, pd)))
    for pos in _outputs(x.shape[2:]):
        for g in range(groups):
            contribution = np.einsum("nc,cokhw->nokhw", x[(slice(None), slice(g * cg, (g + 1) * cg)) + pos],
                                     w[g * cg:(g + 1) * cg])
            full[(slice(None), slice(g * og, (g + 1) * og)) + tuple(
                slice(i * t, i * t + d * (k - 1) + 1, d) for i, t, d, k in zip(pos, st, dl, kernel))] += contribution
    out = full[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(pd, out_size))]
    if b is not None:
        out = out + b[None, :, None, None, None]
    return out


def ref_max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    kernel, pd, dl = _triple(kernel_size), _triple(padding), _triple(dilation)
    st = _triple(kernel_size if stride is None else stride)
    out_size = [_pool_size(s, k, t, p, d, ceil_mode) for s, k, t, p, d in zip(x.shape[2:], kernel, st, pd, dl)]
    out = np.empty(x.shape[:2] + tuple(out_size))
    for pos in _outputs(out_size):
        best = np.full(x.shape[:2], -np.inf)
        for tap in _outputs(kernel):
            at = [i * t - p + j * d for i, t, p, j, d in zip(pos, st, pd, tap, dl)]
            if all(0 <= a < s for a, s in zip(at, x.shape[2:])):
                best = np.maximum(best, x[(slice(None), slice(None)) + tuple(at)])
        out[(slice(None), slice(None)) + pos] = best
    return out


def ref_avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    kernel, pd = _triple(kernel_size), _triple(padding)
    st = _triple(kernel_size if stride is None else stride)
    out_size = [_pool_size(s, k, t, p, 1, ceil_mode) for s, k, t, p in zip(x.shape[2:], kernel, st, pd)]
    out = np.empty(x.shape[:2] + tuple(out_size))
    for pos in _outputs(out_size):
        start = [i * t - p for i, t, p in zip(pos, st, pd)]
        end = [min(a + k, s + p) for a, k, s, p in zip(start, kernel, x.shape[2:], pd)]
        size = math.prod(e - a for a, e in zip(start, end))
        start = [max(a, 0) for a in start]
        end = [min(e, s) for e, s in zip(end, x.shape[2:])]
        divisor = size if count_include_pad else math.prod(e - a for a, e in zip(start, end))
        window = x[(slice(None), slice(None)) + tuple(slice(a, e) for a, e in zip(start, end))]
        out[(slice(None), slice(None)) + pos] = window.sum(axis=(2, 3, 4)) / divisor
    return out


def ref_adaptive_avg_pool3d(x, output_size):
    out_size = _triple(output_size)
    out = np.empty(x.shape[:2] + out_size)
    for pos in _outputs(out_size):
        index = tuple(slice((i * s) // o, math.ceil((i + 1) * s / o)) for i, s, o in zip(pos, x.shape[2:], out_size))
        out[(slice(None), slice(None)) + pos] = x[(slice(None), slice(None)) + index].mean(axis=(2, 3, 4))
    return out


_row("conv3d_basic_bias", lambda x, w, b: ember.conv3d(x, w, b), ref_conv3d,
     normal((2, 3, 4, 5, 4), (4, 3, 2, 3, 2), (4,)), CONV3D_OPS, lambda x, w, b: F.conv3d(x, w, b))

# Depth 5 with kernel 3, stride 2 and no padding leaves one input plane no window reaches: the input gradient
# needs conv_transpose3d's output_padding.
_row("conv3d_stride_pad_dilation_groups",
     lambda x, w, b: ember.conv3d(x, w, b, stride=(2, 1, 2), padding=(0, 1, 1), dilation=(1, 2, 1), groups=2),
     lambda x, w, b: ref_conv3d(x, w, b, stride=(2, 1, 2), padding=(0, 1, 1), dilation=(1, 2, 1), groups=2),
     normal((2, 4, 6, 5, 5), (6, 2, 3, 2, 2), (6,)), CONV3D_OPS,
     lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 2), padding=(0, 1, 1), dilation=(1, 2, 1), groups=2))

# 'same' with an even kernel: the odd element of the padding goes on the far side, padded into the input.
_row("conv3d_same_even_kernel", lambda x, w: ember.conv3d(x, w, padding="same"),
     lambda x, w: ref_conv3d(np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 0), (0, 1))), w, padding=(0, 1, 0)),
     normal((2, 2, 4, 4, 3), (3, 2, 2, 3, 2)), CONV3D_OPS + ("pad",), lambda x, w: F.conv3d(x, w, padding="same"))

_row("conv_transpose3d_basic_bias", lambda x, w, b: ember.conv_transpose3d(x, w, b), ref_conv_transpose3d,
     normal((2, 3, 3, 4, 3), (3, 2, 2, 3, 2), (2,)), CONV3D_OPS, lambda x, w, b: F.conv_transpose3d(x, w, b))

# output_padding 1 along H with stride 1 and dilation 2: a plane no window reaches (zeros; its gradient is cropped)
_row("conv_transpose3d_stride_output_padding_groups",
     lambda x, w: ember.conv_transpose3d(x, w, stride=(2, 1, 2), padding=(1, 0, 0), output_padding=(1, 1, 0),
                                         groups=2, dilation=(1, 2, 1)),
     lambda x, w: ref_conv_transpose3d(x, w, stride=(2, 1, 2), padding=(1, 0, 0), output_padding=(1, 1, 0),
                                       groups=2, dilation=(1, 2, 1)),
     normal((2, 4, 3, 3, 2), (4, 1, 3, 2, 2)), CONV3D_OPS,
     lambda x, w: F.conv_transpose3d(x, w, stride=(2, 1, 2), padding=(1, 0, 0), output_padding=(1, 1, 0), groups=2,
                                     dilation=(1, 2, 1)))

_row("max_pool3d_k2", lambda x: ember.max_pool3d(x, 2), lambda x: ref_max_pool3d(x, 2),
     normal((2, 2, 4, 4, 5)), MAX3D_OPS, lambda x: F.max_pool3d(x, 2))

_row("max_pool3d_k3_s2_p1_dilation_ceil",
     lambda x: ember.max_pool3d(x, (3, 2, 3), stride=(2, 1, 2), padding=1, dilation=(1, 2, 1), ceil_mode=True),
     lambda x: ref_max_pool3d(x, (3, 2, 3), stride=(2, 1, 2), padding=1, dilation=(1, 2, 1), ceil_mode=True),
     normal((1, 2, 6, 5, 6)), MAX3D_OPS,
     lambda x: F.max_pool3d(x, (3, 2, 3), stride=(2, 1, 2), padding=1, dilation=(1, 2, 1), ceil_mode=True))

# Squaring the pooled values makes grad-of-grad run the gradient's own vjp (max_pool3d_gather).
_row("max_pool3d_squared_overlapping", lambda x: ember.max_pool3d(x, 2, stride=1) ** 2,
     lambda x: ref_max_pool3d(x, 2, stride=1) ** 2,
     normal((1, 2, 3, 4, 3)), MAX3D_OPS + ("max_pool3d_gather",), lambda x: F.max_pool3d(x, 2, stride=1) ** 2)

_row("avg_pool3d_k2", lambda x: ember.avg_pool3d(x, 2), lambda x: ref_avg_pool3d(x, 2),
     normal((2, 2, 4, 5, 4)), AVG3D_OPS, lambda x: F.avg_pool3d(x, 2))

_row("avg_pool3d_exclude_pad_ceil",
     lambda x: ember.avg_pool3d(x, (3, 2, 3), stride=(2, 3, 2), padding=1, ceil_mode=True, count_include_pad=False),
     lambda x: ref_avg_pool3d(x, (3, 2, 3), stride=(2, 3, 2), padding=1, ceil_mode=True, count_include_pad=False),
     normal((1, 2, 5, 7, 6)), AVG3D_OPS,
     lambda x: F.avg_pool3d(x, (3, 2, 3), stride=(2, 3, 2), padding=1, ceil_mode=True, count_include_pad=False))

_row("avg_pool3d_k3_s2_p1", lambda x: ember.avg_pool3d(x, 3, stride=2, padding=1),
     lambda x: ref_avg_pool3d(x, 3, stride=2, padding=1),
     normal((1, 2, 5, 4, 6)), AVG3D_OPS, lambda x: F.avg_pool3d(x, 3, stride=2, padding=1))

# Uneven bins along D (neither of the last two axes) and W are adaptive_avg_axis ops; even ones along H a
# reshaped mean.
_row("adaptive_avg_pool3d_uneven_bins", lambda x: ember.adaptive_avg_pool3d(x, (3, 2, 4)),
     lambda x: ref_adaptive_avg_pool3d(x, (3, 2, 4)), normal((2, 2, 7, 4, 6)), ADAPTIVE_OPS + ("reshape",),
     lambda x: F.adaptive_avg_pool3d(x, (3, 2, 4)))

_row("adaptive_avg_pool3d_global", lambda x: ember.adaptive_avg_pool3d(x, 1),
     lambda x: ref_adaptive_avg_pool3d(x, 1), normal((2, 3, 3, 4, 5)), ("reshape",),
     lambda x: F.adaptive_avg_pool3d(x, 1))


# --- pooling indices, max unpooling, fractional max pooling -------------------------------------------------------


def _window_argmax(x, windows):
    """The flat plane index of the first maximum over each output position's window: ``windows(pos)`` lists the
    window's in-bounds positions in row-major order."""
    out_size = windows.out_size
    out = np.empty(x.shape[:2] + tuple(out_size), dtype=np.int64)
    plane = x.shape[2:]
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for pos in _outputs(out_size):
            taps = windows(n, c, pos)
            values = [x[(n, c) + tap] for tap in taps]
            out[(n, c) + pos] = np.ravel_multi_index(taps[int(np.argmax(values))], plane)
    return out


def ref_max_pool_indices(x, kernel_size, stride, padding, dilation, ceil_mode=False):
    rank = x.ndim - 2
    kernel, st, pd, dl = ((v,) * rank if isinstance(v, int) else tuple(v)
                          for v in (kernel_size, stride, padding, dilation))

    def windows(n, c, pos):
        taps = [tuple(i * t - p + j * d for i, t, p, j, d in zip(pos, st, pd, tap, dl)) for tap in _outputs(kernel)]
        return [tap for tap in taps if all(0 <= a < s for a, s in zip(tap, x.shape[2:]))]

    windows.out_size = [_pool_size(s, k, t, p, d, ceil_mode) for s, k, t, p, d in zip(x.shape[2:], kernel, st, pd, dl)]
    return _window_argmax(x, windows)


def ref_adaptive_max_pool_indices(x, output_size):
    def windows(n, c, pos):
        ranges = [range((i * s) // o, math.ceil((i + 1) * s / o)) for i, s, o in zip(pos, x.shape[2:], output_size)]
        return list(itertools.product(*ranges))

    windows.out_size = output_size
    return _window_argmax(x, windows)


def _fractional_starts(sample, size, kernel, out):
    """PyTorch's documented interval rule, in float64."""
    if out == 1:
        return [size - kernel]
    alpha = (size - kernel) / (out - 1)
    return [math.floor((i + sample) * alpha) - math.floor(sample * alpha) for i in range(out - 1)] + [size - kernel]


def ref_fractional_max_pool(x, kernel_size, output_size, samples, columns):
    """Values of fractional max pooling; ``columns``: which sample each spatial axis reads."""
    def windows(n, c, pos):
        starts = [_fractional_starts(samples[n, c, col], s, k, o)
                  for col, s, k, o in zip(columns, x.shape[2:], kernel_size, output_size)]
        return list(itertools.product(*(range(st[i], st[i] + k) for st, i, k in zip(starts, pos, kernel_size))))

    windows.out_size = output_size
    index = _window_argmax(x, windows)
    flat = x.reshape(x.shape[:2] + (-1,))
    return np.take_along_axis(flat, index.reshape(x.shape[:2] + (-1,)), axis=2).reshape(index.shape)


def ref_max_unpool(x, indices, output_size):
    out = np.zeros(x.shape[:2] + (math.prod(output_size),))
    for n, c in itertools.product(range(x.shape[0]), range(x.shape[1])):
        out[n, c, indices[n, c].reshape(-1)] = x[n, c].reshape(-1)
    return out.reshape(x.shape[:2] + tuple(output_size))


def _indices_of(fn):
    """A torch pooling call's indices (its second result)."""
    return lambda x: fn(x)[1]


_row("max_pool2d_indices_pad_ceil", lambda x: ember.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)[1],
     lambda x: ref_max_pool_indices(x, 3, 2, 1, 1, ceil_mode=True), normal((2, 2, 7, 8)), ("max_pool_indices",),
     F and _indices_of(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True)), grad=False)

_row("max_pool3d_indices_dilated",
     lambda x: ember.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 1), return_indices=True)[1],
     lambda x: ref_max_pool_indices(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 1)), normal((1, 2, 5, 6, 5)),
     ("max_pool_indices",),
     F and _indices_of(lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 2), (1, 1, 0), (2, 1, 1), return_indices=True)),
     grad=False)

_row("adaptive_max_pool3d_indices",
     lambda x: ember.nn.functional.adaptive_max_pool3d(x, (2, 3, 4), return_indices=True)[1],
     lambda x: ref_adaptive_max_pool_indices(x, (2, 3, 4)), normal((2, 2, 5, 7, 6)), ("adaptive_max_pool_indices",),
     F and _indices_of(lambda x: F.adaptive_max_pool3d(x, (2, 3, 4), return_indices=True)), grad=False)

_FRACTIONAL_SAMPLES = np.random.default_rng(7).random((2, 2, 2))

_row("fractional_max_pool2d", lambda x: ember.nn.functional.fractional_max_pool2d(
        x, (3, 2), output_size=(4, 5), _random_samples=ember.tensor(_FRACTIONAL_SAMPLES)),
     lambda x: ref_fractional_max_pool(x, (3, 2), (4, 5), _FRACTIONAL_SAMPLES, (1, 0)), normal((2, 2, 9, 8)),
     ("fractional_max_pool_indices", "gather", "reshape"),
     F and (lambda x: F.fractional_max_pool2d(x, (3, 2), output_size=(4, 5),
                                              _random_samples=torch.tensor(_FRACTIONAL_SAMPLES))))

# one index per 2 x 2 window of a 6 x 8 plane, so every input element has its own output position
_UNPOOL_INDICES = np.array([[[[(2 * i + (i + j + n + c) % 2) * 8 + 2 * j + (i * j + c) % 2 for j in range(4)]
                              for i in range(3)] for c in range(3)] for n in range(2)])

_row("max_unpool2d", lambda x: ember.max_unpool2d(x, ember.tensor(_UNPOOL_INDICES), 2),
     lambda x: ref_max_unpool(x, _UNPOOL_INDICES, (6, 8)), normal((2, 3, 3, 4)), ("max_unpool", "gather", "reshape"),
     F and (lambda x: F.max_unpool2d(x, torch.tensor(_UNPOOL_INDICES), 2)))

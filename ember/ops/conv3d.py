"""3-D (volumetric) convolutions in NCDHW layout with PyTorch's signatures: conv3d and conv_transpose3d.

As for the 2-D ones (``ember.ops.conv``), three bilinear primitives carry both: ``conv3d(x, w)``, its adjoint
with respect to x ``conv_transpose3d(gy, w)`` and with respect to w ``conv3d_weight_grad(x, gy)``; the vjps
of each are the other two, so gradients of any order stay inside the set. The kernels are ``conv_nd``'s
batch-last im2col and col2im over three spatial axes, on NumPy or CuPy; with the ``onednn`` extra, float32 ones run
on oneDNN's direct kernels instead (the 2-D calls of ``ember.backend.onednn``, which take any spatial rank), the
same in eager mode and generated code. The records' shape rules, vjps and costs are ``conv_records``'s, as the 2-D
ones'.
"""

from __future__ import annotations

import numpy as np

from ember.backend import onednn
from ember.backend.dtypes import float32
from ember.ops import conv_nd, dispatch
from ember.ops.conv import (
    _add_bias,
    _biased_in_float32,
    _check_output_padding,
    _compute_dtype,
    _conv_attrs,
    _fits,
    _operands,
    _specs,
    ints,
)
from ember.ops.conv_padding import pad_for_string, unbatched
from ember.ops.conv_records import conv_ops
from ember.ops.dispatch import TensorLike

_RANK = 3


def _result(y, result_dtype):
    return y.astype(result_dtype) if result_dtype is not None else y


# --- conv3d -------------------------------------------------------------------------------------------------


def _on_onednn(xp, dtype) -> bool:
    return xp is np and onednn.runs(dtype)


def _conv3d_forward(xp, x, w, bias=None, *, stride, padding, dilation, groups):
    (x, w), result_dtype = _compute_dtype(xp, x, w)
    if _on_onednn(xp, x.dtype):
        out_size = conv_nd.conv_out_sizes(x.shape[2:], w.shape[2:], stride, padding, dilation)
        if bias is not None and bias.dtype != x.dtype:
            bias = bias.astype(float32)
        y = onednn.conv2d(x, w, out_size, stride, padding, dilation, groups, bias)  # the bias added in it
        if y is not None:
            return _result(y, result_dtype)
    y = conv_nd.conv(xp, x, w, stride, padding, dilation, groups)
    if bias is not None:  # y is this kernel's own new array
        xp.add(y, bias.astype(y.dtype, copy=False).reshape(1, -1, 1, 1, 1), out=y)
    return _result(y, result_dtype)


# --- conv3d_weight_grad ------------------------------------------------------------------------------------


def _weight_grad_forward(xp, x, gy, *, stride, padding, dilation, groups, kernel_size):
    # gy may cover only the leading output pixels of conv3d(x, w): the adjoint of a convolution cropped at the
    # far end, which conv_transpose3d's vjp needs when output_padding adds planes no window of its input reaches.
    (x, gy), result_dtype = _compute_dtype(xp, x, gy)
    if _on_onednn(xp, x.dtype):
        gw = onednn.conv2d_weight_grad(x, gy, tuple(kernel_size), stride, padding, dilation, groups)
        if gw is not None:
            return _result(gw, result_dtype)
    return _result(conv_nd.conv_weight_grad(xp, x, gy, kernel_size, stride, padding, dilation, groups), result_dtype)


# --- conv_transpose3d --------------------------------------------------------------------------------------


def _conv_transpose3d_forward(xp, x, w, *, stride, padding, dilation, groups, output_padding):
    (x, w), result_dtype = _compute_dtype(xp, x, w)
    if _on_onednn(xp, x.dtype):  # the gradient of a convolution with respect to its input
        out_size = conv_nd.transposed_sizes(x.shape[2:], w.shape[2:], stride, padding, dilation, output_padding)
        y = onednn.conv2d_input_grad(x, w, out_size, stride, padding, dilation, groups)
        if y is not None:
            return _result(y, result_dtype)
    return _result(conv_nd.conv_transpose(xp, x, w, stride, padding, dilation, groups, output_padding), result_dtype)


# --- the records ------------------------------------------------------------------------------------------

CONV3D, CONV3D_WEIGHT_GRAD, CONV_TRANSPOSE3D = conv_ops(_RANK, _conv3d_forward, _weight_grad_forward,
                                                        _conv_transpose3d_forward)


# --- public functions --------------------------------------------------------------------------------------


def conv3d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> TensorLike:
    """3-D convolution (cross-correlation) of ``x`` (N, C, D, H, W) with ``weight`` (O, C/groups, kD, kH, kW), plus
    ``bias`` (O,); ``stride``, ``padding`` and ``dilation`` are ints or triples, ``padding`` also 'same' or 'valid',
    as in PyTorch; unbatched (C, D, H, W) input gives a (O, D', H', W') result.

    >>> y = ember.conv3d(ember.randn(2, 3, 8, 8, 8), ember.randn(4, 3, 3, 3, 3), padding=1)   # (2, 4, 8, 8, 8)
    """
    x, weight, bias = _operands("conv3d", x, weight, bias)
    if x.ndim == 4 and weight.ndim == 5:  # unbatched (C, D, H, W)
        return unbatched(conv3d, x, weight, bias, stride, padding, dilation, groups)
    if isinstance(padding, str):
        x, padding = pad_for_string("conv3d", x, weight, padding, ints("conv3d", "stride", stride, 1, _RANK),
                                    ints("conv3d", "dilation", dilation, 1, _RANK))
    attrs = _conv_attrs("conv3d", stride, padding, dilation, groups, _RANK)
    CONV3D.infer(*_specs(x, weight), **attrs)
    if _fits(bias, x, weight):
        return dispatch.apply(CONV3D, (x, weight, bias), attrs)  # added inside the op
    return _add_bias("conv3d", dispatch.apply(CONV3D, (x, weight), attrs), bias)


def conv_transpose3d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1) -> TensorLike:
    """Transposed 3-D convolution (the gradient of conv3d with respect to its input) of ``x`` (N, C_in, D, H, W)
    with ``weight`` (C_in, C_out/groups, kD, kH, kW), as in PyTorch; ``output_padding`` adds planes on the far
    side to pick among the input sizes a strided conv3d maps to the same output size.

    >>> y = ember.conv_transpose3d(ember.randn(2, 4, 3, 3, 3), ember.randn(4, 2, 2, 2, 2), stride=2)   # 6x6x6
    """
    name = "conv_transpose3d"
    x, weight, bias = _operands(name, x, weight, bias)
    widened = _biased_in_float32(conv_transpose3d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    if widened is not None:
        return widened
    if x.ndim == 4 and weight.ndim == 5:  # unbatched (C_in, D, H, W)
        return unbatched(conv_transpose3d, x, weight, bias, stride, padding, output_padding, groups, dilation)
    attrs = _conv_attrs(name, stride, padding, dilation, groups, _RANK)
    attrs["output_padding"] = ints(name, "output_padding", output_padding, 0, _RANK)
    _check_output_padding(name, attrs["output_padding"], attrs["stride"], attrs["dilation"])
    CONV_TRANSPOSE3D.infer(*_specs(x, weight), **attrs)
    return _add_bias(name, dispatch.apply(CONV_TRANSPOSE3D, (x, weight), attrs), bias)

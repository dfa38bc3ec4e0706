"""3-D (volumetric) convolutions in NCDHW layout with PyTorch's signatures: conv3d and conv_transpose3d.

As for the 2-D ones (``ember.ops.conv``), three bilinear primitives carry both: ``conv3d(x, w)``, its adjoint
with respect to x ``conv_transpose3d(gy, w)`` and with respect to w ``conv3d_weight_grad(x, gy)``; the vjps
of each are the other two, so gradients of any order stay inside the set. The kernels are ``conv_nd``'s
batch-last im2col and col2im over three spatial axes, on NumPy or CuPy; with the ``onednn`` extra, float32 ones run
on oneDNN's direct kernels instead (the 2-D calls of ``ember.backend.onednn``, which take any spatial rank), the
same in eager mode and generated code.
"""

from __future__ import annotations

import numpy as np

from ember.backend import onednn
from ember.backend.dtypes import float32
from ember.ops import conv_nd, dispatch
from ember.ops.autocast import LOWER
from ember.ops.conv import (
    _add_bias,
    _check_conv,
    _check_output_padding,
    _compute_dtype,
    _crop,
    _groups,
    _operands,
    _specs,
    _transpose_attrs,
    empty_safe,
    ints,
)
from ember.ops.dispatch import TensorLike
from ember.ops.infer import as_int, check_window, same_dtype
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.reduction import SUM
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error

_RANK = 3
_AXES = "DHW"


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


def _conv3d_infer(x, w, bias=None, *, stride, padding, dilation, groups):
    check_window("conv3d", [x, w], _RANK, stride=stride, padding=padding, dilation=dilation)
    _check_conv("conv3d", x, w, groups, rank=_RANK)
    if bias is not None:
        specs = [x, w, bias]
        same_dtype("conv3d", specs)
        if bias.ndim != 1 or bias.shape[0] != w.shape[0]:
            raise shape_error("conv3d", specs, f"bias must have shape [{w.shape[0]}] (one per output channel)")
    sizes = conv_nd.conv_out_sizes(x.shape[2:], w.shape[2:], stride, padding, dilation)
    for axis, out in enumerate(sizes):
        if out <= 0:
            kernel = w.shape[2 + axis]
            raise shape_error(
                "conv3d", [x, w], f"kernel size {kernel} (dilated: {dilation[axis] * (kernel - 1) + 1}) is larger "
                f"than the padded input size {x.shape[2 + axis] + 2 * padding[axis]} along {_AXES[axis]}")
    return Spec((x.shape[0], w.shape[0]) + sizes, x.dtype)


def _conv3d_rule(run, ctx, g):
    x, w = ctx.inputs[:2]
    attrs = ctx.attrs
    gx = gw = None
    if ctx.needs[0]:
        gx = run(CONV_TRANSPOSE3D, g, w, **_transpose_attrs(g.shape, w.shape, tuple(x.shape[2:]), **attrs))
    if ctx.needs[1]:
        gw = run(CONV3D_WEIGHT_GRAD, x, g, kernel_size=tuple(w.shape[2:]), **attrs)
    if len(ctx.inputs) == 2:
        return gx, gw
    gb = run(SUM, g, axis=(0, 2, 3, 4), keepdims=False) if ctx.needs[2] else None
    return gx, gw, gb


def _conv3d_cost(out, x, w, bias=None, **attrs):
    per_output = w.size // w.shape[0]  # (C / groups) * kd * kh * kw multiply-adds per output element
    return Cost(2 * out.size * per_output, out.nbytes + x.nbytes + w.nbytes + (bias.nbytes if bias is not None else 0))


CONV3D = defop("conv3d", forward=empty_safe(_conv3d_infer)(_conv3d_forward), infer=_conv3d_infer,
               vjp=vjp_rule(_conv3d_rule), cost=_conv3d_cost, onnx="Conv", autocast=LOWER)


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


def _weight_grad_infer(x, gy, *, stride, padding, dilation, groups, kernel_size):
    specs = [x, gy]
    check_window("conv3d_weight_grad", specs, _RANK, stride=stride, padding=padding, dilation=dilation,
                 kernel_size=kernel_size)
    if as_int("conv3d_weight_grad", groups, "groups", specs) < 1:
        raise shape_error("conv3d_weight_grad", specs, f"groups must be positive, got {groups}")
    if x.ndim != 5 or gy.ndim != 5:
        raise shape_error("conv3d_weight_grad", specs, "input and output gradient must be 5-D")
    same_dtype("conv3d_weight_grad", specs)
    if x.shape[0] != gy.shape[0] or x.shape[1] % groups or gy.shape[1] % groups:
        raise shape_error("conv3d_weight_grad", specs, f"batch sizes or channels do not fit groups={groups}")
    full = conv_nd.conv_out_sizes(x.shape[2:], kernel_size, stride, padding, dilation)
    for axis, expected in enumerate(full):
        if not 1 <= gy.shape[2 + axis] <= expected:
            raise shape_error("conv3d_weight_grad", specs, f"output gradient must have size at most {expected} "
                              f"along {_AXES[axis]}, got {gy.shape[2 + axis]}")
    return Spec((gy.shape[1], x.shape[1] // groups) + tuple(kernel_size), x.dtype)


def _weight_grad_vjp(ctx, gg):
    x, gy = ctx.inputs
    attrs = dict(ctx.attrs)
    del attrs["kernel_size"]
    gx = ggy = None
    if ctx.needs[0]:
        transpose = _transpose_attrs(gy.shape, gg.shape, tuple(x.shape[2:]), **attrs)
        gx = dispatch.apply(CONV_TRANSPOSE3D, (gy, gg), transpose)
    if ctx.needs[1]:
        ggy = _crop(on_tensors, dispatch.apply(CONV3D, (x, gg), attrs), gy.shape)
    return gx, ggy


def _weight_grad_cost(out, x, gy, **attrs):
    per_output = out.size // out.shape[0]
    return Cost(2 * gy.size * per_output, out.nbytes + x.nbytes + gy.nbytes)


CONV3D_WEIGHT_GRAD = defop(
    "conv3d_weight_grad",
    forward=empty_safe(_weight_grad_infer)(_weight_grad_forward),
    infer=_weight_grad_infer,
    vjp=_weight_grad_vjp,
    cost=_weight_grad_cost,
    onnx=NO_ONNX,
)


# --- conv_transpose3d --------------------------------------------------------------------------------------


def _conv_transpose3d_forward(xp, x, w, *, stride, padding, dilation, groups, output_padding):
    (x, w), result_dtype = _compute_dtype(xp, x, w)
    if _on_onednn(xp, x.dtype):  # the gradient of a convolution with respect to its input
        out_size = conv_nd.transposed_sizes(x.shape[2:], w.shape[2:], stride, padding, dilation, output_padding)
        y = onednn.conv2d_input_grad(x, w, out_size, stride, padding, dilation, groups)
        if y is not None:
            return _result(y, result_dtype)
    return _result(conv_nd.conv_transpose(xp, x, w, stride, padding, dilation, groups, output_padding), result_dtype)


def _conv_transpose3d_infer(x, w, *, stride, padding, dilation, groups, output_padding):
    check_window("conv_transpose3d", [x, w], _RANK, stride=stride, padding=padding, dilation=dilation,
                 output_padding=output_padding)
    _check_conv("conv_transpose3d", x, w, groups, transposed=True, rank=_RANK)
    size = conv_nd.transposed_sizes(x.shape[2:], w.shape[2:], stride, padding, dilation, output_padding)
    if min(size) <= 0:
        raise shape_error("conv_transpose3d", [x, w], f"the output size {list(size)} is not positive")
    return Spec((x.shape[0], w.shape[1] * groups) + size, x.dtype)


def _conv_transpose3d_rule(run, ctx, g):
    x, w = ctx.inputs
    attrs = dict(ctx.attrs)
    del attrs["output_padding"]
    gx = _crop(run, run(CONV3D, g, w, **attrs), x.shape) if ctx.needs[0] else None
    gw = run(CONV3D_WEIGHT_GRAD, g, x, kernel_size=tuple(w.shape[2:]), **attrs) if ctx.needs[1] else None
    return gx, gw


def _conv_transpose3d_cost(out, x, w, **attrs):
    per_input = w.size // w.shape[0]  # (C_out / groups) * kd * kh * kw multiply-adds per input element
    return Cost(2 * x.size * per_input, out.nbytes + x.nbytes + w.nbytes)


CONV_TRANSPOSE3D = defop(
    "conv_transpose3d",
    forward=empty_safe(_conv_transpose3d_infer)(_conv_transpose3d_forward),
    infer=_conv_transpose3d_infer,
    vjp=vjp_rule(_conv_transpose3d_rule),
    cost=_conv_transpose3d_cost,
    onnx="ConvTranspose",
    autocast=LOWER,
)


# --- public functions --------------------------------------------------------------------------------------


def _conv_attrs(name: str, stride, padding, dilation, groups) -> dict:
    return {
        "stride": ints(name, "stride", stride, 1, _RANK),
        "padding": ints(name, "padding", padding, 0, _RANK),
        "dilation": ints(name, "dilation", dilation, 1, _RANK),
        "groups": _groups(name, groups),
    }


def _same_padding(x: TensorLike, weight: TensorLike, padding, stride, dilation) -> tuple:
    """PyTorch's string paddings for conv3d: 'valid' is none; 'same' (stride 1 only) keeps the input size, the odd
    element of an uneven total on the far side (padded into x here). Returns x and the op's symmetric padding."""
    if padding == "valid":
        return x, 0
    if padding != "same":
        raise ValueError(f"conv3d: padding must be 'valid', 'same' or ints, got {padding!r}")
    if ints("conv3d", "stride", stride, 1, _RANK) != (1,) * _RANK:
        raise ValueError(f"conv3d: padding='same' needs stride 1, got stride {stride!r}")
    if weight.ndim != 5:
        raise ValueError(f"conv3d: weight must be 5-D (O, C/groups, kD, kH, kW), got shape {list(weight.shape)}")
    dilation = ints("conv3d", "dilation", dilation, 1, _RANK)
    totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    if any(t % 2 for t in totals):
        from ember.ops.indexing import pad

        x = pad(x, ((0, 0), (0, 0)) + tuple((0, t % 2) for t in totals))
    return x, tuple(t // 2 for t in totals)


def conv3d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> TensorLike:
    """3-D convolution (cross-correlation) of ``x`` (N, C, D, H, W) with ``weight`` (O, C/groups, kD, kH, kW), plus
    ``bias`` (O,); ``stride``, ``padding`` and ``dilation`` are ints or triples, ``padding`` also 'same' or 'valid',
    as in PyTorch.

    >>> y = ember.conv3d(ember.randn(2, 3, 8, 8, 8), ember.randn(4, 3, 3, 3, 3), padding=1)   # (2, 4, 8, 8, 8)
    """
    x, weight, bias = _operands("conv3d", x, weight, bias)
    if isinstance(padding, str):
        x, padding = _same_padding(x, weight, padding, stride, dilation)
    attrs = _conv_attrs("conv3d", stride, padding, dilation, groups)
    _conv3d_infer(*_specs(x, weight), **attrs)
    if bias is not None and bias.dtype == x.dtype and tuple(bias.shape) == (weight.shape[0],):
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
    attrs = _conv_attrs(name, stride, padding, dilation, groups)
    attrs["output_padding"] = ints(name, "output_padding", output_padding, 0, _RANK)
    _check_output_padding(name, attrs["output_padding"], attrs["stride"], attrs["dilation"])
    _conv_transpose3d_infer(*_specs(x, weight), **attrs)
    return _add_bias(name, dispatch.apply(CONV_TRANSPOSE3D, (x, weight), attrs), bias)

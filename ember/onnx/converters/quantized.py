"""Quantization: QuantizeLinear / DequantizeLinear (per tensor, per axis, blocked) and the integer products
MatMulInteger / ConvInteger."""

from __future__ import annotations

import numpy as np

import ember
from ember.onnx.converters.base import Tensor, UnsupportedError, _dtype, converter

_INTEGERS = (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.int16))


def _along(cx, t: Tensor, x: Tensor, axis: int, block_size: int, what: str) -> Tensor:
    """A scale or zero point shaped to broadcast against x: a scalar (per tensor), a 1-D one along ``axis`` (per
    axis), or one of x's rank with ``block_size`` elements of x per entry along ``axis`` (blocked, opset 21)."""
    name = cx.op_type
    if block_size:
        if t.ndim != x.ndim:
            raise UnsupportedError(f"{name}: a blocked {what} must have the input's rank {x.ndim}, got shape "
                                   f"{list(t.shape)}")
        blocks = -(-x.shape[axis] // block_size)
        if t.shape[axis] != blocks:
            raise ValueError(f"{name}: the {what} {list(t.shape)} needs {blocks} blocks of {block_size} along axis "
                             f"{axis} of the input {list(x.shape)}")
        spread = ember.repeat(t, block_size, axis)
        return spread[(slice(None),) * axis + (slice(0, x.shape[axis]),)]
    if t.ndim == 0 or t.shape == (1,) and x.ndim == 0:
        return t.reshape(())
    if t.ndim != 1 or t.shape[0] not in (1, x.shape[axis]):
        raise UnsupportedError(f"{name}: the {what} must be a scalar or 1-D with the {x.shape[axis]} elements of "
                               f"axis {axis} of the input {list(x.shape)}, got shape {list(t.shape)}")
    return t.reshape(tuple(-1 if i == axis else 1 for i in range(x.ndim)))


def _integer_type(name: str, dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in _INTEGERS:
        raise UnsupportedError(f"{name}: quantized type {dtype} is not supported (uint8, int8 and int16 are; "
                               "Ember has no float8 or 4-bit types)")
    return dtype


@converter("QuantizeLinear")
def _quantize_linear(cx, x, scale, zero_point=None, axis=1, block_size=0, output_dtype=0, saturate=1,
                     precision=0):
    """saturate(round_half_even(x / scale) + zero_point) in the zero point's type (else ``output_dtype``, else
    uint8). ``saturate`` only concerns float8 outputs, which are refused."""
    if precision:
        raise UnsupportedError(f"QuantizeLinear: precision={precision} is not supported")
    if zero_point is not None:
        dtype = _integer_type("QuantizeLinear", zero_point.dtype)
        if output_dtype and _dtype(output_dtype) != dtype:
            raise ValueError(f"QuantizeLinear: output_dtype {_dtype(output_dtype)} differs from the zero point's "
                             f"{dtype}")
    else:
        dtype = _integer_type("QuantizeLinear", _dtype(output_dtype) if output_dtype else np.uint8)
    axis = axis % max(x.ndim, 1)
    work = x if x.dtype == np.float64 else ember.cast(x, np.float32)  # float16 / bfloat16 in float32, as onnxruntime
    s = ember.cast(_along(cx, scale, x, axis, block_size, "scale"), work.dtype)
    q = ember.round(work / s)
    if zero_point is not None:
        q = q + ember.cast(_along(cx, zero_point, x, axis, block_size, "zero point"), work.dtype)
    info = np.iinfo(dtype)
    return ember.cast(ember.clip(q, float(info.min), float(info.max)), dtype)


@converter("DequantizeLinear")
def _dequantize_linear(cx, x, scale, zero_point=None, axis=1, block_size=0, output_dtype=0):
    """(x - zero_point) * scale in the scale's type (x may also be int32, its zero point then 0)."""
    if x.dtype != np.int32:
        _integer_type("DequantizeLinear", x.dtype)
    if output_dtype and _dtype(output_dtype) != scale.dtype:
        raise UnsupportedError(f"DequantizeLinear: output_dtype {_dtype(output_dtype)} differs from the scale's "
                               f"{scale.dtype}")
    axis = axis % max(x.ndim, 1)
    diff = ember.cast(x, np.int32)
    if zero_point is not None:
        diff = diff - ember.cast(_along(cx, zero_point, x, axis, block_size, "zero point"), np.int32)
    return ember.cast(diff, scale.dtype) * _along(cx, scale, x, axis, block_size, "scale")


def _centered(name: str, t: Tensor, zero_point, shape) -> Tensor:
    """t - zero_point in int32 (t and the zero point uint8 or int8)."""
    if t.dtype not in (np.uint8, np.int8):
        raise UnsupportedError(f"{name}: takes uint8 or int8 inputs, got {t.dtype}")
    out = ember.cast(t, np.int32)
    if zero_point is None:
        return out
    if zero_point.dtype != t.dtype:
        raise ValueError(f"{name}: the zero point's type {zero_point.dtype} differs from its input's {t.dtype}")
    zp = ember.cast(zero_point, np.int32)
    return out - (zp.reshape(shape) if zp.ndim == 1 and zp.shape[0] > 1 else zp.reshape(()))


@converter("MatMulInteger")
def _matmul_integer(cx, a, b, a_zero_point=None, b_zero_point=None):
    """(a - a_zero_point) @ (b - b_zero_point) in int32; a zero point per row of a or per column of b allowed."""
    return ember.matmul(_centered("MatMulInteger", a, a_zero_point, (-1, 1)),
                        _centered("MatMulInteger", b, b_zero_point, (1, -1)))


@converter("ConvInteger")
def _conv_integer(cx, x, w, x_zero_point=None, w_zero_point=None, **attrs):
    """Conv of (x - x_zero_point) and (w - w_zero_point, per output channel allowed) in int32: run in float64,
    exact for these sums, so padding reads the zero point as Conv's does zero."""
    from ember.onnx.converters.networks import _conv

    if x_zero_point is not None and x_zero_point.ndim and x_zero_point.shape != (1,):
        raise UnsupportedError(f"ConvInteger: x_zero_point must be a scalar, got shape {list(x_zero_point.shape)}")
    xs = _centered("ConvInteger", x, x_zero_point, ())
    ws = _centered("ConvInteger", w, w_zero_point, (-1,) + (1,) * (w.ndim - 1))
    y = _conv(cx, ember.cast(xs, np.float64), ember.cast(ws, np.float64), **attrs)
    return ember.cast(y, np.int32)


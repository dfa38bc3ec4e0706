"""int8 primitives: a linear layer and a 2-D convolution on int8 weights (one scale per output channel) and
int8 activations (one scale per tensor, from calibration), accumulating in int32.

NumPy has no int8 BLAS. An integer product of K int8 pairs is below 127 * 127 * K; while that is under 2**24
the sums are exact in float32, so the int8 values run through float32 BLAS and the accumulator is exactly the
int32 one; beyond that the product runs in int32 (NumPy's integer matmul, much slower).
"""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import LOW_PRECISION
from ember.ops.conv import CONV2D
from ember.ops.linalg import LINEAR
from ember.ops.registry import NON_DIFFERENTIABLE, Cost, Op, Spec

_EXACT_IN_FLOAT32 = 2**24 // (127 * 127)  # the longest int8 dot product float32 sums exactly


def quantize_array(xp, x, scale):
    """Symmetric int8: round(x / scale) clipped to [-127, 127] (float16 and bfloat16 divided in float32, rounded
    once)."""
    if x.dtype in LOW_PRECISION:
        x = x.astype(np.float32)
    return xp.clip(xp.rint(x / scale), -127, 127).astype(np.int8)


def _accumulate(xp, product, k: int, *arrays):
    """``product`` of int8 arrays with int32 accumulation (exact; see the module docstring)."""
    if k <= _EXACT_IN_FLOAT32:
        return product(*[a.astype(np.float32) for a in arrays])
    return product(*[a.astype(np.int32) for a in arrays]).astype(np.float32)


def _output_scale(x, w_scale, x_scale):
    """``w_scale * x_scale``, in float32 for float16 and bfloat16 inputs: the product of two small scales is often
    below float16's normal range, where its subnormals keep few digits."""
    dtype = np.dtype(np.float32) if x.dtype in LOW_PRECISION else x.dtype
    return w_scale.astype(dtype) * dtype.type(x_scale)


def _qlinear_forward(xp, x, w_q, w_scale, bias=None, *, x_scale):
    xq = quantize_array(xp, x, x_scale)
    acc = _accumulate(xp, lambda a, w: xp.matmul(a, w.T), w_q.shape[1], xq, w_q)
    y = acc * _output_scale(x, w_scale, x_scale)
    return (y + bias if bias is not None else y).astype(x.dtype)


def _qlinear_infer(x, w_q, w_scale, bias=None, *, x_scale):
    return Spec(tuple(x.shape[:-1]) + (w_q.shape[0],), x.dtype)


def _qlinear_cost(out, x, w_q, w_scale, bias=None, *, x_scale):
    return Cost(2 * out.size * w_q.shape[1], out.nbytes + x.nbytes + w_q.size)


def _qconv2d_forward(xp, x, w_q, w_scale, bias=None, *, x_scale, stride, padding, dilation, groups):
    xq = quantize_array(xp, x, x_scale)
    k = w_q.shape[1] * w_q.shape[2] * w_q.shape[3]

    def conv(a, w):
        return CONV2D.forward(xp, a, w, stride=stride, padding=padding, dilation=dilation, groups=groups)

    acc = _accumulate(xp, conv, k, xq, w_q)
    y = acc * _output_scale(x, w_scale, x_scale).reshape(1, -1, 1, 1)
    return (y + bias.reshape(1, -1, 1, 1) if bias is not None else y).astype(x.dtype)


def _qconv2d_infer(x, w_q, w_scale, bias=None, *, x_scale, stride, padding, dilation, groups):
    return CONV2D.infer(x, Spec(w_q.shape, x.dtype), stride=stride, padding=padding, dilation=dilation,
                        groups=groups)


def _qconv2d_cost(out, x, w_q, w_scale, bias=None, **attrs):
    per_output = w_q.size // w_q.shape[0]
    return Cost(2 * out.size * per_output, out.nbytes + x.nbytes + w_q.size)


# Graph-only ops, like the fusion pass's: records with a forward, shape rule, cost and ONNX rule, made by the
# quantization pass and never called on Tensors (Ember has no int8 Tensors), so not registry primitives.
QLINEAR = Op("qlinear", _qlinear_forward, _qlinear_infer, NON_DIFFERENTIABLE, _qlinear_cost, False, "Gemm", False)
QCONV2D = Op("qconv2d", _qconv2d_forward, _qconv2d_infer, NON_DIFFERENTIABLE, _qconv2d_cost, False, "Conv", False)
FLOAT_OPS = {LINEAR.name: QLINEAR, CONV2D.name: QCONV2D}  # the float op each int8 op replaces


# --- ONNX: QDQ form (QuantizeLinear / DequantizeLinear around the float op) ----------------------------------


# QuantizeLinear and DequantizeLinear take float32 (float16 and bfloat16 only from opset 19, float64 never): other
# dtypes quantize in float32 between two Casts


def _as_float32(b, x, dtype):
    return x if dtype == np.float32 else b.node("Cast", [x], to=b.dtype(np.float32))


def _back_to(b, x, dtype):
    return x if dtype == np.float32 else b.node("Cast", [x], to=b.dtype(dtype))


def _qdq_input(b, x, x_scale, dtype):
    scale = b.const(x_scale, np.float32)
    zero = b.const(0, np.int8)
    # QuantizeLinear saturates to [-128, 127]; the int8 ops' symmetric range stops at -127
    low, high = b.const(-127 * x_scale, np.float32), b.const(127 * x_scale, np.float32)
    clipped = b.node("Clip", [_as_float32(b, x, dtype), low, high])
    quantized = b.node("QuantizeLinear", [clipped, scale, zero])
    return _back_to(b, b.node("DequantizeLinear", [quantized, scale, zero]), dtype)


def _qdq_weight(b, w_q, w_scale, dtype):
    zeros = b.const(np.zeros(b.spec(w_scale).shape, np.int8))
    weight = b.node("DequantizeLinear", [w_q, _as_float32(b, w_scale, b.spec(w_scale).dtype), zeros], axis=0)
    return _back_to(b, weight, dtype)


def _qlinear_onnx(b, x, w_q, w_scale, bias=None, *, x_scale):
    dtype = b.spec(x).dtype
    xd = _qdq_input(b, x, x_scale, dtype)
    y = b.node("MatMul", [xd, b.node("Transpose", [_qdq_weight(b, w_q, w_scale, dtype)], perm=[1, 0])])
    return y if bias is None else b.node("Add", [y, bias])


def _qconv2d_onnx(b, x, w_q, w_scale, bias=None, *, x_scale, stride, padding, dilation, groups):
    dtype = b.spec(x).dtype
    xd = _qdq_input(b, x, x_scale, dtype)
    inputs = [xd, _qdq_weight(b, w_q, w_scale, dtype)] + ([bias] if bias is not None else [])
    return b.node("Conv", inputs, strides=list(stride), pads=[*padding, *padding], dilations=list(dilation),
                  group=groups)


QLINEAR.onnx_export = _qlinear_onnx
QCONV2D.onnx_export = _qconv2d_onnx

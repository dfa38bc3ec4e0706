"""Identity, Linear and Bilinear layers."""

from __future__ import annotations

import math
from types import MappingProxyType

from ember.backend.dtypes import result_type
from ember.creation import empty
from ember.nn import init
from ember.nn.layers.activation import ReLU
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.ops import linear, matmul, reshape, squeeze, transpose, unsqueeze
from ember.ops.convert import cast
from ember.ops.linalg import linear_relu
from ember.tensor import Tensor


class Identity(Module):
    """Returns its input unchanged (a placeholder that accepts and ignores any arguments).

    >>> ember.nn.Identity()(ember.ones(2)).shape
    (2,)
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


def column_major(weight: Tensor) -> Tensor:
    """``weight`` (out_features, in_features) with its memory laid out column by column, as an (in, out) matrix
    would be; the shape and values are unchanged. ``x @ weight.T`` then reads a plain (in, out) matrix, which
    BLAS multiplies faster than a transposed one (about 20% at W2's 64 rows): NumPy MLPs keep (in, out) weights
    for that reason. ``linear`` computes the weight's gradient in the same layout and SGD keeps its momentum
    there, so the update runs over contiguous memory; loading a state dict writes in place and keeps it."""
    array = weight.array
    if array.ndim == 2 and not array.flags.f_contiguous:
        array = weight.xp.asfortranarray(array)
    return Tensor._make(array, None) if array is not weight.array else weight


def _reset_linear(weight: Parameter, bias: Parameter | None) -> None:
    # PyTorch's defaults: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight;
    # the bias draws from the same range.
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


class Linear(Module):
    """``y = x @ weight.T + bias`` on the last axis; weight is (out_features, in_features), stored column by
    column (see ``column_major``).

    >>> fc = ember.nn.Linear(784, 256)
    >>> fc(ember.randn(64, 784)).shape
    (64, 256)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(column_major(empty(out_features, in_features, dtype=dtype, device=device)))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_linear(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight  # read once: a parametrized weight (nn.utils.parametrize) is computed per read
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        return linear(x, weight, self.bias)

    def _forward_then_relu(self, x: Tensor) -> Tensor:
        weight = self.weight  # read once: a parametrized weight (nn.utils.parametrize) is computed per read
        if x.dtype != weight.dtype:
            check_input_dtype(self, x, weight.dtype)
        return linear_relu(x, weight, self.bias)

    _fuses_with = MappingProxyType({ReLU: _forward_then_relu})  # in nn.Sequential: one op, the same numbers

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[..., k] = input1 @ weight[k] @ input2 + bias[k]`` with weight (out_features, in1_features, in2_features);
    the inputs share their leading dimensions.

    >>> F.bilinear(ember.randn(8, 5), ember.randn(8, 3), ember.randn(4, 5, 3)).shape
    (8, 4)
    """
    if weight.ndim != 3 or input1.ndim < 1 or input2.ndim < 1 or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]) \
            or input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2] \
            or (bias is not None and tuple(bias.shape) != (weight.shape[0],)):
        raise ValueError(f"bilinear: needs input1 (..., in1), input2 (..., in2) with the same leading dimensions, "
                         f"weight (out, in1, in2) and bias (out,); got input1 {list(input1.shape)}, input2 "
                         f"{list(input2.shape)}, weight {list(weight.shape)}"
                         + ("" if bias is None else f" and bias {list(bias.shape)}"))
    out_f, in1, in2 = weight.shape
    # (..., in1) @ (in1, out * in2) -> (..., out, in2), then in2 contracted with input2 by a second product (a
    # float16 product and sum rounded apart were an ulp off PyTorch's, which rounds each product once)
    w = reshape(transpose(weight, (1, 0, 2)), (in1, out_f * in2))
    t = reshape(matmul(input1, w), tuple(input1.shape[:-1]) + (out_f, in2))
    y = squeeze(matmul(t, unsqueeze(input2, -1)), -1)
    if bias is not None:
        return y + bias
    # in the inputs' dtype, as a bias's sum gives it: PyTorch's autocast lowers the two products (bfloat16 values)
    # and returns float32 for float32 inputs
    dtype = result_type(result_type(input1.dtype, input2.dtype), weight.dtype)
    return y if y.dtype == dtype else cast(y, dtype)


class Bilinear(Module):
    """``y[..., k] = x1 @ weight[k] @ x2 + bias[k]``; weight is (out_features, in1_features, in2_features).

    >>> layer = ember.nn.Bilinear(5, 3, 4)
    >>> layer(ember.randn(8, 5), ember.randn(8, 3)).shape
    (8, 4)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if in1_features <= 0:  # its weight's fan-in: the bound 1 / sqrt(in1_features) (PyTorch's check)
            raise ValueError(f"Bilinear: in1_features must be > 0, but got (in1_features={in1_features})")
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(empty(out_features, in1_features, in2_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        weight = self.weight
        check_input_dtype(self, x1, weight.dtype, "input1")
        check_input_dtype(self, x2, weight.dtype, "input2")
        return bilinear(x1, x2, weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")

"""Activation functions as modules (each calls the op of the same name), and the functions ``logsigmoid``,
``prelu``, ``selu``, ``celu``, ``hardsigmoid``, ``softsign``, ``softmin`` and ``glu`` that ``nn.functional`` lists."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import ops as _ops
from ember.backend.dtypes import LOW_PRECISION
from ember.creation import full
from ember.nn import init as init_
from ember.nn.layers.inplace_result import in_place
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.ops import (
    elu,
    gelu,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    relu,
    relu6,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from ember.ops.activation import scaled_elu
from ember.ops.convert import cast_float, to_float
from ember.ops.infer import check_axis
from ember.ops.prelu import prelu  # (nn.functional.prelu; Tensor.prelu shares it)
from ember.ops.registry import Spec
from ember.tensor import Tensor


class _InplaceActivation(Module):
    """An activation whose only argument is ``inplace``: with ``inplace=True`` the result is written into the
    input where Ember can (see ``inplace_result.in_place``: not while a gradient flows through it). Not ReLU's
    base, so that ``isinstance(m, nn.ReLU)`` holds for a ReLU only, as in PyTorch."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def _result(self, x: Tensor, y: Tensor) -> Tensor:
        return in_place(x, y, type(self).__name__) if self.inplace else y

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_InplaceActivation):
    """max(x, 0) (``inplace`` as ``_InplaceActivation``'s).

    >>> ember.nn.ReLU()(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return self._result(x, relu(x))


class Hardswish(Module):
    """x * relu6(x + 3) / 6 (``inplace`` as ``ReLU``'s).

    >>> ember.nn.Hardswish()(ember.tensor([-4.0, 1.0, 4.0]))
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        y = hardswish(x)
        return in_place(x, y, "Hardswish") if self.inplace else y


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope * x``.

    >>> ember.nn.LeakyReLU(0.2)(ember.tensor([-1.0, 2.0]))
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        y = leaky_relu(x, self.negative_slope)
        return in_place(x, y, "LeakyReLU") if self.inplace else y

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class _AlphaActivation(Module):
    """An activation of ``alpha`` and ``inplace`` (ELU, CELU: siblings, as in PyTorch, not subclasses)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class ELU(_AlphaActivation):
    """x where x > 0, else ``alpha * (exp(x) - 1)``.

    >>> ember.nn.ELU()(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        y = elu(x, self.alpha)
        return in_place(x, y, type(self).__name__) if self.inplace else y


class GELU(Module):
    """Gaussian error linear unit; ``approximate="tanh"`` for the tanh formula.

    >>> ember.nn.GELU()(ember.tensor([-1.0, 2.0]))
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate='{self.approximate}'"


class SiLU(_InplaceActivation):
    """x * sigmoid(x).

    >>> ember.nn.SiLU()(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return self._result(x, silu(x))


class Mish(_InplaceActivation):
    """x * tanh(softplus(x)).

    >>> ember.nn.Mish()(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return self._result(x, mish(x))


class Sigmoid(Module):
    """1 / (1 + exp(-x)).

    >>> ember.nn.Sigmoid()(ember.tensor([0.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent.

    >>> ember.nn.Tanh()(ember.tensor([0.5]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return tanh(x)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear above ``threshold``.

    >>> ember.nn.Softplus()(ember.tensor([0.0]))
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x limited to [min_val, max_val].

    >>> ember.nn.Hardtanh(-2.0, 2.0)(ember.tensor([-3.0, 1.0]))
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        y = hardtanh(x, self.min_val, self.max_val)
        return in_place(x, y, "Hardtanh") if self.inplace else y

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): ``Hardtanh(0, 6)``, as PyTorch's.

    >>> ember.nn.ReLU6()(ember.tensor([-1.0, 8.0]))
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, x: Tensor) -> Tensor:
        y = relu6(x)
        return in_place(x, y, "ReLU6") if self.inplace else y

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's implicit choice when dim is None (kept for compatibility), with its deprecation warning;
    ``stacklevel`` counts from the caller of ``_softmax_dim``, as PyTorch's ``_stacklevel``."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an "
                  "argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


class _DimActivation(Module):
    """An activation along ``dim`` (Softmax, LogSoftmax, Softmin: siblings, as in PyTorch, not subclasses)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_DimActivation):
    """exp(x) / sum(exp(x)) along ``dim``.

    >>> ember.nn.Softmax(dim=-1)(ember.randn(2, 5)).sum(axis=-1)
    """

    def forward(self, x: Tensor) -> Tensor:
        return softmax(x, self.dim if self.dim is not None else _softmax_dim("softmax", x.ndim, 3))


class Softmax2d(Module):
    """Softmax over the channels at each location of a (N, C, H, W) or (C, H, W) input.

    >>> ember.nn.Softmax2d()(ember.randn(2, 3, 4, 4)).sum(axis=1)
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: input must be 3-D (C, H, W) or 4-D (N, C, H, W), got shape {list(x.shape)}")
        return softmax(x, -3)


class LogSoftmax(_DimActivation):
    """log(softmax(x)) along ``dim``, computed stably.

    >>> ember.nn.LogSoftmax(dim=1)(ember.randn(2, 5)).shape
    (2, 5)
    """

    def forward(self, x: Tensor) -> Tensor:
        return log_softmax(x, self.dim if self.dim is not None else _softmax_dim("log_softmax", x.ndim, 3))


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, computed as ``-softplus(-x)`` without overflow."""
    # no threshold: softplus's linear piece above 20 dropped the -log1p(exp(x)) term (7.6e-10 at x = -21 in float64)
    return -softplus(-input, 1.0, math.inf)


class LogSigmoid(Module):
    """``log(sigmoid(x))``.

    >>> ember.nn.LogSigmoid()(ember.tensor([0.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return logsigmoid(x)


class PReLU(Module):
    """``max(0, x) + a * min(0, x)`` with a learned slope ``a``: one, or one per channel (``num_parameters``).

    >>> ember.nn.PReLU(3)(ember.randn(2, 3, 4)).shape
    (2, 3, 4)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(full((num_parameters,), float(init), dtype=dtype, device=device))

    def reset_parameters(self) -> None:
        init_.constant_(self.weight, self.init)

    def forward(self, x: Tensor) -> Tensor:
        return prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with PyTorch's self-normalizing constants (``inplace`` as ``ReLU``'s).

    >>> ember.nn.functional.selu(ember.tensor([-1.0, 2.0]))
    """
    y = scaled_elu(input, _SELU_ALPHA, _SELU_SCALE)
    return in_place(input, y, "selu") if inplace else y


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``alpha * (exp(x / alpha) - 1)``.

    >>> ember.nn.functional.celu(ember.tensor([-1.0, 2.0]), alpha=0.5)
    """
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    y = scaled_elu(input, alpha, 1.0, 1.0 / alpha)  # (x / alpha * alpha was not x: 800 gave 799.5 in float16)
    return in_place(input, y, "celu") if inplace else y


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``.

    >>> ember.nn.functional.hardsigmoid(ember.tensor([-4.0, 0.0, 4.0]))
    """
    x = to_float(input)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        y = _ops.cast(hardsigmoid(_ops.cast(x, np.float32)), x.dtype)
    else:
        y = relu6(x + 3.0) / 6.0
    return in_place(input, y, "hardsigmoid") if inplace else y


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    >>> ember.nn.functional.softsign(ember.tensor([-1.0, 3.0]))
    """
    return input / (_ops.abs(input) + 1.0)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x)`` along ``dim`` (PyTorch's implicit dim when None), in ``dtype`` when given.

    >>> ember.nn.functional.softmin(ember.randn(2, 5), dim=1).sum(axis=1)
    """
    if dtype is not None:
        input = cast_float("softmin", input, dtype)
    return softmax(-input, dim if dim is not None else _softmax_dim("softmin", input.ndim, _stacklevel))


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: the first half of ``dim`` times the sigmoid of the second half.

    >>> ember.nn.functional.glu(ember.randn(2, 6)).shape
    (2, 3)
    """
    axis = check_axis("glu", dim, input.ndim, [Spec(tuple(input.shape), input.dtype)]) if input.ndim else 0
    if input.ndim == 0 or input.shape[axis] % 2:
        raise ValueError(f"glu: dimension {dim} of the input of shape {list(input.shape)} must have an even size")
    if input.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return _ops.cast(glu(_ops.cast(input, np.float32), dim), input.dtype)
    a, b = _ops.chunk(input, 2, axis=dim)
    return a * sigmoid(b)


class SELU(_InplaceActivation):
    """``scale * elu(x, alpha)`` (see ``selu``).

    >>> ember.nn.SELU()(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return selu(x, self.inplace)


class CELU(_AlphaActivation):
    """x where x > 0, else ``alpha * (exp(x / alpha) - 1)`` (see ``celu``).

    >>> ember.nn.CELU(0.5)(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return celu(x, self.alpha, self.inplace)


class Hardsigmoid(_InplaceActivation):
    """``relu6(x + 3) / 6``.

    >>> ember.nn.Hardsigmoid()(ember.tensor([-4.0, 0.0, 4.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return hardsigmoid(x, self.inplace)

    def extra_repr(self) -> str:
        return ""


class Softsign(Module):
    """``x / (1 + |x|)``.

    >>> ember.nn.Softsign()(ember.tensor([-1.0, 3.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return softsign(x)


class Softmin(_DimActivation):
    """``softmax(-x)`` along ``dim``.

    >>> ember.nn.Softmin(dim=1)(ember.randn(2, 5)).sum(axis=1)
    """

    def forward(self, x: Tensor) -> Tensor:
        return softmin(x, self.dim, 4)


class GLU(Module):
    """The gated linear unit along ``dim`` (see ``glu``).

    >>> ember.nn.GLU()(ember.randn(2, 6)).shape
    (2, 3)
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

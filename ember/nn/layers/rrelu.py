"""The randomized leaky ReLU (``rrelu``, ``RReLU``): a slope drawn per element in training, their mean in eval."""

from __future__ import annotations

from ember.creation import rand
from ember.nn.layers.inplace_result import in_place
from ember.nn.module import Module
from ember.ops import gt, leaky_relu, to_float, where
from ember.ops.piecewise import piecewise
from ember.tensor import Tensor

__all__ = ["RReLU", "rrelu"]


def _check_bounds(name: str, lower: float, upper: float) -> None:
    if lower > upper:
        raise ValueError(f"{name}: lower ({lower}) must be <= upper ({upper})")


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """x where x > 0, else ``a * x``: in training ``a`` is drawn uniformly from [lower, upper) for each element
    (a new draw on every call, also under ``ember.jit``), else it is ``(lower + upper) / 2``.

    >>> ember.nn.functional.rrelu(ember.tensor([-1.0, 2.0]))
    """
    _check_bounds("rrelu", lower, upper)
    x = to_float(input)
    if training:
        slope = rand(x.shape, dtype=x.dtype, device=x.device) * (upper - lower) + lower
        x = piecewise(x)
        result = where(gt(x, 0), x, x * slope)
    else:
        result = leaky_relu(x, (lower + upper) / 2)
    return in_place(input, result, "rrelu") if inplace else result


class RReLU(Module):
    """The randomized leaky ReLU (see ``rrelu``): random slopes in [lower, upper) in training, their mean in eval.

    >>> ember.nn.RReLU().eval()(ember.tensor([-1.0, 2.0]))
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        _check_bounds("RReLU", lower, upper)
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return rrelu(x, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")

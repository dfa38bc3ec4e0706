"""``Hardshrink``, ``Softshrink``, ``Tanhshrink`` and ``Threshold``: modules over the ops of the same names."""

from __future__ import annotations

from ember.nn.layers.inplace_result import in_place
from ember.nn.module import Module
from ember.ops import hardshrink, softshrink, tanhshrink
from ember.ops import threshold as threshold_op
from ember.tensor import Tensor

__all__ = ["Hardshrink", "Softshrink", "Tanhshrink", "Threshold", "threshold"]


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where ``x > threshold``, else ``value``; ``inplace`` writes the result into ``input`` (see ``in_place``).

    >>> ember.nn.functional.threshold(ember.tensor([-1.0, 2.0]), 0.5, 0.0)
    """
    result = threshold_op(input, threshold, value)
    return in_place(input, result, "threshold") if inplace else result


class Hardshrink(Module):
    """x where ``|x| > lambd``, else 0.

    >>> ember.nn.Hardshrink(0.5)(ember.tensor([-1.0, 0.2, 2.0]))
    """

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return hardshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Module):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0.

    >>> ember.nn.Softshrink(0.5)(ember.tensor([-1.0, 0.2, 2.0]))
    """

    def __init__(self, lambd: float = 0.5) -> None:
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be >= 0, got {lambd}")
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Tanhshrink(Module):
    """``x - tanh(x)``.

    >>> ember.nn.Tanhshrink()(ember.tensor([-1.0, 2.0]))
    """

    def forward(self, x: Tensor) -> Tensor:
        return tanhshrink(x)


class Threshold(Module):
    """x where ``x > threshold``, else ``value``.

    >>> ember.nn.Threshold(0.1, 20.0)(ember.tensor([-1.0, 2.0]))
    """

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return threshold(x, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")

"""PyTorch's functional activations with their ``inplace`` argument (``F.relu(x, inplace=True)``), and the in-place
forms ``relu_``, ``elu_``, ``celu_``, ``selu_``, ``leaky_relu_``, ``hardtanh_``, ``threshold_`` and ``rrelu_``.

``inplace=True`` writes the result into the input where Ember can (see ``inplace_result.in_place``); the ``*_``
forms always write it, under the in-place methods' rules (refused where autograd would need to record the write).
"""

from __future__ import annotations

from ember import ops as _ops
from ember.nn.layers.activation import celu, selu
from ember.nn.layers.inplace_result import in_place, in_place_function
from ember.nn.layers.rrelu import rrelu
from ember.ops import threshold as _threshold
from ember.tensor import Tensor

__all__ = [
    "celu_", "elu", "elu_", "hardswish", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_",
    "mish", "relu", "relu6", "relu_", "rrelu_", "selu_", "silu", "threshold_",
]


def _maybe(input: Tensor, result: Tensor, inplace: bool, name: str) -> Tensor:
    return in_place(input, result, name) if inplace else result


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0).

    >>> F.relu(ember.tensor([-1.0, 2.0]))
    """
    return _maybe(input, _ops.relu(input), inplace, "relu")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6).

    >>> F.relu6(ember.tensor([-1.0, 8.0]))
    """
    return _maybe(input, _ops.relu6(input), inplace, "relu6")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``alpha * (exp(x) - 1)``.

    >>> F.elu(ember.tensor([-1.0, 2.0]))
    """
    return _maybe(input, _ops.elu(input, alpha), inplace, "elu")


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``negative_slope * x``.

    >>> F.leaky_relu(ember.tensor([-1.0, 2.0]), 0.2)
    """
    return _maybe(input, _ops.leaky_relu(input, negative_slope), inplace, "leaky_relu")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x limited to [min_val, max_val].

    >>> F.hardtanh(ember.tensor([-3.0, 0.5]))
    """
    return _maybe(input, _ops.hardtanh(input, min_val, max_val), inplace, "hardtanh")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x).

    >>> F.silu(ember.tensor([-1.0, 2.0]))
    """
    return _maybe(input, _ops.silu(input), inplace, "silu")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)).

    >>> F.mish(ember.tensor([-1.0, 2.0]))
    """
    return _maybe(input, _ops.mish(input), inplace, "mish")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6.

    >>> F.hardswish(ember.tensor([-4.0, 1.0]))
    """
    return _maybe(input, _ops.hardswish(input), inplace, "hardswish")


def relu_(input: Tensor) -> Tensor:
    """``relu`` written into ``input``.

    >>> F.relu_(ember.tensor([-1.0, 2.0]))
    """
    return in_place_function(input, _ops.relu(input), "relu_")


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu`` written into ``input``."""
    return in_place_function(input, _ops.elu(input, alpha), "elu_")


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``celu`` written into ``input``."""
    return in_place_function(input, celu(input, alpha), "celu_")


def selu_(input: Tensor) -> Tensor:
    """``selu`` written into ``input``."""
    return in_place_function(input, selu(input), "selu_")


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu`` written into ``input``."""
    return in_place_function(input, _ops.leaky_relu(input, negative_slope), "leaky_relu_")


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``hardtanh`` written into ``input``."""
    return in_place_function(input, _ops.hardtanh(input, min_val, max_val), "hardtanh_")


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """``threshold`` written into ``input``."""
    return in_place_function(input, _threshold(input, threshold, value), "threshold_")


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """``rrelu`` written into ``input``."""
    return in_place_function(input, rrelu(input, lower, upper, training), "rrelu_")

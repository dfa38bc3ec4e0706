"""``LazyLinear``: a Linear layer whose ``in_features`` comes from its first input, as ``torch.nn.LazyLinear``."""

from __future__ import annotations

import numbers

from ember.nn.layers.linear import Linear, column_major
from ember.nn.module import Module
from ember.nn.uninitialized import UninitializedParameter
from ember.tensor import Tensor

__all__ = ["LazyLinear"]


class LazyLinear(Linear):
    """A ``Linear`` layer that takes ``in_features`` from the last dimension of its first input: its weight and
    bias are ``UninitializedParameter`` placeholders until that call, which gives them their shapes in place (and
    initializes them as ``Linear``'s), and the layer then becomes a ``Linear``. As in PyTorch an optimizer made
    before the first call holds the same Parameters and so trains them; loading a state dict also shapes them, as
    saved. The dtype and device are the placeholders' at that time (``.to()`` before the first call carries over).

    >>> fc = ember.nn.LazyLinear(10)
    >>> fc(ember.randn(4, 32)).shape
    (4, 10)
    >>> fc.in_features, type(fc).__name__
    (32, 'Linear')
    """

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        if isinstance(out_features, bool) or not isinstance(out_features, numbers.Integral) or out_features < 0:
            raise ValueError(f"LazyLinear: out_features must be an int >= 0, got {out_features!r}")
        self.in_features = 0
        self.out_features = int(out_features)  # NumPy's ints too, as PyTorch
        self._pending = {"bias": bool(bias)}
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.bias = UninitializedParameter(device=device, dtype=dtype) if bias else None

    def has_uninitialized_params(self) -> bool:
        """True until the first call (or a loaded state dict) makes the weight and bias."""
        return True

    def initialize_parameters(self, input: Tensor) -> None:
        """Make the parameters for ``input`` (..., in_features) and become a ``Linear``."""
        if input.ndim < 1 or not isinstance(input.shape[-1], int):
            raise ValueError(f"LazyLinear: the first input must have a known last dimension (in_features), got "
                             f"shape {list(input.shape)}")
        self._materialize(input.shape[-1])
        self.reset_parameters()

    def _materialize(self, in_features: int) -> None:
        del self.__dict__["_pending"]
        self.in_features = in_features
        weight = self.weight  # the same Parameter objects take their shapes: optimizers made earlier hold them
        weight.materialize((self.out_features, in_features))
        weight.data = column_major(weight)  # (the Parameter itself: under ember.jit .data is a traced read)
        if self.bias is not None:
            self.bias.materialize((self.out_features,))
        self.__class__ = Linear

    def materialize_from_state(self, state_dict, prefix: str) -> None:
        """Make the parameters of the shapes ``state_dict`` holds for this layer (called by ``load_state_dict``
        before it copies the values in)."""
        weight = state_dict.get(prefix + "weight")
        if weight is not None and len(getattr(weight, "shape", ())) == 2 \
                and weight.shape[0] == self.out_features:
            self._materialize(int(weight.shape[1]))

    def forward(self, x: Tensor) -> Tensor:
        self.initialize_parameters(x)
        return Linear.forward(self, x)

    def extra_repr(self) -> str:
        return f"in_features=0, out_features={self.out_features}, bias={self._pending['bias']}"

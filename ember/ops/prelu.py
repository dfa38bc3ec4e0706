"""``prelu``, composed from the primitives, below both ``nn.functional`` and ``Tensor.prelu`` which share it."""

from __future__ import annotations

from ember.ops.autocast import lowered
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import where
from ember.ops.piecewise import piecewise
from ember.ops.shape import reshape


def prelu(input: TensorLike, weight: TensorLike) -> TensorLike:
    """``max(0, x) + weight * min(0, x)``, with one weight (a 0-d one too, as PyTorch), or one per channel
    (dimension 1).

    >>> ember.nn.functional.prelu(ember.tensor([-1.0, 2.0]), ember.tensor([0.25]))
    """
    input, weight = lowered(input, weight)  # (in an autocast region's dtype, as PyTorch's)
    if weight.ndim > 1 or weight.ndim == 1 and weight.shape[0] not in (1, input.shape[1] if input.ndim > 1 else 1):
        raise ValueError(f"prelu: weight of shape {list(weight.shape)} must hold 1 value or one per channel of "
                         f"the input of shape {list(input.shape)}")
    if input.ndim > 1 and weight.ndim == 1 and weight.shape[0] > 1:
        weight = reshape(weight, (-1,) + (1,) * (input.ndim - 2))
    elif input.ndim == 0 and weight.ndim == 1:  # a 0-d input stays 0-d (its product with a (1,) weight was (1,))
        weight = reshape(weight, ())
    input = piecewise(input)
    return where(input > 0, input, weight * input)

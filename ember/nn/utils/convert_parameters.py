"""Flattening parameters into one vector and back (``torch.nn.utils.convert_parameters``)."""

from __future__ import annotations

from collections.abc import Iterable

from ember import ops
from ember.autograd import no_grad
from ember.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor.

    >>> ember.nn.utils.parameters_to_vector(ember.nn.Linear(3, 2).parameters()).shape
    (8,)
    """
    return ops.concat([ops.reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vector: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vector`` into ``parameters`` (in place, not recorded).

    >>> ember.nn.utils.vector_to_parameters(ember.zeros(8), ember.nn.Linear(3, 2).parameters())
    """
    if not isinstance(vector, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got: {type(vector).__name__}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vector.ndim != 1 or vector.shape[0] != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements, got shape "
                         f"{list(vector.shape)}")
    start = 0
    with no_grad():
        for p in parameters:
            p.copy_(ops.reshape(vector[start:start + p.numel()], p.shape))
            start += p.numel()

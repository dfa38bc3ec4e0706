"""PyTorch's top-level spellings of Tensor methods: ``clone`` (with ``memory_format``), ``detach``, ``fill``,
``index_put_``, ``addmv_``, ``is_inference``, ``is_conj``/``is_neg``, ``resolve_conj``/``resolve_neg`` and the older
``lu``/``lu_solve`` (``fill_`` is ``tensor_inplace_torch``'s).

>>> ember.fill(ember.zeros(2), 3.0)  # tensor([3., 3.])
"""

from __future__ import annotations

from ember import ops as _ops
from ember.ops.convert import as_tensor as _as_tensor
from ember.ops.convert import cast
from ember.tensor import Tensor

__all__ = [
    "addmv_", "clone", "detach", "fill", "index_put_", "is_conj", "is_inference", "is_neg", "lu", "lu_solve",
    "resolve_conj", "resolve_neg",
]

lu = _ops.torch_lu
lu_solve = _ops.torch_lu_solve


def clone(input, *, memory_format=None):
    """``input.clone(memory_format=)``: a copy on the graph, laid out as ``memory_format`` asks (PyTorch's
    ``preserve_format`` by default)."""
    if memory_format is None and not isinstance(input, Tensor):
        return _ops.clone(input)
    return input.clone(memory_format=memory_format)


def detach(input: Tensor) -> Tensor:
    """``input.detach()``: the same data, cut from the graph."""
    return input.detach()


def fill(input: Tensor, value) -> Tensor:
    """A new tensor of ``input``'s shape and dtype holding ``value`` everywhere (``torch.fill``). ``value`` is a
    number or a 0-d tensor; the gradient reaches ``value`` (summed) and is zero for ``input``.

    >>> ember.fill(ember.zeros(2, dtype=ember.int64), 2.7)  # tensor([2, 2]): cast to input's dtype
    """
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"fill: value must be a number or a 0-d tensor, got a tensor of shape {list(value.shape)}")
    value = cast(_as_tensor(value), input.dtype)
    return _ops.where(_as_tensor(True), value, input)  # (input's shape, and a zero gradient for it)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """``input.index_put_(indices, values, accumulate)``."""
    return input.index_put_(indices, values, accumulate)


def addmv_(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``input.addmv_(mat, vec, beta=beta, alpha=alpha)``."""
    return input.addmv_(mat, vec, beta=beta, alpha=alpha)


def is_inference(input: Tensor) -> bool:
    """``input.is_inference()`` (False: tensors made under ``inference_mode`` are ordinary tensors)."""
    return input.is_inference()


def is_conj(input: Tensor) -> bool:
    """``input.is_conj()`` (False: Ember's ``conj`` computes the conjugate at once)."""
    return input.is_conj()


def is_neg(input: Tensor) -> bool:
    """``input.is_neg()`` (False: no lazy negation)."""
    return input.is_neg()


def resolve_conj(input: Tensor) -> Tensor:
    """``input.resolve_conj()``: ``input`` itself."""
    return input.resolve_conj()


def resolve_neg(input: Tensor) -> Tensor:
    """``input.resolve_neg()``: ``input`` itself."""
    return input.resolve_neg()

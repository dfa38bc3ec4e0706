"""PyTorch's legacy in-place Tensor methods that work on memory or Python callables, not through ops: ``resize_``,
``resize_as_``, ``apply_``, ``map_`` and ``map2_`` (attached to ``Tensor`` in ``tensor_attach``).

None of them is recorded, so they refuse tensors that require grad (as PyTorch does) and graph values. ``resize_``
follows PyTorch's storage model on the memory a tensor's array views: the new shape reads that memory from the
tensor's first element on, in memory order, and only growing past its end allocates (zero-filled, as Ember's
``empty``); other views then keep the old memory, where PyTorch's share the grown one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ember.backend.devices import array_module
from ember.grad_mode import mark_written
from ember.tensor import Tensor


def _refuse_graph(tensor: Tensor, name: str) -> None:
    if tensor.symbolic:
        raise TypeError(f"{name}: in-place method on the graph value {tensor!r}, which has no memory to change; "
                        "write a new tensor instead")


def _sizes(name: str, sizes: tuple) -> tuple:
    if not sizes:
        raise TypeError(f"{name}() missing 1 required positional argument: 'size' (ints or one tuple of ints)")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
        raise TypeError(f"{name}: sizes must be ints or one tuple of ints, got {sizes!r}")
    if any(n < 0 for n in sizes):
        raise RuntimeError(f"{name}: Trying to create tensor with negative dimension: {list(sizes)}")
    return tuple(int(n) for n in sizes)


def _address(array) -> int:
    if array.__class__ is np.ndarray:
        return int(array.__array_interface__["data"][0])
    return int(array.data.ptr)


def _memory(array) -> tuple:
    """(the memory ``array`` views as a 1-D array in memory order, the position of its first element there)."""
    owner = array
    while isinstance(owner.base, type(array)):
        owner = owner.base
    contiguous = owner.flags.c_contiguous or owner.flags.f_contiguous
    if owner.dtype == array.dtype and contiguous and owner.size:
        flat = owner.reshape(-1, order="F" if owner.flags.f_contiguous and not owner.flags.c_contiguous else "C")
        offset = (_address(array) - _address(owner)) // array.dtype.itemsize
        if 0 <= offset <= flat.size:
            return flat, offset
    return array.reshape(-1), 0  # memory of another kind (a reinterpreted buffer): the elements, in order


def resize_(self: Tensor, *sizes, memory_format=None) -> Tensor:
    """Give the tensor the shape ``sizes`` in place (``Tensor.resize_``): its memory read from its first element
    on, in memory order; elements past the old memory's end are zeros. An unchanged shape keeps the tensor as it
    is (its strides too).

    >>> x = ember.arange(6.0)
    >>> x.resize_(2, 2).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    shape = _sizes("resize_", sizes)
    _refuse_graph(self, "resize_")
    if memory_format is not None:
        raise ValueError(f"resize_: Ember tensors have one memory format (row-major); memory_format must be None, "
                         f"got {memory_format!r}")
    if self.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if shape == tuple(self.shape):
        return self
    n = math.prod(shape)
    flat, offset = _memory(self.array)
    if offset + n > flat.size:
        grown = array_module(flat).zeros(offset + n, flat.dtype)
        grown[:flat.size] = flat
        flat = grown
    self.array = flat[offset:offset + n].reshape(shape)
    mark_written(self)
    return self


def resize_as_(self: Tensor, other: Tensor, memory_format=None) -> Tensor:
    """``resize_`` to ``other``'s shape (``Tensor.resize_as_``).

    >>> ember.zeros(2).resize_as_(ember.ones(2, 3)).shape
    (2, 3)
    """
    if not isinstance(other, Tensor):
        raise TypeError(f"resize_as_: 'the_template' must be a Tensor, not {type(other).__name__}")
    return resize_(self, *other.shape, memory_format=memory_format)


def _checked(self: Tensor, name: str, others: tuple) -> list:
    """The arrays ``name`` reads: this tensor's, then the others' broadcast to its shape."""
    _refuse_graph(self, name)
    if self.device.type != "cpu":
        raise TypeError(f"{name} is only implemented on CPU tensors, got one on {self.device}")
    if self.requires_grad:
        raise RuntimeError(f"Can't call {name}() on Variable that requires grad. Use var.detach().{name}() instead.")
    arrays = [self.array]
    for label, other in others:
        if not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument '{label}' must be Tensor, not {type(other).__name__}")
        _refuse_graph(other, name)
        if other.dtype != self.dtype:
            raise TypeError(f"{name}: expected {self.dtype} for '{label}' (got {other.dtype})")
        try:
            arrays.append(np.broadcast_to(np.asarray(other.array), self.shape))
        except ValueError:
            raise RuntimeError(f"{name}: '{label}' of shape {list(other.shape)} does not broadcast to the tensor's "
                               f"shape {list(self.shape)}") from None
    return arrays


def _element(name: str, value, dtype: np.dtype):
    """``value`` (the callable's result) as an element of ``dtype``: truncated for integers, as PyTorch."""
    if not isinstance(value, (bool, int, float, np.number, np.bool_)):
        raise TypeError(f"{name}: the callable must return a real number, not {type(value).__name__}")
    if dtype.kind in "iu":
        return int(value)
    if dtype.kind == "b":
        return bool(value)
    return float(value)


def _map(self: Tensor, name: str, fn: Callable, others: tuple) -> Tensor:
    arrays = _checked(self, name, others)
    target = arrays[0]
    for index in np.ndindex(*target.shape):
        target[index] = _element(name, fn(*(a[index].item() for a in arrays)), target.dtype)
    mark_written(self)
    return self


def apply_(self: Tensor, callable: Callable) -> Tensor:  # noqa: A002  (PyTorch's argument name)
    """Replace each element ``v`` with ``callable(v)``, a Python function of a Python number (``Tensor.apply_``;
    CPU tensors only, slow).

    >>> ember.tensor([1.0, 2.0]).apply_(lambda v: v * 10).tolist()
    [10.0, 20.0]
    """
    return _map(self, "apply_", callable, ())


def map_(self: Tensor, tensor: Tensor, callable: Callable) -> Tensor:  # noqa: A002
    """Replace each element ``a`` with ``callable(a, b)``, ``b`` the element of ``tensor`` (of this dtype,
    broadcast to this shape) at the same place (``Tensor.map_``; CPU tensors only).

    >>> ember.tensor([1.0, 2.0]).map_(ember.tensor([3.0, 4.0]), lambda a, b: a * b).tolist()
    [3.0, 8.0]
    """
    return _map(self, "map_", callable, (("other", tensor),))


def map2_(self: Tensor, x: Tensor, y: Tensor, callable: Callable) -> Tensor:  # noqa: A002
    """``map_`` with two tensors: each element ``a`` becomes ``callable(a, b, c)`` (``Tensor.map2_``).

    >>> ember.tensor([1.0, 2.0]).map2_(ember.ones(2), ember.tensor([2.0]), lambda a, b, c: a + b * c).tolist()
    [3.0, 4.0]
    """
    return _map(self, "map2_", callable, (("x", x), ("y", y)))

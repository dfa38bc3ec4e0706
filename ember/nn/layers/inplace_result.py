"""What a layer built with ``inplace=True`` returns: its result written into the input, as PyTorch's, where Ember
can write it without breaking autograd."""

from __future__ import annotations

from ember.grad_mode import is_grad_enabled, keeps_tangent
from ember.tensor import Tensor
from ember.tensor_inplace import _check, _write, record_in_place


def in_place(x: Tensor, result: Tensor, name: str) -> Tensor:
    """``result`` written into ``x`` (and ``x`` returned) when nothing needs recording; else ``result``.

    While a gradient flows through ``x`` (or a graph is built) the layer returns a new tensor and leaves ``x`` as it
    was: the values are the same, and training works as it does with PyTorch's in-place layers.
    """
    if x.symbolic or not hasattr(x.array, "flags") or (is_grad_enabled() and x.requires_grad) or keeps_tangent(x):
        return result
    _check(x, name)
    return _write(x, name, result)


def in_place_function(x: Tensor, result: Tensor, name: str) -> Tensor:
    """``result`` written into ``x``: PyTorch's functional in-place forms (``relu_``...), refused with the in-place
    methods' errors where autograd would need to record the write. Under no_grad in a forward-mode scope a tensor
    that carries a tangent records it (``keeps_tangent``), as the in-place methods there."""
    if keeps_tangent(x) and not x.symbolic:
        return record_in_place(x, name, lambda before: result)  # (result's nodes read x: they then read before)
    _check(x, name)
    return _write(x, name, result)

"""``Variable``, PyTorch's deprecated ``torch.autograd.Variable``: calling it returns a plain Tensor, and every
Tensor is an instance of it."""

from __future__ import annotations

import warnings

import numpy as np

from ember.backend import dtypes
from ember.tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False, volatile=False)``: a new leaf Tensor sharing ``data``'s memory, cut
    from its history, that requires grad when asked (``torch.autograd.Variable``, kept for old code: use the Tensor
    itself). ``volatile`` has no effect (a warning, as in PyTorch); ``Variable()`` is an empty float tensor.

    >>> v = ember.autograd.Variable(ember.ones(2), requires_grad=True)
    >>> type(v).__name__, v.requires_grad, isinstance(v, ember.autograd.Variable)
    ('Tensor', True, True)
    """

    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False) -> Tensor:
        if volatile:
            if requires_grad:
                raise ValueError("Variable can't be volatile and require_grad at the same time!")
            warnings.warn("volatile was removed and now has no effect. Use `with ember.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            return Tensor(np.empty(0, dtypes.DEFAULT_FLOAT))
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if data.symbolic:
            raise TypeError(f"Variable: cannot wrap the graph value {data!r}; use the value itself")
        fresh = Tensor._make(data.array, None)
        return fresh.requires_grad_(True) if requires_grad else fresh

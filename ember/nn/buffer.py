"""``nn.Buffer``: a Tensor that assigning to a Module attribute registers as a buffer (PyTorch 2.5+)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import get_default_dtype
from ember.tensor import Tensor

__all__ = ["Buffer"]


class Buffer(Tensor):
    """A Tensor that ``Module.__setattr__`` registers as a buffer, kept in ``state_dict`` unless
    ``persistent=False``. The data is shared with the Tensor or array it is built from, cut from its graph (its
    ``requires_grad`` is kept).

    >>> net = ember.nn.Module()
    >>> net.steps = ember.nn.Buffer(ember.zeros(1), persistent=False)
    >>> list(net.state_dict()), [name for name, _ in net.named_buffers()]
    ([], ['steps'])
    """

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent: bool = True):
        if data is None:
            array, requires_grad = np.empty((0,), get_default_dtype()), False
        elif isinstance(data, Tensor):
            array, requires_grad = data.array, data.requires_grad
        elif hasattr(data, "dtype") and hasattr(data, "shape"):
            array, requires_grad = data, False  # a NumPy or CuPy array: shared as is
        else:
            array, requires_grad = Tensor(data).array, False
        self.array = array
        self.node = None
        self._grad = None
        self._hooks = None
        self.requires_grad = False
        self.persistent = bool(persistent)
        if requires_grad:
            self.requires_grad_(True)

    def __reduce_ex__(self, protocol):
        # Rebuild through __init__ so copies and pickles stay Buffers with their flag.
        return _rebuild, (self.array, self.requires_grad, self.persistent)

    def __deepcopy__(self, memo) -> Buffer:
        copied = _rebuild(self.array.copy(), self.requires_grad, self.persistent)
        memo[id(self)] = copied
        return copied


def _rebuild(array, requires_grad: bool, persistent: bool) -> Buffer:
    made = Buffer(array, persistent=persistent)
    return made.requires_grad_(True) if requires_grad else made

"""Parameter: a Tensor that a Module registers as one of its trainable weights."""

from __future__ import annotations

import numpy as np

from ember import traced_state
from ember.backend.devices import from_torch, is_torch_tensor
from ember.backend.dtypes import get_default_dtype
from ember.tensor import Tensor

_REQUIRES_GRAD = Tensor.__dict__["requires_grad"]  # the slot's own descriptor


class Parameter(Tensor):
    """A Tensor that ``Module.__setattr__`` registers as a parameter; requires grad by default.

    The data is shared with the Tensor or array it is built from, not copied.

    >>> w = ember.nn.Parameter(ember.zeros(3, 2))
    >>> w.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = np.empty((0,), get_default_dtype())
        elif isinstance(data, Tensor):
            array = data.array
        elif is_torch_tensor(data):
            array = from_torch(data)  # its memory, shared where PyTorch's numpy() shares it
        elif hasattr(data, "dtype") and hasattr(data, "shape"):
            array = data  # a NumPy or CuPy array: shared as is
        else:
            array = Tensor(data).array
        self.array = array
        self.node = None
        self._grad = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    # Copies and pickles are rebuilt through __init__ so they stay Parameters; as PyTorch's, they come without
    # the gradient (a copied model's first backward would otherwise add to the original's last gradient).
    def __reduce_ex__(self, protocol):
        return _rebuild, (self.array, self.requires_grad)

    def __deepcopy__(self, memo) -> Parameter:
        copied = Parameter(self.array.copy(), self.requires_grad)
        memo[id(self)] = copied
        return copied


def _set_requires_grad(param: Parameter, value: bool) -> None:
    try:
        before = _REQUIRES_GRAD.__get__(param)
    except AttributeError:  # a Parameter being made
        before = value
    _REQUIRES_GRAD.__set__(param, value)
    if before != value:
        traced_state.changed()


def watch_requires_grad() -> None:
    """From now on a change of any Parameter's ``requires_grad`` (``requires_grad_()``, ``p.requires_grad = ...``)
    calls ``traced_state.changed()``, so that ``ember.jit`` traces of it retrace (a layer frozen for fine-tuning).
    ``ember.jit`` calls it at its first trace: reading the flag then goes through a property, which code that never
    traces does not pay for."""
    if "requires_grad" not in Parameter.__dict__:
        Parameter.requires_grad = property(_REQUIRES_GRAD.__get__, _set_requires_grad,
                                           doc="Whether backward computes this parameter's gradient.")


def _rebuild(data, requires_grad: bool, grad=None) -> Parameter:
    p = Parameter(data, requires_grad)
    p.grad = grad  # (pickles made before copies dropped the gradient carry one)
    return p

"""``UninitializedParameter`` and ``UninitializedBuffer``: the placeholders a lazy layer holds until its first call
gives them their shapes (PyTorch's names). Each becomes a plain ``Parameter`` / ``Tensor`` in place, the same object,
so an optimizer or a module that holds it before keeps it."""

from __future__ import annotations

from ember.creation import empty
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

__all__ = ["UninitializedBuffer", "UninitializedParameter"]


def _materialize(t: Tensor, shape, device, dtype, becomes: type) -> None:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    t.data = empty(*shape, dtype=dtype if dtype is not None else t.dtype,
                   device=device if device is not None else t.device)
    t.__class__ = becomes


class UninitializedParameter(Parameter):
    """A Parameter without a shape yet (it holds 0 elements): ``materialize`` gives it one, uninitialized, and makes
    it a ``Parameter``.

    >>> p = ember.nn.UninitializedParameter()
    >>> p.materialize((3, 2))
    >>> type(p).__name__, p.shape
    ('Parameter', (3, 2))
    """

    __slots__ = ()

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        super().__init__(empty(0, dtype=dtype, device=device), requires_grad)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Take ``shape`` (values uninitialized) and become a ``Parameter``; dtype and device stay unless given."""
        _materialize(self, shape, device, dtype, Parameter)

    # Copies and pickles stay placeholders, as PyTorch's (a lazy layer's deepcopy held a Parameter of 0 elements,
    # which its first call could not materialize)
    def __reduce_ex__(self, protocol):
        return type(self), (self.requires_grad, str(self.device), self.dtype)

    def __deepcopy__(self, memo) -> UninitializedParameter:
        copied = memo[id(self)] = type(self)(self.requires_grad, self.device, self.dtype)
        return copied

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer without a shape yet (0 elements): ``materialize`` gives it one and makes it a ``Tensor``.

    >>> b = ember.nn.UninitializedBuffer()
    >>> b.materialize(4)
    >>> type(b).__name__, b.shape
    ('Tensor', (4,))
    """

    __slots__ = ()

    def __init__(self, requires_grad: bool = False, device=None, dtype=None) -> None:
        super().__init__(empty(0, dtype=dtype, device=device).array)
        if requires_grad:
            self.requires_grad_(True)

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Take ``shape`` (values uninitialized) and become a ``Tensor``; dtype and device stay unless given."""
        _materialize(self, shape, device, dtype, Tensor)

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"

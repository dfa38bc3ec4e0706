"""PyTorch's Tensor methods about memory and tensor kinds (mixed into ``Tensor``): ``pin_memory``/``is_pinned``,
``share_memory_``/``is_shared``, ``is_inference``, ``is_conj``/``is_neg`` and ``resolve_conj``/``resolve_neg``,
``dim_order`` and ``prelu``.

Ember's tensors hold no lazy conjugate or negative bit (``conj`` computes the conjugate at once), so
``is_conj``/``is_neg`` are False and the ``resolve_*`` methods return the tensor itself. ``real`` and ``imag`` are
the complex parts as properties (new tensors on the tape, where PyTorch's are views). ``inference_mode`` makes ordinary
tensors (usable by autograd later), so ``is_inference`` is False.

>>> x = ember.ones(2, 3)
>>> x.t().dim_order(), x.is_conj(), x.resolve_neg() is x
((1, 0), False, True)
"""

from __future__ import annotations

import mmap

import numpy as np

from ember.backend import cuda_is_available, cupy_module
from ember.backend.dtypes import real_of
from ember.ops.complex_parts import complex as _complex
from ember.ops.complex_parts import imag as _imag
from ember.ops.complex_parts import real as _real
from ember.ops.convert import as_tensor as _as_tensor
from ember.ops.convert import cast_written as _cast_written
from ember.ops.prelu import prelu as _prelu
from ember.ops.shape import broadcast_to as _broadcast_to
from ember.tensor_storage import TypedStorage, UntypedStorage

__all__ = ["TorchMiscMethods"]


def _owner(array):
    """The object at the end of an array's chain of bases (the memory it views)."""
    while isinstance(getattr(array, "base", None), np.ndarray):
        array = array.base
    owner = getattr(array, "base", None)
    return owner.obj if isinstance(owner, memoryview) else owner


def _pinned(array) -> bool:
    if array.__class__ is not np.ndarray or array.size == 0 or not cuda_is_available():
        return False
    runtime = cupy_module().cuda.runtime
    try:
        attributes = runtime.pointerGetAttributes(array.__array_interface__["data"][0])
    except runtime.CUDARuntimeError:
        return False
    return attributes.type == runtime.memoryTypeHost


def _part(name: str, z, value):
    """``value`` as the ``name`` ("real" or "imag") parts of the complex tensor ``z``: their dtype, broadcast to
    z's shape."""
    part = _cast_written(name, _as_tensor(value, _real(z)), real_of(z.dtype))
    return _broadcast_to(part, tuple(z.shape)) if tuple(part.shape) != tuple(z.shape) else part


class TorchMiscMethods:
    """PyTorch-named Tensor methods; see the module docstring."""

    __slots__ = ()

    def pin_memory(self, device=None):
        """A copy in page-locked host memory, for fast copies to a GPU (``Tensor.pin_memory``). Like PyTorch's,
        it needs an accelerator: without one it raises a RuntimeError. A pinned tensor is returned as it is."""
        if not cuda_is_available():
            raise RuntimeError("pin_memory: no accelerator device is available to pin host memory for")
        if self.array.__class__ is not np.ndarray:
            raise RuntimeError(f"pin_memory: only a tensor on the cpu can be pinned, this one is on {self.device}")
        if self.is_pinned():
            return self
        import cupyx

        pinned = cupyx.empty_pinned(self.shape, self.dtype)
        pinned[...] = self.array
        return type(self)._make(pinned, None)

    def is_pinned(self, device=None) -> bool:
        """Whether the tensor's memory is page-locked host memory (always False without an accelerator)."""
        return _pinned(self.array)

    def share_memory_(self):
        """Move the tensor's data into memory shared with the processes forked after this call (an anonymous
        shared mapping; ``Tensor.share_memory_``), in place; writes on either side are then seen by both. The
        tensor's other views keep the old memory. A tensor already shared, or on a GPU, is left as it is."""
        if self.array.__class__ is not np.ndarray or self.is_shared():
            return self
        memory = mmap.mmap(-1, max(self.array.nbytes, 1))
        shared = np.frombuffer(memory, self.dtype, count=self.array.size).reshape(self.shape)
        shared[...] = self.array
        self.array = shared
        return self

    def is_shared(self) -> bool:
        """Whether ``share_memory_`` moved the tensor's data into shared memory (or it views such memory)."""
        return isinstance(_owner(self.array), mmap.mmap)

    def is_inference(self) -> bool:
        """False: tensors made under ``inference_mode`` are ordinary tensors in Ember."""
        return False

    def is_conj(self) -> bool:
        """False: Ember's ``conj`` computes the conjugate at once, there is no lazy conjugation."""
        return False

    @property
    def real(self):
        """The real part (``torch.real``): a real tensor itself, a view of a complex one's real parts."""
        return _real(self)

    @real.setter
    def real(self, value) -> None:
        # ``z.real = v`` writes the real parts in place, as through PyTorch's view (and recorded where gradients are)
        self.copy_(_complex(_part("real", self, value), _imag(self)) if self.is_complex() else value)

    @property
    def imag(self):
        """A view of the imaginary parts of a complex tensor (``torch.imag``); a real tensor has none and is refused."""
        return _imag(self)

    @imag.setter
    def imag(self, value) -> None:
        _imag(self)  # (refuses a real tensor, which has no imaginary part to write)
        self.copy_(_complex(_real(self), _part("imag", self, value)))

    def is_neg(self) -> bool:
        """False: Ember's tensors have no lazy negation."""
        return False

    def resolve_conj(self):
        """The tensor itself (there is no lazy conjugation to apply)."""
        return self

    def resolve_neg(self):
        """The tensor itself (there is no lazy negation to apply)."""
        return self

    def dim_order(self, ambiguity_check: bool = False) -> tuple:
        """The dimensions from the outermost to the innermost in memory (largest stride first; ties keep their
        order). ``ambiguity_check=True`` raises a RuntimeError where the order is not unique: a dimension of size 1
        or two dimensions with one stride.

        >>> ember.ones(2, 3, 4).permute(2, 0, 1).dim_order()
        (1, 2, 0)
        """
        if not isinstance(ambiguity_check, bool):
            raise TypeError(f"dim_order: ambiguity_check must be a bool, got {type(ambiguity_check).__name__}")
        strides = self.stride()
        if ambiguity_check and (1 in self.shape or len(set(strides)) < len(strides)):
            raise RuntimeError(f"dim_order: the tensor of shape {list(self.shape)} and strides {list(strides)} has "
                               "no unique dim order")
        return tuple(sorted(range(len(strides)), key=lambda d: -strides[d]))

    def untyped_storage(self) -> UntypedStorage:
        """The memory this tensor views, in bytes (views of one allocation share its ``data_ptr()``)."""
        return UntypedStorage(self.array, self.device)

    def storage(self) -> TypedStorage:
        """The memory this tensor views, as elements of its dtype (PyTorch's older ``storage()``)."""
        return TypedStorage(self.array, self.device)

    def prelu(self, weight):
        """``nn.functional.prelu(self, weight)``."""
        return _prelu(self, weight)

"""``Tensor.untyped_storage()`` and ``Tensor.storage()``: the memory a tensor views, as PyTorch shows it. Every
view of one allocation gives a storage with the same ``data_ptr()`` (the allocation's start), so code that asks
whether two tensors share memory reads the answer PyTorch gives."""

from __future__ import annotations

import numpy as np

__all__ = ["TypedStorage", "UntypedStorage", "memory_of"]


def memory_of(array):
    """The array that owns ``array``'s memory (the end of its chain of array bases), and its start address."""
    owner = array
    while getattr(owner, "base", None) is not None and hasattr(owner.base, "strides"):
        owner = owner.base
    if owner.__class__ is np.ndarray:
        return owner, int(owner.__array_interface__["data"][0])
    memory = owner.data  # a CuPy array: its allocation
    return owner, int(memory.mem.ptr if hasattr(memory, "mem") else memory.ptr)


class UntypedStorage:
    """The bytes of an allocation: ``data_ptr()``, ``nbytes()``, ``size()`` (in bytes), ``tolist()``."""

    def __init__(self, array, device: str):
        self._owner, self._start = memory_of(array)
        self.device = device

    def data_ptr(self) -> int:
        return self._start

    def nbytes(self) -> int:
        return int(self._owner.nbytes)

    def size(self) -> int:
        return self.nbytes()

    def __len__(self) -> int:
        return self.nbytes()

    def element_size(self) -> int:
        return 1

    def _bytes(self) -> np.ndarray:
        flat = self._owner.reshape(-1) if self._owner.flags.c_contiguous else self._owner.ravel(order="K")
        data = flat.view(np.uint8)
        return data if data.__class__ is np.ndarray else data.get()

    def tolist(self) -> list:
        return self._bytes().tolist()

    def __getitem__(self, index):
        return self._bytes()[index]

    def resize_(self, size: int):
        raise RuntimeError(f"UntypedStorage.resize_: Ember cannot resize memory that tensors view in place "
                           f"({self.nbytes()} bytes to {size}); make a new tensor instead")

    def __repr__(self) -> str:
        return f"UntypedStorage(nbytes={self.nbytes()}, device={self.device!r})"


class TypedStorage:
    """The allocation as elements of the tensor's dtype (``Tensor.storage()``, PyTorch's older view)."""

    def __init__(self, array, device: str):
        self._untyped = UntypedStorage(array, device)
        self.dtype = array.dtype
        self.device = device

    def untyped(self) -> UntypedStorage:
        return self._untyped

    def _untyped_storage(self) -> UntypedStorage:
        return self._untyped

    def data_ptr(self) -> int:
        return self._untyped.data_ptr()

    def element_size(self) -> int:
        return int(self.dtype.itemsize)

    def size(self) -> int:
        return self._untyped.nbytes() // self.element_size()

    def __len__(self) -> int:
        return self.size()

    def nbytes(self) -> int:
        return self._untyped.nbytes()

    def tolist(self) -> list:
        return self._untyped._bytes().view(self.dtype).tolist()

    def __repr__(self) -> str:
        return f"TypedStorage(size={self.size()}, dtype={self.dtype}, device={self.device!r})"

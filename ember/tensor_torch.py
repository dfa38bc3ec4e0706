"""Tensor methods under PyTorch's names that are not op functions themselves (mixed into ``Tensor``).

``mm``, ``t``, ``contiguous``, comparisons ``eq``/``ne``/``lt``/``le``/``gt``/``ge``,
``view_as``/``reshape_as``/``expand_as``/``type_as``, ``type``, ``is_cuda``, ``is_floating_point``, ``element_size``,
``nelement``, ``format(t, spec)``, the casts ``byte``/``short``, introspection (``stride``, ``storage_offset``,
``data_ptr``, ``nbytes``, ``get_device``, ``is_cpu``...), the legacy ``new`` and the adjoints ``H``/``mH``/``adjoint``.
(``new_zeros``, ``new_tensor``... make tensors: they are ``ember.creation``'s, attached in ``tensor_attach.py``.)
"""

from __future__ import annotations

import numpy as np

_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


def _ops():
    from ember import ops  # (imported on call: this module is loaded while Tensor is being defined)

    return ops


def _comparison(name: str):
    def compare(self, other):
        return getattr(_ops(), name)(self, other)

    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` (a bool tensor)."
    return compare


def _address(array) -> int:
    """Where an array's first element lies in memory (a NumPy or CuPy array)."""
    if array.__class__ is np.ndarray:
        return int(array.__array_interface__["data"][0])
    return int(array.data.ptr)


def type_target(dtype):
    """The dtype ``Tensor.type(dtype)`` and ``Module.type(dtype)`` cast to: a dtype, a legacy type
    (``ember.FloatTensor``) or its name (``"torch.DoubleTensor"``)."""
    if isinstance(dtype, type) and isinstance(getattr(dtype, "dtype", None), np.dtype):
        return dtype.dtype  # a legacy type: ember.FloatTensor
    if isinstance(dtype, str) and dtype.split(".")[-1] in _TYPE_NAMES.values():
        return next(k for k, v in _TYPE_NAMES.items() if v == dtype.split(".")[-1])
    return dtype


class TorchMethods:
    """PyTorch-named Tensor methods; see the module docstring."""

    __slots__ = ()

    eq = _comparison("eq")
    ne = _comparison("ne")
    lt = _comparison("lt")
    le = _comparison("le")
    gt = _comparison("gt")
    ge = _comparison("ge")

    def mm(self, other):
        """Matrix product of two 2-D tensors."""
        if self.ndim != 2 or getattr(other, "ndim", None) != 2:
            raise ValueError(f"mm: expected two 2-D tensors, got shapes {list(self.shape)} and "
                             f"{list(getattr(other, 'shape', ()))}")
        return _ops().matmul(self, other)

    def t(self):
        """The transpose of a tensor of at most 2 dimensions."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {list(self.shape)}; use "
                             "transpose(d0, d1) or permute")
        return _ops().transpose(self) if self.ndim == 2 else self

    def contiguous(self, memory_format=None):
        """The tensor itself when its data is C-contiguous, else a contiguous copy (gradients flow through);
        ``memory_format=ember.channels_last`` asks for a 4-D tensor's data stored as (N, H, W, C) instead."""
        if memory_format is not None:
            return memory_format.arrange(self)
        flags = getattr(self.array, "flags", None)
        if flags is None:  # a graph value: its layout is known when the code runs
            return _ops().shape.as_contiguous(self)
        return self if flags.c_contiguous else _ops().clone(self)

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the data is stored row-major (or in ``memory_format``'s layout: ``ember.channels_last``...); a
        channels-last layout does not hold for a tensor of another rank (False, as PyTorch's)."""
        if memory_format is not None:
            order = memory_format.order
            return (order is None or len(order) == self.ndim) and memory_format.holds(self)
        flags = getattr(self.array, "flags", None)
        return flags is None or bool(flags.c_contiguous)

    def view_as(self, other):
        """``view(other.shape)``: this tensor's memory with ``other``'s shape (read-only where it had to be copied,
        as ``view``'s)."""
        return _ops().view(self, *other.shape)

    def reshape_as(self, other):
        """This tensor with ``other``'s shape: a view where the layout allows, else a copy (``reshape``)."""
        return _ops().reshape(self, other.shape)

    def expand_as(self, other):
        """This tensor broadcast to ``other``'s shape (``expand``)."""
        return _ops().expand(self, other.shape)

    def type_as(self, other):
        """This tensor cast to ``other``'s dtype."""
        return _ops().cast(self, other.dtype)

    def type(self, dtype=None):
        """Without an argument, PyTorch's type name (``"ember.FloatTensor"``); with one, a cast to it."""
        if dtype is None:
            name = _TYPE_NAMES.get(str(self.dtype), f"Tensor[{self.dtype}]")
            return f"ember.{'cuda.' if self.device.type == 'cuda' else ''}{name}"
        return _ops().cast(self, type_target(dtype))

    @property
    def is_cuda(self) -> bool:
        """Whether the tensor lives on a CUDA device."""
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self.dtype.kind in "fV"

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self.dtype.itemsize)

    def nelement(self) -> int:
        return int(self.array.size)

    # --- conversions and introspection ---
    def byte(self):
        """This tensor cast to uint8."""
        return _ops().cast(self, "uint8")

    def short(self):
        """This tensor cast to int16."""
        return _ops().cast(self, "int16")

    def char(self):
        """This tensor cast to int8."""
        return _ops().cast(self, "int8")

    def ndimension(self) -> int:
        """The number of dimensions (``dim()``)."""
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the elements take (``numel() * itemsize``)."""
        return int(self.array.nbytes)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return int(self.dtype.itemsize)

    @property
    def is_cpu(self) -> bool:
        """Whether the tensor lives in host memory."""
        return self.device.type == "cpu"

    @property
    def is_sparse(self) -> bool:
        """False: an Ember tensor is dense (row-sparse gradients are ``ember.RowSparse``, not tensors)."""
        return False

    @property
    def is_quantized(self) -> bool:
        """False: Ember's int8 models (``ember.quantize``) keep plain tensors and their scales."""
        return False

    @property
    def is_meta(self) -> bool:
        """False: every Ember tensor has data (graph values stand for shapes without it)."""
        return False

    def get_device(self) -> int:
        """The CUDA device's index, or -1 on the CPU (PyTorch's)."""
        return -1 if self.device.type == "cpu" else int(self.device.index)

    def stride(self, dim: int | None = None):
        """Steps in elements between neighbours along each dimension (a tuple), or along ``dim``."""
        itemsize = self.dtype.itemsize
        strides = tuple(int(s) // itemsize for s in self.array.strides)
        if dim is None:
            return strides
        if not -len(strides) <= dim < len(strides):
            raise IndexError(f"stride: dim {dim} is out of range for a tensor of shape {list(self.shape)}")
        return strides[dim]

    def data_ptr(self) -> int:
        """The address of the first element."""
        return _address(self.array)

    def storage_offset(self) -> int:
        """How many elements this view starts past the start of the memory it shares."""
        owner = self.array
        while getattr(owner, "base", None) is not None and hasattr(owner.base, "strides"):
            owner = owner.base
        memory = getattr(self.array, "data", None)
        start = memory.mem.ptr if hasattr(memory, "mem") else _address(owner)  # a CuPy array's allocation
        return (_address(self.array) - start) // self.dtype.itemsize

    def new(self, *args):
        """PyTorch's legacy constructor, of this tensor's dtype and device: ``new(*sizes)`` an uninitialized tensor,
        ``new()`` an empty one, ``new(data)`` a tensor of the data (a tensor of this dtype: the same memory)."""
        if all(isinstance(n, int) and not isinstance(n, bool) for n in args):
            return type(self)(self.xp.empty(args or (0,), self.dtype), device=self.device)
        if len(args) != 1:
            raise TypeError(f"new: expects sizes (ints) or one data argument, got {args!r}")
        data = args[0]
        if hasattr(data, "node"):
            if data.dtype != self.dtype or data.device != self.device:
                raise TypeError(f"new: a tensor of {data.dtype} on {data.device} given to a tensor of {self.dtype} "
                                f"on {self.device}; use .to() to convert it")
            return data.detach()
        return type(self)(data, dtype=self.dtype, device=self.device)

    @property
    def H(self):  # noqa: N802  (PyTorch's name)
        """The conjugate transpose of a matrix (the transpose of a real one); a 0-d tensor conjugated."""
        if len(self.shape) not in (0, 2):
            raise ValueError(f"H: expects a matrix or a 0-d tensor, got shape {list(self.shape)}; use mH for a "
                             "batch of matrices")
        return _ops().conj(_ops().transpose(self) if len(self.shape) == 2 else self)

    @property
    def mH(self):  # noqa: N802
        """The conjugate transpose of the last two dimensions (``mT`` of a real tensor)."""
        return self.adjoint()

    def adjoint(self):
        """The conjugate transpose of the last two dimensions (a new tensor; the transpose of a real tensor)."""
        if len(self.shape) < 2:
            raise ValueError(f"adjoint: expects a tensor of at least 2 dimensions, got shape {list(self.shape)}")
        return _ops().conj(_ops().swapaxes(self, -1, -2))

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value; other tensors (``[1.5]`` too, as in PyTorch) format as
        their repr, and refuse a format spec."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {list(self.shape)}; format "
                            "its elements (tolist()) or one element (item())")
        return repr(self)


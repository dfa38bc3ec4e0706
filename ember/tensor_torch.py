"""Tensor methods under PyTorch's names that are not op functions themselves (mixed into ``Tensor``).

``mm``, ``t``, ``contiguous``, comparisons ``eq``/``ne``/``lt``/``le``/``gt``/``ge``,
``view_as``/``reshape_as``/``expand_as``/``type_as``, ``type``, ``is_cuda``, ``is_floating_point``, ``element_size``,
``nelement`` and ``format(t, spec)``. (``new_zeros``, ``new_tensor``... make tensors: they are ``ember.creation``'s,
attached in ``tensor_attach.py``.)
"""

from __future__ import annotations

_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
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

    def contiguous(self):
        """The tensor itself when its data is C-contiguous, else a contiguous copy (gradients flow through)."""
        flags = getattr(self.array, "flags", None)
        if flags is None or flags.c_contiguous:
            return self
        return _ops().clone(self)

    def is_contiguous(self) -> bool:
        flags = getattr(self.array, "flags", None)
        return flags is None or bool(flags.c_contiguous)

    def view_as(self, other):
        """This tensor with ``other``'s shape."""
        return _ops().reshape(self, other.shape)

    reshape_as = view_as

    def expand_as(self, other):
        """This tensor broadcast to ``other``'s shape."""
        return _ops().broadcast_to(self, other.shape)

    def type_as(self, other):
        """This tensor cast to ``other``'s dtype."""
        return _ops().cast(self, other.dtype)

    def type(self, dtype=None):
        """Without an argument, PyTorch's type name (``"ember.FloatTensor"``); with one, a cast to it."""
        if dtype is None:
            name = _TYPE_NAMES.get(str(self.dtype), f"Tensor[{self.dtype}]")
            return f"ember.{'cuda.' if self.device.type == 'cuda' else ''}{name}"
        if isinstance(dtype, str) and dtype.split(".")[-1] in _TYPE_NAMES.values():
            dtype = next(k for k, v in _TYPE_NAMES.items() if v == dtype.split(".")[-1])
        return _ops().cast(self, dtype)

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

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor's value; other tensors format as their repr."""
        if self.array.size == 1:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {list(self.shape)}; format "
                            "its elements (tolist()) or one element (item())")
        return repr(self)


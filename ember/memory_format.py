"""Memory formats (``torch.memory_format``): the layouts a tensor's data can be asked for. Ember's arrays are
NumPy's (or CuPy's), which take any strides, so a channels-last tensor is a (N, C, H, W) view of (N, H, W, C)
memory; every op accepts it, and results are laid out as the op makes them."""

from __future__ import annotations

import numpy as np

from ember.backend.devices import array_module


class memory_format:  # noqa: N801  (PyTorch's name)
    """A memory layout a tensor can be asked for: ``contiguous_format`` (row-major), ``channels_last`` (4-D
    (N, C, H, W) stored as N, H, W, C), ``channels_last_3d`` (5-D, as N, D, H, W, C) and ``preserve_format``."""

    def __init__(self, name: str, order: tuple | None = None):
        self.name, self.order = name, order  # order: the axes from outermost to innermost in memory

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return self.name  # the module attribute of that name: pickles as the same object

    def _axes(self, x, caller: str) -> tuple:
        if self.order is None:
            raise RuntimeError(f"{caller}: {self!r} names no layout to check or make (use contiguous_format, "
                               "channels_last or channels_last_3d)")
        if x.ndim != len(self.order):
            raise RuntimeError(f"{caller}: required rank {len(self.order)} tensor to use {self.name} format, got "
                               f"{x.dtype}{list(x.shape)}")
        return self.order

    def holds(self, x, caller: str = "is_contiguous") -> bool:
        """Whether ``x``'s data is laid out in this format (always, for a graph's symbolic value)."""
        flags = getattr(x.array, "flags", None)
        if self is contiguous_format:
            return flags is None or bool(flags.c_contiguous)
        order = self._axes(x, caller)
        return flags is None or bool(x.array.transpose(order).flags.c_contiguous)

    def arrange(self, x, caller: str = "contiguous", copy: bool = False):
        """``x`` itself when it is laid out in this format (unless ``copy``), else a copy that is (gradients flow
        through)."""
        from ember import ops

        if self is preserve_format:
            raise RuntimeError(f"{caller}: preserve_format is not a layout to copy into; use contiguous_format or "
                               "channels_last")
        if not copy and self.holds(x, caller):
            return x
        if self is contiguous_format:
            return ops.clone(x)
        self._axes(x, caller)
        return ops.permute(ops.clone(ops.permute(x, self.order)), self._inverse())

    def _inverse(self) -> tuple:
        return tuple(int(i) for i in np.argsort(self.order))

    def lay_out(self, array, like=None):
        """``array`` (a fresh NumPy or CuPy array) in this layout; ``preserve_format`` (or None) takes ``like``'s
        when that array is laid out channels-last (4-D or 5-D) and not row-major."""
        fmt = self
        if fmt is preserve_format:
            fmt = _channels_last_of(like)
        if fmt is None or fmt.order is None:
            return array
        if array.ndim != len(fmt.order):
            raise RuntimeError(f"required rank {len(fmt.order)} tensor to use {fmt.name} format, got shape "
                               f"{list(array.shape)}")
        xp = array_module(array)
        return xp.ascontiguousarray(array.transpose(fmt.order)).transpose(fmt._inverse())


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last", (0, 2, 3, 1))
channels_last_3d = memory_format("channels_last_3d", (0, 2, 3, 4, 1))


def _channels_last_of(array):
    """The channels-last format ``array`` is laid out in (not row-major), or None."""
    if array is None or getattr(array, "flags", None) is None or array.flags.c_contiguous:
        return None
    for fmt in (channels_last, channels_last_3d):
        if array.ndim == len(fmt.order) and array.transpose(fmt.order).flags.c_contiguous:
            return fmt
    return None


def lay_out(array, memory_format=None, like=None):
    """``array`` laid out as ``memory_format`` asks (None: preserve ``like``'s channels-last layout)."""
    return (preserve_format if memory_format is None else memory_format).lay_out(array, like)

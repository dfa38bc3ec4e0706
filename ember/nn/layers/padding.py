"""Padding: ``pad`` (listed in ``nn.functional``; modes constant, reflect, replicate and circular, on any rank) and
the modules ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and CircularPad in 1-D, 2-D and 3-D."""

from __future__ import annotations

import numbers

import numpy as np

from ember import ops as _ops
from ember.nn.module import Module
from ember.ops.autocast import widened_on_cpu
from ember.ops.convert import check_fill_value
from ember.ops.piecewise import piecewise
from ember.tensor import Tensor

_NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pairs(input: Tensor, pad) -> list:
    """PyTorch's flat spec, last axis first, as one (before, after) pair per axis of ``input``."""
    pad = tuple(pad)
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad: pad must be ints, got {pad}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: pad must hold (before, after) pairs for at most {input.ndim} axes, got {pad}")
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        pairs[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(size < max(-a, 0) + max(-b, 0) for size, (a, b) in zip(input.shape, pairs) if size is not None):
        raise ValueError(f"pad: padding {pad} crops more than input {list(input.shape)} holds")
    return pairs


def _positions(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """The source index of each padded position along an axis of ``size``; a negative side crops: circular padding
    wraps what is left of the axis, the other modes reflect or repeat the whole axis' edges, as PyTorch's."""
    if size + before + after <= 0:
        raise ValueError(f"pad: {mode} padding ({before}, {after}) of an axis of size {size} leaves no element")
    if before < 0 or after < 0:
        inner = np.arange(max(-before, 0), size - max(-after, 0))
        if mode == "circular":
            return inner[_positions(len(inner), max(before, 0), max(after, 0), mode)]
        whole = _positions(size, max(before, 0), max(after, 0), mode)
        return whole[max(-before, 0):len(whole) - max(-after, 0)]
    if mode == "reflect" and max(before, after) >= size:
        raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than the dimension's size {size}")
    if mode == "circular" and max(before, after) > size:
        raise ValueError(f"pad: circular padding ({before}, {after}) must be at most the dimension's size {size}")
    return np.pad(np.arange(size), (before, after), mode=_NUMPY_MODES[mode])


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """PyTorch's padding spec: (left, right) of the last axis, then (left, right) of the one before, ...;
    ``mode`` "constant" (``value``, 0 by default), "reflect" (mirrored without the edge), "replicate" (the edge
    repeated) or "circular" (wrapped around).

    >>> F.pad(ember.zeros(1, 2, 3), (1, 1)).shape
    (1, 2, 5)
    """
    pairs = _pairs(input, pad)
    if mode == "constant":
        if isinstance(value, numbers.Real):  # PyTorch's value is a float: 300 or -1 into uint8 is refused, not wrapped
            check_fill_value("pad", float(value), input.dtype)
        if any(a < 0 or b < 0 for a, b in pairs):  # crop first: only what is left is padded
            input = input[tuple(slice(max(-a, 0), -max(-b, 0) or None) for a, b in pairs)]
            pairs = [(max(a, 0), max(b, 0)) for a, b in pairs]
        return _ops.pad(input, pairs, 0.0 if value is None else value)
    if mode not in _NUMPY_MODES:
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value is not None and value != 0:  # PyTorch refuses it rather than ignoring it
        raise ValueError(f"pad: mode {mode!r} takes no value (only 'constant' does), got value={value!r}")
    if mode != "circular":  # PyTorch's reflection and replication backward read the input: see piecewise
        input = piecewise(input)
    # float32 in a CPU autocast region, as PyTorch's (whose list of float32 ops has no reflection_pad3d)
    if mode == "replicate" or (mode == "reflect" and len(pad) <= 4):
        (input,) = widened_on_cpu(input)
    out = input
    for axis, (before, after) in enumerate(pairs):
        if before or after:
            out = _ops.take(out, _positions(out.shape[axis], before, after, mode), axis)
    return _ops.clone(input) if out is input else out  # no padding: a new tensor, as PyTorch's (not input itself)


def _spec(padding, dims: int, name: str) -> tuple:
    spec = (padding,) * (2 * dims) if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(spec) != 2 * dims:
        raise ValueError(f"{name}: padding must be an int or {2 * dims} values, got {padding!r}")
    return spec


class _PadNd(Module):
    _dims = 1
    _mode = "constant"

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _spec(padding, self._dims, type(self).__name__)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (self._dims + 1, self._dims + 2):
            raise ValueError(f"{type(self).__name__}: expected {self._dims + 1}-D or {self._dims + 2}-D input, "
                             f"got shape {list(x.shape)}")
        return pad(x, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        # (as PyTorch's, any input with at least as many axes as the padding names)
        if x.ndim < self._dims:
            raise ValueError(f"{type(self).__name__}: expected an input of at least {self._dims} dimensions, got "
                             f"shape {list(x.shape)}")
        return pad(x, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last axis with ``value`` (int or (left, right)).

    >>> ember.nn.ConstantPad1d(2, 3.5)(ember.zeros(1, 2, 4)).shape
    (1, 2, 8)
    """


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two axes with ``value`` (int or (left, right, top, bottom)).

    >>> ember.nn.ConstantPad2d((1, 1, 2, 0), 3.5)(ember.zeros(1, 2, 4, 4)).shape
    (1, 2, 6, 6)
    """

    _dims = 2


class _ZeroPadNd(_ConstantPadNd):
    """``ConstantPad{1,2,3}d`` with value 0: each ZeroPad is a subclass of its ConstantPad, as in PyTorch."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd, ConstantPad1d):
    """Pad the last axis with zeros.

    >>> ember.nn.ZeroPad1d(1)(ember.ones(1, 2, 4)).shape
    (1, 2, 6)
    """


class ZeroPad2d(_ZeroPadNd, ConstantPad2d):
    """Pad the last two axes with zeros.

    >>> ember.nn.ZeroPad2d(1)(ember.ones(1, 2, 4, 4)).shape
    (1, 2, 6, 6)
    """

    _dims = 2


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class ReflectionPad1d(_ReflectionPadNd):
    """Pad the last axis with its reflection (the edge not repeated).

    >>> ember.nn.ReflectionPad1d(2)(ember.randn(1, 2, 4)).shape
    (1, 2, 8)
    """


class ReflectionPad2d(_ReflectionPadNd):
    """Pad the last two axes with their reflection (the edge not repeated).

    >>> ember.nn.ReflectionPad2d(1)(ember.randn(1, 2, 4, 4)).shape
    (1, 2, 6, 6)
    """

    _dims = 2


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


class ReplicationPad1d(_ReplicationPadNd):
    """Pad the last axis by repeating its edge values.

    >>> ember.nn.ReplicationPad1d(2)(ember.randn(1, 2, 4)).shape
    (1, 2, 8)
    """


class ReplicationPad2d(_ReplicationPadNd):
    """Pad the last two axes by repeating their edge values.

    >>> ember.nn.ReplicationPad2d(1)(ember.randn(1, 2, 4, 4)).shape
    (1, 2, 6, 6)
    """

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three axes with ``value`` (int or (left, right, top, bottom, front, back)).

    >>> ember.nn.ConstantPad3d(1, 3.5)(ember.zeros(1, 2, 3, 4, 4)).shape
    (1, 2, 5, 6, 6)
    """

    _dims = 3


class ZeroPad3d(_ZeroPadNd, ConstantPad3d):
    """Pad the last three axes with zeros.

    >>> ember.nn.ZeroPad3d(1)(ember.ones(1, 2, 3, 4, 4)).shape
    (1, 2, 5, 6, 6)
    """

    _dims = 3


class ReflectionPad3d(_ReflectionPadNd):
    """Pad the last three axes with their reflection (the edge not repeated).

    >>> ember.nn.ReflectionPad3d(1)(ember.randn(1, 2, 3, 4, 4)).shape
    (1, 2, 5, 6, 6)
    """

    _dims = 3


class ReplicationPad3d(_ReplicationPadNd):
    """Pad the last three axes by repeating their edge values.

    >>> ember.nn.ReplicationPad3d(1)(ember.randn(1, 2, 3, 4, 4)).shape
    (1, 2, 5, 6, 6)
    """

    _dims = 3


class _CircularPadNd(_PadNd):
    _mode = "circular"


class CircularPad1d(_CircularPadNd):
    """Pad the last axis by wrapping it around (the padding at most the axis' size).

    >>> ember.nn.CircularPad1d(2)(ember.randn(1, 2, 4)).shape
    (1, 2, 8)
    """


class CircularPad2d(_CircularPadNd):
    """Pad the last two axes by wrapping them around.

    >>> ember.nn.CircularPad2d(1)(ember.randn(1, 2, 4, 4)).shape
    (1, 2, 6, 6)
    """

    _dims = 2


class CircularPad3d(_CircularPadNd):
    """Pad the last three axes by wrapping them around.

    >>> ember.nn.CircularPad3d(1)(ember.randn(1, 2, 3, 4, 4)).shape
    (1, 2, 5, 6, 6)
    """

    _dims = 3

"""``assert_close`` (``torch.testing.assert_close``): values compared within per-dtype tolerances, through nested
sequences and mappings, with PyTorch's messages.

Inputs pair up by kind: two Ember tensors, two NumPy arrays, two Python (or NumPy) numbers, two booleans, two
``None``; a pair of other kinds is a TypeError, as in PyTorch. The whole structure is checked before any value,
so a mismatched length or key is reported first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ember.backend import dtypes
from ember.backend.devices import CPU, move
from ember.tensor import Tensor

# (rtol, atol) per dtype, PyTorch's defaults; dtypes not listed (integers, bool) compare exactly.
_TOLERANCES = {
    dtypes.float16: (1e-3, 1e-5), dtypes.bfloat16: (1.6e-2, 1e-5), dtypes.float32: (1.3e-6, 1e-5),
    dtypes.float64: (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5), np.dtype(np.complex128): (1e-7, 1e-7),
}
_NUMBER_DTYPES = {int: dtypes.int64, float: dtypes.float64, complex: np.dtype(np.complex128)}


class _Mismatch(AssertionError):
    """A failed comparison: the message and the item (path into the inputs) where it happened."""

    def __init__(self, message: str, path: tuple = ()):
        super().__init__(message)
        self.message = message
        self.path = path

    def full(self) -> str:
        if not self.path:
            return self.message
        item = "".join(f"[{key!r}]" for key in self.path)
        return f"{self.message}\n\nThe failure occurred for item {item}"


def _unsupported(actual, expected) -> TypeError:
    return TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def _as_number(value):
    """A Python number for a Python or NumPy number (bools excluded), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, complex)):
        return value
    if isinstance(value, np.number):
        return value.item()
    return None


def _pairs(actual, expected, path: tuple, allow_subclasses: bool) -> list:
    """The leaves to compare, as (kind, actual, expected, path); structural mismatches raise here."""
    if actual is None or expected is None:
        if actual is not expected:
            raise _Mismatch(f"None mismatch: {actual} is not {expected}", path)
        return []
    if isinstance(actual, (bool, np.bool_)) and isinstance(expected, (bool, np.bool_)):
        return [("bool", bool(actual), bool(expected), path)]
    if isinstance(actual, (Tensor, np.ndarray)) or isinstance(expected, (Tensor, np.ndarray)):
        related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
        if not related or (not allow_subclasses and type(actual) is not type(expected)):
            raise _unsupported(actual, expected)
        for value in (actual, expected):
            if isinstance(value, Tensor) and value.symbolic:
                raise TypeError(f"assert_close: cannot compare the graph value {value!r}: it has no data")
        return [("array", actual, expected, path)]
    if _as_number(actual) is not None and _as_number(expected) is not None:
        return [("number", actual, expected, path)]
    if _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != {len(expected)}", path)
        return [pair for i, (a, e) in enumerate(zip(actual, expected))
                for pair in _pairs(a, e, (*path, i), allow_subclasses)]
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        missing = [key for key in expected if key not in actual]
        extra = [key for key in actual if key not in expected]
        if missing or extra:
            raise _Mismatch(f"The keys of the mappings do not match:\nMissing keys in the actual mapping: "
                            f"{_sorted(missing)}\nAdditional keys in the actual mapping: {_sorted(extra)}", path)
        return [pair for key in _sorted(expected) for pair in _pairs(actual[key], expected[key], (*path, key),
                                                                     allow_subclasses)]
    raise _unsupported(actual, expected)


def _sorted(keys) -> list:
    """Mapping keys sorted, as PyTorch visits them; in their own order where they do not sort."""
    try:
        return sorted(keys)
    except TypeError:
        return list(keys)


def _is_sequence(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _tolerances(*dtype_list: np.dtype) -> tuple[float, float]:
    """The loosest default (rtol, atol) among ``dtype_list``."""
    found = [_TOLERANCES.get(d, (0.0, 0.0)) for d in dtype_list]
    return max(r for r, _ in found), max(a for _, a in found)


def _attribute_error(name: str, actual, expected) -> _Mismatch:
    return _Mismatch(f"The values for attribute '{name}' do not match: {actual} != {expected}.")


def _host(value) -> tuple[np.ndarray, object]:
    """(the NumPy array of a tensor or array, its device)."""
    if isinstance(value, Tensor):
        return move(value.array, CPU), value.device
    return value, CPU


def _strides(array: np.ndarray) -> tuple:
    return tuple(int(s) // array.itemsize for s in array.strides)


def _promoted(a: np.dtype, b: np.dtype) -> np.dtype:
    try:
        return dtypes.result_type(a, b)
    except KeyError:  # a NumPy dtype Ember's promotion table does not hold
        return np.result_type(a, b)


def _compare_arrays(actual, expected, rtol, atol, *, equal_nan, check_device, check_dtype, check_layout,
                    check_stride) -> None:
    a, a_device = _host(actual)
    e, e_device = _host(expected)
    if a.shape != e.shape:
        raise _attribute_error("shape", a.shape, e.shape)
    if check_device and a_device != e_device:
        raise _attribute_error("device", a_device, e_device)
    if check_layout and getattr(actual, "layout", None) != getattr(expected, "layout", None):
        raise _attribute_error("layout", getattr(actual, "layout", None), getattr(expected, "layout", None))
    if check_dtype and a.dtype != e.dtype:
        raise _attribute_error("dtype", a.dtype, e.dtype)
    if check_stride and _strides(a) != _strides(e):
        raise _attribute_error("stride()", _strides(a), _strides(e))
    if rtol is None:
        rtol, atol = _tolerances(a.dtype, e.dtype)
    dtype = _promoted(a.dtype, e.dtype)
    if dtype.kind in "biu":  # differences of integers, without wrapping around
        a, e = a.astype(np.int64), e.astype(np.int64)
    else:
        a, e = a.astype(dtype, copy=False), e.astype(dtype, copy=False)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        close = _close(a, e, abs_diff, rtol, atol, equal_nan)
        if close.all():
            return
        if a.ndim == 0:
            raise _Mismatch(_scalar_message(a.item(), e.item(), rtol, atol))
        raise _Mismatch(_tensor_message(abs_diff, np.abs(e), close, rtol, atol))


def _close(a, e, abs_diff, rtol, atol, equal_nan) -> np.ndarray:
    """Elementwise ``|a - e| <= atol + rtol * |e|``, equal infinities included, NaNs equal when ``equal_nan``."""
    allowed = atol + rtol * np.abs(e).astype(np.float64)
    close = (a == e) | (np.isfinite(abs_diff) & (abs_diff.astype(np.float64) <= allowed))
    if equal_nan:
        close |= np.isnan(a) & np.isnan(e)
    return close


def _allowed(tolerance, rtol, atol) -> str:
    return f" (up to {tolerance} allowed)" if rtol or atol else ""


def _headline(kind: str, rtol, atol) -> str:
    return f"{kind} are not {'close' if rtol or atol else 'equal'}!"


def _tensor_message(abs_diff: np.ndarray, abs_expected: np.ndarray, close: np.ndarray, rtol, atol) -> str:
    total = close.size
    mismatched = int(total - np.count_nonzero(close))
    abs_diff = abs_diff.reshape(-1).copy()
    abs_diff[close.reshape(-1)] = 0
    rel_diff = abs_diff / abs_expected.reshape(-1)
    rel_diff[close.reshape(-1)] = 0
    lines = [_headline("Tensor-likes", rtol, atol), "", f"Mismatched elements: {mismatched} / {total} "
             f"({mismatched / total:.1%})"]
    for what, diff, tolerance in (("absolute", abs_diff, atol), ("relative", rel_diff, rtol)):
        at = _greatest(diff)
        index = tuple(int(i) for i in np.unravel_index(at, close.shape))
        lines.append(f"Greatest {what} difference: {diff[at].item()} at index {index}"
                     f"{_allowed(tolerance, rtol, atol)}")
    return "\n".join(lines)


def _greatest(diff: np.ndarray) -> int:
    """The flat position of the largest difference, a NaN counting as the largest."""
    nan = np.isnan(diff)
    return int(np.argmax(nan)) if nan.any() else int(np.argmax(diff))


def _scalar_message(actual, expected, rtol, atol) -> str:
    abs_diff = abs(actual - expected)
    try:
        rel_diff = abs_diff / abs(expected)
    except ZeroDivisionError:
        rel_diff = math.inf if abs_diff else math.nan
    return "\n".join([_headline("Scalars", rtol, atol), "", f"Expected {expected} but got {actual}.",
                      f"Absolute difference: {abs_diff}{_allowed(atol, rtol, atol)}",
                      f"Relative difference: {rel_diff}{_allowed(rtol, rtol, atol)}"])


def _compare_numbers(actual, expected, rtol, atol, *, equal_nan, check_dtype) -> None:
    actual, expected = _as_number(actual), _as_number(expected)
    if check_dtype and type(actual) is not type(expected):
        raise _Mismatch(f"The (d)types do not match: {type(actual)} != {type(expected)}.")
    if rtol is None:
        rtol, atol = _tolerances(_NUMBER_DTYPES[type(actual)], _NUMBER_DTYPES[type(expected)])
    if actual == expected:
        return
    if equal_nan and _is_nan(actual) and _is_nan(expected):
        return
    abs_diff = abs(actual - expected)
    if math.isfinite(abs_diff) and abs_diff <= atol + rtol * abs(expected):
        return
    raise _Mismatch(_scalar_message(actual, expected, rtol, atol))


def _is_nan(value) -> bool:
    return value != value


def assert_close(actual, expected, *, allow_subclasses: bool = True, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True, check_stride: bool = False,
                 msg: str | Callable[[str], str] | None = None) -> None:
    """Raise an AssertionError unless ``actual`` and ``expected`` are close (``torch.testing.assert_close``).

    Tensors (and NumPy arrays) must match in shape, and unless turned off in device, dtype and layout; their
    elements must satisfy ``|actual - expected| <= atol + rtol * |expected|``. Without ``rtol`` and ``atol``
    (give both or neither) each dtype's defaults apply: float16 (1e-3, 1e-5), bfloat16 (1.6e-2, 1e-5), float32
    (1.3e-6, 1e-5), float64 (1e-7, 1e-7), integers and bool exactly. Sequences and mappings are compared item by
    item. ``msg`` replaces the message, or (a callable) is given it and returns the new one.

    >>> ember.testing.assert_close(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0000001]))
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and not value >= 0:
            raise ValueError(f"assert_close: {name} must be a non-negative number, got {value}")
    try:
        for kind, a, e, path in _pairs(actual, expected, (), allow_subclasses):
            try:
                _compare(kind, a, e, rtol, atol, equal_nan=equal_nan, check_device=check_device,
                         check_dtype=check_dtype, check_layout=check_layout, check_stride=check_stride)
            except _Mismatch as failure:
                failure.path = path
                raise
    except _Mismatch as failure:
        message = failure.full()
        if msg is not None:
            message = msg(message) if callable(msg) else msg
        raise AssertionError(message) from None


def _compare(kind, actual, expected, rtol, atol, **checks) -> None:
    if kind == "bool":
        if actual is not expected:
            raise _Mismatch(f"Booleans mismatch: {actual} is not {expected}")
    elif kind == "number":
        _compare_numbers(actual, expected, rtol, atol, equal_nan=checks["equal_nan"],
                         check_dtype=checks["check_dtype"])
    else:
        _compare_arrays(actual, expected, rtol, atol, **checks)

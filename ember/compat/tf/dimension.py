"""TF-1's ``tf.Dimension`` (one dimension of a static shape, possibly unknown), ``tf.DType``/``tf.as_dtype``
(Ember's dtypes are NumPy's) and ``tf.get_seed``."""

from __future__ import annotations

import builtins
import operator

import numpy as np

from ember.compat.tf._core import as_tf_dtype, bfloat16, op_seeds

__all__ = ["DType", "Dimension", "as_dimension", "as_dtype", "dimension_value", "get_seed"]

# TF's DataType numbers (types.proto), which tf.as_dtype and tf.DType take too
_TYPE_ENUMS = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 8: "complex64",
               9: "int64", 10: "bool", 17: "uint16", 18: "complex128", 19: "float16", 22: "uint32", 23: "uint64"}


def as_dtype(type_value) -> np.dtype:
    """``type_value`` (a tf dtype, a NumPy dtype or type, a name such as ``"float32"``, or TF's DataType number)
    as the dtype Ember's tensors carry (a NumPy dtype: ``.name``, ``.type``, ``.kind``...)."""
    if isinstance(type_value, (int, np.integer)) and not isinstance(type_value, (builtins.bool, np.bool_)):
        if int(type_value) == 14:
            return bfloat16
        if int(type_value) not in _TYPE_ENUMS:
            raise TypeError(f"tf.as_dtype: {int(type_value)} is no DataType number Ember has a dtype for")
        return np.dtype(_TYPE_ENUMS[int(type_value)])
    try:
        return as_tf_dtype(type_value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"tf.as_dtype: cannot convert {type_value!r} to a dtype ({exc})") from None


class _DTypeMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, np.dtype)

    def __call__(cls, type_enum) -> np.dtype:
        return as_dtype(type_enum)


class DType(metaclass=_DTypeMeta):
    """The class of tf dtypes: ``isinstance(x.dtype, tf.DType)`` holds for every tensor's dtype (a NumPy dtype),
    and ``tf.DType(type_enum)`` is ``tf.as_dtype(type_enum)``."""


class Dimension:
    """One dimension of a static shape: a size, or unknown (``None``). Arithmetic on an unknown dimension is
    unknown, and a comparison involving one is None, as TF-1's."""

    def __init__(self, value):
        if isinstance(value, Dimension):
            value = value.value
        if value is None:
            self._value = None
            return
        if isinstance(value, (builtins.bool, np.bool_)) or isinstance(value, (float, np.floating)):
            raise TypeError(f"tf.Dimension: value must be an integer or None, got {value!r}")
        try:
            self._value = operator.index(value)
        except TypeError:
            raise TypeError(f"tf.Dimension: value must be an integer or None, got {type(value).__name__}") from None
        if self._value < 0:
            raise ValueError(f"tf.Dimension: dimension {self._value} must be >= 0")

    @property
    def value(self) -> int | None:
        return self._value

    def __repr__(self) -> str:
        return f"Dimension({self._value!r})"

    def __str__(self) -> str:
        return "?" if self._value is None else str(self._value)

    def __int__(self) -> int:
        if self._value is None:
            raise TypeError("tf.Dimension: an unknown dimension has no int value")
        return self._value

    __index__ = __int__

    def __hash__(self) -> int:
        return hash(self._value)

    def is_compatible_with(self, other) -> bool:
        """Whether the two could be the same size (either unknown, or equal)."""
        other = as_dimension(other)
        return self._value is None or other.value is None or self._value == other.value

    def assert_is_compatible_with(self, other) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {as_dimension(other)} are not compatible")

    def merge_with(self, other) -> Dimension:
        """The dimension both are: the known one of the two (they must be compatible)."""
        other = as_dimension(other)
        self.assert_is_compatible_with(other)
        return Dimension(self._value if self._value is not None else other.value)

    def _combine(self, other, fn) -> Dimension:
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or other.value is None:
            return Dimension(None)
        return Dimension(fn(self._value, other.value))

    def __add__(self, other):
        return self._combine(other, operator.add)

    def __radd__(self, other):
        return self._combine(other, lambda a, b: b + a)

    def __sub__(self, other):
        return self._combine(other, operator.sub)

    def __rsub__(self, other):
        return self._combine(other, lambda a, b: b - a)

    def __mul__(self, other):
        return self._combine(other, operator.mul)

    def __rmul__(self, other):
        return self._combine(other, lambda a, b: b * a)

    def __floordiv__(self, other):
        return self._combine(other, operator.floordiv)

    def __rfloordiv__(self, other):
        return self._combine(other, lambda a, b: b // a)

    def __mod__(self, other):
        return self._combine(other, operator.mod)

    def __rmod__(self, other):
        return self._combine(other, lambda a, b: b % a)

    def __truediv__(self, other):
        raise TypeError(f"unsupported operand type(s) for /: 'Dimension' and '{type(other).__name__}', please use "
                        "// instead")

    __rtruediv__ = __truediv__

    def _compare(self, other, fn):
        try:
            other = as_dimension(other)
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or other.value is None:
            return None
        return fn(self._value, other.value)

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)


def as_dimension(value) -> Dimension:
    """``value`` as a Dimension (a Dimension as it is)."""
    return value if isinstance(value, Dimension) else Dimension(value)


def dimension_value(dimension) -> int | None:
    """The size a dimension stands for (an int or None), whether it is a Dimension or already a size."""
    return dimension.value if isinstance(dimension, Dimension) else dimension


_MAXINT32 = 2 ** 31 - 1


def get_seed(op_seed) -> tuple:
    """The (graph seed, op seed) a random op made now with ``op_seed`` draws with, as TF-1's rules give them:
    ``(None, None)`` when neither seed is set; the graph seed with the count of ops made so far for an op without
    a seed; TF's default graph seed (87654321) for an op seed without a graph seed. (0, 0) becomes
    (0, 2**31 - 1), as in TF-1 (0, 0 means nondeterministic to TF's kernels)."""
    if op_seed is not None:
        op_seed = operator.index(op_seed)
    seeds = op_seeds(op_seed)
    if seeds is None:
        return None, None
    seeds = tuple(seed % _MAXINT32 for seed in seeds)  # (TF-1 truncates both)
    return (0, _MAXINT32) if seeds == (0, 0) else seeds


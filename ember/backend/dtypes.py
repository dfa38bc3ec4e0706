"""Ember's dtypes and the one promotion rule.

Dtypes are plain NumPy dtype objects, so arrays never need converting. bfloat16 comes from ml_dtypes.

Promotion (``result_type``) follows PyTorch's rule:

* categories rank ``bool < integer < floating < complex``; the result takes the higher category, except that
  float64 with complex64 gives complex128 (the complex dtype whose parts hold the float);
* inside a category the wider type wins; float16 with bfloat16 gives float32, uint8 with int8 int16;
* Python scalars are *weak*: they never widen a tensor inside its category (``float32 * 2.0`` stays
  float32, ``int32 + 1`` stays int32); a Python float with an integer or bool tensor gives the default
  float dtype (float32), a Python int with a bool tensor gives int64; a Python complex keeps a complex tensor's
  dtype, gives a float tensor the complex dtype of its width (complex64 below float64) and an integer or bool
  tensor the default complex dtype (complex64, complex128 when the default float is float64);
* a 0-d tensor with a tensor that has dimensions is weak in the same way (``dimensioned_result_type``):
  ``float16[3] * float32[]`` stays float16; two 0-d tensors, or two with dimensions, follow the first rules.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

bool_ = np.dtype(np.bool_)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
float16 = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)

DEFAULT_FLOAT = float32  # set_default_dtype rebinds it: read it as ``dtypes.DEFAULT_FLOAT`` at call time
DEFAULT_INT = int64

FLOATING = frozenset({float16, bfloat16, float32, float64})
LOW_PRECISION = frozenset({float16, bfloat16})  # reduced in float32 and rounded once, as PyTorch does
INTEGER = frozenset({uint8, int8, int16, int32, int64})
COMPLEX = frozenset({complex64, complex128})
DIFFERENTIABLE = FLOATING | COMPLEX  # the dtypes a tensor that requires grad may have
SUPPORTED = FLOATING | INTEGER | COMPLEX | {bool_}

# Rank inside each category; float16 and bfloat16 share a rank and meet at float32, uint8 and int8 at int16.
_RANK = {bool_: 0, uint8: 10, int8: 10, int16: 11, int32: 12, int64: 13, float16: 20, bfloat16: 20, float32: 21,
         float64: 22, complex64: 31, complex128: 32}

_ALIASES = {
    "bool": bool_, "uint8": uint8, "int8": int8, "int16": int16, "short": int16, "int32": int32,
    "int64": int64, "int": int64, "long": int64, "float16": float16, "half": float16, "bfloat16": bfloat16,
    "float32": float32, "float": float32, "float64": float64, "double": float64, "complex64": complex64,
    "cfloat": complex64, "complex128": complex128, "cdouble": complex128,
}


def as_dtype(dtype) -> np.dtype:
    """Normalise a dtype given as an Ember/NumPy dtype, a type, a name or a PyTorch dtype; reject unsupported
    ones."""
    if dtype.__class__ is np.dtype and dtype in _RANK:
        return dtype
    if isinstance(dtype, str):
        found = _ALIASES.get(dtype)
        if found is None:
            raise TypeError(f"unknown dtype name {dtype!r}; expected one of {sorted(_ALIASES)}")
        return found
    if dtype is float:
        return DEFAULT_FLOAT
    if dtype is int:
        return DEFAULT_INT
    if dtype is bool:
        return bool_
    try:
        found = np.dtype(dtype)
    except TypeError as exc:
        if is_torch_dtype(dtype):
            found = _ALIASES.get(str(dtype).removeprefix("torch."))
            if found is None:
                names = ", ".join(sorted(str(d) for d in SUPPORTED))
                raise TypeError(f"dtype {dtype} is not supported by Ember; supported: {names}") from None
            return found
        raise TypeError(f"not a dtype: {dtype!r}") from exc
    if found not in _RANK:
        names = ", ".join(sorted(str(d) for d in SUPPORTED))
        raise TypeError(f"dtype {found} is not supported by Ember; supported: {names}")
    return found


def is_torch_dtype(value) -> bool:
    """Whether ``value`` is a PyTorch dtype (``torch.float16``), told without importing PyTorch."""
    return value.__class__.__name__ == "dtype" and value.__class__.__module__ == "torch"


def is_floating(dtype: np.dtype) -> bool:
    """True for float16, bfloat16, float32 and float64."""
    return dtype in FLOATING


def is_complex(dtype: np.dtype) -> bool:
    """True for complex64 and complex128."""
    return dtype in COMPLEX


def complex_of(dtype: np.dtype) -> np.dtype:
    """The complex dtype whose real and imaginary parts are ``dtype`` (complex64 below float64); a complex
    dtype is its own."""
    if dtype in COMPLEX:
        return dtype
    return complex128 if dtype == float64 else complex64


def real_of(dtype: np.dtype) -> np.dtype:
    """The real dtype of a complex dtype's parts (float32 for complex64); a real dtype is its own."""
    if dtype == complex64:
        return float32
    return float64 if dtype == complex128 else dtype


def default_complex() -> np.dtype:
    """The complex dtype of Python complex numbers: complex64, or complex128 when the default float is float64."""
    return complex128 if DEFAULT_FLOAT == float64 else complex64


def _category(dtype: np.dtype) -> int:
    return _RANK[dtype] // 10


def result_type(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype two tensors promote to (see the module docstring)."""
    if a is b or a == b:
        return a
    ra, rb = _RANK[a], _RANK[b]
    if ra // 10 != rb // 10:
        if ra + rb == 53:  # float64 (22) with complex64 (31): complex128 holds both
            return complex128
        return a if ra > rb else b
    if ra == rb:  # float16 with bfloat16, uint8 with int8
        return float32 if ra // 10 == 2 else int16
    return a if ra > rb else b


def dimensioned_result_type(dimensioned: np.dtype, zero_dim: np.dtype) -> np.dtype:
    """The dtype of a tensor with dimensions and a 0-d tensor together, PyTorch's rule: the 0-d tensor only
    lifts the category (``float16[3] * float32[]`` stays float16, ``int32[3] * float64[]`` is float64), and a
    complex 0-d tensor gives a float tensor the complex dtype of its width."""
    if dimensioned is zero_dim or dimensioned == zero_dim:
        return dimensioned
    if _RANK[zero_dim] // 10 <= _RANK[dimensioned] // 10:
        return dimensioned
    if zero_dim in COMPLEX and dimensioned in FLOATING:
        return complex_of(dimensioned)
    return zero_dim


def scalar_result_type(dtype: np.dtype, scalar) -> np.dtype:
    """The dtype of ``tensor <op> python_scalar``: scalars are weak and only lift the category."""
    if isinstance(scalar, bool):
        return dtype
    if isinstance(scalar, int):
        return DEFAULT_INT if dtype is bool_ else dtype
    if isinstance(scalar, float):
        return dtype if dtype in FLOATING or dtype in COMPLEX else DEFAULT_FLOAT
    if isinstance(scalar, complex):
        return complex_of(dtype) if dtype in FLOATING or dtype in COMPLEX else default_complex()
    raise TypeError(f"unsupported scalar of type {type(scalar).__name__}: {scalar!r}")


def dtype_of_python(value) -> np.dtype:
    """Default dtype for Python data: bool, int64, float32 or (for a complex number) complex64."""
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return DEFAULT_INT
    if isinstance(value, complex):
        return default_complex()
    return DEFAULT_FLOAT


def get_default_dtype() -> np.dtype:
    """The floating dtype of Python floats and of creation functions given no dtype (``torch.get_default_dtype``).

    >>> ember.get_default_dtype()
    dtype('float32')
    """
    return DEFAULT_FLOAT


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (a floating dtype: float32, float64, float16 or bfloat16) the default floating dtype, as
    ``torch.set_default_dtype``: ``tensor(1.0)``, ``zeros``, ``rand``, ``arange`` with a float step, layers'
    parameters and integer tensors mixed with Python floats then use it.

    >>> ember.set_default_dtype(ember.float64); ember.tensor(1.0).dtype
    dtype('float64')
    """
    global DEFAULT_FLOAT
    found = as_dtype(dtype)
    if found not in FLOATING:
        raise TypeError(f"set_default_dtype: only floating-point dtypes can be the default, got {found}")
    DEFAULT_FLOAT = found


def promote_types(type1, type2) -> np.dtype:
    """The smallest dtype both ``type1`` and ``type2`` convert to without losing their kind
    (``torch.promote_types``).

    >>> ember.promote_types(ember.int32, ember.float16)
    dtype('float16')
    """
    return result_type(as_dtype(type1), as_dtype(type2))


def can_cast(from_, to) -> bool:
    """Whether PyTorch's casting rules allow ``from_`` to ``to`` (``torch.can_cast``): any cast that does not lower
    the category (bool < integer < floating < complex) is allowed, within a category any width.

    >>> ember.can_cast(ember.float32, ember.int32)
    False
    """
    return _category(as_dtype(from_)) <= _category(as_dtype(to))

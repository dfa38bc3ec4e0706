"""Casting and turning Python values into Tensors for the ops: one place for dtype promotion."""

from __future__ import annotations

import math
import sys
import warnings

import ml_dtypes
import numpy as np

from ember.backend import dtypes as _dtypes
from ember.backend.dtypes import (
    COMPLEX,
    DIFFERENTIABLE,
    FLOATING,
    as_dtype,
    bool_,
    dimensioned_result_type,
    result_type,
    scalar_result_type,
)
from ember.ops import dispatch, lowering
from ember.ops.dispatch import TensorLike
from ember.ops.infer import movement_cost
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, Spec, defop, shape_error
from ember.ops.sized import arange_sized, reshape_sized
from ember.ops.unknown_size import UnknownSize


def _cast_forward(xp, x, *, dtype):
    if x.dtype.kind == "c" and dtype.kind not in "cb":  # the real part, as PyTorch (and the gradient of a real input)
        x = x.real
    return x.astype(dtype)


def _cast_rule(run, ctx, g):
    dtype = ctx.inputs[0].dtype
    return (g if g.dtype == dtype else run(CAST, g, dtype=dtype),)


CAST = defop(
    "cast",
    forward=_cast_forward,
    infer=lambda x, *, dtype: Spec(tuple(x.shape), dtype),
    vjp=vjp_rule(_cast_rule),
    cost=movement_cost,
    onnx="Cast",
    vjp_reads=(),
    elementwise=True,
    lower=lowering.cast,
    same_type_noop=True,
    fresh=True,
    fusion=NOT_FUSIBLE,
)


def cast(x: TensorLike, dtype) -> TensorLike:
    """``x`` converted to ``dtype``; differentiable between floating and complex dtypes, detached otherwise
    (complex to real keeps the real part)."""
    dtype = as_dtype(dtype)
    if x.array.dtype == dtype:
        return x
    if x.array.dtype in COMPLEX and dtype not in COMPLEX and dtype != bool_:  # (bool reads both parts: nonzero)
        warnings.warn(f"cast: casting complex values to {dtype} discards the imaginary part", UserWarning,
                      stacklevel=2)
    out = dispatch.apply(CAST, (x,), {"dtype": dtype})
    if dtype not in DIFFERENTIABLE and out.node is not None:
        out = out.detach()
    return out


def cast_written(name: str, values: TensorLike, dtype) -> TensorLike:
    """``values`` cast to the dtype of the tensor an op writes them into (masked_fill's, scatter's...); complex
    values into a real tensor are refused naming ``name``, as PyTorch's are (the cast would drop their imaginary
    parts)."""
    dtype = as_dtype(dtype)
    if values.dtype == dtype:
        return values
    if values.dtype in COMPLEX and dtype not in COMPLEX:
        raise TypeError(f"{name}: complex values cannot be written into a tensor of dtype {dtype} (their imaginary "
                        f"parts would be lost); take .real, or make the tensor complex")
    return cast(values, dtype)


def cast_same_kind(name: str, values: TensorLike, dtype) -> TensorLike:
    """``values`` cast to ``dtype`` where NumPy's same-kind rule allows it (float64 into float32, int64 into
    int8); floats into an integer tensor, or anything but bools into a bool one, are refused naming ``name``, as
    PyTorch refuses them (the cast would round them silently)."""
    dtype = as_dtype(dtype)
    if values.dtype != dtype and values.dtype not in COMPLEX and not np.can_cast(values.dtype, dtype, "same_kind"):
        raise RuntimeError(f"{name}: values of type {values.dtype} cannot be written into a tensor of dtype {dtype}; "
                           "cast them first")
    return cast_written(name, values, dtype)


def same_dtype(name: str, x, source, what: str = "source") -> tuple:
    """``x`` and ``source`` as Tensors of x's dtype, as PyTorch's index and scatter ops take them: a source tensor
    of another dtype is refused naming ``name`` and both dtypes (promoting them gave a result of another dtype,
    fractions in an int64 tensor's copy); a Python value is made a tensor of x's dtype (``cast_same_kind``)."""
    x = as_tensor(x)
    if not isinstance(source, TensorLike):
        return x, cast_same_kind(name, as_tensor(source, x), x.dtype)
    if source.dtype != x.dtype:
        raise RuntimeError(f"{name}: self of dtype {x.dtype} and {what} of dtype {source.dtype} must have the same "
                           f"dtype, as in PyTorch; cast one of them")
    return x, source


def check_fill_value(name: str, value, dtype) -> None:
    """A RuntimeError naming ``name`` for a fill value (a number, or a 0-d tensor's) that ``dtype`` cannot hold, as
    PyTorch refuses it: past an integer dtype's range (an unsigned one takes integers down to -max, which wrap, but
    no negative float), NaN or infinite into an integer dtype, or finite past a floating dtype's largest value. The
    cast would wrap 300 to 44 in int8, -2.7 to 254 in uint8, make NaN the smallest int32, or 1e5 infinite in
    float16. A Python complex number with an imaginary part is a TypeError for a real dtype (bool takes it as
    nonzero), where the cast would keep its real part; a tensor's, or NumPy's, is cast as PyTorch casts it."""
    if type(value) is complex and value.imag and as_dtype(dtype) not in COMPLEX and as_dtype(dtype) != bool_:
        raise TypeError(f"{name}: complex values cannot be written into a tensor of dtype {as_dtype(dtype)} (their "
                        f"imaginary parts would be lost), got {value!r}; take .real, or make the tensor complex")
    if isinstance(value, TensorLike):
        if value.ndim != 0 or value.symbolic:
            return
        value = value.item()
    dtype = as_dtype(dtype)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            dtype.kind not in "iuf" and dtype not in FLOATING:
        return
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low = -int(info.max) if dtype.kind == "u" and isinstance(value, (int, np.integer)) else int(info.min)
        fits = math.isfinite(value) and low <= value <= int(info.max)
    else:
        fits = not math.isfinite(value) or abs(float(value)) <= float(ml_dtypes.finfo(dtype).max)
    if not fits:
        raise RuntimeError(f"{name}: value {value!r} cannot be converted to {dtype} without overflow")


# --- the same bytes read as another dtype (``Tensor.view(dtype)``) ---


def _bits_shape(x, dtype) -> tuple:
    """The shape of ``x``'s bytes read as ``dtype``: the last dimension scaled by the ratio of element sizes."""
    shape, old, new = tuple(x.shape), np.dtype(x.dtype), np.dtype(dtype)
    if old.itemsize == new.itemsize:
        return shape
    if not shape:
        raise shape_error("view_dtype", [x], f"a 0-d tensor can only be viewed as a dtype of its element size "
                                             f"({old.itemsize} bytes), not {new} ({new.itemsize} bytes)")
    last = shape[-1]
    if last is None:
        return shape
    if last * old.itemsize % new.itemsize:
        raise shape_error("view_dtype", [x], f"the last dimension's {last * old.itemsize} bytes do not divide "
                                             f"into {new} elements of {new.itemsize} bytes")
    return shape[:-1] + (last * old.itemsize // new.itemsize,)


def _view_dtype_forward(xp, x, *, dtype):
    if x.dtype.itemsize != dtype.itemsize and x.ndim and x.shape[-1] > 1 and x.strides[-1] != x.itemsize:
        raise ValueError(f"view_dtype: viewing {x.dtype}{list(x.shape)} as {dtype} (another element size) needs its "
                         f"last dimension contiguous, its stride is {x.strides[-1] // x.itemsize}; call contiguous()")
    return (x.reshape(1) if not x.ndim else x).view(dtype).reshape(_bits_shape(x, dtype))


VIEW_DTYPE = defop(
    "view_dtype",
    forward=_view_dtype_forward,
    infer=lambda x, *, dtype: Spec(_bits_shape(x, dtype), dtype),
    vjp=NON_DIFFERENTIABLE,
    cost=movement_cost,
    onnx=NO_ONNX,
)


def view_dtype(x: TensorLike, dtype) -> TensorLike:
    """The bytes of ``x`` read as ``dtype`` (``Tensor.view(dtype)``): the last dimension scaled by the ratio of
    element sizes, the memory shared, no gradient."""
    return dispatch.apply(VIEW_DTYPE, (x,), {"dtype": as_dtype(dtype)})


_constants: dict = {}


def _scalar_array(xp, value, dtype):
    try:
        return xp.asarray(value, dtype=dtype)
    except OverflowError:
        return xp.asarray(_wrapped(value, dtype))


def _wrapped(value: int, dtype) -> np.ndarray:
    """An int outside an integer dtype's range, wrapped around into it as PyTorch converts it (through int64:
    ``uint8_tensor - 2`` wraps like ``uint8_tensor + (-2)``)."""
    if not -(1 << 63) <= value < 1 << 63:
        raise OverflowError(f"Python integer {value} is out of range for {dtype} arithmetic (and for int64, "
                            f"through which it would wrap around)")
    return np.asarray(value, np.int64).astype(dtype)


def constant(value, dtype, like: TensorLike) -> TensorLike:
    """A cached read-only Tensor holding a Python scalar, on ``like``'s device."""
    xp = np if like.array.__class__ is np.ndarray else like.xp
    if value == 0 and value.__class__ is not int and value.__class__ is not bool:
        key = (value.__class__, repr(value), dtype, xp)  # 0.0 == -0.0: the sign keeps them apart (x + 0.0 != x)
    else:
        key = (value.__class__, value, dtype, xp)
    found = _constants.get(key)
    if found is None:
        if len(_constants) > 4096:
            _constants.clear()
        array = _scalar_array(xp, value, dtype)
        if xp is np:
            array.flags.writeable = False
        found = _constants[key] = dispatch.wrap(array)
    return found


_SCALARS = (bool, int, float, complex)


def as_tensor(value, like: TensorLike | None = None) -> TensorLike:
    """``value`` as a Tensor (on ``like``'s device when given); Tensors pass through."""
    if isinstance(value, TensorLike):
        return value
    if like is not None and isinstance(value, (np.integer, np.inexact)):
        value = value.item()  # beside a tensor a NumPy number counts as a Python one, as in PyTorch
    if like is not None and value.__class__ in _SCALARS:
        return constant(value, scalar_result_type(like.array.dtype, value), like)
    if value.__class__ is UnknownSize and value.source is not None:  # x.sum(1) / x.size(1) while tracing
        return _size_tensor(value, like)
    device = like.device if like is not None else None
    return dispatch.new(value, None, device)


def _size_tensor(size: UnknownSize, like: TensorLike | None) -> TensorLike:
    """A 0-d tensor of a size read from graph values when the graph runs, typed as a Python int would be beside
    ``like``: a one-element range from the size, reshaped to 0-d."""
    dtype = np.dtype(np.int64) if like is None else scalar_result_type(like.array.dtype, 0)
    return reshape_sized(arange_sized(size, size + 1, 1, dtype), ())


def promote(a, b) -> tuple:
    """Two operands as Tensors of one dtype, by ``ember.backend.dtypes.result_type``."""
    # Fast path: a float tensor with a Python float, the commonest mixed case in model code.
    if b.__class__ is float and isinstance(a, TensorLike):
        dtype = a.array.dtype
        if dtype in FLOATING:
            return a, constant(b, dtype, a)
    if a.__class__ is float and isinstance(b, TensorLike):
        dtype = b.array.dtype
        if dtype in FLOATING:
            return constant(a, dtype, b), b
    if not isinstance(a, TensorLike):
        if not isinstance(b, TensorLike):
            a = as_tensor(a)
        else:
            a = as_tensor(a, b)
    if not isinstance(b, TensorLike):
        b = as_tensor(b, a)
    da, db = a.array.dtype, b.array.dtype
    if da is db:
        return a, b
    zero_a, zero_b = not a.shape, not b.shape
    if zero_a is zero_b:
        dtype = result_type(da, db)
    else:  # a 0-d tensor beside one with dimensions only lifts the category (PyTorch)
        dtype = dimensioned_result_type(db, da) if zero_a else dimensioned_result_type(da, db)
    return cast(a, dtype), cast(b, dtype)


def cast_float(name: str, x, dtype) -> TensorLike:
    """``x`` cast to ``dtype``, which must be a floating dtype (an op's ``dtype=`` argument; ``name``: the op)."""
    x = cast(x, dtype)
    if x.array.dtype not in FLOATING:
        raise TypeError(f"{name}: dtype must be a floating dtype, got {x.array.dtype}")
    return x


def to_float(x, name: str | None = None) -> TensorLike:
    """``x`` as a floating Tensor: integers and bools become the default float dtype. A complex ``x`` is refused
    with an error naming ``name`` (the op), or, without one, the function that called ``to_float``."""
    if not isinstance(x, TensorLike):
        x = as_tensor(x)
    dtype = x.array.dtype
    if dtype in FLOATING:
        return x
    if dtype in COMPLEX:
        raise TypeError(f"{name or sys._getframe(1).f_code.co_name}: not implemented for complex tensors, got "
                        f"{dtype}{list(x.shape)}")
    return cast(x, _dtypes.DEFAULT_FLOAT)


def promote_inexact(a, b) -> tuple:
    """``promote`` for an op that computes in floats (true division, atan2...): both operands floating (or complex).
    A Python int beside a tensor becomes a float with it, not first the tensor's integer dtype, where it would
    wrap (a uint8 tensor / -3 would divide by 253), as PyTorch's; so does each of two integer tensors (a uint8
    tensor / an int8 0-d tensor -3: the int8 0-d operand would have become uint8)."""
    if (b.__class__ is int or isinstance(b, np.integer)) and isinstance(a, TensorLike):
        a = to_inexact(a)
    elif (a.__class__ is int or isinstance(a, np.integer)) and isinstance(b, TensorLike):
        b = to_inexact(b)
    elif isinstance(a, TensorLike) and isinstance(b, TensorLike) and a.array.dtype.kind in "biu" \
            and b.array.dtype.kind in "biu":
        return to_inexact(a), to_inexact(b)
    a, b = promote(a, b)
    return to_inexact(a), to_inexact(b)


def to_inexact(x) -> TensorLike:
    """``x`` as a floating or complex Tensor (``to_float`` for the ops that take complex numbers too)."""
    if not isinstance(x, TensorLike):
        x = as_tensor(x)
    dtype = x.array.dtype
    if dtype in FLOATING or dtype in COMPLEX:
        return x
    return cast(x, _dtypes.DEFAULT_FLOAT)

"""PyTorch's elementwise names Ember lacked: ``tan``, ``frexp``, ``fmax``/``fmin``, the bit shifts (primitives) and
the spellings and tests composed from existing ops (``subtract``, ``divide``, ``greater``, ``fix``, ``sgn``,
``signbit``, ``ldexp``, ``isposinf``, ``is_nonzero``...), with PyTorch's dtypes and broadcasting."""

from __future__ import annotations

from collections import namedtuple

import numpy as _np

from ember.backend import dtypes as _dtypes
from ember.backend.dtypes import COMPLEX, FLOATING, bool_
from ember.ops import dispatch
from ember.ops.complex_math import complex_sgn
from ember.ops.complex_parts import imag
from ember.ops.composed import trunc
from ember.ops.convert import CAST, as_tensor, cast, promote, to_inexact
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import (
    WHERE,
    _binary,
    _conj,
    _scalar,
    _typed,
    _unary,
    abs,
    bitwise_or,
    div,
    eq,
    ge,
    gt,
    invert,
    le,
    lt,
    mul,
    ne,
    neg,
    power,
    sign,
    sub,
)
from ember.ops.elementwise_torch import EXP2, copysign, exp2
from ember.ops.infer import broadcast_shapes, elementwise_cost, refuse_complex, same_dtype, unary_inexact
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, Fusion, Spec, defop, describe
from ember.ops.shape import unbroadcast_with


def _tan_rule(run, ctx, g):
    out = _conj(run, ctx.output)
    return (g * (_typed(out) + out * out),)


TAN = _unary("tan", lambda xp, x: xp.tan(x), vjp_rule(_tan_rule), onnx="Tan", flops=8, saves_output=True,
             infer=unary_inexact("tan"), ufunc=_np.tan, fusion=Fusion("tan({0})", exact=False))


# --- frexp: one op, a node per part (as the decompositions' parts) ---------------------------------------------


def _frexp_forward(xp, x, *, part):
    mantissa, exponent = xp.frexp(x)
    return mantissa if part == "mantissa" else exponent.astype(xp.int32)


def _frexp_infer(x, *, part):
    if part not in ("mantissa", "exponent"):
        raise ValueError(f"frexp: part must be 'mantissa' or 'exponent', got {part!r}")
    if x.dtype not in FLOATING:
        raise TypeError(f"frexp: only supports floating-point dtypes, got {describe([x])}")
    return Spec(tuple(x.shape), x.dtype if part == "mantissa" else _np.dtype(_np.int32))


def _frexp_rule(run, ctx, g):
    if ctx.attrs["part"] == "exponent":  # piecewise constant
        return (None,)
    # mantissa = x / 2**exponent, the exponent constant between powers of two (PyTorch's grad / exponent.exp2())
    exponent = run(CAST, run(FREXP, ctx.inputs[0], part="exponent"), dtype=g.dtype)
    return (g / run(EXP2, exponent),)


FREXP = defop("frexp", forward=_frexp_forward, infer=_frexp_infer, vjp=vjp_rule(_frexp_rule),
              cost=elementwise_cost(2), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)

FrexpResult = namedtuple("frexp", ["mantissa", "exponent"])  # like torch.return_types.frexp
FrexpResult.__doc__ = "``frexp(x)``: mantissas in (-1, -0.5] or [0.5, 1) (0 for 0) and int32 exponents."


# --- fmax, fmin: NumPy's fmax/fmin, a NaN loses to a number ----------------------------------------------------


def _nan_ignoring_vjp(wins):
    def rule(run, ctx, g):
        a, b = ctx.inputs  # PyTorch's: a tie, and a NaN b, send the whole gradient to a
        a_wins = wins(a, b) | (b != b)
        zero = _scalar(run, g, 0.0)
        ga = run(WHERE, a_wins, g, zero)
        gb = run(WHERE, a_wins, zero, g)
        return (unbroadcast_with(run, ga, a.shape) if ctx.needs[0] else None,
                unbroadcast_with(run, gb, b.shape) if ctx.needs[1] else None)

    return vjp_rule(rule)


FMAX = _binary("fmax", lambda xp, a, b: xp.fmax(a, b), _nan_ignoring_vjp(lambda a, b: a >= b), onnx=NO_ONNX,
               ufunc=_np.fmax, fusion=NOT_FUSIBLE)
FMIN = _binary("fmin", lambda xp, a, b: xp.fmin(a, b), _nan_ignoring_vjp(lambda a, b: a <= b), onnx=NO_ONNX,
               ufunc=_np.fmin, fusion=NOT_FUSIBLE)


# --- bit shifts: integers only; a shift past the width gives 0 (-1 for a negative right-shifted), as PyTorch --------


def _shift_infer(name):
    def infer(a, b, **attrs):
        dtype = same_dtype(name, (a, b))
        if dtype.kind not in "iu":
            raise TypeError(f"{name}: needs integer tensors, got {describe([a, b])}")
        return Spec(broadcast_shapes(name, (a, b)), dtype)

    return infer


LEFT_SHIFT = defop("bitwise_left_shift", forward=lambda xp, a, b: xp.left_shift(a, b),
                   infer=_shift_infer("bitwise_left_shift"), vjp=NON_DIFFERENTIABLE, cost=elementwise_cost(1),
                   onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)
RIGHT_SHIFT = defop("bitwise_right_shift", forward=lambda xp, a, b: xp.right_shift(a, b),
                    infer=_shift_infer("bitwise_right_shift"), vjp=NON_DIFFERENTIABLE, cost=elementwise_cost(1),
                    onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)


# --- ldexp of an integer exponent: x * 2**e rounded once, as PyTorch's; 2**e in x's dtype overflows or flushes
# (ldexp(1e-30, 130) was inf in float32, not 1.36e9; ldexp(1e-4, 20) inf in float16) ----------------------------


def _ldexp_infer(x, exponent, **attrs):
    if x.dtype not in FLOATING or exponent.dtype.kind not in "iu":
        raise TypeError(f"ldexp: needs a floating x and an integer exponent, got {describe([x, exponent])}")
    return Spec(broadcast_shapes("ldexp", (x, exponent)), x.dtype)


def _ldexp_forward(xp, x, exponent):
    if exponent.dtype == xp.uint64:  # (NumPy's ldexp takes no uint64; past 2**31 every result is 0 or inf)
        exponent = xp.minimum(exponent, 1 << 31).astype(xp.int64)
    return xp.ldexp(x, exponent).astype(x.dtype, copy=False)  # (bfloat16 has no loop of its own: float32's)


def _ldexp_rule(run, ctx, g):
    x, exponent = ctx.inputs  # d/dx x * 2**e = 2**e, exactly g's ldexp; the integer exponent has none
    return (unbroadcast_with(run, run(LDEXP, g, exponent), x.shape), None)


LDEXP = defop("ldexp", forward=_ldexp_forward, infer=_ldexp_infer, vjp=vjp_rule(_ldexp_rule),
              cost=elementwise_cost(1), onnx=NO_ONNX, elementwise=True, fusion=NOT_FUSIBLE)


# --- primitives' functions --------------------------------------------------------------------------------------


def tan(x) -> TensorLike:
    """Elementwise tangent (integers as the default float dtype).

    >>> ember.tan(ember.tensor([0.7853982]))  # 1
    """
    return dispatch.apply(TAN, (to_inexact(x),))


def frexp(x) -> FrexpResult:
    """Elementwise mantissa and exponent, ``x = mantissa * 2**exponent`` (float inputs); the exponent is int32
    and the mantissa has the gradient 2**-exponent, as in PyTorch.

    >>> ember.frexp(ember.tensor([8.0]))  # mantissa 0.5, exponent 4
    """
    x = as_tensor(x)
    if x.dtype not in FLOATING:
        raise TypeError(f"frexp: only supports floating-point dtypes, got {describe([Spec(x.shape, x.dtype)])}")
    return FrexpResult(dispatch.apply(FREXP, (x,), {"part": "mantissa"}),
                       dispatch.apply(FREXP, (x,), {"part": "exponent"}))


def _real_pair(name: str, a, b) -> tuple:
    """The promoted operands of an op that orders them, refused when complex (as PyTorch refuses them)."""
    a, b = promote(a, b)
    if a.dtype in COMPLEX:
        refuse_complex(name, [a, b])
    return a, b


def fmax(a, b) -> TensorLike:
    """Elementwise maximum where a NaN loses to a number (NaN only when both are), with broadcasting.

    >>> ember.fmax(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))  # 1, 2
    """
    return dispatch.apply(FMAX, _real_pair("fmax", a, b))


def fmin(a, b) -> TensorLike:
    """Elementwise minimum where a NaN loses to a number (NaN only when both are), with broadcasting.

    >>> ember.fmin(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))  # 1, 2
    """
    return dispatch.apply(FMIN, _real_pair("fmin", a, b))


def _shift_operands(name: str, a, b) -> tuple:
    """The promoted operands of a shift; two booleans are refused, as PyTorch refuses them (NumPy would shift
    them as int8 where a graph's shape rule refuses them)."""
    a, b = promote(a, b)
    if a.dtype == bool_:
        raise TypeError(f"{name}: needs integer tensors, got {describe([a, b])}")
    return a, b


def bitwise_left_shift(a, b) -> TensorLike:
    """Elementwise ``a << b`` of integers (a shift past the width gives 0).

    >>> ember.bitwise_left_shift(ember.tensor([1, 3]), 2)  # 4, 12
    """
    return dispatch.apply(LEFT_SHIFT, _shift_operands("bitwise_left_shift", a, b))


def bitwise_right_shift(a, b) -> TensorLike:
    """Elementwise arithmetic ``a >> b`` of integers (past the width: 0, or -1 for a negative ``a``).

    >>> ember.bitwise_right_shift(ember.tensor([-8, 8]), 2)  # -2, 2
    """
    return dispatch.apply(RIGHT_SHIFT, _shift_operands("bitwise_right_shift", a, b))


# --- PyTorch's other spellings of existing ops ---------------------------------------------------------------


def absolute(x) -> TensorLike:
    """``abs`` (PyTorch's alias)."""
    return abs(x)


def negative(x) -> TensorLike:
    """``neg`` (PyTorch's alias)."""
    return neg(x)


def positive(x) -> TensorLike:
    """``x`` itself, as ``+x``; refused for bool tensors, as in PyTorch."""
    x = as_tensor(x)
    if x.dtype == bool_:
        raise TypeError(f"positive: the + operator on a bool tensor is not supported (input: {describe([x])})")
    return x


def subtract(a, b, *, alpha=1) -> TensorLike:
    """``a - alpha * b`` with broadcasting (PyTorch's ``sub``; two bool tensors are refused).

    >>> ember.subtract(ember.tensor([5.0]), ember.tensor([1.0]), alpha=3)  # 2
    """
    _refuse_bool_subtraction("subtract", a, b)
    return sub(a, b, alpha=alpha)


def rsub(a, b, *, alpha=1) -> TensorLike:
    """``b - alpha * a`` (PyTorch's reversed subtraction).

    >>> ember.rsub(ember.tensor([1.0, 2.0]), 5.0, alpha=2)  # 3, 1
    """
    _refuse_bool_subtraction("rsub", a, b)
    return sub(b, a, alpha=alpha)


def _refuse_bool_subtraction(name: str, a, b) -> None:
    if getattr(a, "dtype", None) == bool_ and getattr(b, "dtype", None) == bool_:
        raise TypeError(f"{name}: subtraction of two bool tensors is not supported (as in PyTorch); use "
                        "logical_xor or ^ instead")


def multiply(a, b) -> TensorLike:
    """``mul`` (PyTorch's alias)."""
    return mul(a, b)


def divide(a, b, *, rounding_mode: str | None = None) -> TensorLike:
    """``div`` (PyTorch's alias): true division, or ``rounding_mode="trunc"`` / ``"floor"``."""
    return div(a, b, rounding_mode=rounding_mode)


def greater(a, b) -> TensorLike:
    """``gt`` (PyTorch's alias)."""
    return gt(a, b)


def greater_equal(a, b) -> TensorLike:
    """``ge`` (PyTorch's alias)."""
    return ge(a, b)


def less(a, b) -> TensorLike:
    """``lt`` (PyTorch's alias)."""
    return lt(a, b)


def less_equal(a, b) -> TensorLike:
    """``le`` (PyTorch's alias)."""
    return le(a, b)


def not_equal(a, b) -> TensorLike:
    """``ne`` (PyTorch's alias)."""
    return ne(a, b)


def fix(x) -> TensorLike:
    """``trunc`` (PyTorch's alias): round toward zero, integers unchanged."""
    return trunc(x)


def sgn(x) -> TensorLike:
    """``sign`` extended to complex numbers, as PyTorch's: z / |z| (0 at 0) for a complex tensor.

    >>> ember.sgn(ember.tensor([-2.0, 0.0, float("nan")]))  # -1, 0, 0
    """
    x = as_tensor(x)
    return complex_sgn(x) if x.dtype in COMPLEX else sign(x)


def bitwise_not(x) -> TensorLike:
    """Elementwise ``~x`` of integer or bool tensors (``invert``).

    >>> ember.bitwise_not(ember.tensor([0, 5]))  # -1, -6
    """
    x = as_tensor(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"bitwise_not: needs integer or bool tensors, got {describe([x])}")
    return invert(x)


def signbit(x) -> TensorLike:
    """Elementwise: whether the sign bit is set (True for -0.0 and a negative NaN), a bool tensor.

    >>> ember.signbit(ember.tensor([-0.0, 0.0, -2.0]))  # True, False, True
    """
    x = as_tensor(x)
    if x.dtype in FLOATING:
        return lt(copysign(_np.float64(1.0).astype(x.dtype), x), 0)
    return lt(x, 0) if x.dtype != bool_ else ne(x, x)


def ldexp(x, other) -> TensorLike:
    """Elementwise ``x * 2**other``, in the operands' promoted float dtype (integers as the default float); a
    floating ``x`` by integer exponents is scaled exactly, rounded once (past 2**e's own range, as PyTorch's).

    >>> ember.ldexp(ember.tensor([1.0]), ember.tensor([3]))  # 8
    """
    if isinstance(x, TensorLike) and x.dtype in FLOATING:
        exponent = as_tensor(other, x)
        if exponent.dtype.kind in "iu":
            return dispatch.apply(LDEXP, (x, exponent))
    x, other = promote(x, other)
    broadcast_shapes("ldexp", [Spec(x.shape, x.dtype), Spec(other.shape, other.dtype)])  # (names ldexp, not mul)
    if x.dtype in COMPLEX:
        return mul(x, power(2.0, other))
    dtype = x.dtype if x.dtype in FLOATING else _dtypes.DEFAULT_FLOAT  # (read now: set_default_dtype moves it)
    return mul(cast(x, dtype) if x.dtype != dtype else x, exp2(cast(other, dtype) if other.dtype != dtype else other))


def isposinf(x) -> TensorLike:
    """Elementwise ``x == +inf`` (False for integers).

    >>> ember.isposinf(ember.tensor([float("inf"), -float("inf"), 1.0]))  # True, False, False
    """
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("isposinf", [x])
    return eq(x, _np.inf) if x.dtype in FLOATING else ne(x, x)


def isneginf(x) -> TensorLike:
    """Elementwise ``x == -inf`` (False for integers).

    >>> ember.isneginf(ember.tensor([float("inf"), -float("inf"), 1.0]))  # False, True, False
    """
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("isneginf", [x])
    return eq(x, -_np.inf) if x.dtype in FLOATING else ne(x, x)


def isreal(x) -> TensorLike:
    """Elementwise: whether the imaginary part is 0, True everywhere for a real tensor (NaN too)."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        return eq(imag(x), 0.0)
    return bitwise_or(eq(x, x), ne(x, x))


# --- tests on a tensor's type and size -------------------------------------------------------------------------


def is_tensor(obj) -> bool:
    """Whether ``obj`` is an Ember tensor (or a graph value standing for one)."""
    return isinstance(obj, TensorLike)


def is_floating_point(x) -> bool:
    """Whether the tensor's dtype is a floating-point one."""
    return as_tensor(x).dtype in FLOATING


def is_complex(x) -> bool:
    """Whether the tensor's dtype is complex (complex64 or complex128)."""
    return as_tensor(x).dtype in COMPLEX


def is_signed(x) -> bool:
    """Whether the tensor's dtype holds negative numbers (not uint8 nor bool)."""
    return as_tensor(x).dtype.kind not in "ub"


def is_nonzero(x) -> bool:
    """Whether a one-element tensor's value is non-zero; other sizes raise, as in PyTorch."""
    x = as_tensor(x)
    size = int(_np.prod(x.shape))
    if size != 1:
        raise RuntimeError(f"is_nonzero: a tensor with {size} elements (shape {list(x.shape)}) has no single "
                           "truth value; only one-element tensors do")
    return bool(x.array.reshape(()).item() != 0)


def is_same_size(a, b) -> bool:
    """Whether two tensors have the same shape."""
    return tuple(as_tensor(a).shape) == tuple(as_tensor(b).shape)


def numel(x) -> int:
    """The number of elements."""
    return int(_np.prod(as_tensor(x).shape, dtype=_np.int64))

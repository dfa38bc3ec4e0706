"""Reductions over axes: sum, prod, max, min, argmax, argmin, any, all as primitives; mean, nanmean, var, std,
aminmax and logsumexp as compositions of them; the running sums and products (cumsum, cumprod)."""

from __future__ import annotations

import math
import warnings
from collections import namedtuple

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, bool_, complex64, complex128, float32, float64, int64
from ember.ops import dispatch, lowering
from ember.ops.autocast import FLOAT32
from ember.ops.complex_parts import CONJ, Conjugated, conj, real
from ember.ops.convert import CAST, as_tensor, cast, to_float, to_inexact
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import BITWISE_AND, BITWISE_OR, DIV, EQ, GT, MUL, NE, WHERE, _scalar, exp, log, sqrt, where
from ember.ops.infer import (
    as_int,
    check_axis,
    elementwise_cost,
    normalize_axis,
    reduced_shape,
    reduction_cost,
    refuse_complex,
)
from ember.ops.kernels import max_last, sum_first
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, REGISTRY, Cost, Spec, defop, shape_error
from ember.ops.shape import BROADCAST_LIKE, BROADCAST_TO, RESHAPE, reshape, reshape_with


def _reduce_infer(name, out_dtype=None):
    def infer(x, *, axis, keepdims):
        axes = normalize_axis(name, axis, x.ndim, [x])
        dtype = out_dtype(x.dtype) if out_dtype else x.dtype
        return Spec(reduced_shape(tuple(x.shape), axes, keepdims), dtype)

    return infer


def _sum_dtype(dtype):
    return dtype if dtype in FLOATING or dtype in COMPLEX else int64


def _keepdims_shape(ctx) -> tuple:
    x = ctx.inputs[0]
    axes = normalize_axis("reduce", ctx.attrs["axis"], x.ndim)
    return reduced_shape(tuple(x.shape), axes, True)


def _sum_rule(run, ctx, g):
    shape, keep = tuple(ctx.inputs[0].shape), _keepdims_shape(ctx)
    g = g if g.shape == keep else run(RESHAPE, g, shape=keep)
    if g.shape == shape:
        return (g,)
    if None in shape:  # unknown sizes (a graph for every batch size): read them from x when run
        return (run(BROADCAST_LIKE, g, ctx.inputs[0]),)
    return (run(BROADCAST_TO, g, shape=shape),)


def _prod_rule(run, ctx, g):
    # Zero-safe: the gradient of each element is the product of the others.
    x, axis = ctx.inputs[0], ctx.attrs["axis"]
    g = reshape_with(run, g, _keepdims_shape(ctx))
    one, zero = _scalar(run, x, 1.0), _scalar(run, x, 0.0)
    is_zero = run(EQ, x, zero)
    ones_for_zeros = run(WHERE, is_zero, one, x)
    nonzero_prod = run(PROD, ones_for_zeros, axis=axis, keepdims=True)
    zeros = run(SUM, run(CAST, is_zero, dtype=int64), axis=axis, keepdims=True)
    # at a zero with one other zero the product of the others is that zero times the nonzero product: 0, with the
    # derivative (the nonzero product) that a Hessian needs; the other zero is the sum of the zeros less this one
    other_zero = run(SUM, run(WHERE, is_zero, x, zero), axis=axis, keepdims=True) - x
    at_zero = run(WHERE, run(EQ, zeros, _scalar(run, zeros, 1)), nonzero_prod,
                  run(WHERE, run(EQ, zeros, _scalar(run, zeros, 2)), other_zero * nonzero_prod, zero))
    # prod(x) / x rather than a where on the zero count: equal in value, and its own gradient is right
    # when another element is zero (so grad-of-grad holds with one zero).
    elsewhere = run(DIV, run(PROD, x, axis=axis, keepdims=True), ones_for_zeros)
    others = run(WHERE, is_zero, at_zero, elsewhere)
    return (g * (run(CONJ, others) if others.dtype in COMPLEX else others),)  # PyTorch's complex gradient


def _extremum_rule(run, ctx, g):
    # Ties share the gradient evenly (like PyTorch's amax/amin). Of all elements (axis None: PyTorch's max() and
    # min()) a NaN result's gradient is shared by the NaNs; along axes (amax) equality finds none, and it is NaN.
    x = ctx.inputs[0]
    keep = _keepdims_shape(ctx)
    out = reshape_with(run, ctx.output, keep)
    hit = run(EQ, x, out)
    if ctx.attrs["axis"] is None and x.dtype in FLOATING:
        hit = run(BITWISE_OR, hit, run(BITWISE_AND, run(NE, x, x), run(NE, out, out)))
    hit = run(CAST, hit, dtype=x.dtype)
    count = run(SUM, hit, axis=ctx.attrs["axis"], keepdims=True)
    return (hit * run(DIV, reshape_with(run, g, keep), count),)


def _reduction(name, forward, vjp, onnx, out_dtype=None, saves_output=False, **traits):
    return defop(
        name,
        forward=forward,
        infer=_reduce_infer(name, out_dtype),
        vjp=vjp,
        cost=reduction_cost,
        onnx=onnx,
        saves_output=saves_output,
        **traits,
    )


def _sum_forward(xp, x, *, axis, keepdims):
    if x.dtype not in FLOATING:
        return x.sum(axis=axis, keepdims=keepdims).astype(_sum_dtype(x.dtype))
    return sum_first(xp, x, axis, keepdims)


def _sum_simplify(node, facts) -> None:
    x, out = node.inputs[0].array, node.outputs[0].array
    # summing over axes of length 1 only drops them: a reshape (an unknown size may be any length)
    if x.size is not None and x.size == out.size and x.dtype == out.dtype:
        node.op, node.attrs = REGISTRY["reshape"], {"shape": tuple(out.shape)}


SUM = _reduction("sum", _sum_forward, vjp_rule(_sum_rule), "ReduceSum", _sum_dtype, lower=lowering.sum, writes_out=True,
                 in_place=False, fresh=True, scalar_alias=True, simplify=_sum_simplify,
                 autocast=FLOAT32, vjp_reads=())
PROD = _reduction("prod", lambda xp, x, *, axis, keepdims: x.prod(axis=axis, keepdims=keepdims).astype(
    _sum_dtype(x.dtype)), vjp_rule(_prod_rule), "ReduceProd", _sum_dtype, autocast=FLOAT32)
MAX = _reduction("max", lambda xp, x, *, axis, keepdims: max_last(xp, x, axis, keepdims), vjp_rule(_extremum_rule),
                 "ReduceMax", saves_output=True, fresh=True)
MIN = _reduction("min", lambda xp, x, *, axis, keepdims: x.min(axis=axis, keepdims=keepdims), vjp_rule(_extremum_rule),
                 "ReduceMin", saves_output=True, fresh=True)
ANY = _reduction("any", lambda xp, x, *, axis, keepdims: x.any(axis=axis, keepdims=keepdims), NON_DIFFERENTIABLE,
                 NO_ONNX, lambda d: bool_)
ALL = _reduction("all", lambda xp, x, *, axis, keepdims: x.all(axis=axis, keepdims=keepdims), NON_DIFFERENTIABLE,
                 NO_ONNX, lambda d: bool_)


def _arg_infer(name):
    def infer(x, *, axis, keepdims):
        if axis is None:
            return Spec((1,) * x.ndim if keepdims else (), int64)
        axes = (check_axis(name, axis, x.ndim, [x]),)
        return Spec(reduced_shape(tuple(x.shape), axes, keepdims), int64)

    return infer


def _arg_forward(fn):
    def forward(xp, x, *, axis, keepdims):
        return getattr(xp, fn)(x, axis=axis, keepdims=keepdims).astype(int64)

    return forward


ARGMAX = defop("argmax", forward=_arg_forward("argmax"), infer=_arg_infer("argmax"), vjp=NON_DIFFERENTIABLE,
               cost=reduction_cost, onnx="ArgMax")
ARGMIN = defop("argmin", forward=_arg_forward("argmin"), infer=_arg_infer("argmin"), vjp=NON_DIFFERENTIABLE,
               cost=reduction_cost, onnx="ArgMin")


def _attrs(name, x: TensorLike, axis, keepdims) -> dict:
    if axis.__class__ is int and -x.array.ndim <= axis < x.array.ndim:  # the common case, checked cheaply
        return {"axis": axis % x.array.ndim, "keepdims": bool(keepdims)}
    if axis is not None:
        axes = normalize_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])
        axis = axes if len(axes) != 1 else axes[0]
    return {"axis": axis, "keepdims": bool(keepdims)}


def sum(x, axis=None, keepdims: bool = False, *, dtype=None) -> TensorLike:
    """Sum over ``axis`` (an int, a tuple, or None for all axes), of x cast to ``dtype`` first when given."""
    x = as_tensor(x) if dtype is None else cast(as_tensor(x), dtype)
    return _kept(dispatch.apply(SUM, (x,), _attrs("sum", x, axis, keepdims)), x, dtype)


def _kept(result: TensorLike, x: TensorLike, dtype) -> TensorLike:
    """``result`` in x's dtype where ``dtype`` was given: PyTorch sums and multiplies in a requested integer
    dtype (wrapping as it), where without one integers widen to int64."""
    return result if dtype is None or result.dtype == x.dtype else cast(result, x.dtype)


def nansum(x, axis=None, keepdims: bool = False, *, dtype=None) -> TensorLike:
    """``sum`` counting NaNs as zero (they get no gradient)."""
    x = as_tensor(x) if dtype is None else cast(as_tensor(x), dtype)
    if x.dtype in COMPLEX:
        refuse_complex("nansum", [x])
    if x.dtype in FLOATING:
        x = where(x != x, 0.0, x)  # (only NaN differs from itself)
    return _kept(sum(x, axis, keepdims), x, dtype)


def prod(x, axis=None, keepdims: bool = False, *, dtype=None) -> TensorLike:
    """Product over ``axis``, of x cast to ``dtype`` first when given; the gradient is exact even where elements
    are zero."""
    x = as_tensor(x) if dtype is None else cast(as_tensor(x), dtype)
    return _kept(dispatch.apply(PROD, (x,), _attrs("prod", x, axis, keepdims)), x, dtype)


def _check_nonempty(name, x, axis):
    # (size is None, not 0, when a graph dimension is unknown); an empty tensor reduces over its other axes
    if x.array.size == 0 and _count(x, axis, name) == 0:
        raise ValueError(f"{name}: the reduction of an empty tensor of shape {list(x.shape)} over axis {axis} has "
                         "no identity")


def max(x, axis=None, keepdims: bool = False) -> TensorLike:
    """Largest value over ``axis`` (ties share the gradient)."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("max", [x])
    _check_nonempty("max", x, axis)
    return dispatch.apply(MAX, (x,), _attrs("max", x, axis, keepdims))


def min(x, axis=None, keepdims: bool = False) -> TensorLike:
    """Smallest value over ``axis`` (ties share the gradient)."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("min", [x])
    _check_nonempty("min", x, axis)
    return dispatch.apply(MIN, (x,), _attrs("min", x, axis, keepdims))


def amax(x, axis=None, keepdims: bool = False) -> TensorLike:
    """``max`` over ``axis`` (None: every axis) as PyTorch's ``amax``: ties share the gradient, and a NaN maximum
    gives its elements a NaN gradient, where ``max`` of all elements shares it among the NaNs."""
    x = as_tensor(x)
    return max(x, tuple(range(x.ndim)) if axis is None else axis, keepdims)


def amin(x, axis=None, keepdims: bool = False) -> TensorLike:
    """``min`` over ``axis`` (None: every axis) as PyTorch's ``amin`` (see ``amax``)."""
    x = as_tensor(x)
    return min(x, tuple(range(x.ndim)) if axis is None else axis, keepdims)


AminmaxResult = namedtuple("aminmax", ["min", "max"])  # like torch.return_types.aminmax


def aminmax(x, *, axis: int | None = None, keepdims: bool = False) -> AminmaxResult:
    """``(min, max)`` of all elements or along ``axis``, as PyTorch's ``aminmax(dim=None, keepdim=False)``;
    ties share each one's gradient, as ``amin``'s and ``amax``'s."""
    x = as_tensor(x)
    _check_nonempty("aminmax", x, axis)
    return AminmaxResult(amin(x, axis, keepdims), amax(x, axis, keepdims))


def any(x, axis=None, keepdims: bool = False) -> TensorLike:
    """Whether any element over ``axis`` is true (non-zero); uint8 for a uint8 ``x``, as PyTorch."""
    x = as_tensor(x)
    return _as_uint8_of(x, dispatch.apply(ANY, (x,), _attrs("any", x, axis, keepdims)))


def all(x, axis=None, keepdims: bool = False) -> TensorLike:
    """Whether every element over ``axis`` is true (non-zero); uint8 for a uint8 ``x``, as PyTorch."""
    x = as_tensor(x)
    return _as_uint8_of(x, dispatch.apply(ALL, (x,), _attrs("all", x, axis, keepdims)))


def _as_uint8_of(x: TensorLike, result: TensorLike) -> TensorLike:
    """PyTorch's ``all``/``any`` keep a uint8 input's dtype (0 or 1); every other dtype gives bool."""
    return cast(result, x.dtype) if x.dtype == _UINT8 else result


_UINT8 = np.dtype(np.uint8)


def argmax(x, axis: int | None = None, keepdims: bool = False) -> TensorLike:
    """Index of the largest value along ``axis`` (of the flattened tensor when None), int64."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("argmax", [x])
    _check_nonempty("argmax", x, axis)
    if axis is not None:
        axis = check_axis("argmax", axis, x.ndim, [Spec(x.shape, x.dtype)])
    return dispatch.apply(ARGMAX, (x,), {"axis": axis, "keepdims": bool(keepdims)})


def argmin(x, axis: int | None = None, keepdims: bool = False) -> TensorLike:
    """Index of the smallest value along ``axis`` (of the flattened tensor when None), int64."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("argmin", [x])
    _check_nonempty("argmin", x, axis)
    if axis is not None:
        axis = check_axis("argmin", axis, x.ndim, [Spec(x.shape, x.dtype)])
    return dispatch.apply(ARGMIN, (x,), {"axis": axis, "keepdims": bool(keepdims)})


def _count(x: TensorLike, axis, name: str = "mean") -> int | None:
    """How many elements a reduction over ``axis`` combines; None when one of those axes is unknown (graph)."""
    axes = normalize_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])
    if not x.ndim:  # a 0-d tensor takes axis 0 and -1 (its one element), as in PyTorch
        return 1
    n = 1
    for a in axes:
        if x.shape[a] is None:
            return None
        n *= x.shape[a]
    return n


def reciprocal_count_value(shape, *, axes, ddof, dtype) -> float:
    """1 / (the number of elements over ``axes`` of ``shape``, less ``ddof``), as a Python float; inf for a variance
    with no degrees of freedom left (its result nan or inf, as eagerly: ``_divisor_scale``)."""
    n = 1
    for a in axes:
        n *= shape[a]
    if n - ddof <= 0:
        if ddof > 0:
            return math.inf
        raise ValueError(f"reciprocal_count: {n} elements over axes {list(axes)} of shape {list(shape)} are too "
                         f"few (ddof={ddof})")
    return 1.0 / (n - ddof)


def _reciprocal_count_infer(x, *, axes, ddof, dtype):
    if not isinstance(axes, tuple) or normalize_axis("reciprocal_count", axes, x.ndim, [x]) != axes:
        raise shape_error("reciprocal_count", [x], f"axes must be a sorted tuple of distinct axes, got {axes!r}")
    as_int("reciprocal_count", ddof, "ddof", [x])
    if None not in x.shape:
        reciprocal_count_value(x.shape, axes=axes, ddof=ddof, dtype=dtype)  # refuses too few elements
    return Spec((), dtype)


RECIPROCAL_COUNT = defop(
    "reciprocal_count",
    forward=lambda xp, x, *, axes, ddof, dtype: xp.asarray(reciprocal_count_value(x.shape, axes=axes, ddof=ddof,
                                                                                  dtype=dtype), dtype),
    infer=lambda x, *, axes, ddof, dtype: _reciprocal_count_infer(x, axes=axes, ddof=ddof, dtype=dtype),
    vjp=NON_DIFFERENTIABLE,
    cost=lambda out, x, **attrs: Cost(0, out.nbytes),
    onnx=NO_ONNX,
)


def reciprocal_count(x, axis=None, ddof: int = 0) -> TensorLike:
    """1 / (the number of elements over ``axis``, less ``ddof``), a 0-d tensor of x's float dtype, read from
    x's shape when it runs: what a mean over an unknown graph dimension multiplies by."""
    x = to_inexact(x)
    axes = normalize_axis("reciprocal_count", axis, x.ndim, [Spec(x.shape, x.dtype)])
    return dispatch.apply(RECIPROCAL_COUNT, (x,), {"axes": axes, "ddof": int(ddof), "dtype": x.dtype})


def _scale(x: TensorLike, axis, n: int | None, ddof: int = 0):
    """The factor 1 / (n - ddof) a mean or variance multiplies by: a Python float, or, over an unknown
    dimension, a ``reciprocal_count`` node that becomes that float when the graph is specialized."""
    return 1.0 / (n - ddof) if n is not None else reciprocal_count(x, axis, ddof)


def _in_float32(fn, x: TensorLike, *args) -> TensorLike:
    """``fn(x, *args)`` computed in float32 and rounded once to x's float16/bfloat16 dtype (as PyTorch
    reduces them): summed in their own precision, 4,096 values of 0.1 lose 84% and 100,000 float16 ones
    overflow."""
    return cast(fn(cast(x, float32), *args), x.dtype)


def mean(x, axis=None, keepdims: bool = False, *, dtype=None) -> TensorLike:
    """Arithmetic mean over ``axis``, of x cast to ``dtype`` (floating or complex) first when given; integers
    average as floats."""
    if dtype is not None:
        x = cast(as_tensor(x), dtype)
        if x.dtype not in FLOATING and x.dtype not in COMPLEX:  # (PyTorch refuses it too; it is no mean's dtype)
            raise TypeError(f"mean: dtype must be a floating point or complex dtype, got {x.dtype}")
    x = to_inexact(x)
    if x.dtype in LOW_PRECISION:
        return _in_float32(mean, x, axis, keepdims)
    n = _count(x, axis)
    if n == 0:  # nan, as PyTorch's mean of no elements (their sum, 0, times nan)
        return sum(x, axis, keepdims) * math.nan
    return sum(x, axis, keepdims) * _scale(x, axis, n)


def nanmean(x, axis=None, keepdims: bool = False, *, dtype=None) -> TensorLike:
    """``mean`` of the elements that are not NaN (NaN where all are); NaNs get no gradient."""
    x = as_tensor(x) if dtype is None else cast(as_tensor(x), dtype)
    if x.dtype not in FLOATING:
        raise TypeError(f"nanmean: needs a floating point tensor, got {x.dtype}")
    if x.dtype in LOW_PRECISION:
        return _in_float32(nanmean, x, axis, keepdims)
    present = cast(x == x, x.dtype)  # (only NaN differs from itself)
    return nansum(x, axis, keepdims) / sum(present, axis, keepdims)


def _ddof(name: str, ddof: int | None, unbiased: bool | None, correction: int | None) -> int:
    """One of NumPy's ``ddof`` and PyTorch's ``unbiased``/``correction`` as the count subtracted from n; none
    given: 1, PyTorch's default (the unbiased estimate)."""
    given = [what for what, value in (("ddof", ddof), ("unbiased", unbiased), ("correction", correction))
             if value is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: give one of ddof=, unbiased= and correction=, got {' and '.join(given)}")
    if unbiased is not None:
        return int(bool(unbiased))
    if ddof is not None:
        return as_int(name, ddof, "ddof")
    return as_int(name, correction, "correction") if correction is not None else 1


def _bool_axis(axis, unbiased):
    """PyTorch's ``var(x, unbiased)`` form: a bool where the axis goes is ``unbiased`` over every element."""
    if axis.__class__ is bool:
        if unbiased is not None:
            raise TypeError(f"var/std: got unbiased twice ({axis} by position and unbiased={unbiased})")
        return None, axis
    return axis, unbiased


def _divisor_scale(name: str, x: TensorLike, axis, ddof: int):
    """``_scale`` of a variance: 1 / max(n - ddof, 0), as PyTorch, which warns when n - ddof <= 0 (the result
    is then nan, or inf where the values differ)."""
    n = _count(x, axis, name)
    if n is not None and n - ddof <= 0:
        warnings.warn(f"{name}: degrees of freedom <= 0 ({n} elements over axis {axis}, correction {ddof}); "
                      "the result is nan or inf", RuntimeWarning, stacklevel=4)
        return math.inf  # 0 * inf: nan where every value equals the mean
    return _scale(x, axis, n, ddof)


def var(x, axis=None, unbiased: bool | None = None, keepdims: bool = False, *, ddof: int | None = None,
        correction: int | None = None) -> TensorLike:
    """Variance over ``axis``, unbiased by default (``correction=1``, as PyTorch; a bool in ``axis``'s place is
    PyTorch's ``unbiased``). ``ddof=`` (NumPy), ``unbiased=`` or ``correction=`` sets the count subtracted from
    the number of elements: ``ddof=0`` is the population variance. A complex ``x`` gives the real variance of
    its distances from the mean (that of its real parts plus that of its imaginary parts), as PyTorch's."""
    axis, unbiased = _bool_axis(axis, unbiased)
    ddof = _ddof("var", ddof, unbiased, correction)
    x = _real_or_complex(x)
    if x.dtype in LOW_PRECISION:
        return _in_float32(_var, x, axis, keepdims, ddof)
    return _var(x, axis, keepdims, ddof)


def _real_or_complex(x) -> TensorLike:
    """``x`` as a floating or complex Tensor (integers and bools as the default float dtype)."""
    x = as_tensor(x)
    return x if x.dtype in COMPLEX else to_float(x)


def _var(x: TensorLike, axis, keepdims: bool, ddof: int, name: str = "var") -> TensorLike:
    scale = _divisor_scale(name, x, axis, ddof)
    centred = x - mean(x, axis, keepdims=True)
    squares = real(centred * conj(centred)) if x.dtype in COMPLEX else centred * centred
    total = sum(squares, axis, keepdims)
    if x.dtype == float32:
        # less the square of the centred values' sum over n (0 but for the float32 mean's rounding, which each
        # square would carry: rows of 1e5 + 0.1 randn had their std 1.2% high; PyTorch sums in double)
        drift = sum(centred, axis, keepdims)
        n = _count(x, axis, name)
        total = total - drift * drift * (1.0 / n) if n else total
    return total * scale


def std(x, axis=None, unbiased: bool | None = None, keepdims: bool = False, *, ddof: int | None = None,
        correction: int | None = None) -> TensorLike:
    """Standard deviation over ``axis``, unbiased by default (see ``var`` for ``ddof``, ``unbiased`` and
    ``correction``). Its gradient where the values are all equal is 0, as in PyTorch (not the 0 * inf of
    sqrt's at 0). A complex ``x`` gives a real result, as ``var``'s."""
    axis, unbiased = _bool_axis(axis, unbiased)
    ddof = _ddof("std", ddof, unbiased, correction)
    x = _real_or_complex(x)
    if x.dtype in LOW_PRECISION:
        return _in_float32(_std, x, axis, keepdims, ddof)
    return _std(x, axis, keepdims, ddof)


def _std(x: TensorLike, axis, keepdims: bool, ddof: int) -> TensorLike:
    variance = _var(x, axis, keepdims, ddof, "std")
    # sqrt of 1 where the variance is 0: its gradient there is finite, and where() sends it none (the test is
    # == 0, not > 0, which a NaN variance fails: it stays NaN)
    flat = variance == 0
    return where(flat, 0.0, sqrt(where(flat, 1.0, variance)))


def logsumexp(x, axis=None, keepdims: bool = False) -> TensorLike:
    """log(sum(exp(x))) over ``axis``, computed without overflow; a complex ``x`` is shifted by the largest real part,
    as PyTorch's, and its log is the principal one."""
    x = to_inexact(x)
    if x.dtype in LOW_PRECISION:
        return _in_float32(logsumexp, x, axis, keepdims)
    if axis is not None and axis.__class__ is not int:
        axis = normalize_axis("logsumexp", axis, x.ndim, [Spec(x.shape, x.dtype)])
        axis = axis if x.ndim else None  # NumPy's max takes no axis tuple on a 0-d array
    if isinstance(x, TensorLike) and x.symbolic:  # a graph value: the shift is a node too (its gradient is 0)
        shift = max(real(x) if x.dtype in COMPLEX else x, axis, keepdims=True)
        shift = where(shift * 0.0 == 0.0, shift, 0.0)  # x * 0 is 0 when x is finite, nan otherwise
    else:
        xp = x.xp
        parts = x.array.real if x.dtype in COMPLEX else x.array  # (NumPy's max of complex numbers is lexicographic)
        shift = parts.max(axis=axis, keepdims=True) if x.array.size else xp.zeros((1,) * x.ndim, parts.dtype)
        shift = dispatch.wrap(xp.where(xp.isfinite(shift), shift, 0).astype(parts.dtype))
    out = log(sum(exp(x - shift), axis, keepdims=True)) + shift
    if keepdims:
        return out
    axes = normalize_axis("logsumexp", axis, x.ndim, [Spec(x.shape, x.dtype)])
    return reshape(out, reduced_shape(tuple(x.shape), axes, False))


# --- running sums and products ----------------------------------------------------------------------------


def _scan_infer(name):
    def infer(x, *, axis, **attrs):
        check_axis(name, axis, x.ndim, [x])
        return Spec(tuple(x.shape), _sum_dtype(x.dtype))

    return infer


def _scan_dtype(xp, dtype):
    """The dtype a running sum or product accumulates in, as PyTorch's: float16 and bfloat16 in float32 (a float16
    running sum of ones stops at 2048), and on the CPU float32 and complex64 in double precision, as its CPU
    kernels (a float32 running sum of a million numbers in [0, 1) drifted 12 from theirs)."""
    if dtype in LOW_PRECISION:
        return float32
    if xp is np and dtype in (float32, complex64):
        return float64 if dtype == float32 else complex128
    return _sum_dtype(dtype)


def _scanned(x, out):
    """A running op's result ``out`` (in ``_scan_dtype``) rounded once to its result dtype."""
    wanted = _sum_dtype(x.dtype)
    return out if out.dtype == wanted else out.astype(wanted)


def _cumsum_forward(xp, x, *, axis, reverse):
    wide = _scan_dtype(xp, x.dtype)
    if reverse:  # from the end: what the gradient of a running sum is
        out = xp.ascontiguousarray(xp.flip(xp.cumsum(xp.flip(x, axis), axis, dtype=wide), axis))
    else:
        out = xp.cumsum(x, axis, dtype=wide)
    return _scanned(x, out)


CUMSUM = defop("cumsum", forward=_cumsum_forward, infer=_scan_infer("cumsum"),
               vjp=vjp_rule(lambda run, ctx, g: (run(CUMSUM, g, axis=ctx.attrs["axis"],
                                                     reverse=not ctx.attrs["reverse"]),)),
               cost=elementwise_cost(1), onnx=NO_ONNX)


def _cumprod_rule(run, ctx, g):
    # Zero-safe: before a row's first zero the gradient is (the reversed running sum of g * out) / x; at the
    # first zero it is that sum of g times the products with this zero left out; after it, the value of the first
    # zero (0) times the same gradient for x with that zero set to 1. That product is 0, but its derivative with
    # respect to the first zero is not: so the gradient's own gradient (a Hessian) holds with zeros.
    if g.dtype in COMPLEX:  # PyTorch's complex gradient: the same sums of conjugates
        ctx = Conjugated(run, ctx, with_output=True)
    x, out, axis = ctx.inputs[0], ctx.output, ctx.attrs["axis"]
    one, zero = _scalar(run, x, 1.0), _scalar(run, x, 0.0)
    is_zero = run(CAST, run(EQ, x, zero), dtype=int64)
    zeros_so_far = run(CUMSUM, is_zero, axis=axis, reverse=False)
    first = run(EQ, run(MUL, is_zero, zeros_so_far), _scalar(run, zeros_so_far, 1))
    without_first_x = run(WHERE, first, one, x)
    without_first = run(CUMPROD, without_first_x, axis=axis)
    before_and_at = _cumprod_grad_to_first_zero(run, x, out, g, axis, zeros_so_far, first, without_first)
    rest_x = _cumprod_grad_to_first_zero(run, without_first_x, without_first, g, axis, None, None, None)
    first_value = run(SUM, run(WHERE, first, x, zero), axis=axis, keepdims=True)
    after = run(GT, zeros_so_far - is_zero, _scalar(run, zeros_so_far, 0))  # (a zero before this place)
    return (run(WHERE, after, first_value * rest_x, before_and_at),)


def _cumprod_grad_to_first_zero(run, x, out, g, axis: int, zeros_so_far, first, without_first):
    """cumprod's gradient up to and at each row's first zero of ``x`` (0 after it); the zero counts, the first
    zero and the products with it left out are computed here when not given."""
    one, zero = _scalar(run, x, 1.0), _scalar(run, x, 0.0)
    if zeros_so_far is None:
        is_zero = run(CAST, run(EQ, x, zero), dtype=int64)
        zeros_so_far = run(CUMSUM, is_zero, axis=axis, reverse=False)
        first = run(EQ, run(MUL, is_zero, zeros_so_far), _scalar(run, zeros_so_far, 1))
        without_first = run(CUMPROD, run(WHERE, first, one, x), axis=axis)
    before = run(EQ, zeros_so_far, _scalar(run, zeros_so_far, 0))
    safe = run(WHERE, before, x, one)
    before_first = run(DIV, run(CUMSUM, g * out, axis=axis, reverse=True), safe)
    at_first = run(CUMSUM, g * without_first, axis=axis, reverse=True)
    return run(WHERE, before, before_first, run(WHERE, first, at_first, zero))


def _cumprod_forward(xp, x, *, axis):
    return _scanned(x, xp.cumprod(x, axis, dtype=_scan_dtype(xp, x.dtype)))


CUMPROD = defop("cumprod", forward=_cumprod_forward,
                infer=_scan_infer("cumprod"), vjp=vjp_rule(_cumprod_rule), cost=elementwise_cost(1), onnx=NO_ONNX,
                saves_output=True)


def _scan(op, name: str, x, axis, dtype) -> TensorLike:
    x = as_tensor(x) if dtype is None else cast(as_tensor(x), dtype)
    if axis is None:
        raise TypeError(f"{name}: give the dimension to run along (dim=), for the tensor of shape {list(x.shape)}")
    if x.ndim == 0:  # PyTorch takes dim 0 or -1 of a 0-d tensor: its one element
        check_axis(name, axis, 1, [Spec(x.shape, x.dtype)])
        return reshape(_scan(op, name, reshape(x, (1,)), 0, None), ())
    attrs = {"axis": check_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])}
    if op is CUMSUM:
        attrs["reverse"] = False
    return _kept(dispatch.apply(op, (x,), attrs), x, dtype)


def cumsum(x, axis: int | None = None, *, dtype=None) -> TensorLike:
    """Running sums along ``axis`` (PyTorch's ``cumsum(x, dim)``); bools and integers sum as int64, and
    ``dtype`` casts x first."""
    return _scan(CUMSUM, "cumsum", x, axis, dtype)


def cumprod(x, axis: int | None = None, *, dtype=None) -> TensorLike:
    """Running products along ``axis`` (PyTorch's ``cumprod(x, dim)``), with an exact gradient where elements
    are zero; bools and integers multiply as int64, and ``dtype`` casts x first."""
    return _scan(CUMPROD, "cumprod", x, axis, dtype)

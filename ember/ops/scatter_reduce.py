"""PyTorch's ``scatter_reduce`` and ``index_reduce``: one primitive for the reductions ``scatter_add`` cannot
express (``prod``, ``amax``, ``amin``), and ``sum``/``mean`` composed from ``scatter_add``.

Gradients follow PyTorch's rules: ``amax``/``amin`` split a position's gradient evenly among the members equal
to its result (the input's own element among them when ``include_self``); ``prod`` gives each member the
product of the others, zeros included (one zero in a group: only it gets a gradient; two or more: none)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, real_of
from ember.ops import dispatch
from ember.ops.complex_parts import real
from ember.ops.convert import as_tensor, cast, same_dtype
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import DIV, EQ, GT, MUL, WHERE, _scalar, div, gt, lt, true_divide, where
from ember.ops.indexing import (
    GATHER,
    GETITEM,
    PAD,
    SCATTER_ADD,
    _along_axis,
    _zeros_with,
    getitem,
    refuse_negative,
    scatter_add,
)
from ember.ops.infer import check_axis, differ, movement_cost, normalize_axis
from ember.ops.modes import vjp_rule
from ember.ops.registry import Spec, defop, shape_error
from ember.ops.shape import broadcast_to, reshape

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")
_UFUNCS = {"prod": "multiply", "amax": "maximum", "amin": "minimum"}


def reduction_identity(dtype: np.dtype, reduce: str):
    """The value a group starts from when the input's own element is left out."""
    if reduce == "prod":
        return 1
    if dtype == np.bool_:
        return reduce == "amin"
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min if reduce == "amax" else info.max
    return -np.inf if reduce == "amax" else np.inf


def _region(index_shape) -> tuple:
    return tuple(slice(0, d) for d in index_shape)


def reduce_at(xp, out, at: tuple, values, reduce: str) -> None:
    """``ufunc.at(out, at, values)`` for ``reduce``'s ufunc. NumPy has it; on other array modules (CuPy's ``at``
    covers few ufuncs) the members are applied in layers that name each position at most once, each position's
    members in index order, as NumPy applies them."""
    ufunc = getattr(xp, _UFUNCS[reduce])
    if xp is np:
        ufunc.at(out, at, values)
        return
    targets = xp.ravel_multi_index(tuple(xp.broadcast_arrays(*at)), out.shape).ravel()
    values = xp.broadcast_to(values, targets.shape if values.ndim == 0 else values.shape).ravel()
    order = xp.argsort(targets, kind="stable")
    ordered = targets[order]
    rank = xp.empty_like(order)
    rank[order] = xp.arange(ordered.size) - xp.searchsorted(ordered, ordered, side="left")
    flat = out.reshape(-1)
    for layer in range(int(rank.max()) + 1 if rank.size else 0):
        pick = rank == layer
        flat[targets[pick]] = ufunc(flat[targets[pick]], values[pick])


def _forward(xp, x, index, src, *, axis, reduce, include_self):
    out = x.copy()
    at = _along_axis(xp, index, axis)
    if not include_self:
        out[at] = reduction_identity(x.dtype, reduce)
    reduce_at(xp, out, at, src[_region(index.shape)], reduce)
    return out


def _check(x, index, src, axis) -> Spec:
    """scatter_add's shape rule, naming scatter_reduce: one rank for all three, an index no larger than the input
    outside ``axis`` and no larger than src anywhere, src of the input's dtype."""
    specs = [x, index, src]
    check_axis("scatter_reduce", axis, x.ndim, specs)
    if index.ndim != x.ndim or src.ndim != index.ndim:
        raise shape_error("scatter_reduce", specs, "index and src must have as many dimensions as the input")
    if any(d != axis and a is not None and b is not None and a > b
           for d, (a, b) in enumerate(zip(index.shape, x.shape))):
        raise shape_error("scatter_reduce", specs, f"index is larger than the input outside axis {axis}")
    if any(s is not None and i is not None and s < i for s, i in zip(src.shape, index.shape)):
        raise shape_error("scatter_reduce", specs, "src must cover the index")
    if src.dtype != x.dtype:
        raise shape_error("scatter_reduce", specs, "src must have the input's dtype")
    return Spec(tuple(x.shape), x.dtype)


def _infer(x, index, src, *, axis, reduce, include_self):
    if reduce not in _UFUNCS:
        raise shape_error("scatter_reduce", [x, index, src], f"reduce must be one of {sorted(_UFUNCS)}, got "
                          f"{reduce!r}")
    return _check(x, index, src, axis)


def _rule(run, ctx, g):
    x, index, src = ctx.inputs
    axis, reduce, include_self = ctx.attrs["axis"], ctx.attrs["reduce"], ctx.attrs["include_self"]
    if tuple(src.shape) != tuple(index.shape):
        src = run(GETITEM, src, index=_region(index.shape))
    ones = run(WHERE, run(EQ, index, index), _scalar(run, g, 1.0), _scalar(run, g, 0.0))
    hit = run(GT, run(SCATTER_ADD, _zeros_with(run, x, g), index, ones, axis=axis), _scalar(run, g, 0.0))
    one, zero = _scalar(run, g, 1.0), _scalar(run, g, 0.0)
    if reduce == "prod":
        gx, gsrc = _prod_grads(run, ctx, g, x, index, src, hit, one, zero)
    else:
        result = ctx.output
        src_hit = run(WHERE, run(EQ, src, run(GATHER, result, index, axis=axis)), one, zero)
        x_hit = run(WHERE, run(EQ, x, result), one, zero)
        if not include_self:
            x_hit = run(WHERE, hit, zero, one)
        count = run(SCATTER_ADD, x_hit, index, src_hit, axis=axis)  # the tied members at each position
        share = run(DIV, g, run(WHERE, run(GT, count, zero), count, one))
        gx = run(MUL, share, x_hit)
        gsrc = run(MUL, run(GATHER, share, index, axis=axis), src_hit)
    if gsrc is not None and tuple(gsrc.shape) != tuple(ctx.inputs[2].shape):
        gsrc = run(PAD, gsrc, pad_width=tuple((0, s - i) for s, i in zip(ctx.inputs[2].shape, index.shape)),
                   value=0.0)
    return (gx if ctx.needs[0] else None), None, (gsrc if ctx.needs[2] else None)


def _prod_grads(run, ctx, g, x, index, src, hit, one, zero):
    """Each member's gradient is the product of the other members of its group: the product of the group's
    non-zero members over the member itself where the group has no zero, that product for the one zero of a
    group with exactly one, else 0."""
    axis, include_self = ctx.attrs["axis"], ctx.attrs["include_self"]
    x_in = x if include_self else run(WHERE, hit, one, x)
    x_zero, src_zero = run(EQ, x_in, zero), run(EQ, src, zero)
    x_safe, src_safe = run(WHERE, x_zero, one, x_in), run(WHERE, src_zero, one, src)
    nonzero_product = run(SCATTER_REDUCE, x_safe, index, src_safe, axis=axis, reduce="prod", include_self=True)
    zeros = run(SCATTER_ADD, run(WHERE, x_zero, one, zero), index, run(WHERE, src_zero, one, zero), axis=axis)
    only_zero = run(WHERE, run(EQ, zeros, one), nonzero_product, zero)
    no_zero = run(WHERE, run(EQ, zeros, zero), nonzero_product, zero)

    def others(is_zero, safe, gathered):
        only, none = (run(GATHER, t, index, axis=axis) for t in (only_zero, no_zero)) if gathered else (only_zero,
                                                                                                         no_zero)
        return run(WHERE, is_zero, only, run(DIV, none, safe))

    gx = run(MUL, g, others(x_zero, x_safe, False))
    if not include_self:
        gx = run(WHERE, hit, zero, gx)
    gsrc = run(MUL, run(GATHER, g, index, axis=axis), others(src_zero, src_safe, True))
    return gx, gsrc


SCATTER_REDUCE = defop(
    "scatter_reduce",
    forward=_forward,
    infer=_infer,
    vjp=vjp_rule(_rule),
    cost=movement_cost,
    onnx="ScatterElements",
    saves_output=True,
)


def zeros_of(x: TensorLike, dtype) -> TensorLike:
    """Zeros of x's shape in ``dtype``, by ops (so in graphs too): x < x, false everywhere, NaN included (a
    complex x compares its real part, complex numbers having no order)."""
    probe = real(x) if x.dtype in COMPLEX else x
    return cast(lt(probe, probe), dtype)


def _ones(x: TensorLike, dtype) -> TensorLike:
    return zeros_of(x, dtype) + 1


def _mean(total: TensorLike, count: TensorLike) -> TensorLike:
    if total.dtype in FLOATING or total.dtype in COMPLEX:
        return true_divide(total, count)
    return div(total, count, rounding_mode="floor")


def scatter_reduce(x, dim: int, index, src, reduce: str, *, include_self: bool = True) -> TensorLike:
    """A copy of ``x`` where each ``out[index[i][j]][j]`` (dim 0) is reduced with ``src[i][j]`` by ``reduce``
    (``"sum"``, ``"prod"``, ``"mean"``, ``"amax"``, ``"amin"``), ``x``'s own element included when
    ``include_self``; positions no index names keep x's value, as PyTorch's ``scatter_reduce``.

    >>> x = ember.zeros(3)
    >>> ember.scatter_reduce(x, 0, ember.tensor([0, 0, 2]), ember.tensor([1., 3., 5.]), "amax",
    ...                      include_self=False).tolist()
    [3.0, 0.0, 5.0]
    """
    x, src = same_dtype("scatter_reduce", x, src, "src")
    index = index if isinstance(index, TensorLike) else as_tensor(np.asarray(index), x)
    if index.dtype.kind not in "iu":
        raise TypeError(f"scatter_reduce: index must be an integer tensor, got {index.dtype}")
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    if reduce in ("amax", "amin") and x.dtype in COMPLEX:  # (NumPy would order complex numbers lexicographically)
        raise TypeError(f"scatter_reduce: reduce={reduce!r} is not defined for complex tensors, got {x.dtype}")
    axis = normalize_axis("scatter_reduce", dim, x.ndim, [Spec(x.shape, x.dtype)])[0]
    refuse_negative("scatter_reduce", index, x, axis)
    include_self = bool(include_self)
    if reduce == "sum" and x.dtype == np.bool_:  # a bool sum is a logical or: the largest member, as PyTorch's
        reduce = "amax"
    if reduce in _UFUNCS:
        # the forward's reduce.at would broadcast a smaller src over the index
        if any(s is not None and i is not None and s < i for s, i in zip(src.shape, index.shape)):
            raise shape_error("scatter_reduce", [x, index, src], f"src must cover the index: shape {list(src.shape)} "
                              f"is smaller than the index's {list(index.shape)}")
        attrs = {"axis": axis, "reduce": reduce, "include_self": include_self}
        return dispatch.apply(SCATTER_REDUCE, (x, index, src), attrs)
    _check(Spec(x.shape, x.dtype), Spec(index.shape, index.dtype), Spec(src.shape, src.dtype), axis)
    region = getitem(src, _region(index.shape)) if tuple(src.shape) != tuple(index.shape) else src
    if x.dtype == np.bool_:
        raise TypeError(f"scatter_reduce: reduce={reduce!r} is not defined for bool tensors")
    counting = real_of(x.dtype)  # (complex numbers do not compare)
    counts = scatter_add(zeros_of(x, counting), axis, index, _ones(region, counting))
    hit = gt(counts, 0)
    base = x if include_self else where(hit, 0, x)
    total = scatter_add(base, axis, index, region)
    if reduce == "sum":
        return total
    count = counts + 1 if include_self else where(hit, counts, 1)
    return _mean(total, count if count.dtype == total.dtype else cast(count, total.dtype))


def index_reduce(x, dim: int, index, source, reduce: str, *, include_self: bool = True) -> TensorLike:
    """A copy of ``x`` whose slices at the 1-D ``index`` along ``dim`` are reduced with ``source``'s slices by
    ``reduce`` (``"prod"``, ``"mean"``, ``"amax"``, ``"amin"``), as PyTorch's ``index_reduce``: a
    ``scatter_reduce`` with the index spread over ``source``'s shape.

    >>> ember.index_reduce(ember.ones(3), 0, ember.tensor([0, 0]), ember.tensor([2., 3.]), "prod").tolist()
    [6.0, 1.0, 1.0]
    """
    x, source = same_dtype("index_reduce", x, source)
    index = index if isinstance(index, TensorLike) else as_tensor(np.asarray(index), x)
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise ValueError(f"index_reduce: reduce must be one of prod, mean, amax, amin, got {reduce!r}")
    if index.ndim > 1 or index.dtype.kind not in "iu":
        raise TypeError(f"index_reduce: index must be a 1-D integer tensor, got {index.dtype}{list(index.shape)}")
    axis = normalize_axis("index_reduce", dim, x.ndim, [Spec(x.shape, x.dtype)])[0]
    refuse_negative("index_reduce", index, x, axis)
    expected = tuple(x.shape[:axis]) + (index.shape[0] if index.ndim else 1,) + tuple(x.shape[axis + 1:])
    if x.ndim and (source.ndim != x.ndim or any(differ(a, b) for a, b in zip(source.shape, expected))):
        raise ValueError(f"index_reduce: source of shape {list(source.shape)} must have shape {list(expected)} "
                         f"(input {list(x.shape)}, index of {index.shape[0] if index.ndim else 1} entries along "
                         f"dim {axis})")
    if x.ndim == 0:  # PyTorch's: a 0-d tensor indexed as one of one element
        return reshape(index_reduce(reshape(x, (1,)), 0, index, reshape(source, (-1,)), reduce,
                                    include_self=include_self), ())
    shape = [1] * x.ndim
    shape[axis] = -1
    spread = broadcast_to(reshape(index, tuple(shape)), tuple(source.shape))
    return scatter_reduce(x, axis, spread, source, reduce, include_self=include_self)

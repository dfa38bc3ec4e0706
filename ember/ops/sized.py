"""Ops whose sizes are read, when the graph runs, from other values' dimensions: ``fill`` (a constant tensor),
``arange_sized`` (a range), ``slice_sized`` (a slice along one axis) and ``reshape_sized`` (a reshape).

What ``zeros(x.size(0), 3)``, ``zeros_like(x)``, ``arange(x.size(1))`` or ``mask[:t, :t]`` (``t`` read from a
shape) build while a graph is built for sizes known only at the call (``ember.jit(..., dynamic=True)``, an ONNX
export with ``dynamic_axes``): the unknown sizes are ``UnknownSize``s that remember where they were read (and the
``+ - * //`` that computed them from such), so the graph needs no per-size trace and ONNX gets ``Shape``-based
nodes. Eager code never reaches these ops with unknown sizes: there every size is a number.

A size is an attribute of one of three forms: an int; ``(k, axis)``, dimension ``axis`` of input ``k`` (for
``slice_sized``, the sliced value is input 0); ``(symbol, a, b)``, the int arithmetic ``symbol`` of two sizes.

>>> h0 = ember.zeros(1, x.size(0), 16)   # x's batch is unknown while tracing: a fill node reading x's size
"""

from __future__ import annotations

import operator

import numpy as np

from ember.ops import dispatch
from ember.ops.dispatch import TensorLike
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, format_shape, shape_error
from ember.ops.unknown_size import UnknownSize

__all__ = ["ARANGE_SIZED", "FILL", "RESHAPE_SIZED", "SLICE_SIZED", "SLICE_SIZED_GRAD", "arange_sized", "fill",
           "fill_like", "reshape_sized", "slice_sized", "sourced"]

_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv}


def size_of(shapes: list, size):
    """The number a size attribute stands for, given the inputs' shapes (None where one is unknown)."""
    if size is None or size.__class__ is int:
        return size
    if len(size) == 2:
        return shapes[size[0]][size[1]]
    symbol, a, b = size
    a, b = size_of(shapes, a), size_of(shapes, b)
    return None if a is None or b is None else _ARITHMETIC[symbol](a, b)


def _checked(name: str, specs, size, optional: bool = False):
    """``size_of`` for ``infer``: the size attribute checked for its form first (the message names the op)."""
    if _well_formed(size, [s.ndim for s in specs]) or (optional and size is None):
        try:
            return size_of([tuple(s.shape) for s in specs], size)
        except ZeroDivisionError:
            pass
    raise shape_error(name, specs, f"{size!r} is no size of the inputs (an int, (input, axis), or (symbol, a, b) "
                                   f"with symbol one of {sorted(_ARITHMETIC)}), or it divides by zero")


def _well_formed(size, ndims: list) -> bool:
    if size.__class__ is int:
        return True
    if size.__class__ is not tuple:
        return False
    if len(size) == 2:
        k, axis = size
        return k.__class__ is int and axis.__class__ is int and 0 <= k < len(ndims) and 0 <= axis < ndims[k]
    return (len(size) == 3 and size[0].__class__ is str and size[0] in _ARITHMETIC
            and _well_formed(size[1], ndims) and _well_formed(size[2], ndims))


def sourced(values) -> bool:
    """Whether ``values`` hold a size read from a graph value's unknown dimension (``x.size(0)`` while tracing)."""
    return any(d.__class__ is UnknownSize and d.source is not None for d in values)


def size_along(x: TensorLike, axis: int):
    """``x``'s size along ``axis``; where it is unknown (a graph value's), an ``UnknownSize`` read from ``x`` when
    the graph runs, for a layer making a tensor of that size (an RNN's first state)."""
    axis = axis % x.ndim
    size = x.shape[axis]
    return size if size is not None else UnknownSize(f"dimension {axis} of {x!r}", source=(x, axis))


class _Sources:
    """The graph values sizes are read from, collected while their size attributes are written."""

    def __init__(self, first=()):
        self.values = list(first)

    def size(self, d):
        """The size attribute of ``d`` (an int, None, or an ``UnknownSize``)."""
        if d is None:
            return None
        if d.__class__ is not UnknownSize:
            return int(d)
        if d.source is None:
            raise d.refuse(f"using {d.what} as a size")
        if not d.computed:
            value, axis = d.source
            index = next((i for i, s in enumerate(self.values) if s is value), None)
            if index is None:
                index = len(self.values)
                self.values.append(value)
            return (index, axis)
        symbol, a, b = d.source
        return (symbol, self.size(a), self.size(b))


# --- fill ----------------------------------------------------------------------------------------------------


def _fill_forward(xp, *sources, sizes, value, dtype):
    shapes = [s.shape for s in sources]
    return xp.full(tuple(size_of(shapes, d) for d in sizes), value, dtype)


def _fill_infer(*sources, sizes, value, dtype):
    if sizes.__class__ is not tuple:
        raise shape_error("fill", sources, f"sizes must be a tuple of sizes, got {sizes!r}")
    shape = tuple(_checked("fill", sources, d) for d in sizes)
    if any(d is not None and d < 0 for d in shape):
        raise shape_error("fill", sources, f"sizes {sizes} make the negative shape {list(shape)}")
    return Spec(shape, np.dtype(dtype))


def _fill_cost(out: Spec, *sources, **attrs) -> Cost:
    return Cost(0, out.nbytes or 0)


FILL = defop("fill", forward=_fill_forward, infer=_fill_infer, vjp=NON_DIFFERENTIABLE, cost=_fill_cost,
             onnx="Expand", fresh=True)


def fill(shape, value, dtype) -> TensorLike:
    """``value`` of ``dtype`` in ``shape``, whose unknown sizes (``UnknownSize``s read from graph values) are
    read from those values when the graph runs."""
    sources = _Sources()
    sizes = tuple(sources.size(d) for d in shape)
    if any(d.__class__ is int and d < 0 for d in sizes):
        raise ValueError(f"negative dimension in shape {list(shape)}")
    return dispatch.apply(FILL, tuple(sources.values), {"sizes": sizes, "value": value, "dtype": np.dtype(dtype)})


def fill_like(x: TensorLike, value, dtype) -> TensorLike:
    """``value`` of ``dtype`` in ``x``'s shape, read from ``x`` when the graph runs."""
    return dispatch.apply(FILL, (x,), {"sizes": tuple((0, a) for a in range(x.ndim)), "value": value,
                                       "dtype": np.dtype(dtype)})


_INT64_MAX = int(np.iinfo(np.int64).max)

# --- arange_sized --------------------------------------------------------------------------------------------


def _bounds(sources, start, stop, step) -> tuple:
    shapes = [s.shape for s in sources]
    return size_of(shapes, start), size_of(shapes, stop), size_of(shapes, step)


def _arange_forward(xp, *sources, start, stop, step, dtype):
    return xp.arange(*_bounds(sources, start, stop, step), dtype=dtype)


def _arange_infer(*sources, start, stop, step, dtype):
    first, last, stride = (_checked("arange_sized", sources, v) for v in (start, stop, step))
    if stride is None or stride <= 0:
        raise shape_error("arange_sized", sources, f"step must be a positive int, got {step!r}")
    if any(v is not None and not -_INT64_MAX - 1 <= v <= _INT64_MAX for v in (first, last, stride)):
        raise shape_error("arange_sized", sources, f"bounds {(first, last, stride)} are past int64's range")
    count = None if first is None or last is None else max(0, -(-(last - first) // stride))
    return Spec((count,), np.dtype(dtype))


ARANGE_SIZED = defop("arange_sized", forward=_arange_forward, infer=_arange_infer, vjp=NON_DIFFERENTIABLE,
                     cost=_fill_cost, onnx="Range", fresh=True)


def arange_sized(start, stop, step, dtype) -> TensorLike:
    """``arange(start, stop, step)`` with bounds read from graph values' sizes when the graph runs."""
    sources = _Sources()
    bounds = {"start": sources.size(start), "stop": sources.size(stop), "step": sources.size(step)}
    if bounds["step"].__class__ is not int or bounds["step"] <= 0:
        raise ValueError(f"arange: a range of an unknown size needs a positive int step, got {step!r}")
    return dispatch.apply(ARANGE_SIZED, tuple(sources.values), {**bounds, "dtype": np.dtype(dtype)})


# --- slice_sized ---------------------------------------------------------------------------------------------


def _slice_index(inputs, axis: int, start, stop, step) -> tuple:
    """The basic index of the slice; its sizes read from ``inputs`` (the sliced value first)."""
    shapes = [v.shape for v in inputs]
    return (slice(None),) * axis + (slice(size_of(shapes, start), size_of(shapes, stop), step),)


def _slice_forward(xp, x, *sources, axis, start, stop, step):
    return x[_slice_index((x, *sources), axis, start, stop, step)]


def _slice_infer(x, *sources, axis, start, stop, step, name="slice_sized"):
    specs = [x, *sources]
    if axis.__class__ is not int or not 0 <= axis < x.ndim or step.__class__ is not int or step <= 0:
        raise shape_error(name, specs, f"needs an axis of the input and a positive int step, got axis {axis!r} and "
                                       f"step {step!r}")
    first, last = (_checked(name, specs, v, optional=True) for v in (start, stop))
    size = x.shape[axis]
    known = size is not None and (start is None or first is not None) and (stop is None or last is not None)
    length = len(range(*slice(first, last, step).indices(size))) if known else None
    return Spec(tuple(x.shape[:axis]) + (length,) + tuple(x.shape[axis + 1:]), x.dtype)


def _slice_rule(run, ctx, g):
    return (run(SLICE_SIZED_GRAD, g, *ctx.inputs, **ctx.attrs),) + (None,) * (len(ctx.inputs) - 1)


SLICE_SIZED = defop("slice_sized", forward=_slice_forward, infer=_slice_infer, vjp=vjp_rule(_slice_rule),
                    cost=lambda out, *specs, **attrs: _moved_cost(out), onnx="Slice",
                    vjp_reads=())


def _slice_grad_forward(xp, g, x, *sources, axis, start, stop, step):
    out = xp.zeros(x.shape, g.dtype)
    out[_slice_index((x, *sources), axis, start, stop, step)] = g
    return out


def _slice_grad_infer(g, x, *sources, **attrs):
    sliced = _slice_infer(x, *sources, **attrs, name="slice_sized_grad")
    if len(sliced.shape) != g.ndim or any(a is not None and b is not None and a != b
                                          for a, b in zip(sliced.shape, g.shape)) or g.dtype != x.dtype:
        raise shape_error("slice_sized_grad", [g, x, *sources], f"the gradient must be {x.dtype}"
                                                                f"{format_shape(sliced.shape)}, the slice's")
    return Spec(tuple(x.shape), g.dtype)


def _slice_grad_rule(run, ctx, g):
    _, x, *sources = ctx.inputs
    return (run(SLICE_SIZED, g, *sources, **ctx.attrs),) + (None,) * (len(ctx.inputs) - 1)


def _moved_cost(out: Spec, *specs, **attrs) -> Cost:
    return Cost(0, 2 * (out.nbytes or 0))


SLICE_SIZED_GRAD = defop("slice_sized_grad", forward=_slice_grad_forward,
                         infer=_slice_grad_infer,
                         vjp=vjp_rule(_slice_grad_rule), cost=_moved_cost, onnx=NO_ONNX, vjp_reads=(), fresh=True)


def slice_sized(x: TensorLike, axis: int, item: slice) -> TensorLike:
    """``x`` sliced by ``item`` along ``axis``, whose bounds (``UnknownSize``s) are read from graph values' sizes
    when the graph runs (sizes index ``x`` and then the other sources)."""
    step = 1 if item.step is None else item.step
    if step.__class__ is not int or step <= 0:
        raise ValueError(f"getitem: a slice with a bound of unknown size needs a positive int step, got {step!r}")
    sources = _Sources([x])
    start, stop = sources.size(item.start), sources.size(item.stop)
    return dispatch.apply(SLICE_SIZED, tuple(sources.values),
                          {"axis": axis, "start": start, "stop": stop, "step": step})


# --- reshape_sized -------------------------------------------------------------------------------------------


def _reshape_sized_forward(xp, x, *sources, shape):
    shapes = [x.shape] + [v.shape for v in sources]
    return x.reshape(tuple(size_of(shapes, d) for d in shape))


def _reshape_sized_infer(x, *sources, shape):
    specs = [x, *sources]
    if shape.__class__ is not tuple:
        raise shape_error("reshape_sized", specs, f"shape must be a tuple of sizes, got {shape!r}")
    sizes = [-1 if d == -1 and d.__class__ is int else _checked("reshape_sized", specs, d) for d in shape]
    if sizes.count(-1) > 1 or any(d is not None and d < -1 for d in sizes):
        raise shape_error("reshape_sized", specs, f"shape {shape} needs sizes >= 0 and at most one -1")
    total = None if None in x.shape else int(np.prod(x.shape))
    known = [d for d in sizes if d != -1]
    copied = sorted(d[1] for d in shape if d.__class__ is tuple and len(d) == 2 and d[0] == 0)
    if total is None and copied == [a for a, d in enumerate(x.shape) if d is None] and all(
            d.__class__ is int or d[0] == 0 and len(d) == 2 for d in shape):  # x's unknown sizes kept: cancel them
        total, known = int(np.prod([d for d in x.shape if d is not None])), [d for d in known if d is not None]
    if None in known or total is None:
        return Spec(tuple(None if d == -1 else d for d in sizes), x.dtype)
    rest = int(np.prod(known))
    if (-1 in sizes and (rest == 0 or total % rest)) or (-1 not in sizes and rest != total):
        raise shape_error("reshape_sized", specs, f"cannot reshape to {format_shape(tuple(sizes))}")
    return Spec(tuple(total // rest if d == -1 else d for d in sizes), x.dtype)


def _reshape_sized_rule(run, ctx, g):
    x = ctx.inputs[0]  # the gradient takes x's shape, read from x when the graph runs
    back = run(RESHAPE_SIZED, g, x, shape=tuple((1, a) for a in range(x.ndim)))
    return (back,) + (None,) * (len(ctx.inputs) - 1)


RESHAPE_SIZED = defop("reshape_sized", forward=_reshape_sized_forward, infer=_reshape_sized_infer,
                      vjp=vjp_rule(_reshape_sized_rule), cost=lambda out, *specs, **attrs: _moved_cost(out),
                      onnx="Reshape", vjp_reads=())


def reshape_sized(x: TensorLike, shape: tuple) -> TensorLike:
    """``x`` reshaped to ``shape``, whose ``UnknownSize``s are read from graph values' sizes when the graph runs:
    ``h.reshape(x.size(0), -1)`` takes ``x``'s size, not the one at the same place in ``h`` (which may have
    merged unknown sizes: ``x.reshape(-1, 4)``)."""
    sources = _Sources([x])
    sizes = tuple(sources.size(d) for d in shape)
    return dispatch.apply(RESHAPE_SIZED, tuple(sources.values), {"shape": sizes})

"""Shared shape/dtype rules and cost formulas used by the op records."""

from __future__ import annotations

import operator

from ember.backend.dtypes import COMPLEX, FLOATING, bool_
from ember.ops.registry import Cost, Spec, describe, shape_error


def broadcast_shapes(name: str, specs) -> tuple:
    """NumPy broadcasting of the specs' shapes, or a ShapeError naming ``name``.

    An unknown (None) dimension broadcast with a known size n > 1 gives n (it must be 1 or n when the
    graph is specialized); with 1 or another unknown one it stays unknown."""
    ndim = max(len(s.shape) for s in specs)
    out = []
    for i in range(-ndim, 0):
        size = 1
        unknown = False
        for s in specs:
            if len(s.shape) >= -i:
                d = s.shape[i]
                if d is None:
                    unknown = True
                elif d != 1:
                    if size != 1 and d != size:
                        raise shape_error(name, specs, "shapes cannot be broadcast together")
                    size = d
        out.append(None if unknown and size == 1 else size)
    return tuple(out)


def differ(a, b) -> bool:
    """Two sizes that are known and different (an unknown, None, size may still match)."""
    return a is not None and b is not None and a != b


def fits(a: tuple, b: tuple) -> bool:
    """Two shapes that may be equal: one rank, and no dimension known in both and different."""
    return len(a) == len(b) and not any(differ(x, y) for x, y in zip(a, b))


def same_dtype(name: str, specs):
    dtype = specs[0].dtype
    for s in specs[1:]:
        if s.dtype != dtype:
            raise shape_error(name, specs, "inputs must have one dtype (promote them first)")
    return dtype


def refuse_bool(name: str, specs) -> None:
    """The error for an arithmetic op that PyTorch does not define on bools (``pow``, ``floor_divide``,
    ``remainder``: NumPy would compute them in int8)."""
    raise shape_error(name, specs, "is not defined for bool inputs (as in PyTorch); cast them to an integer "
                      "dtype first, e.g. x.long()")


def refuse_complex(name: str, specs) -> None:
    """The error for an op PyTorch does not define on complex numbers (orderings, rounding, relu...), raised when
    one of ``specs`` (shapes and dtypes, or the tensors themselves) is complex."""
    if any(s.dtype in COMPLEX for s in specs):
        raise TypeError(f"{name}: not implemented for complex tensors (inputs: "
                        f"{describe([Spec(tuple(s.shape), s.dtype) for s in specs])})")


def require_inexact(name: str, specs):
    """Floating-point or complex inputs (the ops PyTorch defines on complex numbers too)."""
    for s in specs:
        if s.dtype not in FLOATING and s.dtype not in COMPLEX:
            raise shape_error(name, specs, "needs floating-point or complex inputs")


def unary_inexact(name: str):
    """Rule for elementwise math that needs a floating-point or complex input."""

    def infer(x: Spec, **attrs) -> Spec:
        require_inexact(name, [x])
        return Spec(tuple(x.shape), x.dtype)

    return infer


def require_float(name: str, specs):
    for s in specs:
        if s.dtype not in FLOATING:
            raise shape_error(name, specs, "needs floating-point inputs")


def unary(name: str, complex_inputs: bool = True):
    """Rule for an elementwise op that keeps shape and dtype (refusing complex inputs without ``complex_inputs``)."""

    def infer(x: Spec, **attrs) -> Spec:
        if not complex_inputs:
            refuse_complex(name, [x])
        return Spec(tuple(x.shape), x.dtype)

    return infer


def unary_float(name: str):
    """Rule for elementwise math that needs a floating-point input."""

    def infer(x: Spec, **attrs) -> Spec:
        require_float(name, [x])
        return Spec(tuple(x.shape), x.dtype)

    return infer


def binary(name: str, out_dtype=None, bool_inputs: bool = True, complex_inputs: bool = True):
    """Rule for a broadcasting binary op; ``out_dtype`` fixes the result (bool for comparisons). Without
    ``bool_inputs`` bool operands are refused (``refuse_bool``), without ``complex_inputs`` complex ones
    (``refuse_complex``)."""

    def infer(*specs: Spec, **attrs) -> Spec:
        dtype = same_dtype(name, specs)
        if not bool_inputs and dtype == bool_:
            refuse_bool(name, specs)
        if not complex_inputs:
            refuse_complex(name, specs)
        return Spec(broadcast_shapes(name, specs), out_dtype or dtype)

    return infer


def as_int(name: str, value, what: str = "axis", specs=()) -> int:
    """``value`` as a Python int (NumPy integers too), or a TypeError naming the op and the argument; bools and
    floats are refused, as PyTorch refuses them for a dimension."""
    if value.__class__ is int:
        return value
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        inputs = f" (inputs: {describe(specs)})" if specs else ""
        raise TypeError(f"{name}: {what} must be an int, got {value!r}{inputs}")
    return operator.index(value)


def check_axis(name: str, axis, ndim: int, specs=()) -> int:
    """One axis (negative counts from the end) as a non-negative int, or an error naming the op. A 0-d input
    takes 0 and -1, as in PyTorch."""
    axis = as_int(name, axis, "axis", specs)
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise shape_error(name, specs, f"axis {axis} is out of range for {ndim} dimensions")
    return axis % max(ndim, 1)


def normalize_axis(name: str, axis, ndim: int, specs=()) -> tuple:
    """``axis`` (None, int or sequence) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if axis.__class__ is int or not isinstance(axis, (tuple, list, range)):
        axes = (axis,)
    else:
        axes = tuple(axis)
    out = [check_axis(name, a, ndim, specs) for a in axes]
    if len(set(out)) != len(out):
        raise shape_error(name, specs, f"axis {axis} repeats an axis")
    return tuple(sorted(out))


def check_sizes(name: str, sizes, what: str, specs=(), minimum: int = 0) -> tuple:
    """A sequence of ints each at least ``minimum`` (a shape, strides, paddings), or an error naming the op."""
    if not isinstance(sizes, (tuple, list)):
        raise TypeError(f"{name}: {what} must be a sequence of ints, got {sizes!r} (inputs: {describe(specs)})")
    out = tuple(as_int(name, d, what, specs) for d in sizes)
    if any(d < minimum for d in out):
        raise shape_error(name, specs, f"{what} {list(out)} must hold ints of at least {minimum}")
    return out


def check_window(name: str, specs, rank: int = 2, **pairs) -> None:
    """Window attributes of a convolution or pooling op over ``rank`` spatial axes: each ``rank`` ints (a pair by
    default), ``kernel_size``, ``stride``, ``dilation`` and ``input_size`` at least 1, ``padding`` and
    ``output_padding`` at least 0."""
    for what, value in pairs.items():
        if not isinstance(value, (tuple, list)) or len(value) != rank:
            count = "a pair of ints" if rank == 2 else f"{rank} ints"
            raise TypeError(f"{name}: {what} must be {count}, got {value!r} (inputs: {describe(specs)})")
        check_sizes(name, value, what, specs, minimum=0 if what in ("padding", "output_padding") else 1)


def reduced_shape(shape: tuple, axes: tuple, keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def elementwise_cost(flops_per_element: int = 1):
    """Cost of an op touching every element once: inputs read, output written."""

    def cost(out: Spec, *inputs: Spec, **attrs) -> Cost:
        return Cost(flops_per_element * out.size, out.nbytes + sum(s.nbytes for s in inputs))

    return cost


def movement_cost(out: Spec, *inputs: Spec, **attrs) -> Cost:
    """Cost of an op that only moves data."""
    return Cost(0, out.nbytes + sum(s.nbytes for s in inputs))


def reduction_cost(out: Spec, *inputs: Spec, **attrs) -> Cost:
    return Cost(inputs[0].size, out.nbytes + sum(s.nbytes for s in inputs))


BOOL = bool_

"""Fused elementwise kernels: the body of a ``fused`` node compiled into one numexpr call (CPU).

Constants enter as 0-d arrays of the group's dtype, never as literals: numexpr computes float32 in float64
when it meets a Python float literal.
"""

from __future__ import annotations

import numpy as np

from ember.passes.fuse_elementwise import Body, constants

_cache: dict = {}  # (expression, input dtypes) -> Kernel


class Kernel:
    """``fn(*inputs, *constants, out=array, ex_uses_vml=uses_vml)`` computes the fused body."""

    __slots__ = ("fn", "constants", "expression", "uses_vml")

    def __init__(self, fn, constants: list, expression: str, uses_vml: bool):
        self.fn, self.constants, self.expression, self.uses_vml = fn, constants, expression, uses_vml


def numexpr_kernel(body: Body, dtypes: list) -> Kernel | None:
    """The numexpr kernel for ``body`` on inputs of ``dtypes``; None when numexpr is not installed."""
    try:
        from numexpr.necompiler import NumExpr, getContext, getExprNames
    except ImportError:
        return None
    values: dict = {}  # constant name -> value, in the order the expression first uses them

    def form(op, args: list) -> str:
        named = {}
        for key, value in constants(op):
            if "{" + key + "}" in op.fusion.form:
                named[key] = f"k_{key}"
                if values.setdefault(key, value) != value:
                    raise ValueError(f"fused kernel: constant {key!r} means {values[key]} and {value}")
        return op.fusion.form.format(*args, **named)

    expression = body.text(form, lambda i: f"a{i}")
    key = (expression, tuple(np.dtype(d).str for d in dtypes), body.dtype.str)
    kernel = _cache.get(key)
    if kernel is None:
        signature = [(f"a{i}", _numexpr_type(d)) for i, d in enumerate(dtypes)]
        signature += [(f"k_{k}", _numexpr_type(body.dtype)) for k in values]
        context = getContext({"truediv": True})
        uses_vml = getExprNames(expression, context)[1]
        fn = NumExpr(expression, signature, **context)
        arrays = [np.asarray(v, body.dtype) for v in values.values()]
        for array in arrays:
            array.flags.writeable = False  # shared by every function using this kernel
        kernel = _cache[key] = Kernel(fn, arrays, expression, uses_vml)
    return kernel


def _numexpr_type(dtype) -> type:
    """numexpr's name for a dtype: ``float`` means float32 to it, ``np.float64`` double."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return bool
    if dtype == np.float32:
        return float
    if dtype == np.float64:
        return np.float64
    raise TypeError(f"fused kernel: numexpr has no {dtype} type")

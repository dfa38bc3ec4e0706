"""``fill``: a constant tensor whose shape is read, at run time, from other values' sizes.

What ``zeros(x.size(0), 3)`` or ``zeros_like(x)`` builds while a graph is built for sizes known only at the call
(``ember.jit(..., dynamic=True)``, an ONNX export with ``dynamic_axes``): the unknown sizes are the sources'
dimensions, so the graph needs no per-size trace and ONNX gets ``Shape`` + ``Expand``. Eager code never
reaches it: there every size is a number.

>>> h0 = ember.zeros(1, x.size(0), 16)   # x's batch is unknown while tracing: a fill node reading x's size
"""

from __future__ import annotations

import numpy as np

from ember.ops import dispatch
from ember.ops.dispatch import TensorLike
from ember.ops.registry import NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error
from ember.ops.unknown_size import UnknownSize

__all__ = ["FILL", "fill", "fill_like", "sourced"]


def _sized(shapes: list, sizes: tuple) -> tuple:
    return tuple(shapes[d[0]][d[1]] if d.__class__ is tuple else d for d in sizes)


def _fill_forward(xp, *sources, sizes, value, dtype):
    return xp.full(_sized([s.shape for s in sources], sizes), value, dtype)


def _fill_infer(*sources, sizes, value, dtype):
    for d in sizes:
        if d.__class__ is tuple:
            k, axis = d
            if not (0 <= k < len(sources) and -sources[k].ndim <= axis < sources[k].ndim):
                raise shape_error("fill", sources, f"size {d} names no dimension of the sources")
        elif not isinstance(d, int) or d < 0:
            raise shape_error("fill", sources, f"sizes {sizes} hold {d!r}, not a size")
    return Spec(_sized([s.shape for s in sources], sizes), np.dtype(dtype))


def _fill_cost(out: Spec, *sources, **attrs) -> Cost:
    return Cost(0, out.nbytes or 0)


FILL = defop("fill", forward=_fill_forward, infer=_fill_infer, vjp=NON_DIFFERENTIABLE, cost=_fill_cost,
             onnx="Expand", fresh=True)


def sourced(shape) -> bool:
    """Whether ``shape`` holds a size read from a graph value's unknown dimension (``x.size(0)`` while tracing)."""
    return any(d.__class__ is UnknownSize and d.source is not None for d in shape)


def fill(shape, value, dtype) -> TensorLike:
    """``value`` of ``dtype`` in ``shape``, whose unknown sizes (``UnknownSize``s read from graph values) are
    read from those values when the graph runs."""
    sources: list = []
    sizes = []
    for d in shape:
        if d.__class__ is UnknownSize:
            if d.source is None:
                raise d.refuse(f"a size computed from unknown ones ({d.what}) given to a creation function")
            value_of, axis = d.source
            index = next((i for i, s in enumerate(sources) if s is value_of), None)
            if index is None:
                index = len(sources)
                sources.append(value_of)
            sizes.append((index, axis))
        else:
            size = int(d)
            if size < 0:
                raise ValueError(f"negative dimension in shape {list(shape)}")
            sizes.append(size)
    return dispatch.apply(FILL, tuple(sources), {"sizes": tuple(sizes), "value": value, "dtype": np.dtype(dtype)})


def fill_like(x: TensorLike, value, dtype) -> TensorLike:
    """``value`` of ``dtype`` in ``x``'s shape, read from ``x`` when the graph runs."""
    return dispatch.apply(FILL, (x,), {"sizes": tuple((0, a) for a in range(x.ndim)), "value": value,
                                       "dtype": np.dtype(dtype)})

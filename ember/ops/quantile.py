"""``quantile`` and ``nanquantile``, composed of ``sort``, ``gather`` and ``lerp`` as PyTorch's are: the
gradient goes to the one or two sorted elements each quantile is read from (and, for linear interpolation,
to ``q`` when it requires one)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import float32, float64, int64
from ember.ops import composed
from ember.ops.autocast import widened
from ember.ops.composed import ceil, floor, lerp
from ember.ops.convert import as_tensor, cast
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import eq, maximum, ne, where
from ember.ops.indexing import gather
from ember.ops.infer import check_axis
from ember.ops.reduction import any, sum
from ember.ops.registry import Spec
from ember.ops.shape import moveaxis, reshape, squeeze, unsqueeze
from ember.ops.sorting import sort

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")
_ROUNDINGS = {"lower": floor, "higher": ceil, "nearest": composed.round}  # (halves to even, as PyTorch)


def _fractions(name: str, q, x: TensorLike) -> tuple:
    """``q`` as a 1-D tensor of x's dtype, and whether it was a scalar; its values checked when known."""
    if isinstance(q, TensorLike):
        if q.ndim > 1:
            raise ValueError(f"{name}: q must be a scalar or a 1-D tensor, got shape {list(q.shape)}")
        if q.dtype != x.dtype:
            raise TypeError(f"{name}: q ({q.dtype}) must have the input's dtype ({x.dtype})")
        values = None if q.symbolic else q.array
    else:
        values = np.asarray(q, dtype=np.float64)
        if values.ndim > 1:
            raise ValueError(f"{name}: q must be a scalar or a 1-D sequence, got shape {list(values.shape)}")
        q = as_tensor(values.astype(x.dtype), x)
    if values is not None and not bool(((values >= 0) & (values <= 1)).all()):
        raise ValueError(f"{name}: q must be in the range [0, 1], got {values.tolist()}")
    return reshape(q, (-1,)), q.ndim == 0


def _quantile(name: str, x, q, axis, keepdims: bool, interpolation: str, ignore_nan: bool) -> TensorLike:
    (x,) = widened(as_tensor(x))  # (an autocast region's half-precision input in float32, as PyTorch's)
    if x.dtype not in (float32, float64):
        raise TypeError(f"{name}: the input must be float32 or float64, got {x.dtype}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{name}: interpolation must be one of {', '.join(INTERPOLATIONS)}; got {interpolation!r}")
    q, scalar = _fractions(name, q, x)
    if 0 in x.shape:
        raise ValueError(f"{name}: the input of shape {list(x.shape)} has no elements")
    if axis is None or x.ndim == 0:
        if axis is not None:
            check_axis(name, axis, 0, [Spec(x.shape, x.dtype)])
        data, axis_at = reshape(x, (-1,)), 0
    else:
        axis_at = check_axis(name, axis, x.ndim, [Spec(x.shape, x.dtype)])
        data = x
    rows = moveaxis(sort(data, axis_at).values, axis_at, -1)  # (..., n), NaN last
    fractions = reshape(q, (q.shape[0],) + (1,) * rows.ndim)
    if ignore_nan:  # the rank among each row's numbers; a row of NaN alone reads its first NaN
        valid = sum(eq(rows, rows), -1, keepdims=True)
        ranks = maximum(fractions * (cast(valid, x.dtype) - 1.0), 0.0)
    else:  # a row holding NaN reads its last element: NaN
        last = float(rows.shape[-1] - 1)
        ranks = where(any(ne(rows, rows), -1, keepdims=True), last, fractions * last)
    if interpolation in _ROUNDINGS:
        ranks = _ROUNDINGS[interpolation](ranks)
    spread = unsqueeze(rows, 0) + fractions * 0.0  # (len(q), ..., n), by broadcasting: sizes may be unknown
    below = floor(ranks)
    values = gather(spread, -1, cast(below, int64))
    if interpolation in ("linear", "midpoint"):
        above = gather(spread, -1, cast(ceil(ranks), int64))
        values = lerp(values, above, ranks - below if interpolation == "linear" else 0.5)
    values = squeeze(values, -1)  # (len(q), the other dimensions)
    if keepdims and x.ndim:
        values = reshape(values, (q.shape[0],) + (1,) * x.ndim) if axis is None else unsqueeze(values, axis_at + 1)
    return reshape(values, tuple(values.shape[1:])) if scalar else values


def quantile(x, q, axis: int | None = None, keepdims: bool = False, *,
             interpolation: str = "linear") -> TensorLike:
    """The ``q``-th quantiles of ``x`` (of all elements, or along ``axis``), as ``torch.quantile(input, q,
    dim=None, keepdim=False, *, interpolation='linear')``: ``q`` a number in [0, 1] or a 1-D tensor of them (its
    quantiles then stacked along a new first dimension), ``interpolation`` how a rank between two sorted
    elements is read ('linear', 'lower', 'higher', 'midpoint' or 'nearest'). A row holding NaN gives NaN.
    float32 or float64 input; ``q`` as a tensor has its dtype."""
    return _quantile("quantile", x, q, axis, keepdims, interpolation, False)


def nanquantile(x, q, axis: int | None = None, keepdims: bool = False, *,
                interpolation: str = "linear") -> TensorLike:
    """``quantile`` leaving NaN out: each row's quantiles of its numbers (NaN for a row of NaN alone), as
    ``torch.nanquantile``."""
    return _quantile("nanquantile", x, q, axis, keepdims, interpolation, True)

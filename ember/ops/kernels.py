"""Array-level helpers the op forwards share: faster reductions over a short last axis.

NumPy reduces a short contiguous axis one row at a time (a (1024, 10) row max costs as much as 50 exp
calls); a matrix-vector product sums the rows in one BLAS call, and a loop over the few columns takes the
max with whole-column vector operations. Each helper returns exactly what ``x.sum``/``x.max`` would, up to
float rounding, and falls back to them when the shortcut does not apply.
"""

from __future__ import annotations

_SHORT = 32  # longest last axis for which the shortcuts pay
_ROWS = 128  # fewest rows for which they pay: below, NumPy's own reduction is as fast or faster (measured)


def _short_last_axis(x, axis) -> bool:
    return x.ndim >= 2 and axis in (-1, x.ndim - 1) and x.shape[-1] <= _SHORT and x.dtype.kind == "f" \
        and x.dtype.itemsize >= 4 and x.size >= _ROWS * x.shape[-1] and x.flags.c_contiguous


def sum_last(xp, x, axis, keepdims: bool):
    """``x.sum(axis, keepdims)``, through BLAS when ``axis`` is a short last axis."""
    if not _short_last_axis(x, axis):
        return x.sum(axis=axis, keepdims=keepdims)
    out = x @ xp.ones(x.shape[-1], x.dtype)
    return out[..., None] if keepdims else out


def max_last(xp, x, axis, keepdims: bool):
    """``x.max(axis, keepdims)``, column by column when ``axis`` is a short last axis."""
    if not _short_last_axis(x, axis) or x.shape[-1] == 0:
        return x.max(axis=axis, keepdims=keepdims)
    out = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        xp.maximum(out, x[..., j], out=out)
    return out[..., None] if keepdims else out

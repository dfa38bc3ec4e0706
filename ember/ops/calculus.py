"""Numerical integration and differentiation along a dimension, composed from slices and elementwise ops (so
gradients come from theirs): ``trapezoid`` (``trapz``), ``cumulative_trapezoid`` and ``gradient`` (central
differences inside, first- or second-order one-sided ones at the edges, on even or uneven spacing), as
PyTorch's."""

from __future__ import annotations

from ember.ops.convert import as_tensor, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import getitem
from ember.ops.infer import check_axis, differ
from ember.ops.join import concat
from ember.ops.reduction import cumsum, sum
from ember.ops.registry import Spec
from ember.ops.shape import reshape


def _axis(name: str, x: TensorLike, dim) -> int:
    return check_axis(name, dim, x.ndim, [Spec(x.shape, x.dtype)])


def _part(x: TensorLike, axis: int, start, stop=None) -> TensorLike:
    """``x[start:stop]`` along ``axis``."""
    return getitem(x, (slice(None),) * axis + (slice(start, stop),))


def _along(v: TensorLike, axis: int, ndim: int) -> TensorLike:
    """A 1-D ``v`` shaped to broadcast along ``axis`` of an ``ndim``-dimensional tensor."""
    return reshape(v, (1,) * axis + (-1,) + (1,) * (ndim - axis - 1))


def _steps(name: str, y: TensorLike, x, dx, axis: int):
    """The spacing between neighbours along ``axis``: a number, or a tensor that broadcasts against
    ``y[1:] - y[:-1]``."""
    if x is None:
        return 1.0 if dx is None else dx
    if dx is not None:
        raise TypeError(f"{name}: give x or dx, not both")
    x = to_float(as_tensor(x))
    if x.ndim == 1:
        if differ(x.shape[0], y.shape[axis]):
            raise ValueError(f"{name}: x has {x.shape[0]} points but y has {y.shape[axis]} along dimension {axis} "
                             f"(shape {list(y.shape)})")
        return _along(_part(x, 0, 1) - _part(x, 0, 0, -1), axis, y.ndim)
    # x as y's shape (broadcast): its differences along the same dimension, counted from the end
    x_axis = axis - y.ndim + x.ndim
    if x_axis < 0:
        raise ValueError(f"{name}: x of shape {list(x.shape)} has no dimension matching dimension {axis} of y "
                         f"(shape {list(y.shape)})")
    return _part(x, x_axis, 1) - _part(x, x_axis, 0, -1)


def _halves(y: TensorLike, axis: int, steps) -> TensorLike:
    return (_part(y, axis, 1) + _part(y, axis, 0, -1)) * steps * 0.5


def trapezoid(y, x=None, *, dx: float | None = None, dim: int = -1) -> TensorLike:
    """The integral of ``y`` along ``dim`` by the trapezoid rule, at the points ``x`` (1-D, or broadcast with y)
    or spaced ``dx`` apart (1 by default), as ``torch.trapezoid``."""
    y = to_float(as_tensor(y))
    axis = _axis("trapezoid", y, dim)
    steps = _steps("trapezoid", y, x, dx, axis)
    if y.shape[axis] == 0:
        return sum(y, axis)
    return sum(_halves(y, axis, steps), axis)


def trapz(y, x=None, *, dx: float | None = None, dim: int = -1) -> TensorLike:
    """``trapezoid`` under its older name (``torch.trapz``)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx: float | None = None, dim: int = -1) -> TensorLike:
    """The running trapezoid-rule integral of ``y`` along ``dim`` (one element fewer than y there), as
    ``torch.cumulative_trapezoid``."""
    y = to_float(as_tensor(y))
    axis = _axis("cumulative_trapezoid", y, dim)
    steps = _steps("cumulative_trapezoid", y, x, dx, axis)
    if y.shape[axis] == 0:
        return y
    return cumsum(_halves(y, axis, steps), axis)


def _uniform(f: TensorLike, axis: int, h, edge_order: int) -> TensorLike:
    inner = (_part(f, axis, 2) - _part(f, axis, 0, -2)) / (2.0 * h)
    first, second, third = (_part(f, axis, i, i + 1) for i in range(3)) if edge_order == 2 else (None,) * 3
    if edge_order == 1:
        start = (_part(f, axis, 1, 2) - _part(f, axis, 0, 1)) / h
        end = (_part(f, axis, -1) - _part(f, axis, -2, -1)) / h
    else:
        start = (-1.5 * first + 2.0 * second - 0.5 * third) / h
        end = (0.5 * _part(f, axis, -3, -2) - 2.0 * _part(f, axis, -2, -1) + 1.5 * _part(f, axis, -1)) / h
    return concat([start, inner, end], axis)


def _uneven(f: TensorLike, axis: int, coordinates: TensorLike, edge_order: int) -> TensorLike:
    d = _part(coordinates, 0, 1) - _part(coordinates, 0, 0, -1)
    d1, d2 = (_along(_part(d, 0, a, b), axis, f.ndim) for a, b in ((0, -1), (1, None)))
    # the second-order weights of the three neighbours (NumPy's and PyTorch's)
    inner = (-d2 / (d1 * (d1 + d2)) * _part(f, axis, 0, -2) + (d2 - d1) / (d1 * d2) * _part(f, axis, 1, -1)
             + d1 / (d2 * (d1 + d2)) * _part(f, axis, 2))
    f0, f1, f2 = (_part(f, axis, i, i + 1) for i in range(3))
    g0, g1, g2 = _part(f, axis, -3, -2), _part(f, axis, -2, -1), _part(f, axis, -1)
    if edge_order == 1:
        start = (f1 - f0) / _along(_part(d, 0, 0, 1), axis, f.ndim)
        end = (g2 - g1) / _along(_part(d, 0, -1), axis, f.ndim)
    else:
        a, b = (_along(_part(d, 0, i, i + 1), axis, f.ndim) for i in (0, 1))
        start = (-(2.0 * a + b) / (a * (a + b)) * f0 + (a + b) / (a * b) * f1 - a / (b * (a + b)) * f2)
        a, b = (_along(_part(d, 0, i, i + 1 if i != -1 else None), axis, f.ndim) for i in (-2, -1))
        end = (b / (a * (a + b)) * g0 - (a + b) / (a * b) * g1 + (2.0 * b + a) / (b * (a + b)) * g2)
    return concat([start, inner, end], axis)


def _spacings(spacing, count: int) -> list:
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != count:
            raise ValueError(f"gradient: spacing has {len(spacing)} entries for {count} dimensions; give one per "
                             "dimension")
        return list(spacing)
    if isinstance(spacing, TensorLike) and spacing.ndim == 0:
        spacing = spacing.item()
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)):
        raise TypeError(f"gradient: spacing must be a number, a list of numbers or a list of 1-D coordinate "
                        f"tensors, got {spacing!r}")
    return [spacing] * count


def gradient(x, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """The derivative of ``x`` estimated along each dimension in ``dim`` (all by default), one tensor per
    dimension, as ``torch.gradient``: central differences inside and one-sided ones of order ``edge_order`` (1 or
    2) at the ends; ``spacing`` is the step (a number, or one per dimension) or the points' coordinates (a list of
    1-D tensors, one per dimension)."""
    x = to_float(as_tensor(x))
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order!r}")
    if x.ndim == 0:
        raise ValueError("gradient: expects a tensor of at least one dimension, got a 0-d one")
    dims = range(x.ndim) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    axes = [_axis("gradient", x, d) for d in dims]
    if len(set(axes)) != len(axes):
        raise ValueError(f"gradient: dim names a dimension twice, {dim!r}")
    results = []
    for axis, step in zip(axes, _spacings(spacing, len(axes))):
        if x.shape[axis] is not None and x.shape[axis] < edge_order + 1:
            raise ValueError(f"gradient: dimension {axis} of the tensor of shape {list(x.shape)} needs at least "
                             f"edge_order + 1 = {edge_order + 1} points")
        if isinstance(step, TensorLike) or hasattr(step, "shape"):
            coordinates = to_float(as_tensor(step))
            if coordinates.ndim != 1 or differ(coordinates.shape[0], x.shape[axis]):
                raise ValueError(f"gradient: the coordinates of dimension {axis} must be 1-D with "
                                 f"{x.shape[axis]} points, got shape {list(coordinates.shape)}")
            results.append(_uneven(x, axis, coordinates, edge_order))
        else:
            results.append(_uniform(x, axis, float(step), edge_order))
    return tuple(results)

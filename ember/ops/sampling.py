"""Sampling at computed positions: ``grid_sample`` (PyTorch's bilinear, nearest and bicubic sampling of
(N, C, H, W) or (N, C, D, H, W) input at a grid of normalized coordinates, with zeros, border or reflection
padding) with its two gradient ops, and ``affine_grid``, the sampling grid of an affine map (a matrix product).

Each grid point reads a few taps of the input: the 2^D corners around it (bilinear), the nearest element, or the
4 x 4 neighbours (bicubic). A tap is a flat index into the input's spatial axes and a weight, both computed as
PyTorch's kernels compute them, in the input's dtype; taps that fall outside the input weigh 0. The forward
gathers the taps (``take_along_axis``), the input's gradient adds them back (``bincount``), and the grid's
gradient weighs the gathered values by the weights' derivatives. All three ops take the order of the weights'
derivative in each grid component (``derivative``, zeros for the sampling itself): the grid's gradient samples
with that order raised by one, so the three ops' vjps are written with each other and every order of gradient
is exact between the kinks (PyTorch has no double backward for grid_sample)."""

from __future__ import annotations

import functools
import itertools
import math
import operator

import numpy as np

from ember.backend.dtypes import FLOATING, LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.autocast import widened
from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import ADD, MUL
from ember.ops.indexing import GETITEM
from ember.ops.linalg import matmul
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape, transpose

MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution constant
_TAPS = {"bilinear": 2, "nearest": 1, "bicubic": 4}


# --- PyTorch's coordinate rules (aten's GridSampler.h), each with its derivative -----------------------------


def _unnormalize(coord, size: int, align_corners: bool):
    """A grid coordinate in [-1, 1] as a position in pixels, and d(position)/d(coordinate)."""
    if align_corners:
        return (coord + 1) / 2 * (size - 1), (size - 1) / 2
    return ((coord + 1) * size - 1) / 2, size / 2


def _clip(xp, coord, size: int):
    """Clipped into [0, size - 1]; the derivative is 0 at and beyond the borders, as PyTorch's. A NaN becomes 0
    (fmax ignores it, as PyTorch's kernels do)."""
    inside = (coord > 0) & (coord < size - 1)
    return xp.fmin(xp.fmax(coord, 0), size - 1), inside.astype(coord.dtype)


def _reflect(xp, coord, twice_low: int, twice_high: int):
    """Reflected into [twice_low / 2, twice_high / 2] as often as needed, with the derivative's sign (+1 or -1)."""
    if twice_low == twice_high:
        return xp.zeros_like(coord), xp.zeros_like(coord)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    shifted = coord - low
    distance = xp.abs(shifted)
    extra = xp.fmod(distance, span)
    even = xp.fmod(xp.floor(distance / span), 2) == 0
    sign = xp.where(shifted < 0, -1, 1).astype(coord.dtype)
    return xp.where(even, extra + low, span - extra + low), xp.where(even, sign, -sign)


def _padded(xp, coord, size: int, padding_mode: str, align_corners: bool):
    """PyTorch's ``compute_coordinates``: the position the padding mode reads, and its derivative (None: 1)."""
    if padding_mode == "border":
        return _clip(xp, coord, size)
    if padding_mode == "reflection":
        low, high = (0, 2 * (size - 1)) if align_corners else (-1, 2 * size - 1)
        coord, reflected = _reflect(xp, coord, low, high)
        coord, clipped = _clip(xp, coord, size)
        return coord, reflected * clipped
    return coord, None


def cubic_weights(t, order: int = 0) -> tuple:
    """The four cubic convolution weights (PyTorch's, A = -0.75) of the taps at -1, 0, 1 and 2 from a point at
    fraction ``t`` past tap 0, or their ``order``-th derivatives in ``t`` (zero from the fourth on)."""
    a = _CUBIC_A
    near, far = t, 1 - t
    if order == 0:
        return (((a * (near + 1) - 5 * a) * (near + 1) + 8 * a) * (near + 1) - 4 * a,
                ((a + 2) * near - (a + 3)) * near * near + 1,
                ((a + 2) * far - (a + 3)) * far * far + 1,
                ((a * (far + 1) - 5 * a) * (far + 1) + 8 * a) * (far + 1) - 4 * a)
    if order == 1:
        return ((3 * a * (near + 1) - 10 * a) * (near + 1) + 8 * a,
                (3 * (a + 2) * near - 2 * (a + 3)) * near,
                -(3 * (a + 2) * far - 2 * (a + 3)) * far,
                -((3 * a * (far + 1) - 10 * a) * (far + 1) + 8 * a))
    if order == 2:
        return (6 * a * (near + 1) - 10 * a, 6 * (a + 2) * near - 2 * (a + 3),
                6 * (a + 2) * far - 2 * (a + 3), 6 * a * (far + 1) - 10 * a)
    level = t * 0  # t's shape and dtype (and its NaNs)
    if order == 3:
        return (level + 6 * a, level + 6 * (a + 2), level - 6 * (a + 2), level - 6 * a)
    return (level,) * 4


def _linear_weights(xp, first, source, order: int) -> tuple:
    """The two linear weights of the taps at ``first`` and ``first + 1``, or their derivatives in ``source``."""
    if order == 0:
        return (first + 1) - source, source - first
    level = xp.zeros_like(source)
    return (level - 1, level + 1) if order == 1 else (level, level)


def _axis_taps(xp, coord, size: int, mode: str, padding_mode: str, align_corners: bool, orders) -> list:
    """One spatial axis: [(position, {k: the weight's k-th derivative in coord for k in orders})] of its taps.
    The position's derivative in coord (the scale, times the padding's 0 or +-1) is constant between kinks, so
    the k-th derivative is the weight's k-th derivative in the position times the scale to the k."""
    source, scale = _unnormalize(coord, size, align_corners)
    if mode == "bicubic":  # the taps, not the source position, are padded
        first = xp.floor(source)
        weights = {k: cubic_weights(source - first, k) for k in orders}
        positions = [_padded(xp, first + (j - 1), size, padding_mode, align_corners)[0] for j in range(4)]
    else:
        source, slope = _padded(xp, source, size, padding_mode, align_corners)
        scale = scale if slope is None else slope * scale
        if mode == "nearest":
            positions = [xp.rint(source)]
            weights = {k: (xp.ones_like(source) if k == 0 else xp.zeros_like(source),) for k in orders}
        else:
            first = xp.floor(source)
            positions = [first, first + 1]
            weights = {k: _linear_weights(xp, first, source, k) for k in orders}
    return [(position, {k: w[j] if k == 0 else w[j] * scale ** k for k, w in weights.items()})
            for j, position in enumerate(positions)]


def _taps(xp, spatial: tuple, grid, mode: str, padding_mode: str, align_corners: bool, derivative: tuple,
          raised: bool = False) -> list:
    """Every tap of every grid point: [(flat index, weight, raised weights)], each of shape (N, points). The
    weight is the interpolation weight's ``derivative`` (orders in grid[..., 0], grid[..., 1], ...); with
    ``raised``, the raised weights are its derivatives one order higher in each grid component (a list), else
    None. Component c addresses spatial axis D - 1 - c (x is the width); taps outside the input have index 0
    and weight 0."""
    dims = len(spatial)
    n, points = grid.shape[0], math.prod(grid.shape[1:-1])
    per_component = []
    for c in range(dims):
        axis = dims - 1 - c
        size, stride = spatial[axis], math.prod(spatial[axis + 1:])
        orders = (derivative[c], derivative[c] + 1) if raised else (derivative[c],)
        indexed = []
        for position, weights in _axis_taps(xp, grid[..., c].reshape(n, points), size, mode, padding_mode,
                                            align_corners, orders):
            known = xp.isfinite(position) & (position > -1) & (position < size)
            index = xp.where(known, position, -1).astype(np.int64)  # truncation, as PyTorch's int cast
            inside = (index >= 0) & (index < size)
            indexed.append((xp.where(inside, index * stride, 0), inside, weights))
        per_component.append(indexed)
    out = []
    for combo in itertools.product(*reversed(per_component)):  # x varies fastest: PyTorch's nw, ne, sw, se order
        combo = combo[::-1]
        index = sum(t[0] for t in combo)
        # a product with the mask, not a where: a NaN or infinite coordinate gives NaN, as PyTorch's CPU kernel
        inside = functools.reduce(operator.and_, [t[1] for t in combo]).astype(grid.dtype)
        weight = math.prod(t[2][derivative[c]] for c, t in enumerate(combo)) * inside
        higher = None
        if raised:
            higher = [math.prod(t[2][derivative[e] + (e == c)] for e, t in enumerate(combo)) * inside
                      for c in range(dims)]
        out.append((index * inside.astype(index.dtype), weight, higher))
    return out


def _gathered(xp, x, index):
    """x's values at flat spatial indices (N, points): (N, C, points)."""
    n, c = x.shape[:2]
    return xp.take_along_axis(x.reshape(n, c, math.prod(x.shape[2:])), index[:, None, :], axis=2)


def _in_float32(forward):
    """``forward`` with float16 and bfloat16 operands computed in float32 and the result rounded once, as PyTorch
    computes them (NumPy's products with the float32 weights would return float32, not the dtype the shape rule
    gives)."""
    @functools.wraps(forward)
    def run(xp, *arrays, **attrs):
        dtype = arrays[0].dtype
        if dtype not in LOW_PRECISION:
            return forward(xp, *arrays, **attrs)
        return forward(xp, *(a.astype(float32) for a in arrays), **attrs).astype(dtype)
    return run


def _grid_sample_forward(xp, x, grid, *, mode, padding_mode, align_corners, derivative):
    out = None
    for index, weight, _ in _taps(xp, x.shape[2:], grid, mode, padding_mode, align_corners, derivative):
        term = _gathered(xp, x, index) * weight[:, None, :]
        out = term if out is None else out + term
    return out.reshape(x.shape[:2] + grid.shape[1:-1])


def _input_grad_forward(xp, x, grid, g, *, mode, padding_mode, align_corners, derivative):
    """The gradient with respect to x (whose shape alone is read): each tap's share of g added back, by one
    bincount per channel over every tap of every point (a flat index into the batch's spatial axes)."""
    n, c = x.shape[:2]
    size = math.prod(x.shape[2:])
    taps = _taps(xp, x.shape[2:], grid, mode, padding_mode, align_corners, derivative)
    g = g.reshape(n, c, math.prod(g.shape[2:]))
    index = xp.concatenate([(xp.arange(n).reshape(n, 1) * size + i).reshape(-1) for i, _, _ in taps])
    out = xp.empty((c, n * size), x.dtype)
    for channel in range(c):
        shares = xp.concatenate([(g[:, channel] * w).reshape(-1) for _, w, _ in taps])
        out[channel] = xp.bincount(index, weights=shares, minlength=n * size)
    return xp.ascontiguousarray(xp.moveaxis(out.reshape((c, n) + x.shape[2:]), 0, 1))


def _grid_grad_forward(xp, x, grid, g, *, mode, padding_mode, align_corners, derivative):
    """The gradient with respect to the grid: the gathered taps weighed by the weights' derivatives."""
    if mode == "nearest":  # piecewise constant in the grid
        return xp.zeros_like(grid)
    dims = x.ndim - 2
    g = g.reshape(x.shape[:2] + (math.prod(g.shape[2:]),))
    parts = [None] * dims
    for index, _, higher in _taps(xp, x.shape[2:], grid, mode, padding_mode, align_corners, derivative, True):
        seen = (_gathered(xp, x, index) * g).sum(axis=1)
        for c in range(dims):
            term = seen * higher[c]
            parts[c] = term if parts[c] is None else parts[c] + term
    return xp.stack([part.reshape(grid.shape[:-1]) for part in parts], axis=-1)


# --- the records --------------------------------------------------------------------------------------------


def _check_attrs(name: str, specs, mode, padding_mode, align_corners, derivative, dims: int) -> None:
    if not isinstance(mode, str) or mode not in MODES:
        raise shape_error(name, specs, f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise shape_error(name, specs, f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
    if not isinstance(align_corners, (bool, np.bool_)):
        raise shape_error(name, specs, f"align_corners must be a bool, got {align_corners!r}")
    if mode == "bicubic" and dims != 2:
        raise shape_error(name, specs, "mode 'bicubic' samples 4-D input only")
    if not isinstance(derivative, tuple) or len(derivative) != dims or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k <= 8 for k in derivative):
        raise shape_error(name, specs, f"derivative must be {dims} orders from 0 to 8, got {derivative!r}")


def _grid_sample_infer(x, grid, *, mode, padding_mode, align_corners, derivative, name="grid_sample"):
    specs = [x, grid]
    if x.ndim not in (4, 5):
        raise shape_error(name, specs, "input must be 4-D (N, C, H, W) or 5-D (N, C, D, H, W)")
    dims = x.ndim - 2
    _check_attrs(name, specs, mode, padding_mode, align_corners, derivative, dims)
    if grid.ndim != x.ndim or grid.shape[-1] != dims:
        raise shape_error(name, specs, f"grid must be {x.ndim}-D with last dimension {dims} for {x.ndim}-D input")
    if None not in (x.shape[0], grid.shape[0]) and x.shape[0] != grid.shape[0]:
        raise shape_error(name, specs, "input and grid must have the same batch size")
    if any(d == 0 for d in x.shape[2:]):
        raise shape_error(name, specs, "the input's spatial dimensions must be non-empty")
    if x.dtype not in FLOATING or grid.dtype != x.dtype:  # (bfloat16's NumPy kind is "V", not "f")
        raise shape_error(name, specs, "input and grid must have the same floating dtype")
    return Spec(tuple(x.shape[:2]) + tuple(grid.shape[1:-1]), x.dtype)


def _grad_infer(name: str, result: int):
    def infer(x, grid, g, **attrs):
        out = _grid_sample_infer(x, grid, **attrs, name=name)
        if g.ndim != out.ndim or any(None not in (a, b) and a != b for a, b in zip(g.shape, out.shape)) \
                or g.dtype != x.dtype:
            raise shape_error(name, [x, grid, g], f"the output gradient must be {x.dtype}{list(out.shape)}")
        return Spec(tuple((x, grid)[result].shape), x.dtype)

    return infer


def _cost(out: Spec, x: Spec, grid: Spec, *rest: Spec, mode, **attrs) -> Cost:
    taps = _TAPS[mode] ** (x.ndim - 2)
    points = (grid.size or 0) // grid.shape[-1]
    channels = x.shape[1] or 0
    nbytes = sum(s.nbytes or 0 for s in (out, x, grid, *rest))
    return Cost(2 * taps * points * channels, nbytes)


def _grid_sample_rule(run, ctx, g):
    x, grid = ctx.inputs
    gx = run(GRID_SAMPLE_INPUT_GRAD, x, grid, g, **ctx.attrs) if ctx.needs[0] else None
    ggrid = run(GRID_SAMPLE_GRID_GRAD, x, grid, g, **ctx.attrs) if ctx.needs[1] else None
    return gx, ggrid


def _input_grad_rule(run, ctx, gg):
    # input_grad(g) is A(grid)^T g, so <gg, A^T g> = <A gg, g>: g's gradient samples gg, the grid's is grid_grad
    x, grid, g = ctx.inputs
    ggrid = run(GRID_SAMPLE_GRID_GRAD, gg, grid, g, **ctx.attrs) if ctx.needs[1] else None
    gout = run(GRID_SAMPLE, gg, grid, **ctx.attrs) if ctx.needs[2] else None
    return None, ggrid, gout


def _raised(attrs: dict, c: int) -> dict:
    """``attrs`` with the derivative one order higher in grid component c."""
    derivative = tuple(k + (e == c) for e, k in enumerate(attrs["derivative"]))
    return {**attrs, "derivative": derivative}


def _grid_grad_rule(run, ctx, h):
    # grid_grad[..., c] = sum over channels of g * sample(x) with the derivative raised in c: h's share of it,
    # g * h[..., c], meets a sample (for g), its adjoint (for x) and grid_grad once more (for the grid)
    x, grid, g = ctx.inputs
    gx = gg = ggrid = None
    for c in range(grid.shape[-1]):
        attrs = _raised(ctx.attrs, c)
        hc = run(GETITEM, h, index=(slice(None), None, Ellipsis, c))  # (N, 1, *out)
        share = run(MUL, g, hc)
        if ctx.needs[0]:
            term = run(GRID_SAMPLE_INPUT_GRAD, x, grid, share, **attrs)
            gx = term if gx is None else run(ADD, gx, term)
        if ctx.needs[1]:
            term = run(GRID_SAMPLE_GRID_GRAD, x, grid, share, **attrs)
            ggrid = term if ggrid is None else run(ADD, ggrid, term)
        if ctx.needs[2]:
            term = run(MUL, run(GRID_SAMPLE, x, grid, **attrs), hc)
            gg = term if gg is None else run(ADD, gg, term)
    return gx, ggrid, gg


GRID_SAMPLE = defop("grid_sample", forward=_in_float32(_grid_sample_forward), infer=_grid_sample_infer,
                    vjp=vjp_rule(_grid_sample_rule), cost=_cost, onnx="GridSample")
GRID_SAMPLE_INPUT_GRAD = defop("grid_sample_input_grad", forward=_in_float32(_input_grad_forward),
                               infer=_grad_infer("grid_sample_input_grad", 0), vjp=vjp_rule(_input_grad_rule),
                               cost=_cost, onnx=NO_ONNX)
GRID_SAMPLE_GRID_GRAD = defop("grid_sample_grid_grad", forward=_in_float32(_grid_grad_forward),
                              infer=_grad_infer("grid_sample_grid_grad", 1), vjp=vjp_rule(_grid_grad_rule), cost=_cost,
                              onnx=NO_ONNX)


def grid_sample(input: TensorLike, grid: TensorLike, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> TensorLike:
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2) of (x, y) coordinates in [-1, 1], or 5-D
    input (N, C, D, H, W) at (N, D_out, H_out, W_out, 3) of (x, y, z): PyTorch's ``grid_sample``. ``mode``:
    "bilinear", "nearest" or "bicubic" (4-D only); ``padding_mode``: "zeros", "border" or "reflection";
    ``align_corners``: whether -1 and 1 are the corner pixels' centres (True) or their outer edges (False, the
    default). Differentiable in both input and grid.

    >>> theta = ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    >>> ember.grid_sample(ember.randn(1, 3, 4, 4), ember.affine_grid(theta, (1, 3, 8, 8))).shape
    (1, 3, 8, 8)
    """
    input, grid = widened(as_tensor(input), as_tensor(grid, input))  # (float32 in an autocast region, as PyTorch)
    attrs = {"mode": mode, "padding_mode": padding_mode, "align_corners": bool(align_corners),
             "derivative": (0,) * (input.ndim - 2)}
    _grid_sample_infer(Spec(tuple(input.shape), input.dtype), Spec(tuple(grid.shape), grid.dtype), **attrs)
    return dispatch.apply(GRID_SAMPLE, (input, grid), attrs)


def _base_grid(size: tuple, align_corners: bool, dtype) -> np.ndarray:
    """(prod(spatial), D + 1) rows (x, y[, z], 1) over the output's spatial grid, x varying fastest."""
    steps = []
    for n in reversed(size):  # x (the width) first
        line = np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
        line = line.astype(dtype)
        steps.append(line if align_corners else line * dtype.type((n - 1) / n))
    mesh = np.meshgrid(*reversed(steps), indexing="ij")  # spatial axes in order: (D,) H, W
    columns = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(math.prod(size), dtype)]
    return np.stack(columns, axis=1)


def affine_grid(theta: TensorLike, size, align_corners: bool | None = None) -> TensorLike:
    """The sampling grid of a batch of affine maps: ``theta`` (N, 2, 3) and ``size`` (N, C, H, W) give
    (N, H, W, 2); ``theta`` (N, 3, 4) and ``size`` (N, C, D, H, W) give (N, D, H, W, 3). PyTorch's
    ``affine_grid``; differentiable in ``theta``.

    >>> ember.affine_grid(ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), (1, 3, 4, 5)).shape
    (1, 4, 5, 2)
    """
    theta = as_tensor(theta)
    size = tuple(size)
    if len(size) not in (4, 5) or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size):
        raise ValueError(f"affine_grid: size must be 4 or 5 positive ints (N, C, [D,] H, W), got {size}")
    dims = len(size) - 2
    if theta.dtype not in FLOATING or theta.ndim != 3 or tuple(theta.shape[1:]) != (dims, dims + 1) \
            or theta.shape[0] not in (size[0], None):
        raise ValueError(f"affine_grid: theta must be floating ({size[0]}, {dims}, {dims + 1}) for size {list(size)}, "
                         f"got {theta.dtype}{list(theta.shape)}")
    base = as_tensor(_base_grid(size[2:], bool(align_corners), np.dtype(theta.dtype)), theta)
    grid = matmul(base, transpose(theta, (0, 2, 1)))  # (N, points, D)
    return reshape(grid, (-1, *size[2:], dims))

"""The convolution op records for one spatial rank: ``conv_ops(rank, ...)`` makes conv{rank}d, its weight gradient
conv{rank}d_weight_grad and conv_transpose{rank}d from the rank's three forwards.

The three primitives are bilinear, and the vjps of each are the other two, so gradients of any order stay inside
the set. Their shape rules, vjps and costs read the rank from the arrays and attributes, so one definition serves
2-D (``ember.ops.conv``, whose tuned NumPy and oneDNN kernels are its forwards) and 3-D (``ember.ops.conv3d``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ember.ops import dispatch
from ember.ops.autocast import LOWER
from ember.ops.conv_nd import conv_out_size, transposed_size
from ember.ops.infer import as_int, check_window, require_float, same_dtype
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.reduction import SUM
from ember.ops.registry import NO_ONNX, Cost, Op, Spec, defop, shape_error

# per rank: the input's layout, the weight's kernel axes and the spatial axes' letters, as errors name them
_LAYOUTS = {2: ("(N, C, H, W)", "kH, kW", "HW"), 3: ("(N, C, D, H, W)", "kD, kH, kW", "DHW")}


class ConvOps(NamedTuple):
    """The three records of one rank."""

    conv: Op
    weight_grad: Op
    transpose: Op


def check_conv(name: str, x: Spec, w: Spec, groups: int, transposed: bool = False, rank: int = 2) -> None:
    """Channel, group and dtype checks shared by the convolutions and transposed convolutions over ``rank`` spatial
    axes."""
    specs = [x, w]
    layout, taps, _ = _LAYOUTS[rank]
    if as_int(name, groups, "groups", specs) < 1:
        raise shape_error(name, specs, f"groups must be positive, got {groups}")
    if x.ndim != rank + 2:
        raise shape_error(name, specs, f"input must be {rank + 2}-D {layout}, got {x.ndim}-D")
    if w.ndim != rank + 2:
        raise shape_error(name, specs, f"weight must be {rank + 2}-D, got {w.ndim}-D")
    same_dtype(name, specs)
    require_float(name, specs)
    if any(k is not None and k < 1 for k in w.shape[2:]):  # an empty kernel would give only the padding's zeros
        raise shape_error(name, specs, f"the kernel {list(w.shape[2:])} must be at least 1 along every axis")
    if transposed:
        if w.shape[0] != x.shape[1]:
            raise shape_error(
                name, specs, f"weight (C_in, C_out/groups, {taps}) has C_in={w.shape[0]}, input has {x.shape[1]} "
                "channels")
        if x.shape[1] % groups:
            raise shape_error(name, specs, f"input channels ({x.shape[1]}) are not divisible by groups={groups}")
        return
    if x.shape[1] % groups or w.shape[0] % groups:
        raise shape_error(
            name, specs, f"input channels ({x.shape[1]}) and output channels ({w.shape[0]}) must both be divisible "
            f"by groups={groups}")
    if w.shape[1] * groups != x.shape[1]:
        raise shape_error(
            name, specs, f"weight expects {w.shape[1] * groups} input channels ({w.shape[1]} per group x {groups} "
            f"groups), input has {x.shape[1]}")


def crop(run, t, shape):
    """``t`` cut to the spatial size of ``shape`` (extra rows/columns appear when output_padding >= stride), inside
    a rule over ``run``; any number of spatial axes."""
    if tuple(t.shape[2:]) == tuple(shape[2:]):
        return t
    from ember.ops.indexing import GETITEM

    return run(GETITEM, t, index=(slice(None), slice(None)) + tuple(slice(0, s) for s in shape[2:]))


def transpose_attrs(g_shape, w_shape, output_size, *, stride, padding, dilation, groups) -> dict:
    """A transposed convolution's attributes for a gradient of ``g_shape`` whose output has the spatial
    ``output_size`` of the convolution's input."""
    output_padding = tuple(
        output_size[a] + 2 * padding[a] - dilation[a] * (w_shape[2 + a] - 1) - 1 - (g_shape[2 + a] - 1) * stride[a]
        for a in range(len(output_size))
    )
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
            "output_padding": output_padding}


def _conv_cost(out, x, w, bias=None, **attrs) -> Cost:
    per_output = w.size // w.shape[0]  # (C / groups) * prod(kernel) multiply-adds per output element (the bias's
    # adds uncounted, as linear's and fvcore's counts leave them out)
    return Cost(2 * out.size * per_output, out.nbytes + x.nbytes + w.nbytes + (bias.nbytes if bias is not None else 0))


def _weight_grad_cost(out, x, gy, **attrs) -> Cost:
    per_output = out.size // out.shape[0]
    return Cost(2 * gy.size * per_output, out.nbytes + x.nbytes + gy.nbytes)


def _transpose_cost(out, x, w, **attrs) -> Cost:
    per_input = w.size // w.shape[0]  # (C_out / groups) * prod(kernel) multiply-adds per input element
    return Cost(2 * x.size * per_input, out.nbytes + x.nbytes + w.nbytes)


def empty_safe(infer):
    """A convolution kernel wrapped to answer inputs with no elements (an empty batch, no channels) itself: the
    products' reshapes cannot infer a size from 0 elements. The result is the shape rule's zeros, plus the bias
    where one is given (a convolution over no input channels is its bias, as PyTorch's)."""
    def wrap(forward):
        def run(xp, *arrays, **attrs):
            if all(a is None or a.size for a in arrays):
                return forward(xp, *arrays, **attrs)
            spec = infer(*(None if a is None else Spec(a.shape, a.dtype) for a in arrays), **attrs)
            result = xp.zeros(spec.shape, spec.dtype)
            if len(arrays) > 2 and arrays[2] is not None and result.size:
                result += arrays[2].reshape((1, -1) + (1,) * (result.ndim - 2)).astype(spec.dtype)
            return result
        return run
    return wrap


def conv_ops(rank: int, conv_forward: Callable, weight_grad_forward: Callable,
             transpose_forward: Callable, conv_residuals: Callable | None = None) -> ConvOps:
    """Register conv{rank}d, conv{rank}d_weight_grad and conv_transpose{rank}d with these forwards and return the
    records; their ``infer`` is also what the public functions check their arguments with. ``conv_residuals``:
    a forward that also returns what the transposed convolution then takes as its ``dense`` argument for the input
    gradient (or None there): a matrix both multiply by (2-D, ``ember.ops.conv_dense``)."""
    conv_name, grad_name, transpose_name = f"conv{rank}d", f"conv{rank}d_weight_grad", f"conv_transpose{rank}d"
    axes = _LAYOUTS[rank][2]
    spatial = tuple(range(rank))
    bias_axes = (0,) + tuple(range(2, rank + 2))

    def conv_infer(x, w, bias=None, *, stride, padding, dilation, groups):
        check_window(conv_name, [x, w], rank, stride=stride, padding=padding, dilation=dilation)
        check_conv(conv_name, x, w, groups, rank=rank)
        if bias is not None:
            specs = [x, w, bias]
            same_dtype(conv_name, specs)
            if bias.ndim != 1 or bias.shape[0] != w.shape[0]:
                raise shape_error(conv_name, specs, f"bias must have shape [{w.shape[0]}] (one per output channel)")
        sizes = []
        for axis in spatial:
            size, kernel = x.shape[2 + axis], w.shape[2 + axis]
            out = conv_out_size(size, kernel, stride[axis], padding[axis], dilation[axis])
            if out <= 0:
                raise shape_error(
                    conv_name, [x, w], f"kernel size {kernel} (dilated: {dilation[axis] * (kernel - 1) + 1}) is "
                    f"larger than the padded input size {size + 2 * padding[axis]} along {axes[axis]}")
            sizes.append(out)
        return Spec((x.shape[0], w.shape[0], *sizes), x.dtype)

    def conv_rule(run, ctx, g):
        x, w = ctx.inputs[:2]
        attrs = ctx.attrs
        gx = gw = None
        if ctx.needs[0]:
            shared = {} if ctx.residuals is None or run is on_tensors else {"dense": ctx.residuals}
            gx = run(transpose_op, g, w, **shared, **transpose_attrs(g.shape, w.shape, tuple(x.shape[2:]), **attrs))
        if ctx.needs[1]:
            gw = run(grad_op, x, g, kernel_size=tuple(w.shape[2:]), **attrs)
        if len(ctx.inputs) == 2:
            return gx, gw
        gb = run(SUM, g, axis=bias_axes, keepdims=False) if ctx.needs[2] else None
        return gx, gw, gb

    def weight_grad_infer(x, gy, *, stride, padding, dilation, groups, kernel_size):
        specs = [x, gy]
        check_window(grad_name, specs, rank, stride=stride, padding=padding, dilation=dilation,
                     kernel_size=kernel_size)
        if as_int(grad_name, groups, "groups", specs) < 1:
            raise shape_error(grad_name, specs, f"groups must be positive, got {groups}")
        if x.ndim != rank + 2 or gy.ndim != rank + 2:
            raise shape_error(grad_name, specs, f"input and output gradient must be {rank + 2}-D")
        same_dtype(grad_name, specs)
        if x.shape[0] != gy.shape[0] or x.shape[1] % groups or gy.shape[1] % groups:
            raise shape_error(grad_name, specs, f"batch sizes or channels do not fit groups={groups}")
        for axis in spatial:
            expected = conv_out_size(x.shape[2 + axis], kernel_size[axis], stride[axis], padding[axis], dilation[axis])
            if not 1 <= gy.shape[2 + axis] <= expected:
                raise shape_error(grad_name, specs, f"output gradient must have size at most {expected} "
                                  f"along {axes[axis]}, got {gy.shape[2 + axis]}")
        return Spec((gy.shape[1], x.shape[1] // groups) + tuple(kernel_size), x.dtype)

    def weight_grad_vjp(ctx, gg):
        x, gy = ctx.inputs
        attrs = dict(ctx.attrs)
        del attrs["kernel_size"]
        gx = ggy = None
        if ctx.needs[0]:
            transpose = transpose_attrs(gy.shape, gg.shape, tuple(x.shape[2:]), **attrs)
            gx = dispatch.apply(transpose_op, (gy, gg), transpose)
        if ctx.needs[1]:
            ggy = crop(on_tensors, dispatch.apply(conv_op, (x, gg), attrs), gy.shape)
        return gx, ggy

    def transpose_infer(x, w, *, stride, padding, dilation, groups, output_padding, dense=None):
        check_window(transpose_name, [x, w], rank, stride=stride, padding=padding, dilation=dilation,
                     output_padding=output_padding)
        check_conv(transpose_name, x, w, groups, transposed=True, rank=rank)
        size = tuple([transposed_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a], dilation[a],
                                      output_padding[a]) for a in spatial])
        if min(size) <= 0:
            raise shape_error(transpose_name, [x, w], f"the output size {list(size)} is not positive")
        return Spec((x.shape[0], w.shape[1] * groups) + size, x.dtype)

    def transpose_rule(run, ctx, g):
        x, w = ctx.inputs
        attrs = dict(ctx.attrs)
        del attrs["output_padding"]
        attrs.pop("dense", None)
        gx = crop(run, run(conv_op, g, w, **attrs), x.shape) if ctx.needs[0] else None
        gw = run(grad_op, g, x, kernel_size=tuple(w.shape[2:]), **attrs) if ctx.needs[1] else None
        return gx, gw

    conv_op = defop(conv_name, forward=empty_safe(conv_infer)(conv_forward), infer=conv_infer,
                    vjp=vjp_rule(conv_rule), cost=_conv_cost, onnx="Conv", autocast=LOWER, residuals=conv_residuals)
    grad_op = defop(grad_name, forward=empty_safe(weight_grad_infer)(weight_grad_forward), infer=weight_grad_infer,
                    vjp=weight_grad_vjp, cost=_weight_grad_cost, onnx=NO_ONNX)
    transpose_op = defop(transpose_name, forward=empty_safe(transpose_infer)(transpose_forward),
                         infer=transpose_infer, vjp=vjp_rule(transpose_rule), cost=_transpose_cost,
                         onnx="ConvTranspose", autocast=LOWER)
    return ConvOps(conv_op, grad_op, transpose_op)

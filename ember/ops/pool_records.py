"""The pooling op records for one spatial rank: ``max_pool_ops(rank, ...)`` makes max_pool{rank}d, its gradient
and the gradient's vjp (``_gather``), ``avg_pool_ops(rank, ...)`` avg_pool{rank}d and its gradient, from the rank's
forwards.

The shape rules, vjps and costs read the rank from the attributes, so one definition serves 2-D
(``ember.ops.pooling``, whose tuned NumPy, oneDNN and GPU kernels are its forwards) and 3-D (``ember.ops.pool3d``).
Max pooling's gradient and gather ops are linear in their second input and each is the other's vjp; average
pooling's gradient is linear, its vjp the pooling itself. Average pooling's gradient recorded on Tensors is tied to
the input (``piecewise.tie``), as PyTorch's backward reads it: a second derivative is zeros for x, not refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from ember.backend.dtypes import bool_
from ember.ops import dispatch
from ember.ops.infer import check_window, refuse_complex, require_float
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.piecewise import TIE
from ember.ops.registry import NO_ONNX, Cost, Op, Spec, defop, shape_error
from ember.ops.sized import fill_like

_LAYOUTS = {2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


class MaxPoolOps(NamedTuple):
    """max_pool{rank}d, max_pool{rank}d_grad and max_pool{rank}d_gather."""

    pool: Op
    grad: Op
    gather: Op


class AvgPoolOps(NamedTuple):
    """avg_pool{rank}d and avg_pool{rank}d_grad."""

    pool: Op
    grad: Op


def pool_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """Output length along one axis; with ``ceil_mode`` a last partial window counts if it starts inside
    the input or its left padding (PyTorch's rule)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pool_cost(out, *inputs, kernel_size, **attrs) -> Cost:
    """A pooling op's cost, whatever its spatial rank: one operation per kernel tap and pooled element."""
    pooled = min(s.size for s in (out,) + inputs)  # the pooled side: output of a pool, input of its gradient
    return Cost(math.prod(kernel_size) * pooled, out.nbytes + sum(s.nbytes for s in inputs))


def check_pool(name: str, x: Spec, rank: int, kernel_size, stride, padding, dilation, ceil_mode) -> Spec:
    """The pooled output's spec for ``x`` over ``rank`` spatial axes, with an error naming the op for bad windows."""
    check_window(name, [x], rank, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    if x.ndim != rank + 2:
        raise shape_error(name, [x], f"input must be {rank + 2}-D {_LAYOUTS[rank]}, got {x.ndim}-D")
    spatial = range(rank)
    for a in spatial:
        if padding[a] > kernel_size[a] // 2:
            raise shape_error(name, [x], f"padding {padding} must be at most half the kernel size {kernel_size}")
    out = tuple([pool_out_size(x.shape[2 + a], kernel_size[a], stride[a], padding[a], dilation[a], ceil_mode)
                 for a in spatial])
    if min(out) <= 0:
        padded = [x.shape[2 + a] + 2 * padding[a] for a in spatial]
        raise shape_error(name, [x], f"kernel size {kernel_size} (dilation {dilation}) does not fit the padded input "
                          f"{padded}: output size {list(out)}")
    return Spec(tuple(x.shape[:2]) + out, x.dtype)


def check_max_pool_dtype(name: str, x: Spec, bools: bool = False) -> None:
    """Max pooling needs ordered values: complex input is refused as PyTorch's (and ``max``) refuse it, and bool
    input too unless ``bools`` (NumPy's window maxima would fail on it with an unrelated message)."""
    refuse_complex(name, [x])
    if not bools and x.dtype == bool_:
        raise shape_error(name, [x], "is not defined for bool inputs (as in PyTorch); cast them first, e.g. x.float()")


def _without_workspace(attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if k != "workspace"}


def max_pool_ops(rank: int, forward: Callable, grad_forward: Callable, gather_forward: Callable,
                 residuals: Callable | None = None) -> MaxPoolOps:
    """Register max_pool{rank}d, its gradient and gather with these forwards. ``residuals``: a forward that also
    returns a workspace, which the gradient then takes as its ``workspace`` argument (2-D on oneDNN)."""
    name, grad_name, gather_name = f"max_pool{rank}d", f"max_pool{rank}d_grad", f"max_pool{rank}d_gather"

    def infer(x, *, kernel_size, stride, padding, dilation, ceil_mode):
        check_max_pool_dtype(name, x)
        return check_pool(name, x, rank, kernel_size, stride, padding, dilation, ceil_mode)

    def grad_infer(x, g, workspace=None, *, kernel_size, stride, padding, dilation, ceil_mode):
        expected = check_pool(grad_name, x, rank, kernel_size, stride, padding, dilation, ceil_mode)
        if tuple(g.shape) != expected.shape or g.dtype != x.dtype:
            raise shape_error(grad_name, [x, g], f"the gradient must be {x.dtype}{list(expected.shape)}")
        return Spec(tuple(x.shape), x.dtype)

    def gather_infer(x, h, *, kernel_size, stride, padding, dilation, ceil_mode):
        if tuple(h.shape) != tuple(x.shape) or h.dtype != x.dtype:
            raise shape_error(gather_name, [x, h], "both inputs must have one shape and dtype")
        return check_pool(gather_name, x, rank, kernel_size, stride, padding, dilation, ceil_mode)

    def rule(run, ctx, g):
        if ctx.residuals is None:
            return (run(grad_op, ctx.inputs[0], g, **ctx.attrs),)
        return (run(grad_op, ctx.inputs[0], g, workspace=ctx.residuals, **ctx.attrs),)

    def grad_vjp(ctx, gg):
        # the routing of the gradient is piecewise constant in x (zeros there, as PyTorch's) and linear in g
        x = ctx.inputs[0]
        return (fill_like(x, 0, x.dtype) if ctx.needs[0] else None,
                dispatch.apply(gather_op, (x, gg), _without_workspace(ctx.attrs)) if ctx.needs[1] else None)

    def gather_vjp(ctx, g):
        return None, dispatch.apply(grad_op, (ctx.inputs[0], g), ctx.attrs) if ctx.needs[1] else None

    pool_op = defop(name, forward=forward, infer=infer, vjp=vjp_rule(rule), cost=pool_cost, onnx="MaxPool",
                    residuals=residuals)
    grad_op = defop(grad_name, forward=grad_forward, infer=grad_infer, vjp=grad_vjp, cost=pool_cost, onnx=NO_ONNX)
    gather_op = defop(gather_name, forward=gather_forward, infer=gather_infer, vjp=gather_vjp, cost=pool_cost,
                      onnx=NO_ONNX)
    return MaxPoolOps(pool_op, grad_op, gather_op)


def avg_pool_ops(rank: int, forward: Callable, grad_forward: Callable) -> AvgPoolOps:
    """Register avg_pool{rank}d and its gradient with these forwards."""
    name, grad_name = f"avg_pool{rank}d", f"avg_pool{rank}d_grad"
    no_dilation = (1,) * rank

    def infer(x, *, kernel_size, stride, padding, ceil_mode, count_include_pad):
        require_float(name, [x])
        return check_pool(name, x, rank, kernel_size, stride, padding, no_dilation, ceil_mode)

    def grad_infer(g, *, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad):
        check_window(grad_name, [g], rank, input_size=input_size)
        shape = tuple(g.shape[:2]) + tuple(input_size)
        expected = check_pool(grad_name, Spec(shape, g.dtype), rank, kernel_size, stride, padding, no_dilation,
                              ceil_mode)
        if tuple(g.shape) != expected.shape:
            raise shape_error(grad_name, [g], f"the gradient must have shape {list(expected.shape)}")
        return Spec(shape, g.dtype)

    def rule(run, ctx, g):
        x = ctx.inputs[0]
        dx = run(grad_op, g, input_size=tuple(x.shape[2:]), **ctx.attrs)
        # PyTorch's backward reads x, so the gradient requires grad whenever x does (zeros for it): tied on Tensors
        return (run(TIE, dx, x) if run is on_tensors else dx,)

    def grad_rule(run, ctx, gg):
        attrs = dict(ctx.attrs)
        del attrs["input_size"]
        return (run(pool_op, gg, **attrs),)

    pool_op = defop(name, forward=forward, infer=infer, vjp=vjp_rule(rule), cost=pool_cost, onnx="AveragePool")
    grad_op = defop(grad_name, forward=grad_forward, infer=grad_infer, vjp=vjp_rule(grad_rule), cost=pool_cost,
                    onnx=NO_ONNX)
    return AvgPoolOps(pool_op, grad_op)

"""The input of a piecewise-linear function (hardtanh, leaky_relu, the shrinks, prelu, max pooling by gathered
indices): the function is composed from ``where`` or ``gather``, whose gradient for x is the incoming one masked or
scattered, with no x in it. PyTorch's backward of each such op reads its input (``hardtanh_backward(grad, self)``),
so the first derivative requires grad whenever x does and a second derivative comes out zeros for x: ``piecewise``
passes x through, and its vjp ties the gradient back to x with ``tie``, whose own derivative for x is zeros. The
linear functions composed from means, matmuls or gathers whose PyTorch backward reads its input too (adaptive
average pooling, reflection and replication padding) pass theirs through it alike."""

from __future__ import annotations

from ember.ops import dispatch
from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error
from ember.ops.sized import fill_like


def _tie_vjp(ctx, gg):
    x = ctx.inputs[1]
    return gg if ctx.needs[0] else None, fill_like(x, 0, x.dtype) if ctx.needs[1] else None


def _tie_infer(g, x):
    if len(g.shape) != len(x.shape) or any(a != b and None not in (a, b) for a, b in zip(g.shape, x.shape)):
        raise shape_error("tie", [g, x], "the gradient must have the input's shape")
    return Spec(tuple(g.shape), g.dtype)


# g itself (a view), with x as an input whose derivative is zeros: the gradient a piecewise-linear op gives x
TIE = defop(
    "tie",
    forward=lambda xp, g, x: g.view(),
    infer=_tie_infer,
    vjp=_tie_vjp,
    cost=lambda out, g, x: Cost(0, 0),
    onnx=NO_ONNX,
)


def _piecewise_rule(run, ctx, g):
    # on arrays (a first-order eager backward) nothing is recorded that a tie could serve
    return (run(TIE, g, ctx.inputs[0]) if run is on_tensors else g,)


PIECEWISE = defop(
    "piecewise",
    forward=lambda xp, x: x.view(),
    infer=lambda x: Spec(tuple(x.shape), x.dtype),
    vjp=vjp_rule(_piecewise_rule),
    cost=lambda out, x: Cost(0, 0),
    onnx="Identity",
)


def piecewise(x) -> TensorLike:
    """``x`` as the input of a piecewise-linear function: its gradient then requires grad whenever x does (and
    its derivative for x is zeros), as PyTorch's; x itself where no gradient is recorded."""
    x = as_tensor(x)
    if dispatch.grad_enabled() and (x.symbolic or x.requires_grad):  # (an export or inference trace: no node)
        return dispatch.apply(PIECEWISE, (x,))
    return x

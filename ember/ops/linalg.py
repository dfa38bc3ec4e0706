"""Matrix multiplication with NumPy's ``matmul`` semantics (1-D promotion, batch broadcasting)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX, LOW_PRECISION, float32
from ember.ops import dispatch, lowering
from ember.ops.autocast import LOWER, unlowered
from ember.ops.complex_parts import CONJ, Conjugated
from ember.ops.convert import promote
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import RELU_GRAD, relu_in_place
from ember.ops.infer import broadcast_shapes, differ, refuse_complex, same_dtype
from ember.ops.kernels import matrix_product
from ember.ops.modes import vjp_rule
from ember.ops.reduction import SUM
from ember.ops.registry import Cost, ShapeError, Spec, defop, shape_error
from ember.ops.shape import RESHAPE, TRANSPOSE, reshape_with, transpose, unbroadcast_with


def _matmul_forward(xp, a, b):
    if a.dtype in LOW_PRECISION and xp.__name__ == "numpy":
        # NumPy has no BLAS for float16 / bfloat16: compute in float32 and round once (as PyTorch's CPU does).
        return xp.matmul(a.astype(float32), b.astype(float32)).astype(a.dtype)
    return matrix_product(xp, a, b)


def _matmul_infer(a, b):
    specs = [a, b]
    same_dtype("matmul", specs)
    if a.ndim == 0 or b.ndim == 0:
        raise shape_error("matmul", specs, "inputs must have at least one dimension")
    a_shape = (1,) + tuple(a.shape) if a.ndim == 1 else tuple(a.shape)
    b_shape = tuple(b.shape) + (1,) if b.ndim == 1 else tuple(b.shape)
    if differ(a_shape[-1], b_shape[-2]):
        raise shape_error("matmul", specs, f"inner dimensions differ ({a_shape[-1]} vs {b_shape[-2]})")
    try:
        batch = broadcast_shapes("matmul", [Spec(a_shape[:-2], a.dtype), Spec(b_shape[:-2], b.dtype)])
    except ShapeError:
        raise shape_error("matmul", specs, "batch dimensions cannot be broadcast together") from None
    shape = batch + (a_shape[-2], b_shape[-1])
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    return Spec(shape, a.dtype)


def _matmul_cost(out, a, b):
    k = a.shape[-1]
    return Cost(2 * out.size * k, out.nbytes + a.nbytes + b.nbytes)


def _last_two_swapped(run, x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return run(TRANSPOSE, x, axes=tuple(axes))


def _matmul_rule(run, ctx, g):
    a, b = ctx.inputs
    if g.dtype in COMPLEX:  # PyTorch's complex gradients: g @ b^H and a^H @ g
        a, b = run(CONJ, a), run(CONJ, b)
    a2 = reshape_with(run, a, (1, a.shape[0])) if a.ndim == 1 else a
    b2 = reshape_with(run, b, (b.shape[0], 1)) if b.ndim == 1 else b
    out_shape = tuple(g.shape)
    if a.ndim == 1:
        out_shape = out_shape[:-1] + (1,) + out_shape[-1:]
    if b.ndim == 1:
        out_shape = out_shape + (1,)
    g2 = reshape_with(run, g, out_shape)
    ga = gb = None
    if ctx.needs[0]:
        ga = reshape_with(run, unbroadcast_with(run, run(MATMUL, g2, _last_two_swapped(run, b2)), a2.shape), a.shape)
    if ctx.needs[1]:
        gb = reshape_with(run, unbroadcast_with(run, run(MATMUL, _last_two_swapped(run, a2), g2), b2.shape), b.shape)
    return ga, gb


MATMUL = defop(
    "matmul",
    forward=_matmul_forward,
    infer=_matmul_infer,
    vjp=vjp_rule(_matmul_rule),
    cost=_matmul_cost,
    onnx="MatMul",
    lower=lowering.matmul,
    autocast=LOWER,
    writes_out=True,
    in_place=False,
    fresh=True,
)


def matmul(a, b) -> TensorLike:
    """Matrix product with broadcasting batch dimensions, like ``numpy.matmul`` and the ``@`` operator. A sparse (COO
    or CSR) operand takes its own product, with a dense result (``ember.sparse.mm``), as ``torch.matmul``."""
    try:
        operands = promote(a, b)
    except TypeError:  # a sparse tensor is no array; asked only here, so the dense products pay nothing for it
        if getattr(a, "_sparse_layout", False):
            return a.matmul(b)
        if getattr(b, "_sparse_layout", False):
            return b.__rmatmul__(a)
        raise
    return dispatch.apply(MATMUL, operands)


def dot(a, b) -> TensorLike:
    """Inner product of two 1-D tensors of one size, as ``torch.dot`` (neither conjugated; ``vdot`` conjugates)."""
    a, b = promote(a, b)
    if a.ndim != 1 or b.ndim != 1 or differ(a.shape[0], b.shape[0]):
        raise ValueError(f"dot: expects two 1-D tensors of one size, got shapes {list(a.shape)} and {list(b.shape)}")
    with unlowered(a):  # (PyTorch's autocast leaves dot in its inputs' dtype)
        return dispatch.apply(MATMUL, (a, b))


# --- linear: x @ weight.T + bias ----------------------------------------------------------------------------
# Its own primitive because measurement showed it pays: composed from transpose + matmul + add, the weight
# gradient came out as a transposed view, and the optimizer's in-place updates over that strided memory cost
# more than the matmuls around them (W2 step). Here dW is computed in the weight's own layout: g.T @ x for a
# row-major weight, (x.T @ g).T for a column-major one (the memory of an (in, out) matrix, seen transposed).


def _linear_forward(xp, x, weight, bias=None):
    if x.ndim == 2 and x.dtype not in LOW_PRECISION:  # the common case first: a batch of vectors
        out = matrix_product(xp, x, weight.T)
        if bias is not None:
            out += bias
        return out
    lead = x.shape[:-1]
    if len(lead) > 1:  # one matrix product over every leading axis, not one per slice (copies a strided x once)
        x = x.reshape(-1, x.shape[-1])
    if x.dtype in LOW_PRECISION and xp.__name__ == "numpy":
        out = xp.matmul(x.astype(float32), weight.astype(float32).T)
        if bias is not None:
            out = _add_bias(out, bias.astype(float32), lead + (weight.shape[0],))
        out = out.astype(x.dtype)
    else:
        out = matrix_product(xp, x, weight.T)
        if bias is not None:
            out = _add_bias(out, bias, lead + (weight.shape[0],))
    return out.reshape(lead + (weight.shape[0],)) if len(lead) > 1 else out


def bias_on_rows(x_ndim: int, bias_shape: tuple) -> bool:
    """Whether PyTorch adds the bias to the product's rows, (-1, out_features) (addmm's broadcast), rather than
    to the output: for a 2-d input, or a bias with one dimension other than 1 (``at::linear``'s flattening)."""
    return x_ndim == 2 or len(bias_shape) == 1 or sum(d != 1 for d in bias_shape) == 1


def _add_bias(out, bias, shape: tuple):
    """``out`` (the product's rows, or its one row for a 1-d input) plus ``bias``, in place, as PyTorch adds it
    (``bias_on_rows``); NumPy's in-place broadcast refuses what PyTorch refuses."""
    if out.ndim == 2 and bias.ndim == 1:  # the common case
        out += bias
    elif bias_on_rows(len(shape), bias.shape):
        rows = out.reshape(-1, out.shape[-1])
        rows += bias
        out = rows.reshape(out.shape)
    else:
        out = out.reshape(shape)
        out += bias
    return out


def _bias_target(x_shape: tuple, bias_shape: tuple, out_shape: tuple) -> tuple:
    """The shape PyTorch broadcasts the bias to: the product's rows or the output (``bias_on_rows``)."""
    if not bias_on_rows(len(x_shape), bias_shape):
        return out_shape
    lead = out_shape[:-1]
    rows = None if None in lead else int(np.prod(lead, dtype=np.int64))
    return rows, out_shape[-1]


def _linear_infer(x, weight, bias=None):
    specs = [x, weight] + ([bias] if bias is not None else [])
    same_dtype("linear", specs)
    if weight.ndim != 2 or x.ndim == 0 or differ(x.shape[-1], weight.shape[1]):
        raise shape_error("linear", specs, "needs input (..., in_features) and weight (out_features, in_features)")
    out_shape = tuple(x.shape[:-1]) + (weight.shape[0],)
    if bias is not None and not (bias.ndim == 1 and bias.shape[0] == weight.shape[0]):
        target = _bias_target(x.shape, bias.shape, out_shape)
        if bias.ndim > len(target) or any(differ(d, 1) and differ(d, t)
                                          for d, t in zip(reversed(bias.shape), reversed(target))):
            raise shape_error("linear", specs, f"bias must broadcast to {list(target)} (as PyTorch's: the "
                              "product's rows for a 2-d input or a bias with one dimension other than 1, else the "
                              "output)")
    return Spec(out_shape, x.dtype)


def _linear_cost(out, x, weight, bias=None):
    return Cost(2 * out.size * weight.shape[1], out.nbytes + x.nbytes + weight.nbytes)


def _column_major(weight) -> bool:
    """Whether a weight (an array, or a Tensor's data) is stored column by column (``nn.Linear``'s layout); a
    graph Value's Symbol says whether the Tensor it was captured from is."""
    array = weight.array if isinstance(weight, TensorLike) else weight
    flags = getattr(array, "flags", None)
    if flags is None:
        return getattr(array, "column_major", False)
    return flags.f_contiguous and not flags.c_contiguous


def _linear_rule(run, ctx, g):
    if g.dtype in COMPLEX:  # PyTorch's complex gradients: g @ conj(W), g^T @ conj(x)
        ctx = Conjugated(run, ctx)
    x, weight = ctx.inputs[0], ctx.inputs[1]
    needs = ctx.needs
    biased = len(needs) > 2
    if g.ndim == 2:  # the common case, a batch of vectors: the products below take g and x as they are
        gx = run(MATMUL, g, weight) if needs[0] else None
        g2, x2 = g, x
    else:
        gx = None
        if needs[0]:  # as the forward: one matrix product over every leading axis
            if g.ndim < 2:
                gx = run(MATMUL, g, weight)
            else:
                rows = run(MATMUL, run(RESHAPE, g, shape=(-1, weight.shape[0])), weight)
                gx = reshape_with(run, rows, x.shape)
        if not (needs[1] or (biased and needs[2])):
            return (gx, None, None) if biased else (gx, None)
        g2 = run(RESHAPE, g, shape=(-1, weight.shape[0]))
        x2 = run(RESHAPE, x, shape=(-1, weight.shape[1])) if needs[1] and x.ndim != 2 else x
    gw = None
    if needs[1]:
        # ``.T`` is the transpose op on Tensors and graph Values and a free view on the arrays of the array
        # mode, where it spares a run call per transpose in the hottest backward
        if _column_major(weight):  # (x.T @ g).T: the same numbers, laid out as the weight is
            gw = run(MATMUL, x2.T, g2).T
        else:
            gw = run(MATMUL, g2.T, x2)
    if biased:
        return gx, gw, _bias_grad(run, g, g2, ctx.inputs[2], x.ndim) if needs[2] else None
    return gx, gw


def _bias_grad(run, g, rows, bias, x_ndim: int):
    """The bias's gradient: the output's gradient ``g`` (``rows``: as (-1, out_features)) summed back to the
    bias's shape, over the rows or the output as the forward added it."""
    if bias.ndim == 1 and bias.shape[0] == rows.shape[1]:  # the common case
        return run(SUM, rows, axis=0, keepdims=False)
    return unbroadcast_with(run, rows if bias_on_rows(x_ndim, bias.shape) else g, bias.shape)


LINEAR = defop(
    "linear",
    forward=_linear_forward,
    infer=_linear_infer,
    vjp=vjp_rule(_linear_rule),
    cost=_linear_cost,
    onnx="Gemm",
    lower=lowering.linear,
    autocast=LOWER,
    writes_out=True,
    in_place=False,
    fresh=True,
)


def linear(x, weight, bias=None) -> TensorLike:
    """``x @ weight.T + bias`` with weight (out_features, in_features), as in ``torch.nn.functional.linear``; a 1-D
    weight (in_features,) gives ``x @ weight`` (one output feature, dropped), as PyTorch's."""
    ndim = getattr(weight, "ndim", None)
    if ndim != 2 and ndim is not None:
        if ndim == 1:  # (the linear record's forward would take it eagerly, and a graph not)
            out = matmul(x, weight)
            return out if bias is None else out + bias
        if ndim > 2:  # (the forward's matmul would broadcast it as a batch of weights)
            raise ShapeError(f"linear: weight must be (out_features, in_features) or (in_features,), got shape "
                             f"{list(weight.shape)}")
    try:
        return _apply_linear(LINEAR, x, weight, bias)
    except TypeError:  # a sparse tensor is no array; asked only here, so dense calls pay nothing for it
        if not getattr(x, "_sparse_layout", False):
            raise
    out = x.mm(transpose(weight))  # the sparse product, dense, gradients to the values and the weight
    return out if bias is None else out + bias


def _apply_linear(op, x, weight, bias) -> TensorLike:
    """``op`` (linear or linear_relu) on its inputs, promoted to one dtype."""
    if bias is None:
        return dispatch.apply(op, promote(x, weight))
    if isinstance(x, TensorLike) and isinstance(weight, TensorLike) and isinstance(bias, TensorLike):
        dtype = x.array.dtype  # a layer's call: three values of one dtype, which promote returns as they are
        if weight.array.dtype is dtype and bias.array.dtype is dtype:
            return dispatch.apply(op, (x, weight, bias))
    x, weight = promote(x, weight)
    return dispatch.apply(op, (x, weight, bias if bias.dtype == x.dtype else bias.astype(x.dtype)))


# --- linear then relu, one op -------------------------------------------------------------------------------
# ``nn.Sequential`` calls it for a Linear followed by a ReLU in eager mode (graphs keep the two ops: their passes
# fold and fuse those). One tape node instead of two, the relu computed in place in the product's fresh result,
# and the pre-activation not kept for backward: measured 4% off the eager Wtab step (13-64-64-3, batch 32) and
# 1-5% off W2's (784-256-128-10, batch 64), steps timed in alternating blocks.


def _linear_relu_forward(xp, x, weight, bias=None):
    return relu_in_place(xp, _linear_forward(xp, x, weight, bias))


def _linear_relu_rule(run, ctx, g):
    return _linear_rule(run, ctx, run(RELU_GRAD, g, ctx.output))


def _linear_relu_cost(out, x, weight, bias=None):
    linear_cost = _linear_cost(out, x, weight, bias)
    return Cost(linear_cost.flops + out.size, linear_cost.bytes)


def _linear_relu_infer(x, weight, bias=None):
    refuse_complex("linear_relu", [x, weight])  # relu orders its values
    return _linear_infer(x, weight, bias)


LINEAR_RELU = defop(
    "linear_relu",
    forward=_linear_relu_forward,
    infer=_linear_relu_infer,
    vjp=vjp_rule(_linear_relu_rule),
    cost=_linear_relu_cost,
    onnx="Gemm",
    saves_output=True,
    autocast=LOWER,
    writes_out=False,
    fresh=True,
)


def linear_relu(x, weight, bias=None) -> TensorLike:
    """``relu(linear(x, weight, bias))`` as one op: the same numbers as the two, with one node on the tape."""
    return _apply_linear(LINEAR_RELU, x, weight, bias)

"""Batch normalization: ``batch_norm`` (PyTorch's signature), with batch norm on batch statistics (training)
as one primitive, ``batch_norm_train``, and batch norm on running statistics composed of elementwise ops."""

from __future__ import annotations

import numpy as np

from ember.backend.devices import array_module
from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.convert import cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import sqrt
from ember.ops.infer import elementwise_cost, fits, require_float, same_dtype
from ember.ops.reduction import SUM, _count, _scale, sum
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape

# --- batch norm on batch statistics: one primitive ------------------------------------------------------------
# Composed from mean, var and elementwise ops it was about 12 ops forward and 25 back: a third of a ResNet-18
# step on the GPU, where every op is a kernel launch or more. As one op it is two reductions and four passes
# forward, four reductions and a few passes back. The vjp recomputes the statistics from x rather than keeping
# them alive; written once over operators (``_normalized``, ``_bn_input_grads``), it runs on arrays (eager)
# and on Tensors (create_graph, graphs), with the same operations in the same order: the same numbers. On a
# GPU the array forms run as a few kernels (``cuda_kernels``): five launches forward, six back.


def _bn_layout(shape) -> tuple:
    """The reduced axes (as ``sum`` normalizes them: an int when one) and the (1, C, 1, ...) shape of
    per-channel values, for input ``shape``."""
    axes = (0,) + tuple(range(2, len(shape)))
    return axes if len(axes) > 1 else 0, (1, shape[1]) + (1,) * (len(shape) - 2)


def _moments(x, total, inv_count) -> tuple:
    """Per-channel mean, ``x - mean`` and biased variance; ``total`` sums over the batch axes keeping them.
    The same operations as ``mean`` and ``var``, so the same numbers."""
    mu = total(x) * inv_count
    centred = x - mu
    return mu, centred, total(centred * centred) * inv_count


def _normalized(x, total, inv_count, root, eps, one=1.0):
    """``(x - mean, 1 / sqrt(var + eps))`` per channel. The array forms pass ``inv_count``, ``eps`` and ``one``
    as scalars of x's dtype (NumPy would widen bfloat16 by a Python float); Tensors keep Python floats weak."""
    _, centred, variance = _moments(x, total, inv_count)
    return centred, one / root(variance + eps)


def _bn_input_grads(x, weight, g, total, inv_count, root, eps, one=1.0) -> tuple:
    """The gradients of ``batch_norm_train`` for x, weight and bias (these two still per channel)."""
    centred, rstd = _normalized(x, total, inv_count, root, eps, one)
    xhat = centred * rstd
    g_bias = total(g)
    g_weight = total(g * xhat)
    g_x = (weight * rstd) * (g - (g_bias + xhat * g_weight) * inv_count)
    return g_x, g_weight, g_bias


def _gpu_moments(xp, x, axis, inv_count: float) -> tuple:
    """Per-channel mean and sum of squared deviations of a CuPy array, in two reduction launches."""
    from ember.backend import cuda_kernels

    mu = xp.multiply(x.sum(axis=axis, keepdims=True), x.dtype.type(inv_count))
    return mu, cuda_kernels.squared_deviation_sum()(x, mu, axis=axis, keepdims=True)


def _on_gpu_kernels(xp, x) -> bool:
    return xp is not np and x.dtype in (np.float32, np.float64)


def _bn_train_forward_gpu(xp, x, weight, bias, eps: float):
    """``_bn_train_forward`` on a GPU in five launches: two reductions, the scale, the normalization."""
    from ember.backend import cuda_kernels

    axis, shape = _bn_layout(x.shape)
    t = x.dtype.type
    inv_count = 1.0 / (x.size // x.shape[1])
    mu, squares = _gpu_moments(xp, x, axis, inv_count)
    rstd = cuda_kernels.reciprocal_std()(squares, t(inv_count), t(eps))
    return cuda_kernels.batch_norm_apply()(x, mu, rstd * weight.reshape(shape), bias.reshape(shape))


def _bn_train_vjp_gpu(xp, x, weight, g, eps: float) -> tuple:
    """``_bn_train_vjp`` on a GPU: the statistics again, two gradient reductions, one input-gradient pass."""
    from ember.backend import cuda_kernels

    axis, shape = _bn_layout(x.shape)
    t = x.dtype.type
    inv_count = 1.0 / (x.size // x.shape[1])
    mu, squares = _gpu_moments(xp, x, axis, inv_count)
    rstd = cuda_kernels.reciprocal_std()(squares, t(inv_count), t(eps))
    g_bias = g.sum(axis=axis, keepdims=True)
    g_weight = cuda_kernels.product_deviation_sum()(g, x, mu, axis=axis, keepdims=True) * rstd
    g_x = cuda_kernels.batch_norm_input_grad()(x, g, mu, rstd, weight.reshape(shape) * rstd, g_bias, g_weight,
                                               t(inv_count))
    return g_x, g_weight.reshape(-1), g_bias.reshape(-1)


def _bn_train_forward(xp, x, weight, bias, *, eps):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        wide = _bn_train_forward(xp, x.astype(np.float32), weight.astype(np.float32), bias.astype(np.float32), eps=eps)
        return wide.astype(x.dtype)
    if _on_gpu_kernels(xp, x):
        return _bn_train_forward_gpu(xp, x, weight, bias, eps)
    rows, total, spread, _ = _channel_rows(xp, x)
    t = _scalars(x)
    centred, rstd = _normalized(rows, total, t(1.0 / (x.size // x.shape[1])), xp.sqrt, t(eps), t(1))
    centred *= rstd * spread(weight)
    centred += spread(bias)
    return centred.reshape(x.shape)


def _scalars(x):
    """How the array forms write a Python number: as is (NumPy keeps it weak, as Ember's ops do), except for
    bfloat16, which NumPy would widen to float32 by a Python float: there a scalar of that dtype."""
    return x.dtype.type if x.dtype.kind == "V" else float


def _channel_rows(xp, x) -> tuple:
    """The array forms' view of (N, C, ...) ``x``: rows of C * H * W, ``total`` (per-channel sums, the same
    call as ``sum``, spread over such a row), ``spread`` (per-channel values over a row) and ``collapse``
    (a spread row back to one value per channel).

    NumPy broadcasts a (1, C, 1, 1) operand over x in inner loops only H * W long, which cost 5-10x a plain
    pass at the small maps of deep layers; against a row of C * H * W they run the whole row. The arithmetic
    per element is the same, so the results equal the Tensor forms' bit for bit."""
    channels = x.shape[1]
    per_channel = x.size // (x.shape[0] * channels) if x.size else 1
    axis = _bn_layout(x.shape)[0]

    def spread(values):
        return xp.repeat(values.reshape(channels), per_channel)

    def total(rows):
        return spread(SUM.forward(xp, rows.reshape(x.shape), axis=axis, keepdims=True))

    def collapse(row):
        return row[::per_channel].copy()

    return x.reshape(x.shape[0], -1), total, spread, collapse


def _bn_train_infer(x, weight, bias, *, eps):
    specs = [x, weight, bias]
    require_float("batch_norm_train", specs)
    same_dtype("batch_norm_train", specs)
    if x.ndim < 2:
        raise shape_error("batch_norm_train", specs, "input must be (N, C, ...)")
    if weight.ndim != 1 or bias.ndim != 1 or not (fits(weight.shape, x.shape[1:2]) and fits(bias.shape, x.shape[1:2])):
        raise shape_error("batch_norm_train", specs, "weight and bias must have shape [C] for input (N, C, ...)")
    return Spec(tuple(x.shape), x.dtype)


def _bn_train_vjp(ctx, g):
    """``_bn_input_grads``, the one rule, run on Ember ops when the backward is recorded (create_graph, a graph
    being built) and otherwise on the arrays through the same helper (rows of C * H * W, or the GPU kernels):
    NumPy broadcasts the Ember-op form's (1, C, 1, 1) operands in inner loops only H * W long."""
    x, weight, _ = ctx.inputs
    if dispatch.grad_enabled() or g.symbolic:
        if x.dtype in LOW_PRECISION:  # as the forward: computed in float32, rounded once
            x, weight, g = (cast(t, float32) for t in (x, weight, g))
        axes, shape = _bn_layout(x.shape)
        grads = _bn_input_grads(x, reshape(weight, shape), g, lambda a: sum(a, axes, keepdims=True),
                                _scale(x, axes, _count(x, axes)), sqrt, ctx.attrs["eps"])
        dtype = ctx.inputs[0].dtype
        return tuple(cast(grad if i == 0 else reshape(grad, (-1,)), dtype) for i, grad in enumerate(grads))
    xd, wd, gd = x.array, weight.array, g.array
    if xd.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once
        xd, wd, gd = (a.astype(np.float32) for a in (xd, wd, gd))
    xp = np if xd.__class__ is np.ndarray else array_module(xd)
    if _on_gpu_kernels(xp, xd):
        grads = _bn_train_vjp_gpu(xp, xd, wd, gd, ctx.attrs["eps"])
    else:
        rows, total, spread, collapse = _channel_rows(xp, xd)
        t = _scalars(xd)
        g_x, g_weight, g_bias = _bn_input_grads(rows, spread(wd), gd.reshape(rows.shape), total,
                                                t(1.0 / (xd.size // xd.shape[1])), xp.sqrt, t(ctx.attrs["eps"]), t(1))
        grads = g_x.reshape(xd.shape), collapse(g_weight), collapse(g_bias)
    dtype = x.array.dtype
    return tuple(dispatch.wrap(a if a.dtype == dtype else a.astype(dtype)) for a in grads)


BATCH_NORM_TRAIN = defop(
    "batch_norm_train",
    forward=_bn_train_forward,
    infer=_bn_train_infer,
    vjp=_bn_train_vjp,
    cost=elementwise_cost(8),
    onnx=NO_ONNX,
)


def batch_norm(
    x,
    running_mean: TensorLike | None,
    running_var: TensorLike | None,
    weight: TensorLike | None = None,
    bias: TensorLike | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
    *,
    num_batches_tracked: TensorLike | None = None,
) -> TensorLike:
    """Normalise each channel (axis 1) of (N, C, ...) input by batch statistics in training (updating
    the running ones in place, unbiased variance like PyTorch) or by the running statistics otherwise.

    ``num_batches_tracked`` (a 0-d integer Tensor), when given, counts training batches in place;
    ``momentum=None`` then makes the running statistics a cumulative average (factor 1 / batches)."""
    x = to_float(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got {x.dtype}{list(x.shape)}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and not fits(tuple(t.shape), (channels,)):
            raise ValueError(f"batch_norm: {name} must have shape [{channels}] for input {list(x.shape)}, "
                             f"got {list(t.shape)}")
        if t is not None and t.device != x.device:
            raise ValueError(f"batch_norm: {name} is on {t.device}, the input {x.dtype}{list(x.shape)} on {x.device}")
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        size = x.array.size  # None in a graph with an unknown dimension: the check waits for known sizes
        if size is not None and size // channels <= 1:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input {list(x.shape)}")
        if running_mean is not None:
            _update_running_stats(x, running_mean, running_var, num_batches_tracked, momentum)
        ones = None if weight is not None and bias is not None else \
            (np if x.symbolic else x.xp).ones(channels, x.dtype)
        weight = weight if weight is not None else dispatch.wrap(ones)
        bias = bias if bias is not None else dispatch.wrap(ones * 0)
        # float32 parameters with bfloat16 input (ember.autocast): cast, so their gradients come back float32
        weight, bias = (t if t.dtype == x.dtype else cast(t, x.dtype) for t in (weight, bias))
        return dispatch.apply(BATCH_NORM_TRAIN, (x, weight, bias), {"eps": float(eps)})
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: evaluation needs running_mean and running_var")
    # x * scale + shift with per-channel scale = weight / sqrt(var + eps) and shift = bias - mean * scale:
    # two passes over x instead of four, the rest on C values (and still differentiable in every input)
    scale = 1.0 / sqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return x * reshape(scale, stat_shape) + reshape(shift, stat_shape)


def _update_running_stats(x: TensorLike, running_mean: TensorLike, running_var: TensorLike, counter: TensorLike | None,
                          momentum: float | None) -> None:
    """running = (1 - m) * running + m * batch statistic (the variance unbiased, as PyTorch keeps it), and
    ``counter`` += 1: one ``running_stats`` effect, so a graph updates them on every run."""
    if momentum is None and counter is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs num_batches_tracked")
    inputs = (x, running_mean, running_var) if counter is None else (x, running_mean, running_var, counter)
    dispatch.apply(RUNNING_STATS, inputs, {"momentum": None if momentum is None else float(momentum)})


def _running_stats_forward(xp, x, running_mean, running_var, *counter, momentum):
    if counter:
        counter[0][...] += 1
    m = 1.0 / float(counter[0]) if momentum is None else momentum
    channels = x.shape[1]
    count = x.size // channels
    if _on_gpu_kernels(xp, x):
        mu, squares = _gpu_moments(xp, x, _bn_layout(x.shape)[0], 1.0 / count)
        sigma2 = squares * x.dtype.type(1.0 / count)
    else:
        rows, total, _, collapse = _channel_rows(xp, x)
        mu, _, sigma2 = _moments(rows, total, _scalars(x)(1.0 / count))
        mu, sigma2 = collapse(mu), collapse(sigma2)
    running_mean[...] = (1 - m) * running_mean + m * mu.reshape(channels)
    unbiased = sigma2.reshape(channels) * (count / (count - 1))
    running_var[...] = (1 - m) * running_var + m * unbiased


def _running_stats_infer(x, running_mean, running_var, *counter, momentum):
    channels = x.shape[1] if len(x.shape) >= 2 else None
    for name, spec in (("running_mean", running_mean), ("running_var", running_var)):
        if tuple(spec.shape) != (channels,):
            raise shape_error("running_stats", (x, running_mean, running_var), f"{name} must have shape [C]")
    if counter and (tuple(counter[0].shape) != () or counter[0].dtype.kind not in "iu"):
        raise shape_error("running_stats", (x, *counter), "the batch counter must be a 0-d integer")
    if momentum is None and not counter:
        raise ValueError("running_stats: momentum=None (a cumulative average) needs the batch counter")


RUNNING_STATS = defop(
    "running_stats",
    forward=_running_stats_forward,
    infer=_running_stats_infer,
    vjp=NON_DIFFERENTIABLE,
    cost=lambda out, x, *stats, **attrs: Cost(4 * (x.size or 0), (x.nbytes or 0) + 4 * (stats[0].nbytes or 0)),
    onnx=NO_ONNX,
    writes=(1, 2, 3),
)

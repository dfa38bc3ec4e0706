"""Batch normalization: ``batch_norm`` (PyTorch's signature), with batch norm on batch statistics (training)
as one primitive, ``batch_norm_train``, and batch norm on running statistics composed of elementwise ops."""

from __future__ import annotations

import math

import numpy as np

from ember.backend.devices import array_module
from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops import dispatch
from ember.ops.convert import cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import array_binary, sqrt
from ember.ops.indexing import getitem
from ember.ops.infer import fits, require_float, same_dtype
from ember.ops.join import repeat
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.reduction import SUM, _count, _scale, sum
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape

# --- batch norm on batch statistics: one primitive, with the statistics computed once -------------------------
# Composed from mean, var and elementwise ops it was about 12 ops forward and 25 back: a third of a ResNet-18
# step on the GPU, where every op is a kernel launch or more. As one op it is a few passes each way. The batch
# moments (mean and biased variance per channel) are their own op, ``batch_moments``, computed once per step
# and read by the forward, the running-statistics update and the backward (as PyTorch saves the mean and
# inverse std of its forward): ``batch_norm_train(x, weight, bias, moments)`` takes them as an input whose
# gradient it folds into x's, so ``moments`` must be ``batch_moments(x)``; ``batch_norm`` is the one caller.
# A recorded backward (create_graph, a graph being built) recomputes them from x with Ember ops instead, so
# that its x-gradient stays a function of x for higher-order gradients. The rule is written once over
# operators (``_moments``, ``_bn_input_grads``) and runs on arrays (eager) and on Tensors with the same
# operations in the same order: the same numbers (on NumPy arrays partly in place, ``_bn_input_grads_in_place``;
# tests compare the two bit for bit). On a GPU the array forms run as a few kernels (``cuda_kernels``).


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


def _reciprocal_std(variance, root, eps, one=1.0):
    """``1 / sqrt(var + eps)``. The array forms pass ``eps`` and ``one`` as scalars of x's dtype (NumPy would
    widen bfloat16 by a Python float); Tensors keep Python floats weak."""
    return one / root(variance + eps)


def _bn_input_grads(g, centred, rstd, weight, total, inv_count) -> tuple:
    """The gradients of ``batch_norm_train`` for x, weight and bias (these two still per channel), from
    ``x - mean`` and the per-channel ``rstd`` and ``weight``. The x-gradient, weight * rstd * (g - (g_bias +
    xhat * g_weight) / count) with xhat = (x - mean) * rstd, is taken as ``g * a + ((x - mean) * b + c)`` with
    per-channel a, b, c."""
    g_bias = total(g)
    g_weight = total(g * centred) * rstd
    a, b, c = _input_grad_coefficients(weight * rstd, rstd, g_weight, g_bias, inv_count)
    return g * a + (centred * b + c), g_weight, g_bias


def _input_grad_coefficients(weight_rstd, rstd, g_weight, g_bias, inv_count) -> tuple:
    ratio = weight_rstd * inv_count
    return weight_rstd, -(ratio * g_weight) * rstd, -(ratio * g_bias)


def _bn_input_grads_in_place(g, centred, rstd, weight, total, inv_count) -> tuple:
    """``_bn_input_grads`` on arrays with the same operations, computed into ``centred`` and one new array:
    six passes over x, where a new (N, C, H, W) result costs about twice an in-place pass; the elementwise ones
    on oneDNN's threads where they are large (``array_binary``)."""
    g_bias = total(g)
    g_x = array_binary("mul", g, centred)
    g_weight = total(g_x) * rstd
    a, b, c = _input_grad_coefficients(weight * rstd, rstd, g_weight, g_bias, inv_count)
    g_x = array_binary("mul", g, a, g_x)
    # in place only where the dtype stays: a float64 gradient of float32 input makes b and c float64
    centred = array_binary("mul", centred, b, centred if b.dtype == centred.dtype else None)
    array_binary("add", centred, c, centred)
    array_binary("add", g_x, centred, g_x)
    return g_x, g_weight, g_bias


def _gpu_moments(xp, x, axis, inv_count: float) -> tuple:
    """Per-channel mean and sum of squared deviations of a CuPy array, in two reduction launches."""
    from ember.backend import cuda_kernels

    mu = xp.multiply(x.sum(axis=axis, keepdims=True), x.dtype.type(inv_count))
    return mu, cuda_kernels.squared_deviation_sum()(x, mu, axis=axis, keepdims=True)


def _on_gpu_kernels(xp, x) -> bool:
    return xp is not np and x.dtype in (np.float32, np.float64)


def _gpu_mean_rstd(x, moments, eps: float) -> tuple:
    """The (1, C, 1, ...) mean and 1 / sqrt(var + eps) of ``moments`` on a GPU."""
    from ember.backend import cuda_kernels

    shape = _bn_layout(x.shape)[1]
    t = x.dtype.type
    return moments[0].reshape(shape), cuda_kernels.reciprocal_std()(moments[1].reshape(shape), t(1), t(eps))


def _bn_train_forward_gpu(x, weight, bias, moments, eps: float):
    """``_bn_train_forward`` on a GPU: the scale, then one normalization launch."""
    from ember.backend import cuda_kernels

    shape = _bn_layout(x.shape)[1]
    mu, rstd = _gpu_mean_rstd(x, moments, eps)
    return cuda_kernels.batch_norm_apply()(x, mu, rstd * weight.reshape(shape), bias.reshape(shape))


def _bn_train_vjp_gpu(xp, x, weight, g, moments, eps: float) -> tuple:
    """``_bn_train_vjp`` on a GPU: two gradient reductions and one input-gradient pass."""
    from ember.backend import cuda_kernels

    axis, shape = _bn_layout(x.shape)
    mu, rstd = _gpu_mean_rstd(x, moments, eps)
    g_bias = g.sum(axis=axis, keepdims=True)
    g_weight = cuda_kernels.product_deviation_sum()(g, x, mu, axis=axis, keepdims=True) * rstd
    g_x = cuda_kernels.batch_norm_input_grad()(x, g, mu, rstd, weight.reshape(shape) * rstd, g_bias, g_weight,
                                               x.dtype.type(1.0 / (x.size // x.shape[1])))
    return g_x, g_weight.reshape(-1), g_bias.reshape(-1)


def _batch_moments_forward(xp, x):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: the statistics in float32 (as PyTorch keeps them)
        x = x.astype(np.float32)
    channels = x.shape[1]
    count = x.size // channels
    if _on_gpu_kernels(xp, x):
        mu, squares = _gpu_moments(xp, x, _bn_layout(x.shape)[0], 1.0 / count)
        return xp.stack([mu.reshape(channels), (squares * x.dtype.type(1.0 / count)).reshape(channels)])
    rows, total, _, collapse = _channel_rows(xp, x)
    inv_count = _scalars(x)(1.0 / count)
    mu = total(rows) * inv_count  # _moments, the squares taken in place
    centred = array_binary("sub", rows, mu)
    array_binary("mul", centred, centred, centred)
    return xp.stack([collapse(mu), collapse(total(centred) * inv_count)])


def _batch_moments_infer(x):
    require_float("batch_moments", [x])
    if x.ndim < 2:
        raise shape_error("batch_moments", [x], "input must be (N, C, ...)")
    return Spec((2, x.shape[1]), float32 if x.dtype in LOW_PRECISION else x.dtype)


BATCH_MOMENTS = defop(
    "batch_moments",
    forward=_batch_moments_forward,
    infer=_batch_moments_infer,
    # its gradient reaches x through batch_norm_train's rule, which folds it into x's
    vjp=NON_DIFFERENTIABLE,
    cost=lambda out, x: Cost(4 * (x.size or 0), (x.nbytes or 0) + (out.nbytes or 0)),
    onnx=NO_ONNX,
)


def batch_moments(x: TensorLike) -> TensorLike:
    """Per-channel (axis 1) mean and biased variance of (N, C, ...) ``x`` as one (2, C) array: row 0 the mean,
    row 1 the variance (float32 for float16 / bfloat16 input). Not differentiable: ``batch_norm`` passes it to
    ``batch_norm_train``, whose x-gradient includes the path through these statistics.

    >>> from ember.ops.batch_norm import batch_moments
    >>> m = batch_moments(ember.randn(8, 3, 4, 4))   # (2, 3)
    """
    return dispatch.apply(BATCH_MOMENTS, (x,), None)


def _bn_train_forward(xp, x, weight, bias, moments, *, eps):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        wide = _bn_train_forward(xp, x.astype(np.float32), weight.astype(np.float32), bias.astype(np.float32),
                                 moments, eps=eps)
        return wide.astype(x.dtype)
    if _on_gpu_kernels(xp, x):
        return _bn_train_forward_gpu(x, weight, bias, moments, eps)
    rows, _, spread, _ = _channel_rows(xp, x)
    t = _scalars(x)
    # x * scale + shift with scale = weight / sqrt(var + eps), shift = bias - mean * scale: two passes over x
    # (PyTorch's CPU kernel takes the same form)
    scale = _reciprocal_std(moments[1], xp.sqrt, t(eps), t(1)) * weight
    out = array_binary("mul", rows, spread(scale))
    array_binary("add", out, spread(bias - moments[0] * scale), out)
    return out.reshape(x.shape)


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


def _tensor_rows(x, axes) -> tuple:
    """``_channel_rows`` in Ember ops (a recorded backward, a graph): (N, C * H * W) rows of ``x`` and the same
    ``total``, ``spread`` and ``collapse``, so that the elementwise steps run along whole rows (a graph's
    (1, C, 1, 1) operands would broadcast in inner loops only H * W long) and differentiate for higher orders."""
    channels = x.shape[1]
    per_channel = math.prod(x.shape[2:])
    shape = (-1,) + tuple(x.shape[1:])

    def spread(values):
        return repeat(reshape(values, (channels,)), per_channel)

    def total(rows):
        return spread(sum(reshape(rows, shape), axes, keepdims=True))

    def collapse(row):
        return getitem(row, slice(None, None, per_channel))

    return reshape(x, (-1, channels * per_channel)), total, spread, collapse


def _bn_train_infer(x, weight, bias, moments, *, eps):
    specs = [x, weight, bias, moments]
    require_float("batch_norm_train", specs)
    same_dtype("batch_norm_train", specs[:3])
    if x.ndim < 2:
        raise shape_error("batch_norm_train", specs, "input must be (N, C, ...)")
    if weight.ndim != 1 or bias.ndim != 1 or not (fits(weight.shape, x.shape[1:2]) and fits(bias.shape, x.shape[1:2])):
        raise shape_error("batch_norm_train", specs, "weight and bias must have shape [C] for input (N, C, ...)")
    expected = _batch_moments_infer(x)
    if moments.ndim != 2 or not fits(tuple(moments.shape), expected.shape) or moments.dtype != expected.dtype:
        raise shape_error("batch_norm_train", specs, f"moments must be batch_moments(x): {expected.dtype}"
                          f"{list(expected.shape)}")
    return Spec(tuple(x.shape), x.dtype)


def _bn_train_vjp(ctx, g):
    """``_bn_input_grads``, the one rule, run on Ember ops when the backward is recorded (create_graph, a graph
    being built: the moments recomputed from x) and otherwise on the arrays through the same helper with the
    forward's moments (or the GPU kernels). Both take (N, C, H, ...) inputs as rows of C * H * W
    (``_tensor_rows``, ``_channel_rows``): NumPy broadcasts (1, C, 1, 1) operands in inner loops only H * W long.
    The moments get no gradient of their own: x's includes the path through them."""
    x, weight, _, moments = ctx.inputs
    eps = ctx.attrs["eps"]
    if dispatch.grad_enabled() or g.symbolic:
        if x.dtype in LOW_PRECISION:  # as the forward: computed in float32, rounded once
            x, weight, g = (cast(t, float32) for t in (x, weight, g))
        axes, shape = _bn_layout(x.shape)
        inv_count = _scale(x, axes, _count(x, axes))
        dtype = ctx.inputs[0].dtype
        if x.ndim > 2 and None not in tuple(x.shape[1:]):  # as the arrays: rows of C * H * W, the same numbers
            rows, total, spread, collapse = _tensor_rows(x, axes)
            _, centred, variance = _moments(rows, total, inv_count)
            g_x, g_weight, g_bias = _bn_input_grads(reshape(g, (-1, rows.shape[1])), centred,
                                                    _reciprocal_std(variance, sqrt, eps), spread(weight), total,
                                                    inv_count)
            grads = (reshape(g_x, (-1,) + tuple(x.shape[1:])), collapse(g_weight), collapse(g_bias))
            return tuple(cast(grad, dtype) for grad in grads) + (None,)
        _, centred, variance = _moments(x, lambda a: sum(a, axes, keepdims=True), inv_count)
        grads = _bn_input_grads(g, centred, _reciprocal_std(variance, sqrt, eps), reshape(weight, shape),
                                lambda a: sum(a, axes, keepdims=True), inv_count)
        return tuple(cast(grad if i == 0 else reshape(grad, (-1,)), dtype) for i, grad in enumerate(grads)) + (None,)
    grads = _bn_train_grads_of_arrays(x.array, weight.array, g.array, moments.array, eps)
    return tuple(dispatch.wrap(a) for a in grads) + (None,)


def _bn_train_grads_of_arrays(xd, wd, gd, md, eps: float) -> tuple:
    """``_bn_train_vjp``'s gradients for x, weight and bias on arrays, from the forward's moments ``md``."""
    dtype = xd.dtype
    if xd.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once
        xd, wd, gd = (a.astype(np.float32) for a in (xd, wd, gd))
    xp = np if xd.__class__ is np.ndarray else array_module(xd)
    if _on_gpu_kernels(xp, xd):
        grads = _bn_train_vjp_gpu(xp, xd, wd, gd, md, eps)
    else:
        rows, total, spread, collapse = _channel_rows(xp, xd)
        t = _scalars(xd)
        rstd = spread(_reciprocal_std(md[1], xp.sqrt, t(eps), t(1)))
        centred = array_binary("sub", rows, spread(md[0]))
        g_x, g_weight, g_bias = _bn_input_grads_in_place(gd.reshape(rows.shape), centred, rstd, spread(wd), total,
                                                         t(1.0 / (xd.size // xd.shape[1])))
        grads = g_x.reshape(xd.shape), collapse(g_weight), collapse(g_bias)
    return tuple(a if a.dtype == dtype else a.astype(dtype) for a in grads)


def _bn_train_rule(run, ctx, g):
    """On Tensors, ``_bn_train_vjp``; on the arrays of an eager first-order backward, its array form directly."""
    if run is on_tensors:
        return _bn_train_vjp(ctx, g)
    x, weight, _, moments = ctx.inputs
    return _bn_train_grads_of_arrays(x, weight, g, moments, ctx.attrs["eps"]) + (None,)



BATCH_NORM_TRAIN = defop(
    "batch_norm_train",
    forward=_bn_train_forward,
    infer=_bn_train_infer,
    vjp=vjp_rule(_bn_train_rule),
    cost=lambda out, x, weight, bias, moments, **attrs: Cost(
        8 * (x.size or 0), 2 * (x.nbytes or 0) + 2 * (weight.nbytes or 0) + (moments.nbytes or 0)),
    onnx=NO_ONNX,
)


def batch_norm(
    input,
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
    x = to_float(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C, ...), got {x.dtype}{list(x.shape)}")
    if not (eps > 0 if training else eps >= 0):  # (NaN too) sqrt(var + eps) would be NaN or wrong, as PyTorch refuses
        raise ValueError(f"batch_norm: eps must be {'positive in training' if training else 'non-negative'}, "
                         f"got {eps!r}")
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
        if size and size // channels <= 1:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input {list(x.shape)}")
        # an empty batch has no moments; its stand-in zeros are not blended in (only the batch is counted)
        moments = batch_moments(x) if size != 0 else \
            dispatch.wrap((np if x.symbolic else x.xp).zeros((2, channels), np.float32))
        if running_mean is not None:
            _update_running_stats(x, moments, running_mean, running_var, num_batches_tracked, momentum)
        ones = None if weight is not None and bias is not None else \
            (np if x.symbolic else x.xp).ones(channels, x.dtype)
        weight = weight if weight is not None else dispatch.wrap(ones)
        bias = bias if bias is not None else dispatch.wrap(ones * 0)
        # float32 parameters with bfloat16 input (ember.autocast): cast, so their gradients come back float32
        weight, bias = (t if t.dtype == x.dtype else cast(t, x.dtype) for t in (weight, bias))
        if size == 0:  # an empty batch, as PyTorch: an empty output, zero gradients for weight and bias
            return x * reshape(weight, stat_shape) + reshape(bias, stat_shape)
        return dispatch.apply(BATCH_NORM_TRAIN, (x, weight, bias, moments), {"eps": float(eps)})
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: evaluation needs running_mean and running_var")
    if x.dtype in LOW_PRECISION and any(t is not None and t.dtype != x.dtype for t in
                                        (running_mean, running_var, weight, bias)):
        # float32 statistics with float16 / bfloat16 input (ember.autocast): computed in float32 and rounded once
        # to the input's dtype, as PyTorch's (and as the training branch's result): it was float32
        return cast(batch_norm(cast(x, float32), running_mean, running_var, weight, bias, False, momentum, eps),
                    x.dtype)
    # x * scale + shift with per-channel scale = weight / sqrt(var + eps) and shift = bias - mean * scale:
    # two passes over x instead of four, the rest on C values (and still differentiable in every input)
    scale = 1.0 / sqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return x * reshape(scale, stat_shape) + reshape(shift, stat_shape)


def _update_running_stats(x: TensorLike, moments: TensorLike, running_mean: TensorLike, running_var: TensorLike,
                          counter: TensorLike | None, momentum: float | None) -> None:
    """running = (1 - m) * running + m * batch statistic (the variance unbiased, as PyTorch keeps it), and
    ``counter`` += 1: one ``running_stats`` effect, so a graph updates them on every run. ``moments`` are
    ``batch_moments(x)``; x gives the count of values per channel."""
    if momentum is None and counter is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs num_batches_tracked")
    inputs = (x, moments, running_mean, running_var) + (() if counter is None else (counter,))
    dispatch.apply(RUNNING_STATS, inputs, {"momentum": None if momentum is None else float(momentum)})


def _running_stats_forward(xp, x, moments, running_mean, running_var, *counter, momentum):
    if counter:
        counter[0][...] += 1
    count = x.size // x.shape[1] if x.size else 0
    if count == 0:  # an empty batch counts, but has no statistics to blend in (as PyTorch)
        return
    m = 1.0 / float(counter[0]) if momentum is None else momentum
    running_mean[...] = (1 - m) * running_mean + m * moments[0]
    running_var[...] = (1 - m) * running_var + m * (moments[1] * (count / (count - 1)))


def _running_stats_infer(x, moments, running_mean, running_var, *counter, momentum):
    channels = x.shape[1] if len(x.shape) >= 2 else None
    if tuple(moments.shape) != (2, channels):
        raise shape_error("running_stats", (x, moments), "moments must be batch_moments(x), shape [2, C]")
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
    cost=lambda out, x, moments, *stats, **attrs: Cost(4 * (moments.size or 0), 4 * (stats[0].nbytes or 0)),
    onnx=NO_ONNX,
    writes=(2, 3, 4),
)

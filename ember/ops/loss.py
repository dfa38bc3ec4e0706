"""Loss functions, composed from primitives (PyTorch's definitions and reductions)."""

from __future__ import annotations

import functools

import numpy as np

from ember.backend.dtypes import FLOATING, LOW_PRECISION
from ember.ops import dispatch
from ember.ops.activation import LOG_SOFTMAX, SOFTMAX, _log_softmax_forward, log_softmax
from ember.ops.autocast import FLOAT32, widened
from ember.ops.convert import as_tensor, cast, promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import CLIP, DIV, LOG, LOG1P, MUL, NEG, SUB, _scalar, abs, softplus, where
from ember.ops.indexing import gather, take
from ember.ops.infer import as_int, check_axis, elementwise_cost, fits, require_float, same_dtype
from ember.ops.kernels import max_last, sum_last
from ember.ops.modes import vjp_rule
from ember.ops.reduction import SUM, mean, sum
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Joint, Spec, defop, shape_error
from ember.ops.shape import RESHAPE, reshape, reshape_with, unsqueeze
from ember.ops.xent_kernel import sparse_xent_kernel

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(name: str, losses: TensorLike, reduction: str) -> TensorLike:
    if reduction == "mean":
        return mean(losses)
    if reduction == "sum":
        return sum(losses)
    if reduction == "none":
        return losses
    raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _weighting(name: str, what: str, input: TensorLike, weight) -> TensorLike:
    """``weight`` as a Tensor, refused unless it broadcasts to the input's shape without growing it: PyTorch's
    losses write into the input's shape, where the product grew (a (2, N, C) weight made two copies of the losses)."""
    weight = as_tensor(weight, input)
    shape, weight_shape = tuple(input.shape), tuple(weight.shape)
    pairs = zip(reversed(weight_shape), reversed(shape))
    if len(weight_shape) > len(shape) or any(w not in (1, s) for w, s in pairs if w is not None and s is not None):
        raise ValueError(f"{name}: {what} of shape {list(weight_shape)} does not broadcast to the input's shape "
                         f"{list(shape)}")
    return weight


def _same_shape(name: str, a: TensorLike, b: TensorLike):
    if not fits(a.shape, b.shape):
        raise ValueError(f"{name}: input {a.dtype}{list(a.shape)} and target {b.dtype}{list(b.shape)} differ in shape")


def _weighted_reduce(name: str, losses: TensorLike, reduction: str, weight, weighted_mean: bool) -> TensorLike:
    """``losses`` times an elementwise ``weight`` of their shape (PyTorch's ``weight=`` of mse/l1/huber), reduced;
    the mean divides by the weights' sum where ``weighted_mean``, as PyTorch's mse and l1 (huber's is the plain
    mean)."""
    if weight is None:
        return _reduce(name, losses, reduction)
    weight = as_tensor(weight, losses)
    if tuple(weight.shape) != tuple(losses.shape):
        raise ValueError(f"{name}: weight of shape {list(weight.shape)} must have the input's shape "
                         f"{list(losses.shape)}")
    losses = losses * weight
    if reduction == "mean" and weighted_mean:
        return sum(losses) / sum(weight)
    return _reduce(name, losses, reduction)


def mse_loss(input, target, reduction: str = "mean", weight=None) -> TensorLike:
    """Mean squared error; ``weight`` (the input's shape) weighs each element, and the mean is then the weighted
    one."""
    input, target = widened(to_float(input), to_float(as_tensor(target)))
    _same_shape("mse_loss", input, target)
    diff = input - target
    return _weighted_reduce("mse_loss", diff * diff, reduction, weight, True)


def l1_loss(input, target, reduction: str = "mean", weight=None) -> TensorLike:
    """Mean absolute error; ``weight`` (the input's shape) weighs each element, and the mean is then the weighted
    one."""
    input, target = widened(to_float(input), to_float(as_tensor(target)))
    _same_shape("l1_loss", input, target)
    return _weighted_reduce("l1_loss", abs(input - target), reduction, weight, True)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> TensorLike:
    """Quadratic within ``delta`` of the target, linear outside (PyTorch's HuberLoss, in its argument order);
    ``weight`` (the input's shape) weighs each element before the reduction."""
    if not delta > 0:  # delta 0 made every loss 0, a negative one every loss negative
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input, target = widened(to_float(input), to_float(as_tensor(target)))
    _same_shape("huber_loss", input, target)
    diff = input - target
    err = abs(diff)
    # diff * diff, not err * err: |d|'s gradient sign(d) is 0 at d = 0, so the second derivative there was 0, not 1
    losses = where(err < delta, diff * diff * 0.5, (err - 0.5 * delta) * delta)
    return _weighted_reduce("huber_loss", losses, reduction, weight, False)


def smooth_l1_loss(input, target, beta: float = 1.0, reduction: str = "mean") -> TensorLike:
    """Huber loss divided by ``beta`` (PyTorch's SmoothL1Loss)."""
    if not beta >= 0:  # a negative beta made every loss |d| + |beta| / 2
        raise ValueError(f"smooth_l1_loss: beta must not be negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    input, target = widened(to_float(input), to_float(as_tensor(target)))
    _same_shape("smooth_l1_loss", input, target)
    diff = input - target
    err = abs(diff)
    losses = where(err < beta, diff * diff * (0.5 / beta), err - 0.5 * beta)  # diff * diff as huber_loss's
    return _reduce("smooth_l1_loss", losses, reduction)


def _check_class_target(name: str, input: TensorLike, target: TensorLike):
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: class targets must be integers, got {target.dtype}")
    shape = input.shape
    expected = (shape[0],) + shape[2:] if len(shape) >= 2 else ()
    if len(shape) < 2 or (target.shape != expected and not fits(tuple(target.shape), expected)):
        raise ValueError(
            f"{name}: input {input.dtype}{list(input.shape)} (N, C, ...) needs a target of shape "
            f"{list(expected)}, got {list(target.shape)}"
        )


@functools.lru_cache(maxsize=16)
def _row_starts(rows: int, num_classes: int) -> np.ndarray:
    """Flat offsets of the rows of a (rows, num_classes) array (cached: a training loop asks for one size)."""
    starts = np.arange(rows) * num_classes
    starts.flags.writeable = False
    return starts


def _nll_weights_forward(xp, target, weight=None, *, num_classes, ignore_index, normalize, dtype, negate=True):
    # ``negate``: -W, what nll_loss multiplies log-probabilities by; else W, the labels of a cross-entropy
    if xp is np and weight is None and target.ndim == 1 and target.size and not 0 <= ignore_index < num_classes:
        # The common case in two range checks: every target is a class, so none can be ignore_index.
        if np.minimum.reduce(target) >= 0 and np.maximum.reduce(target) < num_classes:
            one = np.dtype(dtype).type(1)
            rows = np.zeros((target.size, num_classes), dtype)
            w = one / np.dtype(dtype).type(target.size) if normalize else one
            rows.reshape(-1)[_row_starts(target.size, num_classes) + target] = -w if negate else w
            return rows
    valid = target != ignore_index
    if xp is np:
        all_valid = bool(valid.all())
        safe = target if all_valid else xp.where(valid, target, 0)
        out_of_range = safe.size and (safe.min() < 0 or safe.max() >= num_classes)
    else:  # each copy to the host waits for the GPU to finish its queue: fetch both answers in one
        safe = xp.where(valid, target, 0)
        checks = xp.stack([valid.all(), ((safe < 0) | (safe >= num_classes)).any()]).get()
        all_valid, out_of_range = bool(checks[0]), bool(checks[1])
    if out_of_range:
        bad = safe[(safe < 0) | (safe >= num_classes)]
        raise IndexError(f"target values must lie in [0, {num_classes}) or be ignore_index, got {bad[:5]}")
    if all_valid and weight is None and safe.size:  # the common case: one weight, what the division gives
        one = np.dtype(dtype).type(1)
        w = one / np.dtype(dtype).type(safe.size) if normalize else one
        w = -w if negate else w
    else:
        # float16 / bfloat16 weights are summed and divided in float32, rounded once: NumPy's bfloat16 sum stops
        # growing at 256 (adding 0.5 rounds back), which divided a mean over 1000 targets by about half their weight
        wide = np.float32 if np.dtype(dtype) in LOW_PRECISION else dtype
        w = valid.astype(wide) if weight is None else (weight[safe] * valid).astype(wide, copy=False)
        if normalize:  # all targets ignored: zeros, a zero gradient (``_nan_if_no_weight`` makes the loss nan)
            total = w.sum()
            w /= xp.where(total != 0, total, 1)
        w = (-w.reshape(-1) if negate else w.reshape(-1)).astype(dtype, copy=False)
    # Fill (samples, classes) with the class axis last, then move it to axis 1.
    rows = xp.zeros((safe.size, num_classes), dtype)
    rows[xp.arange(safe.size), safe.reshape(-1)] = w
    if target.ndim == 1:
        return rows
    return xp.moveaxis(rows.reshape(target.shape + (num_classes,)), -1, 1)


def _nll_weights_infer(target, weight=None, *, num_classes, ignore_index, normalize, dtype, negate=True):
    specs = [target] if weight is None else [target, weight]
    if as_int("nll_weights", num_classes, "num_classes", specs) < 1:
        raise shape_error("nll_weights", specs, f"num_classes must be positive, got {num_classes}")
    if target.ndim < 1:
        raise shape_error("nll_weights", specs, "target must have a batch axis")
    return Spec((target.shape[0], num_classes) + tuple(target.shape[1:]), dtype)


NLL_WEIGHTS = defop(
    "nll_weights",
    forward=_nll_weights_forward,
    infer=_nll_weights_infer,
    vjp=NON_DIFFERENTIABLE,
    cost=elementwise_cost(2),
    onnx=NO_ONNX,
)


# --- softmax cross-entropy: one primitive for the common loss ------------------------------------------------
# -sum(labels * log_softmax(logits)) over the class axis (or over everything, ``total``). Composed, it is four
# ops forward and three vjps back; fused, one and one (W2 eager step: about 50 us fewer). Its gradient
# recomputes the softmax from the logits rather than keeping the log-probabilities alive.


def _xent_forward(xp, logits, labels, *, axis, total):
    if logits.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        wide = _xent_forward(xp, logits.astype(np.float32), labels.astype(np.float32), axis=axis, total=total)
        return wide.astype(logits.dtype)
    terms = _log_softmax_forward(xp, logits, axis=axis)
    terms *= labels
    loss = -SUM.forward(xp, terms, axis=None if total else axis, keepdims=False)
    if xp is not np or not np.isfinite(loss).all():
        # a masked class (logit -inf) with label 0 is no term, not 0 * -inf = NaN (PyTorch's finite loss)
        loss = -SUM.forward(xp, xp.where(labels == 0, 0, terms), axis=None if total else axis, keepdims=False)
    return loss


def _xent_infer(logits, labels, *, axis, total):
    specs = [logits, labels]
    require_float("softmax_cross_entropy", specs)
    same_dtype("softmax_cross_entropy", specs)
    if not fits(tuple(logits.shape), tuple(labels.shape)):
        raise shape_error("softmax_cross_entropy", specs, "logits and labels must have the same shape")
    axis = check_axis("softmax_cross_entropy", axis, logits.ndim, specs)
    shape = () if total else tuple(logits.shape[:axis]) + tuple(logits.shape[axis + 1:])
    return Spec(shape, logits.dtype)


def _xent_upstream(run, g, ctx):
    """The output gradient shaped to broadcast against the logits."""
    if ctx.attrs["total"]:
        return g
    shape = list(ctx.inputs[0].shape)
    shape[ctx.attrs["axis"]] = 1
    return reshape_with(run, g, shape)


def _xent_rule(run, ctx, g):
    logits, labels = ctx.inputs
    axis, g = ctx.attrs["axis"], _xent_upstream(run, g, ctx)
    g_logits = g_labels = None
    if ctx.needs[0]:
        p = run(MUL, run(SOFTMAX, logits, axis=axis), run(SUM, labels, axis=axis, keepdims=True))
        g_logits = run(MUL, run(SUB, p, labels), g)
    if ctx.needs[1]:
        g_labels = run(MUL, run(NEG, run(LOG_SOFTMAX, logits, axis=axis)), g)
    return g_logits, g_labels


SOFTMAX_CROSS_ENTROPY = defop(
    "softmax_cross_entropy",
    forward=_xent_forward,
    infer=_xent_infer,
    vjp=vjp_rule(_xent_rule),
    cost=elementwise_cost(14),
    onnx=NO_ONNX,
    autocast=FLOAT32,
)


def softmax_cross_entropy(logits, labels, axis: int = 1, total: bool = False) -> TensorLike:
    """-sum(labels * log_softmax(logits)) along ``axis`` (over everything when ``total``): TensorFlow's
    ``softmax_cross_entropy_with_logits`` as one primitive."""
    logits, labels = to_float(logits), as_tensor(labels)
    if labels.dtype != logits.dtype:
        labels = cast(labels, logits.dtype)
    if not fits(tuple(labels.shape), tuple(logits.shape)):  # (the eager forward would broadcast them)
        raise shape_error("softmax_cross_entropy", [logits, labels], "logits and labels must have the same shape")
    return dispatch.apply(SOFTMAX_CROSS_ENTROPY, (logits, labels), {"axis": axis, "total": bool(total)})


# --- softmax cross-entropy against class indices ----------------------------------------------------------
# (N, C) logits and integer targets, without one-hot labels: the loss picks each row's target logit, the
# gradient subtracts one at the target. The loss and the gradient are two ops (the gradient its own, so it has a
# vjp of its own for second derivatives) over the same softmax parts. Eager mode keeps those parts from the loss's
# forward (its ``residuals``) for the gradient; the gradient's ``joint`` trait lets generated code compute both
# in one call that shares them. Every path gives the numbers the two forwards give apart.


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # integer targets seen without their sign


def _class_offsets(xp, target, classes: int, ignore_index: int):
    """(flat offset of each row's target in a (rows, classes) array, mask of the rows that count, or None when
    every row does)."""
    if xp is np and target.size and not 0 <= ignore_index < classes \
            and np.maximum.reduce(target.view(_UNSIGNED[target.dtype.itemsize])) < classes:
        # every target a class (a negative one is a huge unsigned number): none is ignore_index
        return _row_starts(target.size, classes) + target, None
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    bad = (safe < 0) | (safe >= classes)
    if bool(bad.any()):
        ignored = "" if ignore_index == np.iinfo(np.int64).min else f" or be ignore_index ({ignore_index})"
        raise IndexError(f"sparse_softmax_cross_entropy: target values must lie in [0, {classes}){ignored}, got "
                         f"{safe[bad][:5]}")
    return xp.arange(target.size) * classes + safe, None if bool(valid.all()) else valid


def _softmax_parts(xp, logits, target, ignore_index: int):
    """What both the loss and its gradient start from: each row's target logit less the row's max (a vector),
    exp of the logits less their row's max, the rows' sums of those (a column), and ``_class_offsets``."""
    offsets, valid = _class_offsets(xp, target, logits.shape[1], ignore_index)
    if not logits.flags.c_contiguous:  # the gradient subtracts one at flat offsets of exp: a reshape must not copy
        logits = xp.ascontiguousarray(logits)
    exp = logits - max_last(xp, logits, 1, True)
    picked = exp.take(offsets)
    xp.exp(exp, out=exp)
    return picked, exp, sum_last(xp, exp, 1, True), offsets, valid


def _class_loss(xp, picked, total, valid, reduction: str):
    """log(sum(exp)) less the target's shifted logit, per row, then reduced."""
    rows = xp.log(total.reshape(-1))
    rows -= picked
    if valid is not None:
        rows *= valid
    if reduction == "none":
        return rows
    loss = np.add.reduce(rows, None) if xp is np else rows.sum()  # what SUM's forward calls on a vector
    if reduction == "sum":
        return loss
    count = rows.size if valid is None else int(valid.sum())
    return loss / rows.dtype.type(count) if count else xp.asarray(np.nan, rows.dtype)  # all ignored: nan, as PyTorch


def _class_gradient(xp, exp, total, offsets, valid, g, reduction: str, out=None):
    """(softmax - one_hot(target)) times the upstream gradient (per row for ``"none"``, divided by the count of
    rows for ``"mean"``), computed into ``out`` (a new array when None)."""
    probs = xp.divide(exp, total, out=out)
    probs.reshape(-1)[offsets] -= 1
    if reduction == "none":
        probs *= g.reshape(-1, 1) if valid is None else (g * valid).reshape(-1, 1)
        return probs
    if valid is not None:
        probs *= valid.reshape(-1, 1)
        count = int(valid.sum())
    else:
        count = probs.shape[0]
    if reduction == "sum":
        probs *= g
    elif count:  # every target ignored: a zero gradient, as in PyTorch (the loss is nan)
        probs *= g / probs.dtype.type(count)
    return probs


def _wide(forward):
    """``forward`` for float16 / bfloat16 logits: computed in float32, rounded once (as PyTorch)."""

    def run(xp, logits, target, *rest, out=None, **attrs):
        results = forward(xp, logits.astype(np.float32), target, *(r.astype(np.float32) for r in rest), **attrs)
        if results.__class__ is tuple:
            loss, grad = results
            return xp.asarray(loss).astype(logits.dtype), _into(grad.astype(logits.dtype), out)
        return _into(xp.asarray(results).astype(logits.dtype), out)

    return run


def _into(array, out):
    if out is None:
        return array
    out[...] = array
    return out


def _sparse_xent_forward(xp, logits, target, *, ignore_index, reduction):
    if logits.dtype in LOW_PRECISION:
        return _wide(_sparse_xent_forward)(xp, logits, target, ignore_index=ignore_index, reduction=reduction)
    picked, _, total, _, valid = _softmax_parts(xp, logits, target, ignore_index)
    return _class_loss(xp, picked, total, valid, reduction)


def _sparse_xent_residuals(xp, logits, target, *, ignore_index, reduction):
    """The loss, and the softmax parts its gradient reuses (``Op.residuals``)."""
    if logits.dtype in LOW_PRECISION:  # float32 parts: the gradient is computed in float32 too
        picked, exp, total, offsets, valid = _softmax_parts(xp, logits.astype(np.float32), target, ignore_index)
        loss = _class_loss(xp, picked, total, valid, reduction)
        return xp.asarray(loss).astype(logits.dtype), (exp, total, offsets, valid)
    picked, exp, total, offsets, valid = _softmax_parts(xp, logits, target, ignore_index)
    return _class_loss(xp, picked, total, valid, reduction), (exp, total, offsets, valid)


def _sparse_xent_grad_forward(xp, logits, target, g, *, ignore_index, reduction, residuals=None, out=None):
    """The gradient of the loss for upstream gradient ``g``; ``residuals``: the loss forward's softmax parts of
    these logits (eager mode), else they are computed here."""
    if residuals is not None:
        if residuals.__class__ is not tuple or len(residuals) != 4 or not (
                hasattr(residuals[0], "dtype") and hasattr(residuals[1], "dtype") and hasattr(residuals[2], "dtype")):
            raise TypeError("sparse_softmax_cross_entropy_grad: residuals must be what the loss's residuals forward "
                            f"saved, (exp, total, offsets, valid), got {type(residuals).__name__}")
        exp, total, offsets, valid = residuals
        if exp.dtype == logits.dtype:
            return _class_gradient(xp, exp, total, offsets, valid, g, reduction, out)
        grad = _class_gradient(xp, exp, total, offsets, valid, g.astype(exp.dtype), reduction)
        return _into(grad.astype(logits.dtype), out)  # float16 / bfloat16: rounded once
    if logits.dtype in LOW_PRECISION:
        return _wide(_sparse_xent_grad_forward)(xp, logits, target, g, out=out, ignore_index=ignore_index,
                                               reduction=reduction)
    _, exp, total, offsets, valid = _softmax_parts(xp, logits, target, ignore_index)
    return _class_gradient(xp, exp, total, offsets, valid, g, reduction, exp if out is None else out)


def _sparse_xent_joint(xp, logits, target, g, *, ignore_index, reduction, out=None):
    """(the loss, its gradient) from one softmax: what the two forwards give, in one call."""
    if logits.dtype in LOW_PRECISION:
        return _wide(_sparse_xent_joint)(xp, logits, target, g, out=out, ignore_index=ignore_index,
                                        reduction=reduction)
    picked, exp, total, offsets, valid = _softmax_parts(xp, logits, target, ignore_index)
    loss = _class_loss(xp, picked, total, valid, reduction)
    return loss, _class_gradient(xp, exp, total, offsets, valid, g, reduction, exp if out is None else out)


def _sparse_xent_specs(name, logits, target, reduction):
    specs = [logits, target]
    require_float(name, [logits])
    if target.dtype.kind not in "iu":
        raise shape_error(name, specs, "the target must hold integer class indices")
    if logits.ndim != 2 or target.ndim != 1 or not fits((logits.shape[0],), tuple(target.shape)):
        raise shape_error(name, specs, "logits must be (N, C) and the target (N,)")
    if reduction not in _REDUCTIONS:
        raise shape_error(name, specs, f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return () if reduction != "none" else (logits.shape[0],)


def _sparse_xent_infer(logits, target, *, ignore_index, reduction):
    return Spec(_sparse_xent_specs("sparse_softmax_cross_entropy", logits, target, reduction), logits.dtype)


def _sparse_xent_grad_infer(logits, target, g, *, ignore_index, reduction, residuals=None):
    name = "sparse_softmax_cross_entropy_grad"
    shape = _sparse_xent_specs(name, logits, target, reduction)
    if g.dtype != logits.dtype or not fits(shape, tuple(g.shape)):
        raise shape_error(name, [logits, target, g], f"the upstream gradient must be {logits.dtype}{list(shape)}")
    return Spec(tuple(logits.shape), logits.dtype)


def _sparse_xent_rule(run, ctx, g):
    logits, target = ctx.inputs
    if ctx.residuals is None:
        return run(SPARSE_XENT_GRAD, logits, target, g, **ctx.attrs), None
    return run(SPARSE_XENT_GRAD, logits, target, g, residuals=ctx.residuals, **ctx.attrs), None


def _sparse_xent_grad_rule(run, ctx, u):
    """The gradient is s * (p - y) per row (p the softmax, y the one-hot target, s the row's weight times the
    upstream gradient): its vjp is s * p * (u - sum(u * p)) for the logits and sum(u * (p - y) * weight) for the
    upstream gradient."""
    logits, target, g = ctx.inputs
    reduction = ctx.attrs["reduction"]
    labels = run(NLL_WEIGHTS, target, num_classes=logits.shape[1], ignore_index=ctx.attrs["ignore_index"],
                 normalize=reduction == "mean", dtype=logits.dtype, negate=False)  # one_hot(target) * row weight
    weight = run(SUM, labels, axis=1, keepdims=True)
    p = run(SOFTMAX, logits, axis=1)
    g_logits = g_upstream = None
    if ctx.needs[0]:
        scale = run(MUL, weight, run(RESHAPE, g, shape=(-1, 1)) if reduction == "none" else g)
        inner = run(SUM, run(MUL, u, p), axis=1, keepdims=True)
        g_logits = run(MUL, run(MUL, p, run(SUB, u, inner)), scale)
    if ctx.needs[2]:
        unit = run(SUB, run(MUL, p, weight), labels)  # the gradient for an upstream gradient of one
        g_upstream = run(SUM, run(MUL, u, unit), axis=1 if reduction == "none" else None, keepdims=False)
    return g_logits, None, g_upstream


SPARSE_XENT = defop(
    "sparse_softmax_cross_entropy",
    forward=_sparse_xent_forward,
    infer=_sparse_xent_infer,
    vjp=vjp_rule(_sparse_xent_rule),
    cost=elementwise_cost(8),
    onnx=NO_ONNX,
    autocast=FLOAT32,
    residuals=_sparse_xent_residuals,
)

SPARSE_XENT_GRAD = defop(
    "sparse_softmax_cross_entropy_grad",
    forward=_sparse_xent_grad_forward,
    infer=_sparse_xent_grad_infer,
    vjp=vjp_rule(_sparse_xent_grad_rule),
    cost=elementwise_cost(8),
    onnx=NO_ONNX,
    writes_out=True,
    in_place=False,
    fresh=True,
    autocast=FLOAT32,
    joint=Joint(SPARSE_XENT, 2, _sparse_xent_joint, functools.partial(sparse_xent_kernel, _sparse_xent_joint)),
)


def sparse_softmax_cross_entropy(logits, target, ignore_index: int = -100, reduction: str = "mean") -> TensorLike:
    """Softmax cross-entropy of (N, C) ``logits`` against (N,) integer class indices, without one-hot labels
    (targets equal to ``ignore_index`` count for nothing; ``"mean"`` divides by the targets that count)."""
    return _sparse_xent(to_float(logits), as_tensor(target), ignore_index, reduction)


def _sparse_xent(logits: TensorLike, target: TensorLike, ignore_index: int, reduction: str) -> TensorLike:
    _check_class_target("sparse_softmax_cross_entropy", logits, target)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"sparse_softmax_cross_entropy: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return dispatch.apply(SPARSE_XENT, (logits, target), {"ignore_index": int(ignore_index), "reduction": reduction})


def nll_loss(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> TensorLike:
    """Negative log-likelihood of class indices under log-probabilities ``input`` of shape (N, C, ...), or of
    one class index under unbatched (C,) log-probabilities."""
    input, target = widened(to_float(input), as_tensor(target))
    if len(input.shape) == 1:
        return _unbatched(nll_loss, input, target, reduction, weight=weight, ignore_index=ignore_index)
    return _nll("nll_loss", input, target, weight, ignore_index, reduction)


def _unbatched(loss, input: TensorLike, target: TensorLike, reduction: str, **options) -> TensorLike:
    """``loss`` of unbatched (C,) ``input`` as PyTorch computes it: a batch of one sample, the per-sample loss a
    0-d tensor (for a 0-d class index or (C,) class probabilities)."""
    name = loss.__name__
    probabilities = name == "cross_entropy" and target.dtype in FLOATING
    if tuple(target.shape) != (tuple(input.shape) if probabilities else ()):
        raise ValueError(f"{name}: unbatched input {input.dtype}{list(input.shape)} (C,) needs a 0-d class index"
                         f"{' or (C,) class probabilities' if name == 'cross_entropy' else ''}, got target "
                         f"{target.dtype}{list(target.shape)}")
    losses = loss(unsqueeze(input, 0), unsqueeze(target, 0), reduction=reduction, **options)
    return reshape(losses, ()) if reduction == "none" else losses


def _class_weights(name: str, input, target, weight, ignore_index: int, reduction: str, negate: bool = False):
    """one_hot(target) * class weight (/ total weight for the mean), a constant of the targets, negated for
    nll_loss. ``name`` is the function the user called, for the error messages."""
    input, target = to_float(input), as_tensor(target)
    _check_class_target(name, input, target)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    attrs = {"num_classes": input.shape[1], "ignore_index": int(ignore_index), "normalize": reduction == "mean",
             "dtype": input.dtype, "negate": negate}
    weight = _class_weight(name, input, weight)
    if weight is not None and weight.requires_grad and dispatch.grad_enabled():
        # the one-hot weights are a constant of the targets: a weight to learn got no gradient, silently
        raise RuntimeError(f"{name}: weight is not differentiable with class-index targets (PyTorch's nll_loss "
                           "neither); detach it, or compute the weighted loss from the log-probabilities")
    inputs = (target,) if weight is None else (target, weight)
    try:
        return dispatch.apply(NLL_WEIGHTS, inputs, attrs)
    except IndexError as exc:
        raise IndexError(f"{name}: {exc}") from None


def _class_weight(name: str, input: TensorLike, weight) -> TensorLike | None:
    """``weight`` in the input's dtype, refused unless it has one entry per class (input's axis 1): a longer one
    was read by class index and its extra entries ignored."""
    if weight is None:
        return None
    weight = as_tensor(weight)
    if not fits(tuple(weight.shape), (input.shape[1],)):
        raise ValueError(f"{name}: weight must have one entry per class, shape [{input.shape[1]}] for input "
                         f"{input.dtype}{list(input.shape)}, got {weight.dtype}{list(weight.shape)}")
    return cast(weight, input.dtype)


def _nan_if_no_weight(loss: TensorLike, weights: TensorLike, reduction: str) -> TensorLike:
    """A mean over no weight at all (every target ignored) is nan, as in PyTorch, with a zero gradient."""
    return where(sum(weights) != 0, loss, float("nan")) if reduction == "mean" else loss


def _eagerly_nonfinite(input: TensorLike, target: TensorLike, loss: TensorLike) -> bool:
    """Whether ``loss``, computed eagerly on the CPU, holds an inf or NaN (False in a graph or on a device, where
    looking would wait for the values)."""
    return not (input.symbolic or target.symbolic or not isinstance(loss.array, np.ndarray)
                or np.isfinite(loss.array).all())


def _nll(name: str, input, target, weight, ignore_index: int, reduction: str) -> TensorLike:
    # The loss is sum(input * W) with W = -one_hot(target) * class weight (/ total weight for the mean),
    # a constant of the targets: two cheap ops forward and back instead of a gather/scatter chain.
    input, target = to_float(input), as_tensor(target)
    weights = _class_weights(name, input, target, weight, ignore_index, reduction, negate=True)
    products = input * weights
    if input.symbolic or target.symbolic:  # a graph cannot look: a masked class's -inf times its weight 0 kept out
        products = where(weights != 0, products, 0.0)
    loss = sum(products, axis=1) if reduction == "none" else sum(products)
    if not _eagerly_nonfinite(input, target, loss):
        return loss if reduction == "none" else _nan_if_no_weight(loss, weights, reduction)
    # A -inf (or NaN) log-probability of a class other than the target (a masked one) times its weight 0 made the
    # product NaN where PyTorch's loss is finite: each row's target term picked alone (ignored rows: 0). Eagerly on
    # the CPU only, where the result can be looked at without waiting on a device; a graph keeps the product.
    index = unsqueeze(where(target == ignore_index, 0, target), 1)
    row_weights = gather(weights, 1, index)
    terms = where(row_weights != 0, gather(input, 1, index) * row_weights, 0.0)
    rows = reshape(terms, (terms.shape[0],) + tuple(terms.shape[2:]))
    return rows if reduction == "none" else _nan_if_no_weight(sum(rows), weights, reduction)


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> TensorLike:
    """Softmax cross-entropy of logits (N, C, ...) against class indices or class probabilities (unbatched (C,)
    logits: against a 0-d class index or (C,) probabilities)."""
    input, target = widened(to_float(input), as_tensor(target))
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    ndim = len(input.shape)
    if ndim == 1:
        return _unbatched(cross_entropy, input, target, reduction, weight=weight, ignore_index=ignore_index,
                          label_smoothing=label_smoothing)
    if ndim < 2:
        raise ValueError(f"cross_entropy: input must be (N, C, ...) or (C,), got {input.dtype}{list(input.shape)}")
    if ndim == 2 and weight is None and not label_smoothing and target.dtype not in FLOATING:  # one op
        return _sparse_xent(input, target, ignore_index, reduction)
    if target.dtype not in FLOATING and not label_smoothing:  # class indices: one fused op
        labels = _class_weights("cross_entropy", input, target, weight, ignore_index, reduction)
        loss = softmax_cross_entropy(input, labels, total=reduction != "none")
        if not _eagerly_nonfinite(input, target, loss):
            return _nan_if_no_weight(loss, labels, reduction)
        # a -inf (or NaN) target logit: nll_loss of the log-probabilities picks each target's term alone
        return _nll("cross_entropy", log_softmax(input, axis=1), target, weight, ignore_index, reduction)
    logp = log_softmax(input, axis=1)
    classes = input.shape[1]
    w_row = None
    if weight is not None:
        weight = _class_weight("cross_entropy", input, weight)
        w_row = weight.reshape((1, classes) + (1,) * (input.ndim - 2))
    if target.dtype in FLOATING:  # class probabilities
        _same_shape("cross_entropy", input, target)
        if label_smoothing:
            target = target * (1.0 - label_smoothing) + label_smoothing / classes
        terms = logp * target if w_row is None else logp * target * w_row
        return _reduce("cross_entropy", -sum(terms, axis=1), reduction)
    nll = _nll("cross_entropy", logp, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    valid = cast(target != ignore_index, input.dtype)
    smooth_terms = logp if w_row is None else logp * w_row
    smooth = -sum(smooth_terms, axis=1) * valid * (1.0 / classes)
    if reduction == "mean":
        if weight is None:
            denominator = sum(valid)
        else:
            denominator = sum(take(weight, where(target != ignore_index, target, 0)) * valid)
        smooth = sum(smooth) / where(denominator != 0, denominator, 1.0)  # 0 / 0: nll's nan, not a nan gradient
    else:
        smooth = _reduce("cross_entropy", smooth, reduction)
    return nll * (1.0 - label_smoothing) + smooth * label_smoothing


# --- binary cross-entropy ------------------------------------------------------------------------------------
# PyTorch's backward for the probabilities is (x - t) / max(x (1 - x), 1e-12), not the derivative of the clamped
# logs: at a probability of exactly 0 or 1 the clamp's derivative is 0, so a confidently wrong prediction got no
# gradient and a right one a gradient of -1 or 1. One op, whose vjp is PyTorch's rule.

_BCE_EPSILON = float(np.float32(1e-12))  # PyTorch's floor under x (1 - x) in the gradient (float32's 1e-12)


def _bce_forward(xp, x, t):
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once
        return _bce_forward(xp, x.astype(np.float32), t.astype(np.float32)).astype(x.dtype)
    for name, values in (("input", x), ("target", t)):
        if not bool(((values >= 0) & (values <= 1)).all()):  # NaN fails too, as PyTorch's check
            bad = values[~((values >= 0) & (values <= 1))]
            raise ValueError(f"binary_cross_entropy: every element of {name} must lie in [0, 1], got {bad[:5]}")
    floor = x.dtype.type(-100)
    with np.errstate(divide="ignore"):  # log(0) is -inf, clamped at -100 as PyTorch
        log_p = xp.maximum(xp.log(x), floor)
        log_q = xp.maximum(xp.log1p(-x), floor)
    return (t - x.dtype.type(1)) * log_q - t * log_p


def _bce_infer(x, t):
    specs = [x, t]
    require_float("binary_cross_entropy", specs)
    same_dtype("binary_cross_entropy", specs)
    if not fits(tuple(x.shape), tuple(t.shape)):
        raise shape_error("binary_cross_entropy", specs, "input and target must have the same shape")
    return Spec(tuple(x.shape), x.dtype)


def _bce_rule(run, ctx, g):
    """PyTorch's: g (x - t) / max(x (1 - x), 1e-12) for the input, g (log(1 - x) - log(x)) for the target."""
    x, t = ctx.inputs
    g_x = g_t = None
    if ctx.needs[0]:
        spread = run(MUL, run(SUB, _scalar(run, x, 1.0), x), x)
        g_x = run(DIV, run(MUL, g, run(SUB, x, t)), run(CLIP, spread, min=_BCE_EPSILON, max=None))
    if ctx.needs[1]:
        with np.errstate(divide="ignore"):  # -inf or inf at x = 0 or 1, as PyTorch's -logit(x)
            g_t = run(MUL, g, run(SUB, run(LOG1P, run(NEG, x)), run(LOG, x)))
    return g_x, g_t


BINARY_CROSS_ENTROPY = defop(
    "binary_cross_entropy",
    forward=_bce_forward,
    infer=_bce_infer,
    vjp=vjp_rule(_bce_rule),
    cost=elementwise_cost(8),
    onnx=NO_ONNX,
    autocast=FLOAT32,
)


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> TensorLike:
    """BCE of probabilities ``input`` in [0, 1] (refused outside, as the target); logs are clamped at -100 and
    the gradient is PyTorch's, finite at probabilities of exactly 0 or 1."""
    input, target = to_float(input), to_float(as_tensor(target))
    _same_shape("binary_cross_entropy", input, target)
    if input.dtype != target.dtype:
        input, target = promote(input, target)
    losses = dispatch.apply(BINARY_CROSS_ENTROPY, (input, target), {})
    if weight is not None:
        losses = losses * _weighting("binary_cross_entropy", "weight", input, weight)
    return _reduce("binary_cross_entropy", losses, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction: str = "mean") -> TensorLike:
    """BCE of sigmoid(input), computed from the logits without overflow; ``pos_weight`` scales positives."""
    input, target = widened(to_float(input), to_float(as_tensor(target)))
    _same_shape("binary_cross_entropy_with_logits", input, target)
    # -log(sigmoid(x)) in full, as PyTorch's log_sigmoid: softplus's linear branch past 20 drops exp(x), which a
    # confident wrong logit's loss (input -30, target ~0) needs
    negative_part = softplus(-input, threshold=float("inf"))
    if pos_weight is None:
        losses = (1.0 - target) * input + negative_part
    else:
        pos_weight = _weighting("binary_cross_entropy_with_logits", "pos_weight", input, pos_weight)
        losses = (1.0 - target) * input + (target * (pos_weight - 1.0) + 1.0) * negative_part
    if weight is not None:
        losses = losses * _weighting("binary_cross_entropy_with_logits", "weight", input, weight)
    return _reduce("binary_cross_entropy_with_logits", losses, reduction)

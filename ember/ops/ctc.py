"""Connectionist temporal classification: ``ctc_loss`` as a primitive and its gradient op.

The loss of each sequence is -log of the summed probability of every alignment of its target to its input
frames (blanks between and around the labels, repeats merged), computed by the forward (alpha) recursion in log
space over the extended target ``blank, l1, blank, l2, ..., blank``, one step per frame, vectorized over the
batch. The gradient adds the backward (beta) recursion and is PyTorch's: for each frame t < input_length,
``exp(lp) - exp(log(sum over s with label c of alpha * beta) + nll - lp)``, which is the gradient with respect to
the logits of ``log_probs = log_softmax(logits)`` (through log_softmax's backward it is unchanged; with respect
to ``log_probs`` themselves it differs from the derivative by ``exp(lp)``, as PyTorch's does).
"""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import LOW_PRECISION
from ember.ops import dispatch
from ember.ops.autocast import FLOAT32
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import clip
from ember.ops.infer import as_int, fits, require_float
from ember.ops.modes import vjp_rule
from ember.ops.reduction import mean, sum
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape

_REDUCTIONS = ("mean", "sum", "none")


# --- the recursions, on arrays ------------------------------------------------------------------------------------


def _check_values(xp, log_probs, targets, input_lengths, target_lengths, blank: int) -> None:
    """The checks only the values allow: lengths in range, target labels real classes other than the blank."""
    frames, _, classes = log_probs.shape
    il, tl = input_lengths.reshape(-1), target_lengths.reshape(-1)
    if il.size and (int(il.min()) < 0 or int(il.max()) > frames):
        raise ValueError(f"input_lengths must lie in [0, {frames}] (log_probs' time dimension T), got "
                         f"{il.tolist()}")
    if tl.size and int(tl.min()) < 0:
        raise ValueError(f"target_lengths must not be negative, got {tl.tolist()}")
    if targets.ndim == 2 and tl.size and int(tl.max()) > targets.shape[1]:
        raise ValueError(f"target_lengths must be at most {targets.shape[1]}, the padded targets' length S, got "
                         f"{tl.tolist()}")
    if targets.ndim == 1 and int(tl.sum()) != targets.shape[0]:
        raise ValueError(f"the concatenated targets hold {targets.shape[0]} labels but target_lengths sum to "
                         f"{int(tl.sum())} ({tl.tolist()})")
    padded = _padded(xp, targets, tl, blank)
    labels = padded[xp.arange(padded.shape[1])[None, :] < tl[:, None]]
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise IndexError(f"targets must be class indices in [0, {classes}), got values from {int(labels.min())} "
                         f"to {int(labels.max())}")
    if bool((labels == blank).any()):
        raise ValueError(f"targets must not contain the blank label {blank} within their target_lengths")


def _padded(xp, targets, target_lengths, blank: int):
    """(N, S) targets: the padded layout as it is, the concatenated one cut at the lengths and padded."""
    if targets.ndim == 2:
        return targets
    width = int(target_lengths.max()) if target_lengths.size else 0
    starts = xp.cumsum(target_lengths) - target_lengths
    within = xp.arange(width)[None, :] < target_lengths[:, None]
    at = xp.where(within, starts[:, None] + xp.arange(width)[None, :], 0)
    if targets.shape[0] == 0:
        return xp.full(at.shape, blank, targets.dtype)
    return xp.where(within, targets[at], blank)


def _logsumexp3(xp, a, b, c):
    """log(exp(a) + exp(b) + exp(c)) elementwise, -inf where all three are."""
    top = xp.maximum(xp.maximum(a, b), c)
    top = xp.where(top == -np.inf, 0, top)
    with np.errstate(divide="ignore"):
        return xp.log(xp.exp(a - top) + xp.exp(b - top) + xp.exp(c - top)) + top


def _shifted(xp, x, by: int, fill=-np.inf):
    """x moved ``by`` places along its last axis (right when positive), ``fill`` in the places left."""
    out = xp.full_like(x, fill)
    if by > 0:
        out[..., by:] = x[..., :-by]
    else:
        out[..., :by] = x[..., -by:]
    return out


class _Lattice:
    """The extended targets of a batch and the log-probabilities of their labels at every frame."""

    def __init__(self, xp, log_probs, targets, input_lengths, target_lengths, blank: int):
        batch = log_probs.shape[1]
        self.il = input_lengths.reshape(batch).astype(np.int64)
        self.tl = target_lengths.reshape(batch).astype(np.int64)
        padded = _padded(xp, targets, self.tl, blank)
        width = 2 * padded.shape[1] + 1
        self.valid = xp.arange(width)[None, :] < 2 * self.tl[:, None] + 1  # (N, L)
        ext = xp.full((batch, width), blank, np.int64)
        ext[:, 1::2] = padded
        self.ext = xp.where(self.valid, ext, blank)  # padding past a target's length may hold any value
        # the skip from s - 2 to s: a label (not a blank) that differs from the label before it
        self.skip = xp.zeros((batch, width), bool)
        self.skip[:, 2:] = (self.ext[:, 2:] != blank) & (self.ext[:, 2:] != self.ext[:, :-2])
        emit = xp.take_along_axis(log_probs, self.ext[None], axis=2)  # (T, N, L)
        self.emit = xp.where(self.valid[None], emit, -np.inf)
        self.last = self.il - 1  # the last frame of each sequence (-1: none)
        # where an alignment ends: the last label or the blank after it (the one blank of an empty target)
        self.end = self.valid & (xp.arange(width)[None, :] >= 2 * self.tl[:, None] - 1)


def _alpha(xp, lattice: _Lattice):
    """log alpha (T, N, L): the log-probability of the prefixes ending at extended position s at frame t."""
    emit = lattice.emit
    alpha = xp.empty_like(emit)
    alpha[0] = -np.inf
    alpha[0, :, :2] = emit[0, :, :2]
    for t in range(1, emit.shape[0]):
        prev = alpha[t - 1]
        two = xp.where(lattice.skip, _shifted(xp, prev, 2), -np.inf)
        alpha[t] = _logsumexp3(xp, prev, _shifted(xp, prev, 1), two) + emit[t]
    return alpha


def _nll(xp, lattice: _Lattice, alpha):
    """-log p(target | input) per sequence from alpha: its last frame at the last blank or the last label."""
    final = alpha[xp.maximum(lattice.last, 0), xp.arange(alpha.shape[1])]  # (N, L)
    ends = xp.where(lattice.end, final, -np.inf)
    top = ends.max(axis=1, keepdims=True)
    top = xp.where(top == -np.inf, 0, top)
    with np.errstate(divide="ignore"):
        nll = -(xp.log(xp.exp(ends - top).sum(axis=1)) + top[:, 0])
    # no frame: the empty target has probability one, any other none
    return xp.where(lattice.il > 0, nll, xp.where(lattice.tl > 0, np.inf, 0.0)).astype(alpha.dtype)


def _beta(xp, lattice: _Lattice):
    """log beta (T, N, L): the log-probability of the suffixes from extended position s at frame t (frame t's
    emission included, as in alpha)."""
    emit = lattice.emit
    start = xp.where(lattice.end, emit[xp.maximum(lattice.last, 0), xp.arange(emit.shape[1])], -np.inf)
    skip_ahead = _shifted(xp, lattice.skip, -2, False)  # may go from s to s + 2
    beta = xp.empty_like(emit)
    after = xp.full(emit.shape[1:], -np.inf, emit.dtype)
    for t in range(emit.shape[0] - 1, -1, -1):
        two = xp.where(skip_ahead, _shifted(xp, after, -2), -np.inf)
        step = _logsumexp3(xp, after, _shifted(xp, after, -1), two) + emit[t]
        here = (t == lattice.last)[:, None]
        after = xp.where(here, start, xp.where((t < lattice.last)[:, None], step, -np.inf))
        beta[t] = after
    return beta


def _gradient(xp, log_probs, lattice: _Lattice, alpha, nll, g, zero_infinity: bool):
    """PyTorch's gradient (module docstring) times the upstream gradient ``g`` (N,)."""
    frames, batch, classes = log_probs.shape
    both = alpha + _beta(xp, lattice)  # (T, N, L); -inf past a sequence's last frame
    top = both.max(axis=2, keepdims=True)
    top = xp.where(top == -np.inf, 0, top)
    # the sum over the positions s holding label c, as a product with the positions' one-hot labels
    one_hot = (lattice.ext[:, :, None] == xp.arange(classes)[None, None, :]).astype(both.dtype)  # (N, L, C)
    summed = xp.matmul(xp.exp(both - top).transpose(1, 0, 2), one_hot).transpose(1, 0, 2)  # (T, N, C)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        grad = xp.exp(log_probs) - xp.exp(xp.log(summed) + top + nll[None, :, None] - log_probs)
    counted = xp.arange(frames)[:, None] < lattice.il[None, :]  # (T, N)
    if zero_infinity:
        counted = counted & (nll != np.inf)[None, :]
    grad = xp.where(counted[:, :, None], grad * g[None, :, None], 0)
    return grad.astype(log_probs.dtype)


# --- the ops --------------------------------------------------------------------------------------------------------


def _lattice_and_alpha(xp, log_probs, targets, input_lengths, target_lengths, blank):
    """(the lattice, log alpha, each sequence's -log p), what the loss and its gradient both start from."""
    lattice = _Lattice(xp, log_probs, targets, input_lengths, target_lengths, blank)
    alpha = _alpha(xp, lattice)
    return lattice, alpha, _nll(xp, lattice, alpha)


def _ctc_residuals(xp, log_probs, targets, input_lengths, target_lengths, *, blank, zero_infinity):
    """The losses, and the lattice, alpha and losses its gradient reuses (``Op.residuals``)."""
    wide = log_probs.astype(np.float32) if log_probs.dtype in LOW_PRECISION else log_probs  # rounded once
    _check_values(xp, wide, targets, input_lengths, target_lengths, blank)
    parts = _lattice_and_alpha(xp, wide, targets, input_lengths, target_lengths, blank)
    nll = parts[2]
    if zero_infinity:
        nll = xp.where(nll == np.inf, 0, nll)
    return nll.astype(log_probs.dtype), parts


def _ctc_forward(xp, log_probs, targets, input_lengths, target_lengths, *, blank, zero_infinity):
    return _ctc_residuals(xp, log_probs, targets, input_lengths, target_lengths, blank=blank,
                          zero_infinity=zero_infinity)[0]


def _ctc_grad_forward(xp, log_probs, targets, input_lengths, target_lengths, g, *, blank, zero_infinity,
                      residuals=None):
    """The gradient for the upstream gradient ``g``; ``residuals``: the loss forward's (lattice, alpha, nll) of
    these inputs (eager mode), else they are computed here."""
    wide = log_probs.astype(np.float32) if log_probs.dtype in LOW_PRECISION else log_probs
    if residuals is None:
        residuals = _lattice_and_alpha(xp, wide, targets, input_lengths, target_lengths, blank)
    lattice, alpha, nll = residuals
    grad = _gradient(xp, wide, lattice, alpha, nll, g.astype(wide.dtype), zero_infinity)
    return grad.astype(log_probs.dtype)


def _ctc_specs(name, log_probs, targets, input_lengths, target_lengths, blank):
    specs = [log_probs, targets, input_lengths, target_lengths]
    require_float(name, [log_probs])
    if log_probs.ndim != 3 or log_probs.shape[0] == 0:
        raise shape_error(name, specs, "log_probs must be (T, N, C) with at least one frame")
    _, batch, classes = log_probs.shape
    if targets.dtype.kind not in "iu":
        raise shape_error(name, specs, "targets must hold integer class indices")
    if targets.ndim not in (1, 2) or (targets.ndim == 2 and not fits((batch,), (targets.shape[0],))):
        raise shape_error(name, specs, "targets must be (N, S) padded or 1-D concatenated, N as in log_probs")
    for what, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if lengths.dtype.kind not in "iu" or not fits((batch,), tuple(lengths.shape)):
            raise shape_error(name, specs, f"{what} must be (N,) integers, N as in log_probs")
    blank = as_int(name, blank, "blank", specs)
    if classes is not None and not 0 <= blank < classes:
        raise shape_error(name, specs, f"blank must be a class in [0, {classes}), got {blank}")
    return specs


def _ctc_infer(log_probs, targets, input_lengths, target_lengths, *, blank, zero_infinity):
    _ctc_specs("ctc_loss", log_probs, targets, input_lengths, target_lengths, blank)
    return Spec((log_probs.shape[1],), log_probs.dtype)


def _ctc_grad_infer(log_probs, targets, input_lengths, target_lengths, g, *, blank, zero_infinity,
                    residuals=None):
    name = "ctc_loss_grad"
    specs = _ctc_specs(name, log_probs, targets, input_lengths, target_lengths, blank)
    if g.dtype != log_probs.dtype or not fits((log_probs.shape[1],), tuple(g.shape)):
        raise shape_error(name, specs + [g], f"the upstream gradient must be {log_probs.dtype}[N]")
    return Spec(tuple(log_probs.shape), log_probs.dtype)


def _ctc_cost(out: Spec, log_probs: Spec, targets: Spec, *rest: Spec, **attrs) -> Cost:
    frames, batch, classes = (d or 1 for d in log_probs.shape)
    width = 2 * ((targets.shape[-1] or 1) if targets.ndim == 2 else (targets.shape[0] or 1)) + 1
    lattice = frames * batch * width
    return Cost(30 * lattice + 2 * lattice * classes, (log_probs.nbytes or 0) + lattice * 8 + (out.nbytes or 0))


def _ctc_rule(run, ctx, g):
    if ctx.residuals is None:
        return run(CTC_LOSS_GRAD, *ctx.inputs, g, **ctx.attrs), None, None, None
    return run(CTC_LOSS_GRAD, *ctx.inputs, g, residuals=ctx.residuals, **ctx.attrs), None, None, None


CTC_LOSS = defop(
    "ctc_loss",
    forward=_ctc_forward,
    infer=_ctc_infer,
    vjp=vjp_rule(_ctc_rule),
    cost=_ctc_cost,
    onnx=NO_ONNX,
    autocast=FLOAT32,
    residuals=_ctc_residuals,
)

def _ctc_grad_rule(run, ctx, u):
    """No second derivative, as in PyTorch: refused where one is asked for (a vjp of none, NON_DIFFERENTIABLE, made
    the gradient a constant, so a gradient of it came out 0 silently)."""
    raise RuntimeError("ctc_loss: no second derivative (as PyTorch's): a backward through its gradient (taken with "
                       "create_graph=True) was asked for")


CTC_LOSS_GRAD = defop(
    "ctc_loss_grad",
    forward=_ctc_grad_forward,
    infer=_ctc_grad_infer,
    vjp=vjp_rule(_ctc_grad_rule),
    cost=_ctc_cost,
    onnx=NO_ONNX,
    autocast=FLOAT32,
)


# --- the function ------------------------------------------------------------------------------------------------


def _lengths(what: str, lengths, batch: int | None, unbatched: bool, like: TensorLike) -> TensorLike:
    if isinstance(lengths, (int, np.integer)):
        lengths = [as_int("ctc_loss", lengths, what)]
    elif isinstance(lengths, (tuple, list)):
        lengths = [as_int("ctc_loss", v, what) for v in lengths]
    lengths = as_tensor(lengths, like) if isinstance(lengths, list) else as_tensor(lengths)
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {what} must hold integers, got {lengths.dtype}")
    expected = "() or (1,)" if unbatched else f"({batch},), one per sequence of the batch"
    if (unbatched and tuple(lengths.shape) not in ((), (1,))) or (
            not unbatched and (lengths.ndim != 1 or not fits((batch,), tuple(lengths.shape)))):
        raise ValueError(f"ctc_loss: {what} must have shape {expected}, got {list(lengths.shape)}")
    return reshape(lengths, (1,)) if unbatched else lengths


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> TensorLike:
    """The CTC loss of ``log_probs`` (T, N, C) (or (T, C) for one sequence), log-softmax outputs over C classes,
    against ``targets``: padded (N, S) or all the batch's targets concatenated (1-D), as PyTorch's ``ctc_loss``.
    ``input_lengths`` and ``target_lengths`` (tensors or tuples of ints) give each sequence's frames and labels;
    ``reduction="mean"`` divides each loss by its target length (at least 1), then averages; ``zero_infinity``
    makes the loss of an impossible alignment (inf) and its gradient zero. The gradient is PyTorch's (see the
    module docstring).

    >>> lp = ember.log_softmax(ember.randn(6, 2, 4), axis=2)
    >>> ember.ctc_loss(lp, ember.tensor([[1, 2], [3, 3]]), (6, 5), (2, 2))
    """
    log_probs, targets = to_float(log_probs), as_tensor(targets)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"ctc_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got {log_probs.dtype}"
                         f"{list(log_probs.shape)}")
    unbatched = log_probs.ndim == 2
    if unbatched:
        if targets.ndim != 1:
            raise ValueError(f"ctc_loss: the targets of unbatched (T, C) log_probs must be 1-D, got "
                             f"{list(targets.shape)}")
        log_probs = reshape(log_probs, (log_probs.shape[0], 1, log_probs.shape[1]))
        targets = reshape(targets, (1, targets.shape[0]))
    batch = log_probs.shape[1]
    input_lengths = _lengths("input_lengths", input_lengths, batch, unbatched, targets)
    target_lengths = _lengths("target_lengths", target_lengths, batch, unbatched, targets)
    attrs = {"blank": as_int("ctc_loss", blank, "blank"), "zero_infinity": bool(zero_infinity)}
    inputs = (log_probs, targets, input_lengths, target_lengths)
    _ctc_infer(*(Spec(tuple(t.shape), t.dtype) for t in inputs), **attrs)  # eager mode runs no shape rule
    losses = dispatch.apply(CTC_LOSS, inputs, attrs)
    if reduction == "sum":
        return sum(losses)
    if reduction == "mean":
        return mean(losses / clip(cast(target_lengths, losses.dtype), 1.0, None))
    return reshape(losses, ()) if unbatched else losses

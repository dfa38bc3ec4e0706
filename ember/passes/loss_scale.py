"""Loss scaling for a ``TrainRequest``: the backward of ``loss * scale``, gradients divided by the scale before the
updates, and (dynamic) a step whose gradients hold an inf or a NaN skipped, the scale adjusted in the graph.

float16 has a narrow range: small gradients underflow to zero in its backward. The ``autodiff`` pass resolves a
request with a ``LossScale`` through ``append_scaled_updates``, which appends, as nodes of the graph, what
TensorFlow's ``LossScaleOptimizer`` with a ``DynamicLossScale`` (and ``ember.amp.GradScaler`` in eager mode) does:

- the backward is seeded with the scale (the gradient of ``loss * scale``), and each gradient is multiplied by
  ``1 / scale``;
- dynamic scaling: ``bad``, the sum over the gradients of ``sum(g * 0)``, is 0 when they are all finite and NaN
  otherwise; adding it to every unscaled gradient makes all of a bad step's gradients NaN, and the update rule,
  wrapped by ``skip_nonfinite``, then leaves its parameter and state alone (graphs have no branches: this is how
  every update of the step learns the verdict);
- after the updates the scale and the count of good steps are written (``assign``): a bad step halves the scale
  (not below 1) and restarts the count; ``period`` good steps in a row multiply it by ``multiplier``; a step
  counter (TF's ``global_step``) counts the applied steps only.

The scale and the count are values of the graph that the front end binds to its state (a Session's variables),
read and written on every run.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ember.graph.ir import Graph, GraphError, Value
from ember.ops.effects import assign, update_rule
from ember.ops.elementwise import eq, ge, maximum, where
from ember.ops.reduction import sum as reduce_sum
from ember.ops.shape import broadcast_to
from ember.passes.data_parallel import average, data_parallel_job
from ember.sparse import RowSparse

__all__ = ["LossScale", "append_scaled_updates", "skip_nonfinite"]


class LossScale:
    """How a request's loss is scaled: ``scale`` (a float32 value of shape ()), and for dynamic scaling
    ``good_steps`` (an integer value of shape ()), ``period`` and ``multiplier``; ``good_steps=None`` is a fixed
    scale (every step applied, as TensorFlow's ``FixedLossScale``). ``step``: an integer value of shape () that a
    dynamic scale's applied steps count (TF's ``global_step``, which a skipped step leaves alone)."""

    __slots__ = ("scale", "good_steps", "period", "multiplier", "step")

    def __init__(self, scale: Value, good_steps: Value | None = None, period: int = 2000, multiplier: float = 2.0,
                 step: Value | None = None):
        if scale.shape != () or scale.dtype.kind != "f":
            raise GraphError(f"LossScale: the scale must be a floating value of shape (), got {scale.array!r}")
        if good_steps is not None and (good_steps.shape != () or good_steps.dtype.kind not in "iu"):
            raise GraphError(f"LossScale: good_steps must be an integer value of shape (), got {good_steps.array!r}")
        if not isinstance(period, int) or isinstance(period, bool) or period < 1:
            raise ValueError(f"LossScale: period must be a positive int, got {period!r}")
        if not isinstance(multiplier, (int, float)) or not math.isfinite(multiplier) or multiplier <= 1:
            raise ValueError(f"LossScale: multiplier must be a finite number > 1, got {multiplier!r}")
        if step is not None and (good_steps is None or step.shape != () or step.dtype.kind not in "iu"):
            raise GraphError(f"LossScale: step needs a dynamic scale and an integer value of shape (), got "
                             f"{step.array!r}")
        self.scale, self.good_steps, self.period, self.multiplier = scale, good_steps, period, float(multiplier)
        self.step = step

    @property
    def dynamic(self) -> bool:
        return self.good_steps is not None

    def remapped(self, mapping: dict) -> LossScale:
        """The same scaling over the values ``mapping`` (value id -> Value) gives for this one's (a graph copy)."""
        steps = None if self.good_steps is None else mapping[self.good_steps.id]
        step = None if self.step is None else mapping[self.step.id]
        return LossScale(mapping[self.scale.id], steps, self.period, self.multiplier, step)


@functools.cache
def skip_nonfinite(rule):
    """``rule`` (a per-parameter update rule) that leaves the parameter and its state alone when the gradient is
    NaN: ``append_scaled_updates`` makes every element of a bad step's gradients NaN, so one element decides."""

    @update_rule()
    def update(param, grad, state: dict, **hyper) -> None:
        values = grad.values.array if grad.__class__ is RowSparse else grad  # (a row-sparse rule's gradient)
        first = values.reshape(-1)[:1]
        if first.size and bool((first != first).all()):  # NaN: the step's gradients held an inf or a NaN
            return
        rule(param, grad, state, **hyper)

    update.keeps_grad = getattr(rule, "keeps_grad", True)
    update.__name__ = update.__qualname__ = f"skip_nonfinite({getattr(rule, '__name__', 'rule')})"
    return update


def _seed(loss: Value, scale: Value):
    """The gradient of ``loss * scale`` with respect to ``loss``: the scale, in the loss's dtype and shape."""
    if None in loss.shape:
        raise GraphError(f"loss scaling: the loss %{loss.id} is {loss.array!r}; its shape must be known")
    seed = scale.astype(loss.dtype) if scale.dtype != loss.dtype else scale
    return seed if loss.shape == () else broadcast_to(seed, loss.shape)


def append_scaled_updates(graph: Graph, request, gradients, append_updates) -> None:
    """Resolve ``request`` (a ``TrainRequest`` with a ``loss_scale``): the scaled backward, the unscaled gradients,
    the update nodes and, for a dynamic scale, the skip of a bad step and the new scale (see the module's
    docstring). ``gradients`` and ``append_updates`` are the ``autodiff`` pass's own (it calls this module)."""
    ls = request.loss_scale
    with graph.building():
        seed = _seed(request.loss, ls.scale)
    # a lookup's gradient stays row-sparse (its values unscaled and checked) for the sparse rule, as TF-1's
    # LossScaleOptimizer hands the inner optimizer IndexedSlices
    rule, sparse_rule = request.rule, request.sparse_rule
    grads = gradients(graph, [request.loss], request.params, [seed], sparse=sparse_rule is not None)
    with graph.building():
        inverse = 1.0 / ls.scale
        grads = [None if g is None else _on_values(g, lambda v: v * inverse.astype(v.dtype)) for g in grads]
        if ls.dynamic:
            bad = graph.constant(np.asarray(0, ls.scale.dtype))  # 0 + the checks: NaN if one is
            for g in grads:
                if g is not None:
                    bad = bad + reduce_sum((g.values if g.__class__ is RowSparse else g) * 0.0).astype(ls.scale.dtype)
            if data_parallel_job():
                # every rank's verdict: a step is good only where every rank's gradients are finite, as TF's
                # DynamicLossScale under a distribution strategy (the scale, its count and the step stay alike)
                bad = average([bad])[0]
            grads = [None if g is None else _on_values(g, lambda v: v + bad.astype(v.dtype)) for g in grads]
            rule = [skip_nonfinite(r) for r in rule] if isinstance(rule, list) else skip_nonfinite(rule)
            if sparse_rule is not None:
                sparse_rule = [skip_nonfinite(r) for r in sparse_rule] if isinstance(sparse_rule, list) else \
                    skip_nonfinite(sparse_rule)
    append_updates(graph, request.params, grads, rule, request.hyper, request.states, request.live, sparse_rule)
    if ls.dynamic:
        with graph.building():
            _update_scale(graph, ls, eq(bad, 0.0))


def _on_values(grad, fn):
    """``fn(grad)``; for a row-sparse gradient, the same rows with ``fn`` of their values."""
    return RowSparse(grad.indices, fn(grad.values), grad.shape) if grad.__class__ is RowSparse else fn(grad)


def _update_scale(graph: Graph, ls: LossScale, finite) -> None:
    """TensorFlow's ``DynamicLossScale.update``: after a bad step halve the scale (not below 1) and restart the
    count; after ``period`` good steps in a row multiply it by ``multiplier`` (when that stays finite)."""
    scale, steps = ls.scale, ls.good_steps
    dtype = scale.dtype
    one = graph.constant(np.asarray(1, steps.dtype))
    zero = graph.constant(np.asarray(0, steps.dtype))
    counted = steps + one
    grow = ge(counted, graph.constant(np.asarray(ls.period, steps.dtype)))
    grown = scale * graph.constant(np.asarray(ls.multiplier, dtype))
    grown = where(eq(grown * 0.0, 0.0), grown, scale)  # an overflow to inf keeps the scale
    shrunk = maximum(scale / graph.constant(np.asarray(ls.multiplier, dtype)), graph.constant(np.asarray(1, dtype)))
    new_scale = where(finite, where(grow, grown, scale), shrunk)
    new_steps = where(finite, where(grow, zero, counted), zero)
    assign(scale, new_scale)
    assign(steps, new_steps)
    if ls.step is not None:
        done = ls.step
        assign(done, where(finite, done + graph.constant(np.asarray(1, done.dtype)), done))

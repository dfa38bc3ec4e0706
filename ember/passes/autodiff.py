"""autodiff: append the backward graph (from the ops' vjp rules) and the optimizer's update nodes.

vjp rules are written with Ember ops, so calling them on Values while the graph is built appends the
backward nodes: the same rules eager mode runs, no second set.
"""

from __future__ import annotations

import itertools

from ember.graph.autodiff import gradients
from ember.graph.ir import SPARSE_UPDATE, UPDATE, Graph, Value
from ember.passes.loss_scale import append_scaled_updates
from ember.sparse import RowSparse

__all__ = ["TrainRequest", "append_updates", "autodiff", "gradients"]


class TrainRequest:
    """Minimize ``loss`` over ``params`` with ``rule(param, grad, state, **hyper)``; resolved by ``autodiff``.
    ``loss_scale``: an ``ember.passes.loss_scale.LossScale`` (float16 training), or None. ``grads``: the
    gradients to apply, one Value (a ``RowSparse`` of Values for ``sparse_rule``, or None) per parameter, when
    they are given rather than derived from ``loss`` (TF-1's ``apply_gradients`` of clipped gradients; ``loss``
    is then None). ``live``: returns the hyper-parameters when the step runs (see ``ember.ops.effects.update``),
    or None. ``sparse_rule``: the row-sparse form of ``rule``, for a parameter whose gradient is row-sparse (an
    embedding lookup's, TF-1's ``IndexedSlices``): it then updates only the rows looked up; None: every gradient
    dense. ``rule`` (and ``sparse_rule``) may be a list, one rule per parameter (TF-1's AdamW decays only the
    variables of its ``decay_var_list``)."""

    __slots__ = ("loss", "params", "rule", "hyper", "states", "loss_scale", "grads", "live", "sparse_rule")

    def __init__(self, loss: Value | None, params: list, rule, hyper: dict, states: list, loss_scale=None,
                 grads: list | None = None, live=None, sparse_rule=None):
        if (loss is None) == (grads is None):
            raise ValueError("TrainRequest: give either a loss or the gradients")
        self.loss, self.params, self.rule, self.hyper, self.states = loss, params, rule, hyper, states
        self.loss_scale, self.grads, self.live, self.sparse_rule = loss_scale, grads, live, sparse_rule

    def remapped(self, mapping: dict) -> TrainRequest:
        """This request over the Values ``mapping`` (old id -> new Value) gives, for a copied graph."""
        return TrainRequest(None if self.loss is None else mapping[self.loss.id],
                            [mapping[p.id] for p in self.params], self.rule, self.hyper, self.states,
                            self.loss_scale and self.loss_scale.remapped(mapping),
                            None if self.grads is None else [_remapped(g, mapping) for g in self.grads],
                            self.live, self.sparse_rule)


def _remapped(grad, mapping: dict):
    if grad is None:
        return None
    if grad.__class__ is RowSparse:
        return RowSparse(mapping[grad.indices.id], mapping[grad.values.id], grad.shape)
    return mapping[grad.id]


def append_updates(graph: Graph, params: list, grads: list, rule, hyper: dict, states: list, live=None,
                   sparse_rule=None) -> None:
    """One in-place ``update`` node per parameter that has a gradient, a ``sparse_update`` of ``sparse_rule``
    for a row-sparse one (``live``, ``rule``, ``sparse_rule``: see ``TrainRequest``)."""
    rules = rule if isinstance(rule, list) else itertools.repeat(rule)
    sparse_rules = sparse_rule if isinstance(sparse_rule, list) else itertools.repeat(sparse_rule)
    for param, grad, state, rule, sparse_rule in zip(params, grads, states, rules, sparse_rules):
        if grad is not None:
            attrs = {"rule": rule, "hyper": dict(hyper), "state": state}
            if live is not None:
                attrs["live"] = live
            if grad.__class__ is RowSparse:
                graph.add(SPARSE_UPDATE, (param, grad.indices, grad.values), {**attrs, "rule": sparse_rule})
            else:
                graph.add(UPDATE, (param, grad), attrs)


def autodiff(graph: Graph) -> Graph:
    """Resolve the graph's pending ``TrainRequest``s: backward nodes, then the update nodes after them."""
    requests, graph.requests = graph.requests, []
    for request in requests:
        if request.loss_scale is not None:
            append_scaled_updates(graph, request, gradients, append_updates)
            continue
        sparse = request.sparse_rule is not None
        grads = request.grads if request.grads is not None else \
            gradients(graph, [request.loss], request.params, sparse=sparse)
        append_updates(graph, request.params, grads, request.rule, request.hyper, request.states, request.live,
                       request.sparse_rule)
    return graph

"""autodiff: append the backward graph (from the ops' vjp rules) and the optimizer's update nodes.

vjp rules are written with Ember ops, so calling them on Values while the graph is built appends the
backward nodes: the same rules eager mode runs, no second set.
"""

from __future__ import annotations

from ember.graph.autodiff import gradients
from ember.graph.ir import UPDATE, Graph, Value
from ember.passes.loss_scale import append_scaled_updates

__all__ = ["TrainRequest", "append_updates", "autodiff", "gradients"]


class TrainRequest:
    """Minimize ``loss`` over ``params`` with ``rule(param, grad, state, **hyper)``; resolved by ``autodiff``.
    ``loss_scale``: an ``ember.passes.loss_scale.LossScale`` (float16 training), or None."""

    __slots__ = ("loss", "params", "rule", "hyper", "states", "loss_scale")

    def __init__(self, loss: Value, params: list, rule, hyper: dict, states: list, loss_scale=None):
        self.loss, self.params, self.rule, self.hyper, self.states = loss, params, rule, hyper, states
        self.loss_scale = loss_scale


def append_updates(graph: Graph, params: list, grads: list, rule, hyper: dict, states: list) -> None:
    """One in-place ``update`` node per parameter that has a gradient."""
    for param, grad, state in zip(params, grads, states):
        if grad is not None:
            graph.add(UPDATE, (param, grad), {"rule": rule, "hyper": dict(hyper), "state": state})


def autodiff(graph: Graph) -> Graph:
    """Resolve the graph's pending ``TrainRequest``s: backward nodes, then the update nodes after them."""
    requests, graph.requests = graph.requests, []
    for request in requests:
        if request.loss_scale is not None:
            append_scaled_updates(graph, request, gradients, append_updates)
            continue
        grads = gradients(graph, [request.loss], request.params)
        append_updates(graph, request.params, grads, request.rule, request.hyper, request.states)
    return graph

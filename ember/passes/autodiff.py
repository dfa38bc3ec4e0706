"""autodiff: append the backward graph (from the ops' vjp rules) and the optimizer's update nodes.

vjp rules are written with Ember ops, so calling them on Values while the graph is built appends the
backward nodes: the same rules eager mode runs, no second set.
"""

from __future__ import annotations

from ember.graph.autodiff import gradients
from ember.graph.ir import UPDATE, Graph, Value

__all__ = ["TrainRequest", "append_updates", "autodiff", "gradients"]


class TrainRequest:
    """Minimize ``loss`` over ``params`` with ``rule(param, grad, state, **hyper)``; resolved by ``autodiff``."""

    __slots__ = ("loss", "params", "rule", "hyper", "states")

    def __init__(self, loss: Value, params: list, rule, hyper: dict, states: list):
        self.loss, self.params, self.rule, self.hyper, self.states = loss, params, rule, hyper, states


def append_updates(graph: Graph, params: list, grads: list, rule, hyper: dict, states: list) -> None:
    """One in-place ``update`` node per parameter that has a gradient."""
    for param, grad, state in zip(params, grads, states):
        if grad is not None:
            graph.add(UPDATE, (param, grad), {"rule": rule, "hyper": dict(hyper), "state": state})


def autodiff(graph: Graph) -> Graph:
    """Resolve the graph's pending ``TrainRequest``s: backward nodes, then the update nodes after them."""
    requests, graph.requests = graph.requests, []
    for request in requests:
        grads = gradients(graph, [request.loss], request.params)
        append_updates(graph, request.params, grads, request.rule, request.hyper, request.states)
    return graph

"""Reverse-mode differentiation of a graph: the backward nodes, appended from the ops' vjp rules.

vjp rules are written with Ember ops, so calling them on Values while the graph is built appends the
backward nodes: the same rules eager mode runs, no second set. The ``autodiff`` pass and ``ember.grad`` on
Values both use ``gradients``.
"""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import DIFFERENTIABLE
from ember.graph.errors import GraphError
from ember.ops.autocast import suspended as autocast_suspended
from ember.ops.indexing import dense_gradient
from ember.sparse import RowSparse

__all__ = ["gradients"]


class _Context:
    """What a vjp rule reads: the node's inputs, attributes, which inputs need a gradient, its output."""

    __slots__ = ("inputs", "attrs", "needs", "output")
    residuals = None  # what an eager forward saved (``Op.residuals``): a graph's backward recomputes it

    def __init__(self, inputs, attrs, needs, output):
        self.inputs, self.attrs, self.needs, self.output = inputs, attrs, needs, output



def _dense(g):
    return dense_gradient(g) if g.__class__ is RowSparse else g


def _accumulate(previous, g):
    """The sum of two gradients of one value; two row-sparse ones stay row-sparse (their rows concatenated)."""
    if previous is None:
        return g
    if previous.__class__ is RowSparse and g.__class__ is RowSparse:
        from ember.ops.join import concat

        return RowSparse(concat([previous.indices, g.indices], 0), concat([previous.values, g.values], 0),
                         previous.shape)
    return _dense(previous) + _dense(g)


def gradients(graph, ys: list, xs: list, grad_ys: list | None = None, sparse: bool = False,
              stop: list | None = None) -> list:
    """Append nodes computing d(sum of ys)/d(x) for each x; None for an x the ys do not depend on.

    A sparse embedding's weight gets a ``RowSparse`` of Values when ``sparse`` (its rows and their indices),
    else the dense sum; a row-sparse gradient reaching a computed value is densified first. The Values in
    ``stop`` are held constant: their own gradients are computed (where they are xs), none flows past them."""
    unknown = next((y for y in ys if None in y.array.shape and (grad_ys is None or grad_ys[ys.index(y)] is None)),
                   None)
    if unknown is not None:
        raise GraphError(f"gradients: %{unknown.id} is {unknown.array!r}; a gradient of a value of unknown size "
                         "needs its seed given (grad_ys)")
    wanted = {x.id for x in xs}
    held = {v.id for v in stop or ()}
    depends = set(wanted)
    for node in graph.nodes:
        if node.outputs and node.op.differentiable and not node.no_grad and any(v.id in depends for v in node.inputs):
            depends.update(v.id for v in node.outputs if v.array.dtype in DIFFERENTIABLE and v.id not in held)
    snapshot = list(graph.nodes)
    grads: dict = {}
    with graph.building(), autocast_suspended():  # vjps run in the forward's dtypes
        for i, y in enumerate(ys):
            g = grad_ys[i] if grad_ys is not None and grad_ys[i] is not None else None
            if g is None:
                g = graph.constant(np.ones(y.array.shape, y.array.dtype))
            elif not g.symbolic:
                g = graph.capture(g)
            grads[y.id] = g if y.id not in grads else grads[y.id] + g
        for node in reversed(snapshot):
            if not node.outputs or not node.op.differentiable:
                continue
            out = node.outputs[0]
            g = grads.get(out.id)
            if g is None or out.id not in depends or out.id in held:
                continue
            g = _dense(g)
            needs = tuple(v.id in depends for v in node.inputs)
            if True not in needs:
                continue
            input_grads = node.op.vjp(_Context(node.inputs, node.attrs, needs, out), g)
            for v, gv, need in zip(node.inputs, input_grads, needs):
                if not need or gv is None:
                    continue
                if gv.__class__ is not RowSparse and not gv.symbolic:
                    gv = graph.capture(gv)
                grads[v.id] = _accumulate(grads.get(v.id), gv)
        results = [grads.get(x.id) if x.id in wanted else None for x in xs]
        return results if sparse else [None if g is None else _dense(g) for g in results]

"""One backward rule, two ways to run it.

A rule written over ``run(op, *inputs, **attrs)`` (made an op's vjp by ``vjp_rule``) is that op's only
backward rule. On Tensors and graph Values, ``run`` is ``apply``: the backward is recorded when it must be
(``create_graph``), builds graph nodes while a graph is built, and composes for higher-order gradients. On
raw arrays, ``run`` is the op's forward itself (``OnArrays``): a first-order eager backward
runs the rule that way, without a Tensor per intermediate. Both call the same forwards in the same order, so
they agree bit for bit.

>>> def _mul_rule(run, ctx, g):
...     a, b = ctx.inputs
...     return run(MUL, g, b), run(MUL, g, a)
>>> MUL = defop("mul", ..., vjp=vjp_rule(_mul_rule))
"""

from __future__ import annotations

from collections.abc import Callable

from ember.ops import dispatch


def on_tensors(op, *inputs, **attrs):
    """``run`` on Tensors and graph Values: the op applied (recorded or added to the graph as usual)."""
    return dispatch.apply(op, inputs, attrs)


class OnArrays:
    """``run`` on raw arrays of ``xp``: each op's forward itself."""

    __slots__ = ("xp",)

    def __init__(self, xp):
        self.xp = xp

    def __call__(self, op, *arrays, **attrs):
        return op.forward(self.xp, *arrays, **attrs)


def vjp_rule(rule: Callable) -> Callable:
    """The vjp of ``rule(run, ctx, *grads)`` on Tensors; the record keeps ``rule`` for the array mode."""

    def vjp(ctx, *grads):
        return rule(on_tensors, ctx, *grads)

    vjp.rule = rule
    vjp.__name__ = vjp.__qualname__ = getattr(rule, "__name__", "vjp")
    return vjp

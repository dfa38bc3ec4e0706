"""PyTorch's functional control flow at top level: ``cond`` and ``while_loop`` (``torch.cond``,
``torch.while_loop``), and ``vmap`` (``torch.vmap``, which is ``ember.func.vmap``, imported on first call so that
``import ember`` stays as light as it was).

Eagerly ``cond`` runs one branch. Under ``ember.jit`` a predicate computed from the traced inputs has no value
while the graph is built, so both branches are traced and each result is chosen with ``where``: the branches must
then give the same structure of tensors with equal shapes and dtypes. As with any ``where``, a branch not taken
still runs, and a NaN or inf in its gradient can reach the inputs (``0 * inf``); guard such inputs in the branch.
A traced branch that writes a tensor in place (a training-mode batch norm) is refused, as ``torch.cond`` does.
``while_loop`` is a Python loop; under ``ember.jit`` its condition must not depend on traced values.

>>> ember.cond(x.sum() > 0, lambda x: x * 2, lambda x: x - 1, (x,))
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ember import ops as _ops
from ember.ops.dispatch import TensorLike
from ember.ops.effects import RANDOM, RANDOM_SAMPLE
from ember.ops.host import HOST_CALL

__all__ = ["cond", "vmap", "while_loop"]


def vmap(func: Callable, in_dims=0, out_dims=0, randomness: str = "error", *, chunk_size=None) -> Callable:
    """``ember.func.vmap`` (``torch.vmap``): ``func`` mapped over dimension ``in_dims`` of its arguments.

    >>> ember.vmap(ember.dot)(ember.ones(4, 3), ember.ones(4, 3)).shape
    (4,)
    """
    from ember.func import vmap as func_vmap

    return func_vmap(func, in_dims, out_dims, randomness, chunk_size=chunk_size)


def _flatten(name: str, tree, leaves: list):
    """``tree``'s tensors in order and a function rebuilding the structure from a list of new ones."""
    if isinstance(tree, (tuple, list)):
        builds = [_flatten(name, item, leaves) for item in tree]
        kind = type(tree)
        if hasattr(tree, "_fields"):  # a named tuple
            return lambda new: kind(*(build(new) for build in builds))
        return lambda new: kind(build(new) for build in builds)
    if isinstance(tree, dict):
        builds = {key: _flatten(name, item, leaves) for key, item in tree.items()}
        return lambda new: {key: build(new) for key, build in builds.items()}
    if not isinstance(tree, TensorLike):
        raise TypeError(f"{name}: under ember.jit the branches must return tensors (in tuples, lists or dicts), got "
                        f"{type(tree).__name__}")
    index = len(leaves)
    leaves.append(tree)
    return lambda new: new[index]


def _predicate(pred) -> TensorLike | bool:
    """``pred`` as a Python bool, or a 0-d bool graph value when it has no value yet."""
    if isinstance(pred, TensorLike):
        if math.prod(pred.shape) != 1:
            raise ValueError(f"cond: pred must be a bool or a one-element tensor, got a tensor of shape "
                             f"{list(pred.shape)}")
        if pred.symbolic:
            flat = _ops.reshape(pred, ())
            return flat if flat.dtype == bool else flat != 0
        return bool(pred.item())
    if not isinstance(pred, (bool, int, float)):
        raise TypeError(f"cond: pred must be a bool, a number or a one-element tensor, got {type(pred).__name__}")
    return bool(pred)


def cond(pred, true_fn: Callable, false_fn: Callable, operands: tuple | list = ()):
    """``true_fn(*operands)`` where ``pred`` holds, else ``false_fn(*operands)`` (``torch.cond``). Under
    ``ember.jit``, with a predicate computed from the traced inputs, both branches run and their results (tensors,
    or tuples, lists or dicts of them, of equal shapes and dtypes) are combined with ``where``.

    >>> ember.cond(ember.tensor(True), lambda a: a + 1, lambda a: a - 1, (ember.zeros(2),))  # tensor([1., 1.])
    """
    if not isinstance(operands, (tuple, list)):
        raise TypeError(f"cond: operands must be a tuple or list, got {type(operands).__name__}")
    chosen = _predicate(pred)
    if isinstance(chosen, bool):
        return (true_fn if chosen else false_fn)(*operands)
    true_leaves, false_leaves = [], []
    graph, start = chosen.graph, len(chosen.graph.nodes)
    build = _flatten("cond", true_fn(*operands), true_leaves)
    _refuse_writes(graph.nodes[start:], "true_fn")
    start = len(graph.nodes)
    false_build = _flatten("cond", false_fn(*operands), false_leaves)
    _refuse_writes(graph.nodes[start:], "false_fn")
    if len(true_leaves) != len(false_leaves) or false_build(list(range(len(false_leaves)))) != build(
            list(range(len(true_leaves)))):
        raise ValueError("cond: under ember.jit both branches must return the same structure of tensors")
    for i, (a, b) in enumerate(zip(true_leaves, false_leaves)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"cond: under ember.jit both branches must give tensors of one shape and dtype; result "
                             f"{i} is {list(a.shape)} {a.dtype} in true_fn and {list(b.shape)} {b.dtype} in false_fn")
    return build([_ops.where(chosen, a, b) for a, b in zip(true_leaves, false_leaves)])


# effects that may run in both traced branches: the generator state a draw advances, a host call
_RUN_IN_BOTH = (RANDOM, RANDOM_SAMPLE, HOST_CALL)


def _refuse_writes(nodes: list, branch: str) -> None:
    """Refuse a traced branch that writes a tensor in place (a batch norm's running statistics, an assignment):
    both branches run under ``ember.jit``, so the write would happen whichever is chosen (``torch.cond`` refuses
    input mutation too)."""
    for node in nodes:
        if node.op.writes and node.op not in _RUN_IN_BOTH:
            raise ValueError(f"cond: under ember.jit both branches run, and {branch} writes a tensor in place "
                             f"({node.op.name}: a batch norm's running statistics in training mode, an assignment, "
                             "a gradient), which would happen whichever branch is chosen; keep the write outside "
                             "cond (as torch.cond, which refuses input mutation)")


def while_loop(cond_fn: Callable, body_fn: Callable, carried_inputs: tuple | list) -> tuple:
    """``carried_inputs = body_fn(*carried_inputs)`` while ``cond_fn(*carried_inputs)`` holds; the final values as
    a tuple (``torch.while_loop``). Each step must give as many tensors, of the same shapes and dtypes.

    >>> ember.while_loop(lambda i, x: i < 3, lambda i, x: (i + 1, x * 2), (ember.tensor(0), ember.ones(2)))[1]
    tensor([8., 8.])
    """
    if not isinstance(carried_inputs, (tuple, list)):
        raise TypeError(f"while_loop: carried_inputs must be a tuple or list, got {type(carried_inputs).__name__}")
    values = tuple(carried_inputs)
    while _holds(cond_fn(*values)):
        step = body_fn(*values)
        step = tuple(step) if isinstance(step, (tuple, list)) else (step,)
        if len(step) != len(values):
            raise ValueError(f"while_loop: body_fn returned {len(step)} values for {len(values)} carried inputs")
        for i, (old, new) in enumerate(zip(values, step)):
            if isinstance(old, TensorLike) and (not isinstance(new, TensorLike) or old.shape != new.shape
                                                or old.dtype != new.dtype):
                got = (f"{list(new.shape)} {new.dtype}" if isinstance(new, TensorLike) else type(new).__name__)
                raise ValueError(f"while_loop: body_fn changed carried input {i} from {list(old.shape)} {old.dtype} "
                                 f"to {got}")
        values = step
    return values


def _holds(pred) -> bool:
    if isinstance(pred, TensorLike):
        if pred.symbolic:
            raise TypeError("while_loop: under ember.jit the loop's condition depends on traced values, which a "
                            "graph does not have while it is built; run the loop eagerly, or loop a fixed number "
                            "of times in Python")
        if math.prod(pred.shape) != 1:
            raise ValueError(f"while_loop: cond_fn must return a bool or a one-element tensor, got shape "
                             f"{list(pred.shape)}")
        return bool(pred.item())
    return bool(pred)

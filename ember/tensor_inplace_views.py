"""A recorded in-place op on a view (``y[0] += 1``, ``y.t().mul_(2)``, ``y.view(-1)[2] = v`` on a tensor whose
gradient is wanted), as PyTorch records it: the view's new values are written through its memory, so the tensor
it views (and every other view of it) sees them, and that tensor's new value is recorded as its old value with
the view's positions replaced (``put``), so the gradient reaches both what was there and what was written.

The views between the tensor and the written view are the recorded view ops (``Op.view``: basic indexing,
reshape, transpose) that made them; each is recorded again on the new value. Nodes recorded before the write
that read any of these tensors refuse a backward, as PyTorch's version check refuses one after such a write.
"""

from __future__ import annotations

import numpy as np

from ember.backend.devices import array_module
from ember.grad_mode import DUAL, TANGENTS, mark_replaced, mark_written, thread_mode


def view_levels(tensor, views_another) -> list | None:
    """``[base, ..., tensor]``: the tensors from the one owning the memory (``views_another`` false) to
    ``tensor``, each made from the one before by a recorded view op whose result shares its memory; None if
    ``tensor`` is not such a view."""
    levels = [tensor]
    t = tensor
    while getattr(t.array, "base", None) is not None:
        node = t.node
        if node is None or not node.inputs or node.op.view is None:
            break
        source = node.inputs[0]
        if not hasattr(source.array, "flags") or not array_module(source.array).may_share_memory(t.array,
                                                                                                 source.array):
            break
        levels.append(source)
        t = source
    if len(levels) == 1 or views_another(levels[-1]):
        return None
    return levels[::-1]


def tensor_hooks_end(hooks: list) -> int:
    """Where the hooks of a node's tensor end in ``hooks`` (the retain_grad hook last among them): the node's
    own hooks (``grad_fn.register_prehook``/``register_hook``, marked ``node_hook``) follow, as PyTorch runs them
    after."""
    end = len(hooks)
    while end and getattr(hooks[end - 1], "node_hook", False):
        end -= 1
    return end


def take_retained(tensor):
    """The ``retain_grad`` hook on ``tensor``'s node, taken off it (None if there is none): PyTorch keeps ``.grad``
    for a tensor's latest version, so a recorded in-place op moves the hook to the tensor's new node
    (``give_retained``); other hooks stay, and receive the gradient of the version they were registered on."""
    if not tensor.retains_grad:
        return None
    hooks = tensor.node.hooks
    return hooks.pop(tensor_hooks_end(hooks) - 1)


def give_retained(tensor, hook) -> None:
    """Put ``take_retained``'s ``hook`` (kept last) on ``tensor``'s new node."""
    if hook is None or tensor.node is None:
        return
    if tensor.node.hooks is None:
        tensor.node.hooks = []
    tensor.node.hooks.insert(tensor_hooks_end(tensor.node.hooks), hook)


def positions(levels: list) -> np.ndarray:
    """The row-major positions in ``levels[0]`` of each element of ``levels[-1]`` (the view ops replayed on the
    positions themselves)."""
    base = levels[0]
    index = np.arange(int(np.prod(base.shape, dtype=np.int64)), dtype=np.int64).reshape(tuple(base.shape))
    for t in levels[1:]:
        node = t.node
        index = node.op.view(index, node.attrs, tuple(t.shape))
    return np.ascontiguousarray(index)


def keeps_history(before) -> bool:
    """Whether a write recorded now into a tensor whose state before it is ``before`` keeps its reverse-mode
    history (``joined_history``): one under no_grad in a forward-mode scope into a tensor that has one."""
    return thread_mode.grad_enabled is TANGENTS and not getattr(before.node, "tangent_only", True)


def joined_history(before, result):
    """``result``, written under no_grad in a forward-mode scope into a tensor with a reverse-mode history
    (``before``), as ``before + (result - before)`` with ``result``'s values: PyTorch's write there changes the
    tangent, not the history, and the difference, recorded only for tangents, is a constant to a backward the user
    runs, which goes on to ``before`` unchanged, while tangents go through the write."""
    delta = result - before
    thread_mode.grad_enabled = DUAL  # (the add joins the history: a node of both passes)
    try:
        joined = before + delta
    finally:
        thread_mode.grad_enabled = TANGENTS
    joined.array = result.array  # the written values themselves, not their sum with rounding
    if joined.node.out is not None:
        joined.node.out = result.array
    return joined


def record_through_view(tensor, name: str, compute, levels: list, snapshot, read_before, fit, current_since):
    """``compute(before)`` as the new value of the view ``tensor`` (``levels``: ``view_levels(tensor)``), written
    through its memory and recorded into every tensor of ``levels`` (see the module docstring). ``snapshot(t)``
    copies a tensor's state, ``read_before``, ``fit`` and ``current_since`` are ``record_in_place``'s."""
    from ember import ops

    base = levels[0]
    if base.requires_grad and base.node is None:
        raise RuntimeError(f"{name}: a view of a leaf tensor that requires grad ({base.dtype}{list(base.shape)}) is "
                           "used in an in-place operation; do it under ember.no_grad() (as PyTorch requires)")
    if not getattr(tensor.array.flags, "writeable", True):
        raise RuntimeError(f"{name}: the tensor of shape {list(tensor.shape)} is a read-only view (from "
                           "broadcast_to/expand); clone() it first")
    where = positions(levels)
    retained = [take_retained(t) for t in levels]
    # the old view nodes read the old versions from here on: each level's state, the written view's values copied
    olds = [snapshot(t) for t in levels]
    olds[-1].array = tensor.array.copy()
    for t, old in zip(levels[1:], olds[:-1]):
        t.node.inputs = (old,) + tuple(t.node.inputs[1:])
    since = current_since(tensor)
    mark_written(tensor)  # the memory's version, before the new nodes are numbered
    for t in levels:
        mark_replaced(t)
    result = fit(compute(olds[-1]))
    read_before(result, tensor, olds[-1], since)
    new_base = ops.reshape(ops.put(olds[0], ops.as_tensor(where), result), tuple(base.shape))
    joined = keeps_history(olds[0])
    if joined:
        new_base = joined_history(olds[0], new_base)
    tensor.array[...] = result.array
    base.node, base.requires_grad = new_base.node, new_base.requires_grad
    previous = base
    mode = thread_mode.grad_enabled
    if joined:
        thread_mode.grad_enabled = DUAL  # (the views of a base that keeps its history keep it too)
    try:
        for t in levels[1:]:  # each view recorded again, on the new value of the one it views
            node = t.node
            again = ops.dispatch.apply(node.op, (previous,) + tuple(node.inputs[1:]), node.attrs)
            t.node, t.requires_grad = again.node, again.requires_grad
            previous = t
    finally:
        thread_mode.grad_enabled = mode
    for t, hook in zip(levels, retained):
        give_retained(t, hook)
    return tensor

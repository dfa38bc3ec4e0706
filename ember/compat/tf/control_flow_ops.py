"""TF-1's control flow while the graph is built: ``cond`` (a Python predicate picks a branch, a tf.Tensor one
selects elementwise between both) and ``while_loop`` (unrolled; its trip count is computed now by a Session
over constants)."""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, op, tensors_in
from ember.compat.tf.session import Session


def cond(pred, true_fn=None, false_fn=None, name: str | None = None, fn1=None, fn2=None):
    """``true_fn()`` where ``pred`` holds, else ``false_fn()``.

    A Python bool picks one branch while the graph is built. A tf.Tensor predicate builds both branches
    and selects between their results elementwise (``tf.where``), so both run: branches must be free of
    side effects (assignments, training ops), which Ember refuses."""
    true_fn, false_fn = true_fn or fn1, false_fn or fn2
    if not isinstance(pred, Tensor):
        return true_fn() if pred else false_fn()
    if pred.shape is not None and len(pred.shape) != 0:
        raise ValueError(f"tf.cond: pred must be a scalar, got '{pred.name}' of shape {list(pred.shape)}")
    yes, no = true_fn(), false_fn()
    flat_yes, flat_no = flat(yes), flat(no)
    if len(flat_yes) != len(flat_no):
        raise ValueError(f"tf.cond: the branches return different structures ({len(flat_yes)} vs {len(flat_no)} "
                         "tensors)")
    for t in flat_yes + flat_no:
        if isinstance(t, Tensor) and t.kind in ("Assign", "Train", "Init", "NoOp"):
            raise ValueError(f"tf.cond on a tf.Tensor predicate runs both branches; '{t.name}' ({t.kind}) has a side "
                             "effect: run it with its own Session.run instead")
    pairs = [(as_tf(a), as_tf(b)) for a, b in zip(flat_yes, flat_no)]
    for i, (a, b) in enumerate(pairs):
        _check_alike(i, a, b)
    chosen = [op(_select, (pred, a, b), name=name or "cond") for a, b in pairs]
    return unflat(yes, chosen)


def _check_alike(i: int, a: Tensor, b: Tensor) -> None:
    """Refuse branch results Ember's elementwise selection would promote or broadcast (TF-1 gives the taken
    branch's own dtype and shape)."""
    if a.dtype is not None and b.dtype is not None and a.dtype != b.dtype:
        raise ValueError(f"tf.cond: output {i} of true_fn and false_fn must have the same type, got {a.dtype} "
                         f"('{a.name}') and {b.dtype} ('{b.name}')")
    if a._shape is not None and b._shape is not None and (
            len(a._shape) != len(b._shape)
            or any(p is not None and q is not None and p != q for p, q in zip(a._shape, b._shape))):
        raise ValueError(f"tf.cond on a tf.Tensor predicate selects between both branches' results, so their "
                         f"shapes must agree: output {i} is {list(a._shape)} ('{a.name}') and {list(b._shape)} "
                         f"('{b.name}')")


def _select(pred, a, b):
    if pred.ndim != 0:  # (a fed predicate of unknown shape)
        raise ValueError(f"tf.cond: pred must be a scalar, got shape {list(pred.shape)}")
    if tuple(a.shape) != tuple(b.shape):  # (sizes known only when fed)
        raise ValueError(f"tf.cond on a tf.Tensor predicate selects between both branches' results, so their "
                         f"shapes must agree: got {list(a.shape)} and {list(b.shape)}")
    return ember.where(pred, a, b)


def flat(obj) -> list:
    """The tensors in nested lists, tuples, namedtuples and dicts (in sorted key order, as TF's nest), in order."""
    if isinstance(obj, dict):
        return [x for key in sorted(obj) for x in flat(obj[key])]
    return [x for item in obj for x in flat(item)] if isinstance(obj, (list, tuple)) else [obj]


def unflat(like, values: list):
    """``values`` in ``like``'s nesting of lists, tuples, namedtuples and dicts."""
    items = iter(values)

    def build(obj):
        if isinstance(obj, dict):
            built = {key: build(obj[key]) for key in sorted(obj)}
            return type(obj)((key, built[key]) for key in obj)
        if isinstance(obj, (list, tuple)):
            parts = [build(o) for o in obj]
            return type(obj)(*parts) if hasattr(obj, "_fields") else type(obj)(parts)
        return next(items)

    return build(like)


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations: int = 10, back_prop: bool = True,
               swap_memory: bool = False, maximum_iterations=None, name: str | None = None):
    """Repeat ``body`` while ``cond`` holds, for loops whose trip count is known while the graph is built.

    The condition is evaluated on the loop variables that are Python numbers or constants (a counter),
    and the body is unrolled: the forms tutorials use (``i < n`` with ``i + 1``). A condition that
    depends on a fed or computed value raises, naming the loop."""
    result = loop_vars if isinstance(loop_vars, (list, tuple)) else [loop_vars]
    if isinstance(maximum_iterations, Tensor):
        maximum_iterations = _constant_value(maximum_iterations, "tf.while_loop", int)
    for _ in range(maximum_iterations if maximum_iterations is not None else 100_000):
        keep = cond(*result)
        if isinstance(keep, Tensor):
            keep = _constant_value(keep, "tf.while_loop")
        if not keep:
            break
        out = body(*result)
        out = out if isinstance(out, (list, tuple)) else [out]
        if len(out) != len(result):
            raise ValueError(f"tf.while_loop: body returned {len(out)} loop variables for {len(result)}")
        result = out
    else:
        if maximum_iterations is None:
            raise ValueError("tf.while_loop: the loop did not end within 100000 unrolled iterations")
    # TF-1's: the body's structure (a tuple, a namedtuple), or its first item when it holds one tensor
    return result[0] if len(flat(result)) == 1 else result


def _constant_value(t: Tensor, where: str, convert=builtins.bool):
    """The value of a recipe that depends on constants only (a loop counter), computed now, as ``convert`` makes
    it."""
    pending = [t]
    seen = set()
    while pending:
        x = pending.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x.kind in ("Placeholder", "VariableV2"):
            raise ValueError(f"{where}: the condition depends on '{x.name}' ({x.kind}), whose value is not known "
                             "while the graph is built; Ember unrolls loops with a known trip count only")
        pending.extend(tensors_in(x.args))
        pending.extend(tensors_in(x.kwargs))
    return convert(np.asarray(Session(graph=t.graph).run(t)))

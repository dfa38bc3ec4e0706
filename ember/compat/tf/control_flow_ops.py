"""TF-1's control flow while the graph is built: ``cond`` (a Python predicate picks a branch, a tf.Tensor one
selects elementwise between both, whose effects happen only in the branch taken) and ``while_loop`` (unrolled;
its trip count is computed now by a Session over constants)."""

from __future__ import annotations

import builtins
import contextlib

import numpy as np

import ember
from ember.compat.tf._core import Operation, Tensor, as_tf, group, op, tensors_in
from ember.compat.tf.session import Session


def cond(pred, true_fn=None, false_fn=None, name: str | None = None, fn1=None, fn2=None):
    """``true_fn()`` where ``pred`` holds, else ``false_fn()``.

    A Python bool picks one branch while the graph is built. A tf.Tensor predicate builds both branches
    and selects between their results elementwise (``tf.where``), so both compute. The effects built inside a
    branch (assignments, ``tf.Assert``, ``tf.Print``, a ``py_func`` of known shape), including those its results
    depend on through ``tf.control_dependencies``, happen only in the run where that branch is taken, as in
    TF-1. A training op, an iterator's ``get_next`` or a ``py_func`` of unknown shape built in a branch is
    refused. Branches that return ops (``tf.group``, ``tf.no_op``) give an op that runs the one taken."""
    true_fn, false_fn = true_fn or fn1, false_fn or fn2
    if not isinstance(pred, Tensor):
        return true_fn() if pred else false_fn()
    if pred.shape is not None and len(pred.shape) != 0:
        raise ValueError(f"tf.cond: pred must be a scalar, got '{pred.name}' of shape {list(pred.shape)}")
    if pred.dtype is not None and pred.dtype != np.bool_:
        raise TypeError(f"tf.cond: pred must be a bool tensor, got '{pred.name}' of dtype {pred.dtype}")
    with _branch(pred, True):
        yes = true_fn()
    with _branch(pred, False):
        no = false_fn()
    flat_yes, flat_no = flat(yes), flat(no)
    if len(flat_yes) != len(flat_no):
        raise ValueError(f"tf.cond: the branches return different structures ({len(flat_yes)} vs {len(flat_no)} "
                         "tensors)")
    chosen = []
    for i, (a, b) in enumerate(zip(flat_yes, flat_no)):
        if isinstance(a, Operation) or isinstance(b, Operation):
            if not (isinstance(a, Operation) and isinstance(b, Operation)):
                raise ValueError(f"tf.cond: output {i} is an op in one branch and a tensor in the other "
                                 f"({a!r} and {b!r})")
            chosen.append(group(a, b, name=name or "cond"))  # each runs its effects where its branch is taken
            continue
        a, b = as_tf(a), as_tf(b)
        _check_alike(i, a, b)
        chosen.append(op(_select, (pred, a, b), name=name or "cond"))
    return unflat(yes, chosen)


@contextlib.contextmanager
def _branch(pred: Tensor, taken: bool):
    """Build a branch of ``tf.cond``: its recipes record that their effects need ``pred == taken``; what a
    Session cannot make conditional is refused here."""
    graph = pred.graph
    saved, before = graph.guards, len(graph.by_name)
    graph.guards = saved + ((pred, taken),)
    try:
        yield
    finally:
        graph.guards = saved
    for t in list(graph.by_name.values())[before:]:
        if t.kind in ("Train", "ApplyGradients"):
            raise ValueError(f"tf.cond: '{t.name}' ({t.kind}) is built inside a branch of a tf.Tensor predicate, "
                             "whose optimizer update Ember cannot make conditional; build the training op outside "
                             "and choose in Python whether to run it")
        if t.kind == "IteratorGetNext" or t.kind == "PyFunc" and (
                not t.host.single or t._shape is None or None in t._shape):
            raise ValueError(f"tf.cond: '{t.name}' ({t.kind}) is built inside a branch of a tf.Tensor predicate, "
                             "but a Session computes it before the graph runs, taken or not; build it outside the "
                             "branch")


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


def _strict_result(result, strict: bool):
    """TF-1's non-strict unpacking: a branch result that is a one-item list or tuple is its item."""
    if not strict and isinstance(result, (list, tuple)) and not hasattr(result, "_fields") and len(result) == 1:
        return result[0]
    return result


def _checked_pred(where: str, pred, i: int):
    """A predicate of ``case``: a Python bool, or a bool scalar tf.Tensor."""
    if isinstance(pred, Tensor):
        if pred.dtype is not None and pred.dtype != np.bool_:
            raise TypeError(f"{where}: predicate {i} must be a bool tensor, got '{pred.name}' of dtype {pred.dtype}")
        if pred.shape is not None and len(pred.shape) != 0:
            raise ValueError(f"{where}: predicate {i} must be a scalar, got '{pred.name}' of shape "
                             f"{list(pred.shape)}")
        return pred
    if isinstance(pred, (builtins.bool, np.bool_)):
        return builtins.bool(pred)
    raise TypeError(f"{where}: predicate {i} must be a bool tf.Tensor or a Python bool, got {type(pred).__name__}")


def _guarded(result, checks: list):
    """``result``'s tensors made after the ``checks`` (asserts), so computing them runs the checks first."""
    if not checks:
        return result
    from ember.compat.tf._core import control_dependencies
    from ember.compat.tf.array_ops import FUNCTIONS

    with control_dependencies(checks):
        return unflat(result, [FUNCTIONS["identity"](t) if isinstance(t, Tensor) else t for t in flat(result)])


def case(pred_fn_pairs, default=None, exclusive: bool = False, strict: bool = False, name: str = "case"):
    """The result of the fn of the first predicate that holds, else of ``default``, as TF-1's ``tf.case``.

    ``pred_fn_pairs``: (predicate, fn) pairs, or a dict of them (tried in the order of the predicates' names, as
    TF-1). With no ``default``, the last pair's fn is the default and a run where no predicate holds is an
    InvalidArgumentError; with ``exclusive``, so is a run where more than one holds. Python bool predicates pick
    while the graph is built; tf.Tensor ones select as ``tf.cond`` does (every branch is built and computed; its
    effects happen only where it is taken)."""
    from ember.compat.tf.array_ops import FUNCTIONS, stack
    from ember.compat.tf.check_ops import Assert

    where = "tf.case"
    if isinstance(pred_fn_pairs, dict):
        items = list(pred_fn_pairs.items())
        if all(isinstance(p, Tensor) for p, _ in items):
            items.sort(key=lambda item: item[0].name)
    elif isinstance(pred_fn_pairs, (list, tuple)):
        items = list(pred_fn_pairs)
    else:
        raise TypeError(f"{where}: pred_fn_pairs must be a list of (predicate, fn) pairs or a dict, got "
                        f"{type(pred_fn_pairs).__name__}")
    if not items:
        raise ValueError(f"{where}: pred_fn_pairs must not be empty")
    pairs = []
    for i, item in enumerate(items):
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"{where}: each item of pred_fn_pairs must be a (predicate, fn) pair, got {item!r}")
        pred, fn = item
        if not callable(fn):
            raise TypeError(f"{where}: the fn of pair {i} must be callable, got {type(fn).__name__}")
        pairs.append((_checked_pred(where, pred, i), fn))
    if default is not None and not callable(default):
        raise TypeError(f"{where}: default must be callable, got {type(default).__name__}")
    preds = [p for p, _ in pairs]
    static = [p for p in preds if not isinstance(p, Tensor)]
    no_default = default is None
    if no_default:
        *pairs, (last_pred, default) = pairs
        if not isinstance(last_pred, Tensor):  # (a Python bool: it holds or not now)
            pairs.append((last_pred, default))
    checks = []
    tensors = [p for p in preds if isinstance(p, Tensor)]
    if exclusive:
        if sum(static) > 1:
            raise ValueError(f"{where}: more than one condition is True but exclusive=True")
        if tensors:
            held = op(lambda s: ember.sum(ember.cast(s, "int32")), (stack(tensors),), name=f"{name}/count")
            checks.append(Assert(held + builtins.sum(static) <= 1,
                                 ["More than one condition evaluated as True but exclusive=True."],
                                 name=f"{name}/exclusive"))
    if no_default and not any(static):  # one predicate must hold
        if not tensors:
            raise ValueError(f"{where}: none of the conditions is True and no default was given")
        checks.append(Assert(FUNCTIONS["reduce_any"](stack(tensors)),
                             ["None of the conditions evaluated as True."], name=f"{name}/none_true"))

    def build(i: int):
        if i == len(pairs):
            return _strict_result(default(), strict)
        pred, fn = pairs[i]
        return cond(pred, lambda: _strict_result(fn(), strict), lambda: build(i + 1), name=name)

    return _guarded(build(0), checks)


def switch_case(branch_index, branch_fns, default=None, name: str = "switch_case"):
    """The result of ``branch_fns[branch_index]()``; an index with no branch gives ``default()`` (the last
    branch when no default is given), as TF's ``tf.switch_case``. ``branch_fns``: a list of callables, a list of
    (index, callable) pairs or a dict of them, whose indices must be 0, 1, ... A tf.Tensor index selects
    between every branch's results, as ``tf.cond`` does."""
    from ember.compat.tf.array_ops import FUNCTIONS

    where = "tf.switch_case"
    if isinstance(branch_fns, dict):
        items = sorted(branch_fns.items(), key=lambda item: item[0] if isinstance(item[0], int) else -1)
    elif isinstance(branch_fns, (list, tuple)):
        items = [fn if isinstance(fn, tuple) else (i, fn) for i, fn in enumerate(branch_fns)]
    else:
        raise TypeError(f"{where}: branch_fns must be a list or dict of callables, got {type(branch_fns).__name__}")
    if not items:
        raise ValueError(f"{where}: branch_fns must not be empty")
    for key, fn in items:
        if not isinstance(key, (int, np.integer)) or isinstance(key, builtins.bool):
            raise TypeError(f"{where}: branch indices must be ints, got {key!r}")
        if not callable(fn):
            raise TypeError(f"{where}: branch {key} must be callable, got {type(fn).__name__}")
    keys = sorted(int(k) for k, _ in items)
    if keys != list(range(len(items))):
        raise ValueError(f"{where}: branch indices must be 0 to {len(items) - 1}, got {keys}")
    fns = [fn for _, fn in sorted(items, key=lambda item: int(item[0]))]
    if default is None:
        fns, default = fns[:-1], fns[-1]
    elif not callable(default):
        raise TypeError(f"{where}: default must be callable, got {type(default).__name__}")
    if not isinstance(branch_index, Tensor):
        if not isinstance(branch_index, (int, np.integer)) or isinstance(branch_index, (builtins.bool, np.bool_)):
            raise TypeError(f"{where}: branch_index must be an int32 or int64 scalar, got {branch_index!r}")
        index = int(branch_index)
        return fns[index]() if 0 <= index < len(fns) else default()
    if branch_index.dtype is not None and branch_index.dtype not in (np.int32, np.int64):
        raise TypeError(f"{where}: branch_index must be int32 or int64, got '{branch_index.name}' of dtype "
                        f"{branch_index.dtype}")
    if branch_index.shape is not None and len(branch_index.shape) != 0:
        raise ValueError(f"{where}: branch_index must be a scalar, got '{branch_index.name}' of shape "
                         f"{list(branch_index.shape)}")
    pairs = [(FUNCTIONS["equal"](branch_index, np.asarray(i, branch_index.dtype)), fn) for i, fn in enumerate(fns)]
    return case(pairs, default=default, strict=True, name=name) if pairs else default()

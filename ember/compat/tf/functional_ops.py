"""TF-1's higher-order functions over the first dimension: ``map_fn``, ``scan``, ``foldl``, ``foldr``.

Each is unrolled while the graph is built (one call of ``fn`` per slice), so the first dimension must be
known statically; gradients flow through the slices and the stack as through any recipe."""

from __future__ import annotations

from ember.compat.tf._core import as_tf
from ember.compat.tf.array_ops import stack
from ember.compat.tf.control_flow_ops import flat as _flat
from ember.compat.tf.control_flow_ops import unflat as _unflat

__all__ = ["foldl", "foldr", "map_fn", "scan", "vectorized_map"]


def _length(what: str, elems) -> tuple:
    """(elems' tensors, flat; the common static size of their first dimension)."""
    flat = [as_tf(e) for e in _flat(elems)]
    if not flat:
        raise ValueError(f"{what}: elems must hold at least one tensor")
    sizes = set()
    for t in flat:
        if t.shape is None or len(t.shape) == 0 or t.shape[0] is None:
            shape = "<unknown>" if t.shape is None else list(t.shape)
            raise ValueError(f"{what}: Ember unrolls over the first dimension of elems, which must be known while the "
                             f"graph is built; '{t.name}' has shape {shape} (give the placeholder a fixed first "
                             "dimension)")
        sizes.add(t.shape[0])
    if len(sizes) > 1:
        raise ValueError(f"{what}: the tensors of elems have different first dimensions "
                         f"{[list(t.shape) for t in flat]}")
    n = sizes.pop()
    return flat, n


def _slice(elems, flat: list, i: int):
    """The i-th slice of every tensor of ``elems``, in its structure."""
    return _unflat(elems, [t[i] for t in flat])


def _stack(what: str, results: list):
    """The per-step results (each one structure of tensors) stacked along a new first axis."""
    if not results:
        raise ValueError(f"{what}: elems have a first dimension of 0; there is nothing to stack")
    columns = zip(*[_flat(r) for r in results])
    return _unflat(results[0], [stack([as_tf(x) for x in column]) for column in columns])


def map_fn(fn, elems, dtype=None, parallel_iterations=None, back_prop: bool = True, swap_memory: bool = False,
           infer_shape: bool = True, name: str | None = None):
    """``fn`` applied to each slice of ``elems`` (a tensor, or a nested tuple/list of tensors sliced alike)
    along the first dimension, the results stacked (in ``fn``'s output structure)."""
    flat, n = _length("tf.map_fn", elems)
    return _stack("tf.map_fn", [fn(_slice(elems, flat, i)) for i in range(n)])


def vectorized_map(fn, elems, fallback_to_while_loop: bool = True):
    """``fn`` applied to each slice of ``elems`` along the first dimension, the results stacked: ``map_fn``'s
    result (TF computes it vectorized; Ember unrolls it as ``map_fn``, so any ``fn`` works)."""
    return map_fn(fn, elems, name="vectorized_map")


def _accumulate(what: str, fn, elems, initializer, reverse: bool) -> tuple:
    """(the accumulators after each step, in elems' order; the last one), for scan and the folds."""
    flat, n = _length(what, elems)
    order = list(range(n))[::-1] if reverse else list(range(n))
    if initializer is None:
        if n == 0:
            raise ValueError(f"{what}: elems have a first dimension of 0 and there is no initializer")
        acc = _slice(elems, flat, order[0])
        order = order[1:]
        steps = {n - 1 if reverse else 0: acc}
    else:
        acc = initializer
        steps = {}
    for i in order:
        acc = fn(acc, _slice(elems, flat, i))
        steps[i] = acc
    return [steps[i] for i in sorted(steps)], acc


def scan(fn, elems, initializer=None, parallel_iterations: int = 10, back_prop: bool = True,
         swap_memory: bool = False, infer_shape: bool = True, reverse: bool = False, name: str | None = None):
    """The accumulators ``acc = fn(acc, x)`` over the slices ``x`` of ``elems`` (last to first with
    ``reverse``), stacked so that result ``i`` is the one after slice ``i``. Without ``initializer`` the first
    slice (the last with ``reverse``) starts the accumulator and is the first result."""
    results, _ = _accumulate("tf.scan", fn, elems, initializer, reverse)
    return _stack("tf.scan", results)


def foldl(fn, elems, initializer=None, parallel_iterations: int = 10, back_prop: bool = True,
          swap_memory: bool = False, name: str | None = None):
    """The accumulator ``acc = fn(acc, x)`` after the slices ``x`` of ``elems``, first to last (the first
    slice starts it without ``initializer``)."""
    return _accumulate("tf.foldl", fn, elems, initializer, False)[1]


def foldr(fn, elems, initializer=None, parallel_iterations: int = 10, back_prop: bool = True,
          swap_memory: bool = False, name: str | None = None):
    """The accumulator ``acc = fn(acc, x)`` after the slices ``x`` of ``elems``, last to first (the last
    slice starts it without ``initializer``)."""
    return _accumulate("tf.foldr", fn, elems, initializer, True)[1]


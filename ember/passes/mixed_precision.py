"""mixed_precision: matrix products and convolutions in bfloat16 or float16, the rest as ``ember.autocast`` runs it.

TensorFlow's ``auto_mixed_precision`` rewrite for Ember's IR: a graph built in float32 gets the casts that building
it under ``ember.autocast`` would have recorded. Each node is treated by its op record's ``autocast`` policy:

- ``LOWER`` (matmul, linear, convolutions): float32 and half-precision inputs are cast to ``dtype``;
- ``FLOAT32`` (softmax, cross-entropy, exp/log, pow, sums): half-precision inputs are cast to float32;
- None: the op follows its inputs. Inputs that had one dtype are brought to one again, as the op functions'
  promotion does (bfloat16 with float32 gives float32), and a 0-d float constant (a Python number in the
  source) takes the dtype of the tensor beside it, as a Python number does; a number that dtype cannot hold
  exactly scales a ``mul``, ``div``, ``floor_divide`` or ``trunc_divide`` in float32, rounded once, as PyTorch's
  kernels and the op functions do. An op whose shape rule refuses the new dtypes gets its inputs in their original
  dtypes.

Each value is cast once per dtype (until an effect writes it or the memory it views); a cast back to the dtype a
value was widened from reads the value itself. What the graph hands out keeps its dtype: effects (variable writes,
optimizer updates, gradient accumulation) read their inputs in the original dtypes, so variables stay float32
master weights and updates get float32 gradients, and the graph's outputs are cast back to the dtypes they had.

Run before ``autodiff`` (``pipeline(mixed_precision=...)`` puts it first), the backward is built from the
rewritten forward by the same vjp rules, in the forward's dtypes, as under ``ember.autocast``. On a graph that
holds its backward already, the backward nodes are rewritten by the same rules.

>>> graph = mixed_precision(graph, "bfloat16")
"""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import FLOATING, LOW_PRECISION, as_dtype, float32, float64, result_type
from ember.graph.ir import CONST, Graph, GraphError, Node, Symbol, Value, infer
from ember.ops.autocast import FLOAT32, LOWER
from ember.ops.convert import CAST
from ember.ops.registry import Spec

__all__ = ["low_precision_dtype", "mixed_precision"]

_ELIGIBLE = LOW_PRECISION | {float32}  # what a LOWER op casts (float64 is left alone, as by ember.autocast)
_SCALED_IN_FLOAT32 = frozenset({"mul", "div", "floor_divide", "trunc_divide"})  # by a number the low dtype cannot hold


def low_precision_dtype(dtype) -> np.dtype:
    """``dtype`` (a name or a dtype) as bfloat16 or float16, or a ValueError naming what was given."""
    try:
        found = as_dtype(dtype)
    except TypeError:
        found = None
    if found not in LOW_PRECISION:
        raise ValueError(f"mixed_precision: dtype must be 'bfloat16' or 'float16', got {dtype!r}")
    return found


class _Rewrite:
    """The state of one run of the pass over a graph's nodes, in order."""

    def __init__(self, graph: Graph, low: np.dtype):
        self.graph = graph
        self.low = low
        self.original: dict = {}  # value id -> its dtype before the pass (values whose dtype changed)
        self.casts: dict = {}  # (value id, dtype) -> the cast of that value made so far
        self.widened: dict = {}  # value id of a lossless cast -> the value it was cast from
        self.weak: dict = {}  # value id -> the number a 0-d float constant holds
        self.numbers: dict = {}  # (value id, dtype) -> that number as a constant of dtype
        self.made: set = set()  # ids of the values of the casts and constants the pass added
        self.written = graph.written()  # ids of values effects write in place: they keep their dtype
        self.roots: dict = {vid: {vid} for vid in self.written}  # value id -> the written values it may view

    def was(self, v: Value) -> np.dtype:
        """``v``'s dtype before the pass."""
        return self.original.get(v.id, v.array.dtype)

    def cast(self, v: Value, dtype: np.dtype) -> Value:
        if v.array.dtype == dtype:
            return v
        source = self.widened.get(v.id)
        if source is not None and source.array.dtype == dtype:
            return source
        key = (v.id, dtype)
        found = self.casts.get(key)
        if found is None:
            (found,) = self.graph.add(CAST, (v,), {"dtype": dtype}, [Spec(v.array.shape, dtype)], v.array.device)
            if v.array.dtype in LOW_PRECISION and dtype in (float32, float64) or v.array.dtype == float32 \
                    and dtype == float64:
                self.widened[found.id] = v
            self.casts[key] = found
            self.made.add(found.id)
        return found

    def number(self, v: Value, dtype: np.dtype) -> Value:
        """The weak constant ``v`` as a constant of ``dtype`` (a Python number meeting a tensor of ``dtype``)."""
        key = (v.id, dtype)
        found = self.numbers.get(key)
        if found is None:
            found = self.numbers[key] = self.graph.constant(np.asarray(self.weak[v.id]).astype(dtype))
            self.weak[found.id] = self.weak[v.id]
            self.made.add(found.id)
        return found

    def restored(self, v: Value) -> Value:
        """``v`` in the dtype it had before the pass."""
        return self.cast(v, self.original[v.id]) if v.id in self.original else v

    def follow(self, inputs: list) -> list:
        """Inputs that shared a floating dtype before the pass, brought to one dtype again (the op functions'
        promotion; a weak constant takes its partners' dtype)."""
        if not any(v.id in self.original for v in inputs):
            return inputs
        groups: dict = {}
        for i, v in enumerate(inputs):
            if self.was(v) in FLOATING:
                groups.setdefault(self.was(v), []).append(i)
        inputs = list(inputs)
        for members in groups.values():
            dtypes = {inputs[i].array.dtype for i in members}
            if len(dtypes) < 2:
                continue
            strong = [inputs[i] for i in members if inputs[i].id not in self.weak]
            if not strong:
                continue
            # beside values with dimensions a 0-d value only lifts the category (the functions' promotion)
            strong = [v.array.dtype for v in ([v for v in strong if v.array.shape] or strong)]
            target = strong[0]
            for d in strong[1:]:
                target = result_type(target, d)
            for i in members:
                v = inputs[i]
                if v.array.dtype != target:
                    inputs[i] = self.number(v, target) if v.id in self.weak else self.cast(v, target)
        return inputs

    def scaled_in_float32(self, node, before: list) -> bool:
        """Run ``node`` (a product or quotient given its low-precision inputs) in float32 and cast its result back
        when one input is a number the low dtype cannot hold exactly; whether it did."""
        inputs = node.inputs
        out = node.outputs[0] if len(node.outputs) == 1 else None
        if out is None or len(inputs) != 2 or any(v.array.dtype not in LOW_PRECISION for v in inputs):
            return False
        low = inputs[0].array.dtype
        numbers = [self.weak[v.id] for v in before if v.id in self.weak]
        if not numbers or all(float(np.asarray(n).astype(low)) == float(n) for n in numbers):
            return False
        node.inputs = [self.number(v, float32) if v.id in self.weak else self.cast(v, float32) for v in before]
        wide = self.graph._value(out.array.shape, float32, None, out.array.device)
        self.made.add(wide.id)
        node.outputs = [wide]
        self.graph.nodes.append(node)
        self.original.setdefault(out.id, out.array.dtype)
        out.array = Symbol(out.array.shape, low, out.array.device)
        self.graph.nodes.append(Node(CAST, [wide], [out], {"dtype": low}))
        return True

    def by_policy(self, policy, inputs: list) -> list:
        if policy == LOWER:
            return [self.cast(v, self.low) if v.array.dtype in _ELIGIBLE else v for v in inputs]
        if policy == FLOAT32:
            return [self.cast(v, float32) if v.array.dtype in LOW_PRECISION else v for v in inputs]
        return inputs

    def undo(self, mark: int) -> None:
        """Drop the casts and constants made since the graph had ``mark`` nodes."""
        dropped = {v.id for node in self.graph.nodes[mark:] for v in node.outputs}
        if dropped:
            del self.graph.nodes[mark:]
            self.casts = {k: c for k, c in self.casts.items() if c.id not in dropped}
            self.numbers = {k: c for k, c in self.numbers.items() if c.id not in dropped}

    def drop_unread(self) -> None:
        """Remove the casts and constants the pass added that nothing reads (a widening cast whose narrowing
        was read through to its source)."""
        read = {v.id for v in self.graph.outputs}
        kept = []
        for node in reversed(self.graph.nodes):
            if node.outputs and node.outputs[0].id in self.made and node.outputs[0].id not in read:
                continue
            read.update(v.id for v in node.inputs)
            kept.append(node)
        kept.reverse()
        self.graph.nodes = kept

    def node(self, node) -> None:
        op = node.op
        graph = self.graph
        if op is CONST:
            value = node.attrs["value"]
            out = node.outputs[0]
            if out.array.shape == () and out.array.dtype in FLOATING and isinstance(value, np.ndarray | np.generic):
                self.weak[out.id] = value[()] if isinstance(value, np.ndarray) else value
            graph.nodes.append(node)
            return
        before = node.inputs
        mark = len(graph.nodes)
        if op.effect:
            node.inputs = [self.restored(v) for v in before]
            for i in op.writes:  # the casts made before of a written value, or of a view of it, hold old contents
                hit = self.roots.get(before[i].id, ()) if i < len(before) else ()
                if hit:
                    self.casts = {k: c for k, c in self.casts.items() if not hit & self.roots.get(k[0], set())}
        else:
            if not op.fresh:
                shared = set().union(*(self.roots.get(v.id, ()) for v in before))
                for out in node.outputs if shared else ():
                    self.roots[out.id] = shared | self.roots.get(out.id, set())
            node.inputs = self.by_policy(op.autocast, self.follow(before))
            if op.name in _SCALED_IN_FLOAT32 and self.scaled_in_float32(node, before):
                return
        if op.infer is not None and node.outputs:
            out = node.outputs[0]
            try:
                dtype = infer(op, [v.spec for v in node.inputs], node.attrs).dtype
            except (ValueError, TypeError, GraphError):  # the op refuses these dtypes
                dtype = None
            if dtype is None or dtype != out.array.dtype and out.id in self.written:  # run it as before
                self.undo(mark)
                node.inputs = [self.restored(v) for v in before]
                dtype = infer(op, [v.spec for v in node.inputs], node.attrs).dtype
            if dtype != out.array.dtype:
                self.original.setdefault(out.id, out.array.dtype)
                out.array = Symbol(out.array.shape, dtype, out.array.device)
        graph.nodes.append(node)


def mixed_precision(graph: Graph, dtype="bfloat16") -> Graph:
    """Rewrite ``graph`` (in place) to run its ``LOWER`` ops in ``dtype`` (bfloat16 or float16), with float32
    master weights, float32 gradients for the updates and the graph's outputs in their own dtypes; a graph
    without floating-point values is returned unchanged."""
    rewrite = _Rewrite(graph, low_precision_dtype(dtype))
    nodes, graph.nodes = graph.nodes, []
    for node in nodes:
        rewrite.node(node)
    graph.outputs = [rewrite.restored(v) for v in graph.outputs]
    rewrite.drop_unread()
    return graph

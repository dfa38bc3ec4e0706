"""simplify: identities that need no computation, read from the ops' records: a constant operand that is an
op's identity (``x * 1``, ``x - 0.0``, ``x + -0.0``: ``right_identity`` / ``left_identity``), an op that returns
its input when the types agree (reshapes and casts to the same type: ``same_type_noop``), and the rewrites ops
declare for themselves (``simplify``: a sum over axes of length 1 is a reshape; ``exp(log_softmax(x))`` is
``softmax(x)`` where nothing else reads the log-probabilities).

An identity is removed only when the result has exactly the kept operand's shape and dtype, so broadcasting
and promotion are never changed, and only when it keeps the value its readers read: an operand that shares
memory with a variable an effect writes (``p * 1`` of an updated parameter) changes between the node and a
reader when such a write lies between them, and a graph output of it may be read before or after the writes
(a ``Session`` fetch, an ``ember.jit`` result); an op's own rewrite into a view (that sum into a reshape) is
kept from such an operand the same way. An op that returns new memory is not replaced by an input's or a
constant's memory that a graph output would then share. The softmax rewrite changes results by rounding only.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING
from ember.graph.ir import CONST, Graph


class Facts:
    """What an op's own ``simplify(node, facts)`` rewrite may read: ``producers`` (value id -> the node
    computing it) and ``reads`` (value id -> how many nodes and graph outputs read it)."""

    __slots__ = ("producers", "reads")

    def __init__(self, producers: dict, reads: Counter):
        self.producers, self.reads = producers, reads


def _is(value, neutral, kept: np.dtype) -> bool:
    """Whether the constant ``value`` is the identity ``neutral`` for an operand of dtype ``kept``. For floats a
    zero's sign counts (the records name add's as -0.0 and sub's as 0.0: -0.0 + 0.0 is 0.0); a complex operand
    has none (complex products mix the parts: (inf + 1j) * 1 is inf + nanj)."""
    if value is None or value.size > 4096 or kept in COMPLEX or not np.all(value == neutral):
        return False
    if neutral != 0 or kept not in FLOATING:
        return True
    return value.dtype in FLOATING and bool(np.all(np.signbit(value) == np.signbit(neutral)))


class _Writes:
    """Where effects write variables, in the graph's order: whether a value shares memory with a written one
    (a variable and its views) and whether a write falls between a node and its readers."""

    def __init__(self, graph: Graph):
        self.roots: dict = {vid: {vid} for vid in graph.written()}  # value id -> the written values it may view
        self.at: dict = {}  # written value id -> positions of the effect nodes writing it
        self.last: dict = {}  # value id -> position of its last reader, or of its views' (past every node: an output)
        for i, node in enumerate(graph.nodes):
            for v in node.inputs:
                self.last[v.id] = i
            if node.op.effect:
                for k in node.op.writes:
                    for r in self.roots.get(node.inputs[k].id, ()) if k < len(node.inputs) else ():
                        self.at.setdefault(r, []).append(i)
            elif not node.op.fresh:
                self.share(node)
        self.outputs = {v.id for v in graph.outputs}
        # a view's readers read its base's memory: (x * 1).T read after x.add_ reads x * 1 there
        for v in graph.outputs:
            self.last[v.id] = len(graph.nodes)
        for node in reversed(graph.nodes):
            if not node.op.fresh and not node.op.effect:
                reach = max((self.last.get(out.id, -1) for out in node.outputs), default=-1)
                for v in node.inputs:
                    self.last[v.id] = max(self.last.get(v.id, -1), reach)

    def share(self, node) -> None:
        """Note that ``node``'s outputs may view the written memory its inputs may view."""
        shared = set().union(*(self.roots.get(v.id, ()) for v in node.inputs))
        for out in node.outputs if shared else ():
            self.roots[out.id] = shared | self.roots.get(out.id, set())

    def changes(self, kept, node_at: int, out) -> bool:
        """Whether ``kept``, read in place of ``out`` (computed at position ``node_at``), may differ for a
        reader of ``out`` or of a view of it: a write to its memory lies between them, or ``out`` is a graph
        output of written memory."""
        positions = [p for r in self.roots.get(kept.id, ()) for p in self.at.get(r, ())]
        if not positions:
            return False
        if out.id in self.outputs:
            return True
        last = self.last.get(out.id, node_at)
        return any(node_at < p < last for p in positions)


def simplify(graph: Graph) -> Graph:
    """Replace identity nodes by their operand; apply the ops' own rewrites."""
    writes = _Writes(graph)
    # An op that returns new memory (x * 1) is not replaced by an operand that shares a graph input's or a
    # constant's memory where a graph output would then share it: the caller would get (a view of) its own
    # argument, a parameter or a constant, which a later write changes, where eager mode gives a new array.
    handed = graph.handed()
    held = {v.id for v in graph.inputs}  # value ids that may share an input's or a constant's memory
    consts = {n.outputs[0].id: n.attrs["value"] for n in graph.nodes if n.op is CONST}
    reads = Counter(v.id for n in graph.nodes for v in n.inputs) + Counter(v.id for v in graph.outputs)
    facts = Facts(graph.producers(), reads)
    mapping: dict = {}
    kept = []
    for at, node in enumerate(graph.nodes):
        node.inputs = [mapping.get(v.id, v) for v in node.inputs]
        op = node.op
        if len(node.outputs) == 1:
            out = node.outputs[0].array
            keep = None
            if op.right_identity is not None and len(node.inputs) == 2:
                a, b = node.inputs
                if _is(consts.get(b.id), op.right_identity, a.array.dtype):
                    keep = a
                elif op.left_identity is not None and _is(consts.get(a.id), op.left_identity, b.array.dtype):
                    keep = b
            elif op.same_type_noop:
                keep = node.inputs[0]
            elif op.simplify is not None:
                before = node.op, node.attrs, node.inputs
                op.simplify(node, facts)
                if op.fresh and not node.op.fresh and (
                        node.outputs[0].id in handed and any(v.id in held for v in node.inputs)
                        or any(writes.changes(v, at, node.outputs[0]) for v in node.inputs)):
                    node.op, node.attrs, node.inputs = before  # a view would show a later write (x.sum(0) as x)
            if keep is not None and keep.array.shape == out.shape and keep.array.dtype == out.dtype \
                    and not writes.changes(keep, at, node.outputs[0]) \
                    and not (op.fresh and node.outputs[0].id in handed and keep.id in held):
                mapping[node.outputs[0].id] = keep
                continue
        if node.op is CONST or not node.op.fresh and any(v.id in held for v in node.inputs):
            held.update(v.id for v in node.outputs)
        if not node.op.fresh and not node.op.effect:  # (a view of what the passes met so far: x.sum(0) as x)
            writes.share(node)
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [mapping.get(v.id, v) for v in graph.outputs]
    return graph

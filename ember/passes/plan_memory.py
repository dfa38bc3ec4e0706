"""plan_memory: which intermediate values share which preallocated buffer, decided once per graph.

Liveness over the node list: a value the runtime can compute into a destination (``out=``) and that is at
least ``min_bytes`` large gets a buffer slot; values whose lifetimes do not overlap share a slot (sized for
the largest). An elementwise node whose input dies at it writes over that input instead: its slot, or an
array the same call made with no ``out=`` form (a ``linear`` or ``log_softmax`` result). The runtime allocates
the slots once per compiled function and passes them, or the dying arrays, as ``out=``.

What the pass knows of an op is read from its record: ``writes_out`` (the runtime can compute it into a given
array), ``in_place`` (that array may be a dying input) and ``fresh`` (its output never shares memory with an
input).

Safety rules:
- views (reshape, transpose, broadcast_to, getitem...) and the output of any op not known to return fresh
  memory may alias their inputs: a buffer stays live until every value that may alias it is dead;
- graph inputs (feeds, variables) and constants are never planned, so never written;
- graph outputs, and every buffer they may alias, get fresh memory on each call: the caller keeps them;
- update and assign nodes keep their place; an update whose rule is not one of Ember's own (which copy what
  they keep) might hold on to its gradient, so that gradient is never pooled.
"""

from __future__ import annotations

from ember.graph.ir import CONST, RANDOM, UPDATE, Graph, Node, hinted_size

# Measured (A/B in one process, tf-style MLP training steps): planning every array, however small, was as
# fast or faster than thresholds of 16 or 64 KiB (W1b32 0.97-0.99x, Wtab 0.94-0.96x, W2 0.96-1.0x, W3 0.95x).
MIN_BYTES = 0



class MemoryPlan:
    """``slots``: value id -> buffer index; ``buffers``: bytes per buffer; ``inplace``: value id -> id of the
    input that dies at its node and whose memory it is written over (in its buffer, or over an array the call
    made). ``matches(graph)`` tells whether the graph is still the one planned (a later pass invalidates the
    plan, and the runtime then ignores it)."""

    __slots__ = ("slots", "buffers", "inplace", "fingerprint")

    def __init__(self, slots: dict, buffers: list, inplace: dict, fingerprint: tuple):
        self.slots, self.buffers, self.inplace, self.fingerprint = slots, buffers, inplace, fingerprint

    def matches(self, graph: Graph) -> bool:
        return self.fingerprint == _fingerprint(graph)

    def note(self, node: Node) -> str:
        """The dump's annotation of ``node``: ``  @buf2``, ``  @buf2 over %7`` (in place), ``  over %7``."""
        if len(node.outputs) != 1:
            return ""
        vid = node.outputs[0].id
        where = f"  @buf{self.slots[vid]}" if vid in self.slots else ""
        return where + (f"{' ' if where else '  '}over %{self.inplace[vid]}" if vid in self.inplace else "")

    def summary(self) -> str:
        sizes = ", ".join(f"buf{i} {_size(n)}" for i, n in enumerate(self.buffers))
        return f"buffers ({len(self.slots)} values in {len(self.buffers)}): {sizes}"


def _size(nbytes: int) -> str:
    if nbytes < 1024:
        return f"{nbytes} B"
    return f"{nbytes / 1024:.0f} KiB" if nbytes < 1 << 20 else f"{nbytes / (1 << 20):.1f} MiB"


def _fingerprint(graph: Graph) -> tuple:
    nodes = tuple((id(n), n.op.name, tuple(v.id for v in n.inputs), tuple(v.id for v in n.outputs))
                  for n in graph.nodes)
    return nodes, tuple(v.id for v in graph.outputs)


def _fresh(node: Node) -> bool:
    """Whether ``node``'s outputs never share memory with its inputs (a constant and a random draw have none)."""
    return node.op.fresh or node.op is CONST or node.op is RANDOM


def _aliases(graph: Graph) -> dict:
    """Value id -> ids of the values whose memory it may share (itself included)."""
    roots = {v.id: frozenset((v.id,)) for v in graph.inputs}
    for node in graph.nodes:
        for out in node.outputs:
            if _fresh(node):
                roots[out.id] = frozenset((out.id,))
            else:
                roots[out.id] = frozenset((out.id,)).union(*(roots[v.id] for v in node.inputs))
    return roots


def plan_memory(graph: Graph, *, min_bytes: int = MIN_BYTES) -> Graph:
    """Attach a ``MemoryPlan`` to ``graph`` (``graph.memory_plan``); the nodes are not changed."""
    nodes = graph.nodes
    roots = _aliases(graph)
    never = float("inf")
    end: dict = {}  # value id -> index of the last node needing its memory
    pinned: set = set()
    for i, node in enumerate(nodes):
        for v in node.outputs:
            end.setdefault(v.id, i)
        for v in node.inputs:
            for r in roots[v.id]:
                end[r] = i
        if node.op is UPDATE and getattr(node.attrs["rule"], "keeps_grad", True):  # ops.effects.update_rule
            pinned.update(roots[node.inputs[1].id])
    for v in graph.outputs:
        pinned.update(roots[v.id])
    for r in pinned:
        end[r] = never
    # per-call arrays no one else holds: an elementwise node may write over one that dies at it
    temporaries = {v.id for n in nodes if _fresh(n) and n.op is not CONST for v in n.outputs} - pinned
    slots: dict = {}
    buffers: list = []
    inplace: dict = {}
    free: list = []
    busy: list = []  # (last use, slot)
    for i, node in enumerate(nodes):
        for item in [b for b in busy if b[0] < i]:
            busy.remove(item)
            free.append(item[1])
        if not node.op.writes_out or len(node.outputs) != 1:
            continue
        out = node.outputs[0]
        # an unknown dimension counts as the graph's hint: the runtime sizes the buffers again per call
        need = hinted_size(out.array.shape, graph.dim_hint) * out.array.dtype.itemsize
        if out.id in pinned or need < min_bytes or not out.array.shape:
            continue
        donor = _dying_input(node, i, temporaries, end, roots) if node.op.in_place else None
        if donor is not None:
            inplace[out.id] = donor.id
            if donor.id not in slots:
                continue  # over an array made by this call (a linear's output, say): no buffer needed
            slot = slots[donor.id]
            busy.remove((i, slot))
        else:
            slot = _best_fit(free, buffers, need)
            if slot is None:
                slot = len(buffers)
                buffers.append(0)
            else:
                free.remove(slot)
        buffers[slot] = max(buffers[slot], need)
        slots[out.id] = slot
        busy.append((end[out.id], slot))
    graph.memory_plan = MemoryPlan(slots, buffers, inplace, _fingerprint(graph))
    return graph


def _dying_input(node: Node, i: int, temporaries: set, end: dict, roots: dict):
    """An input that is a temporary whose memory is last needed here, has the output's type, and that no
    other input aliases; None if there is none."""
    out = node.outputs[0].array
    for u in node.inputs:
        if u.id not in temporaries or end[u.id] != i or u.array.shape != out.shape or u.array.dtype != out.dtype:
            continue
        if all(w is u or u.id not in roots[w.id] for w in node.inputs):
            return u
    return None


def _best_fit(free: list, buffers: list, need: int):
    """The smallest free slot that holds ``need`` bytes, else the largest free one (it grows); or None."""
    if not free:
        return None
    fitting = [s for s in free if buffers[s] >= need]
    if fitting:
        return min(fitting, key=lambda s: buffers[s])
    return max(free, key=lambda s: buffers[s])

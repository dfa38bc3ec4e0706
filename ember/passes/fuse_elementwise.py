"""fuse_elementwise: chains of elementwise nodes become one ``fused`` node, which the runtime turns into one
kernel (one numexpr call on CPU).

A group grows backwards from a node through the producers of its inputs, as long as each absorbed value is
read by nothing outside the group (and is not a graph output), so the group computes exactly one value. The
fused node keeps the sub-expression as a ``Body`` (steps over its inputs ``$0, $1, ...``); its forward
replays the steps with the ops' own forwards, so the interpreter and every other pass see the same numbers.

Whether a group pays is measured, not assumed (``pays_off``; 2-vCPU reference machine, numexpr 2.14, NumPy 2.4,
float32). A numexpr call costs about 3 us, a NumPy call in generated code about 0.75 us; from 2048 elements
numexpr hands blocks to its thread pool (40-80 us more on 2 loaded cores); per element its arithmetic is
1.5-3x slower than NumPy's SIMD loops and its tanh/sin/cos/where 5-10x. So one kernel wins over at least six
NumPy calls on up to 128 elements (a 12-op Adam-like chain: 0.6-0.9x the time; 2-4 ops: 1.0-1.4x), loses
everywhere from 256 to about 500k elements (1.2-5x), and wins again from about a million elements, where
NumPy's passes over memory dominate, for three ops or more and without tanh-like or where-based ops
((x*y+z)*y-x: 0.57-0.81x, Adam-like 0.64-0.72x, exp(x)*y-x 0.67-0.81x; x*y+z 0.8-1.2x; gelu-tanh 1.8-2x).

What the pass knows of an op is its record's ``fusion`` trait (``ember.ops.registry.Fusion``): the numexpr form,
whether numexpr rounds it exactly as NumPy does (only those are fused by default: compiled code is promised
bit-identical to eager mode) and whether it is built of where() calls (slow in numexpr on large arrays).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember.graph.ir import Graph, GraphError, Node, hinted_size
from ember.ops.registry import NO_ONNX, Cost, Fusion, Op, Spec

SMALL_ELEMENTS = 128  # up to here one numexpr call beats MIN_CALLS NumPy calls
MIN_CALLS = 6
LARGE_ELEMENTS = 1 << 20  # from here one blocked pass beats several passes over memory (without where() forms)
MAX_INPUTS = 24  # well inside numexpr's operand limit
MAX_TEXT = 2000  # forms that repeat an operand (relu, sign) can blow the expression up
DEFAULT_CONSTANTS = (("zero", 0.0), ("one", 1.0), ("half", 0.5))  # the named constants every form may use

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_BOOL = np.dtype(bool)


def constants(op: Op) -> tuple:
    """The named float constants ``op``'s fusion form may use: (name, value) pairs."""
    return DEFAULT_CONSTANTS + tuple(op.fusion.constants)


class Body:
    """What a fused node computes: ``steps`` of ``(op, argument indices, attrs)``. Index ``i`` below
    ``n_inputs`` is the node's i-th input; above, the result of step ``i - n_inputs``. The last step is the
    result. Prints as a nested expression over ``$0, $1, ...``."""

    __slots__ = ("steps", "n_inputs", "dtype")

    def __init__(self, steps: tuple, n_inputs: int, dtype: np.dtype):
        self.steps, self.n_inputs, self.dtype = steps, n_inputs, dtype

    def text(self, form, name=lambda i: f"${i}") -> str:
        """The expression with ``form(op, argument texts)`` for each step and ``name(i)`` for inputs."""
        texts = [name(i) for i in range(self.n_inputs)]
        for op, args, _ in self.steps:
            texts.append(form(op, [texts[a] for a in args]))
        return texts[-1]

    def __repr__(self) -> str:
        return self.text(lambda op, args: f"{op.name}({', '.join(args)})")


def _fused_forward(xp, *arrays, body: Body):
    values = list(arrays)
    for op, args, attrs in body.steps:
        values.append(op.forward(xp, *[values[a] for a in args], **attrs))
    return values[-1]


def _fused_infer(*specs, body: Body) -> Spec:
    values = list(specs)
    for op, args, attrs in body.steps:
        values.append(op.infer(*[values[a] for a in args], **attrs))
    return values[-1]


def _fused_cost(out, *specs, body: Body) -> Cost:
    return Cost(out.size * len(body.steps), out.nbytes + sum(s.nbytes for s in specs))


def _fused_vjp(ctx, g):
    raise GraphError("gradients through a fused node: run autodiff (or ember.passes.gradients) before "
                     "fuse_elementwise, as the default pipeline does")


# A graph-only op, like const and update: no ONNX entry, and a vjp that only explains why there is none.
FUSED = Op("fused", _fused_forward, _fused_infer, _fused_vjp, _fused_cost, True, NO_ONNX, False, writes_out=True,
           in_place=True, fresh=True)


def _group_dtype(node: Node):
    """The float dtype a fusible node computes in, or None when numexpr cannot express it exactly: every input
    and the output are that dtype or bool (a comparison's result, a selection's condition)."""
    if not isinstance(node.op.fusion, Fusion) or len(node.outputs) != 1 or node.attrs:
        return None
    dtypes = [v.array.dtype for v in node.inputs] + [node.outputs[0].array.dtype]
    floats = {d for d in dtypes if d != _BOOL}
    if len(floats) != 1:
        return None
    (dtype,) = floats
    return dtype if dtype in _FLOATS else None


def _fusible(node: Node, dtype) -> bool:
    found = _group_dtype(node)
    return found is not None and found == dtype  # (np.dtype(x) == None holds for float64: None means it)


def pays_off(group: list, elements: int) -> bool:
    """The measured rule (module docstring): fuse ``group`` (nodes) whose result has ``elements`` elements?
    One-element values are left to the runtime's NumPy-scalar path."""
    fusions = [node.op.fusion for node in group]
    if not all(f.exact for f in fusions):
        return False
    if elements <= SMALL_ELEMENTS:
        return elements > 1 and len(fusions) >= MIN_CALLS
    return elements >= LARGE_ELEMENTS and len(fusions) >= 3 and not any(f.selects for f in fusions)


def fuse_elementwise(graph: Graph, *, pays: Callable[[list, int], bool] = pays_off) -> Graph:
    """Replace each group of elementwise nodes that computes one value, and that ``pays(nodes, elements)``
    approves, by one ``fused`` node."""
    nodes = graph.nodes
    position = {id(node): i for i, node in enumerate(nodes)}
    producer = graph.producers()
    users = graph.users()
    outputs = {v.id for v in graph.outputs}
    effects = [i for i, node in enumerate(nodes) if node.op.effect and not node.outputs]
    taken: set = set()
    fused_at: dict = {}  # position of a group's last node -> the fused node replacing the group
    for root in reversed(nodes):
        dtype = _group_dtype(root)
        if dtype is None or id(root) in taken:
            continue
        group = _grow(root, dtype, producer, users, outputs, taken)
        first = min(position[id(n)] for n in group)
        end = position[id(root)]
        if any(first < i < end for i in effects):
            continue  # moving reads past an update or assign could read the updated value
        if not pays(group, hinted_size(root.outputs[0].array.shape, graph.dim_hint)):
            continue
        group.sort(key=lambda n: position[id(n)])
        fused = _fuse(group, dtype)
        if len(fused.inputs) > MAX_INPUTS or len(fused.attrs["body"].text(_numexpr_form)) > MAX_TEXT:
            continue
        taken.update(id(n) for n in group)
        fused_at[end] = fused
    if fused_at:
        graph.nodes = [fused_at.get(i, node) for i, node in enumerate(nodes)
                       if i in fused_at or id(node) not in taken]
    return graph


def _numexpr_form(op: Op, args: list) -> str:
    return op.fusion.form.format(*args, **{name: name[0] for name, _ in constants(op)})


def _grow(root: Node, dtype, producer: dict, users: dict, outputs: set, taken: set) -> list:
    """The group ending at ``root``: producers whose values only the group reads, absorbed until none is left
    (absorbing one can make a value read twice internal, so sweep until nothing changes). A producer of a value
    smaller than ``root``'s (a per-channel term that the group broadcasts) stays outside: inside the kernel it
    would be computed again for every element of the result, outside it is one small NumPy call (ResNet-18's
    batch-norm gradient: an 11-op kernel over 2M elements took 28 ms, 4 of its ops per-channel)."""
    group = [root]
    members = {id(root)}
    shape = tuple(root.outputs[0].array.shape)
    changed = True
    while changed:
        changed = False
        for node in list(group):
            for v in node.inputs:
                p = producer.get(v.id)
                if (p is None or id(p) in members or id(p) in taken or v.id in outputs or not _fusible(p, dtype)
                        or tuple(v.array.shape) != shape or not all(id(u) in members for u in users.get(v.id, ()))):
                    continue
                group.append(p)
                members.add(id(p))
                changed = True
    return group


def _fuse(group: list, dtype) -> Node:
    """One fused node computing ``group`` (in execution order; the last node is the result)."""
    inputs: list = []
    index: dict = {}  # value id -> argument index in the body
    inside = {node.outputs[0].id for node in group}
    for node in group:
        for v in node.inputs:
            if v.id not in index and v.id not in inside:
                index[v.id] = len(inputs)
                inputs.append(v)
    steps = []
    for node in group:
        args = tuple(index[v.id] for v in node.inputs)
        steps.append((node.op, args, dict(node.attrs)))
        index[node.outputs[0].id] = len(inputs) + len(steps) - 1
    body = Body(tuple(steps), len(inputs), dtype)
    return Node(FUSED, inputs, [group[-1].outputs[0]], {"body": body})

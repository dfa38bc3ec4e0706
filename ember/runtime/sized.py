"""What generated code for a graph with unknown (None) dimensions reads per call size.

One function serves every size of those dimensions (a batch of any size). Its code is written once; what
depends on the sizes is read at the top of each call from ``SizedObjects.resolve``, keyed by the sizes of
the unknown input dimensions: the views of the memory plan's buffers (arenas that grow to the largest size
seen), and the objects an op's emitter binds for known shapes (the ones a column sum multiplies by, the
matrix-product call eager mode picks for those sizes). Per size, the shape rules run on the known sizes
(``ember.passes.specialize.infer_shapes``) and each emitter runs again; it must write the same code as at
compile time, else the size needs code of its own and ``resolve`` raises ``SizeSpecificCode`` (the front
ends then compile that size alone).
"""

from __future__ import annotations

import functools

import numpy as np

from ember.graph.ir import Graph, GraphError
from ember.ops.registry import Spec
from ember.passes.specialize import infer_shapes
from ember.runtime.cache import CompileCache


class SizeSpecificCode(GraphError):
    """Sizes for which the code compiled for unknown dimensions does not hold: compile them alone."""


def has_unknown_dims(graph: Graph) -> bool:
    """Whether any value of ``graph`` has an unknown (None) dimension."""
    return any(None in v.array.shape for v in graph.inputs) or any(
        None in v.array.shape for node in graph.nodes for v in node.outputs)


class _Typed:
    """A value as an emitter sees it: ``data`` is its Spec."""

    __slots__ = ("array",)

    def __init__(self, spec: Spec):
        self.array = spec


class _NodeAt:
    """A node typed for known sizes: what an op's emitter is handed (its target shape attribute filled in)."""

    __slots__ = ("op", "attrs", "inputs", "outputs")

    def __init__(self, node, specs: dict):
        self.op = node.op
        self.inputs = [_Typed(specs[v.id]) for v in node.inputs]
        self.outputs = [_Typed(specs[v.id]) for v in node.outputs]
        key = node.op.shape_attr
        attrs = node.attrs
        if key is not None and None in attrs.get(key, ()):
            attrs = {**attrs, key: tuple(self.outputs[0].array.shape)}
        self.attrs = attrs


class _Recorder:
    """``bind`` for one emission: names ``<prefix><k>`` for the k-th object bound, in order."""

    __slots__ = ("prefix", "objects")

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.objects: list = []

    def bind(self, obj, prefix: str) -> str:
        self.objects.append(obj)
        return f"{self.prefix}{len(self.objects) - 1}"


def _same_object(a, b) -> bool:
    """Whether two objects bound for different sizes are interchangeable (the same, or equal plain values)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (np.generic, int, float, str, tuple, np.dtype)):
        return bool(a == b)
    if isinstance(a, functools.partial):
        try:
            return a.func is b.func and a.args == b.args and a.keywords.keys() == b.keywords.keys() and all(
                _same_object(a.keywords[k], b.keywords[k]) for k in a.keywords)
        except (ValueError, TypeError):
            return False
    return False


class SizedObjects:
    """The per-size objects of one generated function (see the module docstring).

    ``names`` are the locals the function's first line sets from ``resolve(sizes)``; ``key_expression`` is
    how the code reads the sizes (``x3.shape[0]``, ...)."""

    def __init__(self, graph: Graph, bound: dict, probes: tuple):
        self.graph = graph
        self.input_shapes = [bound[v.id].shape if v.id in bound else v.array.shape for v in graph.inputs]
        self.dims = [(i, axis) for i, (v, shape) in enumerate(zip(graph.inputs, self.input_shapes))
                     for axis, d in enumerate(shape) if d is None]
        self.names: list = []
        self._makers: list = []  # per name: (kind, data)
        self._emitted: list = []  # (node, emit, args, dest, lines, static objects by index)
        self._arenas: list = []  # per buffer slot: a uint8 array, grown to the most bytes a size needs
        self._slot_values: dict = {}  # view name -> (slot, value ids)
        self.cache = CompileCache(64)  # sizes -> the objects' tuple
        self._last_sizes, self._last = None, None  # called under the generated function's lock
        self.probes = [self._specs(tuple(p for _ in self.dims)) for p in probes]
        try:  # a third size, 1, to tell what an emitter binds for every size (its code may differ there)
            self._one = self._specs(tuple(1 for _ in self.dims))
        except GraphError:
            self._one = None

    def key_expression(self, names: dict) -> str:
        """Python reading the call's sizes from its arguments (``names``: input index -> argument name)."""
        return "(" + "".join(f"{names[i]}.shape[{axis}], " for i, axis in self.dims) + ")"

    def needed(self) -> bool:
        """Whether the code reads anything per size, or has code that must be checked for each size."""
        return bool(self.names or self._emitted) and bool(self.dims)

    def _specs(self, sizes: tuple) -> dict:
        shapes = [list(s) for s in self.input_shapes]
        for (i, axis), n in zip(self.dims, sizes):
            shapes[i][axis] = n
        return infer_shapes(self.graph, shapes)

    # --- compile time ---
    def buffer_view(self, slot: int, vids: list, dtype) -> str:
        """The name of the view of buffer ``slot`` that the values ``vids`` (one type) are computed into."""
        name = f"so{len(self.names)}"
        self.names.append(name)
        self._makers.append(("view", (slot, tuple(vids), np.dtype(dtype))))
        return name

    def emit(self, node, args: list, dest, emit, fallback) -> list:
        """The lines computing ``node``: written by ``emit(node, args, env, dest)`` for the probe sizes, the
        objects it binds resolved per size; where the probes get different code, ``fallback`` (the op's
        forward, which makes eager mode's choices on the arrays themselves)."""
        prefix = f"sd{len(self._emitted)}_"
        runs = []
        for specs in self.probes:
            recorder = _Recorder(prefix)
            runs.append((emit(_NodeAt(node, specs), args, recorder, dest), recorder.objects))
        (lines, objects), (other_lines, other_objects) = runs
        if lines != other_lines:
            emit = fallback
            recorder = _Recorder(prefix)
            lines = fallback(_NodeAt(node, self.probes[0]), args, recorder, dest)
            objects = recorder.objects
            other = _Recorder(prefix)
            fallback(_NodeAt(node, self.probes[1]), args, other, dest)
            other_objects = other.objects
        at_one = objects
        if self._one is not None:
            one = _Recorder(prefix)
            try:
                emit(_NodeAt(node, self._one), args, one, dest)
                at_one = one.objects if len(one.objects) == len(objects) else [None] * len(objects)
            except (ValueError, TypeError):
                at_one = [None] * len(objects)
        static = {}
        for k, (a, b, c) in enumerate(zip(objects, other_objects, at_one)):
            name = f"{prefix}{k}"
            if _same_object(a, b) and _same_object(a, c):
                static[k] = a
            else:
                self.names.append(name)
                self._makers.append(("object", (len(self._emitted), k)))
        self._emitted.append((node, emit, args, dest, lines, static))
        return lines, {f"{prefix}{k}": a for k, a in static.items()}

    # --- call time ---
    def resolve(self, sizes: tuple) -> tuple:
        """The objects for the call's ``sizes`` (cached; the arenas grow when a size needs more)."""
        if sizes == self._last_sizes:  # the common case: the same batch size as the last call
            return self._last
        found = self.cache.get(sizes)
        if found is None:
            found = self._make(sizes)
        self._last_sizes, self._last = sizes, found
        return found

    def _make(self, sizes: tuple) -> tuple:
        try:
            specs = self._specs(sizes)
        except GraphError as exc:  # a size the graph fixed (x[:, :1] is 1 long) breaks here: compile these alone
            raise SizeSpecificCode(f"sizes {list(sizes)} of the unknown dimensions: {exc}") from None
        need: dict = {}
        views: dict = {}
        for kind, data in self._makers:
            if kind == "view":
                slot, vids, dtype = data
                shapes = {specs[v].shape for v in vids}
                if len(shapes) != 1:
                    raise SizeSpecificCode(f"values sharing one view of buffer {slot} differ in shape at sizes "
                                           f"{list(sizes)}")
                (shape,) = shapes
                views[data] = shape
                need[slot] = max(need.get(slot, 0), int(np.prod(shape)) * dtype.itemsize)
        grown = False
        for slot, nbytes in need.items():
            while len(self._arenas) <= slot:
                self._arenas.append(np.empty(0, np.uint8))
            if self._arenas[slot].nbytes < nbytes:
                self._arenas[slot] = np.empty(nbytes, np.uint8)
                grown = True
        if grown:
            self.cache.clear()  # views of the smaller arenas: dropped, so they can be freed
            self._last_sizes, self._last = None, None
        emitted = {index: self._emit_at(index, specs, sizes) for index in range(len(self._emitted))}
        made = {}  # (slot, shape, dtype) -> one view: NumPy checks an exact in-place overlap by identity
        objects = []
        for kind, data in self._makers:
            if kind == "view":
                slot, _, dtype = data
                shape = views[data]
                key = (slot, shape, dtype)
                if key not in made:
                    made[key] = self._arenas[slot][:int(np.prod(shape)) * dtype.itemsize].view(dtype).reshape(shape)
                objects.append(made[key])
                continue
            index, k = data
            objects.append(emitted[index][k])
        found = tuple(objects)
        self.cache[sizes] = found
        return found

    def _emit_at(self, index: int, specs: dict, sizes: tuple) -> list:
        node, emit, args, dest, lines, static = self._emitted[index]
        recorder = _Recorder(f"sd{index}_")
        if emit(_NodeAt(node, specs), args, recorder, dest) != lines or any(
                not _same_object(recorder.objects[k], a) for k, a in static.items()):
            raise SizeSpecificCode(f"{node.op.name}: its code for sizes {list(sizes)} of the unknown dimensions "
                                   "differs from the code compiled for them")
        return recorder.objects

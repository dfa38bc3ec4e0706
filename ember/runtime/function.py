"""What runs a graph built on unknown (None) dimensions: compiled once for every size of them, or once per
input signature.

>>> g = ember.graph.Graph()
>>> x = g.input("x", (None, 3), "float32")
>>> with g.building():
...     g.outputs = [ember.relu(x).mean(axis=0)]
>>> f = ember.runtime.GraphFunction(g)
>>> f(np.ones((8, 3), np.float32)), f(np.ones((2, 3), np.float32))  # one compiled function
>>> f.concrete.stats()["compiles"]
1
"""

from __future__ import annotations

import os
import sys

import numpy as np

from ember.backend.devices import CPU, as_array, device_of
from ember.graph.ir import Graph, GraphError, type_str
from ember.ops.infer import fits
from ember.passes.manager import pipeline, run_passes
from ember.passes.mixed_precision import low_precision_dtype
from ember.passes.specialize import specialize
from ember.runtime.cache import CompileCache
from ember.runtime.codegen import compile_graph
from ember.runtime.sized import SizeSpecificCode, has_unknown_dims


class GraphFunction:
    """Calls ``graph`` on arrays: the graph (left untouched, as a template) is specialized to the shapes
    of each new input signature, run through ``passes`` and compiled; the result is cached per signature.

    ``bound`` maps input Values to arrays fixed into the code (variables, updated in place by ``update``
    nodes); the other inputs are the call's arguments, in order. At most ``cache_size`` compiled functions are
    kept (default ``ember.runtime.cache.COMPILE_CACHE_SIZE``), the least recently called dropped first. One
    GraphFunction may be called from several threads.

    ``dynamic=True`` (the default) compiles the graph once for every size of its unknown dimensions: each
    new signature then finds that function (``concrete.stats()`` counts one compile). Where that cannot be
    done (an op whose code needs the sizes), for arguments whose unknown dimensions differ in size (the passes
    take them for one size, the batch), and with ``dynamic=False``, each signature is specialized and compiled
    alone; ``specialized`` says why where it is not asked for.

    ``mixed_precision="bfloat16"`` (or ``"float16"``) runs the ``mixed_precision`` pass first (before
    ``autodiff``): matrix products and convolutions in that dtype, float32 variables and outputs."""

    def __init__(self, graph: Graph, passes=None, bound: dict | None = None, cache_size: int | None = None,
                 dynamic: bool = True, mixed_precision=None):
        self.graph = graph
        self.mixed_precision = None if mixed_precision is None else low_precision_dtype(mixed_precision)
        self.passes = None if passes is None else tuple(passes)  # None: the pass manager's pipeline()
        self.bound = {v.id: array for v, array in (bound or {}).items()}
        self.arguments = [v for v in graph.inputs if v.id not in self.bound]
        self.concrete = CompileCache(cache_size)  # signature (shapes of the arguments) -> compiled function
        self.dynamic = bool(dynamic) and has_unknown_dims(graph)
        self.general = None  # the function compiled for every size, once made
        self.specialized: list[str] = []

    def __call__(self, *arrays) -> tuple:
        if len(arrays) != len(self.arguments):
            raise TypeError(f"GraphFunction: the graph takes {len(self.arguments)} arguments, got {len(arrays)}")
        arrays = [self._check(v, a) for v, a in zip(self.arguments, arrays)]
        key = tuple(a.shape for a in arrays)
        compiled = self.concrete.get(key)
        if compiled is None:
            compiled = self.concrete[key] = self._compile(key)
        try:
            return compiled(*arrays)
        except SizeSpecificCode as exc:  # raised before anything runs: these sizes get code of their own
            self.specialized.append(f"{[list(s) for s in key]}: {exc}")
            compiled = self.concrete[key] = self._compile(key, general=False)
            return compiled(*arrays)

    def concrete_graph(self, *shapes) -> Graph:
        """The optimized graph for arguments of ``shapes`` (what the generated code for them computes)."""
        return self._specialize(tuple(tuple(s) for s in shapes))[0]

    def _check(self, v, array) -> np.ndarray:
        if v.array.device == CPU:
            array = as_array(array)
        if array.dtype != v.array.dtype or device_of(array) != v.array.device:
            raise TypeError(f"GraphFunction: input %{v.id}{f' ({v.name})' if v.name else ''} is {v.array!r}, "
                            f"got an array of {type_str(array.shape, array.dtype, device_of(array))}")
        return array

    def _specialize(self, shapes: tuple, general: bool = False):
        given = iter(shapes)
        all_shapes = [self.bound[v.id].shape if v.id in self.bound else next(given) for v in self.graph.inputs]
        if general:  # keep the unknown dimensions; passes weigh their choices at these sizes
            hint = next((n for v, s in zip(self.graph.inputs, all_shapes) for d, n in zip(v.array.shape, s)
                         if d is None), None)
            all_shapes = [v.array.shape if v.id not in self.bound else s for v, s in zip(self.graph.inputs, all_shapes)]
        graph = specialize(self.graph, all_shapes)
        if general and hint is not None:
            graph.dim_hint = int(hint)
        if os.environ.get("EMBER_DUMP_IR", "") not in ("", "0"):  # as the pass manager does after each pass
            print(f"// after specialize\n{graph.dump()}", file=sys.stderr)
        bound = {new.id: self.bound[old.id] for old, new in zip(self.graph.inputs, graph.inputs)
                 if old.id in self.bound}
        return run_passes(graph, self._pipeline()), bound

    def _pipeline(self) -> tuple:
        if self.passes is None:
            return pipeline(self.mixed_precision)
        if self.mixed_precision is None:
            return self.passes
        return (("mixed_precision", {"dtype": self.mixed_precision}),) + self.passes

    def _compile(self, shapes: tuple, general: bool = True):
        for v, shape in zip(self.arguments, shapes):  # the one compiled function checks only its unknown sizes
            if not fits(v.array.shape, shape):
                raise GraphError(f"GraphFunction: input %{v.id}{f' ({v.name})' if v.name else ''} is {v.array!r}; "
                                 f"an array of shape {list(shape)} does not fit it")
        sizes = {n for v, shape in zip(self.arguments, shapes) for d, n in zip(v.array.shape, shape) if d is None}
        if general and self.dynamic and len(sizes) <= 1:  # the passes take the unknown sizes for one (a batch)
            if self.general is None:
                try:
                    graph, bound = self._specialize(shapes, general=True)
                    self.general = compile_graph(graph, bound).fn
                    self.concrete.count_compile()
                except (GraphError, TypeError) as exc:
                    self.dynamic = False
                    self.specialized.append(f"every size: {exc}")
                else:
                    return self.general
            else:
                return self.general
        try:
            graph, bound = self._specialize(shapes)
        except GraphError as exc:
            raise GraphError(f"GraphFunction: for arguments of shapes {[list(s) for s in shapes]}: {exc}") from None
        self.concrete.count_compile()
        return compile_graph(graph, bound).fn

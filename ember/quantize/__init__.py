"""Post-training int8 quantization (Linear and Conv): per-channel int8 weights, per-tensor int8 activations
calibrated on sample batches, int32 accumulation.

>>> qnet = ember.quantize.quantize_model(net, [x_batch1, x_batch2])   # a callable on arrays
>>> qnet(x)                                   # float32 outputs, int8 products inside
>>> ember.onnx.to_onnx(qnet.graph)            # QDQ ONNX
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

from ember.export.trace import trace
from ember.graph.ir import Graph
from ember.passes import run_passes
from ember.quantize.ops import QCONV2D, QLINEAR, quantize_array
from ember.quantize.pass_int8 import calibrate, quantize_int8

__all__ = ["QCONV2D", "QLINEAR", "QuantizedModel", "calibrate", "quantize_array", "quantize_int8",
           "quantize_model"]


class QuantizedModel:
    """An int8 inference graph compiled with Ember's runtime; call it on arrays (or Tensors).

    ``retrace`` (input shapes -> quantized graph) serves a model traced at known batch sizes: each new input
    shape gets its own graph (see ``quantize_model``)."""

    def __init__(self, graph: Graph, retrace=None):
        from ember.runtime import GraphFunction

        self.graph = graph
        self._retrace = retrace
        self._function = GraphFunction(graph, passes=_RUN_PASSES)
        self._by_shapes = {tuple(v.array.shape for v in graph.inputs): self._function}

    def __call__(self, *inputs):
        arrays = [np.asarray(getattr(x, "array", x)) for x in inputs]
        function = self._function
        if self._retrace is not None:
            shapes = tuple(a.shape for a in arrays)
            function = self._by_shapes.get(shapes)
            if function is None:
                from ember.runtime import GraphFunction

                function = self._by_shapes[shapes] = GraphFunction(self._retrace(shapes), passes=_RUN_PASSES)
        out = function(*arrays)
        return out[0] if len(out) == 1 else out


def quantize_model(net, calibration_batches) -> QuantizedModel:
    """Trace ``net`` (in eval mode) on the first calibration batch, then quantize its Linear and Conv layers
    with activation ranges from all of ``calibration_batches``.

    The trace leaves the batch size unknown, so one graph serves every batch size. A model that needs the
    size as a number (``int(x.shape[0])``, ``range(x.shape[0])``) is traced at each batch shape instead, with a
    warning: one graph per input shape (a new one at the first call with a new shape, from a copy of the model
    taken now), all with the activation scales of all the calibration batches."""
    if isinstance(calibration_batches, np.ndarray) or hasattr(calibration_batches, "array"):
        raise TypeError(f"quantize_model: calibration_batches is one array of shape "
                        f"{list(calibration_batches.shape)}; pass a list of batches, such as [x]")
    batches = [b if isinstance(b, (list, tuple)) else (b,) for b in calibration_batches]
    if not batches:
        raise ValueError("quantize_model: calibration_batches is empty; pass a list of at least one batch")
    batches = [tuple(np.asarray(getattr(a, "array", a)) for a in b) for b in batches]
    any_batch = {f"input{i}": {0: "batch"} for i in range(len(batches[0]))}
    try:
        graph = _traced(net, batches[0], any_batch)
    except (TypeError, ValueError) as exc:  # a concrete trace below raises a model's own error again
        warnings.warn(f"quantize_model: the model needs its batch size to trace ({exc}); tracing it at each "
                      "input shape instead (one int8 graph per batch shape)", stacklevel=2)
        return _per_shape(copy.deepcopy(net), batches)
    return QuantizedModel(quantize_int8(graph, batches))


_RUN_PASSES = ("prune", "cse", "plan_memory")


def _traced(net, batch: tuple, dynamic_axes=None) -> Graph:
    graph = trace(net, batch, dynamic_axes=dynamic_axes)
    return run_passes(graph, ("prune", "fold_constants", "cse", "prune"))


def _per_shape(net, batches: list) -> QuantizedModel:
    """Graphs traced at the batches' own shapes, calibrated together (node by node: the graphs must match)."""
    graphs: dict = {}
    for batch in batches:
        shapes = tuple(a.shape for a in batch)
        if shapes not in graphs:
            graphs[shapes] = _traced(net, batch)
    ops = [node.op.name for node in next(iter(graphs.values())).nodes]
    ranges: dict = {}
    for shapes, graph in graphs.items():
        _same_nodes(ops, graph, shapes)
        found = calibrate(graph, [b for b in batches if tuple(a.shape for a in b) == shapes])
        for i, value in found.items():
            ranges[i] = max(ranges.get(i, 0.0), value)

    def retrace(shapes: tuple) -> Graph:
        graph = graphs.pop(shapes, None)  # quantize_int8 rewrites it: each shape's graph is used once
        if graph is None:
            graph = _traced(net, tuple(np.zeros(s, a.dtype) for s, a in zip(shapes, batches[0])))
            _same_nodes(ops, graph, shapes)
        return quantize_int8(graph, ranges=ranges)

    return QuantizedModel(retrace(tuple(a.shape for a in batches[0])), retrace)


def _same_nodes(ops: list, graph: Graph, shapes: tuple) -> None:
    if [node.op.name for node in graph.nodes] != ops:
        raise ValueError(f"quantize_model: the model traced at input shapes {[list(s) for s in shapes]} computes "
                         "other ops than at the first calibration batch's; its int8 activation scales cannot be "
                         "shared (give calibration batches of one shape and call it at that shape)")

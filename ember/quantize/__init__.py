"""Post-training int8 quantization (Linear and Conv): per-channel int8 weights, per-tensor int8 activations
calibrated on sample batches, int32 accumulation.

>>> qnet = ember.quantize.quantize_model(net, [x_batch1, x_batch2])   # a callable on arrays
>>> qnet(x)                                   # float32 outputs, int8 products inside
>>> ember.onnx.to_onnx(qnet.graph)            # QDQ ONNX
"""

from __future__ import annotations

import numpy as np

from ember.export.trace import trace
from ember.graph.ir import Graph
from ember.passes import run_passes
from ember.quantize.ops import QCONV2D, QLINEAR, quantize_array
from ember.quantize.pass_int8 import calibrate, quantize_int8

__all__ = ["QCONV2D", "QLINEAR", "QuantizedModel", "calibrate", "quantize_array", "quantize_int8",
           "quantize_model"]


class QuantizedModel:
    """An int8 inference graph compiled with Ember's runtime; call it on arrays (or Tensors)."""

    def __init__(self, graph: Graph):
        from ember.runtime import GraphFunction

        self.graph = graph
        self._function = GraphFunction(graph, passes=("prune", "cse", "plan_memory"))

    def __call__(self, *inputs):
        arrays = [np.asarray(getattr(x, "array", x)) for x in inputs]
        out = self._function(*arrays)
        return out[0] if len(out) == 1 else out


def quantize_model(net, calibration_batches) -> QuantizedModel:
    """Trace ``net`` (in eval mode) on the first calibration batch, then quantize its Linear and Conv layers
    with activation ranges from all of ``calibration_batches``."""
    if isinstance(calibration_batches, np.ndarray) or hasattr(calibration_batches, "array"):
        raise TypeError(f"quantize_model: calibration_batches is one array of shape "
                        f"{list(calibration_batches.shape)}; pass a list of batches, such as [x]")
    batches = [b if isinstance(b, (list, tuple)) else (b,) for b in calibration_batches]
    if not batches:
        raise ValueError("quantize_model: calibration_batches is empty; pass a list of at least one batch")
    batches = [tuple(np.asarray(getattr(a, "array", a)) for a in b) for b in batches]
    any_batch = {f"input{i}": {0: "batch"} for i in range(len(batches[0]))}
    graph = trace(net, batches[0], dynamic_axes=any_batch)
    graph = run_passes(graph, ("prune", "fold_constants", "cse", "prune"))
    return QuantizedModel(quantize_int8(graph, batches))

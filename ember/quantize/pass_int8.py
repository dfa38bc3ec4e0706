"""Post-training int8 quantization of an inference graph: Linear and Conv weights per output channel,
their input activations per tensor from calibration batches (the largest magnitude seen)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import FLOATING, LOW_PRECISION
from ember.graph.ir import CONST, Graph, infer
from ember.ops.infer import fits
from ember.ops.registry import Spec
from ember.quantize.ops import FLOAT_OPS

__all__ = ["calibrate", "quantize_int8"]


def calibrate(graph: Graph, batches) -> dict:
    """{node index: largest |input| seen} for each Linear/Conv node, running ``graph`` on ``batches`` (each a
    tuple of arrays, one per graph input, or one array)."""
    found: dict = {}
    targets = {i for i, node in enumerate(graph.nodes) if node.op.name in FLOAT_OPS}
    for b, batch in enumerate(batches):
        arrays = [np.asarray(a) for a in (batch if isinstance(batch, (list, tuple)) else (batch,))]
        _check_batch(graph, b, arrays)
        env = {v.id: a for v, a in zip(graph.inputs, arrays)}
        for i, node in enumerate(graph.nodes):
            inputs = [env[v.id] for v in node.inputs]
            if i in targets and inputs[0].size:
                largest = float(np.max(np.abs(inputs[0])))
                if not np.isfinite(largest):  # an inf scale would quantize every input to nan; a nan one is lost
                    raise ValueError(f"calibrate: calibration batch {b} gives a {node.op.name} node (node {i}) an "
                                     f"input of {inputs[0].dtype}{list(inputs[0].shape)} with non-finite values "
                                     "(inf or nan); int8 activation scales need finite calibration data")
                found[i] = max(found.get(i, 0.0), largest)
            if node.outputs:
                env[node.outputs[0].id] = np.asarray(node.op.forward(np, *inputs, **node.attrs))
    unseen = sorted(targets - found.keys())
    if unseen:  # its scale would be a guess (1.0 rounded every input to an integer)
        node = graph.nodes[unseen[0]]
        raise ValueError(f"calibrate: no calibration batch gives the {node.op.name} node (node {unseen[0]}) an input "
                         "value (there are no batches, or its inputs were all empty); its int8 activation scale needs "
                         "some")
    return found


def _check_batch(graph: Graph, b: int, arrays: list) -> None:
    """A calibration batch holds one array per graph input, of its dtype and of a shape that fits it."""
    if len(arrays) != len(graph.inputs):
        raise ValueError(f"calibrate: calibration batch {b} has {len(arrays)} arrays for the graph's "
                         f"{len(graph.inputs)} inputs")
    for v, a in zip(graph.inputs, arrays):
        if a.dtype != v.array.dtype or not fits(v.array.shape, a.shape):
            raise ValueError(f"calibrate: calibration batch {b}: input {v.name or v.id} is {v.array!r}, got an "
                             f"array of {a.dtype}{list(a.shape)}")


def quantize_int8(graph: Graph, batches=None, *, ranges: dict | None = None) -> Graph:
    """Replace each Linear and Conv node whose weight is a constant by its int8 form (``qlinear`` /
    ``qconv2d``), with activation scales from ``batches`` (or ``ranges``, what ``calibrate`` found); returns
    the rewritten graph (verified)."""
    if ranges is None:
        ranges = calibrate(graph, batches)
    nodes = list(graph.nodes)
    graph.nodes = []
    for i, node in enumerate(nodes):
        weight = _constant_from(nodes, node) if node.op.name in FLOAT_OPS else None
        if weight is None or i not in ranges or weight.dtype not in FLOATING:
            graph.nodes.append(node)
            continue
        w = weight.reshape(weight.shape[0], -1)
        # float16 would keep the scales of weights under 8e-3 as subnormals, and round those under 4e-6 to 0
        scale_dtype = np.float32 if weight.dtype in LOW_PRECISION else weight.dtype
        w_scale = (np.abs(w).astype(np.float64).max(axis=1) / 127.0).astype(scale_dtype)
        w_scale[w_scale == 0] = 1.0
        # divided in float64: a float16 or bfloat16 quotient rounds before rint (9-15% of bfloat16 weights a step off)
        exact = weight.astype(np.float64) / w_scale.astype(np.float64).reshape((-1,) + (1,) * (weight.ndim - 1))
        w_q = np.clip(np.rint(exact), -127, 127)
        x_scale = ranges[i] / 127.0 if ranges[i] > 0 else 1.0
        wq_value = graph.add(CONST, (), {"value": w_q.astype(np.int8)}, [Spec(w_q.shape, np.dtype(np.int8))])[0]
        ws_value = graph.add(CONST, (), {"value": w_scale}, [Spec(w_scale.shape, w_scale.dtype)])[0]
        qop = FLOAT_OPS[node.op.name]
        inputs = [node.inputs[0], wq_value, ws_value, *node.inputs[2:]]
        attrs = {"x_scale": float(x_scale), **node.attrs}
        spec = infer(qop, [v.spec for v in inputs], attrs)
        out = graph.add(qop, inputs, attrs, [spec])[0]
        graph.replace_uses({node.outputs[0].id: out})
        for later in nodes[i + 1:]:
            later.inputs = [out if v.id == node.outputs[0].id else v for v in later.inputs]
    from ember.passes import prune

    return prune(graph).verify()


def _constant_from(nodes: list, node) -> np.ndarray | None:
    weight = node.inputs[1]
    for other in nodes:
        if other.outputs and other.outputs[0].id == weight.id:
            return np.asarray(other.attrs["value"]) if other.op is CONST else None
    return None

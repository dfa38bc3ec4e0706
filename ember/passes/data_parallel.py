"""data_parallel: average the gradients every update node reads over the ranks of a data-parallel job.

Runs after ``autodiff`` (the pass manager adds it when ``ember.distributed`` has a group of more than one
rank). The gradients are packed into buckets of at most ``BUCKET_BYTES`` (flattened and concatenated, one
dtype per bucket), each bucket is averaged by one ``all_reduce`` node, and the update nodes read their slices:
the same bucketed all-reduces ``DistributedDataParallel`` makes in eager mode, as nodes of the graph.

Buffers are left as they are: a step traced through ``DistributedDataParallel`` (``ember.jit``, ``Model.fit``)
already holds its broadcast of rank 0's buffers (``broadcast_buffers``), and a step of an unwrapped network keeps
each rank's, as eager mode does without the wrapper.
"""

from __future__ import annotations

import math

from ember.autograd import apply
from ember.graph.ir import SPARSE_UPDATE, UPDATE, Graph
from ember.ops.join import concat
from ember.ops.registry import REGISTRY
from ember.ops.shape import reshape

BUCKET_BYTES = 25 * 2**20

__all__ = ["BUCKET_BYTES", "data_parallel"]


def _buckets(grads: list) -> list:
    """Runs of gradients in update order, each of one dtype and at most BUCKET_BYTES (a larger one alone)."""
    buckets, current, size = [], [], 0
    for g in grads:
        nbytes = math.prod(g.shape) * g.dtype.itemsize
        if current and (size + nbytes > BUCKET_BYTES or g.dtype != current[0].dtype):
            buckets.append(current)
            current, size = [], 0
        current.append(g)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


def data_parallel(graph: Graph) -> Graph:
    """Insert the bucketed gradient all-reduces (a no-op without update nodes)."""
    if any(node.op is SPARSE_UPDATE for node in graph.nodes):
        raise RuntimeError("data_parallel: the graph updates a sparse embedding (a sparse_update node), whose rows "
                           "differ per rank and are not averaged here; use sparse=False, or the sharded embeddings "
                           "of ember.distributed")
    updates = [node for node in graph.nodes if node.op is UPDATE]
    if not updates:
        return graph
    all_reduce = REGISTRY.get("all_reduce")  # the op record ember.distributed registers (one op-name literal)
    if all_reduce is None:
        raise RuntimeError("data_parallel: the all_reduce op is not registered; import ember.distributed and call "
                           "init_process_group() first")
    grads = []
    for node in updates:
        g = node.inputs[1]
        if all(g is not seen for seen in grads):
            grads.append(g)
    before = len(graph.nodes)
    averaged = {}
    with graph.building():
        for bucket in _buckets(grads):
            flat = [reshape(g, (-1,)) for g in bucket]
            packed = flat[0] if len(flat) == 1 else concat(flat, axis=0)
            mean = apply(all_reduce, (packed,), {"op": "avg"})
            start = 0
            for g in bucket:
                size = math.prod(g.shape)
                averaged[g.id] = reshape(mean[start:start + size], tuple(g.shape))
                start += size
    added = graph.nodes[before:]
    del graph.nodes[before:]
    first = graph.nodes.index(updates[0])
    graph.nodes[first:first] = added  # every gradient is computed before the first update
    for node in updates:
        node.inputs = [node.inputs[0], averaged[node.inputs[1].id]]
    return graph

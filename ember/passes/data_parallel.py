"""data_parallel: average the gradients every update node reads over the ranks of a data-parallel job.

Runs after ``autodiff`` (the pass manager adds it when ``ember.distributed`` has a group of more than one
rank). The gradients are packed into buckets of at most ``BUCKET_BYTES`` (flattened and concatenated, one
dtype per bucket), each bucket is averaged by one ``all_reduce`` node, and the update nodes read their slices:
the same bucketed all-reduces ``DistributedDataParallel`` makes in eager mode, as nodes of the graph.

A traced step (``ember.jit``) averages earlier, where its backward makes each ``.grad`` (``average``, from
``ember.tracing``), so that what reads the gradients before the updates (``clip_grad_norm_``) reads the average,
as in eager mode; its graph lists those averages (``averaged_grads``), and this pass leaves the gradients computed
from them alone.

Buffers are left as they are: a step traced through ``DistributedDataParallel`` (``ember.jit``, ``Model.fit``)
already holds its broadcast of rank 0's buffers (``broadcast_buffers``), and a step of an unwrapped network keeps
each rank's, as eager mode does without the wrapper.
"""

from __future__ import annotations

import math
import sys

from ember.autograd import apply
from ember.graph.ir import SPARSE_UPDATE, UPDATE, Graph
from ember.ops.join import concat
from ember.ops.registry import REGISTRY
from ember.ops.shape import reshape

BUCKET_BYTES = 25 * 2**20

__all__ = ["BUCKET_BYTES", "average", "data_parallel", "data_parallel_job"]


def data_parallel_job() -> bool:
    """Whether compiled steps average their gradients here: ``ember.distributed`` has a group of more than one rank,
    no parameter servers, and ``dist.compiled_data_parallel()`` on (read from ``sys.modules``: passes do not import
    the distributed layer)."""
    dist = sys.modules.get("ember.distributed")
    return dist is not None and dist.is_initialized() and dist.compiled_data_parallel()


def _all_reduce():
    op = REGISTRY.get("all_reduce")  # the op record ember.distributed registers (one op-name literal)
    if op is None:
        raise RuntimeError("data_parallel: the all_reduce op is not registered; import ember.distributed and call "
                           "init_process_group() first")
    return op


def average(grads: list) -> list:
    """``grads`` (Values of the graph being built) averaged over the ranks, in buckets: one Value each."""
    all_reduce = _all_reduce()
    averaged = {}
    for bucket in _buckets(grads):
        flat = [reshape(g, (-1,)) for g in bucket]
        packed = flat[0] if len(flat) == 1 else concat(flat, axis=0)
        mean = apply(all_reduce, (packed,), {"op": "avg"})
        start = 0
        for g in bucket:
            size = math.prod(g.shape)
            averaged[g.id] = reshape(mean[start:start + size], tuple(g.shape))
            start += size
    return [averaged[g.id] for g in grads]


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


def _from_averages(graph: Graph) -> set:
    """ids of the values computed from the averages a traced backward made (``Graph.averaged_grads``): the same on
    every rank already."""
    derived = set(graph.averaged_grads)
    if derived:
        for node in graph.nodes:
            if any(v.id in derived for v in node.inputs):
                derived.update(v.id for v in node.outputs)
    return derived


def data_parallel(graph: Graph) -> Graph:
    """Insert the bucketed gradient all-reduces (a no-op without update nodes, or where a traced backward
    averaged the gradients they read)."""
    if any(node.op is SPARSE_UPDATE for node in graph.nodes):
        raise RuntimeError("data_parallel: the graph updates a sparse embedding (a sparse_update node), whose rows "
                           "differ per rank and are not averaged here; use sparse=False, or the sharded embeddings "
                           "of ember.distributed")
    averaged = _from_averages(graph)
    updates = [node for node in graph.nodes if node.op is UPDATE and node.inputs[1].id not in averaged]
    if not updates:
        return graph
    grads = []
    for node in updates:
        g = node.inputs[1]
        if all(g is not seen for seen in grads):
            grads.append(g)
    before = len(graph.nodes)
    with graph.building():
        averaged = {g.id: mean for g, mean in zip(grads, average(grads))}
    added = graph.nodes[before:]
    del graph.nodes[before:]
    first = graph.nodes.index(updates[0])
    graph.nodes[first:first] = added  # every gradient is computed before the first update
    for node in updates:
        node.inputs = [node.inputs[0], averaged[node.inputs[1].id]]
    return graph

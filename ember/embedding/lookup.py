"""The differentiable lookup: rows of a ``HashTable`` as a Tensor whose gradient is row-sparse.

``HashTableParameter`` is the table's handle among a module's parameters: optimizers see it, and route
its row-sparse gradients to ``HashTable.apply_update`` (the rows live in the table, not in ``.array``).
The lookup is an op record kept out of the registry: it reads host-side state, so it has no graph,
ONNX or generated-code form, and tracing it is refused.
"""

from __future__ import annotations

import copy

import numpy as np

from ember.autograd import apply, is_grad_enabled
from ember.embedding.segments import segment_sum
from ember.nn.parameter import Parameter
from ember.ops.convert import cast
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, Cost, Op, Spec
from ember.sparse import RowSparse
from ember.tensor import Tensor


class HashTableParameter(Parameter):
    """The trainable handle of a ``HashTable``: ``data`` is an empty (0, dim) array, the rows are in
    ``table``. Optimizers call ``apply_sparse_update`` with their sparse rule instead of updating ``data``.
    """

    __slots__ = ("table",)

    def __init__(self, table):
        super().__init__(np.zeros((0, table.dim), np.float32))
        self.table = table

    def apply_sparse_update(self, rule, grad: RowSparse, state: dict, hyper: dict) -> None:
        """Run ``rule`` (an ``ember.optim.functional.sparse_*`` function) on the rows ``grad`` touches."""
        self.table.apply_update(rule, grad, state, hyper)

    def __repr__(self) -> str:
        return f"HashTableParameter(rows={len(self.table)}, dim={self.table.dim}, dtype={self.table.dtype})"

    def __reduce_ex__(self, protocol):
        return _rebuild, (self.table, self.requires_grad)

    def __deepcopy__(self, memo) -> HashTableParameter:
        copied = HashTableParameter(copy.deepcopy(self.table, memo))
        copied.requires_grad_(self.requires_grad)
        memo[id(self)] = copied
        return copied


def _rebuild(table, requires_grad: bool) -> HashTableParameter:
    p = HashTableParameter(table)
    p.requires_grad_(requires_grad)
    return p


def _forward(xp, weight, inverse, *, table, unique):
    block = table.read(unique)  # each distinct row once
    return np.take(block, inverse.reshape(-1), axis=0).reshape(inverse.shape + (table.dim,))


def _infer(weight, inverse, *, table, unique):
    return Spec(tuple(inverse.shape) + (table.dim,), np.dtype(np.float32))


def _vjp_rule(run, ctx, g):
    """The row-sparse gradient of the distinct rows (``ctx`` is the tape's node or its arrays)."""
    table, unique = ctx.attrs["table"], ctx.attrs["unique"]
    inverse = ctx.inputs[1]
    inverse = inverse.array if isinstance(inverse, Tensor) else inverse
    g = g.array if isinstance(g, Tensor) else g
    sums = segment_sum(g.reshape(-1, table.dim), inverse.reshape(-1), unique.size)
    valid = unique >= 0
    if not valid.all():  # ids the admission policy kept out: no row, so no gradient
        unique, sums = unique[valid], sums[valid]
    return RowSparse(unique, Tensor._make(sums, None), (max(table.top, 1), table.dim), distinct=True), None


def _cost(out, weight, inverse, *, table, unique):
    return Cost(0, 2 * out.nbytes + inverse.nbytes)


HASH_LOOKUP = Op("hash_embedding_lookup", _forward, _infer, vjp_rule(_vjp_rule), _cost, False, NO_ONNX, False)


def lookup(weight: HashTableParameter, keys: np.ndarray, train: bool, counts: np.ndarray | None = None) -> Tensor:
    """The rows of int64 ``keys`` (any shape), shape ``keys.shape + (dim,)``, differentiable with respect
    to ``weight`` (a row-sparse gradient of the distinct rows). ``train``: insert unseen keys (as admitted)
    and count the lookups (``counts``: how many each key stands for, one by default); otherwise unseen keys
    read the table's default value. The rows are float32, or
    the handle's dtype once the module is cast (``model.double()``), as a cast ``nn.Embedding``'s are; the
    table keeps its storage dtype and its updates stay float32."""
    table = weight.table
    if not train and not (weight.requires_grad and is_grad_enabled()):  # inference: no bookkeeping needed
        rows = table.lookup(keys, train=False).reshape(-1)
        out = Tensor._make(table.read(rows).reshape(keys.shape + (table.dim,)), None)
    else:
        unique, inverse = table.lookup_unique(keys, train, counts)
        out = apply(HASH_LOOKUP, (weight, Tensor._make(inverse.reshape(keys.shape), None)),
                    {"table": weight.table, "unique": unique})
    dtype = weight.array.dtype
    return out if dtype == np.float32 else cast(out, dtype)  # the cast's gradient comes back in float32

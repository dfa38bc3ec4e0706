"""Collectives as registry ops: differentiable, and visible to graphs and profiles like any other op.

Each forward runs on the default process group. The vjps are the adjoint collectives: the gradient of an
all-reduce is an all-reduce of the gradients, of an all-gather a reduce-scatter, of a reduce-scatter an
all-gather, of an all-to-all the reverse all-to-all, of a broadcast the sum of the gradients on its source.
"""

from __future__ import annotations

from ember.autograd import apply
from ember.distributed.group import ReduceOp, _reduce_op, default_group
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error
from ember.ops.shape import reshape
from ember.tensor import Tensor


def _bytes_cost(*specs, **attrs) -> Cost:
    nbytes = specs[0].nbytes or 0
    return Cost(flops=specs[0].size or 0, bytes=2 * nbytes)


def _same(x: Spec, **attrs) -> Spec:
    return Spec(tuple(x.shape), x.dtype)


def _all_reduce_vjp(ctx, g):
    op = ctx.attrs["op"]
    if op not in ("sum", "avg"):
        raise RuntimeError(f"all_reduce: no gradient for ReduceOp {op!r} (only sum and avg are differentiable)")
    return (all_reduce(g, op),)


ALL_REDUCE = defop(
    "all_reduce", forward=lambda xp, x, *, op: default_group().all_reduce(x, op), infer=_same,
    vjp=_all_reduce_vjp, cost=_bytes_cost, onnx=NO_ONNX,
)


def _gather_infer(x: Spec, **attrs) -> Spec:
    return Spec((default_group().size,) + tuple(x.shape), x.dtype)


ALL_GATHER = defop(
    "all_gather", forward=lambda xp, x: default_group().all_gather(x), infer=_gather_infer,
    vjp=lambda ctx, g: (reshape(reduce_scatter(g, "sum"), ctx.inputs[0].shape),), cost=_bytes_cost, onnx=NO_ONNX,
)


def _scatter_infer(x: Spec, *, op) -> Spec:
    size = default_group().size
    if not x.shape or (x.shape[0] is not None and x.shape[0] % size):
        raise shape_error("reduce_scatter", [x], f"the first axis must split into {size} equal slices")
    first = None if x.shape[0] is None else x.shape[0] // size
    return Spec((first,) + tuple(x.shape[1:]), x.dtype)


def _reduce_scatter_vjp(ctx, g):
    if ctx.attrs["op"] != "sum":
        raise RuntimeError(f"reduce_scatter: no gradient for ReduceOp {ctx.attrs['op']!r} (only sum)")
    gathered = all_gather(g)
    return (reshape(gathered, (-1,) + tuple(g.shape[1:])),)


REDUCE_SCATTER = defop(
    "reduce_scatter", forward=lambda xp, x, *, op: default_group().reduce_scatter(x, op), infer=_scatter_infer,
    vjp=_reduce_scatter_vjp, cost=_bytes_cost, onnx=NO_ONNX,
)


def _broadcast_vjp(ctx, g):
    total = all_reduce(g, "sum")
    return (total if default_group().rank == ctx.attrs["src"] else total * 0.0,)


BROADCAST = defop(
    "broadcast", forward=lambda xp, x, *, src: default_group().broadcast(x, src), infer=lambda x, *, src: _same(x),
    vjp=_broadcast_vjp, cost=_bytes_cost, onnx=NO_ONNX,
)

def _all_to_all_forward(xp, x, *, send_counts, recv_counts):
    out, counts = default_group().all_to_all(x, send_counts)
    if recv_counts is not None and tuple(counts.tolist()) != tuple(recv_counts):
        raise ValueError(f"all_to_all: expected rows {list(recv_counts)} from the ranks, got {counts.tolist()}")
    return out


def _all_to_all_infer(x: Spec, *, send_counts, recv_counts) -> Spec:
    if send_counts is None:
        return _same(x)
    if x.shape and x.shape[0] is not None and sum(send_counts) != x.shape[0]:
        raise shape_error("all_to_all", [x], f"send_counts {list(send_counts)} do not sum to the first axis")
    rows = None if recv_counts is None else sum(recv_counts)
    return Spec((rows,) + tuple(x.shape[1:]), x.dtype)


ALL_TO_ALL = defop(
    "all_to_all", forward=_all_to_all_forward, infer=_all_to_all_infer,
    vjp=lambda ctx, g: (all_to_all(g, ctx.attrs["recv_counts"], ctx.attrs["send_counts"]),),
    cost=_bytes_cost, onnx=NO_ONNX,
)


def _tensor(x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"expected an ember Tensor, got {type(x).__name__}")
    return x


def all_reduce(x: Tensor, op: str | ReduceOp = "sum") -> Tensor:
    """The elementwise reduction of ``x`` over all ranks, on every rank (differentiable for sum and avg)."""
    return apply(ALL_REDUCE, (_tensor(x),), {"op": _reduce_op(op).value})


def all_gather(x: Tensor) -> Tensor:
    """Every rank's ``x`` stacked on a new first axis, in rank order (differentiable)."""
    return apply(ALL_GATHER, (_tensor(x),))


def reduce_scatter(x: Tensor, op: str | ReduceOp = "sum") -> Tensor:
    """Reduce ``x`` over ranks and keep this rank's slice of the first axis (differentiable for sum)."""
    return apply(REDUCE_SCATTER, (_tensor(x),), {"op": _reduce_op(op).value})


def broadcast(x: Tensor, src: int = 0) -> Tensor:
    """Rank ``src``'s ``x`` on every rank (differentiable: ``src`` receives the sum of the gradients)."""
    return apply(BROADCAST, (_tensor(x),), {"src": int(src)})


def all_to_all(x: Tensor, send_counts=None, recv_counts=None) -> Tensor:
    """Send rows ``send_counts[r]`` of ``x`` (equal pieces by default) to rank r; the rows received, in rank
    order. ``recv_counts`` (what each rank sends here) makes the exchange differentiable with uneven pieces:
    the gradient travels back the same way."""
    if (send_counts is None) != (recv_counts is None):
        raise ValueError("all_to_all: give both send_counts and recv_counts, or neither")
    if send_counts is not None:
        send_counts, recv_counts = tuple(int(c) for c in send_counts), tuple(int(c) for c in recv_counts)
    return apply(ALL_TO_ALL, (_tensor(x),), {"send_counts": send_counts, "recv_counts": recv_counts})

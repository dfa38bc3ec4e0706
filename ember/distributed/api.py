"""PyTorch's ``torch.distributed`` collectives on Tensors: in place, on the default group (or ``group=``).

Ranks are named as PyTorch names them: ``src`` / ``dst`` are job ranks, ``group_src`` / ``group_dst`` ranks in
``group``. With ``async_op=True`` a call returns a ``Work`` (PyTorch's: ``wait()`` returns True, ``result()`` is the
list of tensors written, ``get_future()`` a ``Future`` of it); ``all_reduce``'s runs while the caller goes on, the
others have finished when they return. On a rank outside ``group`` (``new_group``) a call does nothing and
returns None, with a warning, as PyTorch's.
"""

from __future__ import annotations

from ember.backend.devices import array_module
from ember.distributed.group import ProcessGroup, ReduceOp, Work
from ember.distributed.membership import group_rank, resolve
from ember.tensor import Tensor


def _data(name: str, t) -> object:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected an ember Tensor, got {type(t).__name__}")
    return t.array


def _check_out(name: str, out: Tensor, shape: tuple, dtype) -> None:
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"{name}: output is {out.dtype}{list(out.shape)}, expected {dtype}{list(shape)}")


def _check_list(name: str, what: str, tensors, g: ProcessGroup, like=None) -> list:
    """The arrays of ``tensors``, one per rank of the group, each of ``like``'s shape and dtype (when given)."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != g.size:
        count = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{name}: {what} must be a list of one tensor per rank of the group ({g.size}), got {count}")
    if like is not None:
        for t in tensors:
            _check_out(name, t, like.shape, like.dtype)
    return [_data(name, t) for t in tensors]


def _done(async_op: bool, outputs: list):
    """With ``async_op``, a finished Work whose ``result()`` is ``outputs`` (the tensors the call wrote)."""
    return Work.completed(list(outputs)) if async_op else None


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids=None, timeout=None):
    """Wait until every rank of the group has called ``barrier``; ``timeout`` (seconds or a timedelta) bounds
    this wait instead of the group's."""
    g = resolve(group, "barrier")
    if g is None:
        return None
    if timeout is None:
        g.barrier()
    else:
        from ember.distributed.group import _seconds

        kept, g.timeout = g.timeout, _seconds(timeout, "barrier")
        try:
            g.barrier()
        finally:
            g.timeout = kept
    return _done(async_op, [])


def monitored_barrier(group: ProcessGroup | None = None, timeout=None, wait_all_ranks: bool = False) -> None:
    """``barrier`` that names the ranks that did not arrive within ``timeout`` (every barrier here does: the
    ``DistributedError`` lists them all, so ``wait_all_ranks`` changes nothing)."""
    barrier(group, timeout=timeout)


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks, in place on every rank; with ``async_op`` returns a Work to wait on."""
    data = _data("all_reduce", tensor)
    g = resolve(group, "all_reduce")
    if g is None:
        return None
    work = g.all_reduce(data, op, async_op=True)
    finish = work._finish

    def write_back():
        data[...] = finish()
        return [tensor]

    work._finish = write_back
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, async_op: bool = False,
              group_src: int | None = None):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank (rank 0's when neither rank is given)."""
    data = _data("broadcast", tensor)
    g = resolve(group, "broadcast")
    if g is None:
        return None
    data[...] = g.broadcast(data, group_rank(g, "broadcast", "src", src, group_src))
    return _done(async_op, [tensor])


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM, group: ProcessGroup | None = None,
           async_op: bool = False, group_dst: int | None = None):
    """Reduce ``tensor`` over all ranks into ``tensor`` on rank ``dst`` (rank 0 by default); the other ranks'
    tensors are left as they were."""
    data = _data("reduce", tensor)
    g = resolve(group, "reduce")
    if g is None:
        return None
    result = g.reduce(data, group_rank(g, "reduce", "dst", dst, group_dst), op)
    if result is not None:
        data[...] = result
    return _done(async_op, [tensor])


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None, async_op: bool = False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor``."""
    data = _data("all_gather", tensor)
    g = resolve(group, "all_gather")
    if g is None:
        return None
    outs = _check_list("all_gather", "tensor_list", tensor_list, g, like=data)
    gathered = g.all_gather(data)
    for r, out in enumerate(outs):
        out[...] = gathered[r]
    return _done(async_op, tensor_list)


def all_gather_into_tensor(output: Tensor, input: Tensor, group: ProcessGroup | None = None, async_op: bool = False):
    """Concatenate every rank's ``input`` along the first axis into ``output``."""
    data = _data("all_gather_into_tensor", input)
    g = resolve(group, "all_gather_into_tensor")
    if g is None:
        return None
    shape = (g.size * data.shape[0],) + data.shape[1:] if data.ndim else (g.size,)
    _check_out("all_gather_into_tensor", output, shape, data.dtype)
    output.array[...] = g.all_gather(data).reshape(shape)
    return _done(async_op, [output])


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False, group_dst: int | None = None):
    """Fill rank ``dst``'s ``gather_list[r]`` with rank r's ``tensor`` (rank 0 by default); the other ranks pass
    no list."""
    data = _data("gather", tensor)
    g = resolve(group, "gather")
    if g is None:
        return None
    root = group_rank(g, "gather", "dst", dst, group_dst)
    if g.rank == root:
        outs = _check_list("gather", "gather_list", gather_list, g, like=data)
    elif gather_list:
        raise ValueError(f"gather: only the destination rank passes gather_list; rank {g.ranks[g.rank]} passed "
                         f"{len(gather_list)} tensors")
    gathered = g.gather(data, root)
    if gathered is not None:
        for r, out in enumerate(outs):
            out[...] = gathered[r]
    return _done(async_op, gather_list if g.rank == root else [])


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False, group_src: int | None = None):
    """Copy rank ``src``'s ``scatter_list[r]`` into rank r's ``tensor`` (rank 0 scatters by default); the other
    ranks pass no list."""
    data = _data("scatter", tensor)
    g = resolve(group, "scatter")
    if g is None:
        return None
    root = group_rank(g, "scatter", "src", src, group_src)
    pieces = None
    if g.rank == root:
        pieces = _check_list("scatter", "scatter_list", scatter_list, g, like=data)
        pieces = array_module(pieces[0]).stack(pieces)
    elif scatter_list:
        raise ValueError(f"scatter: only the source rank passes scatter_list; rank {g.ranks[g.rank]} passed "
                         f"{len(scatter_list)} tensors")
    data[...] = g.scatter(pieces, data, root)
    return _done(async_op, [tensor])


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                   async_op: bool = False):
    """Reduce ``input_list[r]`` over the ranks into rank r's ``output``."""
    data = _data("reduce_scatter", output)
    g = resolve(group, "reduce_scatter")
    if g is None:
        return None
    inputs = _check_list("reduce_scatter", "input_list", input_list, g, like=data)
    data[...] = g.reduce_scatter(array_module(data).stack(inputs), op)[0]
    return _done(async_op, [output])


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
                          async_op: bool = False):
    """Reduce ``input`` over ranks; rank r gets the r-th equal slice of its first axis in ``output``."""
    data = _data("reduce_scatter_tensor", input)
    g = resolve(group, "reduce_scatter_tensor")
    if g is None:
        return None
    result = g.reduce_scatter(data, op)
    _check_out("reduce_scatter_tensor", output, result.shape, result.dtype)
    output.array[...] = result
    return _done(async_op, [output])


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes=None, input_split_sizes=None,
                      group: ProcessGroup | None = None, async_op: bool = False):
    """Send rows ``input_split_sizes[r]`` of ``input`` to rank r; receive into ``output`` in rank order."""
    data = _data("all_to_all_single", input)
    g = resolve(group, "all_to_all_single")
    if g is None:
        return None
    received, counts = g.all_to_all(data, input_split_sizes)
    if output_split_sizes is not None and list(output_split_sizes) != counts.tolist():
        raise ValueError(f"all_to_all_single: output_split_sizes {list(output_split_sizes)} differ from the "
                         f"counts the ranks sent, {counts.tolist()}")
    _check_out("all_to_all_single", output, received.shape, received.dtype)
    output.array[...] = received
    return _done(async_op, [output])


def all_to_all(output_tensor_list: list, input_tensor_list: list, group: ProcessGroup | None = None,
               async_op: bool = False):
    """Send ``input_tensor_list[r]`` to rank r; receive rank r's into ``output_tensor_list[r]`` (whose shape and
    dtype must be what r sends)."""
    g = resolve(group, "all_to_all")
    if g is None:
        return None
    inputs = _check_list("all_to_all", "input_tensor_list", input_tensor_list, g)
    outputs = _check_list("all_to_all", "output_tensor_list", output_tensor_list, g)
    dtypes = {a.dtype for a in inputs + outputs}
    if len(dtypes) != 1:
        raise TypeError(f"all_to_all: every input and output tensor must have one dtype, got "
                        f"{sorted(map(str, dtypes))}")
    flat = array_module(inputs[0]).concatenate([a.reshape(-1) for a in inputs])
    received, counts = g.all_to_all(flat, [a.size for a in inputs])
    expected = [a.size for a in outputs]
    if counts.tolist() != expected:
        raise ValueError(f"all_to_all: the ranks sent {counts.tolist()} elements, but output_tensor_list holds "
                         f"{expected} (shapes {[list(a.shape) for a in outputs]})")
    start = 0
    for out, count in zip(outputs, expected):
        out[...] = received[start : start + count].reshape(out.shape)
        start += count
    return _done(async_op, output_tensor_list)


__all__ = ["Work", "all_gather", "all_gather_into_tensor", "all_reduce", "all_to_all", "all_to_all_single",
           "barrier", "broadcast", "gather", "monitored_barrier", "reduce", "reduce_scatter",
           "reduce_scatter_tensor", "scatter"]

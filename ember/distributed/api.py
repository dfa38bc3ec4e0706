"""PyTorch's ``torch.distributed`` calls on Tensors: in place, on the default group (or ``group=``)."""

from __future__ import annotations

from ember.distributed.group import ProcessGroup, ReduceOp, Work, default_group
from ember.tensor import Tensor


def _group(group: ProcessGroup | None) -> ProcessGroup:
    return default_group() if group is None else group


def _data(name: str, t) -> object:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected an ember Tensor, got {type(t).__name__}")
    return t.array


def _check_out(name: str, out: Tensor, shape: tuple, dtype) -> None:
    if tuple(out.shape) != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"{name}: output is {out.dtype}{list(out.shape)}, expected {dtype}{list(shape)}")


def barrier(group: ProcessGroup | None = None) -> None:
    """Wait until every rank has called ``barrier``."""
    _group(group).barrier()


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None, async_op: bool = False):
    """Reduce ``tensor`` over all ranks, in place on every rank; with ``async_op`` returns a Work to wait on."""
    data = _data("all_reduce", tensor)
    work = _group(group).all_reduce(data, op, async_op=True)
    finish = work._finish

    def write_back():
        data[...] = finish()
        return tensor

    work._finish = write_back
    if async_op:
        return work
    work.wait()
    return None


def broadcast(tensor: Tensor, src: int = 0, group: ProcessGroup | None = None) -> None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank."""
    data = _data("broadcast", tensor)
    data[...] = _group(group).broadcast(data, src)


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None) -> None:
    """Fill ``tensor_list[r]`` with rank r's ``tensor``."""
    g = _group(group)
    data = _data("all_gather", tensor)
    if len(tensor_list) != g.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a group of {g.size}")
    gathered = g.all_gather(data)
    for r, out in enumerate(tensor_list):
        _check_out("all_gather", out, data.shape, data.dtype)
        out.array[...] = gathered[r]


def all_gather_into_tensor(output: Tensor, input: Tensor, group: ProcessGroup | None = None) -> None:
    """Concatenate every rank's ``input`` along the first axis into ``output``."""
    g = _group(group)
    data = _data("all_gather_into_tensor", input)
    gathered = g.all_gather(data)
    shape = (g.size * data.shape[0],) + data.shape[1:] if data.ndim else (g.size,)
    _check_out("all_gather_into_tensor", output, shape, data.dtype)
    output.array[...] = gathered.reshape(shape)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None) -> None:
    """Reduce ``input`` over ranks; rank r gets the r-th equal slice of its first axis in ``output``."""
    result = _group(group).reduce_scatter(_data("reduce_scatter_tensor", input), op)
    _check_out("reduce_scatter_tensor", output, result.shape, result.dtype)
    output.array[...] = result


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes=None, input_split_sizes=None,
                      group: ProcessGroup | None = None) -> None:
    """Send rows ``input_split_sizes[r]`` of ``input`` to rank r; receive into ``output`` in rank order."""
    received, counts = _group(group).all_to_all(_data("all_to_all_single", input), input_split_sizes)
    if output_split_sizes is not None and list(output_split_sizes) != counts.tolist():
        raise ValueError(f"all_to_all_single: output_split_sizes {list(output_split_sizes)} differ from the "
                         f"counts the ranks sent, {counts.tolist()}")
    _check_out("all_to_all_single", output, received.shape, received.dtype)
    output.array[...] = received


def send(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` (which calls ``recv``)."""
    _group(group).send(_data("send", tensor), dst, tag)


def recv(tensor: Tensor, src: int, group: ProcessGroup | None = None, tag: int = 0) -> int:
    """Receive into ``tensor`` (its shape and dtype must match what ``src`` sends); returns ``src``."""
    data = _data("recv", tensor)
    data[...] = _group(group).recv(data, src, tag)
    return src


def all_gather_object(object_list: list, obj, group: ProcessGroup | None = None) -> None:
    """Fill ``object_list[r]`` with rank r's picklable ``obj``."""
    g = _group(group)
    if len(object_list) != g.size:
        raise ValueError(f"all_gather_object: object_list has {len(object_list)} slots for a group of {g.size}")
    object_list[:] = g.all_gather_object(obj)


__all__ = ["Work", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all_single",
           "barrier", "broadcast", "recv", "reduce_scatter_tensor", "send"]

"""PyTorch's collectives of picklable Python objects (small ones: configs, counts, manifests). Each object
travels pickled; a rank unpickles only what the call gives it, on the ranks the call gives it to."""

from __future__ import annotations

import pickle

import numpy as np

from ember.distributed.group import ProcessGroup
from ember.distributed.membership import check_not_self, group_rank, resolve


def _check_slots(what: str, name: str, objects, g: ProcessGroup) -> None:
    if not isinstance(objects, list) or len(objects) != g.size:
        count = len(objects) if isinstance(objects, list) else type(objects).__name__
        raise ValueError(f"{what}: {name} must be a list of one slot per rank of the group ({g.size}), got {count}")


def _broadcast_bytes(g: ProcessGroup, payload: bytes | None, root: int) -> bytes:
    """Rank ``root``'s ``payload`` on every rank (the others pass None)."""
    size = np.array([len(payload) if g.rank == root else 0], dtype=np.int64)
    size = g.broadcast(size, root)
    buffer = np.frombuffer(payload, np.uint8).copy() if g.rank == root else np.empty(int(size[0]), np.uint8)
    return g.broadcast(buffer, root).tobytes()


def all_gather_object(object_list: list, obj, group: ProcessGroup | None = None) -> None:
    """Fill ``object_list[r]`` with rank r's picklable ``obj``."""
    g = resolve(group, "all_gather_object")
    if g is None:
        return
    _check_slots("all_gather_object", "object_list", object_list, g)
    object_list[:] = g.all_gather_object(obj)


def broadcast_object_list(object_list: list, src: int | None = None, group: ProcessGroup | None = None,
                          device=None, group_src: int | None = None) -> None:
    """Replace every other rank's ``object_list`` items with copies of rank ``src``'s (rank 0's by default), whose
    list is left as it is; every rank passes a list of the same length."""
    g = resolve(group, "broadcast_object_list")
    if g is None:
        return
    if not isinstance(object_list, list):
        raise TypeError(f"broadcast_object_list: object_list must be a list, got {type(object_list).__name__}")
    root = group_rank(g, "broadcast_object_list", "src", src, group_src)
    payload = pickle.dumps(object_list) if g.rank == root else None
    received = _broadcast_bytes(g, payload, root)
    if g.rank == root:
        return  # the source keeps its own objects, as PyTorch's (not copies: its other references still reach them)
    sent = pickle.loads(received)
    if len(sent) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {g.ranks[root]} sent {len(sent)} objects, this rank's "
                         f"object_list has {len(object_list)} slots")
    object_list[:] = sent


def gather_object(obj, object_gather_list: list | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst: int | None = None) -> None:
    """Fill rank ``dst``'s ``object_gather_list[r]`` with rank r's ``obj`` (rank 0 gathers by default); the other
    ranks pass no list."""
    g = resolve(group, "gather_object")
    if g is None:
        return
    root = group_rank(g, "gather_object", "dst", dst, group_dst)
    if g.rank == root:
        _check_slots("gather_object", "object_gather_list", object_gather_list, g)
    payloads = g.all_gather_object(pickle.dumps(obj))  # pickled twice, so that only rank dst unpickles them
    if g.rank == root:
        object_gather_list[:] = [pickle.loads(p) for p in payloads]


def scatter_object_list(scatter_object_output_list: list, scatter_object_input_list: list | None = None,
                        src: int | None = None, group: ProcessGroup | None = None,
                        group_src: int | None = None) -> None:
    """Set ``scatter_object_output_list[0]`` on rank r to rank ``src``'s ``scatter_object_input_list[r]`` (rank 0
    scatters by default)."""
    g = resolve(group, "scatter_object_list")
    if g is None:
        return
    if not isinstance(scatter_object_output_list, list) or not scatter_object_output_list:
        raise ValueError("scatter_object_list: scatter_object_output_list must be a list of at least one slot")
    root = group_rank(g, "scatter_object_list", "src", src, group_src)
    payload = None
    if g.rank == root:
        _check_slots("scatter_object_list", "scatter_object_input_list", scatter_object_input_list, g)
        payload = pickle.dumps([pickle.dumps(o) for o in scatter_object_input_list])
    scatter_object_output_list[0] = pickle.loads(pickle.loads(_broadcast_bytes(g, payload, root))[g.rank])


def send_object_list(object_list: list, dst: int | None = None, group: ProcessGroup | None = None, device=None,
                     group_dst: int | None = None, use_batch: bool = False) -> None:
    """Send the picklable items of ``object_list`` to rank ``dst``, which calls ``recv_object_list`` with a list
    of as many slots."""
    g = resolve(group, "send_object_list")
    if g is None:
        return
    peer = group_rank(g, "send_object_list", "dst", dst, group_dst, default=None)
    check_not_self(g, "send_object_list", "destination", peer)
    payload = np.frombuffer(pickle.dumps(list(object_list)), np.uint8).copy()
    g.send(np.array([payload.size, len(object_list)], dtype=np.int64), peer)
    g.send(payload, peer)


def recv_object_list(object_list: list, src: int | None = None, group: ProcessGroup | None = None, device=None,
                     group_src: int | None = None, use_batch: bool = False) -> int:
    """Fill ``object_list`` with what rank ``src`` (any rank when neither rank is given) sent with
    ``send_object_list``; returns the sender's job rank."""
    g = resolve(group, "recv_object_list")
    if g is None:
        return -1
    source = None if src is None and group_src is None else group_rank(g, "recv_object_list", "src", src, group_src)
    if source is not None:
        check_not_self(g, "recv_object_list", "source", source)
    header, sender = g.recv(np.empty(2, dtype=np.int64), source)
    size, count = (int(v) for v in header)
    if count != len(object_list):
        raise ValueError(f"recv_object_list: rank {g.ranks[sender]} sent {count} objects, object_list has "
                         f"{len(object_list)} slots")
    payload, _ = g.recv(np.empty(size, dtype=np.uint8), sender)
    object_list[:] = pickle.loads(payload.tobytes())
    return g.ranks[sender]


__all__ = ["all_gather_object", "broadcast_object_list", "gather_object", "recv_object_list",
           "scatter_object_list", "send_object_list"]

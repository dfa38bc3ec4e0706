"""Point-to-point messages between two ranks, with PyTorch's calls: ``send`` / ``recv``, ``isend`` / ``irecv``
and ``batch_isend_irecv`` of ``P2POp``s. Ranks are job ranks (``dst``, ``src``, ``peer``) or, with
``group_dst`` / ``group_src`` / ``group_peer``, ranks in ``group``."""

from __future__ import annotations

from ember.distributed.group import ProcessGroup, Work
from ember.distributed.membership import check_not_self, group_rank, resolve
from ember.tensor import Tensor


def _data(name: str, t) -> object:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected an ember Tensor, got {type(t).__name__}")
    return t.array


def isend(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Start sending ``tensor`` to rank ``dst`` (which receives it with ``recv`` or ``irecv``); ``wait()`` on the
    returned Work before changing ``tensor``."""
    data = _data("isend", tensor)
    g = resolve(group, "isend")
    if g is None:
        return None
    work = g.isend(data, group_rank(g, "isend", "dst", dst, group_dst, default=None), tag)
    finish = work._finish

    def sent():
        finish()
        return [tensor]

    work._finish = sent
    return work


def irecv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Start receiving into ``tensor`` (its shape and dtype must be what the sender sends) from rank ``src``, or
    from any rank when neither rank is given; ``wait()`` on the returned Work fills ``tensor`` (and returns True,
    as PyTorch's); its ``source_rank()`` is the sender's rank in ``group``."""
    data = _data("irecv", tensor)
    g = resolve(group, "irecv")
    if g is None:
        return None
    source = None if src is None and group_src is None else group_rank(g, "irecv", "src", src, group_src)
    work = g.irecv(data, source, tag)
    finish = work._finish

    def write_back():
        data[...] = finish()
        return [tensor]

    work._finish = write_back
    return work


def send(tensor: Tensor, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Send ``tensor`` to rank ``dst`` (which calls ``recv``; not this rank itself, as PyTorch's)."""
    data = _data("send", tensor)
    g = resolve(group, "send")
    if g is None:
        return
    peer = group_rank(g, "send", "dst", dst, group_dst, default=None)
    check_not_self(g, "send", "destination", peer)
    g.send(data, peer, tag)


def recv(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receive into ``tensor`` (its shape and dtype must match what the sender sends) from rank ``src``, or from
    any rank when neither rank is given; returns the sender's job rank (-1 outside ``group``)."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return work._group.ranks[work.source_rank()]


class P2POp:
    """One message of ``batch_isend_irecv``: ``op`` is ``isend`` or ``irecv``, ``peer`` the other job rank."""

    def __init__(self, op, tensor: Tensor, peer: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
                 group_peer: int | None = None):
        if op not in (isend, irecv):
            raise ValueError(f"P2POp: op must be dist.isend or dist.irecv, got {op!r}")
        if peer is None and group_peer is None:
            raise ValueError("P2POp: give peer (a job rank) or group_peer")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer

    def __repr__(self) -> str:
        return f"P2POp({self.op.__name__}, {self.tensor.dtype}{list(self.tensor.shape)}, peer={self.peer})"


def batch_isend_irecv(p2p_op_list: list) -> list:
    """Start every message of ``p2p_op_list`` (``P2POp``s) at once; returns their Works, to ``wait()`` on. Sends
    and receives between two ranks may be listed in any order on either side."""
    if not isinstance(p2p_op_list, (list, tuple)) or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise TypeError("batch_isend_irecv: expected a list of P2POp")
    works = []
    for p in p2p_op_list:
        if p.op is isend:
            work = isend(p.tensor, p.peer, p.group, p.tag, p.group_peer)
        else:
            work = irecv(p.tensor, p.peer, p.group, p.tag, p.group_peer)
        if work is not None:
            works.append(work)
    return works


__all__ = ["P2POp", "batch_isend_irecv", "irecv", "isend", "recv", "send"]

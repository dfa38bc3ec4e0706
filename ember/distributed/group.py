"""The process group: MPI ranks, collectives on arrays, and what happens when a rank fails.

Every collective first exchanges a small signature (call number, kind, dtype, shape) so that ranks calling
different collectives, or the same one on different shapes, get an error naming each rank's shape instead of
a hang or corrupt data. Every wait is bounded by the group's ``timeout``: a rank that arrived raises
``DistributedError`` naming the ranks that did not. After such an error the group is broken: at exit the
process aborts the MPI job, so every rank ends instead of hanging in MPI's finalization.
"""

from __future__ import annotations

import atexit
import datetime
import os
import pickle
import sys
import time
import weakref
from enum import Enum, StrEnum

import numpy as np

from ember.distributed import wire
from ember.distributed.env import World, world_from_env
from ember.distributed.futures import Future

DEFAULT_TIMEOUT = 30.0
_CENSUS_GRACE = 1.0
_MAX_DIMS = 64  # NumPy's and CuPy's limit: every array's shape fits the signature


class DistributedError(RuntimeError):
    """A collective failed across ranks: a rank did not arrive in time, or ranks disagreed on a call."""


class ReduceOp(StrEnum):
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' values (PyTorch's names)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class Backend(str):
    """PyTorch's backend names as lowercase strings: ``Backend.GLOO == "gloo"``; ``Backend("GLOO")`` is the
    name in lowercase (any string, as PyTorch's: ``init_process_group`` refuses the ones it does not run)."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"

    def __new__(cls, name: str) -> str:
        if not isinstance(name, str):
            raise ValueError(f"Backend: the name must be a string, got {type(name).__name__}")
        return name.lower()


_BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
_KINDS = {name: i for i, name in enumerate(
    ("barrier", "broadcast", "all_reduce", "all_gather", "reduce_scatter", "all_to_all", "all_gather_object", "split",
     "reduce", "gather", "scatter"))}


def _reduce_op(op) -> ReduceOp:
    try:
        return ReduceOp(op.value if isinstance(op, Enum) else str(op).lower())
    except ValueError:
        raise ValueError(f"reduce op must be one of {[o.value for o in ReduceOp]}, got {op!r}") from None


def _seconds(timeout, where: str = "init_process_group") -> float:
    """``timeout`` (seconds or a timedelta; None: the job's default) in seconds; ``where`` names the caller."""
    if timeout is None:
        return float(os.environ.get("EMBER_DIST_TIMEOUT", DEFAULT_TIMEOUT))
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if seconds <= 0:
        raise ValueError(f"{where}: timeout must be positive, got {timeout!r}")
    return seconds


class Work:
    """A collective or message in flight, as PyTorch's ``Work``: ``wait()`` finishes it and returns True,
    ``result()`` gives its output tensors, ``get_future()`` a ``Future`` of them (what DDP comm hooks chain)."""

    def __init__(self, group: ProcessGroup, request, what: str, seq: int, finish):
        self._group, self._request, self._what, self._seq, self._finish = group, request, what, seq, finish
        self._result = None
        self._error: BaseException | None = None
        self._done = False
        self._future: Future | None = None
        self._status = None  # an MPI status the request fills in (a receive's sender)
        self._source: int | None = None  # a receive's sender, a rank of the group

    @classmethod
    def completed(cls, result=None) -> Work:
        """A Work already done, whose ``result()`` is ``result`` (collectives that ran before returning)."""
        work = cls(None, None, "", 0, None)
        work._result, work._done = [] if result is None else result, True
        return work

    def is_completed(self) -> bool:
        """True once it has finished, successfully or not (does not block)."""
        if not self._done and self._request.Test(self._status):
            self._complete(None)
        return self._done

    def is_success(self) -> bool:
        """False once it has failed (PyTorch's, deprecated there)."""
        return self._error is None

    def exception(self) -> BaseException | None:
        """The error it failed with, or None."""
        return self._error

    def wait(self, timeout=None) -> bool:
        """Block until it is done, at most ``timeout`` (seconds or a timedelta; the group's timeout when None or
        zero, as PyTorch's default ``timedelta(0)``); True, or raises the error it failed with."""
        seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
        if seconds:
            seconds = _seconds(seconds, "Work.wait")
        if not self._done:
            self._complete(seconds)
        if self._error is not None:
            raise self._error
        return True

    def result(self) -> list:
        """Its output tensors (a list; the tensor received, for a receive), once done."""
        self.wait()
        return self._result

    def source_rank(self) -> int:
        """The rank in the group that sent what a receive got (a receive from any rank, as ``recv`` with no
        ``src``)."""
        if self._what != "recv":
            raise RuntimeError("source_rank: only the Work of a recv or irecv has a source rank; this one is of "
                               f"{self._what or 'a collective'}")
        self.wait()
        return self._source

    def get_future(self) -> Future:
        """A ``Future`` whose value is ``result()``, once done; not for sends and receives (as PyTorch's)."""
        if self._what in ("send", "recv"):
            raise RuntimeError(f"get_future: the Work of a {self._what} has no future (as PyTorch's); use wait()")
        if self._future is None:
            self._future = Future()
            if self._done:
                self._future._settle(self._result, self._error)
            else:
                self._future._advance = self._advance
        return self._future

    def _advance(self, block: bool) -> None:
        if block:
            if not self._done:
                self._complete(None)
        else:
            self.is_completed()

    def _complete(self, seconds: float | None) -> None:
        group = self._group
        kept = group.timeout
        if seconds:
            group.timeout = seconds
        try:
            group._wait(self._request, self._what, self._seq, self._status)
            self._result = self._finish()
        except Exception as exc:  # kept: exception() reports it, wait() and the future raise it
            self._error = exc
        finally:
            group.timeout = kept
        self._done = True
        if self._future is not None and not self._future._done:
            self._future._settle(self._result, self._error)


class ProcessGroup:
    """The ranks of a job and the collectives between them, over an MPI communicator."""

    def __init__(self, comm, world: World, timeout: float, ranks: tuple | None = None):
        self.comm = comm
        self.world = world
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.ranks = tuple(range(self.size)) if ranks is None else tuple(ranks)  # the job rank of each member
        self.timeout = timeout
        self.broken = False
        self._destroyed = False  # by destroy_process_group (it is then broken too)
        self._census = comm.Dup()
        self._seq = 0

    def split(self) -> ProcessGroup:
        """The same ranks on a communicator of their own (a collective call: every rank must make it), so
        traffic there never matches collectives of this group."""
        self._check_usable("split")
        return ProcessGroup(self.comm.Dup(), self.world, self.timeout, self.ranks)

    # --- waiting with a deadline ---
    def _wait(self, request, what: str, seq: int, status=None) -> None:
        if request.Test(status):
            return
        deadline = time.monotonic() + self.timeout
        spins = 0
        while not request.Test(status):
            if time.monotonic() > deadline:
                self._timed_out(what, seq)
            spins += 1
            time.sleep(0 if spins < 200 else 0.0002)

    def _timed_out(self, what: str, seq: int):
        """Find out which ranks reached call ``seq`` (each arrived rank tells the others), then raise."""
        from mpi4py import MPI

        self.broken = True
        tag = seq % 30000
        note = np.array([seq], dtype=np.int64)
        sends = [self._census.Isend(note, dest=r, tag=tag) for r in range(self.size) if r != self.rank]
        heard = {self.rank}
        deadline = time.monotonic() + _CENSUS_GRACE
        status = MPI.Status()
        while time.monotonic() < deadline and len(heard) < self.size:
            if self._census.Iprobe(source=MPI.ANY_SOURCE, tag=tag, status=status):
                got = np.empty(1, dtype=np.int64)
                self._census.Recv(got, source=status.Get_source(), tag=tag)
                if got[0] == seq:
                    heard.add(status.Get_source())
            else:
                time.sleep(0.01)
        del sends  # left in flight: the job is ending
        missing = sorted(set(range(self.size)) - heard)
        raise DistributedError(
            f"{what}: rank {self.rank} waited {self.timeout:g} s (the group's timeout) for call #{seq}; "
            f"rank(s) {missing} did not arrive (dead, hung, or in another collective)"
        )

    # --- agreement before each collective ---
    def _agree(self, kind: str, array: np.ndarray | None, same_shape: bool = True, extra: int = 0) -> int:
        """Check that every rank makes the same call; return its call number."""
        self._check_usable(kind)
        self._seq += 1
        seq = self._seq
        sig = np.zeros(5 + _MAX_DIMS, dtype=np.int64)
        sig[0], sig[1], sig[4] = seq, _KINDS[kind], extra
        if array is not None:
            sig[2], sig[3] = wire.dtype_code(array.dtype), array.ndim
            if array.ndim > _MAX_DIMS:
                raise ValueError(f"{kind}: at most {_MAX_DIMS} dimensions, got {array.ndim}")
            sig[5 : 5 + array.ndim] = array.shape
            if not same_shape and array.ndim:
                sig[5] = -1  # the first axis may differ; the rows' shape may not
        table = np.empty((self.size, sig.size), dtype=np.int64)
        self._wait(self.comm.Iallgather(sig, table), kind, seq)
        if (table != table[0]).any():
            self.broken = True
            raise DistributedError(f"{kind}: ranks disagree on call #{seq}: " + "; ".join(
                _describe_signature(r, row, table) for r, row in enumerate(table)))
        return seq

    def _check_usable(self, what: str) -> None:
        if self.broken:
            self._check_alive(what)
            raise DistributedError(f"{what}: the process group is broken by an earlier failure; end the job")

    def _check_alive(self, what: str) -> None:
        """A ValueError once the group is destroyed (a broken group still answers lookups)."""
        if self._destroyed:
            raise ValueError(f"{what}: the process group was destroyed (destroy_process_group)")

    def _destroy(self) -> None:
        """Free its communicators; its later calls raise."""
        if self._destroyed:
            raise ValueError("destroy_process_group: the process group was already destroyed")
        if not self.broken:
            self.comm.Free()
            self._census.Free()
        self.broken = self._destroyed = True

    # --- collectives on arrays (NumPy or CuPy); results are new arrays ---
    def barrier(self) -> None:
        """Wait until every rank has called ``barrier``."""
        seq = self._agree("barrier", None)
        self._wait(self.comm.Ibarrier(), "barrier", seq)

    def broadcast(self, array, src: int = 0):
        """Rank ``src``'s ``array`` (a new array) on every rank."""
        self._check_rank("broadcast", src)
        host = wire.to_host(array).copy()
        seq = self._agree("broadcast", host, extra=src)
        self._wait(self.comm.Ibcast(wire.movable(host), root=src), "broadcast", seq)
        return wire.like(host, array)

    def all_reduce(self, array, op=ReduceOp.SUM, async_op: bool = False):
        """The elementwise reduction of ``array`` over the ranks (a new array); with ``async_op`` a ``Work``."""
        op = _reduce_op(op)
        host = wire.to_host(array)
        _check_reducible("all_reduce", host, op)
        seq = self._agree("all_reduce", host, extra=list(ReduceOp).index(op))
        return self._iall_reduce(array, host, op, seq, async_op)

    def iall_reduce_unchecked(self, array, op=ReduceOp.SUM) -> Work:
        """``all_reduce`` started without the signature exchange, for callers that checked shapes once
        (data-parallel buckets); still bounded by the timeout."""
        self._check_usable("all_reduce")
        self._seq += 1
        op = _reduce_op(op)
        return self._iall_reduce(array, wire.to_host(array), op, self._seq, True)

    def broadcast_unchecked(self, array: np.ndarray, src: int = 0) -> np.ndarray:
        """``broadcast`` of a host array without the signature exchange, for callers that checked its size on
        every rank once (data-parallel buffers); still bounded by the timeout."""
        self._check_usable("broadcast")
        self._seq += 1
        host = np.ascontiguousarray(array).copy()
        self._wait(self.comm.Ibcast(wire.movable(host), root=src), "broadcast", self._seq)
        return host

    def _iall_reduce(self, array, host, op: ReduceOp, seq: int, async_op: bool):
        send = _reducible(host, op)
        recv = np.empty_like(send)
        request = self.comm.Iallreduce(send, recv, op=_mpi_op(op, host.dtype))
        work = Work(self, request, "all_reduce", seq, lambda: self._reduced(recv, host, op, array))
        return work if async_op else work.result()

    def _reduced(self, out: np.ndarray, host: np.ndarray, op: ReduceOp, original):
        """What MPI reduced (``wire.reducible``'s array) in the original dtype and on its device."""
        if op is ReduceOp.AVG:
            out = out / np.asarray(self.size, dtype=out.dtype)
        if op in _ORDERED and host.dtype.kind not in "iub":  # floats (16-bit ones too) came as order keys
            out = _floats_of_keys(out)
        if host.dtype == np.bool_:
            out = out.view(np.bool_)
        return wire.like(out.astype(host.dtype, copy=False), original)

    def reduce(self, array, dst: int = 0, op=ReduceOp.SUM):
        """The elementwise reduction of ``array`` over the ranks (a new array) on rank ``dst``; None elsewhere."""
        op = _reduce_op(op)
        self._check_rank("reduce", dst)
        host = wire.to_host(array)
        _check_reducible("reduce", host, op)
        seq = self._agree("reduce", host, extra=list(ReduceOp).index(op) * 1024 + dst)
        send = _reducible(host, op)
        recv = np.empty_like(send) if self.rank == dst else None
        self._wait(self.comm.Ireduce(send, recv, op=_mpi_op(op, host.dtype), root=dst), "reduce", seq)
        return self._reduced(recv, host, op, array) if self.rank == dst else None

    def gather(self, array, dst: int = 0):
        """Every rank's array stacked on a new first axis, in rank order, on rank ``dst``; None elsewhere."""
        self._check_rank("gather", dst)
        host = wire.to_host(array)
        moved = wire.movable(host)
        seq = self._agree("gather", host, extra=dst)
        out = np.empty((self.size,) + moved.shape, dtype=moved.dtype) if self.rank == dst else None
        self._wait(self.comm.Igather(moved, out, root=dst), "gather", seq)
        return wire.like(out.view(host.dtype), array) if self.rank == dst else None

    def scatter(self, pieces, like, src: int = 0):
        """Rank ``src``'s ``pieces`` (an array whose first axis has one piece per rank; None on the other ranks)
        split over the ranks: rank r gets piece r, a new array shaped and typed like ``like``."""
        self._check_rank("scatter", src)
        expect = wire.to_host(like)
        seq = self._agree("scatter", expect, extra=src)
        send = None
        if self.rank == src:
            host = wire.to_host(pieces)
            if host.shape != (self.size,) + expect.shape or host.dtype != expect.dtype:
                raise ValueError(f"scatter: rank {src} scatters {host.dtype}{list(host.shape)}, but the ranks "
                                 f"receive {expect.dtype}{list(expect.shape)} each ({self.size} ranks)")
            send = wire.movable(host)
        out = wire.movable(np.empty(expect.shape, dtype=expect.dtype))
        self._wait(self.comm.Iscatter(send, out, root=src), "scatter", seq)
        return wire.like(out.view(expect.dtype), like)

    def all_gather(self, array):
        """Every rank's array stacked on a new first axis, in rank order."""
        host = wire.to_host(array)
        moved = wire.movable(host)
        seq = self._agree("all_gather", host)
        out = np.empty((self.size,) + moved.shape, dtype=moved.dtype)
        self._wait(self.comm.Iallgather(moved, out), "all_gather", seq)
        return wire.like(out.view(host.dtype), array)

    def all_gather_varying(self, array):
        """Every rank's array concatenated along the first axis in rank order, where first axes may differ
        (rows of sparse gradients); returns (the concatenation, the row count of each rank)."""
        host = wire.to_host(array)
        moved = wire.movable(host)
        if moved.ndim == 0:
            raise ValueError("all_gather_varying: needs at least one dimension")
        seq = self._agree("all_gather", moved, same_shape=False)
        counts = np.empty(self.size, dtype=np.int64)
        self._wait(self.comm.Iallgather(np.array([moved.shape[0]], dtype=np.int64), counts), "all_gather", seq)
        row = int(np.prod(moved.shape[1:], dtype=np.int64))
        out = np.empty((int(counts.sum()),) + moved.shape[1:], dtype=moved.dtype)
        self._wait(self.comm.Iallgatherv(moved, [out, (counts * row, None)]), "all_gather", seq)
        return wire.like(out.view(host.dtype), array), counts

    def reduce_scatter(self, array, op=ReduceOp.SUM):
        """Reduce over ranks, then give rank r the r-th of ``size`` equal slices of the first axis."""
        op = _reduce_op(op)
        host = wire.to_host(array)
        _check_reducible("reduce_scatter", host, op)
        if host.ndim == 0 or host.shape[0] % self.size:
            raise ValueError(f"reduce_scatter: the first axis of {host.dtype}{list(host.shape)} must divide into "
                             f"{self.size} equal slices")
        seq = self._agree("reduce_scatter", host, extra=list(ReduceOp).index(op))
        reduced = self._iall_reduce(array, host, op, seq, False)
        n = host.shape[0] // self.size
        return reduced[self.rank * n : (self.rank + 1) * n].copy()

    def all_to_all(self, array, send_counts=None):
        """Split the first axis into pieces (``send_counts`` rows each, equal pieces by default), send piece r
        to rank r; returns (the pieces received, concatenated in rank order, and the row counts received)."""
        host = wire.movable(wire.to_host(array))
        if host.ndim == 0:
            raise ValueError("all_to_all: needs at least one dimension")
        if send_counts is None:
            if host.shape[0] % self.size:
                raise ValueError(f"all_to_all: first axis of {list(host.shape)} does not split into {self.size} "
                                 "equal pieces; pass send_counts")
            send_counts = [host.shape[0] // self.size] * self.size
        send_counts = np.asarray(send_counts, dtype=np.int64)
        if send_counts.shape != (self.size,) or send_counts.min(initial=0) < 0 or send_counts.sum() != host.shape[0]:
            raise ValueError(f"all_to_all: send_counts {send_counts.tolist()} must be {self.size} non-negative "
                             f"counts summing to the first axis, {host.shape[0]}")
        seq = self._agree("all_to_all", host, same_shape=False)
        recv_counts = np.empty(self.size, dtype=np.int64)
        self._wait(self.comm.Ialltoall(send_counts, recv_counts), "all_to_all", seq)
        row = int(np.prod(host.shape[1:], dtype=np.int64))
        out = np.empty((int(recv_counts.sum()),) + host.shape[1:], dtype=host.dtype)
        request = self.comm.Ialltoallv([host, (send_counts * row, None)], [out, (recv_counts * row, None)])
        self._wait(request, "all_to_all", seq)
        original = wire.to_host(array).dtype
        return wire.like(out.view(original), array), recv_counts

    def send(self, array, dst: int, tag: int = 0) -> None:
        """Send ``array`` to rank ``dst`` (which calls ``recv``)."""
        self.isend(array, dst, tag).wait()

    def recv(self, out, src: int | None, tag: int = 0):
        """Receive into a new array shaped like ``out`` (its shape and dtype say what to expect) from rank ``src``
        (any rank when None); returns (the array, the sender's rank)."""
        work = self.irecv(out, src, tag)
        return work.result(), work.source_rank()

    def isend(self, array, dst: int, tag: int = 0) -> Work:
        """Start sending ``array`` to rank ``dst``; the ``Work``'s ``wait`` returns once it has left."""
        self._check_usable("send")
        self._check_rank("send", dst)
        host = wire.movable(wire.to_host(array))
        request = self.comm.Isend(host, dest=dst, tag=tag)
        return Work(self, request, "send", self._seq, lambda host=host: None)  # (host: kept alive)

    def irecv(self, out, src: int | None, tag: int = 0) -> Work:
        """Start receiving what rank ``src`` (any rank when None) sends, into a new array shaped like ``out``;
        the ``Work``'s ``result()`` is the array, its ``source_rank()`` the sender's rank."""
        from mpi4py import MPI

        self._check_usable("recv")
        if src is not None:
            self._check_rank("recv", src)
        host = wire.movable(np.empty(out.shape, dtype=out.dtype))
        status = MPI.Status()
        request = self.comm.Irecv(host, source=MPI.ANY_SOURCE if src is None else src, tag=tag)

        def received():
            # MPI takes a shorter message into a larger buffer silently: the rest would be left uninitialized
            work._source = status.Get_source()
            got = status.Get_count(MPI.BYTE)
            if got != host.nbytes:
                raise ValueError(f"recv: rank {status.Get_source()} sent {got} bytes, but the receiving "
                                 f"{np.dtype(out.dtype).name}{list(out.shape)} holds {host.nbytes}; the receiver's "
                                 "shape and dtype must be the sender's")
            return wire.like(host.view(out.dtype), out)

        work = Work(self, request, "recv", self._seq, received)
        work._status = status
        return work

    def _check_rank(self, what: str, rank: int) -> None:
        if not 0 <= rank < self.size:
            raise ValueError(f"{what}: rank {rank} is outside the group of {self.size}")

    def all_gather_object(self, obj) -> list:
        """Every rank's picklable ``obj``, in rank order (small objects: manifests, counts); bounded by the
        timeout like every collective."""
        payload = np.frombuffer(pickle.dumps(obj), np.uint8).copy()
        gathered, counts = self.all_gather_varying(payload)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return [pickle.loads(gathered[bounds[r] : bounds[r + 1]].tobytes()) for r in range(self.size)]

    def split_by(self, member: bool) -> ProcessGroup | None:
        """The ranks that pass ``member=True``, as a group of their own (None on the others); a collective call,
        bounded by the timeout until every rank has arrived."""
        from mpi4py import MPI

        self._agree("split", None)
        flags = np.empty(self.size, dtype=np.uint8)
        self._wait(self.comm.Iallgather(np.array([member], dtype=np.uint8), flags), "split", self._seq)
        comm = self.comm.Split(0 if member else MPI.UNDEFINED, self.rank)
        if not member:
            return None
        return ProcessGroup(comm, self.world, self.timeout, tuple(r for r, f in zip(self.ranks, flags) if f))


def _check_reducible(what: str, host: np.ndarray, op: ReduceOp) -> None:
    if host.dtype.kind == "c":  # as PyTorch's: complex numbers sum (and average), but have no order or bits
        if op not in (ReduceOp.SUM, ReduceOp.AVG):
            raise TypeError(f"{what}: ReduceOp.{op.name} is not defined on complex arrays ({host.dtype}); only SUM "
                            "and AVG are")
        return
    if host.dtype.kind not in "fiub" and host.dtype.name not in ("bfloat16", "float16"):
        raise TypeError(f"{what}: cannot reduce {host.dtype} arrays")
    if op is ReduceOp.AVG and host.dtype.kind in "iub":
        raise TypeError(f"{what}: ReduceOp.AVG needs a floating-point array, got {host.dtype}")
    if op in _BITWISE and host.dtype.kind not in "iub":
        raise TypeError(f"{what}: ReduceOp.{op.name} needs an integer or bool array, got {host.dtype}")


_ORDERED = (ReduceOp.MAX, ReduceOp.MIN)


def _reducible(host: np.ndarray, op: ReduceOp) -> np.ndarray:
    """The array MPI reduces with ``op``: ``wire.reducible``'s, with floats as order keys for MAX and MIN."""
    send = wire.reducible(host)
    return _float_keys(send, op) if op in _ORDERED and send.dtype.kind == "f" else send


def _float_keys(floats: np.ndarray, op: ReduceOp) -> np.ndarray:
    """Integers in the order of ``floats`` (float32 or float64), a NaN the largest for MAX and the smallest for
    MIN. MPI compares floats with ``<``, which a NaN loses or wins by the ranks' order (ranks even got different
    results); compared as these keys, any rank's NaN gives NaN, as ``torch.maximum`` / ``minimum``."""
    ints = np.int32 if floats.itemsize == 4 else np.int64
    bits = floats.view(ints)
    top = np.iinfo(ints)
    # a negative float's bits count the wrong way: flipping all but the sign makes them count up
    keys = bits ^ ((bits >> (8 * floats.itemsize - 1)) & top.max)
    keys[np.isnan(floats)] = top.max if op is ReduceOp.MAX else top.min
    return keys


def _floats_of_keys(keys: np.ndarray) -> np.ndarray:
    """The floats ``_float_keys`` gave ``keys`` (the flip is its own inverse; a NaN's key is a NaN's bits)."""
    bits = keys ^ ((keys >> (8 * keys.itemsize - 1)) & np.iinfo(keys.dtype).max)
    return bits.view(np.float32 if keys.itemsize == 4 else np.float64)


def _mpi_op(op: ReduceOp, dtype):
    """MPI's operation for ``op`` on arrays of ``dtype``; bools (moved as bytes of 0 and 1) sum as a logical or
    and multiply as a logical and, as PyTorch's do, so that no byte leaves {0, 1} or overflows."""
    from mpi4py import MPI

    if dtype == np.bool_ and op in (ReduceOp.SUM, ReduceOp.PRODUCT):
        return MPI.MAX if op is ReduceOp.SUM else MPI.MIN
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN,
            ReduceOp.PRODUCT: MPI.PROD, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _describe_signature(rank: int, row: np.ndarray, table: np.ndarray) -> str:
    """What ``rank`` called, with the dtype, reduce op or root rank (in the group) where the ranks differ in them."""
    kind = next((k for k, v in _KINDS.items() if v == row[1]), "?")
    dims = ", ".join("?" if d < 0 else str(int(d)) for d in row[5 : 5 + int(row[3])])
    text = f"rank {rank} called {kind} #{int(row[0])} on shape [{dims}]"
    if (table[:, 2] != row[2]).any():
        text += f" of dtype {wire.dtype_name(int(row[2]))}"
    if (table[:, 4] != row[4]).any():
        extra = int(row[4])
        if kind in ("all_reduce", "reduce_scatter"):
            text += f" with op {list(ReduceOp)[extra].value}"
        elif kind in ("broadcast", "scatter"):
            text += f" from src {extra}"
        elif kind == "gather":
            text += f" to dst {extra}"
        elif kind == "reduce":  # extra: the op's number * 1024 + dst
            ops, dsts = np.divmod(table[:, 4], 1024)
            op, dst = divmod(extra, 1024)
            if (ops != op).any():
                text += f" with op {list(ReduceOp)[op].value}"
            if (dsts != dst).any():
                text += f" to dst {dst}"
    return text


# --- the default group ---
_group: ProcessGroup | None = None
_subgroups: weakref.WeakSet = weakref.WeakSet()  # new_group's groups, destroyed with the default group
_exit_registered = False
_crashed = False
_interrupted = False  # the uncaught error was a KeyboardInterrupt


_BACKENDS = (None, "mpi", "gloo", "nccl", "cpu:gloo,cuda:nccl")


def init_process_group(backend: str | None = None, init_method: str | None = None, timeout=None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "", pg_options=None,
                       device_id=None, *, world: World | None = None) -> ProcessGroup:
    """Join the job's process group, with PyTorch's arguments. The processes come from the MPI launcher
    (``ember launch``, ``mpiexec``), and every backend runs over MPI: ``"mpi"`` (the default) and ``"gloo"`` are
    the same CPU collectives; ``"nccl"`` stages GPU arrays through host memory, with a warning. ``init_method``
    may be None or ``"env://"``; ``world_size`` and ``rank``, when given, must be the job's. ``timeout``
    (seconds or a timedelta; default 30 s, or ``EMBER_DIST_TIMEOUT``) bounds every wait in a collective.
    """
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: already initialized; call destroy_process_group() first")
    if backend is not None:
        backend = Backend(backend)
    if backend not in _BACKENDS:
        raise ValueError(f"init_process_group: backend must be one of 'mpi', 'gloo', 'nccl' (or None), "
                         f"got {backend!r}")
    if init_method not in (None, "env://") or store is not None:
        raise ValueError(f"init_process_group: the MPI launcher (ember launch, mpiexec) connects the processes; "
                         f"init_method must be None or 'env://' and store None, got {init_method!r}")
    if backend is not None and "nccl" in backend:
        import warnings

        warnings.warn("init_process_group: Ember's collectives run over MPI; with backend='nccl' GPU arrays are "
                      "staged through host memory", RuntimeWarning, stacklevel=2)
    seconds = _seconds(timeout)
    try:
        import mpi4py
    except ImportError as exc:
        raise RuntimeError("ember.distributed needs mpi4py: pip install -e '.[dist]'") from exc
    global _exit_registered
    if not _exit_registered:
        mpi4py.rc.thread_level = "multiple"
        mpi4py.rc.finalize = False  # finalized at exit by _finalize, or aborted when the group broke
        atexit.register(_finalize)
        previous_hook = sys.excepthook

        def note_crash(*exc_info):
            global _crashed, _interrupted
            _crashed = True
            _interrupted = issubclass(exc_info[0], KeyboardInterrupt)
            previous_hook(*exc_info)

        sys.excepthook = note_crash
        _exit_registered = True
    from mpi4py import MPI  # initializes MPI
    comm = MPI.COMM_WORLD.Dup()
    world = world_from_env() if world is None else world
    world = world._replace(rank=comm.Get_rank(), world_size=comm.Get_size())
    for name, given, actual in (("world_size", world_size, world.world_size), ("rank", rank, world.rank)):
        if given not in (-1, None) and int(given) != actual:
            comm.Free()
            raise ValueError(f"init_process_group: {name}={given}, but the MPI job gives this process "
                             f"{name} {actual}")
    _group = ProcessGroup(comm, world, seconds)
    return _group


def _finalize() -> None:
    from mpi4py import MPI

    if MPI.Is_finalized():
        return
    broken = _group is not None and _group.broken
    if _crashed or broken:
        # an uncaught error here, or a peer dead or hung: end the whole job now; MPI_Finalize would wait for
        # the other ranks, which may be waiting for this one. A Ctrl-C reaches every rank, though: each runs its
        # own KeyboardInterrupt handler (saving a checkpoint, say), and aborting when the first one ends would
        # cut the others short, so the job ends once every rank has come here or after the group's timeout.
        sys.stdout.flush()
        sys.stderr.flush()
        timeout = _group.timeout if _group is not None else _seconds(None)
        if not (_interrupted and not broken and _all_ranks_end(MPI, timeout)):
            MPI.COMM_WORLD.Abort(1)
    MPI.Finalize()


def _all_ranks_end(MPI, seconds: float) -> bool:
    """Whether every rank reaches the end of its program within ``seconds`` (a barrier that gives up)."""
    request = MPI.COMM_WORLD.Ibarrier()
    deadline = time.monotonic() + seconds
    while not request.Test():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class _NonMember:
    """What ``new_group`` returns on a rank outside the group (``GroupMember.NON_GROUP_MEMBER``); collectives given
    it do nothing, with a warning."""

    def __repr__(self) -> str:
        return "GroupMember.NON_GROUP_MEMBER"


NON_GROUP_MEMBER = _NonMember()


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Destroy ``group``, as PyTorch's: a group from ``new_group`` alone (its later calls raise), or, for None or
    the default group, every group (collectives raise until ``init_process_group`` is called again). A rank
    outside the group (``GroupMember.NON_GROUP_MEMBER``) does nothing."""
    global _group
    if group is NON_GROUP_MEMBER:
        return
    if group is not None and group is not _group:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"destroy_process_group: group must be a ProcessGroup from init_process_group or "
                            f"new_group, got {type(group).__name__}")
        group._destroy()
        _subgroups.discard(group)
        return
    for subgroup in list(_subgroups):
        subgroup._destroy()
    _subgroups.clear()
    if _group is not None:
        _group._destroy()
    _group = None


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and not destroyed)."""
    return _group is not None


def is_available() -> bool:
    """Whether distributed training can run here: mpi4py (the ``dist`` extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:
    """Whether ``backend="gloo"`` works: it runs as MPI's CPU collectives."""
    return is_available()


def is_nccl_available() -> bool:
    """False: Ember's collectives run over MPI (``backend="nccl"`` stages GPU arrays through host memory)."""
    return False


def get_backend(group=None) -> str:
    """The backend the group's collectives run on: ``"mpi"``."""
    if group is None:
        default_group()  # the error when there is none
    return "mpi"


def default_group() -> ProcessGroup:
    """The group from ``init_process_group``, or an error saying to call it."""
    if _group is None:
        raise RuntimeError("ember.distributed: call dist.init_process_group() first")
    return _group


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank (0 when no group is initialized, as a one-process job); with ``group``, its rank in
    that group (-1 where it is not a member, a ValueError once it is destroyed, as PyTorch)."""
    if group is not None and group is not _group:
        if not isinstance(group, ProcessGroup):
            return -1
        group._check_alive("get_rank")
        return group.rank
    return _group.rank if _group is not None else world_from_env().rank


_compiled_data_parallel = True


def compiled_data_parallel(enabled: bool | None = None) -> bool:
    """Whether compiled training steps (Session, ``ember.jit``, ``Model(compile=True)``) average their gradients
    over the ranks (the ``data_parallel`` pass). On by default in a multi-rank job without parameter servers;
    ``compiled_data_parallel(False)`` switches it off for steps that run on one rank or average by themselves."""
    global _compiled_data_parallel
    if enabled is not None:
        _compiled_data_parallel = bool(enabled)
    return (_compiled_data_parallel and _group is not None and _group.size > 1
            and _group.world.num_servers == 0)


def get_world_size(group: ProcessGroup | None = None) -> int:
    """How many ranks the job has (the launcher's environment when no group is initialized); with ``group``, how
    many that group has (-1 where this process is not a member, as PyTorch)."""
    if group is not None and group is not _group:
        return group.size if isinstance(group, ProcessGroup) else -1
    return _group.size if _group is not None else world_from_env().world_size


def __getattr__(name: str):
    if name == "WORLD":  # torch.distributed.group.WORLD: the default group, None before init_process_group
        return _group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""A few independent pieces of a compiled step run on the CPU's cores at once.

NumPy's kernels are single-threaded but release the GIL, so pieces that touch disjoint memory (the sparse
updates of different tables, their lookups) run side by side on Python threads. The caller takes part: it and
the helper threads claim the pieces one at a time, so a helper that the OS has not yet scheduled never holds
the step up (the caller runs the unclaimed pieces itself); the call returns when every piece has run.

The number of threads is ``ember.set_num_threads``'s, else the process's thread setting (``OMP_NUM_THREADS``,
which a benchmark or launcher sets for the BLAS too), else the CPUs the process may run on.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable, Sequence

import numpy as np

from ember.backend import blas_threads, onednn, runtime_flags

_helpers: list | None = None  # one queue per helper thread, started on first use
_start_lock = threading.Lock()
_background: list = []  # batches start_pieces handed out that finish_pieces or settle_pieces has not waited for


def num_threads() -> int:
    """Threads a compiled step may use: ``ember.set_num_threads``'s count, else ``OMP_NUM_THREADS`` when set to a
    positive number, else the CPUs the process may run on."""
    return runtime_flags.get_num_threads()


class _Batch:
    """Pieces claimed one at a time by whichever thread asks next."""

    __slots__ = ("pieces", "next", "left", "lock", "done", "error")

    def __init__(self, pieces: Sequence[Callable[[], object]]):
        self.pieces, self.next, self.left = pieces, 0, len(pieces)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        while True:
            with self.lock:
                i = self.next
                if i == len(self.pieces):
                    return
                self.next = i + 1
            try:
                self.pieces[i]()
            except BaseException as exc:  # re-raised by the caller
                if self.error is None:
                    self.error = exc
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.done.set()


def _helper(tasks: queue.SimpleQueue) -> None:
    while True:
        tasks.get().work()


def _started(count: int) -> list:
    global _helpers
    onednn.pause_team()  # OpenMP's threads would spin on the cores the helpers are about to work on
    with _start_lock:
        if _helpers is None or len(_helpers) < count:
            _helpers = _helpers or []
            for _ in range(count - len(_helpers)):
                tasks: queue.SimpleQueue = queue.SimpleQueue()
                threading.Thread(target=_helper, args=(tasks,), name="ember-runtime", daemon=True).start()
                _helpers.append(tasks)
        return _helpers[:count]


def _forget_helpers() -> None:  # a forked child has none of its parent's threads
    global _helpers
    _helpers = None
    _background.clear()


os.register_at_fork(after_in_child=_forget_helpers)


def run_pieces(pieces: Sequence[Callable[[], object]], threads: int | None = None) -> None:
    """Run every piece (a callable without arguments), on up to ``threads`` threads (default ``num_threads()``)
    with the caller among them; re-raises the first exception a piece raised once all have finished."""
    threads = num_threads() if threads is None else threads
    if threads < 2 or len(pieces) < 2:
        for piece in pieces:
            piece()
        return
    batch = _Batch(pieces)
    for tasks in _started(min(threads, len(pieces)) - 1):
        tasks.put(batch)
    batch.work()
    batch.done.wait()
    if batch.error is not None:
        raise batch.error


# The work one core does while a sleeping helper thread wakes up (about 40 us at 100 GFLOP/s).
_WAKING_FLOPS = 4_000_000


class RowsInParts:
    """A BLAS matrix product (``np.dot`` or ``np.matmul``) with the first matrix's rows, and so the result's, in
    ``parts`` contiguous parts computed on the runtime's threads at once, each BLAS call on its own thread
    (``blas_threads.single_threaded``). Each result element is the same BLAS dot product over the inner axis
    as in one call, so the bits are the one call's. With the ``onednn`` extra enabled, a float32 product runs
    whole on oneDNN's sgemm instead (faster; it may round differently from OpenBLAS, but not with the thread
    count): on ``parts`` OpenMP threads while no helper is busy, else on the calling thread alone, and in parts
    only where oneDNN does not take the operands or runs on one thread. Anything but two float matrices of one
    dtype (and a C-contiguous ``out`` of theirs) goes to the product unsplit. ``then(start, stop)``, when given,
    runs after each part on that part's rows (elementwise work on the result's rows), or once over all of them
    after a whole product."""

    __slots__ = ("product", "parts")

    def __init__(self, product: Callable, parts: int):
        self.product, self.parts = product, parts

    def __call__(self, a, b, out=None, then=None):
        if a.__class__ is not np.ndarray or b.__class__ is not np.ndarray or a.ndim != 2 or b.ndim != 2 \
                or a.dtype != b.dtype or a.dtype.char not in "fd" or a.shape[0] < 2 * self.parts \
                or a.shape[1] != b.shape[0] \
                or (out is not None and (out.__class__ is not np.ndarray or out.dtype != a.dtype
                                         or out.shape != (a.shape[0], b.shape[1]) or not out.flags.c_contiguous)):
            out = self.product(a, b) if out is None else self.product(a, b, out=out)
            if then is not None:
                then(0, out.shape[0])
            return out
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), a.dtype)
        product, rows, parts = self.product, a.shape[0], self.parts
        if a.dtype == np.float32 and onednn.enabled():
            # With the helpers idle, OpenMP's threads take the whole product (no Python thread waits on
            # another); with a helper busy elsewhere, this thread takes it whole on one (no parts to hand out,
            # no GIL taken back between them: W5s's weight gradients beside its sparse update, 3% of the step).
            # The same bits either way.
            if onednn.one_thread_product(a, b, out) if helpers_busy() else onednn.team_product(a, b, out, parts):
                if then is not None:
                    then(0, rows)
                return out
        # the caller starts at once, a helper some tens of microseconds later: the caller's part is longer
        lead = min(_WAKING_FLOPS // (2 * a.shape[1] * b.shape[1] or 1), rows // (2 * parts))
        bounds = [0] + [lead + (rows - lead) * k // parts for k in range(1, parts + 1)]
        if a.dtype == np.float32 and onednn.enabled():  # oneDNN's one-thread sgemm: 9-10% faster than OpenBLAS's
            product = functools.partial(_on_onednn, product)
        with blas_threads.single_threaded():
            run_pieces([functools.partial(_rows_part, product, a, b, out, start, stop, then)
                        for start, stop in zip(bounds, bounds[1:])], self.parts)
        return out


def _rows_part(product: Callable, a, b, out, start: int, stop: int, then: Callable | None) -> None:
    """Rows ``start:stop`` of ``out = a @ b``, then ``then(start, stop)`` (work on those rows) when given."""
    product(a[start:stop], b, out=out[start:stop])
    if then is not None:
        then(start, stop)


def _on_onednn(product: Callable, a, b, out):
    """One part of a product on oneDNN's sgemm (``onednn.one_thread_product``), else by ``product``."""
    if not onednn.one_thread_product(a, b, out):
        product(a, b, out=out)


def start_pieces(pieces: Sequence[Callable[[], object]], threads: int | None = None) -> _Batch | None:
    """Hand the pieces to up to ``threads`` - 1 helper threads (default ``num_threads()``) and return at once,
    so the caller can go on with other work that touches none of the pieces' memory; ``finish_pieces`` on the
    result runs the pieces no helper has claimed and waits for the others. With one thread, runs them now and
    returns None."""
    threads = num_threads() if threads is None else threads
    if threads < 2:
        for piece in pieces:
            piece()
        return None
    batch = _Batch(pieces)
    for tasks in _started(min(threads - 1, len(pieces))):
        tasks.put(batch)
    _background.append(batch)
    return batch


def helpers_busy() -> bool:
    """Whether pieces ``start_pieces`` handed out may still be running on the helper threads."""
    return any(not batch.done.is_set() for batch in _background)


def _waited(batch: _Batch) -> None:
    try:
        _background.remove(batch)
    except ValueError:  # waited for twice
        pass


def settle_pieces(*batches: _Batch | None) -> None:
    """Wait for started pieces without raising their errors: a step that fails part-way uses this before it
    raises its own error, so no piece still writes the step's memory after the step has returned."""
    for batch in batches:
        if batch is not None:
            batch.work()
            batch.done.wait()
            _waited(batch)


def finish_pieces(batch: _Batch | None) -> None:
    """Finish what ``start_pieces`` started: run the unclaimed pieces here, wait for the rest, re-raise the first
    exception a piece raised."""
    if batch is None:
        return
    batch.work()
    batch.done.wait()
    _waited(batch)
    if batch.error is not None:
        raise batch.error

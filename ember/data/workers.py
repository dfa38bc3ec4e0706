"""Worker processes for ``DataLoader(num_workers=N)``, as in PyTorch: each worker holds the dataset and
builds whole batches; the main process hands out index batches round-robin and yields the results in
order. Workers ignore Ctrl-C (the main process handles it) and are terminated when the iterator is
dropped, so a stuck dataset never hangs the program."""

from __future__ import annotations

import multiprocessing
import os
import queue
import random
import signal
import time
import traceback
from collections.abc import Mapping

import numpy as np

from ember.data import worker_info
from ember.data.dataset import _rng
from ember.data.worker_info import WorkerInfo
from ember.tensor import Tensor

_POLL_S = 0.1
_JOIN_S = 1.0
_OK, _END, _ERROR = 0, 1, 2


def _worker_loop(loader, worker_id: int, num_workers: int, seed: int, tasks, results) -> None:
    """A worker: answer each task ``(seq, indices)`` with ``(seq, kind, value)`` until it gets None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results.cancel_join_thread()  # exiting never waits for the main process to read
    from ember import random as _random

    _random.manual_seed(seed)
    # as PyTorch: Python's and NumPy's global generators too, else every worker (and every epoch) forks the
    # parent's NumPy state and draws the same "random" augmentations
    random.seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    worker_info.current = WorkerInfo(worker_id, num_workers, seed, loader.dataset)
    batches = None
    try:
        if loader.worker_init_fn is not None:
            loader.worker_init_fn(worker_id)
        if loader._iterable:
            batches = loader._stream_batches(iter(loader.dataset))
    except BaseException as exc:  # reported with the first task
        failure = exc
    else:
        failure = None
    while True:
        task = tasks.get()
        if task is None:
            return
        seq, indices = task
        try:
            if failure is not None:
                raise failure
            batch = loader._fetch(indices) if batches is None else next(batches)
            _refuse_graphs(batch)
            results.put((seq, _OK, batch))
        except StopIteration:
            results.put((seq, _END, None))
        except BaseException as exc:
            results.put((seq, _ERROR, _picklable(exc, worker_id)))


def _refuse_graphs(batch) -> None:
    """Refuse a batch holding a Tensor computed by recorded ops that requires grad, as PyTorch's workers refuse to
    send one: in the main process it would be a leaf that backward cannot take to the worker's tensors."""
    if isinstance(batch, Tensor):
        if batch.requires_grad and batch.node is not None:
            raise RuntimeError("DataLoader worker: the batch holds a Tensor computed by recorded ops "
                               f"({batch.node.op.name}, shape {list(batch.shape)}) that requires grad; autograd does "
                               "not cross process boundaries, so its gradient would not reach the worker's tensors: "
                               "detach() it in the dataset or collate_fn, or load with num_workers=0")
    elif isinstance(batch, Mapping):
        for value in batch.values():
            _refuse_graphs(value)
    elif isinstance(batch, (list, tuple)):
        for value in batch:
            _refuse_graphs(value)


def _picklable(exc: BaseException, worker_id: int):
    text = "".join(traceback.format_exception(exc))
    note = f"raised in DataLoader worker {worker_id} (pid {os.getpid()}):\n{text}"
    try:
        exc.add_note(note)
        multiprocessing.reduction.ForkingPickler.dumps(exc)
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}\n{note}")


class WorkerIterator:
    """Batches from ``loader`` built by ``loader.num_workers`` processes, in order, with up to
    ``depth`` batches per worker requested ahead."""

    def __init__(self, loader, index_batches, depth: int):
        context = loader.multiprocessing_context or multiprocessing.get_context()
        self._index_batches = index_batches  # None for an iterable dataset: the workers read their streams
        self._length = loader.__len__
        self._timeout = loader.timeout
        self._results = context.Queue()
        self._tasks = [context.Queue() for _ in range(loader.num_workers)]
        # as PyTorch: from the loader's generator where it has one, so seeding it alone makes the workers reproducible
        rng = _rng(loader._generator)
        base_seed = int(rng.integers(0, 2**62))
        self._workers = [
            context.Process(target=_worker_loop, args=(loader, i, loader.num_workers, base_seed + i, q, self._results),
                            name=f"ember-data-worker-{i}", daemon=True)
            for i, q in enumerate(self._tasks)
        ]
        self._done = False
        started = []
        try:
            for worker in self._workers:
                worker.start()
                started.append(worker)
        except Exception as exc:  # e.g. a dataset or collate_fn that the start method cannot pickle
            self._workers = started
            self.close()
            raise ValueError(f"DataLoader: could not start worker {len(started)} of num_workers="
                             f"{loader.num_workers} with the {context.get_start_method()!r} start method: {exc} "
                             "(with 'spawn' or 'forkserver', the dataset, collate_fn and worker_init_fn must be "
                             "picklable)") from exc
        self._active = [True] * loader.num_workers
        self._owner: dict[int, int] = {}
        self._buffer: dict[int, tuple] = {}
        self._sent = self._yielded = self._turn = 0
        for _ in range(max(1, depth) * loader.num_workers):
            if not self._send():
                break

    def _send(self) -> bool:
        """Hand the next task to the next active worker; False when there is none to hand out.

        Workers take turns in a fixed cycle that skips those whose stream has ended, as PyTorch's loader hands them
        out, so an iterable dataset's batches come in PyTorch's order when the workers' shares differ in length."""
        if not any(self._active):
            return False
        if self._index_batches is None:
            indices = None
        else:
            indices = next(self._index_batches, None)
            if indices is None:
                return False
        while not self._active[self._turn % len(self._active)]:
            self._turn += 1
        worker = self._turn % len(self._active)
        self._turn += 1
        self._tasks[worker].put((self._sent, indices))
        self._owner[self._sent] = worker
        self._sent += 1
        return True

    def _receive(self, seq: int) -> tuple:
        waited = 0.0
        while seq not in self._buffer:
            try:
                got, kind, value = self._results.get(timeout=_POLL_S)
            except queue.Empty:
                waited += _POLL_S
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    self.close()
                    raise RuntimeError(f"DataLoader worker {dead[0].name} (pid {dead[0].pid}) exited unexpectedly "
                                       f"with code {dead[0].exitcode}") from None
                if self._timeout and waited >= self._timeout:
                    self.close()
                    raise RuntimeError(f"DataLoader: no batch from the workers within timeout={self._timeout}s") \
                        from None
                continue
            self._buffer[got] = (kind, value)
        return self._buffer.pop(seq)

    def __iter__(self) -> WorkerIterator:
        return self

    def __len__(self) -> int:
        """The loader's number of batches, as ``len(iter(loader))`` in PyTorch."""
        return self._length()

    def __next__(self):
        while not self._done:
            if self._yielded == self._sent:
                break
            seq = self._yielded
            kind, value = self._receive(seq)
            self._yielded += 1
            owner = self._owner.pop(seq)
            if kind == _ERROR:  # as PyTorch's loader: the workers go on, and a next() gives the following batch
                self._send()
                try:
                    raise value
                finally:
                    value = None  # its traceback holds this frame: no cycle keeping the iterator (and workers) alive
            if kind == _END:
                self._active[owner] = False
                self._send()  # the ended task's place goes to another worker, as in PyTorch
                continue
            self._send()
            return value
        self.close()
        raise StopIteration

    def close(self) -> None:
        """Stop the workers: ask them to exit, and terminate any that do not within a second (a stuck
        dataset)."""
        if self._done:
            return
        self._done = True
        for q in self._tasks:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + _JOIN_S
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=_JOIN_S)
            if worker.is_alive():
                worker.kill()
                worker.join()
        for q in (*self._tasks, self._results):
            q.cancel_join_thread()
            q.close()

    def __del__(self) -> None:
        if getattr(self, "_workers", None) is not None:
            self.close()


__all__ = ["WorkerIterator"]

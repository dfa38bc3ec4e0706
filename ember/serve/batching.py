"""Dynamic batching: requests that arrive within a short window run as one batch.

A bounded queue holds waiting requests; when it is full a request is refused at once (the server answers
503) instead of waiting without bound. A request still queued past its deadline is dropped (504). One
batch runs at a time, in a worker thread, on the model version current when the batch starts. ``stop()`` fails the
requests not yet answered (``Stopped``) rather than leave their callers waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import numpy as np

from ember.serve.versions import batch_rows, concat_rows


class Overloaded(Exception):
    """The queue is full."""


class DeadlineExceeded(Exception):
    """The request waited longer than its deadline."""


class Stopped(Exception):
    """The batcher was stopped (or not started) before the request was answered."""


class _Request:
    __slots__ = ("instances", "future", "deadline")

    def __init__(self, instances: np.ndarray, future: asyncio.Future, deadline: float):
        self.instances, self.future, self.deadline = instances, future, deadline


class Batcher:
    """Collects requests into batches of at most ``max_batch_size`` instances, waiting at most
    ``batch_timeout`` seconds after the first one; ``max_batch_size=1`` turns batching off (each request
    runs alone). ``run(batch) -> (outputs, version)`` is called in a thread; ``outputs`` is an array, or a dict of
    arrays (a model's several outputs), whose first axis is the batch."""

    def __init__(self, run: Callable, max_batch_size: int = 64, batch_timeout: float = 0.002,
                 max_queue: int = 256, deadline: float = 1.0, on_batch: Callable | None = None):
        if max_batch_size < 1 or max_queue < 1 or batch_timeout < 0 or deadline <= 0:
            raise ValueError("Batcher: max_batch_size and max_queue must be >= 1, batch_timeout >= 0, deadline > 0")
        self.run, self.max_batch_size, self.batch_timeout = run, max_batch_size, batch_timeout
        self.max_queue, self.deadline, self.on_batch = max_queue, deadline, on_batch
        self.queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._waiting: set = set()  # the futures of requests not yet answered, for stop() to fail

    def depth(self) -> int:
        return self.queue.qsize() if self.queue is not None else 0

    async def start(self) -> None:
        self.queue = asyncio.Queue(self.max_queue)
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop batching; the requests queued, or in the batch being collected or run, fail with ``Stopped``."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for future in list(self._waiting):
            if not future.done():
                future.set_exception(Stopped("the server stopped before this request ran"))
        self._waiting.clear()
        if self.queue is not None:
            while not self.queue.empty():
                self.queue.get_nowait()

    async def submit(self, instances: np.ndarray | dict):
        """Run ``instances`` (a batch of one request: an array, or a dict of arrays by input name) and return
        (outputs, version)."""
        if self._task is None:
            raise Stopped("the batcher is not running (start() it first; stop() ends it)")
        future = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait(_Request(instances, future, time.monotonic() + self.deadline))
        except asyncio.QueueFull:
            raise Overloaded(f"the queue holds {self.max_queue} requests; retry later") from None
        self._waiting.add(future)
        future.add_done_callback(self._waiting.discard)
        return await future

    async def _loop(self) -> None:
        carry = None  # a request too big for the last batch starts the next one
        while True:
            first = carry if carry is not None else await self.queue.get()
            carry = None
            batch, size = [first], batch_rows(first.instances)
            if self.max_batch_size > 1:
                window_end = time.monotonic() + self.batch_timeout
                while size < self.max_batch_size:
                    left = window_end - time.monotonic()
                    try:
                        nxt = self.queue.get_nowait() if left <= 0 else await asyncio.wait_for(self.queue.get(), left)
                    except (TimeoutError, asyncio.QueueEmpty):
                        break
                    if size + batch_rows(nxt.instances) > self.max_batch_size:
                        carry = nxt
                        break
                    batch.append(nxt)
                    size += batch_rows(nxt.instances)
            await self._run(batch)

    async def _run(self, batch: list) -> None:
        now = time.monotonic()
        live = []
        for r in batch:
            if r.future.done():
                continue
            if now > r.deadline:
                r.future.set_exception(DeadlineExceeded(f"waited over the {self.deadline:g} s deadline"))
            else:
                live.append(r)
        if not live:
            return
        loop = asyncio.get_running_loop()
        try:
            outputs, version = await loop.run_in_executor(None, self.run, concat_rows([r.instances for r in live]))
        except Exception:
            if len(live) == 1:
                if not live[0].future.done():  # its caller may have given up while it ran
                    live[0].future.set_exception(_current_error())
                return
            for r in live:  # one request's bad values must not fail the others: run each alone
                await self._run([r])
            return
        total = sum(batch_rows(r.instances) for r in live)
        shapes = [np.shape(o) for o in (outputs.values() if isinstance(outputs, dict) else [outputs])]
        if not all(shape[:1] == (total,) for shape in shapes):  # no rows to hand back: fail these, keep the loop
            for r in live:
                if not r.future.done():
                    r.future.set_exception(ValueError(f"the model's output of shape {list(shapes[0])} has "
                                                      f"no first axis of the batch's {total} instances"))
            return
        if self.on_batch is not None:
            self.on_batch(total)
        start = 0
        for r in live:
            stop = start + batch_rows(r.instances)
            if not r.future.done():
                rows = ({name: o[start:stop] for name, o in outputs.items()} if isinstance(outputs, dict)
                        else outputs[start:stop])
                r.future.set_result((rows, version))
            start = stop


def _current_error() -> BaseException:
    import sys

    return sys.exc_info()[1]

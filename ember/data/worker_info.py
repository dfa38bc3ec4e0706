"""``get_worker_info()``: which DataLoader worker process the code runs in (kept apart from the worker
machinery so that importing ember.data does not import multiprocessing)."""

from __future__ import annotations

from typing import NamedTuple


class WorkerInfo(NamedTuple):
    """What ``get_worker_info()`` returns inside a worker process: its ``id`` (0 .. ``num_workers`` - 1),
    ``num_workers``, the ``seed`` of Ember's generator in it, and its copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: object


current: WorkerInfo | None = None  # set in each worker process when it starts


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker process, its ``WorkerInfo``; None in the main process. An iterable
    dataset uses it to give each worker its own share of the stream.

    >>> info = get_worker_info()
    >>> rows = range(info.id, n, info.num_workers) if info else range(n)
    """
    return current

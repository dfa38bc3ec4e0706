"""``tf.train.Coordinator`` and ``tf.train.start_queue_runners``: TF-1's thread coordination, for scripts that
run their own threads (or none) around a Session. Ember has no queue runners (input goes through feed_dict or
``tf.data``), so ``start_queue_runners`` starts nothing, as TF-1 does for a graph without any."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from ember.compat.tf._core import get_default_graph
from ember.compat.tf.errors import OutOfRangeError

__all__ = ["Coordinator", "start_queue_runners"]


class Coordinator:
    """Lets threads ask each other to stop: ``request_stop`` (optionally with the exception that caused it),
    ``should_stop``, ``wait_for_stop`` and ``join``, which waits for the threads and then re-raises the first
    exception reported. Exceptions of ``clean_stop_exception_types`` (``tf.errors.OutOfRangeError`` by default:
    the end of the input) stop the threads without being re-raised."""

    def __init__(self, clean_stop_exception_types=None):
        self._clean_stop_exception_types = (OutOfRangeError,) if clean_stop_exception_types is None else tuple(
            clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info_to_raise = None
        self._joined = False
        self._registered_threads: set = set()

    def _exc_info(self, ex) -> tuple | None:
        """``ex`` (an exception or a ``sys.exc_info()`` triple) as an exc_info triple, None for a clean stop."""
        if ex is None:
            return None
        if isinstance(ex, tuple):
            if len(ex) != 3 or not (ex[1] is None or isinstance(ex[1], BaseException)):
                raise ValueError(f"Coordinator.request_stop: ex must be an exception or a sys.exc_info() triple, "
                                 f"got {ex!r}")
            info = ex
        elif isinstance(ex, BaseException):
            info = (type(ex), ex, ex.__traceback__)
        else:
            raise TypeError(f"Coordinator.request_stop: ex must be an exception or a sys.exc_info() triple, got "
                            f"{type(ex).__name__}")
        if info[1] is None or isinstance(info[1], self._clean_stop_exception_types):
            return None
        return info

    def request_stop(self, ex=None) -> None:
        """Ask the threads to stop. ``ex`` (an exception, or ``sys.exc_info()``) is kept for ``join`` to
        re-raise, the first one only; after ``join`` returned, a new ``ex`` is raised at once (as TF-1: nobody
        would see it otherwise)."""
        with self._lock:
            info = self._exc_info(ex)
            if self._joined and info is not None:
                raise info[1].with_traceback(info[2])
            if not self._stop_event.is_set():
                if info is not None and self._exc_info_to_raise is None:
                    self._exc_info_to_raise = info
                self._stop_event.set()

    def clear_stop(self) -> None:
        """Forget a stop request and its exception, so the threads may run again."""
        with self._lock:
            self._joined = False
            self._exc_info_to_raise = None
            self._stop_event.clear()

    def should_stop(self) -> bool:
        """Whether a stop was requested."""
        return self._stop_event.is_set()

    @contextlib.contextmanager
    def stop_on_exception(self):
        """A block whose exception is reported with ``request_stop`` instead of propagating."""
        try:
            yield
        except Exception:  # noqa: BLE001  (reported to the coordinator, which join re-raises)
            self.request_stop(ex=sys.exc_info())

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (forever for None) for a stop request; whether one came."""
        return self._stop_event.wait(timeout)

    def register_thread(self, thread: threading.Thread) -> None:
        """Have ``join`` wait for ``thread`` too."""
        with self._lock:
            self._registered_threads.add(thread)

    def join(self, threads=None, stop_grace_period_secs: float = 120, ignore_live_threads: bool = False) -> None:
        """Wait until the threads (``threads`` and the registered ones) have ended or a stop was requested; after
        a stop request, give them ``stop_grace_period_secs`` to end. Threads still running then are a
        RuntimeError (a warning with ``ignore_live_threads``). Then re-raise the exception given to
        ``request_stop``, if any."""
        with self._lock:
            threads = list(self._registered_threads.union(threads or ()))
        while any(t.is_alive() for t in threads) and not self.wait_for_stop(1.0):
            pass
        deadline = time.monotonic() + stop_grace_period_secs
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in threads if t.is_alive()]
        with self._lock:
            self._joined = True
            self._registered_threads = set()
            if alive:
                if not ignore_live_threads:
                    raise RuntimeError(f"Coordinator stopped with threads still running: {' '.join(alive)}")
                sys.stderr.write(f"Coordinator stopped with threads still running: {' '.join(alive)}\n")
            if self._exc_info_to_raise is not None:
                info = self._exc_info_to_raise
                raise info[1].with_traceback(info[2])

    @property
    def joined(self) -> bool:
        return self._joined

    def raise_requested_exception(self) -> None:
        """Raise the exception given to ``request_stop``, if any."""
        with self._lock:
            if self._exc_info_to_raise is not None:
                info = self._exc_info_to_raise
                raise info[1].with_traceback(info[2])


def start_queue_runners(sess=None, coord: Coordinator | None = None, daemon: bool = True, start: bool = True,
                        collection: str = "queue_runners") -> list:
    """The threads of the queue runners in ``collection``: none, so ``[]``, as TF-1 gives for a graph without
    queue runners (Ember has none: its input goes through feed_dict or ``tf.data``). Without ``sess`` the
    default Session is needed, as in TF-1."""
    from ember.compat.tf.session import get_default_session

    if sess is None and get_default_session() is None:
        raise ValueError("tf.train.start_queue_runners: no default session is registered; use `with sess."
                         "as_default()` or pass the session as sess=")
    if coord is not None and not isinstance(coord, Coordinator):
        raise TypeError(f"tf.train.start_queue_runners: coord must be a tf.train.Coordinator, got "
                        f"{type(coord).__name__}")
    runners = get_default_graph().collections.get(collection, [])
    if runners:
        raise ValueError(f"tf.train.start_queue_runners: the collection {collection!r} holds {len(runners)} "
                         "items, and Ember has no queue runners to start; feed the input with feed_dict or tf.data")
    return []

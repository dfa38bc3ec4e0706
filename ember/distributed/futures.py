"""``torch.futures.Future``: a value that arrives later, the one ``Work.get_future()`` returns (what DDP comm hooks
pass on). Collectives here complete when a caller waits (or polls ``done()``), so a callback given to ``then``
runs when the future is first waited on, polled done, or set, whichever comes first."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

_log = logging.getLogger(__name__)


class Future:
    """A result set once, by ``set_result`` / ``set_exception`` or by the collective it stands for."""

    def __init__(self, *, devices=None):
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._callbacks: list = []
        self._advance: Callable[[bool], None] | None = None  # moves the source on: blocking (True) or polling

    def done(self) -> bool:
        """Whether the value (or an error) is set; does not block."""
        if not self._done and self._advance is not None:
            self._advance(False)
        return self._done

    def wait(self):
        """The value, once set; raises the error when it failed."""
        if not self._done and self._advance is not None:
            self._advance(True)
        if not self._done:
            raise RuntimeError("Future.wait: no result has been set on this Future (set_result sets one)")
        if self._error is not None:
            raise self._error
        return self._value

    def value(self):
        """The value of a completed future (after ``wait``, or inside a callback); raises its error if it failed."""
        if not self.done():
            raise RuntimeError("Future.value: the future has not completed yet; call wait() first")
        if self._error is not None:
            raise self._error
        return self._value

    def set_result(self, result) -> None:
        """Complete the future with ``result`` and run its callbacks."""
        self._settle(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete the future with an error, which ``wait`` and ``value`` raise."""
        if not isinstance(result, BaseException):
            raise TypeError(f"Future.set_exception: expected an exception, got {type(result).__name__}")
        self._settle(None, result)

    def then(self, callback: Callable[[Future], Any]) -> Future:
        """A new Future of ``callback(self)``, run once this one completes; an error ``callback`` raises becomes
        that Future's (a RuntimeError naming it, as PyTorch's)."""
        child = Future()
        child._advance = self._advance_from_child

        def run(parent: Future) -> None:
            try:
                result = callback(parent)
            except Exception as exc:
                error = RuntimeError(f"Got the following error when running the callback: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                child._settle(None, error)
            else:
                child._settle(result, None)

        self.add_done_callback(run)
        return child

    def add_done_callback(self, callback: Callable[[Future], None]) -> None:
        """Run ``callback(self)`` once this future completes (now, if it has). An error the callback raises is
        logged and goes no further (the other callbacks still run), as PyTorch's."""
        if self._done:
            _run_callback(callback, self)
        else:
            self._callbacks.append(callback)

    def _advance_from_child(self, block: bool) -> None:
        if block:
            try:
                self.wait()
            except Exception:
                pass  # the error is this future's, and reaches the child through its callback
        else:
            self.done()

    def _settle(self, value, error: BaseException | None) -> None:
        if self._done:
            raise RuntimeError("Future can only be marked completed once (set_result / set_exception)")
        self._value, self._error, self._done = value, error, True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _run_callback(callback, self)


def _run_callback(callback: Callable[[Future], None], future: Future) -> None:
    try:
        callback(future)
    except Exception as exc:  # as torch's add_done_callback: logged, not raised from set_result or wait
        _log.error("Got the following error when running the callback: %s: %s", type(exc).__name__, exc,
                   exc_info=exc)


__all__ = ["Future"]

"""Grad mode: whether ops called now are recorded for backward, per thread (``no_grad``, ``enable_grad``,
``set_grad_enabled``). The lowest part of the tape: ``Tensor`` and its in-place methods read it, ``autograd``
records by it."""

from __future__ import annotations

import threading


class ThreadMode(threading.local):
    """Per-thread switches: whether ops are recorded for backward, and the graph being built, if any (a
    data-loading thread under no_grad leaves the training thread recording; a thread tracing ``ember.jit``
    leaves the others eager)."""

    grad_enabled = True
    builder = None  # the Graph being built (autograd.set_graph_builder): autograd.apply appends nodes to it


thread_mode = ThreadMode()


def is_grad_enabled() -> bool:
    """Whether ops called now (in this thread) are recorded for backward."""
    return thread_mode.grad_enabled


class GradMode:
    """Context manager and decorator that sets whether ops are recorded (in the calling thread)."""

    __slots__ = ("mode", "prev")

    def __init__(self, mode: bool):
        self.mode = mode
        self.prev = None

    def __enter__(self):
        if self.prev is None:  # set_grad_enabled already switched and saved the previous mode
            self.prev = thread_mode.grad_enabled
        thread_mode.grad_enabled = self.mode

    def __exit__(self, *exc):
        thread_mode.grad_enabled = self.prev
        self.prev = None

    def __call__(self, fn):
        mode = self.mode

        def wrapper(*args, **kwargs):
            with GradMode(mode):
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


def no_grad() -> GradMode:
    """Stop recording ops: ``with ember.no_grad(): y = model(x)`` (also a decorator)."""
    return GradMode(False)


def enable_grad() -> GradMode:
    """Record ops again inside a ``no_grad`` block (also a decorator)."""
    return GradMode(True)


def set_grad_enabled(mode: bool) -> GradMode:
    """Set recording on or off; usable as a context manager or a plain call."""
    guard = GradMode(mode)
    guard.prev = thread_mode.grad_enabled
    thread_mode.grad_enabled = mode
    return guard

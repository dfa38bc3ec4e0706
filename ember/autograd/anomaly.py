"""Anomaly detection (``torch.autograd.detect_anomaly``): while it is on, a backward raises as soon as an op's
backward computes a gradient holding NaN, naming the op, the input, the op's input shapes and dtypes and, for an op
recorded while it was on, the line of the user's code that called it.

It costs nothing while off. Turning it on swaps the tape's node order (``tape.set_order_hook``) for one that wraps
each node's op record in ``_Checked``, whose vjp and array rule check what they return, and puts ``_recording_apply``
under ``dispatch.apply`` (below ``ember.autocast``'s, when a region is open), which wraps the op record of each node
it records, with the caller's line; turning it off swaps both back.

>>> with ember.autograd.detect_anomaly():
...     loss = model(x).sum(); loss.backward()
"""

from __future__ import annotations

import functools
import os
import sys

from ember.autograd import tape
from ember.backend.devices import array_module
from ember.ops import autocast, dispatch
from ember.sparse import RowSparse

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_anomaly_enabled",
           "set_detect_anomaly"]

_enabled = False
_check_nan = True
_below = None  # the apply _recording_apply hands calls to while installed
_EMBER = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (``torch.is_anomaly_enabled``)."""
    return _enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection, while on, checks gradients for NaN (``torch.is_anomaly_check_nan_enabled``; as
    PyTorch's, it reads the setting whether or not detection is on)."""
    return _check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off for the process (``torch.set_anomaly_enabled``)."""
    global _enabled, _check_nan
    with autocast._lock:  # (autocast swaps dispatch.apply under it too)
        _enabled, _check_nan = bool(enabled), bool(check_nan)
        on = _enabled and _check_nan
        tape.set_order_hook(_checked_order if on else None)
        _install_recording(on)


def _install_recording(on: bool) -> None:
    """Put ``_recording_apply`` right above the tape's apply, or take it out (wherever autocast left it)."""
    global _below
    region_open = dispatch.apply is autocast.autocast_apply  # autocast hands calls to its saved apply
    top = autocast._tape_apply if region_open else dispatch.apply
    if on and top is not _recording_apply:
        _below, top = top, _recording_apply
    elif not on and top is _recording_apply:
        top = _below
    else:  # already in place, or out of reach under another wrapper (it then only passes calls on)
        return
    if region_open:
        autocast._tape_apply = top
    else:
        dispatch.apply = top


def _caller() -> str:
    """``file:line in function`` of the innermost frame outside Ember: where the user called the op."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_EMBER):
        frame = frame.f_back
    if frame is None:
        return "Ember's own code"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _recording_apply(op, inputs, attrs=None):
    """The tape's apply, then the recorded node's op record wrapped with the caller's line."""
    out = _below(op, inputs, attrs)
    node = getattr(out, "node", None)
    if node.__class__ is tape.Node and node.op is op and _enabled:
        node.op = _Checked(op, node, _caller())
    return out


class detect_anomaly:  # noqa: N801  (PyTorch's name)
    """Context manager and decorator: anomaly detection on inside, as it was after (``torch.autograd.detect_anomaly``).

    >>> with ember.autograd.detect_anomaly():
    ...     (ember.tensor([0.0], requires_grad=True).sqrt() * 0).sum().backward()
    Traceback (most recent call last):
    RuntimeError: backward: the gradient sqrt's backward computed for its input 0 (float32[1]) holds NaN ...
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        self.prev = []

    def __enter__(self):
        self.prev.append((_enabled, _check_nan))
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc):
        set_anomaly_enabled(*self.prev.pop())

    def __call__(self, fn):
        check_nan = self.check_nan

        def wrapper(*args, **kwargs):
            with detect_anomaly(check_nan):
                return fn(*args, **kwargs)

        return functools.wraps(fn)(wrapper)


class set_detect_anomaly:  # noqa: N801  (PyTorch's name)
    """Set anomaly detection on or off now; as a context manager, restore it on exit
    (``torch.autograd.set_detect_anomaly``)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (_enabled, _check_nan)
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        set_anomaly_enabled(*self.prev)


def _checked_order(roots, floor: int = -1) -> list:
    """The plain backward order, each node's op record wrapped in ``_Checked`` (once)."""
    order = tape._plain_order(roots, floor)
    for node in order:
        if node.op.__class__ is not _Checked:
            node.op = _Checked(node.op, node)
    return order


def _nan_in(grad) -> bool:
    if grad is None:
        return False
    if grad.__class__ is RowSparse:
        grad = grad.values
    data = getattr(grad, "array", grad)  # a Tensor's array, or the array itself
    if getattr(data, "dtype", None) is None or data.dtype.kind not in "fV":
        return False
    xp = array_module(data)
    return bool(xp.isnan(data.astype("float32") if data.dtype.kind == "V" else data).any())


class _Checked:
    """An op record whose vjp and array rule check the gradients they return for NaN; anything else is the op's."""

    def __init__(self, op, node, where: str | None = None):
        self._op = op
        self._where = where
        self._shapes = ", ".join(f"{t.dtype}{list(t.shape)}" for t in node.inputs)
        vjp, rule = op.vjp, op.rule
        self.vjp = lambda ctx, *grads: self._check(vjp(ctx, *grads))
        self.rule = None if rule is None else (lambda run, ctx, *grads: self._check(rule(run, ctx, *grads)))

    def __getattr__(self, name):
        return getattr(self._op, name)

    def _check(self, grads):
        if _enabled and _check_nan:
            for i, g in enumerate(grads):
                if _nan_in(g):
                    data = getattr(g, "array", getattr(g, "values", g))
                    where = f", called at {self._where}" if self._where else ""
                    raise RuntimeError(
                        f"backward: the gradient {self._op.name}'s backward computed for its input {i} "
                        f"({data.dtype}{list(data.shape)}) holds NaN values; the forward {self._op.name} took "
                        f"({self._shapes}){where} (ember.autograd.detect_anomaly is on)")
        return grads

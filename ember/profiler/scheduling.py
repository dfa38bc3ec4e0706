"""PyTorch's profiler vocabulary around ``profile``: activities, the step schedule (wait, warmup, active cycles),
labelled ranges (``record_function``) and the TensorBoard trace handler.

>>> with profile(schedule=schedule(wait=1, warmup=1, active=2), on_trace_ready=tensorboard_trace_handler("log")) as p:
...     for batch in loader:
...         with record_function("train_step"):
...             step(batch)
...         p.step()
"""

from __future__ import annotations

import enum
import functools
import os
import socket
import time
from collections.abc import Callable

from ember import autograd
from ember.profiler import recorder

__all__ = ["ProfilerAction", "ProfilerActivity", "record_function", "schedule", "tensorboard_trace_handler"]


class ProfilerActivity(enum.Enum):
    """What a profile records: Ember times every op on the host, whatever device it runs on, so CPU and CUDA
    give the same events."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What a scheduled profile does during a step."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """The action of each step: ``skip_first`` steps off, then cycles of ``wait`` steps off, ``warmup`` steps
    recorded and thrown away and ``active`` steps recorded, the last of which hands the trace to
    ``on_trace_ready``; ``repeat`` cycles (0: for ever). ``skip_first_wait`` skips the first cycle's wait."""
    for name, value in (("wait", wait), ("warmup", warmup), ("active", active), ("repeat", repeat),
                        ("skip_first", skip_first), ("skip_first_wait", skip_first_wait)):
        if value < 0:
            raise ValueError(f"schedule: {name} must be at least 0, got {value}")
    if active < 1:
        raise ValueError(f"schedule: active must be at least 1, got {active}")

    def action(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return action


class record_function:  # noqa: N801  (PyTorch's name)
    """A labelled range: ``with record_function("data")`` (or as a decorator) adds one event spanning the block
    to every profile recording now; the table shows its self time (the block less the ops inside). A block traced
    into a graph (``ember.jit``'s first call, TF-1 graph building) adds none: its time would be the tracing's, and
    the compiled run's ops are recorded without it."""

    def __init__(self, name: str, args: str | None = None):
        self.name = name
        self.args = args
        self._start = None

    def __enter__(self) -> record_function:
        self._start = time.perf_counter_ns() if recorder.recording() and not autograd.building() else None
        return self

    def __exit__(self, *exc) -> None:
        if self._start is not None:
            recorder.record_range(self.name, self._start, time.perf_counter_ns())
            self._start = None

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)

        return wrapper


def tensorboard_trace_handler(dir_name: str | os.PathLike, worker_name: str | None = None,
                              use_gzip: bool = False) -> Callable:
    """An ``on_trace_ready`` that writes each trace to ``dir_name`` as
    ``<worker_name>.<time in ns>.pt.trace.json[.gz]`` (TensorBoard's profiler plugin and Perfetto read it);
    ``worker_name`` defaults to ``<host>_<pid>``."""
    directory = os.fspath(dir_name)

    def handler(prof) -> None:
        os.makedirs(directory, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(directory, name))

    return handler

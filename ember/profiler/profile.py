"""``profile``: the context manager that records, and its reports (a table per op, a Chrome trace)."""

from __future__ import annotations

import json
import os
from typing import NamedTuple

from ember.profiler import recorder


class OpStats(NamedTuple):
    """Totals of one op name over the recorded calls."""

    name: str
    calls: int
    time_ns: int
    flops: int
    bytes: int
    out_bytes: int

    @property
    def avg_ns(self) -> float:
        return self.time_ns / self.calls if self.calls else 0.0


SORT_KEYS = {
    "time": lambda s: s.time_ns, "self_cpu_time_total": lambda s: s.time_ns, "cpu_time_total": lambda s: s.time_ns,
    "calls": lambda s: s.calls, "count": lambda s: s.calls, "flops": lambda s: s.flops,
    "bytes": lambda s: s.bytes, "memory": lambda s: s.out_bytes, "cpu_memory_usage": lambda s: s.out_bytes,
    "name": lambda s: s.name,
}


class profile:  # noqa: N801  (PyTorch's name: ``with torch.profiler.profile() as prof``)
    """Record per-op calls, time, FLOPs and bytes (from the op records' ``cost``) and the peak memory of
    eager code, ``ember.jit`` compiled steps and Sessions run inside the block.

    >>> with ember.profiler.profile() as prof:
    ...     loss = model(x).sum(); loss.backward()
    >>> print(prof.table(sort_by="time"))
    >>> prof.export_chrome_trace("trace.json")     # open in Perfetto or chrome://tracing
    """

    def __init__(self, record_shapes: bool = False, profile_memory: bool = True):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.events: list = []
        self.peak_memory = 0  # bytes allocated at the peak above the level at entry (tracemalloc)
        self._owns_tracing = False
        self._memory_base = 0
        self._peak_seen = 0  # the traced peak before a nested profile reset it

    def __enter__(self) -> profile:
        recorder.start(self)
        return self

    def __exit__(self, *exc) -> None:
        recorder.stop(self)

    # --- reading ---
    def key_averages(self) -> list[OpStats]:
        """One OpStats per op name, in order of first call."""
        totals: dict = {}
        for e in self.events:
            t = totals.get(e.name)
            dur = e.end - e.start
            if t is None:
                totals[e.name] = [1, dur, e.flops, e.bytes, e.out_bytes]
            else:
                t[0] += 1
                t[1] += dur
                t[2] += e.flops
                t[3] += e.bytes
                t[4] += e.out_bytes
        return [OpStats(name, *t) for name, t in totals.items()]

    @property
    def total_flops(self) -> int:
        return sum(e.flops for e in self.events)

    def table(self, sort_by: str = "time", row_limit: int = 100) -> str:
        """A text table, one row per op (PyTorch's ``key_averages().table`` layout) with FLOPs and bytes."""
        key = SORT_KEYS.get(sort_by)
        if key is None:
            raise ValueError(f"table: unknown sort_by {sort_by!r}; expected one of {sorted(SORT_KEYS)}")
        stats = sorted(self.key_averages(), key=key, reverse=sort_by != "name")[:row_limit]
        total = sum(s.time_ns for s in self.key_averages()) or 1
        width = max([len("Name")] + [len(s.name) for s in stats]) + 2
        heads = ["Self CPU %", "Self CPU", "CPU time avg", "CPU Mem", "# of Calls", "Total FLOPs", "Bytes",
                 "GFLOP/s"]
        rule = "-" * width + "  " + "  ".join("-" * 12 for _ in heads)
        lines = [rule, "Name".ljust(width) + "  " + "  ".join(h.rjust(12) for h in heads), rule]
        for s in stats:
            rate = s.flops / s.time_ns if s.time_ns else 0.0  # flops per ns = GFLOP/s
            cells = [f"{100 * s.time_ns / total:.2f}%", _time(s.time_ns), _time(s.avg_ns), _size(s.out_bytes),
                     str(s.calls), _count(s.flops), _size(s.bytes), f"{rate:.2f}"]
            lines.append(s.name.ljust(width) + "  " + "  ".join(c.rjust(12) for c in cells))
        lines.append(rule)
        lines.append(f"Self CPU time total: {_time(total if self.events else 0)}")
        if self.profile_memory:
            lines.append(f"Peak memory: {_size(self.peak_memory)}")
        return "\n".join(lines)

    def export_chrome_trace(self, path) -> None:
        """Write the events in Chrome's trace format (one complete event per op call, microseconds)."""
        origin = min((e.start for e in self.events), default=0)
        pid = os.getpid()
        events = []
        for e in self.events:
            args = {"flops": e.flops, "bytes": e.bytes, "kind": e.kind}
            if e.shapes:
                args["input shapes"] = [list(s) for s in e.shapes]
            events.append({"name": e.name, "cat": "op", "ph": "X", "ts": (e.start - origin) / 1000.0,
                           "dur": (e.end - e.start) / 1000.0, "pid": pid, "tid": 0, "args": args})
        with open(path, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)


def _time(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.3f}s"
    if ns >= 1e6:
        return f"{ns / 1e6:.3f}ms"
    return f"{ns / 1e3:.3f}us"


def _size(n: float) -> str:
    for unit, scale in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} b"


def _count(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.3f}{unit}"
    return str(n)

"""``profile``: the context manager that records, and its reports (a table per op, a Chrome trace)."""

from __future__ import annotations

import gzip
import json
import os
import time
from typing import NamedTuple

from ember.profiler import recorder


class OpStats(NamedTuple):
    """Totals of one op name over the recorded calls: ``time_ns`` is the self time (a labelled range less the
    events inside it), ``total_ns`` the whole time (PyTorch's ``cpu_time_total``; the same for an op)."""

    name: str
    calls: int
    time_ns: int
    flops: int
    bytes: int
    out_bytes: int
    total_ns: int = 0
    op: str | None = None  # the op name alone where ``name`` also shows the input shapes
    shapes: tuple | None = None  # the input shapes grouped on (``group_by_input_shape``); None where not grouped
    top_level: bool = True  # the group's first call is inside no ``record_function`` range (PyTorch's cpu_parent)
    frames: tuple = ()  # the innermost call-stack frames grouped on (``group_by_stack_n``)
    inner_bytes: int = 0  # the output bytes of the ops inside the calls (of a range)

    @property
    def avg_ns(self) -> float:
        """The average total time of a call (PyTorch's "CPU time avg")."""
        return self.total_ns / self.calls if self.calls else 0.0

    # PyTorch's FunctionEventAvg names (times in microseconds, as PyTorch's)
    @property
    def key(self) -> str:
        """The op or range name (without the input shapes ``name`` shows when grouped by them)."""
        return self.name if self.op is None else self.op

    @property
    def count(self) -> int:
        return self.calls

    @property
    def cpu_time_total(self) -> float:
        return self.total_ns / 1000

    @property
    def self_cpu_time_total(self) -> float:
        return self.time_ns / 1000

    @property
    def cpu_time(self) -> float:
        """The average total time of a call, in microseconds."""
        return self.avg_ns / 1000

    @property
    def cpu_memory_usage(self) -> int:
        """The output bytes of the calls and, for a range, of the ops inside it (as PyTorch's)."""
        return self.out_bytes + self.inner_bytes

    @property
    def self_cpu_memory_usage(self) -> int:
        return self.out_bytes

    @property
    def stack(self) -> list:
        """The top ``group_by_stack_n`` frames of the group's calls, innermost first (empty where not grouped)."""
        return list(self.frames)

    @property
    def input_shapes(self) -> list | str:
        """The input shapes of the group as lists under ``group_by_input_shape``; as PyTorch, ``""`` otherwise."""
        return "" if self.shapes is None else [list(s) for s in self.shapes]


SORT_KEYS = {
    "time": lambda s: s.time_ns, "self_cpu_time_total": lambda s: s.time_ns, "cpu_time_total": lambda s: s.total_ns,
    "calls": lambda s: s.calls, "count": lambda s: s.calls, "flops": lambda s: s.flops,
    "bytes": lambda s: s.bytes, "memory": lambda s: s.cpu_memory_usage,
    "cpu_memory_usage": lambda s: s.cpu_memory_usage,
    "name": lambda s: s.name, "self_cuda_time_total": lambda s: s.time_ns, "cuda_time_total": lambda s: s.total_ns,
    "self_cpu_memory_usage": lambda s: s.out_bytes, "cpu_time": lambda s: s.avg_ns, "cuda_time": lambda s: s.avg_ns,
    "device_time": lambda s: s.avg_ns, "device_time_total": lambda s: s.total_ns,
    "self_device_time_total": lambda s: s.time_ns,
}
TIME_UNITS = {"s": 1e9, "ms": 1e6, "us": 1e3}


class EventList(list):
    """The events of a profile (a list; called, as PyTorch's ``prof.events()``, it returns itself)."""

    def __call__(self) -> EventList:
        return self


class StatsList(list):
    """``key_averages()``: one OpStats per name, with PyTorch's ``.table(sort_by=, row_limit=)``."""

    def __init__(self, stats, total_ns: int, peak_memory: int | None, with_flops: bool = True):
        super().__init__(stats)
        self.total_ns = total_ns
        self.peak_memory = peak_memory
        self.with_flops = with_flops

    @property
    def self_cpu_time_total(self) -> float:
        """The self time of every call, in microseconds (PyTorch's ``EventList.self_cpu_time_total``)."""
        return self.total_ns / 1000

    def total_average(self) -> OpStats:
        """One row named ``Total`` summing every row (PyTorch's ``total_average()``)."""
        sums = [sum(column) for column in zip(*(s[1:7] for s in self))] or [0] * 6
        return OpStats("Total", *sums)

    def table(self, sort_by: str | None = "time", row_limit: int = 100, max_src_column_width: int = 75,
              max_name_column_width: int | None = None, max_shapes_column_width: int = 80, header: str | None = None,
              top_level_events_only: bool = False, time_unit: str | None = None) -> str:
        """A text table, one row per op or labelled range (PyTorch's layout) with FLOPs and bytes; as PyTorch's,
        ``sort_by=None`` keeps the order of first call, a negative ``row_limit`` shows every row, names longer than
        ``max_name_column_width`` are cut, ``header`` is printed above, ``top_level_events_only`` leaves out what
        ran inside a ``record_function`` range and ``time_unit`` ("s", "ms", "us") fixes the unit of the times.
        Rows grouped by call stack (``group_by_stack_n``) end with a "Source Location" column, one frame a line,
        each cut to its last ``max_src_column_width`` characters. The input shapes are in the names
        (``group_by_input_shape``), so there is no shapes column to size."""
        if time_unit is not None and time_unit not in TIME_UNITS:
            raise ValueError(f"table: unknown time_unit {time_unit!r}; expected one of {sorted(TIME_UNITS)}")
        if max_name_column_width is not None and max_name_column_width < 4:
            raise ValueError(f"table: max_name_column_width must be at least 4, got {max_name_column_width}")
        stats = [s for s in self if s.top_level] if top_level_events_only else self
        return _table(stats, sort_by, row_limit, self.total_ns, self.peak_memory, max_name_column_width, header,
                      time_unit, max_src_column_width, self.with_flops)


_RECORDING = ("WARMUP", "RECORD", "RECORD_AND_SAVE")
_STACK_METRICS = ("self_cpu_time_total", "self_cuda_time_total", "self_xpu_time_total", "self_device_time_total")
_COLLAPSED = str.maketrans(" ;\t\n", "____")  # the format's separators, kept out of a frame


class profile:  # noqa: N801  (PyTorch's name: ``with torch.profiler.profile() as prof``)
    """Record per-op calls, time, FLOPs and bytes (from the op records' ``cost``) and the peak memory of
    eager code, ``ember.jit`` compiled steps and Sessions run inside the block, plus ``record_function`` ranges.

    With a ``schedule`` (``ember.profiler.schedule``), ``step()`` marks the end of each training step and only
    the active steps are kept, each a ``ProfilerStep#<n>`` range (``ProfilerStep*`` in the table, as PyTorch's);
    ``on_trace_ready(prof)`` runs at the end of each active cycle (without a schedule,
    at the end of the block). ``activities`` are accepted as PyTorch's: Ember times every op on the host.
    ``with_stack`` records the Python call stack of each op (``event.stack``; the frames outside Ember), for
    ``key_averages(group_by_stack_n=)`` and ``export_stacks``. ``with_flops=False`` counts no FLOPs (0, and the
    table has no FLOPs columns), as PyTorch's.

    >>> with ember.profiler.profile() as prof:
    ...     loss = model(x).sum(); loss.backward()
    >>> print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))
    >>> prof.export_chrome_trace("trace.json")     # open in Perfetto or chrome://tracing
    """

    def __init__(self, activities=None, schedule=None, on_trace_ready=None, record_shapes: bool = False,
                 profile_memory: bool = True, with_stack: bool = False, with_flops: bool = True,
                 with_modules: bool = False, experimental_config=None, execution_trace_observer=None,
                 acc_events: bool = False, use_cuda: bool | None = None):
        from ember.profiler.scheduling import ProfilerActivity

        for activity in activities or ():
            if not isinstance(activity, ProfilerActivity):
                raise TypeError(f"profile: activities must be ProfilerActivity members, got {activity!r}")
        if schedule is not None and not callable(schedule):
            raise TypeError(f"profile: schedule must be a function of the step number, got {type(schedule).__name__}")
        self.activities = set(activities or (ProfilerActivity.CPU,))
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.events = EventList()
        self.peak_memory = 0  # bytes allocated at the peak above the level at entry (tracemalloc)
        self.step_num = 0
        self._owns_tracing = False
        self._memory_base = 0
        self._peak_seen = 0  # the traced peak before a nested profile reset it
        self._recording = False
        self._action = None
        self._step_start = None  # when the current ProfilerStep range began (with a schedule, while recording)

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """Start recording (what entering the block does); a profile entered again starts with no events, as
        PyTorch's."""
        self.events = EventList()
        self._action = self._action_at(self.step_num)
        if self._action in _RECORDING:
            self._start_recording()
        self._open_step()

    def stop(self) -> None:
        """Stop recording; a trace being recorded goes to ``on_trace_ready`` (what leaving the block does)."""
        was = self._action
        self._close_step()
        self._stop_recording()
        if was == "WARMUP":
            self.events = EventList()  # a warmup is thrown away: a block left during one ends with none, as PyTorch's
        if self.on_trace_ready is not None and was in ("RECORD", "RECORD_AND_SAVE"):
            self.on_trace_ready(self)

    def step(self) -> None:
        """The end of a training step: move along the schedule (recording, discarding a warmup, handing a
        finished cycle to ``on_trace_ready``)."""
        self._close_step()
        before = self._action
        self.step_num += 1
        after = self._action = self._action_at(self.step_num)
        if before == "RECORD_AND_SAVE":
            self._stop_recording()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        elif before in _RECORDING and after == "NONE":
            self._stop_recording()
            if before == "WARMUP":
                self.events = EventList()
        if after in _RECORDING:
            if before == "WARMUP" and after != "WARMUP" or not self._recording:
                # a cycle's warmup is thrown away; a new cycle starts a new list (on_trace_ready may keep the last)
                self.events = EventList()
            if not self._recording:
                self._start_recording()
        self._open_step()

    def _open_step(self) -> None:
        self._step_start = time.perf_counter_ns() if self.schedule is not None and self._recording else None

    def _close_step(self) -> None:
        if self._step_start is not None and self._recording:
            self.events.append(recorder.Event(f"ProfilerStep#{self.step_num}", self._step_start,
                                              time.perf_counter_ns(), 0, 0, 0, (), "user"))
        self._step_start = None

    def _action_at(self, step: int) -> str:
        return "RECORD" if self.schedule is None else self.schedule(step).name

    def _start_recording(self) -> None:
        self._recording = True
        recorder.start(self)

    def _stop_recording(self) -> None:
        if self._recording:
            self._recording = False
            recorder.stop(self)
            _link(self.events)

    # --- reading ---
    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0) -> StatsList:
        """One OpStats per op name (per name and input shapes with ``group_by_input_shape``, which needs
        ``record_shapes``; per name and innermost ``group_by_stack_n`` frames of the call stack, which needs
        ``with_stack``), in order of first call; a labelled range's ``time_ns`` is its self time, its
        ``total_ns`` the whole range."""
        if isinstance(group_by_stack_n, bool) or not isinstance(group_by_stack_n, int) or group_by_stack_n < 0:
            raise ValueError(f"key_averages: group_by_stack_n must be a non-negative int, got {group_by_stack_n!r}")
        totals: dict = {}
        top: dict = {}
        for e, dur, parent, memory in zip(self.events, *_tree(self.events)):
            name = "ProfilerStep*" if e.name.startswith("ProfilerStep#") else e.name  # the steps as one row
            key = (name, e.shapes if group_by_input_shape else None, e.frames[:group_by_stack_n])
            t = totals.get(key)
            if t is None:
                totals[key] = [1, dur, e.flops, e.bytes, e.out_bytes, e.end - e.start, memory - e.out_bytes]
                top[key] = parent < 0
            else:
                t[0] += 1
                t[1] += dur
                t[2] += e.flops
                t[3] += e.bytes
                t[4] += e.out_bytes
                t[5] += e.end - e.start
                t[6] += memory - e.out_bytes
        stats = [OpStats(name, *t[:6], top_level=top[key], frames=frames, inner_bytes=t[6]) if shapes is None else
                 OpStats(f"{name} {[list(s) for s in shapes]}", *t[:6], op=name, shapes=shapes, top_level=top[key],
                         frames=frames, inner_bytes=t[6])
                 for key, t in totals.items() for name, shapes, frames in [key]]
        total = sum(s.time_ns for s in stats)
        return StatsList(stats, total, self.peak_memory if self.profile_memory else None, self.with_flops)

    @property
    def total_flops(self) -> int:
        return sum(e.flops for e in self.events)

    def table(self, sort_by: str | None = "time", row_limit: int = 100, **options) -> str:
        """``key_averages().table(sort_by, row_limit, **options)``."""
        return self.key_averages().table(sort_by, row_limit, **options)

    def export_stacks(self, path, metric: str = "self_cpu_time_total") -> None:
        """Write each op call recorded ``with_stack`` as a line of the collapsed-stack format that flamegraph.pl
        and speedscope read: its frames outermost first, then the op, separated by ";" (spaces and ";" in a frame
        become "_", as PyTorch's), and its self time in whole microseconds; calls under 1 us are left out, as
        PyTorch's. ``metric`` is PyTorch's: Ember times ops on the host, so the device metrics give the same."""
        if metric not in _STACK_METRICS:
            raise ValueError(f"export_stacks: metric should be one of {list(_STACK_METRICS)}, got {metric!r}")
        with open(path, "w") as f:
            for e, own in zip(self.events, _tree(self.events)[0]):
                if e.frames and own >= 1000:
                    frames = ";".join(frame.translate(_COLLAPSED) for frame in reversed(e.frames))
                    f.write(f"{frames};{e.name.translate(_COLLAPSED)} {own // 1000}\n")

    def export_chrome_trace(self, path) -> None:
        """Write the events in Chrome's trace format (one complete event per op call or range, microseconds, in
        PyTorch's categories: ``cpu_op`` and ``user_annotation``); a path ending in ``.gz`` is gzip-compressed."""
        origin = min((e.start for e in self.events), default=0)
        pid = os.getpid()
        events = []
        for e in self.events:
            args = {"flops": e.flops, "bytes": e.bytes, "kind": e.kind}
            if e.shapes:
                args["input shapes"] = [list(s) for s in e.shapes]
            events.append({"name": e.name, "cat": "user_annotation" if e.kind == "user" else "cpu_op", "ph": "X",
                           "ts": (e.start - origin) / 1000.0, "dur": (e.end - e.start) / 1000.0, "pid": pid,
                           "tid": 0, "args": args})
        opener = gzip.open if os.fspath(path).endswith(".gz") else open
        with opener(path, "wt") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)


def _tree(events: list) -> tuple[list, list, list]:
    """Each event's duration less the events directly inside it (only ``record_function`` ranges hold others),
    the index of the innermost range holding it (-1 for none) and the output bytes of it and all inside it."""
    own = [e.end - e.start for e in events]
    parent = [-1] * len(events)
    memory = [e.out_bytes for e in events]
    order = sorted(range(len(events)), key=lambda i: (events[i].start, -events[i].end))
    open_ranges: list = []  # indices of the ranges that contain the current event, innermost last
    for i in order:
        e = events[i]
        while open_ranges and events[open_ranges[-1]].end < e.end:
            open_ranges.pop()
        if open_ranges:
            own[open_ranges[-1]] -= e.end - e.start
            parent[i] = open_ranges[-1]
        if e.kind == "user":
            open_ranges.append(i)
    for i in reversed(order):  # an event comes after the ranges holding it: the insides are summed first
        if parent[i] >= 0:
            memory[parent[i]] += memory[i]
    return own, parent, memory


def _link(events: list) -> None:
    """Sort the events by start, outer first (PyTorch's order of ``events()``), and link them as PyTorch's
    FunctionEvents: id, parent range, children, self time and the memory of what ran inside."""
    events.sort(key=lambda e: (e.start, -e.end))
    own, parents, memory = _tree(events)
    for i, e in enumerate(events):
        e._id, e._parent, e._children, e._self_ns, e._memory = i, None, [], own[i], memory[i]
    for e, parent in zip(events, parents):
        if parent >= 0:  # a range starts before what it holds: its children list is made
            e._parent = events[parent]
            events[parent]._children.append(e)


def _table(stats: list, sort_by: str | None, row_limit: int, total: int, peak_memory: int | None,
           name_width: int | None = None, header: str | None = None, unit: str | None = None,
           src_width: int = 75, with_flops: bool = True) -> str:
    key = SORT_KEYS.get(sort_by)
    if key is None and sort_by is not None:
        raise ValueError(f"table: unknown sort_by {sort_by!r}; expected one of {sorted(SORT_KEYS)}")
    shown = list(stats) if key is None else sorted(stats, key=key, reverse=sort_by != "name")
    if row_limit >= 0:
        shown = shown[:row_limit]
    names = [s.name if name_width is None or len(s.name) <= name_width else s.name[:name_width - 3] + "..."
             for s in shown]
    width = max([len("Name")] + [len(n) for n in names]) + 2
    memory = peak_memory is not None  # PyTorch's table has memory columns only under profile_memory
    flops = ["Total FLOPs", "Bytes", "GFLOP/s"] if with_flops else ["Bytes"]  # as PyTorch's, only with_flops
    heads = ["Self CPU %", "Self CPU", "CPU total", "CPU time avg", *(["CPU Mem"] if memory else []), "# of Calls",
             *flops]
    stacked = any(s.frames for s in shown)
    if stacked:
        src = min(max(len(f) for s in shown for f in s.frames) + 4, src_width)
        blank = " " * width + "  " + "  ".join(" " * 12 for _ in heads) + "  "
    rule = "-" * width + "  " + "  ".join("-" * 12 for _ in heads) + ("  " + "-" * src if stacked else "")
    lines = [rule, "Name".ljust(width) + "  " + "  ".join(h.rjust(12) for h in heads)
             + ("  Source Location" if stacked else ""), rule]
    for s, name in zip(shown, names):
        rate = s.flops / s.time_ns if s.time_ns else 0.0  # flops per ns = GFLOP/s
        cells = [f"{100 * s.time_ns / (total or 1):.2f}%", _time(s.time_ns, unit), _time(s.total_ns, unit),
                 _time(s.avg_ns, unit), *([_size(s.cpu_memory_usage)] if memory else []), str(s.calls),
                 *([_count(s.flops), _size(s.bytes), f"{rate:.2f}"] if with_flops else [_size(s.bytes)])]
        lines.append(name.ljust(width) + "  " + "  ".join(c.rjust(12) for c in cells)
                     + ("  " + _src(s.frames[0], src) if s.frames else ""))
        if stacked:  # PyTorch's layout: the other frames below, one a line, then an empty line
            lines += [blank + _src(frame, src) for frame in s.frames[1:]] + [""]
    lines.append(rule)
    lines.append(f"Self CPU time total: {_time(total, unit)}")
    if header is not None:
        lines[:0] = ["=" * len(rule), header]
    if peak_memory is not None:
        lines.append(f"Peak memory: {_size(peak_memory)}")
    return "\n".join(lines)


def _src(frame: str, width: int) -> str:
    """A frame cut to its last ``width`` characters (the file's name and line stay), as PyTorch's."""
    return frame if len(frame) <= width else "..." + frame[len(frame) - width + 3:]


def _time(ns: float, unit: str | None = None) -> str:
    if unit is not None:
        return f"{ns / TIME_UNITS[unit]:.3f}{unit}"
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

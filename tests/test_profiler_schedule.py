"""PyTorch's profiler idioms: schedule and step(), record_function ranges, key_averages().table, trace handlers."""

from __future__ import annotations

import gzip
import json

import pytest

import ember
from ember.profiler import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    record_function,
    schedule,
    tensorboard_trace_handler,
)


def _step(i: int) -> None:
    x = ember.ones(4, 4) * float(i)
    (x @ x).sum()


def test_schedule_steps_follow_pytorchs_cycle():
    torch = pytest.importorskip("torch")
    options = {"wait": 1, "warmup": 2, "active": 3, "repeat": 2, "skip_first": 1}
    ours, theirs = schedule(**options), torch.profiler.schedule(**options)
    assert [ours(i).name for i in range(20)] == [theirs(i).name for i in range(20)]
    assert ours(3) is ProfilerAction.WARMUP
    with pytest.raises(ValueError, match="schedule: active must be at least 1"):
        schedule(wait=1, warmup=1, active=0)


def test_only_active_steps_are_kept_and_each_cycle_reaches_on_trace_ready():
    traces = []

    def ready(prof):
        traces.append(sorted({e.name.split("-")[1] for e in prof.events if e.name.startswith("step-")}))

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
                 schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=ready) as prof:
        for i in range(10):
            with record_function(f"step-{i}"):
                _step(i)
            prof.step()
    assert traces == [["2", "3"], ["6", "7"]]  # steps 0 and 4 wait, 1 and 5 warm up, 8 and 9 are past repeat
    assert prof.step_num == 10


def test_each_scheduled_step_is_a_profiler_step_range_as_pytorch():
    torch = pytest.importorskip("torch")

    def rows(prof):
        return [(e.key, e.count) for e in prof.key_averages() if e.key.startswith(("ProfilerStep", "step-"))]

    found, profiles = [], []
    for lib, rec in ((ember, record_function), (torch, torch.profiler.record_function)):
        with lib.profiler.profile(schedule=lib.profiler.schedule(wait=1, warmup=1, active=3)) as prof:
            for i in range(5):
                with rec(f"step-{i}"):
                    pass
                prof.step()
        found.append(sorted(rows(prof)))
        profiles.append(prof)
    assert found[0] == found[1] == [("ProfilerStep*", 3), ("step-2", 1), ("step-3", 1), ("step-4", 1)]
    events = {e.name: e for e in profiles[0].events}
    for i in (2, 3, 4):  # the trace names each step; its work lies inside
        step, work = events[f"ProfilerStep#{i}"], events[f"step-{i}"]
        assert step.start <= work.start and work.end <= step.end


def test_a_block_left_during_a_warmup_keeps_none_of_its_events():
    with profile(schedule=schedule(wait=0, warmup=2, active=1)) as prof:
        for i in range(4):  # step 2 is recorded and handed on; 3 warms up when the block ends
            with record_function(f"step-{i}"):
                _step(i)
            prof.step()
        with record_function("step-4"):
            _step(4)
    assert list(prof.events) == [] and list(prof.key_averages()) == []  # as PyTorch's


def test_record_function_ranges_show_their_self_time_in_the_table():
    @record_function("decorated")
    def inner():
        _step(1)

    with profile() as prof:
        with record_function("outer"):
            _step(2)
            inner()
    stats = {s.name: s for s in prof.key_averages()}
    events = {e.name: e for e in prof.events() if e.kind == "user"}  # prof.events() as in PyTorch
    ops = sum(s.time_ns for name, s in stats.items() if name not in events)
    outer = events["outer"]
    assert stats["outer"].time_ns + stats["decorated"].time_ns + ops == outer.end - outer.start
    assert stats["outer"].calls == stats["decorated"].calls == 1
    table = prof.key_averages().table(sort_by="calls", row_limit=5)
    assert "Self CPU time total" in table and len(table.splitlines()) == 3 + 5 + 3  # heads, rows, totals
    assert "outer" in prof.key_averages().table(sort_by="name")
    with record_function("not recorded"):  # no profile: nothing to record, no cost
        pass


def test_cpu_time_total_counts_a_range_whole_as_pytorch():
    """PyTorch's cpu_time_total holds a range's children (its self time does not): sorting by it puts the
    enclosing range first, and "CPU time avg" is the total per call."""
    with profile() as prof:
        with record_function("outer"):
            for i in range(20):
                _step(i)
    stats = {s.name: s for s in prof.key_averages()}
    outer = next(e for e in prof.events if e.name == "outer")
    assert stats["outer"].total_ns == outer.end - outer.start > stats["outer"].time_ns
    assert stats["outer"].avg_ns == outer.end - outer.start
    assert stats["matmul"].total_ns == stats["matmul"].time_ns
    assert sum(s.time_ns for s in stats.values()) == stats["outer"].total_ns
    by_total = prof.key_averages().table(sort_by="cpu_time_total").splitlines()
    assert by_total[3].startswith("outer") and "CPU total" in by_total[1]


def test_table_options_and_total_average_as_pytorch():
    # header, max_name_column_width, top_level_events_only and time_unit were accepted and ignored; total_average()
    # and self_cpu_time_total were missing
    with profile() as prof:
        with record_function("a_rather_long_range_name"):
            ember.ones(2, 3).exp()
        ember.ones(2, 3).sum()
    stats = prof.key_averages()
    table = stats.table(sort_by=None, header="EPOCH 1", max_name_column_width=12, top_level_events_only=True,
                        time_unit="ms").splitlines()
    assert table[1] == "EPOCH 1"
    rows = [line.split()[0] for line in table[5:-3]]
    assert rows == ["a_rather_...", "sum"]  # exp ran inside the range
    assert table[5].split()[2].endswith("ms") and table[5].split()[3].endswith("ms")
    assert [s.name for s in stats if not s.top_level] == ["exp"]
    total = stats.total_average()
    assert total.key == "Total" and total.count == sum(s.count for s in stats) == 3
    assert total.time_ns == stats.total_ns == sum(s.time_ns for s in stats)
    assert total.self_cpu_time_total == stats.self_cpu_time_total == stats.total_ns / 1000
    with pytest.raises(ValueError, match="time_unit"):
        stats.table(time_unit="minutes")


def test_a_range_traced_into_a_compiled_step_records_no_tracing_time():
    # the first call of an ember.jit step traced its record_function block under the profiler: the range held the
    # tracing's time and none of the ops (the compiled run's ops came after it)
    net = ember.nn.Linear(4, 3)

    @ember.jit
    def step(x):
        with record_function("forward"):
            return net(x).relu().sum()

    x = ember.ones(8, 4)
    with profile() as prof:
        first = step(x)
    with profile() as again:
        second = step(x)
    names = [s.name for s in prof.key_averages()]
    assert names == [s.name for s in again.key_averages()] == ["linear", "relu", "sum"]
    assert float(first) == float(second)


def test_group_by_input_shape_keeps_the_shapes_apart():
    with profile(record_shapes=True) as prof:
        ember.ones(2, 3).exp()
        ember.ones(4, 3).exp()
    names = [s.name for s in prof.key_averages(group_by_input_shape=True) if s.name.startswith("exp")]
    assert names == ["exp [[2, 3]]", "exp [[4, 3]]"]


def test_key_averages_rows_have_pytorchs_attribute_names():
    # only Ember's names (name, calls, time_ns, ...) were there: PyTorch code reading e.key, e.count, e.cpu_time_total
    # or e.input_shapes failed with AttributeError
    torch = pytest.importorskip("torch")
    with profile(record_shapes=True) as prof:
        for _ in range(3):
            ember.ones(2, 3).exp()
        ember.ones(4, 3).exp()
    with torch.profiler.profile(record_shapes=True) as theirs:
        for _ in range(3):
            torch.ones(2, 3).exp()
        torch.ones(4, 3).exp()
    for group in (False, True):
        ours = [s for s in prof.key_averages(group_by_input_shape=group) if s.key == "exp"]
        want = [e for e in theirs.key_averages(group_by_input_shape=group) if e.key == "aten::exp"]
        assert [(s.count, s.input_shapes) for s in ours] == [(e.count, e.input_shapes) for e in want]
        for s in ours:
            assert s.cpu_time_total == s.total_ns / 1000 and s.self_cpu_time_total == s.time_ns / 1000
            assert s.cpu_time == pytest.approx(s.cpu_time_total / s.count)
            assert s.cpu_memory_usage == s.self_cpu_memory_usage == s.out_bytes

def test_events_have_pytorchs_attribute_names():
    # prof.events() held Ember's names only: e.key, e.cpu_time_total or e.input_shapes failed with AttributeError
    torch = pytest.importorskip("torch")
    with profile(record_shapes=True) as prof:
        ember.ones(2, 3).exp()
    with torch.profiler.profile(record_shapes=True) as theirs:
        torch.ones(2, 3).exp()
    ours = [e for e in prof.events() if e.key == "exp"]
    want = [e for e in theirs.events() if e.key == "aten::exp"]
    assert [e.input_shapes for e in ours] == [e.input_shapes for e in want] == [[[2, 3]]]
    assert ours[0].cpu_time_total == (ours[0].end - ours[0].start) / 1000 > 0


@pytest.mark.parametrize("use_gzip", [False, True])
def test_tensorboard_trace_handler_writes_one_trace_per_cycle(tmp_path, use_gzip):
    handler = tensorboard_trace_handler(tmp_path, worker_name="worker0", use_gzip=use_gzip)
    with profile(schedule=schedule(wait=0, warmup=0, active=1, repeat=2), on_trace_ready=handler) as prof:
        for i in range(3):
            _step(i)
            prof.step()
    files = sorted(tmp_path.iterdir())
    assert len(files) == 2 and all(f.name.startswith("worker0.") for f in files)
    suffix = ".pt.trace.json.gz" if use_gzip else ".pt.trace.json"
    assert all(f.name.endswith(suffix) for f in files)
    opener = gzip.open if use_gzip else open
    with opener(files[0], "rt") as f:
        names = [e["name"] for e in json.load(f)["traceEvents"]]
    assert "matmul" in names


def test_activities_must_be_profiler_activities():
    with pytest.raises(TypeError, match="profile: activities must be ProfilerActivity members"):
        profile(activities=["cpu"])


def test_events_are_linked_as_pytorchs_function_events():
    # events lacked PyTorch's cpu_parent, cpu_children, id, count, self_cpu_time_total and memory (AttributeError),
    # and a range's cpu_memory_usage was 0 where PyTorch's counts what the ops inside it allocated
    torch = pytest.importorskip("torch")

    def tree(events):  # the ranges and the exp calls, as (name, children) nested, PyTorch's "aten::" left out
        def key(e):
            return e.key.removeprefix("aten::")

        def node(e):
            return key(e), [node(c) for c in e.cpu_children if key(c) in ("inner", "exp")]

        return [node(e) for e in events if e.cpu_parent is None and key(e) in ("outer", "other")]

    with profile() as prof:
        with record_function("outer"):
            x = ember.ones(8, 4).exp()
            with record_function("inner"):
                x.exp()
        with record_function("other"):
            pass
    with torch.profiler.profile() as theirs:
        with torch.profiler.record_function("outer"):
            y = torch.ones(8, 4).exp()
            with torch.profiler.record_function("inner"):
                y.exp()
        with torch.profiler.record_function("other"):
            pass
    events = prof.events()
    assert tree(events) == tree(theirs.events()) == [
        ("outer", [("exp", []), ("inner", [("exp", [])])]), ("other", [])]
    assert [e.id for e in events] == list(range(len(events)))  # in order of start, outer first
    assert [e.start for e in events] == sorted(e.start for e in events)
    outer, inner = (next(e for e in events if e.key == k) for k in ("outer", "inner"))
    assert all(e.count == 1 and e.cpu_time == e.cpu_time_total and not e.is_async for e in events)
    assert outer.self_cpu_time_total == pytest.approx(
        outer.cpu_time_total - sum(c.cpu_time_total for c in outer.cpu_children))
    # the outputs made inside (PyTorch's also takes off what was freed there: Ember does not track frees)
    assert inner.cpu_memory_usage == 128 and outer.cpu_memory_usage == 256 and inner.self_cpu_memory_usage == 0
    stats = {s.key: s for s in prof.key_averages()}
    assert stats["outer"].cpu_memory_usage == 256 and stats["inner"].cpu_memory_usage == 128
    assert stats["exp"].cpu_memory_usage == stats["exp"].self_cpu_memory_usage == 256


def test_each_cycle_and_each_block_gets_a_new_event_list_as_pytorch():
    # the events of a cycle kept by on_trace_ready were cleared and refilled by the next cycle (both read s1), and a
    # profile entered twice kept the first block's events (its table counted both blocks)
    kept = []
    with profile(schedule=schedule(wait=0, warmup=0, active=1, repeat=2), on_trace_ready=lambda p: kept.append(
            p.events())) as prof:
        for i in range(3):
            with record_function(f"s{i}"):
                _step(i)
            prof.step()
    assert [[e.name for e in events if e.kind == "user" and e.name[0] == "s"] for events in kept] == [["s0"], ["s1"]]
    again = profile()
    with again:
        ember.ones(2).exp()
    first = again.events()
    with again:
        ember.ones(2).neg()
    assert [e.name for e in again.events()] == ["neg"] and [e.name for e in first] == ["exp"]
    assert [s.key for s in again.key_averages()] == ["neg"]

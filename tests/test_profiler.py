"""The profiler: per-op FLOPs against a hand count, the Chrome trace, compiled steps, the summary, the CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import ember
from ember import autograd, nn


def _conv_net():
    ember.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, stride=2), nn.Flatten(), nn.Linear(16 * 1 * 1 * 1, 10))


def test_conv_net_flops_match_a_hand_count():
    net = _conv_net()
    x = ember.randn(2, 3, 8, 8)
    with ember.no_grad(), ember.profiler.profile() as prof:
        net(x)
    flops = {s.name: s.flops for s in prof.key_averages()}
    # fvcore/thop-style count: a multiply-add is 2 FLOPs; conv output elements x (C_in/groups x kH x kW)
    conv1 = 2 * (2 * 8 * 8 * 8) * (3 * 3 * 3)  # (N, 8, 8, 8) outputs
    conv2 = 2 * (2 * 16 * 1 * 1) * (8 * 3 * 3)  # 4x4 input, kernel 3, stride 2 -> 1x1
    linear = 2 * (2 * 10) * 16
    assert flops["conv2d"] == conv1 + conv2
    assert flops["linear"] == linear
    assert flops["relu"] == 2 * 8 * 8 * 8  # one per element
    calls = {s.name: s.calls for s in prof.key_averages()}
    assert calls["conv2d"] == 2 and calls["linear"] == 1 and calls["max_pool2d"] == 1


def test_chrome_trace_is_json_with_one_event_per_op(tmp_path):
    x, w = ember.randn(4, 3), ember.randn(3, 5)
    with ember.profiler.profile(record_shapes=True) as prof:
        ember.relu(x @ w).sum()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    names = [e["name"] for e in trace["traceEvents"]]
    assert names == ["matmul", "relu", "sum"]
    matmul = trace["traceEvents"][0]
    assert matmul["ph"] == "X" and matmul["dur"] >= 0 and matmul["args"]["flops"] == 2 * 4 * 5 * 3
    assert matmul["args"]["input shapes"] == [[4, 3], [3, 5]]
    assert {e["cat"] for e in trace["traceEvents"]} == {"cpu_op"}  # PyTorch's category ("op" was read by no tool)
    table = prof.table(sort_by="flops")
    assert table.splitlines()[3].startswith("matmul") and "Self CPU time total" in table


def test_a_nested_profile_keeps_the_peak_memory_of_the_enclosing_one():
    with ember.profiler.profile() as outer:
        big = ember.ones(1_000_000)  # 4 MB, freed before the inner profile starts
        del big
        with ember.profiler.profile() as inner:
            small = ember.ones(1000)
    assert outer.peak_memory >= 4_000_000
    assert 4000 <= inner.peak_memory < 100_000
    del small


def test_an_eager_backward_on_arrays_records_each_op():
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    loss = net(ember.randn(4, 8)).sum()
    with ember.profiler.profile() as prof:
        loss.backward()
    names = [e.name for e in prof.events]
    assert names.count("matmul") == 3 and "relu_grad" in names  # two weight gradients, one input gradient
    assert all(e.kind == "eager" and e.end >= e.start for e in prof.events)
    assert autograd.tape._array_run is autograd.tape._on_numpy  # the plain runner is back


def test_backward_and_compiled_steps_are_recorded():
    net = _conv_net()
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
    x = ember.randn(2, 3, 8, 8)

    @ember.jit
    def step(xb):
        optimizer.zero_grad()
        loss = net(xb).sum()
        loss.backward()
        optimizer.step()
        return loss

    step(x)  # traced outside the profile
    before = [p.array.copy() for p in net.parameters()]
    with ember.profiler.profile() as prof:
        loss = step(x)
        eager = net(x).sum()
        eager.backward()
    kinds = {(e.name, e.kind) for e in prof.events}
    assert ("conv2d", "compiled") in kinds and ("conv2d_weight_grad", "compiled") in kinds
    assert ("conv2d", "eager") in kinds and ("conv2d_weight_grad", "eager") in kinds
    assert any(e.name == "update" for e in prof.events)
    assert np.isfinite(loss.item())
    assert any(not np.array_equal(b, p.array) for b, p in zip(before, net.parameters()))  # the step ran
    assert autograd._mode.builder is None and sys.modules["ember.jit"].profile_hook is None


def test_compiled_results_under_the_profiler_equal_the_generated_code():
    fn = ember.jit(lambda a, b: ember.tanh(a @ b + 1.0).sum(axis=1))
    a, b = ember.randn(5, 4), ember.randn(4, 3)
    expected = fn(a, b).numpy()
    with ember.profiler.profile() as prof:
        got = fn(a, b).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert {e.kind for e in prof.events} == {"compiled"}


def test_tracing_inside_a_profile_keeps_recording():
    fn = ember.jit(lambda a: ember.exp(a) * 2.0)
    with ember.profiler.profile() as prof:
        fn(ember.randn(3))  # traces: graph building starts and ends inside the profile
        ember.sin(ember.randn(3))
    assert "sin" in [e.name for e in prof.events]


def test_summary_counts_parameters_and_shapes():
    net = _conv_net()
    lines = []
    text = ember.profiler.summary(net, (2, 3, 8, 8), print_fn=lines.append)
    total = sum(p.array.size for p in net.parameters())
    assert f"Total params: {total:,}" in text and lines == [text]
    assert "[2, 8, 8, 8]" in text and "[2, 10]" in text
    row = next(line for line in text.splitlines() if "(Linear)" in line)
    assert f"{16 * 10 + 10:,}" in row
    assert net.training  # the mode is restored


def test_summary_of_an_embedding_model_on_integer_ids():
    """An int64 input was cast from normal samples, so ids of -2 to 2 reached the Embedding (an IndexError)."""
    net = ember.nn.Sequential(ember.nn.Embedding(10, 4), ember.nn.Flatten(), ember.nn.Linear(80, 2))
    text = ember.profiler.summary(net, (4, 20), dtype="int64", print_fn=None)
    assert "[4, 20, 4]" in text and "[4, 2]" in text


def test_summary_counts_a_lazy_modules_parameters_once_the_call_made_them():
    """The rows were filled before the call: each LazyLinear showed 0 parameters under its lazy class name."""
    net = nn.Sequential(nn.LazyLinear(5), nn.ReLU(), nn.LazyLinear(2))
    rows = [line.split() for line in ember.profiler.summary(net, (2, 3), print_fn=None).splitlines()]
    assert ["0", "(Linear)", "[2,", "5]", "20", "60"] == rows[4][:6]
    assert ["2", "(Linear)", "[2,", "2]", "12"] == rows[6][:5] and ["Total", "params:", "32"] in rows


def test_table_row_limit_and_sort_by_none_as_pytorch():
    """row_limit=-1 (PyTorch: every row) dropped the last row, and sort_by=None (PyTorch's default) was refused."""
    x = ember.randn(4, 4)
    with ember.profiler.profile() as prof:
        (x @ x).relu().sum().neg()

    def names(table):
        return [line.split()[0] for line in table.splitlines()[3:-3]]

    stats = prof.key_averages()
    assert len(names(stats.table(row_limit=-1))) == len(stats) == 4 and names(stats.table(row_limit=0)) == []
    assert names(stats.table(sort_by=None)) == ["matmul", "relu", "sum", "neg"]


def test_table_has_memory_columns_only_under_profile_memory_as_pytorch():
    x = ember.randn(4, 4)
    for profile_memory in (False, True):
        with ember.profiler.profile(profile_memory=profile_memory) as prof:
            (x @ x).relu()
        table = prof.key_averages().table()
        assert ("CPU Mem" in table.splitlines()[1]) is profile_memory and ("Peak memory" in table) is profile_memory
        row = table.splitlines()[3].split()  # an op, 4 times, (the 64 b it made), 1 call, FLOPs, bytes, GFLOP/s
        assert row[5:8] == ["64", "b", "1"] if profile_memory else row[5] == "1" and len(row) == 10


class _TwoCallSites(nn.Module):
    """One op (linear) called from two places, for the call-stack grouping."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 64), nn.Linear(64, 64)

    def first(self, x):
        return self.a(x)

    def second(self, x):
        return self.b(x)

    def forward(self, x):
        return self.second(self.first(x).relu())


def test_with_stack_groups_by_call_site_and_exports_collapsed_stacks(tmp_path):
    # with_stack and group_by_stack_n were accepted and ignored, and export_stacks did not exist
    net, x = _TwoCallSites(), ember.randn(256, 64)
    with ember.profiler.profile(with_stack=True) as prof:
        net(x)
    linear = [e for e in prof.events if e.name == "linear"]
    assert [e.stack[0].split(": ")[1] for e in linear] == ["first", "second"]  # innermost first, as PyTorch's
    assert all(__file__ in frame for e in linear for frame in e.stack[:2])  # Ember's own frames are left out
    assert [s.calls for s in prof.key_averages() if s.key == "linear"] == [2]
    by_site = [s for s in prof.key_averages(group_by_stack_n=1) if s.key == "linear"]
    assert [(s.calls, s.stack) for s in by_site] == [(1, linear[0].stack[:1]), (1, linear[1].stack[:1])]
    table = prof.key_averages(group_by_stack_n=2).table(sort_by=None)
    rows = table.splitlines()
    assert rows[1].endswith("Source Location") and rows[3].endswith(": first") and rows[4].endswith(": forward")
    assert "Source Location" not in prof.key_averages().table()
    path = tmp_path / "stacks.txt"
    prof.export_stacks(path, "self_cpu_time_total")
    lines = [line for line in path.read_text().splitlines() if line.split(" ")[0].endswith(";linear")]
    assert len(lines) == 2 and all(" " not in line.rsplit(" ", 1)[0] for line in lines)  # one space: the value
    frames, value = lines[0].rsplit(" ", 1)
    assert frames.split(";")[-2].endswith(":_first") and int(value) == (linear[0].end - linear[0].start) // 1000
    assert frames.split(";")[-3].endswith(":_forward")  # outermost first
    with pytest.raises(ValueError, match="metric"):
        prof.export_stacks(path, "cpu_time_total")
    with pytest.raises(ValueError, match="group_by_stack_n"):
        prof.key_averages(group_by_stack_n=-1)
    with ember.profiler.profile() as plain:  # without with_stack nothing is taken: one row, no stacks
        net(x)
    assert all(e.stack == [] for e in plain.events)
    assert [s.calls for s in plain.key_averages(group_by_stack_n=3) if s.key == "linear"] == [2]


@pytest.mark.parametrize("shape", [3, None, "ab", (2, "x"), [(2, 3), 4]])
def test_summaries_refuse_an_input_shape_that_is_not_a_shape(shape):
    """Each was a TypeError from inside ("'int' object is not subscriptable" and the like)."""
    from ember.summary import summary as keras_summary

    with pytest.raises(TypeError, match="summary: input_shape must be"):
        ember.profiler.summary(nn.Linear(3, 2), shape, print_fn=None)
    if shape is not None:
        with pytest.raises(TypeError, match="summary: input_shape must be"):
            keras_summary(nn.Linear(3, 2), shape)


def test_table_rejects_an_unknown_sort_key():
    with ember.profiler.profile() as prof:
        ember.randn(2) + 1.0
    with pytest.raises(ValueError, match="sort_by"):
        prof.table(sort_by="speed")


def test_cli_profiles_a_script(tmp_path, capsys):
    from ember.cli import main

    script = tmp_path / "work.py"
    script.write_text("import ember\nx = ember.randn(8, 8)\nprint((x @ x).relu().sum().item() >= 0)\n")
    trace = tmp_path / "trace.json"
    assert main(["profile", "--trace", str(trace), str(script)]) == 0
    err = capsys.readouterr().err
    assert "matmul" in err and "Self CPU time total" in err
    assert [e["name"] for e in json.loads(trace.read_text())["traceEvents"]] == ["matmul", "relu", "sum"]


def test_ember_profile_runs_a_script_that_imports_a_module_beside_it(tmp_path, monkeypatch, capsys):
    from ember.cli import main

    (tmp_path / "helper.py").write_text("import ember\n\ndef work():\n    return ember.ones(3).exp().sum().item()\n")
    script = tmp_path / "work.py"
    script.write_text("from helper import work\nprint('result', round(work(), 3))\n")
    monkeypatch.chdir(tmp_path.parent)  # as `python work.py` does, the script's folder is on sys.path, not the cwd
    monkeypatch.setattr("sys.argv", list(sys.argv))
    before = list(sys.path)
    assert main(["profile", str(script)]) == 0
    captured = capsys.readouterr()
    assert "result 8.155" in captured.out and "exp" in captured.err
    assert sys.path == before
    sys.modules.pop("helper", None)


def test_session_runs_are_recorded_and_still_update_variables():
    from ember.compat import tf

    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, (None, 3))
    w = tf.Variable(np.ones((3, 2), np.float32))
    loss = tf.reduce_sum(tf.matmul(x, w) ** 2)
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    feed = {x: np.ones((4, 3), np.float32)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        expected = sess.run(loss, feed)
        with ember.profiler.profile() as prof:
            got = sess.run(loss, feed)
            sess.run([train, loss], feed)
        after = sess.run(loss, feed)
    assert got == pytest.approx(expected) and after < expected  # the profiled training step updated w
    names = [e.name for e in prof.events]
    assert "matmul" in names and "update" in names and {e.kind for e in prof.events} == {"compiled"}


def test_session_fetches_under_the_profiler_are_what_the_compiled_run_gives():
    """Profiled, a fetched variable was its live storage (the run's and later runs' writes showed through: 3 for 1)
    and a 0-d fetch a 0-d array instead of a NumPy scalar."""
    from ember.compat import tf

    tf.reset_default_graph()
    w = tf.Variable(np.ones(2, np.float32))
    bump = tf.assign_add(w, [1.0, 1.0])
    total = tf.reduce_sum(w)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with ember.profiler.profile() as prof:
            value, _ = sess.run([w, bump])
            later = sess.run(w)
            scalar = sess.run(total)
        sess.run(bump)
    assert prof.events
    assert value.tolist() == [1.0, 1.0] and later.tolist() == [2.0, 2.0]
    assert isinstance(scalar, np.float32) and scalar == 4.0


def test_with_flops_false_counts_no_flops_as_pytorch():
    # with_flops=False was accepted and ignored: every op kept its FLOPs and the table its FLOPs columns
    torch = pytest.importorskip("torch")
    with torch.profiler.profile(with_flops=False) as theirs:
        torch.ones(4, 4) @ torch.ones(4, 4)
    with ember.profiler.profile(with_flops=False) as prof:
        ember.ones(4, 4) @ ember.ones(4, 4)
    assert {s.flops for s in theirs.key_averages()} == {s.flops for s in prof.key_averages()} == {0}
    assert prof.total_flops == 0 and all(e.flops == 0 for e in prof.events())
    for table in (theirs.key_averages().table(), prof.key_averages().table()):
        assert "FLOPs" not in table.splitlines()[1]
    with ember.profiler.profile() as counted:  # Ember's default counts them
        ember.ones(4, 4) @ ember.ones(4, 4)
    assert counted.total_flops == 2 * 4 * 4 * 4 and "Total FLOPs" in counted.key_averages().table()

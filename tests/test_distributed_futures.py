"""``Work`` and ``Future`` as PyTorch's ``torch.distributed.Work`` and ``torch.futures.Future`` (no MPI job)."""

from __future__ import annotations

import pytest

from ember.distributed import Future, Work


def _outcomes(future_type) -> list:
    """What a run of Future calls gives: values, or the type and start of each error."""
    def attempt(fn):
        try:
            return fn()
        except Exception as exc:
            return type(exc).__name__, str(exc).split(":")[0]

    f = future_type()
    seen = []
    child = f.then(lambda x: x.value() + 1)
    f.add_done_callback(lambda x: seen.append(x.value()))
    out = [f.done(), attempt(f.value)[0]]
    f.set_result(3)
    out += [child.wait(), child.done(), list(seen), attempt(lambda: f.set_result(4))[0]]
    g = future_type()
    h = g.then(lambda x: x.value() * 2)
    g.set_exception(ValueError("bad"))
    out += [attempt(g.wait), attempt(h.wait), h.done()]
    k = future_type()
    k.set_result(5)
    out.append(k.then(lambda x: x.wait() * 3).wait())
    return out


def test_future_behaves_as_torch_futures_future():
    torch = pytest.importorskip("torch")
    ours, theirs = _outcomes(Future), _outcomes(torch.futures.Future)
    assert ours == theirs
    assert ours[2:6] == [4, True, [3], "RuntimeError"]
    assert ours[7] == ("RuntimeError", "Got the following error when running the callback")


def test_a_finished_work_waits_true_and_gives_its_tensors_and_a_future():
    import ember

    t = ember.ones(2)
    work = Work.completed([t])
    assert work.wait() is True and work.is_completed() and work.is_success() and work.exception() is None
    assert work.result()[0] is t
    assert work.get_future().then(lambda f: f.value()[0] * 2).wait().numpy().tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="only the Work of a recv"):
        work.source_rank()
    assert Work.completed().result() == []


def test_work_wait_refuses_a_negative_timeout_naming_work_wait():
    import datetime

    work = Work.completed([])
    for bad in (-1, -0.5, datetime.timedelta(seconds=-3)):
        with pytest.raises(ValueError, match=r"^Work\.wait: timeout must be positive"):
            work.wait(timeout=bad)
    # None and zero (PyTorch's default timedelta(0)) mean the group's timeout
    assert work.wait() is True and work.wait(timeout=0) is True and work.wait(datetime.timedelta(0)) is True
    assert work.wait(timeout=5.0) is True


def test_a_done_callback_that_raises_is_logged_and_the_others_still_run(caplog):
    torch = pytest.importorskip("torch")

    def run(future_type) -> list:
        f = future_type()
        seen = []
        f.add_done_callback(lambda x: 1 / 0)
        f.add_done_callback(lambda x: seen.append(x.value()))
        f.set_result(3)  # raised the ZeroDivisionError here, and the second callback never ran
        f.add_done_callback(lambda x: 1 / 0)  # on a done future: run now, its error logged too
        f.add_done_callback(lambda x: seen.append(x.wait() + 1))
        return seen + [f.wait()]

    assert run(Future) == run(torch.futures.Future) == [3, 4, 3]
    errors = [r for r in caplog.records if "when running the callback: ZeroDivisionError" in r.getMessage()]
    assert len(errors) == 2

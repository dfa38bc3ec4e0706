"""DataLoader(num_workers=N) builds batches in worker processes (as PyTorch), and no iterator, with a thread
or with processes, hangs the program when it is dropped over a stuck dataset or after a caught Ctrl-C."""

import os
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info


class _Pids(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return np.float32(i), os.getpid()


class _Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"row {i} is missing")
        return np.float32(i)


class _Shards(IterableDataset):
    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, 20, step))


def test_workers_are_processes_and_keep_the_order():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    serial = [b for b in DataLoader(TensorDataset(x, y), batch_size=3, num_workers=0)]
    parallel = [b for b in DataLoader(TensorDataset(x, y), batch_size=3, num_workers=2)]
    assert len(parallel) == len(serial) == 7
    for (xs, ys), (xp, yp) in zip(serial, parallel):
        np.testing.assert_array_equal(xs.numpy(), xp.numpy())
        np.testing.assert_array_equal(ys.numpy(), yp.numpy())
    batches = list(DataLoader(_Pids(), batch_size=4, num_workers=2))
    assert np.concatenate([b[0].numpy() for b in batches]).tolist() == list(range(12))
    pids = {int(p) for _, pid in batches for p in pid.numpy()}
    assert len(pids) == 2 and os.getpid() not in pids


class _Augmented(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.random.randint(2**30), random.randint(0, 2**30)


def test_workers_seed_numpy_and_python_generators_per_worker_and_epoch():
    # as PyTorch: forked workers must not repeat the parent's NumPy draws (the same "random" augmentation)
    def epoch():
        return [b for b in DataLoader(_Augmented(), batch_size=2, num_workers=2)]

    ember.manual_seed(3)
    first, second = epoch(), epoch()
    draws = [int(v) for b in first + second for v in b[0].numpy()]
    assert len(set(draws)) == len(draws)
    ember.manual_seed(3)
    again = epoch()
    for b, c in zip(first, again):
        np.testing.assert_array_equal(b[0].numpy(), c[0].numpy())
        np.testing.assert_array_equal(b[1].numpy(), c[1].numpy())


def test_shuffled_workers_follow_the_global_seed():
    x = np.arange(30, dtype=np.float32)

    def epoch():
        ember.manual_seed(7)
        return np.concatenate([b[0].numpy() for b in DataLoader(TensorDataset(x), 4, shuffle=True, num_workers=2)])

    first, second = epoch(), epoch()
    np.testing.assert_array_equal(first, second)
    assert sorted(first.tolist()) == x.tolist() and first.tolist() != x.tolist()


class _Draws(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return np.float32(np.random.rand())


def test_the_loaders_generator_seeds_the_workers():
    # the workers' seeds came from the global generator, so generator= alone left their draws unreproducible
    def epochs(global_seed):
        ember.manual_seed(global_seed)
        loader = DataLoader(_Draws(), batch_size=2, num_workers=2, generator=7)
        return [np.concatenate([b.numpy() for b in loader]) for _ in range(2)]

    first, second = epochs(1), epochs(2)
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    assert not np.array_equal(first[0], first[1])  # the seed's generator advances: each epoch draws anew


def test_workers_without_batching_give_the_samples_in_order():
    ember.manual_seed(5)
    serial = [float(s[0]) for s in DataLoader(_Pids(), batch_size=None, shuffle=True)]
    ember.manual_seed(5)
    parallel = list(DataLoader(_Pids(), batch_size=None, shuffle=True, num_workers=2))
    assert [float(s[0]) for s in parallel] == serial and sorted(serial) == list(range(12))
    assert len({pid for _, pid in parallel}) == 2
    assert sorted(DataLoader(_Shards(), batch_size=None, num_workers=2)) == list(range(20))


class _Keyed(Dataset):
    rows = {"a": 1.5, "b": 2.5, "c": 3.5}

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        return [self.rows[k] for k in key] if isinstance(key, list) else self.rows[key]


def test_workers_index_with_the_samplers_items_as_they_are():
    # the index batches became int64 arrays on their way to the workers: keys failed (ValueError)
    assert list(DataLoader(_Keyed(), batch_size=None, sampler=["c", "a", "b"], num_workers=2)) == [3.5, 1.5, 2.5]
    assert list(DataLoader(_Keyed(), batch_size=None, sampler=[["c", "a"], ["b"]], num_workers=2)) == [[3.5, 1.5],
                                                                                                           [2.5]]
    batches = DataLoader(_Keyed(), batch_size=2, sampler=["c", "a", "b"], num_workers=2)
    assert [b.tolist() for b in batches] == [[3.5, 1.5], [2.5]]


def test_a_worker_exception_reraises_in_the_loop():
    with pytest.raises(KeyError, match="row 5 is missing") as info:
        list(DataLoader(_Failing(), batch_size=2, num_workers=2))
    assert any("DataLoader worker" in note for note in getattr(info.value, "__notes__", []))


def test_a_worker_batch_attached_to_a_graph_is_refused():
    # it reached the main process as a leaf that required grad, so a backward from it left x.grad None silently;
    # PyTorch's workers refuse it (autograd does not cross processes)
    x = ember.ones(4, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="autograd does not cross process boundaries"):
        list(DataLoader(TensorDataset(x), batch_size=2, num_workers=2))
    batches = [xb for (xb,) in DataLoader(TensorDataset(x.detach()), batch_size=2, num_workers=2)]
    assert [xb.requires_grad for xb in batches] == [False, False]


def test_iterable_datasets_shard_with_get_worker_info_and_init_fn_runs(tmp_path):
    items = np.concatenate([b.numpy() for b in DataLoader(_Shards(), batch_size=3, num_workers=3)])
    assert sorted(items.tolist()) == list(range(20))

    def init(worker_id):
        (tmp_path / f"worker{worker_id}").write_text(str(float(ember.rand(1).numpy()[0])))

    list(DataLoader(_Pids(), batch_size=4, num_workers=2, worker_init_fn=init))
    draws = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert set(draws) == {"worker0", "worker1"} and draws["worker0"] != draws["worker1"]  # seeded apart


class _UnevenShards(IterableDataset):
    def __init__(self, lengths):
        self.lengths = lengths

    def __iter__(self):
        worker = get_worker_info().id
        return iter(range(100 * worker, 100 * worker + self.lengths[worker]))


def test_iterable_workers_take_turns_as_pytorch_once_a_stream_ends():
    # PyTorch's order: the workers left keep their fixed turns (0, 2, 0, 2), and an ended stream's turn is handed on
    items = [int(b.numpy()[0]) for b in DataLoader(_UnevenShards([4, 0, 4]), batch_size=1, num_workers=3,
                                                   prefetch_factor=1)]
    assert items == [0, 200, 1, 201, 2, 202, 3, 203]
    items = [b.numpy().tolist() for b in DataLoader(_UnevenShards([2, 6, 1]), batch_size=2, num_workers=3)]
    assert items == [[0, 1], [100, 101], [200], [102, 103], [104, 105]]


def test_bad_worker_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="num_workers must be a non-negative int"):
        DataLoader(_Pids(), num_workers=-1)
    with pytest.raises(ValueError, match="timeout must be"):
        DataLoader(_Pids(), timeout=-2)


def test_timeout_bounds_the_wait_for_a_worker():
    class Slow(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            import time

            time.sleep(30)
            return i

    with pytest.raises(RuntimeError, match="no batch from the workers within timeout=0.5s"):
        next(iter(DataLoader(Slow(), batch_size=2, num_workers=1, timeout=0.5)))


_STUCK = textwrap.dedent("""
    import os, signal, sys, threading
    from ember.data import DataLoader

    # Ctrl-C raises KeyboardInterrupt, as in a terminal, even where this runs in the background (started with SIGINT
    # ignored, which Python then keeps)
    signal.signal(signal.SIGINT, signal.default_int_handler)

    class Stuck:
        def __len__(self):
            return 100

        def __getitem__(self, i):
            if i >= 4:
                threading.Event().wait()  # never returns
            return i

    for workers in (0, 2):
        for mode in ("drop", "interrupt", "elsewhere"):
            it = iter(DataLoader(Stuck(), batch_size=2, num_workers=workers))
            assert next(it).tolist() == [0, 1]
            if mode != "drop":  # "elsewhere": the signal reaches another thread than the waiting one
                send = (lambda: os.kill(os.getpid(), signal.SIGINT)) if mode == "interrupt" else \
                    (lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT))
                threading.Timer(0.3, send).start()
                try:
                    next(it)
                    next(it)
                except KeyboardInterrupt:
                    print("caught", workers, flush=True)
            del it
            print("done", workers, mode, flush=True)
""")


def test_a_stuck_dataset_never_hangs_the_process():
    """Dropping the iterator, or catching Ctrl-C while it waits, returns at once (thread and processes), also
    when the signal reaches a thread other than the waiting one."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", _STUCK], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{line} {workers}{mode}" for workers in (0, 2) for line, mode in (
        ("done", " drop"), ("caught", ""), ("done", " interrupt"), ("caught", ""), ("done", " elsewhere"))]


def test_multiprocessing_context_takes_a_context_object_or_a_start_method():
    import multiprocessing

    # PyTorch's loader takes multiprocessing.get_context("spawn") as well as "spawn" (a context object failed with
    # "cannot find context"); a wrong name, or a context without workers, is refused when the loader is made
    context = multiprocessing.get_context("fork")
    loader = DataLoader(np.arange(5.0), batch_size=2, num_workers=2, multiprocessing_context=context)
    assert loader.multiprocessing_context is context
    assert [b.tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    assert DataLoader(np.arange(5.0), num_workers=1, multiprocessing_context="fork").multiprocessing_context is context
    with pytest.raises(ValueError, match="multiprocessing_context must be one of the start methods"):
        DataLoader(np.arange(5.0), num_workers=2, multiprocessing_context="bogus")
    with pytest.raises(ValueError, match="multiprocessing_context='fork' is for worker processes"):
        DataLoader(np.arange(5.0), multiprocessing_context="fork")
    with pytest.raises(TypeError, match="multiprocessing_context must be a start method's name"):
        DataLoader(np.arange(5.0), num_workers=1, multiprocessing_context=3)


def test_a_worker_that_cannot_start_is_a_clear_error():
    ds = TensorDataset(np.arange(20.0).reshape(10, 2))
    loader = DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context="spawn",
                        collate_fn=lambda batch: batch)  # a lambda: 'spawn' cannot pickle it
    with pytest.raises(ValueError, match=r"could not start worker 0 of num_workers=2 .*'spawn'.*picklable"):
        next(iter(loader))

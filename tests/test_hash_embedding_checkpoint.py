"""Hash-embedding checkpoints: resuming in a new process gives bit-identical losses; an incremental
checkpoint on top of the last full one equals a full one; snapshots are consistent under concurrent inserts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import ember
from ember.embedding import HashEmbedding, L2Norm, StepTTL, load_checkpoint, save_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One script, run in this process and in fresh ones: a model with two hash tables (admission, eviction,
# a capacity cap, bf16 rows), three optimizers, and a fixed stream of batches.
SCRIPT = r'''
import sys
import numpy as np
import ember
from ember.embedding import (CountThreshold, CountingBloomFilter, HashEmbedding, HashEmbeddingBag, StepTTL,
                             load_checkpoint, save_checkpoint)


class Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.user = HashEmbedding(4, admission=CountThreshold(2), eviction=StepTTL(4), capacity=30,
                                  capacity_policy="lru")
        self.items = HashEmbeddingBag(4, mode="mean", dtype=ember.bfloat16,
                                      admission=CountingBloomFilter(2, num_counters=512), capacity=40)
        self.head = ember.nn.Linear(8, 1)

    def forward(self, users, items):
        return self.head(ember.concat([self.user(users), self.items(items)], axis=1))


def build(seed):
    ember.manual_seed(seed)
    net = Net()
    optimizers = [ember.optim.Adagrad(net.user.parameters(), lr=0.1),
                  ember.optim.RowWiseAdagrad(net.items.parameters(), lr=0.1),
                  ember.optim.Adam(net.head.parameters(), lr=0.01)]
    return net, optimizers


def batch(step):
    rng = np.random.default_rng(1000 + step)
    users = rng.zipf(1.3, 32) % 97 + 10**12
    items = (rng.zipf(1.2, (32, 3)) % 61).astype(np.int64) * 7919
    labels = ((users + items.sum(axis=1)) % 3 == 0).astype(np.float32)
    return users, items, labels


def train_step(net, optimizers, step):
    users, items, labels = batch(step)
    loss = ember.nn.functional.binary_cross_entropy_with_logits(
        net(users, items).reshape(-1), ember.tensor(labels))
    loss.backward()
    for opt in optimizers:
        opt.step()
        opt.zero_grad()
    return float(loss.item())


def resume(paths, start, steps):
    net, optimizers = build(seed=99)  # different initial weights: everything must come from the files
    load_checkpoint(net, optimizers, *paths)
    return [train_step(net, optimizers, step) for step in range(start, start + steps)]


if __name__ == "__main__":
    paths = sys.argv[3:]
    print(" ".join(x.hex() for x in resume(paths, int(sys.argv[1]), int(sys.argv[2]))))
'''


def _script(tmp_path):
    path = tmp_path / "hash_resume.py"
    path.write_text(SCRIPT)
    namespace = {"__name__": "hash_resume"}
    exec(compile(SCRIPT, str(path), "exec"), namespace)
    return path, namespace


def _run(path, start, steps, *checkpoints) -> list[str]:
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(path), str(start), str(steps), *map(str, checkpoints)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_resume_in_a_new_process_gives_bit_identical_losses(tmp_path):
    path, s = _script(tmp_path)
    net, optimizers = s["build"](seed=0)
    for step in range(8):
        s["train_step"](net, optimizers, step)
    full = tmp_path / "full.safetensors"
    save_checkpoint(full, net, optimizers)
    for step in range(8, 12):
        s["train_step"](net, optimizers, step)
    delta = tmp_path / "delta.safetensors"
    save_checkpoint(delta, net, optimizers, incremental=True)
    assert net.user.table.evict() == 0 and len(net.user) <= 30
    assert len(net.user.table.admission) > 0 and net.user.table.free.size > 0  # counters and reused rows
    expected = [s["train_step"](net, optimizers, step).hex() for step in range(12, 16)]
    assert _run(path, 12, 4, full, delta) == expected
    assert _run(path, 8, 4, full)[:1] == [s["resume"]([full], 8, 1)[0].hex()]


def _by_key(state: dict) -> dict:
    order = np.argsort(state["keys"])
    return {k: (v[order] if isinstance(v, np.ndarray) and v.ndim and v.shape[0] == order.size
                and not k.startswith("slot_fill") else v) for k, v in state.items() if k != "generation"}


def test_incremental_checkpoint_on_the_last_full_one_equals_a_full_one(tmp_path):
    _, s = _script(tmp_path)
    net, optimizers = s["build"](seed=0)
    for step in range(6):
        s["train_step"](net, optimizers, step)
    save_checkpoint(tmp_path / "a.safetensors", net, optimizers)
    for step in range(6, 14):
        s["train_step"](net, optimizers, step)
    save_checkpoint(tmp_path / "d.safetensors", net, optimizers, incremental=True)
    delta = ember.load(tmp_path / "d.safetensors")["model"]
    assert 0 < delta["user.keys"].size < len(net.user) + delta["user.deleted"].size
    assert delta["user.deleted"].size > 0  # evictions travel as deleted keys
    full = {name: _by_key(m.state_dict()) for name, m in (("user", net.user), ("items", net.items))}

    restored, restored_optimizers = s["build"](seed=5)
    load_checkpoint(restored, restored_optimizers, tmp_path / "a.safetensors", tmp_path / "d.safetensors")
    for name, module in (("user", restored.user), ("items", restored.items)):
        got = _by_key(module.state_dict())
        assert sorted(got) == sorted(full[name])
        for key, value in full[name].items():
            if isinstance(value, dict):
                for k, v in value.items():
                    np.testing.assert_array_equal(got[key][k], v)
            else:
                np.testing.assert_array_equal(got[key], value, err_msg=f"{name}.{key}")


def test_a_delta_applies_only_on_its_base():
    emb = HashEmbedding(2, seed=0)
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)
    for ids in ([1, 2], [3]):
        emb(np.array(ids)).sum().backward()
        opt.step()
        opt.zero_grad()
        if ids == [1, 2]:
            base = emb.state_dict()
            emb.mark_saved(base["generation"])
    delta = emb.delta_state_dict()
    assert delta["keys"].tolist() == [3]  # rows written in the steps after the base's, no others
    other = HashEmbedding(2, seed=0)
    try:
        other.load_state_dict(delta)
    except ValueError as exc:
        assert "applies on top of snapshot" in str(exc)
    else:
        raise AssertionError("a delta loaded onto the wrong base")
    other.load_state_dict(base)
    other.load_state_dict(delta)
    assert len(other) == 3


def test_a_delta_after_a_new_optimizer_carries_the_slots_it_reset(tmp_path):
    # A new optimizer's first step resets every row's Adagrad sum, the rows it does not touch included.
    def step(emb, opt, ids):
        opt.zero_grad()
        emb(np.array(ids)).sum().backward()
        opt.step()

    emb = HashEmbedding(2, seed=0)
    opt = ember.optim.Adagrad(emb.parameters(), lr=0.1)
    step(emb, opt, [1, 2, 3])
    step(emb, opt, [1, 2, 3])
    save_checkpoint(tmp_path / "full.safetensors", emb, opt)
    opt = ember.optim.Adagrad(emb.parameters(), lr=0.1)
    step(emb, opt, [1])
    save_checkpoint(tmp_path / "delta.safetensors", emb, opt, incremental=True)
    restored = HashEmbedding(2, seed=0)
    restored_opt = ember.optim.Adagrad(restored.parameters(), lr=0.1)
    load_checkpoint(restored, restored_opt, tmp_path / "full.safetensors", tmp_path / "delta.safetensors")
    want, got = _by_key(emb.state_dict()), _by_key(restored.state_dict())
    np.testing.assert_array_equal(got["slot.sum"], want["slot.sum"])  # keys 2, 3: 0 (reset), not 2
    step(emb, opt, [2, 3])
    step(restored, restored_opt, [2, 3])
    with ember.no_grad():
        np.testing.assert_array_equal(restored(np.array([1, 2, 3])).numpy(), emb(np.array([1, 2, 3])).numpy())


def test_snapshots_are_consistent_while_another_thread_inserts():
    def key_rows(keys, dim, seed):  # each row holds its key: a snapshot must pair them up
        return np.repeat((keys % 1000003).astype(np.float32)[:, None], dim, axis=1)

    emb = HashEmbedding(3, initializer=key_rows)
    opt = ember.optim.Adagrad(emb.parameters(), lr=0.0)
    stop = threading.Event()

    def insert():
        rng = np.random.default_rng(0)
        while not stop.is_set():
            emb(rng.integers(0, 10**6, 256)).sum().backward()
            opt.step()
            opt.zero_grad()

    worker = threading.Thread(target=insert)
    worker.start()
    try:
        for _ in range(20):
            state = emb.state_dict()
            n = state["keys"].size
            assert all(state[k].shape[0] == n for k in ("values", "slot.sum", "meta.freq", "meta.version")
                       if k in state)
            np.testing.assert_array_equal(state["values"][:, 0], (state["keys"] % 1000003).astype(np.float32))
            assert np.unique(state["keys"]).size == n
    finally:
        stop.set()
        worker.join()


def test_a_chain_of_deltas_on_the_last_full_checkpoint_equals_a_full_one(tmp_path):
    _, s = _script(tmp_path)
    net, optimizers = s["build"](seed=0)
    paths = []
    for stop in (5, 9, 12, 16):  # a full checkpoint, then three deltas (evictions and re-admissions between)
        for step in range(stop - 4 if paths else 0, stop):
            s["train_step"](net, optimizers, step)
        paths.append(tmp_path / f"c{stop}.safetensors")
        save_checkpoint(paths[-1], net, optimizers, incremental=len(paths) > 1)
    restored, restored_optimizers = s["build"](seed=5)
    load_checkpoint(restored, restored_optimizers, *paths)
    for original, copy in ((net.user, restored.user), (net.items, restored.items)):
        want, got = _by_key(original.state_dict()), _by_key(copy.state_dict())
        assert sorted(got) == sorted(want)
        for key, value in want.items():
            if not isinstance(value, dict):
                np.testing.assert_array_equal(got[key], value, err_msg=key)
    users = s["batch"](16)[0]
    with ember.no_grad():
        np.testing.assert_array_equal(restored.user(users).numpy(), net.user(users).numpy())


def test_checkpoints_with_a_version_column_still_load():
    # Before: meta.version per row, and last_step stamped with the step count before the update.
    emb = HashEmbedding(2, seed=0, eviction=StepTTL(2), metadata=True)
    opt = ember.optim.SGD(emb.parameters(), lr=0.1)
    for ids in ([1, 2], [1, 3], [1]):  # the third step evicts key 2
        emb(np.array(ids)).sum().backward()
        opt.step()
        opt.zero_grad()
    now = emb.state_dict()
    old = dict(now, **{"meta.last_step": now["meta.last_step"] - 1,
                       "meta.version": np.full(now["keys"].size, now["generation"], np.int32)})
    restored = HashEmbedding(2, seed=0, eviction=StepTTL(2), metadata=True)
    restored.load_state_dict(old)
    got, want = _by_key(restored.state_dict()), _by_key(now)
    for key in ("keys", "values", "meta.freq", "meta.last_step"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    restored_opt = ember.optim.SGD(restored.parameters(), lr=0.1)
    for table, optimizer in ((emb, opt), (restored, restored_opt)):
        table(np.array([1])).sum().backward()
        optimizer.step()  # evicts key 3, idle for the last two steps (key 2 went a step earlier)
    assert sorted(emb.state_dict()["keys"].tolist()) == sorted(restored.state_dict()["keys"].tolist()) == [1]


def test_metadata_columns_follow_what_reads_them():
    def columns(**options):
        return sorted(HashEmbedding(2, **options).table.meta)

    assert columns() == ["last_step"]  # step-TTL eviction and incremental checkpoints
    assert columns(capacity=10) == ["freq", "last_step"]
    assert columns(metadata=True) == ["freq", "last_step"]
    assert columns(metadata=False, eviction=L2Norm(1e-3)) == []
    assert columns(metadata=("freq",)) == ["freq"]
    with pytest.raises(ValueError, match=r"need the metadata columns \['last_step'\], but metadata=False"):
        HashEmbedding(2, eviction=StepTTL(3), metadata=False)
    with pytest.raises(ValueError, match=r"need the metadata columns \['freq'\]"):
        HashEmbedding(2, capacity=5, metadata=("last_step",))
    with pytest.raises(ValueError, match="unknown metadata columns \\['version'\\]"):
        HashEmbedding(2, metadata=("version",))
    emb = HashEmbedding(2, seed=0, metadata=False)
    emb(np.array([1]))
    with pytest.raises(RuntimeError, match="incremental checkpoints need the metadata column 'last_step'"):
        emb.delta_state_dict()
    emb = HashEmbedding(2, seed=0)
    emb(np.array([1]))
    emb.mark_saved(emb.state_dict()["generation"])
    with pytest.raises(ValueError, match="no snapshot numbered 7 is known"):
        emb.delta_state_dict(since=7)


class _TableAndHead(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = HashEmbedding(4, seed=3)
        self.head = ember.nn.Linear(4, 1)


def test_module_load_state_dict_checks_everything_before_it_replaces_a_table():
    saved = _TableAndHead()
    saved.emb(np.array([1, 2, 3]))
    state = saved.state_dict()
    model = _TableAndHead()
    model.emb(np.array([9]))
    broken = {k: v for k, v in state.items() if k != "head.weight"}
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "head.weight"'):
        model.load_state_dict(broken)
    assert len(model.emb) == 1  # the table was not replaced by a load that failed (it held 3 rows after)
    # strict=False without the table's entries (a dense part loaded alone) leaves the table, as PyTorch a
    # missing parameter, and reports its entries missing
    dense = {k: v for k, v in state.items() if k.startswith("head.")}
    result = model.load_state_dict(dense, strict=False)
    assert result.missing_keys == ["emb.keys", "emb.values", "emb.dim", "emb.seed", "emb.step", "emb.generation"]
    assert len(model.emb) == 1
    np.testing.assert_array_equal(model.head.weight.detach().numpy(), saved.head.weight.detach().numpy())
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "emb.keys", "emb.values"'):
        model.load_state_dict(dense)
    model.load_state_dict(state)
    assert len(model.emb) == 3

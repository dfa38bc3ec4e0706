"""ember.save / ember.load: round trips of every supported value, RNG state, atomic writes, errors."""

from __future__ import annotations

import math
import os
import re
from collections import OrderedDict

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import checkpoint


def _same(a, b) -> None:
    """Recursive equality that also checks types and dtypes."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, ember.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_round_trip_every_supported_type(tmp_path):
    obj = {
        "model": {
            "fc.weight": ember.randn(3, 4, requires_grad=True),
            "fc.bias": ember.zeros(4),
            "emb": ember.randn(5, 2).to(ember.bfloat16),
            "half": ember.ones(2, dtype=ember.float16),
            "count": ember.tensor(7),
            "mask": ember.tensor([True, False]),
            "u8": ember.tensor([1, 255], dtype=ember.uint8),
            "i32": ember.tensor([-3], dtype=ember.int32),
            "f64": ember.tensor([1e300], dtype=ember.float64),
        },
        "optimizer": {
            "state": {0: {"step": 10, "exp_avg": np.ones((3, 4), np.float32)}, 1: {"momentum": None}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False}],
        },
        "arrays": [np.arange(6, dtype=np.int16).reshape(2, 3)[:, ::2], np.zeros((0, 3)), np.array(2.5),
                   np.arange(3, dtype=">i4"), np.ones(2, ml_dtypes.bfloat16)],
        "scalars": (np.float32(1.5), np.int64(-4), np.bool_(True)),
        "epoch": 3,
        "big": [2**100, -(2**64) - 1, 2**53 + 1],
        "floats": [0.1, float("inf"), float("-inf"), float("nan"), -0.0],
        "text": "épochs ✓",
        "flags": [True, False, None],
        "keys": {1: "int key", "1": "str key", None: "none key", 2.5: "float key", False: "bool key"},
        "empty": {"list": [], "tuple": (), "dict": {}},
    }
    path = tmp_path / "ckpt.safetensors"
    ember.save(obj, path)
    back = ember.load(path)
    _same(obj["model"], back["model"])
    expected = dict(obj)
    expected["arrays"] = [np.array(a, order="C") for a in obj["arrays"]]
    expected["arrays"][3] = obj["arrays"][3].astype("<i4")
    for key in expected:
        if key != "model":
            _same(expected[key], back[key])
    assert back["model"]["emb"].dtype == ember.bfloat16 and back["model"]["fc.weight"].requires_grad
    assert isinstance(back["arrays"][0], np.ndarray) and isinstance(back["model"]["fc.bias"], ember.Tensor)
    back["optimizer"]["state"][0]["exp_avg"] += 1  # loaded arrays are writable


def test_bfloat16_is_stored_as_safetensors_bf16(tmp_path):
    path = tmp_path / "bf16.safetensors"
    ember.save({"w": ember.ones(4, dtype=ember.bfloat16)}, path)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata()["format"] == "ember.checkpoint"
    header = path.read_bytes()[8:1000].decode(errors="ignore")
    assert '"dtype":"BF16"' in header


def test_top_level_values_and_containers(tmp_path):
    for obj in (ember.arange(5), np.eye(2), 42, "s", None, [1, (2, 3)], OrderedDict(a=1)):
        ember.save(obj, tmp_path / "x")
        back = ember.load(tmp_path / "x")
        _same(dict(obj) if isinstance(obj, OrderedDict) else obj, back)


def test_rng_state_restores_the_draws(tmp_path):
    ember.manual_seed(123)
    ember.randn(10)
    ember.save({"rng": ember.get_rng_state(), "epoch": 1}, tmp_path / "rng")
    after_save = ember.randn(5).numpy().copy()
    ember.manual_seed(999)
    ember.randn(3)
    state = ember.load(tmp_path / "rng")["rng"]
    assert isinstance(state["state"]["state"], int) and state["state"]["state"] > 2**64
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.randn(5).numpy(), after_save)


def test_load_to_device_cpu(tmp_path):
    ember.save({"w": ember.ones(2)}, tmp_path / "c")
    assert ember.load(tmp_path / "c", device="cpu")["w"].device == ember.device("cpu")


def _leftovers(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    ember.save({"w": ember.ones(1000), "epoch": 1}, path)
    before = path.read_bytes()
    real = checkpoint.serialize_file

    def half_then_crash(specs, filename, metadata=None):
        real(specs, filename, metadata=metadata)
        size = os.path.getsize(filename)
        with open(filename, "r+b") as f:
            f.truncate(size // 2)
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "serialize_file", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        ember.save({"w": ember.zeros(1000), "epoch": 2}, path)
    assert path.read_bytes() == before and ember.load(path)["epoch"] == 1
    assert not _leftovers(tmp_path)

    monkeypatch.setattr(checkpoint, "serialize_file", real)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("fsync failed")))
    with pytest.raises(OSError, match="fsync failed"):
        ember.save({"epoch": 3}, path)
    assert path.read_bytes() == before and not _leftovers(tmp_path)


def test_unsupported_objects_name_the_key_path(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['model'\]\['layers'\]\[1\] of type set"):
        ember.save({"model": {"layers": [1, {2}]}}, tmp_path / "x")
    with pytest.raises(TypeError, match="cannot save obj of type function"):
        ember.save(lambda: 0, tmp_path / "x")
    with pytest.raises(TypeError, match=r"of type Linear; .*save obj\['net'\]\.state_dict\(\) and load it with "
                                        "load_state_dict"):
        ember.save({"net": ember.nn.Linear(2, 3)}, tmp_path / "x")
    with pytest.raises(TypeError, match=r"obj\['a'\] has dtype datetime64\[D\]"):
        ember.save({"a": np.array(["2026-12-06"], "datetime64[D]")}, tmp_path / "x")
    with pytest.raises(TypeError, match="key of type tuple"):
        ember.save({(1, 2): 3}, tmp_path / "x")
    with pytest.raises(TypeError, match="object"):
        ember.save({"a": np.array([object()])}, tmp_path / "x")
    assert not (tmp_path / "x").exists() and not _leftovers(tmp_path)


def test_save_to_a_missing_directory_or_a_directory_names_the_path(tmp_path):
    target = tmp_path / "runs" / "ckpt.emb"
    with pytest.raises(FileNotFoundError, match=f"cannot write {re.escape(str(target))}: the directory "
                                                f"{re.escape(str(tmp_path / 'runs'))} does not exist"):
        ember.save({"epoch": 1}, target)
    (tmp_path / "runs").mkdir()
    with pytest.raises(IsADirectoryError, match=f"cannot write {re.escape(str(tmp_path / 'runs'))}: it is a directory"):
        ember.save({"epoch": 1}, tmp_path / "runs")
    assert not _leftovers(tmp_path)


def test_load_rejects_foreign_files(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.ones(2, np.float32)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="not an Ember checkpoint"):
        ember.load(tmp_path / "plain.safetensors")
    (tmp_path / "junk").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00hello")
    with pytest.raises(ValueError, match="not a safetensors"):
        ember.load(tmp_path / "junk")


def test_complex_tensors_arrays_and_scalars_round_trip(tmp_path):
    matrix = np.array([[1 + 2j, 3 - 4j], [0, 1j]], np.complex64)
    saved = {"t": ember.tensor(matrix).T, "a": matrix.astype(np.complex128), "s": np.complex128(2 - 3j),
             "z": ember.tensor(1j), "g": ember.tensor(matrix, requires_grad=True)}
    ember.save(saved, tmp_path / "c.pt")
    loaded = ember.load(tmp_path / "c.pt")
    np.testing.assert_array_equal(loaded["t"].numpy(), matrix.T)
    assert loaded["t"].dtype == ember.complex64 and loaded["a"].dtype == np.complex128
    assert loaded["s"] == 2 - 3j and loaded["z"].shape == () and loaded["z"].item() == 1j
    assert loaded["g"].requires_grad


def test_tensors_of_one_memory_are_stored_once_and_share_it_again(tmp_path):
    embedding = ember.nn.Embedding(50, 16)
    head = ember.nn.Linear(16, 50, bias=False)
    head.weight = embedding.weight  # tied, as language models tie them
    state = {"embedding": embedding.state_dict(), "head": head.state_dict()}
    ember.save(state, tmp_path / "tied.pt")
    ember.save({"embedding": embedding.state_dict()}, tmp_path / "one.pt")
    assert os.path.getsize(tmp_path / "tied.pt") < 1.2 * os.path.getsize(tmp_path / "one.pt")
    loaded = ember.load(tmp_path / "tied.pt")
    head_weight, embedding_weight = loaded["head"]["weight"], loaded["embedding"]["weight"]
    np.testing.assert_array_equal(head_weight.numpy(), embedding.weight.detach().numpy())
    head_weight[0, 0] = 7.0  # one memory again, as torch.load gives tensors saved from one storage
    assert float(embedding_weight[0, 0]) == 7.0


def test_tensors_over_a_numpy_memmap_save_and_load(tmp_path):
    mapped = np.memmap(tmp_path / "weights.bin", dtype=np.float32, mode="w+", shape=(2, 3))
    mapped[:] = np.arange(6, dtype=np.float32).reshape(2, 3)
    weight = ember.from_numpy(mapped)  # torch.from_numpy(memmap) shares the file's memory and saves as any tensor
    mapped[0, 0] = 7.0
    assert float(weight[0, 0]) == 7.0 and "7." in repr(weight)
    ember.save({"w": weight, "again": weight, "t": weight.t()}, tmp_path / "ckpt.pt")
    loaded = ember.load(tmp_path / "ckpt.pt")
    np.testing.assert_array_equal(loaded["w"].numpy(), [[7, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(loaded["t"].numpy(), [[7, 3], [1, 4], [2, 5]])
    assert loaded["again"] is loaded["w"]


def test_keys_that_spell_an_earlier_suffixed_name_keep_their_own_tensors(tmp_path):
    # "a/b" twice is stored as "a/b" and "a/b#2"; a key already named so once made both entries one tensor
    saved = {"a/b#2": ember.tensor([0.0]), "a/b": ember.tensor([1.0]), "a": {"b": ember.tensor([2.0])},
             "1#5": np.zeros(1), 1: np.ones(1), "1": np.full(1, 2.0)}
    ember.save(saved, tmp_path / "names.pt")
    _same(saved, ember.load(tmp_path / "names.pt"))


def test_a_key_named_as_the_safetensors_header_key_loads(tmp_path):
    state = {"__metadata__": ember.arange(3.0), "a": {"__metadata__": ember.ones(2)}}
    ember.save(state, tmp_path / "ckpt.pt")  # its tensor took the header's place: the file did not load
    _same(ember.load(tmp_path / "ckpt.pt"), state)


def test_parameters_stay_parameters_and_one_object_saved_twice_loads_as_one(tmp_path):
    # as torch.load: [p, p, p.detach()] of a Parameter p gives two references to one Parameter and a Tensor
    net = ember.nn.Linear(3, 2)
    net.bias.requires_grad_(False)
    saved = {"params": [net.weight, net.weight, net.weight.detach()], "bias": net.bias,
             "state": net.state_dict(keep_vars=True), "plain": (net.weight.detach(),) * 2}
    ember.save(saved, tmp_path / "p.pt")
    loaded = ember.load(tmp_path / "p.pt")
    first, again, detached = loaded["params"]
    assert type(first) is ember.nn.Parameter and first.requires_grad and first is again
    assert type(detached) is ember.Tensor and not detached.requires_grad
    assert type(loaded["bias"]) is ember.nn.Parameter and not loaded["bias"].requires_grad
    assert loaded["state"]["weight"] is first and loaded["plain"][0] is loaded["plain"][1]
    np.testing.assert_array_equal(first.detach().numpy(), net.weight.detach().numpy())
    other = ember.nn.Linear(3, 2)
    other.weight = loaded["state"]["weight"]  # a Parameter, as PyTorch's: a TypeError for a plain Tensor
    detached[0, 0] = 5.0  # still one memory
    assert float(other.weight[0, 0]) == 5.0


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symbolic links")
def test_a_save_through_a_symbolic_link_replaces_its_target_and_keeps_the_link(tmp_path):
    # as torch.save (open(path, "wb")): the rename once replaced the link with a file, the target kept old values
    target, link = tmp_path / "run" / "ckpt.pt", tmp_path / "latest.pt"
    target.parent.mkdir()
    ember.save({"step": 1}, target)
    os.symlink(target, link)
    ember.save({"step": 2}, link)
    assert os.path.islink(link) and ember.load(target) == {"step": 2} and ember.load(link) == {"step": 2}
    assert sorted(os.listdir(target.parent)) == ["ckpt.pt"]


def test_a_container_holding_itself_is_a_type_error_naming_where(tmp_path):
    # JSON cannot hold a cycle: this was a bare RecursionError
    state = {"epoch": 1, "history": []}
    state["history"].append(state)
    with pytest.raises(TypeError, match=re.escape("obj['history'][0] is a dict that contains itself")):
        ember.save(state, tmp_path / "cycle.pt")
    assert not os.listdir(tmp_path)
    shared = [1, 2]
    ember.save({"a": shared, "b": (shared, shared)}, tmp_path / "shared.pt")  # repeated, but no cycle
    assert ember.load(tmp_path / "shared.pt") == {"a": [1, 2], "b": ([1, 2], [1, 2])}

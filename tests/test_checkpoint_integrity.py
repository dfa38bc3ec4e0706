"""Checkpoints that were damaged, tampered with or are not checkpoints at all: every failure is a ValueError
naming the file and what is wrong, a Model loads all or nothing, killed saves leave no litter, and file
modes follow the umask. Hypothesis mutates real checkpoint files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import nn
from ember.embedding import HashEmbedding
from ember.model import Model, Net

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _model(optimizer: str = "adam", hidden: int = 8) -> Model:
    ember.manual_seed(0)
    net = Net([nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3)])
    opt = ember.optim.Adam(net.parameters(), lr=1e-2) if optimizer == "adam" else ember.optim.SGD(
        net.parameters(), lr=0.1, momentum=0.9)
    return Model(net, "cross_entropy", opt)


def _trained(optimizer: str = "adam") -> Model:
    model = _model(optimizer)
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 3, 32), epochs=1, batch_size=8,
              verbose=0)
    return model


def _snapshot(model: Model) -> dict:
    """Everything a load could overwrite, as comparable text and bytes."""
    with np.printoptions(threshold=sys.maxsize, floatmode="unique"):
        return {"net": {k: v.numpy().tobytes() for k, v in model.net.state_dict().items()},
                "opt": repr(model.optimizer.state_dict()), "epoch": model.epoch,
                "rng": json.dumps(ember.random.get_rng_state(), default=str)}


def _header(data: bytes) -> tuple[int, dict]:
    size = int.from_bytes(data[:8], "little")
    return size, json.loads(data[8 : 8 + size])


def _error_for(path) -> str:
    return re.escape(f"load: {path}")


# --- the loader's errors -----------------------------------------------------------------------------------
def test_a_flipped_bit_in_a_tensor_is_reported_not_loaded(tmp_path):
    path = tmp_path / "w.emb"
    ember.save({"w": ember.arange(64, dtype=ember.float32)}, path)
    data = bytearray(path.read_bytes())
    data[-17] ^= 0x04
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=_error_for(path) + ".*tensor 'w' does not match its checksum"):
        ember.load(path)


def test_truncated_and_foreign_files_are_value_errors_naming_the_file(tmp_path):
    torch = pytest.importorskip("torch")
    good = tmp_path / "good.emb"
    ember.save({"w": ember.ones(100), "epoch": 1}, good)
    data = good.read_bytes()
    cases = {
        "truncated.emb": (data[: len(data) - 40], "is truncated"),
        "header_cut.emb": (data[:50], "is truncated"),
        "empty.emb": (b"", "is empty"),
        "text.emb": (b"hello, this is not a checkpoint at all", "not a safetensors checkpoint"),
        "appended.emb": (data + b"\0" * 8, "bytes after its last tensor"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=_error_for(tmp_path / name) + ".*" + message):
            ember.load(tmp_path / name)
    torch.save({"w": torch.ones(3)}, tmp_path / "model.pt")
    with pytest.raises(ValueError, match=_error_for(tmp_path / "model.pt") + ".*PyTorch file"):
        ember.load(tmp_path / "model.pt")
    torch.save({"w": torch.ones(3)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=_error_for(tmp_path / "legacy.pt") + ".*pickle.*never unpickles"):
        ember.load(tmp_path / "legacy.pt")


def test_a_header_whose_size_begins_as_a_pickle_does_still_loads(tmp_path):
    """A little-endian header size of 0x380 bytes begins with 0x80 0x03, as a pickle of protocol 3 does."""
    path = tmp_path / "named.emb"
    for n in range(1, 1000):
        ember.save({"x" * n: np.zeros(1, np.float32)}, path)
        if path.read_bytes()[0] == 0x80 and 2 <= path.read_bytes()[1] <= 5:
            break
    else:
        pytest.fail("no name length gave such a header size")
    assert list(ember.load(path)) == ["x" * n]


def _rewrite_header(data: bytes, edit) -> bytes:
    size, header = _header(data)
    edit(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data[8 + size :]


def test_a_tampered_header_is_reported(tmp_path):
    path = tmp_path / "t.emb"
    ember.save({"w": ember.ones(2, 8), "b": ember.zeros(16)}, path)
    data = path.read_bytes()

    def reshape(header):
        header["w"]["shape"] = [8, 2]

    def retype(header):
        header["b"]["dtype"] = "I32"

    def restructure(header):
        header["__metadata__"]["structure"] = header["__metadata__"]["structure"].replace('"b"', '"c"', 1)

    def overlap(header):
        header["w"]["data_offsets"] = header["b"]["data_offsets"]

    def unknown_node(header):
        meta = header["__metadata__"]
        meta["structure"] = json.dumps({"dict": [["w", {"code": "import os"}]]})
        from ember.checkpoint import _text_checksum

        meta["header_checksum"] = _text_checksum(meta["structure"] + meta["checksums"])

    for edit, message in [(reshape, "does not match its checksum"), (retype, "does not match its checksum"),
                          (restructure, "header.*checksum does not match"), (overlap, "overlap or leave a gap"),
                          (unknown_node, "unknown node")]:
        path.write_bytes(_rewrite_header(data, edit))
        with pytest.raises(ValueError, match=_error_for(path) + ".*" + message):
            ember.load(path)


# --- Model.load: all or nothing ----------------------------------------------------------------------------
def test_model_load_refuses_a_mismatched_checkpoint_before_overwriting_anything(tmp_path):
    adam_path = tmp_path / "adam.emb"
    _trained("adam").save(adam_path)
    sgd = _trained("sgd")
    before = _snapshot(sgd)
    with pytest.raises(ValueError, match=_error_for(adam_path) + ".*Adam optimizer; the model's is SGD"):
        sgd.load(adam_path)
    assert _snapshot(sgd) == before

    state = _trained("adam").state_dict()  # a checkpoint of an older Ember, without the optimizer's class
    del state["optimizer_class"]
    ember.save(state, tmp_path / "old.emb")
    with pytest.raises(ValueError, match="comes from another optimizer.*has no \\['momentum'"):
        sgd.load(tmp_path / "old.emb")
    assert _snapshot(sgd) == before

    adam = _trained("adam")
    before = _snapshot(adam)
    state = adam.state_dict()
    state["optimizer"]["state"][0]["exp_avg"] = np.zeros((3, 3), np.float32)  # a wrong-shaped moment
    state["net"] = {k: v.numpy() + 1 for k, v in state["net"].items()}  # would be loaded first
    state["epoch"] = 7
    ember.save(state, tmp_path / "shape.emb")
    with pytest.raises(ValueError, match="'exp_avg' of parameter 0 has shape \\(3, 3\\)"):
        adam.load(tmp_path / "shape.emb")
    assert _snapshot(adam) == before

    for key, message in [("rng", "has no \\['rng'\\].*cannot resume exactly"), ("epoch", "has no \\['epoch'\\]")]:
        state = adam.state_dict()
        state["net"] = {k: v.numpy() + 1 for k, v in state["net"].items()}
        del state[key]
        ember.save(state, tmp_path / "partial.emb")
        with pytest.raises(ValueError, match=_error_for(tmp_path / "partial.emb") + ".*" + message):
            adam.load(tmp_path / "partial.emb")
        assert _snapshot(adam) == before

    ember.save(adam.net.state_dict(), tmp_path / "weights.emb")
    with pytest.raises(ValueError, match="a file of weights only\\? load it with model.net.load_state_dict"):
        adam.load(tmp_path / "weights.emb")
    assert _snapshot(adam) == before

    state = adam.state_dict()
    state["extra"] = 1
    state["net"]["2.weight"] = ember.zeros(1)
    ember.save(state, tmp_path / "keys.emb")
    with pytest.raises(ValueError, match="unknown keys \\['extra'\\]"):
        adam.load(tmp_path / "keys.emb")
    del state["extra"]
    ember.save(state, tmp_path / "keys.emb")
    with pytest.raises(ValueError, match="2.weight has shape \\(1,\\) in the checkpoint"):
        adam.load(tmp_path / "keys.emb")
    assert _snapshot(adam) == before
    wider = _model("adam", hidden=16)
    before = _snapshot(wider)
    with pytest.raises(ValueError, match="does not fit Net"):
        wider.load(adam_path)
    assert _snapshot(wider) == before


class _TwoTables(nn.Module):
    def __init__(self, second_dim: int):
        super().__init__()
        self.users = HashEmbedding(4, seed=1)
        self.items = HashEmbedding(second_dim, seed=2)
        self.head = nn.Linear(3, 1)

    def forward(self, ids):
        return self.head(self.users(ids).sum(-1) + self.items(ids).sum(-1))


def _hash_model(second_dim: int, ids: np.ndarray) -> Model:
    ember.manual_seed(0)
    net = _TwoTables(second_dim)
    model = Model(net, "mse", ember.optim.Adagrad(net.parameters(), lr=0.1))
    model.fit(ids, np.ones((len(ids), 1), np.float32), epochs=1, batch_size=4, verbose=0)
    return model


def _table_keys(table) -> list:
    return sorted(table.table.index.key_of_row[table.table.live_rows()].tolist())


def test_model_load_checks_every_hash_table_before_loading_any(tmp_path):
    # the first table loaded, then the second refused its embedding_dim: the model held the first table of
    # the checkpoint beside its own second one
    _hash_model(4, np.arange(30).reshape(10, 3)).save(tmp_path / "dim4.emb")
    model = _hash_model(8, np.arange(30, 60).reshape(10, 3))
    users, items = _table_keys(model.net.users), _table_keys(model.net.items)
    with pytest.raises(ValueError, match=_error_for(tmp_path / "dim4.emb") + ".*does not fit _TwoTables: items: "
                                         "HashEmbedding.load_state_dict: the state has embedding_dim 4, this table 8"):
        model.load(tmp_path / "dim4.emb")
    assert _table_keys(model.net.users) == users and _table_keys(model.net.items) == items

    state = ember.load(tmp_path / "dim4.emb")
    del state["net"]["items.values"]
    ember.save(state, tmp_path / "no_values.emb")
    fitting = _hash_model(4, np.arange(30, 60).reshape(10, 3))
    users = _table_keys(fitting.net.users)
    with pytest.raises(ValueError, match='items: .*missing "values"'):
        fitting.load(tmp_path / "no_values.emb")
    assert _table_keys(fitting.net.users) == users
    fitting.load(tmp_path / "dim4.emb")
    assert _table_keys(fitting.net.users) == list(range(30))


def test_model_load_takes_the_state_shapes_of_the_optimizer(tmp_path):
    def rowwise() -> Model:
        model = _model()
        model.optimizer = ember.optim.RowWiseAdagrad(model.net.parameters(), lr=0.1)  # one accumulator a row
        return model

    trained = rowwise()
    rng = np.random.default_rng(0)
    trained.fit(rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 3, 32), epochs=1, batch_size=8,
                verbose=0)
    trained.save(tmp_path / "rowwise.emb")
    fresh = rowwise()
    fresh.load(tmp_path / "rowwise.emb")
    assert _snapshot(fresh) == _snapshot(trained)

    state = trained.state_dict()
    state["optimizer"]["state"][0]["sum"] = np.zeros((8, 4), np.float32)
    ember.save(state, tmp_path / "shape.emb")
    with pytest.raises(ValueError, match="'sum' of parameter 0 has shape \\(8, 4\\), the model's RowWiseAdagrad "
                                         "keeps \\(8,\\) for a parameter of shape \\(8, 4\\)"):
        fresh.load(tmp_path / "shape.emb")


# --- saving: killed saves and file modes -------------------------------------------------------------------
_KILLED_SAVE = """
import os, signal, sys
import ember
from ember import checkpoint
checkpoint.os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # die between write and rename
ember.save({"w": ember.ones(1000)}, sys.argv[1])
"""


def test_temporary_files_of_a_killed_save_are_cleaned_up(tmp_path):
    path = tmp_path / "ckpt.emb"
    ember.save({"w": ember.zeros(1000)}, path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path)], env=env, timeout=120)
    assert result.returncode == -signal.SIGKILL
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1  # what the killed process left
    np.testing.assert_array_equal(ember.load(path)["w"].numpy(), np.zeros(1000))  # the old checkpoint is intact
    ember.save({"w": ember.ones(1000)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.emb"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_file_modes_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        ember.save({"w": ember.ones(3)}, tmp_path / "m.emb")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "m.emb").st_mode & 0o777 == mode


def _same(a, b) -> None:
    """Equality of loaded objects: types, dtypes, shapes and values (NaN equal to NaN)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, ember.Tensor):
        a, b = a.numpy(), b.numpy()
    if isinstance(a, (np.ndarray, np.generic)):
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
    else:
        assert a == b or (a != a and b != b)


# --- fuzz: hostile checkpoints -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.emb"
    model = _trained("adam")
    model.save(path)
    return path.read_bytes(), ember.load(path)


def _mutate(data: bytes, kind: str, draw) -> bytes:
    data = bytearray(data)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 3), label="flips")):
            position = draw(st.integers(0, len(data) - 1), label="byte")
            data[position] ^= 1 << draw(st.integers(0, 7), label="bit")
    elif kind == "truncate":
        del data[draw(st.integers(0, len(data) - 1), label="cut") :]
    elif kind == "overwrite":
        start = draw(st.integers(0, len(data) - 1), label="start")
        junk = draw(st.binary(min_size=1, max_size=16), label="junk")
        data[start : start + len(junk)] = junk
    elif kind == "header_length":
        data[:8] = draw(st.integers(0, 2**64 - 1), label="length").to_bytes(8, "little")
    else:  # insert
        position = draw(st.integers(0, len(data)), label="at")
        data[position:position] = draw(st.binary(min_size=1, max_size=16), label="inserted")
    return bytes(data)


@given(kind=st.sampled_from(["flip", "truncate", "overwrite", "header_length", "insert"]), data=st.data())
@FUZZ
def test_fuzz_hostile_checkpoints_are_value_errors_or_the_original(tmp_path, model_checkpoint, kind, data):
    original_bytes, original = model_checkpoint
    damaged = _mutate(original_bytes, kind, data.draw)
    path = tmp_path / "hostile.emb"
    path.write_bytes(damaged)
    try:
        loaded = ember.load(path)
    except ValueError as exc:
        assert str(exc).startswith(f"load: {path} "), exc
        return
    _same(loaded, original)  # only a change that alters nothing (such as the same bytes) may load


@given(content=st.binary(max_size=200))
@FUZZ
def test_fuzz_arbitrary_bytes_are_value_errors(tmp_path, content):
    path = tmp_path / "junk.emb"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=_error_for(path)):
        ember.load(path)

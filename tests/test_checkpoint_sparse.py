"""ember.save / ember.load of sparse COO, CSR and CSC tensors: exact round trips (coordinates, values, dtype, shape,
coalesced flag, requires_grad) inside containers, as torch.save / torch.load keep them; damaged sparse nodes are
refused naming the file."""

from __future__ import annotations

import io
import json
import os
import re

import numpy as np
import pytest

import ember
from ember.checkpoint import _text_checksum

INDICES = [[0, 1, 1, 2, 1], [1, 0, 2, 2, 0]]  # (1, 0) repeated


def _same(loaded, saved) -> None:
    assert type(loaded) is type(saved) and loaded.shape == saved.shape and loaded.dtype == saved.dtype
    assert loaded.requires_grad == saved.requires_grad
    if isinstance(saved, ember.sparse.SparseCSCTensor):
        np.testing.assert_array_equal(loaded.ccol_indices().numpy(), saved.ccol_indices().numpy())
        np.testing.assert_array_equal(loaded.row_indices().numpy(), saved.row_indices().numpy())
        np.testing.assert_array_equal(loaded.values().detach().numpy(), saved.values().detach().numpy())
    elif isinstance(saved, ember.sparse.SparseCOOTensor):
        assert loaded.is_coalesced() == saved.is_coalesced() and loaded.sparse_dim() == saved.sparse_dim()
        np.testing.assert_array_equal(loaded._indices().numpy(), saved._indices().numpy())
        np.testing.assert_array_equal(loaded._values().detach().numpy(), saved._values().detach().numpy())
    else:
        np.testing.assert_array_equal(loaded.crow_indices().numpy(), saved.crow_indices().numpy())
        np.testing.assert_array_equal(loaded.col_indices().numpy(), saved.col_indices().numpy())
        np.testing.assert_array_equal(loaded.values().detach().numpy(), saved.values().detach().numpy())


def _tensors() -> dict:
    rng = np.random.default_rng(0)
    uncoalesced = ember.sparse_coo_tensor(INDICES, rng.normal(size=5), (3, 4))
    return {
        "uncoalesced": uncoalesced,
        "coalesced": uncoalesced.coalesce(),
        "hybrid": ember.sparse_coo_tensor(INDICES, rng.normal(size=(5, 2)).astype(np.float32), (3, 4, 2)),
        "empty": ember.sparse_coo_tensor(np.zeros((2, 0), np.int64), np.zeros(0), (3, 4)),
        "ints": ember.sparse_coo_tensor(INDICES, np.arange(5, dtype=np.int32), (3, 4), is_coalesced=False),
        "bf16": ember.sparse_coo_tensor(INDICES, np.ones(5), (3, 4), dtype=ember.bfloat16),
        "leaf": ember.sparse_coo_tensor(INDICES, rng.normal(size=5), (3, 4), requires_grad=True),
        "csr": ember.sparse_csr_tensor([0, 2, 3, 3], [0, 2, 1], rng.normal(size=3), (3, 4)),
        "csr_empty": ember.sparse_csr_tensor([0, 0, 0], np.zeros(0, np.int64), np.zeros(0, np.float32), (2, 5)),
        "csc": ember.sparse_csr_tensor([0, 2, 3, 3], [0, 2, 1], rng.normal(size=3), (3, 4)).t(),
    }


@pytest.mark.parametrize("to_file", [True, False])
def test_sparse_tensors_round_trip_exactly_inside_containers(tmp_path, to_file):
    saved = _tensors()
    obj = {"state": dict(saved), "list": [saved["coalesced"], 3], "tuple": (saved["csr"],)}
    if to_file:
        ember.save(obj, tmp_path / "s.safetensors")
        loaded = ember.load(tmp_path / "s.safetensors")
    else:
        buffer = io.BytesIO()
        ember.save(obj, buffer)
        buffer.seek(0)
        loaded = ember.load(buffer)
    for name, tensor in saved.items():
        _same(loaded["state"][name], tensor)
    _same(loaded["list"][0], saved["coalesced"])
    _same(loaded["tuple"][0], saved["csr"])
    assert loaded["list"][1] == 3
    assert loaded["state"]["coalesced"].indices() is not None  # readable: coalesced again
    np.testing.assert_array_equal(loaded["state"]["hybrid"].to_dense().numpy(), saved["hybrid"].to_dense().numpy())


def test_a_module_state_dict_with_a_sparse_buffer_round_trips(tmp_path):
    net = ember.nn.Linear(4, 3)
    state = dict(net.state_dict())
    state["adjacency"] = ember.sparse_coo_tensor(INDICES, [1.0, 2.0, 3.0, 4.0, 5.0], (3, 4))
    ember.save(state, tmp_path / "net.safetensors")
    loaded = ember.load(tmp_path / "net.safetensors")
    _same(loaded["adjacency"], state["adjacency"])
    np.testing.assert_array_equal(loaded["weight"].numpy(), net.weight.detach().numpy())


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_the_round_trip_keeps_what_torch_s_keeps(tmp_path):
    torch = pytest.importorskip("torch")
    for coalesce in (False, True):
        values = np.arange(1.0, 6.0)
        theirs = torch.sparse_coo_tensor(INDICES, values, (3, 4), check_invariants=False)
        ours = ember.sparse_coo_tensor(INDICES, values, (3, 4))
        if coalesce:
            theirs, ours = theirs.coalesce(), ours.coalesce()
        torch.save(theirs, tmp_path / "t.pt")
        ember.save(ours, tmp_path / "e.safetensors")
        t_back, e_back = torch.load(tmp_path / "t.pt"), ember.load(tmp_path / "e.safetensors")
        assert e_back.is_coalesced() == t_back.is_coalesced() == coalesce
        np.testing.assert_array_equal(e_back._indices().numpy(), t_back._indices().numpy())
        np.testing.assert_array_equal(e_back._values().numpy(), t_back._values().numpy())
    theirs = torch.sparse_csr_tensor([0, 2, 3, 3], [0, 2, 1], [1.0, 2.0, 3.0], (3, 4), check_invariants=False)
    torch.save(theirs, tmp_path / "c.pt")
    ember.save(ember.sparse_csr_tensor([0, 2, 3, 3], [0, 2, 1], [1.0, 2.0, 3.0], (3, 4)), tmp_path / "c.safetensors")
    np.testing.assert_array_equal(ember.load(tmp_path / "c.safetensors").to_dense().numpy(),
                                  torch.load(tmp_path / "c.pt").to_dense().numpy())


def test_a_failed_save_keeps_the_old_checkpoint_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "s.safetensors"
    ember.save({"a": _tensors()["coalesced"]}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot save obj\['b'\] of type object"):
        ember.save({"a": _tensors()["hybrid"], "b": object()}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["s.safetensors"]


def _tampered(tmp_path, edit) -> str:
    """A checkpoint of a COO tensor and a CSR matrix whose structure ``edit`` changed (checksums made to match)."""
    path = tmp_path / "t.safetensors"
    saved = _tensors()
    ember.save({"coo": saved["uncoalesced"], "csr": saved["csr"]}, path)
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    meta = header["__metadata__"]
    structure = json.loads(meta["structure"])
    edit(dict(structure["dict"][0][1]), structure)
    meta["structure"] = json.dumps(structure)
    meta["header_checksum"] = _text_checksum(meta["structure"] + meta["checksums"])
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + size :])
    return path


def _set_coo(structure, **changes):
    structure["dict"][0][1].update(changes)


@pytest.mark.parametrize("edit,message", [
    (lambda coo, s: _set_coo(s, coalesced=True), "marked coalesced whose coordinates repeat"),
    (lambda coo, s: _set_coo(s, coalesced="yes"), "its coalesced flag"),
    (lambda coo, s: _set_coo(s, shape=[2, 4]), "parts do not fit: .*indices outside the size"),
    (lambda coo, s: _set_coo(s, shape=[3, -4]), "its shape"),
    (lambda coo, s: _set_coo(s, sparse_coo=coo["sparse_coo"][:1]), "expected 2 tensor nodes"),
    (lambda coo, s: s["dict"][1][1].update(shape=[3, 2]), "sparse_csr node .* col_indices outside"),
    (lambda coo, s: s["dict"][1][1].update(sparse_csr=list(reversed(s["dict"][1][1]["sparse_csr"]))),
     "parts do not fit"),
    (lambda coo, s: _set_coo(s, extra=1), "unknown keys"),
    (lambda coo, s: s["dict"][1].__setitem__(1, {"sparse_csc": s["dict"][1][1]["sparse_csr"], "shape": [2, 3]}),
     "sparse_csc node .* col_indices outside"),
])
def test_a_damaged_sparse_node_is_refused_naming_the_file(tmp_path, edit, message):
    path = _tampered(tmp_path, edit)
    with pytest.raises(ValueError, match=re.escape(f"load: {path}") + ".*" + message):
        ember.load(path)

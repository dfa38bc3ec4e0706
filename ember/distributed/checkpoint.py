"""Checkpoints of a multi-rank job: one file per rank plus a manifest, loadable at another world size.

``save`` has every rank write its shard file atomically (``ember.checkpoint.save``); after a barrier rank 0
writes ``manifest.json``, also atomically, so a directory with a manifest always holds a complete
checkpoint. Rank 0's file also holds the replicated state (dense parameters, buffers, the optimizer).
``load`` at any world size: every rank reads the replicated state, and each sharded table gathers the rows
its new shard owns from all the files (re-sharding by the same id hash), with their optimizer slots and
metadata.
"""

from __future__ import annotations

import json
import os
import uuid

import numpy as np

from ember import checkpoint
from ember.checkpoint import _fsync_dir
from ember.distributed.group import default_group
from ember.distributed.placement import select_rows
from ember.distributed.sharded import shard_of
from ember.nn.module import Module
from ember.optim.optimizer import Optimizer

MANIFEST = "manifest.json"
FORMAT = "ember.distributed.checkpoint"


def _shard_file(rank: int, world: int) -> str:
    return f"shard-{rank:05d}-of-{world:05d}.emb"


def _sharded_modules(module) -> dict:
    return {name: m for name, m in module.named_modules() if getattr(m, "sharded", False) is True}


def _refuse_server_tables(module, what: str) -> None:
    """Tables on parameter servers keep their rows (and their optimizer's state) in the server processes, which a
    checkpoint of the model's ranks does not hold: refused, rather than a checkpoint without their rows."""
    served = [name or type(m).__name__ for name, m in module.named_modules() if type(m).__name__ == "PSEmbedding"]
    if served:
        raise ValueError(f"dist.checkpoint.{what}: {served} keep their rows on the parameter servers, which this "
                         "checkpoint does not hold (it would restore them empty); shard the tables across the ranks "
                         "instead (dist.shard_embeddings) to checkpoint them")


def _replicated_state(module, sharded: dict) -> dict:
    prefixes = tuple(f"{name}." for name in sharded)
    return {k: v for k, v in module.state_dict().items() if not k.startswith(prefixes)}


def save(directory: str | os.PathLike, module: Module, optimizer: Optimizer | None = None) -> None:
    """Write this rank's shard of ``module`` (and, from rank 0, the replicated state and ``optimizer``);
    a collective call: every rank must make it. Saving over an earlier checkpoint first removes its
    manifest, so a save that dies half way leaves no manifest rather than one over mixed shards."""
    _refuse_server_tables(module, "save")
    group = default_group()
    directory = os.fspath(directory)
    manifest_path = os.path.join(directory, MANIFEST)
    if group.rank == 0:
        os.makedirs(directory, exist_ok=True)
        if os.path.exists(manifest_path):
            os.remove(manifest_path)
            _fsync_dir(directory)
    save_id = bytes(group.broadcast(np.frombuffer(uuid.uuid4().bytes, np.uint8).copy(), 0)).hex()
    group.barrier()  # no rank changes a shard while an old manifest still vouches for it
    sharded = _sharded_modules(module)
    shard = {"save_id": save_id, "tables": {name: m.shard.state_dict() for name, m in sharded.items()}}
    if group.rank == 0:
        shard["replicated"] = _replicated_state(module, sharded)
        shard["optimizer"] = None if optimizer is None else optimizer.state_dict()
    checkpoint.save(shard, os.path.join(directory, _shard_file(group.rank, group.size)))
    group.barrier()  # every shard is on disk before the manifest says the checkpoint exists
    if group.rank == 0:
        files = [_shard_file(r, group.size) for r in range(group.size)]
        checkpoint.write_text(manifest_path, json.dumps({"format": FORMAT, "save_id": save_id,
                                                         "world_size": group.size, "tables": sorted(sharded),
                                                         "files": files}, indent=1))
        for name in os.listdir(directory):  # shards of an earlier save at another world size
            if name.startswith("shard-") and name.endswith(".emb") and name not in files:
                os.remove(os.path.join(directory, name))
    group.barrier()


def _read_manifest(directory: str) -> dict:
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ValueError(
            f"{directory}: no {MANIFEST}: not a distributed checkpoint, or its save did not finish") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a valid manifest ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: not an Ember distributed checkpoint manifest")
    for name in manifest["files"]:
        if not os.path.exists(os.path.join(directory, name)):
            raise ValueError(f"{directory}: the manifest lists {name}, which is missing")
    return manifest


def _check_save_id(shard: dict, path: str, manifest: dict) -> None:
    if shard.get("save_id") != manifest.get("save_id"):
        raise ValueError(f"{path}: written by another save than the manifest's (a save over this directory did not "
                         "finish): not a consistent checkpoint")


def load(directory: str | os.PathLike, module: Module, optimizer: Optimizer | None = None) -> None:
    """Restore ``module`` (and ``optimizer``) from ``save``'s directory, at this job's world size."""
    _refuse_server_tables(module, "load")
    group = default_group()
    directory = os.fspath(directory)
    manifest = _read_manifest(directory)
    files = [os.path.join(directory, name) for name in manifest["files"]]
    sharded = _sharded_modules(module)
    if sorted(sharded) != manifest["tables"]:
        raise ValueError(f"{directory}: the checkpoint has sharded tables {manifest['tables']}, the module "
                         f"{sorted(sharded)}")
    first = checkpoint.load(files[0])
    _check_save_id(first, files[0], manifest)
    replicated = _replicated_state(module, sharded)
    missing = sorted(set(replicated) - set(first["replicated"]))
    if missing:
        raise ValueError(f"{files[0]}: missing replicated entries {missing}")
    if optimizer is not None and first["optimizer"] is None:
        raise ValueError(f"{files[0]}: saved without an optimizer state")
    module.load_state_dict({**module.state_dict(), **first["replicated"]})  # the tables' own entries: below
    if sharded:
        same_layout = manifest["world_size"] == group.size
        paths = [files[group.rank]] if same_layout else files
        shards = [first if path == files[0] else checkpoint.load(path) for path in paths]
        for path, shard in zip(paths, shards):
            _check_save_id(shard, path, manifest)
        for name, m in sharded.items():
            pieces = [s["tables"][name] for s in shards]
            m.shard.load_state_dict(select_rows(pieces, lambda keys: shard_of(keys, group.size) == group.rank))
    if optimizer is not None:
        optimizer.load_state_dict(first["optimizer"])

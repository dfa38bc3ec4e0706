"""Placing a model's hash-embedding tables across ranks: swap each ``HashEmbedding`` for a distributed table
built around it, and keep only the rows a rank owns.

Used by ``dist.shard_embeddings`` (tables split over all ranks, all-to-all lookups) and
``dist.ps.place_embeddings`` (tables on parameter-server ranks).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember.embedding.layers import HashEmbedding, HashEmbeddingBag
from ember.nn.module import Module


def select_rows(pieces: list, keep: Callable[[np.ndarray], np.ndarray]) -> dict:
    """One table state holding the rows of ``pieces`` (``HashEmbedding.state_dict()``s) that ``keep(keys)``
    selects, with their optimizer slots and metadata."""
    first = pieces[0]
    rows = {k for k, v in first.items() if isinstance(v, np.ndarray) and v.ndim and k != "keys"
            and not k.startswith("slot_fill.") and len(v) == len(first["keys"])}
    keys = np.concatenate([p["keys"] for p in pieces])
    mine = keep(keys)
    state = {k: v for k, v in first.items() if k not in rows and k != "keys"}
    state["keys"] = keys[mine]
    for k in rows:
        state[k] = np.concatenate([p[k] for p in pieces])[mine]
    state["step"] = max(int(p["step"]) for p in pieces)
    state["generation"] = max(int(p["generation"]) for p in pieces)
    if any("admission" in p for p in pieces) and len(pieces) > 1:
        raise ValueError("distributed checkpoint: a table with an admission policy cannot be re-sharded (its "
                         "counters are kept per shard); load it at the world size it was saved with")
    return state


def keep_owned_rows(embedding: HashEmbedding, keep: Callable[[np.ndarray], np.ndarray]) -> HashEmbedding:
    """Drop the rows of ``embedding`` whose keys ``keep`` rejects (nothing to do for an empty table)."""
    if len(embedding):
        embedding.load_state_dict(select_rows([embedding.state_dict()], keep))
    return embedding


def _text(value) -> str:
    """A setting as text that is the same in every process: a policy's or initializer's repr, or the qualified
    name of a callable whose repr would hold its address (a function, a lambda)."""
    if type(value).__repr__ is object.__repr__ or callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    return repr(value)


def table_settings(embedding: HashEmbedding) -> dict:
    """What every rank's part of one distributed table must share (a seed drawn at construction shows as None)."""
    table = embedding.table
    admission = table.admission
    admission_text = "None" if admission is None else _text(admission)
    if admission is not None and getattr(admission, "seed_given", True) is False:
        admission_text = admission_text.replace(f"seed={admission.seed}", "seed=None")
    return {"embedding_dim": table.dim, "dtype": str(embedding.weight.array.dtype), "storage dtype": table.dtype.name,
            "initializer": _text(table.initializer), "admission": admission_text,
            "eviction": [_text(policy) for policy in table.eviction], "capacity": table.capacity,
            "capacity_policy": table.capacity_policy, "evict_every": table.evict_every,
            "default_value": table.default_value, "metadata": sorted(table.meta),
            "seed": table.seed if getattr(table, "seed_given", True) else None}


def agree_on_table(embedding: HashEmbedding | None, settings: dict, group, caller: str) -> None:
    """Check (one collective over ``group``) that every rank describes the same table by ``settings``
    (``table_settings``), raising on every rank a ValueError naming the first setting that differs; then
    ``embedding`` (this rank's part, or None) takes the seeds it drew from the first rank holding one, as
    ``DistributedDataParallel`` takes rank 0's weights."""
    seeds = None
    if embedding is not None:
        admission = embedding.table.admission
        seeds = (embedding.table.seed, getattr(admission, "seed", None))
    everyone = group.all_gather_object((settings, seeds))
    reference = everyone[0][0]
    for rank, (theirs, _) in enumerate(everyone):
        for name, value in reference.items():
            if theirs.get(name) != value:
                raise ValueError(f"{caller}: the ranks build different tables: {name} is {value!r} on rank 0 but "
                                 f"{theirs.get(name)!r} on rank {rank}; every rank must build the table alike")
    first = next((s for _, s in everyone if s is not None), None)
    if embedding is None or first is None:
        return
    table = embedding.table
    if not getattr(table, "seed_given", True):
        table.seed = first[0]
        table.seed_given = True
    if table.admission is not None and getattr(table.admission, "seed_given", True) is False:
        table.admission.seed = first[1]
        table.admission.seed_given = True


def replace_hash_embeddings(module: Module, make: Callable[[HashEmbedding], Module], caller: str) -> Module:
    """Replace every ``HashEmbedding`` inside ``module`` (or ``module`` itself) by ``make(table)``; a table
    reached twice (shared by two layers) is replaced once. Returns the module, or its replacement."""
    made: dict = {}

    def replacement(table: HashEmbedding) -> Module:
        if isinstance(table, HashEmbeddingBag):
            raise TypeError(f"{caller}: HashEmbeddingBag is not supported; look rows up with a HashEmbedding and "
                            "pool them (ember.recsys.FieldEmbedding does)")
        if id(table) not in made:
            made[id(table)] = make(table)
        return made[id(table)]

    if isinstance(module, HashEmbedding):
        return replacement(module)
    for parent in list(module.modules()):
        if getattr(parent, "distributed_table", False):
            continue  # its .shard is the rank's part of a table already placed
        for name, child in list(parent.named_children()):
            if isinstance(child, HashEmbedding):
                setattr(parent, name, replacement(child))
    return module

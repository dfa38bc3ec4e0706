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

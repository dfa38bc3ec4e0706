"""Full and incremental training checkpoints of models holding hash embeddings.

``save_checkpoint(path, model, optimizer)`` writes the model's state (hash tables as one snapshot each,
taken under their locks), the optimizer's and any ``extra`` values, atomically (``ember.save``).
With ``incremental=True`` each hash table contributes only the rows changed, and keys evicted, since
the last checkpoint written through this function; dense parameters are always written whole. A chain
``full, delta, delta, ...`` restores with ``load_checkpoint(model, optimizer, full, delta, ...)``.
"""

from __future__ import annotations

import os

from ember.checkpoint import load, save

__all__ = ["load_checkpoint", "save_checkpoint"]


def _model_state(model, incremental: bool) -> tuple[dict, list]:
    """The model's entries, with each hash module's full or incremental snapshot; and the snapshots' numbers."""
    state, snapshots = {}, []
    owners: list[str] = []
    for name, module in model.named_modules():
        prefix = name + "." if name else ""
        if any(prefix.startswith(owner) for owner in owners):
            continue
        if getattr(module, "_owns_state_dict", False):
            owners.append(prefix)
            table_state = module.delta_state_dict() if incremental else module.state_dict()
            snapshots.append((module, table_state["generation"]))
            state.update((prefix + key, value) for key, value in table_state.items())
            continue
        for key, p in module._parameters.items():
            if p is not None:
                state[prefix + key] = p.detach()
        for key, b in module._buffers.items():
            if b is not None and key not in module._non_persistent_buffers:
                state[prefix + key] = b.detach()
    return state, snapshots


def _as_list(optimizer) -> list:
    return list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]


def save_checkpoint(path: str | os.PathLike, model, optimizer=None, *, incremental: bool = False,
                    extra: dict | None = None) -> None:
    """Write ``model`` (and ``optimizer``, one or a list, and ``extra``) to ``path`` atomically; with
    ``incremental`` only what the hash tables changed since the previous checkpoint.

    >>> save_checkpoint("ckpt-0.safetensors", model, opt)
    >>> save_checkpoint("ckpt-1.delta.safetensors", model, opt, incremental=True)
    """
    if incremental and not any(getattr(m, "_owns_state_dict", False) for m in model.modules()):
        raise ValueError("save_checkpoint: incremental=True needs a model with hash embeddings")
    state, snapshots = _model_state(model, incremental)
    checkpoint = {"model": state, "incremental": bool(incremental), "extra": dict(extra or {})}
    if optimizer is not None:
        checkpoint["optimizers"] = [opt.state_dict() for opt in _as_list(optimizer)]
    save(checkpoint, path)
    for module, generation in snapshots:  # only once the file is in place: a failed write keeps the old base
        module.mark_saved(generation)


def load_checkpoint(model, optimizer=None, *paths: str | os.PathLike) -> dict:
    """Restore a full checkpoint followed by the incremental ones written after it, in order; returns the
    last one's ``extra``.

    >>> extra = load_checkpoint(model, opt, "ckpt-0.safetensors", "ckpt-1.delta.safetensors")
    """
    if not paths:
        raise ValueError("load_checkpoint: give at least the path of a full checkpoint")
    extra: dict = {}
    for i, path in enumerate(paths):
        checkpoint = load(path)
        if bool(checkpoint.get("incremental")) != (i > 0):
            kind = "an incremental" if i == 0 else "a full"
            raise ValueError(f"load_checkpoint: {os.fspath(path)} is {kind} checkpoint; give one full checkpoint "
                             "first, then the incremental ones written after it, in order")
        model.load_state_dict(checkpoint["model"])
        if optimizer is not None:
            saved = checkpoint.get("optimizers", [])
            optimizers = _as_list(optimizer)
            if len(saved) != len(optimizers):
                raise ValueError(f"load_checkpoint: {os.fspath(path)} holds {len(saved)} optimizer states, "
                                 f"got {len(optimizers)} optimizers")
            for opt, opt_state in zip(optimizers, saved):
                opt.load_state_dict(opt_state)
        extra = checkpoint.get("extra", {})
    return extra

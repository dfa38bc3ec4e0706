"""What ``Model.fit`` changes when the job has more than one rank.

Each rank reads its share of the data (a ``DistributedSampler``, reshuffled every epoch), gradients are
averaged by ``DistributedDataParallel`` (compiled steps by the ``data_parallel`` pass), the training metrics
are computed over every rank's batches together (their states merged, so an AUC or a precision is the one of
the whole epoch, not a mean of the ranks'), the other epoch logs are averaged over ranks before any callback
reads them (so every rank makes the same early-stopping decision), and only rank 0 prints or writes files.
"""

from __future__ import annotations

import copy

import numpy as np

from ember.callbacks import Callback
from ember.distributed.ddp import DistributedDataParallel
from ember.distributed.group import ReduceOp, default_group


class _AverageLogs(Callback):
    """Replace each epoch-end value by its mean over ranks (ranks hold equally many samples), except those of
    the metrics already computed over every rank's data (``merged``: the same on every rank)."""

    def __init__(self, sampler):
        super().__init__()
        self.sampler = sampler
        self.merged: set = set()

    def merge_metrics(self, metrics: list) -> None:
        """Give every rank's metrics the state of all ranks' together (in rank order), before their results are
        read; a metric that names no ``state_names`` keeps its own and its value is averaged."""
        mergeable = [m for m in metrics if m.state_names]
        self.merged = {m.name for m in mergeable}
        if not mergeable:
            return
        states = default_group().all_gather_object([{k: getattr(m, k) for k in m.state_names} for m in mergeable])
        for i, metric in enumerate(mergeable):
            copies = []
            for rank_states in states:
                part = copy.copy(metric)
                for key, value in rank_states[i].items():
                    setattr(part, key, value)
                copies.append(part)
            copies[0].merge(copies[1:])
            for key in metric.state_names:
                setattr(metric, key, getattr(copies[0], key))

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.sampler.set_epoch(epoch)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs:
            keys = sorted(k for k in logs if k not in self.merged)
            values = np.array([float(logs[k]) for k in keys], dtype=np.float64)
            averaged = default_group().all_reduce(values, ReduceOp.AVG)
            logs.update({k: float(v) for k, v in zip(keys, averaged)})


def prepare(model, x, y, batch_size: int, shuffle: bool, callbacks: list, verbose: int):
    """(loader, leading callbacks, the user's callbacks this rank runs, verbose, the loss check, the metrics'
    merge) for a data-parallel fit."""
    from ember.data import DataLoader, Dataset, DistributedSampler, IterableDataset, TensorDataset

    if isinstance(x, (DataLoader, IterableDataset)):
        raise ValueError("fit: in a multi-rank job pass arrays or a map-style Dataset (each rank then reads its "
                         "share), or give your DataLoader a DistributedSampler and call it per rank yourself")
    if not isinstance(x, Dataset):
        if y is not None and len(x) != len(y):
            raise ValueError(f"fit: x has {len(x)} samples but y has {len(y)}")
        x = TensorDataset(x) if y is None else TensorDataset(x, y)
    group = default_group()  # the ranks that average gradients share the data, whatever the environment says
    sampler = DistributedSampler(x, num_replicas=group.size, rank=group.rank, shuffle=shuffle)
    loader = DataLoader(x, batch_size=batch_size, sampler=sampler)
    modules = [(name or type(m).__name__, m) for name, m in model.net.named_modules()]
    holders = [name for name, m in modules if getattr(m, "sharded", False) is True]
    served = [name for name, m in modules if type(m).__name__ == "PSEmbedding"]
    writers = [type(cb).__name__ for cb in callbacks if getattr(cb, "writes_files", False)]
    if served and writers:
        raise ValueError(f"fit: {writers} would save none of the rows of {served}, which live on the parameter servers")
    if holders and writers:
        raise ValueError(f"fit: {writers} would save only rank 0's rows of the distributed table(s) {holders}; save "
                         "with dist.checkpoint.save(directory, model.net, optimizer) on every rank instead")
    if getattr(model, "_data_parallel", None) is None:
        model._data_parallel = DistributedDataParallel(model.net)
    lead = group.rank == 0
    kept = [cb for cb in callbacks if lead or not getattr(cb, "writes_files", False)]
    average = _AverageLogs(sampler)
    return loader, [average], kept, verbose if lead else 0, _loss_anywhere, average.merge_metrics


def _loss_anywhere(value: float) -> float:
    """This rank's loss, or NaN when any rank's is not finite: every rank then stops at the same step."""
    bad = default_group().all_reduce(np.array([0.0 if np.isfinite(value) else 1.0]), ReduceOp.MAX)[0]
    return float("nan") if bad else value

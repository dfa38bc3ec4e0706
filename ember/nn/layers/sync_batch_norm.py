"""SyncBatchNorm: batch normalization whose training statistics cover the batches of every data-parallel rank.

Each rank computes its batch's per-channel count, mean and sum of squared deviations (two passes, so no
cancellation), and one ``all_gather`` gives every rank all of them; Chan's formula combines them into the mean
and variance of the concatenated batch. Composed of Ember ops and the differentiable ``all_gather`` (whose vjp is
one ``reduce_scatter``), the gradient is batch norm's over the concatenated batch: one collective forward, one
backward. The collective is looked up in the op registry (``ember.distributed`` registers it): this layer sits
below ``ember.distributed`` and never imports it.
"""

from __future__ import annotations

import sys

from ember import ops as _ops
from ember.autograd import apply, no_grad
from ember.backend.dtypes import LOW_PRECISION, float32
from ember.creation import full
from ember.nn.layers.normalization import _BatchNorm
from ember.nn.module import Module
from ember.ops.reduction import reciprocal_count
from ember.ops.registry import REGISTRY
from ember.tensor import Tensor


def _data_parallel_ranks(process_group) -> int:
    """How many ranks share the statistics: the default group's size, 1 without one."""
    dist = sys.modules.get("ember.distributed")  # imported by any job that initialized a group
    if dist is None or not dist.is_initialized():
        return 1
    group = dist.default_group()
    if process_group is not None and process_group is not group:
        raise ValueError("SyncBatchNorm: process_group must be None or the default group (the collective ops run "
                         "on it)")
    if group.world.num_servers:
        raise RuntimeError("SyncBatchNorm: a parameter-server job's default group holds the servers, which run no "
                           "forward; use BatchNorm there")
    return group.size


def _check_group(process_group) -> None:
    if process_group is not None and type(process_group).__name__ != "ProcessGroup":
        raise TypeError(f"SyncBatchNorm: process_group must be None or a ProcessGroup, got "
                        f"{type(process_group).__name__}")


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, ...) input whose training statistics are those of all ranks' batches
    together (PyTorch's ``nn.SyncBatchNorm``): in a data-parallel job its outputs, running statistics and
    gradients are one ``BatchNorm`` over the concatenated batch. In evaluation, and in a job of one process, it
    is plain batch norm. ``process_group``: None or the default group.

    >>> net = nn.SyncBatchNorm.convert_sync_batchnorm(net)   # every BatchNorm of net, with its state
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        _check_group(process_group)
        self.process_group = process_group

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2-D input (N, C, ...), got shape {list(x.shape)}")

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or _data_parallel_ranks(self.process_group) == 1:
            return super().forward(x)
        self._check_input(x)
        return _sync_batch_norm(self, x)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` in it replaced by a ``SyncBatchNorm`` holding the
        same parameters (the same Parameter objects, so an optimizer built before keeps them), running statistics
        and training mode; returns the module (the new layer when ``module`` itself is a batch norm)."""
        _check_group(process_group)
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            converted.weight, converted.bias = module.weight, module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                converted.register_buffer(name, getattr(module, name))
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted


def _sync_batch_norm(bn: SyncBatchNorm, x: Tensor) -> Tensor:
    """Training batch norm with the statistics of every rank's batch (one all_gather)."""
    gather = REGISTRY["all_gather"]
    channels = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    stat_shape = (1, channels) + (1,) * (x.ndim - 2)
    work = x if x.dtype not in LOW_PRECISION else _ops.cast(x, float32)  # statistics in float32, as BatchNorm's
    known = x.array.size  # None in a graph with an unknown dimension: the count is read when it runs
    # a rank with no rows this step (the end of an uneven dataset) still joins the collective with count 0 and
    # zero statistics, adding nothing, as PyTorch's
    local_mean = _ops.mean(work, axes, keepdims=True) if known != 0 else _ops.sum(work, axes, keepdims=True)
    centred = work - local_mean
    local_m2 = _ops.sum(centred * centred, axes)
    count = _ops.reshape(_ops.round(1.0 / reciprocal_count(work, axes)), (1,)) if known is None else \
        full((1,), float(known // channels), dtype=work.dtype, device=x.device)
    mine = _ops.concat([_ops.reshape(local_mean, (channels,)), local_m2, count], axis=0)
    every = apply(gather, (mine,))  # (ranks, 2C + 1): each rank's mean, squared deviations and count
    means, m2s, counts = every[:, :channels], every[:, channels : 2 * channels], every[:, 2 * channels :]
    total = _ops.sum(counts)
    if not x.symbolic and float(total.item()) <= 1:
        raise ValueError(f"SyncBatchNorm: training needs more than one value per channel over all ranks, got "
                         f"{int(total.item())} (input {list(x.shape)} here)")
    mean = _ops.sum(means * counts, 0) / total
    spread = means - mean
    m2 = _ops.sum(m2s + counts * spread * spread, 0)
    if bn.track_running_stats:
        _update_running_stats(bn, mean, m2, total)
    rstd = _ops.rsqrt(m2 / total + bn.eps)
    scale = rstd if bn.weight is None else rstd * _ops.cast(bn.weight, work.dtype)
    out = (work - _ops.reshape(mean, stat_shape)) * _ops.reshape(scale, stat_shape)
    if bn.bias is not None:
        out = out + _ops.reshape(_ops.cast(bn.bias, work.dtype), stat_shape)
    return out if out.dtype == x.dtype else _ops.cast(out, x.dtype)


def _update_running_stats(bn: SyncBatchNorm, mean: Tensor, m2: Tensor, total: Tensor) -> None:
    """BatchNorm's update from the global statistics: the variance unbiased over the global count, the counter
    advanced, ``momentum=None`` a cumulative average."""
    with no_grad():
        batches = bn.num_batches_tracked + 1
        _ops.assign(bn.num_batches_tracked, batches)
        m = bn.momentum
        if m is None:
            m = 1.0 / _ops.cast(batches, mean.dtype)
        _ops.assign(bn.running_mean, bn.running_mean * (1.0 - m) + mean * m)
        _ops.assign(bn.running_var, bn.running_var * (1.0 - m) + m2 / (total - 1.0) * m)


__all__ = ["SyncBatchNorm"]

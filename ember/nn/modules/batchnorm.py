"""PyTorch's ``torch.nn.modules.batchnorm`` path to batch normalisation: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    LazyBatchNorm1d,
    LazyBatchNorm2d,
    LazyBatchNorm3d,
    SyncBatchNorm,
)
from ember.nn.layers.normalization import _BatchNorm, _NormBase

__all__ = [
    "_NormBase", "_BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d", "SyncBatchNorm",
]

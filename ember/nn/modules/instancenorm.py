"""PyTorch's ``torch.nn.modules.instancenorm`` path to instance normalisation: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import (
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LazyInstanceNorm1d,
    LazyInstanceNorm2d,
    LazyInstanceNorm3d,
)
from ember.nn.layers.normalization import _InstanceNorm

__all__ = [
    "_InstanceNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
    "LazyInstanceNorm2d", "LazyInstanceNorm3d",
]

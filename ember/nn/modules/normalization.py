"""PyTorch's ``torch.nn.modules.normalization`` path to the other normalisations: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import CrossMapLRN2d, GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm

__all__ = ["CrossMapLRN2d", "GroupNorm", "LayerNorm", "LocalResponseNorm", "RMSNorm"]

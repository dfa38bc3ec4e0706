"""PyTorch's ``torch.nn.modules.linear`` path to the linear layers: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import Bilinear, Identity, LazyLinear, Linear

__all__ = ["Bilinear", "Identity", "LazyLinear", "Linear"]

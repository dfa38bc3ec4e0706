"""PyTorch's ``torch.nn.modules.fold`` path to Fold and Unfold: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import Fold, Unfold

__all__ = ["Fold", "Unfold"]

"""PyTorch's ``torch.nn.modules.flatten`` path to Flatten and Unflatten: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]

"""PyTorch's ``torch.nn.modules.pixelshuffle`` path to the pixel shuffles: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import PixelShuffle, PixelUnshuffle

__all__ = ["PixelShuffle", "PixelUnshuffle"]

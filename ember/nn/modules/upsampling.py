"""PyTorch's ``torch.nn.modules.upsampling`` path to the upsampling layers: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]

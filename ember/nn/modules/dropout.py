"""PyTorch's ``torch.nn.modules.dropout`` path to the dropouts: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from ember.nn.layers.dropout import _DropoutNd

__all__ = ["_DropoutNd", "AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"]

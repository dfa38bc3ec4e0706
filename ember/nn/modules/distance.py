"""PyTorch's ``torch.nn.modules.distance`` path to the distances: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import CosineSimilarity, PairwiseDistance

__all__ = ["CosineSimilarity", "PairwiseDistance"]

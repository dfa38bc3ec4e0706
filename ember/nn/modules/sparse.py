"""PyTorch's ``torch.nn.modules.sparse`` path to the embeddings: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import Embedding, EmbeddingBag

__all__ = ["Embedding", "EmbeddingBag"]

"""Embeddings keyed by unbounded ids: dynamic hash tables with chunked row storage, optimizer slots beside
their rows, admission and eviction policies, and full and incremental checkpoints.

>>> emb = ember.embedding.HashEmbedding(16, seed=0)
>>> opt = ember.optim.Adagrad(emb.parameters(), lr=0.05)
>>> loss = emb(np.array([3, 10**15, 3])).sum()
>>> loss.backward(); opt.step()
"""

import sys
import types

from ember.embedding.admission import CountingBloomFilter, CountThreshold, Probability
from ember.embedding.checkpoint import load_checkpoint, save_checkpoint
from ember.embedding.eviction import L2Norm, StepTTL
from ember.embedding.hashing import hash_strings
from ember.embedding.initializers import Constant, Normal, TruncatedNormal, Uniform
from ember.embedding.layers import HashEmbedding, HashEmbeddingBag
from ember.embedding.lookup import HashTableParameter
from ember.embedding.table import HashTable

__all__ = [
    "Constant", "CountThreshold", "CountingBloomFilter", "HashEmbedding", "HashEmbeddingBag", "HashTable",
    "HashTableParameter", "L2Norm", "Normal", "Probability", "StepTTL", "TruncatedNormal", "Uniform", "hash_strings",
    "load_checkpoint", "save_checkpoint",
]


class _CallableModule(types.ModuleType):
    """``ember.embedding`` is this package and, called, still the ``embedding`` op (``ember.ops.embedding``),
    which it shadows in the ``ember`` namespace."""

    def __call__(self, ids, weight, sparse: bool = False, padding_idx: int | None = None,
                 scale_grad_by_freq: bool = False):
        from ember.ops import embedding

        return embedding(ids, weight, sparse, padding_idx, scale_grad_by_freq)


sys.modules[__name__].__class__ = _CallableModule

"""PyTorch's ``torch.nn.modules.transformer`` path to the transformer layers: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer",
]

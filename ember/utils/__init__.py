"""``ember.utils``: PyTorch's ``torch.utils`` paths (``ember.utils.data`` is ``ember.data``), and
``ember.utils.checkpoint`` (activation checkpointing)."""

from ember.utils import checkpoint, data

__all__ = ["checkpoint", "data"]

"""PyTorch's ``torch.nn.modules`` path, for code that imports from it (``ember.nn.modules.module``)."""

from ember.nn.modules import module

__all__ = ["module"]

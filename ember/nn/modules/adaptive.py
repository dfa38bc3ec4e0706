"""PyTorch's ``torch.nn.modules.adaptive`` path to the adaptive log-softmax: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import AdaptiveLogSoftmaxWithLoss

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

"""PyTorch's ``torch.nn.modules.channelshuffle`` path to the channel shuffle: the objects of ``ember.nn``."""

from __future__ import annotations

from ember.nn import ChannelShuffle

__all__ = ["ChannelShuffle"]

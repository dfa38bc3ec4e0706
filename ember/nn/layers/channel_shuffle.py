"""``channel_shuffle`` (listed in ``nn.functional``) and ``ChannelShuffle``: ShuffleNet's interleaving of channel
groups, one reshape, one transpose and one reshape."""

from __future__ import annotations

from ember import ops as _ops
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = ["ChannelShuffle", "channel_shuffle"]


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, C, *) with C = groups * k: channel ``g * k + i`` moves to ``i * groups + g``, so each of the next
    grouped convolution's groups sees channels from every group of the last.

    >>> ember.nn.functional.channel_shuffle(ember.arange(4.0).reshape(1, 4, 1), 2).flatten()
    tensor([0., 2., 1., 3.])
    """
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"channel_shuffle: groups must be a positive int, got {groups!r}")
    if input.ndim < 3:
        raise ValueError(f"channel_shuffle: input must be (N, C, *) with at least 3 dimensions, got shape "
                         f"{list(input.shape)}")
    channels, rest = input.shape[1], tuple(input.shape[2:])
    if channels % groups:
        raise ValueError(f"channel_shuffle: the {channels} channels of input {list(input.shape)} do not divide into "
                         f"{groups} groups")
    y = _ops.reshape(input, (-1, groups, channels // groups, *rest))
    # the copy made here, not left to the reshape: it keeps a view where the swap moves a dimension of 1
    return _ops.reshape(_ops.clone(_ops.swapaxes(y, 1, 2)), (-1, channels, *rest))


class ChannelShuffle(Module):
    """Interleaves ``groups`` groups of channels (see ``channel_shuffle``).

    >>> ember.nn.ChannelShuffle(2)(ember.randn(1, 4, 3, 3)).shape
    (1, 4, 3, 3)
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"ChannelShuffle: groups must be a positive int, got {groups!r}")
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"

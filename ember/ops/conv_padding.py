"""PyTorch's conveniences around the convolution and pooling ops: the string paddings of convolutions ('valid',
'same') and unbatched inputs (no batch axis), which run as a batch of one."""

from __future__ import annotations

from collections.abc import Callable

from ember.ops.dispatch import TensorLike
from ember.ops.shape import reshape


def same_padding(name: str, padding: str, kernel_size: tuple, stride: tuple, dilation: tuple) -> tuple:
    """The op's symmetric padding for PyTorch's string ``padding``, and the input's extra (before, after) pads per
    spatial axis (None when there are none). 'valid' pads nothing; 'same' (stride 1 only) keeps each size:
    dilation * (kernel - 1) elements in all, half on each side and the odd one of an uneven total on the far side,
    where PyTorch puts it.

    >>> same_padding("conv1d", "same", (4,), (1,), (1,))
    ((1,), ((0, 1),))
    """
    rank = len(kernel_size)
    if padding == "valid":
        return (0,) * rank, None
    if padding != "same":
        raise ValueError(f"{name}: padding must be 'valid', 'same' or ints, got {padding!r}")
    if any(s != 1 for s in stride):
        raise ValueError(f"{name}: padding='same' needs stride 1, got stride {tuple(stride)}")
    totals = [d * (k - 1) for d, k in zip(dilation, kernel_size)]
    extra = tuple((0, t % 2) for t in totals) if any(t % 2 for t in totals) else None
    return tuple(t // 2 for t in totals), extra


def pad_for_string(name: str, x: TensorLike, weight: TensorLike, padding: str, stride: tuple,
                   dilation: tuple) -> tuple:
    """``x`` with the far-side pads of an uneven 'same' padding added, and the op's symmetric padding."""
    rank = len(stride)
    if weight.ndim != rank + 2:
        raise ValueError(f"{name}: weight must be {rank + 2}-D (O, C/groups, *kernel), got shape {list(weight.shape)}")
    op_padding, extra = same_padding(name, padding, tuple(weight.shape[2:]), stride, dilation)
    if extra is not None:
        from ember.ops.indexing import pad

        x = pad(x, ((0, 0),) * (x.ndim - rank) + extra)
    return x, op_padding


def unbatched(fn: Callable, x: TensorLike, *args, **kwargs):
    """``fn`` on ``x`` given a batch axis of one, the axis dropped from its result (or from each of a tuple's
    results: values and indices): PyTorch's unbatched (C, *spatial) inputs."""
    y = fn(reshape(x, (1,) + tuple(x.shape)), *args, **kwargs)
    if isinstance(y, tuple):
        return tuple(reshape(v, tuple(v.shape[1:])) for v in y)
    return reshape(y, tuple(y.shape[1:]))

"""Sliding blocks: ``unfold`` (im2col) and ``fold`` (col2im, summing where blocks overlap), listed in
``nn.functional``, and their modules. ``unfold`` stacks each kernel offset's strided slice of the padded plane and
``fold`` shifts and adds them back, so gradients, ``ember.jit`` and export follow from slicing, ``pad``, reshapes
and sums, and a NaN or inf stays in the blocks that hold it (a convolution with one-hot weights would carry it into
every channel through the zeros)."""

from __future__ import annotations

from ember import ops as _ops
from ember.nn.module import Module
from ember.ops.conv import pair
from ember.ops.conv_padding import unbatched
from ember.tensor import Tensor


def _args(name: str, kernel_size, dilation, padding, stride) -> tuple:
    return (pair(name, "kernel_size", kernel_size, 1), pair(name, "dilation", dilation, 1),
            pair(name, "padding", padding, 0), pair(name, "stride", stride, 1))


def _offsets(kernel: tuple, dilation: tuple) -> list:
    """Each kernel offset's first row and column in the padded plane, row-major (PyTorch's column order)."""
    return [(i * dilation[0], j * dilation[1]) for i in range(kernel[0]) for j in range(kernel[1])]


def _blocks(name: str, size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple) -> tuple:
    """The number of block positions along each spatial axis of an input of spatial ``size``."""
    blocks = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                   for n, k, d, p, s in zip(size, kernel, dilation, padding, stride))
    if min(blocks) < 1:
        raise ValueError(f"{name}: kernel_size {kernel} with dilation {dilation} does not fit the padded spatial "
                         f"size {tuple(n + 2 * p for n, p in zip(size, padding))}")
    return blocks


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks of (N, C, H, W) input as columns: (N, C kh kw, L), L the number of block positions, channel
    ``c kh kw + i kw + j`` holding channel c at kernel offset (i, j), as PyTorch's; unbatched (C, H, W) input gives
    (C kh kw, L).

    >>> ember.nn.functional.unfold(ember.randn(2, 3, 5, 5), kernel_size=2).shape
    (2, 12, 16)
    """
    kernel, dilation, padding, stride = _args("unfold", kernel_size, dilation, padding, stride)
    if input.ndim == 3:
        return unbatched(unfold, input, kernel, dilation, padding, stride)
    if input.ndim != 4:
        raise ValueError(f"unfold: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {list(input.shape)}")
    n, c, h, w = input.shape
    bh, bw = _blocks("unfold", (h, w), kernel, dilation, padding, stride)
    padded = _ops.pad(input, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    slices = [padded[:, :, r:r + stride[0] * (bh - 1) + 1:stride[0], q:q + stride[1] * (bw - 1) + 1:stride[1]]
              for r, q in _offsets(kernel, dilation)]
    return _ops.reshape(_ops.stack(slices, 2), (n, c * len(slices), bh * bw))


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The adjoint of ``unfold``: columns (N, C kh kw, L) summed back into (N, C, H, W), ``output_size`` (H, W);
    values of overlapping blocks add up. Unbatched (C kh kw, L) input gives (C, H, W).

    >>> ember.nn.functional.fold(ember.randn(2, 12, 16), output_size=5, kernel_size=2).shape
    (2, 3, 5, 5)
    """
    size = pair("fold", "output_size", output_size, 1)
    kernel, dilation, padding, stride = _args("fold", kernel_size, dilation, padding, stride)
    if input.ndim == 2:
        return unbatched(fold, input, size, kernel, dilation, padding, stride)
    if input.ndim != 3:
        raise ValueError(f"fold: input must be 3-D (N, C * kh * kw, L) or 2-D (C * kh * kw, L), got shape "
                         f"{list(input.shape)}")
    n, ck, length = input.shape
    k = kernel[0] * kernel[1]
    if ck % k:
        raise ValueError(f"fold: input's dimension 1 ({ck}) must be divisible by kh * kw = {k} for kernel_size "
                         f"{kernel}, got shape {list(input.shape)}")
    blocks = _blocks("fold", size, kernel, dilation, padding, stride)
    if length != blocks[0] * blocks[1]:
        raise ValueError(f"fold: input's dimension 2 (L = {length}) must be the number of blocks, "
                         f"{blocks[0]} * {blocks[1]} = {blocks[0] * blocks[1]}, for output_size {size}, kernel_size "
                         f"{kernel}, dilation {dilation}, padding {padding} and stride {stride}; got shape "
                         f"{list(input.shape)}")
    (bh, bw), c = blocks, ck // k
    rows, cols = stride[0] * (bh - 1) + 1, stride[1] * (bw - 1) + 1
    # each offset's blocks spread stride apart (zeros padded in between), then shifted to the offset and summed
    grid = _ops.reshape(input, (n, c, kernel[0], kernel[1], bh, 1, bw, 1))
    spread = _ops.pad(grid, ((0, 0),) * 5 + ((0, stride[0] - 1), (0, 0), (0, stride[1] - 1)))
    spread = _ops.reshape(spread, (n, c, kernel[0], kernel[1], bh * stride[0], bw * stride[1]))[..., :rows, :cols]
    across = _shift_sum(_ops.transpose(spread, (0, 1, 2, 4, 3, 5)), dilation[1])  # (N, C, kh, rows, W reached)
    out = _ops.transpose(_shift_sum(_ops.transpose(across, (0, 1, 4, 2, 3)), dilation[0]), (0, 1, 3, 2))
    height, width = size[0] + 2 * padding[0], size[1] + 2 * padding[1]
    out = _ops.pad(out, ((0, 0), (0, 0), (0, height - out.shape[2]), (0, width - out.shape[3])))
    out = out[:, :, padding[0]:padding[0] + size[0], padding[1]:padding[1] + size[1]]
    # the sums of bool or small-integer columns come back int64: overlaps add up in input's dtype, as PyTorch's
    # col2im (bool: any block that holds True)
    return out if out.dtype == input.dtype else _ops.cast(out, input.dtype)


def _shift_sum(x: Tensor, step: int) -> Tensor:
    """The sum over the second-last axis of ``x`` (..., k, L), slice i shifted ``i * step`` along the last axis:
    (..., L + (k - 1) step). Each slice padded to ``L + k step`` and the rows read ``step`` shorter (the skew of a
    reshape) lines them up: no product, so a NaN or inf stays where it is."""
    lead, (k, length) = tuple(x.shape[:-2]), tuple(x.shape[-2:])
    width = length + k * step
    flat = _ops.reshape(_ops.pad(x, ((0, 0),) * (x.ndim - 1) + ((0, k * step),)), lead + (k * width,))
    return _ops.sum(_ops.reshape(flat[..., :k * (width - step)], lead + (k, width - step)), -2)


class Unfold(Module):
    """Extract sliding blocks (see ``unfold``).

    >>> ember.nn.Unfold(kernel_size=(2, 3))(ember.randn(2, 3, 5, 5)).shape
    (2, 18, 12)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, stride={self.stride}"


class Fold(Module):
    """Sum sliding blocks back into an image (see ``fold``).

    >>> ember.nn.Fold(output_size=5, kernel_size=2)(ember.randn(2, 12, 16)).shape
    (2, 3, 5, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")

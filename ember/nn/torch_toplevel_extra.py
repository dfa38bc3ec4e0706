"""More of PyTorch's top-level spellings of ``nn.functional`` functions, with the argument orders and results of
PyTorch's top-level forms: ``alpha_dropout``/``feature_alpha_dropout`` (``train`` required), ``bilinear``,
``embedding_bag`` (weight first, ``mode`` as 0 sum, 1 mean, 2 max, four results), ``adaptive_max_pool1d`` and
``max_pool1d_with_indices`` (values and indices).

>>> values, indices = ember.adaptive_max_pool1d(ember.randn(2, 3, 8), 3)
"""

from __future__ import annotations

import numpy as np

from ember.creation import from_numpy
from ember.nn import functional as F
from ember.nn.layers.embedding_bag import _bags
from ember.tensor import Tensor

__all__ = [
    "adaptive_max_pool1d", "alpha_dropout", "bilinear", "embedding_bag", "feature_alpha_dropout",
    "max_pool1d_with_indices",
]

_MODES = {0: "sum", 1: "mean", 2: "max"}


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``nn.functional.alpha_dropout(input, p, training=train)``."""
    return F.alpha_dropout(input, p, train)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """``nn.functional.feature_alpha_dropout(input, p, training=train)``."""
    return F.feature_alpha_dropout(input, p, train)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``nn.functional.bilinear``."""
    return F.bilinear(input1, input2, weight, bias)


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple:
    """``nn.functional.adaptive_max_pool1d`` with ``return_indices=True``: (values, indices)."""
    if not isinstance(output_size, int):
        (output_size,) = output_size
    return F.adaptive_max_pool1d(input, output_size, True)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode: bool = False) -> tuple:
    """``nn.functional.max_pool1d_with_indices`` (an empty ``stride``, the default, is the kernel size)."""
    return F.max_pool1d_with_indices(input, kernel_size, stride if stride not in ((), []) else None, padding,
                                     dilation, ceil_mode)


def _mode(mode) -> str:
    if isinstance(mode, str) and mode in _MODES.values():
        return mode
    if isinstance(mode, bool) or mode not in _MODES:
        raise ValueError(f"embedding_bag: mode must be 0 (sum), 1 (mean), 2 (max) or one of their names, got {mode!r}")
    return _MODES[mode]


def _max_rows(ids: np.ndarray, bag_ids: np.ndarray, rows: np.ndarray, num_bags: int) -> np.ndarray:
    """For each bag and column, the id whose row holds the first maximum (0 for an empty bag)."""
    chosen = np.zeros((num_bags, rows.shape[1]), np.int64)
    for bag in range(num_bags):
        members = ids[bag_ids == bag]
        if members.size:
            chosen[bag] = members[np.argmax(rows[members], axis=0)]
    return chosen


def embedding_bag(weight: Tensor, indices: Tensor, offsets: Tensor | None, scale_grad_by_freq: bool = False,
                  mode=0, sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> tuple:
    """``torch.embedding_bag``: ``nn.functional.embedding_bag``'s bags as four tensors, ``(output, offset2bag,
    bag_size, max_indices)``: the reduced rows (differentiable), the bag of each index, the number of indices
    (padding left out) in each bag, and for ``mode`` 2 (max) the id each output element was taken from (else
    ``bag_size`` again). PyTorch's sum mode leaves the last three empty or zero on its fast path; here they are
    always filled.

    >>> out, offset2bag, bag_size, _ = ember.embedding_bag(ember.randn(10, 3), ember.tensor([1, 2, 4]),
    ...                                                    ember.tensor([0, 2]), mode=1)
    """
    name = _mode(mode)
    output = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, name, sparse, per_sample_weights,
                             include_last_offset, padding_idx)
    ids, bag_ids, num_bags = _bags("embedding_bag", indices, offsets, include_last_offset)
    counted = ids != padding_idx % weight.shape[0] if padding_idx is not None else np.ones(ids.shape, bool)
    bag_size = np.bincount(bag_ids[counted], minlength=num_bags).astype(np.int64)
    if name == "max":
        rows = weight.detach().numpy() if weight.device.type == "cpu" else weight.detach().cpu().numpy()
        max_indices = _max_rows(ids[counted], bag_ids[counted], rows, num_bags)
    else:
        max_indices = bag_size.copy()
    return output, from_numpy(bag_ids.astype(np.int64)), from_numpy(bag_size), from_numpy(max_indices)

"""PyTorch's deprecated spellings of ``interpolate``: ``upsample``, ``upsample_nearest`` and ``upsample_bilinear``
(the last with ``align_corners=True``, as PyTorch's). Each warns, as PyTorch's do, and calls ``interpolate``."""

from __future__ import annotations

import warnings

from ember.nn.layers.upsampling import interpolate
from ember.tensor import Tensor

__all__ = ["upsample", "upsample_bilinear", "upsample_nearest"]


def _deprecated(name: str) -> None:
    warnings.warn(f"nn.functional.{name} is deprecated (as in PyTorch); use nn.functional.interpolate",
                  UserWarning, stacklevel=3)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """``interpolate(input, size, scale_factor, mode, align_corners)``, with a deprecation warning.

    >>> F.upsample(ember.ones(1, 1, 2, 2), scale_factor=2).shape
    (1, 1, 4, 4)
    """
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(input, size, scale_factor, mode="nearest")``, with a deprecation warning.

    >>> F.upsample_nearest(ember.ones(1, 1, 2, 2), scale_factor=2).shape
    (1, 1, 4, 4)
    """
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """``interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)`` of a 4-D input, with a
    deprecation warning.

    >>> F.upsample_bilinear(ember.ones(1, 1, 2, 2), scale_factor=2).shape
    (1, 1, 4, 4)
    """
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)

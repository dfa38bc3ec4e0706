"""Dropout of elements (``Dropout``, ``AlphaDropout``) and of whole channels (``Dropout1d``/``2d``/``3d``,
``FeatureAlphaDropout``), with PyTorch's functional forms and input-rank rules."""

from __future__ import annotations

import math
import warnings

from ember import ops as _ops
from ember.creation import ones
from ember.nn.layers.inplace_result import in_place
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = [
    "AlphaDropout", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout", "alpha_dropout",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout",
]

# SELU's alpha * scale: alpha dropout sets a dropped element to -_ALPHA, the SELU's negative saturation value
_ALPHA = 1.7580993408473766


def _check_p(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: p must be in [0, 1], got {p}")


def _keep(x: Tensor, shape: tuple, p: float) -> Tensor:
    """A 0/1 mask of ``shape`` in x's dtype, each element kept with probability 1 - p (a ``random`` op, so a graph
    draws a new one on every run)."""
    scaled = _ops.dropout(ones(shape, dtype=x.dtype, device=x.device), p, True)
    return _ops.cast(_ops.gt(scaled, 0.0), x.dtype)


def _feature_shape(x: Tensor, batched: bool) -> tuple:
    """The mask's shape: one value per (sample, channel), or per channel of an unbatched input."""
    lead = 2 if batched else 1
    return tuple(x.shape[:lead]) + (1,) * (x.ndim - lead)


def _feature_dropout(x: Tensor, p: float, training: bool, batched: bool, inplace: bool) -> Tensor:
    if not training or p == 0.0:
        return x
    if x.ndim < (2 if batched else 1):
        raise ValueError(f"feature dropout: needs a channel dimension and at least 2 dimensions, got shape "
                         f"{list(x.shape)}")
    result = x * 0.0 if p == 1.0 else x * (_keep(x, _feature_shape(x, batched), p) * (1.0 / (1.0 - p)))
    return in_place(x, result, "dropout") if inplace else result


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p), when training; ``inplace``
    writes the result into ``input`` (see ``inplace_result.in_place``).

    >>> F.dropout(ember.ones(4), 0.5, training=False).sum()
    """
    result = _ops.dropout(input, p, training)
    return in_place(input, result, "dropout") if inplace and result is not input else result


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) inputs with probability ``p`` and scale the rest by 1 / (1 - p).

    >>> F.dropout1d(ember.ones(8, 16, 4), 0.2).shape
    (8, 16, 4)
    """
    return _channel_dropout("dropout1d", input, p, training, inplace, 1)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) inputs with probability ``p`` and scale the rest by 1 / (1 - p).

    As PyTorch's, a 3-D input is taken as (N, C, L), with a warning, and other ranks as (N, C, ...), with a warning.

    >>> F.dropout2d(ember.ones(8, 16, 4, 4), 0.2).shape
    (8, 16, 4, 4)
    """
    return _channel_dropout("dropout2d", input, p, training, inplace, 2)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs with probability ``p`` and scale the rest by
    1 / (1 - p); other ranks are taken as unbatched (C, ...), with a warning, as PyTorch's.

    >>> F.dropout3d(ember.ones(2, 16, 3, 4, 4), 0.2).shape
    (2, 16, 3, 4, 4)
    """
    return _channel_dropout("dropout3d", input, p, training, inplace, 3)


def _channel_dropout(name: str, x: Tensor, p: float, training: bool, inplace: bool, spatial: int) -> Tensor:
    _check_p(name, p)
    ranks = (spatial + 1, spatial + 2)
    # PyTorch's rules: dropout2d takes every input as batched, the others only one of spatial + 2 dimensions
    batched = spatial == 2 or x.ndim == spatial + 2
    if x.ndim not in ranks:
        if spatial == 1:
            raise ValueError(f"{name}: expected (N, C, L) or (C, L) inputs, got shape {list(x.shape)}")
        layout = "(N, C, ...)" if batched else "(C, ...)"
        warnings.warn(f"{name}: an input of {x.ndim} dimensions (shape {list(x.shape)}) is taken as {layout}, as "
                      f"PyTorch does; {name} is meant for {ranks[0]}-D or {ranks[1]}-D inputs, and dropout drops "
                      "single elements", UserWarning, stacklevel=3)
    elif spatial == 2 and x.ndim == 3:
        warnings.warn(f"{name}: a 3-D input (shape {list(x.shape)}) is taken as (N, C, L), as PyTorch does for "
                      "now (it plans to read it as an unbatched (C, H, W)); use dropout1d for channel dropout of "
                      "(N, C, L)", UserWarning, stacklevel=3)
    return _feature_dropout(x, p, training, batched, inplace)


def _alpha(name: str, x: Tensor, p: float, training: bool, inplace: bool, shape) -> Tensor:
    _check_p(name, p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        result = x * 0.0
    else:
        keep = _keep(x, shape(x), p)
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
        # kept elements become a * x + a * alpha * p, dropped ones -a * alpha * (1 - p): mean and variance kept
        result = (x * keep + (keep + (p - 1.0)) * _ALPHA) * a
    return in_place(x, result, name) if inplace else result


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: in training each element is set to SELU's negative saturation value with
    probability ``p`` and all are scaled and shifted so that the mean and variance stay as they were.

    >>> F.alpha_dropout(ember.randn(4, 8), 0.2, training=True).shape
    (4, 8)
    """
    return _alpha("alpha_dropout", input, p, training, inplace, lambda x: tuple(x.shape))


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """``alpha_dropout`` of whole channels of an (N, C, ...) input (at least 2 dimensions).

    >>> F.feature_alpha_dropout(ember.randn(2, 3, 4), 0.2, training=True).shape
    (2, 3, 4)
    """
    if training and p not in (0.0, 1.0) and input.ndim < 2:
        raise ValueError(f"feature_alpha_dropout: needs an (N, C, ...) input of at least 2 dimensions, got shape "
                         f"{list(input.shape)}")
    return _alpha("feature_alpha_dropout", input, p, training, inplace, lambda x: _feature_shape(x, True))


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        _check_p(type(self).__name__, p)
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability ``p`` and scale the rest by 1 / (1 - p);
    in evaluation, the identity.

    >>> drop = ember.nn.Dropout(0.1)
    >>> drop.eval()(ember.ones(4)).sum()
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:  # (the common evaluation call, without the function's checks)
            return x
        return dropout(x, self.p, True, self.inplace)


class Dropout1d(_DropoutNd):
    """In training, zero whole channels of (N, C, L) (or (C, L)) inputs with probability ``p`` and scale the rest
    by 1 / (1 - p); in evaluation, the identity.

    >>> drop = ember.nn.Dropout1d(0.2)
    >>> drop(ember.ones(8, 16, 4)).shape
    (8, 16, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in (2, 3):
            raise ValueError(f"Dropout1d: expected (N, C, L) or (C, L) inputs, got shape {list(x.shape)}")
        return dropout1d(x, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """In training, zero whole channels of (N, C, H, W) inputs with probability ``p`` and scale the rest by
    1 / (1 - p); in evaluation, the identity. Other ranks as ``dropout2d``'s (PyTorch's).

    >>> drop = ember.nn.Dropout2d(0.2)
    >>> drop(ember.ones(8, 16, 4, 4)).shape
    (8, 16, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return dropout2d(x, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """In training, zero whole channels of (N, C, D, H, W) (or (C, D, H, W)) inputs with probability ``p`` and
    scale the rest by 1 / (1 - p); in evaluation, the identity.

    >>> drop = ember.nn.Dropout3d(0.2)
    >>> drop(ember.ones(2, 16, 3, 4, 4)).shape
    (2, 16, 3, 4, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return dropout3d(x, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """``alpha_dropout`` in training, the identity in evaluation (for SELU networks).

    >>> ember.nn.AlphaDropout(0.2)(ember.randn(4, 8)).shape
    (4, 8)
    """

    def forward(self, x: Tensor) -> Tensor:
        return alpha_dropout(x, self.p, self.training, self.inplace)


class FeatureAlphaDropout(_DropoutNd):
    """``feature_alpha_dropout`` in training (whole channels), the identity in evaluation.

    >>> ember.nn.FeatureAlphaDropout(0.2)(ember.randn(2, 3, 4)).shape
    (2, 3, 4)
    """

    def forward(self, x: Tensor) -> Tensor:
        return feature_alpha_dropout(x, self.p, self.training, self.inplace)

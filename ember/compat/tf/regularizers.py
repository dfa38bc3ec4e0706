"""TF-1's weight penalties (``tf.contrib.layers.l2_regularizer`` and the rest): functions of a variable that a
``get_variable(regularizer=...)`` or a layer's ``kernel_regularizer`` turns into a regularization loss."""

from __future__ import annotations

import numbers

import ember
from ember.compat.tf._core import Tensor, add_to_collection, as_tf, op

__all__ = ["apply_regularization", "l1_l2_regularizer", "l1_regularizer", "l2_regularizer", "sum_regularizer"]


def _check_scale(what: str, scale) -> float:
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool):
        raise TypeError(f"{what}: scale must be a number, got {scale!r}")
    if scale < 0:
        raise ValueError(f"{what}: scale must be non-negative, got {scale}")
    return float(scale)


def l2_regularizer(scale: float, scope=None):
    """``w -> scale * sum(w ** 2) / 2`` (``tf.nn.l2_loss``); a scale of 0 gives no penalty (None)."""
    scale = _check_scale("l2_regularizer", scale)

    def l2(weights) -> Tensor | None:
        if scale == 0.0:
            return None
        return op(lambda w: scale * ember.sum(w * w) / 2.0, (as_tf(weights),), name="l2_regularizer")

    return l2


def l1_regularizer(scale: float, scope=None):
    """``w -> scale * sum(|w|)``; a scale of 0 gives no penalty (None)."""
    scale = _check_scale("l1_regularizer", scale)

    def l1(weights) -> Tensor | None:
        if scale == 0.0:
            return None
        return op(lambda w: scale * ember.sum(ember.abs(w)), (as_tf(weights),), name="l1_regularizer")

    return l1


def l1_l2_regularizer(scale_l1: float = 1.0, scale_l2: float = 1.0, scope=None):
    """The sum of an l1 and an l2 penalty."""
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)])


def sum_regularizer(regularizer_list, scope=None):
    """The sum of the penalties the regularizers give (None when none gives one)."""
    regularizers = list(regularizer_list)

    def total(weights) -> Tensor | None:
        terms = [t for t in (r(weights) for r in regularizers) if t is not None]
        if not terms:
            return None
        return op(lambda *xs: sum(xs[1:], xs[0]), tuple(terms), name="sum_regularizer")

    return total


def apply_regularization(regularizer, weights_list=None) -> Tensor:
    """The sum of ``regularizer``'s penalties of ``weights_list`` (default: the graph's trainable weights named
    ``.../weights`` or ``.../kernel``), added to the regularization losses."""
    from ember.compat.tf.variables import trainable_variables

    if weights_list is None:
        weights_list = [v for v in trainable_variables() if v.op.name.rsplit("/", 1)[-1] in ("weights", "kernel")]
    if not weights_list:
        raise ValueError("apply_regularization: no weights to regularize")
    terms = [t for t in (regularizer(w) for w in weights_list) if t is not None]
    result = as_tf(0.0) if not terms else op(lambda *xs: sum(xs[1:], xs[0]), tuple(terms),
                                             name="get_regularization_penalty")
    add_to_collection("regularization_losses", result)
    return result

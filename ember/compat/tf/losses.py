"""``tf.losses``: TF-1's loss functions with ``weights`` and its reductions (default: the weighted sum
divided by the number of non-zero weights, which with the default ``weights=1.0`` is the mean)."""

from __future__ import annotations

import ember
from ember.compat.tf._core import Tensor, add_to_collection, as_tf, get_collection, op
from ember.compat.tf.array_ops import stop_gradient
from ember.compat.tf.nn import dense_cross_entropy, sparse_cross_entropy
from ember.ops.registry import ShapeError

LOSSES = "losses"  # tf.GraphKeys.LOSSES
REGULARIZATION_LOSSES = "regularization_losses"  # tf.GraphKeys.REGULARIZATION_LOSSES

__all__ = [
    "Reduction", "absolute_difference", "add_loss", "compute_weighted_loss", "cosine_distance", "get_losses",
    "get_regularization_loss", "get_regularization_losses", "get_total_loss", "hinge_loss", "huber_loss", "log_loss",
    "mean_squared_error", "sigmoid_cross_entropy", "softmax_cross_entropy", "sparse_softmax_cross_entropy",
]


class Reduction:
    NONE = "none"
    SUM = "weighted_sum"
    MEAN = "weighted_mean"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"


_REDUCTIONS = {Reduction.NONE, Reduction.SUM, Reduction.MEAN, Reduction.SUM_OVER_BATCH_SIZE,
               Reduction.SUM_BY_NONZERO_WEIGHTS}


def _reduce(losses, weights, reduction: str):
    weighted = losses * weights
    if reduction == Reduction.NONE:
        return weighted
    total = ember.sum(weighted)
    if reduction == Reduction.SUM:
        return total
    # means, not total / element count: the count is unknown while the graph is built (a None batch)
    if reduction == Reduction.SUM_OVER_BATCH_SIZE:
        return ember.mean(weighted)
    if isinstance(weights, float):  # one weight for every element
        if reduction == Reduction.MEAN:
            return ember.mean(weighted) / weights if weights else total * 0
        return ember.mean(weighted) if weights else total * 0
    full = ember.broadcast_to(weights, losses.shape)
    if reduction == Reduction.MEAN:
        denominator = ember.sum(full)
    else:
        denominator = ember.sum(ember.cast(ember.ne(full, 0), losses.dtype))
    return ember.where(denominator != 0, total / ember.where(denominator != 0, denominator, 1.0), total * 0)


def _check_weights(name: str, weights, losses) -> None:
    """TF-1's rule for ``weights``: a scalar, or the losses' rank with each dimension 1 or the losses' (NumPy
    broadcasting would weight a [batch] vector along the last axis of [batch, k] losses)."""
    ws, ls = tuple(weights.shape), tuple(losses.shape)
    if ws and (len(ws) != len(ls) or any(w not in (1, n) and None not in (w, n) for w, n in zip(ws, ls))):
        raise ShapeError(f"weights of shape {list(ws)} can not be broadcast to the tf.losses.{name} losses of "
                         f"shape {list(ls)}: give a scalar, or weights of the losses' rank whose dimensions are 1 "
                         "or the losses'")


def _shape_text(shape) -> str:
    return "<unknown>" if shape is None else str(["?" if d is None or not isinstance(d, int) else d for d in shape])


def _check_shapes(name: str, labels, predictions) -> None:
    """TF-1's ``predictions.get_shape().assert_is_compatible_with(labels.get_shape())``: one shape where both are
    known (NumPy broadcasting would pair [batch] labels with [batch, 1] predictions into [batch, batch] losses).
    Given tensors, it reads their static shapes; given a step's values, their sizes."""
    ls, ps = labels.shape, predictions.shape
    if ls is None or ps is None:
        return
    ls, ps = tuple(ls), tuple(ps)
    if len(ls) != len(ps) or any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(ps, ls)):
        raise ValueError(f"tf.losses.{name}: Shapes {_shape_text(ps)} and {_shape_text(ls)} are incompatible: the "
                         "predictions (logits) and labels must have one shape")


def _loss(name: str, per_element, labels, predictions, weights, reduction: str, loss_collection=LOSSES,
          same_shapes: bool = True) -> Tensor:
    """The reduced loss, added to ``loss_collection`` (None: to none), as TF-1's losses are; with
    ``same_shapes``, labels and predictions of different shapes are refused, as TF-1 does."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"tf.losses.{name}: unknown reduction {reduction!r}; use a tf.losses.Reduction value")
    labels, predictions = as_tf(labels), as_tf(predictions)
    if same_shapes:
        _check_shapes(name, labels, predictions)

        def elementwise(y, p):
            _check_shapes(name, y, p)  # (sizes the static shapes left unknown)
            return per_element(y, p)
    else:
        elementwise = per_element
    if isinstance(weights, (int, float)):
        weights = float(weights)
        loss = op(lambda y, p: _reduce(elementwise(y, p), weights, reduction), (labels, predictions), name=name)
    else:
        def fn(y, p, w):
            losses = elementwise(y, p)
            _check_weights(name, w, losses)
            return _reduce(losses, w, reduction)

        loss = op(fn, (labels, predictions, as_tf(weights)), name=name)
    if loss_collection is not None:
        add_to_collection(loss_collection, loss)
    return loss


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=LOSSES,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """(predictions - labels)^2, weighted and reduced."""
    return _loss("mean_squared_error", lambda y, p: (p - y) * (p - y), labels, predictions, weights, reduction,
                 loss_collection)


def absolute_difference(labels, predictions, weights=1.0, scope=None, loss_collection=LOSSES,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """|predictions - labels|, weighted and reduced."""
    return _loss("absolute_difference", lambda y, p: ember.abs(p - y), labels, predictions, weights, reduction,
                 loss_collection)


def huber_loss(labels, predictions, weights=1.0, delta: float = 1.0, scope=None, loss_collection=LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """0.5 d^2 within ``delta``, delta * (|d| - 0.5 delta) outside; weighted and reduced."""
    def per_element(y, p):
        d = ember.abs(p - y)
        quadratic = ember.minimum(d, delta)
        return 0.5 * quadratic * quadratic + delta * (d - quadratic)

    return _loss("huber_loss", per_element, labels, predictions, weights, reduction, loss_collection)


def log_loss(labels, predictions, weights=1.0, epsilon: float = 1e-7, scope=None, loss_collection=LOSSES,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """-y log(p + eps) - (1 - y) log(1 - p + eps), weighted and reduced."""
    return _loss("log_loss", lambda y, p: -y * ember.log(p + epsilon) - (1 - y) * ember.log(1 - p + epsilon),
                 labels, predictions, weights, reduction, loss_collection)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing: float = 0.0, scope=None,
                          loss_collection=LOSSES, reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Cross-entropy of softmax(logits) against one-hot (or soft) labels, one value per example; as TF-1's, no
    gradient reaches the labels."""
    onehot_labels = stop_gradient(onehot_labels)

    def per_example(y, z):
        if label_smoothing:
            y = y * (1 - label_smoothing) + label_smoothing / y.shape[-1]
        return dense_cross_entropy(y, z)

    return _loss("softmax_cross_entropy", per_example, onehot_labels, logits, weights, reduction, loss_collection)


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None, loss_collection=LOSSES,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Cross-entropy of softmax(logits) against class indices, one value per example; as TF-1, weights of one
    dimension more than the labels ([batch, 1] for [batch]) lose their last one."""
    if not isinstance(weights, (int, float)):
        labels, weights = as_tf(labels), as_tf(weights)
        if labels.shape is not None and weights.shape is not None and len(weights.shape) == len(labels.shape) + 1:
            weights = op(lambda w: ember.squeeze(w, -1), (weights,), name="Squeeze")
    return _loss("sparse_softmax_cross_entropy", sparse_cross_entropy, labels, logits, weights, reduction,
                 loss_collection, same_shapes=False)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing: float = 0.0, scope=None,
                          loss_collection=LOSSES, reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Elementwise logistic loss of logits against labels in [0, 1]."""
    def per_element(y, z):
        y = ember.cast(y, z.dtype)
        if label_smoothing:
            y = y * (1 - label_smoothing) + 0.5 * label_smoothing
        return ember.binary_cross_entropy_with_logits(z, y, reduction="none")

    return _loss("sigmoid_cross_entropy", per_element, multi_class_labels, logits, weights, reduction, loss_collection)


def hinge_loss(labels, logits, weights=1.0, scope=None, loss_collection=LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """max(0, 1 - y z) with the 0/1 labels read as -1/+1, weighted and reduced."""
    return _loss("hinge_loss", lambda y, z: ember.relu(1.0 - (2.0 * ember.cast(y, z.dtype) - 1.0) * z), labels,
                 logits, weights, reduction, loss_collection)


def cosine_distance(labels, predictions, axis=None, weights=1.0, scope=None, loss_collection=LOSSES,
                    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS, dim=None) -> Tensor:
    """1 - sum(labels * predictions) over ``axis`` (both already unit-normalized), weighted and reduced."""
    axis = dim if axis is None else axis
    if axis is None:
        raise ValueError("tf.losses.cosine_distance: axis is required")
    return _loss("cosine_distance", lambda y, p: 1.0 - ember.sum(y * p, axis=axis, keepdims=True), labels,
                 predictions, weights, reduction, loss_collection)


def compute_weighted_loss(losses, weights=1.0, scope=None, loss_collection=LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """``losses`` (any shape) weighted and reduced as the losses here are."""
    return _loss("compute_weighted_loss", lambda y, p: p, losses, losses, weights, reduction, loss_collection)


def add_loss(loss, loss_collection=LOSSES) -> None:
    """Add an externally defined loss to ``loss_collection`` (read by ``get_losses`` and ``get_total_loss``)."""
    if loss_collection is not None:
        add_to_collection(loss_collection, as_tf(loss))


def get_losses(scope=None, loss_collection=LOSSES) -> list:
    """The losses of ``loss_collection`` (every loss function here adds its result there)."""
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope=None) -> list:
    """The penalties of the variables created with a ``regularizer``."""
    return get_collection(REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name: str = "total_regularization_loss") -> Tensor:
    """The sum of ``get_regularization_losses()`` (0.0 when there are none)."""
    terms = get_regularization_losses(scope)
    if not terms:
        return as_tf(0.0)
    return op(lambda *xs: _sum(xs), tuple(terms), name=name)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss", scope=None) -> Tensor:
    """The sum of the collected losses (and, by default, of the regularization penalties)."""
    terms = get_losses(scope) + (get_regularization_losses(scope) if add_regularization_losses else [])
    if not terms:
        raise ValueError("tf.losses.get_total_loss: no losses were collected; compute one with tf.losses.* "
                         "or add it with tf.losses.add_loss")
    return op(lambda *xs: _sum(xs), tuple(terms), name=name)


def _sum(xs):
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

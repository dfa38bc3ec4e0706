"""``tf.metrics``: TF-1's streaming metrics.

Each function returns ``(value, update_op)``. Its counts live in local variables (collections
``tf.GraphKeys.LOCAL_VARIABLES`` and ``METRIC_VARIABLES``, not trainable) made under a variable scope named after
the metric (``name=``, else the function's name: ``accuracy/total``, ``accuracy/count``), which
``tf.local_variables_initializer()`` sets to 0. Running ``update_op`` adds one batch's counts to them and gives the
metric of all the batches so far; ``value`` reads the counts without changing them. ``weights`` (a scalar, or a
tensor of the labels' rank whose dimensions are 1 or the labels') weigh each element, as in TF-1.

>>> acc, acc_op = tf.metrics.accuracy(labels, predictions)
>>> sess.run(tf.local_variables_initializer())
>>> for batch in batches:
...     sess.run(acc_op, {x: batch})
>>> sess.run(acc)
"""

from __future__ import annotations

import numpy as _np

import ember as _ember
from ember.compat.tf._core import Tensor as _Tensor
from ember.compat.tf._core import add_to_collection as _add_to_collection
from ember.compat.tf._core import as_tf as _as_tf
from ember.compat.tf._core import float32 as _float32
from ember.compat.tf._core import float64 as _float64
from ember.compat.tf._core import op as _op
from ember.compat.tf._core import variable_scope as _variable_scope
from ember.compat.tf._missing import missing as _missing
from ember.compat.tf.variables import LOCAL_VARIABLES as _LOCAL_VARIABLES
from ember.compat.tf.variables import Variable as _Variable
from ember.ops.host import host_call as _host_call

_METRIC_VARIABLES = "metric_variables"  # tf.GraphKeys.METRIC_VARIABLES

__all__ = [
    "accuracy", "auc", "average_precision_at_k", "false_negatives", "false_negatives_at_thresholds", "false_positives",
    "false_positives_at_thresholds", "mean", "mean_absolute_error", "mean_cosine_distance", "mean_iou",
    "mean_per_class_accuracy", "mean_relative_error", "mean_squared_error", "mean_tensor", "percentage_below",
    "precision", "precision_at_k", "precision_at_thresholds", "precision_at_top_k", "recall", "recall_at_k",
    "recall_at_thresholds", "recall_at_top_k", "root_mean_squared_error",
    "sensitivity_at_specificity", "sparse_average_precision_at_k", "sparse_precision_at_k",
    "specificity_at_sensitivity", "true_negatives", "true_negatives_at_thresholds",
    "true_positives", "true_positives_at_thresholds",
]

_AUC_EPSILON = 1e-6  # TF-1's auc: added to the counts of its rates
_THRESHOLD_EPSILON = 1e-7  # TF-1's auc: its end thresholds are -1e-7 and 1 + 1e-7; *_at_thresholds' denominators
_CURVES = ("ROC", "PR")
_SUMMATIONS = ("trapezoidal", "careful_interpolation", "minoring", "majoring")


# --- building blocks --------------------------------------------------------------------------------------------


def _variable(shape: tuple, dtype, name: str) -> _Variable:
    """A counter of the metric: a local, non-trainable variable of zeros."""
    return _Variable(_np.zeros(shape, dtype), trainable=False, name=name, collections=(_LOCAL_VARIABLES,
                                                                                      _METRIC_VARIABLES))


def _collect(collections, tensor: _Tensor) -> None:
    if collections:
        for key in (collections,) if isinstance(collections, str) else collections:
            _add_to_collection(key, tensor)


def _shape(t: _Tensor) -> tuple | None:
    return None if t._shape is None else tuple(t._shape)


def _text(shape: tuple | None) -> str:
    return "<unknown>" if shape is None else str(["?" if d is None else d for d in shape])


def _cast(t: _Tensor, dtype) -> _Tensor:
    if t.dtype == dtype:
        return t
    return _op(lambda x: _ember.cast(x, dtype), (t,), name="Cast")


def _squeeze_last(t: _Tensor) -> _Tensor:
    return _op(lambda x: _ember.squeeze(x, -1), (t,), name="Squeeze")


def _same_shapes(what: str, first, second, names: str = "predictions and labels") -> None:
    """At run time, where the static shapes left sizes unknown: ``first`` and ``second`` (Values) must agree."""
    a, b = tuple(first.shape), tuple(second.shape)
    if all(isinstance(d, int) for d in a + b) and a != b:
        raise ValueError(f"tf.metrics.{what}: {names} must have one shape, got {list(a)} and {list(b)}")


def _pair(what: str, labels, predictions) -> tuple[_Tensor, _Tensor]:
    """``labels`` and ``predictions`` as tensors, the last dimension of size 1 of one squeezed where its rank is
    the other's plus one (TF-1's ``remove_squeezable_dimensions``); shapes that cannot agree are refused."""
    labels, predictions = _as_tf(labels), _as_tf(predictions)
    ls, ps = _shape(labels), _shape(predictions)
    if ls is not None and ps is not None:
        if len(ls) == len(ps) + 1 and ls[-1] in (1, None):
            labels = _squeeze_last(labels)
        elif len(ps) == len(ls) + 1 and ps[-1] in (1, None):
            predictions = _squeeze_last(predictions)
        ls, ps = _shape(labels), _shape(predictions)
        if len(ls) != len(ps) or any(a is not None and b is not None and a != b for a, b in zip(ps, ls)):
            raise ValueError(f"tf.metrics.{what}: Shapes {_text(ps)} and {_text(ls)} are incompatible: predictions "
                             f"of shape {_text(ps)} and labels of shape {_text(ls)} must have one shape")
    return labels, predictions


def _weights(what: str, weights, values: _Tensor) -> _Tensor:
    """``weights`` as float32 for ``values``: a scalar as it is, else a last dimension squeezed or added where
    the ranks differ by one (TF-1's rule), and checked broadcastable: the values' rank, each dimension 1 or the
    values'."""
    weights = _cast(_as_tf(weights), _float32)
    ws, vs = _shape(weights), _shape(values)
    if ws == () or ws is None or vs is None:
        return weights
    if len(ws) == len(vs) + 1 and ws[-1] in (1, None):
        weights = _squeeze_last(weights)
    elif len(vs) == len(ws) + 1:
        weights = _op(lambda w: _ember.expand_dims(w, -1), (weights,), name="ExpandDims")
    ws = _shape(weights)
    if len(ws) != len(vs) or any(w not in (1, v) and None not in (w, v) for w, v in zip(ws, vs)):
        raise ValueError(f"tf.metrics.{what}: weights can not be broadcast to values: weights of shape {_text(ws)}, "
                         f"values of shape {_text(vs)}; give a scalar, or weights of the values' rank whose "
                         "dimensions are 1 or the values'")
    return weights


def _broadcast(what: str, w, v):
    """The weights Value ``w`` in the shape of ``v``, at run time (a fed size that does not fit is refused)."""
    try:
        return _ember.broadcast_to(w, v.shape)
    except ValueError:
        raise ValueError(f"tf.metrics.{what}: weights of shape {list(w.shape)} can not be broadcast to values of "
                         f"shape {list(v.shape)}") from None


def _div_no_nan(numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0 (TF's ``div_no_nan``)."""
    nonzero = _ember.ne(denominator, 0)
    return _ember.where(nonzero, numerator / _ember.where(nonzero, denominator, 1), numerator * 0)


def _check(what: str, bad, message: str) -> None:
    """A run-time check: ``bad`` (a 0-d bool Value) true is an error naming the metric (TF-1: an assertion)."""
    def raise_if(flag):
        if bool(flag):
            raise ValueError(f"tf.metrics.{what}: {message}")

    _host_call(raise_if, [bad], name=f"tf.metrics.{what}")


def _finish(value: _Tensor, update_op: _Tensor, metrics_collections, updates_collections) -> tuple[_Tensor, _Tensor]:
    _collect(metrics_collections, value)
    _collect(updates_collections, update_op)
    return value, update_op


# --- means ------------------------------------------------------------------------------------------------------


def _mean(what: str, values: _Tensor, weights, metrics_collections, updates_collections, name: str | None,
          default: str) -> tuple[_Tensor, _Tensor]:
    with _variable_scope(name, default_name=default):
        values = _cast(values, _float32)
        total = _variable((), _float32, "total")
        count = _variable((), _float32, "count")
        if weights is None:
            batch_total = _op(lambda v: _ember.sum(v), (values,), name="Sum")
            batch_count = _op(lambda v: _ember.sum(_ember.ones_like(v)), (values,), name="Size")
        else:
            weights = _weights(what, weights, values)
            batch_total = _op(lambda v, w: _ember.sum(v * _broadcast(what, w, v)), (values, weights), name="Sum")
            batch_count = _op(lambda v, w: _ember.sum(_broadcast(what, w, v)), (values, weights), name="Sum_1")
        update_total = total.assign_add(batch_total, name="AssignAdd")
        update_count = count.assign_add(batch_count, name="AssignAdd_1")
        value = _op(_div_no_nan, (total, count), name="value")
        update_op = _op(_div_no_nan, (update_total, update_count), name="update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def mean(values, weights=None, metrics_collections=None, updates_collections=None,
         name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) mean of all the ``values`` seen: ``total / count`` (0 before any), over the variables
    ``total`` (the sum of ``values * weights``) and ``count`` (the sum of the weights), both float32."""
    return _mean("mean", _as_tf(values), weights, metrics_collections, updates_collections, name, "mean")


def mean_tensor(values, weights=None, metrics_collections=None, updates_collections=None,
                name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The elementwise (weighted) mean of the ``values`` seen, a tensor of their shape, which must be fully known
    (variables ``total_tensor`` and ``count_tensor``)."""
    values = _cast(_as_tf(values), _float32)
    shape = _shape(values)
    if shape is None or None in shape:
        raise ValueError(f"tf.metrics.mean_tensor: values '{values.name}' need a fully known shape, got "
                         f"{_text(shape)}")
    with _variable_scope(name, default_name="mean"):
        total = _variable(shape, _float32, "total_tensor")
        count = _variable(shape, _float32, "count_tensor")
        if weights is None:
            batch_total, batch_count = values, _op(lambda v: _ember.ones_like(v), (values,), name="ones_like")
        else:
            weights = _weights("mean_tensor", weights, values)
            batch_total = _op(lambda v, w: v * _broadcast("mean_tensor", w, v), (values, weights), name="Mul")
            batch_count = _op(lambda v, w: _broadcast("mean_tensor", w, v) + v * 0, (values, weights), name="Mul_1")
        update_total = total.assign_add(batch_total, name="AssignAdd")
        update_count = count.assign_add(batch_count, name="AssignAdd_1")
        value = _op(lambda t, c: _div_no_nan(t, _ember.maximum(c, 0)), (total, count), name="value")
        update_op = _op(lambda t, c: _div_no_nan(t, _ember.maximum(c, 0)), (update_total, update_count),
                       name="update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def accuracy(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
             name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """How often ``predictions`` equals ``labels`` (predictions cast to the labels' dtype first), weighted: the
    ``mean`` of the matches, under the scope ``accuracy``."""
    labels, predictions = _pair("accuracy", labels, predictions)

    def matches(p, y):
        _same_shapes("accuracy", p, y)
        p = _ember.cast(p, y.dtype) if p.dtype != y.dtype else p
        return _ember.cast(_ember.eq(p, y), _float32)

    is_correct = _op(matches, (predictions, labels), name="Equal")
    return _mean("accuracy", is_correct, weights, metrics_collections, updates_collections, name, "accuracy")


def _errors(what: str, labels, predictions, fn) -> _Tensor:
    labels, predictions = _pair(what, labels, predictions)
    if labels.dtype != predictions.dtype:
        raise TypeError(f"tf.metrics.{what}: labels '{labels.name}' of dtype {labels.dtype} and predictions "
                        f"'{predictions.name}' of dtype {predictions.dtype} must have one dtype (TF-1 subtracts them "
                        "as they are): cast one")

    def errors(y, p):
        _same_shapes(what, p, y)
        return fn(y, p)

    return _op(errors, (labels, predictions), name="error")


def mean_absolute_error(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                        name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) mean of ``|predictions - labels|`` over all the batches seen."""
    errors = _errors("mean_absolute_error", labels, predictions, lambda y, p: _ember.abs(p - y))
    return _mean("mean_absolute_error", errors, weights, metrics_collections, updates_collections, name,
                 "mean_absolute_error")


def mean_squared_error(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                       name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) mean of ``(labels - predictions) ** 2`` over all the batches seen."""
    errors = _errors("mean_squared_error", labels, predictions, lambda y, p: _ember.square(y - p))
    return _mean("mean_squared_error", errors, weights, metrics_collections, updates_collections, name,
                 "mean_squared_error")


def root_mean_squared_error(labels, predictions, weights=None, metrics_collections=None,
                            updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The square root of ``mean_squared_error`` (its variables under the scope ``root_mean_squared_error``)."""
    errors = _errors("root_mean_squared_error", labels, predictions, lambda y, p: _ember.square(y - p))
    mse, update_mse = _mean("root_mean_squared_error", errors, weights, None, None, name, "root_mean_squared_error")
    rmse = _op(_ember.sqrt, (mse,), name="Sqrt")
    update_op = _op(_ember.sqrt, (update_mse,), name="Sqrt_1")
    return _finish(rmse, update_op, metrics_collections, updates_collections)


def mean_relative_error(labels, predictions, normalizer, weights=None, metrics_collections=None,
                        updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) mean of ``|predictions - labels| / normalizer`` (0 where the normalizer is 0)."""
    labels, predictions = _pair("mean_relative_error", labels, predictions)
    normalizer, predictions = _pair("mean_relative_error", normalizer, predictions)

    def relative(p, y, n):
        _same_shapes("mean_relative_error", p, y)
        return _div_no_nan(_ember.abs(_ember.cast(y, p.dtype) - p), _ember.cast(n, p.dtype))

    errors = _op(relative, (predictions, labels, normalizer), name="truediv")
    return _mean("mean_relative_error", errors, weights, metrics_collections, updates_collections, name,
                 "mean_relative_error")


def mean_cosine_distance(labels, predictions, dim: int, weights=None, metrics_collections=None,
                         updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """``1 -`` the (weighted) mean over the batches seen of ``sum(labels * predictions, axis=dim)`` (the cosine
    distance of unit vectors), the sum keeping its dimension, as TF-1's."""
    labels, predictions = _pair("mean_cosine_distance", labels, predictions)
    rank = _shape(predictions)
    if rank is not None and not -len(rank) <= dim < len(rank):
        raise ValueError(f"tf.metrics.mean_cosine_distance: dim {dim} is out of range for predictions of shape "
                         f"{_text(rank)}")

    def radial(y, p):
        _same_shapes("mean_cosine_distance", p, y)
        return _ember.sum(_ember.cast(p, _float32) * _ember.cast(y, _float32), dim, keepdims=True)

    products = _op(radial, (labels, predictions), name="Sum")
    mean_product, update_product = _mean("mean_cosine_distance", products, weights, None, None, name,
                                         "mean_cosine_distance")
    value = _op(lambda m: 1.0 - m, (mean_product,), name="sub")
    update_op = _op(lambda m: 1.0 - m, (update_product,), name="sub_1")
    return _finish(value, update_op, metrics_collections, updates_collections)


def percentage_below(values, threshold, weights=None, metrics_collections=None, updates_collections=None,
                     name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) fraction of the ``values`` seen that are below ``threshold``."""
    below = _op(lambda v: _ember.cast(_ember.lt(v, threshold), _float32), (_as_tf(values),), name="Less")
    return _mean("percentage_below", below, weights, metrics_collections, updates_collections, name,
                 "percentage_below_threshold")


# --- counts of a binary classifier ------------------------------------------------------------------------------


def _bool_pair(what: str, labels, predictions) -> tuple[_Tensor, _Tensor]:
    labels, predictions = _as_tf(labels), _as_tf(predictions)
    return _pair(what, _cast(labels, _np.dtype(bool)), _cast(predictions, _np.dtype(bool)))


def _count(what: str, label_is: bool, prediction_is: bool, labels, predictions, weights, metrics_collections,
           updates_collections, name: str | None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) number of elements whose label is ``label_is`` and prediction ``prediction_is``: variable
    ``count``, float32."""
    with _variable_scope(name, default_name=what):
        labels, predictions = _bool_pair(what, labels, predictions)
        count = _variable((), _float32, "count")

        def matching(y, p, *w):
            _same_shapes(what, p, y)
            hit = _ember.logical_and(y if label_is else _ember.logical_not(y),
                                    p if prediction_is else _ember.logical_not(p))
            hit = _ember.cast(hit, _float32)
            return _ember.sum(hit * _broadcast(what, w[0], hit) if w else hit)

        args = (labels, predictions) if weights is None else (labels, predictions,
                                                              _weights(what, weights, predictions))
        update_op = count.assign_add(_op(matching, args, name="Sum"), name="AssignAdd")
        value = _op(lambda c: c, (count,), name="Identity")
    return _finish(value, update_op, metrics_collections, updates_collections)


def true_positives(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                   name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) number of elements where the label and the prediction (both cast to bool) are True."""
    return _count("true_positives", True, True, labels, predictions, weights, metrics_collections,
                  updates_collections, name)


def false_positives(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                    name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) number of elements whose label is False and prediction True."""
    return _count("false_positives", False, True, labels, predictions, weights, metrics_collections,
                  updates_collections, name)


def true_negatives(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                   name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) number of elements whose label and prediction are False."""
    return _count("true_negatives", False, False, labels, predictions, weights, metrics_collections,
                  updates_collections, name)


def false_negatives(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
                    name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The (weighted) number of elements whose label is True and prediction False."""
    return _count("false_negatives", True, False, labels, predictions, weights, metrics_collections,
                  updates_collections, name)


def _ratio(hits, misses):
    """``hits / (hits + misses)``, 0 where that sum is 0 (TF-1's precision and recall)."""
    both = hits + misses
    positive = _ember.gt(both, 0)
    return _ember.where(positive, hits / _ember.where(positive, both, 1), hits * 0)


def _rate(what: str, other, labels, predictions, weights, metrics_collections, updates_collections,
          name: str | None) -> tuple[_Tensor, _Tensor]:
    with _variable_scope(name, default_name=what):
        labels, predictions = _bool_pair(what, labels, predictions)
        tp, update_tp = true_positives(labels, predictions, weights)
        misses, update_misses = other(labels, predictions, weights)
        value = _op(_ratio, (tp, misses), name="value")
        update_op = _op(_ratio, (update_tp, update_misses), name="update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def precision(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
              name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """``tp / (tp + fp)`` over all the batches seen (0 while ``tp + fp`` is 0), labels and predictions cast to
    bool; its counters are those of ``true_positives`` and ``false_positives`` under the scope ``precision``."""
    return _rate("precision", false_positives, labels, predictions, weights, metrics_collections,
                 updates_collections, name)


def recall(labels, predictions, weights=None, metrics_collections=None, updates_collections=None,
           name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """``tp / (tp + fn)`` over all the batches seen (0 while ``tp + fn`` is 0), labels and predictions cast to
    bool."""
    return _rate("recall", false_negatives, labels, predictions, weights, metrics_collections,
                 updates_collections, name)


# --- counts at thresholds, AUC ----------------------------------------------------------------------------------

_COUNT_NAMES = {"tp": "true_positives", "fn": "false_negatives", "tn": "true_negatives", "fp": "false_positives"}


def _at_thresholds(what: str, labels, predictions, thresholds, weights, includes) -> tuple[dict, dict]:
    """For each threshold ``t`` (a float32 constant, as in TF-1), the (weighted) counts of the elements whose
    prediction is above ``t`` (positive) or not, by label (cast to bool): variables of shape [len(thresholds)]
    named ``true_positives``... for the keys ``includes`` ('tp', 'fn', 'tn', 'fp'). Predictions outside [0, 1]
    are refused when the update runs."""
    labels, predictions = _as_tf(labels), _as_tf(predictions)
    if predictions.dtype is not None and predictions.dtype.kind not in "fiub":
        raise TypeError(f"tf.metrics.{what}: predictions must be numbers in [0, 1], got dtype {predictions.dtype}")
    labels, predictions = _pair(what, _cast(labels, _np.dtype(bool)), _cast(predictions, _float32))
    cuts = _np.asarray([float(t) for t in thresholds], _np.float32).reshape(-1, 1)
    args = (labels, predictions) if weights is None else (labels, predictions,
                                                          _weights(what, weights, predictions))

    def counts(key):
        def fn(y, p, *w):
            _same_shapes(what, p, y)
            if key == includes[0]:
                _check(what, _ember.logical_or(_ember.any(_ember.lt(p, 0.0)), _ember.any(_ember.gt(p, 1.0))),
                       "predictions must be in [0, 1]")
            positive = _ember.gt(_ember.reshape(p, (1, -1)), _ember.tensor(cuts))
            if key in ("fn", "tn"):
                positive = _ember.logical_not(positive)
            label = _ember.reshape(y, (1, -1))
            if key in ("fp", "tn"):
                label = _ember.logical_not(label)
            hit = _ember.cast(_ember.logical_and(label, positive), _float32)
            if w:
                hit = hit * _ember.reshape(_broadcast(what, w[0], p), (1, -1))
            return _ember.sum(hit, 1)

        return fn

    values, updates = {}, {}
    for key in includes:
        var = _variable((len(cuts),), _float32, _COUNT_NAMES[key])
        values[key] = var
        updates[key] = var.assign_add(_op(counts(key), args, name="Sum"), name="AssignAdd")
    return values, updates


def _thresholds_list(what: str, thresholds) -> list:
    if thresholds is None or isinstance(thresholds, (_Tensor, str)) or not hasattr(thresholds, "__len__"):
        raise TypeError(f"tf.metrics.{what}: thresholds must be a Python list or tuple of floats, got "
                        f"{thresholds!r}")
    return list(thresholds)


def _counts_at(what: str, key: str, labels, predictions, thresholds, weights, metrics_collections,
               updates_collections, name: str | None) -> tuple[_Tensor, _Tensor]:
    thresholds = _thresholds_list(what, thresholds)
    with _variable_scope(name, default_name=_COUNT_NAMES[key]):
        values, updates = _at_thresholds(what, labels, predictions, thresholds, weights, (key,))
        value = _op(lambda c: c, (values[key],), name="Identity")
    return _finish(value, updates[key], metrics_collections, updates_collections)


def true_positives_at_thresholds(labels, predictions, thresholds, weights=None, metrics_collections=None,
                                 updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """For each threshold, the (weighted) number of elements labelled True whose prediction is above it."""
    return _counts_at("true_positives_at_thresholds", "tp", labels, predictions, thresholds, weights,
                      metrics_collections, updates_collections, name)


def false_positives_at_thresholds(labels, predictions, thresholds, weights=None, metrics_collections=None,
                                  updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """For each threshold, the (weighted) number of elements labelled False whose prediction is above it."""
    return _counts_at("false_positives_at_thresholds", "fp", labels, predictions, thresholds, weights,
                      metrics_collections, updates_collections, name)


def true_negatives_at_thresholds(labels, predictions, thresholds, weights=None, metrics_collections=None,
                                 updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """For each threshold, the (weighted) number of elements labelled False whose prediction is at most it."""
    return _counts_at("true_negatives_at_thresholds", "tn", labels, predictions, thresholds, weights,
                      metrics_collections, updates_collections, name)


def false_negatives_at_thresholds(labels, predictions, thresholds, weights=None, metrics_collections=None,
                                  updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """For each threshold, the (weighted) number of elements labelled True whose prediction is at most it."""
    return _counts_at("false_negatives_at_thresholds", "fn", labels, predictions, thresholds, weights,
                      metrics_collections, updates_collections, name)


def precision_at_thresholds(labels, predictions, thresholds, weights=None, metrics_collections=None,
                            updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """For each threshold, ``tp / (1e-7 + tp + fp)`` with predictions above it counted positive."""
    thresholds = _thresholds_list("precision_at_thresholds", thresholds)
    with _variable_scope(name, default_name="precision_at_thresholds"):
        values, updates = _at_thresholds("precision_at_thresholds", labels, predictions, thresholds, weights,
                                         ("tp", "fp"))
        value = _op(lambda tp, fp: tp / (_THRESHOLD_EPSILON + tp + fp), (values["tp"], values["fp"]),
                   name="precision_value")
        update_op = _op(lambda tp, fp: tp / (_THRESHOLD_EPSILON + tp + fp), (updates["tp"], updates["fp"]),
                       name="precision_update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def recall_at_thresholds(labels, predictions, thresholds, weights=None, metrics_collections=None,
                         updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """For each threshold, ``tp / (1e-7 + tp + fn)`` with predictions above it counted positive."""
    thresholds = _thresholds_list("recall_at_thresholds", thresholds)
    with _variable_scope(name, default_name="recall_at_thresholds"):
        values, updates = _at_thresholds("recall_at_thresholds", labels, predictions, thresholds, weights,
                                         ("tp", "fn"))
        value = _op(lambda tp, fn: tp / (_THRESHOLD_EPSILON + tp + fn), (values["tp"], values["fn"]),
                   name="recall_value")
        update_op = _op(lambda tp, fn: tp / (_THRESHOLD_EPSILON + tp + fn), (updates["tp"], updates["fn"]),
                       name="recall_update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def _interpolated_pr_auc(tp, fp, fn):
    """The PR-AUC of ``careful_interpolation`` (Davis & Goadrich 2006): between two thresholds, the true
    positives vary linearly with the predicted positives, and precision is integrated in closed form."""
    dtp = tp[:-1] - tp[1:]
    positives = tp + fp
    slope = _div_no_nan(dtp, _ember.maximum(positives[:-1] - positives[1:], 0))
    intercept = tp[1:] - slope * positives[1:]
    both = _ember.logical_and(_ember.gt(positives[:-1], 0), _ember.gt(positives[1:], 0))
    ratio = _ember.where(both, _div_no_nan(positives[:-1], _ember.maximum(positives[1:], 0)),
                        _ember.ones_like(positives[1:]))
    return _ember.sum(_div_no_nan(slope * (dtp + intercept * _ember.log(ratio)), _ember.maximum(tp[1:] + fn[1:], 0)))


def _area(curve: str, summation_method: str):
    def area(tp, fn, tn, fp):
        if curve == "PR" and summation_method == "careful_interpolation":
            return _interpolated_pr_auc(tp, fp, fn)
        recall_ = (tp + _AUC_EPSILON) / (tp + fn + _AUC_EPSILON)
        if curve == "ROC":
            x, y = fp / (fp + tn + _AUC_EPSILON), recall_
        else:
            x, y = recall_, (tp + _AUC_EPSILON) / (tp + fp + _AUC_EPSILON)
        if summation_method == "minoring":
            heights = _ember.minimum(y[:-1], y[1:])
        elif summation_method == "majoring":
            heights = _ember.maximum(y[:-1], y[1:])
        else:  # trapezoidal, and careful_interpolation for ROC
            heights = (y[:-1] + y[1:]) / 2.0
        return _ember.sum((x[:-1] - x[1:]) * heights)

    return area


def auc(labels, predictions, weights=None, num_thresholds: int = 200, metrics_collections=None,
        updates_collections=None, curve: str = "ROC", name: str | None = None,
        summation_method: str = "trapezoidal", thresholds=None) -> tuple[_Tensor, _Tensor]:
    """The area under the ROC (or, ``curve='PR'``, the precision-recall) curve, as TF-1 approximates it: the
    confusion counts at the thresholds ``[-1e-7, 1/(n-1), ..., (n-2)/(n-1), 1 + 1e-7]`` (or the sorted
    ``thresholds`` between those ends), rates with 1e-6 added to their counts, summed by the
    ``summation_method`` ('trapezoidal', 'careful_interpolation', 'minoring' or 'majoring'). Predictions must be
    in [0, 1]."""
    if curve not in _CURVES:
        raise ValueError(f"tf.metrics.auc: curve must be either ROC or PR, got {curve!r}")
    if summation_method not in _SUMMATIONS:
        raise ValueError(f"tf.metrics.auc: invalid summation_method {summation_method!r}; use 'trapezoidal', "
                         "'careful_interpolation', 'minoring' or 'majoring'")
    if thresholds is not None:
        inner = sorted(float(t) for t in _thresholds_list("auc", thresholds))
    else:
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, _np.integer)) or num_thresholds < 2:
            raise ValueError(f"tf.metrics.auc: num_thresholds must be an int >= 2, got {num_thresholds!r}")
        inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(int(num_thresholds) - 2)]
    cuts = [0.0 - _THRESHOLD_EPSILON] + inner + [1.0 + _THRESHOLD_EPSILON]
    with _variable_scope(name, default_name="auc"):
        values, updates = _at_thresholds("auc", labels, predictions, cuts, weights, ("tp", "fn", "tn", "fp"))
        area = _area(curve, summation_method)
        value = _op(area, tuple(values[k] for k in ("tp", "fn", "tn", "fp")), name="value")
        update_op = _op(area, tuple(updates[k] for k in ("tp", "fn", "tn", "fp")), name="update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def _at_nearest(target: float, rate, result, last: bool):
    """``result(tp, tn, fp, fn)`` at the threshold whose ``rate(tp, tn, fp, fn)`` is nearest ``target``: the first
    such threshold, or with ``last`` the last one, as TF-1 breaks ties (argmin; argmax of a running count)."""
    def at(tp, fn, tn, fp):
        distance = _ember.abs(rate(tp, tn, fp, fn) - target)
        nearest = _ember.cast(_ember.eq(distance, _ember.min(distance)), _np.int64)
        running = _ember.cumsum(nearest, 0)
        chosen = _ember.logical_and(_ember.eq(nearest, 1), _ember.eq(running, _ember.sum(nearest) if last else 1))
        chosen = _ember.cast(chosen, _float32)
        tp, tn, fp, fn = (_ember.sum(c * chosen) for c in (tp, tn, fp, fn))
        return result(tp, tn, fp, fn)

    return at


def _rate_at(what: str, target, labels, predictions, weights, num_thresholds, metrics_collections,
             updates_collections, name, rate, result, last: bool) -> tuple[_Tensor, _Tensor]:
    given = "specificity" if what == "sensitivity_at_specificity" else "sensitivity"
    if isinstance(target, _Tensor) or not 0.0 <= float(target) <= 1.0:
        raise ValueError(f"tf.metrics.{what}: `{given}` must be a number in the range [0, 1], got {target!r}")
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, _np.integer)) or num_thresholds < 2:
        raise ValueError(f"tf.metrics.{what}: num_thresholds must be an int >= 2, got {num_thresholds!r}")
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(int(num_thresholds) - 2)]
    cuts = [0.0 - _THRESHOLD_EPSILON] + inner + [1.0 + _THRESHOLD_EPSILON]
    at = _at_nearest(float(target), rate, result, last)
    with _variable_scope(name, default_name=what):
        values, updates = _at_thresholds(what, labels, predictions, cuts, weights, ("tp", "fn", "tn", "fp"))
        value = _op(at, tuple(values[k] for k in ("tp", "fn", "tn", "fp")), name="value")
        update_op = _op(at, tuple(updates[k] for k in ("tp", "fn", "tn", "fp")), name="update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


def sensitivity_at_specificity(labels, predictions, specificity: float, weights=None, num_thresholds: int = 200,
                               metrics_collections=None, updates_collections=None,
                               name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The sensitivity ``tp / (tp + fn + 1e-7)`` at the first of auc's thresholds whose specificity
    ``tn / (tn + fp + 1e-7)`` is nearest ``specificity``."""
    return _rate_at("sensitivity_at_specificity", specificity, labels, predictions, weights, num_thresholds,
                    metrics_collections, updates_collections, name,
                    lambda tp, tn, fp, fn: tn / (tn + fp + _THRESHOLD_EPSILON),
                    lambda tp, tn, fp, fn: tp / (tp + fn + _THRESHOLD_EPSILON), last=False)


def specificity_at_sensitivity(labels, predictions, sensitivity: float, weights=None, num_thresholds: int = 200,
                               metrics_collections=None, updates_collections=None,
                               name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The specificity ``tn / (tn + fp + 1e-7)`` at the last of auc's thresholds whose sensitivity
    ``tp / (tp + fn + 1e-7)`` is nearest ``sensitivity``."""
    return _rate_at("specificity_at_sensitivity", sensitivity, labels, predictions, weights, num_thresholds,
                    metrics_collections, updates_collections, name,
                    lambda tp, tn, fp, fn: tp / (tp + fn + _THRESHOLD_EPSILON),
                    lambda tp, tn, fp, fn: tn / (tn + fp + _THRESHOLD_EPSILON), last=True)


# --- per class --------------------------------------------------------------------------------------------------


def _num_classes(what: str, num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, _np.integer)) or num_classes < 1:
        raise ValueError(f"tf.metrics.{what}: num_classes must be a positive int, got {num_classes!r}")
    return int(num_classes)


def _class_ids(what: str, arg: str, v, k: int):
    """``v`` (a Value) flattened to int64 class ids, refused when the update runs if one is outside [0, k)."""
    v = _ember.reshape(_ember.cast(v, _np.int64), (-1,))
    _check(what, _ember.logical_or(_ember.any(_ember.lt(v, 0)), _ember.any(_ember.ge(v, k))),
           f"{arg} must be class ids in [0, {k}) (num_classes={k})")
    return v


def mean_per_class_accuracy(labels, predictions, num_classes: int, weights=None, metrics_collections=None,
                            updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The mean over all ``num_classes`` classes of each class's (weighted) accuracy (0 for a class not seen),
    over the variables ``total`` (weight of each label class) and ``count`` (weight of its correct predictions);
    as in TF-1, ``update_op`` gives the per-class accuracies, a [num_classes] vector."""
    k = _num_classes("mean_per_class_accuracy", num_classes)
    labels, predictions = _as_tf(labels), _as_tf(predictions)
    ls, ps = _shape(labels), _shape(predictions)
    sizes = [None if s is None or None in s else int(_np.prod(s, dtype=_np.int64)) for s in (ls, ps)]
    if None not in sizes and sizes[0] != sizes[1]:
        raise ValueError(f"tf.metrics.mean_per_class_accuracy: Shapes [{sizes[1]}] and [{sizes[0]}] are incompatible: "
                         f"predictions of shape {_text(ps)} and labels of shape {_text(ls)}, flattened, must have one "
                         "shape")
    args = (labels, predictions) if weights is None else (labels, predictions, _cast(_as_tf(weights), _float32))
    ids = _ember.tensor(_np.arange(k, dtype=_np.int64))

    def sums(y, p, *w):
        y = _class_ids("mean_per_class_accuracy", "labels", y, k)
        p = _ember.reshape(p, (-1,))
        _same_shapes("mean_per_class_accuracy", p, y)
        p = _ember.cast(p, y.dtype)
        weight = _ember.cast(_ember.ones_like(y), _float32)
        if w:
            weight = _broadcast("mean_per_class_accuracy", _ember.reshape(w[0], (-1,)) if len(w[0].shape) > 1
                                else w[0], weight)
        classes = _ember.cast(_ember.eq(_ember.reshape(y, (-1, 1)), ids), _float32)
        correct = _ember.cast(_ember.eq(p, y), _float32) * weight
        return _ember.stack([_ember.sum(classes * _ember.reshape(weight, (-1, 1)), 0),
                            _ember.sum(classes * _ember.reshape(correct, (-1, 1)), 0)])

    with _variable_scope(name, default_name="mean_accuracy"):
        total = _variable((k,), _float32, "total")
        count = _variable((k,), _float32, "count")
        batch = _op(sums, args, name="scatter")
        update_total = total.assign_add(_op(lambda b: b[0], (batch,), name="total_add"), name="ScatterAdd")
        update_count = count.assign_add(_op(lambda b: b[1], (batch,), name="count_add"), name="ScatterAdd_1")
        value = _op(lambda c, t: _ember.mean(_div_no_nan(c, _ember.maximum(t, 0))), (count, total),
                   name="mean_accuracy")
        update_op = _op(lambda c, t: _div_no_nan(c, _ember.maximum(t, 0)), (update_count, update_total),
                       name="update_op")
    return _finish(value, update_op, metrics_collections, updates_collections)


# --- segmentation -----------------------------------------------------------------------------------------------


def mean_iou(labels, predictions, num_classes: int, weights=None, metrics_collections=None,
             updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The mean over classes of ``tp / (tp + fp + fn)``, from a float64 confusion matrix (rows the labels,
    columns the predictions, both flattened and cast to int64 as in TF-1) summed over the batches seen in the variable
    ``total_confusion_matrix``; classes absent from both labels and predictions are left out of the mean (0 when
    every class is). As in TF-1, ``update_op`` gives the updated confusion matrix; labels and predictions outside
    [0, num_classes) are refused when it runs."""
    k = _num_classes("mean_iou", num_classes)
    labels, predictions = _as_tf(labels), _as_tf(predictions)
    for arg, t in (("labels", labels), ("predictions", predictions)):
        if t.dtype is not None and t.dtype.kind not in "iubf":
            raise TypeError(f"tf.metrics.mean_iou: {arg} '{t.name}' must hold class ids, got dtype {t.dtype}")
    ls, ps = _shape(labels), _shape(predictions)
    if ls is not None and ps is not None and (len(ls) != len(ps) or any(
            a is not None and b is not None and a != b for a, b in zip(ps, ls))):
        raise ValueError(f"tf.metrics.mean_iou: Shapes {_text(ps)} and {_text(ls)} are incompatible: predictions "
                         f"of shape {_text(ps)} and labels of shape {_text(ls)} must have one shape")
    args = (labels, predictions)
    if weights is not None:
        weights = _as_tf(weights)
        ws = _shape(weights)
        if ws is not None and ps is not None and (len(ws) != len(ps) or any(
                a is not None and b is not None and a != b for a, b in zip(ws, ps))):
            raise ValueError(f"tf.metrics.mean_iou: weights of shape {_text(ws)} must have the predictions' shape "
                             f"{_text(ps)} (TF-1's confusion matrix takes one weight per element)")
        args += (weights,)
    ids = _ember.tensor(_np.arange(k, dtype=_np.int64))

    def confusion(y, p, *w):
        _same_shapes("mean_iou", p, y)
        y, p = _class_ids("mean_iou", "labels", y, k), _class_ids("mean_iou", "predictions", p, k)
        rows = _ember.cast(_ember.eq(_ember.reshape(y, (-1, 1)), ids), _float64)
        cols = _ember.cast(_ember.eq(_ember.reshape(p, (-1, 1)), ids), _float64)
        if w:
            weight = _ember.reshape(_ember.cast(w[0], _float64), (-1,))
            _same_shapes("mean_iou", weight, p, "weights and predictions")
            cols = cols * _ember.reshape(weight, (-1, 1))
        return _ember.matmul(_ember.transpose(rows, (1, 0)), cols)

    def mean_of(cm):
        diag = _ember.cast(_ember.diagonal(cm), _float32)
        denominator = _ember.cast(_ember.sum(cm, 0), _float32) + _ember.cast(_ember.sum(cm, 1), _float32) - diag
        valid = _ember.sum(_ember.cast(_ember.ne(denominator, 0), _float32))
        iou = diag / _ember.where(_ember.gt(denominator, 0), denominator, _ember.ones_like(denominator))
        return _ember.where(_ember.gt(valid, 0), _ember.sum(iou) / _ember.where(_ember.gt(valid, 0), valid, 1.0),
                           valid * 0)

    with _variable_scope(name, default_name="mean_iou"):
        total = _variable((k, k), _float64, "total_confusion_matrix")
        update_op = total.assign_add(_op(confusion, args, name="confusion_matrix"), name="AssignAdd")
        value = _op(mean_of, (total,), name="mean_iou")
    return _finish(value, update_op, metrics_collections, updates_collections)


# --- top-k metrics over class ids ------------------------------------------------------------------------------


def _at_k_name(name: str, k: int | None, class_id: int | None = None) -> str:
    """TF-1's names of the top-k metrics and their counters: ``precision_at_5``, ``true_positive_at_5_class3``."""
    name = f"{name}_at_{'k' if k is None else k}"
    return name if class_id is None else f"{name}_class{class_id}"


def _labels_at_k(what: str, labels, predictions: _Tensor) -> _Tensor:
    """``labels`` as int64 class ids of ``predictions``' rank: [D1..DN, num_labels], or [D1..DN] given a
    last axis of 1, as TF-1's ``_maybe_expand_labels``; their leading dimensions must be the predictions'."""
    labels = _as_tf(labels)
    if labels.dtype is not None and labels.dtype.kind not in "iu":
        raise TypeError(f"tf.metrics.{what}: labels must be integer class ids (int64), got dtype {labels.dtype}")
    ls, ps = _shape(labels), _shape(predictions)
    if ls is None or ps is None:
        raise ValueError(f"tf.metrics.{what}: labels and predictions need a known rank, got shapes {_text(ls)} "
                         f"and {_text(ps)}")
    if len(ps) < 2:
        raise ValueError(f"tf.metrics.{what}: predictions must have shape [D1, ... DN, num_classes] with N >= 1, "
                         f"got {_text(ps)}")
    if len(ls) == len(ps) - 1:
        labels = _op(lambda y: _ember.expand_dims(y, -1), (labels,), name="expand_labels")
    elif len(ls) != len(ps):
        raise ValueError(f"tf.metrics.{what}: Unexpected labels shape {_text(ls)} for predictions shape {_text(ps)}: "
                         "predictions rank should be the labels' rank or the labels' rank plus one")
    ls = _shape(labels)
    if any(a is not None and b is not None and a != b for a, b in zip(ls[:-1], ps[:-1])):
        raise ValueError(f"tf.metrics.{what}: labels of shape {_text(ls)} and predictions of shape {_text(ps)} must "
                         "agree in all dimensions but the last")
    return _cast(labels, _np.int64)


def _rows_agree(what: str, y, p) -> None:
    """At run time: the labels' and predictions' leading dimensions (Values) agree."""
    a, b = tuple(y.shape[:-1]), tuple(p.shape[:-1])
    if all(isinstance(d, int) for d in a + b) and a != b:
        raise ValueError(f"tf.metrics.{what}: labels of shape {list(y.shape)} and predictions of shape "
                         f"{list(p.shape)} must agree in all dimensions but the last")


def _firsts(x):
    """Whether each entry of ``x``'s last axis is the first of its value in its row: its members as a set."""
    n = int(x.shape[-1])
    earlier = _ember.tensor(_np.tril(_np.ones((n, n), bool), -1))  # [j, j']: j' < j
    same = _ember.eq(_ember.expand_dims(x, -1), _ember.expand_dims(x, -2))
    return _ember.logical_not(_ember.any(_ember.logical_and(same, earlier), axis=-1))


def _members(x, of):
    """Whether each entry of ``x``'s last axis is among ``of``'s in its row (rows of [D1..DN])."""
    return _ember.any(_ember.eq(_ember.expand_dims(x, -1), _ember.expand_dims(of, -2)), axis=-1)


def _set_counts(y, p, class_id: int | None) -> tuple:
    """Per row of [D1..DN], as float64, with ``y`` and ``p`` (int64 [D1..DN, n] and [D1..DN, k]) taken as sets
    (TF-1's ``sets`` ops; only ``class_id`` kept when given): |p & y|, |p - y| and |y - p|."""
    in_p, in_y = _firsts(p), _firsts(y)
    if class_id is not None:
        in_p = _ember.logical_and(in_p, _ember.eq(p, class_id))
        in_y = _ember.logical_and(in_y, _ember.eq(y, class_id))
    p_in_y, y_in_p = _members(p, y), _members(y, p)

    def count(mask):
        return _ember.sum(_ember.cast(mask, _float64), axis=-1)

    return (count(_ember.logical_and(in_p, p_in_y)), count(_ember.logical_and(in_p, _ember.logical_not(p_in_y))),
            count(_ember.logical_and(in_y, _ember.logical_not(y_in_p))))


def _share(tp, other):
    """``tp / (tp + other)``, NaN (quietly) where both are 0, as TF-1's division of float64 counts gives."""
    total = tp + other
    nonzero = _ember.ne(total, 0)
    return _ember.where(nonzero, tp / _ember.where(nonzero, total, 1), float("nan"))


def _ids_at_k(what: str, predictions_idx) -> _Tensor:
    predictions_idx = _as_tf(predictions_idx)
    if predictions_idx.dtype is not None and predictions_idx.dtype.kind not in "iu":
        raise TypeError(f"tf.metrics.{what}: predictions_idx must be integer class ids, got dtype "
                        f"{predictions_idx.dtype}")
    return _cast(predictions_idx, _np.int64)


def _top_k_ids(what: str, predictions, k) -> _Tensor:
    """The int64 ids of the ``k`` largest of ``predictions``' last axis (ties: the lower id first, as TF's)."""
    if isinstance(k, bool) or not isinstance(k, (int, _np.integer)) or k < 1:
        raise ValueError(f"tf.metrics.{what}: k must be an int >= 1, got {k!r}")
    predictions = _as_tf(predictions)
    if predictions.dtype is not None and predictions.dtype.kind != "f":
        raise TypeError(f"tf.metrics.{what}: predictions must be float scores, got dtype {predictions.dtype}")
    ps = _shape(predictions)
    if ps is not None and ps and ps[-1] is not None and k > ps[-1]:
        raise ValueError(f"tf.metrics.{what}: k={k} is larger than the number of classes, predictions of shape "
                         f"{_text(ps)}")
    return _op(lambda a: _ember.cast(_ember.topk(a, int(k), axis=-1, sorted=True)[1], _np.int64), (predictions,),
              name="TopKV2")


def _ratio_at_k(what: str, first: str, second: str, labels, predictions_idx: _Tensor, k, class_id, weights,
                metrics_collections, updates_collections, name, default: str) -> tuple[_Tensor, _Tensor]:
    """``tp / (tp + <second>)`` streamed over two float64 counters (NaN while both are 0, as TF-1's); ``labels``
    checked already (``_labels_at_k``)."""
    args = (labels, predictions_idx) if weights is None else (labels, predictions_idx,
                                                                _cast(_as_tf(weights), _float64))
    pick = 1 if second == "false_positive" else 2

    def batch(y, p, *w):
        _rows_agree(what, y, p)
        counts = _set_counts(y, p, class_id)
        tp, other = counts[0], counts[pick]
        if w:
            weight = _broadcast(what, w[0], tp)
            tp, other = tp * weight, other * weight
        return _ember.stack([_ember.sum(tp), _ember.sum(other)])

    with _variable_scope(name, default_name=default):
        tp_var = _variable((), _float64, _at_k_name(first, k, class_id))
        other_var = _variable((), _float64, _at_k_name(second, k, class_id))
        counts = _op(batch, args, name="counts")
        tp_update = tp_var.assign_add(_op(lambda c: c[0], (counts,), name="tp"), name="AssignAdd")
        other_update = other_var.assign_add(_op(lambda c: c[1], (counts,), name=second), name="AssignAdd_1")
        value = _op(_share, (tp_var, other_var), name=default)
        update_op = _op(_share, (tp_update, other_update), name="update")
    return _finish(value, update_op, metrics_collections, updates_collections)


def precision_at_top_k(labels, predictions_idx, k: int | None = None, class_id: int | None = None, weights=None,
                       metrics_collections=None, updates_collections=None,
                       name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """Precision of the top-k class ids ``predictions_idx`` ([D1..DN, k]) against the class ids ``labels``
    ([D1..DN, num_labels] or [D1..DN]), each row's ids taken as sets: ``tp / (tp + fp)`` summed over the batches
    seen (float64; NaN while nothing was predicted), weighted per row by ``weights``. With ``class_id``, only that
    class counts. Label ids outside the classes are ignored; ``k`` only names the metric, as in TF-1."""
    what = "precision_at_top_k"
    ids = _ids_at_k(what, predictions_idx)
    return _ratio_at_k(what, "true_positive", "false_positive", _labels_at_k(what, labels, ids), ids, k,
                       class_id, weights, metrics_collections, updates_collections, name,
                       _at_k_name("precision", k, class_id))


def recall_at_top_k(labels, predictions_idx, k: int | None = None, class_id: int | None = None, weights=None,
                    metrics_collections=None, updates_collections=None,
                    name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """Recall of the top-k class ids ``predictions_idx`` against the class ids ``labels``, as sets per row:
    ``tp / (tp + fn)`` summed over the batches seen (float64; NaN while there were no labels). Label ids outside
    the classes count as false negatives, as in TF-1."""
    what = "recall_at_top_k"
    ids = _ids_at_k(what, predictions_idx)
    return _ratio_at_k(what, "true_positive", "false_negative", _labels_at_k(what, labels, ids), ids, k,
                       class_id, weights, metrics_collections, updates_collections, name,
                       _at_k_name("recall", k, class_id))


def precision_at_k(labels, predictions, k: int, class_id: int | None = None, weights=None, metrics_collections=None,
                   updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """``precision_at_top_k`` of the ``k`` highest scores of ``predictions`` ([D1..DN, num_classes])."""
    predictions = _as_tf(predictions)
    ids = _top_k_ids("precision_at_k", predictions, k)
    labels = _labels_at_k("precision_at_k", labels, predictions)
    return _ratio_at_k("precision_at_k", "true_positive", "false_positive", labels, ids, k, class_id, weights,
                       metrics_collections, updates_collections, name, _at_k_name("precision", k, class_id))


def recall_at_k(labels, predictions, k: int, class_id: int | None = None, weights=None, metrics_collections=None,
                updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """``recall_at_top_k`` of the ``k`` highest scores of ``predictions`` ([D1..DN, num_classes])."""
    predictions = _as_tf(predictions)
    ids = _top_k_ids("recall_at_k", predictions, k)
    labels = _labels_at_k("recall_at_k", labels, predictions)
    return _ratio_at_k("recall_at_k", "true_positive", "false_negative", labels, ids, k, class_id, weights,
                       metrics_collections, updates_collections, name, _at_k_name("recall", k, class_id))


def average_precision_at_k(labels, predictions, k: int, weights=None, metrics_collections=None,
                           updates_collections=None, name: str | None = None) -> tuple[_Tensor, _Tensor]:
    """The mean over rows of the average precision of the ``k`` highest scores: per row
    ``sum_i P_i * rel_i / min(num_labels, k)`` (``rel_i``: whether the i-th id is a label, ``P_i``: the precision
    of the first i), weighted per row by ``weights`` and divided by the weights' sum (the rows' count without
    weights) over the batches seen, in float64 (0 before any), as TF-1's."""
    what = "average_precision_at_k"
    predictions = _as_tf(predictions)
    ids = _top_k_ids(what, predictions, k)
    labels = _labels_at_k(what, labels, predictions)
    args = (labels, ids) if weights is None else (labels, ids, _cast(_as_tf(weights), _float64))
    ranks = _np.arange(1, k + 1, dtype=_np.float64)

    def batch(y, p, *w):
        _rows_agree(what, y, p)
        relevant = _ember.cast(_members(p, y), _float64)  # [D1..DN, k]
        precision = _ember.cumsum(relevant, axis=-1) / _ember.tensor(ranks)
        ap = _ember.sum(precision * relevant, axis=-1) / float(min(int(y.shape[-1]), k))
        if w:
            weight = _broadcast(what, w[0], ap)
            return _ember.stack([_ember.sum(ap * weight), _ember.sum(weight)])
        return _ember.stack([_ember.sum(ap), _ember.sum(_ember.ones_like(ap))])

    with _variable_scope(name, default_name=_at_k_name("average_precision", k)):
        total = _variable((), _float64, "total")
        most = _variable((), _float64, "max")
        sums = _op(batch, args, name="average_precision")
        total_update = total.assign_add(_op(lambda s: s[0], (sums,), name="batch_total"), name="AssignAdd")
        max_update = most.assign_add(_op(lambda s: s[1], (sums,), name="batch_max"), name="AssignAdd_1")
        value = _op(_div_no_nan, (total, most), name="mean")
        update_op = _op(_div_no_nan, (total_update, max_update), name="update")
    return _finish(value, update_op, metrics_collections, updates_collections)


sparse_precision_at_k = precision_at_k  # TF-1's older names
sparse_average_precision_at_k = average_precision_at_k


def __getattr__(name: str):
    raise _missing(__name__, name, globals())


def __dir__() -> list:
    """TF-1's names only (``dir(tf.metrics)``)."""
    return sorted(__all__)

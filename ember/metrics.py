"""Metrics on NumPy arrays or Ember Tensors, and streaming versions of them for a training loop.

Predictions may be labels, or scores from which labels are read: an (N, C) array of logits or
probabilities gives its argmax; a float array of the target's shape holds binary probabilities,
thresholded at 0.5 (a score above it is positive, as Keras's).

>>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
0.5
"""

from __future__ import annotations

import warnings

import numpy as np

from ember.backend.dtypes import bfloat16
from ember.tensor import Tensor

_AVERAGES = ("binary", "macro", "micro", "weighted")


def _np(x) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    elif hasattr(x, "__cuda_array_interface__") and hasattr(x, "get"):  # a CuPy array (a pandas Series has get too)
        x = x.get()
    x = np.asarray(x)
    # bfloat16 is no NumPy float (dtype kind "V"): probabilities would go unthresholded; float32 holds it exactly
    return x.astype(np.float32) if x.dtype == bfloat16 else x


def _shaped_labels(pred, target, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, target labels), both in the target's shape."""
    pred, target = _np(pred), _np(target)
    if pred.ndim == target.ndim + 1 and pred.shape[-1] == 1:  # (N, 1) against (N,): the one column
        pred = pred[..., 0]
    elif pred.ndim == target.ndim + 1:
        pred = pred.argmax(-1)
    if pred.dtype.kind == "f":  # binary probabilities (labels are ints or bools)
        pred = (pred > threshold).astype(np.int64)  # a score at the threshold is negative, as Keras and torchmetrics
    if pred.shape != target.shape:
        raise ValueError(f"metrics: predictions of shape {list(pred.shape)} do not match targets "
                         f"of shape {list(target.shape)}")
    return pred, target


def _labels(pred, target, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, target labels), both 1-D."""
    pred, target = _shaped_labels(pred, target, threshold)
    return pred.reshape(-1), target.reshape(-1)


def _is_multilabel(pred: np.ndarray, target: np.ndarray) -> bool:
    """Whether the labels are scikit-learn's multilabel indicators: (N, C) rows of 0s and 1s, C > 1."""
    return (target.ndim == 2 and target.shape[1] > 1 and bool(np.isin(target, (0, 1)).all())
            and bool(np.isin(pred, (0, 1)).all()))


def _column_counts(pred: np.ndarray, target: np.ndarray, labels):
    """Per-column true positives, predicted and true counts of multilabel indicators (``labels``: the columns)."""
    columns = target.shape[1]
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if labels.dtype.kind not in "iu" or labels.size and (labels.min() < 0 or labels.max() >= columns):
            raise ValueError(f"metrics: multilabel targets have {columns} columns; labels must be column indices "
                             f"in [0, {columns}), got {labels[:6].tolist()}")
        pred, target = pred[:, labels], target[:, labels]
    positive_pred, positive = pred == 1, target == 1
    tp = np.sum(positive_pred & positive, axis=0).astype(np.float64)
    return tp, positive_pred.sum(axis=0).astype(np.float64), positive.sum(axis=0).astype(np.float64)


def accuracy(pred, target, threshold: float = 0.5) -> float:
    """The fraction of correct predictions (labels, (N, C) scores, or binary probabilities).

    >>> accuracy(np.array([0, 2, 1]), np.array([0, 1, 1]))   # 2/3
    """
    pred, target = _labels(pred, target, threshold)
    return float(np.mean(pred == target)) if target.size else float("nan")


def _check_k(owner: str, k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{owner}: k must be a positive int, got {k!r}")


def top_k_accuracy(logits, target, k: int = 5) -> float:
    """The fraction of samples whose target is among the ``k`` highest scores of its (N, C) row; of tied
    scores the higher class index ranks first, as in scikit-learn's ``top_k_accuracy_score``; NaN scores are an error.

    >>> top_k_accuracy(np.array([[0.5, 0.3, 0.2]]), np.array([1]), k=2)   # 1.0
    """
    _check_k("top_k_accuracy", k)
    logits, target = _np(logits), _np(target).reshape(-1)
    if logits.ndim != 2 or logits.shape[0] != target.shape[0]:
        raise ValueError(f"top_k_accuracy: expected scores (N, C) and targets (N,), got {list(logits.shape)} "
                         f"and {list(target.shape)}")
    classes = logits.shape[1]
    _check_numeric("top_k_accuracy", "targets", target)
    valid = (target >= 0) & (target < classes) & (target == np.round(target))
    if not np.all(valid):
        raise ValueError(f"top_k_accuracy: targets must be class indices in [0, {classes}), got "
                         f"{target[~valid][:4].tolist()}")
    nan = np.isnan(logits) if logits.dtype.kind == "f" else np.zeros(logits.shape, bool)
    if nan.any():  # a NaN compares false with every score, so its row's target would rank first: a hit
        row = int(np.flatnonzero(nan.any(axis=1))[0])
        raise ValueError(f"top_k_accuracy: {int(nan.sum())} of the {logits.size} scores are NaN (the first in row "
                         f"{row})")
    if not target.size:
        return float("nan")
    target = target.astype(np.int64)
    score = logits[np.arange(len(target)), target][:, None]
    later = np.arange(classes) > target[:, None]
    rank = np.sum(logits > score, axis=1) + np.sum((logits == score) & later, axis=1)
    return float(np.mean(rank < k))


def _counts(pred: np.ndarray, target: np.ndarray, labels: np.ndarray):
    """Per-label true positives, predicted counts and true counts (values outside ``labels`` ignored)."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]

    def positions(values):
        pos = np.clip(np.searchsorted(sorted_labels, values), 0, len(labels) - 1)
        return order[pos], sorted_labels[pos] == values

    p, p_known = positions(pred)
    t, t_known = positions(target)
    n = len(labels)
    tp = np.bincount(p[p_known & (pred == target)], minlength=n).astype(np.float64)
    predicted = np.bincount(p[p_known], minlength=n).astype(np.float64)
    actual = np.bincount(t[t_known], minlength=n).astype(np.float64)
    return tp, predicted, actual


def _divide(num, den, zero_division: float):
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), zero_division)


def _nanaverage(values: np.ndarray, weights: np.ndarray) -> float:
    """The weighted mean of the values that are not NaN, as scikit-learn's (``zero_division=np.nan`` leaves those
    classes out); their plain mean where the weights of those sum to 0 (no true samples), NaN where none is left."""
    kept = ~np.isnan(values)
    if not kept.any():
        return float("nan")
    values, weights = values[kept], weights[kept]
    return float((values * weights).sum() / weights.sum()) if weights.sum() > 0 else float(values.mean())


def _check_binary(pred: np.ndarray, target: np.ndarray, pos_label) -> None:
    """average="binary" scores the class ``pos_label`` against one other, as scikit-learn: labels of more
    classes (a multi-class model's) are an error, not that one class's score."""
    present = np.union1d(pred, target)
    if len(present) > 2 or (len(present) == 2 and pos_label not in present):
        raise ValueError(f"metrics: average='binary' needs two classes, one of them pos_label={pos_label!r}; the "
                         f"predictions and targets hold {present[:6].tolist()}{'...' if len(present) > 6 else ''} "
                         "(for several classes pass average='macro', 'micro' or 'weighted')")


def _prf(pred, target, average: str, pos_label, labels, zero_division: float, threshold: float):
    """(precision, recall, f1) averaged as asked."""
    if average not in _AVERAGES:
        raise ValueError(f"metrics: average must be one of {_AVERAGES}, got {average!r}")
    if isinstance(zero_division, str) and zero_division == "warn":  # scikit-learn's default: 0.0 (and a warning)
        zero_division = 0.0
    elif (isinstance(zero_division, (bool, str)) or not isinstance(zero_division, (int, float, np.number))
          or not (zero_division in (0, 1) or np.isnan(zero_division))):  # a score of 5 or -1 is no precision
        raise ValueError(f"metrics: zero_division must be a number (0.0, 1.0, np.nan) or 'warn', got {zero_division!r}")
    if labels is not None and average != "binary":
        labels = np.asarray(labels).reshape(-1)
        if not labels.size or np.unique(labels).size != labels.size:
            raise ValueError(f"metrics: labels must name distinct classes, got {labels[:8].tolist()}")
    pred, target = _shaped_labels(pred, target, threshold)
    if average != "binary" and _is_multilabel(pred, target):
        tp, predicted, actual = _column_counts(pred, target, labels)
    else:
        pred, target = pred.reshape(-1), target.reshape(-1)
        if average == "binary":
            _check_binary(pred, target, pos_label)
            labels = np.array([pos_label])
        elif labels is None:
            labels = np.union1d(pred, target)
        else:
            labels = np.asarray(labels)
        tp, predicted, actual = _counts(pred, target, labels)
    if average == "micro":
        tp, predicted, actual = tp.sum(), predicted.sum(), actual.sum()
    precision = _divide(tp, predicted, zero_division)
    recall = _divide(tp, actual, zero_division)
    f1 = _divide(2 * tp, predicted + actual, zero_division)
    if average in ("macro", "weighted"):
        weights = actual if average == "weighted" else np.ones_like(actual)
        precision, recall, f1 = (_nanaverage(v, weights) for v in (precision, recall, f1))
    return float(np.sum(precision)), float(np.sum(recall)), float(np.sum(f1))


def precision(pred, target, average: str = "binary", pos_label=1, labels=None, zero_division: float = 0.0,
              threshold: float = 0.5) -> float:
    """Of the samples predicted as a class, the fraction that are: ``tp / (tp + fp)``.

    ``average``: "binary" (the class ``pos_label``), "macro" (mean over classes), "micro" (global
    counts) or "weighted" (mean weighted by class support). ``labels`` fixes the classes averaged over.
    ``zero_division``: the score of a class with nothing to divide by; with ``np.nan`` such classes are left out of
    the average, as in scikit-learn ("warn", scikit-learn's default, gives 0.0).
    Multilabel targets, (N, C) rows of 0s and 1s, have a class per column, as in scikit-learn ("binary" scores
    every 1 together: the "micro" score).

    >>> precision(np.array([1, 1, 0]), np.array([1, 0, 0]))   # 0.5
    """
    return _prf(pred, target, average, pos_label, labels, zero_division, threshold)[0]


def recall(pred, target, average: str = "binary", pos_label=1, labels=None, zero_division: float = 0.0,
           threshold: float = 0.5) -> float:
    """Of the samples of a class, the fraction predicted as it: ``tp / (tp + fn)`` (see ``precision``).

    >>> recall(np.array([1, 0, 0]), np.array([1, 1, 0]))   # 0.5
    """
    return _prf(pred, target, average, pos_label, labels, zero_division, threshold)[1]


def f1_score(pred, target, average: str = "binary", pos_label=1, labels=None, zero_division: float = 0.0,
             threshold: float = 0.5) -> float:
    """The harmonic mean of precision and recall, ``2 tp / (2 tp + fp + fn)`` (see ``precision``).

    >>> f1_score(np.array([1, 1, 0]), np.array([1, 0, 1]))   # 0.5
    """
    return _prf(pred, target, average, pos_label, labels, zero_division, threshold)[2]


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_values[1:] != sorted_values[:-1]]))
    ends = np.concatenate([starts[1:], [len(values)]])
    mean_rank = (starts + ends + 1) / 2.0  # ranks start..end-1 (0-based) have mean (start + end - 1)/2 + 1
    ranks = np.empty(len(values), np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _positive_scores(owner: str, scores: np.ndarray, pos_label) -> np.ndarray:
    """The scores of the positive class: ``scores`` itself, or the column ``pos_label`` of (N, 2) class scores."""
    if scores.ndim != 2 or scores.shape[1] != 2:
        return scores
    if isinstance(pos_label, bool) or pos_label not in (0, 1):
        raise ValueError(f"{owner}: (N, 2) scores hold the classes 0 and 1 in their columns; with pos_label="
                         f"{pos_label!r} pass the positive class's scores as one array of N")
    return scores[:, int(pos_label)]


def roc_auc(scores, target, pos_label=1) -> float:
    """Area under the ROC curve of binary ``scores`` (higher means positive; ties count half).

    Computed exactly from average ranks (the Mann-Whitney U statistic). (N, 2) scores of the classes 0 and 1
    use the column of ``pos_label``. Targets of more than two classes are an error, as in scikit-learn.
    Multilabel (N, C) targets with (N, C) scores give the mean of the columns' AUCs (scikit-learn's "macro").

    >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))   # 0.75
    """
    scores, target = _np(scores), _np(target)
    if scores.ndim == 2 and scores.shape == target.shape and scores.shape[1] > 1:
        return float(np.mean([_column_auc(scores, target, j, pos_label) for j in range(scores.shape[1])]))
    scores = _positive_scores("roc_auc", scores, pos_label)
    scores, positive = scores.reshape(-1).astype(np.float64), target.reshape(-1) == pos_label
    if scores.shape != positive.shape:
        raise ValueError(f"roc_auc: {scores.size} scores but {positive.size} targets")
    nan = np.flatnonzero(np.isnan(scores))
    if nan.size:  # NaNs would rank as distinct values above every number and give a plausible AUC
        raise ValueError(f"roc_auc: {nan.size} of the {scores.size} scores are NaN (the first at index {nan[0]})")
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("roc_auc: needs both positive and negative targets")
    classes = np.unique(target)
    if classes.size > 2:  # every class but pos_label would count as negative: a one-vs-rest AUC passed off as binary
        raise ValueError(f"roc_auc: targets must hold two classes, got {classes.size}: {classes[:6].tolist()}"
                         f"{'...' if classes.size > 6 else ''} (pos_label={pos_label!r}); compare (target == k) for "
                         "one class against the rest")
    ranks = _average_ranks(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _column_auc(scores: np.ndarray, target: np.ndarray, column: int, pos_label) -> float:
    """The ROC AUC of one column of multilabel scores and targets."""
    try:
        return roc_auc(scores[:, column], target[:, column], pos_label)
    except ValueError as e:
        raise ValueError(f"{e} (multilabel column {column} of {scores.shape[1]})") from None


def log_loss(probs, target, eps: float | str = "auto") -> float:
    """Mean negative log-likelihood of the targets: ``probs`` (N,) of class 1, or (N, C) per class
    with integer targets 0..C-1 (or one-hot rows, as scikit-learn's). The probability of each target's class
    (``1 - p`` for a binary 0) is clipped to [eps, 1 - eps]; ``eps="auto"`` is the machine epsilon of the
    probabilities' float dtype (float64's for other dtypes), as scikit-learn's. Probabilities outside [0, 1] raise.

    >>> log_loss(np.array([0.9, 0.2]), np.array([1, 0]))   # -(log .9 + log .8) / 2
    """
    probs, target = _np(probs), _np(target)
    if isinstance(eps, str):
        if eps != "auto":
            raise ValueError(f"log_loss: eps must be a number or 'auto', got {eps!r}")
        eps = float(np.finfo(probs.dtype if probs.dtype.kind == "f" else np.float64).eps)
    probs = probs.astype(np.float64)
    if probs.size and (np.nanmin(probs) < 0 or np.nanmax(probs) > 1):  # logits, say: clipping would hide them
        raise ValueError(f"log_loss: probabilities must lie in [0, 1], got values in [{np.nanmin(probs)}, "
                         f"{np.nanmax(probs)}] (apply a sigmoid or softmax to logits)")
    classes = probs.shape[1] if probs.ndim == 2 and probs.shape[1] > 1 else 0
    if classes and target.shape == probs.shape:  # one-hot rows
        if not (np.isin(target, (0, 1)).all() and (target.sum(axis=1) == 1).all()):
            raise ValueError(f"log_loss: targets of the probabilities' shape {list(probs.shape)} must be one-hot rows")
        target = target.argmax(axis=1)
    shape, target = target.shape, target.reshape(-1)
    if target.size != (probs.shape[0] if classes else probs.size):
        raise ValueError(f"log_loss: probabilities of shape {list(probs.shape)} do not match targets of shape "
                         f"{list(shape)}")
    if classes:
        if target.size and not np.all((target >= 0) & (target < classes) & (target == np.round(target))):
            bad = target[(target < 0) | (target >= classes) | (target != np.round(target))][:4].tolist()
            raise ValueError(f"log_loss: targets must be class indices in [0, {classes}), got {bad}")
        p = probs[np.arange(len(target)), target.astype(np.int64)]
    else:
        if not np.all((target == 0) | (target == 1)):  # a -1 label, say, would count as class 1
            bad = target[(target != 0) & (target != 1)][:4].tolist()
            raise ValueError(f"log_loss: binary targets must be 0 or 1, got {bad}; map them first (y == 1)")
        p1 = probs.reshape(-1)
        p = np.where(target == 1, p1, 1.0 - p1)
    return float(-np.mean(np.log(np.clip(p, eps, 1.0 - eps))))


def _aligned(name: str, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``pred`` in ``target``'s shape where the two differ only by axes of length 1 ((N, 1) outputs against (N,)
    targets); other shapes that differ are a ValueError (a (4, 3) against a (3, 4) would pair unrelated values)."""
    if pred.shape != target.shape:
        if tuple(d for d in pred.shape if d != 1) != tuple(d for d in target.shape if d != 1):
            raise ValueError(f"{name}: predictions of shape {list(pred.shape)} do not match targets of shape "
                             f"{list(target.shape)}")
        pred = pred.reshape(target.shape)
    return pred


def mean_squared_error(pred, target) -> float:
    """Mean of ``(pred - target) ** 2``.

    >>> mean_squared_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 2.0
    """
    pred, target = _np(pred).astype(np.float64), _np(target).astype(np.float64)
    return float(np.mean((_aligned("mean_squared_error", pred, target) - target) ** 2))


def mean_absolute_error(pred, target) -> float:
    """Mean of ``|pred - target|``.

    >>> mean_absolute_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))   # 1.0
    """
    pred, target = _np(pred).astype(np.float64), _np(target).astype(np.float64)
    return float(np.mean(np.abs(_aligned("mean_absolute_error", pred, target) - target)))


def _check_numeric(owner: str, what: str, labels: np.ndarray) -> None:
    """Class indices must be numbers: strings would fail deep in NumPy (no 'maximum' loop for <U3)."""
    if labels.dtype.kind in "US":
        raise ValueError(f"{owner}: {what} must be class indices (numbers), got dtype {labels.dtype}: "
                         f"{labels.reshape(-1)[:4].tolist()}; map the classes to 0..C-1 first")


def _class_labels(owner: str, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``labels`` as int64 class indices, checked to lie in [0, num_classes)."""
    _check_numeric(owner, "labels", labels)
    fractional = labels[labels != np.round(labels)] if labels.dtype.kind == "f" else labels[:0]
    if fractional.size:
        raise ValueError(f"{owner}: labels must be class indices, got {fractional[:4].tolist()}")
    labels = labels.astype(np.int64)
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(f"{owner}: labels must be class indices in [0, {num_classes}), got {bad[:4].tolist()}")
    return labels


def confusion_matrix(pred, target, num_classes: int | None = None, threshold: float = 0.5) -> np.ndarray:
    """The (num_classes, num_classes) counts of samples of each true class (row) predicted as each class (column),
    as scikit-learn's and Keras's; ``num_classes`` defaults to the largest label + 1. Predictions may be labels or
    scores (see the module's docstring).

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]))   # [[1, 1], [0, 1]]
    """
    pred, target = _labels(pred, target, threshold)
    _check_numeric("confusion_matrix", "predictions", pred)
    _check_numeric("confusion_matrix", "targets", target)
    if num_classes is None:
        num_classes = max((int(labels.max()) for labels in (pred, target) if labels.size), default=-1) + 1
    _check_num_classes("confusion_matrix", num_classes)
    pred = _class_labels("confusion_matrix", pred, num_classes)
    target = _class_labels("confusion_matrix", target, num_classes)
    counts = np.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _check_num_classes(owner: str, num_classes) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"{owner}: num_classes must be a positive int, got {num_classes!r}")


# --- streaming metrics -----------------------------------------------------------------------------------
class Metric:
    """A metric accumulated over batches: ``update(pred, target)`` per batch, ``result()`` at the end,
    ``reset()`` between epochs; ``name`` labels it in logs."""

    name = "metric"
    # the attributes ``reset`` sets that hold what was seen: numbers and count arrays that add up, or lists
    # of batches; ``merge`` combines them (a metric that names none cannot be merged)
    state_names: tuple[str, ...] = ()

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name
        self.reset()

    def merge(self, others: list) -> None:
        """Take the running state of ``others`` (metrics of the same kind, over other data: other ranks') in
        besides this one's, so that ``result()`` is the metric over all of it.

        >>> a, b = Accuracy(), Accuracy(); a.update(p1, t1); b.update(p2, t2); a.merge([b]); a.result()
        """
        if not self.state_names:
            raise TypeError(f"{type(self).__name__}.merge: the metric names no state to merge (set its state_names)")
        for other in others:
            if type(other) is not type(self):
                raise TypeError(f"{type(self).__name__}.merge: expected {type(self).__name__} metrics, got "
                                f"{type(other).__name__}")
            for key in self.state_names:  # numbers and arrays add; lists of batches concatenate
                mine, theirs = getattr(self, key), getattr(other, key)
                if getattr(mine, "shape", ()) != getattr(theirs, "shape", ()):
                    raise ValueError(f"{type(self).__name__}.merge: state {key!r} has shape {list(mine.shape)} here "
                                     f"and {list(theirs.shape)} in the other metric; merge metrics made with the same "
                                     "arguments (num_thresholds, num_classes...)")
                setattr(self, key, mine + theirs)

    def reset(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define reset()")  # abstract

    def update(self, pred, target) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update()")  # abstract

    def result(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define result()")  # abstract

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accuracy(Metric):
    """Running accuracy (see ``accuracy``).

    >>> m = Accuracy(); m.update(logits, labels); m.result()
    """

    name = "accuracy"
    state_names = ("correct", "count")

    def __init__(self, threshold: float = 0.5, name: str | None = None):
        self.threshold = threshold
        super().__init__(name)

    def reset(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, pred, target) -> None:
        pred, target = _labels(pred, target, self.threshold)
        self.correct += int(np.sum(pred == target))
        self.count += target.size

    def result(self) -> float:
        return self.correct / self.count if self.count else float("nan")


class TopKAccuracy(Metric):
    """Running top-k accuracy (see ``top_k_accuracy``); NaN once a batch's scores hold a NaN (a diverged model).

    >>> m = TopKAccuracy(k=5); m.update(logits, labels); m.result()
    """

    state_names = ("correct", "count")

    def __init__(self, k: int = 5, name: str | None = None):
        _check_k("TopKAccuracy", k)
        self.k = k
        self.name = f"top_{k}_accuracy"
        super().__init__(name)

    def reset(self) -> None:
        self.correct, self.count = 0.0, 0

    def update(self, pred, target) -> None:
        n, scores = _np(target).size, _np(pred)
        diverged = scores.dtype.kind == "f" and bool(np.isnan(scores).any())  # no accuracy, as AUC's: NaN
        accuracy = top_k_accuracy(np.nan_to_num(scores) if diverged else scores, target, self.k)  # checks the shapes
        if n:  # an empty batch's NaN would make every later result NaN
            self.correct += float("nan") if diverged else accuracy * n
            self.count += n

    def result(self) -> float:
        return self.correct / self.count if self.count else float("nan")


class Mean(Metric):
    """Running (weighted) mean of values such as a batch's loss: ``update(value, weight=1)``.

    >>> m = Mean("loss"); m.update(0.5); m.update(0.3); m.result()   # 0.4
    """

    name = "mean"
    state_names = ("total", "weight")

    def reset(self) -> None:
        self.total, self.weight = 0.0, 0.0

    def update(self, value, weight=1.0) -> None:
        """Add ``value`` (a number or an array of them) with ``weight``: one number for every value, or weights
        along the values' leading axes, as Keras's ``sample_weight`` (one per sample of (N, d) values, each of its
        row's values weighed by it)."""
        values = _np(value).astype(np.float64)
        weights = _np(weight).astype(np.float64)
        if 0 < weights.ndim < values.ndim:  # Keras aligns the weights' axes with the values' first ones
            weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
        try:
            weights = np.broadcast_to(weights, values.shape)
        except ValueError:
            raise ValueError(f"Mean.update: weight of shape {list(weights.shape)} does not broadcast to the values' "
                             f"shape {list(values.shape)}") from None
        self.total += float((values * weights).sum())
        self.weight += float(weights.sum())

    def result(self) -> float:
        return self.total / self.weight if self.weight else float("nan")


class _ErrorMean(Metric):
    state_names = ("total", "count")

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, pred, target) -> None:
        pred, target = _np(pred).astype(np.float64), _np(target).astype(np.float64)
        self.total += float(self._error(_aligned(type(self).__name__, pred, target) - target).sum())
        self.count += target.size

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")


class MSE(_ErrorMean):
    """Running mean squared error.

    >>> m = MSE(); m.update(pred, target); m.result()
    """

    name = "mse"
    _error = staticmethod(np.square)


class MAE(_ErrorMean):
    """Running mean absolute error.

    >>> m = MAE(); m.update(pred, target); m.result()
    """

    name = "mae"
    _error = staticmethod(np.abs)


class AUC(Metric):
    """Exact ROC AUC over all the scores seen since ``reset`` (see ``roc_auc``); NaN when a score is NaN. Targets
    of one class alone have no pair to rank: the result is 0.0 with a RuntimeWarning, as Keras's AUC gives 0.0
    (so an epoch of such a batch does not end a fit).
    ``from_logits``: (N, 2) scores are the logits of a softmax, ranked by the log-odds of ``pos_label`` (the
    order of its probability; one logit column alone ranks otherwise). Multilabel (N, C) scores and targets give the
    AUC of all their entries together, as Keras's AUC (``multi_label=False``), not ``roc_auc``'s mean over columns.

    >>> m = AUC(); m.update(scores, labels); m.result()
    """

    name = "auc"
    state_names = ("scores", "targets")

    def __init__(self, pos_label=1, name: str | None = None, *, from_logits: bool = False):
        self.pos_label, self.from_logits = pos_label, from_logits
        super().__init__(name)

    def reset(self) -> None:
        self.scores, self.targets = [], []

    def update(self, pred, target) -> None:
        scores = _np(pred)
        multilabel = scores.ndim == 2 and scores.shape == _np(target).shape  # every entry one score, as Keras's
        positive = scores if multilabel else _positive_scores("AUC", scores, self.pos_label)
        if self.from_logits and positive is not scores:  # a column of (N, 2) logits
            positive = positive.astype(np.float64) - scores[:, 1 - int(self.pos_label)]
        self.scores.append(positive.reshape(-1))
        self.targets.append(_np(target).reshape(-1))

    def result(self) -> float:
        scores = np.concatenate(self.scores) if self.scores else np.zeros(0)
        if np.isnan(scores).any() or not scores.size:  # a diverged model's epoch: no AUC, and no crash in fit
            return float("nan")
        targets = np.concatenate(self.targets)
        positives = int(np.sum(targets == self.pos_label))
        if positives in (0, targets.size):
            warnings.warn(f"{type(self).__name__}: the {targets.size} targets seen are all "
                          f"{'positive' if positives else 'negative'} (pos_label={self.pos_label!r}), so no pair "
                          "ranks; the AUC is 0.0, as Keras's", RuntimeWarning, stacklevel=2)
            return 0.0
        return roc_auc(scores, targets, self.pos_label)


class IoU(Metric):
    """Keras's ``IoU``: the intersection over union ``tp / (tp + fp + fn)`` of each class of ``target_class_ids``,
    from the confusion matrix of all the batches since ``reset`` (``confusion``), averaged over those classes that
    occur (in the targets or the predictions); 0.0 when none does. Targets equal to ``ignore_class`` are left out.
    Predictions may be labels or scores, the class axis last (see the module's docstring).

    >>> m = IoU(num_classes=3, target_class_ids=[0, 2]); m.update(logits, labels); m.result()
    """

    name = "iou"
    state_names = ("confusion",)

    def __init__(self, num_classes: int, target_class_ids, ignore_class: int | None = None, threshold: float = 0.5,
                 name: str | None = None):
        _check_num_classes(type(self).__name__, num_classes)
        self.num_classes, self.ignore_class, self.threshold = int(num_classes), ignore_class, threshold
        self.target_class_ids = _class_labels(type(self).__name__, np.asarray(target_class_ids).reshape(-1),
                                              self.num_classes)
        super().__init__(name)

    def reset(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, pred, target) -> None:
        pred, target = _labels(pred, target, self.threshold)
        if self.ignore_class is not None:
            kept = target != self.ignore_class
            pred, target = pred[kept], target[kept]
        self.confusion += confusion_matrix(pred, target, self.num_classes, self.threshold)

    def result(self) -> float:
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - tp
        tp, union = tp[self.target_class_ids], union[self.target_class_ids]
        present = union > 0
        return float(np.sum(tp[present] / union[present]) / present.sum()) if present.any() else 0.0


class MeanIoU(IoU):
    """Keras's ``MeanIoU``: the mean intersection over union of the classes (see ``IoU``), as in semantic
    segmentation; ``confusion`` holds the confusion matrix (true class by row, predicted by column).

    >>> m = MeanIoU(num_classes=3); m.update(logits, labels); m.result()
    """

    name = "mean_iou"

    def __init__(self, num_classes: int, ignore_class: int | None = None, threshold: float = 0.5,
                 name: str | None = None):
        _check_num_classes("MeanIoU", num_classes)
        super().__init__(num_classes, np.arange(num_classes), ignore_class, threshold, name)


class _LabelMetric(Metric):
    _which = 0
    state_names = ("preds", "targets")

    def __init__(self, average: str = "binary", pos_label=1, labels=None, threshold: float = 0.5,
                 name: str | None = None):
        if average not in _AVERAGES:
            raise ValueError(f"{type(self).__name__}: average must be one of {_AVERAGES}, got {average!r}")
        self.average, self.pos_label, self.labels, self.threshold = average, pos_label, labels, threshold
        super().__init__(name)

    def reset(self) -> None:
        self.preds, self.targets = [], []

    def update(self, pred, target) -> None:
        pred, target = _shaped_labels(pred, target, self.threshold)
        self.preds.append(pred)
        self.targets.append(target)

    def result(self) -> float:
        if not self.preds:
            return float("nan")
        columns = {t.shape[1:] if t.ndim == 2 else None for t in self.targets}
        if len(columns) == 1 and None not in columns:  # batches of (N, C) rows: multilabel ones stay rows
            preds, targets = np.concatenate(self.preds), np.concatenate(self.targets)
        else:
            preds = np.concatenate([p.reshape(-1) for p in self.preds])
            targets = np.concatenate([t.reshape(-1) for t in self.targets])
        return _prf(preds, targets, self.average, self.pos_label, self.labels, 0.0, self.threshold)[self._which]


class Precision(_LabelMetric):
    """Running precision (see ``precision``).

    >>> m = Precision(average="macro"); m.update(logits, labels); m.result()
    """

    name = "precision"
    _which = 0


class Recall(_LabelMetric):
    """Running recall (see ``recall``).

    >>> m = Recall(); m.update(probs, labels); m.result()
    """

    name = "recall"
    _which = 1


class F1(_LabelMetric):
    """Running F1 score (see ``f1_score``).

    >>> m = F1(average="weighted"); m.update(logits, labels); m.result()
    """

    name = "f1"
    _which = 2


__all__ = [
    "AUC", "F1", "MAE", "MSE", "Accuracy", "IoU", "Mean", "MeanIoU", "Metric", "Precision", "Recall", "TopKAccuracy",
    "accuracy", "confusion_matrix", "f1_score", "log_loss", "mean_absolute_error", "mean_squared_error", "precision",
    "recall", "roc_auc", "top_k_accuracy",
]


# --- CTR metrics: group AUC, streaming (bucketed) AUC, running log loss ------------------------------------
def group_auc(scores, target, groups, pos_label=1) -> float:
    """Group AUC (GAUC): the AUC within each group (a user, say), averaged with weights = group size,
    over the groups that hold both classes (others carry no ranking information and are skipped).

    >>> group_auc(np.array([.9, .1, .4, .6]), np.array([1, 0, 0, 1]), np.array([7, 7, 8, 8]))   # 1.0
    """
    scores, target, groups = _np(scores).reshape(-1), _np(target).reshape(-1), _np(groups).reshape(-1)
    if not scores.size == target.size == groups.size:
        raise ValueError(f"group_auc: scores, targets and groups must have one value per sample, got "
                         f"{scores.size}, {target.size} and {groups.size}")
    classes = np.unique(target)
    if classes.size > 2:  # a group holding two of them would count the class other than pos_label as negative
        raise ValueError(f"group_auc: targets must hold two classes, got {classes.size}: {classes[:6].tolist()}"
                         f"{'...' if classes.size > 6 else ''} (pos_label={pos_label!r}); compare (target == k) for "
                         "one class against the rest")
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    bounds = np.flatnonzero(np.concatenate([[True], sorted_groups[1:] != sorted_groups[:-1], [True]]))
    total, weight = 0.0, 0
    for start, stop in zip(bounds[:-1], bounds[1:]):
        rows = order[start:stop]
        positive = target[rows] == pos_label
        if positive.all() or not positive.any():
            continue
        total += roc_auc(scores[rows], target[rows], pos_label) * len(rows)
        weight += len(rows)
    if weight == 0:
        raise ValueError("group_auc: no group holds both positive and negative targets")
    return total / weight


class StreamingAUC(Metric):
    """ROC AUC in constant memory: scores in [0, 1] are counted into ``num_thresholds`` equal buckets per
    class, and the AUC is computed from the bucket counts (ties within a bucket count half). It differs from
    the exact ``roc_auc`` by less than the share of pairs that fall in one bucket (about 1e-4 with the
    default 10,000 buckets on spread-out probabilities). Scores outside [0, 1] raise: pass probabilities.

    >>> m = StreamingAUC(); m.update(probs, labels); m.result()
    """

    name = "auc"
    state_names = ("positives", "negatives")

    def __init__(self, num_thresholds: int = 10_000, pos_label=1, name: str | None = None):
        if num_thresholds < 2:
            raise ValueError(f"StreamingAUC: num_thresholds must be >= 2, got {num_thresholds}")
        self.num_thresholds, self.pos_label = int(num_thresholds), pos_label
        super().__init__(name)

    def reset(self) -> None:
        self.positives = np.zeros(self.num_thresholds, np.int64)
        self.negatives = np.zeros(self.num_thresholds, np.int64)
        self.negative_label = None  # the one class besides pos_label seen since the reset

    def update(self, pred, target) -> None:
        scores, target = _np(pred).reshape(-1).astype(np.float64), _np(target).reshape(-1)
        if scores.size != target.size:
            raise ValueError(f"StreamingAUC: {scores.size} scores but {target.size} targets")
        if scores.size and (np.nanmin(scores) < 0 or np.nanmax(scores) > 1 or np.isnan(scores).any()):
            raise ValueError("StreamingAUC: scores must be probabilities in [0, 1] (apply a sigmoid to logits)")
        buckets = np.minimum((scores * self.num_thresholds).astype(np.int64), self.num_thresholds - 1)
        positive = target == self.pos_label
        negative = target[~positive]
        if negative.size:  # a third class would count as negative: a one-vs-rest AUC passed off as binary
            if self.negative_label is None:
                self.negative_label = negative[0].item()
            other = negative[negative != self.negative_label]
            if other.size:
                raise ValueError(f"StreamingAUC: targets must hold two classes, pos_label={self.pos_label!r} and one "
                                 f"other; got {self.negative_label!r} and {other[0].item()!r} besides it (compare "
                                 "(target == k) for one class against the rest)")
        self.positives += np.bincount(buckets[positive], minlength=self.num_thresholds)
        self.negatives += np.bincount(buckets[~positive], minlength=self.num_thresholds)

    def result(self) -> float:
        n_pos, n_neg = int(self.positives.sum()), int(self.negatives.sum())
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        below = np.cumsum(self.negatives) - self.negatives  # negatives in lower buckets
        wins = np.sum(self.positives * (below + 0.5 * self.negatives), dtype=np.float64)
        return float(wins / (n_pos * n_neg))


class LogLoss(Metric):
    """Running log loss of binary probabilities (see ``log_loss``).

    >>> m = LogLoss(); m.update(probs, labels); m.result()
    """

    name = "logloss"
    state_names = ("total", "count")

    def __init__(self, eps: float | str = "auto", name: str | None = None):
        self.eps = eps
        super().__init__(name)

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, pred, target) -> None:
        n = _np(target).size
        if n:
            self.total += log_loss(pred, target, self.eps) * n
            self.count += n

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")


__all__ += ["LogLoss", "StreamingAUC", "group_auc"]

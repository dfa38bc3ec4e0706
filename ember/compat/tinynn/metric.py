"""``tn.metric``: evaluation metrics on arrays, each returning ``(value, info)`` as tinynn's do."""

from __future__ import annotations

import numpy as np


def _same_length(name: str, preds, targets) -> None:
    if len(preds) != len(targets):
        raise ValueError(f"metric.{name}: {len(preds)} predictions but {len(targets)} targets")


def _same_shape(name: str, preds, targets) -> None:
    """Element-wise metrics need one shape: (N, 1) predictions against (N,) targets would broadcast to (N, N)
    comparisons (an accuracy of 2.0, say)."""
    _same_length(name, preds, targets)
    if np.shape(preds) != np.shape(targets):
        raise ValueError(f"metric.{name}: predictions of shape {np.shape(preds)} but targets of shape "
                         f"{np.shape(targets)}; give both the same shape (e.g. reshape(-1))")


def accuracy(preds, targets) -> tuple:
    """The fraction of predictions equal to their targets; info: hit_num, total_num."""
    _same_shape("accuracy", preds, targets)
    hits = int(np.sum(np.asarray(preds) == np.asarray(targets)))
    return hits / len(preds), {"hit_num": hits, "total_num": len(preds)}


def _confusion(preds, targets, pos_class, neg_class) -> tuple:
    preds, targets = np.asarray(preds), np.asarray(targets)
    true_pos = np.sum((preds == pos_class) & (targets == pos_class))
    false_pos = np.sum((preds == pos_class) & (targets == neg_class))
    false_neg = np.sum((preds == neg_class) & (targets == pos_class))
    return true_pos, false_pos, false_neg


def precision(preds, targets, pos_class=1, neg_class=0) -> tuple:
    """TP / (TP + FP); info: true_positive, false_positive."""
    _same_shape("precision", preds, targets)
    true_pos, false_pos, _ = _confusion(preds, targets, pos_class, neg_class)
    return true_pos / (true_pos + false_pos), {"true_positive": true_pos, "false_positive": false_pos}


def recall(preds, targets, pos_class=1, neg_class=0) -> tuple:
    """TP / (TP + FN); info: true_positive, false_negative."""
    _same_shape("recall", preds, targets)
    true_pos, _, false_neg = _confusion(preds, targets, pos_class, neg_class)
    return true_pos / (true_pos + false_neg), {"true_positive": true_pos, "false_negative": false_neg}


def f1_score(preds, targets, pos_class=1, neg_class=0) -> tuple:
    """Harmonic mean of precision and recall; info: precision, recall."""
    p, _ = precision(preds, targets, pos_class, neg_class)
    r, _ = recall(preds, targets, pos_class, neg_class)
    return 2 * p * r / (p + r), {"precision": p, "recall": r}


def auc(preds, targets, pos_class=1, neg_class=0) -> tuple:
    """Area under the ROC curve: the fraction of (positive, negative) pairs ranked correctly, a tie counting
    half (as scikit-learn's roc_auc_score; tinynn counted tied pairs by where its sort happened to put them)."""
    preds, targets = np.asarray(preds).reshape(-1), np.asarray(targets).reshape(-1)
    if preds.size != targets.size:  # the ranks of some would pair with others' targets
        raise ValueError(f"metric.auc: {preds.size} scores but {targets.size} targets")
    negatives = np.sort(preds[targets == neg_class])
    positives = preds[targets == pos_class]
    below = np.searchsorted(negatives, positives, side="left")
    tied = np.searchsorted(negatives, positives, side="right") - below
    correct = np.sum(below) + 0.5 * np.sum(tied)
    return correct / (positives.size * negatives.size), {}


def auc_roc_curve(preds, targets, partition: int = 300, pos_class=1, neg_class=0) -> tuple:
    """Area under the ROC curve traced at ``partition`` thresholds (1 - 1/partition down to 0), summed
    as tinynn does (each step's true-positive rate times its false-positive step); info: fprs, tprs,
    thresholds."""
    _same_length("auc_roc_curve", preds, targets)
    if partition < 1:
        raise ValueError(f"metric.auc_roc_curve: partition must be at least 1, got {partition}")
    preds, targets = np.asarray(preds).reshape(-1), np.asarray(targets).reshape(-1)
    thresholds = np.arange(0.0, 1.0, 1.0 / partition)[::-1]
    predicted_pos = (preds[None, :] >= thresholds[:, None]).astype(int) == pos_class
    fprs = list(np.sum(predicted_pos & (targets == neg_class), axis=1) / np.sum(targets == neg_class))
    tprs = list(np.sum(predicted_pos & (targets == pos_class), axis=1) / np.sum(targets == pos_class))
    area = sum(tprs[i] * (fprs[i + 1] - fprs[i]) for i in range(len(thresholds) - 1))
    return area, {"fprs": fprs, "tprs": tprs, "thresholds": thresholds}


def log_loss(preds, targets) -> tuple:
    """Mean binary cross-entropy of probabilities ``preds``."""
    _same_shape("log_loss", preds, targets)
    p, y = np.asarray(preds), np.asarray(targets)
    return np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)), {}


def _check_shapes(name: str, preds, targets) -> None:
    if np.shape(preds) != np.shape(targets):
        raise ValueError(f"metric.{name}: predictions of shape {np.shape(preds)}, targets {np.shape(targets)}")


def explained_variation(preds, targets) -> tuple:
    """1 - Var[y - p] / Var[y] (averaged over columns with non-zero variance for 2-D inputs)."""
    _check_shapes("explained_variation", preds, targets)
    residual, total = np.var(targets - preds, axis=0), np.var(targets, axis=0)
    if np.ndim(preds) == 1:
        return 1.0 - residual / total, {}
    keep = total != 0
    return np.mean(1.0 - residual[keep] / total[keep]), {}


def r_square(preds, targets) -> tuple:
    """1 - SS_residual / SS_total, averaged over columns."""
    _check_shapes("r_square", preds, targets)
    residual = np.sum((targets - preds) ** 2, axis=0)
    total = np.sum((targets - np.mean(targets, axis=0)) ** 2, axis=0)
    return np.mean(1 - residual / total), {}


def _per_row_error(name: str, errors) -> tuple:
    if errors.ndim == 1:
        return np.mean(errors), {}
    if errors.ndim == 2:
        return np.mean(np.sum(errors, axis=1)), {}
    raise ValueError(f"metric.{name}: predictions must have 1 or 2 dimensions, got {errors.ndim}")


def mean_square_error(preds, targets) -> tuple:
    """Mean squared error (summed over columns for 2-D inputs)."""
    _check_shapes("mean_square_error", preds, targets)
    return _per_row_error("mean_square_error", np.square(np.asarray(preds) - np.asarray(targets)))


def mean_absolute_error(preds, targets) -> tuple:
    """Mean absolute error (summed over columns for 2-D inputs)."""
    _check_shapes("mean_absolute_error", preds, targets)
    return _per_row_error("mean_absolute_error", np.abs(np.asarray(preds) - np.asarray(targets)))

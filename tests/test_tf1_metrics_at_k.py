"""``tf.metrics``' top-k metrics (``precision_at_k``, ``recall_at_k``, their ``*_at_top_k`` forms,
``average_precision_at_k`` and the ``sparse_*`` names), streamed over several batches and checked against TF-1's
documented set semantics computed row by row in NumPy."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(3)
BATCHES = [(RNG.random((6, 5)).astype(np.float32), RNG.integers(-1, 5, (6, 3))) for _ in range(3)]
BATCHES[0][1][0] = [2, 2, 7]  # a repeated label and one outside the classes
WEIGHTS = [RNG.random(6) for _ in BATCHES]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k]  # ties: the lower id first


def _counts(labels, ids, class_id=None, weights=None):
    """TF-1's tp, fp, fn for rows of class-id sets (a class_id keeps that class alone)."""
    tp = fp = fn = 0.0
    for row, (y, p) in enumerate(zip(labels, ids)):
        y, p = set(np.atleast_1d(y).tolist()), set(p.tolist())
        if class_id is not None:
            y, p = y & {class_id}, p & {class_id}
        w = 1.0 if weights is None else weights[row]
        tp, fp, fn = tp + w * len(p & y), fp + w * len(p - y), fn + w * len(y - p)
    return tp, fp, fn


def _average_precision(labels, ids, k, weights=None):
    total = most = 0.0
    for row, (y, p) in enumerate(zip(labels, ids)):
        y = np.atleast_1d(y)
        hits, ap = 0, 0.0
        for i, c in enumerate(p, 1):
            if c in set(y.tolist()):
                hits += 1
                ap += hits / i
        w = 1.0 if weights is None else weights[row]
        total, most = total + w * ap / min(len(y), k), most + w
    return total, most


@pytest.mark.parametrize("metric", ["precision", "recall"])
@pytest.mark.parametrize("class_id, weighted", [(None, False), (2, False), (None, True), (4, True)])
def test_precision_and_recall_at_k_stream_over_batches(metric, class_id, weighted):
    scores = tf.placeholder(tf.float32, [None, 5])
    labels = tf.placeholder(tf.int64, [None, 3])
    w = tf.placeholder(tf.float64, [None]) if weighted else None
    k = 2
    value, update = getattr(tf.metrics, f"{metric}_at_k")(labels, scores, k, class_id=class_id, weights=w)
    top_value, top_update = getattr(tf.metrics, f"{metric}_at_top_k")(labels, tf.nn.top_k(scores, k).indices, k=k,
                                                                      class_id=class_id, weights=w)
    totals = np.zeros(3)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for (s, y), weights in zip(BATCHES, WEIGHTS):
            feed = {scores: s, labels: y, **({w: weights} if weighted else {})}
            totals += _counts(y, _top(s, k), class_id, weights if weighted else None)
            tp, other = totals[0], totals[1 if metric == "precision" else 2]
            got, got_top = sess.run([update, top_update], feed)
            np.testing.assert_allclose([got, got_top], tp / (tp + other), rtol=1e-12)
        assert value.dtype == np.float64
        np.testing.assert_allclose(sess.run([value, top_value]), tp / (tp + other), rtol=1e-12)


def test_labels_of_one_id_per_row_and_rows_of_more_dimensions():
    scores = RNG.random((2, 3, 4)).astype(np.float32)
    labels = RNG.integers(0, 4, (2, 3))
    value, update = tf.metrics.precision_at_k(tf.constant(labels), tf.constant(scores), 1)
    recall, recall_update = tf.metrics.recall_at_k(tf.constant(labels, tf.int32), tf.constant(scores), 3)
    tp, fp, _ = _counts(labels.reshape(-1), _top(scores, 1).reshape(-1, 1))
    tp3, _, fn3 = _counts(labels.reshape(-1), _top(scores, 3).reshape(-1, 3))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        np.testing.assert_allclose(sess.run(update), tp / (tp + fp))
        np.testing.assert_allclose(sess.run(recall_update), tp3 / (tp3 + fn3))


def test_precision_is_nan_until_the_class_is_predicted_as_in_tf1():
    value, update = tf.metrics.precision_at_k(tf.constant([[1]], tf.int64), tf.constant([[0.9, 0.1, 0.0]]), 1,
                                              class_id=2)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert np.isnan(sess.run(update)) and np.isnan(sess.run(value))


@pytest.mark.parametrize("weighted", [False, True])
def test_average_precision_at_k_streams_over_batches(weighted):
    scores = tf.placeholder(tf.float32, [None, 5])
    labels = tf.placeholder(tf.int64, [None, 3])
    w = tf.placeholder(tf.float64, [None]) if weighted else None
    k = 4
    value, update = tf.metrics.average_precision_at_k(labels, scores, k, weights=w)
    alias_value, alias_update = tf.metrics.sparse_average_precision_at_k(labels, scores, k, weights=w)
    total = most = 0.0
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        np.testing.assert_array_equal(sess.run(value), 0.0)  # nothing seen yet
        for (s, y), weights in zip(BATCHES, WEIGHTS):
            t, m = _average_precision(y, _top(s, k), k, weights if weighted else None)
            total, most = total + t, most + m
            got = sess.run([update, alias_update], {scores: s, labels: y, **({w: weights} if weighted else {})})
            np.testing.assert_allclose(got, total / most, rtol=1e-12)
        np.testing.assert_allclose(sess.run([value, alias_value]), total / most, rtol=1e-12)
    assert tf.metrics.sparse_precision_at_k is tf.metrics.precision_at_k


def test_top_k_metrics_refuse_bad_arguments():
    scores, labels = tf.constant(np.zeros((2, 4), np.float32)), tf.constant(np.zeros((2, 1), np.int64))
    with pytest.raises(ValueError, match="tf.metrics.precision_at_k: k must be an int >= 1, got 0"):
        tf.metrics.precision_at_k(labels, scores, 0)
    with pytest.raises(ValueError, match=r"tf.metrics.recall_at_k: k=5 is larger than the number of classes"):
        tf.metrics.recall_at_k(labels, scores, 5)
    with pytest.raises(TypeError, match="tf.metrics.average_precision_at_k: labels must be integer class ids"):
        tf.metrics.average_precision_at_k(tf.constant([[1.0]]), scores, 1)
    with pytest.raises(TypeError, match="tf.metrics.precision_at_k: predictions must be float scores"):
        tf.metrics.precision_at_k(labels, tf.constant([[1, 2]]), 1)
    with pytest.raises(ValueError, match=r"Unexpected labels shape \[2, 1, 1\] for predictions shape \[2, 4\]"):
        tf.metrics.precision_at_k(tf.zeros([2, 1, 1], tf.int64), scores, 1)
    with pytest.raises(ValueError, match=r"labels of shape \[3, 1\] and predictions of shape \[2, 4\] must agree"):
        tf.metrics.recall_at_k(tf.zeros([3, 1], tf.int64), scores, 1)
    with pytest.raises(TypeError, match="tf.metrics.precision_at_top_k: predictions_idx must be integer class ids"):
        tf.metrics.precision_at_top_k(labels, scores)
    y = tf.placeholder(tf.int64, [None, 1])
    _, update = tf.metrics.recall_at_k(y, scores, 1)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        with pytest.raises(ValueError, match=r"labels of shape \[3, 1\] and predictions of shape \[2, 1\] must agree"):
            sess.run(update, {y: np.zeros((3, 1), np.int64)})


def test_tf_metrics_shows_tf1s_names_only():
    tf1_names = {  # TF 1.15's tf.metrics
        "accuracy", "auc", "average_precision_at_k", "false_negatives", "false_negatives_at_thresholds",
        "false_positives", "false_positives_at_thresholds", "mean", "mean_absolute_error", "mean_cosine_distance",
        "mean_iou", "mean_per_class_accuracy", "mean_relative_error", "mean_squared_error", "mean_tensor",
        "percentage_below", "precision", "precision_at_k", "precision_at_thresholds", "precision_at_top_k", "recall",
        "recall_at_k", "recall_at_thresholds", "recall_at_top_k", "root_mean_squared_error",
        "sensitivity_at_specificity", "sparse_average_precision_at_k", "sparse_precision_at_k",
        "specificity_at_sensitivity", "true_negatives", "true_negatives_at_thresholds", "true_positives",
        "true_positives_at_thresholds",
    }
    assert set(dir(tf.metrics)) == tf1_names == set(tf.metrics.__all__)
    public = {n for n in vars(tf.metrics) if not n.startswith("_")} - {"annotations"}  # (from __future__)
    assert public == tf1_names
    with pytest.raises(AttributeError, match="module 'tf.metrics' has no attribute 'np'"):
        tf.metrics.np  # noqa: B018

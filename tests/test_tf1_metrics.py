"""``tf.metrics``: TF-1's streaming metrics (value, update_op) over local variables, each checked against a NumPy
reference of TF-1's formulas over several batches, with weights, and reset by ``local_variables_initializer``."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(0)


def _batches(count=4, size=7, classes=2, weighted=True):
    out = []
    for _ in range(count):
        labels = RNG.integers(0, classes, size)
        scores = RNG.random(size).astype(np.float32)
        weights = RNG.random(size).astype(np.float32) if weighted else np.ones(size, np.float32)
        out.append((labels, scores, weights))
    return out


def _stream(metric_fn, batches, feeds_of):
    """Run ``update_op`` on each batch (its result after each) then ``value``, as a TF-1 eval loop does."""
    value, update_op = metric_fn()
    updates = []
    with tf.Session() as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        for batch in batches:
            updates.append(sess.run(update_op, feeds_of(batch)))
        final = sess.run(value)
        sess.run(tf.local_variables_initializer())
        reset = sess.run(value)
    return updates, final, reset


# --- the variables: local, in the metric's scope, reset by local_variables_initializer ----------------------


def test_metric_variables_are_local_scoped_and_left_out_of_global_variables_and_savers():
    acc, acc_op = tf.metrics.accuracy([1, 2], [1, 3])
    named, named_op = tf.metrics.accuracy([1, 2], [1, 3], name="acc")
    w = tf.Variable(1.0, name="w")
    assert acc.name == "accuracy/value:0" and acc_op.name == "accuracy/update_op:0"
    local = [v.name for v in tf.local_variables()]
    assert local == ["accuracy/total:0", "accuracy/count:0", "acc/total:0", "acc/count:0"]
    assert [v.name for v in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)] == local
    assert tf.global_variables() == [w] and tf.trainable_variables() == [w]
    assert tf.train.Saver().variables == {"w": w}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())  # not the local ones
        with pytest.raises(ValueError, match="uninitialized value accuracy/total: run "
                                             r"tf.local_variables_initializer\(\)"):
            sess.run(acc)
        sess.run(tf.local_variables_initializer())
        assert sess.run(acc) == 0.0  # no batch yet: 0, not nan
        assert sess.run(acc_op) == pytest.approx(0.5) and sess.run(named_op) == pytest.approx(0.5)
        assert sess.run(acc_op) == pytest.approx(0.5) and sess.run(acc) == pytest.approx(0.5)
        assert sess.run([v for v in tf.local_variables()][:2]) == [2.0, 4.0]


def test_a_variable_made_in_the_local_collection_is_local():
    v = tf.Variable(3.0, collections=[tf.GraphKeys.LOCAL_VARIABLES], name="v")
    g = tf.get_variable("g", [], collections=[tf.GraphKeys.LOCAL_VARIABLES], initializer=tf.zeros_initializer())
    assert tf.local_variables() == [v, g] and tf.global_variables() == []
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run([v, g]) == [3.0, 0.0]


def test_metrics_and_updates_collections():
    value, update_op = tf.metrics.mean([1.0, 2.0], metrics_collections=["m"], updates_collections=["u"])
    rmse, rmse_op = tf.metrics.root_mean_squared_error([1.0], [2.0], metrics_collections="m")
    assert tf.get_collection("m") == [value, rmse] and tf.get_collection("u") == [update_op]


# --- means ------------------------------------------------------------------------------------------------------


def test_accuracy_over_batches_with_weights_matches_numpy():
    batches = _batches(classes=3)
    y = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.int64, [None])
    w = tf.placeholder(tf.float32, [None])
    preds = [RNG.integers(0, 3, len(b[0])) for b in batches]
    data = [(b[0], q, b[2]) for b, q in zip(batches, preds)]
    updates, final, reset = _stream(lambda: tf.metrics.accuracy(y, p, weights=w), data,
                                    lambda b: {y: b[0], p: b[1], w: b[2]})
    hits = weights = 0.0
    for (labels, predicted, wt), got in zip(data, updates):
        hits += float(((labels == predicted) * wt.astype(np.float64)).sum())
        weights += float(wt.astype(np.float64).sum())
        assert got == pytest.approx(hits / weights, rel=1e-5)
    assert final == pytest.approx(hits / weights, rel=1e-5) and reset == 0.0


def test_accuracy_casts_predictions_to_the_labels_dtype_and_squeezes_a_last_dimension_of_one():
    acc, acc_op = tf.metrics.accuracy(tf.constant([[1], [2], [3]], tf.int32), tf.constant([1.7, 2.2, 3.0]))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(acc_op) == pytest.approx(1.0)  # 1.7 -> 1, as TF-1 casts to int32


def test_mean_weights_of_one_rank_less_are_expanded_and_broadcast():
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    weights = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    m, m_op = tf.metrics.mean(tf.constant(values), weights=tf.constant(weights))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        first, second = sess.run(m_op), sess.run(m_op)
    full = np.broadcast_to(weights[:, None], values.shape)
    assert first == pytest.approx((values * full).sum() / full.sum()) == second


def test_mean_and_mean_tensor_over_batches():
    x = tf.placeholder(tf.float32, [2, 3])
    w = tf.placeholder(tf.float32, [2, 1])
    m, m_op = tf.metrics.mean(x, weights=w)
    mt, mt_op = tf.metrics.mean_tensor(x, weights=w)
    assert [v.name for v in tf.local_variables()][2:] == ["mean_1/total_tensor:0", "mean_1/count_tensor:0"]
    total = np.zeros((2, 3))
    count = np.zeros((2, 3))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for _ in range(3):
            xs = RNG.standard_normal((2, 3)).astype(np.float32)
            ws = np.array([[0.0], [RNG.random()]], np.float32)
            total += xs * ws
            count += np.broadcast_to(ws, (2, 3))
            got, got_tensor = sess.run([m_op, mt_op], {x: xs, w: ws})
            assert got == pytest.approx(total.sum() / count.sum(), rel=1e-5)
            np.testing.assert_allclose(got_tensor, np.where(count > 0, total / np.where(count > 0, count, 1), 0),
                                       rtol=1e-5)
        np.testing.assert_allclose(sess.run(mt)[0], [0.0, 0.0, 0.0])  # weights 0: 0, not nan
    with pytest.raises(ValueError, match=r"tf.metrics.mean_tensor: values .* fully known shape, got \['\?', 3\]"):
        tf.metrics.mean_tensor(tf.placeholder(tf.float32, [None, 3]))


def test_regression_errors_over_batches_match_numpy():
    y = tf.placeholder(tf.float32, [None])
    p = tf.placeholder(tf.float32, [None])
    w = tf.placeholder(tf.float32, [None])
    mse, mse_op = tf.metrics.mean_squared_error(y, p, weights=w)
    rmse, rmse_op = tf.metrics.root_mean_squared_error(y, p, weights=w)
    mae, mae_op = tf.metrics.mean_absolute_error(y, p)
    assert [v.name for v in tf.local_variables()][2:4] == ["root_mean_squared_error/total:0",
                                                            "root_mean_squared_error/count:0"]
    sq = ab = wsum = 0.0
    n = 0
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for size in (3, 5, 2):
            ys, ps = RNG.standard_normal(size).astype(np.float32), RNG.standard_normal(size).astype(np.float32)
            ws = RNG.random(size).astype(np.float32)
            sq += float((ws * (ys - ps) ** 2).sum())
            wsum += float(ws.sum())
            ab += float(np.abs(ys - ps).sum())
            n += size
            got = sess.run([mse_op, rmse_op, mae_op], {y: ys, p: ps, w: ws})
            np.testing.assert_allclose(got, [sq / wsum, np.sqrt(sq / wsum), ab / n], rtol=1e-5)
        np.testing.assert_allclose(sess.run([mse, rmse, mae]), [sq / wsum, np.sqrt(sq / wsum), ab / n], rtol=1e-5)


def test_percentage_below_and_mean_relative_error():
    values = np.array([0.1, 0.5, 0.9, 0.3], np.float32)
    below, below_op = tf.metrics.percentage_below(values, 0.4)
    rel, rel_op = tf.metrics.mean_relative_error(tf.constant([1.0, 2.0, 4.0]), tf.constant([1.5, 1.0, 4.0]),
                                                 normalizer=tf.constant([1.0, 0.0, 2.0]))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(below_op) == pytest.approx(0.5)
        assert sess.run(rel_op) == pytest.approx((0.5 + 0.0 + 0.0) / 3)  # a zero normalizer gives 0


# --- counts, precision, recall ----------------------------------------------------------------------------------


def test_confusion_counts_precision_and_recall_over_weighted_batches_match_numpy():
    batches = _batches(count=5, size=9)
    y = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.float32, [None])
    w = tf.placeholder(tf.float32, [None])
    predicted = tf.greater(p, 0.5)
    metrics = [tf.metrics.true_positives(y, predicted, w), tf.metrics.false_positives(y, predicted, w),
               tf.metrics.true_negatives(y, predicted, w), tf.metrics.false_negatives(y, predicted, w),
               tf.metrics.precision(y, predicted, w), tf.metrics.recall(y, predicted, w)]
    assert [v.name for v in tf.local_variables()][4:] == [
        "precision/true_positives/count:0", "precision/false_positives/count:0",
        "recall/true_positives/count:0", "recall/false_negatives/count:0"]
    counts = np.zeros(4)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for labels, scores, weights in batches:
            lab, pos = labels.astype(bool), scores > 0.5
            wt = weights.astype(np.float64)
            counts += [(wt * (lab & pos)).sum(), (wt * (~lab & pos)).sum(), (wt * (~lab & ~pos)).sum(),
                       (wt * (lab & ~pos)).sum()]
            got = sess.run([m[1] for m in metrics], {y: labels, p: scores, w: weights})
            tp, fp, _, fn = counts
            np.testing.assert_allclose(got, [*counts, tp / (tp + fp), tp / (tp + fn)], rtol=1e-5)
        np.testing.assert_allclose(sess.run([m[0] for m in metrics])[:4], counts, rtol=1e-5)


def test_precision_and_recall_are_zero_without_positives():
    prec, prec_op = tf.metrics.precision(tf.constant([1, 0]), tf.constant([0, 0]))
    rec, rec_op = tf.metrics.recall(tf.constant([0, 0]), tf.constant([1, 0]))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run([prec, rec]) == [0.0, 0.0]
        assert sess.run([prec_op, rec_op]) == [0.0, 0.0]


# --- thresholds and AUC -----------------------------------------------------------------------------------------


def _counts_at(labels, scores, weights, thresholds):
    cuts = np.asarray(thresholds, np.float32)[:, None]
    pos = scores[None, :] > cuts
    lab = labels.astype(bool)[None, :]
    wt = weights.astype(np.float64)[None, :]
    return {"tp": (wt * (lab & pos)).sum(1), "fn": (wt * (lab & ~pos)).sum(1),
            "tn": (wt * (~lab & ~pos)).sum(1), "fp": (wt * (~lab & pos)).sum(1)}


def _auc_reference(c, curve, method):
    """TF-1's auc from its confusion counts, written out in NumPy."""
    tp, fn, tn, fp = c["tp"], c["fn"], c["tn"], c["fp"]
    if curve == "PR" and method == "careful_interpolation":
        dtp = tp[:-1] - tp[1:]
        pos = tp + fp
        dp = np.maximum(pos[:-1] - pos[1:], 0)
        slope = np.divide(dtp, dp, out=np.zeros_like(dtp), where=dp != 0)
        intercept = tp[1:] - slope * pos[1:]
        both = (pos[:-1] > 0) & (pos[1:] > 0)
        ratio = np.ones_like(pos[1:])
        ratio[both] = pos[:-1][both] / pos[1:][both]
        total = np.maximum(tp[1:] + fn[1:], 0)
        area = slope * (dtp + intercept * np.log(ratio))
        return np.divide(area, total, out=np.zeros_like(area), where=total != 0).sum()
    rec = (tp + 1e-6) / (tp + fn + 1e-6)
    if curve == "ROC":
        x, y = fp / (fp + tn + 1e-6), rec
    else:
        x, y = rec, (tp + 1e-6) / (tp + fp + 1e-6)
    heights = {"minoring": np.minimum(y[:-1], y[1:]), "majoring": np.maximum(y[:-1], y[1:])}.get(
        method, (y[:-1] + y[1:]) / 2)
    return ((x[:-1] - x[1:]) * heights).sum()


@pytest.mark.parametrize("curve, method, num_thresholds", [
    ("ROC", "trapezoidal", 200), ("ROC", "trapezoidal", 7), ("PR", "trapezoidal", 200),
    ("PR", "careful_interpolation", 200), ("PR", "careful_interpolation", 11), ("ROC", "careful_interpolation", 50),
    ("ROC", "minoring", 20), ("PR", "majoring", 20)])
def test_auc_over_weighted_batches_matches_tf1s_formula(curve, method, num_thresholds):
    batches = _batches(count=3, size=25)
    y = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.float32, [None])
    w = tf.placeholder(tf.float32, [None])
    thresholds = [-1e-7] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + 1e-7]
    updates, final, reset = _stream(
        lambda: tf.metrics.auc(y, p, w, num_thresholds=num_thresholds, curve=curve, summation_method=method),
        batches, lambda b: {y: b[0], p: b[1], w: b[2]})
    assert [v.name for v in tf.local_variables()] == ["auc/true_positives:0", "auc/false_negatives:0",
                                                      "auc/true_negatives:0", "auc/false_positives:0"]
    for k, got in enumerate(updates):
        seen = [np.concatenate([b[i] for b in batches[:k + 1]]) for i in range(3)]
        expected = _auc_reference(_counts_at(*seen, thresholds), curve, method)
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert final == pytest.approx(updates[-1], rel=1e-6) and reset == 0.0


def test_auc_is_close_to_the_exact_roc_auc_and_takes_given_thresholds():
    labels = RNG.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + RNG.random(400) * 0.7, 0, 1).astype(np.float32)
    pos, neg = scores[labels == 1], scores[labels == 0]
    exact = ((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    roc, roc_op = tf.metrics.auc(labels, scores, num_thresholds=1000)
    given, given_op = tf.metrics.auc(labels, scores, thresholds=[0.9, 0.1, 0.5])
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(roc_op) == pytest.approx(exact, abs=2e-3)
        expected = _auc_reference(_counts_at(labels, scores, np.ones(400), [-1e-7, 0.1, 0.5, 0.9, 1 + 1e-7]),
                                  "ROC", "trapezoidal")
        assert sess.run(given_op) == pytest.approx(expected, rel=1e-5)


def test_precision_and_recall_at_thresholds_and_counts_at_thresholds():
    labels, scores, weights = _batches(count=1, size=30)[0]
    cuts = [0.2, 0.5, 0.8]
    prec, prec_op = tf.metrics.precision_at_thresholds(labels, scores, cuts, weights=weights)
    rec, rec_op = tf.metrics.recall_at_thresholds(labels, scores, cuts, weights=weights)
    tp, tp_op = tf.metrics.true_positives_at_thresholds(labels, scores, cuts)
    fn, fn_op = tf.metrics.false_negatives_at_thresholds(labels, scores, cuts)
    c = _counts_at(labels, scores, weights, cuts)
    plain = _counts_at(labels, scores, np.ones(30), cuts)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for step in (1, 2):
            got = sess.run([prec_op, rec_op, tp_op, fn_op])
            np.testing.assert_allclose(got[0], step * c["tp"] / (1e-7 + step * (c["tp"] + c["fp"])), rtol=1e-5)
            np.testing.assert_allclose(got[1], step * c["tp"] / (1e-7 + step * (c["tp"] + c["fn"])), rtol=1e-5)
            np.testing.assert_allclose(got[2:], [step * plain["tp"], step * plain["fn"]])
        np.testing.assert_allclose(sess.run(prec), got[0])


def test_predictions_outside_0_1_are_refused_before_the_counts_change():
    y = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.float32, [None])
    auc, auc_op = tf.metrics.auc(y, p)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        with pytest.raises(ValueError, match=r"tf.metrics.auc: predictions must be in \[0, 1\]"):
            sess.run(auc_op, {y: [0, 1], p: [0.5, 1.5]})
        assert sess.run(auc) == 0.0
        assert all(not sess.run(v).any() for v in tf.local_variables())


# --- mean IoU -----------------------------------------------------------------------------------------------------


def _mean_iou_reference(cm):
    diag = np.diag(cm)
    denominator = cm.sum(0) + cm.sum(1) - diag
    valid = denominator != 0
    return (diag[valid] / denominator[valid]).sum() / valid.sum() if valid.any() else 0.0


def test_mean_iou_over_weighted_batches_matches_a_numpy_confusion_matrix():
    k = 4
    y = tf.placeholder(tf.int32, [None, 3])
    p = tf.placeholder(tf.int32, [None, 3])
    w = tf.placeholder(tf.float32, [None, 3])
    iou, iou_op = tf.metrics.mean_iou(y, p, num_classes=k, weights=w)
    assert [v.name for v in tf.local_variables()] == ["mean_iou/total_confusion_matrix:0"]
    assert tf.local_variables()[0].dtype == np.float64
    cm = np.zeros((k, k))
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        assert sess.run(iou) == 0.0
        for rows in (2, 5):
            ys, ps = RNG.integers(0, k - 1, (rows, 3)), RNG.integers(0, k - 1, (rows, 3))  # class 3 never seen
            ws = RNG.integers(0, 3, (rows, 3)).astype(np.float32)
            np.add.at(cm, (ys.ravel(), ps.ravel()), ws.ravel())
            np.testing.assert_allclose(sess.run(iou_op, {y: ys, p: ps, w: ws}), cm)  # update_op: the matrix
            assert sess.run(iou) == pytest.approx(_mean_iou_reference(cm), rel=1e-6)
        with pytest.raises(ValueError, match=r"tf.metrics.mean_iou: predictions must be class ids in \[0, 4\)"):
            sess.run(iou_op, {y: [[0, 1, 2]], p: [[0, 4, 1]], w: np.ones((1, 3))})
        np.testing.assert_allclose(sess.run(tf.local_variables()[0]), cm)


def test_mean_iou_casts_float_class_ids_to_int64_and_leaves_absent_classes_out():
    iou, iou_op = tf.metrics.mean_iou(tf.constant([0, 1, 1]), tf.constant([0.0, 1.9, 0.2]), num_classes=3)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        np.testing.assert_allclose(sess.run(iou_op), [[1, 0, 0], [1, 1, 0], [0, 0, 0]])  # 1.9 -> 1, 0.2 -> 0
        assert sess.run(iou) == pytest.approx((1 / 2 + 1 / 2) / 2)  # class 2 never seen: left out


# --- bad input ----------------------------------------------------------------------------------------------------


def test_mismatched_shapes_weights_dtypes_and_arguments_are_refused_naming_them():
    with pytest.raises(ValueError, match=r"tf.metrics.accuracy: Shapes \[4\] and \[3\] are incompatible"):
        tf.metrics.accuracy(tf.zeros([3]), tf.zeros([4]))
    with pytest.raises(ValueError, match=r"tf.metrics.precision: Shapes \[2, 2\] and \[2, 3\] are incompatible"):
        tf.metrics.precision(tf.zeros([2, 3]), tf.zeros([2, 2]))
    with pytest.raises(ValueError, match=r"tf.metrics.mean: weights can not be broadcast to values: weights of "
                                         r"shape \[3, 3\], values of shape \[3, 2\]"):
        tf.metrics.mean(tf.zeros([3, 2]), weights=tf.ones([3, 3]))
    with pytest.raises(TypeError, match="tf.metrics.mean_squared_error: labels .* int32 and predictions .* float32"):
        tf.metrics.mean_squared_error(tf.constant([1, 2]), tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="tf.metrics.auc: curve must be either ROC or PR, got 'XY'"):
        tf.metrics.auc([1], [0.5], curve="XY")
    with pytest.raises(ValueError, match="tf.metrics.auc: invalid summation_method 'simpson'"):
        tf.metrics.auc([1], [0.5], summation_method="simpson")
    with pytest.raises(ValueError, match="tf.metrics.auc: num_thresholds must be an int >= 2, got 1"):
        tf.metrics.auc([1], [0.5], num_thresholds=1)
    with pytest.raises(ValueError, match="tf.metrics.mean_iou: num_classes must be a positive int, got 0"):
        tf.metrics.mean_iou([1], [1], 0)
    with pytest.raises(ValueError, match=r"mean_per_class_accuracy: Shapes \[6\] and \[4\] are incompatible"):
        tf.metrics.mean_per_class_accuracy(tf.zeros([2, 2], tf.int32), tf.zeros([2, 3], tf.int32), 3)
    with pytest.raises(AttributeError, match="module 'tf.metrics' has no attribute 'f1_score'"):
        tf.metrics.f1_score  # noqa: B018


def test_sizes_known_only_when_fed_are_compared_when_the_update_runs():
    y = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.int64, [None])
    w = tf.placeholder(tf.float32, [None])
    acc, acc_op = tf.metrics.accuracy(y, p, weights=w)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        with pytest.raises(ValueError, match=r"tf.metrics.accuracy: predictions and labels must have one shape, "
                                             r"got \[4\] and \[3\]"):
            sess.run(acc_op, {y: [0, 1, 2], p: [0, 1, 2, 3], w: [1.0, 1.0, 1.0]})
        with pytest.raises(ValueError, match=r"weights of shape \[2\] can not be broadcast to values of shape \[3\]"):
            sess.run(acc_op, {y: [0, 1, 2], p: [0, 1, 2], w: [1.0, 1.0]})
        assert sess.run(acc) == 0.0


# --- a TF-1 evaluation loop ---------------------------------------------------------------------------------------


def test_a_tf1_training_then_eval_loop_with_grouped_metric_updates():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((96, 2)).astype(np.float32)
    targets = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(np.int64)
    x = tf.placeholder(tf.float32, [None, 2])
    y = tf.placeholder(tf.int64, [None])
    logits = tf.layers.dense(x, 2)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    probability = tf.nn.softmax(logits)[:, 1]
    predicted = tf.argmax(logits, axis=1)
    with tf.name_scope("eval"):
        acc, acc_op = tf.metrics.accuracy(y, predicted)
        auc, auc_op = tf.metrics.auc(y, probability)
        mean_loss, loss_op = tf.metrics.mean(loss)
        update_all = tf.group(acc_op, auc_op, loss_op)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(60):
            sess.run(train, {x: features, y: targets})
        evaluations = []
        for _ in range(2):  # two epochs of evaluation, each from fresh counts
            sess.run(tf.local_variables_initializer())
            for start in range(0, 96, 32):
                sess.run(update_all, {x: features[start:start + 32], y: targets[start:start + 32]})
            evaluations.append(sess.run([acc, auc, mean_loss]))
        probs, preds, losses = [], [], []
        for start in range(0, 96, 32):
            feed = {x: features[start:start + 32], y: targets[start:start + 32]}
            pr, pd, ls = sess.run([probability, predicted, loss], feed)
            probs.append(pr)
            preds.append(pd)
            losses.append(ls)
    probs, preds = np.concatenate(probs), np.concatenate(preds)
    thresholds = [-1e-7] + [(i + 1) / 199 for i in range(198)] + [1 + 1e-7]
    expected = [(preds == targets).mean(), _auc_reference(_counts_at(targets, probs, np.ones(96), thresholds),
                                                          "ROC", "trapezoidal"), np.mean(losses)]
    np.testing.assert_allclose(evaluations[0], expected, rtol=1e-5)
    np.testing.assert_allclose(evaluations[1], evaluations[0], rtol=1e-6)
    assert evaluations[0][0] > 0.9


def test_mean_per_class_accuracy_over_weighted_batches_matches_numpy():
    k = 4
    y = tf.placeholder(tf.int64, [None, 2])
    p = tf.placeholder(tf.int64, [None, 2])
    w = tf.placeholder(tf.float32, [None, 2])
    acc, acc_op = tf.metrics.mean_per_class_accuracy(y, p, k, weights=w)
    assert [v.name for v in tf.local_variables()] == ["mean_accuracy/total:0", "mean_accuracy/count:0"]
    total, count = np.zeros(k), np.zeros(k)
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for rows in (3, 4):
            ys, ps = RNG.integers(0, k - 1, (rows, 2)), RNG.integers(0, k - 1, (rows, 2))  # class 3 never seen
            ws = RNG.random((rows, 2)).astype(np.float32)
            np.add.at(total, ys.ravel(), ws.ravel())
            np.add.at(count, ys.ravel(), (ws * (ys == ps)).ravel())
            per_class = np.divide(count, total, out=np.zeros(k), where=total > 0)
            np.testing.assert_allclose(sess.run(acc_op, {y: ys, p: ps, w: ws}), per_class, rtol=1e-5)
            assert sess.run(acc) == pytest.approx(per_class.mean(), rel=1e-5)  # over all k classes, as TF-1
        with pytest.raises(ValueError, match=r"tf.metrics.mean_per_class_accuracy: labels must be class ids in "
                                             r"\[0, 4\)"):
            sess.run(acc_op, {y: [[0, 4]], p: [[0, 1]], w: [[1.0, 1.0]]})


def test_mean_cosine_distance_over_batches():
    y = tf.placeholder(tf.float32, [None, 3])
    p = tf.placeholder(tf.float32, [None, 3])
    dist, dist_op = tf.metrics.mean_cosine_distance(y, p, dim=1)
    products = []
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for rows in (2, 3):
            ys, ps = RNG.standard_normal((rows, 3)), RNG.standard_normal((rows, 3))
            ys /= np.linalg.norm(ys, axis=1, keepdims=True)
            ps /= np.linalg.norm(ps, axis=1, keepdims=True)
            products.extend((ys * ps).sum(1))
            assert sess.run(dist_op, {y: ys, p: ps}) == pytest.approx(1 - np.mean(products), rel=1e-5)
        assert sess.run(dist) == pytest.approx(1 - np.mean(products), rel=1e-5)
    with pytest.raises(ValueError, match=r"mean_cosine_distance: dim 2 is out of range for predictions of shape"):
        tf.metrics.mean_cosine_distance(y, p, dim=2)


def _nearest(rates, target, last):
    distance = np.abs(rates - target)
    ties = np.flatnonzero(distance == distance.min())
    return ties[-1] if last else ties[0]


@pytest.mark.parametrize("target", [0.0, 0.3, 0.75, 1.0])
def test_sensitivity_at_specificity_and_specificity_at_sensitivity_match_tf1s_choice_of_threshold(target):
    batches = _batches(count=2, size=40)
    y = tf.placeholder(tf.int64, [None])
    p = tf.placeholder(tf.float32, [None])
    w = tf.placeholder(tf.float32, [None])
    sens, sens_op = tf.metrics.sensitivity_at_specificity(y, p, target, weights=w, num_thresholds=30)
    spec, spec_op = tf.metrics.specificity_at_sensitivity(y, p, target, weights=w, num_thresholds=30)
    thresholds = [-1e-7] + [(i + 1) / 29 for i in range(28)] + [1 + 1e-7]
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for k, (labels, scores, weights) in enumerate(batches):
            got = sess.run([sens_op, spec_op], {y: labels, p: scores, w: weights})
            seen = [np.concatenate([b[i] for b in batches[:k + 1]]) for i in range(3)]
            c = {key: v.astype(np.float32) for key, v in _counts_at(*seen, thresholds).items()}
            specificity = c["tn"] / (c["tn"] + c["fp"] + np.float32(1e-7))
            sensitivity = c["tp"] / (c["tp"] + c["fn"] + np.float32(1e-7))
            i, j = _nearest(specificity, np.float32(target), last=False), _nearest(sensitivity, np.float32(target),
                                                                                   last=True)
            assert got[0] == pytest.approx(sensitivity[i], rel=1e-5)
            assert got[1] == pytest.approx(specificity[j], rel=1e-5)
        assert sess.run([sens, spec]) == pytest.approx(got, rel=1e-6)
    with pytest.raises(ValueError, match=r"sensitivity_at_specificity: `specificity` must be a number in the range "
                                         r"\[0, 1\], got 1.5"):
        tf.metrics.sensitivity_at_specificity(y, p, 1.5)

"""ember.metrics against scikit-learn's metrics, on arrays and Tensors, one-shot and streaming."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember import metrics

skm = pytest.importorskip("sklearn.metrics")


def _multiclass(n=200, c=4, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)).astype(np.float32)
    target = rng.integers(0, c, n)
    return logits, target


def test_accuracy_forms():
    logits, target = _multiclass()
    expected = skm.accuracy_score(target, logits.argmax(1))
    assert metrics.accuracy(logits, target) == pytest.approx(expected)
    assert metrics.accuracy(ember.tensor(logits, requires_grad=True), ember.tensor(target)) == pytest.approx(expected)
    assert metrics.accuracy(logits.argmax(1), target) == pytest.approx(expected)
    probs = np.array([0.2, 0.7, 0.6, 0.1])
    assert metrics.accuracy(probs, np.array([0, 1, 1, 1])) == 0.75
    assert metrics.accuracy(probs[:, None], np.array([0, 1, 1, 1])) == 0.75
    with pytest.raises(ValueError, match="do not match"):
        metrics.accuracy(np.zeros(3), np.zeros(4))


def test_a_score_at_the_threshold_is_negative():
    """Keras's binary_accuracy and its Precision/Recall, and torchmetrics, count a score above the threshold as
    positive; a probability of exactly 0.5 (a sigmoid of 0) counted as positive (accuracy 0.75 for 0.25)."""
    probs, target = np.array([0.5, 0.5, 0.5, 0.9]), np.array([0, 1, 1, 1])
    assert metrics.accuracy(probs, target) == 0.5
    assert metrics.accuracy(np.zeros(4), np.array([0, 1, 1, 1]), threshold=0.0) == 0.25
    assert metrics.precision(probs, target) == 1.0 and metrics.recall(probs, target) == pytest.approx(1 / 3)
    metric = metrics.Accuracy()
    metric.update(probs[:, None], target)
    assert metric.result() == 0.5


def test_integer_labels_in_a_column_are_labels_not_probabilities():
    """(N, 1) integer predictions against (N,) targets were thresholded at 0.5, so class 2 read as class 1 (macro
    precision 0.556 for scikit-learn's 0.833)."""
    pred, target = np.array([[2], [1], [0], [2]]), np.array([2, 1, 0, 1])
    assert metrics.precision(pred, target, average="macro") == pytest.approx(
        skm.precision_score(target, pred.ravel(), average="macro"))
    assert metrics.accuracy(np.array([[2], [2]]), np.array([2, 2])) == 1.0
    assert metrics.accuracy(np.array([[0.7], [0.2]]), np.array([1, 1])) == 0.5  # probabilities still thresholded


def test_low_precision_scores_score_as_float32():
    """bfloat16 probabilities (dtype kind "V" in NumPy) were compared with the labels unthresholded: accuracy 0.0
    for 0.75, and precision raised a NumPy promotion error."""
    probs, target = np.array([0.2, 0.7, 0.6, 0.1], np.float32), np.array([0, 1, 1, 1])
    for dtype in (ember.float16, ember.bfloat16):
        scores = ember.tensor(probs).to(dtype)
        assert metrics.accuracy(scores, target) == 0.75
        assert metrics.precision(scores, target) == 1.0
        metric = metrics.Accuracy()
        metric.update(scores, target)
        assert metric.result() == 0.75


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy(k):
    logits, target = _multiclass(c=5, seed=k)
    expected = skm.top_k_accuracy_score(target, logits, k=k, labels=np.arange(5))
    assert metrics.top_k_accuracy(logits, target, k) == pytest.approx(expected)
    assert metrics.top_k_accuracy(logits, target, 5) == 1.0



def test_top_k_accuracy_ranks_ties_as_scikit_learn():
    """Tied scores were ranked by argpartition's internal order (225 of 500 tied cases off, by up to 1.0);
    now the higher class index ranks first, as in scikit-learn."""
    rng = np.random.default_rng(0)
    for _ in range(100):
        n, c = int(rng.integers(1, 20)), int(rng.integers(3, 7))
        k = int(rng.integers(1, c))
        scores, target = rng.integers(0, 3, (n, c)).astype(np.float32), rng.integers(0, c, n)
        expected = skm.top_k_accuracy_score(target, scores, k=k, labels=np.arange(c))
        assert metrics.top_k_accuracy(scores, target, k) == pytest.approx(expected)
    assert metrics.top_k_accuracy(np.array([[0.5, 0.5, 0.0], [0.2, 0.2, 0.2]]), np.array([1, 2]), 1) == 1.0
    with pytest.raises(ValueError, match=r"top_k_accuracy: targets must be class indices in \[0, 3\), got \[3\]"):
        metrics.top_k_accuracy(np.zeros((2, 3)), np.array([0, 3]), 5)


@pytest.mark.parametrize("k", [0, -1, True, 1.5])
def test_top_k_accuracy_refuses_a_k_that_is_not_a_positive_int(k):
    """k=0 gave 0.0 and k=-1 gave 1.0 (a negative partition index) instead of an error."""
    logits, target = _multiclass(c=5, seed=0)
    with pytest.raises(ValueError, match=r"top_k_accuracy: k must be a positive int, got"):
        metrics.top_k_accuracy(logits, target, k)
    with pytest.raises(ValueError, match=r"TopKAccuracy: k must be a positive int, got"):
        metrics.TopKAccuracy(k)

@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_precision_recall_f1_multiclass(average):
    logits, target = _multiclass(c=5, seed=3)
    pred = logits.argmax(1)
    pred[pred == 4] = 3  # a class never predicted: zero_division
    for ours, theirs in ((metrics.precision, skm.precision_score), (metrics.recall, skm.recall_score),
                         (metrics.f1_score, skm.f1_score)):
        assert ours(pred, target, average=average) == pytest.approx(
            theirs(target, pred, average=average, zero_division=0))
        assert ours(logits, target, average=average) == pytest.approx(
            theirs(target, logits.argmax(1), average=average, zero_division=0))


def test_precision_recall_f1_binary():
    rng = np.random.default_rng(1)
    probs = rng.random(300)
    target = (rng.random(300) < probs).astype(np.int64)
    pred = (probs >= 0.5).astype(np.int64)
    assert metrics.precision(probs, target) == pytest.approx(skm.precision_score(target, pred))
    assert metrics.recall(probs, target) == pytest.approx(skm.recall_score(target, pred))
    assert metrics.f1_score(probs, target) == pytest.approx(skm.f1_score(target, pred))
    assert metrics.f1_score(pred, target, pos_label=0) == pytest.approx(skm.f1_score(target, pred, pos_label=0))
    with pytest.raises(ValueError, match="average"):
        metrics.precision(pred, target, average="samples")



@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_precision_recall_f1_multilabel(average):
    """(N, C) rows of 0s and 1s were scored as the classes 0 and 1 of every entry (macro precision 0.485 for
    scikit-learn's 0.529); each column is a class now, one-shot and streaming."""
    rng = np.random.default_rng(2)
    target, probs = rng.integers(0, 2, (50, 4)), rng.uniform(size=(50, 4)).astype(np.float32)
    pred = (probs >= 0.5).astype(np.int64)
    for ours, streaming, theirs in ((metrics.precision, metrics.Precision, skm.precision_score),
                                    (metrics.recall, metrics.Recall, skm.recall_score),
                                    (metrics.f1_score, metrics.F1, skm.f1_score)):
        expected = theirs(target, pred, average=average, zero_division=0)
        assert ours(probs, target, average=average) == pytest.approx(expected)
        assert ours(pred, target, average=average, labels=[2, 0]) == pytest.approx(
            theirs(target, pred, average=average, labels=[2, 0], zero_division=0))
        metric = streaming(average=average)
        for start in range(0, 50, 16):
            metric.update(ember.tensor(probs[start:start + 16]), target[start:start + 16])
        assert metric.result() == pytest.approx(expected)
    # "binary" scores every 1 together, as Keras's Precision: scikit-learn's micro average
    assert metrics.precision(probs, target) == pytest.approx(skm.precision_score(target, pred, average="micro"))
    with pytest.raises(ValueError, match=r"labels must be column indices in \[0, 4\), got \[4\]"):
        metrics.precision(probs, target, average=average, labels=[4])


def test_weighted_average_of_classes_without_true_samples_is_their_mean():
    """Classes none of the targets hold all weigh 0, so the weighted score was 0.0 whatever zero_division said;
    scikit-learn takes the plain mean then (1.0 and 0.5 here)."""
    pred, target = np.array([3, 1]), np.array([0, 1])
    for ours, theirs in ((metrics.precision, skm.precision_score), (metrics.recall, skm.recall_score),
                         (metrics.f1_score, skm.f1_score)):
        for labels in ([3], [3, 2]):
            assert ours(pred, target, average="weighted", labels=labels, zero_division=1.0) == pytest.approx(
                theirs(target, pred, average="weighted", labels=labels, zero_division=1.0))
    target = np.zeros((4, 3), np.int64)  # multilabel rows without a 1
    pred = np.eye(4, 3, dtype=np.int64)
    assert metrics.recall(pred, target, average="weighted", zero_division=1.0) == pytest.approx(
        skm.recall_score(target, pred, average="weighted", zero_division=1.0))


def test_labels_must_name_distinct_classes():
    """labels=[] was an IndexError from the internals, and a repeated label scored its copy as a class never
    predicted (macro precision 0.5 for labels=[1, 1, 2], where scikit-learn counts it twice: 0.667)."""
    pred, target = np.array([0, 1, 2, 1]), np.array([0, 2, 2, 1])
    for labels in ([], [1, 1, 2]):
        for average in ("macro", "micro", "weighted"):
            with pytest.raises(ValueError, match="labels must name distinct classes"):
                metrics.precision(pred, target, average=average, labels=labels)
    with pytest.raises(ValueError, match="labels must name distinct classes"):
        metrics.recall(np.eye(3, dtype=np.int64), np.eye(3, dtype=np.int64), average="macro", labels=[0, 0])
    assert metrics.precision(pred, target, average="macro", labels=[2, 0]) == pytest.approx(
        skm.precision_score(target, pred, average="macro", labels=[2, 0]))


def test_zero_division_nan_leaves_the_class_out_of_the_average():
    """zero_division=np.nan made the macro and weighted averages NaN (scikit-learn leaves such classes out: macro
    precision 0.5, weighted 1.0 here), and 'warn', scikit-learn's default, was a NumPy ufunc error."""
    pred, target = np.array([0, 0, 1]), np.array([0, 0, 2])
    for ours, theirs in ((metrics.precision, skm.precision_score), (metrics.recall, skm.recall_score),
                         (metrics.f1_score, skm.f1_score)):
        for average in ("macro", "weighted", "micro"):
            for zero_division in (np.nan, "warn"):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # scikit-learn's UndefinedMetricWarning
                    expected = theirs(target, pred, average=average, zero_division=zero_division)
                assert ours(pred, target, average=average, zero_division=zero_division) == pytest.approx(
                    expected, nan_ok=True), (ours.__name__, average, zero_division)
    assert np.isnan(metrics.precision(np.array([0, 0]), np.array([1, 1]), average="macro", labels=[2],
                                      zero_division=np.nan))
    with pytest.raises(ValueError, match="zero_division must be a number"):
        metrics.recall(pred, target, average="macro", zero_division="nan")
    # other numbers gave scores outside [0, 1] (a precision of 5.0), where scikit-learn refuses them
    for zero_division in (5.0, -1, 0.5):
        with pytest.raises(ValueError, match=r"zero_division must be a number \(0.0, 1.0, np.nan\)"):
            metrics.precision(np.array([0, 0]), np.array([1, 1]), zero_division=zero_division)
    assert metrics.precision(np.array([0, 0]), np.array([1, 1]), zero_division=np.float32(1)) == 1.0


def test_binary_average_refuses_the_labels_of_several_classes():
    """scikit-learn refuses average="binary" on multi-class labels; it gave the score of class 1 alone (a 10-class
    model's "precision" in fit was one class's)."""
    logits = np.array([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1], [0.0, 0.2, 0.9], [0.1, 0.1, 0.7]])
    target = np.array([1, 0, 2, 1])
    for score in (metrics.precision, metrics.recall, metrics.f1_score):
        with pytest.raises(ValueError, match=r"average='binary' needs two classes, one of them pos_label=1; the "
                                             r"predictions and targets hold \[0, 1, 2\]"):
            score(logits, target)
        with pytest.raises(ValueError, match="pos_label=1"):
            score(np.array([0, 2, 2]), np.array([2, 0, 2]))
        assert score(logits, target, average="macro") == pytest.approx(
            getattr(skm, f"{score.__name__.replace('_score', '')}_score")(target, logits.argmax(1), average="macro",
                                                                          zero_division=0))
    streaming = metrics.Precision()
    streaming.update(logits, target)
    with pytest.raises(ValueError, match="average='binary' needs two classes"):
        streaming.result()
    assert metrics.precision(np.array([0, 0]), np.array([0, 0])) == 0.0  # one class present: scikit-learn's 0

@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_matches_sklearn(ties):
    rng = np.random.default_rng(2)
    target = rng.integers(0, 2, 500)
    scores = rng.random(500) + 0.3 * target
    if ties:
        scores = np.round(scores * 5) / 5  # many tied scores across both classes
    assert metrics.roc_auc(scores, target) == pytest.approx(skm.roc_auc_score(target, scores), abs=1e-12)
    two_column = np.stack([1 - scores, scores], 1)
    assert metrics.roc_auc(ember.tensor(two_column), target) == pytest.approx(skm.roc_auc_score(target, scores))
    assert metrics.roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert metrics.roc_auc(np.ones(4), np.array([0, 1, 0, 1])) == 0.5
    with pytest.raises(ValueError, match="1 of the 4 scores are NaN"):
        metrics.roc_auc(np.array([0.2, np.nan, 0.1, 0.9]), np.array([0, 1, 0, 1]))
    streaming = metrics.AUC()
    streaming.update(np.array([0.2, np.nan, 0.1, 0.9]), np.array([0, 1, 0, 1]))
    assert np.isnan(streaming.result())
    with pytest.raises(ValueError, match="both"):
        metrics.roc_auc(np.ones(3), np.ones(3))


def test_roc_auc_of_two_class_scores_reads_the_column_of_pos_label():
    """(N, 2) class scores always gave column 1, so pos_label=0 scored 1 - AUC (0.184 for 0.816)."""
    rng = np.random.default_rng(0)
    target = rng.integers(0, 2, 100)
    p1 = np.clip(target * 0.3 + rng.uniform(size=100) * 0.7, 0, 1)
    scores = np.stack([1 - p1, p1], 1)
    for pos_label in (0, 1):
        expected = skm.roc_auc_score(target == pos_label, scores[:, pos_label])
        assert metrics.roc_auc(scores, target, pos_label=pos_label) == pytest.approx(expected)
        metric = metrics.AUC(pos_label=pos_label)
        metric.update(scores[:60], target[:60])
        metric.update(scores[60:], target[60:])
        assert metric.result() == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"roc_auc: \(N, 2\) scores hold the classes 0 and 1 .* pos_label=2"):
        metrics.roc_auc(scores, target + 1, pos_label=2)


def test_metrics_take_pandas_columns():
    """A pandas Series or DataFrame has a get method, so it was read as a CuPy array: get() missing 'key'."""
    pd = pytest.importorskip("pandas")
    target = pd.Series([0, 1, 1, 0], index=[3, 2, 1, 0])
    scores = pd.DataFrame({"no": [0.9, 0.2, 0.6, 0.7], "yes": [0.1, 0.8, 0.4, 0.3]})
    assert metrics.accuracy(scores, target) == skm.accuracy_score(target, scores.to_numpy().argmax(1)) == 0.75
    assert metrics.roc_auc(scores["yes"], target) == skm.roc_auc_score(target, scores["yes"]) == 1.0


def test_roc_auc_refuses_targets_of_more_than_two_classes():
    """Every class but pos_label counted as negative, so multi-class (or soft) targets gave a one-vs-rest AUC (0.75
    here) passed off as the binary one; scikit-learn and torchmetrics' binary AUROC refuse them."""
    scores, target = np.array([0.1, 0.5, 0.7, 0.9]), np.array([0, 1, 2, 1])
    with pytest.raises(ValueError):
        skm.roc_auc_score(target, scores)
    with pytest.raises(ValueError, match=r"roc_auc: targets must hold two classes, got 3: \[0, 1, 2\]"):
        metrics.roc_auc(scores, target)
    with pytest.raises(ValueError, match="two classes"):
        metrics.roc_auc(scores, np.array([0.0, 1.0, 0.3, 1.0]))
    assert metrics.roc_auc(scores, target == 1) == pytest.approx(skm.roc_auc_score(target == 1, scores))


def test_roc_auc_of_multilabel_targets_is_the_mean_over_columns():
    """(N, C) indicator targets with (N, C) scores were flattened into one AUC of every entry (C >= 3), or an error
    of mismatched sizes (C = 2); scikit-learn's roc_auc_score and torchmetrics' MultilabelAUROC average the columns."""
    rng = np.random.default_rng(3)
    for columns in (2, 3):
        target = rng.integers(0, 2, (40, columns))
        scores = rng.random((40, columns)) + 0.3 * target * np.arange(columns)  # columns of unequal AUCs
        assert metrics.roc_auc(scores, target) == pytest.approx(skm.roc_auc_score(target, scores))
    target[:, 1] = 1
    with pytest.raises(ValueError, match=r"needs both positive and negative targets \(multilabel column 1 of 3\)"):
        metrics.roc_auc(scores, target)


def test_streaming_auc_of_two_multilabel_columns_ranks_every_entry():
    """(N, 2) multilabel scores were read as the scores of the classes 0 and 1, so with (N, 2) targets the result
    failed on 50 scores against 100 targets (three columns gave Keras's AUC of every entry)."""
    rng = np.random.default_rng(0)
    for columns in (2, 3):
        target = rng.integers(0, 2, (50, columns))
        scores = rng.random((50, columns)) + 0.3 * target
        metric = metrics.AUC()
        metric.update(scores[:20], target[:20])
        metric.update(scores[20:], target[20:])
        assert metric.result() == pytest.approx(skm.roc_auc_score(target.ravel(), scores.ravel()))


def test_log_loss_and_regression_errors():
    rng = np.random.default_rng(4)
    p = rng.random(50) * 0.98 + 0.01
    y = rng.integers(0, 2, 50)
    assert metrics.log_loss(p, y) == pytest.approx(skm.log_loss(y, p))
    logits, target = _multiclass(50, 3)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert metrics.log_loss(probs, target) == pytest.approx(skm.log_loss(target, probs, labels=[0, 1, 2]), rel=1e-5)
    assert metrics.log_loss(p, y.astype(np.float32)) == pytest.approx(skm.log_loss(y, p))
    with pytest.raises(ValueError, match=r"binary targets must be 0 or 1, got \[-1, -1"):
        metrics.log_loss(p, np.where(y == 1, 1, -1))  # libsvm's labels
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\), got \[-1\]"):
        metrics.log_loss(probs[:2], np.array([0, -1]))
    a, b = rng.standard_normal(40), rng.standard_normal(40)
    assert metrics.mean_squared_error(a, b) == pytest.approx(skm.mean_squared_error(b, a))
    assert metrics.mean_absolute_error(ember.tensor(a), b) == pytest.approx(skm.mean_absolute_error(b, a), rel=1e-6)


def test_log_loss_clips_at_the_machine_epsilon_of_the_probabilities_dtype_as_scikit_learn():
    """Probabilities of exactly 0 or 1 were clipped at 1e-15 where scikit-learn clips at the dtype's machine
    epsilon (34.54 against 36.04 per such sample in float64, 15.94 in float32); out-of-range ones were clipped."""
    p, y = np.array([0.0, 1.0, 1.0, 0.0, 0.3]), np.array([1, 0, 1, 0, 1])
    for dtype in (np.float64, np.float32, np.float16):
        assert metrics.log_loss(p.astype(dtype), y) == pytest.approx(skm.log_loss(y, p.astype(dtype)), rel=1e-4)
    probs = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    assert metrics.log_loss(probs, np.array([0, 0, 2])) == pytest.approx(
        skm.log_loss(np.array([0, 0, 2]), probs, labels=[0, 1, 2]))
    clipped = [1e-15, 1e-15, 1 - 1e-15, 1 - 1e-15, 0.3]
    assert metrics.log_loss(p, y, eps=1e-15) == pytest.approx(-np.mean(np.log(clipped)))
    running = metrics.LogLoss()
    running.update(p[:2], y[:2])
    running.update(p[2:], y[2:])
    assert running.result() == pytest.approx(skm.log_loss(y, p))
    with pytest.raises(ValueError, match=r"log_loss: probabilities must lie in \[0, 1\]"):
        metrics.log_loss(np.array([1.5, 0.2]), np.array([1, 0]))
    with pytest.raises(ValueError, match="eps must be a number or 'auto'"):
        metrics.log_loss(p, y, eps="tiny")


def test_log_loss_refuses_targets_of_another_length_and_takes_one_hot_rows():
    """(N, C) probabilities against fewer targets scored the first rows alone (3 rows and 2 targets gave 1.498),
    binary ones were NumPy's broadcast error, and one-hot targets, which scikit-learn takes, an IndexError."""
    probs = np.array([[0.1, 0.9], [0.5, 0.5], [0.3, 0.7]])
    with pytest.raises(ValueError, match=r"log_loss: probabilities of shape \[3, 2\] do not match targets of shape"):
        metrics.log_loss(probs, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"log_loss: probabilities of shape \[3\] do not match targets"):
        metrics.log_loss(probs[:, 1], np.array([0, 1]))
    one_hot = np.array([[1, 0], [0, 1], [0, 1]])
    assert metrics.log_loss(probs, one_hot) == pytest.approx(skm.log_loss(one_hot, probs))
    with pytest.raises(ValueError, match="must be one-hot rows"):
        metrics.log_loss(probs, np.array([[1, 1], [0, 1], [0, 1]]))


def test_streaming_metrics_equal_one_shot():
    logits, target = _multiclass(300, 4, seed=5)
    probs = 1 / (1 + np.exp(-logits[:, 0]))
    binary = (target % 2).astype(np.int64)
    cases = [
        (metrics.Accuracy(), logits, target, metrics.accuracy(logits, target)),
        (metrics.TopKAccuracy(2), logits, target, metrics.top_k_accuracy(logits, target, 2)),
        (metrics.AUC(), probs, binary, skm.roc_auc_score(binary, probs)),
        (metrics.Precision(average="macro"), logits, target, skm.precision_score(target, logits.argmax(1),
                                                                                  average="macro")),
        (metrics.Recall(), probs, binary, skm.recall_score(binary, probs >= 0.5)),
        (metrics.F1(average="weighted"), logits, target, skm.f1_score(target, logits.argmax(1), average="weighted")),
        (metrics.MSE(), probs, binary, skm.mean_squared_error(binary, probs)),
        (metrics.MAE(), probs, binary, skm.mean_absolute_error(binary, probs)),
    ]
    for metric, pred, tgt, expected in cases:
        assert np.isnan(metric.result())
        for start in range(0, 300, 64):
            metric.update(ember.tensor(pred[start:start + 64]), tgt[start:start + 64])
        assert metric.result() == pytest.approx(expected), metric.name
        metric.reset()
        assert np.isnan(metric.result())
    names = [m.name for m, *_ in cases]
    assert names == ["accuracy", "top_2_accuracy", "auc", "precision", "recall", "f1", "mse", "mae"]
    assert metrics.Accuracy(name="acc").name == "acc"


def test_streaming_metrics_skip_an_empty_batch():
    """TopKAccuracy added an empty batch's NaN accuracy, so every later result was NaN."""
    logits, target = _multiclass(40, 4, seed=6)
    for metric, expected in ((metrics.TopKAccuracy(2), metrics.top_k_accuracy(logits, target, 2)),
                             (metrics.Accuracy(), metrics.accuracy(logits, target))):
        metric.update(logits[:0], target[:0])
        metric.update(logits, target)
        assert metric.result() == pytest.approx(expected), metric.name


def test_top_k_accuracy_refuses_nan_scores():
    """A NaN compared false with every score, so a row's finite target ranked above it: [1, nan, 0] scored a top-1
    hit for class 0 (scikit-learn refuses NaN; PyTorch's topk ranks it first, a miss)."""
    logits, target = np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]]), np.array([0, 2])
    with pytest.raises(ValueError, match="top_k_accuracy: 1 of the 6 scores are NaN"):
        metrics.top_k_accuracy(logits, target, k=1)
    streaming = metrics.TopKAccuracy(k=1)
    streaming.update(logits, target)
    streaming.update(logits[1:], target[1:])
    assert np.isnan(streaming.result())


def test_merged_metrics_equal_the_metric_over_all_the_data():
    logits, target = _multiclass(300, 4, seed=6)
    probs = 1 / (1 + np.exp(-logits[:, 0]))
    binary = (target % 2).astype(np.int64)
    cases = [(metrics.Accuracy, logits, target), (lambda: metrics.TopKAccuracy(2), logits, target),
             (metrics.AUC, probs, binary), (lambda: metrics.Precision(average="macro"), logits, target),
             (metrics.Recall, probs, binary), (metrics.F1, probs, binary), (metrics.MSE, probs, binary),
             (metrics.MAE, probs, binary), (metrics.StreamingAUC, probs, binary), (metrics.LogLoss, probs, binary)]
    for make, pred, tgt in cases:
        whole, parts = make(), [make() for _ in range(3)]
        for k, start in enumerate(range(0, 300, 50)):
            whole.update(pred[start:start + 50], tgt[start:start + 50])
            parts[k % 3].update(pred[start:start + 50], tgt[start:start + 50])
        parts[0].merge(parts[1:])
        assert parts[0].result() == pytest.approx(whole.result(), rel=1e-12), whole.name
    mean, other = metrics.Mean(), metrics.Mean()
    mean.update(1.0, weight=3.0)
    other.update(np.array([2.0, 4.0]))
    mean.merge([other])
    assert mean.result() == pytest.approx(9.0 / 5.0)
    with pytest.raises(TypeError, match="Accuracy.merge: expected Accuracy metrics, got AUC"):
        metrics.Accuracy().merge([metrics.AUC()])


def test_mean_metric():
    m = metrics.Mean("loss")
    m.update(ember.tensor(0.5))
    m.update(0.2, weight=2)
    assert m.name == "loss" and m.result() == pytest.approx(0.3)
    m.update(np.array([1.0, 1.0]))
    assert m.result() == pytest.approx(2.9 / 5)


def test_mean_metric_weighs_every_value_of_an_array():
    """Keras's Mean: ``update(values, weight)`` gives each value the weight (the weight of an array was ignored, so
    a batch of two values at weight 3 counted as two)."""
    m = metrics.Mean()
    m.update(0.5)
    m.update(np.array([1.0, 1.0]), weight=3.0)
    assert m.result() == pytest.approx(6.5 / 7)
    m.reset()
    m.update(np.array([1.0, 2.0, 4.0]), weight=np.array([1.0, 0.0, 3.0]))
    assert m.result() == pytest.approx(13.0 / 4)
    with pytest.raises(ValueError, match=r"Mean.update: weight of shape \[2\] does not broadcast to the values' "
                                         r"shape \[3\]"):
        m.update(np.array([1.0, 2.0, 3.0]), weight=np.array([1.0, 2.0]))


def test_mean_metric_weighs_samples_along_the_leading_axis():
    """Keras's ``sample_weight`` of (N, d) values: one weight per row (NumPy's broadcasting paired it with the columns
    of a square batch, 4.33 for 5.0, and refused any other)."""
    values, weights = np.arange(9.0).reshape(3, 3), np.array([1.0, 0.0, 2.0])
    m = metrics.Mean()
    m.update(values, weight=weights)
    assert m.result() == pytest.approx((values.mean(1) * weights).sum() / weights.sum())
    m.reset()
    m.update(np.arange(8.0).reshape(4, 2), weight=np.array([1.0, 0.0, 0.0, 1.0]))
    assert m.result() == pytest.approx(3.5)


def test_error_metrics_pair_values_only_when_shapes_differ_by_axes_of_length_one():
    pred, target = np.arange(12.0).reshape(4, 3), np.arange(12.0).reshape(3, 4)
    for score in (metrics.mean_squared_error, metrics.mean_absolute_error, lambda p, t: metrics.MSE().update(p, t),
                  lambda p, t: metrics.MAE().update(p, t)):
        with pytest.raises(ValueError, match=r"predictions of shape \[4, 3\] do not match targets of shape \[3, 4\]"):
            score(pred, target)  # the same 12 values, paired as they lie in memory, scored 0.0 before
    column = np.array([[1.0], [2.0], [4.0]])  # a model's (N, 1) outputs against (N,) targets still pair up
    assert metrics.mean_squared_error(column, np.array([1.0, 2.0, 2.0])) == pytest.approx(4 / 3)
    mae = metrics.MAE()
    mae.update(column, np.array([0.0, 2.0, 4.0]))
    assert mae.result() == pytest.approx(1 / 3)


def test_merging_metrics_made_with_other_arguments_names_the_state():
    # it raised NumPy's "operands could not be broadcast together with shapes (10,) (20,)"
    a, b = metrics.StreamingAUC(num_thresholds=10), metrics.StreamingAUC(num_thresholds=20)
    for m in (a, b):
        m.update(np.array([0.1, 0.8, 0.4]), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"StreamingAUC.merge: state '\w+' has shape \[10\] here and \[20\]"):
        a.merge([b])


def test_streaming_auc_refuses_a_third_class_as_roc_auc_and_auc_do():
    """Targets of three classes counted every class but pos_label as negative: a one-vs-rest AUC (0.551 here)
    where roc_auc, AUC and group_auc refuse them."""
    rng = np.random.default_rng(3)
    scores, target = rng.random(60), rng.integers(0, 3, 60)
    with pytest.raises(ValueError, match=r"StreamingAUC: targets must hold two classes, pos_label=1 and one other; "
                                         r"got 2 and 0 besides it"):
        metrics.StreamingAUC().update(scores, target)
    stream = metrics.StreamingAUC()
    stream.update(scores[:30], np.where(target[:30] == 1, 1, -1))  # libsvm's labels are two classes
    with pytest.raises(ValueError, match="got -1 and 0 besides it"):  # a third class in a later batch
        stream.update(scores[30:], target[30:])
    binary = np.where(target == 1, 1, -1)
    stream.reset()
    stream.update(scores[:30], binary[:30])
    stream.update(scores[30:], binary[30:])
    assert stream.result() == pytest.approx(skm.roc_auc_score(binary, scores), abs=1e-3)


def test_string_labels_are_named_where_class_indices_are_needed():
    """confusion_matrix and top_k_accuracy of string labels failed with NumPy's "ufunc 'maximum' did not contain a
    loop with signature matching types" (and 'greater_equal'); they say which argument needs class indices."""
    cats = np.array(["cat", "dog", "cat"])
    with pytest.raises(ValueError, match=r"confusion_matrix: predictions must be class indices \(numbers\), got "
                                         r"dtype <U3: \['cat', 'dog', 'cat'\]"):
        metrics.confusion_matrix(cats, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="confusion_matrix: targets must be class indices"):
        metrics.confusion_matrix(np.array([0, 1, 0]), cats, num_classes=2)
    with pytest.raises(ValueError, match="top_k_accuracy: targets must be class indices"):
        metrics.top_k_accuracy(np.eye(3), cats, k=1)
    with pytest.raises(ValueError, match="IoU: labels must be class indices"):
        metrics.IoU(2, np.array(["a"]))


def test_confusion_matrix_of_unsigned_labels():
    """The default num_classes took max(initial=-1), which NumPy cannot cast to uint8: an OverflowError for a uint8
    segmentation mask, where scikit-learn counts them."""
    pred, target = np.array([0, 2, 1], np.int8), np.array([0, 1, 1], np.uint8)
    np.testing.assert_array_equal(metrics.confusion_matrix(pred, target), skm.confusion_matrix(target, pred))
    np.testing.assert_array_equal(metrics.confusion_matrix(target, target), skm.confusion_matrix(target, target))


def test_confusion_matrix_and_mean_iou_match_sklearn_over_batches():
    rng = np.random.default_rng(0)
    target, logits = rng.integers(0, 4, (6, 5, 5)), rng.normal(size=(6, 5, 5, 4))  # per-pixel scores, classes last
    pred = logits.argmax(-1)
    np.testing.assert_array_equal(metrics.confusion_matrix(logits, target),
                                  skm.confusion_matrix(target.ravel(), pred.ravel(), labels=range(4)))
    mean_iou = metrics.MeanIoU(num_classes=5)  # class 4 never occurs: left out of the mean, as Keras's
    mean_iou.update(logits[:3], target[:3])
    mean_iou.update(logits[3:], target[3:])
    assert mean_iou.result() == pytest.approx(skm.jaccard_score(target.ravel(), pred.ravel(), average="macro"))
    kept = target.ravel() != 0
    ignoring = metrics.MeanIoU(num_classes=4, ignore_class=0)
    ignoring.update(logits, target)
    assert ignoring.result() == pytest.approx(
        skm.jaccard_score(target.ravel()[kept], pred.ravel()[kept], average="macro", labels=range(4)))
    some = metrics.IoU(num_classes=4, target_class_ids=[1, 3])
    some.update(logits, target)
    assert some.result() == pytest.approx(skm.jaccard_score(target.ravel(), pred.ravel(), average="macro",
                                                            labels=[1, 3]))
    assert metrics.MeanIoU(num_classes=3).result() == 0.0
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\), got \[3"):
        metrics.MeanIoU(num_classes=3).update(logits, target)

"""The tinynn-style Model: forward/backward/apply_grad, fit/evaluate/predict, callbacks, exact resume and
convergence parity with PyTorch."""

import csv

import numpy as np
import pytest

import ember
from ember import nn
from ember.callbacks import CSVLogger, EarlyStopping, LambdaCallback, LearningRateScheduler, ModelCheckpoint
from ember.data import DataLoader, TensorDataset
from ember.data.datasets import load_digits, train_test_split
from ember.model import Model, Net


def _digits():
    x, y = load_digits()
    return train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)


def _mlp(dropout: float = 0.0) -> Net:
    layers = [nn.Linear(64, 128), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return Net(layers + [nn.Linear(128, 10)])


def test_forward_backward_apply_grad_lower_the_loss():
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.5))
    x, y = ember.tensor(x_train[:128]), ember.tensor(y_train[:128])
    first, grads = model.backward(model.forward(x), y)
    assert len(grads) == len(list(net.parameters()))
    assert all(g.shape == p.shape for g, p in zip(grads, net.parameters()))
    for _ in range(50):
        loss, grads = model.backward(model.forward(x), y)
        model.apply_grad(grads)
    assert loss.item() < 0.5 * first.item()


def test_fit_reaches_accuracy_and_evaluate_predict_agree():
    ember.manual_seed(0)
    x_train, x_test, y_train, y_test = _digits()
    net = _mlp()
    model = Model(net, nn.CrossEntropyLoss(), ember.optim.Adam(net.parameters(), lr=3e-3), metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=15, batch_size=32, validation_data=(x_test, y_test), verbose=0)
    assert len(history.history["loss"]) == 15
    assert history.history["loss"][-1] < history.history["loss"][0]
    result = model.evaluate(x_test, y_test)
    assert result["accuracy"] >= 0.94  # seeds 0-5 reach 0.944-0.964 (a chance model 0.1)
    assert result["accuracy"] == pytest.approx(history.history["val_accuracy"][-1])
    predictions = model.predict(x_test)
    assert predictions.shape == (len(x_test), 10)
    assert (predictions.argmax(1) == y_test).mean() == pytest.approx(result["accuracy"])


@pytest.mark.parametrize("loss", ["binary_crossentropy", nn.BCEWithLogitsLoss()])
def test_named_metrics_threshold_the_logits_of_a_logits_loss_at_zero(loss):
    # the network outputs logits: a logit of 0.3 is the positive class (probability 0.57), not a negative one
    net = Net([nn.Identity()])
    model = Model(net, loss, ember.optim.SGD([nn.Parameter(np.zeros(1, np.float32))], lr=0.1))
    logits = np.array([[0.3], [-0.2], [2.0], [0.1]], np.float32)
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    result = model.evaluate(logits, y, metrics=["accuracy", "precision", "recall", "f1"])
    assert result["accuracy"] == 0.75
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == 1.0
    assert result["f1"] == pytest.approx(0.8)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", nn.CrossEntropyLoss()])
def test_named_metrics_read_one_hot_targets_of_a_cross_entropy_as_classes(loss):
    # the metrics compared the (N, C) scores with the one-hot rows number by number (8 of 12 "right": 0.67), not
    # as classes (3 of 4 samples right: 0.75)
    identity = nn.Linear(3, 3)
    identity.weight.array[...] = np.eye(3)
    identity.bias.array[...] = 0
    model = Model(Net([identity]), loss, ember.optim.SGD(identity.parameters(), lr=0.0))  # the scores stay fixed
    logits = np.array([[2.0, 0.1, 0.3], [0.2, 0.1, 3.0], [0.1, 1.5, 0.2], [0.9, 0.8, 0.7]], np.float32)
    one_hot = np.eye(3, dtype=np.float32)[[1, 2, 1, 0]]
    def scores():  # three classes: precision and recall averaged over them (a binary one is refused)
        return ["accuracy", ember.metrics.Precision(average="macro"), ember.metrics.Recall(average="macro")]

    result = model.evaluate(logits, one_hot, metrics=scores())
    assert result["accuracy"] == 0.75
    expected = model.evaluate(logits, np.array([1, 2, 1, 0]), metrics=scores())
    assert result["precision"] == expected["precision"] and result["recall"] == expected["recall"]
    with pytest.raises(ValueError, match="average='binary' needs two classes"):
        model.evaluate(logits, one_hot, metrics=["precision"])
    history = model.fit(logits, one_hot, epochs=1, batch_size=2, metrics=["accuracy"], verbose=0, shuffle=False)
    assert history.history["accuracy"] == [0.75]


def test_named_metrics_of_a_cross_entropy_read_the_class_axis_1_of_per_position_scores():
    # (N, C, L) scores against (N, L) targets, as cross_entropy takes them: the metrics took the argmax over L (the
    # last axis), so with C == L the accuracy was 0.305 for the true 0.242, and with C != L a shape error
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 2, 4)).astype(np.float32)
    for classes in (4, 3):
        ember.manual_seed(0)
        net = Net([nn.Conv1d(2, classes, 3, padding=1)])
        model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.0))
        y = rng.integers(0, classes, (32, 4))
        labels = model.predict(x).argmax(1).reshape(-1)
        result = model.evaluate(x, y, metrics=["accuracy", ember.metrics.Precision(average="macro")])
        assert result["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y.reshape(-1), labels))
        assert result["precision"] == pytest.approx(
            sklearn_metrics.precision_score(y.reshape(-1), labels, average="macro", zero_division=0))
        one_hot = np.moveaxis(np.eye(classes, dtype=np.float32)[y], -1, 1)  # (N, C, L) class probabilities
        history = model.fit(x, one_hot, epochs=1, batch_size=8, metrics=["accuracy"], verbose=0)
        assert history.history["accuracy"] == [pytest.approx(result["accuracy"])]


def test_named_auc_of_a_two_class_cross_entropy_ranks_by_the_softmax_probability():
    """"auc" ranked by the logit of class 1 alone (0.25 here for 1.0; 0.454 for 0.337 on a trained model), not by the
    model's probability of class 1, which orders the rows by the difference of their logits."""
    skm = pytest.importorskip("sklearn.metrics")
    identity = nn.Linear(2, 2)
    identity.weight.array[...] = np.eye(2)
    identity.bias.array[...] = 0
    model = Model(Net([identity]), nn.CrossEntropyLoss(), ember.optim.SGD(identity.parameters(), lr=0.0))
    logits = np.array([[10.0, 6.0], [0.0, 0.5], [1.0, 3.0], [2.0, 1.0]], np.float32)
    target = np.array([0, 1, 1, 0])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    expected = skm.roc_auc_score(target, probs[:, 1])
    assert expected == 1.0
    assert model.evaluate(logits, target, metrics=["auc"])["auc"] == pytest.approx(expected)
    metric = ember.metrics.AUC(pos_label=0, from_logits=True)
    metric.update(logits, target)
    assert metric.result() == pytest.approx(skm.roc_auc_score(target == 0, probs[:, 0]))


class TwoHeads(nn.Module):
    """Class scores and one score from the same input: a network of two outputs."""

    def __init__(self):
        super().__init__()
        self.classes, self.score = nn.Linear(4, 3), nn.Linear(4, 1)

    def forward(self, x):
        return self.classes(x), self.score(x)


def test_predict_of_a_network_with_several_outputs_gives_an_array_per_output():
    # it called .numpy() on the tuple of outputs (AttributeError); Keras gives a list of arrays
    ember.manual_seed(0)
    net = TwoHeads()
    model = Model(net, lambda pred, y: ember.ops.cross_entropy(pred[0], y), ember.optim.SGD(net.parameters(), lr=0.1))
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    classes, score = model.predict(x, batch_size=4)
    with ember.no_grad():
        expected = net(ember.tensor(x))
    np.testing.assert_allclose(classes, expected[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(score, expected[1].numpy(), rtol=1e-6)


def test_metrics_of_a_network_with_several_outputs_are_refused_by_name():
    # fit and evaluate called .detach() on the tuple of outputs (AttributeError from inside the loop)
    ember.manual_seed(0)
    net = TwoHeads()
    model = Model(net, lambda pred, y: ember.ops.cross_entropy(pred[0], y), ember.optim.SGD(net.parameters(), lr=0.1))
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    y = np.arange(10) % 3
    for run in (lambda: model.fit(x, y, epochs=1, verbose=0, metrics=["accuracy"]),
                lambda: model.evaluate(x, y, metrics=["accuracy"])):
        with pytest.raises(ValueError, match=r"metrics score a network's one output; this one gives 2 \(a tuple\)"):
            run()
    assert model.evaluate(x, y)["loss"] > 0


def test_a_loss_without_targets_weighs_each_batch_by_its_samples():
    # without y, fit gave every batch weight 1 (batches of 4, 4 and 2: 0.517 for the data's 0.555) and evaluate
    # raised TypeError: object of type 'NoneType' has no len()
    ember.manual_seed(0)
    net = Net([nn.Linear(4, 2)])

    def energy(pred, target):
        return (pred * pred).mean()

    model = Model(net, energy, ember.optim.SGD(net.parameters(), lr=0.0))
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    with ember.no_grad():
        expected = energy(net(ember.tensor(x)), None).item()
    history = model.fit(x, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert history.history["loss"] == [pytest.approx(expected, rel=1e-6)]
    assert model.evaluate(x, batch_size=4)["loss"] == pytest.approx(expected, rel=1e-6)


def test_fit_evaluate_predict_take_the_inputs_of_a_network_with_several_as_a_tuple():
    # Keras's multi-input form: fit((x1, x2), y) said "x has 2 samples but y has 10", predict failed in NumPy
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(2, 3)

        def forward(self, u, v):
            return self.a(u) + self.b(v)

    ember.manual_seed(0)
    net = TwoInputs()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.0))
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(10, 4)).astype(np.float32), rng.normal(size=(10, 2)).astype(np.float32)
    y = rng.integers(0, 3, 10)

    def loss_of(rows):
        with ember.no_grad():
            return ember.ops.cross_entropy(net(ember.tensor(x1[rows]), ember.tensor(x2[rows])), ember.tensor(y[rows]))

    with ember.no_grad():
        expected = net(ember.tensor(x1), ember.tensor(x2)).numpy()
    np.testing.assert_allclose(model.predict((x1, x2), batch_size=4), expected, rtol=1e-6)
    assert model.evaluate((x1, x2), y, batch_size=4)["loss"] == pytest.approx(loss_of(slice(None)).item(), rel=1e-6)
    history = model.fit((x1, x2), y, epochs=1, batch_size=4, validation_split=0.3, verbose=0)
    assert history.history["loss"] == [pytest.approx(loss_of(slice(0, 7)).item(), rel=1e-6)]
    assert history.history["val_loss"] == [pytest.approx(loss_of(slice(7, None)).item(), rel=1e-6)]
    with pytest.raises(ValueError, match=r"x\[1\] \(input 1 of 2\) has 9 samples but y has 10"):
        model.fit((x1, x2[:9]), y, verbose=0)
    with pytest.raises(ValueError, match="as a tuple"):
        model.fit([x1, x2], y, verbose=0)


def test_fit_and_evaluate_refuse_data_without_samples():
    # the loss of no samples came out 0.0, a perfect score that a ModelCheckpoint(save_best_only) would keep
    net = Net([nn.Linear(4, 3)])
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    x, y = np.ones((4, 4), np.float32), np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="evaluate: the data holds no samples"):
        model.evaluate(x[:0], y[:0])
    with pytest.raises(ValueError, match="evaluate: the data holds no samples"):
        model.fit(x, y, validation_data=(x[:0], y[:0]), verbose=0)
    with pytest.raises(ValueError, match="fit: epoch 1 read no samples"):
        model.fit(x[:0], y[:0], verbose=0)


def test_fit_accepts_a_dataloader():
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9))
    history = model.fit(loader, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match="inside the DataLoader"):
        model.fit(loader, y_train, verbose=0)


def test_bad_loss_and_metric_names_are_clear_errors():
    net = _mlp()
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        Model(net, "nope", ember.optim.SGD(net.parameters(), lr=0.1))
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="unknown metric 'bogus'"):
        model.evaluate(np.zeros((2, 64), np.float32), np.zeros(2, np.int64), metrics=["bogus"])
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        model.fit(np.zeros((3, 64), np.float32), np.zeros(2, np.int64), verbose=0)
    for call in (lambda: model.fit(np.zeros((3, 64), np.float32), np.zeros(3, np.int64), batch_size=None, verbose=0),
                 lambda: model.predict(np.zeros((3, 64), np.float32), batch_size=None)):
        with pytest.raises(ValueError, match="batch_size must be a positive int, got None"):
            call()


def test_metrics_of_one_name_are_refused():
    # Precision(average="macro") and Precision(average="micro") both logged as "precision": the micro value alone
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    x, y = np.zeros((4, 64), np.float32), np.array([0, 1, 2, 1])
    twins = [ember.metrics.Precision(average="macro"), ember.metrics.Precision(average="micro")]
    with pytest.raises(ValueError, match="two metrics .* are named 'precision'"):
        model.evaluate(x, y, metrics=twins)
    with pytest.raises(ValueError, match="named 'accuracy'"):
        model.fit(x, y, metrics=["accuracy", "acc"], verbose=0)
    named = [twins[0], ember.metrics.Precision(average="micro", name="micro_precision")]
    assert sorted(model.evaluate(x, y, metrics=named)) == ["loss", "micro_precision", "precision"]


def test_callbacks_hook_every_step_and_epoch(tmp_path):
    ember.manual_seed(0)
    x_train, x_test, y_train, y_test = _digits()
    net = _mlp()
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
    model = Model(net, "cross_entropy", optimizer)
    seen = {"batches": 0, "epochs": []}
    counter = LambdaCallback(on_batch_end=lambda step, logs: seen.__setitem__("batches", seen["batches"] + 1),
                             on_epoch_end=lambda epoch, logs: seen["epochs"].append(epoch))
    schedule = LearningRateScheduler(ember.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5))
    log_path = tmp_path / "log.csv"
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.emb"), monitor="val_loss")
    model.fit(x_train[:256], y_train[:256], epochs=3, batch_size=64, validation_data=(x_test, y_test),
              callbacks=[counter, schedule, CSVLogger(str(log_path)), checkpoint], verbose=0)
    assert seen == {"batches": 12, "epochs": [0, 1, 2]}
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)
    rows = list(csv.DictReader(open(log_path)))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.1, 0.05, 0.025])
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == ["ckpt-1.emb", "ckpt-2.emb", "ckpt-3.emb"]


def test_lambda_callback_hooks_take_keras_s_arguments():
    """Keras passes every hook its logs positionally: on_train_begin(logs), on_epoch_begin(epoch, logs),
    on_batch_begin(batch, logs), on_train_end(logs) (the last epoch's); Keras 3 names the batch hooks
    on_train_batch_*."""
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    calls = []
    hooks = LambdaCallback(on_train_begin=lambda logs: calls.append(("train_begin", logs)),
                           on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
                           on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
                           on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
                           on_train_end=lambda logs: calls.append(("train_end", sorted(logs))))
    history = model.fit(x_train[:128], y_train[:128], epochs=2, batch_size=64, callbacks=[hooks], verbose=0)
    epoch = [("batch_begin", 0), ("batch_end", 0), ("batch_begin", 1), ("batch_end", 1)]
    assert calls == [("train_begin", {}), ("epoch_begin", 0), *epoch, ("epoch_begin", 1), *epoch,
                     ("train_end", ["loss"])]
    assert len(history.history["loss"]) == 2


def test_csv_logger_takes_keras_s_separator_and_appends(tmp_path):
    # CSVLogger(path, ";"), Keras's separator, was taken for append=";": rows appended to an old file, comma-separated
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    path = tmp_path / "log.csv"
    path.write_text("old\n")
    model.fit(x_train[:64], y_train[:64], epochs=2, batch_size=32, verbose=0, callbacks=[CSVLogger(str(path), ";")])
    model.fit(x_train[:64], y_train[:64], epochs=1, batch_size=32, verbose=0,
              callbacks=[CSVLogger(str(path), ";", append=True)])
    rows = list(csv.reader(open(path), delimiter=";"))
    assert rows[0] == ["epoch", "loss"] and [row[0] for row in rows[1:]] == ["0", "1", "2"]
    path.write_text("")  # an empty file to append to gets the header, as Keras's (the rows had none)
    model.fit(x_train[:64], y_train[:64], epochs=1, batch_size=32, verbose=0,
              callbacks=[CSVLogger(str(path), append=True)])
    assert [row[0] for row in csv.reader(open(path))] == ["epoch", "3"]
    with pytest.raises(ValueError, match="separator must be one character"):
        CSVLogger(str(path), True)


def test_csv_logger_keeps_validation_columns_when_validation_freq_skips_the_first_epoch(tmp_path):
    # the columns were the first epoch's logs, so with validation_freq=2 every val_ value was dropped silently;
    # Keras writes the val_ columns, NA at the epochs that do not validate
    ember.manual_seed(0)
    x_train, x_test, y_train, y_test = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    path = tmp_path / "log.csv"
    history = model.fit(x_train[:64], y_train[:64], epochs=4, batch_size=32, verbose=0, metrics=["accuracy"],
                        validation_data=(x_test[:32], y_test[:32]), validation_freq=2, callbacks=[CSVLogger(str(path))])
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r["val_loss"] for r in rows[::2]] == ["NA", "NA"]
    assert [float(r["val_loss"]) for r in rows[1::2]] == pytest.approx(history.history["val_loss"])
    assert [float(r["val_accuracy"]) for r in rows[1::2]] == pytest.approx(history.history["val_accuracy"])


def test_model_checkpoint_makes_its_directory(tmp_path):
    # a path in a directory not yet made failed after the first epoch (FileNotFoundError); Keras's makes it
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    checkpoints = [ModelCheckpoint(str(tmp_path / "runs" / "a" / "ckpt-{epoch:02d}.emb"), monitor="loss"),
                   ModelCheckpoint(str(tmp_path / "weights" / "best.emb"), monitor="loss", save_weights_only=True)]
    model.fit(x_train[:64], y_train[:64], epochs=2, batch_size=32, verbose=0, callbacks=checkpoints)
    assert sorted(p.name for p in (tmp_path / "runs" / "a").iterdir()) == ["ckpt-01.emb", "ckpt-02.emb"]
    assert sorted(ember.load(str(tmp_path / "weights" / "best.emb"))) == sorted(net.state_dict())


def test_history_records_what_callbacks_add_to_the_logs():
    """As in Keras, History runs after the user's callbacks: a value a callback writes into an epoch's logs
    (LearningRateScheduler's lr, a custom score) is in ``history.history``."""
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
    model = Model(net, "cross_entropy", optimizer)
    score = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__("score", 10 * epoch))
    schedule = LearningRateScheduler(ember.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5))
    history = model.fit(x_train[:128], y_train[:128], epochs=2, batch_size=64, callbacks=[score, schedule],
                        verbose=0)
    assert history.history["score"] == [0, 10]
    assert history.history["lr"] == pytest.approx([0.1, 0.05])
    assert len(history.history["loss"]) == 2


def test_learning_rate_scheduler_logs_the_lr_each_epoch_used():
    """Keras's logs["lr"]: the lr of the epoch's steps, before the scheduler sets the next epoch's."""
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
    model = Model(net, "cross_entropy", optimizer)
    watched = iter([1.0, 2.0, 3.0, 4.0])
    used = []
    fake = LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__("watched", next(watched)),
                          on_batch_begin=lambda step, logs=None: used.append(optimizer.param_groups[0]["lr"]))
    plateau = LearningRateScheduler(ember.optim.ReduceLROnPlateau(optimizer, factor=0.5, patience=0),
                                    monitor="watched")
    history = model.fit(x_train[:64], y_train[:64], epochs=4, batch_size=32, callbacks=[fake, plateau], verbose=0)
    assert history.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert used[1::2] == pytest.approx(history.history["lr"])
    optimizer.param_groups[0]["lr"] = 0.1
    per_batch = LearningRateScheduler(ember.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5),
                                      per_batch=True)
    history = model.fit(x_train[:64], y_train[:64], epochs=2, batch_size=32, callbacks=[per_batch], verbose=0)
    assert history.history["lr"] == pytest.approx([0.05, 0.0125])


def test_learning_rate_scheduler_takes_keras_s_schedule_function(tmp_path):
    """Keras's LearningRateScheduler(schedule): schedule(epoch, lr) (or schedule(epoch)) sets the lr at each epoch's
    start (it raised AttributeError: 'function' object has no attribute 'step' after the first epoch); a fit
    resumed from a checkpoint continues the schedule from the saved lr."""
    x_train, _, y_train, _ = _digits()
    x, y = x_train[:128], y_train[:128]

    def make():
        ember.manual_seed(0)
        net = _mlp()
        return Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))

    def halve_after_first(epoch, lr):
        return lr if epoch < 1 else lr * 0.5

    straight = make()
    history = straight.fit(x, y, epochs=4, batch_size=64, verbose=0,
                           callbacks=[LearningRateScheduler(halve_after_first)])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    first = make()
    first.fit(x, y, epochs=2, batch_size=64, verbose=0,
              callbacks=[LearningRateScheduler(halve_after_first), ModelCheckpoint(str(tmp_path / "c.emb"))])
    resumed = make()
    resumed.load(str(tmp_path / "c.emb"))
    history = resumed.fit(x, y, epochs=2, batch_size=64, verbose=0,
                          callbacks=[LearningRateScheduler(halve_after_first)])
    assert history.history["lr"] == pytest.approx([0.025, 0.0125])
    for a, b in zip(straight.net.parameters(), resumed.net.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    history = make().fit(x, y, epochs=2, batch_size=64, verbose=0,
                         callbacks=[LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert history.history["lr"] == pytest.approx([0.01, 0.02])
    with pytest.raises(TypeError, match="LearningRateScheduler"):
        LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="must return a number"):
        make().fit(x, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda epoch, lr: None)])


def test_early_stopping_stops_and_restores_the_best_weights():
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.05))
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])

    class FakeLoss(ember.callbacks.Callback):  # makes the monitored value worsen after epoch 2
        def on_epoch_end(self, epoch, logs=None):
            logs["watched"] = next(losses)
            if epoch == 1:
                self.best = {k: v.numpy().copy() for k, v in net.state_dict().items()}

    fake = FakeLoss()
    stopper = EarlyStopping("watched", mode="min", patience=2, restore_best_weights=True)
    history = model.fit(x_train[:128], y_train[:128], epochs=8, batch_size=32, callbacks=[fake, stopper], verbose=0)
    assert len(history.history["loss"]) == 4  # epochs 0..3: best at 1, two without improvement, stop at 3
    assert stopper.stopped_epoch == 3
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), fake.best[key])



def test_early_stopping_takes_keras_s_options_by_name_only():
    # Keras's positional order is (monitor, min_delta, patience): EarlyStopping("val_loss", 0.01, 3) read as
    # patience=0.01 and min_delta=3 here; ModelCheckpoint(path, monitor, verbose=1) saved the best epochs only
    with pytest.raises(TypeError):
        EarlyStopping("val_loss", 0.01, 3)
    with pytest.raises(TypeError):
        ModelCheckpoint("ckpt.emb", "val_loss", 1)
    with pytest.raises(ValueError, match="patience must be a non-negative int"):
        EarlyStopping(patience=0.5)


@pytest.mark.parametrize("options, values, stopped, best", [
    ({"patience": 1}, [1.0, 2.0, 3.0, 2.5, 2.6], 1, 0),
    ({"patience": 1, "start_from_epoch": 2}, [1.0, 2.0, 3.0, 2.5, 2.6], 4, 3),  # epochs 0 and 1 do not count
    # no epoch beats the baseline: the improvements do not reset the wait, so it stops at the first epoch without one
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.8, 0.7, 0.75, 0.4, 0.3], 3, 2),
    ({"patience": 2, "baseline": 0.75}, [0.9, 0.8, 0.7, 0.75, 0.72, 0.3], 4, 2),
])
def test_early_stopping_start_from_epoch_and_baseline_follow_keras(options, values, stopped, best):
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.05))
    watched, weights = iter(values), {}

    def record(epoch, logs):
        logs["watched"] = next(watched)
        weights[epoch] = {k: v.numpy().copy() for k, v in net.state_dict().items()}

    stopper = EarlyStopping("watched", mode="min", restore_best_weights=True, **options)
    history = model.fit(x_train[:64], y_train[:64], epochs=len(values), batch_size=32, verbose=0,
                        callbacks=[LambdaCallback(on_epoch_end=record), stopper])
    assert stopper.stopped_epoch == stopped and history.epoch[-1] == stopped
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights[best][key])


def test_a_layer_unfrozen_after_the_model_was_made_trains_with_each_step_s_gradient_alone():
    """Fine-tuning: layers frozen, Model made, one fit, then unfrozen (here by a callback) and fit again. Each step
    must use its own gradient; the unfrozen layer's .grad was never cleared, so its steps summed all before."""
    x_train, _, y_train, _ = _digits()
    x, y = x_train[:64], y_train[:64]

    def tuned(remake: bool) -> list:
        ember.manual_seed(0)
        net = _mlp()
        net[0].requires_grad_(False)
        optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
        model = Model(net, "cross_entropy", optimizer)
        model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
        unfreeze = LambdaCallback(on_epoch_begin=lambda epoch, logs=None: net[0].requires_grad_(True))
        if remake:
            net[0].requires_grad_(True)
            model = Model(net, "cross_entropy", optimizer)
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0, callbacks=[unfreeze])
        return [p.detach().numpy().copy() for p in net.parameters()]

    for ours, expected in zip(tuned(remake=False), tuned(remake=True)):
        np.testing.assert_array_equal(ours, expected)

def _resumable_model(seed: int):
    ember.manual_seed(seed)
    net = _mlp(dropout=0.2)
    return Model(net, "cross_entropy", ember.optim.Adam(net.parameters(), lr=1e-3))


def test_resume_from_checkpoint_continues_bit_exactly(tmp_path):
    x_train, _, y_train, _ = _digits()
    x, y = x_train[:320], y_train[:320]
    straight = _resumable_model(0)
    straight_losses = straight.fit(x, y, epochs=4, batch_size=32, verbose=0).history["loss"]

    first = _resumable_model(0)
    first_losses = first.fit(x, y, epochs=2, batch_size=32, verbose=0).history["loss"]
    path = str(tmp_path / "resume.emb")
    first.save(path)
    ember.manual_seed(123)  # disturb the global RNG: the checkpoint must restore it
    resumed = _resumable_model(99)  # different initial weights, overwritten by the checkpoint
    resumed.load(path)
    assert resumed.epoch == 2
    rest = resumed.fit(x, y, epochs=2, batch_size=32, verbose=0).history["loss"]  # two more epochs
    assert first_losses + rest == straight_losses  # the same floats, to the last bit
    for (k, a), (_, b) in zip(straight.net.state_dict().items(), resumed.net.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_resume_from_a_checkpoint_continues_the_learning_rate_schedule(tmp_path):
    x_train, _, y_train, _ = _digits()
    x, y = x_train[:320], y_train[:320]

    def scheduled(model):
        return [LearningRateScheduler(ember.optim.StepLR(model.optimizer, step_size=1, gamma=0.5)),
                ModelCheckpoint(str(tmp_path / "every.emb"))]

    straight = _resumable_model(0)
    straight_history = straight.fit(x, y, epochs=4, batch_size=32, verbose=0, callbacks=scheduled(straight)).history
    first = _resumable_model(0)
    first_history = first.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=scheduled(first)).history
    resumed = _resumable_model(99)
    resumed.load(str(tmp_path / "every.emb"))  # written at the end of the second epoch
    rest = resumed.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=scheduled(resumed)).history
    assert first_history["lr"] + rest["lr"] == straight_history["lr"] == [1e-3, 5e-4, 2.5e-4, 1.25e-4]
    assert first_history["loss"] + rest["loss"] == straight_history["loss"]
    again = _resumable_model(7)
    again.load(str(tmp_path / "every.emb"))
    with pytest.warns(RuntimeWarning, match="1 learning-rate scheduler"):  # no scheduler given: it starts afresh
        again.fit(x, y, epochs=1, batch_size=32, verbose=0)
    with pytest.warns(RuntimeWarning, match="ModelCheckpoint comes before a LearningRateScheduler"):
        again.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=scheduled(again)[::-1])


def test_a_checkpoint_saved_again_before_fit_keeps_the_schedulers(tmp_path):
    x_train, _, y_train, _ = _digits()
    x, y = x_train[:320], y_train[:320]

    def scheduled(model):
        return [LearningRateScheduler(ember.optim.StepLR(model.optimizer, step_size=1, gamma=0.5))]

    straight = _resumable_model(0)
    straight_history = straight.fit(x, y, epochs=4, batch_size=32, verbose=0, callbacks=scheduled(straight)).history
    first = _resumable_model(0)
    first.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=scheduled(first))
    first.save(str(tmp_path / "a.emb"))
    copied = _resumable_model(5)
    copied.load(str(tmp_path / "a.emb"))
    copied.save(str(tmp_path / "b.emb"))  # its schedulers' states were loaded but no fit has taken them yet
    assert ember.load(str(tmp_path / "b.emb"))["schedulers"] == ember.load(str(tmp_path / "a.emb"))["schedulers"]
    resumed = _resumable_model(9)
    resumed.load(str(tmp_path / "b.emb"))
    rest = resumed.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=scheduled(resumed)).history
    assert rest["lr"] == straight_history["lr"][2:] == [2.5e-4, 1.25e-4]  # the schedule goes on, not from 1e-3
    assert rest["loss"] == straight_history["loss"][2:]


@pytest.mark.parametrize("generator", [lambda: ember.Generator().manual_seed(5), lambda: 5,
                                       lambda: np.random.default_rng(5)], ids=["ember", "int", "numpy"])
def test_resume_goes_on_with_the_shuffles_of_a_dataloader_s_own_generator(tmp_path, generator):
    # only the global RNG was saved: a DataLoader(generator=g) reshuffled from g's first state after a resume, and the
    # resumed weights ended 6e-3 off the straight run's; an int seed or a NumPy generator made save an AttributeError
    # ('int' object has no attribute 'get_state')
    x_train, _, y_train, _ = _digits()
    dataset = TensorDataset(x_train[:192], y_train[:192])

    def loader():
        return DataLoader(dataset, batch_size=32, shuffle=True, generator=generator())

    straight = _resumable_model(0)
    straight_losses = straight.fit(loader(), epochs=4, verbose=0).history["loss"]
    first = _resumable_model(0)
    first_losses = first.fit(loader(), epochs=2, verbose=0).history["loss"]
    first.save(str(tmp_path / "a.emb"))
    resumed = _resumable_model(9)
    resumed.load(str(tmp_path / "a.emb"))
    resumed.save(str(tmp_path / "b.emb"))  # loaded and not yet taken by a fit: saved on as loaded
    resumed.load(str(tmp_path / "b.emb"))
    rest = resumed.fit(loader(), epochs=2, verbose=0).history["loss"]
    assert first_losses + rest == straight_losses
    again = _resumable_model(9)
    again.load(str(tmp_path / "a.emb"))
    with pytest.warns(RuntimeWarning, match="DataLoader's own generator"):  # arrays: no generator to take it
        again.fit(x_train[:64], y_train[:64], epochs=1, verbose=0)


def test_convergence_parity_with_pytorch_over_200_sgd_momentum_steps():
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    sizes = (64, 48, 32, 10)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    net = Net(layers)
    reference = torch.nn.Sequential(*[
        torch.nn.Linear(a, b) if isinstance(m, nn.Linear) else torch.nn.ReLU()
        for m, (a, b) in zip(layers, [(m.in_features, m.out_features) if isinstance(m, nn.Linear) else (0, 0)
                                      for m in layers])
    ])
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    ours = ember.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    theirs = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    x_train, _, y_train, _ = _digits()
    rng = np.random.default_rng(0)
    for step in range(200):
        idx = rng.choice(len(x_train), 32, replace=False)
        x, y = x_train[idx], y_train[idx]
        ours.zero_grad()
        loss = ember.cross_entropy(net(ember.tensor(x)), ember.tensor(y))
        loss.backward()
        ours.step()
        theirs.zero_grad()
        expected = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
        expected.backward()
        theirs.step()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-4), f"step {step}"


def test_early_stopping_restores_the_best_weights_at_the_end_of_a_fit_it_did_not_stop_as_keras_3():
    ember.manual_seed(0)
    x_train, _, y_train, _ = _digits()
    net = _mlp()
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.05))
    watched, weights = iter([1.0, 0.5, 0.6, 0.7]), {}

    def record(epoch, logs):
        logs["watched"] = next(watched)
        weights[epoch] = {k: v.numpy().copy() for k, v in net.state_dict().items()}

    stopper = EarlyStopping("watched", mode="min", patience=5, restore_best_weights=True)
    history = model.fit(x_train[:64], y_train[:64], epochs=4, batch_size=32, verbose=0,
                        callbacks=[LambdaCallback(on_epoch_end=record), stopper])
    assert stopper.stopped_epoch is None and history.epoch == [0, 1, 2, 3]
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), weights[1][key])


def test_predict_on_no_samples_gives_the_outputs_empty_shapes():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 2), nn.Linear(5, 2)

        def forward(self, x1, x2):
            return self.a(x1) + self.b(x2)

    class NoEmpty(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            if x.shape[0] == 0:
                raise RuntimeError("an empty batch")
            return self.fc(x)

    def model(net):
        return Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.1))

    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    out = model(nn.Linear(4, 3)).predict(x[:0])
    assert isinstance(out, np.ndarray) and out.shape == (0, 3) and out.dtype == np.float32  # Keras: (0, units)
    classes, score = model(TwoHeads()).predict(x[:0])
    assert classes.shape == (0, 3) and score.shape == (0, 1)
    assert isinstance(model(TwoHeads()).predict(x), tuple) and isinstance(model(TwoHeads()).predict(x[:0]), tuple)
    assert model(Pair()).predict((x[:0], np.zeros((0, 5), np.float32))).shape == (0, 2)
    with pytest.raises(ValueError, match=r"predict: the input holds no samples \(shapes \[\(0, 4\)\]\).*empty batch"):
        model(NoEmpty()).predict(x[:0])
    with pytest.raises(ValueError, match="predict: the data \\(DataLoader\\) holds no samples"):
        model(nn.Linear(4, 3)).predict(DataLoader(TensorDataset(x[:0]), batch_size=2))

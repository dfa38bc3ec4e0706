"""Keras's options of Model.fit and its callbacks and metrics: sample and class weights, validation_freq,
steps_per_epoch, ModelCheckpoint's weights-only files and file-name templates, TerminateOnNaN, MeanIoU."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.callbacks import EarlyStopping, LambdaCallback, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN
from ember.model import Model, Net


def _data(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(lr: float = 0.1, seed: int = 0, loss="cross_entropy", outputs: int = 2) -> Model:
    ember.manual_seed(seed)
    net = Net([nn.Linear(4, outputs)])
    return Model(net, loss, ember.optim.SGD(net.parameters(), lr=lr))


def test_a_checkpoint_path_naming_a_value_not_in_the_logs_says_which_and_what_the_logs_hold(tmp_path):
    x, y = _data()
    checkpoint = ModelCheckpoint(str(tmp_path / "ckpt-{epoch}-{val_loss:.3f}.emb"))
    with pytest.raises(KeyError, match=r"names 'val_loss', which is not in epoch 1's logs \['epoch', 'loss'\]"):
        _model().fit(x, y, epochs=1, callbacks=[checkpoint], verbose=0)
    _model().fit(x, y, epochs=1, callbacks=[checkpoint], validation_data=(x, y), verbose=0)
    assert len(list(tmp_path.glob("ckpt-1-*.emb"))) == 1


def test_model_checkpoint_save_weights_only_writes_the_network_s_state_dict_alone(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "w{epoch}.emb"),
                                                                    save_weights_only=True)])
    saved = ember.load(str(tmp_path / "w2.emb"))
    assert sorted(saved) == ["0.bias", "0.weight"]  # no optimizer state, epoch or RNG state
    fresh = _model(seed=1)
    fresh.net.load_state_dict(saved)
    np.testing.assert_array_equal(fresh.net[0].weight.detach().numpy(), model.net[0].weight.detach().numpy())
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))


def test_auc_of_targets_of_one_class_is_keras_s_zero_with_a_warning_and_the_fit_goes_on():
    metric = ember.metrics.AUC()
    metric.update(np.array([0.2, 0.9, 0.4]), np.array([0, 0, 0]))
    with pytest.warns(RuntimeWarning, match="all negative"):
        assert metric.result() == 0.0
    metric.update(np.array([0.7]), np.array([1]))
    assert metric.result() == pytest.approx(2 / 3)  # both classes now: the exact AUC
    x, y = _data()
    model = _model()
    with pytest.warns(RuntimeWarning, match="AUC: the 8 targets seen are all positive"):
        history = model.fit(x, y, epochs=2, metrics=["auc"], validation_data=(x[:8], np.ones(8, np.int64)),
                            verbose=0)
    assert history.history["val_auc"] == [0.0, 0.0] and 0.0 < history.history["auc"][-1] <= 1.0


def test_terminate_on_nan_ends_training_at_the_first_nan_batch_as_keras(capsys):
    x, y = _data(n=40)
    model = _model()

    def poison(epoch, logs):
        if epoch == 1:
            model.net[0].weight.array[...] = np.nan

    batches = []
    spies = [LambdaCallback(on_epoch_begin=poison), TerminateOnNaN(),
             LambdaCallback(on_batch_end=lambda step, logs: batches.append(step))]
    history = model.fit(x, y, epochs=5, batch_size=8, callbacks=spies, terminate_on_nan=False, verbose=0)
    assert batches == [0, 1, 2, 3, 4, 0]  # epoch 2 stopped after its first batch, not its fifth
    assert len(history.history["loss"]) == 2 and np.isnan(history.history["loss"][1])  # that epoch's end reported
    assert model.epoch == 2 and "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out


@pytest.mark.parametrize("freq, validated", [(2, [2, 4]), ([1, 3], [1, 3])])
def test_validation_freq_validates_at_keras_s_epochs_and_monitoring_callbacks_skip_the_others(freq, validated,
                                                                                               tmp_path):
    x, y = _data()
    model = _model()
    seen = {}

    def record(epoch, logs):
        if "val_loss" in logs:
            seen[epoch + 1] = (logs["val_loss"], model.evaluate(x[:16], y[:16])["loss"])

    callbacks = [LambdaCallback(on_epoch_end=record), EarlyStopping("val_loss", patience=5),
                 ReduceLROnPlateau("val_loss", patience=1),
                 ModelCheckpoint(str(tmp_path / "best-{epoch}.emb"), save_best_only=True)]
    history = model.fit(x, y, epochs=4, batch_size=8, validation_data=(x[:16], y[:16]), validation_freq=freq,
                        callbacks=callbacks, verbose=0)
    assert sorted(seen) == validated and len(history.history["val_loss"]) == 2 and len(history.history["loss"]) == 4
    for val_loss, evaluated in seen.values():
        assert val_loss == pytest.approx(evaluated, rel=1e-6)
    assert {p.name for p in tmp_path.iterdir()} <= {f"best-{e}.emb" for e in validated}
    assert f"best-{validated[0]}.emb" in {p.name for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match="validation_freq must be a positive int"):
        model.fit(x, y, epochs=1, validation_data=(x, y), validation_freq=0, verbose=0)


class _Seen(nn.Module):
    """y = w * x, recording the first feature of every batch it sees (the sample indices)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ember.tensor(np.ones((1,), np.float32)))
        self.seen: list = []

    def forward(self, x):
        self.seen.append(x.numpy()[:, 0].astype(int).tolist())
        return x * self.w


def test_steps_per_epoch_goes_on_where_the_last_epoch_stopped_and_validation_steps_restart():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    net = _Seen()
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.0))
    per_epoch = []
    spy = LambdaCallback(on_epoch_end=lambda epoch, logs: per_epoch.append(len(net.seen)))
    with pytest.warns(RuntimeWarning, match="ran out after 1 of steps_per_epoch=3 batches"):
        history = model.fit(x, np.zeros((10, 1), np.float32), epochs=4, batch_size=3, steps_per_epoch=3,
                            shuffle=False, callbacks=[spy], verbose=0)
    # Keras's epochs: 3 batches, then the 1 left (the data ran out), then a new pass
    assert net.seen[:4] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]] and net.seen[4:] == net.seen[:4]
    assert per_epoch == [3, 4, 7, 8]
    np.testing.assert_allclose(history.history["loss"], [np.mean(np.arange(9.0) ** 2), 81.0] * 2, rtol=1e-6)
    net.seen.clear()
    result = model.evaluate(x, np.zeros((10, 1), np.float32), batch_size=3, steps=2)
    assert net.seen == [[0, 1, 2], [3, 4, 5]] and result["loss"] == pytest.approx(np.mean(np.arange(6.0) ** 2))
    net.seen.clear()
    model.fit(x, np.zeros((10, 1), np.float32), epochs=2, batch_size=3, steps_per_epoch=1, validation_steps=1,
              validation_data=(x[5:], np.zeros((5, 1), np.float32)), shuffle=False, verbose=0)
    assert net.seen == [[0, 1, 2], [5, 6, 7], [3, 4, 5], [5, 6, 7]]  # each validation from the start
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive int or None, got 0"):
        model.fit(x, x, steps_per_epoch=0, verbose=0)


def test_steps_per_epoch_trains_on_an_endless_stream():
    class Stream(ember.data.IterableDataset):
        def __iter__(self):
            i = 0
            while True:
                yield np.array([i], np.float32), np.zeros(1, np.float32)
                i += 1

    net = _Seen()
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.0))
    model.fit(Stream(), epochs=2, batch_size=2, steps_per_epoch=2, verbose=1)
    assert net.seen == [[0, 1], [2, 3], [4, 5], [6, 7]]


def _torch_weighted_fit(model: Model, x, y, weights, epochs: int, batch_size: int, lr: float):
    """Keras's weighted training in float64 PyTorch from ``model``'s initial weights: each batch's loss is the mean
    of its samples' cross-entropies times their weights; returns (epoch losses, final weight)."""
    torch = pytest.importorskip("torch")
    linear = torch.nn.Linear(4, 2).double()
    linear.weight.data = torch.tensor(model.net[0].weight.detach().numpy(), dtype=torch.float64)
    linear.bias.data = torch.tensor(model.net[0].bias.detach().numpy(), dtype=torch.float64)
    optimizer = torch.optim.SGD(linear.parameters(), lr=lr)
    x, y, weights = torch.tensor(x, dtype=torch.float64), torch.tensor(y), torch.tensor(weights, dtype=torch.float64)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for i in range(0, len(y), batch_size):
            each = torch.nn.functional.cross_entropy(linear(x[i:i + batch_size]), y[i:i + batch_size], reduction="none")
            loss = (each * weights[i:i + batch_size]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(each)
        losses.append(total / len(y))
    return losses, linear.weight.detach().numpy()


@pytest.mark.parametrize("compile", [False, True])
def test_sample_weight_weighs_each_sample_s_loss_as_keras(compile):
    x, y = _data(n=10)
    weights = np.random.default_rng(1).uniform(0.0, 2.0, 10)
    model = _model(lr=0.5)
    model = Model(model.net, "cross_entropy", model.optimizer, compile=compile)
    losses, weight = _torch_weighted_fit(model, x, y, weights, epochs=2, batch_size=4, lr=0.5)
    history = model.fit(x, y, epochs=2, batch_size=4, sample_weight=weights, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(model.net[0].weight.detach().numpy(), weight, atol=1e-6)
    probs = np.exp(model.predict(x).astype(np.float64))
    each = -np.log(probs[np.arange(10), y] / probs.sum(1))
    assert model.evaluate(x, y, batch_size=3, sample_weight=weights)["loss"] == pytest.approx(np.mean(each * weights))
    assert model.evaluate(x, y, sample_weight=np.ones(10))["loss"] == pytest.approx(model.evaluate(x, y)["loss"])


def test_sample_weight_of_a_cross_entropy_counts_the_targets_its_mean_counts():
    # the weighted loss divided by every element: padded (ignore_index) tokens and the class weights' sum were left
    # out, so sample_weight=ones changed the loss (0.668 for 1.113 with 40% padding); now, as Keras's masked loss and
    # PyTorch's mean, the targets counted, each by its class's weight
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    y = rng.integers(0, 3, (6, 5))
    y[:, 3:] = -100
    weights = rng.uniform(0.5, 2.0, 6)
    class_weight = np.array([1.0, 5.0, 2.0], np.float32)
    ember.manual_seed(0)
    net = Net([nn.Linear(4, 3)])
    logits = torch.tensor(net(ember.tensor(x)).detach().numpy()).permute(0, 2, 1)
    for loss, kwargs in (("cross_entropy", {}), (nn.CrossEntropyLoss(weight=ember.tensor(class_weight)),
                                                 {"weight": torch.tensor(class_weight)})):
        model = Model(_Classes(net), loss, ember.optim.SGD(net.parameters(), lr=0.0))
        each = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none", **kwargs)
        counted = (torch.tensor(y) != -100).double()
        if kwargs:
            counted = counted * kwargs["weight"].double()[torch.tensor(y).clamp(min=0)]
        expected = float((each.double() * torch.tensor(weights)[:, None]).sum() / counted.sum())
        assert model.evaluate(x, y, sample_weight=weights)["loss"] == pytest.approx(expected, rel=1e-6)
        assert model.evaluate(x, y, sample_weight=np.ones(6))["loss"] == pytest.approx(
            float(torch.nn.functional.cross_entropy(logits, torch.tensor(y), **kwargs)), rel=1e-6)


class _Classes(nn.Module):
    """A network's (N, T, C) outputs as a cross-entropy's (N, C, T)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).permute(0, 2, 1)


def test_sample_weight_of_several_outputs_weighs_their_mean_and_goes_with_validation():
    x, _ = _data(n=10)
    target = np.random.default_rng(2).normal(size=(10, 3)).astype(np.float32)
    weights = np.random.default_rng(3).uniform(0.0, 2.0, 10)
    model = _model(lr=0.0, loss=nn.MSELoss(), outputs=3)
    each = ((model.predict(x).astype(np.float64) - target) ** 2).mean(1)  # Keras's: a sample's mean over its outputs
    history = model.fit(x, target, batch_size=3, validation_split=0.3, sample_weight=weights, verbose=0)
    assert history.history["loss"][0] == pytest.approx(np.mean(each[:7] * weights[:7]), rel=1e-6)
    assert history.history["val_loss"][0] == pytest.approx(np.mean(each[7:] * weights[7:]), rel=1e-6)
    history = model.fit(x, target, validation_data=(x, target, weights), verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(np.mean(each * weights), rel=1e-6)
    with pytest.raises(ValueError, match=r"one number per sample, shape \[10\], got float64\[5\]"):
        model.fit(x, target, sample_weight=weights[:5], verbose=0)
    unweighable = Model(model.net, lambda pred, target: ((pred - target) ** 2).mean(), model.optimizer)
    with pytest.raises(ValueError, match="the loss must take reduction='none'"):
        unweighable.fit(x, target, sample_weight=weights, verbose=0)


def test_class_weight_weighs_each_training_sample_by_its_class_as_keras():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 4)).astype(np.float32), rng.integers(0, 3, 12)
    class_weight = {0: 0.5, 1: 2.0, 2: 1.5}
    ember.manual_seed(0)
    net = Net([nn.Linear(4, 3)])
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.0))
    logits = model.predict(x).astype(np.float64)
    each = np.log(np.exp(logits).sum(1)) - logits[np.arange(12), y]
    weighted = np.mean(each * np.array([class_weight[c] for c in y]))  # not PyTorch's weight=: / sum of weights
    history = model.fit(x, y, batch_size=5, class_weight=class_weight, validation_data=(x, y), verbose=0)
    assert history.history["loss"][0] == pytest.approx(weighted, rel=1e-6)
    assert history.history["val_loss"][0] == pytest.approx(np.mean(each), rel=1e-6)  # validation: unweighted
    one_hot = np.eye(3, dtype=np.float32)[y]
    assert model.fit(x, one_hot, batch_size=5, class_weight=class_weight, verbose=0).history["loss"][0] == \
        pytest.approx(weighted, rel=1e-6)
    with pytest.raises(ValueError, match=r"class_weight has no weight for the class\(es\) \[2\]"):
        model.fit(x, y, class_weight={0: 1.0, 1: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="sample_weight or class_weight, not both"):
        model.fit(x, y, class_weight=class_weight, sample_weight=np.ones(12), verbose=0)


def test_class_weight_of_binary_targets_weighs_the_rounded_target_s_class():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 4)).astype(np.float32), (rng.random((12, 1)) > 0.5).astype(np.float32)
    model = _model(lr=0.0, loss="binary_crossentropy", outputs=1)
    z = model.predict(x).astype(np.float64)[:, 0]
    each = np.logaddexp(0.0, z) - y[:, 0] * z
    history = model.fit(x, y, batch_size=5, class_weight={0: 1.0, 1: 3.0}, verbose=0)
    assert history.history["loss"][0] == pytest.approx(np.mean(each * np.where(y[:, 0] == 1, 3.0, 1.0)), rel=1e-6)


def test_mean_iou_scores_a_segmentation_fit_per_pixel():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 2, 4, 4)).astype(np.float32), rng.integers(0, 3, (8, 4, 4))
    ember.manual_seed(0)
    net = Net([nn.Conv2d(2, 3, 1)])
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.0))
    pred = model.predict(x).argmax(1).ravel()
    confusion = np.zeros((3, 3))
    np.add.at(confusion, (y.ravel(), pred), 1)
    union = confusion.sum(0) + confusion.sum(1) - np.diag(confusion)
    history = model.fit(x, y, batch_size=3, metrics=[ember.metrics.MeanIoU(num_classes=3)], verbose=0)
    assert history.history["mean_iou"][0] == pytest.approx(np.mean(np.diag(confusion) / union))


def test_monitoring_callbacks_maximize_an_iou_in_auto_mode():
    # 'val_mean_iou' was read as a value to minimize, so EarlyStopping stopped a fit whose IoU rose and
    # ModelCheckpoint(save_best_only=True) kept the worst epoch; Keras's IoU metrics go up (Keras 3's
    # ReduceLROnPlateau keeps its own rule: only a name holding "acc" goes up)
    for monitor in ("val_mean_iou", "iou"):
        assert EarlyStopping(monitor).mode == "max" and ReduceLROnPlateau(monitor).mode == "min"
        checkpoint = ModelCheckpoint("unused.emb", monitor, save_best_only=True)
        assert checkpoint.is_better(0.6, 0.5) and not checkpoint.is_better(0.4, 0.5)
    assert EarlyStopping("val_loss").mode == "min" and EarlyStopping("val_accuracy").mode == "max"


def test_fit_evaluate_and_predict_read_a_generator_of_keras_batches_as_the_arrays_it_slices():
    x, y = _data(n=10)
    weights = np.random.default_rng(1).uniform(size=10)

    def batches(weighted: bool = False):
        while True:
            for i in range(0, 10, 4):
                yield (x[i:i + 4], y[i:i + 4]) + ((weights[i:i + 4],) if weighted else ())

    expected = _model().fit(x, y, epochs=2, batch_size=4, shuffle=False, sample_weight=weights,
                            validation_data=(x, y), verbose=0).history
    got = _model().fit(batches(True), epochs=2, steps_per_epoch=3, validation_data=batches(), validation_steps=3,
                       verbose=0).history
    np.testing.assert_allclose(got["loss"], expected["loss"], rtol=1e-6)
    np.testing.assert_allclose(got["val_loss"], expected["val_loss"], rtol=1e-6)
    model = _model()
    np.testing.assert_array_equal(model.predict(batches(), steps=3), model.predict(x))
    assert model.evaluate(batches(True), steps=3)["loss"] == pytest.approx(
        model.evaluate(x, y, batch_size=4, sample_weight=weights)["loss"])
    with pytest.raises(ValueError, match="a generator cannot start anew"):
        _model().fit(iter([(x, y)]), epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"x, \(x,\), \(x, y\) or \(x, y, sample_weight\); got a tuple of 4"):
        _model().fit(iter([(x, y, weights, weights)]), verbose=0)
    with pytest.raises(TypeError, match="x is a dict"):
        _model().fit({"features": x}, y, verbose=0)
    with pytest.raises(ValueError, match="sample_weight or class_weight, not both"):
        _model().fit(batches(True), steps_per_epoch=3, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_named_accuracy_beside_a_mean_squared_error_on_one_hot_rows_is_keras_s_categorical_accuracy():
    x, y = _data(n=40)
    one_hot = np.eye(3, dtype=np.float32)[y + (x[:, 2] > 0.5)]
    ember.manual_seed(0)
    net = Net([nn.Linear(4, 3), nn.Softmax(-1)])
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.1))
    probabilities = model.predict(x)
    categorical = np.mean(probabilities.argmax(1) == one_hot.argmax(1))
    assert categorical != np.mean((probabilities >= 0.5) == one_hot)  # each entry thresholded: the zeros count
    assert model.evaluate(x, one_hot, batch_size=7, metrics=["accuracy"])["accuracy"] == pytest.approx(categorical)
    history = model.fit(x, one_hot, epochs=1, batch_size=40, metrics=["accuracy"], verbose=0).history
    assert history["accuracy"] == [pytest.approx(categorical)]


def test_fit_takes_keras_s_shuffle_values_and_refuses_others():
    x, y = _data(n=10)
    assert len(_model().fit(x, y, shuffle="batch", verbose=0).history["loss"]) == 1
    for wrong in ("false", "none", 0.5):  # truthy: they shuffled without a word
        with pytest.raises(ValueError, match=r"shuffle must be True, False or 'batch'"):
            _model().fit(x, y, shuffle=wrong, verbose=0)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "binary_crossentropy"])
@pytest.mark.parametrize("compile", [False, True])
def test_keras_named_losses_take_targets_one_rank_from_the_outputs(loss, compile):
    # Keras's fit(x, y) with y of shape [N] and outputs [N, 1] was a shape error ('input float32[16, 1] and target
    # float32[16] differ in shape'); Keras's losses match the ranks, so it trains as with y[:, None]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (rng.random(40) > 0.5).astype(np.float32) if loss == "binary_crossentropy" else rng.normal(size=40).astype(
        np.float32)
    weights = rng.random(40)
    runs = []
    for target in (y, y[:, None]):
        ember.manual_seed(0)
        net = Net([nn.Linear(3, 1)])
        model = Model(net, loss, ember.optim.SGD(net.parameters(), lr=0.1), compile=compile)
        history = model.fit(x[:32], target[:32], epochs=2, batch_size=16, sample_weight=weights[:32], verbose=0,
                            validation_data=(x[32:], target[32:]), metrics=["mae"])
        runs.append((history.history, model.evaluate(x, target), [p.detach().numpy() for p in net.parameters()]))
    (history, evaluated, params), (history_2d, evaluated_2d, params_2d) = runs
    assert history.keys() == history_2d.keys() and evaluated == pytest.approx(evaluated_2d)
    for key, values in history.items():
        assert values == pytest.approx(history_2d[key], rel=1e-6)
    for a, b in zip(params, params_2d):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_fit_sets_model_history_to_the_history_it_returns_as_keras():
    x, y = _data()
    model = _model()
    assert model.history is None
    seen = []
    history = model.fit(x, y, epochs=2, verbose=0,
                        callbacks=[LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(model.history))])
    assert model.history is history and history.epoch == [0, 1] and len(history.history["loss"]) == 2
    assert seen == [None, history]  # set after the epoch's callbacks (History runs last), as Keras's History
    again = model.fit(x, y, epochs=1, verbose=0)
    assert model.history is again and again is not history


def test_early_stopping_uses_keras_3_arithmetic_and_refuses_a_direction_it_cannot_infer():
    # 0.3 < 0.4 - 0.1 (= 0.30000000000000004) counted as an improvement; Keras 3 tests 0.3 + 0.1 < 0.4: not one
    losses = iter([0.4, 0.3, 0.3])
    stop = EarlyStopping("val_loss", min_delta=0.1, patience=1)
    model = _model()
    x, y = _data()
    model.fit(x, y, epochs=3, verbose=0, callbacks=[LambdaCallback(on_epoch_end=lambda e, logs: logs.update(
        val_loss=next(losses))), stop])
    assert stop.best == 0.4 and model.epoch == 2  # stopped after epoch 2 (no improvement), as Keras
    assert EarlyStopping("val_loss", min_delta=0.1).is_better(0.3, 0.4) is False
    assert EarlyStopping("val_accuracy", min_delta=0.1).is_better(0.5, 0.4) is False  # 0.5 - 0.1 > 0.4 is False
    with pytest.raises(ValueError, match=r"EarlyStopping: cannot tell whether monitor='val_r2' should be maximized"):
        EarlyStopping("val_r2")
    assert EarlyStopping("val_r2", mode="max").mode == "max" and EarlyStopping("val_mae").mode == "min"


def test_named_accuracy_of_a_zero_logit_is_the_negative_class_as_keras():
    # Keras's binary accuracy counts a score above the threshold as positive: a zero logit (probability 0.5) is
    # class 0 (it counted as class 1: 0.7 for these targets, 70% positive, where Keras gives 0.3)
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    y = np.array([1, 1, 1, 1, 1, 1, 1, 0, 0, 0], np.float32)
    net = Net([nn.Linear(4, 1)])
    for p in net.parameters():
        p.data.zero_()
    model = Model(net, "binary_crossentropy", ember.optim.SGD(net.parameters(), lr=0.0))
    assert model.evaluate(x, y, metrics=["accuracy", "precision", "recall"]) == {
        "loss": pytest.approx(np.log(2.0)), "accuracy": pytest.approx(0.3), "precision": 0.0, "recall": 0.0}


def test_a_callback_overriding_keras_3_s_train_batch_hooks_is_called():
    # fit called on_batch_begin/on_batch_end alone, so a Keras 3 callback's on_train_batch_end was silently skipped
    from ember.callbacks import Callback

    class Keras3(Callback):
        def __init__(self):
            self.calls = []

        def on_train_batch_begin(self, batch, logs=None):
            self.calls.append(("begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            self.calls.append(("end", batch, round(logs["loss"], 6)))

    class Older(Callback):
        def __init__(self):
            self.steps = []

        def on_batch_end(self, batch, logs=None):
            self.steps.append(batch)

    x, y = _data(n=10)
    keras3, older = Keras3(), Older()
    _model().fit(x, y, epochs=1, batch_size=4, shuffle=False, callbacks=[keras3, older], verbose=0)
    assert [call[:2] for call in keras3.calls] == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1), ("begin", 2),
                                                   ("end", 2)]
    assert older.steps == [0, 1, 2]


def test_early_stopping_never_stops_after_the_first_epoch_and_keeps_the_first_weights():
    # a NaN first value with patience=0 stopped the fit after epoch 1 (Keras 3 tests epoch > 0); with
    # restore_best_weights and no improving epoch nothing was restored, where Keras keeps the first epoch's weights
    x, y = _data()
    values = iter([float("nan"), float("nan"), float("nan")])
    kept = {}
    stop = EarlyStopping("val_loss", patience=0, restore_best_weights=True)
    model = _model()

    def monitor(epoch, logs):
        logs.update(val_loss=next(values))
        if epoch == 0:
            kept.update({k: v.detach().numpy().copy() for k, v in model.net.state_dict().items()})

    model.fit(x, y, epochs=3, verbose=0, callbacks=[LambdaCallback(on_epoch_end=monitor), stop])
    assert stop.stopped_epoch == 1 and model.epoch == 2  # stopped after the second epoch, not the first
    for key, value in model.net.state_dict().items():
        np.testing.assert_array_equal(value.detach().numpy(), kept[key])


@pytest.mark.parametrize("compiled", [False, True])
def test_sparse_categorical_crossentropy_takes_class_indices_with_a_last_axis_of_one(compiled):
    # Keras squeezes [N, 1] class indices; the loss refused them, and the accuracy read them as one-hot rows (0.0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 3, 8)

    def history(target):
        ember.manual_seed(0)
        net = Net([nn.Linear(4, 3)])
        model = Model(net, "sparse_categorical_crossentropy", ember.optim.SGD(net.parameters(), lr=0.1),
                      metrics=["accuracy"], compile=compiled)
        fitted = model.fit(x, target, epochs=2, verbose=0, validation_data=(x, target),
                           sample_weight=np.linspace(0.5, 1.5, 8))
        return fitted.history, model.evaluate(x, target)

    flat, column = history(y), history(y[:, None])
    assert flat[0]["accuracy"][0] > 0
    for key, values in flat[0].items():
        np.testing.assert_allclose(column[0][key], values, rtol=1e-6)
    assert column[1] == pytest.approx(flat[1])

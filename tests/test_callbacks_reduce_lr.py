"""``ReduceLROnPlateau`` as a callback (Keras's): lr cuts after a plateau, cooldown, min_lr, and in Model.fit."""

import types

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.callbacks import EarlyStopping, LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau
from ember.model import Model


def _run(callback, losses, lr=1.0):
    groups = [{"lr": lr}, {"lr": lr / 2}]
    callback.set_model(types.SimpleNamespace(optimizer=types.SimpleNamespace(param_groups=groups)))
    callback.on_train_begin()
    seen = []
    for epoch, loss in enumerate(losses):
        logs = {"val_loss": loss}
        callback.on_epoch_end(epoch, logs)
        seen.append((logs["lr"], groups[0]["lr"], groups[1]["lr"]))
    return seen


def test_cuts_after_patience_and_waits_out_the_cooldown():
    seen = _run(ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_delta=0.0),
                [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8])
    after = [s[1] for s in seen]
    # epochs 2 and 3 do not improve: cut at 3; epoch 4 ends the cooldown and counts again (Keras's order),
    # 5 cuts again; 6 ends that cooldown; 7 improves
    assert after == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert [s[0] for s in seen] == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]  # the lr each epoch trained with
    assert seen[-1][2] == 0.125  # every group
    longer = _run(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_delta=0.0), [1.0] * 6)
    assert [s[1] for s in longer] == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]  # cut, one epoch skipped, counting again


def test_min_lr_min_delta_and_max_mode():
    seen = _run(ReduceLROnPlateau(factor=0.1, patience=1, min_lr=0.05), [1.0, 0.99995, 0.99994, 0.9999, 0.5])
    assert [s[1] for s in seen] == [1.0, 0.1, 0.05, 0.05, 0.05]  # changes within min_delta are no improvement
    up = ReduceLROnPlateau(monitor="val_accuracy", factor=0.5, patience=1)
    groups = [{"lr": 1.0}]
    up.set_model(types.SimpleNamespace(optimizer=types.SimpleNamespace(param_groups=groups)))
    up.on_train_begin()
    for epoch, acc in enumerate([0.5, 0.6, 0.55]):
        up.on_epoch_end(epoch, {"val_accuracy": acc})
    assert groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


def test_a_missing_monitor_warns_and_carries_on_as_keras_3():
    missing = ReduceLROnPlateau(patience=0)
    _run(missing, [])
    for epoch in range(3):
        logs = {"loss": 1.0}
        with pytest.warns(UserWarning, match=r"'val_loss' is not in the logs \['loss', 'lr'\]; the lr is left"):
            missing.on_epoch_end(epoch, logs)
        assert logs["lr"] == 1.0 and missing.model.optimizer.param_groups[0]["lr"] == 1.0


def test_early_stopping_warns_and_skips_an_epoch_without_the_monitor_as_keras_3():
    net = nn.Sequential(nn.Linear(2, 1))
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.1))
    stopper = EarlyStopping(patience=1)
    stopper.set_model(model)
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0})
    for epoch in (1, 2, 3):  # epochs without the monitor neither count toward the patience nor stop the fit
        with pytest.warns(UserWarning, match=r"EarlyStopping: .*'val_loss' is not in the logs \['loss'\]; epoch "
                                             f"{epoch + 1} neither improves"):
            stopper.on_epoch_end(epoch, {"loss": 1.0})
    assert stopper.wait == 0 and not getattr(model, "stop_training", False)
    stopper.on_epoch_end(4, {"loss": 1.0, "val_loss": 1.0})
    stopper.on_epoch_end(5, {"loss": 1.0, "val_loss": 1.0})
    assert model.stop_training and stopper.stopped_epoch == 5


def test_scheduler_callback_with_reduce_lr_on_plateau_warns_without_the_monitor():
    net = nn.Sequential(nn.Linear(2, 1))
    optimizer = ember.optim.SGD(net.parameters(), lr=1.0)
    model = Model(net, "mse", optimizer)
    callback = LearningRateScheduler(ember.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0))
    callback.set_model(model)
    callback.on_train_begin()
    for epoch in range(3):
        callback.on_epoch_begin(epoch)
        logs = {"loss": 1.0}
        with pytest.warns(UserWarning, match=r"'val_loss' is not in the logs \['loss'\]; ReduceLROnPlateau is not "
                                             "stepped"):
            callback.on_epoch_end(epoch, logs)
        assert logs["lr"] == 1.0 and optimizer.param_groups[0]["lr"] == 1.0


def test_min_lr_is_compared_in_float32_as_keras_3():
    # Keras 3 cuts only an lr above np.float32(min_lr): 0.1000000001 lies between 0.1 and float32(0.1)
    seen = _run(ReduceLROnPlateau(factor=0.5, patience=0, min_lr=0.1), [1.0, 1.0], lr=0.1000000001)
    assert seen[-1][1] == 0.1000000001
    seen = _run(ReduceLROnPlateau(factor=0.5, patience=0, min_lr=0.1), [1.0, 1.0], lr=0.1000001)
    assert seen[-1][1] == 0.1


def test_model_checkpoint_with_save_best_only_warns_and_skips_an_epoch_without_the_monitor(tmp_path):
    net = nn.Sequential(nn.Linear(2, 1))
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.1))
    checkpoint = ModelCheckpoint(str(tmp_path / "best-{epoch}.emb"), save_best_only=True)
    checkpoint.set_model(model)
    with pytest.warns(UserWarning, match=r"'val_loss' is not in the logs \['loss'\]; save_best_only needs it: "
                                         "epoch 1's checkpoint is skipped"):
        checkpoint.on_epoch_end(0, {"loss": 1.0})
    assert not list(tmp_path.iterdir()) and checkpoint.best is None
    checkpoint.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.5})
    assert [p.name for p in tmp_path.iterdir()] == ["best-2.emb"] and checkpoint.best == 0.5


def test_in_model_fit():
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0], [0.5]], np.float32)).astype(np.float32)
    net = nn.Sequential(nn.Linear(3, 1))
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.05))
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0, validation_data=(x, y),
                        callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)])
    # the first epoch sets the best; each later one misses it by less than min_delta and halves the lr
    assert history.history["lr"] == [0.05, 0.05, 0.025, 0.0125, 0.00625, 0.003125]
    assert model.optimizer.param_groups[0]["lr"] == 0.0015625


def test_auto_mode_and_min_delta_as_keras_3():
    # Keras 3's ReduceLROnPlateau maximizes in mode "auto" only a name holding "acc" (an AUC or an IoU is minimized)
    # and never refuses a name; it tests current < best - min_delta with min_delta as given
    assert ReduceLROnPlateau("val_auc").mode == "min" and ReduceLROnPlateau("val_mean_iou").mode == "min"
    assert ReduceLROnPlateau("val_acc").mode == "max" and ReduceLROnPlateau("watched").mode == "min"
    assert ReduceLROnPlateau("val_auc", mode="max").mode == "max"
    loose = ReduceLROnPlateau(min_delta=-0.5)
    assert loose.is_better(1.2, 1.0) and not loose.is_better(1.5, 1.0)  # 1.2 < 1.0 + 0.5


def test_model_checkpoint_refuses_a_direction_it_cannot_infer():
    # Keras 3's ModelCheckpoint raises in mode "auto" for a monitored name it cannot tell the direction of
    with pytest.raises(ValueError, match="ModelCheckpoint.*'watched'.*mode='max'"):
        ModelCheckpoint("unused.emb", monitor="watched", save_best_only=True)
    assert ModelCheckpoint("unused.emb", monitor="watched", mode="max").is_better(0.6, 0.5)
    assert ModelCheckpoint("unused.emb", monitor="val_auc").is_better(0.6, 0.5)
    assert ModelCheckpoint("unused.emb", monitor="val_loss").is_better(0.4, 0.5)

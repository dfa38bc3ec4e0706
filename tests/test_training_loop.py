"""The training loop protects the model: a NaN loss stops fit, callbacks never treat NaN as an improvement
or save NaN weights, fit(epochs=N) trains N more epochs, validation_split, summary, 80-column logs,
TensorBoard scalars and a PNG of the training curves."""

import io
import struct
import sys
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.callbacks import Callback, EarlyStopping, ModelCheckpoint, ProgressBar
from ember.model import Model, Net


def _data(n: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(lr: float = 0.1, seed: int = 0) -> Model:
    ember.manual_seed(seed)
    net = Net([nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)])
    return Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=lr), metrics=["accuracy"])


class _PoisonAt(Callback):
    """Feeds NaN into the first layer's weights at the start of a chosen epoch (a diverging run)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.net[0].weight.array[...] = np.nan


def test_a_nan_loss_stops_fit_with_a_clear_warning():
    model = _model()
    x, y = _data()
    seen = []
    spy = ember.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    with pytest.warns(RuntimeWarning, match=r"loss is nan at epoch 3, batch 1; training stopped"):
        history = model.fit(x, y, epochs=6, batch_size=32, callbacks=[_PoisonAt(2), spy], verbose=0)
    assert seen == [0, 1] and len(history.history["loss"]) == 2  # the poisoned epoch never reaches on_epoch_end
    assert model.epoch == 2
    model.net[0].weight.array[...] = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(x, y, epochs=2, batch_size=32, callbacks=[_PoisonAt(3)], terminate_on_nan=False,
                            verbose=0)
    assert np.isnan(history.history["loss"][-1])  # opted out: trains on


def test_checkpoint_and_early_stopping_never_take_nan_as_the_best(tmp_path):
    model = _model()
    x, y = _data()
    path = tmp_path / "best.emb"
    values = iter([0.5, float("nan"), 0.7, float("nan"), 0.4])
    monitor = ember.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(watched=next(values)))
    checkpoint = ModelCheckpoint(str(path), monitor="watched", save_best_only=True, mode="min")
    stopper = EarlyStopping("watched", mode="min", patience=4)
    saved = []
    spy = ember.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: saved.append(path.stat().st_mtime_ns))
    model.fit(x, y, epochs=5, batch_size=32, callbacks=[monitor, checkpoint, stopper, spy], verbose=0)
    assert checkpoint.best == 0.4 and stopper.best == 0.4 and stopper.stopped_epoch is None
    assert saved[0] == saved[1] == saved[2] == saved[3] < saved[4]  # written at 0.5 and at 0.4 only
    # a NaN first value does not become the best either (it used to block every later improvement)
    values = iter([float("nan"), 0.9, 0.8])
    checkpoint = ModelCheckpoint(str(tmp_path / "b2.emb"), monitor="watched", save_best_only=True, mode="min")
    stopper = EarlyStopping("watched", mode="min", patience=2)
    model.fit(x, y, epochs=3, batch_size=32, callbacks=[monitor, checkpoint, stopper], verbose=0)
    assert checkpoint.best == 0.8 and stopper.best == 0.8 and stopper.stopped_epoch is None


def test_checkpoint_never_overwrites_a_good_file_with_nan_weights(tmp_path):
    model = _model()
    x, y = _data()
    path = tmp_path / "last.emb"
    model.fit(x, y, epochs=1, batch_size=32, callbacks=[ModelCheckpoint(str(path))], verbose=0)
    good = path.read_bytes()
    poison = ember.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: model.net[2].bias.array.__setitem__(0, np.inf))
    with pytest.warns(RuntimeWarning, match="weights hold NaN or infinity"):
        model.fit(x, y, epochs=1, batch_size=32, callbacks=[poison, ModelCheckpoint(str(path))], verbose=0)
    assert path.read_bytes() == good


class _Users(nn.Module):
    def __init__(self):
        super().__init__()
        from ember.embedding import HashEmbedding

        self.users = HashEmbedding(4, seed=0)
        self.head = nn.Linear(4, 2)

    def forward(self, ids):
        return self.head(self.users(ids))


def test_checkpoint_never_writes_a_hash_table_holding_nan(tmp_path):
    # the check read each parameter's array, and a hash table's handle holds none of its rows
    ember.manual_seed(0)
    net = _Users()
    model = Model(net, "cross_entropy", ember.optim.Adagrad(net.parameters(), lr=0.1))
    ids, y = np.arange(32), np.arange(32) % 2
    path = tmp_path / "last.emb"
    model.fit(ids, y, epochs=1, batch_size=8, callbacks=[ModelCheckpoint(str(path))], verbose=0)
    good = path.read_bytes()

    def poison(epoch, logs):
        table = net.users.table
        table.values.write(table.layout.plan(np.array([3])), np.full((1, 4), np.nan, np.float32))

    with pytest.warns(RuntimeWarning, match="weights hold NaN or infinity"):
        model.fit(ids, y, epochs=1, batch_size=8, verbose=0,
                  callbacks=[ember.callbacks.LambdaCallback(on_epoch_end=poison), ModelCheckpoint(str(path))])
    assert path.read_bytes() == good
    net.users.table.remove_rows(np.array([3]))  # an evicted row's stale values do not count
    assert net.users.table.all_finite()


def test_fit_again_trains_more_epochs_and_initial_epoch_follows_keras():
    model = _model()
    x, y = _data()
    assert len(model.fit(x, y, epochs=2, verbose=0).history["loss"]) == 2
    second = model.fit(x, y, epochs=3, verbose=0)
    assert second.epoch == [2, 3, 4] and model.epoch == 5
    keras = model.fit(x, y, epochs=8, initial_epoch=6, verbose=0)
    assert keras.epoch == [6, 7] and model.epoch == 8
    with pytest.raises(ValueError, match="initial_epoch=6, epochs=6 trains no epoch"):
        model.fit(x, y, epochs=6, initial_epoch=6, verbose=0)
    with pytest.raises(ValueError, match="epochs must be a non-negative int"):
        model.fit(x, y, epochs=-1, verbose=0)


def test_validation_split_holds_out_the_last_samples():
    model = _model()
    x, y = _data(100)
    history = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    held_out = model.evaluate(x[75:], y[75:])
    assert history.history["val_loss"][-1] == pytest.approx(held_out["loss"])
    # Keras trains on floor(n * (1 - split)) samples: 7 of 10 with 0.25 (it trained on 8, validated on 2)
    history = model.fit(x[:10], y[:10], epochs=1, validation_split=0.25, verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[7:10], y[7:10])["loss"])
    with pytest.raises(ValueError, match="validation_split must be in"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(ValueError, match="not both"):
        model.fit(x, y, validation_split=0.2, validation_data=(x, y), verbose=0)


def test_fit_prints_validation_metrics_within_80_columns():
    model = _model()
    x, y = _data()
    stream = io.StringIO()
    bar = ProgressBar(epochs=12, steps=3, stream=stream)
    model.fit(x, y, epochs=2, batch_size=32, validation_data=(x, y), metrics=["accuracy", "precision", "recall"],
              callbacks=[bar], verbose=0)
    text = stream.getvalue()
    assert "val_loss" in text and "val_recall" in text and "epoch 2/12" in text
    assert max(len(line) for line in text.splitlines()) <= 80

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    model.fit(x, y, epochs=1, batch_size=32, validation_data=(x, y), metrics=["accuracy", "precision", "recall"],
              callbacks=[ProgressBar(epochs=3, steps=3, stream=terminal)], verbose=0)
    lines = terminal.getvalue().replace("\r", "\n").splitlines()
    assert any("val_recall" in line for line in lines) and max(len(line) for line in lines) <= 80


def test_summary_lists_layers_shapes_and_parameters():
    net = Net([nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10)])
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.1))
    lines = []
    model.summary(input_shape=(1, 8, 8), print_fn=lines.append)
    table = lines[0]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "0 (Conv2d)" in table and "(N, 4, 8, 8)" in table and "(N, 256)" in table and "(N, 10)" in table
    assert "Total params: 2,610" in table and "Trainable params: 2,610" in table  # 40 + 2570
    assert net.training  # summary leaves the mode as it was
    model.summary(print_fn=lines.append)
    assert "2,570" in lines[1] and "(N," not in lines[1]


def test_summary_samples_in_the_networks_dtype():
    # a float64 network refused the float32 sample (TypeError from Linear), and Model.summary took no dtype
    net = Net([nn.Linear(4, 3)]).double()
    model = Model(net, "mse", ember.optim.SGD(net.parameters(), lr=0.1))
    lines = []
    model.summary(input_shape=(4,), print_fn=lines.append)
    assert "(N, 3)" in lines[0]
    ids = Net([nn.Embedding(10, 3)])
    Model(ids, "mse", ember.optim.SGD(ids.parameters(), lr=0.1)).summary((5,), lines.append, dtype=np.int64)
    assert "(N, 5, 3)" in lines[1]


def test_summary_shows_every_output_of_a_multi_output_layer():
    # an LSTM's row showed only its output's shape; Keras lists each output's, with the batch where it lies
    from ember.summary import summary

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 6, batch_first=True)
            self.head = nn.Linear(6, 2)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    table = summary(Recurrent(), input_shape=(5, 4))
    assert max(len(line) for line in table.splitlines()) <= 80
    rows = table.splitlines()
    at = next(i for i, line in enumerate(rows) if line.startswith("lstm (LSTM)"))
    assert rows[at].split()[2:] == ["[(N,", "5,", "6),", "(1,", "N,", "6),", "288"]
    assert rows[at + 1].strip() == "(1, N, 6)]" and "(N, 2)" in rows[at + 2]
    gru = summary(nn.Sequential(nn.GRU(4, 3, num_layers=2, batch_first=True)), input_shape=(5, 4))
    assert "[(N, 5, 3), (2, N, 3)]" in gru  # one line when it fits


def test_summary_leaves_each_layers_own_mode():
    from ember.summary import summary

    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    net[1].eval()  # a frozen norm inside a network in training mode
    summary(net, input_shape=(4,))
    assert net.training and net[0].training and not net[1].training and net[2].training


def _tensorboard_scalars(directory) -> dict:
    """{tag: [(step, value)]} from the event files under ``directory`` (TFRecord framing, Event protos)."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for path in sorted(directory.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_writes_epoch_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    model = _model()
    x, y = _data()
    history = model.fit(x, y, epochs=3, batch_size=32, validation_data=(x, y), verbose=0,
                        callbacks=[ember.callbacks.TensorBoard(str(tmp_path / "runs"))])
    scalars = _tensorboard_scalars(tmp_path / "runs")
    assert [step for step, _ in scalars["epoch/loss"]] == [1, 2, 3]
    assert [v for _, v in scalars["epoch/val_accuracy"]] == pytest.approx(history.history["val_accuracy"])


def test_training_curves_png(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib import image

    model = _model()
    x, y = _data()
    path = tmp_path / "curves.png"
    model.fit(x, y, epochs=3, batch_size=32, validation_data=(x, y), verbose=0,
              callbacks=[ember.callbacks.TrainingCurves(str(path))])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(str(path))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 200 and pixels[..., :3].std() > 0.05  # something drawn
    assert not list(tmp_path.glob("*.tmp*"))


def test_missing_extras_say_how_to_install_them_from_a_clone(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"TensorBoard needs tensorboardX: pip install tensorboardX .*"
                                          r"pip install -e '\.\[tensorboard\]'"):
        ember.callbacks.TensorBoard("runs")
    monkeypatch.setitem(__import__("sys").modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[plot\]'"):
        ember.callbacks.TrainingCurves("curves.png")


def test_fit_verbose_2_prints_one_line_per_epoch_on_a_terminal_as_keras(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    model = _model()
    x, y = _data()
    for verbose, bar in ((1, True), (2, False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stdout", terminal)
        model.fit(x, y, epochs=2, batch_size=32, verbose=verbose)
        monkeypatch.undo()
        lines = terminal.getvalue().replace("\r", "\n").splitlines()
        assert any("it/s" in line or "/3 [" in line for line in lines) == bar
        if not bar:
            assert [line.split(" - ")[0] for line in lines] == [f"epoch {e}/{model.epoch}" for e in (3, 4)]

"""Callbacks for ``Model.fit``: hooks before/after each step and epoch (Keras's design).

A callback gets ``set_model(model)`` once, then ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
``on_batch_begin(step, logs)``, ``on_batch_end(step, logs)``, ``on_epoch_end(epoch, logs)`` and
``on_train_end(logs)`` (the last epoch's logs), each with its logs positionally, as Keras calls them. The batch
hooks are called as Keras 3's ``on_train_batch_begin``/``on_train_batch_end``, which call the former by default.
Setting ``model.stop_training = True`` ends training after the current epoch; set in ``on_batch_end``, it ends
that epoch at that step, as in Keras 3 (in a multi-rank job, with the epoch).
"""

from __future__ import annotations

import copy
import csv
import inspect
import math
import os
import sys
import time
import warnings

import numpy as np

from ember.tensor import Tensor


class Callback:
    """Base class: override the hooks you need."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_batch_begin(self, step: int, logs: dict | None = None) -> None: ...

    def on_batch_end(self, step: int, logs: dict | None = None) -> None: ...

    # Keras 3's names of the training batch hooks, which fit calls: by default on_batch_begin/on_batch_end (Keras's
    # older names), so a callback may override either
    def on_train_batch_begin(self, step: int, logs: dict | None = None) -> None:
        self.on_batch_begin(step, logs)

    def on_train_batch_end(self, step: int, logs: dict | None = None) -> None:
        self.on_batch_end(step, logs)


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses. After each epoch the
    model's ``history`` is this object, as in Keras."""

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


def _better(mode: str, min_delta: float):
    if mode == "min":
        return lambda current, best: current < best - min_delta
    if mode == "max":
        return lambda current, best: current > best + min_delta
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


def _keras_improvement(mode: str, min_delta: float):
    """Keras 3's EarlyStopping test, ``monitor_op(current - delta, best)`` with ``delta`` negated for "min": on
    float ties it can differ from comparing with ``best -/+ min_delta``."""
    if mode == "min":
        return lambda current, best: current + min_delta < best  # (current - (-min_delta), the same float)
    if mode == "max":
        return lambda current, best: current - min_delta > best
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


def _infer_mode(monitor: str, mode: str, who: str | None = None) -> str:
    """``mode``, or for "auto" the direction of the metrics ``monitor`` names: up for the scores (accuracy, AUC, F1,
    precision, recall, IoU, whose Keras metrics go up), down for the rest (losses and errors). Given ``who``, a name
    that is neither a score nor a loss or error is refused, as Keras 3 refuses a direction it cannot infer."""
    if mode != "auto":
        return mode
    if any(word in monitor for word in ("acc", "auc", "f1", "precision", "recall", "iou")):
        return "max"
    if who is not None and not any(word in monitor for word in ("loss", "mse", "mae", "error")):
        raise ValueError(f"{who}: cannot tell whether monitor={monitor!r} should be maximized or minimized; pass "
                         f"mode='max' to keep its highest value or mode='min' its lowest")
    return "min"


def _monitored(logs: dict | None, monitor: str, who: str, model=None) -> float | None:
    """The value of ``monitor`` in ``logs``; None for a validation value at an epoch that fit did not validate
    (``validation_freq``), which the callbacks skip, as Keras's."""
    if not logs or monitor not in logs:
        if monitor.startswith("val_") and getattr(model, "skipped_validation", False):
            return None
        raise KeyError(f"{who}: monitored value {monitor!r} is not in the logs {sorted(logs or {})}")
    return float(logs[monitor])


def _monitored_or_warn(logs: dict | None, monitor: str, who: str, model, skipping: str) -> float | None:
    """``_monitored``, but a value missing from the logs warns (saying what is ``skipping``) and gives None: Keras
    3's EarlyStopping, ReduceLROnPlateau and ModelCheckpoint carry on without it."""
    try:
        return _monitored(logs, monitor, who, model)
    except KeyError as exc:
        warnings.warn(f"{exc.args[0]}; {skipping}", UserWarning, stacklevel=3)
        return None


def _improved(is_better, current: float, best: float | None) -> bool:
    """Whether ``current`` beats ``best``; a NaN or infinite value never does, and never becomes the best."""
    return math.isfinite(current) and (best is None or is_better(current, best))


def _weights_finite(model) -> bool:
    from ember.backend.devices import array_module

    for p in model.net.parameters():
        table = getattr(p, "table", None)  # a hash table's handle: the rows live in the table
        if table is not None and hasattr(table, "all_finite"):
            if not table.all_finite():
                return False
        elif not bool(array_module(p.array).isfinite(p.array).all()):
            return False
    return True


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; optionally
    (``restore_best_weights``) put back the best epoch's weights when it stops or the fit ends, as Keras 3.
    Keras's arguments, by name (Keras's positional order, ``min_delta`` before ``patience``, differs from this
    class's former one): ``baseline``, a value to beat (an improvement that does not beat it still counts as an
    epoch without progress); ``start_from_epoch``, the epochs before it neither
    improve nor wait (a warm-up); ``verbose=1`` says when it stops. An epoch whose logs lack ``monitor`` warns and
    is skipped, as Keras 3's."""

    def __init__(self, monitor: str = "val_loss", *, patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False, baseline: float | None = None, start_from_epoch: int = 0,
                 verbose: int = 0):
        for name, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"EarlyStopping: {name} must be a non-negative int, got {value!r}")
        self.monitor, self.patience = monitor, patience
        self.mode = _infer_mode(monitor, mode, "EarlyStopping")
        self.is_better = _keras_improvement(self.mode, abs(min_delta))
        self.restore_best_weights = restore_best_weights
        self.baseline, self.start_from_epoch, self.verbose = baseline, start_from_epoch, verbose

    def on_train_begin(self, logs=None) -> None:
        self.wait, self.best, self.best_state, self.stopped_epoch = 0, None, None, None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch < self.start_from_epoch:
            return
        current = _monitored_or_warn(logs, self.monitor, "EarlyStopping", self.model,
                                     f"epoch {epoch + 1} neither improves nor counts toward the patience")
        if current is None:
            return
        if self.restore_best_weights and self.best_state is None:
            self._keep_weights()  # the first monitored epoch's, until one improves (Keras 3's)
        self.wait += 1
        if _improved(self.is_better, current, self.best):
            self.best = current
            if self.baseline is None or self.is_better(current, self.baseline):
                self.wait = 0
            if self.restore_best_weights:
                self._keep_weights()
            return
        if self.wait >= self.patience and epoch > 0:  # (Keras 3 never stops after the first epoch)
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping")
            self._restore()

    def on_train_end(self, logs=None) -> None:
        # Keras 3 puts the best weights back at the end of every fit, one that ran all its epochs (or that another
        # callback stopped) included; a stop here has put them back already
        if self.stopped_epoch is None:
            self._restore()

    def _keep_weights(self) -> None:
        state = self.model.net.state_dict()
        self._tensor_keys = {k for k, v in state.items() if isinstance(v, Tensor)}
        self.best_state = {k: v.array.copy() if k in self._tensor_keys else copy.deepcopy(v) for k, v in state.items()}

    def _restore(self) -> None:
        if self.best_state is not None:  # hash tables' entries (ints, key arrays) go back as they were
            self.model.net.load_state_dict({k: Tensor._make(v, None) if k in self._tensor_keys else v
                                            for k, v in self.best_state.items()})


class ModelCheckpoint(Callback):
    """Save the model (weights, optimizer, epoch, RNG state and the LearningRateScheduler callbacks' schedulers)
    after each epoch, or only when ``monitor`` improves (list it after a LearningRateScheduler, so that the file
    holds the next epoch's lr). ``path`` may contain ``{epoch}`` and log names, e.g. ``"ckpt-{epoch:02d}.emb"``; its
    directory is made when missing, as Keras's.
    A NaN or infinite monitored value is never an improvement, and weights holding NaN or infinity are
    never saved (a RuntimeWarning says so), so a good checkpoint is not overwritten by a diverged model.
    With ``mode="auto"``, a ``monitor`` that names neither a score nor a loss or error is refused (ValueError), as
    Keras 3's; with ``save_best_only``, an epoch whose logs lack ``monitor`` warns and saves nothing, as Keras 3's.
    ``save_weights_only=True`` writes the network's ``state_dict()`` alone, as Keras's ``save_weights``
    (read it back with ``net.load_state_dict(ember.load(path))``)."""

    writes_files = True  # in a multi-rank job only rank 0 runs it

    def __init__(self, path: str, monitor: str = "val_loss", *, save_best_only: bool = False, mode: str = "auto",
                 verbose: int = 0, save_weights_only: bool = False):
        # the options by name: Keras's positional order (verbose before save_best_only) differs from this one's
        self.path, self.monitor, self.save_best_only, self.verbose = path, monitor, save_best_only, verbose
        self.save_weights_only = save_weights_only
        self.is_better = _better(_infer_mode(monitor, mode, "ModelCheckpoint"), 0.0)
        self.best = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = _monitored_or_warn(logs, self.monitor, "ModelCheckpoint", self.model,
                                         f"save_best_only needs it: epoch {epoch + 1}'s checkpoint is skipped")
            if current is None or not _improved(self.is_better, current, self.best):
                return
        path = self._path(epoch, logs)
        if not _weights_finite(self.model):
            warnings.warn(f"ModelCheckpoint: epoch {epoch + 1}: the weights hold NaN or infinity; {path} is not "
                          "written", RuntimeWarning, stacklevel=2)
            return
        if self.verbose:
            change = f"{self.monitor} improved from {self.best} to {current}, " if self.save_best_only else ""
            print(f"Epoch {epoch + 1}: {change}saving {'weights' if self.save_weights_only else 'model'} to {path}")
        if self.save_best_only:
            self.best = current
        directory = os.path.dirname(path)
        if directory:  # Keras's creates it ("checkpoints/{epoch:02d}.emb" in a fresh run)
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            from ember.checkpoint import save

            save(self.model.net.state_dict(), path)
        else:
            self.model.save(path)

    def _path(self, epoch: int, logs: dict) -> str:
        """The file name of ``epoch``'s checkpoint: ``path`` filled in with the epoch (from 1) and the logs."""
        try:
            return self.path.format(epoch=epoch + 1, **logs)
        except KeyError as exc:
            raise KeyError(f"ModelCheckpoint: the path {self.path!r} names {exc.args[0]!r}, which is not in epoch "
                           f"{epoch + 1}'s logs {sorted(['epoch', *logs])}") from None


class TerminateOnNaN(Callback):
    """Keras's ``TerminateOnNaN``: stop training at the first batch whose loss is NaN or infinite (the epoch ends
    there and is reported to the callbacks). ``fit`` does this by itself unless ``terminate_on_nan=False``, and
    then stops before the epoch's end."""

    def on_batch_end(self, step: int, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {step}: Invalid loss, terminating training")
            self.model.stop_training = True


class LearningRateScheduler(Callback):
    """Step an ``ember.optim.lr_scheduler`` every epoch (or every batch with ``per_batch=True``);
    ``ReduceLROnPlateau`` gets the monitored value (logs without it warn and leave the lr, as Keras 3's
    ReduceLROnPlateau callback). As in Keras, an epoch's logs get the lr its steps used
    (``lr``; with ``per_batch``, its last step's), not the one the scheduler sets for the next.

    Keras's form, a function ``schedule(epoch, lr) -> lr`` (or ``schedule(epoch)``), sets every parameter
    group's lr at the start of each epoch (``epoch`` counted from 0, ``initial_epoch`` and resumed fits
    included).

    >>> LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)
    """

    def __init__(self, scheduler, per_batch: bool = False, monitor: str = "val_loss"):
        self.scheduler, self.per_batch, self.monitor = scheduler, per_batch, monitor
        self.used = None
        self.schedule_arity = None  # Keras's schedule function: how many arguments it takes (1 or 2)
        if not hasattr(scheduler, "step"):
            self.schedule_arity = _schedule_arity(scheduler)
            if per_batch:
                raise ValueError("LearningRateScheduler: a schedule function sets the lr once an epoch (Keras's "
                                 "schedule(epoch, lr)); per_batch=True needs an ember.optim.lr_scheduler scheduler")

    def _lr(self) -> float:
        return self.model.optimizer.param_groups[0]["lr"]

    def _step(self, logs) -> None:
        self.used = self._lr()
        if type(self.scheduler).__name__ == "ReduceLROnPlateau":
            current = _monitored_or_warn(logs, self.monitor, "LearningRateScheduler", self.model,
                                         "ReduceLROnPlateau is not stepped and the lr is left")
            if current is not None:
                self.scheduler.step(current)
        else:
            self.scheduler.step()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if self.schedule_arity is not None:
            for group in self.model.optimizer.param_groups:
                args = (epoch, group["lr"]) if self.schedule_arity == 2 else (epoch,)
                group["lr"] = _scheduled_lr(self.scheduler(*args), epoch)
        self.used = self._lr()

    def on_batch_end(self, step: int, logs=None) -> None:
        if self.per_batch:
            self._step(logs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if not self.per_batch and self.schedule_arity is None:
            self._step(logs)
        if logs is not None:
            logs["lr"] = self.used


def _schedule_arity(schedule) -> int:
    """How many positional arguments Keras's ``schedule`` takes: 2 (epoch, lr) where it can, else 1 (epoch)."""
    if not callable(schedule):
        raise TypeError(f"LearningRateScheduler: expected an ember.optim.lr_scheduler scheduler or a function "
                        f"schedule(epoch, lr), got {type(schedule).__name__}")
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # a builtin without a signature: Keras's current form
        return 2
    for arity in (2, 1):
        try:
            signature.bind(*range(arity))
            return arity
        except TypeError:
            pass
    raise TypeError(f"LearningRateScheduler: the schedule function must take (epoch, lr) or (epoch), got {signature}")


def _scheduled_lr(lr, epoch: int) -> float:
    """The lr a schedule function returned, as a float (a number, or a 0-d array or tensor of one)."""
    if not isinstance(lr, (bool, str)) and np.ndim(lr) == 0:
        try:
            return float(lr)
        except (TypeError, ValueError):
            pass
    raise ValueError(f"LearningRateScheduler: the schedule function must return a number (the lr), got {lr!r:.60} "
                     f"at epoch {epoch}")


class ReduceLROnPlateau(Callback):
    """Keras's ``ReduceLROnPlateau``: multiply every parameter group's lr by ``factor`` (not below ``min_lr``) when
    ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs before
    counting again. Each epoch's logs get the lr it trained with (``lr``). With ``mode="auto"`` a ``monitor`` holding
    "acc" is maximized and any other minimized, as Keras 3's (pass ``mode="max"`` for an AUC or an IoU). An epoch
    whose logs lack ``monitor`` warns and leaves the lr, and an lr at float32(``min_lr``) or below is not cut, as
    Keras 3's."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        if patience < 0 or cooldown < 0 or min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: patience, cooldown and min_lr must be >= 0, got {patience}, "
                             f"{cooldown}, {min_lr}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), patience, verbose
        # Keras 3's own rule here: in mode "auto" a name holding "acc" is maximized and any other minimized, and
        # min_delta is taken as given (best - min_delta), never refused
        self.mode = ("max" if "acc" in monitor else "min") if mode == "auto" else mode
        self.is_better = _better(self.mode, min_delta)
        self.cooldown, self.min_lr = cooldown, float(min_lr)
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_train_begin(self, logs=None) -> None:
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        groups = self.model.optimizer.param_groups
        if logs is not None:
            logs["lr"] = groups[0]["lr"]
        current = _monitored_or_warn(logs, self.monitor, "ReduceLROnPlateau", self.model,
                                     f"the lr is left as it is at epoch {epoch + 1}")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _improved(self.is_better, current, self.best):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        reduced = False
        for group in groups:
            if group["lr"] > np.float32(self.min_lr):  # Keras 3's test, on min_lr rounded as its float32 lr is
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
                reduced = True
        if reduced:
            self.cooldown_counter, self.wait = self.cooldown, 0
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {groups[0]['lr']:g}.")


class CSVLogger(Callback):
    """Append one row per epoch (epoch and every log value) to a CSV file; Keras's arguments, in its order
    (``CSVLogger("log.tsv", "\\t", append=True)``). The columns are the first epoch's logs, and the validation
    values where ``validation_freq`` skips that epoch's validation; a value an epoch lacks is written ``NA``, as
    Keras's."""

    writes_files = True  # in a multi-rank job only rank 0 runs it

    def __init__(self, path: str, separator: str = ",", append: bool = False):
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r} (Keras's order is "
                             "path, separator, append)")
        self.path, self.separator, self.append = path, separator, append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs=None) -> None:
        if not self.append and os.path.exists(self.path):
            os.remove(self.path)
        self.keys = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        new_file = not os.path.exists(self.path) or os.path.getsize(self.path) == 0  # an empty file gets the header too
        if self.keys is None:
            keys = set(logs)
            if getattr(self.model, "skipped_validation", False):  # validation_freq: val_ values come at later epochs
                keys.update(f"val_{name}" for name in getattr(self.model, "metrics_names", ()))
            self.keys = sorted(keys)
        with open(self.path, "a", newline="") as handle:
            writer = csv.writer(handle, delimiter=self.separator)
            if new_file:
                writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch, *(logs.get(k, "NA") for k in self.keys)])


class TensorBoard(Callback):
    """Write the logs as TensorBoard scalars under ``log_dir``: ``epoch/<name>`` once per epoch (step =
    epoch number, from 1) and, with ``update_freq="batch"``, ``batch/loss`` every step. Needs tensorboardX.

    >>> model.fit(x, y, epochs=5, callbacks=[TensorBoard("runs/exp1")])   # then: tensorboard --logdir runs
    """

    def __init__(self, log_dir: str = "runs", update_freq: str = "epoch"):
        if update_freq not in ("epoch", "batch"):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch' or 'batch', got {update_freq!r}")
        from ember.optional import require

        self._writer_class = require("tensorboardX", "tensorboardX", "tensorboard", "TensorBoard").SummaryWriter
        self.log_dir, self.update_freq = log_dir, update_freq
        self.writer, self.steps = None, 0

    def on_train_begin(self, logs=None) -> None:
        self.writer = self._writer_class(self.log_dir)

    def on_batch_end(self, step: int, logs=None) -> None:
        self.steps += 1
        if self.update_freq == "batch" and logs and "loss" in logs:
            self.writer.add_scalar("batch/loss", float(logs["loss"]), self.steps)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(f"epoch/{key}", float(value), epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class TrainingCurves(Callback):
    """Draw the training curves (one panel per quantity, training and validation together) into a PNG
    file after every epoch; the file is replaced atomically. Needs matplotlib.

    >>> model.fit(x, y, epochs=20, validation_split=0.1, callbacks=[TrainingCurves("curves.png")])
    """

    def __init__(self, path: str, dpi: int = 100):
        from ember.optional import require

        require("matplotlib", "matplotlib", "plot", "TrainingCurves")
        self.path, self.dpi = os.fspath(path), dpi
        self.history: dict[str, list[tuple[int, float]]] = {}

    def on_train_begin(self, logs=None) -> None:
        self.history = {}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for key, value in (logs or {}).items():
            if isinstance(value, (int, float)):
                self.history.setdefault(key, []).append((epoch + 1, float(value)))
        self._draw()

    def _draw(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        names = [k for k in self.history if not k.startswith("val_")]
        names += [k[4:] for k in self.history if k.startswith("val_") and k[4:] not in names]
        figure = Figure(figsize=(4 * len(names), 3), layout="constrained")
        FigureCanvasAgg(figure)
        for i, name in enumerate(names):
            axes = figure.add_subplot(1, len(names), i + 1)
            for key, label in ((name, "training"), (f"val_{name}", "validation")):
                if key in self.history:
                    epochs, values = zip(*self.history[key])
                    axes.plot(epochs, values, marker="o", markersize=3, label=label)
            axes.set_title(name)
            axes.set_xlabel("epoch")
            axes.legend()
        directory = os.path.dirname(os.path.abspath(self.path))
        tmp = os.path.join(directory, f".{os.path.basename(self.path)}.{os.getpid()}.tmp")
        try:
            figure.savefig(tmp, dpi=self.dpi, format="png")
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``. Each function takes
    Keras's arguments (``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``, ``on_batch_end(batch, logs)``...);
    Keras 3's ``on_train_batch_begin``/``on_train_batch_end`` are ``on_batch_begin``/``on_batch_end``."""

    _ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            name = self._ALIASES.get(name, name)
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) and abs(value) >= 1e-3 else f"{value:.3g}"
    return str(value)


def _format_logs(logs: dict) -> str:
    return " - ".join(f"{key} {_format_value(value)}" for key, value in logs.items())


def _wrap(head: str, logs: dict, width: int = 80) -> list[str]:
    """``head`` and then ``key value`` items joined by " - ", in lines of at most ``width`` columns
    (continuation lines indented); an item too long for any line gets a line of its own."""
    lines, line = [], head
    for key, value in logs.items():
        item = f"{key} {_format_value(value)}"
        joined = f"{line} - {item}" if line.strip() else line + item
        if len(joined) <= width or not line.strip():
            line = joined
        else:
            lines.append(line)
            line = "    " + item
    lines.append(line)
    return lines


class ProgressBar(Callback):
    """A progress bar with loss, metrics and ETA on a terminal; one line per epoch otherwise, or with
    ``bar=False`` (Keras's ``verbose=2``). Every line, validation metrics included, fits in 80 columns (long logs
    continue on indented lines)."""

    def __init__(self, epochs: int, steps: int | None, stream=None, width: int = 80, bar: bool = True):
        self.epochs, self.steps, self.width = epochs, steps, width
        self.stream = stream or sys.stdout
        self.interactive = bar and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.start = time.perf_counter()
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", file=self.stream,
                            leave=True, ncols=self.width)

    def on_batch_end(self, step: int, logs=None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if logs:
                self.bar.set_postfix_str(_format_logs(logs), refresh=False)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.bar is not None:
            self.bar.set_postfix_str(_format_logs({k: v for k, v in logs.items() if k == "loss"}))
            self.bar.close()
            self.bar = None
            lines = _wrap("    ", logs, self.width)
        else:
            seconds = time.perf_counter() - self.start
            lines = _wrap(f"epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s", logs, self.width)
        print("\n".join(lines), file=self.stream, flush=True)

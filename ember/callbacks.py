"""Callbacks for ``Model.fit``: hooks before/after each step and epoch (Keras's design).

A callback gets ``set_model(model)`` once, then ``on_train_begin``, ``on_epoch_begin(epoch)``,
``on_batch_begin(step)``, ``on_batch_end(step, logs)``, ``on_epoch_end(epoch, logs)`` and ``on_train_end``.
Setting ``model.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time


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


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses."""

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _better(mode: str, min_delta: float):
    if mode == "min":
        return lambda current, best: current < best - min_delta
    if mode == "max":
        return lambda current, best: current > best + min_delta
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


def _infer_mode(monitor: str, mode: str) -> str:
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in ("acc", "auc", "f1", "precision", "recall")) else "min"


def _monitored(logs: dict | None, monitor: str, who: str) -> float:
    if not logs or monitor not in logs:
        raise KeyError(f"{who}: monitored value {monitor!r} is not in the logs {sorted(logs or {})}")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs; optionally put
    back the best weights."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience = monitor, patience
        self.mode = _infer_mode(monitor, mode)
        self.is_better = _better(self.mode, abs(min_delta))
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, logs=None) -> None:
        self.wait, self.best, self.best_state, self.stopped_epoch = 0, None, None, None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if self.best is None or self.is_better(current, self.best):
            self.best, self.wait = current, 0
            if self.restore_best_weights:
                self.best_state = {k: v.data.copy() for k, v in self.model.net.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.best_state is not None:
                from ember.tensor import Tensor

                self.model.net.load_state_dict({k: Tensor._make(v, None) for k, v in self.best_state.items()})


class ModelCheckpoint(Callback):
    """Save the model (weights, optimizer, epoch and RNG state) after each epoch, or only when
    ``monitor`` improves. ``path`` may contain ``{epoch}`` and log names, e.g. ``"ckpt-{epoch:02d}.emb"``."""

    writes_files = True  # in a multi-rank job only rank 0 runs it

    def __init__(self, path: str, monitor: str = "val_loss", save_best_only: bool = False, mode: str = "auto"):
        self.path, self.monitor, self.save_best_only = path, monitor, save_best_only
        self.is_better = _better(_infer_mode(monitor, mode), 0.0)
        self.best = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if self.best is not None and not self.is_better(current, self.best):
                return
            self.best = current
        self.model.save(self.path.format(epoch=epoch + 1, **logs))


class LearningRateScheduler(Callback):
    """Step an ``ember.optim.lr_scheduler`` every epoch (or every batch with ``per_batch=True``);
    ``ReduceLROnPlateau`` gets the monitored value."""

    def __init__(self, scheduler, per_batch: bool = False, monitor: str = "val_loss"):
        self.scheduler, self.per_batch, self.monitor = scheduler, per_batch, monitor

    def _step(self, logs) -> None:
        if type(self.scheduler).__name__ == "ReduceLROnPlateau":
            self.scheduler.step(_monitored(logs, self.monitor, "LearningRateScheduler"))
        else:
            self.scheduler.step()

    def on_batch_end(self, step: int, logs=None) -> None:
        if self.per_batch:
            self._step(logs)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if not self.per_batch:
            self._step(logs)
        if logs is not None:
            logs["lr"] = self.model.optimizer.param_groups[0]["lr"]


class CSVLogger(Callback):
    """Append one row per epoch (epoch and every log value) to a CSV file."""

    writes_files = True  # in a multi-rank job only rank 0 runs it

    def __init__(self, path: str, append: bool = False):
        self.path, self.append = path, append
        self.keys: list[str] | None = None

    def on_train_begin(self, logs=None) -> None:
        if not self.append and os.path.exists(self.path):
            os.remove(self.path)
        self.keys = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        new_file = not os.path.exists(self.path)
        if self.keys is None:
            self.keys = sorted(logs)
        with open(self.path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new_file:
                writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch, *(logs.get(k, "") for k in self.keys)])


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def _format_logs(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if isinstance(value, float):
            parts.append(f"{key} {value:.4f}" if math.isfinite(value) and abs(value) >= 1e-3 else f"{key} {value:.3g}")
        else:
            parts.append(f"{key} {value}")
    return " - ".join(parts)


class ProgressBar(Callback):
    """A progress bar with loss, metrics and ETA on a terminal; one line per epoch otherwise."""

    def __init__(self, epochs: int, steps: int | None, stream=None):
        self.epochs, self.steps = epochs, steps
        self.stream = stream or sys.stdout
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.start = time.perf_counter()
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", file=self.stream,
                            leave=True, dynamic_ncols=True)

    def on_batch_end(self, step: int, logs=None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if logs:
                self.bar.set_postfix_str(_format_logs(logs), refresh=False)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_format_logs(logs or {}))
            self.bar.close()
            self.bar = None
            return
        seconds = time.perf_counter() - self.start
        print(f"epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {_format_logs(logs or {})}", file=self.stream,
              flush=True)


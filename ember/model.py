"""tinynn's high-level API: ``Net([layers])`` and ``Model(net, loss, optimizer)`` with ``forward``,
``backward(pred, target) -> (loss, grads)`` and ``apply_grad(grads)``, and on top of them the loop people
expect: ``fit``, ``evaluate``, ``predict``, callbacks, metrics and resumable checkpoints."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ember import autograd
from ember import random as _random
from ember.backend.memory import tune_malloc
from ember.callbacks import Callback, History, ProgressBar
from ember.jit import jit
from ember.nn.module import Sequential
from ember.ops.convert import as_tensor
from ember.tensor import Tensor


class Net(Sequential):
    """A stack of layers applied in order (tinynn's ``Net``).

    >>> net = Net([ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2)])
    """

    def __init__(self, layers: Iterable):
        super().__init__(*layers)


_LOSSES = {
    "cross_entropy": "cross_entropy",
    "categorical_crossentropy": "cross_entropy",
    "sparse_categorical_crossentropy": "cross_entropy",
    "mse": "mse_loss",
    "mean_squared_error": "mse_loss",
    "mae": "l1_loss",
    "l1": "l1_loss",
    "binary_crossentropy": "binary_cross_entropy_with_logits",
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "huber": "huber_loss",
}


def _resolve_loss(loss) -> Callable:
    if isinstance(loss, str):
        from ember import ops

        name = _LOSSES.get(loss)
        if name is None:
            raise ValueError(f"Model: unknown loss {loss!r}; expected a callable or one of {sorted(_LOSSES)}")
        return getattr(ops, name)
    if not callable(loss):
        raise TypeError(f"Model: loss must be callable or a name, got {type(loss).__name__}")
    return loss


def _resolve_metric(metric):
    from ember import metrics as m

    if not isinstance(metric, str):
        return metric
    table = {"accuracy": m.Accuracy, "acc": m.Accuracy, "auc": m.AUC, "mse": m.MSE, "mae": m.MAE,
             "precision": m.Precision, "recall": m.Recall, "f1": m.F1}
    if metric not in table:
        raise ValueError(f"Model: unknown metric {metric!r}; expected one of {sorted(table)} or a metric object")
    return table[metric]()


def _as_loader(x, y, batch_size: int, shuffle: bool):
    from ember.data import DataLoader, Dataset, TensorDataset

    if isinstance(x, DataLoader):
        if y is not None:
            raise ValueError("fit/evaluate: pass targets inside the DataLoader, not as y")
        return x
    if isinstance(x, Dataset):
        return DataLoader(x, batch_size=batch_size, shuffle=shuffle)
    if y is None:
        return DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=shuffle)
    if len(x) != len(y):
        raise ValueError(f"fit/evaluate: x has {len(x)} samples but y has {len(y)}")
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)


def _split_batch(batch):
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return tuple(batch), None
        return tuple(batch[:-1]), batch[-1]
    return (batch,), None


class Model:
    """A network, its loss and its optimizer, trained by ``fit``. Batches go to the device of the network's
    parameters (as in Keras), so a network moved with ``net.to("cuda")`` trains on NumPy data unchanged.

    >>> model = Model(net, "cross_entropy", ember.optim.Adam(net.parameters(), lr=1e-3))
    >>> history = model.fit(x_train, y_train, epochs=5, batch_size=32, metrics=["accuracy"],
    ...                     validation_data=(x_val, y_val))
    """

    def __init__(self, net, loss, optimizer, metrics: Iterable = (), compile: bool = False):
        self.net = net
        self.loss = _resolve_loss(loss)
        self.optimizer = optimizer
        self.metrics = list(metrics)
        self.stop_training = False
        self.epoch = 0
        self._params = [p for p in net.parameters() if p.requires_grad]
        # compile=True: fit's training step is traced once per batch shape and run as generated code
        self._compiled_step = jit(self._traced_step) if compile else None

    # --- tinynn's three methods ---
    def forward(self, *inputs) -> Tensor:
        """The network's output for ``inputs``."""
        return self.net(*inputs)

    __call__ = forward

    def backward(self, pred: Tensor, target) -> tuple:
        """Loss of ``pred`` against ``target`` and the gradient of every trainable parameter."""
        loss = self.loss(pred, target)
        autograd.drop_grads(self._params)
        loss.backward()
        return loss, [p.grad for p in self._params]

    def apply_grad(self, grads) -> None:
        """Update the parameters with ``grads`` (as returned by ``backward``) through the optimizer."""
        for p, g in zip(self._params, grads):
            p.grad = g
        self.optimizer.step()

    def train_step(self, inputs: tuple, target) -> tuple:
        """One step on a batch; returns (loss, prediction)."""
        if self._compiled_step is not None:
            batch = [t if t is None or isinstance(t, Tensor) else as_tensor(t) for t in (*inputs, target)]
            return self._compiled_step(self.net.training, *batch)
        return self._step(inputs, target)

    def _step(self, inputs: tuple, target) -> tuple:
        pred = self.forward(*inputs)
        loss, grads = self.backward(pred, target)
        self.apply_grad(grads)
        return loss, pred

    def _traced_step(self, training: bool, *batch) -> tuple:
        """The step ember.jit traces (``training`` is part of the signature: a mode change retraces)."""
        return self._step(batch[:-1], batch[-1])

    def _placed(self, batch) -> tuple:
        """``(inputs, target)`` of a loader batch, on the device of the network's parameters."""
        inputs, target = _split_batch(batch)
        params = self._params or list(self.net.parameters())
        if not params or params[0].data.__class__ is np.ndarray:
            return inputs, target  # a CPU network: the loader's tensors are already where they belong
        device = params[0].device

        def move(t):
            return t if t is None else as_tensor(t).to(device)

        return tuple(move(t) for t in inputs), move(target)

    # --- the loop ---
    def fit(
        self,
        x,
        y=None,
        epochs: int = 1,
        batch_size: int = 32,
        validation_data=None,
        callbacks: Iterable[Callback] = (),
        metrics: Iterable | None = None,
        shuffle: bool = True,
        verbose: int = 1,
        initial_epoch: int | None = None,
    ) -> History:
        """Train for ``epochs`` epochs on arrays, a Dataset or a DataLoader; returns the History.

        The first call tunes the process's malloc for training loops (``ember.tune_malloc``; set
        ``EMBER_MALLOC_TUNING=0`` to keep the defaults)."""
        tune_malloc()
        loader = _as_loader(x, y, batch_size, shuffle)
        metric_objs = [_resolve_metric(m) for m in (self.metrics if metrics is None else metrics)]
        history = History()
        callbacks = [history, *callbacks]
        if verbose:
            steps = len(loader) if hasattr(loader, "__len__") else None
            callbacks.append(ProgressBar(epochs, steps))
        for cb in callbacks:
            cb.set_model(self)
        start = self.epoch if initial_epoch is None else initial_epoch
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()
        for epoch in range(start, epochs):
            self.net.train()
            for metric in metric_objs:
                metric.reset()
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            total, count = 0.0, 0
            for step, batch in enumerate(loader):
                for cb in callbacks:
                    cb.on_batch_begin(step)
                inputs, target = self._placed(batch)
                loss, pred = self.train_step(inputs, target)
                value = loss.item()
                n = len(target) if target is not None and hasattr(target, "__len__") else 1
                total += value * n
                count += n
                for metric in metric_objs:
                    metric.update(pred.detach(), target)
                logs = {"loss": total / max(count, 1)}
                for cb in callbacks:
                    cb.on_batch_end(step, logs)
            logs = {"loss": total / max(count, 1)}
            for metric in metric_objs:
                logs[metric.name] = float(metric.result())
            if validation_data is not None:
                val = self.evaluate(*_validation_args(validation_data), batch_size=batch_size, metrics=metric_objs)
                logs.update({f"val_{k}": v for k, v in val.items()})
            self.epoch = epoch + 1
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        return history

    def evaluate(self, x, y=None, batch_size: int = 256, metrics: Iterable | None = None) -> dict:
        """Mean loss and metrics over a dataset, in evaluation mode and without gradients."""
        loader = _as_loader(x, y, batch_size, False)
        metric_objs = [_resolve_metric(m) for m in (self.metrics if metrics is None else metrics)]
        for metric in metric_objs:
            metric.reset()
        was_training = self.net.training
        self.net.eval()
        total, count = 0.0, 0
        try:
            with autograd.no_grad():
                for batch in loader:
                    inputs, target = self._placed(batch)
                    pred = self.forward(*inputs)
                    n = len(target)
                    total += self.loss(pred, target).item() * n
                    count += n
                    for metric in metric_objs:
                        metric.update(pred, target)
        finally:
            self.net.train(was_training)
        results = {"loss": total / max(count, 1)}
        for metric in metric_objs:
            results[metric.name] = float(metric.result())
        return results

    def predict(self, x, batch_size: int = 256) -> np.ndarray:
        """The network's outputs for every sample, as one NumPy array."""
        loader = _as_loader(x, None, batch_size, False)
        was_training = self.net.training
        self.net.eval()
        outputs = []
        try:
            with autograd.no_grad():
                for batch in loader:
                    inputs, _ = self._placed(batch)
                    outputs.append(self.forward(*inputs).numpy())
        finally:
            self.net.train(was_training)
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    # --- checkpoints ---
    def state_dict(self) -> dict:
        """Everything needed to resume exactly: weights, optimizer state, epoch and the RNG state."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "rng": _random.get_rng_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        _random.set_rng_state(state["rng"])

    def save(self, path: str) -> None:
        """Write a checkpoint atomically (see ``ember.save``)."""
        from ember.checkpoint import save

        save(self.state_dict(), path)

    def load(self, path: str) -> None:
        """Restore a checkpoint written by ``save``; ``fit`` then continues from its epoch."""
        from ember.checkpoint import load

        self.load_state_dict(load(path))


def _validation_args(validation_data) -> tuple:
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) != 2:
            raise ValueError("fit: validation_data must be (x, y) or a Dataset/DataLoader")
        return tuple(validation_data)
    return (validation_data,)

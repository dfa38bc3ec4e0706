"""tinynn's high-level API: ``Net([layers])`` and ``Model(net, loss, optimizer)`` with ``forward``,
``backward(pred, target) -> (loss, grads)`` and ``apply_grad(grads)``, and on top of them the loop people
expect: ``fit``, ``evaluate``, ``predict``, callbacks, metrics and resumable checkpoints."""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import math
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ember import autograd
from ember import random as _random
from ember.backend.memory import tune_malloc
from ember.callbacks import Callback, History, LearningRateScheduler, ModelCheckpoint, ProgressBar
from ember.jit import jit
from ember.metrics import Accuracy
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


def _unreduced(loss: Callable) -> Callable:
    """``loss`` giving each element's value (``reduction="none"``), which sample weights weigh."""
    from ember import nn

    if isinstance(loss, nn.Module) and isinstance(getattr(loss, "reduction", None), str):
        unreduced = copy.copy(loss)
        unreduced.reduction = "none"
        return unreduced
    try:
        takes_reduction = "reduction" in inspect.signature(loss).parameters
    except (TypeError, ValueError):
        takes_reduction = False
    if not takes_reduction:
        raise ValueError(f"Model: to weigh each sample's loss (sample_weight, class_weight), the loss must take "
                         f"reduction='none' (the named losses, ember.nn losses and ember.ops loss functions do); "
                         f"got {loss!r}")
    return functools.partial(loss, reduction="none")


def _class_index_loss(loss: Callable) -> tuple | None:
    """``(weight, ignore_index)`` of a cross-entropy or NLL loss (which may read class indices), else None."""
    from ember import nn, ops

    if isinstance(loss, (nn.CrossEntropyLoss, nn.NLLLoss)):
        return loss.weight, loss.ignore_index
    keywords = {}
    if isinstance(loss, functools.partial) and not loss.args:
        loss, keywords = loss.func, loss.keywords
    if loss is ops.cross_entropy or loss is ops.nll_loss:
        return keywords.get("weight"), keywords.get("ignore_index", -100)
    return None


def _takes_logits(loss: Callable) -> bool:
    """Whether ``loss`` reads the network's outputs as logits of binary classes (not probabilities)."""
    from ember import nn, ops

    return loss is ops.binary_cross_entropy_with_logits or isinstance(loss, nn.BCEWithLogitsLoss)


def _takes_class_probabilities(loss: Callable) -> bool:
    """Whether ``loss`` is a cross-entropy, whose targets may be class probabilities (one-hot rows)."""
    from ember import nn, ops

    return loss is ops.cross_entropy or isinstance(loss, nn.CrossEntropyLoss)


class _KerasAccuracy(Accuracy):
    """Keras's ``"accuracy"`` beside a loss other than a binary cross-entropy's: predictions and targets of one shape
    with more than one column (one-hot rows under a mean squared error) compare their argmax, Keras's categorical
    accuracy, not each entry thresholded (which counts the zeros of every row right)."""

    def update(self, pred, target) -> None:
        pred_shape, target_shape = getattr(pred, "shape", None), getattr(target, "shape", None)
        if pred_shape is not None and len(pred_shape) >= 2 and pred_shape == target_shape and pred_shape[-1] > 1:
            pred = (pred.numpy() if isinstance(pred, Tensor) else np.asarray(pred)).argmax(-1)
            target = (target.numpy() if isinstance(target, Tensor) else np.asarray(target)).argmax(-1)
        super().update(pred, target)


def _resolve_metric(metric, logits: bool = False, class_logits: bool = False):
    """A metric object from a name; ``logits``: the network outputs binary logits, so the metrics that
    threshold a score do it at 0 (probability 0.5), not at 0.5; ``class_logits``: it outputs a cross-entropy's
    class logits, so AUC ranks two classes' by their log-odds."""
    from ember import metrics as m

    if not isinstance(metric, str):
        return metric
    table = {"accuracy": m.Accuracy, "acc": m.Accuracy, "auc": m.AUC, "mse": m.MSE, "mae": m.MAE,
             "precision": m.Precision, "recall": m.Recall, "f1": m.F1}
    if metric not in table:
        raise ValueError(f"Model: unknown metric {metric!r}; expected one of {sorted(table)} or a metric object")
    kind = table[metric]
    if logits and kind in (m.Accuracy, m.Precision, m.Recall, m.F1):
        return kind(threshold=0.0)
    if class_logits and kind is m.AUC:
        return m.AUC(from_logits=True)
    return _KerasAccuracy() if kind is m.Accuracy else kind()


def _check_batch_size(batch_size) -> None:
    # a DataLoader's batch_size=None gives unbatched samples, which a training step cannot take
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"fit/evaluate/predict: batch_size must be a positive int, got {batch_size!r}")


def _as_loader(x, y, batch_size: int, shuffle: bool, sample_weight=None):
    """A DataLoader of ``x`` (and ``y``); with ``sample_weight``, each batch's weights come last."""
    from ember.data import DataLoader, Dataset, IterableDataset, TensorDataset

    if sample_weight is not None and (y is None or isinstance(x, (DataLoader, Dataset))):
        raise ValueError("fit/evaluate: sample_weight weighs the samples of arrays x and y; a DataLoader or Dataset "
                         "gives its batches as they are")
    if isinstance(x, DataLoader):
        if y is not None:
            raise ValueError("fit/evaluate: pass targets inside the DataLoader, not as y")
        return x
    if isinstance(x, dict):
        raise TypeError(f"fit/evaluate/predict: x is a dict (of inputs {sorted(x, key=str)[:8]}); a network takes its "
                        "inputs by position: pass a tuple (x1, x2) in the order of forward's arguments")
    if isinstance(x, Iterator) and not isinstance(x, Dataset):
        if y is not None or sample_weight is not None:
            raise ValueError("fit/evaluate: a generator yields its batches (x, y) or (x, y, sample_weight); pass no "
                             "y or sample_weight beside it")
        return _GeneratorBatches(x)
    _check_batch_size(batch_size)
    if isinstance(x, Dataset):  # a stream is read in its own order, as Keras reads a tf.data dataset
        return DataLoader(x, batch_size=batch_size, shuffle=shuffle and not isinstance(x, IterableDataset))
    inputs = tuple(x) if _several_inputs(x) else (x,)
    if y is None:
        return DataLoader(TensorDataset(*inputs), batch_size=batch_size, shuffle=shuffle)
    for i, part in enumerate(inputs):
        if len(part) != len(y):
            what = f"x[{i}] (input {i} of {len(inputs)})" if len(inputs) > 1 else "x"
            hint = ("; pass the inputs of a network with several as a tuple (x1, x2)"
                    if isinstance(x, list) and x and all(hasattr(a, "shape") for a in x) else "")
            raise ValueError(f"fit/evaluate: {what} has {len(part)} samples but y has {len(y)}{hint}")
    weights = () if sample_weight is None else (_sample_weights(sample_weight, len(y)),)
    return DataLoader(TensorDataset(*inputs, y, *weights), batch_size=batch_size, shuffle=shuffle)


class _GeneratorBatches:
    """Keras's batches of a Python generator (or any iterator): each ``x``, ``(x,)``, ``(x, y)`` or ``(x, y,
    sample_weight)`` (a list read as a tuple; an ``x`` that is a tuple or list holds several inputs' batches), given
    on as ``(*inputs, y, sample_weight)`` of Tensors, None where absent. Every pass reads on where the last one
    stopped (a generator cannot start anew)."""

    def __init__(self, source: Iterator):
        self.source = source

    def __iter__(self):
        for batch in self.source:
            yield _unpacked_batch(batch)


def _unpacked_batch(batch) -> tuple:
    """``(*inputs, y, sample_weight)`` of a generator's batch, as Keras unpacks one."""
    from ember.data.dataset import as_array

    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        batch = (batch,)
    if not 1 <= len(batch) <= 3:
        raise ValueError(f"fit/evaluate/predict: a generator's batch must be x, (x,), (x, y) or (x, y, sample_weight); "
                         f"got a tuple of {len(batch)}")
    x, y, weight = (*batch, None, None)[:3]
    if isinstance(x, dict):
        raise TypeError("fit/evaluate/predict: a generator's x is a dict; a network takes its inputs by position: "
                        "yield a tuple (x1, x2) in the order of forward's arguments")

    def tensors(part):
        if part is None or isinstance(part, Tensor):
            return part
        if isinstance(part, (tuple, list)):  # the targets of several outputs
            return type(part)(tensors(p) for p in part)
        return as_tensor(as_array(part, "fit/evaluate/predict"))

    inputs = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if weight is not None:
        weight = _sample_weights(weight, _batch_length(inputs, y))
    return (*(tensors(part) for part in inputs), tensors(y), weight)


def _sample_weights(sample_weight, n: int) -> np.ndarray:
    """Keras's ``sample_weight`` as a float64 array of one finite weight per sample."""
    weights = sample_weight.detach().numpy() if isinstance(sample_weight, Tensor) else np.asarray(sample_weight)
    if weights.shape != (n,) or weights.dtype.kind not in "biuf":
        raise ValueError(f"fit/evaluate: sample_weight must hold one number per sample, shape [{n}], got "
                         f"{weights.dtype}{list(weights.shape)}")
    weights = weights.astype(np.float64)
    if not np.isfinite(weights).all():
        raise ValueError("fit/evaluate: sample_weight holds NaN or infinity")
    return weights


def _several_inputs(x) -> bool:
    """Whether ``x`` holds the inputs of a network with several, as Keras takes them: a tuple of arrays or Tensors
    (a list stays a list of samples)."""
    return isinstance(x, tuple) and len(x) > 0 and all(isinstance(a, (np.ndarray, Tensor)) for a in x)


def _batch_length(inputs: tuple, target) -> int:
    """How many samples a batch holds, the weight of its mean loss in the epoch's: the target's length, or the
    first input's where there is no target (a loss that reads the outputs alone); of several targets (a list of
    batches), the first's."""
    for t in (target, *inputs):
        while isinstance(t, (list, tuple)) and t and getattr(t[0], "shape", None):
            t = t[0]
        shape = getattr(t, "shape", None)
        if shape:
            return shape[0]
        if isinstance(t, (list, tuple)):
            return len(t)
    return 1


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
        # Keras's named losses other than the cross-entropies take targets one rank from the outputs ([N] for [N, 1])
        self._match_rank = isinstance(loss, str) and _LOSSES[loss] != "cross_entropy"
        # and Keras's sparse categorical cross-entropy takes class indices as [N, 1] too (squeezed to [N])
        self._squeeze_indices = isinstance(loss, str) and loss == "sparse_categorical_crossentropy"
        self._logits = _takes_logits(self.loss)  # named metrics threshold binary logits at 0
        self._class_probabilities = _takes_class_probabilities(self.loss)
        self.optimizer = optimizer
        self.metrics = list(metrics)
        self.stop_training = False
        self.skipped_validation = False  # whether fit's latest epoch had validation data and skipped it
        self.metrics_names = ["loss"]  # the latest fit's loss and metrics, by their names in the logs
        self.epoch = 0
        self.history = None  # the History of the latest fit, set after each of its epochs (as Keras)
        self._schedulers: list = []  # the LearningRateScheduler callbacks' schedulers of the latest fit
        self._scheduler_states: list | None = None  # their states from a loaded checkpoint, for the next fit
        self._loader_generator = None  # the generator of the latest fit's DataLoader, when it has its own
        self._loader_state = None  # its state from a loaded checkpoint, for the next fit's DataLoader
        self._params = self._trainable()
        self._unreduced: tuple = (None, None, None)  # the loss, with reduction="none", _class_index_loss's: weighing
        # compile=True: fit's training step is traced once for every batch size (the last, shorter batch of an
        # epoch included) and run as generated code
        self._compiled_step = jit(self._traced_step, dynamic=True) if compile else None
        # a multi-rank fit's DistributedDataParallel wrapper of ``net`` (set by ember.distributed): the training
        # step runs its pre_forward (rank 0's buffers to every rank) before each forward
        self._data_parallel = None

    def _trainable(self) -> list:
        """The network's parameters that require grad now (a layer unfrozen since, for fine-tuning, included)."""
        return [p for p in self.net.parameters() if p.requires_grad]

    # --- tinynn's three methods ---
    def forward(self, *inputs) -> Tensor:
        """The network's output for ``inputs``."""
        return self.net(*inputs)

    __call__ = forward

    def backward(self, pred: Tensor, target, sample_weight=None) -> tuple:
        """Loss of ``pred`` against ``target`` (weighted by ``sample_weight``, see ``weighted_loss``) and the gradient
        of every trainable parameter."""
        target = self._matched(target, pred)
        loss = self.loss(pred, target) if sample_weight is None else self.weighted_loss(pred, target, sample_weight)
        autograd.drop_grads(self._params)
        loss.backward()
        return loss, [p.grad for p in self._params]

    def apply_grad(self, grads) -> None:
        """Update the parameters with ``grads`` (as returned by ``backward``) through the optimizer."""
        for p, g in zip(self._params, grads):
            p.grad = g
        self.optimizer.step()

    def train_step(self, inputs: tuple, target, sample_weight=None) -> tuple:
        """One step on a batch (its samples' losses weighted by ``sample_weight``); returns (loss, prediction)."""
        if self._compiled_step is not None:
            batch = [t if t is None or isinstance(t, Tensor) else as_tensor(t)
                     for t in (*inputs, target, sample_weight)]
            return self._compiled_step(self.net.training, *batch)
        return self._step(inputs, target, sample_weight)

    def _step(self, inputs: tuple, target, sample_weight=None) -> tuple:
        if self._data_parallel is not None:
            self._data_parallel.pre_forward()
        pred = self.forward(*inputs)
        loss, grads = self.backward(pred, target, sample_weight)
        self.apply_grad(grads)
        return loss, pred

    def _traced_step(self, training: bool, *batch) -> tuple:
        """The step ember.jit traces (``training`` is part of the signature: a mode change retraces)."""
        return self._step(batch[:-2], batch[-2], batch[-1])

    def weighted_loss(self, pred: Tensor, target, sample_weight) -> Tensor:
        """Keras's loss of a batch with ``sample_weight`` (one weight per sample): the mean over the batch's samples
        of each sample's loss (the mean of its elements) times its weight; a cross-entropy (NLL) of class indices
        counts the targets its own mean counts (not ``ignore_index``, by their class's ``weight``), so that weights of
        1 give the unweighted loss, as Keras's masked entries. The loss must give each element's
        (``reduction="none"``), as the named losses, the ``ember.nn`` losses and ``ember.ops`` loss functions do."""
        if self._unreduced[0] is not self.loss:
            self._unreduced = (self.loss, _unreduced(self.loss), _class_index_loss(self.loss))
        losses = self._unreduced[1](pred, self._matched(target, pred))
        if losses.ndim == 0:
            raise ValueError(f"Model: the loss gave one value for the batch with reduction='none', so its samples "
                             f"cannot be weighted; got {losses.dtype}{list(losses.shape)}")
        weights = as_tensor(sample_weight).to(losses.dtype).reshape((-1,) + (1,) * (losses.ndim - 1))
        return (losses * weights).sum() / self._counted(losses, target)

    def _counted(self, losses: Tensor, target):
        """What the loss's own mean divides its elements' sum by, so that weights of 1 give the unweighted loss: their
        count, or for a cross-entropy (NLL) of class indices the targets it counts, those not ``ignore_index`` (as
        Keras's masked entries), each by its class's ``weight``, as PyTorch's mean."""
        class_index = self._unreduced[2]
        if class_index is None or not isinstance(target, Tensor) or np.dtype(target.dtype).kind not in "iu" \
                or tuple(target.shape) != tuple(losses.shape):
            return math.prod(losses.shape)
        weight, ignore_index = class_index
        counted = (target != ignore_index).to(losses.dtype)
        if weight is not None:  # an ignored target's class index may lie outside the weights: read class 0's
            counted = counted * as_tensor(weight).to(losses.dtype)[(target * (target != ignore_index)).long()]
        return counted.sum()

    def _matched(self, target, pred):
        """``target`` in the shape of ``pred`` where a Keras-named loss (``"mse"``, ``"binary_crossentropy"``...,
        not a cross-entropy of classes) meets them one rank apart by a last axis of 1 ([N] targets for [N, 1]
        outputs, or the reverse), as Keras's losses match them (squeeze_or_expand_to_same_rank), and class indices
        of ``"sparse_categorical_crossentropy"`` given with a last axis of 1; else as it is."""
        if not isinstance(target, Tensor) or not isinstance(pred, Tensor):
            return target
        if self._squeeze_indices:
            if target.ndim == pred.ndim >= 2 and target.shape[-1] == 1 and target.dtype.kind in "iu":
                return target.reshape(tuple(target.shape)[:-1])
            return target
        if not self._match_rank:
            return target
        pred_shape, target_shape = tuple(pred.shape), tuple(target.shape)
        if pred_shape == (*target_shape, 1) or target_shape == (*pred_shape, 1):
            return target.reshape(pred_shape)
        return target

    def _metric_objects(self, metrics: Iterable | None) -> list:
        """The metric objects of ``metrics`` (names resolved), or of the Model's; two of one name would share one
        entry of the logs (the last's value alone), so they are refused."""
        objs = [_resolve_metric(m, self._logits, self._class_probabilities)
                for m in (self.metrics if metrics is None else metrics)]
        seen = {"loss"}
        for metric in objs:
            if metric.name in seen:
                raise ValueError(f"Model: two metrics (or a metric and the loss) are named {metric.name!r}, so the "
                                 "logs would keep one value; give them distinct names (name=...)")
            seen.add(metric.name)
        return objs

    def _metric_inputs(self, pred: Tensor, target) -> tuple:
        """What the metrics compare: a cross-entropy's class-probability targets (one-hot rows, the class axis 1,
        as the predictions') as class indices, and its (N, C, d1, ...) predictions with the class axis last, where
        the metrics read it (argmax(-1) would pick along d1); other predictions and targets as they are."""
        if isinstance(pred, (tuple, list)):  # named metrics would stack the outputs into one array, or crash
            raise ValueError(f"Model: metrics score a network's one output; this one gives {len(pred)} (a "
                             f"{type(pred).__name__}), so fit/evaluate take no metrics for it")
        pred = pred.detach()
        target = self._matched(target, pred)  # (class indices as [N, 1] read as one-hot rows picked class 0)
        if not self._class_probabilities or pred.ndim < 2:
            return pred, target
        if target is not None and np.ndim(target) == pred.ndim:
            target = np.argmax(target.numpy() if isinstance(target, Tensor) else np.asarray(target), axis=1)
        if pred.ndim > 2:
            pred = np.moveaxis(pred.numpy(), 1, -1)
        return pred, target

    def _placed(self, batch, split: bool = True) -> tuple:
        """``(inputs, target)`` of a loader batch, on the device of the network's parameters; ``split=False``:
        the batch holds inputs alone (the arrays of several inputs without targets)."""
        inputs, target = _split_batch(batch) if split else (tuple(batch), None)
        params = self._params or list(self.net.parameters())
        if not params or params[0].array.__class__ is np.ndarray:
            return inputs, target  # a CPU network: the loader's tensors are already where they belong
        device = params[0].device

        def move(t):
            return t if t is None else as_tensor(t).to(device)

        return tuple(move(t) for t in inputs), move(target)

    def _placed_weight(self, weight):
        """A batch's sample weights on the device of the network's parameters (None stays None)."""
        return None if weight is None else self._placed((weight,), split=False)[0][0]

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
        shuffle: bool | str = True,
        verbose: int = 1,
        initial_epoch: int | None = None,
        validation_split: float = 0.0,
        terminate_on_nan: bool = True,
        validation_freq: int | Iterable[int] = 1,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        sample_weight=None,
        class_weight: dict | None = None,
    ) -> History:
        """Train on arrays, a Dataset, a DataLoader or a generator of Keras's batches (``(x, y)`` or ``(x, y,
        sample_weight)``, ``x`` a tuple for several inputs; with ``steps_per_epoch`` it may be endless); returns
        the History.

        The first call tunes the process's malloc for training loops (``ember.tune_malloc``; set
        ``EMBER_MALLOC_TUNING=0`` to keep the defaults).

        Without ``initial_epoch``, fit trains ``epochs`` more epochs from ``model.epoch`` (so calling it
        again, or after ``load``, continues); with it, Keras's rule: epochs ``initial_epoch`` to
        ``epochs - 1``. ``validation_split`` holds out the last fraction of array inputs (before
        shuffling) as validation data (and of ``sample_weight``, with it); ``validation_data`` may be
        ``(x, y, sample_weight)``. ``sample_weight``, one weight per sample of arrays x and y, weighs the loss
        as Keras's (see ``weighted_loss``; the metrics stay unweighted, as Keras's ``metrics``); ``class_weight``
        (``{class: weight}``) weighs each training sample by its target's class (a one-hot row's, a binary
        target's rounded), as Keras.
        ``validation_freq`` validates every that many epochs (2: the 2nd, 4th...), or at the epochs (from 1) of
        a list, as Keras (the callbacks that monitor a ``val_`` value skip the other epochs).
        ``steps_per_epoch``: each epoch trains that many batches, going on where the last epoch stopped (a pass
        over the data that ends within an epoch ends it there, with a warning, and the next epoch starts a new
        one), as Keras; ``validation_steps``: each validation reads that many batches, from the start of the
        validation data. A non-finite batch loss stops training at once with a RuntimeWarning (unless
        ``terminate_on_nan=False``); that epoch's end is not reported to the callbacks, so no checkpoint or
        early-stopping decision sees it (Keras's ``TerminateOnNaN`` callback stops at that batch too, and
        reports the epoch).
        """
        if validation_split:
            x, y, sample_weight, validation_data = _split_off_validation(x, y, validation_split, validation_data,
                                                                         sample_weight)
        start, end = _epoch_range(self.epoch, epochs, initial_epoch)
        _check_validation_freq(validation_freq)
        _check_class_weight(class_weight, sample_weight)
        _check_steps("fit", "steps_per_epoch", steps_per_epoch)
        _check_steps("fit", "validation_steps", validation_steps)
        if not (isinstance(shuffle, (bool, np.bool_)) or isinstance(shuffle, str) and shuffle == "batch"):
            raise ValueError(f"fit: shuffle must be True, False or 'batch' (Keras's), got {shuffle!r}")
        shuffle = bool(shuffle)  # 'batch', Keras's shuffle of batch-sized chunks for HDF5 data: a full shuffle here
        tune_malloc()
        leading, shared_loss, merge_metrics = [], None, None
        dist = sys.modules.get("ember.distributed")  # data parallel only in a job that imported it
        if dist is not None and dist.is_initialized() and dist.get_world_size() > 1:
            if sample_weight is not None:
                raise ValueError("fit: sample_weight is not taken in a multi-rank job (each rank reads its share of "
                                 "x and y alone)")
            _check_batch_size(batch_size)
            loader, leading, callbacks, verbose, shared_loss, merge_metrics = dist.fit.prepare(
                self, x, y, batch_size, shuffle, list(callbacks), verbose)
        else:
            loader = _as_loader(x, y, batch_size, shuffle, sample_weight)
        generated = isinstance(loader, _GeneratorBatches)
        weighted = sample_weight is not None or generated  # each batch ends with its weights
        if sample_weight is not None or class_weight is not None:
            _unreduced(self.loss)  # a loss that cannot weigh its samples is refused before training
        if steps_per_epoch is not None:
            loader = _EpochSteps(loader, steps_per_epoch)
        split = y is not None or not _several_inputs(x)  # the batches of several inputs' arrays alone: no target
        metric_objs = self._metric_objects(metrics)
        # Keras's: the names of an epoch's loss and metrics (its val_ names with validation), which a CSVLogger
        # reads for its columns when validation_freq skips the first epoch's validation
        self.metrics_names = ["loss", *(metric.name for metric in metric_objs)]
        history = History()
        callbacks = [*leading, *callbacks, history]  # after the user's, as in Keras: it records what they add to logs
        _check_checkpoint_order(callbacks)
        # a Keras schedule function keeps no state (the lr it sets is the optimizer's)
        self._resume_schedulers([cb.scheduler for cb in callbacks
                                 if isinstance(cb, LearningRateScheduler) and cb.schedule_arity is None])
        self._resume_loader(_loader_generator(x))
        if verbose:
            steps = len(loader) if hasattr(loader, "__len__") else None
            callbacks.append(ProgressBar(end, steps, bar=verbose == 1))  # 2: one line per epoch, as Keras
        for cb in callbacks:
            cb.set_model(self)
        self.stop_training = False
        # hooks get their logs positionally, as Keras passes them (LambdaCallback(on_epoch_begin=lambda epoch, logs:
        # ...) takes two arguments); on_train_end gets the last epoch's logs
        epoch_logs: dict = {}
        for cb in callbacks:
            cb.on_train_begin({})
        for epoch in range(start, end):
            self.net.train()
            for metric in metric_objs:
                metric.reset()
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            # once an epoch, after the callbacks that may freeze or unfreeze layers: backward clears the .grad of
            # these only, so a parameter unfrozen since would add every step's gradient to the last ones
            self._params = self._trainable()
            total, count, diverged = 0.0, 0, False
            for step, batch in enumerate(loader):
                for cb in callbacks:
                    cb.on_train_batch_begin(step, {})
                batch, weight = (batch[:-1], batch[-1]) if weighted else (batch, None)
                if class_weight is not None:
                    if weight is not None:  # a generator's batch (x, y, sample_weight)
                        raise ValueError("fit: give sample_weight or class_weight, not both (as Keras); the "
                                         "generator's batches hold sample weights")
                    weight = _class_sample_weights(_split_batch(batch)[1] if split else None, class_weight)
                inputs, target = self._placed(batch, split)
                loss, pred = self.train_step(inputs, target, self._placed_weight(weight))
                value = loss.item()
                if terminate_on_nan and not math.isfinite(value if shared_loss is None else shared_loss(value)):
                    diverged = self.stop_training = True
                    warnings.warn(f"fit: the loss is {value} at epoch {epoch + 1}, batch {step + 1}; training "
                                  "stopped (the weights now hold that step's update; lower the learning rate, clip "
                                  "gradients or check the data; terminate_on_nan=False trains on)",
                                  RuntimeWarning, stacklevel=2)
                    break
                n = _batch_length(inputs, target)
                total += value * n
                count += n
                if metric_objs:
                    scores, labels = self._metric_inputs(pred, target)
                    for metric in metric_objs:
                        metric.update(scores, labels)
                logs = {"loss": total / max(count, 1)}
                for cb in callbacks:
                    cb.on_train_batch_end(step, logs)
                # a callback's stop (TerminateOnNaN's) ends the epoch at this step, as in Keras 3; a multi-rank job
                # ends it with the epoch, so that every rank stops at one step
                if self.stop_training and shared_loss is None:
                    break
            if not diverged:
                if not count:  # Keras refuses it too: a loss of 0.0 would read as a perfect epoch
                    hint = (" (a generator cannot start anew: give one that repeats, and steps_per_epoch)"
                            if generated and epoch > start else "")
                    raise ValueError(f"fit: epoch {epoch + 1} read no samples from the training data{hint}")
                if merge_metrics is not None:  # a multi-rank job: the metrics of every rank's batches together
                    merge_metrics(metric_objs)
                validate = validation_data is not None and _validates(epoch, validation_freq)
                # an epoch validation_freq skips: the callbacks that monitor a validation value skip it (as Keras's)
                self.skipped_validation = validation_data is not None and not validate
                epoch_logs = self._end_epoch(epoch, total / max(count, 1), metric_objs,
                                             validation_data if validate else None, batch_size, callbacks,
                                             validation_steps)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end(epoch_logs)
        return history

    def _resume_schedulers(self, schedulers: list) -> None:
        """Give this fit's schedulers the states a loaded checkpoint saved (in order), once."""
        saved, self._scheduler_states = self._scheduler_states, None
        self._schedulers = schedulers
        if saved is None:
            return
        if len(saved) != len(schedulers):
            warnings.warn(f"fit: the loaded checkpoint holds the state of {len(saved)} learning-rate scheduler(s) "
                          f"and this fit has {len(schedulers)} LearningRateScheduler callback(s); their schedules "
                          "start afresh", RuntimeWarning, stacklevel=3)
            return
        for scheduler, state in zip(schedulers, saved):
            scheduler.load_state_dict(state)

    def _resume_loader(self, generator) -> None:
        """Give this fit's DataLoader's own generator the state a loaded checkpoint saved, once (its shuffles then
        go on as the saved run's would have)."""
        saved, self._loader_state = self._loader_state, None
        self._loader_generator = generator
        if saved is None:
            return
        if generator is None:
            warnings.warn("fit: the loaded checkpoint holds the state of a DataLoader's own generator and this fit's "
                          "data has none; its shuffles start afresh", RuntimeWarning, stacklevel=3)
            return
        generator.set_state(saved)

    def _end_epoch(self, epoch: int, loss: float, metric_objs: list, validation_data, batch_size: int,
                   callbacks: list, validation_steps: int | None) -> dict:
        logs = {"loss": loss}
        for metric in metric_objs:
            logs[metric.name] = float(metric.result())
        if validation_data is not None:
            val_x, val_y, val_weight = _validation_args(validation_data)
            val = self.evaluate(val_x, val_y, batch_size=batch_size, metrics=metric_objs, steps=validation_steps,
                                sample_weight=val_weight)
            logs.update({f"val_{k}": v for k, v in val.items()})
        self.epoch = epoch + 1
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        return logs

    def evaluate(self, x, y=None, batch_size: int = 256, metrics: Iterable | None = None,
                 steps: int | None = None, sample_weight=None) -> dict:
        """Mean loss and metrics over a dataset, in evaluation mode and without gradients; ``steps``: over its
        first that many batches, as Keras; ``sample_weight``: the loss weighted as ``fit``'s."""
        _check_steps("evaluate", "steps", steps)
        loader = _as_loader(x, y, batch_size, False, sample_weight)
        weighted = sample_weight is not None or isinstance(loader, _GeneratorBatches)  # each batch ends with weights
        split = y is not None or not _several_inputs(x)
        metric_objs = self._metric_objects(metrics)
        for metric in metric_objs:
            metric.reset()
        was_training = self.net.training
        self.net.eval()
        total, count = 0.0, 0
        try:
            with autograd.no_grad():
                for batch in loader if steps is None else itertools.islice(loader, steps):
                    batch, weight = (batch[:-1], batch[-1]) if weighted else (batch, None)
                    inputs, target = self._placed(batch, split)
                    pred = self.forward(*inputs)
                    n = _batch_length(inputs, target)
                    loss = self.loss(pred, self._matched(target, pred)) if weight is None else self.weighted_loss(
                        pred, target, self._placed_weight(weight))
                    total += loss.item() * n
                    count += n
                    if metric_objs:
                        scores, labels = self._metric_inputs(pred, target)
                        for metric in metric_objs:
                            metric.update(scores, labels)
        finally:
            self.net.train(was_training)
        if not count:  # a loss of 0.0 would read as a perfect model (and a best val_loss for the callbacks)
            raise ValueError("evaluate: the data holds no samples")
        results = {"loss": total / count}
        for metric in metric_objs:
            results[metric.name] = float(metric.result())
        return results

    def predict(self, x, batch_size: int = 256, steps: int | None = None) -> np.ndarray | tuple | list:
        """The network's outputs for every sample, as one NumPy array; a network with several outputs (a tuple
        or list of them) gives a tuple or list of such arrays, as Keras gives a list. ``steps``: of the first that
        many batches, as Keras (an endless generator needs it)."""
        _check_steps("predict", "steps", steps)
        loader = _as_loader(x, None, batch_size, False)
        generated = isinstance(loader, _GeneratorBatches)
        was_training = self.net.training
        self.net.eval()
        outputs, kind = [], None
        try:
            with autograd.no_grad():
                for batch in loader if steps is None else itertools.islice(loader, steps):
                    if generated:  # (*inputs, y, sample_weight): the inputs alone
                        inputs, _ = self._placed(batch[:-2], split=False)
                    else:
                        inputs, _ = self._placed(batch, not _several_inputs(x))
                    output = self.forward(*inputs)
                    if isinstance(output, (tuple, list)):
                        kind = tuple if isinstance(output, tuple) else list
                        outputs.append([t.numpy() for t in output])
                    else:
                        outputs.append(output.numpy())
                if not outputs:  # no samples: the outputs' shapes come from a forward of the empty batch
                    output = self._forward_empty(x)
                    if isinstance(output, (tuple, list)):
                        kind = tuple if isinstance(output, tuple) else list
                        outputs.append([t.numpy() for t in output])
                    else:
                        outputs.append(output.numpy())
        finally:
            self.net.train(was_training)
        if kind is not None:
            return kind(np.concatenate(parts) for parts in zip(*outputs))
        return np.concatenate(outputs)

    def _forward_empty(self, x):
        """The network's output for the zero-row arrays ``x`` (one array or a tuple of them), or a ValueError
        naming predict where ``x`` gives no input shape or the network refuses an empty batch (as Keras raises)."""
        from ember.data import default_convert

        if isinstance(x, (np.ndarray, Tensor)):
            arrays = (x,)
        elif _several_inputs(x):
            arrays = x
        else:
            raise ValueError(f"predict: the data ({type(x).__name__}) holds no samples, and gives no input shape for "
                             "empty outputs")
        inputs, _ = self._placed(tuple(a if isinstance(a, Tensor) else default_convert(a) for a in arrays),
                                 split=False)
        try:
            return self.forward(*inputs)
        except Exception as exc:
            shapes = [tuple(t.shape) for t in inputs]
            raise ValueError(f"predict: the input holds no samples (shapes {shapes}), and the network's forward "
                             f"refuses an empty batch: {exc}") from exc

    def summary(self, input_shape: tuple | None = None, print_fn: Callable = print, dtype=None) -> None:
        """Print the network's layers, output shapes (given ``input_shape``, one sample's shape, zeros of ``dtype``:
        by default the parameters') and parameter counts in 80 columns, as Keras's ``model.summary()``.

        >>> model.summary(input_shape=(1, 8, 8))
        """
        from ember.summary import summary

        print_fn(summary(self.net, input_shape, dtype))

    # --- checkpoints ---
    def state_dict(self) -> dict:
        """Everything needed to resume exactly: weights, optimizer state and kind, epoch, the RNG state, the
        states of the schedulers the latest fit's LearningRateScheduler callbacks step (``schedulers``) and of the
        latest fit's DataLoader's own generator (``loader_generator``, when it was given one); after ``load``, until
        a fit takes them, the loaded ones."""
        state = {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_class": type(self.optimizer).__name__,
            "epoch": self.epoch,
            "rng": _random.get_rng_state(),
        }
        if self._scheduler_states is not None:  # loaded and not yet handed to a fit: saved on as they were loaded
            state["schedulers"] = self._scheduler_states
        elif self._schedulers:
            state["schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        if self._loader_state is not None:
            state["loader_generator"] = self._loader_state
        elif self._loader_generator is not None:
            state["loader_generator"] = self._loader_generator.get_state()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore ``state_dict()``'s output, all or nothing: a state that does not fit (another optimizer,
        a wrong shape, no RNG state...) is a ValueError raised before anything is overwritten."""
        from ember.resume import check_model_state

        check_model_state(self, state)
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])
        _random.set_rng_state(state["rng"])
        self._scheduler_states = state.get("schedulers")  # the next fit's LearningRateScheduler callbacks take them
        self._loader_state = state.get("loader_generator")  # and its DataLoader's own generator this

    def save(self, path: str) -> None:
        """Write a checkpoint atomically (see ``ember.save``)."""
        from ember.checkpoint import save

        save(self.state_dict(), path)

    def load(self, path: str) -> None:
        """Restore a checkpoint written by ``save``; ``fit`` then continues from its epoch, its
        LearningRateScheduler callbacks from the saved schedulers' states (in order). A file that is not
        an intact checkpoint of this model is a ValueError naming the file, and the model is left unchanged."""
        from ember.checkpoint import load

        state = load(path)
        try:
            self.load_state_dict(state)
        except ValueError as exc:
            raise ValueError(f"load: {path}: {exc}") from None


def _loader_generator(x):
    """The own generator of a DataLoader ``x`` (``generator=``: an int seed's, a NumPy generator or an
    ``ember.Generator``) as an object whose ``get_state``/``set_state`` save and restore it; else None."""
    from ember.data import DataLoader

    source = x._generator if isinstance(x, DataLoader) else None
    if isinstance(source, np.random.Generator):  # the form of a checkpoint holds PCG64's state (default_rng's)
        return _NumpyGeneratorState(source) if isinstance(source.bit_generator, np.random.PCG64) else None
    return source


class _NumpyGeneratorState:
    """A NumPy generator's state in the form of ``ember.Generator.get_state`` (which a checkpoint holds), and back."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def get_state(self) -> Tensor:
        from ember.generator import Generator

        holder = Generator()
        holder.numpy_generator.bit_generator.state = self.rng.bit_generator.state
        return holder.get_state()

    def set_state(self, state) -> None:
        from ember.generator import Generator

        self.rng.bit_generator.state = Generator().set_state(state).numpy_generator.bit_generator.state


def _check_checkpoint_order(callbacks: list) -> None:
    """A RuntimeWarning when a ModelCheckpoint runs before a LearningRateScheduler at an epoch's end: its file
    would hold the lr the epoch used with the scheduler's state before its step, and a resumed fit would repeat
    that epoch's lr."""
    kinds = [type(cb) for cb in callbacks if isinstance(cb, ModelCheckpoint)
             or isinstance(cb, LearningRateScheduler) and cb.schedule_arity is None]  # a schedule function: no state
    if ModelCheckpoint in kinds and LearningRateScheduler in kinds[kinds.index(ModelCheckpoint):]:
        warnings.warn("fit: a ModelCheckpoint comes before a LearningRateScheduler in callbacks, so it saves each "
                      "epoch before the scheduler's step and a fit resumed from it repeats that epoch's lr; list the "
                      "ModelCheckpoint after it", RuntimeWarning, stacklevel=3)


def _epoch_range(current: int, epochs: int, initial_epoch: int | None) -> tuple[int, int]:
    """The epochs fit runs: ``epochs`` more from ``current``, or Keras's ``initial_epoch .. epochs - 1``."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if initial_epoch is None:
        return current, current + epochs
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, int) or initial_epoch < 0:
        raise ValueError(f"fit: initial_epoch must be a non-negative int, got {initial_epoch!r}")
    if epochs <= initial_epoch:
        raise ValueError(f"fit: with initial_epoch={initial_epoch}, epochs={epochs} trains no epoch (epochs is the "
                         f"index to stop at, as in Keras); pass epochs > {initial_epoch}, or leave initial_epoch out "
                         f"to train {epochs} more epochs")
    return initial_epoch, epochs


def _split_off_validation(x, y, fraction: float, validation_data, sample_weight=None) -> tuple:
    """Keras's validation_split: the last ``fraction`` of the samples (before shuffling) validate; returns the
    training x, y and sample_weight, and the validation data."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fit: validation_split must be in (0, 1), got {fraction!r}")
    if validation_data is not None:
        raise ValueError("fit: give validation_data or validation_split, not both")
    if y is None or not hasattr(x, "__len__") or not hasattr(x, "__getitem__") or hasattr(x, "batch_sampler"):
        raise ValueError("fit: validation_split needs arrays x and y; split a Dataset with random_split instead")
    inputs = x if _several_inputs(x) else (x,)
    for part in inputs:
        if len(part) != len(y):
            raise ValueError(f"fit: x has {len(part)} samples but y has {len(y)}")
    n = len(y)
    cut = math.floor(n * (1.0 - fraction))  # Keras's: the training part rounds down (10 samples, 0.25: 7 and 3)
    if cut == 0 or cut == n:
        raise ValueError(f"fit: validation_split={fraction} of {n} samples leaves {n - cut} for validation "
                         f"and {cut} for training; both need at least one")
    weights = (None, None) if sample_weight is None else (sample_weight[:cut], sample_weight[cut:])
    if inputs is x:
        x_train, x_val = tuple(part[:cut] for part in x), tuple(part[cut:] for part in x)
    else:
        x_train, x_val = x[:cut], x[cut:]
    return x_train, y[:cut], weights[0], (x_val, y[cut:]) + (() if sample_weight is None else (weights[1],))


def _check_steps(who: str, name: str, steps) -> None:
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"{who}: {name} must be a positive int or None, got {steps!r}")


class _EpochSteps:
    """Keras's ``steps_per_epoch``: each pass over it reads ``steps`` batches of ``loader``, going on where the last
    one stopped; when the data runs out within a pass, the pass ends there (with a RuntimeWarning) and the next one
    starts the data anew."""

    def __init__(self, loader, steps: int):
        self.loader, self.steps, self.iterator = loader, steps, None

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        resumed = self.iterator is not None
        if not resumed:
            self.iterator = iter(self.loader)
        for step in range(self.steps):
            batch = next(self.iterator, _END)
            if batch is _END and step == 0 and resumed:  # the last pass ended with the data: this one starts it anew
                self.iterator = iter(self.loader)
                batch = next(self.iterator, _END)
            if batch is _END:
                self.iterator = None
                if step:
                    warnings.warn(f"fit: the training data ran out after {step} of steps_per_epoch={self.steps} "
                                  "batches; the epoch ends there and the next one starts the data anew (give "
                                  "steps_per_epoch * epochs batches, or a stream that repeats)", RuntimeWarning,
                                  stacklevel=3)
                return
            yield batch


_END = object()  # what next() gives at the end of the data


def _check_class_weight(class_weight, sample_weight) -> None:
    if class_weight is None:
        return
    if sample_weight is not None:
        raise ValueError("fit: give sample_weight or class_weight, not both (as Keras)")
    if not isinstance(class_weight, dict) or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) and isinstance(v, (int, float, np.number))
            and not isinstance(v, bool) and math.isfinite(v) for k, v in class_weight.items()):
        raise ValueError(f"fit: class_weight must be a dict of class indices to finite weights, got "
                         f"{class_weight!r:.80}")


def _class_sample_weights(target, class_weight: dict) -> np.ndarray:
    """Keras's ``class_weight`` as one weight per sample of a batch: its class's (the class index of the target, the
    argmax of a one-hot or class-probability row, a binary target of one column rounded)."""
    if target is None:
        raise ValueError("fit: class_weight weighs each sample by its target's class; the data has no targets")
    labels = target.detach().numpy() if isinstance(target, Tensor) else np.asarray(target)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    elif labels.ndim == 2 and labels.min(initial=0) >= 0 and np.allclose(labels.sum(1, dtype=np.float64), 1.0):
        labels = labels.argmax(1)
    if labels.ndim != 1 or labels.dtype.kind not in "biuf":
        raise ValueError(f"fit: class_weight needs one class per sample: class indices [N], binary targets [N, 1] or "
                         f"one-hot rows [N, C]; got targets {labels.dtype}{list(labels.shape)}")
    labels = np.round(labels).astype(np.int64)
    classes = np.array(sorted(class_weight), np.int64)
    at = np.clip(np.searchsorted(classes, labels), 0, len(classes) - 1)
    unknown = labels[classes[at] != labels] if len(classes) else labels
    if unknown.size:
        raise ValueError(f"fit: class_weight has no weight for the class(es) {np.unique(unknown)[:8].tolist()} of the "
                         f"targets (it weighs {classes.tolist()[:8]})")
    return np.array([class_weight[c] for c in classes], np.float64)[at]


def _check_validation_freq(freq) -> None:
    if isinstance(freq, bool) or not (isinstance(freq, int) and freq >= 1 or isinstance(freq, (list, tuple, set))
                                      and all(isinstance(e, int) and not isinstance(e, bool) for e in freq)):
        raise ValueError(f"fit: validation_freq must be a positive int (validate every that many epochs) or a list of "
                         f"epochs (from 1), got {freq!r}")


def _validates(epoch: int, freq: int | Iterable[int]) -> bool:
    """Whether fit validates after ``epoch`` (from 0): Keras's rule, on the epoch counted from 1."""
    return (epoch + 1) % freq == 0 if isinstance(freq, int) else epoch + 1 in freq


def _validation_args(validation_data) -> tuple:
    """(x, y, sample_weight) of ``validation_data``, None where it has none."""
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be (x, y), (x, y, sample_weight) or a Dataset/DataLoader")
        return (*validation_data, None)[:3]
    return validation_data, None, None

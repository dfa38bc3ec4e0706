"""Stochastic weight averaging (``torch.optim.swa_utils``): ``AveragedModel`` (an equal-weight or exponential moving
average of a model's parameters), the ``SWALR`` schedule and ``update_bn`` (batch-norm statistics recomputed for
averaged weights).

>>> swa_model = ember.optim.swa_utils.AveragedModel(model)
>>> swa_sched = ember.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=5)
>>> for epoch in range(epochs):
...     train_one_epoch(); swa_model.update_parameters(model); swa_sched.step()
>>> ember.optim.swa_utils.update_bn(loader, swa_model)
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable

from ember.autograd import no_grad
from ember.backend.devices import array_module
from ember.creation import tensor
from ember.nn.layers.normalization import _BatchNorm
from ember.nn.module import Module
from ember.optim.functional import _lerp_, _lerp_narrow
from ember.optim.lr_scheduler import LRScheduler, _check_groups, _warn_outside_step
from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor

__all__ = ["SWALR", "AveragedModel", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
           "get_swa_multi_avg_fn", "update_bn"]


def _lerp_all(averaged: list, current: list, weight: float) -> None:
    """``torch._foreach_lerp_``: each averaged tensor moved ``weight`` of the way to its current value, in place
    (float16 and bfloat16 ones in float32, rounded once, as torch's)."""
    for avg, cur in zip(averaged, current):
        if avg.array.dtype.itemsize < 4:
            _lerp_narrow(avg.array, cur.array, weight)
            continue
        xp = array_module(avg.array)
        _lerp_(xp, avg.array, cur.array, weight, xp.empty_like(avg.array))


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """An exponential moving average over lists of tensors: ``ema = decay * ema + (1 - decay) * current``
    (a lerp for floating tensors), for ``AveragedModel(multi_avg_fn=...)``.

    >>> ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
    """

    def ema_update(ema_params: list, current_params: list, num_averaged) -> None:
        with no_grad():
            if ema_params and ema_params[0].dtype.kind in "fcV":
                _lerp_all(ema_params, current_params, 1 - decay)
            else:
                for ema, current in zip(ema_params, current_params):
                    ema.copy_(ema * decay + current * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """The equal-weight running average over lists of tensors, ``avg += (current - avg) / (n + 1)``, for
    ``AveragedModel(multi_avg_fn=...)``."""

    def swa_update(averaged_params: list, current_params: list, num_averaged) -> None:
        with no_grad():
            count = int(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)
            if averaged_params and averaged_params[0].dtype.kind in "fcV":
                _lerp_all(averaged_params, current_params, 1 / (count + 1))
            else:
                for avg, current in zip(averaged_params, current_params):
                    avg.copy_(avg + (current - avg) / (count + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """The exponential moving average of one tensor, ``decay * ema + (1 - decay) * current``, for
    ``AveragedModel(avg_fn=...)``."""

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable:
    """The equal-weight running average of one tensor, ``avg + (current - avg) / (n + 1)``, for
    ``AveragedModel(avg_fn=...)``."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and buffers, with ``use_buffers``) hold an average of ``model``'s
    values at each ``update_parameters(model)`` call: the equal-weight average by default, else what ``avg_fn``
    (one tensor at a time) or ``multi_avg_fn`` (lists of tensors, in place) computes. Without ``use_buffers`` the
    buffers are copied from ``model`` as they are. ``n_averaged`` counts the updates; calling the averaged model
    calls its copy.

    >>> ema_model = ember.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    >>> ema_model.update_parameters(model)
    """

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: model must be a Module, got {type(model).__name__}")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype="int64", device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged(self, model: Module) -> tuple[list, list]:
        if self.use_buffers:
            mine = [*self.module.parameters(), *self.module.buffers()]
            theirs = [*model.parameters(), *model.buffers()]
        else:
            mine, theirs = list(self.module.parameters()), list(model.parameters())
        if len(mine) != len(theirs) or any(a.shape != b.shape for a, b in zip(mine, theirs)):
            raise ValueError(f"AveragedModel.update_parameters: the model's {len(theirs)} tensors do not match the "
                             f"averaged copy's {len(mine)} in number and shapes")
        return mine, theirs

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current values into the average (the first call copies them)."""
        mine, theirs = self._averaged(model)
        mine = [p.detach() for p in mine]
        theirs = [p.detach().to(p_avg.device) for p, p_avg in zip(theirs, mine)]
        count = int(self.n_averaged.item())
        with no_grad():
            if count == 0:
                for avg, current in zip(mine, theirs):
                    avg.copy_(current)
            elif self.avg_fn is not None:
                for avg, current in zip(mine, theirs):
                    avg.copy_(self.avg_fn(avg, current, self.n_averaged))
            else:
                groups: dict = {}  # PyTorch's grouping by device and dtype
                for avg, current in zip(mine, theirs):
                    pair = groups.setdefault((str(avg.device), str(avg.dtype)), ([], []))
                    pair[0].append(avg)
                    pair[1].append(current)
                for averaged, current in groups.values():
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(averaged, current, self.n_averaged)
                    else:
                        for avg, cur in zip(averaged, current):  # torch's per-tensor default off the GPU
                            avg.copy_(avg + (cur - avg) / (self.n_averaged + 1))
            if not self.use_buffers:  # the buffers follow the model's
                for mine_buffer, model_buffer in zip(self.module.buffers(), model.buffers()):
                    mine_buffer.copy_(model_buffer.detach().to(mine_buffer.device))
            self.n_averaged.copy_(count + 1)


def _batch_norms(model: Module) -> list:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


def update_bn(loader: Iterable, model: Module, device=None) -> None:
    """Recompute the running statistics of ``model``'s batch-norm layers over one pass of ``loader``: they are
    reset and averaged over every batch equally (momentum None for the pass), the model in training mode for it
    and then back in its mode. A batch that is a list or tuple gives its first item as the input.

    >>> ember.optim.swa_utils.update_bn(loader, swa_model)
    """
    momenta = {}
    for module in _batch_norms(model):
        module.reset_running_stats()
        momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                if device is not None:
                    batch = batch.to(device)
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each param group's lr to ``swa_lr`` (one, or one per group) over ``anneal_epochs`` steps, along a
    cosine (``anneal_strategy="cos"``) or a line (``"linear"``), then holds it there; as ``torch``'s SWALR.

    >>> sched = ember.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=10, anneal_strategy="linear")
    """

    def __init__(self, optimizer: Optimizer, swa_lr: float | list, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        if isinstance(swa_lr, (list, tuple)):
            if len(swa_lr) != len(optimizer.param_groups):
                raise ValueError(f"SWALR: swa_lr has {len(swa_lr)} values for {len(optimizer.param_groups)} param "
                                 "groups")
            swa_lrs = list(swa_lr)
        else:
            swa_lrs = [swa_lr] * len(optimizer.param_groups)
        for value in swa_lrs:
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
                raise ValueError(f"SWALR: swa_lr must be a number >= 0, got {value!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be an int >= 0, got {anneal_epochs!r}")
        for value, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = value
        self.anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _anneal(self, t: float) -> float:
        return t if self.anneal_strategy == "linear" else (1 - math.cos(math.pi * t)) / 2

    def get_lr(self) -> list[float]:
        _warn_outside_step(self)
        _check_groups(self, len(self.base_lrs))  # a group added since has no swa_lr
        # the lr the last step would have set, unrolled to where the anneal started (PyTorch's formula)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self._anneal(max(0, min(1, (step - 1) / span)))
        alpha = self._anneal(max(0, min(1, step / span)))
        lrs = []
        for group in self.optimizer.param_groups:
            swa_lr = group["swa_lr"]
            start = swa_lr if prev_alpha == 1 else (group["lr"] - prev_alpha * swa_lr) / (1 - prev_alpha)
            lrs.append(group["swa_lr"] * alpha + start * (1 - alpha))
        return lrs

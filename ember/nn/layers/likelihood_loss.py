"""Negative log-likelihood losses of a distribution's parameters: Poisson (``poisson_nll_loss``) and Gaussian
(``gaussian_nll_loss``), with their modules."""

from __future__ import annotations

import math
import numbers

from ember import ops as _ops
from ember.nn.layers.loss import _REDUCTIONS, _Loss, _reduce
from ember.ops.autocast import widened
from ember.tensor import Tensor

__all__ = ["GaussianNLLLoss", "PoissonNLLLoss", "gaussian_nll_loss", "poisson_nll_loss"]


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Tensor:
    """The Poisson negative log-likelihood of ``target`` counts: ``exp(input) - target * input`` for a log-rate
    (``log_input=True``), else ``input - target * log(input + eps)``; ``full`` adds Stirling's approximation of
    ``log(target!)``, ``target * log(target) - target + 0.5 * log(2 * pi * target)``, where target > 1.

    >>> poisson_nll_loss(ember.randn(4), ember.tensor([0.0, 2.0, 1.0, 5.0]), full=True)
    """
    _check_reduction("poisson_nll_loss", reduction)
    input, target = _ops.promote(*widened(input, target))
    if log_input:
        loss = _ops.exp(input) - target * input
    else:
        loss = input - target * _ops.log(input + eps)
    if full:
        counted = target > 1
        safe = _ops.where(counted, target, 1.0)  # no log of 0 in the branch where does not take
        stirling = safe * _ops.log(safe) - safe + 0.5 * _ops.log(2 * math.pi * safe)
        loss = loss + _ops.where(counted, stirling, 0.0)
    return _reduce("poisson_nll_loss", loss, reduction)


def _broadcastable_var(input: Tensor, var: Tensor) -> Tensor:
    """``var`` shaped to broadcast against ``input`` by PyTorch's rules: the input's shape, the input's shape
    less its last dimension (one variance per row), or the input's shape with one dimension of size 1."""
    shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape == shape:
        return var
    if var_shape == shape[:-1]:
        return _ops.unsqueeze(var, -1)
    if len(var_shape) == len(shape) and sum(v for s, v in zip(shape, var_shape) if s != v) == 1:
        return var
    raise ValueError(f"gaussian_nll_loss: var of shape {list(var_shape)} does not fit the input of shape "
                     f"{list(shape)}: it must have the input's shape, the input's shape without its last dimension, "
                     "or the input's shape with one dimension of size 1")


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """The Gaussian negative log-likelihood of ``target`` under means ``input`` and variances ``var``:
    ``0.5 * (log(var) + (input - target)**2 / var)``, plus ``0.5 * log(2 * pi)`` when ``full``. ``var`` is one
    variance per input, one per row (the input's shape less its last dimension, or that dimension 1), or a
    number; it is held at least ``eps`` in the value while its gradient passes as if it were not (PyTorch's).

    >>> gaussian_nll_loss(ember.randn(4, 3), ember.randn(4, 3), ember.ones(4, 1))
    """
    _check_reduction("gaussian_nll_loss", reduction)
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"gaussian_nll_loss: var must not be negative, got {var}")
        input, target = _ops.promote(input, target)
        held = max(float(var), eps)  # one variance for every input: a number broadcasts
        log_held = math.log(held)
    else:
        if not getattr(var, "symbolic", False) and bool((var.array < 0).any()):
            raise ValueError(f"gaussian_nll_loss: var of shape {list(var.shape)} has negative entries")
        input, target = _ops.promote(input, target)
        input, var = _ops.promote(input, _broadcastable_var(input, var))
        held = var - _ops.stop_gradient(var) + _ops.stop_gradient(_ops.clip(var, eps, None))
        log_held = _ops.log(held)
    loss = 0.5 * (log_held + (input - target) ** 2 / held)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce("gaussian_nll_loss", loss, reduction)


class PoissonNLLLoss(_Loss):
    """The Poisson negative log-likelihood (see ``poisson_nll_loss``).

    >>> ember.nn.PoissonNLLLoss(log_input=False)(ember.rand(4) + 0.5, ember.tensor([0.0, 2.0, 1.0, 5.0]))
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None, eps: float = 1e-8,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return poisson_nll_loss(log_input, target, self.log_input, self.full, self.eps, self.reduction)


class GaussianNLLLoss(_Loss):
    """The Gaussian negative log-likelihood of targets under means and variances (see ``gaussian_nll_loss``).

    >>> ember.nn.GaussianNLLLoss()(ember.randn(4, 3), ember.randn(4, 3), ember.ones(4, 3))
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)

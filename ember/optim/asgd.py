"""ASGD, averaged stochastic gradient descent (Polyak & Juditsky, 1992): its update rule and optimizer; numerics
follow ``torch.optim.ASGD``'s single-tensor code path."""

from __future__ import annotations

import numpy as np

from ember.backend.devices import array_module
from ember.ops.effects import update_rule
from ember.optim.functional import _add_alpha, _mul_narrow, _scalar_safe
from ember.optim.optimizer import Optimizer, _check, _nonneg

__all__ = ["ASGD", "asgd_update"]


def _float32(value: float) -> float:
    """A number as torch keeps ASGD's ``eta`` and ``mu``: a float32 scalar tensor."""
    return float(np.float32(value))


@update_rule(elementwise=True)
@_scalar_safe
def asgd_update(param, grad, state: dict, *, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                t0: float = 1e6, weight_decay: float = 0.0, maximize: bool = False) -> None:
    """One SGD step with the decaying rate ``eta`` (``param *= 1 - lambd * eta; param -= eta * g``), then the
    running average ``ax`` of the parameter, which starts averaging after step ``t0``:
    ``ax += (param - ax) * mu`` with ``mu = 1 / max(1, step - t0)``; ``eta = lr / (1 + lambd * lr * step) ** alpha``.

    State: ``step``, ``eta`` and ``mu`` (numbers rounded to float32, as torch keeps them), ``ax``.
    """
    xp = array_module(param)
    if not state:
        state.update(step=0, eta=_float32(lr), mu=1.0, ax=xp.zeros_like(param))
    step = state["step"] = state["step"] + 1
    if maximize:
        grad = xp.negative(grad)
    kind = param.dtype.type
    eta, mu, ax = state["eta"], state["mu"], state["ax"]
    if param.dtype.itemsize < 4:  # each of PyTorch's ops in float32, rounded once, as its CPU kernels
        if weight_decay != 0:
            grad = _add_alpha(grad, param, weight_decay)
        param[...] = _add_alpha(_mul_narrow(param, 1 - lambd * eta), grad, -eta)
        if mu != 1:
            ax[...] = _add_alpha(ax, _mul_narrow(_add_alpha(param, ax, -1), mu), 1)
        else:
            ax[...] = param
    else:
        if weight_decay != 0:
            grad = grad + param * kind(weight_decay)
        param *= kind(1 - lambd * eta)
        param -= grad * kind(eta)
        if mu != 1:
            ax += (param - ax) * kind(mu)
        else:
            ax[...] = param
    state["eta"] = _float32(lr / ((1 + lambd * lr * step) ** alpha))
    state["mu"] = _float32(1 / max(1, step - t0))


class ASGD(Optimizer):
    """ASGD with ``torch.optim.ASGD``'s defaults (lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6); the average is the
    state's ``ax``. ``foreach`` is accepted and ignored.

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.ASGD([w], lr=0.01, t0=100)
    """

    update = staticmethod(asgd_update)
    number_state = ("eta", "mu")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
                 weight_decay: float = 0.0, *, foreach: bool | None = None, maximize: bool = False,
                 **options: bool | None):
        super().__init__(params, {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
                                  "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _nonneg("ASGD", group, "lr", "lambd", "weight_decay")
        _check("ASGD", "alpha", group["alpha"], lambda v: True, "a number")
        _check("ASGD", "t0", group["t0"], lambda v: True, "a number")

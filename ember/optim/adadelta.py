"""Adadelta (Zeiler, 2012): its update rule and optimizer; numerics follow ``torch.optim.Adadelta``."""

from __future__ import annotations

import numpy as np

from ember.backend.devices import array_module
from ember.ops.effects import update_rule
from ember.optim.functional import _add_alpha, _add_scalar_narrow, _addcmul_narrow, _mul_narrow
from ember.optim.optimizer import Optimizer

__all__ = ["Adadelta", "adadelta_update"]


@update_rule(elementwise=True)
def adadelta_update(param, grad, state: dict, *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                    weight_decay: float = 0.0, maximize: bool = False) -> None:
    """square_avg = rho * square_avg + (1 - rho) * g^2; delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
    acc_delta = rho * acc_delta + (1 - rho) * delta^2; param -= lr * delta.

    State: ``step``, ``square_avg``, ``acc_delta``.
    """
    xp = array_module(param)
    if not state:
        state.update(step=0, square_avg=xp.zeros_like(param), acc_delta=xp.zeros_like(param))
    state["step"] += 1
    if maximize:
        grad = xp.negative(grad)
    if param.dtype.itemsize < 4:
        _adadelta_narrow(xp, param, grad, state, lr, rho, eps, weight_decay)
        return
    if weight_decay:
        grad = grad + param * param.dtype.type(weight_decay)
    kind = param.dtype.type
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    square_avg *= kind(rho)
    square_avg += kind(1 - rho) * grad * grad
    delta = xp.sqrt(acc_delta + kind(eps)) / xp.sqrt(square_avg + kind(eps)) * grad
    acc_delta *= kind(rho)
    acc_delta += kind(1 - rho) * delta * delta
    param -= kind(lr) * delta


def _adadelta_narrow(xp, param, grad, state: dict, lr: float, rho: float, eps: float, weight_decay: float) -> None:
    """``adadelta_update``'s step of a float16 or bfloat16 parameter, each of PyTorch's ops computed in float32 and
    rounded once, as its CPU kernels do."""
    f32, dtype = np.float32, param.dtype
    if weight_decay:
        grad = _add_alpha(grad, param, weight_decay)
    square_avg, acc_delta = state["square_avg"], state["acc_delta"]
    square_avg[...] = _addcmul_narrow(_mul_narrow(square_avg, rho), grad, grad, 1 - rho)
    std = xp.sqrt(_add_scalar_narrow(square_avg, eps).astype(f32)).astype(dtype)
    delta = xp.sqrt(_add_scalar_narrow(acc_delta, eps).astype(f32)).astype(dtype)
    delta = (delta.astype(f32) / std.astype(f32)).astype(dtype)
    delta = (delta.astype(f32) * grad.astype(f32)).astype(dtype)
    acc_delta[...] = _addcmul_narrow(_mul_narrow(acc_delta, rho), delta, delta, 1 - rho)
    param[...] = _add_alpha(param, delta, -lr)


class Adadelta(Optimizer):
    """Adadelta with ``torch.optim.Adadelta``'s defaults (lr 1.0, rho 0.9, eps 1e-6).

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.Adadelta([w])
    """

    update = staticmethod(adadelta_update)

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0, *,
                 maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        for name in ("lr", "eps", "weight_decay"):
            if group[name] < 0:
                raise ValueError(f"Adadelta: {name} must be >= 0, got {group[name]}")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {group['rho']}")

"""Adafactor (Shazeer & Stern, 2018): its update rule and optimizer, with ``torch.optim.Adafactor``'s use of the
learning rate and of eps1 (torch 2.5+)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from ember.backend.devices import array_module
from ember.ops.effects import update_rule
from ember.optim.functional import _add_alpha, _lerp_narrow, _mul_narrow, _scalar_safe
from ember.optim.optimizer import Optimizer

__all__ = ["Adafactor", "adafactor_update"]


def lerp_(start, end, weight: float) -> None:
    """``start`` moved ``weight`` of the way to ``end``, in place, in PyTorch's two-sided form (the same bits);
    float16 and bfloat16 in float32 with a fused multiply-add, rounded once, as PyTorch's CPU kernel computes them."""
    if start.dtype.itemsize < 4:
        _lerp_narrow(start, end, weight)
        return
    kind = start.dtype.type
    if weight < 0.5:
        start += kind(weight) * (end - start)
    else:
        start[...] = end - (end - start) * kind(1.0 - weight)


def _rms(xp, array) -> float:
    return float(xp.linalg.norm(array.reshape(-1))) / math.sqrt(array.size)


@update_rule()
@_scalar_safe
def adafactor_update(param, grad, state: dict, *, lr: float = 1e-2, beta2_decay: float = -0.8,
                     eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0,
                     maximize: bool = False) -> None:
    """Adafactor's step: the second moment of a matrix (of each matrix of a stack) kept as its row and column means
    (``row_var``, ``col_var``), of a vector in full (``variance``), averaged with weight ``step ** beta2_decay``; the
    update ``grad / sqrt(estimate)`` (the estimate held at eps1^2 or more), scaled down to an RMS of at most ``d``,
    moves the parameter by ``max(eps2, RMS(param)) * min(lr, 1 / sqrt(step))`` after decoupled weight decay
    ``param *= 1 - lr * weight_decay``.

    State: ``step``, then ``row_var`` and ``col_var`` (a parameter of two or more dimensions) or ``variance``.
    """
    xp = array_module(param)
    if not state:
        if grad.ndim > 1:
            state.update(step=0, row_var=xp.zeros(grad.shape[:-1] + (1,), grad.dtype),
                         col_var=xp.zeros(grad.shape[:-2] + (1,) + grad.shape[-1:], grad.dtype))
        else:
            state.update(step=0, variance=xp.zeros_like(grad))
    if maximize:
        grad = xp.negative(grad)
    eps1, eps2 = eps
    if eps1 is None:
        eps1 = float(ml_dtypes.finfo(param.dtype).eps)  # (NumPy's finfo does not know bfloat16)
    kind = param.dtype.type
    state["step"] += 1
    step = float(state["step"])
    weight = step ** beta2_decay  # 1 - beta2 at this step
    if param.dtype.itemsize < 4:
        _adafactor_narrow(xp, param, grad, state, lr, weight, eps1, eps2, d, weight_decay, step)
        return
    alpha = max(eps2, _rms(xp, param)) * min(lr, 1.0 / math.sqrt(step))
    if weight_decay:
        param *= kind(1.0 - lr * weight_decay)
    if grad.ndim > 1:
        row_var, col_var = state["row_var"], state["col_var"]
        lerp_(row_var, xp.square(xp.linalg.norm(grad, axis=-1, keepdims=True)) / kind(grad.shape[-1]), weight)
        lerp_(col_var, xp.square(xp.linalg.norm(grad, axis=-2, keepdims=True)) / kind(grad.shape[-2]), weight)
        estimate = xp.matmul(row_var, col_var)
        estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), kind(eps1))
    else:
        variance = state["variance"]
        lerp_(variance, grad * grad, weight)
        estimate = variance.copy()
    update = xp.reciprocal(xp.sqrt(xp.maximum(estimate, kind(eps1 * eps1))))
    update *= grad
    denominator = max(1.0, _rms(xp, update) / d)
    param -= update * kind(alpha / denominator)


def _narrow_norm(xp, array, axis=None):
    """PyTorch's ``norm`` of a float16 or bfloat16 array: summed in float32, the result rounded to its dtype."""
    wide = array.astype(np.float32)
    if axis is None:
        return xp.linalg.norm(wide.reshape(-1)).astype(array.dtype)
    return xp.linalg.norm(wide, axis=axis, keepdims=True).astype(array.dtype)


def _adafactor_narrow(xp, param, grad, state: dict, lr: float, weight: float, eps1: float, eps2: float, d: float,
                      weight_decay: float, step: float) -> None:
    """``adafactor_update``'s step of a float16 or bfloat16 parameter, each of PyTorch's ops computed in float32 and
    rounded once, as its CPU kernels do (a norm or mean summed in float32 and rounded; its RMS read from that)."""
    f32, dtype = np.float32, param.dtype
    alpha = max(eps2, float(_narrow_norm(xp, param)) / math.sqrt(param.size)) * min(lr, 1.0 / math.sqrt(step))
    if weight_decay:
        param[...] = _mul_narrow(param, 1.0 - lr * weight_decay)

    def mean_square(axis: int):  # norm(grad, dim).square_().div_(grad.size(dim))
        norm = _narrow_norm(xp, grad, axis).astype(f32)
        return ((norm * norm).astype(dtype).astype(f32) / f32(grad.shape[axis])).astype(dtype)

    if grad.ndim > 1:
        row_var, col_var = state["row_var"], state["col_var"]
        _lerp_narrow(row_var, mean_square(-1), weight)
        _lerp_narrow(col_var, mean_square(-2), weight)
        estimate = (row_var.astype(f32) * col_var.astype(f32)).astype(dtype)  # a matmul over an axis of one
        mean = row_var.astype(f32).mean(axis=-2, keepdims=True).astype(dtype)
        estimate = (estimate.astype(f32) / xp.maximum(mean, dtype.type(eps1)).astype(f32)).astype(dtype)
    else:
        variance = state["variance"]
        _lerp_narrow(variance, (grad.astype(f32) * grad.astype(f32)).astype(dtype), weight)
        estimate = variance
    update = xp.maximum(estimate.astype(f32), f32(dtype.type(eps1 * eps1)))
    update = (f32(1) / xp.sqrt(update)).astype(dtype)  # rsqrt
    update = (update.astype(f32) * grad.astype(f32)).astype(dtype)
    denominator = max(1.0, float(_narrow_norm(xp, update)) / (math.sqrt(update.size) * d))
    param[...] = _add_alpha(param, update, -alpha / denominator)


class Adafactor(Optimizer):
    """Adafactor with ``torch.optim.Adafactor``'s signature and defaults (lr 1e-2, beta2_decay -0.8,
    eps (None, 1e-3): eps1 None is the parameter dtype's machine epsilon, d 1.0, weight_decay 0.0); ``foreach`` is
    accepted and ignored (each parameter is updated on its own).

    >>> w = ember.zeros(4, 3, requires_grad=True)
    >>> opt = ember.optim.Adafactor([w], lr=1e-2)
    """

    update = staticmethod(adafactor_update)

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8, eps: tuple = (None, 1e-3),
                 d: float = 1.0, weight_decay: float = 0.0, *, foreach: bool | None = None, maximize: bool = False):
        super().__init__(params, {"lr": lr, "beta2_decay": beta2_decay, "eps": tuple(eps), "d": d,
                                  "weight_decay": weight_decay, "maximize": maximize})

    def validate(self, group: dict) -> None:
        if not group["lr"] >= 0.0:
            raise ValueError(f"Adafactor: lr must be >= 0, got {group['lr']}")
        if not group["beta2_decay"] <= 0.0:
            raise ValueError(f"Adafactor: beta2_decay must be <= 0, got {group['beta2_decay']}")
        eps = group["eps"]
        if not isinstance(eps, (tuple, list)) or len(eps) != 2:
            raise ValueError(f"Adafactor: eps must be a pair (eps1, eps2), got {eps!r}")
        if eps[0] is not None and not eps[0] >= 0.0:
            raise ValueError(f"Adafactor: eps1 (eps[0]) must be None or >= 0, got {eps[0]}")
        if not eps[1] >= 0.0:
            raise ValueError(f"Adafactor: eps2 (eps[1]) must be >= 0, got {eps[1]}")
        if not group["d"] >= 1.0:
            raise ValueError(f"Adafactor: the clipping threshold d must be >= 1, got {group['d']}")
        if not group["weight_decay"] >= 0.0:
            raise ValueError(f"Adafactor: weight_decay must be >= 0, got {group['weight_decay']}")

    def state_shape(self, key: str, param) -> tuple:
        shape = tuple(param.shape)
        if key == "row_var":
            return shape[:-1] + (1,)
        if key == "col_var":
            return shape[:-2] + (1,) + shape[-1:]
        return shape

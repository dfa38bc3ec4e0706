"""Adamax, NAdam and RAdam: Adam's relatives, their update rules and optimizers; numerics follow ``torch.optim``'s
single-tensor code paths."""

from __future__ import annotations

import math

import numpy as np

from ember.backend.devices import array_module
from ember.ops.effects import update_rule
from ember.optim.functional import (
    _adam_family_grad,
    _add_alpha,
    _add_scalar_narrow,
    _addcdiv_narrow,
    _addcmul_narrow,
    _lerp_,
    _lerp_narrow,
    _mul_narrow,
    _narrow_decay,
    _scalar_safe,
)
from ember.optim.optimizer import Optimizer, _betas, _nonneg

__all__ = ["Adamax", "NAdam", "RAdam", "adamax_update", "nadam_update", "radam_update"]


def _moments(xp, param, grad, state: dict, *, maximize: bool, weight_decay: float, lr: float,
             decoupled: bool, slots: tuple[str, str]):
    """Start the state, count the step, apply maximize and weight decay; returns ``(step, grad)``."""
    if not state:
        state["step"] = 0
        for slot in slots:
            state[slot] = xp.zeros_like(param)
    step = state["step"] = state["step"] + 1
    if param.dtype.itemsize < 4:  # PyTorch's ops in float32, each rounded once
        return step, _narrow_decay(xp, param, grad, lr, weight_decay, decoupled, maximize)
    return step, _adam_family_grad(xp, param, grad, lr, weight_decay, decoupled, maximize)


def _moments_narrow(exp_avg, exp_avg_sq, grad, beta1: float, beta2: float) -> None:
    """``exp_avg.lerp_(grad, 1 - beta1)`` and ``exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)`` of
    float16 or bfloat16 arrays, each op in float32 and rounded once, as PyTorch's CPU kernels."""
    _lerp_narrow(exp_avg, grad, 1 - beta1)
    exp_avg_sq[...] = _addcmul_narrow(_mul_narrow(exp_avg_sq, beta2), grad, grad, 1 - beta2)


def _second_moment(xp, exp_avg_sq, grad, beta2: float, tmp) -> None:
    """``exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)``; clobbers ``tmp``."""
    exp_avg_sq *= float(beta2)
    xp.multiply(grad, float(1 - beta2), out=tmp)
    tmp *= grad
    exp_avg_sq += tmp


@update_rule(elementwise=True)
@_scalar_safe
def adamax_update(param, grad, state: dict, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                  eps: float = 1e-8, weight_decay: float = 0.0, maximize: bool = False) -> None:
    """Adamax (``torch.optim.Adamax``): Adam with the infinity norm, ``exp_inf = max(beta2 * exp_inf, |g| + eps)``.

    State: ``step``, ``exp_avg``, ``exp_inf``.
    """
    xp = array_module(param)
    step, grad = _moments(xp, param, grad, state, maximize=maximize, weight_decay=weight_decay, lr=float(lr),
                          decoupled=False, slots=("exp_avg", "exp_inf"))
    exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
    if param.dtype.itemsize < 4:  # each of PyTorch's ops in float32, rounded once, as its CPU kernels
        _lerp_narrow(exp_avg, grad, 1 - beta1)
        xp.maximum(_mul_narrow(exp_inf, beta2), _add_scalar_narrow(xp.abs(grad), eps), out=exp_inf)
        param[...] = _addcdiv_narrow(param, exp_avg, exp_inf, -float(lr) / (1 - beta1**step))
        return
    tmp = xp.empty_like(param)
    _lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
    exp_inf *= float(beta2)
    xp.abs(grad, out=tmp)
    tmp += float(eps)
    xp.maximum(exp_inf, tmp, out=exp_inf)
    xp.divide(exp_avg, exp_inf, out=tmp)  # addcdiv: p + value * (m / u)
    tmp *= -float(lr) / (1 - beta1**step)
    param += tmp


def _mu(beta1: float, step: int, momentum_decay: float) -> float:
    return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))


@update_rule(elementwise=True)
@_scalar_safe
def nadam_update(param, grad, state: dict, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
    """NAdam (``torch.optim.NAdam``): Adam with Nesterov momentum and Dozat's momentum schedule;
    ``decoupled_weight_decay=True`` decays the parameter (NAdamW).

    State: ``step``, ``mu_product`` (a float32 number, as torch keeps it), ``exp_avg``, ``exp_avg_sq``.
    """
    xp = array_module(param)
    lr = float(lr)
    step, grad = _moments(xp, param, grad, state, maximize=maximize, weight_decay=weight_decay, lr=lr,
                          decoupled=decoupled_weight_decay, slots=("exp_avg", "exp_avg_sq"))
    mu, mu_next = _mu(beta1, step, momentum_decay), _mu(beta1, step + 1, momentum_decay)
    mu_product = state["mu_product"] = float(np.float32(state.get("mu_product", 1.0)) * np.float32(mu))
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    if param.dtype.itemsize < 4:  # each of PyTorch's ops in float32, rounded once, as its CPU kernels
        _moments_narrow(exp_avg, exp_avg_sq, grad, beta1, beta2)
        wide = exp_avg_sq.astype(np.float32)
        wide /= np.float32(1 - beta2**step)
        denom = _add_scalar_narrow(xp.sqrt(wide.astype(param.dtype).astype(np.float32)).astype(param.dtype), eps)
        param[...] = _addcdiv_narrow(param, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_product))
        param[...] = _addcdiv_narrow(param, exp_avg, denom, (-lr * mu_next) / (1.0 - mu_product * mu_next))
        return
    tmp = xp.empty_like(param)
    _lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
    _second_moment(xp, exp_avg_sq, grad, beta2, tmp)
    denom = xp.divide(exp_avg_sq, 1 - beta2**step, out=tmp)
    xp.sqrt(denom, out=denom)
    denom += float(eps)
    numer = xp.divide(grad, denom)
    numer *= -lr * (1.0 - mu) / (1.0 - mu_product)
    param += numer
    xp.divide(exp_avg, denom, out=numer)
    numer *= (-lr * mu_next) / (1.0 - mu_product * mu_next)
    param += numer


@update_rule(elementwise=True)
@_scalar_safe
def radam_update(param, grad, state: dict, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
                 maximize: bool = False) -> None:
    """RAdam (``torch.optim.RAdam``): momentum steps until the variance's rectification term is tractable
    (rho_t > 5), then rectified Adam steps; ``decoupled_weight_decay=True`` decays the parameter.

    State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """
    xp = array_module(param)
    lr = float(lr)
    step, grad = _moments(xp, param, grad, state, maximize=maximize, weight_decay=weight_decay, lr=lr,
                          decoupled=decoupled_weight_decay, slots=("exp_avg", "exp_avg_sq"))
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    if param.dtype.itemsize < 4:
        _radam_narrow(xp, param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps)
        return
    tmp = xp.empty_like(param)
    _lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
    _second_moment(xp, exp_avg_sq, grad, beta2, tmp)
    bias_correction2 = 1 - beta2**step
    corrected = xp.divide(exp_avg, 1 - beta1**step)
    corrected *= lr
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if rho_t > 5.0:
        adaptive = xp.sqrt(exp_avg_sq, out=tmp)
        adaptive += float(eps)
        xp.reciprocal(adaptive, out=adaptive)  # torch's scalar / tensor is reciprocal(tensor) * scalar
        adaptive *= bias_correction2**0.5
        corrected *= adaptive
        corrected *= math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    param -= corrected


def _rect(rho_t: float, rho_inf: float) -> float:
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


def _radam_narrow(xp, param, grad, exp_avg, exp_avg_sq, step: int, lr: float, beta1: float, beta2: float,
                  eps: float) -> None:
    """``radam_update``'s step of a float16 or bfloat16 parameter, each of PyTorch's ops computed in float32 and
    rounded once, as its CPU kernels do: ``exp_avg / bc1 * lr * (sqrt(bc2) / (sqrt(v) + eps)) * rect``, the
    scalar-over-tensor division a reciprocal times the scalar."""
    f32, dtype = np.float32, param.dtype
    _moments_narrow(exp_avg, exp_avg_sq, grad, beta1, beta2)
    bias_correction2 = 1 - beta2**step
    update = ((exp_avg.astype(f32) / f32(1 - beta1**step)).astype(dtype).astype(f32) * f32(lr)).astype(dtype)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
    if rho_t > 5.0:
        adaptive = _add_scalar_narrow(xp.sqrt(exp_avg_sq.astype(f32)).astype(dtype), eps)
        adaptive = xp.reciprocal(adaptive.astype(f32)).astype(dtype).astype(f32)
        adaptive = (adaptive * f32(bias_correction2**0.5)).astype(dtype)
        update = (update.astype(f32) * adaptive.astype(f32)).astype(dtype)
        update = (update.astype(f32) * f32(_rect(rho_t, rho_inf))).astype(dtype)
    param[...] = _add_alpha(param, update, -1.0)


class _AdamLike(Optimizer):
    """Adam's hyper-parameters (``betas`` as a pair) handed to the rule as ``beta1`` and ``beta2``."""

    def validate(self, group: dict) -> None:
        owner = type(self).__name__
        _nonneg(owner, group, "lr", "eps", "weight_decay")
        _betas(owner, group["betas"])

    def hyper(self, group: dict) -> dict:
        kwargs = {key: group[key] for key in self.defaults if key != "betas"}
        kwargs["beta1"], kwargs["beta2"] = group["betas"]
        return kwargs


class Adamax(_AdamLike):
    """Adamax (Kingma & Ba), with ``torch.optim.Adamax``'s defaults (lr 2e-3).

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.Adamax([w], lr=2e-3, betas=(0.9, 0.999))
    """

    update = staticmethod(adamax_update)

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "maximize": maximize}, **options)


class NAdam(_AdamLike):
    """NAdam (Dozat), with ``torch.optim.NAdam``'s defaults (lr 2e-3, momentum_decay 4e-3).

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.NAdam([w], lr=2e-3, weight_decay=1e-2, decoupled_weight_decay=True)
    """

    update = staticmethod(nadam_update)
    number_state = ("mu_product",)

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "momentum_decay": momentum_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        super().validate(group)
        _nonneg("NAdam", group, "momentum_decay")


class RAdam(_AdamLike):
    """RAdam (Liu et al.), with ``torch.optim.RAdam``'s defaults (lr 1e-3).

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.RAdam([w], lr=1e-3, weight_decay=1e-2, decoupled_weight_decay=True)
    """

    update = staticmethod(radam_update)

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *, maximize: bool = False,
                 **options: bool | None):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}, **options)

"""Muon (Jordan et al., 2024): momentum whose update for a 2-D parameter is orthogonalized by a Newton-Schulz
iteration; its update rule and optimizer, as ``torch.optim.Muon`` (torch 2.9+) computes them."""

from __future__ import annotations

import math

import numpy as np

from ember.backend.devices import array_module
from ember.ops.effects import update_rule
from ember.optim.adafactor import lerp_
from ember.optim.functional import _mul_narrow
from ember.optim.optimizer import Optimizer

__all__ = ["Muon", "muon_update", "newton_schulz"]

_ADJUSTMENTS = (None, "original", "match_rms_adamw")


def _bfloat16(xp, x):
    """float32 ``x`` rounded to bfloat16's 8 significant bits (to nearest, ties to even), kept as float32: the
    same bits as a cast to bfloat16 and back, on NumPy or CuPy."""
    bits = x.view(xp.uint32)
    rounded = ((bits + xp.uint32(0x7FFF) + ((bits >> xp.uint32(16)) & xp.uint32(1))) & xp.uint32(0xFFFF0000))
    return xp.where(xp.isnan(x), x, rounded.view(xp.float32))


def _scaled_add(scale, x, y):
    """``scale * x + y`` of float32 arrays rounded once to float32, as torch's ``addmm`` adds ``beta * C`` to the
    scaled product: a fused multiply-add, emulated in float64 (where the product is exact)."""
    return (x.astype(np.float64) * float(scale) + y).astype(np.float32)


def newton_schulz(matrix, coefficients: tuple = (3.4445, -4.775, 2.0315), steps: int = 5, eps: float = 1e-7):
    """``matrix`` (2-D) made nearly orthogonal, ``U S' V^T`` with ``S'`` near 1, by ``steps`` quintic Newton-Schulz
    iterations ``X <- a X + (b G + c G^2) X`` (``G = X X^T``, on the wide orientation) after scaling ``matrix`` to
    unit Frobenius norm. As PyTorch's Muon, in bfloat16: each product is summed in float32, scaled and added to the
    scaled term in one fused multiply-add (torch's ``addmm``), and rounded once.
    Returns float32 holding bfloat16 values."""
    if steps >= 100:
        raise ValueError(f"newton_schulz: steps must be < 100, got {steps}")
    if matrix.ndim != 2:
        raise ValueError(f"newton_schulz: needs a 2-D matrix, got shape {list(matrix.shape)}")
    if len(coefficients) != 3:
        raise ValueError(f"newton_schulz: coefficients must be three numbers (a, b, c), got {coefficients!r}")
    xp = array_module(matrix)
    a, b, c = (np.float32(v) for v in coefficients)
    x = _bfloat16(xp, matrix.astype(np.float32))
    tall = matrix.shape[0] > matrix.shape[1]
    if tall:
        x = x.T
    norm = _bfloat16(xp, xp.linalg.norm(x).astype(np.float32).reshape(1))
    x = _bfloat16(xp, x / xp.maximum(norm, np.float32(eps)))
    for _ in range(steps):
        gram = _bfloat16(xp, x @ x.T)
        gram_update = _bfloat16(xp, _scaled_add(b, gram, c * (gram @ gram)))
        x = _bfloat16(xp, _scaled_add(a, x, gram_update @ x))
    return x.T if tall else x


def _adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: tuple) -> float:
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, rows / cols))
    return lr * 0.2 * math.sqrt(max(rows, cols))  # "match_rms_adamw": an AdamW-like update RMS


@update_rule()
def muon_update(param, grad, state: dict, *, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                nesterov: bool = True, ns_coefficients: tuple = (3.4445, -4.775, 2.0315), eps: float = 1e-7,
                ns_steps: int = 5, adjust_lr_fn: str | None = None) -> None:
    """``buf`` moves ``1 - momentum`` of the way to the gradient; the update (``grad`` moved ``momentum`` of the way
    to ``buf`` with Nesterov, else ``buf``) is orthogonalized (``newton_schulz``) and, after decoupled weight decay
    ``param *= 1 - lr * weight_decay``, subtracted times ``lr`` adjusted to the shape (``adjust_lr_fn``: "original",
    ``sqrt(max(1, rows / cols))``, or "match_rms_adamw", ``0.2 sqrt(max(rows, cols))``).

    State: ``momentum_buffer``.
    """
    if grad.ndim != 2:
        raise ValueError(f"Muon: the gradient must be a 2-D matrix, got shape {list(grad.shape)}")
    xp = array_module(param)
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = xp.zeros_like(grad)
    buf = state["momentum_buffer"]
    lerp_(buf, grad, 1.0 - momentum)
    if nesterov:
        direction = grad.copy()
        lerp_(direction, buf, momentum)
    else:
        direction = buf
    orthogonal = newton_schulz(direction, ns_coefficients, ns_steps, eps)
    adjusted_lr = _adjusted_lr(lr, adjust_lr_fn, param.shape)
    if param.dtype.itemsize >= 4:  # PyTorch's arithmetic in float64 for float64, else in float32
        work = np.float64 if param.dtype == np.float64 else np.float32
        param *= work(1.0 - lr * weight_decay)
        param -= orthogonal.astype(work, copy=False) * work(adjusted_lr)
        return
    # float16 and bfloat16: param.add_(update, alpha=-adjusted_lr) in float32, one fused multiply-add (emulated in
    # float64, where the product is exact) rounded once; alpha is rounded to bfloat16 where the parameter is
    # bfloat16, as the update (a float16 parameter and a bfloat16 update add in float32, alpha too)
    decayed = _mul_narrow(param, 1.0 - lr * weight_decay)
    alpha = (np.float32 if param.dtype == np.float16 else param.dtype.type)(-adjusted_lr)
    wide = orthogonal.astype(np.float64)
    wide *= float(alpha)
    wide += decayed
    param[...] = wide.astype(np.float32)


class Muon(Optimizer):
    """Muon with ``torch.optim.Muon``'s signature and defaults (lr 1e-3, weight_decay 0.1, momentum 0.95, nesterov
    True, ns_coefficients (3.4445, -4.775, 2.0315), eps 1e-7, ns_steps 5, adjust_lr_fn None: "original"). Only for
    2-D parameters (hidden layers' weights); give biases, embeddings and the rest to another optimizer (AdamW).

    >>> hidden = [p for p in model.parameters() if p.ndim == 2]
    >>> opt = ember.optim.Muon(hidden, lr=0.02)
    """

    update = staticmethod(muon_update)

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
                 nesterov: bool = True, ns_coefficients: tuple = (3.4445, -4.775, 2.0315), eps: float = 1e-7,
                 ns_steps: int = 5, adjust_lr_fn: str | None = None):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                                  "ns_coefficients": tuple(ns_coefficients), "eps": eps, "ns_steps": ns_steps,
                                  "adjust_lr_fn": adjust_lr_fn})

    def validate(self, group: dict) -> None:
        for name in ("lr", "momentum", "weight_decay"):
            if not group[name] >= 0.0:
                raise ValueError(f"Muon: {name} must be >= 0, got {group[name]}")
        if group["adjust_lr_fn"] not in _ADJUSTMENTS:
            raise ValueError(f"Muon: adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got "
                             f"{group['adjust_lr_fn']!r}")
        if len(group["ns_coefficients"]) != 3:
            raise ValueError(f"Muon: ns_coefficients must be three numbers (a, b, c), got {group['ns_coefficients']}")
        steps = group["ns_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps < 100:
            raise ValueError(f"Muon: ns_steps must be an int in [0, 100), got {steps!r}")
        for i, p in enumerate(group["params"]):
            if p.ndim != 2:
                raise ValueError(f"Muon: only 2-D parameters can be optimized, got params[{i}] of shape "
                                 f"{list(p.shape)}; give it to another optimizer (AdamW)")

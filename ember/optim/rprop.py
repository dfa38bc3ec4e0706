"""Rprop (Riedmiller & Braun, 1993): its update rule and optimizer; numerics follow ``torch.optim.Rprop``'s
single-tensor code path."""

from __future__ import annotations

from ember.backend.devices import array_module
from ember.ops.effects import update_rule
from ember.optim.functional import _scalar_safe
from ember.optim.optimizer import Optimizer, _check, _nonneg

__all__ = ["Rprop", "rprop_update"]


@update_rule(elementwise=True)
@_scalar_safe
def rprop_update(param, grad, state: dict, *, lr: float = 1e-2, etaminus: float = 0.5, etaplus: float = 1.2,
                 step_size_min: float = 1e-6, step_size_max: float = 50.0, maximize: bool = False) -> None:
    """Resilient backpropagation: each element's step size grows by ``etaplus`` while its gradient keeps its sign
    and shrinks by ``etaminus`` when it flips (that step then skips the element and forgets its gradient), held in
    [step_size_min, step_size_max]; the parameter moves by its step size against the gradient's sign.

    State: ``step``, ``prev`` (the last gradient kept), ``step_size`` (starting at ``lr``).
    """
    xp = array_module(param)
    if not state:
        state.update(step=0, prev=xp.zeros_like(param), step_size=xp.full_like(param, lr))
    state["step"] += 1
    if maximize:
        grad = xp.negative(grad)
    kind = param.dtype.type
    prev, step_size = state["prev"], state["step_size"]
    agreement = grad * prev
    factor = xp.where(agreement > 0, kind(etaplus), xp.where(agreement < 0, kind(etaminus), kind(1)))
    step_size *= factor
    xp.clip(step_size, kind(step_size_min), kind(step_size_max), out=step_size)
    kept = xp.where(factor == kind(etaminus), kind(0), grad)  # torch's grad[sign == etaminus] = 0
    direction = xp.sign(kept)
    direction[xp.isnan(direction)] = 0  # torch's sign of NaN is 0: a NaN gradient leaves the element where it is
    param -= direction * step_size
    prev[...] = kept


class Rprop(Optimizer):
    """Rprop with ``torch.optim.Rprop``'s defaults (lr 1e-2, etas (0.5, 1.2), step_sizes (1e-6, 50));
    ``foreach`` is accepted and ignored (each parameter is updated on its own).

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.Rprop([w], lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50))
    """

    update = staticmethod(rprop_update)

    def __init__(self, params, lr: float = 1e-2, etas: tuple = (0.5, 1.2), step_sizes: tuple = (1e-6, 50), *,
                 foreach: bool | None = None, maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "etas": tuple(etas), "step_sizes": tuple(step_sizes),
                                  "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _nonneg("Rprop", group, "lr")
        for key in ("etas", "step_sizes"):
            pair = group[key]
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"Rprop: {key} must be a pair, got {pair!r}")
            for i, value in enumerate(pair):
                _check("Rprop", f"{key}[{i}]", value, lambda v: v >= 0, ">= 0")
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Rprop: etas must satisfy 0 < etaminus < 1 < etaplus, got {tuple(group['etas'])}")
        low, high = group["step_sizes"]
        if low > high:
            raise ValueError(f"Rprop: step_sizes must be (min, max) with min <= max, got {tuple(group['step_sizes'])}")

    def hyper(self, group: dict) -> dict:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        return {"lr": group["lr"], "etaminus": etaminus, "etaplus": etaplus, "step_size_min": step_size_min,
                "step_size_max": step_size_max, "maximize": group["maximize"]}

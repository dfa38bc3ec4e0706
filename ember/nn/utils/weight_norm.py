"""Weight normalization, PyTorch's older hook form (``nn.utils.weight_norm`` / ``remove_weight_norm``): the weight
``w = g * v / ||v||`` computed from the parameters ``weight_g`` and ``weight_v`` before each call."""

from __future__ import annotations

from ember import ops
from ember.autograd import no_grad
from ember.backend.dtypes import COMPLEX
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

__all__ = ["remove_weight_norm", "weight_norm"]


def norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of ``v`` over every axis but ``dim``, kept with size 1 (PyTorch's ``norm_except_dim``); ``dim=-1``
    (or None) is the norm of the whole tensor, of shape (); real for a complex ``v``, as PyTorch's."""
    if v.dtype in COMPLEX:  # (v * v would square the complex values: sqrt(sum) a complex number, not the norm)
        v = ops.abs(v)
    if dim is None or dim == -1:
        return ops.sqrt(ops.sum(v * v))
    dim = _axis(dim, v.ndim, "weight_norm")
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return ops.sqrt(ops.sum(v * v, axis=axes, keepdims=True)) if axes else ops.abs(v)


def weight_from(g: Tensor, v: Tensor, dim: int) -> Tensor:
    """``v * (g / norm_except_dim(v, dim))``: PyTorch's ``_weight_norm``."""
    return v * (g / norm_except_dim(v, dim))


def _axis(dim: int, ndim: int, what: str) -> int:
    if not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"{what}: dim {dim} is out of range for a weight of {ndim} dimensions")
    return dim % max(ndim, 1)


class WeightNorm:
    """The forward pre-hook that ``weight_norm`` registers: it sets the module's weight from ``g`` and ``v``."""

    def __init__(self, name: str, dim: int | None):
        self.name, self.dim = name, -1 if dim is None else dim

    def compute_weight(self, module) -> Tensor:
        return weight_from(getattr(module, self.name + "_g"), getattr(module, self.name + "_v"), self.dim)

    def __call__(self, module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def _parameter(module, name: str, what: str) -> Parameter:
    weight = module._parameters.get(name) if "_parameters" in module.__dict__ else None
    if weight is None:
        raise ValueError(f"{what}: {type(module).__name__} has no parameter named '{name}'")
    return weight


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Replace the parameter ``name`` with ``name_g`` (its norm over every axis but ``dim``; ``dim=None`` or -1: one
    norm) and ``name_v`` (its direction), the weight recomputed from them before each call. Returns ``module``.

    >>> layer = ember.nn.utils.weight_norm(ember.nn.Linear(20, 40))   # layer.weight_g: (40, 1)
    """
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == name:
            raise RuntimeError(f"weight_norm: cannot register two weight_norm hooks on the same parameter {name}")
    weight = _parameter(module, name, "weight_norm")
    fn = WeightNorm(name, dim)
    if fn.dim != -1:
        _axis(fn.dim, weight.ndim, "weight_norm")
    del module._parameters[name]  # (the attribute goes with it)
    with no_grad():
        g = norm_except_dim(weight, fn.dim)
    module.register_parameter(name + "_g", Parameter(g.array.copy()))
    module.register_parameter(name + "_v", Parameter(weight.array))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo ``weight_norm``: the parameter ``name`` holds the current weight again. Returns ``module``.

    >>> layer = ember.nn.utils.remove_weight_norm(layer)
    """
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module)
            object.__delattr__(module, name)
            for suffix in ("_g", "_v"):
                delattr(module, name + suffix)
            module.register_parameter(name, Parameter(weight.array))
            module._remove_hook(module._forward_pre_hooks, key)
            return module
    raise ValueError(f"remove_weight_norm: weight_norm of '{name}' not found in {type(module).__name__}")

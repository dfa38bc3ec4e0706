"""Pruning, PyTorch's ``torch.nn.utils.prune``: a parameter ``name`` becomes ``name_orig`` (the parameter that
trains) times a ``name_mask`` buffer, recomputed before each forward by a pre-hook, so the pruned entries stay
zero and get no gradient. Pruning the same parameter again prunes among the entries still there (a
``PruningContainer`` combines the masks); ``remove`` makes the pruning permanent.

>>> prune.l1_unstructured(net.fc, "weight", amount=0.3)   # the 30% of weights smallest in magnitude
>>> prune.ln_structured(net.conv, "weight", amount=2, n=2, dim=0)   # the two output channels of least L2 norm
>>> prune.remove(net.fc, "weight")
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod

import numpy as np

from ember import ops
from ember.nn.module import Module
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = [
    "BasePruningMethod", "CustomFromMask", "Identity", "L1Unstructured", "LnStructured", "PruningContainer",
    "RandomStructured", "RandomUnstructured", "custom_from_mask", "global_unstructured", "identity", "is_pruned",
    "l1_unstructured", "ln_structured", "random_structured", "random_unstructured", "remove",
]


def _check_amount(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"prune: amount must be an int (how many) or a float in [0, 1] (what fraction), got {amount!r}")
    if isinstance(amount, numbers.Integral):
        if amount < 0:
            raise ValueError(f"prune: amount={amount} must be a non-negative integer")
    elif not 0.0 <= float(amount) <= 1.0:
        raise ValueError(f"prune: amount={amount} must be a float in the range [0, 1]")


def _count(amount, size: int) -> int:
    """How many of ``size`` units ``amount`` prunes (a fraction rounds to the nearest count, as PyTorch)."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"prune: amount={amount} should be smaller than the number of units to prune ({size})")
        return int(amount)
    return int(round(float(amount) * size))


def _smallest(scores: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the ``k`` smallest of ``scores`` (ties: the first ones)."""
    return np.argsort(scores.reshape(-1), kind="stable")[:k]


class BasePruningMethod(ABC):
    """A way of choosing which entries to zero: ``compute_mask(t, default_mask)`` gives the new mask from the
    importance scores ``t`` and the mask already there, Tensors as in PyTorch (a subclass may use any Tensor
    method)."""

    PRUNING_TYPE = "unstructured"  # "unstructured", "structured" or "global"
    _tensor_name: str

    def __call__(self, module: Module, inputs) -> None:
        """The forward pre-hook: ``name`` recomputed from ``name_orig`` and ``name_mask``."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The mask (a tensor of ``t``'s shape, 0 where pruned) for scores ``t`` over ``default_mask``."""

    def _mask_array(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """``compute_mask`` on arrays, in ``default_mask``'s dtype."""
        mask = self.compute_mask(ops.as_tensor(t), ops.as_tensor(default_mask.copy()))
        return np.asarray(_array(mask), default_mask.dtype)

    def apply_mask(self, module: Module) -> Tensor:
        """``name_orig * name_mask`` of ``module``."""
        original = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return original * mask

    @classmethod
    def apply(cls, module: Module, name: str, *args, importance_scores=None, **kwargs):
        """Prune ``module.name`` with a new ``cls(*args, **kwargs)`` (combined with earlier pruning of it)."""
        return _apply(cls(*args, **kwargs), module, name, importance_scores)

    def prune(self, t, default_mask=None, importance_scores=None) -> Tensor:
        """``t`` with this method's mask applied (``t`` itself is not changed)."""
        t = t if isinstance(t, Tensor) else ops.as_tensor(t)
        scores = t if importance_scores is None else importance_scores
        base = np.ones(t.shape, t.dtype) if default_mask is None else np.asarray(_array(default_mask), t.dtype)
        return t * ops.as_tensor(self._mask_array(_array(scores), base).astype(t.dtype))

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: ``name`` a parameter holding ``name_orig * name_mask``."""
        name = self._tensor_name
        if not hasattr(self, "_tensor_name") or name + "_orig" not in module._parameters:
            raise ValueError(f"prune.remove: parameter {name!r} of {type(module).__name__} is not pruned")
        weight = self.apply_mask(module).detach()
        original = module._parameters.pop(name + "_orig")
        del module._buffers[name + "_mask"]
        module.__dict__.pop(name, None)
        original.data = weight  # the same Parameter, as PyTorch's: an optimizer holding it goes on training it
        module.register_parameter(name, original)


def _array(value) -> np.ndarray:
    return np.asarray(value.detach().numpy() if isinstance(value, Tensor) else value)


def _apply(method: BasePruningMethod, module: Module, name: str, importance_scores=None) -> BasePruningMethod:
    existing = None
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            if existing is not None:
                raise RuntimeError(f"prune: more than one pruning hook on parameter {name!r}")
            existing = hook
            module._remove_hook(module._forward_pre_hooks, key)
    if existing is None:
        parameter = module._parameters.get(name)
        if parameter is None:
            raise AttributeError(f"prune: {type(module).__name__} has no parameter {name!r} to prune")
        default_mask = np.ones(parameter.shape, parameter.dtype)
        scores = parameter if importance_scores is None else importance_scores
    else:
        default_mask = _array(getattr(module, name + "_mask")).astype(module._parameters[name + "_orig"].dtype)
        # the pruned tensor, as PyTorch's: a structured method measures the slices with their pruned entries zero
        scores = getattr(module, name) if importance_scores is None else importance_scores
    scores = _array(scores)
    target = module._parameters[name] if existing is None else module._parameters[name + "_orig"]
    if scores.shape != tuple(target.shape):
        raise ValueError(f"prune: importance_scores of shape {list(scores.shape)} for parameter {name!r} of shape "
                         f"{list(target.shape)}")
    method._tensor_name = name
    if existing is not None:
        container = existing if isinstance(existing, PruningContainer) else PruningContainer(existing)
        container.add_pruning_method(method)
        hook = container
    else:
        hook = method
    mask = hook._mask_array(scores, default_mask)
    if existing is None:
        original = module._parameters.pop(name)
        module.register_parameter(name + "_orig", original)
    dtype = module._parameters[name + "_orig"].dtype
    module.register_buffer(name + "_mask", ops.as_tensor(np.asarray(mask, dtype)))
    setattr(module, name, hook.apply_mask(module))
    module.register_forward_pre_hook(hook)
    return method


class _ArrayMasks(BasePruningMethod):
    """A built-in method, whose mask ``_mask`` computes on arrays; ``compute_mask`` takes and gives Tensors."""

    @abstractmethod
    def _mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The mask for the scores ``t`` over ``default_mask``, arrays in and out."""

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        default_mask = _array(default_mask)
        return ops.as_tensor(self._mask_array(_array(t), default_mask))

    def _mask_array(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        return np.asarray(self._mask(t, default_mask), default_mask.dtype)


class PruningContainer(_ArrayMasks):
    """Several prunings of one parameter in sequence: each new one prunes among the entries the earlier left."""

    def __init__(self, *methods: BasePruningMethod):
        self._pruning_methods: tuple = ()
        for method in methods:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        if not isinstance(method, BasePruningMethod):
            raise TypeError(f"PruningContainer: {type(method).__name__} is not a BasePruningMethod")
        if self._pruning_methods and method._tensor_name != self._tensor_name:
            raise ValueError(f"PruningContainer: {method!r} prunes {method._tensor_name!r}, the container "
                             f"{self._tensor_name!r}")
        self._tensor_name = method._tensor_name
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, index):
        return self._pruning_methods[index]

    def _mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The last method's mask over the entries (or slices) the earlier masks kept."""
        method = self._pruning_methods[-1]
        kind = method.PRUNING_TYPE
        mask = default_mask.copy()
        if kind == "unstructured":
            kept = default_mask == 1
            mask[kept] = method._mask_array(t[kept], default_mask[kept])
        elif kind == "structured":
            dim = method.dim % t.ndim
            others = tuple(d for d in range(t.ndim) if d != dim)
            alive = np.any(default_mask != 0, axis=others)  # slices along dim that still have entries
            index = [slice(None)] * t.ndim
            index[dim] = alive
            index = tuple(index)
            mask[index] = method._mask_array(t[index], default_mask[index])
        elif kind == "global":
            mask = method._mask_array(t, default_mask)
        else:
            raise ValueError(f"PruningContainer: unknown PRUNING_TYPE {kind!r} of {type(method).__name__}")
        return mask


class Identity(_ArrayMasks):
    """Prunes nothing (a mask of ones)."""

    def _mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class _Unstructured(_ArrayMasks):
    """Prunes the ``amount`` entries (a count, or a fraction) of lowest ``_scores``."""

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    @abstractmethod
    def _scores(self, t: np.ndarray) -> np.ndarray:
        """One score per entry of ``t`` (flat): the lowest are pruned."""

    def _mask(self, t, default_mask):
        k = _count(self.amount, t.size)
        mask = default_mask.copy()
        if k:
            mask.reshape(-1)[_smallest(self._scores(t), k)] = 0
        return mask


class RandomUnstructured(_Unstructured):
    """Prunes ``amount`` entries (a count, or a fraction) chosen at random (Ember's generator)."""

    def _scores(self, t):
        return numpy_generator(None).random(t.size)

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prunes the ``amount`` entries (a count, or a fraction) smallest in absolute value."""

    def _scores(self, t):
        return np.abs(t)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(_ArrayMasks):
    PRUNING_TYPE = "structured"

    def _mask_of(self, t, default_mask, scores: np.ndarray) -> np.ndarray:
        dim = self.dim % t.ndim
        k = _count(self.amount, t.shape[dim])
        mask = default_mask.copy()
        if k:
            index = [slice(None)] * t.ndim
            index[dim] = _smallest(scores, k)
            mask[tuple(index)] = 0
        return mask


class RandomStructured(_Structured):
    """Prunes ``amount`` whole slices along ``dim`` (a count, or a fraction of them) chosen at random."""

    def __init__(self, amount, dim: int = -1):
        _check_amount(amount)
        self.amount, self.dim = amount, dim

    def _mask(self, t, default_mask):
        if t.ndim == 0:
            raise ValueError("RandomStructured: structured pruning needs a tensor of at least one dimension")
        return self._mask_of(t, default_mask, numpy_generator(None).random(t.shape[self.dim % t.ndim]))

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prunes the ``amount`` slices along ``dim`` (a count, or a fraction of them) of least L``n`` norm."""

    def __init__(self, amount, n, dim: int = -1):
        _check_amount(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def _mask(self, t, default_mask):
        if t.ndim == 0:
            raise ValueError("LnStructured: structured pruning needs a tensor of at least one dimension")
        dim = self.dim % t.ndim
        rows = np.moveaxis(np.asarray(t, np.float64), dim, 0).reshape(t.shape[dim], -1)
        n = self.n
        if n == "fro":
            n = 2
        if n in (np.inf, float("inf"), "inf"):
            norms = np.abs(rows).max(axis=1)
        elif n in (-np.inf, float("-inf"), "-inf"):
            norms = np.abs(rows).min(axis=1)
        elif n == 0:
            norms = (rows != 0).sum(axis=1).astype(np.float64)
        else:
            norms = (np.abs(rows) ** n).sum(axis=1) ** (1.0 / n)
        return self._mask_of(t, default_mask, norms)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(_ArrayMasks):
    """Prunes where ``mask`` is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = _array(mask)

    def _mask(self, t, default_mask):
        if self.mask.shape != default_mask.shape:
            raise ValueError(f"custom_from_mask: the mask's shape {list(self.mask.shape)} differs from the "
                             f"parameter's {list(default_mask.shape)}")
        return default_mask * self.mask.astype(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module: Module, name: str) -> Module:
    """Reparametrize ``module.name`` with a mask of ones (nothing pruned)."""
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount) -> Module:
    """Prune ``amount`` random entries of ``module.name``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Module, name: str, amount, importance_scores=None) -> Module:
    """Prune the ``amount`` entries of ``module.name`` smallest in absolute value (or in ``importance_scores``)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount, dim: int) -> Module:
    """Prune ``amount`` random slices of ``module.name`` along ``dim``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Module, name: str, amount, n, dim: int, importance_scores=None) -> Module:
    """Prune the ``amount`` slices of ``module.name`` along ``dim`` of least L``n`` norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module: Module, name: str, mask) -> Module:
    """Prune ``module.name`` where ``mask`` is 0."""
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune the ``(module, name)`` pairs of ``parameters`` together: ``pruning_method(**kwargs)`` (an
    unstructured method, e.g. ``L1Unstructured`` with ``amount``) chooses over all their entries at once."""
    parameters = list(parameters)
    if not parameters:
        raise ValueError("global_unstructured: parameters is empty")
    if getattr(pruning_method, "PRUNING_TYPE", None) == "structured":
        raise TypeError("global_unstructured: only unstructured pruning methods can prune globally")
    importance_scores = importance_scores or {}
    scores, masks = [], []
    for module, name in parameters:
        value = importance_scores.get((module, name), getattr(module, name))
        scores.append(_array(value).reshape(-1))
        masks.append(_array(getattr(module, name + "_mask")).reshape(-1) if hasattr(module, name + "_mask")
                     else np.ones(_array(value).size))
    method = pruning_method(**kwargs)
    method._tensor_name = "global"
    flat_scores, flat_mask = np.concatenate(scores), np.concatenate(masks).astype(np.float64)
    container = PruningContainer(method)
    container._tensor_name = "global"
    final = container._mask_array(flat_scores, flat_mask)
    start = 0
    for (module, name), part in zip(parameters, scores):
        mask = final[start:start + part.size].reshape(getattr(module, name).shape)
        start += part.size
        custom_from_mask(module, name, mask)


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.name`` permanent: ``name`` a parameter again, holding the pruned values."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            module._remove_hook(module._forward_pre_hooks, key)
            return module
    raise ValueError(f"prune.remove: parameter {name!r} of {type(module).__name__} is not pruned")


def is_pruned(module: Module) -> bool:
    """Whether any submodule of ``module`` has a parameter pruned."""
    return any(isinstance(hook, BasePruningMethod) for m in module.modules() for hook in m._forward_pre_hooks.values())

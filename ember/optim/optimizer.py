"""Optimizers: parameter groups and state around the pure update rules of ``ember.optim.functional``."""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager

import numpy as np

from ember import autograd, grad_mode
from ember.autograd import enable_grad
from ember.backend.devices import array_module, device_of, from_torch, is_torch_tensor, move
from ember.ops.effects import sparse_update, update
from ember.optim import functional as F
from ember.optim import parts
from ember.optim.hooks import OptimizerHooks
from ember.sparse import RowSparse
from ember.tensor import Tensor

__all__ = ["Adagrad", "Adam", "AdamW", "Ftrl", "Optimizer", "ParamGroup", "RMSprop", "RowWiseAdagrad", "SGD",
           "SparseAdam"]


class ParamGroup(dict):
    """One of ``Optimizer.param_groups``: a dict of ``params`` and hyper-parameters. While ``ember.jit`` traces
    (``refuse_group_writes``), writing one in the traced function raises a TypeError (see ``_refused_write``)."""

    __slots__ = ("owner",)  # the optimizer's class name, for the error


def _refused_write(group: ParamGroup, *args, **kwargs) -> None:
    """``ParamGroup.__setitem__`` and ``update`` while a trace runs: a TypeError in the traced function, since the
    write would run once, while tracing, and every later call would keep that value (``ember.compile``: a graph
    break); the dict's own method for a write outside it (another thread's)."""
    if autograd.building():
        keys = [args[0]] if len(args) == 2 else [*dict(*args), *kwargs]
        raise TypeError(f"{getattr(group, 'owner', 'optimizer')}: param_groups[...][{', '.join(map(repr, keys))}] "
                        "written in a traced function changes only while tracing, not on every call; set it outside "
                        "the compiled function (the compiled step reads each group's hyper-parameters on every call)")
    if len(args) == 2 and not kwargs:
        dict.__setitem__(group, *args)
    else:
        dict.update(group, *args, **kwargs)


_refusing = 0  # traces running (nested ones count)


@contextmanager
def refuse_group_writes():
    """While in the block, a write into any optimizer's param group from a traced function raises a TypeError.
    The methods are set on the class only for the block: outside a trace a group's writes are a dict's own."""
    global _refusing
    if not _refusing:
        ParamGroup.__setitem__ = _refused_write
        ParamGroup.update = _refused_write
    _refusing += 1
    try:
        yield
    finally:
        _refusing -= 1
        if not _refusing:
            del ParamGroup.__setitem__, ParamGroup.update


def _check_implementation_options(owner: str, options: dict, accepted: tuple[str, ...]) -> None:
    """PyTorch's keywords that pick an implementation (``foreach``, ``fused``, ``capturable``), those of
    ``accepted`` (the ones the torch optimizer takes): accepted, since they change no result, but ``fused`` and
    ``foreach`` both True is torch's error; ``differentiable=True`` (a step recorded for autograd) is refused, as
    Ember's updates write the parameters in place outside the tape."""
    for key, value in options.items():
        if key not in accepted:
            raise TypeError(f"{owner}.__init__() got an unexpected keyword argument '{key}'")
        if key == "differentiable" and value:
            raise ValueError(f"{owner}: differentiable=True is not supported; the update runs outside autograd (use "
                             "ember.func to differentiate through a hand-written update)")
    if options.get("fused") and options.get("foreach"):
        raise RuntimeError(f"{owner}: `fused` and `foreach` cannot be `True` together")


class Optimizer(OptimizerHooks):
    """Base class: holds ``param_groups`` (dicts of params and hyper-parameters) and per-parameter ``state``.

    A subclass names its update rules (``update`` for dense gradients, ``sparse_update`` for ``RowSparse``
    ones, either may be None), maps a group to their keyword arguments in ``hyper`` and checks a group's
    values in ``validate``.

    >>> w = ember.zeros(3, requires_grad=True)
    >>> opt = ember.optim.SGD([{"params": [w], "lr": 0.5}], lr=0.1)
    >>> opt.param_groups[0]["lr"]
    0.5
    """

    update: Callable | None = None
    sparse_update: Callable | None = None
    # state entries the rules keep as Python numbers (torch keeps them as 0-d tensors): loaded as numbers
    number_state: tuple[str, ...] = ()
    has_complex = False  # whether a group holds a complex parameter (set by add_param_group)
    stepped = False  # whether step() has run (a scheduler stepped before it warns, as PyTorch's)
    # the implementation keywords the torch optimizer of this name takes (fused: SGD, Adagrad, Adam, AdamW)
    implementation_options: tuple[str, ...] = ("foreach", "capturable", "differentiable")

    def __init__(self, params, defaults: dict, **options: bool | None):
        name = type(self).__name__
        _check_implementation_options(name, options, self.implementation_options)
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a single {type(params).__name__}"
            )
        self.defaults = dict(defaults)
        if _is_tensor(self.defaults.get("lr")):
            self.defaults["lr"] = _tensor_lr(name, self.defaults["lr"])
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self.groups_version = 0  # counts add_param_group and load_state_dict: a traced step checks it
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __setstate__(self, state: dict) -> None:
        """Restore a copied or unpickled optimizer's attributes: PyTorch's base method, which an optimizer
        written for PyTorch calls from its own ``__setstate__`` (to fill in a group option an older pickle lacks)."""
        self.__dict__.update(state)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones come from the defaults).

        The parameters may come named, as ``(name, tensor)`` pairs (``model.named_parameters()``): the group then
        keeps their names in ``param_names``, as PyTorch's, and every group must have names or none."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{name}: params must be an ordered iterable, not a set (its order changes between runs)")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: some params are (name, tensor) pairs and some are not; name all or none")
            params = [p[1] for p in params]
        named = bool(names) or "param_names" in param_group
        if any(("param_names" in group) != named for group in self.param_groups):
            raise ValueError(f"{name}: every param group must have parameter names or none; cannot add a group "
                             f"{'with' if named else 'without'} names")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: params[{i}] must be a Tensor, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: params[{i}] is not a leaf tensor (it was computed from others); "
                                 "optimize the leaves instead")
            if p.dtype.kind == "c" and not self.takes_complex():
                raise TypeError(f"{name}: params[{i}] is complex ({p.dtype}), which {name} does not support")
            if p.dtype.kind not in "fVc":
                raise TypeError(f"{name}: params[{i}] must be floating point or complex, got dtype {p.dtype}")
            if id(p) in seen:
                raise ValueError(f"{name}: params[{i}] appears twice in the same param group")
            seen.add(id(p))
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if not taken.isdisjoint(seen):
            raise ValueError(f"{name}: some parameters appear in more than one param group")
        if any(p.dtype.kind == "c" for p in params):
            self.has_complex = True
        group = ParamGroup(param_group)
        group.owner = name
        group["params"] = params
        if names:
            group["param_names"] = names
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        if _is_tensor(group.get("lr")):
            group["lr"] = _tensor_lr(name, group["lr"])
        self.validate(group)
        self.param_groups.append(group)
        _groups_changed(self)

    def validate(self, group: dict) -> None:
        """Raise a ValueError naming the first bad hyper-parameter of ``group``."""

    def takes_complex(self) -> bool:
        """Whether complex parameters are accepted: an elementwise rule steps their real and imaginary parts as
        separate elements, as PyTorch's optimizers do (on ``view_as_real``)."""
        return getattr(self.update, "elementwise", False)

    def hyper(self, group: dict) -> dict:
        """Keyword arguments of the update rules for ``group``: by default its values of the defaults' keys
        (a group may hold other keys, such as a scheduler's ``initial_lr``)."""
        return {key: group[key] for key in self.defaults}

    def state_shape(self, key: str, param) -> tuple:
        """The shape of the array state ``key`` of ``param``: the parameter's own, unless a rule keeps less."""
        return tuple(param.shape)

    def keeps_tensor_state(self) -> bool:
        """Whether ``self.state`` holds Tensors that a subclass's own ``step()`` wrote, in shapes of its choosing (a
        torch-style optimizer naming no update rule): ``load_state_dict`` gives them back as Tensors, unchecked."""
        return self.update is None and self.sparse_update is None

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (``set_to_none``) or zero them in place."""
        building = autograd.building()
        if set_to_none and not building:  # drop_grads' eager effect, without gathering the parameters first
            for group in self.param_groups:
                for p in group["params"]:
                    p._grad = None
            return
        params = [p for group in self.param_groups for p in group["params"]]
        if set_to_none or building:  # in a graph, zeros and None add the same: a drop is recorded
            autograd.drop_grads(params)
            return
        for p in params:
            grad = p.grad
            if grad is None:
                continue
            if grad.__class__ is RowSparse:
                xp = array_module(grad.indices)
                empty = xp.zeros((0,) + grad.shape[1:], grad.values.dtype)
                p.grad = RowSparse(grad.indices[:0], Tensor._make(empty, None), grad.shape)
            else:
                grad.detach_()
                grad.array[...] = 0

    def step(self, closure: Callable | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss when given one."""
        self.stepped = True
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        state = self.state
        eager = not autograd.building()  # else each update must reach the graph (or profiler) as an op
        foreach = getattr(self.update, "foreach", None) if eager else None
        # parameters this large are updated in parts at the end (an eager elementwise rule), others whole
        cut_from = parts.CUT_FROM if eager and getattr(self.update, "elementwise", False) else math.inf
        large = None  # a parts.Deferred once a parameter that large is met
        stamp = grad_mode.next_stamp()  # each updated parameter is marked written (see grad_mode.mark_written)
        grad_mode.last_write = stamp
        has_complex = self.has_complex
        for group in self.param_groups:
            kwargs = self.hyper(group)
            params, grads, states = [], [], []  # dense arrays the rule updates eagerly, in one foreach call
            live = None  # the group's hyper-parameter reader, one for all its update ops (compiled code groups by it)
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                p._written = stamp
                if has_complex and p.dtype.kind == "c":
                    _complex_step(self, p, grad, state[p], kwargs, eager)
                    continue
                if foreach is not None and grad.__class__ is Tensor:  # the common case, its checks first
                    data, grad_data = p.array, grad.array
                    if grad_data.__class__ is data.__class__ and grad_data.shape == data.shape \
                            and grad_data.dtype == data.dtype:
                        if data.size >= cut_from:
                            large = large or parts.Deferred(self)
                            if large.take(self.update, data, grad_data, state[p], kwargs):
                                continue
                        params.append(data)
                        grads.append(grad_data)
                        states.append(state[p])
                        continue
                if grad.__class__ is RowSparse:
                    if self.sparse_update is None:
                        raise TypeError(
                            f"{type(self).__name__} does not support sparse gradients (a RowSparse of shape "
                            f"{list(grad.shape)}); use SGD, Adagrad, Ftrl or SparseAdam for them, or make the "
                            "embedding dense (sparse=False)"
                        )
                    owner = getattr(p, "apply_sparse_update", None)
                    if owner is not None:  # a hash table's handle: its rows live in the table (ember.embedding)
                        owner(self.sparse_update, grad, state[p], kwargs)
                    else:  # an op, as update
                        live = live or _LiveHyper(self, group)
                        sparse_update(p, grad, self.sparse_update, state[p], kwargs, live)
                    continue
                if self.update is None:
                    raise TypeError(
                        f"{type(self).__name__} supports only sparse gradients, got a dense one of shape "
                        f"{list(grad.shape)}; use Adam for dense gradients"
                    )
                data, grad_data = p.array, grad.array
                if eager and grad_data.shape == data.shape and grad_data.dtype == data.dtype \
                        and grad_data.__class__ is data.__class__:  # what the op runs, less its dispatch
                    if data.size >= cut_from:
                        large = large or parts.Deferred(self)
                        if large.take(self.update, data, grad_data, state[p], kwargs):
                            continue
                    if foreach is not None:
                        params.append(data)
                        grads.append(grad_data)
                        states.append(state[p])
                    else:
                        self.update(data, grad_data, state[p], **kwargs)
                else:  # an op: a graph records it
                    live = live or _LiveHyper(self, group)
                    update(p, grad, self.update, state[p], kwargs, live)
            if params:
                foreach(params, grads, states, **kwargs)
        if large is not None:
            large.run()
        return loss

    def overlapping_params(self) -> frozenset:
        """The ids of the parameters' arrays whose memory overlaps another parameter's (``parts.Overlaps``)."""
        overlaps = self.__dict__.get("_overlaps")
        if overlaps is None:
            overlaps = self._overlaps = parts.Overlaps()
        return overlaps.of([p.array for group in self.param_groups for p in group["params"]])

    def state_dict(self) -> dict:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``, as in PyTorch.

        Parameters are numbered in group order. The arrays are the live state buffers (the update writes
        into them): copy them, or save them, before stepping again if you need a snapshot.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore from ``state_dict()``: copies its arrays onto each parameter's device and dtype."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} param groups, "
                             f"the optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: param group {i} has {len(saved['params'])} parameters in the state "
                                 f"dict and {len(group['params'])} in the optimizer")
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))
        own_step = self.keeps_tensor_state()
        state: defaultdict = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is None:
                raise ValueError(f"{name}: the state dict has state for parameter {key}, which no group lists")
            for k, v in values.items():
                shape = getattr(v, "shape", None)
                if (not own_step and k != "step" and shape is not None
                        and tuple(shape) not in ((), self.state_shape(k, p))):
                    raise ValueError(f"{name}: the state dict's {k!r} of parameter {key} has shape {list(shape)}, "
                                     f"expected {list(self.state_shape(k, p))} for a parameter of shape "
                                     f"{list(p.shape)}")
            if own_step:
                state[p] = {k: _restore_tensor(p, k, v) for k, v in values.items()}
            else:
                state[p] = {k: _restore(p, k, v, k in self.number_state) for k, v in values.items()}
        groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            restored = copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
            for key, value in self.defaults.items():  # a key an older checkpoint lacks (maximize...), as torch
                restored.setdefault(key, value)
            if _is_tensor(restored.get("lr")):  # a torch optimizer built with a Tensor lr saves it so
                restored["lr"] = _tensor_lr(name, restored["lr"])
            restored = ParamGroup(restored)
            restored.owner = name
            restored["params"] = group["params"]
            if "param_names" in group:  # the state dict's names, else the group's own, as torch
                restored.setdefault("param_names", group["param_names"])
            groups.append(restored)
        self.state = state
        self.param_groups = groups
        _groups_changed(self)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"


_group_listeners: list = []


def on_param_groups_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` whenever an optimizer's parameter groups change (``add_param_group``,
    ``load_state_dict``)."""
    _group_listeners.append(listener)


def _groups_changed(optimizer: Optimizer) -> None:
    optimizer.groups_version += 1
    for listener in _group_listeners:
        listener()


class _LiveHyper:
    """A param group's hyper-parameters, read when called: compiled code calls it on every run, so a
    scheduler's new lr applies without retracing (``optimizer`` lets ``ember.jit`` check its state)."""

    __slots__ = ("optimizer", "group")

    def __init__(self, optimizer: Optimizer, group: dict):
        self.optimizer, self.group = optimizer, group

    def __call__(self) -> dict:
        return self.optimizer.hyper(self.group)


def _as_real(array):
    """``torch.view_as_real``: a complex array's real view, its last axis (of 2) the real and imaginary parts."""
    return array[..., None].view(array.real.dtype)


def _complex_step(optimizer: Optimizer, p: Tensor, grad, state: dict, kwargs: dict, eager: bool) -> None:
    """Step a complex parameter as PyTorch does: the rule on the real views of the parameter, its gradient and
    its state, whose arrays stay complex (a state dict holds them as torch's does)."""
    name = type(optimizer).__name__
    if grad.__class__ is not Tensor or not eager or grad.shape != p.shape:
        where = "" if eager else " in a traced step (ember.jit); step complex parameters eagerly"
        raise TypeError(f"{name}: a complex parameter (shape {list(p.shape)}, {p.dtype}) takes a dense gradient of "
                        f"its shape, got a {type(grad).__name__} of shape {list(grad.shape)}{where}")
    data = p.array
    grad_data = grad.array
    if grad_data.dtype != data.dtype:
        grad_data = grad_data.astype(data.dtype)
    real = _as_real(data)
    views = {key: _as_real(value) if getattr(value, "dtype", None) == data.dtype and value.shape == data.shape
             else value for key, value in state.items()}
    optimizer.update(real, _as_real(grad_data), views, **kwargs)
    for key, value in views.items():
        if getattr(value, "shape", None) == real.shape and value.dtype == real.dtype:
            if getattr(state.get(key), "shape", None) != data.shape:  # made by the rule: kept complex
                if value.strides[-1] != value.itemsize:
                    value = value.copy()
                state[key] = value.view(data.dtype)[..., 0]
        else:
            state[key] = value


def _restore(param, key: str, value, number: bool = False):
    """A state value from a state dict, copied; floating arrays take the parameter's dtype and device, and a
    ``number`` (a 0-d array where torch saved a scalar tensor) becomes a Python float."""
    if key == "step":
        return int(value.item() if hasattr(value, "item") else value)
    if number:
        return float(value.item() if hasattr(value, "item") else value)
    if isinstance(value, Tensor):
        value = value.array
    elif is_torch_tensor(value):  # a torch optimizer's state dict: bfloat16 too, which np.asarray refuses
        value = from_torch(value)
    elif hasattr(value, "__array__") and not isinstance(getattr(value, "dtype", None), np.dtype):
        value = np.asarray(value)  # another framework's tensor (a torch optimizer's state dict): its values
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, np.generic):
        kind = value.dtype.kind
        dtype = param.dtype if kind in "fV" or (kind == "c" and param.dtype.kind == "c") else value.dtype
        device = device_of(param.array)
        return device.xp.array(move(value, device), dtype=dtype, copy=True)
    return copy.deepcopy(value)


def _restore_tensor(param, key: str, value):
    """A state value for an optimizer with its own step(): a tensor (Ember's or torch's) comes back as an Ember
    Tensor, copied, floating ones but ``step`` in the parameter's dtype and on its device (PyTorch's policy);
    other values are copied as they are."""
    if not _is_tensor(value):
        return copy.deepcopy(value)
    array = value.array if isinstance(value, Tensor) else from_torch(value)
    if key == "step":  # its dtype kept
        device = device_of(param.array)
        return Tensor._make(device.xp.array(move(array, device), copy=True), None)
    return Tensor._make(_restore(param, key, array), None)


def _is_tensor(value) -> bool:
    return isinstance(value, Tensor) or is_torch_tensor(value)


def _tensor_lr(owner: str, lr) -> float:
    """PyTorch's ``lr`` given as a 1-element Tensor (Ember's or PyTorch's), read as its value (the group holds a
    number, which the schedulers set)."""
    if is_torch_tensor(lr):
        lr = Tensor._make(from_torch(lr), None)
    if lr.numel() != 1:
        raise ValueError(f"{owner}: a Tensor lr must have 1 element, got shape {list(lr.shape)}")
    if lr.dtype.kind != "f":
        raise TypeError(f"{owner}: a Tensor lr must be floating point, got dtype {lr.dtype}")
    return float(lr.detach().array.reshape(()))


def _check(owner: str, name: str, value, ok: Callable[[float], bool], requirement: str) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    if not ok(value):
        raise ValueError(f"{owner}: {name} must be {requirement}, got {value!r}")


def _nonneg(owner: str, group: dict, *names: str) -> None:
    for name in names:
        _check(owner, name, group[name], lambda v: v >= 0, ">= 0")


def _betas(owner: str, betas) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, beta in enumerate(betas):
        _check(owner, f"betas[{i}]", beta, lambda v: 0 <= v < 1, "in [0, 1)")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Row-sparse gradients get ``sparse_sgd_update`` (lazy momentum and weight decay).

    >>> w = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.detach().numpy()   # w - 0.1 * 2w
    array([0.8, 1.6], dtype=float32)
    """

    implementation_options = ("foreach", "fused", "differentiable")
    update = staticmethod(F.sgd_update)
    sparse_update = staticmethod(F.sparse_sgd_update)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _nonneg("SGD", group, "lr", "momentum", "weight_decay")
        _check("SGD", "dampening", group["dampening"], math.isfinite, "finite")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening == 0, got momentum="
                             f"{group['momentum']!r} and dampening={group['dampening']!r}")


class Adam(Optimizer):
    """Adam (Kingma & Ba), with optional L2 weight decay and AMSGrad; numerics follow ``torch.optim.Adam``.

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.Adam([w], lr=1e-3, betas=(0.9, 0.999))
    """

    implementation_options = ("foreach", "fused", "capturable", "differentiable")
    update = staticmethod(F.adam_update)

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, **options: bool | None):
        # decoupled_weight_decay is a group's option, as in PyTorch (True there is AdamW's rule)
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, "maximize": maximize,
                                  "decoupled_weight_decay": decoupled_weight_decay}, **options)

    def validate(self, group: dict) -> None:
        owner = type(self).__name__
        _nonneg(owner, group, "lr", "eps", "weight_decay")
        _betas(owner, group["betas"])

    def hyper(self, group: dict) -> dict:
        beta1, beta2 = group["betas"]
        return {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
                "weight_decay": group["weight_decay"], "amsgrad": group["amsgrad"], "maximize": group["maximize"],
                "decoupled_weight_decay": group["decoupled_weight_decay"]}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``w -= lr * weight_decay * w`` each step.

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.AdamW([w], lr=1e-3, weight_decay=1e-2)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False, **options: bool | None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         **options)

    def load_state_dict(self, state_dict: dict) -> None:
        """As Adam's, every group keeping decoupled weight decay (an Adam state dict says False)."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True


class SparseAdam(Optimizer):
    """Lazy Adam for row-sparse gradients (embeddings with ``sparse=True``), as ``torch.optim.SparseAdam``:
    only the rows in the gradient update their moments and values.

    >>> table = ember.randn(1000, 16, requires_grad=True)
    >>> opt = ember.optim.SparseAdam([table], lr=1e-2)
    """

    implementation_options = ()
    sparse_update = staticmethod(F.sparse_adam_update)

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8, *,
                 maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _check("SparseAdam", "lr", group["lr"], lambda v: v > 0, "> 0")
        _check("SparseAdam", "eps", group["eps"], lambda v: v > 0, "> 0")
        _betas("SparseAdam", group["betas"])

    def hyper(self, group: dict) -> dict:
        beta1, beta2 = group["betas"]
        return {"lr": group["lr"], "beta1": beta1, "beta2": beta2, "eps": group["eps"],
                "maximize": group["maximize"]}


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum; numerics follow ``torch.optim.RMSprop``.

    >>> w = ember.zeros(4, requires_grad=True)
    >>> opt = ember.optim.RMSprop([w], lr=1e-2, alpha=0.99, centered=True)
    """

    update = staticmethod(F.rmsprop_update)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _nonneg("RMSprop", group, "lr", "alpha", "eps", "weight_decay", "momentum")


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), dense or row-sparse; numerics follow ``torch.optim.Adagrad``.

    >>> table = ember.randn(1000, 16, requires_grad=True)
    >>> opt = ember.optim.Adagrad([table], lr=0.01)
    """

    implementation_options = ("foreach", "fused", "differentiable")
    update = staticmethod(F.adagrad_update)
    sparse_update = staticmethod(F.sparse_adagrad_update)

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False,
                 **options: bool | None):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                                  "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _nonneg("Adagrad", group, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al.) with L1/L2 and L2-shrinkage regularization, as TensorFlow's ``Ftrl``.

    Row-sparse gradients update only their rows (``sparse_ftrl_update``).

    >>> w = ember.zeros(100, 1, requires_grad=True)
    >>> opt = ember.optim.Ftrl([w], lr=0.1, l1=1e-3, l2=1e-4)
    """

    update = staticmethod(F.ftrl_update)
    sparse_update = staticmethod(F.sparse_ftrl_update)

    def __init__(self, params, lr: float = 1e-3, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1: float = 0.0, l2: float = 0.0,
                 l2_shrinkage: float = 0.0, beta: float = 0.0):
        super().__init__(params, {"lr": lr, "learning_rate_power": learning_rate_power,
                                  "initial_accumulator_value": initial_accumulator_value, "l1": l1, "l2": l2,
                                  "l2_shrinkage": l2_shrinkage, "beta": beta})

    def validate(self, group: dict) -> None:
        _check("Ftrl", "lr", group["lr"], lambda v: v > 0, "> 0")
        _check("Ftrl", "learning_rate_power", group["learning_rate_power"], lambda v: v <= 0, "<= 0")
        _nonneg("Ftrl", group, "initial_accumulator_value", "l1", "l2", "l2_shrinkage", "beta")


class RowWiseAdagrad(Optimizer):
    """Adagrad with one accumulator per row (FBGEMM's and TorchRec's row-wise Adagrad): the row's mean
    squared gradient accumulates, and every element of the row steps by ``lr / (sqrt(sum) + eps)``.
    A (rows, dim) table keeps one float32 of state a row instead of dim.

    >>> table = ember.randn(1000, 16, requires_grad=True)
    >>> opt = ember.optim.RowWiseAdagrad([table], lr=0.01)
    """

    update = staticmethod(F.rowwise_adagrad_update)
    sparse_update = staticmethod(F.sparse_rowwise_adagrad_update)

    def __init__(self, params, lr: float = 1e-2, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False, **options: bool | None):
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps,
                                  "maximize": maximize}, **options)

    def validate(self, group: dict) -> None:
        _nonneg("RowWiseAdagrad", group, "lr", "weight_decay", "initial_accumulator_value", "eps")

    def state_shape(self, key: str, param) -> tuple:
        return tuple(param.shape[:1]) if key == "sum" else tuple(param.shape)

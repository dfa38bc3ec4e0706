"""Calling a module with parameters and buffers given rather than its own (``torch.func.functional_call``,
``torch.nn.utils.stateless``), and stacking an ensemble's state for ``ember.func.vmap``."""

from __future__ import annotations

from collections import OrderedDict

from ember import ops
from ember.nn.module import Module

__all__ = ["functional_call", "stack_module_state"]


def _owner(module: Module, name: str) -> tuple[Module, str]:
    *path, attr = name.split(".")
    owner = module
    for part in path:
        sub = owner._modules.get(part)
        if sub is None:
            raise KeyError(part)
        owner = sub
    if attr not in owner._parameters and attr not in owner._buffers:
        raise KeyError(attr)
    return owner, attr


def _placeholder(module: Module, name: str) -> bool:
    """Whether ``name`` is a parameter or buffer registered as None (``Linear(bias=False)``'s bias), which
    ``functional_call`` fills in as PyTorch's does."""
    try:
        _owner(module, name)
    except KeyError:
        return False
    return True


def _tied_values(known: dict, given: dict) -> dict:
    """id(original tensor) -> the one tensor given for its names; two different tensors for names of one tied
    tensor raise, as PyTorch's ``tie_weights``."""
    by_identity: dict = {}
    for name, value in given.items():
        key = id(known[name])
        if by_identity.setdefault(key, value) is not value:
            tied = sorted(n for n, t in known.items() if id(t) == key)
            raise ValueError(f"functional_call got multiple values for keys {tied}, which are tied. Consider using "
                             "tie_weights=False")
    return by_identity


def functional_call(module: Module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights: bool = True,
                    strict: bool = False):
    """``module(*args, **kwargs)`` with the parameters and buffers named in ``parameter_and_buffer_dicts`` (a dict,
    or a tuple of dicts, keys as ``named_parameters``/``named_buffers``) in place of its own, which are put back
    afterwards. Gradients flow to the given tensors. With ``tie_weights``, a tensor given for one name of a tied
    parameter serves all its names; ``strict``: every parameter and buffer must be given."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    given: dict = {}
    for d in dicts:
        overlap = set(given) & set(d)
        if overlap:
            raise ValueError(f"functional_call: {sorted(overlap)} appear in more than one dict")
        given.update(d)
    known = dict(module.named_parameters(remove_duplicate=False))
    known.update(dict(module.named_buffers(remove_duplicate=False)))
    unexpected = sorted(name for name in set(given) - set(known) if not _placeholder(module, name))
    if unexpected:
        raise ValueError(f"functional_call: {type(module).__name__} has no parameter or buffer {unexpected}")
    if tie_weights:  # (a None placeholder, such as an absent bias, is tied to nothing)
        by_identity = _tied_values(known, {name: value for name, value in given.items() if name in known})
        for name, original in known.items():
            if name not in given and id(original) in by_identity and original is not None:
                given[name] = by_identity[id(original)]
    if strict:
        missing = sorted(set(known) - set(given))
        if missing:
            raise ValueError(f"functional_call: strict=True and no tensors given for {missing}")
    swapped = []
    try:
        for name, value in given.items():
            owner, attr = _owner(module, name)
            table = owner._parameters if attr in owner._parameters else owner._buffers
            swapped.append((owner, attr, table, table[attr], owner.__dict__.get(attr)))
            # (the plain dict write: a swap for one call is no change of the module that jit traces must see)
            OrderedDict.__setitem__(table, attr, value)
            owner.__dict__[attr] = value
        args = () if args is None else (args if isinstance(args, tuple) else (args,))
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attr, table, old, old_attr in reversed(swapped):
            OrderedDict.__setitem__(table, attr, old)
            if old_attr is None:
                owner.__dict__.pop(attr, None)
            else:
                owner.__dict__[attr] = old_attr


def _stacked_leaf(name: str, tensors: list):
    """``tensors`` stacked as a new leaf that requires grad where they all do (a frozen parameter stays frozen);
    a mix is refused, as PyTorch's."""
    wanted = {t.requires_grad for t in tensors}
    if len(wanted) > 1:
        raise ValueError(f"stack_module_state: {name} requires grad in some models and not in others; expected the "
                         "same .requires_grad in every model")
    stacked = ops.stack([t.detach() for t in tensors])
    return stacked.requires_grad_() if True in wanted else stacked


def stack_module_state(models) -> tuple[dict, dict]:
    """(parameters, buffers) of same-structured ``models``, each name's tensors stacked along a new first
    dimension, for ``vmap`` over an ensemble with ``functional_call``. The stacked parameters are new leaves, which
    require grad where the models' do."""
    models = list(models)
    if not models:
        raise ValueError("stack_module_state: expected at least one model")
    names = [n for n, _ in models[0].named_parameters()]
    for m in models[1:]:
        if [n for n, _ in m.named_parameters()] != names:
            raise ValueError("stack_module_state: the models do not have the same parameters")
    params = {n: _stacked_leaf(n, [dict(m.named_parameters())[n] for m in models]) for n in names}
    buffers = {n: _stacked_leaf(n, [dict(m.named_buffers())[n] for m in models])
               for n, _ in models[0].named_buffers()}
    return params, buffers

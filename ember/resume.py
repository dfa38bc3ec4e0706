"""Checks that a Model checkpoint fits the model before anything is overwritten (``Model.load`` is all
or nothing): the keys, the network's shapes, the optimizer's kind, groups and state shapes, the epoch
and the random generator's state."""

from __future__ import annotations

import numpy as np

REQUIRED = ("net", "optimizer", "epoch", "rng")
# recipe: the name and seed `ember train --save` trained with; loader_generator: the fit's DataLoader's own generator
OPTIONAL = ("optimizer_class", "schedulers", "recipe", "loader_generator")


def check_model_state(model, state) -> None:
    """Raise a ValueError saying what in ``state`` does not fit ``model``; return None when all fits."""
    if not isinstance(state, dict):
        raise ValueError(f"a Model checkpoint is a dict with {list(REQUIRED)}, got {type(state).__name__}")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        if "net" in state:
            hint = (" (it cannot resume exactly; to take only the weights, use "
                    "model.net.load_state_dict(ember.load(path)['net']))")
        else:
            hint = " (a file of weights only? load it with model.net.load_state_dict(ember.load(path)))"
        raise ValueError(f"the checkpoint has no {missing}{hint}; a Model checkpoint holds {list(REQUIRED)}")
    unknown = sorted(str(k) for k in state if k not in REQUIRED + OPTIONAL)
    if unknown:
        raise ValueError(f"the checkpoint has unknown keys {unknown}; a Model checkpoint holds {list(REQUIRED)}")
    _check_net(model.net, state["net"])
    _check_optimizer(model.optimizer, state["optimizer"], state.get("optimizer_class"))
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"the checkpoint's epoch is {epoch!r}, not a non-negative int")
    _check_rng(state["rng"])
    _check_loader_generator(state.get("loader_generator"))
    schedulers = state.get("schedulers", [])
    if not isinstance(schedulers, list) or not all(isinstance(s, dict) for s in schedulers):
        raise ValueError(f"the checkpoint's 'schedulers' is not a list of scheduler state dicts: {schedulers!r:.80}")


def _shape(value) -> tuple | None:
    shape = getattr(value, "shape", None)
    return None if shape is None else tuple(shape)


def _check_net(net, saved) -> None:
    if not isinstance(saved, dict):
        raise ValueError(f"the checkpoint's 'net' is a {type(saved).__name__}, not a state dict")
    own = net.state_dict()
    # a hash table's entries (keys, counters, optimizer slots that appear with training) are checked by its
    # own load_state_dict
    owned = tuple(name + "." for name, m in net.named_modules() if name and getattr(m, "_owns_state_dict", False))
    problems = []
    missing = [k for k in own if k not in saved and not k.startswith(owned)]
    unexpected = [str(k) for k in saved if k not in own and not str(k).startswith(owned)]
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unknown keys {unexpected}")
    for prefix in owned:  # checked here, since a table that loads before another fails stays overwritten
        mine = {str(k)[len(prefix):]: v for k, v in saved.items() if str(k).startswith(prefix)}
        try:
            net.get_submodule(prefix[:-1]).check_state_dict(mine)
        except (ValueError, TypeError, KeyError) as exc:
            problems.append(f"{prefix[:-1]}: {exc}")
    for key, value in own.items():
        if key.startswith(owned) or not hasattr(value, "shape"):
            continue  # a hash table's entries (keys, counters, rows that grow): its load_state_dict checks them
        if key in saved and _shape(saved[key]) != tuple(value.shape):
            problems.append(f"{key} has shape {_shape(saved[key])} in the checkpoint, {tuple(value.shape)} in the "
                            "network")
    if problems:
        raise ValueError(f"the checkpoint's network does not fit {type(net).__name__}: " + "; ".join(problems))


def _check_optimizer(optimizer, saved, saved_class) -> None:
    name = type(optimizer).__name__
    if saved_class is not None and saved_class != name:
        raise ValueError(f"the checkpoint holds the state of a {saved_class} optimizer; the model's is {name}")
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list) or not isinstance(
            saved.get("state"), dict):
        raise ValueError("the checkpoint's 'optimizer' is not an optimizer state dict (state, param_groups)")
    groups = saved["param_groups"]
    if len(groups) != len(optimizer.param_groups):
        raise ValueError(f"the checkpoint's optimizer has {len(groups)} param groups, the model's {name} has "
                         f"{len(optimizer.param_groups)}")
    params = {}
    for i, (group, own) in enumerate(zip(groups, optimizer.param_groups)):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list):
            raise ValueError(f"the checkpoint's optimizer param group {i} is damaged")
        absent = [k for k in optimizer.defaults if k not in group]
        if absent:
            kind = saved_class or "another optimizer"
            raise ValueError(f"the checkpoint's optimizer state comes from {kind} (its param group {i} has no "
                             f"{absent}, which {name} needs)")
        if len(group["params"]) != len(own["params"]):
            raise ValueError(f"the checkpoint's optimizer param group {i} has {len(group['params'])} parameters, "
                             f"the model's has {len(own['params'])}")
        params.update(zip((_index(i) for i in group["params"]), own["params"]))
    for index, values in saved["state"].items():
        param = params.get(_index(index))
        if param is None:
            raise ValueError(f"the checkpoint's optimizer has state for parameter {index!r}, which no group lists")
        if not isinstance(values, dict):
            raise ValueError(f"the checkpoint's optimizer state of parameter {index} is damaged")
        for key, value in values.items():
            shape, expected = _shape(value), optimizer.state_shape(key, param)
            if key != "step" and shape not in (None, ()) and shape != expected:
                raise ValueError(f"the checkpoint's optimizer state {key!r} of parameter {index} has shape {shape}, "
                                 f"the model's {name} keeps {expected} for a parameter of shape "
                                 f"{tuple(param.shape)}")


def _index(key):
    """A parameter number as the optimizer reads it (``int(key)``), or the key itself when it is none."""
    try:
        return int(key)
    except (TypeError, ValueError):
        return key


def _check_rng(saved) -> None:
    from ember import random as _random

    probe = type(_random.generator().bit_generator)()
    try:
        probe.state = saved
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"the checkpoint's random generator state does not fit {type(probe).__name__} ({exc})") \
            from None


__all__ = ["check_model_state"]


def _check_loader_generator(saved) -> None:
    if saved is None:
        return
    from ember.generator import Generator

    try:
        Generator().set_state(saved)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the checkpoint's DataLoader generator state does not fit a Generator ({exc})") from None

"""``skip_init`` (``torch.nn.utils.skip_init``): a module built without its initialization."""

from __future__ import annotations

import inspect

from ember import random
from ember.nn.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type, *args, **kwargs) -> Module:
    """``module_cls(*args, **kwargs)`` with its parameters and buffers left uninitialized, for code that sets them
    itself (``torch.nn.utils.skip_init``). As in PyTorch the global random generator does not move, and the class
    must take a ``device`` argument. Uninitialized memory in Ember is zero-filled (as ``ember.empty``), so every
    parameter and buffer holds zeros.

    >>> lin = ember.nn.utils.skip_init(ember.nn.Linear, 4, 2)
    >>> lin.weight.abs().sum().item()
    0.0
    """
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    with random.fork_rng():
        module = module_cls(*args, **kwargs)
    for tensor in (*module.parameters(), *module.buffers()):
        tensor.array[...] = 0
    return module

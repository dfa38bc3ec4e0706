"""Hooks that every Module call runs (PyTorch's ``torch.nn.modules.module.register_module_*_hook``).

They run before the module's own hooks of the same kind. ``Module`` reads the dicts here only on its hooked call
path: while none is registered it hands out plain ``forward`` as before (it swaps its ``__call__`` when the first
global hook comes and when the last one goes, through ``on_change``), so module calls cost nothing extra.

>>> handle = ember.nn.modules.module.register_module_forward_hook(lambda m, args, out: print(type(m).__name__))
>>> net(x)          # prints each module's class as its call returns
>>> handle.remove()
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from ember import traced_state

__all__ = ["RemovableHandle", "register_module_forward_hook", "register_module_forward_pre_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook"]

forward_pre: OrderedDict = OrderedDict()  # key -> hook(module, args)
forward: OrderedDict = OrderedDict()  # key -> hook(module, args, output) (or with kwargs)
backward: OrderedDict = OrderedDict()  # key -> hook(module, grad_input, grad_output)
backward_pre: OrderedDict = OrderedDict()  # key -> hook(module, grad_output)
options: dict = {}  # key -> the hook's options ("with_kwargs", "always_call")
_listeners: list = []
_counter = 0


def next_key() -> int:
    """A key no hook has had, global or a module's own (their options share lookups)."""
    global _counter
    _counter += 1
    return _counter


def registered() -> bool:
    """Whether any global hook is registered."""
    return bool(forward_pre or forward or backward or backward_pre)


def keys() -> tuple:
    """The keys of the hooks registered now, per kind (what an ``ember.jit`` trace compares)."""
    return tuple(forward_pre), tuple(forward), tuple(backward), tuple(backward_pre)


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after each global hook is registered or removed."""
    _listeners.append(listener)


class RemovableHandle:
    """Returned by hook registration; ``remove()`` unregisters the hook (also on leaving a ``with`` block)."""

    __slots__ = ("owner", "hooks", "key")

    def __init__(self, owner, hooks: dict, key: int):
        self.owner, self.hooks, self.key = owner, hooks, key

    @property
    def id(self) -> int:  # noqa: A003  (PyTorch's name)
        """The hook's key in its module's hook dict (``module._forward_hooks`` ...), as PyTorch's ``handle.id``."""
        return self.key

    def remove(self) -> None:
        self.owner._remove_hook(self.hooks, self.key)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class _Global:
    """The owner of the global hooks, for their handles."""

    @staticmethod
    def _remove_hook(hooks: dict, key: int) -> None:
        if hooks.pop(key, None) is not None:
            options.pop(key, None)
            _changed()


def _changed() -> None:
    for listener in _listeners:
        listener()
    traced_state.changed()


def _add(hooks: dict, hook: Callable, hook_options: tuple = ()) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"register_module hook: expected a callable, got {type(hook).__name__}")
    key = next_key()
    hooks[key] = hook
    if hook_options:
        options[key] = frozenset(hook_options)
    _changed()
    return RemovableHandle(_Global, hooks, key)


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, args)`` before every Module's ``forward`` (before the module's own pre-hooks); a
    returned value replaces the arguments (a non-tuple is wrapped in one).

    >>> handle = register_module_forward_pre_hook(lambda module, args: None)
    """
    return _add(forward_pre, hook)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """Call ``hook(module, args, output)`` after every Module's ``forward`` (``hook(module, args, kwargs, output)``
    with ``with_kwargs``), before the module's own forward hooks; a returned value replaces the output.
    ``always_call`` runs it also when the call raises.

    >>> handle = register_module_forward_hook(lambda module, args, output: None)
    """
    return _add(forward, hook, ("with_kwargs",) * with_kwargs + ("always_call",) * always_call)


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, grad_input, grad_output)`` in eager backward for every Module call, before the
    module's own full backward hooks (see ``Module.register_full_backward_hook``). Module calls inside
    ``ember.jit`` raise while one is registered, as with a module's own.

    >>> handle = register_module_full_backward_hook(lambda module, grad_input, grad_output: None)
    """
    return _add(backward, hook)


def register_module_full_backward_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, grad_output)`` in eager backward for every Module call, before the module's own
    backward pre-hooks; a returned tuple replaces ``grad_output``.

    >>> handle = register_module_full_backward_pre_hook(lambda module, grad_output: None)
    """
    return _add(backward_pre, hook)

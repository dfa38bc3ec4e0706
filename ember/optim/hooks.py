"""PyTorch's optimizer hooks: ``register_step_pre_hook``/``post_hook`` and the ``state_dict`` and
``load_state_dict`` pre- and post-hooks.

The first hook on a method puts a ``HookedMethod`` in the optimizer's ``__dict__``, in front of the class's
method: an optimizer without hooks runs its methods directly, at no cost. The ``HookedMethod`` holds its optimizer,
so ``copy.deepcopy`` of the optimizer gives a copy whose hooks run on the copy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

__all__ = ["HookHandle", "HookedMethod", "OptimizerHooks"]

_keys = itertools.count()


class HookHandle:
    """``remove()`` unregisters the hook (also on leaving a ``with`` block)."""

    __slots__ = ("hooks", "key")

    def __init__(self, hooks: dict, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class HookedMethod:
    """One of the optimizer's methods run between its pre- and post-hooks."""

    __slots__ = ("optimizer", "name", "pre", "post")

    def __init__(self, optimizer, name: str):
        self.optimizer, self.name = optimizer, name
        self.pre: dict = {}
        self.post: dict = {}

    def __call__(self, *args, **kwargs):
        optimizer = self.optimizer
        method = getattr(type(optimizer), self.name).__get__(optimizer)
        if self.name == "step":  # as PyTorch, the hooks see the optimizer as the first of the step's args
            args = (optimizer, *args)
            for hook in list(self.pre.values()):
                changed = hook(optimizer, args, kwargs)
                if changed is not None:
                    if not (isinstance(changed, tuple) and len(changed) == 2):
                        raise RuntimeError(f"optimizer step pre-hook {hook!r} must return None or (args, kwargs), "
                                           f"got {changed!r}")
                    args, kwargs = changed
            result = type(optimizer).step(*args, **kwargs)
            for hook in list(self.post.values()):
                hook(optimizer, args, kwargs)
            return result
        if self.name == "state_dict":
            for hook in list(self.pre.values()):
                hook(optimizer)
            state = method(*args, **kwargs)
            for hook in list(self.post.values()):
                changed = hook(optimizer, state)
                state = state if changed is None else changed
            return state
        (state,) = args  # load_state_dict
        for hook in list(self.pre.values()):
            changed = hook(optimizer, state)
            state = state if changed is None else changed
        method(state)
        for hook in list(self.post.values()):
            hook(optimizer)
        return None


class OptimizerHooks:
    """The hook registrations of ``Optimizer`` (PyTorch's names and call signatures)."""

    def register_step_pre_hook(self, hook: Callable) -> HookHandle:
        """``hook(optimizer, args, kwargs)`` before each ``step`` (``args[0]`` is the optimizer, as in PyTorch); it
        may return new ``(args, kwargs)``."""
        return self._add_hook("step", "pre", hook)

    def register_step_post_hook(self, hook: Callable) -> HookHandle:
        """``hook(optimizer, args, kwargs)`` after each ``step``."""
        return self._add_hook("step", "post", hook)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> HookHandle:
        """``hook(optimizer)`` before ``state_dict`` builds the dict."""
        return self._add_hook("state_dict", "pre", hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> HookHandle:
        """``hook(optimizer, state_dict)`` after; a returned dict replaces it."""
        return self._add_hook("state_dict", "post", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> HookHandle:
        """``hook(optimizer, state_dict)`` before ``load_state_dict``; a returned dict is loaded instead."""
        return self._add_hook("load_state_dict", "pre", hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> HookHandle:
        """``hook(optimizer)`` after ``load_state_dict``."""
        return self._add_hook("load_state_dict", "post", hook, prepend)

    def _add_hook(self, name: str, when: str, hook: Callable, prepend: bool = False) -> HookHandle:
        if not callable(hook):
            raise TypeError(f"register_{name}_{when}_hook: the hook must be callable, got {type(hook).__name__}")
        hooked = self.__dict__.get(name)
        if not isinstance(hooked, HookedMethod):
            hooked = self.__dict__[name] = HookedMethod(self, name)
        hooks = getattr(hooked, when)
        key = next(_keys)
        hooks[key] = hook
        if prepend:
            for other in [k for k in hooks if k != key]:
                hooks[other] = hooks.pop(other)
        return HookHandle(hooks, key)

"""What an ``ember.jit`` trace reads once and no call of it checks: gradient hooks (of tensors and modules), module
forward hooks and the parameters' ``requires_grad``; and which Tensors are a module's state, which it reads on every
call (``mark_state``).

Whatever changes any of it calls ``changed()``: ``version`` moves on and the listeners hear of it (``ember.jit``
drops its steady-state calls). A trace compares what it read only when ``version`` has moved since it last looked,
so a call pays one comparison for all of it, as for the modules' training modes.

>>> on_change(listener)      # listener() after every change
>>> seen = version           # later: version != seen when something changed meanwhile
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

__all__ = ["changed", "is_state", "mark_state", "on_change", "version"]

version = 0
_listeners: list = []
_STATE: dict[int, weakref.ref] = {}  # id -> the Tensor that a module holds as a parameter or buffer


def mark_state(t) -> None:
    """Mark ``t`` as a module's state (a parameter or a buffer): ``ember.jit`` reads such a Tensor on every call of
    a trace instead of freezing its value, so that what changes it between calls (training, ``load_state_dict``)
    is seen."""
    key = id(t)
    if key not in _STATE or _STATE[key]() is not t:
        _STATE[key] = weakref.ref(t, lambda _, key=key: _STATE.pop(key, None))


def is_state(t) -> bool:
    """Whether ``mark_state`` marked ``t``."""
    ref = _STATE.get(id(t))
    return ref is not None and ref() is t


def changed() -> None:
    """Something a trace may have read changed: move ``version`` on and tell the listeners."""
    global version
    version += 1
    for listener in _listeners:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after every ``changed()``."""
    _listeners.append(listener)

"""What an ``ember.jit`` trace reads once and no call of it checks: gradient hooks (of tensors and modules), module
forward hooks and the parameters' ``requires_grad``.

Whatever changes any of it calls ``changed()``: ``version`` moves on and the listeners hear of it (``ember.jit``
drops its steady-state calls). A trace compares what it read only when ``version`` has moved since it last looked,
so a call pays one comparison for all of it, as for the modules' training modes.

>>> on_change(listener)      # listener() after every change
>>> seen = version           # later: version != seen when something changed meanwhile
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["changed", "on_change", "version"]

version = 0
_listeners: list = []


def changed() -> None:
    """Something a trace may have read changed: move ``version`` on and tell the listeners."""
    global version
    version += 1
    for listener in _listeners:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after every ``changed()``."""
    _listeners.append(listener)

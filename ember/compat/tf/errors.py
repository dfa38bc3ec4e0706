"""``tf.errors``: the exceptions a TF-1 Session raises while it runs a graph, each a subclass of ``OpError``."""

from __future__ import annotations

__all__ = ["FailedPreconditionError", "InvalidArgumentError", "NotFoundError", "OpError", "OutOfRangeError"]


class OpError(Exception):
    """An op failed while a Session ran it; ``message`` says why and ``op`` names the op where it is known."""

    def __init__(self, node_def=None, op=None, message: str = ""):
        super().__init__(message)
        self.node_def, self.op, self.message = node_def, op, message


class InvalidArgumentError(OpError, ValueError):
    """An op met a value it refuses (a failed ``tf.Assert``, a NaN under ``tf.check_numerics``)."""


class FailedPreconditionError(OpError, ValueError):
    """The graph was run before a state it needs (an uninitialized variable)."""


class OutOfRangeError(OpError):
    """The iterator has no more elements."""

    def __init__(self, node_def=None, op=None, message: str = "End of sequence"):
        super().__init__(node_def, op, message)


class NotFoundError(OpError):
    """Something named was not found (a file, a checkpoint's key)."""

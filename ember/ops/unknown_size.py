"""``UnknownSize``: what user code reads from ``x.shape``/``x.size()`` for a dimension a graph leaves unknown.

While a graph is built for sizes known only at the call (``ember.jit(..., dynamic=True)``, or a second batch
size; a graph input with a None dimension), such a dimension is None in the graph's shapes. Handed to user code
as None, ``if x.shape[0] == 1:`` would be silently False for every call. An ``UnknownSize`` instead refuses
what needs its value (``==``/``<`` with a number, ``bool``, ``int``, ``range``, indexing) with a TypeError naming
the dimension, which ``ember.jit`` turns into a trace for the call's own sizes (listed in ``specialized``), and
keeps what the graph can express: passed to ``reshape``/``view`` it is the unknown dimension again, and
``+``, ``-``, ``*``, ``//`` with ints make a computed size that ``reshape`` infers (as a -1).

>>> n = x.shape[0]            # an UnknownSize while tracing for any batch size
>>> x.reshape(n, -1)          # fine: the batch dimension stays unknown
>>> x.reshape(n * 4, 3)       # fine: reshape infers the computed size
>>> if n == 1: ...            # TypeError: dimension 0 of %0 (float32[?, 4, 3]) is unknown ...
"""

from __future__ import annotations

import os
import sys

__all__ = ["UnknownSize", "UnknownSizeError", "from_user"]


class UnknownSizeError(TypeError):
    """A use of an ``UnknownSize`` that needs its value."""


def from_user(frame) -> bool:
    """Whether ``frame`` runs code outside Ember (the user's, which reads unknown sizes as ``UnknownSize``)."""
    name = frame.f_globals.get("__name__", "")
    return not (name == "ember" or name.startswith("ember."))


def _user_line() -> str:
    """`` (at file.py:12, in forward)``: the first frame of user code up the stack, or nothing."""
    frame = sys._getframe(2)
    while frame is not None and not from_user(frame):
        frame = frame.f_back
    if frame is None:
        return ""
    return f" (at {os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}, in {frame.f_code.co_name})"


class UnknownSize:
    """An unknown size: a dimension of a graph value (``what`` describes it; ``source``: the value and axis), or
    one ``computed`` from such by int arithmetic (``source``: the symbol and the two operands). Equal to None and
    to another uncomputed unknown size (the passes take all unknown dimensions of a traced call for one size, the
    batch); in user code any use that needs the number raises. To Ember's own code, which receives it where a user
    passes a size on (``reshape(x.shape[0], -1)``), it is None: unequal to any number and false."""

    __slots__ = ("what", "computed", "source")

    def __init__(self, what: str, computed: bool = False, source: tuple | None = None):
        self.what, self.computed, self.source = what, computed, source

    def refuse(self, use: str) -> UnknownSizeError:
        """The error for a ``use`` that needs the size's value."""
        return UnknownSizeError(f"{use}{_user_line()}: {self.what} is unknown while the graph is built (each "
                                "call may bring another size), so Python cannot branch on it or use it as a number; "
                                "compute with tensor ops instead (ember.where), give -1 or the size itself to "
                                "reshape/view, or call ember.jit with dynamic=False (a trace per size)")

    def __eq__(self, other):
        if other is None or (other.__class__ is UnknownSize and not (self.computed or other.computed)):
            return True
        if not from_user(sys._getframe(1)):
            return False
        raise self.refuse(f"comparing it with {other!r}")

    def __ne__(self, other):
        if other is None or (other.__class__ is UnknownSize and not (self.computed or other.computed)):
            return False
        if not from_user(sys._getframe(1)):
            return True
        raise self.refuse(f"comparing it with {other!r}")

    def __hash__(self) -> int:
        return hash(None)  # equal to None

    def _order(self, other):
        raise self.refuse(f"ordering it against {other!r}")

    __lt__ = __le__ = __gt__ = __ge__ = _order

    def __bool__(self) -> bool:
        if not from_user(sys._getframe(1)):
            return False
        raise self.refuse("its truth value")

    def __index__(self) -> int:
        raise self.refuse("using it as an int (len, range, an index, a size)")

    def __int__(self) -> int:
        raise self.refuse("int()")

    def __float__(self) -> float:
        raise self.refuse("float()")

    def _arithmetic(symbol: str, reflected: bool = False):
        def compute(self, other):
            if other.__class__ is not int and other.__class__ is not UnknownSize:
                return NotImplemented
            left, right = (other, self) if reflected else (self, other)
            source = None if self.source is None or getattr(other, "source", 0) is None else (symbol, left, right)
            return UnknownSize(f"{_term(left)} {symbol} {_term(right)}", computed=True, source=source)

        return compute

    __add__, __radd__ = _arithmetic("+"), _arithmetic("+", True)
    __sub__, __rsub__ = _arithmetic("-"), _arithmetic("-", True)
    __mul__, __rmul__ = _arithmetic("*"), _arithmetic("*", True)
    __floordiv__, __rfloordiv__ = _arithmetic("//"), _arithmetic("//", True)
    del _arithmetic

    def __neg__(self):
        return 0 - self

    def __str__(self) -> str:
        return "?"

    def __repr__(self) -> str:
        return f"UnknownSize({self.what})"


def _term(x) -> str:
    if x.__class__ is UnknownSize:
        return f"({x.what})" if x.computed else x.what
    return repr(x)

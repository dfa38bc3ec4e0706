"""``torch.compiler``: the names model code calls around compilation. Ember compiles by tracing the Python
(``ember.jit``, ``ember.compile``), so markers that keep a function out of the compiler's view keep its meaning
by leaving it as it is: traced, it computes what it computes eagerly."""

from __future__ import annotations

from collections.abc import Callable

from ember.autograd import building
from ember.torch_compile import compile  # noqa: A004  (torch.compiler.compile)

__all__ = ["allow_in_graph", "assume_constant_result", "compile", "cudagraph_mark_step_begin", "disable",
           "is_compiling", "is_dynamo_compiling", "reset"]


def disable(fn: Callable | None = None, recursive: bool = True, *, reason: str | None = None):
    """``@disable`` / ``disable(fn)``: ``fn`` as it is (a trace runs it as Python, with the same results)."""
    if fn is None:
        return lambda f: f
    return fn


def is_compiling() -> bool:
    """Whether a trace is being taken now (``ember.jit``, ``ember.compile``, an export)."""
    return building()


is_dynamo_compiling = is_compiling


def reset() -> None:
    """Nothing to clear: each compiled function keeps its own cache, dropped with it."""


def allow_in_graph(fn: Callable) -> Callable:
    """``fn`` as it is: a trace records the ops it calls."""
    return fn


def assume_constant_result(fn: Callable) -> Callable:
    """``fn`` as it is: a trace records what it returns, as its Python values freeze into the graph."""
    return fn


def cudagraph_mark_step_begin() -> None:
    """Accepted: Ember's compiled steps keep no CUDA graph across steps."""


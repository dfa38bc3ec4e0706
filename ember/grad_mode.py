"""Grad mode: whether ops called now are recorded for backward, per thread (``no_grad``, ``enable_grad``,
``set_grad_enabled``). The lowest part of the tape: ``Tensor`` and its in-place methods read it, ``autograd``
records by it."""

from __future__ import annotations

import functools
import inspect
import itertools
import threading
import weakref
from collections.abc import Callable


class ThreadMode(threading.local):
    """Per-thread switches: whether ops are recorded for backward, and the graph being built, if any (a
    data-loading thread under no_grad leaves the training thread recording; a thread tracing ``ember.jit``
    leaves the others eager)."""

    grad_enabled = True  # True, False, DUAL or TANGENTS (recording inside a forward-mode scope, and no_grad there)
    forward_ad = False  # inside a forward-mode scope (dual_level, ember.func.jvp, jacfwd): see TANGENTS
    through_tangents = False  # a backward computing tangents runs (tangent_pass): it goes through TangentNodes
    inference = False  # inside an inference_mode block (is_inference_mode_enabled)
    builder = None  # the Graph being built (autograd.set_graph_builder): autograd.apply appends nodes to it


thread_mode = ThreadMode()

# One sequence numbers tape nodes (autograd.Node.seq) and in-place writes (Tensor._written): a backward raises for
# a node whose input was written after the node was recorded (autograd._check_writes).
next_stamp = itertools.count().__next__
last_write = -1  # the stamp of the latest in-place write of any tensor (backward looks closer only past it)


# id(array owning some memory) -> stamp of the latest in-place write into that memory (the entry goes with the
# array): views and detached aliases of a tensor share its version, as PyTorch's views share a version counter.
_memory_writes: dict = {}
_owners: dict = {}  # the same ids -> weak references to the arrays, whose callbacks drop both entries


class OwnVersion(int):
    """A ``_written`` stamp of a tensor whose writes leave its memory's version as it was (``Tensor.data``, as
    PyTorch's ``.data`` has a version counter of its own)."""


def mark_written(tensor) -> None:
    """Note that ``tensor``'s values change in place now (in-place methods, item assignment): the tensor's own
    stamp and, unless it is a ``.data`` alias, its memory's, which its views and ``detach()``ed aliases read."""
    global last_write
    stamp = last_write = next_stamp()
    if getattr(tensor, "_written", -1).__class__ is OwnVersion:
        tensor._written = OwnVersion(stamp)
        return
    tensor._written = stamp
    owner = tensor.array
    if getattr(owner, "base", None) is not None:
        owner = memory_owner(owner)
    key = id(owner)
    if key not in _memory_writes:
        try:
            _owners[key] = weakref.ref(owner, lambda _, key=key: _forget(key))
        except TypeError:  # an array type without weak references
            return
    _memory_writes[key] = stamp


def _forget(key: int) -> None:
    _memory_writes.pop(key, None)
    _owners.pop(key, None)


def mark_replaced(tensor) -> None:
    """Note that ``tensor`` moves to a new value in new memory, or off its node, now (a recorded in-place op,
    ``detach_``): nodes that read it before refuse a backward, whatever their vjp reads (a backward follows the
    tensor's current node, which no longer made the value they read), while its old memory, which aliases keep,
    is unchanged."""
    global last_write
    tensor._written = tensor._replaced = last_write = next_stamp()


def memory_owner(array):
    """The array that owns the memory ``array`` views (itself when it owns it)."""
    base = getattr(array, "base", None)
    while base is not None and hasattr(base, "dtype"):  # (a frombuffer array's base is bytes)
        array, base = base, getattr(base, "base", None)
    return array


def memory_written(array) -> int:
    """The stamp of the latest in-place write into ``array``'s memory through any tensor (-1 if none)."""
    return _memory_writes.get(id(memory_owner(array)), -1) if _memory_writes else -1


class _ForwardMode:
    """A grad mode inside a forward-mode scope, where ``autograd.apply`` also asks whether a node is recorded only
    for tangents (``tape.TangentNode``). ``TANGENTS``, that of a ``no_grad`` block there: PyTorch's no_grad leaves
    forward AD on, and Ember computes tangents on the tape, so ops are still recorded (the mode is truthy) while
    ``is_grad_enabled()`` says False; a backward the user starts treats what they compute as constants. In-place
    writes there are recorded only into a tensor that carries a tangent already (``keeps_tangent``): a buffer
    updated under no_grad (BatchNorm's running stats) gets none. ``DUAL``, recording on in such a scope."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


TANGENTS = _ForwardMode("TANGENTS")
DUAL = _ForwardMode("DUAL")
tangent_nodes = False  # whether a node was recorded only for tangents (user backward passes then skip them)


def is_grad_enabled() -> bool:
    """Whether ops called now (in this thread) are recorded for backward."""
    mode = thread_mode.grad_enabled
    return mode is not TANGENTS and bool(mode)


def is_recording() -> bool:
    """Whether ops called now are recorded on the tape: under grad mode, or for tangents (``TANGENTS``)."""
    return bool(thread_mode.grad_enabled)


def keeps_tangent(tensor) -> bool:
    """Whether an in-place write into ``tensor`` under no_grad inside a forward-mode scope is recorded: the tensor
    is a recorded result, so it carries a tangent the write must update."""
    return thread_mode.grad_enabled is TANGENTS and tensor.requires_grad and tensor.node is not None


def _switched(mode):
    """The grad mode that switching to ``mode`` sets: ``DUAL`` or ``TANGENTS`` inside a forward-mode scope."""
    if thread_mode.forward_ad:
        return DUAL if mode else TANGENTS
    return mode


class tangent_pass:  # noqa: N801  (a context manager, as no_grad)
    """A backward run inside computes tangents (``forward_ad.unpack_dual``, ``ember.func.jvp``, ``jacfwd``): it
    goes through the nodes recorded only for them, which backward passes the user starts treat as constants."""

    __slots__ = ("prev",)

    def __enter__(self):
        self.prev = thread_mode.through_tangents
        thread_mode.through_tangents = True

    def __exit__(self, *exc):
        thread_mode.through_tangents = self.prev


class GradMode:
    """Context manager and decorator that sets whether ops are recorded (in the calling thread)."""

    __slots__ = ("mode", "prev", "preset")
    keeps_tangents = True  # off inside a forward-mode scope still records for tangents (TANGENTS)

    def __init__(self, mode: bool):
        self.mode = mode
        self.prev = []  # the mode to restore per open block (one object may be entered again inside itself)
        self.preset = None  # set_grad_enabled: the mode its call replaced, restored by the first block's exit

    def __enter__(self):
        preset = self.preset
        if preset is None:
            preset = thread_mode.grad_enabled
        else:
            self.preset = None
        self.prev.append(preset)
        thread_mode.grad_enabled = _switched(self.mode) if self.keeps_tangents else self.mode

    def __exit__(self, *exc):
        if not self.prev and self.preset is not None:  # set_grad_enabled(m).__exit__() unentered: undo the call
            thread_mode.grad_enabled, self.preset = self.preset, None
            return
        thread_mode.grad_enabled = self.prev.pop()

    def __call__(self, fn):
        if self.preset is not None:  # @set_grad_enabled(mode): as PyTorch, decorating switches nothing
            thread_mode.grad_enabled = self.preset
            self.preset = None
        return _decorated(fn, GradMode, self.mode)


def _decorated(fn, manager, mode: bool):
    """``fn`` run inside ``manager(mode)`` (``GradMode``, ``InferenceMode``); a generator function's body inside it
    while the generator runs, not while it is made."""
    if inspect.isgeneratorfunction(fn):
        def wrapper(*args, **kwargs):
            return (yield from _in_mode(fn(*args, **kwargs), manager, mode))
    else:
        def wrapper(*args, **kwargs):
            with manager(mode):
                return fn(*args, **kwargs)

    return functools.wraps(fn)(wrapper)


def _in_mode(gen, manager, mode: bool):
    """Run the generator ``gen`` inside ``manager(mode)`` (``GradMode``, ``InferenceMode``) each time it resumes, its
    caller in its own mode."""
    method, value = gen.send, None
    while True:
        try:
            with manager(mode):
                item = method(value)
        except StopIteration as stop:
            return stop.value
        try:
            method, value = gen.send, (yield item)
        except GeneratorExit:
            with manager(mode):
                gen.close()
            raise
        except BaseException as exc:  # thrown into this generator: hand it on to gen
            method, value = gen.throw, exc


def no_grad(orig_func: Callable | None = None) -> GradMode | Callable:
    """Stop recording ops: ``with ember.no_grad(): y = model(x)`` (also a decorator, with or without the
    parentheses, as PyTorch's)."""
    if orig_func is not None:  # used as a bare decorator: @ember.no_grad
        return GradMode(False)(orig_func)
    return GradMode(False)


def enable_grad(orig_func: Callable | None = None) -> GradMode | Callable:
    """Record ops again inside a ``no_grad`` block (also a decorator, with or without the parentheses)."""
    if orig_func is not None:  # used as a bare decorator: @ember.enable_grad
        return GradMode(True)(orig_func)
    return GradMode(True)


def set_grad_enabled(mode: bool) -> GradMode:
    """Set recording on or off; usable as a plain call, a context manager or a decorator."""
    guard = GradMode(mode)
    guard.preset = thread_mode.grad_enabled
    thread_mode.grad_enabled = _switched(mode)
    return guard


class ExactGradMode(GradMode):
    """``GradMode`` whose off records nothing inside a forward-mode scope too (no ``TANGENTS``): the tape's own
    backward passes, a custom Function's forward (its backward differentiates it)."""

    __slots__ = ()
    keeps_tangents = False


class forward_mode:  # noqa: N801  (a context manager, as no_grad)
    """A forward-mode scope (``on``: ``dual_level``, ``ember.func.jvp``, ``jacfwd``) or a reverse-mode one
    (``ember.func.grad``, ``vjp``), which stays a forward-mode scope inside one: its no_grad blocks are constants to
    its backward, as PyTorch's grad respects them, while tangents go through them (``jvp(grad(f))``, ``hessian``).
    Ops are recorded inside either."""

    __slots__ = ("on", "prev")

    def __init__(self, on: bool):
        self.on = on
        self.prev = []

    def __enter__(self):
        self.prev.append((thread_mode.grad_enabled, thread_mode.forward_ad))
        on = self.on or thread_mode.forward_ad
        thread_mode.grad_enabled, thread_mode.forward_ad = DUAL if on else True, on

    def __exit__(self, *exc):
        thread_mode.grad_enabled, thread_mode.forward_ad = self.prev.pop()


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside an ``inference_mode`` block or function (``torch.is_inference_mode_enabled``)."""
    return thread_mode.inference


class InferenceMode:
    """``inference_mode(mode)``: with ``mode`` true, ops are not recorded and ``is_inference_mode_enabled()`` is
    True inside (a context manager and a decorator); with ``mode`` false ops are recorded and the latter is False
    inside."""

    __slots__ = ("mode", "prev")

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.prev = []  # (grad mode, inference mode) to restore per open block

    def __enter__(self):
        self.prev.append((thread_mode.grad_enabled, thread_mode.inference))
        thread_mode.grad_enabled = not self.mode  # as PyTorch's: inference_mode(False) records
        thread_mode.inference = self.mode

    def __exit__(self, *exc):
        thread_mode.grad_enabled, thread_mode.inference = self.prev.pop()

    def __call__(self, fn):
        return _decorated(fn, InferenceMode, self.mode)


def inference_mode(mode=True):
    """``torch.inference_mode``: ops are not recorded inside the block or the decorated function (as under
    ``no_grad``; there is no separate inference tensor kind) and ``is_inference_mode_enabled()`` is True there.
    ``inference_mode(False)`` records ops inside, as PyTorch's (even within ``no_grad`` or ``inference_mode``)."""
    if callable(mode):  # used as a bare decorator: @ember.inference_mode
        return InferenceMode(True)(mode)
    return InferenceMode(mode)

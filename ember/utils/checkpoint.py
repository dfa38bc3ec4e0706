"""``ember.utils.checkpoint``: activation checkpointing in eager mode (PyTorch's ``torch.utils.checkpoint``).

``checkpoint(fn, *args)`` runs ``fn`` without recording it, so none of its intermediate values stays alive for
the backward. The tape gets one node for the call instead, whose inputs are the tensors that require grad which
``fn``'s ops read (its arguments, the parameters of the modules it calls, tensors it closes over): a builder
installed where ``autograd.apply`` looks for a graph builder sees each op call's inputs and runs it eagerly.
That node's backward runs ``fn`` again, recorded, from the random state and autocast state of the first run
(dropout draws the same mask), with those tensors replaced by detached stand-ins, and takes the gradients of the
outputs for the stand-ins: the same ops as a run without checkpointing, so the same gradients.

Under ``ember.jit``, or while a graph is built, ``checkpoint`` calls ``fn`` and nothing more: the compiled graph's
memory plan frees each value after its last use already.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence

from ember import autograd
from ember.autograd import Node, apply, enable_grad, is_grad_enabled, no_grad
from ember.backend.devices import array_module
from ember.backend.dtypes import is_floating
from ember.grad_mode import thread_mode
from ember.ops import autocast as _autocast
from ember.ops.registry import NO_ONNX, Cost, Op
from ember.ops.shape import RESHAPE
from ember.random import get_rng_state, set_rng_state
from ember.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Builder:
    """``apply``'s builder while a checkpointed function runs: each op call has the tensors ``swap`` names (by id)
    replaced, the tensors that require grad among its inputs noted in ``reads``, and then runs eagerly (through
    the builder below, a profiler's or an outer checkpoint's, when there is one)."""

    runs_eagerly = True  # autograd.building() stays False: layers take their eager paths, as without checkpointing
    __slots__ = ("below", "swap", "reads")

    def __init__(self, below, swap: dict | None = None, reads: dict | None = None):
        outer = getattr(below, "swap", None) if isinstance(below, _Builder) else None
        self.below = below
        self.swap = {**outer, **(swap or {})} if outer else swap  # an outer recomputation's stand-ins first
        self.reads = reads

    def build(self, op, inputs: tuple, attrs):
        swap = self.swap
        reads = self.reads
        if swap:
            named = inputs
            inputs = tuple([swap.get(id(t), t) for t in inputs])
            if reads is not None:  # keyed by the tensor named, which a later run outside this builder reads
                for t, read in zip(named, inputs):
                    if read.requires_grad:
                        reads.setdefault(id(t), read)
        elif reads is not None:
            for t in inputs:
                if t.requires_grad:
                    reads.setdefault(id(t), t)
        below = self.below
        return below.build(op, inputs, attrs) if below is not None else autograd.run_eager(op, inputs, attrs)


@contextlib.contextmanager
def _installed(builder: _Builder):
    autograd.set_graph_builder(builder)
    try:
        yield
    finally:
        autograd.set_graph_builder(builder.below)


@contextlib.contextmanager
def _random_state(state):
    """The generators set to ``state`` for the block (None: left as they are), and given their own state back."""
    if state is None:
        yield
        return
    saved = get_rng_state()
    set_rng_state(state)
    try:
        yield
    finally:
        set_rng_state(saved)


def _values(outputs) -> list | None:
    if isinstance(outputs, Tensor):
        return [outputs]
    return list(outputs) if isinstance(outputs, (tuple, list)) else None


def _differentiable(value) -> bool:
    return isinstance(value, Tensor) and is_floating(value.dtype)


class _Segment:
    """One checkpointed call: what running it again needs, and the gradients of its outputs as the backward
    hands them over."""

    __slots__ = ("function", "args", "kwargs", "rng", "amp", "context", "names", "boundary", "specs", "grads")

    def __init__(self, function: Callable, args: tuple, kwargs: dict, rng, amp: tuple, context, reads: dict):
        self.function, self.args, self.kwargs, self.rng, self.amp = function, args, kwargs, rng, amp
        self.context = context  # entered around the recomputation (context_fn's second)
        # the tensors the function's ops read that require grad, and the ids of the tensors they name: the same
        # but inside an outer checkpoint's recomputation, where a parameter named is read as that one's stand-in
        self.names, self.boundary = list(reads), list(reads.values())
        self.specs = None  # the outputs' (shape, dtype), which the recomputation must give again (determinism_check)
        self.grads: dict = {}

    def connect(self, outputs):
        """``outputs`` with each floating Tensor given a node that hands its gradient to this segment. Those nodes
        read one anchor tensor, whose node reads the boundary: the backward reaches it after every output's node,
        and there runs the segment again once, with all the outputs' gradients."""
        values = _values(outputs)
        if values is None:
            raise TypeError(f"checkpoint: the function must return a Tensor or a tuple or list of them, got "
                            f"{type(outputs).__name__}")
        if self.specs is not None:
            self.specs = _specs(values)
        xp = array_module(self.boundary[0].array)
        anchor = Tensor._make(xp.zeros(()), Node(_RECOMPUTE, tuple(self.boundary), {"segment": self},
                                                 (True,) * len(self.boundary), None))
        for i, value in enumerate(values):
            if _differentiable(value):
                values[i] = Tensor._make(value.array, Node(_OUTPUT, (anchor,), {"segment": self, "index": i},
                                                           (True,), None))
        return values[0] if isinstance(outputs, Tensor) else type(outputs)(values)

    def backward(self) -> tuple:
        """The boundary's gradients: the function run again, recorded, and differentiated for stand-ins of the
        boundary tensors."""
        grads, self.grads = self.grads, {}  # (a later backward over a retained graph starts afresh)
        stand_ins, inputs = {}, []
        for name, t in zip(self.names, self.boundary):
            stand_in = Tensor._make(t.array, None)
            stand_in.requires_grad = True
            stand_ins[name] = stand_in
            inputs.append(stand_in)
        create_graph = is_grad_enabled()
        # under create_graph the gradients must lead on to the boundary tensors (a second order reaches them):
        # identity nodes of theirs, made before the recomputation so that the tape orders them after its nodes,
        # become the stand-ins' own once the gradients are taken (before, the walk would run on into the whole
        # graph upstream of the boundary)
        links = [apply(RESHAPE, (t,), {"shape": tuple(t.shape)}).node for t in self.boundary] if create_graph \
            else None
        amp = contextlib.ExitStack()  # the forward's autocast, on or off per device type, as PyTorch's
        for device_type, on, dtype in zip(("cpu", "cuda"), self.amp[:2], self.amp[2:]):
            amp.enter_context(_autocast.autocast(device_type, dtype, enabled=on is not None))
        with enable_grad(), _random_state(self.rng), amp, self.context, \
                _installed(_Builder(thread_mode.builder, swap=stand_ins)):
            outputs = self.function(*self.args, **self.kwargs)
        if self.specs is not None and _specs(_values(outputs) or []) != self.specs:
            raise RuntimeError(f"checkpoint: the recomputed outputs {_describe(_specs(_values(outputs) or []))} "
                               f"differ from the forward's {_describe(self.specs)}; pass determinism_check='none' to "
                               "skip this check")
        # an output that is a boundary tensor itself (an argument handed back) stands for it as its stand-in
        values = [stand_ins.get(id(v), v) for v in _values(outputs) or []]
        roots = [(values[i], g) for i, g in sorted(grads.items())
                 if i < len(values) and isinstance(values[i], Tensor) and values[i].requires_grad]
        if not roots:
            return (None,) * len(self.boundary)
        result = autograd.grad([r for r, _ in roots], inputs, [g for _, g in roots], create_graph=create_graph,
                               allow_unused=True)
        if links is not None:
            for stand_in, link in zip(inputs, links):
                stand_in.node = link
        return result


def _specs(values: list) -> list:
    return [(tuple(v.shape), v.dtype) if isinstance(v, Tensor) else None for v in values]


def _describe(specs: list) -> str:
    return "(" + ", ".join("-" if s is None else f"{s[1]}{list(s[0])}" for s in specs) + ")"


def _take_output_grad(ctx, g) -> tuple:
    ctx.attrs["segment"].grads[ctx.attrs["index"]] = g
    return (Tensor._make(array_module(g.array).zeros(()), None),)  # reaches the anchor, whose node runs the segment


def _recompute(ctx, g) -> tuple:
    return ctx.attrs["segment"].backward()


def _eager_only(*args, **attrs):
    raise TypeError("checkpoint: its tape nodes exist in eager mode only")


# Tape-only records (never registered: no graph holds them, as ember.jit runs a checkpointed function plainly).
_OUTPUT = Op("checkpoint_output", _eager_only, _eager_only, _take_output_grad, lambda *a, **k: Cost(0, 0), False,
             NO_ONNX, False)
_RECOMPUTE = Op("checkpoint", _eager_only, _eager_only, _recompute, lambda *a, **k: Cost(0, 0), False, NO_ONNX, False)


def _traced(args: tuple, kwargs: dict) -> bool:
    return autograd.building() or any(isinstance(v, Tensor) and v.symbolic for v in (*args, *kwargs.values()))


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None, context_fn: Callable | None = None,
               determinism_check: str = "default", debug: bool = False, early_stop: bool = True,
               preserve_rng_state: bool = True, **kwargs):
    """``function(*args, **kwargs)``, keeping none of its intermediate values for the backward, which runs it
    again (from the same random state when ``preserve_rng_state``) and backpropagates through that run.

    Gradients reach every tensor the function reads that requires grad, parameters included, and equal a plain
    call's. ``use_reentrant=True`` is PyTorch's older form: nothing is recorded when no tensor argument requires
    grad, and keyword arguments are refused. ``context_fn`` returns two context managers, entered around the
    forward and around the recomputation; ``determinism_check="default"`` compares the recomputed outputs' shapes
    and dtypes with the forward's (``"none"``: no check). The recomputation always runs the whole function
    (``early_stop`` changes nothing in the results). Under ``ember.jit`` it calls ``function``: the compiled
    graph's memory plan frees each value after its last use already.

    >>> h = ember.utils.checkpoint.checkpoint(block, x, use_reentrant=False)
    """
    if use_reentrant and kwargs:
        raise ValueError(f"checkpoint: use_reentrant=True takes no keyword arguments for the function, got "
                         f"{sorted(kwargs)}; pass use_reentrant=False")
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if use_reentrant and context_fn is not None:
        raise ValueError("checkpoint: context_fn is supported only with use_reentrant=False")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got {determinism_check!r}")
    if debug:
        raise NotImplementedError("checkpoint: debug=True (PyTorch's operator traces of a recomputation that "
                                  "differs) is not implemented; determinism_check names the differing outputs")
    del early_stop
    if not is_grad_enabled() or _traced(args, kwargs):
        return function(*args, **kwargs)
    if use_reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("checkpoint: none of the inputs has requires_grad=True (use_reentrant=True); the "
                      "gradients will be None", UserWarning, stacklevel=2)
        with no_grad():
            return function(*args)
    rng = get_rng_state() if preserve_rng_state else None
    amp = _autocast.state()
    forward_context, recompute_context = context_fn() if context_fn is not None else (contextlib.nullcontext(),) * 2
    reads: dict = {}
    with no_grad(), forward_context, _installed(_Builder(thread_mode.builder, reads=reads)):
        outputs = function(*args, **kwargs)
    if not reads:  # nothing it read requires grad: a plain call's result, which records nothing either
        return outputs
    segment = _Segment(function, args, kwargs, rng, amp, recompute_context, reads)
    if determinism_check == "default":
        segment.specs = []
    return segment.connect(outputs)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None, **kwargs):  # noqa: A002
    """Run ``functions`` (an ``nn.Sequential`` or a list of callables) on ``input`` in ``segments`` parts, each
    but the last checkpointed (PyTorch's ``checkpoint_sequential``; ``preserve_rng_state`` may be given).

    >>> y = ember.utils.checkpoint.checkpoint_sequential(model, 4, x, use_reentrant=False)
    """
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise TypeError(f"checkpoint_sequential: unexpected keyword arguments {sorted(kwargs)}")
    if not isinstance(functions, Sequence):
        functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    functions = list(functions)
    if not isinstance(segments, int) or not 0 < segments <= max(len(functions), 1):
        raise ValueError(f"checkpoint_sequential: segments must be an int in [1, {len(functions)}] (the number of "
                         f"functions), got {segments!r}")
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(_run(functions[start:end + 1]), input, use_reentrant=use_reentrant,  # noqa: A001
                           preserve_rng_state=preserve)
    return _run(functions[end + 1:])(input)


def _run(functions: list) -> Callable:
    def forward(x):
        for f in functions:
            x = f(x)
        return x

    return forward

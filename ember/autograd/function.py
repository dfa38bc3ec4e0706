"""Custom differentiable functions (PyTorch's ``torch.autograd.Function``): a Python forward and a Python backward.

``Fn.apply(*args)`` runs ``Fn.forward`` with recording off and joins its outputs to its Tensor arguments on the
tape with nodes of two kinds: one node reading the arguments (``_Call``), whose output is an empty stand-in, and
one node per differentiable output (``_Output``) reading that stand-in. A backward reaches every output's node
before the shared one (they were recorded after it); each hands its gradient on as one slot of a ``_Slots``, the
tape adds the slots up as it adds any gradients, and the shared node then calls ``Fn.backward`` once with all the
outputs' gradients. Its results run through the tape like any vjp's: with ``create_graph=True`` a backward
written with Ember ops is recorded and can be differentiated again.
"""

from __future__ import annotations

import functools
import inspect
import weakref

import numpy as np

from ember import grad_mode
from ember.autograd.tape import Node, building_graph, grad, node_class
from ember.backend.devices import array_module
from ember.grad_mode import ExactGradMode, is_grad_enabled, mark_written, memory_written
from ember.grad_mode import thread_mode as _mode
from ember.ops.shape import unbroadcast
from ember.tensor import Tensor

_EMPTY = np.empty(0)  # the shared node's output: nothing reads its values


class FunctionCtx:
    """The ``ctx`` a ``Function``'s forward fills and its backward reads: saved tensors, which inputs need a
    gradient, and any attribute the forward sets."""

    def __init__(self, name: str, needs_input_grad: tuple):
        self._name = name
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved: tuple = ()
        self._saved_forward: tuple | None = None  # (save_for_forward's, which saved_tensors gives inside jvp)
        self._in_jvp = False
        self._inputs: tuple = ()  # the Tensor arguments, as the tape reads them
        self._dirty: tuple = ()
        self._non_differentiable: tuple = ()
        self._seq = None  # the call's node's sequence number, once recorded: saved tensors written later are stale

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` (Tensors or None) for the backward, as ``saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"{self._name}: save_for_backward takes Tensors or None, got {type(t).__name__} "
                                f"at position {i}; keep other values as attributes of ctx")
        self._saved = tensors

    def save_for_forward(self, *tensors) -> None:
        """Keep ``tensors`` (Tensors or None) for the ``jvp``, which reads them as ``saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"{self._name}: save_for_forward takes Tensors or None, got {type(t).__name__} "
                                f"at position {i}; keep other values as attributes of ctx")
        self._saved_forward = tensors

    @property
    def saved_tensors(self) -> tuple:
        """What ``save_for_backward`` kept (inside ``jvp``, what ``save_for_forward`` kept); an error if one was
        changed in place after the call (PyTorch's version check), as the backward would read the new values."""
        saved = self._saved if self._saved_forward is None or not self._in_jvp else self._saved_forward
        saved = tuple(t.get() if t.__class__ is _SavedOutput else t for t in saved)
        seq = self._seq
        if seq is not None and grad_mode.last_write > seq:
            for t in saved:
                if t is not None and max(getattr(t, "_written", -1), memory_written(t.array)) > seq:
                    raise RuntimeError(f"{self._name}Backward: a saved tensor ({t.dtype}{list(t.shape)}) was modified "
                                       "by an in-place operation after the forward saved it; change a clone() "
                                       "instead, or run the forward again after the change")
        return saved

    def mark_dirty(self, *tensors) -> None:
        """Say that the forward changed these inputs in place (and returns them)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Say that these outputs have no gradient (indices, masks): they come out not requiring grad, and the
        backward gets zeros (or None, see ``set_materialize_grads``) for them."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Whether the backward gets zeros (True, the default) or None for outputs that received no gradient."""
        self.materialize_grads = bool(value)


def _abstract(*args, **kwargs):  # (the base class's forward, backward and setup_context)
    raise NotImplementedError("a subclass of ember.autograd.Function defines forward and backward as staticmethods")


class Function:
    """A differentiable operation whose forward and backward are Python (``torch.autograd.Function``).

    Subclasses define ``forward(ctx, *args, **kwargs)`` (or ``forward(*args, **kwargs)`` with
    ``setup_context(ctx, inputs, output)``) and ``backward(ctx, *grad_outputs)`` as staticmethods, returning
    one gradient per forward argument (None for a non-Tensor one), and are called as ``Fn.apply(*args)``. An
    optional ``jvp(ctx, *tangents)`` is what forward mode (``forward_ad``, ``ember.func.jvp``, ``jacfwd``) runs, with
    ``ctx.save_for_forward``'s tensors as ``saved_tensors``; without one, forward mode differentiates the backward:

    >>> class Exp(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp()
    ...         ctx.save_for_backward(y)
    ...         return y
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (y,) = ctx.saved_tensors
    ...         return grad * y
    >>> Exp.apply(ember.zeros(2, requires_grad=True)).sum().backward()
    """

    forward = staticmethod(_abstract)
    backward = staticmethod(_abstract)
    setup_context = staticmethod(_abstract)
    jvp = staticmethod(_abstract)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: call a Function through its class, as "
                           f"{type(self).__name__}.apply(...), with forward and backward as staticmethods")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on ``args`` and record the call, so that a backward runs ``backward``."""
        name = cls.__name__
        split = cls.setup_context is not _abstract  # PyTorch's newer style: forward takes no ctx
        args, kwargs = _bind(cls, split, args, kwargs)
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        for key, value in kwargs.items():  # (keyword-only: backward returns no gradient for them)
            if isinstance(value, Tensor) and value.requires_grad and _mode.grad_enabled:
                raise TypeError(f"{name}.apply: keyword-only argument {key!r} is a Tensor that requires grad, which "
                                "would get no gradient; make it a positional parameter of forward")
        if _mode.grad_enabled and building_graph():
            raise TypeError(f"{name}: a custom autograd Function's backward is Python code that a graph (ember.jit, "
                            "graph.building()) cannot hold; call it in eager mode, or under ember.no_grad() where "
                            "only its forward is needed")
        ctx = FunctionCtx(name, needs)
        with ExactGradMode(False):
            if split:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        for t in ctx._dirty:
            mark_written(t)
        if not _mode.grad_enabled and True in needs:
            return _without_grad(output)
        if True not in needs:
            return output
        return _record(cls, ctx, args, output)


def _without_grad(output):
    """``output`` of a call under no_grad with each Tensor that requires grad (an input returned as it is) replaced
    by an alias that does not, as PyTorch returns: the result of a no-grad call takes no gradient later."""
    single = not isinstance(output, tuple)
    outputs = tuple(Tensor._make(t.array, None) if isinstance(t, Tensor) and t.requires_grad else t
                    for t in ((output,) if single else output))
    return outputs[0] if single else outputs


_signatures = weakref.WeakKeyDictionary()  # Function subclass -> its forward's signature


def _bind(cls, split: bool, args: tuple, kwargs: dict) -> tuple:
    """``args`` and ``kwargs`` with what forward's signature takes by position (defaults included) moved into
    ``args``, as PyTorch binds them: every one of those is an input that backward returns a gradient for."""
    signature = _signatures.get(cls)
    if signature is None:
        try:
            signature = inspect.signature(cls.forward)
        except (TypeError, ValueError):  # a builtin: take the arguments as they are
            return args, kwargs
        _signatures[cls] = signature
    try:
        bound = signature.bind(*args, **kwargs) if split else signature.bind(None, *args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{cls.__name__}.apply: {exc} (forward{signature})") from None
    bound.apply_defaults()
    return (bound.args if split else bound.args[1:]), bound.kwargs


class _Slots:
    """The gradients of a call's outputs, one slot each, as they reach the shared node (summed slot by slot)."""

    __slots__ = ("grads",)

    def __init__(self, grads: list):
        self.grads = grads

    def __add__(self, other: _Slots) -> _Slots:
        return _Slots([b if a is None else a if b is None else a + b for a, b in zip(self.grads, other.grads)])


class _Output:
    """The op of one output's node: its gradient into its slot."""

    __slots__ = ("name", "index", "count")
    rule = None  # (no rule on arrays: the tape calls vjp)

    def __init__(self, name: str, index: int, count: int):
        self.name, self.index, self.count = name, index, count

    def vjp(self, node, g) -> tuple:
        grads = [None] * self.count
        grads[self.index] = g
        return (_Slots(grads),)


class _Call:
    """The op of the shared node: the Function's backward, its results checked against the inputs."""

    __slots__ = ("name", "fn", "ctx", "args", "outputs")
    rule = None

    def __init__(self, fn, ctx: FunctionCtx, args: tuple, outputs: tuple):
        self.name, self.fn, self.ctx, self.args = f"{fn.__name__}Backward", fn, ctx, args
        self.outputs = outputs  # (shape, dtype, array module) of each Tensor output, None for other values

    def vjp(self, node, slots: _Slots) -> tuple:
        grads = slots.grads
        if _mode.through_tangents and self.fn.jvp is not _abstract:
            return self._checked(self._transposed_jvp(grads))
        if self.ctx.materialize_grads:
            grads = [Tensor._make(out[2].zeros(out[0], out[1]), None) if g is None and out is not None else g
                     for g, out in zip(grads, self.outputs)]
        result = self.fn.backward(self.ctx, *grads)
        return self._checked(result if isinstance(result, tuple) else (result,))

    def _transposed_jvp(self, grads: list) -> tuple:
        """The vjp a tangent pass takes, from the Function's ``jvp`` rather than its backward (forward mode runs the
        ``jvp``, as PyTorch's): the ``jvp`` is linear in its tangents, so its gradient with respect to them,
        weighted by ``grads``, is ``J^T grads``, recorded (the pass differentiates it with respect to ``grads``)."""
        leaves = [Tensor._make(array_module(a.array).zeros_like(a.array), None).requires_grad_()
                  if isinstance(a, Tensor) and a.requires_grad else None for a in self.args]
        ctx = self.ctx
        with ExactGradMode(True):
            # (zeros for a Tensor input without a tangent, None for another value, as PyTorch passes; the tangents
            # given are recorded copies of the leaves, which a jvp may change in place for an input marked dirty)
            tangents = [t.clone() if t is not None else Tensor._make(array_module(a.array).zeros_like(a.array), None)
                        if isinstance(a, Tensor) else None for t, a in zip(leaves, self.args)]
            ctx._in_jvp = True
            try:
                result = self.fn.jvp(ctx, *tangents)
            finally:
                ctx._in_jvp = False
            result = result if isinstance(result, tuple) else (result,)
            self._check_tangents(result)
            pairs = [(t, g) for t, g in zip(result, grads)
                     if isinstance(t, Tensor) and t.requires_grad and g is not None]
            wanted = [t for t in leaves if t is not None]
            pulled = iter(grad([t for t, _ in pairs], wanted, [g for _, g in pairs], retain_graph=True,
                               create_graph=True, allow_unused=True) if pairs else [None] * len(wanted))
        return tuple(next(pulled) if t is not None else None for t in leaves)

    def _check_tangents(self, tangents: tuple) -> None:
        """Refuse a ``jvp`` result that does not give one tangent of its output's shape per output."""
        name = self.fn.__name__
        if len(tangents) != len(self.outputs):
            raise RuntimeError(f"{name}.jvp returned {len(tangents)} tangents for the {len(self.outputs)} outputs of "
                               "forward; give one per output (None for an output without one)")
        for i, (t, out) in enumerate(zip(tangents, self.outputs)):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"{name}.jvp returned a {type(t).__name__} as tangent {i}; expected a Tensor or None")
            if t is not None and out is not None and tuple(t.shape) != tuple(out[0]):
                raise RuntimeError(f"{name}.jvp returned a tangent of shape {list(t.shape)} for output {i} of shape "
                                   f"{list(out[0])}")

    def _checked(self, result: tuple) -> tuple:
        """The gradients for the tape's inputs (the Tensor arguments), after PyTorch's checks."""
        name, args = self.name, self.args
        if len(result) < len(args) or any(g is not None for g in result[len(args):]):
            raise RuntimeError(f"{name}: backward gave {len(result)} gradients for {len(args)} forward inputs; "
                               "give one per input (None for an input that is not a Tensor)")
        grads = []
        for i, (arg, g) in enumerate(zip(args, result)):
            if not isinstance(arg, Tensor):
                if g is not None:
                    raise RuntimeError(f"{name}: backward gave a gradient (not None) for forward input {i + 1}, "
                                       f"which is a {type(arg).__name__}, not a Tensor")
                continue
            if g is None or not arg.requires_grad:
                grads.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(f"function {name} returned a {type(g).__name__} as the gradient at position {i + 1}; "
                                "expected a Tensor or None")
            grads.append(_fitted(name, i, g, arg))
        return tuple(grads)


def _fitted(name: str, i: int, g: Tensor, arg: Tensor) -> Tensor:
    """``g`` in ``arg``'s shape and dtype: a gradient of a broadcast shape summed down, as PyTorch does."""
    if tuple(g.shape) != tuple(arg.shape):
        shape, target = tuple(g.shape), tuple(arg.shape)
        if len(target) > len(shape) or any(t != 1 and t != s for t, s in zip(target[::-1], shape[::-1])):
            raise RuntimeError(f"{name}: backward's gradient {i} has shape {list(shape)}, which does not broadcast "
                               f"to its input's shape {list(target)}")
        g = unbroadcast(g, target)
    if g.dtype != arg.dtype:
        if g.array.dtype.kind == "c" and arg.array.dtype.kind != "c":  # (a cast would drop the imaginary part)
            raise RuntimeError(f"{name}: backward's gradient {i} is complex ({g.dtype}) for a real input "
                               f"({arg.dtype}{list(arg.shape)}); return its real part if that is the gradient")
        g = g.to(dtype=arg.dtype)
    return g


def _record(fn, ctx: FunctionCtx, args: tuple, output):
    """Join ``output`` to the Tensor arguments on the tape (see the module's docstring); returns it with its
    differentiable Tensors recorded."""
    name = fn.__name__
    single = not isinstance(output, tuple)
    outputs = (output,) if single else output
    ids = {id(a) for a in args if isinstance(a, Tensor)}
    dirty = {id(t) for t in ctx._dirty}
    for t in ctx._dirty:
        if not isinstance(t, Tensor) or id(t) not in ids:
            raise RuntimeError(f"{name}: mark_dirty takes the inputs the forward changed in place")
        if t.node is None and t.requires_grad:
            raise RuntimeError(f"{name}: a leaf tensor that requires grad ({t.dtype}{list(t.shape)}) is used in an "
                               "in-place operation (mark_dirty); change a clone(), or the data under ember.no_grad()")
        if not any(o is t for o in outputs):
            raise RuntimeError(f"{name}: some tensors marked as dirty during forward were not returned as outputs")
    inputs = tuple(_stand_in(a) if id(a) in dirty else a for a in args if isinstance(a, Tensor))
    ctx._inputs = inputs
    kept = [(t.shape, t.dtype, array_module(t.array)) if isinstance(t, Tensor) else None for t in outputs]
    needs = tuple(t.requires_grad for t in inputs)
    kind = node_class(_mode.grad_enabled, inputs, needs)  # (a TangentNode under no_grad in a forward-mode scope)
    call = kind(_Call(fn, ctx, args, tuple(kept)), inputs, None, needs, None)
    core = Tensor._make(_EMPTY, call)
    ctx._seq = call.seq
    fixed = {id(t) for t in ctx._non_differentiable}
    results, seen, adopted = [], set(), set()
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor) or id(t) in fixed or not (t.is_floating_point() or t.array.dtype.kind == "c"):
            if isinstance(t, Tensor) and t.requires_grad and id(t) not in dirty:
                t = Tensor._make(t.array, None)  # an input marked non-differentiable: an alias without its history
            results.append(t)  # returned as it is, without the call's history
            continue
        node = kind(_Output(f"{name}Backward", i, len(outputs)), (core,), None, (True,), None)
        if id(t) in dirty or (t.node is None and not t.requires_grad and id(t) not in ids and id(t) not in seen):
            t.node, t.requires_grad = node, True  # the forward's own new tensor (or the input it changed in place)
            adopted.add(id(t))
        else:  # an input returned as it is, a tensor with a history of its own, or a repeat: a new Tensor over it
            t = Tensor._make(t.array, node)
        seen.add(id(t))
        results.append(t)
    if ctx._saved:
        ctx._saved = tuple(_SavedOutput(t) if id(t) in adopted else t for t in ctx._saved)
    if ctx._saved_forward:
        ctx._saved_forward = tuple(_SavedOutput(t) if id(t) in adopted else t for t in ctx._saved_forward)
    return results[0] if single else tuple(results)


class _SavedOutput:
    """An output the forward saved, held weakly: the output's node leads to the call's node and on to ``ctx``, so a
    strong reference would make a cycle that keeps every array of the call alive until Python's collector runs.
    Once the output is gone nothing can need its history, and its values serve."""

    __slots__ = ("ref", "array")

    def __init__(self, t: Tensor):
        self.ref, self.array = weakref.ref(t), t.array

    def get(self) -> Tensor:
        t = self.ref()
        return Tensor._make(self.array, None) if t is None else t


def _stand_in(t: Tensor) -> Tensor:
    """A dirty input as the call read it: its history before the forward wrote it, which it then leaves."""
    old = Tensor._make(t.array, t.node)
    old.requires_grad = t.requires_grad
    old._written = getattr(t, "_written", -1)
    return old


class _Twice:
    """The op of a node standing for a ``once_differentiable`` backward's result: differentiating it again
    is an error."""

    __slots__ = ("name",)
    rule = None

    def __init__(self, name: str):
        self.name = name

    def vjp(self, node, g):
        raise RuntimeError(f"{self.name}: trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(backward):
    """Decorate a ``Function``'s backward that is not itself differentiable: it runs with recording off, and a
    gradient of its results (``create_graph=True``) is a clear error rather than a silent zero."""

    @functools.wraps(backward)
    def wrapper(ctx, *grad_outputs):
        with ExactGradMode(False):
            result = backward(ctx, *grad_outputs)
        if not is_grad_enabled():  # a first-order backward
            return result
        single = not isinstance(result, tuple)
        inputs = tuple(t for t in (*ctx._inputs, *grad_outputs) if isinstance(t, Tensor) and t.requires_grad)
        if not inputs:
            return result
        op = _Twice(ctx._name)
        marked = tuple(Tensor._make(g.array, Node(op, inputs, None, (True,) * len(inputs), None))
                       if isinstance(g, Tensor) else g for g in ((result,) if single else result))
        return marked[0] if single else marked

    return wrapper

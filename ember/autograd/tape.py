"""The eager tape (``ember.autograd.tape``): running ops on Tensors, recording them, and reverse-mode differentiation.

``apply`` runs an op's forward at once and, when some input requires a gradient, records a Node.
``backward`` is micrograd's algorithm: an iterative topological sort from the output, then one reversed
loop calling each op's vjp. vjp rules are written with Ember ops, so with ``create_graph=True`` the
backward pass is itself recorded and can be differentiated again.
"""

from __future__ import annotations

import operator
import weakref
from contextlib import contextmanager

import numpy as np

from ember import grad_mode as _grad_mode
from ember import traced_state
from ember.backend.devices import array_module, as_array
from ember.backend.dtypes import COMPLEX, DIFFERENTIABLE
from ember.grad_mode import ExactGradMode as _GradMode  # (backward passes record for create_graph only)
from ember.grad_mode import enable_grad, is_grad_enabled, memory_written, no_grad, set_grad_enabled  # noqa: F401  (autograd's API)
from ember.grad_mode import next_stamp as _next_seq
from ember.grad_mode import thread_mode as _mode  # (apply reads it on every call; ember.graph sets its builder)
from ember.ops import dispatch
from ember.ops.autocast import suspended as autocast_suspended
from ember.ops.effects import accumulate_grad, drop_grad
from ember.ops.join import stack
from ember.ops.modes import OnArrays
from ember.sparse import RowSparse
from ember.tensor import Tensor


class Node:
    """One recorded op call: the op, its input Tensors, attributes and, if the vjp needs them, the output and the
    forward's residuals (``Op.residuals``)."""

    __slots__ = ("op", "inputs", "attrs", "needs", "out", "residuals", "hooks", "seq")
    tangent_only = False  # (TangentNode)

    def __init__(self, op, inputs, attrs, needs, out, residuals=None):
        self.seq = _next_seq()  # creation order: a node is always created after every node it reads
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.needs = needs
        self.out = out
        self.residuals = residuals
        self.hooks = None

    @property
    def output(self) -> Tensor:
        """The op's result as a Tensor still connected to this node (for vjps that reuse it)."""
        return Tensor._make(self.out, self)

    def __repr__(self) -> str:
        return f"<Node {self.op.name}>"

    # --- PyTorch's grad_fn introspection (torchviz-style graph walks) ---

    def name(self) -> str:
        """The node's name in PyTorch's style: the op's name in CamelCase, then ``Backward0`` (``SumBackward0``); an
        ``autograd.Function``'s nodes are already named so (``MyFnBackward``)."""
        name = self.op.name
        if name.endswith("Backward"):
            return name
        return "".join(part.capitalize() for part in name.split("_")) + "Backward0"

    @property
    def next_functions(self) -> tuple:
        """``(node, 0)`` per input: the node that made it, an ``AccumulateGrad`` for a leaf that requires grad,
        None for an input without gradient; empty once a backward has freed the node."""
        if self.inputs is None:
            return ()
        return tuple((t.node if t.node is not None else AccumulateGrad(t) if t.requires_grad else None, 0)
                     for t in self.inputs)

    def register_prehook(self, hook):
        """Call ``hook(grad_outputs)`` (a one-tuple) before this node's backward; a returned tuple replaces it.
        As PyTorch's, it runs after the output tensor's hooks and retain_grad, pre-hooks in registration order."""
        def on_output_grad(grad):
            result = hook((grad,))
            return None if result is None else result[0]

        on_output_grad.node_hook = True  # (kept after the tensor's hooks: Tensor.register_hook)
        if self.hooks is None:
            self.hooks = []
        hooks = self.hooks
        end = len(hooks)
        while end and hooks[end - 1].__class__ is _PostHook:
            end -= 1
        hooks.insert(end, on_output_grad)
        return _NodeHookHandle(hooks, on_output_grad)

    def register_hook(self, hook):
        """Call ``hook(grad_inputs, grad_outputs)`` once this node's backward has computed the gradients of its
        inputs (None for an input without one); a returned tuple, one entry per input, replaces them (None: no
        gradient). Runs after the pre-hooks, in registration order, as PyTorch's node post-hooks."""
        post = _PostHook(hook)
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(post)
        return _NodeHookHandle(self.hooks, post)


class TangentNode(Node):
    """A node recorded only for forward-mode tangents: under no_grad inside a forward-mode scope, or there from
    such nodes' results alone. Backward passes computing tangents go through it; one the user starts treats its
    result as a constant, as PyTorch's no_grad leaves it without history."""

    __slots__ = ()
    tangent_only = True


def node_class(mode, inputs: tuple, needs: tuple) -> type:
    """The class of a node recorded in grad mode ``mode``: ``TangentNode`` under ``TANGENTS``, and under
    ``DUAL`` when every input it differentiates is a ``TangentNode``'s result."""
    if mode is _grad_mode.DUAL and any(need and t.node.__class__ is not TangentNode for t, need in zip(inputs, needs)):
        return Node
    if mode is not _grad_mode.TANGENTS and mode is not _grad_mode.DUAL:
        return Node
    _grad_mode.tangent_nodes = True
    return TangentNode


class AccumulateGrad:
    """What ``next_functions`` gives for a leaf: its ``variable``, into whose ``.grad`` a backward adds."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor):
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def register_prehook(self, hook):
        """Call ``hook((grad,))`` with the leaf's gradient of a pass before it is added into ``.grad``; a returned
        tuple replaces it (a gradient hook on the leaf)."""
        def on_grad(grad):
            result = hook((grad,))
            return None if result is None else result[0]

        on_grad.node_hook = True  # (after the leaf's own hooks, before what post-hooks record)
        leaf = self.variable
        handle = leaf.register_hook(on_grad)
        hooks = leaf._hooks
        hooks.remove(on_grad)
        end = len(hooks)
        while end and hooks[end - 1].__class__ is _Arrived:
            end -= 1
        hooks.insert(end, on_grad)
        return handle

    def register_hook(self, hook):
        """Call ``hook((), (grad,))`` once a pass's gradient ``grad`` of the leaf has been added into its
        ``.grad``, as PyTorch's AccumulateGrad post-hooks (which DDP-style code reaches through
        ``p.expand_as(p).grad_fn.next_functions[0][0]``)."""
        arrived = _Arrived()

        def after(leaf) -> None:
            hook((), (arrived.grad if arrived.grad is not None else leaf.grad,))
            arrived.grad = None

        return _HandlePair(self.variable.register_hook(arrived),
                           register_post_accumulate_grad_hook(self.variable, after))

    def __eq__(self, other) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)

    def __repr__(self) -> str:
        return f"<AccumulateGrad {self.variable.dtype}{list(self.variable.shape)}>"


class _PostHook:
    """A node's post-hook (``Node.register_hook``) among its hooks, kept last: run with the output's gradient
    before the node's backward it does nothing; ``_run_post_hooks`` calls it after."""

    __slots__ = ("hook",)
    node_hook = True

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, grad) -> None:
        return None


def _run_post_hooks(node: Node, hooks: list, grad: Tensor, input_grads, needs: tuple) -> list:
    """``input_grads`` after the node's post-hooks (``Node.register_hook``) in ``hooks``; ``needs``: which inputs
    the backward computed a gradient for."""
    inputs = node.inputs
    grads = tuple(None if not need or gt is None else _dense(_wrap(gt) if gt.__class__ is not Tensor else gt)
                  for gt, need in zip(input_grads, needs))
    for post in hooks:
        if post.__class__ is not _PostHook:
            continue
        result = post.hook(grads, (grad,))
        if result is None:
            continue
        name = getattr(post.hook, "__name__", type(post.hook).__name__)
        if not isinstance(result, (tuple, list)) or len(result) != len(inputs):
            got = len(result) if isinstance(result, (tuple, list)) else type(result).__name__
            raise RuntimeError(f"{node.name()}.register_hook: hook {name!r} returned {got} gradients; it returns "
                               f"None or one per input of the node ({len(inputs)})")
        for t, new in zip(inputs, result):
            if new is not None and (not isinstance(new, Tensor) or tuple(new.shape) != tuple(t.shape)
                                    or new.dtype != t.dtype):
                what = f"{new.dtype}{list(new.shape)}" if isinstance(new, Tensor) else type(new).__name__
                raise RuntimeError(f"{node.name()}.register_hook: hook {name!r} returned a gradient of {what} "
                                   f"for an input of {t.dtype}{list(t.shape)}")
        grads = tuple(result)
    return list(grads)


class _Arrived:
    """A leaf's gradient hook that keeps the gradient of the pass for an ``AccumulateGrad`` post-hook; kept after
    the leaf's other hooks."""

    __slots__ = ("grad",)
    node_hook = True

    def __init__(self):
        self.grad = None

    def __call__(self, grad) -> None:
        self.grad = grad


class _HandlePair:
    __slots__ = ("handles",)

    def __init__(self, *handles):
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class _NodeHookHandle:
    __slots__ = ("hooks", "hook")

    def __init__(self, hooks: list, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def _forward_error(op, inputs, attrs, exc: Exception) -> Exception:
    """Turn a failure inside a forward into an error naming the op, shapes and dtypes."""
    from ember.backend.devices import device_of
    from ember.ops.registry import Spec, describe

    specs = [Spec(t.array.shape, t.array.dtype) for t in inputs]
    devices = [device_of(t.array) for t in inputs]
    if len(set(devices)) > 1:  # as PyTorch: one device per op; CuPy's own error would not say so
        placed = ", ".join(f"{s.dtype}{list(s.shape)} on {d}" for s, d in zip(specs, devices))
        return RuntimeError(f"{op.name}: expected all inputs on one device, got {placed}; move them with .to()")
    try:
        op.infer(*specs, **(attrs or {}))
    except (ValueError, TypeError) as inferred:
        return inferred
    detail = f" with {attrs}" if attrs else ""
    named = str(exc) if str(exc).startswith(f"{op.name}:") else f"{op.name}: {exc}"
    kinds = [kind for kind in (TypeError, ValueError, IndexError) if isinstance(exc, kind)]
    if not kinds:
        return exc
    message = f"{named} (inputs: {describe(specs)}{detail})"
    try:
        return type(exc)(message)
    except TypeError:  # a class whose constructor takes more than a message (NumPy's _UFuncNoLoopError)
        return kinds[0](message)


def set_graph_builder(builder) -> None:
    """Route ``apply`` to ``builder.build(op, inputs, attrs)`` (None: back to eager execution). The builder
    is any object with ``build`` (``ember.graph.Graph``); autograd never imports it."""
    _mode.builder = builder


@contextmanager
def eagerly():
    """Ops inside run eagerly even while a graph is built (``Module.to`` casts a module's arrays in place during an
    ``ember.jit`` trace); yields the builder set aside."""
    builder = _mode.builder
    _mode.builder = None
    try:
        yield builder
    finally:
        _mode.builder = builder


def building() -> bool:
    """Whether ops called now append to a graph (``with graph.building()``, ``ember.jit`` tracing); not while a
    builder that runs them eagerly says so (``runs_eagerly``: ``ember.utils.checkpoint``'s)."""
    builder = _mode.builder
    return builder is not None and not getattr(builder, "runs_eagerly", False)


def building_graph() -> bool:
    """``building()``, less a builder that runs each op at once (``runs_eagerly``: the profiler's recorder)."""
    builder = _mode.builder
    return builder is not None and not getattr(builder, "runs_eagerly", False)


def drop_grads(params) -> None:
    """Set each parameter's ``.grad`` to None: while a graph is built (``ember.jit``, the profiler), a
    ``drop_grad`` op per parameter, so that the compiled call drops them on every run."""
    if _mode.builder is None:
        for p in params:  # the op's effect itself: zero_grad runs every step, and a dispatch costs more
            p._grad = None
        return
    for p in params:  # every one: a trace drops even a gradient that is None now, as later calls may have one
        drop_grad(p)


def _symbolic_error(op, inputs) -> Exception | None:
    """The error for a graph Value used while no graph is being built."""
    for t in inputs:
        if t.symbolic:
            return TypeError(
                f"{op.name}: %{t.id} is a symbolic graph Value; call ops on it inside `with graph.building():`"
            )
    return None


def run_eager(op, inputs: tuple, attrs: dict | None = None) -> Tensor:
    """``apply`` with graph building switched off for this one call (all inputs are concrete)."""
    mode = _mode
    saved, mode.builder = mode.builder, None
    try:
        return apply(op, inputs, attrs)
    finally:
        mode.builder = saved


def apply(op, inputs: tuple, attrs: dict | None = None) -> Tensor:
    """Run ``op`` on Tensors now; record a Node when gradients are needed (append one while building a graph).

    This is the hottest function in eager mode, hence the unrolled one- and two-input paths.
    """
    mode = _mode
    if mode.builder is not None:
        return mode.builder.build(op, inputs, attrs)
    enabled = mode.grad_enabled
    n = len(inputs)
    if n == 2:
        a, b = inputs
        first = a.array
        arrays = (first, b.array)
    elif n == 1:
        a = inputs[0]
        first = a.array
        arrays = (first,)
    elif n == 3:  # linear with a bias, the commonest three-input call
        a, b, c = inputs
        first = a.array
        arrays = (first, b.array, c.array)
    else:
        arrays = tuple([t.array for t in inputs])
        first = arrays[0]
    xp = np if first.__class__ is np.ndarray else array_module(first)
    saved = None
    try:
        if op.residuals is not None and enabled and True in [x.requires_grad for x in inputs]:
            out, saved = op.residuals(xp, *arrays, **(attrs or {}))  # recorded: keep what the vjp reuses
        else:
            out = op.forward(xp, *arrays, **attrs) if attrs else op.forward(xp, *arrays)
    except Exception as exc:
        raise (_symbolic_error(op, inputs) or _forward_error(op, inputs, attrs, exc)) from exc
    if out.__class__ is not np.ndarray:
        if out is None:  # an effect (ember.ops.effects) that defines no value
            return None
        if xp is np:
            out = as_array(out)  # a NumPy scalar, or a CuPy array (to_device)
    t = _new(Tensor)
    t.array = out
    t._grad = None
    t._hooks = None
    if enabled and op.differentiable:
        if n == 2:
            needs = (a.requires_grad, b.requires_grad)
        elif n == 1:
            needs = (a.requires_grad,)
        elif n == 3:
            needs = (a.requires_grad, b.requires_grad, c.requires_grad)
        else:
            needs = tuple([x.requires_grad for x in inputs])
        if True in needs:
            # Node(...) without the call: this runs for every recorded op
            node = t.node = _new(Node if enabled is True else node_class(enabled, inputs, needs))
            node.seq = _next_seq()
            node.op = op
            node.inputs = inputs
            node.attrs = attrs
            node.needs = needs
            node.out = out if op.saves_output else None
            node.residuals = saved
            node.hooks = None
            t.requires_grad = True
            return t
    t.node = None
    t.requires_grad = False
    return t


_new = object.__new__


# --- backward ---------------------------------------------------------------------------------------


def _freed_error() -> RuntimeError:
    return RuntimeError(
        "backward through a graph whose saved values were already freed: a second backward (or a grad "
        "call) over the same graph needs retain_graph=True on the first one"
    )


def _topological_order(roots, floor: int = -1) -> list:
    """Nodes reachable from ``roots``, each before every node it depends on (with a ``floor``, ``_order_above``).

    Creation order is already a topological order of the tape, so collecting the reachable nodes and
    sorting them by creation number (newest first) is enough.
    """
    if _grad_mode.tangent_nodes and not _mode.through_tangents:
        return _order_for_gradients(roots, floor)
    if floor >= 0:
        return _order_above(roots, floor)
    seen = set(roots)
    stack = list(seen)
    while stack:
        inputs = stack.pop().inputs
        if inputs is None:
            raise _freed_error()
        for t in inputs:
            parent = t.node
            if parent is not None and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_seq, reverse=True)


def _order_above(roots, floor: int, constant=None) -> list:
    """``_topological_order`` down to the node numbered ``floor``: a node depends only on older ones, so nothing
    older can lead to it, and what that node reads is not walked (nor need it be kept). Nodes of class
    ``constant`` are neither walked nor run."""
    seen = {node for node in roots if node.seq >= floor}
    stack = list(seen)
    while stack:
        node = stack.pop()
        if node.seq == floor:
            continue
        inputs = node.inputs
        if inputs is None:
            raise _freed_error()
        for t in inputs:
            parent = t.node
            if parent is not None and parent not in seen and parent.seq >= floor and parent.__class__ is not constant:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_seq, reverse=True)


def _order_for_gradients(roots, floor: int) -> list:
    """``_topological_order`` of a backward the user started while nodes recorded only for tangents exist: each
    ``TangentNode`` is a constant, neither walked nor run (nor what only it reads), as PyTorch's no_grad results."""
    for node in roots:
        if node.__class__ is TangentNode:
            raise RuntimeError(f"backward: an output ({node.op.name}'s) depends only on tensors computed under "
                               "no_grad inside a forward-mode scope (dual_level, ember.func.jvp, jacfwd), so it does "
                               "not require grad: it is recorded only for its tangent")
    return _order_above(roots, floor, TangentNode)


_seq = operator.attrgetter("seq")
_plain_order = _topological_order


def set_order_hook(hook) -> None:
    """Have every backward take its node order from ``hook(roots)`` instead of ``_topological_order`` (anomaly
    mode, ``autograd.anomaly``, checks the gradients of the nodes it returns); None restores the plain order. A
    swap, so a backward without anomaly mode runs no extra check."""
    global _topological_order
    _topological_order = _plain_order if hook is None else hook


def _on_numpy(op, *arrays, **attrs):
    """``OnArrays(np)`` as a plain function: a call fewer per op in the hottest backward."""
    return op.forward(np, *arrays, **attrs)


_array_run = _on_numpy  # what runs each op of a backward on NumPy arrays (set_array_runner)


def set_array_runner(runner) -> None:
    """Run each op of a first-order eager backward on NumPy arrays as ``runner(op, *arrays, **attrs)`` (None: the
    op's forward): the profiler times them this way."""
    global _array_run
    _array_run = _on_numpy if runner is None else runner


_data = operator.attrgetter("array")


class ArrayContext:
    """What a rule reads of a recorded node, as arrays: inputs, attributes, which inputs need a gradient, the
    output (when the op saves it) and the forward's residuals (when it has them)."""

    __slots__ = ("inputs", "attrs", "needs", "output", "residuals")


def _wrap(array) -> Tensor:
    if array.__class__ is not np.ndarray:
        if array.__class__ is RowSparse:  # a sparse gradient passes as it is
            return array
        if isinstance(array, np.generic):
            array = as_array(array)  # NumPy gives 0-d results as scalars
    t = _new(Tensor)
    t.array = array
    t.node = None
    t.requires_grad = False
    t._grad = None
    t._hooks = None
    return t


def _add(a, b):
    if a is None:
        return b
    if a.__class__ is np.ndarray:  # a rule's raw result (see run_backward)
        a = _wrap(a)
    if b.__class__ is np.ndarray:
        b = _wrap(b)
    if a.__class__ is RowSparse:
        return a.add(b)
    if b.__class__ is RowSparse:
        return b.add(a)
    return a + b


def _run_hooks(hooks, grad):
    for hook in hooks:
        result = hook(grad)
        if result is not None:
            if result is not grad:
                _check_hook_result(hook, grad, result)
            grad = result
    return grad


def _check_hook_result(hook, grad: Tensor, result) -> None:
    """PyTorch's checks on the gradient a hook returns: a Tensor of the shape and dtype of the one it was given
    (another shape was reshaped or broadcast, another dtype cast, silently)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(result, Tensor):
        raise TypeError(f"register_hook: hook {name!r} returned {type(result).__name__}; a gradient hook returns a "
                        f"Tensor (the new gradient, here {grad.dtype}{list(grad.shape)}) or None")
    if tuple(result.shape) != tuple(grad.shape):
        raise RuntimeError(f"register_hook: hook {name!r} changed the shape of the gradient from {list(grad.shape)} "
                           f"to {list(result.shape)}")
    if result.dtype != grad.dtype:
        raise RuntimeError(f"register_hook: hook {name!r} changed the dtype of the gradient from {grad.dtype} to "
                           f"{result.dtype}")


def _dense(grad):
    return grad.to_dense() if grad.__class__ is RowSparse else grad


def run_backward(roots, root_grads, retain_graph: bool, create_graph: bool, capture=None):
    """The engine behind ``Tensor.backward`` and ``ember.grad``.

    Without ``capture`` the gradients of leaves are accumulated into their ``.grad``. With ``capture``
    (a list of Tensors) nothing is accumulated and their gradients are returned in that order.

    A gradient waiting for its node is a Tensor, a RowSparse, or a NumPy array that a rule run on arrays
    returned: it stays an array until something needs a Tensor (a vjp, a hook, a sum, a leaf's ``.grad``).
    """
    grads: dict = {}  # node -> the gradient of its output so far
    leaf_grads: dict = {}  # leaf Tensor -> its gradient so far (Tensors hash by identity)
    root_nodes = []
    for t, g in zip(roots, root_grads):
        if t.node is None:
            leaf_grads[t] = _add(leaf_grads.get(t), g)
        else:
            previous = grads.get(t.node)
            if previous is None and g.__class__ is Tensor and g.array.__class__ is np.ndarray and not g.requires_grad:
                g = g.array  # (waiting gradients are kept as arrays, see above)
            grads[t.node] = _add(previous, g)
            root_nodes.append(t.node)
    # gradients taken for non-leaf tensors only (grad(loss, h)): the nodes older than the oldest of theirs cannot
    # lead to them, so they are neither walked nor run, as PyTorch's engine runs only the nodes on the way
    floor = min((t.node.seq for t in capture), default=-1) if capture and all(t.node is not None for t in capture) \
        else -1
    order = _topological_order(root_nodes, floor) if floor >= 0 else _topological_order(root_nodes)
    if order and _grad_mode.last_write > order[-1].seq:  # something was written in place since the oldest node
        _check_writes(order, roots)
    narrowed = None
    if capture is not None:
        order, narrowed = _toward(order, capture)
    handed_out = {id(_owner(g.array)) for g in root_grads}
    plain = capture is None and not create_graph and not _post_accumulate_hooks
    done = _run_rules_on_numpy(order, grads, leaf_grads, retain_graph) if plain else 0
    if done == len(order) and plain:
        rest = _store_first_grads(leaf_grads, handed_out)
        if not rest:
            return None
    else:
        rest = None
    with _GradMode(create_graph), autocast_suspended():  # vjps run in the forward's dtypes
        if rest is not None:
            for leaf, g in rest:
                _accumulate(leaf, g, handed_out, create_graph)
            return None
        results = _run_nodes(order[done:] if done else order, grads, leaf_grads, handed_out, retain_graph,
                             create_graph, capture, floor, narrowed)
        if capture is not None:
            for i, t in enumerate(capture):
                if t.node is None:
                    g = leaf_grads.get(t)
                    if g is not None:
                        g = g if g.__class__ is not np.ndarray else _wrap(g)
                        results[i] = _run_hooks(t._hooks, g) if t._hooks else g
            return results
        rest = _store_first_grads(leaf_grads, handed_out) if not create_graph and not _post_accumulate_hooks \
            else list(leaf_grads.items())
        for leaf, g in rest:
            _accumulate(leaf, g, handed_out, create_graph)
    return None


def _toward(order: list, capture: list) -> tuple:
    """``order`` less the nodes that lead to none of the tensors in ``capture``, and node -> its recorded needs
    narrowed to the inputs that lead to one (for the nodes where that differs). A vjp is then asked only for the
    gradients wanted (PyTorch's ``should_compute_output``, decided at backward time): a rule that refuses one
    input's gradient (zeta's x) still gives the others."""
    targets = {id(t) for t in capture if t.node is None}
    leading = {t.node for t in capture if t.node is not None}
    narrowed = {}
    for node in reversed(order):  # oldest first: whether an input leads anywhere is known before its reader
        inputs = node.inputs
        if inputs is None:  # (the floor node, whose vjp is not run: captured, so already in ``leading``)
            continue
        recorded = node.needs
        needs = tuple([need and (id(t) in targets if t.node is None else t.node in leading)
                       for t, need in zip(inputs, recorded)])
        if True in needs:
            leading.add(node)
        if needs != recorded:
            narrowed[node] = needs
    return [node for node in order if node in leading], narrowed


def _run_rules_on_numpy(order, grads: dict, leaf_grads: dict, retain_graph: bool) -> int:
    """The common first-order backward, beside ``_run_nodes`` and with its results: each node's rule run on
    NumPy arrays, with no per-node checks for hooks or captured gradients. Stops at the first node that needs
    more (a hook, a vjp without an array rule, a gradient that is not a NumPy array) and returns its index,
    so that ``_run_nodes`` goes on from there; ``len(order)`` when every node ran."""
    ctx = _new(ArrayContext)
    ndarray, run = np.ndarray, _array_run  # (locals: read for every node and every input)
    for index, node in enumerate(order):
        g = grads.pop(node, None)
        if g is None:
            continue
        rule = node.op.rule
        if rule is None or node.hooks or g.__class__ is not ndarray:
            grads[node] = g
            return index
        inputs = node.inputs
        if inputs is None:
            raise _freed_error()
        n = len(inputs)
        if n == 2:
            ctx.inputs = (inputs[0].array, inputs[1].array)
        elif n == 1:
            ctx.inputs = (inputs[0].array,)
        elif n == 3:
            ctx.inputs = (inputs[0].array, inputs[1].array, inputs[2].array)
        else:
            ctx.inputs = tuple(map(_data, inputs))
        needs = ctx.needs = node.needs
        ctx.attrs = node.attrs
        ctx.output = node.out
        ctx.residuals = node.residuals
        for t, gt, need in zip(inputs, rule(run, ctx, g), needs):
            if not need or gt is None:
                continue
            if gt.__class__ is not ndarray:  # a 0-d result NumPy gave as a scalar, or a RowSparse
                gt = np.asarray(gt) if isinstance(gt, np.generic) else _wrap(gt)
            parent = t.node
            if parent is None:
                previous = leaf_grads.get(t)
                leaf_grads[t] = gt if previous is None else _add_arrays(previous, gt)
            else:
                previous = grads.get(parent)
                grads[parent] = gt if previous is None else _add_arrays(previous, gt)
        if not retain_graph:
            node.inputs = None
            node.out = None
            node.residuals = None
    return len(order)


def _check_writes(order, roots) -> None:
    """Refuse a backward whose nodes would read values written in place after they were recorded (PyTorch's
    version check): an input its vjp reads (``Op.vjp_reads``) written since its node was made, any input moved
    to another node since (``mark_replaced``: the backward would follow that node), or the saved output of a node
    written since."""
    for node in order:
        reads = getattr(node.op, "vjp_reads", None)
        for position, t in enumerate(node.inputs):
            written = max(getattr(t, "_written", -1), memory_written(t.array))  # (a slot set only by writes)
            if written > node.seq and (reads is None or position in reads
                                       or node.needs[position] and getattr(t, "_replaced", -1) > node.seq):
                raise _written_error(node, t, "an input of")
            parent = t.node
            if parent is not None and parent.out is not None and written > parent.seq:
                raise _written_error(parent, t, "the output of")
    for t in roots:
        node = t.node
        if node is not None and node.out is not None and \
                max(getattr(t, "_written", -1), memory_written(t.array)) > node.seq:
            raise _written_error(node, t, "the output of")


def _written_error(node, t, role: str) -> RuntimeError:
    return RuntimeError(
        f"backward: a tensor the gradient needs ({role} {node.op.name}, {t.dtype}{list(t.shape)}) was modified by "
        "an in-place operation after the forward pass recorded it (an optimizer step, an in-place method or an "
        "item assignment); run the forward again after the change, or change a clone()"
    )


def _add_arrays(a, b):
    """``_add`` for the array backward: two NumPy arrays of one shape and dtype summed into a new array (what
    the add op computes), so that the sum stays an array and the backward on the fast path."""
    if a.__class__ is np.ndarray and b.__class__ is np.ndarray and a.dtype == b.dtype and a.shape == b.shape:
        total = a + b
        return total if total.__class__ is np.ndarray else np.asarray(total)  # 0-d: NumPy gives a scalar
    return _add(a, b)


def _run_nodes(order, grads: dict, leaf_grads: dict, handed_out: set, retain_graph: bool, create_graph: bool,
               capture, floor: int = -1, narrowed: dict | None = None):
    """Every node's vjp in ``order``, in the general case: hooks, captured gradients, recorded rules
    (``create_graph``), post-accumulate hooks. Returns the captured gradients (a list, with ``capture``); the
    vjp of the node numbered ``floor`` (``_order_above``), which only its gradient is wanted from, is not run.
    ``narrowed`` (``_toward``): the needs a node's vjp gets instead of its recorded ones."""
    captured_nodes = {}
    if capture is not None:
        for i, t in enumerate(capture):
            if t.node is not None:
                captured_nodes.setdefault(t.node, []).append(i)
    results = [None] * (len(capture) if capture is not None else 0)
    arrays = _new(ArrayContext)  # refilled for each node whose rule runs on arrays
    ready = _ready_points(order, leaf_grads) if _post_accumulate_hooks and capture is None else None
    first_order = not create_graph  # rules may then run on raw arrays (ember.ops.modes)
    for node in order:
        g = grads.pop(node, None)
        if g is None:
            continue
        rule = node.op.rule if first_order else None
        hooks = node.hooks
        captured = captured_nodes.get(node) if captured_nodes else None
        if g.__class__ is np.ndarray:
            if rule is None or hooks or captured:
                g = _wrap(g)
        elif g.__class__ is RowSparse:
            g = g.to_dense()
        if hooks:
            g = _run_hooks(hooks, g)
        if captured:
            for i in captured:
                results[i] = g
            if node.seq == floor:
                continue
        inputs = node.inputs
        if inputs is None:
            raise _freed_error()
        needs = node.needs
        if narrowed:
            needs = narrowed.get(node, needs)
            if True not in needs:  # (a captured node that leads to no other captured tensor)
                continue
        if rule is not None:  # the op's one rule, run on the arrays
            data = g if g.__class__ is np.ndarray else g.array
            if len(inputs) == 2:
                arrays.inputs = (inputs[0].array, inputs[1].array)
            else:
                arrays.inputs = tuple(map(_data, inputs))
            arrays.attrs, arrays.needs, arrays.output, arrays.residuals = \
                node.attrs, needs, node.out, node.residuals
            input_grads = rule(_array_run if data.__class__ is np.ndarray else OnArrays(array_module(data)),
                               arrays, data)
        elif needs is node.needs:
            input_grads = node.op.vjp(node, g)
        else:  # the vjp reads the node as its context: it sees the narrowed needs while it runs
            recorded, node.needs = node.needs, needs
            try:
                input_grads = node.op.vjp(node, g)
            finally:
                node.needs = recorded
        if hooks and hooks[-1].__class__ is _PostHook:
            input_grads = _run_post_hooks(node, hooks, g, input_grads, needs)
            rule = None  # (the gradients are Tensors now)
        for t, gt, need in zip(inputs, input_grads, needs):
            if not need or gt is None:
                continue
            if rule is not None and gt.__class__ is not np.ndarray:
                gt = _wrap(gt)  # a CuPy array, a NumPy scalar or a RowSparse
            parent = t.node
            if parent is None:
                previous = leaf_grads.get(t)
                leaf_grads[t] = gt if previous is None else _add(previous, gt)
            else:
                previous = grads.get(parent)
                grads[parent] = gt if previous is None else _add(previous, gt)
        if ready is not None and node in ready:
            for leaf in ready[node]:
                g = leaf_grads.pop(leaf, None)
                if g is not None:
                    _accumulate(leaf, g, handed_out, create_graph)
        if not retain_graph:
            node.inputs = None
            node.out = None
            node.residuals = None
    return results


def _store_first_grads(leaf_grads: dict, handed_out: set) -> list:
    """Store each leaf's gradient that is a NumPy array arriving in an empty ``.grad`` of a leaf without hooks,
    as it is (what ``_accumulate`` does for it); returns the other (leaf, gradient) pairs, for ``_accumulate``."""
    rest = []
    for leaf, g in leaf_grads.items():
        if leaf.array.dtype not in DIFFERENTIABLE:
            _refuse_leaf(leaf)
        if g.__class__ is np.ndarray and leaf._grad is None and not leaf._hooks and leaf.requires_grad:
            owner = g.base
            if owner is None:
                owner = g
            elif owner.base is not None:
                owner = _owner(owner)
            if id(owner) not in handed_out and g.flags.writeable:
                handed_out.add(id(owner))
                t = _new(Tensor)
                t.array = g
                t.node = None
                t.requires_grad = False
                t._grad = None
                t._hooks = None
                leaf.grad = t  # accumulate_grad's effect on an empty .grad, without its call
                continue
        rest.append((leaf, g))
    return rest


def _accumulate(leaf: Tensor, g, handed_out: set, create_graph: bool) -> None:
    """Add ``g`` into ``leaf.grad`` (after the leaf's hooks), then run its post-accumulate hooks."""
    if not leaf.requires_grad:
        return
    if leaf.array.dtype not in DIFFERENTIABLE:
        _refuse_leaf(leaf)
    if leaf._hooks:
        g = _run_hooks(leaf._hooks, _dense(_wrap(g) if g.__class__ is np.ndarray else g))
    _store(leaf, g, handed_out, create_graph)


def _refuse_leaf(leaf: Tensor) -> None:
    # requires_grad_() refuses these dtypes; ``x.requires_grad = True`` (a plain slot, kept fast) does not check
    raise RuntimeError(f"backward: a leaf of dtype {leaf.array.dtype} and shape {list(leaf.array.shape)} requires "
                       f"grad, but only floating-point and complex tensors can (was x.requires_grad = True set on "
                       f"it?); its gradient would be {leaf.array.dtype} too")


def _store(leaf: Tensor, g, handed_out: set, create_graph: bool) -> None:
    """``_accumulate`` after the leaf's hooks have run on ``g``."""
    if leaf._grad is None and g.__class__ is not RowSparse and \
            not (create_graph and g.__class__ is not np.ndarray and g.requires_grad):
        # stored as it is, owning its memory: a later backward adds into it in place
        g = _private(g if g.__class__ is np.ndarray else g.array, handed_out)
    elif g.__class__ is np.ndarray:
        g = _wrap(g)
    accumulate_grad(leaf, g)
    entry = _post_accumulate_hooks.get(id(leaf)) if _post_accumulate_hooks else None
    if entry is not None:
        run_post_accumulate_hooks(leaf, list(entry[1]))


# id(leaf) -> (weak reference, hooks): hooks called with the leaf once its .grad is final in a backward pass.
_post_accumulate_hooks: dict = {}


def register_post_accumulate_grad_hook(leaf: Tensor, hook) -> object:
    """Call ``hook(leaf)`` during backward as soon as ``leaf.grad`` holds this pass's full gradient (PyTorch's
    ``Tensor.register_post_accumulate_grad_hook``; data-parallel training starts communication there).
    Returns a handle whose ``remove()`` unregisters the hook."""
    if leaf.node is not None or not leaf.requires_grad:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require grad have one")
    key = id(leaf)
    if key not in _post_accumulate_hooks:
        ref = weakref.ref(leaf, lambda _, key=key: _post_accumulate_hooks.pop(key, None))
        _post_accumulate_hooks[key] = (ref, [])
    hooks = _post_accumulate_hooks[key][1]
    hooks.append(hook)
    traced_state.changed()  # a trace runs the hooks of the parameters it updates
    return _PostHookHandle(key, hook)


def run_post_accumulate_hooks(leaf: Tensor, hooks: list) -> None:
    """Call each of ``hooks`` with ``leaf``; as PyTorch, one that returns something is an error (it would be
    ignored: such a hook changes ``leaf.grad`` itself)."""
    for hook in hooks:
        result = hook(leaf)
        if result is not None:
            name = getattr(hook, "__name__", type(hook).__name__)
            raise RuntimeError(f"register_post_accumulate_grad_hook: hook {name!r} returned "
                               f"{type(result).__name__}; post accumulate grad hooks should return None (set or "
                               "change leaf.grad in the hook instead)")


def post_accumulate_hooks(leaf: Tensor) -> list:
    """The hooks ``register_post_accumulate_grad_hook`` gave ``leaf`` (``ember.jit`` traces them)."""
    entry = _post_accumulate_hooks.get(id(leaf)) if _post_accumulate_hooks else None
    return list(entry[1]) if entry is not None else []


class _PostHookHandle:
    __slots__ = ("key", "hook")

    def __init__(self, key: int, hook):
        self.key, self.hook = key, hook

    def remove(self) -> None:
        entry = _post_accumulate_hooks.get(self.key)
        if entry is not None and self.hook in entry[1]:
            entry[1].remove(self.hook)
            if not entry[1]:
                del _post_accumulate_hooks[self.key]
            traced_state.changed()


def _ready_points(order, leaf_grads: dict) -> dict:
    """node -> the hooked leaves whose gradient is complete once that node's vjp has run (its last reader)."""
    last = {}
    for node in order:
        if node.inputs is None:
            continue
        for t, need in zip(node.inputs, node.needs):
            if need and t.node is None and id(t) in _post_accumulate_hooks:
                last[id(t)] = (node, t)
    ready: dict = {}
    for node, t in last.values():
        if t not in leaf_grads:  # a root that is also a leaf gets its gradient at the end
            ready.setdefault(node, []).append(t)
    return ready


def _owner(array):
    """The array that owns the memory ``array`` views."""
    while array.base is not None:
        array = array.base
    return array


def _private(data, handed_out: set) -> Tensor:
    """A gradient's array ``data`` as a new Tensor, copied if its memory already belongs to another gradient
    or is read-only.

    Pass-through vjps (add, reshape, broadcast) let two leaves receive one array; each ``.grad`` must own
    its memory so that in-place updates of one gradient never change another (or the caller's).
    """
    owner = data if data.base is None else _owner(data)
    if id(owner) in handed_out or (data.__class__ is np.ndarray and not data.flags.writeable):
        data = data.copy()
        owner = data
    handed_out.add(id(owner))
    return Tensor._make(data, None)


def _complex_seed_error(what: str, t: Tensor) -> RuntimeError:
    return RuntimeError(f"{what}: a gradient can be created implicitly only for a real scalar output, got "
                        f"{t.dtype}{list(t.shape)}; take a real loss (abs, real) or pass the gradient explicitly")


def _root_grads(outputs, grad_outputs, what: str):
    result = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise RuntimeError(
                f"{what}: element {i} of the outputs does not require grad and has no recorded history "
                f"({t.dtype}{list(t.shape)}); call requires_grad_() on an input, and do not compute it "
                "under no_grad"
            )
        if g is None:
            if t.dtype in COMPLEX:
                raise _complex_seed_error(what, t)
            if t.array.size != 1:
                raise RuntimeError(
                    f"{what}: a gradient can be created implicitly only for a one-element output, got "
                    f"shape {list(t.shape)}; pass the gradient of the output explicitly"
                )
            g = Tensor._make(array_module(t.array).ones(t.shape, t.dtype), None)
        else:
            if not isinstance(g, Tensor):
                g = Tensor(g, dtype=t.dtype, device=t.device)
            if tuple(g.shape) != tuple(t.shape):
                raise RuntimeError(
                    f"{what}: the gradient for output {i} has shape {list(g.shape)}, expected {list(t.shape)}"
                )
        result.append(g)
    return result


def backward(tensor: Tensor, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
             inputs=None, *, grad_tensors=None):
    """Accumulate the gradient of ``tensor`` into the ``.grad`` of every leaf it depends on (``Tensor.backward``),
    or, given ``inputs`` (a Tensor or a sequence of them), into theirs alone. ``tensor`` may be a sequence of
    tensors, with ``gradient`` (or ``grad_tensors``, PyTorch's name) a sequence of their gradients
    (``torch.autograd.backward``): their gradients add up."""
    if grad_tensors is not None:
        gradient = grad_tensors
    if not isinstance(tensor, Tensor):
        _backward_many(list(tensor), gradient, retain_graph, create_graph, inputs)
        return
    if tensor.symbolic:  # a graph Value: its graph appends the backward nodes
        return tensor.backward(gradient, retain_graph, create_graph, inputs)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        _backward_into(tensor, gradient, retain_graph, create_graph, _input_list(inputs))
        return
    data = tensor.array
    if gradient is None and tensor.requires_grad and data.__class__ is np.ndarray and data.size == 1:
        if data.dtype in COMPLEX:
            raise _complex_seed_error("backward", tensor)
        seed = np.array(1, data.dtype)
        if tensor.node is not None and not create_graph and not _post_accumulate_hooks:
            _backward_scalar(tensor, seed.reshape(data.shape), seed, retain_graph)
            return
        roots = [Tensor._make(seed.reshape(data.shape), None)]  # the common scalar loss
    else:
        roots = _root_grads([tensor], [gradient], "backward")
    run_backward([tensor], roots, retain_graph, create_graph)


def _backward_many(tensors: list, gradients, retain_graph: bool | None, create_graph: bool, inputs) -> None:
    """``backward`` of several outputs at once: one pass from all of them."""
    if not tensors:
        raise RuntimeError("backward: got an empty sequence of tensors")
    if len(tensors) == 1:
        gradient = gradients[0] if isinstance(gradients, (list, tuple)) else gradients
        backward(tensors[0], gradient, retain_graph, create_graph, inputs)
        return
    if any(not isinstance(t, Tensor) or t.symbolic for t in tensors):
        raise TypeError("backward: a sequence of outputs must hold eager Tensors")
    gradients = [None] * len(tensors) if gradients is None else list(gradients)
    if len(gradients) != len(tensors):
        raise ValueError(f"backward: got {len(gradients)} gradients for {len(tensors)} tensors")
    if inputs is not None:
        raise TypeError("backward: inputs= with several outputs is not supported; sum the outputs (weighted by "
                        "their gradients) and call backward on that")
    retain_graph = create_graph if retain_graph is None else retain_graph
    run_backward(tensors, _root_grads(tensors, gradients, "backward"), retain_graph, create_graph)


def _input_list(inputs) -> list:
    """``backward``'s ``inputs``: a list of distinct Tensors that require grad."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("backward: inputs= is empty; give the tensors whose .grad to accumulate into")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            what = f"{t.dtype}{list(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"backward: inputs[{i}] ({what}) is not a tensor that requires grad")
    return list({id(t): t for t in inputs}.values())


def _backward_into(tensor: Tensor, gradient, retain_graph: bool, create_graph: bool, inputs: list) -> None:
    """``backward(inputs=...)``: the gradients of ``inputs`` (leaves or not) added into their ``.grad``; other
    leaves' ``.grad`` stay as they were."""
    roots = _root_grads([tensor], [gradient], "backward")
    grads = run_backward([tensor], roots, retain_graph, create_graph, capture=inputs)  # (hooks ran on them)
    handed_out = {id(_owner(roots[0].array))}
    with _GradMode(create_graph), autocast_suspended():
        for t, g in zip(inputs, grads):
            if g is not None and not (t.node is not None and t.retains_grad):  # (retain_grad's hook stored it)
                _store(t, g, handed_out, create_graph)


def _backward_scalar(tensor, g, owner, retain_graph: bool) -> None:
    """``run_backward`` for the commonest call, a first-order ``loss.backward()`` of a recorded one-element
    loss with no post-accumulate hooks, less its general set-up: the same steps on the same state, falling
    back to ``_run_nodes`` at the first node that needs more. ``g`` is the seed gradient, a view of ``owner``."""
    root = tensor.node
    grads = {root: g}
    leaf_grads: dict = {}
    order = _topological_order((root,))
    if _grad_mode.last_write > order[-1].seq:  # something was written in place since the oldest node
        _check_writes(order, (tensor,))
    handed_out = {id(owner)}
    done = _run_rules_on_numpy(order, grads, leaf_grads, retain_graph)
    if done == len(order):
        rest = _store_first_grads(leaf_grads, handed_out)
        if not rest:
            return
        with _GradMode(False), autocast_suspended():
            for leaf, grad in rest:
                _accumulate(leaf, grad, handed_out, False)
        return
    with _GradMode(False), autocast_suspended():
        _run_nodes(order[done:], grads, leaf_grads, handed_out, retain_graph, False, None)
        for leaf, grad in _store_first_grads(leaf_grads, handed_out):
            _accumulate(leaf, grad, handed_out, False)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than stored in ``.grad``
    (``torch.autograd.grad``; ``only_inputs`` is accepted and ignored, as there).

    ``allow_unused``: None for an input the outputs do not use (else an error); ``materialize_grads``: zeros for
    it. ``is_grads_batched``: each ``grad_outputs`` Tensor holds a batch of gradients along its first dimension,
    and each result stacks the batch's gradients.

    >>> x = ember.tensor([3.0], requires_grad=True)
    >>> (dx,) = ember.grad((x ** 3).sum(), x, create_graph=True)   # 3x^2 = 27
    >>> (ddx,) = ember.grad(dx.sum(), x)                            # 6x = 18
    """
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("grad: allow_unused must be True or not given when materialize_grads=True")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} ({t.dtype}{list(t.shape)}) does not require grad")
        if t.node.__class__ is TangentNode and not _mode.through_tangents:
            raise RuntimeError(f"grad: input {i} ({t.dtype}{list(t.shape)}) was computed under no_grad inside a "
                               "forward-mode scope, so it does not require grad (it is recorded only for its tangent)")
        if t.array.dtype not in DIFFERENTIABLE:  # (x.requires_grad = True, unchecked, on an integer tensor)
            raise RuntimeError(f"grad: input {i} ({t.dtype}{list(t.shape)}) requires grad, but only floating-point "
                               f"and complex tensors can: its gradient would be {t.dtype} too")
    if is_grads_batched:
        results = _batched_grads(outputs, inputs, grad_outputs, retain_graph, create_graph)
    else:
        results = _grads(outputs, inputs, grad_outputs, retain_graph, create_graph)
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} ({t.dtype}{list(t.shape)}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
    if materialize_grads:
        results = [Tensor._make(array_module(t.array).zeros(t.shape, t.dtype), None) if g is None else g
                   for t, g in zip(inputs, results)]
    return tuple(results)


def _grads(outputs: list, inputs: list, grad_outputs: list, retain_graph: bool, create_graph: bool) -> list:
    """``grad``'s gradients (None for an unused input), dense."""
    symbolic = next((t for t in outputs if t.symbolic), None)
    if symbolic is not None:  # graph Values: their graph appends the backward nodes
        results = symbolic.graph.gradients(outputs, inputs, grad_outputs)
    else:
        roots = _root_grads(outputs, grad_outputs, "grad")
        results = run_backward(outputs, roots, retain_graph, create_graph, capture=inputs)
    return [_dense(g) if g is not None else None for g in results]


def _batched_grads(outputs: list, inputs: list, grad_outputs: list, retain_graph: bool, create_graph: bool) -> list:
    """``grad(is_grads_batched=True)``: one backward per batch element of ``grad_outputs``, results stacked."""
    sizes = {g.shape[0] if isinstance(g, Tensor) and g.ndim else None for g in grad_outputs}
    if len(sizes) != 1 or None in sizes:
        shapes = [list(g.shape) if isinstance(g, Tensor) else None for g in grad_outputs]
        raise RuntimeError(f"grad: is_grads_batched=True needs grad_outputs that are Tensors with one batch size "
                           f"in their first dimension, got shapes {shapes}")
    (n,) = sizes
    rows = [_grads(outputs, inputs, [g[b] for g in grad_outputs], retain_graph or b < n - 1, create_graph)
            for b in range(n)]
    return [None if row[0] is None else stack(row) for row in zip(*rows)]


def _new_tensor(data, dtype, device) -> Tensor:
    return Tensor(data, dtype=dtype, device=device)


def _wrap_array(array) -> Tensor:
    return Tensor._make(array, None)


# The op functions reach the tape through ember.ops.dispatch: the op library never imports this layer.
dispatch.install(apply_fn=apply, wrap_fn=_wrap_array, new_fn=_new_tensor, grad_enabled_fn=_grad_mode.is_recording,
                 row_sparse_fn=RowSparse)

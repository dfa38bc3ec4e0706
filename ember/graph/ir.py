"""The IR: a Graph of Nodes over Values in SSA form, its text dump, a verifier and a reference interpreter.

A Value is an ``ember.Tensor`` whose ``array`` is a ``Symbol`` (shape and dtype, no numbers), so every op
function runs unchanged on it: while a graph is built ``ember.autograd.apply`` hands each call to the graph
(``Graph.build``), which appends a Node instead of computing. Side effects (variable writes, optimizer
updates, random draws) are ops of ``ember.ops.effects`` and become nodes the same way.
Each Value is defined once: by a graph input or by the one Node that outputs it.

A dimension may be unknown (None, shown ``?``): the shape rules carry it, probing with stand-in sizes where a
rule needs numbers. Such a graph runs through the passes and the code generator as it is (one function for
every size, ``ember.runtime.sized``), or through ``ember.passes.specialize`` (a typed copy per signature).
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from ember import autograd
from ember.backend.devices import CPU, Device, device_of
from ember.graph.autodiff import gradients
from ember.graph.errors import GraphError
from ember.ops.effects import ASSIGN, RANDOM, SPARSE_UPDATE, UPDATE
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Op, Spec, describe, format_shape
from ember.ops.unknown_size import UnknownSize, from_user
from ember.tensor import Tensor
from ember.traced_state import is_state

__all__ = ["ASSIGN", "CONST", "DIM_HINT", "RANDOM", "SPARSE_UPDATE", "UPDATE", "Graph", "GraphError", "Node",
           "Symbol", "Value", "current", "format_node", "hinted_size", "interpret", "type_str"]

DIM_HINT = 64  # a graph's default guess for an unknown dimension (a batch), when a pass weighs sizes


def hinted_size(shape: tuple, hint: int) -> int:
    """The number of elements of ``shape``, counting each unknown (None) dimension as ``hint``: what passes
    weigh a choice by (fusing, sizing a buffer) in a graph compiled for many sizes."""
    n = 1
    for d in shape:
        n *= hint if d is None else d
    return n


class Symbol(Spec):
    """Stand-in for an array while a graph is built: a Spec (shape and dtype) and the device the value will
    live on, sitting in ``Tensor.array``."""

    base = None  # like an array that owns its memory
    # the memory order of the array a captured Tensor holds: an (out, in) weight stored column by column
    # (``nn.Linear``'s) gets its gradient computed in that order, as in eager mode
    column_major = False

    def __new__(cls, shape: tuple, dtype, device=CPU):
        symbol = super().__new__(cls, tuple(shape), np.dtype(dtype))
        symbol.device = device if device.__class__ is Device else Device(device)
        return symbol

    def __repr__(self) -> str:
        return type_str(self.shape, self.dtype, self.device)


def _note_layout(t: Tensor, v: Value) -> None:
    """Mark ``v``'s Symbol column-major when the captured ``t`` holds a matrix stored column by column."""
    flags = getattr(t.array, "flags", None)
    if flags is not None and t.array.ndim == 2 and flags.f_contiguous and not flags.c_contiguous:
        v.array.column_major = True


def type_str(shape, dtype, device=CPU) -> str:
    """``float32[?, 10]``: how the dump writes a value's type (``?`` is an unknown dimension; a device other
    than the CPU follows, ``float32[8] cuda:0``)."""
    where = "" if device == CPU else f" {device}"
    return f"{np.dtype(dtype)}{format_shape(shape)}{where}"


def _user_while_building(frame) -> bool:
    """Whether user code (``frame``) reads a shape while a graph is built: unknown sizes are ``UnknownSize`` then."""
    return current() is not None and from_user(frame)


class Value(Tensor):
    """A symbolic Tensor: the result of one Node (or a graph input) in one Graph."""

    __slots__ = ("graph", "id", "name")
    symbolic = True

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
        """``loss.backward()`` on a Value: only a traced call (``ember.jit``) has ``.grad`` to fill; a plain
        graph build takes gradients with ``ember.grad`` or ``ember.passes.gradients``."""
        if self.graph.trace is None:
            raise GraphError("backward/step on symbolic values: only ember.jit traces these (a plain graph build "
                             "takes gradients with ember.passes.gradients)")
        self.graph.trace.backward(self, gradient, inputs)

    @property
    def spec(self) -> Spec:
        return Spec(self.array.shape, self.array.dtype)

    @property
    def shape(self) -> tuple:
        """The shape. Read by code outside Ember while a graph is built (a traced function), an unknown dimension
        is an ``UnknownSize``, which refuses a Python branch on it, rather than the graph's None (which Ember's own
        code, the op functions and layers, reads, as does code inspecting a built graph)."""
        shape = self.array.shape
        if None in shape and _user_while_building(sys._getframe(1)):
            return self._user_shape()
        return shape

    def size(self, axis: int | None = None):
        """The shape, or one dimension of it (an ``UnknownSize`` where unknown, as ``shape``)."""
        shape = self.array.shape
        if None in shape and _user_while_building(sys._getframe(1)):
            shape = self._user_shape()
        return shape if axis is None else shape[axis]

    def __len__(self) -> int:
        shape = self.array.shape
        if shape and shape[0] is None and current() is not None:
            raise self._user_shape()[0].refuse("len()")
        return super().__len__()

    def _user_shape(self) -> tuple:
        name = f" ({self.name})" if self.name else ""
        return tuple(UnknownSize(f"dimension {axis} of %{self.id}{name}: {self.array!r}", source=(self, axis))
                     if d is None else d for axis, d in enumerate(self.array.shape))

    @property
    def device(self) -> Device:
        return self.array.device

    @property
    def is_leaf(self) -> bool:
        """As eager mode's: a value that requires no grad, or an input of the graph (an argument of a traced call);
        not one an op computed from one that requires grad."""
        return not self.requires_grad or any(v is self for v in self.graph.inputs)

    def __bool__(self) -> bool:
        raise TypeError(
            f"the truth value of the symbolic value %{self.id} ({self.array!r}) is unknown while the graph is "
            "built; Python branches on values cannot be recorded"
        )

    def item(self):
        raise TypeError(f"item(): %{self.id} ({self.array!r}) is symbolic and has no value yet")

    def numpy(self):
        raise TypeError(f"numpy(): %{self.id} ({self.array!r}) is symbolic and has no value yet")

    def _no_memory(self, what: str):
        raise TypeError(f"{what}: %{self.id} ({self.array!r}) is a symbolic graph value and has no memory (strides, "
                        "address) while the graph is built; the code generator lays it out")

    def stride(self, dim: int | None = None):
        self._no_memory("stride()")

    def storage_offset(self) -> int:
        self._no_memory("storage_offset()")

    def data_ptr(self) -> int:
        self._no_memory("data_ptr()")

    def detach(self):
        """The value through which no gradient flows (a ``stop_gradient`` node: a GAN's ``fake.detach()``)."""
        from ember.ops.shape import stop_gradient

        return stop_gradient(self)

    @property
    def data(self):
        """A symbolic value has no data (its ``array`` is a Symbol): PyTorch's ``.data`` idioms (detached reads,
        in-place updates through it) need concrete tensors, so they raise here rather than record nothing."""
        raise TypeError(f".data: %{self.id} ({self.array!r}) is a symbolic graph value and has no data while the "
                        "graph is built; use the value itself in traced code (x, not x.data)")

    @data.setter
    def data(self, value) -> None:
        raise TypeError(f".data: cannot replace the data of the symbolic graph value %{self.id} ({self.array!r}); "
                        "a graph value is defined once, by its node")

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"Value(%{self.id}: {self.array!r})"


def _special(name: str, forward) -> Op:
    """A graph-only op: not a registry primitive, so it has no vjp, cost or ONNX entry of its own."""
    return Op(name, forward, None, NON_DIFFERENTIABLE, lambda *a, **k: Cost(0, 0), False, NO_ONNX, False)


def _const_forward(xp, *, value):
    return value


CONST = _special("const", _const_forward)


class Node:
    """One op call: ``outputs = op(*inputs, **attrs)``; side-effect nodes have no outputs."""

    __slots__ = ("op", "inputs", "outputs", "attrs", "no_grad")

    def __init__(self, op: Op, inputs: list, outputs: list, attrs: dict, no_grad: bool = False):
        self.op = op
        self.inputs = inputs
        self.outputs = outputs
        self.attrs = attrs
        # built while gradient recording was off (a traced ``no_grad`` block): no gradient flows through it, as
        # eager mode records nothing there
        self.no_grad = no_grad

    @property
    def output(self) -> Value:
        return self.outputs[0]

    def __repr__(self) -> str:
        return f"<Node {format_node(self)}>"


def _format_attr(value) -> str:
    if isinstance(value, np.ndarray):
        if value.size <= 4:
            return np.array2string(value, separator=", ").replace("\n", "")
        return f"<{type_str(value.shape, value.dtype)}>"
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
        return "{" + ", ".join(f"{k}={_format_attr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, np.dtype):
        return str(value)
    return repr(value)


def format_node(node: Node) -> str:
    """One line of the dump: ``%3 = matmul(%1, %2) : float32[?, 10]``."""
    args = [f"%{v.id}" for v in node.inputs]
    shown = {k: v for k, v in node.attrs.items() if k not in ("state", "live", "owner")} if node.attrs else {}
    if node.op.name == "const":
        value = node.attrs["value"]
        args = [_format_attr(np.asarray(value))]
        shown = {}
    args += [f"{k}={_format_attr(v)}" for k, v in shown.items()]
    call = f"{node.op.name}({', '.join(args)})"
    if not node.outputs:
        return call
    outs = ", ".join(f"%{v.id}" for v in node.outputs)
    types = ", ".join(repr(v.array) for v in node.outputs)
    return f"{outs} = {call} : {types}"


class Graph:
    """Inputs, Nodes in execution order, and outputs. Build with ``with graph.building(): ...``.

    >>> g = Graph()
    >>> x = g.input("x", (2, 3), "float32")
    >>> with g.building():
    ...     y = ember.relu(x) * 2.0
    >>> g.outputs = [y]
    >>> print(g)
    """

    def __init__(self):
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self._next_id = 0
        self._constants: dict = {}  # id(Tensor) -> (Tensor, Value): each captured Tensor enters once
        self.requests: list = []  # TrainRequests the autodiff pass resolves
        self.live_captures = False  # when True, captured leaf Tensors that require grad become inputs
        self.captured: list = []  # (Tensor, Value) pairs of those inputs, read afresh on every run
        self.trace = None  # an ember.tracing.Trace while ember.jit traces into this graph
        self.memory_plan = None  # an ember.passes.plan_memory.MemoryPlan: which values share which buffer
        self.dim_hint = DIM_HINT  # the size passes assume for an unknown dimension when they weigh a choice
        self.averaged_grads: set = set()  # ids of .grad Values a traced backward averaged over the ranks
        self.inference = False  # an inference trace (an export): layers record no writes to their variables

    # --- building ---
    def _value(self, shape, dtype, name: str | None = None, device=CPU) -> Value:
        v = _new(Value)
        v.array = Symbol(shape, dtype, device)
        v.node = None
        v.requires_grad = False
        v._grad = None
        v._hooks = None
        v.graph = self
        v.id = self._next_id
        v.name = name
        self._next_id += 1
        return v

    def input(self, name: str, shape, dtype, device=CPU) -> Value:
        """A new graph input (a placeholder or a variable the runtime binds) on ``device``."""
        v = self._value(shape, dtype, name, device)
        self.inputs.append(v)
        return v

    def add(self, op: Op, inputs, attrs: dict | None = None, specs=(), device=None) -> list:
        """Append ``op(*inputs, **attrs)`` with outputs of the given specs; returns the output Values. They
        live on ``device``: by default the first input's (the CPU for a node without inputs)."""
        if device is None:
            device = inputs[0].array.device if inputs else CPU
        outputs = [self._value(s.shape, s.dtype, None, device) for s in specs]
        self.nodes.append(Node(op, list(inputs), outputs, dict(attrs) if attrs else {}))
        return outputs

    def constant(self, array, name: str | None = None) -> Value:
        """A Value holding a fixed array (on the array's device)."""
        device = device_of(array)
        if device == CPU:
            array = np.asarray(array)
        (v,) = self.add(CONST, (), {"value": array}, [Spec(array.shape, array.dtype)], device)
        v.name = name
        return v

    def capture(self, t: Tensor, live: bool = False) -> Value:
        """The Value for a concrete Tensor used while building: a constant (or, with ``live_captures``, an
        input for a parameter, a module's buffer (``is_state``), or any Tensor captured with ``live``, which an
        effect writes), made once per Tensor. A Tensor first read as a constant and then captured
        live becomes an input: every reader then reads it when the graph runs."""
        found = self._constants.get(id(t))
        if found is not None and live and self.live_captures and not any(v is found[1] for v in self.inputs):
            self._promote(t, found[1])
        if found is None:
            if self.live_captures and (live or t.node is None and (t.requires_grad or is_state(t))):  # read when run
                v = self.input(f"captured{len(self.captured)}", t.array.shape, t.array.dtype, device_of(t.array))
                self.captured.append((t, v))
                _note_layout(t, v)
                if self.trace is not None and t.requires_grad:
                    self.trace.touch(t)  # remember its .grad as the caller left it
            else:
                v = self.constant(t.array)
            found = self._constants[id(t)] = (t, v)
        return found[1]

    def reads(self, t: Tensor) -> bool:
        """Whether the concrete Tensor ``t`` was captured while building (as a constant or an input)."""
        return id(t) in self._constants

    def _promote(self, t: Tensor, v: Value) -> None:
        """Turn the constant ``v`` (holding ``t``) into a live input: drop its const node, keep the Value."""
        self.nodes = [node for node in self.nodes if not (node.outputs and node.outputs[0] is v)]
        v.name = f"captured{len(self.captured)}"
        self.inputs.append(v)
        self.captured.append((t, v))
        _note_layout(t, v)

    def build(self, op: Op, inputs: tuple, attrs: dict | None):
        """``ember.autograd.apply`` while this graph is built: infer the output with the op's rule and append
        a Node. Without ``live_captures`` an op on concrete Tensors only computes at once, as in eager mode
        (unless it is an effect); a trace (``ember.jit``) records every op, so that what it computes from a
        captured Tensor follows the Tensor when an effect writes it (constants are folded by the passes)."""
        if op.effect and self.trace is not None:
            self.trace.observe(op, inputs, attrs)  # an effect on Python state (a .grad) while ember.jit traces
        if not op.effect and not self.live_captures:
            for t in inputs:
                if t.symbolic:
                    break
            else:  # only concrete inputs: compute now, as eager mode does
                return autograd.run_eager(op, inputs, attrs)
        values = []
        for i, t in enumerate(inputs):
            if not t.symbolic:
                t = self.capture(t, live=i in op.writes)  # a graph run reads what an effect writes
            elif t.graph is not self:
                raise GraphError(f"{op.name}: input %{t.id} belongs to another graph")
            values.append(t)
        device = _common_device(values)
        if device is None:
            raise GraphError(f"{op.name}: inputs on different devices "
                             f"({', '.join(repr(v.array) for v in values)}); move them to one with .to()")
        specs = [v.spec for v in values]
        if attrs and attrs.get("shape") is not None and None in attrs["shape"] and op.name != "reshape":
            raise GraphError(f"{op.name}: the target shape {format_shape(attrs['shape'])} has unknown dimensions "
                             f"(inputs: {describe(specs)}); give it in known sizes or -1")
        spec = infer(op, specs, attrs or {})
        outputs = self.add(op, values, attrs, [] if spec is None else [spec], device)
        if not outputs:
            return None
        if not autograd._mode.grad_enabled:
            self.nodes[-1].no_grad = True
        elif op.differentiable and True in [t.requires_grad for t in inputs]:
            outputs[0].requires_grad = True  # as eager mode marks it: traced code may read it (if y.requires_grad)
        return outputs[0]

    def gradients(self, ys: list, xs: list, grad_ys: list | None = None, sparse: bool = False,
                  stop: list | None = None) -> list:
        """``ember.grad`` on Values: nodes computing the gradients of ``ys`` for ``xs`` (Values, or Tensors
        the graph captured), appended by the ops' vjp rules; None for an x the ys do not depend on.
        ``sparse``: a sparse embedding's weight gets a ``RowSparse`` of Values instead of a dense sum;
        ``stop``: Values held constant (no gradient flows past them)."""
        xs = [x if x.symbolic else self.capture(x) for x in xs]
        return gradients(self, list(ys), xs, grad_ys, sparse, stop)

    def building(self) -> _Building:
        """Context manager: op calls on this graph's Values append Nodes to it."""
        return _Building(self)

    # --- reading ---
    def producers(self) -> dict:
        """Value id -> the Node that outputs it."""
        return {v.id: node for node in self.nodes for v in node.outputs}

    def users(self) -> dict:
        """Value id -> the Nodes that read it."""
        found: dict = {}
        for node in self.nodes:
            for v in node.inputs:
                found.setdefault(v.id, []).append(node)
        return found

    def written(self) -> set:
        """Ids of the values some effect node writes in place (variables, state, a generator's state)."""
        return {node.inputs[i].id for node in self.nodes if node.op.effect for i in node.op.writes
                if i < len(node.inputs)}

    def handed(self) -> set:
        """Ids of the values whose memory a graph output may share: the outputs and what they view (any op not
        known to return new memory may return a view)."""
        handed = {v.id for v in self.outputs}
        for node in reversed(self.nodes):
            if not node.op.fresh and any(v.id in handed for v in node.outputs):
                handed.update(v.id for v in node.inputs)
        return handed

    def replace_uses(self, mapping: dict) -> None:
        """Make every reader of value id ``k`` read ``mapping[k]`` instead."""
        if not mapping:
            return
        for node in self.nodes:
            node.inputs = [mapping.get(v.id, v) for v in node.inputs]
        self.outputs = [mapping.get(v.id, v) for v in self.outputs]

    def dump(self) -> str:
        """The readable text form (stable: golden tests compare it)."""
        params = ", ".join(f"%{v.id}: {v.array!r}" + (f" {v.name}" if v.name else "") for v in self.inputs)
        lines = [f"graph({params}) {{"]
        plan = self.memory_plan if self.memory_plan is not None and self.memory_plan.matches(self) else None
        lines += ["  " + format_node(node) + (plan.note(node) if plan else "") for node in self.nodes]
        lines.append("  return " + ", ".join(f"%{v.id}" for v in self.outputs))
        if plan and plan.buffers:
            lines.append("  // " + plan.summary())
        lines.append("}")
        return "\n".join(lines)

    __str__ = dump

    def verify(self) -> Graph:
        """Check SSA form, ownership and every node's shapes against its op's rule; raise GraphError."""
        defined = set()
        for v in self.inputs:
            _check_owner(self, v, "input")
            if v.id in defined:
                raise GraphError(f"input %{v.id} is defined twice")
            defined.add(v.id)
        for node in self.nodes:
            for v in node.inputs:
                _check_owner(self, v, format_node(node))
                if v.id not in defined:
                    raise GraphError(f"{format_node(node)}: reads %{v.id}, which is not defined before it")
            _check_node(node)
            for v in node.outputs:
                _check_owner(self, v, format_node(node))
                if v.id in defined:
                    raise GraphError(f"{format_node(node)}: redefines %{v.id} (SSA allows one definition)")
                defined.add(v.id)
        for v in self.outputs:
            _check_owner(self, v, "output")
            if v.id not in defined:
                raise GraphError(f"output %{v.id} is not defined in the graph")
        return self


def _check_owner(graph: Graph, v, where: str) -> None:
    if not isinstance(v, Value) or v.graph is not graph:
        raise GraphError(f"{where}: {v!r} is not a Value of this graph")


def _check_node(node: Node) -> None:
    op = node.op
    _check_devices(node)
    if op.infer is None:
        if node.inputs or len(node.outputs) != 1:
            raise GraphError(f"{format_node(node)}: {op.name} takes no inputs and defines one value")
        return
    specs = [v.spec for v in node.inputs]
    try:
        expected = infer(op, specs, node.attrs)
    except (ValueError, TypeError) as exc:
        raise GraphError(f"{format_node(node)}: {exc}") from None
    if expected is None:  # an effect that defines no value
        if node.outputs:
            raise GraphError(f"{format_node(node)}: {op.name} is run for its effect and defines no value")
        return
    got = node.outputs[0].spec if len(node.outputs) == 1 else None
    if got is None or tuple(got.shape) != tuple(expected.shape) or got.dtype != expected.dtype:
        raise GraphError(
            f"{format_node(node)}: op {op.name} on ({describe(specs)}) gives "
            f"{type_str(expected.shape, expected.dtype)}, the node says "
            f"{', '.join(repr(v.array) for v in node.outputs)}"
        )


def _check_devices(node: Node) -> None:
    if not node.inputs:
        return
    device = _common_device(node.inputs)
    if device is None or any(v.array.device != device for v in node.outputs):
        raise GraphError(f"{format_node(node)}: values on different devices "
                         f"({', '.join(str(v.array.device) for v in node.inputs + node.outputs)})")


_new = object.__new__

# --- building: the hook ember.autograd.apply calls while a graph is built ------------------------------

class _Stack(threading.local):
    graphs: list  # the graphs being built in this thread, innermost last

    def __init__(self):
        self.graphs = []


_stack = _Stack()


def current() -> Graph | None:
    """The graph being built in this thread, or None."""
    graphs = _stack.graphs
    return graphs[-1] if graphs else None


def _common_device(values) -> Device | None:
    """The device all ``values`` live on, or None when they disagree. A 0-d value on the CPU (a Python
    number as a constant) goes with any device, as NumPy scalars do with CuPy arrays."""
    devices = {v.array.device for v in values if v.array.device != CPU or v.array.shape != ()}
    if len(devices) > 1:
        return None
    return devices.pop() if devices else CPU


def infer(op: Op, specs: list, attrs: dict) -> Spec:
    """The op's output type for inputs of ``specs``; unknown dimensions a rule cannot take are probed."""
    try:
        return op.infer(*specs, **attrs)
    except TypeError:
        if not any(None in s.shape for s in specs):
            raise
        return _probe(op, specs, attrs)


_PROBES = (1_000_003, 1_000_033)  # stand-ins for unknown sizes: large, distinct, unlikely to be real sizes


def _probe(op: Op, specs: list, attrs: dict) -> Spec:
    """The output type of an op whose shape rule needs numbers: run the rule twice with the unknown sizes
    replaced by two different stand-ins; output sizes that differ depend on them and stay unknown (the rule
    runs again, on known sizes, when the graph is specialized)."""
    outs = []
    for probe in _PROBES:
        filled = [Spec(tuple(probe if d is None else d for d in s.shape), s.dtype) for s in specs]
        try:
            outs.append(op.infer(*filled, **attrs))
        except (ValueError, TypeError, IndexError) as exc:
            raise GraphError(f"{op.name}: its shape rule needs known sizes for the unknown dimensions of "
                             f"({describe(specs)}): {exc}") from None
    a, b = outs
    if len(a.shape) != len(b.shape) or a.dtype != b.dtype:
        raise GraphError(f"{op.name}: the rank of its output depends on unknown sizes ({describe(specs)})")
    try:  # and at a size of 1: a size both stand-ins give may still be bounded by the input's (x[:, :2] has 1 row)
        small = op.infer(*[Spec(tuple(1 if d is None else d for d in s.shape), s.dtype) for s in specs], **attrs)
    except (ValueError, TypeError, IndexError):  # a rule refusing a size of 1 (a kernel of 3): the stand-ins decide
        small = b
    if len(small.shape) != len(b.shape):
        small = b
    return Spec(tuple(x if x == y == z and x not in _PROBES else None
                      for x, y, z in zip(a.shape, b.shape, small.shape)), a.dtype)



class _Building:
    __slots__ = ("graph", "previous")

    def __init__(self, graph: Graph):
        self.graph = graph
        self.previous = None

    def __enter__(self) -> Graph:
        _stack.graphs.append(self.graph)
        self.previous = autograd._mode.builder  # the profiler's recorder, when it records eager ops
        autograd.set_graph_builder(self.graph)
        return self.graph

    def __exit__(self, kind, exc, traceback) -> None:
        graphs = _stack.graphs
        graphs.pop()
        autograd.set_graph_builder(graphs[-1] if graphs else self.previous)
        if kind is TypeError and any(None in v.array.shape for v in self.graph.inputs):
            # A TypeError while sizes are unknown is most likely Python arithmetic on a shape meeting None (the
            # shape rules themselves probe unknown sizes): name the function that did it
            where = None
            while traceback is not None:
                code = traceback.tb_frame.f_code
                if "ember" in code.co_filename.replace("\\", "/").split("/"):
                    where = code.co_name
                traceback = traceback.tb_next
            raise GraphError(f"{where or 'graph building'}: needs the size of an unknown (None) dimension "
                             f"({exc}); build with known sizes there, or -1 in a reshape") from exc


# --- the reference interpreter ---------------------------------------------------------------------------


def interpret(graph: Graph, *args) -> list:
    """Run ``graph`` on arrays (one per input) by calling each op's forward; returns the outputs' arrays.

    The reference the generated code and every pass are tested against.
    """
    if len(args) != len(graph.inputs):
        raise TypeError(f"interpret: the graph takes {len(graph.inputs)} inputs, got {len(args)}")
    env = {v.id: a for v, a in zip(graph.inputs, args)}
    for node in graph.nodes:
        arrays = [env[v.id] for v in node.inputs]
        xp = np
        out = node.op.forward(xp, *arrays, **node.attrs)
        if node.outputs:  # an effect without outputs changed its inputs in place
            env[node.outputs[0].id] = np.asarray(out)
    return [env[v.id] for v in graph.outputs]

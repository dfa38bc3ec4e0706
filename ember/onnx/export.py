"""Ember -> ONNX: a Graph (traced from a module or function, built by hand, or a Session's fetches) becomes an
ONNX model, node by node from the op records (``onnx`` name, or the ``onnx_export`` rule)."""

from __future__ import annotations

import functools
import os

import numpy as np
import onnx
from onnx import helper, numpy_helper

import ember
from ember.export.trace import axes_of as _axes
from ember.export.trace import trace
from ember.graph.ir import Graph
from ember.ops.registry import NO_ONNX, Op, Spec
from ember.passes import run_passes

__all__ = ["Emitter", "export", "to_onnx", "trace"]

_PASSES = ("prune", "fold_constants", "cse", "prune")  # no fusion: ONNX gets registry ops only


class Emitter:
    """What an op's ONNX rule writes through (see ``ember.ops.onnx_rules``)."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.specs: dict[str, Spec] = {}
        self.op: Op | None = None  # the op being lowered
        self.out: Spec | None = None  # its output's Spec
        self._count = 0
        self._cast_to: dict[str, np.dtype] = {}  # a Cast's output: its type

    def fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def node(self, op_type: str, inputs: list, outputs: int = 1, **attrs):
        """Append one ONNX node; returns its output name (a list when ``outputs`` > 1). Integer inputs of a
        type the ONNX op does not take (MatMul on int8, Neg on uint8) go through int32 or int64 and back,
        which keeps NumPy's wrapping arithmetic."""
        inputs, casts = self._widened(op_type, list(inputs))
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=self.fresh(op_type), **attrs))
        names = [self.node("Cast", [n], to=self.dtype(casts[i])) if i in casts else n for i, n in enumerate(names)]
        if op_type == "Cast":
            self._cast_to[names[0]] = helper.tensor_dtype_to_np_dtype(attrs["to"])
        return names[0] if outputs == 1 else names

    def _type_of(self, name: str) -> np.dtype | None:
        """The dtype of a value the rule received or a Cast wrote; None for other intermediate values."""
        spec = self.specs.get(name)
        return np.dtype(spec.dtype) if spec is not None else self._cast_to.get(name)

    def _widened(self, op_type: str, inputs: list) -> tuple:
        """``inputs``, those of a small integer type that ``op_type`` does not take cast to a wider one it
        does, and {output index: the type to cast that output back to}."""
        first = self._type_of(inputs[0]) if inputs else None
        if first is None or first.kind not in "iu":
            return inputs, {}
        formal, outputs, allowed = _signature(op_type, self.opset)
        narrow = np.dtype(first)
        kinds = allowed.get(formal[0], ())
        if not kinds or f"tensor({narrow.name})" in kinds:
            return inputs, {}
        wide = next((w for w in ("int32", "int64") if f"tensor({w})" in kinds and np.can_cast(narrow, w)), None)
        if wide is None:
            return inputs, {}
        same = [formal[min(i, len(formal) - 1)] == formal[0] for i in range(len(inputs))]
        # ("" names an optional input left out)
        inputs = [self.node("Cast", [n], to=self.dtype(wide)) if same[i] and n else n for i, n in enumerate(inputs)]
        return inputs, {i: narrow for i, t in enumerate(outputs) if t == formal[0]}

    def const(self, value, dtype=None) -> str:
        """An initializer holding ``value`` (as ``dtype`` when given)."""
        array = np.asarray(value, dtype=dtype)
        name = self.fresh("const")
        self.initializers.append(numpy_helper.from_array(array, name))
        self.specs[name] = Spec(array.shape, array.dtype)
        return name

    def ints(self, values) -> str:
        """A 1-D int64 initializer: shapes, axes, pads for the ONNX ops that take them as inputs."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def spec(self, name: str) -> Spec:
        """The shape (None: unknown) and dtype of a value the rule received."""
        return self.specs[name]

    @staticmethod
    def dtype(dtype) -> int:
        """ONNX's type code for a NumPy dtype."""
        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def reduce(self, op_type: str, x: str, axis, keepdims: bool) -> str:
        """``op_type`` over ``axis`` (an int, a tuple, or None for all): axes as an input where the opset
        takes them so (ReduceSum from 13, the others from 18), else as an attribute."""
        if axis is None:
            axes = None
        else:
            axes = [int(axis)] if np.isscalar(axis) else [int(a) for a in axis]
        keep = int(bool(keepdims))
        if axes is not None and not axes:  # a reduction over no axes is the identity
            return self.node("Identity", [x])
        if op_type == "ReduceSum" and self.opset >= 13 or self.opset >= 18:
            return self.node(op_type, [x] if axes is None else [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], keepdims=keep, **({} if axes is None else {"axes": axes}))


@functools.cache
def _signature(op_type: str, opset: int) -> tuple:
    """An ONNX op's input and output type parameters, and the types each parameter allows."""
    try:
        schema = onnx.defs.get_schema(op_type, opset)
    except onnx.defs.SchemaError:
        return (), (), {}
    allowed = {c.type_param_str: frozenset(c.allowed_type_strs) for c in schema.type_constraints}
    return tuple(p.type_str for p in schema.inputs), tuple(p.type_str for p in schema.outputs), allowed


def _value_info(name: str, shape, dtype, dims: dict | None = None):
    dims = dims or {}
    shape = [dims.get(i, d) if d is not None else dims.get(i, f"{name}_dim{i}") for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape)


def to_onnx(graph: Graph, *, opset: int = 17, input_names=None, output_names=None, dynamic_axes=None,
            bound: dict | None = None, model_name: str = "ember") -> onnx.ModelProto:
    """The ONNX model of an inference ``graph``. ``bound`` maps input value ids to arrays that become
    initializers (a Session's variables); ``dynamic_axes`` names unknown dimensions, as in PyTorch."""
    newest = onnx.defs.onnx_opset_version()
    if not 13 <= opset <= newest:
        raise ValueError(f"export: opset {opset} is not supported; use 13 to {newest} (the newest the installed "
                         "onnx package knows)")
    graph = run_passes(graph, _PASSES)
    bound = bound or {}
    dynamic_axes = dynamic_axes or {}
    emitter = Emitter(opset)
    names: dict[int, str] = {}
    graph_inputs = []
    free = [v for v in graph.inputs if v.id not in bound]
    input_names = list(input_names or [v.name or f"input{i}" for i, v in enumerate(free)])
    if len(input_names) != len(free):
        raise ValueError(f"export: {len(input_names)} input names for {len(free)} graph inputs")
    for v, name in zip(free, input_names):
        names[v.id] = name
        emitter.specs[name] = v.spec
        graph_inputs.append(_value_info(name, v.array.shape, v.array.dtype, _axes(dynamic_axes.get(name))))
    for v in graph.inputs:
        if v.id in bound:
            names[v.id] = emitter.const(np.asarray(bound[v.id]))
    for node in graph.nodes:
        names[node.outputs[0].id] = _lower(emitter, node, names) if node.outputs else _refuse(node)
        emitter.specs[names[node.outputs[0].id]] = node.outputs[0].spec
    output_names = list(output_names or [f"output{i}" for i in range(len(graph.outputs))])
    if len(output_names) != len(graph.outputs):
        raise ValueError(f"export: {len(output_names)} output names for {len(graph.outputs)} graph outputs")
    _check_dynamic_axes(dynamic_axes, dict(zip(input_names, (v.array.shape for v in free))),
                        dict(zip(output_names, (v.array.shape for v in graph.outputs))))
    graph_outputs = []
    for v, name in zip(graph.outputs, output_names):
        emitter.nodes.append(helper.make_node("Identity", [names[v.id]], [name], name=emitter.fresh("output")))
        graph_outputs.append(_value_info(name, v.array.shape, v.array.dtype, _axes(dynamic_axes.get(name))))
    onnx_graph = helper.make_graph(emitter.nodes, model_name, graph_inputs, graph_outputs, emitter.initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="ember", producer_version=getattr(ember, "__version__", ""))
    model.ir_version = min(model.ir_version, 8 if opset <= 17 else 9)  # runtimes of that opset's age read it
    onnx.checker.check_model(model)
    return model


def _check_dynamic_axes(dynamic_axes: dict, inputs: dict, outputs: dict) -> None:
    """Every dynamic_axes entry names an input or output and axes it has (one that did not was ignored: the
    file kept the traced size there), and an input's are unknown in the graph (else what the graph computed
    from the size, a mean's count or a reshape, would keep it in a file declaring the axis dynamic)."""
    for name, spec in dynamic_axes.items():
        shape = inputs.get(name, outputs.get(name))
        if shape is None:
            raise ValueError(f"export: dynamic_axes names {name!r}, which is neither an input {list(inputs)} nor an "
                             f"output {list(outputs)}")
        outside = [a for a in _axes(spec) if not 0 <= a < len(shape)]
        if outside:
            raise ValueError(f"export: dynamic_axes[{name!r}] has axes {outside}, not among the axes 0 to "
                             f"{len(shape) - 1} of its shape {list(shape)}")
        known = [a for a in _axes(spec) if name in inputs and shape[a] is not None]
        if known:
            raise ValueError(f"export: dynamic_axes marks axes {known} of input {name!r}, but the graph was built "
                             f"with its shape {list(shape)}: what it computed from those sizes would keep them; "
                             "build it with the axes unknown (ember.onnx.trace(fn, inputs, dynamic_axes))")


def _refuse(node) -> None:
    raise ValueError(f"export: the graph has a {node.op.name} node (a side effect: a variable write or optimizer "
                     "update); export an inference graph")


def _lower(emitter: Emitter, node, names: dict) -> str:
    op = node.op
    if op.name == "const":
        return emitter.const(np.asarray(node.attrs["value"]))
    inputs = [names[v.id] for v in node.inputs]
    emitter.op, emitter.out = op, node.outputs[0].spec
    if op.onnx_export is not None:
        try:
            return op.onnx_export(emitter, *inputs, **node.attrs)
        except ValueError as exc:
            raise ValueError(f"export: {exc}") from None
    if op.onnx is NO_ONNX or op.onnx is None:
        shapes = ", ".join(repr(v.array) for v in node.inputs)
        what = "a random draw (dropout in training mode?)" if op.name == "random" else "no ONNX equivalent"
        raise ValueError(f"export: op {op.name!r} ({shapes}) has {what}; call .eval() on the model or "
                         "compute it outside the exported function")
    if node.attrs:
        raise ValueError(f"export: op {op.name!r} has attributes {sorted(node.attrs)} but no onnx_export rule")
    return emitter.node(op.onnx, inputs)


# --- front ends: a module or function, a Graph, a Session -----------------------------------------------


def _session_graph(session, feed_dict: dict, fetches, dynamic_axes: dict | None = None, input_names=None) -> tuple:
    from ember.compat.tf.session import Replay, _check_feed

    replay = Replay(session)
    names = []
    for i, (t, array) in enumerate((feed_dict or {}).items()):
        array = _check_feed(t, array)
        name = input_names[i] if input_names and i < len(input_names) else t.op.name
        unknown = set(_axes((dynamic_axes or {}).get(name)))  # as trace does: the graph computes with them unknown
        shape = tuple(None if a in unknown else d for a, d in enumerate(array.shape))
        replay.feeds[t] = replay.graph.input(t.op.name, shape, array.dtype)
        names.append(t.op.name)
    fetches = list(fetches) if isinstance(fetches, (list, tuple)) else [fetches]
    replay.graph.outputs = [replay.value(t) for t in fetches]
    return replay.graph, replay.bound, names


def export(model_or_fn, example_inputs, path=None, *, opset: int = 17, dynamic_axes: dict | None = None,
           input_names=None, output_names=None, fetches=None, opset_version: int | None = None,
           export_params: bool = True, keep_initializers_as_inputs: bool = False, do_constant_folding: bool = True,
           verbose: bool | None = None) -> onnx.ModelProto:
    """Write ``model_or_fn`` as an ONNX model to ``path`` (a file name or a binary file object) and return it.

    ``model_or_fn``: a Module or a function of Tensors (traced on ``example_inputs``: arrays or Tensors),
    an ``ember.graph.Graph`` (``example_inputs`` is ignored; may be None), or an ``ember.compat.tf.Session``
    with ``example_inputs`` its feed_dict and ``fetches`` the tensors to compute. ``dynamic_axes``
    ({input or output name: {axis: name}}) leaves those dimensions unknown, as in ``torch.onnx.export``.

    >>> ember.onnx.export(net, ember.randn(1, 1, 8, 8), "net.onnx", dynamic_axes={"input0": {0: "batch"}})

    ``torch.onnx.export``'s keywords are taken: ``opset_version`` for ``opset``; the weights are always written
    into the model as initializers (``export_params=False`` and ``keep_initializers_as_inputs=True`` are
    refused) and constants always folded (``do_constant_folding`` and ``verbose`` change nothing).
    """
    if opset_version is not None:
        if opset != 17 and opset != opset_version:
            raise ValueError(f"export: opset={opset} and opset_version={opset_version} disagree; give one")
        opset = opset_version
    if not export_params or keep_initializers_as_inputs:
        raise ValueError("export: the weights are written into the model as initializers; export_params=False "
                         "and keep_initializers_as_inputs=True are not supported")
    del do_constant_folding, verbose
    from ember.compat import tf

    bound = None
    if isinstance(model_or_fn, Graph):
        graph = model_or_fn
    elif isinstance(model_or_fn, tf.Session):
        if fetches is None:
            raise TypeError("export: a Session needs fetches= (the tensors to compute)")
        graph, bound, feed_names = _session_graph(model_or_fn, example_inputs, fetches, dynamic_axes, input_names)
        input_names = input_names or feed_names
    elif callable(model_or_fn):
        graph = trace(model_or_fn, example_inputs, dynamic_axes, input_names)
        input_names = None  # the traced inputs carry them (those not named: input<i>)
    else:
        raise TypeError("export: expected a Module, a function, a Graph or a Session, "
                        f"got {type(model_or_fn).__name__}")
    model = to_onnx(graph, opset=opset, input_names=input_names, output_names=output_names,
                    dynamic_axes=dynamic_axes, bound=bound)
    if path is not None:
        if hasattr(path, "write"):
            path.write(model.SerializeToString())
        else:
            onnx.save(model, os.fspath(path))
    return model



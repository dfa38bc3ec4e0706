"""ONNX -> Ember: ``load`` turns an ONNX model into a Module whose forward calls Ember ops node by node, so it
runs eagerly (with autograd: float initializers are Parameters, and fine-tune), traces into an Ember Graph
and compiles with ``ember.jit`` through the passes and generated code."""

from __future__ import annotations

import os
import re

import numpy as np
import onnx
from onnx import helper, numpy_helper

import ember
from ember.graph.ir import Graph
from ember.nn import Module, Parameter
from ember.onnx.converters import CONVERTERS, STATIC, UnsupportedError
from ember.tensor import Tensor

__all__ = ["OnnxModule", "Frozen", "load", "unsupported_ops"]


class Frozen:
    """An input read as a value (a shape, axes, a position): hashable, so ``ember.jit`` freezes it into the
    trace and retraces when it changes."""

    __slots__ = ("array", "_key")

    def __init__(self, array):
        self.array = np.asarray(array)
        self._key = (self.array.dtype.str, self.array.shape, self.array.tobytes())

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other) -> bool:
        return isinstance(other, Frozen) and self._key == other._key

    def __repr__(self) -> str:
        return f"Frozen({self.array.tolist()!r})"


class _NodeContext:
    """What a converter knows of its node besides the inputs: ``cx`` in ``ember.onnx.converters``."""

    __slots__ = ("op_type", "opset", "outputs", "name")

    def __init__(self, node, opset: int):
        self.op_type = node.op_type
        self.opset = opset
        self.outputs = len(node.output)
        self.name = node.name or node.op_type

    def static(self, value) -> np.ndarray:
        """An input's value as an array: it must be known when the graph is built."""
        if isinstance(value, Frozen):
            return value.array
        if isinstance(value, Tensor):
            if getattr(value, "graph", None) is not None:
                return self._folded(value)
            return np.asarray(value.array)
        return np.asarray(value)


    def _folded(self, value) -> np.ndarray:
        """A traced value computed from constants only (a shape computation the trace recorded): its value."""
        producers = value.graph.producers()
        memo: dict = {}

        def evaluate(v):
            if v.id in memo:
                return memo[v.id]
            node = producers.get(v.id)
            if node is None or node.op.effect:
                raise UnsupportedError(f"{self.op_type} ({self.name}): an input it reads as a value (a shape or "
                                       f"axes) is computed from the model's data ({value!r})")
            if node.op.name == "const":
                memo[v.id] = np.asarray(node.attrs["value"])
            else:
                memo[v.id] = np.asarray(node.op.forward(np, *[evaluate(i) for i in node.inputs], **node.attrs))
            return memo[v.id]

        return evaluate(value)


def _attributes(node) -> dict:
    attrs = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        attrs[a.name] = value
    return attrs


def _opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return entry.version
    return 1


_GRADIENT = ("ai.onnx.preview.training", "Gradient")  # answered by Ember's autograd, see OnnxModule._gradient


def unsupported_ops(model: onnx.ModelProto) -> list[str]:
    """The op types of ``model`` Ember cannot import (other domains, subgraphs, ops without a converter)."""
    found = set()
    for node in model.graph.node:
        if (node.domain, node.op_type) == _GRADIENT:
            continue
        if node.domain not in ("", "ai.onnx") or node.op_type not in CONVERTERS:
            found.add(node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}")
    return sorted(found)


def _named(exc: UnsupportedError, node) -> UnsupportedError:
    """A converter's UnsupportedError ("LSTM: clip ... not supported") naming its node too, as load's does."""
    message, label = str(exc), f"{node.op_type} ({node.name or 'unnamed'})"
    if message.startswith(f"{node.op_type} ("):
        return exc
    if message.startswith(f"{node.op_type}: "):
        message = message[len(node.op_type) + 2:]
    return UnsupportedError(f"{label}: {message}")


def _declared_shape(value_info) -> tuple | None:
    """The sizes an ONNX graph input declares (None for a named or missing size), or None without a shape."""
    tensor_type = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type") or not tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim)


class OnnxModule(Module):
    """An imported ONNX model: call it on Tensors (or arrays) in the order of the model's inputs.

    >>> net = ember.onnx.load("model.onnx")
    >>> y = net(ember.randn(1, 3, 224, 224))
    >>> fast = ember.jit(net)            # through Ember's passes and generated code
    """

    def __init__(self, model: onnx.ModelProto):
        super().__init__()
        missing = unsupported_ops(model)
        if missing:
            nodes = [f"{n.name or 'unnamed'!r} ({n.op_type})" for n in model.graph.node
                     if n.op_type in missing or f"{n.domain}.{n.op_type}" in missing]
            more = f" and {len(nodes) - 5} more" if len(nodes) > 5 else ""
            raise UnsupportedError(f"load: ONNX ops {missing} are not supported by Ember's importer (nodes "
                                   f"{', '.join(nodes[:5])}{more})")
        _refuse_external_data(model)
        self.opset = _opset(model)
        self.nodes = list(model.graph.node)
        self.parameter_names: dict[str, str] = {}  # ONNX initializer name -> attribute name
        self.constants: dict[str, Tensor] = {}
        initializers = {t.name for t in model.graph.initializer}
        for t in model.graph.initializer:
            array = numpy_helper.to_array(t)
            if array.dtype.kind == "f":
                attr = self._attribute_name(t.name)
                self.register_parameter(attr, Parameter(ember.tensor(np.array(array))))
                self.parameter_names[t.name] = attr
            else:
                self.constants[t.name] = ember.tensor(np.array(array))
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in model.graph.output]
        self.input_shapes = {i.name: _declared_shape(i) for i in model.graph.input if i.name in self.input_names}
        graph_inputs = set(self.input_names)
        self.static_inputs = sorted({
            node.input[i] for node in self.nodes for i in STATIC.get(node.op_type, ())
            if i < len(node.input) and node.input[i] in graph_inputs
        }, key=self.input_names.index)

    def _attribute_name(self, name: str) -> str:
        base = "w_" + re.sub(r"\W", "_", name)
        attr, k = base, 1
        while attr in self.parameter_names.values() or hasattr(self, attr):
            attr, k = f"{base}_{k}", k + 1
        return attr

    def forward(self, *inputs):
        if len(inputs) != len(self.input_names):
            raise TypeError(f"OnnxModule: the model takes {len(self.input_names)} inputs {self.input_names}, "
                            f"got {len(inputs)}")
        env: dict = dict(self.constants)
        for name, attr in self.parameter_names.items():
            env[name] = getattr(self, attr)
        for name, value in zip(self.input_names, inputs):
            if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
                pass  # strings stay NumPy arrays (only string ops read them)
            elif isinstance(value, np.ndarray) or np.isscalar(value):
                value = ember.tensor(np.asarray(value))
            elif isinstance(value, (list, tuple)):
                value = [v if isinstance(v, Tensor) else ember.tensor(np.asarray(v)) for v in value]
            self._check_shape(name, value)
            env[name] = value
        for node in self.nodes:
            if (node.domain, node.op_type) == _GRADIENT:
                for name, grad in zip(node.output, self._gradient(node, env)):
                    env[name] = grad
                continue
            cx = _NodeContext(node, self.opset)
            args = [env[n] if n else None for n in node.input]
            while args and args[-1] is None:
                args.pop()
            try:
                out = CONVERTERS[node.op_type](cx, *args, **_attributes(node))
            except UnsupportedError as exc:
                raise _named(exc, node) from exc
            except (TypeError, ValueError, IndexError) as exc:
                raise type(exc)(f"{node.op_type} ({node.name or 'unnamed'}): {exc}") from exc
            outs = out if isinstance(out, tuple) else (out,)
            for name, value in zip(node.output, outs):
                if name:
                    env[name] = value
        results = tuple(env[n] for n in self.output_names)
        return results[0] if len(results) == 1 else results

    def _check_shape(self, name: str, value) -> None:
        """Refuse an input whose rank or fixed sizes differ from the model's declared ones, as onnxruntime does
        (a Reshape to a fixed batch would otherwise mix the samples of a larger batch)."""
        declared = self.input_shapes.get(name)
        shape = getattr(value, "shape", None)
        if declared is None or shape is None:
            return
        if len(shape) != len(declared) or any(d is not None and d != s for d, s in zip(declared, shape)):
            wanted = ["?" if d is None else d for d in declared]
            raise ValueError(f"OnnxModule: input {name!r} has shape {list(shape)}; the model declares {wanted} "
                             "(export with dynamic_axes to leave a size free)")

    def _gradient(self, node, env: dict) -> tuple:
        """ONNX's Gradient op: d(y)/d(xs), by replaying the nodes between xs and y on fresh leaves."""
        attrs = _attributes(node)
        xs, y = attrs["xs"], attrs["y"]
        with ember.enable_grad():
            leaves = {}
            for name in xs:
                value = env[name]
                if getattr(value, "graph", None) is not None:  # traced: differentiate the Value itself
                    value.requires_grad = True
                    leaves[name] = value
                else:
                    leaves[name] = value.detach().requires_grad_()
            local = dict(env, **leaves)
            for other in self.nodes:
                if other is node:
                    break
                if (other.domain, other.op_type) == _GRADIENT:
                    continue
                cx = _NodeContext(other, self.opset)
                args = [local[n] if n else None for n in other.input]
                out = CONVERTERS[other.op_type](cx, *args, **_attributes(other))
                for name, value in zip(other.output, out if isinstance(out, tuple) else (out,)):
                    if name:
                        local[name] = value
            target = local[y]
            return ember.grad(target, [leaves[n] for n in xs], ember.ones_like(target), allow_unused=True)

    def to_graph(self, *example_inputs) -> Graph:
        """The Ember Graph of this model for inputs shaped like ``example_inputs`` (parameters as constants)."""
        from ember.onnx.export import trace

        return trace(self, example_inputs)


def _refuse_external_data(model: onnx.ModelProto) -> None:
    """Raise for tensors whose data is still in external files: ONNX would read them relative to the current
    directory (another model's file of the same name there gives wrong weights); onnxruntime refuses them too."""
    tensors = list(model.graph.initializer) + [a.t for n in model.graph.node for a in n.attribute if a.HasField("t")]
    external = [t for t in tensors if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        files = sorted({e.value for t in external for e in t.external_data if e.key == "location"})
        raise ValueError(f"load: tensors {[t.name for t in external][:5]} keep their data in external files {files}, "
                         "which a model given as bytes, a stream or a ModelProto cannot locate; load it from its "
                         "path (or a file opened from it), or call onnx.load_external_data_for_model(model, folder) "
                         "first")


def load(path_or_model) -> OnnxModule:
    """Import an ONNX model (a path, a binary file object, bytes or a ModelProto) as an Ember Module."""
    if isinstance(path_or_model, onnx.ModelProto):
        model = path_or_model
    elif isinstance(path_or_model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(path_or_model))
    elif hasattr(path_or_model, "read"):
        model = onnx.load_from_string(path_or_model.read())
        name = getattr(path_or_model, "name", None)
        if isinstance(name, str) and os.path.isfile(name):  # external data lies beside the file it reads
            onnx.load_external_data_for_model(model, os.path.dirname(os.path.abspath(name)))
    else:
        model = onnx.load(os.fspath(path_or_model))
    return OnnxModule(model)

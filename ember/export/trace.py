"""Tracing a module or function into an inference Graph: what every exporter starts from."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np

from ember.autograd import no_grad
from ember.graph.ir import Graph, Value
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = ["axes_of", "trace"]


def axes_of(spec) -> dict:
    """dynamic_axes entries come as {axis: name} or [axis, ...], as in torch.onnx.export."""
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(a): f"dim{a}" for a in spec}


def _as_arrays(example_inputs) -> list:
    if isinstance(example_inputs, (Tensor, np.ndarray)) or np.isscalar(example_inputs):
        example_inputs = (example_inputs,)
    return [x.array if isinstance(x, Tensor) else np.asarray(x) for x in example_inputs]


def trace(fn: Callable, example_inputs, dynamic_axes=None, input_names=None) -> Graph:
    """An inference graph of ``fn`` (a Module in eval mode for the trace, or a function of Tensors). Inputs beyond
    ``input_names`` are named ``input<i>``, as ``torch.onnx.export`` names the inputs it was given no name for."""
    arrays = _as_arrays(example_inputs)
    names = list(input_names or [])
    if len(names) > len(arrays):
        raise ValueError(f"trace: {len(names)} input names {names} for {len(arrays)} example inputs")
    names += [f"input{i}" for i in range(len(names), len(arrays))]  # zip would drop the unnamed inputs
    if len(set(names)) != len(names):
        raise ValueError(f"trace: the input names must differ, got {names}")
    dynamic_axes = dynamic_axes or {}
    graph = Graph()
    graph.inference = True
    values = []
    for name, a in zip(names, arrays):
        unknown = set(axes_of(dynamic_axes.get(name)))
        shape = tuple(None if i in unknown else d for i, d in enumerate(a.shape))
        values.append(graph.input(name, shape, a.dtype))
    with contextlib.ExitStack() as stack:
        if isinstance(fn, Module):
            modes = [(m, m.training) for m in fn.modules()]
            fn.eval()
            stack.callback(lambda: [setattr(m, "training", t) for m, t in modes])
        stack.enter_context(no_grad())
        stack.enter_context(graph.building())
        out = fn(*values)
    flat = _flat_outputs(out)
    graph.outputs = [t if t.__class__ is Value else graph.capture(t) for t in flat]
    return graph


def _flat_outputs(out) -> list:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat_outputs(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flat_outputs(o)]
    raise TypeError(f"trace: the model returned {type(out).__name__}; return Tensors (nested in tuples/lists/dicts)")

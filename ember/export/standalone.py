"""Standalone inference code: one NumPy-only Python module with a model's forward (the kernels of only the
ops it uses, from the op records' ``standalone`` field) and a weights file beside it (``.npz``)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import numpy as np

from ember.graph.ir import Graph
from ember.ops import standalone as kernels
from ember.version import __version__

__all__ = ["write_standalone"]


def _source(fn) -> str:
    source = getattr(fn, "__source__", None) or inspect.getsource(fn)
    return "\n".join(line for line in source.splitlines() if not line.startswith("@")) + "\n"


def _literal(value, arrays: dict) -> str:
    """Python source for an attribute value; arrays go to the weights file."""
    if isinstance(value, np.ndarray):
        key = f"a{len(arrays)}"
        arrays[key] = value
        return f"W[{key!r}]"
    if isinstance(value, np.dtype):
        return f"np.dtype({value.str!r})"
    if isinstance(value, type) and issubclass(value, np.generic):
        return f"np.dtype({np.dtype(value).str!r})"
    if isinstance(value, np.generic):
        return repr(value.item())
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v, arrays) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, arrays) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v, arrays)}" for k, v in value.items()) + "}"
    if isinstance(value, slice):
        return f"slice({_literal(value.start, arrays)}, {_literal(value.stop, arrays)}, {_literal(value.step, arrays)})"
    if value is Ellipsis:
        return "Ellipsis"
    if isinstance(value, float) and not np.isfinite(value):
        return f"float({str(value)!r})"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"write_standalone: cannot write the attribute value {value!r} as Python source")


def _attribute(key: str, value, args: list, arrays: dict) -> str:
    """Source of an attribute; a ``shape`` whose first size is the batch (None) reads it from the node's input."""
    if key == "shape" and isinstance(value, (tuple, list)) and value and value[0] is None and args:
        rest = "".join(f", {_literal(v, arrays)}" for v in value[1:])
        return f"({args[0]}.shape[0]{rest},)" if not rest else f"({args[0]}.shape[0]{rest})"
    return _literal(value, arrays)


def _check_source() -> str:
    # an array of another dtype is refused, as the model and ONNX Runtime refuse it (NumPy would promote it: a
    # float64 output); a list or a number is read as the dtype where NumPy casts it so ("same_kind")
    return (
        "def check_input(i, x, shape, dtype):\n"
        "    dtype = np.dtype(dtype)\n"
        "    if not isinstance(x, np.ndarray):\n"
        "        x = np.asarray(x)\n"
        "        if np.can_cast(x.dtype, dtype, \"same_kind\"):\n"
        "            x = x.astype(dtype)\n"
        "    if x.dtype != dtype:\n"
        "        raise TypeError(f\"forward: input {i} must have dtype {dtype}, got {x.dtype}\")\n"
        "    if x.ndim != len(shape) or any(d is not None and d != s for d, s in zip(shape, x.shape)):\n"
        "        expected = [\"batch\" if d is None else d for d in shape]\n"
        "        raise ValueError(f\"forward: input {i} must have shape {expected}, got {list(x.shape)}\")\n"
        "    return x\n"
    )


def _checks(graph: Graph) -> list[str]:
    """Lines of ``forward`` that refuse inputs of another shape or dtype than the graph takes."""
    return [f"    x{i} = check_input({i}, x{i}, {tuple(v.array.shape)!r}, {v.array.dtype.str!r})"
            for i, v in enumerate(graph.inputs)]


def write_standalone(model, path: str | os.PathLike) -> Path:
    """Write ``model`` (a Graph, or a model file written by ``ember.export.save_model``) as the module
    ``path`` and its weights as ``path`` with ``.npz``; returns the weights' path.

    The module needs NumPy only: ``forward(*inputs)`` returns the outputs (one array, or a tuple). As
    ``ember export`` to ONNX, it takes any batch size where the model lets the batch vary
    (``ember.export.with_dynamic_batch``), else the traced one; inputs of another shape are a ValueError, arrays of
    another dtype a TypeError.

    >>> ember.export.write_standalone("model.emb", "model_infer.py")
    """
    from ember.export.batch import with_dynamic_batch
    from ember.export.model_file import load_model

    graph = model if isinstance(model, Graph) else load_model(model)
    try:
        graph = with_dynamic_batch(graph)
    except ValueError:
        pass  # the model fixes the batch size: the code takes the traced one (checked in forward)
    path = Path(path)
    weights = path.with_suffix(".npz")
    arrays: dict = {}
    used: dict = {}
    body = []
    names = {v.id: f"x{i}" for i, v in enumerate(graph.inputs)}
    missing = sorted({node.op.name for node in graph.nodes
                      if node.op.name != "const" and (node.op.standalone is None or not node.outputs)})
    if missing:
        raise ValueError(f"write_standalone: ops {missing} have no NumPy kernel for standalone inference code "
                         "(side effects such as variable writes and training-mode statistics never do: export an "
                         "inference graph)")
    values = [*graph.inputs, *(v for node in graph.nodes for v in node.outputs)]
    if any(v.array.dtype.name == "bfloat16" for v in values):  # NumPy alone has no bfloat16 (ml_dtypes does)
        raise ValueError("write_standalone: the graph computes in bfloat16, which NumPy-only code cannot hold; "
                         "export the model in float32 (model.float())")
    for node in graph.nodes:
        out = f"v{node.outputs[0].id}"
        if node.op.name == "const":
            key = f"c{node.outputs[0].id}"
            arrays[key] = np.asarray(node.attrs["value"])
            body.append(f"    {out} = W[{key!r}]")
        else:
            kernel = node.op.standalone
            used[kernel.__name__] = kernel
            args = [names[v.id] for v in node.inputs]
            args += [f"{k}={_attribute(k, v, args, arrays)}" for k, v in node.attrs.items()]
            body.append(f"    {out} = {kernel.__name__}({', '.join(args)})")
        names[node.outputs[0].id] = out
    outputs = [names[v.id] for v in graph.outputs]
    helpers = []
    for name in used:
        for helper in kernels.NEEDS.get(name, ()):
            if helper not in helpers:
                helpers.append(helper)
    params = ", ".join(f"x{i}" for i in range(len(graph.inputs)))
    returned = outputs[0] if len(outputs) == 1 else "(" + ", ".join(outputs) + ",)"
    shapes = ", ".join(f"{v.array.dtype}{list(v.array.shape)}" for v in graph.inputs)
    text = [
        f'"""Inference code generated by Ember {__version__}: needs NumPy only.',
        "",
        f"    import {path.stem}",
        f"    y = {path.stem}.forward({params})     # inputs: {shapes}",
        '"""',
        "",
        "import os",
        "",
        "import numpy as np",
        "",
        f"WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights.name!r})",
        "W = dict(np.load(WEIGHTS))",
        "",
    ]
    for helper in helpers:
        text += ["", _source(getattr(kernels, helper))]
    for kernel in used.values():
        text += ["", _source(kernel)]
    text += ["", _check_source(), "", f"def forward({params}):", *_checks(graph), *body,
             f"    return {returned}", ""]
    path.write_text("\n".join(text))
    np.savez(weights, **arrays)
    return weights

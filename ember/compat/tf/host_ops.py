"""TF-1's Python callbacks inside graphs: ``tf.py_func`` (= ``tf.numpy_function``), ``tf.Print`` and ``tf.print``.

Each runs as Ember's ``host_call`` op (``ember.ops.host``), an effect, so a Session never folds, merges or drops
it while it is needed. A ``py_func`` result has its declared ``Tout`` dtype and an unknown shape until
``set_shape`` gives one; a Session computes one whose shape is still not fully known (or one of several
results) between two compiled parts: it runs the function on its inputs' values, then feeds the result to the
rest of the graph. Gradients through a ``py_func`` are None, as in TF-1."""

from __future__ import annotations

import sys

import numpy as np

from ember.compat.tf._core import Operation, Tensor, as_tf, as_tf_dtype, get_default_graph, graph_of

__all__ = ["Print", "numpy_function", "print_", "py_func"]


class HostFunction:
    """One ``py_func`` call: the function, its input tensors, the declared dtypes and whether it gave a list."""

    def __init__(self, func, inputs: list, dtypes: list, single: bool, name: str):
        self.func, self.inputs, self.dtypes, self.single, self.name = func, inputs, dtypes, single, name

    def results(self, *arrays) -> list:
        """``func`` on the inputs' values: its results checked and converted as TF-1 does (one per dtype)."""
        from ember.ops.host import host_result

        out = self.func(*arrays)
        out = [out] if self.single else list(out)
        if len(out) != len(self.dtypes):
            raise ValueError(f"{self.name}: the function returned {len(out)} values, Tout declares "
                             f"{len(self.dtypes)}")
        return [host_result(r, d, None, f"{self.name} (result {i})") for i, (r, d) in enumerate(zip(out, self.dtypes))]


def py_func(func, inp, Tout, stateful: bool = True, name: str | None = None):
    """``func`` (NumPy arrays in, arrays out) as an op: its result has dtype ``Tout`` (a list of dtypes gives a
    list of tensors) and an unknown shape; ``set_shape`` fixes it. It runs whenever a Session needs its result
    (``stateful`` is accepted: Ember never merges or folds such calls). It has no gradient.

    >>> y = tf.py_func(lambda a: np.sort(a), [x], tf.float32)
    >>> y.set_shape([None])
    """
    inputs = [as_tf(t) for t in (inp if isinstance(inp, (list, tuple)) else [inp])]
    single = not isinstance(Tout, (list, tuple))
    dtypes = [as_tf_dtype(d) for d in ([Tout] if single else Tout)]
    graph = graph_of("py_func", inputs)
    op_name = name or "PyFunc"
    host = HostFunction(func, inputs, dtypes, single, f"tf.py_func '{op_name}'")
    outputs: list = []
    for i, dtype in enumerate(dtypes):
        t = Tensor(None, tuple(inputs), name=op_name, dtype=dtype, kind="PyFunc", graph=graph,
                   output_of=(outputs[0], i) if outputs else None)
        t.host = host
        outputs.append(t)
    graph.host_functions = True
    return outputs[0] if single else outputs


numpy_function = py_func


def _entry(value) -> str:
    """One entry as TF-1's Print writes it: a float with 6 significant digits ("1", "0.1", "1.23457e+06")."""
    return format(float(value), "g") if isinstance(value, np.floating) else str(value)


def summarized(array, limit: int) -> str:
    """TF-1's ``Print`` form of a value: its first ``limit`` entries (all for a negative limit) in nested
    brackets, ``...`` where entries were left out: ``[[1 2 3]...]``."""
    array = np.asarray(array)
    if array.ndim == 0:
        return _entry(array[()])
    flat = array.reshape(-1)
    count = flat.size if limit < 0 else min(limit, flat.size)
    blocks = [int(np.prod(array.shape[d:])) for d in range(array.ndim)]
    parts, opened = [], 0
    for i in range(count):
        opens = sum(1 for b in blocks if b and i % b == 0)
        if i and not opens:
            parts.append(" ")
        closes = sum(1 for b in blocks if b and (i + 1) % b == 0)
        parts.append("[" * opens + _entry(flat[i]) + "]" * closes)
        opened += opens - closes
    if count == 0:
        return "[" * array.ndim + "]" * array.ndim
    if count < flat.size:
        parts.append("..." + "]" * opened)
    return "".join(parts)


def Print(input_, data, message: str | None = None, first_n: int | None = None, summarize: int | None = None,
          name: str | None = None) -> Tensor:  # noqa: N802 (TF's name)
    """``input_`` unchanged; computing it also writes ``message`` and ``data``'s values (each as ``[1 2 3...]``,
    ``summarize`` entries, 3 by default) to stderr, the first ``first_n`` times only when given (TF-1's
    ``tf.Print``). It prints only when its result is computed, as in TF-1."""
    source = as_tf(input_)
    data = [as_tf(t, source.graph) for t in (data if isinstance(data, (list, tuple)) else [data])]
    limit = 3 if summarize is None else int(summarize)
    state = {"printed": 0}

    def write(*arrays) -> None:
        if first_n is not None and 0 <= first_n <= state["printed"]:
            return
        state["printed"] += 1
        sys.stderr.write((message or "") + "".join(summarized(a, limit) for a in arrays) + "\n")

    out = Tensor(None, (source, *data), name=name or "Print", shape=source._shape, dtype=source.dtype, kind="Print",
                 graph=graph_of("tf.Print", [source, *data]))
    out.write = write
    return out


def print_(*inputs, output_stream=None, summarize: int = 3, sep: str = " ", end: str = "\n",
           name: str | None = None) -> Operation:
    """The op that prints ``inputs`` (tensors, in NumPy's form with ``summarize`` entries at each end of a
    dimension, and other values as ``str`` gives them) to ``output_stream`` (a stream, stderr by default, or
    ``"file://<path>"``, appended to) when a Session runs it: fetch it, or make it a control dependency
    (``tf.print``)."""
    tensors = [t for t in inputs if isinstance(t, Tensor)]
    graph = graph_of("tf.print", tensors) if tensors else get_default_graph()
    edge = sys.maxsize if summarize is None or summarize < 0 else int(summarize)

    def form(value) -> str:
        if isinstance(value, np.ndarray):
            return np.array2string(value, separator=" ", threshold=2 * edge, edgeitems=edge) if value.ndim \
                else str(value[()])
        return str(value)

    def write(*arrays) -> None:
        values = iter(arrays)
        text = sep.join(form(next(values)) if isinstance(x, Tensor) else form(x) for x in inputs) + end
        if isinstance(output_stream, str):
            if not output_stream.startswith("file://"):
                raise ValueError(f"tf.print: output_stream must be a stream or 'file://<path>', got {output_stream!r}")
            with open(output_stream[len("file://"):], "a") as f:
                f.write(text)
        else:  # (sys.stderr as it is when the op runs)
            (sys.stderr if output_stream is None else output_stream).write(text)

    result = Operation(None, tuple(tensors), name=name or "PrintV2", kind="PrintV2", graph=graph)
    result.write = write
    return result

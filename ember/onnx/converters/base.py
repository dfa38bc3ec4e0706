"""ONNX -> Ember converters: the table, its registration decorator and the helpers converters share.

ONNX -> Ember: one converter per ONNX op type, written with Ember's op functions.

A converter is ``fn(cx, *inputs, **attributes)``: ``inputs`` are Tensors (None for an omitted optional
input; Python lists for ONNX sequences), ``cx`` gives the opset, the node's output count and ``static``
(an input's value as a NumPy array: shapes, axes, pads, which Ember takes as attributes). ONNX ops that are a
plain registry op without attributes come from the op records themselves (``onnx`` names), see
``_from_registry``; this table holds the rest. ``STATIC`` lists the inputs each op reads as values.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

import ember
from ember.autograd import apply
from ember.backend.dtypes import LOW_PRECISION
from ember.ops.registry import NO_ONNX, REGISTRY
from ember.tensor import Tensor


class UnsupportedError(NotImplementedError):
    """An ONNX op, attribute or dtype Ember's importer does not handle; the message names it."""


CONVERTERS: dict = {}
STATIC: dict[str, tuple] = {}  # op type -> indices of inputs read as values (frozen when traced)


def converter(*names: str, static: tuple = ()):
    def register(fn):
        for name in names:
            CONVERTERS[name] = fn
            if static:
                STATIC[name] = static
        return fn

    return register


def _from_registry() -> None:
    """ONNX ops that are one registry op with no attributes: read from the records' ``onnx`` field."""
    import inspect

    for op in REGISTRY.values():
        if op.onnx is NO_ONNX or op.onnx_export is not None or op.onnx in CONVERTERS:
            continue
        params = inspect.signature(op.forward).parameters.values()
        if any(p.kind is p.KEYWORD_ONLY for p in params):
            continue

        def convert(cx, *xs, _op=op, **attrs):
            _no_attrs(_op.onnx, attrs)
            return apply(_op, tuple(xs))

        CONVERTERS[op.onnx] = convert


def _no_attrs(name: str, attrs: dict, allowed=()) -> None:
    extra = [k for k in attrs if k not in allowed]
    if extra:
        raise UnsupportedError(f"{name}: attributes {extra} are not supported")


def _tensor(array) -> Tensor:
    return ember.tensor(np.asarray(array))


def _dtype(code: int) -> np.dtype:
    if code in (8, 16):  # string, bfloat16 as ONNX type codes
        raise UnsupportedError(f"tensor type {helper.tensor_dtype_to_string(code)} is not supported")
    return np.dtype(helper.tensor_dtype_to_np_dtype(code))


def _values(cx, value) -> np.ndarray:
    """An attribute's list (older opsets) or a static input's array (newer ones) as an array."""
    return np.asarray(value) if isinstance(value, (list, tuple)) else cx.static(value)


def _axes(cx, attrs: dict, axes_input, ndim: int | None = None):
    """Axes from the ``axes`` attribute (older opsets) or input (newer), normalized when ``ndim`` given."""
    axes = attrs.pop("axes", None)
    if axes_input is not None:
        axes = cx.static(axes_input).reshape(-1).tolist()
    if axes is None:
        return None
    axes = [int(a) for a in axes]
    return [a % ndim for a in axes] if ndim is not None else axes


def _unary(name: str, fn):
    @converter(name)
    def convert(cx, x, **attrs):
        _no_attrs(name, attrs, ("consumed_inputs",))
        return fn(x)

    return convert


def _const_like(x: Tensor, value) -> Tensor:
    return ember.tensor(np.array(value, x.dtype))


def _split_sizes(x: Tensor, sizes, axis: int) -> list:
    axis %= x.ndim
    out, start = [], 0
    for size in sizes:
        index = (slice(None),) * axis + (slice(start, start + size),)
        out.append(x[index])
        start += size
    return out


def _channel(t: Tensor, ndim: int) -> Tensor:
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _stashed(x: Tensor) -> Tensor:
    """x in float32 when it is float16 or bfloat16: the normalizations' statistics are computed so (ONNX's
    stash_type, and onnxruntime's kernels: a float16 square overflows from 256)."""
    return ember.cast(x, np.float32) if x.dtype in LOW_PRECISION else x

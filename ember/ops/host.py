"""A Python function called on NumPy arrays where a graph runs: ``host_call``, TF-1's ``py_func``,
``numpy_function``, ``Print`` and ``print``.

The call is a side effect (the function may print, count or keep state), so it is an op that writes an input,
as a random draw writes its generator's state: the host token, a 0-d counter of the calls made. Passes then
never fold it at compile time (a function of constants would run once, while compiling), merge two alike
calls, or move one across another effect; a call that defines no value (a print) is kept wherever it is in
the graph, one that does is kept while its value is needed. It has no gradient: TF-1's gradients through a
``py_func`` are None.

>>> doubled = ember.ops.host_call(lambda a: a * 2, [ember.ones(3)], (3,), "float32")
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember.backend.devices import CPU, move
from ember.ops import dispatch
from ember.ops.dispatch import TensorLike
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, Cost, Spec, defop, format_shape, shape_error

__all__ = ["host_call", "host_result", "host_token"]


def host_result(result, dtype, shape, name: str) -> np.ndarray:
    """``result`` (what a host function returned) as an array of ``dtype``: a Python number or list is made
    one, an array of another dtype is an error naming ``name``, as is a shape other than ``shape`` (None:
    any shape)."""
    if result.__class__ is not np.ndarray:
        result = np.asarray(result, dtype=dtype)
    if result.dtype != dtype:
        raise TypeError(f"{name}: the function returned a value of dtype {result.dtype}, but the declared "
                        f"dtype is {dtype} (shape {format_shape(result.shape)})")
    if shape is not None and tuple(shape) != result.shape:
        raise ValueError(f"{name}: the function returned a value of shape {format_shape(result.shape)}, "
                         f"the declared shape is {format_shape(shape)}")
    return result


def _forward(xp, token, *arrays, fn, out_shape, dtype, name):
    token += 1
    result = fn(*[move(a, CPU) for a in arrays])
    if out_shape is None:
        return None
    result = host_result(result, dtype, out_shape, name)
    if any(np.may_share_memory(result, a) for a in arrays if a.__class__ is np.ndarray) \
            or not result.flags.writeable:
        result = result.copy()  # the graph may write its own values in place: never the caller's array
    return result if xp is np else xp.asarray(result)


def _infer(token, *specs, fn, out_shape, dtype, name):
    if tuple(token.shape) != () or token.dtype != np.int64:
        raise shape_error("host_call", (token,), "the host token must be a 0-d int64 (ember.ops.host_token())")
    if not callable(fn):
        raise TypeError(f"host_call: fn must be callable, got {type(fn).__name__}")
    if out_shape is not None and not all(isinstance(d, int) and d >= 0 for d in out_shape):
        raise shape_error("host_call", specs, f"the result's shape {out_shape} must be sizes (ints >= 0)")
    return None if out_shape is None else Spec(tuple(out_shape), np.dtype(dtype))


def _cost(out, token, *specs, **attrs) -> Cost:
    moved = sum(s.nbytes or 0 for s in specs) + (0 if out is None else out.nbytes or 0)
    return Cost(0, moved)


HOST_CALL = defop("host_call", forward=_forward, infer=_infer, vjp=NON_DIFFERENTIABLE, cost=_cost, onnx=NO_ONNX,
                  writes=(0,))

_token: TensorLike | None = None


def host_token() -> TensorLike:
    """The host's token: a 0-d int64 count of the host calls made (one object, so a graph captures it once)."""
    global _token
    if _token is None:
        _token = dispatch.wrap(np.zeros((), np.int64))
    return _token


def host_call(fn: Callable, inputs, shape=None, dtype=None, name: str = "host_call") -> TensorLike | None:
    """``fn(*arrays)`` on the NumPy arrays of ``inputs`` (tensors), eagerly or wherever a graph runs it.

    With ``shape`` (a tuple of ints: a graph sizes its values before it runs) and ``dtype``, the call defines
    a value: ``fn``'s result, which must have that dtype (a Python number or list is made one) and shape. With
    neither, ``fn``'s result is dropped and the call returns None (a print). ``name`` names the call in errors."""
    if (shape is None) != (dtype is None):
        raise TypeError(f"{name}: give both shape and dtype (a value), or neither (an effect alone)")
    if shape is not None and any(d is None or int(d) < 0 for d in shape):
        raise ValueError(f"{name}: the result's shape must be known, got {format_shape(shape)}")
    for t in inputs:
        if not isinstance(t, TensorLike):
            raise TypeError(f"{name}: inputs must be tensors, got {type(t).__name__}")
    attrs = {"fn": fn, "out_shape": None if shape is None else tuple(int(d) for d in shape),
             "dtype": None if dtype is None else np.dtype(dtype), "name": name}
    return dispatch.apply(HOST_CALL, (host_token(), *inputs), attrs)


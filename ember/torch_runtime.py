"""PyTorch's top-level helpers for dtypes, shapes and objects: ``set_default_dtype``, ``result_type``,
``broadcast_shapes``, ``broadcast_tensors`` and ``typename``.

>>> a, b = ember.broadcast_tensors(ember.ones(2, 1), ember.ones(3))
>>> a.shape, ember.broadcast_shapes((2, 1), (3,))
((2, 3), (2, 3))
"""

from __future__ import annotations

import numpy as np

from ember import traced_state
from ember.backend import dtypes
from ember.ops import broadcast_to
from ember.ops.dispatch import TensorLike

__all__ = ["broadcast_shapes", "broadcast_tensors", "result_type", "set_default_dtype", "typename"]


def set_default_dtype(dtype) -> None:
    """Make ``dtype`` (a floating dtype: float32, float64, float16 or bfloat16) the default floating dtype, as
    ``torch.set_default_dtype``: ``tensor(1.0)``, ``zeros``, ``rand``, ``arange`` with a float step, layers'
    parameters and integer tensors mixed with Python floats then use it. ``ember.jit`` traces made under another
    default are traced again (``ember.backend.set_default_dtype`` alone does not tell them).

    >>> ember.set_default_dtype(ember.float64); ember.tensor(1.0).dtype
    dtype('float64')
    """
    dtypes.set_default_dtype(dtype)
    traced_state.changed()


def _python_dtype(value) -> np.dtype:
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(value, (int, np.integer)):
        return dtypes.DEFAULT_INT
    if isinstance(value, (float, np.floating)):
        return dtypes.DEFAULT_FLOAT
    if isinstance(value, (complex, np.complexfloating)):
        return dtypes.default_complex()
    raise TypeError(f"result_type: expected a Tensor, a Python number or a dtype, got {type(value).__name__}")


def result_type(tensor1, tensor2) -> np.dtype:
    """The dtype Ember's arithmetic gives for ``tensor1`` and ``tensor2`` (``torch.result_type``): each a Tensor, a
    Python number (weak: it only lifts the category, ``scalar_result_type``) or a dtype.

    >>> ember.result_type(ember.tensor([1, 2]), 1.5)
    dtype('float32')
    """
    def dtype_of(value):
        if isinstance(value, TensorLike):
            return value.dtype
        if isinstance(value, (np.dtype, str, type)) and not isinstance(value, (bool, int, float)):
            return dtypes.as_dtype(value)
        return None

    first, second = dtype_of(tensor1), dtype_of(tensor2)
    if first is not None and second is not None:
        zero = [isinstance(t, TensorLike) and not t.shape for t in (tensor1, tensor2)]
        if zero == [True, False]:
            return dtypes.dimensioned_result_type(second, first)
        if zero == [False, True]:
            return dtypes.dimensioned_result_type(first, second)
        return dtypes.result_type(first, second)
    if first is not None:
        return dtypes.scalar_result_type(first, _number(tensor2))
    if second is not None:
        return dtypes.scalar_result_type(second, _number(tensor1))
    return dtypes.result_type(_python_dtype(tensor1), _python_dtype(tensor2))


def _number(value):
    _python_dtype(value)  # (refuses what is not a number, naming result_type)
    return value.item() if isinstance(value, np.generic) else value


def broadcast_shapes(*shapes) -> tuple:
    """The shape tensors of ``shapes`` broadcast to together (``torch.broadcast_shapes``); an int is a 1-D shape.

    >>> ember.broadcast_shapes((2, 1), (1, 3), 3)
    (2, 3)
    """
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    try:
        return tuple(int(d) for d in np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"broadcast_shapes: shapes {[list(s) for s in shapes]} cannot be broadcast to one "
                           "shape") from None


def broadcast_tensors(*tensors) -> tuple:
    """Each tensor broadcast to their common shape (``torch.broadcast_tensors``); gradients flow back, summed over
    the broadcast axes.

    >>> [t.shape for t in ember.broadcast_tensors(ember.ones(2, 1), ember.zeros(3))]
    [(2, 3), (2, 3)]
    """
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorLike):
            raise TypeError(f"broadcast_tensors: argument {i} must be a Tensor, got {type(t).__name__}")
    try:
        shape = broadcast_shapes(*(t.shape for t in tensors))
    except RuntimeError:
        described = ", ".join(f"{t.dtype}{list(t.shape)}" for t in tensors)
        raise RuntimeError(f"broadcast_tensors: the tensors ({described}) cannot be broadcast to one shape") from None
    return tuple(t if tuple(t.shape) == shape else broadcast_to(t, shape) for t in tensors)


def typename(obj) -> str:
    """PyTorch's type name of ``obj`` (``torch.typename``): a tensor's ``type()`` (``"ember.FloatTensor"``),
    else the object's module and qualified name, or its class's (without ``builtins.``).

    >>> ember.typename(ember.zeros(2)), ember.typename(3)
    ('ember.FloatTensor', 'int')
    """
    if isinstance(obj, TensorLike) and hasattr(obj, "type"):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qualname, str):
        module, qualname = type(obj).__module__ or "", type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"

"""TF-1's gradient clipping: ``tf.clip_by_global_norm``, ``tf.clip_by_norm``, ``tf.global_norm``. A lookup's
gradient (TF-1's ``IndexedSlices``) stays row-sparse through them: its slices' values are clipped, and a norm sums
the squares of each slice (a row looked up twice counts twice, where the dense sum would count its square).

>>> grads, variables = zip(*optimizer.compute_gradients(loss))
>>> clipped, norm = tf.clip_by_global_norm(grads, 5.0)
>>> train = optimizer.apply_gradients(zip(clipped, variables))
"""

from __future__ import annotations

import ember
from ember.compat.tf._core import Tensor, as_tf, op
from ember.sparse import RowSparse

__all__ = ["clip_by_global_norm", "clip_by_norm", "global_norm", "on_values"]


def on_values(fn):
    """``fn`` as a Session lowers it where its first argument is a row-sparse gradient (a ``Tensor``'s
    ``on_slices``): on the slices' values, the rows kept, as TF-1 applies it to an ``IndexedSlices``' values."""

    def on_slices(x, *rest, **kwargs):
        if x.__class__ is RowSparse:
            return RowSparse(x.indices, fn(x.values, *rest, **kwargs), x.shape)
        return fn(x, *rest, **kwargs)

    return on_slices


def _sum_of_squares(*xs):
    total = None
    for x in xs:
        if x.__class__ is RowSparse:
            x = x.values
        part = ember.sum(x * x)
        total = part if total is None else total + ember.cast(part, total.dtype)
    return total


def safe_norm(x, axis):
    """The L2 norm of ``x`` over ``axis`` (kept), with TF's two-``where`` trick so that a zero norm has a finite
    gradient (a plain sqrt's is inf, which the clip's zero gradient turns into NaN)."""
    total = ember.sum(x * x, axis=axis, keepdims=True)
    positive = ember.gt(total, 0)
    return ember.where(positive, ember.sqrt(ember.where(positive, total, ember.ones_like(total))), total)


def global_norm(t_list, name: str | None = None) -> Tensor:
    """The square root of the sum of the squares of every element of the tensors in ``t_list`` (Nones skipped)."""
    tensors = [as_tf(t) for t in t_list if t is not None]
    if not tensors:
        raise ValueError("tf.global_norm: t_list holds no tensor")
    dtypes = {t.dtype for t in tensors if t.dtype is not None}
    if len(dtypes) > 1:  # (TF-1 stacks the tensors' squared norms, which refuses a mix)
        raise TypeError(f"tf.global_norm: the tensors in t_list must have one dtype, got "
                        f"{[str(t.dtype) for t in tensors]}")
    norm = op(lambda *xs: ember.sqrt(_sum_of_squares(*xs)), tuple(tensors), name=name or "global_norm")
    norm.on_slices = norm.fn
    return norm


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name: str | None = None) -> tuple:
    """(``t_list`` scaled by ``clip_norm / max(global_norm, clip_norm)``, the global norm before clipping).
    None entries stay None. A non-finite global norm makes every clipped value NaN, as in TensorFlow."""
    if isinstance(t_list, Tensor) or not isinstance(t_list, (list, tuple)):
        raise TypeError("tf.clip_by_global_norm: t_list must be a list or tuple of tensors")
    norm = global_norm(t_list) if use_norm is None else as_tf(use_norm)
    limit = as_tf(clip_norm)

    def scale(n, c):
        c = ember.cast(c, n.dtype)
        # min(1/n, 1/c) * c: 1 below the limit; n - n turns an inf or NaN norm into NaN, as in TensorFlow
        return c * ember.minimum(1.0 / n, 1.0 / c) + (n - n)

    factor = op(scale, (norm, limit), name="clip_by_global_norm/scale")
    clipped = [None if t is None else _sliced(op(_scaled, (as_tf(t), factor), name=name or "clip_by_global_norm"))
               for t in t_list]
    return clipped, norm


def _scaled(x, f):
    return x * ember.cast(f, x.dtype)


def _sliced(t: Tensor) -> Tensor:
    """``t``, its recipe also applied to a row-sparse first input's values (see ``on_values``)."""
    t.on_slices = on_values(t.fn)
    return t


def clip_by_norm(t, clip_norm, axes=None, name: str | None = None) -> Tensor:
    """``t * clip_norm / max(l2 norm of t over axes, clip_norm)`` (all axes when None)."""
    axis = tuple(axes) if isinstance(axes, (list, tuple)) else axes

    def fn(x, c):
        c = ember.cast(c, x.dtype)
        return x * c / ember.maximum(safe_norm(x, axis), c)

    return _sliced(op(fn, (as_tf(t), as_tf(clip_norm)), name=name or "clip_by_norm"))

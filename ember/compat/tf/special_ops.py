"""TF-1's complex numbers (``tf.complex``, ``tf.real``, ``tf.imag``, ``tf.conj``), special functions (``tf.lbeta``,
``tf.igamma``, ``tf.zeta``, ``tf.polygamma``, ``tf.math.bessel_i0e``...) and the ``tf.math`` helpers
``confusion_matrix``, ``cumulative_logsumexp``, ``polyval`` and ``reduce_euclidean_norm``, each a recipe over
Ember ops (their gradients are those ops')."""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_operand, as_tf, as_tf_dtype, bfloat16, float32, float64, int32, op
from ember.compat.tf.array_ops import stop_gradient
from ember.compat.tf.host_ops import py_func

__all__ = [
    "betainc", "complex", "complex64", "complex128", "confusion_matrix", "conj", "cumulative_logsumexp", "igamma",
    "igammac", "imag", "lbeta", "polygamma", "polyval", "real", "reduce_euclidean_norm", "to_bfloat16", "zeta",
]

complex64, complex128 = np.dtype("complex64"), np.dtype("complex128")
_COMPLEX_OF = {float32: complex64, float64: complex128}


def complex(real, imag, name: str | None = None) -> Tensor:  # noqa: A001  (tf.complex)
    """``real + 1j * imag``: complex64 from float32 parts, complex128 from float64 ones."""
    re, im = as_tf(real), as_tf(imag)
    if re.dtype != im.dtype or re.dtype not in _COMPLEX_OF:
        raise TypeError(f"tf.complex: real and imag must both be float32 or both float64, got {re.dtype} and "
                        f"{im.dtype}")
    return op(ember.complex, (re, im), name=name or "Complex")


def _part(tf_name: str, default_name: str, fn, of_real):
    def part(input, name: str | None = None) -> Tensor:
        x = as_tf(input)
        if x.dtype is not None and x.dtype.kind not in "iufc":
            raise TypeError(f"tf.{tf_name}: the input must be numeric, got '{x.name}' of dtype {x.dtype}")
        return op(lambda a: fn(a) if a.dtype.kind == "c" else of_real(a), (x,), name=name or default_name)

    part.__name__ = tf_name
    return part


real = _part("real", "Real", ember.real, lambda a: a)
real.__doc__ = "The real part of a complex tensor (float32 of complex64); a real tensor unchanged."
imag = _part("imag", "Imag", ember.imag, ember.zeros_like)
imag.__doc__ = "The imaginary part of a complex tensor; zeros of a real tensor's shape and dtype."
conj = _part("conj", "Conj", ember.conj, lambda a: a)
conj.__doc__ = "The complex conjugate; a real tensor unchanged."


def _floats(what: str, *tensors: Tensor) -> None:
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1 or next(iter(dtypes)) not in (float32, float64):
        raise TypeError(f"tf.{what}: the inputs must be float32 or float64 and of one dtype, got "
                        f"{[str(t.dtype) for t in tensors]}")


def _binary_special(tf_name: str, default_name: str, fn, doc: str, first_differentiable: builtins.bool = True):
    def special(a, x, name: str | None = None) -> Tensor:
        x = as_tf(x)
        a = as_operand(a, x)
        _floats(tf_name, a, x)
        if not first_differentiable:  # (tf.gradients then gives None for it, as TF-1's)
            a = stop_gradient(a)
        return op(fn, (a, x), name=name or default_name)

    special.__name__, special.__doc__ = tf_name, doc
    return special


igamma = _binary_special(
    "igamma", "Igamma", ember.special.gammainc,
    "The regularized lower incomplete gamma function P(a, x); differentiable in ``x`` (a gradient for ``a`` is "
    "refused with an error).")
igammac = _binary_special(
    "igammac", "Igammac", ember.special.gammaincc,
    "The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x); differentiable in ``x``.")
# TF-1's zeta has no gradient for the exponent x (None, as TF-1's): only q is differentiated
zeta = _binary_special(
    "zeta", "Zeta", ember.special.zeta,
    "The Hurwitz zeta function sum over n >= 0 of (n + q) ** -x; the gradient flows to ``q`` only, as TF-1's.",
    first_differentiable=False)


def _same_shapes_or_scalars(**tensors) -> None:
    """Refuse two operands that are not scalars and differ in shape: TF-1's Betainc broadcasts only scalars."""
    named = [(n, t.shape) for n, t in tensors.items() if t.shape is not None and len(t.shape)]
    for i, (first, one) in enumerate(named):
        for second, other in named[i + 1:]:
            if len(one) != len(other) or any(p is not None and q is not None and p != q for p, q in zip(one, other)):
                raise ValueError(f"Betainc: shapes of {first} and {second} are inconsistent: {list(one)} vs. "
                                 f"{list(other)} (TF-1 takes operands of one shape, or scalars)")


def betainc(a, b, x, name: str | None = None) -> Tensor:
    """The regularized incomplete beta function I_x(a, b) (float32 or float64 inputs of one dtype, of one shape or
    scalars: TF-1 broadcasts nothing else); the gradient flows to ``x`` only (None for ``a`` and ``b``, as TF-1's)."""
    x = as_tf(x)
    a, b = as_operand(a, x), as_operand(b, x)
    _floats("betainc", a, b, x)
    _same_shapes_or_scalars(a=a, b=b, x=x)
    return op(ember.special.betainc, (stop_gradient(a), stop_gradient(b), x), name=name or "Betainc")


def polygamma(a, x, name: str | None = None) -> Tensor:
    """The ``a``-th derivative of the digamma function at ``x``, for an ``a`` of whole numbers (a float tensor of
    ``x``'s dtype, as TF-1's); the gradient flows to ``x``."""
    x = as_tf(x)
    a = as_operand(a, x)
    _floats("polygamma", a, x)

    def fn(n, v):
        # polygamma(n, x) as (-1)^(n+1) n! zeta(n + 1, x): n is elementwise here, not one int
        n = ember.stop_gradient(n)
        sign = 1.0 - 2.0 * ember.remainder(n, 2.0)  # (-1)^n
        value = -sign * ember.exp(ember.lgamma(n + 1.0)) * ember.special.zeta(n + 1.0, v)
        return ember.where(ember.eq(n, 0.0), ember.digamma(v), value)

    return op(fn, (a, x), name=name or "Polygamma")


def lbeta(x, name: str | None = None) -> Tensor:
    """log(|Beta(x)|) over the last axis: sum(lgamma(x)) - lgamma(sum(x)); -inf for an empty last axis."""
    x = as_tf(x)
    if x.shape is not None and not len(x.shape):
        raise ValueError(f"tf.lbeta: x must have rank 1 or more, got the scalar '{x.name}'")
    return op(lambda a: ember.sum(ember.lgamma(a), axis=-1) - ember.lgamma(ember.sum(a, axis=-1)), (x,),
              name=name or "lbeta")


def to_bfloat16(x, name: str = "ToBFloat16") -> Tensor:
    """``x`` as bfloat16."""
    return op(lambda a: ember.cast(a, bfloat16), (as_tf(x),), name=name)


def cumulative_logsumexp(x, axis: int = 0, exclusive: builtins.bool = False, reverse: builtins.bool = False,
                         name: str | None = None) -> Tensor:
    """log(cumsum(exp(x))) along ``axis``, computed stably; ``exclusive`` leaves each element out of its own
    result (-inf first), ``reverse`` runs from the end."""
    x = as_tf(x)
    if x.dtype is not None and x.dtype.kind != "f":
        raise TypeError(f"tf.math.cumulative_logsumexp: x must be floating, got '{x.name}' of dtype {x.dtype}")
    axis = int(axis)

    def fn(a):
        dim = axis % builtins.max(a.ndim, 1)
        if reverse:
            a = ember.flip(a, dim)
        if exclusive:
            pads = [(0, 0)] * a.ndim
            pads[dim] = (1, 0)
            index = [builtins.slice(None)] * a.ndim
            index[dim] = builtins.slice(0, -1)
            a = ember.pad(a, builtins.tuple(pads), float("-inf"))[builtins.tuple(index)]
        out = ember.logcumsumexp(a, dim)
        return ember.flip(out, dim) if reverse else out

    return op(fn, (x,), name=name or "CumulativeLogsumexp")


def polyval(coeffs, x, name: str | None = None) -> Tensor:
    """The polynomial coeffs[0] * x**(n-1) + ... + coeffs[n-1] at ``x`` by Horner's rule; ``coeffs`` is a list
    of tensors (each broadcast against ``x``); zeros of ``x``'s shape for an empty list."""
    if isinstance(coeffs, Tensor):
        raise ValueError("tf.math.polyval: coeffs must be a list of tensors, got a tf.Tensor")
    x = as_tf(x)
    terms = [as_operand(c, x) for c in coeffs]

    def fn(v, *cs):
        if not cs:
            return ember.zeros_like(v)
        out = cs[0]
        for c in cs[1:]:
            out = c + out * v
        return out

    return op(fn, (x, *terms), name=name or "polyval")


def reduce_euclidean_norm(input_tensor, axis=None, keepdims: builtins.bool = False,
                          name: str | None = None) -> Tensor:
    """sqrt(sum(x**2)) over ``axis`` (all axes by default)."""
    x = as_tf(input_tensor)
    if x.dtype is not None and x.dtype.kind not in "fc":
        raise TypeError(f"tf.math.reduce_euclidean_norm: supported for float and complex tensors, got '{x.name}' of "
                        f"dtype {x.dtype}")
    axes = None if axis is None else builtins.tuple(int(a) for a in np.atleast_1d(axis))

    def fn(a):
        square = ember.real(a * ember.conj(a)) if a.dtype.kind == "c" else a * a
        out = ember.sqrt(ember.sum(square, axis=axes, keepdims=builtins.bool(keepdims)))
        return ember.cast(out, a.dtype) if a.dtype.kind == "c" else out

    return op(fn, (x,), name=name or "EuclideanNorm")


def confusion_matrix(labels, predictions, num_classes=None, weights=None, dtype=int32,
                     name: str | None = None) -> Tensor:
    """The [n, n] matrix counting (or summing ``weights`` of) each (label, prediction) pair: rows the labels,
    columns the predictions; ``num_classes`` n, else max(labels, predictions) + 1 read when the Session runs.
    A negative value or one >= num_classes is refused when the Session runs, as TF-1's assertions."""
    labels, predictions = as_tf(labels), as_tf(predictions)
    out_dtype = as_tf_dtype(dtype)
    for t, arg in ((labels, "labels"), (predictions, "predictions")):
        if t.dtype is not None and t.dtype.kind not in "iu":
            raise TypeError(f"tf.math.confusion_matrix: {arg} must be integers, got '{t.name}' of dtype {t.dtype}")
        if t.shape is not None and len(t.shape) != 1:
            raise ValueError(f"tf.math.confusion_matrix: {arg} must be 1-D, got '{t.name}' of shape {list(t.shape)}")
    if labels.shape is not None and predictions.shape is not None and None not in (labels.shape[0],
                                                                                    predictions.shape[0]) \
            and labels.shape[0] != predictions.shape[0]:
        raise ValueError(f"tf.math.confusion_matrix: labels {list(labels.shape)} and predictions "
                         f"{list(predictions.shape)} must have one shape")
    w = None if weights is None else op(lambda a: ember.cast(a, out_dtype), (as_tf(weights),), name="Cast")
    if num_classes is None:
        def counts(y, p, *ws):
            n = int(builtins.max(y.max(initial=-1), p.max(initial=-1))) + 1
            return _confusion(y, p, ws[0] if ws else None, n, out_dtype)

        out = py_func(counts, [labels, predictions] + ([w] if w is not None else []), out_dtype,
                      name=name or "confusion_matrix")
        out.set_shape([None, None])
        return out
    n = int(num_classes)
    def check(y, p):
        _confusion(y, p, None, n, np.dtype(np.int64))
        return y.astype(np.int64)

    checked = py_func(check, [labels, predictions], np.dtype(np.int64), name="confusion_matrix/assert")
    checked.set_shape(list(labels.shape) if labels.shape is not None else [None])
    predicted = op(lambda a: ember.cast(a, "int64"), (predictions,), name="Cast")

    def fn(y, p, *ws):
        classes = ember.arange(n, dtype="int64")
        rows = ember.cast(ember.eq(ember.unsqueeze(y, 1), classes), out_dtype)
        cols = ember.cast(ember.eq(ember.unsqueeze(p, 1), classes), out_dtype)
        if ws:
            rows = rows * ember.unsqueeze(ws[0], 1)
        return ember.matmul(ember.swapaxes(rows, 0, 1), cols)

    return op(fn, (checked, predicted) + ((w,) if w is not None else ()), name=name or "confusion_matrix")


def _confusion(y, p, w, n: int, dtype) -> np.ndarray:
    if y.shape != p.shape:
        raise ValueError(f"tf.math.confusion_matrix: labels {list(y.shape)} and predictions {list(p.shape)} must "
                         "have one shape")
    for values, arg in ((y, "labels"), (p, "predictions")):
        if values.size and (values.min() < 0 or values.max() >= n):
            raise ValueError(f"tf.math.confusion_matrix: {arg} must be in [0, {n}), got values from "
                             f"{int(values.min())} to {int(values.max())}")
    out = np.zeros((n, n), dtype)
    np.add.at(out, (y.astype(np.int64), p.astype(np.int64)), 1 if w is None else w)
    return out

"""Gradient clipping by total norm or by value (``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ember.backend.devices import array_module
from ember.ops import elementwise, join, linalg, reduction
from ember.sparse import RowSparse
from ember.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _with_grads(parameters) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def _grad_array(p):
    """The gradient's values; a RowSparse is coalesced first (repeated rows must be summed to measure them)."""
    grad = p.grad
    if grad.__class__ is RowSparse:
        grad = p.grad = grad.coalesce()
        return grad.values.array
    return grad.array


def _norm(array, norm_type: float) -> float:
    xp = array_module(array)
    if array.size == 0:
        return 0.0
    if array.dtype.kind == "c":  # the norm of the moduli, as torch's vector_norm (float32 for complex64)
        array = xp.abs(array)
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    if norm_type == 2.0:
        return float(xp.sqrt(xp.vdot(array, array)))
    if norm_type == math.inf:
        return float(xp.abs(array).max())
    if norm_type == 1.0:
        return float(xp.abs(array).sum())
    return float((xp.abs(array) ** norm_type).sum() ** (1.0 / norm_type))


def _set_grad(p, array) -> None:
    """Give ``p`` the gradient values ``array`` in the gradient's dtype (a 0-d result of NumPy arithmetic is a
    scalar: made an array).

    A dense gradient keeps its Tensor, as PyTorch clips in place (a reference taken before sees the clipped
    values); it takes the new array rather than being written into, as a backward may have handed one array to
    several gradients. A gradient with a graph of its own (``create_graph=True``) is replaced instead."""
    if isinstance(array, np.generic):
        array = np.asarray(array)
    grad = p.grad
    held = grad.values.dtype if grad.__class__ is RowSparse else grad.dtype
    array = array.astype(held, copy=False)  # NumPy widens bfloat16 (ml_dtypes) times a Python float to float32
    if grad.__class__ is RowSparse:
        p.grad = RowSparse(grad.indices, Tensor._make(array, None), grad.shape)
    elif grad.node is None:
        grad.array = array
    else:
        p.grad = Tensor._make(array, None)


def _traced(params: list) -> bool:
    """Whether the gradients are graph Values (a step ``ember.jit`` traces): clipping is then built of ops."""
    grads = [p.grad for p in params]
    if not any((g.values if g.__class__ is RowSparse else g).symbolic for g in grads):
        return False
    if any(g.__class__ is RowSparse for g in grads):
        raise TypeError("clipping: a traced step's row-sparse (RowSparse) gradient cannot be clipped, its repeated "
                        "rows are merged only when it runs; clip outside ember.jit, or make the embedding dense")
    return True


def _norm_op(g, norm_type: float, real):
    """``_norm`` of a gradient Value, as ops (the same formulas)."""
    if g.dtype.kind == "c":
        g = elementwise.abs(g)
    if g.dtype not in (np.float32, np.float64):
        g = g.astype(np.float32)
    if norm_type == 2.0:
        flat = g.reshape(-1)
        norm = elementwise.sqrt(linalg.dot(flat, flat))
    elif norm_type == math.inf:
        norm = reduction.max(elementwise.abs(g))
    elif norm_type == 1.0:
        norm = reduction.sum(elementwise.abs(g))
    else:
        norm = reduction.sum(elementwise.abs(g) ** norm_type) ** (1.0 / norm_type)
    return norm if norm.dtype == real else norm.astype(real)


def _clip_norm_traced(params: list, max_norm: float, norm_type: float) -> Tensor:
    """``clip_grad_norm_`` of gradient Values: eager mode's arithmetic as ops, each gradient multiplied by the
    coefficient (exactly 1 where eager mode leaves it unscaled)."""
    grads = [p.grad for p in params]
    total = _total_norm_op(grads, norm_type)
    coef = elementwise.minimum(1.0 / (total + 1e-6) * max_norm, 1.0)
    for p, g in zip(params, grads):
        p.grad = g * coef
    return total


def _total_norm(arrays: list, norm_type: float, error_if_nonfinite: bool, what: str) -> np.generic:
    """The ``norm_type``-norm of all of ``arrays`` together: float64 when some array is (torch's type promotion
    of the per-array norms), else float32."""
    real = np.float64 if any(a.dtype in (np.float64, np.complex128) for a in arrays) else np.float32
    norms = np.array([_norm(a, norm_type) for a in arrays], real)
    if norm_type == math.inf:
        total = norms.max()
    elif norm_type == 2.0:
        total = np.sqrt(np.dot(norms, norms))
    else:
        total = (norms**norm_type).sum() ** real(1.0 / norm_type)
    total = real(total)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"{what}: the total {norm_type}-norm of the gradients is {total}; "
                           "pass error_if_nonfinite=False to clip anyway")
    return total


def _total_norm_op(grads: list, norm_type: float) -> Tensor:
    """``_total_norm`` of gradient Values, as ops (the same formulas)."""
    real = np.float64 if any(g.dtype in (np.float64, np.complex128) for g in grads) else np.float32
    norms = join.stack([_norm_op(g, norm_type, real) for g in grads if math.prod(g.shape)])
    if norm_type == math.inf:
        return reduction.max(norms)
    if norm_type == 2.0:
        return elementwise.sqrt(linalg.dot(norms, norms))
    return reduction.sum(norms**norm_type) ** (1.0 / norm_type)


def _check_norm_type(norm_type: float, what: str) -> float:
    norm_type = float(norm_type)
    if not (norm_type > 0 or norm_type == math.inf):
        raise ValueError(f"{what}: norm_type must be > 0 or inf, got {norm_type}")
    return norm_type


def get_total_norm(tensors: Iterable | Tensor, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of ``tensors`` (gradients, not parameters) taken together, as
    ``clip_grad_norm_`` measures it: a 0-d float32 tensor (float64 when a tensor is float64). ``foreach`` is
    accepted for PyTorch's signature; the result does not depend on it.

    >>> total = ember.nn.utils.get_total_norm([p.grad for p in model.parameters()])
    """
    del foreach
    norm_type = _check_norm_type(norm_type, "get_total_norm")
    tensors = [tensors] if isinstance(tensors, Tensor) else [t for t in tensors if t is not None]
    if not tensors:
        return Tensor._make(np.zeros((), np.float32), None)
    values = [t.values if t.__class__ is RowSparse else t for t in tensors]
    if any(t.symbolic for t in values):
        if error_if_nonfinite:
            raise TypeError("get_total_norm: error_if_nonfinite=True reads the norm's value, which a traced step "
                            "(ember.jit) does not have; pass error_if_nonfinite=False there")
        return _total_norm_op(tensors, norm_type)
    arrays = [(t.coalesce().values if t.__class__ is RowSparse else t).array for t in tensors]
    return Tensor._make(np.asarray(_total_norm(arrays, norm_type, error_if_nonfinite, "get_total_norm")), None)


def clip_grads_with_norm_(parameters: Iterable | Tensor, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients of ``parameters`` by ``min(max_norm / (total_norm + 1e-6), 1)``: the second half of
    ``clip_grad_norm_``, given a total norm measured before (``get_total_norm``, perhaps over several groups).

    >>> grads = [p.grad for p in model.parameters()]
    >>> ember.nn.utils.clip_grads_with_norm_(model.parameters(), 1.0, ember.nn.utils.get_total_norm(grads))
    """
    del foreach
    params = _with_grads(parameters)
    if not params:
        return
    if not isinstance(total_norm, Tensor):
        raise TypeError(f"clip_grads_with_norm_: total_norm must be a Tensor (get_total_norm's result), got "
                        f"{type(total_norm).__name__}")
    if total_norm.symbolic or _traced(params):
        coef = elementwise.minimum(1.0 / (total_norm + 1e-6) * float(max_norm), 1.0)
        for p in params:
            p.grad = p.grad * coef
        return
    total = np.asarray(total_norm.array)
    real = total.dtype.type if total.dtype in (np.float32, np.float64) else np.float32
    coef = min(real(1.0) / (real(total) + real(1e-6)) * real(max_norm), real(1.0))
    if not coef >= 1.0:  # a NaN norm makes every gradient NaN, as torch's clamp of a NaN coefficient
        for p in params:
            _set_grad(p, _grad_array(p) * float(coef))


def clip_grad_norm_(parameters: Iterable | Tensor, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d float32 tensor, float64 when a gradient is float64); a NaN
    norm makes every gradient NaN, as in PyTorch. Row-sparse gradients are coalesced. In a step ``ember.jit``
    traces, the same arithmetic is built of ops. ``foreach`` (PyTorch's speed hint) changes nothing.

    >>> total = ember.optim.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    del foreach
    params = _with_grads(parameters)
    max_norm, norm_type = float(max_norm), _check_norm_type(norm_type, "clip_grad_norm_")
    if not params:
        return Tensor._make(np.zeros((), np.float32), None)
    if _traced(params):
        if error_if_nonfinite:
            raise TypeError("clip_grad_norm_: error_if_nonfinite=True reads the norm's value, which a traced step "
                            "(ember.jit) does not have; pass error_if_nonfinite=False there")
        return _clip_norm_traced(params, max_norm, norm_type)
    arrays = [_grad_array(p) for p in params]
    total = _total_norm(arrays, norm_type, error_if_nonfinite, "clip_grad_norm_")
    real = total.dtype.type
    # torch computes max_norm / t as reciprocal(t) * max_norm, in the norm's dtype
    coef = min(real(1.0) / (total + real(1e-6)) * real(max_norm), real(1.0))
    if not coef >= 1.0:  # a NaN norm makes every gradient NaN, as torch's clamp of a NaN coefficient
        for p, array in zip(params, arrays):
            # a new array, not an in-place product: a leaf's gradient may share memory with another leaf's
            _set_grad(p, array * float(coef))
    return Tensor._make(np.asarray(total), None)


def clip_grad_value_(parameters: Iterable | Tensor, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``; row-sparse gradients are coalesced first.
    ``foreach`` (PyTorch's speed hint) changes nothing.

    >>> ember.optim.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    del foreach
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    params = _with_grads(parameters)
    for p in params:
        grad = p.grad.values if p.grad.__class__ is RowSparse else p.grad
        if grad.dtype.kind == "c":  # as torch's clamp, which has no order of complex numbers
            raise TypeError(f"clip_grad_value_: complex gradients cannot be clamped, got dtype {grad.dtype} "
                            f"of shape {list(grad.shape)}")
    if params and _traced(params):
        for p in params:
            p.grad = elementwise.clip(p.grad, -clip_value, clip_value)
        return
    for p in params:
        array = _grad_array(p)
        _set_grad(p, array_module(array).clip(array, -clip_value, clip_value))

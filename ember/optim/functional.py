"""Optimizer math: one pure function per rule, updating one parameter array and its state dict in place.

Every function takes the parameter array, its gradient (an array, or a ``RowSparse`` for the ``sparse_*``
rules) and a dict holding the rule's state (created on the first call), plus keyword hyper-parameters.
The same functions serve ``Optimizer.step()`` in eager mode and the graph's update pass. Bodies use the
parameter's array module, so one body runs on NumPy and CuPy.

Float32 results follow PyTorch's order of operations (``torch.optim`` single-tensor code paths), so they
agree with it to rounding; FTRL follows TensorFlow's ``ApplyFtrlV2`` kernel.

>>> w, g, state = np.ones(3, np.float32), np.full(3, 0.5, np.float32), {}
>>> sgd_update(w, g, state, lr=0.1, momentum=0.9)
>>> w                      # 1 - 0.1 * 0.5
array([0.95, 0.95, 0.95], dtype=float32)
"""

from __future__ import annotations

import functools
import math
import weakref

import numpy as np

from ember.backend import cuda_kernels, openblas
from ember.backend.devices import array_module
from ember.backend.rows import put_rows
from ember.ops import dispatch
from ember.ops.effects import SgdForm, update_rule
from ember.sparse import RowSparse, sum_repeated_rows, unique_rows

__all__ = [
    "adagrad_update", "adam_update", "adamw_update", "ftrl_update", "rmsprop_update", "rowwise_adagrad_update",
    "sgd_update", "sparse_adagrad_update", "sparse_adam_update", "sparse_ftrl_update", "sparse_rowwise_adagrad_update",
    "sparse_sgd_update",
]


def _scalar_safe(update):
    """Run a 0-d parameter as a 1-element view: NumPy returns scalars, not arrays, from ufuncs on 0-d
    arrays, which ``out=`` and in-place updates cannot use. The state keeps the parameter's shape."""

    @functools.wraps(update)
    def run(param, grad, state: dict, **hyper) -> None:
        if param.ndim:
            return update(param, grad, state, **hyper)
        view = {key: value.reshape(1) if getattr(value, "ndim", None) == 0 else value for key, value in state.items()}
        update(param.reshape(1), grad.reshape(1), view, **hyper)
        for key, value in view.items():
            if getattr(state.get(key), "ndim", None) != 0:  # new, or a number: 0-d arrays were updated in place
                state[key] = value.reshape(()) if getattr(value, "shape", None) == (1,) else value
        return None

    return run


def _lerp_weight(dtype, weight: float):
    """The lerp weight as torch's kernel holds it: float32 for float32 (and narrower) arrays, float64 else."""
    return np.float32(weight) if dtype.itemsize <= 4 else np.float64(weight)


def _lerp_(xp, avg, target, weight: float, tmp) -> None:
    """``avg.lerp_(target, weight)`` with torch's two formulas (exact at both ends); clobbers ``tmp``."""
    weight = _lerp_weight(avg.dtype, weight)
    xp.subtract(target, avg, out=tmp)
    if abs(weight) < 0.5:
        tmp *= float(weight)
        avg += tmp
    else:
        tmp *= float(weight.dtype.type(1) - weight)
        xp.subtract(target, tmp, out=avg)


def _fused_on_gpu(*arrays) -> bool:
    """Whether ``ember.backend.cuda_kernels`` takes these CuPy arrays: one shape, one float32/float64 dtype."""
    first = arrays[0]
    return first.dtype.kind == "f" and first.dtype.itemsize >= 4 and all(
        a.dtype == first.dtype and a.shape == first.shape for a in arrays)


def _add_alpha(x, y, alpha: float):
    """PyTorch's ``x.add(y, alpha=alpha)`` of float16 or bfloat16 arrays: ``alpha`` rounded to their dtype, the sum
    computed in float32 and rounded once (NumPy rounds the product first, an ulp off one element in ten)."""
    wide = y.astype(np.float32)
    wide *= np.float32(x.dtype.type(alpha))
    wide += x.astype(np.float32)
    return wide.astype(x.dtype)


def _mul_narrow(x, scalar: float):
    """PyTorch's ``x.mul(scalar)`` of a float16 or bfloat16 array: the product in float32 (``scalar`` in float32, not
    in their dtype), rounded once."""
    return (x.astype(np.float32) * np.float32(scalar)).astype(x.dtype)


def _addcmul_narrow(x, t1, t2, value: float):
    """PyTorch's ``x.addcmul(t1, t2, value=value)`` of float16 or bfloat16 arrays as its CPU kernel computes it:
    ``x + (value * t1) * t2`` in float32, the last product and the sum one fused multiply-add (emulated in float64,
    where the product is exact), rounded once."""
    wide = t1.astype(np.float32)
    wide *= np.float32(value)
    wide = wide.astype(np.float64)
    wide *= t2
    wide += x
    return wide.astype(np.float32).astype(x.dtype)


def _addcdiv_narrow(x, t1, t2, value: float):
    """PyTorch's ``x.addcdiv(t1, t2, value=value)`` of float16 or bfloat16 arrays: ``x + value * t1 / t2`` in float32,
    rounded once."""
    wide = t1.astype(np.float32)
    wide *= np.float32(value)
    wide /= t2.astype(np.float32)
    wide += x.astype(np.float32)
    return wide.astype(x.dtype)


def _lerp_narrow(avg, target, weight: float) -> None:
    """``avg.lerp_(target, weight)`` of float16 or bfloat16 arrays as PyTorch's CPU kernel computes it: one fused
    multiply-add in float32, ``start + w * (end - start)`` (``end + (w - 1) * (end - start)`` for ``|w| >= 0.5``),
    rounded once (emulated in float64, where the product is exact)."""
    weight = np.float32(weight)
    small = bool(abs(weight) < 0.5)
    start, end = avg.astype(np.float32), target.astype(np.float32)
    wide = (end - start).astype(np.float64)
    wide *= float(weight if small else weight - np.float32(1))
    wide += start if small else end
    avg[...] = wide.astype(np.float32)


def _add_scalar_narrow(x, scalar: float):
    """PyTorch's ``x.add(scalar)`` of a float16 or bfloat16 array: ``scalar`` rounded to its dtype (unlike ``mul``'s
    and ``div``'s), the sum in float32, rounded once."""
    return (x.astype(np.float32) + np.float32(x.dtype.type(scalar))).astype(x.dtype)


def _sparse_add_narrow(rows, values, alpha: float):
    """PyTorch's ``dense.add_(sparse, alpha=alpha)`` on the touched ``rows`` of a float16 or bfloat16 parameter: its
    CPU kernel's ``row += alpha * value`` with ``alpha`` rounded to their dtype, the product rounded, then the sum."""
    dtype = rows.dtype
    product = (values.astype(np.float32) * np.float32(dtype.type(alpha))).astype(dtype)
    return (rows.astype(np.float32) + product.astype(np.float32)).astype(dtype)


def _add_occurrences_narrow(xp, param, index, values, alpha: float) -> None:
    """PyTorch's ``param.add_(grad, alpha=alpha)`` of an uncoalesced row-sparse gradient on a float16 or bfloat16
    parameter: its kernel adds each occurrence of an index in turn, so a repeated row gets each product rounded and
    added on its own, in order of occurrence (merging them first rounds differently)."""
    n = index.shape[0]
    order = xp.argsort(index, kind="stable")
    ordered = index[order]
    starts = xp.flatnonzero(xp.concatenate((xp.ones(min(n, 1), bool), ordered[1:] != ordered[:-1])))
    rank = xp.arange(n) - xp.repeat(starts, xp.diff(xp.append(starts, n)))  # 0 for a first occurrence, 1 ...
    for r in range(int(rank.max()) + 1 if n else 0):
        at = order[rank == r]  # distinct indices
        rows = index[at]
        put_rows(xp, param, rows, _sparse_add_narrow(_take(xp, param, rows), values[at], alpha))


def _sqrt_add_narrow(xp, x, eps: float):
    """PyTorch's ``x.sqrt().add_(eps)`` of a float16 or bfloat16 array: each op in float32, rounded once."""
    return _add_scalar_narrow(xp.sqrt(x.astype(np.float32)).astype(x.dtype), eps)


def _sgd_narrow(xp, param, grad, state: dict, lr: float, momentum: float, dampening: float, nesterov: bool,
                weight_decay: float, maximize: bool) -> None:
    """``sgd_update`` of a float16 or bfloat16 parameter, each of PyTorch's ops computed in float32 and rounded
    once, as its CPU kernels do."""
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        grad = _add_alpha(grad, param, weight_decay)
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = xp.empty_like(param)
            xp.copyto(buf, grad)
        else:
            buf[...] = buf.astype(np.float32) * np.float32(momentum)
            buf[...] = _add_alpha(buf, grad, 1 - dampening)
        grad = _add_alpha(grad, buf, momentum) if nesterov else buf
    param[...] = _add_alpha(param, grad, -lr)


def _rows(grad: RowSparse, maximize: bool):
    """``(indices, values)`` of a row-sparse gradient with repeated indices merged, negated for ``maximize``."""
    if grad.distinct:  # its maker promises no repeats (a hash table's rows)
        index, values = grad.indices.reshape(-1), grad.values.array
    elif grad.indices.__class__ is np.ndarray and grad.values.array.__class__ is np.ndarray:
        index, values = unique_rows(grad.indices.reshape(-1), grad.values.array, grad.shape[0])
    else:
        grad = grad.coalesce()
        index, values = grad.indices, grad.values.array
    return index, (-values if maximize else values)


def _take(xp, array, index):
    """``array[index]`` for the unique row indices of a coalesced gradient: ``take`` gathers rows 2-3x faster."""
    return xp.take(array, index, axis=0)


# --- SGD ---

def _sgd_foreach(params: list, grads: list, states: list, *, lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 maximize: bool = False) -> None:
    """``sgd_update`` over lists of parameters, the hyper-parameters read once: for plain momentum SGD on NumPy
    arrays, the three whole-array operations per parameter and nothing else (the per-call checks cost about as
    much as the arithmetic on a small layer's parameters)."""
    if momentum != 0 and not (weight_decay or maximize or nesterov or dampening):
        lr, momentum, small = float(lr), float(momentum), openblas.AXPBY_MIN_SIZE
        for param, grad, state in zip(params, grads, states):
            buf = state.get("momentum_buffer")
            if buf is None or param.__class__ is not np.ndarray or not param.ndim or param.itemsize < 4:
                # the first step, a GPU, 0-d, float16 or bfloat16 parameter
                sgd_update(param, grad, state, lr=lr, momentum=momentum)
                continue
            if buf.size < small:  # (axpby's own size test, made here: a call fewer per small parameter)
                buf *= momentum
                buf += grad
                param -= buf * lr
                continue
            if not openblas.axpby(1.0, grad, momentum, buf):  # one pass instead of two
                buf *= momentum
                buf += grad
            if not openblas.axpby(-lr, buf, 1.0, param):  # one pass instead of two and a temporary
                param -= buf * lr
        return
    if not (momentum or weight_decay or maximize):  # plain SGD
        lr = float(lr)
        for param, grad, state in zip(params, grads, states):
            if param.__class__ is not np.ndarray or not param.ndim or param.itemsize < 4:
                sgd_update(param, grad, state, lr=lr)  # a GPU, 0-d, float16 or bfloat16 parameter
                continue
            if not openblas.axpby(-lr, grad, 1.0, param):
                param -= grad * lr
        return
    for param, grad, state in zip(params, grads, states):
        sgd_update(param, grad, state, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                   weight_decay=weight_decay, maximize=maximize)


@update_rule(SgdForm(buffer_key="momentum_buffer"), foreach=_sgd_foreach, elementwise=True)
@_scalar_safe
def sgd_update(param, grad, state: dict, *, lr: float, momentum: float = 0.0, dampening: float = 0.0,
               nesterov: bool = False, weight_decay: float = 0.0, maximize: bool = False) -> None:
    """SGD with optional momentum, dampening, Nesterov and L2 weight decay (``torch.optim.SGD``).

    State: ``momentum_buffer`` (when momentum is used).
    """
    lr = float(lr)
    if param.dtype.itemsize < 4:
        _sgd_narrow(array_module(param), param, grad, state, lr, momentum, dampening, nesterov, weight_decay, maximize)
        return
    if not (momentum or weight_decay or maximize):
        if param.__class__ is not np.ndarray and _fused_on_gpu(param, grad):
            cuda_kernels.plain_sgd()(grad, lr, param)  # one launch, the same numbers
            return
        if not openblas.axpby(-lr, grad, 1.0, param):
            param -= grad * lr  # the common case; p + (-lr) * g rounds the same
        return
    xp = array_module(param)
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        grad = xp.add(grad, param * float(weight_decay))
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = xp.empty_like(param)  # in the parameter's memory layout
            xp.copyto(buf, grad)
        elif xp is not np and not nesterov and dampening == 0 and _fused_on_gpu(param, grad, buf):
            cuda_kernels.momentum_sgd()(grad, float(momentum), lr, buf, param)  # one launch, the same numbers
            return
        elif not openblas.axpby(float(1 - dampening), grad, float(momentum), buf):
            buf *= float(momentum)
            buf += grad if dampening == 0 else grad * float(1 - dampening)
        if nesterov:
            grad = xp.add(grad, buf * float(momentum))
        else:
            grad = buf
    if not openblas.axpby(-lr, grad, 1.0, param):
        param -= grad * lr


@update_rule(row_local=True)
def sparse_sgd_update(param, grad: RowSparse, state: dict, *, lr: float, momentum: float = 0.0,
                      dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                      maximize: bool = False) -> None:
    """SGD on the rows a ``RowSparse`` gradient touches; other rows are left alone.

    Without momentum and weight decay this equals ``torch.optim.SGD`` on a sparse gradient. Weight decay
    and momentum are lazy (TensorFlow's sparse momentum): only touched rows decay, and a row first touched
    after the first step starts from a zero buffer.
    """
    lr = float(lr)
    xp = array_module(param)
    if param.dtype.itemsize < 4 and not (momentum or weight_decay):
        _add_occurrences_narrow(xp, param, grad.indices.reshape(-1), grad.values.array, lr if maximize else -lr)
        return
    index, values = _rows(grad, maximize)
    if weight_decay != 0:
        values = xp.add(values, _take(xp, param, index) * float(weight_decay))
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = xp.zeros_like(param)
            put_rows(xp, buf, index, values)
            rows = values
        else:
            rows = _take(xp, buf, index)
            rows *= float(momentum)
            rows += values if dampening == 0 else values * float(1 - dampening)
            put_rows(xp, buf, index, rows)
        values = xp.add(values, rows * float(momentum)) if nesterov else rows
    if param.dtype.itemsize < 4:
        put_rows(xp, param, index, _sparse_add_narrow(_take(xp, param, index), values, -lr))
        return
    put_rows(xp, param, index, _take(xp, param, index) - values * lr)


# --- Adam / AdamW ---

def _adam_family_grad(xp, param, grad, lr: float, weight_decay: float, decoupled: bool, maximize: bool):
    """The gradient an Adam-like rule steps on: negated for ``maximize``, plus L2 weight decay; decoupled decay
    (AdamW's) shrinks ``param`` in place instead."""
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            grad = xp.add(grad, param * float(weight_decay))
    return grad


@update_rule(elementwise=True)
@_scalar_safe
def adam_update(param, grad, state: dict, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                decoupled_weight_decay: bool = False) -> None:
    """Adam (``torch.optim.Adam``); ``decoupled_weight_decay=True`` is AdamW.

    State: ``step``, ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` (amsgrad).
    """
    xp = array_module(param)
    lr = float(lr)
    if not state:
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(param)
        state["exp_avg_sq"] = xp.zeros_like(param)
    if amsgrad and "max_exp_avg_sq" not in state:
        state["max_exp_avg_sq"] = xp.zeros_like(param)
    step = state["step"] = state["step"] + 1
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    if param.dtype.itemsize < 4:
        _adam_narrow(xp, param, grad, state, step, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                     decoupled_weight_decay)
        return
    grad = _adam_family_grad(xp, param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    if xp is not np and not amsgrad and _fused_on_gpu(param, grad, exp_avg, exp_avg_sq):
        weight = _lerp_weight(param.dtype, 1 - beta1)  # _lerp_'s two formulas, its weight rounded as there
        low = bool(abs(weight) < 0.5)
        cuda_kernels.adam()(grad, float(weight) if low else float(weight.dtype.type(1) - weight), low, float(beta2),
                            float(1 - beta2), (1 - beta2**step) ** 0.5, float(eps), -lr / (1 - beta1**step),
                            exp_avg, exp_avg_sq, param)  # one launch instead of about twelve, the same numbers
        return
    tmp = xp.empty_like(param)
    _lerp_(xp, exp_avg, grad, 1 - beta1, tmp)
    exp_avg_sq *= float(beta2)
    xp.multiply(grad, float(1 - beta2), out=tmp)  # addcmul: v + ((1 - beta2) * g) * g
    tmp *= grad
    exp_avg_sq += tmp
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    second = exp_avg_sq
    if amsgrad:
        second = xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
    denom = xp.sqrt(second, out=tmp)
    denom /= bias_correction2**0.5
    denom += float(eps)
    numer = exp_avg * (-lr / bias_correction1)  # addcdiv: p + (value * m) / denom
    numer /= denom
    param += numer


def _narrow_decay(xp, param, grad, lr: float, weight_decay: float, decoupled: bool, maximize: bool):
    """``maximize`` and weight decay (decoupled: into ``param``; else added to the gradient, which is returned) for a
    float16 or bfloat16 parameter, each op in float32 and rounded once, as PyTorch's CPU kernels."""
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        if decoupled:
            param[...] = _mul_narrow(param, 1 - lr * weight_decay)
        else:
            grad = _add_alpha(grad, param, weight_decay)
    return grad


def _adam_narrow(xp, param, grad, state: dict, step: int, lr: float, beta1: float, beta2: float, eps: float,
                 weight_decay: float, amsgrad: bool, maximize: bool, decoupled: bool) -> None:
    """``adam_update``'s step of a float16 or bfloat16 parameter, each of PyTorch's ops (``lerp_``, ``mul_``,
    ``addcmul_``, ``sqrt``, ``div``, ``add_``, ``addcdiv_``) computed in float32 and rounded once, as its CPU
    kernels do."""
    f32 = np.float32
    grad = _narrow_decay(xp, param, grad, lr, weight_decay, decoupled, maximize)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    _lerp_narrow(exp_avg, grad, 1 - beta1)
    exp_avg_sq[...] = _addcmul_narrow(_mul_narrow(exp_avg_sq, beta2), grad, grad, 1 - beta2)
    second = exp_avg_sq
    if amsgrad:
        second = xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
    denom = xp.sqrt(second.astype(f32)).astype(param.dtype)
    denom = (denom.astype(f32) / f32((1 - beta2**step) ** 0.5)).astype(param.dtype)
    denom = _add_scalar_narrow(denom, eps)
    param[...] = _addcdiv_narrow(param, exp_avg, denom, -lr / (1 - beta1**step))


@update_rule(elementwise=True)
@_scalar_safe
def adamw_update(param, grad, state: dict, *, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
    """AdamW (``torch.optim.AdamW``): Adam with weight decay applied to the parameter, not the gradient."""
    adam_update(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


@update_rule(row_local=True)
def sparse_adam_update(param, grad: RowSparse, state: dict, *, lr: float, beta1: float = 0.9,
                       beta2: float = 0.999, eps: float = 1e-8, maximize: bool = False) -> None:
    """Lazy Adam (``torch.optim.SparseAdam``): only the touched rows' moments and values change.

    ``step`` counts every call; the bias correction uses it for every row. State: ``step``, ``exp_avg``,
    ``exp_avg_sq``.
    """
    xp = array_module(param)
    if not state:
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(param)
        state["exp_avg_sq"] = xp.zeros_like(param)
    step = state["step"] = state["step"] + 1
    index, values = _rows(grad, maximize)
    if values.size == 0:
        return
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    old_avg = _take(xp, exp_avg, index)
    narrow = param.dtype.itemsize < 4  # float16, bfloat16: torch's ops each rounded once, its scalars as it rounds them
    update_avg = xp.subtract(values, old_avg)
    if narrow:
        update_avg = _mul_narrow(update_avg, 1 - beta1)
    else:
        update_avg *= float(1 - beta1)
    put_rows(xp, exp_avg, index, old_avg + update_avg)
    old_sq = _take(xp, exp_avg_sq, index)
    update_sq = values * values
    update_sq -= old_sq
    if narrow:
        update_sq = _mul_narrow(update_sq, 1 - beta2)
    else:
        update_sq *= float(1 - beta2)
    put_rows(xp, exp_avg_sq, index, old_sq + update_sq)
    update_avg += old_avg  # the new first moment of the rows
    update_sq += old_sq
    step_size = float(lr) * math.sqrt(1 - beta2**step) / (1 - beta1**step)
    if narrow:
        update_avg /= _sqrt_add_narrow(xp, update_sq, eps)
        update_avg = _mul_narrow(update_avg, -step_size)
    else:
        denom = xp.sqrt(update_sq, out=update_sq)
        denom += float(eps)
        update_avg /= denom
        update_avg *= -step_size
    put_rows(xp, param, index, _take(xp, param, index) + update_avg)


# --- RMSprop ---

@update_rule(elementwise=True)
@_scalar_safe
def rmsprop_update(param, grad, state: dict, *, lr: float, alpha: float = 0.99, eps: float = 1e-8,
                   weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                   maximize: bool = False) -> None:
    """RMSprop (``torch.optim.RMSprop``), optionally centered and with momentum.

    State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    """
    xp = array_module(param)
    lr = float(lr)
    if not state:
        state["step"] = 0
        state["square_avg"] = xp.zeros_like(param)
    if momentum > 0 and "momentum_buffer" not in state:
        state["momentum_buffer"] = xp.zeros_like(param)
    if centered and "grad_avg" not in state:
        state["grad_avg"] = xp.zeros_like(param)
    state["step"] += 1
    if param.dtype.itemsize < 4:
        _rmsprop_narrow(xp, param, grad, state, lr, alpha, eps, weight_decay, momentum, centered, maximize)
        return
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        grad = xp.add(grad, param * float(weight_decay))
    square_avg = state["square_avg"]
    square_avg *= float(alpha)
    tmp = xp.multiply(grad, float(1 - alpha))
    tmp *= grad
    square_avg += tmp
    if centered:
        grad_avg = state["grad_avg"]
        _lerp_(xp, grad_avg, grad, 1 - alpha, tmp)
        xp.multiply(grad_avg, grad_avg, out=tmp)
        avg = xp.subtract(square_avg, tmp, out=tmp)
        xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg, out=tmp)
    avg += float(eps)
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf *= float(momentum)
        buf += xp.divide(grad, avg, out=avg)
        param -= xp.multiply(buf, lr, out=avg)
    else:
        numer = grad * -lr
        numer /= avg
        param += numer


def _rmsprop_narrow(xp, param, grad, state: dict, lr: float, alpha: float, eps: float, weight_decay: float,
                    momentum: float, centered: bool, maximize: bool) -> None:
    """``rmsprop_update``'s step of a float16 or bfloat16 parameter, each of PyTorch's ops computed in float32 and
    rounded once, as its CPU kernels do."""
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        grad = _add_alpha(grad, param, weight_decay)
    square_avg = state["square_avg"]
    square_avg[...] = _addcmul_narrow(_mul_narrow(square_avg, alpha), grad, grad, 1 - alpha)
    if centered:
        grad_avg = state["grad_avg"]
        _lerp_narrow(grad_avg, grad, 1 - alpha)
        avg = _sqrt_add_narrow(xp, _addcmul_narrow(square_avg, grad_avg, grad_avg, -1), eps)
    else:
        avg = _sqrt_add_narrow(xp, square_avg, eps)
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf[...] = _addcdiv_narrow(_mul_narrow(buf, momentum), grad, avg, 1)
        param[...] = _add_alpha(param, buf, -lr)
    else:
        param[...] = _addcdiv_narrow(param, grad, avg, -lr)


# --- Adagrad ---

@update_rule(elementwise=True)
@_scalar_safe
def adagrad_update(param, grad, state: dict, *, lr: float, lr_decay: float = 0.0, weight_decay: float = 0.0,
                   initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False) -> None:
    """Adagrad (``torch.optim.Adagrad``). State: ``step``, ``sum`` (starts at initial_accumulator_value)."""
    xp = array_module(param)
    if not state:
        state["step"] = 0
        state["sum"] = xp.full_like(param, initial_accumulator_value)
    step = state["step"] = state["step"] + 1
    if maximize:
        grad = xp.negative(grad)
    clr = float(lr) / (1 + (step - 1) * lr_decay)
    state_sum = state["sum"]
    if param.dtype.itemsize < 4:  # each of PyTorch's ops in float32, rounded once, as its CPU kernels
        if weight_decay != 0:
            grad = _add_alpha(grad, param, weight_decay)
        state_sum[...] = _addcmul_narrow(state_sum, grad, grad, 1)
        param[...] = _addcdiv_narrow(param, grad, _sqrt_add_narrow(xp, state_sum, eps), -clr)
        return
    if weight_decay != 0:
        grad = xp.add(grad, param * float(weight_decay))
    tmp = xp.multiply(grad, grad)
    state_sum += tmp
    std = xp.sqrt(state_sum, out=tmp)
    std += float(eps)
    ratio = xp.divide(grad, std, out=std)  # addcdiv: p + value * (g / std), torch's order
    if not openblas.axpby(-clr, ratio, 1.0, param):
        ratio *= -clr
        param += ratio


_layouts: dict = {}  # ids of arrays -> (weak references to them, each one's first row) of a layout found before


def _row_blocks(arrays: list):
    """``(rows, first_rows)`` when the NumPy arrays are C-contiguous views of one 1-d array, each starting on
    a whole row of their common row shape: that array as a ``(rows, *row_shape)`` view and each array's first
    row in it (then one gather or scatter serves them all). Else None."""
    base = arrays[0].base
    if base.__class__ is not np.ndarray or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    row_shape = arrays[0].shape[1:]
    width = math.prod(row_shape)
    if width == 0:
        return None
    key = tuple(map(id, arrays))
    known = _layouts.get(key)
    if known is not None and all(ref() is a for ref, a in zip(known[0], arrays)):  # views keep their place
        firsts = known[1]
    else:
        start = base.__array_interface__["data"][0]
        firsts = []
        for a in arrays:
            if a.base is not base or not a.flags.c_contiguous or a.shape[1:] != row_shape:
                return None
            offset, extra = divmod(a.__array_interface__["data"][0] - start, a.itemsize * width)
            if extra:
                return None
            firsts.append(offset)
        firsts = np.array(firsts)
        if len(_layouts) >= 64:
            _layouts.clear()
        _layouts[key] = ([weakref.ref(a) for a in arrays], firsts)
    return base[:base.size // width * width].reshape((-1,) + row_shape), firsts


class _Rows:
    """The rows that row indices name in several arrays of one row shape: gathered into and written back from
    one ``(n, *row_shape)`` array, by one call when the arrays lie side by side in one array (``_row_blocks``),
    else by one call per array."""

    __slots__ = ("arrays", "indices", "spans", "blocks", "keys")

    def __init__(self, arrays: list, indices: list, spans: list, counts: np.ndarray, flat: np.ndarray):
        self.arrays, self.indices, self.spans = arrays, indices, spans
        self.blocks = _row_blocks(arrays)
        self.keys = None if self.blocks is None else flat + np.repeat(self.blocks[1], counts)

    @classmethod
    def by_id(cls, arrays: list, ids: np.ndarray):
        """The rows ``ids`` (an (n, arrays) array: column k indexes ``arrays[k]``) names, id by id: an id's rows
        of all the arrays next to each other. Only for arrays that lie side by side in one array (else None)."""
        blocks = _row_blocks(arrays)
        if blocks is None:
            return None
        rows = cls.__new__(cls)
        rows.arrays, rows.indices, rows.spans, rows.blocks = arrays, None, None, blocks
        rows.keys = (ids + blocks[1]).reshape(-1)
        return rows

    def take(self, out: np.ndarray) -> np.ndarray:
        if self.blocks is not None:
            return np.take(self.blocks[0], self.keys, axis=0, out=out)
        for array, index, (a, b) in zip(self.arrays, self.indices, self.spans):
            np.take(array, index, axis=0, out=out[a:b])
        return out

    def put(self, rows: np.ndarray) -> None:
        if self.blocks is not None:
            put_rows(np, self.blocks[0], self.keys, rows)
            return
        for array, index, (a, b) in zip(self.arrays, self.indices, self.spans):
            put_rows(np, array, index, rows[a:b])


def _many_sparse_fits(params: list, indices: list, values: list) -> bool:
    """Whether several row-sparse updates can run as one: NumPy arrays of one dtype and row shape, each index
    inside its parameter's rows (others go one by one, which raises the usual errors), no parameter twice."""
    first = params[0]
    if first.__class__ is not np.ndarray or first.ndim < 1 or len({id(p) for p in params}) < len(params):
        return False
    for p, i, v in zip(params, indices, values):
        if p.__class__ is not np.ndarray or i.__class__ is not np.ndarray or v.__class__ is not np.ndarray \
                or p.dtype != first.dtype or v.dtype != first.dtype or p.shape[1:] != first.shape[1:] \
                or i.ndim != 1 or v.shape != i.shape + first.shape[1:] or i.dtype.kind not in "iu":
            return False
    return True


def _sparse_adagrad_many(params: list, indices: list, values: list, states: list, *, lr: float,
                         lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                         eps: float = 1e-10, maximize: bool = False, rows: list | None = None) -> None:
    """``sparse_adagrad_update`` on several parameters, with the results of one call each: each parameter's
    repeated indices merged (``sum_repeated_rows``), then the rule's arithmetic once over all the rows, and
    the rows gathered and written back by one call per array, or one in all when the parameters (and their
    accumulators) lie side by side in one array. The accumulators of parameters that start together are
    made side by side. ``rows``: the parameters' indexed rows as they are now (a lookup's result), read
    instead of gathering them again."""
    hyper = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
             "initial_accumulator_value": initial_accumulator_value, "eps": eps, "maximize": maximize}
    fits = weight_decay == 0 and _many_sparse_fits(params, indices, values) and params[0].itemsize >= 4 \
        and len({state.get("step", 0) for state in states}) == 1  # float16 and bfloat16 one by one: torch's rounding
    # an id's indices, gradient rows and rows of all the parameters next to each other (a joined lookup's rows,
    # the slices of its concatenation's gradient): the rows in that order, without gathering them in parameter
    # order first
    by_id = None
    if fits and len(params) > 1 and (rows is None or len(rows) == len(params)):
        by_id = (_side_by_side(indices), _side_by_side(values), None if rows is None else _side_by_side(rows))
        if by_id[0] is None or by_id[1] is None or (rows is not None and by_id[2] is None):
            by_id = None
    if fits:
        counts = np.array([i.shape[0] for i in indices])
        flat = np.concatenate(indices) if by_id is None else by_id[0]  # the checks read it whatever its order
        sizes = [p.shape[0] for p in params]
        fits = flat.size > 0 and (len(set(sizes)) > 1 or (flat.min() >= 0 and flat.max() < sizes[0]))
        if fits and len(set(sizes)) > 1:
            fits = all(i.size == 0 or (i.min() >= 0 and i.max() < n) for i, n in zip(indices, sizes))
    if not fits:
        for param, index, value, state in zip(params, indices, values, states):
            sparse_adagrad_update(param, dispatch.row_sparse(index, dispatch.wrap(value), param.shape), state,
                                  **hyper)
        return
    if not states[0]:  # all start now: their accumulators side by side in one array
        width = math.prod(params[0].shape[1:])
        storage = np.full(sum(sizes) * width, initial_accumulator_value, params[0].dtype)
        for state, param, begin in zip(states, params, np.cumsum([0] + sizes).tolist()):
            state["step"], state["sum"] = 0, storage[begin * width:begin * width + param.size].reshape(param.shape)
    step = states[0]["step"] + 1
    for state in states:
        state["step"] = step
    clr = float(lr) / (1 + (step - 1) * lr_decay)
    if rows is not None and any(r.__class__ is not np.ndarray or r.shape != v.shape or r.dtype != v.dtype
                                for r, v in zip(rows, values)):
        rows = by_id = None
    sums = weights = None
    if by_id is not None:
        sums = _Rows.by_id([state["sum"] for state in states], by_id[0])
        weights = _Rows.by_id(params, by_id[0])
    if sums is None or weights is None:
        flat = np.concatenate(indices) if flat.ndim > 1 else flat
        ends = np.cumsum(counts).tolist()
        spans = list(zip([0] + ends[:-1], ends))
        sums = _Rows([state["sum"] for state in states], indices, spans, counts, flat)
        weights = _Rows(params, indices, spans, counts, flat)
        grads, by_id = np.concatenate(values), None
    else:
        grads = np.empty((by_id[1].shape[0] * len(values),) + values[0].shape[1:], values[0].dtype)
        np.copyto(grads.reshape(by_id[1].shape), by_id[1])
    if sums.keys is not None:  # row numbers of one array: distinct across the parameters
        keys, num_keys = sums.keys, sums.blocks[0].shape[0]
    elif weights.keys is not None:
        keys, num_keys = weights.keys, weights.blocks[0].shape[0]
    else:
        keys, num_keys = flat + np.repeat(np.cumsum([0] + sizes[:-1]), counts), sum(sizes)
    sum_repeated_rows(keys, grads, num_keys)
    if maximize:
        np.negative(grads, out=grads)
    # sparse_adagrad_update's arithmetic, in its order, on all the rows at once
    square = np.multiply(grads, grads)
    std = sums.take(np.empty_like(grads))
    std += square
    sums.put(std)
    np.sqrt(std, out=std)
    std += float(eps)
    update = np.divide(grads, std, out=std)
    update *= -clr
    if rows is None:
        update += weights.take(square)
    else:
        update += by_id[2].reshape(update.shape) if by_id is not None else np.concatenate(rows, out=square)
    weights.put(update)


def _side_by_side(arrays: list):
    """The arrays as one read-only view with a new axis after their first, ``(n, len(arrays), ...)``, when they lie
    next to each other along it (each one's first row right after the previous one's: the columns of one (n,
    k) array, the slices of a concatenation along its last axis); else None."""
    first = arrays[0]
    if first.__class__ is not np.ndarray or first.ndim < 1:
        return None
    row_bytes = first.itemsize * math.prod(first.shape[1:])
    packed = tuple(first.itemsize * math.prod(first.shape[k + 1:]) for k in range(1, first.ndim))
    if first.strides[1:] != packed or (first.shape[0] > 1 and first.strides[0] < len(arrays) * row_bytes):
        return None  # a row of it is not one piece of memory, or the arrays' rows would overlap
    base = first if first.base is None else first.base
    start = first.__array_interface__["data"][0]
    for k, a in enumerate(arrays):
        if a.__class__ is not np.ndarray or a.shape != first.shape or a.strides != first.strides \
                or a.dtype != first.dtype or (a if a.base is None else a.base) is not base \
                or a.__array_interface__["data"][0] != start + k * row_bytes:
            return None
    return np.lib.stride_tricks.as_strided(first, first.shape[:1] + (len(arrays),) + first.shape[1:],
                                           first.strides[:1] + (row_bytes,) + first.strides[1:], writeable=False)


@update_rule(many=_sparse_adagrad_many, row_local=True)
def sparse_adagrad_update(param, grad: RowSparse, state: dict, *, lr: float, lr_decay: float = 0.0,
                          weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                          maximize: bool = False) -> None:
    """Adagrad on the touched rows (``torch.optim.Adagrad`` on a sparse gradient; weight decay is lazy)."""
    xp = array_module(param)
    if not state:
        state["step"] = 0
        state["sum"] = xp.full_like(param, initial_accumulator_value)
    step = state["step"] = state["step"] + 1
    index, values = _rows(grad, maximize)
    if weight_decay != 0:
        values = xp.add(values, _take(xp, param, index) * float(weight_decay))
    clr = float(lr) / (1 + (step - 1) * lr_decay)
    state_sum = state["sum"]
    # one pass over the merged rows: gather the accumulator, add g*g, write it back, then the rows' update
    square = xp.multiply(values, values)
    std = _take(xp, state_sum, index)
    std += square
    put_rows(xp, state_sum, index, std)
    if param.dtype.itemsize < 4:  # each of torch's ops rounded to the dtype, the scalars as its kernels round them
        update = xp.divide(values, _sqrt_add_narrow(xp, std, eps))
        put_rows(xp, param, index, _sparse_add_narrow(_take(xp, param, index), update, -clr))
        return
    xp.sqrt(std, out=std)
    std += float(eps)
    update = xp.divide(values, std, out=std)
    update *= -clr
    update += _take(xp, param, index)  # p + (-clr) * (g / std), torch's order
    put_rows(xp, param, index, update)


# --- FTRL ---

def _ftrl(xp, var, grad, accum, linear, *, lr, learning_rate_power, l1, l2, l2_shrinkage, beta):
    """TensorFlow's ApplyFtrlV2 on arrays of equal shape, in place on ``var``, ``accum`` and ``linear``."""
    lr = float(lr)
    if not lr > 0:  # (a schedule may bring it there after the optimizer checked its first value)
        raise ValueError(f"Ftrl: lr must be > 0, got {lr} (the update divides by it; a schedule ending at 0 "
                         f"would take the weights to 0, not hold them)")
    l2 = float(l2) + float(beta) / (2.0 * lr)
    power = -float(learning_rate_power)
    grad_shrunk = xp.add(grad, var * float(2 * l2_shrinkage)) if l2_shrinkage else grad
    sigma = xp.sqrt(accum) if power == 0.5 else xp.power(accum, power)
    square = xp.multiply(grad, grad)
    accum += square
    new_power = xp.sqrt(accum, out=square) if power == 0.5 else xp.power(accum, power, out=square)
    xp.subtract(new_power, sigma, out=sigma)  # sigma = (n_new^p - n^p) / lr, as TF orders it
    sigma /= lr
    sigma *= var
    linear += xp.subtract(grad_shrunk, sigma, out=sigma)
    quadratic = new_power
    quadratic /= lr
    quadratic += float(2 * l2)
    shrunk = xp.sign(linear, out=sigma)
    shrunk *= float(l1)
    shrunk -= linear
    shrunk /= quadratic
    keep = xp.abs(linear, out=quadratic) > float(l1)
    var[...] = 0
    xp.copyto(var, shrunk, where=keep)


@update_rule(elementwise=True)
@_scalar_safe
def ftrl_update(param, grad, state: dict, *, lr: float, learning_rate_power: float = -0.5,
                initial_accumulator_value: float = 0.1, l1: float = 0.0, l2: float = 0.0,
                l2_shrinkage: float = 0.0, beta: float = 0.0) -> None:
    """FTRL-Proximal (McMahan et al. 2013), as TensorFlow's ``Ftrl`` optimizer computes it.

    State: ``accumulator`` (sum of squared gradients, starting at initial_accumulator_value) and
    ``linear``. ``beta`` adds ``beta / (2 lr)`` to l2, as in TensorFlow.
    """
    xp = array_module(param)
    if not state:
        state["accumulator"] = xp.full_like(param, initial_accumulator_value)
        state["linear"] = xp.zeros_like(param)
    _ftrl(xp, param, grad, state["accumulator"], state["linear"], lr=lr, learning_rate_power=learning_rate_power,
          l1=l1, l2=l2, l2_shrinkage=l2_shrinkage, beta=beta)


@update_rule(row_local=True)
def sparse_ftrl_update(param, grad: RowSparse, state: dict, *, lr: float, learning_rate_power: float = -0.5,
                       initial_accumulator_value: float = 0.1, l1: float = 0.0, l2: float = 0.0,
                       l2_shrinkage: float = 0.0, beta: float = 0.0) -> None:
    """FTRL on the touched rows only (TensorFlow's ``SparseApplyFtrlV2``)."""
    xp = array_module(param)
    if not state:
        state["accumulator"] = xp.full_like(param, initial_accumulator_value)
        state["linear"] = xp.zeros_like(param)
    index, values = _rows(grad, False)
    var, accum, linear = (_take(xp, a, index) for a in (param, state["accumulator"], state["linear"]))
    _ftrl(xp, var, values, accum, linear, lr=lr, learning_rate_power=learning_rate_power, l1=l1, l2=l2,
          l2_shrinkage=l2_shrinkage, beta=beta)
    put_rows(xp, param, index, var)
    put_rows(xp, state["accumulator"], index, accum)
    put_rows(xp, state["linear"], index, linear)


# --- row-wise Adagrad ---

def _row_mean_square(xp, values):
    """Mean of squares over every axis but the first (one number a row)."""
    square = values * values
    return square.mean(axis=tuple(range(1, square.ndim))) if square.ndim > 1 else square


def _rowwise_step(xp, rows, values, total, lr: float, eps: float):
    """The new rows: ``rows - lr * values / (sqrt(total) + eps)``, ``total`` one number a row."""
    std = xp.sqrt(total)
    std += float(eps)
    scale = (-float(lr)) / std
    return rows + values * scale.reshape(scale.shape + (1,) * (values.ndim - 1))


def rowwise_adagrad_update(param, grad, state: dict, *, lr: float, weight_decay: float = 0.0,
                           initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                           maximize: bool = False) -> None:
    """Row-wise Adagrad (FBGEMM's ``rowwise_adagrad``): per row, ``sum += mean(g**2)``, then
    ``w -= lr * g / (sqrt(sum) + eps)``. State: ``step``, ``sum`` (one value per row, shape (rows,))."""
    xp = array_module(param)
    if not state:
        state["step"] = 0
        state["sum"] = xp.full(param.shape[:1], initial_accumulator_value, param.dtype)
    state["step"] += 1
    if param.ndim == 0:
        raise ValueError("rowwise_adagrad_update: the parameter needs a row axis, got a 0-d one")
    if maximize:
        grad = xp.negative(grad)
    if weight_decay != 0:
        grad = xp.add(grad, param * float(weight_decay))
    state["sum"] += _row_mean_square(xp, grad)
    param[...] = _rowwise_step(xp, param, grad, state["sum"], lr, eps)


@update_rule(row_local=True)
def sparse_rowwise_adagrad_update(param, grad: RowSparse, state: dict, *, lr: float, weight_decay: float = 0.0,
                                  initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                                  maximize: bool = False) -> None:
    """Row-wise Adagrad on the touched rows only (weight decay is lazy)."""
    xp = array_module(param)
    if not state:
        state["step"] = 0
        state["sum"] = xp.full(param.shape[:1], initial_accumulator_value, param.dtype)
    state["step"] += 1
    index, values = _rows(grad, maximize)
    rows = _take(xp, param, index)
    if weight_decay != 0:
        values = xp.add(values, rows * float(weight_decay))
    total = _take(xp, state["sum"], index) + _row_mean_square(xp, values)
    state["sum"][index] = total
    put_rows(xp, param, index, _rowwise_step(xp, rows, values, total, lr, eps))

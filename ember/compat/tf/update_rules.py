"""TF-1's own optimizer updates where they differ from PyTorch's: Adam with epsilon added to the raw
``sqrt(v)`` (the bias corrections folded into the step size), the proximal rules (``ApplyProximal*``), the
decoupled weight decay of TF-1 contrib's AdamW and MomentumW, and ``on_rows``, which makes a rule's row-sparse
form (TF-1's ``SparseApply*``).

Each is a pure function ``rule(param, grad, state, **hyper)`` that updates ``param`` in place, as the rules of
``ember.optim.functional``; a hyper-parameter may be a 0-d array (a tf Tensor's value in the step)."""

from __future__ import annotations

import functools

import numpy as np

from ember.backend.devices import array_module
from ember.backend.rows import put_rows
from ember.ops.effects import update_rule
from ember.sparse import unique_rows


@update_rule()
def tf_adam_update(param, grad, state: dict, *, lr: float, beta1: float, beta2: float, eps: float) -> None:
    """TF-1's Adam (``ApplyAdam``): m and v as PyTorch's, but epsilon is added to ``sqrt(v)``, not to the
    bias-corrected ``sqrt(v / (1 - beta2^t))``, so early steps differ. The bias corrections read TF's
    ``beta1_power`` and ``beta2_power``: float32 0-d arrays (TF-1 makes them from Python numbers) that start at
    beta1 and beta2 and are multiplied by them after each step, in place (a Session's ``beta1_power`` variable
    reads them); each step casts them to the parameter's dtype, as TF's ``_apply_dense``. (Kept in bfloat16,
    0.999 is 1.0 and every step was zero.)

    lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power);  var -= lr_t * m / (sqrt(v) + eps)

    (Not ``elementwise``: a part of the parameter would advance the shared powers once more.)
    """
    xp = array_module(param)
    kind = param.dtype.type
    if not state:
        state["m"] = xp.zeros_like(param)
        state["v"] = xp.zeros_like(param)
        state["beta1_power"] = xp.asarray(beta1, dtype=np.float32).copy()
        state["beta2_power"] = xp.asarray(beta2, dtype=np.float32).copy()
    m, v, beta1_power, beta2_power = state["m"], state["v"], state["beta1_power"], state["beta2_power"]
    m *= kind(beta1)
    m += kind(1.0 - beta1) * grad
    v *= kind(beta2)
    v += kind(1.0 - beta2) * grad * grad
    lr_t = kind(lr) * xp.sqrt(kind(1) - beta2_power.astype(kind)) / (kind(1) - beta1_power.astype(kind))
    param -= lr_t * m / (xp.sqrt(v) + kind(eps))
    beta1_power *= beta1_power.dtype.type(beta1)
    beta2_power *= beta2_power.dtype.type(beta2)


@functools.cache
def decoupled_weight_decay(rule, sparse: bool = False):
    """``rule`` after TF-1 contrib's decoupled weight decay ``var -= weight_decay * var`` (not scaled by the
    learning rate; ``DecoupledWeightDecayExtension``): the step then reads the gradient taken before the decay.
    For a row-sparse ``rule`` (``sparse``) only the rows the gradient names decay, each once however often it
    names them, as TF's ``_decay_weights_sparse_op`` after ``apply_gradients`` merged the repeats."""

    @update_rule(row_local=sparse and getattr(rule, "row_local", False),
                 elementwise=not sparse and getattr(rule, "elementwise", False))
    def decayed(param, grad, state: dict, *, weight_decay: float, **hyper) -> None:
        kind = param.dtype.type
        if sparse:
            rows = array_module(param).unique(grad.indices.reshape(-1))
            param[rows] -= kind(weight_decay) * param[rows]
        else:
            param -= kind(weight_decay) * param
        rule(param, grad, state, **hyper)

    decayed.__name__ = decayed.__qualname__ = f"decoupled_weight_decay({rule.__name__})"
    return decayed


@functools.cache
def without_weight_decay(rule):
    """``rule`` taking the ``weight_decay`` of a decoupled optimizer and leaving it unused: its step of a
    variable left out of ``decay_var_list``."""

    @update_rule(row_local=getattr(rule, "row_local", False), elementwise=getattr(rule, "elementwise", False))
    def spared(param, grad, state: dict, *, weight_decay: float, **hyper) -> None:
        rule(param, grad, state, **hyper)

    spared.__name__ = spared.__qualname__ = f"without_weight_decay({rule.__name__})"
    return spared


@functools.cache
def on_dense(rule):
    """The row-sparse form of a dense ``rule`` whose TF-1 ``SparseApply*`` equals it on the summed gradient
    (SGD, Adagrad, Adam): ``rule`` on the gradient made dense. (For the decoupled weight decay, which decays
    only the rows a row-sparse gradient names.)"""

    @update_rule()
    def sparse_rule(param, grad, state: dict, **hyper) -> None:
        rule(param, grad.to_dense().array, state, **hyper)

    sparse_rule.__name__ = sparse_rule.__qualname__ = f"on_dense({rule.__name__})"
    return sparse_rule


def _proximal(xp, kind, prox, step, l1: float, l2: float):
    """The proximal step of TF's ``ApplyProximal*``: soft-threshold ``prox`` by ``step * l1`` (when l1 > 0),
    then shrink it by ``1 + step * l2``."""
    if l1 > 0:
        prox = xp.sign(prox) * xp.maximum(xp.abs(prox) - step * kind(l1), kind(0))
    return prox / (kind(1) + step * kind(l2))


@update_rule(elementwise=True)
def proximal_gradient_descent_update(param, grad, state: dict, *, lr: float, l1: float, l2: float) -> None:
    """TF-1's ``ApplyProximalGradientDescent``: a gradient step, then the proximal step of the L1 and L2
    penalties, ``var = sign(v) * max(|v| - lr * l1, 0) / (1 + lr * l2)`` with ``v = var - lr * grad``."""
    xp = array_module(param)
    kind = param.dtype.type
    step = kind(lr)
    param[...] = _proximal(xp, kind, param - step * grad, step, l1, l2)


@update_rule(elementwise=True)
def proximal_adagrad_update(param, grad, state: dict, *, lr: float, initial_accumulator_value: float, l1: float,
                            l2: float) -> None:
    """TF-1's ``ApplyProximalAdagrad``: ``accum += grad^2``, a step of ``lr / sqrt(accum)``, then the proximal
    step of the L1 and L2 penalties with that step size."""
    xp = array_module(param)
    kind = param.dtype.type
    if not state:
        state["accum"] = xp.full_like(param, initial_accumulator_value)
    accum = state["accum"]
    accum += grad * grad
    step = kind(lr) / xp.sqrt(accum)
    param[...] = _proximal(xp, kind, param - step * grad, step, l1, l2)


def on_rows(rule):
    """The row-sparse form of the elementwise dense ``rule``, as TF-1's ``SparseApply*`` kernels apply a gradient
    of ``tf.nn.embedding_lookup`` (an ``IndexedSlices``): repeated rows' gradients summed, then ``rule`` on the
    rows the gradient names, their slots alike; the other rows and their slots stay as they are (where the dense
    rule, on zero gradient rows, decays their slots and moves them by their momentum, and FTRL recomputes them)."""

    @update_rule(row_local=True)
    def sparse_rule(param, grad, state: dict, **hyper) -> None:
        xp = array_module(param)
        if grad.indices.__class__ is np.ndarray and grad.values.array.__class__ is np.ndarray:
            index, values = unique_rows(grad.indices.reshape(-1), grad.values.array, grad.shape[0])
        else:
            grad = grad.coalesce()
            index, values = grad.indices, grad.values.array
        sliced = [key for key, slot in state.items() if getattr(slot, "shape", None) == param.shape]
        part = {**state, **{key: xp.take(state[key], index, axis=0) for key in sliced}}
        rows = xp.take(param, index, axis=0)
        rule(rows, values, part, **hyper)
        if any(key not in state for key in part):  # (a Session fills the state from the slot variables)
            raise ValueError(f"{rule.__name__}: the optimizer's slots of a {list(param.shape)} variable are not "
                             "initialized; run tf.global_variables_initializer()")
        put_rows(xp, param, index, rows)
        for key, value in part.items():
            if key in sliced:
                put_rows(xp, state[key], index, value)
            else:  # scalar state (a step count)
                state[key] = value

    sparse_rule.__name__ = sparse_rule.__qualname__ = f"sparse_{rule.__name__}"
    return sparse_rule

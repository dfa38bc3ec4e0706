"""TF-1's learning-rate schedules (``tf.train.exponential_decay`` and the rest): each a scalar tensor computed
from the global step when a Session runs it, to give an optimizer as its learning rate.

>>> step = tf.train.get_or_create_global_step()
>>> lr = tf.train.exponential_decay(0.1, step, decay_steps=1000, decay_rate=0.5, staircase=True)
>>> train = tf.train.GradientDescentOptimizer(lr).minimize(loss, global_step=step)
"""

from __future__ import annotations

import math

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, float32, op

__all__ = [
    "cosine_decay", "cosine_decay_restarts", "exponential_decay", "inverse_time_decay", "natural_exp_decay",
    "piecewise_constant", "polynomial_decay",
]


def _step(global_step, what: str) -> Tensor:
    if global_step is None:
        raise ValueError(f"tf.train.{what}: global_step is required")
    return as_tf(global_step)


def _lr_dtype(learning_rate) -> np.dtype:
    return learning_rate.dtype if isinstance(learning_rate, Tensor) and learning_rate.dtype.kind == "f" else float32


def _schedule(what: str, learning_rate, global_step, formula, name, **params) -> Tensor:
    """``formula(lr, step as a float, params)`` as a tensor of the learning rate's float dtype; each of ``params``
    (``decay_steps``...) a float, or a tensor's value in that dtype (TF-1 takes tensors for them too)."""
    dtype = _lr_dtype(learning_rate)
    tensors = {key: value for key, value in params.items() if isinstance(value, Tensor)}
    numbers = {key: float(value) for key, value in params.items() if key not in tensors}

    def fn(lr, step, *values):
        given = {**numbers, **{key: ember.cast(v, dtype) for key, v in zip(tensors, values)}}
        return formula(ember.cast(lr, dtype), ember.cast(step, dtype), given)

    return op(fn, (as_tf(learning_rate), _step(global_step, what), *tensors.values()), name=name or what)


def _progress(step, decay_steps, staircase: bool):
    p = step / decay_steps
    return ember.floor(p) if staircase else p


def _check_steps(what: str, decay_steps) -> None:
    if not isinstance(decay_steps, Tensor) and (not decay_steps or decay_steps <= 0):
        raise ValueError(f"tf.train.{what}: decay_steps must be positive, got {decay_steps}")


def exponential_decay(learning_rate, global_step, decay_steps, decay_rate, staircase: bool = False,
                      name: str | None = None) -> Tensor:
    """``learning_rate * decay_rate ** (global_step / decay_steps)`` (the exponent floored with ``staircase``)."""
    _check_steps("exponential_decay", decay_steps)
    return _schedule("exponential_decay", learning_rate, global_step,
                     lambda lr, s, p: lr * ember.power(p["rate"], _progress(s, p["steps"], staircase)), name,
                     steps=decay_steps, rate=decay_rate)


def natural_exp_decay(learning_rate, global_step, decay_steps, decay_rate, staircase: bool = False,
                      name: str | None = None) -> Tensor:
    """``learning_rate * exp(-decay_rate * global_step / decay_steps)``."""
    _check_steps("natural_exp_decay", decay_steps)
    return _schedule("natural_exp_decay", learning_rate, global_step,
                     lambda lr, s, p: lr * ember.exp(-p["rate"] * _progress(s, p["steps"], staircase)), name,
                     steps=decay_steps, rate=decay_rate)


def inverse_time_decay(learning_rate, global_step, decay_steps, decay_rate, staircase: bool = False,
                       name: str | None = None) -> Tensor:
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)``."""
    _check_steps("inverse_time_decay", decay_steps)
    return _schedule("inverse_time_decay", learning_rate, global_step,
                     lambda lr, s, p: lr / (1.0 + p["rate"] * _progress(s, p["steps"], staircase)), name,
                     steps=decay_steps, rate=decay_rate)


def polynomial_decay(learning_rate, global_step, decay_steps, end_learning_rate=0.0001, power=1.0,
                     cycle: bool = False, name: str | None = None) -> Tensor:
    """From ``learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along ``(1 - t) ** power``, then
    constant; with ``cycle`` the decay restarts every time the steps pass a multiple of ``decay_steps``."""
    _check_steps("polynomial_decay", decay_steps)

    def formula(lr, s, p):
        steps, end = p["steps"], p["end"]
        if cycle:  # the period grows to the next multiple of decay_steps (at least one)
            period = steps * ember.maximum(ember.ceil(s / steps), 1.0)
        else:
            s, period = ember.minimum(s, steps), steps
        return (lr - end) * ember.power(1.0 - s / period, p["power"]) + end

    return _schedule("polynomial_decay", learning_rate, global_step, formula, name, steps=decay_steps,
                     end=end_learning_rate, power=power)


def cosine_decay(learning_rate, global_step, decay_steps, alpha: float = 0.0, name: str | None = None) -> Tensor:
    """Half a cosine from ``learning_rate`` down to ``alpha * learning_rate`` over ``decay_steps``, then constant."""
    _check_steps("cosine_decay", decay_steps)

    def formula(lr, s, p):
        steps, alpha = p["steps"], p["alpha"]
        s = ember.minimum(s, steps)
        cosine = 0.5 * (1.0 + ember.cos(math.pi * s / steps))
        return lr * ((1.0 - alpha) * cosine + alpha)

    return _schedule("cosine_decay", learning_rate, global_step, formula, name, steps=decay_steps, alpha=alpha)


def cosine_decay_restarts(learning_rate, global_step, first_decay_steps, t_mul: float = 2.0, m_mul: float = 1.0,
                          alpha: float = 0.0, name: str | None = None) -> Tensor:
    """Cosine decay with warm restarts (SGDR): the i-th period lasts ``first_decay_steps * t_mul ** i`` steps and
    starts from ``learning_rate * m_mul ** i``."""
    _check_steps("cosine_decay_restarts", first_decay_steps)

    def formula(lr, s, p):
        done = s / p["steps"]
        if t_mul == 1.0:
            i = ember.floor(done)
            frac = done - i
        else:
            i = ember.floor(ember.log(1.0 - done * (1.0 - t_mul)) / math.log(t_mul))
            passed = (1.0 - ember.power(float(t_mul), i)) / (1.0 - t_mul)
            frac = (done - passed) / ember.power(float(t_mul), i)
        peak = ember.power(float(m_mul), i)
        cosine = 0.5 * peak * (1.0 + ember.cos(math.pi * frac))
        return lr * ((1.0 - alpha) * cosine + alpha)

    return _schedule("cosine_decay_restarts", learning_rate, global_step, formula, name, steps=first_decay_steps)


def piecewise_constant(x, boundaries, values, name: str | None = None) -> Tensor:
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < x <= boundaries[i]``,
    ``values[-1]`` after the last boundary. As TF-1, the values (numbers or tensors) must share one dtype, which
    the result has (Python ints int32, floats float32), and the boundaries must have ``x``'s (int32 ones are
    widened for an int64 ``x``)."""
    x, boundaries, values = as_tf(x), [as_tf(b) for b in boundaries], [as_tf(v) for v in values]
    if len(values) != len(boundaries) + 1:
        raise ValueError(f"tf.train.piecewise_constant: {len(values)} values for {len(boundaries)} boundaries; "
                         "give one value more than boundaries")
    for b in boundaries:
        if b.dtype != x.dtype and not (b.dtype == np.int32 and x.dtype == np.int64):
            raise ValueError(f"tf.train.piecewise_constant: boundary '{b.name}' has dtype {b.dtype}, x '{x.name}' "
                             f"{x.dtype}; give the boundaries x's dtype")
    for v in values[1:]:
        if v.dtype != values[0].dtype:
            raise ValueError(f"tf.train.piecewise_constant: the values must share one dtype, got {values[0].dtype} "
                             f"('{values[0].name}') and {v.dtype} ('{v.name}')")

    def fn(step, *args):
        bounds, picks = args[:len(boundaries)], args[len(boundaries):]
        out = picks[-1]
        for bound, value in reversed(list(zip(bounds, picks))):
            out = ember.where(ember.le(step, ember.cast(bound, step.dtype)), value, out)
        return out

    return op(fn, (x, *boundaries, *values), name=name or "piecewise_constant")

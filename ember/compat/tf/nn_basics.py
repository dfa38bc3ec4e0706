"""The ``tf.nn`` activations and ``dropout`` that the RNN cells use too (``tf.nn`` re-exports them)."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, op
from ember.compat.tf.array_ops import FUNCTIONS
from ember.compat.tf.array_ops import random_uniform as _random_uniform
from ember.compat.tf.array_ops import shape as _shape

__all__ = ["activation_op", "dropout", "elu", "relu", "relu6", "selu", "sigmoid", "softplus", "tanh"]

sigmoid = FUNCTIONS["sigmoid"]
tanh = FUNCTIONS["tanh"]


def activation_op(tf_name: str, fn, op_name: str):
    """``tf.nn.<tf_name>``; its op is named ``op_name`` by default (TF-1's op type: ``Relu``...)."""

    def activation(features, name: str | None = None) -> Tensor:
        return op(fn, (as_tf(features),), name=name or op_name)

    activation.__name__ = tf_name
    activation.__doc__ = f"``tf.nn.{tf_name}``, elementwise."
    return activation


relu = activation_op("relu", ember.relu, "Relu")
relu6 = activation_op("relu6", ember.relu6, "Relu6")
elu = activation_op("elu", ember.elu, "Elu")
softplus = activation_op("softplus", ember.softplus, "Softplus")
# TF's kernel: its gradient at 0 is the scale (x < 0 picks the exponential), where PyTorch's is scale * alpha
selu = activation_op("selu", lambda x: ember.where(ember.lt(x, 0),
                                                   1.7580993408473766 * ember.expm1(ember.minimum(x, 0)),
                                                   1.0507009873554805 * x), "Selu")


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name: str | None = None, rate=None) -> Tensor:
    """Keep each element with probability ``keep_prob`` (a number or a fed tf Tensor) and scale it by
    1 / keep_prob, as TF-1 (``rate`` is 1 - keep_prob; give one of the two). ``noise_shape`` (ints, None for x's
    size) is the shape of the keep/drop flags, broadcast over x: a 1 keeps or drops a whole axis together. The
    flags are a ``tf.random_uniform`` of ``seed``: with a graph or op seed, each Session repeats them."""
    if isinstance(noise_shape, Tensor):
        raise NotImplementedError("tf.nn.dropout: noise_shape must be a list of ints (or None), not a tf Tensor")
    noise = None if noise_shape is None else [None if n is None else int(n) for n in noise_shape]
    if keep_prob is None and rate is None:
        raise ValueError("tf.nn.dropout: give keep_prob (or rate)")
    if keep_prob is not None and rate is not None:
        raise ValueError("tf.nn.dropout: give keep_prob or rate, not both")
    x = as_tf(x)
    if x.dtype is not None and x.dtype.kind not in "fV":
        raise ValueError(f"tf.nn.dropout: x must be a floating point tensor since it is scaled, got '{x.name}' of "
                         f"dtype {x.dtype}")
    given = rate if keep_prob is None else keep_prob
    if isinstance(given, Tensor) and given.dtype is not None and x.dtype is not None and given.dtype != x.dtype:
        # TF converts the rate to x's dtype, which refuses a tensor of another one (a float32 rate would
        # otherwise turn float16 values into float32)
        raise ValueError(f"tf.nn.dropout: the keep probability (or rate) '{given.name}' has dtype "
                         f"{given.dtype.name}, but x '{x.name}' has dtype {x.dtype.name}; feed it in x's dtype")
    if keep_prob is None:
        keep_prob = 1.0 - rate
    if not isinstance(keep_prob, Tensor):
        if not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"tf.nn.dropout: keep_prob must be in (0, 1], got {keep_prob}")
        if keep_prob == 1.0:
            return FUNCTIONS["identity"](x)

    def fn(a, keep, uniform):
        if noise is not None:
            _noise_size(tuple(a.shape), noise)
        mask = ember.cast(ember.ge(uniform, 1.0 - keep), a.dtype)
        return a / keep * mask

    if noise is not None and x.shape is not None:
        _noise_size(tuple(x.shape), noise)
    dims = _shape(x)
    size = dims if noise is None else [dims[i] if n is None else n for i, n in enumerate(noise)]
    drawn = x.dtype if x.dtype is not None and x.dtype.kind == "f" else np.dtype(np.float32)
    uniform = _random_uniform(size, dtype=drawn, seed=seed, name="dropout/random_uniform")
    return op(fn, (x, as_tf(keep_prob), uniform), name=name or "dropout", like=x)


def _noise_size(shape: tuple, noise: list) -> tuple:
    """``noise`` with its Nones filled from ``shape``, checked to broadcast to it (each size 1 or x's)."""
    filled = tuple(s if n is None else n for n, s in zip(noise, shape)) if len(noise) == len(shape) else tuple(noise)
    if (None in filled and None not in shape) or len(filled) > len(shape) or any(
            n not in (1, None) and s is not None and n != s for n, s in zip(filled[::-1], shape[::-1])):
        raise ValueError(f"tf.nn.dropout: noise_shape {noise} must broadcast to x's shape {list(shape)} (each size 1 "
                         f"or x's)")
    return filled

"""``tf.contrib.layers``: TF-1's slim-style layers (``fully_connected``, ``conv2d``, ``batch_norm``...).

Each layer opens a variable scope (``scope`` or its default name made unique: ``fully_connected``,
``fully_connected_1``...) holding ``weights`` and ``biases`` (or ``beta``, ``gamma``, ``moving_mean``...), which
are model variables (``tf.GraphKeys.MODEL_VARIABLES``) as well as global ones; ``activation_fn`` defaults to
``tf.nn.relu`` for the dense and convolution layers, and a ``normalizer_fn`` takes the place of the biases.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

import ember
from ember.backend.dtypes import FLOATING
from ember.compat.tf import layers as _layers
from ember.compat.tf import nn
from ember.compat.tf._core import Tensor, add_to_collection, as_tf, as_tf_dtype, float32, op, variable_scope
from ember.compat.tf.array_ops import random_uniform, truncated_normal
from ember.compat.tf.contrib.framework import add_arg_scope
from ember.compat.tf.embedding_ops import embedding_lookup
from ember.compat.tf.regularizers import (
    apply_regularization,
    l1_l2_regularizer,
    l1_regularizer,
    l2_regularizer,
    sum_regularizer,
)
from ember.compat.tf.variables import (
    GLOBAL_VARIABLES,
    get_variable,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    ones_initializer,
    zeros_initializer,
)

__all__ = [
    "apply_regularization", "avg_pool2d", "batch_norm", "conv2d", "conv2d_transpose", "convolution2d",
    "convolution2d_transpose", "dropout", "embed_sequence", "flatten", "fully_connected", "l1_l2_regularizer",
    "l1_regularizer", "l2_regularizer", "layer_norm", "linear", "max_pool2d", "sum_regularizer",
    "variance_scaling_initializer", "xavier_initializer", "xavier_initializer_conv2d",
]

MODEL_VARIABLES = "model_variables"  # tf.GraphKeys'
UPDATE_OPS = "update_ops"


def xavier_initializer(uniform: bool = True, seed=None, dtype=float32):
    """Glorot's initializer: uniform in +-sqrt(6 / (fan_in + fan_out)), or a truncated normal of that variance."""
    return glorot_uniform_initializer(seed) if uniform else glorot_normal_initializer(seed)


xavier_initializer_conv2d = xavier_initializer


def variance_scaling_initializer(factor: float = 2.0, mode: str = "FAN_IN", uniform: bool = False, seed=None,
                                 dtype=float32):
    """He's initializer (the defaults), as TF-1's contrib one: ``n`` the fan in, the fan out or their mean, then
    uniform in +-sqrt(3 factor / n) or a normal of stddev sqrt(1.3 factor / n) truncated at two stddevs (whose
    stddev is then about sqrt(factor / n))."""
    if as_tf_dtype(dtype) not in FLOATING:
        raise TypeError(f"variance_scaling_initializer: dtype must be a floating point type, got {dtype}")
    if mode not in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
        raise TypeError(f"variance_scaling_initializer: mode must be 'FAN_IN', 'FAN_OUT' or 'FAN_AVG', got {mode!r}")
    factor = float(factor)

    def init(shape, dtype=dtype, partition_info=None):
        shape = [int(d) for d in shape]
        fan_in = float(shape[-2] if len(shape) > 1 else shape[-1]) if shape else 1.0
        fan_out = float(shape[-1]) if shape else 1.0
        receptive = float(np.prod(shape[:-2])) if len(shape) > 2 else 1.0
        fan_in, fan_out = fan_in * receptive, fan_out * receptive
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[mode]
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return random_uniform(shape, -limit, limit, dtype, seed=seed)
        return truncated_normal(shape, 0.0, math.sqrt(1.3 * factor / n), dtype, seed=seed)

    return init


def _collections(variables_collections, name: str) -> list:
    """The collections of the variable ``name``: global and model ones, plus ``variables_collections`` (a list
    for every variable of the layer, or a dict of lists by variable name)."""
    extra = variables_collections.get(name) if isinstance(variables_collections, dict) else variables_collections
    if isinstance(extra, str):
        extra = [extra]
    return [GLOBAL_VARIABLES, MODEL_VARIABLES] + [c for c in (extra or []) if c not in (GLOBAL_VARIABLES,
                                                                                         MODEL_VARIABLES)]


def _variable(name: str, shape, dtype, initializer, regularizer, trainable: bool, variables_collections):
    return get_variable(name, shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                        trainable=trainable, collections=_collections(variables_collections, name))


def _scope(layer: str, scope, default: str, reuse):
    if reuse is True and scope is None:
        raise ValueError(f"tf.contrib.layers.{layer}: reuse=True needs a scope (the variables' scope to share)")
    return variable_scope(scope, default_name=default, reuse=reuse)


def _collect(outputs_collections, alias: str, out: Tensor) -> Tensor:
    if outputs_collections:
        out.alias = alias
        for name in [outputs_collections] if isinstance(outputs_collections, str) else outputs_collections:
            add_to_collection(name, out)
    return out


def _known_inputs(layer: str, inputs, ranks: tuple) -> Tensor:
    inputs = as_tf(inputs)
    if inputs.shape is None or len(inputs.shape) not in ranks:
        raise ValueError(f"tf.contrib.layers.{layer}: the inputs must have rank {' or '.join(map(str, ranks))}, "
                         f"got shape {None if inputs.shape is None else list(inputs.shape)}")
    return inputs


def _biases_and_activation(layer: str, out: Tensor, num_outputs: int, data_format: str, activation_fn, normalizer_fn,
                           normalizer_params, biases_initializer, biases_regularizer, trainable: bool,
                           variables_collections) -> Tensor:
    """``out`` normalized by ``normalizer_fn`` or plus ``biases`` (none when ``biases_initializer`` is None),
    then ``activation_fn``."""
    if normalizer_fn is not None:
        out = normalizer_fn(out, **(normalizer_params or {}))
    elif biases_initializer is not None:
        biases = _variable("biases", [num_outputs], out.dtype, biases_initializer, biases_regularizer, trainable,
                           variables_collections)
        out = nn.bias_add(out, biases, data_format=data_format)
    return activation_fn(out) if activation_fn is not None else out


def _positive(layer: str, arg: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"tf.contrib.layers.{layer}: {arg} must be a positive integer, got {value!r}")
    return int(value)


def fully_connected(inputs, num_outputs: int, activation_fn=nn.relu, normalizer_fn=None, normalizer_params=None,
                    weights_initializer=None, weights_regularizer=None, biases_initializer=zeros_initializer(),
                    biases_regularizer=None, reuse=None, variables_collections=None, outputs_collections=None,
                    trainable: bool = True, scope=None) -> Tensor:
    """``activation_fn(inputs @ weights + biases)`` over the last axis (weights_initializer default: xavier)."""
    inputs = as_tf(inputs)
    if inputs.shape is None or len(inputs.shape) < 2 or inputs.shape[-1] is None:
        raise ValueError("tf.contrib.layers.fully_connected: the inputs need a rank of 2 or more and a known last "
                         f"dimension, got shape {None if inputs.shape is None else list(inputs.shape)}")
    num_outputs = _positive("fully_connected", "num_outputs", num_outputs)
    with _scope("fully_connected", scope, "fully_connected", reuse) as sc:
        weights = _variable("weights", [int(inputs.shape[-1]), num_outputs], inputs.dtype,
                            weights_initializer or xavier_initializer(), weights_regularizer, trainable,
                            variables_collections)
        out = op(ember.matmul, (inputs, weights), name="MatMul" if len(inputs.shape) == 2 else "Tensordot")
        out = _biases_and_activation("fully_connected", out, num_outputs, "NHWC", activation_fn, normalizer_fn,
                                     normalizer_params, biases_initializer, biases_regularizer, trainable,
                                     variables_collections)
        return _collect(outputs_collections, sc.name, out)


def linear(inputs, num_outputs: int, scope=None, **kwargs) -> Tensor:
    """``fully_connected`` with no activation."""
    return fully_connected(inputs, num_outputs, activation_fn=None, scope=scope, **kwargs)


def _format(layer: str, data_format) -> str:
    if data_format is None:
        return "NHWC"
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"tf.contrib.layers.{layer}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return data_format


def _padding(layer: str, padding) -> str:
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"tf.contrib.layers.{layer}: padding must be 'SAME' or 'VALID', got {padding!r}")
    return padding.upper()


def conv2d(inputs, num_outputs: int, kernel_size, stride=1, padding: str = "SAME", data_format=None, rate=1,
           activation_fn=nn.relu, normalizer_fn=None, normalizer_params=None, weights_initializer=None,
           weights_regularizer=None, biases_initializer=zeros_initializer(), biases_regularizer=None, reuse=None,
           variables_collections=None, outputs_collections=None, trainable: bool = True, scope=None) -> Tensor:
    """2-D convolution with (kh, kw, in, num_outputs) ``weights``, 'SAME' padding by default; ``rate`` dilates it
    (a rate above 1 with a stride above 1 is refused, as TF-1 does)."""
    inputs = _known_inputs("conv2d", inputs, (4,))
    fmt = _format("conv2d", data_format)
    channels = inputs.shape[-1 if fmt == "NHWC" else 1]
    if channels is None:
        raise ValueError(f"tf.contrib.layers.conv2d: the channels must be known, got shape {list(inputs.shape)}")
    num_outputs = _positive("conv2d", "num_outputs", num_outputs)
    kh, kw = _layers._pair(kernel_size)
    strides, rates = _layers._pair(stride), _layers._pair(rate)
    if max(rates) > 1 and max(strides) > 1:
        raise ValueError(f"tf.contrib.layers.conv2d: only one of rate ({rate}) or stride ({stride}) can be above 1")
    with _scope("conv2d", scope, "Conv", reuse) as sc:
        weights = _variable("weights", [kh, kw, int(channels), num_outputs], inputs.dtype,
                            weights_initializer or xavier_initializer(), weights_regularizer, trainable,
                            variables_collections)
        out = nn.conv2d(inputs, weights, strides=strides, padding=_padding("conv2d", padding), data_format=fmt,
                        dilations=rates)
        out = _biases_and_activation("conv2d", out, num_outputs, fmt, activation_fn, normalizer_fn, normalizer_params,
                                     biases_initializer, biases_regularizer, trainable, variables_collections)
        return _collect(outputs_collections, sc.name, out)


convolution2d = conv2d


def conv2d_transpose(inputs, num_outputs: int, kernel_size, stride=1, padding: str = "SAME", data_format="NHWC",
                     activation_fn=nn.relu, normalizer_fn=None, normalizer_params=None, weights_initializer=None,
                     weights_regularizer=None, biases_initializer=zeros_initializer(), biases_regularizer=None,
                     reuse=None, variables_collections=None, outputs_collections=None, trainable: bool = True,
                     scope=None) -> Tensor:
    """Transposed 2-D convolution with (kh, kw, num_outputs, in) ``weights``: 'SAME' multiplies the height and
    width by the stride, 'VALID' gives ``size * stride + max(kernel - stride, 0)``."""
    inputs = _known_inputs("conv2d_transpose", inputs, (4,))
    fmt = _format("conv2d_transpose", data_format)
    hw = inputs.shape[1:3] if fmt == "NHWC" else inputs.shape[2:4]
    channels = inputs.shape[-1 if fmt == "NHWC" else 1]
    if None in hw or channels is None:
        raise ValueError("tf.contrib.layers.conv2d_transpose: the height, width and channels must be known, got "
                         f"shape {list(inputs.shape)}")
    num_outputs = _positive("conv2d_transpose", "num_outputs", num_outputs)
    kh, kw = _layers._pair(kernel_size)
    sh, sw = _layers._pair(stride)
    pad = _padding("conv2d_transpose", padding)
    oh, ow = (hw[0] * sh, hw[1] * sw) if pad == "SAME" else (hw[0] * sh + max(kh - sh, 0), hw[1] * sw + max(kw - sw, 0))
    with _scope("conv2d_transpose", scope, "Conv2d_transpose", reuse) as sc:
        weights = _variable("weights", [kh, kw, num_outputs, int(channels)], inputs.dtype,
                            weights_initializer or xavier_initializer(), weights_regularizer, trainable,
                            variables_collections)
        shape = [None, oh, ow, num_outputs] if fmt == "NHWC" else [None, num_outputs, oh, ow]
        out = nn.conv2d_transpose(inputs, weights, shape, strides=(sh, sw), padding=pad, data_format=fmt)
        out = _biases_and_activation("conv2d_transpose", out, num_outputs, fmt, activation_fn, normalizer_fn,
                                     normalizer_params, biases_initializer, biases_regularizer, trainable,
                                     variables_collections)
        return _collect(outputs_collections, sc.name, out)


convolution2d_transpose = conv2d_transpose


def _pool(layer: str, pool, inputs, kernel_size, stride, padding, data_format, outputs_collections, scope) -> Tensor:
    inputs = _known_inputs(layer, inputs, (4,))
    fmt = _format(layer, data_format)
    out = pool(inputs, _layers._pair(kernel_size), _layers._pair(stride), _padding(layer, padding), fmt,
               name=scope or ("MaxPool2D" if pool is nn.max_pool else "AvgPool2D"))
    return _collect(outputs_collections, scope or out.op.name, out)


def max_pool2d(inputs, kernel_size, stride=2, padding: str = "VALID", data_format: str = "NHWC",
               outputs_collections=None, scope=None) -> Tensor:
    """Max pooling over (kh, kw) windows, stride 2 and 'VALID' padding by default."""
    return _pool("max_pool2d", nn.max_pool, inputs, kernel_size, stride, padding, data_format, outputs_collections,
                 scope)


def avg_pool2d(inputs, kernel_size, stride=2, padding: str = "VALID", data_format: str = "NHWC",
               outputs_collections=None, scope=None) -> Tensor:
    """Average pooling over (kh, kw) windows, stride 2 and 'VALID' padding by default."""
    return _pool("avg_pool2d", nn.avg_pool, inputs, kernel_size, stride, padding, data_format, outputs_collections,
                 scope)


def dropout(inputs, keep_prob: float = 0.5, noise_shape=None, is_training=True, outputs_collections=None, scope=None,
            seed=None) -> Tensor:
    """Each element kept with probability ``keep_prob`` (and scaled by 1 / keep_prob) while ``is_training`` (a
    bool or a fed bool tensor); the inputs unchanged otherwise."""
    inputs = as_tf(inputs)
    if not isinstance(keep_prob, Tensor) and (isinstance(keep_prob, bool) or not isinstance(keep_prob, numbers.Real)
                                              or not 0.0 < keep_prob <= 1.0):
        raise ValueError(f"tf.contrib.layers.dropout: keep_prob must be a number in (0, 1] or a float tensor, got "
                         f"{keep_prob!r}")
    if not isinstance(is_training, Tensor) and not is_training:
        out = inputs
    else:
        out = nn.dropout(inputs, keep_prob=keep_prob, noise_shape=noise_shape, seed=seed)
        if isinstance(is_training, Tensor):
            out = op(lambda t, a, b: ember.where(t, a, b), (is_training, out, inputs), name=scope or "Dropout")
    return _collect(outputs_collections, scope or "Dropout", out)


def batch_norm(inputs, decay: float = 0.999, center: bool = True, scale: bool = False, epsilon: float = 0.001,
               activation_fn=None, param_initializers=None, param_regularizers=None, updates_collections=UPDATE_OPS,
               is_training=True, reuse=None, variables_collections=None, outputs_collections=None,
               trainable: bool = True, batch_weights=None, fused=None, data_format: str = "NHWC",
               zero_debias_moving_mean: bool = False, scope=None, renorm: bool = False, renorm_clipping=None,
               renorm_decay: float = 0.99, adjustment=None) -> Tensor:
    """Batch normalization over every axis but the channels' (the last, or axis 1 with 'NCHW'); ``scale`` is
    False by default (no ``gamma``). While ``is_training`` (a bool or a fed bool tensor) it normalizes with the
    batch's statistics and puts the moving averages' updates into ``updates_collections`` (None: they run in
    place, before the output); otherwise it uses the moving averages. As TF-1's fused kernel (rank 2 or 4, unless
    ``fused=False``), the moving variance is updated with Bessel's correction and epsilon is at least 1.001e-5."""
    if batch_weights is not None or renorm or adjustment is not None or zero_debias_moving_mean:
        raise NotImplementedError("tf.contrib.layers.batch_norm: batch_weights, renorm, adjustment and "
                                  "zero_debias_moving_mean are not supported")
    inputs = as_tf(inputs)
    if inputs.shape is None or len(inputs.shape) < 2:
        raise ValueError("tf.contrib.layers.batch_norm: the inputs need a known rank of 2 or more, got shape "
                         f"{None if inputs.shape is None else list(inputs.shape)}")
    rank = len(inputs.shape)
    axis = 1 if _format("batch_norm", data_format) == "NCHW" and rank > 2 else rank - 1
    channels = inputs.shape[axis]
    if channels is None:
        raise ValueError(f"tf.contrib.layers.batch_norm: axis {axis} of the inputs must be known, got shape "
                         f"{list(inputs.shape)}")
    if not isinstance(is_training, Tensor) and not isinstance(is_training, (bool, np.bool_)):
        raise TypeError(f"tf.contrib.layers.batch_norm: is_training must be a bool or a bool tensor, got "
                        f"{is_training!r}")
    initializers, regularizers = dict(param_initializers or {}), dict(param_regularizers or {})
    unknown = set(initializers) - {"beta", "gamma", "moving_mean", "moving_variance"} | set(regularizers) - {
        "beta", "gamma"}
    if unknown:
        raise ValueError(f"tf.contrib.layers.batch_norm: unknown parameter names {sorted(unknown)} in "
                         "param_initializers / param_regularizers")
    collections = [updates_collections] if isinstance(updates_collections, str) else updates_collections
    bessel = fused is not False and rank in (2, 4)
    if bessel:  # the fused kernel's floor (cuDNN's)
        epsilon = max(float(epsilon), 1.001e-5)
    with _scope("batch_norm", scope, "BatchNorm", reuse) as sc:
        def param(name: str, default, trainable_param: bool):
            return _variable(name, [int(channels)], inputs.dtype, initializers.get(name, default),
                             regularizers.get(name), trainable_param, variables_collections)

        beta = param("beta", zeros_initializer(), trainable) if center else None
        gamma = param("gamma", ones_initializer(), trainable) if scale else None
        moving_mean = param("moving_mean", zeros_initializer(), False)
        moving_variance = param("moving_variance", ones_initializer(), False)
        out = _layers._batch_norm_ops(inputs, axis, float(decay), float(epsilon), gamma, beta, moving_mean,
                                      moving_variance, is_training, bessel, "BatchNorm", collections)
        if activation_fn is not None:
            out = activation_fn(out)
        return _collect(outputs_collections, sc.name, out)


def layer_norm(inputs, center: bool = True, scale: bool = True, activation_fn=None, reuse=None,
               variables_collections=None, outputs_collections=None, trainable: bool = True,
               begin_norm_axis: int = 1, begin_params_axis: int = -1, scope=None) -> Tensor:
    """Normalization over the axes from ``begin_norm_axis`` on (mean and variance of each example, epsilon
    1e-12), then times ``gamma`` and plus ``beta``, of shape ``inputs.shape[begin_params_axis:]``."""
    inputs = as_tf(inputs)
    if inputs.shape is None:
        raise ValueError("tf.contrib.layers.layer_norm: the rank of the inputs must be known")
    rank = len(inputs.shape)
    for arg, value in (("begin_norm_axis", begin_norm_axis), ("begin_params_axis", begin_params_axis)):
        if not isinstance(value, numbers.Integral) or not -rank <= value < rank:
            raise ValueError(f"tf.contrib.layers.layer_norm: {arg} must be an int in [-{rank}, {rank}) for inputs of "
                             f"shape {list(inputs.shape)}, got {value!r}")
    norm_axes = tuple(range(int(begin_norm_axis) % rank, rank))
    params_shape = list(inputs.shape[int(begin_params_axis) % rank:])
    if None in params_shape:
        raise ValueError(f"tf.contrib.layers.layer_norm: the parameters' dimensions must be known, got shape "
                         f"{list(inputs.shape)}")
    with _scope("layer_norm", scope, "LayerNorm", reuse) as sc:
        beta = _variable("beta", params_shape, inputs.dtype, zeros_initializer(), None, trainable,
                         variables_collections) if center else None
        gamma = _variable("gamma", params_shape, inputs.dtype, ones_initializer(), None, trainable,
                          variables_collections) if scale else None
        params = tuple(p for p in (gamma, beta) if p is not None)

        def normalize(x, *gb):
            gb = list(gb)
            mean = ember.mean(x, axis=norm_axes, keepdims=True)
            variance = ember.mean(ember.square(x - mean), axis=norm_axes, keepdims=True)
            out = (x - mean) / ember.sqrt(variance + 1e-12)
            if gamma is not None:
                out = out * gb.pop(0)
            return out + gb.pop(0) if beta is not None else out

        out = op(normalize, (inputs, *params), name="batchnorm")
        if activation_fn is not None:
            out = activation_fn(out)
        return _collect(outputs_collections, sc.name, out)


def embed_sequence(ids, vocab_size: int | None = None, embed_dim: int | None = None, unique: bool = False,
                   initializer=None, regularizer=None, trainable: bool = True, scope=None, reuse=None) -> Tensor:
    """The rows of an ``embeddings`` table (vocab_size, embed_dim) at ``ids`` (batch, time): (batch, time,
    embed_dim)."""
    if not (reuse or (vocab_size and embed_dim)):
        raise ValueError("tf.contrib.layers.embed_sequence: vocab_size and embed_dim are needed when not reusing, "
                         f"got vocab_size={vocab_size} and embed_dim={embed_dim}")
    with _scope("embed_sequence", scope, "EmbedSequence", reuse):
        shape = None if vocab_size is None or embed_dim is None else [
            _positive("embed_sequence", "vocab_size", vocab_size), _positive("embed_sequence", "embed_dim", embed_dim)]
        embeddings = get_variable("embeddings", shape, initializer=initializer, regularizer=regularizer,
                                  trainable=trainable, collections=[GLOBAL_VARIABLES, MODEL_VARIABLES])
        return embedding_lookup(embeddings, ids)  # (unique=True looks up each distinct id once: the same rows)


# (as TF-1's, these take their defaults from tf.contrib.framework.arg_scope)
fully_connected = add_arg_scope(fully_connected)
conv2d = convolution2d = add_arg_scope(conv2d)
conv2d_transpose = convolution2d_transpose = add_arg_scope(conv2d_transpose)
max_pool2d = add_arg_scope(max_pool2d)
avg_pool2d = add_arg_scope(avg_pool2d)
dropout = add_arg_scope(dropout)
batch_norm = add_arg_scope(batch_norm)
layer_norm = add_arg_scope(layer_norm)
flatten = add_arg_scope(_layers.flatten)
embed_sequence = add_arg_scope(embed_sequence)


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

"""``tf.layers``: the functional layers of TF-1 (dense, 1-D/2-D/3-D and separable convolutions, pooling, dropout,
flatten, batch normalization).

Each call creates its variables under a scope named after the layer (``dense/kernel``, ``dense_1/kernel``,
or ``name/kernel``), as TF-1 does; ``reuse=True`` with a ``name`` shares them. A kernel without an initializer
starts from the variable scope's (``variable_scope(..., initializer=...)``), else glorot uniform, as TF-1's.
"""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf import nn
from ember.compat.tf._core import (
    Tensor,
    add_to_collection,
    as_tf,
    control_dependencies,
    get_default_graph,
    op,
    variable_scope,
)
from ember.compat.tf.variables import get_variable, ones_initializer, zeros_initializer

__all__ = [
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "BatchNormalization", "Conv1D", "Conv2D",
    "Conv2DTranspose", "Conv3D", "Dense", "Dropout", "Flatten", "Layer", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "SeparableConv2D", "average_pooling1d", "average_pooling2d", "average_pooling3d",
    "batch_normalization", "conv1d", "conv2d", "conv2d_transpose", "conv3d", "dense", "dropout", "flatten",
    "max_pooling1d", "max_pooling2d", "max_pooling3d", "separable_conv2d",
]


def _scope(base: str, name: str | None) -> str:
    if name is not None:
        return name
    graph = get_default_graph()
    key = "/".join(graph.var_scopes + [f"layer:{base}"])
    count = graph.names.get(key, 0)
    graph.names[key] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _last_dim(layer: str, inputs: Tensor) -> int:
    if inputs.shape is None or inputs.shape[-1] is None:
        raise ValueError(f"tf.layers.{layer}: the last dimension of the inputs must be known, got shape {inputs.shape}")
    return int(inputs.shape[-1])


def _finish(out: Tensor, bias, activation) -> Tensor:
    if bias is not None:
        out = nn.bias_add(out, bias)
    return activation(out) if activation is not None else out


def dense(inputs, units: int, activation=None, use_bias: bool = True, kernel_initializer=None,
          bias_initializer=None, kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
          kernel_constraint=None, bias_constraint=None, trainable: bool = True, name: str | None = None,
          reuse=None) -> Tensor:
    """``activation(inputs @ kernel + bias)`` over the last axis of ``inputs``."""
    _refuse_constraints("dense", kernel_constraint, bias_constraint)
    inputs = as_tf(inputs)
    features = _last_dim("dense", inputs)
    with variable_scope(_scope("dense", name), reuse=reuse):  # (its ops named in the layer's scope, as TF-1's)
        kernel = get_variable("kernel", [features, int(units)], initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable)
        bias = get_variable("bias", [int(units)], initializer=bias_initializer or zeros_initializer(),
                            regularizer=bias_regularizer, trainable=trainable) if use_bias else None
        product = op(ember.matmul, (inputs, kernel), name="MatMul" if len(inputs.shape) == 2 else "Tensordot")
        return _regularized(_finish(product, bias, activation), activity_regularizer)


def _refuse_constraints(layer: str, *constraints) -> None:
    if any(c is not None for c in constraints):
        raise NotImplementedError(f"tf.layers.{layer}: kernel_constraint and bias_constraint are not supported; "
                                  "clip the variables with tf.assign after the training step")


def _regularized(out: Tensor, activity_regularizer) -> Tensor:
    """``out``, its ``activity_regularizer`` penalty added to the regularization losses, as TF-1 does."""
    if activity_regularizer is not None:
        penalty = activity_regularizer(out)
        if penalty is not None:
            add_to_collection("regularization_losses", penalty)
    return out


def _pair(value) -> tuple:
    return (int(value), int(value)) if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)


def _data_format(layer: str, data_format: str) -> str:
    formats = {"channels_last": "NHWC", "channels_first": "NCHW"}
    if data_format not in formats:
        raise ValueError(f"tf.layers.{layer}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    return formats[data_format]


def conv2d(inputs, filters: int, kernel_size, strides=(1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate=(1, 1), activation=None, use_bias: bool = True,
           kernel_initializer=None, bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
           activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable: bool = True,
           name: str | None = None, reuse=None) -> Tensor:
    """2-D convolution with a (kernel_h, kernel_w, in, filters) kernel; ``padding`` is 'valid' or 'same'."""
    _refuse_constraints("conv2d", kernel_constraint, bias_constraint)
    inputs = as_tf(inputs)
    fmt = _data_format("conv2d", data_format)
    channels = _last_dim("conv2d", inputs) if fmt == "NHWC" else inputs.shape[1]
    kh, kw = _pair(kernel_size)
    with variable_scope(_scope("conv2d", name), reuse=reuse):
        kernel = get_variable("kernel", [kh, kw, int(channels), int(filters)],
                              initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable)
        bias = get_variable("bias", [int(filters)], initializer=bias_initializer or zeros_initializer(),
                            regularizer=bias_regularizer, trainable=trainable) if use_bias else None
        out = nn.conv2d(inputs, kernel, strides=_pair(strides), padding=padding.upper(), data_format=fmt,
                        dilations=_pair(dilation_rate))
        if bias is not None:
            out = nn.bias_add(out, bias, data_format=fmt)
        return _regularized(activation(out) if activation is not None else out, activity_regularizer)


def max_pooling2d(inputs, pool_size, strides, padding: str = "valid", data_format: str = "channels_last",
                  name: str | None = None) -> Tensor:
    """Max pooling over (pool_h, pool_w) windows."""
    fmt = _data_format("max_pooling2d", data_format)
    return nn.max_pool(inputs, _pair(pool_size), _pair(strides), padding.upper(), fmt, name=name)


def average_pooling2d(inputs, pool_size, strides, padding: str = "valid", data_format: str = "channels_last",
                      name: str | None = None) -> Tensor:
    """Average pooling over (pool_h, pool_w) windows."""
    fmt = _data_format("average_pooling2d", data_format)
    return nn.avg_pool(inputs, _pair(pool_size), _pair(strides), padding.upper(), fmt, name=name)


def dropout(inputs, rate: float = 0.5, noise_shape=None, seed=None, training=False, name: str | None = None) -> Tensor:
    """Drop each element with probability ``rate`` while ``training`` (a bool or a fed bool tf Tensor)."""
    inputs = as_tf(inputs)
    if isinstance(training, Tensor):
        dropped = nn.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed)
        return op(lambda t, a, b: ember.where(t, a, b), (training, dropped, inputs), name=name or "dropout")
    return nn.dropout(inputs, rate=rate, noise_shape=noise_shape, seed=seed, name=name) if training and rate else inputs


def flatten(inputs, name: str | None = None, data_format: str = "channels_last") -> Tensor:
    """(batch, everything else): the other dimensions must be known. A ``channels_first`` input is flattened in
    channels-last order (its channels moved last first), as TF-1's, so the features line up across formats."""
    first = _data_format("flatten", data_format) == "NCHW"
    inputs = as_tf(inputs)
    if inputs.shape is None or None in inputs.shape[1:]:
        raise ValueError(f"tf.layers.flatten: the non-batch dimensions must be known, got shape {inputs.shape}")
    features = int(np.prod(inputs.shape[1:]))
    first = first and len(inputs.shape) > 2

    def fn(x):
        return ember.reshape(ember.moveaxis(x, 1, -1) if first else x, (-1, features))

    return op(fn, (inputs,), name=name or "flatten")


def conv1d(inputs, filters: int, kernel_size, strides=1, padding: str = "valid", data_format: str = "channels_last",
           dilation_rate=1, activation=None, use_bias: bool = True, kernel_initializer=None, bias_initializer=None,
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable: bool = True, name: str | None = None, reuse=None) -> Tensor:
    """1-D convolution with a (kernel_width, in, filters) kernel; ``padding`` is 'valid' or 'same'."""
    _refuse_constraints("conv1d", kernel_constraint, bias_constraint)
    inputs = as_tf(inputs)
    fmt = {"channels_last": "NWC", "channels_first": "NCW"}.get(data_format)
    if fmt is None:
        raise ValueError(f"tf.layers.conv1d: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    channels = _last_dim("conv1d", inputs) if fmt == "NWC" else inputs.shape[1]
    width = int(kernel_size if isinstance(kernel_size, (int, np.integer)) else kernel_size[0])
    with variable_scope(_scope("conv1d", name), reuse=reuse):
        kernel = get_variable("kernel", [width, int(channels), int(filters)],
                              initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable)
        bias = get_variable("bias", [int(filters)], initializer=bias_initializer or zeros_initializer(),
                            regularizer=bias_regularizer, trainable=trainable) if use_bias else None
        one = (lambda v: int(v if isinstance(v, (int, np.integer)) else v[0]))
        out = nn.conv1d(inputs, kernel, stride=one(strides), padding=padding.upper(), data_format=fmt,
                        dilations=one(dilation_rate))
        if bias is not None:
            out = op(lambda y, b: y + (b if fmt == "NWC" else ember.reshape(b, (-1, 1))), (out, bias), name="BiasAdd")
        return _regularized(activation(out) if activation is not None else out, activity_regularizer)


def conv2d_transpose(inputs, filters: int, kernel_size, strides=(1, 1), padding: str = "valid",
                     data_format: str = "channels_last", activation=None, use_bias: bool = True,
                     kernel_initializer=None, bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable: bool = True,
                     name: str | None = None, reuse=None) -> Tensor:
    """Transposed 2-D convolution with a (kernel_h, kernel_w, filters, in) kernel: 'same' multiplies the height
    and width by the strides, 'valid' gives ``size * stride + max(kernel - stride, 0)``."""
    _refuse_constraints("conv2d_transpose", kernel_constraint, bias_constraint)
    inputs = as_tf(inputs)
    fmt = _data_format("conv2d_transpose", data_format)
    channels = _last_dim("conv2d_transpose", inputs) if fmt == "NHWC" else inputs.shape[1]
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(strides)
    hw = inputs.shape[1:3] if fmt == "NHWC" else inputs.shape[2:4]
    if None in hw:
        raise ValueError(f"tf.layers.conv2d_transpose: the height and width must be known, got shape "
                         f"{list(inputs.shape)}")
    if padding.lower() not in ("same", "valid"):
        raise ValueError(f"tf.layers.conv2d_transpose: padding must be 'valid' or 'same', got {padding!r}")
    same = padding.lower() == "same"
    # TF's deconv_output_length: 'valid' is size * stride + max(kernel - stride, 0)
    oh, ow = (hw[0] * sh, hw[1] * sw) if same else (hw[0] * sh + max(kh - sh, 0), hw[1] * sw + max(kw - sw, 0))
    with variable_scope(_scope("conv2d_transpose", name), reuse=reuse):
        kernel = get_variable("kernel", [kh, kw, int(filters), int(channels)],
                              initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable)
        bias = get_variable("bias", [int(filters)], initializer=bias_initializer or zeros_initializer(),
                            regularizer=bias_regularizer, trainable=trainable) if use_bias else None
        shape = [None, oh, ow, int(filters)] if fmt == "NHWC" else [None, int(filters), oh, ow]
        out = nn.conv2d_transpose(inputs, kernel, shape, strides=(sh, sw), padding=padding.upper(), data_format=fmt)
        if bias is not None:
            out = nn.bias_add(out, bias, data_format=fmt)
        return _regularized(activation(out) if activation is not None else out, activity_regularizer)


def _pool1d(layer: str, inputs, pool_size, strides, padding, data_format, average: bool, name) -> Tensor:
    inputs = as_tf(inputs)
    fmt = {"channels_last": "NHWC", "channels_first": "NCHW"}.get(data_format)
    if fmt is None:
        raise ValueError(f"tf.layers.{layer}: data_format must be 'channels_last' or 'channels_first', "
                         f"got {data_format!r}")
    axis = 1 if fmt == "NHWC" else 2
    one = (lambda v: int(v if isinstance(v, (int, np.integer)) else v[0]))
    image = op(lambda x: ember.unsqueeze(x, axis), (inputs,), name=f"{layer}/ExpandDims")
    pool = nn.avg_pool if average else nn.max_pool
    out = pool(image, (1, one(pool_size)), (1, one(strides)), padding.upper(), fmt)
    return op(lambda y: ember.squeeze(y, axis), (out,), name=name or layer)


def max_pooling1d(inputs, pool_size, strides, padding: str = "valid", data_format: str = "channels_last",
                  name: str | None = None) -> Tensor:
    """Max pooling over windows of ``pool_size`` steps."""
    return _pool1d("max_pooling1d", inputs, pool_size, strides, padding, data_format, False, name)


def average_pooling1d(inputs, pool_size, strides, padding: str = "valid", data_format: str = "channels_last",
                      name: str | None = None) -> Tensor:
    """Average pooling over windows of ``pool_size`` steps."""
    return _pool1d("average_pooling1d", inputs, pool_size, strides, padding, data_format, True, name)


def _triple(value) -> tuple:
    return (int(value),) * 3 if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)


def _channels_bias(out: Tensor, bias, channels_last: bool) -> Tensor:
    if bias is None:
        return out
    return op(lambda y, b: y + (b if channels_last else ember.reshape(b, (-1,) + (1,) * (y.ndim - 2))), (out, bias),
              name="BiasAdd")


def separable_conv2d(inputs, filters: int, kernel_size, strides=(1, 1), padding: str = "valid",
                     data_format: str = "channels_last", dilation_rate=(1, 1), depth_multiplier: int = 1,
                     activation=None, use_bias: bool = True, depthwise_initializer=None, pointwise_initializer=None,
                     bias_initializer=None, depthwise_regularizer=None, pointwise_regularizer=None,
                     bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                     pointwise_constraint=None, bias_constraint=None, trainable: bool = True, name: str | None = None,
                     reuse=None) -> Tensor:
    """A depthwise convolution (``depthwise_kernel`` (kh, kw, in, depth_multiplier)) then a 1x1 one
    (``pointwise_kernel`` (1, 1, in * depth_multiplier, filters)), plus ``bias``."""
    _refuse_constraints("separable_conv2d", depthwise_constraint, pointwise_constraint, bias_constraint)
    inputs = as_tf(inputs)
    fmt = _data_format("separable_conv2d", data_format)
    channels = _last_dim("separable_conv2d", inputs) if fmt == "NHWC" else inputs.shape[1]
    kh, kw = _pair(kernel_size)
    multiplier = int(depth_multiplier)
    with variable_scope(_scope("separable_conv2d", name), reuse=reuse):
        depthwise = get_variable("depthwise_kernel", [kh, kw, int(channels), multiplier],
                                 initializer=depthwise_initializer,
                                 regularizer=depthwise_regularizer, trainable=trainable)
        pointwise = get_variable("pointwise_kernel", [1, 1, int(channels) * multiplier, int(filters)],
                                 initializer=pointwise_initializer,
                                 regularizer=pointwise_regularizer, trainable=trainable)
        bias = get_variable("bias", [int(filters)], initializer=bias_initializer or zeros_initializer(),
                            regularizer=bias_regularizer, trainable=trainable) if use_bias else None
        out = nn.separable_conv2d(inputs, depthwise, pointwise, strides=_pair(strides), padding=padding.upper(),
                                  data_format=fmt, dilations=_pair(dilation_rate))
        out = _channels_bias(out, bias, fmt == "NHWC")
        return _regularized(activation(out) if activation is not None else out, activity_regularizer)


def conv3d(inputs, filters: int, kernel_size, strides=(1, 1, 1), padding: str = "valid",
           data_format: str = "channels_last", dilation_rate=(1, 1, 1), activation=None, use_bias: bool = True,
           kernel_initializer=None, bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
           activity_regularizer=None, kernel_constraint=None, bias_constraint=None, trainable: bool = True,
           name: str | None = None, reuse=None) -> Tensor:
    """3-D convolution with a (kernel_d, kernel_h, kernel_w, in, filters) kernel; 'valid' or 'same' padding."""
    _refuse_constraints("conv3d", kernel_constraint, bias_constraint)
    inputs = as_tf(inputs)
    last = _data_format("conv3d", data_format) == "NHWC"
    channels = _last_dim("conv3d", inputs) if last else inputs.shape[1]
    with variable_scope(_scope("conv3d", name), reuse=reuse):
        kernel = get_variable("kernel", [*_triple(kernel_size), int(channels), int(filters)],
                              initializer=kernel_initializer,
                              regularizer=kernel_regularizer, trainable=trainable)
        bias = get_variable("bias", [int(filters)], initializer=bias_initializer or zeros_initializer(),
                            regularizer=bias_regularizer, trainable=trainable) if use_bias else None
        out = nn.conv3d(inputs, kernel, strides=_triple(strides), padding=padding.upper(),
                        data_format="NDHWC" if last else "NCDHW", dilations=_triple(dilation_rate))
        out = _channels_bias(out, bias, last)
        return _regularized(activation(out) if activation is not None else out, activity_regularizer)


def max_pooling3d(inputs, pool_size, strides, padding: str = "valid", data_format: str = "channels_last",
                  name: str | None = None) -> Tensor:
    """Max pooling over (pool_d, pool_h, pool_w) windows."""
    fmt = "NDHWC" if _data_format("max_pooling3d", data_format) == "NHWC" else "NCDHW"
    return nn.max_pool3d(inputs, _triple(pool_size), _triple(strides), padding.upper(), fmt, name=name)


def average_pooling3d(inputs, pool_size, strides, padding: str = "valid", data_format: str = "channels_last",
                      name: str | None = None) -> Tensor:
    """Average pooling over (pool_d, pool_h, pool_w) windows (with 'same', over the voxels inside)."""
    fmt = "NDHWC" if _data_format("average_pooling3d", data_format) == "NHWC" else "NCDHW"
    return nn.avg_pool3d(inputs, _triple(pool_size), _triple(strides), padding.upper(), fmt, name=name)


def batch_normalization(inputs, axis: int = -1, momentum: float = 0.99, epsilon: float = 0.001, center: bool = True,
                        scale: bool = True, beta_initializer=None, gamma_initializer=None,
                        moving_mean_initializer=None, moving_variance_initializer=None, beta_regularizer=None,
                        gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, training=False,
                        trainable: bool = True, name: str | None = None, reuse=None, renorm: bool = False,
                        renorm_clipping=None, renorm_momentum: float = 0.99, fused=None, virtual_batch_size=None,
                        adjustment=None) -> Tensor:
    """Batch normalization over every axis but ``axis``. While ``training`` (a bool or a fed bool tf Tensor) it
    normalizes with the batch's statistics and puts the moving averages' updates into the ``UPDATE_OPS``
    collection (run them with the training step: ``tf.control_dependencies(tf.get_collection(
    tf.GraphKeys.UPDATE_OPS))``); otherwise it normalizes with the moving averages. As TensorFlow's, a 4-D input
    normalized over its channels (the fused kernel's case) updates the moving variance with Bessel's correction."""
    if renorm or virtual_batch_size is not None or adjustment is not None:
        raise NotImplementedError("tf.layers.batch_normalization: renorm, virtual_batch_size and adjustment are "
                                  "not supported")
    _refuse_constraints("batch_normalization", beta_constraint, gamma_constraint)
    inputs = as_tf(inputs)
    if inputs.shape is None:
        raise ValueError("tf.layers.batch_normalization: the rank of the inputs must be known")
    rank = len(inputs.shape)
    if not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise ValueError(f"tf.layers.batch_normalization: axis must be an int in [-{rank}, {rank}), got {axis!r}")
    axis = int(axis) % rank
    channels = inputs.shape[axis]
    if channels is None:
        raise ValueError(f"tf.layers.batch_normalization: axis {axis} of the inputs must be known, got shape "
                         f"{list(inputs.shape)}")
    with variable_scope(_scope("batch_normalization", name), reuse=reuse):
        gamma = get_variable("gamma", [channels], initializer=gamma_initializer or ones_initializer(),
                             regularizer=gamma_regularizer, trainable=trainable) if scale else None
        beta = get_variable("beta", [channels], initializer=beta_initializer or zeros_initializer(),
                            regularizer=beta_regularizer, trainable=trainable) if center else None
        moving_mean = get_variable("moving_mean", [channels], initializer=moving_mean_initializer or
                                   zeros_initializer(), trainable=False)
        moving_variance = get_variable("moving_variance", [channels], initializer=moving_variance_initializer or
                                       ones_initializer(), trainable=False)
    bessel = rank == 4 and axis in (1, 3) and fused is not False
    return _batch_norm_ops(inputs, axis, momentum, epsilon, gamma, beta, moving_mean, moving_variance, training,
                           bessel, name or "batchnorm", ["update_ops"])


def _batch_norm_ops(inputs: Tensor, axis: int, momentum: float, epsilon: float, gamma, beta, moving_mean,
                    moving_variance, training, bessel: bool, name: str, updates_collections) -> Tensor:
    """The normalization of ``inputs`` over every axis but ``axis``, its moving averages' updates put into
    ``updates_collections`` (a list of collection names) or, for ``None``, run before the output is (in place)."""
    rank = len(inputs.shape)
    channels = inputs.shape[axis]
    axes = tuple(a for a in range(rank) if a != axis)
    shape = tuple(channels if a == axis else 1 for a in range(rank))
    params = tuple(p for p in (gamma, beta) if p is not None)

    def normalize(x, mean, variance, *gb):
        inv = 1.0 / ember.sqrt(ember.reshape(variance, shape) + epsilon)
        gb = list(gb)
        if gamma is not None:
            inv = inv * ember.reshape(gb.pop(0), shape)
        out = (x - ember.reshape(mean, shape)) * inv
        return out + ember.reshape(gb.pop(0), shape) if beta is not None else out

    if isinstance(training, Tensor) or training:
        mean = op(lambda x: ember.mean(x, axis=axes), (inputs,), name="moments/mean")
        variance = op(lambda x: ember.var(x, axis=axes, ddof=0), (inputs,), name="moments/variance")
        if bessel:
            def corrected(x, v):
                n = int(np.prod([x.shape[a] for a in axes]))
                return v * (n / max(n - 1, 1))

            update_variance = op(corrected, (inputs, variance), name="moments/corrected_variance")
        else:
            update_variance = variance
        rate = 1.0 - momentum
        updates = []
        for moving, batch in ((moving_mean, mean), (moving_variance, update_variance)):
            if isinstance(training, Tensor):  # not training: a step of 0, as TensorFlow's smart_cond gives
                step = op(lambda m, b, t: (m - b) * ember.cast(t, m.dtype) * rate, (moving, batch, training),
                          name="AssignMovingAvg")
            else:
                step = op(lambda m, b: (m - b) * rate, (moving, batch), name="AssignMovingAvg")
            updates.append(moving.assign_sub(step))
        for collection in updates_collections or ():
            for update in updates:
                add_to_collection(collection, update)
        batch_out = op(normalize, (inputs, mean, variance, *params), name=name)
        if isinstance(training, Tensor):
            moving_out = op(normalize, (inputs, moving_mean, moving_variance, *params), name=name)
            batch_out = op(lambda t, a, b: ember.where(t, a, b), (training, batch_out, moving_out), name=name)
        if updates_collections is None:  # in place: the output is read after the updates ran
            with control_dependencies(updates):
                batch_out = op(lambda y: y, (batch_out,), name=f"{name}/Identity")
        return batch_out
    return op(normalize, (inputs, moving_mean, moving_variance, *params), name=name)


class Layer:
    """A TF-1 layer object (``tf.layers.Dense(10)``): its name is chosen when it is made, its variables are
    created by the first call and shared by the later ones."""

    base = "layer"
    function = None

    def __init__(self, *args, name: str | None = None, **kwargs):
        self.name = _scope(self.base, name)
        self.args, self.kwargs = args, kwargs
        self.built = False
        self._scope = "/".join(get_default_graph().var_scopes + [self.name])

    def __call__(self, inputs, training=None) -> Tensor:
        extra = {} if training is None or "training" not in self.function.__code__.co_varnames else \
            {"training": training}
        out = type(self).function(inputs, *self.args, name=self.name, **self.kwargs, **extra,
                                  **({"reuse": True} if self.built and self._creates_variables() else {}))
        self.built = True
        return out

    apply = __call__

    def _creates_variables(self) -> bool:
        return "reuse" in type(self).function.__code__.co_varnames

    @property
    def variables(self) -> list:
        graph = get_default_graph()
        return [v for name, v in graph.named.items() if name.startswith(self._scope + "/")]

    weights = variables

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if v.trainable]

    trainable_weights = trainable_variables

    @property
    def non_trainable_variables(self) -> list:
        return [v for v in self.variables if not v.trainable]

    def __getattr__(self, name: str):
        # layer.kernel, layer.bias, layer.gamma, layer.moving_mean...
        found = get_default_graph().named.get(f"{self.__dict__.get('_scope', '')}/{name}")
        if found is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        return found


def _layer_class(class_name: str, base: str, function) -> type:
    cls = type(class_name, (Layer,), {"base": base, "function": staticmethod(function),
                                      "__doc__": f"The layer object of ``tf.layers.{function.__name__}``."})
    cls.__module__ = __name__
    return cls


Dense = _layer_class("Dense", "dense", dense)
Conv1D = _layer_class("Conv1D", "conv1d", conv1d)
Conv2D = _layer_class("Conv2D", "conv2d", conv2d)
Conv2DTranspose = _layer_class("Conv2DTranspose", "conv2d_transpose", conv2d_transpose)
MaxPooling1D = _layer_class("MaxPooling1D", "max_pooling1d", max_pooling1d)
MaxPooling2D = _layer_class("MaxPooling2D", "max_pooling2d", max_pooling2d)
AveragePooling1D = _layer_class("AveragePooling1D", "average_pooling1d", average_pooling1d)
AveragePooling2D = _layer_class("AveragePooling2D", "average_pooling2d", average_pooling2d)
Dropout = _layer_class("Dropout", "dropout", dropout)
Flatten = _layer_class("Flatten", "flatten", flatten)
BatchNormalization = _layer_class("BatchNormalization", "batch_normalization", batch_normalization)
SeparableConv2D = _layer_class("SeparableConv2D", "separable_conv2d", separable_conv2d)
Conv3D = _layer_class("Conv3D", "conv3d", conv3d)
MaxPooling3D = _layer_class("MaxPooling3D", "max_pooling3d", max_pooling3d)
AveragePooling3D = _layer_class("AveragePooling3D", "average_pooling3d", average_pooling3d)


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

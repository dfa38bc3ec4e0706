"""``tf.nn``: activations, convolution and pooling (NHWC, TF's SAME/VALID padding), dropout, losses, RNNs."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf import rnn as rnn_cell
from ember.compat.tf._core import Tensor, as_tf, op
from ember.compat.tf.array_ops import FUNCTIONS
from ember.compat.tf.candidate_sampling import (
    fixed_unigram_candidate_sampler,
    log_uniform_candidate_sampler,
    uniform_candidate_sampler,
)
from ember.compat.tf.conv_ops import (
    atrous_conv2d,
    avg_pool3d,
    conv3d,
    ctc_loss,
    ctc_loss_v2,
    depthwise_conv2d,
    local_response_normalization,
    lrn,
    max_pool3d,
    padding_pairs,
    separable_conv2d,
    spatial_of_full,
)
from ember.compat.tf.embedding_ops import embedding_lookup
from ember.compat.tf.math_ops import top_k
from ember.compat.tf.nn_basics import activation_op, dropout, elu, relu, relu6, selu, sigmoid, softplus, tanh
from ember.compat.tf.nn_extra import (
    compute_accidental_hits,
    convolution,
    ctc_greedy_decoder,
    dilation2d,
    erosion2d,
    max_pool_with_argmax,
    normalize_moments,
    pool,
    sufficient_statistics,
    weighted_moments,
)
from ember.compat.tf.rnn import bidirectional_dynamic_rnn, dynamic_rnn, static_bidirectional_rnn, static_rnn
from ember.compat.tf.sampled_losses import nce_loss, sampled_softmax_loss

__all__ = [
    "atrous_conv2d", "avg_pool", "avg_pool2d", "avg_pool3d", "batch_normalization", "bias_add",
    "bidirectional_dynamic_rnn", "compute_accidental_hits", "conv1d", "conv2d", "conv2d_transpose", "conv3d",
    "convolution", "crelu", "ctc_greedy_decoder", "ctc_loss", "ctc_loss_v2", "depthwise_conv2d", "dilation2d",
    "dropout", "dynamic_rnn", "elu", "embedding_lookup", "erosion2d", "fixed_unigram_candidate_sampler",
    "fused_batch_norm", "gelu", "in_top_k", "l2_loss", "l2_normalize", "leaky_relu", "local_response_normalization",
    "log_poisson_loss", "log_softmax", "log_uniform_candidate_sampler", "lrn", "max_pool", "max_pool2d",
    "max_pool3d", "max_pool_with_argmax", "moments", "nce_loss", "normalize_moments", "pool", "relu", "relu6",
    "rnn_cell", "sampled_softmax_loss", "selu", "separable_conv2d", "sigmoid", "sigmoid_cross_entropy_with_logits",
    "silu", "softmax", "softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2", "softplus",
    "softsign", "sparse_softmax_cross_entropy_with_logits", "static_bidirectional_rnn", "static_rnn",
    "sufficient_statistics", "swish", "tanh", "top_k", "uniform_candidate_sampler",
    "weighted_cross_entropy_with_logits", "weighted_moments", "xw_plus_b", "zero_fraction",
]



def crelu(features, name: str | None = None, axis: int = -1) -> Tensor:
    """``relu`` of ``features`` and of ``-features``, concatenated along ``axis`` (twice its size)."""
    return op(lambda x: ember.relu(ember.concat([x, -x], axis=axis)), (as_tf(features),), name=name or "CRelu")


def leaky_relu(features, alpha: float = 0.2, name: str | None = None) -> Tensor:
    return op(lambda x: ember.leaky_relu(x, alpha), (as_tf(features),), name=name or "LeakyRelu")


def _floating(what: str, arg: str, t: Tensor) -> Tensor:
    """``t``, which TF-1's kernel for ``what`` takes in a float dtype only (an integer one is a TypeError)."""
    if t.dtype is not None and np.dtype(t.dtype).kind not in "fV":
        raise TypeError(f"tf.nn.{what}: {arg} must be float16, bfloat16, float32 or float64, got '{t.name}' of "
                        f"dtype {t.dtype}")
    return t


def softmax(logits, axis: int = -1, name: str | None = None, dim=None) -> Tensor:
    axis = dim if dim is not None else axis
    return op(lambda x: ember.softmax(x, axis=axis), (_floating("softmax", "logits", as_tf(logits)),),
              name=name or "Softmax")


def log_softmax(logits, axis: int = -1, name: str | None = None, dim=None) -> Tensor:
    axis = dim if dim is not None else axis
    return op(lambda x: ember.log_softmax(x, axis=axis), (_floating("log_softmax", "logits", as_tf(logits)),),
              name=name or "LogSoftmax")


def bias_add(value, bias, data_format=None, name: str | None = None) -> Tensor:
    """``value + bias``, the 1-D ``bias`` along the channel axis: the last for ``N...C`` formats (the default),
    axis 1 for ``NC...`` ones (NCHW, NCW, NCDHW), whatever the rank, as TF-1's."""
    if data_format is not None and not data_format.startswith("NC") \
            and not (data_format.startswith("N") and data_format.endswith("C")):
        raise ValueError(f"tf.nn.bias_add: data_format must be of the form 'N...C' or 'NC...', got {data_format!r}")
    first = data_format is not None and data_format.startswith("NC")

    def fn(x, b):
        axis = 1 if first else -1
        sizes = (b.shape[0], x.shape[axis]) if b.ndim == 1 and x.ndim >= 2 else (0, 1)
        if all(isinstance(n, int) for n in sizes) and sizes[0] != sizes[1]:
            raise ValueError(f"tf.nn.bias_add: bias of shape {list(b.shape)} must be 1-D with one value per channel "
                             f"(axis {axis} of value's shape {list(x.shape)}, data_format {data_format})")
        return x + ember.reshape(b, (-1,) + (1,) * (x.ndim - 2)) if first else x + b

    return op(fn, (as_tf(value), as_tf(bias)), name=name or "BiasAdd")


def xw_plus_b(x, weights, biases, name: str | None = None) -> Tensor:
    """``matmul(x, weights)`` plus the 1-D ``biases``, one per column (TF-1's ``bias_add``, which refuses others)."""
    product = op(ember.matmul, (as_tf(x), as_tf(weights)), name=f"{name or 'xw_plus_b'}/MatMul")
    return bias_add(product, biases, name=name or "xw_plus_b")


def l2_loss(t, name: str | None = None) -> Tensor:
    """sum(t ** 2) / 2."""
    return op(lambda x: ember.sum(x * x) * 0.5, (_floating("l2_loss", "t", as_tf(t)),), name=name or "L2Loss")


def l2_normalize(x, axis=None, epsilon: float = 1e-12, name: str | None = None, dim=None) -> Tensor:
    axis = dim if axis is None else axis
    return op(lambda a: a / ember.sqrt(ember.maximum(ember.sum(a * a, axis=axis, keepdims=True), epsilon)),
              (as_tf(x),), name=name or "l2_normalize")


# --- convolution and pooling: TF's NHWC layout and SAME padding over Ember's NCHW ops -----------------------


def _pair(name: str, arg: str, value, data_format: str) -> tuple:
    """TF's 4-element ``strides``/``ksize`` (or an int, or a pair) as (height, width)."""
    if isinstance(value, int):
        return value, value
    value = [int(v) for v in value]
    if len(value) == 2:
        return tuple(value)
    if len(value) != 4:
        raise ValueError(f"tf.nn.{name}: {arg} must have 1, 2 or 4 elements, got {value}")
    return spatial_of_full(name, arg, tuple(value), data_format == "NHWC")


def _ranked(name: str, arg: str, x, rank: int, layout: str):
    """``x`` (a value while ``name`` is traced), which must have ``rank`` dimensions (``layout``)."""
    if x.ndim != rank:
        raise ValueError(f"tf.nn.{name}: {arg} must be {rank}-D ({layout}), got shape {list(x.shape)}")
    return x


def _to_nchw(x, data_format: str):
    return ember.transpose(x, (0, 3, 1, 2)) if data_format == "NHWC" else x


def _from_nchw(y, data_format: str):
    return ember.transpose(y, (0, 2, 3, 1)) if data_format == "NHWC" else y


def _check_format(name: str, data_format: str) -> str:
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"tf.nn.{name}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return data_format


def _explicit_padding(padding, data_format: str) -> tuple:
    """conv2d's explicit ``padding``: [before, after] for each of the 4 axes, zeros on the batch and channel axes;
    the ((top, bottom), (left, right)) pairs."""
    try:
        pairs = [tuple(int(v) for v in pair) for pair in padding]
    except (TypeError, ValueError):
        pairs = []
    if len(pairs) != 4 or any(len(pair) != 2 or min(pair) < 0 for pair in pairs):
        raise ValueError(f"tf.nn.conv2d: padding must be 'SAME', 'VALID' or 4 [before, after] pairs of sizes >= 0, "
                         f"got {padding!r}")
    spatial = pairs[1:3] if data_format == "NHWC" else pairs[2:]
    if pairs[0] != (0, 0) or pairs[3 if data_format == "NHWC" else 1] != (0, 0):
        raise ValueError(f"tf.nn.conv2d: explicit padding {[list(p) for p in pairs]} must be [0, 0] on the batch "
                         f"and channel axes (data_format {data_format})")
    return tuple(spatial)


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu: bool = True, data_format: str = "NHWC",
           dilations=(1, 1, 1, 1), name: str | None = None, filters=None) -> Tensor:
    """2-D convolution of NHWC ``input`` with an HWIO ``filter`` (TF's layouts), SAME or VALID padding, or explicit
    [before, after] pairs for the 4 axes of ``data_format``."""
    filter = filters if filter is None else filter
    data_format = _check_format("conv2d", data_format)
    stride = _pair("conv2d", "strides", strides, data_format)
    dilation = _pair("conv2d", "dilations", dilations, data_format)

    explicit = None if isinstance(padding, str) else _explicit_padding(padding, data_format)

    def fn(x, w):
        x = _to_nchw(_ranked("conv2d", "input", x, 4, data_format), data_format)
        w = _ranked("conv2d", "filter", w, 4, "height, width, in_channels, out_channels")
        kernel = tuple((k - 1) * d + 1 for k, d in zip(w.shape[:2], dilation))
        (top, bottom), (left, right) = explicit or padding_pairs("conv2d", padding, tuple(x.shape[2:]), kernel,
                                                                 stride)
        if top or bottom or left or right:
            x = ember.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        y = ember.conv2d(x, ember.transpose(w, (3, 2, 0, 1)), stride=stride, dilation=dilation)
        return _from_nchw(y, data_format)

    return op(fn, (as_tf(input), as_tf(filter)), name=name or "Conv2D")


def _pool(name: str, value, ksize, strides, padding, data_format, average: bool) -> Tensor:
    what = "avg_pool" if average else "max_pool"
    data_format = _check_format(name, data_format)
    kernel = _pair(name, "ksize", ksize, data_format)
    stride = _pair(name, "strides", strides, data_format)

    def fn(x):
        x = _to_nchw(_ranked(what, "value", x, 4, data_format), data_format)
        (top, bottom), (left, right) = padding_pairs(name, padding, tuple(x.shape[2:]), kernel, stride)
        pads = ((0, 0), (0, 0), (top, bottom), (left, right))
        if not average:
            if top or bottom or left or right:
                x = ember.pad(x, pads, float("-inf"))
            return _from_nchw(ember.max_pool2d(x, kernel, stride), data_format)
        if not (top or bottom or left or right):
            return _from_nchw(ember.avg_pool2d(x, kernel, stride), data_format)
        # TF averages over the window's pixels inside the image only
        total = ember.avg_pool2d(ember.pad(x, pads), kernel, stride)
        inside = ember.avg_pool2d(ember.pad(ember.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype), pads),
                                  kernel, stride)
        return _from_nchw(total / inside, data_format)

    return op(fn, (as_tf(value),), name=name)


def max_pool(value, ksize, strides, padding, data_format: str = "NHWC", name: str | None = None,
             input=None) -> Tensor:
    """Max pooling of NHWC ``value``; SAME padding pads with -inf."""
    return _pool(name or "MaxPool", input if value is None else value, ksize, strides, padding, data_format, False)


max_pool2d = max_pool


def avg_pool(value, ksize, strides, padding, data_format: str = "NHWC", name: str | None = None, input=None) -> Tensor:
    """Average pooling of NHWC ``value``; with SAME padding, windows average over the pixels inside."""
    return _pool(name or "AvgPool", input if value is None else value, ksize, strides, padding, data_format, True)


avg_pool2d = avg_pool


# --- losses -------------------------------------------------------------------------------------------------


def _named_only(function: str, sentinel) -> None:
    """TF-1's rule for the cross-entropy functions: labels and logits by name (positional ones are an easy
    swap of the two)."""
    if sentinel is not None:
        raise ValueError(f"tf.nn.{function}: call it with named arguments (labels=..., logits=...)")


def dense_cross_entropy(y, z, axis: int = -1):
    """``-sum(y * log_softmax(z))`` along ``axis`` with TF's gradient for ``z``: its kernel's ``softmax(z) - y``
    whatever the labels sum to (the exact ``softmax(z) * sum(y) - y`` differs for labels not summing to 1)."""
    total = ember.logsumexp(z, axis=axis, keepdims=True)
    loss = -ember.sum(y * (z - total), axis=axis)
    # a term of value zero whose gradient for z takes softmax(z) * (sum(y) - 1) back off
    excess = ember.sum(ember.stop_gradient(y), axis=axis) - 1.0
    return loss - excess * ember.squeeze(total - ember.stop_gradient(total), axis)


def softmax_cross_entropy_with_logits_v2(_sentinel=None, labels=None, logits=None, axis=None, name=None,
                                         dim=None) -> Tensor:
    """Per-example cross-entropy of ``softmax(logits)`` against the distributions ``labels``; the gradient
    reaches both."""
    _named_only("softmax_cross_entropy_with_logits_v2", _sentinel)
    axis = (-1 if dim is None else dim) if axis is None else axis

    def cross_entropy(y, z):
        if any(a != b and not {1, None} & {a, b} for a, b in zip(tuple(y.shape)[::-1], tuple(z.shape)[::-1])):
            raise ValueError(f"tf.nn.softmax_cross_entropy_with_logits: labels of shape {list(y.shape)} and logits "
                             f"of shape {list(z.shape)} must be the same shape (or broadcast to one)")
        y, z = ember.broadcast_tensors(y, z)  # TF's kernel broadcasts the two first: logits (2, 1), labels (1, 2)
        return dense_cross_entropy(y, z, axis)

    return op(cross_entropy, (as_tf(labels), as_tf(logits)), name=name or "softmax_cross_entropy_with_logits")


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1, name=None,
                                      axis=None) -> Tensor:
    """TF-1's first version: ``softmax_cross_entropy_with_logits_v2`` with no gradient into ``labels``."""
    _named_only("softmax_cross_entropy_with_logits", _sentinel)
    return softmax_cross_entropy_with_logits_v2(labels=FUNCTIONS["stop_gradient"](labels), logits=logits,
                                                axis=dim if axis is None else axis, name=name)


_NO_LABEL = int(np.iinfo(np.int64).min)


def sparse_cross_entropy(labels, logits):
    """Cross-entropy per index of ``labels`` (shape [d_0, ..., d_{r-1}]) against ``logits`` ([..., classes])."""
    if logits.ndim > 2:  # TF's classes are the last axis, cross_entropy's the second
        logits = ember.moveaxis(logits, -1, 1)
    # no label is ignored (TF refuses one outside [0, classes)): the ignore_index is one no label can hold
    return ember.cross_entropy(logits, ember.cast(labels, "int64"), ignore_index=_NO_LABEL, reduction="none")


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None) -> Tensor:
    """Per-example cross-entropy of ``softmax(logits)`` against class indices ``labels``."""
    _named_only("sparse_softmax_cross_entropy_with_logits", _sentinel)
    labels, logits = as_tf(labels), as_tf(logits)
    if labels.dtype is not None and labels.dtype.kind not in "iu":
        raise TypeError(f"tf.nn.sparse_softmax_cross_entropy_with_logits: labels must be int32 or int64 class "
                        f"indices, got '{labels.name}' of dtype {labels.dtype}")
    return op(sparse_cross_entropy, (labels, logits), name=name or "SparseSoftmaxCrossEntropyWithLogits")


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None) -> Tensor:
    """Elementwise logistic loss of ``logits`` against ``labels`` in [0, 1]."""
    _named_only("sigmoid_cross_entropy_with_logits", _sentinel)
    return op(lambda y, z: ember.binary_cross_entropy_with_logits(z, y, reduction="none"),
              (as_tf(labels), as_tf(logits)), name=name or "logistic_loss")


def in_top_k(predictions, targets, k: int, name: str | None = None) -> Tensor:
    """Whether each target's score is among the ``k`` largest of its row (ties count as in, as TF's); False for a
    target outside the row's classes or a row holding a score that is not finite, as TF's kernel. ``predictions``
    must be (batch, classes) and ``targets`` (batch,) integer class indices, as TF-1 requires."""
    predictions, targets = as_tf(predictions), as_tf(targets)
    if targets.dtype is not None and targets.dtype.kind not in "iu":
        raise TypeError(f"tf.nn.in_top_k: targets must be int32 or int64 class indices, got '{targets.name}' of "
                        f"dtype {targets.dtype}")

    def check(p_shape: tuple, t_shape: tuple) -> None:
        if len(p_shape) != 2 or len(t_shape) != 1 or None not in (p_shape[0], t_shape[0]) and \
                p_shape[0] != t_shape[0]:
            raise ValueError(f"tf.nn.in_top_k: predictions must be 2-D (batch, classes) and targets 1-D (batch,), "
                             f"got shapes {list(p_shape)} and {list(t_shape)}")

    if predictions.shape is not None and targets.shape is not None:
        check(tuple(predictions.shape), tuple(targets.shape))

    def fn(p, t):
        check(tuple(p.shape), tuple(t.shape))
        t = ember.cast(t, "int64")
        inside = ember.ge(t, 0) & ember.lt(t, p.shape[1])
        target = ember.gather(p, 1, ember.reshape(ember.where(inside, t, 0), (-1, 1)))
        found = ember.sum(ember.cast(ember.gt(p, target), "int32"), axis=1) < k
        return found & inside & ember.all(ember.isfinite(p), axis=1)

    return op(fn, (predictions, targets), name=name or "in_top_k")


def moments(x, axes, shift=None, name: str | None = None, keep_dims: bool = False, keepdims=None) -> tuple:
    """(mean, variance) over ``axes`` (ints, or one int); ``keepdims`` wins over the older ``keep_dims``."""
    axes = (int(axes),) if isinstance(axes, (int, np.integer)) else tuple(int(a) for a in axes)
    keep = bool(keep_dims if keepdims is None else keepdims)
    x = as_tf(x)
    mean = op(lambda a: ember.mean(a, axis=axes, keepdims=keep), (x,), name=name or "moments/mean")
    variance = op(lambda a: ember.var(a, axis=axes, keepdims=keep, ddof=0), (x,), name=name or "moments/variance")
    return mean, variance



softsign = activation_op("softsign", lambda x: x / (1.0 + ember.abs(x)), "Softsign")


def swish(features, beta: float = 1.0, name: str | None = None) -> Tensor:
    """``features * sigmoid(beta * features)``."""
    return op(lambda x: x * ember.sigmoid(x * beta) if beta != 1.0 else ember.silu(x), (as_tf(features),),
              name=name or "swish")


silu = swish


def gelu(features, approximate: bool = False, name: str | None = None) -> Tensor:
    """``x * P(X <= x)`` for a standard normal X (``approximate``: the tanh formula)."""
    return op(lambda x: ember.gelu(x, approximate="tanh" if approximate else "none"), (as_tf(features),),
              name=name or "Gelu")


def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None, name=None, targets=None) -> Tensor:
    """The logistic loss with the positive term weighted: ``pos_weight * y * -log(sigmoid(z)) + (1 - y) *
    -log(1 - sigmoid(z))``, elementwise."""
    labels = as_tf(targets if labels is None else labels)
    logits = as_tf(logits)
    if pos_weight is None:
        raise ValueError("tf.nn.weighted_cross_entropy_with_logits: pos_weight is required")
    if labels.shape is not None and logits.shape is not None and (len(labels.shape) != len(logits.shape) or any(
            a is not None and b is not None and a != b for a, b in zip(labels.shape, logits.shape))):
        raise ValueError(f"tf.nn.weighted_cross_entropy_with_logits: logits and labels must have the same shape "
                         f"(got {list(logits.shape)} and {list(labels.shape)})")

    def fn(y, z, w):
        y = ember.cast(y, z.dtype)
        log_weight = 1.0 + (w - 1.0) * y
        # (1 - y) z + log_weight * log(1 + exp(-z)), written to stay finite for large |z|
        return (1.0 - y) * z + log_weight * (ember.softplus(-ember.abs(z)) + ember.relu(-z))

    return op(fn, (labels, logits, as_tf(pos_weight)), name=name or "logistic_loss")


def log_poisson_loss(targets, log_input, compute_full_loss: bool = False, name: str | None = None) -> Tensor:
    """``exp(log_input) - targets * log_input``, plus Stirling's approximation of ``log(targets!)`` (for targets
    above 1) with ``compute_full_loss``. As TF-1's, the two must have one shape."""
    targets, log_input = as_tf(targets), as_tf(log_input)
    ts, cs = targets.shape, log_input.shape
    if ts is not None and cs is not None and (len(ts) != len(cs) or any(
            a is not None and b is not None and a != b for a, b in zip(ts, cs))):
        raise ValueError(f"tf.nn.log_poisson_loss: log_input and targets must have the same shape (got {list(cs)} "
                         f"and {list(ts)})")

    def fn(t, c):
        loss = ember.exp(c) - t * c
        if compute_full_loss:
            safe = ember.maximum(t, 1.0)
            stirling = safe * ember.log(safe) - safe + 0.5 * ember.log(2.0 * 3.141592653589793 * safe)
            loss = loss + ember.where(ember.gt(t, 1.0), stirling, t * 0.0)
        return loss

    return op(fn, (targets, log_input), name=name or "log_poisson_loss")


def zero_fraction(value, name: str | None = None) -> Tensor:
    """The fraction of zeros in ``value`` (float32)."""
    return op(lambda x: ember.mean(ember.cast(ember.eq(x, 0), "float32")), (as_tf(value),),
              name=name or "zero_fraction")


def conv1d(value=None, filters=None, stride=1, padding="VALID", use_cudnn_on_gpu=None, data_format: str = "NWC",
           name: str | None = None, input=None, dilations=None) -> Tensor:
    """1-D convolution of NWC (or NCW) ``value`` with a (width, in, out) ``filters``, SAME or VALID padding."""
    value = input if value is None else value
    if data_format not in ("NWC", "NCW"):
        raise ValueError(f"tf.nn.conv1d: data_format must be 'NWC' or 'NCW', got {data_format!r}")
    stride = _width("conv1d", "stride", stride, data_format)
    dilation = 1 if dilations is None else _width("conv1d", "dilations", dilations, data_format)
    axis = 1 if data_format == "NWC" else 2  # the width axis becomes a height-1 image
    image = op(lambda x: ember.unsqueeze(_ranked("conv1d", "value", x, 3, data_format), axis), (as_tf(value),),
               name="conv1d/ExpandDims")
    kernel = op(lambda w: ember.unsqueeze(_ranked("conv1d", "filters", w, 3, "width, in_channels, out_channels"), 0),
                (as_tf(filters),), name="conv1d/ExpandDims_1")
    out = conv2d(image, kernel, strides=(1, stride), padding=padding, data_format="NHWC" if data_format == "NWC"
                 else "NCHW", dilations=(1, dilation))
    return op(lambda y: ember.squeeze(y, axis), (out,), name=name or "conv1d")


def _width(name: str, arg: str, value, data_format: str) -> int:
    """TF's 1-D ``stride``/``dilations``: an int, or a list of 1 or 3 (batch, width and channels) ints."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = tuple(int(v) for v in value)
    if len(value) not in (1, 3):
        raise ValueError(f"tf.nn.{name}: {arg} must be an int or have 1 or 3 elements, got {list(value)}")
    return value[0] if len(value) == 1 else spatial_of_full(name, arg, value, data_format == "NWC")[0]


def conv2d_transpose(value=None, filter=None, output_shape=None, strides=None, padding="SAME",
                     data_format: str = "NHWC", name: str | None = None, input=None, filters=None,
                     dilations=None) -> Tensor:
    """The gradient of ``conv2d`` with respect to its input: ``value`` (N, H, W, in) with an (h, w, out, in)
    ``filter`` gives ``output_shape``, as TensorFlow's (SAME or VALID padding of that forward convolution)."""
    value = input if value is None else value
    filter = filters if filter is None else filter
    data_format = _check_format("conv2d_transpose", data_format)
    if dilations is not None and any(int(d) != 1 for d in np.ravel(dilations)):
        raise NotImplementedError("tf.nn.conv2d_transpose: dilations other than 1 are not supported")
    if output_shape is None:
        raise ValueError("tf.nn.conv2d_transpose: output_shape is required")
    if isinstance(output_shape, Tensor):
        raise TypeError("tf.nn.conv2d_transpose: output_shape must be a list of ints")
    out_shape = tuple(None if d is None else int(d) for d in output_shape)
    stride = _pair("conv2d_transpose", "strides", strides, data_format)
    if len(out_shape) != 4:
        raise ValueError(f"tf.nn.conv2d_transpose: output_shape must have 4 elements, got {list(out_shape)}")
    out_hw = out_shape[1:3] if data_format == "NHWC" else out_shape[2:4]
    out_channels = out_shape[3] if data_format == "NHWC" else out_shape[1]

    def fn(x, w):
        x = _to_nchw(_ranked("conv2d_transpose", "value", x, 4, data_format), data_format)
        w = _ranked("conv2d_transpose", "filter", w, 4, "height, width, out_channels, in_channels")
        kernel = tuple(w.shape[:2])
        if w.shape[3] != x.shape[1]:
            raise ValueError(f"tf.nn.conv2d_transpose: filter of shape {list(w.shape)} expects {w.shape[3]} input "
                             f"channels, the value has {x.shape[1]}")
        if out_shape[0] is not None and out_shape[0] != x.shape[0]:
            raise ValueError(f"tf.nn.conv2d_transpose: output_shape {list(out_shape)} has batch size {out_shape[0]}, "
                             f"the value of shape {list(_from_nchw(x, data_format).shape)} has {x.shape[0]}")
        if out_channels is not None and w.shape[2] != out_channels:
            raise ValueError(f"tf.nn.conv2d_transpose: output_shape {list(out_shape)} does not match the filter's "
                             f"output channels: filter of shape {list(w.shape)} gives {w.shape[2]}")
        (top, _), (left, _) = padding_pairs("conv2d_transpose", padding, out_hw, kernel, stride)
        expected = tuple(-(-o // s) if padding.upper() == "SAME" else (o - k) // s + 1
                         for o, k, s in zip(out_hw, kernel, stride))
        if tuple(x.shape[2:]) != expected:
            raise ValueError(f"tf.nn.conv2d_transpose: output_shape {list(out_shape)} gives a forward convolution "
                             f"output of {list(expected)}, the value has {list(x.shape[2:])}")
        full = ember.conv_transpose2d(x, ember.transpose(w, (3, 2, 0, 1)), stride=stride)
        # full[o + before] is the output at o; the forward's trailing rows it never read get zeros
        pads = []
        for axis, (before, o) in enumerate(zip((top, left), out_hw)):
            size = full.shape[2 + axis]
            pads.append((0, max(o + before - size, 0)))
        full = ember.pad(full, ((0, 0), (0, 0), *pads))
        y = full[:, :, top:top + out_hw[0], left:left + out_hw[1]]
        return _from_nchw(y, data_format)

    return op(fn, (as_tf(value), as_tf(filter)), name=name or "conv2d_transpose")


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name: str | None = None) -> Tensor:
    """``(x - mean) / sqrt(variance + variance_epsilon) * scale + offset`` (offset and scale may be None), in
    ``x``'s dtype: the statistics' scale and shift are cast to it, as TF-1's (a float16 ``x`` with float32
    moving averages stays float16)."""
    parts = [as_tf(t) for t in (x, mean, variance)]
    extra = [as_tf(t) for t in (offset, scale) if t is not None]

    def fn(a, m, v, *rest):
        rest = list(rest)
        b = rest.pop(0) if offset is not None else None
        g = rest.pop(0) if scale is not None else None
        inv = 1.0 / ember.sqrt(v + variance_epsilon)
        if g is not None:
            inv = inv * g
        shift = -m * inv if b is None else b - m * inv
        return a * ember.cast(inv, a.dtype) + ember.cast(shift, a.dtype)

    return op(fn, (*parts, *extra), name=name or "batchnorm")


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon: float = 0.001, data_format: str = "NHWC",
                     is_training: bool = True, name: str | None = None, exponential_avg_factor: float = 1.0) -> tuple:
    """(y, batch mean, batch variance) of a 4-D ``x`` normalized per channel. In training the statistics are the
    batch's (the returned variance with Bessel's correction, as TensorFlow returns it for the moving average); in
    inference ``mean`` and ``variance`` are used and returned. As TF-1's: ``epsilon`` is at least 1.001e-5, and a
    float16/bfloat16 ``x`` is normalized in float32 (y in x's dtype, the statistics in float32)."""
    fmt = _check_format("fused_batch_norm", data_format)
    axes = (0, 1, 2) if fmt == "NHWC" else (0, 2, 3)
    epsilon = max(float(epsilon), 1.001e-5)  # TF's floor (cuDNN's minimum), applied on every device
    x = as_tf(x)
    if x.shape is not None and len(x.shape) != 4:
        raise ValueError(f"tf.nn.fused_batch_norm: x must be 4-D, got shape {list(x.shape)}")
    if x.dtype is not None and x.dtype.itemsize == 2 and x.dtype.kind in "fV":
        x_dtype = x.dtype
        x = op(lambda a: ember.cast(a, "float32"), (x,), name="FusedBatchNorm/Cast")
    else:
        x_dtype = None

    def normalize(a, m, v, g, b):
        inv = 1.0 / ember.sqrt(v + epsilon) * g
        shift = b - m * inv
        if fmt == "NCHW":
            inv, shift = ember.reshape(inv, (1, -1, 1, 1)), ember.reshape(shift, (1, -1, 1, 1))
        y = a * inv + shift
        return y if x_dtype is None else ember.cast(y, x_dtype)

    if is_training:
        if mean is not None or variance is not None:
            raise ValueError("tf.nn.fused_batch_norm: mean and variance must be None when is_training=True (the "
                             "batch's statistics are used)")
        batch_mean, biased = moments(x, list(axes))
        y = op(normalize, (x, batch_mean, biased, as_tf(scale), as_tf(offset)), name=name or "FusedBatchNorm")

        def corrected(a, v):
            n = 1
            for axis in axes:
                n *= a.shape[axis]
            return v * (n / max(n - 1, 1))

        return y, batch_mean, op(corrected, (x, biased), name="FusedBatchNorm/variance")
    if mean is None or variance is None:
        raise ValueError("tf.nn.fused_batch_norm: mean and variance are required when is_training=False")
    mean, variance = as_tf(mean), as_tf(variance)

    y = op(normalize, (x, mean, variance, as_tf(scale), as_tf(offset)), name=name or "FusedBatchNorm")
    return y, mean, variance


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

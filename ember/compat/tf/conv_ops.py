"""``tf.nn``'s depthwise, separable, atrous and 3-D convolutions, 3-D pooling, local response normalization and
CTC loss, as TensorFlow 1.15 computes them, over Ember's channels-first ops (TF's SAME padding made explicit)."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, op

__all__ = [
    "atrous_conv2d", "avg_pool3d", "conv3d", "ctc_loss", "ctc_loss_v2", "depthwise_conv2d",
    "local_response_normalization", "lrn", "max_pool3d", "separable_conv2d",
]

_FORMATS = {2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def same_padding(size: int, kernel: int, stride: int) -> tuple:
    """TF's SAME padding of one axis: output ceil(size / stride); the odd pixel goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def padding_pairs(name: str, padding, sizes: tuple, kernel: tuple, stride: tuple) -> tuple:
    """(before, after) per spatial axis for TF's padding string."""
    if not isinstance(padding, str) or padding.upper() not in ("SAME", "VALID"):
        raise ValueError(f"tf.nn.{name}: padding must be 'SAME' or 'VALID', got {padding!r}")
    if padding.upper() == "VALID":
        return ((0, 0),) * len(sizes)
    return tuple(same_padding(s, k, st) for s, k, st in zip(sizes, kernel, stride))


def _format(name: str, data_format: str | None, rank: int) -> bool:
    """Whether ``data_format`` is channels-last (NHWC, NDHWC), checked."""
    last, first = _FORMATS[rank]
    data_format = data_format or last
    if data_format not in (last, first):
        raise ValueError(f"tf.nn.{name}: data_format must be '{last}' or '{first}', got {data_format!r}")
    return data_format == last


def _spatial(name: str, arg: str, value, rank: int, channels_last: bool) -> tuple:
    """TF's ``strides``/``ksize``/``dilations`` (an int, ``rank`` ints, or ``rank + 2`` ints) per spatial axis."""
    if value is None:
        return (1,) * rank
    if isinstance(value, (int, np.integer)):
        return (int(value),) * rank
    value = tuple(int(v) for v in value)
    if len(value) == rank:
        return value
    if len(value) != rank + 2:
        raise ValueError(f"tf.nn.{name}: {arg} must have 1, {rank} or {rank + 2} elements, got {list(value)}")
    return spatial_of_full(name, arg, value, channels_last)


def spatial_of_full(name: str, arg: str, value: tuple, channels_last: bool) -> tuple:
    """The spatial entries of TF's full-rank ``strides``/``ksize``/``dilations`` (batch, spatial..., channels, or
    channels first), whose batch and channel entries must be 1: TF refuses others, which would not be read here."""
    batch, channels = value[0], value[-1] if channels_last else value[1]
    if batch != 1 or channels != 1:
        raise ValueError(f"tf.nn.{name}: {arg} {list(value)} must be 1 in the batch and channel dimensions (TensorFlow "
                         "supports them only along the spatial axes)")
    return value[1:-1] if channels_last else value[2:]


def _first(x, channels_last: bool):
    return ember.moveaxis(x, -1, 1) if channels_last else x


def _last(y, channels_last: bool):
    return ember.moveaxis(y, 1, -1) if channels_last else y


def _pad(x, pairs: tuple, value: float = 0.0):
    if not any(before or after for before, after in pairs):
        return x
    return ember.pad(x, ((0, 0), (0, 0), *pairs), value)


def _conv(name: str, x, w, groups: int, stride: tuple, dilation: tuple, padding, channels_last: bool):
    """Convolution of ``x`` with a TF-layout filter (spatial..., in / groups, out), SAME or VALID padding."""
    rank = len(stride)
    if x.ndim != rank + 2 or w.ndim != rank + 2:
        raise ValueError(f"tf.nn.{name}: the input must be {rank + 2}-D and the filter {rank + 2}-D, got shapes "
                         f"{list(x.shape)} and {list(w.shape)}")
    x = _first(x, channels_last)
    if x.shape[1] != w.shape[rank] * groups:
        raise ValueError(f"tf.nn.{name}: the filter of shape {list(w.shape)} expects {w.shape[rank] * groups} input "
                         f"channels, the input has {x.shape[1]}")
    kernel = tuple((k - 1) * d + 1 for k, d in zip(w.shape[:rank], dilation))
    x = _pad(x, padding_pairs(name, padding, tuple(x.shape[2:]), kernel, stride))
    weight = ember.transpose(w, (rank + 1, rank, *range(rank)))
    conv = ember.conv2d if rank == 2 else ember.conv3d
    return _last(conv(x, weight, stride=stride, dilation=dilation, groups=groups), channels_last)


def _depthwise_filter(w):
    """TF's depthwise filter (h, w, in, multiplier) as a grouped one (h, w, 1, in * multiplier): output channel
    ``c * multiplier + m`` reads input channel c."""
    h, k, channels, multiplier = w.shape
    return ember.reshape(w, (h, k, 1, channels * multiplier))


def _rate(name: str, rate, dilations, strides: tuple, channels_last: bool) -> tuple:
    if rate is not None and dilations is not None:
        raise ValueError(f"tf.nn.{name}: give rate or dilations, not both")
    dilation = _spatial(name, "rate", rate if rate is not None else dilations, 2, channels_last)
    if max(dilation) > 1 and max(strides) > 1:
        raise ValueError(f"tf.nn.{name}: strides {list(strides)} must be 1 when the rate is {list(dilation)} "
                         "(as in TensorFlow)")
    return dilation


def depthwise_conv2d(input, filter, strides, padding, rate=None, name: str | None = None, data_format=None,
                     dilations=None) -> Tensor:
    """Each input channel convolved with its own ``multiplier`` filters: ``filter`` (h, w, in, multiplier) gives
    in * multiplier output channels, channel ``c * multiplier + m`` from input channel c."""
    last = _format("depthwise_conv2d", data_format, 2)
    stride = _spatial("depthwise_conv2d", "strides", strides, 2, last)
    dilation = _rate("depthwise_conv2d", rate, dilations, stride, last)

    def fn(x, w):
        if w.ndim != 4:
            raise ValueError(f"tf.nn.depthwise_conv2d: the filter must be 4-D (h, w, in, multiplier), got shape "
                             f"{list(w.shape)}")
        groups = int(w.shape[2])
        return _conv("depthwise_conv2d", x, _depthwise_filter(w), groups, stride, dilation, padding, last)

    return op(fn, (as_tf(input), as_tf(filter)), name=name or "depthwise")


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding, rate=None, name: str | None = None,
                     data_format=None, dilations=None) -> Tensor:
    """``depthwise_conv2d`` followed by a 1x1 convolution with ``pointwise_filter`` (1, 1, in * multiplier, out)."""
    last = _format("separable_conv2d", data_format, 2)
    stride = _spatial("separable_conv2d", "strides", strides, 2, last)
    dilation = _rate("separable_conv2d", rate, dilations, stride, last)

    def fn(x, depthwise, pointwise):
        if pointwise.ndim != 4 or tuple(pointwise.shape[:2]) != (1, 1):
            raise ValueError(f"tf.nn.separable_conv2d: the pointwise filter must be (1, 1, in * multiplier, out), got "
                             f"shape {list(pointwise.shape)}")
        y = _conv("separable_conv2d", x, _depthwise_filter(depthwise), int(depthwise.shape[2]), stride, dilation,
                  padding, last)
        return _conv("separable_conv2d", y, pointwise, 1, (1, 1), (1, 1), "VALID", last)

    return op(fn, (as_tf(input), as_tf(depthwise_filter), as_tf(pointwise_filter)), name=name or "separable_conv2d")


def atrous_conv2d(value, filters, rate: int, padding, name: str | None = None) -> Tensor:
    """NHWC convolution with ``filters`` (h, w, in, out) dilated by ``rate`` (holes between the taps), stride 1."""
    rate = int(rate)
    if rate < 1:
        raise ValueError(f"tf.nn.atrous_conv2d: rate must be >= 1, got {rate}")
    return op(lambda x, w: _conv("atrous_conv2d", x, w, 1, (1, 1), (rate, rate), padding, True),
              (as_tf(value), as_tf(filters)), name=name or "convolution")


def conv3d(input, filter=None, strides=None, padding=None, data_format: str = "NDHWC", dilations=(1, 1, 1, 1, 1),
           name: str | None = None, filters=None) -> Tensor:
    """3-D convolution of NDHWC ``input`` with a (d, h, w, in, out) ``filter``, SAME or VALID padding."""
    filter = filters if filter is None else filter
    last = _format("conv3d", data_format, 3)
    stride = _spatial("conv3d", "strides", strides, 3, last)
    dilation = _spatial("conv3d", "dilations", dilations, 3, last)
    return op(lambda x, w: _conv("conv3d", x, w, 1, stride, dilation, padding, last),
              (as_tf(input), as_tf(filter)), name=name or "Conv3D")


def _pool3d(name: str, input, ksize, strides, padding, data_format, average: bool) -> Tensor:
    last = _format(name, data_format, 3)
    kernel = _spatial(name, "ksize", ksize, 3, last)
    stride = _spatial(name, "strides", strides, 3, last)

    def fn(x):
        if x.ndim != 5:
            raise ValueError(f"tf.nn.{name}: the input must be 5-D, got shape {list(x.shape)}")
        x = _first(x, last)
        pairs = padding_pairs(name, padding, tuple(x.shape[2:]), kernel, stride)
        if not average:
            return _last(ember.max_pool3d(_pad(x, pairs, float("-inf")), kernel, stride), last)
        total = ember.avg_pool3d(_pad(x, pairs), kernel, stride)
        if any(before or after for before, after in pairs):  # TF averages over the window's voxels inside only
            inside = ember.avg_pool3d(_pad(ember.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype), pairs), kernel,
                                      stride)
            total = total / inside
        return _last(total, last)

    return op(fn, (as_tf(input),), name=name)


def max_pool3d(input, ksize, strides, padding, data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """Max pooling of NDHWC ``input``; SAME padding pads with -inf."""
    return _pool3d(name or "MaxPool3D", input, ksize, strides, padding, data_format, False)


def avg_pool3d(input, ksize, strides, padding, data_format: str = "NDHWC", name: str | None = None) -> Tensor:
    """Average pooling of NDHWC ``input``; with SAME padding, windows average over the voxels inside."""
    return _pool3d(name or "AvgPool3D", input, ksize, strides, padding, data_format, True)


def local_response_normalization(input, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0,
                                 beta: float = 0.5, name: str | None = None) -> Tensor:
    """TF's LRN over the last axis: ``x / (bias + alpha * sqr_sum) ** beta``, ``sqr_sum`` the sum of squares of
    the channels ``d - depth_radius .. d + depth_radius`` (TF's alpha multiplies the sum; PyTorch's
    ``local_response_norm`` divides its alpha by the window size)."""
    radius = int(depth_radius)
    if radius < 0:
        raise ValueError(f"tf.nn.local_response_normalization: depth_radius must be >= 0, got {radius}")

    def fn(x):
        if x.ndim != 4:
            raise ValueError(f"tf.nn.local_response_normalization: the input must be 4-D, got shape {list(x.shape)}")
        channels = int(x.shape[-1])
        squares = ember.pad(x * x, ((0, 0),) * 3 + ((radius, radius),))
        window = squares[..., 0:channels]
        for k in range(1, 2 * radius + 1):
            window = window + squares[..., k:k + channels]
        return x * ember.power(window * alpha + bias, -beta)

    return op(fn, (as_tf(input),), name=name or "LRN")


lrn = local_response_normalization


def _ctc(name: str, labels, logits, label_length, logit_length, time_major: bool, blank, zero_infinity: bool):
    if label_length is None or logit_length is None:
        raise TypeError(f"tf.nn.{name}: give dense labels (batch, max_label_length) with label_length and "
                        "logit_length (SparseTensor labels are not supported)")

    def fn(y, z, y_len, z_len):
        if z.ndim != 3 or y.ndim != 2:
            raise ValueError(f"tf.nn.{name}: logits must be 3-D and labels 2-D (batch, max_label_length), got shapes "
                             f"{list(z.shape)} and {list(y.shape)}")
        if not time_major:
            z = ember.transpose(z, (1, 0, 2))
        classes = int(z.shape[-1])
        index = classes - 1 if blank is None else int(blank) % classes
        log_probs = ember.log_softmax(ember.cast(z, "float32") if z.dtype != np.float64 else z, axis=-1)
        return ember.ctc_loss(log_probs, ember.cast(y, "int64"), ember.cast(z_len, "int64"),
                              ember.cast(y_len, "int64"), blank=index, reduction="none", zero_infinity=zero_infinity)

    return op(fn, (as_tf(labels), as_tf(logits), as_tf(label_length), as_tf(logit_length)), name=name)


def ctc_loss(labels, inputs=None, sequence_length=None, preprocess_collapse_repeated: bool = False,
             ctc_merge_repeated: bool = True, ignore_longer_outputs_than_inputs: bool = False, time_major: bool = True,
             logits=None, label_length=None) -> Tensor:
    """TF-1's per-sequence CTC loss ``-log p(labels | inputs)`` of unnormalized ``inputs`` (max_time, batch,
    classes) (batch-major when not ``time_major``), the blank being the last class. TF-1 takes a SparseTensor of
    labels; here ``labels`` are dense (batch, max_label_length) with their lengths in ``label_length``.
    ``ignore_longer_outputs_than_inputs`` gives impossible sequences a zero loss and gradient."""
    if preprocess_collapse_repeated or not ctc_merge_repeated:
        raise NotImplementedError("tf.nn.ctc_loss: only preprocess_collapse_repeated=False, ctc_merge_repeated=True "
                                  "(TF's defaults) are supported")
    logits = inputs if logits is None else logits
    return _ctc("ctc_loss", labels, logits, label_length, sequence_length, time_major, None,
                ignore_longer_outputs_than_inputs)


def ctc_loss_v2(labels, logits, label_length, logit_length, logits_time_major: bool = True, unique=None,
                blank_index=None, name: str | None = None) -> Tensor:
    """TF 2's ``ctc_loss`` (TF 1.15's ``tf.nn.ctc_loss_v2``): dense ``labels`` (batch, max_label_length), the
    blank class ``blank_index`` (0 when None; negative counts from the end)."""
    return _ctc(name or "ctc_loss_v2", labels, logits, label_length, logit_length, logits_time_major,
                0 if blank_index is None else blank_index, False)

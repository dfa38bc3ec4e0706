"""More of ``tf.nn``, as TensorFlow 1.15: moments from sufficient statistics, N-d ``convolution`` and ``pool``,
``max_pool_with_argmax`` and grayscale morphology (``dilation2d``/``erosion2d``), each a recipe over Ember ops."""

from __future__ import annotations

import itertools

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, int64, op, outputs
from ember.compat.tf.conv_ops import padding_pairs, spatial_of_full
from ember.compat.tf.host_ops import py_func

__all__ = [
    "compute_accidental_hits", "convolution", "ctc_greedy_decoder", "dilation2d", "erosion2d",
    "max_pool_with_argmax", "normalize_moments", "pool", "sufficient_statistics", "weighted_moments",
]


# --- moments ------------------------------------------------------------------------------------------------


def _axes(axes) -> tuple:
    return (int(axes),) if isinstance(axes, (int, np.integer)) else tuple(int(a) for a in axes)


def _keep(keep_dims, keepdims) -> bool:
    return bool(keep_dims if keepdims is None else keepdims)


def sufficient_statistics(x, axes, shift=None, keep_dims=None, name: str | None = None, keepdims=None) -> tuple:
    """(count, sum of ``x - shift``, sum of ``(x - shift) ** 2``, ``shift``) over ``axes``: the count in ``x``'s
    dtype, ``shift`` None when not given (then the sums are of ``x`` and ``x ** 2``)."""
    axes, keep, x = _axes(axes), _keep(keep_dims, keepdims), as_tf(x)
    base = name or "SufficientStatistics"

    def count(a):
        return ember.as_tensor(np.prod([a.shape[i] for i in axes], dtype=np.int64), dtype=a.dtype)

    def shifted(a, *s):
        return a - s[0] if s else a

    extra = () if shift is None else (as_tf(shift),)
    counts = op(count, (x,), name=f"{base}/count")
    mean_ss = op(lambda a, *s: ember.sum(shifted(a, *s), axis=axes, keepdims=keep), (x, *extra),
                 name=f"{base}/mean_ss")
    var_ss = op(lambda a, *s: ember.sum(ember.square(shifted(a, *s)), axis=axes, keepdims=keep), (x, *extra),
                name=f"{base}/var_ss")
    return counts, mean_ss, var_ss, (extra[0] if extra else None)


def normalize_moments(counts, mean_ss, variance_ss, shift, name: str | None = None) -> tuple:
    """(mean, variance) from ``sufficient_statistics``' sums: ``variance_ss / counts - (mean_ss / counts) ** 2``,
    the mean moved back by ``shift`` where one was given."""
    extra = () if shift is None else (as_tf(shift),)
    args = (as_tf(counts), as_tf(mean_ss), as_tf(variance_ss), *extra)
    base = name or "normalize"

    def mean(c, m, v, *s):
        return m / c + s[0] if s else m / c

    def variance(c, m, v, *s):
        return v / c - ember.square(m / c)

    return op(mean, args, name=f"{base}/mean"), op(variance, args, name=f"{base}/variance")


def weighted_moments(x, axes, frequency_weights, name: str | None = None, keep_dims=None, keepdims=None) -> tuple:
    """(mean, variance) of ``x`` over ``axes`` with ``frequency_weights`` (broadcast against ``x``): sums of
    ``w * x`` and ``w * (x - mean) ** 2`` over the sum of the broadcast weights. A float16 ``x`` is summed in
    float32 (its moments cast back), as TF-1's."""
    axes, keep = _axes(axes), _keep(keep_dims, keepdims)
    x, w = as_tf(x), as_tf(frequency_weights)
    base = name or "weighted_moments"

    def parts(a, b):
        if a.dtype == np.float16:  # float16's range overflows in the sums (TF-1 sums in float32 too)
            return tuple(ember.cast(m, a.dtype) for m in parts(ember.cast(a, "float32"), b))
        b = ember.cast(b, a.dtype)
        total = ember.sum(b + ember.zeros_like(a), axis=axes, keepdims=True)
        mean = ember.sum(a * b, axis=axes, keepdims=True) / total
        var = ember.sum(b * ember.square(a - mean), axis=axes, keepdims=True) / total
        return mean, var

    def squeeze(y):
        return y if keep else ember.squeeze(y, axis=axes)

    return (op(lambda a, b: squeeze(parts(a, b)[0]), (x, w), name=f"{base}/mean"),
            op(lambda a, b: squeeze(parts(a, b)[1]), (x, w), name=f"{base}/variance"))


# --- N-d convolution and pooling ----------------------------------------------------------------------------

_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _rank_of(name: str, x: Tensor, given: int | None = None) -> int:
    if x.shape is None:
        if given is None:
            raise ValueError(f"tf.nn.{name}: the input's rank must be known (got an input of unknown shape)")
        return given
    rank = len(x.shape) - 2
    if rank not in _FORMATS or (given is not None and given != rank):
        want = f"{given + 2} ({given} spatial axes)" if given is not None else "3, 4 or 5"
        raise ValueError(f"tf.nn.{name}: the input must have rank {want}: batch, spatial..., channels; got shape "
                         f"{list(x.shape)}")
    return rank


def _channels_last(name: str, data_format, rank: int) -> bool:
    last, first = _FORMATS[rank]
    if data_format is None or data_format == last:
        return True
    if data_format == first:
        return False
    raise ValueError(f"tf.nn.{name}: data_format for a {rank}-D input must be {last!r} or {first!r}, got "
                     f"{data_format!r}")


def _per_axis(name: str, arg: str, value, rank: int) -> tuple:
    if value is None:
        return (1,) * rank
    value = (int(value),) * rank if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(value) != rank or min(value) < 1:
        raise ValueError(f"tf.nn.{name}: {arg} must be {rank} integers >= 1 (one per spatial axis), got {list(value)}")
    return value


def _strides_and_rates(name: str, strides, dilation_rate, dilations, rank: int) -> tuple:
    if dilations is not None and dilation_rate is not None:
        raise ValueError(f"tf.nn.{name}: give dilation_rate or dilations, not both")
    stride = _per_axis(name, "strides", strides, rank)
    rate = _per_axis(name, "dilation_rate", dilations if dilation_rate is None else dilation_rate, rank)
    if max(stride) > 1 and max(rate) > 1:
        raise ValueError(f"tf.nn.{name}: strides > 1 ({list(stride)}) are not supported together with "
                         f"dilation_rate > 1 ({list(rate)})")
    return stride, rate


def _to_first(x, last: bool):
    return ember.moveaxis(x, -1, 1) if last else x


def _to_last(y, last: bool):
    return ember.moveaxis(y, 1, -1) if last else y


def _pad_spatial(x, pairs: tuple, value: float = 0.0):
    """``x`` (batch, channels, spatial...) padded with ``value`` on the spatial axes."""
    if not any(before or after for before, after in pairs):
        return x
    return ember.pad(x, ((0, 0), (0, 0), *pairs), value)


def convolution(input, filter=None, padding=None, strides=None, dilation_rate=None, name: str | None = None,
                data_format=None, filters=None, dilations=None) -> Tensor:
    """N-d (1, 2 or 3 spatial axes) convolution of ``input`` with a (spatial..., in, out) ``filter``, SAME or
    VALID padding, ``strides`` and ``dilation_rate`` per spatial axis (not both above 1, as TF-1)."""
    if filter is not None and filters is not None:
        raise ValueError("tf.nn.convolution: give filter or filters, not both")
    x, w = as_tf(input), as_tf(filter if filter is not None else filters)
    rank = _rank_of("convolution", x, None if w.shape is None else len(w.shape) - 2)
    last = _channels_last("convolution", data_format, rank)
    stride, rate = _strides_and_rates("convolution", strides, dilation_rate, dilations, rank)
    if w.shape is not None and len(w.shape) != rank + 2:
        raise ValueError(f"tf.nn.convolution: the filter must have rank {rank + 2} (spatial..., in, out), got shape "
                         f"{list(w.shape)}")
    if x.shape is not None and w.shape is not None:
        channels = x.shape[-1] if last else x.shape[1]
        if channels is not None and w.shape[rank] is not None and channels != w.shape[rank]:
            raise ValueError(f"tf.nn.convolution: the input has {channels} channels, the filter of shape "
                             f"{list(w.shape)} expects {w.shape[rank]}")
    conv = {1: ember.conv1d, 2: ember.conv2d, 3: ember.conv3d}[rank]

    def fn(a, k):
        a = _to_first(a, last)
        kernel = tuple((s - 1) * d + 1 for s, d in zip(k.shape[:rank], rate))
        a = _pad_spatial(a, padding_pairs("convolution", padding, tuple(a.shape[2:]), kernel, stride))
        weight = ember.transpose(k, (rank + 1, rank, *range(rank)))
        if rank == 1:
            return _to_last(conv(a, weight, stride=stride[0], dilation=rate[0]), last)
        return _to_last(conv(a, weight, stride=stride, dilation=rate), last)

    return op(fn, (x, w), name=name or "convolution")


def _window_slices(shape: tuple, window: tuple, stride: tuple, rate: tuple) -> tuple:
    """The output size per axis and, per window offset, the slices of the (padded) spatial axes it reads."""
    out = tuple((n - ((k - 1) * d + 1)) // s + 1 for n, k, s, d in zip(shape, window, stride, rate))
    slices = []
    for offset in itertools.product(*(range(k) for k in window)):
        slices.append(tuple(slice(z * d, z * d + (o - 1) * s + 1, s) for z, d, o, s in zip(offset, rate, out, stride)))
    return out, slices


def pool(input, window_shape, pooling_type: str, padding, dilation_rate=None, strides=None, name: str | None = None,
         data_format=None, dilations=None) -> Tensor:
    """N-d max ("MAX") or average ("AVG") pooling over ``window_shape``; the reduction never includes the
    positions SAME padding adds (an average divides by the count of positions inside the input)."""
    if pooling_type not in ("MAX", "AVG"):
        raise ValueError(f"tf.nn.pool: pooling_type must be 'MAX' or 'AVG', got {pooling_type!r}")
    x = as_tf(input)
    window = tuple(int(k) for k in window_shape)
    rank = _rank_of("pool", x, len(window))
    last = _channels_last("pool", data_format, rank)
    window = _per_axis("pool", "window_shape", window, rank)
    stride, rate = _strides_and_rates("pool", strides, dilation_rate, dilations, rank)
    kernel = tuple((k - 1) * d + 1 for k, d in zip(window, rate))

    def fn(a):
        a = _to_first(a, last)
        pairs = padding_pairs("pool", padding, tuple(a.shape[2:]), kernel, stride)
        if pooling_type == "MAX":
            pooled = {1: ember.max_pool1d, 2: ember.max_pool2d, 3: ember.max_pool3d}[rank]
            padded = _pad_spatial(a, pairs, float("-inf"))
            if rank == 1:
                return _to_last(pooled(padded, window[0], stride[0], dilation=rate[0]), last)
            return _to_last(pooled(padded, window, stride, dilation=rate), last)
        padded = _pad_spatial(a, pairs)
        shape = tuple(padded.shape[2:])
        out, slices = _window_slices(shape, window, stride, rate)
        inside = np.pad(np.ones(tuple(a.shape[2:])), pairs)
        counts = sum(inside[s] for s in slices)
        total = None
        for s in slices:
            part = padded[(slice(None), slice(None), *s)]
            total = part if total is None else total + part
        return _to_last(total / ember.as_tensor(counts.astype(np.dtype(a.dtype))), last)

    return op(fn, (x,), name=name or ("max_pool" if pooling_type == "MAX" else "avg_pool"))


# --- max pooling's argmax -----------------------------------------------------------------------------------


def _four(name: str, arg: str, value) -> tuple:
    value = (int(value),) * 2 if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(value) == 2:
        return value
    if len(value) != 4:
        raise ValueError(f"tf.nn.{name}: {arg} must have 1, 2 or 4 elements, got {list(value)}")
    return spatial_of_full(name, arg, value, True)


def max_pool_with_argmax(input, ksize, strides, padding, data_format: str = "NHWC", Targmax=None,  # noqa: N803
                         name: str | None = None, output_dtype=None, include_batch_in_index: bool = False) -> tuple:
    """(max pooled NHWC ``input``, the flat index of each maximum): ``(y * width + x) * channels + c``, plus
    ``b * height * width * channels`` with ``include_batch_in_index``; the index dtype ``Targmax`` (int64)."""
    if data_format != "NHWC":
        raise ValueError(f"tf.nn.max_pool_with_argmax: data_format must be 'NHWC' (TF-1's only layout for it), got "
                         f"{data_format!r}")
    given = [as_tf_dtype(d) for d in (Targmax, output_dtype) if d is not None]
    if len(set(given)) > 1:
        raise ValueError(f"tf.nn.max_pool_with_argmax: Targmax ({given[0]}) and output_dtype ({given[1]}) disagree")
    index_dtype = given[0] if given else np.dtype(np.int64)
    if index_dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise TypeError(f"tf.nn.max_pool_with_argmax: Targmax must be int32 or int64, got {index_dtype}")
    x = as_tf(input)
    _rank_of("max_pool_with_argmax", x, 2)
    kernel = _four("max_pool_with_argmax", "ksize", ksize)
    stride = _four("max_pool_with_argmax", "strides", strides)

    def pooled(a):
        height, width = a.shape[1], a.shape[2]
        pairs = padding_pairs("max_pool_with_argmax", padding, (height, width), kernel, stride)
        return ember.max_pool2d(_pad_spatial(_to_first(a, True), pairs, float("-inf")), kernel, stride,
                                return_indices=True), pairs

    def values(a):
        return _to_last(pooled(a)[0][0], True)

    def argmax(a):
        batch, height, width, channels = a.shape
        (_, index), ((top, _), (left, right)) = pooled(a)
        padded_width = width + left + right
        y, xx = index // padded_width - top, index % padded_width - left
        flat = (y * width + xx) * channels + ember.reshape(ember.arange(channels, dtype=index.dtype),
                                                          (1, channels, 1, 1))
        if include_batch_in_index:
            flat = flat + ember.reshape(ember.arange(batch, dtype=index.dtype) * (height * width * channels),
                                        (batch, 1, 1, 1))
        return ember.cast(_to_last(flat, True), index_dtype)

    return tuple(outputs((values, argmax), (x,), name=name or "MaxPoolWithArgmax"))


# --- grayscale morphology -----------------------------------------------------------------------------------


def _morphology(name: str, op_name: str, x, kernel, strides, rates, padding, erode: bool) -> Tensor:
    x, k = as_tf(x), as_tf(kernel)
    _rank_of(name, x, 2)
    if k.shape is not None and len(k.shape) != 3:
        raise ValueError(f"tf.nn.{name}: the filter must be 3-D (height, width, channels), got shape "
                         f"{list(k.shape)}")
    if x.shape is not None and k.shape is not None and None not in (x.shape[3], k.shape[2]) and \
            x.shape[3] != k.shape[2]:
        raise ValueError(f"tf.nn.{name}: the input has {x.shape[3]} channels, the filter of shape {list(k.shape)} "
                         f"has {k.shape[2]}")
    stride = _four(name, "strides", strides)
    rate = _four(name, "rates", rates)

    def fn(a, f):
        if erode:  # erosion is the dilation of -a by the mirrored filter, negated
            a, f = -a, ember.flip(f, (0, 1))
        window = tuple(f.shape[:2])
        extent = tuple((w - 1) * r + 1 for w, r in zip(window, rate))
        pairs = padding_pairs(name, padding, tuple(a.shape[1:3]), extent, stride)
        padded = ember.pad(a, ((0, 0), *pairs, (0, 0)), float("-inf"))
        _, slices = _window_slices(tuple(padded.shape[1:3]), window, stride, rate)
        offsets = list(itertools.product(range(window[0]), range(window[1])))
        parts = [padded[(slice(None), *s, slice(None))] + f[dy, dx] for s, (dy, dx) in zip(slices, offsets)]
        out = ember.max(ember.stack(parts, axis=0), axis=0)
        return -out if erode else out

    return op(fn, (x, k), name=op_name)


def dilation2d(input, filter=None, strides=None, rates=None, padding=None, name: str | None = None, filters=None,
               dilations=None) -> Tensor:
    """Grayscale dilation of NHWC ``input`` by a (height, width, channels) ``filter``: the max over the window
    of ``input + filter``, each channel on its own; ``strides``/``rates`` are [1, h, w, 1]."""
    return _morphology("dilation2d", name or "Dilation2D", input, filter if filter is not None else filters, strides,
                       rates if rates is not None else dilations, padding, False)


def erosion2d(value, kernel, strides, rates, padding, name: str | None = None) -> Tensor:
    """Grayscale erosion of NHWC ``value`` by ``kernel``: the min over the window of ``value - kernel`` (the
    kernel mirrored), each channel on its own."""
    return _morphology("erosion2d", name or "Erosion2D", value, kernel, strides, rates, padding, True)


# --- CTC greedy decoding and accidental hits (value-sized: computed on the host) ----------------------------


def _greedy_paths(logits: np.ndarray, lengths: np.ndarray, merge_repeated: bool) -> np.ndarray:
    steps, batch, classes = logits.shape
    if lengths.shape != (batch,) or (lengths < 0).any() or (lengths > steps).any():
        raise ValueError(f"tf.nn.ctc_greedy_decoder: sequence_length must be {batch} lengths in [0, {steps}], got "
                         f"{lengths.tolist()}")
    paths = []
    for b in range(batch):
        best, path, previous = np.argmax(logits[:int(lengths[b]), b], axis=-1), [], -1
        for label in best.tolist():
            if label != classes - 1 and not (merge_repeated and label == previous):
                path.append(label)
            previous = label
        paths.append(path)
    dense = np.full((batch, max((len(p) for p in paths), default=0)), -1, np.int64)
    for b, path in enumerate(paths):
        dense[b, :len(path)] = path
    return dense


def ctc_greedy_decoder(inputs, sequence_length, merge_repeated: bool = True) -> tuple:
    """Best-path decoding of (max_time, batch, num_classes) logits, the blank the last class: each step's
    most likely class, repeats merged (``merge_repeated``), blanks dropped. Ember has no SparseTensor, so the
    decoded paths come as TF-1's sparse result densified (as ``tf.sparse.to_dense(..., default_value=-1)``):
    ``([int64 (batch, longest path) padded with -1], neg_sum_logits (batch, 1))``, the second minus the sum over
    each sequence's steps of its largest logit."""
    logits, lengths = as_tf(inputs), as_tf(sequence_length)
    if logits.shape is not None and len(logits.shape) != 3:
        raise ValueError(f"tf.nn.ctc_greedy_decoder: inputs must be 3-D (max_time, batch, num_classes), got shape "
                         f"{list(logits.shape)}")
    if lengths.shape is not None and len(lengths.shape) != 1:
        raise ValueError(f"tf.nn.ctc_greedy_decoder: sequence_length must be 1-D (batch,), got shape "
                         f"{list(lengths.shape)}")
    if lengths.dtype is not None and lengths.dtype.kind not in "iu":
        raise TypeError(f"tf.nn.ctc_greedy_decoder: sequence_length must be int32, got {lengths.dtype}")
    merge = bool(merge_repeated)
    decoded = py_func(lambda x, n: _greedy_paths(x, n, merge), [logits, lengths], int64, name="CTCGreedyDecoder")
    decoded.set_shape([None if logits.shape is None else logits.shape[1], None])

    def neg_sum(x, n):
        steps = ember.reshape(ember.arange(x.shape[0], dtype=np.int64), (-1, 1))
        inside = steps < ember.reshape(ember.cast(n, np.int64), (1, -1))
        best = ember.where(inside, ember.amax(x, axis=-1), ember.zeros_like(x[..., 0]))
        return -ember.reshape(ember.sum(best, axis=0), (-1, 1))

    return [decoded], op(neg_sum, (logits, lengths), name="CTCGreedyDecoder")


def _hits(true: np.ndarray, sampled: np.ndarray, num_true: int) -> list:
    if true.ndim != 2 or true.shape[1] != num_true:
        raise ValueError(f"tf.nn.compute_accidental_hits: true_classes must be (batch, num_true={num_true}), got "
                         f"shape {list(true.shape)}")
    position = {int(c): j for j, c in enumerate(sampled.reshape(-1).tolist())}  # a repeated candidate: its last
    found = [(i, position[int(c)]) for i in range(true.shape[0]) for c in true[i].tolist() if int(c) in position]
    return [np.array([i for i, _ in found], np.int32), np.array([j for _, j in found], np.int64),
            np.full(len(found), -np.finfo(np.float32).max, np.float32)]


def compute_accidental_hits(true_classes, sampled_candidates, num_true: int, seed=None, name: str | None = None):
    """(int32 indices, int64 ids, float32 weights) of each true class of row ``i`` that was also sampled, at
    position ``ids``: TF's pairs in row order, each weighted ``-FLT_MAX`` (to be added to the sampled logits)."""
    true, sampled = as_tf(true_classes), as_tf(sampled_candidates)
    if true.shape is not None and (len(true.shape) != 2 or true.shape[1] not in (None, int(num_true))):
        raise ValueError(f"tf.nn.compute_accidental_hits: true_classes must be (batch, num_true={num_true}), got "
                         f"shape {list(true.shape)}")
    if sampled.shape is not None and len(sampled.shape) != 1:
        raise ValueError(f"tf.nn.compute_accidental_hits: sampled_candidates must be 1-D, got shape "
                         f"{list(sampled.shape)}")
    parts = py_func(lambda t, s: _hits(t, s, int(num_true)), [true, sampled], [np.int32, np.int64, np.float32],
                    name=name or "ComputeAccidentalHits")
    for part in parts:
        part.set_shape([None])
    return tuple(parts)

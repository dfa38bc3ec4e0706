"""More of ``tf.nn`` (moments from sufficient statistics, N-d convolution and pooling, max_pool_with_argmax,
dilation2d/erosion2d) against float64 NumPy transcriptions of TF-1's documented formulas."""

import itertools

import numpy as np
import pytest
from tf1_fixtures import fresh_graph, numeric_gradient  # noqa: F401  (fresh_graph: autouse, a fresh graph per test)

import ember.compat.tf as tf


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- moments ------------------------------------------------------------------------------------------------


def test_sufficient_statistics_and_normalize_moments_give_the_moments():
    x = _rand(3, 4, 5)
    count, m_ss, v_ss = _run(tf.nn.sufficient_statistics(tf.constant(x), [0, 2])[:3])
    assert count == 15 and np.asarray(count).dtype == np.float64
    np.testing.assert_allclose(m_ss, x.sum((0, 2)))
    np.testing.assert_allclose(v_ss, (x ** 2).sum((0, 2)))
    s = np.full((4, 1), 0.5)
    stats = tf.nn.sufficient_statistics(tf.constant(x), [0, 2], shift=tf.constant(s), keepdims=True)
    assert stats[1].shape == (1, 4, 1)
    m_ss, v_ss = _run(stats[1:3])
    np.testing.assert_allclose(m_ss[0, :, 0], (x - s).sum((0, 2)))
    mean, var = _run(tf.nn.normalize_moments(*stats))
    np.testing.assert_allclose(mean.ravel(), x.mean((0, 2)))
    np.testing.assert_allclose(var.ravel(), x.var((0, 2)))
    assert tf.nn.sufficient_statistics(tf.constant(x), 1)[3] is None


def test_weighted_moments_values_and_gradient():
    x, w = _rand(4, 3), np.abs(_rand(4, 1, seed=1)) + 0.1
    xt = tf.constant(x)
    mean, var = tf.nn.weighted_moments(xt, [0], tf.constant(w))
    assert mean.shape == (3,)
    ref_mean = (w * x).sum(0) / (w + 0 * x).sum(0)
    got_mean, got_var = _run([mean, var])
    np.testing.assert_allclose(got_mean, ref_mean)
    np.testing.assert_allclose(got_var, (w * (x - ref_mean) ** 2).sum(0) / (w + 0 * x).sum(0))
    (grad,) = _run(tf.gradients(tf.reduce_sum(var), [xt]))

    def f(a):
        m = (w * a).sum(0) / w.sum()
        return ((w * (a - m) ** 2).sum(0) / w.sum()).sum()

    np.testing.assert_allclose(grad, numeric_gradient(f, x), rtol=1e-6, atol=1e-8)
    assert tf.nn.weighted_moments(xt, 1, tf.constant(w), keepdims=True)[0].shape == (4, 1)


def test_weighted_moments_of_float16_sum_in_float32():
    # 300 values near 1000 sum past float16's 65504: TF-1 sums in float32 and casts the moments back
    x = np.full(300, 1000.0, np.float16)
    x[::2] = 900
    mean, var = _run(tf.nn.weighted_moments(tf.constant(x), [0], tf.constant(np.ones(300, np.float16))))
    assert mean.dtype == var.dtype == np.float16
    np.testing.assert_allclose([mean, var], [950.0, 2500.0], rtol=1e-3)


# --- convolution and pool -----------------------------------------------------------------------------------


def _window_geometry(sizes, window, stride, rate, padding) -> tuple:
    """(output sizes, padding before) of TF's windows: SAME pads the odd pixel after."""
    extent = [(k - 1) * d + 1 for k, d in zip(window, rate)]
    if padding == "SAME":
        out = [-(-n // s) for n, s in zip(sizes, stride)]
        return out, [max((o - 1) * s + e - n, 0) // 2 for o, s, e, n in zip(out, stride, extent, sizes)]
    return [(n - e) // s + 1 for n, e, s in zip(sizes, extent, stride)], [0] * len(sizes)


def _ref_conv(x, w, stride, rate, padding):
    """Direct N-d convolution (channels last) as TF's formula, SAME padding with the odd pixel after."""
    rank = x.ndim - 2
    sizes = x.shape[1:-1]
    out, before = _window_geometry(sizes, w.shape[:rank], stride, rate, padding)
    y = np.zeros((x.shape[0], *out, w.shape[-1]))
    for pos in np.ndindex(*out):
        for z in np.ndindex(*w.shape[:rank]):
            src = [p * s - b + zz * d for p, s, b, zz, d in zip(pos, stride, before, z, rate)]
            if all(0 <= i < n for i, n in zip(src, sizes)):
                y[(slice(None), *pos)] += x[(slice(None), *src)] @ w[z]
    return y


@pytest.mark.parametrize("rank, padding, stride, rate", [
    (1, "SAME", (2,), (1,)), (1, "VALID", (1,), (2,)), (2, "SAME", (1, 1), (2, 1)), (2, "VALID", (2, 1), (1, 1)),
    (3, "SAME", (1, 2, 1), (1, 1, 1)),
])
def test_convolution_nd_matches_the_direct_formula(rank, padding, stride, rate):
    x = _rand(2, *([5] * rank), 3)
    w = _rand(*([3] * rank), 3, 2, seed=1)
    got = _run(tf.nn.convolution(tf.constant(x), tf.constant(w), padding, strides=stride, dilation_rate=rate))
    np.testing.assert_allclose(got, _ref_conv(x, w, stride, rate, padding), rtol=1e-10, atol=1e-10)


def test_convolution_channels_first_and_gradient():
    x, w = _rand(1, 3, 6, 5), _rand(3, 2, 3, 2, seed=1)
    xt, wt = tf.constant(x), tf.constant(w)
    y = tf.nn.convolution(xt, wt, "SAME", data_format="NCHW", dilation_rate=[1, 2])
    ref = _ref_conv(x.transpose(0, 2, 3, 1), w, (1, 1), (1, 2), "SAME").transpose(0, 3, 1, 2)
    assert y.shape == ref.shape
    got, gw = _run([y, tf.gradients(tf.reduce_sum(y ** 2), [wt])[0]])
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    ref_gw = numeric_gradient(lambda k: (_ref_conv(x.transpose(0, 2, 3, 1), k, (1, 1), (1, 2), "SAME") ** 2).sum(), w)
    np.testing.assert_allclose(gw, ref_gw, rtol=1e-5, atol=1e-6)


def test_convolution_refuses_what_tf1_refuses():
    x, w = tf.constant(_rand(1, 5, 5, 3)), tf.constant(_rand(3, 3, 3, 2))
    with pytest.raises(ValueError, match="tf.nn.convolution: strides > 1 .* not supported together with dilation"):
        tf.nn.convolution(x, w, "SAME", strides=[2, 2], dilation_rate=[2, 2])
    with pytest.raises(ValueError, match="tf.nn.convolution: the input has 3 channels, the filter of shape"):
        tf.nn.convolution(x, tf.constant(_rand(3, 3, 4, 2)), "SAME")
    with pytest.raises(ValueError, match="tf.nn.convolution: data_format .* 'NHWC' or 'NCHW', got 'NWC'"):
        tf.nn.convolution(x, w, "SAME", data_format="NWC")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID'"):
        tf.nn.convolution(x, w, "FULL")


def _ref_pool(x, window, kind, padding, stride, rate):
    sizes = x.shape[1:-1]
    out, before = _window_geometry(sizes, window, stride, rate, padding)
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for pos in np.ndindex(*out):
        values = []
        for z in np.ndindex(*window):
            src = [p * s - b + zz * d for p, s, b, zz, d in zip(pos, stride, before, z, rate)]
            if all(0 <= i < n for i, n in zip(src, sizes)):  # out-of-bounds positions are never included
                values.append(x[(slice(None), *src)])
        y[(slice(None), *pos)] = np.max(values, 0) if kind == "MAX" else np.mean(values, 0)
    return y


@pytest.mark.parametrize("kind", ["MAX", "AVG"])
@pytest.mark.parametrize("rank, padding, stride, rate", [
    (1, "SAME", (2,), (1,)), (2, "SAME", (1, 1), (2, 2)), (2, "VALID", (2, 1), (1, 1)), (2, "SAME", (2, 2), (1, 1)),
    (3, "SAME", (1, 1, 1), (1, 2, 1)),
])
def test_pool_matches_the_formula_without_padded_positions(kind, rank, padding, stride, rate):
    x = _rand(2, *([5] * rank), 2)
    window = (3,) * rank if rank < 3 else (2, 2, 3)
    got = _run(tf.nn.pool(tf.constant(x), window, kind, padding, dilation_rate=rate, strides=stride))
    np.testing.assert_allclose(got, _ref_pool(x, window, kind, padding, stride, rate), rtol=1e-12)


def test_avg_pool_gradient_and_channels_first():
    x = _rand(1, 2, 5, 4)
    xt = tf.constant(x)
    y = tf.nn.pool(xt, [2, 3], "AVG", "SAME", dilation_rate=[2, 1], data_format="NCHW")
    (grad,) = _run(tf.gradients(tf.reduce_sum(y ** 2), [xt]))

    def f(a):
        return (_ref_pool(a.transpose(0, 2, 3, 1), (2, 3), "AVG", "SAME", (1, 1), (2, 1)) ** 2).sum()

    np.testing.assert_allclose(grad, numeric_gradient(f, x), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="tf.nn.pool: pooling_type must be 'MAX' or 'AVG', got 'SUM'"):
        tf.nn.pool(xt, [2, 2], "SUM", "SAME")
    with pytest.raises(ValueError, match=r"tf.nn.pool: the input must have rank 5 \(3 spatial axes\).*\[1, 2, 5, 4\]"):
        tf.nn.pool(xt, [2, 2, 2], "MAX", "SAME")


# --- max_pool_with_argmax -----------------------------------------------------------------------------------


@pytest.mark.parametrize("padding, include_batch", [("SAME", False), ("VALID", True), ("SAME", True)])
def test_max_pool_with_argmax_indexes_the_flattened_input(padding, include_batch):
    x = _rand(2, 5, 6, 3)
    values, argmax = tf.nn.max_pool_with_argmax(tf.constant(x), [1, 2, 2, 1], [1, 2, 2, 1], padding,
                                                include_batch_in_index=include_batch)
    assert argmax.dtype == np.int64 and values.name == "MaxPoolWithArgmax:0" and argmax.name == "MaxPoolWithArgmax:1"
    got_values, got_index = _run([values, argmax])
    np.testing.assert_allclose(got_values, _ref_pool(x, (2, 2), "MAX", padding, (2, 2), (1, 1)))
    batch, height, width, channels = x.shape
    for b, i, j, c in np.ndindex(got_index.shape):
        window = [(y, xx) for y in range(2 * i, min(2 * i + 2, height)) for xx in range(2 * j, min(2 * j + 2, width))]
        best = max(window, key=lambda p: x[b, p[0], p[1], c])
        flat = (best[0] * width + best[1]) * channels + c + (b * height * width * channels if include_batch else 0)
        assert got_index[b, i, j, c] == flat
    assert x.reshape(-1 if include_batch else (batch, -1))[tuple([got_index] if include_batch else
                                                               [np.arange(batch)[:, None, None, None], got_index])
                                                         ].tolist() == got_values.tolist()


def test_max_pool_with_argmax_int32_gradient_and_errors():
    x = _rand(1, 4, 4, 2)
    xt = tf.constant(x)
    values, argmax = tf.nn.max_pool_with_argmax(xt, [1, 2, 2, 1], [1, 2, 2, 1], "VALID", Targmax=tf.int32)
    assert argmax.dtype == np.int32
    (grad,) = _run(tf.gradients(tf.reduce_sum(values * 3.0), [xt]))
    index = _run(argmax)
    expected = np.zeros(x.size)
    expected[index.ravel()] = 3.0
    np.testing.assert_allclose(grad.ravel(), expected)
    with pytest.raises(ValueError, match="max_pool_with_argmax: data_format must be 'NHWC'"):
        tf.nn.max_pool_with_argmax(xt, [1, 2, 2, 1], [1, 2, 2, 1], "VALID", data_format="NCHW")
    with pytest.raises(TypeError, match="Targmax must be int32 or int64, got float32"):
        tf.nn.max_pool_with_argmax(xt, [1, 2, 2, 1], [1, 2, 2, 1], "VALID", Targmax=tf.float32)
    with pytest.raises(ValueError, match=r"ksize \[2, 2, 2, 1\] must be 1 in the batch and channel"):
        tf.nn.max_pool_with_argmax(xt, [2, 2, 2, 1], [1, 2, 2, 1], "VALID")


# --- dilation2d / erosion2d ---------------------------------------------------------------------------------


def _ref_dilation(x, k, stride, rate, padding):
    _, height, width, _ = x.shape
    kh, kw, _ = k.shape
    eh, ew = (kh - 1) * rate[0] + 1, (kw - 1) * rate[1] + 1
    if padding == "SAME":
        oh, ow = -(-height // stride[0]), -(-width // stride[1])
        top = max((oh - 1) * stride[0] + eh - height, 0) // 2
        left = max((ow - 1) * stride[1] + ew - width, 0) // 2
    else:
        oh, ow, top, left = (height - eh) // stride[0] + 1, (width - ew) // stride[1] + 1, 0, 0
    y = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf)
    for i, j, dy, dx in itertools.product(range(oh), range(ow), range(kh), range(kw)):
        r, c = i * stride[0] - top + dy * rate[0], j * stride[1] - left + dx * rate[1]
        if 0 <= r < height and 0 <= c < width:
            y[:, i, j] = np.maximum(y[:, i, j], x[:, r, c] + k[dy, dx])
    return y


@pytest.mark.parametrize("padding, stride, rate", [("SAME", (1, 1), (1, 1)), ("VALID", (2, 1), (1, 2)),
                                                   ("SAME", (2, 2), (1, 1))])
def test_dilation2d_and_erosion2d(padding, stride, rate):
    x, k = _rand(2, 6, 5, 3), _rand(2, 3, 3, seed=1) * 0.3
    s4, r4 = [1, *stride, 1], [1, *rate, 1]
    got = _run(tf.nn.dilation2d(tf.constant(x), tf.constant(k), s4, r4, padding))
    np.testing.assert_allclose(got, _ref_dilation(x, k, stride, rate, padding))
    eroded = _run(tf.nn.erosion2d(tf.constant(x), tf.constant(k), s4, r4, padding))
    np.testing.assert_allclose(eroded, -_ref_dilation(-x, k[::-1, ::-1], stride, rate, padding))


def test_dilation2d_gradient_goes_to_the_maximum():
    x, k = _rand(1, 4, 4, 2), _rand(2, 2, 2, seed=1)
    xt, kt = tf.constant(x), tf.constant(k)
    y = tf.nn.dilation2d(xt, kt, [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    gx, gk = _run(tf.gradients(tf.reduce_sum(y ** 2), [xt, kt]))
    f = (lambda a: (_ref_dilation(a, k, (1, 1), (1, 1), "SAME") ** 2).sum())
    np.testing.assert_allclose(gx, numeric_gradient(f, x), rtol=1e-5, atol=1e-6)
    g = (lambda b: (_ref_dilation(x, b, (1, 1), (1, 1), "SAME") ** 2).sum())
    np.testing.assert_allclose(gk, numeric_gradient(g, k), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="tf.nn.dilation2d: the input has 2 channels, the filter of shape"):
        tf.nn.dilation2d(xt, tf.constant(_rand(2, 2, 3)), [1, 1, 1, 1], [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="tf.nn.erosion2d: the filter must be 3-D"):
        tf.nn.erosion2d(xt, tf.constant(_rand(2, 2)), [1, 1, 1, 1], [1, 1, 1, 1], "SAME")

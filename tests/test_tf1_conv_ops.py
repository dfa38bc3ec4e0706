"""``tf.nn``'s depthwise, separable, atrous and 3-D convolutions, 3-D pooling, LRN and CTC loss, and the
``tf.layers`` built on them, against torch (TF's layouts and SAME padding made explicit) and NumPy."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(fetches, feeds)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _c(value):
    return tf.constant(value, tf.float64)


def _same(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _torch_pad(x, kernel, stride, padding, value=0.0):
    """Pad a channels-first torch tensor as TF's SAME padding does (kernel: the dilated sizes)."""
    if padding == "VALID":
        return x
    pairs = [_same(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride)]
    return F.pad(x, [p for pair in reversed(pairs) for p in pair], value=value)


def _grads(y, xs, feeds=None):
    """(value of y, gradients of sum(y * y) with respect to xs)."""
    return _run([y, tf.gradients(tf.reduce_sum(y * y), xs)], feeds)


def _torch_grads(y, xs):
    (y * y).sum().backward()
    return [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("padding, stride, rate", [("SAME", 1, 1), ("SAME", 2, 1), ("VALID", 1, 2), ("SAME", 1, 2)])
def test_depthwise_and_separable_conv2d_match_torch_with_gradients(padding, stride, rate):
    x, dw, pw = _rand(2, 7, 8, 3), _rand(3, 2, 3, 2, seed=1), _rand(1, 1, 6, 4, seed=2)
    tx, tdw, tpw = (_c(v) for v in (x, dw, pw))
    y = tf.nn.depthwise_conv2d(tx, tdw, [1, stride, stride, 1], padding, rate=[rate, rate])
    s = tf.nn.separable_conv2d(tx, tdw, tpw, [1, stride, stride, 1], padding, rate=[rate, rate])
    (got_y, grads_y), (got_s, grads_s) = _grads(y, [tx, tdw]), _grads(s, [tx, tdw, tpw])

    xt, dwt, pwt = (torch.tensor(v, requires_grad=True) for v in (x, dw, pw))
    weight = dwt.reshape(3, 2, 1, 6).permute(3, 2, 0, 1)  # (in * multiplier, 1, h, w), channel c * 2 + m
    dilated = ((3 - 1) * rate + 1, (2 - 1) * rate + 1)
    nchw = _torch_pad(xt.permute(0, 3, 1, 2), dilated, (stride, stride), padding)
    want = F.conv2d(nchw, weight, stride=stride, dilation=rate, groups=3)
    np.testing.assert_allclose(got_y, want.permute(0, 2, 3, 1).detach().numpy(), rtol=1e-10, atol=1e-10)
    for got, ref in zip(grads_y, _torch_grads(want, [xt, dwt])):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    xt.grad = dwt.grad = None
    want = F.conv2d(F.conv2d(nchw, weight, stride=stride, dilation=rate, groups=3), pwt.permute(3, 2, 0, 1))
    np.testing.assert_allclose(got_s, want.permute(0, 2, 3, 1).detach().numpy(), rtol=1e-10, atol=1e-10)
    for got, ref in zip(grads_s, _torch_grads(want, [xt, dwt, pwt])):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)


def test_depthwise_conv2d_nchw_and_errors():
    x, w = _rand(1, 2, 5, 5), _rand(3, 3, 2, 1, seed=1)
    got = _run(tf.nn.depthwise_conv2d(_c(x), _c(w), [1, 1, 1, 1], "VALID", data_format="NCHW"))
    want = F.conv2d(torch.tensor(x), torch.tensor(w).permute(2, 3, 0, 1), groups=2)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="depthwise_conv2d: strides .* must be 1 when the rate"):
        tf.nn.depthwise_conv2d(x, w, [1, 2, 2, 1], "SAME", rate=[2, 2])
    with pytest.raises(ValueError, match="depthwise_conv2d: the filter of shape .* expects 3 input channels"):
        tf.nn.depthwise_conv2d(_rand(1, 5, 5, 2), _rand(3, 3, 3, 1), [1, 1, 1, 1], "SAME")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID'"):
        tf.nn.depthwise_conv2d(_rand(1, 5, 5, 2), w, [1, 1, 1, 1], "FULL")


def test_depthwise_and_separable_nchw_read_four_dilations_by_the_format():
    # [1, 1, 2, 2] in NCHW is a rate of 2 on height and width; it was read as NHWC's (1, 2)
    x, w, p = _rand(1, 2, 9, 9), _rand(3, 3, 2, 2, seed=1), _rand(1, 1, 4, 3, seed=2)
    depthwise = F.conv2d(torch.tensor(x), torch.tensor(w).permute(2, 3, 0, 1).reshape(4, 1, 3, 3), groups=2,
                         dilation=2, padding=2)
    got_d, got_s = _run([tf.nn.depthwise_conv2d(_c(x), _c(w), [1, 1, 1, 1], "SAME", data_format="NCHW",
                                                dilations=[1, 1, 2, 2]),
                         tf.nn.separable_conv2d(_c(x), _c(w), _c(p), [1, 1, 1, 1], "SAME", data_format="NCHW",
                                                dilations=[1, 1, 2, 2])])
    np.testing.assert_allclose(got_d, depthwise.numpy(), rtol=1e-10, atol=1e-10)
    want_s = F.conv2d(depthwise, torch.tensor(p).permute(3, 2, 0, 1))
    np.testing.assert_allclose(got_s, want_s.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("call", [
    lambda x, w: tf.nn.conv2d(x, w, [2, 1, 1, 1], "SAME"),
    lambda x, w: tf.nn.conv2d(x, w, [1, 1, 1, 2], "SAME"),
    lambda x, w: tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", dilations=[1, 1, 1, 2]),
    lambda x, w: tf.nn.conv2d(x, w, [1, 2, 1, 1], "SAME", data_format="NCHW"),
    lambda x, w: tf.nn.depthwise_conv2d(x, w, [2, 1, 1, 1], "SAME"),
    lambda x, w: tf.nn.conv2d_transpose(x, w, [1, 6, 6, 2], [1, 1, 1, 2], "SAME"),
    lambda x, w: tf.nn.max_pool(x, [2, 2, 2, 1], [1, 1, 1, 1], "SAME"),
    lambda x, w: tf.nn.avg_pool(x, [1, 2, 2, 1], [2, 1, 1, 1], "SAME"),
    lambda x, w: tf.nn.conv3d(x[:, None], w[None], [2, 1, 1, 1, 1], "SAME"),
    lambda x, w: tf.nn.conv1d(x[:, 0], w[0], [2, 1, 1], "SAME"),
])
def test_strides_ksize_and_dilations_off_the_spatial_axes_are_refused(call):
    # they were dropped: a batch stride of 2 ran as stride 1 over every sample, where TF refuses it
    x, w = _rand(1, 6, 6, 2).astype(np.float32), _rand(3, 3, 2, 2, seed=1).astype(np.float32)
    with pytest.raises(ValueError, match=r"must be 1 in the batch and channel dimensions"):
        call(x, w)


def test_conv1d_takes_a_stride_list_of_one_or_three():
    x, w = _rand(2, 9, 3), _rand(3, 3, 4, seed=1)
    want = F.conv1d(torch.tensor(x).permute(0, 2, 1), torch.tensor(w).permute(2, 1, 0), stride=2, padding=1)
    for stride in (2, [2], [1, 2, 1]):
        got = _run(tf.nn.conv1d(_c(x), _c(w), stride, "SAME"))
        np.testing.assert_allclose(got, want.permute(0, 2, 1).numpy(), rtol=1e-10, atol=1e-12)


def test_atrous_conv2d_is_a_dilated_convolution():
    x, w = _rand(1, 9, 9, 2), _rand(3, 3, 2, 4, seed=1)
    got = _run(tf.nn.atrous_conv2d(_c(x), _c(w), 2, "SAME"))
    want = F.conv2d(torch.tensor(x).permute(0, 3, 1, 2), torch.tensor(w).permute(3, 2, 0, 1), padding=2, dilation=2)
    np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="atrous_conv2d: rate must be >= 1"):
        tf.nn.atrous_conv2d(x, w, 0, "SAME")


@pytest.mark.parametrize("padding, stride", [("SAME", 2), ("VALID", 1), ("SAME", 1)])
def test_conv3d_ndhwc_matches_torch_with_gradients(padding, stride):
    x, w = _rand(2, 5, 6, 4, 3), _rand(2, 3, 2, 3, 4, seed=1)
    tx, tw = _c(x), _c(w)
    got, grads = _grads(tf.nn.conv3d(tx, tw, [1, stride, stride, stride, 1], padding), [tx, tw])
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ncdhw = _torch_pad(xt.permute(0, 4, 1, 2, 3), (2, 3, 2), (stride,) * 3, padding)
    want = F.conv3d(ncdhw, wt.permute(4, 3, 0, 1, 2), stride=stride)
    np.testing.assert_allclose(got, want.permute(0, 2, 3, 4, 1).detach().numpy(), rtol=1e-10, atol=1e-10)
    for g, ref in zip(grads, _torch_grads(want, [xt, wt])):
        np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-9)


def _ref_pool3d(x, k, s, padding, average):
    """TF's 3-D pooling of NDHWC ``x``: windows clipped to the input (SAME), mean over the voxels inside."""
    pads = [_same(n, k, s)[0] if padding == "SAME" else 0 for n in x.shape[1:4]]
    outs = [-(-n // s) if padding == "SAME" else (n - k) // s + 1 for n in x.shape[1:4]]
    y = np.zeros((x.shape[0], *outs, x.shape[4]))
    for idx in np.ndindex(*outs):
        lo = [max(i * s - p, 0) for i, p in zip(idx, pads)]
        hi = [min(i * s - p + k, n) for i, p, n in zip(idx, pads, x.shape[1:4])]
        window = x[:, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        y[(slice(None), *idx)] = window.mean((1, 2, 3)) if average else window.max((1, 2, 3))
    return y


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_pool3d_matches_tfs_windows_and_gradients_flow(padding):
    x = _rand(2, 5, 4, 6, 3)
    tx = _c(x)
    for fn, average in ((tf.nn.max_pool3d, False), (tf.nn.avg_pool3d, True)):
        y = fn(tx, [1, 3, 3, 3, 1], [1, 2, 2, 2, 1], padding)
        got, (grad,) = _grads(y, [tx])
        np.testing.assert_allclose(got, _ref_pool3d(x, 3, 2, padding, average), rtol=1e-10)
        assert np.abs(grad).sum() > 0
    xt = torch.tensor(x, requires_grad=True)
    want = F.avg_pool3d(xt.permute(0, 4, 1, 2, 3), 2, 2)
    got, (grad,) = _grads(tf.nn.avg_pool3d(tx, 2, 2, "VALID"), [tx])
    np.testing.assert_allclose(got, want.permute(0, 2, 3, 4, 1).detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad, _torch_grads(want, [xt])[0], rtol=1e-9)


def test_lrn_uses_tfs_definition_and_matches_torch_with_rescaled_alpha():
    x = _rand(2, 3, 4, 7)
    radius, bias, alpha, beta = 2, 1.5, 0.3, 0.75
    tx = _c(x)
    got, (grad,) = _grads(tf.nn.lrn(tx, radius, bias, alpha, beta), [tx])
    padded = np.pad(x * x, ((0, 0),) * 3 + ((radius, radius),))
    sqr_sum = sum(padded[..., k:k + 7] for k in range(2 * radius + 1))
    np.testing.assert_allclose(got, x / (bias + alpha * sqr_sum) ** beta, rtol=1e-10)
    xt = torch.tensor(x, requires_grad=True)
    size = 2 * radius + 1  # PyTorch divides alpha by the window size
    want = F.local_response_norm(xt.permute(0, 3, 1, 2), size, alpha * size, beta, bias).permute(0, 2, 3, 1)
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(grad, _torch_grads(want, [xt])[0], rtol=1e-8, atol=1e-12)
    default = _run(tf.nn.local_response_normalization(_c(x)))  # depth_radius 5, bias 1, alpha 1, beta 0.5
    sqr_sum = sum(np.pad(x * x, ((0, 0),) * 3 + ((5, 5),))[..., k:k + 7] for k in range(11))
    np.testing.assert_allclose(default, x / np.sqrt(1 + sqr_sum), rtol=1e-10)


def test_ctc_loss_dense_labels_match_torch_with_gradients():
    time, batch, classes = 8, 3, 5
    logits = _rand(time, batch, classes).astype(np.float32)
    labels = np.array([[1, 2, 2], [3, 0, 0], [1, 3, 0]], np.int32)
    label_length, logit_length = np.array([3, 1, 2], np.int32), np.array([8, 6, 7], np.int32)
    tz = tf.constant(logits)
    # TF-1's ctc_loss: the blank is the last class
    loss = tf.nn.ctc_loss(labels, tz, logit_length, label_length=label_length)
    got, (grad,) = _run([loss, tf.gradients(tf.reduce_sum(loss), [tz])])
    zt = torch.tensor(logits, requires_grad=True)
    want = F.ctc_loss(F.log_softmax(zt, -1), torch.tensor(labels + 0), torch.tensor(logit_length),
                      torch.tensor(label_length), blank=classes - 1, reduction="none")
    assert got.dtype == np.float32 and got.shape == (batch,)
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-5)
    want.sum().backward()
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-4, atol=1e-6)
    # TF 2's signature: blank 0 by default, batch-major logits allowed
    shifted = labels + 1
    v2 = tf.nn.ctc_loss_v2(shifted, np.transpose(logits, (1, 0, 2)), label_length, logit_length,
                           logits_time_major=False)
    want = F.ctc_loss(F.log_softmax(torch.tensor(logits), -1), torch.tensor(shifted), torch.tensor(logit_length),
                      torch.tensor(label_length), blank=0, reduction="none")
    np.testing.assert_allclose(_run(v2), want.numpy(), rtol=1e-5)
    with pytest.raises(TypeError, match="ctc_loss: give dense labels .* with label_length"):
        tf.nn.ctc_loss(labels, tz, logit_length)


def test_separable_conv3d_and_pooling3d_layers():
    x = tf.placeholder(tf.float32, [None, 6, 6, 3])
    y = tf.layers.separable_conv2d(x, 4, 3, padding="same", depth_multiplier=2, activation=tf.nn.relu)
    names = sorted(v.name for v in tf.global_variables())
    assert names == ["separable_conv2d/bias:0", "separable_conv2d/depthwise_kernel:0",
                     "separable_conv2d/pointwise_kernel:0"]
    assert y.shape.as_list() == [None, 6, 6, 4]
    video = tf.placeholder(tf.float32, [None, 4, 6, 6, 2])
    layer = tf.layers.Conv3D(5, (2, 3, 3), strides=(1, 2, 2), padding="same")
    z = layer(video)
    pooled = tf.layers.MaxPooling3D(2, 2)(z)
    averaged = tf.layers.average_pooling3d(z, (2, 3, 3), (2, 3, 3), padding="same")
    assert z.shape.as_list() == [None, 4, 3, 3, 5] and pooled.shape.as_list() == [None, 2, 1, 1, 5]
    assert averaged.shape.as_list() == [None, 2, 1, 1, 5] and tuple(layer.kernel.shape) == (2, 3, 3, 2, 5)
    feeds = {x: _rand(2, 6, 6, 3).astype(np.float32), video: _rand(2, 4, 6, 6, 2, seed=1).astype(np.float32)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(layer.bias, np.arange(5.0)))
        got_z, kernel, grads = sess.run([z, layer.kernel, tf.gradients(tf.reduce_sum(y) + tf.reduce_sum(pooled),
                                                                       tf.trainable_variables())], feeds)
    want = F.conv3d(F.pad(torch.tensor(feeds[video]).permute(0, 4, 1, 2, 3), (0, 1, 0, 1, 0, 1)),
                    torch.tensor(kernel).permute(4, 3, 0, 1, 2), torch.arange(5.0),
                    stride=(1, 2, 2))
    np.testing.assert_allclose(got_z, want.permute(0, 2, 3, 4, 1).numpy(), rtol=1e-5, atol=1e-5)
    assert all(np.abs(g).sum() > 0 for g in grads)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_conv2d_takes_explicit_padding_pairs_with_gradients(data_format):
    x, w = _rand(2, 6, 7, 3), _rand(3, 2, 3, 4, seed=1)
    if data_format == "NHWC":
        value, strides, padding = x, [1, 2, 1, 1], [[0, 0], [1, 2], [0, 3], [0, 0]]
    else:
        value, strides, padding = x.transpose(0, 3, 1, 2), [1, 1, 2, 1], [[0, 0], [0, 0], [1, 2], [0, 3]]
    tx, tw = _c(value), _c(w)
    got, grads = _grads(tf.nn.conv2d(tx, tw, strides, padding, data_format=data_format), [tx, tw])

    xt, wt = (torch.tensor(v, requires_grad=True) for v in (value, w))
    first = xt if data_format == "NCHW" else xt.permute(0, 3, 1, 2)
    y = F.conv2d(F.pad(first, [0, 3, 1, 2]), wt.permute(3, 2, 0, 1), stride=(2, 1))
    y = y if data_format == "NCHW" else y.permute(0, 2, 3, 1)
    np.testing.assert_allclose(got, y.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, e in zip(grads, _torch_grads(y, [xt, wt])):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="must be \\[0, 0\\] on the batch and channel axes"):
        tf.nn.conv2d(tx, tw, strides, [[1, 0], [1, 2], [0, 3], [0, 0]], data_format=data_format)
    with pytest.raises(ValueError, match="4 \\[before, after\\] pairs"):
        tf.nn.conv2d(tx, tw, strides, [[1, 2], [0, 3]], data_format=data_format)

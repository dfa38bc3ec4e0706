"""``ember.compat.tinynn``: layers, losses, optimizers and metrics against tinynn's formulas and references."""

import os
import pickle
import sys

import numpy as np
import pytest
import torch

import ember.compat.tinynn as tn


def _conv_reference(x, w, stride, pads):
    """NHWC convolution by loops over output pixels, after tinynn's padding."""
    x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    k_h, k_w, _, out_c = w.shape
    out_h, out_w = (x.shape[1] - k_h) // stride + 1, (x.shape[2] - k_w) // stride + 1
    y = np.zeros((x.shape[0], out_h, out_w, out_c))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride:i * stride + k_h, j * stride:j * stride + k_w, :]
            y[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return y


def test_conv2d_same_pads_kernel_minus_one_whatever_the_stride_as_tinynn():
    tn.seeder.random_seed(0)
    x = np.random.rand(2, 7, 7, 3).astype(np.float32)
    layer = tn.layer.Conv2D(kernel=[4, 4, 3, 5], stride=[2, 2], padding="SAME")
    y = layer.forward(x)
    assert y.shape == (2, 4, 4, 5)  # (7 + 3 - 4) // 2 + 1
    expected = _conv_reference(x, layer.params["w"], 2, ((1, 2), (1, 2))) + layer.params["b"]
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    valid = tn.layer.Conv2D(kernel=[3, 3, 3, 2], padding="VALID")
    assert valid.forward(x).shape == (2, 5, 5, 2)
    with pytest.raises(ValueError, match=r"with 4 channels, got shape \[2, 7, 7, 3\]"):
        tn.layer.Conv2D(kernel=[3, 3, 4, 2]).forward(x)


def test_layer_backward_alone_gives_input_and_parameter_gradients():
    tn.seeder.random_seed(1)
    x = np.random.rand(4, 3).astype(np.float32)
    dense = tn.layer.Dense(2)
    dense.forward(x)
    g = np.random.rand(4, 2).astype(np.float32)
    dx = dense.backward(g)
    np.testing.assert_allclose(dense.grads["w"], x.T @ g, rtol=1e-5)
    np.testing.assert_allclose(dense.grads["b"], g.sum(0), rtol=1e-5)
    np.testing.assert_allclose(dx, g @ dense.params["w"].T, rtol=1e-5)
    assert dense.shapes == {"w": (3, 2), "b": (2,)}


def test_max_pool_same_pads_with_zeros_as_tinynn():
    x = -np.ones((1, 3, 3, 1), np.float32)
    pooled = tn.layer.MaxPool2D(pool_size=[2, 2], stride=[2, 2], padding="SAME").forward(x)
    assert pooled.shape == (1, 2, 2, 1) and pooled[0, 1, 1, 0] == 0.0  # the padded zero is the maximum
    assert tn.layer.MaxPool2D().forward(x).shape == (1, 1, 1, 1)


def test_lstm_matches_tinynn_gate_layout():
    tn.seeder.random_seed(2)
    x = np.random.rand(2, 4, 3).astype(np.float32)
    lstm = tn.layer.LSTM(num_hidden=5)
    out = lstm.forward(x)
    p = lstm.params
    h = c = np.zeros((2, 5))
    for t in range(4):
        z = np.hstack([h, x[:, t]])
        o, i, f = np.split(1 / (1 + np.exp(-(z @ p["W_g"].T + p["b_g"]))), 3, axis=1)
        c = f * c + i * np.tanh(z @ p["W_c"].T + p["b_c"])
        h = o * np.tanh(c)
    np.testing.assert_allclose(out, h, rtol=1e-5, atol=1e-6)


def test_batch_norm_and_dropout_follow_the_training_flag():
    tn.seeder.random_seed(3)
    x = np.random.rand(64, 4).astype(np.float32) * 3 + 1
    net = tn.net.Net([tn.layer.BatchNormalization(), tn.layer.Dropout(keep_prob=0.5)])
    y = net.forward(x)
    kept = y != 0
    assert 0.35 < kept.mean() < 0.65
    normalized = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(y[kept], (normalized * 2)[kept], rtol=1e-4, atol=1e-5)
    net.is_training = False
    np.testing.assert_allclose(net.forward(x), normalized, rtol=1e-4, atol=1e-4)  # running stats = first batch's


@pytest.mark.parametrize("name, make, reference", [
    ("mse", tn.loss.MSE, lambda p, y: 0.5 * ((p - y) ** 2).sum() / len(y)),
    ("mae", tn.loss.MAE, lambda p, y: np.abs(p - y).sum() / len(y)),
    ("xent", tn.loss.SoftmaxCrossEntropy,
     lambda p, y: -(y * (p - np.log(np.exp(p).sum(1, keepdims=True)))).sum() / len(y)),
])
def test_losses_and_their_gradients_match_formulas_and_torch(name, make, reference):
    rng = np.random.default_rng(4)
    p = rng.standard_normal((5, 3)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    loss = make()
    np.testing.assert_allclose(loss.loss(p, y), reference(p, y), rtol=1e-5)
    pt = torch.tensor(p, requires_grad=True)
    torch_value = {"mse": lambda: 0.5 * ((pt - torch.tensor(y)) ** 2).sum() / 5,
                   "mae": lambda: (pt - torch.tensor(y)).abs().sum() / 5,
                   "xent": lambda: torch.nn.functional.cross_entropy(pt, torch.tensor(y.argmax(1)))}[name]()
    torch_value.backward()
    np.testing.assert_allclose(loss.grad(p, y), pt.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("make", [tn.loss.MSE, tn.loss.MAE, tn.loss.Huber, tn.loss.SigmoidCrossEntropy,
                                  tn.loss.SoftmaxCrossEntropy])
def test_losses_refuse_targets_of_another_shape(make):
    # (4, 1) predictions against (4,) targets broadcast to (4, 4) differences: MSE 1.64 where the pairs give 0.5
    p = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    y = np.array([0.0, 1.0, 2.0, 3.0], np.float32)
    loss = make()
    for method in (loss.loss, loss.grad):
        with pytest.raises(ValueError, match=r"predictions of shape \(4, 1\) but targets of shape \(4,\)"):
            method(p, y)
    np.testing.assert_allclose(tn.loss.MSE().loss(p, y.reshape(4, 1)), 0.5)


def test_sigmoid_cross_entropy_with_class_weights():
    p = np.array([[0.3], [-1.2], [2.0]], np.float32)
    y = np.array([[1.0], [0.0], [1.0]], np.float32)
    s = 1 / (1 + np.exp(-p))
    expected = -(3.0 * y * np.log(s) + 0.5 * (1 - y) * np.log(1 - s)).sum() / 3
    np.testing.assert_allclose(tn.loss.SigmoidCrossEntropy(weights=[0.5, 3.0]).loss(p, y), expected, rtol=1e-5)


def test_optimizers_follow_tinynns_rules_with_weight_decay():
    def one_step(optimizer, steps=2):
        params = tn.structured_param.StructuredParam([{"w": np.array([1.0, -2.0], np.float32)}])
        for _ in range(steps):  # (fresh gradients each step: a step leaves its steps in them, as tinynn's)
            grads = tn.structured_param.StructuredParam([{"w": np.array([0.5, 0.25], np.float32)}])
            optimizer.step(grads, params)
        return params.values[0]

    w, g = np.array([1.0, -2.0]), np.array([0.5, 0.25])
    np.testing.assert_allclose(one_step(tn.optimizer.SGD(lr=0.1, weight_decay=0.5), 1), w - 0.1 * g - 0.05 * w,
                               rtol=1e-6)
    rms, mom, ref = np.zeros(2), np.zeros(2), w.copy()
    for _ in range(2):
        rms += 0.01 * (g * g - rms)
        mom = 0.9 * mom + 0.01 * g / np.sqrt(rms + 1e-8)
        ref -= mom
    np.testing.assert_allclose(one_step(tn.optimizer.RMSProp(lr=0.01, momentum=0.9)), ref, rtol=1e-5)
    m, v, ref = np.zeros(2), np.zeros(2), w.copy()
    for t in (1, 2):
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        ref -= 0.001 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(one_step(tn.optimizer.Adam()), ref, rtol=1e-5)
    acc, ref = np.zeros(2), w.copy()
    for _ in range(2):
        acc += g * g
        ref -= 0.1 / np.sqrt(acc + 1e-8) * g
    np.testing.assert_allclose(one_step(tn.optimizer.Adagrad(lr=0.1)), ref, rtol=1e-5)


def test_metrics_return_value_and_info_and_match_sklearn():
    from sklearn import metrics

    rng = np.random.default_rng(5)
    targets = rng.integers(0, 2, 200)
    scores = np.clip(targets * 0.3 + rng.random(200) * 0.7, 0, 1)
    preds = (scores > 0.5).astype(int)
    value, info = tn.metric.accuracy(preds, targets)
    assert value == metrics.accuracy_score(targets, preds) and info["total_num"] == 200
    assert tn.metric.precision(preds, targets)[0] == pytest.approx(metrics.precision_score(targets, preds))
    assert tn.metric.recall(preds, targets)[0] == pytest.approx(metrics.recall_score(targets, preds))
    assert tn.metric.f1_score(preds, targets)[0] == pytest.approx(metrics.f1_score(targets, preds))
    assert tn.metric.auc(scores, targets)[0] == pytest.approx(metrics.roc_auc_score(targets, scores))
    # tied scores count half: they were counted by the order of the inputs (0.0 or 1.0 for one tied pair)
    rounded = np.round(scores, 1)
    assert tn.metric.auc(rounded, targets)[0] == pytest.approx(metrics.roc_auc_score(targets, rounded))
    assert tn.metric.auc([0.5, 0.5], np.array([1, 0]))[0] == tn.metric.auc([0.5, 0.5], np.array([0, 1]))[0] == 0.5
    y = rng.standard_normal((50, 2))
    p = y + rng.standard_normal((50, 2)) * 0.1
    assert tn.metric.r_square(p, y)[0] == pytest.approx(metrics.r2_score(y, p))
    assert tn.metric.mean_square_error(p[:, 0], y[:, 0])[0] == pytest.approx(metrics.mean_squared_error(y[:, 0],
                                                                                                        p[:, 0]))


def test_element_wise_metrics_refuse_predictions_of_another_shape():
    # (N, 1) predictions against (N,) targets compared as (N, N): accuracy 2.0, precision 0.5 for 0.667
    preds, targets = np.array([[1], [0], [1], [1]]), np.array([1, 0, 1, 0])
    for metric in (tn.metric.accuracy, tn.metric.precision, tn.metric.recall, tn.metric.f1_score, tn.metric.log_loss):
        with pytest.raises(ValueError, match=r"predictions of shape \(4, 1\) but targets of shape \(4,\)"):
            metric(preds, targets)
    assert tn.metric.precision(preds.reshape(-1), targets)[0] == pytest.approx(2 / 3)
    # 5 scores ranked against 6 targets gave 0.556 (and (N, 2) scores an IndexError from NumPy)
    scores = np.random.default_rng(0).random((4, 2))
    for bad in (scores[:3, 0], scores):
        with pytest.raises(ValueError, match=r"metric.auc: \d scores but 4 targets"):
            tn.metric.auc(bad, targets)


def test_batch_iterator_and_structured_params():
    tn.seeder.random_seed(6)
    x, y = np.arange(10).reshape(10, 1), np.arange(10)
    batches = list(tn.data_iterator.BatchIterator(batch_size=4)(x, y))
    assert [len(b.inputs) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate([b.targets for b in batches])) == list(range(10))
    params = tn.structured_param.StructuredParam([{"w": np.ones(2)}, {"b": np.full(3, -4.0)}])
    doubled = params * 2 + 1
    assert doubled.values[1].tolist() == [-7.0, -7.0, -7.0] and params.values[0].tolist() == [1.0, 1.0]
    assert params.clip(-1, 1).values[1].tolist() == [-1.0, -1.0, -1.0]
    assert params.shape == ({"w": (2,)}, {"b": (3,)})


def test_a_missing_name_says_what_is_there():
    with pytest.raises(AttributeError, match="has no attribute 'Conv3D'.*ConvTranspose2D"):
        _ = tn.layer.Conv3D
    with pytest.raises(FileNotFoundError, match="does not download"):
        tn.dataset.MNIST("/nonexistent-dir")


def _conv_transpose_reference(x, w, b, stride, mode):
    """tinynn's transposed convolution spelled out in torch: zeros between pixels, pad, correlate."""
    s_h, s_w = stride
    n, h, wd, c = x.shape
    size = (h * s_h, wd * s_w) if mode == "SAME" else ((h - 1) * s_h + 1, (wd - 1) * s_w + 1)
    spread = torch.zeros((n, *size, c), dtype=x.dtype)
    spread[:, ::s_h, ::s_w] = x
    k_h, k_w = w.shape[:2]
    if mode == "SAME":
        pads = ((k_w - 1) // 2, k_w - 1 - (k_w - 1) // 2, (k_h - 1) // 2, k_h - 1 - (k_h - 1) // 2)
    else:
        pads = (k_w - 1, k_w - 1, k_h - 1, k_h - 1)
    padded = torch.nn.functional.pad(spread.permute(0, 3, 1, 2), pads)
    return torch.nn.functional.conv2d(padded, w.permute(3, 2, 0, 1)).permute(0, 2, 3, 1) + b


@pytest.mark.parametrize("mode, stride, in_hw, out_hw", [
    ("SAME", (2, 2), (3, 4), (6, 8)),  # in * stride
    ("VALID", (2, 3), (3, 4), (8, 12)),  # (in - 1) * stride + kernel
    ("SAME", (1, 1), (4, 4), (4, 4)),
])
def test_conv_transpose_2d_matches_tinynns_recipe_with_gradients(mode, stride, in_hw, out_hw):
    tn.seeder.random_seed(9)
    x = np.random.rand(2, *in_hw, 3).astype(np.float32)
    layer = tn.layer.ConvTranspose2D(kernel=[4, 3, 3, 2], stride=stride, padding=mode,
                                     b_init=tn.initializer.Normal())
    y = layer.forward(x)
    assert y.shape == (2, *out_hw, 2)
    assert layer.origin_stride == stride and layer.stride == (1, 1)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(layer.params["w"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True)
    expected = _conv_transpose_reference(xt, wt, bt, stride, mode)
    np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = np.random.rand(*y.shape).astype(np.float32)
    dx = layer.backward(g)
    expected.backward(torch.tensor(g))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.grads["w"], wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.grads["b"], bt.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_padding_helpers_and_im2col_follow_tinynns_layout():
    assert tn.layer.get_padding_2d((7, 7), (4, 3), "SAME") == ((0, 0), (1, 2), (1, 1), (0, 0))
    assert tn.layer.get_padding_2d((7, 7), (4, 3), "VALID") == ((0, 0), (0, 0), (0, 0), (0, 0))
    with pytest.raises(ValueError, match="get_padding_2d: mode"):
        tn.layer.get_padding_2d((7, 7), (4, 3), "same")
    img = np.arange(2 * 4 * 5 * 3, dtype=np.float64).reshape(2, 4, 5, 3)
    col = tn.layer.im2col(img, 2, 3, 2, 1)
    out_h, out_w = 2, 3
    assert col.shape == (2 * out_h * out_w, 2 * 3 * 3) and col.dtype == np.float32
    for b in range(2):
        for r in range(out_h):
            for c in range(out_w):
                np.testing.assert_array_equal(col[b * out_h * out_w + r * out_w + c],
                                              img[b, 2 * r:2 * r + 2, c:c + 3].reshape(-1))
    conv = tn.layer.Conv2D(kernel=[3, 3, 3, 2], stride=[2, 2])
    conv.forward(img[:, :, :4].astype(np.float32))
    assert conv.padding == ((0, 0), (1, 1), (1, 1), (0, 0))  # set on the first forward, as in tinynn
    flatten = tn.layer.Flatten()
    assert flatten.forward(img).shape == (2, 60) and flatten.input_shape == (2, 4, 5, 3)
    assert tn.layer.empty((2, 3)).dtype == np.float32 and tn.layer.empty(2, dtype=int).shape == (2,)


def test_model_backward_takes_transformed_predictions_as_tinynn():
    # tinynn's DQN example masks the predictions by the actions taken before model.backward
    tn.seeder.random_seed(7)
    x = np.random.rand(6, 4).astype(np.float32)
    mask = np.eye(2, dtype=np.float32)[np.random.randint(0, 2, 6)]
    targets = np.random.rand(6, 2).astype(np.float32) * mask
    model = tn.model.Model(tn.net.Net([tn.layer.Dense(2)]), tn.loss.MSE(), tn.optimizer.SGD())
    preds = model.forward(x) * mask
    loss, grads = model.backward(preds, targets)
    g = (preds - targets) / 6  # tinynn's MSE gradient, then through the linear layer
    assert loss == pytest.approx(0.5 * ((preds - targets) ** 2).sum() / 6, rel=1e-5)
    np.testing.assert_allclose(grads.values[0], x.T @ g, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads.wrt_input, g @ model.net.layers[0].params["w"].T, rtol=1e-5, atol=1e-7)


class _ScaledMSE(tn.loss.Loss):
    """A loss written as tinynn's users write them: NumPy ``loss`` and ``grad``."""

    def loss(self, predictions, targets):
        return 1.5 * np.sum((predictions - targets) ** 2)

    def grad(self, predictions, targets):
        return 3.0 * (predictions - targets)


class _Square(tn.layer.Layer):
    """A layer written as tinynn's users write them: NumPy ``forward`` and ``backward``, no parameters."""

    def forward(self, inputs):
        self.ctx = {"X": inputs}
        return inputs ** 2

    def backward(self, grad):
        return 2.0 * self.ctx["X"] * grad


def test_user_losses_and_layers_in_tinynns_style_train_in_a_model():
    tn.seeder.random_seed(8)
    x = np.random.rand(5, 3).astype(np.float32)
    y = np.random.rand(5, 2).astype(np.float32)
    net = tn.net.Net([tn.layer.Dense(2), _Square(), tn.layer.Dense(2)])
    model = tn.model.Model(net, _ScaledMSE(), tn.optimizer.SGD(lr=0.01))
    pred = model.forward(x)
    first, second = net.layers[0], net.layers[2]
    h = x @ first.params["w"] + first.params["b"]
    np.testing.assert_allclose(pred, h ** 2 @ second.params["w"] + second.params["b"], rtol=1e-5)
    loss, grads = model.backward(pred, y)
    assert loss == pytest.approx(1.5 * ((pred - y) ** 2).sum(), rel=1e-5)
    d_out = 3.0 * (pred - y)
    d_h = (d_out @ second.params["w"].T) * 2 * h
    np.testing.assert_allclose(grads.param_list[2]["w"], (h ** 2).T @ d_out, rtol=1e-4)
    np.testing.assert_allclose(grads.param_list[0]["w"], x.T @ d_h, rtol=1e-4)
    np.testing.assert_allclose(grads.wrt_input, d_h @ first.params["w"].T, rtol=1e-4)
    before = model.net.params.values[0].copy()
    model.apply_grads(grads)
    np.testing.assert_allclose(model.net.params.values[0], before - 0.01 * x.T @ d_h, rtol=1e-4)


def test_a_step_leaves_the_steps_taken_in_the_gradients_as_tinynn():
    w, g = np.array([1.0, -2.0, 4.0]), np.array([0.5, 0.25, -1.0])
    for optimizer in (tn.optimizer.SGD(lr=0.1, weight_decay=0.1), tn.optimizer.Adam(lr=0.1, weight_decay=0.1),
                      _TinynnStyleMomentum(0.1)):
        params = tn.structured_param.StructuredParam([{"w": w.copy()}])
        grads = tn.structured_param.StructuredParam([{"w": g.copy()}])
        optimizer.step(grads, params)
        # tinynn: params += grads, grads being the step (weight decay included); they were left as the gradients
        np.testing.assert_allclose(grads.values[0], params.values[0] - w, rtol=1e-12)
        assert not np.allclose(grads.values[0], g)
    sgd_step = -0.1 * (g + 0.1 * w)
    params = tn.structured_param.StructuredParam([{"w": w.copy()}])
    grads = tn.structured_param.StructuredParam([{"w": g.copy()}])
    tn.optimizer.SGD(lr=0.1, weight_decay=0.1).step(grads, params)
    np.testing.assert_allclose(grads.values[0], sgd_step, rtol=1e-12)


class _TinynnStyleMomentum(tn.optimizer.Optimizer):
    def __init__(self, lr):
        super().__init__(lr, weight_decay=0.05)
        self._acc = 0

    def _compute_step(self, grads):
        self._acc = 0.9 * self._acc + grads
        return -self.lr * self._acc


def test_net_backward_through_layers_without_a_differentiable_path():
    net = tn.net.Net([tn.layer.Flatten()])
    ints = np.arange(8).reshape(2, 2, 2)
    assert net.forward(ints).shape == (2, 4)
    assert net.backward(np.ones((2, 4))).wrt_input.shape == (2, 2, 2)


def test_integer_inputs_are_differentiated_as_tinynn_does():
    tn.seeder.random_seed(5)
    pixels = np.random.randint(0, 256, (3, 2, 2)).astype(np.uint8)
    net = tn.net.Net([tn.layer.Flatten(), tn.layer.Dense(2)])
    flat = net.layers[0].forward(pixels)
    assert flat.dtype == np.uint8  # Flatten keeps the dtype, as tinynn's reshape
    out = net.forward(pixels)
    g = np.random.rand(3, 2).astype(np.float32)
    grads = net.backward(g)
    w = net.layers[1].params["w"]
    np.testing.assert_allclose(out, pixels.reshape(3, 4) @ w + net.layers[1].params["b"], rtol=1e-5)
    # the input's gradient, as tinynn's NumPy gives it (it was zeros for integer inputs)
    np.testing.assert_allclose(grads.wrt_input, (g @ w.T).reshape(3, 2, 2), rtol=1e-5)
    np.testing.assert_allclose(grads.param_list[1]["w"], pixels.reshape(3, 4).T.astype(np.float32) @ g, rtol=1e-5)
    dense = tn.layer.Dense(2)
    assert dense.forward(np.arange(6).reshape(3, 2)).dtype == np.float64  # int64 @ float32, as NumPy promotes
    drop = tn.net.Net([tn.layer.Dropout()])
    drop.is_training = False
    drop.forward(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(drop.backward(np.full((2, 3), 2.0)).wrt_input, np.full((2, 3), 2.0))


def _run_optimizer(optimizer, steps):
    params = tn.structured_param.StructuredParam([{"w": np.array([1.0, -2.0], np.float32)}])
    for t in range(steps):
        grads = tn.structured_param.StructuredParam([{"w": np.array([0.5, 0.25 - 0.2 * t], np.float32)}])
        optimizer.step(grads, params)
    return params.values[0]


def _grad(t):
    return np.array([0.5, 0.25 - 0.2 * t])


def test_momentum_radam_and_adadelta_follow_tinynns_rules():
    w, acc = np.array([1.0, -2.0]), np.zeros(2)
    for t in range(3):
        acc = 0.9 * acc + _grad(t)
        w = w - 0.1 * acc
    np.testing.assert_allclose(_run_optimizer(tn.optimizer.Momentum(lr=0.1), 3), w, rtol=1e-5)

    w, m, v, rho_inf = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2), 2.0 / (1 - 0.999) - 1.0
    for t in range(1, 5):  # tinynn's rho_t (without the paper's factor t): step 1 unrectified, then rectified
        g = _grad(t - 1)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        m_hat, rho = m / (1 - 0.9 ** t), rho_inf - 2 * 0.999 ** t / (1 - 0.999 ** t)
        if rho > 4:
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            w = w - 0.01 * m_hat * r / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        else:
            w = w - 0.01 * m_hat
    np.testing.assert_allclose(_run_optimizer(tn.optimizer.RAdam(lr=0.01), 4), w, rtol=1e-5)

    w, rms, delta = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t in range(3):
        g = _grad(t)
        rms = 0.9 * rms + 0.1 * g * g
        step = g * np.sqrt(delta + 1e-8) / np.sqrt(rms + 1e-8)
        w, delta = w - 0.5 * step, 0.9 * delta + 0.1 * step * step
    np.testing.assert_allclose(_run_optimizer(tn.optimizer.Adadelta(lr=0.5), 3), w, rtol=1e-5)


class _SignSGD(tn.optimizer.Optimizer):
    """An optimizer written as tinynn's users write them: ``_compute_step`` on the gradients' values."""

    def __init__(self, lr=0.1, weight_decay=0.0):
        super().__init__(lr, weight_decay)

    def _compute_step(self, grads):
        return [-self.lr * np.sign(g) for g in grads]


def test_an_optimizer_in_tinynns_style_steps_with_weight_decay():
    got = _run_optimizer(_SignSGD(lr=0.1, weight_decay=0.5), 2)
    w = np.array([1.0, -2.0])
    for t in range(2):
        w = w - 0.1 * np.sign(_grad(t)) - 0.1 * 0.5 * w
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, w, rtol=1e-6)


@pytest.mark.parametrize("base", ["Momentum", "Adam"])
def test_an_optimizer_in_tinynns_style_builds_on_a_builtin_ones_compute_step(base):
    # a subclass clipping the gradients before tinynn's rule raised "must define update(...)": the built-in
    # optimizers had no _compute_step for super() to reach
    class Clipped(getattr(tn.optimizer, base)):
        def _compute_step(self, grads):
            clipped = np.empty(len(grads), dtype=object)
            clipped[:] = [np.clip(g, -0.3, 0.3) for g in grads]
            return super()._compute_step(clipped)

    w, acc, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2), np.zeros(2)
    for t in range(1, 4):
        g = np.clip(_grad(t - 1), -0.3, 0.3)
        if base == "Momentum":
            acc = 0.9 * acc + g
            w = w - 0.1 * acc - 0.1 * 0.5 * w
        else:
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            w = w - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8) - 0.1 * 0.5 * w
    np.testing.assert_allclose(_run_optimizer(Clipped(lr=0.1, weight_decay=0.5), 3), w, rtol=1e-5)


def test_linear_and_cyclical_lr_schedules_as_tinynn():
    opt = tn.optimizer.SGD(lr=1.0)
    linear = tn.optimizer.LinearLR(opt, decay_steps=4, final_lr=0.2, start_step=2)
    np.testing.assert_allclose([linear.step() for _ in range(8)], [1.0, 1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2])
    opt = tn.optimizer.SGD(lr=0.02)
    cyclical = tn.optimizer.CyclicalLR(opt, cyclical_steps=4, min_lr=0.01, max_lr=0.03)
    # delta = 2 * (0.03 - 0.01) / 4 = 0.01: rises for two steps, falls for two, from the first step in range
    np.testing.assert_allclose([cyclical.step() for _ in range(6)], [0.03, 0.04, 0.03, 0.02, 0.03, 0.04])
    with pytest.raises(ValueError, match="CyclicalLR: cyclical_steps"):
        tn.optimizer.CyclicalLR(opt, cyclical_steps=2)
    with pytest.raises(ValueError, match="LinearLR: decay_steps"):
        tn.optimizer.LinearLR(opt, decay_steps=0)


def test_tinynns_package_paths_reach_the_same_modules():
    from ember.compat.tinynn.core.model import Model
    from ember.compat.tinynn.utils.structured_param import StructuredParam

    assert Model is tn.model.Model and StructuredParam is tn.structured_param.StructuredParam
    assert tn.utils.seeder is tn.seeder and tn.core.layer is tn.layer and tn.utils.downloader is tn.downloader


def _write_idx(path, array):
    import gzip
    import struct

    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_tinynns_idx_files(tmp_path):
    rng = np.random.default_rng(10)
    images, labels = rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6)
    for prefix, part in (("train", slice(0, 4)), ("t10k", slice(4, 6))):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images[part])
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels[part])
    fashion = tn.dataset.FashionMNIST(str(tmp_path))
    train_x, train_y = fashion.train_set
    np.testing.assert_allclose(train_x, images[:4].reshape(4, 784) / 255.0)
    np.testing.assert_array_equal(train_y, np.eye(10, dtype=np.float32)[labels[:4]])
    assert fashion.test_set[0].shape == (2, 784) and fashion.valid_set is None
    raw = tn.dataset.FashionMNIST(str(tmp_path), one_hot=False)
    np.testing.assert_array_equal(raw.test_set[1], labels[4:])


def _write_cifar(path, members):
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            data = pickle.dumps(content)
            info = tarfile.TarInfo(f"cifar/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar_10_and_100_read_tinynns_archives(tmp_path):
    rng = np.random.default_rng(11)
    batches = {f"data_batch_{i}": {b"data": rng.integers(0, 256, (2, 3072)).astype(np.uint8),
                                   b"labels": list(rng.integers(0, 10, 2))} for i in range(1, 6)}
    batches["test_batch"] = {b"data": rng.integers(0, 256, (3, 3072)).astype(np.uint8), b"labels": [1, 2, 3]}
    _write_cifar(tmp_path / "cifar-10-python.tar.gz", batches)
    cifar = tn.dataset.Cifar10(str(tmp_path), one_hot=True, normalize=True)
    train_x, train_y = cifar.train_set
    raw = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)]) / 255.0
    means, stds = np.array([0.4914, 0.4822, 0.4465]), np.array([0.2023, 0.1994, 0.2010])
    np.testing.assert_allclose(train_x, ((raw.reshape(10, -1, 3) - means) / stds).reshape(10, -1))
    labels = [label for i in range(1, 6) for label in batches[f"data_batch_{i}"][b"labels"]]
    np.testing.assert_array_equal(train_y, np.eye(10, dtype=np.float32)[labels])
    plain = tn.dataset.Cifar10(str(tmp_path))
    np.testing.assert_allclose(plain.test_set[0], batches["test_batch"][b"data"] / 255.0)
    assert plain.test_set[1].tolist() == [1, 2, 3]

    hundred = {"train": {b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"fine_labels": [5, 99, 0, 7]},
               "test": {b"data": rng.integers(0, 256, (2, 3072)).astype(np.uint8), b"fine_labels": [42, 3]}}
    _write_cifar(tmp_path / "cifar-100-python.tar.gz", hundred)
    c100 = tn.dataset.Cifar100(str(tmp_path), one_hot=True)
    assert c100.train_set[1].shape == (4, 100) and c100.train_set[1][1, 99] == 1.0
    np.testing.assert_allclose(c100.test_set[0], hundred["test"][b"data"] / 255.0)
    with pytest.raises(FileNotFoundError, match=r"Cifar100: not found: .*cifar-100-python.tar.gz \(from https"):
        tn.dataset.Cifar100(str(tmp_path / "elsewhere"))


def test_downloader_fetches_checks_and_skips_a_good_copy(tmp_path, capsys):
    import hashlib

    source = tmp_path / "source.bin"
    source.write_bytes(b"tinynn" * 100)
    checksum = hashlib.md5(source.read_bytes()).hexdigest()
    assert tn.downloader.md5_checksum(str(source)) == checksum
    target = tmp_path / "sub" / "copy.bin"
    tn.downloader.download_url(source.as_uri(), str(target), checksum)
    assert target.read_bytes() == source.read_bytes()
    tn.downloader.download_url("file:///nonexistent", str(target), checksum)  # a good copy: nothing fetched
    assert "already exists" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="has MD5 .*expected 0+"):
        tn.downloader.download_url(source.as_uri(), str(tmp_path / "other.bin"), "0" * 32)
    with pytest.raises(RuntimeError, match="could not download file:///nonexistent"):
        tn.downloader.download_url("file:///nonexistent", str(tmp_path / "none.bin"), checksum)


def test_model_loads_a_file_saved_by_tinynn_itself(tmp_path, monkeypatch):
    import types

    # tinynn pickles its own StructuredParam class: stand in for it under tinynn's module path
    fake = types.ModuleType("tinynn.utils.structured_param")

    class StructuredParam:
        def __init__(self, param_list, nt_param_list=None):
            self.param_list, self.nt_param_list = param_list, nt_param_list

    StructuredParam.__module__, StructuredParam.__qualname__ = fake.__name__, "StructuredParam"
    fake.StructuredParam = StructuredParam
    for name in ("tinynn", "tinynn.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    w, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0.5, -1.0], np.float32)
    with open(tmp_path / "tinynn.pkl", "wb") as f:
        pickle.dump(StructuredParam([{"w": w, "b": b}, {}], [{}, {}]), f)
    for name in ("tinynn", "tinynn.utils", fake.__name__):
        monkeypatch.delitem(sys.modules, name)

    model = tn.model.Model(tn.net.Net([tn.layer.Dense(2), tn.layer.ReLU()]), tn.loss.MSE(), tn.optimizer.SGD())
    model.load(str(tmp_path / "tinynn.pkl"))
    x = np.ones((1, 3), np.float32)
    np.testing.assert_allclose(model.forward(x), np.maximum(x @ w + b, 0))
    assert model.net.layers[0].shapes == {"w": (3, 2), "b": (2,)}


def test_auc_roc_curve_sums_tinynns_threshold_steps():
    rng = np.random.default_rng(12)
    targets = rng.integers(0, 2, 100)
    preds = np.clip(targets * 0.4 + rng.random(100) * 0.6, 0, 0.999)
    area, info = tn.metric.auc_roc_curve(preds, targets, partition=50)
    thresholds = np.arange(0.0, 1.0, 1.0 / 50)[::-1]
    fprs = [np.sum((preds >= t) & (targets == 0)) / np.sum(targets == 0) for t in thresholds]
    tprs = [np.sum((preds >= t) & (targets == 1)) / np.sum(targets == 1) for t in thresholds]
    expected = sum(tprs[i] * (fprs[i + 1] - fprs[i]) for i in range(49))
    assert area == pytest.approx(expected)
    np.testing.assert_allclose(info["fprs"], fprs)
    np.testing.assert_allclose(info["tprs"], tprs)
    np.testing.assert_allclose(info["thresholds"], thresholds)
    assert area == pytest.approx(tn.metric.auc(preds, targets)[0], abs=0.05)  # a coarse trapezoid of the same


def test_softmax_cross_entropy_grad_is_tinynns_rule_with_temperature_and_weights():
    rng = np.random.default_rng(13)
    logits = rng.standard_normal((4, 3)).astype(np.float32) * 5
    labels = np.eye(3, dtype=np.float32)[[0, 2, 1, 2]]
    weights = np.array([0.5, 2.0, 1.5], np.float32)
    z = logits / 20.0
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    loss = tn.loss.SoftmaxCrossEntropy(T=20.0, weights=weights)
    np.testing.assert_allclose(loss.grad(logits, labels), (probs - labels) * weights / 4, rtol=1e-5, atol=1e-7)
    nll = -(labels * np.log(probs)).sum(1) * weights[labels.argmax(1)]
    assert loss.loss(logits, labels) == pytest.approx(nll.sum() / 4, rel=1e-5)


class _Cube(tn.layer.Activation):
    """An activation written as tinynn's users write them: NumPy ``func`` and ``derivative``."""

    def func(self, x):
        return x ** 3

    def derivative(self, x):
        return 3 * x ** 2


def test_activation_derivatives_and_activations_in_tinynns_style():
    x = np.array([[-2.0, -0.5, 0.5, 2.0]], np.float32)
    s, gate = 1 / (1 + np.exp(-x)), 1 / (1 + np.exp(-0.1702 * x))
    for layer, expected in [(tn.layer.Sigmoid(), s * (1 - s)), (tn.layer.Tanh(), 1 - np.tanh(x) ** 2),
                            (tn.layer.ReLU(), (x > 0).astype(np.float32)), (tn.layer.Softplus(), s),
                            (tn.layer.LeakyReLU(0.1), np.where(x < 0, 0.1, 1.0)),
                            (tn.layer.ELU(0.7), np.where(x > 0, 1.0, 0.7 * np.exp(x))),
                            (tn.layer.GELU(), gate * (1 + 0.1702 * x * (1 - gate)))]:
        np.testing.assert_allclose(layer.derivative(x), expected, rtol=1e-5, err_msg=layer.name)
    # at 0 tinynn's LeakyReLU passes the gradient whole (its derivative is 1 unless x < 0); it was scaled by slope
    leaky, zeros = tn.layer.LeakyReLU(0.1), np.array([[0.0, -0.0, -1.0]], np.float32)
    np.testing.assert_allclose(leaky.forward(zeros), [[0.0, 0.0, -0.1]])
    np.testing.assert_allclose(leaky.backward(np.full((1, 3), 2.0, np.float32)), [[2.0, 2.0, 0.2]])
    np.testing.assert_allclose(leaky.derivative(zeros), [[1.0, 1.0, 0.1]])
    np.testing.assert_allclose(tn.layer.GELU().forward(x), x / (1 + np.exp(-0.1702 * x)), rtol=1e-6)  # tinynn's alpha
    net = tn.net.Net([tn.layer.Dense(2), _Cube()])
    tn.seeder.random_seed(14)
    h_in = np.random.rand(3, 4).astype(np.float32)
    out = net.forward(h_in)
    dense = net.layers[0]
    h = h_in @ dense.params["w"] + dense.params["b"]
    np.testing.assert_allclose(out, h ** 3, rtol=1e-5)
    grads = net.backward(np.ones_like(out))
    np.testing.assert_allclose(grads.param_list[0]["w"], h_in.T @ (3 * h ** 2), rtol=1e-4)


def test_math_on_integers_computes_in_float64_as_numpy():
    probs = tn.math.softmax(np.array([[1, 2, 3]]))
    assert probs.dtype == np.float64
    np.testing.assert_allclose(probs[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-12)
    assert tn.math.sigmoid(np.array([0, 1])).dtype == np.float64


class _Scale(tn.layer.Layer):
    """A layer with a parameter, in tinynn's style: ``param_names`` a property, lazy ``_init_params``."""

    def __init__(self):
        super().__init__()
        self.initializers = {"s": tn.initializer.Constant(2.0)}

    def forward(self, inputs):
        if not self.is_init:
            self.shapes["s"] = [inputs.shape[1]]
            self._init_params()
        self.ctx = {"X": inputs}
        return inputs * self.params["s"]

    def backward(self, grad):
        self.grads["s"] = (grad * self.ctx["X"]).sum(axis=0)
        return grad * self.params["s"]

    @property
    def param_names(self):
        return ("s",)


def test_a_parameterized_layer_in_tinynns_style_is_trained_and_saved(tmp_path):
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    model = tn.model.Model(tn.net.Net([_Scale()]), tn.loss.MSE(), tn.optimizer.SGD(lr=0.5))
    _, grads = model.backward(model.forward(x), y)
    np.testing.assert_allclose(grads.param_list[0]["s"], np.full(3, 2.0))  # sum over 2 rows of (2 - 0) / 2 * 1
    model.apply_grads(grads)
    np.testing.assert_allclose(model.net.layers[0].params["s"], np.full(3, 1.0))
    model.save(str(tmp_path / "scale.pkl"))
    other = tn.model.Model(tn.net.Net([_Scale()]), tn.loss.MSE(), tn.optimizer.SGD())
    other.load(str(tmp_path / "scale.pkl"))
    np.testing.assert_allclose(other.forward(x), x)


def test_a_save_that_fails_half_way_leaves_the_earlier_file(tmp_path, monkeypatch):
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    model = tn.model.Model(tn.net.Net([_Scale()]), tn.loss.MSE(), tn.optimizer.SGD(lr=0.5))
    path = str(tmp_path / "scale.pkl")
    model.forward(x)  # makes the parameters (s = 2)
    model.save(path)
    model.apply_grads(model.backward(model.forward(x), y)[1])

    def killed(obj, f):  # part of the pickle written, then the process is stopped
        f.write(pickle.dumps(obj)[:20])
        raise KeyboardInterrupt

    monkeypatch.setattr(pickle, "dump", killed)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    other = tn.model.Model(tn.net.Net([_Scale()]), tn.loss.MSE(), tn.optimizer.SGD())
    other.load(path)  # was an UnpicklingError: the file truncated in place
    np.testing.assert_allclose(other.forward(x), 2 * x)
    assert os.listdir(tmp_path) == ["scale.pkl"]


def test_loading_parameters_of_other_layers_is_refused(tmp_path):
    # a net of 2 hidden layers loaded into one of 1 took the first arrays silently (and into one of 3 raised a
    # bare StopIteration); tinynn's NumPy broadcast its way to a wrong answer or an IndexError
    def build(hidden):
        layers = [layer for _ in range(hidden) for layer in (tn.layer.Dense(4), tn.layer.ReLU())]
        net = tn.net.Net(layers + [tn.layer.BatchNormalization(), tn.layer.Dense(2)])
        return tn.model.Model(net, tn.loss.MSE(), tn.optimizer.SGD())

    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    model = build(2)
    model.forward(x)
    path = str(tmp_path / "net.pkl")
    model.save(path)
    for hidden in (1, 3):
        with pytest.raises(ValueError, match=r"Net.params: parameters for layers with \[\['w', 'b'\], \[\], "):
            build(hidden).load(path)
    same = build(2)
    same.load(path)
    same.is_training = model.is_training = False
    np.testing.assert_array_equal(same.forward(x), model.forward(x))
    params = model.net.params
    for count in (7, 9):
        with pytest.raises(ValueError, match=f"StructuredParam: {count} values given for 8 parameters"):
            params.values = [np.zeros(1)] * count


def test_a_net_copied_after_a_forward_trains_as_tinynns_copy():
    # tinynn's DQN keeps a deep copy of its network; copying after a forward raised Ember's "only leaf tensors can
    # be deep-copied", and an unpickled copy's backward gave zero gradients silently (its forward's output came
    # back a leaf): a copy now drops that graph, trains after a forward of its own and refuses a backward before
    import copy

    tn.seeder.random_seed(0)
    x = np.random.rand(4, 5).astype(np.float32)
    net = tn.net.Net([tn.layer.Dense(3), tn.layer.ReLU(), tn.layer.Dense(2)])
    net.forward(x)
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        with pytest.raises(RuntimeError, match="Dense.backward: call forward first"):
            twin.backward(np.ones((4, 2), np.float32))
        twin.forward(x)
        grads = twin.backward(np.ones((4, 2), np.float32))
        expected = net.backward(np.ones((4, 2), np.float32))
        for got, want in zip(grads.values, expected.values):
            np.testing.assert_allclose(got, want, rtol=1e-6)
        assert np.abs(grads.values[0]).max() > 0
        net.forward(x)
    shallow = copy.copy(net.layers[2])  # shares the forward's graph, as tinynn's shallow copy shares ctx
    shallow.backward(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(shallow.grads["w"], expected.values[2], rtol=1e-6)


def test_two_backwards_of_one_forward_each_give_their_gradients_as_tinynn():
    # tinynn keeps each layer's forward context, so one forward may be differentiated for two targets; the second
    # backward raised Ember's "saved values were already freed ... retain_graph=True", an argument tinynn has not
    tn.seeder.random_seed(0)
    x = np.random.rand(4, 3, 5).astype(np.float32)
    y = np.random.rand(4, 2).astype(np.float32)
    model = tn.model.Model(tn.net.Net([tn.layer.LSTM(3), tn.layer.Dense(2)]), tn.loss.MSE(), tn.optimizer.SGD())
    pred = model.forward(x)
    _, first = model.backward(pred, y)
    _, second = model.backward(pred, 2 * y)
    _, again = model.backward(pred, y)  # not summed with the earlier backwards'
    model.forward(x)  # the second backward's reference: the same target after a forward of its own
    _, fresh = model.backward(pred, 2 * y)
    for a, b, c, d in zip(first.values, again.values, second.values, fresh.values):
        np.testing.assert_allclose(b, a, rtol=1e-6)
        np.testing.assert_allclose(c, d, rtol=1e-6)
    np.testing.assert_allclose(second.wrt_input, fresh.wrt_input, rtol=1e-6)

"""The cuda device: the same ops on CuPy arrays give the CPU's results. Skipped without a GPU."""

import numpy as np
import pytest

import ember

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not ember.cuda_is_available(), reason="needs CuPy and a CUDA GPU"),
]


def test_tensor_moves_to_the_gpu_and_back():
    x = ember.randn(3, 4)
    y = x.to("cuda")
    assert y.device == ember.device("cuda:0")
    np.testing.assert_array_equal(y.to("cpu").numpy(), x.numpy())


def test_ops_and_gradients_match_the_cpu():
    ember.manual_seed(0)
    a, b = ember.randn(8, 5), ember.randn(5, 3)
    results = []
    for device in ("cpu", "cuda"):
        x = ember.tensor(a.numpy(), device=device, requires_grad=True)
        w = ember.tensor(b.numpy(), device=device, requires_grad=True)
        loss = ember.cross_entropy(ember.tanh(x @ w), ember.tensor([0, 1, 2, 0, 1, 2, 0, 1], device=device))
        loss.backward()
        results.append((loss.item(), x.grad.cpu().numpy(), w.grad.cpu().numpy()))
    (l_cpu, gx_cpu, gw_cpu), (l_gpu, gx_gpu, gw_gpu) = results
    assert l_gpu == pytest.approx(l_cpu, rel=1e-5)
    np.testing.assert_allclose(gx_gpu, gx_cpu, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gw_gpu, gw_cpu, rtol=1e-4, atol=1e-6)


def test_gradient_flows_back_across_devices():
    x = ember.randn(4, requires_grad=True)
    (x.to("cuda") * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 2.0, np.float32))


def test_batch_norm_refuses_running_statistics_on_another_device():
    x = ember.randn(4, 3).to("cuda")
    with pytest.raises(ValueError, match=r"batch_norm: running_mean is on cpu, the input float32\[4, 3\] on cuda:0"):
        ember.batch_norm(x, ember.zeros(3), ember.ones(3), training=True)


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam"])
def test_a_module_trains_on_the_gpu_as_on_the_cpu(optimizer):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    losses, weights = {}, {}
    for device in ("cpu", "cuda"):
        ember.manual_seed(0)
        net = ember.nn.Sequential(ember.nn.Linear(6, 16), ember.nn.ReLU(), ember.nn.BatchNorm1d(16),
                                  ember.nn.Linear(16, 3)).to(device)
        opt = (ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd_momentum"
               else ember.optim.Adam(net.parameters(), lr=0.01))
        xd, yd = ember.tensor(x, device=device), ember.tensor(y, device=device)
        history = []
        for _ in range(20):
            opt.zero_grad()
            loss = ember.cross_entropy(net(xd), yd)
            loss.backward()
            opt.step()
            history.append(loss.item())
        assert all(p.device == ember.device(device) for p in net.parameters())
        losses[device] = history
        weights[device] = {k: v.to("cpu").numpy() for k, v in net.state_dict().items()}
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=1e-4, atol=1e-5)
    assert losses["cuda"][-1] < 0.7 * losses["cuda"][0]
    for name, value in weights["cpu"].items():
        np.testing.assert_allclose(weights["cuda"][name], value, rtol=1e-3, atol=1e-4, err_msg=name)


def test_a_checkpoint_of_gpu_tensors_loads_back_onto_the_gpu(tmp_path):
    net = ember.nn.Linear(4, 2).to("cuda")
    ember.save({"model": net.state_dict(), "step": 3}, tmp_path / "ckpt.safetensors")
    loaded = ember.load(tmp_path / "ckpt.safetensors", device="cuda")
    assert loaded["step"] == 3 and loaded["model"]["weight"].device == ember.device("cuda:0")
    other = ember.nn.Linear(4, 2).to("cuda")
    other.load_state_dict(loaded["model"])
    np.testing.assert_array_equal(other.weight.detach().to("cpu").numpy(), net.weight.detach().to("cpu").numpy())


def test_model_fit_trains_a_gpu_network_on_numpy_data():
    from ember.data.datasets import load_digits, train_test_split
    from ember.model import Model

    x, y = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_fraction=0.2, seed=0, stratify=True)
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(64, 128), ember.nn.ReLU(), ember.nn.Linear(128, 10)).to("cuda")
    model = Model(net, "cross_entropy", ember.optim.Adam(net.parameters(), lr=3e-3), metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=10, batch_size=32, validation_data=(x_test, y_test), verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.95
    predictions = model.predict(x_test)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (len(x_test), 10)
    assert (predictions.argmax(1) == y_test).mean() == pytest.approx(model.evaluate(x_test, y_test)["accuracy"])


def _assert_rule_runs_as_on_the_cpu(update, dtype, state_keys: tuple, **hyper):
    """Four steps of an optimizer rule on NumPy and on CuPy arrays end in the same bits."""
    rng = np.random.default_rng(0)
    param = rng.standard_normal((31, 4)).astype(dtype)
    grads = [rng.standard_normal(param.shape).astype(dtype) for _ in range(4)]
    results = []
    for xp in (np, ember.backend.cupy_module()):
        p, state = xp.asarray(param.copy()), {}
        for g in grads:
            update(p, xp.asarray(g), state, **hyper)
        results.append([ember.backend.move(a, ember.device("cpu")) for a in (p, *(state[k] for k in state_keys))])
    for name, gpu, cpu in zip(("param",) + state_keys, results[1], results[0]):
        np.testing.assert_array_equal(gpu, cpu, err_msg=name)


def test_embedding_names_ids_out_of_range_on_the_gpu():
    weight = ember.randn(5, 2).to("cuda")
    with pytest.raises(IndexError, match=r"embedding: ids must lie in \[0, 5\) .* got values from -1 to 4"):
        ember.ops.embedding(ember.tensor([[0, 4], [-1, 2]], device="cuda"), weight)
    out = ember.ops.embedding(ember.tensor([[0, 4], [1, 2]], device="cuda"), weight)
    np.testing.assert_array_equal(out.cpu().numpy(), weight.cpu().numpy()[[[0, 4], [1, 2]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fused_momentum_step_equals_the_cpu_bit_for_bit(dtype):
    from ember.optim.functional import sgd_update

    # the first step creates the buffer; the next three run the fused kernel on the GPU
    _assert_rule_runs_as_on_the_cpu(sgd_update, dtype, ("momentum_buffer",), lr=0.05, momentum=0.9)


def test_cross_entropy_names_targets_out_of_range_on_the_gpu():
    logits = ember.randn(4, 3).to("cuda")
    message = r"cross_entropy: nll_weights: target values must lie in \[0, 3\) .* got \[3\]"
    with pytest.raises(IndexError, match=message):
        ember.cross_entropy(logits, ember.tensor([0, 1, 3, 2], device="cuda"))
    loss = ember.cross_entropy(logits, ember.tensor([0, -100, 2, 1], device="cuda"))  # ignore_index is fine
    assert np.isfinite(loss.item())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hyper", [{"beta1": 0.9}, {"beta1": 0.3, "weight_decay": 0.1},
                                   {"beta1": 0.9, "weight_decay": 0.1, "decoupled_weight_decay": True}])
def test_the_fused_adam_step_equals_the_cpu_bit_for_bit(dtype, hyper):
    from ember.optim.functional import adam_update

    _assert_rule_runs_as_on_the_cpu(adam_update, dtype, ("exp_avg", "exp_avg_sq"), lr=0.01, **hyper)


def test_mixing_devices_in_one_op_is_a_clear_error():
    a, b = ember.randn(2, 3).to("cuda"), ember.randn(3, 2)
    with pytest.raises(RuntimeError, match=r"matmul: expected all inputs on one device, got float32\[2, 3\] on "
                                           r"cuda:0, float32\[3, 2\] on cpu; move them with \.to\(\)"):
        a @ b


def test_synchronize_waits_for_queued_kernels():
    assert ember.cuda.is_available() and ember.cuda.device_count() >= 1
    x = ember.randn(512, 512, device="cuda")
    y = x @ x
    ember.cuda.synchronize()
    ember.cuda.synchronize("cuda:0")
    np.testing.assert_allclose(y.cpu().numpy(), x.cpu().numpy() @ x.cpu().numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", [
    ((2, 4, 5, 6), (3, 3), (1, 1), (0, 0), (1, 1)), ((2, 3, 10, 12), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((3, 2, 9, 7), (3, 2), (2, 1), (1, 0), (1, 2)), ((1, 2, 6, 6), (1, 1), (2, 2), (0, 0), (1, 1)),
])
def test_the_col2im_kernel_sums_as_the_cpu_does_bit_for_bit(shape, kernel, stride, padding, dilation):
    import cupy

    from ember.ops.conv import _col2im, conv_out_size

    n, c, h, w = shape
    out_h, out_w = (conv_out_size(shape[2 + a], kernel[a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    for dtype in (np.float32, np.float64):
        cols = np.random.default_rng(0).standard_normal((c * kernel[0] * kernel[1], out_h * out_w * n)).astype(dtype)
        args = (shape, kernel, stride, padding, dilation, out_h, out_w)
        cpu = _col2im(np, cols, *args)
        gpu = _col2im(cupy, cupy.asarray(cols), *args)
        assert gpu.shape == cpu.shape and gpu.flags.c_contiguous
        np.testing.assert_array_equal(cupy.asnumpy(gpu), cpu)


@pytest.mark.parametrize("kernel_size, stride, padding, dilation, ceil_mode", [
    (2, 2, 0, 1, False), (3, 2, 1, 1, False), ((3, 2), (1, 2), (1, 0), 1, True), (2, 2, 0, 2, True),
    (3, 2, 1, 1, True), ((2, 3), (3, 1), 1, (2, 1), False),
])
def test_the_max_pooling_kernels_pick_as_the_cpu_does(kernel_size, stride, padding, dilation, ceil_mode):
    rng = np.random.default_rng(1)
    args = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    ties = rng.integers(-2, 3, (2, 3, 7, 6)).astype(np.float32)
    special = ties.copy()
    special[0, 0, 1, 1], special[1, 2, 2, 3] = np.nan, -np.inf
    for values in (ties, special, rng.standard_normal((2, 3, 7, 6))):
        results = []
        for device in ("cpu", "cuda"):
            x = ember.tensor(values, device=device, requires_grad=True)
            y = ember.max_pool2d(x, **args)
            (y * ember.tensor(np.arange(y.numel()).reshape(y.shape) % 7 - 3.0, dtype=y.dtype, device=device)).sum() \
                .backward()
            results.append((y.detach().cpu().numpy(), x.grad.cpu().numpy()))
        np.testing.assert_array_equal(results[1][0], results[0][0])  # NaNs compare equal here
        np.testing.assert_array_equal(results[1][1], results[0][1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_plain_sgd_step_equals_the_cpu_bit_for_bit(dtype):
    from ember.optim.functional import sgd_update

    _assert_rule_runs_as_on_the_cpu(sgd_update, dtype, (), lr=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_relu_gradient_kernel_equals_the_cpu_bit_for_bit(dtype):
    values = np.array([[-1.0, 0.0, 2.0, np.nan], [3.0, -0.0, np.inf, -np.inf]], dtype)
    upstream = np.array([[1.0, -2.0, np.inf, 4.0], [np.nan, -1.0, 0.5, np.inf]], dtype)
    grads = []
    for device in ("cpu", "cuda"):
        x = ember.tensor(values, device=device, requires_grad=True)
        ember.relu(x).backward(ember.tensor(upstream, device=device))
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_array_equal(grads[1], grads[0])

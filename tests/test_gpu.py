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
        x = a.to(device).requires_grad_()
        w = b.to(device).requires_grad_()
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

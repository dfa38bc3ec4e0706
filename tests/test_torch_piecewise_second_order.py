"""Second-order gradients through PyTorch's piecewise-linear ops: the first derivative of relu, max pooling and
friends requires grad whenever the input does (its own derivative is zero), so a second ``grad`` gives zeros,
as PyTorch's, instead of refusing the input as unused."""

import numpy as np
import pytest

import ember
import ember.nn.functional as EF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

X = np.random.default_rng(0).standard_normal((2, 3, 4, 4)) * 2

CASES = {
    "relu": lambda F, x: F.relu(x),
    "relu_inplace": lambda F, x: F.relu(x * 1.0, inplace=True),
    "max_pool1d": lambda F, x: F.max_pool1d(x.reshape(2, 3, 16), 3),
    "max_pool2d": lambda F, x: F.max_pool2d(x, 2),
    "max_pool3d": lambda F, x: F.max_pool3d(x.reshape(2, 1, 3, 4, 4), 2),
    "max_unpool2d": lambda F, x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
}


def _second(lib, fn, f):
    x = lib.tensor(X, requires_grad=True)
    y = fn(f, x)
    g, = lib.autograd.grad((y * lib.tensor(np.asarray(y.detach().numpy()))).sum(), x, create_graph=True)
    assert g.requires_grad
    h, = lib.autograd.grad((g * lib.tensor(np.cos(X))).sum(), x)
    return np.asarray(h.detach().numpy())


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_gradient_of_a_piecewise_linear_gradient_is_zeros_as_pytorch(name):
    ours, theirs = _second(ember, CASES[name], EF), _second(torch, CASES[name], TF)
    np.testing.assert_array_equal(ours, theirs)
    assert not ours.any()


def test_relu_mlp_hessian_vector_product_and_hessian_as_pytorch():
    rng = np.random.default_rng(1)
    w1, b1, w2 = rng.standard_normal((5, 3)), rng.standard_normal(5), rng.standard_normal((1, 5))
    x = rng.standard_normal((4, 3))
    v = np.cos(x)

    def run(lib):
        f = lambda t: (lib.relu(t @ lib.tensor(w1).T + lib.tensor(b1)) @ lib.tensor(w2).T).sum()
        t = lib.tensor(x, requires_grad=True)
        g, = lib.autograd.grad(f(t), t, create_graph=True)
        hv, = lib.autograd.grad((g * lib.tensor(v)).sum(), t)
        return np.asarray(hv.numpy()), np.asarray(lib.autograd.functional.hessian(f, lib.tensor(x)).numpy())

    for ours, theirs in zip(run(ember), run(torch)):
        np.testing.assert_allclose(ours, theirs, atol=1e-12)

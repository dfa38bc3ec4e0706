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
    "hardtanh": lambda F, x: F.hardtanh(x, -2.0, 3.0),
    "relu6": lambda F, x: F.relu6(x),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2),
    "hardshrink": lambda F, x: F.hardshrink(x, 0.5),
    "softshrink": lambda F, x: F.softshrink(x, 0.5),
    "threshold": lambda F, x: F.threshold(x, 0.3, -2.0),
    "prelu": lambda F, x: F.prelu(x, _lib(F).tensor(np.array([0.25, -0.3, 0.7]))),
    "rrelu_eval": lambda F, x: F.rrelu(x),
    "adaptive_max_pool1d": lambda F, x: F.adaptive_max_pool1d(x.reshape(2, 3, 16), 5),
    "adaptive_max_pool2d": lambda F, x: F.adaptive_max_pool2d(x, (3, 2)),
    "adaptive_max_pool3d": lambda F, x: F.adaptive_max_pool3d(x.reshape(2, 3, 1, 4, 4), (1, 3, 2)),
    "fractional_max_pool2d": lambda F, x: F.fractional_max_pool2d(
        x, 2, output_size=(3, 2), _random_samples=_lib(F).tensor(np.full((2, 3, 2), 0.3))),
}


def _lib(F):
    return ember if F is EF else torch


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


def _mixed_second(lib, name):
    """The gradient of sum(g**2) + <g, d>, g the input gradient of <f(x * w), c>, for x and w (a WGAN-GP penalty's
    shape): the second derivative through the backward's mask reaches w, and is zeros for x."""
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((1, 3, 1, 1)) + 1.5
    x, w = lib.tensor(X, requires_grad=True), lib.tensor(w0, requires_grad=True)
    y = CASES[name](EF if lib is ember else TF, x * w)
    c = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    g, = lib.autograd.grad((y * c).sum(), x, create_graph=True)
    penalty = (g * g).sum() + (g * lib.tensor(np.sin(X))).sum()
    return [np.asarray(t.detach().numpy()) for t in lib.autograd.grad(penalty, [x, w])]


@pytest.mark.parametrize("name", ["hardtanh", "leaky_relu", "softshrink", "threshold", "prelu", "rrelu_eval",
                                  "adaptive_max_pool2d", "fractional_max_pool2d"])
def test_a_gradient_penalty_through_a_piecewise_linear_op_as_pytorch(name):
    for ours, theirs in zip(_mixed_second(ember, name), _mixed_second(torch, name)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_prelu_second_derivative_for_its_weight_as_pytorch_and_finite_differences():
    x0 = np.random.default_rng(3).standard_normal((4, 3, 5))

    def penalty(lib, w0, create_graph=True):
        x, w = lib.tensor(x0, requires_grad=True), lib.tensor(w0, requires_grad=True)
        g, = lib.autograd.grad((lib.nn.functional.prelu(x, w) * lib.tensor(np.cos(x0))).sum(), x,
                               create_graph=create_graph)
        return (g * g * lib.tensor(np.sin(x0))).sum(), w

    w0 = np.array([0.25, -0.3, 0.7])
    value, w = penalty(ember, w0)
    ours = np.asarray(ember.autograd.grad(value, w)[0].numpy())
    value, w = penalty(torch, w0)
    np.testing.assert_allclose(ours, torch.autograd.grad(value, w)[0].numpy(), rtol=1e-12)
    eps = 1e-6
    numeric = [(penalty(ember, w0 + eps * e, False)[0].item() - penalty(ember, w0 - eps * e, False)[0].item())
               / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(ours, numeric, rtol=1e-6)
    assert np.abs(ours).min() > 0.1  # a nonzero second derivative


@pytest.mark.parametrize("name", ["relu6", "leaky_relu", "hardshrink", "prelu", "adaptive_max_pool2d"])
def test_the_second_gradient_under_jit_and_tf_gradients_as_pytorch(name):
    import ember.compat.tf as tf
    from ember.compat.tf._core import as_tf, op

    w0 = np.random.default_rng(2).standard_normal((1, 3, 1, 1)) + 1.5  # _mixed_second's w
    expected = _mixed_second(torch, name)

    def penalty_grads(x, w):
        x.requires_grad_()
        y = CASES[name](EF, x * w)
        g, = ember.autograd.grad((y * ember.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))).sum(), x,
                                 create_graph=True)
        return ember.autograd.grad((g * g).sum() + (g * ember.tensor(np.sin(X))).sum(), [x, w])

    jitted = ember.jit(penalty_grads)(ember.tensor(X), ember.tensor(w0, requires_grad=True))
    for ours, theirs in zip(jitted, expected):
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-12, atol=1e-12)

    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, list(X.shape))
        y = op(lambda t: CASES[name](EF, t * w0), (as_tf(x),))
        g, = tf.gradients(tf.reduce_sum(y * np.cos(np.arange(int(np.prod(y.shape)))).reshape(tuple(y.shape))), [x])
        second, = tf.gradients(tf.reduce_sum(g * g), [x])
        assert second is not None
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(second, {x: X}), np.zeros(X.shape))

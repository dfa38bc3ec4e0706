"""Second-order gradients through PyTorch's linear pooling and padding ops whose backward reads the input (average
and adaptive average pooling, area interpolation, reflection and replication padding): the first derivative requires
grad whenever the input does (its own derivative is zeros), so a second ``grad`` gives PyTorch's numbers instead of
refusing the input as unused; where PyTorch's backward does not read the input (a global mean, nearest or bilinear
resampling, constant or circular padding), both refuse it."""

import numpy as np
import pytest

import ember
import ember.nn.functional as EF

torch = pytest.importorskip("torch")
TF = torch.nn.functional

X = np.random.default_rng(0).standard_normal((2, 3, 6, 6)) * 2

CASES = {
    "avg_pool1d": lambda F, x: F.avg_pool1d(x.reshape(2, 3, 36), 3, 2, 1),
    "avg_pool2d": lambda F, x: F.avg_pool2d(x, 3, 2, 1),
    "avg_pool2d_ceil_no_pad_count": lambda F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg_pool2d_divisor": lambda F, x: F.avg_pool2d(x, 3, 2, 1, divisor_override=5),
    "avg_pool3d": lambda F, x: F.avg_pool3d(x.reshape(2, 1, 3, 6, 6), 2),
    "AvgPool2d": lambda F, x: _lib(F).nn.AvgPool2d(3)(x),
    "adaptive_avg_pool1d": lambda F, x: F.adaptive_avg_pool1d(x.reshape(2, 3, 36), 5),
    "adaptive_avg_pool2d": lambda F, x: F.adaptive_avg_pool2d(x, (4, 5)),
    "adaptive_avg_pool2d_equal_bins": lambda F, x: F.adaptive_avg_pool2d(x, (3, 2)),
    "adaptive_avg_pool2d_identity": lambda F, x: F.adaptive_avg_pool2d(x, 6),
    "adaptive_avg_pool2d_unbatched": lambda F, x: F.adaptive_avg_pool2d(x[0], (4, None)),
    "adaptive_avg_pool3d": lambda F, x: F.adaptive_avg_pool3d(x.reshape(2, 1, 3, 6, 6), (2, 4, 5)),
    "AdaptiveAvgPool2d": lambda F, x: _lib(F).nn.AdaptiveAvgPool2d((4, 5))(x),
    "interpolate_area": lambda F, x: F.interpolate(x, scale_factor=0.5, mode="area"),
    "interpolate_area_1d": lambda F, x: F.interpolate(x.reshape(2, 3, 36), size=7, mode="area"),
    "interpolate_area_3d": lambda F, x: F.interpolate(x.reshape(2, 1, 3, 6, 6), size=(2, 4, 5), mode="area"),
    "interpolate_area_3d_depth_only": lambda F, x: F.interpolate(x.reshape(2, 1, 3, 6, 6), size=(2, 1, 1),
                                                                 mode="area"),
    "pad_reflect_1d": lambda F, x: F.pad(x.reshape(2, 3, 36), (2, 3), mode="reflect"),
    "pad_reflect_2d": lambda F, x: F.pad(x, (1, 2, 2, 1), mode="reflect"),
    "pad_reflect_3d": lambda F, x: F.pad(x.reshape(2, 1, 3, 6, 6), (1, 2, 2, 1, 1, 1), mode="reflect"),
    "pad_reflect_nothing": lambda F, x: F.pad(x, (0, 0, 0, 0), mode="reflect"),
    "pad_replicate_1d": lambda F, x: F.pad(x[0], (2, 3), mode="replicate"),
    "pad_replicate_2d": lambda F, x: F.pad(x, (1, 2, 2, 1), mode="replicate"),
    "pad_replicate_3d": lambda F, x: F.pad(x.reshape(2, 1, 3, 6, 6), (1, 2, 2, 1, 1, 1), mode="replicate"),
    "ReflectionPad2d": lambda F, x: _lib(F).nn.ReflectionPad2d(2)(x),
    "ReplicationPad1d": lambda F, x: _lib(F).nn.ReplicationPad1d((1, 3))(x[0]),
}

# PyTorch's backward of these does not read the input (adaptive pooling to one element is its global mean, circular
# padding a concatenation of slices): the second gradient is refused by both
REFUSED = {
    "adaptive_avg_pool1d_to_one": lambda F, x: F.adaptive_avg_pool1d(x.reshape(2, 3, 36), 1),
    "adaptive_avg_pool2d_to_one": lambda F, x: F.adaptive_avg_pool2d(x, 1),
    "adaptive_avg_pool3d_to_one": lambda F, x: F.adaptive_avg_pool3d(x.reshape(2, 1, 3, 6, 6), 1),
    "interpolate_area_3d_to_one": lambda F, x: F.interpolate(x.reshape(2, 1, 3, 6, 6), size=(1, 1, 1), mode="area"),
    "interpolate_nearest": lambda F, x: F.interpolate(x, size=(4, 9), mode="nearest"),
    "interpolate_bilinear": lambda F, x: F.interpolate(x, size=(4, 9), mode="bilinear"),
    "pad_constant": lambda F, x: F.pad(x, (1, 2, 0, 1), value=1.5),
    "pad_circular": lambda F, x: F.pad(x, (1, 2, 2, 1), mode="circular"),
}

def _lib(F):
    return ember if F is EF else torch


def _second(lib, fn, f):
    x = lib.tensor(X, requires_grad=True)
    y = fn(f, x)
    g, = lib.autograd.grad((y * lib.tensor(np.asarray(y.detach().numpy()) + 0.5)).sum(), x, create_graph=True)
    h, = lib.autograd.grad((g * lib.tensor(np.cos(X))).sum(), x)
    return np.asarray(h.detach().numpy())


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_gradient_of_a_linear_pooling_gradient_is_zeros_as_pytorch(name):
    ours, theirs = _second(ember, CASES[name], EF), _second(torch, CASES[name], TF)
    np.testing.assert_array_equal(ours, theirs)
    assert not ours.any()


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_where_pytorch_refuses_the_second_gradient_so_does_ember(name):
    with pytest.raises(RuntimeError, match="does not require grad"):
        _second(torch, REFUSED[name], TF)
    with pytest.raises(RuntimeError, match="does not require grad"):
        _second(ember, REFUSED[name], EF)


W0 = np.random.default_rng(2).standard_normal((1, 3, 1, 1)) + 1.5


def _penalty_grads(lib, name, x, w):
    """The gradient of sum(g**2) + <g, sin X>, g the input gradient of <f(x * w), c>, for x and w (a gradient
    penalty's shape): zeros for x, nonzero for w."""
    x.requires_grad_()
    y = CASES[name](EF if lib is ember else TF, x * w)
    c = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    g, = lib.autograd.grad((y * c).sum(), x, create_graph=True)
    return lib.autograd.grad((g * g).sum() + (g * lib.tensor(np.sin(X))).sum(), [x, w])


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_gradient_penalty_through_a_linear_pooling_op_eager_and_under_jit_as_pytorch(name):
    expected = [t.numpy() for t in _penalty_grads(torch, name, torch.tensor(X), torch.tensor(W0, requires_grad=True))]
    assert np.abs(expected[1]).max() > 0.01  # a nonzero second derivative for w
    eager = _penalty_grads(ember, name, ember.tensor(X), ember.tensor(W0, requires_grad=True))
    jitted = ember.jit(lambda x, w: _penalty_grads(ember, name, x, w))(ember.tensor(X),
                                                                       ember.tensor(W0, requires_grad=True))
    for ours in (eager, jitted):
        for a, b in zip(ours, expected):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-12)

"""Lazy convolutions and normalizations (LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d, LazyBatchNorm1d/2d/3d,
LazyInstanceNorm1d/2d/3d) and nn.UninitializedParameter / UninitializedBuffer against torch.nn: reprs and state-dict
keys before and after the first call, the shapes the input gives, an optimizer made before the first call, loading a
state dict, values and gradients, and ``ember.jit``."""

import copy
import pickle

import numpy as np
import pytest

import ember
from ember import nn, optim

torch = pytest.importorskip("torch")

_CONVS = [
    ("LazyConv1d", (4, 3), {}, (2, 3, 9)),
    ("LazyConv2d", (4, 3), {"stride": 2, "padding": 1}, (2, 3, 7, 6)),
    ("LazyConv2d", (6, (3, 2)), {"groups": 3, "bias": False}, (2, 6, 5, 5)),
    ("LazyConv3d", (2, 2), {"dilation": 2}, (1, 3, 5, 5, 5)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2, "groups": 2}, (2, 6, 5)),
    ("LazyConvTranspose2d", (3, 4), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 5, 4, 4)),
    ("LazyConvTranspose3d", (2, 2), {"stride": 2, "bias": False}, (1, 3, 2, 3, 2)),
]


def _same_weights(ours, theirs):
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.tensor(dict(ours.named_parameters())[name].numpy().astype(np.float64)))


@pytest.mark.parametrize("name,args,kwargs,shape", _CONVS)
def test_lazy_convolutions_take_in_channels_from_the_first_call_as_torch(name, args, kwargs, shape):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(isinstance(p, nn.UninitializedParameter) for p in ours.parameters())
    held = list(ours.parameters())
    sgd = optim.SGD(held, lr=0.1)
    x = np.random.default_rng(0).standard_normal(shape)
    y = ours(ember.tensor(x.astype(np.float32)))
    theirs(torch.tensor(x, dtype=torch.float32))
    assert type(ours).__name__ == type(theirs).__name__ == name[4:]
    assert repr(ours) == repr(theirs)
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert all(type(p) is nn.Parameter for p in held) and [id(p) for p in ours.parameters()] == [id(p) for p in held]
    fan_in = np.prod(ours.weight.shape[1:])
    assert np.abs(ours.weight.detach().numpy()).max() <= 1 / np.sqrt(fan_in) and ours.weight.detach().numpy().std() > 0
    before = [p.detach().numpy().copy() for p in held]
    y.sum().backward()
    sgd.step()
    assert all(not np.array_equal(b, p.detach().numpy()) for b, p in zip(before, held))


@pytest.mark.parametrize("name,args,kwargs,shape", _CONVS)
def test_lazy_convolutions_load_a_torch_state_dict_and_compute_its_values_and_gradients(name, args, kwargs, shape):
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    theirs(torch.zeros(shape, dtype=torch.float64))
    ours = getattr(nn, name)(*args, **kwargs, dtype=ember.float64)
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    assert type(ours).__name__ == name[4:] and repr(ours) == repr(theirs)
    x = np.random.default_rng(1).standard_normal(shape)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours(ex), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_lazy_convolution_refuses_channels_that_groups_do_not_divide():
    with pytest.raises(ValueError, match=r"LazyConv2d: in_channels \(5\) from the input must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(ember.ones(1, 5, 4, 4))
    with pytest.raises(ValueError, match=r"LazyConv1d: out_channels \(3\) must be divisible by groups \(2\)"):
        nn.LazyConv1d(3, 3, groups=2)
    with pytest.raises(ValueError, match=r"LazyConv2d: expected 3-D \(unbatched\) or 4-D \(batched\) input"):
        nn.LazyConv2d(4, 3)(ember.ones(4, 4))



@pytest.mark.parametrize("name,kwargs,shape", [("LazyLinear", {}, (2, 5)),
                                                ("LazyConv2d", {"groups": np.int64(2)}, (2, 4, 5, 5)),
                                                ("LazyConvTranspose1d", {"groups": np.int64(2)}, (2, 4, 5))])
def test_lazy_layers_take_numpy_int_sizes_as_torch(name, kwargs, shape):
    args = (np.int64(4),) if name == "LazyLinear" else (np.int64(4), 3)  # a size NumPy computed: PyTorch takes it
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    assert tuple(ours(ember.tensor(x)).shape) == tuple(theirs(torch.tensor(x)).shape)
    assert repr(ours) == repr(theirs)

_NORMS = [("LazyBatchNorm1d", (8, 5)), ("LazyBatchNorm1d", (8, 5, 3)), ("LazyBatchNorm2d", (4, 3, 5, 5)),
          ("LazyBatchNorm3d", (2, 3, 2, 3, 3)), ("LazyInstanceNorm1d", (4, 3, 6)),
          ("LazyInstanceNorm2d", (2, 3, 4, 5)), ("LazyInstanceNorm3d", (2, 3, 2, 3, 4))]


@pytest.mark.parametrize("name,shape", _NORMS)
@pytest.mark.parametrize("kwargs", [{}, {"affine": False, "momentum": 0.3}, {"track_running_stats": False},
                                    {"bias": False}])  # PyTorch's keyword-only bias (a TypeError before)
def test_lazy_norms_match_torch_in_training_and_eval(name, shape, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs, dtype=ember.float64), getattr(torch.nn, name)(**kwargs).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if ours.running_mean is not None:
        assert isinstance(ours.running_mean, nn.UninitializedBuffer)
    held = list(ours.parameters())
    x = np.random.default_rng(0).standard_normal(shape) * 2 + 1
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours(ex), theirs(tx)
    assert type(ours).__name__ == name[4:] and repr(ours) == repr(theirs)
    assert [id(p) for p in ours.parameters()] == [id(p) for p in held]
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(2).standard_normal(shape)
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    ours_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(their_state)
    for key in ours_state:
        np.testing.assert_allclose(ours_state[key].detach().numpy(), their_state[key].numpy(), rtol=1e-10)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def test_lazy_norm_takes_its_shapes_from_a_state_dict_and_an_optimizer_made_before_trains_it():
    trained = nn.BatchNorm2d(5)
    trained.running_mean.array[...] = np.arange(5)
    fresh = nn.LazyBatchNorm2d()
    fresh.load_state_dict(trained.state_dict())
    assert type(fresh) is nn.BatchNorm2d and fresh.num_features == 5
    np.testing.assert_array_equal(fresh.running_mean.numpy(), np.arange(5))
    lazy = nn.LazyBatchNorm1d()
    adam = optim.Adam(lazy.parameters(), lr=0.1)
    (lazy(ember.randn(6, 4)) * ember.arange(4.0)).sum().backward()
    adam.step()
    assert not np.allclose(lazy.weight.detach().numpy(), 1.0)


def test_lazy_instance_norm_of_an_unbatched_input_takes_its_channels():
    # (PyTorch takes num_features from dimension 1 whatever the rank, so an unbatched input fails there)
    layer = nn.LazyInstanceNorm2d()
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    y = layer(ember.tensor(x))
    assert layer.num_features == 3 and y.shape == (3, 4, 5)
    expected = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True).double()(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"LazyBatchNorm2d: expected 4-D input, got shape \[3, 4\]"):
        nn.LazyBatchNorm2d()(ember.ones(3, 4))


def test_uninitialized_parameter_and_buffer_materialize_in_place_as_torch():
    p, tp = nn.UninitializedParameter(), torch.nn.UninitializedParameter()
    assert isinstance(p, nn.Parameter) and p.requires_grad == tp.requires_grad
    p.materialize((3, 2))
    tp.materialize((3, 2))
    assert type(p) is nn.Parameter and type(tp) is torch.nn.Parameter and p.shape == tuple(tp.shape)
    b = nn.UninitializedBuffer(dtype=ember.float64)
    b.materialize(4)
    assert type(b) is ember.Tensor and b.shape == (4,) and b.dtype == ember.float64
    assert not nn.UninitializedBuffer().requires_grad


def test_lazy_layers_deepcopied_or_pickled_before_their_first_call_stay_lazy_as_torch():
    # the copy's weight was a Parameter of 0 elements: its first call raised 'Parameter' has no 'materialize'
    for how in (copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))):
        ours, theirs = nn.LazyLinear(3), torch.nn.LazyLinear(3)
        copies = how(ours), how(theirs)
        assert [type(p).__name__ for p in copies[0].parameters()] == \
            [type(p).__name__ for p in copies[1].parameters()] == ["UninitializedParameter"] * 2
        assert copies[0](ember.ones((2, 5))).shape == tuple(copies[1](torch.ones((2, 5))).shape) == (2, 3)
        assert type(ours.weight) is nn.UninitializedParameter  # the original untouched
    p = nn.UninitializedParameter(requires_grad=False, dtype=ember.float64)
    for copied in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(copied) is nn.UninitializedParameter and not copied.requires_grad
        assert copied.dtype == ember.float64 and copied is not p


def test_lazy_layers_trace_under_jit_after_their_first_call():
    model = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConvTranspose2d(2, 2))
    x = ember.randn(2, 3, 6, 6)
    model.eval()
    eager = model(x).detach().numpy()
    np.testing.assert_allclose(ember.jit(lambda x: model(x))(x).numpy(), eager, rtol=1e-5, atol=1e-6)


def test_lazy_transposed_convolution_takes_output_size_on_its_first_call_as_torch():
    ours, theirs = nn.LazyConvTranspose2d(3, 3, stride=2), torch.nn.LazyConvTranspose2d(3, 3, stride=2)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    y, expected = ours(ember.tensor(x), output_size=(10, 10)), theirs(torch.tensor(x), output_size=(10, 10))
    assert y.shape == tuple(expected.shape) == (1, 3, 10, 10)

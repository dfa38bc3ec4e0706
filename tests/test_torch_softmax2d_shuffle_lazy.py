"""Softmax2d, ChannelShuffle / channel_shuffle and LazyLinear against torch.nn: values, gradients, errors, the lazy
layer's materialization (first call, state dict), and ``ember.jit``."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn, optim

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5)])
def test_softmax2d_matches_torch_with_its_gradient(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    weights = np.random.default_rng(1).standard_normal(shape)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = nn.Softmax2d()(ours), torch.nn.Softmax2d()(theirs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 3), 3), ((2, 6, 3, 3), 2), ((1, 8, 5), 4), ((3, 4, 2, 2, 2), 2),
                                          ((2, 5, 3), 1), ((2, 6, 3), 6)])
def test_channel_shuffle_matches_torch_with_its_gradient(shape, groups):
    x = np.random.default_rng(0).standard_normal(shape)
    weights = np.random.default_rng(1).standard_normal(shape)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = F.channel_shuffle(ours, groups), torch.nn.functional.channel_shuffle(theirs, groups)
    np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(nn.ChannelShuffle(groups)(ours).detach().numpy(),
                                  torch.nn.ChannelShuffle(groups)(theirs).detach().numpy())
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
    assert repr(nn.ChannelShuffle(groups)) == repr(torch.nn.ChannelShuffle(groups))


def test_softmax2d_and_channel_shuffle_trace_under_jit():
    layers = nn.Sequential(nn.Conv2d(4, 6, 1), nn.ChannelShuffle(3), nn.Softmax2d())
    x = ember.randn(2, 4, 3, 3)
    traced = ember.jit(lambda x: layers(x))
    np.testing.assert_allclose(traced(x).numpy(), layers(x).detach().numpy(), rtol=1e-6)


def test_lazy_linear_takes_in_features_from_its_first_call_as_torch():
    ours, theirs = nn.LazyLinear(3), torch.nn.LazyLinear(3)
    assert repr(ours) == repr(theirs) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert ours.has_uninitialized_params() and len(list(ours.parameters())) == len(list(theirs.parameters())) == 2
    x = np.random.default_rng(0).standard_normal((4, 7)).astype(np.float32)
    ours(ember.tensor(x))
    theirs(torch.tensor(x))
    assert type(ours) is nn.Linear and type(theirs) is torch.nn.Linear
    assert repr(ours) == repr(theirs) == "Linear(in_features=7, out_features=3, bias=True)"
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    bound = 1 / np.sqrt(7)  # Linear's initialization
    assert all(np.abs(p.array).max() <= bound and p.array.std() > 0 for p in ours.parameters())
    for p, t in zip(ours.parameters(), theirs.parameters()):
        p.array[...] = t.detach().numpy()
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)  # float32 products summed in another order


def test_lazy_linear_without_bias_keeps_dtype_and_trains_with_an_optimizer_made_after_the_first_call():
    net = nn.Sequential(nn.LazyLinear(8, bias=False, dtype=ember.float64), nn.Tanh(), nn.LazyLinear(2,
                                                                                                   dtype=ember.float64))
    x, y = ember.randn(16, 5, dtype=ember.float64), ember.randint(0, 2, (16,))
    first = ember.cross_entropy(net(x), y).item()
    assert net[0].bias is None and net[0].weight.dtype == np.float64 and net[2].weight.shape == (2, 8)
    opt = optim.SGD(net.parameters(), lr=0.5)
    for _ in range(10):
        opt.zero_grad()
        ember.cross_entropy(net(x), y).backward()
        opt.step()
    assert ember.cross_entropy(net(x), y).item() < first


def test_an_optimizer_made_before_the_first_call_trains_the_lazy_parameters_as_torch():
    net = nn.Sequential(nn.LazyLinear(8), nn.Tanh(), nn.Linear(8, 2))
    net.double()  # carried over to the shapes the first call gives
    opt = optim.SGD(net.parameters(), lr=0.5)
    assert len(opt.param_groups[0]["params"]) == 4
    x, y = ember.randn(16, 5, dtype=ember.float64), ember.randint(0, 2, (16,))
    first = ember.cross_entropy(net(x), y).item()
    lazy_weight = net[0].weight.detach().numpy().copy()
    assert lazy_weight.shape == (8, 5) and lazy_weight.dtype == np.float64
    for _ in range(10):
        opt.zero_grad()
        ember.cross_entropy(net(x), y).backward()
        opt.step()
    assert not np.array_equal(net[0].weight.detach().numpy(), lazy_weight)  # the optimizer holds the same Parameter
    assert ember.cross_entropy(net(x), y).item() < first


def test_lazy_linear_materializes_at_its_first_call_under_jit():
    layer = nn.LazyLinear(4)
    traced = ember.jit(lambda x: layer(x))
    x = ember.randn(3, 6)
    np.testing.assert_allclose(traced(x).numpy(), layer(x).detach().numpy(), rtol=1e-6)
    assert layer.weight.shape == (4, 6)


def test_lazy_layers_take_their_shapes_from_a_loaded_state_dict_as_torch():
    source = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    ours = nn.Sequential(nn.LazyLinear(3), nn.ReLU(), nn.LazyLinear(2))
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in source.state_dict().items()})
    assert [type(m) for m in ours] == [nn.Linear, nn.ReLU, nn.Linear]
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), source(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)  # float32 products summed in another order


ERRORS = [
    (lambda: F.channel_shuffle(ember.ones(2, 4), 2), ValueError,
     r"channel_shuffle: input must be \(N, C, \*\) with at least 3 dimensions, got shape \[2, 4\]"),
    (lambda: F.channel_shuffle(ember.ones(2, 5, 3), 2), ValueError,
     r"channel_shuffle: the 5 channels of input \[2, 5, 3\] do not divide into 2 groups"),
    (lambda: F.channel_shuffle(ember.ones(2, 4, 3), 0), ValueError, "channel_shuffle: groups must be a positive int"),
    (lambda: nn.ChannelShuffle(1.5), ValueError, "ChannelShuffle: groups must be a positive int, got 1.5"),
    (lambda: nn.Softmax2d()(ember.ones(2, 3)), ValueError,
     r"Softmax2d: input must be 3-D \(C, H, W\) or 4-D \(N, C, H, W\), got shape \[2, 3\]"),
    (lambda: nn.LazyLinear(-1), ValueError, "LazyLinear: out_features must be an int >= 0, got -1"),
    (lambda: nn.LazyLinear(2)(ember.tensor(1.0)), ValueError, "LazyLinear: the first input must have a known last"),
]


@pytest.mark.parametrize("call,error,message", ERRORS)
def test_bad_arguments_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()

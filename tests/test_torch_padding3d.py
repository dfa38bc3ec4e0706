"""The 3-D padding modules, CircularPad1d/2d/3d and ``F.pad`` of 5-D inputs in every mode against torch.nn: values,
gradients, reprs, input ranks and ``ember.jit``."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")


def _compare(ours_fn, torch_fn, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours_fn(ours), torch_fn(theirs)
    np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
    weights = np.random.default_rng(1).standard_normal(expected.shape)
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("spec", [(1, 2, 0, 1, 2, 1), (2, 0, 1, 1, 1, 0), (0, 0, 2, 2, 0, 1)])
def test_pad_of_5d_input_matches_torch_in_every_mode(mode, spec):
    _compare(lambda x: F.pad(x, spec, mode=mode), lambda x: torch.nn.functional.pad(x, spec, mode=mode),
             (2, 3, 3, 4, 5))


@pytest.mark.parametrize("name,args", [
    ("ConstantPad3d", (1, 2.5)), ("ConstantPad3d", ((1, 0, 2, 1, 0, 2), -1.0)), ("ZeroPad3d", (1,)),
    ("ZeroPad3d", ((0, 1, 2, 0, 1, 1),)), ("ReflectionPad3d", (2,)), ("ReflectionPad3d", ((1, 0, 2, 1, 0, 1),)),
    ("ReplicationPad3d", (3,)), ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),)), ("CircularPad3d", (1,)),
    ("CircularPad3d", ((1, 0, 2, 1, 0, 3),)), ("CircularPad2d", ((1, 2, 0, 1),)), ("CircularPad1d", (2,)),
    ("CircularPad1d", ((0, 3),)), ("ZeroPad2d", ((1, 2, 0, 1),)), ("ZeroPad1d", (2,)),
])
def test_padding_modules_match_torch_with_their_gradients_and_reprs(name, args):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    dims = int(name[-2])
    shape = (2, 3, 3, 4, 5)[3 - dims:]
    for s in (shape, shape[1:]):
        _compare(ours, theirs, s)


def test_constant_padding_takes_inputs_of_more_dimensions_as_torch():
    _compare(nn.ConstantPad1d(1, 2.0), torch.nn.ConstantPad1d(1, 2.0), (2, 2, 2, 4))
    _compare(nn.ZeroPad2d(1), torch.nn.ZeroPad2d(1), (2, 2, 2, 3, 4))
    with pytest.raises(ValueError, match=r"ConstantPad3d: expected an input of at least 3 dimensions, got shape \[4\]"):
        nn.ConstantPad3d(1, 0.0)(ember.ones(4))


def test_reflection_circular_and_replication_3d_refuse_other_ranks_and_sizes():
    with pytest.raises(ValueError, match=r"ReflectionPad3d: expected 4-D or 5-D input, got shape \[2, 3, 4\]"):
        nn.ReflectionPad3d(1)(ember.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"CircularPad1d: expected 2-D or 3-D input, got shape \[1, 1, 1, 4\]"):
        nn.CircularPad1d(1)(ember.ones(1, 1, 1, 4))
    with pytest.raises(ValueError, match="pad: reflect padding"):
        nn.ReflectionPad3d(3)(ember.ones(1, 1, 3, 5, 5))
    with pytest.raises(ValueError, match="pad: circular padding"):
        nn.CircularPad3d(4)(ember.ones(1, 1, 3, 5, 5))


def test_3d_padding_traces_under_jit():
    layers = nn.Sequential(nn.ReflectionPad3d(1), nn.ReplicationPad3d((1, 0, 0, 1, 1, 0)), nn.CircularPad3d(1),
                           nn.ZeroPad3d(1), nn.ConstantPad3d(1, 0.5))
    x = ember.randn(1, 2, 3, 3, 3)
    np.testing.assert_array_equal(ember.jit(lambda x: layers(x))(x).numpy(), layers(x).numpy())

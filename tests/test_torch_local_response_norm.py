"""local_response_norm / LocalResponseNorm / CrossMapLRN2d against torch.nn: values and gradients for odd and even
window sizes and 3-D to 5-D inputs, reprs, errors and ``ember.jit``."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")


def _compare(ours_fn, torch_fn, shape, rows=slice(None)):
    x = np.random.default_rng(0).standard_normal(shape) * 2
    weights = np.random.default_rng(1).standard_normal(shape)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours_fn(ours), torch_fn(theirs)
    np.testing.assert_allclose(y.detach().numpy()[:, rows], expected.detach().numpy()[:, rows], rtol=1e-12,
                               atol=1e-14)
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    return ours.grad.numpy(), theirs.grad.numpy()


@pytest.mark.parametrize("shape", [(2, 7, 5), (2, 6, 3, 4), (1, 5, 2, 3, 3)])
@pytest.mark.parametrize("size,alpha,beta,k", [(1, 1e-4, 0.75, 1.0), (2, 0.5, 0.75, 2.0), (3, 1.0, 0.5, 1.0),
                                              (4, 0.3, 1.2, 0.5), (9, 0.2, 0.75, 1.0)])
def test_local_response_norm_matches_torch_with_its_gradient(shape, size, alpha, beta, k):
    ours, theirs = _compare(lambda x: F.local_response_norm(x, size, alpha, beta, k),
                            lambda x: torch.nn.functional.local_response_norm(x, size, alpha, beta, k), shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    layer, their_layer = nn.LocalResponseNorm(size, alpha, beta, k), torch.nn.LocalResponseNorm(size, alpha, beta, k)
    assert repr(layer) == repr(their_layer)
    ours, theirs = _compare(layer, their_layer, shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("size", [3, 5])
def test_cross_map_lrn2d_is_the_centred_window_of_torch(size):
    # PyTorch's CrossMapLRN2d keeps channel 0's square in every later window once it starts sliding (and its
    # gradient disagrees with its own forward): the channels before the slide agree, and the whole layer equals
    # its documented window, local_response_norm's
    ours, theirs = nn.CrossMapLRN2d(size, 0.5, 0.75, 1), torch.nn.CrossMapLRN2d(size, 0.5, 0.75, 1)
    assert repr(ours) == repr(theirs)
    _compare(ours, theirs, (2, 8, 3, 3), rows=slice(0, (size - 1) // 2 + 1))
    ours_grad, theirs_grad = _compare(ours, lambda x: torch.nn.functional.local_response_norm(x, size, 0.5, 0.75, 1),
                                      (2, 8, 3, 3))
    np.testing.assert_allclose(ours_grad, theirs_grad, rtol=1e-10, atol=1e-12)


def test_local_response_norm_refuses_bad_input_and_keeps_empty_input():
    with pytest.raises(ValueError, match=r"local_response_norm: expected an \(N, C, ...\) input of 3 or more "
                                         r"dimensions, got shape \[2, 3\]"):
        F.local_response_norm(ember.ones(2, 3), 2)
    with pytest.raises(ValueError, match="local_response_norm: size must be an int >= 1, got 0"):
        nn.LocalResponseNorm(0)(ember.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"CrossMapLRN2d: expected an \(N, C, H, W\) input, got shape \[2, 3, 4\]"):
        nn.CrossMapLRN2d(3)(ember.ones(2, 3, 4))
    assert F.local_response_norm(ember.ones(0, 3, 4), 2).shape == (0, 3, 4)


def test_local_response_norm_traces_under_jit():
    layers = nn.Sequential(nn.Conv2d(3, 6, 3), nn.LocalResponseNorm(3, alpha=0.1), nn.CrossMapLRN2d(2, alpha=0.2))
    x = ember.randn(2, 3, 6, 6)
    np.testing.assert_allclose(ember.jit(lambda x: layers(x))(x).numpy(), layers(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)

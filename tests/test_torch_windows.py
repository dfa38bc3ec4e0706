"""PyTorch's window functions against torch itself: values, dtypes, periodic/symmetric forms and errors."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NAMES = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8, 33])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_torch_in_float64(name, length, periodic):
    ours = getattr(ember, name)(length, periodic, dtype=ember.float64)
    theirs = getattr(torch, name)(length, periodic, dtype=torch.float64)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == np.float64
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_windows_default_to_periodic_float32_and_take_requires_grad(name):
    ours, theirs = getattr(ember, name)(10), getattr(torch, name)(10)
    assert ours.dtype == np.float32 and not ours.requires_grad
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    leaf = getattr(ember, name)(4, requires_grad=True)
    assert leaf.requires_grad and leaf.node is None
    (leaf * 2).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), np.full(4, 2.0, np.float32))


def test_hamming_and_kaiser_parameters_match_torch():
    np.testing.assert_allclose(ember.hamming_window(7, True, 0.5, 0.5).numpy(),
                               torch.hamming_window(7, True, 0.5, 0.5).numpy(), atol=1e-6)
    np.testing.assert_allclose(ember.hamming_window(7, False, alpha=0.6, beta=0.3).numpy(),
                               torch.hamming_window(7, False, alpha=0.6, beta=0.3).numpy(), atol=1e-6)
    for beta in (0.0, 5.0, 30.0):
        np.testing.assert_allclose(ember.kaiser_window(9, False, beta, dtype=ember.float64).numpy(),
                                   torch.kaiser_window(9, False, beta, dtype=torch.float64).numpy(), rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_windows_refuse_integer_dtypes_and_negative_lengths(name):
    with pytest.raises(TypeError, match=f"{name}: needs a floating dtype, got int64"):
        getattr(ember, name)(3, dtype=ember.int64)
    with pytest.raises(ValueError, match=f"{name}: requires a non-negative window_length, got window_length=-1"):
        getattr(ember, name)(-1)


def test_kaiser_window_with_a_large_beta_stays_finite():
    # I0(beta) overflows past beta = 713: the centre was inf / inf, NaN (PyTorch's too); in float32 from beta = 89
    mpmath = pytest.importorskip("mpmath")
    window = ember.kaiser_window(5, False, 800.0, dtype=ember.float64).numpy()
    expected = [float(mpmath.besseli(0, 800 * mpmath.sqrt(1 - r * r)) / mpmath.besseli(0, 800)) for r in (-1, -0.5, 0)]
    np.testing.assert_allclose(window, expected + expected[1::-1], rtol=1e-12, atol=0)
    small = ember.kaiser_window(5, False, 100.0).numpy()
    assert np.all(np.isfinite(small)) and small[2] == 1.0
    for beta in (0.5, 12.0, 50.0, 300.0, -3.0):
        np.testing.assert_allclose(ember.kaiser_window(17, True, beta, dtype=ember.float64).numpy(),
                                   torch.kaiser_window(17, True, beta, dtype=torch.float64).numpy(), rtol=1e-12)

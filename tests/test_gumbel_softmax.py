"""F.gumbel_softmax: samples on the simplex, one-hot hard samples with the soft gradient, seeding from Ember's
generator, argmax frequencies that follow softmax(logits), and ember.jit (PyTorch comparison:
test_torch_gumbel_softmax.py)."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _logits(*shape, seed=0, dtype=np.float32):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_soft_samples_lie_on_the_simplex_along_dim(dtype, dim):
    y = F.gumbel_softmax(_logits(3, 4, 5, dtype=dtype), tau=0.7, dim=dim)
    assert y.shape == (3, 4, 5) and y.dtype == dtype
    values = y.numpy()
    assert (values >= 0).all()
    np.testing.assert_allclose(values.sum(axis=dim), 1.0, rtol=1e-5)


@pytest.mark.parametrize("dim", [-1, 0])
def test_hard_samples_are_one_hot_at_the_soft_samples_argmax(dim):
    logits = _logits(6, 4)
    ember.manual_seed(3)
    soft = F.gumbel_softmax(logits, dim=dim).numpy()
    ember.manual_seed(3)
    hard = F.gumbel_softmax(logits, hard=True, dim=dim).numpy()
    expected = (soft == soft.max(axis=dim, keepdims=True)).astype(np.float32)
    assert (expected.sum(axis=dim) == 1).all()
    np.testing.assert_allclose(hard, expected, atol=1e-6)


def test_the_straight_through_gradient_is_the_soft_samples_gradient():
    weights = ember.tensor(np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32))
    grads = []
    for hard in (False, True):
        x = _logits(4, 6).requires_grad_()
        ember.manual_seed(5)
        (F.gumbel_softmax(x, tau=0.5, hard=hard) * weights).sum().backward()
        grads.append(x.grad.numpy())
    assert np.abs(grads[0]).max() > 0
    np.testing.assert_array_equal(grads[1], grads[0])


def test_manual_seed_makes_samples_reproducible_and_draws_differ():
    logits = _logits(2, 8)
    ember.manual_seed(7)
    first, second = F.gumbel_softmax(logits).numpy(), F.gumbel_softmax(logits).numpy()
    ember.manual_seed(7)
    np.testing.assert_array_equal(F.gumbel_softmax(logits).numpy(), first)
    assert not np.array_equal(first, second)


def test_log_softmax_outputs_give_the_same_samples_as_their_logits():
    logits = _logits(3, 5, dtype=np.float64)
    for hard in (False, True):
        ember.manual_seed(2)
        raw = F.gumbel_softmax(logits, tau=0.8, hard=hard).numpy()
        ember.manual_seed(2)
        normalized = F.gumbel_softmax(F.log_softmax(logits, -1), tau=0.8, hard=hard).numpy()
        np.testing.assert_allclose(normalized, raw, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_argmax_frequencies_follow_softmax_of_the_logits(tau):
    """The argmax of logits + Gumbel noise is a sample of softmax(logits), whatever tau."""
    logits = np.array([1.0, 0.2, -0.5, 0.0, -2.0], np.float32)
    draws = 20000
    ember.manual_seed(0)
    hard = F.gumbel_softmax(ember.tensor(np.tile(logits, (draws, 1))), tau=tau, hard=True).numpy()
    frequencies = hard.sum(axis=0) / draws
    expected = np.exp(logits) / np.exp(logits).sum()
    # five standard errors of a frequency over 20000 draws
    np.testing.assert_allclose(frequencies, expected, atol=5 * np.sqrt(expected * (1 - expected) / draws).max())


def test_under_jit_each_call_draws_anew_and_seeding_repeats_them():
    sample = ember.jit(lambda x: F.gumbel_softmax(x, tau=0.5, hard=True))
    logits = _logits(64, 4)
    ember.manual_seed(4)
    first, second = sample(logits).numpy(), sample(logits).numpy()
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first.sum(axis=1), 1.0)
    ember.manual_seed(4)
    np.testing.assert_array_equal(sample(logits).numpy(), first)


def test_under_jit_the_straight_through_gradient_is_the_soft_samples_gradient():
    weights = ember.tensor(np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32))
    x = _logits(4, 6).requires_grad_()
    grads = []
    for hard in (False, True):
        def step(logits, hard=hard):
            sample = F.gumbel_softmax(logits, tau=0.5, hard=hard)
            (sample * weights).sum().backward()
            return sample

        traced = ember.jit(step)
        for _ in range(2):  # the trace, then its compiled code
            x.grad = None
            ember.manual_seed(5)
            traced(x)
        grads.append(x.grad.numpy())
    assert np.abs(grads[0]).max() > 0
    np.testing.assert_array_equal(grads[1], grads[0])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="gumbel_softmax: tau must be positive, got 0"):
        F.gumbel_softmax(_logits(2, 3), tau=0)
    with pytest.raises(ValueError, match="gumbel_softmax.*axis 2.*\\[2, 3\\]"):
        F.gumbel_softmax(_logits(2, 3), dim=2)

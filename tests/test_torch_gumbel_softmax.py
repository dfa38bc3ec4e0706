"""F.gumbel_softmax against PyTorch's formula for the same Gumbel noise: soft and hard samples and their gradients
(the straight-through estimator's is the soft sample's)."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F

torch = pytest.importorskip("torch")


def _noise_of(soft: np.ndarray, logits: np.ndarray, tau: float, dim: int) -> np.ndarray:
    """Gumbel noise that gives ``soft`` from ``logits``: tau * log(soft) - logits, up to a constant along ``dim``
    (which softmax ignores)."""
    return tau * np.log(soft.astype(np.float64)) - logits.astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tau, dim", [(1.0, -1), (0.5, 0), (2.0, 1)])
def test_gumbel_softmax_gradients_match_torch_for_the_same_noise(dtype, tau, dim):
    logits = np.random.default_rng(1).standard_normal((3, 5)).astype(dtype)
    weights = np.random.default_rng(2).standard_normal((3, 5)).astype(dtype)
    ours, grads = {}, {}
    for hard in (False, True):
        x = ember.tensor(logits, requires_grad=True)
        ember.manual_seed(11)  # the same draw for the soft and the hard sample
        ours[hard] = F.gumbel_softmax(x, tau=tau, hard=hard, dim=dim)
        (ours[hard] * ember.tensor(weights)).sum().backward()
        grads[hard] = x.grad.numpy()
    soft = ours[False].detach().numpy()
    noise = torch.tensor(_noise_of(soft, logits, tau, dim).astype(dtype))
    tx = torch.tensor(logits, requires_grad=True)
    theirs_soft = ((tx + noise) / tau).softmax(dim)
    index = theirs_soft.max(dim, keepdim=True)[1]  # PyTorch's hard sample, written as its gumbel_softmax does
    theirs_hard = torch.zeros_like(theirs_soft).scatter_(dim, index, 1.0) - theirs_soft.detach() + theirs_soft
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(soft, theirs_soft.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours[True].detach().numpy(), theirs_hard.detach().numpy(), atol=rtol)
    (theirs_soft * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(grads[False], tx.grad.numpy(), rtol=rtol * 10, atol=rtol)
    np.testing.assert_array_equal(grads[True], grads[False])  # the straight-through estimator

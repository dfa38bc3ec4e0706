"""Functions that PyTorch always answers with a new tensor also do in Ember where the arguments ask for no change
(a roll by whole turns, a resize to the same size, a shuffle by 1): a write into the result leaves the input as
it was, and a recorded write sends its gradient where PyTorch's does."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_F = {ember: ember.nn.functional, torch: torch.nn.functional}

CASES = {
    "roll by 0": lambda m, t: t.roll(0),
    "roll by whole turns": lambda m, t: t.roll((0, 4), (1, 2)),
    "roll of a 0-d tensor": lambda m, t: t[0, 0, 0, 0].roll(1),
    "diff n=0": lambda m, t: t.diff(n=0),
    "rot90 k=4": lambda m, t: m.rot90(t, 4),
    "interpolate nearest": lambda m, t: _F[m].interpolate(t, size=(4, 6)),
    "interpolate bilinear": lambda m, t: _F[m].interpolate(t, size=(4, 6), mode="bilinear"),
    "adaptive_avg_pool2d": lambda m, t: _F[m].adaptive_avg_pool2d(t, (4, 6)),
    "adaptive_avg_pool2d unbatched": lambda m, t: _F[m].adaptive_avg_pool2d(t[0], (None, 6)),
    "adaptive_max_pool2d": lambda m, t: _F[m].adaptive_max_pool2d(t, (4, 6)),
    "pixel_shuffle 1": lambda m, t: _F[m].pixel_shuffle(t, 1),
    "pixel_unshuffle 1": lambda m, t: _F[m].pixel_unshuffle(t, 1),
    "pixel_shuffle of 1x1": lambda m, t: _F[m].pixel_shuffle(t[:, :, :1, :1].repeat(1, 4, 1, 1), 2),
    "channel_shuffle 1": lambda m, t: _F[m].channel_shuffle(t, 1),
    "channel_shuffle of 1-channel groups": lambda m, t: _F[m].channel_shuffle(t, 3),
    "pad reflect 0": lambda m, t: _F[m].pad(t, (0, 0, 0, 0), mode="reflect"),
    "pad replicate 0": lambda m, t: _F[m].pad(t, (0, 0, 0, 0), mode="replicate"),
    "pad circular 0": lambda m, t: _F[m].pad(t, (0, 0, 0, 0), mode="circular"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_write_into_the_result_leaves_the_input_and_its_gradient_as_torch(name):
    fn = CASES[name]
    data = np.random.default_rng(0).standard_normal((2, 3, 4, 6)).astype(np.float32)
    ours, theirs = ember.tensor(data), torch.tensor(data)
    fn(ember, ours).mul_(0.5)
    fn(torch, theirs).mul_(0.5)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    leaf, tleaf = ember.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    a, b = leaf * 1, tleaf * 1
    got, want = fn(ember, a), fn(torch, b)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)
    got.mul_(0.5)
    want.mul_(0.5)
    (a * a).sum().backward()
    (b * b).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), tleaf.grad.numpy(), rtol=1e-6)

"""PyTorch's top-level alpha_dropout, feature_alpha_dropout, bilinear, embedding_bag, adaptive_max_pool1d and
max_pool1d_with_indices against torch itself: argument orders, results and gradients."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _pair(*shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    return ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def test_bilinear_matches_torch_with_gradients():
    (x1, t1), (x2, t2) = _pair(4, 3), _pair(4, 5, seed=1)
    (w, tw), (b, tb) = _pair(2, 3, 5, seed=2), _pair(2, seed=3)
    ours, theirs = ember.bilinear(x1, x2, w, b), torch.bilinear(t1, t2, tw, tb)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    ours.sum().backward()
    theirs.sum().backward()
    for a, t in ((x1, t1), (x2, t2), (w, tw), (b, tb)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_adaptive_max_pool1d_and_max_pool1d_with_indices_return_values_and_indices():
    x, tx = _pair(2, 3, 8)
    for ours, theirs in ((ember.adaptive_max_pool1d(x, 3), torch.adaptive_max_pool1d(tx, 3)),
                         (ember.max_pool1d_with_indices(x, 2), torch.max_pool1d_with_indices(tx, 2)),
                         (ember.max_pool1d_with_indices(x, 3, 2, 1), torch.max_pool1d_with_indices(tx, 3, 2, 1))):
        np.testing.assert_array_equal(ours[0].detach().numpy(), theirs[0].detach().numpy())
        np.testing.assert_array_equal(ours[1].numpy(), theirs[1].numpy())
    values, tvalues = ember.adaptive_max_pool1d(x, (5,))[0], torch.adaptive_max_pool1d(tx, (5,))[0]
    (values * values).sum().backward()
    (tvalues * tvalues).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_alpha_dropouts_take_train_positionally():
    x = ember.randn(2, 3, 4)
    assert np.array_equal(ember.alpha_dropout(x, 0.5, False).numpy(), x.numpy())
    assert np.array_equal(ember.feature_alpha_dropout(x, 0.5, False).numpy(), x.numpy())
    ember.manual_seed(0)
    dropped = ember.alpha_dropout(ember.ones(2000), 0.5, True)
    assert len(np.unique(np.round(dropped.numpy(), 5))) == 2  # kept and dropped values, both shifted
    channels = ember.feature_alpha_dropout(ember.ones(50, 4, 6), 0.5, True).numpy()
    assert (channels == channels[:, :, :1]).all()  # whole channels


@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_matches_torch(mode, padding_idx):
    weight, tweight = _pair(10, 3)
    ids, offsets = [1, 2, 4, 5, 4, 3, 9], [0, 3, 3]
    ours = ember.embedding_bag(weight, ember.tensor(ids), ember.tensor(offsets), False, mode, False, None, False,
                               padding_idx)
    theirs = torch.embedding_bag(tweight, torch.tensor(ids), torch.tensor(offsets), False, mode, False, None, False,
                                 padding_idx)
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy(), rtol=1e-12)
    if mode != 0:  # (PyTorch's sum leaves the others empty on its fast path)
        for a, t in zip(ours[1:], theirs[1:]):
            np.testing.assert_array_equal(a.numpy(), t.numpy())
    ours[0].sum().backward()
    theirs[0].sum().backward()
    np.testing.assert_allclose(weight.grad.numpy(), tweight.grad.numpy(), rtol=1e-12)


def test_embedding_bag_sum_fills_bag_of_each_index_and_sizes():
    weight = ember.randn(10, 2)
    ours = ember.embedding_bag(weight, ember.tensor([1, 2, 4, 5]), ember.tensor([0, 1, 4]), mode="sum")
    assert ours[1].tolist() == [0, 1, 1, 1] and ours[2].tolist() == [1, 3, 0] == ours[3].tolist()
    with pytest.raises(ValueError, match="embedding_bag: mode must be 0 \\(sum\\), 1 \\(mean\\), 2 \\(max\\)"):
        ember.embedding_bag(weight, ember.tensor([1]), ember.tensor([0]), mode=3)

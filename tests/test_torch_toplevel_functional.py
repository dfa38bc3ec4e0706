"""PyTorch's top-level spellings of nn.functional functions (ember.nn.torch_toplevel) against torch's top-level
functions, with their argument orders and integer reductions: values and gradients."""

import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _pair(*shape, seed=0, positive=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    x = np.abs(x) + 0.1 if positive else x
    return ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _check(ours, theirs, pairs, rtol=1e-6):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=1e-9)
    weights = np.random.default_rng(5).standard_normal(tuple(theirs.shape))
    (ours * ember.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    for a, b in pairs:
        assert (a.grad is None) == (b.grad is None)
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name, args", [("selu", ()), ("celu", (0.7,)), ("pixel_shuffle", (2,)),
                                        ("pixel_unshuffle", (2,)), ("channel_shuffle", (2,)),
                                        ("native_channel_shuffle", (4,)), ("constant_pad_nd", ((1, 2, 0, 1), 1.5)),
                                        ("group_norm", (2,)), ("rms_norm", ((6,),))])
def test_one_input_functions_match_torch(name, args):
    x, tx = _pair(2, 8, 4, 6)
    torch_name = "channel_shuffle" if name == "native_channel_shuffle" else name  # (torch's native one: no grad)
    _check(getattr(ember, name)(x, *args), getattr(torch, torch_name)(tx, *args), [(x, tx)])
    if name == "native_channel_shuffle":
        np.testing.assert_array_equal(getattr(ember, name)(x, *args).detach().numpy(),
                                      torch.native_channel_shuffle(tx.detach(), *args).numpy())


def test_prelu_cosine_similarity_pairwise_distance_match_torch():
    (x, tx), (w, tw) = _pair(2, 3, 4), _pair(3, seed=1)
    _check(ember.prelu(x, w), torch.prelu(tx, tw), [(x, tx), (w, tw)])
    (a, ta), (b, tb) = _pair(4, 5, seed=2), _pair(4, 5, seed=3)
    _check(ember.cosine_similarity(a, b), torch.cosine_similarity(ta, tb), [(a, ta), (b, tb)])
    (a, ta), (b, tb) = _pair(4, 5, seed=2), _pair(4, 5, seed=3)
    _check(ember.pairwise_distance(a, b, 3.0, 1e-6, True), torch.pairwise_distance(ta, tb, 3.0, 1e-6, True),
           [(a, ta), (b, tb)])


def test_instance_norm_takes_torchs_top_level_order():
    (x, tx), (w, tw), (b, tb) = _pair(2, 3, 5), _pair(3, seed=1), _pair(3, seed=2)
    mean, var = ember.zeros(3), ember.ones(3)
    tmean, tvar = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    ours = ember.instance_norm(x, w, b, mean, var, True, 0.1, 1e-5, False)
    theirs = torch.instance_norm(tx, tw, tb, tmean, tvar, True, 0.1, 1e-5, False)
    _check(ours, theirs, [(x, tx), (w, tw), (b, tb)])
    np.testing.assert_allclose(mean.numpy(), tmean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(var.numpy(), tvar.numpy(), rtol=1e-6)


@pytest.mark.parametrize("reduction", [0, 1, 2])
def test_losses_take_torchs_integer_reductions(reduction):
    (a, ta), (b, tb), (c, tc) = _pair(4, 5), _pair(4, 5, seed=1), _pair(4, 5, seed=2)
    target = np.where(np.random.default_rng(3).random(4) < 0.5, -1.0, 1.0)
    y, ty = ember.tensor(target), torch.tensor(target)
    cases = [
        (lambda: ember.kl_div(a, b.exp(), reduction), lambda: torch.kl_div(ta, tb.exp(), reduction)),
        (lambda: ember.kl_div(a, b, reduction, log_target=True), lambda: torch.kl_div(ta, tb, reduction,
                                                                                       log_target=True)),
        (lambda: ember.poisson_nll_loss(a, b.abs(), True, True, 1e-8, reduction),
         lambda: torch.poisson_nll_loss(ta, tb.abs(), True, True, 1e-8, reduction)),
        (lambda: ember.margin_ranking_loss(a[:, 0], b[:, 0], y, 0.2, reduction),
         lambda: torch.margin_ranking_loss(ta[:, 0], tb[:, 0], ty, 0.2, reduction)),
        (lambda: ember.cosine_embedding_loss(a, b, y, 0.1, reduction),
         lambda: torch.cosine_embedding_loss(ta, tb, ty, 0.1, reduction)),
        (lambda: ember.hinge_embedding_loss(a, ember.tensor(np.sign(b.detach().numpy())), 0.5, reduction),
         lambda: torch.hinge_embedding_loss(ta, torch.sign(tb.detach()), 0.5, reduction)),
        (lambda: ember.triplet_margin_loss(a, b, c, 1.0, 2.0, 1e-6, True, reduction),
         lambda: torch.triplet_margin_loss(ta, tb, tc, 1.0, 2.0, 1e-6, True, reduction)),
    ]
    for ours, theirs in cases:
        for t in (a, b, c, ta, tb, tc):
            t.grad = None
        _check(ours(), theirs(), [(a, ta), (b, tb), (c, tc)])
    assert float(ember.kl_div(a, b.exp(), "sum")) == pytest.approx(torch.kl_div(ta, tb.exp(), 2).item())
    with warnings.catch_warnings():  # torch.kl_div's mean gives no warning (nn.functional.kl_div's does)
        warnings.simplefilter("error")
        ember.kl_div(a, b.exp(), 1)
    with pytest.raises(ValueError, match="kl_div: reduction must be 0 \\(none\\), 1 \\(mean\\), 2 \\(sum\\)"):
        ember.kl_div(a, b, 3)


def test_losses_default_to_torchs_runtime_reduction_none():
    # torch's bindings parse the declared default at::Reduction::Mean with atol: 0, so the losses come unreduced
    (a, ta), (b, tb), (c, tc) = _pair(4, 5), _pair(4, 5, seed=1), _pair(4, 5, seed=2)
    target = np.where(np.random.default_rng(3).random(4) < 0.5, -1.0, 1.0)
    y, ty = ember.tensor(target), torch.tensor(target)
    sign, tsign = ember.tensor(np.sign(b.detach().numpy())), torch.sign(tb.detach())
    cases = [
        (ember.kl_div(a, b.exp()), torch.kl_div(ta, tb.exp())),
        (ember.margin_ranking_loss(a[:, 0], b[:, 0], y), torch.margin_ranking_loss(ta[:, 0], tb[:, 0], ty)),
        (ember.cosine_embedding_loss(a, b, y), torch.cosine_embedding_loss(ta, tb, ty)),
        (ember.hinge_embedding_loss(a, sign), torch.hinge_embedding_loss(ta, tsign)),
        (ember.triplet_margin_loss(a, b, c), torch.triplet_margin_loss(ta, tb, tc)),
    ]
    for ours, theirs in cases:
        assert tuple(ours.shape) == tuple(theirs.shape) and theirs.ndim > 0
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-9)


def test_dropout_in_place_follows_the_in_place_rules():
    x = ember.ones(1000)
    ember.manual_seed(0)
    assert ember.dropout_(x, 0.25, True) is x
    values = x.numpy()
    assert set(np.unique(values).tolist()) <= {0.0, float(np.float32(1.0) / np.float32(0.75))}
    assert 0.15 < (values == 0).mean() < 0.35
    y = ember.ones(3)
    assert ember.dropout_(y, 0.5, False) is y and y.numpy().tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="dropout_: a leaf tensor that requires grad"):
        ember.dropout_(ember.ones(3, requires_grad=True), 0.5, True)
    assert hasattr(torch, "dropout_")

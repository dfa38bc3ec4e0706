"""F.bilinear, F.embedding_bag, TripletMarginWithDistanceLoss / F.triplet_margin_with_distance_loss and the deprecated
F.upsample / upsample_nearest / upsample_bilinear against torch: values, gradients, errors and warnings."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pairs(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([ember.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _grads_match(ours, theirs, rtol=1e-10):
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("lead,bias", [((6,), True), ((2, 3), False), ((), True)])
def test_bilinear_function_matches_torch_and_the_module(lead, bias):
    shapes = [lead + (5,), lead + (3,), (4, 5, 3)] + ([(4,)] if bias else [])
    ours, theirs = _pairs(*shapes)
    y, expected = F.bilinear(*ours), TF.bilinear(*theirs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = np.random.default_rng(3).standard_normal(expected.shape)
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    _grads_match(ours, theirs)
    layer = nn.Bilinear(5, 3, 4, bias=bias, dtype=ember.float64)
    x1, x2 = ember.randn(*lead, 5, dtype=ember.float64), ember.randn(*lead, 3, dtype=ember.float64)
    np.testing.assert_allclose(layer(x1, x2).detach().numpy(),
                               F.bilinear(x1, x2, layer.weight, layer.bias).detach().numpy(), rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_bilinear_of_half_precision_rounds_each_contraction_once_as_torch(dtype):
    # the second contraction was an elementwise product rounded to half precision, then a sum: 138 of 320 float16
    # outputs an ulp off PyTorch's, whose contractions are matrix products rounded once
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in ((8, 50), (8, 30), (4, 50, 30), (4,))]
    ours = F.bilinear(*[ember.tensor(a).to(getattr(ember, dtype)) for a in arrays])
    theirs = TF.bilinear(*[torch.tensor(a).to(getattr(torch, dtype)) for a in arrays])
    assert str(ours.dtype) == dtype
    np.testing.assert_array_equal(ours.to(ember.float64).numpy(), theirs.double().numpy())


def test_bilinear_function_names_the_mismatched_shapes():
    with pytest.raises(ValueError, match=r"bilinear: .* got input1 \[2, 5\], input2 \[3, 3\], weight \[4, 5, 3\]"):
        F.bilinear(ember.ones(2, 5), ember.ones(3, 3), ember.ones(4, 5, 3))
    with pytest.raises(ValueError, match=r"and bias \[5\]"):
        F.bilinear(ember.ones(2, 5), ember.ones(2, 3), ember.ones(4, 5, 3), ember.ones(5))
    # the initialisation's bound 1 / sqrt(in1_features) raised ZeroDivisionError; PyTorch's check names the argument
    with pytest.raises(ValueError, match=r"Bilinear: in1_features must be > 0, but got \(in1_features=0\)"):
        nn.Bilinear(0, 3, 2)
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        torch.nn.Bilinear(0, 3, 2)
    assert nn.Bilinear(2, 0, 3).weight.shape == torch.nn.Bilinear(2, 0, 3).weight.shape


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("layout", ["offsets", "fixed", "last_offset", "padding"])
def test_embedding_bag_function_matches_torch(mode, layout):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((10, 4))
    ours_w, their_w = ember.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    ids = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    kwargs, offsets = {"mode": mode}, np.array([0, 2, 2, 5])
    if layout == "fixed":
        ids, offsets = ids.reshape(2, 4), None
    if layout == "last_offset":
        offsets, kwargs["include_last_offset"] = np.array([0, 3, 6, 8]), True
    if layout == "padding":
        kwargs["padding_idx"] = -6  # row 4
    psw = rng.standard_normal(ids.shape) if mode == "sum" else None
    y = F.embedding_bag(ember.tensor(ids), ours_w, None if offsets is None else ember.tensor(offsets),
                        per_sample_weights=None if psw is None else ember.tensor(psw), **kwargs)
    expected = TF.embedding_bag(torch.tensor(ids), their_w, None if offsets is None else torch.tensor(offsets),
                                per_sample_weights=None if psw is None else torch.tensor(psw), **kwargs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    grad = rng.standard_normal(expected.shape)
    (y * ember.tensor(grad)).sum().backward()
    (expected * torch.tensor(grad)).sum().backward()
    np.testing.assert_allclose(ours_w.grad.numpy(), their_w.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_embedding_bag_function_refuses_bad_arguments():
    with pytest.raises(ValueError, match="embedding_bag: mode must be one of"):
        F.embedding_bag(ember.tensor([[1, 2]]), ember.ones(3, 2), mode="median")
    with pytest.raises(ValueError, match=r"embedding_bag: padding_idx 3 is out of range for 3 rows"):
        F.embedding_bag(ember.tensor([[1, 2]]), ember.ones(3, 2), padding_idx=3)
    with pytest.raises(ValueError, match=r"embedding_bag: per_sample_weights need mode='sum'"):
        F.embedding_bag(ember.tensor([[1, 2]]), ember.ones(3, 2), per_sample_weights=ember.ones(1, 2))
    with pytest.raises(ValueError, match="embedding_bag: a 1-D input needs offsets"):
        F.embedding_bag(ember.tensor([1, 2]), ember.ones(3, 2))


def _l1(a, b):
    return (a - b).abs().sum(-1)


@pytest.mark.parametrize("distance", [None, "l1", "module", "cosine"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_margin_with_distance_loss_matches_torch(distance, swap, reduction):
    ours_fn = {None: None, "l1": _l1, "module": nn.PairwiseDistance(p=3),
               "cosine": lambda a, b: 1.0 - F.cosine_similarity(a, b)}[distance]
    their_fn = {None: None, "l1": _l1, "module": torch.nn.PairwiseDistance(p=3),
                "cosine": lambda a, b: 1.0 - TF.cosine_similarity(a, b)}[distance]
    ours, theirs = _pairs((6, 5), (6, 5), (6, 5))
    layer = nn.TripletMarginWithDistanceLoss(distance_function=ours_fn, margin=1.5, swap=swap, reduction=reduction)
    their_layer = torch.nn.TripletMarginWithDistanceLoss(distance_function=their_fn, margin=1.5, swap=swap,
                                                          reduction=reduction)
    if reduction == "mean":  # (Ember's losses name a reduction other than the mean in their repr)
        assert repr(layer) == repr(their_layer)
    y, expected = layer(*ours), their_layer(*theirs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    expected.sum().backward()
    _grads_match(ours, theirs)
    functional = F.triplet_margin_with_distance_loss(*[o.detach() for o in ours], distance_function=ours_fn,
                                                     margin=1.5, swap=swap, reduction=reduction)
    np.testing.assert_allclose(functional.numpy(), expected.detach().numpy(), rtol=1e-12)


def test_triplet_margin_with_distance_loss_refuses_a_margin_of_zero_and_mismatched_ranks():
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: margin must be greater than 0, got 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    with pytest.raises(ValueError, match="triplet_margin_with_distance_loss: margin must be greater than 0"):
        F.triplet_margin_with_distance_loss(ember.ones(2), ember.ones(2), ember.ones(2), margin=-1.0)
    with pytest.raises(ValueError, match=r"the same number of dimensions, got shapes \[2, 3\], \[3\] and \[2, 3\]"):
        F.triplet_margin_with_distance_loss(ember.ones(2, 3), ember.ones(3), ember.ones(2, 3))


def test_triplet_margin_with_distance_loss_traces_under_jit():
    loss = nn.TripletMarginWithDistanceLoss(distance_function=_l1, swap=True)
    a, p, n = ember.randn(4, 3), ember.randn(4, 3), ember.randn(4, 3)
    np.testing.assert_allclose(ember.jit(lambda a, p, n: loss(a, p, n))(a, p, n).numpy(), loss(a, p, n).numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("name,args,kwargs", [
    ("upsample", (), {"scale_factor": 2}), ("upsample", (), {"size": (5, 7), "mode": "bilinear"}),
    ("upsample", (), {"scale_factor": 1.5, "mode": "bicubic", "align_corners": True}),
    ("upsample_nearest", (), {"size": (5, 3)}), ("upsample_nearest", (), {"scale_factor": 3}),
    ("upsample_bilinear", (), {"scale_factor": 2}), ("upsample_bilinear", ((3, 8),), {}),
])
def test_deprecated_upsample_functions_warn_and_match_torch(name, args, kwargs):
    ours, theirs = _pairs((2, 3, 4, 5))
    with pytest.warns(UserWarning, match=f"nn.functional.{name} is deprecated"):
        y = getattr(F, name)(ours[0], *args, **kwargs)
    with pytest.warns(UserWarning):
        expected = getattr(TF, name)(theirs[0], *args, **kwargs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    expected.sum().backward()
    _grads_match(ours, theirs)

"""nn.functional names and their modules that follow PyTorch's definitions, each checked against PyTorch in values
and gradients."""

import contextlib
import re
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(*shape, seed=0, scale=1.0):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
    return ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def _check(ours, theirs, inputs, atol=1e-6):
    """Forward values, and the gradients of a weighted sum of the outputs, agree."""
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=atol)
    weights = np.random.default_rng(9).standard_normal(tuple(theirs.shape)).astype(np.float32)
    (ours * ember.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    for a, b in inputs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{}, {"p": 1.0, "dim": 0}, {"dim": -1, "eps": 0.5}])
def test_normalize_matches_torch(kwargs):
    (x, tx) = _pair(4, 6)
    _check(F.normalize(x, **kwargs), TF.normalize(tx, **kwargs), [(x, tx)])


def test_normalize_of_a_zero_row_is_zero_with_torchs_gradient():
    x, tx = ember.zeros(2, 3, requires_grad=True), torch.zeros(2, 3, requires_grad=True)
    _check(F.normalize(x), TF.normalize(tx), [(x, tx)])


def test_cosine_similarity_refuses_shapes_and_dims_naming_itself():
    # shapes that do not broadcast failed inside NumPy ("shape mismatch: objects cannot be broadcast", no op or
    # shapes), a dim out of range inside sum
    with pytest.raises(ValueError, match=r"cosine_similarity: x1 of shape \[3, 4\] and x2 of shape \[3, 5\]"):
        F.cosine_similarity(ember.ones(3, 4), ember.ones(3, 5))
    with pytest.raises(ValueError, match="cosine_similarity: axis 2 is out of range for 2 dimensions"):
        F.cosine_similarity(ember.ones(3, 4), ember.ones(3, 4), dim=2)
    with pytest.raises(RuntimeError):
        TF.cosine_similarity(torch.ones(3, 4), torch.ones(3, 5))


def test_normalize_writes_into_out_as_torch():
    # F.normalize(x, out=o), PyTorch's fifth argument, was a TypeError
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    out, their_out = ember.empty(2, 3), torch.empty(2, 3)
    assert F.normalize(ember.tensor(x), 1.0, 0, 1e-12, out) is out
    TF.normalize(torch.tensor(x), 1.0, 0, 1e-12, their_out)
    np.testing.assert_allclose(out.numpy(), their_out.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="out=.*requires grad"):
        F.normalize(ember.tensor(x, requires_grad=True), out=ember.empty(2, 3))


@pytest.mark.parametrize("dim", [1, -1, 0])  # 0: b's size-1 dim is broadcast along dim, its norm taken after
def test_cosine_similarity_and_its_module_match_torch(dim):
    (a, ta), (b, tb) = _pair(4, 6), _pair(1, 6, seed=1)
    _check(F.cosine_similarity(a, b, dim=dim), TF.cosine_similarity(ta, tb, dim=dim), [(a, ta), (b, tb)])
    np.testing.assert_allclose(nn.CosineSimilarity(dim)(a, b).detach().numpy(),
                               torch.nn.CosineSimilarity(dim)(ta, tb).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_cosine_similarity_of_norms_below_eps_keeps_their_gradient_as_torch():
    # PyTorch clamps the norms to eps in place, outside autograd; clip cut their gradient: [0.1, 0.2] against
    # [0.3, -0.1] with eps 0.5 gave [1.2, -0.4] where PyTorch's is [1.164, -0.472]
    (a, ta), (b, tb) = _pair(5, 4, scale=0.2), _pair(5, 4, seed=1)
    _check(F.cosine_similarity(a, b, eps=0.5), TF.cosine_similarity(ta, tb, eps=0.5), [(a, ta), (b, tb)])


def test_cosine_similarity_refuses_complex_tensors_as_torch():
    # it gave sum(x1 * x2) over the norms, no conjugate: [1j] against itself came out -1
    x = ember.tensor(np.array([[1j, 1.0]]))
    with pytest.raises(TypeError, match=r"cosine_similarity: not implemented for complex tensors .*complex128\[1, 2\]"):
        F.cosine_similarity(x, x)
    with pytest.raises(RuntimeError):
        TF.cosine_similarity(torch.tensor([[1j, 1.0]]), torch.tensor([[1j, 1.0]]))


@pytest.mark.parametrize("p, keepdim", [(2.0, False), (1.0, True), (3.0, False)])
def test_pairwise_distance_and_its_module_match_torch(p, keepdim):
    (a, ta), (b, tb) = _pair(4, 6), _pair(4, 6, seed=1)
    _check(F.pairwise_distance(a, b, p, keepdim=keepdim), TF.pairwise_distance(ta, tb, p, keepdim=keepdim),
           [(a, ta), (b, tb)])
    np.testing.assert_allclose(nn.PairwiseDistance(p)(a, b).detach().numpy(),
                               torch.nn.PairwiseDistance(p)(ta, tb).detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (-1.0, 20.0), (-0.5, 1.0)])
def test_softplus_matches_torch_at_its_threshold_and_with_a_negative_beta(beta, threshold):
    """log(1 + exp(beta x)) / beta, x itself where beta x > threshold; a negative beta is a smooth minimum."""
    points = np.array([-30.0, -20.0, -2.0, -1.0, 0.0, 1.0, 2.0, 20.0, 30.0, threshold / beta, -threshold / beta])
    values = np.concatenate([points, np.random.default_rng(0).standard_normal(13) * 10]).astype(np.float32)
    x, tx = ember.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    _check(nn.Softplus(beta, threshold)(x), torch.nn.Softplus(beta, threshold)(tx), [(x, tx)])
    with pytest.raises(ValueError, match="softplus: beta must be non-zero, got 0"):
        F.softplus(x, beta=0)


def test_logsigmoid_matches_torch_far_into_both_tails():
    x, tx = _pair(3, 5, scale=40.0)
    _check(F.logsigmoid(x), TF.logsigmoid(tx), [(x, tx)], atol=1e-5)
    np.testing.assert_allclose(nn.LogSigmoid()(x).detach().numpy(), torch.nn.LogSigmoid()(tx).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_silu_keep_their_relative_precision_for_negative_inputs(dtype):
    # 0.5 * (1 + tanh(x / 2)) cancelled: sigmoid(-20) was 0 in float32 (torch: 2.1e-9), 2e-4 off at -10, and
    # sigmoid(-50) 0 in float64; silu and the gradients with them
    x = np.array([-80.0, -50.0, -30.0, -20.0, -10.0, -1.0, 0.0, 3.0, 30.0], dtype)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for fn in (ember.sigmoid, F.silu):
        y, ty = fn(ours), (torch.sigmoid if fn is ember.sigmoid else TF.silu)(theirs)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5 if dtype == "float32" else 1e-13)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5 if dtype == "float32" else 1e-13)
        ours.grad, theirs.grad = None, None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elu_celu_and_selu_near_0_use_expm1_as_torch(dtype):
    # exp(x) - 1 cancelled: elu(-1e-8) was 0 in float32 and elu(-1e-5) 0.14% off
    x = np.array([-1e-30, -1e-8, -1e-5, -1e-3, -0.5, -5.0, 1e-8], dtype)
    for ours, theirs in ((F.elu, TF.elu), (F.celu, TF.celu), (F.selu, TF.selu)):
        a, ta = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(a), theirs(ta)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=2e-7 if dtype == "float32" else 1e-14)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=2e-7 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("name, kwargs", [("elu", {}), ("elu", {"alpha": 2.0}), ("celu", {"alpha": 0.5}),
                                          ("selu", {})])
def test_elu_celu_and_selu_second_derivatives_at_0_are_0_as_torch(name, kwargs):
    # the exponential branch took x = 0, so the second derivative there was alpha * scale * input_scale^2 (selu's
    # 1.758, elu's alpha) where PyTorch's double backward masks x < 0; the first derivative stays alpha * scale *
    # input_scale, and a NaN gets the linear branch's, as PyTorch's
    x = np.array([-2.0, -0.5, 0.0, -0.0, 0.5, np.nan])
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (g,) = ember.grad(getattr(F, name)(ours, **kwargs).sum(), ours, create_graph=True)
    (tg,) = torch.autograd.grad(getattr(TF, name)(theirs, **kwargs).sum(), theirs, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-14)
    (gg,) = ember.grad(g.sum(), ours)
    (tgg,) = torch.autograd.grad(tg.sum(), theirs)
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_elu_celu_and_selu_in_low_precision_round_once_as_torch(dtype):
    # selu's scale multiplied a bfloat16 as a bfloat16 (selu(800) was 844, torch's 840) and celu's x / alpha * alpha
    # rounded twice (celu(800, alpha=0.7) was 799.5 in float16); PyTorch computes in float32 and rounds once
    x = np.concatenate([np.random.default_rng(3).standard_normal(200) * 4, [-800.0, -3.0, 0.0, 3.0, 100.0, 800.0]])
    for name, kwargs in (("elu", {"alpha": 0.7}), ("celu", {"alpha": 0.7}), ("selu", {})):
        ours = getattr(F, name)(ember.tensor(x.astype(np.float32)).to(getattr(ember, dtype)), **kwargs)
        theirs = getattr(TF, name)(torch.tensor(x, dtype=getattr(torch, dtype)), **kwargs)
        assert ours.dtype == getattr(ember, dtype)
        np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy(), err_msg=name)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name, kwargs", [
    ("leaky_relu", {"negative_slope": 0.2}), ("rrelu", {"lower": 0.1, "upper": 0.3}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}), ("logsigmoid", {}), ("hardswish", {}), ("hardsigmoid", {}),
    ("glu", {"dim": 0}),
])
def test_activations_in_low_precision_round_once_as_torch(dtype, name, kwargs):
    # computed in the dtype, rounded at every step (leaky_relu's slope rounded to it first): 1 ulp off torch's
    # in 10 to 25% of the elements; torch's kernels compute in float32 and round once
    x = (np.random.default_rng(4).standard_normal((40, 10)) * 4).astype(np.float32)
    ours = getattr(F, name)(ember.tensor(x).to(getattr(ember, dtype)), **kwargs)
    theirs = getattr(TF, name)(torch.tensor(x).to(getattr(torch, dtype)), **kwargs)
    assert ours.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_logsigmoid_of_large_negatives_keeps_the_log1p_term_as_torch():
    # -softplus(-x) took softplus's linear piece above 20: logsigmoid(-21) was -21, 7.6e-10 off in float64
    x = np.array([-1000.0, -40.0, -25.0, -21.0, -20.0, -5.0, 0.0, 5.0, 30.0, 1000.0])
    a, ta = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = F.logsigmoid(a), TF.logsigmoid(ta)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-15, atol=0)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-15, atol=1e-300)


def test_prelu_of_a_0d_input_is_0d_as_torch():
    # the (1,) weight broadcast the 0-d input to shape (1,)
    x, tx = ember.tensor(-2.0, requires_grad=True), torch.tensor(-2.0, requires_grad=True)
    ours, theirs = nn.PReLU(), torch.nn.PReLU()
    y, ty = ours(x), theirs(tx)
    assert tuple(y.shape) == tuple(ty.shape) == ()
    _check(y, ty, [(x, tx), (ours.weight, theirs.weight)])
    assert tuple(F.prelu(x, ember.tensor([0.1])).shape) == tuple(TF.prelu(tx, torch.tensor([0.1])).shape)


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu_and_its_module_match_torch(channels):
    x, tx = _pair(2, 3, 4)
    ours, theirs = nn.PReLU(channels), torch.nn.PReLU(channels)
    _check(ours(x), theirs(tx), [(x, tx), (ours.weight, theirs.weight)])
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    with pytest.raises(ValueError, match="prelu: weight of shape \\[2\\] must hold 1 value or one per channel"):
        F.prelu(x, ember.ones(2))


def test_prelu_takes_a_0d_weight_as_torch():
    # PyTorch's weight is a scalar or 1-D; a 0-d one was refused as not holding 1 value
    x, tx = _pair(2, 3, 4)
    w, tw = ember.tensor(0.3, requires_grad=True), torch.tensor(0.3, requires_grad=True)
    _check(F.prelu(x, w), TF.prelu(tx, tw), [(x, tx), (w, tw)])
    assert w.grad.shape == ()
    with pytest.raises(ValueError, match="prelu: weight of shape \\[1, 1\\] must hold 1 value or one per channel"):
        F.prelu(x, ember.ones(1, 1))


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_and_kldivloss_match_torch(reduction, log_target):
    (logits, tlogits), (_, traw) = _pair(4, 5), _pair(4, 5, seed=1)
    target = np.asarray(TF.softmax(traw.detach(), 1).numpy())
    if log_target:
        target = np.log(target)
    else:
        target[0, 1] = 0.0  # a zero probability contributes 0
    inp, tinp = F.log_softmax(logits, dim=1), TF.log_softmax(tlogits, dim=1)
    # 'mean' warns that it is not the KL divergence, as PyTorch's functional form and module ('batchmean' is)
    warns = pytest.warns(UserWarning, match="batchmean") if reduction == "mean" else contextlib.nullcontext()
    with warns:
        ours = F.kl_div(inp, ember.tensor(target), reduction=reduction, log_target=log_target)
    with pytest.warns(UserWarning) if reduction == "mean" else contextlib.nullcontext():
        theirs = TF.kl_div(tinp, torch.tensor(target), reduction=reduction, log_target=log_target)
    _check(ours, theirs, [(logits, tlogits)])
    with pytest.warns(UserWarning, match="batchmean") if reduction == "mean" else contextlib.nullcontext():
        module = nn.KLDivLoss(reduction=reduction, log_target=log_target)(inp, ember.tensor(target))
    np.testing.assert_allclose(module.detach().numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="kl_div: reduction must be one of"):
        F.kl_div(inp, ember.tensor(target), reduction="avg")


def test_kl_div_warns_for_mean_where_torch_does():
    # the old flags make a mean without the warning (PyTorch warns for reduction='mean' given by name alone)
    inp, target = np.log(np.array([[0.2, 0.3, 0.5]])), np.array([[0.1, 0.6, 0.3]])
    for kwargs in ({"size_average": True}, {"reduce": True}, {"reduction": "mean"}, {}):
        with warnings.catch_warnings(record=True) as ours:
            warnings.simplefilter("always")
            F.kl_div(ember.tensor(inp), ember.tensor(target), **kwargs)
        with warnings.catch_warnings(record=True) as theirs:
            warnings.simplefilter("always")
            TF.kl_div(torch.tensor(inp), torch.tensor(target), **kwargs)
        assert len(ours) == len(theirs), kwargs
        assert ("batchmean" in str(ours[-1].message)) == ("batchmean" in str(theirs[-1].message)), kwargs


def test_kl_div_of_a_nan_or_negative_target_is_nan_as_torch():
    # the target > 0 test made such terms 0: the loss came out finite
    inp = np.log(np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]]))
    target = np.array([[0.0, 0.5, 0.5], [np.nan, -0.2, 0.8]])
    for reduction in ("none", "sum"):
        ours = F.kl_div(ember.tensor(inp), ember.tensor(target), reduction=reduction)
        theirs = TF.kl_div(torch.tensor(inp), torch.tensor(target), reduction=reduction)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_scaled_dot_product_attention_is_in_functional_as_torch():
    (q, tq), (k, tk), (v, tv) = _pair(2, 3, 5, 4), _pair(2, 3, 6, 4, seed=1), _pair(2, 3, 6, 4, seed=2)
    _check(F.scaled_dot_product_attention(q, k, v), TF.scaled_dot_product_attention(tq, tk, tv),
           [(q, tq), (k, tk), (v, tv)])


@pytest.mark.parametrize("shapes, is_causal", [(((2, 4, 5, 6), (2, 2, 7, 6), (2, 2, 7, 3)), False),
                                               (((2, 6, 5, 6), (2, 3, 5, 6), (2, 3, 5, 3)), True),
                                               (((4, 5, 6), (1, 7, 6), (1, 7, 3)), False)])
def test_scaled_dot_product_attention_with_grouped_query_heads_matches_torch(shapes, is_causal):
    """enable_gqa: each key and value head serves a group of consecutive query heads; gradients add up per group."""
    pairs = [_pair(*shape, seed=i) for i, shape in enumerate(shapes)]
    ours = F.scaled_dot_product_attention(*[p[0] for p in pairs], is_causal=is_causal, enable_gqa=True)
    theirs = TF.scaled_dot_product_attention(*[p[1] for p in pairs], is_causal=is_causal, enable_gqa=True)
    _check(ours, theirs, pairs)
    with pytest.raises(ValueError, match=r"enable_gqa the query's heads \(axis -3\) must be a multiple"):
        F.scaled_dot_product_attention(ember.ones(1, 3, 2, 4), ember.ones(1, 2, 2, 4), ember.ones(1, 2, 2, 4),
                                       enable_gqa=True)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_without_dim_takes_torchs_implicit_dim_and_dtype(name, shape):
    """dim=None is PyTorch's implicit choice (0 for 1-D and 3-D input, 1 otherwise), not the last axis; ``dtype``
    casts the input first."""
    x, tx = _pair(*shape)
    _check(getattr(F, name)(x), getattr(TF, name)(tx), [(x, tx)])
    x, tx = _pair(*shape)
    ours, theirs = getattr(F, name)(x, dtype=ember.float64), getattr(TF, name)(tx, dtype=torch.float64)
    assert ours.dtype == ember.float64
    _check(ours, theirs, [(x, tx)])


def test_bfloat16_probabilities_and_masks_are_floating_as_torch():
    # bfloat16's NumPy kind is "V": its class probabilities were read as class indices, its additive mask refused
    rng = np.random.default_rng(0)
    logits, probs = rng.standard_normal((4, 3)), rng.dirichlet(np.ones(3), 4)
    ours = F.cross_entropy(ember.tensor(logits).to(ember.bfloat16), ember.tensor(probs).to(ember.bfloat16))
    theirs = TF.cross_entropy(torch.tensor(logits).to(torch.bfloat16), torch.tensor(probs).to(torch.bfloat16))
    np.testing.assert_allclose(ours.to(ember.float32).item(), theirs.float().item(), rtol=1e-2)
    q, mask = rng.standard_normal((1, 3, 4)), np.triu(np.full((3, 3), -np.inf), 1)
    ours = F.scaled_dot_product_attention(*[ember.tensor(q).to(ember.bfloat16)] * 3,
                                          attn_mask=ember.tensor(mask).to(ember.bfloat16))
    theirs = TF.scaled_dot_product_attention(*[torch.tensor(q).to(torch.bfloat16)] * 3,
                                             attn_mask=torch.tensor(mask).to(torch.bfloat16))
    np.testing.assert_allclose(ours.to(ember.float32).numpy(), theirs.float().numpy(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name, kwargs, module, module_args", [
    ("selu", {}, "SELU", ()),
    ("celu", {"alpha": 0.7}, "CELU", (0.7,)),
    ("hardsigmoid", {}, "Hardsigmoid", ()),
    ("softsign", {}, "Softsign", ()),
    ("softmin", {"dim": 1}, "Softmin", (1,)),
    ("glu", {"dim": 1}, "GLU", (1,)),
])
def test_activations_and_their_modules_match_torch(name, kwargs, module, module_args):
    x, tx = _pair(3, 4, 5, scale=3.0)
    _check(getattr(F, name)(x, **kwargs), getattr(TF, name)(tx, **kwargs), [(x, tx)])
    np.testing.assert_allclose(getattr(nn, module)(*module_args)(x).detach().numpy(),
                               getattr(torch.nn, module)(*module_args)(tx).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice")
def test_softmin_takes_torchs_implicit_dim_and_glu_refuses_an_odd_size():
    x, tx = _pair(2, 5)
    np.testing.assert_allclose(F.softmin(x).detach().numpy(), TF.softmin(tx, dim=1).detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"glu: dimension -1 of the input of shape \[2, 5\] must have an even size"):
        F.glu(x)


@pytest.mark.parametrize("call", [
    lambda x: F.softmax(x), lambda x: F.log_softmax(x), lambda x: F.softmin(x),
    lambda x: nn.Softmax()(x), lambda x: nn.LogSoftmax()(x), lambda x: nn.Softmin()(x),
])
def test_softmax_without_dim_warns_as_torch_at_the_callers_line(call):
    # dim=None took PyTorch's implicit dim silently (and _stacklevel was ignored): PyTorch warns, naming the function
    with pytest.warns(UserWarning, match=r"Implicit dimension choice for (softmax|log_softmax|softmin)") as record:
        call(ember.ones(2, 3))
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(ember.ones(2, 3), 1), nn.Softmin(1)(ember.ones(2, 3))


@pytest.mark.parametrize("dim", [2, -3])
def test_glu_refuses_a_dim_out_of_range_naming_glu(dim):
    # input.shape[dim] failed first: IndexError('tuple index out of range')
    with pytest.raises(ValueError, match=f"glu: axis {dim} is out of range for 2 dimensions"):
        F.glu(ember.ones(2, 4), dim)
    with pytest.raises(IndexError, match="Dimension out of range"):
        TF.glu(torch.ones(2, 4), dim)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_in_every_spelling_as_torch(name):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    want = getattr(torch, name)(torch.tensor(x), 1, torch.float64)
    for got in (getattr(ember, name)(ember.tensor(x), 1, ember.float64),
                getattr(ember.tensor(x), name)(1, dtype=ember.float64),
                getattr(F, name)(ember.tensor(x), 1, dtype=ember.float64)):
        assert got.dtype == ember.float64
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    for fn in (getattr(ember, name), getattr(F, name), F.softmin):  # torch: "not implemented for 'Long'"
        with pytest.raises(TypeError, match=r"softm\w*: dtype must be a floating dtype, got int64"):
            fn(ember.tensor(x), 1, dtype=ember.int64)


def _copy_parameters(ours, theirs):
    """Give ``ours`` the values of ``theirs`` (same state_dict keys asserted) and return the pairs to compare."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})
    return [(dict(ours.named_parameters())[k], v) for k, v in theirs.named_parameters()]


def _same_state(ours, theirs):
    """The same state_dict keys and values (a deterministic default initialisation)."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=k)


def _randomize(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape))
    return module


@pytest.mark.parametrize("groups, shape", [(3, (2, 6, 4, 5)), (1, (3, 4, 7)), (2, (3, 6))])
def test_group_norm_and_groupnorm_match_torch(groups, shape):
    x, tx = _pair(*shape, scale=2.0)
    ours, theirs = nn.GroupNorm(groups, shape[1]), torch.nn.GroupNorm(groups, shape[1])
    _same_state(ours, theirs)
    _randomize(theirs)
    params = _copy_parameters(ours, theirs)
    _check(ours(x), theirs(tx), [(x, tx)] + params, atol=1e-5)
    with pytest.raises(ValueError, match="GroupNorm: num_channels \\(5\\) must be divisible by num_groups \\(2\\)"):
        nn.GroupNorm(2, 5)


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_and_instancenorm2d_match_torch(affine):
    x, tx = _pair(2, 3, 4, 5, scale=2.0)
    ours, theirs = nn.InstanceNorm2d(3, affine=affine), torch.nn.InstanceNorm2d(3, affine=affine)
    _same_state(ours, theirs)
    _randomize(theirs)
    params = _copy_parameters(ours, theirs)
    _check(ours(x), theirs(tx), [(x, tx)] + params, atol=1e-5)
    unbatched = ours(x[0]).detach().numpy()
    np.testing.assert_allclose(unbatched, theirs(tx[0]).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_instance_norm_of_one_position_per_channel_is_refused_as_torch():
    """Each channel of one position normalizes to 0 (the running variance would divide by n - 1 = 0)."""
    with pytest.raises(ValueError, match=r"instance_norm: use_input_stats needs more than one position"):
        F.instance_norm(ember.randn(2, 3, 1))
    layer = nn.InstanceNorm1d(3, track_running_stats=True)
    with pytest.raises(ValueError, match="more than one position per channel"):
        layer(ember.randn(3, 1))
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3, np.float32))
    layer.eval()  # the running statistics take one position
    assert layer(ember.randn(2, 3, 1)).shape == (2, 3, 1)


def test_instancenorm_with_running_stats_matches_torch_in_training_and_evaluation():
    x, tx = _pair(4, 3, 6, scale=2.0)
    ours, theirs = nn.InstanceNorm1d(3, track_running_stats=True), torch.nn.InstanceNorm1d(3, track_running_stats=True)
    _same_state(ours, theirs)
    for _ in range(2):
        _check(ours(x), theirs(tx), [])
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.eval()(x).detach().numpy(), theirs.eval()(tx).detach().numpy(), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("name, args, shape", [("GroupNorm", (2, 6), (3, 6, 4)), ("InstanceNorm1d", (6,), (3, 6, 5)),
                                               ("InstanceNorm2d", (6,), (6, 4, 5)), ("SyncBatchNorm", (6,), (3, 6, 4))])
def test_norms_without_bias_keep_only_their_weight_as_torch(name, args, shape):
    """bias=False (keyword-only, as PyTorch's): an affine weight and no bias, in the state dict and the repr too."""
    kwargs = {"bias": False} if name == "GroupNorm" else {"bias": False, "affine": True}
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert ours.bias is None and repr(ours) == repr(theirs)
    _randomize(theirs)
    params = _copy_parameters(ours, theirs)
    x, tx = _pair(*shape)
    _check(ours(x), theirs(tx), [(x, tx)] + params, atol=1e-5)
    assert repr(nn.GroupNorm(2, 6, affine=False)) == repr(torch.nn.GroupNorm(2, 6, affine=False))


@pytest.mark.parametrize("shape, eps", [((8,), None), ((3, 8), 1e-3)])
def test_rms_norm_and_rmsnorm_match_torch(shape, eps):
    x, tx = _pair(2, 3, 8, scale=2.0)
    ours, theirs = nn.RMSNorm(shape, eps=eps), torch.nn.RMSNorm(shape, eps=eps)
    _same_state(ours, theirs)
    _randomize(theirs)
    params = _copy_parameters(ours, theirs)
    _check(ours(x), theirs(tx), [(x, tx)] + params, atol=1e-5)
    with pytest.raises(ValueError, match="rms_norm: normalized_shape \\[4\\] must be the trailing dimensions"):
        F.rms_norm(x, (4,))


def test_norms_refuse_an_empty_normalized_shape_as_torch():
    """LayerNorm(()) gave zeros and RMSNorm([]) each element's sign (every element its own group), where torch
    refuses normalized_shape []."""
    x, tx = _pair(2, 3, 4)
    for ours, theirs, name in [(lambda v: F.layer_norm(v, ()), lambda v: torch.nn.functional.layer_norm(v, ()),
                                "layer_norm"), (nn.LayerNorm(()), torch.nn.LayerNorm(()), "layer_norm"),
                               (nn.RMSNorm([]), torch.nn.RMSNorm([]), "rms_norm")]:
        with pytest.raises(RuntimeError, match="at least 1-dimensional"):
            theirs(tx)
        with pytest.raises(ValueError, match=rf"{name}: normalized_shape must have at least one dimension, got \[\]"):
            ours(x)


@pytest.mark.parametrize("shape, normalized", [((2, 0), (0,)), ((2, 3, 0), (3, 0))])
def test_layer_norm_over_empty_rows_is_empty_as_torch(shape, normalized):
    """A normalized shape holding a 0 crashed in the primitive's reshape ('cannot reshape array of size 0'); torch
    returns the empty result, with empty gradients."""
    x, tx = ember.ones(*shape, requires_grad=True), torch.ones(*shape, requires_grad=True)
    w, tw = ember.ones(*normalized, requires_grad=True), torch.ones(*normalized, requires_grad=True)
    y, ty = F.layer_norm(x, normalized, w), torch.nn.functional.layer_norm(tx, normalized, tw)
    y.sum().backward()
    ty.sum().backward()
    assert y.shape == tuple(ty.shape) and x.grad.shape == tuple(tx.grad.shape) and w.grad.shape == normalized
    assert nn.LayerNorm(normalized)(x).shape == shape


@pytest.mark.parametrize("training, eps", [(True, 0.0), (True, -1e-3), (False, -1e-3)])
def test_batch_norm_refuses_the_eps_torch_refuses(training, eps):
    """eps <= 0 in training (or < 0 in evaluation) normalized by sqrt(var + eps): NaN, or finite values off by a
    factor, with no error; torch raises."""
    x, tx = _pair(4, 3, 5)
    with pytest.raises(ValueError, match="eps must be"):
        torch.nn.functional.batch_norm(tx, torch.zeros(3), torch.ones(3), training=training, eps=eps)
    with pytest.raises(ValueError, match="batch_norm: eps must be (positive in training|non-negative)"):
        F.batch_norm(x, ember.zeros(3), ember.ones(3), training=training, eps=eps)
    layer = nn.BatchNorm1d(3, eps=eps).train(training)
    with pytest.raises(ValueError, match="batch_norm: eps must be"):
        layer(x)


def test_pad_and_interpolate_sizes_must_be_ints_as_torch():
    """A float pad or size was truncated silently (pad (1.5, 1) padded 1 and 1; size (3.7, 4) gave 3 x 4), where
    torch refuses it; NumPy ints are taken, as torch takes them."""
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    for bad in [(1.5, 1), (1.0, 1), (True, 1)]:
        with pytest.raises(TypeError):
            torch.nn.functional.pad(torch.tensor(x), bad)
        with pytest.raises(TypeError, match=r"pad: pad must be ints, got \("):
            F.pad(ember.tensor(x), bad)
    for bad in [(3.7, 4), (4.0, 4), (True, 3), 3.0]:
        with pytest.raises(TypeError, match="interpolate: size must be an int or ints"):
            F.interpolate(ember.tensor(x), size=bad)
    for size, scale in [((np.int64(3), 4), None), (np.int64(4), None), (None, np.int64(2)), (None, np.float32(1.5))]:
        ours = F.interpolate(ember.tensor(x), size=size, scale_factor=scale, mode="bilinear")
        theirs = torch.nn.functional.interpolate(torch.tensor(x), size=size, scale_factor=scale, mode="bilinear")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    np.testing.assert_array_equal(F.pad(ember.tensor(x), (np.int64(1), 2)).numpy(),
                                  torch.nn.functional.pad(torch.tensor(x), (np.int64(1), 2)).numpy())


@pytest.mark.parametrize("layer", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                                   "ConvTranspose3d", "LazyConv2d", "LazyConvTranspose3d"])
def test_conv_layers_have_torchs_transposed_flag(layer):
    """m.transposed (read by code that tells the two kinds apart, as PyTorch's own _ConvNd does) raised
    AttributeError."""
    args = (3, 3) if layer.startswith("Lazy") else (2, 3, 3)
    ours, theirs = getattr(nn, layer)(*args), getattr(torch.nn, layer)(*args)
    assert ours.transposed is theirs.transposed is ("Transpose" in layer)


@pytest.mark.parametrize("make", [
    lambda nn, n: nn.Conv2d(2, 3, n(3), stride=n(2), padding=(n(1), n(0))),
    lambda nn, n: nn.ConvTranspose2d(2, 3, n(3), stride=n(2)),
    lambda nn, n: nn.Conv1d(2, 3, n(2), padding="same", padding_mode="reflect"),
    lambda nn, n: nn.ReflectionPad2d(n(1)),
    lambda nn, n: nn.ZeroPad2d(n(2)),
    lambda nn, n: nn.LayerNorm(n(6)),
    lambda nn, n: nn.RMSNorm(n(6)),
    lambda nn, n: nn.LocalResponseNorm(n(2)),
])
def test_layers_take_numpy_int_sizes_as_torch(make):
    """kernel_size=np.int64(3) and the like raised "'numpy.int64' object is not iterable"; torch takes any
    integral number."""
    ours, theirs = make(nn, np.int64), make(torch.nn, np.int64)
    _copy_parameters(ours, theirs)
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6) if not isinstance(ours, nn.Conv1d) else (2, 2, 6))
    x = x.astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_rms_norm_default_eps_in_low_precision_is_float32_s_as_torch(dtype):
    """eps=None was the input dtype's epsilon (bfloat16 raised NumPy's "not inexact"; float16's 1e-3 swamped the
    mean square of small inputs); PyTorch takes float32's, the type it computes in."""
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32) * 1e-2
    ours = F.rms_norm(ember.tensor(x).to(getattr(ember, dtype)), (8,))
    theirs = torch.nn.functional.rms_norm(torch.tensor(x).to(getattr(torch, dtype)), (8,))
    assert ours.dtype == getattr(ember, dtype)
    np.testing.assert_allclose(ours.float().numpy(), theirs.float().numpy(), rtol=1e-2, atol=0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm_in_low_precision_computes_in_float32_as_torch(dtype, weighted):
    """The squares were float16's: past 256 they overflowed to inf and the output to 0 (PyTorch upcasts, scales
    by the weight and rounds once)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 8)).astype(np.float32) * 400
    w = rng.standard_normal(8).astype(np.float32)
    ours = F.rms_norm(ember.tensor(x).to(getattr(ember, dtype)), (8,),
                      ember.tensor(w).to(getattr(ember, dtype)) if weighted else None)
    theirs = torch.nn.functional.rms_norm(torch.tensor(x).to(getattr(torch, dtype)), (8,),
                                          torch.tensor(w).to(getattr(torch, dtype)) if weighted else None)
    assert ours.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("param_dtype", ["same", "float32"])
def test_group_norm_in_low_precision_scales_in_float32_as_torch(dtype, param_dtype):
    """A float16 / bfloat16 group_norm with a weight and bias rounded the normalized values, then the product and
    the sum again (35% of the elements off PyTorch's, float16 errors 0.017 for torch's 0.0037); PyTorch scales and
    shifts in float32 and rounds once, in the input's dtype also for float32 parameters."""
    rng = np.random.default_rng(0)
    low = getattr(torch, dtype)
    x = torch.tensor(rng.standard_normal((4, 8, 6, 6)) * 3 + 1).to(low)
    w, b = (torch.tensor(rng.standard_normal(8)).to(low if param_dtype == "same" else torch.float32) for _ in "wb")
    theirs = TF.group_norm(x, 2, w, b)
    def ours_of(t):
        return ember.tensor(t.float().numpy()).to(getattr(ember, str(t.dtype).removeprefix("torch.")))

    ours = F.group_norm(ours_of(x), 2, ours_of(w), ours_of(b))
    assert ours.dtype == getattr(ember, dtype)
    ours, theirs = ours.float().numpy(), theirs.float().numpy()
    assert np.mean(ours != theirs) < 0.005  # (float32 statistics in another order may part a tie)
    np.testing.assert_allclose(ours, theirs, rtol=2.0 ** (-10 if dtype == "float16" else -7), atol=1e-3)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_rms_norm_of_integer_input_gives_floats_as_layer_norm(dtype):
    """An integer or bool input's normalized values were cast back to its dtype ([3, 4, 0, 1] gave [1, 1, 0, 0]);
    they come out as floats, as layer_norm's, equal to PyTorch's rms_norm of the values as floats."""
    x = np.array([[3, 4, 0, 1], [2, 0, 5, 7]])
    x = x.astype(dtype)
    ours = F.rms_norm(ember.tensor(x), (4,))
    theirs = torch.nn.functional.rms_norm(torch.tensor(x.astype(np.float32)), (4,))
    assert ours.dtype == ember.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, spec", [((2, 3, 5), (2, 1)), ((2, 3, 4, 5), (1, 2, 3, 0)), ((3, 4, 5), (0, 4, 3, 3))])
def test_pad_modes_match_torch(mode, shape, spec):
    if mode == "reflect" and spec == (0, 4, 3, 3):
        spec = (0, 3, 2, 1)
    x, tx = _pair(*shape)
    _check(F.pad(x, spec, mode=mode), TF.pad(tx, spec, mode=mode), [(x, tx)])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, spec", [((2, 3, 7), (-1, 2)), ((2, 3, 7), (3, -2)), ((2, 3, 7), (-5, 2)),
                                         ((2, 3, 5, 6), (-1, 2, 1, -2)), ((2, 3, 5, 6), (0, 0, -1, -1)),
                                         ((1, 2, 4, 5, 6), (-1, 1, 0, 2, -1, 0))])
def test_pad_with_negative_sides_crops_as_torch(mode, shape, spec):
    """A negative side crops: circular padding wraps what is left, reflect and replicate the whole axis' edges."""
    x, tx = _pair(*shape)
    kwargs = {"value": 1.5} if mode == "constant" else {}
    _check(F.pad(x, spec, mode=mode, **kwargs), TF.pad(tx, spec, mode=mode, **kwargs), [(x, tx)])
    if mode == "constant":
        x, tx = _pair(*shape)
        _check(getattr(nn, f"ZeroPad{len(spec) // 2}d")(spec)(x), TF.pad(tx, spec), [(x, tx)])


def test_pad_refuses_a_crop_larger_than_the_axis():
    with pytest.raises(ValueError, match=r"pad: padding \(-8, 1\) crops more than input \[1, 2, 7\] holds"):
        F.pad(ember.zeros(1, 2, 7), (-8, 1))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(-3, -4\) of an axis of size 7 leaves no element"):
        F.pad(ember.zeros(1, 2, 7), (-3, -4), mode="reflect")


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_refuses_a_value_for_a_mode_other_than_constant_as_torch(mode):
    """value=2.0 with mode='reflect' was ignored (reflected values, no 2.0 anywhere); PyTorch refuses it, and
    takes value=0 or None."""
    x, tx = _pair(2, 3, 5)
    with pytest.raises(RuntimeError, match="doesn't take in value"):
        TF.pad(tx, (1, 2), mode=mode, value=2.0)
    with pytest.raises(ValueError, match=f"pad: mode '{mode}' takes no value"):
        F.pad(x, (1, 2), mode=mode, value=2.0)
    _check(F.pad(x, (1, 2), mode=mode, value=0.0), TF.pad(tx, (1, 2), mode=mode, value=0.0), [(x, tx)])


@pytest.mark.parametrize("dtype, value", [("uint8", 300), ("uint8", -1), ("uint8", -2.7), ("int8", 200),
                                          ("float16", 1e6)])
def test_pad_refuses_a_value_its_dtype_cannot_hold_as_torch(dtype, value):
    """value=300 padded uint8 with 44, -1 with 255 and 1e6 float16 with inf; PyTorch's value is a float its
    conversion refuses, as now Ember's (bool, and floats that round into range, are kept)."""
    with pytest.raises(RuntimeError, match="without overflow"):
        TF.pad(torch.zeros(3, dtype=getattr(torch, dtype)), (1, 1), value=value)
    with pytest.raises(RuntimeError, match=f"pad: value {float(value)!r} cannot be converted to {dtype} without"):
        F.pad(ember.zeros(3, dtype=getattr(ember, dtype)), (1, 1), value=value)
    with pytest.raises(RuntimeError, match="pad: value"):
        nn.ConstantPad1d(1, value)(ember.zeros(1, 3, dtype=getattr(ember, dtype)))
    for dtype, value in [("uint8", 255.0), ("bool", 2), ("float16", 65504.0), ("int8", -2.7)]:
        ours = F.pad(ember.zeros(3, dtype=getattr(ember, dtype)), (1, 1), value=value).numpy()
        theirs = TF.pad(torch.zeros(3, dtype=getattr(torch, dtype)), (1, 1), value=value).numpy()
        np.testing.assert_array_equal(ours, theirs)


def test_pad_refuses_reflection_as_wide_as_the_input():
    with pytest.raises(ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than the dimension's size 3"):
        F.pad(ember.zeros(1, 2, 3), (3, 0), mode="reflect")


@pytest.mark.parametrize("name, args", [
    ("ReflectionPad2d", (2,)), ("ReplicationPad2d", ((1, 0, 2, 3),)), ("ZeroPad2d", ((1, 2, 0, 1),)),
    ("ConstantPad2d", (1, 3.5)), ("ReflectionPad1d", ((2, 1),)), ("ReplicationPad1d", (2,)),
    ("ConstantPad1d", ((0, 2), -1.0)), ("ZeroPad1d", (1,)),
])
def test_padding_modules_match_torch(name, args):
    shape = (2, 3, 4, 5) if name.endswith("2d") else (2, 3, 5)
    for s in (shape, shape[1:]):
        x, tx = _pair(*s)
        _check(getattr(nn, name)(*args)(x), getattr(torch.nn, name)(*args)(tx), [(x, tx)])


@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 4, 5), {"scale_factor": 2, "mode": "nearest"}),
    ((2, 3, 5, 7), {"size": (3, 11), "mode": "nearest"}),
    ((2, 3, 6), {"scale_factor": 1.7, "mode": "nearest"}),
    ((2, 3, 4, 5), {"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
    ((2, 3, 4, 5), {"scale_factor": (1.5, 2.5), "mode": "bilinear", "align_corners": True}),
    ((2, 3, 5, 7), {"size": (3, 11), "mode": "bilinear"}),
    ((2, 3, 5, 7), {"size": (8, 4), "mode": "bilinear", "align_corners": True}),
    ((1, 2, 6), {"size": 9, "mode": "linear"}),
    ((2, 3, 6), {"scale_factor": 1.7, "mode": "nearest-exact"}),
    ((2, 3, 4, 5), {"size": (7, 3), "mode": "nearest-exact"}),
    ((1, 2, 3, 4, 5), {"scale_factor": (1.5, 0.5, 2), "mode": "nearest"}),
    ((1, 2, 3, 4, 5), {"size": (2, 6, 7), "mode": "nearest-exact"}),
    ((1, 2, 3, 4, 5), {"scale_factor": (1.5, 0.5, 2), "mode": "trilinear"}),
    ((1, 2, 3, 4, 5), {"size": (5, 3, 8), "mode": "trilinear", "align_corners": True}),
    ((2, 3, 4, 5), {"scale_factor": 2, "mode": "bicubic"}),
    ((2, 3, 4, 5), {"scale_factor": 0.6, "mode": "bicubic", "recompute_scale_factor": True}),
    ((2, 3, 5, 7), {"size": (3, 11), "mode": "bicubic", "align_corners": True}),
    ((2, 3, 7), {"size": 3, "mode": "area"}),
    ((2, 3, 5, 7), {"scale_factor": 0.5, "mode": "area"}),
    ((1, 2, 4, 5, 6), {"size": (3, 2, 4), "mode": "area"}),
])
def test_interpolate_and_upsample_match_torch(shape, kwargs):
    x, tx = _pair(*shape)
    _check(F.interpolate(x, **kwargs), TF.interpolate(tx, **kwargs), [(x, tx)], atol=1e-5)
    np.testing.assert_allclose(nn.Upsample(**kwargs)(x).detach().numpy(),
                               torch.nn.Upsample(**kwargs)(tx).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode, shape", [("bilinear", (2, 3, 4, 5)), ("bicubic", (2, 3, 4, 5)),
                                         ("trilinear", (1, 2, 3, 4, 5)), ("linear", (2, 3, 6))])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_in_float64_takes_torchs_float64_positions(mode, shape, align_corners):
    x = np.random.default_rng(2).standard_normal(shape)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = F.interpolate(ours, scale_factor=3.3, mode=mode, align_corners=align_corners)
    ty = TF.interpolate(theirs, scale_factor=3.3, mode=mode, align_corners=align_corners)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(3).standard_normal(y.shape)
    y.backward(ember.tensor(upstream))
    ty.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kwargs", [
    ((1, 2, 3), {"scale_factor": 1.3, "mode": "linear"}),
    ((2, 3, 4, 3), {"scale_factor": (2, 1.3), "mode": "bilinear"}),
    ((1, 2, 5, 3), {"scale_factor": (0.5, 1.2), "mode": "bilinear"}),
    ((1, 2, 4, 5, 3), {"scale_factor": (2.5, 0.5, 1.3), "mode": "trilinear"}),
    ((2, 3, 4, 3), {"scale_factor": (2, 1.3), "mode": "nearest"}),
    ((1, 2, 4, 5), {"scale_factor": (2.2, 1.9), "mode": "nearest"}),
    ((1, 2, 5, 4), {"scale_factor": (2.1, 2.2), "mode": "nearest"}),
])
def test_interpolate_copies_a_kept_axis_and_halves_a_doubled_ones_index_as_torch(shape, kwargs):
    """A scale factor that keeps an axis' size copies it in the linear modes and 2-D nearest, whatever the factor;
    2-D nearest takes index i // 2 where the size doubles (PyTorch's kernels look at the sizes first)."""
    x, tx = _pair(*shape)
    _check(F.interpolate(x, **kwargs), TF.interpolate(tx, **kwargs), [(x, tx)], atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("kwargs", [{"size": (3, 4)}, {"scale_factor": (0.37, 2.3)}, {"size": (11, 13)},
                                    {"scale_factor": 0.3, "align_corners": True},
                                    {"scale_factor": 0.45, "recompute_scale_factor": True}])
def test_interpolate_antialias_matches_torch(mode, kwargs):
    """antialias=True: each output averages the inputs under the filter stretched by the downscaling factor."""
    x, tx = _pair(2, 3, 9, 11)
    ours = F.interpolate(x, mode=mode, antialias=True, **kwargs)
    _check(ours, TF.interpolate(tx, mode=mode, antialias=True, **kwargs), [(x, tx)], atol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_interpolate_antialias_copies_an_axis_whose_size_is_kept_as_torch(mode, align_corners):
    """scale_factor=(1.1, 0.5) on 7 rows keeps 7: PyTorch copies them, Ember resampled them by 1 / 1.1 (0.45 off);
    the gradient is the adjoint of that forward (a copy), not PyTorch's, which resamples the rows in its backward."""
    x = np.random.default_rng(4).standard_normal((1, 2, 7, 9))
    kwargs = {"mode": mode, "antialias": True, "align_corners": align_corners}
    ours = ember.tensor(x, requires_grad=True)
    y = F.interpolate(ours, scale_factor=(1.1, 0.5), **kwargs)
    theirs = TF.interpolate(torch.tensor(x), scale_factor=(1.1, 0.5), **kwargs).numpy()
    np.testing.assert_allclose(y.detach().numpy(), theirs, rtol=1e-12, atol=1e-12)
    sized = ember.tensor(x, requires_grad=True)
    upstream = ember.tensor(np.random.default_rng(5).standard_normal(y.shape))
    (y * upstream).sum().backward()
    (F.interpolate(sized, scale_factor=(1.0, 0.5), **kwargs) * upstream).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), sized.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_antialias_keeps_a_nan_or_inf_in_its_windows_as_torch(mode):
    """The resampling was a product with the whole weight matrix, whose zero weights carried one NaN or inf pixel
    into every output of its row and column (36 NaN outputs for torch's 4); now each output reads its window."""
    x = np.random.default_rng(0).standard_normal((1, 2, 12, 10))
    x[0, 0, 3, 4], x[0, 1, 7, 2] = np.nan, np.inf
    ours = F.interpolate(ember.tensor(x), size=(5, 4), mode=mode, antialias=True).numpy()
    theirs = TF.interpolate(torch.tensor(x), size=(5, 4), mode=mode, antialias=True).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_interpolate_antialias_traces_under_jit_and_refuses_other_modes():
    x = ember.tensor(np.random.default_rng(0).standard_normal((1, 2, 9, 8)).astype(np.float32))
    step = ember.jit(lambda t: F.interpolate(t, size=(4, 3), mode="bicubic", antialias=True))
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), F.interpolate(x, size=(4, 3), mode="bicubic",
                                                                  antialias=True).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"interpolate: antialias=True is for the modes bilinear and bicubic of 4-D"):
        F.interpolate(x, size=(4, 3), mode="nearest", antialias=True)


def test_interpolate_modes_trace_under_jit():
    x = ember.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32))

    def resample(t):
        return (F.interpolate(t, scale_factor=2, mode="bicubic") + F.interpolate(t, size=(8, 10), mode="nearest-exact")
                + F.interpolate(F.interpolate(t, size=(2, 3), mode="area"), size=(8, 10), mode="bilinear"))

    step = ember.jit(resample)
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), resample(x).numpy(), rtol=1e-6)


def test_upsampling_modules_and_interpolate_errors():
    x, tx = _pair(1, 2, 3, 4)
    for name in ("UpsamplingNearest2d", "UpsamplingBilinear2d"):
        _check(getattr(nn, name)(scale_factor=2)(x), getattr(torch.nn, name)(scale_factor=2)(tx), [])
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' takes 4-D input, got shape \[2, 3\]"):
        F.interpolate(ember.zeros(2, 3), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="interpolate: exactly one of size and scale_factor must be given"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"interpolate: mode 'bicubic' takes 4-D input, got shape \[1, 1, 2, 2, 2\]"):
        F.interpolate(ember.zeros(1, 1, 2, 2, 2), size=4, mode="bicubic")
    with pytest.raises(ValueError, match="interpolate: align_corners is only for the modes linear, bilinear, "
                                         "trilinear, bicubic, not 'area'"):
        F.interpolate(x, size=2, mode="area", align_corners=False)
    with pytest.raises(ValueError, match="interpolate: mode must be one of"):
        F.interpolate(x, size=2, mode="cubic")


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_interpolate_refuses_integers_in_the_interpolating_modes(mode):
    # the weights were cast to the input's integer dtype: every output was 0 (PyTorch refuses int64)
    x = ember.tensor(np.arange(16, dtype=np.int64).reshape(1, 1, 4, 4))
    with pytest.raises(TypeError, match=f"interpolate: mode '{mode}' takes floating-point input, got int64"):
        F.interpolate(x, scale_factor=2, mode=mode)
    with pytest.raises(RuntimeError):
        torch.nn.functional.interpolate(torch.tensor(x.numpy()), scale_factor=2, mode=mode)
    np.testing.assert_array_equal(F.interpolate(x, scale_factor=2).numpy(),  # nearest copies integers
                                  np.repeat(np.repeat(x.numpy(), 2, 2), 2, 3))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape, kwargs", [((2, 3, 6, 7), {"scale_factor": 1.7, "mode": "bilinear"}),
                                           ((2, 3, 6, 7), {"size": (9, 13), "mode": "bicubic"}),
                                           ((2, 3, 4, 6, 7), {"size": (5, 9, 11), "mode": "trilinear"}),
                                           ((2, 3, 6, 7), {"size": (4, 5), "mode": "bicubic", "antialias": True})])
def test_interpolate_in_low_precision_blends_in_float32_as_torch(dtype, shape, kwargs):
    """float16 and bfloat16 were blended in their own dtype, rounded after every product and axis: 2 to 3 ulps
    off (4.0 near 305 in bfloat16); PyTorch blends in float32 and rounds once, within an ulp of the exact value."""
    x = (np.random.default_rng(0).random(shape) * 10 + 300).astype(np.float32)
    low = torch.tensor(x).to(getattr(torch, dtype))
    ours = F.interpolate(ember.tensor(low.float().numpy()).to(getattr(ember, dtype)), **kwargs)
    exact = TF.interpolate(low.double(), **kwargs).numpy()
    assert ours.dtype == getattr(ember, dtype)
    ulp = 2.0 ** (np.floor(np.log2(np.abs(exact))) - (10 if dtype == "float16" else 7))
    assert np.all(np.abs(ours.float().numpy() - exact) <= ulp)


def test_interpolate_refuses_recompute_scale_factor_with_a_size_as_torch():
    """recompute_scale_factor=True with size= was ignored; PyTorch refuses it (False and None are taken)."""
    x, tx = _pair(2, 3, 5, 6)
    with pytest.raises(ValueError, match="not meaningful with an explicit size"):
        TF.interpolate(tx, size=7, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="recompute_scale_factor=True is for a scale_factor"):
        F.interpolate(x, size=7, recompute_scale_factor=True)
    _check(F.interpolate(x, size=7, recompute_scale_factor=False),
           TF.interpolate(tx, size=7, recompute_scale_factor=False), [(x, tx)])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape, kwargs", [((2, 3, 6, 7), {"scale_factor": 1.7, "mode": "nearest"}),
                                           ((2, 3, 9), {"size": 20, "mode": "nearest-exact"}),
                                           ((2, 3, 6, 7), {"scale_factor": (2, 3), "mode": "nearest"}),
                                           ((1, 2, 4, 5, 6), {"size": (9, 11, 13), "mode": "nearest"})])
def test_interpolate_nearest_gradient_in_low_precision_sums_in_float32_as_torch(dtype, shape, kwargs):
    """The gradient of float16 and bfloat16 nearest resampling summed an input's copies in that dtype, rounding
    after each (31 of 252 float16 elements off torch's for a 1.7 scale); PyTorch sums in float32 and rounds once."""
    rng = np.random.default_rng(0)
    low = getattr(torch, dtype)
    x = torch.tensor(rng.standard_normal(shape).astype(np.float32)).to(low)
    theirs = x.clone().requires_grad_()
    expected = TF.interpolate(theirs, **kwargs)
    ours = ember.tensor(x.float().numpy()).to(getattr(ember, dtype)).requires_grad_()
    y = F.interpolate(ours, **kwargs)
    assert y.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(y.detach().float().numpy(), expected.detach().float().numpy())
    gy = torch.tensor(rng.standard_normal(tuple(expected.shape)).astype(np.float32)).to(low)
    expected.backward(gy)
    y.backward(ember.tensor(gy.float().numpy()).to(getattr(ember, dtype)))
    assert ours.grad.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(ours.grad.float().numpy(), theirs.grad.float().numpy())


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((9, 2, 5), 3), ((2, 3, 4, 4, 2), 2)])
def test_pixel_shuffle_and_unshuffle_match_torch(shape, r):
    x, tx = _pair(*shape)
    _check(F.pixel_shuffle(x, r), TF.pixel_shuffle(tx, r), [(x, tx)])
    y, ty = _pair(*shape[:-3], shape[-3], shape[-2] * r, shape[-1] * r, seed=1)
    _check(nn.PixelUnshuffle(r)(y), torch.nn.PixelUnshuffle(r)(ty), [(y, ty)])
    np.testing.assert_array_equal(nn.PixelShuffle(r)(x).detach().numpy(), torch.nn.PixelShuffle(r)(tx).detach().numpy())


@pytest.mark.parametrize("factor", [0, -1, 1.5, True])
def test_pixel_shuffle_factors_must_be_positive_ints_as_torch(factor):
    """0 raised Python's "integer modulo by zero", -1 a reshape error, 1.5 reached reshape with float sizes."""
    x = ember.zeros(2, 4, 4, 6)
    with pytest.raises(ValueError, match="pixel_shuffle: upscale_factor must be a positive int"):
        F.pixel_shuffle(x, factor)
    with pytest.raises(ValueError, match="pixel_unshuffle: downscale_factor must be a positive int"):
        F.pixel_unshuffle(x, factor)
    with pytest.raises((RuntimeError, TypeError)):
        TF.pixel_shuffle(torch.zeros(2, 4, 4, 6), factor)


@pytest.mark.parametrize("shape, size", [((2, 3, 7, 9), (3, 4)), ((2, 3, 8, 8), 4), ((3, 5, 6), (None, 4)),
                                         ((2, 3, 5, 5), 7)])
def test_adaptive_max_pool2d_and_its_module_match_torch(shape, size):
    x, tx = _pair(*shape)
    _check(F.adaptive_max_pool2d(x, size), TF.adaptive_max_pool2d(tx, size), [(x, tx)])
    np.testing.assert_array_equal(nn.AdaptiveMaxPool2d(size)(x).detach().numpy(),
                                  torch.nn.AdaptiveMaxPool2d(size)(tx).detach().numpy())
    z, tz = _pair(2, 3, 10)
    _check(nn.AdaptiveMaxPool1d(3)(z), torch.nn.AdaptiveMaxPool1d(3)(tz), [(z, tz)])


def _signs(n, seed=3):
    signs = np.where(np.random.default_rng(seed).random(n) < 0.5, -1.0, 1.0).astype(np.float32)
    return ember.tensor(signs), torch.tensor(signs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_losses_and_their_modules_match_torch(reduction):
    (a, ta), (b, tb), (c, tc) = _pair(6, 5), _pair(6, 5, seed=1), _pair(6, 5, seed=2)
    (u, tu), (v, tv) = _pair(6, seed=4), _pair(6, seed=5)
    y, ty = _signs(6)
    cases = [
        ("margin_ranking_loss", "MarginRankingLoss", (u, v, y), (tu, tv, ty), {"margin": 0.3}),
        ("hinge_embedding_loss", "HingeEmbeddingLoss", (u, y), (tu, ty), {"margin": 0.5}),
        ("cosine_embedding_loss", "CosineEmbeddingLoss", (a, b, y), (ta, tb, ty), {"margin": 0.1}),
        ("triplet_margin_loss", "TripletMarginLoss", (a, b, c), (ta, tb, tc), {"margin": 2.0}),
        ("triplet_margin_loss", "TripletMarginLoss", (a, b, c), (ta, tb, tc), {"p": 1.0, "swap": True}),
    ]
    for name, module, ours, theirs, kwargs in cases:
        for t in (a, b, c, u, v, ta, tb, tc, tu, tv):
            t.grad = None
        pairs = [(o, t) for o, t in zip(ours, theirs) if t.requires_grad]
        _check(getattr(F, name)(*ours, **kwargs, reduction=reduction),
               getattr(TF, name)(*theirs, **kwargs, reduction=reduction), pairs, atol=1e-5)
        np.testing.assert_allclose(getattr(nn, module)(**kwargs, reduction=reduction)(*ours).detach().numpy(),
                                   getattr(torch.nn, module)(**kwargs, reduction=reduction)(*theirs).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_margin_ranking_loss_refuses_inputs_of_other_ranks_as_torch():
    # (N,) inputs and an (N, 1) target broadcast to (N, N) losses (a mean of 0.544 for the rows' 0.217); PyTorch
    # refuses ranks that differ, and broadcasts within one rank
    (u, tu), (v, tv) = _pair(6, seed=4), _pair(6, seed=5)
    y, ty = _signs(6)
    column = y.reshape(6, 1)
    with pytest.raises(ValueError, match=r"margin_ranking_loss: input1, input2 and target must have the same number "
                                         r"of dimensions, got shapes \[6\], \[6\] and \[6, 1\]"):
        F.margin_ranking_loss(u, v, column)
    with pytest.raises(ValueError, match="same number of dimensions"):
        nn.MarginRankingLoss()(u, v[:1].reshape(1, 1), y)
    with pytest.raises(RuntimeError, match="same dimension"):
        TF.margin_ranking_loss(tu, tv, ty.reshape(6, 1))
    _check(F.margin_ranking_loss(u.reshape(6, 1), v.reshape(1, 6), column, reduction="none"),
           TF.margin_ranking_loss(tu.reshape(6, 1), tv.reshape(1, 6), ty.reshape(6, 1), reduction="none"),
           [(u, tu), (v, tv)], atol=1e-6)


def test_cosine_embedding_loss_refuses_a_target_of_another_rank_as_torch():
    # an (N, 1) target of (N, D) inputs broadcast the (N,) cosines to (N, N) losses (a mean of 0.484 for the
    # rows' 0.317), and a 0-d one was taken for every row; PyTorch wants an (N,) target of (N, D) inputs and a 0-d
    # one of (D,) inputs
    (a, ta), (b, tb) = _pair(6, 5), _pair(6, 5, seed=1)
    y, ty = _signs(6)
    for target, torch_target in ((y.reshape(6, 1), ty.reshape(6, 1)), (y[0], ty[0])):
        with pytest.raises(ValueError, match=r"cosine_embedding_loss: .* got \[6, 5\], \[6, 5\] and target "
                                             + re.escape(str(list(target.shape)))):
            F.cosine_embedding_loss(a, b, target)
        with pytest.raises(RuntimeError, match="target tensor"):
            TF.cosine_embedding_loss(ta, tb, torch_target)
    with pytest.raises(ValueError, match="cosine_embedding_loss"):
        nn.CosineEmbeddingLoss()(a[0], b[0], y)
    _check(F.cosine_embedding_loss(a[0], b[0], y[1], reduction="none"),
           TF.cosine_embedding_loss(ta[0], tb[0], ty[1], reduction="none"), [], atol=1e-6)


@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss_of_3d_and_broadcast_inputs_matches_torch(swap):
    # PyTorch takes any rank, the three broadcast, the distance along the last dimension; (N, D) or (D,) of one
    # shape only were taken
    (a, ta), (b, tb), (c, tc) = _pair(2, 4, 5), _pair(1, 4, 5, seed=1), _pair(2, 1, 5, seed=2)
    _check(F.triplet_margin_loss(a, b, c, swap=swap, reduction="none"),
           TF.triplet_margin_loss(ta, tb, tc, swap=swap, reduction="none"), [(a, ta), (b, tb), (c, tc)], atol=1e-5)


@pytest.mark.parametrize("margin", [0.0, -0.5])
def test_triplet_margin_loss_refuses_a_margin_not_above_0_as_torch(margin):
    # a margin of 0 or less was taken (PyTorch refuses it, in the function and the module)
    a = ember.randn(4, 3)
    with pytest.raises(ValueError, match=f"triplet_margin_loss: margin must be greater than 0, got {margin}"):
        F.triplet_margin_loss(a, a, a, margin=margin)
    with pytest.raises(ValueError, match=f"TripletMarginLoss: margin must be greater than 0, got {margin}"):
        nn.TripletMarginLoss(margin=margin)
    with pytest.raises(ValueError, match=r"triplet_margin_loss: anchor, positive and negative must have the same "
                                         r"number of dimensions, at least 1, got \[4, 3\], \[3\] and \[4, 3\]"):
        F.triplet_margin_loss(a, a[0], a)


def test_parameterdict_registers_its_parameters_by_key_as_torch():
    values = {"scale": np.ones(3, np.float32), "shift": np.zeros((2, 3), np.float32)}
    ours = nn.ParameterDict({k: ember.tensor(v) for k, v in values.items()})
    theirs = torch.nn.ParameterDict({k: torch.tensor(v) for k, v in values.items()})
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["scale", "shift"]
    assert isinstance(ours["scale"], nn.Parameter) and "shift" in ours and len(ours) == 2
    holder = nn.Module()
    holder.params = ours
    assert [n for n, _ in holder.named_parameters()] == ["params.scale", "params.shift"]
    ours["extra"] = ember.ones(1)
    assert list(ours) == ["scale", "shift", "extra"]
    assert ours.pop("shift").shape == (2, 3) and list(ours.keys()) == ["scale", "extra"]
    with pytest.raises(KeyError, match="ParameterDict: no parameter 'shift'"):
        ours["shift"]


def test_parameterdict_orders_a_plain_dict_by_key_as_torch():
    values = {"w2": np.full((2, 2), 2.0, np.float32), "w1": np.eye(2, dtype=np.float32) * 3}
    ours = nn.ParameterDict({k: ember.tensor(v) for k, v in values.items()})
    theirs = torch.nn.ParameterDict({k: torch.tensor(v) for k, v in values.items()})
    assert list(ours) == list(theirs) == ["w1", "w2"]  # the dict's own order before
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    from collections import OrderedDict

    ordered = OrderedDict((k, ember.tensor(v)) for k, v in values.items())
    assert list(nn.ParameterDict(ordered)) == ["w2", "w1"]
    assert list(nn.ParameterDict(list(ordered.items()))) == ["w2", "w1"]


def test_parameterdict_has_torchs_dict_methods():
    # setdefault, popitem, copy, fromkeys, reversed and | were AttributeErrors (PyTorch's ParameterDict has them)
    from collections import OrderedDict

    results = []
    for lib in (ember, torch):
        d = lib.nn.ParameterDict(OrderedDict([("b", lib.ones(1)), ("a", lib.ones(2))]))
        row = [tuple(d.setdefault("c", lib.ones(3)).shape), tuple(d.setdefault("a", lib.ones(5)).shape)]
        key, value = d.popitem()
        copied = d.copy()
        made = d.fromkeys(["x", "y"], lib.zeros(2))
        merged = d | {"z": lib.ones(1), "b": lib.ones(4)}
        d |= OrderedDict([("m", lib.ones(1))])
        row += [key, tuple(value.shape), list(copied), copied["a"] is d["a"], list(made), type(made["x"]).__name__,
                list(reversed(d)), list(merged), tuple(merged["b"].shape), list(d), type({"q": lib.ones(1)} | d)]
        results.append(row)
    assert results[0] == results[1]
    with pytest.raises(KeyError, match="ParameterDict is empty"):
        nn.ParameterDict().popitem()


def test_dropout1d_zeroes_whole_channels_and_scales_the_rest():
    ember.manual_seed(0)
    x = ember.ones(4, 16, 5, requires_grad=True)
    drop = nn.Dropout1d(0.5)
    y = drop(x)
    y.sum().backward()
    per_channel = y.detach().numpy()
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel == per_channel[..., :1]).all()
    np.testing.assert_array_equal(x.grad.numpy(), per_channel)
    assert drop(ember.ones(16, 5)).shape == (16, 5)
    np.testing.assert_array_equal(drop.eval()(x).detach().numpy(), x.detach().numpy())
    with pytest.raises(ValueError, match=r"Dropout1d: expected \(N, C, L\) or \(C, L\) inputs, got shape \[5\]"):
        drop.train()(ember.ones(5))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_transformer_with_weights_copied_from_torch_matches_it_masks_included(batch_first, norm_first):
    torch.manual_seed(0)
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0,
                  batch_first=batch_first, norm_first=norm_first)
    theirs, ours = torch.nn.Transformer(**kwargs), nn.Transformer(**kwargs)
    params = _copy_parameters(ours, theirs)
    shape = (lambda n, length: (n, length, 8)) if batch_first else (lambda n, length: (length, n, 8))
    (src, tsrc), (tgt, ttgt) = _pair(*shape(3, 5)), _pair(*shape(3, 4), seed=1)
    padding = np.zeros((3, 5), bool)
    padding[1, 3:] = True
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(tgt_mask.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    masks = {"tgt_mask": tgt_mask, "src_key_padding_mask": ember.tensor(padding),
             "memory_key_padding_mask": ember.tensor(padding)}
    tmasks = {k: torch.tensor(v.numpy()) for k, v in masks.items()}
    _check(ours(src, tgt, **masks), theirs(tsrc, ttgt, **tmasks), [(src, tsrc), (tgt, ttgt)] + params, atol=1e-5)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_transformer_defaults_match_torchs_structure_and_init():
    ours, theirs = nn.Transformer(16, 2, 1, 2, 32), torch.nn.Transformer(16, 2, 1, 2, 32)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        a, b = a.detach().numpy(), b.detach().numpy()
        if a.ndim > 1:  # Xavier-uniform: the same bound
            bound = np.sqrt(6.0 / (a.shape[0] + a.shape[1]))
            assert np.abs(a).max() <= bound and np.abs(a).max() > 0.8 * bound, name
        elif np.ptp(b) > 0:  # a Linear's bias: uniform within 1 / sqrt(fan_in), fan_in at least 16
            assert 0 < np.abs(a).max() <= 0.25 and np.ptp(a) > 0, name
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_transformer_decoder_layer_alone_matches_torch_with_a_memory_mask():
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation="gelu", batch_first=True)
    ours = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, activation="gelu", batch_first=True)
    params = _copy_parameters(ours, theirs)
    (tgt, ttgt), (memory, tmemory) = _pair(2, 4, 8), _pair(2, 6, 8, seed=1)
    blocked = np.triu(np.ones((4, 6), bool), k=3)
    _check(ours(tgt, memory, memory_mask=ember.tensor(blocked)),
           theirs(ttgt, tmemory, memory_mask=torch.tensor(blocked)), [(tgt, ttgt), (memory, tmemory)] + params,
           atol=1e-5)


_FOLD_SETTINGS = [
    ((2, 3, 7, 8), {"kernel_size": 3}),
    ((2, 3, 7, 8), {"kernel_size": (2, 3), "stride": (2, 1), "padding": (1, 2), "dilation": (2, 1)}),
    ((1, 2, 9, 10), {"kernel_size": 2, "stride": 3, "padding": 1, "dilation": 2}),
    ((3, 1, 6, 6), {"kernel_size": (1, 4), "stride": 2}),
]


@pytest.mark.parametrize("shape, kwargs", _FOLD_SETTINGS)
def test_unfold_and_fold_match_torch_in_values_and_gradients(shape, kwargs):
    x, tx = _pair(*shape)
    _check(F.unfold(x, **kwargs), TF.unfold(tx, **kwargs), [(x, tx)])
    columns = TF.unfold(tx.detach(), **kwargs).shape
    c, tc = _pair(*columns, seed=1)
    _check(F.fold(c, shape[2:], **kwargs), TF.fold(tc, shape[2:], **kwargs), [(c, tc)], atol=1e-5)
    x, tx = _pair(*shape[1:])  # unbatched: (C, H, W) to (C kh kw, L) and back
    _check(F.unfold(x, **kwargs), TF.unfold(tx, **kwargs), [(x, tx)])
    c, tc = _pair(*columns[1:], seed=1)
    _check(nn.Fold(shape[2:], **kwargs)(c), torch.nn.Fold(shape[2:], **kwargs)(tc), [(c, tc)], atol=1e-5)


@pytest.mark.parametrize("shape, kwargs", _FOLD_SETTINGS)
def test_unfold_then_fold_modules_round_trip_as_torchs(shape, kwargs):
    """Fold(Unfold(x)) is x times how many blocks cover each position, as in PyTorch."""
    x, tx = _pair(*shape)
    ours = nn.Fold(shape[2:], **kwargs)(nn.Unfold(**kwargs)(x))
    theirs = torch.nn.Fold(shape[2:], **kwargs)(torch.nn.Unfold(**kwargs)(tx))
    _check(ours, theirs, [(x, tx)], atol=1e-5)
    counts = F.fold(F.unfold(ember.ones(*shape), **kwargs), shape[2:], **kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), (x * counts).detach().numpy(), rtol=1e-6)
    assert repr(nn.Unfold(**kwargs)) == repr(torch.nn.Unfold(**kwargs))


def test_unfold_and_fold_keep_a_nan_or_inf_in_the_blocks_that_hold_it_as_torch():
    """They were convolutions with one-hot weights, whose zeros carried a NaN or inf into every channel of the
    blocks around it (unfold: 153 NaN entries for torch's 9)."""
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 7))
    x[0, 0, 2, 3], x[0, 1, 4, 1] = np.nan, np.inf
    kwargs = {"kernel_size": (3, 2), "padding": 1, "stride": (1, 2)}
    ours, theirs = F.unfold(ember.tensor(x), **kwargs).numpy(), TF.unfold(torch.tensor(x), **kwargs).numpy()
    np.testing.assert_array_equal(ours, theirs)  # NaN where torch has NaN, inf where it has inf
    columns = np.random.default_rng(1).standard_normal(theirs.shape)
    columns[0, 4, 5], columns[0, 9, 11] = np.nan, -np.inf
    ours = F.fold(ember.tensor(columns), (6, 7), **kwargs).numpy()
    np.testing.assert_allclose(ours, TF.fold(torch.tensor(columns), (6, 7), **kwargs).numpy(), rtol=1e-12)


def test_fold_of_bool_columns_stays_bool_as_torch():
    """Overlapping bool blocks summed into int64 (a 3 where two blocks overlap); fold keeps input's dtype as
    PyTorch's col2im, True where any block holds True."""
    columns = np.random.default_rng(0).random((1, 4, 4)) > 0.5
    ours = F.fold(ember.tensor(columns), (3, 3), 2)
    theirs = TF.fold(torch.tensor(columns), (3, 3), 2)
    assert ours.dtype == np.bool_ and theirs.dtype == torch.bool
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_unfold_and_fold_trace_under_jit():
    x = ember.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 7)).astype(np.float32))
    step = ember.jit(lambda t: F.fold(F.unfold(t, 3, padding=1, stride=2) * 2.0, (6, 7), 3, padding=1, stride=2))
    eager = F.fold(F.unfold(x, 3, padding=1, stride=2) * 2.0, (6, 7), 3, padding=1, stride=2)
    for _ in range(2):
        np.testing.assert_allclose(step(x).numpy(), eager.numpy(), rtol=1e-6)


def test_unfold_and_fold_errors_name_the_function_argument_and_shapes():
    with pytest.raises(ValueError, match=r"unfold: input must be 4-D \(N, C, H, W\) or 3-D \(C, H, W\), got shape "
                                         r"\[5, 5\]"):
        F.unfold(ember.zeros(5, 5), 2)
    with pytest.raises(ValueError, match=r"unfold: kernel_size \(6, 6\) with dilation \(1, 1\) does not fit"):
        F.unfold(ember.zeros(1, 1, 5, 5), 6)
    with pytest.raises(ValueError, match="unfold: stride must be at least 1, got"):
        F.unfold(ember.zeros(1, 1, 5, 5), 2, stride=0)
    with pytest.raises(ValueError, match=r"fold: input's dimension 2 \(L = 15\) must be the number of blocks, "
                                         r"4 \* 4 = 16, for output_size \(5, 5\)"):
        F.fold(ember.zeros(2, 12, 15), 5, 2)
    with pytest.raises(ValueError, match=r"fold: input's dimension 1 \(10\) must be divisible by kh \* kw = 4"):
        nn.Fold(5, 2)(ember.zeros(2, 10, 16))
    with pytest.raises(ValueError, match=r"fold: input must be 3-D \(N, C \* kh \* kw, L\) or 2-D \(C \* kh \* kw, "
                                         r"L\), got shape \[1, 1, 12, 16\]"):
        F.fold(ember.zeros(1, 1, 12, 16), 5, 2)


@pytest.mark.parametrize("name", ["MaxPool1d", "MaxPool2d", "MaxPool3d"])
def test_max_pool_modules_take_positional_arguments_in_pytorchs_order(name):
    # (kernel_size, stride, padding, dilation, return_indices, ceil_mode): the sixth is ceil_mode, the fifth
    # return_indices, not read as ceil_mode
    dims = int(name[-2])
    x = np.random.default_rng(0).standard_normal((2, 3) + (7,) * dims).astype(np.float32)
    ours, theirs = getattr(nn, name)(3, 2, 1, 1, False, True), getattr(torch.nn, name)(3, 2, 1, 1, False, True)
    assert ours.ceil_mode
    np.testing.assert_array_equal(ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    (y, i), (ty, ti) = getattr(nn, name)(3, 2, 1, 1, True)(ember.tensor(x)), getattr(torch.nn, name)(3, 2, 1, 1, True)(
        torch.tensor(x))
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_functional_normalization_and_adaptive_pooling_take_input_by_keyword():
    # F.layer_norm(input=...), F.batch_norm(input=...) and F.adaptive_avg_pool2d/3d(input=...) were refused
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4, 4)).astype(np.float32)
    calls = [
        ("layer_norm", {"normalized_shape": (4,)}),
        ("batch_norm", {"running_mean": np.zeros(3, np.float32), "running_var": np.ones(3, np.float32)}),
        ("adaptive_avg_pool3d", {"output_size": 2}),
        ("adaptive_avg_pool2d", {"output_size": 2, "input": x[:, :, 0]}),
    ]
    for name, kwargs in calls:
        kwargs = {"input": x} | kwargs
        ours = getattr(ember.nn.functional, name)(**{k: ember.tensor(v) if isinstance(v, np.ndarray) else v
                                                    for k, v in kwargs.items()})
        theirs = getattr(torch.nn.functional, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                                      for k, v in kwargs.items()})
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_functional_ops_with_numpy_parameter_names_take_input_by_keyword():
    # the ops naming their first parameter x (or indices) refused PyTorch's input=: F.gelu(input=x) was a TypeError
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4, 4)).astype(np.float32)
    weight = np.random.default_rng(1).standard_normal((3, 3, 2, 2, 2)).astype(np.float32)
    calls = [
        ("gelu", {"approximate": "tanh"}), ("sigmoid", {}), ("tanh", {}), ("tanhshrink", {}),
        ("softplus", {"beta": 2.0}), ("hardshrink", {"lambd": 0.3}), ("softshrink", {"lambd": 0.3}),
        ("pdist", {"input": x[0, 0, 0], "p": 1.0}), ("one_hot", {"input": np.array([0, 2]), "num_classes": 4}),
        ("adaptive_avg_pool1d", {"input": x[:, :, 0, 0], "output_size": 2}),
        ("avg_pool1d", {"input": x[:, :, 0, 0], "kernel_size": 2}),
        ("avg_pool2d", {"input": x[:, :, 0], "kernel_size": 2}),
        ("avg_pool3d", {"kernel_size": 2}), ("max_pool1d", {"input": x[:, :, 0, 0], "kernel_size": 2}),
        ("max_pool2d", {"input": x[:, :, 0], "kernel_size": 2}), ("max_pool3d", {"kernel_size": 2, "stride": 1}),
        ("conv1d", {"input": x[:, :, 0, 0], "weight": weight[..., 0, 0], "stride": 2}),
        ("conv2d", {"input": x[:, :, 0], "weight": weight[..., 0]}), ("conv3d", {"weight": weight}),
        ("conv_transpose1d", {"input": x[:, :, 0, 0], "weight": weight[..., 0, 0]}),
        ("conv_transpose2d", {"input": x[:, :, 0], "weight": weight[..., 0], "stride": 2}),
        ("conv_transpose3d", {"weight": weight}),
    ]
    for name, kwargs in calls:
        kwargs = {"input": x} | kwargs
        ours = getattr(F, name)(**{k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
        theirs = getattr(TF, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                      for k, v in kwargs.items()})
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5, err_msg=name)
    with pytest.raises(TypeError, match="multiple values for argument 'input'"):
        F.sigmoid(ember.tensor(x), input=ember.tensor(x))


@pytest.mark.parametrize("name", ["elu", "selu", "celu"])
def test_elu_gradient_far_below_zero_keeps_float32_precision(name):
    # the gradient went through expm1's, expm1(x) + 1 from the output, which cancels: 2.6% off at -15 in float32,
    # 0 at -30 for 9.4e-14; it is exp(x), as PyTorch's elu gradient
    values = np.array([-1.0, -10.0, -15.0, -30.0, -80.0], np.float32)
    x = ember.tensor(values, requires_grad=True)
    getattr(F, name)(x).sum().backward()
    exact = torch.tensor(values.astype(np.float64), requires_grad=True)
    getattr(torch.nn.functional, name)(exact).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), exact.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (3,)])
def test_linear_refuses_a_weight_of_more_than_two_dims_as_torch(x_shape):
    # a (5, 3, 1) weight was broadcast by the eager forward's matmul as a batch of weights ((4, 3) in, (1, 4, 5)
    # out) where PyTorch (and Ember's own graphs) refuse it
    x, weight = np.ones(x_shape), np.ones((5, 3, 1))
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.tensor(x), torch.tensor(weight))
    with pytest.raises(ValueError, match=r"linear: weight must be \(out_features, in_features\).*\[5, 3, 1\]"):
        F.linear(ember.tensor(x), ember.tensor(weight))


@pytest.mark.parametrize("mask_shape", [(1, 2, 4, 5), (3, 2, 4, 5), (3, 1, 4, 5)])
def test_sdpa_refuses_a_mask_that_grows_the_scores_as_torch(mask_shape):
    # a (3, 2, 4, 5) mask for (2, 4, 5) scores gave a (3, 2, 4, 3) output, where PyTorch adds the mask into the
    # scores in place and refuses it
    q, k = np.ones((2, 4, 3)), np.ones((2, 5, 3))
    mask = np.zeros(mask_shape)
    with pytest.raises(RuntimeError):
        torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, k)), attn_mask=torch.tensor(mask))
    jitted = ember.jit(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m))
    for call in (lambda *a: F.scaled_dot_product_attention(*a[:3], attn_mask=a[3]), jitted):
        with pytest.raises(ValueError, match=r"attn_mask of shape .* must broadcast to the attention scores' shape "
                                             r"\[2, 4, 5\]"):
            call(*map(ember.tensor, (q, k, k, mask)))


def test_sdpa_keeps_a_mask_that_broadcasts_to_the_scores_as_torch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 3))
    for shape in [(2, 1, 5), (5,), (4, 1), (1, 4, 5)]:
        mask = rng.standard_normal(shape)
        ours = F.scaled_dot_product_attention(*map(ember.tensor, (q, k, v)), attn_mask=ember.tensor(mask))
        theirs = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)),
                                                                  attn_mask=torch.tensor(mask))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)

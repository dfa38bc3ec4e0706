"""PoissonNLLLoss, GaussianNLLLoss, SoftMarginLoss, MultiLabelSoftMarginLoss, MultiLabelMarginLoss and
MultiMarginLoss against torch.nn: values and gradients for every reduction and option, the modules, errors and one
``ember.jit`` trace."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
REDUCTIONS = ["mean", "sum", "none"]


def _pair(array, grad=True):
    return ember.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _check(ours_fn, theirs_fn, arrays, grads, rtol=1e-10, atol=1e-12):
    """The two losses' values and the gradients of sum(loss * weights) for each array flagged in ``grads``."""
    pairs = [_pair(a, g) for a, g in zip(arrays, grads)]
    ours, theirs = ours_fn(*[p[0] for p in pairs]), theirs_fn(*[p[1] for p in pairs])
    expected = theirs.detach().numpy()
    assert tuple(ours.shape) == expected.shape
    np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=rtol, atol=atol)
    weights = np.random.default_rng(9).uniform(0.5, 1.5, expected.shape)
    (ours * ember.tensor(weights)).sum().backward()
    (theirs * torch.tensor(weights)).sum().backward()
    for (o, t), g in zip(pairs, grads):
        if g:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 4))
COUNTS = RNG.poisson(2.0, (5, 4)).astype(np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_matches_torch(reduction, log_input, full):
    rates = X if log_input else np.abs(X) + 0.1
    rates[0, 0] = rates[0, 0] if log_input else 0.0  # log(0 + eps)
    kwargs = {"log_input": log_input, "full": full, "eps": 1e-4, "reduction": reduction}
    _check(lambda x, t: F.poisson_nll_loss(x, t, **kwargs), lambda x, t: TF.poisson_nll_loss(x, t, **kwargs),
           [rates, COUNTS], [True, not full])  # torch's target gradient is NaN at counts 0 with full=True
    module = nn.PoissonNLLLoss(**kwargs)(ember.tensor(rates), ember.tensor(COUNTS))
    expected = torch.nn.PoissonNLLLoss(**kwargs)(torch.tensor(rates), torch.tensor(COUNTS))
    np.testing.assert_allclose(module.numpy(), expected.numpy(), rtol=1e-12)


VARS = {
    "full": np.abs(RNG.standard_normal((5, 4))) + 0.1,
    "one_per_row": np.abs(RNG.standard_normal(5)) + 0.1,
    "last_dim_one": np.abs(RNG.standard_normal((5, 1))) + 0.1,
    "first_dim_one": np.abs(RNG.standard_normal((1, 4))) + 0.1,
    "below_eps": np.array([[1e-9, 2.0, 0.0, 0.5]] * 5),
}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var", list(VARS))
def test_gaussian_nll_loss_matches_torch(reduction, full, var):
    kwargs = {"full": full, "eps": 1e-3, "reduction": reduction}
    target = RNG.standard_normal((5, 4))
    _check(lambda x, t, v: F.gaussian_nll_loss(x, t, v, **kwargs),
           lambda x, t, v: TF.gaussian_nll_loss(x, t, v, **kwargs), [X, target, VARS[var]], [True, True, True])


@pytest.mark.parametrize("var", [0.7, 0.0])
def test_gaussian_nll_loss_takes_a_number_for_var(var):
    target = RNG.standard_normal((5, 4))
    _check(lambda x, t: nn.GaussianNLLLoss(full=True)(x, t, var),
           lambda x, t: torch.nn.GaussianNLLLoss(full=True)(x, t, var), [X, target], [True, True])


def test_gaussian_nll_loss_float32_keeps_its_dtype():
    x, t, v = (ember.tensor(a.astype(np.float32)) for a in (X, X[::-1].copy(), VARS["full"]))
    assert F.gaussian_nll_loss(x, t, v).dtype == np.float32


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_matches_torch(reduction):
    signs = np.where(RNG.random((5, 4)) > 0.5, 1.0, -1.0)
    _check(lambda x, y: F.soft_margin_loss(x, y, reduction=reduction),
           lambda x, y: TF.soft_margin_loss(x, y, reduction=reduction), [X, signs], [True, False])
    np.testing.assert_allclose(nn.SoftMarginLoss(reduction=reduction)(ember.tensor(X), ember.tensor(signs)).numpy(),
                               torch.nn.SoftMarginLoss(reduction=reduction)(torch.tensor(X), torch.tensor(signs)),
                               rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 3, 4)])
def test_multilabel_soft_margin_loss_matches_torch(reduction, weighted, shape):
    x = RNG.standard_normal(shape)
    labels = (RNG.random(shape) > 0.5).astype(np.float64)
    weight = RNG.uniform(0.5, 2.0, shape[-1]) if weighted else None
    _check(lambda a, b: F.multilabel_soft_margin_loss(a, b, None if weight is None else ember.tensor(weight),
                                                      reduction=reduction),
           lambda a, b: TF.multilabel_soft_margin_loss(a, b, None if weight is None else torch.tensor(weight),
                                                       reduction=reduction), [x, labels], [True, False])
    ours = nn.MultiLabelSoftMarginLoss(None if weight is None else ember.tensor(weight), reduction=reduction)
    theirs = torch.nn.MultiLabelSoftMarginLoss(None if weight is None else torch.tensor(weight), reduction=reduction)
    np.testing.assert_allclose(ours(ember.tensor(x), ember.tensor(labels)).numpy(),
                               theirs(torch.tensor(x), torch.tensor(labels)).numpy(), rtol=1e-12)


LABEL_LISTS = np.array([[3, 0, -1, 1], [1, 1, 2, -1], [0, 1, 2, 3], [-1, 2, 0, 0], [2, -1, -1, -1]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_matches_torch(reduction):
    # rows: -1 ending the list early (class 1 after it is not a target), a repeated class, a full list, an empty
    # list, one class
    x = RNG.standard_normal((5, 4))
    x[0, 1] = x[0, 3] - 1.0  # a margin of exactly zero
    _check(lambda a, t: F.multilabel_margin_loss(a, t, reduction=reduction),
           lambda a, t: TF.multilabel_margin_loss(a, t, reduction=reduction), [x, LABEL_LISTS], [True, False])
    _check(lambda a, t: nn.MultiLabelMarginLoss(reduction=reduction)(a, t),
           lambda a, t: torch.nn.MultiLabelMarginLoss(reduction=reduction)(a, t), [x[1], LABEL_LISTS[1]],
           [True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin", [(1, 1.0), (2, 0.5), (1, 2.5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_loss_matches_torch(reduction, p, margin, weighted):
    x = RNG.standard_normal((6, 4))
    target = np.array([0, 3, 1, 1, 2, 0])
    x[0, 2] = x[0, 0] - margin  # a margin of exactly zero: no gradient, as torch
    weight = RNG.uniform(0.5, 2.0, 4) if weighted else None
    kwargs = {"p": p, "margin": margin, "reduction": reduction}
    _check(lambda a, t: F.multi_margin_loss(a, t, weight=None if weight is None else ember.tensor(weight), **kwargs),
           lambda a, t: TF.multi_margin_loss(a, t, weight=None if weight is None else torch.tensor(weight), **kwargs),
           [x, target], [True, False])
    _check(lambda a, t: nn.MultiMarginLoss(weight=None if weight is None else ember.tensor(weight), **kwargs)(a, t),
           lambda a, t: torch.nn.MultiMarginLoss(weight=None if weight is None else torch.tensor(weight),
                                                 **kwargs)(a, t), [x[2], target[2]], [True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("x_shape,target", [((4,), [2]), ((1, 4), 2)])
def test_multi_margin_loss_takes_torchs_one_sample_target_shapes(reduction, x_shape, target):
    # a (C) input with a (1) target, or a (1, C) one with a () target, PyTorch's, was refused; "none" has the target's
    # shape
    x = RNG.standard_normal(x_shape)
    _check(lambda a, t: F.multi_margin_loss(a, t, p=2, reduction=reduction),
           lambda a, t: TF.multi_margin_loss(a, t, p=2, reduction=reduction), [x, np.array(target)], [True, False])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_ignores_infinite_log_probabilities_of_other_classes_as_torch(reduction):
    # input * one-hot weights made 0 * -inf: a masked class (log 0) gave a NaN loss where PyTorch's is finite
    inp = np.array([[-0.5, -np.inf, -1.0], [-1.0, -2.0, np.nan], [-np.inf, -0.3, -1.0], [-0.2, -np.inf, -0.1]])
    target, weight = np.array([0, 1, -100, 1]), np.array([1.0, 2.0, 3.0])
    for kwargs in ({}, {"weight": weight}):
        a, ta = ember.tensor(inp, requires_grad=True), torch.tensor(inp, requires_grad=True)
        ours = F.nll_loss(a, ember.tensor(target), reduction=reduction,
                          **{k: ember.tensor(v) for k, v in kwargs.items()})
        theirs = torch.nn.functional.nll_loss(ta, torch.tensor(target), reduction=reduction,
                                              **{k: torch.tensor(v) for k, v in kwargs.items()})
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_ignores_masked_logits_of_other_classes_as_torch(reduction):
    # with a class weight or (N, C, d) input the one-hot labels times the log-probabilities made 0 * -inf: a masked
    # class (logit -inf) gave a NaN loss where PyTorch's is finite (mean 0.736 with the weight)
    logits = np.array([[0.5, -np.inf, 1.0], [1.0, 2.0, 0.3], [-np.inf, 0.3, -1.0], [0.2, -np.inf, -0.1]])
    target, weight = np.array([0, 1, -100, 2]), np.array([1.0, 2.0, 3.0])
    cases = [(logits, target, {"weight": weight}), (logits[None].transpose(0, 2, 1), target[None], {}),
             (logits[None].transpose(0, 2, 1), target[None], {"weight": weight})]
    for x, t, kwargs in cases:
        ours = {k: ember.tensor(v) for k, v in kwargs.items()}
        theirs = {k: torch.tensor(v) for k, v in kwargs.items()}
        _check(lambda a, t: F.cross_entropy(a, t, reduction=reduction, **ours),
               lambda a, t: TF.cross_entropy(a, t, reduction=reduction, **theirs), [x, t], [True, False])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_masked_logits_under_jit_give_torch_s_finite_loss_and_gradient(reduction):
    # eagerly the loss looked at itself and took the finite form; a traced graph cannot look, and kept the NaN of
    # -inf * 0 (class weights, (N, C, d) input, nll_loss of log_softmax): jit's loss was nan where eager's was 0.886
    logits = np.array([[0.5, -np.inf, 1.0], [1.0, 2.0, 0.3], [-np.inf, 0.3, -1.0], [0.2, -np.inf, -0.1]])
    target, weight = np.array([0, 1, -100, 2]), np.array([1.0, 2.0, 3.0])
    losses = [lambda x: F.cross_entropy(x, ember.tensor(target), ember.tensor(weight), reduction=reduction),
              lambda x: F.cross_entropy(x.t()[None], ember.tensor(target)[None], reduction=reduction),
              lambda x: F.nll_loss(F.log_softmax(x, 1), ember.tensor(target), ember.tensor(weight),
                                   reduction=reduction)]
    expected = [lambda x: TF.cross_entropy(x, torch.tensor(target), torch.tensor(weight), reduction=reduction),
                lambda x: TF.cross_entropy(x.t()[None], torch.tensor(target)[None], reduction=reduction),
                lambda x: TF.nll_loss(TF.log_softmax(x, 1), torch.tensor(target), torch.tensor(weight),
                                      reduction=reduction)]
    for ours, theirs in zip(losses, expected):
        step = ember.jit(lambda x, loss=ours: (loss(x), ember.autograd.grad(loss(x).sum(), [x])[0]))
        loss, grad = step(ember.tensor(logits, requires_grad=True))
        x = torch.tensor(logits, requires_grad=True)
        reference = theirs(x)
        reference.sum().backward()
        np.testing.assert_allclose(loss.numpy(), reference.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(grad.numpy(), x.grad.numpy(), rtol=1e-12, atol=1e-15)
    labels = np.eye(3)[[0, 1, 1, 2]]  # the fused op itself: a zero label takes no term of a -inf logit
    for total in (False, True):
        fused = ember.softmax_cross_entropy(ember.tensor(logits), ember.tensor(labels), total=total)
        picked = -TF.log_softmax(torch.tensor(logits), 1)[range(4), [0, 1, 1, 2]]
        np.testing.assert_allclose(fused.numpy(), picked.sum().item() if total else picked.numpy(), rtol=1e-12)


@pytest.mark.parametrize("logits_shape, labels_shape", [((3, 5), (1, 5)), ((3, 5), (3, 1)), ((3, 5), (5,)),
                                                         ((1, 3, 5), (3, 5))])
def test_softmax_cross_entropy_refuses_labels_that_only_broadcast_as_its_graphs_and_torch(logits_shape, labels_shape):
    # labels of shape (3, 1) for (3, 5) logits were broadcast by the eager forward (each row's label spread over
    # every class), where the op's graphs and PyTorch's cross_entropy with class probabilities refuse them
    logits, labels = np.zeros(logits_shape), np.full(labels_shape, 0.2)
    with pytest.raises((RuntimeError, ValueError)):
        TF.cross_entropy(torch.tensor(logits), torch.tensor(labels))
    for call in (ember.softmax_cross_entropy, ember.jit(ember.softmax_cross_entropy)):
        with pytest.raises(ValueError, match="softmax_cross_entropy: logits and labels must have the same shape"):
            call(ember.tensor(logits), ember.tensor(labels))


def test_a_class_weight_that_requires_grad_is_refused_with_class_indices_as_torch():
    # the one-hot weights are a constant of the targets: weight.grad stayed None after backward, silently (PyTorch
    # refuses); class probabilities take it through their product, as PyTorch's
    x, target = ember.tensor(X[:4]), ember.tensor(np.array([0, 1, 2, 1]))
    weight = ember.tensor(np.array([1.0, 2.0, 3.0, 0.5]), requires_grad=True)
    for loss in (lambda: F.cross_entropy(x, target, weight), lambda: F.nll_loss(x, target, weight),
                 lambda: F.cross_entropy(x, target, weight, label_smoothing=0.1),
                 lambda: nn.CrossEntropyLoss(weight)(x.unsqueeze(2), target.unsqueeze(1))):
        with pytest.raises(RuntimeError, match="weight is not differentiable with class-index targets"):
            loss()
        with ember.no_grad():
            loss()
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        TF.cross_entropy(torch.tensor(X[:4]), torch.tensor([0, 1, 2, 1]), torch.ones(4, requires_grad=True))
    probs = np.full((4, 4), 0.25)
    _check(lambda w: F.cross_entropy(ember.tensor(X[:4]), ember.tensor(probs), w),
           lambda w: TF.cross_entropy(torch.tensor(X[:4]), torch.tensor(probs), w), [weight.detach().numpy()], [True])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_and_nll_loss_of_unbatched_input_match_torch(reduction):
    # (C,) input with a 0-d class index (or (C,) probabilities for cross_entropy) is one sample, as in PyTorch;
    # it was refused as not (N, C, ...)
    x, probs, weight = X[1], np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 1.0, 2.0, 1.5])
    for target in (np.array(2), probs):
        for kwargs in ({}, {"label_smoothing": 0.2}):
            _check(lambda a, t: F.cross_entropy(a, t, ember.tensor(weight), reduction=reduction, **kwargs),
                   lambda a, t: TF.cross_entropy(a, t, torch.tensor(weight), reduction=reduction, **kwargs),
                   [x, target], [True, False])
    _check(lambda a, t: nn.NLLLoss(ember.tensor(weight), reduction=reduction)(a, t),
           lambda a, t: torch.nn.NLLLoss(torch.tensor(weight), reduction=reduction)(a, t),
           [x, np.array(3)], [True, False])
    ignored = F.cross_entropy(ember.tensor(x), ember.tensor(2), ignore_index=2, reduction=reduction)
    assert ignored.shape == () and np.isnan(ignored.item()) == (reduction == "mean")
    with pytest.raises(ValueError, match=r"cross_entropy: unbatched input float64\[4\] \(C,\) needs a 0-d class "
                                         r"index or \(C,\) class probabilities, got target int64\[2\]"):
        F.cross_entropy(ember.tensor(x), ember.tensor([1, 2]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_loss_takes_pytorchs_argument_order(reduction):
    # PyTorch's is (input, target, reduction, delta): F.huber_loss(x, t, "sum") failed comparing "sum" with 0,
    # and (x, t, "none", 0.5) too
    target = X[::-1].copy()
    _check(lambda a, t: F.huber_loss(a, t, reduction, 0.5), lambda a, t: TF.huber_loss(a, t, reduction, 0.5),
           [X, target], [True, True])
    _check(lambda a, t: F.huber_loss(a, t, reduction), lambda a, t: TF.huber_loss(a, t, reduction),
           [X, target], [True, True])


@pytest.mark.parametrize("name, kwargs", [("huber_loss", {}), ("huber_loss", {"delta": 2.0}),
                                          ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5})])
def test_huber_and_smooth_l1_second_derivatives_where_input_equals_target_as_torch(name, kwargs):
    # the quadratic branch squared |d|, whose gradient sign(d) is 0 at d = 0: the second derivative there was 0 where
    # the quadratic's is 1 (1 / beta), PyTorch's
    x, t = np.array([0.0, 0.3, 2.0, -1.0, 5.0]), np.array([0.0, 0.0, 1.0, -1.0, 0.0])
    (a, ta), (b, tb) = _pair(x), _pair(t)
    grads = ember.grad(getattr(F, name)(a, b, **kwargs), [a, b], create_graph=True)
    theirs = torch.autograd.grad(getattr(TF, name)(ta, tb, **kwargs), [ta, tb], create_graph=True)
    for g, tg in zip(grads, theirs):
        np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-14)
        for gg, tgg in zip(ember.grad(g.sum(), [a, b], retain_graph=True),
                           torch.autograd.grad(tg.sum(), [ta, tb], retain_graph=True)):
            np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-14)


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_functional_losses_take_the_old_flags_in_pytorchs_positions():
    # F.nll_loss(x, t, None, False) read False as ignore_index (class 0 ignored, a mean) where PyTorch sums;
    # smooth_l1_loss's third place was beta (False: an L1 loss), poisson_nll_loss's fifth eps and
    # binary_cross_entropy_with_logits's fourth pos_weight (False: the positives weighted by 0)
    logp = np.log(np.random.default_rng(3).dirichlet(np.ones(4), 5))
    classes = np.array([0, 1, 0, 3, 2])
    pairs = [
        (lambda a, t: F.nll_loss(a, t, None, False), lambda a, t: TF.nll_loss(a, t, None, False), [logp, classes]),
        (lambda a, t: F.cross_entropy(a, t, None, True, 1, False),
         lambda a, t: TF.cross_entropy(a, t, None, True, 1, False), [X, np.array([0, 1, 3, 3, 2])]),
        (lambda a, t: F.smooth_l1_loss(a, t, False), lambda a, t: TF.smooth_l1_loss(a, t, False), [X, COUNTS]),
        (lambda a, t: F.poisson_nll_loss(a, t, True, False, False),
         lambda a, t: TF.poisson_nll_loss(a, t, True, False, False), [X, COUNTS]),
        (lambda a, t: F.binary_cross_entropy_with_logits(a, t, None, False),
         lambda a, t: TF.binary_cross_entropy_with_logits(a, t, None, False), [X, COUNTS / 8]),
        (lambda a, t: F.binary_cross_entropy_with_logits(a, t, None, None, None, "none", ember.tensor(2.0)),
         lambda a, t: TF.binary_cross_entropy_with_logits(a, t, None, None, None, "none", torch.tensor(2.0)),
         [X, COUNTS / 8]),
    ]
    for ours, theirs, arrays in pairs:
        _check(ours, theirs, arrays, [True, False])
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        F.nll_loss(ember.tensor(logp), ember.tensor(classes), None, False)


def test_the_losses_trace_under_jit_with_their_gradients():
    x = ember.tensor(X.astype(np.float32), requires_grad=True)
    counts, labels = ember.tensor(COUNTS.astype(np.float32)), ember.tensor(LABEL_LISTS)
    var = ember.tensor(VARS["one_per_row"].astype(np.float32), requires_grad=True)
    classes = ember.tensor(np.array([0, 3, 1, 1, 2]))

    def total(x, var):
        return (F.poisson_nll_loss(x, counts, full=True) + F.gaussian_nll_loss(x, counts, var)
                + F.multilabel_margin_loss(x, labels) + F.multi_margin_loss(x, classes, p=2, margin=0.5)
                + F.multilabel_soft_margin_loss(x, counts / 8) + F.soft_margin_loss(x, counts - 2))

    def step(x, var):
        loss = total(x, var)
        loss.backward()
        return loss

    traced = ember.jit(step)
    for _ in range(2):
        x.grad = var.grad = None
        got = traced(x, var)
        got_grads = x.grad.numpy(), var.grad.numpy()
        x.grad = var.grad = None
        expected = step(x, var)
        np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(got_grads[0], x.grad.numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got_grads[1], var.grad.numpy(), rtol=1e-5, atol=1e-7)


ERRORS = [
    (lambda: F.poisson_nll_loss(ember.ones(3), ember.ones(3), reduction="avg"), ValueError,
     "poisson_nll_loss: reduction must be one of"),
    (lambda: F.gaussian_nll_loss(ember.ones(4, 3), ember.ones(4, 3), ember.ones(3, 3)), ValueError,
     r"gaussian_nll_loss: var of shape \[3, 3\] does not fit the input of shape \[4, 3\]"),
    (lambda: F.gaussian_nll_loss(ember.ones(4, 3), ember.ones(4, 3), -ember.ones(4)), ValueError,
     r"gaussian_nll_loss: var of shape \[4\] has negative entries"),
    (lambda: F.gaussian_nll_loss(ember.ones(4, 3), ember.ones(4, 3), -1.0), ValueError,
     "gaussian_nll_loss: var must not be negative, got -1.0"),
    (lambda: F.soft_margin_loss(ember.ones(4), ember.ones(3)), ValueError,
     r"soft_margin_loss: input of shape \[4\] and target of shape \[3\]"),
    (lambda: F.multilabel_soft_margin_loss(ember.ones(2, 4), ember.ones(2, 3)), ValueError,
     "multilabel_soft_margin_loss: input of shape"),
    (lambda: F.multilabel_margin_loss(ember.ones(2, 3), ember.tensor([[0, 3, -1], [1, -1, 0]])), ValueError,
     r"multilabel_margin_loss: target holds a class index outside \[-1, 3\)"),
    (lambda: F.multilabel_margin_loss(ember.ones(2, 3), ember.ones(2, 3)), TypeError,
     "multilabel_margin_loss: target must hold integer class indices, got dtype float32"),
    (lambda: F.multilabel_margin_loss(ember.ones(2, 3, 2), ember.tensor(np.zeros((2, 3, 2), int))), ValueError,
     r"multilabel_margin_loss: input and target must be \(C\) or \(N, C\)"),
    (lambda: F.multi_margin_loss(ember.ones(2, 3), ember.tensor([0, 1]), p=3), ValueError,
     "multi_margin_loss: p must be 1 or 2, got 3"),
    (lambda: F.multi_margin_loss(ember.ones(2, 3), ember.tensor([0, 3])), ValueError,
     r"multi_margin_loss: target holds a class index outside \[0, 3\)"),
    (lambda: F.multi_margin_loss(ember.ones(2, 3), ember.tensor([0, 1, 1])), ValueError,
     r"multi_margin_loss: input must be \(N, C\) or \(C\) and target \(N\) or \(\), got \[2, 3\] and \[3\]"),
    (lambda: F.multi_margin_loss(ember.ones(2, 3), ember.tensor([0, 1]), weight=ember.ones(2)), ValueError,
     r"multi_margin_loss: weight must be one number a class, shape \[3\], got \[2\]"),
    # a weight longer than the classes was read by class index, its extra entries ignored
    (lambda: F.cross_entropy(ember.ones(2, 3), ember.tensor([0, 2]), weight=ember.ones(4)), ValueError,
     r"cross_entropy: weight must have one entry per class, shape \[3\] for input float32\[2, 3\], got "
     r"float32\[4\]"),
    (lambda: F.cross_entropy(ember.ones(2, 3, 2), ember.tensor([[0, 2], [1, 1]]), weight=ember.ones(1, 3)),
     ValueError, r"cross_entropy: weight must have one entry per class"),
    (lambda: F.cross_entropy(ember.ones(2, 3), ember.ones(2, 3), weight=ember.ones(2)), ValueError,
     r"cross_entropy: weight must have one entry per class"),
    (lambda: nn.NLLLoss(weight=ember.ones(5))(ember.ones(2, 3), ember.tensor([0, 1])), ValueError,
     r"nll_loss: weight must have one entry per class, shape \[3\]"),
    (lambda: F.huber_loss(ember.ones(3), ember.zeros(3), delta=0.0), ValueError,
     "huber_loss: delta must be positive, got 0.0"),
    (lambda: nn.HuberLoss(delta=-1.0)(ember.ones(3), ember.zeros(3)), ValueError,
     "huber_loss: delta must be positive, got -1.0"),
    (lambda: nn.SmoothL1Loss(beta=-0.5)(ember.ones(3), ember.zeros(3)), ValueError,
     "smooth_l1_loss: beta must not be negative, got -0.5"),
    (lambda: nn.MultiMarginLoss(p=0), ValueError, "MultiMarginLoss: p must be 1 or 2, got 0"),
    (lambda: nn.GaussianNLLLoss(reduction="batchmean"), ValueError, "GaussianNLLLoss: reduction must be one of"),
]


@pytest.mark.parametrize("call,error,message", ERRORS)
def test_bad_arguments_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_binary_cross_entropy_with_logits_keeps_the_exponential_tail_of_confident_logits():
    # softplus's linear branch past 20 dropped exp(-|x|): a confidently right logit's loss was 0 or 5% off (its
    # gradient too)
    x = np.array([-800.0, -100.0, -30.0, -28.1, -21.0, -20.0, 0.0, 21.0, 30.0, 100.0])
    for target in (np.zeros_like(x), np.ones_like(x), np.full_like(x, 0.3)):
        for pos_weight in (None, np.linspace(0.5, 2.0, x.size)):
            _check(lambda a, t: F.binary_cross_entropy_with_logits(
                       a, t, reduction="none", pos_weight=None if pos_weight is None else ember.tensor(pos_weight)),
                   lambda a, t: TF.binary_cross_entropy_with_logits(
                       a, t, reduction="none", pos_weight=None if pos_weight is None else torch.tensor(pos_weight)),
                   [x, target], [True, True], rtol=1e-12, atol=1e-15)  # (the gradients cancel to 1e-16)

"""Class-index cross-entropy in eager mode: the loss's forward keeps its softmax parts (the op's ``residuals``) and
the gradient reuses them; every reduction, ignore_index and dtype gives what recomputing them gives, and PyTorch's
numbers."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.ops.loss import SPARSE_XENT, SPARSE_XENT_GRAD

RNG = np.random.default_rng(3)
LOGITS = (RNG.standard_normal((7, 5)) * 3).astype(np.float32)
TARGETS = np.array([0, 4, 1, 2, 2, 3, 1])
SOME_IGNORED = np.array([0, -100, 1, 2, -100, 3, 1])


def _recomputed_gradient(logits, target, upstream, **attrs):
    """The gradient op's forward without the loss's residuals (what a graph's backward computes)."""
    return SPARSE_XENT_GRAD.forward(np, logits, target, upstream, **attrs)


def _upstream(reduction: str, dtype) -> np.ndarray:
    if reduction == "none":
        return RNG.uniform(0.5, 2.0, len(TARGETS)).astype(dtype)
    return np.array(1.5, dtype)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("targets", [TARGETS, SOME_IGNORED], ids=["all", "some_ignored"])
def test_eager_gradient_from_the_saved_softmax_equals_the_recomputed_one_and_pytorch(reduction, targets):
    x = ember.tensor(LOGITS, requires_grad=True)
    loss = ember.cross_entropy(x, ember.tensor(targets), reduction=reduction)
    assert loss.node.op is SPARSE_XENT and loss.node.residuals is not None
    upstream = _upstream(reduction, np.float32)
    loss.backward(ember.tensor(upstream))
    assert loss.node.residuals is None  # freed with the rest of the graph
    expected = _recomputed_gradient(LOGITS, targets, upstream, ignore_index=-100, reduction=reduction)
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    np.testing.assert_array_equal(loss.detach().numpy(),
                                  SPARSE_XENT.forward(np, LOGITS, targets, ignore_index=-100, reduction=reduction))
    torch = pytest.importorskip("torch")
    xt = torch.tensor(LOGITS, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(xt, torch.tensor(targets), reduction=reduction)
    reference.backward(torch.tensor(upstream))
    np.testing.assert_allclose(loss.detach().numpy(), reference.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_every_target_ignored_gives_a_zero_gradient(reduction):
    x = ember.tensor(LOGITS, requires_grad=True)
    loss = ember.cross_entropy(x, ember.tensor(np.full(len(TARGETS), 7)), ignore_index=7, reduction=reduction)
    loss.sum().backward()
    assert not x.grad.numpy().any()
    if reduction == "mean":
        assert np.isnan(loss.item())  # 0 / 0, as in PyTorch
    else:
        assert not loss.detach().numpy().any()


@pytest.mark.parametrize("loss_fn", [
    lambda x, t: ember.nll_loss(ember.log_softmax(x, axis=1), t),
    lambda x, t: ember.cross_entropy(x, t, weight=ember.ones(5)),
    lambda x, t: ember.cross_entropy(x, t, label_smoothing=0.1),
    lambda x, t: ember.cross_entropy(ember.unsqueeze(x, 2), ember.unsqueeze(t, 1)),
], ids=["nll_loss", "weighted", "label_smoothing", "3d"])
def test_every_target_ignored_gives_nan_and_a_zero_gradient_on_every_path(loss_fn):
    x = ember.tensor(LOGITS, requires_grad=True)
    loss = loss_fn(x, ember.tensor(np.full(len(TARGETS), -100)))
    loss.backward()
    assert np.isnan(loss.item())  # 0 / 0, as in PyTorch
    assert not x.grad.numpy().any()
    partly = loss_fn(ember.tensor(LOGITS), ember.tensor(SOME_IGNORED))
    assert np.isfinite(partly.item())


def test_a_retained_graph_reuses_the_saved_softmax_unchanged():
    x = ember.tensor(LOGITS, requires_grad=True)
    loss = ember.cross_entropy(x, ember.tensor(TARGETS))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first + first)


def test_nothing_is_saved_when_nothing_is_recorded():
    x = ember.tensor(LOGITS)
    assert ember.cross_entropy(x, ember.tensor(TARGETS)).node is None
    with ember.no_grad():
        assert ember.cross_entropy(ember.tensor(LOGITS, requires_grad=True), ember.tensor(TARGETS)).node is None


def test_second_derivatives_through_the_saved_softmax_match_the_graph():
    x = ember.tensor(LOGITS, requires_grad=True)
    (g,) = ember.grad(ember.cross_entropy(x, ember.tensor(TARGETS)), x, create_graph=True)
    (gg,) = ember.grad((g * g).sum(), x)

    def second(logits):
        (first,) = ember.grad(ember.cross_entropy(logits, ember.tensor(TARGETS)), logits, create_graph=True)
        return ember.grad((first * first).sum(), logits)[0]

    compiled = ember.jit(second)(ember.tensor(LOGITS, requires_grad=True))
    np.testing.assert_allclose(gg.numpy(), compiled.numpy(), rtol=1e-5, atol=1e-7)
    eps, flat = 1e-3, LOGITS.astype(np.float64).reshape(-1)
    probe = RNG.standard_normal(flat.shape)

    def first_grad_sq(v):
        z = v.reshape(LOGITS.shape)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(TARGETS)), TARGETS] -= 1
        return ((p / len(TARGETS)) ** 2).sum()

    slope = (first_grad_sq(flat + eps * probe) - first_grad_sq(flat - eps * probe)) / (2 * eps)
    np.testing.assert_allclose(float(gg.numpy().reshape(-1) @ probe), slope, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16])
def test_half_precision_logits_keep_float32_parts_and_round_once(dtype):
    x = ember.tensor(LOGITS).to(dtype).requires_grad_()
    loss = ember.cross_entropy(x, ember.tensor(TARGETS))
    assert loss.dtype == x.dtype and loss.node.residuals[0].dtype == np.float32
    loss.backward()
    low = x.detach().numpy()
    np.testing.assert_array_equal(loss.detach().numpy(),
                                  SPARSE_XENT.forward(np, low, TARGETS, ignore_index=-100, reduction="mean"))
    np.testing.assert_array_equal(
        x.grad.numpy(), _recomputed_gradient(low, TARGETS, np.array(1, low.dtype), ignore_index=-100, reduction="mean"))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float16])
def test_transposed_logits_get_the_gradient_of_contiguous_ones(reduction, dtype):
    # the gradient subtracted one at the targets through a reshape of the softmax, which copied a transposed
    # (Fortran-ordered) one: every target entry kept p for p - 1 (a mean over 5 rows: 0.028 where PyTorch's is
    # -0.172), on the saved and the recomputed path alike
    upstream = _upstream(reduction, np.float32)
    grads = []
    for logits in (ember.tensor(LOGITS.T.copy()).to(dtype).T, ember.tensor(LOGITS).to(dtype)):
        x = logits.detach().requires_grad_()
        loss = ember.cross_entropy(x * 1.0, ember.tensor(SOME_IGNORED), reduction=reduction)
        loss.backward(ember.tensor(upstream).to(dtype))
        grads.append(x.grad.numpy())
        recomputed = _recomputed_gradient(logits.detach().numpy(), SOME_IGNORED, upstream.astype(grads[-1].dtype),
                                          ignore_index=-100, reduction=reduction)
        np.testing.assert_array_equal(recomputed, grads[-1])
    np.testing.assert_array_equal(grads[0], grads[1])

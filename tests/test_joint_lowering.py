"""Class-index softmax cross-entropy: its loss and gradient ops, and the ``joint`` lowering that computes both
in one call sharing the softmax (op rows in tests/op_cases.py check them against NumPy and finite differences)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import ember
from ember.ops.loss import SPARSE_XENT_GRAD, _sparse_xent_joint
from ember.ops.xent_kernel import SparseXentKernel

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((6, 4)).astype(np.float32) * 3
TARGETS = np.array([0, 3, 1, 2, 2, 1])


def _sources(monkeypatch) -> list:
    jit_module = sys.modules["ember.jit"]
    made = []
    real = jit_module.compile_graph
    monkeypatch.setattr(jit_module, "compile_graph", lambda *a: made.append(real(*a)) or made[-1])
    return made


def _joint_calls(compiled) -> int:
    """Calls computing the loss and its gradient together: the joint forward, or a kernel made for the shapes."""
    closure = [c.cell_contents for c in compiled.fn.__closure__ or ()]
    return sum(getattr(o, "func", None) is _sparse_xent_joint
               or getattr(o, "__self__", None).__class__ is SparseXentKernel for o in closure)


def _loss_and_grad(reduction, ignore_index):
    def run(x, t):
        loss = ember.cross_entropy(x, t, ignore_index=ignore_index, reduction=reduction)
        (g,) = ember.grad(loss.sum() if reduction == "none" else loss, x)
        return loss, g
    return run


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_loss_and_gradient_in_one_call_equal_the_two_ops_bit_for_bit(monkeypatch, reduction, ignore_index):
    made = _sources(monkeypatch)
    fn = _loss_and_grad(reduction, ignore_index)
    x, t = ember.tensor(LOGITS, requires_grad=True), ember.tensor(TARGETS)
    loss, grad = ember.jit(fn)(x, t)
    expected_loss, expected_grad = fn(x, t)  # eager: the loss op's forward, then the gradient op's
    assert _joint_calls(made[-1]) == 1
    np.testing.assert_array_equal(loss.numpy(), expected_loss.detach().numpy())
    np.testing.assert_array_equal(grad.numpy(), expected_grad.detach().numpy())
    import torch

    xt = torch.tensor(LOGITS, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(xt, torch.tensor(TARGETS), ignore_index=ignore_index,
                                                  reduction=reduction)
    (reference.sum() if reduction == "none" else reference).backward()
    np.testing.assert_allclose(loss.numpy(), reference.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_an_upstream_gradient_computed_after_the_loss_keeps_two_calls(monkeypatch):
    made = _sources(monkeypatch)

    def fn(x, t):
        loss = ember.cross_entropy(x, t)
        (g,) = ember.grad(loss * loss, x)  # the loss's gradient is 2 * loss: known only once the loss is
        return g

    x, t = ember.tensor(LOGITS, requires_grad=True), ember.tensor(TARGETS)
    got = ember.jit(fn)(x, t)
    assert _joint_calls(made[-1]) == 0
    np.testing.assert_array_equal(got.numpy(), fn(x, t).detach().numpy())


def test_class_targets_are_checked_with_the_op_named():
    x = ember.tensor(LOGITS)
    with pytest.raises(IndexError, match=r"sparse_softmax_cross_entropy: target values must lie in \[0, 4\)"):
        ember.cross_entropy(x, ember.tensor([0, 1, 2, 3, 4, 0]))
    with pytest.raises(IndexError, match="got \\[-1\\]"):
        ember.cross_entropy(x, ember.tensor([0, 1, 2, 3, -1, 0]))
    with pytest.raises(ValueError, match=r"target of shape \[6\]"):
        ember.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"upstream gradient must be float32\[\]"):
        SPARSE_XENT_GRAD.infer(*[ember.ops.registry.Spec(a.shape, a.dtype) for a in (LOGITS, TARGETS)],
                               ember.ops.registry.Spec((6,), np.dtype(np.float32)), ignore_index=-100,
                               reduction="mean")


def test_every_target_ignored_gives_nan_as_in_pytorch():
    x = ember.tensor(LOGITS, requires_grad=True)
    loss = ember.cross_entropy(x, ember.tensor(np.full(6, -100)))
    loss.backward()
    assert np.isnan(loss.item()) and not x.grad.numpy().any()

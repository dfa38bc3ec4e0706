"""ember.cond, ember.while_loop and ember.vmap against torch.cond, torch.while_loop and torch.vmap; cond under
ember.jit (both branches traced, the result selected) and while_loop's refusal there."""

import collections
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")


def _branches(lib):
    return (lambda a, b: (a * b, {"s": (a * a).sum()}), lambda a, b: (a - b, {"s": a.sum() * 3.0}))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cond_runs_one_branch_eagerly_with_torchs_values_and_gradients(sign):
    data = np.array([1.0, 2.0, 3.0]) * sign
    x, tx = ember.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y, ty = ember.tensor([0.5, 1.5, 2.0], requires_grad=True), torch.tensor([0.5, 1.5, 2.0], requires_grad=True)
    ours = ember.cond(x.sum() > 0, *_branches(ember), (x, y))
    theirs = torch.cond(tx.sum() > 0, *_branches(torch), (tx, ty))
    np.testing.assert_allclose(ours[0].detach().numpy(), theirs[0].detach().numpy())
    (ours[0].sum() + ours[1]["s"]).backward()
    (theirs[0].sum() + theirs[1]["s"]).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy())


def test_cond_takes_python_predicates_and_refuses_bad_ones():
    x = ember.ones(2)
    assert ember.cond(False, lambda a: a + 1, lambda a: a - 1, [x]).tolist() == [0.0, 0.0]
    assert ember.cond(ember.tensor([1.0]), lambda a: a + 1, lambda a: a - 1, (x,)).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match=r"cond: pred must be a bool or a one-element tensor, got a tensor of shape "
                                         r"\[2\]"):
        ember.cond(ember.tensor([True, False]), lambda a: a, lambda a: a, (x,))
    with pytest.raises(TypeError, match="cond: operands must be a tuple or list"):
        ember.cond(True, lambda a: a, lambda a: a, x)


def test_cond_under_jit_traces_both_branches_and_selects_per_call():
    ember.manual_seed(0)
    w = nn.Parameter(ember.tensor([0.5, -1.0, 2.0]))

    def step(x):
        loss = ember.cond(x.sum() > 0, lambda a: (a * w).sum(), lambda a: (a * w * w).sum(), (x,))
        loss.backward()
        return loss

    fast = ember.jit(step)
    for data in ([1.0, 2.0, 3.0], [-1.0, -2.0, 0.5], [4.0, 0.0, 1.0]):
        w.grad = None
        loss = fast(ember.tensor(data))
        grad = w.grad.numpy().copy()
        w.grad = None
        expected = step(ember.tensor(data))
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-6)
        np.testing.assert_allclose(grad, w.grad.numpy(), rtol=1e-6)
    assert fast.traces == 1


def test_cond_under_jit_keeps_named_tuples():
    Pair = collections.namedtuple("Pair", "low high")
    traced = ember.jit(lambda x: ember.cond(x.sum() > 0, lambda a: Pair(a - 1, a + 1), lambda a: Pair(a, a), (x,)))
    result = traced(ember.ones(2))
    assert type(result).__name__ == "Pair" and result.high.tolist() == [2.0, 2.0]
    assert traced(-ember.ones(2)).low.tolist() == [-1.0, -1.0]


def test_cond_under_jit_refuses_branches_of_different_shapes_or_structures():
    shapes = ember.jit(lambda x: ember.cond(x.sum() > 0, lambda a: a, lambda a: a.sum(), (x,)))
    with pytest.raises(ValueError, match=r"cond: under ember.jit both branches must give tensors of one shape and "
                                         r"dtype; result 0 is \[3\] float32 in true_fn and \[\] float32 in false_fn"):
        shapes(ember.ones(3))
    structures = ember.jit(lambda x: ember.cond(x.sum() > 0, lambda a: (a, a), lambda a: a, (x,)))
    with pytest.raises(ValueError, match="cond: under ember.jit both branches must return the same structure"):
        structures(ember.ones(3))


def test_while_loop_matches_torch_and_refuses_traced_conditions():
    ours = ember.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2), (ember.tensor(0), ember.ones(2)))
    theirs = torch.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2), (torch.tensor(0), torch.ones(2)))
    assert isinstance(ours, tuple) and ours[0].item() == theirs[0].item() == 3
    assert ours[1].tolist() == theirs[1].tolist() == [8.0, 8.0]
    with pytest.raises(ValueError, match=r"while_loop: body_fn changed carried input 0 from \[2\] float32 to \[4\]"):
        ember.while_loop(lambda a: a.sum() < 10, lambda a: ember.cat([a, a]), (ember.ones(2),))
    traced = ember.jit(lambda x: ember.while_loop(lambda a: a.sum() < 10, lambda a: (a * 2,), (x,))[0])
    with pytest.raises(TypeError, match="while_loop: under ember.jit the loop's condition depends on traced values"):
        traced(ember.ones(2))
    fixed = ember.jit(lambda x: ember.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2), (0, x))[1])
    assert fixed(ember.ones(2)).tolist() == [8.0, 8.0]  # a Python counter unrolls


def test_vmap_is_func_vmap_and_keeps_ember_func_lazy():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ours = ember.vmap(ember.dot)(ember.tensor(x), ember.tensor(x))
    theirs = torch.vmap(torch.dot)(torch.tensor(x), torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ember.vmap(lambda r: r * 2, in_dims=1, out_dims=1)(ember.tensor(x)).numpy(), x * 2)
    code = "import sys, ember; ember.vmap; assert 'ember.func' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_cond_under_jit_refuses_a_branch_that_writes_in_place():
    # both traced branches run: a batch norm's running statistics were updated whichever branch the predicate
    # chose (eagerly only the chosen one runs), as torch.cond refuses input mutation
    bn = ember.nn.BatchNorm1d(3)
    x = ember.randn(4, 3)
    stepped = ember.jit(lambda x, flag: ember.cond(flag, lambda a: bn(a), lambda a: a * 1.0, (x,)))
    with pytest.raises(ValueError, match=r"under ember.jit both branches run, and true_fn writes .*running_stats"):
        stepped(x, ember.tensor(False))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3))
    bn.eval()  # no write in evaluation mode: traced as any branch
    np.testing.assert_allclose(stepped(x, ember.tensor(True)).detach().numpy(), bn(x).detach().numpy(), rtol=1e-6)

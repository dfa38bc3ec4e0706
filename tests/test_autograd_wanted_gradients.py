"""A backward for some inputs only (``ember.grad(out, x)``, ``backward(inputs=...)``) asks each node's vjp only
for the gradients that lead to them, as PyTorch decides at backward time: a rule that refuses one input's gradient
(zeta's exponent, igamma's a, betainc's a and b) still gives the others, and nodes off the way are not run."""

import numpy as np
import pytest

import ember

S, Q = [2.5, 3.0, 4.5], [1.5, 2.0, 0.75]


def _pair(lib, dtype):
    return lib.tensor(S, dtype=dtype, requires_grad=True), lib.tensor(Q, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("name", ["zeta", "gammainc", "gammaincc"])
def test_grad_for_the_differentiable_input_alone_matches_torch(name):
    torch = pytest.importorskip("torch")
    s, q = _pair(ember, ember.float64)
    ts, tq = _pair(torch, torch.float64)
    fn = getattr(ember.special, name)
    (ours,) = ember.autograd.grad(fn(s, q).sum(), q)
    (theirs,) = torch.autograd.grad(getattr(torch.special, name)(ts, tq).sum(), tq)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
    fn(s, q).sum().backward(inputs=[q])
    np.testing.assert_allclose(q.grad.numpy(), theirs.numpy(), rtol=1e-10)
    assert s.grad is None


def test_second_order_gradient_of_zeta_for_q_matches_torch():
    torch = pytest.importorskip("torch")
    s, q = _pair(ember, ember.float64)
    ts, tq = _pair(torch, torch.float64)
    (g,) = ember.autograd.grad(ember.special.zeta(s, q).sum(), q, create_graph=True)
    (tg,) = torch.autograd.grad(torch.special.zeta(ts, tq).sum(), tq, create_graph=True)
    (ours,) = ember.autograd.grad((g * g).sum(), q)
    (theirs,) = torch.autograd.grad((tg * tg).sum(), tq)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9)


def test_the_refusal_stays_where_the_refused_gradient_is_wanted():
    s, q = _pair(ember, ember.float64)
    match = r"zeta: the gradient for x \(the exponent\) is not implemented"
    with pytest.raises(NotImplementedError, match=match):
        ember.special.zeta(s, q).sum().backward()  # every leaf's gradient
    with pytest.raises(NotImplementedError, match=match):
        ember.autograd.grad(ember.special.zeta(s, q).sum(), [s, q])
    with pytest.raises(NotImplementedError, match=match):
        ember.special.zeta(s, q).sum().backward(inputs=[s])
    with pytest.raises(NotImplementedError, match=r"igamma: the gradient for a \(the first input\)"):
        ember.autograd.grad(ember.special.gammainc(s, q).sum(), s)
    # through another node: s * 2 leads to s, so its gradient is still asked of zeta
    with pytest.raises(NotImplementedError, match=match):
        ember.autograd.grad(ember.special.zeta(s * 2, q).sum(), s)


def test_betainc_gradient_for_x_alone_is_the_beta_density():
    stats = pytest.importorskip("scipy.stats")
    a = ember.tensor([1.5, 2.0], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([3.0, 0.5], dtype=ember.float64, requires_grad=True)
    x = ember.tensor([0.3, 0.8], dtype=ember.float64, requires_grad=True)
    (ours,) = ember.autograd.grad(ember.special.betainc(a, b, x).sum(), x)
    np.testing.assert_allclose(ours.numpy(), stats.beta.pdf([0.3, 0.8], [1.5, 2.0], [3.0, 0.5]), rtol=1e-10)
    with pytest.raises(NotImplementedError, match=r"betainc: the gradient for a and b is not implemented"):
        ember.autograd.grad(ember.special.betainc(a, b, x).sum(), [b, x])


def test_hooks_off_the_way_to_the_requested_inputs_do_not_run_as_torch():
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (ember, torch):
        calls = seen[lib.__name__] = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([3.0, 4.0], requires_grad=True)
        a, b = x * 2, y * 3
        a.register_hook(lambda g, calls=calls: calls.append("a"))
        b.register_hook(lambda g, calls=calls: calls.append("b"))
        (gy,) = lib.autograd.grad((a * b).sum(), y, retain_graph=True)
        np.testing.assert_allclose(gy.detach().numpy(), [6.0, 12.0])
        (a * b).sum().backward(inputs=[y])
        assert x.grad is None
    assert seen["ember"] == seen["torch"] == ["b", "b"]


def test_graph_gradients_for_q_alone_under_jit():
    s, q = _pair(ember, ember.float64)
    (expected,) = ember.autograd.grad(ember.special.zeta(s, q).sum(), q)

    def for_q(s, q):
        return ember.autograd.grad(ember.special.zeta(s, q).sum(), q)[0]

    def for_both(s, q):
        ember.special.zeta(s, q).sum().backward()
        return q.grad

    np.testing.assert_allclose(ember.jit(for_q)(s, q).numpy(), expected.numpy(), rtol=1e-12)
    with pytest.raises(NotImplementedError, match=r"zeta: the gradient for x"):
        ember.jit(for_both)(s, q)

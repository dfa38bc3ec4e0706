"""``ember.autograd.Function`` against ``torch.autograd.Function``: one Function written once for both libraries,
its values and gradients to second order, its Jacobians and vector products, and a small model trained with it."""

import numpy as np
import pytest
from parity_helpers import copy_to_torch
from parity_helpers import same_nest as _same

import ember
import ember.autograd.functional as EF
from ember import nn

torch = pytest.importorskip("torch")
TF = pytest.importorskip("torch.autograd.functional")


def _function(lib):
    """The same custom Function for ``lib`` (ember or torch): a scaled softsign and a sum of squares."""

    class Softsign(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * x / (1 + x.abs()), (x * x).sum()

        @staticmethod
        def backward(ctx, g, g_squares):
            (x,) = ctx.saved_tensors
            return ctx.scale * g / (1 + x.abs()) ** 2 + 2 * g_squares * x, None

    return Softsign


OURS, THEIRS = _function(ember), _function(torch)


def _both(*arrays, grad=False):
    return (tuple(ember.tensor(a, requires_grad=grad) for a in arrays),
            tuple(torch.tensor(a, requires_grad=grad) for a in arrays))


RNG = np.random.default_rng(0)
A, B = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
VA, VB = RNG.standard_normal((2, 3)), RNG.standard_normal(3)


def test_a_function_matches_pytorch_to_second_order():
    (x,), (tx,) = _both(A, grad=True)
    y, squares = OURS.apply(x, 0.5)
    ty, tsquares = THEIRS.apply(tx, 0.5)
    _same(y, ty)
    _same(squares, tsquares)
    w = RNG.standard_normal((2, 3))
    (g,) = ember.grad((y * ember.tensor(w)).sum() + squares * 3, x, create_graph=True)
    (tg,) = torch.autograd.grad((ty * torch.tensor(w)).sum() + tsquares * 3, tx, create_graph=True)
    _same(g, tg)
    (gg,) = ember.grad((g * g).sum(), x)
    (tgg,) = torch.autograd.grad((tg * tg).sum(), tx)
    _same(gg, tgg)


def test_a_function_trains_as_in_pytorch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 8), nn.Linear(8, 1)

        def forward(self, x):
            h, squares = OURS.apply(self.a(x), 2.0)
            return self.b(h), squares

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(3, 8), torch.nn.Linear(8, 1)

        def forward(self, x):
            h, squares = THEIRS.apply(self.a(x), 2.0)
            return self.b(h), squares

    ember.manual_seed(0)
    net, tnet = Net(), TorchNet()
    copy_to_torch(net, tnet)
    opt, topt = ember.optim.SGD(net.parameters(), lr=0.05), torch.optim.SGD(tnet.parameters(), lr=0.05)
    x = RNG.standard_normal((16, 3)).astype(np.float32)
    y = x.sum(1, keepdims=True).astype(np.float32)
    for _ in range(5):
        out, squares = net(ember.tensor(x))
        loss = ember.mse_loss(out, ember.tensor(y)) + 1e-3 * squares
        tout, tsquares = tnet(torch.tensor(x))
        tloss = torch.nn.functional.mse_loss(tout, torch.tensor(y)) + 1e-3 * tsquares
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        _same(loss, tloss, rtol=1e-5, atol=1e-6)
    for (name, p), tp in zip(net.named_parameters(), tnet.parameters()):
        _same(p, tp, rtol=1e-5, atol=1e-6, where=name)


def test_jacobian_of_a_custom_function():
    (a,), (ta,) = _both(A)
    _same(EF.jacobian(lambda x: OURS.apply(x, 3.0), a), TF.jacobian(lambda x: THEIRS.apply(x, 3.0), ta))


def test_vector_products_of_a_custom_function():
    (a, va), (ta, tva) = _both(A, VA)
    for name in ("vjp", "jvp"):
        _same(getattr(EF, name)(lambda x: OURS.apply(x, 0.5)[0], a, va),
              getattr(TF, name)(lambda x: THEIRS.apply(x, 0.5)[0], ta, tva), where=name)


def _with_jvp(lib):
    """A Function whose ``jvp`` (3 x^2 t for x^3) disagrees with its backward (a surrogate 2 x g, as a
    straight-through-style estimator has): forward mode must run the ``jvp``, reverse mode the backward."""

    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x ** 3 * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x * ctx.k, None

        @staticmethod
        def jvp(ctx, tx, tk):
            (x,) = ctx.saved_tensors
            return tx * 3 * x ** 2 * ctx.k

    return Cube


def test_forward_mode_runs_a_functions_jvp():
    (a, va), (ta, tva) = _both(A, VA)
    ours, theirs = _with_jvp(ember), _with_jvp(torch)
    _same(ember.func.jvp(lambda x: ours.apply(x, 2.0).sin(), (a,), (va,)),
          torch.func.jvp(lambda x: theirs.apply(x, 2.0).sin(), (ta,), (tva,)), where="func.jvp")
    with ember.autograd.forward_ad.dual_level(), torch.autograd.forward_ad.dual_level():
        got = ember.autograd.forward_ad.unpack_dual(ours.apply(ember.autograd.forward_ad.make_dual(a, va), 2.0))
        want = torch.autograd.forward_ad.unpack_dual(theirs.apply(torch.autograd.forward_ad.make_dual(ta, tva), 2.0))
        _same(got.tangent, want.tangent, where="forward_ad")
    # reverse over forward: the jvp's own ops differentiate
    _same(ember.func.grad(lambda x: ember.func.jvp(lambda y: ours.apply(y, 2.0), (x,), (va,))[1].sum())(a),
          torch.func.grad(lambda x: torch.func.jvp(lambda y: theirs.apply(y, 2.0), (x,), (tva,))[1].sum())(ta),
          where="grad of jvp")
    a = a.detach().requires_grad_()
    ours.apply(a, 2.0).sum().backward()
    _same(a.grad, 4 * a.detach(), where="backward")


def test_a_jvp_giving_the_wrong_tangents_is_refused():
    """A jvp's tangent of another shape was an error about grad's gradient (not naming the Function), and too few
    tangents gave zeros silently."""

    class Twice(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, t):
            return t[:2] * 2

    class NoTangent(Twice):
        @staticmethod
        def jvp(ctx, t):
            return ()

    with pytest.raises(RuntimeError, match=r"Twice.jvp returned a tangent of shape \[2\] for output 0 of shape \[3\]"):
        ember.func.jvp(Twice.apply, (ember.ones(3),), (ember.ones(3),))
    with pytest.raises(RuntimeError, match="NoTangent.jvp returned 0 tangents for the 1 outputs"):
        ember.func.jvp(NoTangent.apply, (ember.ones(3),), (ember.ones(3),))

"""``ember.autograd.functional`` against PyTorch's: jacobian, hessian, vjp, jvp, hvp and vhp, with their nesting of
tuples, create_graph, strict mode and errors; ``ember.autograd.grad``'s arguments."""

import numpy as np
import pytest
from parity_helpers import same_nest as _same

import ember
import ember.autograd.functional as EF

torch = pytest.importorskip("torch")
TF = pytest.importorskip("torch.autograd.functional")


def _both(*arrays, grad=False):
    return (tuple(ember.tensor(a, requires_grad=grad) for a in arrays),
            tuple(torch.tensor(a, requires_grad=grad) for a in arrays))


RNG = np.random.default_rng(0)
A, B = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
VA, VB = RNG.standard_normal((2, 3)), RNG.standard_normal(3)


def _two(lib):
    return lambda x, y: ((x * y).tanh(), (x ** 2).sum(1))


def _scalar(x, y):
    return (x * y).sin().sum() * y.sum()


@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_nests_and_values_as_pytorch(create_graph):
    (a, b), (ta, tb) = _both(A, B)
    _same(EF.jacobian(_two(ember), (a, b), create_graph=create_graph),
          TF.jacobian(_two(torch), (ta, tb), create_graph=create_graph))
    _same(EF.jacobian(lambda x: x.exp(), a, create_graph=create_graph),
          TF.jacobian(lambda x: x.exp(), ta, create_graph=create_graph))
    _same(EF.jacobian(lambda x: (x.sin(), x.sum()), b), TF.jacobian(lambda x: (x.sin(), x.sum()), tb))
    _same(EF.jacobian(_two(ember), (a, b), vectorize=True, strategy="forward-mode"),
          TF.jacobian(_two(torch), (ta, tb), vectorize=True, strategy="forward-mode"))


@pytest.mark.parametrize("create_graph", [False, True])
def test_hessian_nests_and_values_as_pytorch(create_graph):
    (a, b), (ta, tb) = _both(A, B)
    _same(EF.hessian(_scalar, (a, b), create_graph=create_graph),
          TF.hessian(_scalar, (ta, tb), create_graph=create_graph))
    _same(EF.hessian(lambda x: (x ** 3).sum(), b), TF.hessian(lambda x: (x ** 3).sum(), tb))


def test_create_graph_results_differentiate_back_to_the_inputs():
    (b,), (tb,) = _both(B, grad=True)
    hess = EF.hessian(lambda x: (x ** 4).sum(), b, create_graph=True)
    thess = TF.hessian(lambda x: (x ** 4).sum(), tb, create_graph=True)
    _same(hess, thess)
    (g,) = ember.grad(hess.sum(), b)
    (tg,) = torch.autograd.grad(thess.sum(), tb)
    _same(g, tg)


@pytest.mark.parametrize("name", ["jacobian", "vjp", "hvp"])
def test_create_graph_keeps_a_closure_over_the_input_apart_from_the_argument(name):
    (b, vb), (tb, tvb) = _both(B, VB, grad=True)

    def outer(lib, x, v):
        fn = getattr(EF if lib is ember else TF, name)
        if name == "jacobian":
            return fn(lambda y: x * y ** 2, x, create_graph=True).sum()
        if name == "vjp":
            return fn(lambda y: x * y ** 2, x, v, create_graph=True)[1].sum()
        return fn(lambda y: (x * y ** 3).sum(), x, v, create_graph=True)[1].sum()

    (g,) = ember.grad(outer(ember, b, vb), b)
    (tg,) = torch.autograd.grad(outer(torch, tb, tvb), tb)
    _same(g, tg)  # jacobian: 4x (6x when the argument aliased the closure's x)


@pytest.mark.parametrize("name", ["vjp", "jvp"])
def test_vjp_and_jvp_as_pytorch(name):
    (a, b, va, vb, ones), (ta, tb, tva, tvb, tones) = _both(A, B, VA, VB, np.ones(2))
    ours, theirs = getattr(EF, name), getattr(TF, name)
    v, tv = ((va, ones), (tva, tones)) if name == "vjp" else ((va, vb), (tva, tvb))
    _same(ours(_two(ember), (a, b), v), theirs(_two(torch), (ta, tb), tv))
    _same(ours(lambda x: x.exp() * 2, a, va), theirs(lambda x: x.exp() * 2, ta, tva))
    _same(ours(_two(ember), (a, b), v, create_graph=True), theirs(_two(torch), (ta, tb), tv, create_graph=True))


def test_jvp_and_hvp_through_logcumsumexp():
    # its gradient rule takes log |g|: a double-vjp at a zero cotangent gave zeros (PyTorch's jvp gives NaN here,
    # so torch.func's forward mode is the reference)
    (a, va), (ta, tva) = _both(A, VA)
    _same(EF.jvp(lambda x: x.logcumsumexp(1), a, va)[1], torch.func.jvp(lambda x: x.logcumsumexp(1), (ta,), (tva,))[1])
    tgrad = torch.func.grad(lambda x: x.logcumsumexp(1).exp().sum())
    _same(EF.hvp(lambda x: x.logcumsumexp(1).exp().sum(), a, va)[1], torch.func.jvp(tgrad, (ta,), (tva,))[1])


def test_vjp_of_a_one_element_output_needs_no_v():
    (a,), (ta,) = _both(A)
    _same(EF.vjp(lambda x: (x * x).sum(), a), TF.vjp(lambda x: (x * x).sum(), ta))


@pytest.mark.parametrize("name", ["vhp", "hvp"])
def test_vhp_and_hvp_as_pytorch(name):
    (a, b, va, vb), (ta, tb, tva, tvb) = _both(A, B, VA, VB)
    ours, theirs = getattr(EF, name), getattr(TF, name)
    _same(ours(_scalar, (a, b), (va, vb)), theirs(_scalar, (ta, tb), (tva, tvb)))
    _same(ours(lambda x: (x ** 3).sum(), b, vb), theirs(lambda x: (x ** 3).sum(), tb, tvb))
    _same(ours(_scalar, (a, b), (va, vb), create_graph=True), theirs(_scalar, (ta, tb), (tva, tvb), create_graph=True))


def test_unused_inputs_get_zeros_and_strict_mode_refuses_them():
    (a, b), (ta, tb) = _both(A, B)
    _same(EF.jacobian(lambda x, y: x * 2, (a, b)), TF.jacobian(lambda x, y: x * 2, (ta, tb)))
    _same(EF.vjp(lambda x, y: x.sum(), (a, b)), TF.vjp(lambda x, y: x.sum(), (ta, tb)))
    for fn in (lambda: EF.jacobian(lambda x, y: x * 2, (a, b), strict=True),
               lambda: EF.vjp(lambda x, y: x.sum(), (a, b), strict=True),
               lambda: EF.hessian(lambda x, y: (x * x).sum(), (a, b), strict=True)):
        with pytest.raises(RuntimeError, match="independent of input 1; this is not allowed in strict mode"):
            fn()
    with pytest.raises(RuntimeError, match="output 0 of the user-provided function does not require gradients"):
        EF.jacobian(lambda x: ember.ones(2), a, strict=True)


def test_complex_outputs_as_pytorch_refused_without_vectorize():
    # Without vectorize PyTorch refuses a complex output; its vectorized rows (and Ember's) are gradients of the real
    # parts: 2 - 4j for z**2 at 1 + 2j, where the derivative is 2 + 4j.
    z = np.array([1 + 2j, 0.5 - 1j])
    (ez, ex), (tz, tx) = _both(z, B)
    for fn, ours, theirs in ((lambda t: t * t, ez, tz), (lambda t: t * (1 + 2j), ex, tx)):
        with pytest.raises(RuntimeError, match="jacobian: output 0 of the user-provided function is complex"):
            EF.jacobian(fn, ours)
        with pytest.raises(RuntimeError, match="real scalar outputs"):
            TF.jacobian(fn, theirs)
        _same(EF.jacobian(fn, ours, vectorize=True), TF.jacobian(fn, theirs, vectorize=True))
    quartic = lambda t: (t.abs() ** 4).sum()  # noqa: E731
    with pytest.raises(RuntimeError, match="hessian: input 0 is complex"):
        EF.hessian(quartic, ez)
    _same(EF.hessian(quartic, ez, vectorize=True), TF.hessian(quartic, tz, vectorize=True))
    for ours, theirs in ((lambda: EF.vjp(lambda t: (t * t).sum(), ez), lambda: TF.vjp(lambda t: (t * t).sum(), tz)),
                         (lambda: EF.jvp(lambda t: t.abs().sum(), ez[:1]),
                          lambda: TF.jvp(lambda t: t.abs().sum(), tz[:1]))):
        with pytest.raises(RuntimeError, match="v can be None only for a real"):
            ours()
        with pytest.raises(RuntimeError, match="real scalar outputs"):
            theirs()
    _same(EF.jacobian(lambda t: t.abs(), ez), TF.jacobian(lambda t: t.abs(), tz))  # real outputs: as before


def test_errors_name_the_function_and_the_argument():
    (a, b), _ = _both(A, B)
    with pytest.raises(TypeError, match=r"jacobian: inputs\[1\] must be a Tensor or a tuple of Tensors, got float"):
        EF.jacobian(lambda x, y: x, (a, 2.0))
    with pytest.raises(TypeError, match="vjp: the inputs must be a Tensor or a tuple of Tensors, got list"):
        EF.vjp(lambda x: x, [a])
    with pytest.raises(RuntimeError, match="vjp: v can be None only when the output of the user-provided function "
                                           "is a single Tensor with a single element"):
        EF.vjp(lambda x: x * 2, a)
    with pytest.raises(RuntimeError, match=r"jvp: mismatch in shape: v\[0\] has shape \[3\] while the input \[0\] "
                                           r"has shape \[2, 3\]"):
        EF.jvp(lambda x: x * 2, a, b)
    with pytest.raises(RuntimeError, match="hessian: the Tensor returned by the function should contain a single "
                                           r"element, got shape \[2, 3\]"):
        EF.hessian(lambda x: x * 2, a)
    with pytest.raises(ValueError, match="requires vectorize=True"):
        EF.jacobian(lambda x: x, a, strategy="forward-mode")
    with pytest.raises(RuntimeError, match="strict=True and vectorize=True"):
        EF.jacobian(lambda x: x, a, strict=True, vectorize=True)


def test_grad_takes_pytorchs_arguments():
    (b,), (tb,) = _both(B, grad=True)
    unused = ember.tensor([1.0], requires_grad=True)
    g, none = ember.autograd.grad((b * b).sum(), (b, unused), None, None, False, True, True)
    assert none is None
    _same(g, torch.autograd.grad((tb * tb).sum(), tb)[0])
    g, zero = ember.autograd.grad((b * b).sum(), (b, unused), materialize_grads=True)
    assert zero.tolist() == [0.0]
    batched = ember.autograd.grad(b * 2, b, ember.eye(3, dtype=b.dtype), is_grads_batched=True)[0]
    theirs = torch.autograd.grad(tb * 2, tb, torch.eye(3, dtype=tb.dtype), is_grads_batched=True)[0]
    _same(batched, theirs)

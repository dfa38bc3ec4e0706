"""``ember.autograd.gradcheck``/``gradgradcheck`` against PyTorch's (verdicts, messages, warnings, errors), the
deprecated ``Variable`` and ``ember.autograd.inference_mode``."""

import warnings

import numpy as np
import pytest

import ember
from ember.autograd import GradcheckError, Variable, gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A, B = RNG.standard_normal((2, 3)), RNG.standard_normal(3)


def _both(*arrays, dtype="float64", grad=True):
    return ([ember.tensor(a, dtype=dtype, requires_grad=grad) for a in arrays],
            [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=grad) for a in arrays])


def _bad_square(lib, detach_in_backward=False):
    """x * x whose backward says 3x (wrong), or 2x computed from a detached x (right once, wrong twice)."""

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a.detach() * g if detach_in_backward else 3 * a * g

    return Square.apply


def _verdict(check, fn, inputs, **kwargs):
    try:
        return check(fn, inputs, **kwargs), None
    except (RuntimeError, ValueError) as exc:
        return type(exc).__mro__[1] if type(exc).__name__ == "GradcheckError" else type(exc), str(exc)


FUNCTIONS = [
    ("product_sin", lambda lib: (lambda a, b: (a * b).sin())),
    ("two_outputs", lambda lib: (lambda a, b: ((a * b).tanh(), (a ** 2).sum(1)))),
    ("reduction", lambda lib: (lambda a, b: (a.exp() @ b).sum())),
    ("identity", lambda lib: (lambda a, b: a)),
    ("unused_input", lambda lib: (lambda a, b: a.sigmoid())),
    ("softmax", lambda lib: (lambda a, b: lib.softmax(a * b, dim=1) if lib is torch else ember.softmax(a * b, 1))),
]


@pytest.mark.parametrize("name, make", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_gradcheck_and_gradgradcheck_pass_where_pytorch_does(name, make):
    (a, b), (ta, tb) = _both(A, B)
    for check, tcheck in ((gradcheck, torch.autograd.gradcheck), (gradgradcheck, torch.autograd.gradgradcheck)):
        assert _verdict(check, make(ember), (a, b)) == _verdict(tcheck, make(torch), (ta, tb)) == (True, None)


def test_gradcheck_reports_a_wrong_backward_as_pytorch():
    x, tx = ember.tensor([1.0, 2.0], dtype="float64", requires_grad=True), torch.tensor(
        [1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ours, theirs = _verdict(gradcheck, _bad_square(ember), (x,)), _verdict(torch.autograd.gradcheck,
                                                                          _bad_square(torch), (tx,))
    assert ours[0] is theirs[0] is RuntimeError
    assert ours[1] == theirs[1].replace("torch.", "")
    assert "Jacobian mismatch for output 0 with respect to input 0" in ours[1]
    with pytest.raises(GradcheckError):
        gradcheck(_bad_square(ember), (x,))
    assert gradcheck(_bad_square(ember), (x,), raise_exception=False) is False
    assert torch.autograd.gradcheck(_bad_square(torch), (tx,), raise_exception=False) is False


def _square_conjugated(lib, conjugate):
    """z * z whose backward multiplies by conj(2z) (PyTorch's convention, right) or by 2z (wrong)."""

    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return z * z

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return g * ((2 * z).conj() if conjugate else 2 * z)

    return Square.apply


def test_gradcheck_of_complex_inputs_checks_the_imaginary_parts_as_pytorch():
    # The wrong rule's gradient has the right real part: only the imaginary directions tell them apart.
    (z,), (tz,) = _both(np.array([1 + 2j, -0.5 + 0.3j]), dtype="complex128")
    for conjugate in (True, False):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = gradcheck(_square_conjugated(ember, conjugate), (z,), raise_exception=False)
        assert ours is torch.autograd.gradcheck(_square_conjugated(torch, conjugate), (tz,),
                                                raise_exception=False) is conjugate
    with pytest.raises(GradcheckError, match="real and imaginary parts"):
        gradcheck(_square_conjugated(ember, False), (z,))
    (x,), (tx,) = _both(A)
    for fn in (lambda t: t * (1 + 2j), lambda t: (t * 1j).exp()):  # real inputs, complex outputs
        assert gradcheck(fn, (x,)) and torch.autograd.gradcheck(fn, (tx,))
    assert gradcheck(lambda t: t.abs() * t.conj(), (z,)) and gradgradcheck(lambda t: t * t * t.conj(), (z,))


def test_gradgradcheck_finds_a_backward_that_is_right_once_only_as_pytorch():
    x, tx = ember.tensor([1.0, 2.0], dtype="float64", requires_grad=True), torch.tensor(
        [1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert gradcheck(_bad_square(ember, True), (x,))
    assert torch.autograd.gradcheck(_bad_square(torch, True), (tx,))
    assert gradgradcheck(_bad_square(ember, True), (x,), raise_exception=False) is False
    assert torch.autograd.gradgradcheck(_bad_square(torch, True), (tx,), raise_exception=False) is False
    # the wrong first-order rule is consistent with its own derivative: both libraries pass it twice over
    assert gradgradcheck(_bad_square(ember), (x,))
    assert torch.autograd.gradgradcheck(_bad_square(torch), (tx,))


def test_gradgradcheck_takes_given_and_noncontiguous_grad_outputs():
    (a,), _ = _both(A)
    g = ember.tensor(RNG.standard_normal((2, 3)), dtype="float64", requires_grad=True)
    assert gradgradcheck(lambda t: t ** 3, (a,), (g,))
    assert gradgradcheck(lambda t: t.tanh() * t, (a,), gen_non_contig_grad_outputs=True)


def test_gradcheck_non_tensor_arguments_and_non_differentiable_outputs():
    (a,), (ta,) = _both(A)
    assert gradcheck(lambda t, n: t * n, (a, 3)) and torch.autograd.gradcheck(lambda t, n: t * n, (ta, 3))
    assert gradcheck(lambda t: (t * 2, ember.ones(2)), (a,))
    assert gradcheck(lambda t: t.argmax(), (a,)) and torch.autograd.gradcheck(lambda t: t.argmax(), (ta,))
    assert gradcheck(lambda t: t.exp(), a, fast_mode=True, nondet_tol=0.0, check_undefined_grad=False)


def test_gradcheck_errors_and_warnings_as_pytorch():
    (a,), (ta,) = _both(A, grad=False)
    assert _verdict(gradcheck, lambda t: t * 2, (a,)) == _verdict(torch.autograd.gradcheck, lambda t: t * 2, (ta,))
    (f,), (tf,) = _both(A, dtype="float32")
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        gradcheck(lambda t: t * 2, (f,), raise_exception=False)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.autograd.gradcheck(lambda t: t * 2, (tf,), raise_exception=False)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    with pytest.raises(ValueError, match="check_forward_ad"):
        gradcheck(lambda t: t, (a.requires_grad_(),), check_forward_ad=True)


def test_gradcheck_catches_a_nonzero_gradient_for_a_zero_output_gradient():
    class Leaky(ember.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            return g + 0.0 * g.sum() + (g == 0).all().float() * 1e-3  # only wrong where every gradient is zero

    x = ember.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    assert gradcheck(Leaky.apply, (x,), check_undefined_grad=False)
    with pytest.raises(GradcheckError, match="zero output gradient"):
        gradcheck(Leaky.apply, (x,))


def test_variable_as_pytorch():
    t, tt = ember.ones(2), torch.ones(2)
    v, tv = Variable(t, requires_grad=True), torch.autograd.Variable(tt, requires_grad=True)
    for ours, theirs in ((v, tv), (t, tt)):
        assert (type(ours) is ember.Tensor, ours.requires_grad, ours.is_leaf) == (
            type(theirs) is torch.Tensor, theirs.requires_grad, theirs.is_leaf)
    assert v.data_ptr() == t.data_ptr() and v is not t and isinstance(t, Variable)
    w = ember.ones(2, requires_grad=True) * 2
    assert Variable(w).requires_grad is False and Variable(w).grad_fn is None
    assert Variable().shape == (0,) and torch.autograd.Variable().shape == (0,)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        Variable([1.0, 2.0])
    with pytest.warns(UserWarning, match="volatile was removed"):
        Variable(t, volatile=True)
    with pytest.raises(ValueError, match="can't be volatile and require_grad"):
        Variable(t, True, True)


def test_autograd_inference_mode_is_the_top_level_one():
    assert ember.autograd.inference_mode is ember.inference_mode
    x = ember.ones(2, requires_grad=True)
    with ember.autograd.inference_mode():
        assert not (x * 2).requires_grad and ember.is_inference_mode_enabled()

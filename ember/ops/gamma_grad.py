"""``standard_gamma_grad``: a Gamma(alpha, 1) sample's derivative in its concentration at a fixed CDF value, what
Gamma sampling needs for implicit reparameterization (``ember.distributions``); computed in float64."""

from __future__ import annotations

import numpy as _np

from ember.ops import dispatch
from ember.ops.convert import promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.infer import binary, elementwise_cost, require_float
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, defop
from ember.ops.special_kernels import digamma as _digamma
from ember.ops.special_kernels import lgamma as _lgamma_forward


def _standard_gamma_grad_forward(xp, alpha, x):
    """dx/dalpha of x ~ Gamma(alpha, 1) held at its CDF: -(dP(alpha, x)/dalpha) / p(x; alpha), with the
    regularized incomplete gamma P(alpha, x) = sum_k x^(alpha + k) e^-x / Gamma(alpha + k + 1) differentiated term by
    term (d/dalpha of a term is the term times log x - psi(alpha + k + 1)), in float64."""
    shape = xp.broadcast_shapes(alpha.shape, x.shape)
    a = xp.broadcast_to(alpha, shape).astype(_np.float64).reshape(-1)  # 1-D: the kernels write into arrays
    v = xp.broadcast_to(x, shape).astype(_np.float64).reshape(-1)
    with _np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_v = xp.log(v)
        lgamma_a = _lgamma_forward(xp, a)
        term = xp.exp(a * log_v - v - lgamma_a - xp.log(a))  # k = 0: x^a e^-x / Gamma(a + 1)
        slope = log_v - (_digamma(xp, a) + 1.0 / a)  # log x - psi(a + 1)
        total = term.copy()
        dtotal = term * slope
        k = 1
        while k < 100_000:
            term = term * v / (a + k)
            slope = slope - 1.0 / (a + k)
            total = total + term
            dtotal = dtotal + term * slope
            if not bool((term > 1e-17 * total).any()):
                break
            k += 1
        density = xp.exp((a - 1.0) * log_v - v - lgamma_a)
        grad = xp.where(a == 0, xp.inf, -dtotal / density)  # the sample's tiny floor at alpha 0: inf, as PyTorch's
    return xp.where(v > 0, grad, 0.0).reshape(shape).astype(x.dtype)


def _standard_gamma_grad_infer(alpha, x, **attrs):
    require_float("standard_gamma_grad", [alpha, x])
    return binary("standard_gamma_grad")(alpha, x)


def _standard_gamma_grad_rule(run, ctx, u):
    """No derivative, as PyTorch's ``_standard_gamma_grad``: refused where one is asked for (a vjp of none made the
    slope a constant, so a second derivative of a Gamma, Beta or Dirichlet ``rsample`` silently dropped its part)."""
    raise RuntimeError("standard_gamma_grad: no derivative (as PyTorch's _standard_gamma_grad): a backward through "
                       "it, such as a second derivative of a Gamma, Beta or Dirichlet rsample in its concentration "
                       "(a gradient taken with create_graph=True), was asked for")


STANDARD_GAMMA_GRAD = defop("standard_gamma_grad", forward=_standard_gamma_grad_forward,
                            infer=_standard_gamma_grad_infer, vjp=vjp_rule(_standard_gamma_grad_rule),
                            cost=elementwise_cost(400), onnx=NO_ONNX)


def standard_gamma_grad(alpha, x) -> TensorLike:
    """The derivative of a Gamma(alpha, 1) sample ``x`` with respect to ``alpha`` at a fixed CDF value (implicit
    reparameterization), as ``torch._standard_gamma_grad``; no derivative of its own (a backward through it raises)."""
    alpha, x = promote(to_float(alpha), to_float(x))
    return dispatch.apply(STANDARD_GAMMA_GRAD, (alpha, x))

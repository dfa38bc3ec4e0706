"""``torch.special`` under Ember: the special functions (``ember.ops.special``), their compositions
(``ember.ops.special_composed``) and the elementwise and reduction functions PyTorch also lists here, under
PyTorch's names, with gradients where PyTorch has them.

>>> x = ember.tensor([0.5, 3.0], dtype=ember.float64, requires_grad=True)
>>> ember.special.gammaln(x).sum().backward()  # x.grad is digamma(x)
"""

from __future__ import annotations

from ember.ops.activation import log_softmax as _log_softmax
from ember.ops.activation import softmax as _softmax
from ember.ops.composed import round
from ember.ops.convert import cast as _cast
from ember.ops.dispatch import TensorLike as _TensorLike
from ember.ops.elementwise import erf, expm1, log1p
from ember.ops.elementwise import sigmoid as expit
from ember.ops.elementwise_torch import exp2
from ember.ops.incomplete_beta import betainc
from ember.ops.incomplete_gamma import igamma as gammainc
from ember.ops.incomplete_gamma import igammac as gammaincc
from ember.ops.reduction import logsumexp as _logsumexp
from ember.ops.special import (
    digamma,
    entr,
    erfc,
    erfcx,
    erfinv,
    i0,
    i0e,
    i1,
    i1e,
    lgamma,
    log_ndtr,
    ndtri,
    polygamma,
    zeta,
)
from ember.ops.special_bessel import (
    airy_ai,
    bessel_j0,
    bessel_j1,
    bessel_y0,
    bessel_y1,
    modified_bessel_k0,
    modified_bessel_k1,
    scaled_modified_bessel_k0,
    scaled_modified_bessel_k1,
    spherical_bessel_j0,
)
from ember.ops.special_composed import logit, multigammaln, ndtr, sinc, xlog1py, xlogy
from ember.ops.special_polynomials import (
    chebyshev_polynomial_t,
    chebyshev_polynomial_u,
    chebyshev_polynomial_v,
    chebyshev_polynomial_w,
    hermite_polynomial_h,
    hermite_polynomial_he,
    laguerre_polynomial_l,
    legendre_polynomial_p,
    shifted_chebyshev_polynomial_t,
    shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v,
    shifted_chebyshev_polynomial_w,
)

gammaln = lgamma
psi = digamma
modified_bessel_i0 = i0  # the same function; PyTorch's has no gradient where i0's has one
modified_bessel_i1 = i1


def logsumexp(input, dim, keepdim: bool = False) -> _TensorLike:  # noqa: A002  (PyTorch's argument name)
    """log(sum(exp(input))) over ``dim`` (an int or a tuple; ``()`` is every dimension, as PyTorch's), stable for
    large values.

    >>> ember.special.logsumexp(ember.tensor([[0.0, 0.0]]), dim=1)  # log(2)
    """
    return _logsumexp(input, axis=None if dim in ((), []) else dim, keepdims=keepdim)  # (NumPy's axis=() is none)


def softmax(input, dim: int, dtype=None) -> _TensorLike:  # noqa: A002
    """softmax over ``dim``, computed in ``dtype`` when given.

    >>> ember.special.softmax(ember.tensor([0.0, 0.0]), dim=0)  # 0.5, 0.5
    """
    return _softmax(input if dtype is None else _cast(input, dtype), axis=dim)


def log_softmax(input, dim: int, dtype=None) -> _TensorLike:  # noqa: A002
    """log_softmax over ``dim``, computed in ``dtype`` when given.

    >>> ember.special.log_softmax(ember.tensor([0.0, 0.0]), dim=0)  # -log(2), -log(2)
    """
    return _log_softmax(input if dtype is None else _cast(input, dtype), axis=dim)


__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "betainc", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc",
    "erfcx", "erfinv", "exp2",
    "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e",
    "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax", "logit",
    "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
    "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
    "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0",
    "xlog1py", "xlogy", "zeta",
]

"""The orthogonal polynomials of ``torch.special`` as elementwise primitives of (x, n), broadcast together:
Chebyshev's T, U, V, W and their shifted forms, Hermite's H and He, Laguerre's L and Legendre's P.

``n`` may be a tensor or a number; it is read as PyTorch reads it (truncated toward zero; a negative or NaN degree
gives 0). The result has the float dtype x and n promote to (the default float dtype for integers). The numbers
come from ``ember.ops.polynomial_kernels`` in float64, rounded back. PyTorch defines no gradient for these
functions (its results do not require one), and neither do the records.
"""

from __future__ import annotations

from ember.ops import dispatch, polynomial_kernels
from ember.ops.convert import promote, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.infer import binary, elementwise_cost, require_float
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, defop
from ember.ops.special import _in_float64


def _infer(name: str):
    shape_rule = binary(name)

    def infer(x, n, **attrs):
        require_float(name, [x, n])
        return shape_rule(x, n)

    return infer


def _record(name: str):
    return defop(name, forward=_in_float64(getattr(polynomial_kernels, name)), infer=_infer(name),
                 vjp=NON_DIFFERENTIABLE, cost=elementwise_cost(20), onnx=NO_ONNX, elementwise=True,
                 fusion=NOT_FUSIBLE)  # a recurrence of as many steps as the degree


_NAMES = (
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
    "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
    "legendre_polynomial_p",
)
RECORDS = {name: _record(name) for name in _NAMES}


def _apply(name: str, x, n) -> TensorLike:
    x, n = promote(x, n)
    return dispatch.apply(RECORDS[name], (to_float(x), to_float(n)))


def chebyshev_polynomial_t(input, n) -> TensorLike:  # noqa: A002  (PyTorch's argument name)
    """Chebyshev's polynomial of the first kind T_n(x), elementwise over x and n (a tensor or a number).

    >>> ember.special.chebyshev_polynomial_t(ember.tensor([0.5]), 3)  # 4 x^3 - 3 x = -1
    """
    return _apply("chebyshev_polynomial_t", input, n)


def chebyshev_polynomial_u(input, n) -> TensorLike:  # noqa: A002
    """Chebyshev's polynomial of the second kind U_n(x).

    >>> ember.special.chebyshev_polynomial_u(ember.tensor([0.5]), 2)  # 4 x^2 - 1 = 0
    """
    return _apply("chebyshev_polynomial_u", input, n)


def chebyshev_polynomial_v(input, n) -> TensorLike:  # noqa: A002
    """Chebyshev's polynomial of the third kind V_n(x).

    >>> ember.special.chebyshev_polynomial_v(ember.tensor([0.5]), 1)  # 2 x - 1 = 0
    """
    return _apply("chebyshev_polynomial_v", input, n)


def chebyshev_polynomial_w(input, n) -> TensorLike:  # noqa: A002
    """Chebyshev's polynomial of the fourth kind W_n(x).

    >>> ember.special.chebyshev_polynomial_w(ember.tensor([0.5]), 1)  # 2 x + 1 = 2
    """
    return _apply("chebyshev_polynomial_w", input, n)


def shifted_chebyshev_polynomial_t(input, n) -> TensorLike:  # noqa: A002
    """T_n(2x - 1), Chebyshev's first kind shifted to [0, 1].

    >>> ember.special.shifted_chebyshev_polynomial_t(ember.tensor([0.0]), 3)  # T_3(-1) = -1
    """
    return _apply("shifted_chebyshev_polynomial_t", input, n)


def shifted_chebyshev_polynomial_u(input, n) -> TensorLike:  # noqa: A002
    """U_n(2x - 1), Chebyshev's second kind shifted to [0, 1].

    >>> ember.special.shifted_chebyshev_polynomial_u(ember.tensor([1.0]), 3)  # U_3(1) = 4
    """
    return _apply("shifted_chebyshev_polynomial_u", input, n)


def shifted_chebyshev_polynomial_v(input, n) -> TensorLike:  # noqa: A002
    """V_n(2x - 1), Chebyshev's third kind shifted to [0, 1].

    >>> ember.special.shifted_chebyshev_polynomial_v(ember.tensor([0.0]), 1)  # V_1(-1) = -3
    """
    return _apply("shifted_chebyshev_polynomial_v", input, n)


def shifted_chebyshev_polynomial_w(input, n) -> TensorLike:  # noqa: A002
    """W_n(2x - 1), Chebyshev's fourth kind shifted to [0, 1].

    >>> ember.special.shifted_chebyshev_polynomial_w(ember.tensor([1.0]), 2)  # W_2(1) = 5
    """
    return _apply("shifted_chebyshev_polynomial_w", input, n)


def hermite_polynomial_h(input, n) -> TensorLike:  # noqa: A002
    """The physicists' Hermite polynomial H_n(x).

    >>> ember.special.hermite_polynomial_h(ember.tensor([1.0]), 2)  # 4 x^2 - 2 = 2
    """
    return _apply("hermite_polynomial_h", input, n)


def hermite_polynomial_he(input, n) -> TensorLike:  # noqa: A002
    """The probabilists' Hermite polynomial He_n(x).

    >>> ember.special.hermite_polynomial_he(ember.tensor([2.0]), 2)  # x^2 - 1 = 3
    """
    return _apply("hermite_polynomial_he", input, n)


def laguerre_polynomial_l(input, n) -> TensorLike:  # noqa: A002
    """Laguerre's polynomial L_n(x).

    >>> ember.special.laguerre_polynomial_l(ember.tensor([1.0]), 2)  # (x^2 - 4x + 2) / 2 = -0.5
    """
    return _apply("laguerre_polynomial_l", input, n)


def legendre_polynomial_p(input, n) -> TensorLike:  # noqa: A002
    """Legendre's polynomial P_n(x).

    >>> ember.special.legendre_polynomial_p(ember.tensor([0.5]), 2)  # (3 x^2 - 1) / 2 = -0.125
    """
    return _apply("legendre_polynomial_p", input, n)

"""The Bessel and Airy functions of ``torch.special`` as elementwise primitives: ``bessel_j0``, ``bessel_j1``,
``bessel_y0``, ``bessel_y1``, ``modified_bessel_k0``, ``modified_bessel_k1`` and their scaled forms,
``spherical_bessel_j0`` and ``airy_ai`` (``modified_bessel_i0`` and ``i1`` are ``ember.ops.special``'s ``i0`` and
``i1``).

The numbers come from ``ember.ops.bessel_kernels``, in float64 whatever the input's float dtype, rounded back to
it. PyTorch defines no gradient for these functions (its results do not require one), and neither do the records.
"""

from __future__ import annotations

from ember.ops import bessel_kernels, dispatch
from ember.ops.convert import to_float
from ember.ops.dispatch import TensorLike
from ember.ops.infer import elementwise_cost, unary_float
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, defop
from ember.ops.special import _in_float64


def _record(name: str, flops: int):
    return defop(name, forward=_in_float64(getattr(bessel_kernels, name)), infer=unary_float(name),
                 vjp=NON_DIFFERENTIABLE, cost=elementwise_cost(flops), onnx=NO_ONNX, elementwise=True,
                 fusion=NOT_FUSIBLE)  # series, recurrences and quadratures numexpr cannot write


BESSEL_J0 = _record("bessel_j0", 400)
BESSEL_J1 = _record("bessel_j1", 400)
BESSEL_Y0 = _record("bessel_y0", 500)
BESSEL_Y1 = _record("bessel_y1", 500)
MODIFIED_BESSEL_K0 = _record("modified_bessel_k0", 200)
MODIFIED_BESSEL_K1 = _record("modified_bessel_k1", 200)
SCALED_MODIFIED_BESSEL_K0 = _record("scaled_modified_bessel_k0", 200)
SCALED_MODIFIED_BESSEL_K1 = _record("scaled_modified_bessel_k1", 200)
SPHERICAL_BESSEL_J0 = _record("spherical_bessel_j0", 10)
AIRY_AI = _record("airy_ai", 800)


def bessel_j0(input) -> TensorLike:  # noqa: A002  (PyTorch's argument name)
    """Elementwise Bessel function of the first kind of order 0.

    >>> ember.special.bessel_j0(ember.tensor([0.0, 2.404825557695773]))  # 1, 0 (its first zero)
    """
    return dispatch.apply(BESSEL_J0, (to_float(input),))


def bessel_j1(input) -> TensorLike:  # noqa: A002
    """Elementwise Bessel function of the first kind of order 1.

    >>> ember.special.bessel_j1(ember.tensor([1.0]))  # 0.440051
    """
    return dispatch.apply(BESSEL_J1, (to_float(input),))


def bessel_y0(input) -> TensorLike:  # noqa: A002
    """Elementwise Bessel function of the second kind of order 0 (-inf at 0, NaN for x < 0).

    >>> ember.special.bessel_y0(ember.tensor([1.0]))  # 0.088257
    """
    return dispatch.apply(BESSEL_Y0, (to_float(input),))


def bessel_y1(input) -> TensorLike:  # noqa: A002
    """Elementwise Bessel function of the second kind of order 1 (-inf at 0, NaN for x < 0).

    >>> ember.special.bessel_y1(ember.tensor([1.0]))  # -0.781213
    """
    return dispatch.apply(BESSEL_Y1, (to_float(input),))


def modified_bessel_k0(input) -> TensorLike:  # noqa: A002
    """Elementwise modified Bessel function of the second kind of order 0 (inf at 0, NaN for x < 0).

    >>> ember.special.modified_bessel_k0(ember.tensor([1.0]))  # 0.421024
    """
    return dispatch.apply(MODIFIED_BESSEL_K0, (to_float(input),))


def modified_bessel_k1(input) -> TensorLike:  # noqa: A002
    """Elementwise modified Bessel function of the second kind of order 1 (inf at 0, NaN for x < 0).

    >>> ember.special.modified_bessel_k1(ember.tensor([1.0]))  # 0.601907
    """
    return dispatch.apply(MODIFIED_BESSEL_K1, (to_float(input),))


def scaled_modified_bessel_k0(input) -> TensorLike:  # noqa: A002
    """Elementwise exp(x) K0(x), finite where K0 underflows.

    >>> ember.special.scaled_modified_bessel_k0(ember.tensor([1000.0]))  # 0.039628
    """
    return dispatch.apply(SCALED_MODIFIED_BESSEL_K0, (to_float(input),))


def scaled_modified_bessel_k1(input) -> TensorLike:  # noqa: A002
    """Elementwise exp(x) K1(x), finite where K1 underflows.

    >>> ember.special.scaled_modified_bessel_k1(ember.tensor([1000.0]))  # 0.039648
    """
    return dispatch.apply(SCALED_MODIFIED_BESSEL_K1, (to_float(input),))


def spherical_bessel_j0(input) -> TensorLike:  # noqa: A002
    """Elementwise spherical Bessel function of the first kind of order 0: sin(x) / x, 1 at 0.

    >>> ember.special.spherical_bessel_j0(ember.tensor([0.0, 3.141592653589793]))  # 1, 0
    """
    return dispatch.apply(SPHERICAL_BESSEL_J0, (to_float(input),))


def airy_ai(input) -> TensorLike:  # noqa: A002
    """Elementwise Airy function Ai, the solution of y'' = x y that decays for x -> inf.

    >>> ember.special.airy_ai(ember.tensor([0.0]))  # 0.355028
    """
    return dispatch.apply(AIRY_AI, (to_float(input),))

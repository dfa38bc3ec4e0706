"""Complex numbers' polar form: ``angle`` (a primitive), ``polar`` and ``sgn`` (compositions)."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX, FLOATING, real_of
from ember.ops import dispatch
from ember.ops.autocast import widened
from ember.ops.complex_parts import complex as _complex
from ember.ops.convert import as_tensor, constant, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import ABS, EQ, WHERE, abs, cos, sin, where
from ember.ops.infer import elementwise_cost, require_inexact
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import NO_ONNX, Spec, defop


def _angle_infer(x: Spec) -> Spec:
    require_inexact("angle", [x])
    return Spec(tuple(x.shape), real_of(x.dtype))


def _angle_rule(run, ctx, g):
    """dθ/dRe + i dθ/dIm of θ = atan2(Im z, Re z) is i z / |z|^2 (0 at z = 0, as PyTorch); a real x's angle is a
    step, 0 or pi, with gradient 0."""
    x = ctx.inputs[0]
    zero = constant(0.0, g.dtype, g) if run is on_tensors else g.dtype.type(0)
    if x.dtype not in COMPLEX:
        return (g * zero,)
    modulus = run(ABS, x)
    at_zero = run(EQ, modulus, zero)
    one = constant(1.0, g.dtype, g) if run is on_tensors else g.dtype.type(1)
    safe = run(WHERE, at_zero, one, modulus)
    return (run(WHERE, at_zero, zero, g / (safe * safe)) * x * x.dtype.type(1j),)


def _angle_forward(xp, x):
    if x.dtype not in COMPLEX:  # pi below 0, else 0 (NaN kept), as PyTorch: NumPy's atan2(0, -0.0) is pi
        number = x == x
        return xp.where(number, xp.where(xp.where(number, x, 0) < 0, x.dtype.type(np.pi), x.dtype.type(0)), x)
    return xp.angle(x).astype(real_of(x.dtype), copy=False)


ANGLE = defop("angle", forward=_angle_forward, infer=_angle_infer,
              vjp=vjp_rule(_angle_rule), cost=elementwise_cost(8), onnx=NO_ONNX)


def angle(x) -> TensorLike:
    """The argument of each element in radians, in (-pi, pi] (``torch.angle``): atan2(imag, real) of a complex
    tensor (real result), 0 or pi for a real one (integers as floats).

    >>> ember.angle(ember.tensor([1j, -1.0 + 0j])).tolist()  # pi/2, pi
    [1.5707963705062866, 3.1415927410125732]
    """
    x = as_tensor(x)
    if x.dtype not in COMPLEX:
        x = to_float(x, "angle")
    return dispatch.apply(ANGLE, (x,))


def polar(abs: TensorLike, angle: TensorLike) -> TensorLike:  # noqa: A002  (torch.polar's argument names)
    """The complex tensor abs * (cos(angle) + i sin(angle)) (``torch.polar``): two float32 or two float64 tensors.

    >>> ember.polar(ember.tensor([2.0]), ember.tensor([0.0])).tolist()
    [(2+0j)]
    """
    r, theta = widened(as_tensor(abs), as_tensor(angle))  # (float32 in an autocast region, as PyTorch's)
    if r.dtype not in FLOATING or theta.dtype != r.dtype:
        raise TypeError(f"polar: expected abs and angle to be floating tensors of one dtype, got "
                        f"{r.dtype}{list(r.shape)} and {theta.dtype}{list(theta.shape)}")
    return _complex(r * cos(theta), r * sin(theta))


def complex_sgn(x: TensorLike) -> TensorLike:
    """z / |z| of a complex tensor, 0 where z is 0 (``torch.sgn``), differentiable."""
    modulus = abs(x)
    zero = modulus == 0
    return where(zero, 0.0, x / where(zero, 1.0, modulus))


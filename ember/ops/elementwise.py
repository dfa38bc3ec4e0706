"""Elementwise math: unary functions, broadcasting binary ops, comparisons, ``where`` and ``clip``."""

from __future__ import annotations

import math

import numpy as _np

from ember.backend import onednn
from ember.backend.devices import array_module
from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, bool_, float32, int64, real_of
from ember.backend.zeros import zeros_of
from ember.ops import dispatch, lowering, special_kernels
from ember.ops.autocast import FLOAT32
from ember.ops.complex_parts import CONJ
from ember.ops.convert import (
    as_tensor,
    cast,
    check_fill_value,
    constant,
    promote,
    promote_inexact,
    to_float,
    to_inexact,
)
from ember.ops.dispatch import TensorLike
from ember.ops.infer import (
    binary,
    elementwise_cost,
    refuse_bool,
    refuse_complex,
    unary,
    unary_float,
    unary_inexact,
)
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import NO_ONNX, NON_DIFFERENTIABLE, NOT_FUSIBLE, REGISTRY, Fusion, Spec, defop, describe
from ember.ops.shape import unbroadcast_with
from ember.ops.sized import FILL, fill_like


def _unary(name, forward, vjp, *, onnx, flops=1, saves_output=False, float_only=True, infer=None, **traits):
    return defop(
        name,
        forward=forward,
        infer=infer or (unary_float(name) if float_only else unary(name, complex_inputs=False)),
        vjp=vjp,
        cost=elementwise_cost(flops),
        onnx=onnx,
        elementwise=True,
        saves_output=saves_output,
        **traits,
    )


def _binary(name, forward, vjp, *, onnx, flops=1, out_dtype=None, bool_inputs=True, complex_inputs=False,
            **traits):
    return defop(
        name,
        forward=forward,
        infer=binary(name, out_dtype, bool_inputs, complex_inputs),
        vjp=vjp,
        cost=elementwise_cost(flops),
        onnx=onnx,
        elementwise=True,
        **traits,
    )


def _through_forward(forward, kinds: str):
    """A ``lower`` emitter: results of the dtype kinds ``kinds``, which the op's ufunc refuses, compute through
    ``forward``; the others take the ufunc."""

    def lower(call):
        if call.output.dtype.kind not in kinds:
            return None
        return f"{call.bind(forward, 'f')}(np, {', '.join(call.args)})"

    return lower


# --- unary ---------------------------------------------------------------------------------------------
# Rules written with operators run on Tensors and on arrays alike (``ember.ops.modes``). Their constants are
# scalars of the operand's dtype: NumPy widens a bfloat16 array by a Python float, a Tensor keeps its dtype.


def _typed(x, value: float = 1.0):
    """``value`` as a NumPy scalar of ``x``'s dtype: an operand for operators, on arrays and Tensors alike."""
    return x.dtype.type(value)


def _scalar(run, like, value: float):
    """``value`` as an op input of ``like``'s dtype: a NumPy scalar on arrays, on Tensors the constant that
    ``promote`` makes of a Python float."""
    return constant(float(value), like.dtype, like) if run is on_tensors else like.dtype.type(value)


def _conj(run, x):
    """conj(x) for a complex x, x itself otherwise: PyTorch's gradient of a real loss through a holomorphic f is
    g * conj(f'(z)), so the rules below conjugate the derivative's factors of a complex op."""
    return run(CONJ, x) if x.dtype in COMPLEX else x


def _exp_simplify(node, facts) -> None:
    """exp(log_softmax(x)) is softmax(x) where nothing else reads the log-probabilities (a softmax
    cross-entropy's gradient when its loss is not fetched: two calls fewer, results differ by rounding)."""
    x = node.inputs[0]
    source = facts.producers.get(x.id)
    if source is not None and source.op.name == "log_softmax" and facts.reads[x.id] == 1:
        node.op, node.attrs, node.inputs = REGISTRY["softmax"], dict(source.attrs), list(source.inputs)


def _neg_infer(x: Spec, **attrs) -> Spec:
    if x.dtype == bool_:
        raise TypeError(f"neg: the - operator on a bool tensor is not supported; use ~ (invert) "
                        f"(inputs: {describe([x])})")
    return Spec(tuple(x.shape), x.dtype)


def _sign_forward(xp, x):
    try:
        out = xp.sign(x)
    except TypeError:  # NumPy's sign has no bool loop; PyTorch's sign of a bool is the bool
        if x.dtype != bool_:
            raise
        return x.copy()
    if x.dtype.kind in "iu" or (xp is _np and not _np.isnan(out).any()):
        return out
    return xp.where(out != out, x.dtype.type(0), out)  # PyTorch's sign of NaN is 0 (NumPy's is NaN)


def _abs_infer(x: Spec, **attrs) -> Spec:
    return Spec(tuple(x.shape), real_of(x.dtype))  # the modulus of a complex number is real


def _abs_rule(run, ctx, g):
    x = ctx.inputs[0]
    if x.dtype not in COMPLEX:
        return (g * run(SIGN, x),)
    # g z / |z| (0 at z = 0, as PyTorch), written with differentiable ops: z / |z| varies with z
    zero, modulus = _scalar(run, g, 0.0), run(ABS, x)
    at_zero = run(EQ, modulus, zero)
    return (run(WHERE, at_zero, zero, g / run(WHERE, at_zero, _scalar(run, g, 1.0), modulus)) * x,)


def _exp_rule(run, ctx, g):
    out = ctx.output
    return (g * (run(CONJ, out) if out.dtype in COMPLEX else out),)  # inlined _conj: one test on the real path


def _log_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (g / (run(CONJ, x) if x.dtype in COMPLEX else x),)


def _sqrt_rule(run, ctx, g):
    out = ctx.output
    return (g * _typed(g, 0.5) / (run(CONJ, out) if out.dtype in COMPLEX else out),)


# numexpr's float32 exp/log/tanh/sin/cos differ from NumPy's SIMD ones by one ulp in 10-40% of the elements:
# their forms are not exact, so they are fused only on request (ember.passes.fuse_elementwise).
NEG = _unary("neg", lambda xp, x: xp.negative(x), vjp_rule(lambda run, ctx, g: (run(NEG, g),)), onnx="Neg",
             infer=_neg_infer, ufunc=_np.negative, infix="-", fusion=Fusion("(-{0})"), vjp_reads=())
EXP = _unary("exp", lambda xp, x: xp.exp(x), vjp_rule(_exp_rule), onnx="Exp",
             flops=8, saves_output=True, infer=unary_inexact("exp"), ufunc=_np.exp,
             fusion=Fusion("exp({0})", exact=False), simplify=_exp_simplify, autocast=FLOAT32)
LOG = _unary("log", lambda xp, x: xp.log(x), vjp_rule(_log_rule), onnx="Log",
             flops=8, infer=unary_inexact("log"), ufunc=_np.log, fusion=Fusion("log({0})", exact=False),
             autocast=FLOAT32)
def _log1p_forward(xp, x):
    if x.dtype not in COMPLEX:
        return xp.log1p(x)
    # NumPy's complex log1p is log(1 + z), which loses a small z's real part (log1p(1e-8+1e-8j) 1e-8 off, of
    # -1e-30 0); PyTorch's: log|1 + z| as 0.5 log1p(x (2 + x) + y^2) below |z| = 0.5, phase atan2(y, 1 + x)
    real, imag = x.real, x.imag
    one = real.dtype.type(1)
    small = xp.abs(x) < real.dtype.type(0.5)
    r = real * (real + real.dtype.type(2)) + imag * imag
    near = xp.where(r == 0, real, real.dtype.type(0.5) * xp.log1p(r))  # (r underflows: log1p(z) is z's real part)
    modulus = xp.where(small, near, xp.log(xp.hypot(real + one, imag)))
    return (modulus + x.dtype.type(1j) * xp.arctan2(imag, real + one)).astype(x.dtype, copy=False)


LOG1P = _unary("log1p", _log1p_forward,
               vjp_rule(lambda run, ctx, g: (g / _conj(run, ctx.inputs[0] + _typed(ctx.inputs[0])),)),
               onnx=NO_ONNX, flops=8, infer=unary_inexact("log1p"), ufunc=_np.log1p,
               lower=_through_forward(_log1p_forward, "c"), fusion=Fusion("log1p({0})", exact=False), autocast=FLOAT32)
SQRT = _unary("sqrt", lambda xp, x: xp.sqrt(x), vjp_rule(_sqrt_rule), onnx="Sqrt", flops=4, saves_output=True,
              infer=unary_inexact("sqrt"), ufunc=_np.sqrt, fusion=Fusion("sqrt({0})"))
ABS = _unary("abs", lambda xp, x: xp.abs(x), vjp_rule(_abs_rule), onnx="Abs",
             infer=_abs_infer, ufunc=_np.abs, fusion=Fusion("abs({0})"))
def _zero_rule(run, ctx, g):
    """A piecewise-constant op's gradient: zeros of each input's shape, as PyTorch's (its output requires grad and
    ``x.grad`` comes out zeros, not None)."""
    return tuple(run(FILL, x, sizes=tuple((0, a) for a in range(x.ndim)), value=0, dtype=x.dtype) if needed else None
                 for x, needed in zip(ctx.inputs, ctx.needs))


# NumPy 2.4 runs np.sign in place on a scalar loop, 14x slower on mixed signs than into another array;
# numexpr's sign computes float32 in float64, hence the where() form (the forward's numbers, NaN's 0 included)
SIGN = _unary("sign", _sign_forward, vjp_rule(_zero_rule), onnx="Sign", infer=unary("sign"), in_place=False,
              vjp_reads=(),
              fusion=Fusion("where({0} > {zero}, {one}, where({0} < {zero}, -{one}, {zero}))",
                            selects=True))  # sign(-0.0) and sign(NaN) are +0.0
SIN = _unary("sin", lambda xp, x: xp.sin(x),
             vjp_rule(lambda run, ctx, g: (g * _conj(run, run(COS, ctx.inputs[0])),)), onnx="Sin", flops=8,
             infer=unary_inexact("sin"), ufunc=_np.sin, fusion=Fusion("sin({0})", exact=False))
COS = _unary("cos", lambda xp, x: xp.cos(x),
             vjp_rule(lambda run, ctx, g: (run(NEG, g * _conj(run, run(SIN, ctx.inputs[0]))),)), onnx="Cos", flops=8,
             infer=unary_inexact("cos"), ufunc=_np.cos, fusion=Fusion("cos({0})", exact=False))
def _tanh_rule(run, ctx, g):
    out = _conj(run, ctx.output)
    return (g * (_typed(out) - out * out),)


TANH = _unary("tanh", lambda xp, x: xp.tanh(x), vjp_rule(_tanh_rule), onnx="Tanh", flops=8, saves_output=True,
              infer=unary_inexact("tanh"), ufunc=_np.tanh, fusion=Fusion("tanh({0})", exact=False))


def _sigmoid_forward(xp, x):
    if x.dtype in COMPLEX:  # 1 / (1 + e**-z), as PyTorch's
        return x.dtype.type(1) / (x.dtype.type(1) + xp.exp(-x))
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return _sigmoid_forward(xp, x.astype(_np.float32)).astype(x.dtype)
    # exp(min(x, 0)) / (1 + exp(-|x|)) never overflows and keeps full relative precision for x < 0, where
    # 0.5 * (1 + tanh(x / 2)) cancels (float32: 2e-4 off at x = -10, 0 from x = -17 on)
    return xp.exp(xp.minimum(x, x.dtype.type(0))) / (x.dtype.type(1) + xp.exp(-xp.abs(x)))


def _sigmoid_rule(run, ctx, g):
    out = _conj(run, ctx.output)
    return (g * out * (_typed(out) - out),)


SIGMOID = _unary("sigmoid", _sigmoid_forward, vjp_rule(_sigmoid_rule), onnx="Sigmoid", flops=10, saves_output=True,
                 infer=unary_inexact("sigmoid"),
                 fresh=True, fusion=Fusion("exp(where({0} < {zero}, {0}, {zero})) / ({one} + exp(-abs({0})))",
                                          exact=False, selects=True))
def _relu_rule(run, ctx, g):
    return (run(RELU_GRAD, g, ctx.output),)


# From this many float32 elements relu and its gradient run on oneDNN's threads where the extra is enabled
_ONEDNN_ELEMENTS = 1 << 18


def _relu_forward(xp, x):
    if x.__class__ is _np.ndarray and x.dtype in _ZEROS_DTYPES:
        if x.size >= _ONEDNN_ELEMENTS and onednn.runs(x.dtype) and not _np.isnan(_np.maximum.reduce(x, axis=None)):
            result = onednn.relu(x)  # the same numbers on OpenMP's threads, the NaN check included 2x faster
            if result is not None:
                return result
        return _np.maximum(x, zeros_of(x.shape, x.dtype))  # against zeros: the same numbers, 2-3x faster
    if x.dtype in COMPLEX:  # NumPy orders complex numbers; PyTorch refuses (the shape rule says so)
        refuse_complex("relu", [x])
    return xp.maximum(x, x.dtype.type(0))


_ZEROS_DTYPES = frozenset({_np.dtype(_np.float32), _np.dtype(_np.float64)})


def relu_in_place(xp, x):
    """``relu``'s forward written into ``x`` itself (an array nothing else holds): the same numbers."""
    if x.__class__ is _np.ndarray and x.dtype in _ZEROS_DTYPES:
        return _np.maximum(x, zeros_of(x.shape, x.dtype), out=x)
    if x.dtype in COMPLEX:
        refuse_complex("relu", [x])
    return xp.maximum(x, x.dtype.type(0), out=x)
RELU = _unary("relu", _relu_forward, vjp_rule(_relu_rule), onnx="Relu", float_only=False,
              saves_output=True, lower=lowering.relu, writes_out=True,
              fusion=Fusion("where({0} <= {zero}, {zero}, {0})", selects=True))  # max(-0.0, 0) is +0.0


def _relu_grad_forward(xp, g, y, *, out=None):
    """``g * (y > 0)``: relu's gradient from its output ``y``, into ``out`` (an array of g's shape and dtype) where
    given. A float 0/1 mask: comparing and casting beats np.sign by 1.6-2.7x and where() by 5-10x (random masks);
    a NaN input gets gradient 0. One launch on a GPU."""
    if xp is not _np and y.dtype == g.dtype and y.dtype in (_np.float32, _np.float64):
        from ember.backend import cuda_kernels

        return _into(out, cuda_kernels.relu_grad()(y, g))
    if g.__class__ is not _np.ndarray or y.__class__ is not _np.ndarray or g.dtype != y.dtype \
            or g.shape != y.shape or g.dtype not in _ZEROS_DTYPES or (out is not None and _np.may_share_memory(out, g)):
        return _into(out, g * (y > 0).astype(y.dtype))
    if g.size >= _ONEDNN_ELEMENTS and onednn.runs(g.dtype) and not _np.isnan(_np.maximum.reduce(y, axis=None)):
        # the same numbers on OpenMP's threads, the NaN check included 1.7-2x faster from 2^18 elements (oneDNN
        # passes g where y is NaN, as PyTorch does; Ember's gradient there is 0)
        result = onednn.relu_grad(g, y)
        if result is not None:
            return _into(out, result)
    # the comparison written as floats straight into the result, then multiplied there: two passes and no
    # temporary (mask * g is g * mask bit for bit, signed zeros and NaNs included)
    result = _np.empty(g.shape, g.dtype) if out is None else out
    _np.greater(y, 0, out=result)
    return _np.multiply(result, g, out=result)


def _into(out, result):
    """``result``, or ``out`` holding it when given."""
    if out is None:
        return result
    out[...] = result
    return out


def _relu_grad_infer(g, out):
    from ember.ops.infer import same_dtype

    return Spec(tuple(g.shape), same_dtype("relu_grad", [g, out]))


# relu's gradient as one primitive (PyTorch's threshold_backward): one call in eager mode, its GPU kernel in
# the forward, and a vjp of its own for higher-order gradients (the mask's derivative: zeros for y, as PyTorch's).
RELU_GRAD = defop(
    "relu_grad",
    forward=_relu_grad_forward,
    infer=_relu_grad_infer,
    vjp=lambda ctx, gg: (dispatch.apply(RELU_GRAD, (gg, ctx.inputs[1])) if ctx.needs[0] else None,
                         fill_like(ctx.inputs[1], 0, ctx.inputs[1].dtype) if ctx.needs[1] else None),
    cost=elementwise_cost(2),
    onnx=NO_ONNX,
    elementwise=True,
    fresh=True,
    writes_out=True,
    in_place=False,  # the forward writes the mask into ``out`` before it reads g
    fusion=Fusion("where({1} > {zero}, {0}, {0} * {zero})", selects=True),
)


def _erf_forward(xp, x):
    if x.dtype.itemsize >= 8:  # float64 is what references and gradient checks use: within an ulp or two
        if xp is not _np:
            from cupyx.scipy.special import erf as cuda_erf

            return cuda_erf(x)
        return special_kernels.erf(xp, x)
    return special_kernels.erf_single(xp, x.astype(_np.float32) if x.dtype.itemsize < 4 else x).astype(x.dtype)


def _erf_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (g * _typed(g, 2.0 / math.sqrt(math.pi)) * run(EXP, run(NEG, x * x)),)


ERF = _unary("erf", _erf_forward, vjp_rule(_erf_rule),
             onnx="Erf", flops=20, fusion=NOT_FUSIBLE)


# --- logarithms, inverse trigonometric and hyperbolic functions (PyTorch's names, NumPy's ufuncs) ----------


def _inverse_sqrt_of(run, term):
    return _typed(term) / run(SQRT, term)


# A complex input's rules take conj of the derivative, not the derivative at conj(z): on a branch cut (asin of a real
# z > 1) the two differ in sign, and PyTorch's is the first


def _log2_rule(run, ctx, g):
    x = _conj(run, ctx.inputs[0])
    return (g / (x * _typed(x, math.log(2.0))),)


def _log10_rule(run, ctx, g):
    x = _conj(run, ctx.inputs[0])
    return (g / (x * _typed(x, math.log(10.0))),)


def _asin_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (g * _conj(run, _inverse_sqrt_of(run, _typed(x) - x * x)),)


def _acos_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (run(NEG, g * _conj(run, _inverse_sqrt_of(run, _typed(x) - x * x))),)


def _asinh_rule(run, ctx, g):
    x = ctx.inputs[0]
    return (g * _conj(run, _inverse_sqrt_of(run, x * x + _typed(x))),)


def _acosh_rule(run, ctx, g):
    x = ctx.inputs[0]
    if x.dtype in COMPLEX:  # 1 / sqrt(z^2 - 1) has the wrong sign left of the imaginary axis
        return (g * run(CONJ, _inverse_sqrt_of(run, x - _typed(x)) * _inverse_sqrt_of(run, x + _typed(x))),)
    return (g * _inverse_sqrt_of(run, x * x - _typed(x)),)


def _atan_rule(run, ctx, g):
    x = _conj(run, ctx.inputs[0])
    return (g / (x * x + _typed(x)),)


def _atanh_rule(run, ctx, g):
    x = _conj(run, ctx.inputs[0])
    return (g / (_typed(x) - x * x),)


def _unary_math(name, ufunc, rule, onnx, fusion, **traits):
    return _unary(name, lambda xp, x: getattr(xp, ufunc.__name__)(x), vjp_rule(rule), onnx=onnx, flops=8,
                  infer=unary_inexact(name), ufunc=ufunc, fusion=Fusion(fusion, exact=False) if fusion else NOT_FUSIBLE,
                  **traits)


LOG2 = _unary_math("log2", _np.log2, _log2_rule, NO_ONNX, "log2({0})", autocast=FLOAT32)
LOG10 = _unary_math("log10", _np.log10, _log10_rule, NO_ONNX, "log10({0})", autocast=FLOAT32)
# exp(x), not expm1(x) + 1 from the output, which cancels far below 0 (elu's gradient at -15 in float32 was 2.6% off,
# at -30 0 for 9.4e-14)
EXPM1 = _unary_math("expm1", _np.expm1, lambda run, ctx, g: (g * run(EXP, _conj(run, ctx.inputs[0])),), NO_ONNX,
                    "expm1({0})", autocast=FLOAT32)
ASIN = _unary_math("asin", _np.arcsin, _asin_rule, "Asin", "arcsin({0})")
ACOS = _unary_math("acos", _np.arccos, _acos_rule, "Acos", "arccos({0})")
ATAN = _unary_math("atan", _np.arctan, _atan_rule, "Atan", "arctan({0})")
SINH = _unary_math("sinh", _np.sinh, lambda run, ctx, g: (g * run(COSH, _conj(run, ctx.inputs[0])),), "Sinh",
                   "sinh({0})")
COSH = _unary_math("cosh", _np.cosh, lambda run, ctx, g: (g * run(SINH, _conj(run, ctx.inputs[0])),), "Cosh",
                   "cosh({0})")
ASINH = _unary_math("asinh", _np.arcsinh, _asinh_rule, "Asinh", "arcsinh({0})")
ACOSH = _unary_math("acosh", _np.arccosh, _acosh_rule, "Acosh", "arccosh({0})")
ATANH = _unary_math("atanh", _np.arctanh, _atanh_rule, "Atanh", "arctanh({0})")


def _softplus_forward(xp, x, *, beta, threshold):
    z = x * x.dtype.type(beta)
    # max(z, 0) + log1p(exp(-|z|)) is stable for any z; above threshold the result is linear.
    soft = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / x.dtype.type(beta)
    return xp.where(z > threshold, x, soft)


def _softplus_rule(run, ctx, g):
    x = ctx.inputs[0]
    z = x * _typed(x, ctx.attrs["beta"])
    return (run(WHERE, z > _typed(x, ctx.attrs["threshold"]), g, g * run(SIGMOID, z)),)


SOFTPLUS = _unary("softplus", _softplus_forward, vjp_rule(_softplus_rule), onnx="Softplus", flops=20,
                  fusion=NOT_FUSIBLE, autocast=FLOAT32)


def _clip_forward(xp, x, *, min, max):
    out = xp.clip(x, min, max)
    # NumPy promotes bfloat16 (an ml_dtypes type) with a Python bound to float32; the shape rule keeps x's dtype
    return out.astype(x.dtype) if out.dtype != x.dtype and x.dtype in LOW_PRECISION else out


def _clip_rule(run, ctx, g):
    x, lo, hi = ctx.inputs[0], ctx.attrs["min"], ctx.attrs["max"]
    # kept where x >= lo and x <= hi, so a NaN x gets none (PyTorch's mask), as a bound crossed
    if lo is not None:
        g = run(WHERE, x >= lo, g, _scalar(run, g, 0.0))
    if hi is not None:
        g = run(WHERE, x <= hi, g, _scalar(run, g, 0.0))
    return (g,)


CLIP = _unary("clip", _clip_forward, vjp_rule(_clip_rule), onnx="Clip", float_only=False, fresh=True,
              fusion=NOT_FUSIBLE)


def neg(x) -> TensorLike:
    """Elementwise ``-x``."""
    return dispatch.apply(NEG, (as_tensor(x),))


def exp(x) -> TensorLike:
    """Elementwise e**x."""
    return dispatch.apply(EXP, (to_inexact(x),))


def log(x) -> TensorLike:
    """Elementwise natural logarithm."""
    return dispatch.apply(LOG, (to_inexact(x),))


def log1p(x) -> TensorLike:
    """Elementwise log(1 + x), accurate for small x."""
    return dispatch.apply(LOG1P, (to_inexact(x),))


def log2(x) -> TensorLike:
    """Elementwise base-2 logarithm."""
    return dispatch.apply(LOG2, (to_inexact(x),))


def log10(x) -> TensorLike:
    """Elementwise base-10 logarithm."""
    return dispatch.apply(LOG10, (to_inexact(x),))


def expm1(x) -> TensorLike:
    """Elementwise e**x - 1, accurate for small x."""
    return dispatch.apply(EXPM1, (to_inexact(x),))


def asin(x) -> TensorLike:
    """Elementwise inverse sine."""
    return dispatch.apply(ASIN, (to_inexact(x),))


def acos(x) -> TensorLike:
    """Elementwise inverse cosine."""
    return dispatch.apply(ACOS, (to_inexact(x),))


def atan(x) -> TensorLike:
    """Elementwise inverse tangent."""
    return dispatch.apply(ATAN, (to_inexact(x),))


def sinh(x) -> TensorLike:
    """Elementwise hyperbolic sine."""
    return dispatch.apply(SINH, (to_inexact(x),))


def cosh(x) -> TensorLike:
    """Elementwise hyperbolic cosine."""
    return dispatch.apply(COSH, (to_inexact(x),))


def asinh(x) -> TensorLike:
    """Elementwise inverse hyperbolic sine."""
    return dispatch.apply(ASINH, (to_inexact(x),))


def acosh(x) -> TensorLike:
    """Elementwise inverse hyperbolic cosine."""
    return dispatch.apply(ACOSH, (to_inexact(x),))


def atanh(x) -> TensorLike:
    """Elementwise inverse hyperbolic tangent."""
    return dispatch.apply(ATANH, (to_inexact(x),))


def sqrt(x) -> TensorLike:
    """Elementwise square root."""
    return dispatch.apply(SQRT, (to_inexact(x),))


def abs(x) -> TensorLike:
    """Elementwise absolute value (gradient 0 at 0, like PyTorch)."""
    return dispatch.apply(ABS, (as_tensor(x),))


def sign(x) -> TensorLike:
    """Elementwise -1, 0 or 1 (complex tensors are refused, as PyTorch refuses them: ``sgn`` is their sign)."""
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("sign", [x])
    return dispatch.apply(SIGN, (x,))


def sin(x) -> TensorLike:
    """Elementwise sine."""
    return dispatch.apply(SIN, (to_inexact(x),))


def cos(x) -> TensorLike:
    """Elementwise cosine."""
    return dispatch.apply(COS, (to_inexact(x),))


def tanh(x) -> TensorLike:
    """Elementwise hyperbolic tangent."""
    return dispatch.apply(TANH, (to_inexact(x),))


def sigmoid(x) -> TensorLike:
    """Elementwise logistic function 1 / (1 + e**-x)."""
    return dispatch.apply(SIGMOID, (to_inexact(x),))


def relu(x) -> TensorLike:
    """Elementwise max(x, 0)."""
    return dispatch.apply(RELU, (as_tensor(x),))


def erf(x) -> TensorLike:
    """Elementwise Gauss error function."""
    return dispatch.apply(ERF, (to_float(x),))


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> TensorLike:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold (PyTorch's definition; a negative beta
    gives the smooth minimum -softplus(-x))."""
    if beta == 0:
        raise ValueError(f"softplus: beta must be non-zero, got {beta}")
    x = to_float(x)
    if x.dtype in LOW_PRECISION:  # float16 / bfloat16: computed in float32, rounded once (as PyTorch)
        return cast(softplus(cast(x, _np.float32), beta, threshold), x.dtype)
    return dispatch.apply(SOFTPLUS, (x,), {"beta": float(beta), "threshold": float(threshold)})


def clip(x, min=None, max=None) -> TensorLike:
    """Limit values to [min, max]; either bound may be None, a number or a Tensor (broadcast, and given the
    gradient where it is the value). The gradient passes to x where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    # a NumPy scalar bound is a Python number, as in PyTorch (np.clip would widen float32 by a np.float64 bound)
    min, max = (b.item() if isinstance(b, _np.generic) else b for b in (min, max))
    if isinstance(min, TensorLike) or isinstance(max, TensorLike):
        return _clip_by_tensors(as_tensor(x), min, max)
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        refuse_complex("clamp", [x])
    if type(min) is complex or type(max) is complex:  # (np.clip made a real tensor complex: [1+2j] for min=1+2j)
        if any(isinstance(b, complex) and b.imag for b in (min, max)):
            raise TypeError(f"clamp: a complex bound (min={min!r}, max={max!r}) cannot limit a {x.dtype} tensor, "
                            "as in PyTorch; give real numbers")
        min, max = (b.real if isinstance(b, complex) else b for b in (min, max))
    if x.array.dtype not in FLOATING and (isinstance(min, float) or isinstance(max, float)):
        x = to_float(x)  # a float bound is a weak scalar, as in int_tensor * 0.5
    if min is not None and max is not None and min > max:  # PyTorch: all max, no gradient to x
        return _clip_by_tensors(x, min, max)
    return dispatch.apply(CLIP, (x,), {"min": min, "max": max})


def _clip_by_tensors(x, lo, hi) -> TensorLike:
    """clip with a Tensor bound, as where() steps: the result's dtype is the operands' promotion, and a
    bound gets the gradient where it is the value (PyTorch's clamp). A NaN bound makes the result NaN, as
    PyTorch's, where neither x nor a bound gets a gradient (nor does a NaN x)."""
    if lo is not None:
        x = where(_or_nan(x < lo, lo), lo, x)
    if hi is not None:
        x = where(_or_nan(x > hi, hi), hi, x)
    return where(ne(x, x), _np.nan, x) if x.dtype in FLOATING else x


def _or_nan(hit, bound) -> TensorLike:
    bound = as_tensor(bound)
    return bitwise_or(hit, ne(bound, bound)) if bound.dtype in FLOATING else hit


# --- binary --------------------------------------------------------------------------------------------


def _add_rule(run, ctx, g):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs
    return (unbroadcast_with(run, g, a.shape) if need_a else None), \
        (unbroadcast_with(run, g, b.shape) if need_b else None)


def _sub_rule(run, ctx, g):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs
    return (unbroadcast_with(run, g, a.shape) if need_a else None), \
        (unbroadcast_with(run, run(NEG, g), b.shape) if need_b else None)


def _mul_rule(run, ctx, g):
    a, b = ctx.inputs
    if g.dtype in COMPLEX:
        a, b = run(CONJ, a), run(CONJ, b)
    return (
        unbroadcast_with(run, run(MUL, g, b), a.shape) if ctx.needs[0] else None,
        unbroadcast_with(run, run(MUL, g, a), b.shape) if ctx.needs[1] else None,
    )


def _div_rule(run, ctx, g):
    a, b = ctx.inputs
    if g.dtype in COMPLEX:
        a, b = run(CONJ, a), run(CONJ, b)
    return (
        unbroadcast_with(run, run(DIV, g, b), a.shape) if ctx.needs[0] else None,
        unbroadcast_with(run, run(DIV, run(NEG, run(MUL, g, a)), run(MUL, b, b)), b.shape) if ctx.needs[1] else None,
    )


def _pow_forward(xp, a, b):
    try:
        return xp.power(a, b)
    except ValueError:  # NumPy refuses integers to negative integer powers
        return _integer_power(xp, a, b)


def _integer_power(xp, a, b):
    """PyTorch's integer a ** b: where b < 0, 1 for a == 1, +-1 for a == -1 (b even, odd), else 0."""
    negative = b < 0
    inverse = xp.where(xp.abs(a) == 1, xp.power(a, b & 1), 0)
    return xp.where(negative, inverse, xp.power(a, xp.where(negative, 0, b))).astype(a.dtype, copy=False)


def _complex_pow_rule(run, ctx, g):
    """pow's gradient for complex a and b: g * conj(b a^(b-1)), 0 where b is 0, and g * conj(a^b log a), 0 where a
    is 0 (PyTorch's choices there, as for real ones)."""
    a, b = ctx.inputs
    ga = gb = None
    if ctx.needs[0]:
        zero = run(EQ, b, _scalar(run, b, 0.0))
        exponent = run(WHERE, zero, _scalar(run, b, 1.0), b) - _typed(b)
        ga = run(WHERE, zero, _scalar(run, g, 0.0), g * _conj(run, b * run(POW, a, exponent)))
        ga = unbroadcast_with(run, ga, a.shape)
    if ctx.needs[1]:
        nonzero = run(NE, a, _scalar(run, a, 0.0))
        log_a = run(LOG, run(WHERE, nonzero, a, _scalar(run, a, 1.0)))
        gb = unbroadcast_with(run, g * _conj(run, run(WHERE, nonzero, run(POW, a, b) * log_a, _scalar(run, a, 0.0))),
                              b.shape)
    return ga, gb


def _pow_rule(run, ctx, g):
    a, b = ctx.inputs
    if g.dtype in COMPLEX:
        return _complex_pow_rule(run, ctx, g)
    ga = gb = None
    if ctx.needs[0]:
        # 0 where b is 0, as PyTorch's: b * a^(b - 1) is 0 * inf at a = 0 (a ** 0 and the second derivative of a ** 1);
        # the masked branch takes exponent 1 there, so its own derivative (a second one of a ** 0) is no 0 * inf
        zero = run(EQ, b, _scalar(run, b, 0.0))
        exponent = run(WHERE, zero, _scalar(run, b, 1.0), b) - _typed(b)
        ga = run(WHERE, zero, _scalar(run, g, 0.0), g * b * run(POW, a, exponent))
        ga = unbroadcast_with(run, ga, a.shape)
    if ctx.needs[1]:
        # a^b log a, 0 where a is 0 and b >= 0 (PyTorch's choice); NaN where a < 0, whose log is undefined, as
        # PyTorch's (log a is taken at 1 where masked, so a second derivative stays finite there)
        zero = run(EQ, a, _scalar(run, a, 0.0)) & (b >= 0)
        log_a = run(LOG, run(WHERE, zero, _scalar(run, a, 1.0), a))
        gb = unbroadcast_with(run, run(WHERE, zero, _scalar(run, g, 0.0), g * run(POW, a, b) * log_a), b.shape)
    return ga, gb


def _extremum_vjp(wins_when_greater: bool):
    def rule(run, ctx, g):
        a, b = ctx.inputs
        a_wins, b_wins = (a > b, a < b) if wins_when_greater else (a < b, a > b)
        # PyTorch's rule: a tie halves g, and where either is NaN (neither wins) both get all of it
        shared = run(WHERE, a == b, g * _typed(g, 0.5), g)
        zero = _scalar(run, g, 0.0)
        ga, gb = run(WHERE, b_wins, zero, shared), run(WHERE, a_wins, zero, shared)
        return unbroadcast_with(run, ga, a.shape), unbroadcast_with(run, gb, b.shape)

    return vjp_rule(rule)


def _atan2_rule(run, ctx, g):
    a, b = ctx.inputs
    squares = a * a + b * b
    origin = run(EQ, squares, _scalar(run, squares, 0.0))  # atan2(0, 0): gradient 0, as PyTorch's (not 0 / 0)
    scale = run(WHERE, origin, _scalar(run, g, 0.0), g / run(WHERE, origin, _scalar(run, squares, 1.0), squares))
    return (unbroadcast_with(run, scale * b, a.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, run(NEG, scale * a), b.shape) if ctx.needs[1] else None)


def _on_onednn(kind: str, a, b):
    """``a + b``, ``a * b`` or ``a - b`` of two C-ordered float32 NumPy arrays of one shape and at least
    ``_ONEDNN_ELEMENTS`` elements on oneDNN's threads (NumPy's numbers, 1.6-2.9x faster), else None."""
    if a.__class__ is _np.ndarray and b.__class__ is _np.ndarray and a.size >= _ONEDNN_ELEMENTS \
            and a.shape == b.shape:
        return onednn.binary(kind, a, b)
    return None


_UFUNCS = {"add": _np.add, "sub": _np.subtract, "mul": _np.multiply}


def array_binary(kind: str, a, b, out=None):
    """``a + b``, ``a - b`` or ``a * b`` (``kind``: "add", "sub", "mul") of arrays, into ``out`` when given, as
    NumPy computes it; large C-ordered float32 NumPy operands, ``b`` of ``a``'s shape or a row of its last axes
    (a per-channel value spread over a row), run on oneDNN's threads with the same numbers (1.7-2.3x faster)."""
    if a.__class__ is _np.ndarray and b.__class__ is _np.ndarray and a.size >= _ONEDNN_ELEMENTS:
        result = onednn.binary(kind, a, b, out)
        if result is not None:
            return result
    return _UFUNCS[kind](a, b) if out is None else _UFUNCS[kind](a, b, out=out)


def _add_forward(xp, a, b):
    result = _on_onednn("add", a, b)
    return a + b if result is None else result


def _sub_forward(xp, a, b):
    result = _on_onednn("sub", a, b)
    return a - b if result is None else result


def _mul_forward(xp, a, b):
    result = _on_onednn("mul", a, b)
    return a * b if result is None else result


ADD = _binary("add", _add_forward, vjp_rule(_add_rule), onnx="Add", ufunc=_np.add, infix="+",
              complex_inputs=True, fusion=Fusion("({0} + {1})"), right_identity=-0.0, left_identity=-0.0, vjp_reads=())
SUB = _binary("sub", _sub_forward, vjp_rule(_sub_rule), onnx="Sub", ufunc=_np.subtract, infix="-",
              complex_inputs=True, fusion=Fusion("({0} - {1})"), right_identity=0.0, vjp_reads=())
MUL = _binary("mul", _mul_forward, vjp_rule(_mul_rule), onnx="Mul", ufunc=_np.multiply, infix="*",
              complex_inputs=True, fusion=Fusion("({0} * {1})"), right_identity=1, left_identity=1)
DIV = _binary("div", lambda xp, a, b: xp.true_divide(a, b), vjp_rule(_div_rule), onnx="Div", ufunc=_np.true_divide,
              complex_inputs=True,
              infix="/", fusion=Fusion("({0} / {1})"), right_identity=1)
# NumPy's power on one-element scalars differs from its array loop (in 5-20% of random operands): no
# code on NumPy scalars for it (scalar_exact)
POW = _binary("pow", _pow_forward, vjp_rule(_pow_rule), onnx="Pow", flops=10, ufunc=_np.power, infix="**",
              complex_inputs=True,
              lower=_through_forward(_pow_forward, "i"), scalar_exact=False,
              fusion=Fusion("({0} ** {1})", exact=False), right_identity=1, autocast=FLOAT32,
              bool_inputs=False)
# numexpr's maximum/minimum compute float32 in float64, hence the where() forms, NumPy's choice bit for bit: a NaN
# first operand, else the second one unless the first is strictly larger (smaller): max(-0.0, 0.0) is 0.0
MAXIMUM = _binary("maximum", lambda xp, a, b: xp.maximum(a, b), _extremum_vjp(True), onnx="Max", ufunc=_np.maximum,
                  fusion=Fusion("where(({0} > {1}) | ({0} != {0}), {0}, {1})", selects=True))
MINIMUM = _binary("minimum", lambda xp, a, b: xp.minimum(a, b), _extremum_vjp(False), onnx="Min", ufunc=_np.minimum,
                  fusion=Fusion("where(({0} < {1}) | ({0} != {0}), {0}, {1})", selects=True))
ATAN2 = _binary("atan2", lambda xp, a, b: xp.arctan2(a, b), vjp_rule(_atan2_rule), onnx=NO_ONNX, flops=20,
                ufunc=_np.arctan2, fusion=Fusion("arctan2({0}, {1})", exact=False))
def _nonzero_integer_divisor(name: str, xp, b) -> None:
    """PyTorch's ZeroDivisionError for an integer division by zero on the CPU, where NumPy gives 0 (a GPU, as
    PyTorch's, does not check)."""
    if xp is _np and b.dtype.kind in "iu" and not _np.all(b):
        raise ZeroDivisionError(f"{name}: integer division by zero ({b.dtype} divisor of shape {list(b.shape)})")


def _floor_divide_forward(xp, a, b):
    _nonzero_integer_divisor("floor_divide", xp, b)
    return xp.floor_divide(a, b)


FLOOR_DIVIDE = _binary("floor_divide", _floor_divide_forward, vjp_rule(_zero_rule), vjp_reads=(),
                       onnx=NO_ONNX, fusion=NOT_FUSIBLE, bool_inputs=False)


def _trunc_divide_forward(xp, a, b):
    if a.dtype in FLOATING:
        return xp.trunc(xp.true_divide(a, b))
    _nonzero_integer_divisor("trunc_divide", xp, b)
    quotient = xp.floor_divide(a, b)
    return quotient + ((quotient < 0) & (quotient * b != a))  # floor rounds a negative inexact quotient down


TRUNC_DIVIDE = _binary("trunc_divide", _trunc_divide_forward, vjp_rule(_zero_rule), onnx=NO_ONNX, fusion=NOT_FUSIBLE,
                       bool_inputs=False, vjp_reads=())


def _remainder_rule(run, ctx, g):
    a, b = ctx.inputs  # a - floor(a / b) * b, the floor's derivative zero (PyTorch's)
    return (unbroadcast_with(run, g, a.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, run(NEG, run(MUL, g, run(FLOOR_DIVIDE, a, b))), b.shape) if ctx.needs[1] else None)


def _remainder_forward(xp, a, b):
    _nonzero_integer_divisor("remainder", xp, b)
    out = xp.remainder(a, b)
    if out.dtype in FLOATING:  # a zero takes a's sign, as PyTorch's (C's fmod); NumPy's takes b's
        out = xp.where(out == 0, xp.copysign(out, a), out)
    return out


REMAINDER = _binary("remainder", _remainder_forward, vjp_rule(_remainder_rule), onnx="Mod",
                    fusion=NOT_FUSIBLE, bool_inputs=False)

EQ = _binary("eq", lambda xp, a, b: a == b, NON_DIFFERENTIABLE, onnx="Equal", out_dtype=bool_, ufunc=_np.equal,
             complex_inputs=True,
             infix="==", fusion=Fusion("({0} == {1})"))
NE = _binary("ne", lambda xp, a, b: a != b, NON_DIFFERENTIABLE, onnx=NO_ONNX, out_dtype=bool_, complex_inputs=True,
             ufunc=_np.not_equal, infix="!=", fusion=Fusion("({0} != {1})"))
LT = _binary("lt", lambda xp, a, b: a < b, NON_DIFFERENTIABLE, onnx="Less", out_dtype=bool_, ufunc=_np.less,
             infix="<", fusion=Fusion("({0} < {1})"))
LE = _binary("le", lambda xp, a, b: a <= b, NON_DIFFERENTIABLE, onnx="LessOrEqual", out_dtype=bool_,
             ufunc=_np.less_equal, infix="<=", fusion=Fusion("({0} <= {1})"))
GT = _binary("gt", lambda xp, a, b: a > b, NON_DIFFERENTIABLE, onnx="Greater", out_dtype=bool_, ufunc=_np.greater,
             infix=">", fusion=Fusion("({0} > {1})"))
GE = _binary("ge", lambda xp, a, b: a >= b, NON_DIFFERENTIABLE, onnx="GreaterOrEqual", out_dtype=bool_,
             ufunc=_np.greater_equal, infix=">=", fusion=Fusion("({0} >= {1})"))
BITWISE_AND = _binary("bitwise_and", lambda xp, a, b: a & b, NON_DIFFERENTIABLE, onnx="And", fusion=NOT_FUSIBLE)
BITWISE_OR = _binary("bitwise_or", lambda xp, a, b: a | b, NON_DIFFERENTIABLE, onnx="Or", fusion=NOT_FUSIBLE)
BITWISE_XOR = _binary("bitwise_xor", lambda xp, a, b: a ^ b, NON_DIFFERENTIABLE, onnx="Xor", fusion=NOT_FUSIBLE)
INVERT = _unary("invert", lambda xp, x: ~x, NON_DIFFERENTIABLE, onnx="Not", float_only=False, fusion=NOT_FUSIBLE)


def _sparse_as_dense(a, b) -> tuple:
    """``a`` and ``b`` with a sparse (COO or CSR) operand as its dense tensor, as PyTorch's dense + sparse; asked
    only after ``promote`` failed, so dense sums pay nothing for it."""
    def dense(x):
        return x.to_dense() if getattr(x, "_sparse_layout", False) else x

    return promote(dense(a), dense(b))


def checked_alpha(name: str, dtype, alpha, argument: str = "alpha"):
    """``alpha`` for scaling operands of ``dtype`` (add's ``a`` and ``b`` promoted), as PyTorch: it keeps that
    dtype, so a float alpha needs a floating or complex one, a complex alpha a complex one, a bool alpha a bool one,
    and a bool result reads any alpha as its truth (``bool + 2 * bool`` stays bool). ``argument`` names it in errors."""
    if isinstance(alpha, (bool, _np.bool_)):
        if dtype != bool_:
            raise TypeError(f"{name}: a bool {argument}={alpha} needs bool operands, got {dtype}")
        return alpha
    if isinstance(alpha, (complex, _np.complexfloating)) and dtype not in COMPLEX:
        raise TypeError(f"{name}: a complex {argument}={alpha} needs complex operands, got {dtype}")
    if isinstance(alpha, (float, _np.floating)) and dtype.kind in "iub":
        raise TypeError(f"{name}: a float {argument}={alpha} needs floating-point operands, got {dtype}")
    return bool(alpha) if dtype == bool_ and isinstance(alpha, (int, _np.integer)) else alpha


def _with_alpha(op, name: str, sign: str):
    """``add`` or ``sub``: ``a {sign} alpha * b`` with broadcasting. One body for the two, which are ``Tensor``'s
    ``+`` and ``-`` themselves (so no helper call on that path)."""

    def fn(a, b, *, alpha=1) -> TensorLike:
        try:
            operands = promote(a, b)
        except TypeError:
            operands = _sparse_as_dense(a, b)
        if alpha != 1:
            dtype = operands[0].array.dtype
            alpha = checked_alpha(name, dtype, alpha)
            if dtype in LOW_PRECISION:  # a + alpha * b in float32 (alpha in dtype), rounded once, as PyTorch
                alpha = float(_np.asarray(alpha, dtype))
                return cast(fn(cast(operands[0], float32), cast(operands[1], float32), alpha=alpha), dtype)
            operands = promote(operands[0], mul(operands[1], alpha))
        return dispatch.apply(op, operands)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Elementwise a {sign} b (PyTorch's ``a {sign} alpha * b``) with broadcasting; a sparse (COO or "
                  f"CSR) operand counts as its dense tensor.")
    return fn


add = _with_alpha(ADD, "add", "+")
sub = _with_alpha(SUB, "sub", "-")


def mul(a, b) -> TensorLike:
    """Elementwise a * b with broadcasting; with a sparse (COO or CSR) operand, the sparse tensor's product (sparse,
    as PyTorch's)."""
    try:
        operands = promote(a, b)
    except TypeError:  # a sparse tensor is no array; asked only here, as in add
        if getattr(b, "_sparse_layout", False):
            return b * a
        if getattr(a, "_sparse_layout", False):
            return a * b
        raise
    if operands[0].array.dtype in LOW_PRECISION and _scalar_beside(a, b, operands[0].array.dtype):
        return _with_float32_scalar(MUL, a, b, operands[0].array.dtype)
    return dispatch.apply(MUL, operands)


def _scalar_beside(a, b, dtype) -> bool:
    """Whether one of ``a`` and ``b`` (whose product or quotient has the low-precision ``dtype``) is a number or a
    0-d tensor of another dtype: PyTorch's CPU kernels multiply and divide by such a scalar in float32, unrounded."""
    for x in (a, b):
        if isinstance(x, TensorLike):
            if not x.shape and x.array.dtype is not dtype:
                return True
        elif x.__class__ is not complex and float(_np.asarray(x, dtype)) != x:  # a number the dtype holds is exact
            return True
    return False


def _with_float32_scalar(op, a, b, dtype) -> TensorLike:
    """``op(a, b)`` of a float16/bfloat16 tensor and a scalar, in float32 and rounded once: rounded to bfloat16 first,
    the scalar would be off by up to 0.4% (``x * 0.9`` would multiply by 0.8984375)."""
    a = cast(a, float32) if isinstance(a, TensorLike) else a
    b = cast(b, float32) if isinstance(b, TensorLike) else b
    return cast(dispatch.apply(op, promote(a, b)), dtype)


def square(x) -> TensorLike:
    """Elementwise ``x * x`` (bools square as int64, as in PyTorch)."""
    x = as_tensor(x)
    if x.dtype == bool_:
        x = cast(x, int64)
    return dispatch.apply(MUL, (x, x))


def true_divide(a, b) -> TensorLike:
    """Elementwise true division; integers divide as floats."""
    operands = promote_inexact(a, b)
    if operands[0].array.dtype in LOW_PRECISION and _scalar_beside(a, b, operands[0].array.dtype):
        return _with_float32_scalar(DIV, a, b, operands[0].array.dtype)
    return dispatch.apply(DIV, operands)


_ROUNDING_MODES = (None, "trunc", "floor")


def div(a, b, *, rounding_mode: str | None = None) -> TensorLike:
    """Elementwise a / b (``true_divide``); ``rounding_mode="trunc"`` rounds the quotient toward zero and
    ``"floor"`` down, in the operands' dtype (integers stay integers), with no gradient (PyTorch's ``div``)."""
    if rounding_mode is None:
        return true_divide(a, b)
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        operands = _no_bools("trunc_divide", a, b)
        if operands[0].array.dtype in LOW_PRECISION and _scalar_beside(a, b, operands[0].array.dtype):
            return _with_float32_scalar(TRUNC_DIVIDE, a, b, operands[0].array.dtype)
        return dispatch.apply(TRUNC_DIVIDE, operands)
    raise ValueError(f"div: rounding_mode must be one of {_ROUNDING_MODES}, got {rounding_mode!r}")


def _no_bools(name: str, a, b) -> tuple:
    """The promoted operands of ``name``, refused when they are bools (NumPy's int8 result would differ from the
    graph's shape rule; PyTorch raises)."""
    a, b = promote(a, b)
    if a.array.dtype is bool_:
        refuse_bool(name, [Spec(a.shape, a.dtype), Spec(b.shape, b.dtype)])
    return a, b


def power(a, b) -> TensorLike:
    """Elementwise a ** b (not defined for two bools, as in PyTorch, except a bool tensor to a Python bool:
    ``x ** True`` is x, ``x ** False`` all True)."""
    x, y = promote(a, b)
    if x.array.dtype is bool_:
        if b.__class__ is bool and isinstance(a, TensorLike):
            return bitwise_or(x, not b)
        refuse_bool("pow", [Spec(x.shape, x.dtype), Spec(y.shape, y.dtype)])
    if (b.__class__ is int or isinstance(b, _np.integer)) and b < 0 and x.dtype.kind in "iu":
        # (a tensor exponent gives 0 or +-1, as PyTorch's; a NumPy int is a number, which uint8 would wrap to 254)
        raise RuntimeError(f"pow: integers to negative integer powers are not allowed ({x.dtype}{list(x.shape)} "
                           f"** {b}); use a float tensor or float_power")
    return dispatch.apply(POW, (x, y))


def atan2(a, b) -> TensorLike:
    """Elementwise angle of the point (b, a): the arctangent of a / b in the right quadrant (integers as floats)."""
    a, b = promote_inexact(a, b)
    return dispatch.apply(ATAN2, (to_float(a), to_float(b)))


def maximum(a, b) -> TensorLike:
    """Elementwise larger value; on ties the gradient is split evenly."""
    return dispatch.apply(MAXIMUM, _ordered("maximum", a, b))


def minimum(a, b) -> TensorLike:
    """Elementwise smaller value; on ties the gradient is split evenly."""
    return dispatch.apply(MINIMUM, _ordered("minimum", a, b))


def floor_divide(a, b) -> TensorLike:
    """Elementwise floor(a / b) (no gradient; not defined for two bools, as in PyTorch)."""
    operands = _no_bools("floor_divide", a, b)
    if operands[0].array.dtype in LOW_PRECISION and _scalar_beside(a, b, operands[0].array.dtype):
        return _with_float32_scalar(FLOOR_DIVIDE, a, b, operands[0].array.dtype)
    return dispatch.apply(FLOOR_DIVIDE, operands)


def remainder(a, b) -> TensorLike:
    """Elementwise a mod b with the sign of b, like Python's % (not defined for two bools, as in PyTorch); the
    gradient is PyTorch's: 1 for a, -floor(a / b) for b."""
    return dispatch.apply(REMAINDER, _no_bools("remainder", a, b))


def eq(a, b) -> TensorLike:
    """Elementwise a == b (bool)."""
    return dispatch.apply(EQ, promote(a, b))


def ne(a, b) -> TensorLike:
    """Elementwise a != b (bool)."""
    return dispatch.apply(NE, promote(a, b))


def lt(a, b) -> TensorLike:
    """Elementwise a < b (bool)."""
    return dispatch.apply(LT, _ordered("lt", a, b))


def le(a, b) -> TensorLike:
    """Elementwise a <= b (bool)."""
    return dispatch.apply(LE, _ordered("le", a, b))


def gt(a, b) -> TensorLike:
    """Elementwise a > b (bool)."""
    return dispatch.apply(GT, _ordered("gt", a, b))


def ge(a, b) -> TensorLike:
    """Elementwise a >= b (bool)."""
    return dispatch.apply(GE, _ordered("ge", a, b))


def _ordered(name: str, a, b) -> tuple:
    """The promoted operands of an op that orders them, refused when complex (NumPy orders complex numbers
    lexicographically; PyTorch refuses)."""
    a, b = promote(a, b)
    if a.dtype in COMPLEX:
        refuse_complex(name, [a, b])
    return a, b


def _integral(name, a, b):
    a, b = promote(a, b)
    if a.dtype.kind not in "biu":
        raise TypeError(f"{name}: needs bool or integer tensors, got {a.dtype}")
    return a, b


def bitwise_and(a, b) -> TensorLike:
    """Elementwise a & b on bool or integer tensors (logical and for masks)."""
    return dispatch.apply(BITWISE_AND, _integral("bitwise_and", a, b))


def bitwise_or(a, b) -> TensorLike:
    """Elementwise a | b on bool or integer tensors."""
    return dispatch.apply(BITWISE_OR, _integral("bitwise_or", a, b))


def bitwise_xor(a, b) -> TensorLike:
    """Elementwise a ^ b on bool or integer tensors."""
    return dispatch.apply(BITWISE_XOR, _integral("bitwise_xor", a, b))


def invert(x) -> TensorLike:
    """Elementwise ~x: logical not for bool, bitwise not for integers."""
    x = as_tensor(x)
    if x.dtype.kind not in "biu":
        raise TypeError(f"invert: needs a bool or integer tensor, got {x.dtype}")
    return dispatch.apply(INVERT, (x,))


# --- where ---------------------------------------------------------------------------------------------


def _where_infer(cond, a, b):
    from ember.ops.infer import broadcast_shapes, same_dtype
    from ember.ops.registry import Spec, shape_error

    if cond.dtype != bool_:
        raise shape_error("where", [cond, a, b], "the condition must be bool")
    return Spec(broadcast_shapes("where", [cond, a, b]), same_dtype("where", [a, b]))


def _where_rule(run, ctx, g):
    cond, a, b = ctx.inputs
    zero = _scalar(run, g, 0.0)
    return (
        None,
        unbroadcast_with(run, run(WHERE, cond, g, zero), a.shape) if ctx.needs[1] else None,
        unbroadcast_with(run, run(WHERE, cond, zero, g), b.shape) if ctx.needs[2] else None,
    )


WHERE = defop(
    "where",
    forward=lambda xp, cond, a, b: xp.where(cond, a, b),
    infer=_where_infer,
    vjp=vjp_rule(_where_rule),
    cost=elementwise_cost(1),
    onnx="Where",
    elementwise=True,
    ufunc=_np.where,
    writes_out=False,  # np.where has no out=
    fresh=True,
    fusion=Fusion("where({0}, {1}, {2})", selects=True),
    vjp_reads=(0,),  # the condition: the branches' gradients are the incoming one masked
)


_ONE_ARGUMENT = object()


def where(condition, a=_ONE_ARGUMENT, b=_ONE_ARGUMENT) -> TensorLike | tuple:
    """Pick ``a`` where ``condition`` holds, else ``b`` (all three broadcast). ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``: the indices of the true elements, one int64 tensor per dimension."""
    if a is _ONE_ARGUMENT or b is _ONE_ARGUMENT:
        if a is not b:
            raise TypeError("where: give both a and b, or neither (the indices of the true elements)")
        return nonzero(condition, as_tuple=True)
    numbers = [v for v in (a, b) if v.__class__ is int or isinstance(v, _np.integer)]
    a, b = promote(a, b)
    if numbers and a.array.dtype.kind in "iu":  # a Python int the tensor's integer dtype cannot hold would wrap
        for number in numbers:  # (1000 to -24 in int8): refused as PyTorch refuses it
            check_fill_value("where", number, a.array.dtype)
    condition = as_tensor(condition, a)
    if condition.array.dtype != bool_:
        raise TypeError(f"where: the condition must be a bool tensor, got {condition.dtype}")
    return dispatch.apply(WHERE, (condition, a, b))


def nonzero(x, *, as_tuple: bool = False) -> TensorLike | tuple:
    """The indices of the non-zero (true) elements of x, in row-major order: an int64 tensor of shape
    (count, x.ndim), or with ``as_tuple`` one index tensor per dimension (PyTorch's ``nonzero``)."""
    x = as_tensor(x)
    if x.symbolic:
        raise TypeError(f"nonzero: how many indices there are depends on the values of {x!r}, which a graph "
                        "does not have while it is built; use a mask with where(condition, a, b)")
    array = x.array
    xp = array_module(array)
    indices = tuple(i.astype(_np.int64) for i in xp.nonzero(array.reshape(1) if array.ndim == 0 else array))
    if as_tuple:
        return tuple(dispatch.wrap(i) for i in indices)
    return dispatch.wrap(xp.stack(indices, axis=1) if array.ndim else xp.zeros((len(indices[0]), 0), _np.int64))

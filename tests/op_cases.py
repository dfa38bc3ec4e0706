"""The op test table: one or more rows per registry op (conv and pooling rows live in op_cases_conv.py) and
rows for the composite functions built from them. tests/test_ops.py runs the generic tests over every row.

Inputs are small so finite differences stay cheap. Inputs of differentiable rows keep a gap from kinks
(relu and abs at 0, clip bounds, huber's delta) and from domain edges (log, sqrt, pow), so a central
difference with h ~ 1e-6 never straddles one.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from op_table import OpCase
from scipy import linalg as sla  # a test dependency (scikit-learn's): references for LU and matrix_exp
from scipy import special as sps  # a test dependency (scikit-learn's): references for ember.special

import ember
from ember.ops import dispatch as _ops_dispatch
from ember.ops.batch_norm import batch_moments
from ember.ops.eig import complex_solve
from ember.ops.linalg import linear_relu
from ember.ops.recurrent import recurrent
from ember.ops.sized import ARANGE_SIZED, RESHAPE_SIZED, fill_like, slice_sized

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch comparisons are skipped
    torch = F = None

CASES: list[OpCase] = []


def _row(name, fn, ref, inputs, covers, torch_fn=None, **options):
    covers = (covers,) if isinstance(covers, str) else tuple(covers)
    CASES.append(OpCase(name=name, fn=fn, ref=ref, inputs=inputs, covers=covers, torch_fn=torch_fn, **options))


# --- samplers: each takes the row's Generator and returns one array ---------------------------------------


def normal(*shape, scale=1.0, shift=0.0):
    return lambda rng: rng.standard_normal(shape) * scale + shift


def uniform(lo, hi, *shape):
    return lambda rng: rng.uniform(lo, hi, shape)


def away(*shape, points=(0.0,), gap=0.1, scale=1.0):
    """Normal samples at least ``gap`` from every point in ``points`` (kinks of the op)."""

    def sample(rng):
        x = rng.standard_normal(shape) * scale
        for p in points:
            d = x - p
            x = np.where(np.abs(d) < gap, p + np.where(d >= 0, gap, -gap) + d, x)
        return x

    return sample


def ints(lo, hi, *shape):
    return lambda rng: rng.integers(lo, hi, shape)


def int_floats(lo, hi, *shape, scale=1.0):
    """Float64 values on a grid (exact in float32 too): for comparisons with ties and for floor/mod."""
    return lambda rng: rng.integers(lo, hi, shape).astype(np.float64) * scale


def bools(*shape):
    return lambda rng: rng.random(shape) < 0.5


def const(value, dtype=None):
    return lambda rng: np.array(value, dtype)


def ins(*samplers):
    return lambda rng: [sample(rng) for sample in samplers]


def probabilities(*shape, axis=1):
    def sample(rng):
        e = np.exp(rng.standard_normal(shape))
        return e / e.sum(axis=axis, keepdims=True)

    return sample


def sorted_rows(sampler):
    """``sampler``'s samples sorted along their last axis (a searchsorted sequence)."""
    return lambda rng: np.sort(sampler(rng), axis=-1)


def some_ignored(sampler, value=-100, where=(1,)):
    """Integer targets with ``value`` at the given flat positions (for ignore_index)."""

    def sample(rng):
        t = np.array(sampler(rng))
        t.reshape(-1)[list(where)] = value
        return t

    return sample


# --- NumPy float64 references for the composite functions -----------------------------------------------


def np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def np_erfinv(y):
    """The inverse of math.erf by bisection on [-6, 6] (erf is increasing; 80 halvings reach float64's spacing)."""
    def one(target):
        lo, hi = -6.0, 6.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if math.erf(mid) < target else (lo, mid)
        return 0.5 * (lo + hi)

    return np.vectorize(one, otypes=[np.float64])(y)


def np_lgamma(x):
    return np.vectorize(math.lgamma, otypes=[np.float64])(x)


def np_standard_gamma_grad(alpha, x):
    """dx/dalpha at a fixed CDF: a central difference in alpha of the regularized incomplete gamma function
    (its series summed term by term), over the density."""
    def cdf(a, v):
        term = math.exp(a * math.log(v) - v - math.lgamma(a + 1))
        total, k = term, 1
        while term > 1e-18 * total:
            term *= v / (a + k)
            total += term
            k += 1
        return total

    def one(a, v):
        h = 1e-5 * a
        density = math.exp((a - 1) * math.log(v) - v - math.lgamma(a))
        return -(cdf(a + h, v) - cdf(a - h, v)) / (2 * h) / density

    return np.vectorize(one, otypes=[np.float64])(alpha, x)


def np_int_power(a, b):
    """Integer a ** b as PyTorch computes it: a negative exponent gives 1 / a ** -b truncated toward zero."""
    def one(x, y):
        return x ** y if y >= 0 else int(1 / x ** -y) if x else 0

    dtype = np.result_type(a, b)
    return np.frompyfunc(one, 2, 1)(a.astype(object), b.astype(object)).astype(dtype)


def np_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.logaddexp(0.0, beta * x) / beta)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_reduce(losses, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


def np_nll(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    picked = np.take_along_axis(logp, safe[:, None], axis=1)[:, 0]
    w = valid * (1.0 if weight is None else weight[safe])
    losses = -picked * w
    return losses.sum() / w.sum() if reduction == "mean" else np_reduce(losses, reduction)


def np_cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    logp = np_log_softmax(x, axis=1)
    classes = x.shape[1]
    w_row = (np.ones(classes) if weight is None else weight).reshape((1, classes) + (1,) * (x.ndim - 2))
    if target.dtype.kind == "f":
        t = target * (1.0 - label_smoothing) + label_smoothing / classes
        return np_reduce(-(logp * t * w_row).sum(axis=1), reduction)
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    w = valid * (1.0 if weight is None else weight[safe])
    nll = -np.take_along_axis(logp, safe[:, None], axis=1)[:, 0] * w
    smooth = -(logp * w_row).sum(axis=1) * valid / classes
    losses = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    return losses.sum() / w.sum() if reduction == "mean" else np_reduce(losses, reduction)


def np_ctc(logits, targets, input_lengths, target_lengths, blank=0, reduction="mean"):
    """CTC of log_softmax(logits) (T, N, C), one sequence at a time: the alpha recursion over the extended target
    (probabilities kept as logs), then PyTorch's reductions."""
    logp = np_log_softmax(logits, axis=2)
    starts = np.cumsum(target_lengths) - target_lengths
    losses = []
    for n, (frames, length) in enumerate(zip(input_lengths, target_lengths)):
        labels = targets[n, :length] if targets.ndim == 2 else targets[starts[n]:starts[n] + length]
        ext = [blank]
        for label in labels:
            ext += [label, blank]
        alpha = np.full(len(ext), -np.inf)
        alpha[:2] = logp[0, n, ext[:2]]
        for t in range(1, frames):
            prev = alpha.copy()
            for s in range(len(ext)):
                terms = [prev[s]] + ([prev[s - 1]] if s >= 1 else [])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    terms.append(prev[s - 2])
                alpha[s] = np.logaddexp.reduce(terms) + logp[t, n, ext[s]]
        losses.append(-np.logaddexp.reduce(alpha[-2:] if length else alpha[-1:]))
    losses = np.array(losses)
    if reduction == "mean":
        return np.mean(losses / np.maximum(target_lengths, 1))
    return np_reduce(losses, reduction)


def np_bce(x, t, weight=None, reduction="mean"):
    losses = -(t * np.maximum(np.log(x), -100.0) + (1 - t) * np.maximum(np.log(1 - x), -100.0))
    return np_reduce(losses if weight is None else losses * weight, reduction)


def np_bce_logits(x, t, weight=None, pos_weight=None, reduction="mean"):
    pw = 1.0 if pos_weight is None else pos_weight
    losses = pw * t * np.logaddexp(0.0, -x) + (1 - t) * np.logaddexp(0.0, x)
    return np_reduce(losses if weight is None else losses * weight, reduction)


def np_layer_norm(x, k, weight=None, bias=None, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return out * (1.0 if weight is None else weight) + (0.0 if bias is None else bias)


def np_batch_norm(x, mean, var, weight=None, bias=None, eps=1e-5):
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def np_batch_norm_train(x, weight=None, bias=None, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    return np_batch_norm(x, x.mean(axes), x.var(axes), weight, bias, eps)


def np_searchsorted_rows(boundaries, values, side="left"):
    rows, queries = boundaries.reshape(-1, boundaries.shape[-1]), values.reshape(-1, values.shape[-1])
    return np.stack([np.searchsorted(b, v, side) for b, v in zip(rows, queries)]).reshape(values.shape)


def np_gather(x, axis, index):
    return np.take_along_axis(x, index, axis=axis)


def np_scatter_add(x, axis, index, src):
    out = x.copy()
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    np.add.at(out, tuple(grids), src[tuple(slice(0, d) for d in index.shape)])
    return out


def np_index_add(x, indices, src, axis=0):
    out = x.copy()
    np.add.at(out, (slice(None),) * axis + (indices,), src)
    return out


def _dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


# --- elementwise unary ------------------------------------------------------------------------------------

UNARY_SHAPES = [(), (5,), (2, 3, 4)]
UNARY = [
    # name, ember, numpy, torch name, sampler factory, options
    ("neg", ember.neg, np.negative, "neg", normal, {}),
    ("exp", ember.exp, np.exp, "exp", normal, {}),
    ("log", ember.log, np.log, "log", lambda *s: uniform(0.3, 3.0, *s), {}),
    ("log1p", ember.log1p, np.log1p, "log1p", lambda *s: uniform(-0.6, 3.0, *s), {}),
    ("sqrt", ember.sqrt, np.sqrt, "sqrt", lambda *s: uniform(0.3, 3.0, *s), {}),
    ("abs", ember.abs, np.abs, "abs", away, {}),
    ("sin", ember.sin, np.sin, "sin", lambda *s: normal(*s, scale=2.0), {}),
    ("cos", ember.cos, np.cos, "cos", lambda *s: normal(*s, scale=2.0), {}),
    ("tanh", ember.tanh, np.tanh, "tanh", normal, {}),
    ("sigmoid", ember.sigmoid, np_sigmoid, "sigmoid", lambda *s: normal(*s, scale=3.0), {}),
    ("relu", ember.relu, lambda x: np.maximum(x, 0.0), "relu", away, {}),
    ("erf", ember.erf, np_erf, "erf", lambda *s: normal(*s, scale=1.5), {}),
    ("erfinv", ember.erfinv, np_erfinv, "erfinv", lambda *s: uniform(-0.9, 0.9, *s), {}),
    ("lgamma", ember.lgamma, np_lgamma, "lgamma", lambda *s: uniform(0.2, 6.0, *s), {}),
    ("softplus", ember.softplus, np_softplus, "nn.functional.softplus", lambda *s: normal(*s, scale=3.0), {}),
    ("log2", ember.log2, np.log2, "log2", lambda *s: uniform(0.3, 3.0, *s), {}),
    ("log10", ember.log10, np.log10, "log10", lambda *s: uniform(0.3, 3.0, *s), {}),
    ("expm1", ember.expm1, np.expm1, "expm1", normal, {}),
    ("asin", ember.asin, np.arcsin, "asin", lambda *s: uniform(-0.8, 0.8, *s), {}),
    ("acos", ember.acos, np.arccos, "acos", lambda *s: uniform(-0.8, 0.8, *s), {}),
    ("atan", ember.atan, np.arctan, "atan", lambda *s: normal(*s, scale=2.0), {}),
    ("sinh", ember.sinh, np.sinh, "sinh", normal, {}),
    ("cosh", ember.cosh, np.cosh, "cosh", normal, {}),
    ("asinh", ember.asinh, np.arcsinh, "asinh", lambda *s: normal(*s, scale=2.0), {}),
    ("acosh", ember.acosh, np.arccosh, "acosh", lambda *s: uniform(1.3, 4.0, *s), {}),
    ("atanh", ember.atanh, np.arctanh, "atanh", lambda *s: uniform(-0.8, 0.8, *s), {}),
]


def _torch_attr(path):
    def fn(*args):
        obj = torch
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj(*args)

    return fn


for _name, _fn, _ref, _tname, _sampler, _opts in UNARY:
    for _shape in UNARY_SHAPES:
        _row(f"{_name}_{len(_shape)}d", _fn, _ref, ins(_sampler(*_shape)), _name, _torch_attr(_tname), **_opts)

_row("standard_gamma_grad", ember.standard_gamma_grad, np_standard_gamma_grad,
     ins(uniform(0.3, 8.0, 2, 3), uniform(0.2, 6.0, 2, 3)), "standard_gamma_grad", grad=False, rtol=1e-6)
_row("sign", ember.sign, np.sign, ins(int_floats(-2, 3, 3, 4)), "sign", torch.sign if torch else None, grad=False)
_row("sign_int", ember.sign, np.sign, ins(ints(-3, 4, 6)), "sign", grad=False)
_row("sign_bool", lambda x: x.sign(), lambda x: x.copy(), ins(bools(2, 3)), "sign", torch and torch.sign, grad=False)
_row("abs_int", ember.abs, np.abs, ins(ints(-5, 5, 2, 3)), "abs", grad=False)
_row("neg_int", lambda x: -x, np.negative, ins(ints(-5, 5, 4)), "neg", grad=False)
_row("relu_backward", ember.relu, lambda x: np.maximum(x, 0.0), ins(away(3, 5)), ("relu", "relu_grad"), F and F.relu)
_row("relu_int", ember.relu, lambda x: np.maximum(x, 0), ins(ints(-5, 5, 4)), "relu", grad=False)
_row("exp_of_int", ember.exp, lambda x: np.exp(x.astype(np.float32)), ins(ints(-3, 3, 4)), ("cast", "exp"),
     grad=False, atol=1e-6, rtol=1e-6)
_row("softplus_beta2_threshold1", lambda x: ember.softplus(x, beta=2.0, threshold=1.0),
     lambda x: np_softplus(x, 2.0, 1.0), ins(away(3, 4, points=(0.5,), scale=2.0)), "softplus",
     lambda x: F.softplus(x, beta=2.0, threshold=1.0))
_row("softplus_large", ember.softplus, np_softplus, ins(normal(6, scale=30.0)), "softplus", F and F.softplus)
for _lo, _hi in [(-0.5, 0.5), (None, 0.3), (-0.2, None)]:
    _points = tuple(b for b in (_lo, _hi) if b is not None)
    _row(f"clip_{_lo}_{_hi}", lambda x, lo=_lo, hi=_hi: ember.clip(x, lo, hi),
         lambda x, lo=_lo, hi=_hi: np.clip(x, lo, hi), ins(away(3, 4, points=_points)), "clip",
         lambda x, lo=_lo, hi=_hi: torch.clamp(x, lo, hi))
_row("atan2", ember.atan2, np.arctan2, ins(away(3, 4), away(4)), "atan2", torch and torch.atan2)
_row("atan2_method_int", lambda a, b: a.atan2(b), lambda a, b: np.arctan2(a, b).astype(np.float32),
     ins(ints(-3, 4, 5), ints(1, 4, 5)), ("cast", "atan2"), lambda a, b: a.atan2(b), grad=False)
_row("clamp_min_max_methods", lambda x: x.clamp_min(-0.5).clamp_max(0.4), lambda x: np.clip(x, -0.5, 0.4),
     ins(away(3, 4, points=(-0.5, 0.4))), "clip", lambda x: x.clamp_min(-0.5).clamp_max(0.4))
_row("clamp_min_tensor", ember.clamp_min, np.maximum, ins(normal(3, 4), normal(4)), ("where", "lt"),
     torch and torch.clamp_min)
_row("clip_method_int", lambda x: x.clamp(-2, 3), lambda x: np.clip(x, -2, 3), ins(ints(-6, 6, 8)), "clip",
     grad=False)
_row("hardtanh", ember.hardtanh, lambda x: np.clip(x, -1.0, 1.0), ins(away(3, 4, points=(-1.0, 1.0), scale=2.0)),
     ("where", "le", "ge", "piecewise", "tie"), F and F.hardtanh)
_row("invert_bool", ember.invert, np.invert, ins(bools(3, 4)), "invert", torch and torch.bitwise_not, grad=False)
_row("invert_int", lambda x: ~x, np.invert, ins(ints(-5, 5, 5)), "invert", torch and torch.bitwise_not,
     grad=False)

# Python scalars and the reflected operators.
_row("mul_scalar", lambda x: x * 2.5, lambda x: x * 2.5, ins(normal(2, 3)), "mul", lambda x: x * 2.5)
_row("radd_scalar", lambda x: 1.5 + x, lambda x: 1.5 + x, ins(normal(4)), "add", lambda x: 1.5 + x)
_row("rsub_scalar", lambda x: 1.0 - x, lambda x: 1.0 - x, ins(normal(2, 2)), "sub", lambda x: 1.0 - x)
_row("rtruediv_scalar", lambda x: 2.0 / x, lambda x: 2.0 / x, ins(away(2, 3, gap=0.5)), "div", lambda x: 2.0 / x)
_row("truediv_int_tensors", lambda a, b: a / b, lambda a, b: (a / b).astype(np.float32),
     ins(ints(-5, 5, 4), ints(1, 4, 4)), ("cast", "div"), lambda a, b: a / b, grad=False)
_row("pow_int_exponent", lambda x: x ** 3, lambda x: x ** 3, ins(normal(2, 3)), "pow", lambda x: x ** 3)
_row("pow_square_negative_base", lambda x: x ** 2.0, lambda x: x ** 2.0, ins(away(5, gap=0.2)), "pow",
     lambda x: x ** 2.0)
_row("pow_fractional", lambda x: ember.power(x, 0.5), np.sqrt, ins(uniform(0.3, 2.0, 4)), "pow",
     lambda x: x ** 0.5)
_row("rpow_scalar", lambda x: 2.0 ** x, lambda x: 2.0 ** x, ins(normal(2, 3)), "pow", lambda x: 2.0 ** x)
_row("pow_int_negative_exponent", lambda a, b: a ** b, np_int_power,
     ins(const([[-3], [-2], [-1], [0], [1], [2], [3]]), const([-3, -2, -1, 0, 1, 2])), "pow",
     lambda a, b: a ** b, grad=False)
_row("pow_int32_negative_exponent", ember.power, np_int_power,
     ins(const([[-1], [2], [1]], np.int32), const([-2, -1, 3], np.int32)), "pow", torch and torch.pow, grad=False)
_row("rpow_int_negative_exponent", lambda b: 2 ** b, lambda b: np_int_power(np.array(2), b),
     ins(const([-2, -1, 0, 3])), "pow", lambda b: 2 ** b, grad=False)

# --- elementwise binary -----------------------------------------------------------------------------------

BROADCAST_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((2, 1, 3), (4, 1)), ((), (2, 3))]
BINARY = [
    ("add", ember.add, np.add, "add", normal, normal),
    ("sub", ember.sub, np.subtract, "sub", normal, normal),
    ("mul", ember.mul, np.multiply, "mul", normal, normal),
    ("div", ember.div, np.divide, "div", normal, lambda *s: away(*s, gap=0.5)),
    ("pow", ember.power, np.power, "pow", lambda *s: uniform(0.5, 2.0, *s), normal),
    ("maximum", ember.maximum, np.maximum, "maximum", normal, normal),
    ("minimum", ember.minimum, np.minimum, "minimum", normal, normal),
]
for _name, _fn, _ref, _tname, _sa, _sb in BINARY:
    for _sha, _shb in BROADCAST_SHAPES:
        _tag = "x".join(map(str, _sha)) + "_" + "x".join(map(str, _shb))
        _row(f"{_name}_{_tag}", _fn, _ref, ins(_sa(*_sha), _sb(*_shb)), _name, _torch_attr(_tname))
    _row(f"{_name}_swapped_broadcast", lambda a, b, f=_fn: f(b, a), lambda a, b, f=_ref: f(b, a),
         ins(_sb(4, 1), _sa(2, 1, 3)), _name, lambda a, b, t=_tname: _torch_attr(t)(b, a))

_row("add_int", lambda a, b: a + b, np.add, ins(ints(-9, 9, 2, 3), ints(-9, 9, 3)), "add", torch and torch.add,
     grad=False)
_row("mul_int_bool", lambda a, b: a * b, lambda a, b: a * b.astype(np.int64), ins(ints(-9, 9, 4), bools(4)),
     ("cast", "mul"), lambda a, b: a * b, grad=False)
_row("mul_mixed_int_float", lambda a, b: a * b, np.multiply, ins(ints(-9, 9, 2, 3), normal(3)), ("cast", "mul"),
     lambda a, b: a * b, grad_inputs=(1,))
for _name, _np_fn, _tname in [("floor_divide", np.floor_divide, "floor_divide"), ("remainder", np.remainder,
                                                                                   "remainder")]:
    _fn = getattr(ember, _name)
    _row(f"{_name}_int", _fn, _np_fn, ins(ints(-20, 20, 3, 4), ints(1, 5, 4)), _name, _torch_attr(_tname),
         grad=False)
    _row(f"{_name}_int_negative_divisor", _fn, _np_fn, ins(ints(-20, 20, 6), ints(-5, -1, 6)), _name,
         _torch_attr(_tname), grad=False)
    _row(f"{_name}_float", _fn, _np_fn, ins(int_floats(-16, 17, 2, 3, scale=0.5), const([1.5, -2.0, 0.5])),
         _name, _torch_attr(_tname), grad=False)
_row("remainder_float_grad", ember.remainder, np.remainder,  # a / b away from the integers, where remainder jumps
     ins(const([[-3.7, -1.2, 0.3, 2.6], [4.1, -5.4, 1.9, -0.6], [3.3, 6.8, -2.2, 0.9]]), const([1.5, -2.0, 0.75, 1.1])),
     "remainder", torch and torch.remainder)
for _mode, _np_fn in [("trunc", lambda a, b: np.trunc(a / b).astype(np.result_type(a, b))),
                      ("floor", np.floor_divide)]:
    _covers = "trunc_divide" if _mode == "trunc" else "floor_divide"
    _row(f"div_{_mode}_int", lambda a, b, m=_mode: ember.div(a, b, rounding_mode=m), _np_fn,
         ins(ints(-20, 20, 3, 4), const([3, -3, 7, -1])), _covers,
         lambda a, b, m=_mode: torch.div(a, b, rounding_mode=m), grad=False)
    _row(f"div_{_mode}_float", lambda a, b, m=_mode: a.div(b, rounding_mode=m), _np_fn,
         ins(int_floats(-16, 17, 2, 3, scale=0.5), const([1.5, -2.0, 0.75])), _covers,
         lambda a, b, m=_mode: a.div(b, rounding_mode=m), grad=False)
_row("div_trunc_scalar", lambda a: ember.div(a, -4, rounding_mode="trunc"), lambda a: np.trunc(a / -4).astype(a.dtype),
     ins(ints(-9, 9, 6)), "trunc_divide", lambda a: torch.div(a, -4, rounding_mode="trunc"), grad=False)
_row("floordiv_operator", lambda a: a // 3, lambda a: a // 3, ins(ints(-9, 9, 5)), "floor_divide",
     lambda a: a // 3, grad=False)
_row("mod_operator", lambda a: a % 4, lambda a: a % 4, ins(ints(-9, 9, 5)), "remainder", lambda a: a % 4,
     grad=False)

for _name, _np_fn in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
                      ("gt", np.greater), ("ge", np.greater_equal)]:
    _fn = getattr(ember, _name)
    _row(f"{_name}_broadcast", _fn, _np_fn, ins(int_floats(-2, 3, 3, 4), int_floats(-2, 3, 4)), _name,
         _torch_attr(_name), grad=False)
    _row(f"{_name}_int_outer", _fn, _np_fn, ins(ints(-2, 3, 3, 1), ints(-2, 3, 1, 4)), _name, _torch_attr(_name),
         grad=False)
_row("comparison_operators", lambda a, b: ember.stack([a == b, a != b, a < b, a <= b, a > b, a >= b]),
     lambda a, b: np.stack([a == b, a != b, a < b, a <= b, a > b, a >= b]),
     ins(int_floats(-2, 3, 6), int_floats(-2, 3, 6)), ("eq", "ne", "lt", "le", "gt", "ge", "concat", "reshape"),
     grad=False)
_row("compare_with_scalar", lambda a: a > 0.5, lambda a: a > 0.5, ins(int_floats(-2, 3, 5, scale=0.5)), "gt",
     lambda a: a > 0.5, grad=False)

for _name, _np_fn, _op in [("bitwise_and", np.bitwise_and, "__and__"), ("bitwise_or", np.bitwise_or, "__or__"),
                           ("bitwise_xor", np.bitwise_xor, "__xor__")]:
    _fn = getattr(ember, _name)
    _row(f"{_name}_bool", _fn, _np_fn, ins(bools(3, 4), bools(4)), _name, _torch_attr(_name), grad=False)
    _row(f"{_name}_int", lambda a, b, op=_op: getattr(a, op)(b), _np_fn, ins(ints(0, 16, 2, 3), ints(0, 16, 2, 3)),
         _name, _torch_attr(_name), grad=False)

_row("where", ember.where, np.where, ins(bools(2, 3), normal(2, 3), normal(2, 3)), "where", torch and torch.where)
_row("where_broadcast", ember.where, np.where, ins(bools(2, 1, 3), normal(3), normal(4, 1)), "where",
     torch and torch.where)
_row("where_scalar", lambda c, a: ember.where(c, a, 0.0), lambda c, a: np.where(c, a, 0.0),
     ins(bools(3, 4), normal(3, 4)), "where", lambda c, a: torch.where(c, a, 0.0))
_row("where_from_comparison", lambda a, b: ember.where(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b),
     ins(normal(3, 4), normal(4)), ("where", "gt", "mul", "sub"), lambda a, b: torch.where(a > b, a * b, a - b))

# --- reductions -------------------------------------------------------------------------------------------

AXES = [(None, False), (None, True), (0, False), (-1, True), ((0, 2), False), ((0, 2), True), ((), False)]


def _axis_tag(axis, keepdims):
    name = "all" if axis is None else ("none" if axis == () else "_".join(str(a) for a in np.atleast_1d(axis)))
    return name.replace("-", "m") + ("_keep" if keepdims else "")


def _torch_reduce(name, axis, keepdims, **kw):
    def fn(x):
        if name in ("prod", "argmax", "argmin"):
            if axis is None:
                out = getattr(torch, name)(x)
                return out.reshape((1,) * x.ndim) if keepdims else out
            return getattr(torch, name)(x, axis, keepdim=keepdims)
        return getattr(torch, name)(x, dim=_dims(axis, x.ndim), keepdim=keepdims, **kw)

    return fn


REDUCTIONS = [
    # name, ember, numpy, torch name, sampler, covers, options
    ("sum", ember.sum, np.sum, "sum", normal, "sum", {}),
    ("prod", ember.prod, np.prod, "prod", lambda *s: lambda rng: rng.uniform(0.6, 1.4, s) * rng.choice([-1, 1], s),
     "prod", {}),
    ("max", ember.max, np.max, "amax", normal, "max", {}),
    ("min", ember.min, np.min, "amin", normal, "min", {}),
    ("mean", ember.mean, np.mean, "mean", normal, ("sum", "mul"), {}),
    # var and std: PyTorch's default, the unbiased estimate
    ("var", ember.var, functools.partial(np.var, ddof=1), "var", normal, ("sum", "sub", "mul"), {}),
    ("std", ember.std, functools.partial(np.std, ddof=1), "std", normal, ("sqrt", "sum", "sub", "mul"), {}),
    ("logsumexp", ember.logsumexp, np_logsumexp, "logsumexp", normal, ("exp", "log", "sum", "add"), {}),
]
for _name, _fn, _ref, _tname, _sampler, _covers, _tkw in REDUCTIONS:
    for _axis, _keep in AXES:
        if _axis == () and _name in ("logsumexp", "var", "std", "mean"):
            continue
        _no_torch = _axis == () or (_name == "prod" and isinstance(_axis, tuple))
        _torch_fn = None if _no_torch else _torch_reduce(_tname, _axis, _keep, **_tkw)
        _row(f"{_name}_{_axis_tag(_axis, _keep)}", lambda x, f=_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k),
             lambda x, f=_ref, a=_axis, k=_keep: f(x, axis=a, keepdims=k), ins(_sampler(2, 3, 4)), _covers, _torch_fn)
    # std of one element is sqrt(0): its gradient is not finite (as in PyTorch). One element's unbiased variance
    # is nan: the 0-d rows of var and std take the population one.
    _population = {"ddof": 0} if _name in ("var", "std") else {}
    _row(f"{_name}_0d", lambda x, f=_fn, kw=_population: f(x, **kw), lambda x, f=_ref, kw=_population: f(x, **kw),
         ins(_sampler()), _covers, grad=_name != "std")
    _row(f"{_name}_method_1d", lambda x, n=_name: getattr(x, n)(axis=0), lambda x, f=_ref: f(x, axis=0),
         ins(_sampler(5)), _covers, _torch_reduce(_tname, 0, False, **_tkw))

# the BLAS shortcuts' shapes: rows longer than 32 (ones @ rows up to 1024), every axis but the last of (N, L, E)
_row("sum_rows_of_40", lambda x: ember.sum(x, -1, keepdims=True), lambda x: x.sum(-1, keepdims=True),
     ins(normal(3, 40)), "sum", lambda x: x.sum(-1, keepdim=True))
_row("sum_leading_axes", lambda x: ember.sum(x, (0, 1)), lambda x: x.sum((0, 1)), ins(normal(2, 3, 5)), "sum",
     lambda x: x.sum((0, 1)))
_row("sum_int", lambda x: x.sum(1), lambda x: x.sum(1), ins(ints(-9, 9, 3, 4)), "sum", lambda x: x.sum(1),
     grad=False)
_row("sum_bool_counts", lambda x: x.sum(), lambda x: np.sum(x, dtype=np.int64), ins(bools(3, 4)), "sum",
     lambda x: x.sum(), grad=False)
def _with_nans(*shape):
    def sample(rng):
        x = rng.standard_normal(shape)
        x.reshape(-1)[::3] = np.nan
        return x

    return sample


_row("nansum_axis1", lambda x: ember.nansum(x, dim=1), lambda x: np.nansum(x, axis=1), ins(_with_nans(3, 4)),
     ("ne", "where", "sum"), lambda x: torch.nansum(x, dim=1))
_row("nansum_method_all_keepdim", lambda x: x.nansum((0, 1), keepdim=True),
     lambda x: np.nansum(x, (0, 1), keepdims=True), ins(_with_nans(2, 3)), ("ne", "where", "sum"),
     lambda x: x.nansum((0, 1), keepdim=True))
_row("nansum_int", ember.nansum, np.sum, ins(ints(-9, 9, 3, 4)), "sum", torch and torch.nansum, grad=False)
_row("sum_dtype_int_to_float32", lambda x: x.sum(dim=0, dtype=ember.float32),
     lambda x: x.sum(0).astype(np.float32), ins(ints(-9, 9, 3, 4)), ("cast", "sum"),
     lambda x: x.sum(dim=0, dtype=torch.float32), grad=False)
_row("sum_dtype_float64", lambda x: ember.sum(x, 1, dtype=ember.float64), lambda x: x.sum(1), ins(normal(2, 3)),
     "sum", lambda x: torch.sum(x, 1, dtype=torch.float64), extra={"fixed_dtype": True})
_row("mean_dtype_int_to_float64", lambda x: x.mean(dim=1, dtype=ember.float64), lambda x: x.mean(1),
     ins(ints(-9, 9, 3, 4)), ("cast", "sum"), lambda x: x.mean(dim=1, dtype=torch.float64), grad=False)
_row("prod_dtype_float64", lambda x: x.prod(dim=0, dtype=ember.float64), lambda x: x.prod(0),
     ins(uniform(0.5, 1.5, 3, 2)), "prod", lambda x: x.prod(dim=0, dtype=torch.float64),
     extra={"fixed_dtype": True})
_row("cumsum_dim1", lambda x: ember.cumsum(x, dim=1), lambda x: np.cumsum(x, 1), ins(normal(2, 3, 4)), "cumsum",
     lambda x: torch.cumsum(x, dim=1))
_row("cumsum_method_negative_dim", lambda x: x.cumsum(-1), lambda x: np.cumsum(x, -1), ins(normal(3, 5)), "cumsum",
     lambda x: x.cumsum(-1))
_row("cumsum_0d", lambda x: x.cumsum(0), lambda x: x.copy(), ins(normal()), "cumsum", lambda x: x.cumsum(0))
_row("cumsum_int_and_bool", lambda x, m: ember.stack([x.cumsum(0), m.cumsum(0)]),
     lambda x, m: np.stack([np.cumsum(x, 0), np.cumsum(m, 0)]), ins(ints(-9, 9, 5), bools(5)), ("cumsum", "concat"),
     lambda x, m: torch.stack([x.cumsum(0), m.cumsum(0)]), grad=False)
_row("cumsum_dtype", lambda x: x.cumsum(0, dtype=ember.float32), lambda x: np.cumsum(x, 0).astype(np.float32),
     ins(ints(-9, 9, 4, 2)), ("cast", "cumsum"), lambda x: x.cumsum(0, dtype=torch.float32), grad=False)
_row("cumprod_dim0", lambda x: ember.cumprod(x, dim=0), lambda x: np.cumprod(x, 0),
     ins(lambda rng: rng.uniform(0.5, 1.5, (4, 3)) * rng.choice([-1, 1], (4, 3))), "cumprod",
     lambda x: torch.cumprod(x, dim=0))
_row("cumprod_method_last", lambda x: x.cumprod(-1), lambda x: np.cumprod(x, -1), ins(uniform(0.5, 1.5, 2, 2, 3)),
     "cumprod", lambda x: x.cumprod(-1))
# rows with one and two zeros (and none): the gradient at and after a zero is exact; its own derivative is not
# reproduced at the zeros
_row("cumprod_with_zeros", lambda x: x.cumprod(1), lambda x: np.cumprod(x, 1),
     ins(const([[0.5, 0.0, 1.5, -2.0, 0.8], [1.2, -0.7, 0.9, 1.1, 0.6], [0.0, 1.3, 0.0, 0.7, -1.4]])), "cumprod",
     lambda x: x.cumprod(1), double_grad=False)
_row("cumprod_int", lambda x: x.cumprod(0), lambda x: np.cumprod(x, 0), ins(ints(-3, 4, 5)), "cumprod",
     lambda x: x.cumprod(0), grad=False)

def np_lower_median(x, axis=None):
    if axis is None:
        return np.sort(x.ravel())[(x.size - 1) // 2]
    return np.take(np.sort(x, axis), (x.shape[axis] - 1) // 2, axis)


_row("median_all", ember.median, np_lower_median, ins(normal(3, 4)), "median", torch and torch.median)
_row("median_all_method_odd", lambda x: x.median(), np_lower_median, ins(normal(5)), "median",
     lambda x: x.median())
_row("median_all_int", ember.median, np_lower_median, ins(ints(-9, 9, 4, 2)), "median", torch and torch.median,
     grad=False)
_row("median_dim", lambda x: ember.median(x, dim=1).values, lambda x: np_lower_median(x, 1), ins(normal(3, 4)),
     ("argsort", "getitem", "gather", "ne", "any", "cast", "argmax", "where"), lambda x: torch.median(x, dim=1).values)
_row("median_dim_keepdim_indices", lambda x: x.median(0, keepdim=True).indices,
     lambda x: np.argsort(x, 0, kind="stable")[(x.shape[0] - 1) // 2:][:1], ins(normal(5, 3)), "argsort",
     lambda x: x.median(0, keepdim=True).indices, grad=False)
_row("sort_descending", lambda x: ember.sort(x, dim=0, descending=True).values, lambda x: -np.sort(-x, 0),
     ins(normal(4, 3)), ("argsort", "gather"), lambda x: torch.sort(x, dim=0, descending=True).values)
_row("argsort_ties_stable", lambda x: x.argsort(dim=-1), lambda x: np.argsort(x, -1, kind="stable"),
     ins(int_floats(0, 3, 3, 6)), "argsort", lambda x: x.argsort(dim=-1, stable=True), grad=False)
_row("argsort_descending_ties_stable", lambda x: x.argsort(descending=True),
     lambda x: x.shape[-1] - 1 - np.flip(np.argsort(np.flip(x, -1), -1, kind="stable"), -1),
     ins(int_floats(0, 3, 3, 6)), "argsort", lambda x: x.argsort(descending=True, stable=True), grad=False)
_row("topk_largest", lambda x: x.topk(2, dim=1).values, lambda x: -np.sort(-x, 1)[:, :2], ins(normal(3, 5)),
     ("argsort", "getitem", "gather"), lambda x: x.topk(2, dim=1).values)
_row("topk_smallest_indices", lambda x: ember.topk(x, 3, largest=False).indices, lambda x: np.argsort(x, -1)[..., :3],
     ins(normal(2, 5)), ("argsort", "getitem"), lambda x: torch.topk(x, 3, largest=False).indices, grad=False)
_row("searchsorted_1d", ember.searchsorted, np.searchsorted, ins(sorted_rows(int_floats(-3, 4, 7)),
     int_floats(-4, 5, 3, 4)), "searchsorted", torch and torch.searchsorted, grad=False)
_row("searchsorted_batched_right", lambda s, v: ember.searchsorted(s, v, right=True),
     lambda s, v: np_searchsorted_rows(s, v, "right"), ins(sorted_rows(int_floats(-3, 4, 3, 6)),
                                                            int_floats(-4, 5, 3, 5)),
     "searchsorted", lambda s, v: torch.searchsorted(s, v, right=True), grad=False)
_row("searchsorted_method_side_int32", lambda s, v: s.searchsorted(v, side="right", out_int32=True),
     lambda s, v: np_searchsorted_rows(s, v, "right").astype(np.int32),
     ins(sorted_rows(ints(-5, 6, 2, 3, 5)), ints(-6, 7, 2, 3, 2)), "searchsorted",
     lambda s, v: torch.searchsorted(s, v, side="right", out_int32=True), grad=False)
_row("square", ember.square, np.square, ins(normal(3, 4)), "mul", torch and torch.square)
_row("square_method_int", lambda x: x.square(), np.square, ins(ints(-9, 9, 5)), "mul", lambda x: x.square(),
     grad=False)
_SPECIAL_VALUES = [1.0, -np.inf, np.inf, np.nan, 0.0, -2.5]
_row("rsqrt", ember.rsqrt, lambda x: 1 / np.sqrt(x), ins(uniform(0.5, 2.0, 3, 4)), ("sqrt", "div"),
     torch and torch.rsqrt)
_row("reciprocal_method", lambda x: x.reciprocal(), lambda x: 1 / x, ins(uniform(0.5, 2.0, 5)), "div",
     lambda x: x.reciprocal())
_row("lerp_tensor_weight", ember.lerp, lambda a, b, w: a + w * (b - a), ins(normal(3, 4), normal(3, 4), normal(3, 4)),
     ("sub", "mul", "add", "abs", "lt", "where"), torch and torch.lerp)
_row("lerp_scalar_weight_method", lambda a, b: a.lerp(b, 0.75), lambda a, b: a + 0.75 * (b - a),
     ins(normal(4), normal(4)), ("sub", "mul"), lambda a, b: a.lerp(b, 0.75))
_row("masked_fill", lambda x, m: x.masked_fill(m, -1.5), lambda x, m: np.where(m, -1.5, x),
     ins(normal(3, 4), bools(3, 4)), "where", lambda x, m: x.masked_fill(m, -1.5))
_row("fmod", ember.fmod, np.fmod, ins(away(3, 4, scale=3.0), uniform(0.7, 1.3, 3, 4)),
     ("remainder", "lt", "neg", "where"), torch and torch.fmod, grad_inputs=(0,))
_row("nan_to_num", lambda x: ember.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0),
     lambda x: np.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0), ins(const(_SPECIAL_VALUES)), ("eq", "ne", "where"),
     lambda x: torch.nan_to_num(x, nan=0.5, posinf=9.0, neginf=-9.0), grad=False)
_row("nan_to_num_finite", ember.nan_to_num, np.nan_to_num, ins(normal(3, 4)), ("eq", "ne", "where"),
     torch and torch.nan_to_num)
_row("round_floor_ceil_trunc", lambda x: ember.stack([x.round(), x.floor(), x.ceil(), x.trunc()]),
     lambda x: np.stack([np.round(x), np.floor(x), np.ceil(x), np.trunc(x)]), ins(int_floats(-9, 9, 10, scale=0.5)),
     ("trunc_divide", "where", "remainder"), lambda x: torch.stack([x.round(), x.floor(), x.ceil(), x.trunc()]),
     grad=False)
_row("round_decimals", lambda x: ember.round(x, decimals=1), lambda x: np.round(x, 1), ins(normal(6)), "trunc_divide",
     lambda x: torch.round(x, decimals=1), grad=False)
_row("isfinite_isinf_isnan", lambda x: ember.stack([x.isfinite(), x.isinf(), x.isnan()]),
     lambda x: np.stack([np.isfinite(x), np.isinf(x), np.isnan(x)]), ins(const(_SPECIAL_VALUES)),
     ("abs", "lt", "eq", "ne"), lambda x: torch.stack([x.isfinite(), x.isinf(), x.isnan()]), grad=False)
_row("logical_ops_and_count_nonzero", lambda a, b: ember.stack([a.logical_and(b), ember.logical_or(a, b),
                                                                ember.logical_xor(a, b), ember.logical_not(a)]).sum(0)
     + ember.count_nonzero(a, dim=0),
     lambda a, b: np.stack([np.logical_and(a, b), np.logical_or(a, b), np.logical_xor(a, b), ~(a != 0)]).sum(0)
     + np.count_nonzero(a, axis=0), ins(ints(-1, 2, 3, 4), ints(0, 2, 3, 4)),
     ("ne", "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "sum"),
     lambda a, b: torch.stack([a.logical_and(b), torch.logical_or(a, b), torch.logical_xor(a, b),
                               torch.logical_not(a)]).sum(0) + torch.count_nonzero(a, dim=0), grad=False)
for _equation, _shapes in [("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
                           ("ij,kj", [(3, 4), (5, 4)]), ("i,j->ij", [(3,), (4,)]),
                           ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]), ("...ij,jk->...ik", [(2, 3, 4), (4, 5)])]:
    _row("einsum_" + _equation.replace(",", "_").replace("->", "_to_").replace("...", "etc"),
         lambda *xs, e=_equation: ember.einsum(e, *xs), lambda *xs, e=_equation: np.einsum(e, *xs),
         ins(*(normal(*s) for s in _shapes)), ("matmul", "reshape", "transpose"),
         lambda *xs, e=_equation: torch.einsum(e, *xs))
_row("einsum_diagonal", lambda x: ember.einsum("ii->i", x), lambda x: np.einsum("ii->i", x), ins(normal(3, 3)),
     "diagonal", lambda x: torch.einsum("ii->i", x))
_row("einsum_sum_out", lambda x: ember.einsum("abc->b", x), lambda x: np.einsum("abc->b", x), ins(normal(2, 3, 4)),
     "sum", lambda x: torch.einsum("abc->b", x))
_row("bmm", ember.bmm, np.matmul, ins(normal(2, 3, 4), normal(2, 4, 5)), "matmul", torch and torch.bmm)
_row("outer_method", lambda a, b: a.outer(b), np.outer, ins(normal(3), normal(4)), "mul", lambda a, b: a.outer(b))
_row("addmm", lambda c, a, b: ember.addmm(c, a, b, beta=0.5, alpha=2.0), lambda c, a, b: 0.5 * c + 2.0 * (a @ b),
     ins(normal(4), normal(3, 2), normal(2, 4)), ("matmul", "mul", "add"),
     lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2.0))
_row("baddbmm_method", lambda c, a, b: c.baddbmm(a, b, beta=0.0), lambda c, a, b: a @ b,
     ins(normal(2, 3, 4), normal(2, 3, 5), normal(2, 5, 4)), "matmul",
     lambda c, a, b: c.baddbmm(a, b, beta=0.0), grad_inputs=(1, 2))
_row("flip", lambda x: x.flip(0, 2), lambda x: np.flip(x, (0, 2)), ins(normal(2, 3, 4)), "getitem",
     lambda x: x.flip(0, 2))
_row("roll_dims", lambda x: ember.roll(x, (1, -4), (0, 1)), lambda x: np.roll(x, (1, -4), (0, 1)), ins(normal(3, 5)),
     ("getitem", "concat"), lambda x: torch.roll(x, (1, -4), (0, 1)))
_row("roll_flat_method", lambda x: x.roll(4), lambda x: np.roll(x, 4), ins(normal(2, 3)),
     ("reshape", "getitem", "concat"), lambda x: x.roll(4))
_row("tril_batch", lambda x: ember.tril(x, -1), lambda x: np.tril(x, -1), ins(normal(2, 3, 4)), "where",
     lambda x: torch.tril(x, -1))
_row("triu_method", lambda x: x.triu(1), lambda x: np.triu(x, 1), ins(normal(4, 3)), "where", lambda x: x.triu(1))
_row("index_select", lambda x, i: x.index_select(dim=1, index=i), lambda x, i: np.take(x, i, 1),
     ins(normal(3, 4), const([3, 0, 3])), "take", lambda x, i: x.index_select(dim=1, index=i))
for _p, _covers in ((2, ("sum", "sqrt", "eq", "where")), (1, ("abs", "sum")), (3, ("abs", "pow", "sum")),
                    (float("inf"), ("abs", "max"))):
    _row(f"norm_p{_p}_dim1", lambda x, p=_p: x.norm(p, dim=1), lambda x, p=_p: np.linalg.norm(x, p, axis=1),
         ins(away(3, 4)), _covers, lambda x, p=_p: x.norm(p, dim=1))
_row("norm_all_keepdim", lambda x: ember.norm(x, keepdim=True, dim=(0, 1)),
     lambda x: np.sqrt((x * x).sum(keepdims=True)), ins(normal(3, 4)), ("sum", "sqrt"),
     lambda x: torch.norm(x, dim=(0, 1), keepdim=True))
_row("hstack_vstack_dstack", lambda a, b: ember.stack([ember.hstack([a, b]).flatten(), ember.vstack([a, b]).flatten(),
                                                         ember.dstack([a, b]).flatten()]),
     lambda a, b: np.stack([np.hstack([a, b]).ravel(), np.vstack([a, b]).ravel(), np.dstack([a, b]).ravel()]),
     ins(normal(2, 3), normal(2, 3)), ("concat", "reshape"),
     lambda a, b: torch.stack([torch.hstack([a, b]).flatten(), torch.vstack([a, b]).flatten(),
                               torch.dstack([a, b]).flatten()]))
_row("meshgrid_xy", lambda a, b: ember.stack(ember.meshgrid(a, b, indexing="xy")),
     lambda a, b: np.stack(np.meshgrid(a, b, indexing="xy")), ins(normal(3), normal(4)), ("reshape", "broadcast_to"),
     lambda a, b: torch.stack(torch.meshgrid(a, b, indexing="xy")))
_row("unflatten", lambda x: x.unflatten(1, (2, -1)), lambda x: x.reshape(3, 2, 2), ins(normal(3, 4)), "reshape",
     lambda x: x.unflatten(1, (2, -1)))
_row("diff_n2_prepend", lambda x, p: ember.diff(x, n=2, dim=0, prepend=p),
     lambda x, p: np.diff(x, n=2, axis=0, prepend=p), ins(normal(4, 3), normal(1, 3)), ("concat", "getitem", "sub"),
     lambda x, p: torch.diff(x, n=2, dim=0, prepend=p))
_row("tensordot_pairs", lambda a, b: ember.tensordot(a, b, dims=([1, 2], [1, 0])),
     lambda a, b: np.tensordot(a, b, axes=([1, 2], [1, 0])), ins(normal(2, 3, 4), normal(4, 3, 5)), "matmul",
     lambda a, b: torch.tensordot(a, b, dims=([1, 2], [1, 0])))
_row("cross_dim", lambda a, b: ember.cross(a, b, dim=1), lambda a, b: np.cross(a, b, axis=1),
     ins(normal(4, 3), normal(4, 3)), ("getitem", "mul", "sub", "concat"), lambda a, b: torch.cross(a, b, dim=1))
for _p in (2.0, 1.0, float("inf")):
    _row(f"cdist_p{_p}", lambda a, b, p=_p: ember.cdist(a, b, p=p),
         lambda a, b, p=_p: np.linalg.norm(a[:, None] - b[None], p, axis=-1), ins(normal(3, 4), normal(5, 4)),
         ("sub", "abs", "sum") if _p != 2.0 else ("sub", "mul", "sum", "sqrt"), lambda a, b, p=_p: torch.cdist(a, b, p))


# --- PyTorch's other products, statistics, integration and binning (ops/products_torch.py, statistics.py,
# norms_torch.py, calculus.py, binning.py) ---------------------------------------------------------------------


def np_pdist(x, p):
    i, j = np.triu_indices(x.shape[0], 1)
    return np.linalg.norm(x[i] - x[j], p, axis=-1)


def np_renorm(x, p, dim, maxnorm):
    axes = tuple(a for a in range(x.ndim) if a != dim)
    norms = np.sum(np.abs(x) ** p, axis=axes, keepdims=True) ** (1 / p)
    return np.where(norms > maxnorm, x * (maxnorm / (norms + 1e-7)), x)


def np_cumulative_trapezoid(y, dx):
    return np.cumsum((y[..., 1:] + y[..., :-1]) * dx / 2, -1)


def np_histogram(x, bins, low=None, high=None, weights=None, density=False):
    hist, edges = np.histogram(x, bins, None if low is None else (low, high), weights=weights, density=density)
    return hist.astype(x.dtype), edges.astype(x.dtype)


_row("addcmul_value", lambda a, b, c: ember.addcmul(a, b, c, value=0.5), lambda a, b, c: a + 0.5 * b * c,
     ins(normal(3, 1), normal(1, 4), normal(3, 4)), ("mul", "add"), lambda a, b, c: torch.addcmul(a, b, c, value=0.5))
_row("addcdiv_method", lambda a, b, c: a.addcdiv(b, c, value=2.0), lambda a, b, c: a + 2.0 * b / c,
     ins(normal(3, 4), normal(3, 4), away(3, 4, gap=0.5)), ("div", "mul", "add"),
     lambda a, b, c: a.addcdiv(b, c, value=2.0))
_row("addmv", lambda c, m, v: ember.addmv(c, m, v, beta=0.5, alpha=2.0), lambda c, m, v: 0.5 * c + 2.0 * (m @ v),
     ins(normal(3), normal(3, 4), normal(4)), ("matmul", "mul", "add"),
     lambda c, m, v: torch.addmv(c, m, v, beta=0.5, alpha=2.0))
_row("addr_method", lambda c, u, v: c.addr(u, v, alpha=-1.5), lambda c, u, v: c - 1.5 * np.outer(u, v),
     ins(normal(3, 4), normal(3), normal(4)), ("mul", "add"), lambda c, u, v: c.addr(u, v, alpha=-1.5))
_row("addbmm", lambda c, a, b: ember.addbmm(c, a, b, beta=0.3, alpha=1.5),
     lambda c, a, b: 0.3 * c + 1.5 * (a @ b).sum(0), ins(normal(3, 4), normal(2, 3, 5), normal(2, 5, 4)),
     ("matmul", "sum", "mul", "add"), lambda c, a, b: torch.addbmm(c, a, b, beta=0.3, alpha=1.5))
_row("mv_method", lambda m, v: m.mv(v), lambda m, v: m @ v, ins(normal(3, 4), normal(4)), "matmul",
     lambda m, v: m.mv(v))
_row("ger", ember.ger, np.outer, ins(normal(3), normal(4)), "mul", torch and torch.ger)
_row("inner", ember.inner, np.inner, ins(normal(2, 3, 4), normal(5, 4)), "matmul", torch and torch.inner)
_row("vdot", ember.vdot, np.vdot, ins(normal(5), normal(5)), "matmul", torch and torch.vdot)
_row("kron", ember.kron, np.kron, ins(normal(2, 3), normal(2, 2, 2)), "mul", torch and torch.kron)
_row("trace_method", lambda x: x.trace(), np.trace, ins(normal(3, 4)), ("diagonal", "sum"), lambda x: x.trace())
_row("multi_dot_vectors_at_ends", lambda *xs: ember.linalg.multi_dot(xs), lambda *xs: np.linalg.multi_dot(xs),
     ins(normal(3), normal(3, 5), normal(5, 2), normal(2, 6)), "matmul", lambda *xs: torch.linalg.multi_dot(xs))
_row("chain_matmul", ember.chain_matmul, lambda *xs: np.linalg.multi_dot(xs),
     ins(normal(4, 2), normal(2, 6), normal(6, 3)), "matmul", lambda *xs: torch.linalg.multi_dot(xs))
_row("vander_n4", lambda x: ember.vander(x, 4), lambda x: np.vander(x, 4), ins(normal(3)), ("cumprod", "concat"),
     lambda x: torch.vander(x, 4))
# (cumprod's vjp is exact at a zero, but its own derivative there is not: no grad-of-grad at x = 0)
_row("vander_increasing_zero", lambda x: ember.vander(x, increasing=True), lambda x: np.vander(x, increasing=True),
     ins(const([0.0, 1.5, -0.7, 2.0])), ("cumprod", "concat"), lambda x: torch.vander(x, increasing=True),
     double_grad=False)
_row("linalg_vander_batch", lambda x: ember.linalg.vander(x, N=4), lambda x: x[..., None] ** np.arange(4),
     ins(normal(2, 3)), ("cumprod", "concat"), lambda x: torch.linalg.vander(x, N=4))
for _p in (2, 3):
    _row(f"dist_p{_p}", lambda a, b, p=_p: ember.dist(a, b, p), lambda a, b, p=_p: np.linalg.norm((a - b).ravel(), p),
         ins(normal(3, 4), normal(4)), ("sub", "sum"), lambda a, b, p=_p: torch.dist(a, b, p))
_row("renorm_method", lambda x: x.renorm(2, 0, 2.0), lambda x: np_renorm(x, 2, 0, 2.0),
     ins(const([[0.3, -0.2, 0.5], [2.0, -1.0, 1.5], [0.1, 3.0, -2.5]])), ("sum", "gt", "where", "mul"),
     lambda x: x.renorm(2, 0, 2.0))
_row("renorm_p1_dim1", lambda x: ember.renorm(x, 1, 1, 1.5), lambda x: np_renorm(x, 1, 1, 1.5),
     ins(const([[0.3, -0.9, 0.2], [-0.4, 1.0, 0.1], [0.2, 0.8, -0.3]])), ("abs", "sum", "gt", "where", "mul"),
     lambda x: torch.renorm(x, 1, 1, 1.5))
_row("frobenius_norm_dims", lambda x: ember.frobenius_norm(x, (0, 2)), lambda x: np.sqrt((x * x).sum((0, 2))),
     ins(normal(2, 3, 4)), ("sum", "sqrt"), lambda x: torch.linalg.vector_norm(x, 2, (0, 2)))
_row("nuclear_norm", ember.nuclear_norm, lambda x: np.linalg.norm(x, "nuc"), ins(normal(3, 4)), ("svd", "sum"),
     lambda x: torch.linalg.matrix_norm(x, "nuc"), double_grad=False)
_row("norm_nuc_dims", lambda x: x.norm("nuc", dim=(2, 0), keepdim=True),
     lambda x: np.linalg.norm(x, "nuc", axis=(2, 0), keepdims=True), ins(normal(3, 2, 4)), ("svd", "sum"),
     lambda x: torch.norm(x, "nuc", dim=(2, 0), keepdim=True), double_grad=False)
for _p in (2.0, 1.0):
    _row(f"pdist_p{_p}", lambda x, p=_p: ember.nn.functional.pdist(x, p), lambda x, p=_p: np_pdist(x, p),
         ins(normal(4, 3)), ("take", "sub", "sum"), lambda x, p=_p: F.pdist(x, p))
_row("cov_weights", lambda x, f, a: ember.cov(x, fweights=f, aweights=a),
     lambda x, f, a: np.cov(x, fweights=f, aweights=a), ins(normal(3, 5), ints(1, 4, 5), uniform(0.5, 2.0, 5)),
     ("matmul", "sum", "div"), lambda x, f, a: torch.cov(x, fweights=f, aweights=a))
_row("cov_1d_correction0_method", lambda x: x.cov(correction=0), lambda x: np.cov(x, ddof=0), ins(normal(6)),
     ("matmul", "sub"), lambda x: x.cov(correction=0))
_row("corrcoef", ember.corrcoef, np.corrcoef, ins(normal(3, 6)), ("matmul", "sqrt", "clip"), torch and torch.corrcoef)
_row("std_mean_dim", lambda x: ember.std_mean(x, 1), lambda x: (np.std(x, 1, ddof=1), np.mean(x, 1)),
     ins(normal(3, 5)), ("sqrt", "sum"), lambda x: torch.std_mean(x, 1))
_row("var_mean_biased_keepdim", lambda x: ember.var_mean(x, (0, 2), unbiased=False, keepdim=True),
     lambda x: (np.var(x, (0, 2), keepdims=True), np.mean(x, (0, 2), keepdims=True)), ins(normal(2, 3, 4)), "sum",
     lambda x: torch.var_mean(x, (0, 2), unbiased=False, keepdim=True))
_row("trapezoid_x", ember.trapezoid, lambda y, x: np.trapezoid(y, x), ins(normal(3, 4), sorted_rows(normal(4))),
     ("sub", "add", "mul", "sum"), torch and torch.trapezoid)
_row("trapz_dx_dim0", lambda y: ember.trapz(y, dx=0.5, dim=0), lambda y: np.trapezoid(y, dx=0.5, axis=0),
     ins(normal(4, 3)), ("add", "mul", "sum"), lambda y: torch.trapz(y, dx=0.5, dim=0))
_row("cumulative_trapezoid_dx", lambda y: ember.cumulative_trapezoid(y, dx=2.0),
     lambda y: np_cumulative_trapezoid(y, 2.0), ins(normal(2, 5)), ("add", "mul", "cumsum"),
     lambda y: torch.cumulative_trapezoid(y, dx=2.0))
_row("gradient_spacing_edge2", lambda x: ember.gradient(x, spacing=2.0, edge_order=2),
     lambda x: np.gradient(x, 2.0, edge_order=2), ins(normal(4, 5)), ("sub", "mul", "concat"),
     lambda x: torch.gradient(x, spacing=2.0, edge_order=2))
_row("gradient_coordinates_dim1", lambda f, c: ember.gradient(f, spacing=[c], dim=1),
     lambda f, c: (np.gradient(f, c, axis=1),), ins(normal(3, 5), const([0.0, 0.7, 1.5, 3.0, 3.4])),
     ("sub", "div", "concat"), lambda f, c: torch.gradient(f, spacing=[c], dim=1))
_row("gradient_coordinates_edge2", lambda f, c: ember.gradient(f, spacing=[c], edge_order=2),
     lambda f, c: (np.gradient(f, c, edge_order=2),), ins(normal(5), const([0.0, 0.7, 1.5, 3.0, 3.4])),
     ("sub", "div", "concat"), lambda f, c: torch.gradient(f, spacing=[c], edge_order=2))
_row("bucketize_right", lambda v, b: ember.bucketize(v, b, right=True), lambda v, b: np.searchsorted(b, v, "right"),
     ins(int_floats(-4, 5, 3, 4), const([-2.0, 0.0, 1.0, 3.0])), "searchsorted",
     lambda v, b: torch.bucketize(v, b, right=True), grad=False)
_row("isin_invert", lambda a, b: ember.isin(a, b, invert=True), lambda a, b: np.isin(a, b, invert=True),
     ins(ints(0, 6, 3, 4), ints(0, 6, 2, 2)), "isin", lambda a, b: torch.isin(a, b, invert=True), grad=False)
_row("fill_like", lambda x: fill_like(x[:, 1:], 2.5, np.float32), lambda x: np.full_like(x[:, 1:], 2.5, np.float32),
     ins(normal(3, 4)), "fill", lambda x: torch.full_like(x[:, 1:], 2.5, dtype=torch.float32), grad=False)
_row("slice_sized", lambda x: slice_sized(x, 1, slice(1, 4, 2)), lambda x: x[:, 1:4:2], ins(normal(3, 5)),
     ("slice_sized", "slice_sized_grad"), lambda x: x[:, 1:4:2])
_row("reshape_sized", lambda x, y: _ops_dispatch.apply(RESHAPE_SIZED, (x, y), {"shape": ((1, 1), -1, 2)}),
     lambda x, y: x.reshape(y.shape[1], -1, 2), ins(normal(2, 3, 4), normal(2, 4)), "reshape_sized",
     lambda x, y: x.reshape(y.shape[1], -1, 2), grad_inputs=(0,))  # x.reshape(y.size(1), -1, 2)
_row("arange_sized", lambda x: x * _ops_dispatch.apply(ARANGE_SIZED, (x,), {"start": 1, "stop": ("*", (0, 1), 2),
                                                                              "step": 2, "dtype": x.dtype}),
     lambda x: x * np.arange(1, 6, 2), ins(normal(2, 3)), "arange_sized",
     lambda x: x * torch.arange(1, 6, 2, dtype=x.dtype))  # arange(1, x.shape[1] * 2, 2)
_row("histogram_range", lambda x: ember.histogram(x, 5, range=(-2.0, 2.0)), lambda x: np_histogram(x, 5, -2.0, 2.0),
     ins(normal(40)), ("histogram_bin_edges", "histogramdd"), lambda x: torch.histogram(x, 5, range=(-2.0, 2.0)),
     grad=False)
_row("histogram_weighted_density", lambda x, w: x.histogram(4, weight=w, density=True),
     lambda x, w: np_histogram(x, 4, weights=w, density=True), ins(normal(3, 7), uniform(0.5, 2.0, 3, 7)),
     ("histogram_bin_edges", "histogramdd"), lambda x, w: x.histogram(4, weight=w, density=True), grad=False)
_row("histogram_edges", ember.histogram, np_histogram,
     ins(normal(30), const([-1.0, 0.0, 0.5, 2.0])), "histogramdd", torch and torch.histogram, grad=False)
_row("histogramdd_range", lambda x: (lambda r: (r.hist, *r.bin_edges))(ember.histogramdd(x, [2, 3],
                                                                                           range=[-2, 2, -1, 1])),
     lambda x: (lambda h, e: (h, *e))(*np.histogramdd(x, [2, 3], [(-2, 2), (-1, 1)])), ins(normal(20, 2)),
     ("histogram_bin_edges", "histogramdd"),
     lambda x: (lambda r: (r.hist, *r.bin_edges))(torch.histogramdd(x, [2, 3], range=[-2.0, 2.0, -1.0, 1.0])),
     grad=False)


_row("nanmean", lambda x: ember.nanmean(x, dim=1), lambda x: np.nanmean(x, axis=1),
     ins(const([[1.0, np.nan, 2.5], [0.5, -1.0, 4.0]])), ("ne", "where", "sum", "div"),
     lambda x: torch.nanmean(x, dim=1))
_row("kthvalue", lambda x: x.kthvalue(2, dim=0).values, lambda x: np.sort(x, 0)[1], ins(normal(4, 3)),
     ("argsort", "getitem", "gather"), lambda x: x.kthvalue(2, dim=0).values)


def np_lower_nanmedian(x, axis=None):
    def lower(row):
        row = np.sort(row[~np.isnan(row)])
        return row[(row.size - 1) // 2] if row.size else np.nan

    return lower(x.ravel()) if axis is None else np.apply_along_axis(lower, axis, x)


def np_mode_index(x, axis):
    """The index of the last occurrence of the smallest most frequent value, along ``axis``."""
    def index(row):
        values, counts = np.unique(row, return_counts=True)
        return np.flatnonzero(row == values[counts.argmax()])[-1]

    return np.apply_along_axis(index, axis, x)


def np_running_index(x, axis, largest):
    """The index of the running extremum along ``axis``; a tie takes the later index."""
    moved = np.moveaxis(x, axis, -1)
    out = np.zeros(moved.shape, np.int64)
    for at in np.ndindex(moved.shape[:-1]):
        best = 0
        for i, v in enumerate(moved[at]):
            if (v >= moved[at][best]) if largest else (v <= moved[at][best]):
                best = i
            out[at + (i,)] = best
    return np.moveaxis(out, -1, axis)


_row("nanmedian_all", ember.nanmedian, np_lower_nanmedian, ins(_with_nans(3, 4)), "nanmedian",
     torch and torch.nanmedian)
_row("nanmedian_all_nan_int", lambda x, m: ember.stack([ember.nanmedian(x), ember.nanmedian(m).type_as(x)]),
     lambda x, m: np.stack([np_lower_nanmedian(x), np.median(m)]), ins(const([np.nan, np.nan]), ints(-9, 9, 5)),
     ("nanmedian", "cast", "concat"), lambda x, m: torch.stack([x.nanmedian(), m.nanmedian().type_as(x)]),
     grad=False)
_row("nanmedian_dim", lambda x: ember.nanmedian(x, dim=1).values, lambda x: np_lower_nanmedian(x, 1),
     ins(_with_nans(3, 5)), ("argsort", "eq", "sum", "gather"), lambda x: torch.nanmedian(x, dim=1).values)
_row("mode_dim0_keepdim", lambda x: x.mode(0, keepdim=True).values,
     lambda x: np.take_along_axis(x, np_mode_index(x, 0)[None], 0), ins(int_floats(0, 3, 6, 4)), ("mode", "gather"),
     lambda x: x.mode(0, keepdim=True).values, grad=False)
_row("mode_indices", lambda x: ember.mode(x).indices, lambda x: np_mode_index(x, -1), ins(ints(0, 4, 3, 9)), "mode",
     lambda x: torch.mode(x).indices, grad=False)
_row("histc_range", lambda x: ember.histc(x, bins=5, min=-2, max=2),
     lambda x: np.histogram(x, 5, (-2, 2))[0].astype(x.dtype), ins(normal(40)), "histc",
     lambda x: torch.histc(x, bins=5, min=-2, max=2), grad=False)
_row("histc_data_range_method", lambda x: x.histc(4),
     lambda x: np.histogram(x, 4, (x.min(), x.max()))[0].astype(x.dtype), ins(normal(6, 5)), "histc",
     lambda x: x.histc(4), grad=False)
_row("logcumsumexp_dim1", lambda x: ember.logcumsumexp(x, dim=1), lambda x: np.logaddexp.accumulate(x, 1),
     ins(normal(3, 5, scale=3.0)), "logcumsumexp", lambda x: torch.logcumsumexp(x, dim=1))
_row("logcumsumexp_method_first_dim", lambda x: x.logcumsumexp(0), lambda x: np.logaddexp.accumulate(x, 0),
     ins(normal(4, 2, 3)), "logcumsumexp", lambda x: x.logcumsumexp(0))
_row("cummax_values", lambda x: x.cummax(1).values, lambda x: np.maximum.accumulate(x, 1), ins(normal(3, 6)),
     ("running_extremum_index", "gather"), lambda x: x.cummax(1).values)
_row("cummin_values_dim0", lambda x: ember.cummin(x, dim=0).values, lambda x: np.minimum.accumulate(x, 0),
     ins(normal(5, 3)), ("running_extremum_index", "gather"), lambda x: torch.cummin(x, dim=0).values)
_row("cummax_cummin_indices_ties", lambda x: ember.stack([x.cummax(0).indices, x.cummin(0).indices]),
     lambda x: np.stack([np_running_index(x, 0, True), np_running_index(x, 0, False)]), ins(ints(0, 3, 7, 3)),
     ("running_extremum_index", "concat"), lambda x: torch.stack([x.cummax(0).indices, x.cummin(0).indices]),
     grad=False)
_row("quantile_linear_dim", lambda x: ember.quantile(x, [0.0, 0.25, 0.5, 0.9], dim=1),
     lambda x: np.quantile(x, [0.0, 0.25, 0.5, 0.9], axis=1), ins(normal(3, 5)), ("argsort", "gather", "where"),
     lambda x: torch.quantile(x, torch.tensor([0.0, 0.25, 0.5, 0.9], dtype=x.dtype), dim=1))
_row("nanquantile_nearest_keepdim", lambda x: x.nanquantile(0.4, dim=0, keepdim=True, interpolation="nearest"),
     lambda x: np.nanquantile(x, 0.4, axis=0, keepdims=True, method="nearest"), ins(_with_nans(4, 3)),
     ("argsort", "gather"), lambda x: x.nanquantile(0.4, dim=0, keepdim=True, interpolation="nearest"))
def np_scatter(x, index, src):
    out = x.copy()
    np.put_along_axis(out, index, src[:index.shape[0], :index.shape[1]], 0)
    return out


def np_index_copy(x, source, index=(2, 0)):
    out = x.copy()
    out[list(index)] = source
    return out


_row("scatter_src", lambda x, s: x.scatter(0, ember.tensor([[2, 0, 1], [0, 1, 2]]), s),
     lambda x, s: np_scatter(x, np.array([[2, 0, 1], [0, 1, 2]]), s), ins(normal(3, 3), normal(3, 4)),
     ("scatter_add", "lt", "cast", "add", "gt", "where", "div", "getitem"),
     lambda x, s: x.scatter(0, torch.tensor([[2, 0, 1], [0, 1, 2]]), s))
_row("scatter_value", lambda x: ember.scatter(x, 1, ember.tensor([[1], [0]]), 0.5),
     lambda x: np.where(np.array([[False, True, False], [True, False, False]]), 0.5, x), ins(normal(2, 3)),
     ("scatter_add", "where"), lambda x: torch.scatter(x, 1, torch.tensor([[1], [0]]), 0.5))
_row("index_fill", lambda x: x.index_fill(1, ember.tensor([2, 0]), -1.0),
     lambda x: np.where(np.array([True, False, True]), -1.0, x), ins(normal(4, 3)), ("index_add", "take", "where"),
     lambda x: x.index_fill(1, torch.tensor([2, 0]), -1.0))
_row("index_copy", lambda x, s: ember.index_copy(x, 0, ember.tensor([2, 0]), s), np_index_copy,
     ins(normal(3, 4), normal(2, 4)), ("index_add", "where", "div"),
     lambda x, s: torch.index_copy(x, 0, torch.tensor([2, 0]), s))


# --- PyTorch's shape, view and split functions (ops/views.py) ----------------------------------------------


def np_block_diag(*blocks):
    blocks = [np.atleast_2d(b) for b in blocks]
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)))
    r = c = 0
    for b in blocks:
        out[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


_row("atleast_1d_2d_3d", lambda a, b: [ember.atleast_1d(a), *ember.atleast_2d(a, b), *ember.atleast_3d([a, b])],
     lambda a, b: [np.atleast_1d(a), np.atleast_2d(a), np.atleast_2d(b), np.atleast_3d(a), np.atleast_3d(b)],
     ins(normal(), normal(3)), "reshape",
     lambda a, b: [torch.atleast_1d(a), *torch.atleast_2d(a, b), *torch.atleast_3d([a, b])])
_row("movedim_pairs", lambda x: ember.movedim(x, (0, 1), (2, 0)), lambda x: np.moveaxis(x, (0, 1), (2, 0)),
     ins(normal(2, 3, 4)), "transpose", lambda x: torch.movedim(x, (0, 1), (2, 0)))
_row("moveaxis_swapdims_t", lambda x, m: [x.moveaxis(-1, 0), x.swapdims(0, 2), ember.t(m)],
     lambda x, m: [np.moveaxis(x, -1, 0), np.swapaxes(x, 0, 2), m.T], ins(normal(2, 3, 4), normal(2, 5)),
     "transpose", lambda x, m: [x.moveaxis(-1, 0), x.swapdims(0, 2), torch.t(m)])
_row("narrow_negative_start", lambda x: ember.narrow(x, 1, -3, 2), lambda x: x[:, 1:3], ins(normal(3, 4)), "getitem",
     lambda x: torch.narrow(x, 1, -3, 2))
_row("take_along_dim_broadcast", lambda x: ember.take_along_dim(x, ember.tensor([[[2], [0], [1]]]), 1),
     lambda x: np.take_along_axis(x, np.array([[[2], [0], [1]]]), 1), ins(normal(2, 3, 4)),
     ("broadcast_to", "gather"), lambda x: torch.take_along_dim(x, torch.tensor([[[2], [0], [1]]]), 1))
_row("take_along_dim_flat", lambda x: x.take_along_dim(ember.tensor([5, 0, 5])), lambda x: x.ravel()[[5, 0, 5]],
     ins(normal(2, 3)), ("reshape", "take"), lambda x: x.take_along_dim(torch.tensor([5, 0, 5])))
_row("tensor_split_sections_indices", lambda x: [*ember.tensor_split(x, 3, 1), *x.tensor_split([1, 6, 4], dim=1)],
     lambda x: [*np.array_split(x, 3, 1), *np.array_split(x, [1, 6, 4], 1)], ins(normal(3, 5)), "getitem",
     lambda x: [*torch.tensor_split(x, 3, 1), *x.tensor_split([1, 6, 4], dim=1)])
_row("hsplit_vsplit_dsplit", lambda x: [*ember.hsplit(x, 2), *ember.vsplit(x, [1]), *x.dsplit(3)],
     lambda x: [*np.hsplit(x, 2), *np.vsplit(x, [1]), *np.dsplit(x, 3)], ins(normal(2, 4, 3)), "getitem",
     lambda x: [*torch.hsplit(x, 2), *torch.vsplit(x, [1]), *x.dsplit(3)])
_row("split_with_sizes", lambda x: x.split_with_sizes([1, 3], dim=1), lambda x: np.split(x, [1], 1),
     ins(normal(2, 4)), "getitem", lambda x: x.split_with_sizes([1, 3], dim=1))
_row("fliplr_flipud_rot90", lambda x: [ember.fliplr(x), x.flipud(), ember.rot90(x), x.rot90(-1, (2, 0)),
                                       ember.rot90(x, 2, [1, 2])],
     lambda x: [np.fliplr(x), np.flipud(x), np.rot90(x), np.rot90(x, -1, (2, 0)), np.rot90(x, 2, (1, 2))],
     ins(normal(2, 3, 4)), ("getitem", "transpose"),
     lambda x: [torch.fliplr(x), x.flipud(), torch.rot90(x), x.rot90(-1, (2, 0)), torch.rot90(x, 2, [1, 2])])
_row("column_stack_row_stack", lambda a, b: [ember.column_stack([a, b, a]), ember.row_stack([a, a])],
     lambda a, b: [np.column_stack([a, b, a]), np.vstack([a, a])], ins(normal(3), normal(3, 2)),
     ("reshape", "concat"), lambda a, b: [torch.column_stack([a, b, a]), torch.row_stack([a, a])])
_row("block_diag", lambda a, b, c: ember.block_diag(a, b, c), np_block_diag, ins(normal(2, 3), normal(), normal(2)),
     ("pad", "concat"), torch and torch.block_diag)
_row("cartesian_prod", lambda a, b: ember.cartesian_prod(a, b),
     lambda a, b: np.stack([np.repeat(a, len(b)), np.tile(b, len(a))], 1), ins(normal(3), normal(2)),
     ("broadcast_to", "concat"), torch and torch.cartesian_prod)
_row("combinations", lambda x: [ember.combinations(x, 3), ember.combinations(x, with_replacement=True)],
     lambda x: [np.array(list(itertools.combinations(x, 3))),
                np.array(list(itertools.combinations_with_replacement(x, 2)))], ins(normal(4)), "take",
     lambda x: [torch.combinations(x, 3), torch.combinations(x, with_replacement=True)])
_row("unfold_method", lambda x: x.unfold(1, 2, 2),
     lambda x: np.lib.stride_tricks.sliding_window_view(x, 2, 1)[:, ::2], ins(normal(2, 5, 3)), ("take", "transpose"),
     lambda x: x.unfold(1, 2, 2))
_row("sum_to_size", lambda x: x.sum_to_size(1, 3, 1), lambda x: x.sum((0, 2), keepdims=True), ins(normal(2, 3, 4)),
     "sum", lambda x: x.sum_to_size(1, 3, 1))
_row("as_strided_overlapping", lambda x: ember.as_strided(x, (3, 3), (2, 1), 1),
     lambda x: np.lib.stride_tricks.as_strided(x.ravel()[1:], (3, 3), (16, 8)).copy(), ins(normal(2, 4)), "take",
     lambda x: torch.as_strided(x, (3, 3), (2, 1), 1))


# --- copies written through views and indices (ops/scatter_views.py) ---------------------------------------


def np_diag_embed(x, offset=0):
    n = x.shape[-1] + abs(offset)
    out = np.zeros(x.shape[:-1] + (n, n))
    for at in np.ndindex(x.shape[:-1]):
        out[at] = np.diag(x[at], offset)
    return out


def np_replaced(x, index, src):
    out = x.copy()
    out[index] = src
    return out


def np_diagonal_scatter(x, src, offset, dim1, dim2):
    out = np.moveaxis(x.copy(), (dim1, dim2), (-2, -1))
    rows, cols = out.shape[-2:]
    n = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
    steps = np.arange(n)
    out[..., steps + max(-offset, 0), steps + max(offset, 0)] = src
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


def np_masked_scatter(x, mask, source):
    out = x.copy()
    mask = np.broadcast_to(mask, x.shape)
    out[mask] = source.ravel()[:mask.sum()]
    return out


def np_put(x, index, source, accumulate):
    out = x.copy().ravel()
    if accumulate:
        np.add.at(out, index.ravel(), source.ravel())
    else:
        out[index.ravel()] = source.ravel()
    return out.reshape(x.shape)


_row("diag_embed_offset_dims", lambda x: ember.diag_embed(x, 1, 0, 2),
     lambda x: np.moveaxis(np_diag_embed(x, 1), (-2, -1), (0, 2)), ins(normal(2, 3)), "diagonal_grad",
     lambda x: torch.diag_embed(x, 1, 0, 2))
_row("diagflat", lambda x: x.diagflat(-1), lambda x: np.diagflat(x, -1), ins(normal(2, 2)), "getitem_grad",
     lambda x: x.diagflat(-1))
_row("diagonal_scatter", lambda x, s: ember.diagonal_scatter(x, s, 1, 2, 1),
     lambda x, s: np_diagonal_scatter(x, s, 1, 2, 1), ins(normal(2, 3, 4), normal(2, 2)),
     ("getitem_grad", "where", "transpose"), lambda x, s: torch.diagonal_scatter(x, s, 1, 2, 1))
_row("select_scatter", lambda x, s: x.select_scatter(s, 1, -1), lambda x, s: np_replaced(x, (slice(None), 2), s),
     ins(normal(2, 3, 4), normal(2, 4)), ("getitem_grad", "where"), lambda x, s: x.select_scatter(s, 1, -1))
_row("slice_scatter_step", lambda x, s: ember.slice_scatter(x, s, 1, 1, None, 2),
     lambda x, s: np_replaced(x, (slice(None), slice(1, None, 2)), s), ins(normal(3, 5), normal(3, 2)),
     ("getitem_grad", "where"), lambda x, s: torch.slice_scatter(x, s, 1, 1, None, 2))
_row("index_put_broadcast", lambda x, v: ember.index_put(x, (ember.tensor([2, 0]),), v),
     lambda x, v: np_replaced(x, [2, 0], v), ins(normal(3, 4), normal(4)), ("broadcast_to", "getitem_grad", "where"),
     lambda x, v: torch.index_put(x, (torch.tensor([2, 0]),), v))
_row("index_put_accumulate", lambda x, v: x.index_put((ember.tensor([1, 1, 0]), ember.tensor([2, 2, 0])), v, True),
     lambda x, v: np_put(x, np.array([6, 6, 0]), v, True), ins(normal(2, 4), normal(3)), ("index_add", "take"),
     lambda x, v: x.index_put((torch.tensor([1, 1, 0]), torch.tensor([2, 2, 0])), v, True))
_row("masked_scatter", lambda x, s: ember.masked_scatter(x, ember.tensor([True, False, True]), s),
     lambda x, s: np_masked_scatter(x, np.array([True, False, True]), s), ins(normal(2, 3), normal(2, 4)),
     ("getitem", "getitem_grad", "where"),
     lambda x, s: torch.masked_scatter(x, torch.tensor([True, False, True]), s))
_row("put_accumulate", lambda x, s: x.put(ember.tensor([[4, -1], [4, 0]]), s, accumulate=True),
     lambda x, s: np_put(x, np.array([4, 5, 4, 0]), s, True), ins(normal(2, 3), normal(2, 2)),
     ("index_add", "take"), lambda x, s: x.put(torch.tensor([[4, -1], [4, 0]]), s, accumulate=True))
_row("put_method", lambda x, s: x.put(ember.tensor([3, 1]), s), lambda x, s: np_put(x, np.array([3, 1]), s, False),
     ins(normal(2, 2), normal(2)), ("getitem_grad", "where"), lambda x, s: x.put(torch.tensor([3, 1]), s))


# --- scatter_reduce and index_reduce (ops/scatter_reduce.py) ------------------------------------------------


def np_scatter_reduce(x, axis, index, src, reduce, include_self=True):
    """A loop over index's positions: each group's members (x's own element when include_self) reduced."""
    groups = {}
    for at in np.ndindex(index.shape):
        target = at[:axis] + (index[at],) + at[axis + 1:]
        groups.setdefault(target, [x[target]] if include_self else []).append(src[at])
    pick = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce]
    out = x.astype(np.float64).copy()
    for target, members in groups.items():
        out[target] = pick(members)
    return out if x.dtype.kind == "f" else np.floor(out).astype(x.dtype)


def np_index_reduce(x, axis, index, source, reduce, include_self=True):
    shape = [1] * x.ndim
    shape[axis] = -1
    spread = np.broadcast_to(np.reshape(index, shape), source.shape)
    return np_scatter_reduce(x, axis, spread, source, reduce, include_self)


_SCATTER_INDEX = [[0, 2, 0], [0, 1, 0], [1, 2, 2]]
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _include in (True, False):
        _row(f"scatter_reduce_{_reduce}{'' if _include else '_exclude_self'}",
             lambda x, s, r=_reduce, i=_include: ember.scatter_reduce(x, 1, ember.tensor(_SCATTER_INDEX), s, r,
                                                                      include_self=i),
             lambda x, s, r=_reduce, i=_include: np_scatter_reduce(x, 1, np.array(_SCATTER_INDEX), s, r, i),
             ins(normal(3, 4), normal(3, 3)),
             "scatter_reduce" if _reduce in ("prod", "amax", "amin") else "scatter_add",
             lambda x, s, r=_reduce, i=_include: torch.scatter_reduce(x, 1, torch.tensor(_SCATTER_INDEX), s, r,
                                                                      include_self=i))
_row("scatter_reduce_amax_ties", lambda x, s: x.scatter_reduce(0, ember.tensor([[0, 1], [0, 1]]), s, "amax"),
     lambda x, s: np_scatter_reduce(x, 0, np.array([[0, 1], [0, 1]]), s, "amax"),
     ins(const([[2.0, 1.0], [0.0, 0.0]]), const([[2.0, -1.0], [2.0, 3.0]])), "scatter_reduce",
     lambda x, s: x.scatter_reduce(0, torch.tensor([[0, 1], [0, 1]]), s, "amax"), grad=False)
_row("scatter_reduce_prod_zeros", lambda x, s: ember.scatter_reduce(x, 0, ember.tensor([0, 0, 1, 2, 2]), s, "prod"),
     lambda x, s: np_scatter_reduce(x, 0, np.array([0, 0, 1, 2, 2]), s, "prod"),
     ins(normal(3, shift=3.0), const([0.0, 1.5, 0.0, -0.5, 2.0])), "scatter_reduce",
     lambda x, s: torch.scatter_reduce(x, 0, torch.tensor([0, 0, 1, 2, 2]), s, "prod"), double_grad=False)
_row("scatter_reduce_int_mean", lambda x, s: ember.scatter_reduce(x, 0, ember.tensor([0, 0, 2]), s, "mean"),
     lambda x, s: np_scatter_reduce(x, 0, np.array([0, 0, 2]), s, "mean"), ins(ints(-9, 9, 3), ints(-9, 9, 3)),
     "scatter_add", lambda x, s: torch.scatter_reduce(x, 0, torch.tensor([0, 0, 2]), s, "mean"), grad=False)
for _reduce in ("prod", "mean", "amax", "amin"):
    _row(f"index_reduce_{_reduce}", lambda x, s, r=_reduce: x.index_reduce(1, ember.tensor([2, 0, 2]), s, r),
         lambda x, s, r=_reduce: np_index_reduce(x, 1, np.array([2, 0, 2]), s, r), ins(normal(2, 4), normal(2, 3)),
         ("broadcast_to", "scatter_reduce" if _reduce != "mean" else "scatter_add"),
         lambda x, s, r=_reduce: x.index_reduce(1, torch.tensor([2, 0, 2]), s, r))
_row("index_reduce_amin_exclude_self", lambda x, s: ember.index_reduce(x, 0, ember.tensor([1, 1]), s, "amin",
                                                                       include_self=False),
     lambda x, s: np_index_reduce(x, 0, np.array([1, 1]), s, "amin", False), ins(normal(3, 2), normal(2, 2)),
     "scatter_reduce", lambda x, s: torch.index_reduce(x, 0, torch.tensor([1, 1]), s, "amin", include_self=False))
_row("prod_with_one_zero", lambda x: ember.prod(x, axis=1), lambda x: np.prod(x, axis=1),
     ins(lambda rng: np.where(np.eye(3, 4) > 0, 0.0, rng.uniform(0.5, 1.5, (3, 4)))), "prod",
     lambda x: torch.prod(x, 1))
# With two zeros the gradient of a zero element is 0 * (the other zero): its derivative is not reproduced.
_row("prod_with_two_zeros", ember.prod, np.prod, ins(const([0.0, 1.5, 0.0, -0.7])), "prod", torch and torch.prod,
     double_grad=False)
_row("mean_int", ember.mean, lambda x: np.mean(x).astype(np.float32), ins(ints(-9, 9, 3, 4)), ("cast", "sum"),
     grad=False)
_row("var_ddof1", lambda x: ember.var(x, axis=1, ddof=1), lambda x: np.var(x, axis=1, ddof=1), ins(normal(3, 4)),
     "sum", lambda x: torch.var(x, dim=1))
_row("std_ddof1_keepdims", lambda x: ember.std(x, axis=(0, 1), keepdims=True, ddof=1),
     lambda x: np.std(x, axis=(0, 1), keepdims=True, ddof=1), ins(normal(3, 4, 2)), ("sqrt", "sum"),
     lambda x: torch.std(x, dim=(0, 1), keepdim=True))
_row("reciprocal_count_ddof1", lambda x: x * ember.ops.reduction.reciprocal_count(x, axis=(0, 2), ddof=1),
     lambda x: x / (3 * 2 - 1), ins(normal(3, 4, 2)), ("reciprocal_count", "mul"))
_row("logsumexp_large", lambda x: ember.logsumexp(x, axis=1), lambda x: np_logsumexp(x, axis=1),
     ins(normal(3, 4, shift=800.0)), ("exp", "log"), lambda x: torch.logsumexp(x, 1), extra={"f32_atol": 0.1})
_row("logsumexp_method", lambda x: x.logsumexp(-1, keepdims=True), lambda x: np_logsumexp(x, -1, True),
     ins(normal(2, 5)), ("exp", "log"), lambda x: torch.logsumexp(x, -1, keepdim=True))

for _name, _np_fn in [("any", np.any), ("all", np.all)]:
    _fn = getattr(ember, _name)
    for _axis, _keep in [(None, False), (1, False), ((0, 2), True)]:
        _row(f"{_name}_{_axis_tag(_axis, _keep)}", lambda x, f=_fn, a=_axis, k=_keep: f(x, a, k),
             lambda x, f=_np_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k), ins(bools(2, 3, 4)), _name,
             _torch_reduce(_name, _axis, _keep), grad=False)
    _row(f"{_name}_float", lambda x, f=_fn: f(x, 0), lambda x, f=_np_fn: f(x, 0),
         ins(lambda rng: rng.integers(0, 2, (2, 3)) * rng.standard_normal((2, 3))), _name,
         lambda x, n=_name: getattr(torch, n)(x, 0), grad=False)
_row("all_true_any_false", lambda x: ember.stack([ember.all(x > -10), ember.any(x > 10)]),
     lambda x: np.stack([np.all(x > -10), np.any(x > 10)]), ins(normal(3, 4)), ("all", "any", "gt", "concat"),
     grad=False)

for _name in ("argmax", "argmin"):
    _fn, _np_fn = getattr(ember, _name), getattr(np, _name)
    for _axis, _keep in [(None, False), (None, True), (1, False), (-1, True)]:
        _row(f"{_name}_{_axis_tag(_axis, _keep)}", lambda x, f=_fn, a=_axis, k=_keep: f(x, a, k),
             lambda x, f=_np_fn, a=_axis, k=_keep: f(x, axis=a, keepdims=k), ins(normal(2, 3, 4)), _name,
             _torch_reduce(_name, _axis, _keep), grad=False)
    _row(f"{_name}_int_method", lambda x, n=_name: getattr(x, n)(0), lambda x, f=_np_fn: f(x, 0),
         ins(lambda rng: rng.permutation(12).reshape(4, 3)), _name, lambda x, n=_name: getattr(torch, n)(x, 0),
         grad=False)

# --- shape and layout -------------------------------------------------------------------------------------

_row("reshape", lambda x: ember.reshape(x, (6, 4)), lambda x: x.reshape(6, 4), ins(normal(2, 3, 4)), "reshape",
     lambda x: x.reshape(6, 4))
_row("reshape_infer_dim", lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), ins(normal(2, 3, 4)), "reshape",
     lambda x: x.reshape(4, -1))
_row("reshape_from_0d", lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), ins(normal()), "reshape",
     lambda x: x.reshape(1, 1))
_row("view_flat", lambda x: x.view(-1), lambda x: x.reshape(-1), ins(normal(3, 2)), "reshape",
     lambda x: x.reshape(-1))
_row("transpose_reverse", ember.transpose, np.transpose, ins(normal(2, 3, 4)), "transpose",
     lambda x: x.permute(2, 1, 0))
_row("transpose_axes", lambda x: ember.transpose(x, (1, 0, 2)), lambda x: np.transpose(x, (1, 0, 2)),
     ins(normal(2, 3, 4)), "transpose", lambda x: x.permute(1, 0, 2))
_row("transpose_negative_axes", lambda x: ember.transpose(x, (-1, 0, 1)), lambda x: np.transpose(x, (2, 0, 1)),
     ins(normal(2, 3, 4)), "transpose", lambda x: x.permute(2, 0, 1))
_row("permute", lambda x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), ins(normal(2, 3, 4)), "transpose",
     lambda x: x.permute(2, 0, 1))
_row("swapaxes", lambda x: x.swapaxes(0, 2), lambda x: x.swapaxes(0, 2), ins(normal(2, 3, 4)), "transpose",
     lambda x: x.swapaxes(0, 2))
_row("moveaxis", lambda x: ember.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), ins(normal(2, 3, 4)),
     "transpose", lambda x: torch.moveaxis(x, 0, -1))
_row("T_property", lambda x: x.T, lambda x: x.T, ins(normal(2, 3)), "transpose", lambda x: x.T)
_row("mT_property", lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2), ins(normal(2, 3, 4)), "transpose",
     lambda x: x.mT)
_row("broadcast_to", lambda x: ember.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)),
     ins(normal(3, 1)), "broadcast_to", lambda x: x.expand(2, 3, 4))
_row("broadcast_to_keep_dim", lambda x: ember.broadcast_to(x, (2, -1, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)),
     ins(normal(3, 1)), "broadcast_to", lambda x: x.expand(2, -1, 4))
_row("broadcast_like", lambda x, like: ember.ops.shape.broadcast_like(x, like),
     lambda x, like: np.broadcast_to(x, like.shape), ins(normal(1, 3), normal(4, 3)), "broadcast_like",
     lambda x, like: x.expand_as(like), grad_inputs=(0,))
_row("broadcast_to_from_0d", lambda x: ember.broadcast_to(x, (3,)), lambda x: np.broadcast_to(x, (3,)),
     ins(normal()), "broadcast_to", lambda x: x.expand(3))
_row("expand", lambda x: x.expand(2, 4, 3), lambda x: np.broadcast_to(x, (2, 4, 3)), ins(normal(1, 3)),
     "broadcast_to", lambda x: x.expand(2, 4, 3))
_row("squeeze_all", ember.squeeze, np.squeeze, ins(normal(1, 3, 1)), "reshape", torch and torch.squeeze)
_row("squeeze_axis", lambda x: x.squeeze(-1), lambda x: x.squeeze(-1), ins(normal(1, 3, 1)), "reshape",
     lambda x: x.squeeze(-1))
_row("squeeze_non_unit_axis_is_noop", lambda x: ember.squeeze(x, 1), lambda x: x, ins(normal(2, 3)), (),
     lambda x: x.squeeze(1))
_row("unsqueeze_front", lambda x: x.unsqueeze(0), lambda x: x[None], ins(normal(2, 3)), "reshape",
     lambda x: x.unsqueeze(0))
_row("unsqueeze_negative", lambda x: ember.unsqueeze(x, -1), lambda x: x[..., None], ins(normal(2, 3)), "reshape",
     lambda x: x.unsqueeze(-1))
_row("expand_dims_middle", lambda x: ember.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), ins(normal(2, 3)),
     "reshape", lambda x: x.unsqueeze(1))
_row("flatten", lambda x: x.flatten(), lambda x: x.reshape(-1), ins(normal(2, 3, 4)), "reshape",
     lambda x: x.flatten())
_row("flatten_from_1", lambda x: x.flatten(1), lambda x: x.reshape(2, -1), ins(normal(2, 3, 4)), "reshape",
     lambda x: x.flatten(1))
_row("flatten_0_1", lambda x: ember.flatten(x, 0, 1), lambda x: x.reshape(6, 4), ins(normal(2, 3, 4)), "reshape",
     lambda x: x.flatten(0, 1))
_row("ravel", ember.ravel, np.ravel, ins(normal(3, 2)), "reshape", torch and torch.ravel)
_row("concat_axis0", lambda a, b: ember.concat([a, b]), lambda a, b: np.concatenate([a, b]),
     ins(normal(2, 3), normal(1, 3)), "concat", lambda a, b: torch.cat([a, b]))
_row("concat_axis1", lambda a, b: ember.concatenate([a, b], axis=1), lambda a, b: np.concatenate([a, b], axis=1),
     ins(normal(2, 3), normal(2, 2)), "concat", lambda a, b: torch.cat([a, b], 1))
_row("cat_three_negative_axis", lambda a, b, c: ember.cat([a, b, c], -1), lambda a, b, c: np.concatenate([a, b, c], -1),
     ins(normal(2, 2, 1), normal(2, 2, 3), normal(2, 2, 2)), "concat", lambda a, b, c: torch.cat([a, b, c], -1))
_row("concat_promotes_int", lambda a, b: ember.concat([a, b]), lambda a, b: np.concatenate([a, b]),
     ins(normal(2, 3), ints(-3, 3, 1, 3)), ("concat", "cast"), lambda a, b: torch.cat([a, b]))
_row("stack", lambda a, b: ember.stack([a, b]), lambda a, b: np.stack([a, b]), ins(normal(2, 3), normal(2, 3)),
     ("concat", "reshape"), lambda a, b: torch.stack([a, b]))
_row("stack_last_axis", lambda a, b, c: ember.stack([a, b, c], axis=-1), lambda a, b, c: np.stack([a, b, c], -1),
     ins(normal(2, 3), normal(2, 3), normal(2, 3)), ("concat", "reshape"), lambda a, b, c: torch.stack([a, b, c], -1))
_row("split_equal", lambda x: ember.split(x, 2), lambda x: np.split(x, 2), ins(normal(4, 3)), "getitem",
     lambda x: torch.chunk(x, 2))
_row("split_sizes_axis1", lambda x: x.split([1, 2], axis=1), lambda x: np.split(x, [1], axis=1),
     ins(normal(2, 3)), "getitem", lambda x: torch.split(x, [1, 2], dim=1))
_row("chunk_uneven", lambda x: ember.chunk(x, 3), lambda x: np.split(x, [2, 4]), ins(normal(5, 2)), "getitem",
     lambda x: torch.chunk(x, 3))
_row("pad_int", lambda x: ember.pad(x, 1), lambda x: np.pad(x, 1), ins(normal(2, 3)), "pad",
     lambda x: F.pad(x, (1, 1, 1, 1)))
_row("pad_pairs_value", lambda x: ember.pad(x, ((0, 1), (2, 0)), value=0.5),
     lambda x: np.pad(x, ((0, 1), (2, 0)), constant_values=0.5), ins(normal(2, 3)), "pad",
     lambda x: F.pad(x, (2, 0, 0, 1), value=0.5))
_row("pad_one_pair_all_axes", lambda x: ember.pad(x, ((1, 2),)), lambda x: np.pad(x, ((1, 2),)),
     ins(normal(2, 2, 2)), "pad", lambda x: F.pad(x, (1, 2, 1, 2, 1, 2)))
_row("repeat_flat", lambda x: ember.repeat(x, 2), lambda x: np.repeat(x, 2), ins(normal(2, 3)), "repeat",
     lambda x: torch.repeat_interleave(x, 2))
_row("repeat_axis1", lambda x: x.repeat(3, axis=1), lambda x: np.repeat(x, 3, axis=1), ins(normal(2, 2, 2)),
     "repeat", lambda x: torch.repeat_interleave(x, 3, dim=1))
_row("repeat_negative_axis", lambda x: ember.repeat(x, 2, axis=-1), lambda x: np.repeat(x, 2, axis=-1),
     ins(normal(3, 2)), "repeat", lambda x: torch.repeat_interleave(x, 2, dim=-1))
_row("tile", lambda x: ember.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1)), ins(normal(2, 3)), "tile",
     lambda x: x.repeat(2, 1))
_row("tile_more_reps_than_dims", lambda x: x.tile((2, 2)), lambda x: np.tile(x, (2, 2)), ins(normal(3)), "tile",
     lambda x: x.repeat(2, 2))
_row("tile_int_reps", lambda x: ember.tile(x, 2), lambda x: np.tile(x, 2), ins(normal(2, 3)), "tile",
     lambda x: x.repeat(1, 2))
_row("clone", lambda x: x.clone(), lambda x: x.copy(), ins(normal(2, 3)), "copy", lambda x: x.clone())
_row("contiguous_op", lambda x: ember.ops.shape.as_contiguous(x.T), lambda x: x.T.copy(), ins(normal(2, 3)),
     ("contiguous", "transpose"), lambda x: x.T.contiguous())
# (its gradient is none by design, not the derivative: tests/test_autograd.py checks it)
_row("stop_gradient", lambda x: ember.stop_gradient(x) * x, lambda x: x * x, ins(normal(2, 3)),
     ("stop_gradient", "mul"), lambda x: x.detach() * x, grad=False)
_row("to_device_cpu", lambda x: ember.to_device(x, "cpu"), lambda x: x.copy(), ins(normal(2, 3)), "to_device",
     lambda x: x.to("cpu"))

# --- casts ------------------------------------------------------------------------------------------------

_row("cast_float64_to_float32", lambda x: ember.cast(x, ember.float32), lambda x: x.astype(np.float32),
     ins(normal(2, 3)), "cast", lambda x: x.float(), grad=False, extra={"fixed_dtype": True})
_row("cast_float_to_bfloat16", lambda x: x.bfloat16(), lambda x: x.astype(ember.bfloat16),
     ins(normal(2, 3)), "cast", grad=False, atol=1e-2, rtol=1e-2, extra={"fixed_dtype": True})
_row("cast_float_to_half_method", lambda x: x.half(), lambda x: x.astype(np.float16), ins(normal(4)), "cast",
     lambda x: x.half(), grad=False, atol=1e-3, rtol=1e-3, extra={"fixed_dtype": True})
_row("cast_float_to_int_truncates", lambda x: x.long(), lambda x: x.astype(np.int64),
     ins(int_floats(-20, 20, 5, scale=0.3)), "cast", lambda x: x.long(), grad=False)
_row("cast_int_to_float64", lambda x: x.double(), lambda x: x.astype(np.float64), ins(ints(-5, 5, 2, 3)), "cast",
     lambda x: x.double(), grad=False)
_row("cast_bool_to_int", lambda x: ember.cast(x, "int64"), lambda x: x.astype(np.int64), ins(bools(2, 3)), "cast",
     lambda x: x.long(), grad=False)
_row("cast_float_to_bool", lambda x: x.bool(), lambda x: x.astype(bool), ins(int_floats(-2, 3, 5)), "cast",
     lambda x: x.bool(), grad=False)
_row("cast_int64_to_int32", lambda x: x.int(), lambda x: x.astype(np.int32), ins(ints(-5, 5, 4)), "cast",
     lambda x: x.int(), grad=False)
# (integer inputs: the float rows run in float32 and float64, whose bits differ)
_row("view_dtype_int64_as_int32_pairs", lambda x: x.view(ember.int32), lambda x: x.view(np.int32),
     ins(ints(-2**40, 2**40, 3, 2)), "view_dtype", (lambda x: x.view(torch.int32)) if torch else None, grad=False)
_row("view_dtype_int64_as_uint8", lambda x: x.view(dtype=ember.uint8), lambda x: x.view(np.uint8),
     ins(ints(-300, 300, 2, 2)), "view_dtype", (lambda x: x.view(torch.uint8)) if torch else None, grad=False)

# --- indexing ---------------------------------------------------------------------------------------------

GETITEM = [
    ("int", lambda x: x[1], (4, 3)),
    ("negative_int_pair", lambda x: x[-1, 2], (4, 3)),
    ("slices", lambda x: x[1:3, ::2], (4, 5)),
    ("negative_slice_bounds", lambda x: x[-3:-1, 1:], (4, 3)),
    ("none_ellipsis", lambda x: x[None, ..., 1], (2, 3, 4)),
    ("ellipsis_slice", lambda x: x[..., 1:3], (2, 3, 4)),
    ("int_array_repeats", lambda x: x[[0, 2, 0, 0]], (4, 3)),
    ("int_array_2d", lambda x: x[np.array([[0, 1], [3, 3]])], (4, 3)),
    ("two_int_arrays", lambda x: x[[0, 1, 1], [2, 2, 0]], (3, 4)),
    ("slice_and_int_array", lambda x: x[1:, [0, 0, 3]], (3, 4, 2)),
    ("negative_int_array", lambda x: x[:, [-1, 0, -1]], (2, 3)),
]
for _name, _index, _shape in GETITEM:
    _row(f"getitem_{_name}", _index, _index, ins(normal(*_shape)), ("getitem", "getitem_grad"), _index)
_row("select_dim1", lambda x: x.select(1, -2), lambda x: x[:, -2], ins(normal(2, 3, 4)), ("getitem", "getitem_grad"),
     lambda x: x.select(1, -2))
_row("unbind_last", lambda x: ember.unbind(x, dim=-1), lambda x: tuple(np.moveaxis(x, -1, 0)), ins(normal(2, 3)),
     ("getitem", "getitem_grad"), lambda x: torch.unbind(x, dim=-1))
for _offset, _d1, _d2, _shape in [(0, 0, 1, (3, 4)), (1, 0, 1, (3, 4)), (-2, 0, 1, (4, 3)), (1, 2, 0, (2, 3, 4)),
                                  (-1, -1, 1, (2, 3, 4)), (5, 0, 1, (2, 3))]:
    _row(f"diagonal_{_offset}_{_d1}_{_d2}".replace("-", "m"),
         lambda x, o=_offset, a=_d1, b=_d2: x.diagonal(o, dim1=a, dim2=b),
         lambda x, o=_offset, a=_d1, b=_d2: np.diagonal(x, o, a, b), ins(normal(*_shape)), "diagonal",
         lambda x, o=_offset, a=_d1, b=_d2: torch.diagonal(x, o, a, b))
for _k in (0, 2, -1):
    _row(f"diag_of_vector_{_k}".replace("-", "m"), lambda x, k=_k: ember.diag(x, k), lambda x, k=_k: np.diag(x, k),
         ins(normal(3)), "getitem_grad", lambda x, k=_k: torch.diag(x, k))
_row("diag_of_matrix_method", lambda x: x.diag(1), lambda x: np.diag(x, 1), ins(normal(3, 4)), ("diagonal", "copy"),
     lambda x: x.diag(1))
_row("getitem_reverse_step", lambda x: x[::-1, 1], lambda x: x[::-1, 1], ins(normal(3, 2)),
     ("getitem", "getitem_grad"))


def _mask(*shape):
    def sample(rng):
        m = rng.random(shape) < 0.5
        m.reshape(-1)[0] = True
        return m

    return sample


_row("getitem_bool_mask", lambda x, m: x[m], lambda x, m: x[m], ins(normal(3, 4), _mask(3, 4)),
     ("getitem", "getitem_grad"), lambda x, m: x[m])
_row("getitem_bool_row_mask", lambda x, m: x[m], lambda x, m: x[m], ins(normal(4, 2), _mask(4)),
     ("getitem", "getitem_grad"), lambda x, m: x[m])
_row("getitem_tensor_index", lambda x, i: x[i], lambda x, i: x[i], ins(normal(5, 2), ints(0, 5, 6)),
     ("getitem", "getitem_grad"), lambda x, i: x[i])
_row("getitem_repeats_squared", lambda x: x[[0, 2, 0]] * x[[0, 2, 0]], lambda x: x[[0, 2, 0]] ** 2,
     ins(normal(3, 2)), ("getitem", "getitem_grad", "mul"), lambda x: x[[0, 2, 0]] ** 2)
_row("getitem_slice_squared", lambda x: x[1:, ::2] * x[1:, ::2], lambda x: x[1:, ::2] ** 2, ins(normal(3, 4)),
     ("getitem", "getitem_grad", "mul"), lambda x: x[1:, ::2] ** 2)

_row("take_flat", lambda x, i: ember.take(x, i), lambda x, i: np.take(x, i),
     ins(normal(4, 3), const([[0, 11], [-1, 4]])), ("take", "index_add", "reshape"), lambda x, i: torch.take(x, i))
_row("take_axis0", lambda x, i: ember.take(x, i, 0), lambda x, i: np.take(x, i, axis=0),
     ins(normal(4, 3), const([[0, 3], [0, 0]])), ("take", "index_add"), lambda x, i: x[i])
_row("take_axis1", lambda x, i: x.take(i, axis=1), lambda x, i: np.take(x, i, axis=1),
     ins(normal(2, 4), const([3, 1, 1])), ("take", "index_add"), lambda x, i: x[:, i])
_row("take_squared", lambda x, i: ember.take(x, i, 0) ** 2, lambda x, i: np.take(x, i, axis=0) ** 2,
     ins(normal(3, 2), const([2, 2, 0])), ("take", "index_add", "pow"), lambda x, i: x[i] ** 2)
_row("index_add_axis0", lambda x, i, s: ember.index_add(x, i, s), np_index_add,
     ins(normal(5, 3), const([0, 2, 0]), normal(3, 3)), ("index_add", "take"), lambda x, i, s: x.index_add(0, i, s))
_row("index_add_axis1", lambda x, i, s: x.index_add(i, s, axis=1), lambda x, i, s: np_index_add(x, i, s, axis=1),
     ins(normal(2, 4), const([3, 1, 3]), normal(2, 3)), ("index_add", "take"), lambda x, i, s: x.index_add(1, i, s))
_row("index_add_squared", lambda x, i, s: ember.index_add(x, i, s) ** 2, lambda x, i, s: np_index_add(x, i, s) ** 2,
     ins(normal(3, 2), const([1, 1]), normal(2, 2)), ("index_add", "take", "pow"),
     lambda x, i, s: x.index_add(0, i, s) ** 2)
_row("gather_axis1", lambda x, i: ember.gather(x, 1, i), lambda x, i: np_gather(x, 1, i),
     ins(normal(3, 4), ints(0, 4, 3, 2)), ("gather", "scatter_add"), lambda x, i: torch.gather(x, 1, i))
_row("gather_axis0_repeats", lambda x, i: x.gather(0, i), lambda x, i: np_gather(x, 0, i),
     ins(normal(3, 4), const([[0, 0, 2, 1], [0, 0, 0, 1]])), ("gather", "scatter_add"),
     lambda x, i: torch.gather(x, 0, i))
_row("gather_squared", lambda x, i: ember.gather(x, 1, i) ** 2, lambda x, i: np_gather(x, 1, i) ** 2,
     ins(normal(2, 3), const([[0, 0], [2, 1]])), ("gather", "scatter_add", "pow"),
     lambda x, i: torch.gather(x, 1, i) ** 2)
_row("scatter_add_axis0", lambda x, i, s: ember.scatter_add(x, 0, i, s), lambda x, i, s: np_scatter_add(x, 0, i, s),
     ins(normal(3, 4), ints(0, 3, 2, 4), normal(2, 4)), ("scatter_add", "gather"),
     lambda x, i, s: torch.scatter_add(x, 0, i, s))
_row("scatter_add_larger_src", lambda x, i, s: x.scatter_add(1, i, s), lambda x, i, s: np_scatter_add(x, 1, i, s),
     ins(normal(3, 4), ints(0, 4, 2, 3), normal(3, 5)), ("scatter_add", "gather", "pad"),
     lambda x, i, s: torch.scatter_add(x, 1, i, s))
_row("scatter_add_squared", lambda x, i, s: ember.scatter_add(x, 0, i, s) ** 2,
     lambda x, i, s: np_scatter_add(x, 0, i, s) ** 2, ins(normal(2, 3), const([[1, 1, 0]]), normal(1, 3)),
     ("scatter_add", "gather", "pow"), lambda x, i, s: torch.scatter_add(x, 0, i, s) ** 2)
_row("one_hot", lambda i: ember.one_hot(i, 5), lambda i: np.eye(5, dtype=np.int64)[i], ins(ints(0, 5, 2, 3)),
     "one_hot", lambda i: F.one_hot(i, 5), grad=False)
_row("one_hot_infer_classes", ember.one_hot, lambda i: np.eye(i.max() + 1, dtype=np.int64)[i],
     ins(const([0, 3, 1])), "one_hot", lambda i: F.one_hot(i), grad=False)
_row("embedding", lambda w, i: ember.ops.embedding(i, w), lambda w, i: w[i], ins(normal(5, 3), ints(0, 5, 4)),
     ("embedding", "embedding_grad"), lambda w, i: F.embedding(i, w))
_row("embedding_2d_ids_repeats", lambda w, i: ember.ops.embedding(i, w), lambda w, i: w[i],
     ins(normal(5, 3), const([[0, 4, 0], [4, 4, 1]])), ("embedding", "embedding_grad"), lambda w, i: F.embedding(i, w))
_row("embedding_sparse", lambda w, i: ember.ops.embedding(i, w, sparse=True), lambda w, i: w[i],
     ins(normal(6, 2), const([[1, 5], [1, 1]])), "embedding", lambda w, i: F.embedding(i, w))
_row("embedding_squared", lambda w, i: ember.ops.embedding(i, w) ** 2, lambda w, i: w[i] ** 2,
     ins(normal(4, 2), const([0, 3, 0])), ("embedding", "embedding_grad", "take", "pow"),
     lambda w, i: F.embedding(i, w) ** 2)
# a table of any rank: rows along axis 0 (a 1-D table's rows are scalars), as TF-1's gather on a variable
_row("embedding_1d_table", lambda w, i: ember.ops.indexing.table_rows(i, w), lambda w, i: w[i],
     ins(normal(5), const([[0, 4, 0], [2, 4, 1]])), ("embedding", "embedding_grad"), lambda w, i: w[i])
_row("embedding_1d_table_sparse", lambda w, i: ember.ops.indexing.table_rows(i, w, sparse=True), lambda w, i: w[i],
     ins(normal(6), const([1, 5, 1])), "embedding", lambda w, i: w[i])
_row("embedding_3d_table_squared", lambda w, i: ember.ops.indexing.table_rows(i, w) ** 2, lambda w, i: w[i] ** 2,
     ins(normal(4, 2, 3), const([[0, 3], [0, 0]])), ("embedding", "embedding_grad", "take", "pow"),
     lambda w, i: w[i] ** 2)

# --- matmul -----------------------------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4)), ((4, 3), (2, 3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)), ((4, 2, 3), (3,)), ((3,), (2, 3, 2)),
]
for _sha, _shb in MATMUL_SHAPES:
    _tag = "x".join(map(str, _sha)) + "_" + "x".join(map(str, _shb))
    _row(f"matmul_{_tag}", ember.matmul, np.matmul, ins(normal(*_sha), normal(*_shb)),
         ("matmul", "transpose"), torch and torch.matmul)
_row("matmul_operator", lambda a, b: a @ b, lambda a, b: a @ b, ins(normal(2, 3), normal(3, 2)), "matmul",
     lambda a, b: a @ b)
_row("rmatmul_numpy", lambda b: np.ones((2, 3)) @ b, lambda b: np.ones((2, 3)) @ b, ins(normal(3, 2)), "matmul",
     lambda b: torch.ones(2, 3, dtype=b.dtype) @ b, extra={"fixed_dtype": True})
_row("dot", ember.dot, np.dot, ins(normal(4), normal(4)), "matmul", torch and torch.dot)
_row("linear_bias", ember.linear, lambda x, w, b: x @ w.T + b, ins(normal(4, 3), normal(2, 3), normal(2)),
     ("linear", "matmul", "transpose", "sum"), torch and F.linear)
_row("linear_no_bias_3d", ember.linear, lambda x, w: x @ w.T, ins(normal(2, 4, 3), normal(5, 3)),
     ("linear", "matmul", "transpose", "reshape"), torch and F.linear)
_row("linear_bias_strided_4d", lambda x, w, b: ember.linear(ember.swapaxes(x, 0, 2), w, b),
     lambda x, w, b: np.swapaxes(x, 0, 2) @ w.T + b, ins(normal(3, 2, 4, 5), normal(6, 5), normal(6)),
     ("linear", "transpose"), torch and (lambda x, w, b: F.linear(x.transpose(0, 2), w, b)))
_row("linear_squared", lambda x, w, b: ember.linear(x, w, b) ** 2, lambda x, w, b: (x @ w.T + b) ** 2,
     ins(normal(3, 2), normal(4, 2), normal(4)), ("linear", "matmul", "pow"),
     lambda x, w, b: F.linear(x, w, b) ** 2)
_row("linear_relu", linear_relu, lambda x, w, b: np.maximum(x @ w.T + b, 0.0),
     ins(normal(4, 3, scale=0.1), normal(5, 3), away(5, gap=1.0)), ("linear_relu", "relu_grad"),
     torch and (lambda x, w, b: F.relu(F.linear(x, w, b))))
_row("linear_relu_3d", linear_relu, lambda x, w, b: np.maximum(x @ w.T + b, 0.0),
     ins(normal(2, 4, 3, scale=0.1), normal(5, 3), away(5, gap=1.0)), ("linear_relu", "relu_grad"),
     torch and (lambda x, w, b: F.relu(F.linear(x, w, b))))
_row("linear_relu_no_bias", linear_relu, lambda x, w: np.maximum(x @ w.T, 0.0),
     ins(normal(4, 3), normal(5, 3)), "linear_relu", torch and (lambda x, w: F.relu(F.linear(x, w))), grad=False)
_row("matmul_chain_squared", lambda a, b: (a @ b) * (a @ b), lambda a, b: (a @ b) ** 2,
     ins(normal(2, 3), normal(3, 2)), ("matmul", "mul"), lambda a, b: (a @ b) ** 2)

# --- activations ------------------------------------------------------------------------------------------

for _axis, _shape in [(-1, (3, 4)), (0, (3, 4)), (1, (2, 3, 4)), (0, ()), (-1, ())]:
    _row(f"softmax_axis{_axis}_{len(_shape)}d", lambda x, a=_axis: ember.softmax(x, a),
         lambda x, a=_axis: np_softmax(x, a), ins(normal(*_shape, scale=2.0)), "softmax",
         lambda x, a=_axis: torch.softmax(x, a))
    _row(f"log_softmax_axis{_axis}_{len(_shape)}d", lambda x, a=_axis: x.log_softmax(a),
         lambda x, a=_axis: np_log_softmax(x, a), ins(normal(*_shape, scale=2.0)), "log_softmax",
         lambda x, a=_axis: torch.log_softmax(x, a))
_row("softmax_large", ember.softmax, np_softmax, ins(normal(2, 5, shift=900.0)), "softmax",
     lambda x: torch.softmax(x, -1))
_row("log_softmax_large", ember.log_softmax, np_log_softmax, ins(normal(2, 5, shift=-900.0)), "log_softmax",
     lambda x: torch.log_softmax(x, -1))
_row("softmax_of_int", ember.softmax, lambda x: np_softmax(x.astype(np.float32)), ins(ints(-3, 3, 2, 3)),
     ("softmax", "cast"), grad=False, atol=1e-6, rtol=1e-5)
_row("leaky_relu", ember.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), ins(away(3, 4)),
     ("where", "gt", "mul", "piecewise", "tie"), F and F.leaky_relu)
_row("leaky_relu_slope", lambda x: ember.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), ins(away(5)),
     ("where", "mul"), lambda x: F.leaky_relu(x, 0.2))
_row("elu", ember.elu, lambda x: np.where(x > 0, x, np.expm1(x)), ins(away(3, 4, scale=2.0)), ("where", "expm1"),
     F and F.elu)
_row("elu_alpha", lambda x: ember.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x)),
     ins(away(6, scale=2.0)), ("where", "expm1", "lt", "eq"), lambda x: F.elu(x, 1.5))
_row("elu_very_negative", ember.elu, lambda x: np.where(x > 0, x, np.expm1(x)), ins(const([-800.0, -30.0, 2.0])),
     ("where", "expm1"), F and F.elu)
_row("gelu", ember.gelu, lambda x: 0.5 * x * (1 + np_erf(x / math.sqrt(2))), ins(normal(3, 4, scale=2.0)),
     ("erf", "mul", "add"), F and F.gelu)
_row("gelu_tanh", lambda x: ember.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
     ins(normal(3, 4, scale=2.0)), ("tanh", "mul", "add"), lambda x: F.gelu(x, approximate="tanh"))
_row("silu", ember.silu, lambda x: x * np_sigmoid(x), ins(normal(3, 4, scale=2.0)), ("sigmoid", "mul"), F and F.silu)
_row("mish", ember.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), ins(normal(3, 4, scale=2.0)),
     ("softplus", "tanh", "mul"), F and F.mish)
_row("hardswish", ember.hardswish, lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
     ins(away(4, 5, points=(-3.0, 3.0), scale=3.0)), "hardswish", F and F.hardswish)
_row("relu6", ember.relu6, lambda x: np.clip(x, 0, 6), ins(away(3, 4, points=(0.0, 6.0), scale=4.0)),
     ("where", "le", "ge"), F and F.relu6)
_row("hardtanh_bounds", lambda x: ember.hardtanh(x, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2.0),
     ins(away(3, 4, points=(-0.5, 2.0), scale=2.0)), "where", lambda x: F.hardtanh(x, -0.5, 2.0))
_row("sigmoid_extreme", ember.sigmoid, np_sigmoid, ins(const([-800.0, -40.0, 0.0, 40.0, 800.0])), "sigmoid",
     torch and torch.sigmoid)
_row("hardshrink", ember.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
     ins(away(3, 4, points=(-0.5, 0.5), scale=2.0)), ("where", "le", "abs"), F and F.hardshrink)
_row("hardshrink_lambd", lambda x: x.hardshrink(1.5), lambda x: np.where(np.abs(x) > 1.5, x, 0.0),
     ins(away(5, points=(-1.5, 1.5), scale=3.0)), ("where", "le"), lambda x: F.hardshrink(x, 1.5))
_row("softshrink", ember.softshrink, lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0.0)),
     ins(away(3, 4, points=(-0.5, 0.5), scale=2.0)), ("where", "gt", "ge", "sub", "add"), F and F.softshrink)
_row("tanhshrink", ember.tanhshrink, lambda x: x - np.tanh(x), ins(normal(3, 4, scale=2.0)), ("tanh", "sub"),
     F and F.tanhshrink)
_row("threshold", lambda x: ember.threshold(x, 0.25, -2.0), lambda x: np.where(x > 0.25, x, -2.0),
     ins(away(3, 4, points=(0.25,))), ("where", "le"), lambda x: F.threshold(x, 0.25, -2.0))

# --- losses -----------------------------------------------------------------------------------------------


def _pair(offset_sampler):
    """(input, target) with target = input - offset, so the error keeps a gap from the loss's kinks."""

    def sample(rng):
        x = rng.standard_normal((3, 4))
        return [x, x - offset_sampler(rng)]

    return sample


for _reduction in ("mean", "sum", "none"):
    _row(f"mse_loss_{_reduction}", lambda x, t, r=_reduction: ember.mse_loss(x, t, r),
         lambda x, t, r=_reduction: np_reduce((x - t) ** 2, r), ins(normal(3, 4), normal(3, 4)), ("sub", "mul"),
         lambda x, t, r=_reduction: F.mse_loss(x, t, reduction=r))
    _row(f"l1_loss_{_reduction}", lambda x, t, r=_reduction: ember.l1_loss(x, t, r),
         lambda x, t, r=_reduction: np_reduce(np.abs(x - t), r), _pair(away(3, 4)), ("sub", "abs"),
         lambda x, t, r=_reduction: F.l1_loss(x, t, reduction=r))
for _delta in (1.0, 0.5):
    _kinks = (0.0, _delta, -_delta)
    _row(f"huber_loss_delta{_delta}", lambda x, t, d=_delta: ember.huber_loss(x, t, delta=d),
         lambda x, t, d=_delta: np.mean(np.where(np.abs(x - t) < d, 0.5 * (x - t) ** 2, d * (np.abs(x - t) - 0.5 * d))),
         _pair(away(3, 4, points=_kinks, gap=0.05, scale=1.5)), ("abs", "where", "lt"),
         lambda x, t, d=_delta: F.huber_loss(x, t, delta=d))
    _row(f"smooth_l1_loss_beta{_delta}_sum", lambda x, t, b=_delta: ember.smooth_l1_loss(x, t, b, "sum"),
         lambda x, t, b=_delta: np.sum(np.where(np.abs(x - t) < b, 0.5 * (x - t) ** 2 / b, np.abs(x - t) - 0.5 * b)),
         _pair(away(3, 4, points=_kinks, gap=0.05, scale=1.5)), ("abs", "where"),
         lambda x, t, b=_delta: F.smooth_l1_loss(x, t, beta=b, reduction="sum"))
_row("smooth_l1_loss_beta0", lambda x, t: ember.smooth_l1_loss(x, t, 0.0), lambda x, t: np.mean(np.abs(x - t)),
     _pair(away(3, 4)), "abs", lambda x, t: F.smooth_l1_loss(x, t, beta=0.0))

NLL = [
    # name, input shape, target sampler, keyword arguments
    ("mean", (3, 5), ints(0, 5, 3), {}),
    ("sum", (3, 5), ints(0, 5, 3), {"reduction": "sum"}),
    ("none", (3, 5), ints(0, 5, 3), {"reduction": "none"}),
    ("ignore_index", (4, 5), some_ignored(ints(0, 5, 4)), {}),
    ("custom_ignore_index", (4, 3), const([2, 0, 2, 1]), {"ignore_index": 2}),
    ("kdim", (2, 4, 3), ints(0, 4, 2, 3), {}),
    ("kdim_none", (2, 4, 3), ints(0, 4, 2, 3), {"reduction": "none"}),
]
for _name, _shape, _target, _kw in NLL:
    _row(f"nll_loss_{_name}", lambda x, t, kw=_kw: ember.nll_loss(x, t, **kw),
         lambda x, t, kw=_kw: np_nll(x, t, **kw), ins(normal(*_shape), _target), ("nll_weights", "mul", "sum"),
         lambda x, t, kw=_kw: F.nll_loss(x, t, **kw))
_row("nll_loss_weight", lambda x, t, w: ember.nll_loss(x, t, w), lambda x, t, w: np_nll(x, t, w),
     ins(normal(4, 3), ints(0, 3, 4), uniform(0.5, 2.0, 3)), ("nll_weights", "mul", "sum"),
     lambda x, t, w: F.nll_loss(x, t, w), grad_inputs=(0,))
_row("nll_loss_weight_ignore_sum", lambda x, t, w: ember.nll_loss(x, t, w, reduction="sum"),
     lambda x, t, w: np_nll(x, t, w, reduction="sum"), ins(normal(4, 3), some_ignored(ints(0, 3, 4), where=(0, 2)),
                                                           uniform(0.5, 2.0, 3)),
     ("nll_weights", "mul", "sum"), lambda x, t, w: F.nll_loss(x, t, w, reduction="sum"), grad_inputs=(0,))

CE = [
    # name, logits shape, target sampler, keyword arguments (weight comes as a third input when "w" is set)
    ("indices", (3, 5), ints(0, 5, 3), {}),
    ("indices_sum", (3, 5), ints(0, 5, 3), {"reduction": "sum"}),
    ("indices_none", (3, 5), ints(0, 5, 3), {"reduction": "none"}),
    ("ignore_index", (4, 3), some_ignored(ints(0, 3, 4)), {}),
    ("custom_ignore_index", (4, 3), const([0, 1, 1, 2]), {"ignore_index": 1}),
    ("kdim", (2, 4, 3), ints(0, 4, 2, 3), {}),
    ("label_smoothing", (3, 5), ints(0, 5, 3), {"label_smoothing": 0.1}),
    ("label_smoothing_ignore", (4, 3), some_ignored(ints(0, 3, 4)), {"label_smoothing": 0.2}),
    ("label_smoothing_none", (3, 4), ints(0, 4, 3), {"label_smoothing": 0.3, "reduction": "none"}),
    ("label_smoothing_kdim_sum", (2, 3, 2), ints(0, 3, 2, 2), {"label_smoothing": 0.1, "reduction": "sum"}),
    ("probabilities", (3, 4), probabilities(3, 4), {}),
    ("probabilities_label_smoothing", (3, 4), probabilities(3, 4), {"label_smoothing": 0.2}),
    ("probabilities_kdim_sum", (2, 3, 2), probabilities(2, 3, 2), {"reduction": "sum"}),
    ("weight", (4, 3), ints(0, 3, 4), {"w": True}),
    ("weight_ignore_sum", (4, 3), some_ignored(ints(0, 3, 4)), {"w": True, "reduction": "sum"}),
    ("weight_label_smoothing", (4, 3), ints(0, 3, 4), {"w": True, "label_smoothing": 0.1}),
    ("weight_label_smoothing_ignore", (5, 3), some_ignored(ints(0, 3, 5)), {"w": True, "label_smoothing": 0.2}),
    ("weight_probabilities", (3, 4), probabilities(3, 4), {"w": True}),
]
for _name, _shape, _target, _kw in CE:
    _kw = dict(_kw)
    _weighted = _kw.pop("w", False)
    _inputs = [normal(*_shape, scale=2.0), _target] + ([uniform(0.5, 2.0, _shape[1])] if _weighted else [])
    _fused = "probabilities" not in _name and "label_smoothing" not in _name  # class indices: the fused op
    # (N, C) logits against class indices without class weights: the loss op and its gradient op
    _sparse = _fused and not _weighted and len(_shape) == 2
    _row(f"cross_entropy_{_name}", lambda x, t, *w, kw=_kw: ember.cross_entropy(x, t, *w, **kw),
         lambda x, t, *w, kw=_kw: np_cross_entropy(x, t, *w, **kw), ins(*_inputs),
         ("sparse_softmax_cross_entropy", "sparse_softmax_cross_entropy_grad") if _sparse else
         ("nll_weights", "softmax_cross_entropy") if _fused else "log_softmax",
         lambda x, t, *w, kw=_kw: F.cross_entropy(x, t, *w, **kw),
         # like PyTorch, class weights of index targets get no gradient
         grad_inputs=(0,) if _weighted and "probabilities" not in _name else None)

for _name, _shape, _axis, _total in [("rows", (3, 5), 1, False), ("total", (3, 5), 1, True),
                                     ("last_axis_kdim", (2, 3, 4), -1, False), ("kdim_total", (2, 4, 3), 1, True)]:
    _row(f"softmax_cross_entropy_{_name}",
         lambda x, p, a=_axis, t=_total: ember.softmax_cross_entropy(x, p, axis=a, total=t),
         lambda x, p, a=_axis, t=_total: -(p * np_log_softmax(x, a)).sum(axis=None if t else a),
         ins(normal(*_shape, scale=2.0), probabilities(*_shape) if _axis == 1 else uniform(0.0, 1.0, *_shape)),
         "softmax_cross_entropy",
         lambda x, p, a=_axis, t=_total: -(p * torch.log_softmax(x, a)).sum() if t else
         -(p * torch.log_softmax(x, a)).sum(a))

CTC = [
    # name, targets (padded (N, S) or concatenated), input lengths, target lengths, keyword arguments
    ("padded_mean", [[1, 2, 2], [3, 1, 0], [2, 0, 0]], [6, 5, 4], [3, 2, 1], {}),
    ("concatenated_sum_blank2", [1, 3, 3, 0, 1, 0], [6, 6, 3], [3, 2, 1], {"blank": 2, "reduction": "sum"}),
    ("padded_none_empty_target", [[1, 1, 3], [3, 2, 1], [1, 1, 1]], [6, 4, 5], [3, 2, 0], {"reduction": "none"}),
]
for _name, _targets, _il, _tl, _kw in CTC:
    # log_softmax first: the gradient (PyTorch's) is the derivative for the logits of log_softmax's output
    _row(f"ctc_loss_{_name}",
         lambda x, t, il, tl, kw=_kw: ember.ctc_loss(ember.log_softmax(x, 2), t, il, tl, **kw),
         lambda x, t, il, tl, kw=_kw: np_ctc(x, t, il, tl, **kw),
         ins(normal(6, 3, 4), const(_targets, np.int64), const(_il, np.int64), const(_tl, np.int64)),
         ("ctc_loss", "ctc_loss_grad", "log_softmax"),
         lambda x, t, il, tl, kw=_kw: F.ctc_loss(torch.log_softmax(x, 2), t, il, tl, **kw), double_grad=False)

for _name, _weighted in [("mean", False), ("weight", True)]:
    _inputs = [uniform(0.05, 0.95, 3, 4), uniform(0.0, 1.0, 3, 4)] + ([uniform(0.5, 2, 4)] if _weighted else [])
    _row(f"binary_cross_entropy_{_name}", ember.binary_cross_entropy, np_bce, ins(*_inputs), "binary_cross_entropy",
         F and F.binary_cross_entropy)
_row("binary_cross_entropy_sum_hard_targets", lambda x, t: ember.binary_cross_entropy(x, t, reduction="sum"),
     lambda x, t: np_bce(x, t, reduction="sum"), ins(uniform(0.05, 0.95, 5), int_floats(0, 2, 5)),
     "binary_cross_entropy",
     lambda x, t: F.binary_cross_entropy(x, t, reduction="sum"),
     grad_inputs=(0,))  # targets of 0 and 1 moved by finite differences leave [0, 1], which is refused
BCE_LOGITS = [
    # name, extra inputs by keyword, keyword arguments
    ("mean", {}, {}),
    ("none", {}, {"reduction": "none"}),
    ("weight", {"weight": uniform(0.5, 2.0, 3, 4)}, {}),
    ("pos_weight", {"pos_weight": uniform(0.5, 3.0, 4)}, {}),
    ("weight_pos_weight_sum", {"weight": uniform(0.5, 2.0, 4), "pos_weight": uniform(0.5, 3.0, 4)},
     {"reduction": "sum"}),
]
for _name, _extra_inputs, _kw in BCE_LOGITS:
    _samplers = [normal(3, 4, scale=3.0), uniform(0.0, 1.0, 3, 4)] + list(_extra_inputs.values())

    def _call(fn, x, t, *rest, kw=_kw, names=tuple(_extra_inputs)):
        return fn(x, t, **dict(zip(names, rest)), **kw)

    _row(f"bce_with_logits_{_name}", lambda *a, c=_call: c(ember.binary_cross_entropy_with_logits, *a),
         lambda *a, c=_call: c(np_bce_logits, *a), ins(*_samplers), ("softplus", "neg", "mul"),
         lambda *a, c=_call: c(F.binary_cross_entropy_with_logits, *a))

# --- normalization and dropout ----------------------------------------------------------------------------

_row("layer_norm_affine", lambda x, w, b: ember.layer_norm(x, 4, w, b), lambda x, w, b: np_layer_norm(x, 1, w, b),
     ins(normal(2, 3, 4), normal(4), normal(4)), "layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b))
_row("layer_norm_2d_shape", lambda x, w, b: ember.layer_norm(x, (3, 4), w, b),
     lambda x, w, b: np_layer_norm(x, 2, w, b), ins(normal(2, 3, 4), normal(3, 4), normal(3, 4)), "layer_norm",
     lambda x, w, b: F.layer_norm(x, (3, 4), w, b))
_row("layer_norm_plain", lambda x: ember.layer_norm(x, [5]), lambda x: np_layer_norm(x, 1), ins(normal(3, 5)),
     "layer_norm", lambda x: F.layer_norm(x, (5,)))
_row("layer_norm_weight_only_squared", lambda x, w: ember.layer_norm(x, 6, w) ** 2,
     lambda x, w: np_layer_norm(x, 1, w) ** 2, ins(normal(4, 6), normal(6)), ("layer_norm", "pow"),
     lambda x, w: F.layer_norm(x, (6,), w) ** 2)


def _bn_train(x, *affine):
    channels = x.shape[1]
    rm = ember.zeros(channels, dtype=x.dtype, device=x.device)
    rv = ember.ones(channels, dtype=x.dtype, device=x.device)
    return ember.batch_norm(x, rm, rv, *affine, training=True)


def _torch_bn_train(x, *affine):
    channels = x.shape[1]
    rm, rv = torch.zeros(channels, dtype=x.dtype), torch.ones(channels, dtype=x.dtype)
    return F.batch_norm(x, rm, rv, *affine, training=True)


_row("batch_norm_train_2d", _bn_train, np_batch_norm_train, ins(normal(4, 3), normal(3), normal(3)),
     ("batch_norm_train", "batch_moments", "sum"), _torch_bn_train)
_row("batch_norm_train_4d", _bn_train, np_batch_norm_train, ins(normal(2, 3, 2, 2), normal(3), normal(3)),
     ("batch_norm_train", "batch_moments", "sum"), _torch_bn_train)
_row("batch_norm_train_3d_shifted", _bn_train, np_batch_norm_train,
     ins(normal(3, 4, 5, scale=3.0, shift=2.0), normal(4), normal(4)), ("batch_norm_train", "batch_moments", "sum"),
     _torch_bn_train)
_row("batch_norm_train_no_affine", _bn_train, np_batch_norm_train, ins(normal(3, 2, 3)),
     ("batch_norm_train", "batch_moments", "sum"), _torch_bn_train)


def np_batch_moments(x):
    axes = (0,) + tuple(range(2, x.ndim))
    return np.stack([x.mean(axes), x.var(axes)])


_row("batch_moments", batch_moments, np_batch_moments,
     ins(normal(5, 3, 4, 2, scale=3.0, shift=2.0)), "batch_moments", grad=False)
_row("batch_norm_eval", lambda x, m, v, w, b: ember.batch_norm(x, m, v, w, b), np_batch_norm,
     ins(normal(4, 3), normal(3), uniform(0.5, 2.0, 3), normal(3), normal(3)), ("sqrt", "reshape", "div"),
     lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b))
_row("batch_norm_eval_3d_no_affine", lambda x, m, v: ember.batch_norm(x, m, v), np_batch_norm,
     ins(normal(2, 3, 2), normal(3), uniform(0.5, 2.0, 3)), ("sqrt", "reshape"),
     lambda x, m, v: F.batch_norm(x, m, v))
_row("dropout_p0", lambda x: ember.dropout(x, 0.0), lambda x: x, ins(normal(3, 4)), (), lambda x: F.dropout(x, 0.0))
_row("dropout_eval", lambda x: ember.dropout(x, 0.7, training=False), lambda x: x, ins(normal(3, 4)), (),
     lambda x: F.dropout(x, 0.7, training=False))


# --- sampling: grid_sample and affine_grid ----------------------------------------------------------------


def np_grid_coordinate(coord, size, padding, align):
    """PyTorch's unnormalize and compute_coordinates of one grid coordinate (a Python float)."""
    coord = (coord + 1) / 2 * (size - 1) if align else ((coord + 1) * size - 1) / 2
    return np_pad_coordinate(coord, size, padding, align)


def np_pad_coordinate(coord, size, padding, align):
    if padding == "reflection":
        low, span = (0.0, size - 1.0) if align else (-0.5, float(size))
        if span <= 0:
            return 0.0
        distance = abs(coord - low)
        flips, extra = divmod(distance, span)
        coord = extra + low if flips % 2 == 0 else span - extra + low
    if padding in ("border", "reflection"):
        coord = min(max(coord, 0.0), size - 1.0)
    return coord


def np_cubic_weights(t, a=-0.75):
    def near(s):  # |s| <= 1
        return ((a + 2) * s - (a + 3)) * s * s + 1

    def far(s):  # 1 < |s| < 2
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def np_grid_sample(x, grid, mode="bilinear", padding="zeros", align=False):
    """A loop over every output point of PyTorch's formulas, for 4-D and 5-D input (x: (N, C, *spatial),
    grid: (N, *out, D) with component c addressing spatial axis D - 1 - c)."""
    spatial = x.shape[2:]
    out = np.zeros(x.shape[:2] + grid.shape[1:-1])
    for n in range(x.shape[0]):
        for point in np.ndindex(*grid.shape[1:-1]):
            coords = grid[(n, *point)][::-1]  # in the input's axis order
            if mode == "bicubic":
                raw = [(c + 1) / 2 * (s - 1) if align else ((c + 1) * s - 1) / 2 for c, s in zip(coords, spatial)]
                base = [math.floor(r) for r in raw]
                axes = [[(np_pad_coordinate(b + k - 1.0, s, padding, align), w)
                         for k, w in enumerate(np_cubic_weights(r - b))] for r, b, s in zip(raw, base, spatial)]
            else:
                source = [np_grid_coordinate(c, s, padding, align) for c, s in zip(coords, spatial)]
                if mode == "nearest":
                    axes = [[(float(np.rint(p)), 1.0)] for p in source]
                else:
                    axes = [[(math.floor(p), math.floor(p) + 1 - p), (math.floor(p) + 1, p - math.floor(p))]
                            for p in source]
            for taps in itertools.product(*axes):
                index = tuple(int(p) for p, _ in taps)
                if all(0 <= i < s for i, s in zip(index, spatial)):
                    out[(n, slice(None), *point)] += x[(n, slice(None), *index)] * math.prod(w for _, w in taps)
    return out


def np_affine_grid(theta, size, align=False):
    axes = []
    for n in size[2:]:
        line = np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
        axes.append(line if align else line * (n - 1) / n)
    mesh = np.meshgrid(*axes, indexing="ij")
    base = np.stack([m for m in mesh[::-1]] + [np.ones(mesh[0].shape)], axis=-1)  # (*spatial, D + 1): x first
    return np.einsum("...k,njk->n...j", base, theta)


for _mode, _pad, _align, _shape, _out in [("bilinear", "zeros", False, (2, 2, 3, 4), (2, 3, 2, 2)),
                                          ("bilinear", "reflection", True, (1, 2, 4, 3), (1, 2, 3, 2)),
                                          ("bilinear", "border", False, (1, 2, 2, 3, 3), (1, 2, 2, 1, 3)),
                                          ("nearest", "border", True, (2, 1, 3, 4), (2, 2, 3, 2)),
                                          ("nearest", "reflection", False, (1, 2, 2, 2, 3), (1, 1, 2, 2, 3)),
                                          ("bicubic", "zeros", True, (1, 2, 4, 4), (1, 2, 3, 2)),
                                          ("bicubic", "reflection", False, (1, 1, 3, 4), (1, 3, 2, 2)),
                                          ("bicubic", "border", False, (2, 1, 3, 3), (2, 2, 2, 2))]:
    _row(f"grid_sample_{len(_shape)}d_{_mode}_{_pad}_{'aligned' if _align else 'edges'}",
         lambda x, g, m=_mode, p=_pad, a=_align: ember.grid_sample(x, g, m, p, a),
         lambda x, g, m=_mode, p=_pad, a=_align: np_grid_sample(x, g, m, p, a),
         ins(normal(*_shape), uniform(-1.4, 1.4, *_out)),
         ("grid_sample", "grid_sample_input_grad", "grid_sample_grid_grad"),
         lambda x, g, m=_mode, p=_pad, a=_align: F.grid_sample(x, g, m, p, a))
for _size, _align in [((2, 3, 4, 5), False), ((1, 1, 3, 2), True), ((2, 1, 2, 3, 4), False)]:
    _spatial = len(_size) - 2
    _row(f"affine_grid_{_spatial}d_{'aligned' if _align else 'edges'}",
         lambda t, s=_size, a=_align: ember.affine_grid(t, s, a),
         lambda t, s=_size, a=_align: np_affine_grid(t, s, a), ins(normal(_size[0], _spatial, _spatial + 1)),
         ("matmul", "transpose", "reshape"), lambda t, s=_size, a=_align: F.affine_grid(t, s, a))
_row("grid_sample_of_affine_grid", lambda x, t: ember.grid_sample(x, ember.affine_grid(t, (2, 2, 3, 3))),
     lambda x, t: np_grid_sample(x, np_affine_grid(t, (2, 2, 3, 3))),
     ins(normal(2, 2, 4, 5), normal(2, 2, 3, scale=0.5)), ("grid_sample", "matmul"),
     lambda x, t: F.grid_sample(x, F.affine_grid(t, (2, 2, 3, 3), False), align_corners=False))


def np_resample_matrix(n_in, n_out, mode, align):
    """(n_out, n_in): PyTorch's interpolation of one axis to a given size (no scale_factor), in float64."""
    matrix = np.zeros((n_out, n_in))
    scale = ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0) if align else n_in / n_out
    for i in range(n_out):
        if mode in ("nearest", "nearest-exact"):
            matrix[i, min(math.floor((i + 0.5 if mode == "nearest-exact" else i) * scale), n_in - 1)] = 1
            continue
        real = scale * i if align else scale * (i + 0.5) - 0.5
        if mode == "bicubic":
            first = min(math.floor(real), n_in - 1)
            for k, w in enumerate(np_cubic_weights(min(max(real - first, 0.0), 1.0))):
                matrix[i, min(max(first + k - 1, 0), n_in - 1)] += w
        elif mode == "area":
            start, end = i * n_in // n_out, -(-(i + 1) * n_in // n_out)
            matrix[i, start:end] = 1 / (end - start)
        else:
            real = max(real, 0.0)
            first = min(math.floor(real), n_in - 1)
            matrix[i, first] += 1 - (real - first)
            matrix[i, min(first + 1, n_in - 1)] += real - first
    return matrix


def np_interpolate(x, size, mode, align=False):
    for axis in range(2, x.ndim):
        x = np.moveaxis(np.tensordot(np_resample_matrix(x.shape[axis], size[axis - 2], mode, align),
                                     np.moveaxis(x, axis, 0), 1), 0, axis)
    return x


for _shape, _size, _mode, _align in [((2, 2, 5), (8,), "nearest-exact", None), ((1, 2, 4, 5), (7, 3), "bicubic", False),
                                     ((1, 1, 3, 4), (5, 6), "bicubic", True), ((1, 2, 2, 3, 4), (3, 2, 5), "trilinear",
                                                                             False),
                                     ((2, 1, 5, 7), (3, 4), "area", None), ((1, 2, 4, 3, 5), (2, 2, 3), "area", None),
                                     ((1, 1, 3, 4, 2), (5, 3, 4), "nearest", None)]:
    _row(f"interpolate_{len(_shape)}d_{_mode}{'_aligned' if _align else ''}",
         lambda x, s=_size, m=_mode, a=_align: ember.nn.functional.interpolate(x, s, mode=m, align_corners=a),
         lambda x, s=_size, m=_mode, a=_align: np_interpolate(x, s, m, bool(a)), ins(normal(*_shape)),
         "take" if "nearest" in _mode else ("take", "mul", "add") if _mode != "area" else "adaptive_avg_axis",
         lambda x, s=_size, m=_mode, a=_align: F.interpolate(x, s, mode=m, align_corners=a))
# --- recurrent layers (ONNX's layouts and gate orders) -----------------------------------------------------


def np_recurrent(x, w, r, b, *state, mode="LSTM", direction="forward", linear_before_reset=1):
    """ONNX's RNN/LSTM/GRU in float64, its final states appended along time: [Y; Y_h] or [Y; Y_h; Y_c]."""
    def sig(v):
        return 1.0 / (1.0 + np.exp(-v))

    dirs, hidden = w.shape[0], r.shape[2]
    zero = np.zeros((dirs, x.shape[1], hidden))
    h0, c0 = (state + (zero, zero))[:2] if state else (zero, zero)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        wb, rb = np.split(b[d], 2)
        h, c, seq = h0[d], c0[d], []
        times = range(x.shape[0])
        for t in reversed(times) if d == 1 or direction == "reverse" else times:
            if mode == "GRU":
                (wz, wr, wh), (rz, rr, rh) = np.split(w[d], 3), np.split(r[d], 3)
                (bz, br, bh), (qz, qr, qh) = np.split(wb, 3), np.split(rb, 3)
                z = sig(x[t] @ wz.T + h @ rz.T + bz + qz)
                g = sig(x[t] @ wr.T + h @ rr.T + br + qr)
                inner = g * (h @ rh.T + qh) if linear_before_reset else (g * h) @ rh.T + qh
                h = (1 - z) * np.tanh(x[t] @ wh.T + inner + bh) + z * h
            elif mode == "LSTM":
                i, o, f, cand = np.split(x[t] @ w[d].T + h @ r[d].T + wb + rb, 4, axis=-1)
                c = sig(f) * c + sig(i) * np.tanh(cand)
                h = sig(o) * np.tanh(c)
            else:
                pre = x[t] @ w[d].T + h @ r[d].T + wb + rb
                h = np.maximum(pre, 0) if mode == "RNN_RELU" else np.tanh(pre)
            seq.append((t, h))
        ys.append(np.stack([v for _, v in sorted(seq, key=lambda p: p[0])]))
        hs.append(h)
        cs.append(c)
    finals = [np.stack(hs)[None], np.stack(cs)[None]] if mode == "LSTM" else [np.stack(hs)[None]]
    return np.concatenate([np.stack(ys, axis=1), *finals], axis=0)


def _recurrent_row(name, mode, direction="forward", state=False, lbr=1, grad=False, steps=4, batch=2, feat=3, hid=3):
    gates = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    dirs = 2 if direction == "bidirectional" else 1
    attrs = {"mode": mode, "direction": direction, "linear_before_reset": lbr}
    samplers = [normal(steps, batch, feat), normal(dirs, gates * hid, feat, scale=0.5),
                normal(dirs, gates * hid, hid, scale=0.5), normal(dirs, 2 * gates * hid, scale=0.5)]
    samplers += [normal(dirs, batch, hid)] * (state * (2 if mode == "LSTM" else 1))
    covers = ("matmul", "tanh", "concat") if grad else "recurrent"
    _row(name, lambda x, w, r, b, *s: recurrent(x, w, r, b, *s, **attrs),
         lambda *a: np_recurrent(*a, **attrs), ins(*samplers), covers, grad=grad, double_grad=mode != "RNN_RELU")


_recurrent_row("recurrent_rnn_tanh", "RNN_TANH")
_recurrent_row("recurrent_rnn_relu_reverse_state", "RNN_RELU", "reverse", state=True)
_recurrent_row("recurrent_lstm_bidirectional_state", "LSTM", "bidirectional", state=True)
_recurrent_row("recurrent_lstm", "LSTM", batch=1, steps=1)
_recurrent_row("recurrent_gru_bidirectional", "GRU", "bidirectional")
_recurrent_row("recurrent_gru_reset_before_state", "GRU", state=True, lbr=0)
# a gradient is recorded: the same steps composed of Ember ops, which autograd differentiates
_recurrent_row("recurrent_lstm_grad", "LSTM", "bidirectional", state=True, grad=True, steps=3, hid=2)
_recurrent_row("recurrent_gru_grad", "GRU", "reverse", state=True, grad=True, steps=3, hid=2)
_recurrent_row("recurrent_gru_reset_before_grad", "GRU", lbr=0, grad=True, steps=3, hid=2)
_recurrent_row("recurrent_rnn_tanh_grad", "RNN_TANH", "bidirectional", grad=True, steps=3, hid=2)


# --- effects: variable writes, in-place updates, random draws (ember.ops.effects) -------------------------


def _assigned(target, value):
    copy = target.clone()
    ember.ops.assign(copy, value)
    return copy


def _sgd_stepped(param, grad):
    from ember.optim.functional import sgd_update

    copy = param.clone()
    ember.ops.update(copy, grad, sgd_update, {}, {"lr": 0.5})
    return copy


def _accumulated(total, g):
    holder = _GradHolder()
    # a gradient nothing else holds (not even a recorded op output): eager mode adds into it in place
    holder.grad = total.clone() if total.symbolic else ember.tensor(total.numpy())
    ember.ops.accumulate_grad(holder, g)
    return holder.grad


class _GradHolder:
    __slots__ = ("grad",)


def _dropped(x):
    holder = x * 1.0
    holder.grad = x
    ember.ops.drop_grad(holder)
    return holder


def _sparse_sgd_stepped(param, ids, rows):
    from ember.optim.functional import sparse_sgd_update
    from ember.sparse import RowSparse

    copy = param.clone()
    ember.ops.sparse_update(copy, RowSparse(ids, rows, copy.shape), sparse_sgd_update, {}, {"lr": 0.5})
    return copy


def np_sparse_sgd(param, ids, rows):
    out = param.copy()
    np.add.at(out, ids, -0.5 * rows)
    return out


def _running_stats(x, mean, var):
    mean, var = mean.clone(), var.clone()
    ember.batch_norm(x, mean, var, training=True, momentum=0.25)
    return ember.stack([mean, var])


def np_running_stats(x, mean, var):
    batch = x.reshape(x.shape[0], x.shape[1], -1).transpose(1, 0, 2).reshape(x.shape[1], -1)
    return np.stack([0.75 * mean + 0.25 * batch.mean(axis=1), 0.75 * var + 0.25 * batch.var(axis=1, ddof=1)])


_row("assign", _assigned, lambda t, v: v, ins(normal(3, 4), normal(3, 4)), "assign", grad=False)
_row("assign_broadcast", _assigned, lambda t, v: np.broadcast_to(v, t.shape), ins(normal(3, 4), normal(4)),
     ("assign", "broadcast_to"), grad=False)
_row("update_sgd", _sgd_stepped, lambda p, g: p - 0.5 * g, ins(normal(3, 4), normal(3, 4)), "update", grad=False)
_row("accumulate_grad", _accumulated, lambda t, g: t + g, ins(normal(3, 4), normal(3, 4)), ("accumulate_grad",),
     grad=False)
_row("drop_grad", _dropped, lambda x: x, ins(normal(3, 4)), ("drop_grad", "mul"), grad=False)
_row("sparse_update_sgd", _sparse_sgd_stepped, np_sparse_sgd, ins(normal(5, 3), ints(0, 5, 4), normal(4, 3)),
     "sparse_update", grad=False)
_row("running_stats", _running_stats, np_running_stats, ins(normal(4, 3, 2), normal(3), uniform(0.5, 2.0, 3)),
     ("running_stats", "batch_norm_train", "batch_moments"), grad=False)
# a draw whose values do not depend on the generator: keep everything (p = 0), or a degenerate normal
_row("random_keep_all", lambda x: x * ember.ops.random_draw("dropout", x.shape, x.dtype, 0.0, 1.0), lambda x: x,
     ins(normal(3, 4)), ("random", "mul"), grad=False)
_row("host_call", lambda x: ember.ops.host_call(lambda a: np.tanh(a) * 2.0, [x], x.shape, x.dtype) + x,
     lambda x: np.tanh(x) * 2.0 + x, ins(normal(3, 4)), ("host_call", "add"), grad=False)
_row("random_degenerate_normal", lambda x: x + ember.ops.random_draw("normal", x.shape, x.dtype, 2.0, 0.0),
     lambda x: x + 2.0, ins(normal(3, 4)), ("random", "add"), grad=False)



def _seeded_sample(kind):
    """``random_sample`` from a generator state of its own (seeded_stream(7)), so NumPy's sampler on the same
    seed is the reference; the gamma gradient (implicit reparameterization) is checked statistically in
    tests/test_random_sample.py, finite differences of one draw not being it. Binomial rows take the count and
    the probabilities."""
    return lambda p, *probs: ember.ops.random_sample(kind, (2,), p, probs=probs[0] if probs else None,
                                                     state=ember.ops.dispatch.wrap(ember.random.seeded_stream(7)))


def _np_seeded_sample(kind):
    def ref(p, *probs):
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([7])))
        full = np.broadcast_to(p, (2, *p.shape))
        if kind == "binomial":
            return rng.binomial(full.astype(np.int64), np.broadcast_to(probs[0], full.shape)).astype(np.float64)
        return rng.standard_gamma(full) if kind == "gamma" else rng.poisson(full).astype(np.float64)

    return ref


_row("random_sample_gamma", _seeded_sample("gamma"), _np_seeded_sample("gamma"), ins(uniform(0.5, 4.0, 3)),
     "random_sample", grad=False)
_row("random_sample_poisson", _seeded_sample("poisson"), _np_seeded_sample("poisson"), ins(uniform(0.5, 9.0, 3)),
     "random_sample", grad=False)
_row("random_sample_binomial", _seeded_sample("binomial"), _np_seeded_sample("binomial"),
     ins(lambda rng: rng.integers(0, 30, (2, 3)).astype(np.float64), uniform(0.0, 1.0, 2, 3)), "random_sample",
     grad=False)

# --- linear algebra (ember.linalg): NumPy's np.linalg as the reference -----------------------------------------
# Symmetric inputs are made inside the row ((a + a^T) / 2), so finite differences move both triangles as the
# gradient (symmetric, PyTorch's) assumes. Eigenvectors and singular vectors are defined up to sign: rows read
# them squared, or through sign-free products.


def well_conditioned(*shape, shift=3.0):
    """Normal matrices plus ``shift`` times the identity: far from singular."""
    return lambda rng: rng.standard_normal(shape) + shift * np.eye(shape[-1])


def _sym(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


def _esym(a):
    return (a + a.mT) * 0.5


def _squares(*arrays):
    return tuple(a * a for a in arrays)


_row("linalg_det_batched", ember.linalg.det, np.linalg.det, ins(well_conditioned(2, 3, 3)), "det",
     torch and torch.linalg.det)
_row("det_method", lambda a: a.det(), np.linalg.det, ins(normal(4, 4)), "det", torch and torch.det)
_row("linalg_slogdet", lambda a: tuple(ember.linalg.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)),
     ins(normal(2, 3, 3)), "slogdet", torch and (lambda a: tuple(torch.linalg.slogdet(a))))
_row("logdet", ember.logdet, lambda a: np.log(np.linalg.det(a)), ins(well_conditioned(3, 3, shift=4.0)),
     ("slogdet", "lt", "where"), torch and torch.logdet)
_row("linalg_inv_batched", ember.linalg.inv, np.linalg.inv, ins(well_conditioned(2, 3, 3)), "inv",
     torch and torch.linalg.inv)
_row("inverse_method", lambda a: a.inverse(), np.linalg.inv, ins(well_conditioned(4, 4)), "inv",
     torch and torch.inverse)
_row("linalg_solve_matrix", ember.linalg.solve, np.linalg.solve, ins(well_conditioned(2, 3, 3), normal(2, 3, 2)),
     "solve", torch and torch.linalg.solve)
_row("linalg_solve_vector", ember.linalg.solve, lambda a, b: np.linalg.solve(a, b[..., None])[..., 0],
     ins(well_conditioned(2, 3, 3), normal(2, 3)), ("solve", "getitem"), torch and torch.linalg.solve)
_row("linalg_cholesky", lambda a: ember.linalg.cholesky(_esym(a)), lambda a: np.linalg.cholesky(_sym(a)),
     ins(well_conditioned(2, 3, 3)), "cholesky", torch and (lambda a: torch.linalg.cholesky(_esym(a))))
_row("cholesky_upper", lambda a: ember.cholesky(_esym(a), True),
     lambda a: np.swapaxes(np.linalg.cholesky(_sym(a)), -1, -2), ins(well_conditioned(3, 3)), "cholesky",
     torch and (lambda a: torch.linalg.cholesky(_esym(a), upper=True)))
_row("linalg_qr_tall", lambda a: tuple(ember.linalg.qr(a)), lambda a: tuple(np.linalg.qr(a)), ins(normal(2, 4, 3)),
     "qr", torch and (lambda a: tuple(torch.linalg.qr(a))))
_row("linalg_qr_wide_complete", lambda a: tuple(ember.linalg.qr(a, "complete")),
     lambda a: tuple(np.linalg.qr(a, "complete")), ins(normal(2, 3, 5)), "qr",
     torch and (lambda a: tuple(torch.linalg.qr(a, "complete"))))
_row("linalg_qr_r", lambda a: ember.linalg.qr(a, "r").R, lambda a: np.linalg.qr(a, "r"), ins(normal(4, 3)), "qr",
     torch and (lambda a: torch.linalg.qr(a, "r").R), grad=False)
_row("linalg_eigh", lambda a: (lambda w, v: (w, v * v))(*ember.linalg.eigh(_esym(a))),
     lambda a: (lambda w, v: (w, v * v))(*np.linalg.eigh(_sym(a))), ins(normal(2, 4, 4)), "eigh",
     torch and (lambda a: (lambda w, v: (w, v * v))(*torch.linalg.eigh(_esym(a)))))
_row("linalg_eigh_upper", lambda a: ember.linalg.eigh(a, UPLO="U").eigenvectors ** 2,
     lambda a: np.linalg.eigh(a, UPLO="U")[1] ** 2, ins(normal(3, 3)), "eigh",
     torch and (lambda a: torch.linalg.eigh(a, UPLO="U").eigenvectors ** 2), grad=False)
_row("linalg_eigvalsh", lambda a: ember.linalg.eigvalsh(_esym(a)), lambda a: np.linalg.eigvalsh(_sym(a)),
     ins(normal(2, 3, 3)), "eigh", torch and (lambda a: torch.linalg.eigvalsh(_esym(a))))
_row("linalg_svd_tall", lambda a: (lambda u, s, vh: (*_squares(u, vh), s))(*ember.linalg.svd(a, False)),
     lambda a: (lambda u, s, vh: (*_squares(u, vh), s))(*np.linalg.svd(a, False)), ins(normal(2, 4, 3)), "svd",
     torch and (lambda a: (lambda u, s, vh: (*_squares(u, vh), s))(*torch.linalg.svd(a, False))))
_row("linalg_svd_wide", lambda a: (lambda u, s, vh: (*_squares(u, vh), s))(*ember.linalg.svd(a, False)),
     lambda a: (lambda u, s, vh: (*_squares(u, vh), s))(*np.linalg.svd(a, False)), ins(normal(3, 5)), "svd",
     torch and (lambda a: (lambda u, s, vh: (*_squares(u, vh), s))(*torch.linalg.svd(a, False))))
_row("torch_svd_product", lambda a: (lambda u, s, v: u @ v.mT)(*ember.svd(a)),
     lambda a: (lambda u, s, vh: u @ vh)(*np.linalg.svd(a, False)), ins(normal(2, 3, 3)),
     ("svd", "matmul", "transpose"), torch and (lambda a: (lambda u, s, v: u @ v.mT)(*torch.svd(a))))
_row("linalg_svdvals", ember.linalg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False), ins(normal(2, 3, 5)),
     "svd", torch and torch.linalg.svdvals)
_row("linalg_pinv_tall", ember.linalg.pinv, np.linalg.pinv, ins(normal(2, 4, 3)), "pinv", torch and torch.linalg.pinv)
_row("pinverse_wide", ember.pinverse, np.linalg.pinv, ins(normal(3, 5)), "pinv", torch and torch.pinverse)
_row("linalg_pinv_tensor_rtol", lambda a: ember.linalg.pinv(a, rtol=ember.tensor([1e-15, 1e-12], dtype=a.dtype)),
     lambda a: np.linalg.pinv(a, np.array([1e-15, 1e-12])), ins(normal(2, 4, 3)), "pinv_per_matrix",
     torch and (lambda a: torch.linalg.pinv(a, rtol=torch.tensor([1e-15, 1e-12], dtype=a.dtype))))
for _n in (-2, 3):
    _row(f"matrix_power_{_n}", lambda a, n=_n: a.matrix_power(n), lambda a, n=_n: np.linalg.matrix_power(a, n),
         ins(well_conditioned(2, 3, 3)), ("matmul",) + (("inv",) if _n < 0 else ()),
         torch and (lambda a, n=_n: torch.linalg.matrix_power(a, n)))
for _ord in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf):
    _row(f"linalg_matrix_norm_{_ord}", lambda a, o=_ord: ember.linalg.matrix_norm(a, o),
         lambda a, o=_ord: np.linalg.norm(a, o, axis=(-2, -1)), ins(normal(2, 3, 4)),
         ("svd",) if _ord in ("nuc", 2, -2) else ("mul", "sqrt") if _ord == "fro" else ("abs", "sum"),
         torch and (lambda a, o=_ord: torch.linalg.matrix_norm(a, o)))
_row("linalg_norm_vector_dim", lambda a: ember.linalg.norm(a, 3, dim=1), lambda a: np.linalg.norm(a, 3, axis=1),
     ins(normal(2, 3, 4)), ("abs", "pow", "sum"), torch and (lambda a: torch.linalg.norm(a, 3, dim=1)))
_row("linalg_norm_flat", ember.linalg.norm, lambda a: np.linalg.norm(a.reshape(-1)), ins(normal(2, 3, 4)),
     ("mul", "sum", "sqrt"), torch and torch.linalg.norm)
_row("linalg_vector_norm_inf", lambda a: ember.linalg.vector_norm(a, np.inf, dim=(0, 2), keepdim=True),
     lambda a: np.abs(a).max(axis=(0, 2), keepdims=True), ins(normal(2, 3, 4)), ("abs", "max"),
     torch and (lambda a: torch.linalg.vector_norm(a, np.inf, dim=(0, 2), keepdim=True)))
_row("linalg_cross", ember.linalg.cross, np.cross, ins(normal(2, 4, 3), normal(2, 4, 3)), ("mul", "sub"),
     torch and torch.linalg.cross)


# --- the rest of torch.linalg: triangular and Cholesky solves, LU, matrix_exp, lstsq, Householder products -------


def _stacked(fn, a, *rest):
    """``fn`` over the matrices of a stack (SciPy's LU takes one matrix at a time), its results stacked."""
    flat = a.reshape((-1,) + a.shape[-2:])
    results = [fn(m, *rest) for m in flat]
    results = [tuple(np.asarray(r) for r in (res if isinstance(res, tuple) else (res,))) for res in results]
    return tuple(np.stack([r[k] for r in results]).reshape(a.shape[:-2] + results[0][k].shape)
                 for k in range(len(results[0])))


def np_householder_product(a, tau):
    m, n = a.shape
    v = np.tril(a, -1) + np.eye(m, n)
    q = np.eye(m)
    for i in range(tau.shape[0]):
        q = q @ (np.eye(m) - tau[i] * np.outer(v[:, i], v[:, i]))
    return q[:, :n]


def _spd_factor_ref(b, a, upper=False):
    factor = np.triu(a) if upper else np.tril(a)
    spd = factor.swapaxes(-1, -2) @ factor if upper else factor @ factor.swapaxes(-1, -2)
    return np.linalg.solve(spd, b)


_row("linalg_solve_triangular_lower", lambda a, b: ember.linalg.solve_triangular(a, b, upper=False),
     lambda a, b: np.linalg.solve(np.tril(a), b), ins(well_conditioned(2, 3, 3), normal(2, 3, 2)), "solve_triangular",
     torch and (lambda a, b: torch.linalg.solve_triangular(a, b, upper=False)))
_row("linalg_solve_triangular_right_unit",
     lambda a, b: ember.linalg.solve_triangular(a, b, upper=True, left=False, unitriangular=True),
     lambda a, b: np.linalg.solve((np.triu(a, 1) + np.eye(3)).T, b.T).T, ins(normal(3, 3), normal(2, 3)),
     "solve_triangular",
     torch and (lambda a, b: torch.linalg.solve_triangular(a, b, upper=True, left=False, unitriangular=True)))
_row("triangular_solve_transpose", lambda b, a: ember.triangular_solve(b, a, True, True).solution,
     lambda b, a: np.linalg.solve(np.triu(a).T, b), ins(normal(3, 2), well_conditioned(3, 3)), "solve_triangular",
     torch and (lambda b, a: torch.linalg.solve_triangular(a.mT, b, upper=False)))
_row("cholesky_solve", lambda b, a: ember.cholesky_solve(b, ember.tril(a)), _spd_factor_ref,
     ins(normal(2, 3, 2), well_conditioned(2, 3, 3)), "cholesky_solve",
     torch and (lambda b, a: torch.cholesky_solve(b, torch.tril(a))))
_row("cholesky_inverse_upper", lambda a: ember.cholesky_inverse(ember.triu(a), True),
     lambda a: _spd_factor_ref(np.eye(3), a, True), ins(well_conditioned(3, 3)), "cholesky_solve",
     torch and (lambda a: torch.cholesky_inverse(torch.triu(a), True)))
_row("linalg_lu_factor", lambda a: ember.linalg.lu_factor(a).LU,
     lambda a: _stacked(lambda m: sla.lu_factor(m)[0], a)[0], ins(normal(2, 3, 3)), ("lu_factor", "lu_pivots"),
     torch and (lambda a: torch.linalg.lu_factor(a).LU))
_row("linalg_lu_factor_ex_pivots_info", lambda a: tuple(ember.linalg.lu_factor_ex(a))[1:],
     lambda a: (_stacked(lambda m: sla.lu_factor(m)[1] + 1, a)[0].astype(np.int32),
                np.zeros(a.shape[:-2], np.int32)),
     ins(normal(2, 4, 4)), "lu_pivots", torch and (lambda a: tuple(torch.linalg.lu_factor_ex(a))[1:]), grad=False)
for _name, _shape in (("wide", (2, 3, 5)), ("tall", (5, 3))):  # L and U (P, a constant, has no gradient)
    _row(f"linalg_lu_{_name}", lambda a: tuple(ember.linalg.lu(a))[1:], lambda a: _stacked(sla.lu, a)[1:],
         ins(normal(*_shape)), ("lu_factor", "lu_permutation"), torch and (lambda a: tuple(torch.linalg.lu(a))[1:]))
_row("lu_unpack_permutation", lambda a: ember.lu_unpack(*ember.linalg.lu_factor(a)).P,
     lambda a: _stacked(sla.lu, a)[0], ins(normal(2, 5, 3)), "lu_permutation",
     torch and (lambda a: torch.lu_unpack(*torch.linalg.lu_factor(a)).P), grad=False)
_row("linalg_lu_solve_adjoint", lambda a, b: ember.linalg.lu_solve(*ember.linalg.lu_factor(a), b, adjoint=True),
     lambda a, b: np.linalg.solve(a.swapaxes(-1, -2), b), ins(well_conditioned(2, 3, 3), normal(2, 3, 2)),
     ("lu_factor", "lu_permutation", "solve_triangular"),
     torch and (lambda a, b: torch.linalg.lu_solve(*torch.linalg.lu_factor(a), b, adjoint=True)))
_row("linalg_inv_ex", lambda a: ember.linalg.inv_ex(a).inverse, np.linalg.inv, ins(well_conditioned(2, 3, 3)),
     ("lu_factor", "solve_triangular"), torch and (lambda a: torch.linalg.inv_ex(a).inverse))
_row("linalg_solve_ex_vector", lambda a, b: ember.linalg.solve_ex(a, b).result,
     lambda a, b: np.linalg.solve(a, b[..., None])[..., 0], ins(well_conditioned(2, 3, 3), normal(2, 3)),
     ("lu_factor", "solve_triangular"), torch and (lambda a, b: torch.linalg.solve_ex(a, b).result))
_row("linalg_cholesky_ex", lambda a: ember.linalg.cholesky_ex(_esym(a)).L, lambda a: np.linalg.cholesky(_sym(a)),
     ins(well_conditioned(2, 3, 3)), ("cholesky_ex", "cholesky_info"),
     torch and (lambda a: torch.linalg.cholesky_ex(_esym(a)).L))
_row("linalg_cholesky_ex_info", lambda a: ember.linalg.cholesky_ex(a).info, lambda a: np.array([2, 0], np.int32),
     ins(const([[[1.0, 2.0], [2.0, 1.0]], [[2.0, 1.0], [1.0, 2.0]]])), "cholesky_info",
     torch and (lambda a: torch.linalg.cholesky_ex(a).info), grad=False)
_row("linalg_matrix_exp", ember.linalg.matrix_exp, sla.expm, ins(normal(2, 3, 3)), "matrix_exp",
     torch and torch.linalg.matrix_exp)
_row("matrix_exp_squared_method", lambda a: a.matrix_exp(), sla.expm, ins(normal(3, 3, scale=4.0)), "matrix_exp",
     torch and torch.matrix_exp, rtol=1e-9, grad_atol=1e-4, extra={"grad_rtol": 1e-4})
_row("geqrf", lambda a: tuple(ember.geqrf(a)),
     lambda a: (lambda h, tau: (h.swapaxes(-1, -2), tau))(*np.linalg.qr(a, mode="raw")), ins(normal(2, 4, 3)), "geqrf",
     torch and (lambda a: tuple(torch.geqrf(a))), grad=False)
_row("linalg_householder_product", ember.linalg.householder_product, np_householder_product,
     ins(normal(4, 3), normal(2)), "matmul", torch and torch.linalg.householder_product)
_row("linalg_lstsq_gelsd", lambda a, b: (lambda r: (r.solution, r.residuals, r.singular_values))(
    ember.linalg.lstsq(a, b, driver="gelsd")),
     lambda a, b: (lambda x, res, rank, s: (x, res, s))(*np.linalg.lstsq(a, b, rcond=None)),
     ins(normal(5, 3), normal(5, 2)), ("pinv", "svd", "matmul"),
     torch and (lambda a, b: (lambda r: (r.solution, r.residuals, r.singular_values))(
         torch.linalg.lstsq(a, b, driver="gelsd"))))
_row("linalg_matrix_rank", ember.linalg.matrix_rank, np.linalg.matrix_rank,
     ins(lambda rng: np.stack([rng.standard_normal((4, 4)), np.outer(*rng.integers(-3, 4, (2, 4)))]).astype(float)),
     "svd",
     torch and torch.linalg.matrix_rank, grad=False)
for _p in (None, "fro", 1, -np.inf):
    _row(f"linalg_cond_{_p}", lambda a, p=_p: ember.linalg.cond(a, p), lambda a, p=_p: np.linalg.cond(a, p),
         ins(well_conditioned(2, 3, 3)), "svd" if _p is None else ("lu_factor", "solve_triangular"),
         torch and (lambda a, p=_p: torch.linalg.cond(a, p)), rtol=1e-9)
_row("linalg_multi_dot", lambda a, b, c: ember.linalg.multi_dot([a, b, c]),
     lambda a, b, c: np.linalg.multi_dot([a, b, c]), ins(normal(4), normal(4, 2), normal(2, 5)), "matmul",
     torch and (lambda a, b, c: torch.linalg.multi_dot([a, b, c])))
_row("linalg_vecdot", lambda a, b: ember.linalg.vecdot(a, b, dim=0), lambda a, b: (a * b).sum(0),
     ins(normal(3, 4), normal(3, 1)), ("mul", "sum"), torch and (lambda a, b: torch.linalg.vecdot(a, b, dim=0)))
_row("linalg_diagonal", lambda a: ember.linalg.diagonal(a, offset=-1), lambda a: np.diagonal(a, -1, -2, -1),
     ins(normal(2, 3, 4)), "diagonal", torch and (lambda a: torch.linalg.diagonal(a, offset=-1)))
_row("linalg_tensorinv", lambda a: ember.linalg.tensorinv(a, ind=2), lambda a: np.linalg.tensorinv(a, ind=2),
     ins(lambda rng: (rng.standard_normal((6, 6)) + 3 * np.eye(6)).reshape(2, 3, 6)), "inv",
     torch and (lambda a: torch.linalg.tensorinv(a, ind=2)))
_row("linalg_tensorsolve", ember.linalg.tensorsolve, np.linalg.tensorsolve,
     ins(lambda rng: (rng.standard_normal((6, 6)) + 3 * np.eye(6)).reshape(6, 2, 3), normal(6)), "solve",
     torch and torch.linalg.tensorsolve)


# --- special functions (ember.special): SciPy's as the references --------------------------------------------------


def _torch_special(name):
    return torch and getattr(torch.special, name)


def _positive_gaps(lo, hi, *shape):
    """Uniform samples on [lo, hi] kept 0.1 from the integers (poles of lgamma, digamma and polygamma when
    lo < 0)."""
    return lambda rng: np.round(rng.uniform(lo, hi, shape)) + rng.uniform(0.1, 0.9, shape) - 0.5


_row("lgamma", ember.lgamma, sps.gammaln, ins(uniform(0.2, 8.0, 3, 4)), "lgamma", torch and torch.lgamma)
_row("lgamma_negative", lambda x: x.lgamma(), sps.gammaln, ins(_positive_gaps(-4.0, -0.5, 6)), "lgamma",
     torch and torch.lgamma)
_row("special_gammaln_large", ember.special.gammaln, sps.gammaln, ins(uniform(10.0, 1e6, 5)), "lgamma",
     torch and torch.special.gammaln, rtol=1e-12, atol=0.0, grad=False, extra={"f32_rtol": 1e-6})
_row("digamma", ember.digamma, sps.psi, ins(uniform(0.3, 8.0, 3, 4)), "digamma", torch and torch.digamma)
_row("digamma_negative", ember.special.psi, sps.psi, ins(_positive_gaps(-4.0, -0.5, 6)), "digamma",
     _torch_special("psi"), extra={"f32_rtol": 1e-3})
for _n in (1, 2, 3):
    _row(f"polygamma_{_n}", lambda x, n=_n: ember.polygamma(n, x), lambda x, n=_n: sps.polygamma(n, x),
         ins(uniform(0.4, 6.0, 2, 3)), "polygamma", torch and (lambda x, n=_n: torch.polygamma(n, x)))
_row("polygamma_method", lambda x: x.polygamma(1), lambda x: sps.polygamma(1, x), ins(_positive_gaps(-3.0, -0.5, 4)),
     "polygamma", lambda x: x.polygamma(1), extra={"f32_rtol": 1e-3})
_row("zeta", ember.special.zeta, sps.zeta, ins(uniform(1.5, 5.0, 3, 4), uniform(0.5, 4.0, 4)), "zeta",
     _torch_special("zeta"), grad_inputs=(1,))
_row("erfc", ember.erfc, sps.erfc, ins(normal(3, 4, scale=2.0)), "erfc", torch and torch.erfc)
_row("erfc_tail", lambda x: x.erfc(), sps.erfc, ins(uniform(4.0, 25.0, 6)), "erfc", torch and torch.erfc,
     rtol=1e-12, atol=0.0, grad=False, extra={"f32_atol": 1e-30, "f32_rtol": 1e-4})
_row("erfcx", ember.special.erfcx, sps.erfcx, ins(normal(3, 4, scale=3.0)), "erfcx", _torch_special("erfcx"))
_row("erfinv", ember.erfinv, sps.erfinv, ins(uniform(-0.95, 0.95, 3, 4)), "erfinv", torch and torch.erfinv)
_row("erfinv_method", lambda x: x.erfinv(), sps.erfinv, ins(uniform(-0.3, 0.3, 5)), "erfinv",
     lambda x: x.erfinv())
_row("ndtri", ember.special.ndtri, sps.ndtri, ins(uniform(0.02, 0.98, 3, 4)), "ndtri", _torch_special("ndtri"))
_row("log_ndtr", ember.special.log_ndtr, sps.log_ndtr, ins(normal(3, 4, scale=6.0)), "log_ndtr",
     _torch_special("log_ndtr"))
_row("ndtr", ember.special.ndtr, sps.ndtr, ins(normal(3, 4, scale=2.0)), "erfc", _torch_special("ndtr"))
for _name in ("i0", "i0e", "i1", "i1e"):
    _row(f"special_{_name}", getattr(ember.special, _name), getattr(sps, _name), ins(away(3, 4, scale=3.0)), _name,
         _torch_special(_name))
_row("i0_method_large", lambda x: x.i0(), sps.i0, ins(uniform(20.0, 40.0, 4)), "i0", lambda x: x.i0(), rtol=1e-12,
     atol=0.0, grad=False, extra={"f32_rtol": 1e-5})
for _name, _ref, _sample in (
        ("bessel_j0", sps.j0, normal(3, 4, scale=10.0)), ("bessel_j1", sps.j1, normal(3, 4, scale=10.0)),
        ("bessel_y0", sps.y0, uniform(0.05, 40.0, 3, 4)), ("bessel_y1", sps.y1, uniform(0.05, 40.0, 3, 4)),
        ("modified_bessel_k0", sps.k0, uniform(0.05, 30.0, 3, 4)),
        ("modified_bessel_k1", sps.k1, uniform(0.05, 30.0, 3, 4)),
        ("scaled_modified_bessel_k0", sps.k0e, uniform(0.05, 60.0, 3, 4)),
        ("scaled_modified_bessel_k1", sps.k1e, uniform(0.05, 60.0, 3, 4)),
        ("spherical_bessel_j0", lambda x: sps.spherical_jn(0, x), normal(3, 4, scale=5.0)),
        ("airy_ai", lambda x: sps.airy(x)[0], uniform(-15.0, 8.0, 3, 4))):
    # PyTorch's J and Y are off by up to 1e-6 just past x = 5: they are compared in test_torch_special_functions.py
    _torch_fn = None if _name.startswith("bessel") else _torch_special(_name)
    _row(f"special_{_name}", getattr(ember.special, _name), _ref, ins(_sample), _name, _torch_fn,
         grad=False, atol=1e-10, rtol=1e-9, extra={"f32_atol": 1e-6, "f32_rtol": 1e-5})


def _chebyshev_vw(kind, shift=False):
    """V_n = U_n - U_(n-1) and W_n = U_n + U_(n-1) (SciPy has U alone), on 2x - 1 when shifted."""
    sign = -1.0 if kind == "v" else 1.0

    def ref(x, n):
        y = 2.0 * x - 1.0 if shift else x
        return sps.eval_chebyu(n, y) + sign * np.where(n > 0, sps.eval_chebyu(np.maximum(n - 1, 0), y), 0.0)

    return ref


for _name, _ref, _sample in (
        ("chebyshev_polynomial_t", lambda x, n: sps.eval_chebyt(n, x), uniform(-1.2, 1.2, 3, 4)),
        ("chebyshev_polynomial_u", lambda x, n: sps.eval_chebyu(n, x), uniform(-1.2, 1.2, 3, 4)),
        ("chebyshev_polynomial_v", _chebyshev_vw("v"), uniform(-1.2, 1.2, 3, 4)),
        ("chebyshev_polynomial_w", _chebyshev_vw("w"), uniform(-1.2, 1.2, 3, 4)),
        ("shifted_chebyshev_polynomial_t", lambda x, n: sps.eval_sh_chebyt(n, x), uniform(-0.1, 1.1, 3, 4)),
        ("shifted_chebyshev_polynomial_u", lambda x, n: sps.eval_sh_chebyu(n, x), uniform(-0.1, 1.1, 3, 4)),
        ("shifted_chebyshev_polynomial_v", _chebyshev_vw("v", shift=True), uniform(-0.1, 1.1, 3, 4)),
        ("shifted_chebyshev_polynomial_w", _chebyshev_vw("w", shift=True), uniform(-0.1, 1.1, 3, 4)),
        ("hermite_polynomial_h", lambda x, n: sps.eval_hermite(n, x), normal(3, 4, scale=2.0)),
        ("hermite_polynomial_he", lambda x, n: sps.eval_hermitenorm(n, x), normal(3, 4, scale=2.0)),
        ("laguerre_polynomial_l", lambda x, n: sps.eval_laguerre(n, x), uniform(-2.0, 10.0, 3, 4)),
        ("legendre_polynomial_p", lambda x, n: sps.eval_legendre(n, x), uniform(-1.2, 1.2, 3, 4))):
    _row(f"special_{_name}", getattr(ember.special, _name), _ref, ins(_sample, ints(0, 13, 4)), _name,
         _torch_special(_name), grad=False, atol=1e-9, rtol=1e-9, extra={"f32_atol": 1e-3, "f32_rtol": 1e-4})
_row("special_legendre_polynomial_p_scalar_n", lambda x: ember.special.legendre_polynomial_p(x, 5),
     lambda x: sps.eval_legendre(5, x), ins(uniform(-1.0, 1.0, 6)), "legendre_polynomial_p",
     torch and (lambda x: torch.special.legendre_polynomial_p(x, 5)), grad=False, atol=1e-12, rtol=1e-10)
_row("exp2", ember.exp2, np.exp2, ins(normal(3, 4, scale=3.0)), "exp2", torch and torch.exp2)
_row("exp2_method_int", lambda x: x.exp2(), lambda x: np.exp2(x).astype(np.float32), ins(ints(-3, 4, 5)),
     ("cast", "exp2"), lambda x: x.exp2(), grad=False)
for _name in ("logaddexp", "logaddexp2", "hypot", "copysign"):
    _row(_name, getattr(ember, _name), getattr(np, _name), ins(away(3, 4, scale=2.0), away(4, scale=2.0)), _name,
         torch and getattr(torch, _name))
_row("hypot_method", lambda a, b: a.hypot(b), np.hypot, ins(normal(2, 3), normal(3)), "hypot",
     lambda a, b: a.hypot(b))
_row("copysign_method_scalar", lambda a: a.copysign(-1.0), lambda a: np.copysign(a, -1.0), ins(away(5)), "copysign",
     lambda a: a.copysign(-1.0))
_row("nextafter", ember.nextafter, np.nextafter, ins(normal(3, 4), normal(4)), "nextafter",
     torch and torch.nextafter, grad=False)
_row("heaviside", ember.heaviside, np.heaviside, ins(int_floats(-2, 3, 3, 4), normal(4)), "heaviside",
     torch and torch.heaviside, grad=False)
for _name in ("gcd", "lcm"):
    _row(_name, getattr(ember, _name), getattr(np, _name), ins(ints(-30, 30, 3, 4), ints(-30, 30, 4)), _name,
         torch and getattr(torch, _name), grad=False)
_row("logit", ember.logit, sps.logit, ins(uniform(0.1, 0.9, 3, 4)), ("log", "log1p", "sub"), torch and torch.logit)
_row("logit_eps", lambda x: x.logit(0.2), lambda x: sps.logit(np.clip(x, 0.2, 0.8)),
     ins(away(3, 4, points=(0.2, 0.8), gap=0.05, scale=0.3, )), ("where", "log"), lambda x: x.logit(0.2))
_row("xlogy", ember.xlogy, sps.xlogy, ins(normal(3, 4), uniform(0.3, 3.0, 4)), ("where", "log", "mul"),
     torch and torch.xlogy)
_row("xlogy_zeros_method", lambda x, y: x.xlogy(y), sps.xlogy, ins(int_floats(-1, 2, 3, 4), uniform(0.1, 3.0, 4)),
     ("where", "log", "mul"), lambda x, y: x.xlogy(y), grad=False)
_row("xlog1py", ember.special.xlog1py, sps.xlog1py, ins(normal(3, 4), uniform(-0.5, 3.0, 4)),
     ("where", "log1p", "mul"), _torch_special("xlog1py"))
_row("sinc", ember.sinc, np.sinc, ins(normal(3, 4, scale=2.0)), ("sin", "div", "where"), torch and torch.sinc)
_row("entr", ember.special.entr, sps.entr, ins(uniform(0.1, 3.0, 3, 4)), "entr", _torch_special("entr"))
_row("entr_edges", ember.special.entr, sps.entr, ins(const([-2.0, -np.inf, 0.0, np.inf, np.nan])),
     "entr", _torch_special("entr"), grad=False)
_row("multigammaln", lambda x: ember.special.multigammaln(x, 3), lambda x: sps.multigammaln(x, 3),
     ins(uniform(1.5, 5.0, 3, 4)), "lgamma", _torch_special("multigammaln") and (lambda x: torch.mvlgamma(x, 3)))
_row("frac", ember.frac, lambda x: x - np.trunc(x), ins(away(3, 4, points=(-2.0, -1.0, 0.0, 1.0, 2.0))),
     ("sub", "trunc_divide"), torch and torch.frac)
_row("deg2rad_rad2deg", lambda x: ember.rad2deg(x).deg2rad(), lambda x: x, ins(normal(3, 4)), "mul",
     lambda x: torch.rad2deg(x).deg2rad())
_row("float_power", ember.float_power, lambda a, b: np.power(a, b), ins(uniform(0.5, 2.0, 3, 4), normal(4)),
     "pow", torch and torch.float_power, extra={"fixed_dtype": True})
_row("float_power_int", ember.float_power, lambda a, b: np.power(a, b).astype(np.float64),
     ins(ints(1, 5, 4), ints(0, 3, 4)), ("cast", "pow"), torch and torch.float_power, grad=False,
     extra={"fixed_dtype": True})


# --- PyTorch's other elementwise names (ember.ops.elementwise_names) --------------------------------------------


def _with_nans(*shape):
    """Normal samples with about a third of them NaN (fmax/fmin ignore a NaN beside a number)."""
    return lambda rng: np.where(rng.random(shape) < 0.3, np.nan, rng.standard_normal(shape))


_POWERS_OF_TWO = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)
_row("sign_nan", ember.sign, lambda x: np.nan_to_num(np.sign(x)), ins(_with_nans(3, 4)), "sign", torch and torch.sign,
     grad=False)
_row("sgn_nan", lambda x: x.sgn(), lambda x: np.nan_to_num(np.sign(x)), ins(_with_nans(5)), "sign",
     torch and torch.sgn, grad=False)
_row("tan", ember.tan, np.tan, ins(uniform(-1.2, 1.2, 3, 4)), "tan", torch and torch.tan)
_row("tan_method_int", lambda x: x.tan(), lambda x: np.tan(x).astype(np.float32), ins(ints(-3, 4, 5)),
     ("cast", "tan"), lambda x: x.tan(), grad=False)
_row("frexp_mantissa", lambda x: ember.frexp(x).mantissa, lambda x: np.frexp(x)[0],
     ins(away(3, 4, points=_POWERS_OF_TWO, gap=0.05, scale=2.0)), "frexp", torch and (lambda x: torch.frexp(x)[0]))
_row("frexp_exponent", lambda x: x.frexp().exponent, lambda x: np.frexp(x)[1],
     ins(away(3, 4, points=_POWERS_OF_TWO, gap=0.05, scale=2.0)), "frexp",
     torch and (lambda x: torch.frexp(x)[1]), grad=False)
for _name in ("fmax", "fmin"):
    _row(_name, getattr(ember, _name), getattr(np, _name), ins(normal(3, 4), normal(4)), _name,
         torch and getattr(torch, _name))
    _row(f"{_name}_nan", getattr(ember, _name), getattr(np, _name), ins(_with_nans(3, 4), _with_nans(4)), _name,
         torch and getattr(torch, _name), grad=False)
    _row(f"{_name}_int", getattr(ember, _name), getattr(np, _name), ins(ints(-5, 5, 3, 4), ints(-5, 5, 4)), _name,
         torch and getattr(torch, _name), grad=False)
for _name, _ref in (("bitwise_left_shift", np.left_shift), ("bitwise_right_shift", np.right_shift)):
    _row(_name, getattr(ember, _name), _ref, ins(ints(-50, 50, 3, 4), ints(0, 66, 4)), _name,
         torch and getattr(torch, _name), grad=False)
_row("ldexp", ember.ldexp, np.ldexp, ins(normal(3, 4), ints(-3, 4, 4)), "ldexp", torch and torch.ldexp)
_row("ldexp_past_the_power_range", ember.ldexp, np.ldexp, ins(normal(3, 4, scale=1e-300), ints(1030, 1040, 4)),
     "ldexp", torch and torch.ldexp, grad=False)  # 2**1030 alone is inf in float64
_row("ldexp_float_exponent", ember.ldexp, lambda x, e: x * np.exp2(e), ins(normal(3, 4), normal(4)),
     ("exp2", "mul"), torch and torch.ldexp)
_row("signbit", ember.signbit, np.signbit, ins(int_floats(-2, 3, 3, 4)), ("copysign", "lt"), torch and torch.signbit,
     grad=False)
_row("subtract_alpha", lambda a, b: ember.subtract(a, b, alpha=2.5), lambda a, b: a - 2.5 * b,
     ins(normal(3, 4), normal(4)), ("sub", "mul"), torch and (lambda a, b: torch.subtract(a, b, alpha=2.5)))
_row("rsub_alpha", lambda a, b: ember.rsub(a, b, alpha=2.0), lambda a, b: b - 2.0 * a,
     ins(normal(3, 4), normal(4)), ("sub", "mul"), torch and (lambda a, b: torch.rsub(a, b, alpha=2.0)))
for _name, _ref in (("igamma", sps.gammainc), ("igammac", sps.gammaincc)):
    _row(_name, getattr(ember, _name), _ref, ins(uniform(0.3, 6.0, 3, 4), uniform(0.1, 8.0, 4)), (_name, "lgamma"),
         torch and getattr(torch, _name), grad_inputs=(1,))
_row("igamma_large_a", ember.special.gammainc, sps.gammainc, ins(uniform(2e4, 3e4, 6), uniform(2.3e4, 2.6e4, 6)),
     "igamma", torch and torch.special.gammainc, grad=False, rtol=1e-9, extra={"f32_rtol": 1e-3})
# betainc: no torch counterpart; the gradient for x only (TF-1 has none for a and b either)
_row("betainc", ember.special.betainc, sps.betainc, ins(uniform(0.3, 6.0, 3, 4), uniform(0.3, 6.0, 4),
                                                         uniform(0.05, 0.95, 3, 4)), ("betainc", "lgamma"),
     grad_inputs=(2,))
_row("betainc_large_ab", ember.special.betainc, sps.betainc, ins(uniform(2e4, 3e4, 6), uniform(2e4, 3e4, 6),
                                                                  uniform(0.45, 0.55, 6)), "betainc", grad=False,
     rtol=1e-9, extra={"f32_rtol": 1e-3})

# --- complex numbers: real inputs and outputs around complex intermediates (the generic tests take real arrays) ---


def _np_complex(a, b):
    return a + 1j * b


def _np_as_real(z):
    return np.stack([z.real, z.imag], axis=-1)


_row("complex_view_as_real", lambda a, b: ember.view_as_real(ember.complex(a, b)),
     lambda a, b: _np_as_real(_np_complex(a, b)), ins(normal(3, 4), normal(4)), ("complex", "view_as_real"),
     torch and (lambda a, b: torch.view_as_real(torch.complex(*torch.broadcast_tensors(a, b)))))
_row("complex_real_imag_conj",
     lambda x: (lambda z: ember.real(z) * ember.imag(ember.conj(z)))(ember.view_as_complex(x)),
     lambda x: -x[..., 0] * x[..., 1], ins(normal(3, 4, 2)), ("view_as_complex", "real", "imag", "conj"),
     torch and (lambda x: (lambda z: z.real * z.conj().imag)(torch.view_as_complex(x))))
_row("complex_angle", lambda a, b: ember.angle(ember.complex(a, b)), lambda a, b: np.angle(_np_complex(a, b)),
     ins(uniform(0.3, 2.0, 3, 4), normal(3, 4)), ("complex", "angle"),
     torch and (lambda a, b: torch.angle(torch.complex(a, b))))
_row("angle_real", ember.angle, np.angle, ins(away(3, 4)), "angle", torch and torch.angle)
_row("complex_arithmetic",
     lambda a, b: ember.view_as_real((lambda z: z * z.conj().exp() / (z + 3.0) - z.sqrt().log() ** 2.0)(
         ember.complex(a, b))),
     lambda a, b: _np_as_real((lambda z: z * np.exp(z.conj()) / (z + 3.0) - np.log(np.sqrt(z)) ** 2.0)(
         _np_complex(a, b))),
     ins(uniform(0.5, 2.0, 3, 4), normal(3, 4)),
     ("complex", "view_as_real", "conj", "mul", "div", "exp", "log", "sqrt", "pow", "add", "sub"),
     torch and (lambda a, b: torch.view_as_real(
         (lambda z: z * z.conj().exp() / (z + 3.0) - z.sqrt().log() ** 2.0)(torch.complex(a, b)))))
_ANALYTIC = ("sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid", "log1p", "expm1", "log2", "log10", "exp2", "asin",
             "acos", "atan", "asinh", "acosh", "atanh")
_NP_ANALYTIC = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh", "acosh": "arccosh",
                "atanh": "arctanh"}


def _analytic_sum(z, functions):
    """sum_k f_k(z) / (k + 1) over the elementwise functions of a complex variable, weighted so none cancels."""
    return sum(f(z) / (k + 1.0) for k, f in enumerate(functions))


_row("complex_elementwise_functions",
     lambda a, b: ember.view_as_real(_analytic_sum(ember.complex(a, b), [getattr(ember, n) for n in _ANALYTIC])),
     lambda a, b: _np_as_real(_analytic_sum(_np_complex(a, b), [
         (lambda z: 1 / (1 + np.exp(-z))) if n == "sigmoid" else getattr(np, _NP_ANALYTIC.get(n, n))
         for n in _ANALYTIC])),
     ins(uniform(0.5, 2.0, 3, 4), away(3, 4, gap=0.2)),  # away from the branch cuts on the axes
     ("complex", "view_as_real", "add", "div") + _ANALYTIC,
     torch and (lambda a, b: torch.view_as_real(_analytic_sum(torch.complex(a, b), [
         getattr(torch, n) for n in _ANALYTIC]))))
_row("complex_logsumexp_sinc",
     lambda a, b: ember.view_as_real(ember.logsumexp(ember.complex(a, b), 1) + ember.sinc(ember.complex(a, b)).sum(1)),
     lambda a, b: _np_as_real(np.log(np.exp(_np_complex(a, b)).sum(1)) + np.sinc(_np_complex(a, b)).sum(1)),
     ins(normal(3, 4), normal(3, 4, scale=0.3)), ("complex", "view_as_real", "exp", "log", "sum", "sin"),
     torch and (lambda a, b: torch.view_as_real(torch.logsumexp(torch.complex(a, b), 1)
                                                + torch.sinc(torch.complex(a, b)).sum(1))))
_row("complex_logaddexp",
     lambda a, b, c: ember.view_as_real(ember.logaddexp(ember.complex(a, b), ember.complex(c, a[0]))),
     lambda a, b, c: _np_as_real(np.log(np.exp(_np_complex(a, b)) + np.exp(_np_complex(c, a[0])))),
     ins(normal(3, 4), normal(3, 4, scale=0.3), normal(4)), ("complex", "view_as_real", "logaddexp"),
     torch and (lambda a, b, c: torch.view_as_real(torch.logaddexp(torch.complex(a, b), torch.complex(c, a[0])))))
_row("complex_matmul_abs_mean",
     lambda a, b, c: (ember.complex(a, b) @ ember.complex(c, a.T)).abs().mean(0),
     lambda a, b, c: np.abs(_np_complex(a, b) @ _np_complex(c, a.T)).mean(0),
     ins(normal(3, 4), normal(3, 4), normal(4, 3)), ("complex", "matmul", "abs", "sum"),
     torch and (lambda a, b, c: (torch.complex(a, b) @ torch.complex(c, a.T)).abs().mean(0)))
_row("fft_n_ortho", lambda x: ember.view_as_real(ember.fft.fft(x, n=6, norm="ortho")),
     lambda x: _np_as_real(np.fft.fft(x, n=6, norm="ortho")), ins(normal(3, 4)),
     ("cast", "pad", "fft_c2c", "view_as_real"),
     torch and (lambda x: torch.view_as_real(torch.fft.fft(x, n=6, norm="ortho"))))
_row("ifft2_complex_cut", lambda a, b: ember.view_as_real(ember.fft.ifft2(ember.complex(a, b), s=(3, 2))),
     lambda a, b: _np_as_real(np.fft.ifft2(_np_complex(a, b), s=(3, 2))), ins(normal(2, 4, 3), normal(2, 4, 3)),
     ("complex", "getitem", "fft_c2c", "view_as_real"),
     torch and (lambda a, b: torch.view_as_real(torch.fft.ifft2(torch.complex(a, b), s=(3, 2)))))
_row("rfftn_forward", lambda x: ember.view_as_real(ember.fft.rfftn(x, dim=(0, 1), norm="forward")),
     lambda x: _np_as_real(np.fft.rfftn(x, axes=(0, 1), norm="forward")), ins(normal(3, 5, 2)),
     ("fft_r2c", "view_as_real"),
     torch and (lambda x: torch.view_as_real(torch.fft.rfftn(x, dim=(0, 1), norm="forward"))))
_row("irfft_odd_n", lambda a, b: ember.fft.irfft(ember.complex(a, b), n=7),
     lambda a, b: np.fft.irfft(_np_complex(a, b), n=7), ins(normal(3, 4), normal(3, 4)), ("complex", "fft_c2r"),
     torch and (lambda a, b: torch.fft.irfft(torch.complex(a, b), n=7)))
_row("irfft2_even", lambda a, b: ember.fft.irfft2(ember.complex(a, b), norm="ortho"),
     lambda a, b: np.fft.irfft2(_np_complex(a, b), norm="ortho"), ins(normal(2, 3, 4), normal(2, 3, 4)),
     ("complex", "fft_c2r"), torch and (lambda a, b: torch.fft.irfft2(torch.complex(a, b), norm="ortho")))
_row("hfft_ihfft", lambda x: ember.fft.hfft(ember.fft.ihfft(x) * 2.0, n=6),
     lambda x: np.fft.hfft(np.fft.ihfft(x) * 2.0, n=6), ins(normal(2, 5)), ("fft_r2c", "conj", "fft_c2r", "mul"),
     torch and (lambda x: torch.fft.hfft(torch.fft.ihfft(x) * 2.0, n=6)))


def _np_stft(x, n_fft, hop, window):
    padded = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    starts = np.arange(0, len(padded) - n_fft + 1, hop)
    return np.fft.rfft(padded[starts[:, None] + np.arange(n_fft)] * window, axis=-1).T


def _np_istft(z, n_fft, hop, window):
    frames = np.fft.irfft(z.T, n=n_fft, axis=-1) * window
    size = n_fft + hop * (len(frames) - 1)
    signal, envelope = np.zeros(size), np.zeros(size)
    for t, frame in enumerate(frames):
        signal[t * hop:t * hop + n_fft] += frame
        envelope[t * hop:t * hop + n_fft] += window ** 2
    cut = slice(n_fft // 2, size - n_fft // 2)
    return signal[cut] / envelope[cut]


_row("stft_window", lambda x, w: ember.view_as_real(ember.stft(x, 8, 3, window=w, return_complex=True)),
     lambda x, w: _np_as_real(_np_stft(x, 8, 3, w)), ins(normal(20), uniform(0.5, 1.5, 8)),
     ("take", "fft_r2c", "view_as_real"),
     torch and (lambda x, w: torch.view_as_real(torch.stft(x, 8, 3, window=w, return_complex=True))))
_row("istft_window", lambda a, b, w: ember.istft(ember.complex(a, b), 8, 2, window=w),
     lambda a, b, w: _np_istft(_np_complex(a, b), 8, 2, w), ins(normal(5, 6), normal(5, 6), uniform(0.5, 1.5, 8)),
     ("complex", "fft_c2r", "index_add", "div"),
     torch and (lambda a, b, w: torch.istft(torch.complex(a, b), 8, 2, window=w)))
_row("linalg_eigvals_abs", lambda a: ember.linalg.eigvals(a).abs(), lambda a: np.abs(np.linalg.eigvals(a)),
     ins(normal(2, 3, 3)), ("eig", "abs"), torch and (lambda a: torch.linalg.eigvals(a).abs()))
_row("linalg_eig", lambda a: (lambda w, v: (w.real, w.imag, v.abs()))(*ember.linalg.eig(a)),
     lambda a: (lambda w, v: (w.real, w.imag, np.abs(v)))(*np.linalg.eig(a)), ins(normal(4, 4)), ("eig", "abs"),
     torch and (lambda a: (lambda w, v: (w.real, w.imag, v.abs()))(*torch.linalg.eig(a))))
_row("complex_solve", lambda a, b, c, d: ember.view_as_real(complex_solve(ember.complex(a, b), ember.complex(c, d))),
     lambda a, b, c, d: _np_as_real(np.linalg.solve(_np_complex(a, b), _np_complex(c, d))),
     ins(normal(2, 3, 3), normal(2, 3, 3), normal(2, 3, 2), normal(2, 3, 2)), ("complex", "complex_solve"),
     torch and (lambda a, b, c, d: torch.view_as_real(torch.linalg.solve(torch.complex(a, b), torch.complex(c, d)))))

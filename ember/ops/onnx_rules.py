"""How each op becomes ONNX nodes: the ``onnx_export`` field of the op records that need more than a rename.

A rule is ``rule(emitter, *inputs, **attrs)``: ``inputs`` are ONNX value names, ``attrs`` the node's Ember
attributes; it returns the output name. The emitter (``ember.onnx.export.Emitter``) offers ``node``,
``const``, ``ints``, ``reduce``, ``spec`` (the known shape and dtype of an input), ``dtype`` (an ONNX type
code), ``out`` (the Spec of the Ember node's output) and ``opset``. An op whose ``onnx`` is a name and which
has no attributes needs no rule: it exports as that one ONNX node. This module only attaches rules to the
records; it imports nothing of ONNX.
"""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import LOW_PRECISION
from ember.ops.activation import HARDSWISH, LOG_SOFTMAX, SOFTMAX
from ember.ops.adaptive_pool import ADAPTIVE_AVG_AXIS, bin_weights
from ember.ops.batch_norm import BATCH_MOMENTS, BATCH_NORM_TRAIN
from ember.ops.conv import CONV2D, CONV_TRANSPOSE2D
from ember.ops.conv3d import CONV3D, CONV_TRANSPOSE3D
from ember.ops.convert import CAST
from ember.ops.cumulative import LOGCUMSUMEXP
from ember.ops.elementwise import (
    ATAN2,
    BITWISE_AND,
    BITWISE_OR,
    BITWISE_XOR,
    CLIP,
    EXPM1,
    FLOOR_DIVIDE,
    INVERT,
    LOG1P,
    LOG2,
    LOG10,
    NE,
    POW,
    RELU,
    REMAINDER,
    SIGN,
    SOFTPLUS,
    TRUNC_DIVIDE,
)
from ember.ops.elementwise_torch import COPYSIGN, HEAVISIDE, HYPOT
from ember.ops.indexing import DIAGONAL, EMBEDDING, GATHER, GETITEM, INDEX_ADD, ONE_HOT, PAD, SCATTER_ADD, TAKE
from ember.ops.join import CONCAT, REPEAT, TILE
from ember.ops.linalg import LINEAR, LINEAR_RELU, bias_on_rows
from ember.ops.loss import BINARY_CROSS_ENTROPY, NLL_WEIGHTS, SOFTMAX_CROSS_ENTROPY, SPARSE_XENT
from ember.ops.normalization import LAYER_NORM
from ember.ops.pool3d import AVG_POOL3D, MAX_POOL3D
from ember.ops.pool_indices import MAX_POOL_INDICES
from ember.ops.pooling import AVG_POOL2D, MAX_POOL2D
from ember.ops.recurrent import RECURRENT
from ember.ops.reduction import (
    ALL,
    ANY,
    ARGMAX,
    ARGMIN,
    CUMPROD,
    CUMSUM,
    MAX,
    MIN,
    PROD,
    RECIPROCAL_COUNT,
    SUM,
)
from ember.ops.registry import Op
from ember.ops.sampling import GRID_SAMPLE
from ember.ops.scatter_reduce import SCATTER_REDUCE, reduction_identity
from ember.ops.shape import BROADCAST_LIKE, BROADCAST_TO, RESHAPE, TRANSPOSE
from ember.ops.sized import ARANGE_SIZED, FILL, RESHAPE_SIZED, SLICE_SIZED
from ember.ops.sorting import ARGSORT, MEDIAN
from ember.ops.special import ENTR

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def _rule(*ops: Op):
    def attach(fn):
        for op in ops:
            op.onnx_export = fn
        return fn

    return attach


# --- conversion and shape ------------------------------------------------------------------------------


@_rule(CAST)
def _cast(b, x, *, dtype):
    return b.node("Cast", [x], to=b.dtype(dtype))


@_rule(RESHAPE)
def _reshape(b, x, *, shape):
    shape = list(shape)
    unknown = [i for i, d in enumerate(shape) if d is None]
    if len(unknown) == 1 and -1 not in shape:
        shape[unknown[0]] = -1
    else:
        source = b.spec(x).shape
        for i in unknown:  # an unknown size carried over from the same axis of the input: ONNX's 0 copies it
            if i >= len(source) or source[i] is not None:
                raise ValueError(f"reshape: cannot express the target shape {shape} of an input of shape "
                                 f"{list(source)} with several unknown sizes in ONNX")
            shape[i] = 0
    return b.node("Reshape", [x, b.ints(shape)])


def _size(b, inputs: list, size) -> str:
    """A 1-D int64 tensor of one element holding a size attribute of the ``sized`` ops (``ember.ops.sized``)."""
    if size.__class__ is int:
        return b.ints([size])
    if len(size) == 2:
        k, axis = size
        return b.node("Gather", [b.node("Shape", [inputs[k]]), b.ints([axis % len(b.spec(inputs[k]).shape)])], axis=0)
    symbol, left, right = size
    left, right = _size(b, inputs, left), _size(b, inputs, right)
    if symbol == "//":  # ONNX's integer Div truncates; Python's floors: (a - a mod b) / b is exact
        return b.node("Div", [b.node("Sub", [left, b.node("Mod", [left, right], fmod=0)]), right])
    return b.node({"+": "Add", "-": "Sub", "*": "Mul"}[symbol], [left, right])


@_rule(FILL)
def _fill(b, *sources, sizes, value, dtype):
    if len(sources) == 1 and sizes == tuple((0, a) for a in range(len(b.spec(sources[0]).shape))):
        shape = b.node("Shape", [sources[0]])  # a *_like
    else:
        parts = [_size(b, list(sources), d) for d in sizes]
        shape = parts[0] if len(parts) == 1 else b.node("Concat", parts, axis=0) if parts else b.ints([])
    return b.node("Expand", [b.const(np.asarray(value, dtype)), shape])


@_rule(ARANGE_SIZED)
def _arange_sized(b, *sources, start, stop, step, dtype):
    bounds = [b.node("Reshape", [_size(b, list(sources), d), b.ints([])]) for d in (start, stop, step)]
    if np.dtype(dtype) != np.int64:
        bounds = [b.node("Cast", [v], to=b.dtype(dtype)) for v in bounds]
    return b.node("Range", bounds)


@_rule(SLICE_SIZED)
def _slice_sized(b, x, *sources, axis, start, stop, step):
    inputs = [x, *sources]
    first = b.ints([0]) if start is None else _size(b, inputs, start)
    last = b.ints([INT64_MAX]) if stop is None else _size(b, inputs, stop)
    return b.node("Slice", [x, first, last, b.ints([axis]), b.ints([step])])


@_rule(RESHAPE_SIZED)
def _reshape_sized(b, x, *sources, shape):
    parts = [_size(b, [x, *sources], d) for d in shape]
    target = parts[0] if len(parts) == 1 else b.node("Concat", parts, axis=0) if parts else b.ints([])
    return b.node("Reshape", [x, target])


@_rule(TRANSPOSE)
def _transpose(b, x, *, axes):
    perm = list(axes) if axes is not None else list(range(len(b.spec(x).shape)))[::-1]
    return b.node("Transpose", [x], perm=perm)


@_rule(BROADCAST_TO)
def _broadcast_to(b, x, *, shape):
    return b.node("Expand", [x, b.ints([1 if d is None else d for d in shape])])


@_rule(BROADCAST_LIKE)
def _broadcast_like(b, x, like):
    return b.node("Expand", [x, b.node("Shape", [like])])


@_rule(CONCAT)
def _concat(b, *xs, axis):
    return b.node("Concat", list(xs), axis=axis)


@_rule(PAD)
def _pad(b, x, *, pad_width, value):
    pairs = [tuple(p) for p in pad_width]
    pads = [p[0] for p in pairs] + [p[1] for p in pairs]
    return b.node("Pad", [x, b.ints(pads), b.const(value, b.spec(x).dtype)], mode="constant")


@_rule(REPEAT)
def _repeat(b, x, *, repeats, axis):
    shape = b.spec(x).shape
    if axis is None:
        n = None if None in shape else int(np.prod(shape))
        x, axis = b.node("Reshape", [x, b.ints([-1])]), 0
    else:
        n = shape[axis]
    if n is None:
        raise ValueError(f"repeat: needs the size of axis {axis} of {list(shape)} to be known")
    return b.node("Gather", [x, b.ints(np.repeat(np.arange(n), repeats))], axis=axis)


@_rule(TILE)
def _tile(b, x, *, reps):
    reps = (reps,) if np.isscalar(reps) else tuple(reps)
    ndim = len(b.spec(x).shape)
    if len(reps) > ndim:
        x = b.node("Unsqueeze", [x, b.ints(range(len(reps) - ndim))])
    reps = (1,) * (ndim - len(reps)) + reps
    return b.node("Tile", [x, b.ints(reps)])


# --- elementwise -----------------------------------------------------------------------------------------


@_rule(LOG1P)
def _log1p(b, x):
    return b.node("Log", [b.node("Add", [x, b.const(1, b.spec(x).dtype)])])


@_rule(LOG2)
def _log2(b, x):
    return b.node("Div", [b.node("Log", [x]), b.const(np.log(2.0), b.spec(x).dtype)])


@_rule(LOG10)
def _log10(b, x):
    return b.node("Div", [b.node("Log", [x]), b.const(np.log(10.0), b.spec(x).dtype)])


@_rule(ENTR)
def _entr(b, x):
    dtype = b.spec(x).dtype
    zero = b.const(0, dtype)
    positive = b.node("Greater", [x, zero])
    value = b.node("Neg", [b.node("Mul", [x, b.node("Log", [b.node("Where", [positive, x, b.const(1, dtype)])])])])
    below = b.node("Where", [b.node("IsNaN", [x]), x, b.const(-np.inf, dtype)])
    return b.node("Where", [positive, value, b.node("Where", [b.node("Equal", [x, zero]), zero, below])])


@_rule(EXPM1)
def _expm1(b, x):
    return b.node("Sub", [b.node("Exp", [x]), b.const(1, b.spec(x).dtype)])


@_rule(SOFTPLUS)
def _softplus(b, x, *, beta, threshold):
    dtype = b.spec(x).dtype
    z = x if beta == 1 else b.node("Mul", [x, b.const(beta, dtype)])
    soft = b.node("Softplus", [z])
    if beta != 1:
        soft = b.node("Div", [soft, b.const(beta, dtype)])
    return b.node("Where", [b.node("Greater", [z, b.const(threshold, dtype)]), x, soft])


@_rule(HARDSWISH)
def _hardswish(b, x):
    if b.opset >= 14:
        return b.node("HardSwish", [x])
    return b.node("Mul", [x, b.node("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])  # HardSwish came in opset 14


@_rule(CLIP)
def _clip(b, x, *, min, max):
    dtype = b.spec(x).dtype
    low = "" if min is None else b.const(min, dtype)
    high = "" if max is None else b.const(max, dtype)
    return b.node("Clip", [x, low, high])


def _float_divmod(b, x, y) -> tuple:
    """(the quotient before flooring, the remainder) of floats as NumPy's divmod (and PyTorch's) computes them:
    from C's exact fmod, moved by one y where its sign differs from y's (x - floor(x / y) * y rounds)."""
    zero = b.const(0, b.spec(x).dtype)
    mod = b.node("Mod", [x, y], fmod=1)
    quotient = b.node("Div", [b.node("Sub", [x, mod]), y])
    moved = b.node("And", [b.node("Not", [b.node("Equal", [mod, zero])]),
                           b.node("Xor", [b.node("Less", [mod, zero]), b.node("Less", [y, zero])])])
    one = b.const(1, b.spec(x).dtype)
    return (b.node("Where", [moved, b.node("Sub", [quotient, one]), quotient]),
            b.node("Where", [moved, b.node("Add", [mod, y]), mod]))


@_rule(REMAINDER)
def _remainder(b, x, y):
    if b.spec(x).dtype.kind in "iu":
        return b.node("Mod", [x, y], fmod=0)
    return _float_divmod(b, x, y)[1]  # takes the divisor's sign


@_rule(FLOOR_DIVIDE)
def _floor_divide(b, x, y):
    if b.spec(x).dtype.kind in "iu":  # (x - x mod y) / y is exact, and ONNX's integer Div truncates
        return b.node("Div", [b.node("Sub", [x, b.node("Mod", [x, y], fmod=0)]), y])
    dtype = b.spec(x).dtype
    quotient = _float_divmod(b, x, y)[0]  # nearly whole: its floor, or the next integer past a half
    low = b.node("Floor", [quotient])
    up = b.node("Greater", [b.node("Sub", [quotient, low]), b.const(0.5, dtype)])
    floored = b.node("Where", [up, b.node("Add", [low, b.const(1, dtype)]), low])
    by_zero = b.node("Equal", [y, b.const(0, dtype)])  # x / 0: the infinity or NaN of the division
    return b.node("Where", [by_zero, b.node("Div", [x, y]), floored])


@_rule(TRUNC_DIVIDE)
def _trunc_divide(b, x, y):
    if b.spec(x).dtype.kind in "iu":  # ONNX's integer Div truncates
        return b.node("Div", [x, y])
    # ONNX has no Trunc: the floor of the quotient's magnitude times its sign, which keeps a zero's sign (a Where
    # between Ceil and Floor gave +0.0 for -0.5: onnxruntime's Where drops a -0.0)
    q = b.node("Div", [x, y])
    return b.node("Mul", [b.node("Floor", [b.node("Abs", [q])]), _unit_sign(b, q, b.spec(x).dtype)])


@_rule(SIGN)
def _sign(b, x):
    dtype = b.spec(x).dtype
    if dtype == np.bool_:
        return b.node("Identity", [x])
    sign = b.node("Sign", [x])
    if dtype.kind in "iu":
        return sign
    return b.node("Where", [b.node("IsNaN", [x]), b.const(0, dtype), sign])  # PyTorch's sign of NaN is 0


def _signbit(b, x: str, dtype) -> str:
    """Whether ``x`` (of float ``dtype``) is negative, -0.0 included (1 / -0.0 is -inf); False for NaN."""
    zero = b.const(0, dtype)
    return b.node("Or", [b.node("Less", [x, zero]), b.node("Less", [b.node("Div", [b.const(1, dtype), x]), zero])])


def _unit_sign(b, x: str, dtype) -> str:
    """-1 where ``x`` is negative (-0.0 too), else 1: a factor that gives a zero its sign."""
    return b.node("Where", [_signbit(b, x, dtype), b.const(-1, dtype), b.const(1, dtype)])


def _signed_where(b, condition: str, x: str, y: str, dtype) -> str:
    """Where(condition, x, y) keeping a selected -0.0 (onnxruntime's Where turns it into +0.0): the selected
    magnitude times the selected operand's sign."""
    magnitude = b.node("Abs", [b.node("Where", [condition, x, y])])
    return b.node("Mul", [magnitude, b.node("Where", [condition, _unit_sign(b, x, dtype), _unit_sign(b, y, dtype)])])


def _through_float32(b, rule, *xs: str) -> str:
    """``rule`` on ``xs`` cast to float32, its result cast back to their type (float16, bfloat16)."""
    dtype = b.spec(xs[0]).dtype
    wide = [b.node("Cast", [x], to=b.dtype(np.float32)) for x in xs]
    for name, x in zip(wide, xs):
        b.specs[name] = type(b.spec(x))(b.spec(x).shape, np.dtype(np.float32))
    return b.node("Cast", [rule(b, *wide)], to=b.dtype(dtype))


@_rule(ATAN2)
def _atan2(b, y, x):
    """atan(y / x), plus pi toward y's side where x is negative (-0.0 too). Where both are zero x counts as 1
    (atan2(+-0, +-0) is +-0 or +-pi) and where both are infinite each counts as its sign (+-pi / 4, +-3 pi / 4).
    Written with Div and Sub rather than Where on the values, so that a zero keeps its sign."""
    dtype = b.spec(y).dtype
    if dtype in LOW_PRECISION:
        return _through_float32(b, _atan2, y, x)
    zero = b.const(0, dtype)
    both_zero = b.node("And", [b.node("Equal", [y, zero]), b.node("Equal", [x, zero])])
    both_inf = b.node("And", [b.node("IsInf", [y]), b.node("IsInf", [x])])
    y_unit = _signed_where(b, both_inf, b.node("Sign", [y]), y, dtype)  # y itself, or +-1
    x_unit = _signed_where(b, both_inf, b.node("Sign", [x]), x, dtype)
    x_unit = b.node("Sub", [x_unit, b.node("Where", [both_zero, b.const(-1, dtype), zero])])  # (x - +0 is x)
    half_turn = b.node("Where", [_signbit(b, y, dtype), b.const(np.pi, dtype), b.const(-np.pi, dtype)])
    turn = b.node("Where", [_signbit(b, x, dtype), half_turn, zero])
    return b.node("Sub", [b.node("Atan", [b.node("Div", [y_unit, x_unit])]), turn])


@_rule(HYPOT)
def _hypot(b, x, y):
    """max * sqrt(1 + (min / max)^2) of the magnitudes (no overflow of the squares); 0 where both are 0, inf where
    either is infinite (NaN beside it too), else NaN where either is NaN, as C's hypot."""
    dtype = b.spec(x).dtype
    if dtype in LOW_PRECISION:  # (IsInf takes float32 and float64)
        return _through_float32(b, _hypot, x, y)
    ax, ay = b.node("Abs", [x]), b.node("Abs", [y])
    x_larger = b.node("Greater", [ax, ay])
    big, small = b.node("Where", [x_larger, ax, ay]), b.node("Where", [x_larger, ay, ax])
    zero = b.node("Equal", [big, b.const(0, dtype)])
    ratio = b.node("Div", [small, b.node("Where", [zero, b.const(1, dtype), big])])
    out = b.node("Mul", [big, b.node("Sqrt", [b.node("Add", [b.const(1, dtype), b.node("Mul", [ratio, ratio])])])])
    out = b.node("Where", [b.node("Or", [b.node("IsNaN", [x]), b.node("IsNaN", [y])]), b.const(np.nan, dtype), out])
    return b.node("Where", [b.node("Or", [b.node("IsInf", [x]), b.node("IsInf", [y])]), b.const(np.inf, dtype), out])


@_rule(COPYSIGN)
def _copysign(b, x, y):
    """|x| times -1 where y's sign is negative (-0.0 too). ONNX cannot read a NaN's sign bit: y NaN gives +|x|."""
    return b.node("Mul", [b.node("Abs", [x]), _unit_sign(b, y, b.spec(y).dtype)])


@_rule(HEAVISIDE)
def _heaviside(b, x, values):
    dtype = b.spec(x).dtype
    if dtype == np.bool_:  # True where x, else values
        return b.node("Or", [x, values])
    step = b.node("Cast", [b.node("Greater", [x, b.const(0, dtype)])], to=b.dtype(dtype))  # 0 for NaN
    return _signed_where(b, b.node("Equal", [x, b.const(0, dtype)]), values, step, dtype)


@_rule(POW)
def _pow(b, x, y):
    dtype = b.spec(x).dtype
    if dtype.kind != "i":
        return b.node("Pow", [x, y])
    # PyTorch's integer results for negative exponents: 1 for 1, +-1 for -1, else 0
    zero = b.const(0, dtype)
    negative = b.node("Less", [y, zero])
    unit = b.node("Equal", [b.node("Abs", [x]), b.const(1, dtype)])
    inverse = b.node("Where", [unit, b.node("Pow", [x, b.node("Mod", [y, b.const(2, dtype)], fmod=0)]), zero])
    return b.node("Where", [negative, inverse, b.node("Pow", [x, b.node("Where", [negative, zero, y])])])


@_rule(NE)
def _ne(b, x, y):
    return b.node("Not", [b.node("Equal", [x, y])])


def _logical(logical: str, bitwise: str):
    def rule(b, *xs):
        if b.spec(xs[0]).dtype == np.bool_:
            return b.node(logical, list(xs))
        if b.opset < 18:
            raise ValueError(f"{bitwise}: on {b.spec(xs[0]).dtype} needs ONNX opset 18 or later, got {b.opset}")
        return b.node(bitwise, list(xs))

    return rule


BITWISE_AND.onnx_export = _logical("And", "BitwiseAnd")
BITWISE_OR.onnx_export = _logical("Or", "BitwiseOr")
BITWISE_XOR.onnx_export = _logical("Xor", "BitwiseXor")
INVERT.onnx_export = _logical("Not", "BitwiseNot")


# --- reductions ----------------------------------------------------------------------------------------


def _nan_flags(b, x: str, dtype) -> str | None:
    """1 where x (of ``dtype``) is NaN, else 0 (int32); None for dtypes without NaN. ONNX leaves NaN in
    ReduceMax/Min and ArgMax/Min to the runtime (onnxruntime passes over it); Ember's, as PyTorch's, give it."""
    if np.dtype(dtype).kind != "f":
        return None
    return b.node("Cast", [b.node("IsNaN", [x])], to=b.dtype(np.int32))


def _reduction(onnx_name: str):
    def rule(b, x, *, axis, keepdims):
        if b.spec(x).dtype != b.out.dtype:  # sums of bools and small ints count in the output's dtype
            x = b.node("Cast", [x], to=b.dtype(b.out.dtype))
        y = b.reduce(onnx_name, x, axis, keepdims)
        nan = _nan_flags(b, x, b.out.dtype) if onnx_name in ("ReduceMax", "ReduceMin") else None
        if nan is None:
            return y
        has_nan = b.node("Cast", [b.reduce("ReduceMax", nan, axis, keepdims)], to=b.dtype(np.bool_))
        return b.node("Where", [has_nan, b.const(np.nan, b.out.dtype), y])

    return rule


SUM.onnx_export = _reduction("ReduceSum")
PROD.onnx_export = _reduction("ReduceProd")
MAX.onnx_export = _reduction("ReduceMax")
MIN.onnx_export = _reduction("ReduceMin")


def _boolean_reduction(onnx_name: str):
    def rule(b, x, *, axis, keepdims):
        ints = b.node("Cast", [b.node("Cast", [x], to=b.dtype(np.bool_))], to=b.dtype(np.int32))
        return b.node("Cast", [b.reduce(onnx_name, ints, axis, keepdims)], to=b.dtype(np.bool_))

    return rule


ANY.onnx_export = _boolean_reduction("ReduceMax")
ALL.onnx_export = _boolean_reduction("ReduceMin")


def _arg(onnx_name: str):
    def rule(b, x, *, axis, keepdims):
        dtype, flat = b.spec(x).dtype, axis is None
        if flat:
            x, axis, keepdims = b.node("Reshape", [x, b.ints([-1])]), 0, False
        y = b.node(onnx_name, [x], axis=axis, keepdims=int(keepdims))
        nan = _nan_flags(b, x, dtype)
        if nan is not None:  # the first NaN where there is one
            has_nan = b.node("Cast", [b.reduce("ReduceMax", nan, axis, keepdims)], to=b.dtype(np.bool_))
            y = b.node("Where", [has_nan, b.node("ArgMax", [nan], axis=axis, keepdims=int(keepdims)), y])
        return b.node("Reshape", [y, b.ints(b.out.shape)]) if flat else y

    return rule


ARGMAX.onnx_export = _arg("ArgMax")
ARGMIN.onnx_export = _arg("ArgMin")


@_rule(CUMSUM)
def _cumsum(b, x, *, axis, reverse):
    # as the forward: bools and integers sum as int64, float16 in float32 rounded once
    work = np.dtype(np.float32) if b.spec(x).dtype in LOW_PRECISION else b.out.dtype
    if b.spec(x).dtype != work:
        x = b.node("Cast", [x], to=b.dtype(work))
    y = b.node("CumSum", [x, b.const(axis, np.int64)], reverse=int(reverse))
    return y if work == b.out.dtype else b.node("Cast", [y], to=b.dtype(b.out.dtype))


def _scan(b, x: str, shape: tuple, axis: int, reverse: bool, combine, fill: str) -> str:
    """A running ``combine`` along ``axis`` of ``x`` (of ``shape``) in log2(n) steps: each step combines every
    element with the one 2^k before it (the value ``fill`` where there is none); the order of the combinations is
    a tree's, not a left fold's."""
    n = shape[axis]
    if n is None:
        raise ValueError(f"{b.op.name}: the size of axis {axis} must be known (it sets the number of steps), got "
                         f"shape {list(shape)}")
    rank = len(shape)
    shift = 1
    while shift < n:
        pads = [0] * (2 * rank)
        pads[axis + (rank if reverse else 0)] = shift
        start, end = (shift, n + shift) if reverse else (0, n)
        moved = b.node("Slice", [b.node("Pad", [x, b.ints(pads), fill], mode="constant"), b.ints([start]),
                                 b.ints([end]), b.ints([axis])])
        x = combine(x, moved)
        shift *= 2
    return x


def _widened_to(b, x: str, wide) -> str:
    return x if b.spec(x).dtype == wide else b.node("Cast", [x], to=b.dtype(wide))


@_rule(CUMPROD)
def _cumprod(b, x, *, axis):
    # as the forward: bools and integers multiply as int64, float16 in float32 and float32 in float64
    dtype = b.spec(x).dtype
    wide = np.dtype(np.float32 if dtype in LOW_PRECISION else np.float64 if dtype == np.float32 else b.out.dtype)
    y = _scan(b, _widened_to(b, x, wide), b.spec(x).shape, axis, False, lambda u, v: b.node("Mul", [u, v]),
              b.const(1, wide))
    return y if wide == b.out.dtype else b.node("Cast", [y], to=b.dtype(b.out.dtype))


@_rule(LOGCUMSUMEXP)
def _logcumsumexp(b, x, *, axis, reverse):
    """log(exp(u) + exp(v)) = max + log(1 + exp(-|u - v|)), steps of a scan (float32 in float64, float16 in float32,
    as the forward); where u == v (two infinities of one sign too) it is u + log(2)."""
    dtype = b.spec(x).dtype
    wide = np.dtype(np.float32 if dtype in LOW_PRECISION else np.float64)
    zero, one = b.const(0, wide), b.const(1, wide)

    def logaddexp(u, v):
        gap = b.node("Neg", [b.node("Abs", [b.node("Sub", [u, v])])])
        gap = b.node("Where", [b.node("Equal", [u, v]), zero, gap])
        top = b.node("Where", [b.node("Greater", [u, v]), u, v])
        return b.node("Add", [top, b.node("Log", [b.node("Add", [one, b.node("Exp", [gap])])])])

    y = _scan(b, _widened_to(b, x, wide), b.spec(x).shape, axis, reverse, logaddexp, b.const(-np.inf, wide))
    return y if wide == dtype else b.node("Cast", [y], to=b.dtype(dtype))


@_rule(ARGSORT)
def _argsort(b, x, *, axis, descending):
    size = b.node("Gather", [b.node("Shape", [x]), b.ints([axis])], axis=0)
    return b.node("TopK", [x, size], outputs=2, axis=axis, largest=int(descending), sorted=1)[1]


@_rule(MEDIAN)
def _median(b, x, *, axis, keepdims):
    flat = b.node("Reshape", [x, b.ints([-1])])
    size = b.node("Shape", [flat])
    k = b.node("Div", [b.node("Sub", [size, b.ints([1])]), b.ints([2])])
    smallest = b.node("TopK", [flat, b.node("Add", [k, b.ints([1])])], outputs=2, axis=0, largest=0, sorted=1)[0]
    value = b.node("Gather", [smallest, k], axis=0)
    nan = _nan_flags(b, flat, b.out.dtype)
    if nan is not None:  # a NaN makes the median NaN, as the forward
        has_nan = b.node("Cast", [b.reduce("ReduceMax", nan, None, True)], to=b.dtype(np.bool_))
        value = b.node("Where", [has_nan, b.const(np.nan, b.out.dtype), value])
    return b.node("Reshape", [value, b.ints(b.out.shape)])


@_rule(RECIPROCAL_COUNT)
def _reciprocal_count(b, x, *, axes, ddof, dtype):
    shape = b.spec(x).shape
    if all(shape[a] is not None for a in axes):
        return b.const(1.0 / (int(np.prod([shape[a] for a in axes])) - ddof), dtype)
    sizes = b.node("Gather", [b.node("Shape", [x]), b.ints(axes)], axis=0)
    count = b.node("Cast", [b.reduce("ReduceProd", sizes, None, False)], to=b.dtype(dtype))
    if ddof:
        count = b.node("Sub", [count, b.const(ddof, dtype)])
    return b.node("Reciprocal", [count])


@_rule(SOFTMAX, LOG_SOFTMAX)
def _softmax(b, x, *, axis):
    if b.spec(x).shape != ():
        return b.node(b.op.onnx, [x], axis=axis)
    one = b.node(b.op.onnx, [b.node("Reshape", [x, b.ints([1])])], axis=0)  # ONNX's takes rank 1 and up
    return b.node("Reshape", [one, b.ints([])])


@_rule(LAYER_NORM)
def _layer_norm(b, x, weight, bias, *, dims, eps):
    if b.opset >= 17:
        return b.node("LayerNormalization", [x, weight, bias], axis=-dims, epsilon=eps)
    dtype = b.spec(x).dtype  # before opset 17: the forward's steps
    axes = list(range(-dims, 0))
    centred = b.node("Sub", [x, b.reduce("ReduceMean", x, axes, True)])
    variance = b.reduce("ReduceMean", b.node("Mul", [centred, centred]), axes, True)
    deviation = b.node("Sqrt", [b.node("Add", [variance, b.const(eps, dtype)])])
    return b.node("Add", [b.node("Mul", [b.node("Div", [centred, deviation]), weight]), bias])


@_rule(BATCH_MOMENTS)
def _batch_moments(b, x):
    # batch statistics in an inference graph: BatchNorm with track_running_stats=False, in eval mode too
    axes = [0, *range(2, len(b.spec(x).shape))]
    if b.spec(x).dtype != b.out.dtype:  # float16 in float32, as the forward
        x = b.node("Cast", [x], to=b.dtype(b.out.dtype))
    mean = b.reduce("ReduceMean", x, axes, True)
    centred = b.node("Sub", [x, mean])
    variance = b.reduce("ReduceMean", b.node("Mul", [centred, centred]), axes, True)
    rows = [b.node("Reshape", [m, b.ints([1, -1])]) for m in (mean, variance)]
    return b.node("Concat", rows, axis=0)


@_rule(BATCH_NORM_TRAIN)
def _batch_norm_train(b, x, weight, bias, moments, *, eps):
    dtype, work = b.spec(x).dtype, b.spec(moments).dtype
    shape = b.ints([1, -1] + [1] * (len(b.spec(x).shape) - 2))
    if dtype != work:  # float16 computed in float32 and rounded once, as the forward
        x, weight, bias = (b.node("Cast", [t], to=b.dtype(work)) for t in (x, weight, bias))
    mean, variance = (b.node("Reshape", [b.node("Gather", [moments, b.const(i, np.int64)], axis=0), shape])
                      for i in (0, 1))
    scale = b.node("Div", [b.node("Reshape", [weight, shape]),
                           b.node("Sqrt", [b.node("Add", [variance, b.const(eps, work)])])])
    out = b.node("Add", [b.node("Mul", [b.node("Sub", [x, mean]), scale]), b.node("Reshape", [bias, shape])])
    return out if dtype == work else b.node("Cast", [out], to=b.dtype(dtype))


# --- convolution and pooling -----------------------------------------------------------------------------


@_rule(CONV2D, CONV3D)
def _conv(b, x, w, bias=None, *, stride, padding, dilation, groups):
    return b.node("Conv", [x, w] + ([bias] if bias is not None else []), strides=list(stride),
                  pads=[*padding, *padding], dilations=list(dilation), group=groups)


@_rule(CONV_TRANSPOSE2D, CONV_TRANSPOSE3D)
def _conv_transpose(b, x, w, *, stride, padding, dilation, groups, output_padding):
    # output_padding extends each axis at its far end: first into the rows (planes) the padding would crop (a
    # smaller end pad: they hold values), then past the full output, where no window reaches (zeros: ONNX's
    # output_padding, which must stay below the stride, then a Pad)
    ends = [max(p - o, 0) for p, o in zip(padding, output_padding)]
    beyond = [max(o - p, 0) for p, o in zip(padding, output_padding)]
    fits = [min(r, s - 1) for r, s in zip(beyond, stride)]
    y = b.node("ConvTranspose", [x, w], strides=list(stride), pads=[*padding, *ends],
               dilations=list(dilation), group=groups, output_padding=fits)
    extra = [r - f for r, f in zip(beyond, fits)]
    if any(extra):
        pads = [0] * (2 + len(extra)) + [0, 0, *extra]  # the far end of each spatial axis
        y = b.node("Pad", [y, b.ints(pads), b.const(0, b.out.dtype)], mode="constant")
    return y


@_rule(RELU)
def _relu(b, x):
    if b.spec(x).dtype.kind in "iu":  # runtimes implement Relu for floats (and int8/int32) only
        return b.node("Max", [x, b.const(0, b.spec(x).dtype)])
    return b.node("Relu", [x])


@_rule(MAX_POOL2D, MAX_POOL3D)
def _max_pool(b, x, *, kernel_size, stride, padding, dilation, ceil_mode):
    return b.node("MaxPool", [x], kernel_shape=list(kernel_size), strides=list(stride), pads=[*padding, *padding],
                  dilations=list(dilation), ceil_mode=int(ceil_mode))


@_rule(MAX_POOL_INDICES)
def _max_pool_indices(b, x, *, kernel_size, stride, padding, dilation, ceil_mode):
    # MaxPool's Indices count over the whole (N, C, ...) tensor, row-major; PyTorch's over one (N, C) plane:
    # the remainder by the plane's size
    _, flat = b.node("MaxPool", [x], outputs=2, kernel_shape=list(kernel_size), strides=list(stride),
                     pads=[*padding, *padding], dilations=list(dilation), ceil_mode=int(ceil_mode), storage_order=0)
    spatial = b.spec(x).shape[2:]
    if None in spatial:
        plane = b.node("ReduceProd", [b.node("Shape", [x], start=2)], keepdims=1)
    else:
        plane = b.const(int(np.prod(spatial)), np.int64)
    return b.node("Mod", [flat, plane])


@_rule(AVG_POOL2D, AVG_POOL3D)
def _avg_pool(b, x, *, kernel_size, stride, padding, ceil_mode, count_include_pad):
    return b.node("AveragePool", [x], kernel_shape=list(kernel_size), strides=list(stride),
                  pads=[*padding, *padding], ceil_mode=int(ceil_mode), count_include_pad=int(count_include_pad))


@_rule(ADAPTIVE_AVG_AXIS)
def _adaptive_avg_axis(b, x, *, axis, output_size):
    # ONNX has no adaptive pooling: the bins' means are a product with the averaging matrix along the axis
    spec = b.spec(x)
    weights = b.const(bin_weights(spec.shape[axis], output_size, np.dtype(spec.dtype))[0])
    last = len(spec.shape) - 1
    if axis == last:
        return b.node("MatMul", [x, weights])
    perm = list(range(last + 1))
    perm[axis], perm[last] = last, axis
    moved = b.node("MatMul", [b.node("Transpose", [x], perm=perm), weights])
    return b.node("Transpose", [moved], perm=perm)


# --- matrix products ---------------------------------------------------------------------------------------


@_rule(LINEAR)
def _linear(b, x, w, bias=None):
    shape = b.spec(x).shape
    if len(shape) == 2:
        return b.node("Gemm", [x, w] + ([bias] if bias is not None else []), transB=1)
    if bias is not None and len(b.spec(bias).shape) == 2 and bias_on_rows(len(shape), b.spec(bias).shape):
        # PyTorch adds this bias to the product's rows (-1, out_features): Gemm over them, then the output's shape
        rows = b.node("Reshape", [x, b.ints([-1, shape[-1]])])
        y = b.node("Gemm", [rows, w, bias], transB=1)
        return b.node("Reshape", [y, b.ints(list(shape[:-1]) + [b.spec(w).shape[0]])])
    y = b.node("MatMul", [x, b.node("Transpose", [w], perm=[1, 0])])
    return y if bias is None else b.node("Add", [y, bias])


@_rule(LINEAR_RELU)
def _linear_relu(b, x, w, bias=None):
    return b.node("Relu", [_linear(b, x, w, bias)])


# --- indexing ----------------------------------------------------------------------------------------------


@_rule(TAKE)
def _take(b, x, indices, *, axis):
    if axis is None:
        x, axis = b.node("Reshape", [x, b.ints([-1])]), 0
    return b.node("Gather", [x, indices], axis=axis)


@_rule(DIAGONAL)
def _diagonal(b, x, *, offset, axis1, axis2):
    # the matrices moved last and flattened, then one Gather of the diagonal's positions
    shape = b.spec(x).shape
    rest = [d for d in range(len(shape)) if d not in (axis1, axis2)]
    rows, cols = shape[axis1], shape[axis2]
    moved = b.node("Transpose", [x], perm=rest + [axis1, axis2])
    flat = b.node("Reshape", [moved, b.ints([0] * len(rest) + [rows * cols])])
    n = max(0, min(rows - max(-offset, 0), cols - max(offset, 0)))
    steps = np.arange(n, dtype=np.int64)
    return b.node("Gather", [flat, b.ints(list((steps + max(-offset, 0)) * cols + steps + max(offset, 0)))],
                  axis=len(rest))


@_rule(EMBEDDING)
def _embedding(b, weight, ids, *, sparse, padding_idx=None):
    return b.node("Gather", [weight, ids], axis=0)


@_rule(GATHER)
def _gather(b, x, index, *, axis):
    return b.node("GatherElements", [x, index], axis=axis)


@_rule(SCATTER_ADD)
def _scatter_add(b, x, index, src, *, axis):
    if b.spec(src).shape != b.spec(index).shape:  # as in PyTorch, only src's leading index-shaped part is read
        rank = len(b.spec(src).shape)
        src = b.node("Slice", [src, b.ints([0] * rank), b.node("Shape", [index]), b.ints(range(rank))])
    return b.node("ScatterElements", [x, index, src], axis=axis, reduction="add")


@_rule(SCATTER_REDUCE)
def _scatter_reduce(b, x, index, src, *, axis, reduce, include_self):
    needed = 16 if reduce == "prod" else 18
    if b.opset < needed:
        raise ValueError(f"scatter_reduce: reduce={reduce!r} needs ONNX opset {needed} or later, got {b.opset}")
    if b.spec(src).shape != b.spec(index).shape:
        rank = len(b.spec(src).shape)
        src = b.node("Slice", [src, b.ints([0] * rank), b.node("Shape", [index]), b.ints(range(rank))])
    if not include_self:  # the named positions start from the reduction's identity
        dtype = b.spec(x).dtype
        ones = b.node("Expand", [b.const(np.array(1, dtype)), b.node("Shape", [index])])
        zeros = b.node("Expand", [b.const(np.array(0, dtype)), b.node("Shape", [x])])
        counts = b.node("ScatterElements", [zeros, index, ones], axis=axis, reduction="add")
        hit = b.node("Greater", [counts, b.const(np.array(0, dtype))])
        x = b.node("Where", [hit, b.const(np.array(reduction_identity(dtype, reduce), dtype)), x])
    return b.node("ScatterElements", [x, index, src], axis=axis,
                  reduction={"prod": "mul", "amax": "max", "amin": "min"}[reduce])


@_rule(INDEX_ADD)
def _index_add(b, x, indices, src, *, axis):
    shape = b.spec(x).shape
    axis = axis % len(shape)
    if None in shape:
        raise ValueError(f"index_add: needs the known shape of its input, got {list(shape)}")
    flat = b.node("Reshape", [src, b.ints(list(shape[:axis]) + [-1] + list(shape[axis + 1:]))])
    column = b.node("Reshape", [indices, b.ints([-1 if a == axis else 1 for a in range(len(shape))])])
    index = b.node("Expand", [column, b.node("Shape", [flat])])
    return b.node("ScatterElements", [x, index, flat], axis=axis, reduction="add")


@_rule(ONE_HOT)
def _one_hot(b, indices, *, num_classes):
    values = b.const(np.array([0, 1], b.out.dtype))
    return b.node("OneHot", [indices, b.const(num_classes, np.int64), values], axis=-1)


@_rule(GETITEM)
def _getitem(b, x, *, index):
    """Basic indexing (ints, slices, None, ...) as Slice, Squeeze and Unsqueeze; one integer array as Gather."""
    shape = b.spec(x).shape
    ndim = len(shape)
    items = list(index) if isinstance(index, tuple) else [index]
    arrays = [i for i, item in enumerate(items) if hasattr(item, "ndim") and not np.isscalar(item)]
    if len(arrays) > 1 and arrays == list(range(len(arrays))) and all(
            isinstance(it, slice) and it == slice(None) or it is Ellipsis for it in items[len(arrays):]):
        # x[i, j] with index arrays on the leading axes: GatherND of the broadcast index tuples
        index = np.stack(np.broadcast_arrays(*[np.asarray(items[i]) for i in arrays]), axis=-1).astype(np.int64)
        return b.node("GatherND", [x, b.const(index)])
    if len(arrays) > 1 or arrays and any(isinstance(it, (int, np.integer)) or it is None for it in items):
        raise ValueError(f"getitem: index {index!r} (several index arrays, or arrays mixed with ints or None) "
                         "has no ONNX form here; use take or gather")
    if Ellipsis in [it for it in items if not hasattr(it, "ndim")]:
        at = next(i for i, it in enumerate(items) if it is Ellipsis)
        used = sum(1 for it in items if it is not None and it is not Ellipsis)
        items[at:at + 1] = [slice(None)] * (ndim - used)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_pos = 0
    gather = None
    for item in items:
        if item is None:
            unsqueeze.append(out_pos)
            out_pos += 1
            continue
        if isinstance(item, slice):
            step = 1 if item.step is None else int(item.step)
            start = item.start if item.start is not None else (0 if step > 0 else INT64_MAX)
            stop = item.stop if item.stop is not None else (INT64_MAX if step > 0 else INT64_MIN)
            if step < 0 and shape[axis] is not None:  # ONNX clamps a backward start before the first element
                start, stop, step = item.indices(shape[axis])  # to it; Python's rules make the slice empty
                if not range(start, stop, step):
                    start, stop, step = 0, 0, 1
                elif stop < 0:  # (down to the first element)
                    stop = INT64_MIN
            if (start, stop, step) != (0, INT64_MAX, 1):
                starts.append(int(start))
                ends.append(int(stop))
                axes.append(axis)
                steps.append(step)
            out_pos += 1
        elif hasattr(item, "ndim") and not np.isscalar(item):
            gather = (out_pos, np.asarray(item).astype(np.int64))
            out_pos += 1
        else:
            i = int(item)
            starts.append(i)
            ends.append(i + 1 if i != -1 else INT64_MAX)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        axis += 1
    y = x
    if axes:
        y = b.node("Slice", [y, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)])
    if squeeze:
        y = b.node("Squeeze", [y, b.ints(squeeze)])
    if gather is not None:
        y = b.node("Gather", [y, b.const(gather[1])], axis=gather[0])
    if unsqueeze:
        y = b.node("Unsqueeze", [y, b.ints(unsqueeze)])
    return y if y != x else b.node("Identity", [x])


# --- losses ------------------------------------------------------------------------------------------------


@_rule(SOFTMAX_CROSS_ENTROPY)
def _softmax_cross_entropy(b, logits, labels, *, axis, total):
    terms = b.node("Mul", [b.node("LogSoftmax", [logits], axis=axis), labels])
    return b.node("Neg", [b.reduce("ReduceSum", terms, None if total else axis, False)])


@_rule(SPARSE_XENT)
def _sparse_xent(b, logits, target, *, ignore_index, reduction):
    """ONNX's SoftmaxCrossEntropyLoss; float16 / bfloat16 logits through float32, rounded once as the forward."""
    dtype = b.spec(logits).dtype
    if b.spec(target).dtype != np.int64:
        target = b.node("Cast", [target], to=b.dtype(np.int64))
    wide = dtype in LOW_PRECISION
    if wide:
        logits = b.node("Cast", [logits], to=b.dtype(np.float32))
    loss = b.node("SoftmaxCrossEntropyLoss", [logits, target], reduction=reduction, ignore_index=int(ignore_index))
    return b.node("Cast", [loss], to=b.dtype(dtype)) if wide else loss


@_rule(BINARY_CROSS_ENTROPY)
def _binary_cross_entropy(b, x, t):
    """(t - 1) max(log(1 - x), -100) - t max(log(x), -100), as the forward (ONNX has no range check)."""
    dtype = b.spec(x).dtype
    one, floor = b.const(1, dtype), b.const(-100, dtype)
    log_p = b.node("Max", [b.node("Log", [x]), floor])
    log_q = b.node("Max", [b.node("Log", [b.node("Sub", [one, x])]), floor])
    return b.node("Sub", [b.node("Mul", [b.node("Sub", [t, one]), log_q]), b.node("Mul", [t, log_p])])


@_rule(NLL_WEIGHTS)
def _nll_weights(b, target, weight=None, *, num_classes, ignore_index, normalize, dtype, negate=True):
    """The (samples, classes, ...) matrix of per-sample weights at each target's class, as the forward."""
    valid = b.node("Not", [b.node("Equal", [target, b.const(ignore_index, b.spec(target).dtype)])])
    safe = b.node("Where", [valid, target, b.const(0, b.spec(target).dtype)])
    w = b.node("Cast", [valid], to=b.dtype(dtype))
    if weight is not None:
        w = b.node("Mul", [w, b.node("Gather", [weight, safe], axis=0)])
    if normalize:
        w = b.node("Div", [w, b.reduce("ReduceSum", w, None, False)])
    if negate:
        w = b.node("Neg", [w])
    # the one-hot rows as an Equal with the class numbers (onnxruntime's OneHot has no float64 values)
    rank = len(b.spec(target).shape)
    classes = b.const(np.arange(num_classes, dtype=b.spec(target).dtype).reshape((1, -1) + (1,) * (rank - 1)))
    hot = b.node("Cast", [b.node("Equal", [b.node("Unsqueeze", [safe, b.ints([1])]), classes])], to=b.dtype(dtype))
    return b.node("Mul", [hot, b.node("Unsqueeze", [w, b.ints([1])])])


# --- sampling ----------------------------------------------------------------------------------------------


@_rule(GRID_SAMPLE)
def _grid_sample(b, x, grid, *, mode, padding_mode, align_corners, derivative):
    dims = len(b.spec(x).shape) - 2
    if any(derivative):
        raise ValueError(f"grid_sample: a derivative of the sampling (orders {derivative}, from a backward) has no "
                         "ONNX form")
    if b.opset < 16 or dims == 3 and b.opset < 20:
        raise ValueError(f"grid_sample: {dims + 2}-D input needs ONNX opset {16 if dims == 2 else 20} or later "
                         f"(GridSample), got {b.opset}")
    if b.opset >= 20:  # opset 20 renamed the modes for N-D input
        mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    return b.node("GridSample", [x, grid], mode=mode, padding_mode=padding_mode, align_corners=int(align_corners))
# --- recurrent layers -----------------------------------------------------------------------------------


@_rule(RECURRENT)
def _recurrent(b, x, w, r, bias, *state, mode, direction, linear_before_reset):
    """ONNX's RNN, LSTM or GRU node (no sequence_lens), its final states put after Y along time as the op does."""
    dirs, hidden = b.spec(w).shape[0], b.spec(r).shape[2]
    attrs = {"hidden_size": hidden, "direction": direction}
    if mode == "RNN_RELU":
        attrs["activations"] = ["Relu"] * dirs
    if mode == "GRU":
        attrs["linear_before_reset"] = linear_before_reset
    op_type = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
    inputs = [x, w, r, bias] + (["", *state] if state else [])  # "": no sequence_lens
    outputs = b.node(op_type, inputs, outputs=3 if mode == "LSTM" else 2, **attrs)
    finals = [b.node("Unsqueeze", [name, b.ints([0])]) for name in outputs[1:]]
    return b.node("Concat", [outputs[0], *finals], axis=0)

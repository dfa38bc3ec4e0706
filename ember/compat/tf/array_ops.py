"""TF-1's math, shape, indexing and random functions, each a recipe over Ember ops (control flow is in
``control_flow_ops``).

Elementwise and reduction names map to Ember ops through the tables ``UNARY``, ``BINARY`` and
``REDUCTIONS``; the rest are small functions.
"""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember.compat.tf._core import (
    Tensor,
    as_operand,
    as_tf,
    as_tf_dtype,
    bfloat16,
    constant,
    constant_dtype,
    float32,
    get_default_graph,
    int32,
    int64,
    op,
    op_seeds,
    outputs,
    size_recipe,
    truediv,
)
from ember.compat.tf.clip_ops import on_values
from ember.compat.tf.host_ops import py_func
from ember.ops.effects import random_draw, random_sample
from ember.ops.indexing import table_rows
from ember.ops.registry import ShapeError
from ember.ops.sized import size_along, sourced


def _logical_xor(a, b):
    return ember.ne(a, b)


def _div(a, b):
    """``tf.div``: Python 2's division, floor division for two integer tensors."""
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return ember.floor_divide(a, b)
    return ember.div(a, b)


def _extremum(keeps_x):
    """TF-1's Maximum or Minimum: the values of Ember's (NaN from either side), but a tie's whole gradient goes
    to x, as TF's ``x >= y`` (``x <= y``) mask sends it (Ember's, as PyTorch's, splits it in two)."""
    def extremum(a, b):
        keep = keeps_x(a, b)
        if a.dtype.kind in "fc":
            keep = keep | ember.isnan(a)
        return ember.where(keep, a, b)

    return extremum


def _squared_difference(a, b):
    d = a - b
    return d * d


def _mean(x, axis=None, keepdims=False):
    """``tf.reduce_mean``: of integers, the sum divided by the count rounded toward zero, in their dtype."""
    if x.dtype.kind not in "iu":
        return ember.mean(x, axis=axis, keepdims=keepdims)
    total = ember.sum(x, axis=axis, keepdims=keepdims)
    sizes = x.shape if axis is None else [x.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,))]
    if None in sizes:  # counted when the Session runs
        count = ember.sum(ember.cast(ember.eq(x, x), total.dtype), axis=axis, keepdims=keepdims)
    else:
        count = int(np.prod(sizes, dtype=np.int64))
    return ember.cast(ember.sign(total) * ember.floor_divide(ember.abs(total), count), x.dtype)


def _in_dtype(fn):
    """The sum or product ``fn`` in its integer input's own dtype, as TF's (Ember's, as PyTorch's, widen to
    int64)."""
    def reduce(x, axis=None, keepdims=False):
        return fn(x, axis=axis, keepdims=keepdims, dtype=x.dtype if x.dtype.kind in "iu" else None)

    return reduce


def _empty_gives(fn, identity):
    """The reduction ``fn``, where the reduced axes hold no element ``identity(dtype)``, as TF's kernels fill
    an empty reduction with the reducer's identity (Ember's max and min raise: they have none)."""
    def reduce(x, axis=None, keepdims=False):
        axes = range(x.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
        if all(x.shape[a] != 0 for a in axes):
            return fn(x, axis=axis, keepdims=keepdims)
        return ember.full_like(ember.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype), identity(x.dtype))

    return reduce


def _limits(dtype):
    return np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)


UNARY = {
    "abs": ember.abs, "ceil": ember.ceil, "cos": ember.cos, "erf": ember.erf,
    "exp": ember.exp, "floor": ember.floor, "identity": lambda x: x, "log": ember.log,
    "log1p": ember.log1p, "logical_not": ember.invert, "negative": ember.neg,
    "reciprocal": lambda x: 1.0 / x, "rsqrt": lambda x: 1.0 / ember.sqrt(x),
    "sigmoid": ember.sigmoid, "sign": ember.sign, "sin": ember.sin, "sqrt": ember.sqrt, "square": lambda x: x * x,
    "tanh": ember.tanh,
}
BINARY = {
    "add": ember.add, "subtract": ember.sub, "multiply": ember.mul, "divide": truediv, "div": _div,
    "truediv": truediv, "realdiv": ember.div, "floordiv": ember.floor_divide, "mod": ember.remainder,
    "pow": ember.power, "maximum": _extremum(ember.ge), "minimum": _extremum(ember.le), "equal": ember.eq,
    "not_equal": ember.ne, "greater": ember.gt, "greater_equal": ember.ge, "less": ember.lt,
    "less_equal": ember.le, "logical_and": ember.bitwise_and, "logical_or": ember.bitwise_or,
    "logical_xor": _logical_xor, "squared_difference": _squared_difference,
}
REDUCTIONS = {
    "reduce_sum": _in_dtype(ember.sum), "reduce_mean": _mean,
    # an empty max (min) is the dtype's lowest (highest) value: -3.4e38 for float32, as TF's, not -inf
    "reduce_max": _empty_gives(ember.max, lambda dtype: _limits(dtype).min),
    "reduce_min": _empty_gives(ember.min, lambda dtype: _limits(dtype).max),
    "reduce_prod": _in_dtype(ember.prod), "reduce_any": ember.any, "reduce_all": ember.all,
    "reduce_logsumexp": _empty_gives(ember.logsumexp, lambda dtype: -np.inf),
    # TF's are the population statistics (over n, not n - 1)
    "reduce_std": lambda x, axis, keepdims: ember.std(x, axis=axis, keepdims=keepdims, ddof=0),
    "reduce_variance": lambda x, axis, keepdims: ember.var(x, axis=axis, keepdims=keepdims, ddof=0),
}
ALIASES = {"mul": "multiply", "sub": "subtract", "neg": "negative", "abs": "abs"}
# The names TF-1 gives these functions' ops by default (their op types, mostly): tf.add(x, y).name == "Add:0".
OP_NAMES = {
    "negative": "Neg", "subtract": "Sub", "multiply": "Mul", "divide": "truediv", "div": "div", "truediv": "truediv",
    "realdiv": "RealDiv", "floordiv": "floordiv", "mod": "FloorMod", "reduce_logsumexp": "ReduceLogSumExp",
}


def op_name(tf_name: str) -> str:
    """The default op name of ``tf.<tf_name>``: ``OP_NAMES``' entry, else the name in CamelCase, a reduction's
    without its prefix ("is_nan" -> "IsNan", "reduce_sum" -> "Sum")."""
    found = OP_NAMES.get(tf_name)
    if found is not None:
        return found
    return "".join(part.capitalize() for part in tf_name.removeprefix("reduce_").split("_"))


# TF-1's op types of the functions whose gradient TF-1 registers as None (_core.NOT_DIFFERENTIABLE)
UNGRADED_TYPES = {"floor": "Floor", "ceil": "Ceil", "round": "Round", "floordiv": "FloorDiv"}


def unary_function(tf_name: str, fn):
    """``tf.<tf_name>``: the elementwise ``fn`` as a recipe."""
    default = op_name(tf_name)
    kind = UNGRADED_TYPES.get(tf_name)

    def unary(x, name: str | None = None) -> Tensor:
        return op(fn, (as_tf(x),), name=name or default, kind=kind)

    unary.__name__ = tf_name
    unary.__doc__ = f"Elementwise ``tf.{tf_name}``."
    return unary


def _binary(tf_name: str, fn):
    default = op_name(tf_name)
    kind = UNGRADED_TYPES.get(tf_name)

    def binary(x, y, name: str | None = None) -> Tensor:
        if isinstance(x, Tensor):  # a Python operand takes the tensor's dtype, in its graph
            y = as_operand(y, x)
        elif isinstance(y, Tensor):
            x = as_operand(x, y)
        return op(fn, (as_tf(x), as_tf(y)), name=name or default, kind=kind)

    binary.__name__ = tf_name
    binary.__doc__ = f"Elementwise ``tf.{tf_name}`` with broadcasting."
    return binary


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _reduction(tf_name: str, fn):
    default = op_name(tf_name)

    def reduction(input_tensor, axis=None, keepdims=None, name: str | None = None, reduction_indices=None,
                  keep_dims=None) -> Tensor:
        axis = _axis(reduction_indices if axis is None else axis)
        keep = builtins.bool(keepdims or keep_dims)
        return op(lambda x: fn(x, axis=axis, keepdims=keep), (as_tf(input_tensor),), name=name or default)

    reduction.__name__ = tf_name
    reduction.__doc__ = f"``tf.{tf_name}`` over ``axis`` (all axes when None)."
    return reduction


FUNCTIONS = {
    **{name: unary_function(name, fn) for name, fn in UNARY.items()},
    **{name: _binary(name, fn) for name, fn in BINARY.items()},
    **{name: _reduction(name, fn) for name, fn in REDUCTIONS.items()},
}
FUNCTIONS.update({alias: FUNCTIONS[target] for alias, target in ALIASES.items()})


def stop_gradient(input, name: str | None = None) -> Tensor:
    """``input``'s value, with no gradient through it: ``tf.gradients`` gives None for what only it reads."""
    return op(ember.stop_gradient, (as_tf(input),), name=name or "StopGradient", kind="StopGradient")


FUNCTIONS["stop_gradient"] = stop_gradient


def count_nonzero(input_tensor=None, axis=None, keepdims=None, dtype=int64, name: str | None = None,
                  reduction_indices=None, keep_dims=None, input=None) -> Tensor:
    """The number of nonzero elements over ``axis`` (all when None), with TF-1's older argument names
    (``reduction_indices``, ``keep_dims``, ``input``) too."""
    axis = _axis(reduction_indices if axis is None else axis)
    keep = builtins.bool(keepdims or keep_dims)
    source = input if input_tensor is None else input_tensor
    if source is None:
        raise TypeError("tf.count_nonzero: pass the tensor to count (input_tensor)")
    return op(lambda x: ember.cast(ember.sum(ember.cast(ember.ne(x, 0), "int64"), axis=axis, keepdims=keep), dtype),
              (as_tf(source),), name=name or "count_nonzero")


def _arg(fn, default_name):
    def arg(input, axis=None, name: str | None = None, dimension=None, output_type=int64) -> Tensor:
        axis = dimension if axis is None else axis
        axis = 0 if axis is None else int(axis)
        return op(lambda x: ember.cast(fn(x, axis=axis), output_type), (as_tf(input),), name=name or default_name)

    arg.__name__ = default_name
    arg.__doc__ = f"Index of the {'largest' if fn is ember.argmax else 'smallest'} value along ``axis`` (0 when None)."
    return arg


argmax = arg_max = _arg(ember.argmax, "argmax")
argmin = arg_min = _arg(ember.argmin, "argmin")


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = False,
           adjoint_b: bool = False, a_is_sparse: bool = False, b_is_sparse: bool = False,
           name: str | None = None) -> Tensor:
    """Matrix product, optionally of transposed or adjoint (conjugate-transposed) operands (both of rank 2 or
    more, as TF-1 asks); ``a_is_sparse`` and ``b_is_sparse`` are only hints, as in TF-1."""
    if transpose_a and adjoint_a or transpose_b and adjoint_b:
        raise ValueError("tf.matmul: only one of transpose_a and adjoint_a (transpose_b and adjoint_b) can be True")
    a, b = as_tf(a), as_tf(b)
    for side, t in (("a", a), ("b", b)):
        if t.shape is not None and len(t.shape) < 2:
            raise ValueError(f"tf.matmul: {side} must have rank 2 or more, got '{t.name}' of shape {list(t.shape)} "
                             f"(for a vector, tf.expand_dims it or use tf.tensordot)")

    def side(x, transpose: bool, adjoint: bool):
        if adjoint and x.dtype.kind == "c":
            x = ember.conj(x)
        return ember.swapaxes(x, -1, -2) if transpose or adjoint else x

    def fn(x, y):
        return ember.matmul(side(x, transpose_a, adjoint_a), side(y, transpose_b, adjoint_b))

    return op(fn, (a, b), name=name or "MatMul")


def tensordot(a, b, axes, name: str | None = None) -> Tensor:
    """``tf.tensordot``: contract the last ``axes`` axes of a with the first of b, or the two lists of axes."""
    if not isinstance(axes, int):
        pair = [list(side) if isinstance(side, (list, tuple)) else [side] for side in axes]
        return op(lambda x, y: ember.tensordot(x, y, dims=pair), (as_tf(a), as_tf(b)), name=name or "Tensordot")

    def fn(x, y):
        # (an unknown size read from x or y when the graph runs: None would be the product's own, the rows of all
        # of lead together)
        lead = tuple(size_along(x, a) for a in range(x.ndim - axes))
        tail = tuple(size_along(y, a) for a in range(axes, y.ndim))
        k = int(np.prod(y.shape[:axes]))
        out = ember.matmul(ember.reshape(x, (-1, k)), ember.reshape(y, (k, -1)))
        return ember.reshape(out, lead + tail)

    return op(fn, (as_tf(a), as_tf(b)), name=name or "Tensordot")


def einsum(equation: str, *inputs, name: str | None = None) -> Tensor:
    """``tf.einsum``: Einstein summation over the inputs (ellipses broadcast, as in NumPy)."""
    graph = next((t.graph for t in inputs if isinstance(t, Tensor)), None)
    return op(lambda *xs: ember.einsum(equation, *xs), tuple(as_tf(x, graph) for x in inputs),
              name=name or "Einsum")


def _static_shape(shape) -> tuple:
    if isinstance(shape, Tensor):
        raise TypeError(f"a shape given as tf.Tensor '{shape.name}' is not supported; pass a list of ints")
    return tuple(-1 if d is None else int(d) for d in shape)


def run_time_dims(what: str, shape) -> tuple:
    """(source tensors, resolve) for a shape with parts known only when the Session runs: ``tf.shape(t)``, a
    list holding ``tf.shape(t)[i]``, or integer tensors computed from other values (a 1-D one for the whole
    shape, scalars in the list); ``resolve(*source values)`` gives the ints."""
    if isinstance(shape, Tensor) and shape.kind == "Shape":
        return [shape.source], lambda value: tuple(size_along(value, axis) for axis in range(value.ndim))
    if isinstance(shape, Tensor):
        _check_size_tensor(what, shape, 1)
        return [_sized_by(what, shape)], lambda value: tuple(n - 1 for n in value.shape[:-1])
    sources, getters = [], []
    for d in shape:
        recipe = size_recipe(d) if isinstance(d, Tensor) else None
        if recipe is not None:  # tf.shape(t)[i], or int arithmetic of such (tf.shape(t)[1] * 2)
            # (an unknown size, read from its value when the graph runs: a value's shape there, None, would
            # stand for the reshaped value's own size at that place)
            start = len(sources)
            sources.extend(recipe[0])
            getters.append(lambda values, k=start, n=len(recipe[0]), get=recipe[1]: get(*values[k:k + n]))
        elif isinstance(d, Tensor):
            _check_size_tensor(what, d, 0)
            sources.append(_sized_by(what, d))
            getters.append(lambda values, k=len(sources) - 1: values[k].shape[0] - 1)
        else:
            getters.append(lambda values, v=-1 if d is None else int(d): v)
    return sources, lambda *values: tuple(g(values) for g in getters)


def _check_size_tensor(what: str, t: Tensor, rank: int) -> None:
    if t.dtype is not None and t.dtype.kind not in "iu":
        raise TypeError(f"{what}: a size or shape must be an integer tensor, got '{t.name}' of dtype {t.dtype}")
    if t._shape is not None and len(t._shape) != rank:
        raise ValueError(f"{what}: a {'size' if rank == 0 else 'shape'} tensor must have rank {rank}, got "
                         f"'{t.name}' of shape {list(t._shape)}")


def _sized_by(what: str, t: Tensor) -> Tensor:
    """A host call giving an empty array whose shape carries the values of the integer tensor ``t``, each plus
    one (so -1 fits), then a 0: the graph sizes its values from shapes, never from the values it computes."""
    def empty(value):
        value = np.asarray(value).astype(np.int64)
        if (value < -1).any():
            raise ValueError(f"{what}: a size computed as {value.tolist()} is below -1")
        return np.zeros((*(value.reshape(-1) + 1).tolist(), 0), np.bool_)

    return py_func(empty, [t], np.bool_, name=f"{t.name.split(':')[0]}/sizes")


def run_time_static(shape) -> tuple | None:
    """The static shape of a shape that ``run_time_dims`` reads: its ints, None for a size known only when the
    Session runs (``tf.shape(t)``: ``t``'s static shape)."""
    if isinstance(shape, Tensor) and shape.kind == "Shape":
        return shape.source._shape
    if isinstance(shape, Tensor):  # a shape computed when the Session runs: only its length may be known
        return None if shape._shape is None or shape._shape[0] is None else (None,) * shape._shape[0]
    return tuple(None if d is None or isinstance(d, Tensor) else int(d) for d in shape)


def reshape(tensor, shape, name: str | None = None) -> Tensor:
    """The same elements in ``shape`` (one -1 allowed; ``tf.shape(t)`` and ``tf.shape(t)[i]`` too)."""
    sources, resolve = run_time_dims("tf.reshape", shape)
    return op(lambda x, *values: ember.reshape(x, resolve(*values)), (as_tf(tensor), *sources),
              name=name or "Reshape")


def transpose(a, perm=None, name: str | None = None) -> Tensor:
    """Permute the axes (reverse them when ``perm`` is None)."""
    return op(lambda x: ember.transpose(x, perm), (as_tf(a),), name=name or "transpose")


def expand_dims(input, axis=None, name: str | None = None, dim=None) -> Tensor:
    """``input`` with a new axis of size 1 at ``axis`` (in [-rank - 1, rank])."""
    axis = int(dim if axis is None else axis)
    input = as_tf(input)
    if input.shape is not None and not -len(input.shape) - 1 <= axis <= len(input.shape):
        raise ValueError(f"tf.expand_dims: axis {axis} is out of [{-len(input.shape) - 1}, {len(input.shape)}] "
                         f"for '{input.name}' of shape {list(input.shape)}")
    return op(lambda x: ember.unsqueeze(x, axis), (input,), name=name or "ExpandDims")


def squeeze(input, axis=None, name: str | None = None, squeeze_dims=None) -> Tensor:
    """``input`` without its size-1 axes, or only those of ``axis`` (each must have size 1, as TF-1 asks)."""
    axis = _axis(squeeze_dims if axis is None else axis)
    input = as_tf(input)

    def fn(x):
        for a in (axis,) if isinstance(axis, int) else axis or ():
            if isinstance(x.shape[a], int) and x.shape[a] != 1:
                raise ValueError(f"tf.squeeze: cannot squeeze axis {a} of size {x.shape[a]} (input shape "
                                 f"{list(x.shape)})")
        return ember.squeeze(x, axis)

    return op(fn, (input,), name=name or "Squeeze")


def _same_ranks(shapes: list) -> None:
    """TF's refusal of inputs of different ranks (ember.concat, as PyTorch's cat, lets a 1-D empty one join any)."""
    if len({len(s) for s in shapes if s is not None}) > 1:
        raise ValueError(f"tf.concat: ranks of all inputs must match, got shapes "
                         f"{[None if s is None else list(s) for s in shapes]}")


def concat(values, axis, name: str = "concat") -> Tensor:
    """Join tensors along an existing axis."""
    values = [as_tf(v) for v in values]
    _same_ranks([None if v.shape is None else tuple(v.shape) for v in values])

    def fn(*xs):
        _same_ranks([tuple(x.shape) for x in xs])
        return ember.concat(list(xs), axis=axis)

    return op(fn, tuple(values), name=name)


def stack(values, axis: int = 0, name: str = "stack") -> Tensor:
    """Join tensors of one shape along a new axis."""
    values = [as_tf(v) for v in values]
    return op(lambda *xs: ember.stack(list(xs), axis=axis), tuple(values), name=name)


pack = stack


def unstack(value, num=None, axis: int = 0, name: str = "unstack") -> list:
    """The slices of ``value`` along ``axis``, as a list (its length must be known or given as ``num``)."""
    value = as_tf(value)
    length = num
    if length is None:
        if value.shape is None or value.shape[axis] is None:
            raise ValueError(f"unstack: cannot infer num from shape {value.shape}; pass num=")
        length = value.shape[axis]
    return outputs([lambda x, i=i: ember.squeeze(ember.split(x, 1, axis=axis)[i], axis) for i in range(int(length))],
                   (value,), name)


unpack = unstack


def split(value, num_or_size_splits, axis: int = 0, num=None, name: str = "split") -> list:
    """TF's split: an int is the number of equal parts (not the part size, as in PyTorch); a list, the sizes,
    one of which may be -1 (what the others leave)."""
    value = as_tf(value)
    if isinstance(num_or_size_splits, (int, np.integer)):
        parts = int(num_or_size_splits)
        sizes = None
    else:
        sizes = [int(s) for s in num_or_size_splits]
        parts = len(sizes)
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise ValueError(f"tf.split: size_splits {sizes} may hold one -1 and sizes >= 0 otherwise")

    def part(x, i):
        if sizes is None and isinstance(x.shape[axis], int) and x.shape[axis] % parts:
            raise ValueError(f"tf.split: axis {axis} of length {x.shape[axis]} does not split into {parts} equal "
                             f"parts (input shape {list(x.shape)})")
        if sizes is None:
            pieces = ember.chunk(x, parts, axis=axis)
        else:
            known = sum(s for s in sizes if s != -1)
            rest = x.shape[axis] - known
            if (-1 in sizes and rest < 0) or (-1 not in sizes and rest != 0):
                raise ValueError(f"tf.split: size_splits {sizes} do not fit axis {axis} of length {x.shape[axis]}")
            pieces = ember.split(x, [rest if s == -1 else s for s in sizes], axis=axis)
        if len(pieces) != parts:
            raise ValueError(f"split: axis {axis} of length {x.shape[axis]} does not split into {parts} equal parts")
        return pieces[i]

    return outputs([lambda x, i=i: part(x, i) for i in range(parts)], (value,), name)


def tile(input, multiples, name: str | None = None) -> Tensor:
    """``input`` repeated ``multiples[i]`` times along each axis i (one multiple per axis; ``tf.shape(t)[i]``
    too, a batch size known when the Session runs)."""
    sources, resolve = run_time_dims("tf.tile", multiples)
    static = run_time_static(multiples)  # (None: a multiple known when the Session runs)
    input = as_tf(input)
    if input.shape is not None and static is not None and len(static) != len(input.shape):
        raise ValueError(f"tf.tile: multiples {list(static)} need one entry per axis of '{input.name}' of shape "
                         f"{list(input.shape)}")
    if not sources:
        return op(lambda x: ember.tile(x, static), (input,), name=name or "Tile")
    result = op(lambda x, *values: ember.tile(x, resolve(*values)), (input, *sources), name=name or "Tile")
    if input._shape is not None and static is not None:
        result._shape = tuple(None if m is None or d is None else d * m for d, m in zip(input._shape, static))
    return result


def pad(tensor, paddings, mode: str = "CONSTANT", name: str | None = None, constant_values=0) -> Tensor:
    """``tensor`` padded by ``paddings[i] = [before, after]`` along each axis i: with ``constant_values``
    (CONSTANT), or mirrored at the edges, the edge row not repeated (REFLECT) or repeated (SYMMETRIC)."""
    mode = str(mode).upper()
    if mode not in ("CONSTANT", "REFLECT", "SYMMETRIC"):
        raise ValueError(f"tf.pad: mode must be 'CONSTANT', 'REFLECT' or 'SYMMETRIC', got {mode!r}")
    paddings = tuple(tuple(int(p) for p in pair) for pair in paddings)
    if mode == "CONSTANT":
        return op(lambda x: ember.pad(x, paddings, float(constant_values)), (as_tf(tensor),), name=name or "Pad")
    return op(lambda x: _mirrored(x, paddings, 1 if mode == "REFLECT" else 0, mode), (as_tf(tensor),),
              name=name or "MirrorPad")


def _mirrored(x, paddings: tuple, edge: int, mode: str):
    """``x`` with each axis extended by the mirror images of its ends (``edge`` rows at each end left out)."""
    if len(paddings) != x.ndim:
        raise ValueError(f"tf.pad: paddings {[list(p) for p in paddings]} need one pair per axis of shape "
                         f"{list(x.shape)}")
    for axis, (before, after) in enumerate(paddings):
        n = x.shape[axis]
        if min(before, after) < 0 or max(before, after) > n - edge:
            raise ValueError(f"tf.pad: {mode} padding {[before, after]} of axis {axis} (length {n}) must lie in "
                             f"[0, {n - edge}]")
        lead = (slice(None),) * axis
        parts = [ember.flip(x[lead + (slice(edge, edge + before),)], (axis,))] if before else []
        parts.append(x)
        if after:
            parts.append(ember.flip(x[lead + (slice(n - edge - after, n - edge),)], (axis,)))
        x = ember.concat(parts, axis) if len(parts) > 1 else x
    return x


def shape(input, name: str | None = None, out_type=int32) -> Tensor:
    """The dynamic shape of ``input`` as a 1-D integer tensor (known when the Session runs)."""
    out_type = as_tf_dtype(out_type)
    source = as_tf(input)
    result = op(lambda x: ember.tensor(np.array(x.shape, out_type)), (source,), name=name or "Shape", kind="Shape")
    result.source = source  # (so that sizes taken from it can be read when the Session runs)
    return _typed(result, None if source._shape is None else (len(source._shape),), out_type)


def _typed(result: Tensor, shape: tuple | None, dtype) -> Tensor:
    """``result`` with its static shape and dtype set: a recipe that reads its input's sizes cannot be probed
    on unknown ones, and would otherwise report its input's dtype."""
    result._shape = shape
    result.dtype = np.dtype(dtype)
    return result


def size(input, name: str | None = None, out_type=int32) -> Tensor:
    """The number of elements of ``input`` as a scalar integer tensor."""
    out_type = as_tf_dtype(out_type)
    return _typed(op(lambda x: ember.tensor(np.array(int(np.prod(x.shape)), out_type)), (as_tf(input),),
                     name=name or "Size"), (), out_type)


def rank(input, name: str | None = None) -> Tensor:
    """The number of dimensions of ``input`` as a scalar int32 tensor."""
    return _typed(op(lambda x: ember.tensor(np.array(x.ndim, np.int32)), (as_tf(input),), name=name or "Rank"),
                  (), np.int32)


def range_(start, limit=None, delta=1, dtype=None, name: str = "range") -> Tensor:
    """``[start, start + delta, ...)`` below ``limit`` (``range(n)``: ``0..n-1``)."""
    if limit is None:
        start, limit = 0, start
    bounds = (start, limit, delta)
    if any(isinstance(v, Tensor) for v in bounds):  # sizes from tf.shape(t)[i], known when the Session runs
        sources, resolve = run_time_dims("tf.range", bounds)
        out = as_tf_dtype(dtype) if dtype is not None else int32

        def run(*values):
            sizes = resolve(*values)
            if sourced(sizes):  # a graph for every size: a range read from the size when it runs
                return ember.arange(*sizes, dtype=out)
            return ember.tensor(np.arange(*sizes).astype(out))

        return _typed(op(run, tuple(sources), name=name), (None,), out)
    values = np.arange(start, limit, delta)
    if dtype is None:  # the widest of the bounds' dtypes as tf.constant gives them (Python floats: float32)
        kinds = [np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.float32), np.dtype(np.float64)]
        dtype = builtins.max((constant_dtype(v) for v in bounds), key=lambda d: kinds.index(d) if d in kinds else 3)
    return constant(values.astype(as_tf_dtype(dtype)), name=name)


def gather(params, indices, validate_indices=None, name: str | None = None, axis=None, batch_dims: int = 0) -> Tensor:
    """Slices of ``params`` along ``axis`` (0 by default; a negative one counts from the end) at ``indices`` (of
    any shape), with TF-1's argument order (``validate_indices`` does nothing, as in TF-1). An index outside
    ``[0, params.shape[axis])``, a negative one included, is refused as TF-1's CPU kernel refuses it. Along axis 0
    of a variable (of any rank) the gradient is row-sparse, TF-1's ``IndexedSlices``, as
    ``tf.nn.embedding_lookup``'s: an optimizer updates only the rows gathered. With ``batch_dims`` b (negative:
    from the rank of ``indices``), the first b axes of ``params`` and ``indices`` are batch axes that pair up, and
    ``axis`` defaults to the first axis after them."""
    params, indices = as_tf(params), as_tf(indices)
    if indices.dtype is not None and indices.dtype.kind not in "iu":
        raise TypeError(f"tf.gather: indices must be int32 or int64, got '{indices.name}' of dtype {indices.dtype}")
    if batch_dims:
        return _gather_batched(params, indices, axis, batch_dims, name)
    axis = 0 if axis is None else int(axis)

    def fn(p, i):
        if not -p.ndim <= axis < p.ndim:
            raise ValueError(f"tf.gather: axis {axis} is out of range for params of shape {list(p.shape)}")
        a = axis % p.ndim
        # (embedding, unlike take, refuses a negative index rather than counting it from the end)
        if a == 0:
            return table_rows(i, p, sparse=True)
        moved = ember.moveaxis(p, a, 0) if a else p
        rest = tuple(moved.shape[1:])
        rows = ember.embedding(i, ember.reshape(moved, (moved.shape[0], int(np.prod(rest)))))
        rows = ember.reshape(rows, tuple(i.shape) + rest)
        return ember.moveaxis(rows, tuple(range(i.ndim)), tuple(range(a, a + i.ndim))) if a and i.ndim else rows

    return op(fn, (params, indices), name=name or "GatherV2")


def _gather_batched(params: Tensor, indices: Tensor, axis, batch_dims: int, name: str | None) -> Tensor:
    def fn(p, i):
        b = int(batch_dims) + i.ndim if batch_dims < 0 else int(batch_dims)
        at = b if axis is None else int(axis)
        if b < 0 or b > i.ndim or not b <= at % p.ndim:
            raise ValueError(f"tf.gather: batch_dims={b} must lie in [0, rank of indices {i.ndim}] and not pass "
                             f"axis={at} (params of shape {list(p.shape)})")
        at %= p.ndim
        if tuple(p.shape[:b]) != tuple(i.shape[:b]):
            raise ValueError(f"tf.gather: the first batch_dims={b} axes of params {list(p.shape)} and indices "
                             f"{list(i.shape)} must be equal")
        lead, rows = tuple(p.shape[:b]), int(np.prod(p.shape[:b], dtype=np.int64))
        middle, n, inner = tuple(p.shape[b:at]), p.shape[at], tuple(i.shape[b:])
        # the batch next to the gathered axis, merged with it; each batch's indices shifted to its own rows
        flat = ember.reshape(ember.moveaxis(ember.reshape(p, (rows,) + tuple(p.shape[b:])), 0, len(middle)),
                             middle + (rows * n,) + tuple(p.shape[at + 1:]))
        shift = ember.reshape(ember.arange(rows, dtype="int64") * n, (rows,) + (1,) * len(inner))
        picked = ember.take(flat, ember.reshape(ember.cast(i, "int64"), (rows,) + inner) + shift, axis=len(middle))
        return ember.reshape(ember.moveaxis(picked, len(middle), 0), lead + middle + inner + tuple(p.shape[at + 1:]))

    return op(fn, (params, indices), name=name or "GatherV2")


def one_hot(indices, depth: int, on_value=None, off_value=None, axis=None, dtype=None, name: str | None = None):
    """One-hot vectors of ``depth`` along ``axis`` (last when None or -1); an index outside [0, depth), such as
    -1, gives a row of ``off_value`` (TF-1's rule). Without ``dtype``, the type of ``on_value`` (or else
    ``off_value``) as ``tf.constant`` gives it, float32 when neither is given, as TF-1. The values may be
    tensors; each entry is exactly one of them."""
    given = on_value if on_value is not None else off_value
    if dtype is not None:
        dtype = as_tf_dtype(dtype)
    elif isinstance(given, Tensor):
        dtype = given.dtype
    else:
        dtype = float32 if given is None else constant_dtype(given)
    indices = as_tf(indices)
    if indices.dtype is not None and indices.dtype.kind not in "iu":
        raise TypeError(f"tf.one_hot: indices must be integers, got '{indices.name}' of dtype {indices.dtype}")
    values = []
    for what, value, default in (("on_value", on_value, 1), ("off_value", off_value, 0)):
        value = constant(default if value is None else value, dtype=dtype) if not isinstance(value, Tensor) else value
        if value.dtype is not None and value.dtype != dtype:
            raise TypeError(f"tf.one_hot: {what} '{value.name}' has dtype {value.dtype}, expected {dtype}")
        values.append(value)
    depth = int(depth)
    if depth < 0 or axis is not None and int(axis) < -1:
        raise ValueError(f"tf.one_hot: depth must be non-negative and axis -1 or more (TF-1 counts no other "
                         f"axis from the end), got depth={depth}, axis={axis}")

    def fn(i, on, off):
        hot = ember.eq(ember.unsqueeze(ember.cast(i, "int64"), -1), ember.arange(depth))
        if axis is not None and axis != -1:
            hot = ember.moveaxis(hot, -1, axis)
        return ember.where(hot, on, off)

    return op(fn, (indices, *values), name=name or "one_hot")


def where(condition, x=None, y=None, name: str | None = None) -> Tensor:
    """Elements of ``x`` where ``condition`` is true, of ``y`` elsewhere (``value_sized.where`` also takes the
    condition alone)."""
    if x is None or y is None:
        raise TypeError("tf.where: give both x and y, or neither (the coordinates of the true elements)")
    return op(_select, (as_tf(condition), as_tf(x), as_tf(y)), name=name or "Select")


def _select(c, a, b):
    """TF-1's Select: a 1-D condition picks whole rows (first-axis slices) of higher-rank x and y."""
    rank = builtins.max(a.ndim, b.ndim)
    if c.ndim == 1 and rank > 1:
        rows = a.shape[0] if a.ndim == rank else b.shape[0]
        if None not in (rows, c.shape[0]) and rows != c.shape[0]:
            raise ShapeError(f"tf.where: a 1-D condition of {c.shape[0]} elements picks rows of x and y, which have "
                             f"{rows} (x {list(a.shape)}, y {list(b.shape)})")
        c = ember.reshape(c, (-1,) + (1,) * (rank - 1))
    return ember.where(c, a, b)


def clip_by_value(t, clip_value_min, clip_value_max, name: str | None = None) -> Tensor:
    """``t`` limited to [clip_value_min, clip_value_max]: numbers, or tensors that broadcast to ``t``'s shape
    (not beyond it). As TF-1's ``maximum(minimum(t, max), min)``, a min above the max gives the min everywhere,
    and the gradient reaches a bound where it is the value."""
    t = as_tf(t)
    numbers = (int, float, np.integer, np.floating)
    if isinstance(clip_value_min, numbers) and isinstance(clip_value_max, numbers) \
            and clip_value_min <= clip_value_max:
        out = op(lambda x: ember.clip(x, clip_value_min, clip_value_max), (t,), name=name or "clip_by_value")
        out.on_slices = on_values(out.fn)  # (TF-1 clips an IndexedSlices' values: a lookup's gradient)
        return out

    def fn(x, low, high):
        below = ember.where(ember.lt(high, x), high, x)  # (NaN stays NaN, as TF's minimum and maximum keep it)
        out = ember.where(ember.lt(below, low), low, below)
        if tuple(out.shape) != tuple(x.shape):
            raise ValueError(f"tf.clip_by_value: the bounds of shapes {list(low.shape)} and {list(high.shape)} "
                             f"broadcast t of shape {list(x.shape)} to {list(out.shape)}")
        return out

    out = op(fn, (t, as_operand(clip_value_min, t), as_operand(clip_value_max, t)), name=name or "clip_by_value")
    out.on_slices = on_values(fn)
    return out


def _filled(value, shape, dtype, name) -> Tensor:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):  # TF-1 reads tf.ones(3) as [3]
        shape = (shape,)
    sources, resolve = run_time_dims(f"tf.{name}", shape)
    if not sources:
        return constant(np.full(resolve(), value, dtype), name=name)
    result = op(lambda *values: ember.full(resolve(*values), value, dtype=dtype), tuple(sources), name=name)
    return _typed(result, run_time_static(shape), dtype)


def zeros(shape, dtype=float32, name: str = "zeros") -> Tensor:
    """A tensor of zeros (``shape`` may be ``tf.shape(t)``)."""
    return _filled(0, shape, as_tf_dtype(dtype), name)


def ones(shape, dtype=float32, name: str = "ones") -> Tensor:
    """A tensor of ones (``shape`` may be ``tf.shape(t)``)."""
    return _filled(1, shape, as_tf_dtype(dtype), name)


def fill(dims, value, name: str = "Fill") -> Tensor:
    """A ``dims``-shaped tensor of ``value``, typed as ``tf.constant(value)`` (a Python int: int32); ``dims``
    may be ``tf.shape(t)`` or hold ``tf.shape(t)[i]``; ``value`` may be a scalar tf.Tensor (its gradient is the sum
    of the result's)."""
    if isinstance(value, Tensor):
        return _filled_with_tensor(dims, value, name)
    if isinstance(dims, Tensor) or any(isinstance(d, Tensor) for d in dims):
        return _filled(value, dims, constant_dtype(value), name)
    return constant(value, shape=_static_shape(dims), name=name)


def _filled_with_tensor(dims, value: Tensor, name: str) -> Tensor:
    if value.shape is not None and len(value.shape) != 0:
        raise ValueError(f"tf.fill: value must be a scalar, got '{value.name}' of shape {list(value.shape)}")
    sources, resolve = run_time_dims("tf.fill", dims)

    def run(v, *values):
        if v.ndim != 0:  # (a fed value of unknown shape)
            raise ValueError(f"tf.fill: value must be a scalar, got shape {list(v.shape)}")
        return ember.broadcast_to(v, resolve(*values))

    return _typed(op(run, (value, *sources), name=name), run_time_static(dims), value.dtype)


def zeros_like(tensor, dtype=None, name: str = "zeros_like") -> Tensor:
    """Zeros of ``tensor``'s (run-time) shape, in its dtype or ``dtype`` (zeros where it holds inf or NaN too)."""
    dtype = as_tf_dtype(dtype) if dtype is not None else None
    return op(lambda x: ember.zeros_like(x, dtype=dtype or x.dtype), (as_tf(tensor),), name=name)


def ones_like(tensor, dtype=None, name: str = "ones_like") -> Tensor:
    """Ones of ``tensor``'s (run-time) shape, in its dtype or ``dtype``."""
    dtype = as_tf_dtype(dtype) if dtype is not None else None
    return op(lambda x: ember.ones_like(x, dtype=dtype or x.dtype), (as_tf(tensor),), name=name)


def _draw(kind: str, shape, dtype, a: float = 0.0, b: float = 1.0, state=None):
    """Fresh samples on every run, from Ember's generator or ``state`` (inside a recipe being replayed)."""
    return random_draw(kind, shape, dtype, a, b, state)


# the kinds of the random ops (a Session hands a seeded one its own generator), candidate samplers' among them
RANDOM_TYPES = {"normal": "RandomStandardNormal", "truncated_normal": "TruncatedNormal", "uniform": "RandomUniform",
                "candidates": "CandidateSampler", "shuffle": "RandomShuffle", "multinomial": "Multinomial",
                "gamma": "RandomGamma", "poisson": "RandomPoissonV2"}


def _random(kind, shape, a, b, dtype, name, seed) -> Tensor:
    """Samples; a tf.Tensor ``a`` (mean, minval) or ``b`` (stddev, maxval) scales standard samples drawn by an op
    of their own, as TF-1 builds it (``rnd * stddev + mean``), and the shape may be ``tf.shape(t)`` (or hold
    ``tf.shape(t)[i]``). Seeded (``op_seeds``), the op draws from a generator of its own that each Session starts
    afresh, as TF-1's; the Session hands it as ``state``. Integers (uniform only) are the floors of float64 samples
    in [a, b)."""
    dtype = as_tf_dtype(dtype)
    integer = dtype.kind in "iu"
    if integer and kind != "uniform" or dtype.kind not in "iuf":
        raise TypeError(f"tf.{name}: dtype {dtype} is not supported (a float dtype"
                        f"{', or an integer one for uniform samples' if kind == 'uniform' else ''})")
    drawn = np.dtype(np.float64) if integer else dtype
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        # the standard draw is an op without float inputs: a Session can draw it once for a step's host calls
        # and its graph (a value-sized op of the samples), and the gradients reach mean and stddev through the rest
        outer = get_default_graph().unique_name(name)
        unit = _random(kind, shape, 0.0, 1.0, drawn, f"{outer}/{RANDOM_TYPES[kind]}", seed)

        def scaled(draw, first, second):
            out = first + (second - first) * draw if kind == "uniform" else first + second * draw
            return ember.cast(ember.floor(out), dtype) if integer else out

        return op(scaled, (unit, as_tf(a), as_tf(b)), name=f"{outer}/")
    seeds = op_seeds(seed)
    sources, resolve = run_time_dims(f"tf.{name}", shape)
    n = len(sources)

    def fn(*values, state=None):
        out = _draw(kind, resolve(*values[:n]), drawn, float(a), float(b), state)
        return ember.cast(ember.floor(out), dtype) if integer else out

    if not sources:
        t = Tensor(lambda state=None: fn(state=state), name=name, shape=resolve(), dtype=dtype,
                   kind=RANDOM_TYPES[kind])
    else:
        t = op(fn, sources, name=name, kind=RANDOM_TYPES[kind])
        _typed(t, run_time_static(shape), dtype)
    t.seeds = seeds
    return t


def random_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name: str = "random_normal") -> Tensor:
    """Normal samples, fresh on every run (``mean`` and ``stddev`` may be tf Tensors)."""
    return _random("normal", shape, mean, stddev, dtype, name, seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name: str = "truncated_normal") -> Tensor:
    """Normal samples redrawn beyond two standard deviations, fresh on every run."""
    return _random("truncated_normal", shape, mean, stddev, dtype, name, seed)


def random_uniform(shape, minval=0, maxval=None, dtype=float32, seed=None, name: str = "random_uniform") -> Tensor:
    """Uniform samples in [minval, maxval) (maxval 1 for floats; integers need it), fresh on every run."""
    if maxval is None:
        if as_tf_dtype(dtype).kind in "iu":
            raise ValueError(f"tf.random_uniform: maxval must be given for the integer dtype {as_tf_dtype(dtype)}")
        maxval = 1.0
    return _random("uniform", shape, minval, maxval, dtype, name, seed)


def _parameter(what: str, label: str, value, dtype) -> Tensor:
    """A distribution parameter as a tf Tensor of the float ``dtype`` (Python and NumPy data converted to it)."""
    if not isinstance(value, Tensor):
        return constant(np.asarray(value, dtype))
    if value.dtype is not None and value.dtype != dtype:
        raise TypeError(f"tf.{what}: {label} '{value.name}' has dtype {value.dtype}, expected {dtype}")
    return value


def _sampled(what: str, kind: str, shape, params: tuple, dtype, seed, name: str, draw) -> Tensor:
    """A random op drawing ``shape + broadcast(params).shape`` samples: ``draw(size, *param values, state)``."""
    seeds = op_seeds(seed)
    sources, resolve = run_time_dims(f"tf.{what}", shape)
    n = len(sources)

    def fn(*values, state=None):
        return draw(resolve(*values[:n]), *values[n:], state=state)

    t = op(fn, (*sources, *params), name=name, kind=RANDOM_TYPES[kind])
    static = run_time_static(shape)
    known = [p._shape for p in params]
    tail = None if None in known else np.broadcast_shapes(*known) if all(None not in k for k in known) else None
    _typed(t, None if static is None or tail is None else (*static, *tail), dtype)
    t.seeds = seeds
    return t


def random_gamma(shape, alpha, beta=None, dtype=float32, seed=None, name: str | None = None) -> Tensor:
    """Gamma samples of concentration ``alpha`` and rate ``beta`` (1 when None), of shape ``shape +
    broadcast(alpha, beta).shape``, fresh on every run (seeded as the other random ops); at least the dtype's
    smallest normal number, as TF-1's. ``tf.gradients`` flows to ``alpha`` by implicit reparameterization and to
    ``beta`` through the division."""
    dtype = as_tf_dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize < 2 or dtype == bfloat16:
        raise TypeError(f"tf.random_gamma: dtype must be float16, float32 or float64, got {dtype}")
    alpha = _parameter("random_gamma", "alpha", alpha, dtype)
    params = (alpha,) if beta is None else (alpha, _parameter("random_gamma", "beta", beta, dtype))
    tiny = float(np.finfo(dtype).tiny)

    def draw(size, a, *rest, state):
        if rest:
            a = ember.broadcast_to(a, np.broadcast_shapes(tuple(a.shape), tuple(rest[0].shape)))
        sample = random_sample("gamma", size, a, dtype, state)
        return ember.maximum(sample / rest[0], ember.tensor(tiny, dtype=dtype)) if rest else sample

    return _sampled("random_gamma", "gamma", shape, params, dtype, seed, name or "random_gamma", draw)


def random_poisson(lam, shape, dtype=float32, seed=None, name: str | None = None) -> Tensor:
    """Poisson counts of rate ``lam`` (a float tensor), of shape ``shape + lam.shape``, in ``dtype`` (a float or
    int32/int64), fresh on every run (seeded as the other random ops); NaN for a negative or NaN rate in a float
    dtype. No gradient (as TF-1's)."""
    dtype = as_tf_dtype(dtype)
    if not (dtype.kind == "f" and dtype.itemsize >= 2 and dtype != bfloat16 or dtype in (int32, int64)):
        raise TypeError(f"tf.random_poisson: dtype must be float16, float32, float64, int32 or int64, got {dtype}")
    lam = as_tf(lam) if isinstance(lam, Tensor) else constant(np.asarray(lam, np.float64 if dtype.kind != "f"
                                                                          else dtype))
    if lam.dtype is not None and (lam.dtype.kind != "f" or lam.dtype == bfloat16):
        raise TypeError(f"tf.random_poisson: lam '{lam.name}' must be float16, float32 or float64, got {lam.dtype}")

    def draw(size, rates, *, state):
        return random_sample("poisson", size, ember.stop_gradient(rates), dtype, state)

    return _sampled("random_poisson", "poisson", shape, (lam,), dtype, seed, name or "random_poisson", draw)


def random_shuffle(value, seed=None, name: str | None = None) -> Tensor:
    """``value`` with its first axis in a random order, fresh on every run; seeded as the other random ops
    (each Session repeats a seeded op's orders)."""
    value = as_tf(value)
    if value.shape is not None and not len(value.shape):
        raise ValueError(f"tf.random_shuffle: value must have rank 1 or more, got the scalar '{value.name}'")

    def fn(x, state=None):
        if x.ndim == 0:
            raise ValueError("tf.random_shuffle: value must have rank 1 or more, got a scalar")
        order = ember.argsort(_draw("uniform", (x.shape[0],), np.dtype(np.float64), 0.0, 1.0, state))
        return ember.take(x, order, axis=0)

    t = op(fn, (value,), name=name or "RandomShuffle", kind=RANDOM_TYPES["shuffle"], like=value)
    t.seeds = op_seeds(seed)
    return t


def multinomial(logits, num_samples: int, seed=None, name: str | None = None, output_dtype=None) -> Tensor:
    """``num_samples`` class ids for each row of the [batch, classes] ``logits`` (unnormalized log-probabilities;
    -inf never drawn), fresh on every run, int64 unless ``output_dtype`` (int32 or int64); seeded as the other
    random ops."""
    logits = as_tf(logits)
    out_dtype = int64 if output_dtype is None else as_tf_dtype(output_dtype)
    if out_dtype not in (int32, int64):
        raise TypeError(f"tf.random.categorical: the output dtype must be int32 or int64, got {out_dtype}")
    if logits.shape is not None and len(logits.shape) != 2:
        raise ValueError(f"tf.random.categorical: logits must be 2-D [batch, classes], got '{logits.name}' of shape "
                         f"{list(logits.shape)}")
    if logits.dtype is not None and logits.dtype.kind != "f":
        raise TypeError(f"tf.random.categorical: logits must be floats, got '{logits.name}' of dtype {logits.dtype}")
    count = int(num_samples)
    if count < 0:
        raise ValueError(f"tf.random.categorical: num_samples must be >= 0, got {count}")

    def fn(x, state=None):
        if x.ndim != 2 or x.shape[1] == 0 and x.shape[0] * count:
            raise ValueError(f"tf.random.categorical: logits must be 2-D [batch, classes] with classes > 0, got "
                             f"shape {list(x.shape)}")
        # the Gumbel-max draw: argmax(logits + Gumbel noise) is a class of probability softmax(logits)
        u = _draw("uniform", (x.shape[0], count, x.shape[1]), np.dtype(np.float64), 0.0, 1.0, state)
        noisy = ember.unsqueeze(ember.cast(x, "float64"), 1) - ember.log(-ember.log(u))
        return ember.cast(ember.argmax(noisy, axis=-1), out_dtype)

    t = op(fn, (logits,), name=name or "Multinomial", kind=RANDOM_TYPES["multinomial"])
    t.seeds = op_seeds(seed)
    return t


def categorical(logits, num_samples: int, dtype=None, seed=None, name: str | None = None) -> Tensor:
    """``tf.random.categorical``: ``tf.multinomial`` with the output dtype as ``dtype``."""
    return multinomial(logits, num_samples, seed=seed, name=name, output_dtype=dtype)


def uniform_like(x, dtype, shape: tuple | None = None):
    """Uniform [0, 1) samples of ``x``'s (run-time) shape (or of ``shape``), inside a recipe being replayed."""
    return _draw("uniform", tuple(x.shape) if shape is None else shape, np.dtype(dtype))

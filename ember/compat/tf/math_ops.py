"""More of TF-1's math, indexing and linear-algebra functions (sorting, cumulative sums, slicing, matrix helpers,
segment sums, gather_nd/scatter_nd), each a recipe over Ember ops; ``tf.math`` and ``tf.linalg`` gather them."""

from __future__ import annotations

import builtins
from typing import NamedTuple

import numpy as np

import ember
from ember.compat.tf._core import (
    Tensor,
    as_operand,
    as_tf,
    as_tf_dtype,
    bool,
    float32,
    float64,
    int32,
    int64,
    op,
    truediv,
)
from ember.compat.tf.array_ops import run_time_dims, unary_function
from ember.ops.host import host_call

__all__ = [
    "argsort", "cholesky", "cumprod", "cumsum", "diag", "diag_part", "eye", "floormod", "gather_nd", "is_finite",
    "is_inf", "is_nan", "lin_space", "linspace", "matrix_band_part", "matrix_determinant", "matrix_diag",
    "matrix_diag_part", "matrix_inverse", "matrix_transpose", "norm", "reverse", "reverse_v2", "round",
    "scatter_nd", "sequence_mask", "slice", "sort", "to_double", "to_float", "to_int32", "to_int64", "top_k",
    "trace", "truncatediv", "truncatemod", "unsorted_segment_mean", "unsorted_segment_sum", "divide_no_nan",
    "reciprocal_no_nan", "rint", "saturate_cast", "xdivy", "xlogy",
]


# elementwise names the first table (array_ops.UNARY) does not hold
MORE_UNARY = {
    "round": ember.round, "is_nan": ember.isnan, "is_finite": ember.isfinite, "is_inf": ember.isinf,
    "expm1": ember.expm1, "lgamma": ember.lgamma, "digamma": ember.digamma, "erfc": ember.erfc,
    "acos": ember.acos, "asin": ember.asin, "atan": ember.atan, "sinh": ember.sinh, "cosh": ember.cosh,
    "asinh": ember.asinh, "acosh": ember.acosh, "atanh": ember.atanh, "tan": ember.tan,
    "log_sigmoid": lambda x: -ember.softplus(-x), "softplus": ember.softplus,
    "softsign": lambda x: x / (1.0 + ember.abs(x)), "log2": ember.log2, "log10": ember.log10,
    "erfinv": ember.erfinv,
}
UNARY_FUNCTIONS = {name: unary_function(name, fn) for name, fn in MORE_UNARY.items()}
round = UNARY_FUNCTIONS["round"]  # noqa: A001  (tf.round: halves to even, as TensorFlow's)
is_nan, is_finite, is_inf = UNARY_FUNCTIONS["is_nan"], UNARY_FUNCTIONS["is_finite"], UNARY_FUNCTIONS["is_inf"]


def atan2(y, x, name: str | None = None) -> Tensor:
    return op(ember.atan2, (as_tf(y), as_tf(x)), name=name or "Atan2")


def truncatediv(x, y, name: str | None = None) -> Tensor:
    """Integer division rounding toward zero (C's), as ``tf.truncatediv``; floats divide and truncate."""
    def fn(a, b):
        q = ember.floor_divide(a, b)
        # floor and trunc differ where the quotient is negative and inexact
        fix = ember.ne(q * b, a) & ember.lt(ember.sign(a) * ember.sign(b), 0)
        return q + ember.cast(fix, q.dtype)

    return op(fn, (as_tf(x), as_tf(y)), name=name or "TruncateDiv", kind="TruncateDiv")


def truncatemod(x, y, name: str | None = None) -> Tensor:
    """Remainder with the sign of ``x`` (C's fmod), as ``tf.truncatemod``."""
    return op(ember.fmod, (as_tf(x), as_tf(y)), name=name or "TruncateMod")


def floormod(x, y, name: str | None = None) -> Tensor:
    """Remainder with the sign of ``y`` (Python's %)."""
    return op(ember.remainder, (as_tf(x), as_tf(y)), name=name or "FloorMod")


def _cast_to(dtype, default_name: str):
    def cast(x, name: str | None = None) -> Tensor:
        return op(lambda a: ember.cast(a, dtype), (as_tf(x),), name=name or default_name)

    cast.__doc__ = f"``x`` as {np.dtype(dtype).name}."
    return cast


to_float = _cast_to(float32, "ToFloat")
to_double = _cast_to(float64, "ToDouble")
to_int32 = _cast_to(int32, "ToInt32")
to_int64 = _cast_to(int64, "ToInt64")


def _cumulative(fn, identity: float, default_name: str):
    def cumulative(x, axis: int = 0, exclusive: bool = False, reverse: bool = False, name: str | None = None):
        axis = int(axis)

        def run(a):
            if reverse:
                a = ember.flip(a, axis)
            if exclusive:  # the identity first and the last element dropped (an empty axis stays empty)
                pads = [(0, 0)] * a.ndim
                pads[axis] = (1, 0)
                a = ember.pad(a, tuple(pads), identity)
            out = fn(a, axis=axis, dtype=a.dtype if a.dtype.kind in "iu" else None)  # (TF's keep int32)
            if exclusive:
                index = [builtins.slice(None)] * a.ndim
                index[axis] = builtins.slice(0, -1)
                out = out[tuple(index)]
            return ember.flip(out, axis) if reverse else out

        return op(run, (as_tf(x),), name=name or default_name)

    cumulative.__name__ = default_name
    cumulative.__doc__ = (f"``tf.{default_name.lower()}`` along ``axis``: ``exclusive`` leaves each element out of its "
                          "own result, ``reverse`` runs from the end.")
    return cumulative


cumsum = _cumulative(ember.cumsum, 0.0, "Cumsum")
cumprod = _cumulative(ember.cumprod, 1.0, "Cumprod")


def _direction(what: str, direction: str) -> bool:
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"tf.{what}: direction must be 'ASCENDING' or 'DESCENDING', got {direction!r}")
    return direction == "DESCENDING"


def sort(values, axis: int = -1, direction: str = "ASCENDING", name: str | None = None) -> Tensor:
    """The values sorted along ``axis``."""
    descending = _direction("sort", direction)
    return op(lambda a: ember.sort(a, axis=axis, descending=descending)[0], (as_tf(values),), name=name or "sort")


def argsort(values, axis: int = -1, direction: str = "ASCENDING", stable: bool = False,
            name: str | None = None) -> Tensor:
    """The int32 indices that sort ``values`` along ``axis``."""
    descending = _direction("argsort", direction)
    return op(lambda a: ember.cast(ember.argsort(a, axis=axis, descending=descending, stable=stable), int32),
              (as_tf(values),), name=name or "argsort")


def top_k(input, k: int = 1, sorted: builtins.bool = True, name: str | None = None) -> tuple:
    """(values, int32 indices) of the ``k`` largest entries along the last axis."""
    source = as_tf(input)
    k = int(k)
    if source.shape is not None and not len(source.shape):
        raise ValueError(f"tf.nn.top_k: input must have rank 1 or more, got the scalar '{source.name}'")
    if source.shape is not None and source.shape[-1] is not None and k > source.shape[-1]:
        raise ValueError(f"tf.nn.top_k: k={k} is larger than the last dimension of shape {list(source.shape)}")
    values = op(lambda a: ember.topk(a, k, axis=-1, sorted=True)[0], (source,), name=name or "TopKV2")
    indices = op(lambda a: ember.cast(ember.topk(a, k, axis=-1, sorted=True)[1], int32), (source,),
                 output_of=(values, 1))
    indices.dtype = int32  # (the recipe cannot be probed where the last dimension is unknown)
    return TopKResult(values, indices)


class TopKResult(NamedTuple):
    """``top_k``'s (values, indices), also readable by name; a namedtuple, as TF-1's, so ``Session.run``
    gives the values back in one."""

    values: Tensor
    indices: Tensor


def linspace(start, stop, num, name: str | None = None, axis: int = 0) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``, both included (float32 for Python numbers)."""
    values = np.linspace(float(start), float(stop), int(num))
    dtype = getattr(start, "dtype", None)  # (np.dtype(None) is float64: compare only a dtype that is there)
    return as_tf(values.astype(float64 if dtype is not None and np.dtype(dtype) == float64 else float32))


lin_space = linspace


def reverse(tensor, axis, name: str | None = None) -> Tensor:
    """``tensor`` with the order of the listed axes reversed."""
    axes = tuple(int(a) for a in (axis if isinstance(axis, (list, tuple)) else [axis]))
    return op(lambda a: ember.flip(a, axes) if axes else a, (as_tf(tensor),), name=name or "ReverseV2")


reverse_v2 = reverse


def slice(input_, begin, size, name: str | None = None) -> Tensor:  # noqa: A001  (tf.slice)
    """The block of ``input_`` starting at ``begin`` of ``size`` (-1: to the end of that axis); an entry may be
    ``tf.shape(t)[i]`` or int arithmetic of such, read when the Session runs."""
    if isinstance(begin, Tensor) or isinstance(size, Tensor):
        raise TypeError("tf.slice: begin and size given as one tf.Tensor are not supported; pass lists of ints, "
                        "tf.shape(t)[i] or int arithmetic of them")
    sources, resolve = run_time_dims("tf.slice", [*begin, *size])
    count = len(begin)
    if count != len(size):
        raise ValueError(f"tf.slice: begin {list(begin)} and size {list(size)} must have one entry per axis")

    def fn(a, *values):
        if count != a.ndim:
            raise ValueError(f"tf.slice: begin has {count} entries for an input of rank {a.ndim}")
        bounds = resolve(*values)
        return a[tuple(builtins.slice(b, None if s.__class__ is int and s == -1 else b + s)
                       for b, s in zip(bounds[:count], bounds[count:]))]

    return op(fn, (as_tf(input_), *sources), name=name or "Slice")


def sequence_mask(lengths, maxlen=None, dtype=bool, name: str | None = None) -> Tensor:
    """``mask[..., j] = j < lengths[...]``: ``maxlen`` columns (it must be given: the mask's width cannot depend
    on the values fed)."""
    if maxlen is None:
        raise ValueError("tf.sequence_mask: pass maxlen (Ember's graphs need the mask's width before the values "
                         "are fed)")
    # (maxlen may be tf.shape(x)[i], or int arithmetic of such: the width is then read when the Session runs)
    sources, resolve = run_time_dims("tf.sequence_mask", [maxlen])
    dtype = as_tf_dtype(dtype)

    def fn(n, *values):
        if n.dtype.kind not in "iu":  # TF-1 casts the lengths to maxlen's integer dtype: 1.5 counts as 1
            n = ember.cast(n, "int64")
        return ember.cast(ember.lt(ember.arange(resolve(*values)[0]), ember.unsqueeze(n, -1)), dtype)

    return op(fn, (as_tf(lengths), *sources), name=name or "SequenceMask")


def _square_last(what: str, a) -> None:
    if a.ndim < 2:
        raise ValueError(f"tf.{what}: the input needs at least 2 dimensions, got shape {list(a.shape)}")


def matrix_diag(diagonal, name: str | None = None) -> Tensor:
    """Square matrices with the last axis of ``diagonal`` on their diagonals (batched)."""
    def fn(d):
        eye = ember.eye(d.shape[-1], dtype=d.dtype)
        return ember.unsqueeze(d, -1) * eye

    return op(fn, (as_tf(diagonal),), name=name or "MatrixDiag")


def matrix_diag_part(input, name: str | None = None) -> Tensor:
    """The main diagonals of the last two axes (batched)."""
    def fn(a):
        _square_last("matrix_diag_part", a)
        return ember.diagonal(a, 0, -2, -1)

    return op(fn, (as_tf(input),), name=name or "MatrixDiagPart")


def diag(diagonal, name: str | None = None) -> Tensor:
    """``tf.diag``: the tensor of rank 2k with ``diagonal`` (rank k) on its diagonal."""
    def fn(d):
        flat = ember.reshape(d, (-1,))
        n = flat.shape[0]
        return ember.reshape(ember.unsqueeze(flat, -1) * ember.eye(n, dtype=d.dtype), tuple(d.shape) * 2)

    return op(fn, (as_tf(diagonal),), name=name or "Diag")


def diag_part(input, name: str | None = None) -> Tensor:
    """``tf.diag_part``: the diagonal of a tensor of rank 2k whose shape is (d1..dk, d1..dk)."""
    def fn(a):
        k = a.ndim // 2
        if a.ndim % 2 or tuple(a.shape[:k]) != tuple(a.shape[k:]):
            raise ValueError(f"tf.diag_part: the shape must be (d1..dk, d1..dk), got {list(a.shape)}")
        n = int(np.prod(a.shape[:k]))
        return ember.reshape(ember.diagonal(ember.reshape(a, (n, n)), 0, 0, 1), tuple(a.shape[:k]))

    return op(fn, (as_tf(input),), name=name or "DiagPart")


def trace(x, name: str | None = None) -> Tensor:
    """The sum of the main diagonal of the last two axes (batched)."""
    def fn(a):
        _square_last("trace", a)
        return ember.sum(ember.diagonal(a, 0, -2, -1), axis=-1)

    return op(fn, (as_tf(x),), name=name or "Trace")


def eye(num_rows: int, num_columns=None, batch_shape=None, dtype=float32, name: str | None = None) -> Tensor:
    """An identity matrix (``batch_shape``: copies along leading axes)."""
    matrix = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=as_tf_dtype(dtype))
    if batch_shape is not None:
        matrix = np.broadcast_to(matrix, tuple(int(b) for b in batch_shape) + matrix.shape).copy()
    return as_tf(matrix)


def matrix_band_part(input, num_lower, num_upper, name: str | None = None) -> Tensor:
    """Zero everything outside the band of ``num_lower`` subdiagonals and ``num_upper`` superdiagonals of the
    last two axes (a negative count keeps that whole triangle)."""
    lower, upper = int(num_lower), int(num_upper)

    def fn(a):
        _square_last("matrix_band_part", a)
        rows, cols = a.shape[-2], a.shape[-1]
        i = np.arange(rows)[:, None]
        j = np.arange(cols)[None, :]
        keep = ((lower < 0) | (i - j <= lower)) & ((upper < 0) | (j - i <= upper))
        return a * ember.tensor(keep.astype(a.dtype))

    return op(fn, (as_tf(input),), name=name or "MatrixBandPart")


def matrix_transpose(a, name: str | None = None, conjugate: builtins.bool = False) -> Tensor:
    """The last two axes swapped."""
    return op(lambda x: ember.swapaxes(x, -1, -2), (as_tf(a),), name=name or "matrix_transpose")


def matrix_inverse(input, adjoint: builtins.bool = False, name: str | None = None) -> Tensor:
    """The inverses of the square matrices in the last two axes."""
    def fn(a):
        inverse = ember.linalg.inv(a)
        return ember.swapaxes(inverse, -1, -2) if adjoint else inverse

    return op(fn, (as_tf(input),), name=name or "MatrixInverse")


def matrix_determinant(input, name: str | None = None) -> Tensor:
    """The determinants of the square matrices in the last two axes."""
    return op(ember.linalg.det, (as_tf(input),), name=name or "MatrixDeterminant")


def cholesky(input, name: str | None = None) -> Tensor:
    """The lower Cholesky factors of the symmetric positive-definite matrices in the last two axes."""
    return op(ember.linalg.cholesky, (as_tf(input),), name=name or "Cholesky")


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name: str | None = None, keep_dims=None) -> Tensor:
    """``tf.norm``: a vector norm over ``axis`` (all elements when None), or a matrix norm over a pair of axes
    (``ord`` 'fro', 'euclidean' (Frobenius for a pair, as TensorFlow's), 1, 2 (the largest singular value), inf)."""
    keep = builtins.bool(keepdims or keep_dims)
    if isinstance(axis, (list, tuple)) and len(axis) == 1:
        axis = axis[0]
    if ord == "fro" and not isinstance(axis, (list, tuple)) and axis is not None:
        raise ValueError("tf.norm: ord='fro' needs a pair of axes")
    p = 2 if ord in ("euclidean", "fro") else ord

    def fn(x):
        if isinstance(axis, (list, tuple)):
            if ord == 2:  # the spectral norm; 'euclidean' and 'fro' are the Frobenius norm
                return ember.linalg.matrix_norm(x, 2, tuple(axis), keep)
            if p == 2:
                return ember.sqrt(ember.sum(x * x, axis=tuple(axis), keepdims=keep))
            if p not in (1, np.inf):
                raise ValueError(f"tf.norm: ord {ord!r} over a pair of axes is not supported; use 'fro', 1 or inf")
            rows, cols = axis
            inner, outer = (rows, cols) if p == 1 else (cols, rows)  # 1: largest column sum; inf: largest row sum
            sums = ember.sum(ember.abs(x), axis=inner, keepdims=True)
            out = ember.max(sums, axis=outer, keepdims=True)
            return out if keep else ember.squeeze(out, tuple(sorted(a % x.ndim for a in axis)))
        if axis is None:
            flat = ember.reshape(x, (-1,))
            out = ember.norm(flat, p=p)
            return ember.reshape(out, (1,) * x.ndim) if keep else out
        return ember.norm(x, p=p, axis=axis, keepdims=keep)

    return op(fn, (as_tf(tensor),), name=name or "norm")


def _flat_index(what: str, shape: tuple, idx):
    """The row-major position in ``shape[:k]`` of each index vector in ``idx`` (last axis of length k). A vector
    with an entry outside its axis (negative too, as TF's CPU kernels refuse it) gets ``prod(shape[:k])``, past
    the end, so that the lookup raises rather than read the element the row-major sum lands on."""
    k = idx.shape[-1]
    if k > len(shape):
        raise ValueError(f"tf.{what}: index vectors of length {k} for a tensor of rank {len(shape)}")
    strides = np.cumprod((1,) + tuple(shape[1:k])[::-1])[::-1].astype(np.int64)
    idx = ember.cast(idx, int64)
    inside = ember.all(ember.ge(idx, 0) & ember.lt(idx, ember.tensor(np.array(shape[:k], np.int64))), axis=-1)
    flat = ember.sum(idx * ember.tensor(strides), axis=-1)
    return ember.where(inside, flat, int(np.prod(shape[:k], dtype=np.int64))), k


def check_index_vectors(what: str, idx, shape: tuple):
    """``idx`` once a run-time check has seen that each of its index vectors (last axis) names an element of
    ``shape``, as TF's kernels refuse one that does not (a negative entry too), naming the op and the first bad
    vector. (Read through the check, the lookup waits for it.)"""
    def checked(i):
        k = i.shape[-1]
        vectors = i.reshape(-1, k)
        bad = np.flatnonzero(((vectors < 0) | (vectors >= np.array(shape[:k], np.int64))).any(axis=1))
        if bad.size:
            j = int(bad[0])
            raise IndexError(f"tf.{what}: indices[{j}] = {vectors[j].tolist()} does not index into shape "
                             f"{list(shape)}")
        return i

    return host_call(checked, [idx], tuple(idx.shape), idx.dtype, name=f"tf.{what}")


def check_segment_ids(what: str, ids, num_segments: int):
    """``ids`` once a run-time check has seen that none is ``num_segments`` or more, as TF's kernels refuse it
    (a negative id's rows are dropped)."""
    def checked(i):
        bad = np.flatnonzero(i.reshape(-1) >= num_segments)
        if bad.size:
            j = int(bad[0])
            raise IndexError(f"tf.math.{what}: segment_ids[{j}] = {int(i.reshape(-1)[j])} is out of range "
                             f"[0, {num_segments}) (flattened)")
        return i

    return host_call(checked, [ids], tuple(ids.shape), ids.dtype, name=f"tf.math.{what}")


def gather_nd(params, indices, name: str | None = None, batch_dims: int = 0) -> Tensor:
    """The slices of ``params`` at the index vectors of ``indices``' last axis (of length k <= rank); with
    ``batch_dims`` b, the first b axes of both are batch axes that pair up, each batch indexing its own slice."""
    b = int(batch_dims)

    def fn(p, i):
        if i.ndim:
            i = check_index_vectors("gather_nd", i, tuple(p.shape[b:]) if b else tuple(p.shape))
        if b:
            if not 0 < b < i.ndim or b > p.ndim or tuple(p.shape[:b]) != tuple(i.shape[:b]):
                raise ValueError(f"tf.gather_nd: batch_dims={b} must be below the rank of indices {list(i.shape)}, and "
                                 f"their first {b} axes those of params {list(p.shape)}")
            lead, rows = tuple(p.shape[:b]), int(np.prod(p.shape[:b], dtype=np.int64))
            inner = tuple(i.shape[b:-1])
            batch = ember.reshape(ember.arange(rows, dtype="int64"), (rows,) + (1,) * (len(inner) + 1))
            batch = ember.broadcast_to(batch, (rows,) + inner + (1,))
            i = ember.concat([batch, ember.reshape(ember.cast(i, int64), (rows,) + inner + (i.shape[-1],))], -1)
            p = ember.reshape(p, (rows,) + tuple(p.shape[b:]))
            out = fn_flat(p, i)
            return ember.reshape(out, lead + tuple(out.shape[1:]))
        return fn_flat(p, i)

    def fn_flat(p, i):
        flat, k = _flat_index("gather_nd", tuple(p.shape), i)
        rest = tuple(p.shape[k:])
        rows = ember.reshape(p, (int(np.prod(p.shape[:k])),) + rest)
        return ember.take(rows, flat, axis=0)

    return op(fn, (as_tf(params), as_tf(indices)), name=name or "GatherNd")


def scatter_nd(indices, updates, shape, name: str | None = None) -> Tensor:
    """A zero tensor of ``shape`` with ``updates`` added at the index vectors of ``indices`` (repeats sum)."""
    shape = tuple(int(s) for s in shape)

    def fn(i, u):
        i = check_index_vectors("scatter_nd", i, shape)
        flat, k = _flat_index("scatter_nd", shape, i)
        rest = shape[k:]
        rows = ember.zeros((int(np.prod(shape[:k])),) + rest, dtype=u.dtype)
        out = ember.index_add(rows, ember.reshape(flat, (-1,)), ember.reshape(u, (-1,) + rest), axis=0)
        return ember.reshape(out, shape)

    return op(fn, (as_tf(indices), as_tf(updates)), name=name or "ScatterNd")


def _segment_sums(data, ids, num_segments: int):
    """The sums of ``data``'s rows per segment id; the rows of a negative id are dropped, as TF drops them."""
    rest = tuple(data.shape[ids.ndim:])
    rows = ember.zeros((num_segments,) + rest, dtype=data.dtype)
    ids = ember.reshape(ember.cast(ids, int64), (-1,))
    flat = ember.reshape(data, (-1,) + rest)
    kept = ember.ge(ids, 0)
    flat = ember.where(ember.reshape(kept, (-1,) + (1,) * len(rest)), flat, ember.zeros_like(flat))
    return ember.index_add(rows, ember.where(kept, ids, 0), flat, axis=0)


def unsorted_segment_sum(data, segment_ids, num_segments, name: str | None = None) -> Tensor:
    """``out[s] = sum of data[i] where segment_ids[i] == s`` for s < ``num_segments`` (ids may come in any
    order; a negative id's rows are dropped, an id of ``num_segments`` or more is an error)."""
    n = int(num_segments)

    def fn(d, i):
        i = check_segment_ids("unsorted_segment_sum", i, n)
        return _segment_sums(d, i, n)

    return op(fn, (as_tf(data), as_tf(segment_ids)), name=name or "UnsortedSegmentSum")


def unsorted_segment_mean(data, segment_ids, num_segments, name: str | None = None) -> Tensor:
    """The mean of each segment's rows (0 for an empty segment); integers are divided as ``/`` divides them
    (int32 data gives float64), as TF-1's sum over count."""
    n = int(num_segments)

    def fn(d, i):
        i = check_segment_ids("unsorted_segment_mean", i, n)
        total = _segment_sums(d, i, n)
        counts = _segment_sums(ember.ones(tuple(i.shape), dtype=d.dtype), i, n)
        counts = ember.reshape(counts, (n,) + (1,) * (total.ndim - 1))
        return truediv(total, ember.maximum(counts, ember.ones((), dtype=counts.dtype)))

    return op(fn, (as_tf(data), as_tf(segment_ids)), name=name or "UnsortedSegmentMean")


def _zero_where(what: str, zero_at, value):
    """The elementwise fn of a binary op that is 0 where ``zero_at(x, y)`` holds and ``value(x, y_safe)``
    elsewhere, ``y_safe`` being 1 where it holds, so that neither the value nor its gradient picks up a NaN
    from the entries left out."""
    def fn(a, b):
        if a.dtype.kind not in "fc" or b.dtype != a.dtype:
            raise TypeError(f"tf.math.{what}: x and y must have one float or complex dtype, got {a.dtype} and "
                            f"{b.dtype}")
        zero = zero_at(a, b)
        safe = ember.where(zero, ember.ones((), dtype=b.dtype), b)
        return ember.where(zero, ember.zeros((), dtype=a.dtype), value(a, safe))

    return fn


_DIVIDE_NO_NAN = _zero_where("divide_no_nan", lambda x, y: ember.eq(y, 0), lambda x, y: x / y)
_XDIVY = _zero_where("xdivy", lambda x, y: ember.eq(x, 0), lambda x, y: x / y)
_XLOGY = _zero_where("xlogy", lambda x, y: ember.eq(x, 0), lambda x, y: x * ember.log(y))


def _operands(x, y) -> tuple[Tensor, Tensor]:
    if isinstance(x, Tensor):  # a Python operand takes the tensor's dtype
        y = as_operand(y, x)
    elif isinstance(y, Tensor):
        x = as_operand(x, y)
    return as_tf(x), as_tf(y)


def divide_no_nan(x, y, name: str | None = None) -> Tensor:
    """``x / y``, but 0 where ``y`` is 0 (whatever ``x`` is), as ``tf.math.divide_no_nan``."""
    return op(_DIVIDE_NO_NAN, _operands(x, y), name=name or "div_no_nan")


def xdivy(x, y, name: str | None = None) -> Tensor:
    """``x / y``, but 0 where ``x`` is 0 (``y`` 0 too), as ``tf.math.xdivy``."""
    return op(_XDIVY, _operands(x, y), name=name or "Xdivy")


def xlogy(x, y, name: str | None = None) -> Tensor:
    """``x * log(y)``, but 0 where ``x`` is 0 (``y`` 0 or NaN too), as ``tf.math.xlogy``."""
    return op(_XLOGY, _operands(x, y), name=name or "Xlogy")


def reciprocal_no_nan(x, name: str | None = None) -> Tensor:
    """``1 / x``, but 0 where ``x`` is 0, as ``tf.math.reciprocal_no_nan``."""
    return op(lambda a: _DIVIDE_NO_NAN(ember.ones_like(a), a), (as_tf(x),), name=name or "reciprocal_no_nan")


def rint(x, name: str | None = None) -> Tensor:
    """The nearest integer, halves to even (``tf.math.rint``: ``rint(2.5)`` is 2.0)."""
    return op(ember.round, (as_tf(x),), name=name or "Rint")


def saturate_cast(value, dtype, name: str | None = None) -> Tensor:
    """``value`` cast to ``dtype``, values beyond its range clamped to its lowest or highest value first (a
    plain cast would wrap them: float 3e9 to int32 gives -2**31)."""
    dtype = as_tf_dtype(dtype)

    def fn(x):
        if x.dtype.kind in "c" or dtype.kind in "c" or dtype.kind == "b" or x.dtype.kind == "b":
            return ember.cast(x, dtype)
        inside, outside = _range(x.dtype), _range(dtype)
        low, high = builtins.max(inside[0], outside[0]), builtins.min(inside[1], outside[1])
        if x.dtype.kind != "f" or dtype.kind not in "iu":
            return ember.cast(ember.clip(x, x.dtype.type(low), x.dtype.type(high)), dtype)
        # float to integer: the bounds as floats of x's dtype may round past the range (float32(2**31 - 1) is
        # 2**31), so clip to the floats inside it and give what lies beyond them the bounds themselves
        below, above = (np.nextafter(x.dtype.type(v), x.dtype.type(0)) if int(x.dtype.type(v)) != v else
                        x.dtype.type(v) for v in (low, high))
        out = ember.cast(ember.clip(x, below, above), dtype)
        out = ember.where(ember.gt(x, above), dtype.type(high), out)
        return ember.where(ember.lt(x, below), dtype.type(low), out)

    return op(fn, (as_tf(value),), name=name or "saturate_cast")


def _range(dtype: np.dtype) -> tuple:
    limits = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return (float(limits.min), float(limits.max)) if dtype.kind == "f" else (int(limits.min), int(limits.max))

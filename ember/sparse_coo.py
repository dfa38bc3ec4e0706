"""Sparse COO tensors (PyTorch's ``torch.sparse_coo_tensor`` and ``torch.sparse.mm``): the coordinates of the
non-zero entries and their values; products with dense tensors are gathers and scatter-adds of ops, so
gradients reach the values and the dense operand. ``dense @ sparse`` is ``(sparse^T @ dense^T)^T``, the same
gather and scatter-add over the transposed entries.

>>> adjacency = ember.sparse_coo_tensor([[0, 1, 1], [1, 0, 2]], [1.0, 1.0, 0.5], (3, 3))
>>> hidden = ember.sparse.mm(adjacency, features)   # a graph convolution's neighbour sum
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember import ops
from ember.creation import tensor as _tensor
from ember.creation import zeros
from ember.layouts import sparse_coo as _SPARSE_COO
from ember.tensor import Tensor

__all__ = ["SparseCOOTensor", "SparseTensorBase", "addmm", "dense_mm", "log_softmax", "mm", "softmax",
           "sparse_coo_tensor", "sum", "to_sparse"]


def _as_tensor(value, dtype=None) -> Tensor:
    return value if isinstance(value, Tensor) else _tensor(value, dtype=dtype)


class SparseTensorBase:
    """What PyTorch's sparse tensors of both layouts answer alike, from ``shape`` and the values tensor
    ``_values_t``; a layout gives ``_with_values`` (the same entries holding other values)."""

    is_sparse = True
    _sparse_layout = True  # what the ops ask of an operand (PyTorch's is_sparse is False for CSR and CSC)
    __array_priority__ = 1000  # an array times a sparse tensor is the sparse tensor's product (__rmul__), as a Tensor's
    shape: tuple
    _values_t: Tensor
    _with_values: Callable  # each layout's own: the same entries holding other values

    @property
    def dtype(self):
        return self._values_t.dtype

    @property
    def device(self):
        return self._values_t.device

    @property
    def requires_grad(self) -> bool:
        return self._values_t.requires_grad

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def _nnz(self) -> int:
        return int(self._values_t.shape[0])

    def requires_grad_(self, requires_grad: bool = True):
        self._values_t.requires_grad_(requires_grad)
        return self

    def detach(self):
        return self._with_values(self._values_t.detach())

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __array__(self, dtype=None, copy=None):
        """Refused with a word on what to do, where an op that takes dense tensors failed inside NumPy's float()
        (densifying here would lose the values' gradient)."""
        raise TypeError(f"a sparse tensor (layout {self.layout!r}, shape {list(self.shape)}, {self.dtype}) is not a "
                        "dense array: call .to_dense() first, or use its own methods and ember.sparse's functions")

    def to(self, *args, **kwargs):
        """The same entries, the values moved and/or cast as ``Tensor.to`` does (``to("cpu")``, ``to(ember.float64)``,
        ``to(dtype=...)``)."""
        return self._with_values(self._values_t.to(*args, **kwargs))

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def bfloat16(self):
        return self.to("bfloat16")

    def int(self):
        return self.to("int32")

    def long(self):
        return self.to("int64")

    def bool(self):
        return self.to("bool")

    def cpu(self):
        return self.to("cpu")

    def clone(self):
        """A copy whose values are new memory (the coordinates are never written in place)."""
        return self._with_values(self._values_t.clone())

    def type(self, dtype=None):
        """The type's name (``ember.sparse.FloatTensor``) or, given a dtype, the tensor cast to it."""
        if dtype is None:
            return self._values_t.type().replace("ember.", "ember.sparse.", 1)
        return self.to(dtype)


class SparseCOOTensor(SparseTensorBase):
    """A tensor of ``shape`` whose entries are zero except at the columns of ``indices`` (sparse_dim, nnz), which
    hold the rows of ``values`` (nnz, *dense dims). Repeated coordinates add up (``coalesce`` merges them)."""

    is_sparse_csr = False
    layout = _SPARSE_COO

    def __init__(self, indices: Tensor, values: Tensor, shape: tuple, coalesced: bool = False):
        self._indices_t, self._values_t, self.shape = indices, values, tuple(shape)
        self._coalesced = coalesced

    # --- what PyTorch's sparse tensors answer -------------------------------------------------------------

    @property
    def grad(self) -> SparseCOOTensor | None:
        """The gradient as a COO tensor holding each of this tensor's coordinates once (as PyTorch's), or None. A
        repeated coordinate's entries each got the gradient at that coordinate: the first one's is kept."""
        g = self._values_t.grad
        if g is None or self._coalesced:
            return None if g is None else SparseCOOTensor(self._indices_t, g, self.shape, coalesced=True)
        _, first = np.unique(self._linear().numpy(), return_index=True)
        first = _tensor(first.astype(np.int64))
        return SparseCOOTensor(ops.take(self._indices_t, first, axis=1), ops.take(g, first, axis=0), self.shape,
                               coalesced=True)

    def sparse_dim(self) -> int:
        return int(self._indices_t.shape[0])

    def dense_dim(self) -> int:
        return len(self.shape) - self.sparse_dim()

    def _indices(self) -> Tensor:
        return self._indices_t

    def _values(self) -> Tensor:
        return self._values_t

    def indices(self) -> Tensor:
        """The coordinates (sparse_dim, nnz) of a coalesced tensor."""
        self._require_coalesced("indices")
        return self._indices_t

    def values(self) -> Tensor:
        """The values (nnz, *dense dims) of a coalesced tensor."""
        self._require_coalesced("values")
        return self._values_t

    def _require_coalesced(self, what: str) -> None:
        if not self._coalesced:
            raise RuntimeError(f"sparse COO {what}(): the tensor is not coalesced (it may repeat coordinates); call "
                               f".coalesce() first, or read ._{what}()")

    def is_coalesced(self) -> bool:
        return self._coalesced

    def _with_values(self, values: Tensor) -> SparseCOOTensor:
        return SparseCOOTensor(self._indices_t, values, self.shape, self._coalesced)

    def __repr__(self) -> str:
        return (f"sparse_coo_tensor(indices={self._indices_t.numpy().tolist()}, values={self._values_t.detach()!r}, "
                f"size={self.shape}, nnz={self._nnz()}, layout=sparse_coo)")

    # --- conversions -------------------------------------------------------------------------------------

    def _linear(self) -> Tensor:
        """Each entry's row-major position among the sparse dimensions (int64, nnz)."""
        sizes = self.shape[:self.sparse_dim()]
        strides = np.cumprod((1,) + tuple(sizes[1:])[::-1])[::-1].astype(np.int64)
        return ops.sum(self._indices_t * _tensor(strides.reshape(-1, 1)), 0)

    def to_dense(self) -> Tensor:
        """The dense tensor (repeated coordinates summed); differentiable in the values."""
        k = self.sparse_dim()
        rows = int(np.prod(self.shape[:k], dtype=np.int64))
        flat = zeros((rows,) + self.shape[k:], dtype=self.dtype, device=self.device)
        return ops.reshape(ops.index_add(flat, self._linear(), self._values_t, axis=0), self.shape)

    def to_sparse(self, sparse_dim: int | None = None) -> SparseCOOTensor:
        """The tensor itself, as PyTorch's ``to_sparse()`` of a COO tensor (another ``sparse_dim`` is refused)."""
        if sparse_dim is not None and int(sparse_dim) != self.sparse_dim():
            raise RuntimeError(f"to_sparse: a COO tensor with {self.sparse_dim()} sparse dimensions cannot be "
                               f"converted to {sparse_dim}")
        return self

    def to_sparse_coo(self) -> SparseCOOTensor:
        return self

    def coalesce(self) -> SparseCOOTensor:
        """The same tensor with each coordinate once, in row-major order, repeated ones' values summed."""
        if self._coalesced:
            return self
        linear = self._linear().numpy()
        unique, inverse = np.unique(linear, return_inverse=True)
        summed = ops.index_add(zeros((len(unique),) + tuple(self._values_t.shape[1:]), dtype=self.dtype,
                                     device=self.device), _tensor(inverse.astype(np.int64)), self._values_t, axis=0)
        sizes = self.shape[:self.sparse_dim()]
        coords = np.stack(np.unravel_index(unique, sizes)).astype(np.int64) if len(unique) else \
            np.zeros((len(sizes), 0), np.int64)
        return SparseCOOTensor(_tensor(coords), summed, self.shape, coalesced=True)

    def t(self) -> SparseCOOTensor:
        """The transpose of a 2-D sparse tensor."""
        if self.sparse_dim() != 2 or self.dense_dim():
            raise RuntimeError(f"t(): expects a 2-D sparse tensor with no dense dimensions, got shape {self.shape} "
                               f"with sparse_dim {self.sparse_dim()}")
        return SparseCOOTensor(ops.flip(self._indices_t, 0), self._values_t, self.shape[::-1])

    def transpose(self, dim0: int = 0, dim1: int = 1) -> SparseCOOTensor:
        """``t()`` for dimensions 0 and 1 of a 2-D sparse tensor (either order, or negative); the tensor itself for a
        dimension with itself."""
        n = self.ndim
        for dim in (dim0, dim1):
            if not -n <= dim < n:
                raise IndexError(f"transpose: dimension {dim} out of range for a sparse tensor of shape {self.shape} "
                                 f"(expected in [{-n}, {n - 1}])")
        if dim0 % n == dim1 % n:
            return self
        return self.t()

    def _dim(self, name: str, dim: int) -> int:
        """``dim`` made non-negative, or the IndexError PyTorch raises for one outside the shape."""
        n = self.ndim
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -n <= dim < n:
            raise IndexError(f"{name}: dimension {dim!r} out of range for a sparse tensor of shape {list(self.shape)} "
                             f"(expected an int in [{-n}, {n - 1}])")
        return int(dim) % n

    def index_select(self, dim: int, index) -> SparseCOOTensor:
        """The entries whose coordinate along ``dim`` is in ``index`` (1-D integers), renumbered by their position in
        ``index`` (a repeated position repeats them), as PyTorch's: an uncoalesced sparse tensor (coalesced only with
        at most one entry); along a dense dimension the values' slices. Gradients reach the values. Entries come
        position by position of ``index``, each position's in their order here (PyTorch may order an uncoalesced
        result otherwise: the same tensor). Indices outside ``[0, size)`` are refused, negative ones included."""
        d = self._dim("index_select", dim)
        index = _as_tensor(index)
        if index.ndim != 1 or index.dtype.kind not in "iu":
            raise IndexError(f"index_select(): the index must be a 1-D integer tensor, got {index.dtype}"
                             f"{list(index.shape)}")
        positions = index.numpy().astype(np.int64)
        size = self.shape[d]
        bad = positions[(positions < 0) | (positions >= size)]
        if bad.size:
            raise IndexError(f"index_select(): index {int(bad[0])} is out of range for a sparse tensor of shape "
                             f"{list(self.shape)} at dimension {d} (size {size})")
        k = self.sparse_dim()
        if d >= k:  # a dense dimension: the values' slices, the coordinates kept
            values = ops.take(self._values_t, _tensor(positions), axis=d - k + 1)
            return SparseCOOTensor(self._indices_t, values, self.shape[:d] + (len(positions),) + self.shape[d + 1:],
                                   coalesced=self._nnz() <= 1)
        coords = self._indices_t.numpy()
        order = np.argsort(coords[d], kind="stable")
        ordered = coords[d][order]
        starts = np.searchsorted(ordered, positions, "left")
        counts = np.searchsorted(ordered, positions, "right") - starts
        total = int(counts.sum())
        out_position = np.repeat(np.arange(len(positions), dtype=np.int64), counts)
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        source = order[np.repeat(starts, counts) + offsets].astype(np.int64)
        new_coords = coords[:, source]
        new_coords[d] = out_position
        return SparseCOOTensor(_tensor(new_coords), ops.take(self._values_t, _tensor(source), axis=0),
                               self.shape[:d] + (len(positions),) + self.shape[d + 1:], coalesced=total <= 1)

    def narrow(self, dim: int, start: int, length: int) -> SparseCOOTensor:
        """The entries with ``start <= coordinate < start + length`` along ``dim`` (a negative ``start`` counts from
        the end), shifted to start at 0; along a dense dimension the values' slices. A new sparse tensor, as
        PyTorch's ``narrow_copy`` (PyTorch's ``narrow`` of a sparse tensor fails for want of strides), coalesced when
        this one is; gradients reach the values."""
        d = self._dim("narrow", dim)
        size = self.shape[d]
        for name, value in (("start", start), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"narrow(): {name} must be an int, got {type(value).__name__}")
        if length < 0:
            raise RuntimeError(f"narrow(): length must be non-negative, got {length}")
        begin = int(start) + size if -size <= start < 0 else int(start)
        if not 0 <= begin <= size or begin + length > size:
            raise IndexError(f"narrow(): start {start} and length {length} leave dimension {d} of size {size} "
                             f"(shape {list(self.shape)})")
        shape = self.shape[:d] + (int(length),) + self.shape[d + 1:]
        k = self.sparse_dim()
        if d >= k:
            axis = d - k + 1
            values = ops.take(self._values_t, _tensor(np.arange(begin, begin + length, dtype=np.int64)), axis=axis)
            return SparseCOOTensor(self._indices_t, values, shape, self._coalesced)
        coords = self._indices_t.numpy()
        keep = np.flatnonzero((coords[d] >= begin) & (coords[d] < begin + length)).astype(np.int64)
        new_coords = coords[:, keep]
        new_coords[d] -= begin
        return SparseCOOTensor(_tensor(new_coords), ops.take(self._values_t, _tensor(keep), axis=0), shape,
                               self._coalesced)

    narrow_copy = narrow

    # --- arithmetic --------------------------------------------------------------------------------------

    def __matmul__(self, other) -> Tensor | SparseCOOTensor:
        return mm(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return dense_mm(other, self)

    def mm(self, other) -> Tensor | SparseCOOTensor:
        return mm(self, other)

    def matmul(self, other) -> Tensor | SparseCOOTensor:
        return mm(self, other)

    def __mul__(self, other) -> SparseCOOTensor:
        """The values scaled by a number (or a 0-d tensor); with a dense tensor broadcast to this shape, or another
        sparse tensor, the elementwise product at this tensor's entries (with a sparse one, those both hold), coalesced,
        as PyTorch's."""
        pattern = None
        if isinstance(other, SparseTensorBase):
            if other.shape != self.shape or other.sparse_dim() != self.sparse_dim():  # (no broadcasting, as PyTorch)
                raise RuntimeError(f"sparse * sparse: shapes {list(self.shape)} and {list(other.shape)} (sparse dims "
                                   f"{self.sparse_dim()}, {other.sparse_dim()}) differ")
            pattern, other = other, other.to_dense()
        if np.ndim(other) == 0:
            return SparseCOOTensor(self._indices_t, self._values_t * other, self.shape, self._coalesced)
        other = _as_tensor(other)
        try:
            fits = np.broadcast_shapes(tuple(other.shape), self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(f"sparse * tensor: a tensor of shape {list(other.shape)} does not broadcast to the "
                               f"sparse tensor's shape {list(self.shape)}")
        merged = self.coalesce()
        k, linear = merged.sparse_dim(), merged._linear()
        if pattern is not None:
            coo = pattern if isinstance(pattern, SparseCOOTensor) else pattern.to_sparse_coo()
            keep = np.flatnonzero(np.isin(linear.numpy(), coo._linear().numpy()))
            if keep.size < merged._nnz():
                keep = _tensor(keep.astype(np.int64))
                merged = SparseCOOTensor(ops.take(merged._indices_t, keep, axis=1),
                                         ops.take(merged._values_t, keep, axis=0), self.shape, coalesced=True)
                linear = ops.take(linear, keep)
        rows = ops.reshape(ops.broadcast_to(other, self.shape), (-1,) + self.shape[k:])
        at_entries = ops.take(rows, linear, axis=0)
        return SparseCOOTensor(merged._indices_t, merged._values_t * at_entries, self.shape, coalesced=True)

    __rmul__ = __mul__

    def __truediv__(self, scalar) -> SparseCOOTensor:
        if isinstance(scalar, SparseTensorBase) or np.ndim(scalar) != 0:
            raise TypeError(f"sparse COO / tensor: only a number or a 0-d tensor divides a sparse tensor, got shape "
                            f"{list(np.shape(scalar)) if not isinstance(scalar, SparseTensorBase) else scalar.shape}; "
                            "use to_dense()")
        return SparseCOOTensor(self._indices_t, self._values_t / scalar, self.shape, self._coalesced)

    def __neg__(self) -> SparseCOOTensor:
        """The values negated (a bool tensor refused, as a dense one's ``-``)."""
        return self._with_values(-self._values_t)

    def abs(self) -> SparseCOOTensor:
        """The absolute values, coalesced first (repeated coordinates' values summed), as PyTorch's."""
        merged = self.coalesce()
        return merged._with_values(ops.abs(merged._values_t))

    __abs__ = abs

    def pow(self, exponent) -> SparseCOOTensor:
        """The values to a number's power, coalesced first, as PyTorch's; the implicit zeros stay 0, so a 0 exponent
        (which would make them 1) is refused, as is a tensor exponent."""
        if isinstance(exponent, (Tensor, SparseTensorBase)) or np.ndim(exponent) != 0:
            raise TypeError(f"sparse pow: the exponent must be a number, got {type(exponent).__name__}")
        if exponent == 0:
            raise RuntimeError("sparse pow: cannot raise a sparse tensor to the 0th power (its zeros would become 1); "
                               "use to_dense()")
        merged = self.coalesce()
        return merged._with_values(ops.pow(merged._values_t, exponent))

    __pow__ = pow

    def __add__(self, other):
        if isinstance(other, SparseCOOTensor):
            if other.shape != self.shape or other.sparse_dim() != self.sparse_dim():
                raise RuntimeError(f"sparse + sparse: shapes {self.shape} and {other.shape} (sparse dims "
                                   f"{self.sparse_dim()}, {other.sparse_dim()}) differ")
            both = SparseCOOTensor(ops.concat([self._indices_t, other._indices_t], 1),
                                   ops.concat([self._values_t, other._values_t], 0), self.shape)
            # the sum of two coalesced tensors is coalesced, as PyTorch's (its indices() readable)
            return both.coalesce() if self._coalesced and other._coalesced else both
        return self.to_dense() + other

    __radd__ = __add__

    def __sub__(self, other):
        """``self + (-other)``: sparse with a sparse COO tensor, dense with a dense one."""
        return self + (-other)

    def __rsub__(self, other):
        return -self + other

    def softmax(self, dim: int, dtype=None):
        """Refused, as PyTorch's ``Tensor.softmax`` of a sparse tensor: the softmax over the specified entries is
        ``ember.sparse.softmax``."""
        raise RuntimeError(f"softmax(): a sparse COO tensor (shape {list(self.shape)}) has no dense softmax, as in "
                           "PyTorch; ember.sparse.softmax(x, dim) takes the softmax over its specified entries")

    def log_softmax(self, dim: int, dtype=None):
        """Refused, as PyTorch's ``Tensor.log_softmax`` of a sparse tensor: see ``ember.sparse.log_softmax``."""
        raise RuntimeError(f"log_softmax(): a sparse COO tensor (shape {list(self.shape)}) has no dense log_softmax, "
                           "as in PyTorch; ember.sparse.log_softmax(x, dim) takes it over its specified entries")

    def sum(self, dim=None) -> Tensor:
        return sum(self, dim)


def sparse_coo_tensor(indices, values, size=None, dtype=None, device=None, requires_grad: bool = False,
                      check_invariants: bool | None = None, is_coalesced: bool | None = None) -> SparseCOOTensor:
    """A sparse COO tensor (``torch.sparse_coo_tensor``): ``indices`` (sparse_dim, nnz) integers, ``values``
    (nnz, *dense dims); ``size`` defaults to the smallest that holds the indices. Coordinates are checked to lie
    inside ``size``."""
    index = _as_tensor(indices)
    if index.dtype.kind not in "iu" or index.ndim != 2:
        raise TypeError(f"sparse_coo_tensor: indices must be a 2-D integer tensor (sparse_dim, nnz), got "
                        f"{index.dtype}{list(index.shape)}")
    index = ops.cast(index, "int64") if index.dtype != np.int64 else index
    vals = _as_tensor(values, dtype)
    if dtype is not None and vals.dtype != np.dtype(dtype):
        vals = ops.cast(vals, dtype)
    if device is not None:
        vals = vals.to(device)
    if vals.ndim < 1 or vals.shape[0] != index.shape[1]:
        raise ValueError(f"sparse_coo_tensor: values of shape {list(vals.shape)} for {index.shape[1]} coordinates; "
                         "values must be (nnz, *dense dims)")
    coords = index.numpy()
    if size is None:
        sparse_sizes = tuple(int(c) for c in (coords.max(1) + 1)) if coords.shape[1] else (0,) * coords.shape[0]
        size = sparse_sizes + tuple(vals.shape[1:])
    size = tuple(int(s) for s in size)
    k = coords.shape[0]
    if len(size) != k + vals.ndim - 1 or size[k:] != tuple(vals.shape[1:]):
        raise ValueError(f"sparse_coo_tensor: size {list(size)} does not fit {k} sparse dimensions and values of "
                         f"shape {list(vals.shape)}")
    if coords.size and ((coords < 0).any() or (coords >= np.array(size[:k]).reshape(-1, 1)).any()):
        raise ValueError(f"sparse_coo_tensor: indices outside the size {list(size)}")
    if requires_grad:
        vals = vals.detach().requires_grad_()
    return SparseCOOTensor(index, vals, size, coalesced=bool(is_coalesced))


def to_sparse(x: Tensor, sparse_dim: int | None = None) -> SparseCOOTensor:
    """``Tensor.to_sparse()``: the non-zero entries of ``x`` (the first ``sparse_dim`` dimensions sparse, all by
    default) as a coalesced COO tensor; the values keep ``x``'s gradient."""
    k = x.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 < k <= x.ndim:
        raise ValueError(f"to_sparse: sparse_dim must be in [1, {x.ndim}], got {sparse_dim}")
    array = x.detach().numpy()
    nonzero = array.reshape(array.shape[:k] + (-1,)).any(-1) if k < x.ndim else array != 0
    coords = np.stack(np.nonzero(nonzero)).astype(np.int64) if x.ndim else np.zeros((0, 1), np.int64)
    linear = np.ravel_multi_index(tuple(coords), x.shape[:k]) if coords.shape[1] else np.zeros(0, np.int64)
    rows = ops.reshape(x, (-1,) + tuple(x.shape[k:]))
    values = ops.take(rows, _tensor(linear.astype(np.int64)), axis=0)
    return SparseCOOTensor(_tensor(coords), values, tuple(x.shape), coalesced=True)


def mm(sparse: SparseCOOTensor, dense) -> Tensor | SparseCOOTensor:
    """``sparse @ dense`` for a 2-D sparse tensor and a 2-D (or 1-D) dense one (``torch.sparse.mm``): each entry's
    value times its column's row of ``dense``, added into its row; gradients reach both. Two sparse matrices give
    a sparse (coalesced) product, as PyTorch's."""
    if not isinstance(sparse, SparseCOOTensor):
        raise TypeError(f"sparse.mm: the first argument must be a sparse COO tensor, got {type(sparse).__name__}")
    if isinstance(dense, SparseCOOTensor):
        if dense.sparse_dim() != 2 or dense.dense_dim():
            raise RuntimeError(f"sparse.mm: expects a 2-D sparse matrix as the second argument, got shape "
                               f"{dense.shape} with sparse_dim {dense.sparse_dim()}")
        return to_sparse(mm(sparse, dense.to_dense()))
    dense = _as_tensor(dense)
    if sparse.sparse_dim() != 2 or sparse.dense_dim():
        raise RuntimeError(f"sparse.mm: expects a 2-D sparse matrix, got shape {sparse.shape} with sparse_dim "
                           f"{sparse.sparse_dim()}")
    vector = dense.ndim == 1
    if vector:
        dense = ops.reshape(dense, (-1, 1))
    if dense.ndim != 2 or dense.shape[0] != sparse.shape[1]:
        raise RuntimeError(f"sparse.mm: shapes {list(sparse.shape)} and {list(dense.shape)} cannot be multiplied")
    rows, cols = sparse._indices_t[0], sparse._indices_t[1]
    contributions = ops.take(dense, cols, axis=0) * ops.reshape(sparse._values_t, (-1, 1))
    out = ops.index_add(zeros((sparse.shape[0], dense.shape[1]), dtype=contributions.dtype, device=dense.device),
                        rows, contributions, axis=0)
    return ops.reshape(out, (-1,)) if vector else out


def dense_mm(dense, sparse: SparseCOOTensor) -> Tensor:
    """``dense @ sparse`` for a dense tensor of one or more dimensions (its last one contracted, the others kept) and
    a 2-D sparse COO matrix, as ``torch.matmul``: ``(sparse^T @ dense^T)^T`` by ``mm``, so gradients reach the dense
    operand and the sparse values.

    >>> features @ adjacency   # (batch, nodes) @ (nodes, nodes), dense
    """
    if not isinstance(sparse, SparseCOOTensor):
        raise TypeError(f"matmul: expects a sparse COO tensor as the second operand, got {type(sparse).__name__}")
    dense = _as_tensor(dense)
    if sparse.sparse_dim() != 2 or sparse.dense_dim():
        raise RuntimeError(f"matmul: a dense tensor times a sparse one needs a 2-D sparse matrix, got shape "
                           f"{sparse.shape} with sparse_dim {sparse.sparse_dim()}")
    if dense.ndim == 0 or dense.shape[-1] != sparse.shape[0]:
        raise RuntimeError(f"matmul: shapes {list(dense.shape)} (dense) and {list(sparse.shape)} (sparse) cannot be "
                           "multiplied")
    rows = ops.reshape(dense, (-1, dense.shape[-1]))
    product = mm(sparse.t(), ops.transpose(rows))  # (cols, rows of dense): the entries' gather and scatter-add
    return ops.reshape(ops.transpose(product), tuple(dense.shape[:-1]) + (sparse.shape[1],))


def addmm(mat, mat1: SparseCOOTensor, mat2, *, beta: float = 1.0, alpha: float = 1.0) -> Tensor:
    """``beta * mat + alpha * (mat1 @ mat2)`` with a sparse ``mat1`` (``torch.sparse.addmm``); ``mat`` is ignored,
    NaN included, when ``beta`` is 0."""
    if not isinstance(mat1, SparseCOOTensor):
        raise TypeError(f"sparse.addmm: the second argument must be a sparse COO tensor, got {type(mat1).__name__}")
    return ops.addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


def sum(input: SparseCOOTensor, dim=None) -> Tensor:  # noqa: A001, A002  (torch.sparse.sum)
    """The sum of all entries (a 0-d tensor), or over ``dim`` (returned dense)."""
    if not isinstance(input, SparseCOOTensor):
        raise TypeError(f"sparse.sum: expects a sparse COO tensor, got {type(input).__name__}")
    if dim is None:
        # the entries' values, repeats merged in the values' dtype first (bool ones by or), as PyTorch's
        return ops.sum(input.coalesce()._values_t)
    return ops.sum(input.to_dense(), dim)


def _softmax(name: str, input: SparseCOOTensor, dim: int, dtype, log: bool) -> SparseCOOTensor:  # noqa: A002
    """The (log-)softmax over the specified entries along ``dim``, the unspecified ones taken as -inf."""
    if not isinstance(input, SparseCOOTensor):
        raise TypeError(f"sparse.{name}: expects a sparse COO tensor, got {type(input).__name__} "
                        f"{getattr(input, 'layout', '')}".rstrip())
    d = input._dim(f"sparse.{name}", dim)
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind != "f":
        raise TypeError(f"sparse.{name}: expects floating-point values, got {input.dtype} (pass dtype=)")
    merged = input.coalesce()
    values, k = merged._values_t, merged.sparse_dim()
    if d >= k:  # along a dense dimension: each entry's own values
        out = (ops.log_softmax if log else ops.softmax)(values, axis=d - k + 1)
        return SparseCOOTensor(merged._indices_t, out, merged.shape, coalesced=True)
    if merged._nnz() == 0:
        return SparseCOOTensor(merged._indices_t, values * 1, merged.shape, coalesced=True)
    # the entries that share every other sparse coordinate form one softmax
    others = np.delete(merged._indices_t.numpy(), d, axis=0)
    _, group = np.unique(others.T, axis=0, return_inverse=True)
    group = group.reshape(-1).astype(np.int64)
    groups = int(group.max()) + 1
    raw = values.detach().numpy()
    peak = np.full((groups,) + raw.shape[1:], -np.inf, raw.dtype)
    np.maximum.at(peak, group, raw)
    peak[~np.isfinite(peak)] = 0  # (a group of -inf: exp gives 0 / 0, NaN, as a dense softmax of -inf)
    group_t = _tensor(group)
    shifted = values - ops.take(_tensor(peak), group_t, axis=0)  # the peak is a constant: no gradient through it
    exp = ops.exp(shifted)
    total = ops.index_add(zeros((groups,) + tuple(raw.shape[1:]), dtype=values.dtype, device=values.device),
                          group_t, exp, axis=0)
    at_entries = ops.take(total, group_t, axis=0)
    out = shifted - ops.log(at_entries) if log else exp / at_entries
    return SparseCOOTensor(merged._indices_t, out, merged.shape, coalesced=True)


def softmax(input: SparseCOOTensor, dim: int, dtype=None) -> SparseCOOTensor:  # noqa: A002  (torch.sparse.softmax)
    """``torch.sparse.softmax``: the softmax along ``dim`` over the specified entries only (the unspecified ones count
    as -inf, so they stay unspecified), coalesced first; a sparse tensor of the same pattern, gradients to the
    values. ``dtype`` casts the input first."""
    return _softmax("softmax", input, dim, dtype, log=False)


def log_softmax(input: SparseCOOTensor, dim: int, dtype=None) -> SparseCOOTensor:  # noqa: A002
    """``torch.sparse.log_softmax``: the log of ``softmax``'s values, computed stably."""
    return _softmax("log_softmax", input, dim, dtype, log=True)

"""Sparse CSR matrices (PyTorch's ``torch.sparse_csr_tensor``, ``Tensor.to_sparse_csr``): each row's entries are
``col_indices[crow_indices[i]:crow_indices[i + 1]]`` with those ``values``. A CSR matrix is the COO tensor of the
same entries (``ember.sparse_coo``) with the rows compressed: its ``to_dense`` and its products with dense tensors are
the COO tensor's, so gradients reach the values and the dense operand the same way. ``torch.sparse``'s ``mm``,
``addmm`` and ``sum`` here take either layout. A CSR matrix's transpose is a CSC matrix (``SparseCSCTensor``, PyTorch's
``sparse_csc`` layout) of the same three arrays: each column's entries are ``row_indices[ccol_indices[j]:
ccol_indices[j + 1]]``.

>>> a = ember.sparse_csr_tensor([0, 2, 3], [0, 2, 1], [1.0, 2.0, 3.0], (2, 3))
>>> (a @ ember.ones(3, 4)).shape
(2, 4)
"""

from __future__ import annotations

import numpy as np

from ember import ops, sparse_coo
from ember.creation import tensor as _tensor
from ember.layouts import sparse_csc, sparse_csr
from ember.sparse_coo import SparseCOOTensor, SparseTensorBase
from ember.tensor import Tensor

__all__ = ["SparseCSCTensor", "SparseCSRTensor", "addmm", "mm", "sparse_csr_tensor", "sum", "to_sparse_csr"]


def _as_tensor(value, dtype=None) -> Tensor:
    return value if isinstance(value, Tensor) else _tensor(value, dtype=dtype)


class SparseCSRTensor(SparseTensorBase):
    """A (rows, cols) matrix, zero except at ``col_indices`` (nnz,), row i's entries being positions
    ``crow_indices[i]`` to ``crow_indices[i + 1]`` (rows + 1,) of ``col_indices`` and ``values`` (nnz,)."""

    is_sparse = False  # (PyTorch's is_sparse is for the COO layout)
    is_sparse_csr = True
    layout = sparse_csr

    def __init__(self, crow_indices: Tensor, col_indices: Tensor, values: Tensor, shape: tuple):
        self._crow, self._col, self._values_t, self.shape = crow_indices, col_indices, values, tuple(shape)
        self._rows = None  # each entry's row (int64, nnz), expanded from crow_indices when first needed

    # --- what PyTorch's sparse tensors answer -------------------------------------------------------------

    @property
    def grad(self) -> SparseCSRTensor | None:
        """The gradient of the values as a CSR matrix of the same entries (as PyTorch's), or None."""
        g = self._values_t.grad
        return None if g is None else SparseCSRTensor(self._crow, self._col, g, self.shape)

    def sparse_dim(self) -> int:
        return 2

    def dense_dim(self) -> int:
        return 0

    def crow_indices(self) -> Tensor:
        """Where each row's entries start in ``col_indices`` and ``values``, and nnz last (rows + 1,)."""
        return self._crow

    def col_indices(self) -> Tensor:
        """Each entry's column (nnz,)."""
        return self._col

    def values(self) -> Tensor:
        """Each entry's value (nnz,), row by row."""
        return self._values_t

    def _with_values(self, values: Tensor) -> SparseCSRTensor:
        return SparseCSRTensor(self._crow, self._col, values, self.shape)

    def __repr__(self) -> str:
        return (f"sparse_csr_tensor(crow_indices={self._crow.numpy().tolist()}, "
                f"col_indices={self._col.numpy().tolist()}, values={self._values_t.detach()!r}, size={self.shape}, "
                f"nnz={self._nnz()}, layout=sparse_csr)")

    # --- conversions -------------------------------------------------------------------------------------

    def _row_indices(self) -> np.ndarray:
        if self._rows is None:
            self._rows = np.repeat(np.arange(self.shape[0], dtype=np.int64), np.diff(self._crow.numpy()))
        return self._rows

    def to_sparse_coo(self) -> SparseCOOTensor:
        """The COO tensor of the same entries and values (coalesced when each row's columns increase)."""
        rows, cols = self._row_indices(), self._col.numpy()
        linear = rows * self.shape[1] + cols
        coalesced = bool((linear[1:] > linear[:-1]).all())
        return SparseCOOTensor(_tensor(np.stack([rows, cols])), self._values_t, self.shape, coalesced)

    def to_sparse(self, sparse_dim: int | None = None) -> SparseCOOTensor:
        """``to_sparse_coo``: PyTorch's ``to_sparse()`` of a CSR matrix is its COO tensor."""
        if sparse_dim not in (None, 2):
            raise ValueError(f"to_sparse: a CSR matrix has 2 sparse dimensions, got sparse_dim={sparse_dim}")
        return self.to_sparse_coo()

    def to_sparse_csr(self) -> SparseCSRTensor:
        return self

    def to_dense(self) -> Tensor:
        """The dense matrix (repeated entries summed); differentiable in the values."""
        return self.to_sparse_coo().to_dense()

    def t(self) -> SparseCSCTensor:
        """The transpose: a CSC matrix of the same arrays (PyTorch's), its values this matrix's (gradients shared)."""
        return SparseCSCTensor(self._crow, self._col, self._values_t, self.shape[::-1])

    def transpose(self, dim0: int, dim1: int) -> SparseCSRTensor | SparseCSCTensor:
        """``t()`` for dimensions 0 and 1 (either order, or negative); the matrix itself for a dimension with itself,
        as PyTorch's."""
        return self.t() if _transposes(dim0, dim1) else self

    # --- arithmetic --------------------------------------------------------------------------------------

    def __matmul__(self, other) -> Tensor:
        return mm(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return sparse_coo.dense_mm(other, self.to_sparse_coo())

    def mm(self, other) -> Tensor:
        return mm(self, other)

    def matmul(self, other) -> Tensor:
        return mm(self, other)

    def __mul__(self, other) -> SparseCSRTensor:
        """The values scaled by a number (or a 0-d tensor); with a dense or sparse tensor, the COO tensor's elementwise
        product at this matrix's entries, as a CSR matrix (PyTorch's)."""
        if not isinstance(other, SparseTensorBase) and np.ndim(other) == 0:
            return SparseCSRTensor(self._crow, self._col, self._values_t * other, self.shape)
        return to_sparse_csr(self.to_sparse_coo() * other)

    __rmul__ = __mul__

    def __neg__(self) -> SparseCSRTensor:
        """The values negated (a bool tensor refused, as a dense one's ``-``)."""
        return self._with_values(-self._values_t)

    def abs(self) -> SparseCSRTensor:
        """The absolute values at the same entries, as PyTorch's."""
        return self._with_values(ops.abs(self._values_t))

    __abs__ = abs

    def __add__(self, other):
        """The CSR matrix of both's entries with a CSR matrix (as PyTorch's), else the dense sum."""
        if isinstance(other, SparseCSRTensor):
            return to_sparse_csr(self.to_sparse_coo() + other.to_sparse_coo())
        return self.to_dense() + other

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return -self + other

    def sum(self, dim=None) -> Tensor:
        return sum(self, dim)


def _transposes(dim0: int, dim1: int) -> bool:
    """Whether ``transpose(dim0, dim1)`` of a matrix swaps its dimensions; an IndexError for one outside [-2, 1]."""
    for dim in (dim0, dim1):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not -2 <= dim < 2:
            raise IndexError(f"transpose: dimension {dim!r} out of range for a sparse matrix (expected in [-2, 1])")
    return dim0 % 2 != dim1 % 2


class SparseCSCTensor(SparseTensorBase):
    """A (rows, cols) matrix stored column by column (PyTorch's ``sparse_csc``): column j's entries are positions
    ``ccol_indices[j]`` to ``ccol_indices[j + 1]`` of ``row_indices`` and ``values``; the transpose of the CSR matrix
    of the same arrays, and computed as it (products, ``to_dense``), so gradients reach the values the same way."""

    is_sparse = False  # (PyTorch's is_sparse is for the COO layout, is_sparse_csr for CSR)
    is_sparse_csr = False
    layout = sparse_csc

    def __init__(self, ccol_indices: Tensor, row_indices: Tensor, values: Tensor, shape: tuple):
        self._ccol, self._row, self._values_t, self.shape = ccol_indices, row_indices, values, tuple(shape)

    @property
    def grad(self) -> SparseCSCTensor | None:
        """The gradient of the values as a CSC matrix of the same entries, or None (PyTorch's ``mm`` gives a leaf CSC
        matrix a dense gradient, the unspecified entries' included; here only the values have one)."""
        g = self._values_t.grad
        return None if g is None else SparseCSCTensor(self._ccol, self._row, g, self.shape)

    def sparse_dim(self) -> int:
        return 2

    def dense_dim(self) -> int:
        return 0

    def ccol_indices(self) -> Tensor:
        """Where each column's entries start in ``row_indices`` and ``values``, and nnz last (cols + 1,)."""
        return self._ccol

    def row_indices(self) -> Tensor:
        """Each entry's row (nnz,)."""
        return self._row

    def values(self) -> Tensor:
        """Each entry's value (nnz,), column by column."""
        return self._values_t

    def _with_values(self, values: Tensor) -> SparseCSCTensor:
        return SparseCSCTensor(self._ccol, self._row, values, self.shape)

    def __repr__(self) -> str:
        return (f"sparse_csc_tensor(ccol_indices={self._ccol.numpy().tolist()}, "
                f"row_indices={self._row.numpy().tolist()}, values={self._values_t.detach()!r}, size={self.shape}, "
                f"nnz={self._nnz()}, layout=sparse_csc)")

    def t(self) -> SparseCSRTensor:
        """The transpose: the CSR matrix of the same arrays."""
        return SparseCSRTensor(self._ccol, self._row, self._values_t, self.shape[::-1])

    def transpose(self, dim0: int, dim1: int) -> SparseCSCTensor | SparseCSRTensor:
        return self.t() if _transposes(dim0, dim1) else self

    def to_sparse_coo(self) -> SparseCOOTensor:
        """The COO tensor of the same entries, column by column (marked uncoalesced, as PyTorch's)."""
        transposed = self.t().to_sparse_coo()
        return SparseCOOTensor(_tensor(transposed._indices_t.numpy()[::-1].copy()), self._values_t, self.shape)

    def to_sparse(self, sparse_dim: int | None = None) -> SparseCOOTensor:
        if sparse_dim not in (None, 2):
            raise ValueError(f"to_sparse: a CSC matrix has 2 sparse dimensions, got sparse_dim={sparse_dim}")
        return self.to_sparse_coo()

    def to_sparse_csr(self) -> SparseCSRTensor:
        """The CSR matrix of the same entries, row by row, repeated ones summed (PyTorch's)."""
        return to_sparse_csr(self.to_sparse_coo())

    def to_sparse_csc(self) -> SparseCSCTensor:
        return self

    def to_dense(self) -> Tensor:
        """The dense matrix (repeated entries summed); differentiable in the values."""
        return ops.transpose(self.t().to_dense())

    def __matmul__(self, other) -> Tensor:
        return mm(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return sparse_coo.dense_mm(other, self.to_sparse_coo())

    def mm(self, other) -> Tensor:
        return mm(self, other)

    def matmul(self, other) -> Tensor:
        return mm(self, other)

    def __mul__(self, other) -> SparseCSCTensor:
        """The values scaled by a number (or a 0-d tensor), as PyTorch's; other operands are refused (use
        ``to_sparse_csr()`` or ``to_dense()``)."""
        if isinstance(other, SparseTensorBase) or np.ndim(other) != 0:
            raise TypeError("CSC * tensor: only a number or a 0-d tensor multiplies a CSC matrix here; convert it "
                            "with to_sparse_csr() or to_dense() first")
        return self._with_values(self._values_t * other)

    __rmul__ = __mul__

    def __neg__(self) -> SparseCSCTensor:
        return self._with_values(-self._values_t)

    def sum(self, dim=None) -> Tensor:
        return sum(self, dim)


def _int_vector(name: str, what: str, value) -> Tensor:
    index = _as_tensor(value)
    if index.dtype.kind not in "iu" or index.ndim != 1:
        raise TypeError(f"{name}: {what} must be a 1-D integer tensor, got {index.dtype}{list(index.shape)}")
    return ops.cast(index, "int64") if index.dtype != np.int64 else index


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      requires_grad: bool = False, check_invariants: bool | None = None) -> SparseCSRTensor:
    """A sparse CSR matrix (``torch.sparse_csr_tensor``): ``crow_indices`` (rows + 1,) from 0 to nnz,
    ``col_indices`` and ``values`` (nnz,); ``size`` defaults to (rows, the largest column + 1). The indices are
    checked against each other and ``size``.

    >>> ember.sparse_csr_tensor([0, 1, 2], [1, 0], [5.0, 6.0]).to_dense().numpy().tolist()
    [[0.0, 5.0], [6.0, 0.0]]
    """
    name = "sparse_csr_tensor"
    crow, col = _int_vector(name, "crow_indices", crow_indices), _int_vector(name, "col_indices", col_indices)
    vals = _as_tensor(values, dtype)
    if dtype is not None and vals.dtype != np.dtype(dtype):
        vals = ops.cast(vals, dtype)
    if device is not None:
        vals = vals.to(device)
    if vals.ndim != 1 or vals.shape[0] != col.shape[0]:
        raise ValueError(f"{name}: values of shape {list(vals.shape)} for {col.shape[0]} column indices; values "
                         "must be (nnz,)")
    starts, columns = crow.numpy(), col.numpy()
    if starts.size == 0 or starts[0] != 0 or starts[-1] != columns.size or (np.diff(starts) < 0).any():
        raise ValueError(f"{name}: crow_indices must rise from 0 to nnz ({columns.size}), got {starts.tolist()}")
    if size is None:
        size = (starts.size - 1, int(columns.max()) + 1 if columns.size else 0)
    size = tuple(int(s) for s in size)
    if len(size) != 2 or size[0] != starts.size - 1:
        raise ValueError(f"{name}: size {list(size)} must be (rows, cols) with {starts.size - 1} rows, one fewer "
                         "than crow_indices' length")
    if columns.size and (columns.min() < 0 or columns.max() >= size[1]):
        raise ValueError(f"{name}: col_indices outside the {size[1]} columns of size {list(size)}")
    if requires_grad:
        vals = vals.detach().requires_grad_()
    return SparseCSRTensor(crow, col, vals, size)


def _from_entries(rows: np.ndarray, cols: np.ndarray, values: Tensor, shape: tuple) -> SparseCSRTensor:
    """The CSR matrix of entries given row by row (``rows`` sorted)."""
    crow = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))]).astype(np.int64)
    return SparseCSRTensor(_tensor(crow), _tensor(cols.astype(np.int64)), values, shape)


def to_sparse_csr(x, dense_dim: int | None = None) -> SparseCSRTensor:
    """``Tensor.to_sparse_csr()`` and ``SparseCOOTensor.to_sparse_csr()``: the non-zero entries of a 2-D tensor (the
    entries of a 2-D COO tensor, coalesced) as a CSR matrix; the values keep the gradient."""
    if isinstance(x, SparseCSRTensor):
        return x
    if dense_dim:
        raise ValueError(f"to_sparse_csr: dense dimensions are not supported, got dense_dim={dense_dim}")
    if isinstance(x, SparseCOOTensor):
        if x.sparse_dim() != 2 or x.dense_dim():
            raise RuntimeError(f"to_sparse_csr: expects a 2-D sparse COO matrix, got shape {x.shape} with sparse_dim "
                               f"{x.sparse_dim()}")
        x = x.coalesce()
        coords = x.indices().numpy()
        return _from_entries(coords[0], coords[1], x.values(), x.shape)
    x = _as_tensor(x)
    if x.ndim != 2:
        raise RuntimeError(f"to_sparse_csr: expects a 2-D tensor, got shape {list(x.shape)}")
    rows, cols = np.nonzero(x.detach().numpy())
    values = ops.take(ops.reshape(x, (-1,)), _tensor((rows * x.shape[1] + cols).astype(np.int64)))
    return _from_entries(rows, cols, values, tuple(x.shape))


def mm(sparse, dense) -> Tensor | SparseCOOTensor:
    """``sparse @ dense`` (``torch.sparse.mm``) for a CSR or COO matrix ``sparse``: the COO tensor's product,
    gradients reaching the values and the dense operand; ``dense @ sparse`` too (a dense first matrix, a sparse second
    one), as PyTorch's."""
    if isinstance(dense, SparseTensorBase) and not isinstance(sparse, SparseTensorBase):
        return _dense_mm(sparse, dense)
    if isinstance(sparse, SparseCSCTensor):
        sparse = sparse.to_sparse_coo()
    if isinstance(dense, SparseCSCTensor):
        dense = dense.to_sparse_coo()
    if isinstance(sparse, SparseCSRTensor):
        if isinstance(dense, SparseCSRTensor):
            return to_sparse_csr(sparse_coo.mm(sparse.to_sparse_coo(), dense.to_sparse_coo()))
        return sparse_coo.mm(sparse.to_sparse_coo(), dense)
    if not isinstance(sparse, SparseCOOTensor):
        raise TypeError(f"sparse.mm: the first argument must be a sparse COO or CSR tensor, got "
                        f"{type(sparse).__name__}")
    return sparse_coo.mm(sparse, dense.to_sparse_coo() if isinstance(dense, SparseCSRTensor) else dense)


def _dense_mm(dense, sparse) -> Tensor:
    """``dense @ sparse`` for a dense matrix and a sparse (COO or CSR) one: the COO tensor's product."""
    dense = _as_tensor(dense)
    if dense.ndim != 2:
        raise RuntimeError(f"sparse.mm: expects a 2-D dense matrix before the sparse one, got shape "
                           f"{list(dense.shape)}")
    return sparse_coo.dense_mm(dense, sparse.to_sparse_coo() if not isinstance(sparse, SparseCOOTensor) else sparse)


def addmm(mat, mat1, mat2, *, beta: float = 1.0, alpha: float = 1.0) -> Tensor:
    """``beta * mat + alpha * (mat1 @ mat2)`` with a sparse (COO or CSR) ``mat1`` or ``mat2``, the other dense
    (``torch.sparse.addmm``): ``ember.addmm``'s sum, so ``mat`` is ignored, NaN included, when ``beta`` is 0."""
    return ops.addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


def sum(input, dim=None) -> Tensor:  # noqa: A001, A002  (torch.sparse.sum)
    """The sum of all entries of a COO or CSR tensor (a 0-d tensor), or over ``dim`` (returned dense)."""
    return sparse_coo.sum(input.to_sparse_coo() if isinstance(input, (SparseCSRTensor, SparseCSCTensor)) else input,
                          dim)

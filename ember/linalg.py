"""``torch.linalg`` under Ember: decompositions, inverses, solves and norms of (batches of) matrices, with
gradients. The functions are the op library's (``ember.ops.decompositions``, ``ember.ops.matrix_functions``).

>>> a = ember.randn(3, 3, dtype=ember.float64, requires_grad=True)
>>> sign, logabsdet = ember.linalg.slogdet(a)
>>> logabsdet.backward()  # a.grad is inv(a).T
"""

from __future__ import annotations

from ember.ops.decompositions import (
    EighResult,
    LinAlgError,
    QrResult,
    SlogdetResult,
    SvdResult,
    cholesky,
    det,
    eigh,
    eigvalsh,
    inv,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
)
from ember.ops.linalg import matmul
from ember.ops.matrix_functions import linalg_cross as cross
from ember.ops.matrix_functions import matrix_norm, matrix_power, norm, vector_norm
from ember.ops.products_torch import linalg_vander as vander
from ember.ops.products_torch import multi_dot

__all__ = [
    "EighResult", "LinAlgError", "QrResult", "SlogdetResult", "SvdResult", "cholesky", "cross", "det", "eigh",
    "eigvalsh", "inv", "matmul", "matrix_norm", "matrix_power", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve",
    "svd", "svdvals", "vander", "vector_norm",
]

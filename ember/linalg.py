"""``torch.linalg`` under Ember: decompositions, inverses, solves, least squares, the matrix exponential and norms
of (batches of) matrices, with gradients. The functions are the op library's (``ember.ops.decompositions``,
``lu``, ``triangular``, ``matrix_exp``, ``least_squares``, ``matrix_chain``, ``householder``, ``eig`` and
``matrix_functions``).

>>> a = ember.randn(3, 3, dtype=ember.float64, requires_grad=True)
>>> sign, logabsdet = ember.linalg.slogdet(a)
>>> logabsdet.backward()  # a.grad is inv(a).T
"""

from __future__ import annotations

from ember.ops.decompositions import (
    CholeskyExResult,
    EighResult,
    LinAlgError,
    QrResult,
    SlogdetResult,
    SvdResult,
    cholesky,
    cholesky_ex,
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
from ember.ops.eig import EigResult, eig, eigvals
from ember.ops.householder import householder_product
from ember.ops.least_squares import LstsqResult, cond, lstsq, matrix_rank
from ember.ops.linalg import matmul
from ember.ops.lu import (
    InvExResult,
    LuFactorExResult,
    LuFactorResult,
    LuResult,
    SolveExResult,
    inv_ex,
    lu,
    lu_factor,
    lu_factor_ex,
    lu_solve,
    solve_ex,
)
from ember.ops.matrix_chain import diagonal, multi_dot, tensorinv, tensorsolve, vecdot
from ember.ops.matrix_exp import matrix_exp
from ember.ops.matrix_functions import linalg_cross as cross
from ember.ops.matrix_functions import matrix_norm, matrix_power, norm, vector_norm
from ember.ops.products_torch import linalg_vander as vander
from ember.ops.triangular import solve_triangular

__all__ = [
    "CholeskyExResult", "EigResult", "EighResult", "InvExResult", "LinAlgError", "LstsqResult", "LuFactorExResult",
    "LuFactorResult", "LuResult", "QrResult", "SlogdetResult", "SolveExResult", "SvdResult", "cholesky",
    "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "householder_product",
    "inv", "inv_ex",
    "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
    "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "solve_triangular", "svd",
    "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot", "vector_norm",
]

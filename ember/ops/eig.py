"""The eigendecomposition of general square matrices (``torch.linalg.eig``/``eigvals``), complex whatever the
input, and ``complex_solve``, the solve of complex systems its gradient needs.

``eig`` is one op with a ``part`` attribute (eigenvalues, eigenvectors, or ``eigvals``' eigenvalues alone); the
parts share one LAPACK call within one eager ``eig`` call, as ``eigh``'s do. The gradient is PyTorch's:
gA = V^-H (diag(gL) + (V^H gV - V^H V Re(diag(V^H gV))) / conj(E)) V^H with E_ij = L_j - L_i (1 on the diagonal),
its real part for a real A. Eigenvectors are defined up to a complex phase each, so a loss that depends on that phase
has no gradient (PyTorch checks it and raises; Ember does not). Distinct eigenvalues are needed, as for ``eigh``.
"""

from __future__ import annotations

from collections import namedtuple

from ember.backend.dtypes import COMPLEX, complex_of, float32, float64
from ember.ops import dispatch
from ember.ops.autocast import widened
from ember.ops.complex_parts import conj, real
from ember.ops.convert import as_tensor, promote
from ember.ops.decompositions import _cubic_cost, _diag_embed, _eye, _factored, _mT, _one_factorization
from ember.ops.dispatch import TensorLike
from ember.ops.infer import differ
from ember.ops.linalg import matmul
from ember.ops.registry import NO_ONNX, Spec, defop, describe, shape_error
from ember.ops.shape import unsqueeze

EigResult = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])  # like torch.return_types.linalg_eig
EigResult.__doc__ = "``eig(A)``: the eigenvalues and the eigenvectors (as columns, each of norm 1), complex."

_SQUARE_DTYPES = (float32, float64) + tuple(COMPLEX)


def _check_square(name: str, specs) -> None:
    for s in specs:
        if s.dtype not in _SQUARE_DTYPES:
            raise TypeError(f"{name}: expects float32, float64, complex64 or complex128 matrices, got "
                            f"{describe(specs)}")
    x = specs[0]
    if x.ndim < 2:
        raise shape_error(name, specs, "expects a matrix or a batch of matrices (at least 2 dimensions)")
    if differ(x.shape[-1], x.shape[-2]):
        raise shape_error(name, specs, "expects square matrices (the last two dimensions equal)")


def _hermitian(x: TensorLike) -> TensorLike:
    return _mT(conj(x))


# --- complex_solve -------------------------------------------------------------------------------------------


def _solve_infer(a: Spec, b: Spec) -> Spec:
    _check_square("complex_solve", [a, b])
    if a.dtype != b.dtype or b.ndim != a.ndim or differ(b.shape[-2], a.shape[-1]):
        raise shape_error("complex_solve", [a, b], "expects A (..., n, n) and B (..., n, k) of one dtype and rank")
    return Spec(tuple(b.shape), a.dtype)


def _solve_vjp(ctx, g):
    a, _ = ctx.inputs
    gb = complex_solve(_hermitian(a), g)  # A^-H g
    ga = -matmul(gb, _hermitian(complex_solve(a, ctx.inputs[1]))) if ctx.needs[0] else None
    return ga, gb


COMPLEX_SOLVE = defop("complex_solve", forward=lambda xp, a, b: xp.linalg.solve(a, b), infer=_solve_infer,
                      vjp=_solve_vjp, cost=_cubic_cost, onnx=NO_ONNX)


def complex_solve(a, b) -> TensorLike:
    """X with A X = B for square A (..., n, n) and B (..., n, k) of one rank (no broadcasting; the dtypes
    promote): the solve ``eig``'s gradient needs, with gradients of every order for complex matrices."""
    a, b = promote(a, b)
    _solve_infer(Spec(tuple(a.shape), a.dtype), Spec(tuple(b.shape), b.dtype))
    return dispatch.apply(COMPLEX_SOLVE, (a, b))


# --- eig -------------------------------------------------------------------------------------------------------


def _eig_forward(xp, x, *, part):
    dtype = complex_of(x.dtype)
    if part == "eigvals":
        return xp.linalg.eigvals(x).astype(dtype, copy=False)  # NumPy gives real ones when all are real
    values, vectors = _factored(x, ("eig",), lambda: xp.linalg.eig(x))
    return (values if part == "values" else vectors).astype(dtype, copy=False)


def _eig_infer(x: Spec, *, part) -> Spec:
    if part not in ("values", "vectors", "eigvals"):
        raise ValueError(f"eig: part must be one of ['values', 'vectors', 'eigvals'], got {part!r}")
    _check_square("eig", [x])
    return Spec(tuple(x.shape) if part == "vectors" else tuple(x.shape[:-1]), complex_of(x.dtype))


def _eig_vjp(ctx, g):
    a = ctx.inputs[0]
    values, vectors = eig(a)
    vectors_h = _hermitian(vectors)
    if ctx.attrs["part"] != "vectors":
        inner = _diag_embed(g)
    else:
        product = matmul(vectors_h, g)
        diagonal = real((product * _eye(a.shape[-1], product)).sum(-2))  # Re diag(V^H gV)
        product = product - matmul(vectors_h, vectors * unsqueeze(diagonal, -2))
        gaps = unsqueeze(values, -2) - unsqueeze(values, -1) + _eye(a.shape[-1], values)
        inner = product / conj(gaps)
    ga = complex_solve(vectors_h, matmul(inner, vectors_h))
    return (ga if a.dtype in COMPLEX else real(ga),)  # a real A's gradient is real


EIG = defop("eig", forward=_eig_forward, infer=_eig_infer, vjp=_eig_vjp, cost=_cubic_cost, onnx=NO_ONNX)


def _square(name: str, x) -> TensorLike:
    (x,) = widened(as_tensor(x))  # (float32 in an autocast region, as PyTorch's)
    _check_square(name, [Spec(tuple(x.shape), x.dtype)])
    return x


def eig(A) -> EigResult:  # noqa: N803  (PyTorch's name)
    """The eigenvalues and eigenvectors of each square matrix (``torch.linalg.eig``): complex (complex64 for
    float32), eigenvectors as columns of norm 1, in LAPACK's order. See the module docstring for the gradient.

    >>> ember.linalg.eig(ember.tensor([[0.0, -1.0], [1.0, 0.0]])).eigenvalues.tolist()
    [1j, -1j]
    """
    x = _square("eig", A)
    with _one_factorization():
        return EigResult(dispatch.apply(EIG, (x,), {"part": "values"}), dispatch.apply(EIG, (x,), {"part": "vectors"}))


def eigvals(A) -> TensorLike:  # noqa: N803
    """The eigenvalues of each square matrix, complex (``torch.linalg.eigvals``)."""
    return dispatch.apply(EIG, (_square("eigvals", A),), {"part": "eigvals"})

"""ember.linalg and the top-level and Tensor spellings of PyTorch's linear algebra, checked against PyTorch: values
and result types, float32 and float64, batches, gradients, and the errors for singular and indefinite matrices.

Eigenvectors and singular vectors are defined up to sign (and LAPACK drivers may choose differently), so they are
compared through sign-free quantities: their squares, or products such as U diag(S) Vh."""

import numpy as np
import pytest

import ember
from ember.graph.ir import GraphError

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}
DTYPES = [np.float32, np.float64]


def _sample(*shape, dtype=np.float64, seed=0, kind="normal"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if kind == "spd":  # symmetric positive-definite
        a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    elif kind == "square":  # well conditioned
        a = a + 3 * np.eye(shape[-1])
    return a.astype(dtype)


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def _check(ours, theirs, *arrays, dtype=np.float64):
    """``ours`` and ``theirs`` (functions of the inputs returning a tensor or a tuple) agree in values, dtypes and
    the gradients of a weighted sum of their outputs."""
    mine = [ember.tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    got, want = _outputs(ours(*mine)), _outputs(theirs(*ref))
    assert len(got) == len(want)
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal(tuple(w.shape)).astype(dtype) for w in want]
    for g, w in zip(got, want):
        assert g.dtype == dtype and tuple(g.shape) == tuple(w.shape)
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), **TOL[dtype])
    sum((g * ember.tensor(u)).sum() for g, u in zip(got, weights)).backward()
    sum((w * torch.tensor(u)).sum() for w, u in zip(want, weights)).backward()
    for m, r in zip(mine, ref):
        assert m.grad.dtype == dtype
        scale = max(1.0, float(np.abs(r.grad.numpy()).max()))
        np.testing.assert_allclose(m.grad.numpy() / scale, r.grad.numpy() / scale, **TOL[dtype])


# --- values and gradients, float32 and float64, batched and not -----------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 4, 4)])
@pytest.mark.parametrize("name", ["det", "inv"])
def test_det_and_inv(name, shape, dtype):
    _check(getattr(ember.linalg, name), getattr(torch.linalg, name), _sample(*shape, dtype=dtype, kind="square"),
           dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_slogdet_is_a_named_pair_and_logdet_follows_torch(dtype):
    a = _sample(2, 4, 4, dtype=dtype)
    _check(lambda x: tuple(ember.linalg.slogdet(x)), lambda x: tuple(torch.linalg.slogdet(x)), a, dtype=dtype)
    result = ember.slogdet(ember.tensor(a))
    assert type(result).__name__ == "linalg_slogdet" and result._fields == ("sign", "logabsdet")
    _check(ember.logdet, torch.logdet, _sample(3, 3, dtype=dtype, kind="spd"), dtype=dtype)
    negative = np.diag([1.0, -2.0, 3.0]).astype(dtype)  # logdet of a negative determinant is NaN, as torch's
    assert np.isnan(ember.logdet(ember.tensor(negative)).item())
    assert np.isnan(torch.logdet(torch.tensor(negative)).item())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_shape, b_shape, left", [
    ((3, 3), (3, 2), True), ((2, 3, 3), (2, 3), True), ((2, 3, 3), (3, 4), True), ((3, 3), (4, 2, 3, 1), True),
    ((2, 3, 3), (2, 5, 3), False), ((3, 3), (2, 3), False), ((2, 3, 3), (1, 4, 3), False)])
def test_solve_with_vectors_broadcast_batches_and_left(a_shape, b_shape, left, dtype):
    a, b = _sample(*a_shape, dtype=dtype, kind="square"), _sample(*b_shape, dtype=dtype, seed=1)
    _check(lambda x, y: ember.linalg.solve(x, y, left=left), lambda x, y: torch.linalg.solve(x, y, left=left), a, b,
           dtype=dtype)


@pytest.mark.parametrize("b_shape", [(3, 2), (2, 3), (3,)])
def test_solve_with_left_false_refuses_a_vector_and_a_transposed_b_as_torch(b_shape):
    # B transposed went through the left=True rules: B (3, 2) for A (2, 3, 3) was read as two vectors, and a
    # (3, 2) result came back where X A = B has none
    a, b = _sample(2, 3, 3, kind="square"), _sample(*b_shape, seed=1)
    with pytest.raises(ValueError, match="solve"):
        ember.linalg.solve(ember.tensor(a), ember.tensor(b), left=False)
    with pytest.raises(RuntimeError):
        torch.linalg.solve(torch.tensor(a), torch.tensor(b), left=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(upper, dtype):
    a = _sample(2, 4, 4, dtype=dtype, kind="spd")
    _check(lambda x: ember.linalg.cholesky(x, upper=upper), lambda x: torch.linalg.cholesky(x, upper=upper), a,
           dtype=dtype)
    _check(lambda x: ember.cholesky(x, upper), lambda x: torch.linalg.cholesky(x, upper=upper), a, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, mode", [((5, 3), "reduced"), ((2, 3, 5), "reduced"), ((4, 4), "reduced"),
                                         ((2, 3, 5), "complete"), ((5, 3), "complete")])
def test_qr(shape, mode, dtype):
    a = _sample(*shape, dtype=dtype)
    q, r = ember.linalg.qr(ember.tensor(a), mode)
    assert type(ember.linalg.qr(ember.tensor(a))).__name__ == "linalg_qr"
    np.testing.assert_allclose((q @ r).numpy(), a, **TOL[dtype])
    if mode == "complete" and shape[-2] > shape[-1]:  # values only: torch refuses this gradient, as Ember does
        tq, tr = torch.linalg.qr(torch.tensor(a), mode)
        np.testing.assert_allclose(q.numpy(), tq.numpy(), **TOL[dtype])
        x = ember.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match="qr: not differentiable with mode='complete'"):
            ember.linalg.qr(x, mode).R.sum().backward()
        return
    _check(lambda x: tuple(ember.linalg.qr(x, mode)), lambda x: tuple(torch.linalg.qr(x, mode)), a, dtype=dtype)


def test_qr_mode_r_gives_r_alone_and_no_gradient():
    a = _sample(4, 3)
    q, r = ember.linalg.qr(ember.tensor(a, requires_grad=True), "r")
    tq, tr = torch.linalg.qr(torch.tensor(a), "r")
    assert tuple(q.shape) == tuple(tq.shape) == (0,)
    np.testing.assert_allclose(r.detach().numpy(), tr.numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="mode='r'"):
        r.sum().backward()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("uplo", ["L", "U", "u"])  # (a lower-case UPLO was refused; PyTorch takes it)
def test_eigh_values_and_vectors(uplo, dtype):
    a = _sample(2, 4, 4, dtype=dtype)  # not symmetric: each reads its UPLO triangle, and so do the gradients

    def ours(x):
        w, v = ember.linalg.eigh(x, UPLO=uplo)
        return w, v * v

    def theirs(x):
        w, v = torch.linalg.eigh(x, UPLO=uplo)
        return w, v * v

    _check(ours, theirs, a, dtype=dtype)
    _check(lambda x: ember.linalg.eigvalsh(x, UPLO=uplo), lambda x: torch.linalg.eigvalsh(x, UPLO=uplo), a,
           dtype=dtype)
    assert ember.linalg.eigh(ember.tensor(a))._fields == ("eigenvalues", "eigenvectors")


def _svd_invariants(u, s, vh, k):
    """Sign-free functions of an SVD: the reconstruction, the rank-one terms' sum with weights, the squares."""
    weights = s * s  # (a function of S alone, so the product's gradient reaches S too)
    return (u[..., :, :k] * weights[..., None, :k]) @ vh[..., :k, :], s, u[..., :, :k] ** 2, vh[..., :k, :] ** 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 3, 5)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd(shape, full_matrices, dtype):
    k = min(shape[-2:])
    a = _sample(*shape, dtype=dtype)
    _check(lambda x: _svd_invariants(*ember.linalg.svd(x, full_matrices), k),
           lambda x: _svd_invariants(*torch.linalg.svd(x, full_matrices), k), a, dtype=dtype)
    u, s, vh = ember.linalg.svd(ember.tensor(a), full_matrices)
    tu, ts, tvh = torch.linalg.svd(torch.tensor(a), full_matrices)
    assert (u.shape, s.shape, vh.shape) == (tuple(tu.shape), tuple(ts.shape), tuple(tvh.shape))
    eye = np.eye(u.shape[-1])  # the full matrices' extra columns still complete an orthonormal basis
    np.testing.assert_allclose((u.mT @ u).numpy(), np.broadcast_to(eye, u.mT.shape[:-1] + (u.shape[-1],)),
                               atol=1e-5)
    _check(ember.linalg.svdvals, torch.linalg.svdvals, a, dtype=dtype)


def test_torch_svd_returns_v_and_torch_qr_takes_some():
    a = _sample(2, 5, 3)
    u, s, v = ember.svd(ember.tensor(a))
    assert type(ember.svd(ember.tensor(a))).__name__ == "svd" and v.shape == (2, 3, 3)
    np.testing.assert_allclose((u * s[..., None, :] @ v.mT).numpy(), a, rtol=1e-10, atol=1e-12)
    u, s, v = ember.tensor(a).svd(some=False)
    assert u.shape == (2, 5, 5) and v.shape == (2, 3, 3)
    _, s2, _ = ember.svd(ember.tensor(a), compute_uv=False)
    np.testing.assert_allclose(s2.numpy(), torch.svd(torch.tensor(a)).S.numpy(), rtol=1e-10)
    q, r = ember.tensor(a).qr(some=False)
    assert q.shape == (2, 5, 5) and r.shape == (2, 5, 3)


@pytest.mark.parametrize("some", [True, False])
@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 4)])
def test_torch_svd_without_uv_gives_square_zero_factors(shape, some):
    a = _sample(*shape)
    u, s, v = ember.svd(ember.tensor(a), some=some, compute_uv=False)
    tu, ts, tv = torch.svd(torch.tensor(a), some=some, compute_uv=False)
    assert u.shape == tuple(tu.shape) and v.shape == tuple(tv.shape)  # (m, m) and (n, n), whatever some
    assert not u.numpy().any() and not v.numpy().any()
    np.testing.assert_allclose(s.numpy(), ts.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)])
def test_pinv_and_pinverse(shape, dtype):
    a = _sample(*shape, dtype=dtype)
    _check(ember.linalg.pinv, torch.linalg.pinv, a, dtype=dtype)
    _check(lambda x: x.pinverse(), lambda x: x.pinverse(), a, dtype=dtype)
    rank_one = np.outer([1.0, 2.0, 3.0], [1.0, -1.0]).astype(dtype)  # the cut drops the zero singular value
    np.testing.assert_allclose(ember.pinverse(ember.tensor(rank_one)).numpy(),
                               torch.pinverse(torch.tensor(rank_one)).numpy(), **TOL[dtype])
    np.testing.assert_allclose(ember.linalg.pinv(ember.tensor(a), atol=1.5).numpy(),
                               torch.linalg.pinv(torch.tensor(a), atol=1.5).numpy(), **TOL[dtype])


@pytest.mark.parametrize("kwargs", [{}, {"atol": 0.05}, {"atol": [0.05, 0.5]}])
def test_pinv_with_hermitian_reads_the_lower_triangle_as_torch(kwargs):
    # the whole matrix was inverted: of a non-symmetric A, another matrix than PyTorch's (which uses eigh)
    a = _sample(2, 3, 3, seed=4)

    def call(lib, x):
        return lib.linalg.pinv(x, hermitian=True, **{k: lib.tensor(v, dtype=lib.float64) if isinstance(v, list)
                                                     else v for k, v in kwargs.items()})

    _check(lambda x: call(ember, x), lambda x: call(torch, x), a)
    _check(lambda x: call(ember, x), lambda x: call(torch, x), a + np.swapaxes(a, -1, -2))
    with pytest.raises(ValueError, match="pinv: expects square matrices"):
        ember.linalg.pinv(ember.ones(2, 3), hermitian=True)


@pytest.mark.parametrize("kwargs", [
    {"atol": [0.05, 0.5]}, {"rtol": [0.05, 0.5]}, {"atol": [0.05, 0.5], "rtol": [[0.05], [1e-3]]},
    {"rcond": [0.05, 0.5]}, {"rcond": 0.3}])
@pytest.mark.parametrize("shape", [(2, 3, 3), (3, 3)])
def test_pinv_takes_torch_tensor_tolerances_one_per_matrix(shape, kwargs):
    # a tensor atol or rtol failed inside (float() of a 2-element tensor, the truth value of one), and rcond was
    # refused; a tensor's tolerances broadcast with the batch dimensions, and may extend them, as PyTorch's
    a = np.stack([np.diag([1.0, 0.1, 0.01]), _sample(3, 3, seed=3)])
    a = a if len(shape) == 3 else a[0]

    def call(lib, x):
        return lib.linalg.pinv(x, **{k: lib.tensor(v, dtype=lib.float64) if isinstance(v, list) else v
                                     for k, v in kwargs.items()})

    _check(lambda x: call(ember, x), lambda x: call(torch, x), a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [-3, -1, 0, 1, 2, 5])
def test_matrix_power(n, dtype):
    a = _sample(2, 3, 3, dtype=dtype, kind="square") / 3
    _check(lambda x: ember.linalg.matrix_power(x, n), lambda x: torch.linalg.matrix_power(x, n), a, dtype=dtype)
    _check(lambda x: x.matrix_power(n), lambda x: x.matrix_power(n), a, dtype=dtype)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8", "float16", "bfloat16", "complex64"])
def test_matrix_power_of_integer_low_precision_and_complex_matrices_as_torch(dtype, n):
    # refused as not float32/float64 matrices, where PyTorch's powers of 0 and more are products of any dtype
    # (uint8 and int8 wrapping as its matmul does)
    a = np.array([[[1, 2], [3, 4]], [[0, 5], [7, 1]]])
    got = ember.linalg.matrix_power(ember.tensor(a).to(getattr(ember, dtype)), n)
    want = torch.linalg.matrix_power(torch.tensor(a).to(getattr(torch, dtype)), n)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    wide = "complex128" if dtype == "complex64" else "float64"
    np.testing.assert_array_equal(got.to(getattr(ember, wide)).numpy(), want.to(getattr(torch, wide)).numpy())
    with pytest.raises(TypeError, match="matrix_power: expects float32 or float64 matrices"):
        ember.linalg.matrix_power(ember.tensor(a), -1)  # (the inverse of an integer matrix, as PyTorch's)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_matrix_power_three_multiplies_as_torch(dtype):
    # the third power was x @ (x @ x), where PyTorch's is (x @ x) @ x: a third of the float16 elements an ulp off
    x = np.random.default_rng(0).standard_normal((3, 8, 8)) / 3
    for n in (3, 5, 6):
        got = ember.linalg.matrix_power(ember.tensor(x).to(getattr(ember, dtype)), n)
        want = torch.linalg.matrix_power(torch.tensor(x).to(getattr(torch, dtype)), n)
        got, want = got.to(ember.float64).numpy(), want.double().numpy()
        assert np.mean(got == want) > 0.97  # (PyTorch's float32 sums in another order: an element an ulp off)
        np.testing.assert_allclose(got, want, rtol=2.0 ** -(10 if dtype == "float16" else 7), atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
@pytest.mark.parametrize("dim, keepdim", [((-2, -1), False), ((2, 0), True)])
def test_matrix_norm(ord, dim, keepdim, dtype):
    a = _sample(3, 2, 4, dtype=dtype)
    _check(lambda x: ember.linalg.matrix_norm(x, ord, dim, keepdim),
           lambda x: torch.linalg.matrix_norm(x, ord, dim, keepdim), a, dtype=dtype)


@pytest.mark.parametrize("shape", [(0, 0), (3, 0), (2, 0, 3)])
@pytest.mark.parametrize("ord", [1, 2, np.inf, -1, -2, -np.inf])
def test_matrix_norm_of_matrices_without_elements_as_torch(shape, ord):
    # the largest of nothing is a norm's 0, as PyTorch's; the smallest of nothing has no value: both raised max's or
    # min's error, which named neither matrix_norm nor the norm
    x, ref = ember.zeros(*shape), torch.zeros(shape)
    for keepdim in (False, True):
        try:
            want = torch.linalg.matrix_norm(ref, ord, keepdim=keepdim)
        except (RuntimeError, IndexError):
            with pytest.raises(ValueError, match=f"matrix_norm: the {ord} norm of matrices with no elements"):
                ember.linalg.matrix_norm(x, ord, keepdim=keepdim)
            continue
        got = ember.linalg.matrix_norm(x, ord, keepdim=keepdim)
        assert got.shape == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord, dim, keepdim", [
    (2, None, False), (1, 1, False), (np.inf, (0, 2), True), (-np.inf, -1, False), (0.5, 2, False), (3, None, True)])
def test_vector_norm(ord, dim, keepdim, dtype):
    a = _sample(3, 2, 4, dtype=dtype)
    _check(lambda x: ember.linalg.vector_norm(x, ord, dim, keepdim),
           lambda x: torch.linalg.vector_norm(x, ord, dim, keepdim), a, dtype=dtype)


@pytest.mark.parametrize("dim", [None, 1])
@pytest.mark.parametrize("ord", [np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_extreme_norms_of_vectors_holding_nan_have_torchs_gradient(ord, dim, dtype):
    # amax's rule finds no element equal to a NaN result and divided by a count of 0: every gradient of such a
    # vector was NaN, where PyTorch's is the sign of the NaN elements (0 for real ones) and 0 at the others
    a = np.array([[1, np.nan, -3], [2, -2, 0], [np.inf, np.nan, 1], [np.nan, np.nan, np.nan]], dtype)
    if dtype == np.complex128:
        a[0, 0] = 1 + 1j
    x, tx = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = ember.linalg.vector_norm(x, ord, dim), torch.linalg.vector_norm(tx, ord, dim)
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dim", [None, 1, ()])
def test_zero_norm_of_complex_vectors_holding_nan_or_inf_has_a_zero_gradient_as_torch(dim):
    # the count went through abs, whose complex gradient of 0 at a NaN or an infinity is 0 / |z| * z: NaN
    a = np.array([[1 + 1j, np.nan, 0], [np.inf * 1j, 1j, 2], [0, 0, 0]])
    x, tx = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = ember.linalg.vector_norm(x, 0, dim), torch.linalg.vector_norm(tx, 0, dim)
    assert got.dtype == ember.float64
    np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    got.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(a))  # (PyTorch's is zeros, given as None here)


@pytest.mark.parametrize("ord", [-1, -2.5])
def test_negative_norms_of_no_elements_are_refused_as_torch(ord):
    # the sum of no |x|^p is 0, and its root was taken as 0, where 0^(1/p) is inf: PyTorch refuses it
    with pytest.raises(ValueError, match=f"norm: the {ord} norm of no elements has no value"):
        ember.linalg.vector_norm(ember.ones(0, 3), ord, dim=0)
    with pytest.raises(ValueError, match=f"norm: the {ord} norm of no elements has no value"):
        ember.norm(ember.ones(0), ord)
    got = ember.linalg.vector_norm(ember.ones(3, 0), ord, dim=0)  # (no norms to take: an empty result)
    assert got.shape == (0,) and tuple(torch.linalg.vector_norm(torch.ones(3, 0), ord, dim=0).shape) == (0,)


@pytest.mark.parametrize("ord, dim", [(2, ()), (1, []), (np.inf, ()), (0.5, ())])
@pytest.mark.parametrize("name", ["vector_norm", "norm", "frobenius_norm"])
@pytest.mark.filterwarnings("ignore:at::frobenius_norm is deprecated")
def test_norms_over_no_dims_reduce_every_dim_as_torch(name, ord, dim):
    # an empty dim is every dimension for PyTorch's norms: they gave the magnitudes of the elements, shape [3, 4]
    ours, theirs = (ember.linalg, torch.linalg) if name == "vector_norm" else (ember, torch)
    for keepdim in (False, True):
        args = (dim, keepdim) if name == "frobenius_norm" else (ord, dim, keepdim)
        _check(lambda x: getattr(ours, name)(x, *args), lambda x: getattr(theirs, name)(x, *args), _sample(3, 4))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])  # (bfloat16 was refused as not floating-point)
@pytest.mark.parametrize("ord", [2, 3, -1, np.inf])
def test_vector_norm_of_float16_runs_in_float32_as_torch(ord, dtype):
    # squared in float16, 3000 elements of up to 400 overflowed to inf where PyTorch's norm is about 12700
    a = np.random.default_rng(5).uniform(-400, 400, (4, 3000)).astype(np.float32)
    x = ember.tensor(a).to(getattr(ember, dtype)).requires_grad_()
    tx = torch.tensor(a).to(getattr(torch, dtype)).requires_grad_()
    got, want = ember.linalg.vector_norm(x, ord, 1), torch.linalg.vector_norm(tx, ord, 1)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got.detach().to(ember.float32).numpy(), want.detach().float().numpy())
    if ord == 3:  # (PyTorch's gradient of the 3-norm overflows float16 here: zeros and NaN)
        return
    got.sum().backward()
    want.sum().backward()
    rtol = 4e-3 if dtype == "float16" else 1.6e-2  # (two of bfloat16's steps: the rounding of x / norm differs)
    np.testing.assert_allclose(x.grad.to(ember.float32).numpy(), tx.grad.float().numpy(), rtol=rtol, atol=1e-7)
    if ord == 2:
        np.testing.assert_array_equal(ember.norm(x).detach().to(ember.float32).numpy(),
                                      torch.norm(tx).detach().float().numpy())


def test_vector_and_matrix_norms_take_bfloat16_as_torch():
    # refused: "vector_norm: expects a floating-point tensor, got bfloat16"
    a = np.random.default_rng(6).uniform(-400, 400, (20, 300)).astype(np.float32)
    x, tx = ember.tensor(a).to(ember.bfloat16), torch.tensor(a).to(torch.bfloat16)
    for got, want in ((ember.linalg.vector_norm(x), torch.linalg.vector_norm(tx)),
                      (ember.linalg.vector_norm(x, 3, 1), torch.linalg.vector_norm(tx, 3, 1)),
                      (ember.linalg.matrix_norm(x), torch.linalg.matrix_norm(tx)),
                      (ember.linalg.matrix_norm(x, 1), torch.linalg.matrix_norm(tx, 1)),
                      (ember.linalg.norm(x), torch.linalg.norm(tx))):
        assert got.dtype == ember.bfloat16
        np.testing.assert_array_equal(got.to(ember.float32).numpy(), want.float().numpy())


@pytest.mark.parametrize("shape, kwargs", [
    ((3, 2, 4), {}), ((3, 4), {}), ((3, 4), {"ord": "nuc"}), ((3, 4), {"ord": 2}), ((4,), {"ord": 1}),
    ((3, 2, 4), {"dim": 1}), ((3, 2, 4), {"ord": -1, "dim": (0, 2)}), ((3, 2, 4), {"dim": (2, 1), "keepdim": True}),
    ((3, 2, 4), {"ord": np.inf, "dim": 2})])
def test_linalg_norm_chooses_vector_or_matrix_norms_as_torch(shape, kwargs):
    _check(lambda x: ember.linalg.norm(x, **kwargs), lambda x: torch.linalg.norm(x, **kwargs), _sample(*shape))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, args, kwargs", [
    ((3, 4), ("nuc",), {}), ((3, 2, 4), ("nuc",), {"dim": (2, 0)}), ((3, 2, 4), ("nuc", (0, 1), True), {}),
    ((3, 4), (2,), {}), ((3, 2, 4), (-2,), {"dim": (1, 2)}), ((3, 2, 4), (), {"p": 2, "dim": (0, 2), "keepdim": True}),
    ((3, 2, 4), ("fro",), {"dim": (1, 2)}), ((3, 2, 4), ("fro",), {"dim": 1}), ((3, 2, 4), (None,), {}),
    ((3, 2, 4), (np.inf,), {"dim": (1, 2)}), ((3, 4), (-1,), {})])
def test_torch_norm_and_tensor_norm_take_torch_norms_p(shape, args, kwargs, dtype):
    # torch.norm reads "nuc" over two dimensions as the nuclear norm, "fro" and every number (2 and -2 included)
    # as a vector norm of the elements, unlike torch.linalg.norm
    a = _sample(*shape, dtype=dtype)
    _check(lambda x: ember.norm(x, *args, **kwargs), lambda x: torch.norm(x, *args, **kwargs), a, dtype=dtype)
    _check(lambda x: x.norm(*args, **kwargs), lambda x: x.norm(*args, **kwargs), a, dtype=dtype)


def test_torch_norm_casts_to_dtype_and_refuses_what_torch_refuses():
    x = ember.tensor(_sample(3, 4, dtype=np.float32))
    got, want = ember.norm(x, "nuc", dtype=ember.float64), torch.norm(torch.tensor(x.numpy()), "nuc",
                                                                        dtype=torch.float64)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="matrix_norm: dim must name two dimensions"):
        ember.norm(ember.ones(2, 3, 4), "nuc")
    with pytest.raises(ValueError, match="norm: p='fro' takes at most two dimensions"):
        ember.norm(ember.ones(2, 3, 4), "fro", dim=(0, 1, 2))


@pytest.mark.parametrize("fn", ["norm", "linalg.vector_norm", "linalg.norm"])
def test_norms_refuse_the_dtypes_torch_refuses(fn):
    # an integer dtype cast the input first: float [-2.5, 3.5, ...] as uint8 wrapped to 254, a norm of 440 not 10.2
    x = _sample(3, 4, dtype=np.float32)
    get = {"norm": ember.norm, "linalg.vector_norm": ember.linalg.vector_norm, "linalg.norm": ember.linalg.norm}[fn]
    for dtype in (ember.uint8, ember.int64, ember.bool_, ember.complex64, ember.float16):
        with pytest.raises(TypeError, match="norm: .*dtype"):
            get(ember.tensor(x), dtype=dtype)
    with pytest.raises(TypeError, match="norm: .*dtype"):
        get(ember.tensor(x.astype(np.complex128)), dtype=ember.complex64)
    got, want = get(ember.tensor(x), dtype=ember.float64), torch.norm(torch.tensor(x), dtype=torch.float64)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_gradients_of_the_singular_value_norms_are_the_singular_vector_products():
    # d|A|_* / dA = U V^T; d|A|_2 / dA = u_1 v_1^T and d sigma_min / dA = u_k v_k^T (distinct singular values)
    a = _sample(4, 3, seed=3)
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    expected = {"nuc": u @ vh, 2: np.outer(u[:, 0], vh[0]), -2: np.outer(u[:, -1], vh[-1])}
    for ord, want in expected.items():
        x = ember.tensor(a, requires_grad=True)
        ember.linalg.matrix_norm(x, ord).backward()
        np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-9, atol=1e-12)
        y = ember.tensor(a, requires_grad=True)
        (ember.norm(y, "nuc") if ord == "nuc" else ember.linalg.norm(y, ord)).backward()
        np.testing.assert_allclose(y.grad.numpy(), want, rtol=1e-9, atol=1e-12)


def test_linalg_cross_defaults_to_the_last_dimension():
    a, b = _sample(2, 3, 3), _sample(2, 3, 3, seed=1)
    _check(ember.linalg.cross, torch.linalg.cross, a, b)
    _check(lambda x, y: ember.linalg.cross(x, y, dim=1), lambda x, y: torch.linalg.cross(x, y, dim=1), a, b)


@pytest.mark.parametrize("shapes", [((3,), (4, 3)), ((4, 3), (3,)), ((2, 1, 3), (4, 3))])
def test_cross_refuses_operands_of_different_ranks_as_torch(shapes):
    a, b = (ember.ones(s) for s in shapes)
    for ours, theirs, name in [(ember.cross, torch.cross, "cross"), (ember.linalg.cross, torch.linalg.cross,
                                                                     "linalg.cross")]:
        with pytest.raises(RuntimeError, match="same number of dimensions"):
            theirs(torch.ones(shapes[0]), torch.ones(shapes[1]), dim=-1)
        for run in (ours, ember.jit(ours)):
            with pytest.raises(ValueError, match=f"^{name}: inputs must have the same number of dimensions"):
                run(a, b)


def test_cross_broadcasts_sizes_of_one_rank_as_torch():
    a, b = _sample(1, 3), _sample(4, 3, seed=1)
    _check(ember.linalg.cross, torch.linalg.cross, a, b)
    _check(lambda x, y: ember.cross(x, y, dim=1), lambda x, y: torch.cross(x, y, dim=1), a, b)


def test_top_level_and_tensor_spellings():
    a = _sample(2, 3, 3, kind="square")
    for ours, theirs in [(ember.det, torch.det), (ember.inverse, torch.inverse), (ember.logdet, torch.logdet),
                         (lambda x: x.det(), lambda x: x.det()), (lambda x: x.inverse(), lambda x: x.inverse()),
                         (lambda x: x.logdet(), lambda x: x.logdet()),
                         (lambda x: tuple(x.slogdet()), lambda x: tuple(x.slogdet()))]:
        _check(ours, theirs, a)
    spd = _sample(3, 3, kind="spd")
    _check(lambda x: x.cholesky(), lambda x: torch.linalg.cholesky(x), spd)


# --- degenerate inputs and errors --------------------------------------------------------------------------------


def test_singular_matrices_raise_naming_the_op_shape_and_batch_element():
    batch = np.stack([np.eye(3), np.array([[1.0, 2, 3], [2, 4, 6], [0, 0, 1]])])
    with pytest.raises(ember.linalg.LinAlgError, match=r"inv: the input of shape \[2, 3, 3\] is singular.*"
                                                       r"batch element 1"):
        ember.linalg.inv(ember.tensor(batch))
    with pytest.raises(torch.linalg.LinAlgError):  # as torch does
        torch.linalg.inv(torch.tensor(batch))
    with pytest.raises(ember.linalg.LinAlgError, match=r"solve: the input of shape \[2, 3, 3\] is singular"):
        ember.linalg.solve(ember.tensor(batch), ember.ones(2, 3, dtype=ember.float64))
    with pytest.raises(ember.linalg.LinAlgError, match=r"cholesky: the input of shape \[3, 3\] is not "
                                                       r"positive-definite"):
        ember.linalg.cholesky(ember.tensor(-np.eye(3)))
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)


def test_det_of_a_singular_matrix_is_zero_with_the_cofactors_as_gradient():
    # the gradient is the cofactor matrix, nonzero at rank n - 1 (it was 0 where LU's pivot is exactly 0):
    # PyTorch's with create_graph (its first-order shortcut also gives 0 there, pytorch/pytorch#104675)
    a = np.array([[[1.0, 2], [2, 4]], [[1, 2], [3, 4]], [[0, 0], [0, 1]]])
    b = np.array([[1.0, 2, 3], [2, 4, 6], [0, 1, 5]])  # 0 in NumPy's LU, 3e-16 in PyTorch's
    for m in (a, b, b[None].repeat(2, 0) * [[[1.0]], [[0.0]]]):
        x, y = ember.tensor(m, requires_grad=True), torch.tensor(m, requires_grad=True)
        np.testing.assert_allclose(ember.linalg.det(x).detach().numpy(), torch.linalg.det(y).detach().numpy(),
                                   atol=1e-12)
        (got,) = ember.grad(ember.linalg.det(x).sum(), x, create_graph=True)
        (want,) = torch.autograd.grad(torch.linalg.det(y).sum(), y, create_graph=True)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(ember.grad((got * got).sum(), x)[0].numpy(),
                                   torch.autograd.grad((want * want).sum(), y)[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(got.detach().numpy()[0], [[14, -10, 2], [-7, 5, -1], [0, 0, 0]], atol=1e-12)
    x = ember.tensor(np.zeros((2, 2)), requires_grad=True)
    sign, logabsdet = ember.linalg.slogdet(x)
    assert sign.item() == 0 and logabsdet.item() == -np.inf


@pytest.mark.parametrize("name", ["det", "slogdet", "inv", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals"])
def test_integer_matrices_are_refused_eagerly_as_in_graphs(name):
    # eagerly NumPy's kernels took them: det gave float64, slogdet's logabsdet was cast back to int64
    with pytest.raises(TypeError, match=f"{name}: expects float32 or float64 matrices, got int64\\[2, 2\\]"):
        getattr(ember.linalg, name)(ember.tensor(np.eye(2, dtype=np.int64)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matrices_holding_nan_give_nan_as_torch(dtype):
    # LAPACK's pivoting passes over a NaN in the first column: NumPy's det was 0 and its inv raised "singular"
    a = np.stack([np.array([[np.nan, 1.0], [1.0, 1.0]]), np.array([[1.0, 1.0], [np.nan, 1.0]]),
                  np.array([[2.0, 1.0], [1.0, 3.0]])]).astype(dtype)
    b = np.ones((3, 2, 1), dtype)
    mine, ref = ember.tensor(a), torch.tensor(a)
    for name, args in [("det", ()), ("inv", ()), ("solve", (b,))]:
        got = getattr(ember.linalg, name)(mine, *(ember.tensor(v) for v in args))
        want = getattr(torch.linalg, name)(ref, *(torch.tensor(v) for v in args))
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL[dtype])
    for got, want in zip(ember.linalg.slogdet(mine), torch.linalg.slogdet(ref)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL[dtype])


@pytest.mark.parametrize("call, error, fragments", [
    (lambda: ember.linalg.det(ember.ones(2, 3)), ValueError, ["det", "square", "float32[2, 3]"]),
    (lambda: ember.linalg.inv(ember.ones(3)), ValueError, ["inv", "at least 2 dimensions", "float32[3]"]),
    (lambda: ember.linalg.inv(ember.ones(2, 2, dtype=ember.int64)), TypeError, ["inv", "float32 or float64",
                                                                                "int64[2, 2]"]),
    (lambda: ember.linalg.solve(ember.ones(3, 3), ember.ones(4, 2)), ValueError, ["solve", "float32[4, 2]"]),
    (lambda: ember.linalg.solve(ember.ones(2, 3, 3), ember.ones(4, 3, 1)), ValueError, ["solve", "broadcast"]),
    # (eagerly, a non-singular A solved with a float32 B in float64, and the backward failed assigning B's gradient)
    (lambda: ember.linalg.solve(ember.eye(2, dtype=ember.float64), ember.ones(2)), TypeError,
     ["solve", "one dtype", "float64[2, 2]", "float32[2]"]),
    (lambda: ember.linalg.qr(ember.ones(3, 3), "thin"), ValueError, ["qr", "mode", "thin"]),
    (lambda: ember.linalg.eigh(ember.ones(3, 3), UPLO="X"), ValueError, ["eigh", "UPLO"]),
    (lambda: ember.linalg.matrix_norm(ember.ones(3, 3), 3), ValueError, ["matrix_norm", "ord"]),
    (lambda: ember.linalg.norm(ember.ones(2, 3, 3), 2), ValueError, ["norm", "1-D or 2-D", "[2, 3, 3]"]),
    (lambda: ember.linalg.matrix_power(ember.ones(2, 3), 2), ValueError, ["matrix_power", "square"]),
])
def test_bad_input_errors_name_the_op_and_shapes(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


# --- graph mode and export ----------------------------------------------------------------------------------------


def test_jit_gives_eager_values_and_gradients():
    def loss(a, b):
        spd = a @ a.mT + ember.tensor(np.eye(3) * 3)
        x = ember.linalg.solve(ember.linalg.cholesky(spd), b)
        return (ember.linalg.slogdet(a).logabsdet.sum() + ember.linalg.svdvals(a).sum() + ember.linalg.det(a).sum()
                + ember.linalg.eigvalsh(spd).sum() + (x * x).sum() + ember.linalg.inv(spd).sum()
                + ember.linalg.qr(a).R.sum() + ember.linalg.pinv(a).sum())

    def step(a, b):
        value = loss(a, b)
        value.backward()
        return value

    arrays = [_sample(2, 3, 3, kind="square"), _sample(2, 3, 2, seed=1)]

    def run(fn):
        inputs = [ember.tensor(x, requires_grad=True) for x in arrays]
        value = fn(*inputs)
        return [value.item()] + [t.grad.numpy() for t in inputs]

    eager, jitted = run(step), run(ember.jit(step))
    assert run(ember.jit(step))[0] == jitted[0]
    np.testing.assert_allclose(jitted[0], eager[0], rtol=1e-12)
    for g, e in zip(jitted[1:], eager[1:]):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_a_compiled_inverse_of_a_singular_matrix_raises_the_same_error():
    doubled = ember.jit(lambda x: ember.linalg.inv(x) * 2)
    np.testing.assert_allclose(doubled(ember.tensor(np.eye(3) * 4)).numpy(), np.eye(3) / 2)
    with pytest.raises(ember.linalg.LinAlgError, match=r"inv: the input of shape \[3, 3\] is singular"):
        doubled(ember.tensor(np.zeros((3, 3))))


def test_onnx_exports_det_and_names_the_ops_it_cannot_export():
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    a = _sample(2, 3, 3, dtype=np.float32, kind="square")
    model = ember.onnx.to_onnx(ember.onnx.trace(ember.linalg.det, [a]))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {session.get_inputs()[0].name: a})[0], np.linalg.det(a), rtol=1e-5)
    for fn, name in [(ember.linalg.inv, "inv"), (ember.linalg.svdvals, "svd"), (ember.linalg.eigvalsh, "eigh")]:
        with pytest.raises(ValueError, match=name):
            ember.onnx.to_onnx(ember.onnx.trace(fn, [a]))


def test_unknown_batch_builds_and_runs():
    graph = ember.graph.Graph()
    x = graph.input("x", (None, 3, 3), "float64")
    with graph.building():
        graph.outputs = [ember.linalg.inv(x), ember.linalg.svdvals(x), ember.linalg.qr(x).Q]
    assert [tuple(v.shape) for v in graph.outputs] == [(None, 3, 3), (None, 3), (None, 3, 3)]
    a = _sample(4, 3, 3, kind="square")
    got = ember.runtime.GraphFunction(graph)(a)
    np.testing.assert_allclose(got[0], np.linalg.inv(a), rtol=1e-12)
    with pytest.raises((GraphError, ValueError)):
        ember.runtime.GraphFunction(graph)(a[:, :2])


def test_repeated_eigen_and_singular_values_leave_the_values_gradient_finite():
    # each result is its own node: a loss of the values alone never divides by the gaps between them, as
    # PyTorch's (whose vectors' gradients are then undefined, and are not asked for here)
    a = np.diag([2.0, 2.0, 5.0])
    _check(lambda x: ember.linalg.eigh(x).eigenvalues, lambda x: torch.linalg.eigh(x).eigenvalues, a)
    _check(lambda x: ember.linalg.svd(x).S, lambda x: torch.linalg.svd(x).S, a)
    x = ember.tensor(a, requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (ember.linalg.eigh(x).eigenvectors ** 2).sum().backward()
    assert not np.isfinite(x.grad.numpy()).all()  # the documented degenerate case


def test_svd_takes_torch_s_driver_none_and_refuses_a_driver():
    # driver= was a TypeError (unexpected keyword); PyTorch takes None everywhere and a driver on CUDA only
    a = np.random.default_rng(0).standard_normal((4, 3))
    u, s, vh = ember.linalg.svd(ember.tensor(a), driver=None)
    np.testing.assert_allclose(s.numpy(), torch.linalg.svd(torch.tensor(a), driver=None).S.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ember.linalg.svdvals(ember.tensor(a), driver=None).numpy(), s.numpy(), rtol=1e-12)
    for fn in (ember.linalg.svd, ember.linalg.svdvals):
        with pytest.raises(RuntimeError, match="driver= picks a cuSOLVER routine"):
            fn(ember.tensor(a), driver="gesvd")

"""The rest of torch.linalg's real functions under Ember (triangular and Cholesky solves, LU, lstsq, matrix_exp,
matrix_rank, cond, multi_dot, tensorinv/tensorsolve, vecdot, diagonal, Householder products, the ``*_ex`` forms)
checked against PyTorch: values, named results, integer results' dtypes, gradients, batches and errors."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-10)}
DTYPES = [np.float32, np.float64]


def _sample(*shape, dtype=np.float64, seed=0, kind="normal"):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if kind == "spd":
        a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    elif kind == "square":
        a = a + 3 * np.eye(shape[-1])
    return a.astype(dtype)


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def _check(ours, theirs, *arrays, dtype=np.float64, grad=True):
    """``ours`` and ``theirs`` agree in result types, values, dtypes and the gradients of a weighted sum of their
    floating-point outputs."""
    mine = [ember.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    ref = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    got, want = ours(*mine), theirs(*ref)
    if isinstance(want, tuple):  # a named result: torch.return_types.<name>, the same fields
        assert type(got).__name__ == type(want).__name__.split(".")[-1]
        assert all(hasattr(want, f) for f in got._fields)
    got, want = _outputs(got), _outputs(want)
    assert len(got) == len(want)
    rng = np.random.default_rng(5)
    loss_mine, loss_ref = 0, 0
    for g, w in zip(got, want):
        expected = w.detach().numpy()
        assert str(g.dtype) == str(expected.dtype) and tuple(g.shape) == tuple(w.shape), (g.dtype, expected.dtype)
        np.testing.assert_allclose(g.detach().numpy(), expected, **TOL[dtype])
        if expected.dtype.kind == "f" and w.requires_grad:
            u = rng.standard_normal(tuple(w.shape)).astype(dtype)
            loss_mine = loss_mine + (g * ember.tensor(u)).sum()
            loss_ref = loss_ref + (w * torch.tensor(u)).sum()
    if not grad:
        return
    loss_mine.backward()
    loss_ref.backward()
    for m, r in zip(mine, ref):
        if r.requires_grad:
            assert m.grad.dtype == dtype
            scale = max(1.0, float(np.abs(r.grad.numpy()).max()))
            np.testing.assert_allclose(m.grad.numpy() / scale, r.grad.numpy() / scale, **TOL[dtype])


# --- triangular and Cholesky solves -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unitriangular", [False, True])
def test_solve_triangular(upper, left, unitriangular, dtype):
    a = _sample(2, 4, 4, dtype=dtype, kind="square")
    b = _sample(2, 4, 3, dtype=dtype, seed=1) if left else _sample(3, 4, dtype=dtype, seed=1)  # broadcast batch
    _check(lambda x, y: ember.linalg.solve_triangular(x, y, upper=upper, left=left, unitriangular=unitriangular),
           lambda x, y: torch.linalg.solve_triangular(x, y, upper=upper, left=left, unitriangular=unitriangular),
           a, b, dtype=dtype)


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("upper, transpose", [(True, False), (False, True), (False, False)])
def test_triangular_solve_returns_the_solution_and_a_copy(upper, transpose):
    a, b = _sample(2, 3, 3, kind="square"), _sample(2, 3, 2, seed=1)
    _check(lambda y, x: ember.triangular_solve(y, x, upper, transpose),
           lambda y, x: torch.triangular_solve(y, x, upper, transpose), b, a)


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("a_batch, b_batch", [((2, 1), (3,)), ((), (2,)), ((3,), (2, 1))])
def test_triangular_solve_copies_a_broadcast_with_bs_batch(a_batch, b_batch):
    # A's copy kept A's own batch ((2, 1, 4, 4) where PyTorch's is (2, 3, 4, 4))
    a, b = _sample(*a_batch, 4, 4, kind="square"), _sample(*b_batch, 4, 2, seed=1)
    _check(lambda x, y: ember.triangular_solve(y, x, transpose=True),
           lambda x, y: torch.triangular_solve(y, x, transpose=True), a, b)


def test_a_zero_on_the_diagonal_gives_inf_as_torch():
    a, b = np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([[1.0], [1.0]])
    got = ember.linalg.solve_triangular(ember.tensor(a), ember.tensor(b), upper=False).numpy()
    np.testing.assert_array_equal(got, torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b),
                                                                     upper=False).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_solve_and_inverse_take_torchs_whole_factor_gradient(upper, dtype):
    low = np.linalg.cholesky(_sample(2, 4, 4, kind="spd")).astype(dtype)
    factor = np.ascontiguousarray(np.swapaxes(low, -1, -2)) if upper else low
    b = _sample(2, 4, 3, dtype=dtype, seed=1)
    _check(lambda y, f: ember.cholesky_solve(y, f, upper), lambda y, f: torch.cholesky_solve(y, f, upper), b,
           factor, dtype=dtype)
    _check(lambda f: ember.cholesky_inverse(f, upper), lambda f: torch.cholesky_inverse(f, upper), factor,
           dtype=dtype)
    _check(lambda f: f.cholesky_inverse(upper), lambda f: f.cholesky_inverse(upper), factor, dtype=dtype)


# --- LU -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 4, 4), (3, 5), (5, 3), (2, 6, 4)])
def test_lu_factor_and_lu(shape, dtype):
    a = _sample(*shape, dtype=dtype)
    _check(ember.linalg.lu_factor, torch.linalg.lu_factor, a, dtype=dtype)
    _check(ember.linalg.lu_factor_ex, torch.linalg.lu_factor_ex, a, dtype=dtype)
    _check(ember.linalg.lu, torch.linalg.lu, a, dtype=dtype)
    _check(lambda x: ember.lu_unpack(*ember.linalg.lu_factor(x)), lambda x: torch.lu_unpack(*torch.linalg.lu_factor(x)),
           a, dtype=dtype)


@pytest.mark.parametrize("shape", [(0, 0), (2, 0, 0), (0, 3, 3), (3, 0), (0, 3), (2, 0, 3)])
def test_lu_of_empty_matrices_and_batches_as_torch(shape):
    a = np.zeros(shape)
    _check(ember.linalg.lu_factor_ex, torch.linalg.lu_factor_ex, a, grad=False)
    _check(ember.linalg.lu, torch.linalg.lu, a, grad=False)
    if shape[-1] == shape[-2]:
        _check(ember.linalg.inv_ex, torch.linalg.inv_ex, a, grad=False)
        _check(ember.linalg.solve_ex, torch.linalg.solve_ex, a, a, grad=False)
    x = ember.tensor(a, requires_grad=True)
    p, low, up = ember.linalg.lu(x)
    (low.sum() + up.sum()).backward()
    assert x.grad.shape == shape


def test_pivots_are_one_based_int32_and_hold_no_gradient():
    a = ember.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    lu, pivots, info = ember.linalg.lu_factor_ex(a)
    assert pivots.dtype == np.int32 and pivots.tolist() == [2, 2] and not pivots.requires_grad
    assert info.dtype == np.int32 and info.item() == 0 and not info.requires_grad


def test_a_singular_matrix_gives_info_or_an_error_as_torch():
    a = np.array([[[0.0, 1.0], [0.0, 2.0]], [[1.0, 2.0], [3.0, 4.0]]])
    _check(ember.linalg.lu_factor_ex, torch.linalg.lu_factor_ex, a, grad=False)
    with pytest.raises(ember.linalg.LinAlgError, match=r"lu_factor: U\[0,0\] is zero \(batch element 0\)"):
        ember.linalg.lu_factor(ember.tensor(a))
    with pytest.raises(ember.linalg.LinAlgError, match="lu_factor_ex"):
        ember.linalg.lu_factor_ex(ember.tensor(a), check_errors=True)
    with pytest.raises(ValueError, match="pivot=True"):
        ember.linalg.lu_factor(ember.tensor(a), pivot=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve(left, adjoint, dtype):
    a = _sample(2, 4, 4, dtype=dtype)
    b = _sample(2, 4, 3, dtype=dtype, seed=1) if left else _sample(2, 3, 4, dtype=dtype, seed=1)

    def ours(x, y):
        return ember.linalg.lu_solve(*ember.linalg.lu_factor(x), y, left=left, adjoint=adjoint)

    def theirs(x, y):
        return torch.linalg.lu_solve(*torch.linalg.lu_factor(x), y, left=left, adjoint=adjoint)

    _check(ours, theirs, a, b, dtype=dtype)


@pytest.mark.parametrize("pivots", [lambda p: p[:, :2], lambda p: p[:1], lambda p: p[0], lambda p: p.expand(3, 2, 4)])
def test_lu_solve_and_lu_unpack_refuse_pivots_of_another_shape(pivots):
    # a part of the swaps (or one matrix's for the batch) gave a wrong solution: 1.9 off with the first two pivots
    a, b = _sample(2, 4, 4, seed=2), _sample(2, 4, 3, seed=3)
    lu, piv = ember.linalg.lu_factor(ember.tensor(a))
    with pytest.raises(ValueError, match=r"lu_solve: pivots must be \(\*, min\(m, n\)\)"):
        ember.linalg.lu_solve(lu, pivots(piv), ember.tensor(b))
    with pytest.raises(RuntimeError, match="pivots"):
        t_lu, t_piv = torch.linalg.lu_factor(torch.tensor(a))
        torch.linalg.lu_solve(t_lu, pivots(t_piv), torch.tensor(b))
    with pytest.raises(ValueError, match="lu_unpack: pivots must be"):
        ember.lu_unpack(lu, pivots(piv))
    np.testing.assert_allclose(ember.linalg.lu_solve(lu, piv, ember.tensor(b)).numpy(), np.linalg.solve(a, b),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inv_ex_and_solve_ex(dtype):
    a, b = _sample(2, 3, 3, dtype=dtype, kind="square"), _sample(2, 3, dtype=dtype, seed=1)
    _check(ember.linalg.inv_ex, torch.linalg.inv_ex, a, dtype=dtype)
    _check(ember.linalg.solve_ex, torch.linalg.solve_ex, a, b, dtype=dtype)
    _check(lambda x, y: ember.linalg.solve_ex(x, y, left=False), lambda x, y: torch.linalg.solve_ex(x, y, left=False),
           a, _sample(2, 4, 3, dtype=dtype, seed=2), dtype=dtype)
    singular = np.zeros((2, 2), dtype)
    _check(ember.linalg.inv_ex, torch.linalg.inv_ex, singular, dtype=dtype, grad=False)
    with pytest.raises(ember.linalg.LinAlgError, match="inv_ex"):
        ember.linalg.inv_ex(ember.tensor(singular), check_errors=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_ex(upper, dtype):
    _check(lambda x: ember.linalg.cholesky_ex(x, upper=upper), lambda x: torch.linalg.cholesky_ex(x, upper=upper),
           _sample(2, 4, 4, dtype=dtype, kind="spd"), dtype=dtype)


def test_cholesky_ex_reports_the_failing_minor_and_the_partial_factor_as_torch():
    a = np.stack([np.array([[4.0, 2, 1], [2, 1, 3], [1, 3, 5]]), np.eye(3) * 2, np.array([[1.0, 2, 0], [2, 1, 0],
                                                                                           [0, 0, 1]])])
    _check(ember.linalg.cholesky_ex, torch.linalg.cholesky_ex, a, grad=False)
    with pytest.raises(ember.linalg.LinAlgError, match=r"cholesky_ex: .* not positive-definite \(batch element 0\)"):
        ember.linalg.cholesky_ex(ember.tensor(a), check_errors=True)


@pytest.mark.parametrize("name", ["cholesky", "cholesky_ex"])
def test_cholesky_with_upper_reads_the_upper_triangle_as_torch(name):
    # the lower triangle was read and transposed: of a matrix held in its upper triangle, the square roots of the
    # diagonal only
    spd = _sample(2, 3, 3, kind="spd")
    for a in (np.triu(spd), spd + np.triu(np.ones((3, 3)), 1) * 0.5):
        _check(lambda x: getattr(ember.linalg, name)(x, upper=True),
               lambda x: getattr(torch.linalg, name)(x, upper=True), a)
    np.testing.assert_allclose(ember.cholesky(ember.tensor(np.triu(spd)), True).numpy(),
                               np.linalg.cholesky(spd).swapaxes(-1, -2), rtol=1e-12)


def test_a_nan_in_the_lower_triangle_fails_cholesky_as_torch():
    # NumPy's cholesky carried the NaN through: cholesky gave a NaN factor and cholesky_ex info 0
    nan = np.nan
    a = np.stack([np.eye(2), [[nan, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, nan]], [[4.0, 1.0], [nan, 9.0]]])
    got, want = ember.linalg.cholesky_ex(ember.tensor(a)), torch.linalg.cholesky_ex(torch.tensor(a))
    assert got.info.tolist() == want.info.tolist() == [0, 1, 2, 2]
    np.testing.assert_array_equal(got.L.numpy(), want.L.numpy())
    with pytest.raises(ember.linalg.LinAlgError, match=r"cholesky: .* not positive-definite \(batch element 1\)"):
        ember.linalg.cholesky(ember.tensor(a))
    with pytest.raises(ember.linalg.LinAlgError, match="cholesky_ex"):
        ember.linalg.cholesky_ex(ember.tensor(a[3]), check_errors=True)


# --- lstsq, matrix_rank, cond -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("driver", ["gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("a_shape, b_shape", [((5, 3), (5, 2)), ((2, 5, 3), (2, 5, 2)), ((3, 5), (3, 2)),
                                              ((5, 3), (5,)), ((2, 4, 4), (1, 4, 2))])
def test_lstsq(a_shape, b_shape, driver, dtype):
    if driver == "gels" and a_shape[-2] < a_shape[-1]:
        pytest.skip("gels solves an underdetermined system by its own minimum-norm QR, not checked here")
    a, b = _sample(*a_shape, dtype=dtype), _sample(*b_shape, dtype=dtype, seed=1)
    _check(lambda x, y: ember.linalg.lstsq(x, y, driver=driver), lambda x, y: torch.linalg.lstsq(x, y, driver=driver),
           a, b, dtype=dtype)


def test_lstsq_of_a_rank_deficient_matrix_is_gelsds_minimum_norm_solution_without_residuals():
    a = _sample(5, 3)
    a[:, 2] = a[:, 1]
    b = _sample(5, 2, seed=1)
    _check(lambda x, y: ember.linalg.lstsq(x, y, driver="gelsd"), lambda x, y: torch.linalg.lstsq(x, y, driver="gelsd"),
           a, b, grad=False)



def test_lstsq_gels_ignores_rcond_as_torch():
    # gels assumes full rank and takes no cutoff: rcond=0.5 dropped singular values and moved X by up to 1.8
    a, b = _sample(6, 4), _sample(6, 2, seed=1)
    _check(lambda x, y: ember.linalg.lstsq(x, y, rcond=0.5, driver="gels"),
           lambda x, y: torch.linalg.lstsq(x, y, rcond=0.5, driver="gels"), a, b)


@pytest.mark.parametrize("driver, rcond", [("gelsd", -1.0), ("gelsd", 0.0), ("gelsd", 1.0), ("gelsd", 2.0),
                                           ("gelss", -1.0), ("gelss", 0.0), ("gelsy", -1.0)])
@pytest.mark.parametrize("smallest", [5e-17, 5e-16])
def test_lstsq_rcond_outside_the_drivers_range_is_lapacks_epsilon(driver, rcond, smallest):
    # gelsd reads rcond <= 0 or >= 1 as eps / 2, gelss rcond < 0 as eps, gelsy rcond < 0 as no cutoff: Ember took
    # eps * max(m, n) (or rcond itself), so rank 2 for 3 and X's last entry 0 for 2e15 (or X = 0 for rcond >= 1)
    a = np.zeros((4, 3))
    a[0, 0], a[1, 1], a[2, 2] = 1.0, 0.5, smallest
    b = _sample(4, 2, seed=1)
    _check(lambda x, y: ember.linalg.lstsq(x, y, rcond=rcond, driver=driver),
           lambda x, y: torch.linalg.lstsq(x, y, rcond=rcond, driver=driver), a, b, grad=False)

@pytest.mark.parametrize("kwargs", [{}, {"atol": 0.5}, {"rtol": 0.3}, {"atol": 0.1, "rtol": 0.2}, {"hermitian": True}])
def test_matrix_rank(kwargs):
    a = _sample(3, 4, 4)
    a[0, :, 3] = a[0, :, 2]
    a[1] = np.outer(a[1, 0], a[1, 1])
    a = a + np.swapaxes(a, -1, -2) if kwargs.get("hermitian") else a
    _check(lambda x: ember.linalg.matrix_rank(x, **kwargs), lambda x: torch.linalg.matrix_rank(x, **kwargs), a,
           grad=False)


def test_matrix_rank_takes_a_tensor_atol_and_the_older_positional_tol():
    a = _sample(3, 4, 4)
    a[1] = np.outer(a[1, 0], a[1, 1])
    atol = np.array([0.1, 0.5, 3.0])
    _check(lambda x, t: ember.linalg.matrix_rank(x, atol=t), lambda x, t: torch.linalg.matrix_rank(x, atol=t), a,
           atol, grad=False)
    _check(lambda x: ember.linalg.matrix_rank(x, 0.5, True), lambda x: torch.linalg.matrix_rank(x, 0.5, True),
           a + np.swapaxes(a, -1, -2), grad=False)


def test_matrix_rank_reads_a_tensor_rtol_and_a_zero_tensor_atol_per_matrix():
    # a (3,) rtol was broadcast against the singular values' axis, and a tensor atol of 0 dropped the default rtol
    a = _sample(3, 5, 3)
    rtol = np.array([0.1, 0.5, 0.9])
    _check(lambda x, t: ember.linalg.matrix_rank(x, rtol=t), lambda x, t: torch.linalg.matrix_rank(x, rtol=t), a,
           rtol, grad=False)
    low = _sample(3, 5, 2) @ _sample(3, 2, 3, seed=1)
    atol = np.array([0.0, 1e-3, 0.0])
    _check(lambda x, t: ember.linalg.matrix_rank(x, atol=t), lambda x, t: torch.linalg.matrix_rank(x, atol=t), low,
           atol, grad=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", np.inf, -np.inf, 1, -1])
def test_cond(p, dtype):
    # torch's backward through inv_ex fails for the norms of the inverse other than 'nuc' (an in-place write it
    # checks); those gradients are checked by finite differences in the op table instead
    _check(lambda x: ember.linalg.cond(x, p), lambda x: torch.linalg.cond(x, p), _sample(2, 3, 3, dtype=dtype),
           dtype=dtype, grad=p in (None, 2, -2, "nuc"))


def test_cond_of_a_singular_matrix_is_inf_and_rectangular_matrices_take_the_two_norms():
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    for p in ("fro", 1, np.inf):
        assert ember.linalg.cond(ember.tensor(singular), p).item() == torch.linalg.cond(torch.tensor(singular), p)
    _check(ember.linalg.cond, torch.linalg.cond, _sample(2, 3, 5))
    with pytest.raises(ValueError, match="cond: expects square matrices"):
        ember.linalg.cond(ember.tensor(_sample(3, 5)), "fro")


def test_cond_nuc_of_a_batch_with_a_singular_matrix_is_inf_for_it():
    # the singular matrix's inverse (infs and NaNs) went into the nuclear norm's SVD, which refused the whole batch
    a = np.stack([np.diag([2.0, 1.0, 4.0]), np.diag([1.0, 2.0, 0.0]), _sample(3, 3, kind="square")])
    got, want = ember.linalg.cond(ember.tensor(a), "nuc"), torch.linalg.cond(torch.tensor(a), "nuc")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    assert ember.linalg.cond(ember.zeros(3, 3, dtype=ember.float64), "nuc").item() == np.inf  # (PyTorch's: NaN)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf])
def test_cond_of_matrices_with_a_zero_side_is_zero_as_torch(p):
    # the two-norm forms failed inside, reading the first singular value of none; -1 and -inf in matrix_norm
    for shape in [(2, 0, 0), (0, 0), (3, 0, 2), (0, 3, 3)]:
        if p not in (None, 2, -2) and shape[-1] != shape[-2]:
            continue
        got = ember.linalg.cond(ember.zeros(shape, dtype=ember.float64), p)
        want = torch.linalg.cond(torch.zeros(shape, dtype=torch.float64), p)
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


# --- matrix_exp ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [0.1, 2.0, 30.0])
def test_matrix_exp_and_its_frechet_gradient(scale, dtype):
    a = (_sample(2, 4, 4, dtype=np.float64) * scale).astype(dtype)
    rel = dict(rtol=1e-5, atol=0) if dtype == np.float32 else dict(rtol=1e-11, atol=0)
    mine, ref = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    got, want = ember.linalg.matrix_exp(mine), torch.linalg.matrix_exp(ref)
    peak = float(np.abs(want.detach().numpy()).max())
    np.testing.assert_allclose(got.detach().numpy() / peak, want.detach().numpy() / peak, atol=rel["rtol"] * 10)
    u = _sample(2, 4, 4, dtype=dtype, seed=3)
    (got * ember.tensor(u)).sum().backward()
    (want * torch.tensor(u)).sum().backward()
    peak = float(np.abs(ref.grad.numpy()).max())
    np.testing.assert_allclose(mine.grad.numpy() / peak, ref.grad.numpy() / peak, atol=rel["rtol"] * 10)


def test_matrix_exp_second_order_gradient_matches_torch():
    a = _sample(3, 3) * 0.5
    mine, ref = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (g,) = ember.autograd.grad((ember.linalg.matrix_exp(mine) ** 2).sum(), [mine], create_graph=True)
    (h,) = torch.autograd.grad((torch.linalg.matrix_exp(ref) ** 2).sum(), [ref], create_graph=True)
    (g * g).sum().backward()
    (h * h).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=1e-9)


# --- products and reshaped systems --------------------------------------------------------------------------------


@pytest.mark.parametrize("shapes", [[(3, 4), (4, 5)], [(4,), (4, 30), (30, 2), (2,)], [(10, 30), (30, 5), (5, 60)],
                                    [(2, 40), (40, 3), (3, 40), (40, 1)]])
def test_multi_dot(shapes):
    arrays = [_sample(*s, seed=i) for i, s in enumerate(shapes)]
    _check(lambda *xs: ember.linalg.multi_dot(xs), lambda *xs: torch.linalg.multi_dot(xs), *arrays)


def test_multi_dot_multiplies_in_the_cheapest_order(monkeypatch):
    from ember.ops import matrix_chain

    products = []
    original = matrix_chain.matmul
    monkeypatch.setattr(matrix_chain, "matmul", lambda a, b: products.append((a.shape, b.shape)) or original(a, b))
    ember.linalg.multi_dot([ember.ones(10, 100), ember.ones(100, 5), ember.ones(5, 50)])
    assert products == [((10, 100), (100, 5)), ((10, 5), (5, 50))]  # (AB)C: 7500 products, A(BC) 75000


def test_vecdot_diagonal_tensorinv_tensorsolve():
    x, y = _sample(2, 3, 4), _sample(3, 4, seed=1)
    _check(lambda a, b: ember.linalg.vecdot(a, b), lambda a, b: torch.linalg.vecdot(a, b), x, y)
    _check(lambda a, b: ember.linalg.vecdot(a, b, dim=-2), lambda a, b: torch.linalg.vecdot(a, b, dim=-2), x, y)
    _check(lambda a: ember.linalg.diagonal(a, offset=1), lambda a: torch.linalg.diagonal(a, offset=1), x)
    _check(lambda a: ember.linalg.diagonal(a, dim1=0, dim2=2), lambda a: torch.linalg.diagonal(a, dim1=0, dim2=2), x)
    a = _sample(4, 6, 8, 3, kind="normal").reshape(4, 6, 8, 3) + np.eye(24).reshape(4, 6, 8, 3) * 3
    _check(lambda t: ember.linalg.tensorinv(t, ind=2), lambda t: torch.linalg.tensorinv(t, ind=2), a)
    b = _sample(4, 6, seed=2)
    _check(ember.linalg.tensorsolve, torch.linalg.tensorsolve, a, b)
    square = _sample(6, 6, kind="square", seed=4)  # A' (6, 3, 2); A has the last dimension first: dims=(0,)
    moved = np.moveaxis(square.reshape(6, 3, 2), -1, 0).copy()
    _check(lambda t, u: ember.linalg.tensorsolve(t, u, dims=(0,)),
           lambda t, u: torch.linalg.tensorsolve(t, u, dims=(0,)), moved, _sample(6, seed=3))


def test_vecdot_conjugates_a_complex_first_argument():
    # it summed x * y, not conj(x) * y
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    y = rng.standard_normal((3, 4)) - 2j * rng.standard_normal((3, 4))
    ours = ember.linalg.vecdot(ember.tensor(x), ember.tensor(y), dim=0).numpy()
    np.testing.assert_allclose(ours, torch.linalg.vecdot(torch.tensor(x), torch.tensor(y), dim=0).numpy())
    a = ember.tensor(x, requires_grad=True)
    ember.real(ember.linalg.vecdot(a, ember.tensor(y)) * ember.tensor([1j, 2.0, -1.0])).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    (torch.linalg.vecdot(t, torch.tensor(y)) * torch.tensor([1j, 2.0, -1.0])).real.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.resolve_conj().numpy())


# --- Householder reflections ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 4), (6, 2)])
def test_geqrf_and_householder_product(shape):
    a = _sample(*shape)
    _check(ember.geqrf, torch.geqrf, a, grad=False)
    h, tau = torch.geqrf(torch.tensor(a))
    _check(ember.linalg.householder_product, torch.linalg.householder_product, h.numpy(), tau.numpy())
    _check(ember.orgqr, torch.orgqr, h.numpy(), tau.numpy()[..., :1])
    q = ember.linalg.householder_product(*ember.geqrf(ember.tensor(a)))
    np.testing.assert_allclose(np.abs(q.numpy()), np.abs(np.linalg.qr(a)[0]), atol=1e-12)


def test_a_backward_through_geqrf_raises_as_torch():
    # its outputs were detached, so a loss reaching A also around geqrf got a gradient without geqrf's part
    a = ember.tensor(_sample(4, 3), requires_grad=True)
    h, tau = ember.geqrf(a)
    assert h.requires_grad and tau.requires_grad
    with pytest.raises(RuntimeError, match=r"geqrf: the derivative is not implemented.*float64\[4, 3\]"):
        (h.sum() + tau.sum() + a.sum()).backward()
    with torch.no_grad(), ember.no_grad():
        assert not ember.geqrf(a).a.requires_grad


@pytest.mark.parametrize("shape", [(2, 4, 3), (3, 2, 5, 2), (4, 3)])
def test_householder_product_of_no_reflectors_keeps_the_batch(shape):
    # tau (*, 0) gave one (m, n) matrix of the identity's columns for the whole batch ((4, 3) for A (2, 4, 3))
    a, tau = _sample(*shape), np.zeros(shape[:-2] + (0,))
    _check(ember.linalg.householder_product, torch.linalg.householder_product, a, tau, grad=False)
    mine = ember.tensor(a, requires_grad=True)
    ember.linalg.householder_product(mine, ember.tensor(tau)).sum().backward()
    np.testing.assert_array_equal(mine.grad.numpy(), np.zeros(shape))


# --- errors, graphs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, fragments", [
    (lambda: ember.linalg.solve_triangular(ember.ones(3, 3), ember.ones(4, 2), upper=True), ValueError,
     ["solve_triangular", "float32[4, 2]"]),
    (lambda: ember.linalg.solve_triangular(ember.ones(3, 3), ember.ones(3, 2)), TypeError, ["upper"]),
    (lambda: ember.linalg.lu_factor(ember.ones(3, dtype=ember.float64)), ValueError, ["lu_factor", "2 dimensions"]),
    (lambda: ember.linalg.lu_factor(ember.ones(2, 2, dtype=ember.int64)), TypeError, ["lu_factor", "int64[2, 2]"]),
    (lambda: ember.linalg.lu_solve(*ember.linalg.lu_factor(ember.eye(3)), ember.ones(4, 2)), ValueError,
     ["lu_solve", "float32[4, 2]"]),
    (lambda: ember.linalg.solve_ex(ember.eye(3), ember.ones(3, 2, dtype=ember.float64)), TypeError,
     ["lu_solve", "float32[3, 3], float64[3, 2]"]),
    # pivots out of 1..m: a 0 (or -1) indexed the last row, a permutation PyTorch refuses to build
    (lambda: ember.lu_unpack(ember.eye(3), ember.tensor([0, 2, 3], dtype=ember.int32)), ValueError,
     ["lu_permutation", "1..3", "got 0..3"]),
    (lambda: ember.linalg.lu_solve(ember.eye(3), ember.tensor([1, 2, -1], dtype=ember.int32), ember.ones(3, 1)),
     ValueError, ["lu_permutation", "1..3", "got -1..2"]),
    (lambda: ember.linalg.lstsq(ember.ones(3, 2), ember.ones(4, 2)), ValueError, ["lstsq", "[3, 2]", "[4, 2]"]),
    (lambda: ember.linalg.lstsq(ember.ones(3, 2), ember.ones(3, 2), driver="x"), ValueError, ["lstsq", "driver"]),
    (lambda: ember.linalg.cond(ember.ones(2, 2), 3), ValueError, ["cond", "p"]),
    (lambda: ember.linalg.multi_dot([ember.ones(2, 3), ember.ones(4, 2)]), ValueError, ["multi_dot", "[2, 3]"]),
    (lambda: ember.linalg.multi_dot([ember.ones(2, 3)]), ValueError, ["multi_dot", "two"]),
    (lambda: ember.linalg.tensorinv(ember.ones(2, 3, 4)), ValueError, ["tensorinv", "[2, 3, 4]"]),
    (lambda: ember.linalg.tensorsolve(ember.ones(2, 3, 4), ember.ones(3)), ValueError, ["tensorsolve", "[3]"]),
    (lambda: ember.linalg.householder_product(ember.ones(2, 3), ember.ones(1)), ValueError,
     ["householder_product", "m >= n"]),
    (lambda: ember.linalg.matrix_exp(ember.ones(2, 3)), ValueError, ["matrix_exp", "square"]),
])
def test_bad_input_errors_name_the_op_and_shapes(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    for fragment in fragments:
        assert fragment in str(info.value)


def test_jit_gives_eager_values_and_gradients():
    def step(a, b):
        spd = a @ a.mT + ember.tensor(np.eye(3) * 3)
        low = ember.linalg.cholesky(spd)
        lu, pivots = ember.linalg.lu_factor(a)
        value = (ember.linalg.solve_triangular(low, b, upper=False).sum() + ember.cholesky_solve(b, low).sum()
                 + ember.linalg.lu_solve(lu, pivots, b).sum() + ember.linalg.matrix_exp(a * 0.3).sum()
                 + ember.linalg.lstsq(a, b).solution.sum() + ember.linalg.cond(a).sum()
                 + ember.linalg.lu(a).L.sum())
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


def test_onnx_names_the_ops_it_cannot_export():
    pytest.importorskip("onnx")
    a = _sample(3, 3, dtype=np.float32, kind="square")
    for fn, name in [(ember.linalg.matrix_exp, "matrix_exp"), (lambda x: ember.linalg.lu_factor(x).LU, "lu_factor"),
                     (lambda x: ember.linalg.solve_triangular(x, x, upper=True), "solve_triangular")]:
        with pytest.raises(ValueError, match=name):
            ember.onnx.to_onnx(ember.onnx.trace(fn, [a]))


@pytest.mark.parametrize("name, fn", [
    ("solve_triangular", lambda x: ember.linalg.solve_triangular(x, x, upper=True)),
    ("lu_solve", lambda x: ember.linalg.lu_solve(*ember.linalg.lu_factor(x), x)),
    ("cholesky_inverse", lambda x: ember.cholesky_inverse(ember.linalg.cholesky(x @ x.mT))),
    ("inv_ex", lambda x: ember.linalg.inv_ex(x).inverse),
    ("cond", lambda x: ember.linalg.cond(x, "fro")),
    ("matrix_exp", ember.linalg.matrix_exp),
    ("lstsq", lambda x: ember.linalg.lstsq(x, x).solution),
])
def test_a_graph_with_an_unknown_batch_builds_and_runs(name, fn):
    # the identity matrices cholesky_inverse and inv_ex solve for took the batch size, unknown while the graph is built
    graph = ember.graph.Graph()
    x = graph.input("x", (None, 3, 3), "float64")
    with graph.building():
        graph.outputs = [fn(x)]
    a = _sample(4, 3, 3, kind="square")
    with ember.no_grad():
        expected = fn(ember.tensor(a)).numpy()
    np.testing.assert_allclose(ember.runtime.GraphFunction(graph)(a)[0], expected, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
def test_tensor_methods_follow_torchs():
    a, b = _sample(3, 3, kind="square"), _sample(3, 2, seed=1)
    low = np.linalg.cholesky(_sample(3, 3, kind="spd"))
    _check(lambda y, x: y.triangular_solve(x, upper=False), lambda y, x: y.triangular_solve(x, upper=False), b, a)
    _check(lambda y, f: y.cholesky_solve(f), lambda y, f: y.cholesky_solve(f), b, low)
    _check(lambda x: x.matrix_exp(), lambda x: x.matrix_exp(), a)
    _check(lambda x: x.geqrf(), lambda x: x.geqrf(), a, grad=False)
    h, tau = torch.geqrf(torch.tensor(a))
    _check(lambda x, t: x.orgqr(t), lambda x, t: x.orgqr(t), h.numpy(), tau.numpy())


def test_torch_s_older_lu_and_lu_solve_spellings():
    # torch.lu, torch.lu_solve(b, LU, pivots) and the Tensor methods were AttributeErrors
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 2))
    lu, pivots = ember.lu(ember.tensor(a))
    t_lu, t_pivots = torch.lu(torch.tensor(a))
    np.testing.assert_allclose(lu.numpy(), t_lu.numpy(), atol=1e-12)
    np.testing.assert_array_equal(pivots.numpy(), t_pivots.numpy())
    expected = torch.lu_solve(torch.tensor(b), t_lu, t_pivots).numpy()
    np.testing.assert_allclose(ember.lu_solve(ember.tensor(b), lu, pivots).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(ember.tensor(b).lu_solve(lu, pivots).numpy(), expected, atol=1e-12)
    singular = ember.tensor(np.zeros((3, 3)))  # no error, as torch.lu: the info names the zero pivot
    assert ember.lu(singular)[0].shape == (3, 3)
    assert singular.lu(get_infos=True)[2].item() == torch.lu(torch.zeros(3, 3), get_infos=True)[2].item() == 1

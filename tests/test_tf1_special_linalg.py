"""TF-1's complex numbers, special functions, tf.math helpers and tf.linalg solvers and decompositions against
NumPy/SciPy float64 references of TF-1's semantics; gradients (tf.gradients) against finite differences or
analytic formulas."""

import numpy as np
import pytest
import scipy.linalg
import scipy.special
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(2)


def run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


def numeric_gradient(np_fn, x, w, eps=1e-6):
    out = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[k] = eps
        out[k] = (np.sum(w * np_fn(x + step)) - np.sum(w * np_fn(x - step))) / (2 * eps)
    return out


def check_gradient(tf_fn, np_fn, x, rtol=1e-5, atol=1e-7):
    w = RNG.normal(size=np.shape(np_fn(x)))
    xt = tf.constant(x)
    (grad,) = tf.gradients(tf.reduce_sum(tf.constant(w) * tf_fn(xt)), [xt])
    np.testing.assert_allclose(run(grad), numeric_gradient(np_fn, x, w), rtol=rtol, atol=atol)


# --- complex numbers ---------------------------------------------------------------------------------------


def test_complex_real_imag_conj_dtypes_values_and_gradient():
    re, im = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    z = tf.complex(re, im)
    assert z.dtype == tf.complex128 and tf.complex(re.astype(np.float32), im.astype(np.float32)).dtype == tf.complex64
    np.testing.assert_array_equal(run(z), re + 1j * im)
    np.testing.assert_array_equal(run(tf.real(z)), re)
    np.testing.assert_array_equal(run(tf.imag(z)), im)
    np.testing.assert_array_equal(run(tf.conj(z)), re - 1j * im)
    np.testing.assert_array_equal(run(tf.imag(re)), np.zeros_like(re))
    np.testing.assert_array_equal(run(tf.real(re)), re)
    a, b = tf.constant(re), tf.constant(im)
    w = tf.complex(a, b)
    loss = tf.reduce_sum(tf.real(w * w))  # re^2 - im^2
    ga, gb = tf.gradients(loss, [a, b])
    np.testing.assert_allclose(run(ga), 2 * re)
    np.testing.assert_allclose(run(gb), -2 * im)
    with pytest.raises(TypeError, match="tf.complex: real and imag must both be float32 or both float64"):
        tf.complex(re, im.astype(np.float32))


# --- special functions --------------------------------------------------------------------------------------


def test_igamma_igammac_zeta_polygamma_lbeta():
    a = RNG.uniform(0.5, 3.0, size=(5,))
    x = RNG.uniform(0.1, 4.0, size=(5,))
    np.testing.assert_allclose(run(tf.igamma(a, x)), scipy.special.gammainc(a, x), rtol=1e-10)
    np.testing.assert_allclose(run(tf.math.igammac(a, x)), scipy.special.gammaincc(a, x), rtol=1e-10)
    check_gradient(lambda t: tf.igamma(a, t), lambda v: scipy.special.gammainc(a, v), x)
    at = tf.constant(a)
    with pytest.raises(NotImplementedError, match="igamma: the gradient for a"):
        run(tf.gradients(tf.reduce_sum(tf.igamma(at, x)), [at]))
    s, q = RNG.uniform(1.5, 4.0, size=(5,)), RNG.uniform(0.5, 3.0, size=(5,))
    np.testing.assert_allclose(run(tf.zeta(s, q)), scipy.special.zeta(s, q), rtol=1e-10)
    check_gradient(lambda t: tf.zeta(s, t), lambda v: scipy.special.zeta(s, v), q)
    st = tf.constant(s)
    assert tf.gradients(tf.reduce_sum(tf.zeta(st, q)), [st]) == [None]  # no gradient for x, as TF-1's
    n = np.array([0.0, 1.0, 2.0, 3.0, 1.0])
    np.testing.assert_allclose(run(tf.polygamma(n, x)), scipy.special.polygamma(n.astype(int), x), rtol=1e-9)
    check_gradient(lambda t: tf.polygamma(n, t), lambda v: scipy.special.polygamma(n.astype(int), v), x, rtol=1e-4)
    batch = RNG.uniform(0.5, 3.0, size=(3, 4))
    expected = np.sum(scipy.special.gammaln(batch), -1) - scipy.special.gammaln(np.sum(batch, -1))
    np.testing.assert_allclose(run(tf.lbeta(batch)), expected, rtol=1e-10)
    check_gradient(tf.lbeta, lambda v: np.sum(scipy.special.gammaln(v), -1) - scipy.special.gammaln(np.sum(v, -1)),
                   batch)
    with pytest.raises(TypeError, match="tf.igamma: the inputs must be float32 or float64 and of one dtype"):
        tf.igamma(a.astype(np.float32), x)
    with pytest.raises(ValueError, match="tf.lbeta: x must have rank 1 or more"):
        tf.lbeta(2.0)


def test_tf_math_unary_specials_and_aliases():
    x = RNG.uniform(0.1, 3.0, size=(6,))
    np.testing.assert_allclose(run(tf.math.bessel_i0e(x)), scipy.special.i0e(x), rtol=1e-10)
    np.testing.assert_allclose(run(tf.math.bessel_i1e(x)), scipy.special.i1e(x), rtol=1e-10)
    p = RNG.uniform(0.05, 0.95, size=(6,))
    np.testing.assert_allclose(run(tf.math.ndtri(p)), scipy.special.ndtri(p), rtol=1e-10)
    check_gradient(tf.math.bessel_i0e, scipy.special.i0e, x)
    check_gradient(tf.math.ndtri, scipy.special.ndtri, p, rtol=1e-4)
    assert tf.math.is_non_decreasing is tf.is_non_decreasing
    assert tf.math.is_strictly_increasing is tf.is_strictly_increasing
    assert tf.math.log_softmax is tf.nn.log_softmax and tf.math.erfinv is tf.erfinv
    assert run(tf.to_bfloat16(tf.constant([1.5]))).dtype == tf.bfloat16


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_logsumexp(exclusive, reverse):
    x = RNG.normal(size=(3, 4)) * 3

    def reference(v):
        a = np.flip(v, 1) if reverse else v
        out = np.logaddexp.accumulate(a, axis=1)
        if exclusive:
            out = np.concatenate([np.full((3, 1), -np.inf), out[:, :-1]], axis=1)
        return np.flip(out, 1) if reverse else out

    np.testing.assert_allclose(run(tf.math.cumulative_logsumexp(x, axis=1, exclusive=exclusive, reverse=reverse)),
                               reference(x), rtol=1e-12)
    if not exclusive:
        check_gradient(lambda t: tf.math.cumulative_logsumexp(t, 1, reverse=reverse), reference, x)


def test_polyval_reduce_euclidean_norm_confusion_matrix():
    coeffs = [RNG.normal(size=(3,)) for _ in range(4)]
    x = RNG.normal(size=(3,))
    np.testing.assert_allclose(run(tf.math.polyval(coeffs, x)), sum(c * x ** (3 - i) for i, c in enumerate(coeffs)))
    np.testing.assert_array_equal(run(tf.math.polyval([], x)), np.zeros(3))
    check_gradient(lambda t: tf.math.polyval(coeffs, t), lambda v: sum(c * v ** (3 - i) for i, c in enumerate(coeffs)),
                   x)
    m = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(run(tf.math.reduce_euclidean_norm(m, axis=1, keepdims=True)),
                               np.sqrt(np.sum(m * m, 1, keepdims=True)))
    check_gradient(lambda t: tf.math.reduce_euclidean_norm(t, 0), lambda v: np.sqrt(np.sum(v * v, 0)), m)
    with pytest.raises(TypeError, match="reduce_euclidean_norm: supported for float and complex"):
        tf.math.reduce_euclidean_norm(np.arange(3))
    labels = np.array([0, 1, 2, 2, 1, 0, 2])
    preds = np.array([0, 2, 2, 1, 1, 0, 0])
    weights = RNG.uniform(size=7)
    expected = np.zeros((4, 4))
    np.add.at(expected, (labels, preds), weights)
    got = run(tf.math.confusion_matrix(labels, preds, num_classes=4, weights=weights, dtype=tf.float64))
    np.testing.assert_allclose(got, expected)
    counts = run(tf.math.confusion_matrix(labels, preds))
    expected_counts = np.zeros((3, 3), np.int32)
    np.add.at(expected_counts, (labels, preds), 1)
    np.testing.assert_array_equal(counts, expected_counts)
    assert counts.dtype == np.int32 and tf.confusion_matrix is tf.math.confusion_matrix
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        run(tf.math.confusion_matrix(labels, preds, num_classes=2))
    with pytest.raises(TypeError, match="labels must be integers"):
        tf.math.confusion_matrix(labels.astype(float), preds)


# --- linear algebra -----------------------------------------------------------------------------------------


def test_matrix_solve_and_adjoint_and_gradient():
    a = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    b = RNG.normal(size=(2, 3, 2))
    np.testing.assert_allclose(run(tf.matrix_solve(a, b)), np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(run(tf.linalg.solve(a, b, adjoint=True)),
                               np.linalg.solve(np.swapaxes(a, -1, -2), b), rtol=1e-10)
    check_gradient(lambda t: tf.matrix_solve(t, b), lambda v: np.linalg.solve(v, b), a)
    with pytest.raises(ValueError, match=r"rhs of shape \[2, 4, 2\] does not fit matrix of shape \[2, 3, 3\]"):
        tf.matrix_solve(a, np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="the matrices must be square"):
        tf.matrix_solve(np.zeros((3, 2)), np.zeros((3, 1)))


@pytest.mark.parametrize("rows, cols", [(5, 3), (3, 5)])
@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_matrix_solve_ls_fast_is_tf1s_regularized_normal_equations(rows, cols, l2):
    a = RNG.normal(size=(rows, cols))
    b = RNG.normal(size=(rows, 2))

    def reference(m):
        if rows >= cols:
            return np.linalg.solve(m.T @ m + l2 * np.eye(cols), m.T @ b)
        return m.T @ np.linalg.solve(m @ m.T + l2 * np.eye(rows), b)

    np.testing.assert_allclose(run(tf.matrix_solve_ls(a, b, l2_regularizer=l2)), reference(a), rtol=1e-9)
    check_gradient(lambda t: tf.linalg.lstsq(t, b, l2_regularizer=l2), reference, a, rtol=1e-5)
    if l2 == 0.0:
        np.testing.assert_allclose(run(tf.matrix_solve_ls(a, b, fast=False)), np.linalg.lstsq(a, b, rcond=None)[0],
                                   rtol=1e-9)
    else:
        with pytest.raises(ValueError, match="fast=False supports only l2_regularizer=0"):
            tf.matrix_solve_ls(a, b, l2, fast=False)


def test_self_adjoint_eig_eigvals_and_gradient_of_eigenvalues():
    m = RNG.normal(size=(2, 4, 4))
    sym = m + np.swapaxes(m, -1, -2)
    e, v = tf.self_adjoint_eig(sym)
    got_e, got_v = run([e, v])
    np.testing.assert_allclose(got_e, np.linalg.eigvalsh(sym), rtol=1e-10)
    np.testing.assert_allclose(got_v @ (got_e[..., None] * np.swapaxes(got_v, -1, -2)), sym, atol=1e-10)
    assert (e.name, v.name) == ("SelfAdjointEigV2:0", "SelfAdjointEigV2:1")
    np.testing.assert_allclose(run(tf.linalg.eigvalsh(sym)), np.linalg.eigvalsh(sym), rtol=1e-10)
    x = tf.constant(sym)
    w = RNG.normal(size=(2, 4))
    (grad,) = tf.gradients(tf.reduce_sum(tf.self_adjoint_eigvals(x) * w), [x])
    _, vectors = np.linalg.eigh(sym)  # d(lambda_i) = v_i v_i^T
    np.testing.assert_allclose(run(grad), np.einsum("bik,bk,bjk->bij", vectors, w, vectors), atol=1e-9)


def test_cross_expm_logdet_matvec_lu():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(run(tf.cross(a, b)), np.cross(a, b), rtol=1e-12)
    check_gradient(lambda t: tf.linalg.cross(t, b), lambda v: np.cross(v, b), a)
    with pytest.raises(ValueError, match="the last dimension must be 3"):
        tf.cross(np.zeros((2, 4)), np.zeros((2, 4)))
    m = RNG.normal(size=(3, 3)) * 0.5
    np.testing.assert_allclose(run(tf.linalg.expm(m)), scipy.linalg.expm(m), rtol=1e-10)
    check_gradient(tf.linalg.expm, scipy.linalg.expm, m)
    spd = m @ m.T + np.eye(3)
    np.testing.assert_allclose(run(tf.linalg.logdet(spd)), np.linalg.slogdet(spd)[1], rtol=1e-12)
    x = tf.constant(spd)
    (grad,) = tf.gradients(tf.linalg.logdet(x), [x])
    np.testing.assert_allclose(run(grad), np.linalg.inv(spd), rtol=1e-9)  # d logdet = inv(A)^T, A symmetric
    v = RNG.normal(size=(2, 3))
    batch = RNG.normal(size=(2, 3, 3))
    np.testing.assert_allclose(run(tf.linalg.matvec(batch, v)), np.einsum("bij,bj->bi", batch, v))
    np.testing.assert_allclose(run(tf.linalg.matvec(batch, v, transpose_a=True)), np.einsum("bji,bj->bi", batch, v))
    with pytest.raises(ValueError, match="only one of transpose_a and adjoint_a"):
        tf.linalg.matvec(batch, v, transpose_a=True, adjoint_a=True)
    packed, perm = run(tf.linalg.lu(batch))
    _, lower, upper = scipy.linalg.lu(batch[0])
    for k in range(2):
        lo = np.tril(packed[k], -1) + np.eye(3)
        np.testing.assert_allclose(batch[k][perm[k]], lo @ np.triu(packed[k]), atol=1e-12)
    np.testing.assert_allclose(np.triu(packed[0]), upper, atol=1e-12)
    assert perm.dtype == np.int32
    np.testing.assert_allclose(run(tf.linalg.adjoint(batch)), np.swapaxes(batch, -1, -2))

"""The regularized incomplete beta function (``ember.special.betainc``, ``tf.math.betainc``) against SciPy's
``scipy.special.betainc``: values across orders of magnitude of a and b, SciPy's edge values, the gradient for x
(the Beta density) by finite differences, and the refused gradient for a and b."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.compat.tf as tf

sps = pytest.importorskip("scipy.special")
stats = pytest.importorskip("scipy.stats")


def test_matches_scipy_across_scales():
    rng = np.random.default_rng(0)
    a, b = np.exp(rng.uniform(-3, 9, (2, 5000)))  # 0.05 to 8000
    x = rng.uniform(0, 1, 5000)
    got = ember.special.betainc(ember.tensor(a), ember.tensor(b), ember.tensor(x)).numpy()
    ref = sps.betainc(a, b, x)
    big = ref > 1e-250  # (below, both underflow: SciPy gives 0 where Ember still holds 1e-300)
    np.testing.assert_allclose(got[big], ref[big], rtol=1e-10)
    np.testing.assert_allclose(got, ref, atol=1e-12, rtol=0)


def test_large_a_and_b_keep_their_digits():
    # log B(a, b) from lgamma loses 1e-7 at a = b = 1e8; Stirling's form keeps the result at 0.5
    a = np.array([1e8, 1e6, 3e5, 1e8])
    b = np.array([1e8, 1e6, 1.0, 2.0])
    x = np.array([0.5, 0.5005, 0.99999, 1 - 1e-8])
    got = ember.special.betainc(ember.tensor(a), ember.tensor(b), ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, sps.betainc(a, b, x), rtol=1e-9)


def test_edge_values_as_scipy():
    inf, nan = np.inf, np.nan
    cases = [(0, 1, 0.5), (0, 1, 0), (1, 0, 0.5), (1, 0, 1), (0, 0, 0.5), (-1, 1, 0.5), (1, 1, -0.1), (1, 1, 1.1),
             (2, 3, 0), (2, 3, 1), (inf, 1, 0.5), (1, inf, 0.5), (nan, 1, 0.5), (1e-300, 1, 0.5), (inf, inf, 0.5),
             (1, 1, nan), (0, 1, 1)]
    a, b, x = (np.array(c, dtype=np.float64) for c in zip(*cases))
    got = ember.special.betainc(ember.tensor(a), ember.tensor(b), ember.tensor(x)).numpy()
    np.testing.assert_array_equal(got, sps.betainc(a, b, x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_broadcasting_and_dtypes(dtype):
    a = ember.tensor([[0.5], [2.0]], dtype=dtype)
    out = ember.special.betainc(a, 3.0, ember.tensor([0.1, 0.6, 0.9], dtype=dtype))
    assert out.shape == (2, 3) and out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.numpy(), sps.betainc([[0.5], [2.0]], 3.0, [0.1, 0.6, 0.9]),
                               rtol=1e-6 if dtype == "float32" else 1e-12)
    with pytest.raises(TypeError, match="betainc: needs floating-point inputs"):
        ember.special.betainc(ember.tensor([1]), ember.tensor([2]), ember.tensor([0]))


def test_gradient_for_x_is_the_beta_density_and_a_b_are_refused():
    a, b = np.array([0.7, 2.0, 5.0]), np.array([1.5, 0.8, 4.0])
    x = np.array([0.3, 0.6, 0.45])
    xt = ember.tensor(x, requires_grad=True)
    ember.special.betainc(ember.tensor(a), ember.tensor(b), xt).sum().backward()
    h = 1e-6
    fd = (sps.betainc(a, b, x + h) - sps.betainc(a, b, x - h)) / (2 * h)
    np.testing.assert_allclose(xt.grad.numpy(), fd, rtol=1e-7)
    np.testing.assert_allclose(xt.grad.numpy(), stats.beta(a, b).pdf(x), rtol=1e-12)
    at = ember.tensor(a, requires_grad=True)
    with pytest.raises(NotImplementedError, match="betainc: the gradient for a and b is not implemented"):
        ember.special.betainc(at, ember.tensor(b), ember.tensor(x)).sum().backward()


def test_tf_betainc_value_and_gradients():
    with tf.Graph().as_default():
        a = tf.constant([0.7, 2.0, 5.0], tf.float64)
        b = tf.constant([1.5, 0.8, 4.0], tf.float64)
        x = tf.placeholder(tf.float64, [3])
        y = tf.math.betainc(a, b, x)
        assert tf.betainc is tf.math.betainc and y.dtype == np.float64 and tuple(y.shape) == (3,)
        ga, gb, gx = tf.gradients(tf.reduce_sum(y), [a, b, x])
        assert ga is None and gb is None  # as TF-1's Betainc gradient
        with tf.Session() as s:
            value, grad = s.run([y, gx], {x: [0.3, 0.6, 0.45]})
        with pytest.raises(TypeError, match="tf.betainc: the inputs must be float32 or float64 and of one dtype"):
            tf.betainc(a, b, tf.constant([0.5, 0.5, 0.5], tf.float32))
    np.testing.assert_allclose(value, sps.betainc([0.7, 2.0, 5.0], [1.5, 0.8, 4.0], [0.3, 0.6, 0.45]), rtol=1e-12)
    np.testing.assert_allclose(grad, stats.beta([0.7, 2.0, 5.0], [1.5, 0.8, 4.0]).pdf([0.3, 0.6, 0.45]), rtol=1e-12)


def test_tf_betainc_takes_one_shape_or_scalars_as_tf1_and_special_betainc_broadcasts():
    with tf.Graph().as_default():
        row = tf.constant([0.7, 2.0, 5.0], tf.float64)
        grid = tf.constant(np.full((2, 3), 0.4))
        half = tf.constant(0.5, tf.float64)
        y = tf.betainc(2.0, row, half)  # scalars go with any shape
        z = tf.betainc(tf.constant(np.full((2, 3), 1.5)), 3.0, grid)
        with pytest.raises(ValueError, match=r"Betainc: shapes of b and x are inconsistent: \[3\] vs. \[2, 3\]"):
            tf.betainc(1.5, row, grid)
        with pytest.raises(ValueError, match=r"shapes of a and b are inconsistent: \[2, 3\] vs. \[3\]"):
            tf.betainc(grid, row, half)
        unknown = tf.placeholder(tf.float64, [None, 3])
        assert tuple(tf.betainc(unknown, grid, grid).shape) == (2, 3)  # an unknown size may match
        with tf.Session() as s:
            values, grid_values = s.run([y, z], {unknown: np.ones((2, 3))})
    np.testing.assert_allclose(values, sps.betainc(2.0, [0.7, 2.0, 5.0], 0.5), rtol=1e-12)
    np.testing.assert_allclose(grid_values, np.full((2, 3), sps.betainc(1.5, 3.0, 0.4)), rtol=1e-12)
    broadcast = ember.special.betainc(*(ember.tensor(np.float64(v)) for v in ([[1.5], [2.5]], [0.7, 2.0, 5.0], 0.4)))
    np.testing.assert_allclose(broadcast.numpy(), sps.betainc([[1.5], [2.5]], [0.7, 2.0, 5.0], 0.4), rtol=1e-12)

"""``tf.image``'s HSV conversions, hue/saturation/gamma adjustments, Sobel edges, PSNR and SSIM against float64
NumPy/SciPy references of TF-1's documented formulas (``colorsys`` for HSV)."""

import colorsys

import numpy as np
import pytest
from scipy import ndimage, signal
from tf1_fixtures import fresh_graph, numeric_gradient  # noqa: F401  (fresh_graph: autouse, a fresh graph per test)

import ember.compat.tf as tf


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def _image(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape)


def _hsv(x):
    return np.array([colorsys.rgb_to_hsv(*p) for p in x.reshape(-1, 3)]).reshape(x.shape)


def _rgb(x):
    return np.array([colorsys.hsv_to_rgb(*p) for p in x.reshape(-1, 3)]).reshape(x.shape)


def test_rgb_to_hsv_and_back_match_colorsys():
    x = _image(2, 4, 5, 3)
    x[0, 0, 0] = [0.3, 0.3, 0.3]  # gray: hue and saturation 0
    x[0, 0, 1] = 0.0  # black
    x[0, 0, 2] = [0.9, 0.2, 0.9]  # red and blue both the maximum
    hsv, rgb = _run([tf.image.rgb_to_hsv(tf.constant(x)), tf.image.hsv_to_rgb(tf.constant(_hsv(x)))])
    np.testing.assert_allclose(hsv, _hsv(x), atol=1e-12)
    np.testing.assert_allclose(rgb, x, atol=1e-12)
    h = _image(50, 3, seed=1)
    np.testing.assert_allclose(_run(tf.image.hsv_to_rgb(tf.constant(h))), _rgb(h), atol=1e-12)
    assert tf.image.rgb_to_hsv(tf.constant(x.astype(np.float32))).dtype == np.float32
    with pytest.raises(ValueError, match=r"rgb_to_hsv: the last axis must have 3 channels, got shape \[2, 4\]"):
        tf.image.rgb_to_hsv(tf.constant(np.zeros((2, 4))))
    with pytest.raises(TypeError, match="tf.image.hsv_to_rgb: images must be float16, float32 or float64, got uint8"):
        tf.image.hsv_to_rgb(tf.constant(np.zeros((2, 3), np.uint8)))


@pytest.mark.parametrize("delta", [0.3, -0.45, 0.9])
def test_adjust_hue_rotates_the_hue(delta):
    x = _image(3, 4, 3, seed=2).astype(np.float32)
    got = _run(tf.image.adjust_hue(tf.constant(x), delta))
    hsv = _hsv(x.astype(np.float64))
    hsv[..., 0] = np.mod(hsv[..., 0] + delta, 1.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _rgb(hsv), atol=2e-6)


def test_adjust_saturation_and_integer_images():
    x = _image(3, 4, 3, seed=3)
    got = _run(tf.image.adjust_saturation(tf.constant(x), 1.7))
    hsv = _hsv(x)
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.7, 0, 1)
    assert got.dtype == np.float64  # computed in float32, converted back
    np.testing.assert_allclose(got, _rgb(hsv), atol=2e-6)
    pixels = (x * 255).astype(np.uint8)
    got = _run(tf.image.adjust_saturation(tf.constant(pixels), 0.5))
    hsv = _hsv(pixels / 255.0)
    hsv[..., 1] *= 0.5
    assert got.dtype == np.uint8
    assert np.abs(got.astype(int) - (_rgb(hsv) * 255.5).astype(int)).max() <= 1  # float32 rounding at .5
    with pytest.raises(ValueError, match="tf.image.adjust_hue: the last axis must have 3 channels"):
        tf.image.adjust_hue(tf.constant(np.zeros((2, 2, 4), np.float32)), 0.1)


def test_random_hue_and_saturation_draw_one_factor_per_run():
    x = _image(4, 4, 3, seed=4).astype(np.float32)
    hue = tf.image.random_hue(tf.constant(x), 0.2)
    with tf.Session() as sess:
        runs = [sess.run(hue) for _ in range(3)]
    base = _hsv(x.astype(np.float64))
    shifts = []
    for got in runs:
        hsv = _hsv(got.astype(np.float64))
        np.testing.assert_allclose(hsv[..., 1:], base[..., 1:], atol=1e-5)
        shift = np.mod(hsv[..., 0] - base[..., 0] + 0.5, 1.0) - 0.5
        assert np.ptp(shift) < 1e-5 and abs(shift.mean()) <= 0.2
        shifts.append(shift.mean())
    assert len(set(np.round(shifts, 6))) == 3
    saturation = _hsv(_run(tf.image.random_saturation(tf.constant(x), 0.5, 1.5)).astype(np.float64))[..., 1]
    unclipped = saturation < 1 - 1e-6  # (a factor above 1 clips the most saturated pixels at 1, as TF-1's)
    factor = saturation[unclipped] / base[..., 1][unclipped]
    assert np.ptp(factor) < 1e-4 and 0.5 <= factor.mean() < 1.5
    np.testing.assert_allclose(saturation, np.minimum(base[..., 1] * factor.mean(), 1.0), rtol=1e-4)
    with pytest.raises(ValueError, match="tf.image.random_hue: max_delta must be <= 0.5, got 0.6"):
        tf.image.random_hue(tf.constant(x), 0.6)
    with pytest.raises(ValueError, match="tf.image.random_saturation: upper must be > lower"):
        tf.image.random_saturation(tf.constant(x), 1.0, 0.5)


def test_adjust_gamma_values_gradient_and_integers():
    x = _image(2, 3, 3, seed=5).astype(np.float32)
    xt = tf.constant(x)
    y = tf.image.adjust_gamma(xt, 2.2, 0.8)
    got, (grad,) = _run([y, tf.gradients(tf.reduce_sum(y), [xt])])
    np.testing.assert_allclose(got, 0.8 * x.astype(np.float64) ** 2.2, rtol=1e-6)
    np.testing.assert_allclose(grad, 0.8 * 2.2 * x.astype(np.float64) ** 1.2, rtol=1e-5)
    pixels = (x * 255).astype(np.uint8)
    got = _run(tf.image.adjust_gamma(tf.constant(pixels), 0.5, 1.5))
    reference = np.clip(1.5 * (pixels / 255.0) ** 0.5 * 255.5, 0, 255).astype(np.uint8)
    assert got.dtype == np.uint8 and np.abs(got.astype(int) - reference).max() <= 1
    with pytest.raises(ValueError, match="tf.image.adjust_gamma: gamma should be a non-negative real number, got -1"):
        tf.image.adjust_gamma(xt, -1)


def test_sobel_edges_values_and_gradient():
    x = _image(2, 5, 6, 2, seed=6)
    xt = tf.constant(x)
    edges = tf.image.sobel_edges(xt)
    assert edges.shape == (2, 5, 6, 2, 2)
    kernel = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float)
    reference = np.stack([ndimage.correlate(x, k[None, :, :, None], mode="mirror") for k in (kernel, kernel.T)], -1)
    got, (grad,) = _run([edges, tf.gradients(tf.reduce_sum(edges * edges), [xt])])
    np.testing.assert_allclose(got, reference, atol=1e-12)

    def f(a):
        return sum((ndimage.correlate(a, k[None, :, :, None], mode="mirror") ** 2).sum() for k in (kernel, kernel.T))

    np.testing.assert_allclose(grad, numeric_gradient(f, x), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match=r"tf.image.sobel_edges: the image must have rank 4 \(N, H, W, C\)"):
        tf.image.sobel_edges(tf.constant(x[0]))


def test_psnr_float_and_uint8():
    a, b = _image(3, 6, 5, 3, seed=7), _image(3, 6, 5, 3, seed=8)
    got = _run(tf.image.psnr(tf.constant(a), tf.constant(b), max_val=1.0))
    mse = ((a.astype(np.float32) - b.astype(np.float32)).astype(np.float64) ** 2).mean((-3, -2, -1))
    assert got.dtype == np.float32 and got.shape == (3,)
    np.testing.assert_allclose(got, 20 * np.log10(1.0) - 10 * np.log10(mse), rtol=1e-5)
    pa, pb = (a * 255).astype(np.uint8), (b * 255).astype(np.uint8)
    got = _run(tf.image.psnr(tf.constant(pa), tf.constant(pb), max_val=255))
    mse = ((pa / 255.0 - pb / 255.0) ** 2).mean((-3, -2, -1))
    np.testing.assert_allclose(got, -10 * np.log10(mse), rtol=1e-5)
    with pytest.raises(ValueError, match=r"tf.image.psnr: the images' last three dimensions must match"):
        tf.image.psnr(tf.constant(a), tf.constant(a[:, :5]), 1.0)


def _ssim_ref(x, y, max_val, size=11, sigma=1.5, k1=0.01, k2=0.03):
    coords = np.arange(size) - (size - 1) / 2
    g = np.exp(-0.5 * coords ** 2 / sigma ** 2)
    g = np.outer(g, g) / g.sum() ** 2

    def blur(z):
        return np.stack([np.stack([signal.correlate2d(z[n, :, :, c], g, mode="valid") for c in range(z.shape[-1])],
                                  -1) for n in range(z.shape[0])])

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mx, my = blur(x), blur(y)
    luminance = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    cs = (2 * blur(x * y) - 2 * mx * my + c2) / (blur(x * x + y * y) - mx ** 2 - my ** 2 + c2)
    return (luminance * cs).mean((1, 2)).mean(-1)


def test_ssim_matches_the_gaussian_window_formula():
    a = _image(2, 16, 14, 3, seed=9)
    b = np.clip(a + 0.1 * np.random.default_rng(10).standard_normal(a.shape), 0, 1)
    got = _run(tf.image.ssim(tf.constant(a.astype(np.float32)), tf.constant(b.astype(np.float32)), 1.0))
    assert got.dtype == np.float32 and got.shape == (2,)
    np.testing.assert_allclose(got, _ssim_ref(a, b, 1.0), rtol=1e-5)
    assert np.allclose(_run(tf.image.ssim(tf.constant(a), tf.constant(a), 1.0)), 1.0)
    pa, pb = (a * 255).astype(np.uint8), (b * 255).astype(np.uint8)
    got = _run(tf.image.ssim(tf.constant(pa), tf.constant(pb), 255, filter_size=5, filter_sigma=1.0, k1=0.02))
    np.testing.assert_allclose(got, _ssim_ref(pa / 255.0, pb / 255.0, 1.0, 5, 1.0, 0.02), rtol=1e-5)


def test_ssim_gradient_and_errors():
    a, b = _image(1, 6, 6, 1, seed=11), _image(1, 6, 6, 1, seed=12)
    at = tf.constant(a.astype(np.float32))
    (grad,) = _run(tf.gradients(tf.reduce_sum(tf.image.ssim(at, tf.constant(b.astype(np.float32)), 1.0,
                                                            filter_size=3)), [at]))
    reference = numeric_gradient(lambda z: _ssim_ref(z, b, 1.0, 3).sum(), a)
    np.testing.assert_allclose(grad, reference, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match=r"tf.image.ssim: height and width must be at least filter_size=11"):
        tf.image.ssim(at, at, 1.0)
    with pytest.raises(TypeError, match="tf.image.ssim: both images must have one dtype, got float32 and float64"):
        tf.image.ssim(at, tf.constant(b), 1.0, filter_size=3)

"""More of ``tf.image``, as TensorFlow 1.15: HSV conversions, hue/saturation/gamma adjustments, Sobel edges and
the PSNR and SSIM image-quality measures, each a recipe over Ember ops (so ``tf.gradients`` reaches through)."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, op
from ember.compat.tf.image import convert
from ember.ops.effects import random_draw

__all__ = [
    "adjust_gamma", "adjust_hue", "adjust_saturation", "hsv_to_rgb", "psnr", "random_hue", "random_saturation",
    "rgb_to_hsv", "sobel_edges", "ssim",
]

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _three_channels(name: str, image: Tensor) -> Tensor:
    if image.shape is not None and (not len(image.shape) or image.shape[-1] not in (None, 3)):
        raise ValueError(f"tf.image.{name}: the last axis must have 3 channels, got shape {list(image.shape)}")
    return image


def _float_only(name: str, image: Tensor) -> Tensor:
    if image.dtype is not None and image.dtype not in _FLOATS:
        raise TypeError(f"tf.image.{name}: images must be float16, float32 or float64, got {image.dtype}")
    return image


def _working_float(x):
    """TF's working image of the adjustments: float16 and float32 as they are, others converted to float32."""
    return x if x.dtype in (np.float16, np.float32) else convert(x, np.dtype(np.float32))


def _channels(x) -> tuple:
    return x[..., 0], x[..., 1], x[..., 2]


def _to_hsv(x):
    r, g, b = _channels(x)
    v = ember.maximum(ember.maximum(r, g), b)
    spread = v - ember.minimum(ember.minimum(r, g), b)
    # safe denominators: the masked branches must not make inf/nan, which would poison the gradient
    s = ember.where(v > 0, spread / ember.where(v > 0, v, 1.0), 0.0)
    norm = 1.0 / (6.0 * ember.where(spread > 0, spread, 1.0))
    h = ember.where(r == v, norm * (g - b), ember.where(g == v, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0))
    h = ember.where(spread > 0, h, 0.0)
    return ember.where(h < 0, h + 1.0, h), s, v


def _to_rgb(h, s, v):
    dh = h * 6.0
    dr = ember.clip(ember.abs(dh - 3.0) - 1.0, 0.0, 1.0)
    dg = ember.clip(2.0 - ember.abs(dh - 2.0), 0.0, 1.0)
    db = ember.clip(2.0 - ember.abs(dh - 4.0), 0.0, 1.0)
    one_s = 1.0 - s
    return ember.stack([(one_s + s * dr) * v, (one_s + s * dg) * v, (one_s + s * db) * v], axis=-1)


def rgb_to_hsv(images, name: str | None = None) -> Tensor:
    """RGB images (float, last axis of 3, values in [0, 1]) as HSV: hue in [0, 1), saturation, value."""
    images = _float_only("rgb_to_hsv", _three_channels("rgb_to_hsv", as_tf(images)))
    return op(lambda x: ember.stack(_to_hsv(x), axis=-1), (images,), name=name or "RGBToHSV")


def hsv_to_rgb(images, name: str | None = None) -> Tensor:
    """HSV images (float, last axis of 3) as RGB, TF's piecewise-linear formula of ``6 * hue``."""
    images = _float_only("hsv_to_rgb", _three_channels("hsv_to_rgb", as_tf(images)))
    return op(lambda x: _to_rgb(*_channels(x)), (images,), name=name or "HSVToRGB")


def _adjust_hue(x, delta):
    flt = _working_float(x)
    h, s, v = _to_hsv(flt)
    h = h + ember.cast(delta, flt.dtype)
    return convert(_to_rgb(h - ember.floor(h), s, v), x.dtype)


def _adjust_saturation(x, factor):
    flt = _working_float(x)
    h, s, v = _to_hsv(flt)
    return convert(_to_rgb(h, ember.clip(s * ember.cast(factor, flt.dtype), 0.0, 1.0), v), x.dtype)


def adjust_hue(image, delta, name: str | None = None) -> Tensor:
    """``image`` (RGB, last axis of 3) with ``delta`` added to its hue, wrapped into [0, 1); computed in float32
    (float16 as it is), given back in the image's dtype."""
    image = _three_channels("adjust_hue", as_tf(image))
    return op(_adjust_hue, (image, as_tf(delta)), name=name or "adjust_hue")


def adjust_saturation(image, saturation_factor, name: str | None = None) -> Tensor:
    """``image`` (RGB, last axis of 3) with its saturation multiplied by ``saturation_factor``, clipped to
    [0, 1]; computed in float32 (float16 as it is), given back in the image's dtype."""
    image = _three_channels("adjust_saturation", as_tf(image))
    return op(_adjust_saturation, (image, as_tf(saturation_factor)), name=name or "adjust_saturation")


def _scalar_draw(low: float, high: float):
    return random_draw("uniform", (), np.float32, low, high)


def random_hue(image, max_delta: float, seed=None) -> Tensor:
    """``adjust_hue`` by a delta drawn uniformly in [-max_delta, max_delta) on every run (max_delta <= 0.5)."""
    if max_delta > 0.5:
        raise ValueError(f"tf.image.random_hue: max_delta must be <= 0.5, got {max_delta}")
    if max_delta < 0:
        raise ValueError(f"tf.image.random_hue: max_delta must be non-negative, got {max_delta}")
    image = _three_channels("random_hue", as_tf(image))
    return op(lambda x: _adjust_hue(x, _scalar_draw(-max_delta, max_delta)), (image,), name="random_hue",
              like=image)


def random_saturation(image, lower: float, upper: float, seed=None) -> Tensor:
    """``adjust_saturation`` by a factor drawn uniformly in [lower, upper) on every run."""
    if upper <= lower:
        raise ValueError(f"tf.image.random_saturation: upper must be > lower, got lower={lower}, upper={upper}")
    if lower < 0:
        raise ValueError(f"tf.image.random_saturation: lower must be non-negative, got {lower}")
    image = _three_channels("random_saturation", as_tf(image))
    return op(lambda x: _adjust_saturation(x, _scalar_draw(lower, upper)), (image,), name="random_saturation",
              like=image)


def adjust_gamma(image, gamma=1, gain=1) -> Tensor:
    """``gain * image ** gamma`` on the image in float32 (float16 as it is; integers scaled to [0, 1]), given
    back in the image's dtype, saturated. ``gamma`` must be non-negative."""
    if isinstance(gamma, (int, float, np.number)) and gamma < 0:
        raise ValueError(f"tf.image.adjust_gamma: gamma should be a non-negative real number, got {gamma}")

    def fn(x, g, k):
        flt = _working_float(x)
        return convert(ember.cast(k, flt.dtype) * flt ** ember.cast(g, flt.dtype), x.dtype, saturate=True)

    return op(fn, (as_tf(image), as_tf(gamma), as_tf(gain)), name="adjust_gamma")


_SOBEL = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float64)


def sobel_edges(image) -> Tensor:
    """(N, H, W, C) float images' Sobel responses, (N, H, W, C, 2): [..., 0] the vertical (dy) one, [..., 1] the
    horizontal (dx), over the image reflected by one pixel at its borders."""
    image = as_tf(image)
    if image.shape is not None and len(image.shape) != 4:
        raise ValueError(f"tf.image.sobel_edges: the image must have rank 4 (N, H, W, C), got shape "
                         f"{list(image.shape)}")
    _float_only("sobel_edges", image)

    def fn(x):
        rows = ember.concat([x[:, 1:2], x, x[:, -2:-1]], axis=1)  # REFLECT padding
        padded = ember.concat([rows[:, :, 1:2], rows, rows[:, :, -2:-1]], axis=2)
        height, width = x.shape[1], x.shape[2]
        responses = []
        for kernel in (_SOBEL, _SOBEL.T):
            total = None
            for i, j in zip(*np.nonzero(kernel)):
                term = padded[:, i:i + height, j:j + width] * float(kernel[i, j])
                total = term if total is None else total + term
            responses.append(total)
        return ember.stack(responses, axis=-1)

    return op(fn, (image,), name="sobel_edges")


# --- image quality: PSNR and SSIM ---------------------------------------------------------------------------


def _pair(name: str, a, b) -> tuple:
    a, b = as_tf(a), as_tf(b)
    for t in (a, b):
        if t.shape is not None and len(t.shape) < 3:
            raise ValueError(f"tf.image.{name}: images must have rank 3 or more (..., H, W, C), got shape "
                             f"{list(t.shape)}")
    if a.shape is not None and b.shape is not None and any(
            p is not None and q is not None and p != q for p, q in zip(a.shape[-3:], b.shape[-3:])):
        raise ValueError(f"tf.image.{name}: the images' last three dimensions must match, got shapes "
                         f"{list(a.shape)} and {list(b.shape)}")
    if a.dtype != b.dtype:
        raise TypeError(f"tf.image.{name}: both images must have one dtype, got {a.dtype} and {b.dtype}")
    return a, b


def _max_value(m, dtype):
    """TF's ``max_val`` in the float32 scale of the images: cast to their dtype, then converted."""
    return convert(ember.cast(m, dtype), np.dtype(np.float32))


def psnr(a, b, max_val, name: str | None = None) -> Tensor:
    """Peak signal-to-noise ratio (float32) of each image pair: ``20 log10(max_val) - 10 log10(mse)``, the mean
    squared error over the last three axes, in the float32 scale of ``convert_image_dtype``."""
    a, b = _pair("psnr", a, b)

    def fn(x, y, m):
        x, y, m = convert(x, np.dtype(np.float32)), convert(y, np.dtype(np.float32)), _max_value(m, x.dtype)
        mse = ember.mean(ember.square(x - y), axis=(-3, -2, -1))
        return 20.0 * ember.log(m) / np.log(10.0) - 10.0 / np.log(10.0) * ember.log(mse)

    return op(fn, (a, b, as_tf(max_val)), name=name or "PSNR")


def _gaussian(size: int, sigma: float) -> np.ndarray:
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * coords ** 2 / sigma ** 2)
    g /= g.sum()
    return np.outer(g, g).astype(np.float32)


def ssim(img1, img2, max_val, filter_size: int = 11, filter_sigma: float = 1.5, k1: float = 0.01,
         k2: float = 0.03) -> Tensor:
    """Structural similarity (float32) of each image pair: the luminance and contrast-structure terms over
    Gaussian windows (``filter_size``, ``filter_sigma``) placed VALID, averaged over height, width and
    channels; images in the float32 scale of ``convert_image_dtype``."""
    a, b = _pair("ssim", img1, img2)
    size = int(filter_size)
    for t in (a, b):
        if t.shape is not None and any(d is not None and d < size for d in t.shape[-3:-1]):
            raise ValueError(f"tf.image.ssim: height and width must be at least filter_size={size}, got shape "
                             f"{list(t.shape)}")
    kernel = _gaussian(size, float(filter_sigma))

    def fn(x, y, m):
        m = _max_value(m, x.dtype)
        x, y = convert(x, np.dtype(np.float32)), convert(y, np.dtype(np.float32))
        lead, (height, width, channels) = tuple(x.shape[:-3]), tuple(x.shape[-3:])
        weight = ember.as_tensor(np.broadcast_to(kernel, (channels, 1, size, size)).copy())

        def blur(z):  # each channel on its own, VALID
            z = ember.transpose(ember.reshape(z, (-1, height, width, channels)), (0, 3, 1, 2))
            out = ember.transpose(ember.conv2d(z, weight, groups=channels), (0, 2, 3, 1))
            return ember.reshape(out, lead + tuple(out.shape[1:]))

        c1, c2 = ember.square(k1 * m), ember.square(k2 * m)
        mean_x, mean_y = blur(x), blur(y)
        num0, den0 = mean_x * mean_y * 2.0, ember.square(mean_x) + ember.square(mean_y)
        luminance = (num0 + c1) / (den0 + c1)
        num1, den1 = blur(x * y) * 2.0, blur(ember.square(x) + ember.square(y))
        structure = (num1 - num0 + c2) / (den1 - den0 + c2)
        return ember.mean(luminance * structure, axis=(-3, -2, -1))

    return op(fn, (a, b, as_tf(max_val)), name="SSIM")

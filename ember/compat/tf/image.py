"""``tf.image``: resizing, cropping, flips, color adjustments and random augmentations, as TensorFlow 1.15.

Images are (height, width, channels) or batches (N, height, width, channels). Each function is a recipe over
Ember ops, so it runs in a Session, inside ``tf.data.Dataset.map`` and under ``tf.gradients``; the random ones
draw from Ember's generator afresh on every Session run.
"""

from __future__ import annotations

import enum

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, op
from ember.compat.tf.image_resize import resize as _resize
from ember.ops.effects import random_draw

__all__ = [
    "ResizeMethod", "adjust_brightness", "adjust_contrast", "central_crop", "convert_image_dtype",
    "crop_to_bounding_box", "flip_left_right", "flip_up_down", "grayscale_to_rgb", "image_gradients",
    "pad_to_bounding_box", "per_image_standardization", "random_brightness", "random_contrast", "random_crop",
    "random_flip_left_right", "random_flip_up_down", "resize", "resize_area", "resize_bicubic", "resize_bilinear",
    "resize_image_with_crop_or_pad", "resize_images", "resize_nearest_neighbor", "resize_with_crop_or_pad",
    "rgb_to_grayscale", "rot90", "total_variation", "transpose", "transpose_image",
]


class ResizeMethod(enum.IntEnum):
    """TF-1's resize methods (``tf.image.ResizeMethod.BILINEAR``...)."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


_METHODS = {ResizeMethod.BILINEAR: "bilinear", ResizeMethod.NEAREST_NEIGHBOR: "nearest",
            ResizeMethod.BICUBIC: "bicubic", ResizeMethod.AREA: "area"}
_METHOD_NAMES = {"bilinear": "bilinear", "nearest": "nearest", "bicubic": "bicubic", "area": "area"}


def _rank(name: str, image: Tensor, ranks=(3, 4)) -> int | None:
    if image.shape is not None and len(image.shape) not in ranks:
        raise ValueError(f"tf.image.{name}: the image must have rank {' or '.join(map(str, ranks))} ((H, W, C) or "
                         f"(N, H, W, C)), got shape {list(image.shape)}")
    return None if image.shape is None else len(image.shape)


def _batched(name: str, fn):
    """``fn`` on (N, H, W, C) images applied to a 3-D or 4-D image (a 3-D one as a batch of one)."""
    def apply(x, *rest):
        if x.ndim not in (3, 4):
            raise ValueError(f"tf.image.{name}: the image must have rank 3 or 4, got shape {list(x.shape)}")
        if x.ndim == 4:
            return fn(x, *rest)
        return ember.squeeze(fn(ember.unsqueeze(x, 0), *rest), 0)

    return apply


def _image_op(name: str, fn, image, *extra, tf_name: str | None = None) -> Tensor:
    image = as_tf(image)
    _rank(name, image)
    return op(_batched(name, fn), (image, *extra), name=tf_name or name)


# --- resizing -----------------------------------------------------------------------------------------------


def _method(method) -> str:
    if isinstance(method, str) and method.lower() in _METHOD_NAMES:
        return _METHOD_NAMES[method.lower()]
    try:
        return _METHODS[ResizeMethod(method)]
    except ValueError:
        raise ValueError(f"tf.image.resize_images: method must be a tf.image.ResizeMethod, got {method!r}") from None


def _size(name: str, size) -> tuple:
    if isinstance(size, Tensor):
        raise TypeError(f"tf.image.{name}: size must be a list of two ints, got tf.Tensor '{size.name}'")
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"tf.image.{name}: size must be two positive ints (new_height, new_width), got {list(size)}")
    return size


def resize_images(images, size, method=ResizeMethod.BILINEAR, align_corners: bool = False,
                  preserve_aspect_ratio: bool = False, name: str | None = None) -> Tensor:
    """Resize (H, W, C) or (N, H, W, C) ``images`` to ``size`` (new_height, new_width) as TF-1 does: the source
    of output pixel ``i`` is ``i * in / out`` (``(in - 1) / (out - 1)`` with ``align_corners``). BILINEAR, BICUBIC
    and AREA give float32; NEAREST_NEIGHBOR keeps the dtype. With ``preserve_aspect_ratio`` the image is scaled
    to fit inside ``size``."""
    return _resize_images(images, size, method, align_corners, preserve_aspect_ratio, name, False)


def _resize_images(images, size, method, align_corners: bool, preserve_aspect_ratio: bool, name: str | None,
                   half_pixel_centers: bool) -> Tensor:
    method = _method(method)
    size = _size("resize_images", size)
    images = as_tf(images)
    if not preserve_aspect_ratio and images.shape is not None and tuple(images.shape[-3:-1]) == size:
        return images  # TF returns the images themselves (their dtype too) when the size is known to match

    def fn(x):
        target = size
        if preserve_aspect_ratio:
            h, w = int(x.shape[1]), int(x.shape[2])
            factor = np.float32(min(np.float32(size[0]) / np.float32(h), np.float32(size[1]) / np.float32(w)))
            target = (max(int(np.round(factor * np.float32(h))), 1), max(int(np.round(factor * np.float32(w))), 1))
        return _resize(x, target, method, align_corners, half_pixel_centers)

    return _image_op("resize_images", fn, images, tf_name=name or "resize_images")


resize = resize_images


def _resize_with(method: ResizeMethod):
    def resize_method(images, size, align_corners: bool = False, name: str | None = None,
                      half_pixel_centers: bool = False) -> Tensor:
        if half_pixel_centers and method == ResizeMethod.AREA:
            raise NotImplementedError(f"tf.image.{resize_method.__name__}: half_pixel_centers=True is not supported")
        if half_pixel_centers and align_corners:
            raise ValueError(f"tf.image.{resize_method.__name__}: if half_pixel_centers is True, align_corners "
                             "must be False (as TensorFlow)")
        return _resize_images(images, size, method, align_corners, False, name, bool(half_pixel_centers))

    resize_method.__name__ = f"resize_{_METHODS[method]}" if method != ResizeMethod.NEAREST_NEIGHBOR else \
        "resize_nearest_neighbor"
    resize_method.__doc__ = f"``resize_images`` with ``ResizeMethod.{method.name}``."
    return resize_method


resize_bilinear = _resize_with(ResizeMethod.BILINEAR)
resize_nearest_neighbor = _resize_with(ResizeMethod.NEAREST_NEIGHBOR)
resize_bicubic = _resize_with(ResizeMethod.BICUBIC)
resize_area = _resize_with(ResizeMethod.AREA)


# --- cropping and padding -----------------------------------------------------------------------------------


def _crop(name: str, x, top: int, left: int, height: int, width: int):
    h, w = int(x.shape[1]), int(x.shape[2])
    if top < 0 or left < 0 or height < 1 or width < 1 or top + height > h or left + width > w:
        raise ValueError(f"tf.image.{name}: the box (offset ({top}, {left}), size ({height}, {width})) does not fit "
                         f"in the image of height {h} and width {w}")
    return x[:, top:top + height, left:left + width, :]


def _pad(name: str, x, top: int, left: int, height: int, width: int):
    h, w = int(x.shape[1]), int(x.shape[2])
    if top < 0 or left < 0 or top + h > height or left + w > width:
        raise ValueError(f"tf.image.{name}: the image of height {h} and width {w} at offset ({top}, {left}) does "
                         f"not fit in ({height}, {width})")
    return ember.pad(x, ((0, 0), (top, height - h - top), (left, width - w - left), (0, 0)))


def crop_to_bounding_box(image, offset_height: int, offset_width: int, target_height: int,
                         target_width: int) -> Tensor:
    """The (target_height, target_width) window of ``image`` whose top-left corner is at the offsets."""
    box = tuple(int(v) for v in (offset_height, offset_width, target_height, target_width))
    return _image_op("crop_to_bounding_box", lambda x: _crop("crop_to_bounding_box", x, *box), image)


def pad_to_bounding_box(image, offset_height: int, offset_width: int, target_height: int,
                        target_width: int) -> Tensor:
    """``image`` placed at the offsets in a zero image of (target_height, target_width)."""
    box = tuple(int(v) for v in (offset_height, offset_width, target_height, target_width))
    return _image_op("pad_to_bounding_box", lambda x: _pad("pad_to_bounding_box", x, *box), image)


def resize_image_with_crop_or_pad(image, target_height: int, target_width: int) -> Tensor:
    """Center-crop and/or zero-pad ``image`` to (target_height, target_width), as TF (the odd pixel of a crop
    is taken from the end, of a pad added at the end)."""
    th, tw = int(target_height), int(target_width)
    if th < 1 or tw < 1:
        raise ValueError(f"tf.image.resize_image_with_crop_or_pad: the target size must be positive, got ({th}, {tw})")

    def fn(x):
        h, w = int(x.shape[1]), int(x.shape[2])
        x = _crop("resize_image_with_crop_or_pad", x, max((h - th) // 2, 0), max((w - tw) // 2, 0), min(th, h),
                  min(tw, w))
        return _pad("resize_image_with_crop_or_pad", x, max((th - h) // 2, 0), max((tw - w) // 2, 0), th, tw)

    return _image_op("resize_image_with_crop_or_pad", fn, image)


resize_with_crop_or_pad = resize_image_with_crop_or_pad


def central_crop(image, central_fraction: float) -> Tensor:
    """The central ``central_fraction`` (in (0, 1]) of each side of ``image``."""
    fraction = float(central_fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"tf.image.central_crop: central_fraction must be within (0, 1], got {fraction}")

    def fn(x):
        if fraction == 1.0:
            return x
        h, w = int(x.shape[1]), int(x.shape[2])
        top, left = int((h - h * fraction) / 2), int((w - w * fraction) / 2)
        return x[:, top:h - top, left:w - left, :]

    return _image_op("central_crop", fn, image)


# --- flips and rotations ------------------------------------------------------------------------------------


def flip_left_right(image) -> Tensor:
    """``image`` mirrored along its width."""
    return _image_op("flip_left_right", lambda x: ember.flip(x, (2,)), image)


def flip_up_down(image) -> Tensor:
    """``image`` mirrored along its height."""
    return _image_op("flip_up_down", lambda x: ember.flip(x, (1,)), image)


def rot90(image, k: int = 1, name: str | None = None) -> Tensor:
    """``image`` rotated counter-clockwise by ``k`` quarter turns."""
    k = int(k)
    return _image_op("rot90", lambda x: ember.rot90(x, k, (1, 2)) if k % 4 else x, image, tf_name=name)


def transpose_image(image) -> Tensor:
    """``image`` with height and width swapped."""
    return _image_op("transpose_image", lambda x: ember.transpose(x, (0, 2, 1, 3)), image)


transpose = transpose_image


def _random_flip(name: str, image, axis: int) -> Tensor:
    def fn(x):
        coin = random_draw("uniform", (int(x.shape[0]), 1, 1, 1), np.float32, 0.0, 1.0)
        return ember.where(ember.lt(coin, 0.5), ember.flip(x, (axis,)), x)

    return _image_op(name, fn, image)


def random_flip_left_right(image, seed=None) -> Tensor:
    """``image`` mirrored along its width with probability 1/2 (each image of a batch on its own coin)."""
    return _random_flip("random_flip_left_right", image, 2)


def random_flip_up_down(image, seed=None) -> Tensor:
    """``image`` mirrored along its height with probability 1/2 (each image of a batch on its own coin)."""
    return _random_flip("random_flip_up_down", image, 1)


def random_crop(value, size, seed=None, name: str | None = None) -> Tensor:
    """A window of shape ``size`` (one size per axis of ``value``, any rank) at a uniformly drawn offset."""
    if isinstance(size, Tensor):
        raise TypeError(f"tf.image.random_crop: size must be a list of ints, got tf.Tensor '{size.name}'")
    size = tuple(int(s) for s in size)
    value = as_tf(value)

    def fn(x):
        if len(size) != x.ndim or any(s < 0 or s > d for s, d in zip(size, x.shape)):
            raise ValueError(f"tf.image.random_crop: size {list(size)} must have one size per axis of the value "
                             f"and fit in its shape {list(x.shape)}")
        for axis, (s, d) in enumerate(zip(size, x.shape)):
            if s == d:
                continue
            u = random_draw("uniform", (), np.float32, 0.0, 1.0)
            start = ember.minimum(ember.cast(ember.floor(u * (d - s + 1)), "int64"), d - s)
            x = ember.take(x, start + ember.arange(s), axis=axis)
        return x

    return op(fn, (value,), name=name or "random_crop")


# --- dtypes and color ---------------------------------------------------------------------------------------


def _limits(dtype: np.dtype) -> tuple:
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    return info.min, info.max


def _saturate_cast(x, dtype: np.dtype):
    """``x`` clipped to ``dtype``'s range, then cast. The bounds are taken in ``x``'s dtype, moved toward zero
    where rounding took them out of the range (float32 holds int32's max as 2**31, which the cast wraps to
    -2**31), as TF's ``saturate_cast``."""
    low, high = _limits(dtype)
    in_low, in_high = (int(v) for v in _limits(x.dtype))
    if x.dtype.kind != "f" and in_low >= low and in_high <= high:
        return ember.cast(x, dtype)
    bounds = []
    for bound in (max(low, in_low), min(high, in_high)):
        value = np.array(bound).astype(x.dtype)
        if not low <= int(value) <= high:
            value = np.nextafter(value, np.zeros((), x.dtype))
        bounds.append(value.item())
    return ember.cast(ember.clip(x, *bounds), dtype)


def convert(x, dtype: np.dtype, saturate: bool = False):
    """TF's ``convert_image_dtype`` on an Ember value: floats span [0, 1], integers [0, MAX]."""
    if x.dtype == dtype:
        return x
    if x.dtype.kind == "b" or dtype.kind == "b":
        raise TypeError(f"tf.image.convert_image_dtype: converts between integer and float dtypes, got {x.dtype} "
                        f"to {dtype}")
    to_int = _saturate_cast if saturate else ember.cast
    if x.dtype.kind in "iu" and dtype.kind in "iu":
        max_in, max_out = int(np.iinfo(x.dtype).max), int(np.iinfo(dtype).max)
        if max_in > max_out:
            return to_int(ember.floor_divide(x, (max_in + 1) // (max_out + 1)), dtype)
        return to_int(x, dtype) * ember.tensor(np.array((max_out + 1) // (max_in + 1), dtype))
    if x.dtype.kind == "f" and dtype.kind == "f":
        return ember.cast(x, dtype)
    if x.dtype.kind in "iu":
        return ember.cast(x, dtype) * (1.0 / float(np.iinfo(x.dtype).max))
    return to_int(x * (float(np.iinfo(dtype).max) + 0.5), dtype)


def convert_image_dtype(image, dtype, saturate: bool = False, name: str | None = None) -> Tensor:
    """``image`` in ``dtype``, rescaled as TF: integers cover [0, MAX], floats [0, 1) (float to integer
    multiplies by MAX + 0.5 and truncates; ``saturate`` clips to the target's range first)."""
    dtype = as_tf_dtype(dtype)
    return op(lambda x: convert(x, dtype, saturate), (as_tf(image),), name=name or "convert_image")


def _as_float(x):
    """TF's working float image: float16 and float32 as they are, others converted to float32."""
    return x if x.dtype in (np.float16, np.float32) else convert(x, np.dtype(np.float32))


def _adjust_brightness(x, delta):
    return convert(_as_float(x) + ember.cast(delta, _as_float(x).dtype), x.dtype, saturate=True)


def _adjust_contrast(x, factor):
    flt = _as_float(x)
    mean = ember.mean(flt, axis=(-3, -2), keepdims=True)
    return convert((flt - mean) * ember.cast(factor, flt.dtype) + mean, x.dtype, saturate=True)


def adjust_brightness(image, delta) -> Tensor:
    """``image + delta`` (an integer image in its [0, 1] float scale, saturated back)."""
    return op(_adjust_brightness, (as_tf(image), as_tf(delta)), name="adjust_brightness")


def adjust_contrast(images, contrast_factor) -> Tensor:
    """``(x - mean) * contrast_factor + mean``, the mean of each channel over each image's pixels."""
    images = as_tf(images)
    _rank("adjust_contrast", images, (3, 4, 5))
    return op(_adjust_contrast, (images, as_tf(contrast_factor)), name="adjust_contrast")


def _scalar_draw(low: float, high: float):
    return random_draw("uniform", (), np.float32, low, high)


def random_brightness(image, max_delta: float, seed=None) -> Tensor:
    """``adjust_brightness`` by a delta drawn uniformly in [-max_delta, max_delta) on every run."""
    if max_delta < 0:
        raise ValueError(f"tf.image.random_brightness: max_delta must be non-negative, got {max_delta}")
    image = as_tf(image)
    return op(lambda x: _adjust_brightness(x, _scalar_draw(-max_delta, max_delta)), (image,),
              name="random_brightness", like=image)


def random_contrast(image, lower: float, upper: float, seed=None) -> Tensor:
    """``adjust_contrast`` by a factor drawn uniformly in [lower, upper) on every run."""
    if upper <= lower:
        raise ValueError(f"tf.image.random_contrast: upper must be > lower, got lower={lower}, upper={upper}")
    if lower < 0:
        raise ValueError(f"tf.image.random_contrast: lower must be non-negative, got {lower}")
    image = as_tf(image)
    return op(lambda x: _adjust_contrast(x, _scalar_draw(lower, upper)), (image,), name="random_contrast",
              like=image)


def per_image_standardization(image) -> Tensor:
    """``(x - mean) / max(std, 1 / sqrt(N))`` per image over its N = H * W * C values, in float32."""
    def fn(x):
        x = ember.cast(x, "float32")
        count = int(np.prod(x.shape[-3:]))
        mean = ember.mean(x, axis=(-3, -2, -1), keepdims=True)
        std = ember.sqrt(ember.mean(ember.square(x - mean), axis=(-3, -2, -1), keepdims=True))
        return (x - mean) / ember.maximum(std, np.float32(1.0 / np.sqrt(count)))

    image = as_tf(image)
    _rank("per_image_standardization", image)
    return op(fn, (image,), name="per_image_standardization")


_RGB_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], np.float32)


def rgb_to_grayscale(images, name: str | None = None) -> Tensor:
    """The luma ``0.2989 R + 0.5870 G + 0.1140 B`` of the last axis (kept, of size 1), in the images' dtype."""
    def fn(x):
        if x.shape[-1] != 3:
            raise ValueError(f"tf.image.rgb_to_grayscale: the last axis must have 3 channels, got shape "
                             f"{list(x.shape)}")
        flt = convert(x, np.dtype(np.float32))
        gray = ember.sum(flt * ember.tensor(_RGB_WEIGHTS), axis=-1, keepdims=True)
        return convert(gray, x.dtype)

    return op(fn, (as_tf(images),), name=name or "rgb_to_grayscale")


def grayscale_to_rgb(images, name: str | None = None) -> Tensor:
    """The single channel of the last axis repeated three times."""
    def fn(x):
        if x.shape[-1] != 1:
            raise ValueError(f"tf.image.grayscale_to_rgb: the last axis must have 1 channel, got shape "
                             f"{list(x.shape)}")
        return ember.tile(x, (1,) * (x.ndim - 1) + (3,))

    return op(fn, (as_tf(images),), name=name or "grayscale_to_rgb")


def image_gradients(image) -> tuple:
    """(dy, dx) of (N, H, W, C) images: forward differences, zero in the last row (dy) and column (dx)."""
    image = as_tf(image)
    _rank("image_gradients", image, (4,))

    def dy(x):
        return ember.pad(x[:, 1:] - x[:, :-1], ((0, 0), (0, 1), (0, 0), (0, 0)))

    def dx(x):
        return ember.pad(x[:, :, 1:] - x[:, :, :-1], ((0, 0), (0, 0), (0, 1), (0, 0)))

    return op(dy, (image,), name="image_gradients/dy"), op(dx, (image,), name="image_gradients/dx")


def total_variation(images, name: str | None = None) -> Tensor:
    """The sum of absolute differences of neighbouring pixels: a scalar for one image, one per image of a
    batch."""
    images = as_tf(images)
    _rank("total_variation", images)

    def fn(x):
        axes = tuple(range(x.ndim - 3, x.ndim))
        h, w = x.ndim - 3, x.ndim - 2
        rows = ember.narrow(x, h, 1, x.shape[h] - 1) - ember.narrow(x, h, 0, x.shape[h] - 1)
        cols = ember.narrow(x, w, 1, x.shape[w] - 1) - ember.narrow(x, w, 0, x.shape[w] - 1)
        return ember.sum(ember.abs(rows), axis=axes) + ember.sum(ember.abs(cols), axis=axes)

    return op(fn, (images,), name=name or "total_variation")


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

"""``tf.image`` in TF-1 graph mode, against NumPy transcriptions of TensorFlow 1.15's kernels (and torch)."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember
import ember.compat.tf as tf

torch = pytest.importorskip("torch")


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def _image(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(np.float32)


# --- resizing: per-pixel loops as TF's legacy kernels (half_pixel_centers=False) -----------------------------


def _scale(n_in, n_out, align):
    return np.float32(n_in - 1) / np.float32(n_out - 1) if align and n_out > 1 else np.float32(n_in) / np.float32(n_out)


def _ref_bilinear(x, oh, ow, align):
    n, h, w, c = x.shape
    sy, sx = _scale(h, oh, align), _scale(w, ow, align)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = float(np.float32(i) * sy)
        y0, y1, ly = int(np.floor(fy)), min(int(np.ceil(fy)), h - 1), fy - np.floor(fy)
        for j in range(ow):
            fx = float(np.float32(j) * sx)
            x0, x1, lx = int(np.floor(fx)), min(int(np.ceil(fx)), w - 1), fx - np.floor(fx)
            top = x[:, y0, x0] + (x[:, y0, x1] - x[:, y0, x0]) * lx
            bottom = x[:, y1, x0] + (x[:, y1, x1] - x[:, y1, x0]) * lx
            out[:, i, j] = top + (bottom - top) * ly
    return out


def _ref_area(x, oh, ow):
    n, h, w, c = x.shape
    sy, sx = h / oh, w / ow
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            total = 0.0
            for yy in range(int(np.floor(i * sy)), int(np.ceil((i + 1) * sy))):
                wy = min(yy + 1, (i + 1) * sy) - max(yy, i * sy)
                for xx in range(int(np.floor(j * sx)), int(np.ceil((j + 1) * sx))):
                    wx = min(xx + 1, (j + 1) * sx) - max(xx, j * sx)
                    total = total + wy * wx * x[:, min(yy, h - 1), min(xx, w - 1)]
            out[:, i, j] = total / (sy * sx)
    return out


def _keys(t, a=-0.75):
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def _ref_bicubic(x, oh, ow, align):
    n, h, w, c = x.shape
    sy, sx = _scale(h, oh, align), _scale(w, ow, align)
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        fy = float(np.float32(i) * sy)
        for j in range(ow):
            fx = float(np.float32(j) * sx)
            for dy in range(-1, 3):
                for dx in range(-1, 3):
                    yy, xx = int(np.floor(fy)) + dy, int(np.floor(fx)) + dx
                    weight = _keys(fy - yy) * _keys(fx - xx)
                    out[:, i, j] += weight * x[:, min(max(yy, 0), h - 1), min(max(xx, 0), w - 1)]
    return out


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(7, 9), (3, 2), (5, 5)])
def test_resize_bilinear_matches_tf_legacy_kernel(size, align):
    x = _image(2, 5, 6, 3)
    got = _run(tf.image.resize_images(tf.constant(x), size, align_corners=align))
    assert got.dtype == np.float32 and got.shape == (2, *size, 3)
    np.testing.assert_allclose(got, _ref_bilinear(x.astype(np.float64), *size, align), atol=1e-5)


def test_resize_bilinear_align_corners_and_nearest_match_torch():
    x = _image(2, 5, 6, 3)
    nchw = torch.tensor(x).permute(0, 3, 1, 2)
    want = torch.nn.functional.interpolate(nchw, size=(9, 11), mode="bilinear", align_corners=True)
    got = _run(tf.image.resize_bilinear(tf.constant(x), (9, 11), align_corners=True))
    np.testing.assert_allclose(got, want.permute(0, 2, 3, 1).numpy(), atol=1e-5)
    want = torch.nn.functional.interpolate(nchw, size=(9, 4), mode="nearest")
    got = _run(tf.image.resize(tf.constant(x), (9, 4), method=tf.image.ResizeMethod.NEAREST_NEIGHBOR))
    np.testing.assert_array_equal(got, want.permute(0, 2, 3, 1).numpy())


def test_resize_nearest_align_corners_rounds_and_keeps_the_dtype():
    x = np.arange(5, dtype=np.uint8).reshape(1, 5, 1)
    got = _run(tf.image.resize_images(x, (1, 3), method=1, align_corners=True))
    assert got.dtype == np.uint8 and got.ravel().tolist() == [0, 2, 4]  # sources 0, 2, 4
    got = _run(tf.image.resize_images(np.arange(4, dtype=np.int32).reshape(1, 4, 1), (1, 3), method=1,
                                      align_corners=True))
    assert got.ravel().tolist() == [0, 2, 3]  # sources 0, 1.5 (rounded up), 3


@pytest.mark.parametrize("size", [(3, 2), (4, 5), (9, 7)])
def test_resize_area_matches_tf_kernel(size):
    x = _image(1, 6, 5, 2)
    got = _run(tf.image.resize_images(tf.constant(x), size, method=tf.image.ResizeMethod.AREA))
    np.testing.assert_allclose(got, _ref_area(x.astype(np.float64), *size), atol=1e-5)


@pytest.mark.parametrize("align", [False, True])
def test_resize_bicubic_matches_keys_kernel_up_to_tfs_table(align):
    x = _image(1, 5, 6, 2)
    got = _run(tf.image.resize_images(x, (8, 9), method=tf.image.ResizeMethod.BICUBIC, align_corners=align))
    np.testing.assert_allclose(got, _ref_bicubic(x.astype(np.float64), 8, 9, align), atol=3e-3)


def test_resize_of_a_3d_image_an_unknown_size_and_its_gradient():
    x = tf.placeholder(tf.float32, [None, None, 2])
    y = tf.image.resize_images(x, [4, 6])
    value = _image(3, 5, 2)
    got, grad = _run([y, tf.gradients(tf.reduce_sum(y * y), x)[0]], {x: value})
    want = _ref_bilinear(value[None].astype(np.float64), 4, 6, False)[0]
    np.testing.assert_allclose(got, want, atol=1e-5)
    t = torch.tensor(value.astype(np.float64), requires_grad=True)
    rows = torch.tensor(ember.compat.tf.image_resize.bilinear_matrix(3, 4, False))
    cols = torch.tensor(ember.compat.tf.image_resize.bilinear_matrix(5, 6, False))
    (torch.einsum("ph,hwc,qw->pqc", rows, t, cols) ** 2).sum().backward()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="resize_images: size must be two positive ints"):
        tf.image.resize_images(x, [4])
    with pytest.raises(ValueError, match="must have rank 3 or 4"):
        tf.image.resize_images(tf.placeholder(tf.float32, [2, 3]), [4, 4])


def test_preserve_aspect_ratio_fits_inside_the_size_and_a_known_equal_size_is_a_no_op():
    got = _run(tf.image.resize_images(_image(4, 8, 1), (6, 6), preserve_aspect_ratio=True))
    assert got.shape == (3, 6, 1)
    u8 = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    same = _run(tf.image.resize_images(u8, (2, 2), method=tf.image.ResizeMethod.BICUBIC))
    assert same.dtype == np.uint8 and np.array_equal(same, u8)
    unknown = tf.placeholder(tf.uint8, [None, None, 3])
    got = _run(tf.image.resize_images(unknown, (2, 2)), {unknown: u8})  # sizes known only when run: the kernel runs
    assert got.dtype == np.float32 and np.array_equal(got, u8)


@pytest.mark.parametrize("size", [(9, 4), (3, 11), (10, 14), (2, 3)])
def test_resize_half_pixel_centers_match_torch(size):
    # TF's half-pixel grid is torch's align_corners=False bilinear and its 'nearest-exact' (they were refused)
    image = _image(2, 5, 7, 3)
    x = torch.tensor(image).permute(0, 3, 1, 2)
    bilinear = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    nearest = torch.nn.functional.interpolate(x, size=size, mode="nearest-exact")
    got = _run([tf.image.resize_bilinear(image, size, half_pixel_centers=True),
                tf.image.resize_nearest_neighbor(image, size, half_pixel_centers=True)])
    np.testing.assert_allclose(got[0], bilinear.permute(0, 2, 3, 1).numpy(), atol=1e-6)
    np.testing.assert_array_equal(got[1], nearest.permute(0, 2, 3, 1).numpy())
    codes = (image * 255).astype(np.uint8)
    assert _run(tf.image.resize_nearest_neighbor(codes, size, half_pixel_centers=True)).dtype == np.uint8
    with pytest.raises(ValueError, match="resize_bilinear: if half_pixel_centers is True, align_corners must be"):
        tf.image.resize_bilinear(image, size, align_corners=True, half_pixel_centers=True)


def _keys_bicubic_half_pixel(size_in, size_out):
    """TF's half-pixel ResizeBicubic as a loop: Keys' kernel (a = -0.5) at the offset rounded to 1/1024, taps
    outside the image dropped and the rest renormalised."""
    a, scale = -0.5, np.float32(size_in) / np.float32(size_out)

    def kernel(t):
        t = abs(t)
        return ((a + 2) * t - (a + 3)) * t * t + 1 if t <= 1 else ((a * t - 5 * a) * t + 8 * a) * t - 4 * a

    m = np.zeros((size_out, size_in))
    for o in range(size_out):
        src = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5)
        base = np.floor(src)
        delta = np.rint((src - base) * 1024) / 1024
        taps = {int(base) + j: kernel(delta - j) for j in range(-1, 3) if 0 <= int(base) + j < size_in}
        for i, w in taps.items():
            m[o, i] = w / sum(taps.values())
    return m


@pytest.mark.parametrize("size", [(9, 4), (3, 11), (10, 14), (5, 7)])
def test_resize_bicubic_half_pixel_centers_is_tf_keys_kernel(size):
    image = _image(2, 5, 7, 3)  # (was NotImplementedError)
    got = _run(tf.image.resize_bicubic(image, size, half_pixel_centers=True))
    want = np.einsum("ph,nhwc,qw->npqc", _keys_bicubic_half_pixel(5, size[0]), image.astype(np.float64),
                     _keys_bicubic_half_pixel(7, size[1]))
    np.testing.assert_allclose(got, want, atol=2e-6)


# --- cropping, padding, flips -------------------------------------------------------------------------------


def test_crops_and_pads():
    x = np.arange(2 * 5 * 6 * 1, dtype=np.float32).reshape(2, 5, 6, 1)
    np.testing.assert_array_equal(_run(tf.image.crop_to_bounding_box(x, 1, 2, 3, 4)), x[:, 1:4, 2:6])
    padded = _run(tf.image.pad_to_bounding_box(x[0], 1, 2, 7, 9))
    want = np.zeros((7, 9, 1), np.float32)
    want[1:6, 2:8] = x[0]
    np.testing.assert_array_equal(padded, want)
    # crop the height 5 -> 3 (from offset 1), pad the width 6 -> 9 (2 before, 1 after)
    got = _run(tf.image.resize_image_with_crop_or_pad(x, 3, 9))
    want = np.pad(x[:, 1:4], ((0, 0), (0, 0), (1, 2), (0, 0)))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(_run(tf.image.central_crop(x, 0.5)), x[:, 1:4, 1:5])
    np.testing.assert_array_equal(_run(tf.image.central_crop(x[0], 1.0)), x[0])
    with pytest.raises(ValueError, match="crop_to_bounding_box: the box .* does not fit"):
        tf.image.crop_to_bounding_box(x, 3, 0, 3, 2)
    with pytest.raises(ValueError, match="central_fraction must be within"):
        tf.image.central_crop(x, 0.0)


def test_flips_rotations_and_transposes():
    x = _image(2, 3, 4, 2)
    np.testing.assert_array_equal(_run(tf.image.flip_left_right(x)), x[:, :, ::-1])
    np.testing.assert_array_equal(_run(tf.image.flip_up_down(x[0])), x[0, ::-1])
    for k in range(4):
        np.testing.assert_array_equal(_run(tf.image.rot90(x, k)), np.rot90(x, k, axes=(1, 2)))
    np.testing.assert_array_equal(_run(tf.image.rot90(x[0], 3)), np.rot90(x[0], 3))
    np.testing.assert_array_equal(_run(tf.image.transpose_image(x[0])), x[0].transpose(1, 0, 2))


def test_random_flips_draw_per_image_and_per_run():
    ember.manual_seed(0)
    x = np.arange(2 * 3, dtype=np.float32).reshape(1, 2, 3, 1).repeat(16, axis=0)
    flipped = tf.image.random_flip_left_right(x)
    with tf.Session() as sess:
        runs = [sess.run(flipped) for _ in range(4)]
    for got in runs:
        for image in got:
            assert np.array_equal(image, x[0]) or np.array_equal(image, x[0, :, ::-1])
    mirrored = [sum(np.array_equal(image, x[0, :, ::-1]) for image in got) for got in runs]
    assert 0 < sum(mirrored) < 64 and len({tuple(np.array_equal(i, x[0]) for i in got) for got in runs}) > 1
    up_down = _run(tf.image.random_flip_up_down(x[0]))
    assert np.array_equal(up_down, x[0]) or np.array_equal(up_down, x[0, ::-1])


def test_random_crop_takes_windows_at_fresh_offsets():
    ember.manual_seed(1)
    x = np.arange(6 * 7 * 2, dtype=np.float32).reshape(6, 7, 2)
    crop = tf.image.random_crop(x, [3, 4, 2])
    assert crop.shape.as_list() == [3, 4, 2]
    seen = set()
    with tf.Session() as sess:
        for _ in range(20):
            got = sess.run(crop)
            top, left = divmod(int(got[0, 0, 0]) // 2, 7)
            np.testing.assert_array_equal(got, x[top:top + 3, left:left + 4])
            seen.add((top, left))
    assert len(seen) > 3 and all(0 <= t <= 3 and 0 <= c <= 3 for t, c in seen)
    with pytest.raises(ValueError, match="random_crop: size"):
        _run(tf.image.random_crop(x, [7, 4, 2]))


def test_tf_random_crop_is_the_image_one_in_a_dataset_map():
    images = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)
    dataset = tf.data.Dataset.from_tensor_slices(images).map(lambda image: tf.random_crop(image, [4, 4, 3]))
    batch = dataset.batch(2).make_one_shot_iterator().get_next()
    assert batch.shape.as_list() == [None, 4, 4, 3]
    got = _run(batch)
    for image, crop in zip(images, got):
        top, left = divmod(int(crop[0, 0, 0] - image[0, 0, 0]) // 3, 6)
        np.testing.assert_array_equal(crop, image[top:top + 4, left:left + 4])


# --- dtypes and color ---------------------------------------------------------------------------------------


def test_convert_image_dtype_follows_tfs_scaling_rules():
    u8 = np.array([0, 1, 127, 128, 255], np.uint8)
    np.testing.assert_allclose(_run(tf.image.convert_image_dtype(u8, tf.float32)), u8 / np.float32(255), rtol=1e-6)
    assert _run(tf.image.convert_image_dtype(u8, tf.int16)).tolist() == [0, 128, 127 * 128, 128 * 128, 255 * 128]
    i16 = np.array([0, 255, 256, 32767], np.int16)
    assert _run(tf.image.convert_image_dtype(i16, tf.uint8)).tolist() == [0, 1, 2, 255]  # // 128
    assert _run(tf.image.convert_image_dtype(u8, tf.int32)).tolist() == [0, 2 ** 23, 127 * 2 ** 23, 2 ** 30,
                                                                           255 * 2 ** 23]
    floats = np.array([-0.5, 0.0, 0.5, 1.0, 1.5], np.float32)
    assert _run(tf.image.convert_image_dtype(floats, tf.uint8, saturate=True)).tolist() == [0, 0, 127, 255, 255]
    assert _run(tf.image.convert_image_dtype(floats[1:4], tf.uint8)).tolist() == [0, 127, 255]
    assert _run(tf.image.convert_image_dtype(floats, tf.float64)).dtype == np.float64


def test_saturated_conversion_to_a_wide_integer_stays_in_its_range():
    # int32's max is 2**31 in float32, which a clip there and cast would wrap to -2**31: the bound is the largest
    # float32 below it, as TF's saturate_cast
    floats = np.array([-2.0, 0.0, 1.0, 3.0], np.float32).reshape(1, 4, 1)
    got = _run(tf.image.convert_image_dtype(floats, tf.int32, saturate=True)).ravel()
    assert got.tolist() == [-2**31, 0, 2**31 - 128, 2**31 - 128]
    got = _run(tf.image.convert_image_dtype(floats.astype(np.float64), tf.int64, saturate=True)).ravel()
    assert got.tolist() == [-2**63, 0, 2**63 - 1024, 2**63 - 1024]


def test_brightness_contrast_and_standardization():
    x = _image(2, 4, 5, 3)
    np.testing.assert_allclose(_run(tf.image.adjust_brightness(x, 0.25)), x + 0.25, rtol=1e-6)
    u8 = np.array([[[10], [250]]], np.uint8)
    assert _run(tf.image.adjust_brightness(u8, 0.1)).ravel().tolist() == [35, 255]  # saturated
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(_run(tf.image.adjust_contrast(x, 1.5)), (x - mean) * 1.5 + mean, rtol=1e-5)
    flat = x.reshape(2, -1).astype(np.float64)
    std = np.maximum(flat.std(1), 1 / np.sqrt(flat.shape[1]))
    want = ((flat - flat.mean(1, keepdims=True)) / std[:, None]).reshape(x.shape)
    np.testing.assert_allclose(_run(tf.image.per_image_standardization(x)), want, rtol=1e-4, atol=1e-5)
    constant = _run(tf.image.per_image_standardization(np.full((2, 2, 1), 7, np.uint8)))
    assert constant.dtype == np.float32 and np.all(constant == 0)  # the std floor 1/sqrt(N) avoids 0/0
    ember.manual_seed(2)
    bright = tf.image.random_brightness(x[0], 0.2)
    contrast = tf.image.random_contrast(x[0], 0.5, 1.5)
    with tf.Session() as sess:
        deltas = [float(np.mean(sess.run(bright) - x[0])) for _ in range(5)]
        got = sess.run(contrast)
    assert all(-0.2 <= d < 0.2 for d in deltas) and len(set(np.round(deltas, 6))) == 5
    factor = (got - mean[0]).ravel() / (x[0] - mean[0]).ravel()
    np.testing.assert_allclose(factor, factor[0], rtol=1e-3)
    assert 0.5 <= factor[0] < 1.5
    with pytest.raises(ValueError, match="upper must be > lower"):
        tf.image.random_contrast(x, 1.0, 0.5)


def test_grayscale_gradients_and_total_variation():
    x = _image(2, 4, 5, 3)
    gray = _run(tf.image.rgb_to_grayscale(x))
    np.testing.assert_allclose(gray, (x @ np.array([0.2989, 0.5870, 0.1140]))[..., None], rtol=1e-5)
    u8 = np.array([[[255, 255, 255], [0, 0, 100]]], np.uint8)
    assert _run(tf.image.rgb_to_grayscale(u8)).ravel().tolist() == [255, 11]  # (0.9999 and 0.0447) * 255.5, truncated
    np.testing.assert_array_equal(_run(tf.image.grayscale_to_rgb(gray)), np.repeat(gray, 3, axis=-1))
    with pytest.raises(ValueError, match="grayscale_to_rgb: the last axis must have 1 channel"):
        tf.image.grayscale_to_rgb(x)
    dy, dx = _run(tf.image.image_gradients(x))
    np.testing.assert_allclose(dy[:, :-1], x[:, 1:] - x[:, :-1])
    assert np.all(dy[:, -1] == 0) and np.all(dx[:, :, -1] == 0)
    np.testing.assert_allclose(dx[:, :, :-1], x[:, :, 1:] - x[:, :, :-1])
    tv = np.abs(np.diff(x, axis=1)).sum((1, 2, 3)) + np.abs(np.diff(x, axis=2)).sum((1, 2, 3))
    np.testing.assert_allclose(_run(tf.image.total_variation(x)), tv, rtol=1e-5)
    np.testing.assert_allclose(_run(tf.image.total_variation(x[1])), tv[1], rtol=1e-5)


def test_image_functions_inside_dataset_map_and_the_missing_hint_is_gone():
    images = (np.arange(3 * 6 * 6 * 3) % 256).astype(np.uint8).reshape(3, 6, 6, 3)

    def preprocess(image):
        image = tf.image.convert_image_dtype(image, tf.float32)
        image = tf.image.resize_images(image, [4, 4])
        image = tf.image.random_flip_left_right(image)
        return tf.image.per_image_standardization(image)

    batch = tf.data.Dataset.from_tensor_slices(images).map(preprocess).batch(3).make_one_shot_iterator().get_next()
    got = _run(batch)
    assert got.shape == (3, 4, 4, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    assert "image" in tf.__all__

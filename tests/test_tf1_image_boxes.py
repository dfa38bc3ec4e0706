"""``tf.image.crop_and_resize`` and ``tf.image.non_max_suppression`` against float64 NumPy loops of TF-1's
kernels (CropAndResize's grid, NonMaxSuppressionV3's greedy selection)."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph, numeric_gradient  # noqa: F401  (fresh_graph: autouse, a fresh graph per test)

import ember.compat.tf as tf


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def _ref_crop(image, boxes, box_ind, size, method="bilinear", fill=0.0):
    _, height, width, channels = image.shape
    ch, cw = size
    out = np.zeros((len(boxes), ch, cw, channels))
    for n, ((y1, x1, y2, x2), b) in enumerate(zip(boxes, box_ind)):
        for i in range(ch):
            in_y = y1 * (height - 1) + i * (y2 - y1) * (height - 1) / (ch - 1) if ch > 1 else \
                0.5 * (y1 + y2) * (height - 1)
            for j in range(cw):
                in_x = x1 * (width - 1) + j * (x2 - x1) * (width - 1) / (cw - 1) if cw > 1 else \
                    0.5 * (x1 + x2) * (width - 1)
                if not (0 <= in_y <= height - 1 and 0 <= in_x <= width - 1):
                    out[n, i, j] = fill
                elif method == "nearest":
                    out[n, i, j] = image[b, int(np.floor(in_y + 0.5)), int(np.floor(in_x + 0.5))]
                else:
                    t, lf = int(np.floor(in_y)), int(np.floor(in_x))
                    bt, rt = int(np.ceil(in_y)), int(np.ceil(in_x))
                    dy, dx = in_y - t, in_x - lf
                    top = image[b, t, lf] + (image[b, t, rt] - image[b, t, lf]) * dx
                    bottom = image[b, bt, lf] + (image[b, bt, rt] - image[b, bt, lf]) * dx
                    out[n, i, j] = top + (bottom - top) * dy
    return out


_BOXES = np.array([[0.1, 0.2, 0.8, 0.9], [0.6, 0.7, 0.1, 0.05], [-0.2, 0.1, 0.5, 1.3], [0.3, 0.3, 0.4, 0.45]])


@pytest.mark.parametrize("method, size", [("bilinear", (4, 5)), ("nearest", (3, 6)), ("bilinear", (1, 1))])
def test_crop_and_resize_matches_the_kernel(method, size):
    image = np.random.default_rng(0).uniform(0, 10, (2, 7, 8, 3))
    box_ind = np.array([0, 1, 1, 0], np.int32)
    got = _run(tf.image.crop_and_resize(tf.constant(image), tf.constant(_BOXES.astype(np.float32)),
                                        tf.constant(box_ind), size, method=method, extrapolation_value=-1.5))
    assert got.dtype == np.float32 and got.shape == (4, *size, 3)
    reference = _ref_crop(image, _BOXES.astype(np.float32).astype(np.float64), box_ind, size, method, -1.5)
    np.testing.assert_allclose(got, reference, rtol=2e-5, atol=2e-5)


def test_crop_and_resize_uint8_and_gradients():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, (1, 6, 6, 1)).astype(np.uint8)
    got = _run(tf.image.crop_and_resize(tf.constant(pixels), tf.constant(_BOXES[:1].astype(np.float32)),
                                        tf.constant([0]), [3, 3]))
    np.testing.assert_allclose(got, _ref_crop(pixels.astype(float), _BOXES[:1].astype(np.float32), [0], (3, 3)),
                               rtol=1e-5)
    image = rng.uniform(0, 1, (1, 6, 7, 2)).astype(np.float32)
    boxes = np.array([[0.13, 0.21, 0.77, 0.64], [0.5, 0.1, 0.9, 0.93]], np.float32)
    it, bt = tf.constant(image), tf.constant(boxes)
    crops = tf.image.crop_and_resize(it, bt, tf.constant([0, 0]), [3, 4])
    weights = rng.standard_normal((2, 3, 4, 2))
    gi, gb = _run(tf.gradients(tf.reduce_sum(crops * weights.astype(np.float32)), [it, bt]))

    def loss(img, bx):
        return (_ref_crop(img, bx, [0, 0], (3, 4)) * weights).sum()

    eps = 1e-4
    for arr, grad, f in ((image.astype(float), gi, lambda a: loss(a, boxes.astype(float))),
                         (boxes.astype(float), gb, lambda b: loss(image.astype(float), b))):
        np.testing.assert_allclose(grad, numeric_gradient(f, arr, eps), rtol=1e-3, atol=1e-3)


def test_crop_and_resize_errors():
    image, boxes = tf.constant(np.zeros((1, 4, 4, 1), np.float32)), tf.constant(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="crop_and_resize: method must be 'bilinear' or 'nearest', got 'bicubic'"):
        tf.image.crop_and_resize(image, boxes, [0, 0], [2, 2], method="bicubic")
    with pytest.raises(ValueError, match=r"crop_and_resize: crop_size must be 2 positive integers, got \[0, 2\]"):
        tf.image.crop_and_resize(image, boxes, [0, 0], [0, 2])
    with pytest.raises(ValueError, match=r"crop_and_resize: boxes must have shape \[N, 4\], got \[2, 3\]"):
        tf.image.crop_and_resize(image, tf.constant(np.zeros((2, 3), np.float32)), [0, 0], [2, 2])
    with pytest.raises(ValueError, match=r"boxes \[2, 4\] and box_ind \[3\] must have one number of boxes"):
        tf.image.crop_and_resize(image, boxes, [0, 0, 0], [2, 2])


def _ref_nms(boxes, scores, limit, iou_threshold, score_threshold=-np.inf):
    def iou(a, b):
        ay1, ay2, ax1, ax2 = min(a[0], a[2]), max(a[0], a[2]), min(a[1], a[3]), max(a[1], a[3])
        by1, by2, bx1, bx2 = min(b[0], b[2]), max(b[0], b[2]), min(b[1], b[3]), max(b[1], b[3])
        area_a, area_b = (ay2 - ay1) * (ax2 - ax1), (by2 - by1) * (bx2 - bx1)
        if area_a <= 0 or area_b <= 0:
            return 0.0
        inter = max(min(ay2, by2) - max(ay1, by1), 0) * max(min(ax2, bx2) - max(ax1, bx1), 0)
        return inter / (area_a + area_b - inter)

    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        if scores[i] <= score_threshold or len(kept) == limit:
            continue
        if all(iou(boxes[i], boxes[k]) <= iou_threshold for k in kept):
            kept.append(i)
    return kept


def test_crop_and_resize_refuses_box_indices_outside_the_batch_when_run():
    # TF-1's kernel checks box_ind before it reads: no wrap-around for -1, no stray index error past the end
    image = tf.placeholder(tf.float32, [None, 4, 4, 1])
    box_ind = tf.placeholder(tf.int32, [None])
    out = tf.image.crop_and_resize(image, tf.constant([[0.0, 0.0, 1.0, 1.0]]), box_ind, [2, 2])
    pixels = np.arange(32, dtype=np.float32).reshape(2, 4, 4, 1)
    np.testing.assert_allclose(_run(out, {image: pixels, box_ind: [1]}).ravel(), [16, 19, 28, 31])
    for bad in (-1, 2):
        with pytest.raises(tf.errors.OutOfRangeError, match=rf"box_index has values outside \[0, batch_size\): "
                                                            rf"box_ind\[0\] = {bad}, batch_size 2"):
            _run(out, {image: pixels, box_ind: [bad]})


@pytest.mark.parametrize("limit, iou_threshold, score_threshold", [(10, 0.5, -np.inf), (3, 0.3, 0.2),
                                                                   (20, 0.0, 0.5), (5, 1.0, -np.inf)])
def test_non_max_suppression_is_tfs_greedy_selection(limit, iou_threshold, score_threshold):
    rng = np.random.default_rng(2)
    corner = rng.uniform(0, 1, (30, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0.05, 0.4, (30, 2))], 1).astype(np.float32)
    boxes[3] = boxes[3][[2, 3, 0, 1]]  # corners given in the other order
    scores = rng.uniform(0, 1, 30).astype(np.float32)
    scores[7] = scores[11]  # a tie: the lower index first
    selected = tf.image.non_max_suppression(tf.constant(boxes), tf.constant(scores), limit, iou_threshold,
                                            score_threshold)
    assert selected.dtype == np.int32 and selected.shape.as_list() == [None]
    got = _run(selected)
    assert got.tolist() == _ref_nms(boxes.astype(float), scores, limit, iou_threshold, score_threshold)


def test_non_max_suppression_fed_and_errors():
    boxes = tf.placeholder(tf.float32, [None, 4])
    scores = tf.placeholder(tf.float32, [None])
    selected = tf.image.non_max_suppression(boxes, scores, max_output_size=2)
    feed = {boxes: [[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 2, 1, 3]], scores: [0.9, 0.95, 0.1]}
    assert _run(selected, feed).tolist() == [1, 2]
    with pytest.raises(ValueError, match=r"non_max_suppression: iou_threshold must be in \[0.0, 1.0\], got 1.5"):
        tf.image.non_max_suppression(boxes, scores, 3, iou_threshold=1.5)
    with pytest.raises(ValueError, match=r"non_max_suppression: boxes must have shape \[N, 4\], got \[None, 5\]"):
        tf.image.non_max_suppression(tf.placeholder(tf.float32, [None, 5]), scores, 3)
    with pytest.raises(ValueError, match=r"boxes \[3, 4\] and scores \[2\] must have one number of boxes"):
        tf.image.non_max_suppression(tf.zeros([3, 4]), tf.zeros([2]), 3)


def _ref_draw(images, boxes, table):
    out = images.copy()
    _, height, width, _ = images.shape
    for b in range(len(boxes)):
        for n, (y1, x1, y2, x2) in enumerate(boxes[b]):
            top, bottom = int(np.float32(y1) * np.float32(height - 1)), int(np.float32(y2) * np.float32(height - 1))
            left, right = int(np.float32(x1) * np.float32(width - 1)), int(np.float32(x2) * np.float32(width - 1))
            if top > bottom or left > right or top >= height or bottom < 0 or left >= width or right < 0:
                continue
            for i in range(height):
                for j in range(width):
                    on_row = i in (top, bottom) and max(left, 0) <= j <= min(right, width - 1)
                    on_col = j in (left, right) and max(top, 0) <= i <= min(bottom, height - 1)
                    if on_row or on_col:
                        out[b, i, j] = table[n % len(table)]
    return out


def test_draw_bounding_boxes_outlines_as_tf():
    images = np.random.default_rng(3).uniform(0, 1, (2, 9, 11, 3)).astype(np.float32)
    boxes = np.array([[[0.1, 0.2, 0.6, 0.7], [-0.3, 0.5, 0.4, 1.4], [0.5, 0.5, 0.2, 0.9]],
                      [[0.0, 0.0, 1.0, 1.0], [1.2, 0.1, 1.5, 0.3], [0.3, 0.3, 0.3, 0.8]]], np.float32)
    got = _run(tf.image.draw_bounding_boxes(tf.constant(images), tf.constant(boxes)))
    default = np.array([[1, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)  # yellow, blue, red
    np.testing.assert_array_equal(got, _ref_draw(images, boxes, default))
    colors = np.array([[0.2, 0.4, 0.6, 1.0]], np.float32)
    got = _run(tf.image.draw_bounding_boxes(tf.constant(images[:, :, :, :1]), tf.constant(boxes), colors=colors))
    np.testing.assert_array_equal(got, _ref_draw(images[:, :, :, :1], boxes, colors[:, :1]))
    with pytest.raises(TypeError, match="draw_bounding_boxes: images must be float32 or float16, got uint8"):
        tf.image.draw_bounding_boxes(tf.constant(images.astype(np.uint8)), tf.constant(boxes))
    with pytest.raises(ValueError, match=r"draw_bounding_boxes: boxes must have shape \[N, N, 4\], got \[2, 3\]"):
        tf.image.draw_bounding_boxes(tf.constant(images), tf.constant(boxes[:, 0, :3]))

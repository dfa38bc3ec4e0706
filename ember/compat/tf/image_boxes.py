"""``tf.image``'s box ops, as TensorFlow 1.15: ``crop_and_resize`` (a recipe over Ember ops: gradients reach the
image and the boxes) and ``non_max_suppression`` (TF's greedy selection; the count it keeps depends on the
values, so it runs on the host, as ``tf.py_func``, and has no gradient, as in TF-1)."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, int32, op
from ember.compat.tf.errors import OutOfRangeError
from ember.compat.tf.host_ops import py_func
from ember.ops.host import host_call

__all__ = ["crop_and_resize", "draw_bounding_boxes", "non_max_suppression"]

# TF's default box colours (RGBA), used in turn: yellow, blue, red, lime, purple, olive, maroon, navy, aqua, fuchsia
_COLORS = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1],
                    [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]], np.float32)


def _check_shape(name: str, arg: str, t: Tensor, want: tuple) -> None:
    if t.shape is None:
        return
    if len(t.shape) != len(want) or any(w is not None and d is not None and d != w for d, w in zip(t.shape, want)):
        shown = "[" + ", ".join("N" if w is None else str(w) for w in want) + "]"
        raise ValueError(f"tf.image.{name}: {arg} must have shape {shown}, got {list(t.shape)}")


def crop_and_resize(image, boxes, box_ind=None, crop_size=None, method: str = "bilinear",
                    extrapolation_value: float = 0, name: str | None = None, box_indices=None) -> Tensor:
    """For each of ``boxes`` ((N, 4) normalized [y1, x1, y2, x2]) a ``crop_size`` (height, width) sampling of
    image ``box_ind[i]`` of the (batch, H, W, C) ``image``: bilinear or nearest, TF's grid (box corners on
    pixel centers ``y * (H - 1)``), ``extrapolation_value`` outside the image; float32 (N, h, w, C)."""
    if box_ind is not None and box_indices is not None:
        raise ValueError("tf.image.crop_and_resize: give box_ind or box_indices, not both")
    box_ind = box_indices if box_ind is None else box_ind
    if box_ind is None or crop_size is None:
        raise ValueError("tf.image.crop_and_resize: box_ind and crop_size are required")
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"tf.image.crop_and_resize: method must be 'bilinear' or 'nearest', got {method!r}")
    size = [int(s) for s in np.asarray(crop_size).reshape(-1)]
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"tf.image.crop_and_resize: crop_size must be 2 positive integers, got {size}")
    image, boxes, box_ind = as_tf(image), as_tf(boxes), as_tf(box_ind)
    _check_shape("crop_and_resize", "image", image, (None, None, None, None))
    _check_shape("crop_and_resize", "boxes", boxes, (None, 4))
    _check_shape("crop_and_resize", "box_ind", box_ind, (None,))
    if boxes.shape is not None and box_ind.shape is not None and None not in (boxes.shape[0], box_ind.shape[0]) \
            and boxes.shape[0] != box_ind.shape[0]:
        raise ValueError(f"tf.image.crop_and_resize: boxes {list(boxes.shape)} and box_ind {list(box_ind.shape)} "
                         "must have one number of boxes")
    if box_ind.dtype is not None and box_ind.dtype.kind not in "iu":
        raise TypeError(f"tf.image.crop_and_resize: box_ind must be int32, got {box_ind.dtype}")
    crop_h, crop_w = size
    fill = float(extrapolation_value)
    op_name = name or "CropAndResize"

    def grid(low, high, n: int, extent: int):
        """Source coordinates (N, n) of one axis and whether each lies inside [0, extent - 1]."""
        span = float(extent - 1)
        if n > 1:
            steps = ember.reshape(ember.arange(n, dtype=np.float32), (1, n))
            where = low * span + steps * ((high - low) * span / float(n - 1))
        else:
            where = 0.5 * (low + high) * span
        return where, (where >= 0.0) & (where <= span)

    def fn(img, bx, bi):
        height, width = img.shape[1], img.shape[2]
        batch_size = img.shape[0]

        def checked(indices: np.ndarray) -> np.ndarray:  # TF-1's kernel checks before it reads (an index would wrap)
            bad = np.flatnonzero((indices < 0) | (indices >= batch_size))
            if bad.size:
                raise OutOfRangeError(op=op_name, message=f"box_index has values outside [0, batch_size): box_ind"
                                                          f"[{bad[0]}] = {indices[bad[0]]}, batch_size {batch_size}")
            return indices

        bi = host_call(checked, [bi], bi.shape, bi.dtype, name=f"tf.image.crop_and_resize '{op_name}'")
        img, bx = ember.cast(img, np.float32), ember.cast(bx, np.float32)
        in_y, inside_y = grid(bx[:, 0:1], bx[:, 2:3], crop_h, height)
        in_x, inside_x = grid(bx[:, 1:2], bx[:, 3:4], crop_w, width)
        batch = ember.reshape(ember.cast(bi, np.int64), (-1, 1, 1))

        def index(v, extent: int):  # rows/columns outside are masked below; clipped only to stay addressable
            return ember.cast(ember.clip(v, 0.0, float(extent - 1)), np.int64)

        flat = ember.reshape(img, (-1, img.shape[3]))

        def pick(rows, cols):  # (N, h, w, C) pixels of image batch[n] at rows[n, i], cols[n, j]
            return ember.take(flat, (batch * height + ember.unsqueeze(rows, 2)) * width + ember.unsqueeze(cols, 1),
                              axis=0)

        if method == "nearest":  # std::round: half away from zero (the coordinates inside are >= 0)
            out = pick(index(ember.floor(in_y + 0.5), height), index(ember.floor(in_x + 0.5), width))
        else:
            top, left = ember.floor(in_y), ember.floor(in_x)
            rows = (index(top, height), index(ember.ceil(in_y), height))
            cols = (index(left, width), index(ember.ceil(in_x), width))
            dy, dx = ember.unsqueeze(ember.unsqueeze(in_y - top, 2), 3), ember.unsqueeze(ember.unsqueeze(in_x - left,
                                                                                                          1), 3)
            upper = pick(rows[0], cols[0]) + (pick(rows[0], cols[1]) - pick(rows[0], cols[0])) * dx
            lower = pick(rows[1], cols[0]) + (pick(rows[1], cols[1]) - pick(rows[1], cols[0])) * dx
            out = upper + (lower - upper) * dy
        inside = ember.unsqueeze(ember.unsqueeze(inside_y, 2) & ember.unsqueeze(inside_x, 1), 3)
        return ember.where(inside, out, ember.as_tensor(np.float32(fill)))

    return op(fn, (image, boxes, box_ind), name=op_name)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """TF's IOU: corners in either order; a box of no area overlaps nothing."""
    def corners(b):
        return (np.minimum(b[..., 0], b[..., 2]), np.minimum(b[..., 1], b[..., 3]),
                np.maximum(b[..., 0], b[..., 2]), np.maximum(b[..., 1], b[..., 3]))

    ay1, ax1, ay2, ax2 = corners(box)
    by1, bx1, by2, bx2 = corners(others)
    area_a, area_b = (ay2 - ay1) * (ax2 - ax1), (by2 - by1) * (bx2 - bx1)
    inter = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0) * \
        np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (area_a + area_b - inter)
    return np.where((area_a <= 0) | (area_b <= 0), 0.0, iou)


def _greedy(boxes: np.ndarray, scores: np.ndarray, limit, iou_threshold, score_threshold) -> np.ndarray:
    limit, iou_threshold, score_threshold = int(limit), float(iou_threshold), float(score_threshold)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
        raise ValueError(f"tf.image.non_max_suppression: boxes must be (N, 4) and scores (N,), got {list(boxes.shape)} "
                         f"and {list(scores.shape)}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"tf.image.non_max_suppression: iou_threshold must be in [0, 1], got {iou_threshold}")
    if limit < 0:
        raise ValueError(f"tf.image.non_max_suppression: max_output_size must be >= 0, got {limit}")
    boxes = boxes.astype(np.float64)
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > score_threshold]  # ties: lower index
    kept: list = []
    for i in order:
        if len(kept) == limit:
            break
        if not kept or (_iou(boxes[i], boxes[kept]) <= iou_threshold).all():
            kept.append(i)
    return np.array(kept, np.int32)


def non_max_suppression(boxes, scores, max_output_size, iou_threshold=0.5, score_threshold=float("-inf"),
                        name: str | None = None) -> Tensor:
    """int32 indices of at most ``max_output_size`` of ``boxes`` ((N, 4) [y1, x1, y2, x2]), taken greedily by
    decreasing ``scores`` (equal scores: the lower index first), each kept only if its IOU with every box kept
    before is at most ``iou_threshold``; boxes scoring ``score_threshold`` or less are never kept."""
    boxes, scores = as_tf(boxes), as_tf(scores)
    _check_shape("non_max_suppression", "boxes", boxes, (None, 4))
    _check_shape("non_max_suppression", "scores", scores, (None,))
    if boxes.shape is not None and scores.shape is not None and None not in (boxes.shape[0], scores.shape[0]) \
            and boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"tf.image.non_max_suppression: boxes {list(boxes.shape)} and scores {list(scores.shape)} "
                         "must have one number of boxes")
    for arg, value in (("iou_threshold", iou_threshold), ("max_output_size", max_output_size)):
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            low, high = (0.0, 1.0) if arg == "iou_threshold" else (0, np.inf)
            if not low <= value <= high:
                raise ValueError(f"tf.image.non_max_suppression: {arg} must be in [{low}, {high}], got {value}")
    extra = [as_tf(max_output_size), as_tf(iou_threshold), as_tf(score_threshold)]
    out = py_func(_greedy, [boxes, scores, *extra], int32, name=name or "NonMaxSuppressionV3")
    out.set_shape([None])
    return out


def _draw(images: np.ndarray, boxes: np.ndarray, colors: np.ndarray | None) -> np.ndarray:
    batch, height, width, depth = images.shape
    if boxes.ndim != 3 or boxes.shape[0] != batch or boxes.shape[2] != 4:
        raise ValueError(f"tf.image.draw_bounding_boxes: boxes must be (batch={batch}, N, 4), got shape "
                         f"{list(boxes.shape)}")
    if colors is not None and colors.size:
        if colors.ndim != 2 or colors.shape[1] < depth:
            raise ValueError(f"tf.image.draw_bounding_boxes: colors must be 2-D with at least {depth} channels, got "
                             f"shape {list(colors.shape)}")
        table = colors[:, :depth].astype(np.float32)
    else:
        table = _COLORS[:, :depth].copy()
        if depth == 1:
            table[:, 0] = 1.0
    canvas = images.copy()
    for b in range(batch):
        for n, box in enumerate(boxes[b].astype(np.float32)):
            # the kernel's float products, truncated toward zero
            top, bottom = int(box[0] * np.float32(height - 1)), int(box[2] * np.float32(height - 1))
            left, right = int(box[1] * np.float32(width - 1)), int(box[3] * np.float32(width - 1))
            if top > bottom or left > right or top >= height or bottom < 0 or left >= width or right < 0:
                continue  # inverted, or wholly outside: not drawn
            color = table[n % len(table)].astype(canvas.dtype)
            rows = slice(max(top, 0), min(bottom, height - 1) + 1)
            cols = slice(max(left, 0), min(right, width - 1) + 1)
            if top >= 0:
                canvas[b, top, cols] = color
            if bottom < height:
                canvas[b, bottom, cols] = color
            if left >= 0:
                canvas[b, rows, left] = color
            if right < width:
                canvas[b, rows, right] = color
    return canvas


def draw_bounding_boxes(images, boxes, name: str | None = None, colors=None) -> Tensor:
    """``images`` (float32 or float16 (batch, H, W, 1, 3 or 4)) with the outline of each of ``boxes`` ((batch, N,
    4) normalized [y_min, x_min, y_max, x_max]) drawn one pixel wide in ``colors`` (rows of RGBA, used in turn;
    TF's table by default); inverted boxes and boxes wholly outside are not drawn. No gradient, as in TF-1."""
    images, boxes = as_tf(images), as_tf(boxes)
    if images.shape is not None and (len(images.shape) != 4 or images.shape[3] not in (None, 1, 3, 4)):
        raise ValueError(f"tf.image.draw_bounding_boxes: images must be 4-D with 1, 3 or 4 channels, got shape "
                         f"{list(images.shape)}")
    if images.dtype is not None and images.dtype not in (np.float16, np.float32):
        raise TypeError(f"tf.image.draw_bounding_boxes: images must be float32 or float16, got {images.dtype}")
    _check_shape("draw_bounding_boxes", "boxes", boxes, (None, None, 4))
    extra = [] if colors is None else [as_tf(colors)]
    out = py_func(lambda x, b, *c: _draw(x, b, c[0] if c else None), [images, boxes, *extra], images.dtype,
                  name=name or "DrawBoundingBoxes")
    out.set_shape(images.shape)
    return out

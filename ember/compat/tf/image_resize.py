"""TF-1's image resizing (``tf.image.resize_images``) as TensorFlow 1.15 computes it.

Each method is separable: along the height and then the width axis, the output is a fixed linear map of the
input rows (an (out, in) matrix built in NumPy from the sizes, TF's legacy pixel grid ``src = dst * scale``, or
its half-pixel one ``(dst + 0.5) * scale - 0.5``),
so gradients flow through one ``einsum`` per axis. Nearest neighbour gathers instead, keeping the dtype.
"""

from __future__ import annotations

import numpy as np

import ember

_TABLE_SIZE = 1024  # TF's bicubic kernel is a table of this many steps per pixel


def _scale(size_in: int, size_out: int, align_corners: bool) -> np.float32:
    """TF's legacy resize scale, in float32 as TensorFlow computes it."""
    if align_corners and size_out > 1:
        return np.float32(size_in - 1) / np.float32(size_out - 1)
    return np.float32(size_in) / np.float32(size_out)


def _sources(size_in: int, size_out: int, align_corners: bool, half_pixel_centers: bool = False) -> np.ndarray:
    """Each output pixel's source coordinate ``dst * scale``, or ``(dst + 0.5) * scale - 0.5`` with
    ``half_pixel_centers`` (float32, as TF's kernels)."""
    dst = np.arange(size_out, dtype=np.float32)
    scale = _scale(size_in, size_out, align_corners)
    if half_pixel_centers:
        return (dst + np.float32(0.5)) * scale - np.float32(0.5)
    return dst * scale


def nearest_indices(size_in: int, size_out: int, align_corners: bool,
                    half_pixel_centers: bool = False) -> np.ndarray:
    """The input pixel each output pixel copies: floor of its source (rounded, half away from zero, with
    ``align_corners``; of ``(dst + 0.5) * scale`` with ``half_pixel_centers``), within ``[0, size_in)``."""
    if half_pixel_centers:
        src = (np.arange(size_out, dtype=np.float32) + np.float32(0.5)) * _scale(size_in, size_out, False)
        return np.clip(np.floor(src).astype(np.int64), 0, size_in - 1)
    src = _sources(size_in, size_out, align_corners)
    picked = np.sign(src) * np.floor(np.abs(src) + np.float32(0.5)) if align_corners else np.floor(src)
    return np.minimum(picked.astype(np.int64), size_in - 1)


def bilinear_matrix(size_in: int, size_out: int, align_corners: bool, half_pixel_centers: bool = False) -> np.ndarray:
    src = _sources(size_in, size_out, align_corners, half_pixel_centers).astype(np.float64)
    low = np.floor(src)
    frac = src - low
    low = np.maximum(low.astype(np.int64), 0)
    high = np.minimum(np.ceil(src).astype(np.int64), size_in - 1)
    m = np.zeros((size_out, size_in))
    rows = np.arange(size_out)
    np.add.at(m, (rows, low), 1.0 - frac)
    np.add.at(m, (rows, high), frac)
    return m


def _cubic_table(a: float) -> np.ndarray:
    """TF's table: entry 2i is the kernel at i/1024, entry 2i+1 at 1 + i/1024 (Keys' kernel: a = -0.75 on the
    legacy grid, -0.5 with half-pixel centers)."""
    x = np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE
    table = np.empty(2 * (_TABLE_SIZE + 1))
    table[0::2] = ((a + 2) * x - (a + 3)) * x * x + 1
    y = x + 1
    table[1::2] = ((a * y - 5 * a) * y + 8 * a) * y - 4 * a
    return table


def bicubic_matrix(size_in: int, size_out: int, align_corners: bool, half_pixel_centers: bool = False) -> np.ndarray:
    """TF's ResizeBicubic; with ``half_pixel_centers``, taps outside the image get weight 0 and each output
    pixel's weights are renormalised to sum to 1 (TF's kernel then, instead of repeating the edge pixels)."""
    src = _sources(size_in, size_out, align_corners, half_pixel_centers)
    base = np.floor(src)
    offset = np.round((src - base).astype(np.float64) * _TABLE_SIZE).astype(np.int64)
    table = _cubic_table(-0.5 if half_pixel_centers else -0.75).astype(np.float32)
    weights = np.stack([table[offset * 2 + 1], table[offset * 2], table[(_TABLE_SIZE - offset) * 2],
                        table[(_TABLE_SIZE - offset) * 2 + 1]], axis=1)
    taps = base.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
    index = np.clip(taps, 0, size_in - 1)
    if half_pixel_centers:
        weights = np.where(index == taps, weights, np.float32(0))
        total = weights.sum(axis=1, keepdims=True)
        weights = np.where(np.abs(total) >= 1000 * np.finfo(np.float32).tiny, weights / total, weights)
    m = np.zeros((size_out, size_in))
    np.add.at(m, (np.repeat(np.arange(size_out), 4), index.ravel()), weights.ravel())
    return m


def area_matrix(size_in: int, size_out: int, align_corners: bool) -> np.ndarray:
    """TF's ResizeArea: each output pixel averages the input span [y * scale, (y + 1) * scale), pixels cut by
    the span's ends counted by the part inside."""
    scale = float(_scale(size_in, size_out, align_corners))
    m = np.zeros((size_out, size_in))
    for y in range(size_out):
        start, end = y * scale, (y + 1) * scale
        for i in range(int(np.floor(start)), int(np.ceil(end))):
            inside = min(i + 1.0, end) - max(float(i), start)
            m[y, min(max(i, 0), size_in - 1)] += inside / scale
    return m


MATRICES = {"bilinear": bilinear_matrix, "bicubic": bicubic_matrix, "area": area_matrix}


def resize(x, size: tuple, method: str, align_corners: bool, half_pixel_centers: bool = False):
    """``x`` (N, H, W, C) resized to ``size`` (height, width) by ``method`` (bilinear, bicubic, area: float32
    results; nearest: ``x``'s dtype); ``half_pixel_centers`` for all but area."""
    h, w = int(x.shape[1]), int(x.shape[2])
    out_h, out_w = size
    half = {"half_pixel_centers": True} if half_pixel_centers else {}
    if method == "nearest":
        x = ember.take(x, ember.tensor(nearest_indices(h, out_h, align_corners, **half)), axis=1)
        return ember.take(x, ember.tensor(nearest_indices(w, out_w, align_corners, **half)), axis=2)
    if x.dtype != np.float32:
        x = ember.cast(x, "float32")
    rows = ember.tensor(MATRICES[method](h, out_h, align_corners, **half).astype(np.float32))
    cols = ember.tensor(MATRICES[method](w, out_w, align_corners, **half).astype(np.float32))
    return ember.einsum("ph,nhwc,qw->npqc", rows, x, cols)

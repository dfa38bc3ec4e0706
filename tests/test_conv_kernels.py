"""The CPU kernel choices of the convolutions and max pooling against the float64 references: per-sample
columns over whole input rows (stride 1), chunks of samples and parts of the batch on several threads (the
same bits as one thread), and column matrices whose rows are kept off 1 KiB multiples."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases_conv import ref_conv2d, ref_conv_transpose2d, ref_max_pool2d

import ember
from ember.ops import conv, conv_per_sample, pooling


def _ref_weight_grad(x, gy, kernel, **kwargs):
    """d(sum(conv2d(x, w) * gy))/dw by the float64 reference, one tap at a time (the map is linear in w)."""
    o, c = gy.shape[1], x.shape[1]
    gw = np.zeros((o, c) + kernel)
    for index in np.ndindex(*gw.shape[1:]):
        w = np.zeros((1, c) + kernel)
        w[(0,) + index] = 1.0
        gw[(slice(None),) + index] = np.einsum("nohw,nhw->o", gy, ref_conv2d(x, w, **kwargs)[:, 0])
    return gw


GEOMETRIES = [  # (x shape, w shape, conv2d keywords): at least 256 output pixels, so the per-sample kernels run
    ((3, 1, 28, 28), (6, 1, 5, 5), {}),
    ((1, 2, 19, 30), (3, 2, 3, 4), dict(padding=(1, 2))),
    ((2, 3, 23, 17), (4, 3, 3, 2), dict(padding=2, dilation=(2, 1))),
    ((2, 2, 36, 33), (3, 2, 3, 3), dict(stride=(2, 1), padding=1)),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GEOMETRIES)
@pytest.mark.parametrize("chunk_bytes", [1 << 20, 256])  # one chunk; a chunk per sample, on two threads
def test_per_sample_kernels_match_float64(monkeypatch, x_shape, w_shape, kwargs, chunk_bytes):
    monkeypatch.setattr(conv_per_sample, "_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    y = ember.conv2d(ember.tensor(x), ember.tensor(w), **kwargs).numpy()
    np.testing.assert_allclose(y, ref_conv2d(x, w, **kwargs), rtol=1e-10, atol=1e-10)
    assert conv_per_sample.use_per_sample(np, 1, *y.shape[2:], conv_per_sample.FORWARD_MIN_PIXELS)
    gy = rng.standard_normal(y.shape)
    attrs = conv._conv_attrs("conv2d", kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1), 1)
    gw = conv._weight_grad_forward(np, x, gy, kernel_size=w_shape[2:], **attrs)
    np.testing.assert_allclose(gw, _ref_weight_grad(x, gy, w_shape[2:], **kwargs), rtol=1e-10, atol=1e-9)


def test_per_sample_kernels_read_inputs_whose_rows_are_apart():
    """A view whose rows do not follow each other (a crop of wider images) gives the contiguous input's result."""
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((2, 1, 20, 31))
    x, w = wide[..., 3:25], rng.standard_normal((2, 1, 3, 3))
    y = ember.conv2d(ember.tensor(x), ember.tensor(w)).numpy()
    np.testing.assert_allclose(y, ref_conv2d(np.ascontiguousarray(x), w), rtol=1e-10, atol=1e-10)


def test_per_sample_sums_do_not_depend_on_the_thread_count(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 2, 24, 24)).astype(np.float32)
    gy = rng.standard_normal((9, 3, 22, 22)).astype(np.float32)
    monkeypatch.setattr(conv_per_sample, "_CHUNK_BYTES", 4096)
    results = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("OMP_NUM_THREADS", threads)
        results.append(conv_per_sample.conv2d_weight_grad(x, gy, (3, 3), (1, 1), (1, 1)))
    assert all(np.array_equal(results[0], r) for r in results[1:])


POOLS = [  # (x shape, max_pool2d keywords): non-overlapping and overlapping windows, padding, ceil mode
    ((5, 3, 24, 24), dict(kernel_size=2)),
    ((1, 4, 9, 7), dict(kernel_size=2, ceil_mode=True)),
    ((3, 2, 11, 13), dict(kernel_size=3, stride=2, padding=1)),
    ((4, 3, 10, 9), dict(kernel_size=(3, 2), stride=(1, 2), dilation=(2, 1))),
]


@pytest.mark.parametrize("shape, kwargs", POOLS)
def test_max_pool_in_parts_of_the_batch_equals_one_part(monkeypatch, shape, kwargs):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, 0, :2, :2] = 1.0  # ties go to the first maximum in every part
    results = []
    for elements in (1 << 40, 0):  # one call; parts on two threads
        monkeypatch.setattr(pooling, "_PARALLEL_ELEMENTS", elements)
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        xe = ember.tensor(x, requires_grad=True)
        y = ember.max_pool2d(xe, **kwargs)
        g = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
        y.backward(ember.tensor(g))
        results.append((y.detach().numpy(), xe.grad.numpy()))
    (y1, g1), (y2, g2) = results
    assert np.array_equal(y1, y2) and np.array_equal(g1, g2)
    np.testing.assert_allclose(y2, ref_max_pool2d(x.astype(np.float64), **kwargs), rtol=1e-6)


@pytest.mark.parametrize("columns, itemsize", [(4096, 4), (256, 4), (100, 4), (512, 8)])
def test_matrix_rows_are_not_a_multiple_of_1kib_apart(columns, itemsize):
    dtype = np.float32 if itemsize == 4 else np.float64
    m = conv.matrix_rows(np, 8, columns, dtype)
    assert m.shape == (8, columns) and m.dtype == dtype and m.strides[1] == itemsize
    assert m.strides[0] % 1024
    assert not conv.matrix_rows(np, 3, columns, dtype, zeros=True).any()


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 5, 4, 3), (5, 2, 3, 2), dict(padding=(1, 0), dilation=(1, 2))),  # stride 1, fewer outputs than inputs
])
def test_col2im_in_parts_of_the_channels_equals_one_part(monkeypatch, x_shape, w_shape, kwargs):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    results = []
    for elements in (1 << 40, 0):
        monkeypatch.setattr(conv, "_PARALLEL_ELEMENTS", elements)
        results.append(ember.conv_transpose2d(ember.tensor(x), ember.tensor(w), **kwargs).numpy())
    assert np.array_equal(results[0], results[1])
    np.testing.assert_allclose(results[1], ref_conv_transpose2d(x, w, **kwargs), rtol=1e-10, atol=1e-10)


def test_im2col_in_parts_of_the_channels_equals_one_part(monkeypatch):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((3, 5, 9, 8)), rng.standard_normal((4, 5, 3, 2))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    results = []
    for elements in (1 << 40, 0):
        monkeypatch.setattr(conv, "_PARALLEL_ELEMENTS", elements)
        xe, we = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
        y = ember.conv2d(xe, we, stride=(1, 2), padding=1)
        (y * y).sum().backward()
        results.append((y.detach().numpy(), xe.grad.numpy(), we.grad.numpy()))
    assert all(np.array_equal(a, b) for a, b in zip(*results))
    np.testing.assert_allclose(results[1][0], ref_conv2d(x, w, stride=(1, 2), padding=1), rtol=1e-10, atol=1e-10)

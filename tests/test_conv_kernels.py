"""CPU kernel choices of the convolutions against the float64 references: per-sample columns over whole input
rows (stride 1) in one chunk or many, and column matrices whose rows are kept off 1 KiB multiples."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases_conv import ref_conv2d, ref_conv_transpose2d

import ember
from ember.ops import conv, conv_dense, conv_per_sample


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
@pytest.mark.parametrize("chunk_bytes", [1 << 20, 256])  # one chunk; a chunk per sample
def test_per_sample_kernels_match_float64(monkeypatch, x_shape, w_shape, kwargs, chunk_bytes):
    monkeypatch.setattr(conv_per_sample, "_CHUNK_BYTES", chunk_bytes)
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
    gy = rng.standard_normal(y.shape)
    attrs = conv._conv_attrs("conv2d", 1, 0, 1, 1)
    gw = conv._weight_grad_forward(np, x, gy, kernel_size=(3, 3), **attrs)
    np.testing.assert_allclose(gw, _ref_weight_grad(np.ascontiguousarray(x), gy, (3, 3)), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("columns, itemsize", [(4096, 4), (256, 4), (100, 4), (512, 8)])
def test_matrix_rows_are_not_a_multiple_of_1kib_apart(columns, itemsize):
    dtype = np.float32 if itemsize == 4 else np.float64
    m = conv.matrix_rows(np, 8, columns, dtype)
    assert m.shape == (8, columns) and m.dtype == dtype and m.strides[1] == itemsize
    assert m.strides[0] % 1024
    assert not conv.matrix_rows(np, 3, columns, dtype, zeros=True).any()



@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((3, 16, 8, 8), (16, 6, 5, 5), {}),  # LeNet's second layer's input gradient
    ((1, 8, 5, 7), (8, 1, 3, 2), dict(padding=(1, 0), groups=2)),
    ((2, 6, 4, 6), (6, 2, 2, 3), dict(padding=(0, 2), dilation=(2, 3), output_padding=(1, 2))),
])
def test_stride_1_transposed_convolution_by_rows_matches_float64(x_shape, w_shape, kwargs):
    """Stride-1 transposed convolutions that reduce channels sum their columns by flat offsets into wide rows."""
    groups = kwargs.get("groups", 1)
    attrs = {"stride": (1, 1), "padding": kwargs.get("padding", (0, 0)), "dilation": kwargs.get("dilation", (1, 1)),
             "groups": groups, "output_padding": kwargs.get("output_padding", (0, 0))}
    out_hw = conv._transposed_size(x_shape, w_shape, (1, 1), attrs["padding"], attrs["dilation"],
                                   attrs["output_padding"])
    assert not conv._as_flipped_conv(np, x_shape, w_shape, groups=groups, out_h=out_hw[0], out_w=out_hw[1], **{
        k: v for k, v in attrs.items() if k != "groups"})
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    y = ember.conv_transpose2d(ember.tensor(x), ember.tensor(w), **kwargs).numpy()
    np.testing.assert_allclose(y, ref_conv_transpose2d(x, w, **kwargs), rtol=1e-10, atol=1e-10)
    y32 = conv._conv_transpose2d_forward(np, x.astype(np.float32), w.astype(np.float32), **attrs)
    assert y32.dtype == np.float32 and y32.flags.c_contiguous
    np.testing.assert_allclose(y32, y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape, kernel", [
    ((3, 2, 8, 6), (2, 2)),
    ((1, 3, 7, 11), (3, 3)),  # rows and columns past the last window get no gradient
    ((2, 2, 9, 8), (2, 4)),
    ((2, 1, 5, 5), (1, 1)),
])
def test_side_by_side_max_pool_gradient_routes_to_the_first_maximum(shape, kernel):
    """Windows side by side (stride = kernel, no padding): ties go to the first maximum in row-major order, a
    window whose maximum is NaN routes nothing, as the phase-plane kernel does for any geometry; the gradient op
    sends input holding NaN around both, to the windows' indices (a NaN window's last NaN, as PyTorch)."""
    from ember.ops import pool_planes, pooling

    rng = np.random.default_rng(8)
    x = rng.integers(0, 3, shape).astype(np.float32)  # many ties
    x[0, 0, 0, 0] = np.nan
    out_hw = tuple(shape[2 + a] // kernel[a] for a in (0, 1))
    g = rng.standard_normal(shape[:2] + out_hw).astype(np.float32)
    assert pooling._side_by_side(shape, g.shape, kernel, kernel, (0, 0), (1, 1))
    got = pooling._side_by_side_grad(x, g, kernel)
    want = pool_planes.max_pool2d_grad(x, g, kernel, kernel, (0, 0), (1, 1), -np.inf)
    assert np.array_equal(got, want)
    assert got[0, 0, :kernel[0], :kernel[1]].sum() == 0  # the NaN window
    routed = pooling._max_pool2d_grad_forward(np, x, g, kernel_size=kernel, stride=kernel, padding=(0, 0),
                                              dilation=(1, 1), ceil_mode=False)
    want[0, 0, 0, 0] = g[0, 0, 0, 0]
    assert np.array_equal(routed, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((3, 5, 2, 2), (4, 5, 3, 3), dict(padding=1)),  # 2x2 images: every output pixel meets every input pixel
    ((3, 5, 1, 1), (4, 5, 3, 3), dict(padding=1)),  # 1x1 images: one tap
    ((2, 3, 2, 2), (4, 3, 3, 3), dict(stride=2, padding=1)),  # a 1x1 output
])
def test_small_image_input_gradient_reuses_the_forward_dense_matrix(monkeypatch, dtype, x_shape, w_shape, kwargs):
    """conv2d on images no larger than its kernel multiplies by one dense matrix; the recorded forward keeps it,
    and the input gradient multiplies by the same matrix instead of building it again."""
    builds = []
    build = conv_dense.dense_matrix
    monkeypatch.setattr(conv_dense, "dense_matrix", lambda *a, **k: builds.append(1) or build(*a, **k))
    rng = np.random.default_rng(7)
    xa, wa, ba = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    x, w, b = (ember.tensor(a.astype(dtype), requires_grad=True) for a in (xa, wa, ba))
    y = ember.conv2d(x, w, b, **kwargs)
    gy = rng.standard_normal(tuple(y.shape))
    (y * ember.tensor(gy.astype(dtype))).sum().backward()
    assert len(builds) == 1
    tolerance = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), ref_conv2d(xa, wa, ba, **kwargs), **tolerance)
    expected_gx = ref_conv_transpose2d(gy, wa, stride=kwargs.get("stride", 1), padding=kwargs["padding"],
                                       output_padding=x_shape[2] - ((y.shape[2] - 1) * kwargs.get("stride", 1)
                                                                    - 2 * kwargs["padding"] + 3))
    np.testing.assert_allclose(x.grad.numpy(), expected_gx, **tolerance)
    np.testing.assert_allclose(w.grad.numpy(), _ref_weight_grad(xa, gy, w_shape[2:], **kwargs), **tolerance)
    np.testing.assert_allclose(b.grad.numpy(), gy.sum(axis=(0, 2, 3)), **tolerance)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((3, 4, 2, 2), (5, 4, 3, 3), dict(padding=1)),  # 16 pixel pairs: every tap, the centre one four times
    ((2, 3, 1, 3), (4, 3, 3, 3), dict(stride=2, padding=2)),  # 10 pairs that reach 6 of the 9 taps
    ((2, 2, 3, 3), (3, 2, 3, 3), dict(padding=2)),
])
def test_dense_weight_gradient_of_many_pixel_pairs_matches_float64(x_shape, w_shape, kwargs):
    """Where more than a few pixel pairs meet, the weight gradient sums each tap's pixel blocks (taps no pair
    reaches are zero)."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal(x_shape)
    full = dict(stride=1, padding=0, dilation=1) | kwargs
    out_hw = [conv.conv_out_size(x_shape[2 + a], w_shape[2 + a], full["stride"], full["padding"], full["dilation"])
              for a in (0, 1)]
    gy = rng.standard_normal((x_shape[0], w_shape[0], *out_hw))
    pairs = conv_dense.tap_index(*conv_dense.geometry(x_shape[2:], out_hw, w_shape[2:], (full["stride"],) * 2,
                                                      (full["padding"],) * 2, (full["dilation"],) * 2))
    assert (pairs < 9).sum() > conv_dense._LOOP_PAIRS
    gw = conv_dense.conv2d_weight_grad(x, gy, w_shape[2:], (full["stride"],) * 2, (full["padding"],) * 2,
                                       (full["dilation"],) * 2)
    np.testing.assert_allclose(gw, _ref_weight_grad(x, gy, w_shape[2:], **kwargs), rtol=1e-10, atol=1e-10)
    gw32 = conv_dense.conv2d_weight_grad(x.astype(np.float32), gy.astype(np.float32), w_shape[2:],
                                         (full["stride"],) * 2, (full["padding"],) * 2, (full["dilation"],) * 2)
    assert gw32.dtype == np.float32
    np.testing.assert_allclose(gw32, gw, rtol=1e-4, atol=1e-4)

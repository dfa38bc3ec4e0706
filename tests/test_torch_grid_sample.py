"""grid_sample and affine_grid against PyTorch: values and both gradients over every mode, padding mode,
align_corners and dtype, PyTorch's conventions at borders and pixel centres, ember.jit, errors, the ONNX form, and a
spatial transformer that learns to undo a known warp; higher-order gradients (which PyTorch lacks) against finite
differences."""

import contextlib
import itertools

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [(dims, mode, padding, align) for dims, mode, padding, align in itertools.product(
    (2, 3), ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"), (False, True))
    if not (dims == 3 and mode == "bicubic")]
TOLERANCE = {np.float32: {"rtol": 1e-4, "atol": 2e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-12}}


def _sample_and_grads(x, grid, upstream, **kwargs):
    """(output, input gradient, grid gradient) from Ember and from PyTorch."""
    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(grid, requires_grad=True)
    ey = F.grid_sample(ex, eg, **kwargs)
    ey.backward(ember.tensor(upstream))
    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    ty = TF.grid_sample(tx, tg, **kwargs)
    ty.backward(torch.tensor(upstream))
    assert ey.dtype == x.dtype and ex.grad.dtype == x.dtype and eg.grad.dtype == x.dtype
    return [(ey.detach().numpy(), ty.detach().numpy()), (ex.grad.numpy(), tx.grad.numpy()),
            (eg.grad.numpy(), tg.grad.numpy())]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims, mode, padding, align", CASES)
def test_grid_sample_matches_torch_in_values_and_both_gradients(dims, mode, padding, align, dtype):
    rng = np.random.default_rng(len(CASES) * dims + CASES.index((dims, mode, padding, align)))
    spatial, out = ((4, 5), (6, 7)) if dims == 2 else ((3, 4, 5), (3, 4, 2))
    x = rng.standard_normal((2, 3, *spatial)).astype(dtype)
    grid = rng.uniform(-1.6, 1.6, (2, *out, dims)).astype(dtype)  # inside, near and beyond the borders
    upstream = rng.standard_normal((2, 3, *out)).astype(dtype)
    for ours, theirs in _sample_and_grads(x, grid, upstream, mode=mode, padding_mode=padding, align_corners=align):
        np.testing.assert_allclose(ours, theirs, **TOLERANCE[dtype])


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [False, True])
def test_grid_sample_takes_torchs_values_and_gradients_at_borders_and_pixel_centres(mode, padding, align):
    # coordinates exactly on pixel centres, on the image's edges and corners, and one pixel beyond: the kinks where
    # PyTorch's conventions decide the gradient (a clipped coordinate's derivative is 0 at the border itself)
    size = 4
    centres = (2 * np.arange(size) + 1) / size - 1 if not align else np.linspace(-1, 1, size)
    points = np.concatenate([centres, [-1.0, 1.0, -1.5, 1.5, 0.0, -1 - 2 / size, 1 + 2 / size]])
    grid = np.stack(np.meshgrid(points, points[::-1], indexing="xy"), axis=-1)[None]
    x = np.random.default_rng(0).standard_normal((1, 2, size, size))
    upstream = np.random.default_rng(1).standard_normal((1, 2) + grid.shape[1:3])
    for ours, theirs in _sample_and_grads(x, grid, upstream, mode=mode, padding_mode=padding, align_corners=align):
        np.testing.assert_allclose(ours, theirs, **TOLERANCE[np.float64])


def test_grid_sample_of_one_pixel_input_reflects_as_torch():
    x = np.array([[[[3.0]]]])
    grid = np.array([[[[0.3, -0.7], [1.5, 2.0]]]])
    for align, padding in itertools.product((False, True), ("zeros", "border", "reflection")):
        for ours, theirs in _sample_and_grads(x, grid, np.ones((1, 1, 1, 2)), padding_mode=padding,
                                              align_corners=align):
            np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_of_non_finite_and_huge_coordinates_gives_torchs_values(mode, padding):
    # zeros padding and bicubic give NaN for a NaN or infinite coordinate; clipping reads a NaN as 0
    x = np.random.default_rng(7).standard_normal((1, 2, 3, 4)).astype(np.float32)
    grid = np.array([[[[np.nan, 0.2], [np.inf, 0.1], [-np.inf, 0.3], [1e20, 0.0], [0.5, -1e20]]]], np.float32)
    for align in (False, True):
        kwargs = {"mode": mode, "padding_mode": padding, "align_corners": align}
        with np.errstate(invalid="ignore"):
            ours = F.grid_sample(ember.tensor(x), ember.tensor(grid), **kwargs).numpy()
        np.testing.assert_allclose(ours, TF.grid_sample(torch.tensor(x), torch.tensor(grid), **kwargs).numpy(),
                                   atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("batch, out", [(1, (0, 3)), (0, (2, 2))])
def test_grid_sample_of_empty_grids_and_batches_has_torchs_shapes(batch, out):
    x = ember.zeros(batch, 2, 3, 4, requires_grad=True)
    grid = ember.zeros(batch, *out, 2, requires_grad=True)
    y = F.grid_sample(x, grid)
    assert y.shape == tuple(TF.grid_sample(torch.zeros(batch, 2, 3, 4), torch.zeros(batch, *out, 2),
                                                   align_corners=False).shape)
    y.sum().backward()
    assert x.grad.shape == x.shape and grid.grad.shape == grid.shape and not x.grad.numpy().any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (2, 3, 3, 4, 5), (1, 1, 1, 1, 2)])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_matches_torch_in_values_and_gradient(size, align, dtype):
    dims = len(size) - 2
    theta = np.random.default_rng(3).standard_normal((size[0], dims, dims + 1)).astype(dtype)
    ours, theirs = ember.tensor(theta, requires_grad=True), torch.tensor(theta, requires_grad=True)
    out = F.affine_grid(ours, size, align_corners=align)
    with pytest.warns(UserWarning) if align and 1 in size[2:] else contextlib.nullcontext():
        expected = TF.affine_grid(theirs, size, align_corners=align)
    assert out.shape == tuple(expected.shape) and out.dtype == dtype
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    upstream = np.random.default_rng(4).standard_normal(out.shape).astype(dtype)
    out.backward(ember.tensor(upstream))
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_half_precision_samples_in_float32_and_keeps_its_dtype(mode, dtype):
    # bfloat16 was refused as "not the same floating dtype" (its NumPy kind is "V"); both now sample in float32
    # (bfloat16 positions would be 1/32 of a pixel apart at x = 5) and round once
    rng = np.random.default_rng(0)
    x, grid = rng.standard_normal((2, 3, 5, 6)), rng.uniform(-1.1, 1.1, (2, 4, 3, 2))
    low = getattr(ember, dtype)
    ex = ember.tensor(x).to(low).requires_grad_(True)
    eg = ember.tensor(grid).to(low).requires_grad_(True)
    theirs = [torch.tensor(v).to(getattr(torch, dtype)).double().requires_grad_(True) for v in (x, grid)]
    for padding in ("zeros", "reflection"):
        ey = F.grid_sample(ex, eg, mode, padding, align_corners=False)
        ty = TF.grid_sample(*theirs, mode, padding, align_corners=False)  # exact on the rounded operands
        assert ey.dtype == low
        np.testing.assert_allclose(ey.to(ember.float64).detach().numpy(), ty.detach().numpy(), rtol=2e-2, atol=2e-2)
        compiled = ember.jit(lambda a, b: F.grid_sample(a, b, mode, padding, align_corners=False))
        assert compiled(ex.detach(), eg.detach()).dtype == low
    ey.to(ember.float32).sum().backward()
    assert ex.grad.dtype == low and eg.grad.dtype == low
    assert F.affine_grid(ember.zeros(2, 2, 3).to(low), (2, 3, 4, 5), align_corners=False).dtype == low


def test_grid_sample_and_affine_grid_trace_under_jit_with_gradients():
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((2, 3, 5, 6)).astype(np.float32), requires_grad=True)
    theta = ember.tensor(rng.standard_normal((2, 2, 3)).astype(np.float32) * 0.5, requires_grad=True)

    def warp(image, t):
        grid = F.affine_grid(t, (2, 3, 4, 4), align_corners=False)
        y = F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        loss = (y * y).sum()
        loss.backward()
        return loss

    eager = warp(x, theta)
    expected = (x.grad.numpy().copy(), theta.grad.numpy().copy())
    step = ember.jit(warp)
    for _ in range(2):
        x.grad = theta.grad = None
        np.testing.assert_allclose(step(x, theta).numpy(), eager.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(x.grad.numpy(), expected[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(theta.grad.numpy(), expected[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_the_input_gradient_is_differentiable_in_the_grid(mode):
    # d/dgrid <d loss/d input, w> against central differences (PyTorch has no double backward here)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 4, 5))
    grid = rng.uniform(-1.2, 1.2, (1, 3, 2, 2))
    upstream, w = rng.standard_normal((1, 2, 3, 2)), rng.standard_normal(x.shape)

    def weighted_input_grad(g, create_graph=False):
        ex = ember.tensor(x, requires_grad=True)
        out = F.grid_sample(ex, g, mode=mode, padding_mode="border")
        (gx,) = ember.grad((out * ember.tensor(upstream)).sum(), [ex], create_graph=create_graph)
        return (gx * ember.tensor(w)).sum()

    g = ember.tensor(grid, requires_grad=True)
    (analytic,) = ember.grad(weighted_input_grad(g, create_graph=True), [g])
    numeric = np.zeros(grid.shape)
    for i in np.ndindex(*grid.shape):
        for sign in (1, -1):
            moved = grid.copy()
            moved[i] += sign * 1e-6
            numeric[i] += sign * weighted_input_grad(ember.tensor(moved)).item() / 2e-6
    np.testing.assert_allclose(analytic.numpy(), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode, padding", [("bilinear", "reflection"), ("bicubic", "zeros"), ("bilinear", "zeros")])
def test_third_order_gradients_in_the_grid_match_finite_differences(mode, padding):
    # r(grid) = <d/dgrid <d/dgrid <out, u>, w1>, w2>: its gradient needs the weights' third derivatives
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 4, 5))
    grid = rng.uniform(-1.2, 1.2, (1, 2, 3, 2))
    u, w1, w2 = rng.standard_normal((1, 2, 2, 3)), rng.standard_normal(grid.shape), rng.standard_normal(grid.shape)

    def second(g, create_graph):
        out = F.grid_sample(ember.tensor(x), g, mode=mode, padding_mode=padding, align_corners=True)
        (first,) = ember.grad((out * ember.tensor(u)).sum(), [g], create_graph=True)
        (then,) = ember.grad((first * ember.tensor(w1)).sum(), [g], create_graph=create_graph)
        return (then * ember.tensor(w2)).sum()

    g = ember.tensor(grid, requires_grad=True)
    (analytic,) = ember.grad(second(g, True), [g])
    numeric = np.zeros(grid.shape)
    for i in np.ndindex(*grid.shape):
        for sign in (1, -1):
            moved = grid.copy()
            moved[i] += sign * 1e-6
            numeric[i] += sign * second(ember.tensor(moved, requires_grad=True), False).item() / 2e-6
    np.testing.assert_allclose(analytic.numpy(), numeric, rtol=1e-5, atol=1e-6)


def test_second_order_gradients_trace_under_jit():
    rng = np.random.default_rng(9)
    x = ember.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    grid = ember.tensor(rng.uniform(-1, 1, (1, 3, 2, 2)), requires_grad=True)

    def penalty_grads(image, points):
        out = F.grid_sample(image, points, mode="bicubic", padding_mode="reflection")
        (first,) = ember.grad((out * out).sum(), [points], create_graph=True)
        return ember.grad((first * first).sum(), [image, points])

    eager = penalty_grads(x, grid)
    step = ember.jit(penalty_grads)
    for _ in range(2):
        for ours, expected in zip(step(x, grid), eager):
            np.testing.assert_array_equal(ours.numpy(), expected.numpy())


@pytest.mark.parametrize("call, message", [
    (lambda: F.grid_sample(ember.zeros(1, 2, 3), ember.zeros(1, 2, 2)),
     r"grid_sample: input must be 4-D \(N, C, H, W\) or 5-D .* float32\[1, 2, 3\]"),
    (lambda: F.grid_sample(ember.zeros(1, 2, 3, 3), ember.zeros(1, 2, 2, 3)),
     r"grid_sample: grid must be 4-D with last dimension 2 .* float32\[1, 2, 2, 3\]"),
    (lambda: F.grid_sample(ember.zeros(2, 2, 3, 3), ember.zeros(1, 2, 2, 2)),
     r"grid_sample: input and grid must have the same batch size"),
    (lambda: F.grid_sample(ember.zeros(1, 2, 3, 3), ember.zeros(1, 2, 2, 2, dtype="float64")),
     r"grid_sample: input and grid must have the same floating dtype .* float64"),
    (lambda: F.grid_sample(ember.zeros(1, 2, 3, 3), ember.zeros(1, 2, 2, 2), mode="area"),
     r"grid_sample: mode must be one of bilinear, nearest, bicubic, got 'area'"),
    (lambda: F.grid_sample(ember.zeros(1, 2, 3, 3), ember.zeros(1, 2, 2, 2), padding_mode="wrap"),
     r"grid_sample: padding_mode must be one of zeros, border, reflection, got 'wrap'"),
    (lambda: F.grid_sample(ember.zeros(1, 2, 3, 3, 3), ember.zeros(1, 2, 2, 2, 3), mode="bicubic"),
     r"grid_sample: mode 'bicubic' samples 4-D input only"),
    (lambda: F.affine_grid(ember.zeros(2, 2, 3), (2, 3, 4)),
     r"affine_grid: size must be 4 or 5 positive ints"),
    (lambda: F.affine_grid(ember.zeros(2, 2, 3), (2, 3, 4, 4, 4)),
     r"affine_grid: theta must be floating \(2, 3, 4\) for size \[2, 3, 4, 4, 4\], got float32\[2, 2, 3\]"),
    (lambda: F.affine_grid(ember.zeros(1, 2, 3), (2, 3, 4, 4)),
     r"affine_grid: theta must be floating \(2, 2, 3\) for size \[2, 3, 4, 4\], got float32\[1, 2, 3\]"),
])
def test_errors_name_the_function_argument_and_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_onnx_export_of_grid_sample_needs_opset_16():
    pytest.importorskip("onnx")
    x, grid = np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 2, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"grid_sample: 4-D input needs ONNX opset 16 or later \(GridSample\), got 15"):
        ember.onnx.export(F.grid_sample, [x, grid], opset=15)


def _rotation(angle: float, scale: float = 1.0, shift=(0.0, 0.0)) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, shift[0]], [s, c, shift[1]]])


class SpatialTransformer(nn.Module):
    """A learned affine map applied with affine_grid and grid_sample, started at the identity."""

    def __init__(self) -> None:
        super().__init__()
        self.theta = nn.Parameter(ember.tensor(_rotation(0.0)[None].astype(np.float32)))

    def forward(self, image):
        grid = F.affine_grid(self.theta.expand(image.shape[0], 2, 3), image.shape, align_corners=False)
        return F.grid_sample(image, grid, padding_mode="border", align_corners=False)


def test_a_spatial_transformer_learns_the_affine_map_that_undoes_a_known_warp():
    # a smooth image warped by a rotation, scaling and shift; the transformer sees the warped image and learns
    # theta so that its output is the original again
    size = 24
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    image = np.exp(-((xs - 0.2) ** 2 + (ys + 0.1) ** 2) * 6) + 0.5 * np.exp(-((xs + 0.3) ** 2 + (ys - 0.3) ** 2) * 10)
    image = image[None, None].astype(np.float32)
    warp = _rotation(0.3, 0.9, (0.1, -0.05)).astype(np.float32)
    warped = F.grid_sample(ember.tensor(image), F.affine_grid(ember.tensor(warp[None]), image.shape,
                                                            align_corners=False), align_corners=False)
    model = SpatialTransformer()
    optimizer = ember.optim.Adam(model.parameters(), lr=0.02)
    target = ember.tensor(image)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))  # away from the warp's border

    def loss_of():
        return ((model(warped) - target)[inner] ** 2).mean()

    first = loss_of().item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        optimizer.step()
    assert loss_of().item() < 0.01 * first  # what is left: resampling twice blurs
    # the learned map is the warp's inverse: warp(learned(p)) = p, in homogeneous coordinates
    learned = np.vstack([model.theta.detach().numpy()[0], [0, 0, 1]])
    np.testing.assert_allclose(np.vstack([warp, [0, 0, 1]]) @ learned, np.eye(3), atol=0.01)

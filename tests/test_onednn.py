"""float32 convolutions on oneDNN (the ``onednn`` extra) against the float64 references, the kernel choice
between oneDNN and NumPy, and the thread counts each library keeps. Skipped where oneDNN is not installed,
but for the tests of what happens without it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from op_cases_conv import ref_conv2d, ref_conv_transpose2d
from test_conv_kernels import _ref_weight_grad

import ember
from ember.backend import blas_threads, onednn
from ember.ops import conv, pooling

needs_onednn = pytest.mark.skipif(not onednn.available(), reason=f"oneDNN not available: {onednn.unavailable_reason()}")

GEOMETRIES = [  # (x shape, w shape, conv2d keywords)
    ((4, 6, 12, 12), (16, 6, 5, 5), {}),
    ((3, 8, 9, 11), (5, 8, 3, 3), dict(padding=1)),
    ((2, 8, 13, 10), (6, 8, 3, 2), dict(stride=2, padding=(1, 0))),
    ((2, 8, 15, 15), (4, 8, 3, 3), dict(padding=2, dilation=2)),
    ((2, 8, 10, 10), (8, 2, 3, 3), dict(padding=1, groups=4)),
    ((2, 8, 10, 10), (8, 1, 3, 3), dict(padding=1, groups=8)),  # depthwise
    ((3, 4, 9, 9), (8, 4, 1, 1), dict(stride=2)),
    ((2, 5, 8, 8), (7, 5, 4, 4), dict(stride=3, padding=1)),  # the transposed conv needs output padding
]


@pytest.fixture
def calls(monkeypatch):
    """The directions oneDNN ran, in order."""
    seen = []
    run = onednn._run

    def recording(key, *args, **kwargs):
        out = run(key, *args, **kwargs)
        seen.append((key[0], out is not None))
        return out

    monkeypatch.setattr(onednn, "_run", recording)
    return seen


def _attrs(kwargs):
    return conv._conv_attrs("conv2d", kwargs.get("stride", 1), kwargs.get("padding", 0), kwargs.get("dilation", 1),
                            kwargs.get("groups", 1))


@needs_onednn
@pytest.mark.parametrize("x_shape, w_shape, kwargs", GEOMETRIES)
def test_convolutions_and_both_gradients_match_float64(calls, x_shape, w_shape, kwargs):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    xt = ember.tensor(x.astype(np.float32), requires_grad=True)
    wt = ember.tensor(w.astype(np.float32), requires_grad=True)
    y = ember.conv2d(xt, wt, **kwargs)
    ref = ref_conv2d(x, w, **kwargs)
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(ref.shape)
    (y * ember.tensor(gy.astype(np.float32))).sum().backward()
    attrs = _attrs(kwargs)
    groups = attrs["groups"]
    ref_gx = np.stack([  # d(sum(conv2d(x, w) * gy))/dx, by the transposed convolution's own reference
        ref_conv_transpose2d(gy[n:n + 1], w, stride=attrs["stride"], padding=attrs["padding"],
                             dilation=attrs["dilation"], groups=groups,
                             output_padding=_output_padding(x_shape, w_shape, ref.shape, attrs))[0]
        for n in range(x_shape[0])])
    np.testing.assert_allclose(xt.grad.numpy(), ref_gx, rtol=1e-4, atol=1e-4)
    ref_gw = np.concatenate([  # per group: that group's input channels against its output channels
        _ref_weight_grad(x[:, g * w_shape[1]:(g + 1) * w_shape[1]], gy[:, g * (w_shape[0] // groups):
                         (g + 1) * (w_shape[0] // groups)], w_shape[2:], **{k: v for k, v in kwargs.items()
                                                                            if k != "groups"})
        for g in range(groups)])
    np.testing.assert_allclose(wt.grad.numpy(), ref_gw, rtol=1e-4, atol=1e-4)
    assert sorted(calls) == [("forward", True), ("input_grad", True), ("weight_grad", True)]


def _output_padding(x_shape, w_shape, y_shape, attrs):
    return tuple(x_shape[2 + a] + 2 * attrs["padding"][a] - attrs["dilation"][a] * (w_shape[2 + a] - 1) - 1
                 - (y_shape[2 + a] - 1) * attrs["stride"][a] for a in (0, 1))


@needs_onednn
def test_weight_gradient_of_a_cropped_output_gradient(calls):
    """conv_transpose2d's vjp asks for the weight gradient of an output gradient that covers fewer rows and
    columns than conv2d(x, w) has: oneDNN runs it with a negative right padding."""
    rng = np.random.default_rng(1)
    x, gy = rng.standard_normal((2, 4, 11, 11)), rng.standard_normal((2, 6, 4, 5))
    attrs = _attrs(dict(stride=2, padding=1))
    gw = conv._weight_grad_forward(np, x.astype(np.float32), gy.astype(np.float32), kernel_size=(3, 3), **attrs)
    padded = np.zeros((2, 6, 6, 6))  # conv2d(x, w) here is 6x6: the gradient's missing rows and columns are zeros
    padded[:, :, :4, :5] = gy
    np.testing.assert_allclose(gw, _ref_weight_grad(x, padded, (3, 3), stride=2, padding=1), rtol=1e-4, atol=1e-4)
    assert calls == [("weight_grad", True)]


@needs_onednn
@pytest.mark.parametrize("padding, side", [(1, 10), (0, 12)])
def test_conv_transpose2d_layer_with_output_padding(calls, padding, side):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 6, 5, 5)), rng.standard_normal((6, 4, 3, 3))
    y = ember.conv_transpose2d(ember.tensor(x.astype(np.float32)), ember.tensor(w.astype(np.float32)), stride=2,
                               padding=padding, output_padding=1)
    assert y.shape == (2, 4, side, side)
    np.testing.assert_allclose(y.numpy(), ref_conv_transpose2d(x, w, stride=2, padding=padding, output_padding=1),
                               rtol=1e-4, atol=1e-4)
    assert calls == [("input_grad", True)]


GEOMETRIES_3D = [  # (x shape, w shape, conv3d keywords)
    ((2, 4, 6, 7, 5), (6, 4, 3, 3, 3), dict(padding=1)),
    ((2, 4, 7, 6, 8), (6, 2, 3, 2, 3), dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1), groups=2)),
    ((2, 3, 6, 6, 6), (3, 1, 3, 3, 3), dict(stride=2, padding=1, groups=3)),  # depthwise; the input gradient pads
]


@needs_onednn
@pytest.mark.parametrize("x_shape, w_shape, kwargs", GEOMETRIES_3D)
def test_3d_convolutions_and_both_gradients_match_float64(calls, x_shape, w_shape, kwargs):
    """conv3d and its gradients in float32 (oneDNN's kernels) against float64 (the NumPy kernels), and
    conv_transpose3d, whose output_padding needs oneDNN's input gradient with a larger output."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])]
    results = {}
    for dtype in (np.float32, np.float64):
        x, w, b = (ember.tensor(a.astype(dtype), requires_grad=True) for a in arrays)
        y = ember.conv3d(x, w, b, **kwargs)
        (y * y).sum().backward()
        z = ember.conv_transpose3d(y.detach(), w.detach(), stride=2, padding=1, output_padding=1,
                                   groups=kwargs.get("groups", 1))
        results[dtype] = [y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy(), z.numpy()]
    for got, expected in zip(*results.values()):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    assert sorted(calls) == [("forward", True), ("input_grad", True), ("input_grad", True), ("weight_grad", True)]


@needs_onednn
def test_kernel_choice_keeps_numpy_where_it_is_faster(calls):
    rng = np.random.default_rng(3)
    f32 = np.float32
    # images no larger than the kernel: one dense product for a single output pixel, and on 2x2 images
    x = ember.tensor(rng.standard_normal((4, 16, 2, 2)).astype(f32), requires_grad=True)
    w = ember.tensor(rng.standard_normal((8, 16, 3, 3)).astype(f32), requires_grad=True)
    ember.conv2d(x, w, stride=2, padding=1).sum().backward()  # 1x1 outputs
    # float64 has no oneDNN kernel
    ember.conv2d(x.detach().double(), w.detach().double(), padding=1)
    ember.conv2d(x, w, padding=1).sum().backward()  # 2x2 outputs
    assert calls == []
    # 3x3 images under 3x3 kernels: oneDNN in all three directions
    x = ember.tensor(rng.standard_normal((4, 16, 3, 3)).astype(f32), requires_grad=True)
    ember.conv2d(x, w, padding=1).sum().backward()
    assert sorted(calls) == [("forward", True), ("input_grad", True), ("weight_grad", True)]
    calls.clear()
    # the input gradient over one image channel stays on NumPy; the forward and weight gradient do not
    x = ember.tensor(rng.standard_normal((4, 1, 12, 12)).astype(f32), requires_grad=True)
    w = ember.tensor(rng.standard_normal((6, 1, 5, 5)).astype(f32), requires_grad=True)
    ember.conv2d(x, w).sum().backward()
    assert sorted(calls) == [("forward", True), ("weight_grad", True)]


@needs_onednn
def test_turned_off_runs_numpy_and_gives_blas_its_threads_back(calls):
    x = ember.tensor(np.random.default_rng(4).standard_normal((2, 4, 8, 8)).astype(np.float32))
    w = ember.tensor(np.random.default_rng(5).standard_normal((4, 4, 3, 3)).astype(np.float32))
    try:
        onednn.set_enabled(False)
        blas_threads.set_outside_regions(2)
        expected = ember.conv2d(x, w).numpy()
        onednn.set_enabled(True)
        onednn.set_threads(2)
        got = ember.conv2d(x, w).numpy()
        if blas_threads.available():
            assert blas_threads.outside_regions() == 1  # oneDNN's threads took the cores
        onednn.set_enabled(False)
        if blas_threads.available():
            assert blas_threads.outside_regions() == 2
        assert calls == [("forward", True)]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    finally:
        onednn.set_threads(0)
        onednn.set_enabled(True)


@needs_onednn
def test_one_thread_inside_the_runtimes_parallel_regions(monkeypatch):
    counts = []
    lib, engine, stream, set_threads, default = onednn._state()
    monkeypatch.setattr(onednn, "_loaded", (lib, engine, stream, counts.append, default))
    x = ember.tensor(np.ones((2, 4, 8, 8), np.float32))
    w = ember.tensor(np.ones((4, 4, 3, 3), np.float32))
    onednn.set_threads(2)
    try:
        ember.conv2d(x, w)
        with blas_threads.single_threaded():
            ember.conv2d(x, w)
    finally:
        onednn.set_threads(0)
    assert counts == [2, 1]


def test_missing_library_says_how_to_install(monkeypatch):
    monkeypatch.setattr(onednn, "_library_paths", lambda: ["/nonexistent/libdnnl.so.3"])
    reason = onednn._load()
    assert isinstance(reason, str) and "pip install ember[onednn]" in reason


def test_without_onednn_convolutions_run_on_numpy(monkeypatch):
    monkeypatch.setattr(onednn, "_loaded", "not installed")
    assert not onednn.available() and not onednn.enabled() and onednn.unavailable_reason() == "not installed"
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3))
    y = ember.conv2d(ember.tensor(x.astype(np.float32)), ember.tensor(w.astype(np.float32)), padding=1)
    np.testing.assert_allclose(y.numpy(), ref_conv2d(x, w, padding=1), rtol=1e-4, atol=1e-4)


def test_set_threads_rejects_a_negative_count():
    with pytest.raises(ValueError, match="onednn.set_threads: count must be >= 0, got -1"):
        onednn.set_threads(-1)


@needs_onednn
def test_a_process_forked_after_a_convolution_still_convolves():
    """GNU OpenMP's pool does not survive a fork: the child runs on one thread instead of waiting forever."""
    script = (
        "import os, numpy as np, ember\n"
        "x, w = ember.ones(4, 8, 12, 12), ember.ones(8, 8, 3, 3)\n"
        "before = float(ember.conv2d(x, w).sum())\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(0 if float(ember.conv2d(x, w).sum()) == before else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert os.waitstatus_to_exitcode(status) == 0\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


POOLS = [  # (x shape, max_pool2d keywords)
    ((3, 2, 8, 6), dict(kernel_size=2)),
    ((2, 3, 9, 11), dict(kernel_size=3, stride=2, padding=1)),  # overlapping windows
    ((2, 2, 10, 9), dict(kernel_size=(2, 3), stride=2, ceil_mode=True)),
    ((1, 3, 11, 11), dict(kernel_size=2, stride=1, dilation=2)),
]


@needs_onednn
@pytest.mark.parametrize("shape, kwargs", POOLS)
def test_max_pooling_and_its_gradient_match_the_numpy_kernels_with_ties(calls, shape, kwargs):
    """Ties go to the first maximum in row-major order, as in the NumPy kernels and PyTorch."""
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, shape).astype(np.float32)  # many ties
    results = []
    for on in (True, False):
        onednn.set_enabled(on)
        try:
            xt = ember.tensor(x, requires_grad=True)
            y = ember.max_pool2d(xt, **kwargs)
            g = np.random.default_rng(10).standard_normal(y.shape).astype(np.float32)
            (y * ember.tensor(g)).sum().backward()
            results.append((y.detach().numpy(), xt.grad.numpy()))
        finally:
            onednn.set_enabled(True)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-6)
    # a recorded forward keeps oneDNN's workspace, and the gradient routes by it
    assert calls == [("max_pool_train", True), ("max_pool_backward", True)]


@needs_onednn
@pytest.mark.parametrize("shape, kwargs", [((4, 3, 8, 8), {"kernel_size": 2}),
                                           ((2, 3, 9, 11), {"kernel_size": 3, "stride": 2, "padding": 1})])
def test_the_gradient_from_the_forward_s_workspace_equals_the_one_from_the_input(calls, shape, kwargs):
    """The eager gradient (from the workspace its forward kept) against the gradient op run on the input, which
    pools it again (what a graph or a recorded backward runs), with many ties; and a forward without grad keeps
    nothing."""
    x = np.random.default_rng(11).integers(0, 3, shape).astype(np.float32)
    xt = ember.tensor(x, requires_grad=True)
    y = ember.max_pool2d(xt, **kwargs)
    g = np.random.default_rng(12).standard_normal(y.shape).astype(np.float32)
    y.backward(ember.tensor(g))
    attrs = pooling._pool_attrs("max_pool2d", kwargs["kernel_size"], kwargs.get("stride"), kwargs.get("padding", 0), 1)
    from_input = pooling.MAX_POOL2D_GRAD.forward(np, x, g, ceil_mode=False, **attrs)
    np.testing.assert_array_equal(xt.grad.numpy(), from_input)
    with ember.no_grad():
        ember.max_pool2d(ember.tensor(x), **kwargs)
    assert calls == [("max_pool_train", True), ("max_pool_backward", True), ("max_pool_grad", True),
                     ("max_pool", True)]


POOLS_3D = [  # (x shape, max_pool3d keywords)
    ((2, 3, 6, 8, 4), dict(kernel_size=2)),
    ((2, 2, 7, 6, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),  # overlapping windows
    ((2, 3, 7, 7, 6), dict(kernel_size=(2, 3, 2), stride=1, dilation=(2, 1, 2))),
]


@needs_onednn
@pytest.mark.parametrize("shape, kwargs", POOLS_3D)
def test_3d_max_pooling_and_its_gradient_match_the_numpy_kernels_with_ties(calls, shape, kwargs):
    x = np.random.default_rng(9).integers(0, 3, shape).astype(np.float32)  # many ties: the first maximum wins
    x[0, 0, 0, 0, 0] = np.nan  # in the second sample only: the first goes to NumPy, whose maximum keeps NaN
    results = []
    for on in (True, False):
        onednn.set_enabled(on)
        try:
            xt = ember.tensor(x[1:], requires_grad=True)
            y = ember.max_pool3d(xt, **kwargs)
            g = np.random.default_rng(10).standard_normal(y.shape).astype(np.float32)
            (y * ember.tensor(g)).sum().backward()
            results.append((y.detach().numpy(), xt.grad.numpy()))
        finally:
            onednn.set_enabled(True)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-6)
    assert calls == [("max_pool", True), ("max_pool_grad", True)]
    calls.clear()
    y = ember.max_pool3d(ember.tensor(x[:1]), **kwargs).numpy()
    assert np.isnan(y[0, 0, 0, 0, 0]) and calls == []


@needs_onednn
def test_max_pooling_keeps_nan_as_numpy_does(calls):
    """oneDNN's maximum skips NaN: inputs holding NaN take the NumPy kernels, whose maximum is NaN."""
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 0, 0] = np.nan
    y = ember.max_pool2d(ember.tensor(x), 2).numpy()
    assert np.isnan(y[0, 0, 0, 0]) and not np.isnan(y[0, 0, 1, 1]) and y[0, 1, 1, 1] == 31
    assert calls == []


@needs_onednn
def test_the_bias_is_added_inside_onednns_convolution(calls):
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((3, 4, 9, 9)), rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    bt = ember.tensor(b.astype(np.float32), requires_grad=True)
    y = ember.conv2d(ember.tensor(x.astype(np.float32)), ember.tensor(w.astype(np.float32)), bt, padding=1)
    np.testing.assert_allclose(y.detach().numpy(), ref_conv2d(x, w, b, padding=1), rtol=1e-4, atol=1e-4)
    gy = rng.standard_normal(y.shape)
    (y * ember.tensor(gy.astype(np.float32))).sum().backward()
    np.testing.assert_allclose(bt.grad.numpy(), gy.sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-4)
    assert calls == [("forward", True)]  # no input or weight gradient asked for


@needs_onednn
def test_relu_and_its_gradient_run_on_onednn_with_numpys_numbers(calls):
    """relu and its gradient from 2^18 elements run on oneDNN and give NumPy's max(x, 0) and g * (out > 0) bit for
    bit, -0.0, infinity and NaN in the gradient included; a NaN keeps them on NumPy."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((16, 64, 16, 16)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    x.reshape(-1)[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, -1.0]
    g.reshape(-1)[6:12] = [np.nan, np.inf, -np.inf, np.nan, np.inf, 1.0]
    x.reshape(-1)[6:12] = [-1.0, -2.0, 3.0, 4.0, 0.0, np.nan]
    for nan in (True, False):
        if not nan:
            x[np.isnan(x)] = 1.0
        xt = ember.tensor(x, requires_grad=True)
        y = ember.relu(xt)
        with np.errstate(invalid="ignore"):
            y.backward(ember.tensor(g))
            expected = g * (np.maximum(x, 0) > 0).astype(np.float32)
        np.testing.assert_array_equal(y.detach().numpy(), np.maximum(x, 0))
        np.testing.assert_array_equal(np.signbit(y.detach().numpy()), np.signbit(np.maximum(x, 0)))
        np.testing.assert_array_equal(xt.grad.numpy(), expected)
        # a NaN keeps both on NumPy's kernels: oneDNN's relu makes it 0, and its gradient there passes g
        assert calls == ([] if nan else [("relu", True), ("relu_grad", True)])


@needs_onednn
@pytest.mark.parametrize("kind, ufunc", [("add", np.add), ("sub", np.subtract), ("mul", np.multiply)])
@pytest.mark.parametrize("row_shape", [(64,), (4, 64), (1, 4, 64), (1, 1, 64)])
def test_binary_kernels_take_a_row_repeated_over_the_leading_axes_and_an_out_array(kind, ufunc, row_shape):
    """``onednn.binary`` of an array and a row of its last axes (any leading ones), new or into ``out`` (``a``
    itself too): NumPy's numbers bit for bit, NaN, infinities, signed zeros and subnormals included; a row of
    other axes or of fewer than 16 values, a strided operand or a strided ``out`` are not taken (None, ``out``
    unwritten)."""
    rng = np.random.default_rng(12)
    a = rng.standard_normal((8, 4, 64)).astype(np.float32)
    b = rng.standard_normal(row_shape).astype(np.float32)
    a.reshape(-1)[:6] = [np.nan, -0.0, np.inf, -np.inf, 1e-40, 3e38]
    b.reshape(-1)[:6] = [1.0, 0.0, -np.inf, -np.inf, 1e-40, 3e38]
    with np.errstate(all="ignore"):
        expected = ufunc(a, b)
        got = onednn.binary(kind, a, b)
        out = np.full_like(a, 7.0)
        into = onednn.binary(kind, a, b, out)
        in_place = a.copy()
        onednn.binary(kind, in_place, b, in_place)
    for result in (got, into, out, in_place):
        np.testing.assert_array_equal(result, expected)
        np.testing.assert_array_equal(np.signbit(result), np.signbit(expected))
    assert into is out
    column = rng.standard_normal((8, 4, 1)).astype(np.float32)
    strided_out = np.zeros((8, 4, 128), np.float32)[:, :, ::2]
    assert onednn.binary(kind, a, column) is None
    assert onednn.binary(kind, a, b.reshape(-1)[:64].reshape(1, 1, 1, 64)) is None  # NumPy's result: 4-d
    assert onednn.binary(kind, a[..., :8].copy(), b.reshape(-1)[:8].copy()) is None  # a short row: NumPy's loop
    assert onednn.binary(kind, a[:, :, ::2].copy(), b[..., ::2]) is None
    assert onednn.binary(kind, a, b, strided_out) is None and not strided_out.any()


@needs_onednn
def test_batch_norm_runs_its_large_passes_on_onednn_with_the_numbers_of_its_recorded_and_compiled_forms(calls):
    """A training batch norm of 2^18 float32 elements runs its elementwise passes (per-channel rows over x) on
    oneDNN's binary kernels, and its output and gradients equal, bit for bit, those of the recorded backward
    (create_graph) and of the compiled step, which compute with Ember ops."""
    rng = np.random.default_rng(13)
    x = rng.standard_normal((16, 64, 16, 16)).astype(np.float32) * 3 + 1
    g = rng.standard_normal(x.shape).astype(np.float32)
    weight = rng.standard_normal(64).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)

    def run(create_graph=False):
        xt, wt, bt = (ember.tensor(a, requires_grad=True) for a in (x, weight, bias))
        y = ember.nn.functional.batch_norm(xt, None, None, wt, bt, training=True)
        grads = ember.autograd.grad(y, (xt, wt, bt), ember.tensor(g), create_graph=create_graph)
        return [y.detach().numpy()] + [t.detach().numpy() for t in grads]

    eager = run()
    assert sum(kind in ("add", "sub", "mul") and ran for kind, ran in calls) >= 8
    for a, b in zip(eager, run(create_graph=True)):
        np.testing.assert_array_equal(a, b)

    @ember.jit
    def forward(xt, wt, bt):
        return ember.nn.functional.batch_norm(xt, None, None, wt, bt, training=True)

    compiled = forward(*(ember.tensor(a) for a in (x, weight, bias)))
    np.testing.assert_array_equal(compiled.numpy(), eager[0])


@needs_onednn
@pytest.mark.parametrize("kind, function, ufunc", [("add", ember.add, np.add), ("sub", ember.sub, np.subtract),
                                                   ("mul", ember.mul, np.multiply)])
def test_large_sums_differences_and_products_run_on_onednn_with_numpys_numbers(calls, kind, function, ufunc):
    """Two float32 arrays of one shape from 2^18 elements: oneDNN's elementwise kernel, bit for bit NumPy's (NaN,
    infinities, signed zeros and subnormals included); broadcasting, a strided operand or float64 stay on NumPy."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal((64, 64, 64)).astype(np.float32)
    b = rng.standard_normal(a.shape).astype(np.float32)
    a.reshape(-1)[:6] = [np.nan, -0.0, np.inf, -np.inf, 1e-40, 3e38]
    b.reshape(-1)[:6] = [1.0, 0.0, -np.inf, -np.inf, 1e-40, 3e38]
    with np.errstate(all="ignore"):
        got = function(ember.tensor(a), ember.tensor(b)).numpy()
        expected = ufunc(a, b)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))
    assert calls == [(kind, True)]
    calls.clear()
    for x, y in ((a, b[0]), (a, b.transpose(0, 2, 1)), (a.astype(np.float64), b.astype(np.float64))):
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(function(ember.tensor(x), ember.tensor(y)).numpy(), ufunc(x, y))
    assert calls == []

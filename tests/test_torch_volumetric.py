"""3-D (volumetric) convolution, pooling and normalization against PyTorch: values and gradients in float32 and
float64 over stride, padding, dilation and group combinations; the layers; errors; a small 3-D CNN that trains to
the same losses eagerly and under ember.jit; ONNX export checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import ember  # noqa: E402
from ember import nn  # noqa: E402
from ember.ops import ShapeError  # noqa: E402

# PyTorch warns that it copies the input for an even 'same' padding, as Ember does
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

TOLERANCE = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [np.float32, np.float64]


def _parity(ember_fn, torch_fn, shapes, dtype, seed=0):
    """Forward and the gradients of every input, for a random output gradient, against torch."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, expected = ember_fn(*ours), torch_fn(*theirs)
    assert y.shape == tuple(expected.shape)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), **TOLERANCE[dtype])
    gy = rng.standard_normal(y.shape).astype(dtype)
    (y * ember.tensor(gy)).sum().backward()
    (expected * torch.tensor(gy)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOLERANCE[dtype])


CONV3D = {
    "plain": ((2, 3, 5, 6, 4), (4, 3, 3, 3, 3), {}),
    "stride2_pad1": ((2, 3, 7, 6, 5), (4, 3, 3, 3, 3), {"stride": 2, "padding": 1}),
    "triples": ((1, 2, 6, 7, 8), (3, 2, 2, 3, 2), {"stride": (1, 2, 3), "padding": (1, 0, 1), "dilation": (2, 1, 2)}),
    "groups2_dilation": ((2, 4, 6, 6, 6), (6, 2, 3, 2, 3), {"padding": 2, "dilation": 2, "groups": 2}),
    "depthwise_stride2": ((2, 3, 5, 5, 5), (3, 1, 3, 3, 3), {"stride": 2, "padding": 1, "groups": 3}),
    "pointwise": ((2, 4, 3, 4, 5), (5, 4, 1, 1, 1), {}),
    "same_odd": ((2, 2, 5, 4, 6), (3, 2, 3, 3, 3), {"padding": "same"}),
    "same_even_dilation": ((2, 2, 5, 6, 4), (3, 2, 2, 3, 4), {"padding": "same", "dilation": (1, 2, 1)}),
    "valid": ((2, 2, 5, 4, 6), (3, 2, 3, 2, 3), {"padding": "valid", "stride": 2}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", sorted(CONV3D))
def test_conv3d_matches_torch(name, bias, dtype):
    x, w, kwargs = CONV3D[name]
    shapes = [x, w] + ([(w[0],)] if bias else [])
    _parity(lambda *t: ember.nn.functional.conv3d(*t, **kwargs), lambda *t: F.conv3d(*t, **kwargs), shapes, dtype)


CONV_TRANSPOSE3D = {
    "plain": ((2, 3, 3, 4, 3), (3, 2, 3, 3, 3), {}),
    "stride2_pad1_output_padding": ((2, 4, 3, 3, 4), (4, 3, 3, 3, 3),
                                    {"stride": 2, "padding": 1, "output_padding": 1}),
    "triples": ((1, 2, 3, 4, 3), (2, 3, 2, 3, 2), {"stride": (2, 1, 3), "padding": (1, 1, 0),
                                                   "output_padding": (1, 0, 2)}),
    "groups_dilation": ((2, 4, 3, 3, 3), (4, 2, 2, 3, 2), {"stride": (1, 2, 1), "groups": 2, "dilation": (2, 1, 2),
                                                           "output_padding": (1, 1, 1)}),
    "depthwise": ((2, 3, 4, 3, 3), (3, 1, 3, 3, 3), {"stride": 2, "padding": 1, "groups": 3}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", sorted(CONV_TRANSPOSE3D))
def test_conv_transpose3d_matches_torch(name, bias, dtype):
    x, w, kwargs = CONV_TRANSPOSE3D[name]
    shapes = [x, w] + ([(w[1] * kwargs.get("groups", 1),)] if bias else [])
    _parity(lambda *t: ember.nn.functional.conv_transpose3d(*t, **kwargs),
            lambda *t: F.conv_transpose3d(*t, **kwargs), shapes, dtype)


MAX_POOL3D = {
    "k2": (2, {}),
    "k3_s2_p1": (3, {"stride": 2, "padding": 1}),
    "ceil": ((3, 2, 3), {"stride": (2, 2, 3), "padding": (1, 0, 1), "ceil_mode": True}),
    "dilation": (2, {"stride": 1, "dilation": (2, 1, 2)}),
    "overlapping_ceil_dilation": ((3, 2, 2), {"stride": (2, 1, 1), "padding": 1, "dilation": (1, 2, 1),
                                              "ceil_mode": True}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MAX_POOL3D))
def test_max_pool3d_matches_torch(name, dtype):
    kernel, kwargs = MAX_POOL3D[name]
    _parity(lambda x: ember.nn.functional.max_pool3d(x, kernel, **kwargs), lambda x: F.max_pool3d(x, kernel, **kwargs),
            [(2, 3, 7, 6, 8)], dtype)


AVG_POOL3D = {
    "k2": (2, {}),
    "k3_s2_p1": (3, {"stride": 2, "padding": 1}),
    "exclude_pad": (3, {"stride": 2, "padding": 1, "count_include_pad": False}),
    "ceil": ((3, 2, 3), {"stride": (2, 3, 2), "padding": (1, 0, 1), "ceil_mode": True}),
    "ceil_exclude_pad": ((2, 3, 3), {"stride": (2, 2, 3), "padding": (1, 1, 0), "ceil_mode": True,
                                     "count_include_pad": False}),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(AVG_POOL3D))
def test_avg_pool3d_matches_torch(name, dtype):
    kernel, kwargs = AVG_POOL3D[name]
    _parity(lambda x: ember.nn.functional.avg_pool3d(x, kernel, **kwargs), lambda x: F.avg_pool3d(x, kernel, **kwargs),
            [(2, 3, 7, 6, 8)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, 2, (3, 4, 5), (None, 2, 3), (7, 5, 1)])
def test_adaptive_avg_pool3d_matches_torch(size, dtype):
    _parity(lambda x: ember.nn.functional.adaptive_avg_pool3d(x, size), lambda x: F.adaptive_avg_pool3d(x, size),
            [(2, 3, 7, 6, 8)], dtype)


def _layer_parity(ours, theirs, x_shape, dtype=np.float32):
    ours.to(dtype)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    theirs.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    _parity(ours, theirs, [x_shape], dtype)
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOLERANCE[dtype], err_msg=name)
    return ours, theirs


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv3d_layers_match_torch(dtype):
    ember.manual_seed(0)
    _layer_parity(nn.Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 2), dilation=(1, 1, 2), groups=2),
                  torch.nn.Conv3d(4, 6, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 2), dilation=(1, 1, 2), groups=2),
                  (2, 4, 5, 6, 7), dtype)
    _layer_parity(nn.Conv3d(3, 4, 4, padding="same", bias=False), torch.nn.Conv3d(3, 4, 4, padding="same", bias=False),
                  (2, 3, 5, 4, 6), dtype)
    _layer_parity(nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=(1, 0, 1), groups=2, dilation=1),
                  torch.nn.ConvTranspose3d(4, 6, 3, stride=2, padding=1, output_padding=(1, 0, 1), groups=2),
                  (2, 4, 3, 4, 3), dtype)


def test_conv3d_layer_initialization_matches_torch_statistics():
    # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias, fan_in = C_in/groups * kD * kH * kW
    ember.manual_seed(0)
    layer = nn.Conv3d(8, 16, 3, groups=2)
    assert layer.weight.shape == (16, 4, 3, 3, 3) and layer.bias.shape == (16,)
    bound = 1 / np.sqrt(4 * 27)
    weight, bias = np.abs(layer.weight.detach().numpy()), np.abs(layer.bias.detach().numpy())
    assert 0.9 * bound < weight.max() <= bound and bias.max() <= bound
    assert nn.ConvTranspose3d(4, 6, 2, groups=2).weight.shape == (4, 3, 2, 2, 2)


def test_pooling_layers_match_torch():
    for ours, theirs in [(nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True),
                          torch.nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True)),
                         (nn.MaxPool3d((2, 1, 2), dilation=(1, 1, 2)),
                          torch.nn.MaxPool3d((2, 1, 2), dilation=(1, 1, 2))),
                         (nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False),
                          torch.nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False)),
                         (nn.AdaptiveAvgPool3d((2, None, 3)), torch.nn.AdaptiveAvgPool3d((2, None, 3)))]:
        _parity(ours, theirs, [(2, 3, 5, 6, 7)], np.float32)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm3d_matches_torch_in_training_and_evaluation(affine):
    ember.manual_seed(0)
    ours, theirs = nn.BatchNorm3d(3, affine=affine), torch.nn.BatchNorm3d(3, affine=affine)
    for _ in range(2):
        _layer_parity(ours, theirs, (2, 3, 4, 3, 5))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5, atol=1e-6)
    ours.eval()
    theirs.eval()
    _parity(ours, theirs, [(2, 3, 4, 3, 5)], np.float32, seed=3)


@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm3d_matches_torch_batched_and_unbatched(affine):
    ember.manual_seed(0)
    ours = nn.InstanceNorm3d(3, affine=affine, track_running_stats=True)
    theirs = torch.nn.InstanceNorm3d(3, affine=affine, track_running_stats=True)
    _layer_parity(ours, theirs, (2, 3, 4, 3, 5))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    _parity(nn.InstanceNorm3d(3), torch.nn.InstanceNorm3d(3), [(3, 4, 3, 5)], np.float32)


def test_bad_input_names_the_op_argument_and_shapes():
    x, w = ember.randn(2, 3, 4, 4, 4), ember.randn(4, 3, 3, 3, 3)
    with pytest.raises(ShapeError, match=r"conv3d.*5-D.*\[3, 4, 4\]"):
        ember.conv3d(ember.randn(3, 4, 4), w)
    with pytest.raises(ShapeError, match=r"conv3d.*expects 6 input channels"):
        ember.conv3d(x, ember.randn(4, 6, 3, 3, 3))
    with pytest.raises(ShapeError, match=r"conv3d.*larger than the padded input size 4 along D"):
        ember.conv3d(x, ember.randn(4, 3, 5, 3, 3))
    with pytest.raises(TypeError, match=r"conv3d: stride must be an int or 3 ints, got \(1, 2\)"):
        ember.conv3d(x, w, stride=(1, 2))
    with pytest.raises(ValueError, match=r"conv3d: padding='same' needs stride 1"):
        ember.conv3d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"conv_transpose3d: output_padding \(2, 0, 0\) must be smaller"):
        ember.conv_transpose3d(x, ember.randn(3, 2, 3, 3, 3), stride=2, output_padding=(2, 0, 0))
    with pytest.raises(ShapeError, match=r"max_pool3d.*padding \(2, 2, 2\) must be at most half"):
        ember.max_pool3d(x, 3, padding=2)
    with pytest.raises(ShapeError, match=r"avg_pool3d.*5-D.*\[3, 4, 4\]"):
        ember.avg_pool3d(ember.randn(3, 4, 4), 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool3d: output_size must be an int or 3 values"):
        ember.adaptive_avg_pool3d(x, (2, 2))
    with pytest.raises(ValueError, match="BatchNorm3d: expected 5-D input"):
        nn.BatchNorm3d(3)(ember.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="ConvTranspose3d: only padding_mode='zeros'"):
        nn.ConvTranspose3d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ShapeError, match=r"max_pool3d.*5-D.*\[4, 4\]"):
        nn.MaxPool3d(2, return_indices=True)(ember.randn(4, 4))


def _cnn():
    return nn.Sequential(
        nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(4, 6, 3, stride=(1, 2, 1), padding=1, groups=2), nn.ReLU(),
        nn.ConvTranspose3d(6, 4, 2, stride=2), nn.AvgPool3d(2, padding=1, count_include_pad=False),
        nn.InstanceNorm3d(4, affine=True), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 3))


def _cnn_losses(traced: bool, steps: int = 4) -> list:
    ember.manual_seed(0)
    net = _cnn()
    opt = ember.optim.Adam(net.parameters(), lr=1e-2)
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((4, 2, 6, 8, 6)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 3, 4))

    def step(x, y):
        opt.zero_grad()
        loss = ember.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    run = ember.jit(step) if traced else step
    losses = [run(x, y).item() for _ in range(steps)]
    assert not traced or run.traces == 1
    return losses, net


def test_a_3d_cnn_trains_to_the_same_losses_eagerly_and_under_jit():
    # Adam's updates do not run over the flat arena, so no pass reorders arithmetic: the same bits
    eager, eager_net = _cnn_losses(traced=False)
    traced, traced_net = _cnn_losses(traced=True)
    assert traced == eager
    assert eager[-1] < eager[0]
    for a, b in zip(eager_net.parameters(), traced_net.parameters()):
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())


def test_3d_layers_export_to_onnx_and_match_onnxruntime(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv3d(2, 4, 3, stride=(1, 2, 1), padding=1, dilation=(2, 1, 1)), nn.BatchNorm3d(4),
                        nn.ReLU(), nn.MaxPool3d(3, stride=2, padding=1, ceil_mode=True),
                        nn.ConvTranspose3d(4, 4, 3, stride=2, padding=1, output_padding=(1, 0, 1), groups=2),
                        nn.AvgPool3d(2, padding=1, count_include_pad=False), nn.AdaptiveAvgPool3d(1))
    net.eval()
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 8, 6)).astype(np.float32)
    ember.onnx.export(net, [x], tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    with ember.no_grad():
        expected = net(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)

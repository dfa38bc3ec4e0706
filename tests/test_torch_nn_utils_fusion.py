"""``ember.nn.utils``'s fusion of eval-mode batch norms (conv and linear, modules and weights), ``skip_init``,
``convert_parameters``, the deprecated ``clip_grad_norm`` and ``nn.init``'s deprecated spellings, against PyTorch."""

import warnings

import numpy as np
import pytest
from parity_helpers import copy_to_torch

import ember
from ember import nn

torch = pytest.importorskip("torch")
TU = torch.nn.utils

RNG = np.random.default_rng(0)


def _randomize_bn(bn, tbn):
    """Running statistics and affine parameters away from their defaults, the same in both."""
    n = bn.num_features
    with ember.no_grad():
        bn.running_mean.array[...] = RNG.standard_normal(n)
        bn.running_var.array[...] = RNG.uniform(0.5, 2.0, n)
        if bn.weight is not None:
            bn.weight.array[...] = RNG.standard_normal(n)
            bn.bias.array[...] = RNG.standard_normal(n)
    copy_to_torch(bn, tbn)


def _pair(name, *args, **kwargs):
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    copy_to_torch(ours, theirs)
    return ours.eval(), theirs.eval()


CONV_CASES = [
    ("Conv1d", (3, 4, 3), "BatchNorm1d", (2, 3, 7), False, {}),
    ("Conv2d", (3, 4, 3), "BatchNorm2d", (2, 3, 6, 6), False, {}),
    ("Conv2d", (3, 4, 3), "BatchNorm2d", (2, 3, 6, 6), False, {"bias": False}),
    ("Conv2d", (4, 6, 3), "BatchNorm2d", (2, 4, 6, 6), False, {"groups": 2}),
    ("Conv3d", (2, 3, 2), "BatchNorm3d", (1, 2, 4, 4, 4), False, {}),
    ("ConvTranspose2d", (3, 4, 3), "BatchNorm2d", (2, 3, 5, 5), True, {}),
    ("ConvTranspose2d", (3, 4, 3), "BatchNorm2d", (2, 3, 5, 5), True, {"bias": False}),
]


@pytest.mark.parametrize("conv_name, conv_args, bn_name, x_shape, transpose, kwargs", CONV_CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_conv_bn_eval_equals_the_unfused_layers_and_pytorch(conv_name, conv_args, bn_name, x_shape, transpose,
                                                                 kwargs, affine):
    conv, tconv = _pair(conv_name, *conv_args, **kwargs)
    bn, tbn = _pair(bn_name, conv_args[1], affine=affine)
    _randomize_bn(bn, tbn)
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    tfused = TU.fuse_conv_bn_eval(tconv, tbn, transpose=transpose)
    x = RNG.standard_normal(x_shape).astype(np.float32)
    with ember.no_grad():
        np.testing.assert_allclose(fused(ember.tensor(x)).numpy(), bn(conv(ember.tensor(x))).numpy(), rtol=1e-5,
                                   atol=1e-5)
    np.testing.assert_allclose(fused.weight.detach().numpy(), tfused.weight.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fused.bias.detach().numpy(), tfused.bias.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert fused is not conv and (conv.bias is None) == (kwargs.get("bias") is False)
    assert type(fused.weight) is nn.Parameter and fused.weight.requires_grad == tfused.weight.requires_grad


@pytest.mark.parametrize("features", [4, 1])
def test_fuse_linear_bn_eval_equals_the_unfused_layers_and_pytorch(features):
    lin, tlin = _pair("Linear", 5, 4)
    bn, tbn = _pair("BatchNorm1d", features)
    _randomize_bn(bn, tbn)
    fused, tfused = nn.utils.fuse_linear_bn_eval(lin, bn), TU.fuse_linear_bn_eval(tlin, tbn)
    x = RNG.standard_normal((6, 5)).astype(np.float32)
    with ember.no_grad():
        expected = bn(lin(ember.tensor(x)).reshape(6, 1, 4) if features == 1 else lin(ember.tensor(x)))
        np.testing.assert_allclose(fused(ember.tensor(x)).numpy(), expected.numpy().reshape(6, 4), rtol=1e-5,
                                   atol=1e-5)
    for ours, theirs in ((fused.weight, tfused.weight), (fused.bias, tfused.bias)):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_fuse_weights_functions_as_pytorch():
    w, b = RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)
    rm, rv, g, beta = RNG.standard_normal(4), RNG.uniform(0.5, 2, 4), RNG.standard_normal(4), RNG.standard_normal(4)
    E = [ember.tensor(a, requires_grad=True) for a in (w, b)] + [ember.tensor(a) for a in (rm, rv, g, beta)]
    T = [torch.tensor(a, requires_grad=True) for a in (w, b)] + [torch.tensor(a) for a in (rm, rv, g, beta)]
    for ours, theirs in ((nn.utils.fuse_conv_bn_weights(E[0], E[1], E[2], E[3], 1e-3, E[4], E[5]),
                          TU.fuse_conv_bn_weights(T[0], T[1], T[2], T[3], 1e-3, T[4], T[5])),
                         (nn.utils.fuse_conv_bn_weights(E[0], None, E[2], E[3], 1e-5, None, None),
                          TU.fuse_conv_bn_weights(T[0], None, T[2], T[3], 1e-5, None, None)),
                         (nn.utils.fuse_linear_bn_weights(E[0].reshape(4, 27), E[1], E[2], E[3], 1e-5, E[4], E[5]),
                          TU.fuse_linear_bn_weights(T[0].reshape(4, 27), T[1], T[2], T[3], 1e-5, T[4], T[5]))):
        for a, t in zip(ours, theirs):
            assert isinstance(a, nn.Parameter) and a.requires_grad == t.requires_grad and a.dtype == np.float64
            np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_fusion_refuses_training_modules_and_mismatched_sizes():
    conv, tconv = _pair("Conv2d", 3, 4, 3)
    bn, tbn = _pair("BatchNorm2d", 4)
    bn.train()
    tbn.train()
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        TU.fuse_conv_bn_eval(tconv, tbn)
    with pytest.raises(ValueError, match="fuse_conv_bn_eval: Fusion only for eval!"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    lin, bn3 = nn.Linear(5, 4).eval(), nn.BatchNorm1d(3).eval()
    with pytest.raises(AssertionError, match="linear.out_features == bn.num_features"):
        TU.fuse_linear_bn_eval(torch.nn.Linear(5, 4).eval(), torch.nn.BatchNorm1d(3).eval())
    with pytest.raises(ValueError, match=r"linear.out_features == bn.num_features .*\(got 4 and 3\)"):
        nn.utils.fuse_linear_bn_eval(lin, bn3)
    with pytest.raises(ValueError, match="no running statistics"):
        nn.utils.fuse_conv_bn_eval(conv, nn.BatchNorm2d(4, track_running_stats=False).eval())
    with pytest.raises(ValueError, match=r"shape \[4, 3, 3, 3\] has no 5 output channels"):
        nn.utils.fuse_conv_bn_eval(conv, nn.BatchNorm2d(5).eval())


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_skip_init_leaves_the_generator_alone(lib):
    lib.manual_seed(0)
    expected = lib.rand(3).tolist()
    lib.manual_seed(0)
    layer = lib.nn.utils.skip_init(lib.nn.Linear, 4, 3, bias=False)
    assert lib.rand(3).tolist() == expected
    assert tuple(layer.weight.shape) == (3, 4) and layer.bias is None and layer.weight.requires_grad


def test_skip_init_values_and_errors():
    bn = nn.utils.skip_init(nn.BatchNorm1d, 3)
    assert all(float(t.abs().sum().item()) == 0.0 for t in (*bn.parameters(), *bn.buffers()))
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Expected a Module"):
            lib.nn.utils.skip_init(int)

    class NoDevice(nn.Module):
        def __init__(self, n):
            super().__init__()

    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        nn.utils.skip_init(NoDevice, 2)


def test_convert_parameters_and_deprecated_clip_grad_norm():
    lin = nn.Linear(3, 2)
    assert nn.utils.convert_parameters.parameters_to_vector is nn.utils.parameters_to_vector
    vec = nn.utils.convert_parameters.parameters_to_vector(lin.parameters())
    nn.utils.convert_parameters.vector_to_parameters(vec * 2, lin.parameters())
    np.testing.assert_allclose(nn.utils.parameters_to_vector(lin.parameters()).detach().numpy(),
                               vec.detach().numpy() * 2)
    with pytest.raises(TypeError, match="expected a Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], lin.parameters())
    grads = RNG.standard_normal(4)
    p, tp = nn.Parameter(ember.tensor(grads)), torch.nn.Parameter(torch.tensor(grads))
    p.grad, tp.grad = ember.tensor(grads), torch.tensor(grads)
    with pytest.warns(FutureWarning) as ours:
        norm = nn.utils.clip_grad_norm([p], 1.0)
    with pytest.warns(FutureWarning) as theirs:
        tnorm = TU.clip_grad_norm([tp], 1.0)
    assert str(ours[0].message) == str(theirs[0].message).replace("torch", "ember")
    np.testing.assert_allclose(norm.item(), tnorm.item())
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy())
    assert nn.utils.clip_grad.clip_grad_norm_ is nn.utils.clip_grad_norm_


DEPRECATED_INIT = [("constant", (0.5,)), ("dirac", ()), ("eye", ()), ("kaiming_normal", ()), ("kaiming_uniform", ()),
                   ("normal", ()), ("orthogonal", ()), ("sparse", (0.5,)), ("uniform", ()), ("xavier_normal", ()),
                   ("xavier_uniform", ())]


@pytest.mark.parametrize("name, args", DEPRECATED_INIT)
def test_deprecated_init_spellings_warn_as_pytorch_and_call_the_underscored(name, args):
    shape = (3, 3, 3) if name == "dirac" else (4, 6)
    ember.manual_seed(0)
    expected = getattr(nn.init, name + "_")(ember.empty(*shape), *args).numpy().copy()
    ember.manual_seed(0)
    t = ember.empty(*shape)
    with pytest.warns(FutureWarning) as ours:
        result = getattr(nn.init, name)(t, *args)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        getattr(torch.nn.init, name)(torch.empty(*shape), *args)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs if w.category is FutureWarning]
    assert result is t
    np.testing.assert_array_equal(t.numpy(), expected)

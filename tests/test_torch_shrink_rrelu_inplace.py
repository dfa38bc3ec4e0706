"""Hardshrink, Softshrink, Tanhshrink, Threshold, RReLU and the in-place activations (``F.relu_``..., ``inplace=True``)
against torch.nn: values, gradients, train/eval behaviour, reprs, and ``ember.jit``."""

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# values on the thresholds themselves (+-0.5, 0.25) as well as off them: the gradient there is PyTorch's 0
_X = np.array([[-2.0, -0.5, -0.3, 0.0, 0.25, 0.5, 0.7, 3.0]])


def _compare(ours_fn, torch_fn, x=_X, rtol=1e-12):
    weights = np.random.default_rng(1).standard_normal(x.shape)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours_fn(ours), torch_fn(theirs)
    np.testing.assert_allclose(y.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-15)
    (y * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("name,args", [("Hardshrink", ()), ("Hardshrink", (0.25,)), ("Softshrink", ()),
                                       ("Softshrink", (0.25,)), ("Tanhshrink", ()), ("Threshold", (0.25, -3.0)),
                                       ("Threshold", (0.0, 0.0))])
def test_shrink_and_threshold_modules_match_torch(name, args):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    _compare(ours, theirs)


@pytest.mark.parametrize("name,kwargs", [("hardshrink", {"lambd": 0.3}), ("softshrink", {"lambd": 0.3}),
                                         ("tanhshrink", {}), ("threshold", {"threshold": 0.5, "value": 9.0})])
def test_functional_forms_match_torch(name, kwargs):
    _compare(lambda x: getattr(F, name)(x, **kwargs), lambda x: getattr(TF, name)(x, **kwargs))


@pytest.mark.parametrize("name,kwargs", [("hardshrink", {"lambd": 0.3}), ("softshrink", {"lambd": 0.3}),
                                         ("threshold", {"threshold": 0.5, "value": 9.0})])
def test_nan_and_infinities_pass_through_with_torchs_gradient_and_signed_zeros(name, kwargs):
    # a NaN fails every comparison: it was shrunk to 0 (or replaced by the threshold's value) where PyTorch keeps it
    x = np.array([[np.nan, np.inf, -np.inf, -0.2, -3.0, 0.1]])
    _compare(lambda t: getattr(F, name)(t, **kwargs), lambda t: getattr(TF, name)(t, **kwargs), x)
    y = getattr(F, name)(ember.tensor(x), **kwargs).numpy()
    assert np.array_equal(np.signbit(y), np.signbit(getattr(TF, name)(torch.tensor(x), **kwargs).numpy()))


def test_top_level_and_tensor_method_names_match_torch():
    x = ember.tensor(_X)
    np.testing.assert_array_equal(x.hardshrink(0.4).numpy(), torch.tensor(_X).hardshrink(0.4).numpy())
    np.testing.assert_array_equal(ember.hardshrink(x).numpy(), torch.hardshrink(torch.tensor(_X)).numpy())
    np.testing.assert_array_equal(ember.threshold(x, 0.1, 7.0).numpy(),
                                  torch.threshold(torch.tensor(_X), 0.1, 7.0).numpy())
    np.testing.assert_allclose(ember.rrelu(x).numpy(), torch.rrelu(torch.tensor(_X)).numpy(), rtol=1e-12)
    ints = ember.tensor([-2, 0, 3])
    assert ember.threshold(ints, 0, 5).dtype == ember.int64
    np.testing.assert_array_equal(ember.threshold(ints, 0, 5).numpy(), [5, 5, 3])


def test_softshrink_and_rrelu_refuse_bad_arguments():
    with pytest.raises(ValueError, match="softshrink: lambd"):
        F.softshrink(ember.tensor(_X), -0.1)
    with pytest.raises(ValueError, match="Softshrink: lambd"):
        nn.Softshrink(-1.0)
    with pytest.raises(ValueError, match=r"rrelu: lower \(0.5\) must be <= upper \(0.25\)"):
        F.rrelu(ember.tensor(_X), 0.5, 0.25)
    with pytest.raises(ValueError, match="RReLU: lower"):
        nn.RReLU(0.5, 0.25)


def test_hardtanh_refuses_min_val_above_max_val_as_torch():
    # min_val 2, max_val -1 gave 2 for every element above 2 and -1 for the rest, silently
    for fn in (F.hardtanh, F.hardtanh_, ember.hardtanh):
        with pytest.raises(ValueError, match=r"hardtanh: min_val \(2.0\) cannot be greater than max_val \(-1.0\)"):
            fn(ember.tensor(_X), 2.0, -1.0)
    x = ember.tensor(_X)
    np.testing.assert_array_equal(F.hardtanh(x, 0.5, 0.5).numpy(), TF.hardtanh(torch.tensor(_X), 0.5, 0.5).numpy())


def test_hardtanh_and_relu6_keep_an_integer_dtype_with_truncated_bounds_as_torch():
    # an int64 input came back float32 with the bounds themselves ([0.5, 0.5, 0.5, 2.0, 3.5] for torch's [0 0 0 2 3]),
    # and hardtanh_ of an integer tensor refused to cast that float32 result back
    x = np.array([-3, -1, 0, 2, 5, 9])
    for dtype in (np.int64, np.int32, np.int8):
        for args in ((), (-1, 2), (-1.5, 2.5), (0.5, 3.5)):
            ours = F.hardtanh(ember.tensor(x.astype(dtype)), *args)
            theirs = TF.hardtanh(torch.tensor(x.astype(dtype)), *args)
            assert ours.numpy().dtype == dtype
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        ours, theirs = ember.tensor(x.astype(dtype)), torch.tensor(x.astype(dtype))
        F.relu6(ours, inplace=True), TF.relu6(theirs, inplace=True)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        ours, theirs = ember.tensor(x.astype(dtype)), torch.tensor(x.astype(dtype))
        F.hardtanh_(ours, -1.5, 2.5), TF.hardtanh_(theirs, -1.5, 2.5)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match=r"hardtanh: bounds \[-1000.0, 1000.0\] do not fit the input's dtype int8"):
        F.hardtanh(ember.tensor(x.astype(np.int8)), -1000.0, 1000.0)


def test_threshold_keeps_an_integer_dtype_with_truncated_numbers_as_torch():
    # a float threshold or value on an integer input gave float32 ([7.5 7.5 7.5 -2 ...] for torch's int64 [7 7 7 7 ...]:
    # -2.5 truncates to -2, so -2 is replaced too)
    x = np.arange(-4, 5)
    for dtype in (np.int64, np.int32, np.int8):
        for args in ((-2.5, 7.5), (2.5, -7.9), (2, 7)):
            ours = F.threshold(ember.tensor(x.astype(dtype)), *args)
            theirs = TF.threshold(torch.tensor(x.astype(dtype)), *args)
            assert ours.numpy().dtype == dtype
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours, theirs = ember.tensor(x), torch.tensor(x)
    F.threshold_(ours, 1.5, 9.9), TF.threshold_(theirs, 1.5, 9.9)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match=r"threshold: threshold 2 and value 300 must fit the input's dtype int8"):
        F.threshold(ember.tensor(x.astype(np.int8)), 2.0, 300.0)


def test_rrelu_in_eval_is_leaky_relu_at_the_mean_slope_as_torch():
    ours, theirs = nn.RReLU(0.1, 0.3).eval(), torch.nn.RReLU(0.1, 0.3).eval()
    assert repr(ours) == repr(theirs) == "RReLU(lower=0.1, upper=0.3)"
    _compare(ours, theirs)
    _compare(lambda x: F.rrelu(x, 0.2, 0.4), lambda x: TF.rrelu(x, 0.2, 0.4))


def test_rrelu_in_training_draws_a_slope_per_element_and_differentiates_through_it():
    x = np.random.default_rng(0).standard_normal((200, 50))
    x[0, :3] = 0.0  # PyTorch scales x <= 0 by the slope, so 0's gradient is its slope
    ours = ember.tensor(x, requires_grad=True)
    layer = nn.RReLU(0.1, 0.3)
    out = layer(ours)
    out.sum().backward()
    y = out.detach()
    slope = y.numpy()[x < 0] / x[x < 0]
    assert slope.min() >= 0.1 and slope.max() < 0.3 and abs(slope.mean() - 0.2) < 0.005 and slope.std() > 0.05
    np.testing.assert_array_equal(y.numpy()[x > 0], x[x > 0])
    grad = ours.grad.numpy()
    np.testing.assert_allclose(grad[x < 0], slope, rtol=1e-12)
    np.testing.assert_array_equal(grad[x > 0], 1.0)
    assert np.all((grad[0, :3] >= 0.1) & (grad[0, :3] < 0.3))
    # torch's slopes follow the same law: compare the moments of the two samples
    theirs = torch.nn.RReLU(0.1, 0.3)(torch.tensor(x)).detach().numpy()
    their_slope = theirs[x < 0] / x[x < 0]
    assert abs(their_slope.mean() - slope.mean()) < 0.01 and abs(their_slope.std() - slope.std()) < 0.01
    assert not np.array_equal(layer(ember.tensor(x)).numpy(), y.numpy())  # a new draw per call


def test_rrelu_training_traces_under_jit_with_a_new_draw_per_call():
    layer = nn.RReLU()
    x = -ember.ones(4, 6)
    traced = ember.jit(lambda x: layer(x))
    first, second = traced(x).numpy(), traced(x).numpy()
    assert not np.array_equal(first, second)
    assert np.all((-first >= 1 / 8) & (-first < 1 / 3))
    layer.eval()
    np.testing.assert_allclose(ember.jit(lambda x: layer(x))(x).numpy(), -(1 / 8 + 1 / 3) / 2, rtol=1e-6)


_IN_PLACE = [("relu_", (), {}), ("elu_", (0.5,), {}), ("celu_", (0.7,), {}), ("selu_", (), {}),
             ("leaky_relu_", (0.2,), {}), ("hardtanh_", (-0.4, 0.6), {}), ("threshold_", (0.25, -1.0), {}),
             ("rrelu_", (0.1, 0.3), {})]


@pytest.mark.parametrize("name,args,kwargs", _IN_PLACE)
def test_in_place_functions_write_into_their_input_as_torch(name, args, kwargs):
    ours, theirs = ember.tensor(_X), torch.tensor(_X)
    result = getattr(F, name)(ours, *args, **kwargs)
    expected = getattr(TF, name)(theirs, *args, **kwargs)
    assert result is ours and expected is theirs
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["relu_", "selu_", "celu_", "threshold_", "rrelu_"])
def test_top_level_in_place_functions_match_torch(name):
    args = (0.25, -1.0) if name == "threshold_" else ()
    ours, theirs = ember.tensor(_X), torch.tensor(_X)
    assert getattr(ember, name)(ours, *args) is ours
    getattr(torch, name)(theirs, *args)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_in_place_functions_refuse_a_leaf_that_requires_grad_as_torch():
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        F.relu_(ember.tensor(_X, requires_grad=True))
    with pytest.raises(RuntimeError):
        TF.relu_(torch.tensor(_X, requires_grad=True))


_MODULES = [("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.2,)), ("ELU", (0.5,)), ("CELU", (0.5,)), ("SELU", ()),
            ("Hardtanh", (-0.4, 0.6)), ("SiLU", ()), ("Mish", ()), ("Hardsigmoid", ()), ("Hardswish", ()),
            ("Threshold", (0.25, -1.0)), ("RReLU", (0.1, 0.3))]


@pytest.mark.parametrize("name,args", _MODULES)
def test_inplace_modules_write_into_their_input_as_torch(name, args):
    ours, theirs = getattr(nn, name)(*args, inplace=True).eval(), getattr(torch.nn, name)(*args, inplace=True).eval()
    assert repr(ours) == repr(theirs)
    x, expected_x = ember.tensor(_X), torch.tensor(_X)
    assert ours(x) is x
    theirs(expected_x)
    np.testing.assert_allclose(x.numpy(), expected_x.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name,args", _MODULES[:-1])
def test_inplace_modules_train_through_a_gradient_with_torch_values(name, args):
    # Ember does not record in-place writes: where a gradient flows the layer returns a new tensor, same values
    ours, theirs = getattr(nn, name)(*args, inplace=True), getattr(torch.nn, name)(*args, inplace=True)
    # (torch's hardsigmoid gradient multiplies by 1/6 rounded to float32)
    _compare(lambda x: ours(x * 1.0), lambda x: theirs(x * 1.0), rtol=1e-7)


@pytest.mark.parametrize("name,args", [("relu", ()), ("relu6", ()), ("elu", (0.5,)), ("leaky_relu", (0.2,)),
                                       ("hardtanh", (-0.4, 0.6)), ("silu", ()), ("mish", ()), ("hardswish", ()),
                                       ("hardsigmoid", ()), ("selu", ()), ("celu", (0.5,)),
                                       ("threshold", (0.25, -1.0)), ("rrelu", (0.1, 0.3))])
def test_functional_inplace_argument_writes_into_the_input_as_torch(name, args):
    ours, theirs = ember.tensor(_X), torch.tensor(_X)
    assert getattr(F, name)(ours, *args, inplace=True) is ours
    getattr(TF, name)(theirs, *args, inplace=True)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15)
    fresh = ember.tensor(_X)
    assert getattr(F, name)(fresh, *args) is not fresh
    np.testing.assert_array_equal(fresh.numpy(), _X)


def test_inplace_layers_and_shrinks_trace_under_jit():
    layers = nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Hardshrink(0.1), nn.Softshrink(0.05),
                           nn.Tanhshrink(), nn.Threshold(0.01, -1.0, inplace=True))
    x = ember.randn(3, 4)
    traced = ember.jit(lambda x: layers(x))
    np.testing.assert_allclose(traced(x).numpy(), layers(x).detach().numpy(), rtol=1e-5, atol=1e-7)


_ACTIVATIONS = ("ReLU", "ReLU6", "Hardtanh", "SiLU", "Mish", "SELU", "Hardsigmoid", "ELU", "CELU", "Softmax",
                "LogSoftmax", "Softmin", "Hardshrink", "Softshrink")


@pytest.mark.parametrize("name", _ACTIVATIONS)
def test_activation_classes_are_related_as_torchs(name):
    """``isinstance(m, nn.ReLU)`` held for SiLU, Mish, SELU, Hardsigmoid and ReLU6, ``nn.Softmax`` for LogSoftmax
    and Softmin (so code that picks modules by class, a fuser or a probabilities check, took them for those):
    each class is now a subclass of the same others as in torch.nn, ReLU6 of Hardtanh (with its bounds)."""
    for other in _ACTIVATIONS:
        assert issubclass(getattr(nn, name), getattr(nn, other)) == \
            issubclass(getattr(torch.nn, name), getattr(torch.nn, other)), other
    relu6 = nn.ReLU6(inplace=True)
    assert (relu6.min_val, relu6.max_val, repr(relu6)) == (0.0, 6.0, "ReLU6(inplace=True)")

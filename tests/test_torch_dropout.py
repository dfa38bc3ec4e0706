"""Dropout1d/2d/3d, AlphaDropout and FeatureAlphaDropout and their functions against torch.nn: the masks' shapes per
input rank (with PyTorch's warnings), the values kept and dropped, gradients, train/eval, reprs and ``ember.jit``."""

import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _channel_constant(y: np.ndarray, lead: int) -> bool:
    return bool((y == y[(slice(None),) * lead + (slice(0, 1),) * (y.ndim - lead)]).all())


@pytest.mark.parametrize("name,shape,lead", [("dropout1d", (4, 16, 5), 2), ("dropout1d", (16, 5), 1),
                                             ("dropout2d", (4, 16, 3, 3), 2), ("dropout2d", (16, 3, 3), 2),
                                             ("dropout3d", (2, 16, 2, 3, 3), 2), ("dropout3d", (16, 2, 3, 3), 1),
                                             ("dropout2d", (4, 16, 3, 3, 3), 2), ("dropout3d", (16, 6, 5), 1),
                                             ("dropout3d", (16, 6), 1)])
def test_channel_dropouts_draw_one_value_per_channel_for_each_rank_as_torch(name, shape, lead):
    ember.manual_seed(0)
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        y = getattr(F, name)(ember.ones(*shape), 0.5).numpy()
    with warnings.catch_warnings(record=True) as their_warned:
        warnings.simplefilter("always")
        expected = getattr(TF, name)(torch.ones(*shape), 0.5).numpy()
    assert len(ours_warned) == len(their_warned)
    assert all(issubclass(w.category, UserWarning) and name in str(w.message) for w in ours_warned)
    for out in (y, expected):
        assert set(np.unique(out)) == {0.0, 2.0}
        assert _channel_constant(out, lead) and not _channel_constant(out, lead - 1)


def test_dropout2d_of_a_3d_input_drops_per_sample_and_channel_as_torch():
    # regression: Ember took a 3-D input as (C, H, W), one draw per channel shared by every sample
    ember.manual_seed(1)
    with pytest.warns(UserWarning, match=r"dropout2d: a 3-D input .* taken as \(N, C, L\)"):
        y = nn.Dropout2d()(ember.ones(8, 6, 50)).numpy()
    assert _channel_constant(y, 2) and not _channel_constant(y, 1)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_channel_dropout_mask_does_not_take_nan_from_the_input():
    # regression: the mask was built as x[..., :1, :1] * 0 + 1, so an inf there made the whole channel NaN
    x = np.ones((2, 3, 4, 4))
    x[:, :, 0, 0] = np.inf
    y = nn.Dropout2d(0.5)(ember.tensor(x)).numpy()
    assert set(np.unique(y[:, :, 1:, 1:])) <= {0.0, 2.0}


def test_channel_dropouts_refuse_and_validate_as_torch():
    with pytest.raises(ValueError, match=r"dropout1d: expected \(N, C, L\) or \(C, L\) inputs, got shape \[2, 3,"):
        F.dropout1d(ember.ones(2, 3, 4, 5))
    with pytest.raises(RuntimeError):
        TF.dropout1d(torch.ones(2, 3, 4, 5))
    for name in ("dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"):
        with pytest.raises(ValueError, match=rf"{name}: p must be in \[0, 1\], got 1.5"):
            getattr(F, name)(ember.ones(2, 3, 4, 5, 6)[..., 0, 0] if name == "dropout1d" else ember.ones(2, 3, 4, 5),
                             1.5)
    for cls in ("Dropout3d", "AlphaDropout", "FeatureAlphaDropout"):
        with pytest.raises(ValueError, match=rf"{cls}: p must be in \[0, 1\]"):
            getattr(nn, cls)(-0.1)
    with pytest.raises(ValueError, match=r"feature_alpha_dropout: .* at least 2 dimensions, got shape \[3\]"):
        F.feature_alpha_dropout(ember.ones(3), 0.5, True)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_alpha_dropout_takes_the_two_values_torch_takes_and_keeps_mean_and_variance(p):
    ours = np.unique(F.alpha_dropout(ember.ones(64, 64, dtype=ember.float64), p, True).numpy())
    theirs = np.unique(TF.alpha_dropout(torch.ones(64, 64, dtype=torch.float64), p, True).numpy())
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    x = np.random.default_rng(0).standard_normal(400_000)
    y = F.alpha_dropout(ember.tensor(x), p, True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1.0) < 0.02


def test_alpha_dropout_gradient_is_the_scaled_keep_mask():
    p = 0.3
    x = ember.tensor(np.random.default_rng(0).standard_normal((50, 40)), requires_grad=True)
    y = nn.AlphaDropout(p)(x)
    y.sum().backward()
    a = 1.0 / np.sqrt((1.7580993408473766 ** 2 * p + 1) * (1 - p))
    dropped = np.isclose(y.detach().numpy(), -a * 1.7580993408473766 * (1 - p))
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0.0, a), rtol=1e-14)
    assert abs(dropped.mean() - p) < 0.05


def test_feature_alpha_dropout_drops_whole_channels_with_torch_values():
    ours = F.feature_alpha_dropout(ember.ones(8, 16, 3, 3, dtype=ember.float64), 0.5, True).numpy()
    theirs = TF.feature_alpha_dropout(torch.ones(8, 16, 3, 3, dtype=torch.float64), 0.5, True).numpy()
    assert _channel_constant(ours, 2) and not _channel_constant(ours, 1)
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-14)


@pytest.mark.filterwarnings("ignore:dropout2d")
@pytest.mark.parametrize("name", ["AlphaDropout", "FeatureAlphaDropout", "Dropout3d", "Dropout2d", "Dropout1d"])
def test_dropout_modules_match_torch_in_eval_and_at_the_extremes(name):
    ours, theirs = getattr(nn, name)(0.25), getattr(torch.nn, name)(0.25)
    assert repr(ours) == repr(theirs)
    assert repr(getattr(nn, name)(0.5, inplace=True)) == repr(getattr(torch.nn, name)(0.5, inplace=True))
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5, 6)[:3 if name == "Dropout1d" else 5])
    np.testing.assert_array_equal(ours.eval()(ember.tensor(x)).numpy(), theirs.eval()(torch.tensor(x)).numpy())
    zero = getattr(nn, name)(1.0)(ember.tensor(x)).numpy()
    np.testing.assert_array_equal(zero, getattr(torch.nn, name)(1.0)(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(getattr(nn, name)(0.0)(ember.tensor(x)).numpy(), x)


@pytest.mark.filterwarnings("ignore:dropout2d")
@pytest.mark.parametrize("name", ["dropout", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"])
def test_functional_dropouts_write_into_the_input_with_inplace(name):
    ember.manual_seed(0)
    x = ember.ones(2, 3, 4, 5, 6)
    y = getattr(F, name)(x, 0.5, True, inplace=True)
    assert y is x and set(np.unique(x.numpy())) != {1.0}
    fresh = ember.ones(2, 3, 4, 5, 6)
    assert getattr(F, name)(fresh, 0.5, True) is not fresh and (fresh.numpy() == 1.0).all()


def test_dropouts_trace_under_jit_with_a_new_mask_per_call():
    layers = nn.Sequential(nn.Dropout3d(0.5), nn.FeatureAlphaDropout(0.3), nn.AlphaDropout(0.2))
    traced = ember.jit(lambda x: layers(x))
    x = ember.ones(2, 8, 2, 3, 3)
    first, second = traced(x).numpy(), traced(x).numpy()
    assert first.shape == (2, 8, 2, 3, 3) and not np.array_equal(first, second)
    layers.eval()
    np.testing.assert_array_equal(ember.jit(lambda x: layers(x))(x).numpy(), x.numpy())


@pytest.mark.filterwarnings("ignore:dropout2d")
@pytest.mark.parametrize("name", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                  "FeatureAlphaDropout"])
def test_dropout_modules_with_inplace_write_into_their_input_in_training(name):
    x = ember.ones(2, 8, 3, 3, 3)[:, :, 0, 0] if name == "Dropout1d" else ember.ones(2, 8, 3, 3, 3)
    assert getattr(nn, name)(0.5, inplace=True)(x) is x and set(np.unique(x.numpy())) != {1.0}
    fresh = ember.ones(2, 8, 3, 3, 3)[:, :, 0, 0] if name == "Dropout1d" else ember.ones(2, 8, 3, 3, 3)
    assert getattr(nn, name)(0.5)(fresh) is not fresh and (fresh.numpy() == 1.0).all()


def test_dropout_of_an_integer_tensor_scales_the_kept_values_as_the_channel_dropouts():
    # the scaled keep mask took the integer dtype, 1 / (1 - 0.4) truncated to 1: kept 3s stayed 3 (the mean fell by
    # 40%) where dropout1d gave 5.0; PyTorch refuses an integer input in training, Ember computes in floats
    ember.manual_seed(0)
    x = ember.tensor(np.full((4, 50), 3))
    for y in (F.dropout(x, 0.4, True), nn.Dropout(0.4)(x)):
        assert y.dtype == ember.float32
        assert set(np.unique(y.numpy())) == {0.0, 5.0}
    assert F.dropout(x, 0.4, False) is x
    with pytest.raises(RuntimeError, match="dropout: result type float32 cannot be cast to the tensor's dtype int64"):
        F.dropout(x, 0.4, True, True)

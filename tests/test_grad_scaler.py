"""``ember.amp.GradScaler``: scaled losses, unscaled gradients, skipped steps on inf/NaN gradients and the
growth/backoff schedule, compared with ``torch.amp.GradScaler`` where installed; and float16 training."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.amp import GradScaler

try:
    import torch
except ImportError:  # the PyTorch comparisons are skipped
    torch = None

# inputs per step; an inf makes every gradient of that step infinite, so the step is skipped
STEPS = [1.0, 2.0, np.inf, -1.0, 0.5, np.nan, 3.0, 1.5]


def _run(lib, scaler):
    """Eight SGD steps of one model under `scaler`, in Ember or PyTorch (the same API)."""
    w = lib.tensor(np.array([0.5, -0.25, 1.0], np.float32), requires_grad=True)
    opt = lib.optim.SGD([w], lr=0.1)
    scales, weights = [], []
    for s in STEPS:
        x = lib.tensor(np.array([s, 2 * s, -s], np.float32))
        opt.zero_grad()
        loss = ((w * x) ** 2).sum() * 0.5
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        weights.append(w.detach().numpy().copy())
    return scales, weights


def _ember_run(scaler_args):
    scaler = GradScaler(**scaler_args)
    return (*_run(ember, scaler), scaler)


def _torch_run(scaler_args):
    return _run(torch, torch.amp.GradScaler("cpu", **scaler_args))


ARGS = {"init_scale": 2.0 ** 10, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2}


def test_skips_overflowing_steps_and_adjusts_the_scale():
    scales, weights, _ = _ember_run(ARGS)
    # finite, finite (grow), inf (back off, skipped), finite, finite (grow), nan (back off, skipped), ...
    assert scales == [2.0 ** 10, 2.0 ** 11, 2.0 ** 10, 2.0 ** 10, 2.0 ** 11, 2.0 ** 10, 2.0 ** 10, 2.0 ** 11]
    np.testing.assert_array_equal(weights[2], weights[1])  # skipped
    np.testing.assert_array_equal(weights[5], weights[4])
    assert not np.array_equal(weights[3], weights[2])
    assert all(np.isfinite(w).all() for w in weights)


def test_updates_equal_unscaled_sgd():
    _, weights, _ = _ember_run(ARGS)
    w = np.array([0.5, -0.25, 1.0], np.float64)
    for s, got in zip(STEPS, weights):
        x = np.array([s, 2 * s, -s])
        if np.isfinite(x).all():
            w = w - 0.1 * (w * x) * x
        np.testing.assert_allclose(got, w, rtol=1e-5)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_matches_torch_grad_scaler():
    scales, weights, scaler = _ember_run(ARGS)
    torch_scales, torch_weights = _torch_run(ARGS)
    assert scales == torch_scales
    for a, b in zip(weights, torch_weights):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    reference = torch.amp.GradScaler("cpu", **ARGS)
    assert set(scaler.state_dict()) == set(reference.state_dict())


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("args", [
    {"init_scale": 1000.0, "growth_factor": 1.7, "backoff_factor": 0.3, "growth_interval": 1},
    {"init_scale": 3.0, "growth_factor": 1.1, "backoff_factor": 0.9, "growth_interval": 2},
    {"init_scale": 2.0 ** 120, "growth_factor": 2.0 ** 10, "backoff_factor": 0.5, "growth_interval": 1},
], ids=["1.7-0.3", "1.1-0.9", "past-float32"])
def test_scale_is_kept_in_float32_as_torch(args):
    """torch's scale is a float32 tensor: each growth and backoff rounds to float32, a growth past float32's range
    is not taken, and the gradients are divided by the float32 reciprocal (Ember kept a float64 scale)."""
    scales, weights, scaler = _ember_run(args)
    torch_scales, torch_weights = _torch_run(args)
    assert scales == torch_scales
    for a, b in zip(weights, torch_weights):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    reference = torch.amp.GradScaler("cpu", **args)
    reference.load_state_dict(scaler.state_dict())
    assert reference.state_dict() == scaler.state_dict()


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_a_zero_dim_float16_loss_is_scaled_in_float32_as_torch():
    """torch multiplies by its float32 scale tensor: a 0-d float16 loss gives a float32 product, where Ember's
    float16 product overflowed to inf at the default scale 2**16."""
    loss = np.array(0.75, np.float16)
    ours = GradScaler().scale(ember.tensor(loss))
    theirs = torch.amp.GradScaler("cpu").scale(torch.tensor(loss))
    assert ours.dtype == ember.float32 and theirs.dtype == torch.float32
    assert ours.item() == theirs.item() == 0.75 * 2.0 ** 16


def test_float16_gradients_are_refused_as_torch():
    w = ember.tensor(np.array([1.0, 2.0], np.float16), requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    w.grad = ember.tensor(np.array([1.0, 1.0], np.float16))
    scaler = GradScaler()
    scaler.scale(w.sum())
    with pytest.raises(ValueError, match="unscale float16 gradients"):
        scaler.unscale_(opt)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_bfloat16_gradients_unscale_in_float32_as_torch():
    """torch multiplies a bfloat16 gradient by the float32 inverse scale and rounds once; the inverse rounded to
    bfloat16 first (1/3) put about a third of the gradients one bfloat16 step off."""
    grads = np.random.default_rng(1).normal(size=1000).astype(np.float32)
    unscaled = []
    for lib in (ember, torch):
        w = lib.nn.Parameter(lib.zeros(1000, dtype=lib.bfloat16))
        opt = lib.optim.SGD([w], lr=1.0)
        scaler = GradScaler(init_scale=3.0) if lib is ember else torch.amp.GradScaler("cpu", init_scale=3.0)
        scaler.scale(lib.ones(()))
        w.grad = lib.tensor(grads).to(lib.bfloat16)
        scaler.unscale_(opt)
        assert w.grad.dtype == lib.bfloat16
        unscaled.append(w.grad.float().numpy())
    np.testing.assert_array_equal(*unscaled)


def test_unscale_then_clip_then_step_unscales_once():
    w = ember.tensor(np.array([3.0, 4.0], np.float32), requires_grad=True)
    opt = ember.optim.SGD([w], lr=1.0)
    scaler = GradScaler(init_scale=256.0)
    scaler.scale((w * w).sum()).backward()
    scaler.unscale_(opt)
    np.testing.assert_allclose(w.grad.numpy(), [6.0, 8.0])
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    ember.nn.utils.clip_grad_norm_([w], 1.0)
    scaler.step(opt)
    np.testing.assert_allclose(w.detach().numpy(), [3.0 - 0.6, 4.0 - 0.8], rtol=1e-5)
    with pytest.raises(RuntimeError, match="step has already been called"):
        scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == 256.0


def test_a_gradient_shared_by_two_parameters_is_unscaled_once():
    a = ember.tensor(np.array([1.0], np.float32), requires_grad=True)
    b = ember.tensor(np.array([2.0], np.float32), requires_grad=True)
    opt = ember.optim.SGD([a, b], lr=1.0)
    scaler = GradScaler(init_scale=8.0)
    scaler.scale((a + b).sum()).backward()  # add's backward hands the same gradient to both
    scaler.unscale_(opt)
    np.testing.assert_allclose(a.grad.numpy(), [1.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0])


def test_disabled_scaler_passes_through_and_state_round_trip():
    w = ember.tensor(np.array([1.0], np.float32), requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.5)
    off = GradScaler(enabled=False)
    loss = (w * 2.0).sum()
    assert off.scale(loss) is loss and off.get_scale() == 1.0 and off.state_dict() == {}
    loss.backward()
    off.step(opt)
    off.update()
    np.testing.assert_allclose(w.detach().numpy(), [0.0])
    _, _, scaler = _ember_run(ARGS)
    restored = GradScaler()
    restored.load_state_dict(scaler.state_dict())
    assert restored.state_dict() == scaler.state_dict()


def test_bad_arguments_are_named():
    for kwargs, name in (({"init_scale": 0.0}, "init_scale"), ({"growth_factor": 1.0}, "growth_factor"),
                         ({"backoff_factor": 1.5}, "backoff_factor"), ({"growth_interval": 0}, "growth_interval"),
                         ({"device": "tpu"}, "device")):
        with pytest.raises(ValueError, match=name):
            GradScaler(**kwargs)
    with pytest.raises(RuntimeError, match="no step"):
        GradScaler().update()
    with pytest.raises(TypeError, match="Tensor"):
        GradScaler().scale(3.0)


def test_a_step_without_scaled_gradients_is_refused_as_torch():
    # step() and unscale_() on a scaler whose scale() was never called divided the unscaled gradients by 65536
    # and stepped (w moved 1.5e-6 for 0.1); PyTorch asserts, as an optimizer without gradients does
    w = ember.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    unused = ember.tensor(np.array([3.0], np.float32), requires_grad=True)
    opt, idle = ember.optim.SGD([w], lr=0.1), ember.optim.SGD([unused], lr=0.1)
    (w * w).sum().backward()
    scaler = GradScaler()
    for call in (scaler.step, scaler.unscale_):
        with pytest.raises(RuntimeError, match="scale\\(\\) was never called"):
            call(opt)
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])
    scaler.scale(ember.ones(()))
    with pytest.raises(RuntimeError, match="no inf checks were recorded for this optimizer"):
        scaler.step(idle)  # (its unscale_ ran: a second is refused, as torch's)
    with pytest.raises(RuntimeError, match="no step"):
        scaler.update()
    scaler.step(opt)
    scaler.update()  # (the optimizer with gradients counts)
    np.testing.assert_allclose(w.detach().numpy(), [1.0 - 0.2 / 65536, 2.0 - 0.4 / 65536])
    if torch is not None:
        tw = torch.tensor([1.0, 2.0], requires_grad=True)
        (tw * tw).sum().backward()
        with pytest.raises(AssertionError, match="_scale is None"):
            torch.amp.GradScaler("cpu").step(torch.optim.SGD([tw], lr=0.1))
        tscaler = torch.amp.GradScaler("cpu")
        tscaler.scale(torch.ones(()))
        with pytest.raises(AssertionError, match="No inf checks were recorded for this optimizer"):
            tscaler.step(torch.optim.SGD([torch.tensor([3.0], requires_grad=True)], lr=0.1))


def test_float16_training_with_autocast_and_scaler():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 240)
    centers = np.array([[1.0, 0.0], [-0.5, 0.9], [-0.5, -0.9]])
    x = (centers[labels] + rng.normal(0, 0.3, (240, 2))).astype(np.float32)
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(2, 32), ember.nn.ReLU(), ember.nn.Linear(32, 3))
    opt = ember.optim.Adam(model.parameters(), lr=0.02)
    scaler = GradScaler(init_scale=2.0 ** 16, growth_interval=20)
    xt, yt = ember.tensor(x), ember.tensor(labels)
    for _ in range(80):
        opt.zero_grad()
        with ember.autocast("cpu", dtype=ember.float16):
            loss = F.cross_entropy(model(xt), yt)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    assert all(p.dtype == ember.float32 and p.grad.dtype == ember.float32 for p in model.parameters())
    with ember.no_grad(), ember.autocast("cpu", dtype=ember.float16):
        accuracy = float((model(xt).numpy().argmax(1) == labels).mean())
    assert accuracy >= 0.95, accuracy


@pytest.mark.parametrize("inside", ["scale", "step"])
def test_a_scaler_inside_a_traced_step_is_a_clear_error(inside):
    net = ember.nn.Linear(3, 2)
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler()
    scaler.scale(ember.ones(()))  # (an eager step ran before)

    @ember.jit
    def step(x):
        optimizer.zero_grad()
        with ember.autocast("cpu", dtype=ember.float16):
            loss = net(x).float().sum()
        (scaler.scale(loss) if inside == "scale" else loss).backward()
        scaler.step(optimizer)

    method = "scale" if inside == "scale" else "unscale_"
    with pytest.raises(TypeError, match=f"GradScaler.{method}: called inside ember.jit"):
        step(ember.ones(4, 3))

"""ember.optim.swa_utils against torch.optim.swa_utils: AveragedModel (the equal-weight default, avg_fn,
multi_avg_fn, use_buffers), SWALR's lrs, update_bn's statistics, and errors."""

import numpy as np
import pytest

import ember
from ember import nn, optim
from ember.optim import swa_utils

torch = pytest.importorskip("torch")
tswa = torch.optim.swa_utils


def _models():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    ours = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    _copy(theirs, ours)
    return ours, theirs


def _copy(theirs, ours):
    for (name, value), (our_name, target) in zip(theirs.state_dict().items(), ours.state_dict(keep_vars=True).items()):
        assert name == our_name
        target.array[...] = value.numpy()


def _train_a_little(ours, theirs, seed: int) -> None:
    """One SGD step of both models on one batch (their BatchNorm buffers move too)."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((8, 4)).astype(np.float32), rng.integers(0, 2, 8)
    for model, lib, ce in ((ours, ember, ember.cross_entropy), (theirs, torch, torch.nn.functional.cross_entropy)):
        model.train()
        loss = ce(model(lib.tensor(x)), lib.tensor(y))
        loss.backward()
        for p in model.parameters():
            if lib is torch:
                with torch.no_grad():
                    p -= 0.3 * p.grad
                p.grad = None
            else:
                p.array[...] -= 0.3 * p.grad.array
                p.grad = None


AVERAGES = {
    "swa": ({}, {}),
    "ema_avg_fn": ({"avg_fn": swa_utils.get_ema_avg_fn(0.8)}, {"avg_fn": tswa.get_ema_avg_fn(0.8)}),
    "swa_avg_fn": ({"avg_fn": swa_utils.get_swa_avg_fn()}, {"avg_fn": tswa.get_swa_avg_fn()}),
    "ema_multi": ({"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.9)},
                  {"multi_avg_fn": tswa.get_ema_multi_avg_fn(0.9)}),
    "swa_multi": ({"multi_avg_fn": swa_utils.get_swa_multi_avg_fn()},
                  {"multi_avg_fn": tswa.get_swa_multi_avg_fn()}),
}


@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("average", list(AVERAGES))
def test_averaged_model_matches_torch(average, use_buffers):
    if average == "swa_multi" and use_buffers:
        pytest.skip("torch's swa multi_avg_fn refuses the integer num_batches_tracked buffer (addcdiv)")
    ours, theirs = _models()
    our_kwargs, their_kwargs = AVERAGES[average]
    averaged = swa_utils.AveragedModel(ours, use_buffers=use_buffers, **our_kwargs)
    expected = tswa.AveragedModel(theirs, use_buffers=use_buffers, **their_kwargs)
    for step in range(6):
        _train_a_little(ours, theirs, step)
        averaged.update_parameters(ours)
        expected.update_parameters(theirs)
    state, expected_state = averaged.state_dict(), expected.state_dict()
    assert list(state) == list(expected_state)
    for key, value in expected_state.items():
        assert state[key].dtype == value.numpy().dtype, key
        np.testing.assert_allclose(state[key].numpy(), value.numpy(), rtol=2e-6, atol=1e-7, err_msg=key)
    assert averaged.n_averaged.item() == 6
    x = np.random.default_rng(9).standard_normal((3, 4)).astype(np.float32)
    averaged.eval()
    expected.eval()
    np.testing.assert_allclose(averaged(ember.tensor(x)).detach().numpy(), expected(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("average", ["ema_multi", "swa_multi"])
def test_float16_and_bfloat16_multi_averages_round_as_torch(average, dtype):
    """The lerp of get_ema_multi_avg_fn and get_swa_multi_avg_fn on float16 and bfloat16 parameters: in float32 with
    one fused multiply-add, rounded once, as torch's (NumPy rounded the difference and the product too: 30% to 55%
    of the elements off after 6 averages)."""
    import ml_dtypes

    narrow = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16
    ours, theirs = nn.Linear(64, 67).to(getattr(ember, dtype)), torch.nn.Linear(64, 67).to(getattr(torch, dtype))
    our_kwargs, their_kwargs = AVERAGES[average]
    averaged, expected = swa_utils.AveragedModel(ours, **our_kwargs), tswa.AveragedModel(theirs, **their_kwargs)
    rng = np.random.default_rng(4)
    for _ in range(6):
        for p, t in zip(ours.parameters(), theirs.parameters()):
            value = rng.standard_normal(tuple(t.shape)).astype(np.float32)
            p.array[...] = value.astype(narrow)
            t.data.copy_(torch.tensor(value))
        averaged.update_parameters(ours)
        expected.update_parameters(theirs)
    for p, t in zip(averaged.module.parameters(), expected.module.parameters()):
        assert p.dtype == narrow
        np.testing.assert_array_equal(p.detach().numpy().astype(np.float32), t.detach().float().numpy())


def test_the_averaged_model_is_a_copy_that_the_model_does_not_share():
    ours, _ = _models()
    averaged = swa_utils.AveragedModel(ours)
    averaged.update_parameters(ours)
    before = ours[0].weight.array.copy()
    ours[0].weight.array[...] += 1.0
    np.testing.assert_array_equal(averaged.module[0].weight.array, before)


SCHEDULES = [
    {"swa_lr": 0.05},
    {"swa_lr": 0.05, "anneal_epochs": 3, "anneal_strategy": "linear"},
    {"swa_lr": 0.2, "anneal_epochs": 0},
    {"swa_lr": [0.01, 0.3], "anneal_epochs": 4},
    {"swa_lr": 0.05, "anneal_epochs": 1, "anneal_strategy": "linear"},
]


@pytest.mark.parametrize("kwargs", SCHEDULES)
def test_swalr_sets_torchs_lrs(kwargs):
    def groups(lib, module):
        params = [lib.zeros(2, requires_grad=True), lib.zeros(3, requires_grad=True)]
        return [{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}]

    opt = optim.SGD(groups(ember, nn), lr=0.1)
    ref = torch.optim.SGD(groups(torch, torch.nn), lr=0.1)
    sched, ref_sched = swa_utils.SWALR(opt, **kwargs), tswa.SWALR(ref, **kwargs)
    for _ in range(14):
        np.testing.assert_allclose(sched.get_last_lr(), ref_sched.get_last_lr(), rtol=1e-12)
        assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in ref.param_groups]
        opt.step()
        ref.step()
        sched.step()
        ref_sched.step()


def test_swalr_after_a_cosine_schedule_in_a_training_loop_as_torch():
    ours, theirs = _models()
    opt, ref = optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    swa_sched, ref_swa = swa_utils.SWALR(opt, swa_lr=0.02, anneal_epochs=2), tswa.SWALR(ref, swa_lr=0.02,
                                                                                          anneal_epochs=2)
    averaged, expected = swa_utils.AveragedModel(ours), tswa.AveragedModel(theirs)
    for epoch in range(5):
        _train_a_little(ours, theirs, 10 + epoch)
        averaged.update_parameters(ours)
        expected.update_parameters(theirs)
        opt.step()  # the gradients were spent already: a step of nothing, in the order schedulers expect
        ref.step()
        swa_sched.step()
        ref_swa.step()
        assert swa_sched.get_last_lr() == pytest.approx(ref_swa.get_last_lr(), rel=1e-12)
    for p, t in zip(averaged.parameters(), expected.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("batch_as_tuple", [False, True])
def test_update_bn_recomputes_the_statistics_as_torch(batch_as_tuple):
    ours, theirs = _models()
    rng = np.random.default_rng(4)
    batches = [rng.standard_normal((n, 4)).astype(np.float32) * 3 + 1 for n in (8, 5, 11)]
    loader = [(ember.tensor(b), 0) if batch_as_tuple else ember.tensor(b) for b in batches]
    their_loader = [(torch.tensor(b), 0) if batch_as_tuple else torch.tensor(b) for b in batches]
    ours.eval()
    theirs.eval()
    swa_utils.update_bn(loader, ours)
    tswa.update_bn(their_loader, theirs)
    assert not ours.training and ours[1].momentum == 0.1
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_update_bn_of_an_averaged_model_and_a_model_without_batch_norm():
    ours, _ = _models()
    averaged = swa_utils.AveragedModel(ours)
    averaged.update_parameters(ours)
    swa_utils.update_bn([ember.randn(6, 4)], averaged)
    assert averaged.module[1].num_batches_tracked.item() == 1 and averaged.training
    plain = nn.Sequential(nn.Linear(4, 2), nn.InstanceNorm1d(2, track_running_stats=True))
    before = plain.state_dict()["1.running_mean"].numpy().copy()
    swa_utils.update_bn([ember.randn(6, 2, 3)], plain)  # instance norms are left alone, as torch
    np.testing.assert_array_equal(plain.state_dict()["1.running_mean"].numpy(), before)


def test_averaged_model_under_jit_evaluates_its_averaged_copy():
    ours, _ = _models()
    averaged = swa_utils.AveragedModel(ours)
    averaged.update_parameters(ours)
    averaged.eval()
    traced = ember.jit(lambda x: averaged(x))
    x = ember.randn(3, 4)
    np.testing.assert_allclose(traced(x).numpy(), averaged(x).detach().numpy(), rtol=1e-6)


def _sgd():
    return optim.SGD([ember.zeros(2, requires_grad=True)], lr=0.1)


ERRORS = [
    (lambda: swa_utils.AveragedModel(nn.Linear(2, 2), avg_fn=swa_utils.get_swa_avg_fn(),
                                     multi_avg_fn=swa_utils.get_swa_multi_avg_fn()), ValueError,
     "AveragedModel: give avg_fn or multi_avg_fn, not both"),
    (lambda: swa_utils.AveragedModel(ember.zeros(2)), TypeError, "AveragedModel: model must be a Module, got Tensor"),
    (lambda: swa_utils.AveragedModel(nn.Linear(2, 2)).update_parameters(nn.Linear(3, 2)), ValueError,
     "AveragedModel.update_parameters: the model's 2 tensors do not match"),
    (lambda: swa_utils.SWALR(_sgd(), 0.05, anneal_strategy="exp"), ValueError,
     "SWALR: anneal_strategy must be 'cos' or 'linear', got 'exp'"),
    (lambda: swa_utils.SWALR(_sgd(), 0.05, anneal_epochs=-1), ValueError,
     "SWALR: anneal_epochs must be an int >= 0, got -1"),
    (lambda: swa_utils.SWALR(_sgd(), [0.05, 0.01]), ValueError, "SWALR: swa_lr has 2 values for 1 param groups"),
    (lambda: swa_utils.SWALR(_sgd(), "0.05"), ValueError, "SWALR: swa_lr must be a number >= 0, got '0.05'"),
]


@pytest.mark.parametrize("call,error,message", ERRORS)
def test_bad_arguments_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()

"""Rprop and ASGD against torch.optim: steps and state on given gradients (float32, and float64 to rounding),
20-step trajectories of a small model from torch's initial weights, eager and under ``ember.jit``, state_dict
round trips and validation."""

import numpy as np
import pytest
from parity_helpers import step_optimizers_side_by_side, train_models_side_by_side

import ember
from ember import nn, optim

torch = pytest.importorskip("torch")

SHAPES = [(13, 7), (5,), ()]

CASES = [
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    ("Rprop", {"lr": 0.02, "maximize": True, "foreach": False}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 4, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.02, "t0": 0, "maximize": True, "foreach": False}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def _data(seed: int, steps: int, dtype):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    # gradients that often keep their sign, so Rprop's step sizes grow as well as shrink
    drift = [rng.standard_normal(s) for s in SHAPES]
    grads = [[(d + 0.7 * rng.standard_normal(s)).astype(dtype) for d, s in zip(drift, SHAPES)] for _ in range(steps)]
    grads[3][1][:] = 0  # a zero gradient leaves the step size as it is
    return start, grads


def _run_both(name: str, kwargs: dict, dtype, steps: int):
    return step_optimizers_side_by_side(name, kwargs, *_data(3, steps, dtype))


def _number(value):
    return value.item() if hasattr(value, "item") else value


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_float32_steps_and_state_match_torch(name, kwargs):
    ours, theirs, opt, ref = _run_both(name, kwargs, np.float32, 30)
    for p, t in zip(ours, theirs):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert sorted(opt.state[p]) == sorted(ref.state[t])
        for key, value in ref.state[t].items():
            if key == "step":
                assert opt.state[p][key] == int(value)
            elif key in ("eta", "mu"):
                assert opt.state[p][key] == _number(value), key
            else:
                np.testing.assert_allclose(opt.state[p][key], value.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


def test_rprop_leaves_an_element_with_a_nan_gradient_as_torch():
    """torch's sign of NaN is 0, so a NaN gradient element does not move (it made the parameter NaN for good)."""
    nan, inf = np.nan, np.inf
    grads = [np.array([1.0, nan, inf, -inf, 0.0, 1.0], np.float32),
             np.array([1.0, 1.0, 1.0, 1.0, nan, -1.0], np.float32)]
    ours, theirs = ember.ones(6, requires_grad=True), torch.ones(6, requires_grad=True)
    opt, ref = optim.Rprop([ours]), torch.optim.Rprop([theirs])
    for g in (grads[0], grads[1], grads[1]):
        ours.grad, theirs.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    assert not np.isnan(ours.array).any()
    np.testing.assert_allclose(ours.array, theirs.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_float64_steps_match_torch_to_rounding(name, kwargs):
    ours, theirs, _, _ = _run_both(name, kwargs, np.float64, 30)
    for p, t in zip(ours, theirs):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-13, atol=1e-14)


def _batches(count: int):
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)) for _ in range(count)]


def _step(net, opt, x, y):
    opt.zero_grad()
    loss = ember.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
@pytest.mark.parametrize("traced", [False, True], ids=["eager", "jit"])
def test_a_model_trains_as_torchs_for_20_steps(name, kwargs, traced):
    step = train_models_side_by_side(name, kwargs, traced, rtol=1e-4, atol=1e-5)
    if traced:
        assert step.traces == 1


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_a_traced_step_equals_the_eager_step(name, kwargs):
    batches = [(ember.tensor(x), ember.tensor(y)) for x, y in _batches(12)]

    def build():
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
        return net, getattr(optim, name)(net.parameters(), **kwargs)

    eager_net, eager_opt = build()
    net, opt = build()
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    for x, y in batches:
        assert step(x, y).item() == _step(eager_net, eager_opt, x, y).item()
        for a, b in zip(eager_net.parameters(), net.parameters()):
            np.testing.assert_array_equal(b.array, a.array)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_continues_the_trajectory(name, kwargs):
    start, grads = _data(5, 16, np.float32)
    first = [ember.tensor(a, requires_grad=True) for a in start]
    opt = getattr(optim, name)(first, **kwargs)
    for step_grads in grads[:8]:
        for p, g in zip(first, step_grads):
            p.grad = ember.tensor(g)
        opt.step()
    second = [ember.tensor(p.array.copy(), requires_grad=True) for p in first]
    restored = getattr(optim, name)(second, **kwargs)
    restored.load_state_dict(opt.state_dict())
    assert restored.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for step_grads in grads[8:]:
        for p, q, g in zip(first, second, step_grads):
            p.grad, q.grad = ember.tensor(g), ember.tensor(g)
        opt.step()
        restored.step()
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p.array, q.array)
        for key, value in opt.state[p].items():
            np.testing.assert_array_equal(restored.state[q][key], value)


VALIDATION = [
    (optim.Rprop, {"lr": -1.0}, ValueError, "Rprop: lr must be >= 0, got -1.0"),
    (optim.Rprop, {"etas": (1.2, 0.5)}, ValueError, r"Rprop: etas must satisfy 0 < etaminus < 1 < etaplus, got "
                                                    r"\(1.2, 0.5\)"),
    (optim.Rprop, {"etas": (0.5,)}, ValueError, r"Rprop: etas must be a pair, got \(0.5,\)"),
    (optim.Rprop, {"step_sizes": (1.0, 0.1)}, ValueError, "Rprop: step_sizes must be"),
    (optim.Rprop, {"step_sizes": (1e-6, "50")}, TypeError, r"Rprop: step_sizes\[1\] must be a real number"),
    (optim.ASGD, {"lr": -0.1}, ValueError, "ASGD: lr must be >= 0, got -0.1"),
    (optim.ASGD, {"weight_decay": -1}, ValueError, "ASGD: weight_decay must be >= 0, got -1"),
    (optim.ASGD, {"t0": None}, TypeError, "ASGD: t0 must be a real number, got None"),
]


@pytest.mark.parametrize("cls,kwargs,error,message", VALIDATION)
def test_bad_hyper_parameters_are_refused_by_name(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls([ember.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("rule", [optim.rprop_update, optim.asgd_update], ids=lambda r: r.__name__)
def test_rules_take_zero_dim_parameters_and_are_elementwise(rule):
    p, state = np.array(1.0, np.float32), {}
    vector, vector_state = np.ones(1, np.float32), {}
    for i in range(8):
        g = np.array((-1.0) ** (i // 3) * 0.5, np.float32)
        rule(p, g, state, lr=0.1)
        rule(vector, g.reshape(1), vector_state, lr=0.1)
    assert p.shape == () and p == vector[0]
    assert all(getattr(v, "shape", ()) == () for v in state.values())
    assert rule.elementwise and rule.foreach is None and rule.sgd_form is None

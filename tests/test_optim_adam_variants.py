"""Adamax, NAdam and RAdam against torch.optim (float32, and float64 to rounding), state_dict round trips,
validation, and traced (``ember.jit``) steps against eager ones."""


import numpy as np
import pytest
from parity_helpers import step_optimizers_side_by_side

import ember
from ember import nn, optim

SHAPES = [(13, 7), (5,), ()]

CASES = [
    ("Adamax", {"lr": 0.01}),
    ("Adamax", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "maximize": True}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("NAdam", {"lr": 0.02, "betas": (0.6, 0.95), "eps": 1e-6}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {"lr": 0.02, "betas": (0.5, 0.9), "eps": 1e-6}),  # rho_t passes 5 at the seventh step
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]


def _data(seed: int, steps: int, dtype=np.float32):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return start, grads


def _run_both(name: str, kwargs: dict, dtype, steps: int):
    pytest.importorskip("torch")
    return step_optimizers_side_by_side(name, kwargs, *_data(3, steps, dtype))


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_float32_steps_and_state_match_torch(name, kwargs):
    ours, theirs, opt, ref = _run_both(name, kwargs, np.float32, 40)
    for p, t in zip(ours, theirs):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-5, atol=1e-6)
        for key, value in ref.state[t].items():
            expected = value.numpy() if hasattr(value, "numpy") else value
            if key == "step":
                assert opt.state[p][key] == int(expected)
            else:
                np.testing.assert_allclose(opt.state[p][key], expected, rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_float64_steps_match_torch_to_rounding(name, kwargs):
    ours, theirs, _, _ = _run_both(name, kwargs, np.float64, 30)
    for p, t in zip(ours, theirs):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=1e-13, atol=1e-14)


def _step(net, opt, x, y):
    opt.zero_grad()
    loss = ember.cross_entropy(net(x), y)
    loss.backward()
    opt.step()
    return loss


@pytest.mark.parametrize("name,kwargs", CASES, ids=IDS)
def test_a_traced_step_equals_the_eager_step(name, kwargs):
    rng = np.random.default_rng(0)
    xs = [ember.tensor(rng.standard_normal((8, 6)).astype(np.float32)) for _ in range(12)]
    ys = [ember.tensor(rng.integers(0, 3, 8)) for _ in range(12)]

    def build():
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
        return net, getattr(optim, name)(net.parameters(), **kwargs)

    eager_net, eager_opt = build()
    net, opt = build()
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    for x, y in zip(xs, ys):
        assert step(x, y).item() == _step(eager_net, eager_opt, x, y).item()
        for a, b in zip(eager_net.parameters(), net.parameters()):
            np.testing.assert_array_equal(b.array, a.array)
    assert step.traces == 1


VALIDATION = [
    (optim.Adamax, {"lr": -1.0}, ValueError, "Adamax: lr must be >= 0, got -1.0"),
    (optim.Adamax, {"betas": (0.9, 1.0)}, ValueError, r"Adamax: betas\[1\] must be in \[0, 1\), got 1.0"),
    (optim.NAdam, {"momentum_decay": -0.1}, ValueError, "NAdam: momentum_decay must be >= 0, got -0.1"),
    (optim.NAdam, {"eps": "1e-8"}, TypeError, "NAdam: eps must be a real number, got '1e-8'"),
    (optim.RAdam, {"weight_decay": -0.5}, ValueError, "RAdam: weight_decay must be >= 0, got -0.5"),
    (optim.RAdam, {"betas": (0.9,)}, ValueError, "RAdam: betas must be a pair"),
]


@pytest.mark.parametrize("cls,kwargs,error,message", VALIDATION)
def test_bad_hyper_parameters_are_refused_by_name(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls([ember.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("rule", [optim.adamax_update, optim.nadam_update, optim.radam_update],
                         ids=lambda r: r.__name__)
def test_rules_take_zero_dim_parameters_and_are_elementwise(rule):
    p, g, state = np.array(1.0, np.float32), np.array(0.5, np.float32), {}
    vector, vector_state = np.ones(1, np.float32), {}
    for _ in range(8):
        rule(p, g, state, lr=0.1)
        rule(vector, g.reshape(1), vector_state, lr=0.1)
    assert p.shape == () and p == vector[0]
    assert all(getattr(v, "shape", ()) == () for v in state.values())
    assert rule.elementwise and rule.foreach is None and rule.sgd_form is None

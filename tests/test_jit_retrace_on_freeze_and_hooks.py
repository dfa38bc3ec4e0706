"""``ember.jit`` follows what its calls do not check themselves: a parameter frozen or unfrozen after tracing, and
gradient, module and global module hooks added or removed after tracing, retrace (each state keeping its trace)."""

import numpy as np
import pytest

import ember
from ember import nn


def _model(seed=0):
    ember.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    return net, ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


def _step_fn(net, opt):
    def step(x):
        opt.zero_grad()
        loss = (net(x) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    return step


def _weights(net):
    return [p.detach().numpy().copy() for p in net.parameters()]


@pytest.mark.parametrize("how", ["method", "attribute"])
def test_a_layer_frozen_after_tracing_stops_updating_as_in_eager_mode(how):
    x = ember.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    runs = []
    for compiled in (False, True):
        net, opt = _model()
        step = _step_fn(net, opt)
        step = ember.jit(step) if compiled else step
        for _ in range(3):
            step(x)
        for p in net[0].parameters():
            if how == "method":
                p.requires_grad_(False)
            else:
                p.requires_grad = False
        frozen = _weights(net)[:2]
        for _ in range(3):
            step(x)
        for a, b in zip(frozen, _weights(net)[:2]):
            np.testing.assert_array_equal(a, b)  # the frozen layer keeps its values
        assert net[0].weight.grad is None
        for p in net[0].parameters():
            p.requires_grad_(True)
        step(x)
        assert not np.array_equal(frozen[0], net[0].weight.detach().numpy())
        runs.append(_weights(net))
        if compiled:
            assert step.traces == 2  # unfrozen again: the first trace serves
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_parameter_hook_added_after_tracing_runs_and_its_removal_restores_the_trace():
    net, opt = _model()
    step = ember.jit(_step_fn(net, opt))
    x = ember.ones(2, 3)
    step(x)
    step(x)
    seen = []
    handle = net[2].weight.register_hook(lambda g: g * 0)
    post = net[2].bias.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.shape))
    step(x)
    assert not net[2].weight.grad.numpy().any() and net[0].weight.grad.numpy().any()  # the hook zeroed its gradient
    assert seen == [(2,)] and step.traces == 2
    handle.remove()
    post.remove()
    step(x)
    assert net[2].weight.grad.numpy().any() and seen == [(2,)] and step.traces == 2


def test_module_and_global_forward_hooks_added_after_tracing_change_the_result():
    net, _ = _model()
    forward = ember.jit(lambda x: net(x))
    x = ember.ones(2, 3)
    plain = forward(x).numpy()
    forward(x)
    handle = net[2].register_forward_hook(lambda m, args, out: out * 2)
    np.testing.assert_allclose(forward(x).numpy(), 2 * plain)
    with nn.modules.module.register_module_forward_hook(lambda m, args, out: out + 1 if m is net else None):
        np.testing.assert_allclose(forward(x).numpy(), 2 * plain + 1)
    handle.remove()
    np.testing.assert_allclose(forward(x).numpy(), plain)
    assert forward.traces == 3  # the plain trace is found again


def test_changes_elsewhere_retrace_nothing_and_the_steady_state_comes_back():
    net, opt = _model()
    step = ember.jit(_step_fn(net, opt))
    x = ember.ones(2, 3)
    step(x)
    step(x)
    assert step._steady[1] is not None
    other = nn.Linear(2, 2)
    other.register_forward_hook(lambda m, a, o: None).remove()
    other.weight.requires_grad_(False)
    nn.Parameter(ember.zeros(3))
    assert step._steady[1] is None  # the next call looks once
    step(x)
    step(x)
    assert step.traces == 1 and step._steady[1] is not None


def test_an_argument_hook_added_after_tracing_runs_as_in_eager_mode():
    double = ember.jit(lambda w: (w * 2.0).sum().backward())
    w = ember.tensor(np.ones(3), requires_grad=True)
    for _ in range(3):  # into the steady state
        w.grad = None
        double(w)
    seen = []
    handle = w.register_hook(lambda g: g * 10.0)
    post = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.shape))
    w.grad = None
    double(w)
    np.testing.assert_array_equal(w.grad.numpy(), [20.0, 20.0, 20.0])
    assert len(seen) == 1 and double.traces == 2
    handle.remove()
    post.remove()
    w.grad = None
    double(w)
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])
    assert len(seen) == 1 and double.traces == 2  # the first trace again
    other = ember.tensor(np.ones(3), requires_grad=True)  # another Tensor, hooked before the call
    other.register_hook(lambda g: g * 3.0)
    double(other)
    np.testing.assert_array_equal(other.grad.numpy(), [6.0, 6.0, 6.0])
    w.grad = None
    double(w)
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])

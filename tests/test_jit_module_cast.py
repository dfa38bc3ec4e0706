"""``Module.to(dtype)`` (``.double()``, ...) inside an ``ember.jit`` function casts the module once, at trace time,
as torch.compile runs it; a cast of a tensor the trace already read is refused, naming the module and the tensor."""

import numpy as np
import pytest

import ember
from ember import nn


def test_a_cast_inside_a_traced_function_works_as_in_eager_mode():
    ember.manual_seed(0)
    net = nn.Linear(3, 2)
    eager = nn.Linear(3, 2)
    eager.load_state_dict(net.state_dict())

    def forward(module, x):
        module.double()
        return module(x)

    traced = ember.jit(lambda x: forward(net, x))
    x = ember.tensor(np.arange(6.0).reshape(2, 3))
    expected = forward(eager, x).detach().numpy()
    for _ in range(3):
        out = traced(x)
        assert out.dtype == ember.float64 and net.weight.dtype == ember.float64 and net.bias.dtype == ember.float64
        np.testing.assert_array_equal(out.detach().numpy(), expected)
    assert traced.traces == 1


def test_a_training_step_that_casts_its_model_trains_as_in_eager_mode():
    losses = []
    for compiled in (False, True):
        ember.manual_seed(0)
        net = nn.Linear(3, 1)
        opt = ember.optim.SGD(net.parameters(), lr=0.1)

        def step(x):
            net.to(ember.float64)
            opt.zero_grad()
            loss = (net(x) ** 2).sum()
            loss.backward()
            opt.step()
            return loss

        run = ember.jit(step) if compiled else step
        x = ember.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3))
        losses.append([float(run(x)) for _ in range(4)])
        assert net.weight.dtype == ember.float64 and net.weight.grad.dtype == ember.float64
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-12)


def test_a_cast_after_the_trace_read_the_module_is_refused_by_name():
    net = nn.Linear(3, 2)

    def twice(x):
        first = net(x.float())
        net.double()
        return net(x) + first

    with pytest.raises(TypeError, match=r"Linear.to\(.*inside ember.jit: weight \(float32, cpu\) was already read"):
        ember.jit(twice)(ember.tensor(np.ones((2, 3))))
    assert net.weight.dtype == ember.float32  # nothing was cast

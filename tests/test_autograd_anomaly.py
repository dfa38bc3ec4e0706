"""Anomaly detection against torch.autograd's: the switches, the error naming the op whose backward made a NaN
gradient (eager, on the array path and with create_graph), and nothing checked or changed while it is off."""

import numpy as np
import pytest

import ember
from ember.autograd import tape

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def anomaly_off():
    yield
    ember.set_anomaly_enabled(False)
    torch.set_anomaly_enabled(False)


def test_switches_match_torch():
    assert ember.is_anomaly_enabled() == torch.is_anomaly_enabled() is False
    assert ember.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled() is True
    with ember.autograd.detect_anomaly(), torch.autograd.detect_anomaly():
        assert ember.is_anomaly_enabled() == torch.is_anomaly_enabled() is True
        assert ember.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled() is True
        with ember.autograd.detect_anomaly(check_nan=False), torch.autograd.detect_anomaly(check_nan=False):
            assert ember.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled() is False
        assert ember.is_anomaly_check_nan_enabled()
    assert ember.is_anomaly_enabled() == torch.is_anomaly_enabled() is False
    ember.set_anomaly_enabled(False, check_nan=False)
    torch.set_anomaly_enabled(False, check_nan=False)
    assert ember.is_anomaly_check_nan_enabled() == torch.is_anomaly_check_nan_enabled() is False
    ember.set_anomaly_enabled(False)
    torch.set_anomaly_enabled(False)
    ember.autograd.set_detect_anomaly(True)
    assert ember.is_anomaly_enabled()
    with ember.autograd.set_detect_anomaly(False):
        assert not ember.is_anomaly_enabled()
    assert ember.is_anomaly_enabled()
    ember.set_anomaly_enabled(False)
    assert not ember.is_anomaly_enabled()


def _nan_gradient(lib, create_graph=False):
    """sqrt at 0 times 0: the forward is finite, sqrt's backward gives 0 * inf = NaN (as in PyTorch)."""
    x = lib.tensor([0.0, 4.0], requires_grad=True)
    y = (x * 2.0).sqrt() * 0.0
    y.sum().backward(create_graph=create_graph)
    return x


@pytest.mark.parametrize("create_graph", [False, True])
def test_nan_gradient_raises_naming_the_op_as_torch(create_graph):
    with torch.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="SqrtBackward0.*nan"), \
            pytest.warns(UserWarning):
        _nan_gradient(torch, create_graph)
    with ember.autograd.detect_anomaly(), pytest.raises(
            RuntimeError, match=r"sqrt's backward computed for its input 0 \(float32\[2\]\) holds NaN.*float32\[2\]"):
        _nan_gradient(ember, create_graph)


def test_off_the_nan_flows_through_as_torch_and_no_op_is_wrapped():
    assert np.isnan(_nan_gradient(ember).grad.numpy()[0]) and np.isnan(_nan_gradient(torch).grad.numpy()[0])
    x = ember.tensor([1.0], requires_grad=True)
    y = x.exp()
    assert tape._topological_order is tape._plain_order
    y.sum().backward(retain_graph=True)
    assert y.node.op.__class__.__name__ == "Op"


def test_check_nan_false_lets_nan_through():
    with ember.autograd.detect_anomaly(check_nan=False):
        assert np.isnan(_nan_gradient(ember).grad.numpy()[0])


def test_a_finite_backward_gives_the_same_gradients_with_anomaly_on():
    rng = np.random.default_rng(0)
    net = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.Tanh(), ember.nn.Linear(8, 1))
    x = ember.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    net(x).sum().backward()
    plain = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    with ember.autograd.detect_anomaly():
        net(x).sum().backward()
    for p, g in zip(net.parameters(), plain):
        np.testing.assert_array_equal(p.grad.numpy(), g)


def test_decorator_form():
    @ember.autograd.detect_anomaly()
    def step():
        assert ember.is_anomaly_enabled()
        return _nan_gradient(ember)

    with pytest.raises(RuntimeError, match="sqrt"):
        step()
    assert not ember.is_anomaly_enabled()


def test_nan_in_a_custom_function_backward_names_it():
    class Bad(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            return g * float("nan")

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with ember.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="holds NaN"):
        Bad.apply(x).sum().backward()


def test_the_error_names_the_line_that_called_the_op():
    x = ember.tensor([0.0], requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = x.sqrt()  # the line the error names
        line = __import__("inspect").currentframe().f_lineno - 1
        with pytest.raises(RuntimeError, match=rf"called at .*test_autograd_anomaly.py:{line} in "):
            (y * 0.0).sum().backward()


@pytest.mark.parametrize("order", ["anomaly first", "autocast first", "inside autocast"])
def test_anomaly_and_autocast_regions_in_any_order_restore_the_tape_apply(order):
    from ember.ops import dispatch

    plain = dispatch.apply
    x = ember.ones(4, 4, requires_grad=True)
    if order == "anomaly first":
        ember.set_anomaly_enabled(True)
        with ember.autocast("cpu"):
            assert (x @ x).dtype == ember.bfloat16
            ember.set_anomaly_enabled(False)
    elif order == "autocast first":
        with ember.autocast("cpu"):
            ember.set_anomaly_enabled(True)
            y = x @ x
            assert y.dtype == ember.bfloat16 and y.node.op.__class__.__name__ == "_Checked"
        ember.set_anomaly_enabled(False)
    else:
        with ember.autocast("cpu"):
            with ember.autograd.detect_anomaly():
                assert (x @ x).dtype == ember.bfloat16
            assert (x @ x).node.op.__class__.__name__ == "Op"
    assert dispatch.apply is plain
    assert (x @ x).dtype == ember.float32 and (x @ x).node.op.__class__.__name__ == "Op"

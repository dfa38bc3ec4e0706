"""``ember.compiler`` and ``ember.cpu`` (``torch.compiler``, ``torch.cpu``) and the autocast dtype queries."""

import numpy as np
import pytest

import ember


def test_compiler_markers_keep_the_functions_meaning_inside_and_outside_a_trace():
    seen = []

    @ember.compiler.disable
    def helper(x):
        seen.append(ember.compiler.is_compiling())
        return x * 2

    @ember.compiler.disable(recursive=False)
    def other(x):
        return x + 1

    def step(x):
        return other(helper(x)).sum()

    x = ember.arange(3.0)
    assert float(step(x)) == float(ember.jit(step)(x)) == 9.0
    assert seen == [False, True]
    assert ember.compiler.allow_in_graph(step) is step and ember.compiler.compile is ember.compile
    ember.compiler.reset()


def test_cpu_device_module_and_its_old_amp_path():
    assert ember.cpu.is_available() and ember.cpu.device_count() == 1 and ember.cpu.current_device() == "cpu"
    ember.cpu.synchronize()
    with pytest.raises(ValueError, match="cpu.set_device: the CPU is one device"):
        ember.cpu.set_device("cpu:1")
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        region = ember.cpu.amp.autocast()
    w = ember.tensor(np.ones((3, 3), np.float32))
    with region:
        assert ember.is_autocast_cpu_enabled() and (w @ w).dtype == ember.bfloat16
    assert (w @ w).dtype == ember.float32


def test_autocast_dtype_queries_follow_torch():
    torch = pytest.importorskip("torch")
    names = {"cpu": "bfloat16", "cuda": "float16"}
    for device, name in names.items():
        assert ember.get_autocast_dtype(device) == getattr(ember, name)
        assert torch.get_autocast_dtype(device) == getattr(torch, name)
    assert ember.get_autocast_gpu_dtype() == ember.float16 and ember.get_autocast_cpu_dtype() == ember.bfloat16
    with ember.autocast("cpu", dtype=ember.float16):
        assert ember.get_autocast_dtype("cpu") == ember.float16 and ember.get_autocast_dtype("cuda") == ember.float16
    assert ember.get_autocast_dtype() is None  # no region open (Ember's reading without a device type)


def test_module_compile_runs_compiled_in_place_and_keeps_the_state_dict():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.ReLU(), ember.nn.Linear(3, 2))
    keys = list(net.state_dict())
    x = ember.randn(5, 4)
    expected = net(x).detach().numpy()
    assert net.compile() is None
    assert list(net.state_dict()) == keys  # unlike ember.compile(net), no _orig_mod. prefix
    with ember.no_grad():
        np.testing.assert_allclose(net(x).numpy(), expected, rtol=1e-6)
        net[2].bias.add_(1.0)  # the compiled code reads the weights as they are now
        np.testing.assert_allclose(net(x).numpy(), expected + 1, rtol=1e-6)
    net(x).sum().backward()  # a call that is differentiated runs eagerly
    assert net[0].weight.grad is not None
    net.compile(backend="eager")
    assert "forward" not in net.__dict__

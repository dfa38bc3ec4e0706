"""``ember.jit``'s ``torch.jit`` names: trace, script, save/load and the decorators model code calls."""

import warnings

import numpy as np
import pytest

import ember
from ember import nn


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, 3)

    @ember.jit.ignore
    def describe(self) -> str:
        return "small"

    @ember.jit.unused
    def unused_path(self, x):
        return x

    def forward(self, x):
        if not ember.jit.is_scripting():  # torchvision's idiom
            x = ember.relu(self.norm(self.conv(x)))
        return self.fc(x.flatten(1))


def _net(seed=0):
    ember.manual_seed(seed)
    return SmallNet()


def _x(*shape, seed=1):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_trace_keeps_the_modules_weights_and_names_and_computes_the_same():
    net = _net().eval()
    traced = ember.jit.trace(net, _x(2, 1, 8, 8))
    assert isinstance(traced, ember.jit.ScriptModule) and isinstance(traced, nn.Module)
    assert list(traced.state_dict()) == list(net.state_dict())
    assert traced.fc.weight is net.fc.weight and traced.describe() == "small"
    x = _x(2, 1, 8, 8, seed=3)
    with ember.no_grad():
        np.testing.assert_allclose(traced(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
    assert traced._compiled is not None  # calls without a gradient run compiled


def test_a_traced_module_trains_its_shared_weights():
    net = _net().train()
    traced = ember.jit.trace(net, _x(4, 1, 8, 8))
    optimizer = ember.optim.SGD(traced.parameters(), lr=0.1)
    x, y = _x(4, 1, 8, 8, seed=5), ember.tensor([0, 1, 2, 0])
    before = net.fc.weight.detach().numpy().copy()
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = ember.cross_entropy(traced(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    assert not np.allclose(net.fc.weight.detach().numpy(), before)  # the original module's weights moved
    traced.eval()
    assert not net.training and not net.norm.training


def test_saved_trace_loads_and_takes_another_batch_size(tmp_path):
    net = _net().eval()
    traced = ember.jit.trace(net, _x(2, 1, 8, 8))
    path = tmp_path / "model.pt"
    ember.jit.save(traced, path)
    loaded = ember.jit.load(path, map_location="cpu")
    for batch in (2, 5):
        x = _x(batch, 1, 8, 8, seed=batch)
        with ember.no_grad():
            np.testing.assert_allclose(loaded(x).numpy(), net(x).numpy(), rtol=1e-5, atol=1e-6)
    assert "conv2d" in loaded.code


def test_trace_of_a_function_compiles_it_and_checks_it_against_eager():
    def f(a, b):
        return ember.tanh(a) * b + 1

    a, b = _x(3, 4), _x(3, 4, seed=2)
    compiled = ember.jit.trace(f, (a, b))
    np.testing.assert_allclose(compiled(a, b).numpy(), f(a, b).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="trace: example_inputs must hold at least one Tensor"):
        ember.jit.trace(f, ())


def test_trace_of_value_dependent_python_runs_eagerly_with_a_tracer_warning():
    def branchy(x):
        return x * 2 if float(x.sum()) > 0 else x - 1

    with pytest.warns(ember.jit.TracerWarning, match="could not be compiled by ember.jit"):
        traced = ember.jit.trace(branchy, ember.ones(3))
    np.testing.assert_array_equal(traced(ember.ones(3)).numpy(), [2, 2, 2])
    np.testing.assert_array_equal(traced(-ember.ones(3)).numpy(), [-2, -2, -2])  # both branches, as Python


def test_script_runs_the_python_and_saves_with_example_inputs(tmp_path):
    net = _net().eval()
    scripted = ember.jit.script(net)
    x = _x(2, 1, 8, 8)
    np.testing.assert_allclose(scripted(x).detach().numpy(), net(x).detach().numpy())
    with pytest.raises(RuntimeError, match="a scripted module has no example inputs"):
        scripted.save(tmp_path / "m.pt")
    scripted.save(tmp_path / "m.pt", example_inputs=x)
    np.testing.assert_allclose(ember.jit.load(tmp_path / "m.pt")(x).numpy(), net(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)

    @ember.jit.script
    def clipped(v, limit: float):
        return v.clamp(-limit, limit)

    np.testing.assert_array_equal(clipped(ember.tensor([-3.0, 0.5, 3.0]), 1.0).numpy(), [-1.0, 0.5, 1.0])
    assert clipped.__name__ == "clipped" and ember.jit.script(clipped) is clipped


def test_the_markers_and_queries_keep_the_eager_meaning():
    seen = []

    def step(x):
        seen.append(ember.jit.is_tracing())
        return x + 1

    step(ember.ones(2))
    ember.jit(step)(ember.ones(2))
    assert seen == [False, True]
    assert ember.jit.annotate(list, []) == [] and ember.jit.Attribute(3, int) == 3
    assert ember.jit.export(step) is step and ember.jit.ignore(drop=True)(step) is step
    future = ember.jit.fork(lambda a, b: a * b, ember.ones(2), 3)
    np.testing.assert_array_equal(ember.jit.wait(future).numpy(), [3, 3])
    failing = ember.jit.fork(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.wait()
    with pytest.raises(RuntimeError, match="freeze: the module must be in evaluation mode"):
        ember.jit.freeze(_net().train())
    frozen = ember.jit.optimize_for_inference(_net())
    assert not frozen.training
    previous = ember.jit.set_fusion_strategy([("DYNAMIC", 3)])
    assert ember.jit.set_fusion_strategy(previous) == [("DYNAMIC", 3)]
    with pytest.raises(ValueError, match="set_fusion_strategy"):
        ember.jit.set_fusion_strategy([("SOMETIMES", 1)])
    with ember.jit.strict_fusion():
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.jit.enable_onednn_fusion(True)
    assert ember.jit.onednn_fusion_enabled()
    ember.jit.enable_onednn_fusion(False)


def test_every_name_is_one_torch_jit_has():
    torch = pytest.importorskip("torch")
    missing = [name for name in ember.torch_jit.__all__ if name != "LoadedModule" and not hasattr(torch.jit, name)]
    assert not missing


def test_the_names_import_from_the_module_too():
    from ember.jit import ScriptModule, trace

    assert trace is ember.jit.trace and ScriptModule is ember.jit.ScriptModule


def test_trace_of_a_module_whose_outputs_differ_from_eager_warns_as_pytorch():
    # dropout in training mode draws other numbers in the check than in the trace: PyTorch warns (TracerWarning,
    # "does not match the corresponding output") and returns the traced module, where trace raised jit.Error
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    with pytest.warns(ember.jit.TracerWarning, match="output 0 of Sequential differs"):
        traced = ember.jit.trace(net, _x(4, 3))
    assert isinstance(traced, ember.jit.ScriptModule)
    traced.eval()
    x = _x(4, 3, seed=1)
    with ember.no_grad():
        np.testing.assert_allclose(traced(x).numpy(), net(x).numpy(), rtol=1e-6)


def test_trace_with_example_kwarg_inputs_binds_them_by_name_as_pytorch():
    # the examples went in the dict's order (f(w, x) for {"w": ..., "x": ...}: a shape error, so the function ran
    # eagerly with a TracerWarning), and the traced function refused keywords (JitFunction.__call__ got an unexpected
    # keyword argument)
    def affine(x, w, scale=2.0):
        return (x @ w) * scale

    x, w = _x(3, 4), _x(4, 2, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ember.jit.TracerWarning)
        traced = ember.jit.trace(affine, example_kwarg_inputs={"w": w, "x": x})
    expected = affine(x, w).numpy()
    np.testing.assert_allclose(traced(x, w).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(traced(w=w, x=x).numpy(), expected, rtol=1e-6)
    with pytest.raises(TypeError, match=r"trace: example_kwarg_inputs \['v'\] do not fit the parameters of affine"):
        ember.jit.trace(affine, example_kwarg_inputs={"v": x})

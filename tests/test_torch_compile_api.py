"""``ember.compile`` (torch.compile's API over ember.jit): functions, modules, decorators, argument checks."""

import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


def _model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def test_a_compiled_module_trains_as_the_eager_one():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.normal(size=(16, 4)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 3, size=16))
    eager, compiled_source = _model(), _model()
    compiled = ember.compile(compiled_source)
    assert isinstance(compiled, ember.torch_compile.OptimizedModule) and compiled._orig_mod is compiled_source
    assert list(compiled.state_dict()) == ["_orig_mod." + k for k in eager.state_dict()]
    compiled_source.note = "kept"
    assert compiled.note == "kept"  # attributes reach the module
    eager.eval()
    compiled.eval()
    assert not compiled_source.training
    opt_e = ember.optim.SGD(eager.parameters(), lr=0.1)
    opt_c = ember.optim.SGD(compiled.parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="runs eagerly"):
        for _ in range(5):
            for model, opt in ((eager, opt_e), (compiled, opt_c)):
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()
    for a, b in zip(eager.parameters(), compiled_source.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert compiled._compiled.cache.stats()["compiles"] == 0  # every call so far was recorded: eager
    with ember.no_grad():
        np.testing.assert_allclose(compiled(x).numpy(), eager(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert compiled._compiled.cache.stats()["compiles"] == 1


def test_a_compiled_module_s_mode_attribute_writes_and_len_are_the_original_s():
    """As torch's OptimizedModule: ``training`` mirrors the module, attribute writes land on it (a setting written
    through the wrapper used to stay on the wrapper, and the forward went on reading the module's old value)."""

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.scale = 1.0

        def forward(self, x):
            return self.fc(x) * self.scale

    x = ember.tensor(np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32))
    module = Scaled()
    compiled = ember.compile(module)
    module.eval()
    assert compiled.training is False
    compiled.train()
    assert module.training and module.fc.training
    compiled.scale = 10.0
    assert module.scale == 10.0 and "scale" not in compiled.__dict__
    with ember.no_grad():
        np.testing.assert_allclose(compiled(x).numpy(), 10 * module.fc(x).numpy(), rtol=1e-6)
    compiled.fc = nn.Linear(4, 3)
    assert compiled.fc is module.fc and list(compiled.state_dict())[0] == "_orig_mod.fc.weight"
    del compiled.scale
    assert not hasattr(module, "scale")
    assert len(ember.compile(_model())) == 4


def test_a_compiled_training_step_matches_eager():
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.normal(size=(16, 4)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 3, size=16))
    results = []
    for compile_it in (False, True):
        model = _model().eval()
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(a, b, model=model, opt=opt):
            opt.zero_grad()
            loss = F.cross_entropy(model(a), b)
            loss.backward()
            opt.step()
            return loss

        run = ember.compile(step) if compile_it else step
        losses = [float(run(x, y)) for _ in range(5)]
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_compile_a_function_and_as_a_decorator():
    @ember.compile
    def f(a, b):
        return (a * b).sum()

    @ember.compile(mode="reduce-overhead", dynamic=True)
    def g(a):
        return a.exp() + 1

    a = ember.tensor([1.0, 2.0])
    assert float(f(a, a)) == 5.0
    np.testing.assert_allclose(g(a).numpy(), np.exp([1.0, 2.0]) + 1, rtol=1e-6)
    np.testing.assert_allclose(g(ember.ones(5)).numpy(), np.full(5, np.e + 1), rtol=1e-6)


def test_backends_disable_and_argument_errors():
    model = _model()
    assert ember.compile(model, backend="eager") is model
    assert ember.compile(model, disable=True) is model
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        ember.compile(model, mode="fastest")
    with pytest.raises(RuntimeError, match="mode or options"):
        ember.compile(model, mode="default", options={})
    with pytest.raises(TypeError, match="callable"):
        ember.compile(3)
    with pytest.raises(RuntimeError, match="invalid backend 'inductr'"):  # a misspelt backend was accepted
        ember.compile(model, backend="inductr")
    assert isinstance(ember.compile(model, backend="cudagraphs"), ember.torch_compile.OptimizedModule)


def test_compiled_functions_and_modules_take_keyword_arguments_as_torch_compile():
    # ember.jit's calls are positional: a keyword argument was a TypeError
    @ember.compile
    def f(a, b=2.0, *, scale=1.0):
        return a * b * scale

    a = ember.tensor([1.0, 2.0])
    np.testing.assert_allclose(f(a, b=3.0).numpy(), [3.0, 6.0])
    np.testing.assert_allclose(f(a, scale=0.5, b=ember.tensor(4.0)).numpy(), [2.0, 4.0])
    np.testing.assert_allclose(f(a).numpy(), [2.0, 4.0])

    class Masked(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = ember.nn.Linear(3, 2)

        def forward(self, x, mask=None):
            y = self.lin(x)
            return y if mask is None else y * mask

    model = Masked()
    compiled = ember.compile(model)
    x, mask = ember.ones(4, 3), ember.tensor([[1.0, 0.0]] * 4)
    with ember.no_grad():
        np.testing.assert_allclose(compiled(x, mask=mask).numpy(), model(x, mask=mask).numpy())
        model.lin.bias.fill_(5.0)  # the parameters are read at each call, as on the positional path
        np.testing.assert_allclose(compiled(x, mask=mask).numpy(), model(x, mask=mask).numpy())


def test_a_compiled_module_follows_replaced_parameters_buffers_and_submodules():
    # torch.compile recompiles when a module's entry is replaced; the trace read the old tensors
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)).eval()
    compiled = ember.compile(net)
    x = ember.randn(4, 3)

    def check():
        with ember.no_grad():
            np.testing.assert_allclose(compiled(x).numpy(), net(x).numpy(), rtol=1e-6, atol=1e-6)

    check()
    net.load_state_dict({k: v + 1 for k, v in net.state_dict().items()}, assign=True)
    check()
    net[1].running_mean = ember.full((3,), 2.0)
    check()
    net[2] = nn.Linear(3, 2)
    check()
    net[0].bias = None
    check()

    @ember.compile
    def closure(t):
        return net[2](t)

    with ember.no_grad():
        closure(x)
        net[2].weight = nn.Parameter(ember.ones(2, 3))
        np.testing.assert_allclose(closure(x).numpy(), net[2](x).numpy(), rtol=1e-6)


def test_module_compile_follows_the_module_s_own_replaced_parameters():
    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(ember.randn(3, 2))
            self.register_buffer("b", ember.zeros(2))

        def forward(self, t):
            return t @ self.w + self.b

    net, x = Affine(), ember.randn(4, 3)
    net.compile()
    with ember.no_grad():
        net(x)
        net.w = nn.Parameter(ember.ones(3, 2))
        np.testing.assert_allclose(net(x).numpy(), (x @ net.w).numpy(), rtol=1e-6)
        net.b = ember.ones(2)
        np.testing.assert_allclose(net(x).numpy(), (x @ net.w + 1).numpy(), rtol=1e-6)


def test_a_graph_break_runs_eagerly_and_fullgraph_raises():
    """torch.compile's default (``fullgraph=False``) runs code it cannot capture (``.item()``, a branch on a
    Tensor) eagerly; it used to raise a TypeError. ``fullgraph=True`` raises, as torch's."""

    def branchy(x):
        return x * 2 if x.sum() > 0 else x * 3

    x = ember.tensor(np.abs(np.random.default_rng(0).normal(size=(3, 2))).astype(np.float32))
    compiled = ember.compile(branchy)
    with pytest.warns(UserWarning, match="graph break"):
        np.testing.assert_array_equal(compiled(x).numpy(), 2 * x.numpy())
    np.testing.assert_array_equal(compiled(-x).numpy(), -3 * x.numpy())
    with pytest.raises(TypeError, match="truth value"):
        ember.compile(branchy, fullgraph=True)(x)
    with pytest.raises(TypeError):  # the function's own error, raised eagerly too: raised, not a graph break
        ember.compile(lambda t: t + "a")(x)

    rng = np.random.default_rng(1)
    data = ember.tensor(rng.normal(size=(8, 4)).astype(np.float32))
    target = ember.tensor(rng.integers(0, 3, size=8))
    runs = []
    for compile_it in (False, True):
        model = _model()
        model.eval()  # dropout off
        opt = ember.optim.Adam(model.parameters(), lr=0.01)
        losses = []

        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())

        step = ember.compile(step) if compile_it else step
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(4):
                step(data, target)
        runs.append((losses, [p.detach().numpy() for p in model.parameters()]))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-6)
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    with ember.no_grad():
        module = nn.Linear(4, 3)
        module.forward = lambda t: nn.Linear.forward(module, t).relu() if t.mean() > 0 else t[:, :3]
        compiled_module = ember.compile(module)
        with pytest.warns(UserWarning, match="graph break"):
            np.testing.assert_allclose(compiled_module(data).numpy(), module(data).numpy(), rtol=1e-6)


def test_a_compiled_function_whose_result_is_differentiated_outside_runs_eagerly():
    # its result was off the autograd tape: (c(a) + a.sum()).backward() gave a.grad [1, 1] for PyTorch's [3, 5]
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    compiled = ember.compile(lambda t: (t * t).sum())
    with pytest.warns(UserWarning, match="recorded for a backward outside the compiled code"):
        out = compiled(a)
    (out + a.sum()).backward()
    assert a.grad.tolist() == [3.0, 5.0]
    layer = nn.Linear(3, 2)
    x = ember.randn(4, 3)
    (layer(x).relu().sum()).backward()  # eager, for reference
    expected = layer.weight.grad.numpy().copy()
    layer.zero_grad()
    head = ember.compile(lambda x: layer(x).relu().sum())  # reads parameters that require grad
    with pytest.warns(UserWarning):
        head(x).backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), expected)
    with ember.no_grad():  # without gradients it runs compiled
        assert compiled(a).item() == 5.0
    assert compiled.traces == 2  # (the trace that found the recorded result, then the no_grad one)
    scaled = ember.compile(lambda x, scale=1.0: (x * x).sum() * scale)
    a.grad = None
    with pytest.warns(UserWarning):
        scaled(a, scale=2.0).backward()
    assert a.grad.tolist() == [4.0, 8.0]


def test_a_compiled_training_step_still_runs_compiled():
    layer = nn.Linear(3, 1)
    opt = ember.optim.SGD(layer.parameters(), lr=0.1)

    @ember.compile
    def step(x):
        opt.zero_grad()
        loss = layer(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            step(ember.ones(4, 3))
    assert step.traces == 1

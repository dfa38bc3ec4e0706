"""Global module hooks (``nn.modules.module.register_module_*_hook``), each checked against PyTorch."""

import numpy as np
import pytest

import ember
from ember.nn import global_hooks

torch = pytest.importorskip("torch")


def _net(lib, state=None):
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.ReLU(), lib.nn.Linear(4, 2))
    if state is not None:
        net.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    return net


def _state():
    return {k: v.detach().numpy() for k, v in _net(ember).state_dict().items()}


def _arr(t):
    return None if t is None else t.detach().numpy().copy()


def _calls(lib, state, x):
    """Every global hook's calls on a small net, with one hook of a layer's own, and the results they changed."""
    hooks = lib.nn.modules.module
    net, log = _net(lib, state), []

    def pre(module, args):
        log.append(("pre", type(module).__name__))
        if isinstance(module, lib.nn.ReLU):
            return (args[0] - 0.5,)  # a non-tuple is wrapped too; a tuple replaces the arguments
        return None

    def post(module, args, output):
        log.append(("post", type(module).__name__, _arr(output)))
        return output * 2 if isinstance(module, lib.nn.ReLU) else None

    def back(module, grad_input, grad_output):
        log.append(("back", type(module).__name__, [_arr(g) for g in grad_input], [_arr(g) for g in grad_output]))

    def back_pre(module, grad_output):
        log.append(("back_pre", type(module).__name__))
        return (grad_output[0] * 3,) if isinstance(module, lib.nn.Linear) else None

    net[1].register_forward_hook(lambda m, a, o: log.append(("own", _arr(o))))
    handles = [hooks.register_module_forward_pre_hook(pre), hooks.register_module_forward_hook(post),
               hooks.register_module_full_backward_hook(back), hooks.register_module_full_backward_pre_hook(back_pre)]
    try:
        inputs = lib.tensor(x, requires_grad=True)
        out = net(inputs)
        out.sum().backward()
    finally:
        for handle in handles:
            handle.remove()
    log.append(("after removal", _arr(net(lib.tensor(x)))))
    return log, [_arr(out), _arr(inputs.grad)] + [_arr(p.grad) for p in net.parameters()]


def _assert_same(a, b):
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    else:
        assert a == b


def test_global_hooks_see_every_module_call_and_replace_values_as_torch():
    state, x = _state(), np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    ours, theirs = _calls(ember, state, x), _calls(torch, state, x)
    kinds = [entry[0] for entry in ours[0]]
    assert kinds[:8] == ["pre", "pre", "post", "pre", "post", "own", "pre", "post"]  # global hooks before own ones
    assert kinds.count("back") == 4 and kinds.count("back_pre") == 4
    _assert_same(ours, theirs)
    assert not global_hooks.registered()


def _kwargs_and_always(lib):
    hooks, log = lib.nn.modules.module, []

    class Scaled(lib.nn.Module):
        def forward(self, x, scale=1.0):
            if scale < 0:
                raise ValueError("negative scale")
            return x * scale

    module = Scaled()
    with hooks.register_module_forward_hook(lambda m, a, k, o: log.append(("kw", k)), with_kwargs=True), \
            hooks.register_module_forward_hook(lambda m, a, o: log.append(("always", o)), always_call=True):
        module(lib.tensor([1.0]), scale=2.0)
        with pytest.raises(ValueError, match="negative scale"):
            module(lib.tensor([1.0]), scale=-1.0)
    module(lib.tensor([1.0]), scale=2.0)  # the handles left with the block
    return [(kind, float(v.sum()) if hasattr(v, "sum") else v) for kind, v in log]


def test_global_forward_hooks_take_with_kwargs_and_always_call_and_handles_work_as_context_managers():
    ours = _kwargs_and_always(ember)
    assert ours == [("kw", {"scale": 2.0}), ("always", 2.0), ("always", None)] == _kwargs_and_always(torch)
    assert not global_hooks.registered()


def test_module_calls_cost_nothing_while_no_global_hook_is_registered():
    net = _net(ember)
    assert net[0].__call__ == net[0].forward  # the bound forward itself: no wrapper
    x = ember.randn(2, 3, requires_grad=True)
    assert net(x).node.op.name == "linear" and net(x).node.inputs[0].node.op.name == "linear_relu"  # fused pair
    seen = []
    handle = ember.nn.modules.module.register_module_forward_hook(lambda m, a, o: seen.append(type(m).__name__))
    assert net[0].__call__ != net[0].forward
    assert net(x).node.inputs[0].node.op.name == "relu"  # a hook sees each layer: the pair is not fused
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]
    handle.remove()
    handle.remove()  # a second removal does nothing
    assert net[0].__call__ == net[0].forward and net(x).node.inputs[0].node.op.name == "linear_relu"


def test_global_backward_hooks_are_refused_inside_jit_and_forward_hooks_run_while_tracing():
    fc = ember.nn.Linear(2, 2)
    step = ember.jit(lambda x: fc(x).sum())
    hooks = ember.nn.modules.module
    with hooks.register_module_full_backward_hook(lambda m, gi, go: None):
        with pytest.raises(TypeError, match="Linear: a global module backward hook .* eager mode only"):
            step(ember.ones(1, 2))
    seen = []
    with hooks.register_module_forward_hook(lambda m, a, o: seen.append(o.symbolic)):
        step(ember.ones(1, 2))
    assert seen == [True]  # a Python side effect: it runs when the call traces, as any forward hook
    with pytest.raises(TypeError, match="register_module hook: expected a callable, got int"):
        hooks.register_module_forward_pre_hook(3)

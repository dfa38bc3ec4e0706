"""The steady state of a jit training step: the cross-entropy kernel made for the step's shapes, and the
call's checks and gradient writes on every call (a changed signature or optimizer still retraces)."""

from __future__ import annotations

import functools
import importlib

import numpy as np
import pytest

import ember
from ember import nn
from ember.ops.loss import _sparse_xent_joint
from ember.ops.xent_kernel import SparseXentKernel, sparse_xent_kernel
from ember.tensor import Tensor

RNG = np.random.default_rng(3)


def _kernel(shape, dtype, target_dtype=np.int64, reduction="mean", ignore_index=-100):
    spec = np.empty(shape, dtype)
    kernel = sparse_xent_kernel(_sparse_xent_joint, spec, np.empty(shape[:1], target_dtype), np.float32(1),
                                ignore_index=ignore_index, reduction=reduction)
    general = functools.partial(_sparse_xent_joint, np, ignore_index=ignore_index, reduction=reduction)
    return kernel, general


@pytest.mark.parametrize("shape", [(32, 3), (5, 1), (7, 2), (6, 9), (3, 40)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_kernel_equals_the_joint_forward_bit_for_bit_call_after_call(shape, dtype, reduction):
    kernel, general = _kernel(shape, dtype, np.int32 if shape[1] == 2 else np.int64, reduction)
    assert isinstance(kernel, SparseXentKernel)
    results = []
    for scale, g in ((1.0, dtype(1.0)), (30.0, np.asarray(0.5, dtype)), (1e-3, dtype(2.0))):
        logits = (RNG.standard_normal(shape) * scale).astype(dtype)
        target = RNG.integers(0, shape[1], shape[0]).astype(np.int32 if shape[1] == 2 else np.int64)
        loss, grad = kernel(logits, target, g)
        expected_loss, expected_grad = general(logits, target, g)
        assert type(loss) is type(expected_loss) and loss.dtype == expected_loss.dtype
        np.testing.assert_array_equal(loss, expected_loss)
        np.testing.assert_array_equal(grad, expected_grad)
        assert grad.dtype == dtype and grad.flags.c_contiguous
        results.append((loss, grad, grad.copy()))
    for _, grad, values in results:  # each call's gradient is its own array
        np.testing.assert_array_equal(grad, values)


@pytest.mark.parametrize("shape", [(32, 3), (6, 9)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_kernel_scales_like_the_joint_forward_when_the_upstream_gradient_repeats_or_changes(shape, reduction):
    kernel, general = _kernel(shape, np.float32, reduction=reduction)
    upstream = [np.float32(1), np.asarray(1, np.float32), np.float32(1), np.float32(-0.0), np.float32(0.0),
                np.float64(0.1), np.float64(0.1), 0.1, 0.1, np.float32(np.nan), np.float32(np.nan), np.float32(3)]
    for g in upstream:
        logits = RNG.standard_normal(shape).astype(np.float32)
        target = RNG.integers(0, shape[1], shape[0])
        loss, grad = kernel(logits, target, g)
        expected_loss, expected_grad = general(logits, target, g)
        np.testing.assert_array_equal(loss, expected_loss)
        assert grad.dtype == expected_grad.dtype
        assert grad.tobytes() == expected_grad.tobytes()  # signed zeros and NaN bits too


def test_kernel_hands_other_targets_and_layouts_to_the_general_forward():
    kernel, general = _kernel((6, 4), np.float32)
    logits = RNG.standard_normal((6, 4)).astype(np.float32)
    ignored = np.array([0, -100, 3, 1, -100, 2])
    for got, want in zip(kernel(logits, ignored, np.float32(1)), general(logits, ignored, np.float32(1))):
        np.testing.assert_array_equal(got, want)
    columns = np.asfortranarray(logits)
    target = np.array([0, 1, 2, 3, 0, 1])
    for got, want in zip(kernel(columns, target, np.float32(1)), general(columns, target, np.float32(1))):
        np.testing.assert_array_equal(got, want)
    small, _ = _kernel((6, 4), np.float32, np.int8)
    for bad in ([0, 1, 2, 4, 0, 1], [0, 1, -1, 3, 0, 1]):
        for made, dtype in ((kernel, np.int64), (small, np.int8)):
            with pytest.raises(IndexError, match=r"sparse_softmax_cross_entropy: target values must lie in \[0, 4\)"):
                made(logits, np.array(bad, dtype), np.float32(1))


@pytest.mark.parametrize("case", [
    {"shape": (6, 4), "reduction": "none"},
    {"shape": (6, 4), "ignore_index": 2},
    {"shape": (None, 4)},
    {"shape": (6, 4), "dtype": np.float16},
    {"shape": (0, 4)},
])
def test_no_kernel_where_the_general_forward_is_needed(case):
    shape = case["shape"]
    spec = type("Spec", (), {"shape": shape, "dtype": np.dtype(case.get("dtype", np.float32))})()
    target = type("Spec", (), {"shape": shape[:1], "dtype": np.dtype(np.int64)})()
    assert sparse_xent_kernel(_sparse_xent_joint, spec, target, None, ignore_index=case.get("ignore_index", -100),
                              reduction=case.get("reduction", "mean")) is None


def _mlp_step(classes=3, momentum=0.9):
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, classes))
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1, momentum=momentum)

    def step(x, y):
        optimizer.zero_grad()
        loss = ember.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return net, optimizer, step


def test_steady_state_retraces_on_a_changed_shape_dtype_or_requires_grad():
    _, _, step = _mlp_step()
    fast = ember.jit(step, dynamic=False)
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    y = ember.tensor(RNG.integers(0, 3, 4))
    for _ in range(3):
        fast(x, y)
    assert fast.traces == 1
    fast(ember.tensor(RNG.standard_normal((6, 5)).astype(np.float32)), ember.tensor(RNG.integers(0, 3, 6)))
    assert fast.traces == 2
    fast(x, y)  # back to the first signature: its code, no new trace
    assert fast.traces == 2
    with pytest.raises(TypeError, match="Linear: expected input of dtype float32"):  # traced anew: the layer says
        fast(ember.tensor(x.numpy().astype(np.float64)), y)
    traces = fast.traces
    fast(x, ember.tensor(y.numpy().astype(np.int32)))
    assert fast.traces == traces + 1
    fast(ember.tensor(x.numpy(), requires_grad=True), y)
    assert fast.traces == traces + 2
    with pytest.raises(TypeError, match="a non-Tensor argument must be hashable"):
        fast(x, [1, 2])


def test_each_step_sets_fresh_gradients_with_eager_mode_values_and_loss():
    net, _, step = _mlp_step()
    eager_net, _, eager_step = _mlp_step()
    fast = ember.jit(step)
    kept = []
    for _ in range(4):
        x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
        y = ember.tensor(RNG.integers(0, 3, 4))
        loss, expected = fast(x, y), eager_step(x, y)
        assert isinstance(loss, Tensor) and loss.shape == () and not loss.requires_grad
        np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-6)
        for p, q in zip(net.parameters(), eager_net.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-7)
            made = Tensor._make(p.grad.array, None)  # the call wraps gradients as Tensor._make does
            for slot in Tensor.__slots__:
                if slot != "__weakref__":
                    assert getattr(p.grad, slot, None) is getattr(made, slot, None) or slot == "array"  # (unset: None)
        kept.append([(p.grad, p.grad.numpy().copy()) for p in net.parameters()])
    for grads in kept:  # a gradient kept from an earlier step keeps its values
        for grad, values in grads:
            np.testing.assert_array_equal(grad.numpy(), values)


def test_one_parameter_optimizer_state_and_hyper_parameters_are_checked_on_every_call():
    ember.manual_seed(0)
    weight = nn.Parameter(ember.tensor(RNG.standard_normal((3, 2)).astype(np.float32)))
    optimizer = ember.optim.SGD([weight], lr=0.1, momentum=0.9)

    def step(x):
        optimizer.zero_grad()
        loss = (x @ weight).sum()
        loss.backward()
        optimizer.step()
        return loss

    fast = ember.jit(step)
    x = ember.tensor(RNG.standard_normal((4, 3)).astype(np.float32))
    fast(x)
    fast(x)
    assert fast.traces == 1
    optimizer.load_state_dict(optimizer.state_dict())
    fast(x)
    assert fast.traces == 2
    optimizer.param_groups[0]["nesterov"] = True
    fast(x)
    assert fast.traces == 3
    optimizer.param_groups[0]["lr"] = 0.01  # read live: no new trace
    fast(x)
    assert fast.traces == 3


_CHANGES = {
    "lr": (lambda n, o: o.param_groups[0].__setitem__("lr", 0.05), 1),  # read live by the code: no new trace
    "momentum": (lambda n, o: o.param_groups[0].__setitem__("momentum", 0.5), 1),  # read live too
    "momentum off": (lambda n, o: o.param_groups[0].__setitem__("momentum", 0.0), 2),  # no buffer: other code
    "nesterov": (lambda n, o: o.param_groups[0].__setitem__("nesterov", True), 2),
    "load_state_dict": (lambda n, o: o.load_state_dict(o.state_dict()), 2),
    "replaced array": (lambda n, o: setattr(n[0].weight, "data", ember.tensor(n[0].weight.detach().numpy() * 0.5)),
                       1),  # compiled again for the new array, not traced
}


@pytest.mark.parametrize("change", list(_CHANGES))
def test_generated_steady_call_notices_what_the_general_path_checks(change):
    """After a signature repeats, calls run generated straight-line checks (ember.jit_steady); a change the
    general path notices still takes effect: each step equals the eager twin's."""
    net, optimizer, step = _mlp_step()
    eager_net, eager_optimizer, eager_step = _mlp_step()
    fast = ember.jit(step)
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    y = ember.tensor(RNG.integers(0, 3, 4))

    def both():
        for _ in range(3):
            loss, expected = fast(x, y), eager_step(x, y)
            np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-5)
        for p, q in zip(net.parameters(), eager_net.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)

    both()
    steady = fast._steady[1]
    assert steady is not None and steady.source.startswith("def steady(args):")
    hits = fast.cache.hits
    both()
    assert fast.cache.hits == hits + 3 and fast.traces == 1
    apply, traces = _CHANGES[change]
    apply(net, optimizer)
    apply(eager_net, eager_optimizer)
    both()
    assert fast.traces == traces


def test_steady_call_takes_another_signature_and_comes_back():
    net, optimizer, step = _mlp_step()
    fast = ember.jit(step)
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    y = ember.tensor(RNG.integers(0, 3, 4))
    for _ in range(3):
        fast(x, y)
    steady = fast._steady[1]
    loss = fast(ember.tensor(x.numpy(), requires_grad=True), y)  # another signature: traced
    assert fast.traces == 2 and loss.shape == ()
    fast(x, y)
    assert fast.traces == 2 and fast._steady[1] is steady  # kept with its trace


def test_no_steady_call_for_frozen_arguments_and_none_while_profiling():
    net, optimizer, step = _mlp_step()
    fast = ember.jit(lambda x, y, scale: step(x * scale, y))
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    y = ember.tensor(RNG.integers(0, 3, 4))
    for _ in range(3):
        fast(x, y, 2.0)
    assert fast._steady == (fast._last, None)
    plain = ember.jit(step)
    for _ in range(3):
        plain(x, y)
    jit_module = importlib.import_module("ember.jit")
    seen = []
    real = jit_module.profile_hook
    jit_module.profile_hook = lambda graph, bound, layout, arrays: seen.append(graph) or \
        jit_module.compile_graph(graph, bound).fn(*arrays)
    try:
        plain(x, y)
    finally:
        jit_module.profile_hook = real
    assert seen  # the steady call stepped aside for the profiler's hook


def test_steady_call_notices_a_gradient_that_appeared():
    net, optimizer, _ = _mlp_step()
    eager_net, eager_optimizer, _ = _mlp_step()

    def stepper(net, optimizer):
        def step(x, y):  # no zero_grad inside: the caller's .grad is read (accumulated into when present)
            loss = ember.cross_entropy(net(x), y)
            loss.backward()
            optimizer.step()
            return loss
        return step

    fast, eager_step = ember.jit(stepper(net, optimizer)), stepper(eager_net, eager_optimizer)
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    y = ember.tensor(RNG.integers(0, 3, 4))

    def both(zero_first: bool):
        for _ in range(3):
            if zero_first:
                optimizer.zero_grad()
                eager_optimizer.zero_grad()
            np.testing.assert_allclose(fast(x, y).numpy(), eager_step(x, y).detach().numpy(), rtol=1e-5)
        for p, q in zip(net.parameters(), eager_net.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)

    both(zero_first=True)  # .grad None before each call: the trace assumed it
    steady = fast._steady[1]
    assert steady is not None and "grad is None" in steady.source
    both(zero_first=False)  # .grad present: accumulated into, by another trace
    both(zero_first=True)
    assert fast.traces == 2

"""``ember.utils.checkpoint``: activation checkpointing gives a plain call's values and gradients, bit for bit, and
keeps less memory for the backward."""

import tracemalloc

import numpy as np
import pytest

import ember
from ember import nn
from ember.utils.checkpoint import checkpoint, checkpoint_sequential


def _mlp(depth=6, width=16, dropout=0.3):
    ember.manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.Tanh(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def _input(shape=(8, 16), seed=1):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), requires_grad=True)


def _grads(net, x, forward):
    """The output and the gradients of the parameters and of ``x`` after one backward of ``forward``."""
    net.zero_grad()
    x.grad = None
    ember.manual_seed(7)
    y = forward(x)
    (y * y).sum().backward()
    return y.detach().numpy(), [p.grad.numpy().copy() for p in net.parameters()] + [x.grad.numpy().copy()]


def _assert_same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    for u, v in zip(a[1], b[1]):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("use_reentrant", [False, True])
def test_checkpoint_equals_a_plain_call_with_dropout(use_reentrant):
    net, x = _mlp(), _input()
    blocks = [net[:9], net[9:]]
    plain = _grads(net, x, lambda x: blocks[1](blocks[0](x)))
    checked = _grads(net, x, lambda x: blocks[1](checkpoint(blocks[0], x, use_reentrant=use_reentrant)))
    _assert_same(plain, checked)


@pytest.mark.parametrize("segments", [1, 2, 3, 6])
def test_checkpoint_sequential_equals_a_plain_call(segments):
    net, x = _mlp(), _input()
    _assert_same(_grads(net, x, net), _grads(net, x, lambda x: checkpoint_sequential(net, segments, x)))


def test_the_recomputation_restores_the_random_state_only_when_asked():
    net, x = _mlp(depth=2, dropout=0.5), _input()
    plain = _grads(net, x, net)
    unpreserved = _grads(net, x, lambda x: checkpoint(net, x, preserve_rng_state=False))
    np.testing.assert_array_equal(plain[0], unpreserved[0])  # the forward is the same; its recomputation is not
    assert any(not np.array_equal(u, v) for u, v in zip(plain[1], unpreserved[1]))


def test_parameters_and_closed_over_tensors_get_gradients_through_grad():
    w = ember.tensor(np.random.default_rng(2).standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    scale = _input((3,), seed=3)
    x = _input((4, 3), seed=4)

    def gradients(call):
        shift = scale * 2.0  # recorded outside the checkpoint: its gradient must flow on to ``scale``
        return ember.grad((call(lambda x: ember.tanh(x @ w) * shift, x) ** 2).sum(), [w, scale, x])

    plain = gradients(lambda f, x: f(x))
    checked = gradients(checkpoint)
    for u, v in zip(plain, checked):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_several_outputs_an_unused_one_and_a_non_tensor():
    w = _input((3, 3), seed=5)
    x = _input((2, 3), seed=6)

    def block(x):
        h = x @ w
        return h.sin(), h.cos(), h.exp(), "label", ember.argmax(h, 1)

    def loss(outputs):
        a, b, _, label, index = outputs
        assert label == "label" and not index.requires_grad
        return (a * b).sum() + a.sum()

    plain = ember.grad(loss(block(x)), [w, x])
    checked = ember.grad(loss(checkpoint(block, x)), [w, x])
    for u, v in zip(plain, checked):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_an_argument_handed_back_as_an_output():
    scale = _input((3,), seed=7)
    x = _input((2, 3), seed=8)

    def gradients(call):
        h = x * scale  # recorded before the checkpoint: its graph must survive the recomputation's backward
        a, b = call(lambda h: (h, h.sin()), h)
        return ember.grad((a * b).sum() + (h * 3.0).sum(), [x, scale])

    plain = gradients(lambda f, h: f(h))
    checked = gradients(checkpoint)
    for u, v in zip(plain, checked):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_a_nested_checkpoint_and_a_retained_graph():
    net, x = _mlp(depth=4, dropout=0.2), _input()

    def outer(x):
        return checkpoint(net[6:], checkpoint(net[:6], x))

    plain = _grads(net, x, net)
    _assert_same(plain, _grads(net, x, outer))
    net.zero_grad()
    x.grad = None
    ember.manual_seed(7)
    y = checkpoint(net, x)
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    for p, g in zip(list(net.parameters()) + [x], plain[1]):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-6)


def test_a_checkpoint_inside_a_checkpointed_function_reaches_the_inner_parameters():
    # the inner segment kept the outer recomputation's stand-ins of its parameters, which its own recomputation
    # never reads: the parameters of net[3:6] got no gradient at all (None)
    net, x = _mlp(depth=4, dropout=0.0), _input()

    def nested(x):
        return checkpoint(lambda h: net[6:](checkpoint(net[3:6], net[:3](h), use_reentrant=False)), x,
                          use_reentrant=False)

    plain = _grads(net, x, net)
    checked = _grads(net, x, nested)
    np.testing.assert_allclose(checked[0], plain[0], rtol=1e-6)
    for u, v in zip(plain[1], checked[1]):
        np.testing.assert_allclose(v, u, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("nested", [False, True])
def test_a_second_order_through_a_checkpoint_equals_a_plain_call_s(nested):
    # a gradient penalty: the recomputed gradients came from detached stand-ins, so autograd.grad(create_graph=True)
    # of a checkpointed call had no history back to x and the parameters (x "was not used")
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Softplus(), nn.Linear(4, 1)).double()
    x = ember.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)

    def inner(h):
        return checkpoint(net[1:3], h, use_reentrant=False) if nested else net[1:3](h)

    def penalized(forward):
        net.zero_grad()
        x.grad = None
        (g,) = ember.autograd.grad(forward(x).sum(), x, create_graph=True)
        ((g.norm(dim=1) - 1) ** 2).mean().backward()
        return [t.grad.numpy().copy() for t in (x, *net.parameters()) if t.grad is not None]

    plain = penalized(net)
    checked = penalized(lambda x: checkpoint(lambda z: net[3:](inner(net[0](z))), x, use_reentrant=False))
    assert len(checked) == len(plain) == 6  # (the last bias has no second-order gradient)
    for u, v in zip(plain, checked):
        np.testing.assert_allclose(v, u, rtol=1e-10, atol=1e-12)


def _reachable_nodes(t) -> int:
    seen, stack = set(), [t.node]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(i.node for i in node.inputs)
    return len(seen)


def test_the_tape_keeps_two_nodes_per_segment():
    net, x = _mlp(depth=8, dropout=0.0), _input()
    assert _reachable_nodes(net(x).sum()) == 8 * 2 + 1  # linear and tanh per layer (dropout(0) records nothing)
    assert _reachable_nodes(checkpoint(net, x).sum()) == 2 + 1
    assert _reachable_nodes(checkpoint_sequential(net, 4, x).sum()) == 3 * 2 + 2 * 2 + 1  # the last part is plain


def test_a_deep_mlp_keeps_less_memory_for_the_backward():
    net, x = _mlp(depth=24, width=128, dropout=0.1), _input((256, 128))

    def measure(forward):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        loss = forward(x).sum()
        kept = tracemalloc.get_traced_memory()[0] - before
        loss.backward()
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        return kept, peak

    plain_kept, plain_peak = measure(net)
    kept, peak = measure(lambda x: checkpoint_sequential(net, 8, x))
    assert kept * 4 < plain_kept
    assert peak * 2 < plain_peak


def test_under_jit_the_function_runs_as_it_is():
    net, x = _mlp(depth=3, dropout=0.0), _input()

    def step(x):
        net.zero_grad()
        loss = (checkpoint(net, x) ** 2).sum()
        loss.backward()
        return loss

    eager = step(x).item(), [p.grad.numpy().copy() for p in net.parameters()]
    traced = ember.jit(step)
    for _ in range(2):
        np.testing.assert_allclose(traced(x).item(), eager[0], rtol=1e-6)
        for p, g in zip(net.parameters(), eager[1]):
            np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-5, atol=1e-6)


def test_without_grad_or_inputs_that_require_it_nothing_is_recorded():
    net = _mlp(depth=1, dropout=0.0)
    x = _input()
    with ember.no_grad():
        assert not checkpoint(net, x).requires_grad
    constant = x.detach()
    assert checkpoint(lambda t: t * 2.0, constant).node is None
    with pytest.warns(UserWarning, match="none of the inputs has requires_grad"):
        assert not checkpoint(net, constant, use_reentrant=True).requires_grad
    assert checkpoint(net, constant, use_reentrant=False).requires_grad  # the parameters require grad


def test_bad_arguments_are_named():
    x = _input()
    with pytest.raises(ValueError, match="use_reentrant=True takes no keyword arguments"):
        checkpoint(lambda t, s: t * s, x, s=2.0, use_reentrant=True)
    with pytest.raises(TypeError, match="must return a Tensor or a tuple"):
        checkpoint(lambda t: {"y": t * 2}, x)
    with pytest.raises(ValueError, match="segments must be an int"):
        checkpoint_sequential(_mlp(depth=1), 5, x)
    assert checkpoint(lambda t, s: t * s, x, s=3.0).requires_grad


def test_the_recomputation_runs_under_the_forwards_autocast():
    net, x = _mlp(depth=3, dropout=0.0), _input()

    def under_autocast(forward):
        def run(x):
            with ember.autocast("cpu", dtype=ember.bfloat16):
                return forward(x).float()
        return run

    plain = _grads(net, x, under_autocast(net))
    _assert_same(plain, _grads(net, x, under_autocast(lambda x: checkpoint(net, x))))


def test_the_recomputation_keeps_the_dtype_of_a_region_without_one():
    # a forward in a disabled float16 region runs its inner autocast("cpu") in float16; the recomputation ran it in
    # bfloat16, the default (a determinism error), where PyTorch restores the forward's autocast dtype
    w = ember.randn(4, 4, requires_grad=True)

    def block(v):
        with ember.autocast("cpu"):
            return (v @ w).float().tanh()

    x = ember.randn(3, 4)
    grads = []
    for forward in (block, lambda v: checkpoint(block, v, use_reentrant=False)):
        w.grad = None
        with ember.autocast("cpu", dtype=ember.float16, enabled=False):
            loss = (forward(x) ** 2).sum()
        loss.backward()  # (outside the region)
        grads.append(w.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_context_fn_wraps_the_forward_and_the_recomputation():
    import contextlib

    seen = []

    @contextlib.contextmanager
    def mark(name):
        seen.append(name)
        yield

    x = _input((3,))
    y = checkpoint(lambda t: t.exp(), x, context_fn=lambda: (mark("forward"), mark("recompute")))
    assert seen == ["forward"]
    y.sum().backward()
    assert seen == ["forward", "recompute"]
    np.testing.assert_allclose(x.grad.numpy(), np.exp(x.detach().numpy()), rtol=1e-6)


def test_a_recomputation_of_other_shapes_is_named_unless_unchecked():
    x = _input((4,))
    calls = []

    def unsteady(t):
        calls.append(1)
        return t[: 4 - len(calls) + 1].sin()  # a shorter result on the second run

    with pytest.raises(RuntimeError, match=r"recomputed outputs \(float32\[3\]\) differ from the forward's "
                                           r"\(float32\[4\]\)"):
        checkpoint(unsteady, x).sum().backward()
    calls.clear()
    y = checkpoint(lambda t: t.sin(), x, determinism_check="none")
    y.sum().backward()
    with pytest.raises(ValueError, match="determinism_check must be 'default' or 'none'"):
        checkpoint(unsteady, x, determinism_check="strict")
    with pytest.raises(ValueError, match="context_fn is supported only with use_reentrant=False"):
        checkpoint(unsteady, x, use_reentrant=True, context_fn=lambda: None)


def test_a_modules_backward_hook_runs_once_in_the_recomputations_backward():
    layer = nn.Linear(4, 4)
    seen = []
    layer.register_full_backward_hook(lambda module, grad_in, grad_out: seen.append(grad_out[0].numpy().copy()))
    x = _input((3, 4))
    checkpoint(layer, x).sum().backward()
    checked = x.grad.numpy().copy()
    x.grad = None
    layer(x).sum().backward()
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], seen[1])
    np.testing.assert_array_equal(checked, x.grad.numpy())

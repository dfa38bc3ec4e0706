"""The first-order backward that runs every rule on NumPy arrays (``autograd._run_rules_on_numpy``) hands over to
the general loop at a node it cannot take; each case here would give a wrong gradient if the hand-over broke."""

from __future__ import annotations

import numpy as np

import ember


def _mlp(seed: int = 0):
    ember.manual_seed(seed)
    return ember.nn.Sequential(ember.nn.Linear(5, 4), ember.nn.ReLU(), ember.nn.Linear(4, 3))


def _reference_grads(net, x, y) -> list:
    """The gradients by finite differences of the float64 loss (the network is small)."""
    params = list(net.parameters())
    arrays = [p.detach().numpy().astype(np.float64) for p in params]

    def loss(values):
        w1, b1, w2, b2 = values
        h = np.maximum(x @ w1.T + b1, 0)
        z = h @ w2.T + b2
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -logp[np.arange(len(y)), y].mean()

    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            up = [v.copy() for v in arrays]
            down = [v.copy() for v in arrays]
            up[k][i] += 1e-6
            down[k][i] -= 1e-6
            g[i] = (loss(up) - loss(down)) / 2e-6
        grads.append(g)
    return grads


def _data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 3, 6)


def test_plain_backward_matches_finite_differences():
    net = _mlp()
    x, y = _data()
    ember.cross_entropy(net(ember.from_numpy(x)), ember.from_numpy(y)).backward()
    for p, ref in zip(net.parameters(), _reference_grads(net, x.astype(np.float64), y)):
        np.testing.assert_allclose(p.grad.numpy(), ref, rtol=1e-3, atol=1e-5)


def test_a_hook_on_a_middle_node_runs_and_replaces_the_gradient():
    net = _mlp()
    x, y = _data()
    hidden = net[1](net[0](ember.from_numpy(x)))
    seen = []

    def double(grad):
        seen.append(grad.numpy().copy())
        return grad * 2.0

    hidden.register_hook(double)
    ember.cross_entropy(net[2](hidden), ember.from_numpy(y)).backward()
    doubled = [p.grad.numpy().copy() for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    ember.cross_entropy(net(ember.from_numpy(x)), ember.from_numpy(y)).backward()
    plain = [p.grad.numpy() for p in net.parameters()]
    assert len(seen) == 1 and seen[0].shape == (6, 4)
    np.testing.assert_allclose(doubled[0], 2 * plain[0], rtol=1e-6)  # below the hook: doubled
    np.testing.assert_allclose(doubled[2], plain[2], rtol=1e-6)  # above it: unchanged


def test_gradients_accumulate_over_two_backward_calls():
    net = _mlp()
    x, y = _data()
    loss = ember.cross_entropy(net(ember.from_numpy(x)), ember.from_numpy(y))
    loss.backward(retain_graph=True)
    first = [p.grad.numpy().copy() for p in net.parameters()]
    loss.backward()
    for p, g in zip(net.parameters(), first):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-6)


def test_a_given_output_gradient_is_never_stored_as_a_leaf_gradient():
    x = ember.ones((2, 3), requires_grad=True)
    given = ember.full((6,), 2.0)
    x.reshape(6).backward(given)  # reshape's vjp passes the array through as a view
    x.grad.array += 1
    np.testing.assert_array_equal(given.numpy(), np.full(6, 2.0, np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0, np.float32))


def test_retain_grad_and_grad_capture_still_see_middle_gradients():
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * 3 * np.array([1.0, -2.0, 3.0]), rtol=1e-6)
    h2 = x * 3.0
    (dh,) = ember.grad((h2 * h2).sum(), h2)
    np.testing.assert_allclose(dh.numpy(), h.grad.numpy(), rtol=1e-6)


def _linear_grads(x, w, b, needs, create_graph):
    tensors = [ember.tensor(a, requires_grad=need) for a, need in zip((x, w, b), needs)]
    if tensors[1].array.ndim == 2:
        tensors[1].array = np.asfortranarray(tensors[1].array)  # nn.Linear's column-major layout
    out = ember.linear(*tensors)
    weights = np.linspace(-1.0, 1.0, out.array.size, dtype=np.float32).reshape(out.shape)
    (out * ember.tensor(weights)).sum().backward(create_graph=create_graph)
    return [t.grad.detach().numpy() if t.grad is not None else None for t in tensors], weights


def test_linear_rule_on_arrays_equals_it_on_tensors_for_every_rank_and_needs():
    rng = np.random.default_rng(2)
    for x_shape in ((3,), (4, 3), (2, 4, 3)):
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal((5, 3)).astype(np.float32)
        b = rng.standard_normal(5).astype(np.float32)
        for needs in ((True, True, True), (False, True, True), (True, False, False), (False, False, True)):
            on_arrays, weights = _linear_grads(x, w, b, needs, create_graph=False)
            on_tensors, _ = _linear_grads(x, w, b, needs, create_graph=True)  # the rule run with ops, recorded
            g = weights.reshape(-1, 5).astype(np.float64)
            expected = (g @ w.astype(np.float64)).reshape(x_shape), g.T @ x.reshape(-1, 3), g.sum(0)
            for got, same, ref, need in zip(on_arrays, on_tensors, expected, needs):
                assert (got is None) == (not need)
                if need:
                    np.testing.assert_array_equal(got, same)
                    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_scalar_loss_path_keeps_the_freed_graph_error_and_leaf_hooks():
    """``loss.backward()`` of a one-element loss takes its own short path: a second backward still fails
    without retain_graph, works with it (accumulating), and a hook on a leaf still sees and replaces its gradient."""
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10.0)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(seen[0], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 40.0, 60.0])
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [40.0, 80.0, 120.0])
    try:
        loss.backward()
    except RuntimeError as exc:
        assert "retain_graph" in str(exc)
    else:
        raise AssertionError("a third backward over a freed graph must fail")


def test_scalar_loss_seed_passed_through_to_two_leaves_gives_each_its_own_memory():
    a = ember.tensor(2.0, requires_grad=True)
    b = ember.tensor(3.0, requires_grad=True)
    (a + b).backward()
    assert a.grad.item() == 1.0 and b.grad.item() == 1.0
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[...] = 5.0  # in place on one gradient leaves the other as it was
    assert b.grad.item() == 1.0


def test_scalar_loss_path_leaves_post_accumulate_hooks_and_create_graph_to_the_general_engine():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = x.register_post_accumulate_grad_hook(lambda leaf: calls.append(leaf.grad.numpy().copy()))
    (x * x).sum().backward()
    handle.remove()
    np.testing.assert_array_equal(calls[0], [2.0, 4.0])
    y = ember.tensor([1.0, 2.0], requires_grad=True)
    (y * y * y).sum().backward(create_graph=True)
    assert y.grad.requires_grad  # 3y^2, recorded
    (gy,) = ember.grad(y.grad.sum(), y)
    np.testing.assert_allclose(gy.numpy(), [6.0, 12.0])

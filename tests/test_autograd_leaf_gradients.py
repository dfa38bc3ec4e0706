"""What backward does to a leaf's ``.grad`` on its fast paths: the first gradient is stored as it is, yet every
``.grad`` owns its memory; a later backward adds into it in place, so a gradient someone holds sees the sum
(PyTorch's AccumulateGrad)."""

import numpy as np
import pytest

import ember


def _mlp_step(net, optimizer, x, y, set_to_none=True):
    optimizer.zero_grad(set_to_none=set_to_none)
    loss = ember.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


@pytest.fixture
def mlp():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(6, 5), ember.nn.ReLU(), ember.nn.Linear(5, 3))
    rng = np.random.default_rng(0)
    x = ember.from_numpy(rng.standard_normal((4, 6)).astype(np.float32))
    y = ember.from_numpy(rng.integers(0, 3, 4))
    return net, x, y


def test_a_held_grad_is_unchanged_by_the_next_step_with_set_to_none(mlp):
    net, x, y = mlp
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    _mlp_step(net, optimizer, x, y)
    held = [p.grad for p in net.parameters()]
    snapshot = [g.numpy().copy() for g in held]
    _mlp_step(net, optimizer, x, y)
    for p, g, before in zip(net.parameters(), held, snapshot):
        np.testing.assert_array_equal(g.numpy(), before)
        assert p.grad is not g and not np.shares_memory(p.grad.numpy(), g.numpy())


def test_zeroing_in_place_then_backward_gives_the_fresh_gradient(mlp):
    net, x, y = mlp
    params = list(net.parameters())
    optimizer = ember.optim.SGD(params, lr=0.1, momentum=0.9)
    _mlp_step(net, optimizer, x, y, set_to_none=False)
    optimizer.zero_grad(set_to_none=False)
    held = [p.grad for p in params]
    for g in held:
        np.testing.assert_array_equal(g.numpy(), 0)
    expected = ember.grad(ember.cross_entropy(net(x), y), params)
    ember.cross_entropy(net(x), y).backward()
    for p, g, want in zip(params, held, expected):
        assert p.grad is g  # held by the caller: added into in place, as PyTorch (it was left at zeros)
        np.testing.assert_allclose(g.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)


def test_two_backward_calls_add_into_a_held_first_gradient():
    w = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    first = w.grad
    view = first[1:]
    (w * 3.0).sum().backward()
    assert w.grad is first  # held by the caller: added into in place, as PyTorch's AccumulateGrad
    np.testing.assert_allclose(first.numpy(), [5.0, 7.0, 9.0])
    np.testing.assert_allclose(view.numpy(), [7.0, 9.0])


def test_a_grad_assigned_as_a_view_of_a_buffer_accumulates_into_the_buffer():
    flat = ember.zeros(6, dtype="float64")
    w = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, dtype="float64")
    w.grad = flat[1:5].view(2, 2)
    (w * w).sum().backward()
    np.testing.assert_allclose(flat.numpy(), [0.0, 2.0, 4.0, 6.0, 8.0, 0.0])


def test_held_gradients_match_torch_across_steps():
    torch = pytest.importorskip("torch")
    values = np.random.default_rng(0).standard_normal((4, 3))
    held = {}
    for lib in (ember, torch):
        w = lib.tensor(values[0], requires_grad=True)
        (w * w).sum().backward()
        first = w.grad
        w.grad.zero_()
        for row in values[1:]:
            (w * lib.tensor(row)).sum().backward()
        held[lib] = (first is w.grad, first.detach().numpy().copy())
    assert held[ember][0] == held[torch][0]
    np.testing.assert_allclose(held[ember][1], held[torch][1])


def test_a_create_graph_gradient_is_stored_in_memory_of_its_own():
    # the caller's seed was stored as both leaves' .grad, so adding into a.grad changed b.grad and the seed
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    seed = ember.tensor([1.0, 1.0])
    (a + b).backward(seed, create_graph=True)  # add hands the seed, not recorded, to both inputs
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    assert not np.shares_memory(a.grad.numpy(), seed.numpy())
    (a * 2.0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(seed.numpy(), [1.0, 1.0])


def test_two_backward_calls_add_in_place_when_nobody_holds_the_gradient():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    address = w.grad.array.__array_interface__["data"][0]  # holding the array itself would count as holding it
    (w * 3.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [5.0, 7.0])
    assert w.grad.array.__array_interface__["data"][0] == address  # added in place, as PyTorch


def test_leaves_given_one_array_get_their_own_memory():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # add's vjp hands the same gradient to both inputs
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.array += 10
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_a_caller_s_root_gradient_is_not_stored_as_a_leaf_s_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seed = ember.tensor([5.0, 6.0])
    x.backward(seed)
    assert not np.shares_memory(x.grad.numpy(), seed.numpy())
    x.grad.array += 1
    np.testing.assert_allclose(seed.numpy(), [5.0, 6.0])


def test_a_read_only_gradient_is_copied_before_it_is_stored():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.sum().backward()  # sum's gradient is a broadcast (read-only) view
    assert x.grad.array.flags.writeable
    x.grad.array += 1
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_hooks_and_post_accumulate_hooks_still_run_on_the_fast_path():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: g * 2.0)
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 8.0])
    np.testing.assert_allclose(seen[0], [4.0, 8.0])


@pytest.mark.parametrize("traced", [False, True])
def test_a_post_accumulate_hook_returning_a_value_is_refused_as_torch(traced):
    # PyTorch: "Tensor post accumulate grad hooks should return None"; the returned gradient was ignored
    net = ember.nn.Linear(2, 1)
    net.weight.register_post_accumulate_grad_hook(lambda p: p.grad * 0.5)

    def step(x):
        loss = net(x).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="'<lambda>' returned .*post accumulate grad hooks should return None"):
        (ember.jit(step) if traced else step)(ember.ones(3, 2))


def test_create_graph_grads_stay_differentiable():
    x = ember.tensor([3.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = ember.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [18.0])


@pytest.mark.parametrize("grad, error, message", [
    (lambda: ember.tensor([0.5]), RuntimeError, r"different size: grad shape \[1\], tensor shape \[3\]"),
    (lambda: ember.ones(3, dtype="float64"), RuntimeError, r"different type: grad dtype float64, tensor dtype float32"),
    (lambda: np.ones(3, np.float32), TypeError, r"Tensor or None but got grad of type ndarray"),
])
def test_assigning_a_grad_checks_it_as_torch(grad, error, message):
    # a (1,) gradient broadcast into every element of the SGD update: the step moved all three weights by 0.5
    p = ember.nn.Parameter(ember.ones(3))
    with pytest.raises(error, match=message):
        p.grad = grad()
    assert p.grad is None
    p.grad = ember.full((3,), 2.0)
    ember.optim.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.detach().numpy(), [0.0, 0.0, 0.0])

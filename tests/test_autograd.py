"""Semantics of the eager tape: backward and grad, accumulation, retained and differentiable graphs, grad
modes, hooks, and the errors a user meets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember


def _x(values, **kw):
    return ember.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, **kw)


def _np(t):
    return t.detach().numpy()


def test_grad_accumulates_across_backward_calls():
    x = _x([1.0, 2.0])
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [2 + 3, 4 + 3])
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [2, 4])


def test_leaf_grad_is_detached():
    x = _x([1.0])
    (x * x).sum().backward()
    assert not x.grad.requires_grad and x.grad.is_leaf


def test_retain_graph_allows_a_second_backward():
    x = _x([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    expected = 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])))
    np.testing.assert_allclose(_np(x.grad), expected)


def test_second_backward_without_retain_graph_raises():
    x = _x([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_grad_after_freed_graph_raises():
    x = _x([1.0])
    y = (x * x).sum()
    ember.grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        ember.grad(y, x)


def test_third_derivative_of_x_to_the_fourth():
    x = _x([1.5, -2.0])
    (d1,) = ember.grad((x ** 4).sum(), x, create_graph=True)
    (d2,) = ember.grad(d1.sum(), x, create_graph=True)
    (d3,) = ember.grad(d2.sum(), x)
    v = np.array([1.5, -2.0])
    np.testing.assert_allclose(_np(d1), 4 * v ** 3)
    np.testing.assert_allclose(_np(d2), 12 * v ** 2)
    np.testing.assert_allclose(_np(d3), 24 * v)


def test_backward_with_create_graph_gives_differentiable_grad():
    x = _x([2.0])
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = ember.grad(x.grad.sum(), x)
    np.testing.assert_allclose(_np(g2), [12.0])  # 6x


def test_no_grad_context_and_decorator():
    x = _x([1.0])
    with ember.no_grad():
        assert not ember.is_grad_enabled()
        y = x * 2
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @ember.no_grad()
    def double(t):
        """Doc kept."""
        return t * 2

    assert not double(x).requires_grad
    assert double.__name__ == "double" and double.__doc__ == "Doc kept."
    assert ember.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = _x([1.0])
    with ember.no_grad():
        with ember.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

        @ember.enable_grad()
        def f(t):
            return t * 2

        assert f(x).requires_grad
    assert ember.is_grad_enabled()


def test_grad_for_an_intermediate_runs_only_the_nodes_after_it():
    # every node reachable from the output was walked and run, so a part upstream of h that an earlier backward
    # had freed made the call fail (PyTorch runs only the nodes on the way: [2.3198, 2.4826]), and hooks there ran
    x = _x([1.0, 2.0])
    h = x.sin()
    y = h.exp()
    h.sum().backward()  # frees sin's node
    upstream = []
    x.register_hook(lambda g: upstream.append(g))
    (g,) = ember.grad(y.sum(), h)
    np.testing.assert_allclose(_np(g), np.exp(np.sin([1.0, 2.0])))
    assert not upstream


def test_no_grad_and_enable_grad_as_bare_decorators():
    x = _x([1.0])

    @ember.no_grad
    def off(t):
        """Doc kept."""
        return t * 2

    @ember.enable_grad
    def on(t):
        return t * 2

    assert not off(x).requires_grad and off.__doc__ == "Doc kept."
    with ember.no_grad():
        assert on(x).requires_grad
    assert ember.is_grad_enabled()


def test_set_grad_enabled_as_a_call():
    x = _x([1.0])
    try:
        ember.set_grad_enabled(False)
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_set_grad_enabled_as_a_context_manager():
    x = _x([1.0])
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    restored = ember.is_grad_enabled()
    ember.set_grad_enabled(True)  # repair the global state for the other tests before asserting
    assert restored, "the with block did not restore grad mode"
    with ember.no_grad():
        with ember.set_grad_enabled(True):
            assert (x * 2).requires_grad
        restored = not ember.is_grad_enabled()
    ember.set_grad_enabled(True)
    assert restored


def test_set_grad_enabled_as_a_decorator_switches_only_inside_the_function():
    @ember.set_grad_enabled(False)
    def inside():
        return ember.is_grad_enabled()

    after_decorating = ember.is_grad_enabled()
    ember.set_grad_enabled(True)  # repair the global state for the other tests before asserting
    assert after_decorating, "decorating switched grad mode off for the whole thread"
    assert inside() is False and ember.is_grad_enabled()


def test_one_grad_mode_object_entered_inside_itself_restores_each_level():
    guard = ember.no_grad()
    with guard:
        with guard:
            pass
        inner = ember.is_grad_enabled()
    outer = ember.is_grad_enabled()
    ember.set_grad_enabled(True)
    assert inner is False and outer is True


def test_grad_mode_decorator_on_a_generator_holds_while_it_runs():
    @ember.no_grad()
    def steps():
        received = yield ember.is_grad_enabled()
        yield received, ember.is_grad_enabled()
        return "done"

    it = steps()
    assert next(it) is False
    assert ember.is_grad_enabled()  # the caller's mode between steps
    assert it.send("sent") == ("sent", False)
    with pytest.raises(StopIteration, match="done"):
        next(it)
    assert ember.is_grad_enabled()


def test_inference_mode_decorator_on_a_generator_holds_while_it_runs():
    w = _x([1.0, 2.0])

    @ember.inference_mode()
    def steps():
        yield (w * 2).requires_grad, ember.is_inference_mode_enabled()

    it = steps()
    assert next(it) == (False, True)  # as PyTorch: the body runs in the mode, not only the call making it
    assert ember.is_grad_enabled() and not ember.is_inference_mode_enabled()
    assert list(ember.inference_mode(steps.__wrapped__)()) == [(False, True)]


def test_exception_inside_no_grad_restores_mode():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError("boom")
    assert ember.is_grad_enabled()


def test_leaf_hook_replaces_gradient():
    x = _x([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(_np(g).copy()))
    x.register_hook(lambda g: g * 10.0)
    (x * x).sum().backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    np.testing.assert_allclose(_np(x.grad), [20.0, 40.0])


def test_non_leaf_hook_changes_what_flows_back():
    x = _x([1.0, 2.0])
    y = x * 3.0
    handle = y.register_hook(lambda g: g * 0.0 + 1.0)
    (y * y).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [3.0, 3.0])  # d(y*y)/dy replaced by 1, times dy/dx = 3
    handle.remove()
    x.grad = None
    y = x * 3.0
    (y * y).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [18.0, 36.0])


def test_hook_removal_on_leaf():
    x = _x([1.0])
    handle = x.register_hook(lambda g: g * 100.0)
    handle.remove()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [2.0])


def test_register_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="require grad"):
        ember.tensor([1.0]).register_hook(lambda g: g)


@pytest.mark.parametrize("leaf", [True, False])
@pytest.mark.parametrize(("hook", "error", "match"), [
    (lambda g: g.reshape(1, 3), RuntimeError, r"changed the shape of the gradient from \[3\] to \[1, 3\]"),
    (lambda g: g.sum(), RuntimeError, r"changed the shape of the gradient from \[3\] to \[\]"),
    (lambda g: g.float(), RuntimeError, "changed the dtype of the gradient from float64 to float32"),
    (lambda g: np.ones(3), TypeError, "returned ndarray"),
    (lambda g: 2.0, TypeError, "returned float"),
])
def test_a_hook_returning_another_shape_dtype_or_no_tensor_is_refused(leaf, hook, error, match):
    # PyTorch refuses these; the shape and dtype were taken silently, a number failed on an AttributeError
    x = _x([1.0, 2.0, 3.0])
    y = x if leaf else x * 2.0
    y.register_hook(hook)
    with pytest.raises(error, match=match):
        (y * y).sum().backward()
    with pytest.raises(error, match=match):
        ember.grad((y * y).sum(), x, create_graph=True)


def test_retain_grad_keeps_non_leaf_gradient():
    x = _x([1.0, -2.0])
    y = x * x
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(_np(y.grad), 2 * np.array([1.0, 4.0]))
    np.testing.assert_allclose(_np(x.grad), 4 * np.array([1.0, -8.0]))
    z = x * 1.0
    with pytest.warns(UserWarning, match="grad: this tensor is not a leaf"):  # as PyTorch's (it was silent)
        assert z.grad is None  # not retained
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert y.grad is not None and x.grad is not None  # a retained non-leaf and a leaf read without one
        w = x * 3.0
        w.retain_grad()
        assert w.grad is None  # retained, before its backward
        w.sum().backward(inputs=[w])  # (filled through backward's inputs=, without a warning)
        assert w.grad.tolist() == [1.0, 1.0]


def test_retain_grad_keeps_the_gradient_after_every_hook_once():
    # as PyTorch: a second retain_grad changes nothing, and .grad holds what hooks registered later make
    x = _x([1.0, -2.0])
    y = x * x
    y.retain_grad()
    y.retain_grad()
    y.register_hook(lambda g: g * 10)
    (y * 3.0).sum().backward()
    np.testing.assert_allclose(_np(y.grad), [30.0, 30.0])
    np.testing.assert_allclose(_np(x.grad), 60.0 * np.array([1.0, -2.0]))


def test_array_gradients_meet_tensor_gradients_hooks_and_leaves():
    # mul and relu run their rules on arrays, add its vjp on Tensors: their gradients meet in y and in the
    # leaf x, and a hook on y sees a Tensor
    x = _x([1.0, -2.0, 3.0])
    w = _x([0.5, 0.5, 0.5])
    y = ember.relu(x)
    seen = []
    y.register_hook(lambda g: seen.append(isinstance(g, ember.Tensor)))
    z = y * w + y + x
    (z * z).sum().backward()
    relu, zv = np.array([1.0, 0.0, 1.0]), np.array([2.5, -2.0, 7.5])
    np.testing.assert_allclose(_np(x.grad), 2 * zv * ((0.5 + 1.0) * relu + 1.0))
    np.testing.assert_allclose(_np(w.grad), 2 * zv * np.array([1.0, 0.0, 3.0]))
    assert seen == [True]
    (gy,) = ember.grad((ember.relu(x) * w + x).sum(), [x])
    assert isinstance(gy, ember.Tensor) and gy.array.flags.writeable
    np.testing.assert_allclose(_np(gy), 0.5 * relu + 1.0)


def test_grad_returns_without_touching_dot_grad():
    x, w = _x([1.0, 2.0]), _x([3.0, 4.0])
    gx, gw = ember.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(_np(gx), [3.0, 4.0])
    np.testing.assert_allclose(_np(gw), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_of_intermediate_and_with_grad_outputs():
    x = _x([1.0, 2.0])
    y = x * x
    (gy,) = ember.grad((y * 3.0).sum(), y)
    np.testing.assert_allclose(_np(gy), [3.0, 3.0])
    x2 = _x([1.0, 2.0])
    (g,) = ember.grad(x2 * x2, x2, grad_outputs=ember.tensor([1.0, 10.0], dtype="float64"))
    np.testing.assert_allclose(_np(g), [2.0, 40.0])


def test_grad_allow_unused():
    x, unused = _x([1.0]), _x([2.0])
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        ember.grad(y, [x, unused], retain_graph=True)
    gx, gu = ember.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_allclose(_np(gx), [2.0])
    assert gu is None


def test_grad_input_without_requires_grad_raises():
    x = _x([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.grad((x * 2).sum(), ember.tensor([1.0]))


def test_backward_of_non_scalar_needs_gradient():
    x = _x([1.0, 2.0])
    with pytest.raises(RuntimeError, match="one-element"):
        (x * 2).backward()
    (x * 2).backward(ember.tensor([1.0, 1.0], dtype="float64"))
    np.testing.assert_allclose(_np(x.grad), [2.0, 2.0])


def test_backward_gradient_of_wrong_shape_raises():
    x = _x([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"\[3\]"):
        (x * 2).backward(ember.tensor([1.0, 1.0, 1.0]))


def test_backward_without_history_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.tensor([1.0]).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating"):
        ember.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating"):
        ember.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating"):
        ember.zeros(2, dtype="int64", requires_grad=True)


def test_integer_results_carry_no_gradient():
    x = _x([1.5, 2.5])
    assert not x.argmax().requires_grad
    assert not (x > 2).requires_grad
    assert not x.long().requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x > 2).sum().backward()


def test_broadcast_gradients_reduce_to_input_shapes():
    x, y = _x(np.arange(3.0).reshape(3, 1)), _x(np.arange(4.0).reshape(1, 4))
    b = _x(2.0)
    ((x * y) + b).sum().backward()
    np.testing.assert_allclose(_np(x.grad), np.full((3, 1), 6.0))
    np.testing.assert_allclose(_np(y.grad), np.full((1, 4), 3.0))
    assert b.grad.shape == () and b.grad.item() == 12.0


def test_reused_non_leaf_value():
    # micrograd #64: a recursive backward mishandles a value used twice
    x = _x([1.5, -0.5])
    y = x * x
    z = y + y * y
    z.sum().backward()
    v = np.array([1.5, -0.5])
    np.testing.assert_allclose(_np(x.grad), 2 * v + 4 * v ** 3)


def test_diamond_graph_counts_each_path_once():
    x = _x([2.0])
    a, b = x * 3.0, x * 5.0
    ((a + b) * (a - b)).sum().backward()  # 9x^2 - 25x^2 = -16x^2
    np.testing.assert_allclose(_np(x.grad), [-64.0])


def test_deep_chain_has_no_recursion_limit():
    x = _x([1.0])
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [1.0001 ** 5000], rtol=1e-9)


def test_detach_cuts_the_graph():
    x = _x([3.0])
    y = x * x
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    (d * x).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [9.0])  # d treated as the constant 9
    assert np.shares_memory(d.numpy(), y.detach().numpy())


def test_stop_gradient_cuts_the_graph_eagerly_and_under_jit():
    def step(x):
        loss = (x * x + ember.stop_gradient(x * x) * x).sum()
        loss.backward()
        return loss

    x = _x([3.0])
    assert not ember.stop_gradient(x * x).requires_grad
    step(x)
    np.testing.assert_allclose(_np(x.grad), [15.0])  # 2x + the constant x * x
    traced = ember.jit(step)
    for _ in range(2):
        x.grad = None
        np.testing.assert_allclose(_np(traced(x)), [36.0])
        np.testing.assert_allclose(_np(x.grad), [15.0])


def test_detach_in_place_turns_tensor_into_leaf():
    x = _x([2.0])
    y = (x * x).detach_()
    assert y.is_leaf and not y.requires_grad


def test_in_place_updates_of_requires_grad_tensors_raise():
    x = _x([1.0, 2.0])
    with pytest.raises(RuntimeError, match="requires grad"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="requires grad"):
        x.add_(1.0)
    with ember.no_grad():
        x[0] = 5.0
        x.mul_(2.0)
    np.testing.assert_allclose(_np(x), [10.0, 4.0])


def test_backward_refuses_values_written_in_place_after_the_forward():
    # as PyTorch's version check: the gradient would silently use the new values
    w = _x([1.0, 2.0])
    y = (w * w).sum()
    with ember.no_grad():
        w.mul_(10)
    with pytest.raises(RuntimeError, match=r"an input of mul, float64\[2\]\) was modified by an in-place"):
        y.backward()
    x = ember.tensor(np.array([3.0, 4.0]))
    z = (w * x).sum()
    x[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        ember.grad(z, w)
    e = w.exp()  # exp's gradient reads its saved output
    with ember.no_grad():
        e.mul_(2)
    with pytest.raises(RuntimeError, match="the output of exp"):
        (e * 3.0).sum().backward()
    with pytest.raises(RuntimeError, match="the output of exp"):
        e.sum().exp().backward()  # (the root's own node too)


def test_backward_refuses_values_written_through_a_view_or_an_alias():
    # as PyTorch, whose views and detach() share their base's version counter: the memory was written
    w = _x([1.0, 2.0, 3.0, 4.0])
    a = ember.tensor(np.array([1.0, 2.0, 3.0, 4.0]))
    y = (w * a).sum()
    a.view(2, 2)[1].mul_(10)  # a view of a view of what mul read
    with pytest.raises(RuntimeError, match=r"an input of mul, float64\[4\]\) was modified by an in-place"):
        y.backward()
    v = a[1:3]
    z = (w[1:3] * v).sum()
    a.zero_()  # the base of what mul read
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        z.backward()
    e = w.exp()
    e.detach().mul_(2)  # exp's gradient reads its saved output
    with pytest.raises(RuntimeError, match="the output of exp"):
        e.sum().backward()


def test_an_optimizer_step_between_forward_and_backward_is_refused():
    # two optimizers over one graph (GAN training): the step writes the weights the linear gradient reads
    layer = ember.nn.Linear(2, 1)
    opt = ember.optim.SGD(layer.parameters(), lr=1.0)
    x = ember.tensor([[1.0, 2.0]], requires_grad=True)
    out = layer(x).sum()
    layer.weight.grad = ember.ones_like(layer.weight)
    opt.step()
    with pytest.raises(RuntimeError, match="an input of linear"):
        out.backward()
    out = layer(x).sum()  # a forward after the step is fine, and so is the usual loop
    out.backward()
    opt.step()
    opt.zero_grad()
    layer(x).sum().backward()


def test_writes_through_data_are_not_seen_by_autograd():
    # PyTorch's .data: a write through it is not checked (legacy optimizer code relies on it)
    w = _x([1.0, 2.0])
    y = (w * 3.0).sum()
    w.data.mul_(2)
    y.backward()
    np.testing.assert_allclose(_np(w.grad), [3.0, 3.0])


def test_in_place_update_without_grad_is_allowed():
    x = ember.tensor([1.0, 2.0, 3.0])
    x[1] = 7.0
    x.sub_(1.0)
    np.testing.assert_allclose(x.numpy(), [0.0, 6.0, 2.0])


def test_requires_grad_false_on_non_leaf_raises():
    x = _x([1.0])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).requires_grad_(False)


def test_grad_fn_and_is_leaf():
    x = _x([1.0])
    y = x.exp()
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn.op.name == "exp"


def test_leaves_not_requiring_grad_get_no_grad():
    x, c = _x([1.0]), ember.tensor([2.0], dtype="float64")
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_grad_mode_is_not_recorded_for_integer_only_ops():
    a = ember.tensor([1, 2])
    assert not (a + 1).requires_grad


def test_an_op_on_inputs_from_two_devices_names_them(monkeypatch):
    """The error path of apply (the GPU test runs it for real: tests/test_gpu.py)."""
    from ember.backend import devices

    a, b = ember.randn(2, 3), ember.randn(4, 2)  # the product fails, and a claims to live on the GPU
    real = devices.device_of
    monkeypatch.setattr(devices, "device_of", lambda array: ember.device("cuda") if array is a.array else real(array))
    with pytest.raises(RuntimeError, match=r"matmul: expected all inputs on one device, got float32\[2, 3\] on "
                                           r"cuda:0, float32\[4, 2\] on cpu"):
        a @ b


def test_grad_outputs_that_require_grad_stay_in_a_recorded_backward():
    # torch.autograd.grad(y, x, u, create_graph=True) is differentiable in u (the double-vjp gives jvps)
    x = _x([1.0, 2.0])
    u = _x([0.0, 0.0])
    (g,) = ember.grad(x * x, x, grad_outputs=u, create_graph=True)
    assert g.requires_grad
    (gu,) = ember.grad((g * ember.tensor([3.0, 5.0], dtype="float64")).sum(), u)
    np.testing.assert_allclose(_np(gu), [2 * 1.0 * 3.0, 2 * 2.0 * 5.0])


def test_grad_takes_pytorchs_arguments():
    x, unused = _x([1.0, 2.0]), _x([5.0])
    # torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, only_inputs, allow_unused, ...)
    g, none = ember.autograd.grad((x * x).sum(), (x, unused), None, None, False, True, True)
    assert none is None and _np(g).tolist() == [2.0, 4.0]
    g, zero = ember.autograd.grad((x * x).sum(), (x, unused), materialize_grads=True)
    assert _np(zero).tolist() == [0.0] and not zero.requires_grad
    with pytest.raises(ValueError, match="allow_unused must be True or not given when materialize_grads=True"):
        ember.autograd.grad((x * x).sum(), (x, unused), allow_unused=False, materialize_grads=True)
    (rows,) = ember.autograd.grad(x * x, x, ember.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype="float64"),
                                  is_grads_batched=True)
    np.testing.assert_allclose(_np(rows), [[2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    with pytest.raises(RuntimeError, match=r"is_grads_batched=True needs grad_outputs .* got shapes \[\[\]\]"):
        ember.autograd.grad((x * x).sum(), x, ember.tensor(1.0, dtype="float64"), is_grads_batched=True)


@pytest.mark.parametrize("name, fn", [
    ("sign", lambda m, x, y: m.sign(x)), ("floor", lambda m, x, y: m.floor(x)), ("ceil", lambda m, x, y: m.ceil(x)),
    ("trunc", lambda m, x, y: m.trunc(x)),
    ("div_trunc", lambda m, x, y: m.div(x, y, rounding_mode="trunc")),
    ("div_floor", lambda m, x, y: m.div(x, y, rounding_mode="floor")),
])
def test_piecewise_constant_ops_give_zero_gradients_as_pytorch(name, fn):
    # their outputs did not require grad: x.grad stayed None (torch: zeros), and a loss built only from them could
    # not call backward at all (x // y gives the same zeros, where torch's floor_divide has no derivative)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)) * 3, rng.standard_normal(4) + 2.0
    x, y = _x(a), _x(b)
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (a, b))
    out, expected = fn(ember, x, y), fn(torch, tx, ty)
    assert out.requires_grad and expected.requires_grad
    (out * 2).sum().backward()
    (expected * 2).sum().backward()
    np.testing.assert_array_equal(_np(out), expected.detach().numpy())
    np.testing.assert_array_equal(_np(x.grad), tx.grad.numpy())
    if ty.grad is not None:
        np.testing.assert_array_equal(_np(y.grad), ty.grad.numpy())
        assert y.grad.shape == (4,)
    x.data.add_(1.0)  # the gradient reads no value: a write after the forward leaves backward valid, as in PyTorch
    fn(ember, x, y).sum().backward()


@pytest.mark.parametrize("how", ["backward", "backward_create_graph", "grad"])
def test_an_integer_tensor_made_to_require_grad_by_assignment_is_refused_at_backward(how):
    # x.requires_grad = True (a plain attribute) skips requires_grad_'s check: backward then gave x the int64
    # gradient [2, 2] (and autograd.grad returned it), where PyTorch refuses the assignment itself
    x = ember.tensor([1, 2])
    x.requires_grad = True
    w = _x([1.0, 2.0])
    loss = (x * w).sum() + (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"dtype int64 and shape \[2\] requires grad|input 0 \(int64\[2\]\)"):
        if how == "grad":
            ember.autograd.grad(loss, [x, w])
        else:
            loss.backward(create_graph=how == "backward_create_graph")
    assert x.grad is None

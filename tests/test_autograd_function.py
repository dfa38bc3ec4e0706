"""Custom autograd Functions (``ember.autograd.Function``): the ctx, several outputs, non-Tensor arguments,
checks on what backward returns, second-order gradients, ``once_differentiable``, in-place forwards, training,
finite differences in float64, and graph mode."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import ember
from ember import nn
from ember.autograd import Function, once_differentiable
from ember.autograd.functional import jacobian


def _x(values, **kw):
    return ember.tensor(np.asarray(values, dtype=np.float64), requires_grad=True, **kw)


def _np(t):
    return t.detach().numpy()


class Cube(Function):
    """x ** 3 with a backward written in Ember ops (so it differentiates again)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class ScaledSplit(Function):
    """(x * scale + y, x * y): two outputs, a Python float argument and a keyword with a default."""

    @staticmethod
    def forward(ctx, x, y, scale, shift=0.0):
        ctx.save_for_backward(x, y)
        ctx.scale = scale
        return x * scale + y + shift, x * y

    @staticmethod
    def backward(ctx, g_sum, g_prod):
        x, y = ctx.saved_tensors
        gx = g_sum * ctx.scale + g_prod * y if ctx.needs_input_grad[0] else None
        gy = g_sum + g_prod * x if ctx.needs_input_grad[1] else None
        return gx, gy, None, None


def _finite_differences(fn, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The Jacobian of ``fn`` (NumPy float64 in and out) by central differences: (out.size, x.size)."""
    base = fn(x)
    jac = np.zeros((base.size, x.size))
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        jac[:, j] = ((fn(x + step.reshape(x.shape)) - fn(x - step.reshape(x.shape))) / (2 * eps)).ravel()
    return jac


def test_forward_saves_tensors_and_backward_reads_them():
    x = _x([1.0, -2.0, 0.5])
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn.op.name == "CubeBackward"
    assert y.grad_fn.name() == "CubeBackward"  # PyTorch's name (it was "CubebackwardBackward0")
    (y * ember.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    np.testing.assert_allclose(_np(x.grad), 3 * np.array([1.0, 4.0, 0.25]) * [1, 2, 3])


def test_the_forward_runs_without_recording():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            seen.append((ember.is_grad_enabled(), y.requires_grad))
            return y

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    Probe.apply(_x([1.0]))
    assert seen == [(False, False)]


def test_two_outputs_non_tensor_arguments_and_needs_input_grad():
    x, y = _x([1.0, 2.0]), ember.tensor([3.0, 4.0], dtype="float64")
    s, p = ScaledSplit.apply(x, y, 5.0, shift=1.0)
    np.testing.assert_allclose(_np(s), [9.0, 15.0])
    np.testing.assert_allclose(_np(p), [3.0, 8.0])
    (s.sum() + (p * p).sum()).backward()
    np.testing.assert_allclose(_np(x.grad), 5.0 + 2 * _np(p) * [3.0, 4.0])
    assert y.grad is None


def test_one_output_unused_gets_zeros_or_none():
    got = []

    class Pair(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            got.append(g2)
            return g1 * 2, None

    for materialize in (True, False):
        x = _x([1.0, 2.0])
        Pair.apply(x, materialize)[0].sum().backward()
        np.testing.assert_allclose(_np(x.grad), [2.0, 2.0])
    assert got[1] is None and np.array_equal(_np(got[0]), [0.0, 0.0])


def test_non_differentiable_and_integer_outputs_do_not_require_grad():
    class TopOne(Function):
        @staticmethod
        def forward(ctx, x):
            index = x.argmax(dim=-1, keepdim=True)
            mask = x > 0
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(index)
            ctx.shape = x.shape
            return x.gather(-1, index), index, mask

        @staticmethod
        def backward(ctx, g, g_index, g_mask):
            (index,) = ctx.saved_tensors
            return ember.zeros(ctx.shape, dtype=g.dtype).scatter(-1, index, g)

    x = _x([[1.0, 3.0, -2.0], [4.0, 0.5, 1.0]])
    top, index, mask = TopOne.apply(x)
    assert top.requires_grad and not index.requires_grad and not mask.requires_grad
    top.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [[0, 1, 0], [1, 0, 0]])


def test_an_input_returned_non_differentiable_takes_no_gradient():
    class Clamped(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_non_differentiable(x)
            return x, x * 2

        @staticmethod
        def backward(ctx, g, g2):
            return 2 * g2

    x = _x([1.0, 2.0])
    a = x * 3
    y, z = Clamped.apply(a)
    assert y is not a and not y.requires_grad and a.requires_grad  # PyTorch's: no gradient flows through y
    (y * 10 + z).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [6.0, 6.0])  # (it was 36: y's 10 went back through a's history)


def test_setup_context_style():
    class Mul(Function):
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, grad):
            x, y = ctx.saved_tensors
            return grad * y, grad * x

    x, y = _x([2.0]), _x([5.0])
    Mul.apply(x, y).sum().backward()
    assert (x.grad.item(), y.grad.item()) == (5.0, 2.0)


def test_a_backward_in_ember_ops_differentiates_again():
    x = _x([1.5, -0.5])
    (g,) = ember.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(_np(g), 3 * _np(x) ** 2)
    (gg,) = ember.grad(g.sum(), x)
    np.testing.assert_allclose(_np(gg), 6 * _np(x))


def test_outputs_returned_as_inputs_get_their_own_history():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 10

    x = _x([1.0, 2.0])
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [10.0, 10.0])


def test_mark_dirty_moves_the_input_onto_the_function():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    a = _x([1.0, 2.0])
    b = a * 1
    c = Double.apply(b)
    assert c is b and b.grad_fn.op.name == "DoubleBackward"
    (c * c).sum().backward()
    np.testing.assert_allclose(_np(a.grad), 8 * _np(a))
    with pytest.raises(RuntimeError, match="Double: a leaf tensor that requires grad"):
        Double.apply(_x([1.0]))


def test_mark_dirty_refuses_a_value_another_node_saved():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    a = _x([1.0, 2.0])
    c = Double.apply(a.exp())  # exp's vjp reads its output, which the forward then overwrites
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        c.sum().backward()


class _SavedExp(Function):
    """exp, saving its output for backward."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y


def test_a_saved_output_changed_in_place_after_the_call_is_an_error():
    y = _SavedExp.apply(_x([0.0, 1.0]))
    y.mul_(2)  # the backward would read 2 * exp(x) (a gradient twice PyTorch's, which refuses)
    with pytest.raises(RuntimeError, match="ExpBackward: a saved tensor .* modified by an in-place operation"):
        y.sum().backward()
    with ember.no_grad():
        z = _SavedExp.apply(_x([0.0]))
    z2 = _SavedExp.apply(_x([0.0]))
    z2.sum().backward(retain_graph=True)  # unchanged: no error, and one written under no_grad is refused too
    with ember.no_grad():
        z2.add_(1)
    with pytest.raises(RuntimeError, match="ExpBackward: a saved tensor"):
        z2.sum().backward()
    assert not z.requires_grad


def test_once_differentiable_runs_without_recording_and_refuses_a_second_order():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            assert not ember.is_grad_enabled()
            return grad * 2 * x

    x = _x([3.0])
    Square.apply(x).sum().backward()
    assert x.grad.item() == 6.0
    (g,) = ember.grad(Square.apply(x).sum(), x, create_graph=True)
    assert g.item() == 6.0
    with pytest.raises(RuntimeError, match="Square: trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        ember.grad(g.sum(), x)


def test_a_wrong_number_of_gradients_is_an_error():
    class Two(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match=r"TwoBackward: backward gave 1 gradients for 2 forward inputs"):
        Two.apply(_x([1.0]), 2.0).sum().backward()


def test_a_gradient_for_a_non_tensor_argument_is_an_error():
    class Scale(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    with pytest.raises(RuntimeError, match=r"gradient \(not None\) for forward input 2, which is a float, not a "
                                           "Tensor"):
        Scale.apply(_x([1.0]), 2.0).sum().backward()


def test_a_gradient_of_the_wrong_shape_is_an_error_and_a_broadcast_one_is_summed():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x, broadcast):
            ctx.broadcast = broadcast
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return (grad * ember.ones(4, 2, dtype=grad.dtype) if ctx.broadcast else grad[:1]), None

    x = _x([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"WrongBackward: backward's gradient 0 has shape \[1\], which does not "
                                           r"broadcast to its input's shape \[2\]"):
        Wrong.apply(x, False).sum().backward()
    Wrong.apply(x, True).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [4.0, 4.0])


def test_a_complex_gradient_for_a_real_input_is_an_error():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * ember.tensor(2 + 1j)

    with pytest.raises(RuntimeError, match=r"TwiceBackward: backward's gradient 0 is complex .* real input"):
        Twice.apply(_x([1.0, 2.0])).sum().backward()  # (its imaginary part was dropped, as PyTorch refuses)


def test_a_keyword_only_tensor_that_requires_grad_is_an_error():
    class Scale(Function):
        @staticmethod
        def forward(ctx, x, *, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.k

    with pytest.raises(TypeError, match="Scale.apply: keyword-only argument 'k' .* would get no gradient"):
        Scale.apply(_x([1.0]), k=_x([3.0]))  # (k.grad stayed None; PyTorch refuses keyword arguments)
    np.testing.assert_array_equal(_np(Scale.apply(_x([1.0]), k=ember.tensor([3.0]))), [3.0])


def test_a_gradient_that_is_not_a_tensor_is_an_error():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad.numpy()

    with pytest.raises(TypeError, match="BadBackward returned a ndarray as the gradient at position 1"):
        Bad.apply(_x([1.0])).sum().backward()


def test_calling_an_instance_or_a_missing_backward_is_an_error():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(RuntimeError, match=r"NoBackward\.apply"):
        NoBackward()(_x([1.0]))
    with pytest.raises(NotImplementedError, match="forward and backward as staticmethods"):
        NoBackward.apply(_x([1.0])).sum().backward()
    with pytest.raises(TypeError, match=r"NoBackward\.apply: .*forward\(ctx, x\)"):
        NoBackward.apply(_x([1.0]), 2)


def test_second_backward_without_retain_graph_is_an_error():
    x = _x([1.0])
    y = Cube.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 6.0
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_no_input_requiring_grad_records_nothing():
    y = Cube.apply(ember.tensor([2.0]))
    assert not y.requires_grad and y.item() == 8.0
    with ember.no_grad():
        assert not Cube.apply(_x([2.0])).requires_grad


def test_an_input_returned_under_no_grad_takes_no_gradient():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x, x * 2

        @staticmethod
        def backward(ctx, g, g2):
            return g + 2 * g2

    x = _x([1.0, 2.0])
    with ember.no_grad():
        y, z = Identity.apply(x)
    assert y is not x and not y.requires_grad and not z.requires_grad  # PyTorch's alias without gradient
    np.testing.assert_array_equal(_np(y), [1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):  # (it used to flow into x.grad)
        (y * 2).sum().backward()
    assert x.grad is None and x.requires_grad


def test_hooks_on_outputs_and_inputs_see_the_gradients():
    x = _x([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(("x", _np(g))))
    y = Cube.apply(x)
    y.register_hook(lambda g: g * 2)
    y.sum().backward()
    np.testing.assert_allclose(seen[0][1], 6 * _np(x) ** 2)


class Softsign(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x / (1 + x.abs())

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1 + x.abs()) ** 2


def test_jacobians_equal_finite_differences_in_float64():
    rng = np.random.default_rng(0)
    x0, y0 = rng.standard_normal((2, 3)), rng.standard_normal(3)
    for i, (f, reference) in enumerate([
        (lambda x: Softsign.apply(x), lambda x: x / (1 + np.abs(x))),
        (lambda x: Cube.apply(x).sin(), lambda x: np.sin(x ** 3)),
        (lambda x: ScaledSplit.apply(x, ember.tensor(y0), 0.5)[1], lambda x: x * y0),
    ]):
        jac = _np(jacobian(f, ember.tensor(x0)))
        np.testing.assert_allclose(jac.reshape(x0.size, x0.size), _finite_differences(reference, x0), rtol=1e-6,
                                   atol=1e-8, err_msg=f"case {i}")
    # second order: the Jacobian of the gradient, through a backward written in Ember ops
    gradient = lambda x: ember.grad(Cube.apply(x).sum(), x, create_graph=True)[0]  # noqa: E731
    hess = _np(jacobian(gradient, ember.tensor(x0), create_graph=True))
    np.testing.assert_allclose(hess.reshape(6, 6), _finite_differences(lambda x: 3 * x * x, x0), rtol=1e-6, atol=1e-8)


def test_a_function_trains_in_a_small_model():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 16), nn.Linear(16, 1)

        def forward(self, x):
            return self.b(Softsign.apply(self.a(x)))

    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:] * 4).astype(np.float32)
    net = Net()
    opt = ember.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(200):
        loss = ember.mse_loss(net(ember.tensor(x)), ember.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]


def test_graph_mode_refuses_a_recorded_call_and_runs_a_forward_without_gradients():
    @ember.jit
    def step(x):
        return Cube.apply(x).sum()

    with pytest.raises(TypeError, match="Cube: a custom autograd Function's backward is Python code"):
        step(ember.ones(2))

    @ember.jit
    def predict(x):
        with ember.no_grad():
            return Softsign.apply(x) * 2

    x = ember.tensor([[-1.0, 0.5, 3.0]])
    np.testing.assert_allclose(_np(predict(x)), _np(Softsign.apply(x) * 2))
    np.testing.assert_allclose(_np(predict(x * 2)), _np(Softsign.apply(x * 2) * 2))


def test_a_saved_output_is_freed_without_the_garbage_collector():
    x = _x([1.0])
    enabled = gc.isenabled()
    gc.disable()
    try:
        for backward in (False, True):  # a forward that no backward follows; one kept with retain_graph=True
            y = _SavedExp.apply(x)
            alive = weakref.ref(y)
            if backward:
                y.sum().backward(retain_graph=True)
            del y
            assert alive() is None  # no cycle through ctx holds the output and its array
    finally:
        if enabled:
            gc.enable()
    np.testing.assert_allclose(_np(x.grad), [np.e])
    # the saved output still carries its history while it lives: a second order through it
    (g,) = ember.grad(_SavedExp.apply(x).sum(), x, create_graph=True)
    (gg,) = ember.grad(g.sum(), x)
    np.testing.assert_allclose(_np(gg), [np.e])


def test_a_function_runs_under_the_profiler():
    x = _x([1.0, 2.0])
    with ember.profiler.profile() as prof:
        y = Softsign.apply(x * 2)
        y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), 2 / (1 + 2 * _np(x)) ** 2)
    assert "abs" in [e.name for e in prof.events]  # the forward's ops are timed as eager ops

"""``ember.autograd.forward_ad`` against ``torch.autograd.forward_ad``: the tangents of dual tensors."""

import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as fwAD
from ember import nn

torch = pytest.importorskip("torch")
tfw = torch.autograd.forward_ad

FUNCTIONS = {
    "elementwise": lambda m, x: m.sin(x) * m.exp(x) + (x ** 3).sum(),
    "softmax": lambda m, x: m.softmax(x.reshape(2, 3), dim=1),
    "matmul": lambda m, x: x.reshape(2, 3) @ x.reshape(3, 2),
    "reductions": lambda m, x: m.stack([x.mean(), x.max(), m.logsumexp(x, 0)]),
    "linear_in_x": lambda m, x: 2 * x - 1,
    "logcumsumexp": lambda m, x: m.logcumsumexp(x, 0),  # (its gradient rule takes log |g|: was zeros)
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_tangents_match_torch(name):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal(6), rng.standard_normal(6)
    fn = FUNCTIONS[name]
    with fwAD.dual_level():
        ours = fwAD.unpack_dual(fn(ember, fwAD.make_dual(ember.tensor(x), ember.tensor(t))))
    with tfw.dual_level():
        theirs = tfw.unpack_dual(fn(torch, tfw.make_dual(torch.tensor(x), torch.tensor(t))))
    np.testing.assert_allclose(ours.primal.detach().numpy(), theirs.primal.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.tangent.numpy(), theirs.tangent.numpy(), rtol=1e-10, atol=1e-12)


def test_a_module_with_dual_parameters_gives_torchs_tangent():
    ember.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    direction = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)
    with fwAD.dual_level():
        weight = ours[0].weight
        del ours[0].weight
        ours[0].weight = fwAD.make_dual(weight.detach(), ember.tensor(direction))
        tangent = fwAD.unpack_dual(ours(ember.tensor(x))).tangent
    with tfw.dual_level():
        weight = theirs[0].weight
        del theirs[0].weight
        theirs[0].weight = tfw.make_dual(weight.detach(), torch.tensor(direction))
        expected = tfw.unpack_dual(theirs(torch.tensor(x))).tangent
    np.testing.assert_allclose(tangent.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_tensors_without_a_dual_input_have_no_tangent_and_reverse_mode_still_works():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        dual = fwAD.make_dual(x, ember.tensor([1.0, 1.0]))
        assert fwAD.unpack_dual(ember.ones(2) * 3).tangent is None
        assert fwAD.unpack_dual(dual.detach() * 2).tangent is None
        y = (dual ** 2).sum()
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), 6.0)  # 2 * (1 + 2)
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])  # through make_dual, as in PyTorch
    assert fwAD.unpack_dual(y).tangent is None  # no level active


def test_misuse_is_refused_with_a_clear_error():
    with pytest.raises(RuntimeError, match="make_dual: no dual level is active"):
        fwAD.make_dual(ember.ones(2), ember.ones(2))
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match="nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
        with pytest.raises(ValueError, match="the tangent's shape \\[3\\] differs from the primal's \\[2\\]"):
            fwAD.make_dual(ember.ones(2), ember.ones(3))
        with pytest.raises(TypeError, match="share one floating or complex dtype"):
            fwAD.make_dual(ember.tensor([1, 2]), ember.tensor([1, 2]))
        dual = fwAD.make_dual(ember.ones(2), ember.ones(2))
        with ember.inference_mode(), pytest.raises(RuntimeError, match="unpack_dual: ops are not recorded here"):
            fwAD.unpack_dual(dual * 2)
    with ember.no_grad(), fwAD.dual_level():  # the level records even inside no_grad
        dual = fwAD.make_dual(ember.ones(2), ember.tensor([1.0, 2.0]))
        np.testing.assert_allclose(fwAD.unpack_dual(dual * 3).tangent.numpy(), [3.0, 6.0])


def _through_no_grad(m, x):
    """A computation with no_grad blocks: out of place, an in-place ReLU layer, item assignment, an in-place product
    and a BatchNorm layer in training (its running stats updated)."""
    h = x * 1.5
    with m.no_grad():
        h = m.nn.ReLU(inplace=True)(h.sin())
        h[0] = x[1] * 3
        h.mul_(x)
        h = m.nn.BatchNorm1d(4).double()(h.reshape(2, 4)).reshape(8)
    return h * x


def test_tangents_flow_through_no_grad_as_torch():
    """PyTorch's no_grad leaves forward AD on; Ember's tangents (computed on the tape) were dropped there: zeros
    from ember.func.jvp and jacfwd, an error from unpack_dual. Buffers written under no_grad still get none (BatchNorm's
    running stats: PyTorch's kernel gives them none either) and stay without requires_grad."""
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal(8), rng.standard_normal(8)
    with tfw.dual_level():
        expected = tfw.unpack_dual(_through_no_grad(torch, tfw.make_dual(torch.tensor(x), torch.tensor(t))))
    with fwAD.dual_level():
        with ember.no_grad():
            ours = fwAD.unpack_dual(_through_no_grad(ember, fwAD.make_dual(ember.tensor(x), ember.tensor(t))))
            assert not ember.is_grad_enabled()
    np.testing.assert_allclose(ours.primal.detach().numpy(), expected.primal.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.tangent.numpy(), expected.tangent.detach().numpy(), rtol=1e-10, atol=1e-12)
    bn = nn.BatchNorm1d(3).double()
    with fwAD.dual_level(), ember.no_grad():
        bn(fwAD.make_dual(ember.tensor(x[:6].reshape(2, 3)), ember.tensor(t[:6].reshape(2, 3))))
        assert fwAD.unpack_dual(bn.running_mean).tangent is None
    assert not bn.running_mean.requires_grad and not bn.running_var.requires_grad

    def fn(m):
        def f(a):
            with m.no_grad():
                b = a * a
            return b.sin() * a
        return f

    _, ours = ember.func.jvp(fn(ember), (ember.tensor(x),), (ember.tensor(t),))
    _, theirs = torch.func.jvp(fn(torch), (torch.tensor(x),), (torch.tensor(t),))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    for transform in ("jacfwd", "jacrev"):  # (jacrev's no_grad blocks stay constant, as torch.func's grad)
        ours = getattr(ember.func, transform)(fn(ember))(ember.tensor(x))
        theirs = getattr(torch.func, transform)(fn(torch))(torch.tensor(x))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, err_msg=transform)


def _backward_in_level(m, fw, x, t, after: bool = False):
    """A backward inside (or after) a dual level through what a no_grad block computed: a constant there."""
    leaf = m.tensor(x, requires_grad=True)
    with fw.dual_level():
        dual = fw.make_dual(leaf, m.tensor(t))
        w = dual * dual
        with m.no_grad():
            y = w.sin()
        z = y * 3  # (from no_grad results alone: a constant too)
        loss = (z * w).sum()
        tangent = fw.unpack_dual(loss).tangent
        if not after:
            loss.backward()
    if after:
        (z * leaf).sum().backward()
    return tangent, leaf.grad


@pytest.mark.parametrize("after", [False, True])
def test_backward_in_dual_level_stops_at_no_grad_as_torch(after):
    """A backward inside dual_level flowed back through a no_grad block's results too (x * 2 there: x.grad [4, 8]
    for torch's [2, 4]); it now treats them as constants, as PyTorch's, while tangents still flow through them."""
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal(5), rng.standard_normal(5)
    ours = _backward_in_level(ember, fwAD, x, t, after)
    theirs = _backward_in_level(torch, tfw, torch.tensor(x), torch.tensor(t), after)
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), rtol=1e-12)
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        with ember.no_grad():
            y = x * 2
        (dx,) = ember.autograd.grad((y * x).sum(), x)
        np.testing.assert_allclose(dx.numpy(), [2.0, 4.0])
        with pytest.raises(RuntimeError, match="under no_grad inside a forward-mode scope"):
            (y * 3).sum().backward()  # (torch: 'element 0 of tensors does not require grad')
        with pytest.raises(RuntimeError, match="grad: input 0 .* under no_grad"):
            ember.autograd.grad((y * x).sum(), y)


def _custom_square(m):
    class Square(m.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    return Square


def test_custom_function_under_no_grad_in_dual_level_is_constant_as_torch():
    """A custom Function called under no_grad inside dual_level kept a backward through it (x.grad [3, 12] for
    torch's [1, 4])."""
    grads = []
    for m, fw in ((ember, fwAD), (torch, tfw)):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with fw.dual_level():
            with m.no_grad():
                y = _custom_square(m).apply(x)
            (y * x).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def _written_under_no_grad(m, fw, x, t, how: str):
    leaf = m.tensor(x, requires_grad=True)
    with fw.dual_level():
        dual = fw.make_dual(leaf, m.tensor(t))
        h = dual * 1.5
        view = h.reshape(2, 4) if how == "view" else None
        with m.no_grad():
            if how == "item":
                h[0] = dual[1] * 3
            elif how == "method":
                h.mul_(dual).add_(1)
            elif how == "relu_":  # (PyTorch's functional in-place form: refused as if recording were on)
                m.nn.functional.relu_(h)
            else:  # through a view
                view[0].mul_(2)
        out = h * dual + (h if view is None else view.reshape(8)) * 2
        tangent = fw.unpack_dual(out).tangent
        out.sum().backward()
    return tangent, leaf.grad


@pytest.mark.parametrize("how", ["item", "method", "relu_", "view"])
def test_write_under_no_grad_in_dual_level_keeps_history_as_torch(how):
    """A write under no_grad inside dual_level into a tensor with a history changes its tangent, not its history
    (PyTorch's): a backward then goes on to the values before the write. It cut the history instead (h.mul_(2):
    x.grad 0 through h for torch's 1.5)."""
    rng = np.random.default_rng(5)
    x, t = rng.standard_normal(8), rng.standard_normal(8)
    ours = _written_under_no_grad(ember, fwAD, x, t, how)
    theirs = _written_under_no_grad(torch, tfw, torch.tensor(x), torch.tensor(t), how)
    np.testing.assert_allclose(ours[0].numpy(), theirs[0].detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), rtol=1e-12, atol=1e-12)


def _exp_under_no_grad(m):
    def f(a):
        with m.no_grad():
            c = a.exp()
        return (c * a * a.sin()).sum()
    return f


def test_grad_inside_forward_transforms_keeps_tangents_of_no_grad_as_torch():
    """func.grad (or vjp) inside func.jvp, jacfwd or hessian left its no_grad blocks unrecorded, so the outer
    transform's tangents missed them: jvp(grad(f)) gave [2.46, 0.27, 0.44] for torch's [3.25, -0.03, -7.91]. They
    are now constants to the inner grad and carry tangents for the outer transform, as PyTorch's."""
    x, t = np.array([0.3, -0.7, 1.1]), np.array([1.0, 0.5, -2.0])
    results = []
    for m in (ember, torch):
        f = _exp_under_no_grad(m)
        _, product = m.func.jvp(m.func.grad(f), (m.tensor(x),), (m.tensor(t),))
        results.append([product.numpy(), m.func.hessian(f)(m.tensor(x)).numpy()])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["holomorphic", "conjugate", "abs"])
def test_complex_duals_and_func_jvp_match_torch(name):
    """Complex primals (make_dual accepts them) failed inside: the tangent was taken as the gradient of a complex
    sum ('a gradient can be created implicitly only for a real scalar output'); it is now torch's."""
    fn = {"holomorphic": lambda z: z.exp() * z ** 2, "conjugate": lambda z: z.conj() * z * 2,
          "abs": lambda z: z.abs()}[name]
    rng = np.random.default_rng(1)
    z, t = (rng.standard_normal(4) + 1j * rng.standard_normal(4) for _ in range(2))
    with fwAD.dual_level():
        ours = fwAD.unpack_dual(fn(fwAD.make_dual(ember.tensor(z), ember.tensor(t)))).tangent
    with tfw.dual_level():
        theirs = tfw.unpack_dual(fn(tfw.make_dual(torch.tensor(z), torch.tensor(t)))).tangent
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    _, product = ember.func.jvp(fn, (ember.tensor(z),), (ember.tensor(t),))
    np.testing.assert_allclose(product.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)

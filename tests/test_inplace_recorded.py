"""In-place ops on tensors whose gradient is wanted, recorded as PyTorch records them (``out += identity`` in a
residual block, ``h.masked_fill_``, ``h[i] = v``): values and gradients against torch, and the refusals."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _pair(shape, seed):
    data = np.random.default_rng(seed).standard_normal(shape)
    return ember.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)


def _run(body, *shapes):
    pairs = [_pair(shape, i) for i, shape in enumerate(shapes)]
    mine = body(ember, *[p[0] for p in pairs])
    theirs = body(torch, *[p[1] for p in pairs])
    np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    (mine * mine).sum().backward()
    (theirs * theirs).sum().backward()
    for (a, b) in pairs:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_residual_add_in_place():
    def body(lib, x, w):
        out = x * w  # (tanh's output would be saved, which torch refuses to see overwritten)
        out += x
        out *= 2.0
        return lib.relu(out)

    _run(body, (3, 4), (3, 4))


@pytest.mark.parametrize("name", ["mul_", "add_", "sub_", "div_", "pow_"])
def test_binary_methods_with_a_grad_operand(name):
    def body(lib, x, y):
        h = x.abs() * 1.5 + 0.1
        getattr(h, name)(y.abs() + 1.0 if name in ("div_", "pow_") else y)
        return h

    _run(body, (5,), (5,))


def test_a_tensor_as_an_operand_of_its_own_in_place_op():
    # the op reads the old version: its node must not read the tensor that moves to its own result
    def body(lib, x):
        h = x * 2.0
        h += h  # (torch's add saves nothing, so it gives the gradient too)
        return h

    _run(body, (3, 4))
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * 2.0
    h.mul_(h)
    h.addcmul_(h, h, value=0.5)  # torch refuses these two, whose saved operands it overwrote
    h.sum().backward()
    u = 4.0 * x.detach().numpy() ** 2
    np.testing.assert_allclose(x.grad.numpy(), (1.0 + u) * 8.0 * x.detach().numpy())


@pytest.mark.parametrize("name", ["sigmoid_", "tanh_", "exp_", "neg_", "clamp_", "relu_", "abs_"])
def test_unary_methods(name):
    def body(lib, x):
        h = x * 2.0
        if name == "clamp_":
            h.clamp_(min=-0.5, max=0.7)
        else:
            getattr(h, name)()
        return h + x

    _run(body, (6,))


def test_masked_fill_setitem_and_index_put():
    def body(lib, x, v):
        h = x * 3.0
        h.masked_fill_(x > 0.5, -1.0)
        h[:, 0] = v
        h[x < -1.0] = 0.0
        h.index_put_((lib.tensor([0, 2]), lib.tensor([1, 3])), v[:2] * 2, accumulate=True)
        return h

    _run(body, (3, 4), (3,))


def test_operand_requires_grad_makes_the_tensor_recorded():
    def body(lib, w):
        buf = lib.zeros(4, dtype=lib.float64)
        buf += w
        buf[1] = w[0] * 5
        return buf

    _run(body, (4,))


def test_refusals():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf tensor that requires grad is used in an in-place operation"):
        x += 1
    h = x * 2
    view = h[:2]
    view += 1  # written through the view and recorded into h (tests/test_inplace_views.py)
    assert h.tolist() == [3.0, 3.0, 2.0]
    with pytest.raises(RuntimeError, match="in-place update of a view of another tensor .* through a view op Ember "
                                           "does not record writes through"):
        expanded = h.expand(2, 3)
        expanded += 1
    y = h * h  # records h
    h += 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    with ember.no_grad():
        x += 1  # allowed, not recorded
    assert x.tolist() == [2.0, 2.0, 2.0]


def test_later_ops_see_the_new_version_and_plain_tensors_stay_in_place():
    plain = ember.zeros(3)
    alias = plain.view(3)
    plain += 1  # nothing requires grad: written into the memory, as before
    assert alias.tolist() == [1.0, 1.0, 1.0]
    w = ember.ones(3, requires_grad=True)
    h = w * 2
    h += 1
    assert h.grad_fn is not None and h.tolist() == [3.0, 3.0, 3.0]
    (h * h).sum().backward()
    assert w.grad.tolist() == [12.0, 12.0, 12.0]


@pytest.mark.parametrize("statement", ["b.mul_(2)", "b[1:].mul_(2)", "b += a; b[0] = 7"])
def test_retain_grad_keeps_the_gradient_of_the_latest_version_as_torch(statement):
    # .grad was the gradient of the version retain_grad() was called on ([8, 16, 24] for torch's [4, 8, 12] after
    # b.mul_(2)); hooks registered before the write still get the old version's gradient, as PyTorch's
    results = []
    for lib in (ember, torch):
        a = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = a * 1
        b.retain_grad()
        seen = []
        b.register_hook(lambda g, seen=seen: seen.append(g.detach().clone()))
        exec(statement, {}, {"a": a, "b": b})
        (b * b).sum().backward()
        assert b.retains_grad
        results.append([b.grad.numpy(), seen[0].numpy(), a.grad.numpy()])
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6)

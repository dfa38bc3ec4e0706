"""``loss.backward(inputs=...)``: the gradient goes into the named tensors' ``.grad`` alone, as in PyTorch."""

import numpy as np
import pytest

import ember


def _leaves(lib, seed=0):
    rng = np.random.default_rng(seed)
    w, b, x = (rng.standard_normal(s).astype(np.float32) for s in ((3, 2), (2,), (4, 3)))
    return [lib.tensor(a, requires_grad=True) for a in (w, b)] + [lib.tensor(x)]


def _loss(w, b, x):
    return ((x @ w + b).tanh() ** 2).sum()


def _grads(tensors) -> list:
    return [None if t.grad is None else t.grad.detach().numpy().copy() for t in tensors]


def test_backward_inputs_accumulates_only_into_the_given_leaves_as_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (ember, torch):
        w, b, x = _leaves(lib)
        _loss(w, b, x).backward(inputs=[w])
        first = _grads([w, b])
        _loss(w, b, x).backward(inputs=b)  # one tensor; w's gradient stays
        h = x @ w
        (h * h).sum().backward(inputs=[w, h, w])  # a non-leaf gets its .grad too; a repeat counts once
        results.append(first + _grads([w, b, h]))
    for ours, theirs in zip(*results):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert results[0][1] is None  # b untouched by the first call


def test_backward_inputs_adds_a_retained_gradient_once_as_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (ember, torch):
        w, b, x = _leaves(lib)
        h = x @ w + b
        h.retain_grad()  # its hook fills h.grad: the named input must not add the gradient a second time
        loss = (h * h).sum()
        loss.backward(inputs=[h, w], retain_graph=True)
        loss.backward(inputs=[h])
        results.append(_grads([h, w, b]))
    for ours, theirs in zip(*results):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_backward_inputs_runs_leaf_hooks_once_and_refuses_what_needs_no_grad():
    w, b, x = _leaves(ember)
    calls = []
    w.register_hook(lambda g: calls.append(1) or g * 2)
    plain = ember.grad(_loss(w, b, x), w)[0]
    calls.clear()
    _loss(w, b, x).backward(inputs=[w])
    assert calls == [1]
    np.testing.assert_allclose(w.grad.numpy(), plain.numpy())  # (grad ran the hook too)
    with pytest.raises(RuntimeError, match=r"inputs\[0\] \(float32\[4, 3\]\) is not a tensor that requires grad"):
        _loss(w, b, x).backward(inputs=[x])
    with pytest.raises(RuntimeError, match="inputs= is empty"):
        _loss(w, b, x).backward(inputs=[])


def test_backward_inputs_under_jit_fills_the_named_parameters_alone():
    layer = ember.nn.Linear(3, 2)
    x = ember.randn(4, 3)

    @ember.jit
    def step(x):
        layer.zero_grad()
        layer(x).sum().backward(inputs=[layer.bias])

    for _ in range(2):
        step(x)
        assert layer.weight.grad is None
        np.testing.assert_allclose(layer.bias.grad.numpy(), [4.0, 4.0])

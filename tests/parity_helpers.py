"""Helpers shared by the layer tests that compare Ember modules with PyTorch's."""

import numpy as np


def copy_to_torch(module, torch_module) -> None:
    """Load an Ember module's weights into the matching torch module (strict names)."""
    import torch

    torch_module.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in module.state_dict().items()})


def close(actual, expected, atol: float = 1e-5) -> None:
    """An Ember tensor equals a torch tensor to float32 tolerance."""
    np.testing.assert_allclose(np.asarray(actual.detach().numpy()), expected.detach().numpy(), atol=atol, rtol=1e-4)


def adam(params, state: dict, step: int, lr: float = 0.01, b1: float = 0.9, b2: float = 0.999) -> None:
    """A plain Adam step on ``.array`` (the tests do not depend on ember.optim)."""
    for i, p in enumerate(params):
        g = p.grad.array
        m, v = state.get(i, (0.0, 0.0))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        state[i] = (m, v)
        p.array -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + 1e-8)


def same_nest(ours, theirs, rtol=1e-10, atol=1e-12, where=""):
    """An Ember nest of Tensors in tuples equals a torch one (whose forward-mode jacobian nests lists): shapes,
    requires_grad and values."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), (where, type(ours))
        for i, (a, b) in enumerate(zip(ours, theirs)):
            same_nest(a, b, rtol, atol, f"{where}[{i}]")
        return
    import ember

    assert isinstance(ours, ember.Tensor), (where, type(ours))
    assert tuple(ours.shape) == tuple(theirs.shape), (where, ours.shape, theirs.shape)
    assert ours.requires_grad == theirs.requires_grad, where
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol, err_msg=where)


def step_optimizers_side_by_side(name: str, kwargs: dict, start: list, grads: list) -> tuple:
    """Ember's and torch's optimizer ``name`` over the same start values, fed the same gradient lists one step each;
    returns (ours, theirs, ember optimizer, torch optimizer)."""
    import torch

    import ember
    from ember import optim

    ours = [ember.tensor(a, requires_grad=True) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt, ref = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    for step_grads in grads:
        for p, t, g in zip(ours, theirs, step_grads):
            p.grad, t.grad = ember.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    return ours, theirs, opt, ref


def train_models_side_by_side(name: str, kwargs: dict, traced: bool, *, bias: bool = True, steps: int = 20,
                              rtol: float, atol: float):
    """Ember's and torch's optimizer ``name`` training the same small MLP (6 -> 16 -> 3, tanh) on the same batches,
    Ember's step eager or under ``ember.jit``: every loss and the final parameters agree to ``rtol``/``atol``.
    Returns the jit function (None when eager)."""
    import torch

    import ember
    from ember import nn, optim

    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 16, bias=bias), torch.nn.Tanh(), torch.nn.Linear(16, 3, bias=bias))
    ours = nn.Sequential(nn.Linear(6, 16, bias=bias), nn.Tanh(), nn.Linear(16, 3, bias=bias))
    for p, t in zip(ours.parameters(), theirs.parameters()):
        p.array[...] = t.detach().numpy()
    opt, ref = getattr(optim, name)(ours.parameters(), **kwargs), getattr(torch.optim, name)(theirs.parameters(),
                                                                                               **kwargs)

    def step(x, y):
        opt.zero_grad()
        loss = ember.cross_entropy(ours(x), y)
        loss.backward()
        opt.step()
        return loss

    run = ember.jit(step) if traced else step
    rng = np.random.default_rng(1)
    for _ in range(steps):
        x, y = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
        loss = run(ember.tensor(x), ember.tensor(y))
        ref.zero_grad()
        expected = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        expected.backward()
        ref.step()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=rtol)
    for p, t in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.array, t.detach().numpy(), rtol=rtol, atol=atol)
    return run if traced else None


def traced_step_matches_eager(product, dense) -> None:
    """A training step of ``product(dense)`` (loss: the squares' sum, then backward) gives under ``ember.jit``, on
    two calls, the loss and ``dense.grad`` it gives eagerly."""
    import ember

    def step(d):
        loss = product(d).square().sum()
        loss.backward()
        return loss

    eager = step(dense)
    eager_grad = dense.grad.numpy().copy()
    traced = ember.jit(step)
    for _ in range(2):
        dense.grad = None
        got = traced(dense)
    np.testing.assert_allclose(got.numpy(), eager.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dense.grad.numpy(), eager_grad, rtol=1e-12)

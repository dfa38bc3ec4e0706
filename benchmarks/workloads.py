"""The standard workloads of shared/BENCHMARKS.md, each built for Ember and for PyTorch.

A builder returns ``step(i)``: one training step (forward, loss, backward, update) on batch ``i % 8`` of a
pool of pre-generated batches. Both frameworks start from the same weights and see the same batches.
"""

from __future__ import annotations

import numpy as np

import ember

POOL = 8


def _mlp_weights(sizes, rng):
    weights = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                        rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return weights


def _classification_batches(batch, features, classes, rng):
    xs = [rng.standard_normal((batch, features)).astype(np.float32) for _ in range(POOL)]
    ys = [rng.integers(0, classes, batch).astype(np.int64) for _ in range(POOL)]
    return xs, ys


# --- tiny-chain ---------------------------------------------------------------------------------------------


def tiny_chain_ember():
    x = ember.randn(16, requires_grad=True)

    def step(i):
        y = x
        for _ in range(25):
            y = (y * 1.0001 + 0.5).tanh() - 0.25
        y.sum().backward()
        x.grad = None

    return step


def tiny_chain_torch():
    import torch

    x = torch.randn(16, requires_grad=True)

    def step(i):
        y = x
        for _ in range(25):
            y = torch.tanh(y * 1.0001 + 0.5) - 0.25
        y.sum().backward()
        x.grad = None

    return step


def tiny_chain_numpy():
    x = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    a, b, c = np.float32(1.0001), np.float32(0.5), np.float32(0.25)

    def step(i):
        outs = []
        y = x
        for _ in range(25):
            t = np.tanh(y * a + b)
            outs.append(t)
            y = t - c
        g = np.ones_like(x)
        for t in reversed(outs):
            g = g * (1 - t * t) * a
        return g

    return step


# --- MLPs ------------------------------------------------------------------------------------------------


def mlp_ember(sizes, batch, lr=0.01, momentum=0.9, seed=0):
    rng = np.random.default_rng(seed)
    weights = _mlp_weights(sizes, rng)
    xs, ys = _classification_batches(batch, sizes[0], sizes[-1], rng)
    net = ember.nn.Sequential(*[
        layer for i, (w, b) in enumerate(weights)
        for layer in ([ember.nn.Linear(w.shape[1], w.shape[0])] + ([ember.nn.ReLU()] if i < len(weights) - 1 else []))
    ])
    linears = [m for m in net if isinstance(m, ember.nn.Linear)]
    for layer, (w, b) in zip(linears, weights):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    optimizer = ember.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    xs = [ember.from_numpy(x) for x in xs]
    ys = [ember.from_numpy(y) for y in ys]

    def step(i):
        optimizer.zero_grad()
        loss = ember.cross_entropy(net(xs[i % POOL]), ys[i % POOL])
        loss.backward()
        optimizer.step()
        return loss

    return step


def mlp_torch(sizes, batch, lr=0.01, momentum=0.9, seed=0):
    import torch

    rng = np.random.default_rng(seed)
    weights = _mlp_weights(sizes, rng)
    xs, ys = _classification_batches(batch, sizes[0], sizes[-1], rng)
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    xs = [torch.from_numpy(x) for x in xs]
    ys = [torch.from_numpy(y) for y in ys]

    def step(i):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(xs[i % POOL]), ys[i % POOL])
        loss.backward()
        optimizer.step()
        return loss

    return step


def mlp_numpy(sizes, batch, lr=0.01, momentum=0.9, seed=0):
    """The hand-written NumPy floor: the same step with no framework at all."""
    rng = np.random.default_rng(seed)
    weights = [(w.T.copy(), b) for w, b in _mlp_weights(sizes, rng)]
    xs, ys = _classification_batches(batch, sizes[0], sizes[-1], rng)
    bufs = [(np.zeros_like(w), np.zeros_like(b)) for w, b in weights]
    rows = np.arange(batch)

    def step(i):
        x, y = xs[i % POOL], ys[i % POOL]
        acts = [x]
        for k, (w, b) in enumerate(weights):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0) if k < len(weights) - 1 else z)
        z = acts[-1]
        e = np.exp(z - z.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        g = p
        g[rows, y] -= 1
        g /= batch
        for k in range(len(weights) - 1, -1, -1):
            w, b = weights[k]
            gw, gb = acts[k].T @ g, g.sum(0)
            if k:
                g = (g @ w.T) * (acts[k] > 0)
            for param, grad, buf in ((w, gw, bufs[k][0]), (b, gb, bufs[k][1])):
                buf *= momentum
                buf += grad
                param -= lr * buf

    return step

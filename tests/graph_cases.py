"""Small graphs shared by the graph tests: a function of Tensors, its input shapes, and helpers."""

from __future__ import annotations

import numpy as np

import ember
from ember.graph import Graph
from ember.passes import gradients


def _f_mlp(x, w, b):
    return ember.cross_entropy(ember.relu(x @ w + b), ember.tensor([0, 2, 1, 1]))


# name, function, input shapes (all float64 for tight gradient comparison)
CASES = [
    ("arith", lambda a, b: (a * b + a / (b * b + 1.0) - 3.0) ** 2.0, [(3, 4), (4,)]),
    ("unary", lambda a: ember.exp(ember.tanh(a)) + ember.sigmoid(a) * ember.sqrt(ember.abs(a) + 1.0), [(5,)]),
    ("reduce", lambda a: a.sum(axis=0) * a.mean() + a.max(axis=1).sum(), [(3, 4)]),
    ("softmax", lambda a: ember.softmax(a, axis=-1) * ember.log_softmax(a, axis=0), [(2, 5)]),
    ("shape", lambda a: ember.transpose(a.reshape(4, 3)) @ a.reshape(4, 3) + a.sum(), [(2, 6)]),
    ("mlp", _f_mlp, [(4, 3), (3, 3), (3,)]),
    ("extremum", lambda a, b: ember.maximum(a, b) - ember.minimum(a, 0.5 * b), [(4,), (4,)]),
    ("bce", lambda a, b: ember.binary_cross_entropy_with_logits(a, ember.sigmoid(b)), [(6,), (6,)]),
    ("broadcast", lambda a, b: ember.broadcast_to(a, (3, 2, 4)) * b, [(2, 1), (4,)]),
]


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) + 0.1 for s in shapes]


def _eager(fn, arrays):
    ts = [ember.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


def build_case(fn, shapes, dtype="float64"):
    """A graph computing fn's output and the gradients of its sum w.r.t. every input."""
    g = Graph()
    xs = [g.input(f"x{i}", s, dtype) for i, s in enumerate(shapes)]
    with g.building():
        out = fn(*xs)
        total = out.sum()
    g.outputs = [out] + gradients(g, [total], xs)
    return g

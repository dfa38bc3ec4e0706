"""A table of random op graphs: eager, the reference interpreter, every pass alone, the whole pipeline and
``ember.jit`` agree on outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.graph import Graph, interpret
from ember.passes import PASSES, gradients, run_passes
from ember.runtime import compile_graph

SHAPE = (3, 4)
INPUT_SHAPES = [(3, 4), (4,), (3, 1), (4, 4)]  # the last one is a matmul weight

UNARY = {
    "tanh": ember.tanh,
    "sigmoid": ember.sigmoid,
    "relu": ember.relu,
    "abs": ember.abs,
    "neg": lambda a: -a,
    "square": lambda a: a * a,
    "exp_tanh": lambda a: ember.exp(ember.tanh(a)),
    "sqrt": lambda a: ember.sqrt(ember.abs(a) + 1.0),
    "log": lambda a: ember.log(ember.abs(a) + 1.0),
    "softmax": lambda a: ember.softmax(a, axis=-1),
    "log_softmax": lambda a: ember.log_softmax(a, axis=0),
    "scale": lambda a: a * 0.5 + 0.25,
    "transpose": lambda a: ember.transpose(a.reshape(SHAPE[::-1])).reshape(SHAPE),
    "sum_rows": lambda a: a.sum(axis=1, keepdims=True),
    "mean_cols": lambda a: a.mean(axis=0, keepdims=True),
    "max_rows": lambda a: a.max(axis=1, keepdims=True),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "maximum": ember.maximum,
    "minimum": ember.minimum,
}


def random_program(seed: int) -> list:
    """Steps ``(kind, name, argument indices)`` over a pool that starts with the inputs."""
    rng = np.random.default_rng(seed)
    steps = []
    size = len(INPUT_SHAPES)
    for _ in range(int(rng.integers(5, 12))):
        roll = rng.random()
        if roll < 0.45:
            steps.append(("unary", str(rng.choice(list(UNARY))), (int(rng.integers(size)),)))
        elif roll < 0.9:
            steps.append(("binary", str(rng.choice(list(BINARY))), tuple(int(i) for i in rng.integers(size, size=2))))
        else:
            steps.append(("matmul", "matmul", (int(rng.integers(size)),)))
        size += 1
    return steps


def run_program(steps: list, inputs: list):
    pool = [ember.broadcast_to(x, SHAPE) for x in inputs[:3]]
    weight = inputs[3]
    pool.append(inputs[0] @ weight)  # keeps index 3 a (3, 4) value like the rest
    for kind, name, args in steps:
        if kind == "unary":
            pool.append(UNARY[name](pool[args[0]]))
        elif kind == "binary":
            pool.append(BINARY[name](pool[args[0]], pool[args[1]]))
        else:
            pool.append(ember.broadcast_to(pool[args[0]], SHAPE) @ weight)
    out = ember.broadcast_to(pool[-1], SHAPE)
    return out, (out * out).sum() + pool[-2].sum() + sum((0.5 * x * x).sum() for x in inputs)


def _arrays(seed: int) -> list:
    rng = np.random.default_rng(seed + 1000)
    return [rng.standard_normal(s) * 0.8 + 0.05 for s in INPUT_SHAPES]


def _eager(steps, arrays):
    ts = [ember.tensor(a, requires_grad=True) for a in arrays]
    out, loss = run_program(steps, ts)
    loss.backward()
    return [out.detach().numpy(), np.asarray(loss.item())] + [t.grad.numpy() for t in ts]


def _graph(steps, arrays) -> Graph:
    g = Graph()
    xs = [g.input(f"x{i}", a.shape, a.dtype) for i, a in enumerate(arrays)]
    with g.building():
        out, loss = run_program(steps, xs)
    g.outputs = [out, loss] + gradients(g, [loss], xs)
    return g


def _check(got, expected, what):
    for i, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10, atol=1e-12, err_msg=f"{what}: result {i}")


SEEDS = range(40)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_graph_agrees_everywhere(seed):
    steps = random_program(seed)
    arrays = _arrays(seed)
    expected = _eager(steps, arrays)
    _check(interpret(_graph(steps, arrays).verify(), *arrays), expected, "interpreter")
    for name in PASSES:
        g = run_passes(_graph(steps, arrays), [name], verify=True)
        _check(interpret(g, *arrays), expected, f"pass {name}")
    optimized = run_passes(_graph(steps, arrays), verify=True)
    compiled = compile_graph(optimized)
    _check(compiled(*arrays), expected, "pipeline + generated code")
    _check(compiled(*arrays), expected, "generated code, second call")  # buffers reused across calls

    @ember.jit
    def traced(*ts):
        out, loss = run_program(steps, ts)
        return (out, loss, *ember.grad(loss, ts))

    tensors = [ember.tensor(a, requires_grad=True) for a in arrays]
    _check([t.numpy() for t in traced(*tensors)], expected, "ember.jit")
    for t, a in zip(tensors, arrays):
        np.testing.assert_array_equal(t.detach().numpy(), a)  # inputs untouched


def test_the_table_covers_every_op_kind():
    used = {name for seed in SEEDS for _, name, _ in random_program(seed)}
    assert used >= set(UNARY) | set(BINARY) | {"matmul"}

"""Side effects as ops (ember.ops.effects): the same op in eager mode, in a built graph and under ember.jit."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph import Graph, interpret
from ember.ops.effects import ASSIGN, RANDOM, UPDATE
from ember.optim.functional import adam_update, sgd_update
from ember.passes import run_passes
from ember.runtime import compile_graph


def test_effect_ops_are_registry_primitives_with_writes():
    for op in (ASSIGN, UPDATE, RANDOM):
        assert ember.REGISTRY[op.name] is op and op.effect and op.writes == (0,)
    assert ember.REGISTRY["running_stats"].writes == (1, 2, 3)
    assert not ember.REGISTRY["add"].effect


def test_assign_casts_broadcasts_and_refuses_what_does_not_fit():
    t = ember.zeros(2, 3)
    assert ember.ops.assign(t, ember.tensor([1, 2, 3])) is None
    np.testing.assert_array_equal(t.numpy(), [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(ValueError, match="broadcast_to"):
        ember.ops.assign(t, ember.ones(4))


def test_update_runs_the_rule_eagerly_and_as_a_node():
    p, g = ember.tensor([1.0, 2.0]), ember.tensor([0.5, 0.5])
    ember.ops.update(p, g, sgd_update, {}, {"lr": 0.5})
    np.testing.assert_array_equal(p.numpy(), [0.75, 1.75])
    graph = Graph()
    param, grad = graph.input("p", (2,), "float32"), graph.input("g", (2,), "float32")
    state: dict = {}
    with graph.building():
        assert ember.ops.update(param, grad, adam_update, state, {"lr": 0.1}) is None
    graph.verify()
    assert [n.op for n in graph.nodes] == [UPDATE] and not graph.nodes[0].outputs
    array = np.array([1.0, 2.0], np.float32)
    interpret(graph, array, np.array([1.0, -1.0], np.float32))
    np.testing.assert_allclose(array, [0.9, 2.1], rtol=1e-6)  # Adam's first step moves each weight by lr
    assert state["step"] == 1


def test_random_draws_advance_the_generator_state_in_every_mode():
    ember.manual_seed(3)
    eager = [ember.ops.random_draw("normal", (4,), "float32", 0.0, 1.0).numpy() for _ in range(2)]
    assert not np.array_equal(eager[0], eager[1])
    ember.manual_seed(3)
    graph = Graph()
    with graph.building():
        graph.outputs = [ember.ops.random_draw("normal", (4,), "float32", 0.0, 1.0)]
    graph = run_passes(graph)  # neither folded nor merged, though its only input is a constant
    run = compile_graph(graph)
    np.testing.assert_array_equal(run()[0], eager[0])
    np.testing.assert_array_equal(run()[0], eager[1])
    ember.manual_seed(3)
    draw = ember.jit(lambda x: x + ember.ops.random_draw("normal", (4,), "float32", 0.0, 1.0))
    np.testing.assert_array_equal(draw(ember.zeros(4)).numpy(), eager[0])
    np.testing.assert_array_equal(draw(ember.zeros(4)).numpy(), eager[1])
    with pytest.raises(ValueError, match="random: kind"):
        ember.ops.random_draw("poisson", (2,), "float32", 0.0, 1.0)


def test_rng_state_includes_the_draw_stream():
    ember.manual_seed(0)
    state = ember.get_rng_state()
    first = ember.dropout(ember.ones(64), 0.5).numpy()
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.dropout(ember.ones(64), 0.5).numpy(), first)


def test_traced_state_written_after_a_read_is_read_live():
    """A buffer first read as a constant and then written by an effect becomes a live input."""
    bn = nn.BatchNorm1d(3)
    bn.eval()

    def normalize_then_track(x):
        out = bn(x)  # reads the running statistics
        ember.batch_norm(x, bn.running_mean, bn.running_var, training=True, momentum=0.5)  # then writes them
        return out

    fast = ember.jit(normalize_then_track)
    x = ember.tensor(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32))
    first, second = fast(x).numpy(), fast(x).numpy()
    assert not np.allclose(first, second)  # the second call sees the statistics the first one wrote
    assert fast.traces == 1

"""Side effects as ops (ember.ops.effects): the same op in eager mode, in a built graph and under ember.jit."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph import Graph, interpret
from ember.ops.effects import ACCUMULATE_GRAD, ASSIGN, DROP_GRAD, RANDOM, UPDATE
from ember.optim.functional import adam_update, sgd_update
from ember.passes import run_passes
from ember.runtime import compile_graph


def test_effect_ops_are_registry_primitives_with_writes():
    for op in (ASSIGN, UPDATE, RANDOM, ACCUMULATE_GRAD, DROP_GRAD):
        assert ember.REGISTRY[op.name] is op and op.effect and op.writes == (0,)
    assert ember.REGISTRY["running_stats"].writes == (2, 3, 4)  # x and its moments are read
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


def test_backward_accumulates_in_place_even_into_a_gradient_someone_holds():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = id(x.grad.array)
    (x * x).sum().backward()
    assert id(x.grad.array) == first  # an accumulate_grad op: the sum went into the gradient's memory
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])
    held = x.grad  # as PyTorch's AccumulateGrad, the next sum goes into the same tensor, which `held` sees
    (x * x).sum().backward()
    assert x.grad is held
    np.testing.assert_array_equal(held.numpy(), [6.0, 12.0])
    view = x.grad.numpy()  # shares the gradient's memory
    (x * x).sum().backward()
    np.testing.assert_array_equal(view, [8.0, 16.0])


def test_accumulating_with_create_graph_stays_differentiable():
    x = ember.tensor([3.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    (x ** 2).sum().backward(create_graph=True)  # x.grad = 3x^2 + 2x, recorded
    assert x.grad.requires_grad
    (dgrad,) = ember.grad(x.grad.sum(), x)
    np.testing.assert_allclose(dgrad.numpy(), [6 * 3.0 + 2.0])


def test_accumulate_grad_adds_sparse_and_dense_gradients():
    table = nn.Embedding(5, 2, sparse=True)
    ids = ember.tensor([1, 1, 3])
    table(ids).sum().backward()
    assert isinstance(table.weight.grad, ember.RowSparse)
    table(ids).sum().backward()  # sparse + sparse stays sparse
    assert isinstance(table.weight.grad, ember.RowSparse)
    ember.ops.accumulate_grad(table.weight, ember.ones(5, 2))  # sparse + dense is dense
    expected = np.ones((5, 2))
    expected[1] += 4.0
    expected[3] += 2.0
    np.testing.assert_array_equal(table.weight.grad.numpy(), expected)


def test_accumulate_grad_refuses_a_gradient_of_another_shape():
    w = ember.zeros(2, 3, requires_grad=True)
    ember.ops.accumulate_grad(w, ember.ones(2, 3))
    with pytest.raises(ValueError, match="accumulate_grad|add"):
        ember.ops.accumulate_grad(w, ember.ones(4))


def test_zero_grad_is_a_drop_grad_node_of_a_traced_step():
    ember.manual_seed(0)
    net = nn.Linear(3, 2)
    opt = ember.optim.SGD(net.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = net(x).sum()
        loss.backward()
        opt.step()
        return loss

    x = ember.ones(4, 3)
    compiled = ember.jit(step)
    graph = compiled.graph_for(x)
    assert [n.op.name for n in graph.nodes].count("drop_grad") == 2
    assert "drop_grad(%" in graph.dump() and "owner" not in graph.dump()
    for p in net.parameters():
        p.grad = ember.full(p.shape, 100.0)  # a stale gradient: the compiled call drops it, then stores the new one
    compiled(x)
    np.testing.assert_array_equal(net.bias.grad.numpy(), [4.0, 4.0])
    assert not hasattr(Graph, "drop_grads")  # a graph builder needs only build(): the drop is an op


def test_drop_grad_runs_eagerly_and_under_the_profiler():
    w = ember.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    net = nn.Linear(2, 2)
    net(ember.ones(1, 2)).sum().backward()
    with ember.profiler.profile() as prof:
        ember.ops.drop_grad(w)
        net.zero_grad()
    assert w.grad is None and all(p.grad is None for p in net.parameters())
    assert [e.name for e in prof.events].count("drop_grad") == 3


def test_module_zero_grad_in_a_traced_step_drops_on_every_call():
    ember.manual_seed(0)
    net = nn.Linear(3, 2)

    def step(x):
        net.zero_grad()
        net(x).sum().backward()

    compiled = ember.jit(step)
    x = ember.ones(4, 3)
    for _ in range(3):
        compiled(x)  # without the drop, each call would add another 4 to the bias gradient
        np.testing.assert_array_equal(net.bias.grad.numpy(), [4.0, 4.0])
    assert compiled.traces == 1

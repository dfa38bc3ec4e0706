"""Eager updates of large parameters run in flat parts on the runtime's threads (ember.optim.parts): the bits and
the state of one whole call per parameter, for every elementwise rule."""

import copy
import pickle

import numpy as np
import pytest

import ember
from ember.ops.effects import update_rule
from ember.optim import parts
from ember.optim.adadelta import Adadelta
from ember.runtime import parallel

SHAPE = (701, 769)  # 539,069 elements: two parts of unequal, odd lengths
assert np.prod(SHAPE) >= parts.CUT_FROM

OPTIMIZERS = [
    (ember.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (ember.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (ember.optim.SGD, {"lr": 0.1, "momentum": 0.5, "dampening": 0.3, "maximize": True}),
    (ember.optim.SGD, {"lr": 0.1}),
    (ember.optim.Adam, {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}),
    (ember.optim.AdamW, {"lr": 1e-2}),
    (ember.optim.RMSprop, {"lr": 1e-2, "momentum": 0.9, "centered": True}),
    (ember.optim.Adagrad, {"lr": 1e-2, "lr_decay": 0.1, "initial_accumulator_value": 0.1}),
    (ember.optim.Ftrl, {"lr": 0.1, "learning_rate_power": -0.6, "l1": 0.01, "l2": 0.01}),
    (Adadelta, {"lr": 1.0, "weight_decay": 0.01}),
    (ember.optim.Adamax, {"lr": 1e-2, "weight_decay": 0.1}),
    (ember.optim.NAdam, {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (ember.optim.RAdam, {"lr": 1e-2, "weight_decay": 0.1}),
    (ember.optim.Rprop, {"lr": 1e-2, "etas": (0.4, 1.3)}),
    (ember.optim.ASGD, {"lr": 1e-2, "t0": 2, "weight_decay": 0.1}),
]


@pytest.fixture
def two_threads(monkeypatch):
    """Two runtime threads on any machine; returns the piece counts of each run_pieces call."""
    calls = []
    run_pieces = parallel.run_pieces

    def counted(pieces, threads=None):
        calls.append(len(pieces))
        return run_pieces(pieces, threads)

    monkeypatch.setattr(parallel, "num_threads", lambda: 2)
    monkeypatch.setattr(parallel, "run_pieces", counted)
    return calls


def _train(optimizer_class, hyper, start: np.ndarray, grads: list, whole: bool, monkeypatch):
    if whole:
        monkeypatch.setattr(parts, "CUT_FROM", 1 << 62)
    w = ember.from_numpy(start.copy()).requires_grad_()
    optimizer = optimizer_class([w], **hyper)
    for g in grads:
        w.grad = ember.from_numpy(g.copy())
        optimizer.step()
    monkeypatch.setattr(parts, "CUT_FROM", 2 * parts.PART)
    return w.detach().numpy(), optimizer.state[w]


@pytest.mark.parametrize("optimizer_class, hyper", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", None))
def test_a_large_parameter_in_parts_gets_the_bits_of_one_call(optimizer_class, hyper, two_threads, monkeypatch):
    rng = np.random.default_rng(0)
    start = rng.standard_normal(SHAPE).astype(np.float32)
    grads = [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(3)]
    cut, cut_state = _train(optimizer_class, hyper, start, grads, whole=False, monkeypatch=monkeypatch)
    assert two_threads == [2, 2, 2]  # every step, the first (which makes the slots) included, ran in two parts
    whole, whole_state = _train(optimizer_class, hyper, start, grads, whole=True, monkeypatch=monkeypatch)
    np.testing.assert_array_equal(cut, whole)
    assert cut_state.keys() == whole_state.keys()
    for key, value in whole_state.items():
        if isinstance(value, np.ndarray):
            assert cut_state[key].shape == value.shape and cut_state[key].strides == value.strides, key
            np.testing.assert_array_equal(cut_state[key], value)
        else:
            assert cut_state[key] == value, key


def test_a_slot_made_later_is_joined_across_the_parts(two_threads, monkeypatch):
    """AMSGrad switched on after the first step: each part makes its piece of the new slot, joined as one."""
    rng = np.random.default_rng(1)
    start = rng.standard_normal(SHAPE).astype(np.float32)
    grads = [rng.standard_normal(SHAPE).astype(np.float32) for _ in range(3)]
    results = []
    for whole in (False, True):
        if whole:
            monkeypatch.setattr(parts, "CUT_FROM", 1 << 62)
        w = ember.from_numpy(start.copy()).requires_grad_()
        optimizer = ember.optim.Adam([w], lr=1e-2)
        for i, g in enumerate(grads):
            optimizer.param_groups[0]["amsgrad"] = i > 0
            w.grad = ember.from_numpy(g.copy())
            optimizer.step()
        results.append((w.detach().numpy(), optimizer.state[w]["max_exp_avg_sq"]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_a_column_major_linear_weight_is_cut_in_its_memory_order(two_threads, monkeypatch):
    """nn.Linear keeps its weight column by column: the parts follow memory, the momentum buffer keeps that
    layout, and the numbers are the whole update's."""
    rng = np.random.default_rng(2)
    results = []
    for whole in (False, True):
        if whole:
            monkeypatch.setattr(parts, "CUT_FROM", 1 << 62)
        ember.manual_seed(0)
        layer = ember.nn.Linear(1030, 600)
        assert layer.weight.array.flags.f_contiguous and not layer.weight.array.flags.c_contiguous
        optimizer = ember.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
        x = ember.from_numpy(np.random.default_rng(3).standard_normal((8, 1030)).astype(np.float32))
        for _ in range(2):
            optimizer.zero_grad()
            (layer(x) ** 2).mean().backward()
            optimizer.step()
        buffer = optimizer.state[layer.weight]["momentum_buffer"]
        assert buffer.flags.f_contiguous
        results.append((layer.weight.detach().numpy(), buffer))
    assert two_threads == [2, 2]
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    del rng


def test_parameters_sharing_memory_are_updated_whole_in_their_order(two_threads):
    """Two leaves over one array: each update must see the other's, in parameter order, as without parts."""
    rng = np.random.default_rng(4)
    memory = rng.standard_normal(SHAPE).astype(np.float32)
    reference = memory.copy()
    a, b = ember.from_numpy(memory).requires_grad_(), ember.from_numpy(memory).requires_grad_()
    ga, gb = (rng.standard_normal(SHAPE).astype(np.float32) for _ in range(2))
    a.grad, b.grad = ember.from_numpy(ga.copy()), ember.from_numpy(gb.copy())
    ember.optim.SGD([a, b], lr=0.5).step()
    assert two_threads == []
    reference -= ga * np.float32(0.5)
    reference -= gb * np.float32(0.5)
    np.testing.assert_array_equal(memory, reference)


def test_small_and_strided_parameters_are_updated_whole(two_threads):
    rng = np.random.default_rng(5)
    small = ember.from_numpy(rng.standard_normal((10, 10)).astype(np.float32)).requires_grad_()
    strided = ember.from_numpy(rng.standard_normal((2 * SHAPE[0], SHAPE[1])).astype(np.float32)[::2]).requires_grad_()
    expected = [small.detach().numpy() - np.float32(0.1) * np.ones((10, 10), np.float32),
                strided.detach().numpy() - np.float32(0.1) * np.ones(SHAPE, np.float32)]
    small.grad, strided.grad = ember.ones(10, 10), ember.ones(*SHAPE)
    ember.optim.SGD([small, strided], lr=0.1).step()
    assert two_threads == []
    np.testing.assert_array_equal(small.detach().numpy(), expected[0])
    np.testing.assert_array_equal(strided.detach().numpy(), expected[1])


def test_one_thread_runs_the_large_parameters_whole(monkeypatch):
    monkeypatch.setattr(parallel, "num_threads", lambda: 1)
    w = ember.ones(*SHAPE, requires_grad=True)
    w.grad = ember.ones(*SHAPE)
    optimizer = ember.optim.SGD([w], lr=0.25, momentum=0.9)
    optimizer.step()
    np.testing.assert_array_equal(w.detach().numpy(), np.full(SHAPE, 0.75, np.float32))
    assert optimizer.state[w]["momentum_buffer"].shape == SHAPE


def test_an_optimizer_that_ran_in_parts_copies_and_pickles(two_threads):
    w = ember.ones(*SHAPE, requires_grad=True)
    w.grad = ember.ones(*SHAPE)
    optimizer = ember.optim.SGD([w], lr=0.1, momentum=0.9)
    optimizer.step()
    assert two_threads == [2]
    for clone in (copy.deepcopy(optimizer), pickle.loads(pickle.dumps(optimizer))):
        clone_w = clone.param_groups[0]["params"][0]
        clone_w.grad = ember.ones(*SHAPE)
        clone.step()  # finds its own parameters' overlaps
        np.testing.assert_allclose(clone_w.detach().numpy(), 1 - 0.1 - 0.1 * 1.9, rtol=1e-6)


def test_a_rule_that_breaks_the_elementwise_contract_is_named(two_threads):
    """A rule whose scalar state depends on the elements it saw cannot be cut: the step says so."""

    @update_rule(elementwise=True)
    def first_value_rule(param, grad, state, *, lr):
        state["first"] = float(param.reshape(-1)[0])  # differs from part to part
        param -= grad * lr

    class FirstValue(ember.optim.Optimizer):
        update = staticmethod(first_value_rule)

        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

    start = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    w = ember.from_numpy(start).requires_grad_()
    w.grad = ember.zeros(*SHAPE)
    with pytest.raises(RuntimeError, match="'first' different in different parts"):
        FirstValue([w]).step()


def test_overlaps_finds_every_array_that_shares_bytes():
    memory = np.zeros(100, np.float32)
    apart, inside, other = memory[:40], memory[30:50], np.zeros(10, np.float32)
    late = memory[90:]
    found = parts.Overlaps().of([apart, inside, other, late, np.zeros(0, np.float32)])
    assert found == {id(apart), id(inside)}


def test_a_slot_restored_in_another_memory_order_updates_whole(two_threads):
    """A checkpoint gives a column-major weight's momentum back row by row: that update runs whole, and right."""
    ember.manual_seed(0)
    layer = ember.nn.Linear(1030, 600, bias=False)
    optimizer = ember.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    ones = np.ones_like(layer.weight.array)  # the weight's memory order, as backward gives it
    layer.weight.grad = ember.from_numpy(ones.copy(order="K"))
    optimizer.step()
    saved = optimizer.state_dict()
    saved["state"][0]["momentum_buffer"] = np.ascontiguousarray(saved["state"][0]["momentum_buffer"])
    restored = ember.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    restored.load_state_dict(saved)
    assert restored.state[layer.weight]["momentum_buffer"].flags.c_contiguous
    before = layer.weight.detach().numpy().copy()
    layer.weight.grad = ember.from_numpy(ones.copy(order="K"))
    restored.step()
    assert two_threads == [2]  # the first step only
    np.testing.assert_array_equal(layer.weight.detach().numpy(), before - np.float32(0.1) * np.float32(1.9))

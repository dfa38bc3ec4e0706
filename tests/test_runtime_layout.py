"""The runtime's layout decisions for every front end (variable arenas, flat updates under ``ember.jit``), and
numbers fed as they are to compiled functions (a ``Session``'s Python floats and NumPy scalars)."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember
import ember.compat.tf as tf
from ember import nn
from ember.graph import Graph
from ember.runtime import compile_graph
from ember.runtime.arena import aligned_empty, in_arena, lay_out, movable

RNG = np.random.default_rng(0)
ROUNDING = {"rtol": 1e-6, "atol": 1e-7}  # where a runtime pass reorders float32 arithmetic (bias folding)
X = [ember.tensor(RNG.standard_normal((8, 6)).astype(np.float32)) for _ in range(3)]
Y = [ember.tensor(RNG.integers(0, 3, 8)) for _ in range(3)]


# --- arenas -----------------------------------------------------------------------------------------------


def test_lay_out_copies_side_by_side_per_dtype_aligned():
    arrays = [RNG.standard_normal((3, 5)).astype(np.float32), np.arange(3, dtype=np.float64),
              RNG.standard_normal(7).astype(np.float32)]
    views = lay_out(arrays)
    for a, v in zip(arrays, views):
        np.testing.assert_array_equal(v, a)
        assert v.dtype == a.dtype and v.shape == a.shape and not np.shares_memory(v, a)
    assert views[0].base is views[2].base and views[1].base is not views[0].base
    offset = (views[2].__array_interface__["data"][0] - views[0].base.__array_interface__["data"][0]) // 4
    assert offset == 16  # 15 elements rounded up to a 64-byte line
    assert all(v.__array_interface__["data"][0] % 64 == 0 for v in views)  # each starts on a cache line
    assert movable(arrays[0]) and not movable(views[0]) and not movable(np.empty(0, np.float32))
    # views of an arena may move with their neighbours; a user's views of their own arrays may not
    assert in_arena(views[0]) and in_arena(views[2]) and not in_arena(arrays[0]) and not in_arena(arrays[0][1:])


def test_aligned_empty_starts_on_a_cache_line_and_is_its_views_base():
    for size, dtype in [(1, np.uint8), (1000, np.float32), (333, np.float64)]:
        a = aligned_empty(size, dtype, zeroed=True)
        assert a.shape == (size,) and a.dtype == dtype and a.flags.writeable and not a.any()
        assert a.__array_interface__["data"][0] % 64 == 0
        assert a[1:].base is a and a[:0].reshape(0, 1).T.base is a


def test_compiled_buffers_start_on_cache_lines():
    net, optimizer = _build()
    step = ember.jit(_step)
    step(net, optimizer, X[0], Y[0])
    arrays = [p.array for p in net.parameters()] + [optimizer.state[p]["momentum_buffer"] for p in net.parameters()]
    bases = {id(a.base): a.base for a in arrays}
    assert len(bases) == 2  # the parameters' arena, the momentum buffers' flat array
    # made by aligned_empty (over the buffer protocol), not aligned by luck: NumPy's small arrays may start on a line
    assert all(isinstance(b.base, memoryview) and b.__array_interface__["data"][0] % 64 == 0 for b in bases.values())


# --- ember.jit: parameters pinned into the code --------------------------------------------------------------


def test_an_unfolded_weight_gradient_is_computed_into_the_flat_gradients():
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 3))  # too wide an input to fold its bias
    opt = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    eager_net, eager_opt = copy.deepcopy(net), None
    eager_opt = ember.optim.SGD(eager_net.parameters(), lr=0.1, momentum=0.9)
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    rng = np.random.default_rng(1)
    for _ in range(2):
        x, y = ember.tensor(rng.standard_normal((64, 784)).astype(np.float32)), ember.tensor(rng.integers(0, 3, 64))
        step(x, y)
        _step(eager_net, eager_opt, x, y)
        for p, q in zip(eager_net.parameters(), net.parameters()):
            np.testing.assert_allclose(q.grad.array, p.grad.array, **ROUNDING)
            np.testing.assert_allclose(q.array, p.array, **ROUNDING)
    source = compile_graph(step._last.graph, step._last.bound).source
    # (x.T @ g).T: the product writes the first weight's gradient straight into its flat gradient view
    assert re.search(r"out=g\d+\.T\)", source) and "copyto" not in source


def _build(momentum=0.9):
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    return net, ember.optim.SGD(net.parameters(), lr=0.1, momentum=momentum)


def _step(net, optimizer, x, y):
    optimizer.zero_grad()
    loss = ember.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_jit_lays_updated_parameters_out_and_matches_eager(momentum):
    eager_net, eager_opt = _build(momentum)
    net, opt = _build(momentum)
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    # each layer's bias folds into its product (the weight stored column by column, the bias after it): the
    # eager step's numbers up to float32 rounding, per step
    for x, y in zip(X, Y):
        np.testing.assert_allclose(step(x, y).item(), _step(eager_net, eager_opt, x, y).item(), **ROUNDING)
        state = [p.array for p in net.parameters()] + [opt.state[p].get("momentum_buffer") for p in net.parameters()]
        for p in net.parameters():  # a gradient of its own, shared with nothing the next step writes
            assert p.grad.array.flags.writeable
            assert not any(np.shares_memory(p.grad.array, a) for a in state if a is not None)
        for p, q in zip(eager_net.parameters(), net.parameters()):
            np.testing.assert_allclose(q.array, p.array, **ROUNDING)
            np.testing.assert_allclose(q.grad.array, p.grad.array, **ROUNDING)
            p.array[...] = q.array  # the next step starts from one state
            if momentum:
                eager_opt.state[p]["momentum_buffer"][...] = opt.state[q]["momentum_buffer"]
    bases = {id(p.array.base) for p in net.parameters()}
    assert len(bases) == 1 and all(p.array.base is not None for p in net.parameters())  # one arena
    assert all(p.array.flags.f_contiguous for p in (net[0].weight, net[2].weight))
    assert step.traces == 1
    if momentum:
        buffers = [opt.state[p]["momentum_buffer"] for p in net.parameters()]
        assert len({id(b.base) for b in buffers}) == 1  # one flat buffer, shared with eager steps
        for p, q in zip(eager_net.parameters(), net.parameters()):
            assert opt.state[q]["momentum_buffer"].flags.f_contiguous == q.array.flags.f_contiguous
            np.testing.assert_allclose(opt.state[q]["momentum_buffer"], eager_opt.state[p]["momentum_buffer"],
                                       **ROUNDING)
    for a, b in zip(eager_net.parameters(), net.parameters()):  # eager steps go on from the laid-out state
        b.array[...] = a.array
    for x, y in zip(X, Y):
        np.testing.assert_allclose(_step(net, opt, x, y).item(), _step(eager_net, eager_opt, x, y).item(),
                                   **ROUNDING)


def test_jit_gradients_of_one_call_survive_the_next():
    net, opt = _build()
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    step(X[0], Y[0])
    first = [p.grad for p in net.parameters()]
    kept = [g.array.copy() for g in first]
    step(X[1], Y[1])
    for g, k in zip(first, kept):
        np.testing.assert_array_equal(g.array, k)


def test_jit_follows_a_replaced_parameter_array_and_the_live_lr():
    eager_net, eager_opt = _build()
    net, opt = _build()
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    step(X[0], Y[0])
    _step(eager_net, eager_opt, X[0], Y[0])
    weight = net[0].weight
    new = RNG.standard_normal(weight.shape).astype(np.float32)
    weight.array = new.copy()  # a new array: the step compiles again for it
    eager_net[0].weight.array = new.copy()
    step(X[1], Y[1])
    _step(eager_net, eager_opt, X[1], Y[1])
    assert weight.array is not None and not np.array_equal(weight.array, new)  # updated where it lives now
    # the new array and its neighbours share a new arena: the step keeps its whole-array updates
    assert len({id(p.array.base) for p in net.parameters()}) == 1
    assert all(p.array.base is not None for p in net.parameters())
    for p, q in zip(eager_net.parameters(), net.parameters()):
        np.testing.assert_array_equal(q.array, p.array)
    for group in opt.param_groups:
        group["lr"] = 0.0  # read on every call, also by the flat update
    before = [p.array.copy() for p in net.parameters()]
    step(X[2], Y[2])
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.array, b)
    assert step.traces == 1


def test_two_traced_steps_share_one_arena():
    net, opt = _build()
    first = ember.jit(lambda x, y: _step(net, opt, x, y))
    second = ember.jit(lambda x, y: _step(net, opt, x, y))
    first(X[0], Y[0])
    arrays = [p.array for p in net.parameters()]
    second(X[1], Y[1])
    first(X[2], Y[2])
    assert all(p.array is a for p, a in zip(net.parameters(), arrays))  # nothing moved twice


# --- numbers fed as they are -------------------------------------------------------------------------------


def _linear_regression(shape):
    x = tf.placeholder(tf.float32, shape)
    y = tf.placeholder(tf.float32, shape)
    w, b = tf.Variable(0.3), tf.Variable(0.1)
    loss = tf.reduce_mean(tf.square(w * x + b - y))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return sess, x, y, w, b, train, loss


@pytest.mark.parametrize("kind", [float, np.float32, np.float64, "0-d"])
def test_session_takes_numbers_as_0d_arrays(kind):
    samples = [(0.1 * i + 0.05, 0.3 - 0.07 * i) for i in range(6)]
    results = {}
    for feed in (kind, "reference"):
        tf.reset_default_graph()
        sess, x, y, w, b, train, loss = _linear_regression([])
        for xv, yv in samples:
            if feed == "reference":  # what _check_feed makes of a Python float
                xv, yv = np.asarray(xv).astype(np.float32), np.asarray(yv).astype(np.float32)
            elif feed == "0-d":
                xv, yv = np.array(xv, np.float32), np.array(yv, np.float32)
            else:
                xv, yv = feed(xv), feed(yv)
            sess.run(train, feed_dict={x: xv, y: yv})
        results[feed] = [sess.run(w), sess.run(b), sess.run(loss, {x: 0.1, y: 0.2})]
    for got, expected in zip(results[kind], results["reference"]):
        assert got.dtype == np.float32 and got == expected


def test_python_floats_are_rounded_to_the_placeholder_dtype_once():
    x = tf.placeholder(tf.float32, [])
    v = tf.Variable(np.float64(1.0 / 3))
    twice, scaled, mixed = x + x, x * 3.0, tf.cast(x, tf.float64) * v
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    x32 = np.float32(0.1)
    got = sess.run([twice, scaled, mixed, x], {x: 0.1})
    assert got[0] == x32 + x32 and got[0].dtype == np.float32
    assert got[1] == x32 * np.float32(3.0)
    assert got[2] == np.float64(x32) * sess.run(v).astype(np.float64) and got[2].dtype == np.float64
    assert got[3] == x32 and got[3].dtype == np.float32
    assert sess.run(twice, {x: 0.1}) == x32 + x32  # the one-tensor path compiles the same


def test_number_feeds_keep_their_checks():
    i = tf.placeholder(tf.int32, [])
    small = tf.placeholder(tf.int16, [])
    vec = tf.placeholder(tf.float32, [None])
    sess = tf.Session()
    for _ in range(2):  # an error is not cached as a compiled signature
        with pytest.raises(TypeError, match="float"):
            sess.run(i * 2, {i: 1.5})
        with pytest.raises(ValueError, match="shape"):
            sess.run(vec * 2.0, {vec: 1.5})
        with pytest.raises(ValueError, match="do not fit"):
            sess.run(small + 1, {small: 70000})
    assert sess.run(small + 1, {small: 5}) == 6
    assert sess.run(vec * 2.0, {vec: np.array([1.5], np.float32)}).tolist() == [3.0]


def test_numbers_into_an_array_graph():
    scale = tf.placeholder(tf.float32, [])
    v = tf.Variable(np.arange(4, dtype=np.float32))
    out = v * scale + scale
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    expected = sess.run(out, {scale: np.array(0.1, np.float32)})
    for number in (0.1, np.float32(0.1), np.float64(0.1)):
        np.testing.assert_array_equal(sess.run(out, {scale: number}), expected)


def test_compile_graph_numbers_only_for_unbound_0d_inputs():
    g = Graph()
    x = g.input("x", (), "float32")
    vec = g.input("v", (3,), "float32")
    with g.building():
        g.outputs = [-x + x * x, vec * x]
    run = compile_graph(g, scalars={x.id: float})
    x32 = np.float32(0.7)
    neg, prod = run(0.7, np.ones(3, np.float32))
    assert neg == -x32 + x32 * x32 and prod.dtype == np.float32
    with pytest.raises(ValueError, match="shape"):
        compile_graph(g, scalars={vec.id: float})


def test_session_fetching_gradients_beside_the_training_op(monkeypatch):
    """Gradients a run returns stay intact though the flat update reads them (its step goes elsewhere)."""
    import ember.compat.tf.session as session

    sources = []
    monkeypatch.setattr(session, "compile_graph", lambda *a, **k: sources.append(compile_graph(*a, **k)) or sources[-1])
    rng = np.random.default_rng(1)
    data = rng.standard_normal((5, 4)).astype(np.float32)
    results = []
    for fetch_grads in (True, False):
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [None, 4])
        w, b = tf.Variable(np.ones((4, 3), np.float32)), tf.Variable(np.zeros(3, np.float32))
        loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b))
        grads = tf.gradients(loss, [w, b])
        train = tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
        sess = tf.Session()
        sess.run(tf.global_variables_initializer())
        fetched = []
        for _ in range(3):
            if fetch_grads:
                _, gw, gb = sess.run([train, *grads], {x: data})
                fetched.append((gw.copy(), gb.copy()))
                assert gw.base is None or not np.shares_memory(gw, sess.run(w))
            else:
                fetched.append(tuple(sess.run(grads, {x: data})))
                sess.run(train, {x: data})
        results.append((fetched, sess.run(w), sess.run(b)))
    assert any("grads" in c.source and "rot" in c.source for c in sources)  # the flat run returned them
    (got, w1, b1), (expected, w2, b2) = results
    for (gw, gb), (ew, eb) in zip(got, expected):
        np.testing.assert_allclose(gw, ew, rtol=1e-6)
        np.testing.assert_allclose(gb, eb, rtol=1e-6)
    np.testing.assert_allclose(w1, w2, rtol=1e-6)
    np.testing.assert_allclose(b1, b2, rtol=1e-6)


def test_a_feed_error_is_not_chained_to_the_cache_miss():
    i = tf.placeholder(tf.int32, [])
    with pytest.raises(TypeError) as info:
        tf.Session().run(i * 2, {i: 1.5})
    assert info.value.__context__ is None


def test_one_element_jit_step_reads_lr_on_every_call():
    """The code on NumPy scalars reads lr live too (it used to freeze the traced value)."""
    w = ember.tensor(np.float32(0.3), requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)

    @ember.jit
    def step(x, y):
        opt.zero_grad()
        diff = w * x - y
        loss = (diff * diff).mean()
        loss.backward()
        opt.step()
        return loss

    x, y = ember.tensor(np.float32(2.0)), ember.tensor(np.float32(1.0))
    step(x, y)
    for group in opt.param_groups:
        group["lr"] = 0.0
    before = w.array.copy()
    step(x, y)
    np.testing.assert_array_equal(w.array, before)
    assert step.traces == 1


# --- gradients handed out from a flat run ------------------------------------------------------------------


def test_rotation_hands_out_only_arrays_nothing_else_holds():
    from ember.runtime.rotation import Rotation

    flat = np.zeros(12, np.float32)
    rotation = Rotation(flat, [flat[:6].reshape(2, 3), flat[6:12].reshape(3, 2).T])
    first = rotation()
    assert first[1].shape == (2, 3) and first[2].shape == (2, 3) and first[2].flags.f_contiguous
    assert all(a.base is first[0] for a in first[1:]) and not np.shares_memory(first[0], flat)
    first[1][...] = 1
    assert rotation()[1] is first[1]  # nothing outside holds the set: taken again
    kept = first[1]
    second = rotation()
    assert second[1] is not kept and not np.shares_memory(second[0], first[0])
    del kept
    assert rotation()[1] is second[1]  # the set handed out last, which nothing holds: taken again
    held = second[1]
    assert rotation()[1] is first[1]  # else an earlier one that nothing holds
    del held
    row = first[2][0]  # an array made from a handed-out view holds the set's memory too
    assert rotation()[0] is not first[0]
    del row
    assert len(rotation.sets) == 2
    held = [list(rotation()) for _ in range(6)]  # every set held: new ones, the pool itself bounded
    assert len({id(h[0]) for h in held}) == 6 and len(rotation.sets) <= 4


def test_jit_gradients_reuse_their_memory_unless_kept():
    net, opt = _build()
    step = ember.jit(lambda x, y: _step(net, opt, x, y))
    bases = []
    for i in range(6):
        step(X[i % 3], Y[i % 3])
        bases.append(id(net[0].weight.grad.array.base))  # ids: holding the arrays would keep them from reuse
    # the first calls alternate two sets (the last .grad is held while the step runs); once the signature
    # repeats, the call lets the .grad it replaces go first and the step computes into the same memory again
    assert bases[0] != bases[1] and all(b == bases[-1] for b in bases[1:])
    kept = [p.grad for p in net.parameters()]
    values = [g.numpy().copy() for g in kept]
    for i in range(4):
        step(X[i % 3], Y[i % 3])
        assert net[0].weight.grad.array.base is not kept[0].array.base
    for g, v in zip(kept, values):  # a gradient kept from an earlier step keeps its values
        np.testing.assert_array_equal(g.numpy(), v)


def _resumed(hold: bool):
    """A momentum-SGD MLP after one eager step, its state restored into a new optimizer (checkpoint resume);
    ``hold``: the caller keeps a reference to one restored momentum buffer."""
    def build():
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
        return net, ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    net, optimizer = build()
    optimizer.zero_grad()
    ember.cross_entropy(net(X[0]), Y[0]).backward()
    optimizer.step()
    restored_net, restored = build()
    restored_net.load_state_dict(net.state_dict())
    restored.load_state_dict(optimizer.state_dict())
    held = restored.state[restored_net[0].weight]["momentum_buffer"] if hold else None
    return restored_net, restored, held


@pytest.mark.parametrize("hold", [False, True])
def test_restored_momentum_buffers_are_gathered_for_flat_updates_unless_held(hold):
    net, optimizer, held = _resumed(hold)
    eager_net, eager_optimizer, _ = _resumed(hold)

    def stepper(net, optimizer):
        def step(x, y):
            optimizer.zero_grad()
            loss = ember.cross_entropy(net(x), y)
            loss.backward()
            optimizer.step()
            return loss
        return step

    fast, eager = ember.jit(stepper(net, optimizer)), stepper(eager_net, eager_optimizer)
    for i in range(6):
        np.testing.assert_allclose(fast(X[i % 3], Y[i % 3]).numpy(), eager(X[i % 3], Y[i % 3]).detach().numpy(),
                                   **ROUNDING)
    for p, q in zip(net.parameters(), eager_net.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **ROUNDING)
        np.testing.assert_allclose(optimizer.state[p]["momentum_buffer"], eager_optimizer.state[q]["momentum_buffer"],
                                   **ROUNDING)
    buffers = [optimizer.state[p]["momentum_buffer"] for p in net.parameters()]
    if hold:  # a buffer someone holds stays where it is (and keeps being updated)
        assert buffers[0] is held
        np.testing.assert_array_equal(held, buffers[0])
    else:  # side by side in one array: the code updates them in a few whole-array calls
        assert all(b.base is not None and b.base is buffers[0].base for b in buffers)

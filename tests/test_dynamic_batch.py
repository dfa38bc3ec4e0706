"""One compiled function for every batch size: ``ember.jit(dynamic=...)``, ``Model(compile=True)``,
``GraphFunction`` and the TF-1 ``Session`` on placeholders with a None dimension.

Each test counts compilations through the cache's stats and checks the results against eager mode (or a
compilation per shape) bit for bit: the code compiled for unknown sizes makes the kernel choices eager mode
makes for each call's sizes. (Code compiled for known sizes may fold biases into products, which rounds
differently: compared with it, results agree within float32 rounding.)
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import ember
from ember import nn
from ember.compat import tf
from ember.graph import Graph, GraphError
from ember.model import Model
from ember.runtime import GraphFunction

SIZES = [32, 7, 1, 64, 33, 2, 100, 5, 32, 17]


def _twins(make, optimizer):
    """Two copies of one network (same parameters) with an optimizer each."""
    ember.manual_seed(0)
    a = make()
    ember.manual_seed(0)
    b = make()
    return (a, optimizer(a.parameters())), (b, optimizer(b.parameters()))


def _step(net, opt, loss_fn):
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _same_parameters(a, b) -> None:
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    for p, q in zip(a.buffers(), b.buffers()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def _mlp():
    return nn.Sequential(nn.Linear(13, 64), nn.ReLU(), nn.Linear(64, 3))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 10))


def _layer_norm_mlp():
    return nn.Sequential(nn.Linear(13, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 3))


def _momentum(params):
    return ember.optim.SGD(params, lr=0.05, momentum=0.9)


CASES = {
    "mlp_cross_entropy": (_mlp, (13,), lambda n, rng: rng.integers(0, 3, n), ember.cross_entropy),
    "mlp_mse_mean": (_mlp, (13,), lambda n, rng: rng.standard_normal((n, 3)).astype(np.float32), ember.mse_loss),
    "cnn_batchnorm": (_cnn, (1, 8, 8), lambda n, rng: rng.integers(0, 10, n), ember.cross_entropy),
    "mlp_layer_norm": (_layer_norm_mlp, (13,), lambda n, rng: rng.integers(0, 3, n), ember.cross_entropy),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_training_step_over_many_batch_sizes_compiles_once_and_equals_eager(name):
    make, features, target, loss_fn = CASES[name]
    (net, opt), (twin, twin_opt) = _twins(make, _momentum)
    fast = ember.jit(_step(net, opt, loss_fn), dynamic=True)
    eager = _step(twin, twin_opt, loss_fn)
    rng = np.random.default_rng(0)
    sizes = SIZES if name != "cnn_batchnorm" else [s for s in SIZES if s > 1]  # batch norm needs 2 rows
    for n in sizes:
        x = ember.tensor(rng.standard_normal((n, *features)).astype(np.float32))
        y = ember.tensor(target(n, rng))
        assert fast(x, y).item() == eager(x, y).item(), n
        _same_parameters(net, twin)
    assert fast.cache.stats()["compiles"] == 1 and fast.specialized == []
    assert "?" in str(fast._last.graph)  # the graph carries the unknown batch


def test_dynamic_code_equals_code_compiled_per_shape():
    # code for known sizes folds each layer's bias into its product (momentum SGD over the flat arena): the
    # same numbers up to float32 rounding, per step
    (net, opt), (twin, twin_opt) = _twins(_mlp, _momentum)
    general = ember.jit(_step(net, opt, ember.cross_entropy), dynamic=True)
    per_shape = ember.jit(_step(twin, twin_opt, ember.cross_entropy), dynamic=False)
    rng = np.random.default_rng(1)
    for n in [3, 64, 200]:
        x = ember.tensor(rng.standard_normal((n, 13)).astype(np.float32))
        y = ember.tensor(rng.integers(0, 3, n))
        np.testing.assert_allclose(general(x, y).item(), per_shape(x, y).item(), rtol=1e-6, atol=1e-7)
        for p, q in zip(net.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7)
            p.array[...] = q.array  # the next step starts from one state
    assert general.cache.stats()["compiles"] == 1 and per_shape.cache.stats()["compiles"] == 3


def test_by_default_the_second_shape_compiles_one_function_for_every_size():
    fast = ember.jit(lambda x, w: ember.relu(x @ w).mean(axis=0))
    w = ember.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    for n in range(1, 31):
        x = np.random.default_rng(n).standard_normal((n, 5)).astype(np.float32)
        expected = ember.relu(ember.tensor(x) @ w).mean(axis=0).numpy()
        np.testing.assert_array_equal(fast(ember.tensor(x), w).numpy(), expected)
    assert fast.cache.stats()["compiles"] == 2  # batch 1 exactly, then [?, 5] for the other 29
    assert "[?, 5]" in str(fast.graph_for(ember.tensor(np.ones((9, 5), np.float32)), w))


def test_a_trace_that_needs_the_batch_size_is_compiled_per_shape_and_says_why():
    fast = ember.jit(lambda x: x * float(x.shape[0]), dynamic=True)
    for n in (2, 3):
        np.testing.assert_array_equal(fast(ember.tensor(np.ones((n, 2), np.float32))).numpy(), np.full((n, 2), n))
    assert fast.cache.stats()["compiles"] == 2 and "float32[?, 2]" in fast.specialized[0]


def test_incompatible_shapes_name_the_op_and_the_shapes():
    w = ember.tensor(np.ones((5, 4), np.float32))
    fast = ember.jit(lambda x: x @ w, dynamic=True)
    fast(ember.tensor(np.ones((3, 5), np.float32)))
    with pytest.raises(ValueError, match=r"matmul.*\[3, 6\].*\[5, 4\]"):
        fast(ember.tensor(np.ones((3, 6), np.float32)))
    g = Graph()
    x = g.input("x", (None, 5), "float32")
    with g.building():
        g.outputs = [ember.relu(x).sum(axis=0)]
    fn = GraphFunction(g)
    fn(np.ones((2, 5), np.float32))
    with pytest.raises(GraphError, match=r"float32\[\?, 5\].*\[2, 6\]"):
        fn(np.ones((2, 6), np.float32))


def test_buffers_grow_to_the_largest_batch_and_memory_stays_bounded():
    (net, opt), _ = _twins(_mlp, _momentum)
    fast = ember.jit(_step(net, opt, ember.cross_entropy), dynamic=True)
    rng = np.random.default_rng(0)

    def run(n):
        fast(ember.tensor(rng.standard_normal((n, 13)).astype(np.float32)), ember.tensor(rng.integers(0, 3, n)))

    run(300)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1, 300):
            run(n)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert fast.cache.stats()["compiles"] == 1
    # per size only a few views stay (the compile cache and the per-size objects are bounded LRUs); one
    # compilation per size would keep 64 functions with their own buffers (about 150 KiB each here)
    assert kept < 1_000_000, kept


def test_graph_function_compiles_once_for_every_batch():
    g = Graph()
    x = g.input("x", (None, 3), "float32")
    with g.building():
        h = ember.relu(x)
        g.outputs = [h.mean(axis=0), h.var(axis=0, ddof=1), h.reshape(-1)]
    fn = GraphFunction(g)
    for n in range(2, 40):
        a = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
        t = ember.relu(ember.tensor(a))
        mean, var, flat = fn(a)
        np.testing.assert_array_equal(mean, t.mean(axis=0).numpy())
        np.testing.assert_allclose(var, t.var(axis=0, ddof=1).numpy(), rtol=1e-6)
        np.testing.assert_array_equal(flat, t.numpy().reshape(-1))
    assert fn.concrete.stats()["compiles"] == 1


def _tf_training(sizes, dynamic=True):
    tf_graph = tf.Graph()
    with tf_graph.as_default():
        x = tf.placeholder(tf.float32, (None, 13))
        y = tf.placeholder(tf.int64, (None,))
        w = tf.Variable(np.random.default_rng(0).standard_normal((13, 3)).astype(np.float32) * 0.1)
        b = tf.Variable(np.zeros(3, np.float32))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(x, w) + b))
        train = tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
        sess = tf.Session()
        sess.dynamic = dynamic
        sess.run(tf.global_variables_initializer())
    rng = np.random.default_rng(1)
    losses = []
    before = sess.cache.stats()["compiles"]
    for n in sizes:
        feed = {x: rng.standard_normal((n, 13)).astype(np.float32), y: rng.integers(0, 3, n)}
        losses.append(sess.run([loss, train], feed)[0])
    sess.training_compiles = sess.cache.stats()["compiles"] - before
    return sess, losses, sess.run([w, b])


def test_session_with_a_none_placeholder_reuses_one_function():
    sizes = SIZES * 3
    sess, losses, weights = _tf_training(sizes)
    # the first shape gets its own, fully specialized function; every other size one shared function
    assert sess.training_compiles == 2 and sess.specialized == []
    alone, alone_losses, alone_weights = _tf_training(sizes, dynamic=False)  # each shape compiled alone
    assert alone.training_compiles == len(set(sizes))
    assert alone_losses == losses
    for a, b in zip(weights, alone_weights):
        np.testing.assert_array_equal(a, b)


def test_session_placeholder_of_unknown_rank_is_not_fixed_to_the_second_shape_fed():
    tf_graph = tf.Graph()
    with tf_graph.as_default():
        x = tf.placeholder(tf.float32)  # no shape: the function for every size must not keep one fed shape
        ones = tf.fill([tf.shape(x)[0]], 1.0)
        sess = tf.Session()
    for n in (1, 2, 3, 5, 2):  # (was [1, 1] for every size after the second)
        np.testing.assert_array_equal(sess.run(ones, {x: np.zeros(n, np.float32)}), np.ones(n))
    assert sess.run(tf_graph.get_tensor_by_name(ones.name), {x: np.zeros((4, 2), np.float32)}).shape == (4,)


def test_model_fit_with_a_partial_last_batch_compiles_once_and_matches_eager():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((150, 13)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    results = []
    for compile in (False, True):
        ember.manual_seed(0)
        net = nn.Sequential(nn.Linear(13, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 3))
        model = Model(net, "cross_entropy", _momentum(net.parameters()), compile=compile)
        history = model.fit(x, y, epochs=4, batch_size=32, verbose=0)  # 4 full batches and one of 22
        results.append((history.history["loss"], [p.detach().numpy().copy() for p in net.parameters()]))
    assert results[1][0] == results[0][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)
    assert model._compiled_step.cache.stats()["compiles"] == 1
    assert results[1][0][-1] < results[1][0][0] * 0.7  # it learns


def test_a_size_whose_code_differs_is_compiled_alone():
    # a per-channel sum is two products with ones, except over an empty batch (NumPy's own reduction)
    g = Graph()
    x = g.input("x", (None, 2, 3, 3), "float32")
    with g.building():
        g.outputs = [x.sum(axis=(0, 2, 3))]
    fn = GraphFunction(g)
    for n in (4, 0, 5, 0):
        a = np.random.default_rng(n).standard_normal((n, 2, 3, 3)).astype(np.float32)
        np.testing.assert_array_equal(fn(a)[0], ember.tensor(a).sum(axis=(0, 2, 3)).numpy())
    assert fn.concrete.stats()["compiles"] == 2 and "differs from the code compiled" in fn.specialized[0]
    fast = ember.jit(lambda t: t.sum(axis=(0, 2, 3)), dynamic=True)
    for n in (4, 0, 5, 0):
        a = np.random.default_rng(n).standard_normal((n, 2, 3, 3)).astype(np.float32)
        np.testing.assert_array_equal(fast(ember.tensor(a)).numpy(), ember.tensor(a).sum(axis=(0, 2, 3)).numpy())
    assert fast.cache.stats()["compiles"] == 2 and "differs from the code compiled" in fast.specialized[0]


def test_unknown_dimensions_of_different_sizes_are_compiled_per_shape():
    # the passes take the unknown sizes of one function for one size (the batch): (4, 5) is not (n, n)
    fast = ember.jit(lambda x: (x * 2.0).sum(axis=0))
    for shape in [(3, 3), (4, 4), (4, 5), (6, 6), (2, 7)]:
        a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.testing.assert_array_equal(fast(ember.tensor(a)).numpy(), (a * 2).sum(axis=0))
    assert fast.cache.stats()["compiles"] == 4  # (3, 3), (?, ?) for (4, 4) and (6, 6), (4, 5), (2, 7)
    g = Graph()
    x = g.input("x", (None, None), "float32")
    with g.building():
        g.outputs = [ember.relu(x).sum(axis=0)]
    fn = GraphFunction(g)
    for shape in [(3, 3), (4, 5), (6, 6)]:
        a = np.ones(shape, np.float32)
        np.testing.assert_array_equal(fn(a)[0], a.sum(axis=0))
    assert fn.concrete.stats()["compiles"] == 2


def test_session_sizes_read_with_tf_shape_stay_each_value_s_own_on_a_shared_function():
    # with [None, None] placeholders fed (n, n) twice, one function serves both unknown dimensions; tf.shape(x)[i]
    # was read there as None, which reshape takes for its input's own size at that place (B * T rows, so (9, 1, 4)
    # for (3, 3, 4)), and tf.range of it was frozen empty at the build
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (None, None, 4))
        rows = tf.reshape(x, [-1, 4])
        back = tf.reshape(rows, [tf.shape(x)[0], tf.shape(x)[1], 4])
        whole = tf.reshape(tf.reshape(x, [-1]), tf.shape(x))
        steps = tf.range(tf.shape(x)[1])
        sess = tf.Session()
    rng = np.random.default_rng(0)
    for batch, length in [(2, 5), (3, 3), (4, 4), (1, 1), (3, 6)]:
        a = rng.standard_normal((batch, length, 4)).astype(np.float32)
        got = sess.run([back, whole, steps], {x: a})
        np.testing.assert_array_equal(got[0], a)
        np.testing.assert_array_equal(got[1], a)
        np.testing.assert_array_equal(got[2], np.arange(length, dtype=np.int32))
    assert sess.specialized == [] and len(sess.general) == 1


def test_session_tensordot_keeps_each_leading_size_on_a_shared_function():
    # tf.tensordot(x, w, 1) reshaped its product (B * T rows) to x's leading sizes read as None, the product's own
    # size first: (9, 1, 3) for x of (3, 3, 4) on the function shared by (n, n, 4) feeds
    w = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, (None, None, 4))
        y = tf.tensordot(x, w, 1)
        sess = tf.Session()
    rng = np.random.default_rng(0)
    for batch, length in [(2, 5), (3, 3), (4, 4), (1, 1)]:
        a = rng.standard_normal((batch, length, 4)).astype(np.float32)
        np.testing.assert_allclose(sess.run(y, {x: a}), np.tensordot(a, w, 1), rtol=1e-5, atol=1e-6)
    assert sess.specialized == [] and len(sess.general) == 1


def test_session_masks_reshapes_and_slices_by_sizes_computed_from_tf_shape():
    # tf.sequence_mask(lengths, tf.shape(x)[1]) and tf.slice with a size of tf.shape(x)[1] - 1 called int() on the
    # size, and tf.reshape refused tf.shape(x)[1] * 2 ("the size tf.Tensor 'mul:0' is not supported"), as TF-1 builds
    # them on [None, None] placeholders; the size (int arithmetic of tf.shape(t)[i]) is read when the graph runs
    with tf.Graph().as_default():
        x, lengths = tf.placeholder(tf.float32, (None, None, 4)), tf.placeholder(tf.int32, (None,))
        mask = tf.sequence_mask(lengths, tf.shape(x)[1], dtype=tf.float32)
        pairs = tf.reshape(x, [-1, tf.shape(x)[1] * 2, 2])
        head = tf.slice(x, [0, 0, 0], [-1, tf.shape(x)[1] - 1, -1])
        tail = tf.slice(x, [0, 1 + 0 * tf.shape(x)[0], 0], [tf.shape(x)[0], -1, 2 * 2])
        sess = tf.Session()
    rng = np.random.default_rng(0)
    for batch, length in [(2, 5), (3, 3), (4, 4), (1, 1), (3, 6)]:
        a = rng.standard_normal((batch, length, 4)).astype(np.float32)
        n = np.arange(batch, dtype=np.int32) % (length + 1)
        got = sess.run([mask, pairs, head, tail], {x: a, lengths: n})
        np.testing.assert_array_equal(got[0], (np.arange(length) < n[:, None]).astype(np.float32))
        np.testing.assert_array_equal(got[1], a.reshape(batch, length * 2, 2))
        np.testing.assert_array_equal(got[2], a[:, :length - 1])
        np.testing.assert_array_equal(got[3], a[:, 1:])
    assert sess.specialized == [] and len(sess.general) == 1, sess.specialized


def test_the_profiler_runs_a_function_compiled_for_every_batch():
    (net, opt), (twin, twin_opt) = _twins(_cnn, _momentum)
    fast = ember.jit(_step(net, opt, ember.cross_entropy), dynamic=True)
    eager = _step(twin, twin_opt, ember.cross_entropy)
    rng = np.random.default_rng(0)
    for n in (4, 3):
        x = ember.tensor(rng.standard_normal((n, 1, 8, 8)).astype(np.float32))
        y = ember.tensor(rng.integers(0, 10, n))
        expected = eager(x, y).item()
        with ember.profiler.profile() as prof:  # runs the graph node by node, through the ops' forwards
            assert fast(x, y).item() == expected
    assert fast.cache.stats()["compiles"] == 1 and "reshape" in str(prof.key_averages())

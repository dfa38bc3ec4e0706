"""The ``mixed_precision`` graph pass: dtypes per op, equality with a graph built under ``ember.autocast``,
numerics against float32, the TF-1 rewrite (``enable_mixed_precision_graph_rewrite``) training on digits in
bfloat16 and float16 with dynamic loss scaling, effects, graphs it leaves alone, and bad arguments."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from graph_cases import CASES, _inputs

import ember
import ember.nn.functional as F
from ember.backend.dtypes import bfloat16, float16, float32
from ember.graph.ir import Graph, interpret
from ember.optim.functional import adam_update, sgd_update
from ember.passes import TrainRequest, mixed_precision, pipeline, run_passes
from ember.runtime import GraphFunction

RTOL = {bfloat16: 2e-2, float16: 4e-3}  # one rounding of each operand and of the result


def _rng(seed=0):
    return np.random.default_rng(seed)


def _dtypes(graph: Graph) -> dict:
    """op name -> the output dtypes of its nodes, in order (casts left out)."""
    found: dict = {}
    for node in graph.nodes:
        if node.outputs and node.op.name not in ("cast", "const"):
            found.setdefault(node.op.name, []).append(node.outputs[0].dtype)
    return found


# --- dtypes per op ------------------------------------------------------------------------------------------


def _mixed_graph():
    g = Graph()
    x = g.input("x", (None, 3, 6, 6), float32)
    k = g.input("k", (4, 3, 3, 3), float32)
    w = g.input("w", (10, 144), float32)
    b = g.input("b", (10,), float32)
    v = g.input("v", (10, 10), float32)
    with g.building():
        h = ember.relu(F.conv2d(x, k, padding=1)).reshape(-1, 144)
        z = F.linear(h, w, b) * 0.5
        logits = z @ v + b
        g.outputs = [ember.softmax(logits, axis=1), ember.exp(z).sum(), ember.argmax(logits, axis=1)]
    return g


def test_dtypes_per_op_after_the_pass():
    g = mixed_precision(_mixed_graph(), "bfloat16").verify()
    dtypes = _dtypes(g)
    assert dtypes["conv2d"] == [bfloat16] and dtypes["linear"] == [bfloat16] and dtypes["matmul"] == [bfloat16]
    assert dtypes["relu"] == [bfloat16] and dtypes["reshape"] == [bfloat16]  # follow their inputs
    assert dtypes["mul"] == [bfloat16]  # times a Python number: stays bfloat16
    assert dtypes["add"] == [float32]  # bfloat16 + float32 promotes
    assert dtypes["softmax"] == dtypes["exp"] == dtypes["sum"] == [float32]
    assert [v.dtype for v in g.outputs] == [float32, float32, np.int64]  # the outputs keep their dtypes
    assert all(v.dtype == float32 for v in g.inputs)  # master weights
    casts = [(n.inputs[0].id, n.attrs["dtype"]) for n in g.nodes if n.op.name == "cast"]
    assert len(casts) == len(set(casts))  # one value is cast once per dtype
    b = g.inputs[3]
    assert sum(1 for n in g.nodes if n.op.name == "cast" and n.inputs[0] is b) == 1  # b: to bfloat16 for linear
    mul = next(n for n in g.nodes if n.op.name == "mul")
    assert mul.inputs[1].dtype == bfloat16 and mul.inputs[1].shape == ()  # the 0.5, as a bfloat16 constant


def test_batch_norm_runs_in_float32():
    """The one documented difference from building under autocast: a normalization after a bfloat16 op promotes
    to its float32 weights (the op's shape rule wants one dtype), where autocast casts the weights down."""
    graphs = []
    for region in (contextlib.nullcontext(), ember.autocast("cpu")):
        g = Graph()
        x, k = g.input("x", (4, 3, 5, 5), float32), g.input("k", (3, 3, 3, 3), float32)
        w, b = g.input("w", (3,), float32), g.input("b", (3,), float32)
        with g.building(), region:
            g.outputs = [F.batch_norm(F.conv2d(x, k, padding=1), None, None, w, b, training=True)]
        graphs.append(g)
    rewritten = mixed_precision(graphs[0]).verify()
    assert _dtypes(rewritten)["conv2d"] == [bfloat16] and _dtypes(rewritten)["batch_norm_train"] == [float32]
    assert _dtypes(graphs[1])["batch_norm_train"] == [bfloat16]


def test_float16_and_float64_inputs():
    g = Graph()
    x = g.input("x", (4, 5), float16)  # a half-precision input is already low: cast to float16 only for bfloat16
    w = g.input("w", (5, 3), "float64")  # float64 is left alone, as by ember.autocast
    with g.building():
        g.outputs = [ember.exp(x @ x.T), w.T @ w]
    g = mixed_precision(g, "float16").verify()
    assert not any(n.op.name == "cast" and n.inputs[0] is w for n in g.nodes)
    assert _dtypes(g)["matmul"] == [float16, np.float64]
    assert _dtypes(g)["exp"] == [float32]  # FLOAT32 widens a half-precision input
    assert [v.dtype for v in g.outputs] == [float16, np.float64]  # exp's float32 result is cast back to float16


# --- the same graph as building under ember.autocast ---------------------------------------------------------


def _train_graph(autocast_dtype=None, rule=sgd_update, hyper=None):
    g = Graph()
    x = g.input("x", (8, 2, 5, 5), float32)
    y = g.input("y", (8,), np.int64)
    k = g.input("k", (3, 2, 3, 3), float32)
    w1, b1 = g.input("w1", (6, 12), float32), g.input("b1", (6,), float32)
    w2, b2 = g.input("w2", (6, 3), float32), g.input("b2", (3,), float32)
    region = ember.autocast("cpu", dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
    with g.building(), region:
        h = ember.relu(F.conv2d(x, k, stride=2)).reshape(8, 12)
        h = ember.tanh(F.linear(h, w1, b1)) * 0.5
        scores = h @ w2
        loss = F.cross_entropy(scores + b2, y) + 0.01 * (w2 * w2).sum()
    g.outputs = [loss, scores]
    params = [k, w1, b1, w2, b2]
    g.requests.append(TrainRequest(loss, params, rule, hyper or {"lr": 0.1}, [{} for _ in params]))
    return g


def _train_arrays(seed=3):
    rng = _rng(seed)
    shapes = [(8, 2, 5, 5), None, (3, 2, 3, 3), (6, 12), (6,), (6, 3), (3,)]
    return [rng.integers(0, 3, 8) if s is None else rng.standard_normal(s).astype(np.float32) for s in shapes]


def _without_round_trips(graph: Graph) -> list:
    """(op, inputs, output dtype) of each node, sorted, with an exact round trip cast(cast(v, wider), narrower)
    read as v: the op functions' promotion makes those under autocast (bfloat16 to float32 before a matmul,
    which casts back), and the pass goes to v directly."""
    producers = graph.producers()
    source: dict = {}
    kept = []
    for node in graph.nodes:
        before = producers.get(node.inputs[0].id) if node.op.name == "cast" else None
        if before is not None and before.op.name == "cast" and before.inputs[0].dtype == node.attrs["dtype"]:
            source[node.outputs[0].id] = source.get(before.inputs[0].id, before.inputs[0].id)
            continue
        kept.append(node)
    reads = {source.get(v.id, v.id) for node in kept for v in node.inputs} | {v.id for v in graph.outputs}
    return sorted((node.op.name, len(node.inputs), str(node.outputs[0].dtype) if node.outputs else "")
                  for node in kept if node.op.name != "cast" or node.outputs[0].id in reads)


@pytest.mark.parametrize("dtype", [bfloat16, float16], ids=["bfloat16", "float16"])
def test_the_pass_equals_building_under_autocast(dtype):
    """One training step of a conv + linear + matmul + cross-entropy graph, rewritten by the pass before autodiff,
    computes bit for bit what the graph built under ember.autocast computes (forward, backward, updates)."""
    names = ["autodiff", "prune", "cse", "prune"]

    def both(outputs: slice):
        rewritten, traced = _train_graph(), _train_graph(dtype)
        rewritten.outputs, traced.outputs = rewritten.outputs[outputs], traced.outputs[outputs]
        return (run_passes(rewritten, [("mixed_precision", {"dtype": dtype})] + names, verify=True),
                run_passes(traced, names, verify=True))

    # the same nodes, apart from the cast back of an output (by design: the pass keeps the graph's signature)
    structure = both(slice(0, 1))
    assert _without_round_trips(structure[0]) == _without_round_trips(structure[1])
    rewritten, traced = both(slice(None))
    a, b = _train_arrays(), _train_arrays()
    out_a, out_b = interpret(rewritten, *a), interpret(traced, *b)
    assert out_a[0].tobytes() == out_b[0].tobytes()  # the loss (float32 in both)
    assert out_a[1].dtype == float32 and out_b[1].dtype == dtype  # the pass keeps an output's dtype...
    assert out_a[1].tobytes() == out_b[1].astype(float32).tobytes()  # ...with the same values
    for p, q in zip(a[2:], b[2:]):
        assert p.dtype == float32 and p.tobytes() == q.tobytes()  # updated float32 master weights


@pytest.mark.parametrize("dtype", [bfloat16, float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_graph_case_equals_building_under_autocast(case, dtype):
    """The shared graph cases in float32: the pass on the forward, then the gradients, against both built under
    ember.autocast: the same values bit for bit (outputs compared in float32)."""
    _, fn, shapes = case
    arrays = [a.astype(np.float32) for a in _inputs(shapes, seed=1)]
    results = []
    for region in (None, ember.autocast("cpu", dtype=dtype)):
        g = Graph()
        xs = [g.input(f"x{i}", s, float32) for i, s in enumerate(shapes)]
        with g.building(), region or contextlib.nullcontext():
            out = fn(*xs)
            total = out.sum()
        g.outputs = [out, total]
        if region is None:
            g = mixed_precision(g, dtype)
        g.outputs += g.gradients([total], xs)
        results.append(interpret(g.verify(), *arrays))
    for got, want in zip(*results):
        assert got.dtype == float32 or got.dtype == want.dtype
        assert got.astype(float32).tobytes() == want.astype(float32).tobytes()


@pytest.mark.parametrize("dtype", [bfloat16, float16], ids=["bfloat16", "float16"])
def test_numbers_the_low_dtype_cannot_hold_scale_in_float32_as_under_autocast(dtype):
    """``h * 0.9``, ``h / 0.3`` and ``h // 0.3`` of a low-precision product: PyTorch's kernels (and Ember's ops) keep
    such a number in float32 and round the result once; the pass does the same (0.5 and 2.0 stay in the dtype)."""
    arrays = [a.astype(np.float32) for a in _inputs([(6, 5), (5, 7)], seed=2)]
    results = []
    for region in (None, ember.autocast("cpu", dtype=dtype)):
        g = Graph()
        x, w = g.input("x", (6, 5), float32), g.input("w", (5, 7), float32)
        with g.building(), region or contextlib.nullcontext():
            h = x @ w
            out = h * 0.9 / 0.3 * 0.5 + h // 0.3 - 2.0 * h
            total = out.sum()
        g.outputs = [out, total]
        if region is None:
            g = mixed_precision(g, dtype)
        g.outputs += g.gradients([total], [x, w])
        results.append(interpret(g.verify(), *arrays))
    for got, want in zip(*results):
        assert got.astype(float32).tobytes() == want.astype(float32).tobytes()


# --- numerics against float32 --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [bfloat16, float16], ids=["bfloat16", "float16"])
def test_graph_function_numerics_within_the_low_precision(dtype):
    """GraphFunction(mixed_precision=...) against float32 on a graph holding its backward already (gradients
    taken before the pass): the backward's products run in the low dtype too; outputs and gradients float32."""
    g = Graph()
    x = g.input("x", (None, 32), float32)
    w1, w2 = g.input("w1", (32, 64), float32), g.input("w2", (64, 4), float32)
    with g.building():
        out = ember.tanh(x @ w1) @ w2
        loss = (out * out).mean()
    g.outputs = [out, loss] + g.gradients([loss], [w1, w2])
    rng = _rng(4)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in [(16, 32), (32, 64), (64, 4)]]
    exact = GraphFunction(g)(*arrays)
    mixed_fn = GraphFunction(g, mixed_precision=dtype.name)
    mixed = mixed_fn(*arrays)
    assert [a.dtype for a in mixed] == [float32] * 4
    concrete = mixed_fn.concrete_graph((16, 32), (32, 64), (64, 4))
    assert set(_dtypes(concrete)["matmul"]) == {dtype}
    for got, want in zip(mixed, exact):
        error = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert error < 4 * RTOL[dtype], error  # a few roundings to the low dtype on the way
        assert error > 0  # it did compute in the low dtype
    mixed_fn(rng.standard_normal((5, 32)).astype(np.float32), *arrays[1:])  # another batch size


def test_jit_training_step_through_the_pass():
    """ember.jit with the pass in its pipeline: the traced graph holds its backward, .grad effects and updates
    already; the products run in bfloat16, gradients and parameters stay float32, the losses follow float32's."""
    losses = []
    for passes in (None, pipeline(mixed_precision="bfloat16")):
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Linear(6, 16), ember.nn.Tanh(), ember.nn.Linear(16, 3))
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        @ember.jit(passes=passes)
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        rng = _rng(6)
        x = ember.tensor(rng.standard_normal((32, 6)).astype(np.float32))
        y = ember.tensor((x.numpy()[:, 0] > 0).astype(np.int64))
        losses.append([step(x, y).item() for _ in range(20)])
        assert all(p.dtype == p.grad.dtype == float32 for p in model.parameters())
    assert set(_dtypes(step.graph_for(x, y))["linear"]) == {bfloat16}
    np.testing.assert_allclose(losses[1], losses[0], rtol=0.05)
    assert losses[1][-1] < losses[1][0] / 2


# --- TF-1: the graph rewrite and loss scaling ----------------------------------------------------------------


@pytest.fixture
def tf():
    import ember.compat.tf as tf

    tf.reset_default_graph()
    yield tf
    tf.train.experimental.disable_mixed_precision_graph_rewrite()
    tf.reset_default_graph()


def _digits():
    pytest.importorskip("sklearn")
    from ember.data import load_digits

    images, labels = load_digits()
    order = _rng(0).permutation(len(labels))  # the first 1500 to train on, the other 297 to test
    return images[order], labels[order]


def _mlp(tf, seed=0):
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 64])
    y = tf.placeholder(tf.int64, [None])
    hidden = tf.layers.dense(x, 64, activation=tf.nn.relu)
    logits = tf.layers.dense(hidden, 10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return x, y, logits, loss


def _fit(tf, sess, train, loss, x, y, data, steps, batch=64, rng=None):
    images, labels = data
    rng = _rng(1) if rng is None else rng
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, 1500, batch)
        losses.append(sess.run([train, loss], {x: images[idx], y: labels[idx]})[1])
    return losses


def _compiled_graphs(sess):
    return [fn.graph_for_profiler[0] for fn in sess.cache.values()]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_session_mlp_trains_on_digits_with_the_rewrite(tf, dtype):
    data = _digits()
    x, y, logits, loss = _mlp(tf)
    opt = tf.train.experimental.enable_mixed_precision_graph_rewrite(tf.train.AdamOptimizer(0.01), dtype=dtype)
    assert isinstance(opt, tf.train.experimental.MixedPrecisionLossScaleOptimizer) == (dtype == "float16")
    train = opt.minimize(loss)
    sess = tf.Session()
    assert sess.mixed_precision == np.dtype(dtype)
    sess.run(tf.global_variables_initializer())
    losses = _fit(tf, sess, train, loss, x, y, data, 150)
    assert np.isfinite(losses).all() and np.mean(losses[-20:]) < 0.15, np.mean(losses[-20:])
    step = next(g for g in _compiled_graphs(sess) if any(n.op.name == "update" for n in g.nodes))
    assert set(_dtypes(step)["matmul"]) == {np.dtype(dtype)}  # forward and backward products
    assert all(n.inputs[1].dtype == float32 for n in step.nodes if n.op.name == "update")
    assert all(sess.run(v).dtype == float32 for v in tf.trainable_variables())
    pred = sess.run(logits, {x: data[0][1500:]})
    accuracy = (pred.argmax(1) == data[1][1500:]).mean()
    assert pred.dtype == float32 and accuracy >= 0.95, accuracy  # float32: 0.973; bfloat16 0.966, float16 0.973
    if dtype == "float16":
        assert sess.run(opt.loss_scale()) == 2.0 ** 15  # 150 good steps: no skip, no growth yet (2000)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_float16_loss_scale_skips_overflowing_steps_and_adjusts(tf):
    data = _digits()
    x, y, logits, loss = _mlp(tf)
    scale = tf.train.experimental.DynamicLossScale(initial_loss_scale=2.0 ** 24, increment_period=5)
    opt = tf.train.experimental.enable_mixed_precision_graph_rewrite(tf.train.AdamOptimizer(0.01), loss_scale=scale)
    global_step = tf.train.get_or_create_global_step()
    train = opt.minimize(loss, global_step=global_step)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    before = [sess.run(v).copy() for v in tf.trainable_variables()]
    _fit(tf, sess, train, loss, x, y, data, 1)
    # 2**24 times the loss's gradient overflows float16 in the backward: the step is skipped, the scale halved
    assert sess.run(scale()) == 2.0 ** 23 and sess.run(scale.good_steps) == 0
    assert sess.run(global_step) == 0  # TF counts applied steps only
    for v, array in zip(tf.trainable_variables(), before):
        np.testing.assert_array_equal(sess.run(v), array)
    first = tf.trainable_variables()[0]  # Adam's moments and powers untouched
    assert not sess.run(opt.get_slot(first, "m")).any() and not sess.run(opt.get_slot(first, "v")).any()
    assert sess.run(tf.get_default_graph().get_tensor_by_name("beta1_power:0")) == np.float32(0.9)
    losses, skipped, rng = [], 0, _rng(2)
    for _ in range(40):
        previous = sess.run(scale())
        losses += _fit(tf, sess, train, loss, x, y, data, 1, rng=rng)
        skipped += bool(sess.run(scale()) < previous)  # a skipped step halves the scale
    current = sess.run(scale())
    assert 1.0 <= current < 2.0 ** 23 and np.isfinite(losses).all() and np.mean(losses[-5:]) < losses[0] / 2
    assert skipped >= 1 and sess.run(global_step) == 40 - skipped
    assert all(np.isfinite(sess.run(v)).all() for v in tf.trainable_variables())


@pytest.mark.parametrize("dynamic", [False, True], ids=["fixed", "dynamic"])
def test_loss_scaling_in_float32_changes_no_bit(dynamic):
    """Scaling by a power of two and unscaling is exact in float32: steps of SGD with momentum through a loss-scaled
    request give the plain request's parameters bit for bit (the reference interpreter runs both graphs), and the
    dynamic scale doubles after ``period`` good steps."""
    from ember.passes.loss_scale import LossScale

    results = []
    for scaled in (False, True):
        g = _train_graph(rule=sgd_update, hyper={"lr": 0.05, "momentum": 0.9})
        g.outputs = []
        if scaled:
            scale, steps = g.input("scale", (), float32), g.input("good_steps", (), np.int64)
            g.requests[0].loss_scale = LossScale(scale, steps if dynamic else None, period=3)
        g = run_passes(g, ["autodiff", "prune", "cse", "prune"], verify=True)
        arrays = _train_arrays() + ([np.asarray(1024.0, np.float32), np.asarray(0)] if scaled else [])
        for _ in range(7):
            interpret(g, *arrays)
        results.append(arrays)
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()
    assert results[1][-2] == (2.0 ** 12 if dynamic else 1024.0)  # doubled after steps 3 and 6
    assert results[1][-1] == (1 if dynamic else 0)


def test_session_loss_scale_optimizer_in_float32_matches_the_plain_optimizer(tf):
    data = _digits()
    results = []
    for wrap in (False, True):
        tf.reset_default_graph()
        x, y, _, loss = _mlp(tf)
        opt = tf.train.MomentumOptimizer(0.05, 0.9)
        if wrap:
            scale = tf.train.experimental.DynamicLossScale(increment_period=3)
            opt = tf.train.experimental.MixedPrecisionLossScaleOptimizer(opt, scale)
        train = opt.minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            _fit(tf, sess, train, loss, x, y, data, 7)
            results.append([sess.run(v) for v in tf.trainable_variables()])
            if wrap:
                assert sess.run(scale()) == 2.0 ** 17 and sess.run(scale.good_steps) == 1
    for a, b in zip(*results):  # rounding: the code generator folds the biases into the products in the plain graph
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss_scale", [128.0, "dynamic"])
def test_session_loss_scale_optimizer_applies_a_lookups_gradient_to_its_rows_only(tf, loss_scale):
    # TF-1's LossScaleOptimizer hands the inner optimizer an embedding lookup's IndexedSlices, unscaled: its
    # SparseApplyMomentum leaves the rows not looked up. The scaled backward made it dense: row 1, looked up in
    # step 1 only, moved on by its momentum in step 2 (-0.09); a step with an inf (skipped) leaves rows and slots
    v = tf.Variable(np.arange(8.0).reshape(4, 2) / 10)
    ids, w = tf.placeholder(tf.int32, [None]), tf.placeholder(tf.float64, [None, 2])
    inner = tf.train.MomentumOptimizer(0.1, 0.9)
    opt = tf.train.experimental.MixedPrecisionLossScaleOptimizer(inner, loss_scale)
    train = opt.minimize(tf.reduce_sum(tf.nn.embedding_lookup(v, ids) * w))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {ids: [0, 1], w: np.ones((2, 2))})
        if loss_scale == "dynamic":
            before = sess.run([v, inner.get_slot(v, "momentum")])
            with np.errstate(invalid="ignore"):
                sess.run(train, {ids: [0, 2], w: [[np.inf, 1.0], [1.0, 1.0]]})
            for a, b in zip(before, sess.run([v, inner.get_slot(v, "momentum")])):
                np.testing.assert_array_equal(a, b)
        sess.run(train, {ids: [0], w: np.ones((1, 2))})
        got, momentum = sess.run([v, inner.get_slot(v, "momentum")])
    table = np.arange(8.0).reshape(4, 2) / 10
    np.testing.assert_allclose(got, table - [[0.29] * 2, [0.1] * 2, [0.0] * 2, [0.0] * 2], rtol=1e-12)
    np.testing.assert_allclose(momentum, [[1.9] * 2, [1.0] * 2, [0.0] * 2, [0.0] * 2], rtol=1e-12)

def test_session_loss_scale_optimizer_passes_adamw_decay_var_list_on(tf):
    results = []
    for wrap in (False, True):
        tf.reset_default_graph()
        w = tf.Variable(np.array([[0.5, -1.0], [2.0, 1.5]], np.float32), name="w")
        b = tf.Variable(np.array([1.0, -2.0], np.float32), name="bias")
        loss = tf.reduce_sum(tf.square(tf.matmul(tf.constant(np.eye(2, dtype=np.float32)), w) + b - 1.0))
        opt = tf.contrib.opt.AdamWOptimizer(0.1, 0.01)
        if wrap:
            opt = tf.train.experimental.MixedPrecisionLossScaleOptimizer(opt, "dynamic")
        train = opt.minimize(loss, decay_var_list=[w])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train)
            results.append(sess.run([w, b]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert np.abs(results[1][1] - [1.0, -2.0]).max() < 0.05  # (decayed 3 times by 0.1, the bias would be 27% less)


def test_a_session_keeps_the_setting_it_was_made_with(tf):
    x, y, _, loss = _mlp(tf)
    before = tf.Session()
    tf.train.experimental.enable_mixed_precision_graph_rewrite(tf.train.GradientDescentOptimizer(0.1),
                                                               loss_scale=None)
    after = tf.Session()
    tf.train.experimental.disable_mixed_precision_graph_rewrite()
    assert before.mixed_precision is None and after.mixed_precision == float16 and tf.Session().mixed_precision is None
    assert tf.compat.v1.mixed_precision.enable_mixed_precision_graph_rewrite is \
        tf.train.experimental.enable_mixed_precision_graph_rewrite


# --- effects, and graphs the pass leaves alone ---------------------------------------------------------------


def test_a_written_variable_is_cast_again_after_the_write_and_assigned_in_float32():
    g = Graph()
    x = g.input("x", (3, 3), float32)
    v = g.input("v", (3, 3), float32)
    with g.building():
        first = x @ v
        ember.ops.effects.assign(v, first[:, :1] @ ember.ones((1, 3)) + v)  # written from a bfloat16 product
        second = x @ v
    g.outputs = [first, second]
    g = mixed_precision(g).verify()
    casts_of_v = [n for n in g.nodes if n.op.name == "cast" and n.inputs[0] is v]
    assert len(casts_of_v) == 2  # the cast made before the write is not reused after it
    assign = next(n for n in g.nodes if n.op.name == "assign")
    assert assign.inputs[1].dtype == float32
    xs, vs = _rng(5).standard_normal((3, 3)).astype(np.float32), np.eye(3, dtype=np.float32)
    first_value, second_value = interpret(g, xs, vs)
    assert not np.array_equal(first_value, second_value)  # the second product read the written variable


def test_a_view_of_a_written_variable_is_cast_again_after_the_write():
    g = Graph()
    x = g.input("x", (2, 3), float32)
    w = g.input("w", (4, 3), float32)
    with g.building():
        wt = w.t()  # a view: it reads the variable's memory as the write leaves it
        before = x @ wt
        ember.ops.effects.assign(w, w * 2.0)
        after = x @ wt
    g.outputs = [before, after]
    g = run_passes(g, pipeline(mixed_precision="bfloat16"), verify=True)
    xs, ws = np.ones((2, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3)
    before_value, after_value = GraphFunction(g)(xs, ws.copy())
    np.testing.assert_array_equal(before_value, np.ones((2, 3)) @ ws.T)
    np.testing.assert_array_equal(after_value, np.ones((2, 3)) @ (2 * ws).T)  # not the cast made before the write


def test_graphs_without_float_ops_are_unchanged():
    g = Graph()
    a = g.input("a", (4, 3), np.int64)
    b = g.input("b", (3, 2), np.int64)
    with g.building():
        g.outputs = [(a @ b + 1).sum(axis=0)]
    before = g.dump()
    assert mixed_precision(g).dump() == before
    h = Graph()
    x = h.input("x", (4, 3), "float64")
    with h.building():
        h.outputs = [ember.softmax(x @ x.T, axis=1)]
    before = h.dump()
    assert mixed_precision(h, "float16").dump() == before


def test_bad_dtype_names_are_named():
    g = _mixed_graph()
    for bad in ("float32", "bfloat", "int8", None, 3):
        with pytest.raises(ValueError, match=r"mixed_precision: dtype must be 'bfloat16' or 'float16', got"):
            mixed_precision(g, bad)
    with pytest.raises(ValueError, match="got 'fp8'"):
        pipeline(mixed_precision="fp8")
    with pytest.raises(ValueError, match="got 'float64'"):
        GraphFunction(g, mixed_precision="float64")
    assert pipeline(mixed_precision="float16")[0] == ("mixed_precision", {"dtype": float16})
    import ember.compat.tf as tf

    with pytest.raises(ValueError, match="got 'float64'"):
        tf.train.experimental.enable_mixed_precision_graph_rewrite(tf.train.AdamOptimizer(), dtype="float64")
    with pytest.raises(ValueError, match="opt must be a tf.train.Optimizer, got str"):
        tf.train.experimental.enable_mixed_precision_graph_rewrite("adam")
    with pytest.raises(ValueError, match="loss_scale must be 'dynamic', a number or a LossScale, got 'auto'"):
        tf.train.experimental.MixedPrecisionLossScaleOptimizer(tf.train.AdamOptimizer(), "auto")
    with pytest.raises(ValueError, match="initial_loss_scale"):
        tf.train.experimental.DynamicLossScale(initial_loss_scale=0.5)
    assert tf.train.experimental.enable_mixed_precision_graph_rewrite is not None
    tf.train.experimental.disable_mixed_precision_graph_rewrite()


def test_adam_rule_is_skipped_whole_on_a_bad_step():
    """The wrapped rule leaves a parameter and its state alone for a NaN gradient, and runs the rule otherwise."""
    from ember.passes.loss_scale import skip_nonfinite

    rule = skip_nonfinite(adam_update)
    assert rule is skip_nonfinite(adam_update) and rule.sgd_form is None and "adam_update" in rule.__name__
    param, state = np.ones(4, np.float32), {}
    rule(param, np.full(4, np.nan, np.float32), state, lr=0.1)
    assert not state and (param == 1).all()
    rule(param, np.full(4, 0.5, np.float32), state, lr=0.1)
    assert state["step"] == 1 and (param < 1).all()

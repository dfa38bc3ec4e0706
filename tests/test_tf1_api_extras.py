"""TF-1 names added to ``ember.compat.tf`` (each an AttributeError before), each against TF-1's documented
behaviour computed here in NumPy."""

import os
import threading

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

# --- tf.train.Coordinator, start_queue_runners --------------------------------------------------------------


def test_coordinator_stops_threads_and_join_reraises_the_first_exception():
    coord = tf.train.Coordinator()
    steps = []

    def worker(i):
        with coord.stop_on_exception():
            while not coord.should_stop():
                steps.append(i)
                if len(steps) > 5:
                    raise RuntimeError(f"worker {i} failed")
                coord.wait_for_stop(0.001)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    with pytest.raises(RuntimeError, match="worker . failed"):
        coord.join(threads)
    assert coord.should_stop() and coord.joined and not any(t.is_alive() for t in threads)
    with pytest.raises(ValueError, match="late"):  # after join, an exception is raised where it is reported
        coord.request_stop(ValueError("late"))


def test_coordinator_clean_stop_exceptions_and_live_threads():
    coord = tf.train.Coordinator()
    coord.request_stop(tf.errors.OutOfRangeError())  # the end of the input: a clean stop
    coord.join([])
    coord.clear_stop()
    assert not coord.should_stop() and not coord.wait_for_stop(0.01)
    release = threading.Event()
    stuck = threading.Thread(target=release.wait, name="stuck")
    stuck.start()
    coord.register_thread(stuck)
    coord.request_stop()
    with pytest.raises(RuntimeError, match="threads still running: stuck"):
        coord.join(stop_grace_period_secs=0.05)
    release.set()
    stuck.join()
    with pytest.raises(TypeError, match="ex must be an exception"):
        tf.train.Coordinator().request_stop("failed")


def test_start_queue_runners_starts_none_and_needs_a_session():
    x = tf.constant(1.0)
    with pytest.raises(ValueError, match="no default session"):
        tf.train.start_queue_runners()
    with tf.Session() as sess:
        coord = tf.train.Coordinator()
        assert tf.train.start_queue_runners(coord=coord) == []
        assert tf.train.start_queue_runners(sess=sess, coord=coord) == []
        assert sess.run(x) == 1.0
        coord.request_stop()
        coord.join([])
    tf.add_to_collection("queue_runners", object())
    with tf.Session() as sess, pytest.raises(ValueError, match="no queue runners"):
        tf.train.start_queue_runners(sess)


# --- checkpoint utilities ---------------------------------------------------------------------------------


def _saved_model(tmp_path):
    rng = np.random.default_rng(0)
    values = {"old/w": rng.standard_normal((2, 3)).astype(np.float32),
              "old/inner/b": rng.standard_normal(3).astype(np.float32), "v": np.arange(4.0)}
    with tf.variable_scope("old"):
        tf.get_variable("w", initializer=values["old/w"])
        with tf.variable_scope("inner"):
            tf.get_variable("b", initializer=values["old/inner/b"])
    tf.Variable(values["v"], name="v")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"), global_step=7)
    tf.reset_default_graph()
    return values, path


def test_list_and_load_variables_of_a_checkpoint(tmp_path):
    values, path = _saved_model(tmp_path)
    assert tf.train.list_variables(str(tmp_path)) == [("old/inner/b", [3]), ("old/w", [2, 3]), ("v", [4])]
    assert tf.train.list_variables(path) == tf.train.list_variables(str(tmp_path))
    np.testing.assert_array_equal(tf.train.load_variable(str(tmp_path), "old/w"), values["old/w"])
    loaded = tf.train.load_variable(path, "v:0")
    assert loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, values["v"])
    reader = tf.train.load_checkpoint(path)
    assert reader.get_variable_to_shape_map()["old/w"] == [2, 3] and reader.has_tensor("v")
    with pytest.raises(tf.errors.NotFoundError, match="Key old/x not found"):
        tf.train.load_variable(path, "old/x")
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match="couldn't find 'checkpoint'"):
        tf.train.list_variables(str(tmp_path / "empty"))
    with pytest.raises(tf.errors.NotFoundError, match="no checkpoint at"):
        tf.train.list_variables(str(tmp_path / "nothing.ckpt"))


def test_init_from_checkpoint_scope_to_scope_and_single_variables(tmp_path):
    values, path = _saved_model(tmp_path)
    with tf.variable_scope("new"):
        w = tf.get_variable("w", [2, 3])
        with tf.variable_scope("inner"):
            b = tf.get_variable("b", [3])
    top_w = tf.get_variable("w", [2, 3])
    v = tf.Variable(tf.zeros([4], tf.float64), name="other")
    untouched = tf.get_variable("z", [2], initializer=tf.ones_initializer())
    tf.train.init_from_checkpoint(str(tmp_path), {"old/": "new/", "old/w": top_w, "v": v})
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([w, b, top_w, v, untouched])
    for value, expected in zip(got, [values["old/w"], values["old/inner/b"], values["old/w"], values["v"], [1, 1]]):
        np.testing.assert_array_equal(value, expected)


def test_init_from_checkpoint_root_forms_and_errors(tmp_path):
    values, path = _saved_model(tmp_path)
    with tf.variable_scope("model"):
        with tf.variable_scope("old"):
            w = tf.get_variable("w", [2, 3])
            with tf.variable_scope("inner"):
                b = tf.get_variable("b", [3])
    tf.train.init_from_checkpoint(path, {"/": "model/"})  # every checkpoint name under model/
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(w), values["old/w"])
        np.testing.assert_array_equal(sess.run(b), values["old/inner/b"])
    with pytest.raises(ValueError, match="tensor old/missing is not found"):
        tf.train.init_from_checkpoint(path, {"old/missing": "model/old/w"})
    with pytest.raises(ValueError, match="a scope maps only from a scope"):
        tf.train.init_from_checkpoint(path, {"old/w": "model/nothing"})
    with pytest.raises(ValueError, match=r"shape of variable model/old/inner/b:0 \(\[3\]\) doesn't match .*\[2, 3\]"):
        tf.train.init_from_checkpoint(path, {"old/w": "model/old/inner/b"})
    with pytest.raises(ValueError, match=r"dtype of variable v4:0 \(float32\) .* tensor v \(float64\)"):
        tf.train.init_from_checkpoint(path, {"v": tf.get_variable("v4", [4])})
    with pytest.raises(ValueError, match=r"tensor other/inner/b \(inner/b in other/\) is not found"):
        tf.train.init_from_checkpoint(path, {"other/": "model/old/"})


def test_write_graph_as_text_and_binary(tmp_path):
    pytest.importorskip("tensorboardX")
    from google.protobuf import text_format
    from tensorboardX.proto import graph_pb2

    x = tf.placeholder(tf.float32, [None, 2], name="x")
    tf.reduce_sum(x * 2.0, name="total")
    text_path = tf.train.write_graph(tf.get_default_graph(), str(tmp_path / "out"), "g.pbtxt")
    binary_path = tf.train.write_graph(tf.get_default_graph(), str(tmp_path / "out"), "g.pb", as_text=False)
    assert text_path == str(tmp_path / "out" / "g.pbtxt")
    from_text, from_binary = graph_pb2.GraphDef(), graph_pb2.GraphDef()
    text_format.Parse(open(text_path).read(), from_text)
    from_binary.ParseFromString(open(binary_path, "rb").read())
    assert from_text == from_binary
    assert [n.name for n in from_text.node][0] == "x" and "total" in [n.name for n in from_text.node]
    with pytest.raises(TypeError, match="expected a tf.Graph or a GraphDef"):
        tf.train.write_graph("graph", str(tmp_path), "g.pb")


# --- variables and collections ------------------------------------------------------------------------------


def test_local_variables_initialization_reports_and_checks():
    w = tf.get_variable("w", [2], initializer=tf.ones_initializer())
    with tf.variable_scope("metrics"):
        count = tf.get_local_variable("count", [], initializer=tf.zeros_initializer(), collections=["extra"])
    assert count.name == "metrics/count:0" and not count.trainable
    assert tf.local_variables() == [count] and tf.get_collection("extra") == [count]
    assert tf.global_variables() == [w] and tf.trainable_variables() == [w]
    report = tf.report_uninitialized_variables()
    w_ready, count_ready = tf.is_variable_initialized(w), tf.is_variable_initialized(count)
    assert w_ready.dtype == np.bool_ and tuple(w_ready.shape) == ()
    with tf.Session() as sess:
        assert sess.run(report).tolist() == [b"w", b"metrics/count"]
        assert sess.run([w_ready, count_ready]) == [False, False]
        sess.run(tf.initialize_local_variables())
        assert sess.run(report).tolist() == [b"w"]
        assert sess.run([w_ready, count_ready]) == [False, True]
        sess.run(tf.global_variables_initializer())
        assert sess.run(report).tolist() == []
        assert sess.run(tf.report_uninitialized_variables([count, w])).tolist() == []
        assert sess.run([w_ready, count_ready]) == [True, True]
    with tf.Session() as sess:  # a new Session starts with none
        assert sess.run(tf.report_uninitialized_variables([count, w])).tolist() == [b"metrics/count", b"w"]
    assert tf.gradients(tf.cast(w_ready, tf.float32) * tf.reduce_sum(w), w)[0] is not None
    with pytest.raises(TypeError, match="tf.is_variable_initialized: expected a tf.Variable, got Tensor"):
        tf.is_variable_initialized(w * 2.0)
    with pytest.raises(ValueError, match="a local variable is not trainable"):
        tf.get_local_variable("t", [1], trainable=True)


def test_model_and_moving_average_variables_and_collection_refs():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.contrib.layers.fully_connected(x, 2, scope="fc")
    dense = tf.layers.dense(x, 2, name="core")
    assert [v.name for v in tf.model_variables()] == ["fc/weights:0", "fc/biases:0"]
    assert tf.model_variables("core") == []
    ema = tf.train.ExponentialMovingAverage(0.9)
    ema.apply(tf.trainable_variables("core"))
    assert [v.name for v in tf.moving_average_variables()] == ["core/kernel:0", "core/bias:0"]
    assert tf.get_collection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES, "core/b") == tf.trainable_variables("core/b")
    ref = tf.get_collection_ref(tf.GraphKeys.UPDATE_OPS)
    ref.append(y)
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == [y]
    del ref[:]
    assert tf.get_collection(tf.GraphKeys.UPDATE_OPS) == []
    tf.add_to_collection("outputs", dense)
    assert tf.get_collection_ref("outputs") == [dense]
    for key in (tf.GraphKeys.GLOBAL_VARIABLES, tf.GraphKeys.MODEL_VARIABLES):
        with pytest.raises(ValueError, match=rf"get_collection_ref\('{key}'\).*tf.get_collection"):
            tf.get_collection_ref(key)


# --- tf.make_template ------------------------------------------------------------------------------------


def test_make_template_shares_its_variables_between_calls():
    rng = np.random.default_rng(1)
    a_value, b_value = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))

    def dense(x, units):
        w = tf.get_variable("w", [3, units], tf.float64, initializer=tf.random_normal_initializer(seed=3))
        return tf.matmul(x, w)

    layer = tf.make_template("dense", dense, units=2)
    assert layer.variable_scope is None and layer.trainable_variables == []
    a, b = tf.placeholder(tf.float64, [None, 3]), tf.placeholder(tf.float64, [None, 3])
    ya, yb = layer(a), layer(b)
    (w,) = tf.global_variables()
    assert w.name == "dense/w:0" and layer.variable_scope_name == "dense/" and layer.trainable_variables == [w]
    other = tf.make_template("dense", dense, units=1)
    other(a)
    assert [v.name for v in other.global_variables] == ["dense_1/w:0"]
    assert layer.global_variables == [w]  # ("dense/" does not match "dense_1/w")
    (grad,) = tf.gradients(tf.reduce_sum(ya) + tf.reduce_sum(yb), w)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got_a, got_b, got_grad, w_value = sess.run([ya, yb, grad, w], {a: a_value, b: b_value})
    np.testing.assert_allclose(got_a, a_value @ w_value, rtol=1e-12)
    np.testing.assert_allclose(got_b, b_value @ w_value, rtol=1e-12)
    expected = np.outer(a_value.sum(0) + b_value.sum(0), np.ones(2))  # both calls read the one w
    np.testing.assert_allclose(got_grad, expected, rtol=1e-12)


def test_make_template_scope_options_and_errors():
    x = tf.placeholder(tf.float32, [None, 3])
    now = tf.make_template("early", lambda t: t * tf.get_variable("s", []), create_scope_now_=True)
    assert now.variable_scope_name == "early/"
    with tf.variable_scope("elsewhere"):
        now(x)
        now(x)
    named = tf.make_template("ignored", lambda t: t + tf.get_variable("b", [3]), unique_name_="exact")
    named(x)
    named(x)
    assert [v.name for v in tf.global_variables()] == ["early/s:0", "exact/b:0"]
    sloppy = tf.make_template("sloppy", lambda t: t * tf.Variable(2.0))
    sloppy(x)
    with pytest.raises(ValueError, match="sloppy.*after the first time.*tf.Variable"):
        sloppy(x)
    with pytest.raises(TypeError, match="func_ must be callable"):
        tf.make_template("bad", 3)
    with pytest.raises(ValueError, match="name_ cannot be None"):
        tf.make_template(None, lambda: None)
    with pytest.raises(ValueError, match="custom_getter"):
        tf.make_template("getter", lambda: tf.get_variable("g", [1]), custom_getter_=lambda *a, **k: None)()


# --- tf.case, tf.switch_case -----------------------------------------------------------------------------


def _case_reference(k, v):
    """TF-1's tf.case below: the first predicate that holds picks (2v where k < 1, sin v where k < 3), else v**3."""
    if k < 1:
        return 2 * v, np.full_like(v, 2.0)
    if k < 3:
        return np.sin(v), np.cos(v)
    return v ** 3, 3 * v ** 2


def test_case_takes_the_first_true_predicate_values_and_gradients():
    rng = np.random.default_rng(2)
    v = rng.standard_normal(4)
    x, k = tf.placeholder(tf.float64, [4]), tf.placeholder(tf.int32, [])
    out = tf.case([(k < 1, lambda: x * 2.0), (k < 3, lambda: tf.sin(x))], default=lambda: x ** 3)
    (grad,) = tf.gradients(tf.reduce_sum(out), x)
    with tf.Session() as sess:
        for index in (-1, 0, 1, 2, 3, 7):
            value, slope = sess.run([out, grad], {x: v, k: index})
            expected, expected_slope = _case_reference(index, v)
            np.testing.assert_allclose(value, expected, rtol=1e-12)
            np.testing.assert_allclose(slope, expected_slope, rtol=1e-12)


def test_case_without_default_exclusive_dicts_and_python_predicates():
    x, k = tf.placeholder(tf.float64, [2]), tf.placeholder(tf.int32, [])
    v = np.array([0.5, -1.5])
    last_is_default = tf.case([(k < 1, lambda: x * 2.0), (k > 3, lambda: x - 1.0)])
    exclusive = tf.case([(k < 1, lambda: x * 2.0), (k < 3, lambda: x - 1.0)], default=lambda: x, exclusive=True)
    first, second = tf.equal(k, 0, name="b_first"), tf.equal(k, 0, name="a_second")
    by_name = tf.case({first: lambda: x + 1.0, second: lambda: x + 2.0}, default=lambda: x)  # a_second first
    pairs = tf.case([(False, lambda: x * 0.0), (True, lambda: [x + 3.0])], default=lambda: [x])  # (non-strict)
    strict = tf.case([(k < 1, lambda: [x])], default=lambda: [x * 2.0], strict=True)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(last_is_default, {x: v, k: 5}), v - 1.0)
        np.testing.assert_allclose(sess.run(last_is_default, {x: v, k: 0}), v * 2.0)
        with pytest.raises(tf.errors.InvalidArgumentError, match="None of the conditions evaluated as True"):
            sess.run(last_is_default, {x: v, k: 2})
        np.testing.assert_allclose(sess.run(exclusive, {x: v, k: 2}), v - 1.0)
        np.testing.assert_allclose(sess.run(exclusive, {x: v, k: 5}), v)
        with pytest.raises(tf.errors.InvalidArgumentError, match="More than one condition.*exclusive=True"):
            sess.run(exclusive, {x: v, k: 0})
        np.testing.assert_allclose(sess.run(by_name, {x: v, k: 0}), v + 2.0)
        np.testing.assert_allclose(sess.run(pairs, {x: v}), v + 3.0)
        assert isinstance(strict, list)
        np.testing.assert_allclose(sess.run(strict, {x: v, k: 4})[0], v * 2.0)


def test_case_errors():
    x, k = tf.placeholder(tf.float32, [2]), tf.placeholder(tf.int32, [])
    with pytest.raises(TypeError, match=r"tf.case: predicate 0 must be a bool tensor, got 'Placeholder_1:0' .*int32"):
        tf.case([(k, lambda: x)], default=lambda: x)
    with pytest.raises(ValueError, match=r"tf.case: predicate 0 must be a scalar.*\[2\]"):
        tf.case([(x > 0, lambda: x)], default=lambda: x)
    with pytest.raises(TypeError, match="the fn of pair 0 must be callable"):
        tf.case([(k > 0, x)], default=lambda: x)
    with pytest.raises(ValueError, match="must not be empty"):
        tf.case([], default=lambda: x)
    with pytest.raises(ValueError, match="none of the conditions is True and no default was given"):
        tf.case([(False, lambda: x), (False, lambda: x * 2.0)])
    with pytest.raises(ValueError, match="more than one condition is True but exclusive=True"):
        tf.case([(True, lambda: x), (True, lambda: x)], exclusive=True)
    with pytest.raises(ValueError, match="output 0 of true_fn and false_fn must have the same type"):
        tf.case([(k > 0, lambda: x)], default=lambda: tf.cast(x, tf.float64))


def test_case_assigns_in_the_branch_taken_only():
    k = tf.placeholder(tf.int32, [])
    v = tf.Variable(1.0)
    chosen = tf.case([(k > 0, lambda: v.assign(2.0))], default=lambda: v.assign_add(10.0))
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(chosen, {k: 1}) == 2.0 and sess.run(v) == 2.0
        assert sess.run(chosen, {k: 0}) == 12.0 and sess.run(v) == 12.0


def test_switch_case_picks_the_indexed_branch_else_the_default():
    rng = np.random.default_rng(3)
    v = rng.standard_normal(3)
    x, k = tf.placeholder(tf.float64, [3]), tf.placeholder(tf.int32, [])
    branches = [lambda: tf.exp(x), lambda: x * x, lambda: -x]
    given_default = tf.switch_case(k, branches, default=lambda: x * 10.0)
    last_default = tf.switch_case(k, {1: branches[1], 0: branches[0], 2: branches[2]})
    (grad,) = tf.gradients(tf.reduce_sum(given_default), x)
    references = [(np.exp(v), np.exp(v)), (v * v, 2 * v), (-v, -np.ones(3))]
    with tf.Session() as sess:
        for index in (-1, 0, 1, 2, 3):
            value, slope, last = sess.run([given_default, grad, last_default], {x: v, k: index})
            expected, expected_slope = references[index] if 0 <= index < 3 else (10 * v, np.full(3, 10.0))
            np.testing.assert_allclose(value, expected, rtol=1e-12)
            np.testing.assert_allclose(slope, expected_slope, rtol=1e-12)
            np.testing.assert_allclose(last, references[index][0] if 0 <= index < 3 else -v, rtol=1e-12)
        np.testing.assert_allclose(sess.run(tf.switch_case(1, branches), {x: v}), v * v)
    with pytest.raises(TypeError, match="branch_index must be int32 or int64.*float32"):
        tf.switch_case(tf.constant(1.0), branches)
    with pytest.raises(ValueError, match=r"branch_index must be a scalar.*\[2\]"):
        tf.switch_case(tf.constant([0, 1]), branches)
    with pytest.raises(ValueError, match=r"branch indices must be 0 to 1, got \[0, 2\]"):
        tf.switch_case(k, {0: branches[0], 2: branches[1]})
    with pytest.raises(TypeError, match="branch 1 must be callable"):
        tf.switch_case(k, [branches[0], 3])


# --- tf.Dimension, tf.DType, tf.as_dtype, tf.get_seed ------------------------------------------------------


def test_as_dtype_and_dtype_class():
    for given, expected in [(tf.float32, np.float32), ("float64", np.float64), (np.int64, np.int64), (1, np.float32),
                            (3, np.int32), (10, np.bool_), (19, np.float16), ("double", np.float64)]:
        assert tf.as_dtype(given) == np.dtype(expected)
    assert tf.as_dtype(14) == tf.bfloat16 and tf.DType(2) == np.float64 and tf.dtypes.as_dtype("int8") == tf.int8
    x = tf.placeholder(tf.float32, [2])
    assert isinstance(x.dtype, tf.DType) and isinstance(tf.int32, tf.dtypes.DType) and not isinstance("f", tf.DType)
    with pytest.raises(TypeError, match="tf.as_dtype: 7 is no DataType number"):
        tf.as_dtype(7)
    with pytest.raises(TypeError, match="tf.as_dtype: cannot convert 'floaty'"):
        tf.as_dtype("floaty")


def test_dimension_arithmetic_and_comparisons_as_tf1():
    three, four, unknown = tf.Dimension(3), tf.Dimension(4), tf.Dimension(None)
    assert (three + four).value == 7 and (four - three).value == 1 and (three * 2).value == 6
    assert (10 // three).value == 3 and (four // 3).value == 1 and (10 % three).value == 1 and (2 + three).value == 5
    for result in (three + unknown, unknown * 2, 6 // unknown, unknown % three):
        assert result.value is None
    assert (three == 3) is True and (three != four) is True and (three < four) is True and (four >= 4) is True
    assert (three == unknown) is None and (unknown < 3) is None
    assert three.is_compatible_with(unknown) and not three.is_compatible_with(4) and three.is_compatible_with(3)
    assert three.merge_with(None).value == 3 and unknown.merge_with(four).value == 4
    assert int(three) == 3 and list(range(three)) == [0, 1, 2] and str(unknown) == "?" and repr(three) == "Dimension(3)"
    assert tf.compat.dimension_value(three) == 3 and tf.compat.dimension_value(5) == 5
    assert tf.compat.as_dimension(three) is three and tf.Dimension(three).value == 3
    with pytest.raises(ValueError, match="Dimensions 3 and 4 are not compatible"):
        three.merge_with(four)
    with pytest.raises(ValueError, match="dimension -1 must be >= 0"):
        tf.Dimension(-1)
    with pytest.raises(TypeError, match="must be an integer or None, got 2.5"):
        tf.Dimension(2.5)
    with pytest.raises(TypeError, match="please use // instead"):
        _ = three / 2
    with pytest.raises(TypeError, match="an unknown dimension has no int value"):
        int(unknown)


def test_get_seed_follows_tf1_rules():
    assert tf.get_seed(None) == (None, None)
    assert tf.get_seed(5) == (87654321, 5)  # TF-1's default graph seed with an op seed alone
    tf.set_random_seed(7)
    tf.constant(1.0)
    tf.constant(2.0)
    assert tf.get_seed(None) == (7, 2)  # the op seed: the count of ops made so far
    assert tf.get_seed(3) == (7, 3)
    assert tf.get_seed(2 ** 31 + 2) == (7, 3)  # truncated modulo 2**31 - 1
    tf.set_random_seed(0)
    assert tf.get_seed(0) == (0, 2 ** 31 - 1)  # (0, 0) means "nondeterministic" to TF's kernels


# --- tf.hessians, tf.vectorized_map -----------------------------------------------------------------------


def test_hessians_match_the_analytic_second_derivatives():
    rng = np.random.default_rng(4)
    a_value = rng.standard_normal((3, 3))
    x_value, m_value = rng.standard_normal(3), rng.standard_normal((2, 2))
    x, m = tf.placeholder(tf.float64, [3]), tf.placeholder(tf.float64, [2, 2])
    a = tf.constant(a_value)
    quadratic = 0.5 * tf.reduce_sum(x * tf.reshape(tf.matmul(a, tf.reshape(x, [3, 1])), [3]))
    cubic = tf.reduce_sum(m ** 3) + m[0, 0] * m[1, 1]
    h_quadratic, h_cubic, unconnected = tf.hessians([quadratic, cubic], [x, m, tf.placeholder(tf.float64, [2])])
    assert unconnected is None and h_cubic.shape == (2, 2, 2, 2)
    with tf.Session() as sess:
        got_q, got_c = sess.run([h_quadratic, h_cubic], {x: x_value, m: m_value})
    np.testing.assert_allclose(got_q, (a_value + a_value.T) / 2, rtol=1e-12)
    expected = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            expected[i, j, i, j] = 6 * m_value[i, j]
    expected[0, 0, 1, 1] = expected[1, 1, 0, 0] = 1.0
    np.testing.assert_allclose(got_c, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"tf.hessians: the shape of 'Placeholder_3:0' must be fully known.*\[None\]"):
        tf.hessians(quadratic, tf.placeholder(tf.float64, [None]))


def test_vectorized_map_is_map_fn():
    rng = np.random.default_rng(5)
    v = rng.standard_normal((4, 3))
    x = tf.placeholder(tf.float64, [4, 3])
    out = tf.vectorized_map(lambda row: tf.reduce_sum(row * row) + row[0], x)
    pair = tf.vectorized_map(lambda rows: (rows[0] * 2.0, rows[1] + rows[0]), (x, x * 3.0))
    (grad,) = tf.gradients(tf.reduce_sum(out), x)
    with tf.Session() as sess:
        got, got_grad, (twice, summed) = sess.run([out, grad, pair], {x: v})
    np.testing.assert_allclose(got, (v * v).sum(1) + v[:, 0], rtol=1e-12)
    expected_grad = 2 * v
    expected_grad[:, 0] += 1
    np.testing.assert_allclose(got_grad, expected_grad, rtol=1e-12)
    np.testing.assert_allclose(twice, 2 * v, rtol=1e-12)
    np.testing.assert_allclose(summed, 4 * v, rtol=1e-12)


# --- tf.init_scope, and the names Ember refuses with what to use instead --------------------------------


def test_init_scope_leaves_the_control_dependencies_of_the_blocks_around_it():
    v = tf.Variable(1.0)
    bump = v.assign_add(1.0)
    with tf.name_scope("outer"), tf.control_dependencies([bump]):
        dependent = tf.identity(v.read_value())
        with tf.init_scope():
            free = tf.identity(v.read_value())
    assert free.name.startswith("outer/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(free) == 1.0  # no assign_add before it
        assert sess.run(dependent) == 2.0
        assert sess.run(free) == 2.0


def test_variable_value_is_its_snapshot_free_of_the_control_dependencies_around_it():
    # TF-1's Variable.value() (an AttributeError here): the snapshot made with the variable, so inside a
    # control_dependencies block it waits for no assignment, unlike read_value()
    v = tf.Variable(1.0)
    bump = v.assign_add(1.0)
    with tf.control_dependencies([bump]):
        snapshot, dependent = v.value(), v.read_value()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(snapshot) == 1.0
        assert sess.run(dependent) == 2.0
        assert sess.run(snapshot) == 2.0


def test_custom_gradients_and_saved_model_say_what_to_use_instead():
    for name in ("RegisterGradient", "no_gradient", "NoGradient", "NotDifferentiable"):
        with pytest.raises(AttributeError, match=rf"'tf' has no attribute '{name}'.*tf.stop_gradient\(f - g\)"):
            getattr(tf, name)
    with pytest.raises(NotImplementedError, match=r"gradient_override_map\(\{'Relu': 'Guided'\}\).*stop_gradient"):
        with tf.get_default_graph().gradient_override_map({"Relu": "Guided"}):
            pass
    with pytest.raises(AttributeError, match="'saved_model'.*tf.train.Saver.*ember.onnx.export.*ember serve"):
        _ = tf.saved_model
    # the identity the message suggests: f's value, g's gradient (a gradient reversal)
    x = tf.placeholder(tf.float64, [3])
    reversed_ = -x + tf.stop_gradient(x - -x)
    weights = np.array([1.0, 2.0, 3.0])
    (grad,) = tf.gradients(tf.reduce_sum(reversed_ * weights), x)
    values = np.array([1.0, -2.0, 0.5])
    with tf.Session() as sess:
        got, got_grad = sess.run([reversed_, grad], {x: values})
    np.testing.assert_allclose(got, values)
    np.testing.assert_allclose(got_grad, -weights)  # g = -x's gradient


# --- tf.TensorArray -------------------------------------------------------------------------------------


def test_tensor_array_in_a_while_loop_values_and_gradients():
    rng = np.random.default_rng(6)
    v = rng.standard_normal((4, 3))
    x = tf.placeholder(tf.float64, [4, 3])
    inputs = tf.TensorArray(tf.float64, size=4).unstack(x)

    def body(i, total, out):
        total = total + inputs.read(i)
        return i + 1, total, out.write(i, total * total)

    _, _, out = tf.while_loop(lambda i, *_: i < 4, body,
                              [tf.constant(0), tf.zeros([3], tf.float64), tf.TensorArray(tf.float64, size=4)])
    stacked = out.stack()
    (grad,) = tf.gradients(tf.reduce_sum(stacked), x)
    with tf.Session() as sess:
        got, got_grad, size = sess.run([stacked, grad, out.size()], {x: v})
    prefix = np.cumsum(v, axis=0)
    np.testing.assert_allclose(got, prefix ** 2, rtol=1e-12)
    # d/dx_k of sum_t (prefix_t)^2 = sum over t >= k of 2 prefix_t
    expected = np.stack([2 * prefix[k:].sum(0) for k in range(4)])
    np.testing.assert_allclose(got_grad, expected, rtol=1e-12)
    assert size == 4


def test_tensor_array_dynamic_size_gather_scatter_concat():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((1, 3))
    grown = tf.TensorArray(tf.float64, size=0, dynamic_size=True).write(0, a).write(2, a * 2)
    scattered = tf.TensorArray(tf.float64, size=3).scatter([2, 0], tf.constant(np.stack([a, 3 * a])))
    pieces = tf.TensorArray(tf.float64, size=2, infer_shape=False).write(0, a).write(1, b)
    known = tf.TensorArray(tf.float32, size=3, element_shape=[2]).write(1, tf.constant([1.0, 2.0]))
    with tf.Session() as sess:
        assert sess.run(grown.size()) == 3
        np.testing.assert_allclose(sess.run(scattered.gather([0, 2])), np.stack([3 * a, a]))
        np.testing.assert_allclose(sess.run(pieces.concat()), np.concatenate([a, b]))
        np.testing.assert_allclose(sess.run(known.stack()), [[0, 0], [1, 2], [0, 0]])  # unwritten: zeros
        np.testing.assert_allclose(sess.run(tf.TensorArray(tf.float32, 2, element_shape=[3]).stack()), np.zeros((2, 3)))
    partial = tf.TensorArray(tf.float64, size=2).write(0, tf.placeholder(tf.float64, [None]))
    with pytest.raises(ValueError, match=r"index 1 was never written and the element shape is not fully known"):
        partial.stack()


def test_tensor_array_errors():
    ta = tf.TensorArray(tf.float32, size=2).write(0, [1.0, 2.0])
    with pytest.raises(ValueError, match="could not write to index 0 because it has already been written"):
        ta.write(0, [3.0, 4.0])
    with pytest.raises(ValueError, match="tried to write to index 2 but the array is not resizeable and its size is 2"):
        ta.write(2, [3.0, 4.0])
    with pytest.raises(TypeError, match="the array's dtype is float32, the value 'Const.*' has dtype int32"):
        ta.write(1, tf.constant([1, 2]))
    with pytest.raises(ValueError, match=r"the value at index 1 has shape \[3\], incompatible with the element shape "
                                         r"\[2\]"):
        ta.write(1, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="could not read from index 1 because it has not yet been written"):
        ta.read(1)
    ta.read(0)
    with pytest.raises(ValueError, match="could not read index 0 twice.*clear_after_read"):
        ta.read(0)
    kept = tf.TensorArray(tf.float32, size=1, clear_after_read=False).write(0, 1.0)
    kept.read(0)
    kept.read(0)
    with pytest.raises(ValueError, match="index 'Placeholder:0' depends on 'Placeholder:0'.*known while the graph"):
        ta.read(tf.placeholder(tf.int32, []))
    with pytest.raises(ValueError, match="size must be given unless dynamic_size=True"):
        tf.TensorArray(tf.float32)
    with pytest.raises(ValueError, match=r"2 indices for 'zeros:0' of shape \[3, 2\]"):
        tf.TensorArray(tf.float32, size=3).scatter([0, 1], tf.zeros([3, 2]))

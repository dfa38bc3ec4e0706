"""TF-1's Session.run: what fetched values are (NumPy scalars for 0-d fetches) and how sessions become the
default, as TF 1.15 documents them."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def test_a_0d_fetch_is_a_numpy_scalar_of_its_dtype_beside_array_feeds():
    p = tf.placeholder(tf.float32, [None, 3])
    v = tf.Variable(3.0)
    n = tf.Variable(np.int64(5))
    fetches = {"constant": (tf.constant(2.0), np.float32), "size": (tf.size(p), np.int32), "variable": (v, np.float32),
               "int variable": (n, np.int64), "equal": (tf.equal(tf.constant(2.0), 2.0), np.bool_),
               "sum": (tf.reduce_sum(p), np.float32)}
    feed = {p: np.ones((2, 3), np.float32)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for name, (t, scalar) in fetches.items():
            for got in (sess.run(t, feed), sess.run([t], feed)[0], sess.run({"t": t}, feed)["t"]):
                assert type(got) is scalar, (name, type(got))
        assert type(sess.run(tf.shape(p), feed)) is np.ndarray
        value, _ = sess.run([v, v.assign_add(1.0)], feed)  # the variable's value before the run's write
        assert type(value) is np.float32 and value == 3.0 and sess.run(v) == 4.0


def test_get_default_session_is_none_outside_any_session():
    assert tf.get_default_session() is None
    with tf.Session() as sess:
        assert tf.get_default_session() is sess
    assert tf.get_default_session() is None


def test_an_interactive_session_is_the_default_until_closed():
    c = tf.constant(5.0) * 6.0
    v = tf.Variable(1.0)
    sess = tf.InteractiveSession()
    assert tf.get_default_session() is sess
    tf.global_variables_initializer().run()
    assert c.eval() == 30.0 and v.eval() == 1.0
    sess.close()
    sess.close()
    assert tf.get_default_session() is None
    g = tf.Graph()
    sess = tf.InteractiveSession(graph=g)
    assert tf.get_default_graph() is g and tf.constant(1.0).graph is g
    sess.close()
    assert tf.get_default_graph() is not g


def test_a_session_with_block_makes_its_graph_the_default():
    g = tf.Graph()
    outer = tf.get_default_graph()
    with tf.Session(graph=g) as sess:
        c = tf.constant(2.0)
        assert c.graph is g and sess.run(c) == 2.0 and c.eval() == 2.0
    assert tf.get_default_graph() is outer


def test_make_callable_runs_its_fetches_with_its_arguments_fed_in_order():
    x = tf.placeholder(tf.float32, [None], name="x")
    scale = tf.placeholder(tf.float32, [], name="scale")
    y = tf.reduce_sum(x * scale)
    v = tf.Variable(1.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        both = sess.make_callable({"y": y, "v": [v]}, feed_list=[x, "scale:0"])
        assert both([1.0, 2.0], 2.0) == {"y": 6.0, "v": [1.0]}
        assert sess.make_callable(y, [scale, x])(3.0, np.ones(4, np.float32)) == 12.0
        step = sess.make_callable(v.assign_add(1.0).op)
        assert step() is None and step() is None and sess.run(v) == 3.0
        with pytest.raises(ValueError, match="expected 2 feed values"):
            both([1.0])
        with pytest.raises(TypeError):
            step(options=tf.RunOptions())
        metadata = tf.RunMetadata()
        traced = sess.make_callable(y, [x, scale], accept_options=True)
        options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        assert traced([1.0], 5.0, options=options, run_metadata=metadata) == 5.0
        assert len(metadata.step_stats.dev_stats) == 1
        with pytest.raises(ValueError, match="refers to an Operation"):
            sess.make_callable(y, ["x"])


def test_reset_default_graph_inside_a_graphs_block_is_an_error():
    g = tf.Graph()
    with g.as_default():
        with pytest.raises(AssertionError, match="nested graphs"):
            tf.reset_default_graph()
        assert tf.get_default_graph() is g
    tf.reset_default_graph()
    assert tf.get_default_graph() is not g

"""``Session.run(..., options=tf.RunOptions(trace_level=...), run_metadata=tf.RunMetadata())``: a traced run gives
the values an untraced one gives (several training steps, a fetched variable read before the step's update) and
fills ``step_stats`` with one timed entry per node; what it cannot honour is refused."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

X = np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0


def _model():
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(np.ones((3, 2), np.float32))
    loss = tf.reduce_mean(tf.nn.relu(tf.matmul(x, w) - 0.5))
    return x, w, loss, tf.train.GradientDescentOptimizer(0.1).minimize(loss)


def _steps(traced: bool) -> tuple[list, list]:
    x, w, loss, train = _model()
    values, metadata = [], []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(3):
            if traced:
                metadata.append(tf.RunMetadata())
                options = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
                values.append(sess.run([w, loss, train], {x: X[step:]}, options=options, run_metadata=metadata[-1]))
            else:
                values.append(sess.run([w, loss, train], {x: X[step:]}))
        values.append(sess.run(w))
    return values, metadata


def test_a_traced_run_gives_the_untraced_values_and_per_node_timings():
    plain, _ = _steps(traced=False)
    tf.reset_default_graph()
    traced, metadata = _steps(traced=True)
    for ours, reference in zip(traced[:-1], plain[:-1]):
        np.testing.assert_array_equal(ours[0], reference[0])  # w before the step's update
        assert ours[1] == reference[1] and type(ours[1]) is type(reference[1]) and ours[2] is None
    np.testing.assert_array_equal(traced[-1], plain[-1])
    assert not np.array_equal(plain[-1], np.ones((3, 2)))  # the steps did update w
    for md in metadata:
        (device,) = md.step_stats.dev_stats
        names = [n.node_name for n in device.node_stats]
        assert device.device.endswith("device:CPU:0") and "update" in names and any("matmul" in n for n in names)
        for n in device.node_stats:
            assert n.all_start_micros > 0 and n.all_end_rel_micros >= n.op_start_rel_micros == 0
    md = metadata[0]
    md.Clear()
    assert md.step_stats.dev_stats == []


def test_no_trace_or_no_metadata_runs_as_usual_and_leaves_the_metadata_empty():
    x = tf.placeholder(tf.float32, [2])
    doubled = x * 2.0
    md = tf.RunMetadata()
    with tf.Session() as sess:
        out = sess.run(doubled, {x: [1.0, 2.0]}, options=tf.RunOptions(), run_metadata=md)
        np.testing.assert_array_equal(out, [2.0, 4.0])
        assert md.step_stats.dev_stats == []
        np.testing.assert_array_equal(sess.run(doubled, {x: [3.0, 4.0]}, options=tf.RunOptions(trace_level=3)),
                                      [6.0, 8.0])


def test_a_monitored_session_hands_the_options_to_its_session():
    x, w, loss, train = _model()
    md = tf.RunMetadata()
    with tf.train.MonitoredTrainingSession() as sess:
        sess.run(train, {x: X}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    assert any(n.node_name == "update" for n in md.step_stats.dev_stats[0].node_stats)


def test_what_a_run_cannot_honour_is_refused():
    with pytest.raises(ValueError, match="tf.RunOptions: timeout_in_ms=1000 is not supported"):
        tf.RunOptions(timeout_in_ms=1000)
    with pytest.raises(ValueError, match="tf.RunOptions: output_partition_graphs=True is not supported"):
        tf.RunOptions(output_partition_graphs=True)
    with pytest.raises(ValueError, match="tf.RunOptions: trace_level must be .* got 7"):
        tf.RunOptions(trace_level=7)
    x = tf.placeholder(tf.float32, [2])
    with tf.Session() as sess:
        with pytest.raises(TypeError, match="Session.run: options must be a tf.RunOptions, got dict"):
            sess.run(x * 2.0, {x: [1.0, 2.0]}, options={"trace_level": 3})
        with pytest.raises(TypeError, match="Session.run: run_metadata must be a tf.RunMetadata, got list"):
            sess.run(x * 2.0, {x: [1.0, 2.0]}, run_metadata=[])

"""tf.train.MonitoredTrainingSession and its hooks; Saver(max_to_keep)."""

import logging
import os
import struct

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def _model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    Y = X @ np.array([[1.0], [2.0], [-1.0]], np.float32)
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.placeholder(tf.float32, [None, 1])
    w = tf.Variable(tf.zeros([3, 1]), name="w")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - y))
    step = tf.train.get_or_create_global_step()
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    return {x: X, y: Y}, w, loss, step, train


def test_stops_at_the_last_step_saves_and_resumes(tmp_path, caplog):
    feed, w, loss, step, train = _model()
    hooks = [tf.train.StopAtStepHook(last_step=50), tf.train.NanTensorHook(loss),
             tf.train.LoggingTensorHook({"loss": loss, "step": step}, every_n_iter=10)]
    runs = 0
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), hooks=hooks,
                                               save_checkpoint_steps=20) as sess:
            while not sess.should_stop():
                sess.run(train, feed)
                runs += 1
            trained = sess._session.run(w)
    assert runs == 50
    assert len([r for r in caplog.records if "loss = " in r.getMessage()]) == 5
    saved = sorted(f for f in os.listdir(tmp_path) if f.startswith("model.ckpt"))
    assert saved == ["model.ckpt-0", "model.ckpt-20", "model.ckpt-40", "model.ckpt-50"]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-50")
    np.testing.assert_allclose(trained.ravel(), [1.0, 2.0, -1.0], atol=1e-3)
    # a new session restores the weights and the step, and goes on for ten more
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_secs=None,
                                           hooks=[tf.train.StopAtStepHook(num_steps=10)]) as sess:
        raw = sess._session
        assert int(raw.run(step)) == 50
        np.testing.assert_allclose(raw.run(w), trained)
        while not sess.should_stop():
            sess.run(train, feed)
        assert int(raw.run(step)) == 60


def test_nan_loss_fails_or_stops():
    feed, w, loss, step, train = _model()
    bad = {k: np.full_like(v, np.nan) for k, v in feed.items()}
    with pytest.raises(tf.train.NanLossDuringTrainingError):
        with tf.train.MonitoredTrainingSession(hooks=[tf.train.NanTensorHook(loss)]) as sess:
            sess.run(train, bad)
    with tf.train.MonitoredTrainingSession(hooks=[tf.train.NanTensorHook(loss, fail_on_nan_loss=False)]) as sess:
        sess.run(train, bad)
        assert sess.should_stop()


def test_a_custom_hook_sees_every_stage_and_the_end_of_a_dataset():
    values = tf.data.Dataset.range(5).make_one_shot_iterator().get_next()
    total = tf.Variable(0, dtype=tf.int64)
    add = total.assign_add(values)
    seen = []

    class Recorder(tf.train.SessionRunHook):
        def begin(self):
            seen.append("begin")

        def after_create_session(self, session, coord):
            seen.append("created")

        def before_run(self, run_context):
            return tf.train.SessionRunArgs(total)

        def after_run(self, run_context, run_values):
            seen.append(int(run_values.results))

        def end(self, session):
            seen.append(("end", int(session.run(total))))

    with tf.train.MonitoredTrainingSession(hooks=[Recorder()]) as sess:
        while not sess.should_stop():
            sess.run(add)
    assert seen[:2] == ["begin", "created"]
    assert seen[-1] == ("end", 10) and len(seen) == 2 + 5 + 1


def test_saver_keeps_max_to_keep_checkpoints(tmp_path):
    tf.Variable(1.0)  # something to save
    saver = tf.train.Saver(max_to_keep=2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(4):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("m-")) == ["m-2", "m-3"]
    assert saver.last_checkpoints == [str(tmp_path / "m-2"), str(tmp_path / "m-3")]


def test_saver_save_honours_write_state_latest_filename_and_pad_step_number(tmp_path):
    tf.Variable(1.0)
    saver = tf.train.Saver(max_to_keep=1, pad_step_number=True)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert saver.save(sess, str(tmp_path / "m"), global_step=3) == str(tmp_path / "m-00000003")
        saver.save(sess, str(tmp_path / "other"), write_state=False)  # not indexed, nor counted, nor deleting
        assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "m-00000003")
        assert saver.last_checkpoints == [str(tmp_path / "m-00000003")]
        saver.save(sess, str(tmp_path / "n"), latest_filename="index")
    assert tf.train.get_checkpoint_state(str(tmp_path), "index").model_checkpoint_path == str(tmp_path / "n")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "index", "n", "other"]


def test_saver_keeps_one_checkpoint_per_keep_checkpoint_every_n_hours(tmp_path, monkeypatch):
    import time

    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    tf.Variable(1.0)
    saver = tf.train.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(6):  # one save every 30 minutes: those past each hour are kept
            now[0] += 1800
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert sorted(f for f in os.listdir(tmp_path) if f.startswith("m-")) == ["m-2", "m-4", "m-5"]


def test_saver_refuses_unknown_arguments_no_variables_and_a_none_path():
    with pytest.raises(ValueError, match="no variables to save"):
        tf.train.Saver()
    assert tf.train.Saver(allow_empty=True).save(None, "unused") is None
    v = tf.Variable(1.0)
    with pytest.raises(TypeError, match="max_to_kep"):
        tf.train.Saver(max_to_kep=1)
    with tf.Session() as sess, pytest.raises(ValueError, match="save_path when it is None"):
        tf.train.Saver([v]).restore(sess, None)


def test_a_resumed_monitored_session_keeps_max_to_keep_over_both_runs(tmp_path):
    def ckpts():
        return sorted((f for f in os.listdir(tmp_path) if f.startswith("model.ckpt-")), key=lambda f: int(f[11:]))

    for _ in range(2):
        tf.reset_default_graph()
        feed, _, _, _, train = _model()
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_steps=1,
                                               hooks=[tf.train.StopAtStepHook(num_steps=7)]) as sess:
            while not sess.should_stop():
                sess.run(train, feed)
    # TF restores the latest checkpoint and takes up the kept ones (recover_last_checkpoints): 5 in all, not the
    # 5 of this run beside 4 of the first that no index lists
    expected = [f"model.ckpt-{step}" for step in range(10, 15)]
    assert ckpts() == expected
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == expected
    saver = tf.train.Saver(max_to_keep=2)
    saver.recover_last_checkpoints([*state.all_model_checkpoint_paths, str(tmp_path / "model.ckpt-99")])
    assert saver.last_checkpoints == state.all_model_checkpoint_paths  # the missing file left out


def test_saver_killed_while_writing_its_index_leaves_an_index_of_existing_checkpoints(tmp_path, monkeypatch):
    import json
    import types

    from ember.compat.tf import train as tf_train

    tf.Variable(1.0)
    saver = tf.train.Saver(max_to_keep=1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.save(sess, str(tmp_path / "m"), global_step=1)

        def killed(obj, f=None, **kwargs):  # part of the index written, then the process is stopped
            if f is not None:
                f.write(json.dumps(obj)[:10])
            raise KeyboardInterrupt

        monkeypatch.setattr(tf_train, "json", types.SimpleNamespace(dump=killed, dumps=killed, load=json.load))
        with pytest.raises(KeyboardInterrupt):
            saver.save(sess, str(tmp_path / "m"), global_step=2)
    monkeypatch.undo()
    state = tf.train.get_checkpoint_state(str(tmp_path))  # was a JSONDecodeError, and m-1 deleted
    assert state.model_checkpoint_path == str(tmp_path / "m-1")
    assert all(tf.train.checkpoint_exists(p) for p in state.all_model_checkpoint_paths)


def test_hook_arguments_are_checked():
    with pytest.raises(ValueError, match="exactly one"):
        tf.train.StopAtStepHook()
    with pytest.raises(ValueError, match="exactly one"):
        tf.train.LoggingTensorHook({})
    with pytest.raises(RuntimeError, match="global step"):
        tf.train.MonitoredTrainingSession(hooks=[tf.train.StopAtStepHook(last_step=3)])


def test_get_checkpoint_state_gives_the_latest_and_kept_paths_for_a_restore(tmp_path):
    feed, w, loss, step, train = _model()
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    saver = tf.train.Saver(max_to_keep=2)
    prefix = os.path.join(str(tmp_path), "model.ckpt")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train, feed)
            saver.save(sess, prefix, global_step=step)
        trained = sess.run(w)
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == prefix + "-3"
    assert state.all_model_checkpoint_paths == [prefix + "-2", prefix + "-3"]
    assert tf.train.checkpoint_exists(state.model_checkpoint_path) and not tf.train.checkpoint_exists(prefix + "-1")
    with tf.Session() as sess:
        saver.restore(sess, state.model_checkpoint_path)
        np.testing.assert_array_equal(sess.run(w), trained)
        assert sess.run(step) == 3


def test_logging_hook_reads_names_as_tf_does(caplog):
    feed, w, loss, step, train = _model()
    named = tf.identity(loss, name="named_loss")
    hooks = [tf.train.StopAtStepHook(last_step=2),
             tf.train.LoggingTensorHook({"by op name": "named_loss", "by tensor name": "w:0"}, every_n_iter=1)]
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        with tf.train.MonitoredTrainingSession(hooks=hooks) as sess:
            while not sess.should_stop():
                sess.run(train, feed)
            first = float(sess._session.run(named, feed))
    messages = [r.getMessage() for r in caplog.records if "by op name = " in r.getMessage()]
    assert len(messages) == 2 and "None" not in messages[0] and "by tensor name = [[" in messages[0]
    assert first >= 0.0


def test_saver_restore_refuses_a_value_of_another_dtype(tmp_path):
    tf.Variable(3, name="b")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(sess, str(tmp_path / "m"))
    tf.reset_default_graph()
    tf.Variable(0.0, name="b")
    with tf.Session() as sess, pytest.raises(ValueError, match="b has dtype int32 .* the variable float32"):
        tf.train.Saver().restore(sess, path)


def test_run_after_a_hook_requested_a_stop_is_refused():
    feed, w, loss, step, train = _model()
    with tf.train.MonitoredTrainingSession(hooks=[tf.train.StopAtStepHook(last_step=3)]) as sess:
        for _ in range(3):
            sess.run(train, feed)
        assert sess.should_stop()
        with pytest.raises(RuntimeError, match="should_stop"):  # as TF's: no silent fourth step
            sess.run(train, feed)
        assert int(sess._session.run(step)) == 3


def test_stop_at_step_counts_only_the_runs_that_incremented_the_step():
    feed, w, loss, step, train = _model()
    trained = 0
    with tf.train.MonitoredTrainingSession(hooks=[tf.train.StopAtStepHook(last_step=3)]) as sess:
        while not sess.should_stop():
            sess.run(train, feed)
            trained += 1
            if not sess.should_stop():
                sess.run(loss, feed)  # an evaluation between steps does not end the training early
        assert trained == 3 and int(sess._session.run(step)) == 3


def test_checkpoint_saver_names_each_checkpoint_for_its_step_and_tells_its_listeners(tmp_path):
    feed, w, loss, step, train = _model()
    calls = []

    class Listener(tf.train.CheckpointSaverListener):
        def begin(self):
            calls.append("begin")

        def before_save(self, session, global_step_value):
            calls.append(("before", global_step_value))

        def after_save(self, session, global_step_value):
            calls.append(("after", global_step_value))
            return global_step_value >= 4  # asks the training to stop

        def end(self, session, global_step_value):
            calls.append(("end", global_step_value))

    saver = tf.train.CheckpointSaverHook(str(tmp_path), save_steps=2, listeners=[Listener()])
    with tf.train.MonitoredSession(hooks=[saver]) as sess:
        while not sess.should_stop():
            sess.run(train, feed)
            if not sess.should_stop():
                sess.run(loss, feed)  # an evaluation between steps: the step it reads is not the one saved
        assert int(sess._session.run(step)) == 4
    saved = sorted(f for f in os.listdir(tmp_path) if f.startswith("model.ckpt"))
    assert saved == ["model.ckpt-0", "model.ckpt-2", "model.ckpt-4"]
    assert calls == ["begin", ("before", 0), ("after", 0), ("before", 2), ("after", 2), ("before", 4), ("after", 4),
                     ("end", 4)]


def test_monitored_training_session_builds_its_saver_after_the_hooks_begin_and_orders_hooks_as_tf(tmp_path):
    feed, w, loss, step, train = _model()
    order = []

    class Counter(tf.train.SessionRunHook):  # makes a variable in begin(), as hooks may
        def __init__(self, name):
            self.name = name

        def begin(self):
            self.count = tf.Variable(7.0, name=f"{self.name}_count")

        def before_run(self, run_context):
            order.append(self.name)

    hooks = [Counter("user"), tf.train.StopAtStepHook(last_step=2)]
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), hooks=hooks,
                                           chief_only_hooks=[Counter("chief")], save_checkpoint_steps=1) as sess:
        while not sess.should_stop():
            sess.run(train, feed)
        assert sess._session.run(hooks[0].count) == 7.0  # initialized with the model (was uninitialized)
    assert order == ["chief", "user"] * 2
    with tf.Session() as raw:  # the checkpoint holds the hook's variable too
        tf.train.Saver().restore(raw, tf.train.latest_checkpoint(str(tmp_path)))
        assert raw.run(hooks[0].count) == 7.0 and int(raw.run(step)) == 2


def test_monitored_training_session_saves_no_checkpoint_with_save_checkpoint_steps_0(tmp_path):
    feed, w, loss, step, train = _model()
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_steps=0) as sess:
        sess.run(train, feed)
    assert not [f for f in os.listdir(tmp_path) if f.startswith("model.ckpt")]  # as TF's: no saver hook at all


def test_a_hook_may_feed_without_fetching_and_may_not_feed_what_the_caller_feeds():
    x = tf.placeholder(tf.float32, [], name="x")
    doubled = x * 2
    seen = []

    class Feeder(tf.train.SessionRunHook):
        def before_run(self, run_context):
            return tf.train.SessionRunArgs(None, {x: 3.0})

        def after_run(self, run_context, run_values):
            seen.append(run_values.results)

    with tf.train.MonitoredSession(hooks=[Feeder()]) as sess:
        assert sess.run(doubled) == 6.0 and seen == [None]
        with pytest.raises(RuntimeError, match="fed by a SessionRunHook and user"):
            sess.run(doubled, {x: 5.0})  # was 6.0: the hook's feed silently won
    with pytest.raises(RuntimeError, match="fed by two hooks"):
        with tf.train.MonitoredSession(hooks=[Feeder(), Feeder()]) as sess:
            sess.run(doubled)


def test_run_step_fn_runs_with_or_without_hooks_and_request_stop_ends_the_loop():
    c = tf.placeholder(tf.float32, [])
    v, w = c + 4.0, c + 0.5
    runs = []

    class Counter(tf.train.SessionRunHook):
        def before_run(self, run_context):
            runs.append(run_context.original_args.fetches)

    def step_fn(step_context):
        a = step_context.session.run(v, {c: 0.5})  # without the hooks
        if a <= 4.5:
            step_context.request_stop()
        return step_context.run_with_hooks(fetches=w, feed_dict={c: 0.1})

    results = []
    with tf.train.MonitoredSession(hooks=[Counter()]) as sess:
        while not sess.should_stop():
            results.append(sess.run_step_fn(step_fn))
    assert results == [] and runs == [] and sess.should_stop()  # the first step asked to stop

    with tf.train.MonitoredSession(hooks=[Counter()]) as sess:
        np.testing.assert_allclose(sess.run_step_fn(lambda step_context: step_context.run_with_hooks(w, {c: 1.0})), 1.5)
        assert runs == [w]
        with pytest.raises(ValueError, match="step_context"):
            sess.run_step_fn(lambda ctx: None)


def test_logging_hook_logs_a_dict_in_sorted_order_and_refuses_both_periods(caplog):
    feed, w, loss, step, train = _model()
    hook = tf.train.LoggingTensorHook({"step": step, "a_loss": loss}, every_n_iter=2)
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        with tf.train.MonitoredTrainingSession(hooks=[hook]) as sess:
            for _ in range(3):
                sess.run(train, feed)
    messages = [r.getMessage() for r in caplog.records if "a_loss = " in r.getMessage()]
    assert len(messages) == 2 and messages[0].startswith("a_loss = ") and ", step = 0" in messages[0]
    assert messages[1].endswith(" sec)") and ", step = 2 (" in messages[1]
    with pytest.raises(ValueError, match="exactly one"):
        tf.train.LoggingTensorHook({"loss": loss}, every_n_iter=1, every_n_secs=1.0, at_end=True)


def test_scaffold_copy_from_scaffold_keeps_what_is_not_given():
    v = tf.Variable(1.0, name="v")
    calls = []
    base = tf.train.Scaffold(init_fn=lambda scaffold, session: calls.append(session.run(v)),
                             init_feed_dict={}, saver=tf.train.Saver([v]))
    copy = tf.train.Scaffold(copy_from_scaffold=base)
    assert copy.init_fn is base.init_fn and copy.saver is base.saver and copy.init_feed_dict == {}
    with tf.train.MonitoredSession(tf.train.ChiefSessionCreator(scaffold=copy)):
        pass
    assert calls == [1.0]  # was never called: the copy dropped it
    with pytest.raises(TypeError, match="copy_from_scaffold"):
        tf.train.Scaffold(copy_from_scaffold=object())


def test_feed_fn_hook_feeds_each_run_and_final_ops_hook_runs_at_the_end():
    x = tf.placeholder(tf.float32, [])
    total = tf.Variable(0.0)
    add = total.assign_add(x)
    feeds = iter([1.0, 2.0, 4.0])
    final = tf.train.FinalOpsHook({"total": total * 10})
    with tf.train.MonitoredSession(hooks=[tf.train.FeedFnHook(lambda: {x: next(feeds)}), final]) as sess:
        for _ in range(3):
            sess.run(add)
        assert final.final_ops_values is None
    assert final.final_ops_values == {"total": 70.0}


def test_nan_tensor_hook_logs_tf_message_and_refuses_a_non_scalar_loss(caplog):
    # a vector loss was checked element-wise in silence; TF-1's hook tests one value ("Model diverged ...")
    feed, w, loss, step, train = _model()
    bad = {k: np.full_like(v, np.nan) for k, v in feed.items()}
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        with tf.train.MonitoredTrainingSession(hooks=[tf.train.NanTensorHook(loss, fail_on_nan_loss=False)]) as sess:
            sess.run(train, bad)
    assert [r.getMessage() for r in caplog.records] == ["Model diverged with loss = NaN."]
    with pytest.raises(ValueError, match=r"NanTensorHook: loss_tensor must be a scalar, got shape \[3\]"):
        tf.train.NanTensorHook(tf.zeros([3]))
    per_example = tf.reduce_sum(tf.square(tf.matmul(next(iter(feed)), w)), axis=1)  # shape [None]
    with tf.train.MonitoredTrainingSession(hooks=[tf.train.NanTensorHook(per_example)]) as sess:
        with pytest.raises(ValueError, match=r"a value of shape \[64\]"):
            sess.run(train, feed)


def test_monitored_session_closed_twice_is_a_runtime_error():
    # a second close() was silently ignored; TF's raises (its hooks' end ran only once)
    ends = []

    class Ender(tf.train.SessionRunHook):
        def end(self, session):
            ends.append(session)

    tf.train.get_or_create_global_step()
    sess = tf.train.MonitoredTrainingSession(hooks=[Ender()])
    sess.close()
    assert sess.should_stop() and len(ends) == 1
    with pytest.raises(RuntimeError, match="Session is already closed."):
        sess.close()
    with pytest.raises(RuntimeError, match="Session is already closed."):  # leaving the block closes it too
        with tf.train.MonitoredTrainingSession() as sess:
            sess.close()
    with pytest.raises(ZeroDivisionError):  # an error in the block is not hidden by the closed session
        with tf.train.MonitoredTrainingSession() as sess:
            sess.close()
            raise ZeroDivisionError
    assert len(ends) == 1


def _events(directory):
    """The events of the event files in ``directory``, as (step, what, {tag: value} or session status), once the
    hooks' shared writers are closed (tensorboardX writes from a queue)."""
    event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")
    tf.summary.FileWriterCache.clear()
    out = []
    for name in sorted(f for f in os.listdir(directory) if f.startswith("events.")):
        data, offset = open(os.path.join(directory, name), "rb").read(), 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset:offset + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[offset + 12:offset + 12 + length])
            offset += 16 + length
            what = event.WhichOneof("what")
            if what == "summary":
                out.append((event.step, what, {v.tag: v.simple_value for v in event.summary.value}))
            elif what == "session_log":
                out.append((event.step, what, event.session_log.status))
    return out


def _quadratic():
    """w from 1 by gradient descent (0.1) on (w - 2)^2: the loss before step k is 0.64^k."""
    w = tf.Variable(1.0)
    loss = tf.square(w - 2.0)
    step = tf.train.get_or_create_global_step()
    return loss, step, tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)


def _fake_clock(monkeypatch, seconds_per_run=0.25):
    """monitored's clock advances only by ``seconds_per_run`` at each run (through the hook returned)."""
    from types import SimpleNamespace

    import ember.compat.tf.monitored as monitored

    clock = SimpleNamespace(now=100.0, sleeps=0)
    monkeypatch.setattr(monitored, "time", SimpleNamespace(time=lambda: clock.now, sleep=lambda s: None))

    class Tick(tf.train.SessionRunHook):
        def after_run(self, run_context, run_values):
            clock.now += seconds_per_run

    return Tick()


def test_step_counter_hook_logs_and_writes_global_steps_per_second(tmp_path, monkeypatch, caplog):
    pytest.importorskip("tensorboardX")
    loss, step, train = _quadratic()
    hooks = [tf.train.StepCounterHook(every_n_steps=5, output_dir=str(tmp_path)), _fake_clock(monkeypatch)]
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        with tf.train.MonitoredSession(hooks=hooks) as sess:
            for _ in range(12):
                sess.run(train)
    # timed from the first run's step (1); 5 steps in 1.25 s at steps 6 and 11, as TF's
    assert _events(tmp_path) == [(6, "summary", {"global_step/sec": 4.0}), (11, "summary", {"global_step/sec": 4.0})]
    assert [r.getMessage() for r in caplog.records if "/sec" in r.getMessage()] == ["global_step/sec: 4"] * 2
    with pytest.raises(ValueError, match="StepCounterHook: give exactly one of every_n_steps and every_n_secs"):
        tf.train.StepCounterHook(every_n_steps=None)


def test_summary_saver_hook_writes_the_summary_op_every_save_steps_at_the_step_reached(tmp_path):
    pytest.importorskip("tensorboardX")
    loss, step, train = _quadratic()
    summary = tf.summary.scalar("loss", loss)
    writer = tf.summary.FileWriter(str(tmp_path / "given"))
    hooks = [tf.train.SummarySaverHook(save_steps=3, output_dir=str(tmp_path / "dir"), summary_op=summary),
             tf.train.SummarySaverHook(save_steps=3, summary_writer=writer, scaffold=tf.train.Scaffold(summary_op=[
                 summary]))]
    with tf.train.MonitoredSession(hooks=hooks) as sess:
        for _ in range(7):
            sess.run(train)
    writer.close()
    # the loss a run computed (before its update), written at the step it reached: steps 1, 4 and 7
    expected = [(1, "session_log", 1)]
    expected += [(s, "summary", {"loss": pytest.approx(0.64 ** (s - 1), rel=1e-5)}) for s in (1, 4, 7)]
    assert _events(tmp_path / "dir") == expected
    assert _events(tmp_path / "given") == expected
    with pytest.raises(ValueError, match="exactly one of scaffold and summary_op"):
        tf.train.SummarySaverHook(save_steps=1, output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="exactly one of save_steps and save_secs"):
        tf.train.SummarySaverHook(save_steps=1, save_secs=1, output_dir=str(tmp_path), summary_op=summary)


def test_monitored_training_session_writes_summaries_and_steps_per_second_as_tf(tmp_path, monkeypatch):
    # save_summaries_steps and log_step_count_steps were accepted and had no effect
    pytest.importorskip("tensorboardX")
    loss, step, train = _quadratic()
    tf.summary.scalar("loss", loss)
    order = []

    class Order(tf.train.SessionRunHook):
        def before_run(self, run_context):
            order.append([type(h).__name__ for h in sess._hooks])

    hooks = [tf.train.StopAtStepHook(last_step=25), _fake_clock(monkeypatch), Order()]
    with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), hooks=hooks, save_summaries_steps=10,
                                           log_step_count_steps=10, save_checkpoint_secs=None) as sess:
        while not sess.should_stop():
            sess.run(train)
    assert order[0][:3] == ["StepCounterHook", "SummarySaverHook", "StopAtStepHook"]
    rate = [(s, v) for s, what, v in _events(tmp_path) if what == "summary" and "global_step/sec" in v]
    losses = [(s, v["loss"]) for s, what, v in _events(tmp_path) if what == "summary" and "loss" in v]
    assert rate == [(11, {"global_step/sec": 4.0}), (21, {"global_step/sec": 4.0})]
    assert losses == [(s, pytest.approx(0.64 ** (s - 1), rel=1e-5)) for s in (1, 11, 21)]
    # save_summaries_secs alone (the steps' default then off), into summary_dir; nothing without a directory
    tf.reset_default_graph()
    loss, step, train = _quadratic()
    tf.summary.scalar("loss", loss)
    with tf.train.MonitoredTrainingSession(summary_dir=str(tmp_path / "s"), save_summaries_secs=0.5,
                                           log_step_count_steps=None, hooks=[_fake_clock(monkeypatch)]) as sess:
        for _ in range(5):
            sess.run(train)
    assert [s for s, what, v in _events(tmp_path / "s") if what == "summary"] == [1, 3, 5]
    with tf.train.MonitoredTrainingSession(is_chief=False, summary_dir=str(tmp_path / "worker")) as sess:
        sess.run(train)
    assert not os.path.exists(tmp_path / "worker")


def test_monitored_training_session_without_tensorboardx_logs_the_step_rate(tmp_path, monkeypatch, caplog):
    import ember.compat.tf.summary as summary

    def missing():
        raise ImportError("no tensorboardX")

    monkeypatch.setattr(summary, "_tensorboardx", missing)
    loss, step, train = _quadratic()
    with caplog.at_level(logging.INFO, logger="tensorflow"):
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), log_step_count_steps=2,
                                               hooks=[_fake_clock(monkeypatch)]) as sess:
            for _ in range(5):
                sess.run(train)
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("global_step/sec: 4") == 2
    assert any("tensorboardX is not installed" in m for m in messages)
    assert not [f for f in os.listdir(tmp_path) if f.startswith("events.")]


def test_global_step_waiter_hook_holds_the_first_run_until_the_step_is_reached(monkeypatch):
    from types import SimpleNamespace

    import ember.compat.tf.monitored as monitored

    loss, step, train = _quadratic()
    bump = step.assign_add(1)
    holder, runs = {}, []

    def sleep(seconds):  # what other workers do meanwhile: train
        runs.append(seconds)
        holder["sess"].run(bump)

    monkeypatch.setattr(monitored, "time", SimpleNamespace(time=lambda: 0.0, sleep=sleep))

    class Hold(tf.train.SessionRunHook):
        def after_create_session(self, session, coord):
            holder["sess"] = session

    with tf.train.MonitoredTrainingSession(hooks=[Hold(), tf.train.GlobalStepWaiterHook(3)]) as sess:
        sess.run(train)
        assert runs == [0.5] * 3 and int(sess._session.run(step)) == 4
        sess.run(train)
    assert runs == [0.5] * 3  # only the first run waits
    with tf.train.MonitoredTrainingSession(hooks=[tf.train.GlobalStepWaiterHook(0)]) as sess:
        sess.run(train)
    assert len(runs) == 3


def test_monitored_training_session_checkpoint_period_follows_tf1_defaults(tmp_path):
    # TF-1: 600 s when neither is given, only the one given otherwise, and a ValueError when both are
    _model()

    def saver_periods(**kwargs):
        with tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), **kwargs) as sess:
            return [(h._secs, h._steps) for h in sess._hooks if isinstance(h, tf.train.CheckpointSaverHook)]

    assert saver_periods() == [(600, None)]
    assert saver_periods(save_checkpoint_secs=60) == [(60, None)]
    assert saver_periods(save_checkpoint_steps=10) == [(None, 10)]
    assert saver_periods(save_checkpoint_steps=None) == []  # steps given as None: the secs default is dropped too
    for secs, steps in ((60, 10), (60, 0)):
        with pytest.raises(ValueError, match="CheckpointSaverHook: give exactly one of save_secs and save_steps"):
            tf.train.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_secs=secs,
                                              save_checkpoint_steps=steps)

"""``tf.train.MonitoredTrainingSession`` and its hooks: a Session that initializes or restores the variables,
runs ``SessionRunHook``s around every ``run`` (extra fetches, stopping, logging, checkpoints) and ends cleanly.

>>> hooks = [tf.train.StopAtStepHook(last_step=1000), tf.train.NanTensorHook(loss)]
>>> with tf.train.MonitoredTrainingSession(checkpoint_dir="ckpt", hooks=hooks) as sess:
...     while not sess.should_stop():
...         sess.run(train_op)
"""

from __future__ import annotations

import inspect
import logging
import os
import time

import numpy as np

from ember.compat.tf._core import Tensor, get_default_graph
from ember.compat.tf.data import OutOfRangeError
from ember.compat.tf.session import Session
from ember.compat.tf.summary import FileWriterCache, merge_all, scalar_proto, session_log_proto
from ember.compat.tf.train import Saver, get_checkpoint_state, get_global_step
from ember.compat.tf.variables import global_variables_initializer, local_variables_initializer

__all__ = [
    "CheckpointSaverHook", "CheckpointSaverListener", "ChiefSessionCreator", "FeedFnHook", "FinalOpsHook",
    "GlobalStepWaiterHook", "LoggingTensorHook", "MonitoredSession", "MonitoredTrainingSession",
    "NanLossDuringTrainingError", "NanTensorHook", "Scaffold", "SecondOrStepTimer", "SessionRunArgs",
    "SessionRunContext", "SessionRunHook", "SessionRunValues", "SingularMonitoredSession", "StepCounterHook",
    "StopAtStepHook", "SummarySaverHook",
]

_log = logging.getLogger("tensorflow")


class SessionRunArgs:
    """What a hook adds to a run: more ``fetches`` and feeds."""

    def __init__(self, fetches, feed_dict=None, options=None):
        self.fetches, self.feed_dict, self.options = fetches, feed_dict, options


class SessionRunValues:
    """What a hook's fetches gave: ``results``."""

    def __init__(self, results, options=None, run_metadata=None):
        self.results, self.options, self.run_metadata = results, options, run_metadata


class SessionRunContext:
    """The run a hook sees: its ``original_args``, the ``session``, and ``request_stop()``."""

    def __init__(self, original_args: SessionRunArgs, session):
        self.original_args, self.session = original_args, session
        self.stop_requested = False

    def request_stop(self) -> None:
        self.stop_requested = True


class SessionRunHook:
    """Override what you need: ``begin`` (graph still open), ``after_create_session``, ``before_run`` (return
    ``SessionRunArgs`` for extra fetches), ``after_run`` and ``end``."""

    def begin(self) -> None: ...

    def after_create_session(self, session, coord) -> None: ...

    def before_run(self, run_context: SessionRunContext):
        return None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None: ...

    def end(self, session) -> None: ...


def _step_tensor(who: str):
    step = get_global_step()
    if step is None:
        raise RuntimeError(f"{who}: the graph has no global step; create it with tf.train.get_or_create_global_step()")
    return step


class StopAtStepHook(SessionRunHook):
    """Request a stop once the global step reaches ``last_step`` (or ``num_steps`` past where it started)."""

    def __init__(self, num_steps: int | None = None, last_step: int | None = None):
        if (num_steps is None) == (last_step is None):
            raise ValueError("StopAtStepHook: give exactly one of num_steps and last_step")
        self._num_steps, self._last_step = num_steps, last_step

    def begin(self) -> None:
        self._step = _step_tensor("StopAtStepHook")

    def after_create_session(self, session, coord) -> None:
        if self._last_step is None:
            self._last_step = int(session.run(self._step)) + self._num_steps

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values) -> None:
        # the step read in this run is the one before its increment; a run that did not train (an evaluation)
        # has not incremented it, so read it again before stopping
        if int(run_values.results) + 1 >= self._last_step and \
                int(run_context.session.run(self._step)) >= self._last_step:
            run_context.request_stop()


class NanLossDuringTrainingError(RuntimeError):
    """``tf.train.NanLossDuringTrainingError``: the monitored loss became NaN."""


class NanTensorHook(SessionRunHook):
    """Fail (or, with ``fail_on_nan_loss=False``, stop) when ``loss_tensor`` is NaN."""

    def __init__(self, loss_tensor: Tensor, fail_on_nan_loss: bool = True):
        shape = getattr(loss_tensor, "_shape", None)
        if shape is not None and None not in shape and int(np.prod(shape)) != 1:
            raise ValueError(f"NanTensorHook: loss_tensor must be a scalar, got shape {list(shape)}")
        self._loss, self._fail = loss_tensor, fail_on_nan_loss

    def before_run(self, run_context):
        return SessionRunArgs(self._loss)

    def after_run(self, run_context, run_values) -> None:
        loss = np.asarray(run_values.results)
        if loss.size != 1:  # (TF's truth test of the array fails on one of several values)
            raise ValueError(f"NanTensorHook: loss_tensor must be a scalar, got a value of shape {list(loss.shape)}")
        if np.isnan(loss).any():
            message = "Model diverged with loss = NaN."
            if self._fail:
                _log.error(message)
                raise NanLossDuringTrainingError("NaN loss during training.")
            _log.warning(message)
            run_context.request_stop()


class LoggingTensorHook(SessionRunHook):
    """Log the values of ``tensors`` (a dict name -> tensor, or a list) every ``every_n_iter`` runs or
    ``every_n_secs`` seconds (and at the end with ``at_end``), through the "tensorflow" logger."""

    def __init__(self, tensors, every_n_iter: int | None = None, every_n_secs: float | None = None,
                 at_end: bool = False, formatter=None):
        only_at_end = at_end and every_n_iter is None and every_n_secs is None
        if (every_n_iter is None) == (every_n_secs is None) and not only_at_end:
            raise ValueError("LoggingTensorHook: give exactly one of every_n_iter and every_n_secs (or at_end)")
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError(f"LoggingTensorHook: every_n_iter must be positive, got {every_n_iter}")
        if not isinstance(tensors, dict):
            tensors = {getattr(t, "name", str(t)): t for t in tensors}
        else:  # a dict is logged in its sorted names' order, a list in its own, as TF's
            tensors = dict(sorted(tensors.items()))
        # a name without an output index is the op's first output's, as TF-1's hook reads it ("loss" -> "loss:0")
        tensors = {k: f"{t}:0" if isinstance(t, str) and ":" not in t else t for k, t in tensors.items()}
        self._tensors, self._every_n, self._every_secs = tensors, every_n_iter, every_n_secs
        self._at_end, self._formatter = at_end, formatter

    def begin(self) -> None:
        self._iter, self._last_time = 0, None

    def _due(self) -> bool:
        if self._every_n is not None:
            return self._iter % self._every_n == 0
        if self._every_secs is not None:
            return self._last_time is None or time.time() - self._last_time >= self._every_secs
        return False

    def before_run(self, run_context):
        self._logging = self._due()
        return SessionRunArgs(self._tensors) if self._logging else None

    def _emit(self, values: dict) -> None:
        now = time.time()
        if self._formatter:
            text = self._formatter(values)
        else:
            with np.printoptions(suppress=True):
                text = ", ".join(f"{k} = {values[k]}" for k in self._tensors)
            if self._last_time is not None:
                text += f" ({now - self._last_time:.3f} sec)"
        _log.info(text)
        self._last_time = now

    def after_run(self, run_context, run_values) -> None:
        if self._logging:
            self._emit(run_values.results)
        self._iter += 1

    def end(self, session) -> None:
        if self._at_end:
            self._emit(session.run(self._tensors))


class FeedFnHook(SessionRunHook):
    """Feed every run with what ``feed_fn()`` returns (a feed_dict)."""

    def __init__(self, feed_fn):
        self.feed_fn = feed_fn

    def before_run(self, run_context):
        return SessionRunArgs(None, self.feed_fn())


class FinalOpsHook(SessionRunHook):
    """Run ``final_ops`` (with ``final_ops_feed_dict``) when the session ends; their values are
    ``final_ops_values``."""

    def __init__(self, final_ops, final_ops_feed_dict=None):
        self._final_ops, self._feed = final_ops, final_ops_feed_dict
        self._final_ops_values = None

    @property
    def final_ops_values(self):
        return self._final_ops_values

    def end(self, session) -> None:
        if self._final_ops is not None:
            self._final_ops_values = session.run(self._final_ops, self._feed)


class SecondOrStepTimer:
    """Says when something done every ``every_secs`` seconds or every ``every_steps`` global steps is due."""

    def __init__(self, every_secs: float | None = None, every_steps: int | None = None):
        if (every_secs is None) == (every_steps is None):
            raise ValueError("SecondOrStepTimer: give exactly one of every_secs and every_steps")
        self._every_secs, self._every_steps = every_secs, every_steps
        self.reset()

    def reset(self) -> None:
        self._last_step, self._last_time = None, None

    def should_trigger_for_step(self, step: int) -> bool:
        """Due at ``step``: the first time, then not twice at one step, then once the period has passed."""
        if self._last_step is None:
            return True
        if step == self._last_step:
            return False
        if self._every_secs is not None:
            return time.time() >= self._last_time + self._every_secs
        return step >= self._last_step + self._every_steps

    def update_last_triggered_step(self, step: int) -> tuple:
        """Record a trigger at ``step``; the seconds and steps since the last one (None, None the first time)."""
        now = time.time()
        elapsed = (None, None) if self._last_time is None else (now - self._last_time, step - self._last_step)
        self._last_step, self._last_time = step, now
        return elapsed

    def last_triggered_step(self) -> int | None:
        return self._last_step


def _cached_writer(who: str, output_dir: str):
    """The shared FileWriter of ``output_dir``; None (with a warning) without tensorboardX."""
    try:
        return FileWriterCache.get(output_dir)
    except ImportError:
        _log.warning("%s: tensorboardX is not installed, so no summaries are written to %s", who, output_dir)
        return None


class StepCounterHook(SessionRunHook):
    """Log the global steps per second every ``every_n_steps`` steps (or ``every_n_secs`` seconds), and write them
    as the summary ``global_step/sec`` to ``summary_writer`` (or the FileWriter of ``output_dir``)."""

    def __init__(self, every_n_steps: int | None = 100, every_n_secs: float | None = None,
                 output_dir: str | None = None, summary_writer=None):
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError("StepCounterHook: give exactly one of every_n_steps and every_n_secs")
        self._timer = SecondOrStepTimer(every_secs=every_n_secs, every_steps=every_n_steps)
        self._writer, self._output_dir = summary_writer, output_dir
        self._last_stale_step, self._stale_warnings = None, 0

    def begin(self) -> None:
        if self._writer is None and self._output_dir:
            self._writer = _cached_writer("StepCounterHook", self._output_dir)
        self._step = _step_tensor("StepCounterHook")
        self._tag = f"{self._step.op.name}/sec"

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def after_run(self, run_context, run_values) -> None:
        stale = int(run_values.results)  # the step before this run's increment
        if self._timer.should_trigger_for_step(stale + 1):
            step = int(run_context.session.run(self._step))
            if self._timer.should_trigger_for_step(step):
                secs, steps = self._timer.update_last_triggered_step(step)
                if secs:
                    rate = steps / secs
                    if self._writer is not None:
                        self._writer.add_summary(scalar_proto(self._tag, rate), step)
                    _log.info("%s: %g", self._tag, rate)
        if stale == self._last_stale_step and self._stale_warnings < 5:
            self._stale_warnings += 1
            _log.warning("It seems that global step (tf.train.get_global_step) has not been increased. Current value "
                         "(could be stable): %s vs previous value: %s. You could increase the global step by passing "
                         "tf.train.get_global_step() to Optimizer.apply_gradients or Optimizer.minimize.",
                         stale, self._last_stale_step)
        self._last_stale_step = stale


class SummarySaverHook(SessionRunHook):
    """Run ``summary_op`` (or the ``scaffold``'s, by default every summary of the graph) every ``save_steps`` global
    steps (or ``save_secs`` seconds), from the first run on, and write it at the step reached to
    ``summary_writer`` (or the FileWriter of ``output_dir``)."""

    def __init__(self, save_steps: int | None = None, save_secs: float | None = None, output_dir: str | None = None,
                 summary_writer=None, scaffold=None, summary_op=None):
        if (scaffold is None) == (summary_op is None):
            raise ValueError("SummarySaverHook: give exactly one of scaffold and summary_op")
        if (save_steps is None) == (save_secs is None):
            raise ValueError("SummarySaverHook: give exactly one of save_steps and save_secs")
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._writer, self._output_dir = summary_writer, output_dir
        self._summary_op, self._scaffold = summary_op, scaffold

    def begin(self) -> None:
        if self._writer is None and self._output_dir:
            self._writer = _cached_writer("SummarySaverHook", self._output_dir)
        elif self._writer is None:
            _log.warning("SummarySaverHook: no output_dir nor summary_writer, so no summaries are written")
        self._next_step = None
        self._step = _step_tensor("SummarySaverHook")

    def _summary_ops(self) -> list:
        summary_op = self._summary_op if self._summary_op is not None else self._scaffold.summary_op
        if summary_op is None:
            return []
        return list(summary_op) if isinstance(summary_op, (list, tuple)) else [summary_op]

    def before_run(self, run_context):
        self._request = self._next_step is None or self._timer.should_trigger_for_step(self._next_step)
        fetches = {"global_step": self._step}
        if self._request and self._writer is not None and self._summary_ops():
            fetches["summary"] = self._summary_ops()
        return SessionRunArgs(fetches)

    def after_run(self, run_context, run_values) -> None:
        if self._writer is None:
            return
        step = int(run_values.results["global_step"]) + 1
        if self._next_step is None or self._request:  # the step this run reached, if it trained
            step = int(run_context.session.run(self._step))
        if self._next_step is None:
            self._writer.add_session_log(session_log_proto("START"), step)
        if self._request:
            self._timer.update_last_triggered_step(step)
            for summary in run_values.results.get("summary", ()):
                self._writer.add_summary(summary, step)
        self._next_step = step + 1

    def end(self, session) -> None:
        if self._writer is not None:
            self._writer.flush()


class GlobalStepWaiterHook(SessionRunHook):
    """Hold the first run until the global step reaches ``wait_until_step`` (set by other runs of the session,
    as workers starting one after another do), checking it every half second."""

    def __init__(self, wait_until_step: int):
        self._wait_until_step = wait_until_step

    def begin(self) -> None:
        self._started = False
        self._step = _step_tensor("GlobalStepWaiterHook")

    def before_run(self, run_context):
        if self._started:
            return None
        if self._wait_until_step > 0:
            _log.info("Waiting for global step %d before starting training.", self._wait_until_step)
            last_logged = 0
            while (step := int(run_context.session.run(self._step))) < self._wait_until_step:
                if step - last_logged > 1000:
                    _log.info("Waiting for global step %d before starting training. Current step is %d.",
                              self._wait_until_step, step)
                    last_logged = step
                time.sleep(0.5)
        self._started = True
        return None


class CheckpointSaverListener:
    """``tf.train.CheckpointSaverListener``: told of a CheckpointSaverHook's ``begin``, of each save (``before_save``,
    ``after_save``: returning True asks the training to stop) and of its ``end``."""

    def begin(self) -> None: ...

    def before_save(self, session, global_step_value: int) -> None: ...

    def after_save(self, session, global_step_value: int) -> bool | None:
        return None

    def end(self, session, global_step_value: int) -> None: ...


class CheckpointSaverHook(SessionRunHook):
    """Save the variables every ``save_steps`` global steps or ``save_secs`` seconds, and at the end, as
    ``checkpoint_dir/checkpoint_basename-<step>``, telling the ``listeners`` around each save."""

    def __init__(self, checkpoint_dir: str, save_secs: float | None = None, save_steps: int | None = None,
                 saver: Saver | None = None, checkpoint_basename: str = "model.ckpt", scaffold=None, listeners=None):
        if (save_secs is None) == (save_steps is None):
            raise ValueError("CheckpointSaverHook: give exactly one of save_secs and save_steps")
        if saver is not None and scaffold is not None:
            raise ValueError("CheckpointSaverHook: give at most one of saver and scaffold")
        self._dir, self._secs, self._steps = checkpoint_dir, save_secs, save_steps
        self._saver, self._scaffold = saver, scaffold  # (the scaffold's saver is read once it is finalized)
        self._listeners = list(listeners or [])
        self._path = os.path.join(checkpoint_dir, checkpoint_basename)

    def begin(self) -> None:
        self._step = _step_tensor("CheckpointSaverHook")
        if self._saver is None and self._scaffold is None:
            self._saver = Saver(allow_empty=True)  # (TF-1's default saver)
        self._last_step, self._last_time = None, None
        for listener in self._listeners:
            listener.begin()

    def after_create_session(self, session, coord) -> None:
        self._save(session, int(session.run(self._step)))

    def before_run(self, run_context):
        return SessionRunArgs(self._step)

    def _due(self, step: int) -> bool:
        if self._last_step is None:
            return True
        if step == self._last_step:
            return False
        if self._secs is not None:
            return time.time() >= self._last_time + self._secs
        return step >= self._last_step + self._steps

    def after_run(self, run_context, run_values) -> None:
        if self._due(int(run_values.results) + 1):  # the step read before this run's increment, if it trained
            step = int(run_context.session.run(self._step))  # so the checkpoint is named for the step it holds
            if self._due(step) and self._save(run_context.session, step):
                run_context.request_stop()

    def end(self, session) -> None:
        step = int(session.run(self._step))
        if step != self._last_step:
            self._save(session, step)
        for listener in self._listeners:
            listener.end(session, step)

    def _save(self, session, step: int) -> bool:
        """Save at ``step``; True when a listener asks the training to stop."""
        for listener in self._listeners:
            listener.before_save(session, step)
        saver = self._saver if self._saver is not None else self._scaffold.saver
        saver.save(session, self._path, global_step=step)
        self._last_step, self._last_time = step, time.time()
        return any([bool(listener.after_save(session, step)) for listener in self._listeners])


class Scaffold:
    """What a monitored session builds from: the ``init_op``, ``local_init_op``, ``saver`` and ``summary_op``
    (defaults: every global variable's initializer, every local one's, a Saver of the global variables, every
    summary of the graph merged)."""

    def __init__(self, init_op=None, init_feed_dict=None, init_fn=None, ready_op=None, ready_for_local_init_op=None,
                 local_init_op=None, summary_op=None, saver=None, copy_from_scaffold=None):
        if copy_from_scaffold is not None:  # what is not given here comes from it
            if not isinstance(copy_from_scaffold, Scaffold):
                raise TypeError(f"Scaffold: copy_from_scaffold must be a Scaffold, got {type(copy_from_scaffold)}")
            init_op, init_feed_dict, init_fn, local_init_op, summary_op, saver = (
                given if given is not None else copied for given, copied in zip(
                    (init_op, init_feed_dict, init_fn, local_init_op, summary_op, saver),
                    (copy_from_scaffold.init_op, copy_from_scaffold.init_feed_dict, copy_from_scaffold.init_fn,
                     copy_from_scaffold.local_init_op, copy_from_scaffold.summary_op, copy_from_scaffold.saver)))
        self.init_op, self.init_feed_dict, self.init_fn = init_op, init_feed_dict, init_fn
        self.local_init_op, self.summary_op, self.saver = local_init_op, summary_op, saver

    def finalize(self) -> Scaffold:
        if self.init_op is None:
            self.init_op = global_variables_initializer()
        if self.local_init_op is None:
            self.local_init_op = local_variables_initializer()
        if self.summary_op is None:
            self.summary_op = merge_all()  # (None when the graph has no summaries)
        if self.saver is None:
            self.saver = Saver(allow_empty=True)  # (TF-1's default saver)
        return self


class ChiefSessionCreator:
    """Makes the session: restores the latest checkpoint of ``checkpoint_dir`` if there is one, else runs the
    scaffold's initializers (and ``init_fn``)."""

    def __init__(self, scaffold: Scaffold | None = None, master: str = "", config=None, checkpoint_dir=None,
                 checkpoint_filename_with_path=None):
        self.scaffold = scaffold or Scaffold()
        self.checkpoint_dir, self.checkpoint_path = checkpoint_dir, checkpoint_filename_with_path

    def create_session(self) -> Session:
        scaffold = self.scaffold.finalize()
        session = Session()
        kept = None if self.checkpoint_path or not self.checkpoint_dir else get_checkpoint_state(self.checkpoint_dir)
        path = self.checkpoint_path or (kept.model_checkpoint_path if kept is not None else None)
        if path is not None:
            session.run(scaffold.init_op)  # variables the checkpoint does not hold still start somewhere
            scaffold.saver.restore(session, path)
            if kept is not None:  # as TF's: the resumed run's max_to_keep also counts the checkpoints kept so far
                scaffold.saver.recover_last_checkpoints(kept.all_model_checkpoint_paths)
        else:
            session.run(scaffold.init_op, scaffold.init_feed_dict)
            if scaffold.init_fn is not None:
                scaffold.init_fn(scaffold, session)
        session.run(scaffold.local_init_op)
        return session


def _refuse_shared_feeds(feeds: dict, more: dict, message: str) -> None:
    shared = [k for k in more if k in feeds]
    if shared:
        raise RuntimeError(f"MonitoredSession.run: {message} Conflict(s): {shared}")


class MonitoredSession:
    """A Session run with hooks: ``run`` adds each hook's fetches, hands them their values, and stops when a hook
    asks (``should_stop``); the end of a ``tf.data`` iterator (OutOfRangeError) also stops it. As a context
    manager it calls the hooks' ``end`` and closes the session, swallowing that OutOfRangeError."""

    def __init__(self, session_creator=None, hooks=None, stop_grace_period_secs: int = 120):
        self._hooks = list(hooks or [])
        for hook in self._hooks:
            hook.begin()
        creator = session_creator or ChiefSessionCreator()
        self._session = creator.create_session()
        for hook in self._hooks:
            hook.after_create_session(self._session, None)
        # a hook's stop request ends the run loop (run refuses to go on, as TF's); the end of the data only stops it
        self._stop, self._hook_stop, self._closed = False, False, False

    @property
    def graph(self):
        return get_default_graph()

    def should_stop(self) -> bool:
        return self._stop or self._closed

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        if self._closed or self._hook_stop:
            raise RuntimeError("Run called even after should_stop requested.")
        context = SessionRunContext(SessionRunArgs(fetches, feed_dict), self._session)
        requests = [hook.before_run(context) for hook in self._hooks]
        hook_feeds, extra = {}, {}
        for k, request in enumerate(requests):
            if request is None:
                continue
            if request.fetches is not None:  # a hook may only feed
                extra[k] = request.fetches
            if request.feed_dict:
                _refuse_shared_feeds(hook_feeds, request.feed_dict, "Same tensor is fed by two hooks.")
                hook_feeds.update(request.feed_dict)
        feeds = feed_dict
        if hook_feeds:
            _refuse_shared_feeds(feed_dict or {}, hook_feeds, "Same tensor is fed by a SessionRunHook and user.")
            feeds = {**hook_feeds, **(feed_dict or {})}
        try:
            results = self._session.run({"user": fetches, "hooks": extra}, feeds, options=options,
                                        run_metadata=run_metadata)
        except OutOfRangeError:
            self._stop = True
            raise
        for k, hook in enumerate(self._hooks):
            hook.after_run(context, SessionRunValues(results["hooks"].get(k)))
        self._hook_stop = self._hook_stop or context.stop_requested
        self._stop = self._stop or self._hook_stop
        return results["user"]

    class StepContext:
        """What ``run_step_fn`` hands its ``step_fn``: the raw ``session``, ``run_with_hooks`` (a monitored run)
        and ``request_stop()``, which ends the step with a StopIteration that the ``with`` block swallows."""

        def __init__(self, session, run_with_hooks_fn):
            self._session, self._run_with_hooks_fn = session, run_with_hooks_fn

        @property
        def session(self) -> Session:
            return self._session

        def run_with_hooks(self, *args, **kwargs):
            return self._run_with_hooks_fn(*args, **kwargs)

        def request_stop(self):
            raise StopIteration("step_fn has requested the iterations to stop.")

    def run_step_fn(self, step_fn):
        """Call ``step_fn(step_context)`` and give back what it returns."""
        names = tuple(inspect.signature(step_fn).parameters)
        if inspect.ismethod(step_fn):
            names = ("self", *names)
        if names not in (("step_context",), ("self", "step_context")):
            raise ValueError("`step_fn` may either have one `step_context` argument, or `self` and `step_context` "
                             f"arguments if it's an instance method. Got {names} instead.")
        return step_fn(MonitoredSession.StepContext(self._session, self.run))

    def close(self) -> None:
        """Run the hooks' ``end`` and close the session; a second close is a RuntimeError, as TF's."""
        if self._closed:
            raise RuntimeError("Session is already closed.")
        try:
            for hook in self._hooks:
                hook.end(self._session)
        finally:  # a failing hook's end still closes the session
            self._session.close()
            self._closed = True

    def __enter__(self) -> MonitoredSession:
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        # the end of the data, or a step_fn's request_stop(), ends the session as a normal exit
        ended = kind is not None and issubclass(kind, (OutOfRangeError, StopIteration))
        if kind is None or ended:
            self.close()
        elif not self._closed:  # an error: close without running the hooks' ends on a broken step
            self._session.close()
            self._closed = True
        return ended


class SingularMonitoredSession(MonitoredSession):
    """A MonitoredSession made from a scaffold and a checkpoint directory (``raw_session()`` gives the Session)."""

    def __init__(self, hooks=None, scaffold=None, master: str = "", config=None, checkpoint_dir=None,
                 stop_grace_period_secs: int = 120, checkpoint_filename_with_path=None):
        super().__init__(ChiefSessionCreator(scaffold, checkpoint_dir=checkpoint_dir,
                                             checkpoint_filename_with_path=checkpoint_filename_with_path), hooks)

    def raw_session(self) -> Session:
        return self._session


_USE_DEFAULT = object()  # (an argument not given: TF-1 then picks the default from the one given beside it)


def MonitoredTrainingSession(master: str = "", is_chief: bool = True, checkpoint_dir: str | None = None,  # noqa: N802
                             scaffold: Scaffold | None = None, hooks=None, chief_only_hooks=None,
                             save_checkpoint_secs=_USE_DEFAULT, save_summaries_steps=_USE_DEFAULT,
                             save_summaries_secs=_USE_DEFAULT, config=None, stop_grace_period_secs: int = 120,
                             log_step_count_steps: int | None = 100, max_wait_secs: int = 7200,
                             save_checkpoint_steps=_USE_DEFAULT, summary_dir: str | None = None
                             ) -> MonitoredSession:
    """``tf.train.MonitoredTrainingSession``: a MonitoredSession that restores from or initializes the variables.
    On the chief, with a ``summary_dir`` (by default the ``checkpoint_dir``), it logs and writes the global steps
    per second every ``log_step_count_steps`` steps (StepCounterHook) and writes the scaffold's summaries (every
    summary of the graph) every ``save_summaries_steps`` steps, 100 by default, or ``save_summaries_secs`` seconds
    (SummarySaverHook); with a ``checkpoint_dir`` it saves the variables every ``save_checkpoint_steps`` steps (or
    ``save_checkpoint_secs`` seconds, 600 when neither is given; both given is a ValueError) and at the end."""
    if save_summaries_steps is _USE_DEFAULT and save_summaries_secs is _USE_DEFAULT:
        save_summaries_steps, save_summaries_secs = 100, None
    elif save_summaries_secs is _USE_DEFAULT:
        save_summaries_secs = None
    elif save_summaries_steps is _USE_DEFAULT:
        save_summaries_steps = None
    if save_checkpoint_steps is _USE_DEFAULT and save_checkpoint_secs is _USE_DEFAULT:
        save_checkpoint_steps, save_checkpoint_secs = None, 600
    elif save_checkpoint_secs is _USE_DEFAULT:
        save_checkpoint_secs = None
    elif save_checkpoint_steps is _USE_DEFAULT:
        save_checkpoint_steps = None
    scaffold = scaffold or Scaffold()
    # the order TF runs them in: the chief's own hooks, the step counter, the summary and checkpoint savers, then
    # the caller's
    all_hooks = list(chief_only_hooks or []) if is_chief else []
    summary_dir = summary_dir or checkpoint_dir
    if is_chief and summary_dir:
        if log_step_count_steps and log_step_count_steps > 0:
            all_hooks.append(StepCounterHook(every_n_steps=log_step_count_steps, output_dir=summary_dir))
        if (save_summaries_steps or 0) > 0 or (save_summaries_secs or 0) > 0:
            all_hooks.append(SummarySaverHook(save_steps=save_summaries_steps, save_secs=save_summaries_secs,
                                              output_dir=summary_dir, scaffold=scaffold))
    if is_chief and checkpoint_dir and ((save_checkpoint_steps or 0) > 0 or (save_checkpoint_secs or 0) > 0):
        # the saver is the scaffold's, made once the hooks' begin() has added their variables
        all_hooks.append(CheckpointSaverHook(checkpoint_dir, save_secs=save_checkpoint_secs,
                                             save_steps=save_checkpoint_steps, scaffold=scaffold))
    all_hooks += list(hooks or [])
    return MonitoredSession(ChiefSessionCreator(scaffold, checkpoint_dir=checkpoint_dir), all_hooks,
                            stop_grace_period_secs)

"""``tf.Session``: replays the recipes its fetches need into an IR graph, compiles it, caches it per signature.

Each recipe kind lowers through one function of the table ``LOWERINGS`` (kind -> lowering); a recipe of
a kind the table does not hold is an ordinary op, replayed by calling its Ember function on Values.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

import ember
from ember.compat.tf._core import (
    Graph,
    Operation,
    Tensor,
    default_sessions,
    get_default_graph,
    substitute,
    tensors_in,
)
from ember.compat.tf.array_ops import RANDOM_TYPES
from ember.compat.tf.errors import FailedPreconditionError
from ember.compat.tf.mixed_precision import rewrite_dtype
from ember.compat.tf.run_options import DeviceStepStats, RunMetadata, RunOptions, Tracer
from ember.compat.tf.slots import SlotVariable
from ember.compat.tf.variables import Variable
from ember.graph.ir import ASSIGN, SPARSE_UPDATE, UPDATE, GraphError, Value
from ember.graph.ir import Graph as IRGraph
from ember.ops.host import host_call
from ember.ops.indexing import dense_gradient
from ember.ops.shape import COPY
from ember.passes import TrainRequest, autodiff, pipeline, run_passes
from ember.passes import gradients as graph_gradients
from ember.passes.data_parallel import average, data_parallel_job
from ember.passes.loss_scale import LossScale
from ember.random import seeded_stream
from ember.runtime import compile_graph
from ember.runtime.arena import lay_out
from ember.runtime.cache import CompileCache
from ember.runtime.sized import SizeSpecificCode
from ember.sparse import RowSparse

_jit = sys.modules["ember.jit"]  # its profile_hook is set while ember.profiler records



def get_default_session():
    """The innermost Session entered with ``with`` or ``as_default()`` (or an open InteractiveSession), or None
    when there is none, as in TF-1."""
    return default_sessions[-1] if default_sessions else None


# --- lowering: recipe kind -> IR -------------------------------------------------------------------------


def _lower_placeholder(replay: Replay, t: Tensor):
    shape = "<unknown>" if t._shape is None else ["?" if d is None else d for d in t._shape]
    raise ValueError(f"You must feed a value for placeholder tensor '{t.op.name}' with dtype {t.dtype} and shape "
                     f"{shape}")


def _lower_variable(replay: Replay, t: Tensor):
    array = replay.session.variable_value(t)
    v = replay.graph.input(t.op.name, array.shape, array.dtype)
    replay.bound[v.id] = array
    return v


def _lower_gradients(replay: Replay, t: Tensor):
    """A gradient as a Value; a lookup's row-sparse one (TF-1's ``IndexedSlices``) densified, its rows kept in
    ``replay.sliced`` for what takes them as they are (``Replay.slices``)."""
    request, i = t.args
    if id(request) not in replay.grads:
        ys, xs, grad_ys = request
        yv = [replay.value(y) for y in ys]
        xv = [replay.value(x) for x in xs]
        gv = None if grad_ys is None else [None if g is None else replay.value(g) for g in grad_ys]
        averaged = getattr(request, "for_training", False) and data_parallel_job()
        stop = [replay.value(s) for s in request.stop]
        grads = graph_gradients(replay.graph, yv, xv, gv, sparse=not averaged, stop=stop)
        grads = [g if g is not None else replay.graph.constant(np.zeros(x.shape, x.dtype)) for g, x in zip(grads, xv)]
        if averaged:
            grads = _averaged(replay.graph, grads)
        replay.grads[id(request)] = grads
    g = replay.grads[id(request)][i]
    if g.__class__ is RowSparse:
        replay.sliced[id(t)] = g
        with replay.graph.building():
            g = dense_gradient(g)
    return g


def _averaged(graph: IRGraph, grads: list) -> list:
    """``compute_gradients``' gradients in a data-parallel job: averaged over the ranks where they are computed,
    so that what transforms them before ``apply_gradients`` (``clip_by_global_norm``) reads the average, as one
    process on the global batch would (the ``data_parallel`` pass leaves what derives from them alone)."""
    with graph.building():
        means = average(grads)
    graph.averaged_grads.update(m.id for m in means)
    return means


def _hyper_live(replay: Replay, optimizer):
    """For an optimizer with hyper-parameters given as tensors: their values computed in the step, each written
    into a 0-d array of this session (before the updates, which run last), and the ``live`` function that hands
    the update those arrays; None for an optimizer of numbers."""
    if not optimizer.tensor_hyper:
        return None
    graph = replay.graph
    cells = replay.session.hyper_cells(optimizer)
    for key, tensor in optimizer.tensor_hyper.items():
        value = replay.value(tensor)
        if tuple(value.shape) != ():
            raise ValueError(f"{type(optimizer).__name__}: {key} '{tensor.name}' must be a scalar, got shape "
                             f"{list(value.shape)}")
        cell = cells[key]
        target = graph.input(f"{tensor.op.name}/{key}", (), cell.dtype)
        replay.bound[target.id] = cell
        with graph.building():
            value = ember.cast(value, cell.dtype) if value.dtype != cell.dtype else value
        graph.add(ASSIGN, (target, value), {}, [])
    hyper = {**optimizer.hyper, **cells}
    return lambda: hyper


def _rules(t: Tensor) -> tuple:
    """The update rule and row-sparse rule of training op ``t``: its optimizer's, or one of each per variable
    where the op has its own (``t.rules``: TF-1's AdamW with a ``decay_var_list``)."""
    rules = getattr(t, "rules", None)
    return rules if rules is not None else (t.optimizer.rule, t.optimizer.sparse_rule)


def _lower_train(replay: Replay, t: Tensor):
    loss, var_list = t.args
    params = [replay.value(v) for v in var_list]
    states = [replay.session.slots(t.optimizer, v) for v in var_list]
    live = _hyper_live(replay, t.optimizer)
    scaled = getattr(t, "loss_scale", None)  # set by a MixedPrecisionLossScaleOptimizer
    counted = t.global_step is not None
    if scaled is not None:
        if getattr(scaled, "good_steps", None) is None:
            scaled = LossScale(replay.value(scaled.scale))
        else:  # a dynamic scale: a skipped step leaves the global step alone, as in TF
            step = replay.value(t.global_step) if counted else None
            scaled = LossScale(replay.value(scaled.scale), replay.value(scaled.good_steps), scaled.increment_period,
                               scaled.multiplier, step)
            counted = False
    # (a data-parallel job averages dense gradients: its embeddings' updates stay dense)
    rule, sparse_rule = _rules(t)
    sparse_rule = None if data_parallel_job() else sparse_rule
    replay.graph.requests.append(
        TrainRequest(replay.value(loss), params, rule, t.optimizer.hyper, states, scaled, live=live,
                     sparse_rule=sparse_rule)
    )
    if counted:
        replay.value(t.global_step.assign_add(1))
    return None


def _lower_apply_gradients(replay: Replay, t: Tensor):
    """``apply_gradients`` of gradients given as tensors (clipped, scaled...): the updates take them as they are."""
    grads, var_list = t.args
    if getattr(t, "loss_scale", None) is not None:
        raise ValueError("apply_gradients: a loss-scaled optimizer applies only the unmodified output of "
                         "compute_gradients (use minimize)")
    params = [replay.value(v) for v in var_list]
    rule, sparse_rule = _rules(t)
    sparse_rule = None if data_parallel_job() else sparse_rule  # (as _lower_train)
    values = []
    for g, v, p in zip(grads, var_list, params):
        value = replay.slices(g)
        with replay.graph.building():
            if value.__class__ is RowSparse:  # TF-1's IndexedSlices: the optimizer's SparseApply* rule, if any
                if sparse_rule is not None and tuple(value.shape) == tuple(p.shape):
                    if value.values.dtype != p.dtype:
                        value = RowSparse(value.indices, ember.cast(value.values, p.dtype), value.shape)
                    values.append(value)
                    continue
                value = replay.value(g)
            if value.dtype != p.dtype:
                value = ember.cast(value, p.dtype)
            if tuple(value.shape) != tuple(p.shape):
                try:
                    value = ember.broadcast_to(value, p.shape)
                except ValueError:
                    raise ValueError(f"apply_gradients: gradient '{g.name}' of shape {list(value.shape)} for "
                                     f"variable '{v.name}' of shape {list(p.shape)}") from None
        values.append(value)
    states = [replay.session.slots(t.optimizer, v) for v in var_list]
    live = _hyper_live(replay, t.optimizer)
    replay.graph.requests.append(
        TrainRequest(None, params, rule, t.optimizer.hyper, states, grads=values, live=live,
                     sparse_rule=sparse_rule)
    )
    if t.global_step is not None:
        replay.value(t.global_step.assign_add(1))
    return None


def _lower_assign(replay: Replay, t: Tensor):
    graph = replay.graph
    target, value = replay.value(t.args[0]), replay.value(t.args[1])
    with graph.building():
        value = ember.cast(value, target.dtype) if value.dtype != target.dtype else value
        if tuple(value.shape) != tuple(target.shape):  # (a value whose shape was not known at build)
            raise ValueError(f"assign to {t.args[0].name}: shapes {list(target.shape)} and {list(value.shape)} "
                             "are incompatible")
    guard = replay.guard(t)
    if guard is not None:  # built in a tf.cond branch: the variable keeps its value where the branch is not taken
        with graph.building():
            value = ember.where(guard, value, target)
    graph.add(ASSIGN, (target, value), {}, [])
    return value


def _lower_iterator(replay: Replay, t: Tensor):
    raise ValueError(f"'{t.name}': a tf.data iterator's tensors are filled by Session.run; run "
                     "iterator.initializer on its own, and read get_next() in the fetches")


def _lower_group(replay: Replay, t: Tensor):
    for part in tensors_in(t.args):
        replay.value(part)
    return None


def _lower_op(replay: Replay, t: Tensor):
    graph = replay.graph
    if "on_slices" in t.__dict__:  # (TF-1's IndexedSlices in, IndexedSlices out: see Replay.slices)
        with graph.building():
            out = t.on_slices(*substitute(t.args, replay.slices), **substitute(t.kwargs, replay.value))
            if out.__class__ is RowSparse:
                replay.sliced[id(t)] = out
                return dense_gradient(out)
    else:
        with graph.building():
            out = t.fn(*substitute(t.args, replay.value), **substitute(t.kwargs, replay.value))
    if out.__class__ is not Value:
        out = graph.capture(out if isinstance(out, ember.Tensor) else ember.as_tensor(out))
    return out


def _lower_random(replay: Replay, t: Tensor):
    """A random op: its draws from Ember's generator, or, seeded, from its own generator in this session (a
    graph input the draw advances in place)."""
    state = None
    if t.seeds is not None:
        state = replay.graph.input(f"{t.op.name}/state", (4,), np.uint64)
        replay.bound[state.id] = replay.session.random_state(t)
    with replay.graph.building():
        return t.fn(*substitute(t.args, replay.value), state=state)


def _lower_py_func(replay: Replay, t: Tensor):
    """A ``py_func`` of one result whose shape is known: a ``host_call`` node, kept (as an extra output of the
    graph) even where only its effect is wanted. (Session.run feeds the others: ``host_results``.)"""
    if t._shape is None or None in t._shape or not t.host.single:
        raise ValueError(f"'{t.name}': a py_func of unknown shape is computed by Session.run before the graph")
    values = [replay.value(x) for x in t.host.inputs]
    guard = replay.guard(t)
    with replay.graph.building():
        if guard is None:
            out = host_call(lambda *arrays: t.host.results(*arrays)[0], values, t._shape, t.dtype, t.host.name)
        else:  # in a tf.cond branch: called where it is taken (the zeros elsewhere are not selected)
            out = host_call(lambda taken, *arrays: t.host.results(*arrays)[0] if taken else
                            np.zeros(t._shape, t.dtype), [guard, *values], t._shape, t.dtype, t.host.name)
    replay.kept.append(out)
    return out


def _host_effect(replay: Replay, t: Tensor, fn: Callable, inputs: list, name: str) -> None:
    """A ``host_call`` of ``fn`` on ``inputs`` for its effect, made only where ``t``'s tf.cond branches are
    taken."""
    guard = replay.guard(t)
    with replay.graph.building():
        if guard is None:
            host_call(fn, inputs, name=name)
        else:
            host_call(lambda taken, *arrays: fn(*arrays) if taken else None, [guard, *inputs], name=name)


def _lower_print(replay: Replay, t: Tensor):
    """``tf.Print``: a ``host_call`` that writes the data's values (an effect node with no value), and the
    input's own Value as the result."""
    source, *data = (replay.value(x) for x in t.args)
    _host_effect(replay, t, t.write, data, f"tf.Print '{t.op.name}'")
    return source


def _lower_print_v2(replay: Replay, t: Tensor):
    _host_effect(replay, t, t.write, [replay.value(x) for x in t.args], f"tf.print '{t.op.name}'")
    return None


def _lower_assert(replay: Replay, t: Tensor):
    """``tf.Assert``: a ``host_call`` on the condition and data that raises where the condition is false."""
    _host_effect(replay, t, t.write, [replay.value(x) for x in t.args], f"tf.Assert '{t.op.name}'")
    return None


def _lower_check_numerics(replay: Replay, t: Tensor):
    """``tf.check_numerics``: a ``host_call`` that checks the input's values (an effect node with no value), and
    the input's own Value as the result."""
    source = replay.value(t.args[0])
    _host_effect(replay, t, t.write, [source], f"tf.check_numerics '{t.op.name}'")
    return source


def _lower_is_initialized(replay: Replay, t: Tensor):
    """``tf.is_variable_initialized``: a host call asking the Session when the graph runs (a compiled graph
    outlives the initialization it would otherwise have seen)."""
    var, session = t.args[0], replay.session

    def initialized() -> np.ndarray:
        try:
            session.variable_value(var)
        except FailedPreconditionError:
            return np.array(False)
        return np.array(True)

    with replay.graph.building():
        return host_call(initialized, [], (), np.dtype(bool), name=f"tf.is_variable_initialized '{t.op.name}'")


LOWERINGS: dict[str, Callable] = {
    "IsVariableInitialized": _lower_is_initialized,
    "PyFunc": _lower_py_func,
    "Print": _lower_print,
    "PrintV2": _lower_print_v2,
    "Assert": _lower_assert,
    "CheckNumerics": _lower_check_numerics,
    "Placeholder": _lower_placeholder,
    "VariableV2": _lower_variable,
    "Gradients": _lower_gradients,
    "Train": _lower_train,
    "ApplyGradients": _lower_apply_gradients,
    "Assign": _lower_assign,
    "NoOp": _lower_group,
    "Init": _lower_group,  # (run by Session.run itself; reached only inside a group)
    "IteratorGetNext": _lower_iterator,
    "IteratorInit": _lower_iterator,
    **dict.fromkeys(RANDOM_TYPES.values(), _lower_random),
}


class Replay:
    """Builds the IR for some fetches by lowering their recipes on symbolic Values."""

    def __init__(self, session: Session):
        self.session = session
        self.graph = IRGraph()
        self.feeds: dict = {}  # tf Tensor -> Value
        self.memo: dict = {}
        self.bound: dict = {}  # value id -> variable array
        self.grads: dict = {}
        self.sliced: dict = {}  # id of a tf Tensor -> its RowSparse form (see slices)
        self.kept: list = []  # values computed for their effect (a py_func's): extra outputs of the graph
        self.guards: dict = {}  # the tf.cond branches a recipe was built in (their ids) -> where all are taken

    def value(self, t: Tensor):
        key = id(t)
        if key in self.memo:  # (an op run for its effect is memoized too: its None)
            return self.memo[key]
        found = self.feeds.get(t)
        if found is None:
            controls = t.__dict__.get("_control", ())
            for first in controls:
                self.value(first)
                if first.kind in ("Train", "ApplyGradients"):  # its updates now, before what depends on them
                    autodiff(self.graph)
            found = LOWERINGS.get(t.kind, _lower_op)(self, t)
            if controls and isinstance(found, Value) and self._written(found):
                # a variable handed on as it is (tf.identity(v)): read after the control inputs' writes, where a
                # fetched variable is otherwise its value before the step's updates
                (found,) = self.graph.add(COPY, [found], None, [found.spec])
        self.memo[key] = found
        return found

    def guard(self, t: Tensor) -> Value | None:
        """Where ``t``'s effects happen: None for a recipe built outside ``tf.cond``'s branches, else a bool
        Value, true in a run that takes every branch ``t`` was built in."""
        guards = t.__dict__.get("_guards")
        if not guards:
            return None
        key = tuple((id(pred), taken) for pred, taken in guards)
        found = self.guards.get(key)
        if found is None:
            preds = [self.value(pred) for pred, _ in guards]
            with self.graph.building():
                for held, (_, taken) in zip(preds, guards):
                    held = held if taken else ember.logical_not(held)
                    found = held if found is None else ember.logical_and(found, held)
            self.guards[key] = found
        return found

    def slices(self, t: Tensor):
        """``t``'s value, but a ``RowSparse`` where TF-1 has ``IndexedSlices``: a gradient of a lookup's table
        (``tf.gradients``, ``compute_gradients``), or what keeps one such (``tf.clip_by_global_norm``...: a
        tensor with ``on_slices``, its recipe on the rows' values)."""
        found = self.value(t)
        return self.sliced.get(id(t), found)

    def _written(self, value: Value) -> bool:
        """Whether an assignment or an optimizer update in the graph so far writes ``value``."""
        return any(n.op in (ASSIGN, UPDATE, SPARSE_UPDATE) and n.inputs[0] is value for n in self.graph.nodes)


# --- feeds and fetches ----------------------------------------------------------------------------------


def _check_feed(t: Tensor, value) -> np.ndarray:
    """``value`` as an array of the placeholder's dtype, or a clear error for a wrong dtype, range or shape."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"cannot feed {type(value).__name__} to '{t.name}': {exc}") from None
    dtype = t.dtype
    if dtype is not None and array.dtype != dtype:
        allowed = {"f": "fiub", "i": "iub", "u": "iub", "b": "b"}.get(dtype.kind, dtype.kind)
        if array.dtype.kind not in allowed:
            raise TypeError(
                f"cannot feed a value of dtype {array.dtype} to '{t.name}' of dtype {dtype} "
                f"(shape {list(array.shape)})"
            )
        if dtype.kind in "iu" and array.size and not np.can_cast(array.dtype, dtype):
            info = np.iinfo(dtype)
            low, high = array.min(), array.max()
            if low < info.min or high > info.max:
                raise ValueError(
                    f"cannot feed values in [{low}, {high}] to '{t.name}' of dtype {dtype}: they do not fit "
                    f"[{info.min}, {info.max}]"
                )
        array = array.astype(dtype)
    if t._shape is not None:
        shape = t._shape
        if len(shape) != array.ndim or any(d is not None and d != s for d, s in zip(shape, array.shape)):
            declared = "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
            raise ValueError(
                f"Cannot feed value of shape {tuple(array.shape)} for Tensor '{t.name}', which has shape {declared}"
            )
    return array


def _flatten(fetches, flat: list, resolve):
    """Leaves of nested lists/tuples/dicts into ``flat``; returns a function rebuilding the structure."""
    if isinstance(fetches, (list, tuple)):
        builders = [_flatten(f, flat, resolve) for f in fetches]
        kind = type(fetches)
        if hasattr(fetches, "_fields"):  # a namedtuple (LSTMStateTuple)
            return lambda out: kind(*(b(out) for b in builders))
        return lambda out: kind(b(out) for b in builders)
    if isinstance(fetches, dict):
        builders = {k: _flatten(f, flat, resolve) for k, f in fetches.items()}
        return lambda out: {k: b(out) for k, b in builders.items()}
    fetches = resolve(fetches)
    summary = getattr(fetches, "summary_values", None)
    if summary is not None:  # a tf.summary op: fetch its values, hand back the serialized protobuf
        parts = [_flatten(t, flat, resolve) for t in summary]
        return lambda out: fetches.serialize([p(out) for p in parts])
    i = len(flat)
    flat.append(fetches)
    return lambda out: out[i]


class Session:
    """Runs fetches: ``sess.run(fetches, feed_dict)``; holds the variables' values and optimizer slots.

    Each (fetches, feed shapes) pair is compiled once, through the pass pipeline and the runtime's code
    generator; later runs with the same signature call the cached function directly. When the same fetches
    are run with feeds of another shape (a placeholder's unknown dimensions, such as the batch), one function
    is compiled for every size of those dimensions and serves all later shapes (``cache.stats()`` counts the
    compiles); the first shape keeps its own, fully specialized function. Where the graph needs known sizes
    there, each shape is compiled alone and ``specialized`` says why; ``dynamic = False`` asks for that.

    A Session created after ``tf.train.experimental.enable_mixed_precision_graph_rewrite`` runs the
    ``mixed_precision`` pass first on every graph it compiles; ``mixed_precision`` holds its dtype (or None).
    """

    def __init__(self, target: str = "", graph: Graph | None = None, config=None):
        self.graph = graph or get_default_graph()
        self.values: dict = {}
        self.slot_states: dict = {}
        self.random_states: dict = {}  # seeded random op -> its generator state in this session
        self.hyper_arrays: dict = {}  # id(optimizer) -> its tensor hyper-parameters' 0-d arrays (hyper_cells)
        self.cache = CompileCache()  # (fetches, feed shapes) -> compiled function, bounded (least recent out)
        self.closed = False
        self._graph_context = None  # the session's graph as the default one inside a with block
        self.iterator_states: dict = {}  # tf.data iterator -> its current pass in this session
        self._iterators_read = CompileCache()  # ids of flattened fetches -> (them, the iterators they read)
        self.general = CompileCache()  # (fetches, fed tensors) -> a function for every size of their None dims
        self._first_shapes = CompileCache()  # (fetches, fed tensors) -> the feed shapes first compiled
        self.specialized: list[str] = []
        self.dynamic = True  # False: every feed shape compiled alone
        self._mixed_precision = rewrite_dtype()  # fixed when the Session is made, as TF-1's config is

    def __enter__(self) -> Session:
        # as in TF-1, the session's graph is also the default graph inside the block (tf.Session(graph=g))
        self._graph_context = None if self.graph is get_default_graph() else self.graph.as_default()
        if self._graph_context is not None:
            self._graph_context.__enter__()
        default_sessions.append(self)
        return self

    def __exit__(self, *exc) -> None:
        if default_sessions and default_sessions[-1] is self:
            default_sessions.pop()
        if self._graph_context is not None:
            self._graph_context.__exit__(None, None, None)
            self._graph_context = None
        self.close()

    def close(self) -> None:
        """Release the variables and compiled functions; running afterwards is an error."""
        self.closed = True
        self.values.clear()
        self.random_states.clear()
        self.cache.clear()
        self.general.clear()

    def as_default(self):
        return _SessionContext(self)

    @property
    def mixed_precision(self):
        """The dtype (bfloat16 or float16) the ``mixed_precision`` pass runs this Session's graphs in, or None."""
        return self._mixed_precision

    def variable_value(self, var) -> np.ndarray:
        """The array holding ``var``'s value in this session (a slot's: the entry of its optimizer's state)."""
        array = self.values.get(var)
        if array is None and isinstance(var, SlotVariable):
            array = self._slot_array(var)
        if array is None:
            init = "global" if "variables" in var.collections or "local_variables" not in var.collections else "local"
            raise FailedPreconditionError(message=f"Attempting to use uninitialized value {var.op.name}: run "
                                          f"tf.{init}_variables_initializer()")
        return array

    def slots(self, optimizer, var) -> dict:
        """The optimizer state of ``var`` (momentum buffers and the like): the update rule's ``state`` dict, which
        also holds the values of ``optimizer``'s slot variables of ``var``."""
        return self.slot_states.setdefault((id(optimizer), var), {})

    def _slot_array(self, slot: SlotVariable):
        """``slot``'s value in its optimizer's state, or None before the state has one (neither initialized,
        restored, nor made by a training step)."""
        primary = slot.primaries()[0]
        state = self.slot_states.get((id(slot.optimizer), primary))
        if not state:
            return None
        self._complete_state(slot.optimizer, primary, state)
        return state[slot.key]

    def _complete_state(self, optimizer, var, state: dict) -> None:
        """Give ``state`` the entries it lacks (a slot loaded alone): their slot variables' initial values, so
        the rule, which makes its state only when it has none, finds all of it."""
        slots = [s for s in (*optimizer.shared_variables.values(), *optimizer.slot_variables.get(var, {}).values())
                 if s.key not in state]
        for slot, value in zip(slots, self._evaluate([s.initial_value for s in slots], {}) if slots else []):
            state[slot.key] = self._slot_like(var, value, slot.dtype)
        for key, value in optimizer.EXTRA_STATE.items():
            state.setdefault(key, value)

    def _slot_like(self, var, value, dtype) -> np.ndarray:
        """A new array of ``dtype`` holding ``value``: in the memory order of ``var``'s array when it has
        ``var``'s shape."""
        param = self.values.get(var)
        value = np.asarray(value)
        if param is None or param.shape != value.shape:
            return np.array(value, dtype=dtype)
        array = np.empty_like(param)
        array[...] = value
        return array

    def _load_slots(self, values: dict) -> None:
        """Set slot variables (a dict slot -> array) in their optimizers' states, in place where the state has
        the entry already (compiled updates hold a momentum buffer)."""
        loaded = {}
        for slot, value in values.items():
            value = np.asarray(value, dtype=slot.dtype)
            for var in slot.primaries():
                state = self.slots(slot.optimizer, var)
                current = state.get(slot.key)
                if current.__class__ is np.ndarray and current.shape == value.shape:
                    current[...] = value
                else:
                    state[slot.key] = self._slot_like(var, value, slot.dtype)
                loaded[(id(slot.optimizer), var)] = (slot.optimizer, var, state)
        for optimizer, var, state in loaded.values():
            self._complete_state(optimizer, var, state)

    def random_state(self, t: Tensor) -> np.ndarray:
        """The generator state of the seeded random op ``t`` in this session: made from its seeds on first use,
        so every Session repeats the op's sequence, and ops of equal seeds draw equal samples, as in TF-1."""
        state = self.random_states.get(t)
        if state is None:
            state = self.random_states[t] = seeded_stream(*t.seeds)
        return state

    def hyper_cells(self, optimizer) -> dict:
        """The 0-d arrays holding, while a step runs, the values of ``optimizer``'s tensor hyper-parameters."""
        cells = self.hyper_arrays.get(id(optimizer))
        if cells is None:
            cells = self.hyper_arrays[id(optimizer)] = {
                key: np.zeros((), np.float64 if t.dtype == np.float64 else np.float32)
                for key, t in optimizer.tensor_hyper.items()}
        return cells

    def load_values(self, values: dict) -> None:
        """Set variables (a dict variable -> array); compiled functions keep seeing the same arrays. A slot
        variable (``v/Adam``) is set in its optimizer's state; the slots of a variable set without them keep
        their values, as in TF-1."""
        slots = {var: value for var, value in values.items() if isinstance(var, SlotVariable)}
        fresh = []
        for var, value in values.items():
            if var in slots:
                continue
            value = np.asarray(value, dtype=var.dtype)
            current = self.values.get(var)
            if current is not None and current.shape == value.shape:
                current[...] = value  # in place: compiled functions hold this array
            else:
                fresh.append((var, value))
        # New variables side by side in one array: the runtime then updates a run of them with a few
        # whole-array calls, and folds a dense layer's bias into its weight's product.
        for (var, _), array in zip(fresh, lay_out([value for _, value in fresh])):
            self.values[var] = array
            self.cache.clear()
            self.general.clear()
        self._load_slots(slots)

    def _initialize(self, variables) -> None:
        variables = list(variables)
        # One run for all: an initial value built on another's (``v.initialized_value() * 2``) reads the same
        # draw of its random ops.
        values = self._evaluate([var.initial_value for var in variables], {}) if variables else []
        self.load_values(dict(zip(variables, values)))

    def _evaluate(self, flat: list, feeds: dict):
        # Keys hold the tensors themselves (not ids), so a cached entry keeps them alive and unambiguous.
        key = (tuple(flat), *[(t, _signature(a)) for t, a in feeds.items()])
        compiled = self.cache.get(key)
        if compiled is None:
            compiled = self.cache[key] = self._compile(flat, feeds)
        if _jit.profile_hook is not None:
            return _jit.profile_hook(*compiled.graph_for_profiler, _arrays(feeds))
        try:
            return compiled(*feeds.values())
        except SizeSpecificCode as exc:  # raised before anything runs: these shapes get code of their own
            compiled = self.cache[key] = self._compile_shapes(flat, feeds, exc)
            return compiled(*feeds.values())

    def _check_graph(self, t: Tensor, role: str) -> None:
        if t.graph is not self.graph:
            raise ValueError(
                f"Session.run: cannot {role} tensor '{t.name}': it is not an element of this session's graph "
                "(it was built in another tf.Graph, or before tf.reset_default_graph())"
            )

    def _compile(self, flat: list, feeds: dict):
        """The function for these fetches and feeds: the one for every size of the feeds' unknown dimensions
        once a second shape is fed, else one for these shapes."""
        # (a tensor of unknown rank, fed: every dimension of the fed rank is unknown, so each rank needs its own)
        base = (tuple(flat), tuple(feeds), tuple(np.ndim(a) for t, a in feeds.items() if t._shape is None))
        shapes = tuple(np.shape(a) for a in feeds.values())  # a fed number's shape is ()
        for t in flat:
            self._check_graph(t, "fetch")
        for t, array in feeds.items():
            self._check_graph(t, "feed")
            _check_feed(t, array)
        first = self._first_shapes.setdefault(base, shapes)
        sizes = {n for t, a in feeds.items() for d, n in zip(_fed_static(t, a), np.shape(a)) if d is None}
        if not self.dynamic or len(sizes) > 1 or first == shapes or (general := self.general.get(base, False)) is None:
            return self._compile_shapes(flat, feeds)
        if general is False:
            try:
                general = self._compile_shapes(flat, feeds, general=True)
            except (GraphError, TypeError, ValueError) as exc:
                self.specialized.append(f"{', '.join(t.name for t in feeds)}: {exc}")
                self.general[base] = None
                return self._compile_shapes(flat, feeds)
            self.general[base] = general
        return general

    def _compile_shapes(self, flat: list, feeds: dict, general=False):
        """Compile for the feeds' shapes, or with ``general`` for every size of their unknown dimensions (an
        exception instead says why these shapes cannot use that function: it is recorded)."""
        if isinstance(general, Exception):
            self.specialized.append(f"{[list(np.shape(a)) for a in feeds.values()]}: {general}")
            general = False
        for t in flat:
            self._check_graph(t, "fetch")
        replay = Replay(self)
        graph = replay.graph
        scalars = {}
        for t, value in feeds.items():
            self._check_graph(t, "feed")
            array = _check_feed(t, value)
            shape = array.shape
            if general and None in _fed_static(t, array):
                shape = _fed_static(t, array)
                graph.dim_hint = next(n for n, d in zip(array.shape, shape) if d is None)
            v = replay.feeds[t] = graph.input(t.op.name, shape, array.dtype)
            if value.__class__ is not np.ndarray:
                scalars[v.id] = value.__class__
        results = [replay.value(t) for t in flat]
        graph.outputs = [v for v in results if v is not None]
        graph.outputs += [v for v in replay.kept if all(v is not out for out in graph.outputs)]
        graph = run_passes(graph, pipeline(self._mixed_precision))
        layout = []
        k = 0
        for v in results:
            layout.append(None if v is None else k)
            k += v is not None
        fn = compile_graph(graph, replay.bound, layout, scalars, numbers=True).fn
        fn.graph_for_profiler = (graph, replay.bound, layout)  # what the profiler runs node by node
        self.cache.count_compile()
        return fn

    def _resolve(self, fetch) -> Tensor:
        """A fetch as a tf Tensor or op: tensors and ops as they are, names looked up as TF-1 reads them
        (``"x:0"`` the tensor, ``"x"`` or ``"train"`` the op, whose fetched value is None)."""
        if isinstance(fetch, Tensor):
            return fetch
        if isinstance(fetch, str):
            return self._named(fetch, allow_operation=True)
        raise TypeError(f"Session.run: cannot fetch {fetch!r}; use tf tensors, ops or their names")

    def _named(self, name: str, allow_operation: bool) -> Tensor:
        try:
            return self.graph.as_graph_element(name, allow_tensor=True, allow_operation=allow_operation)
        except KeyError as exc:
            raise KeyError(f"Session.run: {exc.args[0]}") from None
        except ValueError as exc:
            raise ValueError(f"Session.run: {exc}") from None

    def _feed_key(self, key) -> Tensor:
        """A feed_dict key as a tf Tensor: a tensor, or a tensor's name (``"x:0"``; an op's name is an error,
        as in TF-1)."""
        if isinstance(key, Tensor) and not isinstance(key, Operation):
            return key
        if isinstance(key, str):
            return self._named(key, allow_operation=False)
        raise TypeError(f"Session.run: cannot feed {key!r}; feed_dict keys must be tf tensors or their names "
                        '("x:0")')

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Evaluate ``fetches`` (a tensor, an op, a name, or nested lists/tuples/dicts of them) with ``feed_dict``.
        ``options`` (a ``tf.RunOptions``) with a ``trace_level`` asks for per-node timings in ``run_metadata``
        (a ``tf.RunMetadata``)."""
        if self.closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if options is not None or run_metadata is not None:
            return self._run_traced(fetches, feed_dict, options, run_metadata)
        if self.graph.iterators:  # tf.data: the next elements become feeds
            feed_dict = self._with_next_elements(fetches, feed_dict)
        if self.graph.host_functions:  # py_func results of unknown shape: computed first, then fed
            feed_dict = self._with_host_results(fetches, feed_dict)
        feeds = {}
        key = [fetches]
        if feed_dict:
            for t, value in feed_dict.items():
                if t.__class__ is not Tensor:
                    t = self._feed_key(t)
                # A feed's signature is its shape (a number's: its class); the shape and the dtype a class
                # implies are checked once per signature, when it is compiled.
                cls = value.__class__
                key.append(t)
                if cls is np.ndarray:
                    if value.dtype != t.dtype or t.kind != "Placeholder":
                        value = _check_feed(t, value)
                    key.append(value.shape)
                elif cls in _FLOATS:  # a float the generated code takes as it is
                    key.append(cls)
                else:
                    value = _check_feed(t, value)
                    key.append(value.shape)
                feeds[t] = value
        if fetches.__class__ in _SINGLE and fetches.kind not in _RUN_HERE:  # the hot path: one tensor or training op
            key = tuple(key)
            cache = self.cache
            try:  # CompileCache.get, inlined: this is most of a small step's overhead
                cache.move_to_end(key)
                compiled = cache[key]
            except KeyError:
                compiled = None
            if compiled is None:  # (outside the except: a feed error is not reported as during a KeyError)
                compiled = cache[key] = self._compile([fetches], feeds)
            if _jit.profile_hook is not None:
                return _jit.profile_hook(*compiled.graph_for_profiler, _arrays(feeds))[0]
            try:
                return compiled(*feeds.values())[0]
            except SizeSpecificCode as exc:  # raised before anything runs: these shapes get code of their own
                compiled = self.cache[key] = self._compile_shapes([fetches], feeds, exc)
                return compiled(*feeds.values())[0]
        flat: list = []
        rebuild = _flatten(fetches, flat, self._resolve)
        inits = [t for t in flat if t.kind in _RUN_HERE]
        if inits:
            for t in inits:
                self._check_graph(t, "fetch")
                if t.kind == "Init":
                    self._initialize(t.args)
                else:
                    self._start_iterator(t, feed_dict)
            rest = [t for t in flat if t.kind not in _RUN_HERE]
            values = iter(self._evaluate(rest, feeds) if rest else [])
            return rebuild([None if t.kind in _RUN_HERE else next(values) for t in flat])
        return rebuild(self._evaluate(flat, feeds))

    def make_callable(self, fetches, feed_list=None, accept_options: bool = False) -> Callable:
        """A function running ``fetches`` (as ``run`` takes them) with its arguments fed, in order, to the tensors
        of ``feed_list`` (tensors or their names); with ``accept_options`` it also takes ``options`` and
        ``run_metadata`` keywords, as ``run`` does."""
        _flatten(fetches, [], self._resolve)  # a fetch that cannot be run is an error now, as in TF-1
        feeds = [self._feed_key(t) for t in feed_list or ()]

        def call(*feed_args, options=None, run_metadata=None):
            if len(feed_args) != len(feeds):
                raise ValueError(f"Session.make_callable: expected {len(feeds)} feed values (one per feed_list "
                                 f"entry: {[t.name for t in feeds]}), got {len(feed_args)}")
            return self.run(fetches, dict(zip(feeds, feed_args)), options, run_metadata)

        if accept_options:
            return call
        return lambda *feed_args: call(*feed_args)

    def _run_traced(self, fetches, feed_dict, options, run_metadata):
        """``run`` with ``tf.RunOptions``: with a trace level and a ``run_metadata``, the graphs it runs go node
        by node, timed into ``run_metadata.step_stats``."""
        if options is not None and not isinstance(options, RunOptions):
            raise TypeError(f"Session.run: options must be a tf.RunOptions, got {type(options).__name__}")
        if run_metadata is not None and not isinstance(run_metadata, RunMetadata):
            raise TypeError(f"Session.run: run_metadata must be a tf.RunMetadata, got {type(run_metadata).__name__}")
        if options is None or options.trace_level == RunOptions.NO_TRACE or run_metadata is None:
            return self.run(fetches, feed_dict)
        stats = DeviceStepStats()
        previous = _jit.profile_hook
        _jit.profile_hook = Tracer(stats, previous)
        try:
            result = self.run(fetches, feed_dict)
        finally:
            _jit.profile_hook = previous
        run_metadata.step_stats.dev_stats.append(stats)
        return result

    def _with_host_results(self, fetches, feed_dict):
        """``feed_dict`` with the results of the ``py_func`` calls the fetches need whose shapes are not known
        (or that give several results): each computed from its inputs' values in a run of its own, inner calls
        first, then fed to the rest of the graph."""
        flat: list = []
        _flatten(fetches, flat, self._resolve)
        fed = {k if isinstance(k, Tensor) else self._feed_key(k) for k in feed_dict or {}}
        calls = host_boundaries(flat, fed)
        if not calls:
            return feed_dict
        feeds = dict(feed_dict or {})
        drawn = random_sources([t for first in calls for t in first.host.inputs], fed)
        if drawn:  # drawn once, for the calls and the graph to see one draw, as TF-1's single run does
            feeds.update(zip(drawn, self.run(drawn, feeds)))
        for first in calls:
            host = first.host
            values = self.run(list(host.inputs), feeds) if host.inputs else []
            for t, value in zip(first.op.outputs, host.results(*values)):
                feeds[t] = value
        return feeds

    def _start_iterator(self, init: Tensor, feed_dict) -> None:
        """Run a tf.data iterator's initializer: a fresh pass, over the values of the placeholders it reads."""
        self._start_pass(init.iterator, init.dataset, init.args, feed_dict)

    def _start_pass(self, iterator, dataset, sources, feed_dict) -> None:
        """A fresh pass of ``iterator`` over ``dataset``, the tf tensors it reads computed now."""
        sources = list(sources)
        values = self.run(sources, feed_dict) if sources else []
        self.iterator_states[iterator] = iterator.start(dataset, {id(t): v for t, v in zip(sources, values)})

    def _with_next_elements(self, fetches, feed_dict):
        """``feed_dict`` with the next element of each tf.data iterator the fetches read (those not fed)."""
        flat: list = []
        _flatten(fetches, flat, self._resolve)
        if any(t.kind in _RUN_HERE for t in flat):
            return feed_dict
        key = tuple(id(t) for t in flat)
        iterators = self._iterators_read.get(key)
        if iterators is None:
            iterators = self._iterators_read[key] = (flat, iterator_tensors(flat))
        iterators = iterators[1]
        if not iterators:
            return feed_dict
        feeds = dict(feed_dict or {})
        for iterator in iterators:
            if any(t not in feeds for t in iterator._next):
                if not iterator.initializable and iterator not in self.iterator_states:  # a one-shot's first use
                    self._start_pass(iterator, iterator.dataset, iterator.dataset._sources, None)
                for t, value in zip(iterator._next, iterator.next_values(self.iterator_states)):
                    feeds.setdefault(t, value)
        return feeds


# Floats fed as they are: compiled functions take them, rounded to the placeholder's dtype as _check_feed
# would; whether one may be fed to a placeholder depends on its class only, so it is checked once, when the
# signature is compiled. Integers are checked on every run (their range against the dtype's).
_FLOATS = frozenset({float, np.float32, np.float64})


def _signature(value):
    """What a compiled function is specialized on for one feed: an array's shape, a number's class."""
    return value.shape if value.__class__ is np.ndarray else value.__class__


def _arrays(feeds: dict) -> tuple:
    """The feeds as arrays (numbers fed as they are become 0-d arrays of their placeholder's dtype)."""
    return tuple(v if v.__class__ is np.ndarray else np.asarray(v, t.dtype) for t, v in feeds.items())


class _SessionContext:
    def __init__(self, session: Session):
        self.session = session

    def __enter__(self) -> Session:
        default_sessions.append(self.session)
        return self.session

    def __exit__(self, *exc) -> None:
        default_sessions.remove(self.session)


_SINGLE = frozenset({Tensor, Variable, Operation})
_RUN_HERE = frozenset({"Init", "IteratorInit"})  # run by Session.run itself, not compiled

class InteractiveSession(Session):
    """A Session that installs itself as the default session when made (``Tensor.eval()`` and
    ``Operation.run()`` use it) until it is closed; a ``graph`` given is the default graph until then, as in
    TF-1."""

    def __init__(self, target: str = "", graph: Graph | None = None, config=None):
        super().__init__(target, graph, config)
        self._default_graph = None
        if graph is not None:
            self._default_graph = graph.as_default()
            self._default_graph.__enter__()
        default_sessions.append(self)

    def close(self) -> None:
        if not self.closed:
            if self in default_sessions:
                default_sessions.remove(self)
            if self._default_graph is not None:
                self._default_graph.__exit__(None, None, None)
                self._default_graph = None
        super().close()


def _fed_static(t: Tensor, array) -> tuple:
    """A fed tensor's static shape: an unknown rank is the fed value's, with every dimension unknown."""
    return tuple(t._shape) if t._shape is not None else (None,) * np.ndim(array)


def iterator_tensors(fetches) -> list:
    """The tf.data iterators whose ``get_next`` tensors the fetches read."""
    found, seen, stack = [], set(), list(tensors_in(fetches))
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.kind == "IteratorGetNext" and t.iterator not in found:
            found.append(t.iterator)
        stack.extend(tensors_in(t.args))
        stack.extend(tensors_in(t.kwargs))
        stack.extend(t.__dict__.get("_control", ()))
    return found


def random_sources(tensors: list, fed: set) -> list:
    """The outputs of the random ops (not fed) that ``tensors`` read, where feeding them cuts no gradient (their
    inputs hold no floats): a Session draws them once and feeds them to the runs of a step's host calls and to
    the step's graph, which would each draw anew."""
    found, seen = [], set()

    def visit(t) -> None:
        if id(t) in seen or t in fed:
            return
        seen.add(id(t))
        inputs = (*tensors_in(t.args), *tensors_in(t.kwargs), *t.__dict__.get("_control", ()))
        for u in inputs:
            visit(u)
        if t.kind in _RANDOM_KINDS and not any(u.dtype is not None and u.dtype.kind in "fc" for u in inputs):
            found.extend(o for o in t.op.outputs if o not in found and o not in fed)

    for t in tensors:
        visit(t)
    return found


_RANDOM_KINDS = frozenset(RANDOM_TYPES.values())


def host_boundaries(fetches: list, fed: set) -> list:
    """The ``py_func`` calls (their first results) the fetches need that a Session computes before the graph
    (a result's shape not fully known, or several results), each after the calls its inputs need."""
    found, seen = [], set()

    def visit(t) -> None:
        if id(t) in seen or t in fed:
            return
        seen.add(id(t))
        for u in (*tensors_in(t.args), *tensors_in(t.kwargs), *t.__dict__.get("_control", ())):
            visit(u)
        if t.kind == "PyFunc":
            first = t.op.outputs[0]
            if (not t.host.single or t._shape is None or None in t._shape) and first not in found:
                found.append(first)

    for t in fetches:
        visit(t)
    return found

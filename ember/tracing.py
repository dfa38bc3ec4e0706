"""What eager-mode side effects mean while ``ember.jit`` traces a function into a graph.

Effects on arrays are ops (``ember.ops.effects``): a batch norm's running statistics are ``assign`` nodes,
``optimizer.step()`` makes ``update`` nodes, dropout's mask is a ``random`` node, all by plain graph building.
What remains is Python state outside arrays, each parameter's ``.grad`` attribute, which a ``Trace`` keeps:

- ``backward`` on a Value appends the backward nodes (the ops' vjp rules) and sets each parameter's ``.grad``
  to a symbolic Value; a gradient that existed before the call becomes a live input, so accumulation works;
  the same for a Tensor argument that requires grad (a leaf: eager backward would carry the gradient of one
  computed from others on to those, out of the traced call's reach), whose ``.grad`` the call then sets;
- ``drop_grad`` (``zero_grad``) is an op: its node drops the gradient on every run, and the trace sets ``.grad``
  to None for the rest of the traced call; ``accumulate_grad`` adds each gradient into ``.grad``, as eager mode;
- ``matches`` tells whether a cached trace still fits the caller's ``.grad`` (of parameters and arguments),
  optimizer, autocast and grad mode (``no_grad``) state, the parameter groups of the optimizers the call stepped, the
  modes (``train()``/``eval()``) of the modules the call read, and (``watch``) the ``requires_grad`` and gradient hooks
  of the tensors it captured and the hooks of the modules it called, compared only when ``ember.traced_state``
  says that some such thing changed.
"""

from __future__ import annotations

from operator import is_not, itemgetter

from ember import grad_mode, traced_state
from ember.autograd import post_accumulate_hooks, run_post_accumulate_hooks
from ember.backend import dtypes
from ember.backend.devices import device_of
from ember.grad_mode import memory_written, thread_mode
from ember.graph.ir import SPARSE_UPDATE, UPDATE, Graph, GraphError, Value, type_str
from ember.nn import global_hooks
from ember.ops import autocast
from ember.ops.effects import DROP_GRAD, accumulate_grad
from ember.ops.indexing import dense_gradient
from ember.passes.data_parallel import average, data_parallel_job
from ember.sparse import RowSparse
from ember.tensor import Tensor


def hyper_form(value):
    """What compiled code fixes of a hyper-parameter's value: for a number, whether it is 0 (the value itself is read
    on every run, so a schedule's new momentum or betas need no retrace); anything else as it is."""
    if value.__class__ is float or value.__class__ is int:
        return value == 0
    if value.__class__ is tuple:
        return tuple(map(hyper_form, value))
    return value


def _reader(keys: list):
    """A function of a dict returning the tuple of its values at ``keys`` (KeyError when one is missing)."""
    get = itemgetter(*keys)
    return get if len(keys) > 1 else lambda d: (get(d),)


def _accumulate(leaf: Tensor, g, hooked: Tensor) -> None:
    """``accumulate_grad(leaf, g)`` with the hooks of ``hooked`` (the caller's Tensor of an argument ``leaf``) run
    as eager backward runs them: its tensor hooks on ``g`` first, its post-accumulate hooks after."""
    if hooked._hooks:
        if g.__class__ is RowSparse:
            g = dense_gradient(g)
        for hook in hooked._hooks:
            result = hook(g)
            if result is not None:
                g = result
    accumulate_grad(leaf, g)
    run_post_accumulate_hooks(leaf, post_accumulate_hooks(hooked))


def _write_stamp(t: Tensor) -> int:
    """The stamp of the latest in-place write into ``t`` or its memory (-1 if none)."""
    return max(getattr(t, "_written", -1), memory_written(t.array))


def _leaf_state(t: Tensor) -> tuple:
    """What a trace reads of a captured leaf ``t`` once: whether it requires grad and its gradient hooks."""
    return t.requires_grad, tuple(t._hooks or ()), tuple(post_accumulate_hooks(t))


class Trace:
    """The parameters whose ``.grad`` a traced call read or set, and the ``.grad`` each had before.

    ``matches()`` tells whether a new call can reuse the trace: every ``.grad`` the trace read from the
    caller must again be present (or absent) as it was.
    """

    def __init__(self, graph: Graph):
        self.graph = graph
        self.before: dict = {}  # id(param) -> (param, its .grad before tracing)
        self.assumed: list = []  # (param, whether its .grad was None): the trace read the caller's .grad
        self.read: set = set()  # ids of the parameters in ``assumed``
        self.dropped: set = set()  # ids of parameters whose .grad the call set to None
        self.grad_inputs: list = []  # (param, Value): a gradient present before the call, read live
        self._checks = None  # what matches() compares about the optimizer updates the call made
        self.autocast = autocast.state()  # the casts ember.autocast put in the graph depend on it
        self.grad_enabled = thread_mode.grad_enabled  # what requires grad, and whether backward may run, depend on it
        self.modes: list = []  # (module, training): the modes of the modules the traced call read
        self.arguments: dict = {}  # Value id -> (index, the caller's Tensor) of arguments that require grad
        self.argument_ids: set = set()  # ids of the arguments' Values: an in-place op writes the caller's Tensor
        self.arg_assumed: list = []  # (index, whether its .grad was None): the trace read an argument's .grad
        self.arg_grad_inputs: list = []  # (index, Value): an argument's gradient present before the call, read live
        self.arg_hooks: list = []  # (index, _leaf_state): the arguments whose gradient hooks the trace ran
        self.optimizers: dict = {}  # id -> (optimizer, its groups_version): the call stepped its groups as they were
        self.watched: tuple = ((), (), global_hooks.keys(), dtypes.DEFAULT_FLOAT)  # see watch()
        self.watched_version = traced_state.version  # when the watched things were last found as they were
        self.constants: tuple = ()  # (Tensor, its write stamp): the Tensors the trace froze as constants (see freeze)
        self.constants_seen = -1  # grad_mode.last_write when they were last found unwritten
        self.written_constants: list = []  # those found written in place since: the next trace reads them live

    def touch(self, param: Tensor) -> None:
        if id(param) not in self.before:
            self.before[id(param)] = (param, param.grad)

    def grad_value(self, param: Tensor):
        """``param.grad`` as a Value of the graph (a live input when it is a concrete gradient)."""
        g = param.grad
        if g is None or g.symbolic:
            return g
        if g.__class__ is RowSparse:
            raise GraphError("tracing: a parameter already holds a sparse (RowSparse) gradient; clear it with "
                             "zero_grad() before calling the traced function")
        v = self.graph.input(f"grad{len(self.grad_inputs)}", g.array.shape, g.array.dtype, device_of(g.array))
        self.grad_inputs.append((param, v))
        return v

    def watch(self, modules) -> None:
        """Note what the traced call read that its calls do not check: each captured leaf's ``requires_grad`` and
        gradient hooks (a parameter frozen or hooked since), the hooks, the parameters, buffers and submodules
        (one replaced since) and the plain settings (``eps``, ``p``: one changed since) of the ``modules`` it
        called, the global module hooks, the default float dtype (of the constants and tensors the call made)."""
        version = traced_state.version
        leaves = [t for t, _ in self.graph.captured if t.node is None]
        self.watched = (tuple((t, _leaf_state(t)) for t in leaves),
                        tuple((m, m._hook_keys(), m._entries(), m._settings()) for m in modules),
                        global_hooks.keys(), dtypes.DEFAULT_FLOAT)
        self.watched_version = version

    def _watched_unchanged(self) -> bool:
        """Whether what ``watch`` noted is still so; when it is, the next call need not look again until
        ``traced_state`` changes."""
        version = traced_state.version
        leaves, modules, global_keys, default_float = self.watched
        if global_keys != global_hooks.keys() or default_float != dtypes.DEFAULT_FLOAT or \
                any(m._hook_keys() != keys or m._entries() != entries or m._settings() != settings
                    for m, keys, entries, settings in modules) or \
                any(_leaf_state(t) != state for t, state in leaves):
            return False
        self.watched_version = version
        return True

    def freeze(self, constants: list) -> None:
        """Note the concrete Tensors the trace froze as constants (captured from outside, not state): one written in
        place later (``c.add_(1)``, ``c[0] = 1``, a write into its memory through a view) makes the trace unfit."""
        self.constants = tuple((t, _write_stamp(t)) for t in constants)
        self.constants_seen = grad_mode.last_write

    def constants_unwritten(self) -> bool:
        """Whether no constant was written in place since the trace (compared only when some tensor was)."""
        for t, stamp in self.constants:
            if _write_stamp(t) != stamp:
                if not any(c is t for c in self.written_constants):
                    self.written_constants.append(t)
                return False
        self.constants_seen = grad_mode.last_write
        return True

    def matches(self, args: tuple) -> bool:
        if self.autocast != autocast.state() or self.grad_enabled != thread_mode.grad_enabled:
            return False
        if self.constants and self.constants_seen != grad_mode.last_write and not self.constants_unwritten():
            return False
        if self.watched_version != traced_state.version and not self._watched_unchanged():
            return False
        for index, was_none in self.arg_assumed:
            a = args[index]
            if a.node is not None or (a.grad is None) != was_none:  # (a non-leaf's .grad read warns)
                return False
        if self.arg_hooks and self.arguments_rehooked(args):
            return False
        for module, training in self.modes:
            if module.training != training:
                return False
        for param, was_none in self.assumed:
            if (param.grad is None) != was_none:
                return False
        for optimizer, version in self.optimizers.values():  # a group added: its parameters need update nodes
            if optimizer.groups_version != version:
                return False
        states, hypers = self.checks()
        try:
            for optimizer, params, expected in states:  # load_state_dict made new state dicts
                if any(map(is_not, map(optimizer.state.get, params), expected)):
                    return False
            for group, read_values, fixed, _ in hypers:  # the values are read live; the code depends on their forms
                if group is None:  # a reader that makes a dict
                    hyper = read_values()
                    hyper.pop("lr", None)
                    if hyper != fixed and hyper_form(tuple(hyper.items())) != hyper_form(tuple(fixed.items())):
                        return False
                else:
                    values = read_values(group)
                    if values != fixed and hyper_form(values) != hyper_form(fixed):
                        return False
        except KeyError:  # a hyper-parameter is gone
            return False
        return True

    def arguments_rehooked(self, args: tuple) -> bool:
        """Whether an argument whose gradient the trace passed through hooks has other hooks now (added or removed
        since, or another Tensor): the trace ran those it had as ops, as eager backward runs a tensor's hooks."""
        return any(_leaf_state(args[index]) != state for index, state in self.arg_hooks)

    def checks(self) -> tuple:
        """What ``matches`` compares about optimizers, ``(states, hypers)``: per optimizer ``(optimizer, params,
        their state dicts)``, per parameter group ``(group, reader, values, keys)`` (``group`` and ``keys`` None
        where ``reader()`` makes the dict itself)."""
        if self._checks is None:
            self._freeze_checks()
        return self._checks

    def _freeze_checks(self) -> None:
        """What ``matches`` compares, read once from the graph's ``update`` nodes: the state dicts bound into
        the code and, per parameter group, its hyper-parameters other than lr. An update made by an
        ``Optimizer`` carries a live hyper-parameter reader that names its optimizer."""
        params = {v.id: t for t, v in self.graph.captured}
        per_optimizer, hypers, seen = {}, [], set()
        for node in self.graph.nodes:
            live = node.attrs.get("live") if node.op is UPDATE or node.op is SPARSE_UPDATE else None
            optimizer = getattr(live, "optimizer", None)
            if optimizer is None or node.inputs[0].id not in params:
                continue
            per_optimizer.setdefault(id(optimizer), (optimizer, []))[1].append((params[node.inputs[0].id],
                                                                             node.attrs["state"]))
            if id(live) not in seen:
                seen.add(id(live))
                fixed = {k: v for k, v in node.attrs["hyper"].items() if k != "lr"}
                group = getattr(live, "group", None)
                now = live()
                if isinstance(group, dict) and all(k in group and group[k] is now[k] for k in fixed):
                    # the values are the group's own entries: compare those, without making the dict
                    if fixed:
                        hypers.append((group, _reader(list(fixed)), tuple(fixed.values()), tuple(fixed)))
                else:
                    hypers.append((None, live, fixed, None))
        states = [(optimizer, tuple(p for p, _ in pairs), tuple(state for _, state in pairs))
                  for optimizer, pairs in per_optimizer.values()]
        self._checks = (states, hypers)

    def observe(self, op, inputs: tuple, attrs: dict | None) -> None:
        """An effect op is being added to the graph: a ``drop_grad`` sets ``.grad`` to None for the rest of the
        traced call too (its node does it on every run)."""
        if op is DROP_GRAD:
            p = attrs["owner"]
            self.touch(p)
            self.dropped.add(id(p))
            p.grad = None
        elif op is UPDATE or op is SPARSE_UPDATE:
            optimizer = getattr(attrs.get("live"), "optimizer", None)
            version = getattr(optimizer, "groups_version", None)
            if version is not None and id(optimizer) not in self.optimizers:
                self.optimizers[id(optimizer)] = (optimizer, version)

    def backward(self, loss: Value, gradient=None, inputs=None) -> None:
        """``loss.backward()`` while tracing: gradients of every parameter captured so far (or of those among
        ``inputs``, and of the arguments among them), into ``.grad``."""
        graph = self.graph
        if loss.graph is not graph:
            raise GraphError(f"backward: %{loss.id} belongs to another graph")
        if gradient is None and loss.array.size != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for a single-element output, got "
                               f"shape {list(loss.array.shape)}; pass gradient=")
        params = [t for t, _ in graph.captured if t.requires_grad]
        args = [v for v in graph.inputs if v.id in self.arguments]
        if inputs is not None:
            params, args = self._among(inputs, params, args)
        grad_ys = None if gradient is None else [gradient]
        grads = graph.gradients([loss], [graph.capture(t) for t in params] + args, grad_ys, sparse=True)
        if inputs is None and (params or args or not loss.requires_grad) and all(g is None for g in grads):
            raise RuntimeError(f"backward: the loss ({type_str(loss.array.shape, loss.array.dtype)}) does not "
                               "require grad and has no recorded history: it depends on no parameter or argument "
                               "that requires grad, or was computed under no_grad")
        with graph.building():
            for v, g in zip(args, grads[len(params):]):
                if g is not None:
                    self._into_argument(v, g)
            for param, g in zip(params, grads):
                if g is None:
                    continue
                self.touch(param)
                caller_grad = self.before[id(param)][1]
                if param.grad is caller_grad and id(param) not in self.read | self.dropped:  # into the caller's
                    self.read.add(id(param))
                    self.assumed.append((param, caller_grad is None))
                previous = self.grad_value(param)  # the caller's gradient is read on every run
                if previous is not None and g.__class__ is RowSparse:  # a dense gradient plus rows: dense
                    g = dense_gradient(g)
                param.grad = previous
                _accumulate(param, g, param)
            if data_parallel_job():
                self._average(params, grads)

    def _average(self, params: list, grads: list) -> None:
        """In a data-parallel job, each dense ``.grad`` this backward reached, as accumulated, averaged over the
        ranks right here (eager ``DistributedDataParallel`` averages it as backward finishes it), so that what
        reads it before the update (``clip_grad_norm_``) and the ``.grad`` handed back read the average. The
        ``data_parallel`` pass leaves what derives from these alone. (Row-sparse gradients are left to that
        pass, which refuses them.)"""
        reached = [p for p, g in zip(params, grads) if g is not None and isinstance(p.grad, Value)]
        if reached:
            for p, mean in zip(reached, average([p.grad for p in reached])):
                p.grad = mean
                self.graph.averaged_grads.add(mean.id)

    def _among(self, inputs, params: list, args: list) -> tuple:
        """The parameters and arguments that ``backward(inputs=...)`` names."""
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        wanted = {id(t) for t in inputs}
        args = [v for v in args if id(v) in wanted]
        named = {id(v) for v in args}
        other = next((t for t in inputs if getattr(t, "symbolic", False) and id(t) not in named), None)
        if other is not None:
            raise GraphError(f"backward: inputs= names {other!r}, which is neither an argument of the traced call "
                             "nor a parameter; a traced backward fills the .grad of those alone")
        return [t for t in params if id(t) in wanted], args

    def _into_argument(self, v: Value, g) -> None:
        """Add ``g`` into the ``.grad`` of the argument ``v``, the caller's gradient read live on the first."""
        index, caller = self.arguments[v.id]
        if caller.node is not None:
            raise GraphError(f"backward: argument {index} ({type_str(caller.array.shape, caller.array.dtype)}) "
                             "requires grad and is not a leaf: eager backward would carry its gradient on to the "
                             "tensors it was computed from, which a traced call cannot reach; pass a leaf "
                             "(x.detach().requires_grad_()), or take its gradient with ember.grad")
        if index not in {i for i, _ in self.arg_assumed}:
            self.arg_assumed.append((index, caller.grad is None))
            self.arg_hooks.append((index, _leaf_state(caller)))
            v.grad = None if caller.grad is None else self._argument_grad(index, v, caller)
        if g.__class__ is RowSparse:
            g = dense_gradient(g)
        _accumulate(v, g, caller)

    def _argument_grad(self, index: int, v: Value, caller: Tensor) -> Value:
        """The caller's ``.grad`` of argument ``index`` as a live input (of the argument's shape, unknown
        dimensions included, where it has the caller's)."""
        g = caller.grad
        if g.__class__ is RowSparse:
            raise GraphError(f"backward: argument {index} ({type_str(caller.array.shape, caller.array.dtype)}) "
                             f"holds a sparse (RowSparse) gradient of shape {list(g.shape)}; set its .grad to "
                             "None before calling the traced function")
        shape = v.array.shape if g.array.shape == caller.array.shape else g.array.shape
        grad = self.graph.input(f"argrad{index}", shape, g.array.dtype, device_of(g.array))
        self.arg_grad_inputs.append((index, grad))
        return grad

    def restore(self) -> None:
        """Put back every touched ``.grad`` as it was before tracing."""
        for param, grad in self.before.values():
            param.grad = grad

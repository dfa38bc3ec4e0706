"""TF-1 graphs and tensors: a ``tf.Tensor`` is a recipe (an Ember op function and its arguments) that a
Session replays on symbolic Values. Each recipe has a ``kind`` (TF's op type); the Session lowers a recipe
through the table ``session.LOWERINGS`` keyed by that kind."""

from __future__ import annotations

import builtins
import contextlib
import operator
import re
import types

import numpy as np

import ember
from ember.backend.dtypes import as_dtype
from ember.backend.dtypes import bfloat16 as _bfloat16
from ember.graph.ir import Graph as _IRGraph
from ember.ops.registry import ShapeError
from ember.ops.sized import size_along

float16, float32, float64 = (np.dtype(n) for n in ("float16", "float32", "float64"))
bfloat16 = np.dtype(_bfloat16)  # ml_dtypes' (tf.bfloat16)
int8, int16, int32, int64, uint8 = (np.dtype(n) for n in ("int8", "int16", "int32", "int64", "uint8"))
bool = np.dtype("bool")  # noqa: A001  (tf.bool)
_DTYPE_NAMES = {"float": float32, "double": float64, "int": int32, "half": float16}


def as_tf_dtype(dtype) -> np.dtype:
    """A TF-1 dtype (``tf.float32``, ``"float"``, a NumPy dtype) as a NumPy dtype."""
    if isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype]
    return as_dtype(dtype)


class TensorShape(tuple):
    """A static shape: a tuple of ints and None (unknown dimensions)."""

    def as_list(self) -> list:
        return list(self)

    @property
    def ndims(self) -> int:
        return len(self)


class Graph:
    """A TF-1 graph: the variables, the names and the scopes of the recipes built under it."""

    def __init__(self):
        self.variables: list = []
        self.scopes: list[str] = []  # the full name scopes open, outermost first: the last prefixes op names
        self.var_scopes: list[str] = []  # variable scopes: prefixes of get_variable names
        self.named: dict = {}  # get_variable names -> variables
        self.by_name: dict = {}  # op names -> their ops (a tensor stands for the op making it: its first output)
        self.collections: dict[str, list] = {}
        self.reuse: list = [False]
        self.initializers: list = [None]  # each open variable scope's default initializer for get_variable
        self.regularizers: list = [None]  # and its default regularizer
        self.control: list[list] = []  # the control_dependencies blocks open, outermost first
        self.guards: tuple = ()  # the tf.cond branches being built, outermost first: (predicate, branch taken on)
        self.iterators: list = []  # tf.data iterators made in this graph (a Session fills their get_next tensors)
        self.names: dict[str, int] = {}  # names in use (lower case) -> times asked for
        self.default_scopes: dict[str, int] = {}  # variable scopes opened by default_name -> times opened
        self.host_functions = False  # whether a tf.py_func was made here (a Session may compute one between runs)
        self.seed = None  # the graph-level seed (tf.set_random_seed)

    @contextlib.contextmanager
    def as_default(self):
        """Make this the graph new tensors belong to inside the ``with`` block."""
        _graphs.append(self)
        try:
            yield self
        finally:
            _graphs.pop()

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """``name`` under the open name scope, made unique as TF-1 does: a name in use (letter case ignored)
        gets the first free suffix ``_1``, ``_2``... (a suffixed name taken explicitly is skipped)."""
        full = f"{self.scopes[-1]}/{name}" if self.scopes and self.scopes[-1] else name
        key = full.lower()
        count = self.names.get(key, 0)
        if mark_as_used:
            self.names[key] = count + 1
        if count == 0:
            return full
        base = key
        while key in self.names:
            key = f"{base}_{count}"
            count += 1
        if mark_as_used:
            self.names[key] = 1
        return f"{full}_{count - 1}"

    def get_tensor_by_name(self, name: str) -> Tensor:
        """The tensor called ``name``: ``"<op name>:<output index>"``, as TF-1 names tensors (``"x:0"``)."""
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def get_operation_by_name(self, name: str) -> Operation:
        """The op called ``name`` (a tensor's ``t.op.name``, or an op's such as a training op's)."""
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_operations(self) -> list:
        """The graph's ops, in the order they were made."""
        return [t.op for t in self.by_name.values()]

    def as_graph_element(self, obj, allow_tensor: bool = True, allow_operation: bool = True):
        """The tensor or op ``obj`` names (``"x:0"`` a tensor, ``"x"`` an op), or ``obj`` itself when it is one
        of this graph's; a name of the other kind, or of nothing in the graph, is an error, as in TF-1."""
        if isinstance(obj, Tensor):
            if obj.graph is not self:
                raise ValueError(f"Tensor '{obj.name}' is not an element of this graph.")
            if isinstance(obj, Operation) and not allow_operation:
                raise ValueError(f"Can not convert the Operation '{obj.name}' to a Tensor.")
            return obj
        if not isinstance(obj, str):
            raise TypeError(f"Can not convert a {type(obj).__name__} into a Tensor or Operation: use tf tensors, "
                            "ops or their names")
        kinds = " or ".join(k for k, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        op_name, colon, index = obj.rpartition(":")
        if colon:
            if not allow_tensor:
                raise ValueError(f"Name '{obj}' appears to refer to a Tensor, not a {kinds}.")
            if not index.isdigit():
                raise ValueError(f"The name '{obj}' looks like a Tensor name, but is not a valid one. Tensor names "
                                 'must be of the form "<op_name>:<output_index>".')
            found = self.by_name.get(op_name)
            if found is None:
                raise KeyError(f"The name '{obj}' refers to a Tensor which does not exist. The operation, "
                               f"'{op_name}', does not exist in the graph.")
            outputs = found.op.outputs
            if int(index) >= len(outputs):
                raise KeyError(f"The name '{obj}' refers to a Tensor which does not exist. The operation, "
                               f"'{op_name}', exists but only has {len(outputs)} outputs.")
            return outputs[int(index)]
        found = self.by_name.get(obj)
        if not allow_operation:
            what = "refers to an Operation" if found is not None else "looks like an (invalid) Operation name"
            raise ValueError(f"The name '{obj}' {what}, not a {kinds}. Tensor names must be of the form "
                             '"<op_name>:<output_index>".')
        if found is None:
            raise KeyError(f"The name '{obj}' refers to an Operation not in the graph.")
        return found.op

    def get_collection(self, name: str, scope: str | None = None) -> list:
        """``tf.get_collection(name, scope)`` of this graph, whichever graph is the default."""
        with self.as_default():
            return get_collection(name, scope)

    def add_to_collection(self, name: str, value) -> None:
        """``tf.add_to_collection(name, value)`` into this graph."""
        self.collections.setdefault(name, []).append(value)

    def gradient_override_map(self, op_type_map: dict):
        """TF-1 swaps the gradient functions of op types inside the block; Ember's graph gradients come from its
        own op rules, so this is refused with what to write instead."""
        from ember.compat.tf._missing import INSTEAD

        raise NotImplementedError(f"Graph.gradient_override_map({op_type_map!r}): use {INSTEAD['RegisterGradient']}")

    def finalize(self) -> None:
        """Accepted for compatibility; Ember's graphs are not frozen."""


_graphs: list[Graph] = [Graph()]


def get_default_graph() -> Graph:
    """The graph new tensors are added to."""
    return _graphs[-1]


default_sessions: list = []  # the Sessions entered with ``with`` or ``as_default()``, innermost last


def default_session():
    """The innermost Session entered with ``with``, or ``as_default()``."""
    if not default_sessions:
        raise RuntimeError("no default session: call eval(session=sess) or use `with tf.Session() as sess:`")
    return default_sessions[-1]


def reset_default_graph() -> None:
    """Start a fresh default graph; inside a ``graph.as_default()`` block (which would stay the default) it is an
    error, as in TF-1."""
    if len(_graphs) > 1:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared "
                             "graph, exit the nesting and create a new graph.")
    _graphs[0] = Graph()


def set_random_seed(seed: int) -> None:
    """Set the default graph's seed, which fixes the sequences of the random ops made in it from now on (see
    ``op_seeds``), and seed Ember's generator, which the other random ops draw from."""
    get_default_graph().seed = int(seed)
    ember.manual_seed(seed)


DEFAULT_GRAPH_SEED = 87654321  # TF-1's graph seed for an op seed given without one


def op_seeds(seed) -> tuple | None:
    """TF-1's (graph seed, op seed) for a random op made now with op seed ``seed``, or None for an op drawing
    from Ember's generator (neither seed set). With a graph seed and no op seed, the op seed is the count of
    ops made so far in the graph, so each op has a sequence of its own that a new run of the script repeats."""
    graph = get_default_graph()
    if graph.seed is None:
        return None if seed is None else (DEFAULT_GRAPH_SEED, int(seed))
    return graph.seed, len(graph.by_name) if seed is None else int(seed)


def _scope_name(graph: Graph, name: str | None) -> str:
    """The full name scope ``name`` opens: TF-1's rules (a name ending in "/" is taken as it is, an empty one is
    the top level, any other is made unique, so a second ``name_scope("a")`` is "a_1")."""
    if not name:
        return ""
    if name.endswith("/"):
        return name[:-1]
    return graph.unique_name(name)


@contextlib.contextmanager
def _open_scope(graph: Graph, full: str):
    graph.scopes.append(full)
    try:
        yield
    finally:
        graph.scopes.pop()


@contextlib.contextmanager
def name_scope(name: str | None, default_name: str | None = None, values=None):
    """Prefix the names of the ops created inside the block with the scope's name, made unique as in TF-1
    (``a``, then ``a_1``...); yields that prefix with its "/" (``"a/"``), which ``name_scope`` and an op's
    ``name=`` take back as it is. ``None`` with no ``default_name``, or "", is the top level."""
    graph = get_default_graph()
    full = _scope_name(graph, default_name if name is None else name)
    with _open_scope(graph, full):
        yield f"{full}/" if full else ""


@contextlib.contextmanager
def variable_scope(name_or_scope, default_name: str | None = None, values=None, initializer=None, regularizer=None,
                   caching_device=None, partitioner=None, custom_getter=None, reuse=None, dtype=None,
                   use_resource=None, constraint=None, auxiliary_name_scope: bool = True):
    """A scope that prefixes ``get_variable`` names and opens a name scope of that name (made unique, as
    ``name_scope``'s: ops of a second ``variable_scope("D")`` are named ``D_1/...``, its variables still
    ``D/...``); with ``reuse=True`` (or ``tf.AUTO_REUSE``) ``get_variable`` returns existing variables (in inner
    scopes too, whatever their own ``reuse``), and an
    ``initializer`` is the default of its ``get_variable`` calls (and of its inner scopes'), as is a
    ``regularizer`` (TF-1 penalizes every variable made in the scope with it, a layer's bias too). Given a scope
    object, its variables' prefix, its name scope, its initializer and regularizer are opened again as they were.
    The arguments are in TF-1's order; ``caching_device`` and ``use_resource`` change nothing here, and a
    ``partitioner``, ``custom_getter``, ``constraint``, non-float32 ``dtype`` or ``auxiliary_name_scope=False``
    is refused."""
    refused = {"partitioner": partitioner, "custom_getter": custom_getter, "constraint": constraint,
               "auxiliary_name_scope": None if auxiliary_name_scope else False,
               "dtype": None if dtype is None or as_tf_dtype(dtype) == np.float32 else dtype}
    for arg, value in refused.items():
        if value is not None:
            raise ValueError(f"tf.variable_scope: {arg}={value!r} is not supported; give it to each get_variable "
                             "call where it has that argument, or leave it out")
    graph = get_default_graph()
    name = getattr(name_or_scope, "name", name_or_scope)
    names = name
    if not name and default_name:  # a fresh scope each time, as TF-1: block, block_1, block_2...
        full = "/".join(graph.var_scopes + [default_name])
        count = graph.default_scopes.get(full, 0)
        graph.default_scopes[full] = count + 1
        name = default_name if count == 0 else f"{default_name}_{count}"
        names = default_name
    # a scope object is opened by its full name wherever it is (the top level's, "", too); a name is relative
    reopened = name_or_scope is not None and not isinstance(name_or_scope, str)
    original = getattr(name_or_scope, "original_name_scope", None)
    full = original.rstrip("/") if original is not None else _scope_name(graph, names or "scope")
    outer = list(graph.var_scopes)
    if reopened:
        graph.var_scopes[:] = [name] if name else []
    else:
        graph.var_scopes.append(name or "scope")
    # reuse is inherited: False is None here, as TF-1 allows no scope that turns an outer reuse off; a scope
    # object opened again keeps its own reuse unless one is given
    graph.reuse.append(reuse or getattr(name_or_scope, "reuse", graph.reuse[-1]))
    if initializer is None:
        initializer = getattr(name_or_scope, "initializer", graph.initializers[-1])
    graph.initializers.append(initializer)
    if regularizer is None:
        regularizer = getattr(name_or_scope, "regularizer", graph.regularizers[-1])
    graph.regularizers.append(regularizer)
    try:
        with _open_scope(graph, full):
            yield get_variable_scope()
    finally:
        graph.var_scopes[:] = outer
        graph.reuse.pop()
        graph.initializers.pop()
        graph.regularizers.pop()


AUTO_REUSE = "auto_reuse"


def get_variable_scope() -> types.SimpleNamespace:
    """The variable scope open now: its ``name`` ('' at the top), ``reuse``, ``initializer``, ``regularizer``,
    ``original_name_scope`` (the name scope open now, with its "/"), ``reuse_variables()``, which turns reuse on
    for the rest of that scope (the top level's: for the rest of the graph), and ``set_initializer(init)`` and
    ``set_regularizer(reg)``, which make them its defaults for the rest of it."""
    graph = get_default_graph()
    level = len(graph.reuse) - 1  # this scope's entry, whatever scopes are open when reuse_variables is called
    name_scope = f"{graph.scopes[-1]}/" if graph.scopes and graph.scopes[-1] else ""
    return types.SimpleNamespace(name="/".join(graph.var_scopes), reuse=graph.reuse[-1],
                                 initializer=graph.initializers[-1], regularizer=graph.regularizers[-1],
                                 original_name_scope=name_scope,
                                 reuse_variables=lambda: graph.reuse.__setitem__(level, True),
                                 set_initializer=lambda init: graph.initializers.__setitem__(level, init),
                                 set_regularizer=lambda reg: graph.regularizers.__setitem__(level, reg))


class Tensor:
    """A symbolic TF-1 tensor: ``fn(*args, **kwargs)`` over other tensors, replayed when a Session runs it."""

    __array_priority__ = 1000
    kind = "Op"  # TF's op type, the key of the Session's lowering table

    value_index = 0  # which output of its op this tensor is

    def __init__(self, fn, args=(), kwargs=None, name: str = "op", shape=None, dtype=None, kind: str | None = None,
                 graph: Graph | None = None, output_of: tuple | None = None):
        self.graph = graph if graph is not None else get_default_graph()
        if self.graph.control:  # built inside tf.control_dependencies: those run first
            self._control = tuple(t for block in self.graph.control for t in block)
        if self.graph.guards:  # built inside a branch of tf.cond: its effects happen only where it is taken
            self._guards = self.graph.guards
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or {}
        if output_of is None:  # (a name ending in "/", such as a name_scope's, is taken as it is, as in TF-1)
            self._op_name = name[:-1] if name.endswith("/") else self.graph.unique_name(name)
            self.graph.by_name[self._op_name] = self
        else:  # output i of the op that makes ``first`` (tf.split's parts: "split:0", "split:1"...)
            first, self.value_index = output_of
            self._op_name = first._op_name
            self._op = first.op
            self._op.args += (self,)
        self._shape = shape
        self.dtype = dtype
        if kind is not None:
            self.kind = kind

    @property
    def name(self) -> str:
        """TF's tensor name: its op's name and its output index, ``"scope/op_name:0"``."""
        return f"{self._op_name}:{self.value_index}"

    @property
    def shape(self) -> TensorShape | None:
        """The static shape (None dimensions unknown until fed), or None when even the rank is unknown."""
        return None if self._shape is None else TensorShape(self._shape)

    def get_shape(self) -> TensorShape | None:
        return self.shape

    @property
    def device(self) -> str:
        """The device the op was placed on: "" (unplaced, as TF-1's default; the Session places everything)."""
        return ""

    def consumers(self) -> list:
        """The ops of the graph that take this tensor as an input, in the order they were made."""
        return [t.op for t in self.graph.by_name.values() if any(x is self for x in t.op.inputs)]

    @property
    def inputs(self) -> tuple:
        """The tensors the op making this tensor reads (``op.inputs``), in order."""
        return tuple(tensors_in((self.args, self.kwargs)))

    @property
    def control_inputs(self) -> list:
        """The ops that run before this one (built inside ``tf.control_dependencies``)."""
        return [t if isinstance(t, Operation) else t.op for t in self.__dict__.get("_control", ())]

    def set_shape(self, shape) -> None:
        """Make the static shape more precise (a ``py_func`` result's): merged with what is known, a conflict
        is an error, as in TF-1."""
        shape = tuple(None if d is None or d == -1 else int(d) for d in shape)
        if self._shape is not None:
            if len(self._shape) != len(shape) or any(a is not None and b is not None and a != b
                                                     for a, b in zip(self._shape, shape)):
                raise ValueError(f"Tensor '{self.name}': shape {list(self._shape)} and {list(shape)} are not "
                                 "compatible")
            shape = tuple(a if a is not None else b for a, b in zip(self._shape, shape))
        self._shape = shape

    @property
    def op(self) -> Tensor:
        """The op that makes this tensor: ``name`` (without ":0"), ``type``, ``outputs`` and ``run``; a Session
        running it computes the tensor for its effects and gives None, as TF-1's ``sess.run(t.op)``."""
        if isinstance(self, Operation):
            return self
        found = self.__dict__.get("_op")
        if found is None:
            found = self._op = _OpOf(self)
        return found

    @property
    def type(self) -> str:
        return self.kind

    def eval(self, feed_dict=None, session=None):
        """``session.run(self, feed_dict)`` with the default session."""
        return (session or default_session()).run(self, feed_dict)

    def run(self, feed_dict=None, session=None) -> None:
        """Run this op with the default session (``Operation.run``); returns nothing, as in TF-1."""
        self.eval(feed_dict, session)

    def __repr__(self) -> str:
        shape = "<unknown>" if self._shape is None else list(self._shape)
        return f"<tf.Tensor '{self.name}' shape={shape} dtype={self.dtype}>"

    def __bool__(self) -> bool:
        raise TypeError(f"using tf.Tensor '{self.name}' as a Python bool is not allowed in graph mode")

    def __iter__(self):
        raise TypeError(f"tf.Tensor '{self.name}' is not iterable in graph mode; use tf.unstack")

    def __int__(self) -> int:
        """A size ``tf.shape(x)[i]`` that ``x``'s static shape holds (``tf.one_hot(y, tf.shape(logits)[1])``);
        any other tensor has no value while the graph is built: a TypeError saying so."""
        if self.kind == "ShapeDim":
            shape = self.source._shape
            if shape is not None and -len(shape) <= self.axis < len(shape) and shape[self.axis] is not None:
                return int(shape[self.axis])
        raise TypeError(f"tf.Tensor '{self.name}' has no value while the graph is built (it is computed when the "
                        "Session runs) and cannot be used as a Python int here; pass an int")

    __hash__ = object.__hash__

    def __getitem__(self, index):
        if self.kind == "Shape" and isinstance(index, int):  # tf.shape(x)[i]: a size known when the Session runs
            source, dtype = self.source, self.dtype
            dim = op(lambda x: ember.tensor(np.array(x.shape[index], dtype)), (source,), name="strided_slice",
                     kind="ShapeDim")
            dim.source, dim.axis = source, index
            dim._shape, dim.dtype = (), dtype  # a scalar of the shape's type (the recipe cannot be probed)
            dim.size_recipe = ((source,), lambda value: size_along(value, index))
            return dim
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(part, Tensor) for part in parts):  # x[i] with a scalar tensor i (a while_loop's counter)
            for part in parts:
                if isinstance(part, Tensor) and (part.dtype is not None and part.dtype.kind not in "iu"
                                                 or part._shape is not None and len(part._shape)):
                    raise TypeError(f"tf.Tensor.__getitem__: a tensor index must be an integer scalar, got "
                                    f"'{part.name}' of shape {part.shape} and dtype {part.dtype}")
            return op(lambda x, *at: _index_with_tensors(x, parts, at), (self, *(p for p in parts if
                                                                               isinstance(p, Tensor))),
                      name="strided_slice")
        return op(lambda x: x[index], (self,), name="strided_slice")


def _index_with_tensors(x, parts: tuple, values: tuple):
    """``x[parts]`` where some parts are scalar integer tensors (``values``, in order): the rest of the index
    first, each tensor's axis kept as ``:``, then each of those axes taken at its value, the last axis first
    so that the earlier ones keep their places."""
    if any(not isinstance(p, (Tensor, int, np.integer, builtins.slice)) and p is not None and p is not Ellipsis
           for p in parts):
        raise TypeError(f"tf.Tensor.__getitem__: a tensor index goes with integers, slices, ... and tf.newaxis only, "
                        f"got the index {parts}")
    consumed = sum(p is not None and p is not Ellipsis for p in parts)
    axes, axis = [], 0
    for p in parts:
        if p is Ellipsis:
            axis += x.ndim - consumed
        elif isinstance(p, Tensor):
            axes.append(axis)
        if p is None or isinstance(p, (Tensor, builtins.slice)):
            axis += 1
    out = x[tuple(builtins.slice(None) if isinstance(p, Tensor) else p for p in parts)]
    for at, value in reversed(list(zip(axes, values))):
        if value.ndim:
            raise TypeError(f"tf.Tensor.__getitem__: a tensor index must be an integer scalar, got shape "
                            f"{list(value.shape)}")
        out = ember.take(out, value, axis=at)
    return out


def truediv(x, y):
    """TF-1's ``x / y``: integers are divided as floats, int8/int16/uint8 as float32, wider ones as float64."""
    if x.dtype.kind in "iu" and y.dtype.kind in "iu":
        wide = max(x.dtype.itemsize, y.dtype.itemsize) > 2
        x, y = ember.cast(x, float64 if wide else float32), ember.cast(y, float64 if wide else float32)
    return ember.div(x, y)


def size_recipe(t):
    """(source tensors, ``resolve(*their values)``) for a size known when the Session runs: ``tf.shape(x)[i]``,
    an int, or ``+ - * //`` of such (``tf.shape(x)[1] * 2``); None for anything else. ``resolve`` gives an int,
    or, where the size is unknown while the graph is built, an ``UnknownSize`` read from the value when it runs."""
    if isinstance(t, (int, np.integer)) and not isinstance(t, (builtins.bool, np.bool_)):
        return (), lambda: int(t)
    return getattr(t, "size_recipe", None) if isinstance(t, Tensor) else None


_SIZE_ARITHMETIC = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "floordiv": operator.floordiv}


def _sized(out: Tensor, name: str, left, right) -> Tensor:
    """``out`` (``left <name> right``) given the size recipe of the int arithmetic of two sizes, where both are."""
    a, b = size_recipe(left), size_recipe(right)
    if name in _SIZE_ARITHMETIC and a is not None and b is not None and (a[0] or b[0]):
        count, python = len(a[0]), _SIZE_ARITHMETIC[name]
        out.size_recipe = (a[0] + b[0], lambda *values: python(a[1](*values[:count]), b[1](*values[count:])))
    return out


def _operator(fn, name):
    kind = "FloorDiv" if name == "floordiv" else None  # (no gradient: see NOT_DIFFERENTIABLE)

    def method(self, other):
        return _sized(op(fn, (self, as_operand(other, self)), name=name, kind=kind), name, self, other)

    def reflected(self, other):
        return _sized(op(fn, (as_operand(other, self), self), name=name, kind=kind), name, other, self)

    return method, reflected


for _name, _fn in {"add": ember.add, "sub": ember.sub, "mul": ember.mul, "truediv": truediv,
                   "floordiv": ember.floor_divide, "mod": ember.remainder, "pow": ember.power,
                   "matmul": ember.matmul}.items():
    _method, _reflected = _operator(_fn, _name)
    setattr(Tensor, f"__{_name}__", _method)
    setattr(Tensor, f"__r{_name}__", _reflected)
for _name, _fn in {"lt": ember.lt, "le": ember.le, "gt": ember.gt, "ge": ember.ge, "and": ember.bitwise_and,
                   "or": ember.bitwise_or}.items():
    setattr(Tensor, f"__{_name}__", _operator(_fn, _name)[0])
Tensor.__neg__ = lambda self: op(ember.neg, (self,), name="neg")
Tensor.__abs__ = lambda self: op(ember.abs, (self,), name="abs")
Tensor.__invert__ = lambda self: op(ember.invert, (self,), name="LogicalNot")


class Operation(Tensor):
    """A tensor run for its effect (training step, initializer, group); fetching it gives None. Its ``name``
    is the op's, without an output index, as TF-1's ``Operation.name``."""

    kind = "NoOp"

    @property
    def name(self) -> str:
        return self._op_name

    @property
    def outputs(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"<tf.Operation '{self.name}' type={self.type}>"


class _OpOf(Operation):
    """``t.op`` for a tensor ``t`` that has a value: a group of its op's outputs, named and typed as ``t``."""

    def __init__(self, tensor: Tensor):
        self.graph, self.fn, self.args, self.kwargs = tensor.graph, None, (tensor,), {}
        self._op_name, self._shape, self.dtype = tensor._op_name, None, None

    @property
    def type(self) -> str:
        return self.args[0].kind

    @property
    def outputs(self) -> list:
        return list(self.args)

    @property
    def inputs(self) -> tuple:
        return self.args[0].inputs

    @property
    def control_inputs(self) -> list:
        return self.args[0].control_inputs

    def values(self) -> tuple:
        """The op's outputs, as a tuple."""
        return tuple(self.args)


def tensors_in(obj):
    """The tf Tensors in ``obj`` (a tensor, or nested lists, tuples and dicts of them)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from tensors_in(item)


def substitute(obj, fn):
    """``obj`` with every tf Tensor ``t`` in it replaced by ``fn(t)``."""
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, list):
        return [substitute(o, fn) for o in obj]
    if isinstance(obj, tuple):
        return tuple(substitute(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: substitute(o, fn) for k, o in obj.items()}
    return obj


def _probe(fn, args, kwargs, rank: int | None = None):
    """Run ``fn`` on Values typed like ``args``' static shapes (unknown dimensions stay unknown); ``rank``
    stands in for the shape of an input whose rank is unknown (that many unknown dimensions)."""
    graph = _IRGraph()

    def value(t):
        return graph.input(t.name, (None,) * rank if t._shape is None else t._shape, t.dtype)

    with graph.building():
        out = fn(*substitute(args, value), **substitute(kwargs, value))
    if not isinstance(out, ember.Tensor):
        out = ember.as_tensor(out)
    return tuple(out.shape), out.dtype


def _probe_dtype(fn, args, kwargs):
    """The dtype of ``fn(*args, **kwargs)`` where an input's rank is unknown (``tf.placeholder(tf.float32)``):
    probed with such inputs at ranks 0 to 4 in turn (a cast or a comparison has one result dtype at any
    rank); None where no rank fits."""
    for rank in range(5):
        try:
            return _probe(fn, args, kwargs, rank)[1]
        except Exception:  # noqa: BLE001  (this rank does not fit the op: try the next)
            continue
    return None


def graph_of(name: str, inputs) -> Graph:
    """The graph an op on ``inputs`` belongs to: theirs (TF-1 builds an op in its inputs' graph), or the
    default one for an op without inputs; inputs from two graphs are an error, as in TF-1."""
    graphs = {id(t.graph): t for t in inputs}
    if len(graphs) > 1:
        first, second = list(graphs.values())[:2]
        raise ValueError(
            f"{name}: tensors '{first.name}' and '{second.name}' must be from the same graph; build each graph's "
            "ops inside its own `with graph.as_default():` block"
        )
    return inputs[0].graph if inputs else get_default_graph()


def op(fn, args, kwargs=None, name: str = "op", kind: str | None = None, like: Tensor | None = None,
       output_of: tuple | None = None) -> Tensor:
    """A new tensor for ``fn(*args, **kwargs)``; its static shape and dtype are found by running ``fn`` on
    symbolic Values (the IR's shape rules, unknown dimensions included), so shape errors surface here, at
    graph-building time. Where a rule needs a size that is unknown, the static shape is left unknown, or is
    ``like``'s when given (a recipe whose result has its input's shape but cannot be probed: random draws).
    ``output_of=(first, i)`` makes the tensor output ``i`` of ``first``'s op (``"split:1"``) instead of an op
    of its own."""
    kwargs = kwargs or {}
    inputs = list(tensors_in(args)) + list(tensors_in(kwargs))
    graph = graph_of(name, inputs)
    shape = dtype = None
    if all(t._shape is not None and t.dtype is not None for t in inputs):
        known = all(d is not None for t in inputs for d in t._shape)
        try:
            shape, dtype = _probe(fn, args, kwargs)
        except (ValueError, TypeError, IndexError) as exc:
            if known or isinstance(exc, ShapeError):  # sizes known to conflict: an error, as in TensorFlow
                raise type(exc)(f"{name}: {exc}") from None
            shape = dtype = None
    if shape is None and like is not None:
        shape, dtype = like._shape, like.dtype
    if dtype is None and any(t._shape is None for t in inputs) and all(t.dtype is not None for t in inputs):
        dtype = _probe_dtype(fn, args, kwargs)
    if dtype is None:  # not probed: the first floating input's (a loss of int labels on logits), else the first's
        known = [t.dtype for t in inputs if t.dtype is not None]
        dtype = next((d for d in known if d.kind in "fc" or d == _bfloat16), known[0] if known else None)
    return Tensor(fn, tuple(args), kwargs, name=name, shape=shape, dtype=dtype, kind=kind, graph=graph,
                  output_of=output_of)


def outputs(fns, args, name: str) -> list:
    """The tensors ``fn(*args)`` for each of ``fns``, as the outputs of one op named ``name`` (TF's
    multi-output ops: ``tf.split``'s parts are ``split:0``, ``split:1``...)."""
    out: list = []
    for i, fn in enumerate(fns):
        out.append(op(fn, args, name=name, output_of=(out[0], i) if out else None))
    return out


def placeholder(dtype, shape=None, name: str = "Placeholder") -> Tensor:
    """An input fed at ``Session.run``; ``None`` dimensions (or ``shape=None``) accept any size."""
    shape = None if shape is None else tuple(None if d is None or d == -1 else int(d) for d in shape)
    return Tensor(None, name=name, shape=shape, dtype=as_tf_dtype(dtype), kind="Placeholder")


def placeholder_with_default(input, shape, name: str = "PlaceholderWithDefault") -> Tensor:
    """A placeholder that takes ``input``'s value when it is not fed. ``shape`` (None dimensions; None itself:
    any rank) is its static shape, which a fed value must fit and ``input``'s must be compatible with."""
    default = as_tf(input)
    result = op(lambda x: x, (default,), name=name)
    declared = None if shape is None else tuple(None if d is None or d == -1 else int(d) for d in shape)
    if declared is not None and default._shape is not None and (
            len(declared) != len(default._shape)
            or any(a is not None and b is not None and a != b for a, b in zip(declared, default._shape))):
        raise ValueError(f"tf.placeholder_with_default: the default '{default.name}' of shape "
                         f"{list(default._shape)} does not fit the shape {list(declared)}")
    result._shape = declared
    return result


def constant_dtype(value) -> np.dtype:
    """The dtype TF-1 gives ``value`` without a ``dtype``: a NumPy array's or scalar's own; for Python data,
    float32 for floats, int32 for ints (int64 for one outside int32's range), bool for bools."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return np.dtype(np.float32)
    if array.dtype.kind in "iu":
        info = np.iinfo(np.int32)
        fits = array.size == 0 or (info.min <= array.min() and array.max() <= info.max)
        return np.dtype(np.int32 if fits else np.int64)
    return array.dtype


def _python_floats_to_ints(value, dtype: np.dtype) -> bool:
    """Whether ``value`` is Python data holding a float that is not a whole number, asked for an integer
    ``dtype`` (TF-1 refuses it; a NumPy array is cast)."""
    if dtype.kind not in "iub" or isinstance(value, (np.ndarray, np.generic)):
        return False
    array = np.asarray(value)
    return array.dtype.kind == "f" and (array != np.trunc(array)).any().item()


def constant(value, dtype=None, shape=None, name: str = "Const") -> Tensor:
    """A fixed value; without ``dtype``, TF-1's (``constant_dtype``): a NumPy array keeps its dtype (float64
    stays float64), Python floats become float32 and Python ints int32."""
    if dtype is not None:
        dtype = as_tf_dtype(dtype)
        if _python_floats_to_ints(value, dtype):
            raise TypeError(f"tf.constant: expected {dtype}, got {value!r}, which holds floats that are not whole "
                            "numbers")
    array = np.asarray(value, dtype=dtype if dtype is not None else constant_dtype(value))
    if array.dtype.kind == "U":  # TF-1's tf.string: bytes (a Session run gives b'Hello')
        array = np.char.encode(array, "utf-8")
    elif array.dtype.kind == "O":  # (None, or a list holding None: no tensor TF-1 can make)
        raise TypeError(f"tf.constant: {value!r} is not numeric or string data (dtype {array.dtype})")
    if shape is not None:
        array = filled_to_shape("tf.constant", array, shape)
    array.flags.writeable = False
    t = ember.Tensor._make(array, None)
    out = Tensor(lambda: t, name=name, shape=array.shape, dtype=array.dtype)
    out.static = array  # (its value while the graph is built, as TF's constant_value finds it)
    return out


def filled_to_shape(what: str, array: np.ndarray, shape) -> np.ndarray:
    """``array``'s elements in row-major order laid out in ``shape``, the last one repeated for the elements it
    lacks (a scalar fills the shape), as TF-1's ``tf.constant`` and ``constant_initializer``: ``[1, 2, 3]`` in
    shape (2, 3) is ``[[1, 2, 3], [3, 3, 3]]``, not the broadcast rows. More elements than the shape holds, or
    none for a non-empty shape, are refused."""
    shape = tuple(int(d) for d in shape)
    size, flat = int(np.prod(shape, dtype=np.int64)), array.ravel()
    if flat.size > size or (flat.size == 0 and size):
        raise ValueError(f"{what}: {flat.size} elements of shape {list(array.shape)} do not fit the shape "
                         f"{list(shape)}, which holds {size}")
    if flat.size < size:
        flat = np.concatenate([flat, np.full(size - flat.size, flat[-1], array.dtype)])
    return flat.reshape(shape)


def as_tf(value, graph: Graph | None = None) -> Tensor:
    """``value`` as a tf Tensor (a constant, in ``graph`` or the default graph, when it is not one)."""
    if isinstance(value, Tensor):
        return value
    if graph is not None and graph is not get_default_graph():
        with graph.as_default():
            return as_tf(value)
    packed = _packed(value)
    return constant(value) if packed is None else packed


def _packed(value, dtype=None, name: str = "packed") -> Tensor | None:
    """A list or tuple (nested) holding tf tensors as one tensor, stacked along new leading axes as TF-1
    packs it (the other entries converted to the tensors' dtype); None when ``value`` holds no tensor."""
    if not isinstance(value, (list, tuple)):
        return None
    found: list = []
    todo = list(value)[::-1]
    while todo:
        v = todo.pop()
        if isinstance(v, (list, tuple)):
            todo.extend(v[::-1])
        elif isinstance(v, Tensor):
            found.append(v)
    if not found:
        return None
    dtypes = {t.dtype for t in found}
    if dtype is not None:
        dtypes.add(as_tf_dtype(dtype))
    if len(dtypes) != 1:
        raise TypeError(f"tf.convert_to_tensor: cannot pack a list of tensors of different dtypes "
                        f"{sorted(str(d) for d in dtypes)} ({', '.join(t.name for t in found)})")
    dtype = dtypes.pop()

    def pack(v) -> Tensor:
        if isinstance(v, Tensor):
            return v
        if not isinstance(v, (list, tuple)):
            return constant(v, dtype=dtype)
        parts = tuple(pack(x) for x in v)
        shapes = {t._shape for t in parts}
        if len(shapes) > 1 and None not in shapes:
            raise ValueError(f"tf.convert_to_tensor: cannot pack tensors of different shapes "
                             f"{[None if t._shape is None else list(t._shape) for t in parts]}")
        return op(lambda *xs: ember.stack(list(xs)), parts, name=name)

    return pack(value)


def as_operand(value, other: Tensor) -> Tensor:
    """An operand of ``other``'s op as a tf Tensor: Python numbers and lists take ``other``'s dtype where they
    fit it (TF-1 converts them with the tensor's dtype: ``x16 + 1.0`` stays float16), NumPy data keeps its own."""
    if isinstance(value, Tensor):
        return value
    dtype = other.dtype
    if dtype is not None and not isinstance(value, (np.ndarray, np.generic)):
        kind = np.asarray(value).dtype.kind
        if dtype.kind == "f" and kind in "iuf" or dtype.kind in "iu" and kind in "iu":
            with other.graph.as_default():
                return constant(value, dtype=dtype)
    return as_tf(value, other.graph)


def convert_to_tensor(value, dtype=None, name: str | None = None, preferred_dtype=None,
                      dtype_hint=None) -> Tensor:
    """``value`` as a tf Tensor: a tensor as it is (a ``dtype`` other than its own is an error, as in TF-1),
    anything else a constant, of ``dtype`` when given, else of ``preferred_dtype``/``dtype_hint`` where the
    value converts to it exactly, else of ``tf.constant``'s dtype."""
    if isinstance(value, Tensor):
        if dtype is not None and value.dtype is not None and as_tf_dtype(dtype) != value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {as_tf_dtype(dtype)} for Tensor '{value.name}' "
                             f"with dtype {value.dtype}")
        return value
    packed = _packed(value, dtype, name or "packed")
    if packed is not None:
        return packed
    hint = preferred_dtype if preferred_dtype is not None else dtype_hint
    if dtype is None and hint is not None:
        hint = as_tf_dtype(hint)
        guess = constant_dtype(value)
        if guess == hint or np.can_cast(guess, hint, "same_kind") and not _python_floats_to_ints(value, hint):
            dtype = hint
    return constant(value, dtype=dtype, name=name or "Const")


@contextlib.contextmanager
def control_dependencies(control_inputs):
    """Ops and tensors created inside the block run after ``control_inputs`` (their effects first: an
    ``UPDATE_OPS`` batch-norm statistics update before the training step). ``None`` clears the outer blocks."""
    graph = get_default_graph()
    saved = graph.control
    if control_inputs is None:
        graph.control = []
    else:
        inputs = list(control_inputs)
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"control_dependencies: {t!r} is not a tf Tensor or Operation")
        graph.control = saved + [inputs]
    try:
        yield
    finally:
        graph.control = saved


@contextlib.contextmanager
def init_scope():
    """TF-1's ``tf.init_scope`` in graph mode: ops made inside run without the control dependencies of the
    blocks open around it (a variable's initializer made inside a ``control_dependencies`` block); the name scope
    stays. (Ember has no function-building graphs to lift out of.)"""
    with control_dependencies(None):
        yield


def group(*inputs, name: str = "group_deps") -> Operation:
    """One op that runs all of ``inputs``."""
    result = Operation(None, name=name)
    result.args = tuple(inputs)
    return result


def no_op(name: str = "NoOp") -> Operation:
    """An op that does nothing."""
    return group(name=name)


# recipe kinds no gradient passes through (TF-1 registers None: tf.gradients of what only they read is None, and
# minimize finds no gradient for a variable only they read)
NOT_DIFFERENTIABLE = frozenset({"PyFunc", "StopGradient", "Floor", "Ceil", "Round", "FloorDiv", "TruncateDiv"})


def _integral(t: Tensor) -> bool:
    """Whether ``t`` holds integers or booleans, which TF-1 passes no gradient through."""
    return t.dtype is not None and np.dtype(t.dtype).kind in "biu"  # (bfloat16's kind is "V")


def depends(y: Tensor, x: Tensor, differentiably: bool = False, stop: tuple = ()) -> bool:
    """Whether the recipe of ``y`` reads ``x`` (with ``differentiably``: other than through a recipe that
    has no gradient, such as a ``py_func``, or through an integer or boolean tensor; nor past a tensor of
    ``stop``)."""
    seen, stack = {id(s) for s in stop if s is not x}, [y]
    while stack:
        t = stack.pop()
        if differentiably and _integral(t):
            continue
        if t is x:
            return True
        if id(t) in seen or differentiably and t.kind in NOT_DIFFERENTIABLE:
            continue
        seen.add(id(t))
        stack.extend(tensors_in(t.args))
        stack.extend(tensors_in(t.kwargs))
    return False


def add_to_collection(name: str, value) -> None:
    get_default_graph().collections.setdefault(name, []).append(value)


def get_collection(key: str, scope: str | None = None) -> list:
    """The items of collection ``key``; with ``scope``, those whose name it matches (a regular expression
    matched at the start, as TF-1). The variables are read from the graph, each in the collections it was made in
(``tf.Variable(..., collections=...)``, global by default), as is ``global_step``."""
    graph = get_default_graph()
    items = list(graph.collections.get(key, []))
    if key == "trainable_variables":
        items = [v for v in graph.variables if v.trainable] + items
    elif key == "global_step" and "global_step" in graph.named:
        items = [graph.named["global_step"]] + items
    else:  # the variables made in this collection (global, local, metric variables)
        items = [v for v in graph.variables if key in v.collections] + items
    return in_scope(items, scope)


def get_collection_ref(key: str) -> list:
    """The list of collection ``key`` itself (a change to it changes the collection), as TF-1's. The variable
    collections are read from the variables, so there is no list to give: ``tf.get_collection`` gives a copy,
    and ``tf.Variable(..., collections=...)`` puts a variable in others."""
    graph = get_default_graph()
    if key in ("variables", "trainable_variables", "local_variables", "global_step") or any(
            key in v.collections for v in graph.variables):
        raise ValueError(f"tf.get_collection_ref({key!r}): Ember keeps the variables' collections with the variables "
                         "(tf.Variable(..., collections=...)); read them with tf.get_collection")
    return graph.collections.setdefault(key, [])


def in_scope(items: list, scope: str | None) -> list:
    """``items`` whose name ``scope`` matches from its start (all of them for ``None``), as TF-1 filters."""
    if scope is None:
        return items
    pattern = re.compile(scope)
    return [t for t in items if isinstance(getattr(t, "name", None), str) and pattern.match(t.name)]

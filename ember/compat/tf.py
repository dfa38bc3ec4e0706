"""TensorFlow-1 names over Ember's graph mode: ``import ember.compat.tf as tf`` and a TF-1 script runs.

A ``tf.Tensor`` here is a recipe: an Ember op function and its arguments. ``Session.run`` replays the
recipes its fetches need, for the shapes and dtypes of its feeds, through the same Ember op functions on
symbolic Values: that builds an IR graph, which the pass pipeline (autodiff, prune, fold_constants, cse)
optimizes and the runtime compiles into one Python function, cached per (fetches, feed signature).

>>> x = tf.placeholder(tf.float32, [None, 1])
>>> w = tf.Variable(tf.zeros([1, 1]))
>>> loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0))
>>> train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
>>> with tf.Session() as sess:
...     sess.run(tf.global_variables_initializer())
...     sess.run([train, loss], {x: [[1.0], [2.0]]})
"""

from __future__ import annotations

import builtins
import contextlib
import types

import numpy as np

import ember
from ember.backend.dtypes import FLOATING, as_dtype
from ember.graph.ir import ASSIGN as _ASSIGN
from ember.graph.ir import Graph as _IRGraph
from ember.graph.ir import Value
from ember.ops.effects import random_draw
from ember.ops.registry import ShapeError
from ember.optim import functional as _rules
from ember.passes import TrainRequest, run_passes
from ember.passes import gradients as _gradients
from ember.runtime import compile_graph

__all__ = [
    "AUTO_REUSE", "Graph", "InteractiveSession", "Operation", "Session", "Tensor", "TensorShape", "Variable",
    "abs", "add", "argmax", "argmin", "bool", "cast", "constant", "constant_initializer", "divide", "equal", "exp",
    "float32", "float64", "get_default_graph", "get_variable", "global_variables", "global_variables_initializer",
    "glorot_uniform_initializer", "gradients", "greater", "group", "identity", "initialize_all_variables", "int32",
    "int64", "less", "log", "matmul", "maximum", "minimum", "multiply", "name_scope", "negative", "nn", "ones",
    "ones_initializer", "placeholder", "pow", "random_normal", "random_normal_initializer", "random_uniform",
    "reduce_max", "reduce_mean", "reduce_min", "reduce_sum", "reset_default_graph", "reshape", "set_random_seed",
    "sigmoid", "sqrt", "square", "subtract", "tanh", "train", "trainable_variables", "transpose",
    "truncated_normal", "truncated_normal_initializer", "variable_scope", "variables_initializer", "zeros",
    "zeros_initializer",
]

float32, float64, int32, int64 = (np.dtype(n) for n in ("float32", "float64", "int32", "int64"))
bool = np.dtype("bool")  # noqa: A001  (tf.bool)
_DTYPE_NAMES = {"float": float32, "double": float64, "int": int32}


def _dtype(dtype) -> np.dtype:
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


# --- graphs ------------------------------------------------------------------------------------------------


class Graph:
    """A TF-1 graph: the variables, the names and the scopes of the recipes built under it."""

    def __init__(self):
        self.variables: list[Variable] = []
        self.scopes: list[str] = []  # name scopes: prefixes of tensor names
        self.var_scopes: list[str] = []  # variable scopes: prefixes of get_variable names
        self.named: dict[str, Variable] = {}
        self.reuse: list = [False]
        self.names: dict[str, int] = {}
        self.seed = None

    @contextlib.contextmanager
    def as_default(self):
        """Make this the graph new tensors belong to inside the ``with`` block."""
        _graphs.append(self)
        try:
            yield self
        finally:
            _graphs.pop()

    def unique_name(self, name: str) -> str:
        full = "/".join(self.scopes + [name])
        count = self.names.get(full, 0)
        self.names[full] = count + 1
        return full if count == 0 else f"{full}_{count}"


_graphs: list[Graph] = [Graph()]


def get_default_graph() -> Graph:
    """The graph new tensors are added to."""
    return _graphs[-1]


def reset_default_graph() -> None:
    """Start a fresh default graph."""
    _graphs[0] = Graph()


def set_random_seed(seed: int) -> None:
    """Seed the generator random ops and initializers draw from."""
    ember.manual_seed(seed)


@contextlib.contextmanager
def name_scope(name: str):
    """Prefix the names of the tensors created inside the block with ``name/``."""
    graph = get_default_graph()
    graph.scopes.append(name)
    try:
        yield name
    finally:
        graph.scopes.pop()


@contextlib.contextmanager
def variable_scope(name: str, reuse=None):
    """A name scope that also prefixes ``get_variable`` names; with ``reuse=True`` (or ``tf.AUTO_REUSE``)
    ``get_variable`` returns existing variables."""
    graph = get_default_graph()
    graph.scopes.append(name)
    graph.var_scopes.append(name)
    graph.reuse.append(graph.reuse[-1] if reuse is None else reuse)
    try:
        yield types.SimpleNamespace(name="/".join(graph.var_scopes), reuse=graph.reuse[-1])
    finally:
        graph.scopes.pop()
        graph.var_scopes.pop()
        graph.reuse.pop()


AUTO_REUSE = "auto_reuse"


# --- tensors: recipes replayed into the IR at Session.run -------------------------------------------------


class Tensor:
    """A symbolic TF-1 tensor: ``fn(*args, **kwargs)`` over other tensors, replayed when a Session runs it."""

    __array_priority__ = 1000

    def __init__(self, fn, args=(), kwargs=None, name: str = "op", shape=None, dtype=None):
        self.graph = get_default_graph()
        self.fn = fn
        self.args = args
        self.kwargs = kwargs or {}
        self.name = self.graph.unique_name(name)
        self._shape = shape
        self.dtype = dtype

    @property
    def shape(self) -> TensorShape | None:
        """The static shape (None dimensions unknown until fed), or None when even the rank is unknown."""
        return None if self._shape is None else TensorShape(self._shape)

    def get_shape(self) -> TensorShape | None:
        return self.shape

    def eval(self, feed_dict=None, session=None):
        """``session.run(self, feed_dict)`` with the default session."""
        return (session or _default_session()).run(self, feed_dict)

    def __repr__(self) -> str:
        shape = "<unknown>" if self._shape is None else list(self._shape)
        return f"<tf.Tensor '{self.name}' shape={shape} dtype={self.dtype}>"

    def __bool__(self) -> bool:
        raise TypeError(f"using tf.Tensor '{self.name}' as a Python bool is not allowed in graph mode")

    __hash__ = object.__hash__

    def __getitem__(self, index):
        return _op(lambda x: x[index], (self,), name="strided_slice")


def _binary(fn, name):
    def method(self, other):
        return _op(fn, (self, other), name=name)

    def reflected(self, other):
        return _op(fn, (other, self), name=name)

    return method, reflected


for _name, _fn in {"add": ember.add, "sub": ember.sub, "mul": ember.mul, "truediv": ember.div,
                   "pow": ember.power, "matmul": ember.matmul}.items():
    _method, _reflected = _binary(_fn, _name)
    setattr(Tensor, f"__{_name}__", _method)
    setattr(Tensor, f"__r{_name}__", _reflected)
for _name, _fn in {"lt": ember.lt, "le": ember.le, "gt": ember.gt, "ge": ember.ge}.items():
    setattr(Tensor, f"__{_name}__", _binary(_fn, _name)[0])
Tensor.__neg__ = lambda self: _op(ember.neg, (self,), name="neg")
Tensor.__abs__ = lambda self: _op(ember.abs, (self,), name="abs")


class Operation(Tensor):
    """A tensor run for its effect (training step, initializer, group); fetching it gives None."""


class _Placeholder(Tensor):
    pass


class _Gradient(Tensor):
    pass


class _Init(Operation):
    pass


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors_in(item)


def _substitute(obj, fn):
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, list):
        return [_substitute(o, fn) for o in obj]
    if isinstance(obj, tuple):
        return tuple(_substitute(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _substitute(o, fn) for k, o in obj.items()}
    return obj


def _probe(fn, args, kwargs):
    """Run ``fn`` on Values typed like ``args``' static shapes (unknown dimensions stay unknown)."""
    graph = _IRGraph()

    def value(t):
        return graph.input(t.name, t._shape, t.dtype)

    with graph.building():
        out = fn(*_substitute(args, value), **_substitute(kwargs, value))
    if not isinstance(out, ember.Tensor):
        out = ember.as_tensor(out)
    return tuple(out.shape), out.dtype


def _op(fn, args, kwargs=None, name: str = "op") -> Tensor:
    """A new tensor for ``fn(*args, **kwargs)``; its static shape and dtype are found by running ``fn`` on
    symbolic Values (the IR's shape rules, unknown dimensions included), so shape errors surface here, at
    graph-building time. Where a rule needs a size that is unknown, the static shape is left unknown."""
    kwargs = kwargs or {}
    inputs = list(_tensors_in(args)) + list(_tensors_in(kwargs))
    shape = dtype = None
    if all(t._shape is not None and t.dtype is not None for t in inputs):
        known = all(d is not None for t in inputs for d in t._shape)
        try:
            shape, dtype = _probe(fn, args, kwargs)
        except (ValueError, TypeError, IndexError) as exc:
            if known or isinstance(exc, ShapeError):  # sizes known to conflict: an error, as in TensorFlow
                raise type(exc)(f"{name}: {exc}") from None
            shape = dtype = None
    if dtype is None:
        dtype = next((t.dtype for t in inputs if t.dtype is not None), None)
    return Tensor(fn, tuple(args), kwargs, name=name, shape=shape, dtype=dtype)


def placeholder(dtype, shape=None, name: str = "Placeholder") -> Tensor:
    """An input fed at ``Session.run``; ``None`` dimensions (or ``shape=None``) accept any size."""
    shape = None if shape is None else tuple(None if d is None or d == -1 else int(d) for d in shape)
    return _Placeholder(None, name=name, shape=shape, dtype=_dtype(dtype))


def constant(value, dtype=None, shape=None, name: str = "Const") -> Tensor:
    """A fixed value; without ``dtype``, float data becomes float32 and Python ints int32 (TF-1's defaults)."""
    array = np.asarray(value, dtype=None if dtype is None else _dtype(dtype))
    if dtype is None and array.dtype == np.float64:
        array = array.astype(np.float32)
    if dtype is None and array.dtype == np.int64 and not isinstance(value, np.ndarray):
        array = array.astype(np.int32)
    if shape is not None:
        array = np.broadcast_to(array, tuple(shape)).copy()
    array.flags.writeable = False
    t = ember.Tensor._make(array, None)
    return Tensor(lambda: t, name=name, shape=array.shape, dtype=array.dtype)


def _as_tf(value) -> Tensor:
    return value if isinstance(value, Tensor) else constant(value)


# --- variables ---------------------------------------------------------------------------------------------


class Variable(Tensor):
    """A value kept in each Session between runs; set by ``global_variables_initializer`` or ``assign``."""

    def __init__(self, initial_value, trainable: bool = True, name: str = "Variable", dtype=None):
        if callable(initial_value) and not isinstance(initial_value, Tensor):
            initial_value = initial_value()
        initial = _as_tf(initial_value) if dtype is None else cast(_as_tf(initial_value), dtype)
        if initial.shape is None or None in initial.shape:
            raise ValueError(f"Variable {name}: the initial value needs a fully known shape, got {initial.shape}")
        super().__init__(None, name=name, shape=tuple(initial.shape), dtype=initial.dtype)
        self.initial_value = initial
        self.trainable = trainable
        self.graph.variables.append(self)
        self.initializer = _Init(None, name=f"{self.name}/Assign")
        self.initializer.args = (self,)

    def assign(self, value) -> Tensor:
        """An op that stores ``value`` into the variable and returns it."""
        return _Assign(self, _as_tf(value))

    def assign_add(self, value) -> Tensor:
        return self.assign(self + value)

    def assign_sub(self, value) -> Tensor:
        return self.assign(self - value)

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={list(self._shape)} dtype={self.dtype}>"


class _Assign(Tensor):
    def __init__(self, variable: Variable, value: Tensor):
        super().__init__(None, (variable, value), name=f"{variable.name}/Assign", shape=variable._shape,
                         dtype=variable.dtype)


def global_variables() -> list:
    return list(get_default_graph().variables)


def trainable_variables() -> list:
    return [v for v in get_default_graph().variables if v.trainable]


def variables_initializer(var_list) -> Operation:
    """One op running the initializers of ``var_list``."""
    op = _Init(None, name="init")
    op.args = tuple(var_list)
    return op


def global_variables_initializer() -> Operation:
    """The op that gives every variable of the default graph its initial value."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def zeros_initializer():
    return lambda shape, dtype=float32: zeros(shape, dtype)


def ones_initializer():
    return lambda shape, dtype=float32: ones(shape, dtype)


def constant_initializer(value=0.0):
    return lambda shape, dtype=float32: constant(np.full(shape, value), dtype)


def random_normal_initializer(mean=0.0, stddev=1.0, seed=None):
    return lambda shape, dtype=float32: random_normal(shape, mean, stddev, dtype)


def truncated_normal_initializer(mean=0.0, stddev=1.0, seed=None):
    return lambda shape, dtype=float32: truncated_normal(shape, mean, stddev, dtype)


def glorot_uniform_initializer(seed=None):
    def init(shape, dtype=float32):
        fan_in, fan_out = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0] if shape else 1,) * 2
        limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
        return random_uniform(shape, -limit, limit, dtype)

    return init


def get_variable(name: str, shape=None, dtype=float32, initializer=None, trainable: bool = True) -> Variable:
    """The variable ``scope/name``: created (default initializer glorot uniform) or, under reuse, found.

    Only ``variable_scope`` prefixes the name (``name_scope`` does not, as in TF-1)."""
    graph = get_default_graph()
    full = "/".join(graph.var_scopes + [name])
    reuse = graph.reuse[-1]
    if full in graph.named:
        if not reuse:
            raise ValueError(f"Variable {full} already exists; set reuse=True or reuse=tf.AUTO_REUSE in variable_scope")
        return graph.named[full]
    if reuse is True:
        raise ValueError(f"Variable {full} does not exist and reuse=True in variable_scope")
    if initializer is None:
        initializer = glorot_uniform_initializer() if _dtype(dtype) in FLOATING else zeros_initializer()
    if callable(initializer) and not isinstance(initializer, Tensor):
        if shape is None:
            raise ValueError(f"get_variable {full}: a shape is needed with an initializer function")
        initial = initializer(list(shape), dtype=_dtype(dtype))
    else:
        initial = initializer
    scopes, graph.scopes = graph.scopes, []
    try:
        var = Variable(initial, trainable=trainable, name=full, dtype=dtype)
    finally:
        graph.scopes = scopes
    graph.named[full] = var
    return var


# --- ops -------------------------------------------------------------------------------------------------


def _unary(fn, default_name):
    def op(x, name: str | None = None) -> Tensor:
        return _op(fn, (_as_tf(x),), name=name or default_name)

    op.__name__ = default_name
    op.__doc__ = f"Elementwise {default_name} (``ember.{fn.__name__}``)."
    return op


def _binary_op(fn, default_name):
    def op(x, y, name: str | None = None) -> Tensor:
        return _op(fn, (x, y), name=name or default_name)

    op.__name__ = default_name
    op.__doc__ = f"Elementwise {default_name} with broadcasting (``ember.{fn.__name__}``)."
    return op


add = _binary_op(ember.add, "add")
subtract = _binary_op(ember.sub, "subtract")
multiply = _binary_op(ember.mul, "multiply")
divide = _binary_op(ember.div, "divide")
pow = _binary_op(ember.power, "pow")  # noqa: A001
maximum = _binary_op(ember.maximum, "maximum")
minimum = _binary_op(ember.minimum, "minimum")
equal = _binary_op(ember.eq, "equal")
greater = _binary_op(ember.gt, "greater")
less = _binary_op(ember.lt, "less")
sqrt = _unary(ember.sqrt, "sqrt")
exp = _unary(ember.exp, "exp")
log = _unary(ember.log, "log")
abs = _unary(ember.abs, "abs")  # noqa: A001
negative = _unary(ember.neg, "negative")
tanh = _unary(ember.tanh, "tanh")
sigmoid = _unary(ember.sigmoid, "sigmoid")
identity = _unary(lambda x: x, "identity")
mul, sub, div = multiply, subtract, divide


def square(x, name: str | None = None) -> Tensor:
    """Elementwise x * x."""
    return _op(lambda a: a * a, (_as_tf(x),), name=name or "square")


def _reduce(fn, default_name):
    def op(input_tensor, axis=None, keepdims=None, name: str | None = None, reduction_indices=None,
           keep_dims=None) -> Tensor:
        axis = reduction_indices if axis is None else axis
        axis = tuple(axis) if isinstance(axis, list) else axis
        keep = builtins.bool(keepdims or keep_dims)
        return _op(lambda x: fn(x, axis=axis, keepdims=keep), (_as_tf(input_tensor),), name=name or default_name)

    op.__name__ = default_name
    op.__doc__ = f"``{default_name}`` over ``axis`` (all axes when None)."
    return op


reduce_sum = _reduce(ember.sum, "reduce_sum")
reduce_mean = _reduce(ember.mean, "reduce_mean")
reduce_max = _reduce(ember.max, "reduce_max")
reduce_min = _reduce(ember.min, "reduce_min")


def argmax(input, axis=None, name: str | None = None, output_type=int64) -> Tensor:
    """Index of the largest value along ``axis`` (0 when None, as in TF-1)."""
    axis = 0 if axis is None else axis
    return _op(lambda x: ember.cast(ember.argmax(x, axis=axis), output_type), (_as_tf(input),), name=name or "ArgMax")


def argmin(input, axis=None, name: str | None = None, output_type=int64) -> Tensor:
    """Index of the smallest value along ``axis`` (0 when None)."""
    axis = 0 if axis is None else axis
    return _op(lambda x: ember.cast(ember.argmin(x, axis=axis), output_type), (_as_tf(input),), name=name or "ArgMin")


def cast(x, dtype, name: str | None = None) -> Tensor:
    """``x`` converted to ``dtype``."""
    dtype = _dtype(dtype)
    return _op(lambda a: ember.cast(a, dtype), (_as_tf(x),), name=name or "Cast")


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, name: str | None = None) -> Tensor:
    """Matrix product, optionally of transposed operands."""
    def fn(x, y):
        return ember.matmul(ember.swapaxes(x, -1, -2) if transpose_a else x,
                            ember.swapaxes(y, -1, -2) if transpose_b else y)

    return _op(fn, (_as_tf(a), _as_tf(b)), name=name or "MatMul")


def reshape(tensor, shape, name: str | None = None) -> Tensor:
    """The same elements in ``shape`` (one -1 allowed)."""
    shape = tuple(int(d) for d in shape)
    return _op(lambda x: ember.reshape(x, shape), (_as_tf(tensor),), name=name or "Reshape")


def transpose(a, perm=None, name: str | None = None) -> Tensor:
    """Permute the axes (reverse them when ``perm`` is None)."""
    return _op(lambda x: ember.transpose(x, perm), (_as_tf(a),), name=name or "transpose")


def zeros(shape, dtype=float32, name: str = "zeros") -> Tensor:
    """A tensor of zeros."""
    return constant(np.zeros(tuple(shape), _dtype(dtype)), name=name)


def ones(shape, dtype=float32, name: str = "ones") -> Tensor:
    """A tensor of ones."""
    return constant(np.ones(tuple(shape), _dtype(dtype)), name=name)


def _random(kind, shape, a, b, dtype, name) -> Tensor:
    shape, dtype = tuple(int(d) for d in shape), _dtype(dtype)

    def fn():
        return random_draw(kind, shape, dtype, a, b)

    return Tensor(fn, name=name, shape=shape, dtype=dtype)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name: str = "random_normal") -> Tensor:
    """Normal samples, fresh on every run."""
    return _random("normal", shape, mean, stddev, dtype, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name: str = "truncated_normal") -> Tensor:
    """Normal samples redrawn beyond two standard deviations, fresh on every run."""
    return _random("truncated_normal", shape, mean, stddev, dtype, name)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=float32, seed=None, name: str = "random_uniform") -> Tensor:
    """Uniform samples in [minval, maxval), fresh on every run."""
    return _random("uniform", shape, minval, maxval, dtype, name)


def _softmax_xent(labels, logits):
    return -ember.sum(labels * ember.log_softmax(logits, axis=-1), axis=-1)


def _sigmoid_xent(labels, logits):
    return ember.binary_cross_entropy_with_logits(logits, labels, reduction="none")


def _softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, axis=-1, name=None) -> Tensor:
    """Per-example cross-entropy of ``softmax(logits)`` against the distributions ``labels``."""
    return _op(_softmax_xent, (_as_tf(labels), _as_tf(logits)), name=name or "softmax_cross_entropy_with_logits")


def _sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None) -> Tensor:
    """Elementwise logistic loss of ``logits`` against ``labels`` in [0, 1]."""
    return _op(_sigmoid_xent, (_as_tf(labels), _as_tf(logits)), name=name or "sigmoid_cross_entropy_with_logits")


def _softmax(logits, axis=-1, name=None) -> Tensor:
    return _op(lambda x: ember.softmax(x, axis=axis), (_as_tf(logits),), name=name or "Softmax")


def _bias_add(value, bias, name=None) -> Tensor:
    return add(value, bias, name=name or "BiasAdd")


nn = types.SimpleNamespace(
    relu=_unary(ember.relu, "relu"), sigmoid=sigmoid, tanh=tanh, softmax=_softmax, bias_add=_bias_add,
    softmax_cross_entropy_with_logits=_softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2=_softmax_cross_entropy_with_logits,
    sigmoid_cross_entropy_with_logits=_sigmoid_cross_entropy_with_logits,
)


def _depends(y: Tensor, x: Tensor) -> bool:
    seen, stack = set(), [y]
    while stack:
        t = stack.pop()
        if t is x:
            return True
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.extend(_tensors_in(t.args))
        stack.extend(_tensors_in(t.kwargs))
    return False


def gradients(ys, xs, grad_ys=None, name: str = "gradients") -> list:
    """Symbolic d(sum of ys)/dx for each x (None where the ys do not depend on x), built by the autodiff pass."""
    ys = [ys] if isinstance(ys, Tensor) else list(ys)
    xs = [xs] if isinstance(xs, Tensor) else list(xs)
    grad_ys = None if grad_ys is None else ([grad_ys] if isinstance(grad_ys, Tensor) else list(grad_ys))
    request = (tuple(ys), tuple(xs), None if grad_ys is None else tuple(grad_ys))
    out = []
    for i, x in enumerate(xs):
        if not any(_depends(y, x) for y in ys):
            out.append(None)
            continue
        g = _Gradient(None, (request, i), name=name, shape=x._shape, dtype=x.dtype)
        out.append(g)
    return out


# --- optimizers ------------------------------------------------------------------------------------------


class Optimizer:
    """A TF-1 optimizer: ``minimize(loss)`` returns the training op (backward plus in-place updates)."""

    rule = None

    def __init__(self, **hyper):
        for key, value in hyper.items():
            if isinstance(value, (int, float)) and value < 0:
                raise ValueError(f"{type(self).__name__}: {key} must be non-negative, got {value}")
        self.hyper = hyper

    def minimize(self, loss: Tensor, global_step=None, var_list=None, name: str = "minimize") -> Operation:
        """The op that runs one step of this rule on ``var_list`` (default: trainable variables)."""
        var_list = list(var_list) if var_list is not None else trainable_variables()
        var_list = [v for v in var_list if _depends(loss, v)]
        if not var_list:
            raise ValueError("minimize: no trainable variable that the loss depends on")
        op = _Train(None, (loss, tuple(var_list)), name=name)
        op.optimizer = self
        op.global_step = global_step
        return op


class _Train(Operation):
    pass


class GradientDescentOptimizer(Optimizer):
    """Plain SGD: var -= learning_rate * grad."""

    rule = staticmethod(_rules.sgd_update)

    def __init__(self, learning_rate: float, use_locking: bool = False, name: str = "GradientDescent"):
        super().__init__(lr=float(learning_rate))


class MomentumOptimizer(Optimizer):
    """SGD with momentum: accum = momentum * accum + grad; var -= learning_rate * accum."""

    rule = staticmethod(_rules.sgd_update)

    def __init__(self, learning_rate: float, momentum: float, use_locking: bool = False, name: str = "Momentum",
                 use_nesterov: bool = False):
        super().__init__(lr=float(learning_rate), momentum=float(momentum), nesterov=use_nesterov)


class AdamOptimizer(Optimizer):
    """Adam."""

    rule = staticmethod(_rules.adam_update)

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 use_locking: bool = False, name: str = "Adam"):
        super().__init__(lr=float(learning_rate), beta1=float(beta1), beta2=float(beta2), eps=float(epsilon))


class AdagradOptimizer(Optimizer):
    """Adagrad, accumulators starting at ``initial_accumulator_value``."""

    rule = staticmethod(_rules.adagrad_update)

    def __init__(self, learning_rate: float, initial_accumulator_value: float = 0.1, use_locking: bool = False,
                 name: str = "Adagrad"):
        super().__init__(lr=float(learning_rate), initial_accumulator_value=float(initial_accumulator_value), eps=0.0)


train = types.SimpleNamespace(
    GradientDescentOptimizer=GradientDescentOptimizer, MomentumOptimizer=MomentumOptimizer,
    AdamOptimizer=AdamOptimizer, AdagradOptimizer=AdagradOptimizer, Optimizer=Optimizer,
)


# --- sessions ----------------------------------------------------------------------------------------------

_sessions: list = []


def _default_session():
    if not _sessions:
        raise RuntimeError("no default session: call eval(session=sess) or use `with tf.Session() as sess:`")
    return _sessions[-1]


def _flatten(fetches, flat: list):
    """Leaves of nested lists/tuples/dicts into ``flat``; returns a function rebuilding the structure."""
    if isinstance(fetches, (list, tuple)):
        builders = [_flatten(f, flat) for f in fetches]
        kind = type(fetches)
        return lambda out: kind(b(out) for b in builders)
    if isinstance(fetches, dict):
        builders = {k: _flatten(f, flat) for k, f in fetches.items()}
        return lambda out: {k: b(out) for k, b in builders.items()}
    if not isinstance(fetches, Tensor):
        raise TypeError(f"Session.run: cannot fetch {fetches!r}; fetch tf tensors or ops (nested in lists/dicts)")
    i = len(flat)
    flat.append(fetches)
    return lambda out: out[i]


class _Replay:
    """Builds the IR for some fetches by replaying their recipes on symbolic Values."""

    def __init__(self, session: Session, feeds: dict):
        self.session = session
        self.graph = _IRGraph()
        self.feeds = feeds  # tf Tensor -> Value
        self.memo: dict = {}
        self.bound: dict = {}  # value id -> variable array
        self.grads: dict = {}

    def value(self, t: Tensor):
        key = id(t)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self._build(t)
        return found

    def _build(self, t: Tensor):
        graph = self.graph
        if t in self.feeds:
            return self.feeds[t]
        if isinstance(t, _Placeholder):
            shape = "<unknown>" if t._shape is None else ["?" if d is None else d for d in t._shape]
            raise ValueError(
                f"You must feed a value for placeholder tensor '{t.name}' with dtype {t.dtype} and shape {shape}"
            )
        if isinstance(t, Variable):
            array = self.session._variable(t)
            v = graph.input(t.name, array.shape, array.dtype)
            self.bound[v.id] = array
            return v
        if isinstance(t, _Gradient):
            request, i = t.args
            if id(request) not in self.grads:
                ys, xs, grad_ys = request
                yv = [self.value(y) for y in ys]
                xv = [self.value(x) for x in xs]
                gv = None if grad_ys is None else [self.value(g) for g in grad_ys]
                grads = _gradients(graph, yv, xv, gv)
                self.grads[id(request)] = [g if g is not None else graph.constant(np.zeros(x.shape, x.dtype))
                                           for g, x in zip(grads, xv)]
            return self.grads[id(request)][i]
        if isinstance(t, _Train):
            loss, var_list = t.args
            params = [self.value(v) for v in var_list]
            states = [self.session._slots(t.optimizer, v) for v in var_list]
            graph.requests.append(TrainRequest(self.value(loss), params, t.optimizer.rule, t.optimizer.hyper, states))
            if t.global_step is not None:
                self.value(t.global_step.assign_add(1))
            return None
        if isinstance(t, _Assign):
            target, value = self.value(t.args[0]), self.value(t.args[1])
            with graph.building():
                value = ember.cast(value, target.dtype) if value.dtype != target.dtype else value
                if tuple(value.shape) != tuple(target.shape):
                    value = ember.broadcast_to(value, target.shape)
            graph.add(_ASSIGN, (target, value), {}, [])
            return value
        if isinstance(t, Operation):  # a group: run its parts
            for part in _tensors_in(t.args):
                self.value(part)
            return None
        with graph.building():
            args = _substitute(t.args, self.value)
            kwargs = _substitute(t.kwargs, self.value)
            out = t.fn(*args, **kwargs)
        if out.__class__ is not Value:
            out = graph.capture(out if isinstance(out, ember.Tensor) else ember.as_tensor(out))
        return out


def group(*inputs, name: str = "group") -> Operation:
    """One op that runs all of ``inputs``."""
    op = Operation(None, name=name)
    op.args = tuple(inputs)
    return op


def _check_feed(t: Tensor, value) -> np.ndarray:
    """``value`` as an array of the placeholder's dtype, or a clear error for a wrong dtype or shape."""
    if not isinstance(t, Tensor):
        raise TypeError(f"feed_dict keys must be tf tensors (placeholders), got {t!r}")
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
        array = array.astype(dtype)
    if t._shape is not None:
        shape = t._shape
        if len(shape) != array.ndim or any(d is not None and d != s for d, s in zip(shape, array.shape)):
            declared = "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
            raise ValueError(
                f"Cannot feed value of shape {tuple(array.shape)} for Tensor '{t.name}', which has shape {declared}"
            )
    return array


class Session:
    """Runs fetches: ``sess.run(fetches, feed_dict)``; holds the variables' values and optimizer slots.

    Each (fetches, feed shapes) pair is compiled once, through the pass pipeline and the runtime's code
    generator; later runs with the same signature call the cached function directly.
    """

    def __init__(self, target: str = "", graph: Graph | None = None, config=None):
        self.graph = graph or get_default_graph()
        self.values: dict = {}
        self.slots: dict = {}
        self.cache: dict = {}
        self.closed = False

    def __enter__(self) -> Session:
        _sessions.append(self)
        return self

    def __exit__(self, *exc) -> None:
        if _sessions and _sessions[-1] is self:
            _sessions.pop()
        self.close()

    def close(self) -> None:
        """Release the variables and compiled functions; running afterwards is an error."""
        self.closed = True
        self.values.clear()
        self.cache.clear()

    def as_default(self):
        return _SessionContext(self)

    def _variable(self, var: Variable) -> np.ndarray:
        array = self.values.get(var)
        if array is None:
            raise ValueError(f"Attempting to use uninitialized value {var.name}: run tf.global_variables_initializer()")
        return array

    def _slots(self, optimizer: Optimizer, var: Variable) -> dict:
        return self.slots.setdefault((id(optimizer), var), {})

    def _initialize(self, variables) -> None:
        variables = list(variables)
        self._reset_slots(variables)
        fresh = []
        for var in variables:
            value = np.asarray(self._evaluate([var.initial_value], {})[0], dtype=var.dtype)
            current = self.values.get(var)
            if current is not None and current.shape == value.shape:
                current[...] = value  # in place: compiled functions hold this array
            else:
                fresh.append((var, value))
        for var, array in _arena(fresh):
            self.values[var] = array
            self.cache.clear()

    def _reset_slots(self, variables: list) -> None:
        """Optimizer slots restart with their variables (in TF-1 they are variables too)."""
        wanted = set(variables)
        for (_, var), state in self.slots.items():
            if var in wanted:
                buffer = state.get("momentum_buffer")
                state.clear()
                if buffer is not None:  # compiled code holds this array: zero it in place (0 * m + g == g)
                    buffer.fill(0)
                    state["momentum_buffer"] = buffer

    def _evaluate(self, flat: list, feeds: dict):
        # Keys hold the tensors themselves (not ids), so a cached entry keeps them alive and unambiguous.
        key = (tuple(flat), *[(t, a.shape) for t, a in feeds.items()])
        compiled = self.cache.get(key)
        if compiled is None:
            compiled = self.cache[key] = self._compile(flat, feeds)
        return compiled(*feeds.values())

    def _compile(self, flat: list, feeds: dict):
        replay = _Replay(self, {})
        graph = replay.graph
        for t, array in feeds.items():
            _check_feed(t, array)
            replay.feeds[t] = graph.input(t.name, array.shape, array.dtype)
        results = [replay.value(t) for t in flat]
        graph.outputs = [v for v in results if v is not None]
        graph = run_passes(graph)
        layout = []
        k = 0
        for v in results:
            layout.append(None if v is None else k)
            k += v is not None
        return compile_graph(graph, replay.bound, layout).fn

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Evaluate ``fetches`` (a tensor, an op, or nested lists/tuples/dicts of them) with ``feed_dict``."""
        if self.closed:
            raise RuntimeError("Attempted to use a closed Session.")
        feeds = {}
        key = [fetches]
        if feed_dict:
            for t, value in feed_dict.items():
                # The shape is checked once per signature, when it is compiled.
                if value.__class__ is not np.ndarray or t.__class__ is not _Placeholder or value.dtype != t.dtype:
                    value = _check_feed(t, value)
                feeds[t] = value
                key.append(t)
                key.append(value.shape)
        if fetches.__class__ in _SINGLE:  # the hot path: one tensor or one training op
            compiled = self.cache.get(key := tuple(key))
            if compiled is None:
                compiled = self.cache[key] = self._compile([fetches], feeds)
            return compiled(*feeds.values())[0]
        flat: list = []
        rebuild = _flatten(fetches, flat)
        inits = [t for t in flat if isinstance(t, _Init)]
        if inits:
            for t in inits:
                self._initialize(t.args)
            rest = [t for t in flat if not isinstance(t, _Init)]
            values = iter(self._evaluate(rest, feeds) if rest else [])
            return rebuild([None if isinstance(t, _Init) else next(values) for t in flat])
        return rebuild(self._evaluate(flat, feeds))


def _arena(pairs: list) -> list:
    """New variables laid side by side in one array per dtype (each start aligned to 64 bytes), so that the
    runtime can update a run of them with a few whole-array calls instead of a few calls each."""
    placed = []
    for dtype in dict.fromkeys(value.dtype for _, value in pairs):
        group = [(var, value) for var, value in pairs if value.dtype == dtype]
        align = max(1, 64 // dtype.itemsize)
        offsets, end = [], 0
        for _, value in group:
            offsets.append(end)
            end = -(-(end + value.size) // align) * align
        storage = np.zeros(end, dtype)
        for (var, value), start in zip(group, offsets):
            array = storage[start:start + value.size].reshape(value.shape)
            array[...] = value
            placed.append((var, array))
    return placed


class _SessionContext:
    def __init__(self, session: Session):
        self.session = session

    def __enter__(self) -> Session:
        _sessions.append(self.session)
        return self.session

    def __exit__(self, *exc) -> None:
        _sessions.remove(self.session)


_SINGLE = frozenset({Tensor, Variable, _Train, _Gradient, _Assign})
InteractiveSession = Session

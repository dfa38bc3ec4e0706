"""TF-1 variables: ``tf.Variable``, ``tf.get_variable`` with scopes, initializers."""

from __future__ import annotations

import operator

import numpy as np

from ember.backend.dtypes import FLOATING
from ember.compat.tf._core import (
    Operation,
    Tensor,
    as_tf,
    as_tf_dtype,
    constant,
    control_dependencies,
    float32,
    get_collection,
    get_default_graph,
    in_scope,
    op,
)
from ember.compat.tf.array_ops import random_normal, random_uniform, truncated_normal

GLOBAL_VARIABLES, LOCAL_VARIABLES = "variables", "local_variables"  # tf.GraphKeys'
MODEL_VARIABLES, MOVING_AVERAGE_VARIABLES = "model_variables", "moving_average_variables"


class Variable(Tensor):
    """A value kept in each Session between runs; set by ``global_variables_initializer`` or ``assign``.
    ``collections`` (default ``[tf.GraphKeys.GLOBAL_VARIABLES]``) are the graph collections it belongs to: one
    made with ``[tf.GraphKeys.LOCAL_VARIABLES]`` (a ``tf.metrics`` counter) is a local variable, which
    ``local_variables_initializer`` sets and ``global_variables`` (so a Saver) leaves out, as in TF-1."""

    kind = "VariableV2"
    collections: tuple = (GLOBAL_VARIABLES,)

    def __init__(self, initial_value, trainable: bool = True, name: str = "Variable", dtype=None,
                 collections=None, validate_shape: bool = True):
        if callable(initial_value) and not isinstance(initial_value, Tensor):
            initial_value = initial_value()
        if dtype is None:
            initial = as_tf(initial_value)
        elif isinstance(initial_value, Tensor):
            initial = cast(initial_value, dtype)
        else:  # straight to the dtype: through float32 first, a float64 value would lose its digits
            initial = constant(initial_value, dtype=dtype)
        if initial.shape is None or None in initial.shape:
            raise ValueError(f"Variable {name}: the initial value needs a fully known shape, got {initial.shape}")
        super().__init__(None, name=name, shape=tuple(initial.shape), dtype=initial.dtype)
        self.initial_value = initial
        self.trainable = trainable
        if collections is not None:
            self.collections = tuple(collections)
        self.graph.variables.append(self)
        self.initializer = Operation(None, name=f"{self._op_name}/Assign", kind="Init")
        self.initializer.args = (self,)

    def assign(self, value, use_locking: bool = False, name: str | None = None, read_value: bool = True,
               validate_shape: bool = True) -> Tensor:
        """An op that stores ``value`` into the variable and returns it. ``value`` must have the variable's
        shape, as TF-1's ``validate_shape`` asks; Ember's variables keep their shape, so ``validate_shape=False``
        takes no other shape either."""
        value = as_tf(value)
        shape = value.shape
        if shape is not None and None not in shape and tuple(shape) != tuple(self._shape):
            raise ValueError(f"assign to {self.name}: shapes {list(self._shape)} and {list(shape)} are "
                             "incompatible" + ("" if validate_shape else " (Ember's variables keep their shape)"))
        return Tensor(None, (self, value), name=name or f"{self._op_name}/Assign", shape=self._shape,
                      dtype=self.dtype, kind="Assign")

    def assign_add(self, value, use_locking: bool = False, name: str | None = None) -> Tensor:
        return self.assign(self + value, name=name)

    def assign_sub(self, value, use_locking: bool = False, name: str | None = None) -> Tensor:
        return self.assign(self - value, name=name)

    def read_value(self) -> Tensor:
        """The variable's value as a tensor of its own (``Variable/read``): made inside
        ``tf.control_dependencies``, it is read after those ops run (their assignments included)."""
        return op(lambda v: v, (self,), name=f"{self._op_name}/read")

    def value(self) -> Tensor:
        """TF-1's snapshot of the variable (``Variable/read``): as ``read_value``, but made inside
        ``tf.control_dependencies`` it waits for none of them, as TF-1's snapshot is made with the variable."""
        with control_dependencies(None):
            return self.read_value()

    def initialized_value(self) -> Tensor:
        return self.initial_value

    def __repr__(self) -> str:
        return f"<tf.Variable '{self.name}' shape={list(self._shape)} dtype={self.dtype}>"


def cast(x, dtype, name: str | None = None) -> Tensor:
    """``x`` converted to ``dtype``."""
    import ember

    dtype = as_tf_dtype(dtype)
    return op(lambda a: ember.cast(a, dtype), (as_tf(x),), name=name or "Cast")


def assign(ref: Variable, value, validate_shape=None, use_locking=None, name: str | None = None) -> Tensor:
    """``tf.assign``: stores ``value`` (of ``ref``'s shape) into ``ref`` and returns the new value."""
    return ref.assign(value, name=name, validate_shape=validate_shape is not False)


def assign_add(ref: Variable, value, name: str | None = None) -> Tensor:
    return ref.assign_add(value, name=name)


def assign_sub(ref: Variable, value, name: str | None = None) -> Tensor:
    return ref.assign_sub(value, name=name)


def global_variables(scope: str | None = None) -> list:
    """The graph's global variables, those whose name ``scope`` matches from its start when given."""
    return get_collection(GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope: str | None = None) -> list:
    """The graph's trainable variables, those whose name ``scope`` matches from its start when given."""
    return in_scope([v for v in get_default_graph().variables if v.trainable], scope)


def variables_initializer(var_list, name: str = "init") -> Operation:
    """One op running the initializers of ``var_list``."""
    result = Operation(None, name=name, kind="Init")
    result.args = tuple(var_list)
    return result


def global_variables_initializer() -> Operation:
    """The op that gives every variable of the default graph its initial value."""
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def local_variables(scope: str | None = None) -> list:
    """The graph's local variables (collection ``tf.GraphKeys.LOCAL_VARIABLES``: ``tf.metrics``' counters), those
    whose name ``scope`` matches from its start when given."""
    return get_collection(LOCAL_VARIABLES, scope)


def local_variables_initializer() -> Operation:
    """The op that gives every local variable of the default graph its initial value (``tf.metrics`` counters
    back to 0)."""
    return variables_initializer(local_variables(), name="init_local")


initialize_local_variables = local_variables_initializer


def model_variables(scope: str | None = None) -> list:
    """The graph's model variables (``tf.GraphKeys.MODEL_VARIABLES``: those of ``tf.contrib.layers``), those
    whose name ``scope`` matches from its start when given."""
    return get_collection(MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list:
    """The variables ``tf.train.ExponentialMovingAverage.apply`` keeps averages of (the variables, not the
    averages), those whose name ``scope`` matches from its start when given."""
    return get_collection(MOVING_AVERAGE_VARIABLES, scope)


def is_variable_initialized(variable: Variable) -> Tensor:
    """A bool scalar: whether ``variable`` has a value in the Session that runs it (initialized, restored or
    assigned)."""
    if not isinstance(variable, Variable):
        raise TypeError(f"tf.is_variable_initialized: expected a tf.Variable, got {type(variable).__name__}")
    return Tensor(None, (variable,), name="IsVariableInitialized", shape=(), dtype=np.dtype(bool),
                  kind="IsVariableInitialized", graph=variable.graph)


def report_uninitialized_variables(var_list=None, name: str = "report_uninitialized_variables") -> Tensor:
    """A 1-D string tensor of the names (``v.op.name``) of the variables of ``var_list`` (default: the global and
    local ones) that have no value in the Session that runs it, in ``var_list``'s order."""
    from ember.compat.tf.array_ops import FUNCTIONS, stack
    from ember.compat.tf.value_sized import boolean_mask

    var_list = global_variables() + local_variables() if var_list is None else list(var_list)
    for v in var_list:
        if not isinstance(v, Variable):
            raise TypeError(f"tf.report_uninitialized_variables: var_list must hold tf.Variables, got "
                            f"{type(v).__name__}")
    if not var_list:
        return constant(np.zeros(0, "S1"), name=name)
    names = constant(np.array([v.op.name for v in var_list], dtype=bytes))
    initialized = stack([is_variable_initialized(v) for v in var_list])
    return boolean_mask(names, FUNCTIONS["logical_not"](initialized), name=name)


def zeros_initializer(dtype=float32):
    return lambda shape, dtype=dtype, partition_info=None: constant(np.zeros(shape, as_tf_dtype(dtype)))


def ones_initializer(dtype=float32):
    return lambda shape, dtype=dtype, partition_info=None: constant(np.ones(shape, as_tf_dtype(dtype)))


def constant_initializer(value=0.0, dtype=float32):
    """``value`` in the variable's shape: a list laid out in row-major order, its last element filling what it
    lacks, as TF-1's (``tf.constant`` with a shape)."""
    return lambda shape, dtype=dtype, partition_info=None: constant(value, as_tf_dtype(dtype), shape=shape)


def random_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=float32):
    return lambda shape, dtype=dtype, partition_info=None: random_normal(shape, mean, stddev, dtype, seed=seed)


def truncated_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=float32):
    return lambda shape, dtype=dtype, partition_info=None: truncated_normal(shape, mean, stddev, dtype, seed=seed)


def random_uniform_initializer(minval=-0.05, maxval=0.05, seed=None, dtype=float32):
    return lambda shape, dtype=dtype, partition_info=None: random_uniform(shape, minval, maxval, dtype, seed=seed)


def _fans(shape) -> tuple:
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform_initializer(seed=None, dtype=float32):
    def init(shape, dtype=dtype, partition_info=None):
        fan_in, fan_out = _fans(shape)
        limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
        return random_uniform(shape, -limit, limit, dtype, seed=seed)

    return init


def glorot_normal_initializer(seed=None, dtype=float32):
    def init(shape, dtype=dtype, partition_info=None):
        fan_in, fan_out = _fans(shape)
        # TF's truncated normal at 2 std has std 0.8796 of the untruncated one
        std = float(np.sqrt(2.0 / (fan_in + fan_out)) / 0.87962566103423978)
        return truncated_normal(shape, 0.0, std, dtype, seed=seed)

    return init


def _variable_shape(full: str, shape) -> list | None:
    """``get_variable``'s ``shape`` as a list of ints; one integer is a 1-D shape, as TF-1 reads it."""
    if shape is None:
        return None
    try:
        dims = [operator.index(shape)] if np.ndim(shape) == 0 else [operator.index(d) for d in shape]
    except TypeError:
        raise TypeError(f"get_variable {full}: shape must be a list of integers, got {shape!r} (an initial value "
                        "goes in initializer=, e.g. tf.constant_initializer(value))") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"get_variable {full}: shape must have no negative dimension, got {dims}")
    return dims


def get_variable(name: str, shape=None, dtype=float32, initializer=None, regularizer=None, trainable: bool = True,
                 collections=None) -> Variable:
    """The variable ``scope/name``: created (default initializer the variable scope's, else glorot uniform) or,
    under reuse, found. A ``regularizer`` (``tf.contrib.layers.l2_regularizer(scale)``) adds its penalty of the
    new variable to the ``tf.GraphKeys.REGULARIZATION_LOSSES`` collection (``tf.losses.get_regularization_loss``
    sums them); without one, the variable scope's regularizer does, where it has one.

    Only ``variable_scope`` prefixes the name (``name_scope`` does not, as in TF-1)."""
    graph = get_default_graph()
    full = "/".join(graph.var_scopes + [name])
    shape = _variable_shape(full, shape)
    reuse = graph.reuse[-1]
    if full in graph.named:
        if not reuse:
            raise ValueError(f"Variable {full} already exists; set reuse=True or reuse=tf.AUTO_REUSE in variable_scope")
        found = graph.named[full]
        if shape is not None and tuple(shape) != tuple(found.shape):
            raise ValueError(f"Trying to share variable {full}, but specified shape {list(shape)} and found shape "
                             f"{list(found.shape)}")
        if as_tf_dtype(dtype) != found.dtype:
            raise ValueError(f"Trying to share variable {full}, but specified dtype {as_tf_dtype(dtype)} and found "
                             f"dtype {found.dtype}")
        return found
    if reuse is True:
        raise ValueError(f"Variable {full} does not exist and reuse=True in variable_scope")
    if initializer is None:
        initializer = graph.initializers[-1]  # the variable scope's, where it has one
    if initializer is None:
        initializer = glorot_uniform_initializer() if as_tf_dtype(dtype) in FLOATING else zeros_initializer()
    if callable(initializer) and not isinstance(initializer, Tensor):
        if shape is None:
            raise ValueError(f"get_variable {full}: a shape is needed with an initializer function")
        initial = initializer(shape, dtype=as_tf_dtype(dtype))
    else:
        initial = as_tf(initializer)
        if shape is not None and initial.shape is not None and tuple(initial.shape) != tuple(shape):
            raise ValueError(f"get_variable {full}: the initializer value has shape {list(initial.shape)}, the "
                             f"shape asked {list(shape)}; give no shape with a value, as TF-1 asks")
    scopes, graph.scopes = graph.scopes, []
    try:
        var = Variable(initial, trainable=trainable, name=full, dtype=dtype, collections=collections)
    finally:
        graph.scopes = scopes
    graph.named[full] = var
    if regularizer is None:
        regularizer = graph.regularizers[-1]
    if regularizer is not None:
        penalty = regularizer(var)
        if penalty is not None:  # (a regularizer of scale 0 gives None, as TF-1's)
            graph.collections.setdefault("regularization_losses", []).append(penalty)
    return var


def get_local_variable(name: str, shape=None, dtype=float32, initializer=None, regularizer=None,
                       trainable: bool = False, collections=None) -> Variable:
    """``get_variable`` of a local variable (``tf.GraphKeys.LOCAL_VARIABLES``, not saved, not trained), also
    in ``collections``; a local variable is never trainable, as in TF-1."""
    if trainable:
        raise ValueError(f"tf.get_local_variable {name}: a local variable is not trainable; use tf.get_variable")
    return get_variable(name, shape, dtype=dtype, initializer=initializer, regularizer=regularizer, trainable=False,
                        collections=[LOCAL_VARIABLES] + list(collections or []))

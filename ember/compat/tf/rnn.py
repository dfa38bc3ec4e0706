"""TF-1 recurrent cells (``tf.nn.rnn_cell``, ``tf.contrib.rnn``) and ``static_rnn`` / ``dynamic_rnn``.

A cell creates its variables on its first call, under ``<scope>/<cell name>/`` as TF-1 names them
(``rnn/basic_lstm_cell/kernel``), and reuses them on later steps. Both RNN functions unroll the time
steps into the graph, so the number of steps must be known while the graph is built.
"""

from __future__ import annotations

import numbers
import zlib
from collections import namedtuple

import numpy as np

import ember
from ember.compat.tf import nn_basics as nn
from ember.compat.tf._core import Tensor, as_tf, as_tf_dtype, bfloat16, float16, float32, float64, op, variable_scope
from ember.compat.tf.session_config import device as tf_device
from ember.compat.tf.variables import get_variable, zeros_initializer

__all__ = [
    "BasicLSTMCell", "BasicRNNCell", "DeviceWrapper", "DropoutWrapper", "GRUCell", "LSTMCell", "LSTMStateTuple",
    "MultiRNNCell", "OutputProjectionWrapper", "RNNCell", "ResidualWrapper",
    "bidirectional_dynamic_rnn", "dynamic_rnn", "static_bidirectional_rnn", "static_rnn",
]

LSTMStateTuple = namedtuple("LSTMStateTuple", ["c", "h"])


def _column_slice(t: Tensor, start: int, stop: int, name: str) -> Tensor:
    return op(lambda x: x[:, start:stop], (t,), name=name)


class RNNCell:
    """A recurrent cell: ``output, new_state = cell(inputs, state)``."""

    scope_name = "rnn_cell"
    gates = 1

    def __init__(self, num_units: int, activation=None, reuse=None, name: str | None = None, dtype=None):
        self.dtype = None if dtype is None else _float_dtype(type(self).__name__, "dtype=", as_tf_dtype(dtype))
        self.num_units = int(num_units)
        self.activation = activation
        self.name = name or self.scope_name
        self.reuse = reuse  # True (or tf.AUTO_REUSE): the variables are looked up, as a reusing variable_scope's
        self.variables: dict | None = None

    @property
    def state_size(self):
        return self.num_units

    @property
    def output_size(self) -> int:
        return self.num_units

    def _build(self, input_size: int, kernels: dict) -> dict:
        with variable_scope(self.name, reuse=self.reuse):
            return {key: get_variable(key, shape, self.dtype, initializer=init)
                    for key, (shape, init) in kernels.items()}

    def _check_dtype(self, inputs: Tensor, state) -> None:
        """The cell's dtype is its ``dtype=`` or, on the first call, the inputs' (TF-1's cells are Keras layers,
        which take it there); its variables are made and its math done in it, and inputs or a state of another
        dtype are refused, as TF-1's matmul and concat refuse them."""
        dtype = _float_dtype(type(self).__name__, "the inputs' dtype", as_tf_dtype(inputs.dtype))
        if self.dtype is None:
            self.dtype = dtype
        elif dtype != self.dtype:
            raise TypeError(f"{type(self).__name__}: the inputs have dtype {dtype.name}, but the cell's variables "
                            f"are {self.dtype.name}; cast the inputs (or make a cell with dtype={dtype.name})")
        for part in _leaves(state):
            got = as_tf_dtype(as_tf(part).dtype)
            if got != self.dtype:
                raise TypeError(f"{type(self).__name__}: the state has dtype {got.name}, but the cell computes in "
                                f"{self.dtype.name}; give the RNN dtype={self.dtype.name} (or an initial_state of "
                                f"that dtype)")

    def _input_size(self, inputs: Tensor) -> int:
        if inputs.shape is None or inputs.shape[-1] is None:
            raise ValueError(f"{type(self).__name__}: the last dimension of the inputs must be known, "
                             f"got shape {inputs.shape}")
        return int(inputs.shape[-1])

    def zero_state(self, batch_size, dtype=float32):
        """Zeros of shape (batch_size, state size) (a tuple of two for LSTM cells with tuple state)."""
        from ember.compat.tf.array_ops import zeros

        if isinstance(self.state_size, LSTMStateTuple):
            c, h = self.state_size
            return LSTMStateTuple(zeros([batch_size, c], dtype), zeros([batch_size, h], dtype))
        if isinstance(self.state_size, tuple):
            return tuple(zeros([batch_size, s if isinstance(s, int) else s.c], dtype) for s in self.state_size)
        return zeros([batch_size, self.state_size], dtype)

    def _zero_state_like(self, inputs: Tensor, dtype):
        """Zeros of shape (batch, state size) in ``dtype`` (the RNN's ``dtype=``, as TF-1's zero state), the
        batch taken from ``inputs`` when the Session runs."""
        dtype = as_tf_dtype(dtype)

        def make(units: int) -> Tensor:
            # an empty sum is a (batch, 1) column of zeros whatever x holds, and keeps the batch symbolic
            # while the graph is built, so the cells' static shapes stay known
            return op(lambda x: ember.cast(ember.sum(x[:, :0], 1, keepdim=True), dtype)
                      + ember.zeros((1, units), dtype=dtype), (inputs,), name="zeros")

        if isinstance(self.state_size, LSTMStateTuple):
            return LSTMStateTuple(*(make(units) for units in self.state_size))
        return make(self.state_size)


def _leaves(state) -> list:
    if isinstance(state, (tuple, list)):
        return [leaf for part in state for leaf in _leaves(part)]
    return [state]


def _float_dtype(cell: str, what: str, dtype: np.dtype) -> np.dtype:
    if dtype not in (float16, bfloat16, float32, float64):
        raise TypeError(f"{cell}: {what} must be float16, bfloat16, float32 or float64, got {dtype.name}")
    return dtype


def _act(activation):
    return activation if activation is not None else ember.tanh


class BasicRNNCell(RNNCell):
    """h = activation(concat(x, h) @ kernel + bias)."""

    scope_name = "basic_rnn_cell"

    def __call__(self, inputs, state, scope=None):
        inputs = as_tf(inputs)
        self._check_dtype(inputs, state)
        if self.variables is None:
            n = self._input_size(inputs) + self.num_units
            self.variables = self._build(n, {"kernel": ([n, self.num_units], None),
                                             "bias": ([self.num_units], zeros_initializer())})
        act = _tf_activation(self.activation)
        h = op(lambda x, s, k, b: act(ember.matmul(ember.concat([x, s], axis=1), k) + b),
               (inputs, state, self.variables["kernel"], self.variables["bias"]), name=self.name)
        return h, h


def _tf_activation(activation):
    """A cell's activation on Ember values: tf.nn functions are recipes, so map the common ones to ops."""
    if activation is None:
        return ember.tanh
    # matched by identity: a function of the user's that is only named "relu" must not become ReLU
    known = {nn.tanh: ember.tanh, nn.relu: ember.relu, nn.sigmoid: ember.sigmoid}
    known.update({f: f for f in known.values()})
    if activation in known:
        return known[activation]
    raise ValueError(f"rnn cell: activation {activation!r} is not supported; use tf.tanh, tf.nn.relu or tf.sigmoid")


class BasicLSTMCell(RNNCell):
    """TF-1's LSTM: gates i, j, f, o from concat(x, h) @ kernel + bias; c' = c * sigmoid(f + forget_bias) +
    sigmoid(i) * tanh(j); h' = tanh(c') * sigmoid(o). The state is ``LSTMStateTuple(c, h)``."""

    scope_name = "basic_lstm_cell"

    def __init__(self, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True, activation=None,
                 reuse=None, name: str | None = None, dtype=None, **unsupported):
        for key, value in unsupported.items():
            if value not in (None, False):
                raise ValueError(f"{type(self).__name__}: {key}={value!r} is not supported")
        super().__init__(num_units, activation, reuse, name, dtype)
        self.forget_bias = float(forget_bias)
        self.state_is_tuple = state_is_tuple
        self.kernel_initializer = None  # (get_variable's default: the variable scope's, else glorot uniform)

    @property
    def state_size(self):
        return LSTMStateTuple(self.num_units, self.num_units) if self.state_is_tuple else 2 * self.num_units

    def __call__(self, inputs, state, scope=None):
        inputs = as_tf(inputs)
        self._check_dtype(inputs, state)
        units, forget_bias, act = self.num_units, self.forget_bias, _tf_activation(self.activation)
        if self.variables is None:
            n = self._input_size(inputs) + units
            self.variables = self._build(n, {"kernel": ([n, 4 * units], self.kernel_initializer),
                                             "bias": ([4 * units], zeros_initializer())})
        if self.state_is_tuple:
            c, h = state
        else:
            c, h = _column_slice(state, 0, units, "c"), _column_slice(state, units, 2 * units, "h")

        def step(x, c_prev, h_prev, kernel, bias):
            z = ember.matmul(ember.concat([x, h_prev], axis=1), kernel) + bias
            i, j, f, o = ember.chunk(z, 4, axis=1)
            c_new = c_prev * ember.sigmoid(f + forget_bias) + ember.sigmoid(i) * act(j)
            return ember.concat([c_new, act(c_new) * ember.sigmoid(o)], axis=1)

        both = op(step, (inputs, as_tf(c), as_tf(h), self.variables["kernel"], self.variables["bias"]), name=self.name)
        new_c, new_h = _column_slice(both, 0, units, "c"), _column_slice(both, units, 2 * units, "h")
        return new_h, (LSTMStateTuple(new_c, new_h) if self.state_is_tuple else both)


class LSTMCell(BasicLSTMCell):
    """``tf.nn.rnn_cell.LSTMCell``: BasicLSTMCell's math, with TF-1's options: ``use_peepholes`` (diagonal
    weights w_f_diag, w_i_diag on the previous c and w_o_diag on the new one), ``cell_clip`` (c clipped to
    [-cell_clip, cell_clip]), ``num_proj`` (h = the output projected by ``projection/kernel``, then clipped to
    ``proj_clip``). ``initializer`` initializes the kernels and diagonals, as TF-1's (the bias starts at zeros)."""

    scope_name = "lstm_cell"

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias: float = 1.0,
                 state_is_tuple: bool = True, activation=None, reuse=None, name: str | None = None, dtype=None):
        super().__init__(num_units, forget_bias, state_is_tuple, activation, reuse, name, dtype,
                         num_unit_shards=num_unit_shards, num_proj_shards=num_proj_shards)
        self.kernel_initializer = initializer
        self.use_peepholes = bool(use_peepholes)
        self.cell_clip = None if cell_clip is None else float(cell_clip)
        self.num_proj = None if num_proj is None else int(num_proj)
        self.proj_clip = None if proj_clip is None else float(proj_clip)

    @property
    def state_size(self):
        h = self.num_proj or self.num_units
        return LSTMStateTuple(self.num_units, h) if self.state_is_tuple else self.num_units + h

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    def __call__(self, inputs, state, scope=None):
        inputs = as_tf(inputs)
        self._check_dtype(inputs, state)
        units, out = self.num_units, self.num_proj or self.num_units
        forget_bias, act = self.forget_bias, _tf_activation(self.activation)
        peep, cell_clip, proj_clip = self.use_peepholes, self.cell_clip, self.proj_clip
        if self.variables is None:
            init = self.kernel_initializer
            shapes = {"kernel": ([self._input_size(inputs) + out, 4 * units], init),
                      "bias": ([4 * units], zeros_initializer())}
            if peep:
                shapes.update({key: ([units], init) for key in ("w_f_diag", "w_i_diag", "w_o_diag")})
            if self.num_proj is not None:
                shapes["projection/kernel"] = ([units, out], init)
            self.variables = self._build(shapes["kernel"][0][0], shapes)
        if self.state_is_tuple:
            c, h = state
        else:
            c, h = _column_slice(state, 0, units, "c"), _column_slice(state, units, units + out, "h")
        names = ["kernel", "bias"] + (["w_f_diag", "w_i_diag", "w_o_diag"] if peep else [])
        names += ["projection/kernel"] if self.num_proj is not None else []

        def step(x, c_prev, h_prev, kernel, bias, *extra):
            z = ember.matmul(ember.concat([x, h_prev], axis=1), kernel) + bias
            i, j, f, o = ember.chunk(z, 4, axis=1)
            w_f = w_i = w_o = 0.0
            if peep:
                w_f, w_i, w_o = extra[0], extra[1], extra[2]
            c_new = ember.sigmoid(f + forget_bias + w_f * c_prev) * c_prev + ember.sigmoid(i + w_i * c_prev) * act(j)
            if cell_clip is not None:
                c_new = ember.clip(c_new, -cell_clip, cell_clip)
            m = ember.sigmoid(o + w_o * c_new) * act(c_new)
            if len(extra) > 3 * peep:
                m = ember.matmul(m, extra[-1])
                if proj_clip is not None:
                    m = ember.clip(m, -proj_clip, proj_clip)
            return ember.concat([c_new, m], axis=1)

        both = op(step, (inputs, as_tf(c), as_tf(h), *(self.variables[k] for k in names)), name=self.name)
        new_c, new_h = _column_slice(both, 0, units, "c"), _column_slice(both, units, units + out, "h")
        return new_h, (LSTMStateTuple(new_c, new_h) if self.state_is_tuple else both)


class GRUCell(RNNCell):
    """TF-1's GRU: r, u = sigmoid(concat(x, h) @ gates + 1-initialized bias); c = tanh(concat(x, r * h) @
    candidate); h' = u * h + (1 - u) * c. ``kernel_initializer`` and ``bias_initializer`` set both kernels and
    both biases, as TF-1's."""

    scope_name = "gru_cell"

    def __init__(self, num_units: int, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 name: str | None = None, dtype=None):
        super().__init__(num_units, activation, reuse, name, dtype)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer

    def __call__(self, inputs, state, scope=None):
        from ember.compat.tf.variables import constant_initializer

        inputs = as_tf(inputs)
        self._check_dtype(inputs, state)
        units, act = self.num_units, _tf_activation(self.activation)
        if self.variables is None:
            n = self._input_size(inputs) + units
            with variable_scope(self.name, reuse=self.reuse):
                kernel_init, bias_init = self.kernel_initializer, self.bias_initializer
                with variable_scope("gates"):
                    gates = (get_variable("kernel", [n, 2 * units], self.dtype, initializer=kernel_init),
                             get_variable("bias", [2 * units], self.dtype,
                                          initializer=bias_init or constant_initializer(1.0)))
                with variable_scope("candidate"):
                    candidate = (get_variable("kernel", [n, units], self.dtype, initializer=kernel_init),
                                 get_variable("bias", [units], self.dtype,
                                              initializer=bias_init or zeros_initializer()))
            self.variables = {"gates": gates, "candidate": candidate}

        def step(x, h, gk, gb, ck, cb):
            r, u = ember.chunk(ember.sigmoid(ember.matmul(ember.concat([x, h], axis=1), gk) + gb), 2, axis=1)
            c = act(ember.matmul(ember.concat([x, r * h], axis=1), ck) + cb)
            return u * h + (1.0 - u) * c

        h = op(step, (inputs, as_tf(state), *self.variables["gates"], *self.variables["candidate"]), name=self.name)
        return h, h


class MultiRNNCell(RNNCell):
    """Cells stacked: each one's output is the next one's input; the state is a tuple of their states (TF-1's
    deprecated concatenated state, ``state_is_tuple=False``, is refused)."""

    def __init__(self, cells, state_is_tuple: bool = True):
        if not state_is_tuple:
            raise ValueError("MultiRNNCell: state_is_tuple=False (one concatenated state) is not supported; use the "
                             "tuple of the cells' states")
        self.cells = list(cells)
        self.num_units = self.cells[-1].num_units
        self._inner = [cell.name for cell in self.cells]
        self.name = "multi_rnn_cell"

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:  # (a wrapper or an outer MultiRNNCell puts the stack in its scope)
        self._name = value
        for i, (cell, inner) in enumerate(zip(self.cells, self._inner)):
            cell.name = f"{value}/cell_{i}/{inner}"

    @property
    def state_size(self):
        return tuple(cell.state_size for cell in self.cells)

    def zero_state(self, batch_size, dtype=float32):
        return tuple(cell.zero_state(batch_size, dtype) for cell in self.cells)

    def _zero_state_like(self, inputs: Tensor, dtype):
        return tuple(cell._zero_state_like(inputs, dtype) for cell in self.cells)

    def __call__(self, inputs, state, scope=None):
        if not isinstance(state, (tuple, list)) or len(state) != len(self.cells):
            got = f"{len(state)} states" if isinstance(state, (tuple, list)) else f"{type(state).__name__} {state!r}"
            raise ValueError(f"MultiRNNCell: expected the state to be a tuple of {len(self.cells)} states, one per "
                             f"cell; got {got}")
        new_states = []
        for cell, s in zip(self.cells, state):
            inputs, s = cell(inputs, s)
            new_states.append(s)
        return inputs, tuple(new_states)


class _CellWrapper(RNNCell):
    """A cell around another: its sizes, zero state and (for MultiRNNCell's renaming) name are the wrapped
    cell's, and it adds no scope to its variables' names, as TF-1's wrappers."""

    def __init__(self, cell):
        if not isinstance(cell, RNNCell):
            raise TypeError(f"{type(self).__name__}: cell must be an RNN cell, got {type(cell).__name__}")
        self.cell = cell

    @property
    def name(self) -> str:
        return self.cell.name

    @name.setter
    def name(self, value: str) -> None:
        self.cell.name = value

    @property
    def num_units(self) -> int:
        return self.cell.num_units

    @property
    def variables(self):
        return self.cell.variables

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    def zero_state(self, batch_size, dtype=float32):
        return self.cell.zero_state(batch_size, dtype)

    def _zero_state_like(self, inputs: Tensor, dtype):
        return self.cell._zero_state_like(inputs, dtype)


def _keep_prob(wrapper: str, arg: str, value):
    """A keep probability: a fed tensor, or a number in (0, 1] (None when it is 1: no dropout, as TF-1)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 < value <= 1.0:
        raise ValueError(f"{wrapper}: {arg} must be a number in (0, 1] or a float tensor, got {value!r}")
    return None if value == 1.0 else float(value)


def _default_state_filter(substate):
    """TF-1's: an LSTM's memory ``c`` is never dropped, its ``h`` and every other state are."""
    return LSTMStateTuple(False, True) if isinstance(substate, LSTMStateTuple) else True


def _state_decisions(visitor, state):
    """Which parts of ``state`` to drop: ``visitor`` asked of the state and then of the parts it says True to
    (a bool for a whole part, or a tuple of bools for its elements), as TF-1's traversal."""
    decision = visitor(state)
    if not isinstance(state, tuple):
        if not isinstance(decision, (bool, np.bool_)):
            raise TypeError(f"DropoutWrapper: dropout_state_filter_visitor must return a bool for a tensor, got "
                            f"{decision!r}")
        return bool(decision)
    decisions = [decision] * len(state) if isinstance(decision, (bool, np.bool_)) else list(decision)
    if len(decisions) != len(state):
        raise ValueError(f"DropoutWrapper: dropout_state_filter_visitor returned {len(decisions)} decisions for a "
                         f"state of {len(state)} parts")
    parts = [_state_decisions(visitor, part) if keep else _all_false(part) for keep, part in zip(decisions, state)]
    return type(state)(*parts) if hasattr(state, "_fields") else tuple(parts)


def _all_false(state):
    if isinstance(state, tuple):
        parts = [_all_false(part) for part in state]
        return type(state)(*parts) if hasattr(state, "_fields") else tuple(parts)
    return False


def _map_state(fn, state, *others):
    if isinstance(state, tuple):
        parts = [_map_state(fn, *group) for group in zip(state, *others)]
        return type(state)(*parts) if hasattr(state, "_fields") else tuple(parts)
    return fn(state, *others)


class DropoutWrapper(_CellWrapper):
    """Dropout on the inputs, the outputs and the new state of ``cell`` (each with its keep probability, a
    number or a fed tensor; 1 adds none). By default a fresh mask each step; with ``variational_recurrent``,
    one (1, size) mask per ``Session.run`` shared by every step and every example (Gal and Ghahramani), as
    TF-1's (``input_size`` and ``dtype`` are then needed). An LSTM's ``c`` state is never dropped unless
    ``dropout_state_filter_visitor`` says so."""

    def __init__(self, cell, input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=1.0,
                 variational_recurrent: bool = False, input_size=None, dtype=None, seed=None,
                 dropout_state_filter_visitor=None):
        super().__init__(cell)
        self.keep = {arg: _keep_prob("DropoutWrapper", f"{arg}_keep_prob", value) for arg, value in
                     (("input", input_keep_prob), ("output", output_keep_prob), ("state", state_keep_prob))}
        self.seed = seed
        self.state_filter = dropout_state_filter_visitor or _default_state_filter
        if not callable(self.state_filter):
            raise TypeError("DropoutWrapper: dropout_state_filter_visitor must be a function of a state")
        self.noise = None
        if variational_recurrent:
            if dtype is None:
                raise ValueError("DropoutWrapper: variational_recurrent=True needs dtype")
            dtype = as_tf_dtype(dtype)
            if self.keep["input"] is not None and input_size is None:
                raise ValueError("DropoutWrapper: variational_recurrent=True with input dropout needs input_size "
                                 "(the depth of the inputs)")
            counter = iter(range(1 << 30))

            def noise(size, salt: str):
                from ember.compat.tf.array_ops import random_uniform

                size = int(size[-1] if isinstance(size, (list, tuple)) else getattr(size, "value", size))
                return random_uniform([1, size], dtype=dtype, seed=self._seed(salt, next(counter)))

            self.noise = {
                "input": None if self.keep["input"] is None else noise(input_size, "input"),
                "state": _map_state(lambda s: noise(s, "state"), cell.state_size),
                "output": noise(cell.output_size, "output"),
            }

    def _seed(self, salt: str, index: int):
        if self.seed is None:
            return None
        return (int(self.seed) * 1_000_003 + zlib.crc32(f"{salt}_{index}".encode())) % (2 ** 31 - 1)

    def _dropout(self, value, what: str, noise=None, index: int = 0):
        keep = self.keep[what]
        if noise is None:
            return nn.dropout(value, keep_prob=keep, seed=self._seed(what, index))
        # TF-1 draws the noise in dtype= and multiplies the value by it, which refuses another dtype
        value = as_tf(value)
        for name, other in (("the value", value), ("the keep probability", keep)):
            if isinstance(other, Tensor) and as_tf_dtype(other.dtype) != as_tf_dtype(noise.dtype):
                raise TypeError(f"DropoutWrapper: {name} for {what} dropout has dtype {as_tf_dtype(other.dtype).name}, "
                                f"but variational_recurrent draws its noise in dtype={as_tf_dtype(noise.dtype).name}; "
                                f"make the wrapper with the cell's dtype")
        return op(lambda v, k, u: v / k * ember.floor(k + u), (value, as_tf(keep), noise), name=f"{what}_dropout")

    def __call__(self, inputs, state, scope=None):
        noise = self.noise or {}
        if self.keep["input"] is not None:
            inputs = self._dropout(as_tf(inputs), "input", noise.get("input"))
        output, new_state = self.cell(inputs, state)
        if self.keep["state"] is not None:
            decisions = _state_decisions(self.state_filter, new_state)
            state_noise = noise["state"] if self.noise is not None else _map_state(lambda s: None, new_state)
            counter = iter(range(1 << 30))
            new_state = _map_state(lambda s, drop, u: self._dropout(s, "state", u, next(counter)) if drop else s,
                                   new_state, decisions, state_noise)
        if self.keep["output"] is not None:
            output = self._dropout(output, "output", noise.get("output"))
        return output, new_state


class ResidualWrapper(_CellWrapper):
    """``cell``'s output plus its inputs (or ``residual_fn(inputs, output)``); the state is the cell's."""

    def __init__(self, cell, residual_fn=None):
        super().__init__(cell)
        self.residual_fn = residual_fn

    def __call__(self, inputs, state, scope=None):
        inputs = as_tf(inputs)
        output, new_state = self.cell(inputs, state)
        if self.residual_fn is not None:
            return self.residual_fn(inputs, output), new_state
        if inputs.shape is not None and output.shape is not None and inputs.shape[-1] != output.shape[-1]:
            raise ValueError(f"ResidualWrapper: the inputs (shape {list(inputs.shape)}) and the cell's output (shape "
                             f"{list(output.shape)}) must have the same size to be added")
        return op(ember.add, (inputs, output), name="residual"), new_state


class DeviceWrapper(_CellWrapper):
    """``cell`` built and run under ``tf.device(device)``; its outputs, state and dtype are the cell's."""

    def __init__(self, cell, device):
        super().__init__(cell)
        with tf_device(device):  # refuses what tf.device refuses, when the wrapper is made
            pass
        self.device = device

    def zero_state(self, batch_size, dtype=float32):
        with tf_device(self.device):
            return self.cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state, scope=None):
        with tf_device(self.device):
            return self.cell(inputs, state)


class OutputProjectionWrapper(_CellWrapper):
    """``cell``'s output projected to ``output_size`` by ``kernel`` and ``bias`` (then ``activation``), under
    the scope ``output_projection_wrapper``, in which the wrapped cell's variables are too, as TF-1's."""

    scope_name = "output_projection_wrapper"

    def __init__(self, cell, output_size: int, activation=None, reuse=None):
        super().__init__(cell)
        if isinstance(output_size, bool) or not isinstance(output_size, numbers.Integral) or output_size < 1:
            raise ValueError(f"OutputProjectionWrapper: output_size must be a positive integer, got {output_size!r}")
        self.projection_size = int(output_size)
        self.activation = activation
        self.reuse = reuse
        self.projection = None
        self._inner = cell.name
        self._name = self.scope_name
        cell.name = f"{self._name}/{self._inner}"

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value
        self.cell.name = f"{value}/{self._inner}"

    @property
    def num_units(self) -> int:
        return self.projection_size

    @property
    def output_size(self) -> int:
        return self.projection_size

    def __call__(self, inputs, state, scope=None):
        output, new_state = self.cell(inputs, state)
        if self.projection is None:
            size = output.shape[-1] if output.shape is not None else None
            if size is None:
                raise ValueError(f"OutputProjectionWrapper: the cell's output size must be known, got shape "
                                 f"{output.shape}")
            with variable_scope(self._name, reuse=self.reuse):
                # in the output's dtype, as TF-1's (a float64 cell's projection is float64)
                self.projection = (get_variable("kernel", [int(size), self.projection_size], output.dtype),
                                   get_variable("bias", [self.projection_size], output.dtype,
                                                initializer=zeros_initializer()))
        projected = op(lambda h, k, b: ember.matmul(h, k) + b, (output, *self.projection), name=self._name)
        return (self.activation(projected) if self.activation is not None else projected), new_state


def _select(mask: Tensor, new, old):
    """Per-row ``new`` where the sequence is still running, else ``old`` (nested states too)."""
    if isinstance(new, tuple):
        return type(new)(*[_select(mask, n, o) for n, o in zip(new, old)]) if hasattr(new, "_fields") else tuple(
            _select(mask, n, o) for n, o in zip(new, old))
    return op(lambda m, a, b: ember.where(m, a, b), (mask, new, as_tf(old)), name="select")


def _checked_length(length: Tensor, inputs: Tensor, caller: str) -> Tensor:
    """``sequence_length``, refused unless it is a vector with one length per row of ``inputs`` (one length
    would otherwise be broadcast to every sequence)."""
    if length.shape is not None and len(length.shape) != 1:
        raise ValueError(f"{caller}: sequence_length must be a vector of length batch_size, got shape "
                         f"{list(length.shape)}")

    def check(n, x):
        if n.shape[0] is not None and x.shape[0] is not None and n.shape[0] != x.shape[0]:
            raise ValueError(f"{caller}: sequence_length has {n.shape[0]} lengths for a batch of {x.shape[0]} "
                             f"(inputs shape {list(x.shape)})")
        return n

    return op(check, (length, inputs), name="sequence_length")


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Run ``cell`` over the list ``inputs`` (one (batch, features) tensor per step): (outputs, final state)."""
    return _unroll(cell, inputs, initial_state, dtype, sequence_length, scope, "static_rnn")


def _unroll(cell, inputs, initial_state, dtype, sequence_length, scope, caller: str):
    inputs = [as_tf(x) for x in inputs]
    if not inputs:
        raise ValueError(f"{caller}: inputs must be a non-empty list of tensors")
    if initial_state is None and dtype is None:
        raise ValueError(f"{caller}: give dtype (or initial_state)")
    bad = next((x for x in inputs if x.shape is not None and len(x.shape) != 2), None)
    if bad is not None:  # Ember's cells take (batch, features) steps
        raise ValueError(f"{caller}: each time step of the inputs must be a (batch, features) tensor; got a step "
                         f"of shape {list(bad.shape)}")
    with variable_scope(scope or "rnn"):
        state = initial_state if initial_state is not None else cell._zero_state_like(inputs[0], dtype)
        outputs = []
        length = None if sequence_length is None else _checked_length(as_tf(sequence_length), inputs[0], caller)
        for t, x in enumerate(inputs):
            output, new_state = cell(x, state)
            if length is not None:
                running = op(lambda n, t=t: ember.reshape(ember.gt(ember.cast(n, "int64"), t), (-1, 1)), (length,),
                             name="running")
                # zeros past the length, as TF (a * 0 would keep a NaN or inf there)
                output = op(lambda m, a: ember.where(m, a, ember.zeros((), dtype=a.dtype)), (running, output),
                            name="masked_output")
                new_state = _select(running, new_state, state)
            outputs.append(output)
            state = new_state
    return outputs, state


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory: bool = False, time_major: bool = False, scope=None):
    """Run ``cell`` over the time axis of ``inputs`` ((batch, time, features), or (time, batch, features)
    with ``time_major``): (outputs of the same layout, final state). The time length must be known."""
    from ember.compat.tf.array_ops import stack, unstack

    inputs = as_tf(inputs)
    axis = 0 if time_major else 1
    if inputs.shape is None or inputs.shape[axis] is None:
        raise ValueError(f"dynamic_rnn: Ember unrolls the time steps, so the time dimension must be known; got "
                         f"shape {inputs.shape}")
    steps = unstack(inputs, axis=axis)
    outputs, state = _unroll(cell, steps, initial_state, dtype, sequence_length, scope, "dynamic_rnn")
    return stack(outputs, axis=axis), state


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None, dtype=None,
                             sequence_length=None, scope=None):
    """A forward and a backward RNN over the list ``inputs``: (per-step concat([fw, bw]), fw state, bw state).

    Without ``sequence_length`` the backward RNN reads the steps in reverse order; with it, Ember refuses
    (TF reverses each sequence within its own length)."""
    from ember.compat.tf.array_ops import concat

    if sequence_length is not None:
        raise ValueError("static_bidirectional_rnn: sequence_length is not supported; pad the sequences to one length")
    inputs = [as_tf(x) for x in inputs]
    with variable_scope(scope or "bidirectional_rnn"):
        forward, state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, scope="fw")
        backward, state_bw = static_rnn(cell_bw, inputs[::-1], initial_state_bw, dtype, scope="bw")
    outputs = [concat([f, b], 1) for f, b in zip(forward, backward[::-1])]
    return outputs, state_fw, state_bw


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, dtype=None, parallel_iterations=None, swap_memory: bool = False,
                              time_major: bool = False, scope=None):
    """((forward outputs, backward outputs), (forward state, backward state)) over the time axis of ``inputs``;
    with ``sequence_length``, the backward RNN reads each sequence from its last step, as TF-1's."""
    from ember.compat.tf.array_ops import stack, unstack

    inputs = as_tf(inputs)
    axis = 0 if time_major else 1
    if inputs.shape is None or inputs.shape[axis] is None:
        raise ValueError(f"bidirectional_dynamic_rnn: the time dimension must be known; got shape {inputs.shape}")
    steps = unstack(inputs, axis=axis)
    with variable_scope(scope or "bidirectional_rnn"):
        length = None if sequence_length is None else _checked_length(
            as_tf(sequence_length), steps[0], "bidirectional_dynamic_rnn")
        forward, state_fw = static_rnn(cell_fw, steps, initial_state_fw, dtype, length, scope="fw")
        if length is None:
            backward, state_bw = static_rnn(cell_bw, steps[::-1], initial_state_bw, dtype, scope="bw")
            return (stack(forward, axis=axis), stack(backward[::-1], axis=axis)), (state_fw, state_bw)
        # each sequence read backward within its own length (its padding stays at the end), as TF
        backward_steps = unstack(_reverse_within(inputs, length, axis), axis=axis)
        backward, state_bw = static_rnn(cell_bw, backward_steps, initial_state_bw, dtype, length, scope="bw")
    outputs_bw = _reverse_within(stack(backward, axis=axis), length, axis)
    return (stack(forward, axis=axis), outputs_bw), (state_fw, state_bw)


def _reverse_within(inputs: Tensor, length: Tensor, time_axis: int) -> Tensor:
    """``inputs`` with the first ``length[b]`` steps of each sequence b reversed and the rest left in place
    (TF's reverse_sequence; its own inverse)."""
    def fn(x, n):
        if time_axis == 0:
            x = ember.swapaxes(x, 0, 1)
        t = ember.reshape(ember.arange(x.shape[1]), (1, -1))
        n = ember.reshape(ember.cast(n, "int64"), (-1, 1))
        index = ember.where(t < n, n - 1 - t, t)
        index = ember.reshape(index, tuple(index.shape) + (1,) * (x.ndim - 2))
        out = ember.gather(x, 1, index + ember.zeros((1, 1) + tuple(x.shape[2:]), dtype="int64"))
        return ember.swapaxes(out, 0, 1) if time_axis == 0 else out

    return op(fn, (inputs, length), name="ReverseSequence")


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

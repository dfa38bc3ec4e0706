"""``tf.train``: optimizers whose ``minimize`` builds the training op, ``Saver``, checkpoint helpers."""

from __future__ import annotations

import enum
import json
import os
import time
from typing import NamedTuple

import numpy as np

import ember
from ember.backend.devices import array_module
from ember.checkpoint import write_text
from ember.compat.tf._core import Operation, Tensor, as_tf, depends, get_default_graph, group, op, tensors_in
from ember.compat.tf.learning_rate_decay import (
    cosine_decay,
    cosine_decay_restarts,
    exponential_decay,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)
from ember.compat.tf.slots import SlotSpec, _top_level, create_slots
from ember.compat.tf.update_rules import (
    on_rows,
    proximal_adagrad_update,
    proximal_gradient_descent_update,
    tf_adam_update,
)
from ember.compat.tf.variables import Variable, global_variables, trainable_variables
from ember.optim import functional as rules
from ember.optim.adadelta import adadelta_update

__all__ = [
    "AdadeltaOptimizer", "AdagradOptimizer", "AdamOptimizer", "CheckpointState", "ExponentialMovingAverage",
    "FtrlOptimizer", "GradientDescentOptimizer", "MomentumOptimizer", "Optimizer", "ProximalAdagradOptimizer",
    "ProximalGradientDescentOptimizer", "RMSPropOptimizer", "Saver", "checkpoint_exists", "cosine_decay",
    "cosine_decay_restarts", "exponential_decay", "get_checkpoint_state", "get_global_step",
    "get_or_create_global_step", "gradients", "inverse_time_decay", "latest_checkpoint", "natural_exp_decay",
    "piecewise_constant", "polynomial_decay",
]


class UnconnectedGradients(enum.Enum):
    """What ``tf.gradients`` gives for an x the ys do not depend on: None, or zeros of its shape."""

    NONE = "none"
    ZERO = "zero"


class _GradientRequest(tuple):
    """(ys, xs, grad_ys) of one ``tf.gradients`` call; ``for_training``: made by ``compute_gradients``, whose
    gradients a data-parallel job averages over the ranks as soon as they are computed."""

    for_training = False
    stop: tuple = ()  # the tensors held constant (``stop_gradients``)


def gradients(ys, xs, grad_ys=None, name: str = "gradients", colocate_gradients_with_ops: bool = False,
              gate_gradients: bool = False, aggregation_method=None, stop_gradients=None,
              unconnected_gradients="none") -> list:
    """Symbolic d(sum of ys)/dx for each x, built by the autodiff pass; for an x the ys do not depend on, None,
    or zeros of x's shape and dtype with ``unconnected_gradients="zero"`` (``tf.UnconnectedGradients.ZERO``).
    ``stop_gradients`` (a tensor or list) are held constant, as if wrapped in ``tf.stop_gradient`` where they
    are computed: no gradient flows past them, though an x among them gets its own. The placement and
    aggregation arguments change no value."""
    unconnected = getattr(unconnected_gradients, "value", unconnected_gradients)
    if unconnected not in ("none", "zero"):
        raise ValueError(f"tf.gradients: unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}")
    ys = [ys] if isinstance(ys, Tensor) else list(ys)
    xs = [xs] if isinstance(xs, Tensor) else list(xs)
    stop = () if stop_gradients is None else tuple(
        [stop_gradients] if isinstance(stop_gradients, Tensor) else stop_gradients)
    for s in stop:
        if not isinstance(s, Tensor):
            raise TypeError(f"tf.gradients: stop_gradients must hold tf Tensors, got {type(s).__name__}")
    if grad_ys is not None:  # one seed per y, each a tensor, a value to convert or None (ones)
        grad_ys = [grad_ys] if not isinstance(grad_ys, (list, tuple)) else list(grad_ys)
        if len(grad_ys) != len(ys):
            raise ValueError(f"tf.gradients: got {len(grad_ys)} grad_ys for {len(ys)} ys")
        grad_ys = [None if g is None else as_tf(g, y.graph) for g, y in zip(grad_ys, ys)]
    request = _GradientRequest((tuple(ys), tuple(xs), None if grad_ys is None else tuple(grad_ys)))
    request.stop = stop
    out = []
    for i, x in enumerate(xs):
        if not any(depends(y, x, differentiably=True, stop=stop) for y in ys):
            out.append(None if unconnected == "none" else op(ember.zeros_like, (x,), name=f"{name}/zeros_like"))
            continue
        out.append(Tensor(None, (request, i), name=name, shape=x._shape, dtype=x.dtype, kind="Gradients"))
    return out


def hessians(ys, xs, name: str = "hessians", colocate_gradients_with_ops: bool = False,
             gate_gradients: bool = False, aggregation_method=None) -> list:
    """For each x, the Hessian of the sum of ``ys`` with respect to x: shape ``x.shape + x.shape``, entry
    ``[i..., j...]`` the derivative by ``x[j...]`` of the gradient's entry ``i...`` (None for an x the ys do not
    depend on, as ``tf.gradients``). Built row by row from second-order gradients, so x's shape must be known."""
    from ember.compat.tf.array_ops import reshape, stack

    xs = [xs] if isinstance(xs, Tensor) else list(xs)
    out = []
    for x in xs:
        if not isinstance(x, Tensor):
            raise TypeError(f"tf.hessians: xs must hold tf Tensors, got {type(x).__name__}")
        if x.shape is None or None in x.shape:
            raise ValueError(f"tf.hessians: the shape of '{x.name}' must be fully known, got "
                             f"{None if x.shape is None else list(x.shape)} (Ember builds the Hessian row by row)")
        (grad,) = gradients(ys, x, name=f"{name}/gradients")
        if grad is None:
            out.append(None)
            continue
        flat = reshape(grad, [-1])
        size = int(np.prod(x.shape, dtype=np.int64))
        rows = [gradients(flat[j], x, name=f"{name}/gradients_{j}", unconnected_gradients="zero")[0]
                for j in range(size)]
        hessian = stack(rows) if rows else op(lambda v: ember.zeros((0,) + tuple(v.shape), dtype=v.dtype), (x,))
        out.append(reshape(hessian, list(x.shape) * 2, name=name))
    return out


def _number(value):
    """A hyper-parameter as a float, or as the tf Tensor it is (a decayed learning rate, a fed one)."""
    return value if isinstance(value, Tensor) else float(value)


_TF_HOOKS = ("_apply_dense", "_apply_sparse", "_create_slots", "_resource_apply_dense", "_resource_apply_sparse",
             "_apply_sparse_duplicate_indices", "_resource_apply_sparse_duplicate_indices", "_prepare", "_finish")


class Optimizer:
    """A TF-1 optimizer: ``minimize(loss)`` returns the training op (backward plus in-place updates).

    A hyper-parameter may be a tf Tensor (``tf.train.exponential_decay(...)``, a placeholder): it is computed
    in the step, before the updates, and the updates read it then.

    ``minimize`` and ``apply_gradients`` make the optimizer's slot variables (``slots.py``): ``SLOTS`` per
    trained variable, ``SHARED`` once (Adam's ``beta1_power``); ``EXTRA_STATE`` is what the rule also keeps
    that TF-1 does not save (a step count no result depends on). ``sparse_rule``: the rule's row-sparse form, as
    TF-1's ``_apply_sparse`` updates the rows an embedding lookup names and leaves the others and their slots
    alone; None where TF-1's sparse update equals the dense one on the summed gradient (SGD, Adagrad, Adam)."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2  # (``gate_gradients``: how TF orders the gradients' computation)
    rule = None
    sparse_rule = None
    SLOTS: tuple = ()
    SHARED: tuple = ()
    EXTRA_STATE: dict = {}
    slot_suffixes: dict = {}  # TF's slot name -> what its variables' names end with, where not the optimizer's name

    def __init__(self, name: str | None = None, **hyper):
        self._name = name or type(self).__name__.removesuffix("Optimizer")  # TF's: the training op's, the slots'
        self.slot_variables: dict = {}  # trained variable -> {state key: its slot variable}
        self.slots_by_name: dict = {}  # TF's slot name -> {trained variable: slot variable}
        self.shared_variables: dict = {}  # state key -> the optimizer's own variable (beta1_power)
        for key, value in hyper.items():
            if isinstance(value, (int, float)) and value < 0 and key != "learning_rate_power":
                raise ValueError(f"{type(self).__name__}: {key} must be non-negative, got {value}")
        self.tensor_hyper = {key: value for key, value in hyper.items() if isinstance(value, Tensor)}
        for key, value in self.tensor_hyper.items():
            if value.shape is not None and len(value.shape) != 0:
                raise ValueError(f"{type(self).__name__}: {key} must be a scalar tensor, got '{value.name}' of "
                                 f"shape {list(value.shape)}")
        # (NaN where a tensor gives the value: the compiled update reads the tensor's value instead, and a path
        # that read this entry would show it)
        self.hyper = {key: float("nan") if key in self.tensor_hyper else value for key, value in hyper.items()}

    def get_name(self) -> str:
        return self._name

    def _check_rule(self) -> None:
        """Refuse a subclass with no update rule or one that defines TF's hooks (``_apply_dense``,
        ``_create_slots``...), which Ember's optimizers do not call: its update would be silently another."""
        hooks = [hook for hook in _TF_HOOKS if hasattr(type(self), hook)]
        if self.rule is None or hooks:
            raise NotImplementedError(
                f"{type(self).__name__}: Ember's tf.train.Optimizer runs the update rules of its own optimizers "
                f"and does not call TF's hooks ({', '.join(hooks or _TF_HOOKS[:3])}); subclass one of them "
                "(e.g. GradientDescentOptimizer) unchanged, or write the update with tf.assign_sub on tf.gradients")

    def get_slot_names(self) -> list:
        """The names of the slots made so far (``["m", "v"]`` for Adam after ``minimize``), sorted."""
        return sorted(self.slots_by_name)

    def get_slot(self, var: Variable, name: str):
        """``var``'s slot ``name`` (a variable, ``v/Adam`` for Adam's ``"m"``), or None when it has none."""
        return self.slots_by_name.get(name, {}).get(var)

    def variables(self) -> list:
        """The optimizer's variables: its own (``beta1_power``...) and its slots."""
        return list(self.shared_variables.values()) + [s for slots in self.slot_variables.values()
                                                        for s in slots.values()]

    def minimize(self, loss: Tensor, global_step=None, var_list=None, gate_gradients: int = GATE_OP,
                 aggregation_method=None, colocate_gradients_with_ops: bool = False, name: str | None = None,
                 grad_loss=None) -> Operation:
        """The op that runs one step of this rule on ``var_list`` (default: trainable variables); it is named
        ``name``, else as the optimizer (``"Adam"``), as in TF-1, so ``sess.run("Adam")`` runs it.
        ``grad_loss``: the gradient of the loss to start the backward from (ones by default). The gating,
        aggregation and placement arguments change no value."""
        if grad_loss is not None:
            return self.apply_gradients(self.compute_gradients(loss, var_list, grad_loss=grad_loss), global_step,
                                        name)
        _float_loss("minimize", loss)
        given = list(var_list) if var_list is not None else trainable_variables()
        var_list = [v for v in given if depends(loss, v, differentiably=True)]
        if not var_list:
            integers = [f"'{v.name}' ({v.dtype})" for v in given if np.dtype(v.dtype).kind in "iub"
                        and depends(loss, v)]
            raise ValueError("minimize: no trainable variable that the loss depends on" + (
                f"; variables of integer or bool dtype have no gradient: {', '.join(integers)}" if integers else ""))
        self._check_rule()
        create_slots(self, var_list)
        op = Operation(None, (loss, tuple(var_list)), name=name or self._name, kind="Train")
        op.optimizer = self
        op.global_step = global_step
        return op

    def compute_gradients(self, loss: Tensor, var_list=None, gate_gradients: int = GATE_OP, aggregation_method=None,
                          colocate_gradients_with_ops: bool = False, grad_loss=None) -> list:
        """[(gradient, variable)] for each of ``var_list`` (the trainable variables by default), the gradient
        None for a variable the loss does not depend on, as TF-1 gives them; ``grad_loss`` as in ``minimize``."""
        _float_loss("compute_gradients", loss)
        var_list = list(var_list) if var_list is not None else trainable_variables()
        used = [v for v in var_list if depends(loss, v, differentiably=True)]
        grads = gradients(loss, used, grad_ys=grad_loss) if used else []
        if grads:
            grads[0].args[0].for_training = True  # (averaged over the ranks where computed: clipping reads the mean)
        found = dict(zip(map(id, used), grads))
        return [(found.get(id(v)), v) for v in var_list]

    def apply_gradients(self, grads_and_vars, global_step=None, name: str | None = None) -> Operation:
        """The op that applies these (gradient, variable) pairs: the output of ``compute_gradients`` as it is, or
        transformed (clipped, scaled, summed); a None gradient leaves its variable alone."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            raise ValueError("apply_gradients: no gradients provided for any variable")
        for g, v in pairs:
            if not isinstance(v, Variable):
                raise TypeError(f"apply_gradients: {v!r} is not a tf.Variable")
            if g.shape is not None and v.shape is not None and len(g.shape) == len(v.shape) \
                    and any(a is not None and a != b for a, b in zip(g.shape, v.shape)):
                raise ValueError(f"apply_gradients: gradient '{g.name}' of shape {list(g.shape)} for variable "
                                 f"'{v.name}' of shape {list(v.shape)}")
        requests = {id(g.args[0]): g.args[0] for g, _ in pairs if g.kind == "Gradients"}
        if len(requests) == 1 and all(g.kind == "Gradients" for g, _ in pairs):
            (request,) = requests.values()
            (ys, xs, grad_ys) = request
            # unmodified (each gradient its own variable's, nothing held constant): the one backward of minimize
            if len(ys) == 1 and grad_ys is None and not request.stop \
                    and all(xs[g.args[1]] is v for g, v in pairs):
                return self.minimize(ys[0], global_step, [v for _, v in pairs], name=name)
        self._check_rule()
        create_slots(self, [v for _, v in pairs])
        op = Operation(None, (tuple(g for g, _ in pairs), tuple(v for _, v in pairs)), name=name or self._name,
                       kind="ApplyGradients")
        op.optimizer = self
        op.global_step = global_step
        return op


def _float_loss(what: str, loss) -> None:
    """TF-1's optimizers differentiate a float loss only (an integer one is a ValueError naming its dtype)."""
    dtype = getattr(loss, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "fV":
        raise ValueError(f"{what}: the loss '{loss.name}' has dtype {dtype}; it must be float16, bfloat16, float32 "
                         "or float64 (an integer tensor has no gradient)")


class GradientDescentOptimizer(Optimizer):
    """Plain SGD: var -= learning_rate * grad."""

    rule = staticmethod(rules.sgd_update)

    def __init__(self, learning_rate: float, use_locking: bool = False, name: str = "GradientDescent"):
        super().__init__(name, lr=_number(learning_rate))


class MomentumOptimizer(Optimizer):
    """SGD with momentum: accum = momentum * accum + grad; var -= learning_rate * accum (with ``use_nesterov``,
    var -= learning_rate * (grad + momentum * accum), TF's rule, which is PyTorch's without dampening)."""

    rule = staticmethod(rules.sgd_update)
    sparse_rule = staticmethod(rules.sparse_sgd_update)  # (TF's lazy momentum: only the rows looked up decay)
    SLOTS = (SlotSpec("momentum", "momentum_buffer", 0.0),)

    def __init__(self, learning_rate: float, momentum: float, use_locking: bool = False, name: str = "Momentum",
                 use_nesterov: bool = False):
        super().__init__(name, lr=_number(learning_rate), momentum=_number(momentum), nesterov=use_nesterov)


class AdamOptimizer(Optimizer):
    """Adam as TF-1 computes it: epsilon added to ``sqrt(v)`` (see ``update_rules.tf_adam_update``)."""

    rule = staticmethod(tf_adam_update)
    SLOTS = (SlotSpec("m", "m", 0.0), SlotSpec("v", "v", 0.0))
    SHARED = (SlotSpec("beta1_power", "beta1_power", "beta1"), SlotSpec("beta2_power", "beta2_power", "beta2"))

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 use_locking: bool = False, name: str = "Adam"):
        super().__init__(name, lr=_number(learning_rate), beta1=_number(beta1), beta2=_number(beta2),
                         eps=_number(epsilon))


class AdagradOptimizer(Optimizer):
    """Adagrad, accumulators starting at ``initial_accumulator_value``."""

    rule = staticmethod(rules.adagrad_update)
    SLOTS = (SlotSpec("accumulator", "sum", "initial_accumulator_value"),)
    EXTRA_STATE = {"step": 0}

    def __init__(self, learning_rate: float, initial_accumulator_value: float = 0.1, use_locking: bool = False,
                 name: str = "Adagrad"):
        if initial_accumulator_value <= 0:  # (TF-1's update has no epsilon: a zero accumulator divides 0 by 0)
            raise ValueError(f"AdagradOptimizer: initial_accumulator_value must be positive, got "
                             f"{initial_accumulator_value}")
        super().__init__(name, lr=_number(learning_rate), initial_accumulator_value=float(initial_accumulator_value),
                         eps=0.0)


class ProximalGradientDescentOptimizer(Optimizer):
    """A gradient step followed by the proximal step of L1 and L2 penalties (TF-1's
    ``ApplyProximalGradientDescent``)."""

    rule = staticmethod(proximal_gradient_descent_update)
    sparse_rule = staticmethod(on_rows(proximal_gradient_descent_update))

    def __init__(self, learning_rate: float, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False,
                 name: str = "ProximalGradientDescent"):
        super().__init__(name, lr=_number(learning_rate), l1=_number(l1_regularization_strength),
                         l2=_number(l2_regularization_strength))


class ProximalAdagradOptimizer(Optimizer):
    """Adagrad's step size ``lr / sqrt(accum)`` with the proximal step of L1 and L2 penalties (TF-1's
    ``ApplyProximalAdagrad``); accumulators start at ``initial_accumulator_value``."""

    rule = staticmethod(proximal_adagrad_update)
    sparse_rule = staticmethod(on_rows(proximal_adagrad_update))
    SLOTS = (SlotSpec("accumulator", "accum", "initial_accumulator_value"),)

    def __init__(self, learning_rate: float, initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0, l2_regularization_strength: float = 0.0,
                 use_locking: bool = False, name: str = "ProximalAdagrad"):
        if initial_accumulator_value <= 0:
            raise ValueError(f"ProximalAdagradOptimizer: initial_accumulator_value must be positive, got "
                             f"{initial_accumulator_value}")
        super().__init__(name, lr=_number(learning_rate), initial_accumulator_value=float(initial_accumulator_value),
                         l1=_number(l1_regularization_strength), l2=_number(l2_regularization_strength))


def tf_rmsprop_update(param, grad, state: dict, *, lr: float, decay: float, momentum: float, eps: float) -> None:
    """TF-1's RMSProp (``ApplyRMSProp``), which differs from PyTorch's: the mean square starts at 1, epsilon
    is added inside the square root, and the momentum accumulates the scaled step.

    ms = decay * ms + (1 - decay) * g^2;  mom = momentum * mom + lr * g / sqrt(ms + eps);  var -= mom
    """
    xp = array_module(param)
    kind = param.dtype.type
    if not state:
        state["ms"] = xp.ones_like(param)
        state["mom"] = xp.zeros_like(param)
    ms, mom = state["ms"], state["mom"]
    ms *= kind(decay)
    ms += kind(1.0 - decay) * grad * grad
    mom *= kind(momentum)
    mom += kind(lr) * grad / xp.sqrt(ms + kind(eps))
    param -= mom


def tf_centered_rmsprop_update(param, grad, state: dict, lr: float, decay: float, momentum: float, eps: float):
    """TF-1's centered RMSProp (``ApplyCenteredRMSProp``): the mean square less the square of the mean gradient.

    ms = decay * ms + (1 - decay) * g^2;  mg = decay * mg + (1 - decay) * g
    mom = momentum * mom + lr * g / sqrt(ms - mg^2 + eps);  var -= mom
    """
    xp = array_module(param)
    kind = param.dtype.type
    if not state:
        state["ms"] = xp.ones_like(param)
        state["mg"] = xp.zeros_like(param)
        state["mom"] = xp.zeros_like(param)
    ms, mg, mom = state["ms"], state["mg"], state["mom"]
    ms *= kind(decay)
    ms += kind(1.0 - decay) * grad * grad
    mg *= kind(decay)
    mg += kind(1.0 - decay) * grad
    mom *= kind(momentum)
    mom += kind(lr) * grad / xp.sqrt(ms - mg * mg + kind(eps))
    param -= mom


_sparse_centered_rmsprop_update = on_rows(tf_centered_rmsprop_update)


class RMSPropOptimizer(Optimizer):
    """RMSProp with TF-1's defaults and update rule (see ``tf_rmsprop_update``; ``centered``:
    ``tf_centered_rmsprop_update``, with TF's slot ``mg`` between ``rms`` and ``momentum``)."""

    rule = staticmethod(tf_rmsprop_update)
    sparse_rule = staticmethod(on_rows(tf_rmsprop_update))
    SLOTS = (SlotSpec("rms", "ms", 1.0), SlotSpec("momentum", "mom", 0.0))

    def __init__(self, learning_rate: float, decay: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-10,
                 use_locking: bool = False, centered: bool = False, name: str = "RMSProp"):
        if centered:  # (this optimizer's own rule and slots)
            self.rule, self.sparse_rule = tf_centered_rmsprop_update, _sparse_centered_rmsprop_update
            self.SLOTS = (SlotSpec("rms", "ms", 1.0), SlotSpec("mg", "mg", 0.0), SlotSpec("momentum", "mom", 0.0))
        super().__init__(name, lr=_number(learning_rate), decay=_number(decay), momentum=_number(momentum),
                         eps=_number(epsilon))


class AdadeltaOptimizer(Optimizer):
    """Adadelta (TF-1's defaults: learning_rate 0.001, rho 0.95, epsilon 1e-8)."""

    rule = staticmethod(adadelta_update)
    sparse_rule = staticmethod(on_rows(adadelta_update))
    SLOTS = (SlotSpec("accum", "square_avg", 0.0), SlotSpec("accum_update", "acc_delta", 0.0))
    EXTRA_STATE = {"step": 0}

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.95, epsilon: float = 1e-8,
                 use_locking: bool = False, name: str = "Adadelta"):
        super().__init__(name, lr=_number(learning_rate), rho=_number(rho), eps=_number(epsilon))


class FtrlOptimizer(Optimizer):
    """FTRL-Proximal, as TensorFlow computes it (``ember.optim.functional.ftrl_update``); ``accum_name`` and
    ``linear_name`` end the names of the slot variables (``w/accum_name``; the optimizer's name by default)."""

    rule = staticmethod(rules.ftrl_update)
    sparse_rule = staticmethod(rules.sparse_ftrl_update)
    SLOTS = (SlotSpec("accum", "accumulator", "initial_accumulator_value"), SlotSpec("linear", "linear", 0.0))

    def __init__(self, learning_rate: float, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False, name: str = "Ftrl",
                 accum_name=None, linear_name=None, l2_shrinkage_regularization_strength: float = 0.0,
                 beta=None):
        if learning_rate_power > 0:
            raise ValueError(f"FtrlOptimizer: learning_rate_power must be <= 0, got {learning_rate_power}")
        self.slot_suffixes = {"accum": accum_name, "linear": linear_name}  # (TF-1's slot names: v/accum_name)
        super().__init__(name, lr=_number(learning_rate), learning_rate_power=float(learning_rate_power),
                         initial_accumulator_value=float(initial_accumulator_value),
                         l1=_number(l1_regularization_strength), l2=_number(l2_regularization_strength),
                         l2_shrinkage=_number(l2_shrinkage_regularization_strength),
                         beta=0.0 if beta is None else float(beta))


class ExponentialMovingAverage:
    """Shadow copies of variables (or tensors) that ``apply`` moves toward their values:
    ``shadow -= (1 - decay) * (shadow - value)``; with ``num_updates``, the decay is
    ``min(decay, (1 + num_updates) / (10 + num_updates))``. A variable's shadow starts at its initial value, a
    tensor's at zeros (with ``zero_debias``, a tensor's average is divided by ``1 - decay ** steps``, as TF-1's).

    >>> ema = tf.train.ExponentialMovingAverage(0.999)
    >>> with tf.control_dependencies([train]):
    ...     train_and_average = ema.apply(tf.trainable_variables())
    """

    def __init__(self, decay: float, num_updates=None, zero_debias: bool = False,
                 name: str = "ExponentialMovingAverage"):
        self.decay = decay if isinstance(decay, Tensor) else float(decay)  # (a tensor: read in each step, as TF-1)
        self.num_updates, self.zero_debias, self.name = num_updates, bool(zero_debias), name
        self.shadows: dict = {}
        self.debiased: dict = {}  # a zero-debiased tensor's shadow -> its (biased, local_step) variables

    def apply(self, var_list=None) -> Operation:
        """The op that updates the shadows of ``var_list``: variables, or tensors such as a batch's moments
        (default: the trainable variables)."""
        values = trainable_variables() if var_list is None else list(var_list)
        for var in values:
            if not isinstance(var, Tensor) or isinstance(var, Operation):
                raise TypeError(f"ExponentialMovingAverage.apply: {var!r} is not a tf.Variable or tf.Tensor")
            if var.dtype is None or var.dtype.kind != "f":
                raise TypeError(f"ExponentialMovingAverage.apply: {var.name} has dtype {var.dtype}; it must be float")
            if not isinstance(var, Variable) and (var._shape is None or None in var._shape):
                raise ValueError(f"ExponentialMovingAverage.apply: the shape of {var.name} must be fully known to "
                                 f"average it, got {var.shape}")
        decay = self.decay
        if self.num_updates is not None:
            decay = op(lambda n, d: ember.minimum((1.0 + ember.cast(n, "float32")) / (10.0 + ember.cast(n, "float32")),
                                                  ember.cast(d, "float32")),
                       (as_tf(self.num_updates), as_tf(self.decay)), name="decay")
        updates = []
        for var in values:
            shadow = self.shadows.get(var) or self._shadow(var)
            parts = self.debiased.get(shadow)
            if parts is None:
                step = op(lambda s, v, d: (s - v) * (1.0 - ember.cast(d, s.dtype)), (shadow, var, as_tf(decay)),
                          name=f"{self.name}/AssignMovingAvg")
                updates.append(shadow.assign_sub(step))
                continue
            biased, local_step = parts  # TF-1's zero debiasing: the biased average over 1 - decay ** steps
            moved = biased.assign_sub(op(lambda b, v, d: (b - v) * (1.0 - ember.cast(d, b.dtype)),
                                         (biased, var, as_tf(decay)), name=f"{self.name}/AssignMovingAvg"))
            steps = local_step.assign_add(np.ones((), local_step.dtype))
            debiased = op(lambda b, n, d: b / (1.0 - ember.pow(ember.cast(d, b.dtype), n)),
                          (moved, steps, as_tf(decay)), name=f"{self.name}/debiased")
            updates.append(shadow.assign(debiased))
        return group(*updates, name=self.name)

    def _shadow(self, var: Tensor) -> Variable:
        """A new shadow (made as TF-1's, outside control dependencies: reading it must not run them)."""
        with _top_level(var.graph):
            if isinstance(var, Variable):
                var.graph.add_to_collection("moving_average_variables", var)  # (the variables, as TF-1's)
                shadow = Variable(var.initialized_value(), trainable=False, name=self.average_name(var))
            else:
                zeros = np.zeros(var._shape, var.dtype)
                shadow = Variable(zeros, trainable=False, name=self.average_name(var))
                if self.zero_debias:
                    self.debiased[shadow] = (
                        Variable(zeros, trainable=False, name=f"{shadow.op.name}/biased"),
                        Variable(np.zeros((), var.dtype), trainable=False, name=f"{shadow.op.name}/local_step"))
        self.shadows[var] = shadow
        return shadow

    def average(self, var):
        """The shadow of ``var`` (None if ``apply`` has not been called on it)."""
        return self.shadows.get(var)

    def average_name(self, var) -> str:
        return f"{var.op.name}/{self.name}"

    def variables_to_restore(self, moving_avg_variables=None) -> dict:
        """{name: variable} that makes a ``Saver`` load into each of ``moving_avg_variables`` (default: the
        trainable variables and those ``apply`` averaged) the average saved for it, and into every other global
        variable its own value, as TF-1's."""
        if moving_avg_variables is None:
            moving_avg_variables = (trainable_variables()
                                    + get_default_graph().get_collection("moving_average_variables"))
        averaged = list(dict.fromkeys(moving_avg_variables))
        names = {self.average_name(var): var for var in averaged}
        for var in global_variables():
            if var not in averaged and var.op.name not in names:
                names[var.op.name] = var
        return names


# --- global step and checkpoints -----------------------------------------------------------------------------


def get_or_create_global_step() -> Variable:
    """The graph's ``global_step`` variable (int64, not trained), created on the first call."""
    graph = get_default_graph()
    step = graph.named.get("global_step")
    if step is None:
        step = graph.named["global_step"] = Variable(np.int64(0), trainable=False, name="global_step")
    return step


create_global_step = get_or_create_global_step


def get_global_step():
    return get_default_graph().named.get("global_step")


class Saver:
    """Saves and restores variables by name (Ember's checkpoint format at exactly the given path); keeps the
    ``max_to_keep`` most recent checkpoints it wrote, deleting older ones (except one per
    ``keep_checkpoint_every_n_hours``), as TF-1's Saver."""

    def __init__(self, var_list=None, reshape: bool = False, sharded: bool = False, max_to_keep: int | None = 5,
                 keep_checkpoint_every_n_hours: float = 10000.0, name: str | None = None,
                 restore_sequentially: bool = False, saver_def=None, builder=None, defer_build: bool = False,
                 allow_empty: bool = False, write_version=None, pad_step_number: bool = False,
                 save_relative_paths: bool = False, filename: str | None = None):
        # (the arguments about how TF builds its save ops change nothing here; a misspelled one is an error)
        self.pad_step_number = pad_step_number
        if isinstance(var_list, dict):
            self.variables = dict(var_list)
            named: dict = {}
            for key, var in self.variables.items():
                if id(var) in named:
                    raise ValueError(f"Saver: the same variable would be saved and restored under two names: "
                                     f"{named[id(var)]!r} and {key!r}")
                named[id(var)] = key
        else:
            variables = global_variables() if var_list is None else list(tensors_in(var_list))
            self.variables = {v.op.name: v for v in variables}  # (TF-1 saves under op names: "w", not "w:0")
            if len(self.variables) < len(variables):
                seen = set()
                twice = next(v.op.name for v in variables if v.op.name in seen or seen.add(v.op.name))
                raise ValueError(f"Saver: at least two variables have the same name: {twice}")
        if not self.variables and not allow_empty:
            raise ValueError("Saver: no variables to save (pass allow_empty=True for a Saver of none)")
        self.max_to_keep = max_to_keep
        self.last_checkpoints: list[str] = []  # the paths this Saver wrote, oldest first
        # a checkpoint older than max_to_keep allows is still kept once per keep_checkpoint_every_n_hours
        self._keep_every = keep_checkpoint_every_n_hours * 3600
        self._next_kept = time.time() + self._keep_every
        self._saved_at: dict[str, float] = {}

    def save(self, sess, save_path: str, global_step=None, latest_filename: str | None = None,
             meta_graph_suffix: str = "meta", write_meta_graph: bool = True, write_state: bool = True,
             strip_default_attrs: bool = False, save_debug_info: bool = False) -> str | None:
        """Write the variables' values to ``save_path`` (``-<step>`` appended with ``global_step``, 8 digits with
        ``pad_step_number``); return the path. With ``write_state`` (the default) the checkpoint is recorded in
        the directory's index (``latest_filename``, "checkpoint" by default) and counts for ``max_to_keep``."""
        if not self.variables:  # (a Saver made with allow_empty: nothing to write)
            return None
        if global_step is not None:
            step = global_step if isinstance(global_step, (int, np.integer)) else int(sess.run(global_step))
            save_path = f"{save_path}-{step:08d}" if self.pad_step_number else f"{save_path}-{step}"
        directory = os.path.dirname(os.path.abspath(save_path))
        os.makedirs(directory, exist_ok=True)
        ember.save({name: np.array(sess.variable_value(v)) for name, v in self.variables.items()}, save_path)
        if not write_state:
            return save_path
        self._saved_at[save_path] = time.time()
        if save_path in self.last_checkpoints:
            self.last_checkpoints.remove(save_path)
        self.last_checkpoints.append(save_path)
        kept = self.last_checkpoints[-self.max_to_keep:] if self.max_to_keep else self.last_checkpoints  # None/0: all
        # the index first, written atomically, then the deletions (as TF): a crash in between leaves an index that
        # names files which exist
        write_text(os.path.join(directory, latest_filename or "checkpoint"),
                   json.dumps({"model_checkpoint_path": os.path.basename(save_path),
                               "all_model_checkpoint_paths": [os.path.basename(p) for p in kept]}))
        for old in self.last_checkpoints[:len(self.last_checkpoints) - len(kept)]:
            if self._saved_at.pop(old, 0.0) > self._next_kept:
                self._next_kept += self._keep_every
            elif os.path.exists(old):
                os.remove(old)
        self.last_checkpoints = kept
        return save_path

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        """Take up the checkpoints an earlier Saver kept (``get_checkpoint_state(dir).all_model_checkpoint_paths``),
        those that still exist, oldest first, so ``max_to_keep`` counts and deletes them too (as TF-1's)."""
        self.last_checkpoints = [path for path in checkpoint_paths if os.path.isfile(path)]

    def restore(self, sess, save_path: str) -> None:
        """Load the variables' values from a file ``save`` wrote."""
        if save_path is None:  # (tf.train.latest_checkpoint of a directory with no checkpoint)
            raise ValueError("Saver.restore: can't load save_path when it is None")
        if not os.path.exists(save_path):
            raise ValueError(f"Saver.restore: no checkpoint at {save_path!r}")
        saved = ember.load(save_path)
        missing = [name for name in self.variables if name not in saved]
        if missing:
            raise ValueError(f"Saver.restore: {save_path!r} has no values for {missing}")
        for name, var in self.variables.items():
            if tuple(saved[name].shape) != tuple(var.shape):
                raise ValueError(f"Saver.restore: {name} has shape {list(saved[name].shape)} in {save_path!r}, "
                                 f"the variable {list(var.shape)}")
            if np.dtype(saved[name].dtype) != np.dtype(var.dtype):  # (TF-1 refuses to convert, as here)
                raise ValueError(f"Saver.restore: {name} has dtype {np.dtype(saved[name].dtype)} in {save_path!r}, "
                                 f"the variable {np.dtype(var.dtype)}")
        sess.load_values({var: saved[name] for name, var in self.variables.items()})


def latest_checkpoint(checkpoint_dir: str) -> str | None:
    """The path ``Saver.save`` wrote last in ``checkpoint_dir`` (None when there is none)."""
    state = get_checkpoint_state(checkpoint_dir)
    return None if state is None else state.model_checkpoint_path


class CheckpointState(NamedTuple):
    """What ``get_checkpoint_state`` reads: the latest checkpoint and those kept, as paths in the directory."""

    model_checkpoint_path: str
    all_model_checkpoint_paths: list


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None) -> CheckpointState | None:
    """The ``checkpoint`` index ``Saver.save`` keeps in ``checkpoint_dir`` (None when there is none), its
    paths joined to the directory, as TF-1 gives them."""
    index = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    if not os.path.exists(index):
        return None
    with open(index) as f:
        saved = json.load(f)
    in_dir = lambda path: os.path.join(checkpoint_dir, path)  # noqa: E731 (absolute paths stay as they are)
    return CheckpointState(in_dir(saved["model_checkpoint_path"]),
                           [in_dir(path) for path in saved.get("all_model_checkpoint_paths", [])])


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """Whether ``Saver.save`` wrote a checkpoint at ``checkpoint_prefix``."""
    return os.path.isfile(checkpoint_prefix)


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

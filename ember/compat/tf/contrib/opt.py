"""``tf.contrib.opt``: decoupled weight decay (Loshchilov and Hutter): ``AdamWOptimizer``, ``MomentumWOptimizer``
and ``extend_with_decoupled_weight_decay`` for any other optimizer."""

from __future__ import annotations

from ember.compat.tf._core import Operation, Tensor
from ember.compat.tf.train import AdamOptimizer, MomentumOptimizer, Optimizer, _number
from ember.compat.tf.update_rules import decoupled_weight_decay, on_dense, without_weight_decay
from ember.compat.tf.variables import Variable

__all__ = ["AdamWOptimizer", "DecoupledWeightDecayExtension", "MomentumWOptimizer",
           "extend_with_decoupled_weight_decay"]


class DecoupledWeightDecayExtension:
    """TF-1 contrib's decoupled weight decay over the optimizer it comes before in the bases: each step first
    decays a trained variable, ``var -= weight_decay * var`` (not multiplied by the learning rate: scale it
    yourself, as in TF-1), then takes the base optimizer's step with the gradient of the undecayed variable.
    ``minimize`` and ``apply_gradients`` take ``decay_var_list``: only those variables decay, the others take
    the plain step (None or an empty list: every trained variable decays, as in TF-1). ``weight_decay`` may be
    a tensor (a schedule). A row-sparse gradient (an embedding lookup's) decays only the rows it names."""

    def __init__(self, weight_decay, *args, **kwargs):
        if callable(weight_decay) and not isinstance(weight_decay, Tensor):
            raise TypeError(f"{type(self).__name__}: weight_decay must be a number or a scalar tensor, not a "
                            "function")
        super().__init__(*args, **kwargs)
        Optimizer.__init__(self, self._name, **{**self.hyper, **self.tensor_hyper},
                           weight_decay=_number(weight_decay))
        rule, sparse_rule = self.rule, self.sparse_rule  # (the base's, RMSProp(centered=True)'s own)
        if sparse_rule is None:  # (the base's sparse step is its dense one, but the decay is of the rows named)
            sparse_rule = on_dense(rule)
        self.rule, self.sparse_rule = decoupled_weight_decay(rule), decoupled_weight_decay(sparse_rule, sparse=True)
        self._spared = without_weight_decay(rule), without_weight_decay(sparse_rule)

    def _decay_only(self, op: Operation, decay_var_list) -> Operation:
        """``op`` with the plain step for the variables it trains that are not in ``decay_var_list``."""
        if isinstance(decay_var_list, Tensor):
            raise TypeError(f"{type(self).__name__}: decay_var_list must be a list of tf.Variables, got "
                            f"{decay_var_list!r}")
        if not decay_var_list:
            return op
        for var in decay_var_list:
            if not isinstance(var, Variable):
                raise TypeError(f"{type(self).__name__}: decay_var_list must hold tf.Variables, got {var!r}")
        decayed = set(map(id, decay_var_list))
        trained = op.args[1]
        if all(id(var) in decayed for var in trained):
            return op
        spared, spared_sparse = self._spared
        op.rules = ([self.rule if id(var) in decayed else spared for var in trained],
                    [self.sparse_rule if id(var) in decayed else spared_sparse for var in trained])
        return op

    def minimize(self, loss, global_step=None, var_list=None, gate_gradients: int = 1, aggregation_method=None,
                 colocate_gradients_with_ops: bool = False, name: str | None = None, grad_loss=None,
                 decay_var_list=None) -> Operation:
        """The training op: decay (the variables of ``decay_var_list``, default all) then the base optimizer's
        step on ``var_list`` (default: the trainable variables)."""
        return self._decay_only(super().minimize(loss, global_step, var_list, name=name, grad_loss=grad_loss),
                                decay_var_list)

    def apply_gradients(self, grads_and_vars, global_step=None, name: str | None = None,
                        decay_var_list=None) -> Operation:
        """The op that decays (the variables of ``decay_var_list``, default all) and then updates the variables
        of these (gradient, variable) pairs."""
        return self._decay_only(super().apply_gradients(grads_and_vars, global_step, name), decay_var_list)


class AdamWOptimizer(DecoupledWeightDecayExtension, AdamOptimizer):
    """TF-1 contrib's AdamW: decoupled weight decay over TF-1's Adam. Slots ``v/AdamW`` and ``v/AdamW_1``."""

    def __init__(self, weight_decay, learning_rate=0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, use_locking: bool = False, name: str = "AdamW"):
        super().__init__(weight_decay, learning_rate, beta1, beta2, epsilon, use_locking, name)


class MomentumWOptimizer(DecoupledWeightDecayExtension, MomentumOptimizer):
    """TF-1 contrib's MomentumW (SGDW): decoupled weight decay over ``tf.train.MomentumOptimizer``. Slot
    ``v/MomentumW``."""

    def __init__(self, weight_decay, learning_rate, momentum, use_locking: bool = False, name: str = "MomentumW",
                 use_nesterov: bool = False):
        super().__init__(weight_decay, learning_rate, momentum, use_locking, name, use_nesterov)


def extend_with_decoupled_weight_decay(base_optimizer: type) -> type:
    """A class of ``base_optimizer`` (a ``tf.train`` optimizer class) with decoupled weight decay: its
    constructor takes the weight decay first, then ``base_optimizer``'s arguments; ``minimize`` and
    ``apply_gradients`` take ``decay_var_list`` (see ``DecoupledWeightDecayExtension``)."""
    if not (isinstance(base_optimizer, type) and issubclass(base_optimizer, Optimizer)):
        raise TypeError(f"extend_with_decoupled_weight_decay: base_optimizer must be a tf.train.Optimizer class, "
                        f"got {base_optimizer!r}")

    class OptimizerWithDecoupledWeightDecay(DecoupledWeightDecayExtension, base_optimizer):
        """``base_optimizer`` with decoupled weight decay."""

    return OptimizerWithDecoupledWeightDecay


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

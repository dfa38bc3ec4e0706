"""``tf.contrib.opt``: ``AdamWOptimizer``, Adam with decoupled weight decay (Loshchilov and Hutter)."""

from __future__ import annotations

from ember.compat.tf._core import Tensor
from ember.compat.tf.train import AdamOptimizer, Optimizer, _number
from ember.compat.tf.update_rules import tf_adamw_update

__all__ = ["AdamWOptimizer"]


class AdamWOptimizer(AdamOptimizer):
    """TF-1 contrib's AdamW: each step first decays every trained variable, ``var -= weight_decay * var`` (the
    decay is not multiplied by the learning rate: scale it yourself, as in TF-1), then takes TF-1's Adam step with
    the gradient of the undecayed variable. ``weight_decay`` and ``learning_rate`` may be tensors (a schedule).
    Slots ``v/AdamW`` and ``v/AdamW_1``."""

    rule = staticmethod(tf_adamw_update)

    def __init__(self, weight_decay, learning_rate=0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, use_locking: bool = False, name: str = "AdamW"):
        if callable(weight_decay) and not isinstance(weight_decay, Tensor):
            raise TypeError("AdamWOptimizer: weight_decay must be a number or a scalar tensor, not a function")
        Optimizer.__init__(self, name, lr=_number(learning_rate), beta1=_number(beta1), beta2=_number(beta2),
                           eps=_number(epsilon), weight_decay=_number(weight_decay))

    @staticmethod
    def _decay_all(op, decay_var_list):
        if decay_var_list is not None:
            decayed = {id(v) for v in decay_var_list}
            spared = [v.name for v in op.args[1] if id(v) not in decayed]
            if spared:
                raise NotImplementedError(f"AdamWOptimizer: decay_var_list must hold every trained variable (Ember "
                                          f"decays all of them); {spared} are not in it — train them with a second "
                                          "optimizer")
        return op

    def minimize(self, loss, global_step=None, var_list=None, name: str | None = None, grad_loss=None,
                 decay_var_list=None, **unused):
        """The training op: decay then Adam on ``var_list`` (default: the trainable variables)."""
        return self._decay_all(super().minimize(loss, global_step, var_list, name, grad_loss), decay_var_list)

    def apply_gradients(self, grads_and_vars, global_step=None, name: str | None = None, decay_var_list=None):
        """The op that decays and then updates the variables of these (gradient, variable) pairs."""
        return self._decay_all(super().apply_gradients(grads_and_vars, global_step, name), decay_var_list)


def __getattr__(name: str):
    from ember.compat.tf._missing import missing

    raise missing(__name__, name, globals())

"""TF-1's mixed-precision graph rewrite: ``tf.train.experimental.enable_mixed_precision_graph_rewrite(opt)``.

As in TensorFlow, enabling the rewrite does two things: Sessions created afterwards run the ``mixed_precision``
pass on every graph they compile (matrix products and convolutions in float16, or bfloat16 when asked; softmax,
losses and sums in float32; variables and the gradients the optimizer applies in float32), and the optimizer is
wrapped in a ``MixedPrecisionLossScaleOptimizer`` with a dynamic loss scale, which float16 needs (its small
gradients underflow). bfloat16 has float32's range: by default it gets no loss scale.

>>> opt = tf.train.experimental.enable_mixed_precision_graph_rewrite(tf.train.AdamOptimizer(1e-3))
>>> train = opt.minimize(loss)       # float16 matmuls, dynamic loss scaling, float32 variables
>>> sess = tf.Session()              # created after the call: it runs the rewrite
"""

from __future__ import annotations

import types

import numpy as np

from ember.compat.tf._core import Operation, Tensor, constant
from ember.compat.tf.train import Optimizer
from ember.compat.tf.variables import Variable
from ember.passes.mixed_precision import low_precision_dtype

__all__ = [
    "DynamicLossScale", "FixedLossScale", "LossScale", "MixedPrecisionLossScaleOptimizer",
    "disable_mixed_precision_graph_rewrite", "enable_mixed_precision_graph_rewrite", "rewrite_dtype",
]

_rewrite: list = [None]  # the dtype Sessions created from now on rewrite their graphs to, or None

_DEFAULT = object()  # loss_scale not given: dynamic for float16, none for bfloat16


def rewrite_dtype():
    """The low-precision dtype a Session created now runs the ``mixed_precision`` pass with, or None."""
    return _rewrite[0]


class LossScale:
    """The base of TF's loss scales: ``loss_scale()`` is the scale as a tensor (fetch it with ``Session.run``)."""

    scale: Tensor

    def __call__(self) -> Tensor:
        return self.scale


class FixedLossScale(LossScale):
    """A constant scale; every step is applied, as in TensorFlow (an inf or NaN gradient reaches the variables)."""

    def __init__(self, loss_scale_value: float):
        if not isinstance(loss_scale_value, (int, float)) or not np.isfinite(loss_scale_value) or loss_scale_value < 1:
            raise ValueError(f"FixedLossScale: loss_scale_value must be a finite number >= 1, got {loss_scale_value!r}")
        self.scale = constant(np.float32(loss_scale_value), name="loss_scale")


class DynamicLossScale(LossScale):
    """TensorFlow's dynamic loss scale: a step whose gradients hold an inf or a NaN is skipped and divides the
    scale by ``multiplier`` (not below 1); ``increment_period`` good steps in a row multiply it by ``multiplier``.
    The scale and the count are non-trainable variables (``current_loss_scale``, ``good_steps``), initialized by
    ``tf.global_variables_initializer()`` and saved with the others."""

    def __init__(self, initial_loss_scale: float = 2.0 ** 15, increment_period: int = 2000, multiplier: float = 2.0):
        if not isinstance(initial_loss_scale, (int, float)) or not np.isfinite(initial_loss_scale) \
                or initial_loss_scale < 1:
            raise ValueError(f"DynamicLossScale: initial_loss_scale must be a finite number >= 1, got "
                             f"{initial_loss_scale!r}")
        if not isinstance(increment_period, int) or isinstance(increment_period, bool) or increment_period < 1:
            raise ValueError(f"DynamicLossScale: increment_period must be a positive int, got {increment_period!r}")
        if not isinstance(multiplier, (int, float)) or not np.isfinite(multiplier) or multiplier <= 1:
            raise ValueError(f"DynamicLossScale: multiplier must be a finite number > 1, got {multiplier!r}")
        self.initial_loss_scale = float(initial_loss_scale)
        self.increment_period = increment_period
        self.multiplier = float(multiplier)
        self.scale = Variable(np.float32(initial_loss_scale), trainable=False, name="current_loss_scale")
        self.good_steps = Variable(np.int64(0), trainable=False, name="good_steps", dtype=np.int64)


def _loss_scale(loss_scale) -> LossScale:
    if isinstance(loss_scale, LossScale):
        return loss_scale
    if loss_scale == "dynamic":
        return DynamicLossScale()
    if isinstance(loss_scale, (int, float)) and not isinstance(loss_scale, bool):
        return FixedLossScale(loss_scale)
    raise ValueError(f"loss_scale must be 'dynamic', a number or a LossScale, got {loss_scale!r}")


class MixedPrecisionLossScaleOptimizer(Optimizer):
    """``opt`` with loss scaling: ``minimize`` differentiates ``loss * scale``, divides the gradients by the scale
    and, with a ``DynamicLossScale``, skips a step whose gradients hold an inf or a NaN and adjusts the scale.
    The slots (momentum, Adam's moments) are ``opt``'s. ``compute_gradients`` returns the gradients of the
    unscaled loss (Ember derives the applied ones again, scaled, in ``minimize``)."""

    def __init__(self, opt: Optimizer, loss_scale="dynamic"):
        if not isinstance(opt, Optimizer):
            raise ValueError(f"MixedPrecisionLossScaleOptimizer: opt must be a tf.train.Optimizer, got "
                             f"{type(opt).__name__}")
        if isinstance(opt, MixedPrecisionLossScaleOptimizer):
            raise ValueError("MixedPrecisionLossScaleOptimizer: opt already scales its loss")
        super().__init__(opt.get_name(), **{**opt.hyper, **opt.tensor_hyper})
        self.rule = opt.rule
        self.inner = opt
        # the slots are opt's (its minimize makes them): get_slot and variables() read them
        self.slot_variables, self.slots_by_name, self.shared_variables = \
            opt.slot_variables, opt.slots_by_name, opt.shared_variables
        self._loss_scale = _loss_scale(loss_scale)

    def loss_scale(self) -> Tensor:
        """The current scale, as a tensor."""
        return self._loss_scale()

    def minimize(self, loss: Tensor, global_step=None, var_list=None, gate_gradients: int = 1,
                 aggregation_method=None, colocate_gradients_with_ops: bool = False, name: str | None = None,
                 grad_loss=None, **decay) -> Operation:
        if grad_loss is not None:
            raise ValueError("MixedPrecisionLossScaleOptimizer.minimize: grad_loss is not supported (the loss-scaled "
                             "backward starts from the scale); multiply the loss instead")
        op = self.inner.minimize(loss, global_step, var_list, name=name, **decay)  # (AdamW's decay_var_list)
        op.loss_scale = self._loss_scale
        return op

    def apply_gradients(self, grads_and_vars, global_step=None, name: str | None = None) -> Operation:
        """The unmodified output of ``compute_gradients`` only: the scaled backward is derived again here."""
        op = super().apply_gradients(grads_and_vars, global_step, name)
        if op.kind == "ApplyGradients":
            raise ValueError("MixedPrecisionLossScaleOptimizer.apply_gradients: transformed (clipped, scaled) "
                             "gradients cannot be loss-scaled here; apply the output of compute_gradients as it is, "
                             "or use minimize")
        return op


def enable_mixed_precision_graph_rewrite(opt: Optimizer, loss_scale=_DEFAULT, dtype="float16") -> Optimizer:
    """Turn the mixed-precision graph rewrite on for Sessions created from now on and return ``opt`` wrapped in a
    ``MixedPrecisionLossScaleOptimizer`` (TensorFlow's behaviour). ``dtype`` (Ember's addition): "float16", as in
    TensorFlow, or "bfloat16"; ``loss_scale``: "dynamic" (the default for float16), a number (a fixed scale), a
    ``LossScale``, or None for no loss scaling (the default for bfloat16, whose range is float32's)."""
    low = low_precision_dtype(dtype)
    if not isinstance(opt, Optimizer):
        raise ValueError(f"enable_mixed_precision_graph_rewrite: opt must be a tf.train.Optimizer, got "
                         f"{type(opt).__name__}")
    if loss_scale is _DEFAULT:
        loss_scale = "dynamic" if low == np.float16 else None
    _rewrite[0] = low
    return opt if loss_scale is None else MixedPrecisionLossScaleOptimizer(opt, loss_scale)


def disable_mixed_precision_graph_rewrite() -> None:
    """Sessions created from now on compile their graphs without the rewrite (wrapped optimizers stay wrapped)."""
    _rewrite[0] = None


# tf.train.experimental
experimental = types.SimpleNamespace(
    DynamicLossScale=DynamicLossScale, FixedLossScale=FixedLossScale, LossScale=LossScale,
    MixedPrecisionLossScaleOptimizer=MixedPrecisionLossScaleOptimizer,
    disable_mixed_precision_graph_rewrite=disable_mixed_precision_graph_rewrite,
    enable_mixed_precision_graph_rewrite=enable_mixed_precision_graph_rewrite,
)

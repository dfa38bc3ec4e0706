"""``ember.autograd``, PyTorch's ``torch.autograd``: the eager tape (``tape``), custom differentiable functions
(``Function``, in ``function``), anomaly detection (``detect_anomaly``, in ``anomaly``), the functional API
over the tape (``functional``: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp``), gradient checks
against finite differences (``gradcheck``, ``gradgradcheck``, in ``numerical_check``) and the deprecated
``Variable``.

>>> x = ember.tensor([3.0], requires_grad=True)
>>> ember.autograd.grad((x ** 2).sum(), x)
(tensor([6.]),)
"""

from __future__ import annotations

from ember.autograd import forward_ad, functional
from ember.autograd.anomaly import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_anomaly_enabled,
    set_detect_anomaly,
)
from ember.autograd.function import Function, FunctionCtx, once_differentiable
from ember.autograd.numerical_check import GradcheckError, gradcheck, gradgradcheck
from ember.autograd.tape import (  # noqa: F401  (the tape's names other layers import from here)
    Node,
    _mode,
    apply,
    backward,
    building,
    drop_grads,
    eagerly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    post_accumulate_hooks,
    register_post_accumulate_grad_hook,
    run_backward,
    run_eager,
    run_post_accumulate_hooks,
    set_array_runner,
    set_grad_enabled,
    set_graph_builder,
)
from ember.autograd.variable import Variable
from ember.grad_mode import inference_mode

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "Variable",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "forward_ad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_anomaly_enabled",
    "set_detect_anomaly",
    "set_grad_enabled",
]

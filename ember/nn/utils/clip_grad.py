"""Gradient clipping under ``nn.utils.clip_grad`` (``torch.nn.utils.clip_grad``): the functions of
``ember.optim.clip`` and PyTorch's deprecated ``clip_grad_norm``."""

from __future__ import annotations

import warnings

from ember.optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None):
    """Deprecated: ``clip_grad_norm_`` with PyTorch's FutureWarning (``torch.nn.utils.clip_grad_norm``; ``foreach``,
    a speed hint, is accepted)."""
    warnings.warn("`ember.nn.utils.clip_grad_norm` is now deprecated in favor of `ember.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)

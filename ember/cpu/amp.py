"""``torch.cpu.amp``, PyTorch's old path to mixed precision on the CPU: ``autocast`` and ``GradScaler`` are
``ember.amp``'s for device "cpu", with PyTorch's FutureWarning pointing to the new spelling."""

from __future__ import annotations

import warnings

from ember import amp
from ember.backend.dtypes import bfloat16

__all__ = ["GradScaler", "autocast"]


def autocast(enabled: bool = True, dtype=bfloat16, cache_enabled: bool = True) -> amp.autocast:
    """``ember.amp.autocast("cpu", dtype, enabled)``; ``cache_enabled`` is accepted (Ember caches no casts)."""
    warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cpu', "
                  "args...)` instead.", FutureWarning, stacklevel=2)
    return amp.autocast("cpu", dtype=dtype, enabled=enabled)


def GradScaler(init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,  # noqa: N802
               growth_interval: int = 2000, enabled: bool = True) -> amp.GradScaler:
    """``ember.amp.GradScaler("cpu", ...)``."""
    warnings.warn("`torch.cpu.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cpu', "
                  "args...)` instead.", FutureWarning, stacklevel=2)
    return amp.GradScaler("cpu", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

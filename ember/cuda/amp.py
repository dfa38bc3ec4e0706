"""``torch.cuda.amp``, PyTorch's old path to mixed precision on a GPU: ``autocast`` and ``GradScaler`` are
``ember.amp``'s for device "cuda", with PyTorch's FutureWarning pointing to the new spelling.

>>> scaler = ember.cuda.amp.GradScaler()          # ember.amp.GradScaler("cuda")
"""

from __future__ import annotations

import warnings

from ember import amp
from ember.backend.dtypes import float16

__all__ = ["GradScaler", "autocast"]


def autocast(enabled: bool = True, dtype=float16, cache_enabled: bool = True) -> amp.autocast:
    """``ember.amp.autocast("cuda", dtype, enabled)``; ``cache_enabled`` is accepted (Ember caches no casts)."""
    warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', "
                  "args...)` instead.", FutureWarning, stacklevel=2)
    return amp.autocast("cuda", dtype=dtype, enabled=enabled)


def GradScaler(init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,  # noqa: N802
               growth_interval: int = 2000, enabled: bool = True) -> amp.GradScaler:
    """``ember.amp.GradScaler("cuda", ...)``."""
    warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', "
                  "args...)` instead.", FutureWarning, stacklevel=2)
    return amp.GradScaler("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)

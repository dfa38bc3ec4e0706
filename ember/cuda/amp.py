"""``torch.cuda.amp``, PyTorch's old path to mixed precision on a GPU: ``autocast``, ``GradScaler``, ``custom_fwd``
and ``custom_bwd`` are ``ember.amp``'s for device "cuda", with PyTorch's FutureWarning pointing to the new spelling.

>>> scaler = ember.cuda.amp.GradScaler()          # ember.amp.GradScaler("cuda")
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from ember import amp
from ember.backend.dtypes import float16

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd"]

autocast, GradScaler = amp.legacy_path("cuda", float16)


def custom_fwd(fwd: Callable | None = None, *, cast_inputs=None) -> Callable:
    """``ember.amp.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)``."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use `torch.amp.custom_fwd(args..., "
                  "device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    return amp.custom_fwd(fwd, device_type="cuda", cast_inputs=cast_inputs)


def custom_bwd(bwd: Callable) -> Callable:
    """``ember.amp.custom_bwd(bwd, device_type="cuda")``."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use `torch.amp.custom_bwd(args..., "
                  "device_type='cuda')` instead.", FutureWarning, stacklevel=2)
    return amp.custom_bwd(bwd, device_type="cuda")

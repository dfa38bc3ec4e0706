"""``torch.cpu.amp``, PyTorch's old path to mixed precision on the CPU: ``autocast`` and ``GradScaler`` are
``ember.amp``'s for device "cpu", with PyTorch's FutureWarning pointing to the new spelling."""

from __future__ import annotations

from ember import amp
from ember.backend.dtypes import bfloat16

__all__ = ["GradScaler", "autocast"]

autocast, GradScaler = amp.legacy_path("cpu", bfloat16)

"""``torch.cuda.amp``, PyTorch's old path to mixed precision on a GPU: ``autocast`` and ``GradScaler`` are
``ember.amp``'s for device "cuda", with PyTorch's FutureWarning pointing to the new spelling.

>>> scaler = ember.cuda.amp.GradScaler()          # ember.amp.GradScaler("cuda")
"""

from __future__ import annotations

from ember import amp
from ember.backend.dtypes import float16

__all__ = ["GradScaler", "autocast"]

autocast, GradScaler = amp.legacy_path("cuda", float16)

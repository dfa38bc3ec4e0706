"""``ember.testing``, PyTorch's ``torch.testing``: ``assert_close`` compares tensors, arrays, numbers and nested
sequences or mappings of them within per-dtype tolerances; ``make_tensor`` draws a test tensor of a shape and dtype.

>>> x = ember.testing.make_tensor(3, dtype=ember.float64, device="cpu")
>>> ember.testing.assert_close(x * 1.0, x)
"""

from __future__ import annotations

from ember.testing.comparison import assert_close
from ember.testing.creation import make_tensor

__all__ = ["assert_close", "make_tensor"]

"""``torch.nn.attention``: ``SDPBackend`` and ``sdpa_kernel``, which choose the kernels that
``scaled_dot_product_attention`` may use. Ember has one attention kernel, whose numbers are the math backend's; the
choice is kept in ``ember.backends.cuda`` (``flash_sdp_enabled()``...), as PyTorch keeps it, for code that reads it.

>>> with sdpa_kernel(SDPBackend.MATH):
...     out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable

from ember.backends import cuda as _cuda

__all__ = ["SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The attention kernels PyTorch can choose between (PyTorch's values)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_SWITCHES = {
    SDPBackend.MATH: (_cuda.math_sdp_enabled, _cuda.enable_math_sdp),
    SDPBackend.FLASH_ATTENTION: (_cuda.flash_sdp_enabled, _cuda.enable_flash_sdp),
    SDPBackend.EFFICIENT_ATTENTION: (_cuda.mem_efficient_sdp_enabled, _cuda.enable_mem_efficient_sdp),
    SDPBackend.CUDNN_ATTENTION: (_cuda.cudnn_sdp_enabled, _cuda.enable_cudnn_sdp),
}


@contextlib.contextmanager
def sdpa_kernel(backends: SDPBackend | Iterable[SDPBackend], set_priority: bool = False):
    """Allow only ``backends`` inside the block (the others switched off in ``ember.backends.cuda``), restoring the
    previous choice on exit."""
    chosen = [backends] if isinstance(backends, SDPBackend) else list(backends)
    for backend in chosen:
        if not isinstance(backend, SDPBackend):
            raise TypeError(f"sdpa_kernel: backends must be SDPBackend members, got {backend!r}")
    previous = {backend: enabled() for backend, (enabled, _) in _SWITCHES.items()}
    try:
        for backend, (_, enable) in _SWITCHES.items():
            enable(backend in chosen)
        yield
    finally:
        for backend, (_, enable) in _SWITCHES.items():
            enable(previous[backend])

"""Top-level names PyTorch code uses that Ember spells differently: dtype aliases and ``inference_mode``.

>>> x = ember.zeros(3, dtype=ember.long)
>>> with ember.inference_mode():
...     y = net(x)
"""

from __future__ import annotations

from ember.autograd import is_grad_enabled, no_grad, set_grad_enabled
from ember.backend.dtypes import float16, float32, float64, int16, int32, int64
from ember.creation import get_default_device, set_default_device

__all__ = [
    "double", "float", "get_default_device", "half", "inference_mode", "int", "int16", "long", "set_default_device",
    "short",
]

long = int64
int = int32  # noqa: A001  (torch.int is int32)
short = int16
half = float16
float = float32  # noqa: A001
double = float64


def inference_mode(mode=True):
    """``torch.inference_mode``: ops are not recorded inside the block or the decorated function (Ember's
    ``no_grad``; there is no separate inference tensor kind). ``inference_mode(False)`` changes nothing."""
    if callable(mode):  # used as a bare decorator: @ember.inference_mode
        return no_grad()(mode)
    return no_grad() if mode else set_grad_enabled(is_grad_enabled())

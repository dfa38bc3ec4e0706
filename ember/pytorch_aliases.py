"""Top-level names PyTorch code uses that Ember spells differently: dtype aliases and ``inference_mode``.

>>> x = ember.zeros(3, dtype=ember.long)
>>> with ember.inference_mode():
...     y = net(x)
"""

from __future__ import annotations

from ember.backend.dtypes import complex64, complex128, float16, float32, float64, int16, int32, int64
from ember.creation import get_default_device, set_default_device
from ember.grad_mode import inference_mode

__all__ = [
    "cdouble", "cfloat", "double", "float", "get_default_device", "half", "inference_mode", "int", "int16", "long",
    "set_default_device", "short",
]

long = int64
int = int32  # noqa: A001  (torch.int is int32)
short = int16
half = float16
float = float32  # noqa: A001
double = float64
cfloat = complex64
cdouble = complex128

"""The dtype rule of float layers, as PyTorch has it: the input has the dtype of the layer's parameters.

Integer or bool input into a Linear would otherwise be promoted and computed silently, and float64 input into
a float32 layer would compute in float64; PyTorch refuses both. Under ``ember.autocast`` the ops cast their
inputs themselves, so any float16, bfloat16 or float32 input fits a layer of those dtypes.
"""

from __future__ import annotations

from ember.backend.dtypes import LOW_PRECISION, float32
from ember.ops.autocast import active

_AUTOCAST_DTYPES = LOW_PRECISION | {float32}


def check_input_dtype(layer, x, expected, what: str = "input") -> None:
    """Raise a TypeError naming the layer, the expected and the given dtype unless ``x`` has ``expected``."""
    given = getattr(x, "dtype", None)
    if given != expected and not (given in _AUTOCAST_DTYPES and expected in _AUTOCAST_DTYPES
                                  and active()):
        if given is None:
            raise TypeError(f"{type(layer).__name__}: {what} must be a Tensor, got {type(x).__name__}")
        raise TypeError(f"{type(layer).__name__}: expected {what} of dtype {expected} (the dtype of its parameters), "
                        f"got {given}{list(getattr(x, 'shape', ()))}; convert the {what} with .to(ember.{expected}), "
                        f"or the layer with .to(ember.{given})")

"""Array modules, devices and dtypes."""

from ember.backend.devices import CPU, Device, array_module, cuda_is_available, cupy_module, device_of, move
from ember.backend.dtypes import (
    DEFAULT_FLOAT,
    DEFAULT_INT,
    FLOATING,
    as_dtype,
    bfloat16,
    bool_,
    float16,
    float32,
    float64,
    int32,
    int64,
    is_floating,
    result_type,
    scalar_result_type,
    uint8,
)

__all__ = [
    "CPU", "DEFAULT_FLOAT", "DEFAULT_INT", "FLOATING", "Device", "array_module", "as_dtype", "bfloat16",
    "bool_", "cuda_is_available", "cupy_module", "device_of", "float16", "float32", "float64", "int32",
    "int64", "is_floating", "move", "result_type", "scalar_result_type", "tune_malloc", "uint8",
]

from ember.backend.memory import tune_malloc  # noqa: E402  (an explicit call: importing changes nothing)

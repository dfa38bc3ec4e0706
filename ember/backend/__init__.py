"""Array modules, devices and dtypes."""

from ember.backend.devices import CPU, Device, array_module, cuda_is_available, cupy_module, device_of, move
from ember.backend.dtypes import (
    DEFAULT_INT,
    FLOATING,
    as_dtype,
    bfloat16,
    bool_,
    can_cast,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int32,
    int64,
    is_floating,
    promote_types,
    result_type,
    scalar_result_type,
    set_default_dtype,
    uint8,
)

__all__ = [
    "CPU", "DEFAULT_INT", "Device", "FLOATING", "array_module", "as_dtype", "bfloat16", "bool_", "can_cast",
    "complex64", "complex128", "cuda_is_available", "cupy_module", "device_of", "float16", "float32", "float64",
    "get_default_dtype", "int32", "int64", "int8", "is_floating", "move", "promote_types", "result_type",
    "scalar_result_type", "set_default_dtype", "tune_malloc", "uint8",
]

from ember.backend.memory import tune_malloc  # noqa: E402  (an explicit call: importing changes nothing)

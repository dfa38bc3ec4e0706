"""ONNX -> Ember: one converter per ONNX op type (see ``base``); importing this package fills the table."""

from ember.onnx.converters import (  # noqa: F401  (each registers converters)
    elementwise,
    networks,
    quantized,
    sequences,
    tensors,
)
from ember.onnx.converters.base import CONVERTERS, STATIC, UnsupportedError, _from_registry

_from_registry()  # last: the registry's plain renames fill only what the modules left open

__all__ = ["CONVERTERS", "STATIC", "UnsupportedError"]

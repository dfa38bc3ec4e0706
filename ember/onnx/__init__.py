"""ONNX export and import (the ``onnx`` extra: ``pip install ember[onnx]``).

>>> ember.onnx.export(net, ember.randn(1, 3, 32, 32), "net.onnx")     # Ember -> ONNX
>>> net2 = ember.onnx.load("net.onnx")                                 # ONNX -> Ember (a Module)
>>> net2(ember.randn(1, 3, 32, 32))
"""

try:
    import onnx as _onnx  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("ember.onnx needs the onnx package: pip install 'ember[onnx]'") from exc

from ember.onnx import backend
from ember.onnx.converters import UnsupportedError
from ember.onnx.export import export, to_onnx, trace
from ember.onnx.load import OnnxModule, load, unsupported_ops

__all__ = ["OnnxModule", "UnsupportedError", "backend", "export", "load", "to_onnx", "trace", "unsupported_ops"]

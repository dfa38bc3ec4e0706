"""An ``onnx.backend.base.Backend`` over Ember, so ONNX's own backend tests can drive it.

``prepare`` imports the model (``ember.onnx.load``) and compiles it with ``ember.jit``: each run goes through
Ember's passes and generated code; inputs the model reads as values (shapes, axes) are frozen into the trace.
A model with an op whose output's shape depends on the input's values (NonZero, Compress, Unique) runs eagerly.

>>> import onnx.backend.test
>>> backend_test = onnx.backend.test.BackendTest(ember.onnx.backend.EmberBackend, __name__)
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

import ember
from ember.onnx.load import Frozen, OnnxModule, unsupported_ops

__all__ = ["EmberBackend", "EmberRep", "prepare", "run_model", "supports_device"]

_VALUE_SHAPED = frozenset({"NonZero", "Compress", "Unique"})  # outputs sized by the input's values: run eagerly


class EmberRep(BackendRep):
    """A prepared model: ``run(inputs)`` returns its outputs as NumPy arrays."""

    def __init__(self, module: OnnxModule):
        self.module = module
        self.compiled = ember.jit(module.forward)
        self._static = {module.input_names.index(n) for n in module.static_inputs}
        self._eager = any(node.op_type in _VALUE_SHAPED for node in module.nodes)

    def run(self, inputs, **kwargs) -> tuple:
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.module.input_names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        args = []
        eager = self._eager
        for i, value in enumerate(inputs):
            if i in self._static:
                args.append(Frozen(value))
            elif isinstance(value, (list, tuple)):  # an ONNX sequence: lists do not enter a trace
                eager = True
                args.append([ember.tensor(np.asarray(v)) for v in value])
            elif np.asarray(value).dtype.kind in "OUS":  # strings: NumPy arrays, run eagerly
                eager = True
                args.append(np.asarray(value))
            else:
                args.append(ember.tensor(np.asarray(value)))
        with ember.no_grad():
            out = self.module(*args) if eager else self.compiled(*args)
        outs = out if isinstance(out, tuple) else (out,)
        return tuple(_numpy(o) for o in outs)


def _numpy(value):
    if isinstance(value, list):
        return [np.asarray(v.numpy()) for v in value]
    return value if isinstance(value, np.ndarray) else np.asarray(value.numpy())


class EmberBackend(Backend):
    """ONNX backend API over Ember (CPU)."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> bool:
        return not unsupported_ops(model)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs) -> EmberRep:
        super().prepare(model, device, **kwargs)
        return EmberRep(OnnxModule(model))

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs, device: str = "CPU", **kwargs) -> tuple:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU


prepare = EmberBackend.prepare
run_model = EmberBackend.run_model
supports_device = EmberBackend.supports_device

"""``tn.net.Net``: a list of layers chained on Ember Tensors; ``backward`` runs Ember's autograd."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tinynn.structured_param import StructuredParam


class Net:
    """``forward(inputs)`` returns the output array; ``backward(grad)`` the gradients of every layer's
    parameters as a ``StructuredParam`` (its ``wrt_input`` holds the inputs' gradient)."""

    def __init__(self, layers):
        self.layers = list(layers)
        self._is_training = True
        self._last: tuple | None = None  # (input Tensor, output Tensor, output array) of the last forward

    def __repr__(self) -> str:
        return "\n".join(str(layer) for layer in self.layers)

    def forward_tensor(self, inputs) -> ember.Tensor:
        """The layers on ``inputs``, as an Ember Tensor connected to the parameters (for ``Model``)."""
        array = np.ascontiguousarray(inputs)
        x = ember.from_numpy(array)
        if x.dtype.kind == "f":
            x = x.detach().requires_grad_()
        out = x
        for layer in self.layers:
            out = layer.call(out)
        self._last = (x, out, None)
        return out

    def forward(self, inputs) -> np.ndarray:
        """The network's output for ``inputs`` (an array, as tinynn returns)."""
        out = self.forward_tensor(inputs)
        result = out.detach().numpy()
        self._last = (self._last[0], out, result)
        return result

    def backward_from(self, root: ember.Tensor, gradient=None) -> StructuredParam:
        """Backpropagate from ``root`` (the output, or a loss of it) and gather the layers' gradients."""
        if self._last is None:
            raise RuntimeError("Net.backward: call forward first")
        x = self._last[0]
        root.backward(gradient)
        for layer in self.layers:
            layer.collect_grads()
        grads = StructuredParam([dict(layer.grads) for layer in self.layers])
        grads.wrt_input = np.zeros(x.shape, x.dtype) if x.grad is None else x.grad.numpy()
        return grads

    def backward(self, grad) -> StructuredParam:
        """Gradients of the parameters given the gradient ``grad`` of the last forward's output."""
        if self._last is None:
            raise RuntimeError("Net.backward: call forward first")
        out = self._last[1]
        return self.backward_from(out, ember.as_tensor(np.asarray(grad, dtype=out.dtype)))

    @property
    def params(self) -> StructuredParam:
        return StructuredParam([layer.params for layer in self.layers], [layer.nt_params for layer in self.layers])

    @params.setter
    def params(self, params: StructuredParam) -> None:
        current = self.params
        current.values = params.values
        current.nt_values = params.nt_values

    @property
    def is_training(self) -> bool:
        return self._is_training

    @is_training.setter
    def is_training(self, value: bool) -> None:
        for layer in self.layers:
            layer.is_training = value
        self._is_training = value

"""``tn.net.Net``: a list of layers; ``forward`` chains their ``forward``s and ``backward`` their ``backward``s.

As in tinynn each layer keeps what its own backward needs, so a layer written in tinynn's style (a ``Layer``
subclass with NumPy ``forward``/``backward``) mixes freely with Ember's layers, which differentiate
themselves with Ember's autograd.
"""

from __future__ import annotations

import copy

from ember.compat.tinynn.structured_param import StructuredParam


class Net:
    """``forward(inputs)`` returns the output array; ``backward(grad)`` the gradients of every layer's
    parameters as a ``StructuredParam`` (its ``wrt_input`` holds the inputs' gradient)."""

    def __init__(self, layers):
        self.layers = list(layers)
        self._is_training = True

    def __repr__(self) -> str:
        return "\n".join(str(layer) for layer in self.layers)

    def forward(self, inputs):
        """The network's output for ``inputs`` (an array, as tinynn returns)."""
        for layer in self.layers:
            inputs = layer.forward(inputs)
        return inputs

    def backward(self, grad) -> StructuredParam:
        """Gradients of the parameters given the gradient ``grad`` of the last forward's output."""
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        grads = StructuredParam([copy.deepcopy(layer.grads) for layer in self.layers])
        grads.wrt_input = grad
        return grads

    @property
    def params(self) -> StructuredParam:
        return StructuredParam([layer.params for layer in self.layers], [layer.nt_params for layer in self.layers])

    @params.setter
    def params(self, params: StructuredParam) -> None:
        """Set every layer's parameters from ``params`` (as ``Model.load`` does); they must be for layers with the
        same parameter names, in the same order, as this net's (non-trainable ones too, where ``params`` has any)."""
        current = self.params
        pairs = [("parameters", params.param_list, current.param_list)]
        if params.nt_param_list is not None:
            pairs.append(("non-trainable parameters", params.nt_param_list, current.nt_param_list))
        for kind, given, own in pairs:
            given, own = [list(d) for d in given], [list(d) for d in own]
            if given != own:
                raise ValueError(f"Net.params: {kind} for layers with {given}, but this net's layers have {own}")
        current.values = params.values
        if params.nt_param_list is not None:
            current.nt_values = params.nt_values

    @property
    def is_training(self) -> bool:
        return self._is_training

    @is_training.setter
    def is_training(self, value: bool) -> None:
        for layer in self.layers:
            layer.is_training = value
        self._is_training = value

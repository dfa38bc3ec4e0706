"""``tn.model.Model``: a net, a loss and an optimizer; ``forward``, ``backward``, ``apply_grads``, save/load."""

from __future__ import annotations

import pickle

import ember


class Model:
    """tinynn's training interface: ``pred = model.forward(x)``; ``loss, grads = model.backward(pred, y)``;
    ``model.apply_grads(grads)``."""

    def __init__(self, net, loss, optimizer):
        self.net = net
        self.loss = loss
        self.optimizer = optimizer

    def forward(self, inputs):
        return self.net.forward(inputs)

    def backward(self, predictions, targets):
        """(loss value, parameter gradients) for ``predictions`` of the last forward against ``targets``."""
        last = self.net._last
        if last is not None and last[2] is predictions:  # the last forward's output: differentiate through it
            output = last[1]
        else:
            raise ValueError("Model.backward: predictions must be the array the last model.forward returned "
                             "(Ember differentiates through the recorded forward)")
        loss = self.loss.loss_tensor(output, ember.as_tensor(targets))
        grads = self.net.backward_from(loss)
        return float(loss.item()), grads

    def apply_grads(self, grads) -> None:
        self.optimizer.step(grads, self.net.params)

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            pickle.dump(self.net.params, f)

    def load(self, path: str) -> None:
        with open(path, "rb") as f:
            params = pickle.load(f)
        self.net.params = params
        for layer in self.net.layers:
            layer.is_init = True

    @property
    def is_training(self) -> bool:
        return self.net.is_training

    @is_training.setter
    def is_training(self, value: bool) -> None:
        self.net.is_training = value

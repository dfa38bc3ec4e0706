"""``tn.model.Model``: a net, a loss and an optimizer; ``forward``, ``backward``, ``apply_grads``, save/load."""

from __future__ import annotations

import pickle

from ember.checkpoint import _atomic


class _Unpickler(pickle.Unpickler):
    """Reads a pickle written by tinynn: its ``tinynn.*`` classes resolve to ``ember.compat.tinynn.*``."""

    def find_class(self, module: str, name: str):
        if module == "tinynn" or module.startswith("tinynn."):
            module = f"ember.compat.{module}"
        return super().find_class(module, name)


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
        """(loss value, parameter gradients): the loss's ``loss`` and ``grad`` of ``predictions``, and the net's
        backward from that gradient (``predictions`` may be the last forward's output transformed)."""
        loss = self.loss.loss(predictions, targets)
        grads = self.net.backward(self.loss.grad(predictions, targets))
        return loss, grads

    def apply_grads(self, grads) -> None:
        self.optimizer.step(grads, self.net.params)

    def save(self, path: str) -> None:
        """Pickle ``net.params`` (a StructuredParam of per-layer dicts of arrays) to ``path``, as tinynn does, but
        atomically (as ``ember.save``): a save that fails or is killed half way leaves the earlier file."""
        with _atomic(path) as tmp, open(tmp, "wb") as f:
            pickle.dump(self.net.params, f)

    def load(self, path: str) -> None:
        """Parameters saved by ``save``, by Ember's or by tinynn itself (its classes read as Ember's)."""
        with open(path, "rb") as f:
            params = _Unpickler(f).load()
        self.net.params = params
        for layer in self.net.layers:
            layer.is_init = True

    @property
    def is_training(self) -> bool:
        return self.net.is_training

    @is_training.setter
    def is_training(self, value: bool) -> None:
        self.net.is_training = value

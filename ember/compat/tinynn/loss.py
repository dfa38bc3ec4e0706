"""``tn.loss``: tinynn's losses (summed over elements, divided by the batch size) as Ember ops.

``loss(predictions, targets)`` gives the value and ``grad(predictions, targets)`` the gradient with
respect to the predictions, both on arrays; predictions and targets must have one shape (tinynn's NumPy would
broadcast (N, 1) predictions against (N,) targets to (N, N) differences and a wrong loss).
"""

from __future__ import annotations

import numpy as np

import ember


def _same_shape(loss, predictions, targets) -> None:
    if np.shape(predictions) != np.shape(targets):
        raise ValueError(f"{type(loss).__name__}: predictions of shape {np.shape(predictions)} but targets of shape "
                         f"{np.shape(targets)}; give both the same shape")


class Loss:
    """Subclasses define ``loss_tensor(predictions, targets)`` on Ember Tensors."""

    def loss_tensor(self, predictions: ember.Tensor, targets: ember.Tensor) -> ember.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define loss_tensor(predictions, targets)")

    def loss(self, predictions, targets) -> float:
        _same_shape(self, predictions, targets)
        return float(self.loss_tensor(ember.as_tensor(np.asarray(predictions)), ember.as_tensor(targets)).item())

    def grad(self, predictions, targets) -> np.ndarray:
        _same_shape(self, predictions, targets)
        p = ember.tensor(np.asarray(predictions, dtype=np.float32) if np.asarray(predictions).dtype.kind != "f"
                         else np.asarray(predictions), requires_grad=True)
        self.loss_tensor(p, ember.as_tensor(targets)).backward()
        return p.grad.numpy()


def _batch(targets) -> int:
    return targets.shape[0]


class MSE(Loss):
    """0.5 * sum((p - y)^2) / batch."""

    def loss_tensor(self, predictions, targets):
        return 0.5 * ember.sum((predictions - targets) ** 2) / _batch(targets)


class MAE(Loss):
    """sum(|p - y|) / batch."""

    def loss_tensor(self, predictions, targets):
        return ember.sum(ember.abs(predictions - targets)) / _batch(targets)


class Huber(Loss):
    """0.5 d^2 where |d| < delta, delta * |d| - 0.5 delta^2 elsewhere; summed / batch."""

    def __init__(self, delta: float = 1.0):
        self._delta = delta

    def loss_tensor(self, predictions, targets):
        d = ember.abs(predictions - targets)
        quadratic = ember.minimum(d, self._delta)
        return ember.sum(0.5 * quadratic ** 2 + self._delta * (d - quadratic)) / _batch(targets)


class SoftmaxCrossEntropy(Loss):
    """-sum(y * log_softmax(logits / T)) / batch with one-hot (or soft) labels; ``weights`` per class.

    ``grad`` is tinynn's: (softmax(logits / T) - labels) / batch, each column scaled by its class weight.
    That is the loss's gradient when T = 1 and there are no weights; otherwise it is tinynn's own rule
    (T times the gradient, weights by column rather than by each example's class), kept so that tinynn's
    scripts (its distillation example trains with T = 20) train as they do in tinynn.
    """

    def __init__(self, T: float = 1.0, weights=None):
        self._T = T
        self._weights = None if weights is None else np.asarray(weights, dtype=np.float32)

    def loss_tensor(self, logits, labels):
        labels = ember.cast(labels, logits.dtype)
        nll = -ember.sum(ember.log_softmax(logits / self._T, axis=1) * labels, axis=1)
        if self._weights is not None:
            nll = nll * ember.as_tensor(self._weights[np.argmax(labels.numpy(), axis=1)])
        return ember.sum(nll) / _batch(labels)

    def grad(self, logits, labels) -> np.ndarray:
        _same_shape(self, logits, labels)
        logits = np.asarray(logits)
        if logits.dtype.kind != "f":
            logits = logits.astype(np.float32)
        probs = ember.softmax(ember.as_tensor(logits) / self._T, axis=1).numpy()
        grads = probs - np.asarray(labels, dtype=probs.dtype)
        if self._weights is not None:
            grads = grads * self._weights.astype(probs.dtype)
        return grads / _batch(np.asarray(labels))


class SigmoidCrossEntropy(Loss):
    """Logistic loss of logits against labels in [0, 1], with weights (negative, positive); summed / batch."""

    def __init__(self, weights=None):
        self._weights = np.ones(2, np.float32) if weights is None else np.asarray(weights, dtype=np.float32)

    def loss_tensor(self, logits, labels):
        labels = ember.cast(labels, logits.dtype)
        neg, pos = (float(w) for w in self._weights)
        # -pos * y * log(sigmoid(a)) - neg * (1 - y) * log(1 - sigmoid(a)); log(1 - sigmoid(a)) = log(sigmoid(a)) - a
        log_p = -ember.softplus(-logits)
        cost = -pos * labels * log_p - neg * (1 - labels) * (log_p - logits)
        return ember.sum(cost) / _batch(labels)

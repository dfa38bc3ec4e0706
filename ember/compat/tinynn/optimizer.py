"""``tn.optimizer``: tinynn's optimizers and learning-rate schedulers with tinynn's defaults.

``step(grads, params)`` updates every parameter of a ``StructuredParam``. SGD, Momentum and Adam are
Ember's own update rules (``ember.optim.functional``); RMSProp, Adagrad, Adadelta and RAdam follow
tinynn's formulas (epsilon inside the square root). Weight decay is tinynn's: the step also subtracts
``lr * weight_decay * param``. An optimizer written in tinynn's style (a subclass defining
``_compute_step(grads) -> steps`` on the object array of gradients) works too, also on top of one of these
(``super()._compute_step(grads)``).
"""

from __future__ import annotations

import math

import numpy as np

from ember.optim import functional as rules


class Optimizer:
    """Per-parameter state is kept by position in the network's parameter list."""

    def __init__(self, lr: float, weight_decay: float = 0.0):
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be non-negative, got {lr}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.states: dict[int, dict] = {}

    def step(self, grads, params) -> None:
        """Update ``params`` (a StructuredParam) in place with ``grads`` (one of the same structure); ``grads``
        is left holding the steps taken (what was added to each parameter), as tinynn leaves it."""
        values, gradients = params.values, grads.values
        if len(values) != len(gradients):
            raise ValueError(f"{type(self).__name__}.step: {len(gradients)} gradients for {len(values)} parameters")
        if type(self)._compute_step is not Optimizer._compute_step:  # a subclass in tinynn's style
            steps = self.compute_step(grads).values
            updated = [param + np.asarray(step, dtype=param.dtype) for param, step in zip(values, steps)]
        else:
            updated = []
            for i, (param, grad) in enumerate(zip(values, gradients)):
                new = np.array(param, dtype=param.dtype, copy=True)
                self.update(new, np.asarray(grad, dtype=param.dtype), self.states.setdefault(i, {}))
                updated.append(new)
        if self.weight_decay:
            updated = [new - param.dtype.type(self.lr * self.weight_decay) * param
                       for new, param in zip(updated, values)]
        params.values = updated
        grads.values = [new - param for new, param in zip(updated, values)]

    def compute_step(self, grads):
        """tinynn's hook: ``grads`` (a StructuredParam) with its values replaced by ``_compute_step``'s steps."""
        grads.values = self._compute_step(grads.values)
        return grads

    def _compute_step(self, grads):
        """The steps (what is added to each parameter) for the object array ``grads``. Subclasses in tinynn's
        style define it; Ember's own optimizers define ``update``, and this runs it from zeros (their rules do
        not read the parameter), so a subclass of one can build on ``super()._compute_step(grads)``."""
        if type(self).update is Optimizer.update:
            raise NotImplementedError(f"{type(self).__name__} must define update(param, grad, state) or "
                                      "_compute_step(grads)")
        steps = np.empty(len(grads), dtype=object)
        for i, grad in enumerate(grads):
            grad = np.asarray(grad)
            steps[i] = np.zeros_like(grad, dtype=np.result_type(grad.dtype, np.float32))
            self.update(steps[i], grad.astype(steps[i].dtype, copy=False), self.states.setdefault(i, {}))
        return steps

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define update(param, grad, state)")


class SGD(Optimizer):
    """param -= lr * grad."""

    def __init__(self, lr: float = 0.01, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)

    def update(self, param, grad, state):
        rules.sgd_update(param, grad, state, lr=self.lr)


class Momentum(Optimizer):
    """acc = momentum * acc + grad; param -= lr * acc."""

    def __init__(self, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self._momentum = momentum

    def update(self, param, grad, state):
        rules.sgd_update(param, grad, state, lr=self.lr, momentum=self._momentum)


class Adam(Optimizer):
    """Adam with bias correction."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self._b1, self._b2, self._epsilon = beta1, beta2, epsilon

    def update(self, param, grad, state):
        rules.adam_update(param, grad, state, lr=self.lr, beta1=self._b1, beta2=self._b2, eps=self._epsilon)


class RAdam(Optimizer):
    """Rectified Adam: plain momentum steps until the variance estimate is trustworthy (rho_t > 4)."""

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self._b1, self._b2, self._epsilon = beta1, beta2, epsilon
        self._rho_inf = 2.0 / (1 - beta2) - 1.0

    def update(self, param, grad, state):
        if not state:
            state.update(t=0, m=np.zeros_like(param), v=np.zeros_like(param))
        state["t"] += 1
        t, m, v = state["t"], state["m"], state["v"]
        m += (1.0 - self._b1) * (grad - m)
        v += (1.0 - self._b2) * (grad * grad - v)
        m_hat = m / (1 - self._b1 ** t)
        rho = self._rho_inf - 2 * self._b2 ** t / (1 - self._b2 ** t)
        if rho > 4.0:
            v_hat = v / (1 - self._b2 ** t)
            rect = math.sqrt((rho - 4) * (rho - 2) * self._rho_inf / ((self._rho_inf - 4) * (self._rho_inf - 2) * rho))
            param -= self.lr * m_hat * rect / (np.sqrt(v_hat) + self._epsilon)
        else:
            param -= self.lr * m_hat


class RMSProp(Optimizer):
    """rms = decay * rms + (1 - decay) * grad^2; mom = momentum * mom + lr * grad / sqrt(rms + eps)."""

    def __init__(self, lr: float = 0.01, decay: float = 0.99, momentum: float = 0.0, epsilon: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self._rho, self._momentum, self._epsilon = decay, momentum, epsilon

    def update(self, param, grad, state):
        if not state:
            state.update(rms=np.zeros_like(param), mom=np.zeros_like(param))
        state["rms"] += (1 - self._rho) * (grad * grad - state["rms"])
        state["mom"] = self._momentum * state["mom"] + self.lr * grad / np.sqrt(state["rms"] + self._epsilon)
        param -= state["mom"]


class Adagrad(Optimizer):
    """g += grad^2; param -= lr / sqrt(g + eps) * grad."""

    def __init__(self, lr: float, epsilon: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self._epsilon = epsilon

    def update(self, param, grad, state):
        if not state:
            state["g"] = np.zeros_like(param)
        state["g"] += grad * grad
        param -= self.lr / np.sqrt(state["g"] + self._epsilon) * grad


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the running RMS of past steps over the running RMS of gradients."""

    def __init__(self, lr: float = 1.0, decay: float = 0.9, epsilon: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(lr, weight_decay)
        self._rho, self._epsilon = decay, epsilon

    def update(self, param, grad, state):
        if not state:
            state.update(rms=np.zeros_like(param), delta=np.zeros_like(param))
        state["rms"] += (1 - self._rho) * (grad * grad - state["rms"])
        delta = grad * np.sqrt(state["delta"] + self._epsilon) / np.sqrt(state["rms"] + self._epsilon)
        param -= self.lr * delta
        state["delta"] += (1 - self._rho) * (delta * delta - state["delta"])


class BaseScheduler:
    """Adjusts ``optimizer.lr`` each time ``step()`` is called; returns the new rate."""

    def __init__(self, optimizer: Optimizer):
        self._optimizer = optimizer
        self._init_lr = optimizer.lr
        self._t = 0

    def step(self) -> float:
        self._t += 1
        self._optimizer.lr = self._compute_lr()
        return self.curr_lr

    def _compute_lr(self) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define _compute_lr()")

    @property
    def curr_lr(self) -> float:
        return self._optimizer.lr


class StepLR(BaseScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be at least 1, got {step_size}")
        self._step_size, self._gamma = step_size, gamma

    def _compute_lr(self) -> float:
        return self.curr_lr * (self._gamma if self._t % self._step_size == 0 else 1.0)


class MultiStepLR(BaseScheduler):
    """Multiply the rate by ``gamma`` at each of the increasing ``milestones``."""

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1):
        super().__init__(optimizer)
        self._milestones = [int(m) for m in milestones]
        if not self._milestones or any(a >= b for a, b in zip(self._milestones, self._milestones[1:])):
            raise ValueError(f"MultiStepLR: milestones must be a non-empty increasing list, got {milestones}")
        self._gamma = gamma

    def _compute_lr(self) -> float:
        return self.curr_lr * (self._gamma if self._t in self._milestones else 1.0)


class ExponentialLR(BaseScheduler):
    """lr = initial lr * decay_rate ** (t / decay_steps) for the first ``decay_steps`` steps."""

    def __init__(self, optimizer: Optimizer, decay_steps: int, decay_rate: float = 1.0 / np.e):
        super().__init__(optimizer)
        self._decay_steps, self._decay_rate = decay_steps, decay_rate

    def _compute_lr(self) -> float:
        if self._t <= self._decay_steps:
            return self._init_lr * self._decay_rate ** (self._t / self._decay_steps)
        return self.curr_lr


class LinearLR(BaseScheduler):
    """From step ``start_step`` on, move the rate by equal amounts to ``final_lr`` over ``decay_steps`` steps."""

    def __init__(self, optimizer: Optimizer, decay_steps: int, final_lr: float = 1e-6, start_step: int = 0):
        super().__init__(optimizer)
        if decay_steps <= 0:
            raise ValueError(f"LinearLR: decay_steps must be positive, got {decay_steps}")
        self._lr_delta = (final_lr - self._init_lr) / decay_steps
        self._final_lr, self._decay_steps, self._start_step = final_lr, decay_steps, start_step

    def _compute_lr(self) -> float:
        if self._start_step < self._t <= self._start_step + self._decay_steps:
            return self.curr_lr + self._lr_delta
        return self.curr_lr


class CyclicalLR(BaseScheduler):
    """Cyclical rates: a rate outside [min_lr, max_lr] first moves into it; then it rises for half of
    ``cyclical_steps`` steps and falls for the other half, by 2 * (max_lr - min_lr) / cyclical_steps a step."""

    def __init__(self, optimizer: Optimizer, cyclical_steps: int, min_lr: float = 1e-3, max_lr: float = 1e-2):
        super().__init__(optimizer)
        if cyclical_steps <= 2:
            raise ValueError(f"CyclicalLR: cyclical_steps must be more than 2, got {cyclical_steps}")
        if max_lr < min_lr:
            raise ValueError(f"CyclicalLR: max_lr ({max_lr}) must be at least min_lr ({min_lr})")
        self._cyclical_steps, self._min_lr, self._max_lr = cyclical_steps, min_lr, max_lr
        self._abs_lr_delta = 2 * (max_lr - min_lr) / cyclical_steps
        self._is_cycling = False
        self._cycling_start_t = None

    def _compute_lr(self) -> float:
        if self.curr_lr > self._max_lr:
            return self.curr_lr - self._abs_lr_delta
        if self.curr_lr < self._min_lr:
            return self.curr_lr + self._abs_lr_delta
        if not self._is_cycling:
            self._is_cycling, self._cycling_start_t = True, self._t
        rising = (self._t - self._cycling_start_t) % self._cyclical_steps < self._cyclical_steps // 2
        return self.curr_lr + (self._abs_lr_delta if rising else -self._abs_lr_delta)

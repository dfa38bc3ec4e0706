"""``tn.initializer``: tinynn's initializers, drawing from NumPy's global generator and returning float32.

Fans follow tinynn: for a 2-D shape (in, out); otherwise fan_in is the product of all but the first
dimension and fan_out the first.
"""

from __future__ import annotations

import numpy as np


def get_fans(shape) -> tuple:
    """(fan_in, fan_out) of a weight shape, as tinynn computes them."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    return int(np.prod(shape[1:])), shape[0]


class Initializer:
    """``initializer(shape)`` -> a float32 array."""

    def __call__(self, shape) -> np.ndarray:
        return np.asarray(self.init(shape)).astype(np.float32)

    def init(self, shape):
        raise NotImplementedError(f"{type(self).__name__} must define init(shape)")


class Normal(Initializer):
    def __init__(self, mean: float = 0.0, std: float = 1.0):
        self.mean, self.std = mean, std

    def init(self, shape):
        return np.random.normal(self.mean, self.std, size=shape)


class TruncatedNormal(Initializer):
    """Normal draws, each redrawn until it lies strictly inside (low, high)."""

    def __init__(self, low: float, high: float, mean: float = 0.0, std: float = 1.0):
        self.low, self.high, self.mean, self.std = low, high, mean, std

    def init(self, shape):
        values = np.random.normal(self.mean, self.std, size=shape)
        outside = (values <= self.low) | (values >= self.high)
        while outside.any():
            values[outside] = np.random.normal(self.mean, self.std, size=int(outside.sum()))
            outside = (values <= self.low) | (values >= self.high)
        return values


class Uniform(Initializer):
    def __init__(self, a: float = 0.0, b: float = 1.0):
        self.a, self.b = a, b

    def init(self, shape):
        return np.random.uniform(self.a, self.b, size=shape)


class Constant(Initializer):
    def __init__(self, val: float):
        self.val = val

    def init(self, shape):
        return np.full(shape, self.val)


class Zeros(Constant):
    def __init__(self):
        super().__init__(0.0)


class Ones(Constant):
    def __init__(self):
        super().__init__(1.0)


class XavierUniform(Initializer):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def init(self, shape):
        fan_in, fan_out = get_fans(shape)
        limit = self.gain * np.sqrt(6.0 / (fan_in + fan_out))
        return np.random.uniform(-limit, limit, size=shape)


class XavierNormal(Initializer):
    """N(0, std), std = gain * sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def init(self, shape):
        fan_in, fan_out = get_fans(shape)
        return np.random.normal(0.0, self.gain * np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


class HeUniform(Initializer):
    """U(-a, a), a = gain * sqrt(6 / fan_in)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def init(self, shape):
        limit = self.gain * np.sqrt(6.0 / get_fans(shape)[0])
        return np.random.uniform(-limit, limit, size=shape)


class HeNormal(Initializer):
    """N(0, std), std = gain * sqrt(2 / fan_in)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def init(self, shape):
        return np.random.normal(0.0, self.gain * np.sqrt(2.0 / get_fans(shape)[0]), size=shape)

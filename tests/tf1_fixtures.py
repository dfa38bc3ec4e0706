"""What the TF-1 test files share: each test starts, and leaves, a fresh default graph; central differences."""

import numpy as np
import pytest

import ember.compat.tf as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The central-difference gradient of the scalar ``f`` (float64 NumPy) at ``x``."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad

"""``tn.math``: softmax, log_softmax (with temperature ``t``) and sigmoid on NumPy arrays, computed by Ember ops."""

from __future__ import annotations

import numpy as np

import ember


def _run(fn, x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fc":  # integers and booleans compute in float64, as NumPy's would
        x = x.astype(np.float64)
    return fn(ember.as_tensor(x)).numpy()


def softmax(x, t: float = 1.0, axis: int = -1) -> np.ndarray:
    """softmax(x / t) along ``axis``."""
    return _run(lambda v: ember.softmax(v / t, axis=axis), x)


def log_softmax(x, t: float = 1.0, axis: int = -1) -> np.ndarray:
    """log(softmax(x / t)) along ``axis``, computed stably."""
    return _run(lambda v: ember.log_softmax(v / t, axis=axis), x)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x))."""
    return _run(ember.sigmoid, x)

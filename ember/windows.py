"""PyTorch's window functions (``torch.hann_window`` and its siblings): factories of 1-D tensors.

Each window is computed in float64 and rounded once to ``dtype``. With ``periodic=True`` (the default, as in
PyTorch) a window of length N is the symmetric window of length N + 1 without its last value, as spectral
analysis (``stft``) wants.

>>> ember.hann_window(4)  # 0, 0.5, 1, 0.5
"""

from __future__ import annotations

import numpy as np

from ember.creation import _finish, _float_dtype
from ember.ops.special_kernels import i0e
from ember.tensor import Tensor

__all__ = ["bartlett_window", "blackman_window", "hamming_window", "hann_window", "kaiser_window"]


def _positions(name: str, window_length: int, periodic: bool):
    """The sample positions n and the symmetric window's N - 1, or None for the lengths 0 and 1."""
    if isinstance(window_length, bool) or not isinstance(window_length, (int, np.integer)):
        raise TypeError(f"{name}: window_length must be an int, got {type(window_length).__name__}")
    if window_length < 0:
        raise ValueError(f"{name}: requires a non-negative window_length, got window_length={window_length}")
    if window_length <= 1:
        return None
    return np.arange(window_length, dtype=np.float64), window_length if periodic else window_length - 1


def _window(name: str, window_length: int, periodic: bool, dtype, device, requires_grad: bool, values) -> Tensor:
    dtype = _float_dtype(name, dtype)
    points = _positions(name, window_length, periodic)
    array = np.ones(window_length, np.float64) if points is None else values(*points)
    return _finish(array.astype(dtype), dtype, device, requires_grad)


def _cosine_sum(n, last, coefficients):
    """sum_k (-1)^k a_k cos(2 pi k n / last): the generalized cosine windows."""
    return sum((-1) ** k * a * np.cos(2 * np.pi * k * n / last) for k, a in enumerate(coefficients))


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                requires_grad: bool = False) -> Tensor:
    """The Hann window ``0.5 - 0.5 cos(2 pi n / N)`` (``torch.hann_window``).

    >>> ember.hann_window(5, periodic=False)  # 0, 0.5, 1, 0.5, 0
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, last: _cosine_sum(n, last, (0.5, 0.5)))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
                   dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Hamming window ``alpha - beta cos(2 pi n / N)`` (``torch.hamming_window``).

    >>> ember.hamming_window(5, periodic=False)  # 0.08, 0.54, 1, 0.54, 0.08
    """
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, last: _cosine_sum(n, last, (alpha, beta)))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The Blackman window ``0.42 - 0.5 cos(2 pi n / N) + 0.08 cos(4 pi n / N)`` (``torch.blackman_window``).

    >>> ember.blackman_window(5, periodic=False)  # 0, 0.34, 1, 0.34, 0
    """
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, last: _cosine_sum(n, last, (0.42, 0.5, 0.08)))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, device=None,
                    requires_grad: bool = False) -> Tensor:
    """The triangular Bartlett window ``1 - |2 n / N - 1|`` (``torch.bartlett_window``).

    >>> ember.bartlett_window(5, periodic=False)  # 0, 0.5, 1, 0.5, 0
    """
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, last: 1 - np.abs(2 * n / last - 1))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None, device=None,
                  requires_grad: bool = False) -> Tensor:
    """The Kaiser window ``I0(beta sqrt(1 - (2 n / N - 1)^2)) / I0(beta)`` (``torch.kaiser_window``).

    >>> ember.kaiser_window(5, periodic=False, beta=5.0)[2]  # 1
    """
    def values(n, last):
        ratio = np.clip(2 * n / last - 1, -1.0, 1.0)
        # I0(b s) / I0(b) as i0e(b s) / i0e(b) e^(b (s - 1)), b = |beta|: I0 overflows past b = 713 (inf / inf was
        # NaN at the centre)
        b = abs(float(beta))
        s = np.sqrt(1 - ratio * ratio)
        return i0e(np, b * s) / i0e(np, np.float64(b)) * np.exp(b * (s - 1))

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)

"""``torch.fft`` under Ember: discrete Fourier transforms with PyTorch's ``n``/``s``, ``dim`` and ``norm``
arguments, dtypes (float32 input: complex64 results) and gradients (``ember.ops.fft``), on NumPy's or CuPy's FFT.

>>> x = ember.randn(8, requires_grad=True)
>>> ember.fft.rfft(x).abs().sum().backward()
>>> ember.fft.fftshift(ember.fft.fftfreq(4)).tolist()
[-0.5, -0.25, 0.0, 0.25]
"""

from __future__ import annotations

from ember.ops.fft import (
    fft,
    fft2,
    fftfreq,
    fftn,
    fftshift,
    hfft,
    hfft2,
    hfftn,
    ifft,
    ifft2,
    ifftn,
    ifftshift,
    ihfft,
    ihfft2,
    ihfftn,
    irfft,
    irfft2,
    irfftn,
    rfft,
    rfft2,
    rfftfreq,
    rfftn,
)

__all__ = [
    "fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "hfft2", "hfftn", "ifft", "ifft2", "ifftn", "ifftshift",
    "ihfft", "ihfft2", "ihfftn", "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn",
]

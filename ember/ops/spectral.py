"""The short-time Fourier transform and its inverse (``torch.stft``, ``torch.istft``), composed from ``take``
(framing and padding), ``rfft``/``fft`` and ``index_add`` (overlap-add), so gradients and graphs come from those."""

from __future__ import annotations

import operator

import numpy as np

from ember.backend.dtypes import COMPLEX, int64, real_of
from ember.ops.complex_parts import view_as_real
from ember.ops.convert import as_tensor, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.fft import fft, ifft, irfft, rfft
from ember.ops.indexing import getitem, index_add, pad, take
from ember.ops.registry import format_shape
from ember.ops.shape import reshape, swapaxes
from ember.ops.views import unfold

_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _count(name: str, what: str, value) -> int:
    """A positive ``value`` as a Python int (NumPy integers too, as PyTorch takes them; bools are refused)."""
    if isinstance(value, bool) or not hasattr(value, "__index__") or operator.index(value) < 1:
        raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
    return operator.index(value)


def _sizes(name: str, n_fft, hop_length, win_length) -> tuple:
    n_fft = _count(name, "n_fft", n_fft)
    hop = n_fft // 4 if hop_length is None else hop_length
    hop = _count(name, "hop_length", hop)
    win = n_fft if win_length is None else win_length
    if isinstance(win, bool) or not hasattr(win, "__index__") or not 0 < operator.index(win) <= n_fft:
        raise ValueError(f"{name}: win_length must be an int in [1, n_fft = {n_fft}], got {win!r}")
    return n_fft, hop, operator.index(win)


def _window(name: str, window, win: int, n_fft: int, like: TensorLike) -> TensorLike:
    """The window as a tensor of n_fft elements, ``win`` long and centred (ones when None, as PyTorch)."""
    if window is None:
        window = as_tensor(np.ones(win, real_of(like.dtype)), like)
    else:
        window = as_tensor(window, like)
        if window.ndim != 1 or window.shape[0] != win:
            raise ValueError(f"{name}: window must be 1-D of win_length = {win} elements, got shape "
                             f"{list(window.shape)}")
    left = (n_fft - win) // 2
    return pad(window, ((left, n_fft - win - left),)) if win < n_fft else window


def _padded(x: TensorLike, p: int, mode: str) -> TensorLike:
    """x padded by p elements at both ends of its last axis, as ``F.pad(x, (p, p), mode)``."""
    length = x.shape[-1]
    if mode == "constant":
        return pad(x, ((0, 0),) * (x.ndim - 1) + ((p, p),))
    if mode == "reflect":
        if p >= length:
            raise ValueError(f"stft: reflect padding of {p} needs a signal longer than {p}, got {length} samples; "
                             "use pad_mode='constant'")
        index = np.concatenate([np.arange(p, 0, -1), np.arange(length), np.arange(length - 2, length - 2 - p, -1)])
    elif mode == "replicate":
        index = np.concatenate([np.zeros(p, int), np.arange(length), np.full(p, length - 1)])
    else:
        index = np.arange(-p, length + p) % length
    return take(x, as_tensor(index.astype(int64), x), x.ndim - 1)


def stft(input, n_fft: int, hop_length: int | None = None, win_length: int | None = None,  # noqa: A002
         window=None, center: bool = True, pad_mode: str = "reflect", normalized: bool = False,
         onesided: bool | None = None, return_complex: bool | None = None) -> TensorLike:
    """The short-time Fourier transform of a signal of shape (L,) or (B, L) (``torch.stft``): frames of n_fft
    samples every hop_length (n_fft // 4), times the window (ones of win_length, centred in n_fft), transformed;
    the result is (B, n_fft // 2 + 1 (onesided) or n_fft, frames). ``center`` pads n_fft // 2 samples at both ends
    by ``pad_mode``; ``normalized`` scales by n_fft ** -0.5. ``return_complex`` must be given for real inputs, as
    PyTorch requires (False: ``view_as_real`` of the result).

    >>> ember.stft(ember.ones(8), 4, return_complex=True).shape
    (3, 9)
    """
    x = as_tensor(input)
    window = None if window is None else as_tensor(window)  # (a NumPy complex window counts as complex too)
    is_complex = x.dtype in COMPLEX or (window is not None and window.dtype in COMPLEX)
    if return_complex is None:
        if not is_complex:
            raise RuntimeError("stft: return_complex must be given for real inputs (PyTorch requires it); "
                               "return_complex=True is recommended")
        return_complex = True
    if x.ndim not in (1, 2):
        raise ValueError(f"stft: expected a 1-D or 2-D (batch, length) input, got shape {list(x.shape)}")
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"stft: pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}")
    if x.dtype not in COMPLEX:
        x = to_float(x, "stft")
    n_fft, hop, win = _sizes("stft", n_fft, hop_length, win_length)
    onesided = not is_complex if onesided is None else onesided
    if onesided and is_complex:
        raise RuntimeError("stft: a complex input or window has no one-sided transform; pass onesided=False")
    if x.shape[-1] is None:
        raise ValueError("stft: the signal's length is unknown while the graph is built, and the frames are laid out "
                         "from it; build with a known length")
    batched = x.ndim == 2
    if not batched:
        x = reshape(x, (1, x.shape[0]))
    if center:
        x = _padded(x, n_fft // 2, pad_mode)
    if not 0 < n_fft <= x.shape[-1]:
        raise ValueError(f"stft: n_fft = {n_fft} must be at most the (padded) signal length {x.shape[-1]}")
    frames = unfold(x, -1, n_fft, hop) * _window("stft", window, win, n_fft, x)  # (B, frames, n_fft)
    norm = "ortho" if normalized else "backward"
    spectrum = swapaxes(rfft(frames, norm=norm) if onesided else fft(frames, norm=norm), 1, 2)
    if not batched:
        spectrum = reshape(spectrum, tuple(spectrum.shape[1:]))
    return spectrum if return_complex else view_as_real(spectrum)


def _overlap_added(frames: TensorLike, hop: int) -> TensorLike:
    """Frames (B, T, n) summed into one signal (B, n + hop (T - 1)), frame t starting at t * hop."""
    batch, count, n = frames.shape
    positions = (np.arange(count)[:, None] * hop + np.arange(n)).reshape(-1).astype(int64)
    signal = as_tensor(np.zeros((batch, n + hop * (count - 1)), frames.dtype), frames)
    return index_add(signal, as_tensor(positions, frames), reshape(frames, (batch, count * n)), axis=1)


def istft(input, n_fft: int, hop_length: int | None = None, win_length: int | None = None,  # noqa: A002
          window=None, center: bool = True, normalized: bool = False, onesided: bool | None = None,
          length: int | None = None, return_complex: bool = False) -> TensorLike:
    """The inverse of ``stft`` (``torch.istft``): each frame transformed back, windowed, overlap-added and divided
    by the overlap-added squared window; ``center`` drops n_fft // 2 samples at both ends, ``length`` cuts or
    zero-pads the result. The input is complex, (n_fft // 2 + 1 or n_fft, frames) or batched.

    >>> x = ember.randn(16)
    >>> ember.istft(ember.stft(x, 4, return_complex=True), 4, length=16).shape
    (16,)
    """
    z = as_tensor(input)
    if z.dtype not in COMPLEX:
        raise TypeError(f"istft: expects a complex input (stft's result with return_complex=True), got "
                        f"{z.dtype}{list(z.shape)}")
    if z.ndim not in (2, 3):
        raise ValueError(f"istft: expected a 2-D (freq, frames) or 3-D (batch, freq, frames) input, got shape "
                         f"{list(z.shape)}")
    n_fft, hop, win = _sizes("istft", n_fft, hop_length, win_length)
    length = None if length is None else _count("istft", "length", length)
    if None in z.shape[-2:]:
        raise ValueError(f"istft: the number of frequencies or frames of the input {format_shape(z.shape)} is unknown "
                         "while the graph is built, and the signal is laid out from them; build with known sizes")
    bins = z.shape[-2]
    if z.shape[-1] == 0:
        raise ValueError(f"istft: the input has no frames (shape {list(z.shape)})")
    onesided = bins != n_fft if onesided is None else onesided
    if bins != (n_fft // 2 + 1 if onesided else n_fft):
        raise ValueError(f"istft: {'one-sided' if onesided else 'two-sided'} spectra of n_fft = {n_fft} have "
                         f"{n_fft // 2 + 1 if onesided else n_fft} frequencies, got {bins} (shape {list(z.shape)})")
    if return_complex and onesided:
        raise RuntimeError("istft: return_complex=True needs a two-sided input (onesided=False)")
    batched = z.ndim == 3
    if not batched:
        z = reshape(z, (1,) + tuple(z.shape))
    spectra = swapaxes(z, 1, 2)  # (B, frames, bins)
    norm = "ortho" if normalized else "backward"
    if return_complex:
        frames = ifft(spectra, n=n_fft, norm=norm)
    else:
        if not onesided:
            spectra = getitem(spectra, (slice(None), slice(None), slice(0, n_fft // 2 + 1)))
        frames = irfft(spectra, n=n_fft, norm=norm)
    w = _window("istft", window, win, n_fft, frames)
    if not return_complex and w.dtype in COMPLEX:
        raise RuntimeError(f"istft: a complex window ({w.dtype}) gives a complex signal; pass return_complex=True "
                           "(and a two-sided input), as PyTorch requires")
    signal = _overlap_added(frames * w, hop)
    envelope = _overlap_added(reshape(w * w, (1, 1, n_fft)) * as_tensor(np.ones((1, frames.shape[1], 1),
                                                                                real_of(w.dtype)), w), hop)
    start = n_fft // 2 if center else 0
    available = signal.shape[-1]
    end = (available - start if center else available) if length is None else min(start + length, available)
    signal = getitem(signal, (slice(None), slice(start, end)))
    envelope = getitem(envelope, (slice(None), slice(start, end)))
    if envelope.shape[-1] == 0:
        raise ValueError(f"istft: {frames.shape[1]} frames of n_fft = {n_fft} every {hop} samples leave no signal "
                         f"after removing the {start} padded samples at each end (input of shape {list(z.shape)})")
    if not envelope.symbolic and float(abs(envelope.array).min()) < 1e-11:
        raise RuntimeError("istft: the window overlap-added is zero somewhere (the NOLA condition fails); choose "
                           "a window and hop_length whose squared windows cover every sample")
    signal = signal / envelope
    if length is not None and signal.shape[-1] < length:
        signal = pad(signal, ((0, 0), (0, length - signal.shape[-1])))
    return signal if batched else reshape(signal, (signal.shape[-1],))

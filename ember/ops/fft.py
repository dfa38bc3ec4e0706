"""Discrete Fourier transforms (``torch.fft``) as three primitives on ``xp.fft`` (NumPy's, or CuPy's on a GPU):
complex to complex (``fft_c2c``), real to one-sided complex (``fft_r2c``) and one-sided complex to real
(``fft_c2r``), each over a tuple of axes with one of PyTorch's normalizations.

The public functions resize the input to the transform's sizes first (zeros padded or elements cut, with
``pad``/``getitem``), so the primitives never do. Their vjps are each other: the adjoint of a transform is the
opposite direction with the dual normalization ("backward" <-> "forward", "ortho" itself); the real-to-complex
gradient is the real part of the full inverse of the zero-padded one-sided gradient, and the complex-to-real one is
the one-sided transform of the gradient with the bins that stand for two (a bin and its mirror) doubled, as
PyTorch's.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ember.backend import dtypes as _dtypes
from ember.backend.devices import array_module
from ember.backend.dtypes import COMPLEX, FLOATING, LOW_PRECISION, complex_of, float32, real_of
from ember.ops import dispatch
from ember.ops.arrange import roll
from ember.ops.complex_parts import REAL, conj
from ember.ops.convert import as_tensor, cast, to_float
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import PAD, getitem, pad
from ember.ops.infer import as_int, check_axis
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error
from ember.ops.shape import clone

_NORMS = ("backward", "ortho", "forward")
_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _fft_cost(out: Spec, x: Spec, *, axes, **attrs) -> Cost:
    """About 5 n log2 n flops per transform of n points (radix-2's count), over every line of the batch."""
    big = out if out.size >= x.size else x
    points = math.prod(big.shape[a] for a in axes)
    return Cost(int(5 * big.size * max(math.log2(points), 1.0)), out.nbytes + x.nbytes)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_attrs(name: str, x: Spec, axes, norm) -> None:
    if not isinstance(axes, tuple) or not axes or not all(_is_int(a) and 0 <= a < x.ndim for a in axes) \
            or len(set(axes)) != len(axes):
        raise shape_error(name, [x], f"axes must be a tuple of distinct axes of the input, got {axes!r}")
    if norm not in _NORMS:
        raise shape_error(name, [x], f"norm must be one of {_NORMS}, got {norm!r}")


# --- complex to complex ------------------------------------------------------------------------------------


def _c2c_forward(xp, x, *, axes, norm, inverse):
    return (xp.fft.ifftn if inverse else xp.fft.fftn)(x, axes=axes, norm=norm)


def _c2c_infer(x: Spec, *, axes, norm, inverse) -> Spec:
    _check_attrs("fft_c2c", x, axes, norm)
    if not isinstance(inverse, bool):
        raise shape_error("fft_c2c", [x], f"inverse must be a bool, got {inverse!r}")
    if x.dtype not in COMPLEX:
        raise shape_error("fft_c2c", [x], "needs a complex input")
    return Spec(tuple(x.shape), x.dtype)


def _c2c_rule(run, ctx, g):
    attrs = ctx.attrs
    return (run(FFT_C2C, g, axes=attrs["axes"], norm=_DUAL[attrs["norm"]], inverse=not attrs["inverse"]),)


FFT_C2C = defop("fft_c2c", forward=_c2c_forward, infer=_c2c_infer, vjp=vjp_rule(_c2c_rule), cost=_fft_cost,
                onnx=NO_ONNX)


# --- real to one-sided complex -------------------------------------------------------------------------------


def _r2c_infer(x: Spec, *, axes, norm) -> Spec:
    _check_attrs("fft_r2c", x, axes, norm)
    if x.dtype not in FLOATING or x.dtype in LOW_PRECISION:
        raise shape_error("fft_r2c", [x], "needs a float32 or float64 input")
    shape = list(x.shape)
    shape[axes[-1]] = None if shape[axes[-1]] is None else shape[axes[-1]] // 2 + 1
    return Spec(tuple(shape), complex_of(x.dtype))


def _r2c_rule(run, ctx, g):
    axes, last = ctx.attrs["axes"], ctx.attrs["axes"][-1]
    missing = ctx.inputs[0].shape[last] - g.shape[last]
    if missing:
        width = tuple((0, missing if a == last else 0) for a in range(g.ndim))
        g = run(PAD, g, pad_width=width, value=0.0)
    return (run(REAL, run(FFT_C2C, g, axes=axes, norm=_DUAL[ctx.attrs["norm"]], inverse=True)),)


FFT_R2C = defop("fft_r2c", forward=lambda xp, x, *, axes, norm: xp.fft.rfftn(x, axes=axes, norm=norm),
                infer=_r2c_infer, vjp=vjp_rule(_r2c_rule), cost=_fft_cost, onnx=NO_ONNX)


# --- one-sided complex to real -------------------------------------------------------------------------------


def _c2r_forward(xp, x, *, axes, norm, n):
    sizes = [x.shape[a] for a in axes[:-1]] + [n]
    return xp.fft.irfftn(x, s=sizes, axes=axes, norm=norm)


def _c2r_infer(x: Spec, *, axes, norm, n) -> Spec:
    _check_attrs("fft_c2r", x, axes, norm)
    if x.dtype not in COMPLEX:
        raise shape_error("fft_c2r", [x], "needs a complex input")
    if not _is_int(n) or n < 1 or x.shape[axes[-1]] not in (n // 2 + 1, None):
        raise shape_error("fft_c2r", [x], f"axis {axes[-1]} must hold n // 2 + 1 bins for n = {n!r}")
    shape = list(x.shape)
    shape[axes[-1]] = n
    return Spec(tuple(shape), real_of(x.dtype))


def _c2r_rule(run, ctx, g):
    axes, n = ctx.attrs["axes"], ctx.attrs["n"]
    out = run(FFT_R2C, g, axes=axes, norm=_DUAL[ctx.attrs["norm"]])
    doubled = n - (n // 2 + 1)  # the bins 1..doubled stand for themselves and their mirror images
    if not doubled:
        return (out,)
    last = axes[-1]
    weights = np.ones((n // 2 + 1,) + (1,) * (g.ndim - 1 - last), dtype=g.dtype)
    weights[1:1 + doubled] = 2
    weights = as_tensor(weights, g) if run is on_tensors else array_module(g).asarray(weights)
    return (out * weights,)


FFT_C2R = defop("fft_c2r", forward=_c2r_forward, infer=_c2r_infer, vjp=vjp_rule(_c2r_rule), cost=_fft_cost,
                onnx=NO_ONNX)


# --- the functions ----------------------------------------------------------------------------------------------


def _norm(name: str, norm) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise ValueError(f"{name}: norm must be one of {_NORMS} or None, got {norm!r}")
    return norm


def _complex_input(x) -> TensorLike:
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        return x
    x = to_float(x)
    return cast(x, complex_of(float32 if x.dtype in LOW_PRECISION else x.dtype))


def _real_input(name: str, x) -> TensorLike:
    x = as_tensor(x)
    if x.dtype in COMPLEX:
        raise TypeError(f"{name}: expects a real input tensor, got {x.dtype}{list(x.shape)}")
    x = to_float(x, name)
    return cast(x, float32) if x.dtype in LOW_PRECISION else x


def _sizes_arg(name: str, x: TensorLike, s) -> list | None:
    """``s`` as a list of Python ints: one int stands for (s,), as PyTorch's; NumPy integers count, bools do not."""
    if s is None:
        return None
    specs = [Spec(tuple(x.shape), x.dtype)]
    return [as_int(name, n, "each size in s", specs) for n in (s if isinstance(s, (tuple, list)) else (s,))]


def _axes_and_sizes(name: str, x: TensorLike, s, dim, allow_none: bool = False) -> tuple:
    """The transform's axes and the sizes its input takes along them: PyTorch's ``s``/``dim`` rules (all axes when
    both are None, the last len(s) when only ``s`` is given; -1 in ``s`` keeps an axis's size). No axes at all are
    refused unless ``allow_none`` (the complex transforms: the identity, as PyTorch's)."""
    specs = [Spec(tuple(x.shape), x.dtype)]
    if dim is None:
        axes = tuple(range(x.ndim)) if s is None else tuple(range(x.ndim - len(s), x.ndim))
        if s is not None and len(s) > x.ndim:
            raise ValueError(f"{name}: s has {len(s)} sizes for a tensor of {x.ndim} dimensions")
    else:
        axes = tuple(check_axis(name, a, x.ndim, specs) for a in (dim if isinstance(dim, (tuple, list)) else (dim,)))
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: dim {dim} repeats an axis")
        if axes and x.ndim == 0:  # (check_axis lets a 0-d tensor take axis 0 or -1, as a reduction's)
            raise shape_error(name, specs, f"dim {dim} is out of range for a 0-d input")
    if not axes and not allow_none:
        raise ValueError(f"{name}: needs at least one axis to transform (input of shape {list(x.shape)})")
    if s is None:
        sizes = [x.shape[a] for a in axes]
    else:
        if len(s) != len(axes):
            raise ValueError(f"{name}: s {list(s)} and dim {list(axes)} must have one length")
        sizes = [x.shape[a] if n == -1 else n for a, n in zip(axes, s)]
    for a, n in zip(axes, sizes):
        if n is None:
            raise ValueError(f"{name}: the size of axis {a} is unknown while the graph is built; give it in n or s")
        if n < 1:
            raise ValueError(f"{name}: invalid number of data points ({n}) along axis {a}")
    return axes, sizes


def _resized(x: TensorLike, axis: int, size: int) -> TensorLike:
    """x cut to ``size`` elements along ``axis``, or padded with zeros to it (the transform's ``n``)."""
    have = x.shape[axis]
    if have == size:
        return x
    if have > size:
        return getitem(x, (slice(None),) * axis + (slice(0, size),))
    return pad(x, tuple((0, size - have if a == axis else 0) for a in range(x.ndim)))


def _c2c(name, x, s, dim, norm, inverse: bool) -> TensorLike:
    x = _complex_input(x)
    s = _sizes_arg(name, x, s)
    axes, sizes = _axes_and_sizes(name, x, s, dim, allow_none=True)
    norm = _norm(name, norm)
    if not axes:  # (fftn of a 0-d tensor, or with dim=()): a copy of the input, complex
        return clone(x)
    for a, n in zip(axes, sizes):
        x = _resized(x, a, n)
    return dispatch.apply(FFT_C2C, (x,), {"axes": axes, "norm": norm, "inverse": inverse})


def _r2c(name, x, s, dim, norm) -> TensorLike:
    x = _real_input(name, x)
    s = _sizes_arg(name, x, s)
    axes, sizes = _axes_and_sizes(name, x, s, dim)
    for a, n in zip(axes, sizes):
        x = _resized(x, a, n)
    return dispatch.apply(FFT_R2C, (x,), {"axes": axes, "norm": _norm(name, norm)})


def _c2r(name, x, s, dim, norm) -> TensorLike:
    x = _complex_input(x)
    s = _sizes_arg(name, x, s)
    axes, sizes = _axes_and_sizes(name, x, s, dim)
    if s is None or s[-1] == -1:
        sizes[-1] = 2 * (x.shape[axes[-1]] - 1)
        if sizes[-1] < 1:
            raise ValueError(f"{name}: invalid number of data points ({sizes[-1]}) along axis {axes[-1]}: give n "
                             f"(input of shape {list(x.shape)})")
    for a, n in zip(axes[:-1], sizes[:-1]):
        x = _resized(x, a, n)
    x = _resized(x, axes[-1], sizes[-1] // 2 + 1)
    return dispatch.apply(FFT_C2R, (x,), {"axes": axes, "norm": _norm(name, norm), "n": sizes[-1]})


def _one(name: str, n, dim) -> tuple | None:
    """The one-dimensional transforms' ``n`` as ``s``; their ``dim`` must be one axis (PyTorch refuses a tuple or
    None, which the shared code would take as a multi-dimensional transform)."""
    if dim is None or isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}; {name}n transforms over several axes")
    return None if n is None else (as_int(name, n, "n"),)


def _two(name: str, dim):
    """The two-dimensional transforms' ``dim``: PyTorch refuses None, which the shared code takes as every axis."""
    if dim is None:
        raise TypeError(f"{name}: dim must be a tuple of ints, got None; {name[:-1]}n transforms over every axis")
    return dim


def fft(input, n: int | None = None, dim: int = -1, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The one-dimensional discrete Fourier transform along ``dim`` (``torch.fft.fft``), of ``input`` cut or
    zero-padded to ``n`` points; real input gives the complex dtype of its width (float32: complex64).

    >>> ember.fft.fft(ember.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
    [(1+0j), (1+0j), (1+0j), (1+0j)]
    """
    return _c2c("fft", input, _one("fft", n, dim), dim, norm, inverse=False)


def ifft(input, n: int | None = None, dim: int = -1, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The inverse of ``fft`` (``torch.fft.ifft``): 1/n-scaled under the default ``norm="backward"``."""
    return _c2c("ifft", input, _one("ifft", n, dim), dim, norm, inverse=True)


def fft2(input, s=None, dim=(-2, -1), norm: str | None = None) -> TensorLike:  # noqa: A002
    """The two-dimensional transform over ``dim`` (``torch.fft.fft2``)."""
    return _c2c("fft2", input, s, _two("fft2", dim), norm, inverse=False)


def ifft2(input, s=None, dim=(-2, -1), norm: str | None = None) -> TensorLike:  # noqa: A002
    """The inverse of ``fft2`` (``torch.fft.ifft2``)."""
    return _c2c("ifft2", input, s, _two("ifft2", dim), norm, inverse=True)


def fftn(input, s=None, dim=None, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The n-dimensional transform over ``dim`` (every axis, or the last len(s), when None; ``torch.fft.fftn``)."""
    return _c2c("fftn", input, s, dim, norm, inverse=False)


def ifftn(input, s=None, dim=None, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The inverse of ``fftn`` (``torch.fft.ifftn``)."""
    return _c2c("ifftn", input, s, dim, norm, inverse=True)


def rfft(input, n: int | None = None, dim: int = -1, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The transform of a real input, its n // 2 + 1 non-negative frequencies only (``torch.fft.rfft``).

    >>> ember.fft.rfft(ember.tensor([1.0, 2.0, 3.0, 4.0])).tolist()
    [(10+0j), (-2+2j), (-2+0j)]
    """
    return _r2c("rfft", input, _one("rfft", n, dim), dim, norm)


def irfft(input, n: int | None = None, dim: int = -1, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The real signal of n points (2 * (bins - 1) by default) whose ``rfft`` is ``input`` (``torch.fft.irfft``);
    the imaginary parts of the zero (and even n's Nyquist) frequency are ignored."""
    return _c2r("irfft", input, _one("irfft", n, dim), dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm: str | None = None) -> TensorLike:  # noqa: A002
    """``rfftn`` over two axes (``torch.fft.rfft2``)."""
    return _r2c("rfft2", input, s, _two("rfft2", dim), norm)


def irfft2(input, s=None, dim=(-2, -1), norm: str | None = None) -> TensorLike:  # noqa: A002
    """``irfftn`` over two axes (``torch.fft.irfft2``)."""
    return _c2r("irfft2", input, s, _two("irfft2", dim), norm)


def rfftn(input, s=None, dim=None, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The n-dimensional transform of a real input, one-sided along the last axis of ``dim``
    (``torch.fft.rfftn``)."""
    return _r2c("rfftn", input, s, dim, norm)


def irfftn(input, s=None, dim=None, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The inverse of ``rfftn`` (``torch.fft.irfftn``): ``s[-1]`` (by default 2 * (bins - 1)) real points along
    the last axis."""
    return _c2r("irfftn", input, s, dim, norm)


def hfft(input, n: int | None = None, dim: int = -1, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The real transform of a signal with Hermitian symmetry given by its first half (``torch.fft.hfft``):
    ``irfft`` of the conjugate, with the dual normalization."""
    name = "hfft"
    return _c2r(name, conj(_complex_input(input)), _one(name, n, dim), dim, _DUAL[_norm(name, norm)])


def ihfft(input, n: int | None = None, dim: int = -1, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The inverse of ``hfft`` (``torch.fft.ihfft``): the conjugate of ``rfft``, with the dual normalization."""
    name = "ihfft"
    return conj(_r2c(name, input, _one(name, n, dim), dim, _DUAL[_norm(name, norm)]))


def hfftn(input, s=None, dim=None, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The real n-dimensional transform of a Hermitian-symmetric signal given by its half along the last axis of
    ``dim`` (``torch.fft.hfftn``): ``irfftn`` of the conjugate, with the dual normalization."""
    name = "hfftn"
    return _c2r(name, conj(_complex_input(input)), s, dim, _DUAL[_norm(name, norm)])


def ihfftn(input, s=None, dim=None, norm: str | None = None) -> TensorLike:  # noqa: A002
    """The inverse of ``hfftn`` (``torch.fft.ihfftn``): the conjugate of ``rfftn``, with the dual normalization."""
    name = "ihfftn"
    return conj(_r2c(name, input, s, dim, _DUAL[_norm(name, norm)]))


def hfft2(input, s=None, dim=(-2, -1), norm: str | None = None) -> TensorLike:  # noqa: A002
    """``hfftn`` over two axes (``torch.fft.hfft2``)."""
    name = "hfft2"
    return _c2r(name, conj(_complex_input(input)), s, _two(name, dim), _DUAL[_norm(name, norm)])


def ihfft2(input, s=None, dim=(-2, -1), norm: str | None = None) -> TensorLike:  # noqa: A002
    """``ihfftn`` over two axes (``torch.fft.ihfft2``)."""
    name = "ihfft2"
    return conj(_r2c(name, input, s, _two(name, dim), _DUAL[_norm(name, norm)]))


def _frequencies(name: str, values: np.ndarray, dtype, device, requires_grad: bool) -> TensorLike:
    dtype = _dtypes.as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    if dtype not in FLOATING:
        raise TypeError(f"{name}: needs a floating dtype, got {dtype}")
    out = dispatch.new(values.astype(dtype), dtype, device)
    return out.requires_grad_(True) if requires_grad else out


def _scaled(k: np.ndarray, n: int, d) -> np.ndarray:
    """The bin numbers ``k`` times 1 / (n d), as PyTorch's frequencies: d = 0 gives NaN at 0 and infinities elsewhere
    (NumPy's raise ZeroDivisionError)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return k * (np.float64(1.0) / (n * np.float64(float(d))))


def _points(name: str, n) -> int:
    """``n`` as a Python int (NumPy integers too); 0 is allowed, as PyTorch's (fftfreq(0) is empty)."""
    if isinstance(n, bool) or not hasattr(n, "__index__") or operator.index(n) < 0:
        raise ValueError(f"{name}: n must be a non-negative int, got {n!r}")
    return operator.index(n)


def fftfreq(n: int, d: float = 1.0, *, dtype=None, device=None, requires_grad: bool = False) -> TensorLike:
    """The sample frequencies of an ``fft`` of n points spaced ``d`` apart: [0, 1, ..., -1] / (d n)
    (``torch.fft.fftfreq``).

    >>> ember.fft.fftfreq(4).tolist()
    [0.0, 0.25, -0.5, -0.25]
    """
    n = _points("fftfreq", n)
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return _frequencies("fftfreq", _scaled(k, n, d), dtype, device, requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, device=None, requires_grad: bool = False) -> TensorLike:
    """The non-negative sample frequencies of an ``rfft`` of n points: [0, 1, ..., n // 2] / (d n)
    (``torch.fft.rfftfreq``)."""
    n = _points("rfftfreq", n)
    return _frequencies("rfftfreq", _scaled(np.arange(0, n // 2 + 1), n, d), dtype, device, requires_grad)


def _shifted(name: str, x, dim, sign: int) -> TensorLike:
    x = as_tensor(x)
    specs = [Spec(tuple(x.shape), x.dtype)]
    axes = tuple(range(x.ndim)) if dim is None else tuple(
        check_axis(name, a, x.ndim, specs) for a in (dim if isinstance(dim, (tuple, list)) else (dim,)))
    if not axes:
        return x
    if x.ndim == 0:
        raise shape_error(name, specs, f"dim {dim} is out of range for a 0-d input")
    return roll(x, [sign * (x.shape[a] // 2) for a in axes], list(axes))


def fftshift(input, dim=None) -> TensorLike:  # noqa: A002
    """The zero frequency moved to the middle of ``dim`` (every axis by default), ``torch.fft.fftshift``.

    >>> ember.fft.fftshift(ember.fft.fftfreq(4)).tolist()
    [-0.5, -0.25, 0.0, 0.25]
    """
    return _shifted("fftshift", input, dim, 1)


def ifftshift(input, dim=None) -> TensorLike:  # noqa: A002
    """The inverse of ``fftshift`` (``torch.fft.ifftshift``)."""
    return _shifted("ifftshift", input, dim, -1)

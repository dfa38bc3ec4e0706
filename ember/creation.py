"""Creating tensors: from data, filled, ranges, identity, and random."""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from ember import random as _random
from ember.backend import dtypes as _dtypes
from ember.backend.devices import CPU, Device, array_module, device_of, move
from ember.backend.dtypes import COMPLEX, DEFAULT_INT, FLOATING, as_dtype, real_of
from ember.grad_mode import no_grad, thread_mode
from ember.memory_format import lay_out
from ember.ops.complex_parts import view_as_complex
from ember.ops.convert import as_tensor as _as_tensor
from ember.ops.convert import cast, check_fill_value, promote
from ember.ops.effects import random_draw
from ember.ops.sized import arange_sized, fill, fill_like, sourced
from ember.ops.unknown_size import UnknownSize
from ember.tensor import Tensor

_default_device = CPU


def set_default_device(device) -> None:
    """The device creation functions use when given none (``torch.set_default_device``); cpu to begin with."""
    global _default_device
    _default_device = CPU if device is None else Device(device)


def get_default_device() -> Device:
    """The device creation functions use when given none."""
    return _default_device


def _device(device) -> Device:
    return _default_device if device is None else Device(device)


def _finish(array, dtype, device, requires_grad) -> Tensor:
    device = _device(device)
    if device.type != "cpu":
        array = move(array, device)
    t = Tensor._make(array, None)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _takes_size(fn):
    """``fn`` (taking its shape as arguments, or as ``shape``) also taking PyTorch's ``size=`` keyword for it."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "size" in kwargs:
            size = kwargs.pop("size")
            if fn.__name__ == "full":
                if args or "shape" in kwargs:
                    raise TypeError("full: got size= and a shape; give one")
                kwargs["shape"] = size
            elif args:
                raise TypeError(f"{fn.__name__}: got size= and sizes as arguments; give one")
            else:
                args = (tuple(size),)
        return fn(*args, **kwargs)

    return wrapper


def _flat(shape) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, UnknownSize)):
        return tuple(shape[0])
    return tuple(shape)


def _shape(shape) -> tuple:
    shape = tuple(int(d) for d in _flat(shape))
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimension in shape {list(shape)}")
    return shape


def _filled(shape, value, dtype, requires_grad: bool):
    """A graph's fill node for a shape holding sizes read from graph values (``zeros(x.size(0), 3)`` while
    tracing for any batch size), or for a graph value's shape (``zeros_like(x)``)."""
    if requires_grad:
        raise ValueError("requires_grad=True for a tensor of unknown sizes made while a graph is built: a graph "
                         "value is no leaf to train; make the parameter outside the traced function")
    return fill_like(shape, value, dtype) if isinstance(shape, Tensor) else fill(shape, value, dtype)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (Python numbers, nested lists, arrays or Tensors).

    >>> ember.tensor([[1, 2], [3, 4]], dtype=ember.float32)
    """
    if device is None and _default_device is not CPU and not hasattr(data, "dtype"):
        device = _default_device  # (arrays and tensors keep their own device, as in PyTorch)
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy); a subclass's (``np.memmap``'s) as a plain array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    as_dtype(array.dtype)
    if array.__class__ is not np.ndarray:  # a tensor holds exact ndarrays on the CPU (other classes are devices')
        array = array.view(np.ndarray)
    return Tensor._make(array, None)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, without copying when it already is one with that dtype and device."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == as_dtype(dtype)) and (
        device is None or data.device == Device(device)
    ):
        return data
    if isinstance(data, np.ndarray) and device in (None, "cpu") and (dtype is None or data.dtype == as_dtype(dtype)):
        return from_numpy(data)
    return Tensor(data, dtype=dtype, device=device)


@_takes_size
def zeros(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    if sourced(_flat(shape)):
        return _filled(_flat(shape), 0, dtype, requires_grad)
    return _finish(np.zeros(_shape(shape), dtype), dtype, device, requires_grad)


@_takes_size
def ones(*shape, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    if sourced(_flat(shape)):
        return _filled(_flat(shape), 1, dtype, requires_grad)
    return _finish(np.ones(_shape(shape), dtype), dtype, device, requires_grad)


@_takes_size
def full(shape, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype from the value when not given)."""
    if isinstance(fill_value, (Tensor, np.integer)):
        fill_value = fill_value.item()  # typed as the Python number it holds, as PyTorch (full(2, np.int32(3)): int64)
    if dtype is None:
        dtype = np.dtype(np.bool_) if isinstance(fill_value, bool) else (
            DEFAULT_INT if isinstance(fill_value, int) else _dtypes.DEFAULT_FLOAT)
        if isinstance(fill_value, complex):
            dtype = _dtypes.default_complex()
    dtype = as_dtype(dtype)
    if isinstance(fill_value, complex) and dtype.kind not in "cb":  # (NumPy would drop the imaginary part)
        raise TypeError(f"full: a complex fill_value {fill_value!r} needs a complex dtype, got {dtype}")
    check_fill_value("full", fill_value, dtype)
    if dtype.kind == "u" and isinstance(fill_value, int) and fill_value < 0:  # wraps (-2 is 254 in uint8), as PyTorch
        fill_value = np.asarray(fill_value, np.int64).astype(dtype)
    shape = (shape,) if isinstance(shape, (int, UnknownSize)) else tuple(shape)
    if sourced(shape):
        return _filled(shape, fill_value, dtype, requires_grad)
    return _finish(np.full(_shape(shape), fill_value, dtype), dtype, device, requires_grad)


@_takes_size
def empty(*shape, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """An uninitialised tensor (filled with zeros here, so results never depend on garbage); ``memory_format``
    (``ember.channels_last``...) lays its data out so."""
    return _laid_out(zeros(*shape, dtype=dtype, device=device, requires_grad=requires_grad), memory_format)


def _like(x: Tensor, dtype, device):
    return (dtype if dtype is not None else x.dtype), (device if device is not None else x.device)


def _laid_out(t: Tensor, memory_format, like: Tensor | None = None) -> Tensor:
    """``t`` (a new tensor) with its data laid out as ``memory_format`` asks; None or ``preserve_format`` keeps
    ``like``'s channels-last layout, as PyTorch's ``*_like`` functions do."""
    if t.symbolic or (memory_format is None and (like is None or like.array.ndim < 4)):
        return t  # a graph's values: the compiled code lays out its own buffers
    t.array = lay_out(t.array, memory_format, None if like is None or like.symbolic else like.array)
    return t


def _unknown_sized(x) -> bool:
    """Whether ``x`` is a graph value with unknown sizes (a ``*_like`` of it reads them when the graph runs)."""
    return getattr(x, "symbolic", False) and None in x.array.shape


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    dtype, device = _like(x, dtype, device)
    if _unknown_sized(x):
        return _filled(x, 0, dtype, requires_grad)
    return _laid_out(zeros(x.shape, dtype=dtype, device=device, requires_grad=requires_grad), memory_format, x)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    dtype, device = _like(x, dtype, device)
    if _unknown_sized(x):
        return _filled(x, 1, dtype, requires_grad)
    return _laid_out(ones(x.shape, dtype=dtype, device=device, requires_grad=requires_grad), memory_format, x)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False,
              memory_format=None) -> Tensor:
    dtype, device = _like(x, dtype, device)
    if _unknown_sized(x):
        return _filled(x, full((), fill_value, dtype=dtype).item(), dtype, requires_grad)
    return _laid_out(full(x.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad),
                     memory_format, x)


def empty_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    return zeros_like(x, dtype, device, requires_grad, memory_format)


def arange(start=0, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end) (``arange(end)`` from 0); int64 for integer arguments, else the
    default float dtype."""
    stop = end
    if stop is None:
        start, stop = 0, start
    if sourced((start, stop, step)):  # a bound read from a graph value's unknown size
        if requires_grad:
            raise ValueError("arange: requires_grad=True for a range of unknown size made while a graph is built")
        if not all(isinstance(v, (int, UnknownSize)) for v in (start, stop, step)):
            raise TypeError(f"arange: a range of unknown size takes int bounds, got {start!r}, {stop!r}, {step!r}")
        return arange_sized(start, stop, step, as_dtype(dtype) if dtype is not None else DEFAULT_INT)
    if step == 0:
        raise ValueError("arange: step must not be zero")
    # NumPy integers and 0-d tensors count as the Python numbers they hold (arange(np.int64(5)) is int64)
    start, stop, step = (v.item() if isinstance(v, (Tensor, np.integer)) else v for v in (start, stop, step))
    if (stop - start) * step < 0:
        raise ValueError(f"arange: the bounds [{start}, {stop}) are inconsistent with the sign of step {step}")
    if dtype is None:
        dtype = DEFAULT_INT if all(isinstance(v, int) for v in (start, stop, step)) else _dtypes.DEFAULT_FLOAT
    dtype = as_dtype(dtype)
    if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
        # as PyTorch: an integer dtype counts from the truncated start by the truncated step (arange(-1.5, 2) is
        # -1, 0, 1, not the truncations -1, 0, 0, 1); the count comes from the truncated bounds for int64 and
        # from the given ones for the other integer dtypes
        first, last, stride = int(start), int(stop), int(step)
        if stride == 0:
            raise ValueError(f"arange: step must not be zero (step {step} truncates to 0 for dtype {dtype})")
        count = (-((first - last) // stride) if dtype == np.int64
                 else math.ceil((float(stop) - float(start)) / float(step)))
        values = first + stride * np.arange(max(count, 0), dtype=np.int64)
        return _finish(values.astype(dtype), dtype, device, requires_grad)
    # as PyTorch: the count and each value start + i * step in float64 (np.arange extrapolates a rounded
    # (start + step) - start, and works in float32 for float32 bounds, which can step past the end)
    first, last, stride = float(start), float(stop), float(step)
    if not (math.isfinite(first) and math.isfinite(last)):
        raise ValueError(f"arange: the bounds [{start}, {stop}) must be finite")
    values = first + stride * np.arange(max(math.ceil((last - first) / stride), 0), dtype=np.float64)
    return _finish(values.astype(dtype), dtype, device, requires_grad)


def _spaced_dtype(name: str, dtype, start, end) -> np.dtype:
    """linspace's and logspace's dtype: the given one, else the default complex dtype for a complex endpoint and
    the default float dtype otherwise; a complex endpoint with a real dtype is refused, as PyTorch."""
    for what, value in (("start", start), ("end", end)):
        if getattr(value, "ndim", 0):  # (NumPy would space each element, making a 2-D result)
            raise ValueError(f"{name}: takes a number or a 0-d tensor for {what}, got shape {list(value.shape)}")
    complex_end = any(isinstance(v, (complex, np.complexfloating)) or getattr(v, "dtype", None) in COMPLEX
                      for v in (start, end))
    if dtype is None:
        return _dtypes.default_complex() if complex_end else _dtypes.DEFAULT_FLOAT
    dtype = as_dtype(dtype)
    if complex_end and dtype not in COMPLEX:
        raise TypeError(f"{name}: a complex start or end ({start}, {end}) cannot be cast to dtype {dtype}")
    if dtype == np.bool_:
        raise TypeError(f"{name}: does not make bool values (as PyTorch); give a numeric dtype")
    return dtype


def _integer_points(name: str, start, end, steps: int, dtype: np.dtype) -> np.ndarray:
    """linspace's points for an integer dtype, as PyTorch's: between the endpoints converted to the dtype first
    (linspace(0.5, 10.5, 4) is 0, 3, 6, 10; an endpoint the dtype does not hold is refused), the second half
    counted back from the end; float64, for the caller to truncate (or raise to a power)."""
    bounds = np.iinfo(dtype)
    ends = []
    for what, given in (("start", start), ("end", end)):
        value = int(given)  # (an integer wraps into an unsigned dtype, a float does not, as PyTorch)
        wraps = dtype.kind == "u" and float(given) == value and -bounds.max <= value < 0
        if not (bounds.min <= float(given) <= bounds.max or wraps):
            raise ValueError(f"{name}: {what} {given} does not fit dtype {dtype}")
        ends.append(float(np.asarray(value, np.int64).astype(dtype)))  # (-3 is 253 in uint8, as PyTorch)
    first, last = ends
    if steps == 1:
        return np.array([first])
    index = np.arange(steps, dtype=np.float64)
    step = (last - first) / (steps - 1)
    return np.where(index < steps // 2, first + step * index, last - step * (steps - 1 - index))


def linspace(start: float, end: float, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included (complex for a complex endpoint)."""
    dtype = _spaced_dtype("linspace", dtype, start, end)
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    if dtype.kind in "iu":
        return _finish(_integer_points("linspace", start, end, steps, dtype).astype(dtype), dtype, device,
                       requires_grad)
    return _finish(np.linspace(start, end, steps).astype(dtype), dtype, device, requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in the exponent, as
    ``torch.logspace`` (complex for a complex endpoint)."""
    dtype = _spaced_dtype("logspace", dtype, start, end)
    if steps < 0:
        raise ValueError(f"logspace: steps must be non-negative, got {steps}")
    if dtype.kind in "iu" and steps != 1:  # (one step is base ** start itself, as PyTorch)
        exponents = _integer_points("logspace", start, end, steps, dtype)
    else:
        exponents = np.linspace(start, end, steps)
    with np.errstate(over="ignore"):
        values = np.power(float(base), exponents)
    return _finish(values.astype(dtype), dtype, device, requires_grad)


def torch_range(start: float, end: float, step: float = 1, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` *inclusive*, ``step`` apart, float32 by default: PyTorch's deprecated
    ``torch.range`` (``arange`` leaves the end out)."""
    if step == 0:
        raise ValueError("range: step must not be zero")
    if (end - start) * step < 0:
        raise ValueError(f"range: the bounds [{start}, {end}] are inconsistent with the sign of step {step}")
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    count = int(np.floor((end - start) / step)) + 1
    return _finish((start + step * np.arange(count, dtype=np.float64)).astype(dtype), dtype, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    return _finish(np.eye(n, m, dtype=dtype), dtype, device, requires_grad)


def _float_dtype(name, dtype):
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    if dtype not in FLOATING:
        raise TypeError(f"{name}: needs a floating dtype, got {dtype}")
    return dtype


def _drawn_per_run(device, requires_grad: bool) -> bool:
    """Whether a sample made now must be a ``random`` op: while ``ember.jit`` traces (a graph that records
    every op and runs it again on every call), a sample made as an array would be frozen into the trace."""
    return (getattr(thread_mode.builder, "live_captures", False) and not requires_grad
            and _device(device).type == "cpu")


def _source(name: str, generator, device, requires_grad: bool) -> np.random.Generator | None:
    """The NumPy generator a sample is drawn from now, or None where it must be a ``random`` op (``ember.jit``
    tracing, see ``_drawn_per_run``), which draws from the global stream alone."""
    if _drawn_per_run(device, requires_grad):
        if generator is not None:
            raise TypeError(f"{name}: generator= is not supported while ember.jit traces (a traced draw comes from "
                            "the global stream, ember.random.stream()); draw outside the traced function")
        return None
    return _random.numpy_generator(generator)


@_takes_size
def rand(*shape, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the global generator or ``generator`` (traced by ``ember.jit``: a new draw on
    every call, from the ``random`` op's stream, ``ember.random.stream()``); a complex dtype draws both parts so."""
    if dtype is not None and as_dtype(dtype) in COMPLEX:
        return _complex_draw(rand, shape, as_dtype(dtype), 1.0, device, requires_grad, generator)
    dtype = _float_dtype("rand", dtype)
    source = _source("rand", generator, device, requires_grad)
    if source is None:
        return random_draw("uniform", _shape(shape), dtype, 0.0, 1.0)
    array = _random.uniform(source, 0.0, 1.0, _shape(shape), dtype)
    return _finish(array, dtype, device, requires_grad)


@_takes_size
def randn(*shape, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator or ``generator`` (traced by ``ember.jit``: a new draw on
    every call, from the ``random`` op's stream, ``ember.random.stream()``); a complex dtype draws each part from
    N(0, 1/2), as PyTorch, so that E|z|^2 is 1."""
    if dtype is not None and as_dtype(dtype) in COMPLEX:
        return _complex_draw(randn, shape, as_dtype(dtype), math.sqrt(0.5), device, requires_grad, generator)
    dtype = _float_dtype("randn", dtype)
    source = _source("randn", generator, device, requires_grad)
    if source is None:
        return random_draw("normal", _shape(shape), dtype, 0.0, 1.0)
    array = source.standard_normal(_shape(shape)).astype(dtype)
    return _finish(array, dtype, device, requires_grad)


def _complex_draw(draw, shape, dtype, scale: float, device, requires_grad: bool, generator=None) -> Tensor:
    """``draw``'s samples for the real and imaginary parts of a complex tensor, the parts scaled by ``scale``."""
    parts = draw(*_shape(shape), 2, generator=generator, dtype=real_of(dtype), device=device)
    # writable memory of its own: view_as_complex gives a read-only copy (Ember has no complex views)
    out = Tensor._make(view_as_complex(parts * scale if scale != 1.0 else parts).array.copy(), None)
    return out.requires_grad_(True) if requires_grad else out


def _integer(name: str, what: str, value) -> int:
    """``value`` as a Python int (a bool or a float is refused, as PyTorch refuses them)."""
    if isinstance(value, bool):
        raise TypeError(f"{name}: {what} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int, got {type(value).__name__}") from None


def randint(low: int | None = None, high: int | None = None, size=(), *, generator=None, dtype=None,
            device=None) -> Tensor:
    """Integers uniform in [low, high) (in [0, low) when ``high`` is None, and ``randint(high, size)`` and
    ``randint(high=h, size=s)`` as PyTorch), int64 by default."""
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high  # randint(high, size): PyTorch's two-argument form
    elif high is None:
        if low is None:
            raise TypeError("randint: needs high (randint(high, size) or randint(low, high, size))")
        low, high = 0, low
    elif low is None:
        low = 0
    low, high = _integer("randint", "low", low), _integer("randint", "high", high)
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    dtype = as_dtype(dtype) if dtype is not None else DEFAULT_INT
    if dtype in COMPLEX:
        raise TypeError(f"randint: needs a real dtype, got {dtype}")
    bounds = _random.exact_integers(dtype)
    if low < bounds[0] or high - 1 > bounds[1]:
        raise ValueError(f"randint: the range [{low}, {high}) does not fit dtype {dtype} (the integers it holds "
                         f"exactly are [{bounds[0]}, {bounds[1]}])")
    size = (size,) if isinstance(size, int) else tuple(size)
    array = _random.numpy_generator(generator).integers(low, high, size).astype(dtype)
    return _finish(array, dtype, device, False)


def rand_like(x: Tensor, dtype=None, device=None, memory_format=None, *, generator=None,
              requires_grad: bool = False) -> Tensor:
    """``rand`` of ``x``'s shape, dtype and device (``torch.rand_like``)."""
    dtype, device = _like(x, dtype, device)
    made = rand(x.shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)
    return _laid_out(made, memory_format, x)


def randn_like(x: Tensor, dtype=None, device=None, memory_format=None, *, generator=None,
               requires_grad: bool = False) -> Tensor:
    """``randn`` of ``x``'s shape, dtype and device (``torch.randn_like``)."""
    dtype, device = _like(x, dtype, device)
    made = randn(x.shape, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad)
    return _laid_out(made, memory_format, x)


def randint_like(x: Tensor, low: int | None = None, high: int | None = None, dtype=None, memory_format=None, *,
                 generator=None, device=None) -> Tensor:
    """``randint`` of ``x``'s shape, dtype and device (``torch.randint_like``: ``randint_like(x, high)``,
    ``randint_like(x, low, high)`` or ``randint_like(x, high=h)``)."""
    dtype, device = _like(x, dtype, device)
    return _laid_out(randint(low, high, x.shape, generator=generator, dtype=dtype, device=device), memory_format, x)


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (from ``generator`` when given)."""
    n = _integer("randperm", "n", n)
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    dtype = as_dtype(dtype) if dtype is not None else DEFAULT_INT
    if dtype in COMPLEX or dtype == np.bool_:
        raise TypeError(f"randperm: needs an integer or floating dtype, got {dtype}")
    if n - 1 > _random.exact_integers(dtype)[1]:
        raise ValueError(f"randperm: n={n} does not fit dtype {dtype}, which holds the integers exactly only up to "
                         f"{_random.exact_integers(dtype)[1]}")
    return _finish(_random.numpy_generator(generator).permutation(n).astype(dtype), dtype, device, requires_grad)


# --- sampling from tensors of parameters (PyTorch's bernoulli, multinomial, normal) --------------------------


def _eager(name: str, *tensors) -> None:
    if any(t.symbolic for t in tensors):
        raise TypeError(f"{name}: draws from the values of its tensor arguments, which a graph does not have "
                        "while it is built; draw eagerly (or compose from rand/randn, which ember.jit traces)")


def _floating(name: str, what: str, t) -> None:
    if t.dtype not in FLOATING:
        raise TypeError(f"{name}: {what} must have a floating dtype, got {t.dtype}")


def _check_probability(name: str, p) -> None:
    if not p.symbolic and bool(((p.array < 0) | (p.array > 1) | (p.array != p.array)).any()):
        raise ValueError(f"{name}: the probabilities must be in [0, 1]")


def bernoulli(input, p: float | None = None, *, generator=None) -> Tensor:  # noqa: A002  (PyTorch's name)
    """0 or 1 in ``input``'s dtype and shape, each 1 with probability its element of ``input`` (or ``p`` for
    every element, when ``input`` gives only the shape and dtype, integer or bool too), drawn from Ember's generator,
    as ``torch.bernoulli``; no gradient."""
    input = _as_tensor(input)  # noqa: A001
    if p is not None:
        if not 0 <= p <= 1:
            raise ValueError(f"bernoulli: p must be in [0, 1], got {p}")
        if input.dtype not in FLOATING:  # (p itself in an integer dtype would truncate to 0)
            drawn = rand(input.shape, generator=generator, dtype=np.float64, device=input.device)
            return cast(drawn < p, input.dtype)
        input = full(input.shape, p, dtype=input.dtype, device=input.device)
    _floating("bernoulli", "the probabilities", input)
    _check_probability("bernoulli", input)
    return cast(rand(input.shape, generator=generator, dtype=input.dtype, device=input.device) < input, input.dtype)


def _multinomial_checks(probs, num_samples: int, replacement: bool) -> None:
    _floating("multinomial", "the probabilities", probs)
    if probs.ndim not in (1, 2):
        raise ValueError(f"multinomial: the probabilities must be 1-D or 2-D, got shape {list(probs.shape)}")
    if num_samples <= 0:
        raise ValueError(f"multinomial: cannot draw num_samples={num_samples} <= 0 samples")
    if not replacement and num_samples > probs.shape[-1]:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                         f"{probs.shape[-1]} categories")
    array = probs.array
    if bool((~np.isfinite(array) | (array < 0)).any()):
        raise ValueError("multinomial: the probabilities contain inf, nan or a negative element")
    if probs.shape[-1] == 0 or bool((array.sum(-1) <= 0).any()):
        raise ValueError("multinomial: invalid distribution (a row's probabilities sum to 0)")


def _with_replacement(xp, rows, num_samples: int, source: np.random.Generator):
    cdf = xp.cumsum(rows, axis=1)
    cdf /= cdf[:, -1:]  # the last bound is exactly 1: a uniform in [0, 1) never passes it
    u = move(source.random((rows.shape[0], num_samples)), device_of(rows))
    # side="right": a zero-probability category's interval is empty and never chosen
    return xp.stack([xp.searchsorted(c, row, side="right") for c, row in zip(cdf, u)])


def _without_replacement(xp, rows, num_samples: int, source: np.random.Generator):
    # successive draws without replacement are the largest weight / Exp(1) keys
    keys = rows / move(source.standard_exponential(rows.shape), device_of(rows))
    return xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:  # noqa: A002
    """``num_samples`` category indices (int64) per row of the 1-D or 2-D non-negative weights ``input``,
    drawn from Ember's generator with probabilities proportional to the weights; without ``replacement`` a
    row's indices are distinct. As ``torch.multinomial``; eager only, no gradient."""
    probs = _as_tensor(input)
    _eager("multinomial", probs)
    num_samples = operator.index(num_samples)
    _multinomial_checks(probs, num_samples, replacement)
    array = probs.array
    xp = array_module(array)
    rows = array.reshape(-1, array.shape[-1]).astype(np.float64)
    draw = _with_replacement if replacement else _without_replacement
    indices = draw(xp, rows, num_samples, _random.numpy_generator(generator)).astype(np.int64)
    return Tensor._make(indices.reshape(array.shape[:-1] + (num_samples,)), None)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Samples of N(mean, std^2) from Ember's generator, as ``torch.normal``: ``mean`` and/or ``std`` tensors
    (broadcast together, std >= 0), or two numbers and a ``size`` (a leaf, ``requires_grad`` as asked); no gradient
    reaches mean and std (PyTorch's is zero)."""
    if not hasattr(mean, "shape") and not hasattr(std, "shape"):
        if size is None:
            raise TypeError("normal: with a number for both mean and std, give the size of the sample")
        if std < 0:
            raise ValueError(f"normal: std must be >= 0, got {std}")
        with no_grad():
            sample = randn(size, generator=generator, dtype=dtype, device=device) * std + mean
        return sample.requires_grad_(True) if requires_grad else sample
    if requires_grad:
        raise TypeError("normal: requires_grad= is for the form with numbers for mean and std and a size (a leaf), "
                        "as PyTorch's; a sample drawn from tensors takes none")
    if size is not None:
        raise TypeError(f"normal: size is for a number mean and std; with a tensor the sample takes the shape of mean "
                        f"and std, got size={tuple(size) if isinstance(size, (tuple, list)) else size}")
    for given in (mean, std):
        if hasattr(given, "shape"):
            _floating("normal", "mean and std", _as_tensor(given))
    mean, std = promote(mean, std)
    _eager("normal", mean, std)
    if bool((std.array < 0).any()):
        raise ValueError("normal: every element of std must be >= 0")
    try:
        shape = np.broadcast_shapes(mean.shape, std.shape)
    except ValueError:
        raise ValueError(f"normal: mean of shape {list(mean.shape)} and std of shape {list(std.shape)} do not "
                         "broadcast") from None
    with no_grad():
        return mean + std * randn(shape, generator=generator, dtype=mean.dtype, device=mean.device)


# --- Tensor methods: a new tensor with this one's dtype and device (attached to Tensor in tensor_attach.py) ---


def _method_takes_size(fn):
    """Tensor method ``fn`` (taking its sizes as the arguments after the tensor) also taking PyTorch's ``size=``."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        if "size" in kwargs:
            if args:
                raise TypeError(f"{fn.__name__}: got size= and sizes as arguments; give one")
            args = (kwargs.pop("size"),)
        return fn(self, *args, **kwargs)

    return wrapper


def _new_like(self: Tensor, fill, size, dtype, device, requires_grad) -> Tensor:
    shape = _flat(size)
    made = full(shape, fill, dtype=dtype or self.dtype, device=device or self.device)
    return made.requires_grad_() if requires_grad else made


@_method_takes_size
def new_zeros(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``size``, with this tensor's dtype and device unless given."""
    return _new_like(self, 0, size, dtype, device, requires_grad)


@_method_takes_size
def new_ones(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``size``, with this tensor's dtype and device unless given."""
    return _new_like(self, 1, size, dtype, device, requires_grad)


def new_full(self: Tensor, size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere in ``size``, with this tensor's dtype and device unless given."""
    return _new_like(self, fill_value, (size,), dtype, device, requires_grad)


@_method_takes_size
def new_empty(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` (zero-filled: Ember does not hand out uninitialized memory)."""
    return _new_like(self, 0, size, dtype, device, requires_grad)


def new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor from ``data``, with this tensor's dtype and device unless given."""
    return Tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

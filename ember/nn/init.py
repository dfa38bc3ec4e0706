"""Weight initialisation, in place on ``tensor.array``, with PyTorch's formulas.

Random draws come from ``ember.random.generator()``, so ``ember.manual_seed`` makes them reproducible. PyTorch's
deprecated spellings without the underscore (``normal``, ``xavier_uniform``...) call the same functions with its
FutureWarning.

>>> from ember.nn import init
>>> init.kaiming_uniform_(ember.empty(256, 784), a=5 ** 0.5)
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ember import random as _random
from ember.autograd import no_grad
from ember.backend.dtypes import COMPLEX, FLOATING
from ember.ops import special_kernels
from ember.tensor import Tensor

__all__ = [
    "calculate_gain", "constant", "constant_", "dirac", "dirac_", "eye", "eye_", "kaiming_normal", "kaiming_normal_",
    "kaiming_uniform", "kaiming_uniform_", "normal", "normal_", "ones_", "orthogonal", "orthogonal_", "sparse",
    "sparse_", "trunc_normal_", "uniform", "uniform_", "xavier_normal", "xavier_normal_", "xavier_uniform",
    "xavier_uniform_", "zeros_",
]

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _draw_dtype(tensor: Tensor):
    # Draw in float32 for float32 and narrower weights (half the memory traffic), float64 otherwise.
    return np.float64 if tensor.dtype in (np.float64, np.complex128) else np.float32


def _random_fill(name: str, tensor: Tensor, complex_ok: bool = True) -> None:
    """Refuse an integer or bool tensor, as PyTorch's samplers do: the draws were cast to it (uniform_ of an int64
    tensor filled it with zeros); and a complex one where PyTorch has no complex form (``complex_ok`` False)."""
    if tensor.dtype not in FLOATING and (tensor.dtype not in COMPLEX or not complex_ok):
        kind = "floating" if complex_ok else "real floating"
        raise TypeError(f"{name}: random initialisation needs a {kind} tensor, got {tensor.dtype}"
                        f"{list(tensor.shape)}")


def _check_std(name: str, std: float) -> None:
    """Refuse a negative standard deviation, as PyTorch's normal_ (the draws were silently mirrored)."""
    if not std >= 0:
        raise ValueError(f"{name}: std must be >= 0, got {std}")


def _standard_normal(gen, tensor: Tensor) -> np.ndarray:
    """N(0, 1) draws of the tensor's shape; complex ones for a complex tensor, as PyTorch's normal_ draws them
    (each part N(0, 1/2))."""
    values = gen.standard_normal(tensor.shape, dtype=_draw_dtype(tensor))
    if tensor.dtype in COMPLEX:
        values = (values + 1j * gen.standard_normal(tensor.shape, dtype=values.dtype)) * math.sqrt(0.5)
    return values


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    with no_grad():  # initialising a parameter is not a recorded op (torch.nn.init works the same way)
        tensor.copy_(values.astype(tensor.dtype, copy=False))
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2) for
    relu, sqrt(2 / (1 + slope^2)) for leaky_relu, 3/4 for selu.

    >>> init.calculate_gain("relu")
    1.4142135623730951
    """
    if nonlinearity in _LINEAR_LIKE or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel)."""
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {list(tensor.shape)}"
        )
    receptive_field = 1
    for d in tensor.shape[2:]:
        receptive_field *= d
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from U(a, b).

    >>> init.uniform_(ember.empty(3, 5), -0.1, 0.1)
    """
    _random_fill("uniform_", tensor)
    if not a <= b:  # as PyTorch's [from, to) check (xavier_uniform_ with a negative gain reaches it too)
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    gen = _random.numpy_generator(generator)
    values = gen.random(tensor.shape, dtype=_draw_dtype(tensor)) * (b - a) + a
    if tensor.dtype in COMPLEX:  # PyTorch draws the imaginary part from U(a, b) too
        values = values + 1j * (gen.random(tensor.shape, dtype=values.dtype) * (b - a) + a)
    return _write(tensor, values)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with draws from N(mean, std^2).

    >>> init.normal_(ember.empty(3, 5), std=0.02)
    """
    _random_fill("normal_", tensor)
    _check_std("normal_", std)
    if tensor.dtype in COMPLEX:  # PyTorch draws each part from N(mean, std^2 / 2): the mean goes to both
        mean = complex(mean, mean)
    return _write(tensor, _standard_normal(_random.numpy_generator(generator), tensor) * std + mean)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with N(mean, std^2) draws truncated to [a, b], by the inverse CDF as PyTorch (an interval far in a tail
    is sampled too, where redrawing until inside would never end).

    >>> init.trunc_normal_(ember.empty(3, 5), std=0.02, a=-0.04, b=0.04)
    """
    _random_fill("trunc_normal_", tensor, complex_ok=False)
    if not (std >= 0 and a <= b):
        raise ValueError(f"trunc_normal_: needs std >= 0 and a <= b, got std={std}, a={a}, b={b}")
    uniform = _random.numpy_generator(generator).random(tensor.shape)
    if std == 0:
        return _write(tensor, np.full(tensor.shape, min(max(mean, a), b)))
    low, high = (a - mean) / std, (b - mean) / std
    flip = low > 0  # work in the left tail, where the CDF keeps its precision, and mirror back
    if flip:
        low, high = -high, -low
    cdf_low, cdf_high = (0.5 * special_kernels.erfc(np, np.float64(-x / math.sqrt(2.0))) for x in (low, high))
    values = np.clip(special_kernels.ndtri(np, cdf_low + uniform * (cdf_high - cdf_low)), low, high)
    return _write(tensor, np.clip((-values if flip else values) * std + mean, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    >>> init.constant_(ember.empty(3), 0.1)
    """
    with no_grad():  # fill_, as PyTorch: it refuses a value the dtype overflows, and a gradient that read the old
        return tensor.fill_(val)  # values sees the tensor changed


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0.

    >>> init.zeros_(ember.empty(3))
    """
    return constant_(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1.

    >>> init.ones_(ember.empty(3))
    """
    return constant_(tensor, 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix.

    >>> init.eye_(ember.empty(3, 3))
    """
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {list(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: the convolution passes as many input
    channels through as it can, each of ``groups`` groups of output channels its own.

    >>> init.dirac_(ember.empty(8, 8, 3, 3))
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3-, 4- or 5-D tensors are supported, got shape {list(tensor.shape)}")
    if groups < 1 or tensor.shape[0] % groups:
        raise ValueError(f"dirac_: the tensor's dim 0 ({tensor.shape[0]}) must be divisible by groups ({groups})")
    per_group = tensor.shape[0] // groups
    channels = np.arange(min(per_group, tensor.shape[1]))
    centre = tuple(size // 2 for size in tensor.shape[2:])
    values = np.zeros(tensor.shape, _draw_dtype(tensor))
    for g in range(groups):
        values[(g * per_group + channels, channels, *centre)] = 1
    return _write(tensor, values)


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """Fill a 2-D tensor with N(0, std^2) draws, then zero ``ceil(sparsity * rows)`` random rows of each column
    (Martens, 2010). ``generator``: an ember.Generator (or a NumPy one) to draw from instead of the global one.

    >>> init.sparse_(ember.empty(100, 20), sparsity=0.1)
    """
    _random_fill("sparse_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only 2-D tensors are supported, got shape {list(tensor.shape)}")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity!r}")
    _check_std("sparse_", std)
    gen = _random.numpy_generator(generator)
    rows, cols = tensor.shape
    values = _standard_normal(gen, tensor) * std
    zeroed = np.argsort(gen.random((rows, cols)), axis=0)[: math.ceil(sparsity * rows)]  # a permutation a column
    values[zeroed, np.arange(cols)] = 0
    return _write(tensor, values)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix (rows flattened over trailing dimensions), times ``gain``.

    >>> init.orthogonal_(ember.empty(4, 6))
    """
    _random_fill("orthogonal_", tensor, complex_ok=False)
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got {list(tensor.shape)}")
    if tensor.array.size == 0:  # nothing to fill, as PyTorch (and no column count to divide out)
        return tensor
    rows = tensor.shape[0]
    cols = tensor.array.size // rows
    flat = _random.numpy_generator(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).

    >>> init.xavier_uniform_(ember.empty(3, 5), gain=init.calculate_gain("tanh"))
    """
    _random_fill("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> init.xavier_normal_(ember.empty(3, 5))
    """
    _random_fill("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).

    >>> init.kaiming_uniform_(ember.empty(16, 3, 3, 3), nonlinearity="relu")
    """
    _random_fill("kaiming_uniform_", tensor)
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a).

    >>> init.kaiming_normal_(ember.empty(16, 3, 3, 3), mode="fan_out", nonlinearity="relu")
    """
    _random_fill("kaiming_normal_", tensor)
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def _deprecated(name: str, fn):
    """PyTorch's old spelling ``name`` of ``fn``: the same call, with PyTorch's FutureWarning."""

    def alias(*args, **kwargs):
        warnings.warn(f"`nn.init.{name}` is now deprecated in favor of `nn.init.{name}_`.", FutureWarning,
                      stacklevel=2)
        return fn(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = name
    alias.__doc__ = f"Deprecated: ``{name}_`` with a FutureWarning, as ``torch.nn.init.{name}``."
    return alias


constant = _deprecated("constant", constant_)
dirac = _deprecated("dirac", dirac_)
eye = _deprecated("eye", eye_)
kaiming_normal = _deprecated("kaiming_normal", kaiming_normal_)
kaiming_uniform = _deprecated("kaiming_uniform", kaiming_uniform_)
normal = _deprecated("normal", normal_)
orthogonal = _deprecated("orthogonal", orthogonal_)
sparse = _deprecated("sparse", sparse_)
uniform = _deprecated("uniform", uniform_)
xavier_normal = _deprecated("xavier_normal", xavier_normal_)
xavier_uniform = _deprecated("xavier_uniform", xavier_uniform_)

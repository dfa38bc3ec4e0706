"""PyTorch's type objects and constants at top level: ``finfo``/``iinfo``, ``Size``, the legacy tensor types
(``FloatTensor``, ``LongTensor``...), the memory formats, ``dtype``, ``pi``/``e``/``inf``/``nan``/``newaxis``,
``set_default_tensor_type`` and ``get_device``.

>>> ember.finfo(ember.float32).eps, ember.iinfo(ember.int8).max
(1.1920928955078125e-07, 127)
>>> ember.FloatTensor([1, 2]), isinstance(ember.ones(2), ember.FloatTensor)
(tensor([1., 2.]), True)
"""

from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np

from ember import creation, torch_runtime
from ember.backend import dtypes
from ember.memory_format import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from ember.tensor import Tensor

__all__ = [
    "BFloat16Tensor", "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor",
    "IntTensor", "LongTensor", "ShortTensor", "Size", "channels_last", "channels_last_3d", "contiguous_format",
    "dtype", "e", "finfo", "get_device", "iinfo", "inf", "memory_format", "nan", "newaxis", "pi",
    "preserve_format", "set_default_tensor_type",
]

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
newaxis = None
dtype = np.dtype  # Ember's dtypes are NumPy's: ``isinstance(x.dtype, ember.dtype)``


def _dtype_argument(name: str, value) -> np.dtype:
    try:
        return dtypes.as_dtype(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a dtype, got {value!r}") from exc


class finfo:  # noqa: N801  (PyTorch's name)
    """Machine limits of a floating dtype (``torch.finfo``): ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (=
    ``smallest_normal``), ``resolution`` and ``dtype`` (its name); the default dtype's without an argument."""

    def __init__(self, type=None):  # noqa: A002  (PyTorch's argument name)
        kind = dtypes.get_default_dtype() if type is None else _dtype_argument("finfo", type)
        if not dtypes.is_floating(kind):
            raise TypeError(f"finfo: {kind} is not a floating dtype; use ember.iinfo for integer dtypes")
        info = ml_dtypes.finfo(kind) if kind == dtypes.bfloat16 else np.finfo(kind)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # PyTorch's: a power of ten, as NumPy's for float32/64
        self.dtype = str(kind)

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("finfo", self.dtype))

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801  (PyTorch's name)
    """Limits of an integer dtype (``torch.iinfo``): ``bits``, ``max``, ``min`` and ``dtype`` (its name)."""

    def __init__(self, type):  # noqa: A002  (PyTorch's argument name)
        kind = _dtype_argument("iinfo", type)
        if kind not in dtypes.INTEGER:
            raise TypeError(f"iinfo: {kind} is not an integer dtype; use ember.finfo for floating dtypes")
        info = np.iinfo(kind)
        self.bits, self.max, self.min, self.dtype = int(info.bits), int(info.max), int(info.min), str(kind)

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("iinfo", self.dtype))

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


class _SizeType(type):
    def __instancecheck__(cls, obj) -> bool:
        # Ember's shapes are plain tuples of ints: each one is a Size, as ``x.shape`` is a torch.Size
        return isinstance(obj, tuple) and all(isinstance(d, (int, np.integer)) for d in obj)


class Size(tuple, metaclass=_SizeType):
    """A shape (``torch.Size``): a tuple of ints with ``numel()``. ``x.shape`` is a plain tuple, and every tuple
    of ints counts as a Size for ``isinstance``."""

    def __new__(cls, sizes=()):
        values = tuple(sizes)
        for d in values:
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
                raise TypeError(f"Size: sizes must be ints, got {type(d).__name__} {d!r} in {values!r}")
        return super().__new__(cls, (int(d) for d in values))

    def numel(self) -> int:
        """The number of elements a tensor of this shape has."""
        return math.prod(self)

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"


# --- the legacy tensor types ---------------------------------------------------------------------------------


class _LegacyTensorType(type):
    """The type of ``FloatTensor`` and its kin: calling one makes a CPU tensor of its dtype, ``isinstance`` checks a
    tensor's dtype and device."""

    dtype: np.dtype

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None):
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"{cls.__name__}: a legacy CPU tensor type takes device='cpu', got {device!r}")
        if not args:
            return creation.zeros((0,), dtype=cls.dtype, device="cpu")
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return creation.zeros(tuple(int(a) for a in args), dtype=cls.dtype, device="cpu")  # sizes
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}: expected sizes (ints) or one sequence of data, got {len(args)} "
                            f"arguments {args!r}")
        data = args[0]
        if type(data) is Size:
            return creation.zeros(tuple(data), dtype=cls.dtype, device="cpu")
        if isinstance(data, Tensor):
            if data.dtype != cls.dtype:
                raise TypeError(f"{cls.__name__}: expected a {cls.dtype} tensor, got {data.dtype}"
                                f"{list(data.shape)} (cast it with .to({cls.dtype}) first)")
            return data
        return creation.tensor(data, dtype=cls.dtype, device="cpu")


def _legacy_type(name: str, kind) -> type:
    return _LegacyTensorType(name, (), {"dtype": np.dtype(kind), "is_cuda": False, "__module__": "ember",
                                        "__doc__": f"``torch.{name}``: a CPU {np.dtype(kind)} tensor type."})


FloatTensor = _legacy_type("FloatTensor", dtypes.float32)
DoubleTensor = _legacy_type("DoubleTensor", dtypes.float64)
HalfTensor = _legacy_type("HalfTensor", dtypes.float16)
BFloat16Tensor = _legacy_type("BFloat16Tensor", dtypes.bfloat16)
ByteTensor = _legacy_type("ByteTensor", dtypes.uint8)
CharTensor = _legacy_type("CharTensor", dtypes.int8)
ShortTensor = _legacy_type("ShortTensor", dtypes.int16)
IntTensor = _legacy_type("IntTensor", dtypes.int32)
LongTensor = _legacy_type("LongTensor", dtypes.int64)
BoolTensor = _legacy_type("BoolTensor", dtypes.bool_)
_LEGACY = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor,
                                   ShortTensor, IntTensor, LongTensor, BoolTensor)}


def legacy_type_dtype(value) -> np.dtype | None:
    """The dtype a legacy tensor type stands for (the class, or its name as ``"torch.FloatTensor"`` or
    ``"ember.FloatTensor"``), or None for anything else."""
    if isinstance(value, _LegacyTensorType):
        return value.dtype
    if isinstance(value, str):
        found = _LEGACY.get(value.split(".")[-1])
        return None if found is None else found.dtype
    return None


def set_default_tensor_type(t) -> None:
    """Deprecated in PyTorch for ``set_default_dtype`` and ``set_default_device``: a floating legacy type
    (``ember.DoubleTensor``, ``"torch.DoubleTensor"``, ``"torch.cuda.FloatTensor"``) sets the default floating
    dtype, and the default device to the CPU or, for a ``cuda`` name, the GPU."""
    warnings.warn("set_default_tensor_type() is deprecated as of PyTorch 2.1; use set_default_dtype() and "
                  "set_default_device()", UserWarning, stacklevel=2)
    kind = legacy_type_dtype(t)
    if kind is None:
        raise TypeError(f"set_default_tensor_type: expected a legacy tensor type such as ember.FloatTensor or "
                        f"'torch.DoubleTensor', got {t!r}")
    if not dtypes.is_floating(kind):
        raise TypeError(f"set_default_tensor_type: only floating types are supported as the default type, got "
                        f"{getattr(t, '__name__', t)} ({kind})")
    torch_runtime.set_default_dtype(kind)
    creation.set_default_device("cuda" if isinstance(t, str) and ".cuda." in t else "cpu")


def get_device(t: Tensor) -> int:
    """The index of the GPU holding ``t``, -1 on the CPU (``torch.get_device``)."""
    device = t.device
    return -1 if device.type == "cpu" else int(device.index or 0)

"""Devices and their array modules: ``cpu`` is NumPy, ``cuda`` is CuPy (imported only when used)."""

from __future__ import annotations

import sys

import numpy as np

_cupy = None


def cupy_module():
    """Import CuPy on first use, with a clear error when it or a GPU is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as exc:
            from ember.optional import install_hint

            raise RuntimeError(f"device 'cuda' needs CuPy: {install_hint('cupy-cuda13x', 'gpu')}") from exc
        _cupy = cupy
    return _cupy


def cuda_is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return device_count() > 0


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or a GPU)."""
    try:
        return cupy_module().cuda.runtime.getDeviceCount()
    except Exception:
        return 0


def synchronize(device: str | Device | None = None) -> None:
    """Wait until every kernel queued on a GPU has finished (``torch.cuda.synchronize``): GPU calls return
    before their work is done, so time a GPU step only after this. ``device`` defaults to the current one."""
    device = Device(device if device is not None else "cuda")
    if device.type != "cuda":
        raise ValueError(f"synchronize: expected a cuda device, got {device}")
    cp = cupy_module()
    with cp.cuda.Device(device.index):
        cp.cuda.Device().synchronize()


def is_torch_device(value) -> bool:
    """Whether ``value`` is a PyTorch device (``torch.device("cuda", 0)``), told without importing PyTorch."""
    return value.__class__.__name__ == "device" and value.__class__.__module__ == "torch"


class Device:
    """A place where tensors live: ``Device("cpu")``, ``Device("cuda")``, ``Device("cuda:1")``."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | Device = "cpu"):
        """``spec`` is a name, a Device, or a PyTorch device of the same name."""
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            if not is_torch_device(spec):
                raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {spec!r}")
            spec = str(spec)
        kind, _, index = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N'")
        if kind == "cpu" and index:
            raise ValueError(f"device 'cpu' takes no index, got {spec!r}")
        self.type = kind
        self.index = int(index) if index else (0 if kind == "cuda" else None)

    @property
    def xp(self):
        """The array module for this device."""
        return np if self.type == "cpu" else cupy_module()

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __repr__(self) -> str:
        return f"device('{self}')"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = Device("cpu")


def cuda_device(device=None) -> Device:
    """The GPU a ``.cuda(device)`` call names: an index, ``"cuda:N"`` or a Device, None for the first GPU."""
    if device is None:
        return Device("cuda")
    if isinstance(device, int) and not isinstance(device, bool):
        return Device(f"cuda:{device}")
    found = Device(device)
    if found.type != "cuda":
        raise ValueError(f"cuda(): expected a GPU index, 'cuda:N' or a cuda Device, got {device!r}")
    return found


def array_module(array):
    """The module (numpy or cupy) that owns ``array``: Chainer's ``get_array_module``."""
    if array.__class__ is np.ndarray or isinstance(array, np.generic):
        return np
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array) -> Device:
    """The Device an array lives on."""
    if array.__class__ is np.ndarray:
        return CPU
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return Device(f"cuda:{array.device.id}")
    return CPU


def as_array(value):
    """``value`` as an array on its own device: NumPy scalars and Python numbers (what NumPy returns for 0-d
    results) become 0-d NumPy arrays; CuPy arrays are returned as they are."""
    if _cupy is not None and isinstance(value, _cupy.ndarray):
        return value
    return np.asarray(value)


def is_torch_tensor(value) -> bool:
    """Whether ``value`` is a PyTorch tensor (without importing PyTorch: none exists unless it was imported)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, getattr(torch, "Tensor", ()))


def from_torch(tensor) -> np.ndarray:
    """A PyTorch tensor's values as a NumPy array, bit for bit (sharing its memory where it can: callers copy):
    detached (one that requires grad included), dense, on the CPU, its lazy conjugation or negation applied, and
    bfloat16 as ml_dtypes' (which ``Tensor.numpy`` refuses)."""
    from ember.backend.dtypes import as_dtype, bfloat16

    torch = sys.modules["torch"]
    dtype = as_dtype(tensor.dtype)  # an unsupported one (uint16, float8) named here, not by PyTorch's numpy()
    tensor = tensor.detach()
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    tensor = tensor.cpu().resolve_conj().resolve_neg()
    if dtype == bfloat16:
        return tensor.view(torch.int16).numpy().view(bfloat16)
    return tensor.numpy()


def move(array, device: Device):
    """Copy ``array`` to ``device`` (no copy when it is already there); a PyTorch tensor is copied."""
    if array.__class__ is not np.ndarray and is_torch_tensor(array):
        array = from_torch(array)
    if device.type == "cpu":
        if array.__class__ is np.ndarray:
            return array
        return array.get() if hasattr(array, "get") else np.asarray(array)  # CuPy, or a NumPy scalar
    cp = cupy_module()
    with cp.cuda.Device(device.index):
        return cp.asarray(array)

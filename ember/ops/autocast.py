"""Automatic mixed precision: ``ember.autocast`` runs chosen ops in bfloat16 or float16.

Each op record says how autocast treats it (``Op.autocast``, PyTorch's autocast op lists):

- ``LOWER``: matrix products and convolutions cast their float32 (and other half-precision) inputs to the
  autocast dtype. On NumPy their forward computes in float32 and rounds the result once (bf16 storage,
  float32 compute); on CuPy the op's own kernel computes in the low dtype.
- ``FLOAT32``: ops whose range or accumulation needs it (softmax, cross-entropy, exp/log, sums) cast
  float16/bfloat16 inputs to float32 and return float32.
- ``None``: the op follows its inputs (type promotion).

The hook costs nothing while no thread is in an enabled autocast region: ``dispatch.apply`` is then the tape's
own ``apply``. Entering the first region (in any thread) replaces it with ``autocast_apply``, which reads this
thread's state and casts only for ops with a policy; leaving the last region puts the tape's ``apply`` back.
Backward rules run with autocast off (``suspended``), in the dtypes the forward chose, as in PyTorch.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable

import numpy as np

from ember.backend.dtypes import LOW_PRECISION, as_dtype, bfloat16, float16, float32
from ember.ops import dispatch
from ember.ops.convert import cast
from ember.ops.dispatch import TensorLike

LOWER = "lower"
FLOAT32 = "float32"

_DEVICE_TYPES = ("cpu", "cuda")
_DEFAULT_DTYPE = {"cpu": bfloat16, "cuda": float16}  # PyTorch's defaults per device type
_ELIGIBLE = LOW_PRECISION | {float32}  # the dtypes autocast casts (float64 is left alone, as in PyTorch)
_NOTHING = contextlib.nullcontext()


class _State(threading.local):
    """This thread's autocast: the dtype of ``LOWER`` ops per device type (None: off for that one, as PyTorch
    keeps a state per device type), ``dtype``, the innermost enabled region's (None: off for all), and per device
    type the dtype the innermost region set, enabled or not (PyTorch's ``get_autocast_dtype``, which a region
    without a dtype takes); ``on`` and ``off``, what ``state()`` returns while autocast is on or off (kept by the
    regions: ``state()`` is read on every ``ember.jit`` call)."""

    dtype = None
    cpu = None
    cuda = None
    cpu_dtype = _DEFAULT_DTYPE["cpu"]
    cuda_dtype = _DEFAULT_DTYPE["cuda"]
    on = off = (None, None, cpu_dtype, cuda_dtype)


_state = _State()
_lock = threading.Lock()
_regions = 0  # enabled autocast regions open now, in all threads
_tape_apply: Callable | None = None  # the apply ``autocast_apply`` hands calls to while installed


def _device_type(x: TensorLike) -> str:
    array = x.array
    if array.__class__ is np.ndarray or isinstance(array, np.generic):
        return "cpu"
    device = getattr(array, "device", None)  # a graph Value's Symbol carries an ember Device
    kind = getattr(device, "type", None)
    if kind is None:  # a CuPy array's device is a cupy Device
        kind = "cuda" if type(array).__module__.startswith("cupy") else "cpu"
    return kind


def _cast_inputs(policy: str, inputs: tuple, state: _State, cpu_only: bool = False) -> tuple:
    out = []
    for x in inputs:
        if isinstance(x, TensorLike):
            dtype = x.dtype
            if dtype in _ELIGIBLE and (policy == LOWER or dtype in LOW_PRECISION):
                on_cuda = _device_type(x) == "cuda"
                low = None if on_cuda and cpu_only else state.cuda if on_cuda else state.cpu
                target = float32 if policy != LOWER else low
                if low is not None and dtype != target:
                    x = cast(x, target)
        out.append(x)
    return tuple(out)


def lowered(*inputs) -> tuple:
    """``inputs`` as an op of the ``LOWER`` policy gets them while this thread's autocast is on (as they are
    otherwise): for a composite whose other operands come from such ops (addmm's input, beside its product)."""
    state = _state
    return inputs if state.dtype is None else _cast_inputs(LOWER, inputs, state)


def widened(*inputs) -> tuple:
    """``inputs`` as an op of the ``FLOAT32`` policy gets them while this thread's autocast is on (half-precision
    ones in float32; as they are otherwise): for a composite PyTorch's autocast runs in float32 (the regression
    and margin losses, ``cdist``), whose own primitives would follow their low-precision inputs."""
    state = _state
    return inputs if state.dtype is None else _cast_inputs(FLOAT32, inputs, state)


def widened_on_cpu(*inputs) -> tuple:
    """``widened`` for CPU tensors only: for the ops PyTorch's CPU autocast runs in float32 and its CUDA autocast
    leaves in their inputs' dtype (3-d pooling, max_unpool, reflection and replication padding)."""
    state = _state
    return inputs if state.dtype is None else _cast_inputs(FLOAT32, inputs, state, cpu_only=True)


def switched_off(x: TensorLike) -> autocast:
    """A region with autocast off on ``x``'s device: for a composite that widened its inputs (``widened``) and whose
    own primitives (matrix products) would lower them again."""
    return autocast(_device_type(x), enabled=False)


def autocast_apply(op, inputs: tuple, attrs: dict | None = None):
    """``dispatch.apply`` while an autocast region is open: cast ``inputs`` as ``op.autocast`` asks (when this
    thread's autocast is on), then run or record the op as usual."""
    policy = op.autocast
    if policy is not None:
        state = _state
        if state.dtype is not None:
            inputs = _cast_inputs(policy, inputs, state)
    return _tape_apply(op, inputs, attrs)


def _open_region() -> None:
    global _regions, _tape_apply
    with _lock:
        if _regions == 0:
            _tape_apply = dispatch.apply
            dispatch.apply = autocast_apply
        _regions += 1


def _close_region() -> None:
    global _regions
    with _lock:
        _regions -= 1
        if _regions == 0:
            dispatch.apply = _tape_apply


def active() -> bool:
    """Whether this thread's autocast is on for any device type (ops with a policy cast their inputs now)."""
    return _state.dtype is not None


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether ops called now (in this thread) on tensors of ``device_type`` are autocast; without one, as PyTorch,
    whether CUDA's autocast is on (False in a CPU region: code that then reads ``get_autocast_gpu_dtype`` would
    take float16 for a bfloat16 region)."""
    state = _state
    if state.dtype is None:
        return False
    device_type = "cuda" if device_type is None else device_type
    return device_type in _DEVICE_TYPES and getattr(state, device_type) is not None


def get_autocast_dtype(device_type: str | None = None):
    """The dtype autocast runs ``LOWER`` ops in now (in this thread), or None when it is off. Given a
    ``device_type``, as PyTorch: the dtype the innermost region there set, enabled or not, else the default
    (float16 on "cuda", bfloat16 on "cpu"); a region without a dtype takes it."""
    if device_type is None:
        return _state.dtype
    return getattr(_state, f"{device_type}_dtype") if device_type in _DEVICE_TYPES else bfloat16


def get_autocast_gpu_dtype():
    """``get_autocast_dtype("cuda")`` (PyTorch's older name)."""
    return get_autocast_dtype("cuda")


def get_autocast_cpu_dtype():
    """``get_autocast_dtype("cpu")`` (PyTorch's older name)."""
    return get_autocast_dtype("cpu")


def is_autocast_cpu_enabled() -> bool:
    """``is_autocast_enabled("cpu")`` (PyTorch's older name)."""
    return is_autocast_enabled("cpu")


def state() -> tuple:
    """This thread's autocast as a hashable ``(cpu dtype, cuda dtype, cpu region dtype, cuda region dtype)``: the
    first two None where it is off (both when off), the last two what ``get_autocast_dtype`` gives per device type
    (which a region without a dtype takes). ``ember.jit`` keeps a trace for the state it was made in."""
    state = _state
    return state.off if state.dtype is None else state.on


def unlowered(x: TensorLike, *, on_cuda: bool = True):
    """A region with autocast off on ``x``'s device while this thread's autocast is on (else nothing is switched): for
    the products PyTorch's autocast leaves in their inputs' dtype (``dot``; ``mv`` on the CPU, ``on_cuda=False``),
    which Ember computes with ``matmul``."""
    if _state.dtype is None:
        return _NOTHING
    device_type = _device_type(x)
    return _NOTHING if device_type == "cuda" and not on_cuda else autocast(device_type, enabled=False)


class autocast:  # noqa: N801  (PyTorch's name)
    """Context manager and decorator: ops in it run in mixed precision, in the calling thread.

    Matrix products and convolutions compute in ``dtype`` (bfloat16 by default on the CPU, float16 on CUDA),
    softmax, losses, exp/log and sums in float32, other ops in their inputs' dtype. Parameters stay float32
    and get float32 gradients: the casts are recorded ops. Call ``backward`` inside or after the region alike
    (backward runs in the forward's dtypes).

    >>> with ember.autocast("cpu", dtype=ember.bfloat16):
    ...     y = model(x)          # nn.Linear computes in bfloat16, y.dtype is bfloat16
    ...     loss = ember.nn.functional.cross_entropy(y, labels)   # float32
    """

    def __init__(self, device_type: str = "cpu", dtype=None, enabled: bool = True, cache_enabled: bool | None = None):
        if device_type not in _DEVICE_TYPES:
            raise ValueError(f"autocast: device_type must be one of {_DEVICE_TYPES}, got {device_type!r}")
        # without a dtype, the enclosing region's (float16 in autocast("cpu", dtype=float16)), as PyTorch's
        dtype = get_autocast_dtype(device_type) if dtype is None else as_dtype(dtype)
        if not isinstance(enabled, bool):
            raise TypeError(f"autocast: enabled must be a bool, got {type(enabled).__name__}")
        if enabled and dtype not in LOW_PRECISION:  # a disabled region never reads it (PyTorch's check is alike)
            raise ValueError(f"autocast: dtype must be bfloat16 or float16, got {dtype}")
        self.device_type = device_type
        self.dtype = dtype
        self.enabled = enabled
        self.cache_enabled = cache_enabled  # accepted, as PyTorch's: Ember keeps no cache of cast weights
        self._saved: list = []  # the states this object replaced (an object may be entered again, nested)

    def __enter__(self):
        state = _state
        self._saved.append((state.dtype, state.cpu, state.cuda, state.cpu_dtype, state.cuda_dtype, state.on,
                            state.off))
        if self.dtype in LOW_PRECISION:  # (a disabled region's float32 is not one a region could take)
            setattr(state, f"{self.device_type}_dtype", self.dtype)
        if self.enabled:
            _open_region()
            state.dtype = self.dtype
            setattr(state, self.device_type, self.dtype)
        else:  # another device type's region stays on, as in PyTorch
            setattr(state, self.device_type, None)
            state.dtype = state.cpu if state.cpu is not None else state.cuda
        state.on = (state.cpu, state.cuda, state.cpu_dtype, state.cuda_dtype)
        state.off = (None, None, state.cpu_dtype, state.cuda_dtype)
        return self

    def __exit__(self, *exc):
        state = _state
        state.dtype, state.cpu, state.cuda, state.cpu_dtype, state.cuda_dtype, state.on, state.off = self._saved.pop()
        if self.enabled:
            _close_region()
        return False

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)

        return wrapper

    def __repr__(self) -> str:
        return f"autocast({self.device_type!r}, dtype={self.dtype}, enabled={self.enabled})"


class suspended:  # noqa: N801  (used like no_grad)
    """Autocast off in this thread for a block (backward rules run in the forward's dtypes)."""

    __slots__ = ("saved",)

    def __enter__(self):
        self.saved = _state.dtype
        if self.saved is not None:
            _state.dtype = None

    def __exit__(self, *exc):
        if self.saved is not None:
            _state.dtype = self.saved
        return False


__all__ = ["FLOAT32", "LOWER", "active", "autocast", "get_autocast_cpu_dtype", "get_autocast_dtype",
           "get_autocast_gpu_dtype", "is_autocast_cpu_enabled", "is_autocast_enabled", "state", "suspended"]

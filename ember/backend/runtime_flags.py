"""Process-wide runtime settings under PyTorch's names: thread counts, deterministic algorithms, float32 matmul
precision and flushing denormals.

>>> ember.set_num_threads(4)
>>> ember.use_deterministic_algorithms(True)
"""

from __future__ import annotations

import os
import warnings

from ember.backend import onednn

__all__ = [
    "are_deterministic_algorithms_enabled", "get_float32_matmul_precision", "get_num_interop_threads",
    "get_num_threads", "is_deterministic_algorithms_warn_only_enabled", "nondeterministic_alert",
    "set_float32_matmul_precision", "set_flush_denormal", "set_num_interop_threads", "set_num_threads",
    "use_deterministic_algorithms",
]

_threads = 0  # 0: not set, the process's own setting applies (default_threads)
_interop_threads = 0
_deterministic = False
_warn_only = False
_MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = "highest"


def default_threads() -> int:
    """The thread count before ``set_num_threads``: ``OMP_NUM_THREADS`` when set to a positive number, else the
    CPUs the process may run on."""
    setting = os.environ.get("OMP_NUM_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on this platform
        return os.cpu_count() or 1


def _positive(name: str, count) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise RuntimeError(f"{name}: expects a positive integer thread count, got {count!r}")
    return count


def get_num_threads() -> int:
    """The number of threads Ember computes on (``torch.get_num_threads``): what ``set_num_threads`` set, else
    ``OMP_NUM_THREADS`` or the CPUs the process may run on."""
    return _threads or default_threads()


def set_num_threads(count: int) -> None:
    """Compute on ``count`` threads (``torch.set_num_threads``): oneDNN's convolutions' and products' thread count,
    the OpenBLAS products' (outside the compiled steps' one-thread regions; once oneDNN has run, OpenBLAS stays on
    one thread beside it and gets ``count`` back with ``onednn.release_cores``), and the threads a compiled step or
    a large optimizer update splits its work over (``ember.runtime.parallel``).

    >>> ember.set_num_threads(1)   # everything on the calling thread
    """
    global _threads
    _threads = _positive("set_num_threads", count)
    onednn.set_blas_threads(count)
    onednn.set_threads(count)


def get_num_interop_threads() -> int:
    """``torch.get_num_interop_threads``: what ``set_num_interop_threads`` recorded, else ``get_num_threads()``."""
    return _interop_threads or get_num_threads()


def set_num_interop_threads(count: int) -> None:
    """Record ``count`` as the inter-op thread count (``torch.set_num_interop_threads``). Ember has no pool for
    running independent ops side by side apart from the compiled steps' helper threads, which ``set_num_threads``
    sizes, so the count is only reported back by ``get_num_interop_threads``."""
    global _interop_threads
    _interop_threads = _positive("set_num_interop_threads", count)


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Refuse ops whose results may vary from run to run (``torch.use_deterministic_algorithms``). Ember's CPU
    kernels are all deterministic; on a GPU the scatter-adds built on atomic additions (``index_add``,
    ``scatter_add``, ``embedding``'s and advanced indexing's gradients) raise a RuntimeError, or with
    ``warn_only`` warn, while the mode is on."""
    global _deterministic, _warn_only
    if not isinstance(mode, bool) or not isinstance(warn_only, bool):
        raise TypeError(f"use_deterministic_algorithms: mode and warn_only must be bools, got {mode!r} and "
                        f"{warn_only!r}")
    _deterministic, _warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    """Whether ``use_deterministic_algorithms(True)`` is in force."""
    return _deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether deterministic mode only warns (``use_deterministic_algorithms(True, warn_only=True)``)."""
    return _warn_only


def nondeterministic_alert(op: str, why: str) -> None:
    """Called by a kernel that is not deterministic: raises (or warns) when deterministic mode is on."""
    if not _deterministic:
        return
    message = (f"{op}: {why}, so its results may differ from run to run, and ember.use_deterministic_algorithms("
               "True) is in force; compute it on the CPU, or turn the mode off for this op")
    if _warn_only:
        warnings.warn(message, UserWarning, stacklevel=3)
    else:
        raise RuntimeError(message)


def set_float32_matmul_precision(precision: str) -> None:
    """Record the internal precision float32 matrix products may use (``torch.set_float32_matmul_precision``:
    "highest", "high" or "medium"). Ember's CPU products (OpenBLAS, oneDNN) always compute in float32, whatever
    the setting; ``get_float32_matmul_precision`` reports it back."""
    global _matmul_precision
    if precision not in _MATMUL_PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: precision must be one of {list(_MATMUL_PRECISIONS)}, "
                         f"got {precision!r}")
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    """The precision ``set_float32_matmul_precision`` recorded ("highest" to begin with)."""
    return _matmul_precision


def set_flush_denormal(mode: bool) -> bool:
    """``torch.set_flush_denormal``: NumPy gives no control of the CPU's denormal flags, so this changes nothing
    and returns False, as PyTorch does where flushing is unsupported."""
    return False

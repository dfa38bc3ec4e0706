"""``ember.cuda``: the GPU questions ``torch.cuda`` answers (whether there is one, how many, waiting for it).

>>> if ember.cuda.is_available():
...     y = net(x.to("cuda")); ember.cuda.synchronize()
"""

from ember.backend.devices import Device, device_count, synchronize
from ember.backend.devices import cuda_is_available as is_available
from ember.cuda import amp

__all__ = ["amp", "current_device", "device_count", "empty_cache", "get_device_capability", "get_device_name",
           "is_available", "is_bf16_supported", "manual_seed", "manual_seed_all", "max_memory_allocated",
           "memory_allocated", "memory_reserved", "reset_peak_memory_stats", "set_device", "synchronize"]


def current_device() -> int:
    """The index of the GPU Ember uses by default (0), as ``torch.cuda.current_device``."""
    if not is_available():
        raise RuntimeError("ember.cuda.current_device: no CUDA GPU is available (ember.cuda.is_available() is False)")
    return 0


def manual_seed(seed: int) -> None:
    """Seed the generator GPU tensors draw from: Ember has one generator for all devices (``ember.manual_seed``)."""
    from ember.random import manual_seed as seed_all

    seed_all(seed)


manual_seed_all = manual_seed


def _pool():
    """CuPy's device memory pool, or None without a GPU."""
    if not is_available():
        return None
    from ember.backend.devices import cupy_module

    return cupy_module().get_default_memory_pool()


def empty_cache() -> None:
    """Give the GPU memory CuPy's pool holds unused back to the driver (``torch.cuda.empty_cache``); nothing
    without a GPU."""
    pool = _pool()
    if pool is not None:
        pool.free_all_blocks()


def memory_allocated(device=None) -> int:
    """Bytes of GPU memory held by arrays now (CuPy's pool's used bytes); 0 without a GPU, as PyTorch gives."""
    pool = _pool()
    return 0 if pool is None else int(pool.used_bytes())


def memory_reserved(device=None) -> int:
    """Bytes of GPU memory the pool holds, used or cached (``torch.cuda.memory_reserved``); 0 without a GPU."""
    pool = _pool()
    return 0 if pool is None else int(pool.total_bytes())


def max_memory_allocated(device=None) -> int:
    """The peak of ``memory_allocated``: 0 without a GPU, as PyTorch gives. CuPy's pool keeps no peak, so on a GPU
    this is a RuntimeError (``ember.profiler.profile`` records the peak memory of the code it wraps)."""
    if not is_available():
        return 0
    raise RuntimeError("ember.cuda.max_memory_allocated: CuPy's memory pool records no peak; wrap the code in "
                       "ember.profiler.profile() and read prof.peak_memory, or poll memory_allocated()")


def reset_peak_memory_stats(device=None) -> None:
    """Nothing to reset: Ember keeps no peak statistics of its own (see ``max_memory_allocated``)."""


def get_device_name(device=None) -> str:
    """The GPU's name (``torch.cuda.get_device_name``); a RuntimeError without one."""
    name = _properties(device)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None) -> tuple:
    """The GPU's compute capability as (major, minor)."""
    props = _properties(device)
    return int(props["major"]), int(props["minor"])


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the GPU computes in bfloat16 (compute capability 8.0 or newer); False without a GPU."""
    return is_available() and get_device_capability()[0] >= 8


def set_device(device) -> None:
    """``torch.cuda.set_device``: Ember places tensors on the GPU a tensor or ``.to("cuda:N")`` names; only GPU 0
    is its default, so setting another is a ValueError rather than a setting that changes nothing."""
    if not is_available():
        raise RuntimeError("ember.cuda.set_device: no CUDA GPU is available (ember.cuda.is_available() is False)")
    index = device if isinstance(device, int) else Device(device).index
    if index not in (0, None):
        raise ValueError(f"ember.cuda.set_device({device!r}): Ember's default GPU is GPU 0; name another with "
                         "device='cuda:N' or .to('cuda:N')")


def _properties(device=None) -> dict:
    if not is_available():
        raise RuntimeError("ember.cuda: no CUDA GPU is available (ember.cuda.is_available() is False)")
    from ember.backend.devices import cupy_module

    index = 0 if device is None else (device if isinstance(device, int) else Device(device).index or 0)
    return cupy_module().cuda.runtime.getDeviceProperties(index)

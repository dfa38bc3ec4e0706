"""``ember.cuda``: the GPU questions ``torch.cuda`` answers (whether there is one, how many, waiting for it).

>>> if ember.cuda.is_available():
...     y = net(x.to("cuda")); ember.cuda.synchronize()
"""

from ember.backend.devices import cuda_is_available as is_available
from ember.backend.devices import device_count, synchronize

__all__ = ["current_device", "device_count", "is_available", "manual_seed", "manual_seed_all", "synchronize"]


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

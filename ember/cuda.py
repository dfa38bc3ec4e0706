"""``ember.cuda``: the GPU questions ``torch.cuda`` answers (whether there is one, how many, waiting for it).

>>> if ember.cuda.is_available():
...     y = net(x.to("cuda")); ember.cuda.synchronize()
"""

from ember.backend.devices import cuda_is_available as is_available
from ember.backend.devices import device_count, synchronize

__all__ = ["device_count", "is_available", "synchronize"]

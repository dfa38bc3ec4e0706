"""``torch.nn.parallel``'s names: ``DataParallel``, and ``DistributedDataParallel``, which is
``ember.distributed``'s, a layer above: loaded on first use, as ``from torch.nn.parallel import
DistributedDataParallel`` scripts ask for it.

>>> from ember.nn.parallel import DistributedDataParallel as DDP
"""

from __future__ import annotations

import importlib

from ember.nn.layers.data_parallel import DataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]  # noqa: F822 (the second comes from __getattr__)


def __getattr__(name: str):
    if name == "DistributedDataParallel":
        return importlib.import_module("ember.distributed").DistributedDataParallel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

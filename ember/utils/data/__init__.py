"""``ember.utils.data``: PyTorch's path to the data package; the same objects as ``ember.data``.

>>> from ember.utils.data import DataLoader, TensorDataset
"""

from ember.data import *  # noqa: F403
from ember.data import __all__  # noqa: F401
from ember.utils.data import _utils, dataloader, dataset, distributed, sampler  # noqa: E402, F401  (PyTorch's submodules)

"""``ember.utils``: PyTorch's ``torch.utils`` paths (``ember.utils.data`` is ``ember.data``)."""

from ember.utils import data

__all__ = ["data"]

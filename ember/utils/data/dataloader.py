"""``torch.utils.data.dataloader``'s path to the loader and its collation: the objects of ``ember.data``."""

from ember.data import DataLoader, default_collate, default_convert, get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

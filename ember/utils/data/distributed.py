"""``torch.utils.data.distributed``'s path to the sampler that splits a dataset between processes (the
``ember.data`` object)."""

from ember.data import DistributedSampler

__all__ = ["DistributedSampler"]

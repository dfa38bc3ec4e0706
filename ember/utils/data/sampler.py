"""``torch.utils.data.sampler``'s path to the samplers: the objects of ``ember.data``."""

from ember.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler", "RandomSampler", "Sampler",
    "SequentialSampler", "SubsetRandomSampler", "WeightedRandomSampler",
]

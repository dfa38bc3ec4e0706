"""``torch.utils.data.dataset``'s path to the datasets: the objects of ``ember.data``."""

from ember.data import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)

__all__ = [
    "ChainDataset", "ConcatDataset", "Dataset", "IterableDataset",
    "StackDataset", "Subset", "TensorDataset", "random_split",
]

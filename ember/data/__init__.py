"""Data loading: datasets, samplers, collation, the prefetching DataLoader, file readers and small datasets.

>>> from ember.data import DataLoader, TensorDataset
>>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
"""

from ember.data.collate import collate, collate_fn_map, default_collate, default_convert
from ember.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from ember.data.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine, train_test_split
from ember.data.loader import DataLoader
from ember.data.readers import CSR, CSVDataset, LibSVMDataset, read_csv, read_libsvm
from ember.data.sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from ember.data.stack_dataset import StackDataset
from ember.data.worker_info import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "CSR", "CSVDataset", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "DistributedSampler", "IterableDataset", "LibSVMDataset", "RandomSampler", "Sampler", "SequentialSampler",
    "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "collate",
    "collate_fn_map", "default_collate", "default_convert", "get_worker_info", "load_breast_cancer", "load_diabetes",
    "load_digits", "load_iris", "load_wine", "random_split", "read_csv", "read_libsvm", "train_test_split",
]

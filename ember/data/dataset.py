"""Datasets: the map-style protocol (``__getitem__`` + ``__len__``), iterable datasets, and splits."""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np

from ember import random as _random
from ember.backend.devices import array_module
from ember.backend.dtypes import SUPPORTED
from ember.tensor import Tensor

T_co = TypeVar("T_co", covariant=True)  # the sample type: Dataset[tuple] is a class, as in PyTorch's typed code


class Dataset(Generic[T_co]):
    """A map-style dataset: ``dataset[i]`` is one sample and ``len(dataset)`` the number of samples.

    Any object with ``__getitem__`` and ``__len__`` works with a DataLoader; subclassing is optional.

    >>> class Squares(Dataset):
    ...     def __getitem__(self, i): return i, i * i
    ...     def __len__(self): return 10
    """

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")  # abstract

    # no default __len__, as PyTorch's: len() of a dataset without one is a TypeError, which an IterableDataset
    # (a subclass) relies on

    def __add__(self, other) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """A dataset read as a stream: implement ``__iter__`` (and optionally ``__len__``). A ``Dataset``, as
    PyTorch's, though it cannot be indexed.

    >>> class Counter(IterableDataset):
    ...     def __iter__(self): return iter(range(5))
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")  # abstract

    def __add__(self, other) -> ChainDataset:
        return ChainDataset([self, other])


def as_array(data, name: str = "array"):
    """``data`` as an array of a dtype Ember supports (unsupported ints become int64, floats float32); uint64 values
    beyond int64's range are refused, as the cast would wrap them to negative numbers."""
    if isinstance(data, Tensor):
        return data.array
    # a NumPy or CuPy array as it is; anything else (a pandas Series, a torch tensor, a memmap) through NumPy:
    # a Series indexed as it is would read rows by label
    array = data if type(data) is np.ndarray or array_module(data) is not np else np.asarray(data)
    if array.dtype in SUPPORTED or array.dtype.kind in "USO":
        return array
    if array.dtype.kind in "iu":
        if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: uint64 values up to {int(array.max())} do not fit in int64, the integer dtype "
                             "they become")
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    raise TypeError(f"{name}: arrays of dtype {array.dtype} cannot become Ember tensors")


def _array_row(array, index):
    row = array[index]
    return np.asarray(row) if isinstance(row, np.generic) else row  # a NumPy scalar becomes a 0-d array


def _defined_in(cls: type, name: str) -> type | None:
    """The class of ``cls``'s MRO whose own attribute ``cls.name`` is."""
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def _items_reader(dataset) -> Callable | None:
    """The dataset's ``__getitems__`` (a batch's samples at once), or None; None too when a subclass overrides
    ``__getitem__`` below the class that defines ``__getitems__``, whose samples would skip that override."""
    getitems = getattr(dataset, "__getitems__", None)
    if not callable(getitems):
        return None
    cls = type(dataset)
    item_owner, items_owner = _defined_in(cls, "__getitem__"), _defined_in(cls, "__getitems__")
    if item_owner is not None and items_owner is not None \
            and cls.__mro__.index(item_owner) < cls.__mro__.index(items_owner):
        return None
    return getitems


class TensorDataset(Dataset):
    """Samples are rows of equally long Tensors or arrays: ``dataset[i] == (t[i] for t in tensors)``.

    The DataLoader reads whole batches from it with one indexing per array (``take_batch``).

    >>> ds = TensorDataset(np.zeros((100, 3), np.float32), np.arange(100))
    >>> x, y = ds[0]
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor or array")
        self.arrays = tuple(as_array(t, "TensorDataset") for t in tensors)
        # the Tensors that require grad, read through indexing ops so that gradients reach them (as PyTorch's rows)
        self._tracked = tuple(t if isinstance(t, Tensor) and t.requires_grad else None for t in tensors)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            shapes = [list(a.shape) for a in self.arrays]
            raise ValueError(f"TensorDataset: all tensors need the same first dimension, got shapes {shapes}")

    @property
    def tensors(self) -> tuple:
        """The arrays as Ember Tensors (sharing memory; those given requiring grad as they were given)."""
        return tuple(Tensor._make(a, None) if t is None else t for a, t in zip(self.arrays, self._tracked))

    def __getitem__(self, index: int) -> tuple:
        return tuple(Tensor._make(_array_row(a, index), None) if t is None else t[index]
                     for a, t in zip(self.arrays, self._tracked))

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def take_batch(self, indices: np.ndarray) -> list:
        """The rows ``indices`` of every array at once, already collated into Tensors: a list, as
        ``default_collate`` makes of the samples' tuples (and PyTorch's loader gives)."""
        return [Tensor._make(a[indices], None) if t is None else t[indices] for a, t in zip(self.arrays, self._tracked)]


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> evens = Subset(dataset, range(0, len(dataset), 2))
    """

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        # the sequence as given, as PyTorch's (a list stays a list, so a.indices + b.indices joins two subsets)
        self.indices = indices

    def __getitem__(self, index: int | list):
        if isinstance(index, list):  # as PyTorch: the dataset indexed with the list of its indices
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def _rows(self, positions: np.ndarray) -> np.ndarray:
        """The dataset's indices at ``positions`` (an int64 array), read from ``indices`` as it is now."""
        if isinstance(self.indices, np.ndarray):
            return self.indices[positions]
        return np.asarray([self.indices[i] for i in positions.tolist()], dtype=np.int64).reshape(len(positions))

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``, through the dataset's own ``__getitems__`` where it has one."""
        rows = [self.indices[i] for i in indices]
        getitems = _items_reader(self.dataset)
        if getitems is not None:
            return getitems(rows)
        return [self.dataset[i] for i in rows]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Map-style datasets one after another: index ``len(a) + i`` is ``b[i]``; ``a + b`` makes one.

    >>> both = ConcatDataset([train, extra])
    >>> len(both) == len(train) + len(extra)
    True
    """

    def __init__(self, datasets: Iterable):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets must not be empty")
        for i, dataset in enumerate(self.datasets):
            if isinstance(dataset, IterableDataset):
                raise TypeError(f"ConcatDataset: datasets[{i}] is an IterableDataset ({type(dataset).__name__}); "
                                "chain iterable datasets with ChainDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        if index < 0:
            index += n
        which = bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """Iterable datasets read one after another; ``a + b`` makes one.

    >>> stream = ChainDataset([first_stream, second_stream])
    """

    def __init__(self, datasets: Iterable):
        self.datasets = list(datasets)
        for i, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(f"ChainDataset: datasets[{i}] must be an IterableDataset, got "
                                f"{type(dataset).__name__}; join map-style datasets with ConcatDataset")

    def __iter__(self) -> Iterator:
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        for i, dataset in enumerate(self.datasets):
            if not hasattr(dataset, "__len__"):
                raise TypeError(f"len(ChainDataset): datasets[{i}] ({type(dataset).__name__}) has no __len__")
        return sum(len(dataset) for dataset in self.datasets)


def _rng(generator) -> np.random.Generator:
    """A NumPy generator from None (Ember's global one), an int seed, an ``ember.Generator`` or a NumPy one."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    try:
        return _random.numpy_generator(generator)
    except TypeError:
        raise TypeError(f"generator must be None, an int seed, an ember.Generator or a numpy.random.Generator, got "
                        f"{type(generator).__name__}") from None


def _generator_source(generator):
    """What a sampler or loader keeps of its ``generator=``: None, a NumPy generator (an int seed's, made once so it
    advances across epochs) or the ``ember.Generator`` itself, whose stream ``_rng`` reads at each draw, so seeding
    it again (``g.manual_seed(0)`` before an epoch, as with PyTorch's) replays its order."""
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    rng = _rng(generator)  # refuses what is no generator, now
    return rng if isinstance(generator, (int, np.integer)) else generator


def random_split(dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split ``dataset`` into disjoint random Subsets of the given lengths, or fractions that sum to 1.

    Lengths that sum to 1 (within ``math.isclose``, and not above it; whole numbers too, as PyTorch's) are
    fractions: each is floored, then the leftover samples go one each to the first splits, with a warning for each
    split left empty. ``lengths`` may be a 1-D tensor or array, as PyTorch's. ``generator`` is an int seed or a
    NumPy Generator; by default Ember's global generator.

    >>> train, val = random_split(dataset, [0.8, 0.2], generator=0)
    """
    n = len(dataset)
    # a tensor's elements as NumPy scalars of its dtype: float32 fractions are scaled in float32, as PyTorch's
    lengths = [v.numpy()[()] if isinstance(v, Tensor) and v.ndim == 0 else v for v in lengths]
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: the fraction at index {i} is {frac}, not between 0 and 1")
            counts.append(math.floor(n * frac))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: the split at index {i} has length 0 (an empty dataset)", stacklevel=2)
        lengths = counts
    if any(not isinstance(v, (int, np.integer)) or v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints, or fractions that sum to 1, got {lengths}")
    lengths = [int(v) for v in lengths]
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} sum to {sum(lengths)}, but the dataset has {n} samples")
    order = _rng(generator).permutation(n).tolist()  # lists of Python ints, as PyTorch's Subsets hold
    bounds = np.cumsum([0] + lengths).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]

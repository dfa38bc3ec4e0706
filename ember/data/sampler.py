"""Samplers: which indices a DataLoader reads, in which order, and how they group into batches.

Random samplers draw their whole order when iteration starts, in the calling thread, so the order only
depends on the generator's state at that moment, even when a DataLoader prefetches in the background.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Generic

import numpy as np

from ember import random as _random
from ember.data.dataset import T_co, _generator_source, _rng


class Sampler(Generic[T_co]):
    """Yields dataset indices; ``len(sampler)`` is how many. Any iterable of ints with ``__len__`` works."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")  # abstract


class SequentialSampler(Sampler):
    """0, 1, ..., len(dataset) - 1.

    >>> list(SequentialSampler(range(3)))
    [0, 1, 2]
    """

    def __init__(self, dataset):
        self.dataset = dataset

    @property
    def data_source(self):
        """The dataset (PyTorch's name)."""
        return self.dataset

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.dataset)))

    def __len__(self) -> int:
        return len(self.dataset)


class RandomSampler(Sampler):
    """A random order of the dataset's indices (or ``num_samples`` draws with replacement).

    Without replacement, a ``num_samples`` beyond the dataset's size chains fresh permutations (each index
    once per permutation), as PyTorch's sampler does.

    Draws from Ember's global generator unless ``generator`` (an int seed or a NumPy Generator) is
    given, so ``ember.manual_seed`` makes the shuffling reproducible. A seeded sampler gives a new,
    reproducible order every epoch.

    >>> ember.manual_seed(0); order = list(RandomSampler(range(5)))
    """

    def __init__(self, dataset, replacement: bool = False, num_samples: int | None = None, generator=None):
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples!r}")
        if not isinstance(replacement, (bool, np.bool_)):  # "no" would draw with replacement
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        self.dataset = dataset
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = generator
        self._generator = _generator_source(generator)

    @property
    def data_source(self):
        """The dataset (PyTorch's name)."""
        return self.dataset

    @property
    def num_samples(self) -> int:
        """How many indices an epoch draws: ``num_samples`` as given, else the dataset's current size."""
        return len(self.dataset) if self._num_samples is None else self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        rng = _rng(self._generator)
        n = len(self.dataset)
        if n == 0 and len(self):
            raise ValueError(f"RandomSampler: cannot draw num_samples={len(self)} indices from an empty dataset")
        if self.replacement:
            order = rng.integers(0, n, size=len(self))
        else:
            whole, rest = divmod(len(self), n) if n else (0, 0)  # (n == 0: num_samples is 0 too)
            parts = [rng.permutation(n) for _ in range(whole)] + ([rng.permutation(n)[:rest]] if rest else [])
            order = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return iter(order.tolist())


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, drawn anew each epoch (Ember's global generator unless
    ``generator``, an int seed or a NumPy Generator, is given).

    >>> validation = SubsetRandomSampler(range(900, 1000))
    """

    def __init__(self, indices, generator=None):
        self.indices = indices.tolist() if isinstance(indices, np.ndarray) else list(indices)
        self.generator = generator
        self._generator = _generator_source(generator)

    def __iter__(self) -> Iterator:
        rng = _rng(self._generator)
        return iter([self.indices[i] for i in rng.permutation(len(self.indices)).tolist()])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``: with replacement, or
    (``replacement=False``) each index at most once, heavier ones likelier to come early (successive draws).

    >>> labels_weight = 1.0 / np.bincount(labels)[labels]   # balance the classes
    >>> sampler = WeightedRandomSampler(labels_weight, num_samples=len(labels))
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples must be a positive int, got {num_samples!r}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement must be a bool, got {replacement!r}")
        self.weights = _weights(weights)
        nonzero = int(np.count_nonzero(self.weights))
        if not replacement and num_samples > nonzero:
            raise ValueError(f"WeightedRandomSampler: cannot draw num_samples={num_samples} without replacement "
                             f"from {nonzero} indices of non-zero weight")
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator
        self._generator = _generator_source(generator)

    def __iter__(self) -> Iterator[int]:
        rng = _rng(self._generator)
        weights = self.weights
        if self.replacement:
            order = rng.choice(len(weights), size=self.num_samples, p=weights / weights.sum())
        else:  # the smallest exponential(1) / weight keys: successive draws proportional to the weights
            keys = np.full(len(weights), np.inf)
            positive = weights > 0
            keys[positive] = rng.exponential(size=len(weights))[positive] / weights[positive]
            order = np.argsort(keys, kind="stable")[: self.num_samples]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples


def _weights(weights) -> np.ndarray:
    """The sampling weights as a float64 vector; refuses what no distribution has."""
    array = np.asarray(getattr(weights, "array", weights), dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"WeightedRandomSampler: weights must be a 1-d sequence, got shape {list(array.shape)}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError("WeightedRandomSampler: weights must be finite and >= 0, got "
                         f"{array[~np.isfinite(array) | (array < 0)][:3].tolist()} among them")
    if not array.sum() > 0:
        raise ValueError("WeightedRandomSampler: weights must have a positive sum")
    return array


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; the last may be short.

    >>> list(BatchSampler(range(5), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool = False):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        if not isinstance(drop_last, (bool, np.bool_)):  # "no" would drop the short batch
            raise ValueError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        return self._batches(iter(self.sampler))  # start the sampler now: its randomness is drawn here

    def _batches(self, indices: Iterator[int]) -> Iterator[list[int]]:
        batch = []
        for index in indices:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _world_from_env() -> tuple[int, int]:
    """(world size, rank) as set by a launcher (Ember's, torchrun, MPICH or Open MPI), else (1, 0)."""
    for size_key, rank_key in (("WORLD_SIZE", "RANK"), ("PMI_SIZE", "PMI_RANK"),
                               ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK")):
        if size_key in os.environ and rank_key in os.environ:
            return int(os.environ[size_key]), int(os.environ[rank_key])
    return 1, 0


class DistributedSampler(Sampler):
    """The share of the dataset that replica ``rank`` of ``num_replicas`` reads this epoch.

    Every replica shuffles with the same ``seed + epoch``, then takes every ``num_replicas``-th index
    from ``rank``; the order is padded by repeating its start so all replicas get equally many samples
    (or, with ``drop_last``, cut to a multiple of ``num_replicas``). Call ``set_epoch`` before each epoch.
    ``num_replicas`` and ``rank`` default to the launcher's environment (WORLD_SIZE/RANK and MPI's).

    >>> sampler = DistributedSampler(dataset, num_replicas=4, rank=1, seed=0)
    >>> sampler.set_epoch(3)
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        env_size, env_rank = _world_from_env()
        num_replicas = env_size if num_replicas is None else num_replicas
        rank = env_rank if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):  # 2.0 failed at iteration
                raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r}")
        num_replicas, rank = int(num_replicas), int(rank)
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank}")
        _random.seed_value("DistributedSampler", seed)  # refuses a seed that is no int, naming it
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // num_replicas if drop_last else math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the shuffle of this epoch (the same on every replica)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        # a negative seed + epoch is taken modulo 2**64, as PyTorch's manual_seed takes it (NumPy refuses it)
        seed = _random.seed_value("DistributedSampler", self.seed + self.epoch)
        order = np.random.default_rng(seed).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:
            order = np.resize(order, self.total_size)  # repeats the order from its start
        order = order[: self.total_size]
        return iter(order[self.rank :: self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

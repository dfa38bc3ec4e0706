"""ConcatDataset, ChainDataset, SubsetRandomSampler and WeightedRandomSampler: torch's semantics (lengths, index
ranges, distributions, errors), reproducibility under ember.manual_seed, and DataLoaders with worker processes."""

import numpy as np
import pytest

import ember
from ember.data import (
    ChainDataset,
    ConcatDataset,
    DataLoader,
    IterableDataset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    get_worker_info,
)


class _Range(IterableDataset):
    """start..stop, each worker reading its own share."""

    def __init__(self, start: int, stop: int):
        self.start, self.stop = start, stop

    def __iter__(self):
        info = get_worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(self.start + first, self.stop, step))

    def __len__(self):
        return self.stop - self.start


def _tensors(start: int, n: int) -> TensorDataset:
    return TensorDataset(np.arange(start, start + n, dtype=np.float32), np.arange(start, start + n))


def test_concat_dataset_indexes_across_its_parts_like_torch():
    torch = pytest.importorskip("torch")
    parts = [list(range(0, 3)), list(range(10, 10)), list(range(20, 25)), [99]]
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [3, 3, 8, 9]
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    for bad in (9, -10):
        with pytest.raises(IndexError, match=f"ConcatDataset: index {bad} is out of range for 9 samples"):
            ours[bad]


def test_concat_dataset_from_addition_and_its_errors():
    a, b = _tensors(0, 4), _tensors(100, 3)
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 7
    assert [int(both[i][1].item()) for i in range(7)] == [0, 1, 2, 3, 100, 101, 102]
    with pytest.raises(ValueError, match="ConcatDataset: datasets must not be empty"):
        ConcatDataset([])
    with pytest.raises(TypeError, match=r"ConcatDataset: datasets\[1\] is an IterableDataset \(_Range\)"):
        ConcatDataset([a, _Range(0, 3)])


@pytest.mark.parametrize("workers", [0, 2])
def test_concat_dataset_in_a_loader(workers):
    loader = DataLoader(ConcatDataset([_tensors(0, 5), _tensors(50, 6)]), batch_size=4, num_workers=workers)
    batches = list(loader)
    assert len(batches) == len(loader) == 3
    assert np.concatenate([y.numpy() for _, y in batches]).tolist() == [*range(5), *range(50, 56)]
    assert np.concatenate([x.numpy() for x, _ in batches]).dtype == np.float32


@pytest.mark.parametrize("workers", [0, 2])
def test_chain_dataset_reads_its_streams_in_order(workers):
    chain = _Range(0, 4) + _Range(10, 13)
    assert isinstance(chain, ChainDataset) and len(chain) == 7
    assert list(chain) == [0, 1, 2, 3, 10, 11, 12]
    got = np.concatenate([b.numpy() for b in DataLoader(chain, batch_size=2, num_workers=workers)])
    assert sorted(got.tolist()) == [0, 1, 2, 3, 10, 11, 12]


def test_chain_dataset_errors():
    with pytest.raises(TypeError, match=r"ChainDataset: datasets\[0\] must be an IterableDataset, got list"):
        ChainDataset([[1, 2]])

    class Endless(IterableDataset):
        def __iter__(self):
            return iter([])

    with pytest.raises(TypeError, match=r"len\(ChainDataset\): datasets\[1\] \(Endless\) has no __len__"):
        len(ChainDataset([_Range(0, 2), Endless()]))


def test_subset_random_sampler_permutes_its_indices_each_epoch():
    indices = [3, 17, 5, 40, 8, 11]
    ember.manual_seed(4)
    sampler = SubsetRandomSampler(indices)
    first, second = list(sampler), list(sampler)
    assert len(sampler) == 6 and sorted(first) == sorted(second) == sorted(indices)
    assert first != second  # a new order every epoch (fixed seed: known to differ)
    ember.manual_seed(4)
    assert [list(sampler), list(sampler)] == [first, second]
    seeded = [list(SubsetRandomSampler(np.array(indices), generator=9)) for _ in range(2)]
    assert seeded[0] == seeded[1] and all(type(i) is int for i in seeded[0])
    counts = np.zeros((6, 6))  # every index lands at every position about equally often
    sampler = SubsetRandomSampler(range(6), generator=1)
    for _ in range(6000):
        counts[np.arange(6), list(sampler)] += 1
    assert np.all(np.abs(counts - 1000) < 150)


@pytest.mark.parametrize("workers", [0, 2])
def test_subset_random_sampler_in_a_loader(workers):
    ember.manual_seed(2)
    loader = DataLoader(_tensors(0, 30), batch_size=4, sampler=SubsetRandomSampler(range(10, 20)),
                        num_workers=workers)
    got = np.concatenate([y.numpy() for _, y in loader])
    assert sorted(got.tolist()) == list(range(10, 20)) and len(loader) == 3


def test_weighted_sampling_with_replacement_follows_the_weights():
    weights = [0.1, 0.0, 0.4, 2.5, 1.0]
    sampler = WeightedRandomSampler(weights, num_samples=200_000, generator=3)
    draws = np.array(list(sampler))
    assert len(sampler) == len(draws) == 200_000 and draws.min() >= 0 and draws.max() < 5
    frequency = np.bincount(draws, minlength=5) / len(draws)
    expected = np.array(weights) / sum(weights)
    assert frequency[1] == 0
    np.testing.assert_allclose(frequency, expected, atol=0.005)
    assert len(set(WeightedRandomSampler([1.0, 1.0], 10))) <= 2


def test_weighted_sampling_without_replacement_draws_each_index_once_heavier_first():
    weights = np.array([1.0, 0.0, 2.0, 4.0, 8.0, 0.5])
    sampler = WeightedRandomSampler(ember.tensor(weights), num_samples=5, replacement=False, generator=0)
    firsts = np.zeros(6)
    for _ in range(20_000):
        draw = list(sampler)
        assert len(draw) == 5 and len(set(draw)) == 5 and 1 not in draw
        firsts[draw[0]] += 1
    # the first draw is one weighted draw: probability weight / total
    np.testing.assert_allclose(firsts / 20_000, weights / weights.sum(), atol=0.015)


def test_weighted_sampler_is_reproducible_under_manual_seed_and_with_a_generator():
    def epoch():
        return list(WeightedRandomSampler([0.2, 0.3, 0.5], num_samples=50))

    ember.manual_seed(11)
    a = epoch()
    ember.manual_seed(11)
    assert epoch() == a
    assert epoch() != a
    seeded = WeightedRandomSampler([0.2, 0.3, 0.5], num_samples=3, replacement=False, generator=5)
    again = WeightedRandomSampler([0.2, 0.3, 0.5], num_samples=3, replacement=False, generator=5)
    assert [list(seeded) for _ in range(5)] == [list(again) for _ in range(5)]


WEIGHT_ERRORS = [
    ({"weights": [1.0, 2.0], "num_samples": 0}, "num_samples must be a positive int, got 0"),
    ({"weights": [1.0, 2.0], "num_samples": 2.5}, "num_samples must be a positive int, got 2.5"),
    ({"weights": [1.0, 2.0], "num_samples": 2, "replacement": 1}, "replacement must be a bool, got 1"),
    ({"weights": [[1.0, 2.0]], "num_samples": 2}, r"weights must be a 1-d sequence, got shape \[1, 2\]"),
    ({"weights": [1.0, -2.0], "num_samples": 2}, r"weights must be finite and >= 0, got \[-2.0\]"),
    ({"weights": [1.0, float("nan")], "num_samples": 2}, "weights must be finite and >= 0"),
    ({"weights": [0.0, 0.0], "num_samples": 2}, "weights must have a positive sum"),
]


@pytest.mark.parametrize("kwargs,message", WEIGHT_ERRORS)
def test_weighted_sampler_refuses_bad_arguments_by_name(kwargs, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="WeightedRandomSampler: " + message):
        WeightedRandomSampler(**kwargs)
    with pytest.raises((ValueError, RuntimeError, TypeError)):  # torch refuses them too, at build or first draw
        list(torch.utils.data.WeightedRandomSampler(**kwargs))


def test_weighted_sampler_without_replacement_needs_enough_non_zero_weights():
    """torch.multinomial documents this requirement; its CPU kernel then hands out zero-weight indices."""
    with pytest.raises(ValueError, match="WeightedRandomSampler: cannot draw num_samples=3 without replacement "
                                         "from 2 indices of non-zero weight"):
        WeightedRandomSampler([1.0, 0.0, 1.0], num_samples=3, replacement=False)
    assert sorted(WeightedRandomSampler([1.0, 0.0, 1.0], num_samples=2, replacement=False)) == [0, 2]


@pytest.mark.parametrize("workers", [0, 2])
def test_weighted_sampler_in_a_loader_balances_classes(workers):
    labels = np.array([0] * 90 + [1] * 10)
    data = TensorDataset(np.arange(100, dtype=np.float32), labels)
    weights = 1.0 / np.bincount(labels)[labels]
    ember.manual_seed(0)
    loader = DataLoader(data, batch_size=50, sampler=WeightedRandomSampler(weights, 2000), num_workers=workers)
    got = np.concatenate([y.numpy() for _, y in loader])
    assert len(loader) == 40 and len(got) == 2000
    assert abs(got.mean() - 0.5) < 0.05

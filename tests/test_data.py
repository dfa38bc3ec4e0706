"""ember.data: datasets, samplers, collation, the prefetching DataLoader, readers and small datasets."""

from __future__ import annotations

import threading
import time
from collections import namedtuple

import numpy as np
import pytest

import ember
from ember.data import (
    CSR,
    BatchSampler,
    CSVDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    IterableDataset,
    LibSVMDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    collate_fn_map,
    default_collate,
    random_split,
    read_csv,
    read_libsvm,
    train_test_split,
)
from ember.data import datasets as data_sets
from ember.model import Model

Point = namedtuple("Point", ["x", "y"])


class Squares(Dataset):
    def __init__(self, n: int = 10):
        self.n = n

    def __getitem__(self, i):
        return {"i": i, "sq": float(i * i), "vec": np.full(3, i, np.float64)}

    def __len__(self):
        return self.n


def _xy(n=10):
    return np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n)


# --- datasets and samplers ------------------------------------------------------------------------------
def test_tensor_dataset_items_and_length_check():
    x, y = _xy()
    ds = TensorDataset(x, ember.tensor(y))
    assert len(ds) == 10
    xi, yi = ds[3]
    assert isinstance(xi, ember.Tensor) and xi.tolist() == [6.0, 7.0] and yi.item() == 3
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(x, y[:5])


def test_tensor_dataset_reads_array_likes_by_position():
    # a pandas Series was kept as it was, so rows were read by its labels: a reversed frame paired x 0.0 with y 50
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": np.arange(6.0), "y": np.arange(6) * 10}).iloc[::-1]
    ds = TensorDataset(frame["x"], frame["y"].to_numpy())
    assert [(x.item(), y.item()) for x, y in (ds[i] for i in range(6))] == [(5.0 - i, 50 - 10 * i) for i in range(6)]
    xb, yb = next(iter(DataLoader(ds, batch_size=6)))
    assert xb.tolist() == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0] and yb.tolist() == [50, 40, 30, 20, 10, 0]


def test_tensor_dataset_and_collate_take_ndarray_subclasses_as_arrays(tmp_path):
    # a memmap (or a masked array) was kept as its subclass, so a sample's .numpy() was an AttributeError ('get')
    rows = np.memmap(tmp_path / "rows.bin", dtype=np.float32, mode="w+", shape=(4, 2))
    rows[:] = np.arange(8).reshape(4, 2)
    assert TensorDataset(rows)[1][0].numpy().tolist() == [2.0, 3.0]
    masked = np.ma.masked_array(np.arange(3.0), mask=[0, 1, 0])
    assert default_collate([masked, masked]).numpy().tolist() == [[0.0, 1.0, 2.0]] * 2


def test_random_split_sizes_disjoint_and_seeded():
    ds = Squares(103)
    parts = random_split(ds, [0.7, 0.2, 0.1], generator=0)
    assert [len(p) for p in parts] == [73, 20, 10]
    seen = np.concatenate([p.indices for p in parts])
    assert sorted(seen.tolist()) == list(range(103))
    again = random_split(ds, [0.7, 0.2, 0.1], generator=0)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again))
    a, b = random_split(ds, [100, 3], generator=1)
    assert (len(a), len(b)) == (100, 3) and b[0]["i"] == b.indices[0]
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [50, 50])
    # float32 fractions (a NumPy array's) were refused as neither ints nor fractions; PyTorch takes them
    assert [len(p) for p in random_split(ds, np.array([0.7, 0.2, 0.1], np.float32), generator=0)] == [73, 20, 10]



def test_random_split_takes_tensor_lengths_and_random_sampler_refuses_zero_samples_as_pytorch():
    # integer tensors were refused as "not non-negative ints"; PyTorch takes tensors (float32 fractions in float32)
    assert [len(p) for p in random_split(range(10), ember.tensor([3, 7]), generator=0)] == [3, 7]
    assert [len(p) for p in random_split(range(10), [ember.tensor(3), np.int64(7)], generator=0)] == [3, 7]
    assert [len(p) for p in random_split(range(10), ember.tensor([0.3, 0.7]), generator=0)] == [3, 7]
    with pytest.raises(ValueError, match=r"lengths \[2, 7\] sum to 9"):
        random_split(range(10), ember.tensor([2, 7]))
    # num_samples=0 gave an empty epoch; PyTorch refuses it
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler(range(3), num_samples=0)


def test_subset_keeps_its_indices_as_given_as_torch():
    # Subset held its indices as a NumPy array, so joining two random_split parts with a.indices + b.indices added
    # them elementwise (5 wrong indices for 10, silently); PyTorch's keep the sequence given (random_split's a list)
    ds = Squares(10)
    a, b = random_split(ds, [5, 5], generator=0)
    assert type(a.indices) is list and all(type(i) is int for i in a.indices)
    both = Subset(ds, a.indices + b.indices)
    assert len(both) == 10 and sorted(both[i]["i"] for i in range(10)) == list(range(10))
    assert type(Subset(ds, range(3)).indices) is range
    # the loader's batch read follows the indices as they are now, as the samples do
    x = np.arange(10.0)
    sub = Subset(TensorDataset(x), [9, 8, 7, 6])
    sub.indices.reverse()
    assert next(iter(DataLoader(sub, batch_size=4)))[0].tolist() == [6.0, 7.0, 8.0, 9.0] == [sub[i][0].item()
                                                                                              for i in range(4)]


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    ember.manual_seed(7)
    first = list(RandomSampler(range(20)))
    ember.manual_seed(7)
    assert list(RandomSampler(range(20))) == first and sorted(first) == list(range(20))
    seeded = RandomSampler(range(20), generator=3)
    e1, e2 = list(seeded), list(seeded)
    assert e1 != e2 and list(RandomSampler(range(20), generator=3)) == e1
    drawn = list(RandomSampler(range(5), replacement=True, num_samples=50, generator=0))
    assert len(drawn) == 50 and set(drawn) <= set(range(5))
    assert list(BatchSampler(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2)) == 3 and len(BatchSampler(range(5), 2, drop_last=True)) == 2



def test_reseeding_the_generator_given_replays_the_order():
    # the samplers and the loader kept the NumPy stream the ember.Generator had when they were built, so seeding it
    # again before an epoch (PyTorch's way of replaying one) changed nothing: every epoch drew a new order
    g = ember.Generator()
    for make in (lambda: DataLoader(range(10), batch_size=None, shuffle=True, generator=g),
                 lambda: RandomSampler(range(10), generator=g),
                 lambda: SubsetRandomSampler(range(10), generator=g),
                 lambda: WeightedRandomSampler([1.0] * 10, 10, generator=g)):
        g.manual_seed(0)
        drawn = make()
        first = list(drawn)
        g.manual_seed(0)
        assert list(drawn) == first
    loader = DataLoader(range(10), batch_size=None, shuffle=True, generator=ember.default_generator)
    ember.manual_seed(3)
    first = list(loader)
    ember.manual_seed(3)
    assert list(loader) == first


def test_sampler_attributes_as_torch():
    # RandomSampler.num_samples was None unless given (PyTorch's is the dataset's size); data_source and generator
    # were missing
    data, g = list(range(7)), ember.Generator()
    sampler = RandomSampler(data, generator=g)
    assert sampler.num_samples == len(sampler) == 7 and sampler.data_source is data and sampler.generator is g
    assert RandomSampler(data, replacement=True, num_samples=3).num_samples == 3
    assert SequentialSampler(data).data_source is data
    assert SubsetRandomSampler([1], generator=g).generator is g
    assert WeightedRandomSampler([1.0], 1, generator=g).generator is g


def test_random_sampler_of_an_empty_dataset():
    # num_samples=3 over no items: len() said 3 while iterating gave nothing (with replacement, NumPy's "high <= 0")
    for replacement in (False, True):
        with pytest.raises(ValueError, match="num_samples=3 indices from an empty dataset"):
            list(RandomSampler(range(0), replacement=replacement, num_samples=3))
        assert list(RandomSampler(range(0), replacement=replacement)) == []


def test_random_sampler_more_samples_than_items_without_replacement():
    # PyTorch chains permutations: every index twice in the first 10 draws, then 2 distinct ones
    drawn = list(RandomSampler(range(5), num_samples=12, generator=0))
    assert len(drawn) == 12 and len(RandomSampler(range(5), num_samples=12)) == 12
    assert sorted(drawn[:5]) == sorted(drawn[5:10]) == list(range(5)) and len(set(drawn[10:])) == 2

@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (2, 4, False)])
def test_distributed_sampler_partitions(n, replicas, drop_last):
    samplers = [DistributedSampler(range(n), replicas, r, seed=5, drop_last=drop_last) for r in range(replicas)]
    shards = [list(s) for s in samplers]
    assert all(len(shard) == len(s) == len(shards[0]) for shard, s in zip(shards, samplers))
    merged = [i for s in shards for i in s]
    if drop_last:
        assert len(merged) == (n // replicas) * replicas and len(set(merged)) == len(merged)
    else:
        assert set(merged) == set(range(n))  # covers the dataset; padding repeats a few
        assert len(merged) == -(-n // replicas) * replicas


def test_distributed_sampler_epochs():
    s = DistributedSampler(range(50), num_replicas=2, rank=0, seed=1)
    e0 = list(s)
    assert list(s) == e0
    s.set_epoch(1)
    assert list(s) != e0
    assert list(DistributedSampler(range(6), 2, 1, shuffle=False)) == [1, 3, 5]
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(range(6), 2, 2)
    # a negative seed (or seed + epoch) was NumPy's "expected non-negative integer"; PyTorch takes it modulo 2**64
    shares = [list(DistributedSampler(range(7), 2, rank, seed=-1)) for rank in (0, 1)]
    assert sorted(shares[0] + shares[1]) == sorted([*range(7), shares[0][0]])
    s.set_epoch(-5)
    assert list(s) == list(DistributedSampler(range(50), num_replicas=2, rank=0, seed=1 - 5))
    with pytest.raises(TypeError, match="DistributedSampler: seed must be an int"):
        DistributedSampler(range(6), 2, 0, seed=0.5)
    # a float num_replicas or rank was taken, then iteration failed on a slice ("slice indices must be integers")
    with pytest.raises(TypeError, match="DistributedSampler: num_replicas must be an int, got 2.0"):
        DistributedSampler(range(6), 2.0, 0)
    with pytest.raises(TypeError, match="DistributedSampler: rank must be an int, got 1.0"):
        DistributedSampler(range(6), 2, 1.0)
    assert list(DistributedSampler(range(6), np.int64(2), np.int32(1), shuffle=False)) == [1, 3, 5]


def test_distributed_sampler_reads_the_launcher_environment(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    s = DistributedSampler(range(9), shuffle=False)
    assert (s.num_replicas, s.rank, list(s)) == (3, 2, [2, 5, 8])


# --- collation ------------------------------------------------------------------------------------------
def test_default_collate_of_arrays_mixed_with_tensors_and_lists():
    # as PyTorch's: samples after an array are taken as arrays; a Tensor or a list there failed inside the
    # stacking (Tensor.astype() got an unexpected keyword argument 'copy'; 'list' object has no attribute 'shape')
    out = default_collate([np.ones(2), ember.tensor([2.0, 3.0], dtype=ember.float64), [4.0, 5.0]])
    assert out.dtype == ember.float64 and out.tolist() == [[1.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(TypeError, match="sample 0 is a Tensor but sample 1 is a ndarray"):
        default_collate([ember.ones(2), np.ones(2)])


def test_default_collate_nested_structures():
    batch = [
        {"p": Point(1, 2.5), "seq": [np.ones(2), True], "name": "a", "t": ember.tensor([1.0, 2.0])},
        {"p": Point(3, 4.0), "seq": [np.zeros(2), False], "name": "b", "t": ember.tensor([3.0, 4.0])},
    ]
    out = default_collate(batch)
    assert isinstance(out["p"], Point)
    assert out["p"].x.dtype == ember.int64 and out["p"].x.tolist() == [1, 3]
    assert out["p"].y.dtype == ember.float32 and out["p"].y.tolist() == [2.5, 4.0]
    assert isinstance(out["seq"], list) and out["seq"][0].shape == (2, 2) and out["seq"][1].dtype == ember.bool
    assert out["name"] == ["a", "b"]
    assert isinstance(out["t"], ember.Tensor) and out["t"].shape == (2, 2)
    mixed = default_collate([1, 2.5])
    assert mixed.dtype == ember.float32 and mixed.tolist() == [1.0, 2.5]
    assert default_collate([np.float64(1.0), np.float64(2.0)]).dtype == ember.float64
    assert default_collate([(1, 2), (3, 4)])[0].tolist() == [1, 3]


def test_collate_errors_and_registry():
    with pytest.raises(ValueError, match="shape"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="no rule"):
        default_collate([object(), object()])

    class Box:
        def __init__(self, v):
            self.v = v

    collate_fn_map[Box] = lambda batch, *, collate_fn_map: sum(b.v for b in batch)
    try:
        assert default_collate([(Box(1), 0), (Box(2), 1)])[0] == 3
    finally:
        del collate_fn_map[Box]


# --- DataLoader -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_batches_and_drop_last(prefetch):
    x, y = _xy(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, prefetch=prefetch)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    assert len(DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)) == 2
    assert [b[1].shape[0] for b in DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)] == [4, 4]


def test_loader_map_dataset_collates_dicts():
    batches = list(DataLoader(Squares(5), batch_size=2))
    assert batches[0]["i"].tolist() == [0, 1] and batches[2]["sq"].tolist() == [16.0]
    assert batches[1]["vec"].shape == (2, 3) and batches[1]["vec"].dtype == ember.float64


def test_loader_fast_path_equals_item_by_item():
    x, y = _xy(13)
    ds = TensorDataset(x, y)
    ember.manual_seed(0)
    fast = list(DataLoader(ds, batch_size=5, shuffle=True))
    ember.manual_seed(0)
    slow = list(DataLoader(ds, batch_size=5, shuffle=True, collate_fn=lambda b: default_collate(b)))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        assert np.array_equal(fx.numpy(), sx.numpy()) and np.array_equal(fy.numpy(), sy.numpy())
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
    # the one-indexing read gave a tuple, the item-by-item one (and PyTorch's loader) a list: batch[0] = ... failed
    assert all(type(f) is type(s) is list for f, s in zip(fast, slow))
    train, _ = random_split(ds, [10, 3], generator=0)
    xb, yb = next(iter(DataLoader(train, batch_size=10)))
    assert np.array_equal(yb.numpy(), train.indices) and np.array_equal(xb.numpy(), x[train.indices])


def test_loader_batch_read_refuses_indices_that_are_no_ints():
    # the batch read of a TensorDataset cast the sampler's indices to int64, so 1.7 and 3.2 read rows 1 and 3 where
    # indexing sample by sample (and PyTorch's loader) refuses them
    ds = TensorDataset(np.arange(10.0))
    for sampler in ([1.7, 3.2], np.linspace(0.0, 9.0, 3)):
        with pytest.raises(IndexError, match=r"the sampler gave the indices \[(1.7, 3.2|0.0, 4.5)\] \(dtype float64\)"):
            next(iter(DataLoader(ds, batch_size=2, sampler=sampler)))
    assert next(iter(DataLoader(ds, batch_size=2, sampler=np.array([3, -1], np.int32))))[0].tolist() == [3.0, 9.0]


def test_loader_honours_a_subclass_getitem():
    x, y = _xy(6)

    class Doubled(TensorDataset):
        def __getitem__(self, i):
            xi, yi = super().__getitem__(i)
            return xi * 2, yi

    class Negated(ember.data.Subset):
        def __getitem__(self, i):
            xi, yi = super().__getitem__(i)
            return -xi, yi

    xb, yb = next(iter(DataLoader(Doubled(x, y), batch_size=4)))
    assert np.array_equal(xb.numpy(), x[:4] * 2) and np.array_equal(yb.numpy(), y[:4])
    xb, _ = next(iter(DataLoader(Negated(TensorDataset(x, y), [1, 2]), batch_size=2)))
    assert np.array_equal(xb.numpy(), -x[1:3])
    xb, _ = next(iter(DataLoader(ember.data.Subset(Doubled(x, y), [3]), batch_size=1)))
    assert np.array_equal(xb.numpy(), x[3:4] * 2)
    # a StackDataset read the batch through the Subset's __getitems__, skipping the subclass's __getitem__
    (xb, _), _ = next(iter(DataLoader(ember.data.StackDataset(Negated(TensorDataset(x, y), [1, 2]), [0, 0]),
                                      batch_size=2)))
    assert np.array_equal(xb.numpy(), -x[1:3])


def test_loader_shuffle_reproducible():
    ds = TensorDataset(*_xy(30))

    def order(seed):
        ember.manual_seed(seed)
        return np.concatenate([yb.numpy() for _, yb in DataLoader(ds, batch_size=7, shuffle=True)])

    assert np.array_equal(order(1), order(1)) and not np.array_equal(order(1), order(2))
    assert sorted(order(1).tolist()) == list(range(30))


def test_loader_sampler_and_argument_checks():
    ds = Squares(6)
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    assert [b["i"].tolist() for b in DataLoader(ds, batch_size=2, sampler=sampler)] == [[1, 3], [5]]
    loader = DataLoader(ds, batch_sampler=[[5, 0], [2]])
    assert [b["i"].tolist() for b in loader] == [[5, 0], [2]]
    # with a batch_sampler, loader.sampler was None (len(loader.sampler) a TypeError); PyTorch's is sequential
    assert isinstance(loader.sampler, SequentialSampler) and len(loader.sampler) == 6
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(ds, shuffle=True, sampler=sampler)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    # PyTorch's attribute was missing (AttributeError)
    assert DataLoader(ds).prefetch_factor is None and DataLoader(ds, num_workers=1).prefetch_factor == 2
    assert DataLoader(ds, num_workers=1, prefetch_factor=3).prefetch_factor == 3
    # a flag given as text was taken for its truth: "no" dropped the short batch, drew with replacement
    with pytest.raises(ValueError, match="BatchSampler: drop_last must be a bool, got 'no'"):
        DataLoader(ds, batch_size=4, drop_last="no")
    with pytest.raises(TypeError, match="RandomSampler: replacement must be a bool, got 'no'"):
        RandomSampler(ds, replacement="no")


def test_loader_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(TypeError, match="__len__"):
        len(DataLoader(Stream(), batch_size=3))
    with pytest.raises(ValueError, match="iterable"):
        DataLoader(Stream(), shuffle=True)


def test_loader_without_batching_gives_the_samples():
    x, y = _xy(5)
    loader = DataLoader(TensorDataset(x, y), batch_size=None)
    samples = list(loader)
    assert len(loader) == len(samples) == 5 and type(samples[0]) is list  # PyTorch's default_convert: a list
    assert samples[3][0].shape == (2,) and np.array_equal(samples[3][0].numpy(), x[3]) and samples[3][1].item() == 3

    ember.manual_seed(3)
    shuffled = [s["i"] for s in DataLoader(Squares(6), batch_size=None, shuffle=True, prefetch=0)]
    assert sorted(shuffled) == list(range(6)) and shuffled != list(range(6))
    sample = next(iter(DataLoader(Squares(3), batch_size=None)))
    assert sample["i"] == 0 and isinstance(sample["i"], int) and isinstance(sample["vec"], ember.Tensor)
    assert [s for s in DataLoader(Squares(3), batch_size=None, collate_fn=lambda s: s["sq"])] == [0.0, 1.0, 4.0]
    assert ember.data.default_convert(Point(np.zeros(2, np.float32), ["a", np.int32(4)])).y[1].dtype == ember.int32

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(np.full(2, i, np.float32) for i in range(3))

        def __len__(self):
            return 3

    assert [s.tolist() for s in DataLoader(Stream(), batch_size=None)] == [[0, 0], [1, 1], [2, 2]]
    assert len(DataLoader(Stream(), batch_size=None)) == 3
    with pytest.raises(ValueError, match="batch_size=None .* excludes drop_last"):
        DataLoader(Squares(3), batch_size=None, drop_last=True)


class Rows(Dataset):
    """Indexed by a key or by a list of them (batched reads), as PyTorch's batch_size=None with a sampler of lists."""

    def __init__(self, rows: dict):
        self.rows = rows

    def __getitem__(self, key):
        return np.array([self.rows[k] for k in key]) if isinstance(key, list) else self.rows[key]

    def __len__(self):
        return len(self.rows)


def test_loader_without_batching_indexes_with_the_samplers_items_as_they_are():
    # int() of the sampler's item refused a list of indices and a key (TypeError, ValueError)
    rows = Rows({i: 10 * i for i in range(7)})
    batches = DataLoader(rows, batch_size=None, sampler=BatchSampler(SequentialSampler(rows), 3, drop_last=False))
    assert [b.tolist() for b in batches] == [[0, 10, 20], [30, 40, 50], [60]]
    named = Rows({"a": 1.5, "b": 2.5})
    assert list(DataLoader(named, batch_size=None, sampler=["b", "a"])) == [2.5, 1.5]
    assert [b.tolist() for b in DataLoader(named, batch_size=2, sampler=["b", "a"])] == [[2.5, 1.5]]


class Batched(Dataset):
    """Reads whole batches (``__getitems__``); one sample at a time is not supported, as PyTorch allows."""

    def __init__(self):
        self.reads = []

    def __getitem__(self, i):
        raise RuntimeError("read one sample at a time")

    def __getitems__(self, indices):
        self.reads.append(list(indices))
        return [np.float32(2 * i) for i in indices]

    def __len__(self):
        return 5


def test_loader_honours_a_subclass_getitems():
    # the batch read of a TensorDataset (or a Subset of one) skipped a subclass's __getitems__, which PyTorch's
    # loader calls: the batch was x[:3] where the override gives x[:3] * 100
    x, y = _xy(6)

    class Scaled(TensorDataset):
        def __getitems__(self, indices):
            return [(self[i][0] * 100, self[i][1]) for i in indices]

    class ScaledSubset(ember.data.Subset):
        def __getitems__(self, indices):
            return [(self[i][0] * 100, self[i][1]) for i in indices]

    for ds, rows in ((Scaled(x, y), [0, 1, 2]), (ScaledSubset(TensorDataset(x, y), [4, 1]), [4, 1]),
                     (ember.data.Subset(Scaled(x, y), [5, 0]), [5, 0])):
        xb, yb = next(iter(DataLoader(ds, batch_size=3)))
        assert np.array_equal(xb.numpy(), x[rows] * 100) and np.array_equal(yb.numpy(), y[rows])


def test_loader_reads_batches_through_getitems():
    # the loader ignored __getitems__ and called __getitem__ per sample (RuntimeError here)
    dataset = Batched()
    assert [b.tolist() for b in DataLoader(dataset, batch_size=2)] == [[0, 2], [4, 6], [8]]
    assert dataset.reads == [[0, 1], [2, 3], [4]]
    subset = Subset(dataset, [4, 0, 3])  # a Subset reads through its dataset's __getitems__, as PyTorch's
    assert [b.tolist() for b in DataLoader(subset, batch_size=2)] == [[8, 0], [6]]
    assert dataset.reads[-2:] == [[4, 0], [3]]

    class Doubled(Batched):  # overrides __getitem__ below __getitems__: its samples are what __getitem__ gives
        def __getitem__(self, i):
            return np.float32(i)

    assert [b.tolist() for b in DataLoader(Doubled(), batch_size=3)] == [[0, 1, 2], [3, 4]]

    class Negated(Subset):
        def __getitem__(self, i):
            return -self.dataset[int(self.indices[i])]

    assert [b.tolist() for b in DataLoader(Negated(Doubled(), [1, 2]), batch_size=2)] == [[-1, -2]]


class Slow(Dataset):
    def __init__(self, n, delay, fail_at=None):
        self.n, self.delay, self.fail_at = n, delay, fail_at

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"bad sample {i}")
        time.sleep(self.delay)
        return np.float32(i)

    def __len__(self):
        return self.n


def _epoch_time(prefetch: int) -> float:
    start = time.perf_counter()
    for _ in DataLoader(Slow(8, 0.02), batch_size=1, prefetch=prefetch):
        time.sleep(0.02)  # the simulated training step
    return time.perf_counter() - start


def test_prefetch_overlaps_loading_with_the_step():
    serial, overlapped = _epoch_time(0), _epoch_time(2)
    assert serial > 8 * 0.04 * 0.95
    assert overlapped < serial * 0.8, (serial, overlapped)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_errors_reraise_in_the_loop(prefetch):
    loader = DataLoader(Slow(6, 0.0, fail_at=3), batch_size=2, prefetch=prefetch)
    got = []
    with pytest.raises(KeyError, match="bad sample 3"):
        for batch in loader:
            got.append(batch.tolist())
    assert got == [[0.0, 1.0]]
    again = [b.tolist() for b in DataLoader(Slow(4, 0.0), batch_size=2, prefetch=prefetch)]
    assert again == [[0.0, 1.0], [2.0, 3.0]]


def test_loader_attributes_set_after_init_are_used_or_refused_as_torch():
    # a collate_fn set afterwards was ignored for a TensorDataset (its batch read kept the default collation), and
    # batch_size, drop_last, sampler... were taken and ignored; PyTorch uses the first and refuses the others
    loader = DataLoader(TensorDataset(np.arange(5)), batch_size=2)
    loader.collate_fn = lambda batch: [int(row[0]) for row in batch]
    assert list(loader) == [[0, 1], [2, 3], [4]]
    loader.collate_fn = default_collate
    assert [b[0].tolist() for b in loader] == [[0, 1], [2, 3], [4]]
    for name, value in [("batch_size", 3), ("drop_last", True), ("sampler", [0]), ("batch_sampler", [[0]]),
                        ("dataset", TensorDataset(np.arange(2)))]:
        with pytest.raises(ValueError, match=f"the {name} attribute should not be set after"):
            setattr(loader, name, value)
    assert loader.batch_size == 2 and len(loader) == 3


@pytest.mark.parametrize("options", [{"prefetch": 0}, {"prefetch": 2}, {"num_workers": 2}])
def test_len_of_the_loaders_iterator_is_its_batch_count_as_torch(options):
    # len(iter(loader)), which PyTorch's iterators answer, was a TypeError ('_Prefetcher' has no len())
    it = iter(DataLoader(TensorDataset(np.arange(10)), batch_size=3, **options))
    assert len(it) == 4 and len(list(it)) == 4
    torch = pytest.importorskip("torch")
    assert len(iter(torch.utils.data.DataLoader(range(10), batch_size=3))) == 4


class _BadRows(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        if i in (2, 5):
            raise KeyError(f"bad row {i}")
        return i


class _BadStream(IterableDataset):
    def __iter__(self):
        return iter([0, 1, 2, "x", 4, 5, 6])


@pytest.mark.parametrize("options", [{"prefetch": 0}, {"prefetch": 2}, {"num_workers": 2}])
def test_a_failed_batch_leaves_the_following_ones_to_next_as_torch(options):
    # the loader's iterator ended at the first batch whose reading raised: code that skips bad batches
    # (except KeyError: continue) lost the rest of the epoch silently, where PyTorch's goes on
    def drain(loader):
        got, it = [], iter(loader)
        while True:
            try:
                got.append(next(it).tolist())
            except StopIteration:
                return got
            except (KeyError, TypeError) as exc:
                got.append(type(exc).__name__)

    assert drain(DataLoader(_BadRows(), batch_size=2, **options)) == [[0, 1], "KeyError", "KeyError", [6]]
    if "num_workers" not in options:  # (each worker would read the whole stream)
        assert drain(DataLoader(_BadStream(), batch_size=2, **options)) == [[0, 1], "TypeError", [4, 5], [6]]
    torch = pytest.importorskip("torch")
    theirs = drain(torch.utils.data.DataLoader(_BadRows(), batch_size=2))
    assert theirs == [[0, 1], "KeyError", "KeyError", [6]]


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "ember-data-prefetch"]


def test_prefetch_no_thread_leak_and_restart():
    loader = DataLoader(Slow(50, 0.001), batch_size=2, prefetch=3)
    for _ in range(3):
        for i, batch in enumerate(loader):
            if i == 2:
                assert batch.tolist() == [4.0, 5.0]
                break  # iterating again restarts from the beginning
    deadline = time.time() + 2.0
    while _prefetch_threads() and time.time() < deadline:
        time.sleep(0.01)
    assert not _prefetch_threads()
    assert len(list(loader)) == 25
    assert not _prefetch_threads()


# --- readers --------------------------------------------------------------------------------------------
def test_read_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label,c\n1,2.5,0,3\n4,,1,6\n7,8,1,9\n")
    x, y = read_csv(path, target_column="label")
    assert x.dtype == np.float32 and x.shape == (3, 3) and np.isnan(x[1, 1])
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 1]
    x2, y2 = read_csv(path, target_column=-1)
    assert x2.shape == (3, 3) and y2.tolist() == [3, 6, 9]
    x3, y3 = read_csv(path, target_column=None)
    assert x3.shape == (3, 4) and y3 is None
    semi = tmp_path / "s.csv"
    semi.write_text("1;2;0.5\n3;4;1.5\n")
    x4, y4 = read_csv(semi, delimiter=";", header=False)
    assert x4.tolist() == [[1, 2], [3, 4]] and y4.dtype == np.float32
    with pytest.raises(ValueError, match="no column"):
        read_csv(path, target_column="nope")


def test_csv_dataset_text_labels(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("f1,f2,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n")
    ds = CSVDataset(path, target_column="species")
    assert ds.classes == ["setosa", "virginica"] and len(ds) == 3
    xb, yb = next(iter(DataLoader(ds, batch_size=3)))
    assert xb.shape == (3, 2) and yb.tolist() == [0, 1, 0]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nx,1\n")
    with pytest.raises(ValueError, match=r"line 2, column 1 \('a'\): 'x' is not a number"):
        read_csv(bad)


LIBSVM = "1 1:0.5 3:2 # comment\n-1 qid:3 2:1.5\n\n1 4:-1 1:1\n"


def test_read_libsvm(tmp_path):
    path = tmp_path / "d.svm"
    path.write_text(LIBSVM)
    (indptr, indices, values, shape), y = read_libsvm(path)
    assert indptr.tolist() == [0, 2, 3, 5] and indices.tolist() == [0, 2, 1, 3, 0]
    assert values.dtype == np.float32 and shape == (3, 4) and y.tolist() == [1, -1, 1]
    matrix, _ = read_libsvm(path, n_features=6, zero_based=True)
    assert matrix.shape == (3, 6) and matrix.indices.tolist() == [1, 3, 2, 4, 1]
    dense = matrix.to_dense()
    assert dense[0, 1] == 0.5 and dense[2, 4] == -1.0
    with pytest.raises(ValueError, match="n_features"):
        read_libsvm(path, n_features=2)


def test_libsvm_dataset_dense_and_sparse(tmp_path):
    path = tmp_path / "d.svm"
    path.write_text(LIBSVM)
    dense = LibSVMDataset(path)
    row, label = dense[2]
    assert row.tolist() == [1.0, 0.0, 0.0, -1.0] and label == 1
    batch = next(iter(DataLoader(dense, batch_size=3)))
    assert type(batch) is list  # as default_collate gives it (it was a tuple)
    xb, yb = batch
    assert xb.shape == (3, 4) and yb.tolist() == [1, -1, 1]
    sparse = LibSVMDataset(path, dense=False)
    assert isinstance(sparse[0][0], CSR)
    for loader in (DataLoader(sparse, batch_size=3), DataLoader(sparse, batch_size=3, collate_fn=default_collate,
                                                                  sampler=[0, 1, 2])):
        batch, labels = next(iter(loader))
        assert isinstance(batch, CSR) and np.array_equal(batch.to_dense(), xb.numpy())
    rows = default_collate([sparse[2], sparse[0]])[0]
    assert np.array_equal(rows.to_dense(), xb.numpy()[[2, 0]])
    last = len(sparse) - 1  # negative rows count from the end, as in a TensorDataset
    assert np.array_equal(sparse[-1][0].to_dense(), sparse[last][0].to_dense()) and dense[-1][1] == dense[last][1]
    assert np.array_equal(sparse.matrix.take_rows(np.array([-1, 0])).to_dense(), sparse.matrix.take_rows(
        np.array([last, 0])).to_dense())
    with pytest.raises(IndexError, match=f"rows \\[{last + 1}\\] are out of range for a matrix of {last + 1} rows"):
        sparse[last + 1]


# --- small datasets -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape, classes", [
    ("load_iris", (150, 4), 3), ("load_wine", (178, 13), 3), ("load_breast_cancer", (569, 30), 2),
    ("load_digits", (1797, 64), 10), ("load_diabetes", (442, 10), None),
])
def test_sklearn_loaders(name, shape, classes):
    pytest.importorskip("sklearn")
    x, y = getattr(data_sets, name)()
    assert x.shape == shape and x.dtype == np.float32 and y.shape == (shape[0],)
    if classes is None:
        assert y.dtype == np.float32
    else:
        assert y.dtype == np.int64 and len(np.unique(y)) == classes


def test_digits_images_and_missing_sklearn(monkeypatch):
    pytest.importorskip("sklearn")
    x, _ = data_sets.load_digits(images=True)
    assert x.shape == (1797, 1, 8, 8) and x.min() == 0.0 and x.max() == 1.0
    monkeypatch.setitem(__import__("sys").modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn .*pip install -e '\.\[data\]'"):
        data_sets.load_iris()


def test_train_test_split():
    x = np.arange(100).reshape(50, 2)
    y = np.array([0] * 40 + [1] * 10)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, 0.2, seed=0)
    assert len(x_te) == 10 and len(x_tr) == 40
    assert sorted(np.concatenate([x_tr[:, 0], x_te[:, 0]]).tolist()) == list(range(0, 100, 2))
    assert np.array_equal(x_tr[:, 0] // 2, np.arange(50)[x_tr[:, 0] // 2]) and np.all(y_tr == y[x_tr[:, 0] // 2])
    _, x_te2, _, _ = train_test_split(x, y, 0.2, seed=0)
    assert np.array_equal(x_te, x_te2)
    _, _, y_tr, y_te = train_test_split(x, y, 0.3, seed=1, stratify=True)
    assert len(y_te) == 15 and np.bincount(y_te).tolist() == [12, 3] and np.bincount(y_tr).tolist() == [28, 7]
    # 0.1 of 3 samples rounded to an empty test set, silently (scikit-learn's split never leaves one empty)
    with pytest.raises(ValueError, match="test_fraction=0.1 of 3 samples leaves 0 for test and 3 for training"):
        train_test_split(np.arange(3), np.arange(3), 0.1, seed=0)
    with pytest.raises(ValueError, match="leaves 1 for test and 0 for training"):
        train_test_split(np.arange(1), np.arange(1), 0.6, seed=0)


def test_an_iterable_dataset_is_a_dataset_without_len_as_torchs():
    class Stream(IterableDataset):
        def __iter__(self):
            rng = np.random.default_rng(0)
            for _ in range(256):
                x = rng.normal(size=2).astype(np.float32)
                yield x, np.int64(x.sum() > 0)

    stream = Stream()
    assert isinstance(stream, Dataset)
    with pytest.raises(TypeError):
        len(stream)
    with pytest.raises(TypeError):
        len(Dataset())
    # Model.fit takes it as a Dataset, read in its own order (it used to be wrapped as a TensorDataset)
    net = ember.nn.Sequential(ember.nn.Linear(2, 2))
    model = Model(net, "cross_entropy", ember.optim.SGD(net.parameters(), lr=0.5), metrics=["accuracy"])
    model.fit(stream, epochs=3, batch_size=32, verbose=0)
    assert model.evaluate(stream, batch_size=64)["accuracy"] > 0.95


def test_default_collate_makes_lists_of_tuples_as_torch():
    x, y = batch = default_collate([(np.zeros(3), 0), (np.ones(3), 1)])
    assert type(batch) is list and x.shape == (2, 3) and y.tolist() == [0, 1]
    point = namedtuple("point", "x y")
    assert type(default_collate([point(1, 2), point(3, 4)])) is point
    # strings inside a sequence were listed; PyTorch's give their column, a tuple (at the top, and in a dict, a list)
    assert default_collate([(1, "s"), (2, "t")])[1] == ("s", "t")
    assert default_collate([point("a", b"x"), point("b", b"y")]) == point(("a", "b"), (b"x", b"y"))
    assert default_collate(["a", "b"]) == ["a", "b"] and default_collate([{"n": "a"}, {"n": "b"}]) == {"n": ["a", "b"]}


def test_collated_mappings_keep_their_type_as_torch():
    # a defaultdict (whose constructor takes no dict) came back a plain dict, its default_factory lost (a missing key
    # was a KeyError); PyTorch collates a mutable mapping into a copy of the first sample, and so does Ember
    from collections import defaultdict

    class Tagged(dict):
        def __init__(self, *args, tag=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.tag = tag

    sample = defaultdict(list, x=1)
    batch = default_collate([sample, sample])
    assert type(batch) is defaultdict and batch["missing"] == [] and batch["x"].tolist() == [1, 1]
    assert "missing" not in sample
    converted = ember.data.default_convert(defaultdict(list, x=np.ones(2)))
    assert type(converted) is defaultdict and converted["missing"] == [] and converted["x"].shape == (2,)
    tagged = default_collate([Tagged(x=1.0, tag="t"), Tagged(x=2.0, tag="t")])
    assert type(tagged) is Tagged and tagged.tag == "t" and tagged["x"].tolist() == [1.0, 2.0]


def test_collated_sequences_keep_their_type_as_torch():
    # a list subclass came back a plain list, a Sequence of another kind was refused ("no rule") and default_convert
    # left the NumPy arrays in a deque or a custom Sequence as they were; PyTorch's rebuild each sequence's type
    from collections import deque
    from collections.abc import Sequence

    class Row(list):
        pass

    class Pair(Sequence):
        def __init__(self, items):
            self.items = list(items)

        def __getitem__(self, i):
            return self.items[i]

        def __len__(self):
            return len(self.items)

    rows = default_collate([Row([1, 2.0]), Row([3, 4.0])])
    assert type(rows) is Row and rows[0].tolist() == [1, 3] and rows[1].tolist() == [2.0, 4.0]
    pair = default_collate([Pair([np.zeros(2), 1]), Pair([np.ones(2), 2])])
    assert type(pair) is Pair and pair[0].shape == (2, 2) and pair[1].tolist() == [1, 2]
    queue = default_collate([deque([1, 2]), deque([3, 4])])
    assert type(queue) is deque and queue[0].tolist() == [1, 3]
    converted = ember.data.default_convert(deque([np.ones(2), "a"]))
    assert type(converted) is deque and isinstance(converted[0], ember.Tensor) and converted[1] == "a"
    assert isinstance(ember.data.default_convert(Pair([np.ones(2)]))[0], ember.Tensor)


def test_default_collate_promotes_mixed_dtypes_as_torch():
    # NumPy's stack promoted int64 with float32 to float64; PyTorch's stack (and Ember's) gives float32
    pairs = [((np.int64, np.float32), np.float32), ((np.uint8, np.int8), np.int16),
             ((np.float16, np.int32), np.float16), ((np.bool_, np.int32), np.int32)]
    for (a, b), expected in pairs:
        assert default_collate([np.ones(2, a), np.ones(2, b)]).dtype == expected
        assert default_collate([ember.tensor(np.ones(2, a)), ember.tensor(np.ones(2, b))]).dtype == expected
    # NumPy scalars too: they were batched with np.array, NumPy's promotion (int64 with float32 made float64)
    pairs += [((np.int64, np.float32), np.float32), ((np.int32, np.float16), np.float16),
              ((np.int64, np.complex64), np.complex64), ((np.float32, np.int16), np.float32)]
    for (a, b), expected in pairs:
        assert default_collate([a(1), b(2)]).dtype == expected


def test_default_collate_keeps_the_samples_gradients():
    # the samples' arrays were stacked as they are: a batch of Tensors that require grad came out detached
    a, b = ember.tensor([1.0, 2.0], requires_grad=True), ember.tensor([3.0, 4.0])
    batch = default_collate([a, b, a])
    assert batch.requires_grad
    (batch * ember.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert a.grad.tolist() == [6.0, 8.0]  # PyTorch's default_collate gives the same


def test_tensor_dataset_rows_keep_the_gradient_of_tensors_that_require_it():
    # the Tensors became bare arrays, so the loader's batches were detached from them (PyTorch's rows are not)
    x = ember.tensor(np.arange(12.0, dtype=np.float32).reshape(6, 2), requires_grad=True)
    weights = np.arange(1.0, 7.0, dtype=np.float32)
    for xb, yb in DataLoader(TensorDataset(x, np.arange(6)), batch_size=4):
        (xb.sum(-1) * ember.tensor(weights[yb.numpy()])).sum().backward()
    assert x.grad.tolist() == [[w, w] for w in weights.tolist()]
    x.grad = None
    train, _ = random_split(TensorDataset(x), [4, 2], generator=0)
    (row,) = train[0]
    row.sum().backward()
    assert x.grad.numpy().sum() == 2.0 and TensorDataset(x).tensors[0] is x


def test_prefetch_thread_reads_the_dataset_in_the_grad_mode_of_the_loop():
    # the thread always recorded: under no_grad a TensorDataset of a Tensor that requires grad gave batches attached
    # to it, so a backward from them later filled its .grad (PyTorch's loader reads in the calling thread's mode)
    x = ember.ones(4, 2, requires_grad=True)
    with ember.no_grad():
        batches = [xb for (xb,) in DataLoader(TensorDataset(x), batch_size=2)]
    with ember.inference_mode():
        batches += [xb for (xb,) in DataLoader(TensorDataset(x), batch_size=2)]
    assert not any(xb.requires_grad for xb in batches)
    assert all(xb.requires_grad for (xb,) in DataLoader(TensorDataset(x), batch_size=2))
    assert ember.is_grad_enabled()


def test_datasets_samplers_and_loaders_take_a_type_parameter_as_torchs():
    # class Pairs(Dataset[tuple]) -- PyTorch's typed idiom -- failed: "type 'Dataset' is not subscriptable"
    class Pairs(Dataset[tuple]):
        def __getitem__(self, i):
            return i, i * i

        def __len__(self):
            return 4

    class Backwards(ember.data.Sampler[int]):
        def __iter__(self):
            return iter([3, 2, 1, 0])

        def __len__(self):
            return 4

    class Stream(IterableDataset[int]):
        def __iter__(self):
            return iter(range(3))

    loader: DataLoader[tuple] = DataLoader(Pairs(), batch_size=2, sampler=Backwards())
    assert [b[1].tolist() for b in loader] == [[9, 4], [1, 0]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=2)] == [[0, 1], [2]]
    assert Subset[int] is not None and ember.data.ConcatDataset[int] is not None


def test_a_dataset_s_random_draws_in_the_prefetch_thread_are_reproducible():
    # the prefetch thread drew from the global generator while the training loop drew from it too, in a different
    # interleaving each run (1 run of 5 equal to the first); the thread has a generator of its own, seeded from
    # the global one when the loader starts, as PyTorch's iterators draw their base seed
    class Augmented:
        def __len__(self):
            return 64

        def __getitem__(self, i):
            return float(ember.rand(1).item())

    def run():
        ember.manual_seed(0)
        seen = []
        for batch in DataLoader(Augmented(), batch_size=4, shuffle=True):
            seen.append(float(ember.rand(1).item()))  # the training thread's own draws
            seen.extend(batch.tolist())
        return seen

    first = run()
    assert all(run() == first for _ in range(4))


@pytest.mark.parametrize("batch", [
    [np.float32(1), 2.5], [np.float16(1), 2.5], [np.int32(1), 2.5], [np.int32(1), 2], [np.float32(1), 2],
    [np.float64(1), np.float32(2)], [np.float64(1), 2.5],
    [np.ones(2, np.float32), [1.0, 1.0]], [np.ones(2, np.int32), [1.5, 1.0]], [np.ones(2, np.float32), [1, 1]],
    [np.ones(2), [1.0, 1.0]], [np.ones(2, np.float32), [np.float64(1), 2.0]],
])
def test_default_collate_of_numpy_first_batches_takes_torch_as_tensor_dtypes(batch):
    # the first sample's type decides: a NumPy scalar or array goes through torch.as_tensor, which reads a Python
    # float beside it as the default float32 (NumPy would promote to float64)
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.default_collate(batch)
    ours = default_collate(batch)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "") and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_uint64_beyond_int64_is_refused_not_wrapped():
    # the cast to int64 wrapped them: 2**64 - 1 became -1 in a TensorDataset, a collated batch or a converted sample
    big = np.array([2**64 - 1, 3], np.uint64)
    for make in (TensorDataset, lambda a: default_collate([a]), ember.data.default_convert,
                 lambda a: default_collate(list(a))):
        with pytest.raises(ValueError, match="uint64 values up to 18446744073709551615 do not fit in int64"):
            make(big)
    assert default_collate([np.array([2**63 - 1], np.uint64)]).tolist() == [[2**63 - 1]]


def test_default_collate_of_python_floats_takes_the_default_float_dtype():
    # they were float32 whatever set_default_dtype said, so under float64 (PyTorch's batch dtype for them) 0.1 was
    # rounded to 0.10000000149
    torch = pytest.importorskip("torch")
    batches = [[0.1, 2], [(1, 0.1), (2, 0.3)], [np.float32(1), 0.1], [np.ones(2, np.float32), [0.1, 1.0]]]
    ember_default, torch_default = ember.get_default_dtype(), torch.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for batch in batches:
            ours, theirs = default_collate(batch), torch.utils.data.default_collate(batch)
            for a, b in zip(*((ours, theirs) if isinstance(ours, list) else ([ours], [theirs]))):
                assert str(a.dtype) == str(b.dtype).replace("torch.", "")
                np.testing.assert_array_equal(a.numpy(), b.numpy())
    finally:
        ember.set_default_dtype(ember_default)
        torch.set_default_dtype(torch_default)
    assert default_collate([0.1, 2]).dtype == np.float32


@pytest.mark.parametrize("n, lengths", [
    (5, [1, 0]), (1, [1]), (2, [1.0]), (10, [0.6, 0.4]), (10, [0.1] * 10), (7, [0.5, 0.5, 0]), (5, [0.3, 0.3, 0.4]),
    (103, [0.7, 0.2, 0.1]), (5, [1.5, -0.5]), (5, [0.5, 0.4]), (5, [3, 2]), (5, [True, False]),
])
def test_random_split_reads_lengths_summing_to_1_as_fractions_as_torch(n, lengths):
    # PyTorch's rule: a sum close to 1 and not above it means fractions, whole numbers included; the remainder goes
    # round-robin from the first split, and each empty split warns
    torch = pytest.importorskip("torch")
    import re
    import warnings

    def outcome(split):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                sizes = [len(p) for p in split(range(n), lengths)]
            except ValueError:
                return "ValueError", []
        return sizes, [re.search(r"index (\d+)", str(c.message)).group(1) for c in caught]

    assert outcome(random_split) == outcome(torch.utils.data.random_split)
    if lengths == [1.5, -0.5]:
        with pytest.raises(ValueError, match="random_split: the fraction at index 0 is 1.5, not between 0 and 1"):
            random_split(range(n), lengths)


def test_collate_with_a_map_of_leaf_types_collates_containers_as_pytorch():
    # PyTorch's documented extension point: the import path was missing, and a map without the container
    # types refused tuples and dicts ("no rule for samples of type tuple")
    from ember.utils.data._utils.collate import collate, default_collate, default_collate_fn_map

    def doubled(batch, *, collate_fn_map):
        return ember.stack(batch, 0) * 2

    batch = [(ember.ones(2), {"a": ember.zeros(1)}), (ember.ones(2), {"a": ember.ones(1)})]
    pair = collate(batch, collate_fn_map={ember.Tensor: doubled})
    np.testing.assert_array_equal(pair[0].numpy(), np.full((2, 2), 2.0))
    np.testing.assert_array_equal(pair[1]["a"].numpy(), [[0.0], [2.0]])

    class Point:
        def __init__(self, v):
            self.v = v

    default_collate_fn_map[Point] = lambda batch, *, collate_fn_map: sum(p.v for p in batch)
    try:
        assert default_collate([(Point(1), 1.0), (Point(2), 2.0)])[0] == 3
    finally:
        del default_collate_fn_map[Point]
    with pytest.raises(TypeError, match="no rule for samples of type Point"):
        default_collate([Point(1)])

"""IdIndex.find's widened probing rounds against a probe-at-a-time walk of the same table."""

import numpy as np

from ember.embedding.index import EMPTY, IdIndex, _probe_start, next_prime


def _walk(index: IdIndex, key: int) -> tuple[int, int]:
    """(row or -1, probes taken) for one key, one slot at a time: the definition find must match."""
    pos, step = _probe_start(np.array([key], np.int64), index.capacity)
    p, s, probes = int(pos[0]), int(step[0]), 1
    while True:
        row = int(index.slots[p])
        if row == EMPTY:
            return -1, probes
        if row >= 0 and int(index.key_of_row[row]) == key:
            return row, probes
        p, probes = (p + s) % index.capacity, probes + 1


def _full_index(capacity: int, n: int, seed: int) -> tuple[IdIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(-2**63, 2**63 - 1, 2 * n, dtype=np.int64))[:n]
    rng.shuffle(keys)
    index = IdIndex(capacity=capacity)
    for part in np.array_split(keys, 5):  # several inserts, no rebuild: up to the 0.85 load factor
        index.add(part, np.flatnonzero(np.isin(keys, part)))
    assert index.capacity == next_prime(capacity)
    return index, keys


def test_find_matches_a_probe_at_a_time_walk_through_long_chains():
    index, keys = _full_index(1 << 12, 3270, seed=0)  # load 0.798
    index.remove(keys[::3])  # DELETED markers inside the chains
    rng = np.random.default_rng(1)
    query = np.concatenate([keys, rng.integers(-2**63, 2**63 - 1, 3000, dtype=np.int64), keys[:50], keys[::3][:50],
                            np.array([-1, -2, 0, 1, -2**63, 2**63 - 1], np.int64)])
    rng.shuffle(query)
    walked = [_walk(index, int(k)) for k in query]
    assert max(probes for _, probes in walked) > 16  # the rounds of 1, 1, 2, 4 and 8 probes all ran out
    assert index.find(query).tolist() == [row for row, _ in walked]
    expected = [-1 if i % 3 == 0 else i for i in range(keys.size)]
    assert index.find(keys).tolist() == expected
    assert index.find(keys.reshape(-1, 10)).tolist() == np.reshape(expected, (-1, 10)).tolist()


def test_find_in_a_tiny_table_whose_windows_wrap_around():
    index = IdIndex(capacity=16)
    keys = np.arange(-6, 6, dtype=np.int64)  # 12 of 16 slots
    index.add(keys, np.arange(12))
    index.remove(keys[1:])  # one key left among 11 DELETED markers and 4 EMPTY slots
    query = np.concatenate([keys, np.arange(100, 400, dtype=np.int64)])
    walked = [_walk(index, int(k)) for k in query]
    assert index.find(query).tolist() == [row for row, _ in walked]
    assert index.find(query).tolist()[:12] == [0] + [-1] * 11


def test_find_with_int64_slots_gives_the_same_rows():
    index, keys = _full_index(1 << 10, 800, seed=2)
    query = np.concatenate([keys, np.arange(-500, 500, dtype=np.int64)])
    before = index.find(query)
    index.slots = index.slots.astype(np.int64)  # the layout past 2**31 rows, without 16 GiB of keys
    after = index.find(query)
    assert after.dtype == np.int64 and after.tolist() == before.tolist()
    assert after[: keys.size].tolist() == list(range(keys.size))


def test_find_of_nothing_and_of_an_empty_index():
    index = IdIndex()
    assert index.find(np.array([3, -3])).tolist() == [-1, -1]
    index.add(np.array([3]), np.array([0]))
    out = index.find(np.zeros((0, 4), np.int64))
    assert out.shape == (0, 4) and out.dtype == np.int64


def test_segment_sum_of_permutations_few_repeats_and_any_row_shape():
    from ember.embedding.segments import segment_sum

    rng = np.random.default_rng(3)
    for inverse, row_shape in [(rng.permutation(500), (4,)), (np.r_[rng.permutation(300), [7, 7, 299]], (2, 3)),
                               (np.r_[rng.permutation(50), [0, 1, 0]], ())]:
        m = int(inverse.max()) + 1
        values = rng.integers(-8, 8, (inverse.size,) + row_shape).astype(np.float32)  # exact sums in any order
        expected = np.zeros((m,) + row_shape, np.float32)
        np.add.at(expected, inverse, values)
        np.testing.assert_array_equal(segment_sum(values, inverse, m), expected)
        strided = np.stack([values, values], 1)[:, 1]
        assert not strided.flags.c_contiguous
        np.testing.assert_array_equal(segment_sum(strided, inverse, m), expected)

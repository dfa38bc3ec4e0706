"""Admission policies: which unseen ids get a row. An id kept out reads the default row and is not updated.

A policy has ``admit(keys, counts) -> bool mask`` (the unique absent keys of a training batch and how
often each occurs in it; a policy with ``takes_step = True`` also gets ``step=``, the table's optimizer step),
``state_dict()`` and ``load_state_dict()``; its state goes into the table's
checkpoints, so a restored run admits exactly as the original would have.
"""

from __future__ import annotations

import numpy as np

from ember.embedding.hashing import mix64
from ember.embedding.index import IdIndex


def _check_int(owner: str, name: str, value, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{owner}: {name} must be an int >= {low}, got {value!r}")
    return int(value)


class CountThreshold:
    """Admit an id once it has been looked up ``threshold`` times in training (DeepRec's counter filter).

    Counts are exact: one entry per id seen but not yet admitted (dropped when it is admitted).

    >>> emb = ember.embedding.HashEmbedding(8, admission=CountThreshold(3))
    """

    def __init__(self, threshold: int):
        self.threshold = _check_int("CountThreshold", "threshold", threshold, 1)
        self._clear()

    def _clear(self) -> None:
        self.index = IdIndex()
        self.counts = np.zeros(0, np.int64)
        self.free = np.zeros(0, np.int64)
        self.top = 0

    def __len__(self) -> int:
        return len(self.index)

    def admit(self, keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
        slots = self.index.find(keys)
        new = slots < 0
        if new.any():
            slots[new] = self._add(keys[new])
        totals = self.counts[slots] + counts
        self.counts[slots] = totals
        admitted = totals >= self.threshold
        if admitted.any():
            self.index.remove(keys[admitted])
            self.free = np.concatenate([self.free, slots[admitted]])
        return admitted

    def _add(self, keys: np.ndarray) -> np.ndarray:
        n = keys.size
        reused = self.free[max(self.free.size - n, 0):]
        self.free = self.free[: self.free.size - reused.size]
        slots = np.concatenate([reused, np.arange(self.top, self.top + n - reused.size)])
        self.top += n - reused.size
        if self.top > self.counts.size:
            self.counts = np.concatenate([self.counts, np.zeros(max(self.top, self.counts.size), np.int64)])
        self.counts[slots] = 0
        self.index.add(keys, slots)
        return slots

    def state_dict(self) -> dict:
        rows = self.index.rows()
        rows.sort()
        return {"keys": self.index.key_of_row[rows], "counts": self.counts[rows]}

    def load_state_dict(self, state: dict) -> None:
        self._clear()
        keys = np.asarray(state["keys"], np.int64)
        slots = self._add(keys)  # first: it may grow self.counts
        self.counts[slots] = np.asarray(state["counts"], np.int64)

    def __repr__(self) -> str:
        return f"CountThreshold({self.threshold})"


class CountingBloomFilter:
    """Admit an id once a counting Bloom filter estimates ``threshold`` lookups of it: fixed memory
    (``num_counters`` uint32 counters), at the cost of occasionally admitting an id early when its
    ``num_hashes`` counters are shared with frequent ids. Estimates never fall short of the true count.

    >>> emb = ember.embedding.HashEmbedding(8, admission=CountingBloomFilter(3, num_counters=1 << 20))
    """

    def __init__(self, threshold: int, num_counters: int = 1 << 22, num_hashes: int = 3, seed: int = 0):
        self.threshold = _check_int("CountingBloomFilter", "threshold", threshold, 1)
        self.num_counters = _check_int("CountingBloomFilter", "num_counters", num_counters, 1)
        self.num_hashes = _check_int("CountingBloomFilter", "num_hashes", num_hashes, 1)
        self.seed = int(seed)
        self.counters = np.zeros(self.num_counters, np.uint32)

    def _positions(self, keys: np.ndarray) -> np.ndarray:
        salts = mix64(np.arange(1, self.num_hashes + 1, dtype=np.uint64) + np.uint64(self.seed & (2**63 - 1)))
        h = mix64(keys.view(np.uint64)[:, None] ^ salts[None, :])
        return (h % np.uint64(self.num_counters)).astype(np.int64)

    def estimate(self, keys: np.ndarray) -> np.ndarray:
        """The filter's count for each key (at least its true count)."""
        keys = np.ascontiguousarray(keys, np.int64)
        return self.counters[self._positions(keys)].min(axis=1)

    def admit(self, keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
        positions = self._positions(np.ascontiguousarray(keys, np.int64))
        added = np.broadcast_to(counts.astype(np.uint32)[:, None], positions.shape)
        np.add.at(self.counters, positions.reshape(-1), added.reshape(-1))
        return self.counters[positions].min(axis=1) >= self.threshold

    def state_dict(self) -> dict:
        return {"counters": self.counters.copy()}

    def load_state_dict(self, state: dict) -> None:
        counters = np.asarray(state["counters"], np.uint32)
        if counters.shape != (self.num_counters,):
            raise ValueError(f"CountingBloomFilter.load_state_dict: {counters.size} counters in the state, "
                             f"{self.num_counters} in the filter")
        self.counters = counters.copy()

    def __repr__(self) -> str:
        seed = f", seed={self.seed}" if self.seed else ""
        return (f"CountingBloomFilter({self.threshold}, num_counters={self.num_counters}, "
                f"num_hashes={self.num_hashes}{seed})")


class Probability:
    """Admit each lookup of an unseen id with probability ``p``, independently (an id looked up k times in a
    batch gets in with probability ``1 - (1 - p)**k``).

    A draw is a counter-based hash of (``seed``, id, the table's optimizer step, the id's lookups earlier in that
    step) mapped to [0, 1), not a generator's next number: it does not depend on which other ids a table (or a
    shard of a sharded or parameter-server table) sees, so a sharded table admits the ids one table would, and a
    restored run the ids the original would. ``seed=None`` picks one at random (distributed tables adopt rank 0's).

    >>> emb = ember.embedding.HashEmbedding(8, admission=Probability(0.1, seed=0))
    """

    takes_step = True  # the table passes its optimizer step to admit()

    def __init__(self, p: float, seed: int | None = None):
        if not 0 < p <= 1:
            raise ValueError(f"Probability: p must be in (0, 1], got {p!r}")
        self.p = float(p)
        self.seed_given = seed is not None
        self.seed = int(np.random.default_rng().integers(2**63)) if seed is None else int(seed)
        self._clear_step(-1)

    def _clear_step(self, step: int) -> None:
        # ids drawn for and kept out earlier in ``step``, sorted, with how many lookups those draws stood for: a
        # later lookup of the step draws anew for its own lookups
        self.step = step
        self.drawn_keys = np.zeros(0, np.int64)
        self.drawn_counts = np.zeros(0, np.int64)

    def draws(self, keys: np.ndarray, step: int, earlier: np.ndarray) -> np.ndarray:
        """The uniform [0, 1) draw of each key for its lookups after ``earlier`` ones in ``step``."""
        salt = mix64(np.array([self.seed & (2**64 - 1)], np.uint64))[0]
        h = mix64(np.ascontiguousarray(keys, np.int64).view(np.uint64) ^ salt)
        h = mix64(h + np.uint64((step * 0xD1B54A32D192ED03) & (2**64 - 1)))
        h = mix64(h ^ earlier.astype(np.uint64) * np.uint64(0x8CB92BA72F3D8DD7))
        return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def admit(self, keys: np.ndarray, counts: np.ndarray, step: int = 0) -> np.ndarray:
        if step != self.step:
            self._clear_step(step)
        earlier = np.zeros(keys.size, np.int64)
        if self.drawn_keys.size:
            at = np.minimum(np.searchsorted(self.drawn_keys, keys), self.drawn_keys.size - 1)
            seen = self.drawn_keys[at] == keys
            earlier[seen] = self.drawn_counts[at[seen]]
        chance = 1.0 - (1.0 - self.p) ** counts.astype(np.float64)
        admitted = self.draws(keys, step, earlier) < chance
        out = ~admitted
        if out.any():
            again = out & (earlier > 0)  # kept out earlier in the step too: their counts grow
            if again.any():
                at = np.searchsorted(self.drawn_keys, keys[again])
                self.drawn_counts[at] += counts[again]
            first = out & (earlier == 0)
            if first.any():
                merged = np.concatenate([self.drawn_keys, keys[first]])
                order = np.argsort(merged, kind="stable")
                self.drawn_keys = merged[order]
                self.drawn_counts = np.concatenate([self.drawn_counts, counts[first].astype(np.int64)])[order]
        return admitted

    def state_dict(self) -> dict:
        return {"seed": self.seed, "step": self.step, "drawn_keys": self.drawn_keys.copy(),
                "drawn_counts": self.drawn_counts.copy()}

    def load_state_dict(self, state: dict) -> None:
        if "seed" not in state:  # a checkpoint of the generator-based policy: its draws cannot be replayed
            self._clear_step(-1)
            return
        self.seed = int(state["seed"])
        self._clear_step(int(state["step"]))
        self.drawn_keys = np.asarray(state["drawn_keys"], np.int64).copy()
        self.drawn_counts = np.asarray(state["drawn_counts"], np.int64).copy()

    def __repr__(self) -> str:
        return f"Probability({self.p}, seed={self.seed})"

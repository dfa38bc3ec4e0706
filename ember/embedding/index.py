"""IdIndex: int64 key -> row number, an open-addressing hash table probed with NumPy, whole batches at once.

Layout: a column of keys by row (``key_of_row``) and an array of slots, each holding a row number, EMPTY or
DELETED. The slot count is a prime, sized for the rows (not rounded up to a power of two, which can nearly
double the slots). A key's 64-bit hash gives its home slot (the high half, by multiply-shift range
reduction) and its probe step (the low half, in ``[1, size)``, coprime with the prime size), and its chain
is double hashing, ``(home + i * step) mod size``: chains stay short on average up to the 0.8 load factor
a small table grows at, and the 0.9 of a large one. Each probing round handles every still-unresolved key
of the batch with a few array operations, never a Python step per key. The slowest chain of a large batch
is long all the same, so a lookup widens its rounds: one probe, one more, then the next 2, 4, 8... probes
of each remaining key at once. Slots are int32 while rows fit (4 bytes a slot).

Deleting leaves a DELETED marker (lookups probe past it); the table rebuilds when markers and live slots
together pass the load factor. Keys are stored once, by row: 8 bytes a row plus, in a large table, 4.4 to
5.6 for the slots. While every row below the highest is live (no evictions), a rebuild re-places the keys
from ``key_of_row`` after dropping the old slots, so growing never holds two slot arrays.
"""

from __future__ import annotations

import math

import numpy as np

from ember.embedding.hashing import mix64

EMPTY = -1
DELETED = -2
# A small table (up to _LARGE rows) keeps its loads low and grows 2x: its slots take little memory and
# short chains keep lookups fast. A large one rebuilds when live slots and DELETED markers pass 0.9 of the
# slots, to a load of 0.72 (1.25x growth): 4.4 to 5.6 bytes of slots a row (4.9 on average over sizes),
# where doubling at 0.8 costs 5 to 10 (6.9 on average); the price is about 4 re-placements of every key
# over the growth, where doubling takes 1.
_LARGE = 1 << 22
_MAX_LOAD = {False: 0.8, True: 0.9}  # by "is large"
_GROWN_LOAD = {False: 0.4, True: 0.72}
_REBUILD_BLOCK = 1 << 20  # keys re-placed per round of a rebuild (about 40 bytes of temporaries each)
_HALF = np.uint64(32)
_LOW = np.uint64(0xFFFFFFFF)


def _primes_upto(n: int) -> np.ndarray:
    sieve = np.ones(n + 1, bool)
    sieve[:2] = False
    for p in range(2, math.isqrt(n) + 1):
        if sieve[p]:
            sieve[p * p :: p] = False
    return np.flatnonzero(sieve)


def next_prime(n: int) -> int:
    """The smallest prime >= ``n``: a window of candidates sieved by the primes up to its square root."""
    lo = max(int(n), 2)
    while True:
        hi = lo + 4096
        candidate = np.ones(hi - lo, bool)
        for p in _primes_upto(math.isqrt(hi)).tolist():
            first = max(p * p, -(-lo // p) * p)
            candidate[first - lo :: p] = False
        found = np.flatnonzero(candidate)
        if found.size:
            return lo + int(found[0])
        lo = hi


def _probe_step(h: np.ndarray, size: int) -> np.ndarray:
    """The probe step of hashes ``h``: in ``[1, size)``, so a chain visits every slot of the prime-sized table."""
    low = h & _LOW
    if size <= 1 << 32:  # else the low half itself: 2**32 distinct steps, each below the size
        low *= np.uint64(size - 1)
        low >>= _HALF
    low += np.uint64(1)
    return low.view(np.int64)


def _home(h: np.ndarray, size: int) -> np.ndarray:
    """The home slot of hashes ``h``, from their high half: ``(h >> 32) * size >> 32``, no division."""
    if size > 1 << 32:
        return (h % np.uint64(size)).view(np.int64)
    home = h >> _HALF
    home *= np.uint64(size)
    home >>= _HALF
    return home.view(np.int64)


def _probe_start(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    h = mix64(keys.view(np.uint64))
    return _home(h, size), _probe_step(h, size)


def _advance(pos: np.ndarray, step: np.ndarray, size: int) -> np.ndarray:
    """``(pos + step) mod size`` for ``pos``, ``step`` in ``[0, size)``, branch-free: as unsigned numbers
    ``pos + step - size`` wraps past ``pos + step`` exactly when it is negative, so the minimum is the sum
    reduced (several times faster than a masked subtraction)."""
    total = (pos + step).view(np.uint64)
    np.minimum(total, total - np.uint64(size), out=total)
    return total.view(np.int64)


class IdIndex:
    """A growable map from int64 keys to int64 rows, vectorized over batches of keys.

    >>> index = IdIndex()
    >>> index.add(np.array([7, -3]), np.array([0, 1]))
    >>> index.find(np.array([-3, 5, 7])).tolist()
    [1, -1, 0]
    """

    def __init__(self, capacity: int = 1024):
        self.key_of_row = np.zeros(0, np.int64)
        self.top = 0  # one past the highest row added: rows [0, top) are all live while live == top
        self.live = 0
        self._reset_slots(max(int(capacity), 16))

    def _reset_slots(self, capacity: int, top: int | None = None) -> None:
        """Fresh slots, all EMPTY: the smallest prime count >= ``capacity``, wide enough for rows below ``top``."""
        self.slots = None  # the old slots go before the new ones come
        dtype = np.int32 if (self.top if top is None else top) < 2**31 - 2 else np.int64
        self.slots = np.full(next_prime(max(capacity, 16)), EMPTY, dtype)
        self.used = 0  # live slots plus DELETED markers

    def __len__(self) -> int:
        return self.live

    @property
    def capacity(self) -> int:
        """The number of slots."""
        return self.slots.size

    @property
    def nbytes(self) -> int:
        return self.slots.nbytes + self.key_of_row.nbytes

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Rows of ``keys`` (int64, any shape), -1 where a key is absent."""
        keys = np.ascontiguousarray(keys, np.int64)
        flat = keys.reshape(-1)
        if self.live == 0 or flat.size == 0:
            return np.full(keys.shape, -1, np.int64)
        slots, key_of_row, size = self.slots, self.key_of_row, self.slots.size
        h = mix64(flat.view(np.uint64))
        pos = _home(h, size)
        # first probe of every key; most keys end here (found, or an EMPTY home slot)
        found = slots.take(pos)
        # EMPTY and DELETED (-1, -2) read key_of_row's last entries; found >= 0 masks them out
        hit = key_of_row.take(found) == flat
        hit &= found >= 0
        rows = found.astype(np.int64)
        rows += 1
        rows *= hit
        rows -= 1  # found where hit, else -1: branch-free
        going = found != EMPTY
        going ^= hit  # not found yet, and the chain goes on past another key or a deleted one
        active = np.flatnonzero(going)  # batch positions of the unresolved keys
        if not active.size:
            return rows.reshape(keys.shape)
        step = _probe_step(h.take(active), size)
        pos, wanted = pos.take(active), flat.take(active)
        width = 1
        while True:
            # the next ``width`` probes of each unresolved key at once, one row per probe: the chains'
            # long tail (about 15 probes for the slowest of 10k keys at load 0.6) then costs a few rounds
            if width == 1:
                probes = _advance(pos, step, size)[None]
            else:  # i * step < 2**63 for any width a lookup reaches
                probes = np.arange(1, width + 1, dtype=np.int64)[:, None] * step
                probes += pos
                probes %= size
            found = slots.take(probes)
            hit = key_of_row.take(found) == wanted
            hit &= found >= 0
            # a present key sits before the first EMPTY of its chain (inserts fill EMPTY slots only,
            # deletes leave DELETED): a hit anywhere in the window is the key's slot
            at = np.flatnonzero(hit)
            if at.size:
                rows[active.take(at % active.size)] = found.take(at)
            stop = found == EMPTY
            stop |= hit
            going = np.flatnonzero(~np.logical_or.reduce(stop, axis=0))
            if not going.size:
                return rows.reshape(keys.shape)
            active, wanted, step = active.take(going), wanted.take(going), step.take(going)
            pos = probes[-1].take(going)
            width *= 2

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Map ``keys`` (unique, none already present) to ``rows`` (none in use)."""
        keys = np.ascontiguousarray(keys, np.int64).reshape(-1)
        rows = np.ascontiguousarray(rows, np.int64).reshape(-1)
        if keys.size == 0:
            return
        top = max(self.top, int(rows.max()) + 1)
        if top > self.key_of_row.size:  # key_of_row must hold at least 2 entries for find's masked reads
            # pages of the doubled column are taken as rows are written: resident memory follows the rows
            grown = np.empty(max(top, 2 * self.key_of_row.size, 1024), np.int64)
            grown[: self.key_of_row.size] = self.key_of_row
            self.key_of_row = grown
        self.key_of_row[rows] = keys
        large = self.live + keys.size > _LARGE
        if self.used + keys.size > _MAX_LOAD[large] * self.capacity:
            self._rebuild(int((self.live + keys.size) / _GROWN_LOAD[large]) + 1, keys.size, top)
        elif top >= 2**31 - 2 and self.slots.dtype == np.int32:
            self._rebuild(self.capacity, keys.size, top)
        self.top = top  # after a rebuild: it re-places the rows below the old top, not the ones coming
        self._place(keys, rows)
        self.live += keys.size
        self.used += keys.size

    def _place(self, keys: np.ndarray, rows: np.ndarray) -> None:
        slots, size = self.slots, self.slots.size
        pos, step = _probe_start(keys, size)
        pending = rows.astype(slots.dtype)
        while pending.size:
            free = slots.take(pos) == EMPTY
            target, candidate = pos[free], pending[free]
            slots[target] = candidate  # keys aiming at one slot: one write wins, the others probe on
            free[free] = slots.take(target) == candidate  # now: placed
            going = ~free
            pending, step = pending[going], step[going]
            pos = _advance(pos[going], step, size)

    def remove(self, keys: np.ndarray) -> np.ndarray:
        """Delete ``keys`` (repeats and absent keys are ignored); returns the rows of the unique keys in
        ascending key order (-1: absent)."""
        keys = np.unique(np.asarray(keys, np.int64))
        rows = self.find(keys)
        present = rows >= 0
        if not present.any():
            return rows
        slots, size = self.slots, self.slots.size
        pos, step = _probe_start(keys[present], size)
        wanted_rows = rows[present]
        while wanted_rows.size:
            here = slots[pos].astype(np.int64) == wanted_rows
            slots[pos[here]] = DELETED
            going = ~here
            wanted_rows, step = wanted_rows[going], step[going]
            pos = _advance(pos[going], step, size)
        self.live -= int(present.sum())
        return rows

    def rows(self) -> np.ndarray:
        """The live rows, ascending."""
        if self.live == self.top:
            return np.arange(self.top, dtype=np.int64)
        present = np.zeros(self.top, bool)  # marked a block of slots at a time: no sort, small temporaries
        for lo in range(0, self.slots.size, _REBUILD_BLOCK):
            block = self.slots[lo : lo + _REBUILD_BLOCK]
            present[block[block >= 0]] = True
        return np.flatnonzero(present)

    def _rebuild(self, capacity: int, adding: int = 0, top: int | None = None) -> None:
        """New slots, at least ``capacity`` of them, holding the live keys (``adding`` more to come, with rows
        below ``top``), without DELETED markers."""
        capacity = max(capacity, int((self.live + adding) / _MAX_LOAD[True]) + 1)
        top = self.top if top is None else top
        if self.live == self.top:  # every row below top is live: its key is all a slot needs
            self._reset_slots(capacity, top)
            for lo in range(0, self.top, _REBUILD_BLOCK):
                hi = min(lo + _REBUILD_BLOCK, self.top)
                self._place(self.key_of_row[lo:hi], np.arange(lo, hi, dtype=np.int64))
        else:  # the live rows are known from the old slots: re-placed a block of them at a time
            old = self.slots
            self._reset_slots(capacity, top)
            for lo in range(0, old.size, _REBUILD_BLOCK):
                block = old[lo : lo + _REBUILD_BLOCK]
                live_rows = block[block >= 0].astype(np.int64)
                self._place(self.key_of_row[live_rows], live_rows)
        self.used = self.live

    def clear(self) -> None:
        """Forget every key."""
        self.key_of_row = np.zeros(0, np.int64)
        self.top = 0
        self.live = 0
        self._reset_slots(16)

"""IdIndex: int64 key -> row number, an open-addressing hash table probed with NumPy, whole batches at once.

Layout: a column of keys by row (``key_of_row``) and a power-of-two array of slots, each holding a row
number, EMPTY or DELETED. A key's probe sequence is double hashing, ``(h + i * step) & mask`` with an odd
step, so probe chains stay short on average at the 0.8 load factor the table grows at. Each probing round
handles every still-unresolved key of the batch with a few array operations, never a Python step per key.
The slowest chain of a large batch is long all the same (at load 0.6 a quarter of the keys need a second
probe, and about 15 probes resolve the last of 10k keys), so a lookup widens its rounds: one probe, one
more, then the next 2, 4, 8... probes of each remaining key at once. Slots are int32 while rows fit (4
bytes a slot).

Deleting leaves a DELETED marker (lookups probe past it); the table rebuilds when markers and live slots
together pass the load factor. Keys are stored once, by row: 8 bytes a row plus about 5 for the slots.
"""

from __future__ import annotations

import numpy as np

from ember.embedding.hashing import mix64

EMPTY = -1
DELETED = -2
_MAX_LOAD = 0.8
_REBUILD_BLOCK = 1 << 22  # old slots re-placed per round of a rebuild


def _probe_step(h: np.ndarray, mask: int) -> np.ndarray:
    """The probe step of hashes ``h``: odd, so a chain visits every slot of the power-of-two table."""
    return ((h >> np.uint64(40)) | np.uint64(1)).view(np.int64) & mask


def _probe_start(keys: np.ndarray, mask: int) -> tuple[np.ndarray, np.ndarray]:
    h = mix64(keys.view(np.uint64))
    return (h & np.uint64(mask)).view(np.int64), _probe_step(h, mask)


class IdIndex:
    """A growable map from int64 keys to int64 rows, vectorized over batches of keys.

    >>> index = IdIndex()
    >>> index.add(np.array([7, -3]), np.array([0, 1]))
    >>> index.find(np.array([-3, 5, 7])).tolist()
    [1, -1, 0]
    """

    def __init__(self, capacity: int = 1024):
        self.key_of_row = np.zeros(0, np.int64)
        self._reset_slots(max(int(capacity), 16))
        self.live = 0

    def _reset_slots(self, capacity: int) -> None:
        size = 1 << (max(capacity, 16) - 1).bit_length()
        dtype = np.int32 if self.key_of_row.size < 2**31 - 2 else np.int64
        self.slots = np.full(size, EMPTY, dtype)
        self.mask = size - 1
        self.used = 0  # live slots plus DELETED markers

    def __len__(self) -> int:
        return self.live

    @property
    def capacity(self) -> int:
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
        slots, key_of_row, mask = self.slots, self.key_of_row, self.mask
        h = mix64(flat.view(np.uint64))
        pos = (h & np.uint64(mask)).view(np.int64)
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
        step = _probe_step(h.take(active), mask)
        pos, wanted = pos.take(active), flat.take(active)
        width = 1
        while True:
            # the next ``width`` probes of each unresolved key at once, one row per probe: the chains'
            # long tail (about 15 probes for the slowest of 10k keys at load 0.6) then costs a few rounds
            probes = np.arange(1, width + 1, dtype=np.int64)[:, None] * step
            probes += pos
            probes &= mask
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
        """Map ``keys`` (unique, none already present) to ``rows``."""
        keys = np.ascontiguousarray(keys, np.int64).reshape(-1)
        rows = np.ascontiguousarray(rows, np.int64).reshape(-1)
        if keys.size == 0:
            return
        top = int(rows.max()) + 1
        if top > self.key_of_row.size:  # key_of_row must hold at least 2 entries for find's masked reads
            grown = np.empty(max(top, 2 * self.key_of_row.size, 1024), np.int64)
            grown[: self.key_of_row.size] = self.key_of_row
            self.key_of_row = grown
        self.key_of_row[rows] = keys
        if top >= 2**31 - 2 and self.slots.dtype == np.int32:
            self._rebuild(self.capacity)
        if self.used + keys.size > _MAX_LOAD * self.capacity:
            # the next power of two that holds the rows at the load factor: doubling, no extra headroom
            # (at 100M rows that is 2**27 slots, 512 MiB, where a 1.25x margin would round up to 1 GiB)
            self._rebuild(int((self.live + keys.size) / _MAX_LOAD) + 1)
        self._place(keys, rows)
        self.live += keys.size
        self.used += keys.size

    def _place(self, keys: np.ndarray, rows: np.ndarray) -> None:
        slots, mask = self.slots, self.mask
        pos, step = _probe_start(keys, mask)
        pending = rows.astype(slots.dtype)
        while pending.size:
            free = slots[pos] == EMPTY
            target = pos[free]
            slots[target] = pending[free]  # keys aiming at one slot: one write wins, the others probe on
            placed = free
            placed[free] = slots[target] == pending[free]
            going = ~placed
            pending, step = pending[going], step[going]
            pos = (pos[going] + step) & mask

    def remove(self, keys: np.ndarray) -> np.ndarray:
        """Delete ``keys`` (repeats and absent keys are ignored); returns the rows of the unique keys in
        ascending key order (-1: absent)."""
        keys = np.unique(np.asarray(keys, np.int64))
        rows = self.find(keys)
        present = rows >= 0
        if not present.any():
            return rows
        slots, mask = self.slots, self.mask
        pos, step = _probe_start(keys[present], mask)
        wanted_rows = rows[present]
        while wanted_rows.size:
            here = slots[pos].astype(np.int64) == wanted_rows
            slots[pos[here]] = DELETED
            going = ~here
            wanted_rows, step = wanted_rows[going], step[going]
            pos = (pos[going] + step) & mask
        self.live -= int(present.sum())
        return rows

    def rows(self) -> np.ndarray:
        """The live rows, in slot order."""
        slots = self.slots
        return slots[slots >= 0].astype(np.int64)

    def _rebuild(self, capacity: int) -> None:
        old = self.slots
        self._reset_slots(max(capacity, int(self.live / _MAX_LOAD) + 1))
        # re-placed a block of old slots at a time: the temporaries stay small beside the slot arrays
        for lo in range(0, old.size, _REBUILD_BLOCK):
            block = old[lo : lo + _REBUILD_BLOCK]
            live_rows = block[block >= 0].astype(np.int64)
            self._place(self.key_of_row[live_rows], live_rows)
        self.used = self.live

    def clear(self) -> None:
        """Forget every key."""
        self.key_of_row = np.zeros(0, np.int64)
        self._reset_slots(16)
        self.live = 0

"""HashTable: unbounded int64 keys -> rows of a chunked store, with optimizer slots and metadata per row.

The table is the state behind ``HashEmbedding``: an ``IdIndex`` (key -> row), the row pools (values,
optimizer slots, metadata, all at the same row number), the admission and eviction policies, and the
bookkeeping for checkpoints. Every public method holds the table's lock, so a snapshot taken while another
thread looks ids up sees keys, values, slots and metadata of one moment (DeepRec saved them at different
moments and restored NaNs, its issue 1023).

Metadata per row, each column kept only where something reads it (``metadata_columns``): ``freq``
(training lookups, saturating at 65535: enough to rank rows for eviction, 2 bytes a row) for the capacity
cap; ``last_step`` (4 bytes a row) for step-TTL eviction and incremental checkpoints. ``last_step`` is the
number of the optimizer step a row was last written for: every write (a training lookup, an update, an
admission, a restore without stored metadata) stamps ``step + 1``, the step in progress. A snapshot
records the table's ``step``, so the rows changed after it are exactly those stamped later than that step
(plus, harmlessly, rows touched between that step's update and the snapshot): no per-row version. A new
optimizer's first update resets every row's slots without stamping them; the delta after it holds every row.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ember.embedding.index import IdIndex
from ember.embedding.initializers import resolve
from ember.embedding.pool import ChunkLayout, RowPool
from ember.embedding.segments import Deduper, segment_sum
from ember.sparse import RowSparse
from ember.tensor import Tensor

_META = {"freq": np.uint16, "last_step": np.int32}  # 6 bytes a row with both columns
_FREQ_MAX = np.iinfo(np.uint16).max
_KEPT_SNAPSHOTS = 64  # snapshot steps remembered besides the stored base (deltas since older ones: an error)
_KEPT_SLOT_NAMES = 64  # (rule, hyper) probes remembered: a schedule of momentum or betas makes one a step
_STORAGE_DTYPES = ("float32", "bfloat16", "float16")


def claim_directory(directory: str):
    """Hold ``directory`` for one table's memory-mapped rows: an exclusive lock on a file in it, released when
    the returned handle is closed or collected. Two tables mapping the same files would overwrite each
    other's rows, so a directory another table holds (in this process or another) is a ValueError."""
    handle = open(os.path.join(directory, ".ember-table.lock"), "a+")  # held by the table, not scoped
    try:
        import fcntl
    except ImportError:  # no advisory locks here (Windows): the files' own sharing rules apply
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ValueError(f"HashEmbedding: storage_dir {directory!r} holds the rows of another table (in this "
                         "process or another); give each table a directory of its own") from None
    return handle


def metadata_columns(metadata, eviction: list, capacity: int | None) -> tuple[str, ...]:
    """The metadata columns a table keeps: ``metadata`` is "auto" (``last_step``, for step-TTL eviction and
    incremental checkpoints, plus ``freq`` where a capacity or a policy ranks rows by it), True (all),
    False (none) or the column names. Raises if the eviction policies or the capacity need a missing one."""
    needed = {name for policy in eviction for name in getattr(policy, "needs", _META)}  # undeclared: all
    if capacity is not None:
        needed |= {"freq", "last_step"}  # both capacity policies rank by both (one breaks the other's ties)
    if isinstance(metadata, str):
        if metadata != "auto":
            raise ValueError(f'HashEmbedding: metadata must be "auto", True, False or column names, got {metadata!r}')
        columns = {"last_step"} | needed
    elif isinstance(metadata, (bool, np.bool_)):
        columns = set(_META) if metadata else set()
    else:
        columns = set(metadata)
        unknown = columns - set(_META)
        if unknown:
            raise ValueError(f"HashEmbedding: unknown metadata columns {sorted(unknown)}; the columns are "
                             f"{sorted(_META)}")
    missing = needed - columns
    if missing:
        raise ValueError(f"HashEmbedding: the eviction policies or the capacity need the metadata columns "
                         f"{sorted(missing)}, but metadata={metadata!r} keeps {sorted(columns) or 'none'}")
    return tuple(name for name in _META if name in columns)


def _storage_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.name not in _STORAGE_DTYPES:
        raise TypeError(f"HashEmbedding: dtype must be one of {', '.join(_STORAGE_DTYPES)}, got {dtype}")
    return dtype


def _stored_meta(name: str, state: dict) -> np.ndarray:
    """A metadata column of a stored state, in this version's meaning."""
    stored = np.asarray(state[f"meta.{name}"])
    if name == "freq":  # checkpoints before the 16-bit counter held uint32 counts
        return np.minimum(stored, _FREQ_MAX)
    if "meta.version" in state:  # checkpoints with a version column stamped last_step with the step before
        return stored.astype(np.int64) + 1
    return stored


class HashTable:
    """Rows of ``dim`` numbers for unbounded int64 keys, created on first sight (see the module docstring)."""

    def __init__(self, dim: int, dtype=np.float32, initializer=None, seed: int | None = None, admission=None,
                 eviction=None, capacity: int | None = None, metadata="auto", default_value: float = 0.0,
                 capacity_policy: str = "lfu", evict_every: int = 1, first_chunk: int = 4096,
                 max_chunk: int = 1 << 20, storage_dir: str | None = None):
        from ember.random import generator

        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"HashEmbedding: embedding_dim must be a positive int, got {dim!r}")
        if capacity is not None and (not isinstance(capacity, (int, np.integer)) or capacity < 1):
            raise ValueError(f"HashEmbedding: capacity must be a positive int or None, got {capacity!r}")
        self.dim = int(dim)
        self.dtype = _storage_dtype(dtype)
        self.initializer = resolve(initializer)
        self.seed = int(generator().integers(2**63)) if seed is None else int(seed)
        self.seed_given = seed is not None  # a drawn seed: a distributed table adopts rank 0's
        if admission is not None and not callable(getattr(admission, "admit", None)):
            raise TypeError(f"HashEmbedding: admission must be a policy with admit(keys, counts) (CountThreshold, "
                            f"CountingBloomFilter, Probability) or None, got {admission!r}")
        self.admission = admission
        self.eviction = list(eviction) if isinstance(eviction, (list, tuple)) else ([eviction] if eviction else [])
        for policy in self.eviction:
            if not callable(getattr(policy, "select", None)):
                raise TypeError(f"HashEmbedding: eviction must be a policy with select(table) (StepTTL, L2Norm), "
                                f"a list of them or None, got {policy!r}")
        self.capacity = None if capacity is None else int(capacity)
        self.capacity_policy = capacity_policy
        if not isinstance(evict_every, (int, np.integer)) or evict_every < 1:
            raise ValueError(f"HashEmbedding: evict_every must be an int >= 1, got {evict_every!r}")
        self.evict_every = int(evict_every)
        self.default_value = float(default_value)
        self.lock = threading.RLock()
        self.layout = ChunkLayout(first_chunk, max_chunk)
        self.index = IdIndex()
        self.storage_dir = None if storage_dir is None else os.fspath(storage_dir)
        self._storage_claim = None
        if self.storage_dir is not None:
            os.makedirs(self.storage_dir, exist_ok=True)
            self._storage_claim = claim_directory(self.storage_dir)
        self.values = RowPool(self.layout, (self.dim,), self.dtype, path=self._file("values"))
        self.slots: dict[str, RowPool] = {}
        self.meta = {name: RowPool(self.layout, (), _META[name], path=self._file(f"meta.{name}"))
                     for name in metadata_columns(metadata, self.eviction, self.capacity)}
        self.top = 0  # rows [0, top) have been handed out at least once
        self.free = np.zeros(0, np.int64)  # rows given back by eviction, reused first
        self.step = 0  # optimizer updates applied
        self.generation = 1  # the number of the next snapshot
        self.saved_generation = 0  # the last snapshot known to be stored (the base of the next delta)
        self.snapshot_steps = {0: -1}  # snapshot number -> the table's step when it was taken (0: none yet)
        self.slots_reset = -1  # the stamp of the last reset of every row's slots (a new optimizer): deltas hold all
        self.deleted: list[tuple[int, np.ndarray]] = []  # (generation, keys) of evictions not yet saved
        self._slot_names: dict = {}  # (rule, hyper) -> slot names the rule keeps
        self.dedupe = Deduper()
        self._last_plan = None

    def __len__(self) -> int:
        return len(self.index)

    def _file(self, pool: str) -> str | None:
        """Where a pool's chunks live with ``storage_dir`` (None: in memory)."""
        return None if self.storage_dir is None else os.path.join(self.storage_dir, pool)

    def flush(self) -> None:
        """Write the rows held in memory-mapped files (``storage_dir``) back to them."""
        with self.lock:
            for pool in self._pools():
                pool.flush()

    def __getstate__(self) -> dict:
        with self.lock:  # copies and pickles see one moment; the lock itself is not copied
            state = dict(self.__dict__)
        del state["lock"]
        state["_storage_claim"] = None  # the directory stays this table's: the copy's rows are in memory
        state["storage_dir"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.lock = threading.RLock()

    # --- rows --------------------------------------------------------------------------------------------
    def _allocate(self, keys: np.ndarray) -> np.ndarray:
        """Rows for new ``keys`` (unique, absent), filled from the initializer, fresh slots and metadata."""
        n = keys.size
        reused = self.free[-n:] if n else self.free[:0]
        self.free = self.free[: self.free.size - reused.size]
        fresh = np.arange(self.top, self.top + n - reused.size, dtype=np.int64)
        rows = np.concatenate([reused[::-1], fresh])
        self.top += fresh.size
        if self.top > self.layout.capacity:
            self.layout.grow_to(self.top)
            for pool in self._pools():
                pool.sync()
        plan = self.layout.plan(rows)
        self.values.write(plan, self._initial(keys))
        for pool in self.slots.values():
            pool.reset(plan)
        if "freq" in self.meta:
            self.meta["freq"].reset(plan)
        if "last_step" in self.meta:
            self.meta["last_step"].write(plan, self.stamp)
        self.index.add(keys, rows)
        return rows

    def _initial(self, keys: np.ndarray) -> np.ndarray:
        rows = np.asarray(self.initializer(keys, self.dim, self.seed))
        if rows.shape != (keys.size, self.dim):
            raise ValueError(f"HashEmbedding: the initializer returned shape {list(rows.shape)} for "
                             f"{keys.size} keys, expected {[keys.size, self.dim]}")
        return rows

    @property
    def stamp(self) -> int:
        """What writes put in ``last_step``: the number of the optimizer step in progress."""
        return self.step + 1

    def _pools(self):
        yield self.values
        yield from self.slots.values()
        yield from self.meta.values()

    def lookup(self, keys: np.ndarray, train: bool, counts: np.ndarray | None = None) -> np.ndarray:
        """Rows of int64 ``keys`` (any shape). In training, absent keys that the admission policy lets in
        get new rows, and the lookups are counted in the rows' metadata; otherwise absent keys get -1.
        ``counts``: how many lookups each key stands for (a batch's distinct keys and their multiplicities),
        for admission and the counts; one each by default."""
        with self.lock:
            flat_counts = None if counts is None else np.asarray(counts, np.int64).reshape(-1)
            rows = self._find_or_add(keys.reshape(-1), train, flat_counts)
            if train and self.meta:
                unique, inverse = self.dedupe(rows, self.top)
                touched = np.bincount(inverse, flat_counts, minlength=unique.size)
                self._touch(unique, touched if flat_counts is None else touched.astype(np.int64))
            return rows.reshape(keys.shape)

    def lookup_unique(self, keys: np.ndarray, train: bool,
                      counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``lookup`` of 1-D ``keys`` as ``(unique rows, inverse)``: ``unique[inverse]`` are the rows. The
        distinct rows come chunk by chunk, so reading them and updating them touch slices of the batch."""
        with self.lock:
            flat_counts = None if counts is None else np.asarray(counts, np.int64).reshape(-1)
            rows = self._find_or_add(keys.reshape(-1), train, flat_counts)
            unique, inverse = self.by_chunk(*self.dedupe(rows, self.top))
            if train and self.meta:
                touched = np.bincount(inverse, flat_counts, minlength=unique.size)
                self._touch(unique, touched if flat_counts is None else touched.astype(np.int64))
            return unique, inverse

    def by_chunk(self, unique: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct rows ``unique`` and ``inverse`` (``unique[inverse]``: a batch's rows) reordered so that the
        rows come chunk by chunk; ``unique[inverse]`` stays the same."""
        order = self.layout.order(unique)
        if order is None:
            return unique, inverse
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return unique.take(order), rank.take(inverse)

    def _find_or_add(self, flat: np.ndarray, train: bool, lookups: np.ndarray | None = None) -> np.ndarray:
        rows = self.index.find(flat)
        if not train:
            return rows
        missing = rows < 0
        if missing.any():
            unseen, inverse, counts = np.unique(flat[missing], return_inverse=True, return_counts=True)
            if lookups is not None:  # each key stands for several lookups
                counts = np.bincount(inverse.reshape(-1), lookups[missing], minlength=unseen.size).astype(np.int64)
            if self.admission is None:
                admit = np.ones(unseen.size, bool)
            elif getattr(self.admission, "takes_step", False):  # draws keyed by the step (Probability)
                admit = self.admission.admit(unseen, counts, step=self.step)
            else:
                admit = self.admission.admit(unseen, counts)
            given = np.full(unseen.size, -1, np.int64)
            if admit.any():
                given[admit] = self._allocate(unseen[admit])
            rows[missing] = given[inverse.reshape(-1)]
        return rows

    def _touch(self, unique: np.ndarray, counts: np.ndarray) -> None:
        """Count ``counts`` training lookups of the distinct rows ``unique`` (-1 entries are skipped)."""
        valid = unique >= 0
        if not valid.all():
            unique, counts = unique[valid], counts[valid]
        if not unique.size:
            return
        plan = self.plan(unique)
        freq = self.meta.get("freq")
        if freq is not None:
            freq.write(plan, np.minimum(freq.read(plan) + counts.astype(np.int64), _FREQ_MAX))
        if "last_step" in self.meta:
            self.meta["last_step"].write(plan, self.stamp)

    def plan(self, rows: np.ndarray):
        """The chunk plan of ``rows``; the last one is kept, so the update after a lookup reuses it."""
        cached = self._last_plan
        if cached is not None and cached.rows is rows:
            return cached
        self._last_plan = plan = self.layout.plan(rows)
        return plan

    def read(self, rows: np.ndarray) -> np.ndarray:
        """float32 values of ``rows`` (1-D); rows -1 read the default value."""
        with self.lock:
            valid = rows >= 0
            if valid.all():
                return self.values.read(self.plan(rows)).astype(np.float32, copy=False)
            out = np.full((rows.size, self.dim), self.default_value, np.float32)
            out[valid] = self.values.read(self.layout.plan(rows[valid]))
            return out

    # --- optimizer updates ------------------------------------------------------------------------------
    def _slots_of(self, rule, hyper: dict) -> list[str]:
        """The per-row state ``rule`` keeps, found by running it once on a two-row probe with no gradient;
        the probe's state also gives each slot's value for new rows."""
        key = (rule, tuple(sorted((k, v) for k, v in hyper.items() if k != "lr")))
        names = self._slot_names.get(key)
        if names is None:
            probe: dict = {}
            param = np.zeros((2, self.dim), np.float32)
            empty = RowSparse(np.zeros(0, np.int64), Tensor._make(np.zeros((0, self.dim), np.float32), None),
                              param.shape)
            rule(param, empty, probe, **hyper)
            names = []
            for name, value in probe.items():
                if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == 2:
                    names.append(name)
                    if name not in self.slots:
                        self.slots[name] = RowPool(self.layout, value.shape[1:], value.dtype, fill=value[0],
                                                   path=self._file(f"slot.{name}"))
                        # rows that exist already (a slot a changed hyper-parameter adds: momentum turned on)
                        # start from the fill, not from the new chunks' uninitialized memory
                        self.slots[name].reset_all(self.top)
                    else:
                        self.slots[name].fill = np.asarray(value[0], self.slots[name].dtype)
            if len(self._slot_names) >= _KEPT_SLOT_NAMES:
                self._slot_names.clear()
            self._slot_names[key] = names
        return names

    def apply_update(self, rule, grad: RowSparse, state: dict, hyper: dict) -> None:
        """Apply a sparse optimizer rule (``ember.optim.functional.sparse_*``) to the rows ``grad`` touches.

        A ``row_local`` rule (``ember.ops.effects.update_rule``) on float32 rows runs on each chunk the rows
        touch, in place, as on a dense table; otherwise (and on an optimizer's first update, which starts its
        slots) the touched rows and their slots are gathered into compact arrays, the rule runs on those, and
        the results are written back. Both give the same bits. ``state`` (the optimizer's, for this table)
        keeps the rule's scalar state, such as its step count, and under ``"slots"`` the names of the slots
        the table keeps for it.
        """
        with self.lock:
            names = self._slots_of(rule, hyper)
            fresh = "slots" not in state
            if fresh:  # a new optimizer: its slots start over for every row, as a dense table's would
                for name in names:
                    self.slots[name].reset_all(self.top)
                if names:  # rows it does not touch change too: the next delta must carry every row
                    self.slots_reset = self.stamp
            rows, values = grad.indices, grad.values.array
            if not grad.distinct:  # one lookup's gradient has each row once; several lookups' may repeat
                unique, inverse = self.dedupe(rows, self.top)
                if unique.size < rows.size:
                    rows, values = unique, segment_sum(values, inverse, unique.size)
            plan = self.plan(rows)
            if not fresh and rows.size and getattr(rule, "row_local", False) and self.values.dtype == np.float32:
                self._update_in_place(rule, plan, values, state, names, hyper)
            else:
                self._update_compact(rule, plan, values, state, names, hyper, fresh)
            state["slots"] = list(names)
            if "last_step" in self.meta:
                self.meta["last_step"].write(plan, self.stamp)
            self.step += 1
            if (self.eviction or self.capacity is not None) and self.step % self.evict_every == 0:
                self.evict()

    def _update_compact(self, rule, plan, values, state: dict, names: list, hyper: dict, fresh: bool) -> None:
        """The rule on compact copies of the rows and their slots, written back after."""
        block = self.values.read(plan).astype(np.float32)
        local = RowSparse(np.arange(plan.rows.size), Tensor._make(values, None), block.shape, distinct=True)
        compact = {}
        if not fresh:  # else the rule creates its state as on its first call
            compact.update((k, v) for k, v in state.items() if k != "slots")
            compact.update((name, self.slots[name].read(plan)) for name in names)
        rule(block, local, compact, **hyper)
        self.values.write(plan, block)
        for name, value in compact.items():
            if name in names:
                self.slots[name].write(plan, value)
            else:
                state[name] = value

    def _update_in_place(self, rule, plan, values, state: dict, names: list, hyper: dict) -> None:
        """A ``row_local`` rule on each chunk's rows where they lie, once per chunk the rows touch: it gathers
        and writes back only what it reads and changes, with no compact copies."""
        scalars = {k: v for k, v in state.items() if k != "slots"}
        for c, where, local in plan.groups:
            part = dict(scalars)  # every chunk starts from the same scalar state (the rule's step count)
            part.update((name, self.slots[name].chunks[c]) for name in names)
            chunk_values = values if where is None else values[where]
            rule(self.values.chunks[c], RowSparse(local, Tensor._make(chunk_values, None),
                                                  self.values.chunks[c].shape, distinct=True), part, **hyper)
        state.update((k, v) for k, v in part.items() if k not in names)

    def all_finite(self) -> bool:
        """Whether every row in use holds only finite numbers (no NaN or infinity), a chunk at a time."""
        from ember.embedding.eviction import scan_rows

        with self.lock:
            bad = scan_rows(self, self.values, lambda v: ~np.isfinite(v.astype(np.float32, copy=False)).all(axis=1))
            return bad.size == 0

    # --- eviction ---------------------------------------------------------------------------------------
    def live_rows(self) -> np.ndarray:
        """Rows in use, ascending."""
        return self.index.rows()

    def evict(self) -> int:
        """Run the eviction policies (and the capacity cap); returns how many rows were removed."""
        with self.lock:
            doomed = [policy.select(self) for policy in self.eviction]
            rows = np.unique(np.concatenate(doomed)) if doomed else np.zeros(0, np.int64)
            if self.capacity is not None and len(self) - rows.size > self.capacity:
                from ember.embedding.eviction import over_capacity

                rows = np.union1d(rows, over_capacity(self, rows, len(self) - rows.size - self.capacity))
            self.remove_rows(rows)
            return int(rows.size)

    def remove_rows(self, rows: np.ndarray) -> None:
        """Delete the keys of ``rows``; the rows are reused by later keys."""
        rows = np.unique(rows)
        if not rows.size:
            return
        keys = self.index.key_of_row[rows]
        self.index.remove(keys)
        self.free = np.concatenate([self.free, rows])
        self.deleted.append((self.generation, keys))

    # --- checkpoints ------------------------------------------------------------------------------------
    def _rows_state(self, rows: np.ndarray) -> dict:
        plan = self.layout.plan(rows)
        state = {"keys": self.index.key_of_row[rows], "values": self.values.read(plan)}
        for name, pool in self.slots.items():
            state[f"slot.{name}"] = pool.read(plan)
            state[f"slot_fill.{name}"] = pool.fill.copy()
        for name, pool in self.meta.items():
            state[f"meta.{name}"] = pool.read(plan)
        return state

    def _scalars(self) -> dict:
        state = {"dim": self.dim, "dtype": self.dtype.name, "seed": self.seed, "step": self.step,
                 "generation": self.generation}  # the number of this snapshot
        if self.admission is not None:
            state["admission"] = self.admission.state_dict()
        return state

    def _snapshot(self, since: int | None) -> dict:
        with self.lock:
            rows = self.live_rows()
            state = self._scalars()
            if since is not None:
                if "last_step" not in self.meta:
                    raise RuntimeError("HashEmbedding: incremental checkpoints need the metadata column "
                                       "'last_step'; this table keeps "
                                       f"{sorted(self.meta) or 'none'} (construct it with metadata='auto')")
                if since not in self.snapshot_steps:
                    raise ValueError(f"HashEmbedding.delta_state_dict: no snapshot numbered {since} is known "
                                     f"to this table (known: {sorted(self.snapshot_steps)})")
                base_step = self.snapshot_steps[since]
                if getattr(self, "slots_reset", -1) <= base_step:  # (tables pickled before it: no reset known)
                    rows = rows[self.meta["last_step"].read(self.layout.plan(rows)) > base_step]
                state["delta"] = True
                state["base"] = int(since)
                gone = [keys for stamp, keys in self.deleted if stamp > since]
                state["deleted"] = np.concatenate(gone) if gone else np.zeros(0, np.int64)
            state.update(self._rows_state(rows))
            self._record_snapshot(self.generation, self.step)
            self.generation += 1
            return state

    def _record_snapshot(self, generation: int, step: int) -> None:
        """Remember the step of snapshot ``generation``: deltas since it hold the rows stamped later.
        Only the stored base and the most recent snapshots are kept (a few ints each)."""
        self.snapshot_steps[generation] = step
        if len(self.snapshot_steps) > _KEPT_SNAPSHOTS:
            for old in sorted(self.snapshot_steps)[: -_KEPT_SNAPSHOTS]:
                if old != self.saved_generation:
                    del self.snapshot_steps[old]

    def state_dict(self) -> dict:
        """Keys, values, slots, metadata and counters, copied under the lock (one consistent snapshot).

        ``"generation"`` numbers the snapshot, the base a later ``delta_state_dict`` names.
        """
        return self._snapshot(None)

    def delta_state_dict(self, since: int | None = None) -> dict:
        """Rows changed, and keys evicted, after the snapshot numbered ``since`` (default: the last one
        passed to ``mark_saved``), with the counters. Loading it on top of that snapshot gives this table."""
        return self._snapshot(self.saved_generation if since is None else int(since))

    def mark_saved(self, generation: int) -> None:
        """Record that the snapshot numbered ``generation`` is safely stored: the base of the next delta."""
        with self.lock:
            self.saved_generation = int(generation)
            self.deleted = [(stamp, keys) for stamp, keys in self.deleted if stamp > generation]
            self.snapshot_steps = {g: s for g, s in self.snapshot_steps.items() if g >= generation}

    def check_state(self, state: dict) -> None:
        """Raise the ValueError ``load_state_dict(state)`` would raise, changing nothing (a caller restoring
        several things checks them all before it writes any)."""
        with self.lock:
            if int(state["dim"]) != self.dim:
                raise ValueError(f"HashEmbedding.load_state_dict: the state has embedding_dim {state['dim']}, "
                                 f"this table {self.dim}")
            keys, values = np.asarray(state["keys"]), np.asarray(state["values"])
            if keys.ndim != 1 or values.shape != (keys.size, self.dim):
                raise ValueError(f"HashEmbedding.load_state_dict: values of shape {list(values.shape)} for "
                                 f"keys of shape {list(keys.shape)} and dim {self.dim}")
            if state.get("delta", False) and int(state["base"]) != self.saved_generation:
                raise ValueError(f"HashEmbedding.load_state_dict: this delta applies on top of snapshot "
                                 f"{state['base']}, but the table holds snapshot {self.saved_generation}")

    def load_state_dict(self, state: dict) -> None:
        """Restore from ``state_dict()`` (replacing everything) or apply a ``delta_state_dict()``."""
        with self.lock:
            self.check_state(state)
            keys = np.asarray(state["keys"], np.int64)
            values = np.asarray(state["values"])
            if not state.get("delta", False):
                self._clear()
            else:
                gone = self.index.find(np.asarray(state["deleted"], np.int64))
                self.remove_rows(gone[gone >= 0])
            for name in [k[len("slot_fill."):] for k in state if k.startswith("slot_fill.")]:
                fill = np.asarray(state[f"slot_fill.{name}"])
                if name not in self.slots:
                    self.slots[name] = RowPool(self.layout, fill.shape, fill.dtype, fill=fill,
                                               path=self._file(f"slot.{name}"))
                    self.slots[name].reset_all(self.top)
                self.slots[name].fill = fill.astype(self.slots[name].dtype)
            rows = self.index.find(keys)
            new = rows < 0
            if new.any():
                rows[new] = self._allocate(keys[new])
            plan = self.layout.plan(rows)
            self.values.write(plan, values)
            for name, pool in self.slots.items():
                if f"slot.{name}" in state:
                    pool.write(plan, np.asarray(state[f"slot.{name}"]))
            self.step = int(state["step"])
            for name, pool in self.meta.items():
                if f"meta.{name}" in state:
                    pool.write(plan, _stored_meta(name, state))
                elif name == "last_step":  # a state without it: the rows count as written now
                    pool.write(plan, self.stamp)
            self.seed = int(state["seed"])
            self.seed_given = True
            self.saved_generation = int(state["generation"])
            self.generation = self.saved_generation + 1
            self.snapshot_steps = {self.saved_generation: self.step}
            self.deleted = []
            if self.admission is not None and "admission" in state:
                self.admission.load_state_dict(state["admission"])

    def _clear(self) -> None:
        self.index.clear()
        self.layout.grow_to(0)
        self.top = 0
        self.free = np.zeros(0, np.int64)
        self.deleted = []
        self.slots_reset = -1

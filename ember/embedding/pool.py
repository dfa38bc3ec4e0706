"""Row storage in chunks: a table's values, optimizer slots and metadata, all indexed by one row number.

A ``ChunkLayout`` fixes which rows live in which chunk (sizes double from ``first_chunk`` up to
``max_chunk``, then stay there), and every ``RowPool`` of a table follows it, so a row's value, its slots
and its metadata sit at the same row number in their pools and move together. Growing appends a chunk:
rows never move and nothing is copied. Chunks come from ``np.empty``: the operating system hands out their
pages when rows are first written, so a large last chunk costs address space, not resident memory.

Reads and writes of a batch of rows go through a ``RowPlan`` (which chunk each row is in, rows grouped by
chunk), computed once per batch and shared by all pools: one ``take`` per chunk touched, no per-row loop.
"""

from __future__ import annotations

import numpy as np

from ember.backend.rows import put_rows


class ChunkLayout:
    """Chunk boundaries shared by the pools of one table."""

    def __init__(self, first_chunk: int = 4096, max_chunk: int = 1 << 20):
        if first_chunk < 1 or max_chunk < first_chunk:
            raise ValueError(f"ChunkLayout: need 1 <= first_chunk <= max_chunk, got {first_chunk}, {max_chunk}")
        self.first_chunk, self.max_chunk = int(first_chunk), int(max_chunk)
        self.starts = np.zeros(1, np.int64)  # starts[i]: first row of chunk i; starts[-1]: the capacity

    @property
    def capacity(self) -> int:
        return int(self.starts[-1])

    @property
    def num_chunks(self) -> int:
        return self.starts.size - 1

    def chunk_size(self, i: int) -> int:
        return int(self.starts[i + 1] - self.starts[i])

    def grow_to(self, rows: int) -> None:
        """Add chunks until ``rows`` rows fit."""
        sizes = list(np.diff(self.starts))
        while sum(sizes) < rows:
            sizes.append(min(self.first_chunk << len(sizes), self.max_chunk))
        self.starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])

    def chunk_of(self, rows: np.ndarray) -> np.ndarray:
        """The chunk of each of ``rows`` (each in ``[0, capacity)``): one lookup in a table of the chunk of each
        block of rows, the blocks the largest power of two that divides every chunk start (4096 rows by
        default); a binary search per row (``searchsorted``) costs about 8x more."""
        starts = self.starts
        cached = getattr(self, "_blocks", None)
        if cached is None or cached[0] is not starts:
            common = int(np.gcd.reduce(starts[1:])) if starts.size > 1 else 1
            shift = (common & -common).bit_length() - 1
            table = None
            if self.capacity >> shift <= 1 << 20:
                table = np.repeat(np.arange(self.num_chunks, dtype=np.int32), np.diff(starts) >> shift)
            self._blocks = cached = (starts, shift, table)
        _, shift, table = cached
        if table is None:
            return np.searchsorted(starts, rows, side="right") - 1
        return table.take(rows >> shift)

    def plan(self, rows: np.ndarray) -> RowPlan:
        """Where ``rows`` (1-D int64, each < capacity) lie, grouped by chunk."""
        return RowPlan(self, rows)

    def order(self, rows: np.ndarray) -> np.ndarray | None:
        """A stable permutation that lists ``rows`` chunk by chunk (None: they already are), so that their
        plan's groups are slices: reads and writes then need no per-chunk gather or scatter of the batch.
        Entries -1 (no row) may land anywhere."""
        if self.num_chunks <= 1 or rows.size < 2:
            return None
        chunk = self.chunk_of(rows)
        if (chunk[1:] >= chunk[:-1]).all():
            return None
        small = chunk.astype(np.uint16) if self.num_chunks <= 1 << 16 else chunk
        return np.argsort(small, kind="stable")  # 16-bit keys: NumPy's radix sort


class RowPlan:
    """A batch of rows split by chunk: ``groups`` of (chunk, positions in the batch, rows within the chunk).
    The positions are a slice when the batch lists its rows chunk by chunk (``ChunkLayout.order``)."""

    __slots__ = ("rows", "groups", "single")

    def __init__(self, layout: ChunkLayout, rows: np.ndarray):
        self.rows = rows
        starts = layout.starts
        if layout.num_chunks <= 1 or (rows.size and rows.max() < starts[1]):
            self.single = True  # the common small-table case: every row in chunk 0, no grouping needed
            self.groups = ((0, None, rows),)
            return
        self.single = False
        chunk = layout.chunk_of(rows)
        if (chunk[1:] >= chunk[:-1]).all():  # already grouped by chunk (a lookup's rows): slices of the batch
            bounds = np.searchsorted(chunk, np.arange(layout.num_chunks + 1)).tolist()
            self.groups = tuple((c, slice(lo, hi), rows[lo:hi] - starts[c])
                                for c, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])) if hi > lo)
            return
        small = chunk.astype(np.uint16) if layout.num_chunks <= 1 << 16 else chunk
        order = np.argsort(small, kind="stable")  # 16-bit keys: NumPy's radix sort, linear in the rows
        bounds = np.searchsorted(chunk[order], np.arange(layout.num_chunks + 1))
        groups = []
        for c in range(layout.num_chunks):
            lo, hi = bounds[c], bounds[c + 1]
            if hi > lo:
                where = order[lo:hi]
                groups.append((c, where, rows[where] - starts[c]))
        self.groups = tuple(groups)


class RowPool:
    """One column group of a table: rows of shape ``row_shape`` (``()`` for one number a row) in ``dtype``.

    >>> layout = ChunkLayout(first_chunk=4)
    >>> pool = RowPool(layout, (2,), np.float32)
    >>> layout.grow_to(10); pool.sync()
    >>> pool.write(layout.plan(np.array([9, 1])), np.array([[1, 2], [3, 4]], np.float32))
    >>> pool.read(layout.plan(np.array([1]))).tolist()
    [[3.0, 4.0]]
    """

    def __init__(self, layout: ChunkLayout, row_shape: tuple, dtype, fill=0, path: str | None = None):
        self.layout = layout
        self.row_shape = tuple(row_shape)
        self.dtype = np.dtype(dtype)
        self.fill = np.asarray(fill, self.dtype)  # what a new row holds (broadcast to row_shape)
        self.path = path  # chunks in memory-mapped files "<path>.<chunk>" instead of memory
        self.chunks: list[np.ndarray] = []
        self.sync()

    def sync(self) -> None:
        """Allocate the chunks the layout added since the last call."""
        for i in range(len(self.chunks), self.layout.num_chunks):
            shape = (self.layout.chunk_size(i),) + self.row_shape
            if self.path is None:
                self.chunks.append(np.empty(shape, self.dtype))
            else:  # a sparse file: disk blocks, like memory pages, are taken when rows are first written
                self.chunks.append(np.memmap(f"{self.path}.{i}", self.dtype, mode="w+", shape=shape))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if self.path is not None:  # a copy holds its rows in memory: new chunks of its own would reopen the
            state["path"] = None  # original's files, truncating the rows written there
            state["chunks"] = [np.array(chunk) for chunk in self.chunks]
        return state

    def flush(self) -> None:
        """Write memory-mapped chunks' dirty pages to their files (a no-op in memory)."""
        for chunk in self.chunks:
            if isinstance(chunk, np.memmap):
                chunk.flush()

    @property
    def nbytes(self) -> int:
        """Bytes allocated (resident only where rows have been written)."""
        return sum(c.nbytes for c in self.chunks)

    def read(self, plan: RowPlan) -> np.ndarray:
        """The rows of ``plan``, in its order (a new array)."""
        if not plan.rows.size:
            return np.empty((0,) + self.row_shape, self.dtype)
        if plan.single:
            out = np.take(self.chunks[0], plan.rows, axis=0)
            return out if self.path is None else out.view(np.ndarray)  # a memmap's take is a memmap: a plain array
        out = np.empty((plan.rows.size,) + self.row_shape, self.dtype)
        for c, where, local in plan.groups:
            if where.__class__ is slice:  # straight into place; "clip": the plan's rows are in range, and
                np.take(self.chunks[c], local, axis=0, out=out[where], mode="clip")  # "raise" buffers `out`
            else:
                put_rows(np, out, where, np.take(self.chunks[c], local, axis=0))
        return out

    def write(self, plan: RowPlan, values) -> None:
        """Store ``values`` (one per row of ``plan``, cast to the pool's dtype) at the plan's rows."""
        if not plan.rows.size:
            return
        values = np.asarray(values, self.dtype)
        broadcast = values.ndim < 1 + len(self.row_shape)
        if plan.single:
            if broadcast:
                self.chunks[0][plan.rows] = values
            else:
                put_rows(np, self.chunks[0], plan.rows, values)
            return
        for c, where, local in plan.groups:
            if broadcast:
                self.chunks[c][local] = values
            else:
                put_rows(np, self.chunks[c], local, values[where])

    def reset(self, plan: RowPlan) -> None:
        """Put the pool's fill value in the plan's rows (new rows)."""
        self.write(plan, self.fill)

    def reset_all(self, rows: int) -> None:
        """Put the fill value in rows ``[0, rows)``, a chunk at a time (no row index arrays)."""
        for i, chunk in enumerate(self.chunks):
            lo = int(self.layout.starts[i])
            if lo >= rows:
                break
            chunk[: min(chunk.shape[0], rows - lo)] = self.fill

    def to_array(self, rows: int) -> np.ndarray:
        """A contiguous copy of rows ``[0, rows)``."""
        out = np.empty((rows,) + self.row_shape, self.dtype)
        for i, chunk in enumerate(self.chunks):
            lo = int(self.layout.starts[i])
            if lo >= rows:
                break
            n = min(chunk.shape[0], rows - lo)
            out[lo : lo + n] = chunk[:n]
        return out

"""HashEmbedding and HashEmbeddingBag: embedding layers keyed by unbounded int64 ids or strings."""

from __future__ import annotations

import numpy as np

from ember import ops
from ember.autograd import building
from ember.embedding.hashing import as_keys
from ember.embedding.lookup import HashTableParameter, lookup
from ember.embedding.table import HashTable
from ember.nn.module import Module
from ember.tensor import Tensor

_BAG_MODES = ("sum", "mean")


def _refuse_graph(name: str, *values) -> None:
    if building() or any(getattr(v, "graph", None) is not None for v in values):
        raise TypeError(f"{name}: hash-table lookups read and grow a host-side table, which a traced graph "
                        "cannot hold; call it outside ember.jit")


class HashEmbedding(Module):
    """Rows of ``embedding_dim`` numbers for int64 ids of any value (or strings, hashed stably), created
    on first sight in training from ``initializer``.

    ``emb(ids)`` has shape ``ids.shape + (embedding_dim,)``; its gradient reaches the table as a row-sparse
    update of the looked-up rows (any ``ember.optim`` optimizer with a sparse rule: SGD, Adagrad,
    RowWiseAdagrad, SparseAdam, Ftrl). Rows are stored in ``dtype`` (float32, bfloat16 or float16) and
    computed in float32.

    - ``initializer``: None (truncated normal, std ``1/sqrt(dim)``), a number, or a callable
      ``(keys, dim, seed) -> (n, dim)``; new rows depend only on the key and ``seed``.
    - ``admission``: a policy from ``ember.embedding.admission``; ids it has not let in read
      ``default_value`` and get no update.
    - ``eviction``: a policy (or a list) from ``ember.embedding.eviction``, run after every
      ``evict_every``-th optimizer update and on ``evict()``.
    - ``capacity``: the most rows kept after an eviction run; beyond it the least frequently used rows
      go (``capacity_policy`` "lfu" or "lru").
    - ``metadata``: the per-row metadata kept. "auto" (the default): ``last_step`` (4 bytes a row, the
      step a row was last written for: step-TTL eviction and incremental checkpoints), plus ``freq``
      (2 bytes, training lookups) when a ``capacity`` ranks rows by it. True: both; False: none (no
      step-TTL, capacity or incremental checkpoints then); or a tuple of column names.
      ``chunk_rows`` is the largest chunk of row storage.
    - ``storage_dir``: keep rows, slots and metadata in memory-mapped files there (an SSD tier): the
      operating system's page cache holds the recently used rows in memory and leaves cold ones on disk;
      ids and the index stay in memory. ``flush()`` writes the files' dirty pages. A directory holds one
      table's files: one that another table holds (in this process or another) is a ValueError. A copy
      (``copy.deepcopy``, pickle) holds its rows in memory.
    - In evaluation mode (``emb.eval()``) unseen ids read ``default_value`` and nothing is inserted.

    >>> emb = ember.embedding.HashEmbedding(8, seed=0)
    >>> emb(np.array([[10**12, 3], [3, -7]])).shape
    (2, 2, 8)
    >>> len(emb)
    3
    """

    _owns_state_dict = True  # Module.load_state_dict hands this module its own entries
    required_entries = ("keys", "values", "dim", "seed", "step", "generation")  # of a state_dict() or a delta

    def __init__(self, embedding_dim: int, initializer=None, dtype=np.float32, admission=None, eviction=None,
                 capacity: int | None = None, seed: int | None = None, *, default_value: float = 0.0,
                 capacity_policy: str = "lfu", evict_every: int = 1, metadata="auto",
                 chunk_rows: int = 1 << 22, storage_dir: str | None = None) -> None:
        super().__init__()
        if capacity_policy not in ("lfu", "lru"):
            raise ValueError(f"HashEmbedding: capacity_policy must be 'lfu' or 'lru', got {capacity_policy!r}")
        self.embedding_dim = int(embedding_dim) if isinstance(embedding_dim, (int, np.integer)) else embedding_dim
        self.capacity_policy = capacity_policy
        self.table = HashTable(embedding_dim, dtype, initializer, seed, admission, eviction, capacity, metadata,
                               default_value, capacity_policy, evict_every, first_chunk=min(4096, chunk_rows),
                               max_chunk=chunk_rows, storage_dir=storage_dir)
        self.weight = HashTableParameter(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def extra_repr(self) -> str:
        text = f"{self.embedding_dim}, rows={len(self.table)}"
        if self.table.dtype != np.float32:
            text += f", dtype={self.table.dtype}"
        return text

    def rows(self, ids, counts=None) -> np.ndarray:
        """The table rows of ``ids`` as this mode's forward would use them (inserting in training);
        ``counts``: how many lookups each id stands for (distinct ids of a batch), one each by default."""
        _refuse_graph(type(self).__name__, ids)
        return self.table.lookup(as_keys(ids, f"{type(self).__name__}: ids"), train=self.training, counts=counts)

    def forward(self, ids) -> Tensor:
        _refuse_graph(type(self).__name__, ids)
        return lookup(self.weight, as_keys(ids, f"{type(self).__name__}: ids"), self.training)

    def evict(self) -> int:
        """Run the eviction policies and capacity cap now; returns the number of rows removed."""
        return self.table.evict()

    def flush(self) -> None:
        """Write rows kept in memory-mapped files (``storage_dir``) back to disk."""
        self.table.flush()

    # --- checkpoints ---
    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> dict:
        """Keys, values (in the storage dtype), optimizer slots (``slot.<name>``), metadata
        (``meta.last_step``, and ``meta.freq`` where kept), admission counters and the table's step,
        all from one snapshot taken under the table's lock. ``keep_vars=True`` gives the live handle
        (``weight``) instead of a copy of the table."""
        if destination is None:
            destination = {}
        if keep_vars:
            destination[prefix + "weight"] = self.weight
            return destination
        for key, value in self.table.state_dict().items():
            destination[prefix + key] = value
        return destination

    def delta_state_dict(self, since: int | None = None) -> dict:
        """The rows changed (and keys evicted) after snapshot ``since`` (default: the last one given to
        ``mark_saved``); ``load_state_dict`` of it on top of that snapshot gives this table's state."""
        return self.table.delta_state_dict(since)

    def mark_saved(self, generation: int) -> None:
        """Record that the snapshot numbered ``generation`` (its ``"generation"`` entry) is stored: the
        next ``delta_state_dict()`` holds what changed after it."""
        self.table.mark_saved(generation)

    def _missing_entries(self, state_dict: dict) -> str | None:
        missing = [k for k in self.required_entries if k not in state_dict]
        if not missing:
            return None
        return f"Error(s) in loading state_dict for {type(self).__name__}: missing " + ", ".join(
            f'"{k}"' for k in missing)

    def check_state_dict(self, state_dict: dict) -> None:
        """Raise a ValueError saying why ``load_state_dict(state_dict)`` would fail, changing nothing."""
        missing = self._missing_entries(state_dict)
        if missing:
            raise ValueError(missing)
        self.table.check_state(state_dict)

    def load_state_dict(self, state_dict: dict, strict: bool = True):
        """Restore a ``state_dict()`` (replacing the table) or apply a ``delta_state_dict()`` on top."""
        from ember.nn.module import IncompatibleKeys

        missing = self._missing_entries(state_dict)
        if missing:
            raise RuntimeError(missing)
        self.table.load_state_dict(state_dict)
        return IncompatibleKeys([], [])


class HashEmbeddingBag(HashEmbedding):
    """Sums or means of bags of hash-embedding rows, in ``torch.nn.EmbeddingBag``'s layouts.

    ``bag(ids, offsets)``: 1-D ids with the start of each bag in ``offsets`` (bag i is
    ``ids[offsets[i]:offsets[i + 1]]``; the last runs to the end unless ``include_last_offset``);
    ``bag(ids)`` with 2-D ids: one bag per row. ``per_sample_weights`` (mode "sum") scale each id's row.
    Empty bags give zeros; ids kept out by admission count as default rows.

    >>> bag = ember.embedding.HashEmbeddingBag(4, mode="mean", seed=0)
    >>> bag(np.array([5, 6, 7]), offsets=np.array([0, 2])).shape
    (2, 4)
    """

    def __init__(self, embedding_dim: int, mode: str = "mean", initializer=None, dtype=np.float32,
                 admission=None, eviction=None, capacity: int | None = None, seed: int | None = None, *,
                 include_last_offset: bool = False, **kwargs) -> None:
        if mode not in _BAG_MODES:
            raise ValueError(f"HashEmbeddingBag: mode must be one of {_BAG_MODES}, got {mode!r}")
        super().__init__(embedding_dim, initializer, dtype, admission, eviction, capacity, seed, **kwargs)
        self.mode = mode
        self.include_last_offset = include_last_offset

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mode={self.mode!r}"

    def forward(self, ids, offsets=None, per_sample_weights=None) -> Tensor:
        _refuse_graph(type(self).__name__, ids, offsets, per_sample_weights)
        keys = as_keys(ids, "HashEmbeddingBag: ids")
        if keys.ndim == 2:
            if offsets is not None:
                raise ValueError("HashEmbeddingBag: offsets must be None for 2-D ids (one bag per row)")
            num_bags, size = keys.shape
            bag_ids = None
        elif keys.ndim == 1:
            if offsets is None:
                raise ValueError("HashEmbeddingBag: 1-D ids need offsets (the start of each bag)")
            starts = as_keys(offsets, "HashEmbeddingBag: offsets").reshape(-1)
            if starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > keys.size:
                raise ValueError(f"HashEmbeddingBag: offsets must start at 0 and be non-decreasing up to "
                                 f"len(ids) = {keys.size}, got {starts.tolist()}")
            if self.include_last_offset and starts[-1] != keys.size:
                raise ValueError(f"HashEmbeddingBag: with include_last_offset the last offset must be len(ids) = "
                                 f"{keys.size} (the end of the last bag), got offsets {starts.tolist()}")
            bounds = starts if self.include_last_offset else np.append(starts, keys.size)
            num_bags = bounds.size - 1
            bag_ids = np.repeat(np.arange(num_bags), np.diff(bounds))
        else:
            raise ValueError(f"HashEmbeddingBag: ids must be 1-D (with offsets) or 2-D, got shape {list(keys.shape)}")
        rows = lookup(self.weight, keys, self.training)
        if per_sample_weights is not None:
            if self.mode != "sum":
                raise ValueError(f"HashEmbeddingBag: per_sample_weights need mode='sum', got mode={self.mode!r}")
            weights = ops.as_tensor(per_sample_weights)
            if tuple(weights.shape) != tuple(np.shape(ids)):
                raise ValueError(f"HashEmbeddingBag: per_sample_weights must have the ids' shape "
                                 f"{list(np.shape(ids))}, got {list(weights.shape)}")
            weights = ops.cast(weights, rows.dtype)
            if bag_ids is not None:
                weights = ops.reshape(weights, (-1,))
            rows = rows * ops.unsqueeze(weights, -1)
        if bag_ids is None:  # fixed-size bags: a reduction over the bag axis (bags of no ids: zeros)
            return ops.mean(rows, axis=1) if self.mode == "mean" and size else ops.sum(rows, axis=1)
        zeros = Tensor._make(np.zeros((num_bags, self.table.dim), rows.dtype), None)
        out = ops.index_add(zeros, Tensor._make(bag_ids, None), rows)
        if self.mode == "mean":
            counts = np.maximum(np.bincount(bag_ids, minlength=num_bags), 1).astype(rows.dtype)
            out = out / Tensor._make(counts[:, None], None)
        return out

"""EmbeddingBag: the sum, mean or max of bags of embedding rows, without materialising the rows per bag.

The rows of all ids are looked up once (``ember.embedding``), then reduced per bag with a segment sum
(``index_add`` over a bag-id vector). With ``sparse=True`` the weight's gradient is row-sparse. ``embedding_bag``
is the functional form over any weight tensor.
"""

from __future__ import annotations

import numpy as np

from ember import ops
from ember.backend.dtypes import LOW_PRECISION
from ember.creation import empty
from ember.nn import init
from ember.nn.layers.embedding_renorm import embedding_renorm_
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

_MODES = ("sum", "mean", "max")


def _host(t) -> np.ndarray:
    """An integer tensor or array as a NumPy array (ids and offsets steer Python-side bookkeeping)."""
    if isinstance(t, Tensor):
        t = t.detach().array
    return t.get() if hasattr(t, "get") else np.asarray(t)


class EmbeddingBag(Module):
    """Reduce bags of embeddings with ``mode`` "mean" (default), "sum" or "max", like ``torch.nn.EmbeddingBag``.

    A 2-D ``input`` (B, n) holds B bags of n ids; a 1-D ``input`` with ``offsets`` holds ragged bags,
    bag i being ``input[offsets[i]:offsets[i + 1]]`` (the last runs to the end unless
    ``include_last_offset``). ``per_sample_weights`` scales each id's row (mode "sum" only). Ids equal to
    ``padding_idx`` are left out of their bag; empty bags give zeros.

    >>> bag = ember.nn.EmbeddingBag(100, 8, mode="sum")
    >>> bag(ember.tensor([1, 2, 4, 5, 4]), offsets=ember.tensor([0, 2])).shape
    (2, 8)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Tensor | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"EmbeddingBag: mode must be one of {_MODES}, got {mode!r}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"EmbeddingBag: padding_idx {padding_idx} is out of range for "
                                 f"{num_embeddings} rows")
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dtype, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: _weight must have shape {[num_embeddings, embedding_dim]}, "
                                 f"got {list(_weight.shape)}")
            self.weight = Parameter(_weight)

    def reset_parameters(self) -> None:
        """N(0, 1) rows, with the padding row zeroed, like PyTorch."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag whose weight is ``embeddings`` (shared), frozen unless ``freeze=False``.

        >>> bag = ember.nn.EmbeddingBag.from_pretrained(ember.randn(10, 4), mode="sum")
        """
        if embeddings.ndim != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got {list(embeddings.shape)}")
        rows, dim = embeddings.shape
        bag = cls(rows, dim, max_norm, norm_type, scale_grad_by_freq, mode=mode, sparse=sparse, _weight=embeddings,
                  include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def extra_repr(self) -> str:
        # PyTorch's order; it shows neither sparse nor include_last_offset
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        text += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        return text

    def forward(self, input: Tensor, offsets: Tensor | None = None,
                per_sample_weights: Tensor | None = None) -> Tensor:
        return _bag(self.__class__.__name__, input, self.weight, offsets, self.mode, self.sparse, per_sample_weights,
                    self.include_last_offset, self.padding_idx, self.max_norm, self.norm_type,
                    self.scale_grad_by_freq)


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """``EmbeddingBag``'s reduction with the rows of ``weight`` (num_embeddings, embedding_dim): the sum, mean or
    max of each bag of ids (a 2-D input of fixed-size bags, or a 1-D input with ``offsets``).

    >>> F.embedding_bag(ember.tensor([1, 2, 4, 5, 4]), ember.randn(10, 3), ember.tensor([0, 2]), mode="sum").shape
    (2, 3)
    """
    name = "embedding_bag"
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
    if weight.ndim != 2:
        raise ValueError(f"{name}: weight must be 2-D (num_embeddings, embedding_dim), got shape {list(weight.shape)}")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise ValueError(f"{name}: padding_idx {padding_idx} is out of range for {weight.shape[0]} rows")
        padding_idx %= weight.shape[0]
    return _bag(name, input, weight, offsets, mode, sparse, per_sample_weights, include_last_offset, padding_idx,
                max_norm, norm_type, scale_grad_by_freq)


def _bags(name: str, input, offsets, include_last_offset: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """(flat ids, bag id of each, number of bags) from the fixed-size or ragged layout."""
    ids = _host(input)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name}: input must hold integer ids, got {ids.dtype}")
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{name}: offsets must be None for a 2-D input (fixed-size bags)")
        num_bags, size = ids.shape
        return ids.reshape(-1), np.repeat(np.arange(num_bags), size), num_bags
    if ids.ndim != 1:
        raise ValueError(f"{name}: input must be 1-D (with offsets) or 2-D, got shape {list(ids.shape)}")
    if offsets is None:
        raise ValueError(f"{name}: a 1-D input needs offsets (the start of each bag)")
    starts = _host(offsets)
    if starts.dtype.kind not in "iu":  # 1.5 would truncate to a bag boundary no one asked for
        raise TypeError(f"{name}: offsets must hold integer positions, got {starts.dtype}")
    starts = starts.astype(np.int64).reshape(-1)
    if starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > ids.size:
        raise ValueError(f"{name}: offsets must start at 0 and be non-decreasing up to len(input) = "
                         f"{ids.size}, got {starts.tolist()}")
    if include_last_offset and starts[-1] != ids.size:  # (PyTorch's last bag runs to the end of the input anyway)
        raise ValueError(f"{name}: with include_last_offset the last offset must be len(input) = {ids.size} (the "
                         f"end of the last bag), got offsets {starts.tolist()}")
    bounds = starts if include_last_offset else np.append(starts, ids.size)
    num_bags = bounds.size - 1
    lengths = np.diff(bounds)
    bag_ids = np.repeat(np.arange(num_bags), lengths)
    return ids, bag_ids, num_bags


def _bag(name: str, input, weight: Tensor, offsets, mode: str, sparse: bool, per_sample_weights,
         include_last_offset: bool, padding_idx: int | None, max_norm: float | None = None, norm_type: float = 2.0,
         scale_grad_by_freq: bool = False) -> Tensor:
    if any(isinstance(t, Tensor) and t.symbolic for t in (input, offsets)):
        raise TypeError(f"{name}: the bags are formed from the ids' values on the host, which a traced "
                        "graph does not have; call it outside ember.jit, or use Embedding and a mean over "
                        "a fixed bag axis")
    if mode == "max" and scale_grad_by_freq:  # a bag's maximum is one row per column: no frequency to divide by
        raise ValueError(f"{name}: mode='max' does not support scale_grad_by_freq=True (as PyTorch's)")
    ids, bag_ids, num_bags = _bags(name, input, offsets, include_last_offset)
    if max_norm is not None:  # every id of the input, as PyTorch's
        embedding_renorm_(weight, Tensor._make(weight.xp.asarray(_host(input)), None), max_norm, norm_type)
    embedding_dim = weight.shape[1]
    psw = None
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{name}: per_sample_weights need mode='sum', got mode={mode!r}")
        psw = ops.as_tensor(per_sample_weights, weight)
        input_shape = tuple(np.shape(_host(input)))
        if tuple(psw.shape) != input_shape:  # a (n, B) for a (B, n) input would pair weights with other ids
            raise ValueError(f"{name}: per_sample_weights must have the input's shape "
                             f"{list(input_shape)}, got {list(psw.shape)}")
        psw = ops.reshape(psw, (-1,))
        size = psw.shape[0]
        if size != ids.size:  # include_last_offset with a last offset short of len(input)
            psw = psw[:ids.size]
    if padding_idx is not None:
        keep = ids != padding_idx
        if not keep.all():
            ids, bag_ids = ids[keep], bag_ids[keep]
            if psw is not None:
                psw = psw[Tensor._make(psw.xp.asarray(np.nonzero(keep)[0]), None)]
    xp = weight.xp
    device_ids = xp.asarray(ids)
    rows = ops.embedding(Tensor._make(device_ids, None), weight, sparse=sparse, scale_grad_by_freq=scale_grad_by_freq)
    if mode == "max":
        return _max(rows, bag_ids, num_bags, embedding_dim)
    low = rows.dtype in LOW_PRECISION  # float16 / bfloat16: weighed and summed in float32, rounded once (as PyTorch)
    if low:
        rows = ops.cast(rows, np.float32)
    if psw is not None:
        rows = rows * ops.unsqueeze(ops.cast(psw, rows.dtype), 1)
    segments = Tensor._make(xp.asarray(bag_ids), None)
    out = ops.index_add(Tensor._make(xp.zeros((num_bags, embedding_dim), rows.dtype), None), segments, rows)
    if low:  # (a mean then divides the rounded sum, as PyTorch's)
        out = ops.cast(out, weight.dtype)
    if mode == "mean":
        counts = np.maximum(np.bincount(bag_ids, minlength=num_bags), 1).astype(out.dtype)
        out = out / Tensor._make(xp.asarray(counts[:, None]), None)
    return out


def _max(rows: Tensor, bag_ids: np.ndarray, num_bags: int, embedding_dim: int) -> Tensor:
    """Per-bag maximum: scatter the rows into a (bags, longest bag, dim) block padded with -inf."""
    xp = rows.xp
    counts = np.bincount(bag_ids, minlength=num_bags)
    longest = int(counts.max()) if counts.size else 0
    if longest == 0:  # no ids (all padding): zeros that still depend on the weight, as in the other modes
        zeros = Tensor._make(xp.zeros((num_bags, embedding_dim), rows.dtype), None)
        return ops.index_add(zeros, Tensor._make(xp.asarray(bag_ids), None), rows)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(bag_ids.size) - starts[bag_ids]  # position of each id inside its bag
    # Gather rows by index into the padded block; the -inf filler is one extra row at the end.
    filler = Tensor._make(xp.full((1, embedding_dim), -np.inf, rows.dtype), None)
    table = ops.concat([rows, filler])
    index = np.full((num_bags, longest), rows.shape[0], np.int64)
    index[bag_ids, slot] = np.arange(bag_ids.size)
    block = ops.take(table, Tensor._make(xp.asarray(index), None), axis=0)
    # the value at the first maximum of each bag and column, so a tie sends the whole gradient to the first of the
    # tied rows, as PyTorch's max_indices do (a plain max would share it out among them)
    first = ops.argmax(block.detach(), axis=1, keepdims=True)
    out = ops.squeeze(ops.gather(block, 1, first), 1)
    if (counts == 0).any():
        out = ops.where(Tensor._make(xp.asarray((counts > 0)[:, None]), None), out, 0.0)
    return out

"""``ember.nn.utils.rnn``: PyTorch's ``torch.nn.utils.rnn``, batches of sequences of different lengths.

A padded batch is (T, B, *) (or (B, T, *) with ``batch_first``), each sequence followed by padding. A
``PackedSequence`` keeps only the real steps, time-major: ``data`` holds step 0 of every sequence, then step 1 of
those at least 2 long, and so on, the sequences in decreasing order of length; ``batch_sizes[t]`` counts the
sequences still running at step t, so the ones running at any step are a prefix of that order (what the recurrent
layers loop over). ``sorted_indices`` maps that order to the caller's batch positions, ``unsorted_indices`` back.

Every conversion between the layouts is one ``take`` of rows with an index array made from the lengths (padding
comes from one extra row of ``padding_value``), so each is differentiable and has no loop over the sequences. The
lengths are read as numbers: under ``ember.jit`` give them as Python ints (a tuple when they are an argument of the
jit function, which must be hashable), frozen into the trace as PyTorch's tracer freezes a list, not as a traced
Tensor.

>>> seqs = [ember.randn(3, 4), ember.randn(1, 4), ember.randn(2, 4)]
>>> packed = pack_sequence(seqs, enforce_sorted=False)
>>> packed.batch_sizes.tolist()
[3, 2, 1]
>>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
>>> padded.shape, lengths.tolist()
((3, 3, 4), [3, 1, 2])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ember import ops
from ember.creation import full
from ember.creation import tensor as _new_tensor
from ember.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
           "pad_sequence", "unpack_sequence", "unpad_sequence"]


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """A batch of sequences of different lengths without padding (see the module docstring): the named tuple
    ``(data, batch_sizes, sorted_indices, unsorted_indices)``. ``batch_sizes`` is an int64 tensor on the CPU;
    the indices are int64 on ``data``'s device, or None when the batch came sorted. Made by
    ``pack_padded_sequence`` and ``pack_sequence``; the recurrent layers take and return it.

    >>> packed = pack_sequence([ember.ones(2, 3), ember.ones(1, 3)])
    >>> packed.data.shape, packed.batch_sizes.tolist()
    ((3, 3), [2, 1])
    """

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if batch_sizes is None:  # PyTorch's PackedSequence((data, batch_sizes), sorted_indices)
            if not (isinstance(data, (tuple, list)) and len(data) == 2):
                raise TypeError("PackedSequence: give data and batch_sizes, or one pair (data, batch_sizes)")
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor) or batch_sizes.device.type != "cpu":
            raise ValueError("PackedSequence: batch_sizes must be a tensor on the CPU, got "
                             f"{getattr(batch_sizes, 'device', type(batch_sizes).__name__)}; make packed sequences "
                             "with pack_padded_sequence or pack_sequence")
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """``data.to(...)``, the indices following it to its device (``batch_sizes`` stays on the CPU); ``self``
        when ``data`` is unchanged."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        sorted_indices, unsorted_indices = (None if t is None else t.to(data.device)
                                            for t in (self.sorted_indices, self.unsorted_indices))
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, index: int = 0) -> PackedSequence:
        return self.to(f"cuda:{index}")

    def float(self) -> PackedSequence:
        return self.to("float32")

    def double(self) -> PackedSequence:
        return self.to("float64")

    def half(self) -> PackedSequence:
        return self.to("float16")

    def long(self) -> PackedSequence:
        return self.to("int64")

    def int(self) -> PackedSequence:
        return self.to("int32")

    def short(self) -> PackedSequence:
        return self.to("int16")

    def char(self) -> PackedSequence:
        return self.to("int8")

    def byte(self) -> PackedSequence:
        return self.to("uint8")

    def is_pinned(self) -> bool:
        """Whether ``data`` is in page-locked host memory."""
        return self.data.is_pinned()

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` lives on a CUDA device."""
        return self.data.device.type == "cuda"


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation of ``0..n-1`` (None for None), int64 on its device.

    >>> invert_permutation(ember.tensor([2, 0, 1])).tolist()
    [1, 2, 0]
    """
    if permutation is None:
        return None
    order = _host_ints("invert_permutation", "permutation", permutation)
    n = order.size
    if order.ndim != 1 or not np.array_equal(np.sort(order), np.arange(n)):
        raise ValueError(f"invert_permutation: expected a permutation of 0..{n - 1}, got {order.tolist()}")
    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n)
    return _new_tensor(inverse, device=permutation.device)


def pad_sequence(sequences: Iterable[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (T, B, *) tensor ((B, T, *) with ``batch_first``), T the
    longest length, each padded with ``padding_value`` on its ``padding_side`` ('right' or 'left'); the result
    has the first sequence's dtype.

    >>> pad_sequence([ember.ones(2), ember.ones(1)], batch_first=True, padding_value=-1).tolist()
    [[1.0, 1.0], [1.0, -1.0]]
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    seqs = _sequences("pad_sequence", sequences)
    lengths = np.array([s.shape[0] for s in seqs], np.int64)
    steps = int(lengths.max())
    starts = np.cumsum(lengths) - lengths
    t = np.arange(steps)[:, None]
    if padding_side == "left":
        t = t - (steps - lengths)
    index = np.where((t >= 0) & (t < lengths), starts + t, lengths.sum())  # (T, B); the padding row past the rest
    rows = ops.concat([*seqs, _padding_row(seqs[0], padding_value)])
    return ops.take(rows, index.T if batch_first else index, axis=0)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """The list of sequences ``padded_sequences[:lengths[i], i]`` (``[i, :lengths[i]]`` with ``batch_first``),
    undoing ``pad_sequence``; ``lengths`` a list or a tensor.

    >>> [s.shape for s in unpad_sequence(ember.zeros(3, 2, 4), [3, 1])]
    [(3, 4), (1, 4)]
    """
    name = "unpad_sequence"
    padded = _tensor(name, "padded_sequences", padded_sequences, min_ndim=2)
    batch, steps = padded.shape[:2] if batch_first else padded.shape[1::-1]
    lengths = _host_ints(name, "lengths", lengths)
    _check_lengths(name, lengths, batch, steps, positive=False)
    b, t = np.nonzero(np.arange(steps) < lengths[:, None])  # each sequence's steps, one after the other
    flat = ops.reshape(padded, (batch * steps, *padded.shape[2:]))
    rows = ops.take(flat, b * steps + t if batch_first else t * batch + b, axis=0)
    return _split(rows, lengths)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,  # noqa: A002  (PyTorch's name)
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) batch ((B, T, *) with ``batch_first``) whose sequences have ``lengths`` (a list or
    a tensor). With ``enforce_sorted`` the lengths must be decreasing; otherwise the batch is sorted (stably) and
    ``sorted_indices`` records how.

    >>> packed = pack_padded_sequence(ember.zeros(3, 2, 4), [1, 3], enforce_sorted=False)
    >>> packed.batch_sizes.tolist(), packed.sorted_indices.tolist()
    ([2, 1, 1], [1, 0])
    """
    name = "pack_padded_sequence"
    input = _tensor(name, "input", input, min_ndim=2)
    batch, steps = input.shape[:2] if batch_first else input.shape[1::-1]
    lengths = _host_ints(name, "lengths", lengths)
    _check_lengths(name, lengths, batch, steps, positive=True)
    order = _sort_order(name, lengths, enforce_sorted)
    t, k = np.nonzero(np.arange(lengths.max())[:, None] < lengths[order])  # time-major, longest first
    b = order[k]
    flat = ops.reshape(input, (batch * steps, *input.shape[2:]))
    data = ops.take(flat, b * steps + t if batch_first else t * batch + b, axis=0)
    return _packed(data, lengths[order], None if enforce_sorted else order)


def pack_sequence(sequences: Iterable[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences of shapes (L_i, *): ``pack_padded_sequence(pad_sequence(sequences), lengths)``
    without making the padded tensor.

    >>> pack_sequence([ember.ones(1, 2), ember.ones(3, 2)], enforce_sorted=False).batch_sizes.tolist()
    [2, 1, 1]
    """
    name = "pack_sequence"
    seqs = _sequences(name, sequences)
    lengths = np.array([s.shape[0] for s in seqs], np.int64)
    _check_lengths(name, lengths, len(seqs), None, positive=True)
    order = _sort_order(name, lengths, enforce_sorted)
    t, k = np.nonzero(np.arange(lengths.max())[:, None] < lengths[order])
    starts = np.cumsum(lengths) - lengths
    data = ops.take(ops.concat(seqs) if len(seqs) > 1 else seqs[0], starts[order[k]] + t, axis=0)
    return _packed(data, lengths[order], None if enforce_sorted else order)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: the padded (T, B, *) tensor ((B, T, *) with ``batch_first``), T the longest
    length or ``total_length``, in the caller's batch order, and the lengths (int64, on the CPU).

    >>> padded, lengths = pad_packed_sequence(pack_sequence([ember.ones(2, 3), ember.ones(1, 3)]), total_length=4)
    >>> padded.shape, lengths.tolist()
    ((4, 2, 3), [2, 1])
    """
    name = "pad_packed_sequence"
    data, sizes, unsorted = _unpacked(name, sequence)
    steps = sizes.size
    if total_length is not None:
        if not isinstance(total_length, (int, np.integer)) or isinstance(total_length, bool):
            raise TypeError(f"{name}: total_length must be an int or None, got {total_length!r}")
        if total_length < steps:
            raise ValueError(f"{name}: total_length ({total_length}) is shorter than the longest sequence "
                             f"({steps} steps)")
        steps = int(total_length)
    lengths = _lengths_of(sizes)[unsorted]  # the caller's order
    offsets = np.zeros(steps, np.int64)
    offsets[:sizes.size] = np.cumsum(sizes) - sizes
    t = np.arange(steps)[:, None]
    index = np.where(t < lengths, offsets[:, None] + unsorted, data.shape[0])  # (T, B); the padding row past data
    padded = ops.take(ops.concat([data, _padding_row(data, padding_value)]), index.T if batch_first else index, 0)
    return padded, _new_tensor(lengths, device="cpu")


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Undo ``pack_sequence``: the list of sequences, in the caller's order.

    >>> [s.shape for s in unpack_sequence(pack_sequence([ember.ones(1, 2), ember.ones(3, 2)], False))]
    [(1, 2), (3, 2)]
    """
    data, sizes, unsorted = _unpacked("unpack_sequence", packed_sequences)
    lengths = _lengths_of(sizes)[unsorted]
    b, t = np.nonzero(np.arange(sizes.size) < lengths[:, None])  # each sequence's steps, one after the other
    offsets = np.cumsum(sizes) - sizes
    return _split(ops.take(data, offsets[t] + unsorted[b], axis=0), lengths)


def batch_sizes_list(name: str, packed: PackedSequence) -> list[int]:
    """The checked ``batch_sizes`` of a packed sequence as Python ints (for the layers' time loops)."""
    return _unpacked(name, packed)[1].tolist()


# --- helpers ----------------------------------------------------------------------------------------------


def _tensor(name: str, what: str, value, min_ndim: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(value).__name__}")
    if value.ndim < min_ndim:
        raise ValueError(f"{name}: {what} must have at least {min_ndim} dimensions, got shape {list(value.shape)}")
    return value


def _host_ints(name: str, what: str, value) -> np.ndarray:
    """``value`` (a list, an array or a Tensor of integers) as a 1-D int64 NumPy array."""
    if getattr(value, "symbolic", False):
        raise TypeError(f"{name}: {what} must be known numbers, got a traced value {value!r}; under ember.jit give "
                        "them as Python ints (a tuple as an argument of the jit function)")
    array = np.asarray(value.detach() if isinstance(value, Tensor) else value)
    if array.ndim != 1 or (array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f")):
        raise TypeError(f"{name}: {what} must be a 1-D list or tensor of integers, got "
                        f"{array.dtype}{list(array.shape)}")
    return array.astype(np.int64)


def _check_lengths(name: str, lengths: np.ndarray, batch: int, steps: int | None, positive: bool) -> None:
    if lengths.size != batch:
        raise ValueError(f"{name}: got {lengths.size} lengths for a batch of {batch} sequences")
    if positive and (lengths <= 0).any():
        raise ValueError(f"{name}: every length must be positive, got {lengths.tolist()}")
    if (lengths < 0).any() or steps is not None and (lengths > steps).any():
        raise ValueError(f"{name}: lengths must lie in [0, {steps}], the padded length, got {lengths.tolist()}")


def _sort_order(name: str, lengths: np.ndarray, enforce_sorted: bool) -> np.ndarray:
    """The batch positions longest first: as they are (checked) with ``enforce_sorted``, else a stable sort."""
    if enforce_sorted:
        if (np.diff(lengths) > 0).any():
            raise ValueError(f"{name}: with enforce_sorted=True the lengths must be decreasing, got "
                             f"{lengths.tolist()}; pass enforce_sorted=False to have the batch sorted")
        return np.arange(lengths.size)
    return np.argsort(-lengths, kind="stable")


def _packed(data: Tensor, sorted_lengths: np.ndarray, order: np.ndarray | None) -> PackedSequence:
    sizes = (sorted_lengths[None, :] > np.arange(sorted_lengths[0])[:, None]).sum(axis=1)
    sorted_indices = None if order is None else _new_tensor(order, device=data.device)
    return PackedSequence(data, _new_tensor(sizes.astype(np.int64), device="cpu"), sorted_indices)


def _unpacked(name: str, packed) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """A packed sequence's data, batch sizes (checked against the data) and unsorted indices as NumPy arrays."""
    if not isinstance(packed, PackedSequence):
        raise TypeError(f"{name}: expected a PackedSequence, got {type(packed).__name__}")
    data = _tensor(name, "the packed data", packed.data, min_ndim=1)
    sizes = _host_ints(name, "batch_sizes", packed.batch_sizes)
    if sizes.size == 0 or (sizes <= 0).any() or (np.diff(sizes) > 0).any() or sizes.sum() != data.shape[0]:
        raise ValueError(f"{name}: batch_sizes must be positive and non-increasing and add up to the "
                         f"{data.shape[0]} rows of data, got {sizes.tolist()}")
    if packed.unsorted_indices is None:
        return data, sizes, np.arange(sizes[0])
    unsorted = _host_ints(name, "unsorted_indices", packed.unsorted_indices)
    if unsorted.size != sizes[0]:
        raise ValueError(f"{name}: unsorted_indices has {unsorted.size} entries for a batch of {sizes[0]}")
    return data, sizes, unsorted


def _lengths_of(sizes: np.ndarray) -> np.ndarray:
    """Each sorted sequence's length from the batch sizes: how many steps still run it."""
    return (sizes[None, :] > np.arange(sizes[0])[:, None]).sum(axis=1)


def _sequences(name: str, sequences) -> list[Tensor]:
    """The sequences as a list of Tensors of one trailing shape, cast to the first one's dtype."""
    if isinstance(sequences, Tensor):
        sequences = list(ops.unbind(sequences, 0)) if sequences.ndim else [sequences]
    elif not isinstance(sequences, Iterable):
        raise TypeError(f"{name}: expected a list of Tensors, got {type(sequences).__name__}")
    seqs = list(sequences)
    if not seqs:
        raise ValueError(f"{name}: got no sequences")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor) or s.ndim == 0:
            what = f"shape {list(s.shape)}" if isinstance(s, Tensor) else type(s).__name__
            raise TypeError(f"{name}: each sequence must be a Tensor of at least one dimension, sequence {i} is {what}")
        if s.shape[1:] != seqs[0].shape[1:]:
            raise ValueError(f"{name}: every sequence must have the trailing shape {list(seqs[0].shape[1:])} of the "
                             f"first, sequence {i} has shape {list(s.shape)}")
    return [s if s.dtype == seqs[0].dtype else ops.cast(s, seqs[0].dtype) for s in seqs]


def _padding_row(like: Tensor, value: float) -> Tensor:
    return full((1, *like.shape[1:]), value, dtype=like.dtype, device=like.device)


def _split(rows: Tensor, lengths: np.ndarray) -> list[Tensor]:
    return [rows] if lengths.size == 1 else list(ops.split(rows, lengths.tolist(), axis=0))

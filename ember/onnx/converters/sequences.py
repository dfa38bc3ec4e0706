"""ONNX sequences (Python lists of Tensors) and host string ops."""

from __future__ import annotations

import numpy as np

import ember
from ember.onnx.converters.base import (
    UnsupportedError,
    _split_sizes,
    _tensor,
    converter,
)

# --- strings: NumPy arrays of str (Ember computes on numbers; string ops run on the host) -----------------


@converter("StringNormalizer")
def _string_normalizer(cx, x, case_change_action="NONE", is_case_sensitive=0, locale=None, stopwords=None):
    change = {"LOWER": str.lower, "UPPER": str.upper, "NONE": lambda w: w}.get(case_change_action)
    if change is None:
        raise UnsupportedError(f"StringNormalizer: unknown case_change_action {case_change_action!r}")
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.ndim == 2 and x.shape[0] != 1:
        raise UnsupportedError(f"StringNormalizer: input of shape {list(x.shape)}; expected [C] or [1, C]")
    stops = set(stopwords or ())
    if not is_case_sensitive:
        stops = {w.lower() for w in stops}
    kept = []
    for word in x.reshape(-1).tolist():
        if (word if is_case_sensitive else word.lower()) in stops:
            continue
        kept.append(change(word))
    kept = kept or [""]
    out = np.array(kept, dtype=object)
    return out.reshape(1, -1) if x.ndim == 2 else out


# --- sequences: Python lists of Tensors --------------------------------------------------------------------


@converter("SequenceConstruct")
def _sequence_construct(cx, *xs):
    return list(xs)


@converter("SequenceEmpty")
def _sequence_empty(cx, dtype=None):
    return []


def _position(cx, seq: list, position, default: int) -> int:
    p = default if position is None else int(cx.static(position).reshape(-1)[0])
    return p + len(seq) if p < 0 else p


@converter("SequenceAt", static=(1,))
def _sequence_at(cx, seq, position):
    return seq[_position(cx, seq, position, 0)]


@converter("SequenceInsert", static=(2,))
def _sequence_insert(cx, seq, tensor, position=None):
    seq = list(seq)
    seq.insert(_position(cx, seq, position, len(seq)), tensor)
    return seq


@converter("SequenceErase", static=(1,))
def _sequence_erase(cx, seq, position=None):
    seq = list(seq)
    del seq[_position(cx, seq, position, -1)]
    return seq


@converter("SequenceLength")
def _sequence_length(cx, seq):
    return _tensor(np.array(len(seq), np.int64))


@converter("SplitToSequence", static=(1,))
def _split_to_sequence(cx, x, split=None, axis=0, keepdims=1):
    axis %= x.ndim
    n = x.shape[axis]
    if split is None:
        parts = [x[(slice(None),) * axis + (i,)] for i in range(n)]
        return parts if not keepdims else [p.reshape(tuple(x.shape[:axis]) + (1,) + tuple(x.shape[axis + 1:]))
                                           for p in parts]
    sizes = cx.static(split).astype(int).reshape(-1).tolist()
    if len(sizes) == 1:
        size = sizes[0]
        sizes = [min(size, n - i) for i in range(0, n, size)]
    return _split_sizes(x, sizes, axis)


@converter("ConcatFromSequence")
def _concat_from_sequence(cx, seq, axis, new_axis=0):
    if new_axis:
        return ember.stack(list(seq), axis=axis)
    return ember.concat(list(seq), axis=axis)

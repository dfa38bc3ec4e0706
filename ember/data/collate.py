"""Collation: turning a list of samples into one batch, through a registry keyed by type.

``collate_fn_map`` maps a type to ``fn(batch, *, collate_fn_map)``; ``collate`` looks up the first
type of the first sample's MRO that has an entry, so registering a subclass (a namedtuple, a sparse
row) takes precedence over its base. Add an entry to teach ``default_collate`` a new type.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, MutableMapping, MutableSequence, Sequence
from functools import reduce

import numpy as np

from ember.backend.devices import array_module
from ember.backend.dtypes import SUPPORTED, get_default_dtype, result_type
from ember.data.dataset import as_array
from ember.ops.join import stack
from ember.tensor import Tensor

CollateFn = Callable[..., object]


def collate(batch: Sequence, *, collate_fn_map: dict[type, CollateFn] | None = None):
    """Collate ``batch`` (a list of samples of one structure) with the functions in ``collate_fn_map``.

    >>> collate([(1, 2.0), (3, 4.0)], collate_fn_map=collate_fn_map)  # (int64 Tensor, float32 Tensor)
    """
    if collate_fn_map is None:
        collate_fn_map = globals()["collate_fn_map"]
    if len(batch) == 0:
        raise ValueError("collate: the batch is empty")
    elem = batch[0]
    for cls in type(elem).__mro__:
        fn = collate_fn_map.get(cls)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    for cls, fn in collate_fn_map.items():  # an abstract type the sample's class is registered with (a deque)
        if isinstance(elem, cls):
            return fn(batch, collate_fn_map=collate_fn_map)
    # containers are collated field by field whatever the map holds, as PyTorch's collate (a map of leaf types)
    if isinstance(elem, Mapping):
        return _collate_mapping(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, Sequence) and not isinstance(elem, (str, bytes)):
        return _collate_sequence(batch, collate_fn_map=collate_fn_map)
    raise TypeError(
        f"collate: no rule for samples of type {type(elem).__name__}; register one in "
        "ember.data.collate_fn_map or pass collate_fn to the DataLoader"
    )


def default_collate(batch: Sequence):
    """Stack a list of samples into a batch: arrays, Tensors and numbers become stacked Ember Tensors
    (Python ints int64, floats the default float dtype: float32 unless ``set_default_dtype`` changed it; bools
    bool), strings a list, and tuples, lists, dicts and namedtuples are collated field by field (tuples and lists
    into a list, as PyTorch's).

    >>> x, y = default_collate([(np.zeros(3), 0), (np.ones(3), 1)])   # x: (2, 3), y: int64 (2,)
    """
    return collate(batch, collate_fn_map=collate_fn_map)


def default_convert(sample):
    """One sample as a DataLoader with ``batch_size=None`` gives it: NumPy arrays and scalars of numbers
    become Tensors, through tuples (which become lists, as PyTorch's), lists, dicts and namedtuples; everything
    else stays as it is.

    >>> default_convert({"x": np.zeros(3), "id": 7})   # {"x": Tensor (3,), "id": 7}
    """
    if isinstance(sample, (np.ndarray, np.generic)):
        return sample if sample.dtype.kind in "USO" else Tensor._make(as_array(np.asarray(sample), "collate"), None)
    if isinstance(sample, Mapping):
        return _mapping_like(sample, {key: default_convert(value) for key, value in sample.items()})
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):  # namedtuple
        return type(sample)(*(default_convert(value) for value in sample))
    if isinstance(sample, tuple):  # a list, as PyTorch's (and default_collate's)
        return [default_convert(value) for value in sample]
    if isinstance(sample, Sequence) and not isinstance(sample, (str, bytes)):
        return _sequence_like(sample, [default_convert(value) for value in sample])
    return sample


def _same(batch: Sequence, what, name: str) -> None:
    first = what(batch[0])
    for i, elem in enumerate(batch):
        if what(elem) != first:
            raise ValueError(f"collate: sample 0 has {name} {first} but sample {i} has {what(elem)}")


def _stack(arrays: Sequence):
    """The arrays stacked; samples of different dtypes meet at PyTorch's promoted dtype (int64 with float32 is
    float32, where NumPy's stack gives float64)."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1 and dtypes <= SUPPORTED:
        common = reduce(result_type, dtypes)
        arrays = [a.astype(common, copy=False) for a in arrays]
    return array_module(arrays[0]).stack(arrays)


def _holds_numpy(data) -> bool:
    if isinstance(data, (np.ndarray, np.generic, Tensor)):
        return True
    return isinstance(data, (list, tuple)) and any(_holds_numpy(x) for x in data)


def _as_tensor_array(sample):
    """``sample`` as an array the way ``torch.as_tensor`` reads it: arrays, NumPy scalars and Tensors keep their
    dtype, Python data takes the default dtypes (floats the default float dtype, where NumPy would make them
    float64)."""
    array = as_array(sample, "collate")
    if array.dtype == np.float64 and not _holds_numpy(sample) and array_module(array) is np:
        return array.astype(get_default_dtype())
    return array


def _collate_array(batch, *, collate_fn_map):
    if any(type(a) is not np.ndarray for a in batch):  # as PyTorch's: the other samples as arrays (a Tensor, a list)
        batch = [_as_tensor_array(a) for a in batch]
    _same(batch, lambda a: a.shape, "shape")
    stacked = _stack(batch)
    if stacked.dtype.kind in "USO":
        return stacked
    return Tensor._make(as_array(stacked, "collate"), None)


def _collate_tensor(batch, *, collate_fn_map):
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor):
            raise TypeError(f"collate: sample 0 is a Tensor but sample {i} is a {type(t).__name__}")
    _same(batch, lambda t: t.shape, "shape")
    if any(t.requires_grad for t in batch):  # through the stack op, so gradients reach the samples, as PyTorch's
        return stack(batch)
    return Tensor._make(_stack([t.array for t in batch]), None)


def _collate_numpy_scalar(batch, *, collate_fn_map):
    # as 0-d arrays, so that mixed dtypes meet at PyTorch's promoted dtype (np.array(batch) promotes as NumPy); a
    # Python number among them counts as torch.as_tensor reads it (a float in the default float dtype)
    arrays = [np.asarray(x) if isinstance(x, np.generic) else _as_tensor_array(x) for x in batch]
    return Tensor._make(as_array(_stack(arrays), "collate"), None)


def _collate_numbers(batch, *, collate_fn_map):
    array = np.array(batch)  # a mix of ints and floats becomes float, never truncated
    dtype = {"b": np.bool_, "i": np.int64, "f": get_default_dtype()}.get(array.dtype.kind)
    if dtype is None:
        raise TypeError(f"collate: cannot batch the numbers {batch[:4]}... (NumPy dtype {array.dtype})")
    return Tensor._make(array.astype(dtype, copy=False), None)


def _collate_list_of(batch, *, collate_fn_map):
    # the batch as it is, as PyTorch's: a list at the top, a tuple (a column of the samples) inside a sequence
    return batch


def _collate_none(batch, *, collate_fn_map):
    if any(elem is not None for elem in batch):
        raise TypeError("collate: some samples have None where others have a value")
    return None


def _collate_mapping(batch, *, collate_fn_map):
    _same(batch, lambda d: sorted(d, key=repr), "keys")
    fields = {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in batch[0]}
    return _mapping_like(batch[0], fields)


def _mapping_like(elem: Mapping, fields: dict) -> Mapping:
    """``fields`` in a mapping of ``elem``'s type, as PyTorch's collation builds it: a mutable one is a copy of
    ``elem`` updated (a defaultdict keeps its default_factory, a subclass its attributes), another is built from the
    dict, and a type that allows neither gives the dict."""
    try:
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(fields)
            return clone
        return type(elem)(fields)
    except TypeError:
        return fields


def _collate_sequence(batch, *, collate_fn_map):
    _same(batch, len, "length")
    fields = [collate(column, collate_fn_map=collate_fn_map) for column in zip(*batch)]
    elem = batch[0]
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*fields)
    if isinstance(elem, tuple):
        return fields  # a list, as PyTorch's (batch[0] = batch[0].cuda() works)
    return _sequence_like(elem, fields)


def _sequence_like(elem: Sequence, fields: list) -> Sequence:
    """``fields`` in a sequence of ``elem``'s type, as PyTorch's collation builds it: a mutable one is a copy of
    ``elem`` with the fields set (a list subclass keeps its type), another is built from the list, and a type that
    allows neither gives the list."""
    if type(elem) is list:
        return fields
    try:
        if isinstance(elem, MutableSequence):
            clone = copy.copy(elem)
            for i, field in enumerate(fields):
                clone[i] = field
            return clone
        return type(elem)(fields)
    except TypeError:
        return fields


collate_fn_map: dict[type, CollateFn] = {
    Tensor: _collate_tensor,
    np.ndarray: _collate_array,
    np.generic: _collate_numpy_scalar,
    bool: _collate_numbers,
    int: _collate_numbers,
    float: _collate_numbers,
    str: _collate_list_of,
    bytes: _collate_list_of,
    type(None): _collate_none,
    Mapping: _collate_mapping,
    dict: _collate_mapping,
    tuple: _collate_sequence,
    list: _collate_sequence,
    Sequence: _collate_sequence,
}

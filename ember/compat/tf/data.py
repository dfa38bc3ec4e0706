"""``tf.data`` for TF-1 scripts: a ``Dataset`` pipeline run in Python over NumPy arrays, and iterators whose
``get_next()`` tensors a Session fills with the next element on every run that needs them.

>>> dataset = tf.data.Dataset.from_tensor_slices((images, labels)).shuffle(1000).batch(32).repeat()
>>> x, y = dataset.make_one_shot_iterator().get_next()
>>> loss = model(x, y)          # sess.run(train) draws the next batch
>>> it = tf.data.Dataset.from_tensor_slices(placeholder).batch(8).make_initializable_iterator()
>>> sess.run(it.initializer, {placeholder: data})

A ``map`` or ``filter`` function written with tf ops runs through a small Session of its own, once per element.
The end of an iterator raises ``tf.errors.OutOfRangeError``.
"""

from __future__ import annotations

import builtins
import itertools
import os
import types
from collections import abc
from collections.abc import Callable

import numpy as np

from ember import random as _random
from ember.compat.tf._core import (
    Graph,
    Operation,
    Tensor,
    TensorShape,
    as_tf_dtype,
    constant_dtype,
    get_default_graph,
    placeholder,
)
from ember.compat.tf.array_ops import stack
from ember.compat.tf.errors import FailedPreconditionError, InvalidArgumentError, OutOfRangeError
from ember.compat.tf.host_ops import py_func
from ember.compat.tf.session import Session

__all__ = ["Dataset", "Iterator", "OutOfRangeError", "experimental", "make_initializable_iterator",
           "make_one_shot_iterator"]


AUTOTUNE = -1  # tf.data.experimental.AUTOTUNE


# --- element structures: arrays in tuples and dicts --------------------------------------------------------------


def _leaves(tree) -> list:
    if isinstance(tree, tuple):
        return [leaf for item in tree for leaf in _leaves(item)]
    if isinstance(tree, dict):
        return [leaf for key in sorted(tree) for leaf in _leaves(tree[key])]
    return [tree]


def _skeleton(structure):
    """An element structure with None for every component, to compare two structures."""
    return _rebuild(structure, itertools.repeat(None))


def _rebuild(like, leaves: abc.Iterator):
    if isinstance(like, tuple):
        return tuple(_rebuild(item, leaves) for item in like)
    if isinstance(like, dict):
        built = {key: _rebuild(like[key], leaves) for key in sorted(like)}
        return {key: built[key] for key in like}
    return next(leaves)


def _structure(value):
    """A dataset's element structure: lists become tuples (as in TF), other values stay."""
    if isinstance(value, (tuple, list)):
        return tuple(_structure(v) for v in value)
    if isinstance(value, dict):
        return {k: _structure(v) for k, v in value.items()}
    return value


def _input_structure(value):
    """The structure of ``from_tensor_slices``/``from_tensors``' argument: a list is one component (TF-1
    converts it to a tensor: ``[1, 2, 3]`` is an int32 vector, ``[t1, t2]`` the tensors stacked), not a level
    of nesting."""
    if isinstance(value, list):  # tf tensors in it are packed, as tf.convert_to_tensor packs them
        return _packed(value) if any(isinstance(leaf, Tensor) for leaf in _leaves(_structure(value))) else (
            _as_array(value))
    if isinstance(value, (tuple, list)):
        return tuple(_input_structure(v) for v in value)
    if isinstance(value, dict):
        return {k: _input_structure(v) for k, v in value.items()}
    return value


def _packed(value):
    """A list (of lists) of tf tensors and values as one tensor, stacked along a new first axis."""
    return stack([_packed(v) if isinstance(v, list) else v for v in value]) if isinstance(value, list) else value


def _as_array(value) -> np.ndarray:
    """A value as ``tf.constant`` converts it: NumPy arrays and scalars keep their dtype, Python floats become
    float32, ints int32 (int64 for one outside int32's range)."""
    return np.asarray(value, dtype=constant_dtype(value))


class _Spec:
    """The static shape (None: unknown) and dtype of one component of a dataset's elements."""

    def __init__(self, shape, dtype):
        self.shape = None if shape is None else tuple(shape)
        self.dtype = np.dtype(dtype)


def _spec_of(value) -> _Spec:
    if isinstance(value, Tensor):
        return _Spec(value._shape, value.dtype)
    array = _as_array(value)
    return _Spec(array.shape, array.dtype)


# --- datasets ----------------------------------------------------------------------------------------------------


class Dataset:
    """A sequence of elements (a NumPy array, or tuples and dicts of them), built with ``from_tensor_slices``,
    ``from_tensors``, ``range`` or ``from_generator`` and transformed by the methods
    below; iterate it with an iterator."""

    def __init__(self, make: Callable, structure, specs: list, sources: tuple = ()):
        self._make = make  # (values of the source tensors, a NumPy generator) -> an iterator over elements
        self._structure = structure  # the element structure, with None leaves
        self._specs = specs  # one _Spec per leaf
        self._sources = sources  # tf Tensors (placeholders) the elements are made from
        self._windows = False  # elements are structures of Datasets (Dataset.window), specs those of their elements

    # sources ------------------------------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors) -> Dataset:
        """The slices of ``tensors`` along their first dimension (all the same length), one element each."""
        structure = _input_structure(tensors)
        leaves = _leaves(structure)
        sources = tuple(t for t in leaves if isinstance(t, Tensor))
        specs = []
        for leaf in leaves:
            spec = _spec_of(leaf)
            if spec.shape is not None and len(spec.shape) == 0:
                raise ValueError("Dataset.from_tensor_slices: the components need a first dimension to slice, got "
                                 "a scalar")
            specs.append(_Spec(None if spec.shape is None else spec.shape[1:], spec.dtype))

        def make(values, rng):
            arrays = _resolve(leaves, values)
            lengths = {len(a) for a in arrays}
            if len(lengths) != 1:
                raise ValueError(f"Dataset.from_tensor_slices: the components have different first dimensions "
                                 f"{sorted(lengths)}")
            n = lengths.pop()
            return (_rebuild(structure, iter([a[i] for a in arrays])) for i in range(n))

        return Dataset(make, structure, specs, sources)

    @staticmethod
    def from_tensors(tensors) -> Dataset:
        """One element: ``tensors`` whole."""
        structure = _input_structure(tensors)
        leaves = _leaves(structure)
        sources = tuple(t for t in leaves if isinstance(t, Tensor))

        def make(values, rng):
            return iter([_rebuild(structure, iter(_resolve(leaves, values)))])

        return Dataset(make, structure, [_spec_of(leaf) for leaf in leaves], sources)

    @staticmethod
    def range(*args, output_type=np.int64) -> Dataset:
        """``range(stop)``, ``range(start, stop)`` or ``range(start, stop, step)`` as int64 scalars; the
        arguments are integers or tf integer scalars (read when the iterator starts)."""
        if not 1 <= len(args) <= 3:
            raise TypeError(f"Dataset.range: expected 1 to 3 arguments (start, stop, step), got {len(args)}")
        names = ("start", "stop", "step")[len(args) == 1:]
        bounds = [_count(a, "range", name) for a, name in zip(args, names)]
        if len(bounds) == 3 and not isinstance(bounds[2], Tensor) and bounds[2] == 0:
            raise ValueError("Dataset.range: step must not be zero")
        dtype = as_tf_dtype(output_type)

        def make(values, rng):
            given = [_counted(b, values, "range", name) for b, name in zip(bounds, names)]
            if len(given) == 3 and given[2] == 0:
                raise InvalidArgumentError(message="Dataset.range: step must not be zero")
            return (np.asarray(v, dtype) for v in builtins.range(*given))

        return Dataset(make, None, [_Spec((), dtype)], tuple(b for b in bounds if isinstance(b, Tensor)))

    @staticmethod
    def from_generator(generator: Callable, output_types, output_shapes=None, args=None) -> Dataset:
        """The elements a Python generator yields: ``generator(*args)`` is called on every pass (each start of an
        iterator, each ``repeat``), its values converted to ``output_types`` (a dtype, or tuples and dicts of
        them) and checked against ``output_shapes``, as TF-1; ``args`` (arrays or tf tensors, read when the
        iterator starts) reach it as NumPy arrays."""
        if not callable(generator):
            raise TypeError(f"Dataset.from_generator: generator must be a callable, got {type(generator).__name__}")
        types_ = _structure(output_types)
        dtypes = [as_tf_dtype(t) for t in _leaves(types_)]
        shapes = _shapes_like(types_, output_shapes, "Dataset.from_generator")
        structure = _rebuild(types_, iter([None] * len(dtypes)))
        arguments = [] if args is None else list(args) if isinstance(args, (tuple, list)) else [args]
        for a in arguments:
            if isinstance(a, (tuple, list, dict)) and any(isinstance(x, Tensor) for x in _leaves(_structure(a))):
                raise TypeError("Dataset.from_generator: each of args must be one tensor or array, got a nested "
                                f"{type(a).__name__}")
        specs = [_Spec(sh, dt) for sh, dt in zip(shapes, dtypes)]

        def make(values, rng):
            made = generator(*_resolve(arguments, values))
            if not isinstance(made, abc.Iterable):
                raise TypeError(f"Dataset.from_generator: generator() must return an iterable (a generator), got "
                                f"{type(made).__name__}")
            for value in made:
                parts = _yielded(types_, value, types_)
                arrays = []
                for part, spec in zip(parts, specs):
                    try:
                        array = np.asarray(part, dtype=spec.dtype)
                    except (TypeError, ValueError) as exc:
                        raise TypeError(f"Dataset.from_generator: the generator yielded {value!r}, whose component "
                                        f"{part!r} cannot be converted to {spec.dtype}") from exc
                    if not _compatible(spec.shape, array.shape):
                        raise ValueError(f"Dataset.from_generator: the generator yielded an element of shape "
                                         f"{list(array.shape)} where output_shapes says {list(spec.shape)} "
                                         f"(the element: {value!r})")
                    arrays.append(array)
                yield _rebuild(structure, iter(arrays))

        return Dataset(make, structure, specs, tuple(a for a in arguments if isinstance(a, Tensor)))

    @staticmethod
    def zip(datasets) -> Dataset:
        """Elements of the datasets side by side (a tuple or dict of datasets), until the shortest ends."""
        structure = _structure(datasets)
        parts = _leaves(structure)
        if not all(isinstance(d, Dataset) for d in parts):
            raise TypeError("Dataset.zip: expected a tuple or dict of Datasets")
        sources = tuple(s for d in parts for s in d._sources)

        def make(values, rng):
            return (_rebuild(structure, iter(items)) for items in zip(*[d._iterate(values, rng) for d in parts]))

        return Dataset(make, _rebuild(structure, iter([d._structure for d in parts])),
                       [s for d in parts for s in d._specs], sources)

    # transformations ----------------------------------------------------------------------------------------

    def _derived(self, make: Callable, structure=None, specs=None, counts: tuple = ()) -> Dataset:
        derived = Dataset(make, self._structure if structure is None else structure,
                          self._specs if specs is None else specs,
                          self._sources + tuple(c for c in counts if isinstance(c, Tensor)))
        derived._windows = self._windows
        return derived

    def _iterate(self, values: dict, rng: np.random.Generator):
        return self._make(values, rng)

    def batch(self, batch_size: int | Tensor, drop_remainder: bool = False) -> Dataset:
        """Consecutive elements stacked in groups of ``batch_size`` (the last group may be smaller)."""
        count = _count(batch_size, "batch", "batch_size", least=1)

        def make(values, rng):
            size = _counted(count, values, "batch", "batch_size", least=1)
            source = self._iterate(values, rng)
            while True:
                group = list(itertools.islice(source, size))
                if not group or (drop_remainder and len(group) < size):
                    return
                yield _stack(group)

        dim = count if drop_remainder and not isinstance(count, Tensor) else None
        return self._derived(make, specs=[_Spec(None if s.shape is None else (dim,) + s.shape, s.dtype)
                                          for s in self._specs], counts=(count,))

    def padded_batch(self, batch_size: int | Tensor, padded_shapes=None, padding_values=None,
                     drop_remainder: bool = False) -> Dataset:
        """Consecutive elements in groups of ``batch_size``, each component padded at the end of every dimension
        to its ``padded_shapes`` entry (a dimension None or -1: the longest in the group; ``padded_shapes``
        None: every dimension so) with its ``padding_values`` entry (0, False or '' by default), as TF-1."""
        count = _count(batch_size, "padded_batch", "batch_size", least=1)
        if padded_shapes is None:
            targets = [None if s.shape is None else (-1,) * len(s.shape) for s in self._specs]
        else:
            given = _per_component(self._structure, padded_shapes, "padded_shapes", _is_shape)
            targets = [_padded_shape(p, s, i) for i, (p, s) in enumerate(zip(given, self._specs))]
        if padding_values is None:
            pads = [_default_padding(s.dtype) for s in self._specs]
        else:
            given = _per_component(self._structure, padding_values, "padding_values", lambda v: True)
            pads = [_padding_value(v, s, i) for i, (v, s) in enumerate(zip(given, self._specs))]

        def make(values, rng):
            size = _counted(count, values, "padded_batch", "batch_size", least=1)
            fills = [values[id(p)] if isinstance(p, Tensor) else p for p in pads]
            source = self._iterate(values, rng)
            while True:
                group = list(itertools.islice(source, size))
                if not group or (drop_remainder and len(group) < size):
                    return
                columns = zip(*[_leaves(element) for element in group])
                padded = [_pad_group(i, list(parts), t, f) for i, (parts, t, f) in enumerate(zip(columns, targets,
                                                                                                  fills))]
                yield _rebuild(group[0], iter(padded))

        dim = count if drop_remainder and not isinstance(count, Tensor) else None
        specs = []
        for s, target in zip(self._specs, targets):
            inner = s.shape if padded_shapes is None else tuple(None if d < 0 else d for d in target)
            specs.append(_Spec(None if inner is None else (dim,) + inner, s.dtype))
        sources = self._sources + tuple(p for p in (count, *pads) if isinstance(p, Tensor))
        return Dataset(make, self._structure, specs, sources)

    def unbatch(self) -> Dataset:
        """Each element split along its first dimension (the same length in every component) into elements."""
        for i, spec in enumerate(self._specs):
            if spec.shape is not None and len(spec.shape) == 0:
                raise ValueError(f"Dataset.unbatch: component {i} is a scalar; every component needs a first "
                                 "dimension to split")

        def make(values, rng):
            for element in self._iterate(values, rng):
                parts = _leaves(element)
                lengths = {np.shape(p)[0] if np.ndim(p) else None for p in parts}
                if len(lengths) != 1 or None in lengths:
                    raise ValueError(f"Dataset.unbatch: an element's components have shapes "
                                     f"{[list(np.shape(p)) for p in parts]}, not one first dimension to split")
                for j in builtins.range(lengths.pop()):
                    yield _rebuild(element, iter([p[j] for p in parts]))

        return self._derived(make, specs=[_Spec(None if s.shape is None else s.shape[1:], s.dtype)
                                          for s in self._specs])

    def window(self, size: int, shift: int | None = None, stride: int = 1, drop_remainder: bool = False) -> Dataset:
        """Windows of ``size`` elements taken every ``stride``-th, a window starting every ``shift`` elements
        (default ``size``); each element is the window as a dataset (a tuple or dict of datasets, one per
        component, for such elements), to flatten with ``flat_map`` (``flat_map(lambda w: w.batch(size))``), as
        TF-1. The last windows may be shorter, unless ``drop_remainder``."""
        size = _count(size, "window", "size", least=1)
        shift = size if shift is None else _count(shift, "window", "shift", least=1)
        stride = _count(stride, "window", "stride", least=1)
        if any(isinstance(c, Tensor) for c in (size, shift, stride)):
            raise TypeError("Dataset.window: size, shift and stride must be known while the graph is built (ints "
                            "or tf constants)")
        if self._windows:
            raise TypeError("Dataset.window: the elements are windows already; flatten them with flat_map first")

        def window_of(picked: list):
            columns = zip(*[_leaves(element) for element in picked])
            return _rebuild(self._structure, iter([Dataset.from_tensor_slices(np.stack(c)) for c in columns]))

        def make(values, rng):
            source = self._iterate(values, rng)
            buffer: list = []  # input elements from number `first` on
            first = start = 0
            ended = False
            while True:
                last = start + (size - 1) * stride
                while not ended and first + len(buffer) <= last:
                    try:
                        buffer.append(next(source))
                    except StopIteration:
                        ended = True
                picked = [buffer[i - first] for i in builtins.range(start, last + 1, stride)
                          if i - first < len(buffer)]
                if not picked or (drop_remainder and len(picked) < size):
                    return
                yield window_of(picked)
                start += shift
                dropped = builtins.min(start - first, len(buffer))
                del buffer[:dropped]
                first += dropped

        windows = self._derived(make)
        windows._windows = True
        return windows

    def enumerate(self, start: int = 0) -> Dataset:
        """``(index, element)`` pairs, the index an int64 scalar counting from ``start``."""
        first = int(start)

        def make(values, rng):
            return ((np.asarray(i, np.int64), element)
                    for i, element in zip(itertools.count(first), self._iterate(values, rng)))

        return self._derived(make, (None, self._structure), [_Spec((), np.int64)] + list(self._specs))

    def apply(self, transformation_func: Callable) -> Dataset:
        """``transformation_func(self)``, which must give a Dataset (``tf.data.experimental.unbatch()``...)."""
        out = transformation_func(self)
        if not isinstance(out, Dataset):
            raise TypeError(f"Dataset.apply: transformation_func must return a Dataset, got {type(out).__name__}")
        return out

    def shuffle(self, buffer_size: int | Tensor, seed=None, reshuffle_each_iteration: bool = True) -> Dataset:
        """Elements in random order, drawn from a buffer of ``buffer_size`` refilled from the input (TF's
        rule: a buffer as large as the dataset shuffles it uniformly). With a ``seed``, every start of an
        iterator (a one-shot iterator in a new Session, an initializer run) gives the same orders, as in TF-1;
        the epochs of one start differ unless ``reshuffle_each_iteration`` is False."""
        count = _count(buffer_size, "shuffle", "buffer_size", least=1)
        seed = None if seed is None else int(seed)
        key = object()  # this shuffle's entry in the state of an iterator's start

        def make(values, rng):
            size = _counted(count, values, "shuffle", "buffer_size", least=1)
            state = values.shuffles
            if key not in state:
                source = rng if seed is None else np.random.default_rng(seed)
                state[key] = source if reshuffle_each_iteration else int(source.integers(1 << 62))
            # (without reshuffling, every epoch in the order of the start's fixed seed)
            local = state[key] if reshuffle_each_iteration else np.random.default_rng(state[key])
            buffer = []
            for element in self._iterate(values, rng):
                buffer.append(element)
                if len(buffer) == size:
                    i = int(local.integers(len(buffer)))
                    buffer[i], buffer[-1] = buffer[-1], buffer[i]
                    yield buffer.pop()
            while buffer:
                i = int(local.integers(len(buffer)))
                buffer[i], buffer[-1] = buffer[-1], buffer[i]
                yield buffer.pop()

        return self._derived(make, counts=(count,))

    def repeat(self, count: int | Tensor | None = None) -> Dataset:
        """The dataset ``count`` times over (forever when None or -1)."""
        times = -1 if count is None else _count(count, "repeat", "count")

        def make(values, rng):
            n = _counted(times, values, "repeat", "count")
            for _ in (itertools.count() if n < 0 else builtins.range(n)):
                yield from self._iterate(values, rng)

        return self._derived(make, counts=(times,))

    def take(self, count: int | Tensor) -> Dataset:
        """The first ``count`` elements (all when -1)."""
        given = _count(count, "take", "count")

        def make(values, rng):
            n = _counted(given, values, "take", "count")
            return itertools.islice(self._iterate(values, rng), None if n < 0 else n)

        return self._derived(make, counts=(given,))

    def skip(self, count: int | Tensor) -> Dataset:
        """All but the first ``count`` elements (none when -1, as TF)."""
        given = _count(count, "skip", "count")

        def make(values, rng):
            n = _counted(given, values, "skip", "count")
            return iter(()) if n < 0 else itertools.islice(self._iterate(values, rng), n, None)

        return self._derived(make, counts=(given,))

    def shard(self, num_shards: int, index: int) -> Dataset:
        """Every ``num_shards``-th element from the ``index``-th on (worker ``index`` of ``num_shards``'s part)."""
        shards, first = int(num_shards), int(index)
        if shards < 1:
            raise ValueError(f"Dataset.shard: num_shards must be positive, got {num_shards}")
        if not 0 <= first < shards:
            raise ValueError(f"Dataset.shard: index must be in [0, num_shards={shards}), got {index}")
        return self._derived(lambda values, rng: itertools.islice(self._iterate(values, rng), first, None, shards))

    def prefetch(self, buffer_size) -> Dataset:
        """Accepted as in TF (elements are made when a Session run asks for them)."""
        return self

    def cache(self, filename: str = "") -> Dataset:
        """The elements of the first complete pass, kept in memory and given again by the later passes of the
        same iterator start (a ``repeat`` after it), as TF-1: ``shuffle(n).cache().repeat()`` repeats one order,
        and a random ``map`` before it is not drawn again. A pass left unfinished is not kept."""
        key = object()  # this cache's entry in the state of an iterator's start

        def make(values, rng):
            kept = values.caches.get(key)
            if kept is not None:
                yield from kept
                return
            elements = []
            for element in self._iterate(values, rng):
                elements.append(element)
                yield element
            values.caches.setdefault(key, elements)

        return self._derived(make)

    def concatenate(self, dataset: Dataset) -> Dataset:
        """This dataset's elements, then ``dataset``'s (of the same structure and dtypes; each shape the most
        specific one compatible with both, as TF-1)."""
        if _skeleton(self._structure) != _skeleton(dataset._structure) or any(
                a.dtype != b.dtype for a, b in zip(self._specs, dataset._specs)):
            raise TypeError(f"Dataset.concatenate: the datasets' elements differ in structure or dtype: "
                            f"{self.output_types} and {dataset.output_types}")

        def make(values, rng):
            yield from self._iterate(values, rng)
            yield from dataset._iterate(values, rng)

        specs = [_Spec(_most_specific(a.shape, b.shape), a.dtype) for a, b in zip(self._specs, dataset._specs)]
        return Dataset(make, self._structure, specs, self._sources + dataset._sources)

    def map(self, map_func: Callable, num_parallel_calls=None) -> Dataset:
        """Each element through ``map_func`` (called with the element's components as arguments when it is a
        tuple). A function of tf ops runs through a Session of its own; a NumPy function is called as it is."""
        apply, structure, specs = _traced(self, map_func, "map")

        def make(values, rng):
            return (apply(element) for element in self._iterate(values, rng))

        return Dataset(make, structure, specs, self._sources)  # (a structure of one component is None)

    def flat_map(self, map_func: Callable) -> Dataset:
        """The elements of the dataset ``map_func`` makes of each element, one dataset after the other."""
        open_, structure, specs, outer = _dataset_function(self, map_func, "flat_map")

        def make(values, rng):
            for element in self._iterate(values, rng):
                yield from open_(element, values, rng)

        return Dataset(make, structure, specs, self._sources + outer)

    def interleave(self, map_func: Callable, cycle_length: int = AUTOTUNE, block_length: int = 1,
                   num_parallel_calls=None) -> Dataset:
        """The datasets ``map_func`` makes of ``cycle_length`` elements at a time, taken ``block_length``
        elements from each in turn; one that ends gives its place in the cycle to the next input element, in
        TF-1's order (AUTOTUNE: as many as the CPUs this process may use, as TF). ``num_parallel_calls`` gives
        the same order, as TF-1's deterministic parallel interleave."""
        cycle = _cpu_count() if cycle_length is None or int(cycle_length) == AUTOTUNE else int(cycle_length)
        block = int(block_length)
        if cycle < 1:
            raise ValueError(f"Dataset.interleave: cycle_length must be positive (or AUTOTUNE), got {cycle_length}")
        if block < 1:
            raise ValueError(f"Dataset.interleave: block_length must be positive, got {block_length}")
        if num_parallel_calls is not None and int(num_parallel_calls) != AUTOTUNE and not (
                1 <= int(num_parallel_calls) <= cycle):
            raise ValueError(f"Dataset.interleave: num_parallel_calls must be AUTOTUNE or from 1 to cycle_length "
                             f"{cycle}, got {num_parallel_calls}")
        open_, structure, specs, outer = _dataset_function(self, map_func, "interleave")

        def make(values, rng):
            source = self._iterate(values, rng)
            slots: list = [None] * cycle
            index = taken = opened = 0
            ended = False
            while not ended or opened:
                if slots[index] is not None:
                    try:
                        element = next(slots[index])
                    except StopIteration:  # this slot is free for the next input element
                        slots[index], opened = None, opened - 1
                        index, taken = (index + 1) % cycle, 0
                        continue
                    taken += 1
                    if taken == block:
                        index, taken = (index + 1) % cycle, 0
                    yield element
                elif not ended:
                    try:
                        element = next(source)
                    except StopIteration:
                        ended = True
                        continue
                    slots[index], opened = iter(open_(element, values, rng)), opened + 1
                else:
                    index, taken = (index + 1) % cycle, 0

        return Dataset(make, structure, specs, self._sources + outer)

    def filter(self, predicate: Callable) -> Dataset:
        """The elements for which ``predicate`` gives True (a scalar bool, tf ops or NumPy)."""
        apply, _, specs = _traced(self, predicate, "filter")
        if len(specs) != 1 or specs[0].dtype != np.bool_ or (specs[0].shape not in (None, ())):
            raise TypeError("Dataset.filter: the predicate must return a scalar bool")

        def make(values, rng):
            return (element for element in self._iterate(values, rng) if bool(apply(element)))

        return self._derived(make)

    def reduce(self, initial_state, reduce_func: Callable):
        """The state ``reduce_func(state, element)`` leaves after every element, from ``initial_state`` (arrays
        or tf tensors, in tuples and dicts): tf tensors that a Session run computes over a fresh pass (a state
        dimension that changes from element to element is unknown, as TF-1 relaxes it)."""
        structure = _input_structure(initial_state)
        leaves = _leaves(structure)
        specs = [_spec_of(leaf) for leaf in leaves]
        for _ in builtins.range(len(specs) + 2):  # relax the state's shapes until reduce_func keeps them
            step, out_specs = _reduce_step(self, structure, specs, reduce_func)
            if any(a.dtype != b.dtype for a, b in zip(specs, out_specs)):
                raise TypeError(f"Dataset.reduce: reduce_func returns a state of dtypes "
                                f"{[str(s.dtype) for s in out_specs]}, not the initial state's "
                                f"{[str(s.dtype) for s in specs]}")
            relaxed = [_Spec(_most_specific(a.shape, b.shape), a.dtype) for a, b in zip(specs, out_specs)]
            if all(a.shape == b.shape for a, b in zip(specs, relaxed)):
                break
            specs = relaxed
        states = [leaf for leaf in leaves if isinstance(leaf, Tensor)]
        sources = list(self._sources)

        def run(*arrays):
            values = dict(zip([id(t) for t in sources], arrays[:len(sources)]))
            given = iter(arrays[len(sources):])
            state = [next(given) if isinstance(leaf, Tensor) else _as_array(leaf) for leaf in leaves]
            for element in self._iterate(_Pass(values), _random.generator()):
                state = step(state, element)
            return state

        outputs = py_func(run, sources + states, [s.dtype for s in specs], name="ReduceDataset")
        for t, spec in zip(outputs, specs):
            if spec.shape is not None:
                t.set_shape(spec.shape)
        return _rebuild(structure, iter(outputs))

    # iterators ----------------------------------------------------------------------------------------------

    @property
    def output_types(self):
        return _rebuild(self._structure, iter([s.dtype for s in self._specs]))

    @property
    def output_shapes(self):
        """The static shape of each component: a TensorShape, or None where even the rank is unknown."""
        return _rebuild(self._structure, iter([_tensor_shape(s.shape) for s in self._specs]))

    @property
    def output_classes(self):
        """The class of each component: ``tf.Tensor``, as TF-1 gives for dense components."""
        return _rebuild(self._structure, iter([Tensor] * len(self._specs)))

    def make_one_shot_iterator(self) -> Iterator:
        """An iterator that starts on its first use in a Session, computing the tf tensors the dataset reads
        (constants...) then; it cannot read placeholders: use an initializable one."""
        fed = _placeholders_read(self._sources)
        if fed:
            raise ValueError("make_one_shot_iterator: the dataset reads placeholders "
                             f"({', '.join(t.name for t in fed)}); use make_initializable_iterator and "
                             "run its initializer with their values")
        return Iterator(self, initializable=False)

    def make_initializable_iterator(self, shared_name=None) -> Iterator:
        """An iterator that (re)starts when a Session runs its ``initializer`` (with the feeds of the
        placeholders the dataset reads)."""
        return Iterator(self, initializable=True)


def make_one_shot_iterator(dataset: Dataset) -> Iterator:
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset: Dataset, shared_name=None) -> Iterator:
    return dataset.make_initializable_iterator()


def _placeholders_read(tensors) -> list:
    """The placeholders that ``tensors`` are computed from."""
    found, seen, todo = [], set(), list(tensors)
    while todo:
        t = todo.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.kind == "Placeholder":
            found.append(t)
        todo.extend(t.inputs)
    return found


def _count(value, what: str, arg: str, least: int | None = None) -> int | Tensor:
    """A count given to ``Dataset.<what>``: an int, or a tf integer scalar (a constant, or a tensor such as a
    placeholder that is computed when the iterator starts), as TF-1 takes them."""
    if isinstance(value, Tensor):
        if np.dtype(value.dtype).kind not in "iu":
            raise TypeError(f"Dataset.{what}: {arg} must be an integer, got tensor '{value.name}' of dtype "
                            f"{value.dtype}")
        if value._shape is not None and len(value._shape) != 0:
            raise ValueError(f"Dataset.{what}: {arg} must be a scalar, got tensor '{value.name}' of shape "
                             f"{list(value._shape)}")
        static = getattr(value, "static", None)
        if static is None:
            return value
        value = static
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Dataset.{what}: {arg} must be an integer (or a tf integer scalar), got {value!r}")
    if least is not None and value < least:
        raise ValueError(f"Dataset.{what}: {arg} must be at least {least}, got {value}")
    return int(value)


def _counted(count: int | Tensor, values: dict, what: str, arg: str, least: int | None = None) -> int:
    """A count's value in an iterator's start: a tensor's computed then (checked as ``_count`` checks an int)."""
    if not isinstance(count, Tensor):
        return count
    n = int(values[id(count)])
    if least is not None and n < least:
        raise InvalidArgumentError(message=f"Dataset.{what}: {arg} must be at least {least}, got {n} (tensor "
                                           f"'{count.name}')")
    return n


def _resolve(leaves: list, values: dict) -> list:
    return [values[id(leaf)] if isinstance(leaf, Tensor) else _as_array(leaf) for leaf in leaves]


def _stack(group: list):
    columns = [_leaves(element) for element in group]
    try:
        stacked = [np.stack(parts) for parts in zip(*columns)]
    except ValueError as exc:
        shapes = sorted({tuple(np.shape(c)) for parts in zip(*columns) for c in parts})
        raise ValueError(f"Dataset.batch: elements of different shapes {shapes} cannot be stacked") from exc
    return _rebuild(group[0], iter(stacked))


def _per_component(structure, given, what: str, is_leaf: Callable) -> list:
    """``given`` matched against the element ``structure`` (its tuples and dicts), one entry per component."""
    if isinstance(structure, tuple):
        if not isinstance(given, tuple) or isinstance(given, TensorShape) or len(given) != len(structure):
            raise ValueError(f"Dataset.padded_batch: {what} {given!r} does not match the structure of the elements "
                             f"(a tuple of {len(structure)} components)")
        return [leaf for st, g in zip(structure, given) for leaf in _per_component(st, g, what, is_leaf)]
    if isinstance(structure, dict):
        if not isinstance(given, dict) or set(given) != set(structure):
            raise ValueError(f"Dataset.padded_batch: {what} {given!r} does not match the structure of the elements "
                             f"(a dict of keys {sorted(structure)})")
        return [leaf for key in sorted(structure) for leaf in _per_component(structure[key], given[key], what,
                                                                               is_leaf)]
    if not is_leaf(given):
        raise ValueError(f"Dataset.padded_batch: expected a shape (a list of ints, None or -1) in {what} for a "
                         f"component, got {given!r}")
    return [given]


def _is_shape(value) -> bool:
    if hasattr(value, "as_list") and not isinstance(value, tuple):
        return False
    return isinstance(value, (tuple, list)) and all(
        d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool)) for d in value)


def _padded_shape(shape, spec: _Spec, i: int) -> tuple:
    """One component's padded shape (-1: the group's longest), checked against its static shape as TF-1 does."""
    target = tuple(-1 if d is None else int(d) for d in shape)
    if any(d < -1 for d in target):
        raise ValueError(f"Dataset.padded_batch: padded_shapes of component {i} has a dimension below -1: "
                         f"{list(shape)}")
    if spec.shape is not None and (len(spec.shape) != len(target) or any(
            d >= 0 and s is not None and s != d for d, s in zip(target, spec.shape))):
        raise ValueError(f"Dataset.padded_batch: the padded shape {list(shape)} of component {i} is not compatible "
                         f"with its shape {list(spec.shape)}")
    return target


def _default_padding(dtype: np.dtype):
    return np.zeros((), dtype)[()] if dtype.kind not in "USO" else np.asarray("" if dtype.kind == "U" else b"")[()]


def _padding_value(value, spec: _Spec, i: int):
    """A component's padding value: a scalar of its dtype (a Python number converted as tf.constant converts
    it, so an int pads int32 components only, as in TF-1), or a tf scalar tensor read when the iterator starts."""
    dtype, shape = (value.dtype, value._shape) if isinstance(value, Tensor) else (constant_dtype(value),
                                                                                  np.shape(value))
    if shape is not None and len(shape) != 0:
        raise ValueError(f"Dataset.padded_batch: padding_values of component {i} must be a scalar, got shape "
                         f"{list(shape)}")
    if np.dtype(dtype) != spec.dtype and not (np.dtype(dtype).kind in "USO" and spec.dtype.kind in "USO"):
        raise TypeError(f"Dataset.padded_batch: padding_values of component {i} has dtype {np.dtype(dtype)}, not "
                        f"the component's {spec.dtype} (give a value of that dtype, e.g. np.{spec.dtype}(...))")
    return value if isinstance(value, Tensor) else _as_array(value)[()]


def _pad_group(i: int, parts: list, target, fill) -> np.ndarray:
    """The arrays of one component in a group, padded to ``target`` (None: each dimension to the longest)."""
    ranks = {np.ndim(p) for p in parts}
    if target is None:
        if len(ranks) != 1:
            raise ValueError(f"Dataset.padded_batch: component {i} has elements of different ranks "
                             f"{sorted(ranks)}; give its padded_shapes")
        target = (-1,) * ranks.pop()
    elif ranks != {len(target)}:
        shapes = sorted({np.shape(p) for p in parts})
        raise ValueError(f"Dataset.padded_batch: component {i} has elements of shapes {shapes}, not of the rank "
                         f"of its padded shape {list(target)}")
    dims = tuple(d if d >= 0 else builtins.max(np.shape(p)[k] for p in parts) for k, d in enumerate(target))
    for p in parts:
        if any(n > d for n, d in zip(np.shape(p), dims)):
            raise ValueError(f"Dataset.padded_batch: an element of component {i} has shape {list(np.shape(p))}, "
                             f"larger than its padded shape {list(dims)}")
    dtype = np.result_type(*parts) if parts[0].dtype.kind in "US" else parts[0].dtype
    out = np.full((len(parts),) + dims, fill, dtype)
    for j, p in enumerate(parts):
        out[(j,) + tuple(slice(0, n) for n in np.shape(p))] = p
    return out


def _called_on_placeholders(dataset: Dataset, fn: Callable) -> tuple:
    """(a graph of its own, the element's placeholders there, ``fn`` of them, None), or ``(graph, inputs, None,
    the error)`` when ``fn`` is not a function of tf tensors."""
    graph = Graph()
    inputs: list = []
    try:
        with graph.as_default():
            inputs = [placeholder(s.dtype, s.shape) for s in dataset._specs]
            element = _rebuild(dataset._structure, iter(inputs))
            return graph, inputs, fn(*element) if isinstance(element, tuple) else fn(element), None
    except (TypeError, ValueError, AttributeError) as exc:  # not a function of tf tensors
        return graph, inputs, None, exc


def _traced(dataset: Dataset, fn: Callable, what: str):
    """(apply to an element, the result's structure, its specs) for a ``map``/``filter`` function: traced once
    on placeholders in a graph of its own; tf ops then run through a Session per element."""
    if dataset._windows:
        raise TypeError(f"Dataset.{what}: the elements are windows (datasets); use flat_map to turn each into "
                        "elements (flat_map(lambda w: w.batch(size)))")
    graph, inputs, out, failed = _called_on_placeholders(dataset, fn)
    structure = None if out is None else _structure(out)
    leaves = [] if out is None else _leaves(structure)
    if not any(isinstance(leaf, Tensor) for leaf in leaves):  # a NumPy function: call it on the arrays
        def call(value):
            result = _structure(fn(*value) if isinstance(value, tuple) else fn(value))
            made = [r.name for r in _leaves(result) if isinstance(r, Tensor)]
            if made:  # tf ops the trace refused, such as ones on tensors of the default graph
                raise TypeError(f"Dataset.{what}: the function gives tf tensors ({', '.join(made)}) that it cannot "
                                f"make on the element's placeholders ({failed}); build the tensors it uses (tf."
                                "constant...) inside the function, or use NumPy values") from failed
            return _rebuild(result, iter([_as_array(r) for r in _leaves(result)]))

        sample = _plain_sample(dataset, call)
        structure = _rebuild(sample, iter([None] * len(_leaves(sample))))
        # (the results' shapes may differ from element to element: they stay unknown)
        return call, structure, [_Spec(None, np.asarray(leaf).dtype) for leaf in _leaves(sample)]
    session = Session(graph=graph)
    tensors = [leaf for leaf in leaves if isinstance(leaf, Tensor)]

    def apply(value):
        feed = dict(zip(inputs, _leaves(value)))
        computed = iter(session.run(tensors, feed))
        return _rebuild(structure, iter([next(computed) if isinstance(leaf, Tensor) else _as_array(leaf)
                                         for leaf in leaves]))

    specs = [_spec_of(leaf) for leaf in leaves]
    return apply, structure, specs


def _dataset_function(dataset: Dataset, fn: Callable, what: str):
    """(an iterator over the dataset ``fn`` makes of an element, its structure, its specs, the tensors outside
    the function that it reads) for ``flat_map``/``interleave``: traced once on placeholders, the tf tensors
    of the dataset it returns computed per element by a Session of its own; a NumPy function is called on the
    element's arrays."""
    graph, inputs, out, failed = (None, [], None, None) if dataset._windows else _called_on_placeholders(dataset, fn)
    if out is not None:
        if not isinstance(out, Dataset):
            raise TypeError(f"Dataset.{what}: map_func must return a Dataset, got {type(out).__name__}")
        local = [t for t in out._sources if t.graph is graph]
        outer = tuple(t for t in out._sources if t.graph is not graph)
        session = Session(graph=graph) if local else None

        def traced(value, values, rng):
            state = _Pass(values)
            if local:
                state.update(zip([id(t) for t in local], session.run(local, dict(zip(inputs, _leaves(value))))))
            return out._iterate(state, rng)

        return traced, out._structure, out._specs, outer

    def call(value) -> Dataset:
        made = fn(*value) if isinstance(value, tuple) else fn(value)
        if not isinstance(made, Dataset):
            raise TypeError(f"Dataset.{what}: map_func must return a Dataset, got {type(made).__name__}")
        if made._sources:
            raise TypeError(f"Dataset.{what}: map_func makes a dataset of tf tensors "
                            f"({', '.join(t.name for t in made._sources)}) that it cannot make on the element's "
                            f"placeholders ({failed}); build them inside the function, or use NumPy values") from failed
        return made

    sample = _plain_sample(dataset, call)
    dtypes = [s.dtype for s in sample._specs]

    def plain(value, values, rng):
        made = call(value)
        if [s.dtype for s in made._specs] != dtypes:
            raise TypeError(f"Dataset.{what}: map_func made a dataset of dtypes {[str(s.dtype) for s in made._specs]}"
                            f", not those of its first one {[str(d) for d in dtypes]}")
        return made._iterate(_Pass(values), rng)

    structure = _rebuild(sample._structure, iter([None] * len(dtypes)))
    # (the datasets' shapes may differ from element to element: they stay unknown)
    return plain, structure, [_Spec(None, d) for d in dtypes], ()


def _reduce_step(dataset: Dataset, structure, specs: list, fn: Callable):
    """(state arrays, element -> the next state arrays; the next state's specs) for ``Dataset.reduce``:
    ``fn`` traced on placeholders and run through a Session of its own, or called on arrays."""
    graph, failed = Graph(), None
    try:
        with graph.as_default():
            state_in = [placeholder(s.dtype, s.shape) for s in specs]
            element_in = [placeholder(s.dtype, s.shape) for s in dataset._specs]
            out = fn(_rebuild(structure, iter(state_in)), _rebuild(dataset._structure, iter(element_in)))
    except (TypeError, ValueError, AttributeError) as exc:  # not a function of tf tensors
        out, failed = None, exc

    def check(result) -> list:
        result = _structure(result)
        parts = _leaves(result)
        if len(parts) != len(specs) or (isinstance(structure, (tuple, dict)) and not isinstance(result, type(
                structure))):
            raise TypeError(f"Dataset.reduce: reduce_func returns {result!r}, not a state of the initial state's "
                            f"structure ({len(specs)} components)")
        return parts

    if out is not None and any(isinstance(leaf, Tensor) for leaf in _leaves(_structure(out))):
        parts = check(out)
        session = Session(graph=graph)
        tensors = [p for p in parts if isinstance(p, Tensor)]

        def traced(state: list, element) -> list:
            computed = iter(session.run(tensors, dict(zip(state_in + element_in, state + _leaves(element)))))
            return [next(computed) if isinstance(p, Tensor) else _as_array(p) for p in parts]

        return traced, [_spec_of(p) for p in parts]

    def plain(state: list, element) -> list:
        result = fn(_rebuild(structure, iter(state)), element)
        made = [r.name for r in _leaves(_structure(result)) if isinstance(r, Tensor)]
        if made:
            raise TypeError(f"Dataset.reduce: reduce_func gives tf tensors ({', '.join(made)}) that it cannot make "
                            f"on placeholders ({failed}); build them inside the function, or use NumPy values")
        return [np.asarray(r, s.dtype) for r, s in zip(check(result), specs)]

    # (a NumPy function's states keep their dtypes; their shapes may change: they stay unknown)
    return plain, [_Spec(None, s.dtype) for s in specs]


def _most_specific(a, b):
    """The most specific shape compatible with both ``a`` and ``b`` (None where they differ)."""
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _plain_sample(dataset: Dataset, call: Callable):
    """A NumPy function's result on a zero element of the input's specs (unknown sizes as 1)."""
    zeros = [np.zeros(tuple(1 if d is None else d for d in (s.shape or ())), s.dtype) for s in dataset._specs]
    if dataset._windows:  # a window of one element
        zeros = [Dataset.from_tensor_slices(z[None]) for z in zeros]
    return call(_rebuild(dataset._structure, iter(zeros)))


# --- iterators ----------------------------------------------------------------------------------------------------


class Iterator:
    """Hands out a dataset's elements: ``get_next()`` gives tf tensors that a Session run needing them fills
    with the next element (one element per run, shared by all of its components). ``from_structure`` makes one
    that any dataset of that structure can (re)start through ``make_initializer(dataset)``."""

    def __init__(self, dataset: Dataset | None, initializable: bool, structure=None, specs=None):
        _not_windows(dataset)
        self.graph = get_default_graph()
        self.initializable = initializable
        self.structure = dataset._structure if dataset is not None else structure
        self.specs = dataset._specs if dataset is not None else specs
        self.dataset = dataset
        self.initializer = self.make_initializer(dataset) if dataset is not None and initializable else None
        self._next = None
        self.graph.iterators.append(self)

    @staticmethod
    def from_structure(output_types, output_shapes=None, shared_name=None, output_classes=None) -> Iterator:
        """An iterator of elements of this structure, started on a dataset by running
        ``make_initializer(dataset)``."""
        types_ = _structure(output_types)
        dtypes = [as_tf_dtype(t) for t in _leaves(types_)]
        shapes = _shapes_like(types_, output_shapes)
        structure = _rebuild(types_, iter([None] * len(dtypes)))
        return Iterator(None, True, structure, [_Spec(sh, dt) for sh, dt in zip(shapes, dtypes)])

    def make_initializer(self, dataset: Dataset, name: str | None = None) -> Operation:
        """The op that starts this iterator on ``dataset`` (whose elements must match its structure)."""
        _not_windows(dataset)
        if _skeleton(dataset._structure) != _skeleton(self.structure) or any(
                a.dtype != b.dtype or not _compatible(a.shape, b.shape) for a, b in zip(dataset._specs, self.specs)):
            raise TypeError(f"make_initializer: the dataset's elements (types {dataset.output_types}, shapes "
                            f"{dataset.output_shapes}) do not match the iterator's (types {self.output_types}, "
                            f"shapes {self.output_shapes})")
        init = Operation(None, (), name=name or "MakeIterator", kind="IteratorInit")
        init.iterator, init.dataset, init.args = self, dataset, tuple(dataset._sources)
        return init

    @property
    def output_types(self):
        return _rebuild(self.structure, iter([s.dtype for s in self.specs]))

    @property
    def output_shapes(self):
        """The static shape of each component: a TensorShape, or None where even the rank is unknown."""
        return _rebuild(self.structure, iter([_tensor_shape(s.shape) for s in self.specs]))

    @property
    def output_classes(self):
        """The class of each component: ``tf.Tensor``, as TF-1 gives for dense components."""
        return _rebuild(self.structure, iter([Tensor] * len(self.specs)))

    def get_next(self, name: str | None = None):
        """The next element as tf tensors (the same tensors on every call, as the element they stand for is
        the one of the run)."""
        if self._next is None:
            tensors = []
            for i, s in enumerate(self.specs):  # the outputs of one op: IteratorGetNext:0, IteratorGetNext:1...
                tensors.append(Tensor(None, name=name or "IteratorGetNext", shape=s.shape, dtype=s.dtype,
                                      kind="IteratorGetNext", graph=self.graph,
                                      output_of=(tensors[0], i) if tensors else None))
            for t in tensors:
                t.iterator = self
            self._next = tensors
        return _rebuild(self.structure, iter(self._next))

    @staticmethod
    def start(dataset: Dataset, values: dict) -> abc.Iterator:
        """A fresh pass over ``dataset``, its placeholders' values given (id -> array)."""
        return iter(dataset._iterate(_Pass(values), _random.generator()))

    def next_values(self, state: dict) -> list:
        """The next element's arrays, one per ``get_next`` tensor; ``state`` holds this session's passes."""
        running = state.get(self)
        if running is None:
            raise FailedPreconditionError(message="GetNext() failed because the iterator has not been "
                                          "initialized: run its initializer (or make_initializer(dataset)) first")
        try:
            element = next(running)
        except StopIteration:
            raise OutOfRangeError(message="End of sequence") from None
        return _leaves(element)


def _not_windows(dataset: Dataset | None) -> None:
    if dataset is not None and dataset._windows:
        raise TypeError("Iterator: the dataset's elements are windows (datasets), which an iterator cannot give; "
                        "flatten them with flat_map (flat_map(lambda w: w.batch(size)))")


class _Pass(dict):
    """The values of the placeholders a dataset reads (id -> array) for one start of an iterator, and the state
    its shuffles keep for that start (TF-1 keeps it in the iterator, so a seeded shuffle starts over with it)."""

    def __init__(self, values: dict):
        super().__init__(values)
        self.shuffles: dict = {}
        self.caches: dict = {}  # the elements of each cache's first complete pass


def _yielded(types_, value, whole) -> list:
    """The components of a generator's ``value`` matched against ``output_types`` (tuples and dicts; a list
    is one component, as in TF-1's tf.data)."""
    if isinstance(types_, tuple):
        if not isinstance(value, tuple) or len(value) != len(types_):
            raise TypeError(f"Dataset.from_generator: the generator yielded {value!r}, which does not match the "
                            f"structure of output_types {whole} (a tuple of {len(types_)} there)")
        return [leaf for t, v in zip(types_, value) for leaf in _yielded(t, v, whole)]
    if isinstance(types_, dict):
        if not isinstance(value, abc.Mapping) or set(value) != set(types_):
            raise TypeError(f"Dataset.from_generator: the generator yielded {value!r}, which does not match the "
                            f"structure of output_types {whole} (a dict of keys {sorted(types_)} there)")
        return [leaf for key in sorted(types_) for leaf in _yielded(types_[key], value[key], whole)]
    return [value]


def _shapes_like(types_, shapes, what: str = "Iterator.from_structure") -> list:
    """The shape (a tuple of ints and Nones, or None: unknown) of each leaf of the structure ``types_``, from
    ``shapes`` matched against it as TF-1 does: a None where ``types_`` has a tuple or dict leaves all of its
    shapes unknown (so ``(None, None)`` is two unknown shapes for two components)."""
    if shapes is None:
        return [None] * len(_leaves(types_))
    if isinstance(types_, (tuple, dict)):
        shapes = _structure(shapes)
        if isinstance(types_, tuple) and isinstance(shapes, tuple) and len(shapes) == len(types_):
            return [leaf for t, sh in zip(types_, shapes) for leaf in _shapes_like(t, sh, what)]
        if isinstance(types_, dict) and isinstance(shapes, dict) and set(shapes) == set(types_):
            return [leaf for key in sorted(types_) for leaf in _shapes_like(types_[key], shapes[key], what)]
        raise ValueError(f"{what}: output_shapes {shapes} does not match the structure of "
                         f"output_types {types_}")
    if not isinstance(shapes, (tuple, list)) or not all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
        raise ValueError(f"{what}: expected a shape (a list of ints and Nones) for a component of "
                         f"type {types_}, got {shapes}")
    return [tuple(None if d is None else int(d) for d in shapes)]


def _tensor_shape(shape):
    return None if shape is None else TensorShape(shape)


def _compatible(a, b) -> bool:
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


# tf.data.experimental
experimental = types.SimpleNamespace(AUTOTUNE=AUTOTUNE, unbatch=lambda: Dataset.unbatch,
                                     enumerate_dataset=lambda start=0: lambda dataset: dataset.enumerate(start))

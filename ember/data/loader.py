"""DataLoader: batches from a dataset, read in a background thread while the training step runs."""

from __future__ import annotations

import itertools
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic

import numpy as np

from ember import random as _random
from ember.data.collate import default_collate, default_convert
from ember.data.dataset import IterableDataset, Subset, T_co, _defined_in, _generator_source, _items_reader
from ember.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from ember.grad_mode import GradMode, InferenceMode, is_grad_enabled, is_inference_mode_enabled

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


def _batch_reader(dataset) -> Callable | None:
    """A function reading a whole batch of rows at once (TensorDataset and Subsets of it), or None.

    None when a subclass overrides ``__getitem__`` or ``__getitems__`` below the class that defines the batch
    read: the samples are then what that override returns (a transform, say), which the batch read skips.
    """
    cls = type(dataset)
    if isinstance(dataset, Subset):
        if _defined_in(cls, "__getitem__") is not Subset or _defined_in(cls, "__getitems__") is not Subset:
            return None
        inner = _batch_reader(dataset.dataset)
        return None if inner is None else (lambda indices: inner(dataset._rows(indices)))
    take = getattr(dataset, "take_batch", None)
    take_owner = _defined_in(cls, "take_batch")
    if take is None or take_owner is None:
        return take
    for name in ("__getitem__", "__getitems__"):
        owner = _defined_in(cls, name)
        if owner is not None and cls.__mro__.index(owner) < cls.__mro__.index(take_owner):
            return None
    return take


def _start_context(context: str | BaseContext, num_workers: int) -> BaseContext:
    """The multiprocessing context that starts the workers, from a start method's name or a context object (as
    PyTorch's ``multiprocessing_context``); refused without workers, as PyTorch refuses it."""
    import multiprocessing  # here, so that importing ember.data does not import multiprocessing

    if num_workers == 0:
        raise ValueError(f"DataLoader: multiprocessing_context={context!r} is for worker processes; set "
                         "num_workers > 0")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context must be one of the start methods {methods}, "
                             f"got {context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("DataLoader: multiprocessing_context must be a start method's name or a multiprocessing "
                        f"context, got {type(context).__name__}")
    return context


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches.

    Batches come from ``batch_sampler`` (default: ``batch_size`` indices of ``sampler``, which defaults
    to a RandomSampler when ``shuffle`` else a SequentialSampler) and are built by ``collate_fn``
    (default ``default_collate``). With ``prefetch > 0`` a worker thread keeps up to ``prefetch``
    batches ready in a queue while the loop body runs; an exception raised while loading a batch re-raises in
    the loop (a ``next`` after it goes on with the following batch, as PyTorch's), and breaking out of the loop
    stops the thread. The thread's random draws (a dataset's augmentation)
    come from a generator of its own, seeded from Ember's global one when iteration starts, so they repeat run
    after run whatever the loop body draws meanwhile, and it runs in the grad mode in effect when iteration starts (a
    loop under ``no_grad`` reads its dataset under no_grad). With ``num_workers > 0`` (as in PyTorch)
    that many processes build the batches instead, ``prefetch`` (at least 1) batches ahead each, in
    order; each worker seeds Ember's, Python's and NumPy's global generators with its own seed, runs
    ``worker_init_fn(worker_id)``, and for an iterable dataset reads its own copy of the stream (shard it with
    ``get_worker_info()``).
    ``timeout`` (seconds, 0 = none) bounds the wait for a worker's batch. ``generator`` (a seed, a NumPy or Ember
    generator) drives the shuffling and the workers' seeds instead of the global one, as PyTorch's;
    ``prefetch_factor`` sets the batches each worker keeps ready. Dropping the iterator, or an
    exception such as Ctrl-C in the loop, stops the thread or workers without waiting on a stuck
    dataset. Shuffling draws from Ember's global generator when iteration starts, so
    ``ember.manual_seed`` makes it reproducible. A TensorDataset (or a Subset of one) with the default
    collation is read one indexing per array per batch. ``batch_size=None`` turns batching off, as in
    PyTorch: each sample comes as it is, through ``collate_fn`` (default ``default_convert``).

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    >>> for xb, yb in loader:
    ...     loss = step(xb, yb)
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable | None = None, batch_sampler: Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Callable | None = None,
                 multiprocessing_context: str | BaseContext | None = None, generator=None, *,
                 prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True,
                 prefetch: int = 2):
        # PyTorch's signature, positions included. pin_memory, pin_memory_device and in_order are accepted as they
        # change no value here (batches are CPU arrays, delivered in order); persistent_workers as workers are
        # started per epoch, so worker_init_fn runs each epoch.
        if prefetch_factor is not None:
            if num_workers == 0:
                raise ValueError("DataLoader: prefetch_factor is for worker processes; set num_workers > 0 (or use "
                                 "prefetch= for the background thread)")
            prefetch = prefetch_factor
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        self.pin_memory, self.persistent_workers, self.generator = bool(pin_memory), bool(persistent_workers), generator
        # one source for the shuffling and the workers' seeds, so an int seed advances across epochs
        self._generator = _generator_source(generator)
        shuffle = bool(shuffle)
        if not isinstance(prefetch, int) or isinstance(prefetch, bool) or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be a non-negative int, got {prefetch!r}")
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"DataLoader: timeout must be a non-negative number of seconds, got {timeout!r}")
        self.num_workers, self.worker_init_fn, self.timeout = num_workers, worker_init_fn, timeout
        self.multiprocessing_context = None if multiprocessing_context is None else _start_context(
            multiprocessing_context, num_workers)
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self._batching = batch_size is not None or batch_sampler is not None
        if not self._batching and drop_last:
            raise ValueError("DataLoader: batch_size=None (no batching) excludes drop_last=True")
        default = default_collate if self._batching else default_convert
        self.collate_fn = default if collate_fn is None else collate_fn
        self.prefetch = prefetch
        self.prefetch_factor = prefetch if num_workers > 0 else None  # PyTorch's attribute: None without workers
        self.sampler = None
        self.batch_sampler = None
        self._iterable = isinstance(dataset, IterableDataset) or not hasattr(dataset, "__getitem__")
        if self._iterable:
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an iterable dataset takes no shuffle, sampler or batch_sampler")
            if self._batching:
                BatchSampler([], batch_size, drop_last)  # validates batch_size
            self._take = None
            self._initialized = True
            return
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler excludes batch_size, shuffle, sampler and drop_last")
            self.batch_size = None
            sampler = SequentialSampler(dataset)  # PyTorch's loader.sampler then (len(loader.sampler) counts samples)
        else:
            if sampler is not None and shuffle:
                raise ValueError("DataLoader: give either shuffle=True or a sampler, not both")
            if sampler is None:
                sampler = RandomSampler(dataset, generator=self._generator) if shuffle else SequentialSampler(dataset)
            if self._batching:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._take = _batch_reader(dataset) if self.collate_fn is default_collate else None
        self._initialized = True

    _FIXED = frozenset(("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers"))

    def __setattr__(self, name: str, value) -> None:
        """As PyTorch's: what the batches were built from cannot change after ``__init__`` (an error, not ignored);
        a new ``collate_fn`` is used from the next iteration on (the TensorDataset batch read only with the default
        collation)."""
        if name in self._FIXED and self.__dict__.get("_initialized", False):
            raise ValueError(f"DataLoader: the {name} attribute should not be set after the DataLoader is "
                             "initialized; build a new DataLoader")
        super().__setattr__(name, value)
        if name == "collate_fn" and self.__dict__.get("_initialized", False):
            self._take = None if self._iterable or value is not default_collate else _batch_reader(self.dataset)

    def __len__(self) -> int:
        if not self._iterable:
            return len(self.batch_sampler if self._batching else self.sampler)
        if not hasattr(self.dataset, "__len__"):
            raise TypeError("len(DataLoader): the iterable dataset has no __len__")
        n = len(self.dataset)
        if not self._batching:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        # Start the sampler (or the stream) here, in the caller's thread, so its random draws happen now.
        if self.num_workers > 0:
            from ember.data.workers import WorkerIterator

            return WorkerIterator(self, None if self._iterable else self._index_batches(), self.prefetch)
        source = self._stream_batches(iter(self.dataset)) if self._iterable else self._map_batches(
            self._index_batches())
        if self.prefetch == 0:
            return source
        # the thread draws from a generator of its own, seeded from the global one now (as PyTorch's iterators draw
        # their base seed): the dataset's draws and the training thread's keep their order, run after run; it runs in
        # the grad mode of this call (a loop under no_grad reads its dataset under no_grad, as PyTorch's in-thread
        # loading does)
        mode = InferenceMode(True) if is_inference_mode_enabled() else GradMode(is_grad_enabled())
        return _Prefetcher(source, self.prefetch, int(_random.generator().integers(2**63)), mode)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_take"] = None  # may be a closure; rebuilt where the loader is unpickled (a worker process)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if not self._iterable and self.collate_fn is default_collate:
            self._take = _batch_reader(self.dataset)

    def _index_batches(self) -> Iterator:
        """The batches' dataset indices (single indices without batching), drawn now."""
        return iter(self.batch_sampler if self._batching else self.sampler)

    def _fetch(self, indices) -> object:
        """The batch of the given dataset indices (the sample of one index without batching; as PyTorch, the
        sampler's item indexes the dataset as it is: a list of indices, a key). A dataset's ``__getitems__``
        reads a whole batch's samples where it has one, as in PyTorch."""
        if not self._batching:
            return self.collate_fn(self.dataset[indices])
        if self._take is not None:
            rows = np.asarray(indices)
            if rows.dtype.kind not in "iu" and rows.size:  # a cast to int64 would truncate 1.7 to row 1
                raise IndexError(f"DataLoader: the sampler gave the indices {rows.reshape(-1)[:4].tolist()} "
                                 f"(dtype {rows.dtype}); a dataset's rows are indexed by ints")
            return self._take(rows.astype(np.int64, copy=False))
        getitems = _items_reader(self.dataset)
        if getitems is not None:
            return self.collate_fn(getitems(list(indices)))
        return self.collate_fn([self.dataset[i] for i in indices])

    def _map_batches(self, index_batches: Iterator) -> Iterator:
        return _MapBatches(self, index_batches)

    def _stream_batches(self, samples: Iterator) -> Iterator:
        return _StreamBatches(self, samples)


class _MapBatches:
    """The batches of a map-style dataset, one index batch per ``next``. A batch whose reading raises is skipped by
    the next call, as PyTorch's loader goes on (a generator would end the epoch there)."""

    def __init__(self, loader: DataLoader, index_batches: Iterator):
        self._fetch, self._index_batches, self._loader = loader._fetch, index_batches, loader

    def __iter__(self) -> _MapBatches:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        return self._fetch(next(self._index_batches))


class _StreamBatches:
    """The batches of an iterable dataset's stream (``batch_size`` samples collated, the short last one unless
    ``drop_last``). A sample or collation that raises leaves the stream to the next call, as PyTorch's loader."""

    def __init__(self, loader: DataLoader, samples: Iterator):
        self._collate, self._samples, self._ended = loader.collate_fn, samples, False
        self._size = loader.batch_size if loader._batching else None
        self._drop_last, self._loader = loader.drop_last, loader

    def __iter__(self) -> _StreamBatches:
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self):
        if self._ended:
            raise StopIteration
        if self._size is None:
            return self._collate(next(self._samples))
        batch = list(itertools.islice(self._samples, self._size))
        if len(batch) < self._size:
            self._ended = True
            if not batch or self._drop_last:
                raise StopIteration
        return self._collate(batch)

    def close(self) -> None:
        """Close the dataset's iterator where it has ``close`` (a generator's ``finally`` runs now)."""
        close = getattr(self._samples, "close", None)
        if close is not None:
            close()


_BATCH, _END, _ERROR = 0, 1, 2
_POLL_S = 0.05
_JOIN_S = 1.0


def _put(q: queue.Queue, stop: threading.Event, message: tuple) -> bool:
    """Put into the bounded queue, giving up (False) once ``stop`` is set."""
    while not stop.is_set():
        try:
            q.put(message, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _fill(source: Iterator, q: queue.Queue, stop: threading.Event, seed: int,
          mode: GradMode | InferenceMode) -> None:
    """The worker: pull batches from ``source`` until it ends or the consumer stops; its random draws come from a
    generator of its own, seeded with ``seed``, and it records ops as the grad ``mode`` says."""
    try:
        with _random.own_generator(seed), mode:
            _fill_from(source, q, stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it; the epoch ends there
        if _put(q, stop, (_ERROR, exc)):
            _put(q, stop, (_END, None))
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


def _fill_from(source: Iterator, q: queue.Queue, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            message = (_BATCH, next(source))
        except StopIteration:
            _put(q, stop, (_END, None))
            return
        except Exception as exc:  # this batch failed: re-raised by its next(); the following ones still come
            message = (_ERROR, exc)
        if not _put(q, stop, message):
            return


class _Prefetcher:
    """An iterator over ``source`` that a daemon thread runs ahead of by up to ``depth`` items.

    The thread holds no reference to this object, so dropping the iterator (a ``break`` out of a for
    loop) runs ``__del__``, which stops and joins the thread.
    """

    def __init__(self, source: Iterator, depth: int, seed: int, mode: GradMode | InferenceMode):
        self._queue = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self._length = source.__len__
        self._thread = threading.Thread(target=_fill, args=(source, self._queue, self._stop, seed, mode),
                                        name="ember-data-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self) -> _Prefetcher:
        return self

    def __len__(self) -> int:
        """The loader's number of batches, as ``len(iter(loader))`` in PyTorch."""
        return self._length()

    def __next__(self):
        if self._done:
            raise StopIteration
        while True:
            # in short waits: Ctrl-C may reach another thread of the process, and a main thread blocked without a
            # timeout would not see it until a batch came (never, for a stuck dataset)
            try:
                kind, value = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                continue
        if kind == _BATCH:
            return value
        if kind == _ERROR:  # as PyTorch's loader, the iterator goes on to the next batch after the exception
            try:
                raise value
            finally:
                value = None  # its traceback holds this frame: no cycle keeping the iterator (and its thread) alive
        self._done = True
        self._thread.join()
        raise StopIteration

    def close(self) -> None:
        """Stop the worker thread: it exits after the batch it is loading. Waits at most a second, so a
        stuck dataset never hangs the program (the daemon thread is then left to finish on its own)."""
        self._done = True
        self._stop.set()
        if threading.current_thread() is self._thread:  # the last reference went in the thread (a batch's exception)
            return
        deadline = time.monotonic() + _JOIN_S
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=_POLL_S)

    def __del__(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self.close()

"""The global random generator: seeded by ``manual_seed``, saved and restored with its state (``fork_rng``
restores it after a block).

Two streams: ``generator()`` (a NumPy Generator: initialisation, shuffling, ``rand``/``randn``) and
``stream()``, the state of the generator that the ``random`` op draws from (dropout's masks, samples in
graphs). That state is an array the op takes as an input and advances in place, so a draw is an op like any
other in eager mode and in a graph.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable, Iterator

import numpy as np

_initial_seed = int(np.random.SeedSequence().entropy) % 2**64  # as PyTorch: a fresh seed per process
_generator = np.random.default_rng(_initial_seed)
_own = threading.local()  # a thread's own generator (``own_generator``: a DataLoader's prefetch thread), if any
_watching = threading.local()  # ``watch_generators``' records, innermost last


def _words(bit_generator: np.random.PCG64) -> np.ndarray:
    """A PCG64 state as four uint64 words: the 128-bit state, then the 128-bit increment."""
    state = bit_generator.state["state"]
    mask = (1 << 64) - 1
    return np.array([state["state"] >> 64, state["state"] & mask, state["inc"] >> 64, state["inc"] & mask],
                    np.uint64)


# seeded as manual_seed seeds it, so that manual_seed(initial_seed()) starts both streams over
_stream = _words(np.random.PCG64(np.random.SeedSequence(_initial_seed).spawn(1)[0]))
_default_generator = None  # ember.generator's default_generator, which that module (a layer above) registers here


def seed_value(name: str, seed) -> int:
    """``seed`` as the 64-bit seed PyTorch makes of it: an int in [-2**63, 2**64), a negative one taken modulo 2**64."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name}: seed must be an int, got {type(seed).__name__}")
    if not -(2 ** 63) <= int(seed) < 2 ** 64:
        raise ValueError(f"{name}: seed must be in [-2**63, 2**64), got {seed}")
    return int(seed) % 2 ** 64


def manual_seed(seed: int):
    """Seed Ember's global generators (initialisation, dropout, shuffling, ``rand``/``randn``); a negative seed is
    taken modulo 2**64, as PyTorch takes it. Returns ``ember.default_generator``, as ``torch.manual_seed`` returns
    its own (``g = ember.manual_seed(0)`` passes as ``generator=g``)."""
    global _generator, _initial_seed
    _initial_seed = seed_value("manual_seed", seed if isinstance(seed, (int, np.integer)) else int(seed))
    _generator = np.random.default_rng(_initial_seed)
    _stream[...] = _words(np.random.PCG64(np.random.SeedSequence(_initial_seed).spawn(1)[0]))
    return _default_generator


def seed() -> int:
    """Seed the global generators from fresh OS entropy and return the seed (``torch.seed``).

    >>> s = ember.seed(); ember.initial_seed() == s
    True
    """
    fresh = int(np.random.SeedSequence().entropy) % 2**64
    manual_seed(fresh)
    return fresh


def initial_seed() -> int:
    """The seed the global generators were last seeded with (by ``manual_seed``, ``seed`` or at import), as
    ``torch.initial_seed``."""
    return _initial_seed


def stream() -> np.ndarray:
    """The ``random`` op's generator state (uint64[4]); the same array for the life of the process."""
    return _stream


def seeded_stream(*seeds: int) -> np.ndarray:
    """A new generator state for the ``random`` op (uint64[4], as ``stream()``), fixed by ``seeds``."""
    return _words(np.random.PCG64(np.random.SeedSequence([int(s) for s in seeds])))


def load_stream(words, bit_generator: np.random.PCG64) -> np.random.PCG64:
    """``bit_generator`` set to the state held in ``words`` (as ``stream()`` holds it)."""
    hi, lo, inc_hi, inc_lo = (int(w) for w in words)
    state = {"state": (hi << 64) | lo, "inc": (inc_hi << 64) | inc_lo}
    bit_generator.state = {"bit_generator": "PCG64", "state": state, "has_uint32": 0, "uinteger": 0}
    return bit_generator


def store_stream(bit_generator: np.random.PCG64, words: np.ndarray) -> None:
    """Write ``bit_generator``'s state into ``words`` in place."""
    words[...] = _words(bit_generator)


def generator() -> np.random.Generator:
    """The global NumPy generator all of Ember's randomness draws from (in a thread inside ``own_generator``, that
    thread's own)."""
    own = getattr(_own, "generator", None)
    return _generator if own is None else own


@contextlib.contextmanager
def own_generator(seed: int) -> Iterator[None]:
    """Inside, this thread draws from a generator of its own seeded with ``seed`` where it would draw from the
    global one: a DataLoader's prefetch thread, whose draws (a dataset's random augmentation) would otherwise
    interleave with the training thread's in a different order each run."""
    _own.generator = np.random.default_rng(seed)
    try:
        yield
    finally:
        _own.generator = None


def numpy_generator(source=None) -> np.random.Generator:
    """The NumPy generator a ``generator=`` argument names: the global one for None, an ``ember.Generator``'s own,
    or a NumPy Generator as it is."""
    if source is None:
        return generator()
    found = source if isinstance(source, np.random.Generator) else getattr(source, "numpy_generator", None)
    if isinstance(found, np.random.Generator):
        if getattr(_watching, "records", None) and found is not _generator:
            for record in _watching.records:
                record.setdefault(id(found), (found, found.bit_generator.state))
        return found
    raise TypeError(f"generator must be None, an ember.Generator or a numpy.random.Generator, got "
                    f"{type(source).__name__}")


@contextlib.contextmanager
def watch_generators() -> Iterator[dict]:
    """Inside, the generators given as ``generator=`` (other than the global one, which ``get_rng_state`` covers)
    are recorded in the dict yielded, id -> (generator, its state before its first draw in the block): vmap's
    randomness rule restores or refuses their draws as it does the global generator's."""
    records = getattr(_watching, "records", None)
    if records is None:
        records = _watching.records = []
    record: dict = {}
    records.append(record)
    try:
        yield record
    finally:
        records.remove(record)


def uniform(rng: np.random.Generator, a: float, b: float, shape: tuple, dtype) -> np.ndarray:
    """U(a, b) samples in the real floating ``dtype``: uniforms in [0, 1) on the grid of its significand (24 bits for
    float32, 11 for float16, 8 for bfloat16, as PyTorch draws them), which rounding to the dtype cannot lift to 1, so
    ``rand`` stays below 1 (a float64 uniform rounded to float16 reached 1 once in 4096 draws, to bfloat16 once in
    512); float64 draws are NumPy's ``rng.uniform(a, b)``."""
    dtype = np.dtype(dtype)
    u = rng.random(shape)
    if dtype.itemsize < 8:
        digits = {2: 11, 4: 24}[dtype.itemsize] if dtype.kind == "f" else 8  # bfloat16's 8 bits
        u = np.floor(u * 2.0 ** digits) * 2.0 ** -digits
    return (u if (a, b) == (0.0, 1.0) else a + (b - a) * u).astype(dtype)


def exact_integers(dtype) -> tuple[int, int]:
    """The integers ``dtype`` holds exactly, [lowest, highest]: every one for an integer dtype, 0 and 1 for bool, up to
    2**digits either way for a floating one (2**24 for float32, 2**8 for bfloat16): the bounds PyTorch puts on
    ``randint``, ``randperm`` and ``random_``."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return 0, 1
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
    digits = {2: 11, 4: 24, 8: 53}[dtype.itemsize] if dtype.kind == "f" else 8  # bfloat16's 8 bits
    return -(2 ** digits), 2 ** digits


def get_rng_state() -> dict:
    """The generators' state and ``initial_seed()``, a plain dict (for checkpoints)."""
    state = dict(_generator.bit_generator.state)
    state["stream"] = [int(w) for w in _stream]
    state["seed"] = _initial_seed
    return state


def set_rng_state(state) -> None:
    """Restore a state from ``get_rng_state`` (and ``initial_seed()`` with it, as PyTorch), or the uint8 tensor of
    ``default_generator.get_state()``, which ``torch.set_rng_state`` takes."""
    global _initial_seed
    if not isinstance(state, dict):
        if _default_generator is None:
            raise TypeError(f"set_rng_state: expected the dict of get_rng_state(), got {type(state).__name__}")
        _default_generator.set_state(state)
        return
    state = dict(state)
    words, seeded = state.pop("stream", None), state.pop("seed", None)
    _generator.bit_generator.state = state
    if words is not None:
        _stream[...] = np.array(words, np.uint64)
    if seeded is not None:
        _initial_seed = int(seeded)


@contextlib.contextmanager
def fork_rng(devices: Iterable | None = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str | None = None) -> Iterator[None]:
    """Restore the generators' state on leaving the block (or decorated function), so draws inside it do not
    change what is drawn after it, nor ``initial_seed()`` (``torch.random.fork_rng``); ``enabled=False`` does
    nothing. ``devices`` and
    ``device_type`` are accepted for PyTorch's signature: GPU draws are seeded from the same global generator
    (``draw_seed``), which is restored whatever they name.

    >>> with ember.random.fork_rng():
    ...     a = ember.rand(2)
    >>> b = ember.rand(2)     # the same numbers as a
    """
    if not enabled:
        yield
        return
    global _initial_seed
    state, seeded = get_rng_state(), _initial_seed
    try:
        yield
    finally:
        set_rng_state(state)
        _initial_seed = seeded


def keep_mask(shape: tuple, p: float) -> np.ndarray:
    """Booleans, each True with probability ``1 - p``: dropout's mask, from the global generator.

    Each element compares 32 random bits with a threshold, two elements per 64-bit draw of the bit
    generator: twice as fast as comparing float64 uniforms, and as fine-grained as float32 ones.
    """
    n = math.prod(shape)
    bits = generator().bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n].reshape(shape)
    return bits >= keep_threshold(p)


def keep_threshold(p: float) -> np.uint32:
    """The 32-bit threshold that random bits reach with probability ``1 - p``."""
    return np.uint32(min(round(p * 2.0**32), 2**32 - 1))


def draw_seed() -> np.uint64:
    """64 random bits from the global generator: the seed of one counter-based draw on a GPU."""
    return np.uint64(generator().bit_generator.random_raw())

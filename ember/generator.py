"""``ember.Generator``: a random stream of its own for the calls that take ``generator=`` (``torch.Generator``):
samplers, ``random_split``, ``DataLoader``, ``rand``/``randn``/``randint``/``randperm``/``normal``/
``bernoulli``/``multinomial``, the in-place fills and ``nn.init``. ``default_generator`` is the global one.

>>> g = ember.Generator().manual_seed(42)
>>> train, val = ember.utils.data.random_split(dataset, [0.8, 0.2], generator=g)
"""

from __future__ import annotations

import json

import numpy as np

from ember import random as _random
from ember.backend.devices import Device
from ember.tensor import Tensor

__all__ = ["Generator", "default_generator"]

DEFAULT_SEED = 67280421310721  # PyTorch's seed of a new torch.Generator (c10's default_rng_seed_val)


class Generator:
    """An independent generator (``torch.Generator``), seeded with PyTorch's 67280421310721 until ``manual_seed``
    (so two new ones draw the same numbers, as PyTorch's do); ``manual_seed`` returns it, so
    ``ember.Generator().manual_seed(0)`` is one expression; ``get_state``/``set_state`` save and restore it."""

    def __init__(self, device="cpu"):
        self.device = Device(device)
        self._seed = DEFAULT_SEED  # as PyTorch: every new generator starts from one seed, until seeded
        self._rng = np.random.default_rng(self._seed)

    @property
    def numpy_generator(self) -> np.random.Generator:
        """The NumPy generator its draws come from."""
        return self._rng

    def manual_seed(self, seed: int) -> Generator:
        """Seed it (``seed`` an int, negative ones taken modulo 2**64 as PyTorch does); returns it."""
        self._seed = _random.seed_value("Generator.manual_seed", seed)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Seed it from fresh OS entropy; returns the seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy) % 2**64)._seed

    def initial_seed(self) -> int:
        """The seed it was last seeded with."""
        return self._seed

    def _state(self) -> dict:
        return {**self._rng.bit_generator.state, "seed": self._seed}

    def _load(self, state: dict) -> None:
        seeded = state.pop("seed", None)
        state.pop("stream", None)  # the default generator's dropout stream, which this one does not have
        self._rng.bit_generator.state = state
        if seeded is not None:
            self._seed = int(seeded)

    def get_state(self) -> Tensor:
        """Its state and initial seed as a uint8 tensor (``set_state`` takes it back)."""
        text = json.dumps(self._state())
        return Tensor._make(np.frombuffer(text.encode(), np.uint8).copy(), None)

    def set_state(self, new_state: Tensor) -> Generator:
        """Restore a state from ``get_state``, its initial seed with it as PyTorch; returns it."""
        array = new_state.array if isinstance(new_state, Tensor) else np.asarray(new_state)
        if array.dtype != np.uint8 or array.ndim != 1:
            raise TypeError(f"Generator.set_state: expected the uint8 tensor get_state returns, got "
                            f"{array.dtype}{list(array.shape)}")
        try:
            state = json.loads(bytes(np.asarray(array)).decode())
            self._load(dict(state))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"Generator.set_state: not a state from Generator.get_state ({exc})") from None
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator device={self.device}>"


class _DefaultGenerator(Generator):
    """The global generator seen as a Generator: seeding it is ``ember.manual_seed``."""

    def __init__(self):
        self.device = Device("cpu")

    @property
    def numpy_generator(self) -> np.random.Generator:
        return _random.generator()

    @property
    def _rng(self) -> np.random.Generator:
        return _random.generator()

    @property
    def _seed(self) -> int:
        return _random.initial_seed()

    def manual_seed(self, seed: int) -> Generator:
        _random.manual_seed(_random.seed_value("Generator.manual_seed", seed))
        return self

    def _state(self) -> dict:
        return _random.get_rng_state()  # with dropout's stream, which the global generator also drives

    def _load(self, state: dict) -> None:
        if "stream" not in state:  # a state of another Generator: the stream stays as it is
            state["stream"] = [int(w) for w in _random.stream()]
        _random.set_rng_state(state)


default_generator = _DefaultGenerator()
_random._default_generator = default_generator  # what manual_seed returns and set_rng_state restores into

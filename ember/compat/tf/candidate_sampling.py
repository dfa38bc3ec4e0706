"""TF-1's candidate samplers (``tf.random.log_uniform_candidate_sampler`` and its uniform and fixed-unigram
siblings): ``num_sampled`` classes drawn from a fixed distribution over ``[0, range_max)``, fresh on every
Session run from Ember's generator, with the expected counts that sampled losses subtract.

TF draws classes one at a time and, with ``unique=True``, rejects repeats until it has ``num_sampled``
distinct ones, counting every try. Here the distinct classes come from one race of exponential clocks
(class k's clock ``E_k / p_k``; the earliest ``num_sampled`` win, in order), which picks them with the same
law as TF's loop, and the tries are drawn from their own law: after ``i`` distinct classes of total probability
``P_i`` the next new class takes a geometric number of tries with success ``1 - P_i``. The expected count of
a class of probability ``p`` is then TF's: ``p * num_sampled`` when no try was rejected, else
``1 - (1 - p) ** num_tries``."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, float32, float64, int64, op, op_seeds
from ember.compat.tf.array_ops import RANDOM_TYPES
from ember.ops.effects import random_draw

__all__ = ["fixed_unigram_candidate_sampler", "log_uniform_candidate_sampler", "uniform_candidate_sampler"]


def _check(what: str, true_classes: Tensor, num_true: int, num_sampled: int, unique: bool, range_max: int):
    if int(range_max) < 1:
        raise ValueError(f"{what}: range_max must be positive, got {range_max}")
    if int(num_sampled) < 1:
        raise ValueError(f"{what}: num_sampled must be positive, got {num_sampled}")
    if unique and int(num_sampled) > int(range_max):
        raise ValueError(f"{what}: with unique=True num_sampled ({num_sampled}) cannot exceed range_max "
                         f"({range_max})")
    if true_classes.dtype is not None and true_classes.dtype.kind not in "iu":
        raise TypeError(f"{what}: true_classes must be an integer tensor, got {true_classes.dtype}")
    shape = true_classes.shape
    if shape is not None and (len(shape) != 2 or shape[1] not in (None, int(num_true))):
        raise ValueError(f"{what}: true_classes must have shape [batch_size, num_true={num_true}], got "
                         f"{list(shape)}")


def _draw(probs: np.ndarray, num_sampled: int, unique: bool, state=None):
    """(classes int64 [num_sampled], num_tries as a float64 scalar), inside a recipe being replayed; drawn from
    ``state`` (a seeded op's generator) when given."""
    p = ember.tensor(probs)
    if not unique:
        cdf = np.cumsum(probs)
        u = random_draw("uniform", (num_sampled,), float64, 0.0, float(cdf[-1]), state)
        classes = ember.minimum(ember.searchsorted(ember.tensor(cdf), u, right=True), len(probs) - 1)
        return classes, ember.tensor(np.float64(num_sampled))
    clocks = -ember.log1p(-random_draw("uniform", (len(probs),), float64, 0.0, 1.0, state))  # Exp(1), finite
    positive = ember.gt(p, 0.0)
    race = ember.where(positive, clocks / ember.where(positive, p, 1.0), float("inf"))
    classes = ember.topk(race, num_sampled, largest=False).indices
    taken = ember.take(p, classes)
    before = ember.cumsum(taken, 0) - taken  # the probability of the classes already drawn
    # tries for the next new class: 1 + floor(log(V) / log(before)), V in (0, 1]; never more than ~1e300 apart
    v = 1.0 - random_draw("uniform", (num_sampled,), float64, 0.0, 1.0, state)
    tries = 1.0 + ember.floor(ember.log(v) / ember.log(ember.clip(before, 1e-300, 1.0 - 1e-16)))
    return classes, ember.sum(tries)


def expected_count(p, num_tries, num_sampled: int):
    """TF's expected count of classes of probability ``p`` after ``num_tries`` tries for ``num_sampled`` classes."""
    unique_count = -ember.expm1(num_tries * ember.log1p(-p))
    return ember.where(ember.eq(num_tries, float(num_sampled)), p * float(num_sampled), unique_count)


def candidate_sampler(what: str, probs: np.ndarray, true_classes, num_true: int, num_sampled: int, unique: bool,
                      name: str, seed=None) -> tuple:
    """(sampled_candidates, true_expected_count, sampled_expected_count) for the distribution ``probs``. Seeded
    (``seed``, or a graph seed), the draws repeat in each new Session, as TF-1's random ops."""
    true_classes = as_tf(true_classes)
    _check(what, true_classes, num_true, num_sampled, unique, len(probs))
    num_sampled = int(num_sampled)
    probs = np.asarray(probs, np.float64)

    def draw(state=None):
        classes, tries = _draw(probs, num_sampled, unique, state)
        return ember.stack([ember.cast(classes, "float64"), ember.broadcast_to(tries, (num_sampled,))], axis=1)

    # one recipe for the three results, so that one Session run draws once for all of them (a random op's kind:
    # the Session hands a seeded one its generator)
    drawn = Tensor(draw, name=f"{name}/draw", shape=(num_sampled, 2), dtype=np.dtype(float64),
                   kind=RANDOM_TYPES["candidates"])
    drawn.seeds = op_seeds(seed)

    def counts(d, classes):
        p = ember.take(ember.tensor(probs), ember.cast(classes, "int64"))
        return ember.cast(expected_count(p, d[0, 1], num_sampled), float32)

    sampled = op(lambda d: ember.cast(d[:, 0], int64), (drawn,), name=name)
    true_count = op(lambda d, t: counts(d, t), (drawn, true_classes), name=f"{name}/true_expected_count")
    sampled_count = op(lambda d: counts(d, d[:, 0]), (drawn,), name=f"{name}/sampled_expected_count")
    return sampled, true_count, sampled_count


def log_uniform_probabilities(range_max: int) -> np.ndarray:
    """The log-uniform (Zipfian) law of TF's samplers: ``P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)``."""
    k = np.arange(int(range_max), dtype=np.float64)
    return np.log1p(1.0 / (k + 1.0)) / np.log(range_max + 1.0)


def log_uniform_candidate_sampler(true_classes, num_true: int, num_sampled: int, unique: bool, range_max: int,
                                  seed=None, name: str | None = None) -> tuple:
    """``num_sampled`` classes of ``[0, range_max)`` drawn with the log-uniform law (distinct ones with
    ``unique``), and the expected counts of ``true_classes`` ([batch, num_true]) and of the sampled classes:
    (sampled_candidates int64, true_expected_count float32, sampled_expected_count float32)."""
    return candidate_sampler("tf.random.log_uniform_candidate_sampler", log_uniform_probabilities(range_max),
                             true_classes, num_true, num_sampled, unique, name or "LogUniformCandidateSampler", seed)


def uniform_candidate_sampler(true_classes, num_true: int, num_sampled: int, unique: bool, range_max: int,
                              seed=None, name: str | None = None) -> tuple:
    """As ``log_uniform_candidate_sampler`` with every class of ``[0, range_max)`` equally likely."""
    probs = np.full(int(range_max), 1.0 / int(range_max)) if int(range_max) > 0 else np.zeros(0)
    return candidate_sampler("tf.random.uniform_candidate_sampler", probs, true_classes, num_true, num_sampled,
                             unique, name or "UniformCandidateSampler", seed)


def fixed_unigram_candidate_sampler(true_classes, num_true: int, num_sampled: int, unique: bool, range_max: int,
                                    vocab_file: str = "", distortion: float = 1.0, num_reserved_ids: int = 0,
                                    num_shards: int = 1, shard: int = 0, unigrams=(), seed=None,
                                    name: str | None = None) -> tuple:
    """As ``log_uniform_candidate_sampler`` with class ``k``'s probability proportional to
    ``unigrams[k] ** distortion`` (the first ``num_reserved_ids`` classes get probability 0)."""
    what = "tf.random.fixed_unigram_candidate_sampler"
    if vocab_file:
        raise NotImplementedError(f"{what}: vocab_file is not supported; pass the counts as unigrams")
    if num_shards != 1 or shard != 0:
        raise NotImplementedError(f"{what}: num_shards/shard are not supported")
    weights = np.concatenate([np.zeros(int(num_reserved_ids)), np.asarray(unigrams, np.float64) ** distortion])
    if len(weights) != int(range_max):
        raise ValueError(f"{what}: num_reserved_ids ({num_reserved_ids}) plus len(unigrams) ({len(unigrams)}) must "
                         f"equal range_max ({range_max})")
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"{what}: unigrams must be non-negative with a positive sum")
    if unique and np.count_nonzero(weights) < int(num_sampled):
        raise ValueError(f"{what}: only {np.count_nonzero(weights)} classes have a positive count, fewer than "
                         f"num_sampled ({num_sampled}) distinct ones")
    return candidate_sampler(what, weights / weights.sum(), true_classes, num_true, num_sampled, unique,
                             name or "FixedUnigramCandidateSampler", seed)

"""A synthetic, Criteo-shaped click log with a planted click model, so that AUC has a known ceiling.

Each categorical field draws ids by a power law (Zipf) over its own vocabulary and writes them as 32-bit
hashes, like Criteo's hex ids; some values are missing. The 13 dense features are log-normal counts. The
click probability is ``sigmoid(logit)`` with

    logit = bias + sum_f w_f[id_f] + sum_{(f, g) in pairs} <v_f[id_f], v_g[id_g]> + sum_j c_j * z_j

(z_j the standardized log count), so a model without pairwise interactions (logistic regression) cannot
reach the ceiling that FM-style models can. ``ceiling_auc`` is the AUC of the planted probabilities
themselves, the best any model can score on that data.

>>> data = make_synthetic_ctr(100_000, seed=0)
>>> data.table.categorical.shape, round(data.ceiling_auc(), 3)
((100000, 26), 0.8...)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ember.data.criteo import MISSING, NUM_CATEGORICAL, NUM_DENSE, CTRTable


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class PlantedClickModel:
    """The generator's ground truth: per-field vocabularies (id values), first-order weights, latent
    factors of the interacting pairs, dense coefficients and the bias."""

    id_values: list  # per field: (vocab,) int64 hashed id of each rank
    weights: list  # per field: (vocab,) float64 first-order weight of each rank
    factors: dict  # field -> (vocab, k) float64 latent factors (fields in some pair)
    pairs: list  # [(f, g), ...] interacting field pairs
    dense_coef: np.ndarray  # (13,)
    dense_mean: np.ndarray
    dense_std: np.ndarray
    bias: float
    task2: tuple | None  # (field weights scale, bias) of the second (conversion) task, or None

    def logit(self, ranks: np.ndarray, dense: np.ndarray) -> np.ndarray:
        """The planted logit of rows given as per-field ranks (-1 = missing) and raw dense counts."""
        out = np.full(len(ranks), self.bias)
        missing = ranks < 0
        for f, weights in enumerate(self.weights):
            out += np.where(missing[:, f], 0.0, weights[np.maximum(ranks[:, f], 0)])
        for f, g in self.pairs:
            vf = self.factors[f][np.maximum(ranks[:, f], 0)]
            vg = self.factors[g][np.maximum(ranks[:, g], 0)]
            out += np.where(missing[:, f] | missing[:, g], 0.0, np.einsum("nk,nk->n", vf, vg))
        z = (np.log1p(np.nan_to_num(dense, nan=0.0)) - self.dense_mean) / self.dense_std
        return out + z @ self.dense_coef


@dataclass
class SyntheticCTR:
    """A generated click log (``table``), the click probabilities it was drawn from (``probability``) and
    the planted model. ``ceiling_auc()`` / ``ceiling_logloss()`` score the planted probabilities."""

    table: CTRTable
    probability: np.ndarray
    model: PlantedClickModel

    def ceiling_auc(self) -> float:
        """AUC of the planted click probabilities: the best AUC any model can expect on this data."""
        from ember.metrics import roc_auc

        return roc_auc(self.probability, self.table.labels)

    def ceiling_logloss(self) -> float:
        """Log loss of the planted click probabilities (the Bayes log loss, up to sampling noise)."""
        from ember.metrics import log_loss

        return log_loss(self.probability, self.table.labels)

    def split(self, train_fraction: float = 0.8) -> tuple[SyntheticCTR, SyntheticCTR]:
        """(first rows, last rows): a train and an evaluation part drawn from the same planted model."""
        cut = int(round(len(self.table) * train_fraction))
        return (SyntheticCTR(self.table.take(slice(0, cut)), self.probability[:cut], self.model),
                SyntheticCTR(self.table.take(slice(cut, None)), self.probability[cut:], self.model))


def _calibrated_bias(logit: np.ndarray, ctr: float) -> float:
    """The bias b with mean(sigmoid(logit + b)) = ctr (bisection; the mean is increasing in b)."""
    if not 0 < ctr < 1:
        raise ValueError(f"make_synthetic_ctr: ctr must be in (0, 1), got {ctr}")
    if logit.size == 0:
        return 0.0
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _sigmoid(logit + mid).mean() < ctr else (low, mid)
    return (low + high) / 2


def _zipf_ranks(rng: np.random.Generator, vocab: int, exponent: float, n: int) -> np.ndarray:
    cdf = np.cumsum(np.arange(1, vocab + 1, dtype=np.float64) ** -exponent)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1]), vocab - 1)


def make_synthetic_ctr(rows: int, seed: int = 0, *, max_vocab: int = 20_000, zipf: float = 1.1,
                       interacting_fields: int = 6, factor_dim: int = 4, interaction_scale: float = 0.4,
                       weight_scale: float = 0.2, missing_rate: float = 0.05, ctr: float = 0.25,
                       second_task: bool = False) -> SyntheticCTR:
    """Generate ``rows`` Criteo-shaped rows (13 dense, 26 categorical) from a planted click model.

    Vocabulary sizes are log-uniform in [10, ``max_vocab``]; ids follow a Zipf law with ``zipf``; a
    fraction ``missing_rate`` of values is missing in half the fields. Every pair of ``interacting_fields``
    random fields interacts through ``factor_dim``-dimensional latent factors scaled by
    ``interaction_scale`` (a factorization machine over those fields); first-order
    weights have scale ``weight_scale``. The bias is set so that the mean click rate is about ``ctr``.
    ``second_task`` adds an ``extra_labels`` column drawn from a second, related model (for multi-task
    models). The same arguments give the same data.

    >>> train, test = make_synthetic_ctr(50_000, seed=1).split(0.8)
    """
    if rows < 0:
        raise ValueError(f"make_synthetic_ctr: rows must be >= 0, got {rows}")
    if not 0 <= interacting_fields <= NUM_CATEGORICAL:
        raise ValueError(f"make_synthetic_ctr: interacting_fields must be in [0, 26], got {interacting_fields}")
    if max_vocab < 10:
        raise ValueError(f"make_synthetic_ctr: max_vocab must be >= 10, got {max_vocab}")
    model_rng = np.random.default_rng([seed, 1])
    data_rng = np.random.default_rng([seed, 2])
    vocabs = np.exp(model_rng.uniform(np.log(10), np.log(max_vocab), NUM_CATEGORICAL)).astype(np.int64)
    id_values = [model_rng.choice(1 << 32, size=int(v), replace=False).astype(np.int64) for v in vocabs]
    weights = [model_rng.normal(0.0, weight_scale, int(v)) for v in vocabs]
    chosen = sorted(int(f) for f in model_rng.choice(NUM_CATEGORICAL, size=interacting_fields, replace=False))
    pairs = [(f, g) for i, f in enumerate(chosen) for g in chosen[i + 1:]]
    scale = interaction_scale / np.sqrt(factor_dim)
    factors = {f: model_rng.normal(0.0, np.sqrt(scale), (int(vocabs[f]), factor_dim))
               for f in sorted({f for pair in pairs for f in pair})}
    dense_coef = model_rng.normal(0.0, 0.25, NUM_DENSE)
    log_mu = model_rng.uniform(0.0, 3.0, NUM_DENSE)

    ranks = np.stack([_zipf_ranks(data_rng, int(v), zipf, rows) for v in vocabs], axis=1)
    sparse_fields = model_rng.random(NUM_CATEGORICAL) < 0.5
    missing = (data_rng.random((rows, NUM_CATEGORICAL)) < missing_rate) & sparse_fields
    ranks[missing] = -1
    dense = np.floor(np.exp(data_rng.normal(log_mu, 1.0, (rows, NUM_DENSE)))) - 1.0
    dense = np.maximum(dense, 0.0)
    dense[data_rng.random((rows, NUM_DENSE)) < missing_rate] = np.nan
    logs = np.log1p(np.nan_to_num(dense, nan=0.0))
    mean = logs.mean(0) if rows else np.zeros(NUM_DENSE)
    std = logs.std(0) + 1e-6 if rows else np.ones(NUM_DENSE)

    planted = PlantedClickModel(id_values, weights, factors, pairs, dense_coef, mean, std, 0.0, None)
    raw = planted.logit(ranks, dense)
    planted.bias = _calibrated_bias(raw, ctr)
    logit = raw + planted.bias
    probability = _sigmoid(logit)
    labels = (data_rng.random(rows) < probability).astype(np.float32)
    extra = None
    if second_task:
        # Conversion: shares the click logit, plus its own weights on a few fields, at a lower base rate.
        own = model_rng.normal(0.0, weight_scale, 4)
        fields = model_rng.choice(NUM_CATEGORICAL, 4, replace=False)
        shift = sum(own[k] * (ranks[:, f] % 3 - 1) for k, f in enumerate(fields))
        p2 = _sigmoid(0.8 * logit + shift - 1.5)
        extra = (data_rng.random(rows) < p2).astype(np.float32)[:, None]
        planted.task2 = (fields, own)
    categorical = np.where(ranks < 0, MISSING,
                           np.stack([id_values[f][np.maximum(ranks[:, f], 0)] for f in range(NUM_CATEGORICAL)], 1))
    table = CTRTable(labels, dense.astype(np.float32), categorical.astype(np.int64), extra_labels=extra,
                     info={"generator": "make_synthetic_ctr", "seed": seed})
    return SyntheticCTR(table, probability, planted)

"""TF-1's sampled losses for large output vocabularies (word2vec's): ``tf.nn.nce_loss`` and
``tf.nn.sampled_softmax_loss``, over the true classes and ``num_sampled`` classes drawn by a candidate sampler
(log-uniform by default, fresh on every Session run)."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import Tensor, as_tf, op
from ember.compat.tf.candidate_sampling import log_uniform_candidate_sampler
from ember.compat.tf.embedding_ops import embedding_lookup

__all__ = ["nce_loss", "sampled_softmax_loss"]

_HIT = float(np.finfo(np.float32).min)  # what TF adds to the logit of a sampled class that is a true one


def _logits(what: str, fn, labels, sampled, true_count, sampled_count, true_w, sampled_w, true_b, sampled_b,
            inputs, num_true: int, remove_accidental_hits: bool):
    """TF's sampled logits (true classes first, then the sampled ones), corrected by ``-log(expected count)``,
    and their labels (``1 / num_true`` for each true class, 0 for the sampled ones), passed to ``fn``."""
    def compute(y, s, tc, sc, tw, sw, tb, sb, x):
        dim = x.shape[-1]
        true_w3 = ember.reshape(tw, (-1, num_true, dim))
        true_logits = ember.sum(ember.unsqueeze(x, 1) * true_w3, axis=2) + ember.reshape(tb, (-1, num_true))
        sampled_logits = ember.matmul(x, ember.transpose(sw, (1, 0))) + sb
        if remove_accidental_hits:
            # a sampled class equal to one of the row's true classes (its last position where it repeats) is
            # pushed to the lowest float32 logit
            s = ember.cast(s, "int64")
            later = ember.triu(ember.cast(ember.eq(ember.unsqueeze(s, 1), ember.unsqueeze(s, 0)), "int64"), 1)
            last = ember.eq(ember.sum(later, axis=1), 0)
            hits = ember.any(ember.eq(ember.unsqueeze(ember.cast(y, "int64"), 2), ember.reshape(s, (1, 1, -1))),
                             axis=1)
            hits = ember.bitwise_and(hits, ember.unsqueeze(last, 0))
            sampled_logits = sampled_logits + ember.cast(hits, x.dtype) * _HIT
        true_logits = true_logits - ember.log(ember.cast(ember.stop_gradient(tc), x.dtype))
        sampled_logits = sampled_logits - ember.log(ember.cast(ember.stop_gradient(sc), x.dtype))
        logits = ember.concat([true_logits, sampled_logits], axis=1)
        targets = ember.concat([true_logits * 0.0 + 1.0 / num_true, sampled_logits * 0.0], axis=1)
        return fn(ember.stop_gradient(targets), logits)

    return op(compute, (labels, sampled, true_count, sampled_count, true_w, sampled_w, true_b, sampled_b, inputs),
              name=what)


def _sampled(what: str, fn, weights, biases, labels, inputs, num_sampled: int, num_classes: int, num_true: int,
             sampled_values, remove_accidental_hits: bool, partition_strategy: str, seed=None) -> Tensor:
    labels, inputs = as_tf(labels), as_tf(inputs)
    num_true = int(num_true)
    if labels.shape is not None and (len(labels.shape) != 2 or labels.shape[1] not in (None, num_true)):
        raise ValueError(f"tf.nn.{what}: labels must have shape [batch_size, num_true={num_true}], got "
                         f"{list(labels.shape)}")
    if inputs.shape is not None and len(inputs.shape) != 2:
        raise ValueError(f"tf.nn.{what}: inputs must have shape [batch_size, dim], got {list(inputs.shape)}")
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True, num_classes, seed=seed)
    sampled, true_count, sampled_count = (as_tf(v) for v in sampled_values)
    flat = op(lambda y: ember.cast(ember.reshape(y, (-1,)), "int64"), (labels,), name=f"{what}/labels_flat")
    sampled_ids = op(lambda s: ember.cast(s, "int64"), (sampled,), name=f"{what}/sampled")
    true_w = embedding_lookup(weights, flat, partition_strategy)
    sampled_w = embedding_lookup(weights, sampled_ids, partition_strategy)
    true_b = embedding_lookup(biases, flat, partition_strategy)
    sampled_b = embedding_lookup(biases, sampled_ids, partition_strategy)
    return _logits(what, fn, labels, sampled, true_count, sampled_count, true_w, sampled_w, true_b, sampled_b, inputs,
                   num_true, remove_accidental_hits)


def _nce(targets, logits):
    return ember.sum(ember.binary_cross_entropy_with_logits(logits, targets, reduction="none"), axis=1)


def _softmax(targets, logits):
    return -ember.sum(targets * ember.log_softmax(logits, axis=1), axis=1)


def nce_loss(weights, biases, labels, inputs, num_sampled: int, num_classes: int, num_true: int = 1,
             sampled_values=None, remove_accidental_hits: bool = False, partition_strategy: str = "mod",
             name: str = "nce_loss") -> Tensor:
    """Noise-contrastive estimation loss per example ([batch]): the logistic loss of the true classes'
    logits against ``1 / num_true`` and of ``num_sampled`` sampled classes' logits against 0, each logit
    ``inputs . weights[c] + biases[c] - log(expected count of c)``.

    ``weights`` ([num_classes, dim], or a list of shards), ``biases`` ([num_classes]), ``labels`` ([batch,
    num_true] integers), ``inputs`` ([batch, dim]). ``sampled_values``: a sampler's (sampled_candidates,
    true_expected_count, sampled_expected_count); by default ``log_uniform_candidate_sampler`` with
    ``unique=True``, fresh on every Session run."""
    return _sampled(name, _nce, weights, biases, labels, inputs, num_sampled, num_classes, num_true, sampled_values,
                    remove_accidental_hits, partition_strategy)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled: int, num_classes: int, num_true: int = 1,
                         sampled_values=None, remove_accidental_hits: bool = True, partition_strategy: str = "mod",
                         name: str = "sampled_softmax_loss", seed=None) -> Tensor:
    """The softmax cross-entropy per example ([batch]) over the true classes and ``num_sampled`` sampled ones,
    with the logits of ``nce_loss`` (a sampled class equal to a true one is left out by default); arguments as
    ``nce_loss``'s, and ``seed`` for the default sampler."""
    return _sampled(name, _softmax, weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                    sampled_values, remove_accidental_hits, partition_strategy, seed)

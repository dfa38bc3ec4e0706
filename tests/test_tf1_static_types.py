"""TF-1's static shapes and dtypes of tensors built on a None batch: losses, shape queries, filled constants and
the global step, as TF 1.15 reports them before anything runs."""

import numpy as np
import pytest

import ember.compat.tf as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


REDUCTIONS = [tf.losses.Reduction.MEAN, tf.losses.Reduction.SUM, tf.losses.Reduction.SUM_OVER_BATCH_SIZE,
              tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_a_reduced_loss_over_a_none_batch_is_a_float32_scalar(reduction):
    labels = tf.placeholder(tf.int64, [None])
    logits = tf.placeholder(tf.float32, [None, 5])
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits, weights=2.0, reduction=reduction)
    assert loss.shape == () and loss.dtype == np.float32  # not the labels' int64, nor an unknown shape
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 5)).astype(np.float32)
    y = rng.integers(0, 5, 6)
    per_example = np.log(np.exp(z).sum(1)) - z[np.arange(6), y]
    expected = {tf.losses.Reduction.MEAN: per_example.mean(), tf.losses.Reduction.SUM: 2 * per_example.sum(),
                tf.losses.Reduction.SUM_OVER_BATCH_SIZE: 2 * per_example.mean(),
                tf.losses.Reduction.SUM_BY_NONZERO_WEIGHTS: 2 * per_example.mean()}[reduction]
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(loss, {labels: y, logits: z}), expected, rtol=1e-5)

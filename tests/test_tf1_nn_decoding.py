"""``tf.nn.ctc_greedy_decoder`` and ``tf.nn.compute_accidental_hits`` against NumPy loops of TF-1's kernels."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


def _ref_greedy(logits, lengths, merge):
    paths = []
    for b in range(logits.shape[1]):
        path, previous = [], -1
        for t in range(lengths[b]):
            label = int(np.argmax(logits[t, b]))
            if label != logits.shape[2] - 1 and not (merge and label == previous):
                path.append(label)
            previous = label
        paths.append(path)
    return paths


@pytest.mark.parametrize("merge", [True, False])
def test_ctc_greedy_decoder_best_path(merge):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((12, 4, 5)).astype(np.float32)
    logits[3:6, 0, 2] += 5.0  # a repeated label, then a blank, then the label again
    logits[6, 0, 4] += 9.0
    logits[7, 0, 2] += 9.0
    lengths = np.array([12, 7, 0, 3], np.int32)
    (decoded,), neg_sum = tf.nn.ctc_greedy_decoder(tf.constant(logits), tf.constant(lengths), merge_repeated=merge)
    assert decoded.dtype == np.int64 and neg_sum.shape == (4, 1)
    dense, got_sum = _run([decoded, neg_sum])
    paths = _ref_greedy(logits, lengths, merge)
    assert dense.shape == (4, max(map(len, paths)))
    for row, path in zip(dense, paths):
        assert row.tolist() == path + [-1] * (len(row) - len(path))
    expected = [-logits[:n, b].max(-1).astype(np.float64).sum() for b, n in enumerate(lengths)]
    np.testing.assert_allclose(got_sum[:, 0], expected, rtol=1e-6)


def test_ctc_greedy_decoder_errors():
    with pytest.raises(ValueError, match=r"ctc_greedy_decoder: inputs must be 3-D \(max_time, batch, num_classes\)"):
        tf.nn.ctc_greedy_decoder(tf.zeros([3, 4]), tf.constant([1, 2, 3]))
    with pytest.raises(TypeError, match="ctc_greedy_decoder: sequence_length must be int32, got float32"):
        tf.nn.ctc_greedy_decoder(tf.zeros([3, 2, 4]), tf.constant([1.0, 2.0]))
    (decoded,), _ = tf.nn.ctc_greedy_decoder(tf.zeros([3, 2, 4]), tf.constant([1, 5]))
    with pytest.raises(ValueError, match=r"sequence_length must be 2 lengths in \[0, 3\], got \[1, 5\]"):
        _run(decoded)


def test_compute_accidental_hits():
    true = np.array([[1, 5], [7, 2], [3, 3], [9, 0]], np.int64)
    sampled = np.array([5, 3, 8, 2, 1, 3], np.int64)
    indices, ids, weights = tf.nn.compute_accidental_hits(tf.constant(true), tf.constant(sampled), num_true=2)
    assert (indices.dtype, ids.dtype, weights.dtype) == (np.int32, np.int64, np.float32)
    got = _run([indices, ids, weights])
    last = {int(c): j for j, c in enumerate(sampled)}  # TF's map keeps a repeated candidate's last position
    expected = [(i, last[int(c)]) for i in range(4) for c in true[i] if int(c) in last]
    assert list(zip(got[0].tolist(), got[1].tolist())) == expected == [(0, 4), (0, 0), (1, 3), (2, 5), (2, 5)]
    assert (got[2] == -np.finfo(np.float32).max).all()
    with pytest.raises(ValueError, match=r"compute_accidental_hits: true_classes must be \(batch, num_true=3\)"):
        tf.nn.compute_accidental_hits(tf.constant(true), tf.constant(sampled), num_true=3)

"""TF-1's partition, stitch, set-difference, search and counting functions against NumPy references of TF-1's
semantics; gradients (tf.gradients) where TF-1 has them."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(1)


def run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


def test_setdiff1d_keeps_order_and_repeats():
    x = np.array([1, 2, 3, 4, 5, 6, 1, 4], np.int32)
    y = np.array([1, 3, 5], np.int32)
    out, idx = tf.setdiff1d(x, y, index_dtype=tf.int64)
    got_out, got_idx = run([out, idx])
    keep = ~np.isin(x, y)
    np.testing.assert_array_equal(got_out, x[keep])
    np.testing.assert_array_equal(got_idx, np.flatnonzero(keep))
    assert got_idx.dtype == np.int64 and tf.setdiff1d(x, y).idx.dtype == np.int32
    with pytest.raises(TypeError, match="one dtype"):
        tf.setdiff1d(x, y.astype(np.int64))
    with pytest.raises(ValueError, match=r"x must be 1-D, got .* shape \[2, 4\]"):
        tf.setdiff1d(x.reshape(2, 4), y)


def test_dynamic_partition_and_its_gradient():
    data = RNG.normal(size=(2, 3, 4))
    parts = RNG.integers(0, 3, size=(2, 3)).astype(np.int32)
    d = tf.constant(data)
    outs = tf.dynamic_partition(d, parts, 3)
    got = run(outs)
    for i in range(3):
        np.testing.assert_array_equal(got[i], data[parts == i])
    w = [RNG.normal(size=g.shape) for g in got]
    (grad,) = tf.gradients(tf.add_n([tf.reduce_sum(o * wi) for o, wi in zip(outs, w)]), [d])
    expected = np.zeros_like(data)
    for i in range(3):
        expected[parts == i] = w[i]
    np.testing.assert_allclose(run(grad), expected)
    with pytest.raises(ValueError, match="must be a prefix of data's"):
        tf.dynamic_partition(d, np.zeros((3,), np.int32), 2)
    with pytest.raises(TypeError, match="partitions must be int32"):
        tf.dynamic_partition(d, parts.astype(np.int64), 3)
    with pytest.raises(ValueError, match=r"partitions must be in \[0, 2\)"):
        run(tf.dynamic_partition(d, parts, 2))


def test_dynamic_stitch_later_wins_and_gradient():
    indices = [np.array(6, np.int32), np.array([4, 1], np.int32), np.array([[5, 2], [0, 3]], np.int32),
               np.array([1, 7], np.int32)]
    data = [RNG.normal(size=(2,)), RNG.normal(size=(2, 2)), RNG.normal(size=(2, 2, 2)), RNG.normal(size=(2, 2))]
    expected = np.zeros((8, 2))
    for i, d in zip(indices, data):
        for k in np.ndindex(i.shape):
            expected[i[k]] = d[k]
    tensors = [tf.constant(d) for d in data]
    merged = tf.dynamic_stitch(indices, tensors)
    np.testing.assert_array_equal(run(merged), expected)
    w = RNG.normal(size=(8, 2))
    grads = run(tf.gradients(tf.reduce_sum(merged * w), tensors))
    np.testing.assert_array_equal(grads[1][1], np.zeros(2))  # row 1 was overwritten by the last input
    np.testing.assert_array_equal(grads[3], w[[1, 7]])
    np.testing.assert_array_equal(grads[2], w[indices[2]])
    gap = run(tf.dynamic_stitch([np.array([0, 3], np.int32)], [np.array([1.0, 2.0])]))
    np.testing.assert_array_equal(gap, [1.0, 0.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="data\\[m\\].shape must start with indices\\[m\\].shape"):
        tf.dynamic_stitch([np.array([0, 1], np.int32)], [np.zeros((3, 2))])


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_batched(side):
    seq = np.sort(RNG.integers(0, 10, size=(3, 6)), axis=1).astype(np.float32)
    vals = RNG.integers(-1, 11, size=(3, 4)).astype(np.float32)
    got = run(tf.searchsorted(seq, vals, side=side, out_type=tf.int64))
    expected = np.stack([np.searchsorted(s, v, side=side) for s, v in zip(seq, vals)])
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.int64
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        tf.searchsorted(seq, vals, side="middle")
    with pytest.raises(ValueError, match=r"sorted_sequence \[3, 6\] and values \[2, 4\]"):
        tf.searchsorted(seq, vals[:2])


def test_unravel_index_and_invert_permutation():
    dims = np.array([3, 4, 5], np.int32)
    flat = RNG.integers(0, 60, size=(7,)).astype(np.int32)
    np.testing.assert_array_equal(run(tf.unravel_index(flat, dims)), np.stack(np.unravel_index(flat, dims)))
    np.testing.assert_array_equal(run(tf.unravel_index(np.int32(17), dims)), np.unravel_index(17, dims))
    with pytest.raises(TypeError, match="indices must be int32 or int64"):
        tf.unravel_index(np.array([1.0]), dims)
    perm = RNG.permutation(6).astype(np.int32)
    np.testing.assert_array_equal(run(tf.invert_permutation(perm)), np.argsort(perm))
    with pytest.raises(ValueError, match="x must be a permutation of 0..2"):
        run(tf.invert_permutation(np.array([0, 0, 2], np.int32)))


def test_histogram_fixed_width_clamps_out_of_range_values():
    values = np.array([-1.0, 0.0, 1.5, 2.0, 5.0, 15.0, 4.99, 5.0 - 1e-9])
    got = run(tf.histogram_fixed_width(values, [0.0, 5.0], nbins=5))
    bins = np.clip(np.floor((values - 0.0) / 5.0 * 5), 0, 4).astype(int)
    np.testing.assert_array_equal(got, np.bincount(bins, minlength=5))
    assert got.dtype == np.int32
    with pytest.raises(ValueError, match=r"value_range must have shape \[2\]"):
        tf.histogram_fixed_width(values, [0.0, 1.0, 2.0])


def test_accumulate_n_and_clip_by_average_norm():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    np.testing.assert_allclose(run(tf.accumulate_n([a, b, a], shape=[2, 3], tensor_dtype=tf.float64)), 2 * a + b)
    with pytest.raises(ValueError, match="one shape"):
        tf.accumulate_n([a, b], shape=[3, 2])
    with pytest.raises(TypeError, match="one dtype"):
        tf.accumulate_n([a, b.astype(np.float32)])
    t = RNG.normal(size=(4, 5))
    for clip in (0.01, 10.0):
        average = np.sqrt(np.sum(t * t)) / t.size
        expected = t * clip / max(clip, average)
        x = tf.constant(t)
        clipped = tf.clip_by_average_norm(x, clip)
        np.testing.assert_allclose(run(clipped), expected)
        w = RNG.normal(size=t.shape)
        (grad,) = tf.gradients(tf.reduce_sum(clipped * w), [x])
        if clip > average:  # untouched: the identity
            np.testing.assert_allclose(run(grad), w)
        else:  # t * clip * n / |t|: d/dt of sum(w * that) is clip * n / |t| * (w - t (w.t) / |t|^2)
            norm = np.sqrt(np.sum(t * t))
            np.testing.assert_allclose(run(grad), clip * t.size / norm * (w - t * np.sum(w * t) / norm ** 2),
                                       rtol=1e-10)

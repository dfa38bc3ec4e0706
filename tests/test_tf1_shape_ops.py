"""TF-1's broadcasting, repeating and block-rearranging functions against NumPy references of TF-1's semantics,
their gradients (tf.gradients) against finite differences of the references."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

RNG = np.random.default_rng(0)


def run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


def check_gradient(tf_fn, np_fn, x):
    """tf.gradients of sum(w * tf_fn(x)) against central differences of sum(w * np_fn(x)), in float64."""
    w = RNG.normal(size=np.shape(np_fn(x)))
    xt = tf.constant(x)
    (grad,) = tf.gradients(tf.reduce_sum(tf.constant(w) * tf_fn(xt)), [xt])
    expected = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[k] = 1e-6
        expected[k] = (np.sum(w * np_fn(x + step)) - np.sum(w * np_fn(x - step))) / 2e-6
    np.testing.assert_allclose(run(grad), expected, rtol=1e-6, atol=1e-6)


def test_broadcast_to_static_and_run_time_shapes_and_gradient():
    x = RNG.normal(size=(3, 1)).astype(np.float32)
    np.testing.assert_array_equal(run(tf.broadcast_to(x, [2, 3, 4])), np.broadcast_to(x, (2, 3, 4)))
    fed = tf.placeholder(tf.float32, [None, 4])
    out = tf.broadcast_to(x, tf.shape(fed))
    assert list(out.shape) == [None, 4]
    np.testing.assert_array_equal(run(out, {fed: np.zeros((3, 4))}), np.broadcast_to(x, (3, 4)))
    check_gradient(lambda t: tf.broadcast_to(t, [2, 3, 4]), lambda a: np.broadcast_to(a, (2, 3, 4)),
                   x.astype(np.float64))
    with pytest.raises(ValueError, match=r"tf.broadcast_to: .* shape \[3, 1\] cannot be broadcast to \[2, 4, 4\]"):
        tf.broadcast_to(x, [2, 4, 4])


def test_broadcast_static_and_dynamic_shape():
    assert list(tf.broadcast_static_shape(tf.TensorShape([None, 1, 3]), [5, 1])) == [None, 5, 3]
    assert list(tf.broadcast_static_shape([2, 1], [1, 7])) == [2, 7]
    with pytest.raises(ValueError, match=r"incompatible shapes for broadcasting: \[2, 3\] and \[4\]"):
        tf.broadcast_static_shape([2, 3], [4])
    x = tf.placeholder(tf.float32, [None, 3])
    dynamic = tf.broadcast_dynamic_shape(tf.shape(x), [5, 1, 1])
    assert dynamic.dtype == np.int32
    np.testing.assert_array_equal(run(dynamic, {x: np.zeros((4, 3))}), [5, 4, 3])
    np.testing.assert_array_equal(run(tf.broadcast_dynamic_shape([2, 1], [3])), [2, 3])
    with pytest.raises(ValueError, match="incompatible shapes"):
        tf.broadcast_dynamic_shape(tf.shape(x), [2, 2])


@pytest.mark.parametrize("indexing", ["xy", "ij"])
def test_meshgrid_matches_numpy(indexing):
    a, b, c = np.arange(3.0), np.arange(4.0) * 2, np.arange(2.0) - 5
    ours = run(tf.meshgrid(a, b, c, indexing=indexing))
    for got, want in zip(ours, np.meshgrid(a, b, c, indexing=indexing)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="indexing must be 'xy' or 'ij'"):
        tf.meshgrid(a, b, indexing="yx")
    with pytest.raises(TypeError, match="one dtype"):
        tf.meshgrid(np.arange(3), np.arange(2.0))


def test_repeat_scalar_per_element_and_flattened():
    x = RNG.normal(size=(2, 3))
    np.testing.assert_array_equal(run(tf.repeat(x, 2)), np.repeat(x, 2))
    np.testing.assert_array_equal(run(tf.repeat(x, [1, 0, 3], axis=1)), np.repeat(x, [1, 0, 3], axis=1))
    np.testing.assert_array_equal(run(tf.repeat(x, 3, axis=-2)), np.repeat(x, 3, axis=0))
    check_gradient(lambda t: tf.repeat(t, [2, 1], axis=0), lambda a: np.repeat(a, [2, 1], axis=0), x)
    with pytest.raises(ValueError, match="3 repeats for an axis of size 2"):
        tf.repeat(x, [1, 2, 3], axis=0)
    with pytest.raises(ValueError, match="repeats must be >= 0"):
        tf.repeat(x, -1)
    with pytest.raises(TypeError, match="repeats given as tf.Tensor"):
        tf.repeat(x, tf.constant(2))


def test_batch_gather_and_its_gradient():
    params = RNG.normal(size=(2, 3, 5, 2))
    indices = RNG.integers(0, 5, size=(2, 3, 4))
    expected = np.take_along_axis(params, indices[..., None].repeat(2, -1), axis=2)
    np.testing.assert_array_equal(run(tf.batch_gather(params, indices)), expected)
    check_gradient(lambda t: tf.batch_gather(t, indices),
                   lambda a: np.take_along_axis(a, indices[..., None].repeat(2, -1), axis=2), params)
    with pytest.raises(ValueError, match="need params of rank >= 3"):
        tf.batch_gather(np.zeros((2, 3)), np.zeros((2, 3, 1), np.int32))


def test_identity_n_shape_n_scalar_mul_parallel_stack():
    x = tf.placeholder(tf.float32, [None, 2])
    a, b = tf.identity_n([x, tf.constant([1, 2])])
    assert (a.name, b.name) == ("IdentityN:0", "IdentityN:1")
    feed = np.ones((3, 2), np.float32)
    got = run([a, b], {x: feed})
    np.testing.assert_array_equal(got[0], feed)
    shapes = tf.shape_n([x, tf.zeros([4, 5, 6])], out_type=tf.int64)
    got = run(shapes, {x: feed})
    assert [s.tolist() for s in got] == [[3, 2], [4, 5, 6]] and got[0].dtype == np.int64
    np.testing.assert_array_equal(run(tf.scalar_mul(2.5, tf.constant([1.0, -2.0]))), [2.5, -5.0])
    with pytest.raises(ValueError, match=r"only a scalar multiplies, got .* shape \[2\]"):
        tf.scalar_mul([1.0, 2.0], tf.constant([1.0, -2.0]))
    np.testing.assert_array_equal(run(tf.parallel_stack([[1, 2], [3, 4]])), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="must be fully defined"):
        tf.parallel_stack([x, x])


def test_tuple_gates_each_tensor_on_all_of_them():
    counter = tf.Variable(0.0)
    bump = tf.assign_add(counter, 1.0)
    y = tf.constant(3.0)
    gated_y, gated_bump = tf.tuple([y, bump])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(gated_y) == 3.0
        assert sess.run(counter) == 1.0  # fetching y ran the assignment too
        assert sess.run(gated_bump) == 2.0
    assert tf.tuple([None, y])[0] is None


def _space_to_depth(x, bs):
    b, h, w, c = x.shape
    out = np.zeros((b, h // bs, w // bs, bs * bs * c), x.dtype)
    for i, j, bi, bj in np.ndindex(h // bs, w // bs, bs, bs):
        out[:, i, j, (bi * bs + bj) * c:(bi * bs + bj + 1) * c] = x[:, i * bs + bi, j * bs + bj, :]
    return out


def _depth_to_space(x, bs):
    b, h, w, c = x.shape
    out = np.zeros((b, h * bs, w * bs, c // (bs * bs)), x.dtype)
    for i, j, bi, bj in np.ndindex(h, w, bs, bs):
        k = c // (bs * bs)
        out[:, i * bs + bi, j * bs + bj, :] = x[:, i, j, (bi * bs + bj) * k:(bi * bs + bj + 1) * k]
    return out


def test_space_to_depth_and_depth_to_space_match_tf_layout_and_gradients():
    x = RNG.normal(size=(2, 4, 6, 3))
    np.testing.assert_array_equal(run(tf.space_to_depth(x, 2)), _space_to_depth(x, 2))
    y = RNG.normal(size=(2, 2, 3, 18))
    np.testing.assert_array_equal(run(tf.depth_to_space(y, 3)), _depth_to_space(y, 3))
    nchw = np.transpose(x, (0, 3, 1, 2))
    np.testing.assert_array_equal(run(tf.space_to_depth(nchw, 2, data_format="NCHW")),
                                  np.transpose(_space_to_depth(x, 2), (0, 3, 1, 2)))
    check_gradient(lambda t: tf.space_to_depth(t, 2), lambda a: _space_to_depth(a, 2), x[:1, :, :4, :2])
    check_gradient(lambda t: tf.depth_to_space(t, 2), lambda a: _depth_to_space(a, 2), y[:1, :, :, :8])
    with pytest.raises(ValueError, match="height 4 and width 6 must be multiples of block_size 4"):
        tf.space_to_depth(x, 4)
    with pytest.raises(ValueError, match="depth 18 must be a multiple of block_size\\*\\*2 = 4"):
        tf.depth_to_space(y, 2)
    with pytest.raises(ValueError, match="block_size must be >= 2"):
        tf.space_to_depth(x, 1)


def _space_to_batch_nd(x, blocks, pads):
    padded = np.pad(x, [(0, 0), *pads] + [(0, 0)] * (x.ndim - 3))
    b, h, w = padded.shape[:3]
    b1, b2 = blocks
    out = np.zeros((b * b1 * b2, h // b1, w // b2) + padded.shape[3:])
    for bi, bj, n, i, j in np.ndindex(b1, b2, b, h // b1, w // b2):
        out[(bi * b2 + bj) * b + n, i, j] = padded[n, i * b1 + bi, j * b2 + bj]
    return out


def test_space_to_batch_nd_and_batch_to_space_nd_match_tf_layout_and_gradients():
    x = RNG.normal(size=(2, 3, 4, 2))
    pads = [[1, 0], [1, 1]]
    expected = _space_to_batch_nd(x, (2, 3), pads)
    got = tf.space_to_batch_nd(x, [2, 3], pads)
    assert list(got.shape) == [12, 2, 2, 2]
    np.testing.assert_array_equal(run(got), expected)
    np.testing.assert_array_equal(run(tf.batch_to_space_nd(expected, [2, 3], pads)), x)
    check_gradient(lambda t: tf.space_to_batch_nd(t, [2, 3], pads), lambda a: _space_to_batch_nd(a, (2, 3), pads),
                   x[:1, :, :, :1])
    square = RNG.normal(size=(1, 4, 4, 1))
    np.testing.assert_array_equal(run(tf.space_to_batch(square, [[0, 0], [0, 0]], 2)),
                                  _space_to_batch_nd(square, (2, 2), [[0, 0], [0, 0]]))
    np.testing.assert_array_equal(run(tf.batch_to_space(tf.space_to_batch(square, [[1, 1], [0, 2]], 2),
                                                        [[1, 1], [0, 2]], 2)), square)
    with pytest.raises(ValueError, match=r"padded spatial shape \[3, 4\] must be divisible by block_shape \[2, 3\]"):
        tf.space_to_batch_nd(x, [2, 3], [[0, 0], [0, 0]])
    with pytest.raises(ValueError, match="paddings must be \\[2, 2\\] non-negative ints"):
        tf.space_to_batch_nd(x, [2, 3], [[0, 0]])
    with pytest.raises(ValueError, match="batch 2 .* must be divisible by prod\\(block_shape\\) = 4"):
        tf.batch_to_space_nd(x, [2, 2], [[0, 0], [0, 0]])

"""TF-1's math, indexing and linear-algebra names added over Ember ops: each against a NumPy reference."""

import math

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf


def run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype(np.float32)
SQUARE = (RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)).astype(np.float64)


@pytest.mark.parametrize("name,reference", [
    ("round", lambda a: np.round(a * 2) / 1), ("is_nan", np.isnan), ("is_finite", np.isfinite), ("is_inf", np.isinf),
    ("expm1", np.expm1), ("tan", np.tan), ("atan", np.arctan), ("sinh", np.sinh),
    ("softsign", lambda a: a / (1 + abs(a))), ("floor", np.floor), ("ceil", np.ceil),
    ("log_sigmoid", lambda a: -np.log1p(np.exp(-a))), ("log2", lambda a: np.log2(np.abs(a))),
])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NaN and inf inputs, on purpose
def test_elementwise(name, reference):
    data = np.array([-2.5, -0.5, 0.5, 1.5, 2.5, np.nan, np.inf, 0.3], np.float32)
    if name == "round":
        data, reference = data * 2, np.round  # halves to even
    if name == "log2":
        data = np.abs(data)
    got = run(getattr(tf, name)(tf.constant(data)))
    np.testing.assert_allclose(got, reference(data), rtol=1e-5)
    assert getattr(tf.math, name) is getattr(tf, name)


def test_integer_division_and_modulo_kinds():
    a = np.array([7, -7, 7, -7, 6], np.int32)
    b = np.array([2, 2, -2, -2, 3], np.int32)
    np.testing.assert_array_equal(run(tf.truncatediv(a, b)), np.trunc(a / b).astype(np.int32))
    np.testing.assert_array_equal(run(tf.truncatemod(a, b)), np.fmod(a, b))
    np.testing.assert_array_equal(run(tf.floormod(a, b)), np.mod(a, b))
    np.testing.assert_array_equal(run(tf.to_float(tf.constant(a))), a.astype(np.float32))
    assert run(tf.to_int64(tf.constant(a))).dtype == np.int64


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumsum_and_cumprod(exclusive, reverse):
    def reference(a, fn, identity):
        a = a[:, ::-1] if reverse else a
        out = fn(a, axis=1)
        if exclusive:
            out = np.concatenate([np.full((a.shape[0], 1), identity, a.dtype), out[:, :-1]], axis=1)
        return out[:, ::-1] if reverse else out

    np.testing.assert_allclose(run(tf.cumsum(A, axis=1, exclusive=exclusive, reverse=reverse)),
                               reference(A, np.cumsum, 0.0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(tf.cumprod(A, axis=1, exclusive=exclusive, reverse=reverse)),
                               reference(A, np.cumprod, 1.0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reverse", [False, True])
def test_exclusive_cumsum_and_cumprod_of_an_empty_axis_stay_empty(reverse):
    # (the shift padded the identity onto an empty result: shape (2, 1) for TF's (2, 0))
    empty = tf.placeholder(tf.float32, [None, None])
    fetches = [fn(empty, axis=1, exclusive=True, reverse=reverse) for fn in (tf.cumsum, tf.cumprod)]
    got = run(fetches, {empty: np.zeros((2, 0), np.float32)})
    assert [g.shape for g in got] == [(2, 0), (2, 0)]
    assert run(tf.cumsum(np.zeros((2, 0), np.float32), axis=1, exclusive=True, reverse=reverse)).shape == (2, 0)


def test_sorting_and_top_k():
    np.testing.assert_allclose(run(tf.sort(A, direction="DESCENDING")), -np.sort(-A, axis=-1))
    order = run(tf.argsort(A, axis=0))
    assert order.dtype == np.int32
    np.testing.assert_array_equal(order, np.argsort(A, axis=0, kind="stable"))
    values, indices = tf.nn.top_k(tf.constant(A), k=2)
    np.testing.assert_allclose(run(values), -np.sort(-A, axis=-1)[:, :2])
    np.testing.assert_array_equal(run(indices), np.argsort(-A, axis=-1, kind="stable")[:, :2])
    assert run(tf.math.top_k(A, 1).indices).dtype == np.int32
    with pytest.raises(ValueError, match="direction"):
        tf.sort(A, direction="UP")
    with pytest.raises(ValueError, match="larger than"):
        tf.nn.top_k(tf.constant(A), k=5)


def test_top_k_indices_of_a_placeholder_of_unknown_shape_are_int32():
    x = tf.placeholder(tf.float32)
    indices = tf.nn.top_k(x, 2).indices
    assert indices.dtype == np.int32
    with tf.Session() as sess:
        doubled = sess.run(indices * 2, {x: A})  # an int32 product, not float32
    assert doubled.dtype == np.int32
    np.testing.assert_array_equal(doubled, 2 * np.argsort(-A, axis=-1, kind="stable")[:, :2])


def test_reverse_slice_sequence_mask_linspace():
    np.testing.assert_allclose(run(tf.reverse(A, [0, 1])), A[::-1, ::-1])
    np.testing.assert_allclose(run(tf.slice(A, [1, 1], [2, -1])), A[1:3, 1:])
    np.testing.assert_array_equal(run(tf.sequence_mask([1, 3, 0], 4)),
                                  np.arange(4)[None, :] < np.array([1, 3, 0])[:, None])
    assert run(tf.sequence_mask([2], 3, dtype=tf.float32)).dtype == np.float32
    # float lengths are cast to maxlen's integer dtype first (truncated), as TF-1: 1.5 masks one step, not two
    assert run(tf.sequence_mask([1.5, 2.9, 0.5], 3)).tolist() == [[True, False, False], [True, True, False],
                                                                   [False, False, False]]
    np.testing.assert_allclose(run(tf.linspace(0.0, 1.0, 5)), np.linspace(0, 1, 5))
    # Python floats are float32, as tf.constant makes them (not float64); float64 bounds stay float64
    assert tf.linspace(0.0, 1.0, 5).dtype == np.float32 and run(tf.lin_space(0.0, 1.0, 3)).dtype == np.float32
    assert run(tf.linspace(np.float64(0.0), 1.0, 3)).dtype == np.float64
    with pytest.raises(ValueError, match="maxlen"):
        tf.sequence_mask([1, 2])
    with pytest.raises(ValueError, match="one entry per axis"):
        tf.slice(A, [0], [1, 1])


def test_zeros_and_ones_take_an_int_shape():
    ones, zeros = run([tf.ones(3), tf.zeros(np.int64(2), tf.int32)])
    np.testing.assert_array_equal(ones, np.ones(3, np.float32))
    assert zeros.dtype == np.int32 and zeros.shape == (2,)


def test_zeros_like_and_ones_like_ignore_the_values():
    # (they were x * 0 and x * 0 + 1: NaN where x held inf or NaN)
    x = tf.placeholder(tf.float32, [None, 3])
    data = np.array([[np.inf, -np.inf, np.nan], [1.0, -2.0, 0.0]], np.float32)
    zeros, ones = run([tf.zeros_like(x), tf.ones_like(x, dtype=tf.int32)], {x: data})
    np.testing.assert_array_equal(zeros, np.zeros((2, 3), np.float32))
    assert ones.dtype == np.int32 and (ones == 1).all() and ones.shape == (2, 3)


def test_where_with_a_vector_condition_picks_rows():
    x, y = A[:3, :3], -A[:3, :3] - 1  # square: broadcasting the condition along the columns would also run
    condition = np.array([True, False, True])
    fed = tf.placeholder(tf.bool, [None])
    picked, fed_rows = run([tf.where(condition, x, y), tf.where(fed, x, y)], {fed: condition})
    np.testing.assert_array_equal(picked, np.where(condition[:, None], x, y))
    np.testing.assert_array_equal(fed_rows, picked)
    with pytest.raises(ValueError, match=r"tf.where: a 1-D condition of 2 elements picks rows of x and y, which "
                                         r"have 3"):
        tf.where([True, False], tf.zeros([3, 2]), tf.ones([3, 2]))


def test_matrix_helpers():
    square = tf.constant(SQUARE, dtype=tf.float64)
    np.testing.assert_allclose(run(tf.matrix_inverse(square)), np.linalg.inv(SQUARE), rtol=1e-10)
    np.testing.assert_allclose(run(tf.linalg.det(square)), np.linalg.det(SQUARE), rtol=1e-10)
    spd = SQUARE @ np.swapaxes(SQUARE, -1, -2)
    np.testing.assert_allclose(run(tf.cholesky(tf.constant(spd, dtype=tf.float64))), np.linalg.cholesky(spd),
                               rtol=1e-10)
    np.testing.assert_allclose(run(tf.trace(square)), np.trace(SQUARE, axis1=-2, axis2=-1))
    np.testing.assert_allclose(run(tf.matrix_diag_part(square)), np.diagonal(SQUARE, axis1=-2, axis2=-1))
    np.testing.assert_allclose(run(tf.matrix_diag(A)), A[..., None] * np.eye(4))
    np.testing.assert_allclose(run(tf.diag([1.0, 2.0])), np.diag([1.0, 2.0]))
    np.testing.assert_allclose(run(tf.diag_part(np.diag([3.0, 4.0]))), [3.0, 4.0])
    np.testing.assert_allclose(run(tf.eye(2, 3, batch_shape=[2])), np.broadcast_to(np.eye(2, 3), (2, 2, 3)))
    band = run(tf.matrix_band_part(np.ones((4, 4), np.float32), 1, 0))
    np.testing.assert_allclose(band, np.tril(np.ones((4, 4))) - np.tril(np.ones((4, 4)), -2))
    np.testing.assert_allclose(run(tf.matrix_band_part(np.ones((3, 3), np.float32), -1, 0)), np.tril(np.ones((3, 3))))
    np.testing.assert_allclose(run(tf.linalg.transpose(square)), np.swapaxes(SQUARE, -1, -2))
    with pytest.raises(ValueError, match="shape must be"):
        run(tf.diag_part(np.ones((2, 3))))


@pytest.mark.parametrize("kwargs,reference", [
    ({}, lambda a: np.sqrt((a ** 2).sum())),
    ({"axis": 1}, lambda a: np.linalg.norm(a, axis=1)),
    ({"ord": 1, "axis": 0, "keepdims": True}, lambda a: np.abs(a).sum(0, keepdims=True)),
    ({"ord": "fro", "axis": [0, 1]}, lambda a: np.linalg.norm(a, "fro")),
    ({"ord": 1, "axis": [0, 1]}, lambda a: np.linalg.norm(a, 1)),
    ({"ord": np.inf, "axis": [0, 1]}, lambda a: np.linalg.norm(a, np.inf)),
    ({"ord": 2, "axis": [0, 1]}, lambda a: np.linalg.norm(a, 2)),  # (the spectral norm: it was the Frobenius norm)
    ({"ord": 2, "axis": (1, 0), "keepdims": True}, lambda a: np.linalg.norm(a, 2, keepdims=True)),
])
def test_norm(kwargs, reference):
    np.testing.assert_allclose(run(tf.norm(tf.constant(A), **kwargs)), reference(A), rtol=1e-5)


def test_gather_nd_scatter_nd_and_segment_sums():
    params = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    idx = np.array([[0, 1], [1, 2], [0, 0]])
    np.testing.assert_allclose(run(tf.gather_nd(params, idx)), params[idx[:, 0], idx[:, 1]])
    np.testing.assert_allclose(run(tf.gather_nd(params, [[1, 2, 3]])), [params[1, 2, 3]])
    scattered = run(tf.scatter_nd([[0], [2], [0]], np.array([1.0, 2.0, 3.0], np.float32), [4]))
    np.testing.assert_allclose(scattered, [4.0, 0.0, 2.0, 0.0])
    data = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    ids = np.array([2, 0, 2])
    np.testing.assert_allclose(run(tf.unsorted_segment_sum(data, ids, 3)), [[3, 4], [0, 0], [6, 8]])
    np.testing.assert_allclose(run(tf.math.unsorted_segment_mean(data, ids, 3)), [[3, 4], [0, 0], [3, 4]])
    # gradients flow to the gathered rows
    var = tf.Variable(params)
    grad, = tf.gradients(tf.reduce_sum(tf.gather_nd(var, idx)), [var])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        expected = np.zeros_like(params)
        for i, j in idx:
            expected[i, j] += 1
        np.testing.assert_allclose(sess.run(grad), expected)


def test_segment_sums_drop_the_rows_of_negative_ids():
    data = np.array([[1.0, 2.0], [3.0, np.inf], [5.0, 6.0]], np.float32)
    ids = tf.constant([1, -1, 0])  # TF drops the rows of a negative id (the last segment took them)
    np.testing.assert_allclose(run(tf.unsorted_segment_sum(data, ids, 2)), [[5, 6], [1, 2]])
    np.testing.assert_allclose(run(tf.math.unsorted_segment_mean(data, ids, 3)), [[5, 6], [1, 2], [0, 0]])
    var = tf.Variable(data)
    grad, = tf.gradients(tf.reduce_sum(tf.unsorted_segment_sum(var, ids, 2)), [var])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(grad), [[1, 1], [0, 0], [1, 1]])
    # an id past the segments is refused naming the op and the id (it was NumPy's bare IndexError)
    with pytest.raises(IndexError, match=r"tf.math.unsorted_segment_sum: segment_ids\[1\] = 2 is out of range "
                                         r"\[0, 2\)"):
        run(tf.unsorted_segment_sum(data, [0, 2, 1], 2))
    with pytest.raises(IndexError, match=r"tf.math.unsorted_segment_mean: segment_ids\[0\] = 5"):
        run(tf.math.unsorted_segment_mean(data, [5, 0, 1], 2))


def test_gather_nd_and_scatter_nd_refuse_an_index_outside_naming_it():
    params = np.arange(6, dtype=np.float32).reshape(3, 2)
    idx = tf.placeholder(tf.int32, [None, 2])
    with pytest.raises(IndexError, match=r"tf.gather_nd: indices\[1\] = \[0, 2\] does not index into shape "
                                         r"\[3, 2\]"):
        run(tf.gather_nd(params, idx), {idx: [[0, 1], [0, 2]]})
    with pytest.raises(IndexError, match=r"tf.gather_nd: indices\[0\] = \[-1, 0\]"):
        run(tf.gather_nd(params, idx), {idx: [[-1, 0]]})
    with pytest.raises(IndexError, match=r"tf.scatter_nd: indices\[0\] = \[3\] does not index into shape \[3\]"):
        run(tf.scatter_nd([[3]], np.ones(1, np.float32), [3]))
    np.testing.assert_allclose(run(tf.gather_nd(params, idx), {idx: [[2, 1], [0, 0]]}), [5.0, 0.0])


def test_gather_refuses_negative_indices_and_takes_tf1_argument_order():
    # a negative index was counted from the end (-1 read the last row) where TF-1's CPU kernel refuses it; the
    # third positional argument is TF-1's validate_indices (it was taken as the axis)
    table = np.arange(12, dtype=np.float32).reshape(3, 4)
    ids = tf.placeholder(tf.int32, [None])
    for axis in (0, 1, -1):
        with pytest.raises(IndexError):
            run(tf.gather(table, ids, axis=axis), {ids: [0, -1]})
    np.testing.assert_array_equal(run(tf.gather(table, [2, 0], True)), table[[2, 0]])
    params = RNG.normal(size=(2, 5, 3))
    index = np.array([[4, 0], [1, 1]])
    for axis in (0, 1, 2, -2):
        np.testing.assert_array_equal(run(tf.gather(params, index % params.shape[axis], axis=axis)),
                                      np.take(params, index % params.shape[axis], axis=axis))


def test_gather_nd_and_scatter_nd_refuse_an_index_outside_its_axis():
    # an index vector past one axis but inside the table once flattened read another element ([0, 5] of 3 x 3
    # was [1, 2]), a negative one counted from the end; TF's CPU kernels refuse both
    table = np.arange(9, dtype=np.float32).reshape(3, 3)
    for bad in ([[0, 5]], [[1, -1]], [[3, 0]]):
        with pytest.raises(IndexError):
            run(tf.gather_nd(table, bad))
        with pytest.raises(IndexError):
            run(tf.scatter_nd(bad, [1.0], [3, 3]))


def test_nn_extras():
    z = np.array([-30.0, -1.0, 0.0, 2.0, 30.0], np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0], np.float32)
    sig = 1 / (1 + np.exp(-z.astype(np.float64)))
    weighted = -(3.0 * y * np.log(np.maximum(sig, 1e-300)) + (1 - y) * np.log(np.maximum(1 - sig, 1e-300)))
    got = run(tf.nn.weighted_cross_entropy_with_logits(labels=y, logits=z, pos_weight=3.0))
    np.testing.assert_allclose(got, weighted, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(tf.nn.swish(z[1:4])), z[1:4] * 1 / (1 + np.exp(-z[1:4])), rtol=1e-5)
    np.testing.assert_allclose(run(tf.nn.gelu(z[1:4])),
                               z[1:4] * 0.5 * (1 + np.array([math.erf(v / math.sqrt(2)) for v in z[1:4]])),
                               rtol=1e-5)
    np.testing.assert_allclose(run(tf.nn.zero_fraction([0.0, 1.0, 0.0, 2.0])), 0.5)
    targets, log_input = np.array([0.0, 1.0, 3.0], np.float32), np.array([0.1, -0.2, 1.0], np.float32)
    safe = np.maximum(targets, 1)
    stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe)
    full = np.exp(log_input) - targets * log_input + np.where(targets > 1, stirling, 0)
    np.testing.assert_allclose(run(tf.nn.log_poisson_loss(targets, log_input, compute_full_loss=True)), full, rtol=1e-5)
    # [3] targets with [3, 1] log_input broadcast into [3, 3] losses; TF-1 refuses them
    with pytest.raises(ValueError, match=r"log_poisson_loss: log_input and targets must have the same shape "
                                         r"\(got \[3, 1\] and \[3\]\)"):
        tf.nn.log_poisson_loss(targets, log_input[:, None])


def test_bias_add_adds_along_the_channel_axis_of_any_rank():
    bias = np.array([10.0, 20.0], np.float32)
    # channels first: axis 1 whatever the rank (NCW of 2 x 2 x 3 added the bias along the batch axis, NCDHW along D)
    ncw = run(tf.nn.bias_add(np.zeros((2, 2, 3), np.float32), bias, data_format="NCHW"))
    np.testing.assert_array_equal(ncw, np.broadcast_to(bias[None, :, None], (2, 2, 3)))
    ncdhw = run(tf.nn.bias_add(np.zeros((1, 2, 2, 1, 1), np.float32), bias, data_format="NCDHW"))
    np.testing.assert_array_equal(ncdhw, np.broadcast_to(bias.reshape(1, 2, 1, 1, 1), (1, 2, 2, 1, 1)))
    ndhwc = run(tf.nn.bias_add(np.zeros((1, 2, 1, 1, 2), np.float32), bias, data_format="NDHWC"))
    np.testing.assert_array_equal(ndhwc, np.broadcast_to(bias, (1, 2, 1, 1, 2)))
    with pytest.raises(ValueError, match="data_format"):
        tf.nn.bias_add(np.zeros((2, 2), np.float32), bias, data_format="HWC")
    with pytest.raises(ValueError, match="1-D"):  # (a [1, 2] bias broadcast over [2, 2])
        run(tf.nn.bias_add(np.zeros((2, 2), np.float32), bias.reshape(1, 2)))


def test_selu_and_its_gradient_follow_tf_kernels_at_zero():
    # TF's SeluGrad picks the exponential branch for x < 0 only: the slope at 0 is the scale (1.0507), not
    # scale * alpha (1.7581, PyTorch's)
    data = np.array([-3.0, -1e-3, 0.0, 1e-3, 2.0, 100.0])
    x = tf.constant(data)
    y = tf.nn.selu(x)
    got, grad = run([y, tf.gradients(tf.reduce_sum(y), x)[0]])
    scale, scale_alpha = 1.0507009873554805, 1.7580993408473766
    np.testing.assert_allclose(got, np.where(data < 0, scale_alpha * np.expm1(data), scale * data), rtol=1e-14)
    np.testing.assert_allclose(grad, np.where(data < 0, scale_alpha * np.exp(data), scale), rtol=1e-14)


@pytest.mark.parametrize("axis", [-1, 0])
def test_crelu_concatenates_the_relus_of_x_and_minus_x(axis):
    got = run(tf.nn.crelu(A, axis=axis))
    np.testing.assert_array_equal(got, np.maximum(np.concatenate([A, -A], axis=axis), 0))


def test_xw_plus_b_adds_a_bias_per_column_and_refuses_other_shapes():
    x, w, b = A, RNG.normal(size=(4, 2)).astype(np.float32), np.array([1.0, -2.0], np.float32)
    np.testing.assert_allclose(run(tf.nn.xw_plus_b(x, w, b)), x @ w + b, rtol=1e-6)
    with pytest.raises(ValueError, match="bias_add"):  # TF's bias_add takes a 1-D bias only: this one broadcast
        run(tf.nn.xw_plus_b(x, w, np.ones((3, 2), np.float32)))


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv1d_matches_a_height_one_conv2d(padding):
    x = RNG.normal(size=(2, 9, 3)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 5)).astype(np.float32)
    got = run(tf.nn.conv1d(x, w, stride=2, padding=padding))
    expected = run(tf.nn.conv2d(x[:, None], w[None], strides=[1, 1, 2, 1], padding=padding))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("data_format", ["NWC", "NCW"])
def test_conv1d_takes_stride_and_dilations_of_one_or_three_elements(data_format):
    x = RNG.normal(size=(2, 9, 3)).astype(np.float32)
    w = RNG.normal(size=(3, 3, 5)).astype(np.float32)
    value = x if data_format == "NWC" else np.ascontiguousarray(x.transpose(0, 2, 1))
    three = [1, 2, 1] if data_format == "NWC" else [1, 1, 2]
    expected = run(tf.nn.conv1d(value, w, stride=2, padding="SAME", data_format=data_format))
    for stride in ([2], three):
        np.testing.assert_allclose(run(tf.nn.conv1d(value, w, stride=stride, padding="SAME",
                                                    data_format=data_format)), expected, rtol=1e-6)
    dilated = run(tf.nn.conv1d(value, w, stride=1, padding="VALID", data_format=data_format, dilations=[2]))
    assert dilated.shape[1 if data_format == "NWC" else 2] == 5
    with pytest.raises(ValueError, match="stride must be an int or have 1 or 3 elements"):
        tf.nn.conv1d(value, w, stride=[1, 2], padding="SAME", data_format=data_format)


@pytest.mark.parametrize("padding,size", [("SAME", 7), ("SAME", 8), ("VALID", 8), ("VALID", 9)])
def test_conv2d_transpose_is_the_gradient_of_conv2d(padding, size):
    x = tf.Variable(RNG.normal(size=(2, size, size, 3)).astype(np.float32))
    w = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    y = tf.nn.conv2d(x, w, strides=[1, 2, 2, 1], padding=padding)
    dy = RNG.normal(size=tuple(y.shape)).astype(np.float32)
    grad, = tf.gradients(tf.reduce_sum(y * dy), [x])
    transposed = tf.nn.conv2d_transpose(dy, w, output_shape=[2, size, size, 3], strides=[1, 2, 2, 1],
                                        padding=padding)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(transposed), sess.run(grad), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="output_shape"):
        run(tf.nn.conv2d_transpose(dy, w, output_shape=[2, size + 5, size + 5, 3], strides=[1, 2, 2, 1],
                                   padding=padding))


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_conv2d_transpose_refuses_an_output_shape_whose_channels_are_not_the_filters(data_format):
    # the filter (3, 3, out=2, in=5) makes 2 channels: an output_shape asking for 7 was given 2 silently
    value = np.ones((1, 2, 2, 5) if data_format == "NHWC" else (1, 5, 2, 2), np.float32)
    shape = [1, 4, 4, 7] if data_format == "NHWC" else [1, 7, 4, 4]
    with pytest.raises(ValueError, match="output channels"):
        run(tf.nn.conv2d_transpose(value, np.ones((3, 3, 2, 5), np.float32), shape, [1, 2, 2, 1]
                                   if data_format == "NHWC" else [1, 1, 2, 2], "SAME", data_format=data_format))
    with pytest.raises(ValueError, match="4 elements"):
        tf.nn.conv2d_transpose(value, np.ones((3, 3, 2, 5), np.float32), [4, 4, 2],
                               [1, 2, 2, 1] if data_format == "NHWC" else [1, 1, 2, 2], "SAME", data_format=data_format)


def test_conv2d_transpose_refuses_an_output_shape_of_another_batch_size():
    # output_shape's batch size was not read: [7, 8, 8, 5] for a value of 2 examples gave 2 silently
    value, w = np.ones((2, 4, 4, 3), np.float32), np.ones((3, 3, 5, 3), np.float32)
    with pytest.raises(ValueError, match=r"output_shape \[7, 8, 8, 5\] has batch size 7, the value of shape "
                                         r"\[2, 4, 4, 3\] has 2"):
        run(tf.nn.conv2d_transpose(value, w, [7, 8, 8, 5], [1, 2, 2, 1], "SAME"))
    fed = tf.placeholder(tf.float32, [None, 4, 4, 3])
    with tf.Session() as sess:
        assert sess.run(tf.nn.conv2d_transpose(fed, w, [None, 8, 8, 5], [1, 2, 2, 1], "SAME"),
                        {fed: value[:1]}).shape == (1, 8, 8, 5)
        with pytest.raises(ValueError, match="has batch size 2"):
            sess.run(tf.nn.conv2d_transpose(fed, w, [2, 8, 8, 5], [1, 2, 2, 1], "SAME"), {fed: value[:1]})


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC", "reflect"])
def test_pad_mirrors_as_numpy_and_passes_gradients_back(mode):
    paddings = [[1, 2], [3, 0]] if mode.upper() == "REFLECT" else [[3, 2], [4, 1]]
    x = tf.constant(A.astype(np.float64))
    padded = tf.pad(x, paddings, mode)
    weights = RNG.normal(size=np.pad(A, paddings).shape)
    (grad,) = tf.gradients(tf.reduce_sum(padded * weights), [x])
    got, got_grad = run([padded, grad])
    np.testing.assert_array_equal(got, np.pad(A.astype(np.float64), paddings, mode=mode.lower()))
    # the gradient gathers each padded position's weight back to the element it copies
    index = np.pad(np.arange(A.size).reshape(A.shape), paddings, mode=mode.lower())
    np.testing.assert_allclose(got_grad.reshape(-1), np.bincount(index.reshape(-1), weights.reshape(-1), A.size))
    with pytest.raises(ValueError, match=r"tf.pad: .* padding \[5, 0\] of axis 0 \(length 3\)"):
        run(tf.pad(x, [[5, 0], [0, 0]], mode))


def test_split_takes_one_size_of_minus_one_for_what_the_others_leave():
    parts = run(tf.split(tf.constant(A), [1, -1, 2], axis=1))
    assert [p.shape for p in parts] == [(3, 1), (3, 1), (3, 2)]
    np.testing.assert_array_equal(np.concatenate(parts, 1), A)
    with pytest.raises(ValueError, match="may hold one -1"):
        tf.split(tf.constant(A), [-1, -1], axis=1)
    with pytest.raises(ValueError, match=r"size_splits \[1, 1\] do not fit axis 1 of length 4"):
        run(tf.split(tf.constant(A), [1, 1], axis=1))


def test_reduce_std_and_variance_are_tfs_population_statistics():
    # tf.math.reduce_std and reduce_variance were missing (AttributeError)
    x = tf.placeholder(tf.float32, [None, 3])
    std, var = tf.math.reduce_std(x, axis=0), tf.math.reduce_variance(x, axis=1, keepdims=True)
    data = np.arange(6, dtype=np.float32).reshape(2, 3) ** 2
    with tf.Session() as sess:
        got_std, got_var = sess.run([std, var], {x: data})
    np.testing.assert_allclose(got_std, np.std(data, 0), rtol=1e-6)
    np.testing.assert_allclose(got_var, np.var(data, 1, keepdims=True), rtol=1e-6)


def test_clip_by_value_takes_tensor_bounds_as_tf1():
    # tensor bounds raised "using tf.Tensor as a Python bool"; a min above the max gave the max (PyTorch's clamp)
    x = tf.placeholder(tf.float32, [None, 3])
    low, high = tf.placeholder(tf.float32, []), tf.placeholder(tf.float32, [3])
    data, top = np.array([[-2.0, 0.0, 0.5], [1.0, 3.0, 0.1]], np.float32), np.array([1.0, 2.0, 0.25], np.float32)
    clipped = tf.clip_by_value(x, low, high)
    grads = tf.gradients(tf.reduce_sum(clipped), [x, low, high])
    with tf.Session() as sess:
        got, (gx, glow, ghigh) = sess.run([clipped, grads], {x: data, low: 0.0, high: top})
    np.testing.assert_array_equal(got, np.maximum(np.minimum(data, top), 0.0))
    np.testing.assert_array_equal(gx, [[0, 1, 0], [1, 0, 1]])  # at a bound, to x (TF's minimum/maximum)
    assert glow == 1.0
    np.testing.assert_array_equal(ghigh, [0, 1, 1])
    np.testing.assert_array_equal(run(tf.clip_by_value(tf.constant([1.0, 5.0, -3.0]), 3.0, 1.0)), [3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="broadcast"):
        tf.clip_by_value(tf.constant([1.0, 5.0]), tf.zeros([3, 2]), 2.0)


def test_in_top_k_is_false_for_a_row_not_finite_or_a_target_out_of_range():
    # (a NaN target score counted as in the top k, and a target out of range failed in the gather)
    scores = np.array([[0.1, 0.9, 0.9], [0.5, 0.2, np.nan], [0.3, np.inf, 0.1], [1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_array_equal(run(tf.nn.in_top_k(scores, [2, 2, 1, 2], 1)), [True, False, False, True])
    np.testing.assert_array_equal(run(tf.nn.in_top_k(scores, [0, 0, 0, 3], 2)), [False, False, False, False])


def test_in_top_k_refuses_targets_not_1d_integer_indices():
    # (targets [[1], [2]] gave a 2x2 result, and float targets were truncated: 1.9 read as class 1)
    scores = np.array([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4]], np.float32)
    with pytest.raises(ValueError, match=r"in_top_k.*\[2, 3\] and \[2, 1\]"):
        tf.nn.in_top_k(scores, [[1], [2]], 1)
    with pytest.raises(ValueError, match=r"in_top_k.*\[2, 3\] and \[3\]"):
        tf.nn.in_top_k(scores, [1, 2, 0], 1)
    with pytest.raises(ValueError, match=r"in_top_k.*\[3\]"):
        tf.nn.in_top_k(scores[0], [1], 1)
    with pytest.raises(TypeError, match="in_top_k: targets must be int32 or int64"):
        tf.nn.in_top_k(scores, [1.9, 0.9], 1)
    fed_scores, fed_targets = tf.placeholder(tf.float32, [None, 3]), tf.placeholder(tf.int32, None)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(tf.nn.in_top_k(fed_scores, fed_targets, 2),
                                               {fed_scores: scores, fed_targets: [0, 2]}), [False, True])
        with pytest.raises(ValueError, match=r"in_top_k.*\[2, 3\] and \[2, 1\]"):
            sess.run(tf.nn.in_top_k(fed_scores, fed_targets, 1), {fed_scores: scores, fed_targets: [[1], [2]]})


def test_matmul_adjoint_and_sparse_hints():
    """TF-1's matmul takes adjoint_a/adjoint_b (the conjugate transpose: the transpose of real matrices) and the
    a_is_sparse/b_is_sparse hints, which were refused as unknown keywords."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32), rng.standard_normal((2, 5, 3)).astype(np.float32)
    expected = np.swapaxes(a, 1, 2) @ np.swapaxes(b, 1, 2)
    np.testing.assert_allclose(run(tf.matmul(a, b, adjoint_a=True, adjoint_b=True)), expected, rtol=1e-5)
    np.testing.assert_allclose(run(tf.linalg.matmul(a, b, transpose_a=True, adjoint_b=True, a_is_sparse=True,
                                                    b_is_sparse=True)), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="only one of transpose_a and adjoint_a"):
        tf.matmul(a, b, transpose_a=True, adjoint_a=True)


def _gather_loops(p, i, axis, batch_dims):
    if not batch_dims:
        return np.take(p, i, axis=axis)
    return np.stack([_gather_loops(p[k], i[k], axis - 1, batch_dims - 1) for k in range(p.shape[0])])


def test_gather_axis_none_and_batch_dims():
    """tf.gather(p, i, axis=None) gathered from the flattened params (NumPy's take) instead of along axis 0, and
    TF-1's validate_indices and batch_dims keywords were refused."""
    p = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(run(tf.gather(p, [1, 0], axis=None, validate_indices=True)), p[[1, 0]])
    idx = np.random.default_rng(1).integers(0, 4, size=(2, 3, 2))
    np.testing.assert_array_equal(run(tf.gather(p, idx, axis=2, batch_dims=2)), _gather_loops(p, idx, 2, 2))
    np.testing.assert_array_equal(run(tf.gather(p, idx, batch_dims=-1)), _gather_loops(p, idx, 2, 2))  # axis 2
    rows = np.array([[0, 2], [1, 1]])
    np.testing.assert_array_equal(run(tf.gather(p, rows, axis=-1, batch_dims=1)), _gather_loops(p, rows, 3, 1))
    params = tf.constant(p)
    grad = run(tf.gradients(tf.reduce_sum(tf.gather(params, idx, axis=2, batch_dims=2)), params)[0])
    expected = np.zeros_like(p)
    for a in range(2):
        for c in range(3):
            np.add.at(expected[a, c], idx[a, c], 1.0)
    np.testing.assert_array_equal(grad, expected)
    with pytest.raises(ValueError, match="first batch_dims=1 axes"):
        run(tf.gather(p, np.zeros((3, 2), np.int64), axis=1, batch_dims=1))


def test_maximum_minimum_tie_gradient_goes_to_x():
    """TF-1's Maximum/Minimum gradients send a tie wholly to x (the x >= y, x <= y masks): tf.maximum(x, 0)'s
    gradient at x = 0 is 1, not PyTorch's split 0.5; values keep NaN from either side."""
    data = np.array([[1.0, 2.0, 3.0], [2.0, 0.0, 2.0]], np.float32)
    x = tf.constant(data)
    y = tf.constant(np.full((1, 3), 2.0, np.float32))
    grads = run(tf.gradients(tf.reduce_sum(tf.maximum(x, y)) + 10 * tf.reduce_sum(tf.minimum(x, y)), [x, y]))
    np.testing.assert_array_equal(grads[0], (data >= 2) + 10 * (data <= 2))
    np.testing.assert_array_equal(grads[1], [[1, 1, 10]])  # y only where it is strictly the max (min)
    np.testing.assert_array_equal(run(tf.gradients(tf.maximum(x, 0.0), x)[0]), np.ones_like(data))
    a, b = np.array([np.nan, 1, 2], np.float32), np.array([1, np.nan, 2], np.float32)
    np.testing.assert_array_equal(run(tf.maximum(a, b)), [np.nan, np.nan, 2])
    np.testing.assert_array_equal(run(tf.minimum(a, b)), [np.nan, np.nan, 2])


def test_getitem_with_scalar_tensor_indices():
    """TF-1 indexes with scalar integer tensors (x[i] for a while_loop counter or a placeholder); Ember's graph
    getitem refused them ("a graph value has no entries")."""
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    x = tf.constant(data)
    i = tf.placeholder(tf.int32, [])
    assert run(x[i, 1:], {i: 2}).tolist() == data[2, 1:].tolist()
    assert run(x[:, tf.constant(-1), 1]).tolist() == data[:, -1, 1].tolist()
    assert run(x[tf.constant(2), 1:3, tf.constant(4)]).tolist() == data[2, 1:3, 4].tolist()
    assert run(x[tf.newaxis, ..., tf.constant(0)]).tolist() == data[None, ..., 0].tolist()
    _, total = tf.while_loop(lambda k, acc: k < 3, lambda k, acc: (k + 1, acc + x[k]),
                             [tf.constant(0), tf.zeros([4, 5])])
    np.testing.assert_array_equal(run(total), data.sum(0))
    grad = run(tf.gradients(tf.reduce_sum(x[tf.constant(1), 2:]), x)[0])
    np.testing.assert_array_equal(grad, np.pad(np.ones((1, 2, 5), np.float32), [(1, 1), (2, 0), (0, 0)]))
    with pytest.raises(TypeError, match="integer scalar"):
        x[tf.constant(1.0)]


def test_gather_nd_batch_dims():
    """TF-1.15's gather_nd(batch_dims=b): each of the b leading batch entries indexes its own slice of params
    (it raised NotImplementedError)."""
    p = RNG.normal(size=(2, 3, 4, 5)).astype(np.float32)
    idx = np.array([[[0, 1], [2, 3]], [[1, 1], [0, 3]]])  # (batch 2, 2 vectors of length 2 into axes 1, 2)
    expected = np.stack([np.stack([p[b][tuple(v)] for v in idx[b]]) for b in range(2)])
    np.testing.assert_array_equal(run(tf.gather_nd(p, idx, batch_dims=1)), expected)
    idx2 = np.array([[[1], [3]], [[0], [0]], [[2], [1]]])[None].repeat(2, 0)  # (2, 3, 2, 1): batch_dims 2
    expected2 = np.stack([np.stack([p[a, c][idx2[a, c, :, 0]] for c in range(3)]) for a in range(2)])
    np.testing.assert_array_equal(run(tf.gather_nd(p, idx2, batch_dims=2)), expected2)
    params = tf.constant(p)
    grad = run(tf.gradients(tf.reduce_sum(tf.gather_nd(params, idx, batch_dims=1)), params)[0])
    counted = np.zeros_like(p)
    for b in range(2):
        for v in idx[b]:
            counted[b][tuple(v)] += 1
    np.testing.assert_array_equal(grad, counted)
    with pytest.raises(ValueError, match="batch_dims=1"):
        run(tf.gather_nd(p, np.zeros((3, 1), np.int64), batch_dims=1))


def test_empty_max_min_logsumexp_give_the_identity():
    """TF's kernels fill an empty reduction with the reducer's identity: reduce_max the dtype's lowest value
    (-3.4e38 for float32, not -inf), reduce_min its highest, reduce_logsumexp -inf; Ember's max raised."""
    empty = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(run(tf.reduce_max(empty, 0)), np.full(3, np.finfo(np.float32).min, np.float32))
    assert run(tf.reduce_min(np.zeros((2, 0), np.int32), 1, keepdims=True)).tolist() == [[2**31 - 1]] * 2
    assert run(tf.reduce_max(np.zeros((0,), np.int64))) == np.iinfo(np.int64).min
    np.testing.assert_array_equal(run(tf.reduce_logsumexp(empty, 0)), np.full(3, -np.inf, np.float32))
    fed = tf.placeholder(tf.float32, [None, 3])
    with tf.Session() as sess:
        assert sess.run(tf.reduce_max(fed), {fed: empty}) == np.finfo(np.float32).min
        assert sess.run(tf.reduce_max(fed), {fed: A[:, :3]}) == A[:, :3].max()


def test_unsorted_segment_mean_of_integers_divides_as_truediv():
    """TF-1's unsorted_segment_mean is the segments' sum / count: int32 data gives float64 (int8 float32), as
    TF's / divides integers; Ember gave float32 whatever the integer width."""
    out = run(tf.unsorted_segment_mean(np.array([1, 2, 4], np.int32), [0, 0, 1], 3))
    assert out.dtype == np.float64 and out.tolist() == [1.5, 4.0, 0.0]
    assert run(tf.unsorted_segment_mean(np.array([1, 2], np.int8), [0, 0], 1)).dtype == np.float32
    assert run(tf.unsorted_segment_mean(A, [0, 1, 1], 2)).dtype == np.float32


def test_count_nonzero_takes_tf1_argument_names():
    """TF-1's count_nonzero also takes reduction_indices, keep_dims and input (they were refused)."""
    data = np.array([[0, 1, 2], [0, 0, 3]], np.int32)
    assert run(tf.count_nonzero(data, reduction_indices=[1], keep_dims=True)).tolist() == [[2], [1]]
    assert run(tf.count_nonzero(input=data, axis=0)).tolist() == [0, 1, 2]
    assert run(tf.math.count_nonzero(data, keepdims=True)).tolist() == [[3]]

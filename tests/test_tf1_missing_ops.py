"""TF-1 names that were missing from ``ember.compat.tf`` (each a clear AttributeError before): each against
hand-computed NumPy values, and ``tf.gradients`` against finite differences where it is differentiable."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph, numeric_gradient  # noqa: F401  (fresh_graph: autouse, a fresh graph per test)

import ember.compat.tf as tf


def run(t, feed=None):
    with tf.Session() as sess:
        return sess.run(t, feed)


def check_gradient(build, x: np.ndarray, atol: float = 1e-6) -> None:
    """``tf.gradients`` of sum(build(x) * w) against finite differences of the same graph, in float64."""
    x = x.astype(np.float64)
    w = np.random.default_rng(1).normal(size=run(build(tf.constant(x))).shape)
    placeholder = tf.placeholder(tf.float64, list(x.shape))
    loss = tf.reduce_sum(build(placeholder) * w)
    grad, = tf.gradients(loss, [placeholder])
    with tf.Session() as sess:
        got = sess.run(grad, {placeholder: x})
        expected = numeric_gradient(lambda v: sess.run(loss, {placeholder: v}), x)
    np.testing.assert_allclose(got, expected, atol=atol)


# --- segments, bincount, tensor_scatter_nd_* ------------------------------------------------------------------

DATA = np.array([[1.0, 2.0], [3.0, -4.0], [5.0, 6.0], [7.0, 8.0]], np.float32)
IDS = np.array([0, 0, 2, 2])


@pytest.mark.parametrize("reduce, expected", [
    ("sum", [[4, -2], [0, 0], [12, 14]]), ("mean", [[2, -1], [0, 0], [6, 7]]), ("max", [[3, 2], [0, 0], [7, 8]]),
    ("min", [[1, -4], [0, 0], [5, 6]]), ("prod", [[3, -8], [1, 1], [35, 48]]),
])
def test_sorted_segment_reductions_give_max_id_plus_one_rows_empty_ones_as_tf(reduce, expected):
    fn = getattr(tf.math, f"segment_{reduce}")
    assert getattr(tf, f"segment_{reduce}") is fn
    ids = tf.placeholder(tf.int32, [None])
    got = run(fn(DATA, ids), {ids: IDS})
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.array(expected, np.float32))
    check_gradient(lambda x: fn(x, IDS), DATA + np.array([[0.0, 0.1], [0.2, 0.3], [0.4, 0.5], [0.6, 0.7]]))


def test_sorted_segments_refuse_unsorted_or_negative_ids_and_integer_means_truncate():
    with pytest.raises(ValueError, match=r"tf.math.segment_sum: segment ids are not increasing: "
                                         r"segment_ids\[2\] = 1 after 2"):
        run(tf.math.segment_sum(DATA, [0, 2, 1, 1]))
    with pytest.raises(ValueError, match=r"tf.math.segment_max: segment ids must be >= 0, got segment_ids\[0\] = -1"):
        run(tf.math.segment_max(DATA, [-1, 0, 0, 0]))
    with pytest.raises(ValueError, match="one id per row"):
        run(tf.math.segment_sum(DATA, [0, 0, 1]))
    np.testing.assert_array_equal(run(tf.math.segment_mean(np.array([1, 2, -3, 4, 7]), [0, 0, 1, 1, 3])),
                                  [1, 0, 0, 7])  # (1 + 2) / 2 and (-3 + 4) / 2 rounded toward zero


@pytest.mark.parametrize("reduce", ["max", "min", "prod"])
def test_unsorted_segment_max_min_prod_drop_negative_ids_and_fill_empty_segments_as_tf(reduce):
    fn = getattr(tf.math, f"unsorted_segment_{reduce}")
    ids = np.array([1, -1, 1, 0])
    got = run(fn(DATA, ids, 3))
    kept = {0: DATA[[3]], 1: DATA[[0, 2]]}
    numpy_fn = {"max": np.max, "min": np.min, "prod": np.prod}[reduce]
    empty = {"max": np.finfo(np.float32).min, "min": np.finfo(np.float32).max, "prod": 1.0}[reduce]
    expected = np.stack([numpy_fn(kept[0], 0), numpy_fn(kept[1], 0), np.full(2, empty, np.float32)])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(run(fn(np.array([3, 1], np.int32), [0, 0], 2))[1],
                                  {"max": -2 ** 31, "min": 2 ** 31 - 1, "prod": 1}[reduce])
    with pytest.raises(IndexError, match=rf"tf.math.unsorted_segment_{reduce}: segment_ids\[1\] = 3 is out of "
                                         r"range \[0, 3\)"):
        run(fn(DATA, [0, 3, 0, 0], 3))
    check_gradient(lambda x: fn(x, [1, -1, 1, 0], 3)[:2], DATA + np.array([[0.0, 0.1], [0.2, 0.3], [0.4, 0.5],
                                                                          [0.6, 0.7]]))


def test_bincount_lengths_weights_and_dtypes_as_tf1():
    values = np.array([1, 1, 2, 3, 2, 4, 4, 5])
    counts = run(tf.math.bincount(values))
    assert counts.dtype == np.int32 and counts.tolist() == [0, 2, 2, 1, 2, 1]
    weighted = run(tf.bincount(values, weights=np.array([1, 5, 0, 1, 0, 5, 4, 5], np.float64)))
    assert weighted.dtype == np.float64 and weighted.tolist() == [0, 6, 0, 1, 9, 5]
    assert run(tf.math.bincount([1, 1, 7], minlength=10)).tolist() == [0, 2, 0, 0, 0, 0, 0, 1, 0, 0]
    assert run(tf.math.bincount([1, 1, 7], maxlength=3)).tolist() == [0, 2, 0]  # 7 is skipped
    assert run(tf.math.bincount(np.zeros(0, np.int32))).tolist() == []
    as_float = run(tf.math.bincount([[1, 2], [2, 0]], dtype=tf.float32))
    assert as_float.dtype == np.float32 and as_float.tolist() == [1, 1, 2]
    with pytest.raises(ValueError, match=r"tf.math.bincount: arr must hold non-negative values, got arr\[1\] = -1"):
        run(tf.math.bincount([1, -1]))


@pytest.mark.parametrize("name", ["tensor_scatter_nd_update", "tensor_scatter_nd_add", "tensor_scatter_nd_sub"])
def test_tensor_scatter_nd_updates_a_copy(name):
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    rows = np.array([[10.0, 20.0, 30.0], [1.0, 2.0, 3.0]], np.float32)
    fn = getattr(tf, name)
    assert getattr(tf, name.replace("_nd", "")) is fn
    expected = base.copy()
    if name.endswith("update"):
        expected[[3, 1]] = rows
    else:
        np.add.at(expected, [3, 1], rows if name.endswith("add") else -rows)
    np.testing.assert_array_equal(run(fn(base, [[3], [1]], rows)), expected)
    element = base.copy()
    if name.endswith("update"):
        element[1, 2] = 7.0
    else:
        element[1, 2] += 2 * (7.0 if name.endswith("add") else -7.0)  # a repeated index combines
    indices = [[1, 2]] if name.endswith("update") else [[1, 2], [1, 2]]
    updates = np.full(len(indices), 7.0, np.float32)
    np.testing.assert_array_equal(run(fn(base, indices, updates)), element)
    with pytest.raises(IndexError, match=rf"tf.{name}: indices\[0\] = \[4\] does not index into shape \[4, 3\]"):
        run(fn(base, [[4]], rows[:1]))
    with pytest.raises(ValueError, match="must have shape"):
        fn(base, [[1]], rows)
    check_gradient(lambda x: fn(x, [[3], [1]], tf.constant(rows, tf.float64)), base)


# --- strided_slice, roll, reverse_sequence, where_v2 --------------------------------------------------------------

X = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)


@pytest.mark.parametrize("begin, end, strides, masks, expected", [
    ([1, 0, 0], [2, 2, 3], [1, 1, 1], {}, X[1:2, 0:2, 0:3]),
    ([0, -1], [0, 0], [1, -1], {"begin_mask": 1, "end_mask": 3}, X[:, ::-1]),
    ([1, 0], [0, 0], [1, 1], {"ellipsis_mask": 2, "shrink_axis_mask": 1}, X[1, ...]),
    ([0, 0, 2], [0, 0, 3], [1, 1, 1], {"ellipsis_mask": 1, "new_axis_mask": 2, "shrink_axis_mask": 4}, X[..., None, 2]),
    ([-1], [0], [1], {"shrink_axis_mask": 1}, X[-1]),
    ([0, 1], [10, -1], [2, 2], {"new_axis_mask": 1}, X[None, 1:-1:2]),
    ([5], [-10], [-2], {}, X[5:-10:-2]),
    ([0, 1, 3], [2, 3, 0], None, {"end_mask": 4}, X[0:2, 1:3, 3:]),
])
def test_strided_slice_masks_as_tf1(begin, end, strides, masks, expected):
    got = run(tf.strided_slice(X, begin, end, strides, **masks))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    check_gradient(lambda x: tf.strided_slice(x, begin, end, strides, **masks), X[:, :, :3, :3])


def test_strided_slice_refuses_bad_specs_naming_them():
    with pytest.raises(IndexError, match=r"tf.strided_slice: index 5 \(begin\[0\], shrink_axis_mask\) is out"):
        tf.strided_slice(X, [5], [6], shrink_axis_mask=1)
    with pytest.raises(ValueError, match=r"strides\[0\] must be non-zero"):
        tf.strided_slice(X, [0], [1], [0])
    with pytest.raises(ValueError, match="multiple ellipses"):
        tf.strided_slice(X, [0, 0], [1, 1], ellipsis_mask=3)
    with pytest.raises(ValueError, match="a slice spec of 5 entries for input of shape"):
        tf.strided_slice(X, [0] * 5, [1] * 5)


def test_roll_sums_the_shifts_of_an_axis_named_twice():
    np.testing.assert_array_equal(run(tf.roll(X, [1, -2, 3], [0, 3, 3])), np.roll(X, (1, 1), (0, 3)))
    np.testing.assert_array_equal(run(tf.roll(X, 2, -1)), np.roll(X, 2, -1))
    with pytest.raises(ValueError, match="same number of entries"):
        tf.roll(X, [1, 2], [0])
    check_gradient(lambda x: tf.roll(x, [1, 3], [0, 1]), X[:, :, 0, 0])


def test_reverse_sequence_reverses_each_rows_prefix():
    y = np.arange(4 * 5 * 2, dtype=np.float64).reshape(4, 5, 2)
    lengths = np.array([0, 1, 3, 5])
    expected = y.copy()
    for b, n in enumerate(lengths):
        expected[b, :n] = y[b, :n][::-1]
    np.testing.assert_array_equal(run(tf.reverse_sequence(y, lengths, seq_axis=1)), expected)
    flipped = np.transpose(y, (1, 0, 2))
    np.testing.assert_array_equal(run(tf.reverse_sequence(flipped, lengths, seq_axis=0, batch_axis=1)),
                                  np.transpose(expected, (1, 0, 2)))
    np.testing.assert_array_equal(run(tf.reverse_sequence(flipped, lengths, seq_dim=0, batch_dim=1)),
                                  np.transpose(expected, (1, 0, 2)))
    with pytest.raises(ValueError, match=r"tf.reverse_sequence: seq_lengths\[2\] = 6 is not in \[0, 5\]"):
        run(tf.reverse_sequence(y, [0, 1, 6, 1], 1))
    check_gradient(lambda x: tf.reverse_sequence(x, lengths, 1), y)


def test_where_v2_broadcasts_all_three():
    condition = np.array([[True], [False]])
    np.testing.assert_array_equal(run(tf.where_v2(condition, np.ones((2, 3), np.float32), 5.0)),
                                  [[1, 1, 1], [5, 5, 5]])
    assert run(tf.where_v2([True, False, True])).tolist() == [[0], [2]]
    with pytest.raises(TypeError, match="condition must be bool"):
        tf.where_v2([1, 0], [1.0, 2.0], [3.0, 4.0])
    check_gradient(lambda x: tf.where_v2(condition, x, x * 2.0), X[0, :2, :3, 0])


# --- elementwise ------------------------------------------------------------------------------------------------

A = np.array([0.0, 1.0, -2.0, 0.0, 3.0, np.nan, 0.0], np.float32)
B = np.array([0.0, 0.0, 4.0, 2.0, np.inf, 0.0, np.nan], np.float32)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # log(0) and 1 / 0, on purpose
@pytest.mark.parametrize("name, expected", [
    ("divide_no_nan", [0, 0, -0.5, 0, 0, 0, np.nan]),  # 0 where y is 0, whatever x is
    ("xdivy", [0, np.inf, -0.5, 0, 0, np.nan, 0]),  # 0 where x is 0, whatever y is
    ("xlogy", [0, -np.inf, -2 * np.log(4), 0, np.inf, np.nan, 0]),
])
def test_divide_no_nan_xdivy_xlogy(name, expected):
    np.testing.assert_allclose(run(getattr(tf.math, name)(A, B)), np.array(expected, np.float32), rtol=1e-6)
    fn = getattr(tf.math, name)
    x, y = np.array([0.5, 1.5, -2.0, 0.7]), np.array([0.3, 2.0, 4.0, 3.0])
    check_gradient(lambda t: fn(t, tf.constant(y)), x)
    check_gradient(lambda t: fn(tf.constant(x), t), y)
    # where the result is held at 0, so is the gradient (TF's), not NaN
    zeros = tf.constant(np.zeros(2))
    assert run(tf.gradients(tf.reduce_sum(fn(zeros, zeros)), [zeros])[0]).tolist() == [0.0, 0.0]
    assert tf.div_no_nan is tf.math.divide_no_nan


def test_reciprocal_no_nan_rint_and_saturate_cast():
    np.testing.assert_array_equal(run(tf.math.reciprocal_no_nan(np.array([0.0, 2.0, -4.0], np.float32))),
                                  [0.0, 0.5, -0.25])
    np.testing.assert_array_equal(run(tf.math.rint(np.array([0.5, 1.5, 2.5, -0.5, -1.7], np.float32))),
                                  [0.0, 2.0, 2.0, -0.0, -2.0])
    big = np.array([3e9, -3e9, 1.7, np.inf, -np.inf, 2147483520], np.float32)
    np.testing.assert_array_equal(run(tf.saturate_cast(big, tf.int32)),
                                  [2 ** 31 - 1, -2 ** 31, 1, 2 ** 31 - 1, -2 ** 31, 2147483520])
    np.testing.assert_array_equal(run(tf.saturate_cast(np.array([300, -5, 7], np.int32), tf.uint8)), [255, 0, 7])
    np.testing.assert_array_equal(run(tf.saturate_cast(np.array([1e300, -1e300]), tf.float32)),
                                  np.array([3.4028235e38, -3.4028235e38], np.float32))
    np.testing.assert_array_equal(run(tf.saturate_cast(np.array([1e30, -1e30, 5.5]), tf.int64)),
                                  [2 ** 63 - 1, -2 ** 63, 5])


# --- tf.linalg ------------------------------------------------------------------------------------------------

RNG = np.random.default_rng(0)
TALL = RNG.normal(size=(2, 4, 3))


def test_svd_gives_s_u_v_in_tf1_order():
    s, u, v = tf.linalg.svd(TALL)
    assert (s.name, u.name, v.name) == ("Svd:0", "Svd:1", "Svd:2")
    values, left, right = run([s, u, v])
    assert (values.shape, left.shape, right.shape) == ((2, 3), (2, 4, 3), (2, 3, 3))
    np.testing.assert_allclose(left @ (values[..., None] * np.swapaxes(right, -1, -2)), TALL, atol=1e-12)  # v, not v^H
    np.testing.assert_allclose(values, np.linalg.svd(TALL, compute_uv=False))
    _, left, right = run(tf.svd(TALL, full_matrices=True))
    assert left.shape == (2, 4, 4) and right.shape == (2, 3, 3)
    np.testing.assert_allclose(run(tf.linalg.svd(TALL, compute_uv=False)), values)
    check_gradient(lambda x: tf.linalg.svd(x, compute_uv=False), TALL)


def test_qr_and_slogdet():
    q, r = run(tf.linalg.qr(TALL))
    assert q.shape == (2, 4, 3) and r.shape == (2, 3, 3)
    np.testing.assert_allclose(q @ r, TALL, atol=1e-12)
    np.testing.assert_allclose(np.tril(r, -1), 0.0)
    q, r = run(tf.qr(TALL, full_matrices=True))
    assert q.shape == (2, 4, 4) and r.shape == (2, 4, 3)
    np.testing.assert_allclose(q @ r, TALL, atol=1e-12)
    check_gradient(lambda x: tf.linalg.qr(x)[1], TALL)
    matrices = RNG.normal(size=(3, 3, 3))
    matrices[2] = 0.0
    sign, log_abs = run(tf.linalg.slogdet(matrices))
    expected_sign, expected_log = np.linalg.slogdet(matrices)
    np.testing.assert_array_equal(sign, expected_sign)
    np.testing.assert_allclose(log_abs, expected_log)
    check_gradient(lambda x: tf.linalg.slogdet(x)[1], matrices[:2])


@pytest.mark.parametrize("shape", [(2, 3, 4), (4, 3), (3, 3)])
def test_set_diag_replaces_the_main_diagonal(shape):
    x = RNG.normal(size=shape)
    k = min(shape[-2:])
    diagonal = RNG.normal(size=shape[:-2] + (k,))
    expected = x.copy()
    expected[..., range(k), range(k)] = diagonal
    np.testing.assert_array_equal(run(tf.linalg.set_diag(x, diagonal)), expected)
    assert tf.matrix_set_diag is tf.linalg.set_diag
    check_gradient(lambda t: tf.linalg.set_diag(t, diagonal), x)
    check_gradient(lambda d: tf.linalg.set_diag(x, d), diagonal)
    with pytest.raises(ValueError, match="it must have shape"):
        tf.linalg.set_diag(x, np.zeros(k + 1))


def test_cholesky_solve_and_triangular_solve():
    spd = RNG.normal(size=(3, 3))
    spd = spd @ spd.T + 3 * np.eye(3)
    rhs = RNG.normal(size=(3, 2))
    factor = np.linalg.cholesky(spd)
    np.testing.assert_allclose(run(tf.linalg.cholesky_solve(factor, rhs)), np.linalg.solve(spd, rhs))
    check_gradient(lambda b: tf.linalg.cholesky_solve(factor, b), rhs)
    t = RNG.normal(size=(3, 3)) + 3 * np.eye(3)
    for lower, adjoint, matrix in [(True, False, np.tril(t)), (False, False, np.triu(t)),
                                   (True, True, np.tril(t).T), (False, True, np.triu(t).T)]:
        got = run(tf.linalg.triangular_solve(t, rhs, lower=lower, adjoint=adjoint))
        np.testing.assert_allclose(got, np.linalg.solve(matrix, rhs))
        check_gradient(lambda m: tf.matrix_triangular_solve(m, rhs, lower=lower, adjoint=adjoint), t)


# --- random_shuffle, multinomial / random.categorical -----------------------------------------------------------


def test_random_shuffle_permutes_rows_and_repeats_seeded_orders_per_session():
    rows = np.arange(40, dtype=np.float32).reshape(20, 2)
    fed = tf.placeholder(tf.float32, [None, 2])
    seeded, same_seed = tf.random_shuffle(rows, seed=1), tf.random.shuffle(rows, seed=1)
    unseeded = tf.random_shuffle(fed)
    with tf.Session() as sess:
        first, twin = sess.run([seeded, same_seed])
        second = sess.run(seeded)
        fresh = [sess.run(unseeded, {fed: rows}) for _ in range(3)]
    with tf.Session() as sess:
        again = sess.run(seeded)
    for got in [first, second, *fresh]:
        np.testing.assert_array_equal(np.sort(got[:, 0]), rows[:, 0])  # whole rows, each once
        np.testing.assert_array_equal(got[:, 1], got[:, 0] + 1)
    np.testing.assert_array_equal(first, twin)  # ops of one seed draw alike, as TF-1's
    np.testing.assert_array_equal(first, again)  # a new Session starts a seeded op over
    assert (first != second).any() and (fresh[0] != fresh[1]).any()
    with pytest.raises(ValueError, match="rank 1 or more"):
        tf.random_shuffle(3.0)


def test_multinomial_and_categorical_draw_softmax_frequencies():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    with np.errstate(divide="ignore"):
        logits = np.log(probs)  # (a -inf logit is never drawn)
    draws = tf.multinomial(logits, 20000, seed=3)
    assert draws.dtype == np.int64 and draws.shape.as_list() == [2, 20000]
    got = run(draws)
    for row, p in zip(got, probs):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / 20000, p, atol=0.015)
    np.testing.assert_array_equal(got, run(draws))  # seeded: each Session repeats it
    ids = run(tf.random.categorical(np.array([[0.0, 1.0]], np.float32), 5, dtype=tf.int32))
    assert ids.dtype == np.int32 and ids.shape == (1, 5) and set(ids.ravel()) <= {0, 1}
    with pytest.raises(TypeError, match="int32 or int64"):
        tf.random.categorical(logits, 2, dtype=tf.float32)
    with pytest.raises(ValueError, match="2-D"):
        tf.multinomial(np.zeros(3), 2)

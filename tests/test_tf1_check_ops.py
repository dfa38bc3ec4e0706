"""TF-1's assertions (``tf.Assert``, ``tf.assert_*``, ``tf.check_numerics``) and ``tf.errors``: each check
against NumPy on random values, TF-1's messages, static decisions while the graph is built, and that a failed
check stops the ops that wait on it."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

BINARY = {  # name -> NumPy's test of what must hold
    "assert_equal": np.equal, "assert_none_equal": np.not_equal, "assert_less": np.less,
    "assert_less_equal": np.less_equal, "assert_greater": np.greater, "assert_greater_equal": np.greater_equal,
}
UNARY = {"assert_negative": np.less, "assert_positive": np.greater, "assert_non_negative": np.greater_equal,
         "assert_non_positive": np.less_equal}


def _holds_when_run(check, feeds) -> bool:
    with tf.Session() as sess:
        try:
            sess.run(check, feeds)
        except tf.errors.InvalidArgumentError:
            return False
    return True


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_assertions_fail_exactly_where_numpy_says(name):
    rng = np.random.default_rng(0)
    x, y = tf.placeholder(tf.int32, [None, 3]), tf.placeholder(tf.int32, [3])
    check = getattr(tf, name)(x, y)
    assert check.type == "Assert" and getattr(tf.debugging, name) is getattr(tf, name)
    outcomes = set()
    for _ in range(40):
        steps = [(-1,), (0,), (1,), (-1, 0), (0, 1), (-1, 0, 1)][rng.integers(6)]  # each test passes sometimes
        b = rng.integers(0, 5, 3)
        a = b + rng.choice(steps, (2, 3))
        expected = bool(np.all(BINARY[name](a, b)))
        assert _holds_when_run(check, {x: a, y: b}) == expected
        outcomes.add(expected)
    assert outcomes == {True, False}
    assert _holds_when_run(check, {x: np.zeros((0, 3), np.int32), y: [0, 0, 0]})  # nothing to compare: it holds


@pytest.mark.parametrize("name", sorted(UNARY))
def test_sign_assertions_compare_with_zero(name):
    x = tf.placeholder(tf.float32, [None])
    check = getattr(tf, name)(x)
    for values in ([-2.0, -0.5], [0.0, 1.0], [3.0], [-1.0, 0.0, 2.0], [0.0]):
        assert _holds_when_run(check, {x: values}) == bool(np.all(UNARY[name](np.array(values), 0)))


def test_a_failed_assertion_raises_tf1s_message_and_stops_what_waits_on_it():
    x = tf.placeholder(tf.float32, [None])
    with tf.control_dependencies([tf.assert_non_negative(x, message="x must be >= 0")]):
        y = tf.sqrt(x)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [1.0, 4.0]}), [1.0, 2.0])
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            sess.run(y, {x: [1.0, -4.0, 3.0, -1.0, 5.0]})
    assert str(info.value) == ("assertion failed: [x must be >= 0] [Condition x >= 0 did not hold element-wise:] "
                               "[x (Placeholder:0) = ] [1 -4 3...]")
    assert isinstance(info.value, tf.errors.OpError) and info.value.op == "assert_non_negative"


def test_assert_prints_summarize_entries_of_each_tensor_and_text_as_it_is():
    m = tf.constant(np.arange(6).reshape(2, 3))
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"^assertion failed: \[\[0 1 2\]\[3\.\.\.\]\] "
                                                                 r"\[tail\] \[7\] \[abc\] \[2\.5\]$"):
            sess.run(tf.Assert(tf.constant(False), [m, "tail", 7, tf.constant("abc"), 2.5], summarize=4))
        assert sess.run(tf.Assert(tf.constant(True), [m])) is None
    with pytest.raises(TypeError, match="tf.Assert: condition must be a bool tensor.*int32"):
        tf.Assert(tf.constant(1), [m])
    with pytest.raises(ValueError, match=r"tf.Assert: condition must be a scalar.*\[2\]"):
        tf.Assert(tf.constant([True, False]), [m])


def test_a_failed_check_before_a_training_step_leaves_the_variables():
    w, x = tf.Variable(1.0), tf.placeholder(tf.float32, [])
    with tf.control_dependencies([tf.assert_less(x, 5.0)]):
        train = tf.train.GradientDescentOptimizer(0.1).minimize((w - x) ** 2)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: 3.0})
        assert sess.run(w) == pytest.approx(1.4)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[x \(Placeholder:0\) = \] \[7\]"):
            sess.run(train, {x: 7.0})
        assert sess.run(w) == pytest.approx(1.4)


def test_constants_are_checked_while_the_graph_is_built():
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        tf.assert_equal(tf.constant([1, 2, 3]), tf.constant([1, 2, 4]), message="mismatch")
    lines = str(info.value).split("\n")
    assert lines[0] == "mismatch" and lines[1] == "Condition x == y did not hold element-wise:"
    assert lines[3] == "[1 2 3]" and lines[5] == "[1 2 4]"
    passed = tf.assert_equal(tf.constant([1, 2]), [1, 2])
    with tf.Session() as sess:
        assert sess.run(passed) is None
    with pytest.raises(TypeError, match="tf.assert_less: x and y must have the same dtype.*float32.*int32"):
        tf.assert_less(tf.placeholder(tf.float32, [2]), tf.placeholder(tf.int32, [2]))


def test_assert_near_uses_ten_epsilons_or_the_given_tolerances():
    x, y = tf.placeholder(tf.float32, [2]), tf.placeholder(tf.float32, [2])
    default, loose = tf.assert_near(x, y), tf.assert_near(x, y, rtol=0.1, atol=0.0)
    eps = np.finfo(np.float32).eps
    assert _holds_when_run(default, {x: [1.0, 2.0], y: [1.0, 2.0 + 8 * eps]})
    assert not _holds_when_run(default, {x: [1.0, 2.0], y: [1.0, 2.001]})
    assert _holds_when_run(loose, {x: [1.0, 2.1], y: [1.0, 2.0]})
    assert not _holds_when_run(loose, {x: [1.0, 2.3], y: [1.0, 2.0]})
    with pytest.raises(TypeError, match="tf.assert_near: x and y must be floating.*int32"):
        tf.assert_near(tf.constant([1]), tf.constant([1]))


def test_rank_checks_are_static_where_the_rank_is_known():
    with pytest.raises(ValueError, match=r"need a matrix\.  Tensor Const:0 must have rank 2\.  Received rank 1"):
        tf.assert_rank(tf.constant([1, 2]), 2, message="need a matrix")
    with pytest.raises(ValueError, match="must have rank at least 3"):
        tf.assert_rank_at_least(tf.constant([[1]]), 3)
    assert tf.assert_rank_in(tf.constant([[1]]), [1, 2]).type == "NoOp"
    p = tf.placeholder(tf.float32, None)
    checks = tf.assert_rank(p, 2), tf.assert_rank_at_least(p, 1), tf.assert_rank_in(p, (0, 3))
    for value, expected in ((np.ones((2, 2)), (True, True, False)), (np.ones(3), (False, True, False)),
                            (np.float32(1), (False, False, True))):
        assert tuple(_holds_when_run(c, {p: value}) for c in checks) == expected
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError,
                                             match=r"must have rank 2\] \[Received shape: \] \[3\]"):
        sess.run(checks[0], {p: np.ones(3)})


def test_type_integer_and_scalar_checks_raise_now():
    with pytest.raises(TypeError, match="Const:0 must be of type float32; got int32"):
        tf.assert_type(tf.constant(1), tf.float32)
    assert tf.assert_type(tf.constant(1.0), tf.float32).type == "NoOp"
    with pytest.raises(TypeError, match='Expected "x" to be integer type.  Found: Const_2:0 of dtype float32'):
        tf.assert_integer(tf.constant(1.0))
    with pytest.raises(ValueError, match=r"Expected scalar shape for Const_3:0, saw shape: \[1\]"):
        tf.assert_scalar(tf.constant([1.0]))
    scalar = tf.constant(2.0)
    assert tf.assert_scalar(scalar) is scalar
    assert tf.assert_same_float_dtype([scalar, tf.constant(1.0)]) == tf.float32
    with pytest.raises(ValueError, match="expected a floating point type, got int32"):
        tf.assert_same_float_dtype([tf.constant(1)])
    with pytest.raises(TypeError, match='"proper" iterable'):
        tf.assert_proper_iterable(np.ones(2))
    tf.assert_proper_iterable([1, 2])


def test_check_numerics_passes_values_and_gradients_and_names_nan_and_inf():
    x = tf.placeholder(tf.float32, [None])
    checked = tf.check_numerics(x * 2.0, "bad x")
    (grad,) = tf.gradients(tf.reduce_sum(checked * checked), [x])
    with tf.Session() as sess:
        value, g = sess.run([checked, grad], {x: [1.0, 2.0]})
        np.testing.assert_allclose(value, [2.0, 4.0])
        np.testing.assert_allclose(g, [8.0, 16.0])
        for values, found in (([np.nan, 1.0], "NaN"), ([np.inf], "Inf"), ([np.nan, -np.inf], "Inf and NaN")):
            with pytest.raises(tf.errors.InvalidArgumentError, match=f"^bad x : Tensor had {found} values$"):
                sess.run(checked, {x: values})
    assert tf.verify_tensor_all_finite(x, "msg").type == "CheckNumerics"
    assert tf.debugging.assert_all_finite is tf.verify_tensor_all_finite
    with pytest.raises(TypeError, match="tf.check_numerics: tensor must be floating.*int32"):
        tf.check_numerics(tf.constant([1]), "ints")


def test_monotonicity_tests_and_numeric_tensors():
    x = tf.placeholder(tf.int32, [None])
    rising, strictly = tf.is_non_decreasing(x), tf.is_strictly_increasing(x)
    with tf.Session() as sess:
        for values in ([1, 1, 2], [1, 2, 3], [3, 2], [5], np.array([], np.int32)):
            diffs = np.diff(values)
            assert sess.run(rising, {x: values}) == bool(np.all(diffs >= 0))
            assert sess.run(strictly, {x: values}) == bool(np.all(diffs > 0))
    assert tf.is_numeric_tensor(x) and not tf.is_numeric_tensor(tf.constant(True))
    assert not tf.is_numeric_tensor(np.ones(2))


def test_an_uninitialized_variable_raises_failed_precondition():
    w = tf.Variable(1.0)
    with tf.Session() as sess, pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value Variable"):
        sess.run(w)
    assert issubclass(tf.errors.OutOfRangeError, tf.errors.OpError)

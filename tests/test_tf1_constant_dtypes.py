"""The dtypes TF-1 gives constants: a NumPy array or scalar keeps its dtype (float64 stays float64), Python floats
become float32 and Python ints int32 (int64 past int32's range), for ``tf.constant``, ``tf.Variable`` and
``tf.convert_to_tensor``; a Python operand of a tensor's op takes the tensor's dtype."""

import numpy as np
import pytest
from tf1_fixtures import fresh_graph  # noqa: F401  (autouse: a fresh default graph per test)

import ember.compat.tf as tf

CASES = [
    (np.array([1.0]), np.float64), (np.float64(1.0), np.float64), (np.array([1.0], np.float32), np.float32),
    (np.float16(1.0), np.float16), (np.array([1, 2]), np.int64), (np.array(1, np.int8), np.int8),
    (1.0, np.float32), ([1.0, 2], np.float32), ([[1.5]], np.float32), (1, np.int32), ([1, 2], np.int32),
    (2 ** 40, np.int64), ([1, 2 ** 40], np.int64), (True, np.bool_),
]


@pytest.mark.parametrize("value, dtype", CASES, ids=[f"{type(v).__name__}-{np.dtype(d)}" for v, d in CASES])
def test_constant_variable_and_convert_to_tensor_take_tf_dtypes(value, dtype):
    made = [tf.constant(value), tf.Variable(value), tf.convert_to_tensor(value)]
    assert [t.dtype for t in made] == [np.dtype(dtype)] * 3
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for got in sess.run(made):
            np.testing.assert_array_equal(got, np.asarray(value))  # exactly: no trip through float32 or int32
            assert got.dtype == dtype


def test_float64_numpy_data_keeps_its_digits():
    third = np.array([1.0 / 3.0])
    with tf.Session() as sess:
        assert sess.run(tf.constant(third) * 3.0)[0] == 1.0 and sess.run(tf.constant(third))[0] == 1.0 / 3.0
        x = tf.placeholder(tf.float64, [1])
        assert sess.run(x + tf.constant(third), {x: third})[0] == 2.0 / 3.0


def test_explicit_dtypes_and_conversion_requests():
    assert tf.constant(1, dtype=tf.float64).dtype == np.float64 and tf.constant([1.5], tf.float16).dtype == np.float16
    assert tf.constant(np.array([1.7]), dtype=tf.int32).dtype == np.int32  # a NumPy array is cast, as in TF-1
    with pytest.raises(TypeError, match="tf.constant: expected int32, got 1.5"):
        tf.constant(1.5, dtype=tf.int32)
    assert tf.convert_to_tensor(1, dtype=tf.float32).dtype == np.float32
    assert tf.convert_to_tensor(1, preferred_dtype=tf.float64).dtype == np.float64
    assert tf.convert_to_tensor(1.5, dtype_hint=tf.int32).dtype == np.float32  # the hint does not fit: ignored
    x = tf.placeholder(tf.float32, [2], name="x")
    assert tf.convert_to_tensor(x) is x and tf.convert_to_tensor(x, dtype=tf.float32) is x
    with pytest.raises(ValueError, match="requested dtype float64 for Tensor 'x:0' with dtype float32"):
        tf.convert_to_tensor(x, dtype=tf.float64)


def test_python_operands_take_the_tensors_dtype():
    half = tf.placeholder(tf.float16, [2])
    wide = tf.placeholder(tf.float64, [2])
    small = tf.placeholder(tf.int8, [2])
    assert [t.dtype for t in (half + 1.0, 2 * half, tf.add(half, 1), tf.maximum(0.5, half))] == [np.float16] * 4
    assert (small * 3).dtype == np.int8 and (wide - 1).dtype == np.float64
    with tf.Session() as sess:
        out = sess.run(half * 0.1, {half: np.array([1.0, 2.0], np.float16)})
        assert out.dtype == np.float16
        np.testing.assert_array_equal(out, np.array([1.0, 2.0], np.float16) * np.float16(0.1))


def test_fed_numpy_arrays_take_the_placeholders_dtype():
    x = tf.placeholder(tf.float32, [2])
    with tf.Session() as sess:
        out = sess.run(x * 1.0, {x: np.array([1.0 / 3.0, 2.0])})  # float64 data fed to float32, as TF-1 converts it
        assert out.dtype == np.float32 and out[0] == np.float32(1.0 / 3.0)


def test_bfloat16_is_a_tf_dtype():
    # tf.bfloat16 and tf.dtypes.bfloat16 were missing (AttributeError)
    assert tf.bfloat16 is tf.dtypes.bfloat16 and tf.bfloat16 == np.dtype("bfloat16")
    x = tf.placeholder(tf.bfloat16, [2])
    y = tf.cast(x, tf.float32) * 2.0
    with tf.Session() as sess:
        got = sess.run(y, {x: np.array([1.5, -3.0], tf.bfloat16)})
    assert x.dtype == tf.bfloat16 and got.tolist() == [3.0, -6.0]


def test_constant_and_constant_initializer_fill_a_shape_as_tf1():
    # a list short of the shape is laid out row-major, its last element repeated ([1, 2, 3] in (2, 3) was
    # broadcast to [[1, 2, 3], [1, 2, 3]]; [1, 2, 3, 4] in (2, 2) failed to broadcast)
    filled = tf.constant([1, 2, 3], shape=[2, 3])
    laid_out = tf.get_variable("w", [2, 2], initializer=tf.constant_initializer([1, 2, 3, 4]))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(filled), [[1, 2, 3], [3, 3, 3]])
        np.testing.assert_array_equal(sess.run(laid_out), [[1.0, 2.0], [3.0, 4.0]])
        np.testing.assert_array_equal(sess.run(tf.constant(-1.0, shape=[2, 2])), np.full((2, 2), -1.0))
    with pytest.raises(ValueError, match="do not fit"):
        tf.constant([1, 2, 3], shape=[2])


def test_a_string_constant_runs_as_bytes_as_tf1():
    # TF-1's first program: a '<U18' array came back where TF-1 gives b'Hello, TensorFlow!'
    hello = tf.constant("Hello, TensorFlow!")
    with tf.Session() as sess:
        got = sess.run(hello)
        assert isinstance(got, bytes) and got == b"Hello, TensorFlow!"
        assert sess.run(tf.constant(["a", "bc"])).tolist() == [b"a", b"bc"]
    with pytest.raises(TypeError, match="not numeric or string data"):
        tf.constant([1.0, None])


def test_convert_to_tensor_packs_a_list_of_tensors():
    t1, t2 = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
    packed = tf.convert_to_tensor([t1, [5, 6], t2])  # (the Python entry takes the tensors' dtype)
    assert packed.dtype == np.float32 and packed.shape.as_list() == [3, 2]
    total = tf.reduce_sum([t1, t2], axis=0)  # ops pack such lists too
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(packed), [[1, 2], [5, 6], [3, 4]])
        np.testing.assert_array_equal(sess.run(total), [4, 6])
    with pytest.raises(TypeError, match="different dtypes"):
        tf.convert_to_tensor([t1, tf.constant(1, tf.int64)])
    with pytest.raises(ValueError, match="different shapes"):
        tf.convert_to_tensor([t1, tf.constant([1.0, 2.0, 3.0])])

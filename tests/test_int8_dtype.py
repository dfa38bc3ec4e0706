"""int8 tensors: PyTorch's promotion (uint8 with int8 is int16), arithmetic, reductions and conversions."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("other", ["uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "bool"])
def test_promotion_matches_torch(other):
    a = ember.tensor(np.array([1, -2, 3], np.int8))
    b = ember.ones(3, dtype=other)
    expected = (torch.tensor([1, -2, 3], dtype=torch.int8) + torch.ones(3, dtype=getattr(torch, other))).dtype
    assert str((a + b).dtype) == str(expected).removeprefix("torch.")
    assert ember.promote_types(ember.int8, other) == (a + b).dtype


def test_arithmetic_reductions_and_conversions():
    data = np.array([[100, -100, 7], [-128, 127, 0]], np.int8)
    a, t = ember.tensor(data), torch.tensor(data)
    np.testing.assert_array_equal((a * 2).numpy(), (t * 2).numpy())  # wraps around as torch's does
    assert a.sum().dtype == np.int64 and int(a.sum()) == int(t.sum())
    np.testing.assert_array_equal(ember.abs(a).numpy(), torch.abs(t).numpy())
    assert (a + 1.5).dtype == np.float32
    assert ember.tensor(data.astype(np.float32)).char().dtype == np.int8
    assert ember.zeros(2, dtype="int8").dtype == ember.int8
    np.testing.assert_array_equal(ember.tensor([1.7, -1.7]).char().numpy(), torch.tensor([1.7, -1.7]).char().numpy())


def test_an_int8_placeholder_in_tf1():
    import ember.compat.tf as tf

    tf.reset_default_graph()
    x = tf.placeholder(tf.int8, [None])
    y = tf.cast(x, tf.float32) * 2.0
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: np.array([1, -3], np.int8)}), [2.0, -6.0])
    tf.reset_default_graph()


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_division_by_a_python_int_outside_the_dtype_is_a_float_division(dtype):
    # the int took the tensor's dtype first and wrapped: uint8 / -3 divided by 253, int8 / 300 by 44
    data = np.array([100, 7, 0], dtype)
    a, t = ember.tensor(data), torch.tensor(data)
    for number in (-3, 300, 100000):
        np.testing.assert_allclose((a / number).numpy(), (t / number).numpy(), rtol=1e-6)
        np.testing.assert_allclose((number / a).numpy(), (number / t).numpy(), rtol=1e-6)
        np.testing.assert_allclose(ember.atan2(a, number).numpy(), torch.atan2(t, torch.tensor(number)).numpy(),
                                   rtol=1e-6)


def test_python_numbers_that_do_not_fit_an_integer_dtype_are_refused_as_pytorch():
    for dtype, values in (("int8", [300]), ("int8", [-129]), ("int32", [1.5e10]), ("int32", [float("nan")]),
                          ("uint8", [256]), ("uint8", [-256]), ("int16", [[1, 2], [3, 40000]])):
        with pytest.raises(RuntimeError, match=f"cannot be converted to {dtype} without overflow"):
            ember.tensor(values, dtype=getattr(ember, dtype))  # (300 became 44 in int8 before)
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.tensor(values, dtype=getattr(torch, dtype))
    for dtype, values in (("uint8", [-1, -200, 255]), ("int8", [-128, 127, 1.9]), ("bool", [2, 0])):
        got = ember.tensor(values, dtype=getattr(ember, dtype)).numpy()
        np.testing.assert_array_equal(got, torch.tensor(values, dtype=getattr(torch, dtype)).numpy())


def test_full_refuses_a_value_its_dtype_cannot_hold_as_pytorch():
    # NumPy's cast made 255.0 -1 in int8, NaN 0, 1e5 inf in float16, silently (and refused -2 for uint8)
    for dtype, value in (("int8", 255.0), ("int8", float("nan")), ("int32", float("inf")), ("float16", 1e5),
                         ("uint8", -0.5)):
        with pytest.raises(RuntimeError, match=f"full: value .* cannot be converted to {dtype} without overflow"):
            ember.full((2,), value, dtype=getattr(ember, dtype))
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.full((2,), value, dtype=getattr(torch, dtype))
    with pytest.raises(RuntimeError, match="without overflow"):
        ember.full_like(ember.zeros(2, dtype=ember.int8), 1000)
    for dtype, value in (("uint8", -2), ("int8", 2.7), ("int8", -128), ("float16", float("-inf")), ("bool", 3)):
        got = ember.full((2,), value, dtype=getattr(ember, dtype)).numpy()
        np.testing.assert_array_equal(got, torch.full((2,), value, dtype=getattr(torch, dtype)).numpy())

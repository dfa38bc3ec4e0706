"""Complex dtypes: names, promotion (PyTorch's rule), Python complex scalars, conversion to and from NumPy, and the
ops PyTorch refuses on complex numbers."""

import numpy as np
import pytest

import ember
from ember.backend import dtypes


def test_complex_dtypes_and_their_torch_names():
    assert ember.complex64 == np.complex64 and ember.complex128 == np.complex128
    assert ember.cfloat is ember.complex64 and ember.cdouble is ember.complex128
    assert ember.zeros(2, dtype="cdouble").dtype == ember.complex128
    assert ember.ones(2, dtype=ember.cfloat).dtype == ember.complex64


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("float32", "complex64", "complex64"),
    ("float16", "complex64", "complex64"),
    ("bfloat16", "complex64", "complex64"),
    ("float64", "complex64", "complex128"),
    ("float32", "complex128", "complex128"),
    ("int64", "complex64", "complex64"),
    ("uint8", "complex128", "complex128"),
    ("bool", "complex64", "complex64"),
    ("complex64", "complex128", "complex128"),
])
def test_promotion_of_complex_dtypes(a, b, expected):
    assert ember.promote_types(a, b) == ember.promote_types(b, a) == dtypes.as_dtype(expected)
    x, y = ember.zeros(2, dtype=a), ember.zeros(2, dtype=b)
    assert (x + y).dtype == (y * x).dtype == dtypes.as_dtype(expected)


@pytest.mark.parametrize(("dtype", "expected"), [
    ("float32", "complex64"), ("float64", "complex128"), ("int32", "complex64"), ("bool", "complex64"),
    ("complex64", "complex64"), ("complex128", "complex128"),
])
def test_python_complex_scalars_are_weak(dtype, expected):
    assert (ember.ones(2, dtype=dtype) * 1j).dtype == dtypes.as_dtype(expected)
    assert (2j + ember.ones(2, dtype=dtype)).dtype == dtypes.as_dtype(expected)


def test_a_python_float_keeps_a_complex_tensors_dtype():
    assert (ember.ones(2, dtype=ember.complex64) * 2.5).dtype == ember.complex64


def test_tensors_of_python_complex_numbers_take_the_default_complex_dtype():
    assert ember.tensor(1 + 2j).dtype == ember.complex64
    assert ember.tensor([1.0, 2j]).dtype == ember.complex64
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor(1 + 2j).dtype == ember.complex128
        assert (ember.arange(3) * 1j).dtype == ember.complex128
    finally:
        ember.set_default_dtype(ember.float32)


def test_numpy_round_trip_and_is_complex():
    a = np.array([1 + 2j, -3j], np.complex128)
    t = ember.from_numpy(a)
    assert t.dtype == ember.complex128 and t.is_complex() and ember.is_complex(t)
    np.testing.assert_array_equal(t.numpy(), a)
    assert not ember.ones(2).is_complex()
    assert t.tolist() == [1 + 2j, -3j]


def test_only_floating_and_complex_tensors_require_grad():
    assert ember.tensor([1j], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="floating-point and complex"):
        ember.tensor([1], requires_grad=True)


def test_casting_complex_to_real_keeps_the_real_part():
    z = ember.tensor([1.5 + 2j, -1 - 1j])
    with pytest.warns(UserWarning, match="discards the imaginary part"):  # as PyTorch warns
        np.testing.assert_array_equal(z.float().numpy(), [1.5, -1.0])
    with pytest.warns(UserWarning):
        assert z.to(ember.float64).dtype == ember.float64


@pytest.mark.parametrize("call", [
    lambda: ember.tensor([1 + 1j, 2], dtype=ember.float32), lambda: ember.as_tensor([1j], dtype=ember.int64),
    lambda: ember.zeros(2).new_tensor([1j]), lambda: ember.full((2,), 1 + 1j, dtype=ember.float32),
    lambda: ember.full_like(ember.zeros(2), 1j), lambda: ember.zeros(2).new_full((2,), 1j)])
def test_complex_numbers_into_a_real_dtype_are_refused_as_torch(call):
    # NumPy's cast kept the real parts, with a warning only: zeros(2).new_tensor([1j]) was [0.]
    with pytest.raises(TypeError, match="complex"):
        call()


@pytest.mark.parametrize(("name", "call"), [
    ("masked_fill", lambda x: x.masked_fill(ember.tensor([True, False]), 1j)),
    ("masked_fill", lambda x: ember.masked_fill(x, ember.tensor([True, False]), ember.tensor(1j))),
    ("masked_fill_", lambda x: x.masked_fill_(ember.tensor([True, False]), 1j)),
    ("index_fill", lambda x: x.index_fill(0, ember.tensor([0]), 1j)),
    ("scatter", lambda x: x.scatter(0, ember.tensor([1]), ember.tensor([1j]))),
    ("scatter", lambda x: x.scatter_(0, ember.tensor([1]), 1j)),
    ("index_put", lambda x: x.index_put((ember.tensor([1]),), ember.tensor([1j]))),
    ("masked_scatter", lambda x: x.masked_scatter(ember.tensor([True, False]), ember.tensor([1j, 2j]))),
])
def test_complex_values_written_into_a_real_tensor_are_refused_as_torch(name, call):
    # they were cast to the tensor's dtype, the imaginary parts dropped with a warning: [0., 0.] for 1j
    # (a complex tensor is refused as any source of another dtype, a RuntimeError as PyTorch's)
    refused = f"{name}: (complex values cannot be written into a tensor of dtype float32|self of dtype float32 and "
    with pytest.raises((TypeError, RuntimeError), match=refused + r"\w+ of dtype complex)"):
        call(ember.zeros(2))
    assert call(ember.zeros(2, dtype=ember.complex64)).dtype == ember.complex64


def test_a_complex_number_filled_into_a_real_tensor_is_refused_as_torch():
    # zeros(3).fill_(1 + 2j) kept the real part silently ([1., 1., 1.]) where PyTorch raises; fill_diagonal_ failed
    # inside NumPy's float() even for 1 + 0j, which PyTorch writes as 1
    for call in (lambda x: x.fill_(1 + 2j), lambda x: x.fill_diagonal_(1 + 2j),
                 lambda x: x.half().fill_(2j), lambda x: x.long().fill_(1 - 1j)):
        x = ember.zeros(2, 2)
        with pytest.raises(TypeError, match=r"fill_(diagonal_)?: complex values cannot be written into a tensor of "
                                            r"dtype (float32|float16|int64) \(their imaginary parts would be lost\)"):
            call(x)
        assert x.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert ember.zeros(2).fill_(1 + 0j).tolist() == [1.0, 1.0]  # no imaginary part: written, as PyTorch's
    assert ember.zeros(2, 2).fill_diagonal_(3 + 0j).tolist() == [[3.0, 0.0], [0.0, 3.0]]
    assert ember.zeros(2).fill_(ember.tensor(1 + 2j)).tolist() == [1.0, 1.0]  # a tensor's value casts, as PyTorch's
    assert ember.zeros(2, dtype=ember.bool).fill_(2j).tolist() == [True, True]
    assert ember.zeros(2, dtype=ember.complex64).fill_(1 + 2j).tolist() == [1 + 2j, 1 + 2j]
    assert ember.zeros(2, 2, dtype=ember.complex64).fill_diagonal_(2j).tolist() == [[2j, 0j], [0j, 2j]]


def test_item_assignment_of_a_complex_number_into_a_real_tensor_as_torch():
    # x[0] = 1 + 0j failed inside NumPy's float() ("float() argument must be ... not 'complex'") where PyTorch
    # writes 1; one with an imaginary part is refused naming the assignment, as PyTorch refuses it
    x = ember.zeros(3)
    x[0] = 1 + 0j
    x[ember.tensor([False, True, False])] = -2 + 0j
    assert x.tolist() == [1.0, -2.0, 0.0] and x.dtype == ember.float32
    for index in (0, slice(None), ember.tensor([0, 1])):
        with pytest.raises(TypeError, match=r"__setitem__: complex values cannot be written into a tensor of dtype "
                                            r"float32 \(their imaginary parts would be lost\)"):
            x[index] = 1 + 2j
    assert x.tolist() == [1.0, -2.0, 0.0]
    counts = ember.zeros(2, dtype=ember.int64)
    counts[1] = 3 + 0j
    flags = ember.zeros(2, dtype=ember.bool)
    flags[0] = 2j  # bool asks whether nonzero
    assert counts.tolist() == [0, 3] and flags.tolist() == [True, False]


def test_complex_numbers_into_bool_ask_whether_nonzero_as_torch():
    assert ember.tensor([1j, 0j], dtype=ember.bool).tolist() == [True, False]
    assert ember.full((2,), 1j, dtype=ember.bool).tolist() == [True, True]


def test_cfloat_and_cdouble_cast_as_torch():
    x = ember.tensor([1.5, -2.0], requires_grad=True)
    z = x.cfloat()
    assert z.dtype == ember.complex64 and x.double().cdouble().dtype == ember.complex128
    (z * (1 + 2j)).real.sum().backward()  # (differentiable, as PyTorch's)
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_python_complex_of_a_one_element_tensor():
    # complex(t) failed inside float() for a complex tensor (Tensor had no __complex__), as PyTorch's does not
    assert complex(ember.tensor(1 + 2j)) == 1 + 2j
    assert complex(ember.tensor([2.5], dtype=ember.float64)) == 2.5 + 0j and complex(ember.tensor(3)) == 3 + 0j


@pytest.mark.filterwarnings("error")
def test_casting_complex_to_bool_reads_both_parts_as_torch():
    # the imaginary part was dropped (with the warning): [1j, 0j, -0j, 1] gave [False, False, False, True]
    z = ember.tensor([1j, 0j, complex(0.0, -0.0), 1 + 0j, complex(np.nan, 0.0)])
    want = [True, False, False, True, True]  # torch.tensor(...).bool()
    assert z.bool().tolist() == want and z.to(ember.bool).tolist() == want
    assert ember.jit(lambda x: (x * 2).bool())(z).tolist() == want
    assert ember.jit(lambda x: (x * 2).bool())(ember.tensor(1j)).item() is True


@pytest.mark.parametrize(("name", "call"), [
    ("lt", lambda z: z < z),
    ("ge", lambda z: z >= 1),
    ("relu", ember.relu),
    ("max", lambda z: z.max()),
    ("min", lambda z: ember.min(z, 0)),
    ("argmax", ember.argmax),
    ("argsort", ember.sort),
    ("topk", lambda z: ember.topk(z, 1)),
    ("floor", ember.floor),
    ("round", ember.round),
    ("maximum", lambda z: ember.maximum(z, z)),
    ("clamp", lambda z: z.clamp(0, 1)),
    ("sign", ember.sign),
    ("cummax", lambda z: ember.cummax(z, 0)),
    ("mode", ember.mode),
    ("fmax", lambda z: ember.fmax(z, 1.0)),
    ("heaviside", lambda z: ember.heaviside(z, z)),
    ("searchsorted", lambda z: ember.bucketize(z, ember.tensor([1.0, 2.0]))),
    ("nansum", ember.nansum),
    ("nanmedian", ember.nanmedian),
    ("isposinf", ember.isposinf),
    ("isneginf", ember.isneginf),
    ("unique", ember.unique),
    ("unique_consecutive", ember.unique_consecutive),
    ("isin", lambda z: ember.isin(z, z)),
])
def test_ops_pytorch_refuses_on_complex_numbers_are_refused_naming_the_op_and_dtype(name, call):
    with pytest.raises(TypeError, match=rf"{name}: .*complex64"):
        call(ember.tensor([1j, 2.0]))


def test_relu_of_a_complex_graph_value_is_refused_while_the_graph_is_built():
    with pytest.raises(TypeError, match=r"relu: not implemented for complex tensors \(inputs: complex64\[2\]\)"):
        ember.jit(lambda z: ember.relu(z * 2))(ember.tensor([1j, 2.0]))


def test_backward_of_a_complex_output_needs_its_gradient_given():
    z = ember.tensor([1j, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="real scalar output, got complex64"):
        (z * z).sum().backward()
    (z * z).sum().backward(ember.tensor(1 + 0j))
    np.testing.assert_allclose(z.grad.numpy(), [-2j, 4.0])  # conj(2z)


def test_imag_of_a_real_tensor_is_refused_and_real_is_the_tensor():
    x = ember.ones(2)
    assert x.real is x and ember.conj(x) is x
    with pytest.raises(RuntimeError, match="imag: not implemented for tensors with non-complex dtypes"):
        _ = x.imag
    with pytest.raises(RuntimeError, match="view_as_complex: .*last dimension is 2"):
        ember.view_as_complex(ember.ones(2, 3))
    with pytest.raises(TypeError, match="complex: .*float32 or float64 .*float32\\[2\\] and float64\\[2\\]"):
        ember.complex(ember.ones(2), ember.ones(2, dtype=ember.float64))


def test_isreal_and_sgn_of_complex_tensors():
    z = ember.tensor([3 + 4j, 2.0, 0j])
    assert ember.isreal(z).tolist() == [False, True, True]
    np.testing.assert_allclose(ember.sgn(z).numpy(), [0.6 + 0.8j, 1.0, 0.0])


def test_full_of_a_python_complex_is_complex():
    assert ember.full((2,), 1j).dtype == ember.complex64
    assert ember.full((2,), 1 + 1j).tolist() == [1 + 1j, 1 + 1j]
    assert ember.full((2,), 2.0, dtype=ember.complex128).dtype == ember.complex128


def test_nan_to_num_of_complex_numbers_replaces_in_each_part():
    z = ember.tensor([complex(float("nan"), float("inf")), 1 - 1j], dtype=ember.complex128)
    out = ember.nan_to_num(z, nan=2.0, posinf=3.0)
    assert out.dtype == ember.complex128 and out.tolist() == [2 + 3j, 1 - 1j]


def test_isinf_isfinite_and_isnan_of_complex_numbers_look_at_both_parts():
    inf, nan = float("inf"), float("nan")
    z = ember.tensor([complex(inf, 1), complex(1, nan), 1 + 1j, complex(1e308, 1e308)], dtype=ember.complex128)
    assert ember.isinf(z).tolist() == [True, False, False, False]
    assert ember.isfinite(z).tolist() == [False, False, True, True]
    assert ember.isnan(z).tolist() == [False, True, False, False]


def test_linear_relu_of_complex_tensors_is_refused():
    from ember.ops.linalg import linear_relu

    z = ember.ones(1, 3, dtype=ember.complex64)
    with pytest.raises(TypeError, match=r"linear_relu: not implemented for complex tensors"):
        linear_relu(z, ember.ones(2, 3, dtype=ember.complex64), ember.ones(2, dtype=ember.complex64))


def test_randn_and_rand_of_complex_dtypes_draw_both_parts():
    ember.manual_seed(0)
    z = ember.randn(100_000, dtype=ember.cfloat)
    assert z.dtype == ember.complex64 and z.shape == (100_000,)
    assert abs(float((z.abs() ** 2).mean()) - 1.0) < 0.02  # each part N(0, 1/2), as PyTorch
    assert abs(float(z.real.mean())) < 0.01 and abs(float(z.imag.std()) - 0.5 ** 0.5) < 0.01
    u = ember.rand(4, 3, dtype=ember.complex128)
    assert u.dtype == ember.complex128 and 0 <= float(u.real.min()) and float(u.imag.max()) < 1
    assert ember.randn(2, dtype=ember.complex64, requires_grad=True).is_leaf

"""Creation functions (arange, linspace, logspace, full...) against PyTorch: values and dtypes."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _same(ours, theirs):
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("args", [(-1.5, 2), (0.5, 3.7), (3.9, -2.2, -1.5), (0, 7.9, 2.5)])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_arange_with_an_integer_dtype_truncates_float_bounds_as_pytorch(args, dtype):
    if dtype == "uint8" and min(args) < 0:
        return
    _same(ember.arange(*args, dtype=getattr(ember, dtype)), torch.arange(*args, dtype=getattr(torch, dtype)))


def test_arange_refuses_a_step_that_truncates_to_zero():
    with pytest.raises(ValueError, match="arange: step"):
        ember.arange(0, 2.5, 0.5, dtype=ember.int64)


@pytest.mark.parametrize("name", ["linspace", "logspace"])
@pytest.mark.parametrize("args", [(0, 1j, 3), (np.complex128(1 + 2j), 1, 4), (1 + 1j, 2, 1), (0.5j, -1j, 0)])
def test_linspace_and_logspace_of_a_complex_endpoint_are_complex_as_pytorch(name, args):
    _same(getattr(ember, name)(*args), getattr(torch, name)(*args))
    _same(getattr(ember, name)(*args, dtype=ember.complex128), getattr(torch, name)(*args, dtype=torch.complex128))
    with pytest.raises(TypeError, match=f"{name}: a complex start or end"):
        getattr(ember, name)(*args, dtype=ember.float32)


@pytest.mark.parametrize("make", [
    lambda m: m.arange(np.int64(5)), lambda m: m.arange(0, np.int32(7), np.int8(2)), lambda m: m.arange(m.tensor(4)),
    lambda m: m.arange(m.tensor(2.5)), lambda m: m.full((2,), np.int32(3)), lambda m: m.full((2,), m.tensor(3)),
    lambda m: m.full((2,), m.tensor(True)), lambda m: m.full((2,), m.tensor(2.5, dtype=m.float64)),
    lambda m: m.full((2,), np.bool_(True)),
])
def test_numpy_integers_and_0d_tensors_give_arange_and_full_pytorch_dtypes(make):
    _same(make(ember), make(torch))


@pytest.mark.parametrize("low, high, dtype", [(0, 300, "uint8"), (-1, 3, "uint8"), (-129, 0, "int8"), (0, 3, "bool")])
def test_randint_refuses_a_range_its_dtype_cannot_hold(low, high, dtype):
    with pytest.raises(ValueError, match="randint: the range"):
        ember.randint(low, high, (5,), dtype=getattr(ember, dtype))
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.randint(low, high, (5,), dtype=getattr(torch, dtype))


def test_randint_fills_the_whole_range_of_a_small_dtype_and_randperm_refuses_a_negative_n():
    drawn = ember.randint(0, 256, (2000,), dtype=ember.uint8).numpy()
    assert drawn.dtype == np.uint8 and drawn.max() > 250
    assert ember.randint(0, 2, (4,), dtype=ember.bool).dtype == np.bool_
    with pytest.raises(ValueError, match="randperm: n must be non-negative"):
        ember.randperm(-1)


@pytest.mark.parametrize("args", [(0, 5, -1), (3, 1), (1.5, 0.5, 0.25)])
def test_arange_refuses_bounds_against_the_sign_of_step_as_pytorch(args):
    with pytest.raises(ValueError, match="arange: the bounds"):
        ember.arange(*args)
    with pytest.raises(RuntimeError, match="inconsistent"):
        torch.arange(*args)


@pytest.mark.parametrize("args", [(0, float("inf")), (0, float("nan")), (float("-inf"), 0, 1.0)])
def test_arange_refuses_an_infinite_or_nan_bound_naming_itself(args):
    with pytest.raises(ValueError, match="arange: the bounds .* must be finite"):
        ember.arange(*args)
    with pytest.raises(RuntimeError, match="unsupported range"):
        torch.arange(*args)


def test_arange_of_equal_bounds_is_empty():
    _same(ember.arange(2, 2), torch.arange(2, 2))
    _same(ember.arange(2.0, 2.0, -1), torch.arange(2.0, 2.0, -1))


@pytest.mark.parametrize("args", [(0.5, 2.5, 3), (0.5, 10.5, 4), (-2.7, 3.9, 5), (82.55, 212.08, 9), (3, -2.5, 6),
                                  (1.5, 2.5, 1), (-3, 3, 7)])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_linspace_and_logspace_of_an_integer_dtype_truncate_the_endpoints_first_as_pytorch(args, dtype):
    # logspace(0.5, 2.5, 3, dtype=int64) was 3, 31, 316 (10 ** 0.5...), PyTorch's 1, 10, 100
    for name in ("linspace", "logspace"):
        if name == "logspace" and (dtype == "uint8" or max(args[:2]) > 10):
            continue
        try:
            theirs = getattr(torch, name)(*args, dtype=getattr(torch, dtype))
        except RuntimeError:  # a negative float endpoint for uint8
            with pytest.raises(ValueError, match="does not fit dtype uint8"):
                getattr(ember, name)(*args, dtype=getattr(ember, dtype))
            continue
        _same(getattr(ember, name)(*args, dtype=getattr(ember, dtype)), theirs)


@pytest.mark.parametrize("name", ["linspace", "logspace"])
def test_linspace_and_logspace_refuse_bool_and_an_endpoint_past_the_dtype(name):
    with pytest.raises(TypeError, match=f"{name}: does not make bool values"):
        getattr(ember, name)(0, 1, 5, dtype=ember.bool)
    with pytest.raises(ValueError, match=f"{name}: end -300 does not fit dtype int8"):
        getattr(ember, name)(3, -300, 4, dtype=ember.int8)


@pytest.mark.parametrize("name", ["linspace", "logspace"])
def test_linspace_and_logspace_refuse_an_endpoint_of_several_elements_as_pytorch(name):
    # linspace(tensor([0., 1.]), 1, 3) was a [3, 2] tensor, one range per element
    with pytest.raises(ValueError, match=rf"{name}: takes a number or a 0-d tensor for start, got shape \[2\]"):
        getattr(ember, name)(ember.tensor([0.0, 1.0]), 1, 3)
    with pytest.raises(ValueError, match=rf"{name}: takes a number or a 0-d tensor for end, got shape \[1\]"):
        getattr(ember, name)(0, np.array([1.0]), 3)
    with pytest.raises(RuntimeError, match="0-dimensional"):
        getattr(torch, name)(torch.tensor([0.0, 1.0]), 1, 3)
    _same(getattr(ember, name)(ember.tensor(0.5), np.float64(2), 4), getattr(torch, name)(torch.tensor(0.5), 2.0, 4))


def test_float_arange_counts_and_steps_in_float64_as_pytorch():
    # float32 bounds: NumPy stepped in float32, past the end (200.011, one value short of PyTorch's 10001)
    bounds = (np.float32(100.0), np.float32(200.0), np.float32(0.01))
    ours, theirs = ember.arange(*bounds), torch.arange(*bounds)
    assert ours.shape == tuple(theirs.shape) == (10001,)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=2e-5)
    # float64: each value start + i * step (NumPy extrapolated a rounded step, 4.7e-8 off at the end)
    ours = ember.arange(1e6, 1e6 + 1, 1e-3, dtype=ember.float64)
    np.testing.assert_allclose(ours.numpy(), torch.arange(1e6, 1e6 + 1, 1e-3, dtype=torch.float64).numpy(),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("number", [np.float64(1.5), np.float32(0.5), np.float16(2), np.int64(3), np.int8(-2),
                                    np.uint8(3), np.complex128(1j)])
@pytest.mark.parametrize("dtype", ["int64", "uint8", "int32", "float16", "float32"])
def test_a_numpy_number_beside_a_tensor_promotes_as_a_python_number_as_pytorch(number, dtype):
    if dtype == "float16" and isinstance(number, np.complexfloating):
        return  # PyTorch has no complex32 arithmetic on the CPU
    for op in (lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a / b):
        _same(op(ember.tensor([1, 4], dtype=getattr(ember, dtype)), number),
              op(torch.tensor([1, 4], dtype=getattr(torch, dtype)), number))


def test_creation_functions_take_torchs_size_keyword():
    # zeros(size=(2,)) and the rest were TypeErrors (an unexpected keyword argument)
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        assert getattr(ember, name)(size=(2, 3)).shape == getattr(torch, name)(size=(2, 3)).shape
    assert ember.full(size=(2,), fill_value=3).tolist() == torch.full(size=(2,), fill_value=3).tolist()
    assert ember.zeros(size=[2], dtype=ember.float64).dtype == np.float64
    with pytest.raises(TypeError, match="zeros: got size= and sizes as arguments"):
        ember.zeros(2, size=(2,))


def test_spaced_ranges_take_pytorch_keywords():
    # linspace(start, stop, num) and arange(start, stop) refused torch's end= and steps= keywords
    same = [(ember.linspace(start=0, end=1, steps=5), torch.linspace(start=0, end=1, steps=5)),
            (ember.linspace(2, 5, steps=1), torch.linspace(2, 5, steps=1)),
            (ember.arange(start=1, end=7, step=2), torch.arange(start=1, end=7, step=2)),
            (ember.arange(end=4), torch.arange(end=4)),
            (ember.logspace(start=0, end=2, steps=3, base=2.0), torch.logspace(start=0, end=2, steps=3, base=2.0))]
    for ours, theirs in same:
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="linspace: steps must be non-negative, got -1"):
        ember.linspace(0, 1, -1)

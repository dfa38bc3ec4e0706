"""PyTorch's smaller leftovers against torch itself: factories (asarray, frombuffer, empty_strided, scalar_tensor),
samplers (binomial, poisson), top-level Tensor-method spellings, and Tensor's memory and kind methods."""

import array
import os

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def test_scalar_tensor_matches_torch():
    for value, kwargs in ((3, {}), (2.5, {"dtype": ember.float64}), (True, {"dtype": ember.bool})):
        ours = ember.scalar_tensor(value, **kwargs)
        theirs = torch.scalar_tensor(value, **{k: getattr(torch, str(v)) for k, v in kwargs.items()})
        assert ours.shape == () and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        assert ours.item() == theirs.item()
    assert ember.scalar_tensor(1.0, requires_grad=True).requires_grad


def test_asarray_shares_arrays_and_tensors_as_torch():
    a = np.zeros(3)
    ours, theirs = ember.asarray(a), torch.asarray(a)
    a[0] = 5
    assert ours.tolist() == theirs.tolist() == [5.0, 0.0, 0.0] and ours.dtype == np.float64
    copied = ember.asarray(a, copy=True)
    a[1] = 7
    assert copied.tolist() == [5.0, 0.0, 0.0]
    assert ember.asarray(a, dtype=ember.float32).dtype == np.float32
    with pytest.raises(ValueError, match="asarray: cannot share the memory of a float64 array"):
        ember.asarray(a, dtype=ember.float32, copy=False)
    for data in ([1, 2], [1.0, 2], 3.0, [True], np.float64(2.5)):
        assert str(ember.asarray(data).dtype) == str(torch.asarray(data).dtype).replace("torch.", "")
    with pytest.raises(ValueError, match="asarray: cannot share the memory of a list"):
        ember.asarray([1, 2], copy=False)
    np.testing.assert_array_equal(ember.asarray(array.array("f", [1, 2])).numpy(),
                                  torch.asarray(array.array("f", [1, 2])).numpy())
    doubles = array.array("d", [1, 2])  # a buffer's bytes are read as dtype (the default float unless given)
    np.testing.assert_array_equal(ember.asarray(doubles).numpy(), torch.asarray(doubles).numpy())
    assert ember.asarray(doubles, dtype=ember.float64).tolist() == [1.0, 2.0]
    raw = bytearray(b"\x01\x02")
    shared = ember.asarray(raw, dtype=ember.uint8)
    raw[0] = 9
    assert shared.tolist() == [9, 2]


def test_asarray_of_a_tensor_keeps_its_history_unless_told():
    x = ember.ones(3, requires_grad=True)
    h = x * 2
    assert ember.asarray(h) is h
    assert ember.asarray(h, requires_grad=False).requires_grad is False
    widened = ember.asarray(h, dtype=ember.float64)
    assert widened.dtype == np.float64 and widened.requires_grad
    clone = ember.asarray(h, copy=True)
    assert clone is not h and clone.requires_grad
    (widened.sum() + clone.sum()).backward()
    assert x.grad.tolist() == [4.0, 4.0, 4.0]
    leaf = ember.ones(2)
    assert ember.asarray(leaf, requires_grad=True) is leaf and leaf.requires_grad
    with pytest.raises(ValueError, match="asarray: cannot share the memory of a float32 tensor"):
        ember.asarray(leaf, dtype=ember.float64, copy=False)
    with pytest.raises(TypeError, match="asarray: only floating and complex tensors can require gradients, got "
                                        "dtype int64"):
        ember.asarray(np.ones(2, np.int64), requires_grad=True)


def test_frombuffer_shares_the_buffer_as_torch():
    buffer = bytearray(np.arange(4, dtype=np.float32).tobytes())
    ours = ember.frombuffer(buffer, dtype=ember.float32, count=2, offset=4)
    theirs = torch.frombuffer(buffer, dtype=torch.float32, count=2, offset=4)
    assert ours.tolist() == theirs.tolist() == [1.0, 2.0]
    buffer[4:8] = np.float32(9).tobytes()
    assert ours.tolist() == theirs.tolist() == [9.0, 2.0]
    assert ember.frombuffer(buffer, dtype=ember.float32).shape == (4,)
    with pytest.raises(ValueError, match="frombuffer: the buffer's 3 bytes past offset 0 are not a whole number"):
        ember.frombuffer(bytearray(3), dtype=ember.float32)
    with pytest.raises(ValueError, match="frombuffer: 3 elements of float32 need 12 bytes, the buffer has 8"):
        ember.frombuffer(bytearray(8), dtype=ember.float32, count=3)
    with pytest.raises(ValueError, match="frombuffer: offset must be in"):
        ember.frombuffer(bytearray(8), dtype=ember.float32, offset=8)
    with pytest.raises(ValueError, match="frombuffer: the buffer is empty"):
        ember.frombuffer(bytearray(), dtype=ember.float32)


def test_empty_strided_has_torchs_shape_strides_and_dtype():
    ours, theirs = ember.empty_strided((2, 3), (1, 2)), torch.empty_strided((2, 3), (1, 2))
    assert ours.shape == tuple(theirs.shape) and ours.stride() == theirs.stride() == (1, 2)
    assert ours.dtype == np.float32 and not ours.is_contiguous()
    assert ember.empty_strided((0, 3), (3, 1)).shape == (0, 3)
    made = ember.ones(2, dtype=ember.float64).new_empty_strided((2, 2), (1, 2))
    assert made.dtype == np.float64 and made.stride() == (1, 2)
    with pytest.raises(ValueError, match=r"empty_strided: size \[2, 3\] and stride \[1\] must have one entry"):
        ember.empty_strided((2, 3), (1,))


def test_binomial_and_poisson_draw_from_embers_generator():
    count, prob = ember.tensor([10.0, 5.0, 1000.0]), ember.tensor([0.5, 0.0, 1.0])
    ember.manual_seed(3)
    first = ember.binomial(count, prob)
    ember.manual_seed(3)
    assert ember.binomial(count, prob).tolist() == first.tolist()
    assert first.dtype == np.float32 and first[1].item() == 0 and first[2].item() == 1000
    assert 0 <= first[0].item() <= 10
    rates = ember.full((20000,), 4.0, dtype=ember.float64)
    draws = ember.poisson(rates)
    assert draws.dtype == np.float64 and abs(draws.mean().item() - 4.0) < 0.1
    assert abs(ember.binomial(ember.full((20000,), 8.0), ember.full((20000,), 0.25)).mean().item() - 2.0) < 0.05
    with pytest.raises(TypeError, match="binomial: count must have a floating dtype, got int64"):
        ember.binomial(ember.tensor([3, 4]), ember.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="poisson: the rates must be non-negative"):
        ember.poisson(ember.tensor([-1.0]))
    with pytest.raises(TypeError, match="generator must be None, an ember.Generator or a numpy.random.Generator"):
        ember.poisson(rates, generator=object())


def test_binomial_and_poisson_of_0d_parameters_give_0d_draws_as_torch():
    # NumPy's samplers give a Python number there, which failed with an AttributeError from the internals
    for ours, theirs in ((ember.poisson(ember.tensor(3.0)), torch.poisson(torch.tensor(3.0))),
                         (ember.binomial(ember.tensor(10.0), ember.tensor(1.0)),
                          torch.binomial(torch.tensor(10.0), torch.tensor(1.0)))):
        assert ours.shape == tuple(theirs.shape) == () and ours.dtype == np.float32
    assert ember.binomial(ember.tensor(10.0), ember.tensor(1.0)).item() == 10.0


def test_top_level_spellings_of_tensor_methods_match_torch():
    x = ember.ones(2, 3, requires_grad=True)
    value = ember.tensor(2.0, requires_grad=True)
    filled = ember.fill(x, value)
    (filled * ember.arange(6.0).reshape(2, 3)).sum().backward()
    tx = torch.ones(2, 3, requires_grad=True)
    tvalue = torch.tensor(2.0, requires_grad=True)
    (torch.fill(tx, tvalue) * torch.arange(6.0).reshape(2, 3)).sum().backward()
    assert filled.tolist() == [[2.0] * 3] * 2
    assert x.grad.tolist() == tx.grad.tolist() and value.grad.item() == tvalue.grad.item() == 15.0
    assert ember.fill(ember.zeros(2, dtype=ember.int64), 2.7).tolist() == torch.fill(
        torch.zeros(2, dtype=torch.int64), 2.7).tolist()
    assert ember.detach(x).requires_grad is False and ember.detach(x).array is x.array
    a, ta = ember.zeros(3), torch.zeros(3)
    assert ember.index_put_(a, (ember.tensor([0, 2]),), ember.tensor([1.0, 2.0])) is a
    torch.index_put_(ta, (torch.tensor([0, 2]),), torch.tensor([1.0, 2.0]))
    assert a.tolist() == ta.tolist()
    b, tb = ember.ones(2), torch.ones(2)
    ember.addmv_(b, ember.ones(2, 3), ember.ones(3), beta=2, alpha=0.5)
    torch.addmv_(tb, torch.ones(2, 3), torch.ones(3), beta=2, alpha=0.5)
    assert b.tolist() == tb.tolist()
    for name in ("is_inference", "is_conj", "is_neg"):
        assert getattr(ember, name)(x) is getattr(torch, name)(tx) is False
        assert getattr(x, name)() is False
    for name in ("resolve_conj", "resolve_neg"):
        assert getattr(ember, name)(x) is x and getattr(x, name)() is x


def test_tensor_floor_divide_and_prelu_methods_match_torch():
    data = np.array([[5.0, -5.0, 0.5], [-0.5, 3.0, -7.0]], np.float32)
    ours, theirs = ember.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    assert ours.floor_divide(2).tolist() == theirs.floor_divide(2).tolist()
    slopes = [0.25, 0.5, 2.0]
    weight, tweight = ember.tensor(slopes, requires_grad=True), torch.tensor(slopes, requires_grad=True)
    ours_out, theirs_out = ours.prelu(weight), theirs.prelu(tweight)
    np.testing.assert_allclose(ours_out.detach().numpy(), theirs_out.detach().numpy())
    (ours_out * ember.tensor(data)).sum().backward()
    (theirs_out * torch.tensor(data)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    np.testing.assert_allclose(weight.grad.numpy(), tweight.grad.numpy())


def test_dim_order_matches_torch():
    for shape, permutation in (((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 1, 2))):
        ours = ember.ones(*shape).permute(*permutation)
        theirs = torch.ones(*shape).permute(*permutation)
        assert ours.dim_order() == theirs.dim_order()
    assert ember.ones(2, 3).dim_order(ambiguity_check=True) == (0, 1)
    with pytest.raises(RuntimeError, match=r"dim_order: the tensor of shape \[2, 1, 3\] .* has no unique dim order"):
        ember.ones(2, 1, 3).dim_order(ambiguity_check=True)
    with pytest.raises(TypeError, match="dim_order: ambiguity_check must be a bool"):
        ember.ones(2).dim_order(ambiguity_check="no")


def test_pin_memory_refuses_without_an_accelerator_as_torch():
    if ember.cuda_is_available():
        pytest.skip("an accelerator is present")
    x, tx = ember.ones(2), torch.ones(2)
    assert x.is_pinned() is tx.is_pinned() is False
    with pytest.raises(RuntimeError):
        tx.pin_memory()
    with pytest.raises(RuntimeError, match="pin_memory: no accelerator device is available"):
        x.pin_memory()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_share_memory_makes_writes_visible_across_a_fork():
    x = ember.zeros(2, 3)
    assert not x.is_shared()
    assert x.share_memory_() is x and x.is_shared() and x[0].is_shared()
    assert x.share_memory_() is x and x.tolist() == [[0.0] * 3] * 2
    pid = os.fork()
    if pid == 0:
        x.array[0, 1] = 5.0
        os._exit(0)
    os.waitpid(pid, 0)
    assert x.tolist() == [[0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]


def test_pin_memory_pins_a_copy_with_an_accelerator():
    if not ember.cuda_is_available():
        pytest.skip("needs an accelerator")
    x = ember.arange(6.0).reshape(2, 3)
    pinned = x.pin_memory()
    assert pinned.is_pinned() and not x.is_pinned() and pinned.pin_memory() is pinned
    assert pinned.tolist() == x.tolist()


def test_fill_prelu_and_windows_trace_under_jit():
    traced = ember.jit(lambda x: ember.fill(x, 3.0) * x + x.prelu(ember.tensor([0.5, 2.0, 1.0])) * ember.hann_window(3))
    for data in (-np.ones((2, 3), np.float32), np.arange(12, dtype=np.float32).reshape(4, 3) - 5):
        x = ember.tensor(data)
        expected = 3.0 * data + np.where(data > 0, data, data * [0.5, 2.0, 1.0]) * [0.0, 0.75, 0.75]
        np.testing.assert_allclose(traced(x).numpy(), expected, rtol=1e-6)

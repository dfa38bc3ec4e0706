"""PyTorch's type objects at top level (finfo/iinfo, Size, the legacy tensor types, memory formats) and the
``to``/``cuda``/``clone``/``*_like`` keywords that go with them, against torch."""

import pickle
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name):
    mine, theirs = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(mine, field) == getattr(theirs, field), field
        assert type(getattr(mine, field)) is type(getattr(theirs, field)), field
    assert mine.dtype == theirs.dtype == name


def test_finfo_default_and_errors():
    assert ember.finfo() == ember.finfo(ember.float32)
    try:
        ember.set_default_dtype(ember.float64)
        assert ember.finfo().eps == torch.finfo(torch.float64).eps
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError, match="finfo: int32 is not a floating dtype"):
        ember.finfo(ember.int32)
    with pytest.raises(TypeError, match="iinfo: float32 is not an integer dtype"):
        ember.iinfo(ember.float32)
    with pytest.raises(TypeError, match="iinfo: bool"):
        ember.iinfo(ember.bool)
    assert ember.finfo(ember.ones(2).dtype).eps == np.finfo(np.float32).eps


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    mine, theirs = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
    assert (mine.bits, mine.max, mine.min, mine.dtype) == (theirs.bits, theirs.max, theirs.min, theirs.dtype)


def test_constants_and_dtype_type():
    assert (ember.pi, ember.e, ember.inf) == (torch.pi, torch.e, torch.inf)
    assert np.isnan(ember.nan) and ember.newaxis is None
    assert isinstance(ember.float32, ember.dtype) and isinstance(ember.ones(2).dtype, ember.dtype)
    assert ember.ones(2, 3)[:, ember.newaxis].shape == (2, 1, 3)


def test_size():
    s = ember.Size([2, 3, 4])
    assert s == (2, 3, 4) and s.numel() == torch.Size([2, 3, 4]).numel() == 24
    assert ember.Size().numel() == 1
    assert isinstance(ember.ones(2, 3).shape, ember.Size) and isinstance(s, tuple)
    assert not isinstance([2, 3], ember.Size) and not isinstance((2.0,), ember.Size)
    assert repr(s) == "ember.Size([2, 3, 4])"
    with pytest.raises(TypeError, match="Size: sizes must be ints"):
        ember.Size([2, 3.5])


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor",
                                  "CharTensor", "ShortTensor", "IntTensor", "LongTensor", "BoolTensor"])
def test_legacy_tensor_types(name):
    mine, theirs = getattr(ember, name), getattr(torch, name)
    data = [1.7, 0.0, 2.2]
    a, b = mine(data), theirs(data)
    assert str(a.dtype) == str(b.dtype).replace("torch.", "")
    np.testing.assert_array_equal(a.numpy().astype(np.float64), b.float().numpy().astype(np.float64)
                                  if b.dtype == torch.bfloat16 else b.numpy().astype(np.float64))
    assert mine(2, 3).shape == tuple(theirs(2, 3).shape) == (2, 3)
    assert mine().shape == (0,) and mine(ember.Size([4])).shape == (4,)
    assert isinstance(a, mine) and a.type() == f"ember.{name}"
    assert mine.dtype == a.dtype and not mine.is_cuda


def test_legacy_types_isinstance_and_casts():
    x = ember.ones(2)
    assert isinstance(x, ember.FloatTensor) and not isinstance(x, ember.DoubleTensor)
    assert not isinstance(np.ones(2, np.float32), ember.FloatTensor)
    assert x.type(ember.DoubleTensor).dtype == ember.float64
    assert x.type("torch.LongTensor").dtype == ember.int64 and x.type("ember.IntTensor").dtype == ember.int32
    assert ember.FloatTensor(np.array([1.0, 2.0])).dtype == ember.float32  # NumPy data is converted
    assert ember.FloatTensor(x) is x
    with pytest.raises(TypeError, match="FloatTensor: expected a float32 tensor, got float64"):
        ember.FloatTensor(ember.ones(2, dtype=ember.float64))
    with pytest.raises(ValueError, match="legacy CPU tensor type"):
        ember.FloatTensor([1.0], device="cuda")


def test_set_default_tensor_type():
    try:
        with pytest.warns(UserWarning, match="deprecated"):
            ember.set_default_tensor_type(ember.DoubleTensor)
        assert ember.tensor(1.5).dtype == ember.float64 and ember.zeros(2).dtype == ember.float64
        with pytest.warns(UserWarning):
            ember.set_default_tensor_type("torch.FloatTensor")
        assert ember.tensor(1.5).dtype == ember.float32
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(TypeError, match="only floating types"):
                ember.set_default_tensor_type(ember.LongTensor)
            with pytest.raises(TypeError, match="expected a legacy tensor type"):
                ember.set_default_tensor_type(ember.float64)
    finally:
        ember.set_default_dtype(ember.float32)
        ember.set_default_device("cpu")


def test_get_device():
    assert ember.get_device(ember.ones(2)) == torch.get_device(torch.ones(2)) == -1
    assert ember.ones(2).get_device() == -1


# --- memory formats ------------------------------------------------------------------------------------------


def _strides(t):
    return tuple(s // t.array.itemsize for s in t.array.strides) if isinstance(t, ember.Tensor) else t.stride()


def test_channels_last_layout_matches_torch():
    data = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    mine = ember.tensor(data).contiguous(memory_format=ember.channels_last)
    theirs = torch.tensor(data).contiguous(memory_format=torch.channels_last)
    assert _strides(mine) == theirs.stride()
    assert mine.is_contiguous() == theirs.is_contiguous() is False
    assert mine.is_contiguous(memory_format=ember.channels_last) is True
    assert mine.is_contiguous(memory_format=ember.contiguous_format) is False
    np.testing.assert_array_equal(mine.numpy(), data)
    assert _strides(mine.contiguous()) == theirs.contiguous().stride()
    five = ember.ones(2, 3, 4, 5, 6).contiguous(memory_format=ember.channels_last_3d)
    assert _strides(five) == torch.ones(2, 3, 4, 5, 6).contiguous(memory_format=torch.channels_last_3d).stride()
    with pytest.raises(RuntimeError, match="required rank 4 tensor to use channels_last format"):
        ember.ones(2, 3).contiguous(memory_format=ember.channels_last)
    for shape, fmt, tfmt in (((3, 4, 5), ember.channels_last, torch.channels_last),
                             ((2, 3, 4, 5), ember.channels_last_3d, torch.channels_last_3d),
                             ((2, 3, 4, 5, 6), ember.channels_last, torch.channels_last)):
        assert ember.ones(*shape).is_contiguous(memory_format=fmt) is torch.ones(*shape).is_contiguous(
            memory_format=tfmt) is False
    with pytest.raises(RuntimeError, match="preserve_format"):
        ember.ones(2, 3).contiguous(memory_format=ember.preserve_format)


def test_channels_last_gradients_flow_and_values_match():
    rng = np.random.default_rng(1)
    data, weight = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    x = ember.tensor(data, requires_grad=True)
    conv = ember.nn.Conv2d(3, 4, 3, bias=False).double()
    conv.weight.array[...] = weight
    conv.to(memory_format=ember.channels_last)
    assert conv.weight.is_contiguous(memory_format=ember.channels_last)
    out = conv(x.contiguous(memory_format=ember.channels_last))
    (out * out).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    tout = torch.nn.functional.conv2d(tx, torch.tensor(weight))
    (tout * tout).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_like_functions_and_clone_preserve_channels_last():
    x = ember.ones(2, 3, 4, 5).contiguous(memory_format=ember.channels_last)
    tx = torch.ones(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    for name in ("zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"):
        assert _strides(getattr(ember, name)(x)) == getattr(torch, name)(tx).stride(), name
        plain = getattr(ember, name)(x, memory_format=ember.contiguous_format)
        assert _strides(plain) == getattr(torch, name)(tx, memory_format=torch.contiguous_format).stride(), name
    assert _strides(ember.full_like(x, 2.0)) == torch.full_like(tx, 2.0).stride()
    assert _strides(x.clone()) == tx.clone().stride()
    assert _strides(x.clone(memory_format=ember.contiguous_format)) == \
        tx.clone(memory_format=torch.contiguous_format).stride()
    plain = ember.ones(2, 3, 4, 5)
    assert _strides(plain.clone(memory_format=ember.channels_last)) == \
        torch.ones(2, 3, 4, 5).clone(memory_format=torch.channels_last).stride()
    assert _strides(ember.empty(2, 3, 4, 5, memory_format=ember.channels_last)) == \
        torch.empty(2, 3, 4, 5, memory_format=torch.channels_last).stride()
    assert _strides(ember.zeros_like(ember.ones(3, 2).T)) == (3, 1)  # other layouts: row-major (see README)


def test_memory_formats_pickle_as_themselves():
    for fmt in (ember.channels_last, ember.contiguous_format, ember.preserve_format, ember.channels_last_3d):
        assert pickle.loads(pickle.dumps(fmt)) is fmt
        assert isinstance(fmt, ember.memory_format)
    assert repr(ember.channels_last) == "ember.channels_last"


# --- to / cuda keywords ----------------------------------------------------------------------------------------


def test_to_keywords():
    x = ember.ones(2)
    assert x.to("cpu", non_blocking=True) is x
    assert x.to(device="cpu", dtype=ember.float64, non_blocking=True, copy=False).dtype == ember.float64
    assert x.to(ember.float64, False, True).dtype == ember.float64  # to(dtype, non_blocking, copy)
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.array is not x.array
    np.testing.assert_array_equal(copied.numpy(), x.numpy())
    other = ember.zeros(1, dtype=ember.float64)
    assert x.to(other).dtype == ember.float64
    laid = ember.ones(2, 3, 4, 5).to(memory_format=ember.channels_last)
    assert laid.is_contiguous(memory_format=ember.channels_last)
    assert laid.to(memory_format=ember.contiguous_format).is_contiguous()
    y = ember.ones(2, requires_grad=True)
    (y.to(ember.float64, copy=True) * 3).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])


def test_module_to_keywords():
    net = ember.nn.Linear(2, 3)
    weight = net.weight
    assert net.to("cpu", non_blocking=True) is net and net.weight is weight
    net.to(ember.ones(1, dtype=ember.float64))
    assert net.weight.dtype == ember.float64 and net.weight is weight
    conv = ember.nn.Conv2d(3, 4, 3).to(memory_format=ember.channels_last)
    assert conv.weight.is_contiguous(memory_format=ember.channels_last) and conv.bias.is_contiguous()


def test_cuda_arguments_without_a_gpu():
    if ember.cuda.is_available():
        pytest.skip("checks the refusal on a machine without a GPU")
    with pytest.raises(Exception, match="(?i)cuda|gpu|cupy"):
        ember.ones(2).cuda(0, non_blocking=True)
    with pytest.raises(ValueError, match="cuda\\(\\): expected a GPU index"):
        ember.ones(2).cuda("cpu")

"""Tensor's introspection and conversion methods under PyTorch's names (ember.tensor_torch) against PyTorch."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16, torch.int64: np.int64,
           torch.int32: np.int32, torch.int16: np.int16, torch.uint8: np.uint8, torch.bool: np.bool_}


def _pair(data):
    return ember.tensor(data), torch.tensor(data)


@pytest.mark.parametrize("method", ["byte", "short", "half", "bool", "long", "int", "double", "float"])
def test_casts_match_torch(method):
    x, tx = _pair(np.array([[1.7, -2.2, 0.0], [300.0, 4.5, 1.0]], np.float32))
    if method in ("byte",):  # (an out-of-range float to uint8 differs by platform in both)
        x, tx = _pair(np.array([[1.7, 2.2, 0.0], [200.0, 4.5, 1.0]], np.float32))
    ours, theirs = getattr(x, method)(), getattr(tx, method)()
    assert ours.dtype == _DTYPES[theirs.dtype]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("view", [lambda t: t, lambda t: t[1:], lambda t: t[:, ::2], lambda t: t.transpose(0, 2),
                                  lambda t: t[1, 1:, 2:], lambda t: t.expand(2, 2, 3, 4)])
def test_strides_offsets_and_sizes_match_torch(view):
    data = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4)
    x, tx = _pair(data)
    ours, theirs = view(x), view(tx)
    assert ours.stride() == theirs.stride()
    for d in range(-ours.ndim, ours.ndim):
        assert ours.stride(d) == theirs.stride(d)
    assert ours.storage_offset() == theirs.storage_offset()
    assert ours.data_ptr() - x.data_ptr() == theirs.data_ptr() - tx.data_ptr()
    assert ours.ndimension() == theirs.ndimension()
    assert ours.nbytes == theirs.nbytes and ours.itemsize == theirs.itemsize
    with pytest.raises(IndexError, match="stride: dim 5 is out of range"):
        ours.stride(5)


def test_device_and_layout_flags_match_torch():
    x, tx = _pair(np.ones((2, 3), np.float64))
    for name in ("is_cpu", "is_sparse", "is_quantized", "is_meta", "is_cuda"):
        assert getattr(x, name) == getattr(tx, name), name
    assert x.get_device() == tx.get_device() == -1


def test_retains_grad_follows_retain_grad_as_torch():
    w, tw = ember.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
    h, th = w * 2, tw * 2
    assert h.retains_grad == th.retains_grad is False
    h.retain_grad()
    th.retain_grad()
    assert h.retains_grad and th.retains_grad
    w.retain_grad()
    tw.retain_grad()
    assert w.retains_grad == tw.retains_grad is False  # a leaf keeps its grad anyway
    assert (h * 3).retains_grad is False


def test_retain_grad_of_a_tensor_that_does_not_require_grad_is_refused_as_torch():
    # it did nothing, so .grad stayed None without a word
    with pytest.raises(RuntimeError):
        torch.ones(2).retain_grad()
    with pytest.raises(RuntimeError, match=r"retain_grad: the tensor \(shape \[2\], dtype float32\) does not"):
        ember.ones(2).retain_grad()
    with ember.no_grad():
        made = ember.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="retain_grad"):
        made.retain_grad()


def test_the_legacy_new_constructor_matches_torch():
    x, tx = _pair(np.ones(2, np.float64))
    for args in ((2, 3), (), ([1, 2],), ((4, 5),), (3,)):
        ours, theirs = x.new(*args), tx.new(*args)
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == _DTYPES[theirs.dtype]
        if args and not isinstance(args[0], int):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    shared = x.new(x)
    shared.fill_(3.0)
    np.testing.assert_array_equal(x.numpy(), [3.0, 3.0])
    with pytest.raises(TypeError, match="new: a tensor of int64 on cpu given to a tensor of float64"):
        x.new(ember.tensor([1, 2]))


def test_adjoints_match_torch():
    data = np.arange(24.0).reshape(2, 3, 4)
    x, tx = _pair(data)
    for name in ("mT", "mH"):
        np.testing.assert_array_equal(getattr(x, name).numpy(), getattr(tx, name).numpy())
    np.testing.assert_array_equal(x.adjoint().numpy(), tx.adjoint().numpy())
    np.testing.assert_array_equal(x[0].H.numpy(), tx[0].H.numpy())
    assert ember.tensor(2.0).H.item() == torch.tensor(2.0).H.item()
    with pytest.raises(ValueError, match="H: expects a matrix or a 0-d tensor, got shape \\[2, 3, 4\\]"):
        _ = x.H
    with pytest.raises(ValueError, match="adjoint: expects a tensor of at least 2 dimensions"):
        ember.ones(3).adjoint()
    m = ember.tensor(data[0], requires_grad=True)
    (m.mH * ember.tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), np.arange(12.0).reshape(4, 3).T)

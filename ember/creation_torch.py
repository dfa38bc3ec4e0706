"""PyTorch's other factories: ``scalar_tensor``, ``asarray`` (sharing memory where it can), ``frombuffer``,
``empty_strided``/``Tensor.new_empty_strided``, and the samplers ``binomial`` and ``poisson`` (Ember's generator).

>>> a = numpy.zeros(3); t = ember.asarray(a); a[0] = 1; t[0].item()  # shares a's memory
1.0
"""

from __future__ import annotations

import numpy as np

from ember import random as _random
from ember.backend import dtypes as _dtypes
from ember.backend.devices import Device, move
from ember.backend.dtypes import DIFFERENTIABLE, as_dtype
from ember.creation import _eager, _finish, _floating
from ember.ops.convert import as_tensor as _as_tensor
from ember.ops.convert import cast
from ember.ops.effects import random_sample
from ember.tensor import Tensor

__all__ = ["asarray", "binomial", "empty_strided", "frombuffer", "new_empty_strided", "poisson", "scalar_tensor"]


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor holding the number ``s``, in the default float dtype unless given (``torch.scalar_tensor``).

    >>> ember.scalar_tensor(3)  # tensor(3.)
    """
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    return _finish(np.asarray(s, dtype=dtype), dtype, device, requires_grad)


def _check_grad(name: str, dtype, requires_grad) -> None:
    if requires_grad and dtype not in DIFFERENTIABLE:
        raise TypeError(f"{name}: only floating and complex tensors can require gradients, got dtype {dtype}")


def _from_tensor(obj: Tensor, dtype, device, copy, requires_grad) -> Tensor:
    result = obj
    if dtype is not None and as_dtype(dtype) != obj.dtype:
        result = result.to(as_dtype(dtype))
    if device is not None and Device(device) != obj.device:
        result = result.to(Device(device))
    if copy is False and result is not obj:
        raise ValueError(f"asarray: cannot share the memory of a {obj.dtype} tensor on {obj.device} with the "
                         f"requested dtype {as_dtype(dtype or obj.dtype)} and device {device or obj.device}")
    if copy and result is obj:
        result = obj.clone()
    if requires_grad is False and result.requires_grad:
        return result.detach()
    if requires_grad and not result.requires_grad:
        _check_grad("asarray", result.dtype, True)
        result.requires_grad_(True)
    return result


def _from_array(array: np.ndarray, dtype, device, copy) -> np.ndarray:
    shares = (dtype is None or as_dtype(dtype) == array.dtype) and (device is None or Device(device).type == "cpu")
    if copy is False and not shares:
        raise ValueError(f"asarray: cannot share the memory of a {array.dtype} array with the requested dtype "
                         f"{as_dtype(dtype or array.dtype)} and device {device or 'cpu'}")
    if shares and not copy:
        return array
    return array.astype(as_dtype(dtype) if dtype is not None else array.dtype, copy=True)


def _is_buffer(obj) -> bool:
    if isinstance(obj, (list, tuple, int, float, bool, complex)):
        return False
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def asarray(obj, *, dtype=None, device=None, copy: bool | None = None, requires_grad: bool | None = None) -> Tensor:
    """``obj`` (a Tensor, a NumPy array or scalar, an object with the buffer protocol, a number or a sequence) as a
    tensor, as ``torch.asarray``: a Tensor or array is shared when ``dtype`` and ``device`` allow it and ``copy`` is
    not True (``copy=False`` raises where they do not); a tensor keeps its history, and ``requires_grad`` None
    keeps the tensor's flag. A buffer is read as elements of ``dtype`` (the default float dtype unless given).

    >>> ember.asarray([1, 2]).dtype, ember.asarray(numpy.ones(2, "float64")).dtype
    (dtype('int64'), dtype('float64'))
    """
    if isinstance(obj, Tensor):
        return _from_tensor(obj, dtype, device, copy, requires_grad)
    if isinstance(obj, (np.ndarray, np.generic)):
        array = _from_array(np.asarray(obj), dtype, device, copy)
    elif _is_buffer(obj):  # (bytes, array.array...: read as elements of dtype, as torch.frombuffer)
        array = _from_array(np.frombuffer(obj, as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT),
                            None, device, copy)
    else:
        if copy is False:
            raise ValueError(f"asarray: cannot share the memory of a {type(obj).__name__}; pass copy=None or True")
        made = Tensor(obj, dtype=dtype)
        array = made.array
    result = Tensor._make(array, None) if device is None or Device(device).type == "cpu" else Tensor._make(
        move(array, Device(device)), None)
    if requires_grad:
        _check_grad("asarray", result.dtype, True)
        result.requires_grad_(True)
    return result


def frombuffer(buffer, *, dtype, count: int = -1, offset: int = 0, requires_grad: bool = False) -> Tensor:
    """A 1-D tensor sharing the memory of an object with Python's buffer protocol (``torch.frombuffer``): ``count``
    elements of ``dtype`` (-1: all the rest) starting ``offset`` bytes in. The tensor of a read-only buffer
    (``bytes``) is read-only: an in-place write raises.

    >>> ember.frombuffer(bytearray(b"\\x01\\x02\\x03"), dtype=ember.uint8, offset=1)  # tensor([2, 3])
    """
    dtype = as_dtype(dtype)
    size = memoryview(buffer).nbytes
    if size == 0:
        raise ValueError("frombuffer: the buffer is empty")
    if not 0 <= offset < size:
        raise ValueError(f"frombuffer: offset must be in [0, {size}) bytes of the buffer, got offset={offset}")
    if count == 0 or count < -1:
        raise ValueError(f"frombuffer: count must be positive or -1 (all the rest), got {count}")
    rest = size - offset
    if count == -1 and rest % dtype.itemsize:
        raise ValueError(f"frombuffer: the buffer's {rest} bytes past offset {offset} are not a whole number of "
                         f"{dtype} elements of {dtype.itemsize} bytes")
    if count > 0 and count * dtype.itemsize > rest:
        raise ValueError(f"frombuffer: {count} elements of {dtype} need {count * dtype.itemsize} bytes, the "
                         f"buffer has {rest} past offset {offset}")
    _check_grad("frombuffer", dtype, requires_grad)
    return _finish(np.frombuffer(buffer, dtype, count, offset), dtype, None, requires_grad)


def _strided(name: str, size, stride, dtype) -> np.ndarray:
    size, stride = tuple(int(d) for d in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise ValueError(f"{name}: size {list(size)} and stride {list(stride)} must have one entry per dimension")
    if any(d < 0 for d in size) or any(s < 0 for s in stride):
        raise ValueError(f"{name}: size {list(size)} and stride {list(stride)} must not be negative")
    span = 0 if 0 in size else 1 + sum((d - 1) * s for d, s in zip(size, stride))
    memory = np.zeros(span, dtype)
    return np.lib.stride_tricks.as_strided(memory, size, tuple(s * dtype.itemsize for s in stride))


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` whose dimensions step ``stride`` elements in memory (``torch.empty_strided``; zero-filled,
    as Ember's ``empty``). Overlapping strides (a stride of 0) make elements share memory, as in PyTorch.

    >>> ember.empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    dtype = as_dtype(dtype) if dtype is not None else _dtypes.DEFAULT_FLOAT
    _check_grad("empty_strided", dtype, requires_grad)
    return _finish(_strided("empty_strided", size, stride, dtype), dtype, device, requires_grad)


def new_empty_strided(self: Tensor, size, stride, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """``empty_strided`` with this tensor's dtype and device unless given (``Tensor.new_empty_strided``)."""
    return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)


def _sample(name: str, draw, *tensors, generator=None) -> Tensor:
    _eager(name, *tensors)
    arrays = [t.array if t.device.type == "cpu" else move(t.array, Device("cpu")) for t in tensors]
    # (np.asarray: NumPy's samplers give a Python number for 0-d parameters)
    array = np.asarray(draw(_random.numpy_generator(generator), *np.broadcast_arrays(*arrays))).astype(tensors[0].dtype)
    return Tensor._make(move(array, tensors[0].device) if tensors[0].device.type != "cpu" else array, None)


def binomial(count, prob, generator=None) -> Tensor:
    """Binomial draws of ``count`` trials with success probability ``prob`` (floating tensors of one shape), in
    ``count``'s dtype, from Ember's generator state (the ``random_sample`` op: graphs and ``ember.jit`` draw afresh
    on every run) or, eagerly, from ``generator`` (``torch.binomial``; no gradient).

    >>> ember.binomial(ember.tensor([10.0, 5.0]), ember.tensor([0.5, 0.0]))[1].item()
    0.0
    """
    count, prob = _as_tensor(count), _as_tensor(prob)
    _floating("binomial", "count", count)
    _floating("binomial", "prob", prob)
    if count.shape != prob.shape:
        raise ValueError(f"binomial: count of shape {list(count.shape)} and prob of shape {list(prob.shape)} must "
                         "have one shape")
    if not prob.symbolic and bool(((prob.array < 0) | (prob.array > 1) | (prob.array != prob.array)).any()):
        raise ValueError("binomial: prob must be in [0, 1]")
    if not count.symbolic and bool(((count.array < 0) | (count.array != np.floor(count.array))).any()):
        raise ValueError("binomial: count must hold non-negative whole numbers")
    if generator is None:
        return random_sample("binomial", (), count.detach(), probs=cast(prob, count.dtype).detach())
    return _sample("binomial", lambda rng, n, p: rng.binomial(n.astype(np.int64), p), count, cast(prob, count.dtype),
                   generator=generator)


def poisson(input, generator=None) -> Tensor:  # noqa: A002  (PyTorch's name)
    """Poisson draws with the rates ``input`` (a floating tensor), in its dtype, from Ember's generator state
    (the ``random_sample`` op: graphs and ``ember.jit`` draw afresh on every run) or, eagerly, from ``generator``
    (``torch.poisson``; no gradient).

    >>> ember.poisson(ember.zeros(3)).tolist()
    [0.0, 0.0, 0.0]
    """
    input = _as_tensor(input)  # noqa: A001
    _floating("poisson", "the rates", input)
    if not input.symbolic and bool(((input.array < 0) | (input.array != input.array)).any()):
        raise ValueError("poisson: the rates must be non-negative")
    if generator is None:
        return random_sample("poisson", (), input.detach())
    return _sample("poisson", lambda rng, rates: rng.poisson(rates), input, generator=generator)

"""Tensor: an array on a device, plus what autograd needs (requires_grad, grad, the node that made it).

Operators and op methods are the functions of ``ember.ops`` themselves, listed in ``OpMethods``
(``ember.tensor_methods``), so ``x.exp()``, ``ember.exp(x)`` and ``ember.ops.exp(x)`` are one code path.
"""

from __future__ import annotations

import warnings
from copy import deepcopy
from functools import reduce
from itertools import chain
from numbers import Number

import numpy as np

from ember import ops as _ops
from ember import traced_state
from ember.backend import dtypes as _dtypes
from ember.backend.devices import (
    CPU,
    Device,
    array_module,
    cuda_device,
    device_of,
    from_torch,
    is_torch_device,
    is_torch_tensor,
    move,
)
from ember.backend.dtypes import DIFFERENTIABLE, as_dtype
from ember.backend.printing import add_suffixes, format_array, get_printoptions
from ember.grad_mode import OwnVersion, is_grad_enabled, keeps_tangent, mark_replaced
from ember.memory_format import _channels_last_of
from ember.ops.convert import check_fill_value
from ember.ops.indexing import ints_first, sequence_index
from ember.ops.scatter_views import check_put_dtype
from ember.ops.scatter_views import setitem as _replaced_item
from ember.ops.unknown_size import UnknownSize
from ember.tensor_inplace import InplaceMethods, marked_for_write, read_traced, record_in_place, write_traced
from ember.tensor_inplace_torch import TorchInplaceMethods
from ember.tensor_inplace_views import tensor_hooks_end
from ember.tensor_methods import OpMethods
from ember.tensor_torch import TorchMethods
from ember.tensor_torch_misc import TorchMiscMethods

_PYTHON_DEFAULTS = {"i": np.dtype(np.int64), "u": np.dtype(np.int64), "b": np.dtype(np.bool_)}


def _check_fits(data: np.ndarray, dtype: np.dtype) -> None:
    """Python numbers for an integer dtype must fit it, as PyTorch checks them (an unsigned dtype takes negatives
    down to -max, which wrap); NumPy's cast would wrap 300 to 44 in int8, or make NaN the smallest int32. Complex
    numbers need a complex dtype (or bool: whether nonzero), as PyTorch's (NumPy's cast drops their imaginary
    parts)."""
    if data.dtype.kind == "c" and dtype.kind not in "cb":
        raise TypeError(f"tensor: complex numbers need a complex dtype, got {dtype} (take .real first to drop the "
                        f"imaginary parts)")
    if dtype.kind not in "iu" or data.dtype.kind not in "iuf" or not data.size:
        return
    info = np.iinfo(dtype)
    low = -int(info.max) if dtype.kind == "u" else int(info.min)
    if data.dtype.kind == "f":
        bad = ~np.isfinite(data) | (np.trunc(data) < low) | (np.trunc(data) > int(info.max))
    else:
        bad = (data < low) | (data > info.max) if data.dtype.kind == "i" else data > info.max
    if bad.any():
        value = data[bad].flat[0].item()
        raise RuntimeError(f"tensor: value {value!r} cannot be converted to {dtype} without overflow")


_PYTHON_NUMBERS = frozenset({bool, int, float, complex})
_SEQUENCES = frozenset({list, tuple})


def _element_dtype(source, found: np.ndarray) -> np.dtype | None:
    """PyTorch's dtype for Python data holding NumPy scalars or tensors (each element's own dtype, Python numbers
    as the default dtypes, promoted: ``[np.float64(1.5), 2.0]`` is float64, ``[np.int32(1), np.int32(2)]`` int32,
    ``[ember.tensor(1.5, dtype=ember.float64)]`` float64); None
    for Python numbers alone (``found``'s kind decides) or other elements. Python ints past int64's range that
    NumPy held as floats are refused, as PyTorch refuses them."""
    level = [source]
    for _ in range(found.ndim):
        kinds = set(map(type, level))
        if not kinds <= _SEQUENCES:
            if all(k is np.ndarray or issubclass(k, Tensor) for k in kinds):  # a list of arrays or tensors: theirs
                return reduce(_dtypes.promote_types, {as_dtype(a.dtype) for a in level})
            return None
        level = list(chain.from_iterable(level))
    types = set(map(type, level))
    if types <= _PYTHON_NUMBERS:
        if found.dtype.kind == "f" and types and types <= {int, bool}:
            value = next(v for v in found.flat if not -(1 << 63) <= v < 1 << 63)
            raise RuntimeError(f"tensor: value {int(value)} cannot be converted to int64 without overflow")
        return None
    dtype = None
    for kind in types:
        if kind is float:
            element = _dtypes.DEFAULT_FLOAT
        elif kind is complex:
            element = _dtypes.default_complex()
        elif kind is int or kind is bool:
            element = _PYTHON_DEFAULTS["i" if kind is int else "b"]
        elif issubclass(kind, np.generic) and np.dtype(kind).kind in "biufc":
            element = np.dtype(kind)
        elif issubclass(kind, Tensor):  # 0-d tensors: their own dtypes
            element = reduce(_dtypes.promote_types, {v.dtype for v in level if v.__class__ is kind})
        else:
            return None
        dtype = element if dtype is None else _dtypes.promote_types(dtype, element)
    return dtype


class NotOneElementError(ValueError, RuntimeError):
    """A number or truth value asked of a tensor without exactly one element: a ValueError (NumPy's kind) that
    ``except RuntimeError`` (PyTorch's) catches too."""


def _holds_one_element_tensors(data) -> bool:
    """Whether Python data (nested lists or tuples) starts with a one-element tensor of one or more dimensions."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return isinstance(data, Tensor) and not data.symbolic and data.array.ndim > 0 and data.array.size == 1


def _as_numbers(data):
    """``data`` with its one-element tensors 0-d (keeping their dtypes): PyTorch reads a tensor inside a list as
    a number, so ``[tensor([1.5]), tensor([2.0])]`` has shape (2,), not NumPy's (2, 1)."""
    if isinstance(data, (list, tuple)):
        return [_as_numbers(item) for item in data]
    if isinstance(data, Tensor) and not data.symbolic and data.array.ndim > 0 and data.array.size == 1:
        return Tensor._make(data.array.reshape(()), None)
    return data


def _to_array(data, dtype, device: Device):
    """Copy ``data`` (Python numbers or lists, NumPy/CuPy arrays, Tensors) into a new array on ``device``."""
    if isinstance(data, Tensor):
        data = data.array
    if not hasattr(data, "dtype"):
        if _holds_one_element_tensors(data):
            data = _as_numbers(data)
        source = data
        try:
            data = np.array(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__}: {exc}") from exc
        if dtype is None:
            dtype = _element_dtype(source, data)
        if dtype is None:
            kind = data.dtype.kind
            dtype = _dtypes.DEFAULT_FLOAT if kind == "f" else _PYTHON_DEFAULTS.get(kind)
            if kind == "c":
                dtype = _dtypes.default_complex()
            elif kind == "u":  # Python ints past int64's range, which NumPy holds as uint64: the cast would wrap them
                _check_fits(data, dtype)
            if dtype is None:
                unknown = next((v for v in data.flat if v.__class__ is UnknownSize), None)
                if unknown is not None:  # x.sum() / x.shape[0] while tracing for any batch size
                    raise unknown.refuse("making a tensor of it")
                raise TypeError(f"tensor: cannot build a tensor from data of NumPy dtype {data.dtype}")
        else:
            _check_fits(data, np.dtype(dtype))
    elif dtype is None:
        dtype = as_dtype(data.dtype)
    return device.xp.array(move(data, device), dtype=dtype, copy=True)


def _get_grad(tensor: Tensor):
    grad = tensor._grad
    if grad is None and tensor.node is not None and not tensor.retains_grad:
        warnings.warn("grad: this tensor is not a leaf (it was computed by recorded ops), so backward does not fill "
                      "its .grad; call x.retain_grad() before backward to keep it, or read the leaf's .grad",
                      UserWarning, stacklevel=2)
    return grad


def _set_grad(tensor: Tensor, grad) -> None:
    """``t.grad = g`` as PyTorch checks it: None, or a tensor of ``t``'s shape, dtype and device (a wrong-shaped
    gradient would otherwise broadcast into the optimizer's update)."""
    if grad is not None and (grad.__class__ is not Tensor or grad.array.__class__ is not tensor.array.__class__
                             or grad.array.shape != tensor.array.shape or grad.array.dtype != tensor.array.dtype):
        _check_grad(tensor, grad)
    tensor._grad = grad


def _check_grad(tensor: Tensor, grad) -> None:
    if not isinstance(grad, Tensor) and not hasattr(grad, "to_dense"):  # a Tensor or a sparse gradient
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(grad).__name__}")
    if hasattr(tensor, "apply_sparse_update"):  # a hash table's handle: the table holds (and checks) its rows
        return
    if tuple(grad.shape) != tuple(tensor.shape):
        raise RuntimeError(f"assigned grad has data of a different size: grad shape {list(grad.shape)}, tensor "
                           f"shape {list(tensor.shape)}")
    if _dtypes.as_dtype(grad.dtype) != _dtypes.as_dtype(tensor.dtype):
        raise RuntimeError(f"assigned grad has data of a different type: grad dtype {grad.dtype}, tensor dtype "
                           f"{tensor.dtype}")
    if isinstance(grad, Tensor) and not grad.symbolic and not tensor.symbolic and grad.device != tensor.device:
        raise RuntimeError(f"assigned grad has data located on a different device: grad on {grad.device}, tensor "
                           f"on {tensor.device}")


class Tensor(OpMethods, InplaceMethods, TorchMethods, TorchInplaceMethods, TorchMiscMethods):
    """An n-dimensional array with autograd.

    >>> x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad.numpy()   # 2x
    """

    __slots__ = ("array", "requires_grad", "_grad", "node", "_hooks", "_written", "_replaced", "__weakref__")
    __array_priority__ = 1000  # make ndarray <op> Tensor call the Tensor's reflected operator
    symbolic = False  # True for a graph Value (ember.graph): a stand-in with a shape and dtype but no data
    grad = property(_get_grad, _set_grad, doc="The gradient backward accumulated here, or None (with a warning, as "
                    "PyTorch's, for a non-leaf tensor that does not retain it).")

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        device = Device(device) if device is not None else (
            device_of(data.array if isinstance(data, Tensor) else data) if hasattr(data, "dtype") else CPU
        )
        self.array = _to_array(data, as_dtype(dtype) if dtype is not None else None, device)
        self.node = None
        self._grad = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data, node) -> Tensor:
        """Wrap an array without copying; ``node`` is the recorded op that produced it, or None."""
        t = _new(Tensor)
        t.array = data
        t.node = node
        t.requires_grad = node is not None
        t._grad = None
        t._hooks = None
        return t

    # --- properties ---
    # ``array`` (a slot) is the NumPy/CuPy array itself, zero-copy: what every op reads and writes.

    @property
    def data(self) -> Tensor:
        """PyTorch's ``.data``: the same array as a new Tensor cut from autograd (no node, no grad).

        In-place ops on it write into this tensor and are not seen by autograd, as in PyTorch
        (``p.data.add_(p.grad, alpha=-lr)``, ``m.weight.data.normal_(0, 0.02)``). Assigning ``x.data = t``
        swaps in ``t``'s array (a Tensor or a NumPy/CuPy array, shared): shape, dtype and device may change,
        but a tensor that requires grad keeps a floating-point dtype. ``x.array`` is the raw array.

        >>> w = ember.ones(2, requires_grad=True)
        >>> _ = w.data.mul_(3)    # no ember.no_grad() needed: .data is not on the tape
        >>> w.tolist()
        [3.0, 3.0]
        """
        traced = read_traced(self)
        if traced is not None:  # ember.jit: read on every call
            return traced
        alias = Tensor._make(self.array, None)
        alias._written = OwnVersion(-1)  # its writes are not this tensor's: unchecked, as PyTorch's .data
        return alias

    @data.setter
    def data(self, value) -> None:
        if isinstance(value, Tensor):
            if value.symbolic:
                raise TypeError(f"data: cannot set a tensor's data to the symbolic graph value {value!r}; "
                                "only a concrete Tensor or array has data")
            array = value.array
        elif isinstance(value, np.ndarray) or (hasattr(value, "__cuda_array_interface__") and hasattr(value, "dtype")):
            array = value
        else:
            raise TypeError(f"data: a tensor's data must be set to a Tensor (or a NumPy/CuPy array), "
                            f"got {type(value).__name__}")
        try:
            as_dtype(array.dtype)
        except TypeError as exc:
            raise TypeError(f"data: cannot hold an array of dtype {array.dtype}: {exc}") from None
        if getattr(self, "requires_grad", False) and array.dtype not in DIFFERENTIABLE:
            raise RuntimeError(f"data: the tensor requires grad, so its data must be floating point or complex; got "
                               f"an array of dtype {array.dtype} and shape {list(array.shape)}")
        self.array = array

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> Device:
        return device_of(self.array)

    @property
    def xp(self):
        """The array module (numpy or cupy) holding this tensor."""
        return array_module(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def is_leaf(self) -> bool:
        return self.node is None

    @property
    def grad_fn(self):
        return self.node

    def size(self, axis: int | None = None):
        """The shape, or one dimension of it."""
        return self.array.shape if axis is None else self.array.shape[axis]

    def numel(self) -> int:
        return int(self.array.size)

    def dim(self) -> int:
        return self.array.ndim

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    # --- conversion ---
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a NumPy array: shares memory on CPU, copies from a GPU. Refuses while it has grad, unless
        ``force`` (PyTorch's: the detached data)."""
        if self.requires_grad and not force:
            raise RuntimeError("numpy(): the tensor requires grad; call .detach().numpy() instead")
        return self.array if self.array.__class__ is np.ndarray else self.array.get()

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise NotOneElementError(f"item(): only one-element tensors convert to a number, got shape "
                                     f"{list(self.shape)}")
        data = self.array
        if data.__class__ is not np.ndarray and hasattr(data, "get"):
            data = data.get()
        return np.asarray(data).reshape(()).item()

    def tolist(self):
        return np.asarray(self.detach().numpy()).tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise NotOneElementError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        """NumPy's view of the data: ``np.array(x)`` (``copy=True``) copies, as PyTorch's does, ``np.asarray(x)``
        shares memory on CPU; ``copy=False`` with another dtype is refused, as NumPy requires."""
        array = self.detach().numpy()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            if copy is False:
                raise ValueError(f"__array__: a {self.dtype} tensor cannot be read as {np.dtype(dtype)} without a "
                                 f"copy (copy=False)")
            return array.astype(dtype)
        return array.copy() if copy else array

    def __dlpack__(self, **kwargs):
        """The data as a DLPack capsule, shared (``torch.from_dlpack(x)``; ``torch.tensor(x)`` copies it), refused
        while the tensor requires grad, as PyTorch's is; ``kwargs`` are the protocol's (``stream``, ``copy``...)."""
        if self.requires_grad:
            raise RuntimeError("__dlpack__: cannot export a tensor that requires grad; export x.detach()")
        if self.array.dtype == _dtypes.bfloat16:  # (NumPy's DLPack has no bfloat16)
            raise BufferError("__dlpack__: a bfloat16 tensor has no DLPack export here; export its bits, "
                              "x.view(ember.int16), and view them as bfloat16 there")
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple:
        return self.array.__dlpack_device__()

    def to(self, target=None, dtype=None, non_blocking: bool = False, copy: bool = False, *, device=None,
           memory_format=None) -> Tensor:
        """Move and/or cast: ``x.to("cuda")``, ``x.to(ember.float64)``, ``x.to("cpu", ember.bfloat16)``,
        ``x.to(other)`` (other's device and dtype). ``copy=True`` always returns a new tensor; ``memory_format``
        (``ember.channels_last``...) lays the result out so; ``non_blocking`` is accepted (copies finish before
        ``to`` returns)."""
        if dtype is not None and dtype.__class__ is bool:  # to(dtype, non_blocking, copy), PyTorch's positional form
            dtype, non_blocking, copy = None, dtype, non_blocking
        if target is not None:
            if isinstance(target, Device) or is_torch_device(target) or (
                    isinstance(target, str) and target.split(":")[0] in ("cpu", "cuda")):
                device = target
            elif isinstance(target, str) and target.split(":")[0] in _OTHER_DEVICES:
                raise ValueError(f"to(): Ember has no {target!r} device; its devices are 'cpu' and 'cuda' "
                                 "(or 'cuda:N' for the N-th GPU)")
            elif isinstance(target, Tensor):  # to(other): its device and dtype
                device, dtype = target.device, target.dtype
            else:
                dtype = target
        out = self
        if device is not None:
            device = Device(device)
            if device != self.device:
                out = _ops.to_device(out, device)
        if dtype is not None:
            out = _ops.cast(out, dtype)
        if memory_format is not None and memory_format.order is not None:
            out = memory_format.arrange(out, "to")
        elif memory_format is not None and memory_format.name == "contiguous_format":
            out = out.contiguous()
        if copy and out is self:
            out = _ops.clone(self)
        return out

    def cpu(self, memory_format=None) -> Tensor:
        return self.to("cpu", memory_format=memory_format)

    def cuda(self, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
        """A copy on a GPU: ``device`` an index, ``"cuda:N"`` or a Device (None: the first GPU)."""
        return self.to(cuda_device(device), non_blocking=non_blocking, memory_format=memory_format)

    def float(self) -> Tensor:
        return _ops.cast(self, "float32")

    def double(self) -> Tensor:
        return _ops.cast(self, "float64")

    def half(self) -> Tensor:
        return _ops.cast(self, "float16")

    def bfloat16(self) -> Tensor:
        return _ops.cast(self, "bfloat16")

    def cfloat(self) -> Tensor:
        return _ops.cast(self, "complex64")

    def cdouble(self) -> Tensor:
        return _ops.cast(self, "complex128")

    def long(self) -> Tensor:
        return _ops.cast(self, "int64")

    def int(self) -> Tensor:
        return _ops.cast(self, "int32")

    def bool(self) -> Tensor:
        return _ops.cast(self, "bool")

    def astype(self, dtype) -> Tensor:
        return _ops.cast(self, dtype)

    # --- autograd ---
    # (``backward`` and ``register_post_accumulate_grad_hook`` are ember.autograd's functions: see tensor_attach.py)
    def detach(self) -> Tensor:
        """The same data, cut from the graph (while ``ember.jit`` traces, a parameter's or buffer's is read on every
        call)."""
        traced = read_traced(self)
        if traced is not None:
            return traced
        return Tensor._make(self.array, None)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place; a backward through nodes that read it before then refuses."""
        if self.node is not None:
            mark_replaced(self)
        self.node = None
        self.requires_grad = False
        return self

    def clone(self, memory_format=None) -> Tensor:
        """A copy of the data that stays on the graph (the gradient flows back to ``self``): row-major, except that
        a channels-last tensor's stays channels-last (``preserve_format``), or laid out as ``memory_format`` asks."""
        if memory_format is None or memory_format.name == "preserve_format":  # PyTorch's default
            memory_format = _channels_last_of(self.array)
            if memory_format is None:
                return _ops.clone(self)
        return memory_format.arrange(self, "clone", copy=True)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as one whose gradient is wanted."""
        if self.node is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach() instead")
        if requires_grad and self.array.dtype not in DIFFERENTIABLE:
            raise RuntimeError(
                f"only floating-point and complex tensors can require gradients, got dtype {self.array.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it."""
        if self.symbolic:
            raise TypeError(f"register_hook: %{self.id} is a symbolic graph value (computed inside ember.jit or a "
                            "graph); a traced backward runs the hooks of parameters and arguments only")
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that does not require grad")
        if self.node is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.insert(tensor_hooks_end(self._hooks), hook)  # (before its AccumulateGrad's hooks)
            traced_state.changed()  # a trace runs the hooks of the leaves it differentiates
            return _HookHandle(self._hooks, hook, True)
        if self.node.hooks is None:
            self.node.hooks = []
        hooks = self.node.hooks
        end = tensor_hooks_end(hooks)
        if end and hooks[end - 1].__class__ is _RetainGrad:  # as PyTorch: .grad keeps what the hooks make
            end -= 1
        hooks.insert(end, hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for a non-leaf tensor too: the gradient after every hook of the tensor, whenever
        they were registered (a second call changes nothing). Refused, as PyTorch's, for a tensor that does not
        require grad: it never gets one."""
        if not self.requires_grad:
            raise RuntimeError(f"retain_grad: the tensor (shape {list(self.shape)}, dtype {self.dtype}) does not "
                               f"require grad, so it has no gradient to keep")
        if self.symbolic and self.id not in getattr(getattr(self.graph, "trace", None), "argument_ids", ()):
            raise TypeError(f"retain_grad: %{self.id} is a symbolic graph value (computed inside ember.jit or a "
                            "graph), whose .grad a traced backward does not set; return the gradient from "
                            "ember.autograd.grad instead")
        if self.node is None:  # a leaf (an argument of a traced call too: the call sets the caller's .grad)
            return
        if self.retains_grad:
            return
        self.register_hook(_RetainGrad(self))

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor (False for a leaf, as in PyTorch)."""
        hooks = self.node.hooks if self.node is not None else None
        if not hooks:
            return False
        end = tensor_hooks_end(hooks)
        return end > 0 and hooks[end - 1].__class__ is _RetainGrad and hooks[end - 1].tensor is self

    # --- indexing ---
    def __getitem__(self, index) -> Tensor:
        return _ops.getitem(self, sequence_index(index))

    def __setitem__(self, index, value) -> None:
        index = sequence_index(index)
        if value.__class__ is not Tensor and is_torch_tensor(value):
            value = Tensor(from_torch(value))  # (bfloat16 too, and one that requires grad, which NumPy refuses)
        if isinstance(value, Tensor) and value.dtype is not self.dtype and value.dtype != self.dtype:
            check_put_dtype(self, index, value)
        elif value.__class__ is complex and self.dtype.kind not in "cb":  # (NumPy's float() failed even for 1 + 0j)
            check_fill_value("__setitem__", value, self.dtype)
            value = value.real
        if write_traced(self, "__setitem__", lambda before: _replaced_item(before, index, value)):
            return  # a parameter, buffer or argument while ember.jit traces: an assign node, run on every call
        if (is_grad_enabled() and (self.requires_grad or getattr(value, "requires_grad", False))
                or keeps_tangent(self)) and not self.symbolic and not getattr(value, "symbolic", False):
            if _is_item_view(self.array, index, value):  # x[i] += v: the += already wrote (and recorded) x[i]
                return
            if self.requires_grad and self.node is None:
                raise RuntimeError("__setitem__: a leaf tensor that requires grad is used in an in-place operation; "
                                   "do it under ember.no_grad() (as PyTorch requires)")
            # recorded as PyTorch records it: the tensor's new value is a copy with the item replaced
            record_in_place(self, "__setitem__", lambda before: _replaced_item(before, index, value))
            return
        if not hasattr(self.array, "flags") or getattr(value, "symbolic", False):  # (ember.jit, graph building)
            raise TypeError(f"__setitem__: item assignment writes into a tensor's array and is not recorded into a "
                            f"graph ({self.dtype}{list(self.shape)}); build the new value instead, e.g. "
                            "ember.where(mask, value, x) or x.index_put((i,), value)")
        index = _ops.index_arrays(index)
        value = value.array if isinstance(value, Tensor) else value
        steps = ints_first(index)
        marked_for_write(self, "__setitem__")
        if steps is not None:  # PyTorch's order: the integers' basic view first, then the arrays
            self.array[steps[0]][steps[1]] = value
            return
        self.array[index] = value

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __reversed__(self) -> Tensor:
        """``reversed(x)``: ``x.flip(0)`` (a 0-d tensor as it is), a Tensor as PyTorch's, not an iterator."""
        return self if self.array.ndim == 0 else _ops.flip(self, 0)

    def __contains__(self, element) -> bool:
        """Whether any element equals ``element`` (a number or a tensor broadcast against this one), as
        PyTorch's ``in``: not a search of the rows that iteration gives."""
        if not isinstance(element, (Tensor, Number)):
            raise TypeError(f"Tensor.__contains__ only supports a tensor or a number, got {type(element).__name__}")
        return bool((self == element).any().item())

    __hash__ = object.__hash__

    def __deepcopy__(self, memo: dict) -> Tensor:
        """A copy with its own data, ``requires_grad`` and ``grad``; refused, as PyTorch's, for a tensor computed by
        recorded ops, whose copy would carry a copy of its graph that backward could not take to the leaves."""
        if self.node is not None:
            raise RuntimeError(f"deepcopy: only leaf tensors (made by the user, not by recorded ops) can be "
                               f"deep-copied; this one came from {self.node.op.name}: copy x.detach() instead")
        copied = _new(type(self))
        memo[id(self)] = copied
        for name, value in self.__getstate__()[1].items():  # (None, {slot: value}): Tensor has no __dict__
            setattr(copied, name, deepcopy(value, memo))
        return copied

    def __reduce_ex__(self, protocol):
        # A tensor computed by recorded ops pickles as PyTorch's: its data as a leaf that keeps requires_grad, not
        # its graph (whose ops hold local functions that cannot be pickled).
        if self.node is None:
            return super().__reduce_ex__(protocol)
        return _rebuild_leaf, (self.array, self.requires_grad)

    def __repr__(self) -> str:
        array = np.asarray(self.detach().numpy(), dtype=np.float64 if self.dtype.kind == "V" else self.dtype)
        extras = [f"device='{self.device}'"] if self.device.type != "cpu" else []
        if array.size == 0:  # no element shows the dtype: PyTorch names every dtype but the default float
            extras += [f"size={tuple(array.shape)}"] if array.ndim != 1 else []
            extras += [f"dtype={self.dtype}"] if self.dtype != _dtypes.DEFAULT_FLOAT else []
        else:
            extras += [f"size={tuple(array.shape)}"] if get_printoptions()["edgeitems"] == 0 else []
            if self.dtype not in (_dtypes.DEFAULT_FLOAT, _dtypes.default_complex(), np.dtype(np.int64),
                                  np.dtype(np.bool_)):
                extras.append(f"dtype={self.dtype}")
        if self.node is not None:
            extras.append(f"grad_fn={self.node.op.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return add_suffixes("tensor(" + format_array(array, "tensor("), extras, len("tensor("))




def _is_item_view(array, index, value) -> bool:
    """Whether ``value`` is a Tensor viewing exactly ``array[index]`` (a basic index), so that ``array[index] = value``
    writes nothing new: Python's ``x[i] += v`` ends so, after ``+=`` wrote through the view ``x[i]``."""
    if not isinstance(value, Tensor) or not hasattr(array, "flags"):
        return False
    items = index if isinstance(index, tuple) else (index,)
    if not all(item is None or item is Ellipsis or isinstance(item, (int, slice)) for item in items):
        return False
    target, other = array[index], value.array
    return (getattr(target, "base", None) is not None and target.shape == other.shape
            and target.strides == other.strides and target.dtype == other.dtype
            and _address(target) == _address(other))


def _address(array) -> int:
    data = getattr(array, "data", None)
    return data.ptr if hasattr(data, "ptr") else array.__array_interface__["data"][0]  # (CuPy, NumPy)


def _rebuild_leaf(array, requires_grad: bool) -> Tensor:
    """Unpickle a tensor that was computed by recorded ops: its data, as a leaf."""
    return Tensor(array, requires_grad=requires_grad)


_new = object.__new__
_OTHER_DEVICES = ("gpu", "mps", "xpu", "tpu", "hip", "xla", "meta", "ipu", "vulkan")


class _RetainGrad:
    """The hook ``retain_grad`` registers: adds the gradient into the tensor's ``.grad``; kept last among its
    tensor's hooks."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor):
        self.tensor = tensor

    def __call__(self, grad) -> None:
        tensor = self.tensor
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad


class _HookHandle:
    __slots__ = ("hooks", "hook", "leaf")

    def __init__(self, hooks, hook, leaf: bool = False):
        self.hooks, self.hook, self.leaf = hooks, hook, leaf

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
            if self.leaf:
                traced_state.changed()

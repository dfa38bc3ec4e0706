"""oneDNN's convolutions for float32 NumPy arrays, through its C API (the optional ``onednn`` extra).

oneDNN is the library PyTorch's CPU convolutions run on: direct kernels in blocked layouts (channels in
blocks of 8 or 16), compiled at run time for the CPU's vector width, spread over OpenMP threads. Ember calls
it with ctypes: a primitive per convolution shape and direction, created once and cached; each call reorders
the plain (N, C, H, W) arrays into the layouts the primitive chose, runs it, and reorders the result back.

Nothing here is needed: without the library, or with ``set_enabled(False)``, ``ember.ops.conv`` runs its
NumPy kernels. The library is the one the ``onednn`` extra installs (found under ``sys.prefix/lib``) or any
oneDNN 3.x the dynamic loader finds as ``libdnnl.so.3``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

import numpy as np

from ember.backend import blas_threads

# C API constants (oneDNN 3.x, include/oneapi/dnnl/dnnl_types.h)
_CPU_ENGINE = 1
_IN_ORDER_STREAM = 1
_F32 = 3
_TAG_ANY, _TAG_A, _TAG_ABCD, _TAG_ABCDE = 1, 2, 5, 6
_FORWARD_TRAINING = 64
_DIRECT = 1
_QUERY_IMPL = 8
_QUERY_SRC, _QUERY_DIFF_SRC, _QUERY_WEIGHTS, _QUERY_DIFF_WEIGHTS, _QUERY_DST, _QUERY_DIFF_DST = 129, 130, 131, 132, \
    133, 134
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS = 1, 17, 33, 129, 145, 161
_MAX_DIMS = 12

_Dims = ctypes.c_int64 * _MAX_DIMS
_Handle = ctypes.c_void_p


class _Arg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _Handle)]


class OneDNNError(RuntimeError):
    """A oneDNN call failed; the message names the call and its status code."""


def _library_paths() -> list:
    paths = [os.path.join(sys.prefix, "lib", "libdnnl.so.3")]
    found = ctypes.util.find_library("dnnl")
    return paths + ([found] if found else [])


def _declare(lib) -> None:
    handle, pointer = _Handle, ctypes.POINTER(_Handle)
    signatures = {
        "dnnl_engine_create": [pointer, ctypes.c_int, ctypes.c_size_t],
        "dnnl_stream_create": [pointer, handle, ctypes.c_uint],
        "dnnl_stream_wait": [handle],
        "dnnl_memory_desc_create_with_tag": [pointer, ctypes.c_int, _Dims, ctypes.c_int, ctypes.c_int],
        "dnnl_memory_desc_destroy": [handle],
        "dnnl_memory_create": [pointer, handle, handle, handle],
        "dnnl_memory_set_data_handle": [handle, handle],
        "dnnl_convolution_forward_primitive_desc_create": [
            pointer, handle, ctypes.c_int, ctypes.c_int, handle, handle, handle, handle, _Dims, _Dims, _Dims, _Dims,
            handle],
        "dnnl_convolution_backward_data_primitive_desc_create": [
            pointer, handle, ctypes.c_int, handle, handle, handle, _Dims, _Dims, _Dims, _Dims, handle, handle],
        "dnnl_convolution_backward_weights_primitive_desc_create": [
            pointer, handle, ctypes.c_int, handle, handle, handle, handle, _Dims, _Dims, _Dims, _Dims, handle, handle],
        "dnnl_reorder_primitive_desc_create": [pointer, handle, handle, handle, handle, handle],
        "dnnl_primitive_desc_query": [handle, ctypes.c_int, ctypes.c_int, handle],
        "dnnl_primitive_create": [pointer, handle],
        "dnnl_primitive_execute": [handle, handle, ctypes.c_int, ctypes.POINTER(_Arg)],
    }
    for name, argtypes in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, ctypes.c_int
    for name in ("dnnl_primitive_desc_destroy", "dnnl_primitive_destroy", "dnnl_memory_destroy"):
        function = getattr(lib, name)
        function.argtypes, function.restype = [handle], ctypes.c_int
    function = lib.dnnl_primitive_desc_query_md
    function.argtypes, function.restype = [handle, ctypes.c_int, ctypes.c_int], handle
    lib.dnnl_memory_desc_equal.argtypes, lib.dnnl_memory_desc_equal.restype = [handle, handle], ctypes.c_int
    lib.dnnl_memory_desc_get_size.argtypes, lib.dnnl_memory_desc_get_size.restype = [handle], ctypes.c_size_t


def _check(status: int, call: str) -> None:
    if status != 0:
        raise OneDNNError(f"oneDNN: {call} failed with status {status}")


def _default_threads() -> int:
    # OpenMP's own default: OMP_NUM_THREADS where set, else the cores this process may run on
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load():
    """``(library, engine, stream, omp_set_num_threads, default thread count)``, or why oneDNN cannot be used."""
    errors = []
    for path in _library_paths():
        if os.path.isabs(path) and not os.path.exists(path):
            continue
        try:
            lib = ctypes.CDLL(path)
            _declare(lib)
        except (OSError, AttributeError) as exc:
            errors.append(f"{path}: {exc}")
            continue
        engine, stream = _Handle(), _Handle()
        _check(lib.dnnl_engine_create(ctypes.byref(engine), _CPU_ENGINE, 0), "dnnl_engine_create")
        _check(lib.dnnl_stream_create(ctypes.byref(stream), engine, _IN_ORDER_STREAM), "dnnl_stream_create")
        set_threads = getattr(lib, "omp_set_num_threads", None)
        if set_threads is None:  # the OpenMP runtime oneDNN was linked against
            try:
                set_threads = ctypes.CDLL("libgomp.so.1").omp_set_num_threads
            except (OSError, AttributeError):
                set_threads = None
        if set_threads is not None:
            set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
        return lib, engine, stream, set_threads, _default_threads()
    return "; ".join(errors) or "libdnnl.so.3 was not found (install the onednn extra: pip install ember[onednn])"


_loaded = None  # the result of _load(), on first use
_enabled = os.environ.get("EMBER_ONEDNN", "1") != "0"  # EMBER_ONEDNN=0 turns it off from the start
_threads = 0  # 0: oneDNN's default (all cores)
_blas_before: int | None = None  # OpenBLAS's thread count before oneDNN took the cores (None: not taken)
_lock = threading.Lock()
_cache: dict = {}
_CACHE_LIMIT = 512


def _after_fork_in_child() -> None:
    # GNU OpenMP's thread pool does not survive a fork: a child that starts a parallel region on it waits forever.
    # oneDNN runs a one-thread region without the pool, so a forked child keeps to one thread.
    global _threads
    if _loaded is not None and not isinstance(_loaded, str):
        _threads = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _state():
    global _loaded
    if _loaded is None:
        _loaded = _load()
    return _loaded


def available() -> bool:
    """Whether the oneDNN library was found and loads."""
    return not isinstance(_state(), str)


def unavailable_reason() -> str:
    """Why oneDNN is not available ('' when it is)."""
    state = _state()
    return state if isinstance(state, str) else ""


def enabled() -> bool:
    """Whether convolutions run on oneDNN now: the library is available and not turned off."""
    return _enabled and available()


def set_enabled(flag: bool) -> None:
    """Turn oneDNN's convolutions on or off (``ember.ops.conv`` then runs its NumPy kernels); off gives
    OpenBLAS back the thread count it had before oneDNN's first convolution."""
    global _enabled
    _enabled = bool(flag)
    if not _enabled:
        release_cores()


def release_cores() -> None:
    """Give OpenBLAS back the thread count it had before oneDNN's first convolution (until the next one)."""
    global _blas_before
    if _blas_before is not None:
        blas_threads.set_outside_regions(_blas_before)
        _blas_before = None


def _take_cores(count: int) -> None:
    # OpenBLAS's idle threads spin for a while after each product, and so do OpenMP's after each convolution:
    # on a few cores each pool then waits on the other's spinning (LeNet-5's eager step ran 3-4x slower). Products
    # beside oneDNN's convolutions run on one thread instead, as PyTorch's run on its one OpenMP pool.
    global _blas_before
    if count > 1 and _blas_before is None:
        _blas_before = blas_threads.outside_regions()
        blas_threads.set_outside_regions(1)


def threads() -> int:
    """The thread count oneDNN's kernels run on (0: OpenMP's default)."""
    return _threads


def set_threads(count: int) -> None:
    """Run oneDNN's kernels on ``count`` threads (0: OpenMP's default, OMP_NUM_THREADS or all cores)."""
    global _threads
    if count < 0:
        raise ValueError(f"onednn.set_threads: count must be >= 0, got {count}")
    _threads = int(count)


def runs(dtype) -> bool:
    """Whether a convolution of ``dtype`` arrays runs on oneDNN (float32 only, when enabled)."""
    return dtype == np.float32 and _enabled and available()


# --- primitives ------------------------------------------------------------------------------------------------


class _Operand:
    """One array argument of a primitive: its plain (user) layout, the layout the primitive chose, and the
    reorder between them when they differ."""

    __slots__ = ("arg", "user", "inner", "reorder", "buffer", "into_primitive")

    def __init__(self, lib, engine, arg: int, plain_desc, chosen_desc, into_primitive: bool):
        self.arg, self.into_primitive = arg, into_primitive
        self.user = _memory(lib, engine, plain_desc)
        if lib.dnnl_memory_desc_equal(plain_desc, chosen_desc):
            self.inner, self.reorder, self.buffer = self.user, None, None
            return
        self.buffer = np.empty(lib.dnnl_memory_desc_get_size(chosen_desc) // 4, np.float32)
        self.inner = _memory(lib, engine, chosen_desc, self.buffer.ctypes.data)
        source, target = (plain_desc, chosen_desc) if into_primitive else (chosen_desc, plain_desc)
        descriptor = _Handle()
        _check(lib.dnnl_reorder_primitive_desc_create(ctypes.byref(descriptor), source, engine, target, engine, None),
               "dnnl_reorder_primitive_desc_create")
        try:
            self.reorder = _primitive(lib, descriptor)
        finally:
            lib.dnnl_primitive_desc_destroy(descriptor)

    def release(self, lib) -> None:
        lib.dnnl_memory_destroy(self.user)
        if self.reorder is not None:
            lib.dnnl_memory_destroy(self.inner)
            lib.dnnl_primitive_destroy(self.reorder)

    def run_reorder(self, lib, stream) -> None:
        if self.into_primitive:
            _execute(lib, stream, self.reorder, ((_ARG_SRC, self.user), (_ARG_DST, self.inner)))
        else:
            _execute(lib, stream, self.reorder, ((_ARG_SRC, self.inner), (_ARG_DST, self.user)))


class _Convolution:
    """A convolution primitive (one shape, one direction) with its operands: ``inputs`` in order, one output."""

    __slots__ = ("primitive", "inputs", "output", "implementation")

    def __init__(self, lib, descriptor, inputs, output):
        self.primitive = _primitive(lib, descriptor)
        text = ctypes.c_char_p()
        lib.dnnl_primitive_desc_query(descriptor, _QUERY_IMPL, 0, ctypes.byref(text))
        self.implementation = (text.value or b"").decode()
        self.inputs, self.output = inputs, output

    def release(self, lib) -> None:
        """Free the primitive and its memory objects (the cache drops it)."""
        lib.dnnl_primitive_destroy(self.primitive)
        for operand in self.inputs + (self.output,):
            operand.release(lib)

    def __call__(self, lib, stream, arrays, out: np.ndarray) -> np.ndarray:
        operands = self.inputs + (self.output,)
        for operand, array in zip(operands, arrays + (out,)):
            _check(lib.dnnl_memory_set_data_handle(operand.user, array.ctypes.data), "dnnl_memory_set_data_handle")
        for operand in self.inputs:
            if operand.reorder is not None:
                operand.run_reorder(lib, stream)
        _execute(lib, stream, self.primitive, tuple((o.arg, o.inner) for o in operands))
        if self.output.reorder is not None:
            self.output.run_reorder(lib, stream)
        _check(lib.dnnl_stream_wait(stream), "dnnl_stream_wait")
        return out


def _memory(lib, engine, descriptor, address=None):
    memory = _Handle()
    _check(lib.dnnl_memory_create(ctypes.byref(memory), descriptor, engine, _Handle(address)), "dnnl_memory_create")
    return memory


def _primitive(lib, descriptor):
    primitive = _Handle()
    _check(lib.dnnl_primitive_create(ctypes.byref(primitive), descriptor), "dnnl_primitive_create")
    return primitive


def _execute(lib, stream, primitive, args) -> None:
    array = (_Arg * len(args))(*(_Arg(arg, memory) for arg, memory in args))
    _check(lib.dnnl_primitive_execute(primitive, stream, len(args), array), "dnnl_primitive_execute")


def _descriptor(lib, shape: tuple, any_layout: bool):
    descriptor = _Handle()
    tag = _TAG_ANY if any_layout else {1: _TAG_A, 4: _TAG_ABCD, 5: _TAG_ABCDE}[len(shape)]
    _check(lib.dnnl_memory_desc_create_with_tag(ctypes.byref(descriptor), len(shape), _Dims(*shape), _F32, tag),
           "dnnl_memory_desc_create_with_tag")
    return descriptor


def _weight_shape(w_shape: tuple, groups: int) -> tuple:
    return w_shape if groups == 1 else (groups, w_shape[0] // groups) + tuple(w_shape[1:])


def _right_padding(size: int, out: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    # oneDNN takes the padding on both sides and checks (size - span + left + right) // stride + 1 == out.
    span = (kernel - 1) * dilation + 1
    if (size - span + 2 * padding) // stride + 1 == out:
        return padding
    return (out - 1) * stride + span - size - padding


def _build(direction: str, x_shape: tuple, w_shape: tuple, y_shape: tuple, stride, padding, dilation, groups: int):
    """The convolution primitive of one direction and shape, or None where oneDNN has none. Every descriptor made
    here is freed before it returns (memory objects and primitives keep copies of theirs)."""
    lib, engine = _state()[:2]
    w_shape = _weight_shape(w_shape, groups)
    kernel = w_shape[-2:]
    right = [_right_padding(x_shape[2 + a], y_shape[2 + a], kernel[a], stride[a], padding[a], dilation[a])
             for a in (0, 1)]
    dims = (_Dims(*stride), _Dims(*(d - 1 for d in dilation)), _Dims(*padding), _Dims(*right))
    shapes = {"x": x_shape, "w": w_shape, "y": y_shape}
    plain = {name: _descriptor(lib, shape, False) for name, shape in shapes.items()}
    chosen = {name: _descriptor(lib, shape, True) for name, shape in shapes.items()}
    forward, descriptor = _Handle(), _Handle()
    try:
        if lib.dnnl_convolution_forward_primitive_desc_create(
                ctypes.byref(forward), engine, _FORWARD_TRAINING, _DIRECT, chosen["x"], chosen["w"], None, chosen["y"],
                *dims, None) != 0:
            return None
        if direction == "forward":
            status = 0
            descriptor, forward = forward, _Handle()
            inputs = ((_ARG_SRC, "x", _QUERY_SRC), (_ARG_WEIGHTS, "w", _QUERY_WEIGHTS))
            output = (_ARG_DST, "y", _QUERY_DST)
        elif direction == "input_grad":
            status = lib.dnnl_convolution_backward_data_primitive_desc_create(
                ctypes.byref(descriptor), engine, _DIRECT, chosen["x"], chosen["w"], chosen["y"], *dims, forward, None)
            inputs = ((_ARG_DIFF_DST, "y", _QUERY_DIFF_DST), (_ARG_WEIGHTS, "w", _QUERY_WEIGHTS))
            output = (_ARG_DIFF_SRC, "x", _QUERY_DIFF_SRC)
        else:
            status = lib.dnnl_convolution_backward_weights_primitive_desc_create(
                ctypes.byref(descriptor), engine, _DIRECT, chosen["x"], chosen["w"], None, chosen["y"], *dims,
                forward, None)
            inputs = ((_ARG_SRC, "x", _QUERY_SRC), (_ARG_DIFF_DST, "y", _QUERY_DIFF_DST))
            output = (_ARG_DIFF_WEIGHTS, "w", _QUERY_DIFF_WEIGHTS)
        if status != 0:
            return None

        def operand(arg, name, what, into):
            layout = _Handle(lib.dnnl_primitive_desc_query_md(descriptor, what, 0))
            return _Operand(lib, engine, arg, plain[name], layout, into)

        inputs = tuple(operand(*spec, True) for spec in inputs)
        return _Convolution(lib, descriptor, inputs, operand(*output, False))
    finally:
        for handle in (forward, descriptor):
            if handle.value:
                lib.dnnl_primitive_desc_destroy(handle)
        for handle in (*plain.values(), *chosen.values()):
            lib.dnnl_memory_desc_destroy(handle)


def _run(direction: str, x_shape, w_shape, y_shape, stride, padding, dilation, groups, arrays, out_shape):
    """The convolution ``direction`` of ``arrays`` as a new array of ``out_shape``; None where oneDNN has no
    primitive for it (the caller runs its own kernel)."""
    lib, _, stream, set_threads, default_threads = _state()
    # one thread inside the runtime's own parallel regions. A primitive keeps the thread count it was created
    # under (oneDNN sizes its work split then), so the count is part of the key; OpenMP's is per calling thread.
    count = 1 if blas_threads.regions_open() else _threads or default_threads
    key = (direction, x_shape, w_shape, y_shape, stride, padding, dilation, groups, count)
    arrays = tuple(np.ascontiguousarray(a) for a in arrays)
    with _lock:
        _take_cores(count)
        if set_threads is not None:
            set_threads(count)
        convolution = _cache.get(key, False)
        if convolution is False:
            if len(_cache) >= _CACHE_LIMIT:
                _clear_cache(lib)
            convolution = _cache[key] = _build(direction, x_shape, w_shape, y_shape, stride, padding, dilation,
                                               groups)
        if convolution is None:
            return None
        return convolution(lib, stream, arrays, np.empty(out_shape, np.float32))


def _clear_cache(lib) -> None:
    for convolution in _cache.values():
        if convolution is not None:
            convolution.release(lib)
    _cache.clear()


def _shapes(x_shape, w_shape, y_shape):
    return tuple(map(int, x_shape)), tuple(map(int, w_shape)), tuple(map(int, y_shape))


def conv2d(x: np.ndarray, w: np.ndarray, out_hw: tuple, stride, padding, dilation, groups: int):
    """conv2d of float32 ``x`` (N, C, H, W) and ``w`` (O, C/groups, kh, kw) as (N, O, OH, OW), or None."""
    shapes = _shapes(x.shape, w.shape, (x.shape[0], w.shape[0]) + tuple(out_hw))
    return _run("forward", *shapes, tuple(stride), tuple(padding), tuple(dilation), groups, (x, w), shapes[2])


def conv2d_input_grad(gy: np.ndarray, w: np.ndarray, x_hw: tuple, stride, padding, dilation, groups: int):
    """The gradient of conv2d with respect to its input (conv_transpose2d of ``gy``), of spatial size ``x_hw``."""
    shapes = _shapes((gy.shape[0], w.shape[1] * groups) + tuple(x_hw), w.shape, gy.shape)
    return _run("input_grad", *shapes, tuple(stride), tuple(padding), tuple(dilation), groups, (gy, w), shapes[0])


def conv2d_weight_grad(x: np.ndarray, gy: np.ndarray, kernel: tuple, stride, padding, dilation, groups: int):
    """The gradient of conv2d with respect to its weight, (O, C/groups, kh, kw), or None."""
    w_shape = (gy.shape[1], x.shape[1] // groups) + tuple(kernel)
    # gy may cover fewer output pixels than conv2d(x, w) has (see ember.ops.conv): the input rows and columns
    # past its last window take no part, and oneDNN takes no padding below minus the stride
    reach = [(gy.shape[2 + a] - 1) * stride[a] + (kernel[a] - 1) * dilation[a] + 1 - padding[a] for a in (0, 1)]
    if reach[0] < x.shape[2] or reach[1] < x.shape[3]:
        x = x[:, :, :reach[0], :reach[1]]
    shapes = _shapes(x.shape, w_shape, gy.shape)
    return _run("weight_grad", *shapes, tuple(stride), tuple(padding), tuple(dilation), groups, (x, gy), shapes[1])


def implementation(direction: str, x_shape, w_shape, y_shape, stride, padding, dilation, groups: int = 1) -> str:
    """The name oneDNN gives the kernel it chooses for a convolution ('' when it has none), e.g. 'jit:avx512_core'."""
    convolution = _build(direction, *_shapes(x_shape, w_shape, y_shape), tuple(stride), tuple(padding),
                         tuple(dilation), groups)
    if convolution is None:
        return ""
    convolution.release(_state()[0])
    return convolution.implementation

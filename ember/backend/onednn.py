"""oneDNN's convolutions, max pooling, relu (and its gradient) and large elementwise sums, differences and
products for float32 NumPy arrays, through its C API (the ``onednn`` extra).

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
import functools
import os
import sys
import threading

import numpy as np

from ember.backend import blas_threads

# C API constants (oneDNN 3.x, include/oneapi/dnnl/dnnl_types.h)
_CPU_ENGINE = 1
_IN_ORDER_STREAM = 1
_F32 = 3
_TAG_ANY, _TAG_A, _TAG_ABCD, _TAG_ABCDE, _TAG_ABCDEF = 1, 2, 5, 6, 7
_FORWARD_TRAINING, _FORWARD_INFERENCE = 64, 96
_DIRECT = 1
_POOLING_MAX = 0x1FF
_QUERY_IMPL = 8
_QUERY_SRC, _QUERY_DIFF_SRC, _QUERY_WEIGHTS, _QUERY_DIFF_WEIGHTS, _QUERY_DST, _QUERY_DIFF_DST = range(129, 135)
_QUERY_WORKSPACE = 135
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS, _ARG_WORKSPACE = 1, 17, 33, 41, 64
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS = 129, 145, 161
_RELU_USE_DST = 0x100  # relu, its gradient read from the output
_BINARY = {"add": 0x1FFF0, "mul": 0x1FFF1, "sub": 0x1FFF5}  # elementwise algorithms of two arrays
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
        "dnnl_memory_get_memory_desc": [handle, pointer],
        "dnnl_convolution_forward_primitive_desc_create": [
            pointer, handle, ctypes.c_int, ctypes.c_int, handle, handle, handle, handle, _Dims, _Dims, _Dims, _Dims,
            handle],
        "dnnl_convolution_backward_data_primitive_desc_create": [
            pointer, handle, ctypes.c_int, handle, handle, handle, _Dims, _Dims, _Dims, _Dims, handle, handle],
        "dnnl_convolution_backward_weights_primitive_desc_create": [
            pointer, handle, ctypes.c_int, handle, handle, handle, handle, _Dims, _Dims, _Dims, _Dims, handle, handle],
        "dnnl_pooling_forward_primitive_desc_create": [
            pointer, handle, ctypes.c_int, ctypes.c_int, handle, handle, _Dims, _Dims, _Dims, _Dims, _Dims, handle],
        "dnnl_pooling_backward_primitive_desc_create": [
            pointer, handle, ctypes.c_int, handle, handle, _Dims, _Dims, _Dims, _Dims, _Dims, handle, handle],
        "dnnl_reorder_primitive_desc_create": [pointer, handle, handle, handle, handle, handle],
        "dnnl_memory_desc_create_with_strides": [pointer, ctypes.c_int, _Dims, ctypes.c_int, _Dims],
        "dnnl_matmul_primitive_desc_create": [pointer, handle, handle, handle, handle, handle, handle],
        "dnnl_binary_primitive_desc_create": [pointer, handle, ctypes.c_int, handle, handle, handle, handle],
        "dnnl_eltwise_forward_primitive_desc_create": [
            pointer, handle, ctypes.c_int, ctypes.c_int, handle, handle, ctypes.c_float, ctypes.c_float, handle],
        "dnnl_eltwise_backward_primitive_desc_create": [
            pointer, handle, ctypes.c_int, handle, handle, handle, ctypes.c_float, ctypes.c_float, handle, handle],
        "dnnl_primitive_desc_query": [handle, ctypes.c_int, ctypes.c_int, handle],
        "dnnl_primitive_create": [pointer, handle],
        "dnnl_primitive_execute": [handle, handle, ctypes.c_int, ctypes.POINTER(_Arg)],
        "dnnl_sgemm": [ctypes.c_char, ctypes.c_char, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_float,
                       ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_float,
                       ctypes.c_void_p, ctypes.c_int64],
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
        try:
            _check(lib.dnnl_engine_create(ctypes.byref(engine), _CPU_ENGINE, 0), "dnnl_engine_create")
            _check(lib.dnnl_stream_create(ctypes.byref(stream), engine, _IN_ORDER_STREAM), "dnnl_stream_create")
        except OneDNNError as exc:  # a CPU it does not support, say: the NumPy kernels run instead
            errors.append(f"{path}: {exc}")
            continue
        set_threads = getattr(lib, "omp_set_num_threads", None)
        if set_threads is None:  # the OpenMP runtime oneDNN was linked against
            try:
                set_threads = ctypes.CDLL("libgomp.so.1").omp_set_num_threads
            except (OSError, AttributeError):
                set_threads = None
        if set_threads is not None:
            set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
            _find_pause(lib, set_threads)
        return lib, engine, stream, set_threads, _default_threads()
    return "; ".join(errors) or "libdnnl.so.3 was not found (install the onednn extra: pip install ember[onednn])"


def _find_pause(lib, set_threads) -> None:
    """Bind ``omp_pause_resource_all`` (OpenMP 5.0) of the OpenMP runtime ``set_threads`` comes from, if it has it."""
    global _pause_all
    pause = getattr(lib, "omp_pause_resource_all", None)
    if pause is None:
        try:
            pause = ctypes.CDLL("libgomp.so.1").omp_pause_resource_all
        except (OSError, AttributeError):
            return
    pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
    _pause_all = pause


_PAUSE_SOFT = 1  # omp_pause_soft: the threads end, the runtime stays usable
_pause_all = None  # omp_pause_resource_all, where the OpenMP runtime has it
_team_spinning = False  # team_product ran on several threads since the last pause_team
_loaded = None  # the result of _load(), on first use
_enabled = os.environ.get("EMBER_ONEDNN", "1") != "0"  # EMBER_ONEDNN=0 turns it off from the start
_threads = 0  # 0: oneDNN's default (all cores)
_blas_before: int | None = None  # OpenBLAS's thread count before oneDNN took the cores (None: not taken)
_lock = threading.Lock()  # one call at a time: the cached calls' own buffers are shared
_load_lock = threading.Lock()
_cache: dict = {}
_CACHE_LIMIT = 512


def _after_fork_in_child() -> None:
    # GNU OpenMP's thread pool does not survive a fork: a child that starts a parallel region on it waits forever.
    # oneDNN runs a one-thread region without the pool, so a forked child keeps to one thread.
    global _threads, _lock, _team_spinning
    _lock = threading.Lock()  # another thread may have held it at the fork
    if _loaded is not None and not isinstance(_loaded, str):
        _threads = 1
    _team_spinning = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _state():
    global _loaded
    if _loaded is None:
        with _load_lock:
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
    """Whether convolutions and max pooling run on oneDNN now: the library is available and not turned off."""
    return _enabled and available()


def switched_on() -> bool:
    """Whether oneDNN is switched on (``set_enabled``, ``EMBER_ONEDNN``), whether or not its library loads."""
    return _enabled


def set_enabled(flag: bool) -> None:
    """Turn oneDNN's kernels on or off (the convolutions and max pooling then run on Ember's NumPy kernels); off
    gives OpenBLAS back the thread count it had before oneDNN's first call."""
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


def set_blas_threads(count: int) -> None:
    """Set OpenBLAS's thread count outside the runtime's regions (``ember.set_num_threads``): now, or, while oneDNN
    holds the cores (OpenBLAS kept at one thread beside its kernels), as the count ``release_cores`` gives back."""
    global _blas_before
    if _blas_before is not None:
        _blas_before = count
    else:
        blas_threads.set_outside_regions(count)


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


class _Call:
    """Primitives run in order over memory objects: the ``bound`` ones pointed at the caller's arrays (inputs, then
    the output), the ``scratch`` ones at buffers allocated for the call (the layouts oneDNN chose, a max pooling's
    workspace), so that a cached call holds no array memory between calls."""

    __slots__ = ("steps", "bound", "scratch", "memories", "implementation", "workspace_bytes")

    def __init__(self, implementation: str):
        self.steps, self.bound, self.scratch, self.memories = [], [], [], []
        self.implementation = implementation
        self.workspace_bytes = 0  # a max pooling's workspace, which the caller keeps between its two calls

    def memory(self, lib, engine, descriptor, bound: bool = False):
        """A memory object of ``descriptor``: bound to an argument, or over a buffer of its own at each call."""
        memory = _Handle()
        _check(lib.dnnl_memory_create(ctypes.byref(memory), descriptor, engine, None), "dnnl_memory_create")
        self.memories.append(memory)
        if bound:
            self.bound.append(memory)
        else:
            self.scratch.append((memory, lib.dnnl_memory_desc_get_size(descriptor)))
        return memory

    def add(self, lib, descriptor, args) -> None:
        """Run the primitive of ``descriptor`` on ``args`` ((argument kind, memory) pairs) at this point."""
        primitive = _Handle()
        _check(lib.dnnl_primitive_create(ctypes.byref(primitive), descriptor), "dnnl_primitive_create")
        self.steps.append((primitive, len(args), (_Arg * len(args))(*(_Arg(kind, memory) for kind, memory in args))))

    def in_layout(self, lib, engine, user, plain_desc, chosen_desc):
        """The memory a primitive uses in its ``chosen_desc`` layout for the ``user`` memory: ``user`` itself where
        that is the plain layout, else a buffer of its own."""
        return user if lib.dnnl_memory_desc_equal(plain_desc, chosen_desc) else self.memory(lib, engine, chosen_desc)

    def reorder(self, lib, engine, source, target) -> None:
        """Copy memory ``source`` into ``target`` (another layout) at this point; nothing when they are one."""
        if source is target:
            return
        descriptor = _Handle()
        _check(lib.dnnl_reorder_primitive_desc_create(
            ctypes.byref(descriptor), _memory_layout(lib, source), engine, _memory_layout(lib, target), engine, None),
            "dnnl_reorder_primitive_desc_create")
        try:
            self.add(lib, descriptor, ((_ARG_SRC, source), (_ARG_DST, target)))
        finally:
            lib.dnnl_primitive_desc_destroy(descriptor)

    def __call__(self, lib, stream, arrays: tuple) -> None:
        buffers = [_aligned_bytes(size) for _, size in self.scratch]
        for memory, array in zip(self.bound + [memory for memory, _ in self.scratch], arrays + tuple(buffers)):
            _check(lib.dnnl_memory_set_data_handle(memory, array.ctypes.data), "dnnl_memory_set_data_handle")
        for primitive, count, args in self.steps:
            _check(lib.dnnl_primitive_execute(primitive, stream, count, args), "dnnl_primitive_execute")
        _check(lib.dnnl_stream_wait(stream), "dnnl_stream_wait")

    def release(self, lib) -> None:
        """Free the primitives and memory objects (the cache drops this call)."""
        for primitive, _, _ in self.steps:
            lib.dnnl_primitive_destroy(primitive)
        for memory in self.memories:
            lib.dnnl_memory_destroy(memory)


def _aligned_bytes(size: int) -> np.ndarray:
    """``size`` bytes starting on a 64-byte boundary (a cache line, an AVX-512 vector), where NumPy's own large
    arrays start 16 bytes past a page: oneDNN's kernels read and write the layouts they chose whole vectors at a
    time (a stride-2 convolution of ResNet-18 ran 1.3-1.5x faster on aligned buffers)."""
    buffer = np.empty(size + _ALIGNMENT, np.uint8)
    start = -buffer.ctypes.data % _ALIGNMENT
    return buffer[start:start + size]


_ALIGNMENT = 64


def _implementation(lib, descriptor) -> str:
    text = ctypes.c_char_p()
    lib.dnnl_primitive_desc_query(descriptor, _QUERY_IMPL, 0, ctypes.byref(text))
    return (text.value or b"").decode()


def _descriptor(lib, shape: tuple, any_layout: bool):
    descriptor = _Handle()
    tag = _TAG_ANY if any_layout else {1: _TAG_A, 4: _TAG_ABCD, 5: _TAG_ABCDE, 6: _TAG_ABCDEF}[len(shape)]
    _check(lib.dnnl_memory_desc_create_with_tag(ctypes.byref(descriptor), len(shape), _Dims(*shape), _F32, tag),
           "dnnl_memory_desc_create_with_tag")
    return descriptor


def _memory_layout(lib, memory):
    layout = _Handle()
    _check(lib.dnnl_memory_get_memory_desc(memory, ctypes.byref(layout)), "dnnl_memory_get_memory_desc")
    return layout


def _layout(lib, descriptor, what: int):
    return _Handle(lib.dnnl_primitive_desc_query_md(descriptor, what, 0))


def _right_padding(size: int, out: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    # oneDNN takes the padding on both sides and checks (size - span + left + right) // stride + 1 == out.
    span = (kernel - 1) * dilation + 1
    if (size - span + 2 * padding) // stride + 1 == out:
        return padding
    return (out - 1) * stride + span - size - padding


def _window_dims(x_shape, y_shape, kernel, stride, padding, dilation) -> tuple:
    """strides, dilations (oneDNN counts the gaps: 0 is none), left and right paddings, per spatial axis."""
    right = [_right_padding(x_shape[2 + a], y_shape[2 + a], kernel[a], stride[a], padding[a], dilation[a])
             for a in range(len(x_shape) - 2)]
    return _Dims(*stride), _Dims(*(d - 1 for d in dilation)), _Dims(*padding), _Dims(*right)


class _Descriptors:
    """Memory and primitive descriptors made while building a call, all freed at its end (memory objects and
    primitives keep copies of what they need)."""

    def __init__(self, lib):
        self.lib, self.memory, self.primitive = lib, [], []

    def tensor(self, shape: tuple, any_layout: bool = False):
        descriptor = _descriptor(self.lib, shape, any_layout)
        self.memory.append(descriptor)
        return descriptor

    def strided(self, shape: tuple, strides: tuple):
        """A float32 memory descriptor of ``shape`` whose axes lie ``strides`` elements apart."""
        descriptor = _Handle()
        _check(self.lib.dnnl_memory_desc_create_with_strides(ctypes.byref(descriptor), len(shape), _Dims(*shape), _F32,
                                                            _Dims(*strides)), "dnnl_memory_desc_create_with_strides")
        self.memory.append(descriptor)
        return descriptor

    def made(self, status: int, descriptor) -> bool:
        """Whether a primitive descriptor was made (it is freed at the end either way)."""
        self.primitive.append(descriptor)
        return status == 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for descriptor in self.primitive:
            if descriptor.value:
                self.lib.dnnl_primitive_desc_destroy(descriptor)
        for descriptor in self.memory:
            self.lib.dnnl_memory_desc_destroy(descriptor)
        return False


def _weight_shape(w_shape: tuple, groups: int) -> tuple:
    return w_shape if groups == 1 else (groups, w_shape[0] // groups) + tuple(w_shape[1:])


_CONVOLUTION_ARGS = {  # direction: (inputs, output) as (argument kind, tensor, layout query)
    "forward": (((_ARG_SRC, "x", _QUERY_SRC), (_ARG_WEIGHTS, "w", _QUERY_WEIGHTS)), (_ARG_DST, "y", _QUERY_DST)),
    "input_grad": (((_ARG_DIFF_DST, "y", _QUERY_DIFF_DST), (_ARG_WEIGHTS, "w", _QUERY_WEIGHTS)),
                   (_ARG_DIFF_SRC, "x", _QUERY_DIFF_SRC)),
    "weight_grad": (((_ARG_SRC, "x", _QUERY_SRC), (_ARG_DIFF_DST, "y", _QUERY_DIFF_DST)),
                    (_ARG_DIFF_WEIGHTS, "w", _QUERY_DIFF_WEIGHTS)),
}


def _build_convolution(direction: str, x_shape: tuple, w_shape: tuple, y_shape: tuple, stride, padding, dilation,
                       groups: int, biased: bool = False):
    """The call computing a convolution's ``direction`` from plain arrays (``biased``: the forward adds a bias, its
    third input), or None where oneDNN has no kernel."""
    lib, engine = _state()[:2]
    w_shape = _weight_shape(w_shape, groups)
    dims = _window_dims(x_shape, y_shape, w_shape[2 - len(x_shape):], stride, padding, dilation)
    with _Descriptors(lib) as made:
        shapes = {"x": x_shape, "w": w_shape, "y": y_shape}
        plain = {name: made.tensor(shape) for name, shape in shapes.items()}
        chosen = {name: made.tensor(shape, any_layout=True) for name, shape in shapes.items()}
        bias = made.tensor((y_shape[1],)) if biased else None
        forward = _Handle()
        if not made.made(lib.dnnl_convolution_forward_primitive_desc_create(
                ctypes.byref(forward), engine, _FORWARD_TRAINING, _DIRECT, chosen["x"], chosen["w"], bias, chosen["y"],
                *dims, None), forward):
            return None
        descriptor = forward
        if direction == "input_grad":
            descriptor = _Handle()
            status = lib.dnnl_convolution_backward_data_primitive_desc_create(
                ctypes.byref(descriptor), engine, _DIRECT, chosen["x"], chosen["w"], chosen["y"], *dims, forward, None)
        elif direction == "weight_grad":
            descriptor = _Handle()
            status = lib.dnnl_convolution_backward_weights_primitive_desc_create(
                ctypes.byref(descriptor), engine, _DIRECT, chosen["x"], chosen["w"], None, chosen["y"], *dims,
                forward, None)
        if descriptor is not forward and not made.made(status, descriptor):
            return None
        call = _Call(_implementation(lib, descriptor))
        inputs, (out_kind, out_name, out_query) = _CONVOLUTION_ARGS[direction]
        args = []
        for kind, name, query in inputs:
            user = call.memory(lib, engine, plain[name], bound=True)
            inner = call.in_layout(lib, engine, user, plain[name], _layout(lib, descriptor, query))
            call.reorder(lib, engine, user, inner)
            args.append((kind, inner))
        if bias is not None:
            args.append((_ARG_BIAS, call.memory(lib, engine, bias, bound=True)))
        user = call.memory(lib, engine, plain[out_name], bound=True)
        inner = call.in_layout(lib, engine, user, plain[out_name], _layout(lib, descriptor, out_query))
        call.add(lib, descriptor, args + [(out_kind, inner)])
        call.reorder(lib, engine, inner, user)
        return call


def _build_max_pool(direction: str, x_shape: tuple, y_shape: tuple, kernel, stride, padding, dilation):
    """The call computing max pooling (``forward``: x -> y), the training forward (``train``: x -> y and the
    workspace recording each window's maximum), the gradient from such a workspace (``backward``: gy, workspace
    -> gx) or from x (``grad``: x, gy -> gx, as the training forward then the backward)."""
    lib, engine = _state()[:2]
    dims = _window_dims(x_shape, y_shape, kernel, stride, padding, dilation)
    window = (dims[0], _Dims(*kernel), dims[1], dims[2], dims[3])
    with _Descriptors(lib) as made:
        x, y = made.tensor(x_shape), made.tensor(y_shape)
        forward = _Handle()
        kind = _FORWARD_INFERENCE if direction == "forward" else _FORWARD_TRAINING
        if not made.made(lib.dnnl_pooling_forward_primitive_desc_create(
                ctypes.byref(forward), engine, kind, _POOLING_MAX, x, y, *window, None), forward):
            return None
        if direction == "forward":
            call = _Call(_implementation(lib, forward))
            call.add(lib, forward, ((_ARG_SRC, call.memory(lib, engine, x, bound=True)),
                                    (_ARG_DST, call.memory(lib, engine, y, bound=True))))
            return call
        workspace_layout = _layout(lib, forward, _QUERY_WORKSPACE)
        if direction == "train":
            call = _Call(_implementation(lib, forward))
            source, result, workspace = (call.memory(lib, engine, d, bound=True) for d in (x, y, workspace_layout))
            call.workspace_bytes = lib.dnnl_memory_desc_get_size(workspace_layout)
            call.add(lib, forward, ((_ARG_SRC, source), (_ARG_DST, result), (_ARG_WORKSPACE, workspace)))
            return call
        backward = _Handle()
        if not made.made(lib.dnnl_pooling_backward_primitive_desc_create(
                ctypes.byref(backward), engine, _POOLING_MAX, x, y, *window, forward, None), backward):
            return None
        call = _Call(_implementation(lib, backward))
        if direction == "backward":
            gradient, workspace, result = (call.memory(lib, engine, d, bound=True) for d in (y, workspace_layout, x))
            call.workspace_bytes = lib.dnnl_memory_desc_get_size(workspace_layout)
        else:
            source, gradient, result = (call.memory(lib, engine, d, bound=True) for d in (x, y, x))
            workspace = call.memory(lib, engine, workspace_layout)
            call.add(lib, forward, ((_ARG_SRC, source), (_ARG_DST, call.memory(lib, engine, y)),
                                    (_ARG_WORKSPACE, workspace)))
        call.add(lib, backward, ((_ARG_DIFF_DST, gradient), (_ARG_WORKSPACE, workspace), (_ARG_DIFF_SRC, result)))
        return call


def _run(key: tuple, build, arrays: tuple, out_shape: tuple, workspace: bool = False, reads_workspace: bool = False,
         out: np.ndarray | None = None):
    """``arrays`` through the call ``build()`` makes (cached under ``key``) into a new float32 array of
    ``out_shape`` (or into ``out``, a C-contiguous float32 array of that shape); None where oneDNN has no kernel
    for it (the caller runs its own). ``workspace``: the call also writes a workspace (a new uint8 array of its
    size), returned after the result; ``reads_workspace``: the last of ``arrays`` is one, and a workspace of
    another size than the call's gives None."""
    lib, _, stream, set_threads, default_threads = _state()
    # one thread inside the runtime's own parallel regions. A primitive keeps the thread count it was created
    # under (oneDNN sizes its work split then), so the count is part of the key; OpenMP's is per calling thread.
    count = 1 if blas_threads.regions_open() else _threads or default_threads
    key += (count,)
    with _lock:
        _take_cores(count)
        if set_threads is not None:
            set_threads(count)
        call = _cache.get(key, False)
        if call is False:
            if len(_cache) >= _CACHE_LIMIT:
                _clear_cache(lib)
            call = _cache[key] = build()
        if call is None or (reads_workspace and arrays[-1].nbytes != call.workspace_bytes):
            return None  # before any copy: the caller's own kernel runs on the arrays as they are
        if out is None:
            out = np.empty(out_shape, np.float32)
        outputs = (out, np.empty(call.workspace_bytes, np.uint8)) if workspace else (out,)
        call(lib, stream, tuple(np.ascontiguousarray(a) for a in arrays) + outputs)
    return outputs if workspace else out


def _build_stacked_product(a_shape: tuple, a_strides: tuple, b_shape: tuple, b_strides: tuple):
    """The call computing (..., M, K) @ (..., K, N) stacks of one leading shape laid out as ``a_strides`` and
    ``b_strides`` (elements) into a C-ordered (..., M, N) one: oneDNN's matmul, which works through the whole stack
    at once."""
    lib, engine = _state()[:2]
    out_shape = a_shape[:-1] + b_shape[-1:]
    with _Descriptors(lib) as made:
        a, b = made.strided(a_shape, a_strides), made.strided(b_shape, b_strides)
        out = made.strided(out_shape, _dense_strides(out_shape))
        descriptor = _Handle()
        if not made.made(lib.dnnl_matmul_primitive_desc_create(ctypes.byref(descriptor), engine, a, b, None, out, None),
                         descriptor):
            return None
        call = _Call(_implementation(lib, descriptor))
        call.add(lib, descriptor, ((_ARG_SRC, call.memory(lib, engine, a, bound=True)),
                                   (_ARG_WEIGHTS, call.memory(lib, engine, b, bound=True)),
                                   (_ARG_DST, call.memory(lib, engine, out, bound=True))))
        return call


def _dense_strides(shape: tuple) -> tuple:
    """The element strides of a C-ordered array of ``shape``."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


def _matmul_strides(array: np.ndarray) -> tuple | None:
    """``array``'s strides in elements for oneDNN, or None where one is not a whole number of elements. An axis of
    one element may have any stride in NumPy (0 included), which oneDNN refuses or misreads: there the C-ordered
    one."""
    if any(step % 4 for step in array.strides):
        return None
    dense = _dense_strides(array.shape)
    return tuple(dense[i] if size == 1 else step // 4 for i, (size, step) in enumerate(zip(array.shape, array.strides)))


def _flat_call(size: int, describe, kinds: tuple):
    """The call running the primitive ``describe(lib, engine, data, made)`` describes (its descriptor, or None where
    oneDNN has no kernel) over flat float32 arrays of ``size``, bound to its arguments ``kinds`` in order."""
    lib, engine = _state()[:2]
    with _Descriptors(lib) as made:
        data = made.tensor((size,))
        descriptor = describe(lib, engine, data, made)
        if descriptor is None:
            return None
        call = _Call(_implementation(lib, descriptor))
        call.add(lib, descriptor, [(kind, call.memory(lib, engine, data, bound=True)) for kind in kinds])
        return call


def _binary_descriptor(kind: str):
    def describe(lib, engine, data, made):
        descriptor = _Handle()
        status = lib.dnnl_binary_primitive_desc_create(ctypes.byref(descriptor), engine, _BINARY[kind], data, data,
                                                       data, None)
        return descriptor if made.made(status, descriptor) else None
    return describe


# The shortest row a binary kernel repeats over an array: a scalar (a row of 1) ran 4x slower than NumPy's loop,
# rows of 128 and more 2-2.4x faster
_ROW_MIN = 16


def _build_row_binary(kind: str, rows: int, cols: int):
    """The call of ``kind`` over a (rows, cols) float32 array and a (cols,) row repeated down it."""
    lib, engine = _state()[:2]
    with _Descriptors(lib) as made:
        data, row = made.strided((rows, cols), (cols, 1)), made.strided((1, cols), (cols, 1))
        descriptor = _Handle()
        status = lib.dnnl_binary_primitive_desc_create(ctypes.byref(descriptor), engine, _BINARY[kind], data, row,
                                                       data, None)
        if not made.made(status, descriptor):
            return None
        call = _Call(_implementation(lib, descriptor))
        call.add(lib, descriptor, [(kind, call.memory(lib, engine, desc, bound=True))
                                   for kind, desc in ((_ARG_SRC, data), (_ARG_SRC + 1, row), (_ARG_DST, data))])
        return call


def _relu_descriptor(lib, engine, data, made):
    descriptor = _Handle()
    status = lib.dnnl_eltwise_forward_primitive_desc_create(ctypes.byref(descriptor), engine, _FORWARD_TRAINING,
                                                            _RELU_USE_DST, data, data, 0.0, 0.0, None)
    return descriptor if made.made(status, descriptor) else None


def _relu_grad_descriptor(lib, engine, data, made):
    forward = _relu_descriptor(lib, engine, data, made)
    if forward is None:
        return None
    descriptor = _Handle()
    status = lib.dnnl_eltwise_backward_primitive_desc_create(ctypes.byref(descriptor), engine, _RELU_USE_DST, data,
                                                             data, data, 0.0, 0.0, forward, None)
    return descriptor if made.made(status, descriptor) else None


def _clear_cache(lib) -> None:
    for call in _cache.values():
        if call is not None:
            call.release(lib)
    _cache.clear()


def _ints(*values) -> tuple:
    return tuple(tuple(map(int, v)) if isinstance(v, (tuple, list)) else int(v) for v in values)


def conv2d(x: np.ndarray, w: np.ndarray, out_hw: tuple, stride, padding, dilation, groups: int,
           bias: np.ndarray | None = None):
    """conv2d of float32 ``x`` (N, C, H, W) and ``w`` (O, C/groups, kh, kw) as (N, O, OH, OW), plus ``bias`` (O,)
    when given; None where oneDNN has no kernel for it. The three convolution calls take any number of spatial axes
    (conv3d's (N, C, D, H, W) with ``out_hw`` a triple, ...)."""
    y_shape = (x.shape[0], w.shape[0]) + tuple(out_hw)
    args = _ints(x.shape, w.shape, y_shape, stride, padding, dilation, groups) + (bias is not None,)
    arrays = (x, w) if bias is None else (x, w, bias)
    return _run(("forward",) + args, lambda: _build_convolution("forward", *args), arrays, args[2])


def conv2d_input_grad(gy: np.ndarray, w: np.ndarray, x_hw: tuple, stride, padding, dilation, groups: int):
    """The gradient of conv2d with respect to its input (conv_transpose2d of ``gy``), of spatial size ``x_hw``."""
    x_shape = (gy.shape[0], w.shape[1] * groups) + tuple(x_hw)
    args = _ints(x_shape, w.shape, gy.shape, stride, padding, dilation, groups)
    return _run(("input_grad",) + args, lambda: _build_convolution("input_grad", *args), (gy, w), args[0])


def conv2d_weight_grad(x: np.ndarray, gy: np.ndarray, kernel: tuple, stride, padding, dilation, groups: int):
    """The gradient of conv2d with respect to its weight, (O, C/groups, kh, kw), or None."""
    w_shape = (gy.shape[1], x.shape[1] // groups) + tuple(kernel)
    # gy may cover fewer output pixels than conv2d(x, w) has (see ember.ops.conv): the input rows and columns
    # past its last window take no part, and oneDNN takes no padding below minus the stride
    reach = [(gy.shape[2 + a] - 1) * stride[a] + (kernel[a] - 1) * dilation[a] + 1 - padding[a]
             for a in range(x.ndim - 2)]
    if any(r < s for r, s in zip(reach, x.shape[2:])):
        x = x[(slice(None), slice(None)) + tuple(slice(0, r) for r in reach)]
    args = _ints(x.shape, w_shape, gy.shape, stride, padding, dilation, groups)
    return _run(("weight_grad",) + args, lambda: _build_convolution("weight_grad", *args), (x, gy), args[1])


def max_pool2d(x: np.ndarray, out_hw: tuple, kernel, stride, padding, dilation):
    """Max pooling of float32 ``x`` (N, C, H, W) into (N, C, OH, OW) (``out_hw`` gives ceil mode's size), or None. The
    pooling calls take any number of spatial axes, as the convolution calls do."""
    args = _ints(x.shape, tuple(x.shape[:2]) + tuple(out_hw), kernel, stride, padding, dilation)
    return _run(("max_pool",) + args, lambda: _build_max_pool("forward", *args), (x,), args[1])


def binary(kind: str, a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
    """``a + b``, ``a * b`` or ``a - b`` (``kind``: "add", "mul", "sub") of C-ordered float32 arrays on oneDNN's
    threads, ``b`` of ``a``'s shape or of its last axes (a row repeated over the leading ones), into ``out`` when
    given (C-ordered, ``a``'s shape; ``a`` itself for an in-place update). One correctly rounded operation per
    element, so NumPy's numbers bit for bit (NaN, infinities, signed zeros and subnormals included). None where
    oneDNN is off or does not take them (``out`` then unwritten)."""
    if not runs(a.dtype) or b.dtype != a.dtype or not (a.flags.c_contiguous and b.flags.c_contiguous) \
            or (out is not None and (out.dtype != a.dtype or out.shape != a.shape or not out.flags.c_contiguous)):
        return None
    size = a.size
    if a.shape == b.shape:
        key = (kind, size)
        build = functools.partial(_flat_call, size, _binary_descriptor(kind), (_ARG_SRC, _ARG_SRC + 1, _ARG_DST))
    else:
        row = b.shape[next((i for i, d in enumerate(b.shape) if d != 1), b.ndim):]
        if b.ndim > a.ndim or a.shape[a.ndim - len(row):] != row or b.size < _ROW_MIN:
            return None
        key = (kind, size // b.size, b.size, "row")
        build = functools.partial(_build_row_binary, kind, size // b.size, b.size)
    result = _run(key, build, (a.reshape(-1), b.reshape(-1)), (size,), out=None if out is None else out.reshape(-1))
    if result is None or out is not None:
        return None if result is None else out
    return result.reshape(a.shape)


def relu(x: np.ndarray) -> np.ndarray | None:
    """``max(x, 0)`` of a float32 array on oneDNN's threads: NumPy's numbers where ``x`` has no NaN (oneDNN makes a
    NaN 0). None where oneDNN is off or does not take it."""
    if not runs(x.dtype):
        return None
    size = x.size
    build = functools.partial(_flat_call, size, _relu_descriptor, (_ARG_SRC, _ARG_DST))
    result = _run(("relu", size), build, (x.reshape(-1),), (size,))
    return None if result is None else result.reshape(x.shape)


def relu_grad(g: np.ndarray, out: np.ndarray) -> np.ndarray | None:
    """relu's gradient from its output, ``g * (out > 0)``, for float32 arrays of one shape, on oneDNN's threads:
    NumPy's numbers where ``out`` has no NaN (a NaN or infinite ``g`` where ``out <= 0`` gives NaN, as 0 * inf
    does; where ``out`` is NaN it gives ``g``). None where oneDNN is off or does not take them."""
    if not runs(g.dtype) or out.dtype != g.dtype or g.shape != out.shape:
        return None
    size = g.size
    build = functools.partial(_flat_call, size, _relu_grad_descriptor, (_ARG_DST, _ARG_DIFF_DST, _ARG_DIFF_SRC))
    result = _run(("relu_grad", size), build, (out.reshape(-1), g.reshape(-1)), (size,))
    return None if result is None else result.reshape(g.shape)


def one_thread_product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> bool:
    """``out[...] = a @ b`` for float32 matrices by oneDNN's sgemm on the calling thread alone (one OpenMP thread),
    when oneDNN is enabled, each matrix is stored by rows or by columns and ``out`` by rows; False, with nothing
    written, otherwise. On W5s's products (512 x 400 x 400-class) it measured 9-10% faster than OpenBLAS's
    one-thread kernel; the runtime's row parts run on it (``runtime.parallel.RowsInParts``)."""
    return _sgemm(a, b, out, 1) is not None


def team_product(a: np.ndarray, b: np.ndarray, out: np.ndarray, count: int) -> bool:
    """``out[...] = a @ b`` for float32 matrices by oneDNN's sgemm on ``count`` OpenMP threads, the calling one
    among them, even inside the runtime's parallel regions: for a product that has the cores to itself there
    (``runtime.parallel.RowsInParts`` while no helper thread is busy; 25-35% faster than its row parts on Python
    threads, which wait tens of microseconds for each other). Same operands and bits as ``one_thread_product``;
    False, with nothing written, where that would be or where oneDNN runs on one thread (``set_threads``).
    ``pause_team`` ends the threads' spinning afterwards."""
    global _team_spinning
    count = min(count, _threads or count)  # set_threads's count, one in a forked child (no OpenMP pool there)
    if count < 2 or _sgemm(a, b, out, count) is None:
        return False
    _team_spinning = True
    return True


def pause_team() -> None:
    """End OpenMP's idle threads after ``team_product`` ran on several (``omp_pause_resource_all``). They spin
    for milliseconds after a kernel, on the cores the runtime is about to hand its own threads work on: W5s's
    sparse update started 2 ms late behind them. The next kernel on several threads starts new ones (tens of
    microseconds). Nothing to do when no team product ran since the last pause."""
    global _team_spinning
    if _team_spinning:
        _team_spinning = False
        if _pause_all is not None:
            _pause_all(_PAUSE_SOFT)


def product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
    """``a @ b`` for float32 matrices by oneDNN's sgemm on its threads (one inside the runtime's parallel
    regions), into ``out`` (stored by rows) or a new array; None, with nothing written, where oneDNN is off or
    does not take the operands (another dtype, a matrix stored neither by rows nor by columns).

    Its results do not depend on the thread count or on how the rows are cut into parts (``one_thread_product``
    computes each part's rows as this computes them). Like a convolution, its first call gives OpenBLAS's cores
    to OpenMP's pool (``release_cores`` gives them back)."""
    count = _product_threads() if _enabled else 1
    if out is None:
        if a.ndim != 2 or b.ndim != 2:
            return None
        out = np.empty((a.shape[0], b.shape[1]), np.float32)
    return _sgemm(a, b, out, count)


def stacked_product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
    """``a @ b`` for float32 stacks of matrices of one leading shape (the matrices on the last two axes, as in
    attention's ``q @ k.T``) by oneDNN's matmul on its threads, which works through the whole stack at once (1.1-2x
    the speed of an sgemm a matrix on attention's stacks), into ``out`` (C-ordered) or a new array; None, with
    nothing written, where oneDNN is off or does not take the operands (leading shapes that differ, matrices stored
    neither by rows nor by columns, another ``out``)."""
    if not _enabled or a.dtype != np.float32 or b.dtype != np.float32 or a.ndim < 3 or a.ndim != b.ndim \
            or a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        return None
    state = _state()
    if isinstance(state, str) or state[3] is None:
        return None
    first = (0,) * (a.ndim - 2)
    a_strides, b_strides = _matmul_strides(a), _matmul_strides(b)
    if _gemm_layout(a[first])[0] is None or _gemm_layout(b[first])[0] is None or a_strides is None \
            or b_strides is None or a.ndim > _MAX_DIMS:
        return None
    shape = a.shape[:-1] + b.shape[-1:]
    if out is None:
        out = np.empty(shape, np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        return None
    args = (tuple(a.shape), a_strides, tuple(b.shape), b_strides)  # the stacks as they lie: no copy
    count = _product_threads()
    lib, _, stream, set_threads, _ = state
    with _lock:
        set_threads(count)
        key = ("stacked_product",) + args + (count,)
        call = _cache.get(key, False)
        if call is False:
            if len(_cache) >= _CACHE_LIMIT:
                _clear_cache(lib)
            call = _cache[key] = _build_stacked_product(*args)
        if call is None:
            return None
        call(lib, stream, (a, b, out))
    return out


def _product_threads() -> int:
    """The thread count a product runs on now (one inside the runtime's parallel regions), OpenBLAS's cores
    taken for it first where that is more than one."""
    if blas_threads.regions_open():
        return 1
    state = _state()
    count = _threads or (1 if isinstance(state, str) else state[4])
    if count > 1 and _blas_before is None:
        with _lock:
            _take_cores(count)
    return count


def _sgemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, count: int) -> np.ndarray | None:
    """``out`` holding ``a @ b`` by ``dnnl_sgemm`` on ``count`` OpenMP threads, or None with nothing written."""
    if not _enabled or a.dtype != np.float32 or b.dtype != np.float32 or out.dtype != np.float32 \
            or a.ndim != 2 or b.ndim != 2:
        return None
    state = _state()
    if isinstance(state, str) or state[3] is None:  # not loaded, or no way to set OpenMP's thread count
        return None
    (trans_a, lda), (trans_b, ldb) = _gemm_layout(a), _gemm_layout(b)
    rows, inner = a.shape
    cols = b.shape[1]
    if trans_a is None or trans_b is None or out.shape != (rows, cols) or out.strides != (4 * cols, 4) \
            or b.shape[0] != inner:
        return None
    state[3](count)  # this thread's OpenMP setting; a convolution sets its own count before it runs
    _check(state[0].dnnl_sgemm(trans_a, trans_b, rows, cols, inner, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 0.0,
                               out.ctypes.data, cols), "dnnl_sgemm")
    return out


def _gemm_layout(matrix: np.ndarray) -> tuple:
    """(b"N", row stride) for a float32 matrix stored by rows, (b"T", column stride) by columns, else (None, 0)."""
    rows, cols = matrix.shape
    step0, step1 = matrix.strides
    if step1 == 4 and step0 % 4 == 0 and step0 // 4 >= max(cols, 1):
        return b"N", step0 // 4
    if step0 == 4 and step1 % 4 == 0 and step1 // 4 >= max(rows, 1):
        return b"T", step1 // 4
    return None, 0


def max_pool2d_training(x: np.ndarray, out_hw: tuple, kernel, stride, padding, dilation):
    """``max_pool2d`` that also returns the workspace ``max_pool2d_grad_from`` reads (where each window's first
    maximum lies, as oneDNN records it): ``(y, workspace)``, or None."""
    args = _ints(x.shape, tuple(x.shape[:2]) + tuple(out_hw), kernel, stride, padding, dilation)
    return _run(("max_pool_train",) + args, lambda: _build_max_pool("train", *args), (x,), args[1], workspace=True)


def max_pool2d_grad_from(workspace: np.ndarray, gy: np.ndarray, x_shape: tuple, kernel, stride, padding, dilation):
    """The gradient of max pooling from ``max_pool2d_training``'s workspace for an input of ``x_shape``: ``gy``
    routed to each window's first maximum without a second pass over the input. None where oneDNN has no
    kernel for it, or the workspace is not one of this shape's."""
    args = _ints(tuple(x_shape), gy.shape, kernel, stride, padding, dilation)
    return _run(("max_pool_backward",) + args, lambda: _build_max_pool("backward", *args), (gy, workspace), args[0],
                reads_workspace=True)


def max_pool2d_grad(x: np.ndarray, gy: np.ndarray, kernel, stride, padding, dilation):
    """The gradient of max pooling: each window's ``gy`` routed to its first maximum in ``x``, or None."""
    args = _ints(x.shape, gy.shape, kernel, stride, padding, dilation)
    return _run(("max_pool_grad",) + args, lambda: _build_max_pool("grad", *args), (x, gy), args[0])


def implementation(direction: str, x_shape, w_shape, y_shape, stride, padding, dilation, groups: int = 1) -> str:
    """The name oneDNN gives the kernel it chooses for a convolution ('' when it has none), e.g. 'jit:avx512_core'."""
    call = _build_convolution(direction, *_ints(x_shape, w_shape, y_shape, stride, padding, dilation, groups))
    if call is None:
        return ""
    call.release(_state()[0])
    return call.implementation

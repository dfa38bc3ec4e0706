"""Ember: a small, readable deep-learning framework on NumPy and CuPy.

>>> import ember
>>> x = ember.randn(3, requires_grad=True)
>>> (x * x).sum().backward()
"""

from ember.tensor import Tensor  # first: it loads the op library
from ember import tensor_attach  # then autograd (which installs the op dispatch) and Tensor's methods from above
from ember import ops
from ember.autograd import (
    enable_grad, grad, is_anomaly_check_nan_enabled, is_anomaly_enabled, is_grad_enabled, no_grad,
    set_anomaly_enabled, set_grad_enabled,
)
from ember.backend import (
    Device, bfloat16, bool_, can_cast, complex64, complex128, cuda_is_available, float16, float32, float64,
    get_default_dtype, int8, int32, int64,
    promote_types, tune_malloc, uint8,
)
from ember.backend.printing import get_printoptions, set_printoptions
from ember.backend.runtime_flags import (
    are_deterministic_algorithms_enabled, get_float32_matmul_precision, get_num_interop_threads, get_num_threads,
    is_deterministic_algorithms_warn_only_enabled, set_float32_matmul_precision, set_flush_denormal,
    set_num_interop_threads, set_num_threads, use_deterministic_algorithms,
)
from ember.grad_mode import is_inference_mode_enabled
from ember.ops.autocast import (
    autocast,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
)
from ember.creation import (
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like, linspace, multinomial, normal,
    ones, ones_like, rand, rand_like, randint, randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from ember.creation import logspace
from ember.creation_torch import asarray, binomial, empty_strided, frombuffer, poisson, scalar_tensor
from ember.windows import bartlett_window, blackman_window, hamming_window, hann_window, kaiser_window
from ember.creation import torch_range as range  # noqa: A004  (torch.range)
from ember.ops import *  # noqa: F403  (the op functions are Ember's top-level API, like numpy's)
from ember.ops import __all__ as _ops_all
from ember.creation import as_tensor  # noqa: E402, F811  (PyTorch's as_tensor(data, dtype, device), not the op helper)
from ember.tensor_inplace_torch import *  # noqa: F403  (torch.abs_(x) and the other top-level in-place functions)
from ember.torch_functions import *  # noqa: F403  (torch.detach(x), torch.fill(x, v)...: Tensor methods at top level)
from ember import fft, linalg, special
from ember.random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from ember import amp, optim
from ember.sparse import RowSparse
from ember.sparse_coo import sparse_coo_tensor
from ember.csr import sparse_csr_tensor
from ember.layouts import sparse_csc, sparse_csr, strided
from ember import data, metrics
from ember.checkpoint import load, save
from ember import nn
from ember.nn.torch_toplevel import *  # noqa: F403  (torch.selu, torch.group_norm...: nn.functional's, at top level)
from ember.nn.torch_toplevel_extra import *  # noqa: F403  (torch.bilinear, torch.embedding_bag...)
from ember.nn.layers.inplace_activation import celu_, relu_, rrelu_, selu_, threshold_
from ember.nn.layers.rrelu import rrelu
from ember.nn.layers.cell_steps import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from ember import graph, passes, runtime
from ember.jit import jit
from ember.control_flow import cond, vmap, while_loop
from ember.torch_compile import compile, compile_module  # noqa: A004  (torch.compile)
from ember import compiler, torch_jit

torch_jit.attach(jit)  # ember.jit.trace, ember.jit.script... (torch.jit's names)
nn.Module.compile = compile_module  # (a layer above nn: attached here, as Tensor's methods from above are)
from ember.torch_runtime import broadcast_shapes, broadcast_tensors, result_type, set_default_dtype, typename
from ember.generator import Generator, default_generator
from ember.torch_types import (  # noqa: A004
    BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor, LongTensor,
    ShortTensor, Size, channels_last, channels_last_3d, contiguous_format, dtype, e, finfo, get_device, iinfo, inf,
    memory_format, nan, newaxis, pi, preserve_format, set_default_tensor_type,
)
import ember.embedding as embedding  # the package: `from ember import embedding` found the op it shadows and kept it
from ember import cpu, cuda
from ember import utils
from ember.pytorch_aliases import (  # noqa: A004
    cdouble, cfloat, double, float, get_default_device, half, inference_mode, int, int16, long, set_default_device,
    short,
)

bool = bool_  # noqa: A001  (ember.bool, like torch.bool)

from ember import torch_keywords as _torch_keywords  # noqa: E402

_torch_keywords.install(globals())  # torch.add(input=a, other=b, out=c): PyTorch's keyword names and out=
_torch_keywords.install(vars(linalg), _torch_keywords.NAMESPACE_SIGNATURES)  # linalg.solve(A=a, B=b, out=x)
_torch_keywords.install(vars(fft), _torch_keywords.NAMESPACE_SIGNATURES)  # fft.rfft(x, out=y)
device = Device

from ember.version import __version__  # noqa: E402


def __getattr__(name: str):
    # Packages with optional dependencies or rarely used load on first use: `ember.onnx`, `ember.profiler`,
    # `ember.distributions`, `ember.func`, `ember.backends`, `ember.testing`, `ember.hub`, `ember.distributed`.
    if name in ("onnx", "profiler", "export", "quantize", "distributions", "func", "backends", "testing", "hub",
                "distributed"):
        import importlib

        return importlib.import_module(f"ember.{name}")
    if name == "_standard_gamma":  # torch._standard_gamma(alpha, generator=None): Gamma(alpha, 1) draws
        import importlib

        return importlib.import_module("ember.distributions.gamma").standard_gamma
    raise AttributeError(f"module 'ember' has no attribute {name!r}")

"""BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm1d/2d and RMSNorm, and the functions ``group_norm``,
``instance_norm`` and ``rms_norm`` that ``nn.functional`` lists."""

from __future__ import annotations

import math
import numbers

import numpy as np

from ember import ops as _ops
from ember.autograd import no_grad
from ember.backend.dtypes import LOW_PRECISION, is_floating
from ember.creation import ones, tensor, zeros
from ember.nn import init
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.ops import batch_norm, layer_norm
from ember.ops.sized import size_along
from ember.tensor import Tensor


def _shape(normalized_shape) -> tuple:
    """An int (NumPy's too, as PyTorch) or a sequence of them as a shape tuple."""
    return (int(normalized_shape),) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)


def _scale_and_shift(module: Module, shape: tuple, affine: bool, bias: bool, dtype, device) -> None:
    """Register a normalization's affine ``weight`` (ones) and ``bias`` (zeros) of ``shape``: None where absent."""
    module.register_parameter("weight", Parameter(ones(*shape, dtype=dtype, device=device)) if affine else None)
    module.register_parameter("bias", Parameter(zeros(*shape, dtype=dtype, device=device)) if affine and bias else None)


class _NormBase(Module):
    """What batch and instance norms share (PyTorch's ``_NormBase``): the affine parameters and running statistics."""

    _expected_ndim: tuple = ()
    _optional_state = ("num_batches_tracked",)  # may be missing from a state dict (older checkpoints)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _scale_and_shift(self, (num_features,), affine, bias, dtype, device)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", tensor(0, dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, x: Tensor) -> None:
        expected = self.running_mean.dtype if self.running_mean is not None else \
            self.weight.dtype if self.weight is not None else None
        if expected is not None and x.dtype != expected:
            check_input_dtype(self, x, expected)
        self._check_input_dim(x)

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim not in self._expected_ndim:
            raise ValueError(
                f"{type(self).__name__}: expected {' or '.join(f'{d}-D' for d in self._expected_ndim)} input, "
                f"got shape {list(x.shape)}"
            )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalisation's forward over the batch statistics or the running ones (PyTorch's ``_BatchNorm``)."""

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        # Batch statistics in training, and in evaluation too when no running statistics are kept.
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            self.momentum,  # None: a cumulative moving average over the batches counted
            self.eps,
            num_batches_tracked=self.num_batches_tracked if self.training and self.track_running_stats else None,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) input, per channel C.

    >>> bn = ember.nn.BatchNorm1d(16)
    >>> bn(ember.randn(32, 16)).shape
    (32, 16)
    """

    _expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) input, per channel C.

    >>> bn = ember.nn.BatchNorm2d(8)
    >>> bn(ember.randn(4, 8, 5, 5)).shape
    (4, 8, 5, 5)
    """

    _expected_ndim = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over (N, C, D, H, W) input, per channel C.

    >>> bn = ember.nn.BatchNorm3d(8)
    >>> bn(ember.randn(2, 8, 3, 4, 4)).shape
    (2, 8, 3, 4, 4)
    """

    _expected_ndim = (5,)


class LayerNorm(Module):
    """Normalisation over the trailing ``normalized_shape`` dimensions, with a learned scale and shift.

    >>> ln = ember.nn.LayerNorm(64)
    >>> ln(ember.randn(2, 10, 64)).shape
    (2, 10, 64)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _scale_and_shift(self, self.normalized_shape, elementwise_affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.weight is not None and x.dtype != self.weight.dtype:
            check_input_dtype(self, x, self.weight.dtype)
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


def _per_channel(t: Tensor, ndim: int) -> Tensor:
    """A (C,) tensor shaped to broadcast over axis 1 of an ``ndim``-D input."""
    return _ops.reshape(t, (-1,) + (1,) * (ndim - 2))


def _affine(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    if weight is not None:
        y = y * _per_channel(weight, y.ndim)
    if bias is not None:
        y = y + _per_channel(bias, y.ndim)
    return y


def _check_channels(name: str, x: Tensor, **tensors) -> None:
    if x.ndim < 2:
        raise ValueError(f"{name}: input must be (N, C, ...), got shape {list(x.shape)}")
    for what, t in tensors.items():
        if t is not None and tuple(t.shape) != (x.shape[1],):
            raise ValueError(f"{name}: {what} must have shape [{x.shape[1]}] for input {list(x.shape)}, "
                             f"got {list(t.shape)}")


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise each sample's channels in ``num_groups`` groups (the mean and biased variance over a group's
    channels and positions), then scale and shift per channel.

    >>> ember.nn.functional.group_norm(ember.randn(2, 6, 4, 4), 3).shape
    (2, 6, 4, 4)
    """
    _check_channels("group_norm", input, weight=weight, bias=bias)
    channels = input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise ValueError(f"group_norm: {channels} channels of input {list(input.shape)} do not divide into "
                         f"{num_groups} groups")
    if input.dtype in LOW_PRECISION and (weight is not None or bias is not None):
        # float16 / bfloat16: normalized, scaled and shifted in float32 and rounded once, as PyTorch
        wide = [None if t is None else _ops.cast(t, np.float32) for t in (weight, bias)]
        return _ops.cast(group_norm(_ops.cast(input, np.float32), num_groups, *wide, eps), input.dtype)
    if None in input.shape[2:]:  # positions unknown while a graph is built: the sizes are read when it runs
        grouped = _ops.reshape(input, (size_along(input, 0), num_groups, -1))
        centered = grouped - _ops.mean(grouped, -1, keepdims=True)
        y = centered / _ops.sqrt(_ops.mean(centered * centered, -1, keepdims=True) + eps)
        return _affine(_ops.reshape(y, tuple(size_along(input, a) for a in range(input.ndim))), weight, bias)
    size = channels // num_groups * math.prod(input.shape[2:])
    grouped = _ops.reshape(input, (-1, num_groups, size))
    y = _ops.layer_norm(grouped, (size,), None, None, eps)
    return _affine(_ops.reshape(y, (-1,) + tuple(input.shape[1:])), weight, bias)


def _update_instance_stats(x: Tensor, running_mean: Tensor, running_var: Tensor, momentum: float) -> None:
    """PyTorch's: the running statistics move toward the batch average of each instance's mean and unbiased
    variance."""
    axes = tuple(range(2, x.ndim))
    with no_grad():
        mean = _ops.mean(_ops.mean(x, axes), 0)
        var = _ops.mean(_ops.var(x, axes, ddof=1), 0)
        _ops.assign(running_mean, running_mean * (1.0 - momentum) + mean * momentum)
        _ops.assign(running_var, running_var * (1.0 - momentum) + var * momentum)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its positions (``use_input_stats``, updating the running
    statistics when given), or by the running statistics; then scale and shift per channel.

    >>> ember.nn.functional.instance_norm(ember.randn(2, 3, 4, 4)).shape
    (2, 3, 4, 4)
    """
    _check_channels("instance_norm", input, running_mean=running_mean, running_var=running_var, weight=weight,
                    bias=bias)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        shift, var = _per_channel(running_mean, input.ndim), _per_channel(running_var, input.ndim)
        return _affine((input - shift) / _ops.sqrt(var + eps), weight, bias)
    size = math.prod(input.shape[2:])
    if size == 1:  # one position: every normalized value is 0 and the running variance's divisor n - 1 is 0
        raise ValueError(f"instance_norm: use_input_stats needs more than one position per channel, got input "
                         f"{input.dtype}{list(input.shape)}")
    if running_mean is not None and running_var is not None:
        _update_instance_stats(input, running_mean, running_var, momentum)
    flat = _ops.reshape(input, (-1, input.shape[1], size))
    y = _ops.layer_norm(flat, (size,), None, None, eps)
    return _affine(_ops.reshape(y, (-1,) + tuple(input.shape[1:])), weight, bias)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x^2) + eps) * weight`` over the trailing ``normalized_shape`` dimensions; ``eps`` None is
    the machine epsilon of float64 for float64 input, else of float32 (as PyTorch's, which computes float16 and
    bfloat16 in float32).

    >>> ember.nn.functional.rms_norm(ember.randn(2, 8), (8,)).shape
    (2, 8)
    """
    shape = _shape(normalized_shape)
    if not shape:  # each element its own group: its sign, which PyTorch refuses
        raise ValueError(f"rms_norm: normalized_shape must have at least one dimension, got [] (input "
                         f"{input.dtype}{list(input.shape)})")
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise ValueError(f"rms_norm: normalized_shape {list(shape)} must be the trailing dimensions of the input "
                         f"of shape {list(input.shape)}")
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"rms_norm: weight must have shape {list(shape)}, got {list(weight.shape)}")
    if eps is None:  # PyTorch's: the epsilon of the type it computes in, float32 for float16 and bfloat16
        eps = float(np.finfo(np.float64 if input.dtype == np.float64 else np.float32).eps)
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    x = _ops.cast(input, np.float32) if input.dtype in LOW_PRECISION else input  # (a float16 square overflows)
    y = x * _ops.rsqrt(_ops.mean(x * x, axes, keepdims=True) + eps)
    y = y if weight is None else y * weight
    if not is_floating(input.dtype):  # integer or bool input normalizes to floats, as layer_norm's (a cast truncates)
        return y
    return _ops.cast(y, input.dtype)  # (float16: rounded once, as PyTorch)


class GroupNorm(Module):
    """Group normalisation of (N, C, ...) input in ``num_groups`` groups of channels, with a learned scale and
    shift per channel (see ``group_norm``).

    >>> ember.nn.GroupNorm(2, 6)(ember.randn(4, 6, 5, 5)).shape
    (4, 6, 5, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _scale_and_shift(self, (num_channels,), affine, bias, dtype, device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.weight is not None and x.dtype != self.weight.dtype:
            check_input_dtype(self, x, self.weight.dtype)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected (N, {self.num_channels}, ...) input, got shape {list(x.shape)}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_NormBase):
    """Instance normalisation's forward (a sibling of ``_BatchNorm`` under ``_NormBase``, as in PyTorch)."""

    _expected_ndim: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._expected_ndim:
            raise ValueError(f"{type(self).__name__}: expected {self._expected_ndim[1]}-D (batched) or "
                             f"{self._expected_ndim[0]}-D (unbatched) input, got shape {list(x.shape)}")
        batched = x.ndim == self._expected_ndim[1]
        if not batched:
            x = _ops.unsqueeze(x, 0)
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels, got input of shape "
                             f"{list(x.shape)}")
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          self.training or not self.track_running_stats,
                          self.momentum if self.momentum is not None else 0.0, self.eps)
        return y if batched else _ops.squeeze(y, 0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L) input: each channel of each sample over its positions.

    >>> ember.nn.InstanceNorm1d(4)(ember.randn(2, 4, 10)).shape
    (2, 4, 10)
    """

    _expected_ndim = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W) input: each channel of each sample over its positions.

    >>> ember.nn.InstanceNorm2d(3, affine=True)(ember.randn(2, 3, 8, 8)).shape
    (2, 3, 8, 8)
    """

    _expected_ndim = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W) input: each channel of each sample over its
    positions.

    >>> ember.nn.InstanceNorm3d(3, affine=True)(ember.randn(2, 3, 4, 5, 5)).shape
    (2, 3, 4, 5, 5)
    """

    _expected_ndim = (4, 5)


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` dimensions, with a learned scale
    (see ``rms_norm``).

    >>> ember.nn.RMSNorm(64)(ember.randn(2, 10, 64)).shape
    (2, 10, 64)
    """

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype, device=device))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        if self.weight is not None and x.dtype != self.weight.dtype:
            check_input_dtype(self, x, self.weight.dtype)
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

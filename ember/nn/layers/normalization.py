"""BatchNorm1d, BatchNorm2d and LayerNorm."""

from __future__ import annotations

from ember.creation import ones, tensor, zeros
from ember.nn import init
from ember.nn.layers.dtype_check import check_input_dtype
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.ops import batch_norm, layer_norm
from ember.tensor import Tensor


class _BatchNorm(Module):
    _expected_ndim: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
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

    def forward(self, x: Tensor) -> Tensor:
        expected = self.running_mean.dtype if self.running_mean is not None else \
            self.weight.dtype if self.weight is not None else None
        if expected is not None and x.dtype != expected:
            check_input_dtype(self, x, expected)
        if x.ndim not in self._expected_ndim:
            raise ValueError(
                f"{type(self).__name__}: expected {' or '.join(f'{d}-D' for d in self._expected_ndim)} input, "
                f"got shape {list(x.shape)}"
            )
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

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


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


class LayerNorm(Module):
    """Normalisation over the trailing ``normalized_shape`` dimensions, with a learned scale and shift.

    >>> ln = ember.nn.LayerNorm(64)
    >>> ln(ember.randn(2, 10, 64)).shape
    (2, 10, 64)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(*self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

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

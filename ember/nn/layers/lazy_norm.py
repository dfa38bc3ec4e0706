"""Lazy normalizations (``LazyBatchNorm1d``/``2d``/``3d``, ``LazyInstanceNorm1d``/``2d``/``3d``): ``num_features``
comes from the first input's channels, as PyTorch's. The affine parameters are ``UninitializedParameter`` objects and
the running statistics ``UninitializedBuffer`` objects from construction (the state-dict keys exist before the first
call); the first call (or a loaded state dict) shapes them in place and the layer becomes the plain normalization."""

from __future__ import annotations

from ember.nn.layers.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    _BatchNorm,
)
from ember.nn.uninitialized import UninitializedBuffer, UninitializedParameter
from ember.tensor import Tensor

__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d"]


class _LazyNorm:
    """What the lazy normalizations share; ``cls_to_become`` is the layer each turns into."""

    cls_to_become: type
    _unbatched_ndim: int | None = None  # an instance norm's (C, ...) input, whose channels are its first axis

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        _BatchNorm.__init__(self, 0, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)

    def has_uninitialized_params(self) -> bool:
        """True until the first call (or a loaded state dict) shapes the parameters and buffers."""
        return True

    def initialize_parameters(self, input: Tensor) -> None:
        """Take ``num_features`` from ``input``'s channels, shape and reset the parameters and running statistics,
        and become the plain normalization."""
        expected = self.cls_to_become._expected_ndim
        if input.ndim not in expected:
            raise ValueError(f"{type(self).__name__}: expected {' or '.join(f'{d}-D' for d in expected)} input, got "
                             f"shape {list(input.shape)}")
        self._materialize(input.shape[0] if input.ndim == self._unbatched_ndim else input.shape[1])
        self.reset_parameters()

    def _materialize(self, num_features: int) -> None:
        self.num_features = num_features
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None:
                t.materialize((num_features,))
        self.__class__ = self.cls_to_become

    def materialize_from_state(self, state_dict, prefix: str) -> None:
        """Shape the parameters and buffers as ``state_dict`` holds them (``load_state_dict`` calls it first)."""
        for key in ("weight", "running_mean"):
            shape = tuple(getattr(state_dict.get(prefix + key), "shape", ()))
            if len(shape) == 1:
                self._materialize(int(shape[0]))
                return

    def forward(self, x: Tensor) -> Tensor:
        self.initialize_parameters(x)
        return type(self).forward(self, x)


class LazyBatchNorm1d(_LazyNorm, BatchNorm1d):
    """A ``BatchNorm1d`` whose ``num_features`` comes from its first input.

    >>> ember.nn.LazyBatchNorm1d()(ember.randn(32, 16)).shape
    (32, 16)
    """

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNorm, BatchNorm2d):
    """A ``BatchNorm2d`` whose ``num_features`` comes from its first input.

    >>> ember.nn.LazyBatchNorm2d()(ember.randn(4, 8, 5, 5)).shape
    (4, 8, 5, 5)
    """

    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNorm, BatchNorm3d):
    """A ``BatchNorm3d`` whose ``num_features`` comes from its first input.

    >>> ember.nn.LazyBatchNorm3d()(ember.randn(2, 8, 3, 4, 4)).shape
    (2, 8, 3, 4, 4)
    """

    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyNorm, InstanceNorm1d):
    """An ``InstanceNorm1d`` whose ``num_features`` comes from its first input (affine and with running statistics
    by default, as PyTorch's lazy instance norms).

    >>> ember.nn.LazyInstanceNorm1d()(ember.randn(2, 4, 10)).shape
    (2, 4, 10)
    """

    cls_to_become = InstanceNorm1d
    _unbatched_ndim = 2


class LazyInstanceNorm2d(_LazyNorm, InstanceNorm2d):
    """An ``InstanceNorm2d`` whose ``num_features`` comes from its first input.

    >>> ember.nn.LazyInstanceNorm2d()(ember.randn(2, 3, 8, 8)).shape
    (2, 3, 8, 8)
    """

    cls_to_become = InstanceNorm2d
    _unbatched_ndim = 3


class LazyInstanceNorm3d(_LazyNorm, InstanceNorm3d):
    """An ``InstanceNorm3d`` whose ``num_features`` comes from its first input.

    >>> ember.nn.LazyInstanceNorm3d()(ember.randn(2, 3, 4, 5, 5)).shape
    (2, 3, 4, 5, 5)
    """

    cls_to_become = InstanceNorm3d
    _unbatched_ndim = 4

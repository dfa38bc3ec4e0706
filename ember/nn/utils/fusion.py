"""Folding an eval-mode batch norm into the convolution or linear layer before it (``torch.nn.utils.fusion``):
``bn(conv(x))`` becomes one layer with weight ``W * g / sqrt(var + eps)`` (per output channel) and bias
``(b - mean) * g / sqrt(var + eps) + beta``, which gives the same values."""

from __future__ import annotations

import copy

from ember import ops
from ember.autograd import no_grad
from ember.creation import ones_like, zeros_like
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]


def _check_eval(fn: str, layer: Module, bn: Module) -> None:
    if layer.training or bn.training:
        raise ValueError(f"{fn}: Fusion only for eval! Call .eval() on both modules first (training: "
                         f"{type(layer).__name__} {layer.training}, {type(bn).__name__} {bn.training})")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"{fn}: the batch norm keeps no running statistics (track_running_stats=False), so there is "
                         "nothing to fold")


def _bn_scale(fn, mean, var, eps, weight, bias) -> tuple[Tensor, Tensor]:
    """(g / sqrt(var + eps), beta), with g = 1 and beta = 0 for a batch norm without affine parameters."""
    if mean.shape != var.shape or mean.ndim != 1:
        raise ValueError(f"{fn}: running mean and variance must be 1-D of one size, got shapes {list(mean.shape)} "
                         f"and {list(var.shape)}")
    weight = ones_like(mean) if weight is None else weight
    bias = zeros_like(mean) if bias is None else bias
    return weight * ops.rsqrt(var + eps), bias


def fuse_conv_bn_weights(conv_w: Tensor, conv_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                         bn_w: Tensor | None, bn_b: Tensor | None,
                         transpose: bool = False) -> tuple[Parameter, Parameter]:
    """The weight and bias of a convolution followed by an eval-mode batch norm, as one convolution's
    (``torch.nn.utils.fuse_conv_bn_weights``). ``transpose``: the weight is a transposed convolution's
    (in, out, ...), scaled along its second axis. The Parameters keep the inputs' dtypes and ``requires_grad``.

    >>> w, b = ember.nn.utils.fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var,
    ...                                            bn.eps, bn.weight, bn.bias)
    """
    fn = "fuse_conv_bn_weights"
    axis = 1 if transpose else 0
    with no_grad():
        scale, shift = _bn_scale(fn, bn_rm, bn_rv, bn_eps, bn_w, bn_b)
        if conv_w.ndim < 2 or conv_w.shape[axis] != scale.shape[0]:
            raise ValueError(f"{fn}: the weight of shape {list(conv_w.shape)} has no {scale.shape[0]} output channels "
                             f"along axis {axis} (transpose={transpose}) for the batch norm's statistics")
        bias = zeros_like(bn_rm) if conv_b is None else conv_b
        shape = [1] * conv_w.ndim
        shape[axis] = -1
        weight = conv_w * ops.reshape(scale, tuple(shape)).astype(conv_w.dtype)
        fused_b = ((bias - bn_rm) * scale + shift).astype(bias.dtype)
    return (Parameter(weight, requires_grad=conv_w.requires_grad),
            Parameter(fused_b, requires_grad=bias.requires_grad))


def fuse_conv_bn_eval(conv: Module, bn: Module, transpose: bool = False) -> Module:
    """A copy of the eval-mode ``conv`` whose output equals ``bn(conv(x))`` (``torch.nn.utils.fuse_conv_bn_eval``);
    ``transpose`` for a transposed convolution. Both modules must be in eval mode.

    >>> fused = ember.nn.utils.fuse_conv_bn_eval(conv.eval(), bn.eval())
    """
    _check_eval("fuse_conv_bn_eval", conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                    bn.eps, bn.weight, bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w: Tensor, linear_b: Tensor | None, bn_rm: Tensor, bn_rv: Tensor, bn_eps: float,
                           bn_w: Tensor | None, bn_b: Tensor | None) -> tuple[Parameter, Parameter]:
    """The weight and bias of a linear layer followed by an eval-mode batch norm, as one linear layer's
    (``torch.nn.utils.fuse_linear_bn_weights``); a batch norm of one feature scales every output.

    >>> w, b = ember.nn.utils.fuse_linear_bn_weights(lin.weight, lin.bias, bn.running_mean, bn.running_var,
    ...                                              bn.eps, bn.weight, bn.bias)
    """
    fn = "fuse_linear_bn_weights"
    with no_grad():
        scale, shift = _bn_scale(fn, bn_rm, bn_rv, bn_eps, bn_w, bn_b)
        if linear_w.ndim != 2 or scale.shape[0] not in (1, linear_w.shape[0]):
            raise ValueError(f"{fn}: a weight of shape {list(linear_w.shape)} needs a batch norm of "
                             f"{linear_w.shape[0] if linear_w.ndim == 2 else '?'} features or 1, got "
                             f"{scale.shape[0]}")
        bias = zeros_like(bn_rm) if linear_b is None else linear_b
        weight = linear_w * ops.reshape(scale, (-1, 1)).astype(linear_w.dtype)
        fused_b = ((bias - bn_rm) * scale + shift).astype(bias.dtype)
    return (Parameter(weight, requires_grad=linear_w.requires_grad),
            Parameter(fused_b, requires_grad=bias.requires_grad))


def fuse_linear_bn_eval(linear: Module, bn: Module) -> Module:
    """A copy of the eval-mode ``linear`` whose output equals ``bn(linear(x))``
    (``torch.nn.utils.fuse_linear_bn_eval``): the batch norm has ``linear.out_features`` features, or one.

    >>> fused = ember.nn.utils.fuse_linear_bn_eval(lin.eval(), bn.eval())
    """
    _check_eval("fuse_linear_bn_eval", linear, bn)
    if bn.num_features not in (1, linear.out_features):
        raise ValueError(f"fuse_linear_bn_eval: To fuse, linear.out_features == bn.num_features or "
                         f"bn.num_features == 1 (got {linear.out_features} and {bn.num_features})")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(fused.weight, fused.bias, bn.running_mean, bn.running_var,
                                                      bn.eps, bn.weight, bn.bias)
    return fused

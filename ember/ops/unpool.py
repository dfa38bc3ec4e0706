"""Max unpooling, PyTorch's ``max_unpool1d/2d/3d``: each value written at its flat index (max pooling's
``return_indices``) in a zero plane of the output size. One ``max_unpool`` primitive serves every rank; its vjp
gathers the output gradient at the indices."""

from __future__ import annotations

import math

from ember.backend.dtypes import FLOATING, INTEGER
from ember.ops import dispatch
from ember.ops.autocast import widened_on_cpu
from ember.ops.conv import ints
from ember.ops.convert import as_tensor
from ember.ops.dispatch import TensorLike
from ember.ops.indexing import GATHER
from ember.ops.infer import check_window, differ
from ember.ops.modes import vjp_rule
from ember.ops.registry import NO_ONNX, Cost, Spec, defop, shape_error
from ember.ops.shape import RESHAPE, reshape, reshape_with


def _forward(xp, x, indices, *, output_size):
    n, c = x.shape[:2]
    plane = math.prod(output_size)
    rows = indices.reshape(n, c, -1)
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= plane):
        raise IndexError(f"max_unpool: indices must lie in [0, {plane}) for the output size {list(output_size)}, "
                         f"found {int(rows.min())} to {int(rows.max())}")
    out = xp.zeros((n, c, plane), dtype=x.dtype)
    out[xp.arange(n)[:, None, None], xp.arange(c)[None, :, None], rows] = x.reshape(n, c, -1)
    return out.reshape((n, c) + tuple(output_size))


def _infer(x, indices, *, output_size):
    specs = [x, indices]
    if x.ndim < 3:
        raise shape_error("max_unpool", specs, f"input must be (N, C, *spatial) with a spatial axis, got {x.ndim}-D")
    check_window("max_unpool", specs, x.ndim - 2, output_size=output_size)
    if x.dtype not in FLOATING or indices.dtype not in INTEGER:
        raise shape_error("max_unpool", specs, "needs a floating-point input and integer indices")
    if indices.ndim != x.ndim or any(differ(a, b) for a, b in zip(indices.shape, x.shape)):
        raise shape_error("max_unpool", specs, "the indices must have the input's shape")
    return Spec(tuple(x.shape[:2]) + tuple(output_size), x.dtype)


def _cost(out: Spec, x: Spec, indices: Spec, **attrs) -> Cost:
    return Cost(0, (out.nbytes or 0) + (x.nbytes or 0) + (indices.nbytes or 0))


def _rule(run, ctx, g):
    x, indices = ctx.inputs
    n, c = x.shape[:2]
    rows = run(GATHER, run(RESHAPE, g, shape=(n, c, -1)), run(RESHAPE, indices, shape=(n, c, -1)), axis=2)
    return reshape_with(run, rows, x.shape), None


MAX_UNPOOL = defop("max_unpool", forward=_forward, infer=_infer, vjp=vjp_rule(_rule), cost=_cost, onnx=NO_ONNX)


def _unpool(name: str, rank: int, x, indices, kernel_size, stride, padding, output_size) -> TensorLike:
    (x,), indices = widened_on_cpu(as_tensor(x)), as_tensor(indices)  # (float32 in a CPU autocast region, as PyTorch's)
    if x.ndim == rank + 1:  # unbatched (C, *spatial)
        y = _unpool(name, rank, reshape(x, (1,) + tuple(x.shape)), reshape(indices, (1,) + tuple(indices.shape)),
                    kernel_size, stride, padding, output_size)
        return reshape(y, tuple(y.shape[1:]))
    if x.ndim != rank + 2:
        raise ValueError(f"{name}: input must be {rank + 2}-D or {rank + 1}-D, got shape {list(x.shape)}")
    kernel_size = ints(name, "kernel_size", kernel_size, 1, rank)
    stride = kernel_size if stride is None else ints(name, "stride", stride, 1, rank)
    padding = ints(name, "padding", padding, 0, rank)
    spatial = tuple(x.shape[2:])
    default = tuple((spatial[a] - 1) * stride[a] - 2 * padding[a] + kernel_size[a] for a in range(rank))
    if output_size is None:
        size = default
    else:
        size = tuple(int(s) for s in output_size)
        if len(size) == rank + 2:  # PyTorch takes the whole shape too
            size = size[2:]
        if len(size) != rank:
            raise ValueError(f"{name}: output_size must have {rank} or {rank + 2} elements, got {list(output_size)}")
        for a in range(rank):
            if not default[a] - stride[a] < size[a] < default[a] + stride[a]:
                raise ValueError(f"{name}: output_size {list(size)} must lie between "
                                 f"{[d - s + 1 for d, s in zip(default, stride)]} and "
                                 f"{[d + s - 1 for d, s in zip(default, stride)]} for input {list(x.shape)}")
    attrs = {"output_size": size}
    MAX_UNPOOL.infer(Spec(tuple(x.shape), x.dtype), Spec(tuple(indices.shape), indices.dtype), **attrs)
    return dispatch.apply(MAX_UNPOOL, (x, indices), attrs)


def max_unpool1d(input: TensorLike, indices: TensorLike, kernel_size, stride=None, padding=0,
                 output_size=None) -> TensorLike:
    """The partial inverse of max_pool1d: each value of (N, C, L) or (C, L) ``input`` at its index from
    ``max_pool1d(..., return_indices=True)``, zeros elsewhere; the length is (L - 1) * stride - 2 * padding +
    kernel_size unless ``output_size`` picks another that the same pooling maps to L.

    >>> y, i = ember.max_pool1d(ember.randn(2, 3, 8), 2, return_indices=True)
    >>> ember.max_unpool1d(y, i, 2).shape
    (2, 3, 8)
    """
    return _unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: TensorLike, indices: TensorLike, kernel_size, stride=None, padding=0,
                 output_size=None) -> TensorLike:
    """The partial inverse of max_pool2d on (N, C, H, W) or (C, H, W) ``input``, as max_unpool1d per axis.

    >>> y, i = ember.max_pool2d(ember.randn(1, 3, 6, 6), 2, return_indices=True)
    >>> ember.max_unpool2d(y, i, 2).shape
    (1, 3, 6, 6)
    """
    return _unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: TensorLike, indices: TensorLike, kernel_size, stride=None, padding=0,
                 output_size=None) -> TensorLike:
    """The partial inverse of max_pool3d on (N, C, D, H, W) or (C, D, H, W) ``input``, as max_unpool1d per axis.

    >>> y, i = ember.max_pool3d(ember.randn(1, 2, 4, 4, 4), 2, return_indices=True)
    >>> ember.max_unpool3d(y, i, 2).shape
    (1, 2, 4, 4, 4)
    """
    return _unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)

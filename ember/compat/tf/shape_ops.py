"""TF-1's broadcasting, repeating and rearranging functions (``tf.broadcast_to``, ``tf.meshgrid``, ``tf.repeat``,
``tf.batch_gather``, ``tf.space_to_depth``, ``tf.space_to_batch_nd``...), each a recipe over Ember ops, so their
gradients are those of the ops they are made of."""

from __future__ import annotations

import builtins

import numpy as np

import ember
from ember.compat.tf._core import (
    Tensor,
    TensorShape,
    as_operand,
    as_tf,
    as_tf_dtype,
    control_dependencies,
    group,
    int32,
    int64,
    op,
    outputs,
)
from ember.compat.tf.array_ops import _typed, gather, run_time_dims, run_time_static
from ember.compat.tf.array_ops import shape as _shape
from ember.compat.tf.array_ops import stack as _stack

__all__ = [
    "batch_gather", "batch_to_space", "batch_to_space_nd", "broadcast_dynamic_shape", "broadcast_static_shape",
    "broadcast_to", "depth_to_space", "identity_n", "meshgrid", "parallel_stack", "repeat", "scalar_mul", "shape_n",
    "space_to_batch", "space_to_batch_nd", "space_to_depth", "tuple",
]


def _dims(shape) -> builtins.tuple | None:
    return None if shape is None else builtins.tuple(None if d is None else int(d) for d in shape)


def _broadcast_dims(what: str, x: builtins.tuple, y: builtins.tuple) -> builtins.tuple:
    """NumPy's broadcast of two static shapes, None for a size not known (a 1 against None stays unknown)."""
    out = []
    for i in range(1, builtins.max(len(x), len(y)) + 1):
        a = x[-i] if i <= len(x) else 1
        b = y[-i] if i <= len(y) else 1
        if a == 1 or a == b:
            out.append(b)
        elif b == 1:
            out.append(a)
        elif a is None or b is None:
            out.append(a if b is None else b)
        else:
            raise ValueError(f"{what}: incompatible shapes for broadcasting: {list(x)} and {list(y)}")
    return builtins.tuple(reversed(out))


def broadcast_to(input, shape, name: str | None = None) -> Tensor:
    """``input`` broadcast to ``shape`` (ints, ``tf.shape(t)`` or a list holding ``tf.shape(t)[i]``), as NumPy's."""
    x = as_tf(input)
    sources, resolve = run_time_dims("tf.broadcast_to", shape)
    static = run_time_static(shape)
    if x.shape is not None and static is not None:
        target = builtins.tuple(None if d is None or d < 0 else d for d in static)
        if len(x.shape) > len(target) or any(
                t is not None and d is not None and d not in (1, t)
                for d, t in zip(reversed(x.shape), reversed(target))):
            raise ValueError(f"tf.broadcast_to: '{x.name}' of shape {list(x.shape)} cannot be broadcast to "
                             f"{list(target)}")
    result = op(lambda a, *values: ember.broadcast_to(a, resolve(*values)), (x, *sources),
                name=name or "BroadcastTo")
    return _typed(result, static, x.dtype) if sources else result


def broadcast_static_shape(shape_x, shape_y) -> TensorShape:
    """The broadcast of two static shapes (``TensorShape``s or lists, None for an unknown size)."""
    return TensorShape(_broadcast_dims("tf.broadcast_static_shape", _dims(shape_x), _dims(shape_y)))


def broadcast_dynamic_shape(shape_x, shape_y) -> Tensor:
    """The broadcast of two shapes as a 1-D tensor: ``tf.shape(t)`` results (read when the Session runs) or
    constants."""
    parts = []
    for s in (shape_x, shape_y):
        if isinstance(s, Tensor) and s.kind != "Shape":
            raise TypeError(f"tf.broadcast_dynamic_shape: the shape tf.Tensor '{s.name}' ({s.kind}) is not supported; "
                            "pass tf.shape(t) or a list of ints")
        parts.append(s if isinstance(s, Tensor) else np.asarray(s))
    known = {p.dtype for p in parts if isinstance(p, Tensor)}
    dtype = np.dtype(next(iter(known)) if known else int32)  # (a list takes the other shape's dtype, as TF's)
    if len(known) > 1 or any(p.dtype.kind not in "iu" and p.size for p in parts if not isinstance(p, Tensor)):
        raise TypeError(f"tf.broadcast_dynamic_shape: the shapes must be int32 or int64 and of one dtype, got "
                        f"{[str(p.dtype) for p in parts]}")
    statics = [_dims(p.source._shape) if isinstance(p, Tensor) else builtins.tuple(int(d) for d in p) for p in parts]
    if all(s is not None for s in statics):
        static = _broadcast_dims("tf.broadcast_dynamic_shape", *statics)
    sources = [p.source for p in parts if isinstance(p, Tensor)]

    def fn(*values):
        it = iter(values)
        shapes = [builtins.tuple(next(it).shape) if isinstance(p, Tensor) else builtins.tuple(int(d) for d in p)
                  for p in parts]
        return ember.tensor(np.array(_broadcast_dims("tf.broadcast_dynamic_shape", *shapes), dtype))

    if not sources:
        return as_tf(np.array(static, dtype))
    rank = len(static) if all(s is not None for s in statics) else None
    return _typed(op(fn, builtins.tuple(sources), name="BroadcastArgs"), None if rank is None else (rank,), dtype)


def meshgrid(*args, **kwargs) -> list:
    """N-D coordinate grids of the 1-D ``args`` (flattened): ``indexing='xy'`` (the default, Cartesian: the first
    two outputs' axes swapped) or ``'ij'`` (matrix)."""
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"tf.meshgrid: unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"tf.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    inputs = [as_tf(a) for a in args]
    if not inputs:
        return []
    if len({t.dtype for t in inputs}) > 1:
        raise TypeError(f"tf.meshgrid: the inputs must have one dtype, got {[str(t.dtype) for t in inputs]}")

    def part(i: int):
        return lambda *xs: ember.meshgrid(*(ember.reshape(x, (-1,)) for x in xs), indexing=indexing)[i]

    return outputs([part(i) for i in range(len(inputs))], builtins.tuple(inputs), name=name)


def repeat(input, repeats, axis: int | None = None, name: str | None = None) -> Tensor:
    """Each element of ``input`` repeated ``repeats`` times (an int, or one count per element along ``axis``)
    along ``axis``; ``axis=None`` repeats the flattened input, as NumPy's ``np.repeat``."""
    x = as_tf(input)
    if isinstance(repeats, Tensor):
        raise TypeError(f"tf.repeat: repeats given as tf.Tensor '{repeats.name}' is not supported (the output size "
                        "would depend on its values); pass an int or a list of ints")
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(f"tf.repeat: repeats must be an int or a 1-D list of ints, got {repeats!r}")
    if (counts < 0).any():
        raise ValueError(f"tf.repeat: repeats must be >= 0, got {counts.tolist()}")
    if x.shape is not None and axis is not None and not -len(x.shape) <= int(axis) < builtins.max(len(x.shape), 1):
        raise ValueError(f"tf.repeat: axis {axis} is out of range for '{x.name}' of shape {list(x.shape)}")

    def fn(a):
        flat = ember.reshape(a, (-1,)) if axis is None else a
        dim = 0 if axis is None else int(axis) % builtins.max(a.ndim, 1)
        if counts.ndim and counts.size not in (1, flat.shape[dim]):
            raise ValueError(f"tf.repeat: {counts.size} repeats for an axis of size {flat.shape[dim]}")
        per = int(counts.reshape(-1)[0]) if counts.size == 1 else ember.tensor(counts.astype(np.int64))
        return ember.repeat_interleave(flat, per, dim=dim)

    return op(fn, (x,), name=name or "Repeat")


def batch_gather(params, indices, name: str | None = None) -> Tensor:
    """``params[b..., indices[b..., j], ...]``: a gather along axis ``rank(indices) - 1`` in each batch entry
    (the leading ``rank(indices) - 1`` axes), as TF-1's ``tf.batch_gather``."""
    params, indices = as_tf(params), as_tf(indices)
    if indices.shape is None:
        raise ValueError(f"tf.batch_gather: the rank of indices '{indices.name}' must be known while the graph is "
                         "built")
    k = len(indices.shape)
    if k == 0 or params.shape is not None and len(params.shape) < k:
        raise ValueError(f"tf.batch_gather: indices of shape {list(indices.shape)} need params of rank >= "
                         f"{builtins.max(k, 1)}, got {None if params.shape is None else list(params.shape)}")
    return gather(params, indices, axis=k - 1, batch_dims=k - 1, name=name or "batch_gather")


def identity_n(input, name: str | None = None) -> list:
    """Each tensor of the list ``input`` unchanged, as the outputs of one op (``IdentityN:i``)."""
    inputs = [as_tf(t) for t in input]
    return outputs([(lambda *xs, i=i: xs[i]) for i in range(len(inputs))], builtins.tuple(inputs),
                   name=name or "IdentityN")


def shape_n(input, out_type=int32, name: str | None = None) -> list:
    """``tf.shape`` of each tensor of the list ``input`` (``out_type`` int32 or int64)."""
    out_type = as_tf_dtype(out_type)
    if out_type not in (int32, int64):
        raise TypeError(f"tf.shape_n: out_type must be int32 or int64, got {out_type}")
    return [_shape(t, name=name or "ShapeN", out_type=out_type) for t in input]


def scalar_mul(scalar, x, name: str | None = None) -> Tensor:
    """``scalar * x`` for a 0-D ``scalar`` (converted to ``x``'s dtype)."""
    x = as_tf(x)
    s = as_operand(scalar, x)
    if s.shape is not None and len(s.shape):
        raise ValueError(f"tf.scalar_mul: only a scalar multiplies, got '{s.name}' of shape {list(s.shape)}")
    return op(lambda a, b: a * b, (s, x), name=name or "scalar_mul")


def parallel_stack(values, name: str = "parallel_stack") -> Tensor:
    """``tf.stack(values, 0)`` for inputs whose shapes are fully known while the graph is built, as TF-1's."""
    values = [as_tf(v) for v in values]
    for v in values:
        if v.shape is None or None in v.shape:
            raise ValueError(f"tf.parallel_stack: the shape of '{v.name}' must be fully defined, got "
                             f"{None if v.shape is None else list(v.shape)}")
    return _stack(values, 0, name=name)


def tuple(tensors, name: str | None = None, control_inputs=None) -> list:  # noqa: A001  (tf.tuple)
    """The ``tensors`` (None entries kept), each available only once all of them (and ``control_inputs``) are
    computed: a run that fetches one computes them all."""
    items = list(tensors)
    gates = [t for t in items if t is not None] + list(control_inputs or [])
    if not gates:
        raise ValueError("tf.tuple: tensors must hold at least one tensor")
    out = []
    with control_dependencies(gates):
        for t in items:
            if t is None:
                out.append(None)
            elif isinstance(t, Tensor) and t.kind in ("NoOp", "Group", "Train") or t.dtype is None:
                out.append(group(t, name=name or "tuple/control_dependency"))
            else:
                out.append(op(lambda a: a, (as_tf(t),), name=name or "tuple/control_dependency"))
    return out


# --- blocks of space moved into depth or batch ------------------------------------------------------------


def _block(what: str, block_size) -> int:
    size = int(block_size)
    if size < 2:
        raise ValueError(f"tf.{what}: block_size must be >= 2, got {size}")
    return size


def _nhwc(what: str, x: Tensor, data_format: str) -> None:
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"tf.{what}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    if x.shape is not None and len(x.shape) != 4:
        raise ValueError(f"tf.{what}: the input must be 4-D, got '{x.name}' of shape {list(x.shape)}")


def space_to_depth(input, block_size: int, name: str | None = None, data_format: str = "NHWC") -> Tensor:
    """Each ``block_size`` x ``block_size`` block of the spatial axes moved into the channels: [b, h, w, c] to
    [b, h / bs, w / bs, bs * bs * c], the block's row, then its column, then the channel, as TF-1's."""
    x, bs = as_tf(input), _block("space_to_depth", block_size)
    _nhwc("space_to_depth", x, data_format)

    def fn(a):
        if data_format == "NCHW":
            a = ember.permute(a, (0, 2, 3, 1))
        b, h, w, c = a.shape
        if h % bs or w % bs:
            raise ValueError(f"tf.space_to_depth: height {h} and width {w} must be multiples of block_size {bs}")
        out = ember.reshape(ember.permute(ember.reshape(a, (b, h // bs, bs, w // bs, bs, c)), (0, 1, 3, 2, 4, 5)),
                            (b, h // bs, w // bs, bs * bs * c))
        return ember.permute(out, (0, 3, 1, 2)) if data_format == "NCHW" else out

    return op(fn, (x,), name=name or "SpaceToDepth")


def depth_to_space(input, block_size: int, name: str | None = None, data_format: str = "NHWC") -> Tensor:
    """``space_to_depth`` undone: [b, h, w, bs * bs * c] to [b, h * bs, w * bs, c]."""
    x, bs = as_tf(input), _block("depth_to_space", block_size)
    _nhwc("depth_to_space", x, data_format)

    def fn(a):
        if data_format == "NCHW":
            a = ember.permute(a, (0, 2, 3, 1))
        b, h, w, c = a.shape
        if c % (bs * bs):
            raise ValueError(f"tf.depth_to_space: the depth {c} must be a multiple of block_size**2 = {bs * bs}")
        out = ember.reshape(ember.permute(ember.reshape(a, (b, h, w, bs, bs, c // (bs * bs))), (0, 1, 3, 2, 4, 5)),
                            (b, h * bs, w * bs, c // (bs * bs)))
        return ember.permute(out, (0, 3, 1, 2)) if data_format == "NCHW" else out

    return op(fn, (x,), name=name or "DepthToSpace")


def _block_shape(what: str, block_shape, pairs, pairs_name: str):
    blocks = [int(b) for b in np.asarray(block_shape).reshape(-1)]
    table = np.asarray(pairs, dtype=np.int64).reshape(-1, 2) if np.size(pairs) else np.zeros((0, 2), np.int64)
    if not blocks or any(b < 1 for b in blocks):
        raise ValueError(f"tf.{what}: block_shape must be a non-empty list of ints >= 1, got {blocks}")
    if table.shape != (len(blocks), 2) or (table < 0).any():
        raise ValueError(f"tf.{what}: {pairs_name} must be [{len(blocks)}, 2] non-negative ints (one pair per block "
                         f"dimension), got {np.asarray(pairs).tolist()}")
    return blocks, [builtins.tuple(int(v) for v in row) for row in table]


def space_to_batch_nd(input, block_shape, paddings, name: str | None = None) -> Tensor:
    """The M spatial axes after the batch, padded by ``paddings`` and cut into ``block_shape`` blocks, each
    block offset a batch of its own: [b, s1..sM, rest] to [b * prod(block), (s1 + pads) / b1.., rest]."""
    blocks, pads = _block_shape("space_to_batch_nd", block_shape, paddings, "paddings")
    m = len(blocks)
    x = as_tf(input)
    if x.shape is not None and len(x.shape) < m + 1:
        raise ValueError(f"tf.space_to_batch_nd: '{x.name}' of shape {list(x.shape)} has fewer than {m} spatial axes")

    def fn(a):
        a = ember.pad(a, ((0, 0), *pads, *((0, 0),) * (a.ndim - m - 1)))
        b, spatial, rest = a.shape[0], builtins.tuple(a.shape[1:m + 1]), builtins.tuple(a.shape[m + 1:])
        if any(s % k for s, k in zip(spatial, blocks)):
            raise ValueError(f"tf.space_to_batch_nd: the padded spatial shape {list(spatial)} must be divisible by "
                             f"block_shape {blocks}")
        split = [b] + [d for s, k in zip(spatial, blocks) for d in (s // k, k)] + list(rest)
        order = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(2 * m + 1, len(split)))
        out = ember.permute(ember.reshape(a, builtins.tuple(split)), builtins.tuple(order))
        return ember.reshape(out, (b * int(np.prod(blocks)), *(s // k for s, k in zip(spatial, blocks)), *rest))

    return op(fn, (x,), name=name or "SpaceToBatchND")


def batch_to_space_nd(input, block_shape, crops, name: str | None = None) -> Tensor:
    """``space_to_batch_nd`` undone: [b * prod(block), s1..sM, rest] to [b, s1 * b1 - crops.., rest]."""
    blocks, crop = _block_shape("batch_to_space_nd", block_shape, crops, "crops")
    m, count = len(blocks), int(np.prod(blocks))
    x = as_tf(input)
    if x.shape is not None and len(x.shape) < m + 1:
        raise ValueError(f"tf.batch_to_space_nd: '{x.name}' of shape {list(x.shape)} has fewer than {m} spatial axes")
    if x.shape is not None and x.shape[0] is not None and x.shape[0] % count:
        raise ValueError(f"tf.batch_to_space_nd: the batch {x.shape[0]} of '{x.name}' must be divisible by "
                         f"prod(block_shape) = {count}")

    def fn(a):
        if a.shape[0] % count:
            raise ValueError(f"tf.batch_to_space_nd: the batch {a.shape[0]} must be divisible by prod(block_shape) = "
                             f"{count}")
        b, spatial, rest = a.shape[0] // count, builtins.tuple(a.shape[1:m + 1]), builtins.tuple(a.shape[m + 1:])
        out = ember.reshape(a, (*blocks, b, *spatial, *rest))
        order = [m] + [d for i in range(m) for d in (m + 1 + i, i)] + list(range(2 * m + 1, 2 * m + 1 + len(rest)))
        out = ember.reshape(ember.permute(out, builtins.tuple(order)),
                            (b, *(s * k for s, k in zip(spatial, blocks)), *rest))
        full = [s * k for s, k in zip(spatial, blocks)]
        if any(lo + hi > f for (lo, hi), f in zip(crop, full)):
            raise ValueError(f"tf.batch_to_space_nd: crops {crop} exceed the spatial shape {full}")
        return out[(builtins.slice(None), *(builtins.slice(lo, f - hi) for (lo, hi), f in zip(crop, full)))]

    return op(fn, (x,), name=name or "BatchToSpaceND")


def space_to_batch(input, paddings, block_size: int, name: str | None = None) -> Tensor:
    """TF-1's ``tf.space_to_batch``: ``space_to_batch_nd`` of a 4-D NHWC input with a square block."""
    bs = _block("space_to_batch", block_size)
    x = as_tf(input)
    if x.shape is not None and len(x.shape) != 4:
        raise ValueError(f"tf.space_to_batch: the input must be 4-D, got '{x.name}' of shape {list(x.shape)}")
    return space_to_batch_nd(x, [bs, bs], paddings, name=name or "SpaceToBatchND")


def batch_to_space(input, crops, block_size: int, name: str | None = None) -> Tensor:
    """TF-1's ``tf.batch_to_space``: ``batch_to_space_nd`` of a 4-D NHWC input with a square block."""
    bs = _block("batch_to_space", block_size)
    x = as_tf(input)
    if x.shape is not None and len(x.shape) != 4:
        raise ValueError(f"tf.batch_to_space: the input must be 4-D, got '{x.name}' of shape {list(x.shape)}")
    return batch_to_space_nd(x, [bs, bs], crops, name=name or "BatchToSpaceND")

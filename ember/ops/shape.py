"""Shape and layout ops: reshape, transpose, broadcast, the helpers built on them (squeeze, unsqueeze, flatten,
unbroadcast), copies and device moves. Joining and repeating (concat, split, tile...) are in ``join.py``, pad
in ``indexing.py``: their gradients need ops that are built on these."""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import is_torch_dtype
from ember.ops import dispatch, lowering
from ember.ops.convert import as_tensor, view_dtype
from ember.ops.dispatch import TensorLike
from ember.ops.infer import (
    as_int,
    broadcast_shapes,
    check_axis,
    check_sizes,
    fits,
    movement_cost,
    normalize_axis,
)
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import (
    NO_ONNX,
    NON_DIFFERENTIABLE,
    NOT_FUSIBLE,
    REGISTRY,
    Cost,
    Spec,
    defop,
    describe,
    format_shape,
    shape_error,
)
from ember.ops.unknown_size import UnknownSize


def _prod(shape) -> int | None:
    """The product of the sizes; None when one is unknown."""
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d
    return n


def _resolve_shape(name: str, spec: Spec, shape) -> tuple:
    """Fill in one -1 in ``shape`` and check the element count. In a graph, None at position i stands for
    the input's unknown dimension i (``x.reshape(x.shape[0], -1)``)."""
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name}: shape must be a sequence of ints, got {shape!r} (inputs: {describe([spec])})")
    if any(d is not None and as_int(name, d, "shape", [spec]) < -1 for d in shape):
        raise shape_error(name, [spec], f"target {list(shape)}: sizes must be at least -1")
    if any(d is None and i >= spec.ndim for i, d in enumerate(shape)):
        raise shape_error(name, [spec], f"target {format_shape(shape)}: an unknown size must sit where the input has "
                          "its unknown dimension")
    shape = tuple(spec.shape[i] if d is None else int(d) for i, d in enumerate(shape))
    copies = {i for i, d in enumerate(shape) if d is None}
    if shape.count(-1) > 1:
        raise shape_error(name, [spec], f"only one dimension may be -1, got {list(shape)}")
    unknown = {i for i, d in enumerate(spec.shape) if d is None}
    if unknown != copies:  # an unknown dimension is merged or moved: -1 stays unknown until specialized
        return tuple(None if d == -1 else d for d in shape)
    size = _prod(d for d in spec.shape if d is not None)  # without the copied unknown dimensions
    known = _prod(d for d in shape if d is not None and d != -1)
    if -1 in shape:
        if known == 0 or size % known:
            raise shape_error(name, [spec], f"cannot reshape to {format_shape(shape)}")
        return tuple(size // known if d == -1 else d for d in shape)
    if known != size:
        raise shape_error(name, [spec], f"cannot reshape {format_shape(spec.shape)} to {format_shape(shape)}")
    return shape


# --- reshape / transpose / broadcast ------------------------------------------------------------------


def _reshape_forward(xp, x, *, shape):
    if None in shape:  # (a graph's template, run by the interpreter) None: the input's size at that place
        shape = tuple(x.shape[i] if d is None else d for i, d in enumerate(shape))
    return x.reshape(shape)


def reshape_with(run, x, shape):
    """``reshape(x, shape)`` inside a rule over ``run`` (``ember.ops.modes``): on Tensors, graph Values or arrays."""
    shape = tuple(shape)
    if shape.count(None) == 1 and -1 not in shape:  # (a rule's target: a value's shape) the one size left to infer,
        shape = tuple(-1 if d is None else d for d in shape)  # whichever unknown size x has (B * T rows for B)
    if None in shape:  # a graph for every batch size: ``reshape``'s reading of the unknown sizes
        shape = _unknown_sizes(x, shape)
    elif tuple(x.shape) == shape:
        return x
    return run(RESHAPE, x, shape=shape)


def _reshape_rule(run, ctx, g):
    return (reshape_with(run, g, ctx.inputs[0].shape),)


RESHAPE = defop(
    "reshape",
    forward=_reshape_forward,
    infer=lambda x, *, shape: Spec(_resolve_shape("reshape", x, shape), x.dtype),
    vjp=vjp_rule(_reshape_rule),
    cost=movement_cost,
    onnx="Reshape",
    vjp_reads=(),
    lower=lowering.reshape,
    view=lambda array, attrs, shape: array.reshape(shape),
    same_type_noop=True,
    scalar_alias=True,
    shape_attr="shape",
)


def reshape(x: TensorLike, *shape) -> TensorLike:
    """The same elements in a new shape; one dimension may be -1."""
    if len(shape) == 1 and not isinstance(shape[0], int) and not hasattr(shape[0], "__index__"):
        shape = tuple(shape[0])
    x = as_tensor(x)
    # the same shape: x itself, but a new recorded view of it where gradients are recorded, as PyTorch's (a
    # gradient asked for the view, or a write through it, is the view's)
    if shape == x.array.shape and None not in shape and not (x.requires_grad and dispatch.grad_enabled()):
        return x
    if None in shape:
        if _read_elsewhere(x, shape) or -1 in shape and _all_read(shape) and any(
                d.__class__ is UnknownSize and d.computed for d in shape):
            # (a size computed from read ones beside a -1: x.reshape(x.size(0) * x.size(1), -1) leaves two sizes to
            # infer from x's, so the computed one is read when the graph runs)
            from ember.ops.sized import reshape_sized

            return reshape_sized(x, shape)
        shape = _unknown_sizes(x, shape)
    elif not _plain_sizes(shape):  # NumPy would read -2 as -1: the shape rule names what is wrong
        _resolve_shape("reshape", Spec(x.shape, x.dtype), shape)
    return dispatch.apply(RESHAPE, (x,), {"shape": shape})


def view(x: TensorLike, *shape, dtype=None) -> TensorLike:
    """``Tensor.view``: ``reshape`` to ``shape``, or, given one dtype (``x.view(ember.int32)``), the same bytes
    read as that dtype (``view_dtype``)."""
    if len(shape) == 1 and (isinstance(shape[0], np.dtype) or isinstance(shape[0], type)
                            and issubclass(shape[0], np.generic) or is_torch_dtype(shape[0])):
        shape, dtype = (), shape[0]
    if dtype is not None:
        if shape:
            raise TypeError(f"view: give a shape or a dtype, got {shape} and dtype={dtype}")
        return view_dtype(as_tensor(x), dtype)
    out = reshape(x, *shape)
    array = getattr(x, "array", None)
    if out is not x and hasattr(array, "flags") and not array.flags.c_contiguous and isinstance(
            out.array, np.ndarray) and not np.may_share_memory(out.array, array):
        # PyTorch's view never copies; NumPy's reshape had to (x column-major, as Linear's weight, or transposed):
        # writes into the copy would not reach x, so it is read-only (in-place ops on it are refused)
        out.array.flags.writeable = False
    return out


def _plain_sizes(shape: tuple) -> bool:
    """Whether ``shape`` holds no size below -1 (one cheap check: reshape runs often; a size that is no int at
    all makes NumPy fail, and the failure is reported by the shape rule)."""
    try:
        return min(shape, default=0) >= -1
    except TypeError:
        return False


def _read_elsewhere(x: TensorLike, shape: tuple) -> bool:
    """Whether ``shape`` holds a size read from a graph value (``y.size(0)``) other than ``x``'s own at the same
    place: x's unknown size there may be another (``x = y.reshape(-1, 4)`` merged y's first two), so it is read
    from its value when the graph runs."""
    if any(d is None for d in shape):
        return False
    return any(d.__class__ is UnknownSize and d.source is not None and not d.computed
               and (d.source[0] is not x or d.source[1] != i) for i, d in enumerate(shape))


def _all_read(shape: tuple) -> bool:
    """Whether every unknown size of ``shape`` is an ``UnknownSize`` read from graph values (none a bare None)."""
    return all(d.source is not None for d in shape if d.__class__ is UnknownSize) and not any(
        d is None for d in shape)


def _unknown_sizes(x: TensorLike, shape: tuple) -> tuple:
    """A None (or an ``UnknownSize`` read from a shape) that repeats the input's unknown dimension at the same
    place stays (a copy of it); any other None, and an ``UnknownSize`` computed from unknown ones, becomes the one
    -1."""
    computed = {i for i, d in enumerate(shape) if d.__class__ is UnknownSize and d.computed}
    shape = tuple(None if d.__class__ is UnknownSize else d for d in shape)
    out = list(shape)
    for i, d in enumerate(shape):
        if d is None and (i in computed or not (i < x.ndim and x.shape[i] is None
                                                and shape[:i] == tuple(x.shape[:i]))):
            if -1 in out:
                raise ValueError(f"reshape: target {format_shape(shape)} of {x.dtype}{format_shape(x.shape)} "
                                 "leaves more than one size to infer")
            out[i] = -1
    return tuple(out)



def _transpose_infer(x, *, axes):
    if not isinstance(axes, (tuple, list)) or sorted(as_int("transpose", a, "axes", [x]) for a in axes) != list(
            range(x.ndim)):
        raise shape_error("transpose", [x], f"axes {axes!r} are not a permutation of {x.ndim} dimensions")
    return Spec(tuple(x.shape[a] for a in axes), x.dtype)


def _inverse_permutation(axes) -> tuple:
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    return tuple(inverse)


TRANSPOSE = defop(
    "transpose",
    forward=lambda xp, x, *, axes: x.transpose(axes),
    infer=_transpose_infer,
    vjp=vjp_rule(lambda run, ctx, g: (run(TRANSPOSE, g, axes=_inverse_permutation(ctx.attrs["axes"])),)),
    cost=movement_cost,
    onnx="Transpose",
    vjp_reads=(),
    lower=lowering.transpose,
    view=lambda array, attrs, shape: array.transpose(tuple(attrs["axes"])),
)


def transpose(x: TensorLike, axes=None) -> TensorLike:
    """Permute the axes (reverse them when ``axes`` is None), like ``numpy.transpose``."""
    x = as_tensor(x)
    ndim = x.ndim
    if axes is None:
        axes = tuple(range(ndim - 1, -1, -1))
    else:
        given = axes
        axes = tuple([check_axis("transpose", a, ndim, [Spec(x.shape, x.dtype)]) for a in axes])
        if len(axes) != ndim or sorted(axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {list(given)} are not a permutation of {x.ndim} dimensions "
                             f"(input {describe([Spec(x.shape, x.dtype)])})")
    return dispatch.apply(TRANSPOSE, (x,), {"axes": axes})


def _sizes(args: tuple) -> tuple:
    """PyTorch's two forms of a size list: ``f(2, 3)`` or ``f((2, 3))``; one integer (a NumPy integer or a 0-d
    tensor too), or a float the size checks then refuse, is itself the list."""
    if len(args) == 1 and _is_sequence(args[0]):
        return tuple(args[0])
    return args


def _is_sequence(value) -> bool:
    return getattr(value, "ndim", 0) > 0 or (hasattr(value, "__iter__") and not hasattr(value, "__index__"))


def permute(x: TensorLike, *axes) -> TensorLike:
    """PyTorch's name for ``transpose`` with explicit axes."""
    return transpose(x, _sizes(axes))


def swapaxes(x: TensorLike, axis1: int, axis2: int) -> TensorLike:
    """Exchange two axes."""
    x = as_tensor(x)
    spec = [Spec(x.shape, x.dtype)]
    axis1, axis2 = check_axis("swapaxes", axis1, x.ndim, spec), check_axis("swapaxes", axis2, x.ndim, spec)
    axes = list(range(x.ndim))
    if axes:  # (a 0-d tensor's only axis, 0 or -1, swapped with itself: no change)
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return dispatch.apply(TRANSPOSE, (x,), {"axes": tuple(axes)})


def moveaxis(x: TensorLike, source: int, destination: int) -> TensorLike:
    """Move one axis to a new position, keeping the order of the others."""
    x = as_tensor(x)
    spec = [Spec(x.shape, x.dtype)]
    source = check_axis("moveaxis", source, x.ndim, spec)
    destination = check_axis("moveaxis", destination, x.ndim, spec)
    axes = list(range(x.ndim))
    axes.insert(destination, axes.pop(source))
    return transpose(x, axes)


def _broadcast_infer(x, *, shape):
    target = Spec(check_sizes("broadcast_to", shape, "shape", [x]), x.dtype)
    if broadcast_shapes("broadcast_to", [x, target]) != tuple(shape):
        raise shape_error("broadcast_to", [x], f"cannot broadcast to {list(shape)}")
    return target


BROADCAST_TO = defop(
    "broadcast_to",
    forward=lambda xp, x, *, shape: xp.broadcast_to(x, shape),
    infer=_broadcast_infer,
    vjp=vjp_rule(lambda run, ctx, g: (unbroadcast_with(run, g, ctx.inputs[0].shape),)),
    cost=movement_cost,
    onnx="Expand",
    vjp_reads=(),
    lower=lowering.broadcast_to,
    same_type_noop=True,
    scalar_alias=True,
)


def _broadcast_like_infer(x, like):
    # like's unknown size where x has a known one n > 1 is n (it must be n when the graph runs)
    shape = broadcast_shapes("broadcast_like", [x, like]) if len(like.shape) >= len(x.shape) else None
    if shape is None or not fits(shape, tuple(like.shape)):
        raise shape_error("broadcast_like", [x, like], "x must broadcast to like's shape")
    return Spec(shape, x.dtype)


BROADCAST_LIKE = defop(
    "broadcast_like",
    forward=lambda xp, x, like: xp.broadcast_to(x, like.shape),
    infer=_broadcast_like_infer,
    vjp=vjp_rule(lambda run, ctx, g: (unbroadcast_with(run, g, ctx.inputs[0].shape), None)),
    cost=lambda out, x, like: Cost(0, out.nbytes + x.nbytes),
    onnx=NO_ONNX,
    same_type_noop=True,
)


def broadcast_like(x: TensorLike, like: TensorLike) -> TensorLike:
    """``broadcast_to(x, like.shape)``, the shape read from ``like`` when it runs: what a vjp broadcasts a
    gradient back with when the shape has unknown (graph) dimensions. ``like``'s values are not read."""
    return dispatch.apply(BROADCAST_LIKE, (as_tensor(x), as_tensor(like)), None)


def broadcast_to(x: TensorLike, shape) -> TensorLike:
    """A read-only view of ``x`` repeated to ``shape`` by broadcasting; -1 keeps a dimension."""
    x = as_tensor(x)
    shape = tuple(shape)
    offset = len(shape) - x.ndim
    kept = tuple(x.shape[i - offset] if d == -1 and i >= offset else d for i, d in enumerate(shape))
    if kept == x.shape:
        return x
    if None in kept and all(d is not None for d in shape):  # -1 keeping a graph value's unknown size
        from ember.ops.sized import fill, size_along

        sizes = [size_along(x, i - offset) if d is None else d for i, d in enumerate(kept)]
        return dispatch.apply(BROADCAST_LIKE, (x, fill(sizes, False, np.bool_)), None)
    return dispatch.apply(BROADCAST_TO, (x,), {"shape": kept})


def expand(x: TensorLike, *shape) -> TensorLike:
    """PyTorch's name for ``broadcast_to``; as PyTorch's, a tensor that requires grad expanded to its own shape
    is a new view with its own node (``p.expand_as(p).grad_fn``: hooks on it see only the gradients through it)."""
    x = as_tensor(x)
    out = broadcast_to(x, _sizes(shape))
    if out is x and x.requires_grad:
        return dispatch.apply(RESHAPE, (x,), {"shape": tuple(x.shape)})
    return out


def _broadcast_axes(g_shape: tuple, shape: tuple) -> tuple:
    """The axes of a gradient of ``g_shape`` to sum so that it matches the broadcast input's ``shape``."""
    lead = len(g_shape) - len(shape)
    return tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and g_shape[i + lead] != 1)


def unbroadcast(g: TensorLike, shape) -> TensorLike:
    """Sum a broadcast gradient back to ``shape``: the one helper every broadcasting vjp uses."""
    return unbroadcast_with(on_tensors, g, shape)


def unbroadcast_with(run, g, shape):
    """``unbroadcast`` inside a rule over ``run`` (``ember.ops.modes``): on Tensors, graph Values or arrays."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    for d, e in zip(reversed(shape), reversed(g.shape)):
        if d is None and e is not None:  # an unknown size met a known one: broadcast (1) or not, unknown
            raise ValueError(f"unbroadcast: the gradient of shape {format_shape(g.shape)} sums back to "
                             f"{format_shape(shape)} over the unknown dimension only if it is 1 when run; "
                             "build with known sizes there")
    axes = _broadcast_axes(g.shape, shape)
    if axes:
        g = run(REGISTRY["sum"], g, axis=axes if len(axes) != 1 else axes[0], keepdims=False)
    return g if g.shape == shape else reshape_with(run, g, shape)


def squeeze(x: TensorLike, axis=None) -> TensorLike:
    """Drop axes of length 1 (all of them, or the given ones)."""
    x = as_tensor(x)
    named = normalize_axis("squeeze", axis, x.ndim, [Spec(x.shape, x.dtype)])
    if x.ndim == 0:  # squeeze(0) and squeeze(-1) of a 0-d tensor: itself, as PyTorch's
        return x
    if any(x.shape[a] is None for a in named):
        raise ValueError(f"squeeze: whether the unknown dimensions of {describe([Spec(x.shape, x.dtype)])} are 1 "
                         "is not known while the graph is built; name known axes")
    axes = tuple(a for a in named if x.shape[a] == 1)
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


def unsqueeze(x: TensorLike, axis: int) -> TensorLike:
    """Insert an axis of length 1 at ``axis``."""
    x = as_tensor(x)
    axis = as_int("unsqueeze", axis)
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for {x.ndim} dimensions, shape {list(x.shape)}")
    axis = axis % (x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


expand_dims = unsqueeze


def flatten(x: TensorLike, start_axis: int = 0, end_axis: int = -1) -> TensorLike:
    """Merge axes ``start_axis..end_axis`` into one."""
    x = as_tensor(x)
    spec = [Spec(x.shape, x.dtype)]
    if x.ndim == 0:  # as PyTorch: a 0-d tensor flattens to one element with axes 0 or -1
        check_axis("flatten", start_axis, 1, spec), check_axis("flatten", end_axis, 1, spec)
        return reshape(x, (1,))
    start, end = check_axis("flatten", start_axis, x.ndim, spec), check_axis("flatten", end_axis, x.ndim, spec)
    if start > end:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis} for input "
                         f"{describe(spec)}")
    merged = _prod(x.shape[start:end + 1])
    return reshape(x, x.shape[:start] + (-1 if merged is None else merged,) + x.shape[end + 1:])


def ravel(x: TensorLike) -> TensorLike:
    return flatten(x)


# --- copies and devices ---------------------------------------------------------------------------------

COPY = defop(
    "copy",
    forward=lambda xp, x: x.copy(),
    infer=lambda x: Spec(tuple(x.shape), x.dtype),
    vjp=vjp_rule(lambda run, ctx, g: (g,)),
    cost=movement_cost,
    onnx="Identity",
    elementwise=True,
    fresh=True,
    fusion=NOT_FUSIBLE,
    scalar_alias=True,
)


def clone(x: TensorLike) -> TensorLike:
    """A copy of the data that stays connected to the graph."""
    return dispatch.apply(COPY, (as_tensor(x),))


def _contiguous_forward(xp, x):
    return x if x.flags.c_contiguous else x.copy()


# ``Tensor.contiguous`` in a graph: the layout of a value is known only when the code runs, so the op decides there,
# as eager mode does: the input itself (sharing its memory, which a later write into it changes) when row-major,
# else a row-major copy.
CONTIGUOUS = defop(
    "contiguous",
    forward=_contiguous_forward,
    infer=lambda x: Spec(tuple(x.shape), x.dtype),
    vjp=vjp_rule(lambda run, ctx, g: (g,)),
    cost=movement_cost,
    onnx="Identity",
    vjp_reads=(),
    scalar_alias=True,
)


def as_contiguous(x: TensorLike) -> TensorLike:
    """``x`` itself where its data is row-major when the op runs, else a row-major copy (``Tensor.contiguous``)."""
    return dispatch.apply(CONTIGUOUS, (as_tensor(x),))


# The value itself with no gradient behind it: what ``Tensor.detach`` does eagerly, as an op a graph can hold
# (TensorFlow's ``stop_gradient``); a straight-through estimator is ``y_hard - stop_gradient(y) + y``.
STOP_GRADIENT = defop(
    "stop_gradient",
    forward=lambda xp, x: x.view(),
    infer=lambda x: Spec(tuple(x.shape), x.dtype),
    vjp=NON_DIFFERENTIABLE,
    cost=lambda out, x: Cost(0, 0),
    onnx="Identity",
)


def stop_gradient(x: TensorLike) -> TensorLike:
    """``x``'s value (sharing its memory) through which no gradient flows, eagerly and in graphs (where
    ``detach`` is refused).

    >>> x = ember.ones(3, requires_grad=True)
    >>> (x * 2 + ember.stop_gradient(x) * 3).sum().backward()  # x.grad is 2 everywhere
    """
    return dispatch.apply(STOP_GRADIENT, (as_tensor(x),))


def _to_device_forward(xp, x, *, device):
    from ember.backend.devices import move

    return move(x, device)


def _to_device_vjp(ctx, g):
    from ember.backend.devices import device_of

    return (to_device(g, device_of(ctx.inputs[0].array)),)


TO_DEVICE = defop(
    "to_device",
    forward=_to_device_forward,
    infer=lambda x, *, device: Spec(tuple(x.shape), x.dtype),
    vjp=_to_device_vjp,
    cost=movement_cost,
    onnx=NO_ONNX,
)


def to_device(x: TensorLike, device) -> TensorLike:
    """Copy to another device; the gradient is copied back."""
    from ember.backend.devices import Device

    return dispatch.apply(TO_DEVICE, (as_tensor(x),), {"device": Device(device)})

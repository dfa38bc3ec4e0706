"""PyTorch's shape and view functions composed from reshape, transpose, indexing and ``cat`` (gradients come
from those ops): ``atleast_1d/2d/3d``, ``movedim``, ``narrow``, ``t``, ``take_along_dim``, ``tensor_split`` and
``hsplit``/``vsplit``/``dsplit``, ``fliplr``/``flipud``/``rot90``, ``column_stack``, ``block_diag``,
``cartesian_prod``, ``combinations``, ``repeat_interleave``, ``Tensor.unfold``, ``sum_to_size`` and ``as_strided``.
Views and copies need not match PyTorch's: every result here is a new tensor."""

from __future__ import annotations

import itertools

import numpy as np

from ember.backend.dtypes import int64, result_type
from ember.ops.arrange import _at_least, _axes, _tensors, flip, hstack, meshgrid
from ember.ops.convert import as_tensor, cast
from ember.ops.dispatch import TensorLike
from ember.ops.elementwise import lt, where
from ember.ops.indexing import gather, getitem, pad, take
from ember.ops.infer import as_int, check_sizes
from ember.ops.join import chunk, concat, repeat, split, stack
from ember.ops.registry import format_shape
from ember.ops.shape import broadcast_to, clone, reshape, swapaxes, transpose, unbroadcast


def known(name: str, *tensors: TensorLike) -> None:
    """A ValueError naming ``name`` when a tensor has an unknown (None) dimension: what it computes is laid out
    from the sizes."""
    for t_ in tensors:
        if None in tuple(t_.shape):
            raise ValueError(f"{name}: the input of shape {format_shape(t_.shape)} has an unknown dimension, and "
                             "the result is laid out from the sizes; build the graph with known sizes")


def _at_least_all(ndim: int, tensors: tuple) -> TensorLike | tuple:
    """One tensor in, one out; several (or one sequence of them) in, a tuple out, as PyTorch's."""
    if len(tensors) == 1 and not isinstance(tensors[0], (tuple, list)):
        return _at_least(as_tensor(tensors[0]), ndim)
    tensors = tensors[0] if len(tensors) == 1 else tensors
    return tuple(_at_least(as_tensor(t), ndim) for t in tensors)


def atleast_1d(*tensors) -> TensorLike | tuple:
    """Each tensor with at least one dimension (a 0-d one becomes shape (1,)).

    >>> ember.atleast_1d(ember.tensor(3.0)).shape
    (1,)
    """
    return _at_least_all(1, tensors)


def atleast_2d(*tensors) -> TensorLike | tuple:
    """Each tensor with at least two dimensions: () -> (1, 1), (n,) -> (1, n)."""
    return _at_least_all(2, tensors)


def atleast_3d(*tensors) -> TensorLike | tuple:
    """Each tensor with at least three dimensions: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    return _at_least_all(3, tensors)


def movedim(x, source, destination) -> TensorLike:
    """``x`` with the dims ``source`` (an int or a sequence) moved to ``destination``, the others keeping their
    order (PyTorch's ``movedim``/``moveaxis``).

    >>> ember.movedim(ember.zeros(2, 3, 4), (0, 1), (2, 0)).shape
    (3, 4, 2)
    """
    return _move("movedim", x, source, destination)


def moveaxis(x, source, destination) -> TensorLike:
    """``movedim`` under NumPy's name."""
    return _move("moveaxis", x, source, destination)


def _move(name: str, x, source, destination) -> TensorLike:
    x = as_tensor(x)
    single = not isinstance(source, (tuple, list))
    sources = _axes(name, x, source) if x.ndim else [0] * (1 if single else len(source))
    targets = _axes(name, x, destination) if x.ndim else [0] * (1 if single else len(destination))
    if len(sources) != len(targets):
        raise ValueError(f"{name}: source {source} and destination {destination} must name as many dims")
    if x.ndim == 0:
        return x
    order = [None] * x.ndim
    for s, d in zip(sources, targets):
        order[d] = s
    rest = iter(a for a in range(x.ndim) if a not in sources)
    order = [next(rest) if a is None else a for a in order]
    return transpose(x, tuple(order)) if order != list(range(x.ndim)) else x


def swapdims(x, dim0: int, dim1: int) -> TensorLike:
    """``x`` with dims ``dim0`` and ``dim1`` exchanged (PyTorch's name for ``swapaxes``)."""
    return swapaxes(x, dim0, dim1)


def narrow(x, dim: int, start, length: int) -> TensorLike:
    """The slice ``start:start + length`` along ``dim`` (``start`` may be negative or a 0-d tensor).

    >>> ember.narrow(ember.arange(5), 0, 1, 3).tolist()
    [1, 2, 3]
    """
    x = as_tensor(x)
    axis = _axes("narrow", x, dim)[0]
    if x.ndim == 0:
        raise ValueError("narrow: cannot narrow a 0-d tensor")
    start = as_int("narrow", start.item() if isinstance(start, TensorLike) else start, "start")
    length = as_int("narrow", length, "length")
    size = x.shape[axis]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dimension {axis} of size {size} (shape "
                         f"{list(x.shape)})")
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension {axis} of size {size} "
                         f"(shape {list(x.shape)})")
    return getitem(x, (slice(None),) * axis + (slice(start, start + length),))


def narrow_copy(x, dim: int, start, length: int) -> TensorLike:
    """``narrow`` as a new tensor (PyTorch's ``narrow_copy``)."""
    return clone(narrow(x, dim, start, length))


def t(x) -> TensorLike:
    """The transpose of a tensor of at most 2 dims (0-d and 1-d tensors come back as they are)."""
    x = as_tensor(x)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape {list(x.shape)}; use "
                         "transpose(d0, d1) or permute")
    return transpose(x) if x.ndim == 2 else x


def take_along_dim(x, indices, dim: int | None = None) -> TensorLike:
    """The entries of ``x`` at ``indices`` along ``dim``, the other dims broadcast together (NumPy's
    ``take_along_axis``); without ``dim`` both are flattened first.

    >>> ember.take_along_dim(ember.tensor([[3., 1.], [0., 5.]]), ember.tensor([[1], [0]]), 1).tolist()
    [[1.0], [0.0]]
    """
    x = as_tensor(x)
    indices = as_tensor(indices, x) if not isinstance(indices, TensorLike) else indices
    if indices.dtype.kind not in "iu":
        raise TypeError(f"take_along_dim: indices must be an integer tensor, got {indices.dtype}")
    if dim is None:
        return take(reshape(x, (-1,)), reshape(indices, (-1,)))
    known("take_along_dim", x, indices)
    if x.ndim != indices.ndim:
        raise ValueError(f"take_along_dim: input of shape {list(x.shape)} and indices of shape "
                         f"{list(indices.shape)} must have the same number of dimensions")
    axis = _axes("take_along_dim", x, dim)[0] if x.ndim else 0
    # negative indices count from the end, as PyTorch's take_along_dim (gather refuses them)
    if indices.dtype.kind == "i":
        indices = where(lt(indices, 0), indices + (x.shape[axis] if x.ndim else 1), indices)
    if x.ndim == 0:
        return gather(x, 0, indices)
    rest = [1 if d == axis else s for d, s in enumerate(x.shape)]
    other = [1 if d == axis else s for d, s in enumerate(indices.shape)]
    try:
        common = list(np.broadcast_shapes(tuple(rest), tuple(other)))
    except ValueError:
        raise ValueError(f"take_along_dim: input of shape {list(x.shape)} and indices of shape "
                         f"{list(indices.shape)} do not broadcast outside dim {axis}") from None
    x_shape, i_shape = list(common), list(common)
    x_shape[axis], i_shape[axis] = x.shape[axis], indices.shape[axis]
    return gather(broadcast_to(x, tuple(x_shape)), axis, broadcast_to(indices, tuple(i_shape)))


def _split_points(name: str, x: TensorLike, sections, axis: int) -> list[tuple[int, int]]:
    size = x.shape[axis]
    if size is None:
        raise ValueError(f"{name}: dimension {axis} of the input of shape {format_shape(x.shape)} is unknown, and "
                         "the parts are cut from its size")
    if isinstance(sections, TensorLike):
        if sections.dtype.kind not in "iu" or sections.ndim > 1:
            raise TypeError(f"{name}: a tensor indices_or_sections must be a 0-d or 1-D integer tensor, got "
                            f"{sections.dtype}{list(sections.shape)}")
        sections = sections.item() if sections.ndim == 0 else [int(i) for i in sections.tolist()]
    if not isinstance(sections, (tuple, list)):
        n = as_int(name, sections, "sections")
        if n <= 0:
            raise ValueError(f"{name}: the number of sections must be positive, got {n}")
        sizes = [size // n + 1] * (size % n) + [size // n] * (n - size % n)
        bounds = list(itertools.accumulate([0] + sizes))
        return list(zip(bounds[:-1], bounds[1:]))
    cuts = [as_int(name, i, "indices") for i in sections]
    edges = [0] + cuts + [size]
    return [(start, stop) for start, stop in zip(edges[:-1], edges[1:])]


def tensor_split(x, indices_or_sections=None, dim: int = 0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None) -> tuple:
    """``x`` split along ``dim`` into ``n`` nearly equal parts (the first ``size % n`` one longer), or at the
    given ``indices``, as PyTorch's ``tensor_split`` (NumPy's ``array_split``); ``sections``, ``indices`` and
    ``tensor_indices_or_sections`` are PyTorch's keyword names for the second argument.

    >>> [p.tolist() for p in ember.tensor_split(ember.arange(5), 2)]
    [[0, 1, 2], [3, 4]]
    """
    given = [a for a in (indices_or_sections, sections, indices, tensor_indices_or_sections) if a is not None]
    if len(given) != 1:
        raise TypeError("tensor_split: give one of indices_or_sections, sections, indices and "
                        f"tensor_indices_or_sections, got {len(given)}")
    indices_or_sections = given[0]
    x = as_tensor(x)
    if x.ndim == 0:
        raise ValueError("tensor_split: expects a tensor of at least one dimension, got a 0-d one")
    axis = _axes("tensor_split", x, dim)[0]
    before = (slice(None),) * axis
    return tuple(getitem(x, before + (slice(start, stop),))
                 for start, stop in _split_points("tensor_split", x, indices_or_sections, axis))


def _split_along(name: str, x, sections, axis: int, min_ndim: int) -> tuple:
    x = as_tensor(x)
    if x.ndim < min_ndim:
        raise ValueError(f"{name}: expects a tensor of at least {min_ndim} dimensions, got shape {list(x.shape)}")
    if not isinstance(sections, (tuple, list, TensorLike)):
        n = as_int(name, sections, "sections")
        if n <= 0 or x.shape[axis] % n:
            raise ValueError(f"{name}: dimension {axis} of size {x.shape[axis]} (shape {list(x.shape)}) does not "
                             f"split into {n} equal parts")
    return tensor_split(x, sections, axis)


def hsplit(x, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor); an int must divide the dim evenly."""
    x = as_tensor(x)
    return _split_along("hsplit", x, indices_or_sections, 1 if x.ndim > 1 else 0, 1)


def vsplit(x, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims; an int must divide the dim evenly."""
    return _split_along("vsplit", x, indices_or_sections, 0, 2)


def dsplit(x, indices_or_sections) -> tuple:
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims; an int must divide the dim evenly."""
    return _split_along("dsplit", x, indices_or_sections, 2, 3)


def split_with_sizes(x, split_sizes, dim: int = 0) -> tuple:
    """``x`` split along ``dim`` into parts of ``split_sizes``, which must add up to the dim's size."""
    if not isinstance(split_sizes, (tuple, list)):
        raise TypeError(f"split_with_sizes: split_sizes must be a sequence of ints, got {split_sizes!r}")
    return tuple(split(x, list(split_sizes), dim))


def unsafe_split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """``split`` (PyTorch's unsafe_ form skips a view check Ember has no need of)."""
    return tuple(split(x, split_size_or_sections, dim))


def fliplr(x) -> TensorLike:
    """``x`` reversed along dim 1 (left and right); needs at least 2 dims."""
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"fliplr: expects a tensor of at least 2 dimensions, got shape {list(x.shape)}")
    return flip(x, (1,))


def flipud(x) -> TensorLike:
    """``x`` reversed along dim 0 (up and down); needs at least 1 dim."""
    x = as_tensor(x)
    if x.ndim < 1:
        raise ValueError("flipud: expects a tensor of at least 1 dimension, got a 0-d one")
    return flip(x, (0,))


def rot90(x, k: int = 1, dims=(0, 1)) -> TensorLike:
    """``x`` rotated by ``k`` quarter turns in the plane of ``dims``, from the first dim towards the second.

    >>> ember.rot90(ember.tensor([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    x = as_tensor(x)
    if not isinstance(dims, (tuple, list)) or len(dims) != 2:
        raise ValueError(f"rot90: dims must name two dimensions, got {dims!r}")
    if x.ndim < 2:
        raise ValueError(f"rot90: expects a tensor of at least 2 dimensions, got shape {list(x.shape)}")
    first, second = _axes("rot90", x, dims)
    k = as_int("rot90", k, "k") % 4
    if k == 1:
        return swapaxes(flip(x, (second,)), first, second)
    if k == 2:
        return flip(x, (first, second))
    if k == 3:
        return swapaxes(flip(x, (first,)), first, second)
    return clone(x)  # whole turns: a new tensor, as PyTorch's (not x itself)


def column_stack(tensors) -> TensorLike:
    """The tensors side by side as columns: 0-d and 1-d ones become (n, 1) columns, then ``hstack``."""
    return hstack([reshape(t, (-1, 1)) if t.ndim < 2 else t for t in _tensors("column_stack", tensors)])


def block_diag(*tensors) -> TensorLike:
    """A block-diagonal matrix of the given tensors (0-d ones as 1x1, 1-D ones as one row), zeros elsewhere,
    in their promoted dtype.

    >>> ember.block_diag(ember.ones(1, 2), ember.tensor(5.0)).tolist()
    [[1.0, 1.0, 0.0], [0.0, 0.0, 5.0]]
    """
    tensors = [as_tensor(t) for t in tensors]
    for t_ in tensors:
        if t_.ndim > 2:
            raise ValueError(f"block_diag: expects tensors of at most 2 dimensions, got shape {list(t_.shape)}")
    if not tensors:
        return as_tensor(np.zeros((1, 0), np.float32))
    dtype = tensors[0].dtype
    for t_ in tensors[1:]:
        dtype = result_type(dtype, t_.dtype)
    blocks = [_at_least(t_ if t_.dtype == dtype else cast(t_, dtype), 2) for t_ in tensors]
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(pad(b, ((0, 0), (left, width - left - b.shape[1]))))
        left += b.shape[1]
    return concat(rows, 0)


def cartesian_prod(*tensors) -> TensorLike:
    """The cartesian product of 1-D tensors as rows of a (n1 * n2 * ..., k) tensor (one tensor: itself).

    >>> ember.cartesian_prod(ember.tensor([1, 2]), ember.tensor([3, 4])).tolist()
    [[1, 3], [1, 4], [2, 3], [2, 4]]
    """
    tensors = _tensors("cartesian_prod", tensors)
    known("cartesian_prod", *tensors)
    for t_ in tensors:
        if t_.ndim != 1:
            raise ValueError(f"cartesian_prod: expects 1-D tensors, got shape {list(t_.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    return stack([reshape(g, (-1,)) for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(x, r: int = 2, with_replacement: bool = False) -> TensorLike:
    """The length-``r`` combinations of a 1-D tensor's elements, one per row, in lexicographic order of their
    positions (``itertools.combinations``, or ``combinations_with_replacement``).

    >>> ember.combinations(ember.tensor([1, 2, 3])).tolist()
    [[1, 2], [1, 3], [2, 3]]
    """
    x = as_tensor(x)
    known("combinations", x)
    if x.ndim != 1:
        raise ValueError(f"combinations: expects a 1-D tensor, got shape {list(x.shape)}")
    r = as_int("combinations", r, "r")
    if r < 0:
        raise ValueError(f"combinations: r must be non-negative, got {r}")
    if r == 0:
        return getitem(x, slice(0, 0))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    index = np.array(list(pick(range(x.shape[0]), r)), np.int64).reshape(-1, r)
    return take(x, as_tensor(index, x), 0)


def _counts(repeats) -> np.ndarray:
    """``repeats`` as a 1-D int64 NumPy array of non-negative counts."""
    if isinstance(repeats, TensorLike):
        if repeats.dtype.kind not in "iu" or repeats.ndim > 1:
            raise TypeError(f"repeat_interleave: a tensor of repeats must be a 0-d or 1-D integer tensor, got "
                            f"{repeats.dtype}{list(repeats.shape)}")
        repeats = repeats.tolist()
    counts = np.array([as_int("repeat_interleave", r, "repeats") for r in np.ravel(repeats)], np.int64)
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {counts.tolist()}")
    return counts


def repeat_interleave(x, repeats=None, dim: int | None = None, *, output_size: int | None = None,
                      axis: int | None = None) -> TensorLike:
    """Each element of ``x`` repeated along ``dim`` (x flattened when None), as ``torch.repeat_interleave``:
    ``repeats`` an int, or one count per element along ``dim`` (a 1-D tensor or sequence, whose values decide
    the result's size); ``repeat_interleave(counts)`` alone repeats each index ``i`` ``counts[i]`` times.

    >>> ember.repeat_interleave(ember.tensor([1, 2, 3]), ember.tensor([2, 0, 1])).tolist()
    [1, 1, 3]
    """
    if axis is not None:
        if dim is not None:
            raise TypeError("repeat_interleave: got both dim= and axis=; give one")
        dim = axis
    if repeats is None:  # the one-argument form: the indices of counts, each repeated its count
        indices = np.repeat(np.arange(len(_counts(x)), dtype=np.int64), _counts(x))
        return as_tensor(indices, x) if isinstance(x, TensorLike) else as_tensor(indices)
    x = as_tensor(x)
    if isinstance(repeats, int) or (isinstance(repeats, TensorLike) and repeats.ndim == 0):
        out = repeat(x, repeats, dim)
    else:
        counts = _counts(repeats)
        if dim is None:
            x, dim = reshape(x, (-1,)), 0
        dim = _axes("repeat_interleave", x, dim)[0]
        size = x.shape[dim]
        if len(counts) not in (1, size):
            raise ValueError(f"repeat_interleave: repeats has {len(counts)} counts for the {size} elements along "
                             f"dim {dim} of the input of shape {format_shape(x.shape)}")
        index = np.repeat(np.arange(size, dtype=np.int64), np.broadcast_to(counts, (size,)))
        out = take(x, as_tensor(index, x), dim)
    if output_size is not None and output_size != out.shape[dim if dim is not None else 0]:
        raise ValueError(f"repeat_interleave: output_size {output_size} does not match the result's "
                         f"{out.shape[dim if dim is not None else 0]} elements")
    return out


def unsafe_chunk(x, chunks: int, dim: int = 0) -> tuple:
    """``chunk`` (PyTorch's unsafe_ form skips a view check Ember has no need of)."""
    return tuple(chunk(x, chunks, dim))


def unfold(x, dimension: int, size: int, step: int) -> TensorLike:
    """The windows of ``size`` elements every ``step`` along ``dimension``: that dim becomes the number of
    windows and a last dim of ``size`` is added (PyTorch's ``Tensor.unfold``).

    >>> ember.arange(5).unfold(0, 2, 2).tolist()
    [[0, 1], [2, 3]]
    """
    x = as_tensor(x)
    axis = _axes("unfold", x, dimension)[0]
    if x.ndim and x.shape[axis] is None:
        raise ValueError(f"unfold: dimension {axis} of the input of shape {format_shape(x.shape)} is unknown, and "
                         "the windows are laid out from its size")
    size, step = as_int("unfold", size, "size"), as_int("unfold", step, "step")
    length = x.shape[axis] if x.ndim else 1
    if step <= 0:
        raise ValueError(f"unfold: step must be positive, got {step}")
    if not 0 <= size <= length:
        raise ValueError(f"unfold: size {size} exceeds dimension {axis} of size {length} (shape {list(x.shape)})")
    if x.ndim == 0:  # (size,): its one element, or none for size 0
        return getitem(reshape(x, (1,)), slice(0, size))
    starts = np.arange(0, length - size + 1, step)
    windows = (starts[:, None] + np.arange(size)).astype(int64)
    picked = take(x, as_tensor(windows, x), axis)  # (..., n, size, ...)
    order = list(range(picked.ndim))
    order.append(order.pop(axis + 1))
    out = transpose(picked, tuple(order))
    if isinstance(out.array, np.ndarray):
        # PyTorch's windows are a view of x; these are a copy, which writes would not reach: read-only (in-place
        # ops on it are refused, where they would be lost)
        out.array.flags.writeable = False
    return out


def sum_to_size(x, *size) -> TensorLike:
    """``x`` summed down to ``size``, which must broadcast to x's shape (the adjoint of ``expand``).

    >>> ember.ones(2, 3).sum_to_size(1, 3).tolist()
    [[2.0, 2.0, 2.0]]
    """
    x = as_tensor(x)
    known("sum_to_size", x)
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    size = check_sizes("sum_to_size", size, "size")
    try:
        fits = len(size) <= x.ndim and np.broadcast_shapes(size, tuple(x.shape)) == tuple(x.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"sum_to_size: size {list(size)} is not expandable to the tensor's shape {list(x.shape)}")
    return unbroadcast(x, size) if size != tuple(x.shape) else x


def as_strided(x, size, stride, storage_offset: int = 0) -> TensorLike:
    """The tensor of shape ``size`` whose element ``i`` is element ``storage_offset + sum(i_k * stride[k])`` of
    x's elements in row-major order (strides in elements, as PyTorch's over a contiguous tensor). A read-only
    copy (in-place ops on it are refused: they would not reach x), whose gradient adds into every element each
    output position read.

    >>> ember.as_strided(ember.arange(6), (2, 2), (1, 2)).tolist()
    [[0, 2], [1, 3]]
    """
    x = as_tensor(x)
    known("as_strided", x)
    size, stride = check_sizes("as_strided", size, "size"), check_sizes("as_strided", stride, "stride")
    offset = as_int("as_strided", storage_offset, "storage_offset")
    if len(size) != len(stride):
        raise ValueError(f"as_strided: size {list(size)} and stride {list(stride)} must have one entry per dim")
    numel = int(np.prod(x.shape, dtype=np.int64))
    needed = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    if offset < 0 or needed > numel:
        raise ValueError(f"as_strided: size {list(size)}, stride {list(stride)} and storage offset {offset} reach "
                         f"element {needed - 1}, out of bounds for the {numel} elements of shape {list(x.shape)}")
    positions = np.arange(max(numel, 1), dtype=np.int64)[offset:]
    index = np.lib.stride_tricks.as_strided(positions, size, tuple(s * positions.itemsize for s in stride))
    out = take(reshape(x, (-1,)), as_tensor(np.array(index), x))  # (a copy: ascontiguousarray makes 0-d 1-d)
    if isinstance(out.array, np.ndarray):  # PyTorch's is a view of x; writes into this copy would not reach x
        out.array.flags.writeable = False
    return out

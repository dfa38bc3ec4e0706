"""PyTorch's spellings of the op functions, in one place.

* ``dim=`` / ``keepdim=`` (and ``start_dim``/``end_dim``, ``dim1``/``dim2``) are accepted beside NumPy's ``axis=`` /
  ``keepdims=`` by every reduction and shape function (``with_torch_names``);
* ``max(x, dim)`` / ``min(x, dim)`` return ``(values, indices)`` as PyTorch's do, and ``max(x, other)`` is the
  elementwise maximum; with ``axis=`` they reduce as NumPy's do;
* ``transpose(x, d0, d1)`` swaps two axes as ``torch.transpose``; one tuple (or three or more axes) is
  NumPy's permutation, and no axes reverses them.
"""

from __future__ import annotations

import functools
from collections import namedtuple

# PyTorch's names of the NumPy keyword arguments, read by every reduction and shape function
TORCH_RENAMES = {"dim": "axis", "keepdim": "keepdims", "start_dim": "start_axis", "end_dim": "end_axis",
                 "dim1": "axis1", "dim2": "axis2"}


# one function's own PyTorch names: torch.take(x, index=), Tensor.split(split_size=)
_OWN_RENAMES = {"take": {"index": "indices"}, "split": {"split_size": "split_size_or_sections"}}
# the keyword PyTorch gives the sizes a function otherwise takes as positional arguments: x.view(size=(2, 3))
_SIZES = {"reshape": "shape", "view": "size", "expand": "size", "permute": "dims", "tile": "dims"}


# the reductions (by function name) whose dim=() or dim=[] PyTorch takes as every dimension, where NumPy's axis=()
# reduces none
_EMPTY_DIM_IS_ALL = {"sum", "nansum", "mean", "nanmean", "std", "var", "max", "min", "amax", "amin", "count_nonzero",
                     "torch_norm", "logsumexp"}


def _translate(name: str, kwargs: dict) -> dict:
    for torch_name, numpy_name in (TORCH_RENAMES | _OWN_RENAMES.get(name, {})).items():
        if torch_name in kwargs:
            if numpy_name in kwargs:
                raise TypeError(f"{name}: got both {numpy_name}= and {torch_name}=; give one")
            kwargs[numpy_name] = kwargs.pop(torch_name)
            if torch_name == "dim" and name in _EMPTY_DIM_IS_ALL and kwargs[numpy_name] in ((), []):
                kwargs[numpy_name] = None
    if name == "gather" and kwargs.pop("sparse_grad", False):
        raise ValueError("gather: sparse_grad=True (a sparse gradient for the input) is not supported; "
                                  "leave it False for the same values in a dense gradient")
    return kwargs


def with_torch_names(fn):
    """``fn`` accepting PyTorch's argument names (``dim``, ``keepdim``, ``start_dim``, ``end_dim``, and the
    function's own: ``take(x, index=)``, ``view(size=)``...) too."""
    sizes = _SIZES.get(fn.__name__)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            kwargs = _translate(fn.__name__, kwargs)
            if sizes in kwargs:
                if len(args) > 1:
                    raise TypeError(f"{fn.__name__}: got {sizes}= and sizes as arguments; give one")
                args = args + (tuple(kwargs.pop(sizes)),)
        return fn(*args, **kwargs)

    return wrapper


def _result_type(name: str):
    result = namedtuple(name, ["values", "indices"])  # like torch.return_types.max
    result.__doc__ = f"``{name}(x, dim)``: the {name}imum values along ``dim`` and their indices."
    return result


MaxResult = _result_type("max")
MinResult = _result_type("min")


def _refuse_extra(name: str, args: tuple, kwargs: dict) -> None:
    """A TypeError for arguments a form of ``max``/``min`` does not take (``out=`` among them), which it would
    otherwise ignore."""
    if kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    if args:
        raise TypeError(f"{name}() got {len(args)} unexpected positional argument(s) {args!r}")


def extremum(name: str, reduce, arg, pairwise, result_type, gather, squeeze):
    """``max``/``min`` with PyTorch's three forms (see the module docstring)."""

    def values_and_indices(x, axis, keepdims):
        shape = tuple(getattr(x, "shape", (1,)))
        if not shape or 0 in shape:  # (a 0-d tensor's one element; an empty one's values are refused as max's)
            return result_type(reduce(x, axis=axis, keepdims=keepdims), arg(x, axis=axis, keepdims=keepdims))
        # the values gathered at the indices, so that the gradient goes to the one element chosen, as PyTorch's
        # (amax/amin share it between ties)
        indices = arg(x, axis=axis, keepdims=True)
        values = gather(x, axis, indices)
        if not keepdims:
            values, indices = squeeze(values, axis), squeeze(indices, axis)
        return result_type(values, indices)

    def dispatch(x, *args, **kwargs):
        other = kwargs.pop("other", None)
        if args and hasattr(args[0], "shape"):  # a Tensor or array: the elementwise form
            other, args = args[0], args[1:]
        if other is not None:
            _refuse_extra(name, args, kwargs)
            return pairwise(x, other)
        torch_form = "dim" in kwargs or bool(args and isinstance(args[0], int))
        if torch_form:  # PyTorch's form: (values, indices)
            if "dim" in kwargs:
                axis = kwargs.pop("dim")
            else:
                axis, args = args[0], args[1:]
            keepdims = kwargs.pop("keepdim", kwargs.pop("keepdims", args[0] if args else False))
            _refuse_extra(name, args[1:], kwargs)
            return values_and_indices(x, axis, keepdims)
        if "keepdim" in kwargs:
            kwargs["keepdims"] = kwargs.pop("keepdim")
        return reduce(x, *args, **kwargs)

    dispatch.__name__ = name
    dispatch.__doc__ = (f"The {name}imum: of all elements; ``{name}(x, dim)`` gives ``(values, indices)`` along "
                        f"``dim`` (PyTorch); ``{name}(x, axis=a)`` the values along ``a`` (NumPy); "
                        f"``{name}(x, other)`` the elementwise {name}imum.")
    return dispatch


def transpose_any(permute):
    """``transpose`` taking PyTorch's two axes to swap, or NumPy's permutation (see the module docstring)."""

    def transpose(x, *axes, **kwargs):
        if "dim0" in kwargs or "dim1" in kwargs:
            axes = (kwargs.pop("dim0"), kwargs.pop("dim1"))
        if "axes" in kwargs:
            axes = (kwargs.pop("axes"),)
        if kwargs:
            raise TypeError(f"transpose: unexpected arguments {sorted(kwargs)}")
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            ndim = x.ndim if hasattr(x, "ndim") else len(x.shape)
            order = list(range(ndim))
            for a in axes:
                if not -max(ndim, 1) <= a < max(ndim, 1):  # (a 0-d tensor takes 0 and -1, as in PyTorch)
                    raise ValueError(f"transpose: axis {a} is out of range for {ndim} dimensions")
            if ndim == 0:
                return permute(x, ())
            first, second = axes[0] % ndim, axes[1] % ndim
            order[first], order[second] = order[second], order[first]
            return permute(x, tuple(order))
        if len(axes) == 1:
            return permute(x, axes[0])
        return permute(x, tuple(axes) if axes else None)

    transpose.__doc__ = ("Swap two axes (``transpose(x, 0, 1)``, as PyTorch), permute them (``transpose(x, (2, 0, 1))``"
                         ", as NumPy), or reverse them (``transpose(x)``).")
    return transpose


_NO_AXIS = object()


def _is_sequence(value) -> bool:
    return getattr(value, "ndim", 0) > 0 or (hasattr(value, "__iter__") and not hasattr(value, "__index__"))


def tensor_repeat(repeat, tile):
    """``Tensor.repeat`` as PyTorch's (``x.repeat(2, 3)`` tiles); with ``axis=`` it is NumPy's elementwise repeat."""

    def method(self, *sizes, axis=_NO_AXIS, repeats=None):
        if axis is not _NO_AXIS or repeats is not None:  # NumPy's form: x.repeat(3, axis=1)
            count = repeats if repeats is not None else sizes[0]
            return repeat(self, count, axis=None if axis is _NO_AXIS else axis)
        if len(sizes) == 1 and _is_sequence(sizes[0]):  # (not one NumPy integer or 0-d tensor: one count)
            sizes = tuple(sizes[0])
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor of {self.ndim} dimensions, shape "
                             f"{list(self.shape)}; give one per dimension (or use repeat_interleave / axis=)")
        return tile(self, tuple(sizes))

    method.__name__ = "repeat"
    method.__doc__ = tensor_repeat.__doc__
    return method

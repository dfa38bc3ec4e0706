"""What the op functions need from the layer above, and the one place that layer plugs it in.

The op library never imports ``Tensor`` or the tape. An op function takes and returns values of the
``TensorLike`` interface (``ember.Tensor`` implements it, and graph Values are Tensors), and it hands every
op call to ``apply``, which ``ember.autograd`` installs when it is imported: that ``apply`` runs the forward
and records the tape, or appends a node while a graph is built. Op functions read these names from this
module at call time (``dispatch.apply(EXP, (x,))``), so the order in which the layers load does not matter.
"""

from __future__ import annotations

from collections.abc import Callable


class TensorLike:
    """The interface op functions work on; ``ember.Tensor`` is its implementation.

    A value has ``data`` (an array of NumPy or CuPy, or for a graph Value a symbol with shape and dtype),
    ``shape``, ``dtype``, ``device``, ``xp``, ``requires_grad``, ``node`` (what recorded it, or None), ``grad``
    and ``symbolic`` (True for a graph Value). Op functions test ``isinstance(x, TensorLike)`` to tell values
    from Python numbers and arrays.
    """

    __slots__ = ()


def _not_installed(*args, **kwargs):
    raise RuntimeError("ember.ops: no tensor layer is installed; import ember (or ember.autograd) first")


# (op, inputs, attrs=None) -> value or None: run or record one op call (ember.autograd.apply).
apply: Callable = _not_installed
# array -> value: wrap an array without copying, recorded nowhere (dispatch.wrap(array)).
wrap: Callable = _not_installed
# (data, dtype, device) -> value: a new value copied from Python data or an array (Tensor(data, ...)).
new: Callable = _not_installed
# () -> bool: whether ops called now in this thread are recorded for backward.
grad_enabled: Callable = _not_installed
# (indices, rows, shape) -> a row-sparse gradient (ember.sparse.RowSparse).
row_sparse: Callable = _not_installed


def install(*, apply_fn: Callable, wrap_fn: Callable, new_fn: Callable, grad_enabled_fn: Callable,
            row_sparse_fn: Callable) -> None:
    """Plug in the layer above (called once, by ``ember.autograd`` when it is imported)."""
    global apply, wrap, new, grad_enabled, row_sparse
    apply, wrap, new, grad_enabled, row_sparse = apply_fn, wrap_fn, new_fn, grad_enabled_fn, row_sparse_fn

"""In-place Tensor methods (``x += y``, ``add_``, ``zero_``, ``copy_``, ``index_put_``...) with autograd's rules.

An in-place method writes its result into the tensor's own array, so every name and view of the tensor
sees the change (``p -= lr * p.grad`` updates the parameter, it does not rebind ``p``). As in PyTorch,
a leaf that requires grad can be changed in place only under ``ember.no_grad()``. Ember's tape does not
record in-place ops, so while gradients are recorded it also refuses an in-place op on a non-leaf that
requires grad, or one whose operand requires grad, where PyTorch would record it: write ``x = x + y``.
Each write marks the tensor and its memory (``grad_mode.mark_written``): a backward through a node recorded before it
that read the tensor, a view or an alias of it raises, as PyTorch's version check does, rather than use the new values
(a write through ``.data`` is not marked). While ``ember.jit`` traces, an in-place op on a parameter, buffer or leaf
that requires grad (which the trace reads on every call), or on an argument of the traced call (the caller's Tensor),
becomes an ``assign`` node, run on every call; a random fill of one, or an in-place op on another graph value, is
refused.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ember.backend.devices import array_module
from ember.backend.dtypes import COMPLEX, FLOATING, bool_
from ember.grad_mode import is_grad_enabled, keeps_tangent, mark_replaced, mark_written, thread_mode
from ember.ops.convert import check_fill_value
from ember.ops.dispatch import TensorLike
from ember.tensor_inplace_views import (
    give_retained,
    joined_history,
    keeps_history,
    record_through_view,
    take_retained,
    view_levels,
)
from ember.traced_state import is_state


def _ops():
    from ember import ops

    return ops


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _check(tensor, name: str, *operands) -> None:
    """Refuse an in-place op that autograd would need to record (see the module docstring). While a graph is built
    the write is an ``assign`` node (``_assign`` refuses a leaf that requires grad) or refused."""
    if not (is_grad_enabled() or keeps_tangent(tensor)) or building():
        return
    if tensor.requires_grad:
        if tensor.node is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
                "do it under ember.no_grad() (as PyTorch requires)"
            )
        raise RuntimeError(
            f"{name}: in-place update of a tensor that requires grad (the output of {tensor.node.op.name}); "
            "Ember does not record in-place ops: write x = x + y, or work under ember.no_grad()"
        )
    for operand in operands:
        if getattr(operand, "requires_grad", False):
            raise RuntimeError(
                f"{name}: the operand requires grad, so the result would need recording; Ember does not record "
                "in-place ops: write x = x + y, or work under ember.no_grad()"
            )


def _records(tensor, operands) -> bool:
    """Whether an in-place op on ``tensor`` with ``operands`` must be recorded for backward, as PyTorch records it:
    gradients are recorded and the tensor (not a leaf) or an operand requires grad."""
    if not is_grad_enabled():
        return False
    if tensor.requires_grad:
        return tensor.node is not None
    return any(getattr(operand, "requires_grad", False) for operand in operands)


def record_in_place(tensor, name: str, compute):
    """An in-place op recorded as PyTorch records it: ``compute(before)``, the op applied to a Tensor standing for
    the values before the write, becomes this tensor's value and node, so later ops and the backward go through
    it. Nodes recorded earlier that read the tensor then refuse a backward (``mark_written``), as PyTorch's version
    check refuses one that needs overwritten values. The result takes new memory, so tensors sharing the old memory
    (``detach()``, ``.data``) keep the old values; a view of another tensor is written through its memory instead,
    and recorded into the tensors it views (``tensor_inplace_views``)."""
    if _views_another(tensor):
        levels = view_levels(tensor, _views_another)
        if levels is None:
            raise RuntimeError(
                f"{name}: in-place update of a view of another tensor ({tensor.dtype}{list(tensor.shape)}) while "
                "gradients are recorded, through a view op Ember does not record writes through (only indexing, "
                "reshape and transpose views are): write x = x + y, or clone() the view"
            )
        return record_through_view(tensor, name, compute, levels, _snapshot, _read_before,
                                   lambda result: _fit(tensor, name, result), current_since)
    before = _snapshot(tensor)
    since = current_since(tensor)
    mark_replaced(tensor)  # before the new node is numbered: nodes from here on read the new version
    result = _fit(tensor, name, compute(before))
    _read_before(result, tensor, before, since)
    if keeps_history(before):
        result = joined_history(before, result)
    retained = take_retained(tensor)
    tensor.array, tensor.node, tensor.requires_grad = result.array, result.node, result.requires_grad
    give_retained(tensor, retained)
    return tensor


def current_since(tensor) -> int:
    """The sequence number before which no node can have read ``tensor``'s present version: its node's, or its
    last replacement's (-1 for a tensor no op made)."""
    node = tensor.node
    return max(node.seq if node is not None else -1, getattr(tensor, "_replaced", -1))


def _snapshot(tensor):
    """A Tensor holding ``tensor``'s present array and node (what nodes recorded so far read as ``tensor``)."""
    before = _new(type(tensor))
    before.array, before.node, before.requires_grad = tensor.array, tensor.node, tensor.requires_grad
    before._grad, before._hooks = None, None
    return before


def _fit(tensor, name: str, result):
    """An in-place op's recorded ``result`` checked to keep ``tensor``'s shape and cast to its dtype."""
    if tuple(result.shape) != tuple(tensor.shape):
        raise RuntimeError(f"{name}: the result of shape {list(result.shape)} does not fit the tensor of shape "
                           f"{list(tensor.shape)} (an in-place op cannot change a tensor's shape)")
    if result.dtype != tensor.dtype:
        if not _castable(result.dtype, tensor.dtype):
            raise RuntimeError(f"{name}: result type {result.dtype} cannot be cast to the tensor's dtype "
                               f"{tensor.dtype} in place")
        result = _ops().cast(result, tensor.dtype)
    return result


def _read_before(result, tensor, before, since: int) -> None:
    """Have the nodes that computed ``result`` read ``before`` where they read ``tensor`` itself: those recorded by
    the op (``h += h``, ``h.mul_(h)``), and the earlier ones that read the present version (after ``since``), as in
    ``h[mask] *= 2``, whose value reads ``h[mask]``. ``tensor`` moves to ``result`` next, and such a node would read
    its own output (or, through the tensor's new node, the write it feeds)."""
    stack = [result.node]
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or node.seq <= since or node in seen or node.inputs is None:
            continue
        seen.add(node)
        if any(t is tensor for t in node.inputs):
            node.inputs = tuple(before if t is tensor else t for t in node.inputs)
        stack.extend(t.node for t in node.inputs)


def _views_another(tensor) -> bool:
    """Whether ``tensor``'s array may be a view of another tensor's memory: of an input of the op that made it
    (``view``, ``x[i]``, ``transpose``...), or of anything when no op made it. An op's result that views only the
    op's own new array (a reshaped product) is not."""
    array = tensor.array
    if getattr(array, "base", None) is None:
        return False
    node = tensor.node
    if node is None or node.inputs is None:
        return True
    shares = array_module(array).may_share_memory
    return any(shares(array, t.array) for t in node.inputs if hasattr(t.array, "flags"))


def _in_place(tensor, name: str, compute, *operands):
    """``compute(tensor)`` (Ember ops) as ``tensor``'s new value: recorded where PyTorch records it
    (``record_in_place``), else written into its array."""
    if _recording(tensor, name, operands):
        return record_in_place(tensor, name, compute)
    return _write(tensor, name, compute(tensor))


def _recording(tensor, name: str, operands) -> bool:
    """Whether the in-place op must be recorded (``_records``) on a tensor with values; refuses a leaf that
    requires grad, as PyTorch does, while gradients are recorded. Under no_grad in forward mode only a tensor that
    carries a tangent records (``keeps_tangent``)."""
    if not is_grad_enabled() or not hasattr(tensor.array, "flags") or building():  # (a graph: see _write)
        return keeps_tangent(tensor) and hasattr(tensor.array, "flags") and not building()
    _check_leaf(tensor, name)
    return _records(tensor, operands)


def _same_dtype(tensor, name: str, source, what: str = "source") -> None:
    """A RuntimeError naming ``name`` and both dtypes when ``source`` is a tensor of another dtype than ``tensor``'s,
    as PyTorch refuses it for its index and scatter ops (under autocast too)."""
    if isinstance(source, TensorLike) and source.dtype != tensor.dtype:
        raise RuntimeError(f"{name}: self of dtype {tensor.dtype} and {what} of dtype {source.dtype} must have the "
                           "same dtype, as in PyTorch; cast one of them")


def _check_leaf(tensor, name: str) -> None:
    if tensor.requires_grad and tensor.node is None:
        raise RuntimeError(
            f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
            "do it under ember.no_grad() (as PyTorch requires)"
        )


_new = object.__new__


def _castable(source, target) -> bool:
    """PyTorch's in-place cast rule: a result may be written into any dtype but floats into integers or bool,
    complex into real, and non-bool into bool (so int64 into uint8 is allowed, as NumPy's same_kind is not)."""
    if source == target:
        return True
    if target == bool_:
        return False
    if source in COMPLEX:
        return target in COMPLEX
    return source not in FLOATING or target in FLOATING or target in COMPLEX


def _write(tensor, name: str, result):
    """Store ``result`` (a Tensor or array) into ``tensor``'s array, as PyTorch would: same shape, no
    narrowing cast (float into an int tensor raises)."""
    if _read_live(tensor) and building():
        return _assign(tensor, name, result)
    array = result.array if isinstance(result, TensorLike) else result
    if not hasattr(array, "flags") or not hasattr(tensor.array, "flags"):  # a symbolic graph Value
        raise TypeError(
            f"{name}: in-place ops write into a tensor's array and are not recorded into a graph; "
            "write x = x + y in traced or graph-building code"
        )
    _check_result(tensor, name, array)
    marked_for_write(tensor, name)
    tensor.array[...] = array
    return tensor


def marked_for_write(tensor, name: str) -> None:
    """Mark ``tensor`` written (``mark_written``) before ``name`` writes into its array; a read-only view (from
    ``broadcast_to``/``expand``, whose elements share memory) is refused naming ``name``, as PyTorch refuses it."""
    if not getattr(tensor.array.flags, "writeable", True):  # (CuPy arrays have no read-only flag)
        if 0 not in tensor.array.strides or tensor.array.size <= 1:
            raise RuntimeError(
                f"{name}: the tensor of shape {list(tensor.shape)} is read-only: a copy that view() made of a tensor "
                "whose memory is not laid out row by row (column-major, as nn.Linear's weight, or transposed), "
                "the windows Tensor.unfold copied, the copy as_strided made, the complex copy of view_as_complex or "
                "the conjugate conj() (mH, H, adjoint()) computed, which writes would not reach, or a read-only "
                "NumPy array; write into the tensor itself, or clone() it")
        raise RuntimeError(
            f"{name}: the tensor of shape {list(tensor.shape)} is a read-only view (from broadcast_to/expand); "
            "clone() it first"
        )
    mark_written(tensor)


def _check_result(tensor, name: str, result) -> None:
    """Refuse a result that an in-place op cannot store into ``tensor``: of another shape than the tensor's (after
    broadcasting) or of a dtype that would narrow (see ``_castable``)."""
    if tuple(result.shape) != tuple(tensor.shape):
        try:
            np.broadcast_shapes(tuple(result.shape), tuple(tensor.shape))
            fits = np.broadcast_shapes(tuple(result.shape), tuple(tensor.shape)) == tuple(tensor.shape)
        except ValueError:
            fits = False
        if not fits:
            raise RuntimeError(
                f"{name}: the result of shape {list(result.shape)} does not fit the tensor of shape "
                f"{list(tensor.shape)} (an in-place op cannot change a tensor's shape)"
            )
    if result.dtype != tensor.dtype and not _castable(result.dtype, tensor.dtype):
        raise RuntimeError(
            f"{name}: result type {result.dtype} cannot be cast to the tensor's dtype {tensor.dtype} in place"
        )


def building() -> bool:
    """Whether ops called now append to a graph (``ember.jit`` traces, ``graph.building()``)."""
    builder = thread_mode.builder
    return builder is not None and not getattr(builder, "runs_eagerly", False)


def _read_live(tensor) -> bool:
    """Whether ``tensor`` is a concrete parameter, buffer or leaf that requires grad, what an ``ember.jit`` trace
    reads on every call, or an argument of the call it traces, the caller's Tensor: a write into it while a graph is
    built must be a node, run on every call."""
    if not hasattr(tensor.array, "flags"):
        trace = getattr(getattr(tensor, "graph", None), "trace", None)
        return trace is not None and tensor.id in trace.argument_ids
    return tensor.node is None and (tensor.requires_grad or is_state(tensor))


def read_traced(tensor):
    """While a graph is built, a parameter or buffer (read on every call) as a graph value without a gradient: what
    ``detach()`` and ``.data`` hand out there, so a trace reads its current values on every call rather than freeze
    those it was traced with; None otherwise."""
    if thread_mode.builder is None or not (_read_live(tensor) and building()):
        return None
    return _ops().stop_gradient(tensor)


def write_traced(tensor, name: str, compute) -> bool:
    """While a graph is built, write ``compute(tensor)`` (Ember ops) into ``tensor`` by an ``assign`` node when it
    is a parameter or buffer (read on every call) and return True; False, having done nothing, otherwise."""
    if not (_read_live(tensor) and building()):
        return False
    _assign(tensor, name, compute(tensor))
    return True


def _check_fill_dtype(tensor, name: str, kinds: str) -> None:
    """A TypeError for a random fill of a tensor whose dtype its law does not give (PyTorch refuses these too):
    ``kinds`` holds "f" (floating), "c" (complex), "i" (integer) and "b" (bool) for the dtypes it fills."""
    dtype = tensor.dtype
    kind = "f" if dtype in FLOATING else "c" if dtype in COMPLEX else "b" if dtype == bool_ else "i"
    if kind not in kinds:
        names = [{"f": "floating", "c": "complex", "i": "integer", "b": "bool"}[k] for k in kinds]
        allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise TypeError(f"{name}: fills {allowed} tensors, got {dtype}{list(tensor.shape)}")


def _refuse_traced_draw(tensor, name: str) -> None:
    """A TypeError for an in-place random fill while a graph is built: of a graph value, which has no memory, of a
    parameter or buffer, or, while ``ember.jit`` traces, of any tensor (one made in the traced function is a
    constant): it would fill once, when the trace runs, rather than on every call."""
    if not hasattr(tensor.array, "flags") or (building() and (_read_live(tensor)
                                                              or getattr(thread_mode.builder, "trace", None))):
        raise TypeError(f"{name}: in-place random fills are not recorded into a graph ({tensor.dtype}"
                        f"{list(tensor.shape)}) and would draw once; use ember.rand and friends in traced or "
                        "graph-building code (t = ember.randn(...), or t.copy_(ember.randn(...)) for a parameter or "
                        "buffer, draws anew on every call)")


def _assign(tensor, name: str, result):
    """``tensor op= value`` on a parameter, buffer or argument while ``ember.jit`` traces (a manual
    ``p -= lr * p.grad``): the trace reads such a tensor on every call, so an ``assign`` node writes the result into
    it, as eager mode writes its array (rebinding the name to the result would leave the tensor as it was)."""
    if is_grad_enabled():
        _check_leaf(tensor, name)  # (an argument that requires grad: a graph value, which _recording passes)
    _check_result(tensor, name, result)
    _ops().assign(tensor, result)
    return tensor


def _operator(fn_name: str, method: str):
    """``x += y`` and friends: in place on concrete tensors. While a graph is built or traced the result is a
    symbolic value, which is returned so that Python rebinds the name, as it did before in-place operators; a
    parameter or buffer (which ``ember.jit`` reads on every call) is written by an ``assign`` node instead."""

    def inplace(self, other):
        op = getattr(_ops(), fn_name)
        if _recording(self, method, (other,)):
            return record_in_place(self, method, lambda before: op(before, other))
        result = op(self, other)
        if not hasattr(result.array, "flags"):  # a graph Value: its array is a Symbol (shape, dtype)
            if _read_live(self):
                return _assign(self, method, result)  # a parameter or buffer, which the trace reads on every call
            return result
        return _write(self, method, result)

    inplace.__name__ = method
    inplace.__doc__ = f"``self = {fn_name}(self, other)`` written into this tensor's array."
    return inplace


def _binary(fn_name: str, method: str):
    def inplace(self, other):
        op = getattr(_ops(), fn_name)
        return _in_place(self, method, lambda before: op(before, other), other)

    inplace.__name__ = method
    inplace.__doc__ = f"``self = {fn_name}(self, other)`` written into this tensor's array."
    return inplace


def _unary(fn_name: str, method: str):
    def inplace(self):
        return _in_place(self, method, getattr(_ops(), fn_name))

    inplace.__name__ = method
    inplace.__doc__ = f"``self = {fn_name}(self)`` written into this tensor's array."
    return inplace


def _scaled_product(fn_name: str, method: str):
    """``addmm_`` and friends: ``beta * self + alpha * product(a, b)`` written into this tensor."""

    def inplace(self, a, b, *, beta: float = 1.0, alpha: float = 1.0):
        op = getattr(_ops(), fn_name)
        return _in_place(self, method, lambda before: op(before, a, b, beta=beta, alpha=alpha), a, b)

    inplace.__name__ = method
    inplace.__doc__ = f"``self = {fn_name}(self, a, b, beta=beta, alpha=alpha)`` written into this tensor's array."
    return inplace


def _reshape_in_place(tensor, name: str, reshaped):
    """``tensor`` given the shape of ``reshaped`` (a view of its array), as PyTorch's in-place view ops."""
    _check(tensor, name)
    if not hasattr(tensor.array, "flags"):
        raise TypeError(f"{name}: in-place ops change a tensor's array and are not recorded into a graph; "
                        "use the out-of-place form in traced or graph-building code")
    tensor.array = reshaped.array
    return tensor


def _written_now(tensor, value=None) -> bool:
    """Whether a write of ``value`` into ``tensor`` while a graph is built may happen at once, as the trace runs: a
    concrete tensor the trace does not read on every call (made while it runs, a constant), and a concrete value.
    Otherwise it is an ``assign`` node (``_write``), or refused for a graph value."""
    return hasattr(tensor.array, "flags") and not _read_live(tensor) and not getattr(value, "symbolic", False)


def _overwritten(before, value):
    """``before`` with every element replaced by ``value`` (broadcast, cast to its dtype), recorded so that the
    gradient reaches ``value`` and gives ``before`` zeros (``zero_``, ``fill_``, ``copy_`` on a recorded tensor)."""
    ops = _ops()
    if isinstance(value, TensorLike) and value.device != before.device:
        value = value.to(before.device)
    value = ops.as_tensor(value, before)
    if value.dtype != before.dtype:
        value = ops.cast(value, before.dtype)
    return ops.where(ops.as_tensor(before.xp.ones(tuple(before.shape), bool)), value, before)


def _old_scalar_first(other, alpha):
    # PyTorch's old overload add_(alpha, other), still in many tutorials: p.data.add_(-lr, p.grad.data)
    if np.isscalar(other) and alpha is not None and not np.isscalar(alpha):
        return alpha, other
    return other, 1 if alpha is None else alpha


class InplaceMethods:
    """The in-place half of Tensor's PyTorch surface (mixed into ``Tensor``)."""

    __slots__ = ()

    __iadd__ = _operator("add", "__iadd__")
    __isub__ = _operator("sub", "__isub__")
    __imul__ = _operator("mul", "__imul__")
    __itruediv__ = _operator("true_divide", "__itruediv__")
    __ifloordiv__ = _operator("floor_divide", "__ifloordiv__")
    __imod__ = _operator("remainder", "__imod__")
    __ipow__ = _operator("power", "__ipow__")
    __iand__ = _operator("bitwise_and", "__iand__")
    __ior__ = _operator("bitwise_or", "__ior__")
    __ixor__ = _operator("bitwise_xor", "__ixor__")
    mul_ = _binary("mul", "mul_")
    pow_ = _binary("power", "pow_")
    neg_ = _unary("neg", "neg_")
    def abs_(self):
        """``self = abs(self)`` written into this tensor's array; refused for a complex tensor, whose abs is real
        (as PyTorch refuses it: a complex tensor holding |z| + 0j would pass for the result)."""
        if self.dtype.kind == "c":
            raise RuntimeError(f"abs_: in-place abs is not supported for complex tensors ({self.dtype}"
                               f"{list(self.shape)}); use z.abs()")
        return _in_place(self, "abs_", _ops().abs)

    exp_ = _unary("exp", "exp_")
    log_ = _unary("log", "log_")
    log2_ = _unary("log2", "log2_")
    log10_ = _unary("log10", "log10_")
    log1p_ = _unary("log1p", "log1p_")
    expm1_ = _unary("expm1", "expm1_")
    asin_ = _unary("asin", "asin_")
    acos_ = _unary("acos", "acos_")
    atan_ = _unary("atan", "atan_")
    sinh_ = _unary("sinh", "sinh_")
    cosh_ = _unary("cosh", "cosh_")
    asinh_ = _unary("asinh", "asinh_")
    acosh_ = _unary("acosh", "acosh_")
    atanh_ = _unary("atanh", "atanh_")
    atan2_ = _binary("atan2", "atan2_")
    clamp_min_ = _binary("clamp_min", "clamp_min_")
    clamp_max_ = _binary("clamp_max", "clamp_max_")
    sqrt_ = _unary("sqrt", "sqrt_")
    square_ = _unary("square", "square_")
    floor_ = _unary("floor", "floor_")
    ceil_ = _unary("ceil", "ceil_")
    trunc_ = _unary("trunc", "trunc_")
    reciprocal_ = _unary("reciprocal", "reciprocal_")
    rsqrt_ = _unary("rsqrt", "rsqrt_")
    relu_ = _unary("relu", "relu_")
    sigmoid_ = _unary("sigmoid", "sigmoid_")
    tanh_ = _unary("tanh", "tanh_")
    lgamma_ = _unary("lgamma", "lgamma_")
    digamma_ = _unary("digamma", "digamma_")
    erfc_ = _unary("erfc", "erfc_")
    erfinv_ = _unary("erfinv", "erfinv_")
    i0_ = _unary("i0", "i0_")
    sinc_ = _unary("sinc", "sinc_")
    exp2_ = _unary("exp2", "exp2_")
    frac_ = _unary("frac", "frac_")
    deg2rad_ = _unary("deg2rad", "deg2rad_")
    rad2deg_ = _unary("rad2deg", "rad2deg_")
    xlogy_ = _binary("xlogy", "xlogy_")
    hypot_ = _binary("hypot", "hypot_")
    copysign_ = _binary("copysign", "copysign_")
    nextafter_ = _binary("nextafter", "nextafter_")
    heaviside_ = _binary("heaviside", "heaviside_")
    gcd_ = _binary("gcd", "gcd_")
    lcm_ = _binary("lcm", "lcm_")
    addmm_ = _scaled_product("addmm", "addmm_")
    baddbmm_ = _scaled_product("baddbmm", "baddbmm_")
    addbmm_ = _scaled_product("addbmm", "addbmm_")
    addmv_ = _scaled_product("addmv", "addmv_")
    addr_ = _scaled_product("addr", "addr_")

    def add_(self, other, alpha=None):
        """``self += alpha * other`` in place."""
        other, alpha = _old_scalar_first(other, alpha)
        return _in_place(self, "add_", lambda before: _ops().add(before, other, alpha=alpha), other)

    def sub_(self, other, alpha=None):
        """``self -= alpha * other`` in place."""
        other, alpha = _old_scalar_first(other, alpha)
        return _in_place(self, "sub_", lambda before: _ops().sub(before, other, alpha=alpha), other)

    def div_(self, other, *, rounding_mode: str | None = None):
        """``self /= other`` in place; ``rounding_mode`` as in ``div``."""
        return _in_place(self, "div_", lambda before: _ops().div(before, other, rounding_mode=rounding_mode), other)

    def round_(self, *, decimals: int = 0):
        """Round to ``decimals`` decimal places (half to even), in place."""
        return _in_place(self, "round_", lambda before: _ops().round(before, decimals=decimals))

    def nan_to_num_(self, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
        """Replace NaN, +inf and -inf (by default with 0 and the dtype's largest and lowest values), in place."""
        return _in_place(self, "nan_to_num_", lambda before: _ops().nan_to_num(before, nan, posinf, neginf))

    def addcmul_(self, tensor1, tensor2, value: float = 1.0):
        """``self += value * tensor1 * tensor2`` in place."""
        return _in_place(self, "addcmul_", lambda before: _ops().addcmul(before, tensor1, tensor2, value=value),
                         tensor1, tensor2)

    def addcdiv_(self, tensor1, tensor2, value: float = 1.0):
        """``self += value * tensor1 / tensor2`` in place."""
        return _in_place(self, "addcdiv_", lambda before: _ops().addcdiv(before, tensor1, tensor2, value=value),
                         tensor1, tensor2)

    def renorm_(self, p: float, dim: int, maxnorm: float):
        """``renorm`` written into this tensor."""
        return _in_place(self, "renorm_", lambda before: _ops().renorm(before, p, dim, maxnorm))

    def lerp_(self, end, weight):
        """``lerp(self, end, weight)`` written into this tensor (PyTorch's formula, exact at weight 1)."""
        return _in_place(self, "lerp_", lambda before: _ops().lerp(before, end, weight), end, weight)

    def clamp_(self, min=None, max=None):  # noqa: A002  (PyTorch's argument names)
        """Clip into ``[min, max]`` in place."""
        return _in_place(self, "clamp_", lambda before: _ops().clip(before, min, max), min, max)

    clip_ = clamp_

    def index_add_(self, dim: int, index, source, *, alpha: float = 1):
        """``index_add`` (PyTorch's order: dim, index, source) written into this tensor."""
        _same_dtype(self, "index_add_", source, "source")
        return _in_place(self, "index_add_",
                         lambda before: _ops().index_add(before, int(dim), index, source, alpha=alpha), source)

    def scatter_add_(self, dim: int, index, src):
        """``scatter_add`` written into this tensor."""
        _same_dtype(self, "scatter_add_", src, "src")
        return _in_place(self, "scatter_add_", lambda before: _ops().scatter_add(before, dim, index, src), src)

    def scatter_(self, dim: int, index, src=None, *, value=None, reduce: str | None = None):
        """``scatter`` written into this tensor."""
        _same_dtype(self, "scatter_", src, "src")
        return _in_place(self, "scatter_",
                         lambda before: _ops().scatter(before, dim, index, src, value=value, reduce=reduce), src)

    def index_fill_(self, dim: int, index, value):
        """``index_fill`` written into this tensor."""
        return _in_place(self, "index_fill_", lambda before: _ops().index_fill(before, dim, index, value), value)

    def index_copy_(self, dim: int, index, source):
        """``index_copy`` written into this tensor."""
        _same_dtype(self, "index_copy_", source, "source")
        return _in_place(self, "index_copy_", lambda before: _ops().index_copy(before, dim, index, source), source)

    def index_put_(self, indices, values, accumulate: bool = False):
        """``self[indices] = values`` in place (``indices`` a tuple of index tensors); with ``accumulate`` the
        values are added, repeated indices adding up."""
        _same_dtype(self, "index_put_", values, "values")
        if _recording(self, "index_put_", (values,)):
            return record_in_place(self, "index_put_",
                           lambda before: _ops().index_put(before, tuple(indices), values, accumulate))
        _check(self, "index_put_", values)
        values = values.array if isinstance(values, TensorLike) else np.asarray(values)
        if values.dtype != self.dtype and not np.can_cast(values.dtype, self.dtype, "same_kind"):
            raise RuntimeError(f"index_put_: values of type {values.dtype} cannot be cast to the tensor's dtype "
                               f"{self.dtype} in place")
        if not hasattr(self.array, "flags"):
            return _write(self, "index_put_", self.array)  # (refuses a graph value)
        if isinstance(indices, (tuple, list)):  # None names a whole dim, as in index_put (not a new axis)
            indices = tuple(slice(None) if i is None else i for i in indices)
        index = _ops().index_arrays(indices, self.shape)
        marked_for_write(self, "index_put_")
        if accumulate:
            self.xp.add.at(self.array, index, values)
        else:
            self.array[index] = values
        return self

    def index_reduce_(self, dim: int, index, source, reduce: str, *, include_self: bool = True):
        """``index_reduce`` written into this tensor."""
        _same_dtype(self, "index_reduce_", source, "source")
        return _in_place(self, "index_reduce_", lambda before: _ops().index_reduce(before, dim, index, source, reduce,
                                                                 include_self=include_self), source)

    def scatter_reduce_(self, dim: int, index, src, reduce: str, *, include_self: bool = True):
        """``scatter_reduce`` written into this tensor."""
        _same_dtype(self, "scatter_reduce_", src, "src")
        return _in_place(self, "scatter_reduce_", lambda before: _ops().scatter_reduce(before, dim, index, src, reduce,
                                                                     include_self=include_self), src)

    def masked_scatter_(self, mask, source):
        """``masked_scatter`` written into this tensor."""
        _same_dtype(self, "masked_scatter_", source, "source")
        return _in_place(self, "masked_scatter_", lambda before: _ops().masked_scatter(before, mask, source), source)

    def put_(self, index, source, accumulate: bool = False):
        """``put`` written into this tensor."""
        _same_dtype(self, "put_", source, "source")
        return _in_place(self, "put_", lambda before: _ops().put(before, index, source, accumulate), source)

    def masked_fill_(self, mask, value):
        """Set the elements where ``mask`` is true to ``value``, in place."""
        if _recording(self, "masked_fill_", (value,)):
            return record_in_place(self, "masked_fill_", lambda before: _ops().masked_fill(before, mask, value))
        _check(self, "masked_fill_", value)
        if getattr(mask, "dtype", bool_) != bool_:  # (as masked_fill, and PyTorch, refuse it)
            raise TypeError(f"masked_fill_: the mask must be a bool tensor, got {mask.dtype}")
        if getattr(value, "ndim", 0) != 0:
            raise ValueError(f"masked_fill_: value must be a number or a 0-d tensor, got shape {list(value.shape)}")
        check_fill_value("masked_fill_", value, self.dtype)
        if building() and not (_written_now(self, value) and _written_now(self, mask)):
            return _write(self, "masked_fill_", _ops().masked_fill(self, mask, value))
        mask = mask.array if hasattr(mask, "node") else mask
        value = self.xp.asarray(value.array if hasattr(value, "node") else value)
        if value.dtype.kind == "c" and self.dtype.kind != "c":  # (as masked_fill, and PyTorch, refuse it)
            raise TypeError(f"masked_fill_: complex values cannot be written into a tensor of dtype {self.dtype} "
                            f"(their imaginary parts would be lost); take .real, or make the tensor complex")
        value = value.astype(self.dtype)  # as torch
        return _write(self, "masked_fill_", self.xp.where(mask, value, self.array))

    def unsqueeze_(self, dim: int):
        """Insert a dimension of size 1 at ``dim``, changing this tensor's shape in place."""
        return _reshape_in_place(self, "unsqueeze_", _ops().unsqueeze(self, dim))

    def squeeze_(self, dim=None):
        """Drop dimensions of size 1 (all, or ``dim``), changing this tensor's shape in place."""
        return _reshape_in_place(self, "squeeze_", _ops().squeeze(self, dim))

    def zero_(self):
        """Set every element to 0, in place."""
        if _recording(self, "zero_", ()):
            return record_in_place(self, "zero_", lambda before: _overwritten(before, 0))
        if building() and not _written_now(self):
            return _write(self, "zero_", _ops().as_tensor(0, self))
        marked_for_write(self, "zero_")
        self.array[...] = 0
        return self

    def fill_(self, value):
        """Set every element to ``value``, in place."""
        check_fill_value("fill_", value, self.dtype)
        if _recording(self, "fill_", (value,)):
            return record_in_place(self, "fill_", lambda before: _overwritten(before, value))
        if building() and not _written_now(self, value):
            return _write(self, "fill_", _ops().as_tensor(value, self))
        marked_for_write(self, "fill_")
        # as an array, so the store casts as PyTorch's fill_: -1 wraps to 255 in uint8, a complex value gives its
        # real part (with NumPy's warning), where storing the Python number refuses both
        self.array[...] = self.xp.asarray(value.item() if hasattr(value, "node") else value)
        return self

    def copy_(self, src):
        """Overwrite the data with ``src`` (a Tensor, array or number broadcastable to this shape), in place."""
        from ember.backend.devices import move

        if _recording(self, "copy_", (src,)):
            return record_in_place(self, "copy_", lambda before: _overwritten(before, src))
        if building() and not _written_now(self, src):
            src = _ops().as_tensor(src, self)
            return _write(self, "copy_", src if src.dtype == self.dtype else _ops().cast(src, self.dtype))
        src = src.array if hasattr(src, "node") else src
        if isinstance(src, (int, float, complex)):  # (a number casts as a 0-d tensor does, as fill_'s)
            src = self.xp.asarray(src)
        if hasattr(src, "dtype"):
            src = move(src, self.device)
            if tuple(src.shape) != tuple(self.shape) and not _broadcasts_to(tuple(src.shape), tuple(self.shape)):
                raise RuntimeError(f"copy_: a source of shape {list(src.shape)} does not broadcast to "
                                   f"{list(self.shape)}")
        marked_for_write(self, "copy_")
        self.array[...] = src  # (copy_ casts between any dtypes, as PyTorch's does)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator=None):
        """Fill with draws from N(mean, std^2) from Ember's generator (or ``generator``), in place."""
        from ember.backend.devices import move
        from ember.random import numpy_generator

        _check(self, "normal_")
        _check_fill_dtype(self, "normal_", "fc")
        if not std >= 0:
            raise ValueError(f"normal_: std must be >= 0, got {std}")
        _refuse_traced_draw(self, "normal_")
        rng, shape = numpy_generator(generator), tuple(self.shape)
        if self.dtype in COMPLEX:  # each part N(mean, std^2 / 2), as PyTorch: E|z - mean(1 + i)|^2 = std^2
            parts = rng.normal(mean, std / np.sqrt(2.0), shape + (2,))
            sample = parts[..., 0] + 1j * parts[..., 1]
        else:
            sample = rng.normal(mean, std, shape)
        marked_for_write(self, "normal_")
        self.array[...] = move(sample, self.device)
        return self

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0 or 1, each 1 with probability ``p`` (a number, or a tensor that broadcasts to this
        shape) from Ember's generator (or ``generator``), in place."""
        from ember.backend.devices import move
        from ember.random import numpy_generator

        _check(self, "bernoulli_", p)
        _check_fill_dtype(self, "bernoulli_", "fib")
        _refuse_traced_draw(self, "bernoulli_")
        probs = move(p.array, self.device) if hasattr(p, "node") else np.float64(p)
        if not _broadcasts_to(probs.shape, tuple(self.shape)):
            raise ValueError(f"bernoulli_: p of shape {list(probs.shape)} does not broadcast to the tensor's "
                             f"shape {list(self.shape)}")
        if bool(((probs < 0) | (probs > 1) | (probs != probs)).any()):
            raise ValueError("bernoulli_: p must be in [0, 1]")
        marked_for_write(self, "bernoulli_")
        self.array[...] = move(numpy_generator(generator).random(self.shape), self.device) < probs
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator=None):
        """Fill with draws from U(a, b) from Ember's generator (or ``generator``), in place."""
        from ember.backend.devices import move
        from ember.random import numpy_generator, uniform

        _check(self, "uniform_")
        _check_fill_dtype(self, "uniform_", "fc")
        if not a <= b:
            raise ValueError(f"uniform_: expects a <= b (the range [a, b)), got a={a} and b={b}")
        largest = float(ml_dtypes.finfo(self.array.real.dtype if self.dtype in COMPLEX else self.dtype).max)
        for name, bound in (("a", a), ("b", b)):  # (the draws would be inf, as PyTorch refuses)
            if not -largest <= bound <= largest:
                raise ValueError(f"uniform_: {name}={bound} is out of the range of {self.dtype} (at most {largest:g} "
                                 "in magnitude)")
        _refuse_traced_draw(self, "uniform_")
        rng, shape = numpy_generator(generator), tuple(self.shape)
        if self.dtype in COMPLEX:  # both parts U(a, b), as PyTorch
            parts = uniform(rng, a, b, shape + (2,), self.array.real.dtype)
            sample = parts[..., 0] + 1j * parts[..., 1]
        else:
            sample = uniform(rng, a, b, shape, self.dtype)
        marked_for_write(self, "uniform_")
        self.array[...] = move(sample, self.device)
        return self

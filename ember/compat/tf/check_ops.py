"""TF-1's assertions and checks: ``tf.Assert``, the ``tf.assert_*`` family (also under ``tf.debugging``) and
``tf.check_numerics``.

An assertion is an op: a Session that runs it (fetched, or as a control dependency) raises
``tf.errors.InvalidArgumentError`` with TF-1's message (``assertion failed: [...] [...]``) where its condition
is false. As in TF-1, what is known while the graph is built is checked at once: two constants compared,
static ranks and dtypes."""

from __future__ import annotations

import numpy as np

import ember
from ember.compat.tf._core import (
    Operation,
    Tensor,
    as_operand,
    as_tf,
    as_tf_dtype,
    constant,
    get_default_graph,
    graph_of,
    no_op,
    op,
)
from ember.compat.tf.array_ops import shape as shape_of
from ember.compat.tf.errors import InvalidArgumentError
from ember.compat.tf.host_ops import summarized

__all__ = [
    "Assert", "assert_equal", "assert_greater", "assert_greater_equal", "assert_integer", "assert_less",
    "assert_less_equal", "assert_near", "assert_negative", "assert_non_negative", "assert_non_positive",
    "assert_none_equal", "assert_positive", "assert_proper_iterable", "assert_rank", "assert_rank_at_least",
    "assert_rank_in", "assert_same_float_dtype", "assert_scalar", "assert_type", "check_numerics",
    "is_non_decreasing", "is_numeric_tensor", "is_strictly_increasing", "verify_tensor_all_finite",
]


def _static(t):
    """``t``'s value while the graph is built (a constant's, as TF's ``constant_value``), else None."""
    return t.__dict__.get("static") if isinstance(t, Tensor) else None


def _entry_text(item, limit: int) -> str:
    """One data entry of a failed assertion as TF-1 writes it, in brackets: a tensor's first ``limit`` values
    (``[1 2 3...]``, ``[[1 2][3 4]]``), text as it is (``[x must be positive]``)."""
    if isinstance(item, str):
        return f"[{item}]"
    array = np.asarray(item)
    if array.dtype.kind == "S":
        array = np.char.decode(array, "utf-8").astype(object)
    return summarized(array, limit) if array.ndim else f"[{summarized(array, limit)}]"


def Assert(condition, data, summarize: int | None = None, name: str | None = None) -> Operation:  # noqa: N802
    """The op that raises ``tf.errors.InvalidArgumentError`` when a Session runs it and ``condition`` (a bool
    scalar) is false, its message the ``data`` entries (text, or tensors' first ``summarize`` values, 3 by
    default): make it a control dependency of what must wait for the check.

    >>> check = tf.Assert(tf.reduce_all(x >= 0), ["x has negative entries:", x])
    >>> with tf.control_dependencies([check]):
    ...     y = tf.sqrt(x)
    """
    condition = as_tf(condition)
    if condition.dtype is not None and condition.dtype != np.bool_:
        raise TypeError(f"tf.Assert: condition must be a bool tensor, got '{condition.name}' of dtype "
                        f"{condition.dtype}")
    if condition._shape is not None and len(condition._shape) != 0:
        raise ValueError(f"tf.Assert: condition must be a scalar, got '{condition.name}' of shape "
                         f"{list(condition._shape)}")
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    tensors = [x for x in items if isinstance(x, Tensor)]
    limit = 3 if summarize is None else int(summarize)
    op_name = name or "Assert"

    def check(holds, *arrays) -> None:
        if bool(np.asarray(holds)):
            return
        values = iter(arrays)
        entries = [_entry_text(next(values) if isinstance(x, Tensor) else x, limit) for x in items]
        raise InvalidArgumentError(op=op_name, message="assertion failed: " + " ".join(entries))

    result = Operation(None, (condition, *tensors), name=op_name, kind="Assert",
                       graph=graph_of("tf.Assert", [condition, *tensors]))
    result.write = check
    return result


def _assert_static(holds: bool, data: list) -> None:
    """TF-1's check of an assertion decided while the graph is built: its data entries, one per line."""
    if not holds:
        lines = [str(_static(x)) if _static(x) is not None else str(x) for x in data]
        raise InvalidArgumentError(message="\n".join(lines))


def _operands(opname: str, x, y) -> tuple[Tensor, Tensor]:
    """``x`` and ``y`` as tf Tensors of one dtype (a Python number takes the other's, as in TF-1's ops)."""
    if isinstance(y, Tensor) and not isinstance(x, Tensor):
        x = as_operand(x, y)
    x = as_tf(x)
    y = as_operand(y, x)
    if x.dtype is not None and y.dtype is not None and x.dtype != y.dtype:
        raise TypeError(f"tf.{opname}: x and y must have the same dtype, got '{x.name}' of dtype {x.dtype} and "
                        f"'{y.name}' of dtype {y.dtype}")
    return x, y


def _binary_assert(opname: str, sym: str, test, static_test, x, y, data, summarize, message, name) -> Operation:
    x, y = _operands(opname, x, y)
    if data is None:
        data = [f"Condition x {sym} y did not hold element-wise:", f"x ({x.name}) = ", x, f"y ({y.name}) = ", y]
    if message is not None:
        data = [message, *data]
    condition = op(lambda a, b: ember.all(test(a, b)), (x, y), name=f"{name or opname}/All")
    x_static, y_static = _static(x), _static(y)
    if x_static is not None and y_static is not None:
        _assert_static(bool(np.all(static_test(x_static, y_static))), data)
    return Assert(condition, data, summarize, name=name or opname)


def assert_equal(x, y, data=None, summarize: int | None = None, message: str | None = None,
                 name: str | None = None) -> Operation:
    """The op that checks ``x == y`` element-wise (broadcast), as ``tf.Assert`` does."""
    return _binary_assert("assert_equal", "==", ember.eq, np.equal, x, y, data, summarize, message, name)


def assert_none_equal(x, y, data=None, summarize: int | None = None, message: str | None = None,
                      name: str | None = None) -> Operation:
    """The op that checks ``x != y`` element-wise (broadcast)."""
    return _binary_assert("assert_none_equal", "!=", ember.ne, np.not_equal, x, y, data, summarize, message, name)


def assert_less(x, y, data=None, summarize: int | None = None, message: str | None = None,
                name: str | None = None) -> Operation:
    """The op that checks ``x < y`` element-wise (broadcast)."""
    return _binary_assert("assert_less", "<", ember.lt, np.less, x, y, data, summarize, message, name)


def assert_less_equal(x, y, data=None, summarize: int | None = None, message: str | None = None,
                      name: str | None = None) -> Operation:
    """The op that checks ``x <= y`` element-wise (broadcast)."""
    return _binary_assert("assert_less_equal", "<=", ember.le, np.less_equal, x, y, data, summarize, message, name)


def assert_greater(x, y, data=None, summarize: int | None = None, message: str | None = None,
                   name: str | None = None) -> Operation:
    """The op that checks ``x > y`` element-wise (broadcast)."""
    return _binary_assert("assert_greater", ">", ember.gt, np.greater, x, y, data, summarize, message, name)


def assert_greater_equal(x, y, data=None, summarize: int | None = None, message: str | None = None,
                         name: str | None = None) -> Operation:
    """The op that checks ``x >= y`` element-wise (broadcast)."""
    return _binary_assert("assert_greater_equal", ">=", ember.ge, np.greater_equal, x, y, data, summarize, message,
                          name)


def _sign_assert(opname: str, sym: str, compare, x, data, summarize, message, name) -> Operation:
    """``x {sym}`` element-wise, as TF-1 builds it: a comparison with a zero of ``x``'s dtype."""
    x = as_tf(x)
    if data is None:
        data = [message or "", f"Condition x {sym} did not hold element-wise:", f"x ({x.name}) = ", x]
    zero = constant(0, dtype=x.dtype)
    return compare(x, zero, data=data, summarize=summarize, name=name or opname)


def assert_negative(x, data=None, summarize: int | None = None, message: str | None = None,
                    name: str | None = None) -> Operation:
    """The op that checks ``x < 0`` element-wise."""
    return _sign_assert("assert_negative", "< 0", assert_less, x, data, summarize, message, name)


def assert_positive(x, data=None, summarize: int | None = None, message: str | None = None,
                    name: str | None = None) -> Operation:
    """The op that checks ``x > 0`` element-wise."""
    return _sign_assert("assert_positive", "> 0", assert_greater, x, data, summarize, message, name)


def assert_non_negative(x, data=None, summarize: int | None = None, message: str | None = None,
                        name: str | None = None) -> Operation:
    """The op that checks ``x >= 0`` element-wise."""
    return _sign_assert("assert_non_negative", ">= 0", assert_greater_equal, x, data, summarize, message, name)


def assert_non_positive(x, data=None, summarize: int | None = None, message: str | None = None,
                        name: str | None = None) -> Operation:
    """The op that checks ``x <= 0`` element-wise."""
    return _sign_assert("assert_non_positive", "<= 0", assert_less_equal, x, data, summarize, message, name)


def assert_near(x, y, rtol=None, atol=None, data=None, summarize: int | None = None, message: str | None = None,
                name: str | None = None) -> Operation:
    """The op that checks ``|x - y| <= atol + rtol * |y|`` element-wise; both tolerances default to 10 machine
    epsilons of the (floating) dtype."""
    x, y = _operands("assert_near", x, y)
    if x.dtype is not None and np.dtype(x.dtype).kind not in "fc" and x.dtype != as_tf_dtype("bfloat16"):
        raise TypeError(f"tf.assert_near: x and y must be floating or complex, got '{x.name}' of dtype {x.dtype}")
    eps = float(np.finfo(np.dtype(x.dtype) if x.dtype is not None else np.float32).eps)
    rtol = 10 * eps if rtol is None else float(rtol)
    atol = 10 * eps if atol is None else float(atol)
    if data is None:
        data = [message or "", f"x and y not equal to tolerance rtol = {rtol}, atol = {atol}",
                f"x ({x.name}) = ", x, f"y ({y.name}) = ", y]
    condition = op(lambda a, b: ember.all(ember.abs(a - b) <= atol + rtol * ember.abs(b)), (x, y),
                   name=f"{name or 'assert_near'}/All")
    return Assert(condition, data, summarize, name=name or "assert_near")


def _rank_assert(opname: str, x, holds, wanted: str, data, summarize, message, name) -> Operation:
    """A check of ``x``'s rank: decided now where the rank is known (ValueError, as TF-1's), else when run."""
    x = as_tf(x)
    message = message or ""
    if x._shape is not None:
        if not holds(len(x._shape)):
            raise ValueError(f"{message}.  Tensor {x.name} must have rank {wanted}.  Received rank {len(x._shape)}, "
                             f"shape {list(x._shape)}")
        return no_op(name=name or opname)
    if data is None:
        data = [message, f"Tensor {x.name} must have rank {wanted}", "Received shape: ", shape_of(x)]
    condition = op(lambda a: ember.tensor(holds(a.ndim)), (x,), name=f"{name or opname}/Rank")
    return Assert(condition, data, summarize, name=name or opname)


def assert_rank(x, rank: int, data=None, summarize: int | None = None, message: str | None = None,
                name: str | None = None) -> Operation:
    """The check that ``x`` has rank ``rank``."""
    rank = int(rank)
    return _rank_assert("assert_rank", x, lambda r: r == rank, str(rank), data, summarize, message, name)


def assert_rank_at_least(x, rank: int, data=None, summarize: int | None = None, message: str | None = None,
                         name: str | None = None) -> Operation:
    """The check that ``x`` has rank ``rank`` or more."""
    rank = int(rank)
    return _rank_assert("assert_rank_at_least", x, lambda r: r >= rank, f"at least {rank}", data, summarize,
                        message, name)


def assert_rank_in(x, ranks, data=None, summarize: int | None = None, message: str | None = None,
                   name: str | None = None) -> Operation:
    """The check that ``x``'s rank is one of ``ranks``."""
    ranks = tuple(int(r) for r in ranks)
    return _rank_assert("assert_rank_in", x, lambda r: r in ranks, f"in {list(ranks)}", data, summarize, message,
                        name)


def assert_type(tensor, tf_type, message: str | None = None, name: str | None = None) -> Operation:
    """Raise TypeError now unless ``tensor`` has dtype ``tf_type``; else a no-op, as TF-1's."""
    tensor = as_tf(tensor)
    if tensor.dtype != as_tf_dtype(tf_type):
        raise TypeError(f"{message or ''}  {tensor.name} must be of type {as_tf_dtype(tf_type)}; got {tensor.dtype}")
    return no_op(name=name or "statically_determined_correct_type")


def assert_integer(x, message: str | None = None, name: str | None = None) -> Operation:
    """Raise TypeError now unless ``x`` holds integers; else a no-op, as TF-1's."""
    x = as_tf(x)
    if x.dtype is None or np.dtype(x.dtype).kind not in "iu":
        raise TypeError(f'{message or ""}  Expected "x" to be integer type.  Found: {x.name} of dtype {x.dtype}')
    return no_op(name=name or "statically_determined_was_integer")


def assert_scalar(tensor, name: str | None = None, message: str | None = None) -> Tensor:
    """``tensor`` itself; ValueError now unless its static shape is a scalar's, as TF-1's."""
    tensor = as_tf(tensor)
    if tensor._shape is None or len(tensor._shape) != 0:
        shape = "<unknown>" if tensor._shape is None else list(tensor._shape)
        raise ValueError(f"{message or ''}Expected scalar shape for {tensor.name}, saw shape: {shape}.")
    return tensor


def assert_same_float_dtype(tensors=None, dtype=None):
    """The one floating dtype of ``tensors`` (and ``dtype`` when given; float32 when neither has one); ValueError
    for a non-floating or mixed one."""
    found = None if dtype is None else as_tf_dtype(dtype)
    for t in tensors or []:
        if t.dtype is None:
            continue
        if found is None:
            found = t.dtype
        elif t.dtype != found:
            raise ValueError(f"tf.assert_same_float_dtype: '{t.name}' has dtype {t.dtype}, expected {found}")
    if found is None:
        return as_tf_dtype("float32")
    if np.dtype(found).kind != "f" and found != as_tf_dtype("bfloat16"):
        raise ValueError(f"tf.assert_same_float_dtype: expected a floating point type, got {found}")
    return found


def assert_proper_iterable(values) -> None:
    """TypeError unless ``values`` is an iterable of items (a tensor, an array or a string is not one)."""
    if isinstance(values, (Tensor, np.ndarray, str, bytes)):
        raise TypeError(f'Expected argument "values" to be a "proper" iterable.  Found: {type(values)}')
    if not hasattr(values, "__iter__"):
        raise TypeError(f'Expected argument "values" to be iterable.  Found: {type(values)}')


def is_numeric_tensor(tensor) -> bool:
    """Whether ``tensor`` is a tf Tensor of a numeric (not bool or string) dtype."""
    if not isinstance(tensor, Tensor) or tensor.dtype is None:
        return False
    return np.dtype(tensor.dtype).kind in "iufc" or tensor.dtype == as_tf_dtype("bfloat16")


def _monotone(opname: str, x, strict: bool, name: str | None) -> Tensor:
    x = as_tf(x)
    if not is_numeric_tensor(x):
        raise TypeError(f"tf.{opname}: expected x to be a numeric tensor, got '{x.name}' of dtype {x.dtype}")

    def holds(a):
        flat = ember.reshape(a, (-1,))
        steps = flat[1:] - flat[:-1] if flat.shape[0] > 1 else ember.ones(1, dtype=flat.dtype)
        return ember.all(steps > 0 if strict else steps >= 0)

    return op(holds, (x,), name=name or opname)


def is_non_decreasing(x, name: str | None = None) -> Tensor:
    """A bool scalar: whether ``x``'s elements (in row-major order) never decrease (true for fewer than two)."""
    return _monotone("is_non_decreasing", x, False, name)


def is_strictly_increasing(x, name: str | None = None) -> Tensor:
    """A bool scalar: whether ``x``'s elements (in row-major order) increase at every step."""
    return _monotone("is_strictly_increasing", x, True, name)


def check_numerics(tensor, message: str, name: str | None = None) -> Tensor:
    """``tensor`` unchanged; computing it raises ``tf.errors.InvalidArgumentError`` ("message : Tensor had NaN
    values") where it holds a NaN or an infinity. Its gradient passes through."""
    source = as_tf(tensor)
    if source.dtype is not None and np.dtype(source.dtype).kind not in "f" and source.dtype != as_tf_dtype(
            "bfloat16"):
        raise TypeError(f"tf.check_numerics: tensor must be floating, got '{source.name}' of dtype {source.dtype}")
    op_name = name or "CheckNumerics"

    def check(array) -> None:
        values = np.asarray(array, dtype=np.float64) if array.dtype.kind != "f" else array
        nan, inf = bool(np.isnan(values).any()), bool(np.isinf(values).any())
        if nan or inf:
            found = "Inf and NaN" if nan and inf else "NaN" if nan else "Inf"
            raise InvalidArgumentError(op=op_name, message=f"{message} : Tensor had {found} values")

    out = Tensor(None, (source,), name=op_name, shape=source._shape, dtype=source.dtype, kind="CheckNumerics",
                 graph=source.graph if source.graph is not None else get_default_graph())
    out.write = check
    return out


def verify_tensor_all_finite(t=None, msg: str | None = None, name: str | None = None, x=None,
                             message: str | None = None) -> Tensor:
    """``check_numerics`` by TF-1's other name (``t``/``msg``, or ``x``/``message``)."""
    tensor, text = (x if t is None else t), (message if msg is None else msg)
    if tensor is None:
        raise TypeError("tf.verify_tensor_all_finite: give the tensor to check (t= or x=)")
    return check_numerics(tensor, text or "", name=name)

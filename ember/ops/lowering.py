"""Code emitters of the ops whose generated code makes a choice: the record's ``lower`` trait.

The graph code generator (``ember.runtime.codegen``) asks an op's ``lower(call)`` for the Python expression
computing one node. An emitter picks the call the op's forward would pick for the same shapes and dtypes
(``ember.ops.kernels``), so compiled code and eager mode agree bit for bit; it returns None to leave the node
to the generic forms (the op's ``ufunc``, else a call of its forward, given ``out=`` when the op
``writes_out``).
"""

from __future__ import annotations

import numpy as np

from ember.backend.devices import CPU
from ember.backend.dtypes import LOW_PRECISION, bfloat16
from ember.backend.zeros import zeros_of
from ember.ops.kernels import (
    BLAS_FLOATS,
    is_blas_matrix_product,
    large_product,
    large_product_pays,
    stacked_product_pays,
    sum_blocks,
    sum_channels,
    sum_leading,
    sum_ones,
    sums_blocks,
    sums_channels,
    sums_columns,
    sums_leading,
    sums_rows,
)


class Call:
    """One node as an emitter sees it: ``inputs`` and ``output`` (shape/dtype specs), ``attrs``, ``args`` (the
    names of the input arrays in the code), ``out`` (the name of an array to compute into, or None),
    ``bind(obj, prefix)`` (a name under which the code reads ``obj``) and ``scalar`` (values are NumPy
    scalars, not arrays)."""

    __slots__ = ("inputs", "output", "attrs", "args", "out", "bind", "scalar")

    def __init__(self, inputs, output, attrs, args, out, bind, scalar=False):
        self.inputs, self.output, self.attrs, self.args = inputs, output, attrs, args
        self.out, self.bind, self.scalar = out, bind, scalar

    @property
    def dest(self) -> str:
        """``, out=<name>`` or nothing."""
        return "" if self.out is None else f", out={self.out}"


def _on_scalars(emit):
    """Mark an emitter that also handles ``call.scalar`` (code on NumPy scalars)."""
    emit.scalar = True
    return emit


def _plain(call: Call) -> bool:
    """No bfloat16 operand: NumPy's own loops compute these as the forward does."""
    return all(s.dtype != bfloat16 for s in call.inputs)


def _full_precision(call: Call) -> bool:
    """No float16/bfloat16 operand: a product of those computes in float32 and rounds once in the forward."""
    return all(s.dtype not in LOW_PRECISION for s in call.inputs)


@_on_scalars
def relu(call: Call) -> str | None:
    """``max(x, 0)`` as the forward computes it: against read-only zeros of the input's shape (as eager mode, and
    2-3x faster), or a zero of its dtype (numbers, unknown sizes, other dtypes and devices)."""
    if not _plain(call):
        return None
    x = call.inputs[0]
    if not call.scalar and None not in x.shape and x.dtype in BLAS_FLOATS and getattr(x, "device", CPU) == CPU:
        zero = call.bind(zeros_of(tuple(x.shape), x.dtype), "z")
    else:
        zero = call.bind(x.dtype.type(0), "c")
    return f"{call.bind(np.maximum, 'f')}({call.args[0]}, {zero}{call.dest})"


def _product_call(a, b):
    """The product call the forward makes for matrices like ``a`` and ``b`` (``kernels.matrix_product``):
    ``np.dot`` for a small one, ``large_product`` (oneDNN's sgemm) for a large float32 one, else ``np.matmul``.
    Code compiled for many sizes binds, per size, the call that size takes (``runtime.sized``)."""
    if is_blas_matrix_product(a, b):
        return np.dot
    if getattr(a, "device", CPU) != CPU:
        return np.matmul
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype \
            and large_product_pays(a.shape[0], a.shape[1], b.shape[1], a.dtype):
        return large_product
    return large_product if stacked_product_pays(a, b) else np.matmul


def matmul(call: Call) -> str:
    """The forward's product call (``_product_call``) on the two inputs."""
    if not _full_precision(call):
        return None
    a, b = call.args
    return f"{call.bind(_product_call(*call.inputs), 'f')}({a}, {b}{call.dest})"


def linear(call: Call) -> str | None:
    """``x @ weight.T``, then ``+= bias`` in place: the forward's calls (on a 2-d ``x``), into ``out=`` when
    given."""
    x, weight = call.inputs[0], call.inputs[1]
    if not _full_precision(call) or x.ndim != 2:
        return None
    product = _product_call(x, _Transposed(weight))
    code = f"{call.bind(product, 'f')}({call.args[0]}, {call.args[1]}.T{call.dest})"
    return code if len(call.args) == 2 else f"{code}.__iadd__({call.args[2]})"


class _Transposed:
    """A matrix spec seen transposed (what ``weight.T`` is to ``linear``'s forward)."""

    __slots__ = ("shape", "ndim", "dtype", "device")

    def __init__(self, spec):
        self.shape, self.ndim, self.dtype = tuple(reversed(spec.shape)), spec.ndim, spec.dtype
        self.device = getattr(spec, "device", CPU)


def sum(call: Call) -> str | None:
    """The float sum as the forward computes it: a BLAS product with ones for rows, columns and channels."""
    x = call.inputs[0]
    if x.dtype not in BLAS_FLOATS:  # float16/bfloat16 sums accumulate in float32: the forward's own call
        return None
    axis, keepdims, bind = call.attrs["axis"], call.attrs["keepdims"], call.bind
    if sums_columns(x.shape, x.dtype, axis):
        ones = bind(sum_ones(x.shape[0], x.dtype, "row" if keepdims else "vector"), "c")
        return f"{bind(np.dot, 'f')}({ones}, {call.args[0]}{call.dest})"
    if sums_rows(x.shape, x.dtype, axis):
        ones = bind(sum_ones(x.shape[-1], x.dtype, "column" if keepdims else "vector"), "c")
        return f"{bind(np.dot, 'f')}({call.args[0]}, {ones}{call.dest})"
    if sums_channels(x.shape, x.dtype, axis):
        return f"{bind(sum_channels, 'f')}({call.args[0]}, {keepdims!r})"
    if sums_leading(x.shape, x.dtype, axis):
        return f"{bind(sum_leading, 'f')}({call.args[0]}, {keepdims!r})"
    if sums_blocks(x.shape, x.dtype, axis):
        return f"{bind(sum_blocks, 'f')}({call.args[0]}, {axis!r}, {keepdims!r})"
    # ndarray.sum is np.add.reduce, called more directly
    return f"{bind(np.add.reduce, 'f')}({call.args[0]}, {axis!r}, None, {call.out}, {keepdims!r})"


def reshape(call: Call) -> str:
    return f"{call.args[0]}.reshape({tuple(call.output.shape)!r})"


def transpose(call: Call) -> str:
    return f"{call.args[0]}.transpose({tuple(call.attrs['axes'])!r})"


def broadcast_to(call: Call) -> str:
    return f"{call.bind(np.broadcast_to, 'f')}({call.args[0]}, {tuple(call.attrs['shape'])!r})"


@_on_scalars
def cast(call: Call) -> str:
    source = call.args[0]
    if call.inputs[0].dtype.kind == "c" and call.output.dtype.kind not in "cb":  # the real part, as the forward takes
        source = f"{source}.real"
    if call.scalar:
        return f"{call.bind(call.output.dtype.type, 'f')}({source})"
    return f"{source}.astype({call.bind(call.attrs['dtype'], 'c')})"

"""Complex numbers' parts: ``real``, ``imag``, ``conj``, ``complex(re, im)``, ``view_as_real`` and
``view_as_complex``.

The six are linear, so each vjp is another of them (or a cast): the gradient of a real loss L with respect to a
complex z is dL/dRe(z) + i dL/dIm(z), PyTorch's convention, so ``real``'s gradient is g + 0i, ``imag``'s 0 + ig and
``conj``'s conj(g). Each returns a new tensor where PyTorch returns a view.
"""

from __future__ import annotations

import numpy as np

from ember.backend.dtypes import COMPLEX, complex_of, float32, float64, real_of
from ember.ops import dispatch
from ember.ops.autocast import widened
from ember.ops.convert import CAST, as_tensor, constant
from ember.ops.dispatch import TensorLike
from ember.ops.infer import broadcast_shapes, movement_cost
from ember.ops.modes import on_tensors, vjp_rule
from ember.ops.registry import NO_ONNX, Spec, defop, shape_error
from ember.ops.shape import unbroadcast_with

_PARTS = (float32, float64)  # the dtypes of complex64's and complex128's parts


def _require_complex(name: str, x: Spec) -> None:
    if x.dtype not in COMPLEX:
        raise shape_error(name, [x], "needs a complex input (complex64 or complex128)")


def _zero(run, like):
    """0 of ``like``'s dtype as an op input: a NumPy scalar on arrays, a cached constant on Tensors."""
    return constant(0.0, like.dtype, like) if run is on_tensors else like.dtype.type(0)


def _real_infer(x: Spec) -> Spec:
    _require_complex("real", x)
    return Spec(tuple(x.shape), real_of(x.dtype))


def _imag_infer(x: Spec) -> Spec:
    _require_complex("imag", x)
    return Spec(tuple(x.shape), real_of(x.dtype))


def _conj_infer(x: Spec) -> Spec:
    _require_complex("conj", x)
    return Spec(tuple(x.shape), x.dtype)


def _complex_forward(xp, re, im):
    out = xp.empty(np.broadcast_shapes(np.shape(re), np.shape(im)), complex_of(re.dtype))
    out.real = re
    out.imag = im
    return out


def _complex_infer(re: Spec, im: Spec) -> Spec:
    if re.dtype not in _PARTS or im.dtype != re.dtype:
        raise shape_error("complex", [re, im], "expects real and imag of one dtype, float32 or float64")
    return Spec(broadcast_shapes("complex", [re, im]), complex_of(re.dtype))


def _complex_rule(run, ctx, g):
    re, im = ctx.inputs
    return (unbroadcast_with(run, run(REAL, g), re.shape) if ctx.needs[0] else None,
            unbroadcast_with(run, run(IMAG, g), im.shape) if ctx.needs[1] else None)


def _view_as_real_infer(x: Spec) -> Spec:
    _require_complex("view_as_real", x)
    return Spec(tuple(x.shape) + (2,), real_of(x.dtype))


def _view_as_complex_infer(x: Spec) -> Spec:
    if x.dtype not in _PARTS or x.ndim == 0 or x.shape[-1] not in (2, None):
        raise shape_error("view_as_complex", [x], "expects a float32 or float64 tensor whose last dimension is 2")
    return Spec(tuple(x.shape[:-1]), complex_of(x.dtype))


def _as_real(xp, x):
    """The (..., 2) float view of a complex array's parts; a copy where the array module cannot view it so."""
    if xp is np:
        return x[..., None].view(x.real.dtype)
    return xp.stack([x.real, x.imag], axis=-1)


# views of the parts, as PyTorch's: z.real.mul_(2) and z.imag[0] = 1 write into z
REAL = defop("real", forward=lambda xp, x: x.real, infer=_real_infer,
             vjp=vjp_rule(lambda run, ctx, g: (run(CAST, g, dtype=ctx.inputs[0].dtype),)),
             cost=movement_cost, onnx=NO_ONNX)
IMAG = defop("imag", forward=lambda xp, x: x.imag, infer=_imag_infer,
             vjp=vjp_rule(lambda run, ctx, g: (run(MAKE_COMPLEX, _zero(run, g), g),)), cost=movement_cost, onnx=NO_ONNX)
CONJ = defop("conj", forward=lambda xp, x: xp.conj(x), infer=_conj_infer,
             vjp=vjp_rule(lambda run, ctx, g: (run(CONJ, g),)), cost=movement_cost, onnx=NO_ONNX)
MAKE_COMPLEX = defop("complex", forward=_complex_forward, infer=_complex_infer, vjp=vjp_rule(_complex_rule),
                cost=movement_cost, onnx=NO_ONNX)
VIEW_AS_REAL = defop("view_as_real", forward=_as_real,
                     infer=_view_as_real_infer,
                     vjp=vjp_rule(lambda run, ctx, g: (run(VIEW_AS_COMPLEX, g),)), cost=movement_cost, onnx=NO_ONNX)
VIEW_AS_COMPLEX = defop("view_as_complex", forward=lambda xp, x: _complex_forward(xp, x[..., 0], x[..., 1]),
                        infer=_view_as_complex_infer,
                        vjp=vjp_rule(lambda run, ctx, g: (run(VIEW_AS_REAL, g),)), cost=movement_cost, onnx=NO_ONNX)


class Conjugated:
    """A vjp context with its complex inputs and output conjugated. An op whose real rule multiplies the gradient by
    real-coefficient functions of its inputs and output (its derivative, f'(z)) gives PyTorch's complex gradient,
    g * conj(f'(z)) = g * f'(conj(z)), when that rule runs on this context: the rules of ``linear`` and ``cumprod``
    send complex gradients through it."""

    __slots__ = ("inputs", "needs", "attrs", "output", "residuals")

    def __init__(self, run, ctx, with_output: bool = False):
        """``with_output``: the rule reads the op's output (an op that saves it)."""
        self.inputs = tuple(run(CONJ, x) if x.dtype in COMPLEX else x for x in ctx.inputs)
        self.needs, self.attrs, self.residuals = ctx.needs, ctx.attrs, None
        output = ctx.output if with_output else None
        self.output = run(CONJ, output) if output is not None and output.dtype in COMPLEX else output


def _is_complex(x: TensorLike) -> bool:
    return x.dtype in COMPLEX


def real(x) -> TensorLike:
    """The real part of a complex tensor (float32 of complex64); a real tensor is returned as it is (PyTorch's
    ``torch.real``).

    >>> ember.real(ember.tensor([1 + 2j])).tolist()
    [1.0]
    """
    x = as_tensor(x)
    return dispatch.apply(REAL, (x,)) if _is_complex(x) else x


def imag(x) -> TensorLike:
    """The imaginary part of a complex tensor (``torch.imag``); a real tensor has none and is refused.

    >>> ember.imag(ember.tensor([1 + 2j])).tolist()
    [2.0]
    """
    x = as_tensor(x)
    if not _is_complex(x):
        raise RuntimeError(f"imag: not implemented for tensors with non-complex dtypes, got {x.dtype}"
                           f"{list(x.shape)}")
    return dispatch.apply(IMAG, (x,))


def conj(x) -> TensorLike:
    """The complex conjugate (``torch.conj``; computed at once, so ``is_conj()`` stays False); a real tensor is
    returned as it is. A complex one's conjugate is read-only: PyTorch's is a view, so writes into it reach ``x``,
    and here they would not (``conj_physical`` gives a writable copy).

    >>> ember.conj(ember.tensor([1 + 2j])).tolist()
    [(1-2j)]
    """
    x = as_tensor(x)
    if not _is_complex(x):
        return x
    out = dispatch.apply(CONJ, (x,))
    if isinstance(out.array, np.ndarray):
        out.array.flags.writeable = False
    return out


def conj_physical(x) -> TensorLike:
    """``torch.conj_physical``: the conjugate computed into a new, writable tensor; a real tensor as it is."""
    x = as_tensor(x)
    return dispatch.apply(CONJ, (x,)) if _is_complex(x) else x


def complex(real, imag) -> TensorLike:  # noqa: A001  (torch.complex)
    """The complex tensor real + i imag (``torch.complex``): two float32 or two float64 tensors, broadcast.

    >>> ember.complex(ember.tensor([1.0]), ember.tensor([2.0])).tolist()
    [(1+2j)]
    """
    re, im = as_tensor(real), as_tensor(imag)
    if re.dtype not in _PARTS or im.dtype != re.dtype:
        raise TypeError(f"complex: expected real and imag to be float32 or float64 tensors of one dtype, got "
                        f"{re.dtype}{list(re.shape)} and {im.dtype}{list(im.shape)}")
    return dispatch.apply(MAKE_COMPLEX, (re, im))


def view_as_real(x) -> TensorLike:
    """A complex tensor as a real one with a last dimension of 2 (real, imaginary), ``torch.view_as_real``.

    >>> ember.view_as_real(ember.tensor([1 + 2j])).tolist()
    [[1.0, 2.0]]
    """
    x = as_tensor(x)
    if not _is_complex(x):
        raise RuntimeError(f"view_as_real: expects a complex tensor, got {x.dtype}{list(x.shape)}")
    return dispatch.apply(VIEW_AS_REAL, (x,))


def view_as_complex(x) -> TensorLike:
    """A float32 or float64 tensor whose last dimension is 2 (real, imaginary) as a complex one
    (``torch.view_as_complex``).

    >>> ember.view_as_complex(ember.tensor([[1.0, 2.0]])).tolist()
    [(1+2j)]
    """
    (x,) = widened(as_tensor(x))  # (float32 in an autocast region, as PyTorch's)
    if x.dtype not in _PARTS or x.ndim == 0 or x.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: expects a float32 or float64 tensor whose last dimension is 2, got "
                           f"{x.dtype}{list(x.shape)}")
    out = dispatch.apply(VIEW_AS_COMPLEX, (x,))
    if isinstance(out.array, np.ndarray):  # a copy (PyTorch's is a view of x): writes would not reach x
        out.array.flags.writeable = False
    return out

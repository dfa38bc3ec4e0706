"""``gradcheck`` and ``gradgradcheck`` (PyTorch's ``torch.autograd.gradcheck``): the tape's gradients against
central finite differences.

For each differentiable output and each input that requires grad, the analytical Jacobian is built one output
element at a time with ``grad`` (a one-hot ``grad_outputs``) and the numerical one one input element at a time,
perturbing the input's array in place by ``+-eps``. Both are (input elements, output elements)
matrices, as PyTorch prints them. A complex input or output counts as its real and imaginary parts (a complex
input is perturbed by ``+-eps`` and ``+-eps * 1j``, a complex output seeded with 1 and 1j), so the whole real
Jacobian is checked, the conjugate Wirtinger gradients PyTorch's convention gives included. ``fast_mode`` is
accepted: the full Jacobians are always compared (what PyTorch's slow mode does), a stronger check than fast mode's
random projection.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from ember.autograd.tape import grad
from ember.backend.devices import CPU, move
from ember.backend.dtypes import COMPLEX, complex128, float64
from ember.random import generator
from ember.tensor import Tensor


class GradcheckError(RuntimeError):
    """A gradient check failed (PyTorch's ``torch.autograd.gradcheck.GradcheckError``)."""


def _as_tuple(value) -> tuple:
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    return (value,)


def _differentiable(values: tuple) -> list[int]:
    return [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]


def _host(tensor: Tensor) -> np.ndarray:
    array = move(tensor.array, CPU)
    return np.asarray(array, np.complex128 if array.dtype in COMPLEX else np.float64)


def _parts(t: Tensor) -> int:
    """How many real numbers an element of ``t`` counts as: 2 for a complex one (its real and imaginary parts)."""
    return 2 if t.dtype in COMPLEX else 1


def _flat(values: np.ndarray, parts: int) -> np.ndarray:
    """``values`` as a flat float64 vector, each complex element as its real part then its imaginary part."""
    if parts == 1:
        return values.real.reshape(-1)
    return np.ascontiguousarray(values, np.complex128).reshape(-1).view(np.float64)


def _analytical(outputs: tuple, out_ids: list[int], inputs: list[Tensor]) -> dict:
    """{(output, input): Jacobian (input elements, output elements)} from the tape."""
    jacobians = {}
    for i in out_ids:
        out = outputs[i]
        units = (1, 1j) if _parts(out) == 2 else (1,)
        columns = [np.zeros((x.numel() * _parts(x), out.numel() * len(units))) for x in inputs]
        for j in range(out.numel()):
            for u, unit in enumerate(units):
                one_hot = np.zeros(out.numel(), out.dtype)
                one_hot[j] = unit
                seed = Tensor(one_hot.reshape(out.shape), device=out.device)
                grads = grad(out, inputs, seed, retain_graph=True, allow_unused=True)
                for k, g in enumerate(grads):
                    if g is not None:
                        columns[k][:, j * len(units) + u] = _flat(_host(g), _parts(inputs[k]))
        for k in range(len(inputs)):
            jacobians[i, k] = columns[k]
    return jacobians


def _numerical(func: Callable, args: tuple, outputs: tuple, out_ids: list[int], inputs: list[Tensor],
               eps: float) -> dict:
    """{(output, input): Jacobian (input elements, output elements)} by central differences."""
    jacobians = {}
    for k, x in enumerate(inputs):
        rows = {i: [] for i in out_ids}
        for index in np.ndindex(*x.shape):
            saved = x.array[index].copy()
            for step in (eps, eps * 1j)[:_parts(x)]:
                x.array[index] = saved + step
                plus = _outputs(func, args, out_ids)
                x.array[index] = saved - step
                minus = _outputs(func, args, out_ids)
                x.array[index] = saved
                for i in out_ids:
                    rows[i].append(_flat((plus[i] - minus[i]) / (2 * eps), _parts(outputs[i])))
        for i in out_ids:
            jacobians[i, k] = np.array(rows[i]).reshape(x.numel() * _parts(x), outputs[i].numel() * _parts(outputs[i]))
    return jacobians


def _outputs(func: Callable, args: tuple, out_ids: list[int]) -> dict:
    """{output: its values, copied} of ``func`` at ``args`` (an output may be an input's own array, which the next
    perturbation changes). Recording stays on: ``gradgradcheck``'s function differentiates inside."""
    outputs = _as_tuple(func(*args))
    return {i: _host(outputs[i]).copy() for i in out_ids}


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _matrix(jacobian: np.ndarray, dtype) -> Tensor:
    return Tensor(jacobian.astype(dtype))


def gradcheck(func: Callable, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check ``func``'s gradients for the ``inputs`` that require grad against central finite differences
    (``torch.autograd.gradcheck``): each analytical Jacobian entry ``a`` must satisfy
    ``|a - n| <= atol + rtol * |n|`` for the numerical one ``n``. Inputs should be float64.

    Also checks that two backward passes agree within ``nondet_tol`` and (``check_undefined_grad``) that zero
    output gradients give zero input gradients (Ember's stand-in for PyTorch's undefined ones). Returns True, or
    raises ``GradcheckError`` (False with ``raise_exception=False``). The batched and forward-mode checks are not
    there: asking for one is a ValueError.

    >>> x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    >>> ember.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
    """
    for name, asked in (("check_batched_grad", check_batched_grad),
                        ("check_batched_forward_grad", check_batched_forward_grad),
                        ("check_forward_ad", check_forward_ad)):
        if asked:
            raise ValueError(f"gradcheck: {name}=True is not supported (Ember has no vmap'd or forward-mode "
                             "gradients to check)")
    args = _as_tuple(inputs)
    in_ids = _differentiable(args)
    if not in_ids:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")
    for k in in_ids:
        if args[k].dtype not in (float64, complex128):
            warnings.warn(f"Input #{k} requires gradient and is not a double precision floating point or complex. "
                          "This check will likely fail if all the inputs are not of double precision floating point "
                          "or complex. ", UserWarning, stacklevel=2)
    if not check_backward_ad:
        return True
    diff_inputs = [args[k] for k in in_ids]
    outputs = _as_tuple(func(*args))
    out_ids = _differentiable(outputs)
    if not out_ids:
        return True
    analytical = _analytical(outputs, out_ids, diff_inputs)
    numerical = _numerical(func, args, outputs, out_ids, diff_inputs, eps)
    for (i, k), a in analytical.items():
        n = numerical[i, k]
        if not np.all(np.abs(a - n) <= atol + rtol * np.abs(n)):
            complex_ = _parts(outputs[i]) == 2 or _parts(diff_inputs[k]) == 2
            dtype = float64 if complex_ else outputs[i].dtype
            parts = " (complex elements as their real and imaginary parts)" if complex_ else ""
            return _fail(f"Jacobian mismatch for output {out_ids.index(i)} with respect to input {k}{parts},\n"
                         f"numerical:{_matrix(n, dtype)!r}\nanalytical:{_matrix(a, dtype)!r}\n", raise_exception)
    again = _analytical(outputs, out_ids, diff_inputs)
    for key, a in analytical.items():
        if np.max(np.abs(a - again[key]), initial=0.0) > nondet_tol:
            return _fail("Backward is not reentrant, i.e., running backward with same input and grad_output "
                         "multiple times gives different values, although analytical gradient matches numerical "
                         f"gradient. The tolerance for nondeterminism was {nondet_tol}.", raise_exception)
    if check_grad_dtypes or check_undefined_grad:
        for i in out_ids:
            seed = outputs[i].detach() * 0
            grads = grad(outputs[i], diff_inputs, seed, retain_graph=True, allow_unused=True)
            for k, g in enumerate(grads):
                if g is None:
                    continue
                if check_grad_dtypes and g.dtype != diff_inputs[k].dtype:
                    return _fail(f"Gradient has dtype mismatch: input {k} is {diff_inputs[k].dtype} but its "
                                 f"gradient is {g.dtype}", raise_exception)
                if check_undefined_grad and np.any(_host(g) != 0):
                    return _fail(f"Backward of output {out_ids.index(i)} with a zero output gradient gave a nonzero "
                                 f"gradient for input {k}; a zero (undefined) output gradient must give zeros",
                                 raise_exception)
    return True


def gradgradcheck(func: Callable, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False, masked: bool = False) -> bool:
    """Check the gradients of ``func``'s gradients (``torch.autograd.gradgradcheck``): ``gradcheck`` of the
    function ``(inputs, grad_outputs) -> grad(func(inputs), inputs, grad_outputs, create_graph=True)``.

    Without ``grad_outputs``, random ones in [-1, 1) that require grad are drawn for each differentiable output
    (non-contiguous ones with ``gen_non_contig_grad_outputs``).

    >>> x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    >>> ember.autograd.gradgradcheck(lambda t: t ** 3, (x,))
    True
    """
    if check_fwd_over_rev:
        raise ValueError("gradgradcheck: check_fwd_over_rev=True is not supported (Ember has no forward-mode "
                         "gradients)")
    args = _as_tuple(inputs)
    n_args = len(args)
    if grad_outputs is None:
        outputs = _as_tuple(func(*args))
        grad_outputs = tuple(_random_like(outputs[i], gen_non_contig_grad_outputs) for i in _differentiable(outputs))
    grad_outputs = _as_tuple(grad_outputs)
    in_ids = _differentiable(args)

    def grads_of(*values):
        outs = _as_tuple(func(*values[:n_args]))
        diff_outs = [outs[i] for i in _differentiable(outs)]
        grads = grad(diff_outs, [values[k] for k in in_ids], list(values[n_args:]), create_graph=True,
                     allow_unused=True)
        return tuple(g for g in grads if g is not None)

    if not check_rev_over_rev:
        return True
    return gradcheck(grads_of, args + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
                     nondet_tol=nondet_tol, check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_batched_grad=check_batched_grad, fast_mode=fast_mode)


def _random_like(t: Tensor, noncontiguous: bool) -> Tensor:
    shape = tuple(t.shape)
    strided = noncontiguous and t.numel() > 1
    drawn = shape[:-1] + (2 * shape[-1],) if strided else shape
    values = generator().uniform(-1.0, 1.0, drawn)
    if t.dtype in COMPLEX:
        values = values + 1j * generator().uniform(-1.0, 1.0, drawn)
    values = values.astype(t.dtype)
    out = Tensor._make(move(values[..., ::2] if strided else values, t.device), None)
    return out.requires_grad_(True)


__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]

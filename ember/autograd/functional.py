"""Functional autograd (``torch.autograd.functional``): Jacobians, Hessians and their products with vectors,
computed with reverse-mode gradients of a function's outputs.

Every function takes ``inputs`` as a Tensor or a tuple of Tensors and returns results nested as PyTorch nests
them: a Tensor where the inputs (or outputs) were a Tensor, a tuple where they were a tuple. Forward-mode
products (``jvp``, ``hvp``) are the double-vjp: the gradient of a vjp with respect to its (linear) vector.
Results are detached unless ``create_graph=True``, which records them for higher-order gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ember.autograd.tape import grad
from ember.creation import ones_like, tensor, zeros, zeros_like
from ember.grad_mode import enable_grad
from ember.ops import clone, stack
from ember.tensor import Tensor


def _as_tuple(value, what: str, fn: str) -> tuple[bool, tuple]:
    """(whether ``value`` was a tuple, its Tensors as a tuple), with an error naming ``fn`` otherwise (a list
    included, as in PyTorch)."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, t in enumerate(values):
        if not isinstance(t, Tensor):
            kind = "the " + what if not is_tuple else f"{what}[{i}]"
            raise TypeError(f"{fn}: {kind} must be a Tensor or a tuple of Tensors, got {type(t).__name__}")
    return is_tuple, values


def _unpacked(result, *is_tuple: bool):
    """``result`` (nested tuples) with one level removed for each False in ``is_tuple``: PyTorch's nesting."""
    if len(is_tuple) == 2:
        result = tuple(_unpacked(r, is_tuple[1]) for r in result)
    return result if is_tuple[0] else result[0]


def _prepared(inputs: tuple, create_graph: bool) -> tuple:
    """The inputs as the function sees them: joined to their history when ``create_graph`` (so that results
    differentiate back to them), else fresh leaves that require grad. A joined input is a recorded copy, never the
    input itself, so that the function's other uses of the input (a closure over it) are not taken for uses of
    the argument."""
    return tuple(clone(t) if create_graph and t.requires_grad else t.detach().requires_grad_(True) for t in inputs)


def _called(func: Callable, inputs: tuple, fn: str) -> tuple[bool, tuple]:
    with enable_grad():
        return _as_tuple(func(*inputs), "outputs of the user-provided function", fn)


def _check_v(v, outputs: tuple, what: str, fn: str) -> tuple:
    """``v`` as a tuple matching ``outputs`` (the function's outputs or inputs) in number and shapes."""
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(f"{fn}: v can be None only when the {what} is a single Tensor with a single element")
        if outputs[0].dtype.kind == "c":
            raise RuntimeError(f"{fn}: v can be None only for a real {what}, got {outputs[0].dtype} (as PyTorch, a "
                               "gradient is created implicitly only for real scalars); pass v")
        return (ones_like(outputs[0]),)
    _, v = _as_tuple(v, "v", fn)
    if len(v) != len(outputs):
        raise RuntimeError(f"{fn}: v has {len(v)} Tensors, but the {what} has {len(outputs)}")
    for i, (a, b) in enumerate(zip(v, outputs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{fn}: mismatch in shape: v[{i}] has shape {list(a.shape)} while the {what} "
                               f"[{i}] has shape {list(b.shape)}")
    return v


def _vjp(outputs: tuple, inputs: tuple, v: tuple, create_graph: bool, strict: bool, fn: str) -> tuple:
    """The gradients of ``outputs`` weighted by ``v`` for each input; zeros (or, ``strict``, an error) where an
    input does not reach them."""
    pairs = [(o, g) for o, g in zip(outputs, v) if o.requires_grad]
    if strict and len(pairs) < len(outputs):
        i = next(i for i, o in enumerate(outputs) if not o.requires_grad)
        raise RuntimeError(f"{fn}: output {i} of the user-provided function does not require gradients; in strict "
                           "mode the outputs must be computed in a differentiable manner from the inputs")
    if pairs:
        with enable_grad():
            grads = grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph=True,
                         create_graph=create_graph, allow_unused=True)
    else:
        grads = (None,) * len(inputs)
    results = []
    for i, (g, t) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: the output of the user-provided function is independent of input {i}; "
                                   "this is not allowed in strict mode")
            g = zeros_like(t)
        results.append(g)
    return tuple(results)


def _done(values: tuple, create_graph: bool) -> tuple:
    return values if create_graph else tuple(t.detach() for t in values)


def _probe_cotangent(out: Tensor) -> Tensor:
    """The cotangent ``u`` at which a double-vjp takes the vjp ``u -> J^T u`` it differentiates. Any ``u`` gives
    the same derivative, the vjp being linear in it, but a gradient rule may be differentiable in its cotangent
    only where that is non-zero (logcumsumexp's takes log |g|): so not zeros, but fixed values in [0.5, 1.5)."""
    values = np.random.default_rng(0).uniform(0.5, 1.5, tuple(out.shape))
    return tensor(values, dtype=out.dtype, device=out.device, requires_grad=True)


def _double_vjp(outputs: tuple, inputs: tuple, v: tuple, create_graph: bool, strict: bool, fn: str) -> tuple:
    """The Jacobian of ``outputs`` times ``v`` (one tangent per input): the gradient of the vjp ``u -> J^T u``
    (linear in ``u``) with respect to ``u``, weighted by ``v``."""
    us = tuple(_probe_cotangent(o) for o in outputs)
    grads = _vjp(outputs, inputs, us, True, strict, fn)
    pairs = [(g, t) for g, t in zip(grads, v) if g.requires_grad]
    if pairs:
        with enable_grad():
            results = grad([g for g, _ in pairs], list(us), [t for _, t in pairs], retain_graph=True,
                           create_graph=create_graph, allow_unused=True)
    else:
        results = (None,) * len(us)
    out = []
    for i, (r, o) in enumerate(zip(results, outputs)):
        if r is None:
            if strict:
                raise RuntimeError(f"{fn}: output {i} of the user-provided function is independent of the inputs; "
                                   "this is not allowed in strict mode")
            r = zeros_like(o)
        out.append(r)
    return tuple(out)


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), v^T J)``: the vector-Jacobian product, shaped like ``inputs``.

    >>> x = ember.tensor([1.0, 2.0])
    >>> ember.autograd.functional.vjp(lambda x: x ** 2, x, ember.ones(2))[1]   # 2x
    """
    fn = "vjp"
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepared(inputs, create_graph)
    is_outputs_tuple, outputs = _called(func, inputs, fn)
    v = _check_v(v, outputs, "output of the user-provided function", fn)
    result = _done(_vjp(outputs, inputs, v, create_graph, strict, fn), create_graph)
    return _unpacked(_done(outputs, create_graph), is_outputs_tuple), _unpacked(result, is_inputs_tuple)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), J v)``: the Jacobian-vector product, shaped like the outputs (the double-vjp).

    >>> x = ember.tensor([1.0, 2.0])
    >>> ember.autograd.functional.jvp(lambda x: x ** 2, x, ember.ones(2))[1]   # 2x
    """
    fn = "jvp"
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepared(inputs, create_graph)
    v = _check_v(v, inputs, "input", fn)
    is_outputs_tuple, outputs = _called(func, inputs, fn)
    result = _done(_double_vjp(outputs, inputs, v, create_graph, strict, fn), create_graph)
    return _unpacked(_done(outputs, create_graph), is_outputs_tuple), _unpacked(result, is_outputs_tuple)


_STRATEGIES = ("reverse-mode", "forward-mode")


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for an output of shape S and an input of shape T, a Tensor of
    shape S + T; a tuple over the inputs and/or outputs where those are tuples (outputs outside).

    ``vectorize`` and ``strategy`` are accepted as in PyTorch, with its checks; the rows are computed one
    reverse-mode gradient each whatever they say, with the same values.

    >>> ember.autograd.functional.jacobian(lambda x: x ** 2, ember.tensor([1.0, 2.0]))   # diag(2x)
    """
    fn = "jacobian"
    if strategy not in _STRATEGIES:
        raise ValueError(f"{fn}: expected strategy to be either \"forward-mode\" or \"reverse-mode\", got {strategy!r}")
    if strategy == "forward-mode":
        if not vectorize:
            raise ValueError(f"{fn}: strategy=\"forward-mode\" requires vectorize=True")
        if create_graph:
            raise NotImplementedError(f"{fn}: create_graph=True and strategy=\"forward-mode\" are not supported "
                                      "together (as in PyTorch)")
    if strict and vectorize:
        raise RuntimeError(f"{fn}: strict=True and vectorize=True are not supported together; set vectorize=False")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepared(inputs, create_graph)
    is_outputs_tuple, outputs = _called(func, inputs, fn)
    rows = [_jacobian_of(out, i, inputs, create_graph, strict, vectorize, fn) for i, out in enumerate(outputs)]
    return _unpacked(tuple(_done(r, create_graph) for r in rows), is_outputs_tuple, is_inputs_tuple)


def _jacobian_of(out: Tensor, index: int, inputs: tuple, create_graph: bool, strict: bool, vectorize: bool,
                 fn: str) -> tuple:
    """The Jacobian of one output with respect to each input: one gradient per output element, stacked. The rows of
    a complex output are gradients of its real parts (conjugates, not the derivative of a holomorphic function),
    which PyTorch gives only with ``vectorize=True``, and refuses without it."""
    n = out.numel()
    if n == 0 or not out.requires_grad:
        if strict and not out.requires_grad:
            raise RuntimeError(f"{fn}: output {index} of the user-provided function does not require gradients; in "
                               "strict mode the outputs must be computed in a differentiable manner from the inputs")
        return tuple(zeros((*out.shape, *t.shape), dtype=t.dtype, device=t.device) for t in inputs)
    if out.dtype.kind == "c" and not vectorize:
        raise RuntimeError(f"{fn}: output {index} of the user-provided function is complex ({out.dtype}"
                           f"{list(out.shape)}); as in PyTorch, a gradient is created implicitly only for real "
                           "outputs (vectorize=True gives the gradients of the real parts, conjugated derivatives); "
                           "take the real and imaginary parts (view_as_real)")
    flat = out.reshape(-1)
    per_input: list[list] = [[] for _ in inputs]
    for j in range(n):
        onehot = zeros(n, dtype=out.dtype, device=out.device)
        onehot.array[j] = 1
        with enable_grad():
            grads = grad([flat], list(inputs), [onehot], retain_graph=True, create_graph=create_graph,
                         allow_unused=True)
        for k, (g, t) in enumerate(zip(grads, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"{fn}: output {index} of the user-provided function is independent of input "
                                       f"{k}; this is not allowed in strict mode")
                g = zeros_like(t)
            per_input[k].append(g)
    return tuple(stack(rows).reshape(*out.shape, *t.shape) for rows, t in zip(per_input, inputs))


def _single_output(func: Callable, fn: str) -> Callable:
    """``func`` checked to return one Tensor of one element."""

    def checked(*inputs):
        out = func(*inputs)
        if isinstance(out, tuple):
            if len(out) != 1:
                raise RuntimeError(f"{fn}: the function should return a single Tensor, got {len(out)} outputs")
            out = out[0]
        if not isinstance(out, Tensor):
            raise TypeError(f"{fn}: the function should return a Tensor, got {type(out).__name__}")
        if out.numel() != 1:
            raise RuntimeError(f"{fn}: the Tensor returned by the function should contain a single element, got "
                               f"shape {list(out.shape)}")
        return out.reshape(())

    return checked


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: for inputs of shapes T1, T2 a Tensor of shape T + T (one input) or a
    tuple of tuples, entry [i][j] of shape Ti + Tj.

    >>> ember.autograd.functional.hessian(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]))   # diag(6x)
    """
    fn = "hessian"
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    for i, t in enumerate(inputs if not vectorize else ()):
        if t.dtype.kind == "c":
            raise RuntimeError(f"{fn}: input {i} is complex ({t.dtype}{list(t.shape)}): its gradient is complex, "
                               "whose Jacobian PyTorch refuses without vectorize=True; take the real and imaginary "
                               "parts (view_as_real)")
    single = _single_output(func, fn)

    def gradient(*inp):
        return jacobian(single, inp, create_graph=True, strict=strict, vectorize=vectorize)

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _unpacked(result, is_inputs_tuple, is_inputs_tuple)


def _scalar_gradient(func: Callable, inputs, v, create_graph: bool, strict: bool, fn: str):
    """The parts ``vhp`` and ``hvp`` share: the inputs, the function's value, its recorded gradient and ``v``."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepared(inputs, create_graph)
    _, outputs = _called(_single_output(func, fn), inputs, fn)
    v = _check_v(v, inputs, "input", fn)
    if strict and not outputs[0].requires_grad:
        raise RuntimeError(f"{fn}: the output of the user-provided function does not require gradients; in strict "
                           "mode it must be computed in a differentiable manner from the inputs")
    gradient = _vjp(outputs, inputs, (ones_like(outputs[0]),), True, strict, fn)
    return is_inputs_tuple, inputs, outputs[0], gradient, v


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), v^T H)`` for a scalar function, shaped like ``inputs``.

    >>> ember.autograd.functional.vhp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.ones(2))[1]   # 6x
    """
    fn = "vhp"
    is_inputs_tuple, inputs, out, gradient, v = _scalar_gradient(func, inputs, v, create_graph, strict, fn)
    result = _vjp(gradient, inputs, v, create_graph, strict, fn)
    return _done((out,), create_graph)[0], _unpacked(_done(result, create_graph), is_inputs_tuple)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(*inputs), H v)`` for a scalar function, shaped like ``inputs`` (the double-vjp of its gradient).

    >>> ember.autograd.functional.hvp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.ones(2))[1]   # 6x
    """
    fn = "hvp"
    is_inputs_tuple, inputs, out, gradient, v = _scalar_gradient(func, inputs, v, create_graph, strict, fn)
    result = _double_vjp(gradient, inputs, v, create_graph, strict, fn)
    return _done((out,), create_graph)[0], _unpacked(_done(result, create_graph), is_inputs_tuple)

"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``), in eager mode.

As in PyTorch, a hooked call passes its tensor inputs and its outputs through identity ops, and Tensor hooks on
those ops' results call the module's hooks with the gradients: the pre-hooks once the outputs' gradients are
known, the hooks once the inputs' are. Only these identity nodes carry hooks: a backward that meets none keeps
its fast array path.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ember.autograd import apply, is_grad_enabled
from ember.creation import zeros_like
from ember.ops.shape import RESHAPE
from ember.tensor import Tensor


def _identity(t: Tensor) -> Tensor:
    """``t`` through a recorded op that changes nothing (a reshape to its own shape: a view, no copy)."""
    return apply(RESHAPE, (t,), {"shape": tuple(t.shape)})


class _Gate:
    """Hands the gradients of several tensors to ``on_all(grads) -> grads`` together, once all are known.

    Each tensor passes through two identity ops. The backward reaches the outer ones first (they were made last)
    and their hooks record the gradients; the first post-hook of an inner one's node then calls ``on_all``,
    before any gradient has gone further, and each hands on its tensor's replacement (None: no gradient, as
    PyTorch's)."""

    __slots__ = ("on_all", "grads", "results", "left")

    def __init__(self, on_all: Callable[[tuple], tuple], n: int):
        self.on_all, self.grads, self.results, self.left = on_all, [None] * n, None, 0

    def wrap(self, tensors: list[Tensor]) -> list[Tensor]:
        inner = [_identity(t) for t in tensors]
        outer = [_identity(t) for t in inner]
        for i, (a, b) in enumerate(zip(inner, outer)):
            b.register_hook(partial(self._record, i))
            a.grad_fn.register_hook(partial(self._release, i))
        return outer

    def _record(self, i: int, grad: Tensor) -> None:
        self.grads[i] = grad

    def _release(self, i: int, grad_inputs: tuple, grad_outputs: tuple) -> tuple:
        if self.results is None:
            self.results = tuple(self.on_all(tuple(self.grads)))
            self.left = sum(g is not None for g in self.grads)
        result = self.results[i]
        self.left -= 1
        if not self.left:  # this backward is done with the gate: a later one (retain_graph) starts afresh
            self.grads, self.results = [None] * len(self.grads), None
        return (result,)


def _tensor_places(values: tuple) -> list[int]:
    """Where ``values`` holds Tensors that require grad."""
    return [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]


def _spread(places: list[int], grads: tuple, n: int) -> tuple:
    """``grads`` of the values at ``places`` as a tuple of ``n``, None elsewhere."""
    full = [None] * n
    for i, g in zip(places, grads):
        full[i] = g
    return tuple(full)


def _checked(module, what: str, result, given: tuple) -> tuple:
    """``result``, a hook's replacement of the gradients ``given``, refused unless it has one per entry, each
    None or of its entry's shape and dtype."""
    if len(result) != len(given):
        raise RuntimeError(f"Backward {what} returned an invalid number of gradients, got {len(result)}, "
                           f"but expected {len(given)}")
    for i, (new, old) in enumerate(zip(result, given)):
        if new is None or old is None:
            continue
        if not isinstance(new, Tensor) or tuple(new.shape) != tuple(old.shape) or new.dtype != old.dtype:
            got = f"{new.dtype}{list(new.shape)}" if isinstance(new, Tensor) else type(new).__name__
            raise RuntimeError(f"{module._get_name()}: backward {what} returned {got} as gradient {i}, which is "
                               f"{old.dtype}{list(old.shape)}")
    return tuple(result)


class BackwardHook:
    """One hooked call of ``module``: gates on its inputs and outputs that call its backward hooks."""

    __slots__ = ("module", "hooks", "pre_hooks", "n_inputs", "input_places", "constant_inputs", "n_outputs",
                 "output_places", "grad_outputs")

    def __init__(self, module, hooks: tuple, pre_hooks: tuple):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.n_inputs, self.input_places, self.constant_inputs, self.grad_outputs = 0, [], (), None

    def setup_inputs(self, args: tuple) -> tuple:
        """``args`` with the Tensors that require grad passed through a gate that calls the hooks."""
        self.n_inputs = len(args)
        self.input_places = _tensor_places(args) if is_grad_enabled() else []
        if not self.input_places:
            return args
        # Tensors that do not require grad: zeros in the hooks' grad_input, as PyTorch's (its gate materializes them)
        self.constant_inputs = tuple((i, a) for i, a in enumerate(args)
                                     if isinstance(a, Tensor) and i not in self.input_places)
        gated = _Gate(self._on_input_grads, len(self.input_places)).wrap([args[i] for i in self.input_places])
        args = list(args)
        for i, t in zip(self.input_places, gated):
            args[i] = t
        return tuple(args)

    def setup_outputs(self, output):
        """``output`` (a Tensor or a tuple) with its Tensors that require grad passed through a gate that calls
        the pre-hooks (and the hooks, when no input requires grad)."""
        single = isinstance(output, Tensor)
        values = (output,) if single else output
        places = _tensor_places(values) if isinstance(values, tuple) and is_grad_enabled() else []
        if not places:
            return output
        self.n_outputs, self.output_places = len(values), places
        gated = _Gate(self._on_output_grads, len(places)).wrap([values[i] for i in places])
        values = list(values)
        for i, t in zip(places, gated):
            values[i] = t
        return values[0] if single else tuple(values)

    def _on_output_grads(self, grads: tuple) -> tuple:
        grad_outputs = _spread(self.output_places, grads, self.n_outputs)
        for hook in self.pre_hooks:
            result = hook(self.module, grad_outputs)
            if result is not None:
                grad_outputs = _checked(self.module, "pre hook",
                                        (result,) if isinstance(result, Tensor) else result, grad_outputs)
        self.grad_outputs = grad_outputs
        if not self.input_places:  # no input gate will fire: the hooks see None for every input now
            self._call_hooks_without_inputs()
        return tuple(grad_outputs[i] for i in self.output_places)

    def _call_hooks_without_inputs(self) -> None:
        grad_inputs = (None,) * self.n_inputs
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None and not all(g is None for g in result):
                raise RuntimeError("Backward hook for Modules where no input requires gradient should always "
                                   "return None or None for all gradients.")
        self.grad_outputs = None

    def _on_input_grads(self, grads: tuple) -> tuple:
        if self.grad_outputs is None:  # a backward that did not come through the outputs
            return grads
        grad_inputs = _spread(self.input_places, grads, self.n_inputs)
        if self.constant_inputs:
            grad_inputs = list(grad_inputs)
            for i, a in self.constant_inputs:
                grad_inputs[i] = zeros_like(a)
            grad_inputs = tuple(grad_inputs)
        for hook in self.hooks:
            result = hook(self.module, grad_inputs, self.grad_outputs)
            if result is not None:
                grad_inputs = _checked(self.module, "hook", result, grad_inputs)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_places)

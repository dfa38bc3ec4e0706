"""``ember.compile``, PyTorch's ``torch.compile``: a function through ``ember.jit``; a module wrapped in an
``OptimizedModule`` whose calls run the jit-compiled module (its parameters appear under ``_orig_mod.``, as in
PyTorch's ``state_dict``).

``ember.jit`` takes positional arguments; a compiled function or module called with keyword arguments runs a
jit function of its own for each set of keyword names, which passes them on by name.

``ember.jit``'s results are not on the autograd tape: a compiled training step holds its own backward. So a
compiled module called where its result will be differentiated (gradients enabled and a parameter or an argument
requiring grad) runs its forward eagerly, with a warning the first time; under ``no_grad``, in evaluation with
frozen parameters or in a jit-compiled training step that calls it, it runs compiled. A compiled function whose
trace finds a result requiring grad and no backward of its own does the same: from then on it runs eagerly while
gradients are enabled, so a backward outside it reaches its inputs, as PyTorch's.

>>> model = ember.compile(model)            # or @ember.compile on a function
>>> with ember.no_grad():
...     predictions = model(x)              # compiled
>>> step = ember.compile(train_step)        # a whole step, backward and optimizer included: compiled
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from ember.autograd import is_grad_enabled
from ember.graph.ir import current
from ember.jit import JitFunction, RecordedResults, jit
from ember.nn.module import Module, note_call
from ember.tensor import Tensor

__all__ = ["CompiledFunction", "OptimizedModule", "compile", "compile_module"]

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_EAGER_BACKENDS = ("eager", "aot_eager", "aot_eager_decomp_partition", "aot_eager_default_partitioner", "eager_debug",
                   "pre_dispatch_eager")
_BACKENDS = (*_EAGER_BACKENDS, "inductor", "cudagraphs", "onnxrt", "openxla", "openxla_eval", "tvm", "ts", "aot_ts")


class CompiledFunction(JitFunction):
    """``ember.jit(fn)`` that takes keyword arguments too, as a function from ``torch.compile`` does."""

    def __init__(self, fn: Callable, dynamic: bool | None, fullgraph: bool = False):
        super().__init__(fn, dynamic=dynamic)
        self.fullgraph = fullgraph
        self.graph_break: str | None = None  # why the function runs eagerly (a value read while tracing)
        self._by_keywords = {}  # (number of positional arguments, keyword names) -> a jit function
        self.eager_when_recorded = True  # (jit's RecordedResults: the results belong on the autograd tape)
        self._recorded = False  # whether a trace's results did: then calls with gradients enabled run eagerly

    def __call__(self, *args, **kwargs):
        if self.graph_break is not None or (self._recorded and is_grad_enabled()):
            return self.fn(*args, **kwargs)
        try:
            if not kwargs:
                return super().__call__(*args)
            key = (len(args), tuple(kwargs))
            compiled = self._by_keywords.get(key)
            if compiled is None:
                compiled = self._by_keywords[key] = jit(_by_name(self.fn, *key), dynamic=self.dynamic)
                compiled.eager_when_recorded = True
            return compiled(*args, *kwargs.values())
        except RecordedResults:
            if current() is not None:
                raise
            self._recorded = True
            warnings.warn(f"ember.compile: {self.__name__}'s result is recorded for a backward outside the compiled "
                          "code, so it runs eagerly while gradients are enabled; compile the whole training step "
                          "(backward included) to compile its backward too", stacklevel=2)
            return self.fn(*args, **kwargs)
        except TypeError as exc:
            if self.fullgraph or current() is not None:  # (inside another trace: that one breaks)
                raise
            return self._break(exc, args, kwargs)

    def _break(self, exc: TypeError, args: tuple, kwargs: dict):
        """torch.compile's graph break (``fullgraph=False``): the trace needed a value (``.item()``, a branch on
        a Tensor, an argument jit refuses), so the function runs eagerly, from now on; an error the eager call
        raises too is the function's own and is raised as it is."""
        out = self.fn(*args, **kwargs)
        self.graph_break = str(exc)
        warnings.warn(f"ember.compile: {self.__name__} runs eagerly from now on (a graph break: {exc}); "
                      "fullgraph=True raises instead", stacklevel=3)
        return out


def _by_name(fn: Callable, positional: int, names: tuple) -> Callable:
    """``fn`` taking its keyword arguments ``names`` as positional ones after the first ``positional``."""

    def call(*values):
        return fn(*values[:positional], **dict(zip(names, values[positional:])))

    call.__name__ = getattr(fn, "__name__", "compiled")
    call.__wrapped__ = fn  # (whose closure cells and globals a trace guards)
    return call


class OptimizedModule(Module):
    """``module`` whose calls run through ``ember.jit`` (``_orig_mod`` is the module itself)."""

    def __init__(self, module: Module, dynamic: bool | None, fullgraph: bool = False):
        super().__init__()
        self._orig_mod = module
        object.__setattr__(self, "_compiled", CompiledFunction(module, dynamic, fullgraph))
        object.__setattr__(self, "_warned", False)

    def forward(self, *args, **kwargs):
        if is_grad_enabled() and self._recorded(args, kwargs):
            if not self._warned:
                object.__setattr__(self, "_warned", True)
                warnings.warn(f"ember.compile: {type(self._orig_mod).__name__}'s result is recorded for a backward "
                              "outside the compiled code, so its forward runs eagerly; compile the whole training "
                              "step (ember.compile(train_step)) to compile its backward too", stacklevel=2)
            return self._orig_mod(*args, **kwargs)
        return self._compiled(*args, **kwargs)

    def _recorded(self, args: tuple, kwargs: dict) -> bool:
        """Whether a parameter or a Tensor argument requires grad (the result goes on the tape)."""
        if any(isinstance(a, Tensor) and a.requires_grad for a in (*args, *kwargs.values())):
            return True
        return any(p.requires_grad for p in self._orig_mod.parameters())

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)

    # As PyTorch's OptimizedModule: the mode, attribute writes and len() are the original module's.
    @property
    def training(self) -> bool:
        return self._orig_mod.training

    @training.setter
    def training(self, mode: bool) -> None:
        module = self.__dict__.get("_modules", {}).get("_orig_mod")
        if module is not None:  # (Module.__init__ sets it before there is a module to set it on)
            module.training = mode

    def __setattr__(self, name: str, value) -> None:
        if name == "_orig_mod" or hasattr(type(self), name):
            super().__setattr__(name, value)
        else:
            setattr(self._orig_mod, name, value)

    def __delattr__(self, name: str) -> None:
        if name == "_orig_mod" or hasattr(type(self), name):
            super().__delattr__(name)
        else:
            delattr(self._orig_mod, name)

    def __len__(self) -> int:
        return len(self._orig_mod)


def compile_module(module: Module, *args, **kwargs) -> None:
    """``Module.compile(**options)`` (PyTorch's in-place form): the module's calls run through ``ember.compile``'s
    jit function where no gradient is wanted and eagerly where one is, as an ``OptimizedModule``'s do; its
    parameters, buffers and ``state_dict`` keys stay as they are."""
    compiled = compile(_OwnForward(module), *args, **kwargs)
    if compiled.__class__ is _OwnForward:  # backend="eager" or disable=True: nothing to compile
        module.__dict__.pop("forward", None)
        return
    recorded = OptimizedModule._recorded

    def forward(*call_args, **call_kwargs):
        if is_grad_enabled() and recorded(_Holder(module), call_args, call_kwargs):
            return type(module).forward(module, *call_args, **call_kwargs)
        return compiled(*call_args, **call_kwargs)

    module.__dict__["forward"] = forward


class _OwnForward:
    """The module's class forward, bound: what ``Module.compile`` traces (the instance's ``forward`` is the
    compiled one)."""

    def __init__(self, module: Module):
        self.module = module
        self.__name__ = f"{type(module).__name__}.forward"

    def __call__(self, *args, **kwargs):
        note_call(self.module)  # a trace follows the module's own parameters and buffers, as a called module's
        return type(self.module).forward(self.module, *args, **kwargs)


class _Holder:
    """What ``OptimizedModule._recorded`` reads: ``_orig_mod``."""

    def __init__(self, module: Module):
        self._orig_mod = module


def compile(model: Callable | None = None, *, fullgraph: bool = False, dynamic: bool | None = None,  # noqa: A001
            backend="inductor", mode: str | None = None, options: dict | None = None, disable: bool = False):
    """``torch.compile``: ``model`` (a module or a function) compiled by ``ember.jit``; usable as a decorator with
    or without arguments. A call whose trace needs a value (``.item()``, an ``if`` on a Tensor) is a graph break:
    with ``fullgraph=False`` the function runs eagerly from then on, with a warning; ``fullgraph=True`` raises.
    ``mode`` and ``options`` are checked and accepted; ``backend="eager"`` and ``disable=True`` return ``model``
    itself."""
    if mode not in _MODES:
        raise RuntimeError(f"compile: unrecognized mode={mode!r}; expected one of {[m for m in _MODES if m]}")
    if mode is not None and options is not None:
        raise RuntimeError("compile: either mode or options can be specified, not both")
    if not (isinstance(backend, str) or callable(backend)):
        raise TypeError(f"compile: backend must be a string or a callable, got {type(backend).__name__}")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise RuntimeError(f"compile: invalid backend {backend!r}; expected a callable or one of {list(_BACKENDS)}")

    def wrap(target: Callable):
        if not callable(target):
            raise TypeError(f"compile: expected a callable or a Module, got {type(target).__name__}")
        if disable or backend in _EAGER_BACKENDS:
            return target
        if isinstance(target, Module):
            return OptimizedModule(target, dynamic, fullgraph)
        return CompiledFunction(target, dynamic, fullgraph)

    return wrap if model is None else wrap(model)

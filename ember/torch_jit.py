"""``torch.jit`` on Ember: ``ember.jit`` (a function: ``ember.jit(fn)`` compiles ``fn``) also carries PyTorch's
``torch.jit`` names, so that model code and scripts written for PyTorch run unchanged.

- ``ember.jit.trace(module, example_inputs)`` runs the module through ``ember.jit`` once on the example (compared
  with the eager result, as ``check_trace`` asks: a difference is a ``TracerWarning``, as in PyTorch) and returns
  a ``ScriptModule``: the same parameters and state-dict keys, calls compiled where no gradient is wanted and eager
  where one is (Ember's compiled code is not on the autograd tape). A module ``ember.jit`` cannot compile runs
  eagerly, with a ``TracerWarning``.
- ``ember.jit.script(module_or_fn)`` keeps the Python code as it is (scripting keeps control flow): the module
  wrapped in a ``ScriptModule`` that runs it eagerly, a function in a ``ScriptFunction``.
- ``save``/``load``: a traced module is written as an Ember model file (``ember.export.save_model``: its
  inference graph with the weights, traced in evaluation mode on the example inputs); ``load`` gives a
  ``LoadedModule`` that runs that graph. A scripted module has no example inputs: pass ``example_inputs=``.
- The decorators and queries model code calls (``ignore``, ``unused``, ``export``, ``interface``,
  ``is_scripting``, ``is_tracing``, ``annotate``, ``Final``, ``fork``/``wait``, ``freeze``...) keep the
  eager meaning of the code they mark, which is what those names promise in PyTorch too.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
import typing
import warnings
from collections.abc import Callable

import numpy as np

from ember.autograd import building, is_grad_enabled, no_grad
from ember.jit import JitFunction
from ember.nn.module import Module
from ember.runtime.function import GraphFunction
from ember.tensor import Tensor
from ember.torch_compile import CompiledFunction

__all__ = [
    "Attribute", "Error", "Final", "Future", "LoadedModule", "ScriptFunction", "ScriptModule", "TracerWarning",
    "annotate", "enable_onednn_fusion", "export", "fork", "freeze", "ignore", "interface", "is_scripting",
    "is_tracing", "load", "onednn_fusion_enabled", "optimize_for_inference", "save", "script", "script_if_tracing",
    "set_fusion_strategy", "strict_fusion", "trace", "trace_module", "unused", "wait",
]

Final = typing.Final


def _export():
    """``ember.export`` (model files), a layer above this one: loaded on first use, as ``ember`` loads it."""
    return importlib.import_module("ember.export")


class TracerWarning(Warning):
    """A trace that may not generalize, or a module that runs eagerly because it could not be compiled."""


class Error(RuntimeError):
    """``torch.jit.Error``: an error raised by compiled code."""


def _as_tuple(example_inputs) -> tuple:
    if example_inputs is None:
        return ()
    return example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)


def _outputs(result) -> list:
    """The Tensors of a call's result (a Tensor, or nested tuples, lists and dicts of them), in order."""
    if isinstance(result, Tensor):
        return [result]
    if isinstance(result, dict):
        return [t for value in result.values() for t in _outputs(value)]
    if isinstance(result, (list, tuple)):
        return [t for value in result for t in _outputs(value)]
    return []


class ScriptModule(Module):
    """A traced or scripted module: the original module's parameters, buffers and submodules under the same
    names (its ``state_dict`` has the original's keys), its calls compiled (traced) or eager (scripted)."""

    def __init__(self, module: Module, example_inputs: tuple = (), compiled: JitFunction | None = None):
        super().__init__()
        for name in ("_parameters", "_buffers", "_modules"):  # shared: one set of weights, seen from both
            object.__setattr__(self, name, getattr(module, name))
        object.__setattr__(self, "original_module", module)
        object.__setattr__(self, "_example_inputs", tuple(example_inputs))
        object.__setattr__(self, "_compiled", compiled)
        self.training = module.training

    def forward(self, *args, **kwargs):
        compiled = self._compiled
        if compiled is None or kwargs or (is_grad_enabled() and self._recorded(args)):
            return self.original_module(*args, **kwargs)
        return compiled(*args)

    def _recorded(self, args: tuple) -> bool:
        """Whether the call's result goes on the autograd tape (a Tensor argument or a parameter requires grad)."""
        return any(isinstance(a, Tensor) and a.requires_grad for a in args) or any(
            p.requires_grad for p in self.parameters())

    def train(self, mode: bool = True) -> ScriptModule:
        self.original_module.train(mode)
        self.training = mode
        return self

    @property
    def graph(self):
        """The inference graph of the module on its example inputs (``ember.export.trace``)."""
        return _export().trace(self.original_module, self._examples("graph"))

    @property
    def code(self) -> str:
        """The inference graph as text."""
        return str(self.graph)

    def save(self, f, example_inputs=None, **_ignored) -> None:
        """Write the module's inference graph with its weights to ``f`` (a path), an Ember model file that
        ``ember.jit.load`` (or ``ember.export.load_model``) reads back; its batch size is free where the graph
        allows."""
        examples = _as_tuple(example_inputs) or self._examples("save")
        _export().save_model(_batch_free_graph(self.original_module, examples), (), f)

    def _examples(self, what: str) -> tuple:
        if not self._example_inputs:
            raise RuntimeError(
                f"ScriptModule.{what}: a scripted module has no example inputs to trace its graph on; use "
                f"ember.jit.trace(module, example_inputs) or pass example_inputs= to {what}")
        return self._example_inputs

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["original_module"], name)

    def extra_repr(self) -> str:
        return f"original_name={type(self.original_module).__name__}"


class ScriptFunction:
    """``torch.jit.script`` of a function: the function itself, run as Python."""

    def __init__(self, fn: Callable):
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "script_function")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def save(self, f, example_inputs=None, **_ignored) -> None:
        """Write the function's graph on ``example_inputs`` to ``f`` as an Ember model file."""
        if example_inputs is None:
            raise RuntimeError(f"ScriptFunction.save: {self.__name__} needs example_inputs= to trace its graph on")
        _export().save_model(_batch_free_graph(self.fn, _as_tuple(example_inputs)), (), f)


def _batch_free_graph(fn, examples: tuple):
    """The inference graph of ``fn`` on ``examples``, taking any batch size where the graph allows (as a traced
    PyTorch module does), else the examples' shapes."""
    graph = _export().trace(fn, examples)
    try:
        return _export().with_dynamic_batch(graph)
    except ValueError:
        return graph


def _check_trace(name: str, compiled, eager_fn, examples: tuple, tolerance: float) -> None:
    """Refuse a trace that gives another number of results than the eager call on the example inputs; warn, as
    PyTorch does, where a result differs (dropout in training mode draws other numbers: not an error)."""
    with no_grad():
        ours, reference = _outputs(compiled(*examples)), _outputs(eager_fn(*examples))
    if len(ours) != len(reference):
        raise Error(f"trace: {name} gives {len(reference)} tensors eagerly and {len(ours)} compiled")
    for i, (a, b) in enumerate(zip(ours, reference)):
        a, b = np.asarray(a.detach().numpy()), np.asarray(b.detach().numpy())
        if a.shape != b.shape or not np.allclose(a, b, rtol=tolerance, atol=tolerance, equal_nan=True):
            warnings.warn(f"trace: output {i} of {name} differs between the compiled trace and eager execution "
                          f"(shapes {list(a.shape)} and {list(b.shape)}); the trace may not generalize",
                          TracerWarning, stacklevel=3)


def _by_position(func, example_kwarg_inputs: dict) -> tuple:
    """``example_kwarg_inputs`` as positional arguments in the order of ``func``'s (a module's ``forward``'s)
    parameters, defaults filled in between: PyTorch passes them by name, whatever the dict's order."""
    target = func.forward if isinstance(func, Module) else func
    try:
        bound = inspect.signature(target).bind(**example_kwarg_inputs)
    except TypeError as exc:
        raise TypeError(f"trace: example_kwarg_inputs {list(example_kwarg_inputs)} do not fit the parameters of "
                        f"{getattr(target, '__name__', type(func).__name__)}: {exc}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError(f"trace: example_kwarg_inputs {list(bound.kwargs)} are keyword-only parameters, which a "
                        "trace cannot pass by position")
    return tuple(bound.args)


def trace(func, example_inputs=None, optimize=None, check_trace: bool = True, check_inputs=None,
          check_tolerance: float = 1e-5, strict: bool = True, _force_outplace: bool = False,
          _module_class=None, _compilation_unit=None, example_kwarg_inputs: dict | None = None,
          _store_inputs: bool = True):
    """``torch.jit.trace``: a module as a ``ScriptModule`` compiled by ``ember.jit`` on calls that need no
    gradient, or a function as a jit-compiled function; checked against eager execution on the example (and
    on ``check_inputs``) unless ``check_trace=False``."""
    if example_kwarg_inputs is not None:
        if example_inputs is not None:
            raise ValueError("trace: give example_inputs or example_kwarg_inputs, not both")
        example_inputs = _by_position(func, example_kwarg_inputs)
    examples = _as_tuple(example_inputs)
    if not examples:
        raise ValueError("trace: example_inputs must hold at least one Tensor")
    if isinstance(func, ScriptModule):
        func = func.original_module
    name = type(func).__name__ if isinstance(func, Module) else getattr(func, "__name__", "the function")
    # (keywords too; fullgraph: a graph break is this function's to report, with a TracerWarning)
    compiled = JitFunction(func) if isinstance(func, Module) else CompiledFunction(func, None, fullgraph=True)
    try:
        if check_trace:
            for inputs in [examples] + [_as_tuple(c) for c in check_inputs or ()]:
                _check_trace(name, compiled, func, inputs, check_tolerance)
        else:
            with no_grad():
                compiled(*examples)
    except Error:
        raise
    except Exception as exc:  # what ember.jit cannot compile runs as Python
        warnings.warn(f"trace: {name} could not be compiled by ember.jit ({type(exc).__name__}: {exc}); it runs "
                      "eagerly", TracerWarning, stacklevel=2)
        compiled = None
    if isinstance(func, Module):
        return ScriptModule(func, examples, compiled)
    return compiled if compiled is not None else ScriptFunction(func)


def trace_module(mod: Module, inputs: dict, **kwargs):
    """``torch.jit.trace_module``: ``trace`` of the module's ``forward`` (the one method Ember traces)."""
    if set(inputs) != {"forward"}:
        raise NotImplementedError(f"trace_module: only the forward method can be traced, got {sorted(inputs)}")
    return trace(mod, inputs["forward"], **kwargs)


def script(obj, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None):
    """``torch.jit.script``: a module in a ``ScriptModule`` that runs its Python forward (control flow kept), a
    function in a ``ScriptFunction``; classes and already scripted objects come back as they are."""
    if isinstance(obj, (ScriptModule, ScriptFunction, JitFunction)) or isinstance(obj, type):
        return obj
    if isinstance(obj, Module):
        examples = ()
        if example_inputs:  # PyTorch's profiling inputs: [(args...)] or {module: [(args...)]}
            first = next(iter(example_inputs.values())) if isinstance(example_inputs, dict) else example_inputs
            examples = _as_tuple(first[0])
        return ScriptModule(obj, examples)
    if callable(obj):
        return ScriptFunction(obj)
    raise TypeError(f"script: expected a Module, a function or a class, got {type(obj).__name__}")


def script_if_tracing(fn: Callable) -> Callable:
    """``fn`` unchanged: Ember traces the Python it runs."""
    return fn


def save(m, f, _extra_files=None) -> None:
    """``torch.jit.save``: ``m.save(f)`` of a traced module or a loaded one."""
    if not hasattr(m, "save"):
        raise TypeError(f"save: expected a module from ember.jit.trace or ember.jit.script, got {type(m).__name__}")
    m.save(f)


class LoadedModule(Module):
    """A model file's inference graph (``ember.jit.load``) as a module: calls run the compiled graph."""

    def __init__(self, graph, path: str):
        super().__init__()
        object.__setattr__(self, "graph", graph)
        object.__setattr__(self, "_run", GraphFunction(graph))
        object.__setattr__(self, "_path", path)
        self.training = False

    def forward(self, *inputs):
        arrays = [x.array if isinstance(x, Tensor) else np.asarray(x) for x in inputs]
        results = [Tensor._make(np.asarray(a), None) for a in self._run(*arrays)]
        return results[0] if len(results) == 1 else tuple(results)

    @property
    def code(self) -> str:
        return str(self.graph)

    def save(self, f, **_ignored) -> None:
        _export().save_model(self.graph, (), f)

    def extra_repr(self) -> str:
        return f"path={self._path!r}"


def load(f, map_location=None, _extra_files=None) -> LoadedModule:
    """``torch.jit.load`` of a file written by ``ember.jit.save`` / ``ScriptModule.save`` (an Ember model file);
    the model runs on the CPU whatever ``map_location`` says."""
    path = os.fspath(f)
    return LoadedModule(_export().load_model(path), path)


def ignore(drop=False, **kwargs):
    """``@ignore`` / ``@ignore(drop=...)``: the function is left as Python (as Ember runs every function)."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: Callable) -> Callable:
    """``@unused``: the function stays callable as Python."""
    return fn


def export(fn: Callable) -> Callable:
    """``@export``: a method compiled beside ``forward`` in PyTorch; a plain method here."""
    return fn


def interface(obj):
    """``@interface``: a class or module type used for type annotations only."""
    return obj


def is_scripting() -> bool:
    """False: Ember never compiles Python source (``ember.jit`` traces instead)."""
    return False


def is_tracing() -> bool:
    """Whether a graph is being traced now (``ember.jit``, ``ember.jit.trace``, an export)."""
    return building()


def annotate(the_type, the_value):
    """``the_value`` (the type is for TorchScript's compiler)."""
    return the_value


def Attribute(value, the_type=None):  # noqa: N802  (PyTorch's name)
    """``value`` (the type is for TorchScript's compiler)."""
    return value


class Future:
    """The result of ``fork``: the call already ran; ``wait()`` gives its value or raises its error."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict):
        self._value, self._error = None, None
        try:
            self._value = fn(*args, **kwargs)
        except Exception as exc:  # raised by wait(), as a forked task's error is
            self._error = exc

    def wait(self):
        if self._error is not None:
            raise self._error
        return self._value

    def done(self) -> bool:
        return True


def fork(func: Callable, *args, **kwargs) -> Future:
    """``torch.jit.fork``: ``func(*args, **kwargs)`` (run now, on this thread), its result through ``wait``."""
    return Future(func, args, kwargs)


def wait(future: Future):
    """The result of a ``fork``."""
    return future.wait()


def freeze(mod: Module, preserved_attrs=None, optimize_numerics: bool = True) -> Module:
    """``torch.jit.freeze``: the module in evaluation mode, for inference (its weights become constants of the
    graph when it is traced or exported)."""
    if mod.training:
        raise RuntimeError("freeze: the module must be in evaluation mode; call .eval() first")
    return mod


def optimize_for_inference(mod: Module, other_methods=None) -> Module:
    """``torch.jit.optimize_for_inference``: ``freeze`` of the module, put in evaluation mode first."""
    return freeze(mod.eval())


_onednn_fusion = [False]


def enable_onednn_fusion(enabled: bool) -> None:
    """Recorded for ``onednn_fusion_enabled`` (Ember's graph passes fuse on their own)."""
    _onednn_fusion[0] = bool(enabled)


def onednn_fusion_enabled() -> bool:
    return _onednn_fusion[0]


_fusion_strategy = [[("STATIC", 2), ("DYNAMIC", 10)]]


def set_fusion_strategy(strategy: list) -> list:
    """Record the fusion strategy and return the previous one (Ember's fusion does not specialize by it)."""
    for entry in strategy:
        if not (isinstance(entry, tuple) and len(entry) == 2 and entry[0] in ("STATIC", "DYNAMIC")
                and isinstance(entry[1], int)):
            raise ValueError(f"set_fusion_strategy: entries must be ('STATIC' | 'DYNAMIC', int), got {entry!r}")
    previous, _fusion_strategy[0] = _fusion_strategy[0], list(strategy)
    return previous


@contextlib.contextmanager
def strict_fusion():
    """A context that asks TorchScript to fuse everything inside; Ember's passes decide on their own."""
    yield


def attach(jit: Callable) -> None:
    """Give the ``ember.jit`` function, and the module it comes from (``from ember.jit import trace``), their
    ``torch.jit`` names."""
    for target in (jit, sys.modules[jit.__module__]):
        for name in __all__:
            setattr(target, name, globals()[name])

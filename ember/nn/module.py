"""Module: the base class of layers and models, and the containers Sequential, ModuleList, ModuleDict.

A Module finds its parameters, buffers and submodules by attribute assignment. Each is kept in an
ordered dict (``_parameters``, ``_buffers``, ``_modules``) and also in the instance ``__dict__`` (which the tables keep
in step when they are written directly), so reading ``self.weight`` inside ``forward`` is a plain attribute lookup
with no Python-level overhead.
"""

from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from types import BuiltinFunctionType, FunctionType, MappingProxyType, MethodType

from ember import traced_state
from ember.autograd import building, drop_grads, eagerly, no_grad
from ember.backend.devices import Device, cuda_device, device_of, is_torch_device
from ember.backend.dtypes import as_dtype, is_complex, is_floating
from ember.nn import global_hooks
from ember.nn.backward_hooks import BackwardHook
from ember.nn.buffer import Buffer
from ember.nn.global_hooks import RemovableHandle
from ember.nn.parameter import Parameter
from ember.ops.effects import assign, drop_grad
from ember.tensor import Tensor
from ember.tensor_torch import type_target
from ember.traced_state import mark_state

_setattr = object.__setattr__
_SCALARS = (bool, int, float, str, type(None))
_FUNCTIONS = (FunctionType, MethodType, BuiltinFunctionType, partial)


def _is_setting(value) -> bool:
    """Whether ``value`` is a plain setting a module's forward reads as a constant: a number, a string, None, a
    tuple of them, or a function (``self.act = ember.relu``, ``forward`` replaced on the instance)."""
    kind = value.__class__
    return kind in _SCALARS or kind in _FUNCTIONS or kind is tuple and all(item.__class__ in _SCALARS
                                                                         for item in value)

_observed: dict | None = None  # see observe_modes
_called: dict | None = None  # see observe_calls
_mode_listeners: list = []


def observe_modes(observed: dict | None) -> dict | None:
    """From now on record in ``observed`` each module whose ``training`` is read or set, as ``id(module) ->
    (module, its mode before)`` (None: stop recording); returns the recorder it replaces. ``ember.jit`` traces
    with one: a traced call depends on the modes its modules were in."""
    global _observed
    previous, _observed = _observed, observed
    return previous


def observe_calls(called: dict | None) -> dict | None:
    """From now on record in ``called`` each module called (``module(...)``), as ``id(module) -> module`` (None:
    stop recording); returns the recorder it replaces. ``ember.jit`` traces with one: a traced call depends on the
    hooks of the modules it called (``Module._hook_keys``). Only while one records is ``Module.__call__`` one that
    records."""
    global _called
    previous, _called = _called, called
    _install_call()
    return previous


def note_call(module: Module) -> None:
    """Record ``module`` as called (see ``observe_calls``) where its forward runs without ``module(...)``."""
    called = _called
    if called is not None:
        called.setdefault(id(module), module)


def on_mode_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` whenever a module's mode changes (``train()``, ``eval()``, ``training = ...``)."""
    _mode_listeners.append(listener)

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_EXTRA_STATE = "_extra_state"  # the state_dict entry of a module's get_extra_state


def _plain_call(self):
    # ``module(x)`` runs forward. Handing out the bound method, rather than wrapping it in a
    # ``def __call__(*args, **kwargs)``, skips packing the arguments on every call of every layer.
    return self._call_with_hooks if self._hooked else self.forward


def _hooked_call(self):
    return self._call_with_hooks


def _recording_call(self):
    called = _called
    if called is not None and id(self) not in called:
        called[id(self)] = self
    return self._call_with_hooks if self._hooked or global_hooks.registered() else self.forward


class _CallProperty(property):
    """``Module.__call__``: a property (``module(x)`` calls what it hands out, see ``_plain_call``) that, read off the
    class, is still callable, as ``nn.Module.__call__(module, x)`` in PyTorch code calls it."""

    def __call__(self, module: Module, *args, **kwargs):
        return self.fget(module)(*args, **kwargs)


class _Entries(OrderedDict):
    """A module's ``_parameters``, ``_buffers`` or ``_modules`` table, kept in step with the instance ``__dict__``
    that ``module.name`` reads: PyTorch code writes these tables directly (``model._modules[name] = new_layer``,
    ``del module._parameters[name]``), and reading the attribute then gives the new entry, as in PyTorch."""

    __slots__ = ("_owner",)

    def __init__(self, owner: Module | None = None, items: Iterable = ()) -> None:
        self._owner = None if owner is None else weakref.ref(owner)
        super().__init__(items)

    def __setitem__(self, key: str, value) -> None:
        if key in self and self[key] is not value:  # an entry replaced: a jit trace that read it is stale
            traced_state.changed()
        super().__setitem__(key, value)
        owner = self._owner and self._owner()
        if owner is not None:
            owner.__dict__[key] = value
            if isinstance(value, Tensor):
                mark_state(value)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        traced_state.changed()
        owner = self._owner and self._owner()
        if owner is not None:
            owner.__dict__.pop(key, None)

    def pop(self, key: str, *default):
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = self[key]
        del self[key]
        return value

    def popitem(self, last: bool = True) -> tuple:
        if not self:
            raise KeyError("dictionary is empty")
        key = next(reversed(self)) if last else next(iter(self))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __reduce__(self):
        # a copy or an unpickled table is bound to its module by Module.__setstate__ (a weakref does not pickle)
        return type(self), (), None, None, iter(self.items())


class Module:
    """Base class for all layers and models: subclasses assign parameters and submodules in
    ``__init__`` and compute the output in ``forward``.

    >>> class Net(ember.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = ember.nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return ember.relu(self.fc(x))
    >>> Net()(ember.randn(3, 4)).shape
    (3, 2)
    """

    # next module's class -> fn(self, x): the pair's output computed as one op, which ``Sequential`` calls in
    # place of the two (declared by the class itself: a subclass inherits no pairs)
    _fuses_with: Mapping = MappingProxyType({})

    _hooked = False  # True while the instance has hooks
    # hook key -> its options ("with_kwargs", "always_call"); an instance gets its own dict at its first option
    _hook_options: Mapping = MappingProxyType({})
    # key -> hook; an instance gets its own dicts at its first backward hook
    _backward_hooks: Mapping = MappingProxyType({})
    _backward_pre_hooks: Mapping = MappingProxyType({})
    # the state dict's layout version, which state-dict hooks read in their local_metadata (PyTorch's _version)
    _version: int = 1

    def __init__(self) -> None:
        _setattr(self, "training", True)
        _setattr(self, "_parameters", _Entries(self))
        _setattr(self, "_buffers", _Entries(self))
        _setattr(self, "_non_persistent_buffers", set())
        _setattr(self, "_modules", _Entries(self))
        _setattr(self, "_forward_pre_hooks", OrderedDict())
        _setattr(self, "_forward_hooks", OrderedDict())
        _setattr(self, "_hooked", False)

    @property
    def training(self) -> bool:
        """Whether the module is in training mode (dropout active, batch norm on batch statistics)."""
        if _observed is not None and id(self) not in _observed:
            _observed[id(self)] = (self, self._training)
        return self._training

    @training.setter
    def training(self, mode: bool) -> None:
        before = self.__dict__.get("_training")
        if before is None or before != mode:
            if _observed is not None and before is not None and id(self) not in _observed:
                _observed[id(self)] = (self, before)
            _setattr(self, "_training", mode)
            if before is not None:
                for listener in _mode_listeners:
                    listener()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(); define it in the subclass")  # abstract

    # ``module(x)``: ``_plain_call``, or ``_hooked_call`` while a global hook is registered, ``_recording_call`` while
    # ember.jit traces (``_install_call``)
    __call__ = _CallProperty(_plain_call)

    def _call_with_hooks(self, *args, **kwargs):
        output, ran = None, set()
        try:
            args, kwargs = self._run_pre_hooks(args, kwargs)
            backward = self._backward_hook() if self._backward_hooks or self._backward_pre_hooks \
                or global_hooks.backward or global_hooks.backward_pre else None
            if backward is not None:
                args = backward.setup_inputs(args)
            output = self.forward(*args, **kwargs)
            for key, hook in (*global_hooks.forward.items(), *self._forward_hooks.items()):
                ran.add(key)
                result = self._run_forward_hook(key, hook, args, kwargs, output)
                if result is not None:
                    output = result
            return output if backward is None else backward.setup_outputs(output)
        except Exception:
            self._run_always_called(ran, args, kwargs, output)
            raise

    def _backward_hook(self) -> BackwardHook:
        if building():
            if self._backward_hooks or self._backward_pre_hooks:
                which = "a module with a full backward hook (register_full_backward_hook, ..._pre_hook)"
            else:
                which = "a global module backward hook (register_module_full_backward_hook, ..._pre_hook) is " \
                    "registered: it"
            raise TypeError(f"{self._get_name()}: {which} runs in eager mode only; remove the hook before "
                            "calling it inside ember.jit or a graph")
        return BackwardHook(self, (*global_hooks.backward.values(), *self._backward_hooks.values()),
                            (*global_hooks.backward_pre.values(), *self._backward_pre_hooks.values()))

    def _options(self, key: int) -> frozenset:
        """The options of hook ``key``, the module's own or a global one."""
        return self._hook_options.get(key) or global_hooks.options.get(key, frozenset())

    def _run_pre_hooks(self, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        for key, hook in (*global_hooks.forward_pre.items(), *self._forward_pre_hooks.items()):
            if "with_kwargs" in self._options(key):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                                           f"but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        return args, kwargs

    def _run_forward_hook(self, key: int, hook: Callable, args: tuple, kwargs: dict, output):
        if "with_kwargs" in self._options(key):
            return hook(self, args, kwargs, output)
        return hook(self, args, output)

    def _run_always_called(self, ran: set, args: tuple, kwargs: dict, output) -> None:
        """After an error in the call: the ``always_call`` forward hooks that have not run, their own errors
        silenced (as a warning) so that the first one propagates."""
        for key, hook in (*global_hooks.forward.items(), *self._forward_hooks.items()):
            if key in ran or "always_call" not in self._options(key):
                continue
            try:
                result = self._run_forward_hook(key, hook, args, kwargs, output)
            except Exception as exc:
                warnings.warn("module forward hook with always_call=True raised an exception that was silenced as "
                              f"another error was raised in forward: {exc}", stacklevel=3)
                continue
            if result is not None:
                output = result

    # --- hooks ---
    def _add_hook(self, hooks: dict, hook: Callable, prepend: bool = False, options: tuple = ()) -> RemovableHandle:
        key = global_hooks.next_key()
        hooks[key] = hook
        if prepend:
            hooks.move_to_end(key, last=False)
        if options:
            if "_hook_options" not in self.__dict__:
                _setattr(self, "_hook_options", {})
            self._hook_options[key] = frozenset(options)
        self._update_hooked()
        return RemovableHandle(self, hooks, key)

    def _remove_hook(self, hooks: dict, key: int) -> None:
        hooks.pop(key, None)
        if "_hook_options" in self.__dict__:
            self._hook_options.pop(key, None)
        self._update_hooked()

    def _own_hooks(self, name: str) -> OrderedDict:
        """The instance's own hook dict ``name`` (made at its first hook)."""
        if name not in self.__dict__:
            _setattr(self, name, OrderedDict())
        return self.__dict__[name]

    def _update_hooked(self) -> None:
        _setattr(self, "_hooked", bool(self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                                       or self._backward_pre_hooks))
        traced_state.changed()

    def _entries(self) -> tuple:
        """The ids of the module's parameters, buffers and submodules, by name (what an ``ember.jit`` trace
        compares: one replaced since it traced makes it trace again)."""
        return tuple((name, id(value)) for table in (self._parameters, self._buffers, self._modules)
                     for name, value in table.items())

    def _settings(self) -> tuple:
        """The module's plain settings (numbers, strings, None and tuples of them, such as ``eps`` or ``p``) by name:
        what an ``ember.jit`` trace froze and compares (one changed since it traced makes it trace again)."""
        return tuple((name, value) for name, value in self.__dict__.items()
                     if name != "training" and _is_setting(value))

    def _hook_keys(self) -> tuple:
        """The keys of the module's hooks, per kind (what an ``ember.jit`` trace compares)."""
        return tuple(self._forward_pre_hooks), tuple(self._forward_hooks), tuple(self._backward_hooks), \
            tuple(self._backward_pre_hooks)

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; a returned value replaces the arguments. With
        ``with_kwargs``: ``hook(module, args, kwargs)``, returning None or ``(args, kwargs)``. ``prepend`` runs it
        before the hooks already registered."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, ("with_kwargs",) if with_kwargs else ())

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after ``forward`` (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``); a returned value replaces the output. ``prepend`` runs it before the hooks already
        registered; ``always_call`` runs it also when the call raises (with the output so far, None if forward
        raised)."""
        options = ("with_kwargs",) * with_kwargs + ("always_call",) * always_call
        return self._add_hook(self._forward_hooks, hook, prepend, options)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's deprecated module backward hook, whose ``grad_input`` is that of the last op the forward ran:
        refused, as Ember records other ops; ``register_full_backward_hook`` gives the module's own inputs'."""
        raise RuntimeError(f"{type(self).__name__}.register_backward_hook: PyTorch's deprecated hook reports the "
                           "gradients of the last op its forward ran, which Ember's recorded ops do not match; use "
                           "register_full_backward_hook(hook), whose grad_input is the module's own inputs' (PyTorch "
                           "recommends it too)")

    def register_full_backward_hook(self, hook: Callable, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` in eager backward once the gradients with respect to the
        call's inputs are known: ``grad_input`` one entry per positional argument (None for one that is not a
        Tensor, zeros for a Tensor that does not require grad, None for every input when none does, as PyTorch),
        ``grad_output`` one per output. A returned tuple replaces ``grad_input``."""
        return self._add_hook(self._own_hooks("_backward_hooks"), hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` in eager backward once the gradients with respect to the call's
        outputs are known; a returned tuple replaces ``grad_output``."""
        return self._add_hook(self._own_hooks("_backward_pre_hooks"), hook, prepend)

    # --- registration by attribute assignment ---
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() is called")
            if name not in params and (not name or "." in name or hasattr(type(self), name)):
                self._check_name(name, "parameter")  # raises, as PyTorch's assignment (its register_parameter)
            self._forget(name, keep=params)
            params[name] = value
            mark_state(value)
        elif params is not None and name in params:  # (before submodules: a module does not replace a parameter)
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of {type(self).__name__} "
                    "(ember.nn.Parameter or None expected)"
                )
            params[name] = None
            traced_state.changed()
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign submodules before Module.__init__() is called")
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif isinstance(value, Buffer):  # (nn.Buffer: registered, persistent or not as it says)
            self.register_buffer(name, value, value.persistent)
            return
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' of {type(self).__name__} "
                    "(ember.nn.Module or None expected)"
                )
            self._modules[name] = None
            traced_state.changed()
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' of {type(self).__name__} "
                    "(ember.Tensor or None expected)"
                )
            held = self._buffers[name]
            if value is not None and value.symbolic and held is not None and not held.symbolic:
                self._write_buffer(name, held, value)
                return
            self._buffers[name] = value
            if value is not None:
                mark_state(value)
            traced_state.changed()
        elif params is not None and name != "training" and _is_setting(value):
            old = self.__dict__.get(name, getattr(type(self), name, value))  # (or the class's: its forward, a default)
            if old is not value and _is_setting(old) and old != value:  # (eps, p...): a jit trace froze the old one
                traced_state.changed()
        _setattr(self, name, value)

    def _write_buffer(self, name: str, held: Tensor, value: Tensor) -> None:
        """``self.name = value`` with a value computed while a graph is built (``self.n += 1``, ``self.n = self.n + 1``
        in an ``ember.jit`` call): an ``assign`` node writes it into the buffer, so every run of the compiled code
        updates the buffer and what the call reads of it afterwards follows, as in eager mode; the module keeps its
        Tensor (the symbolic value would outlive the trace)."""
        if tuple(value.array.shape) != tuple(held.array.shape) or value.dtype != held.dtype:
            raise TypeError(
                f"cannot assign {value.dtype}{list(value.array.shape)} to buffer '{name}' of {type(self).__name__} "
                f"({held.dtype}{list(held.shape)}) in traced code: the compiled call writes the buffer in place, "
                "which keeps its shape and dtype; register_buffer a new one outside the traced call instead"
            )
        assign(held, value)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        # Drop ``name`` from the tables, except ``keep``, where replacing an entry keeps its position.
        tables = (self._parameters, self._modules, self._buffers)
        if any(name in table for table in tables):  # an entry replaced: a jit trace that read it is stale
            traced_state.changed()
        for table in tables:
            if table is not keep:
                table.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)

    def __setstate__(self, state: dict) -> None:
        """Unpickling and ``copy.deepcopy``: the copy's parameters and buffers are marked as state, as registering
        them marks them, so ``ember.jit`` reads them on every call (a frozen copy's weights were folded into the
        compiled code as constants, and ``load_state_dict`` into the copy went unseen)."""
        self.__dict__.update(state)
        for table in ("_parameters", "_buffers", "_modules"):
            entries = state.get(table)
            if entries is None:
                continue
            if not isinstance(entries, _Entries):  # (an older pickle's)
                _setattr(self, table, _Entries(self, entries.items()))
            elif entries._owner is None:  # (a copy's; a shallow copy shares its original's)
                entries._owner = weakref.ref(self)
            if table != "_modules":
                for t in entries.values():
                    if t is not None:
                        mark_state(t)

    def __getattr__(self, name: str):
        # Only reached when ``name`` is not in __dict__, e.g. in a module sharing another's tables (a ScriptModule).
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            entries = d.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)  # (its tables drop the attribute too)
            self.__dict__.pop(name, None)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. an absent bias) under ``name``."""
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be an ember.nn.Parameter or None, "
                            f"got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param
        if param is not None:
            mark_state(param)
        _setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. running statistics); ``persistent=False``
        keeps it out of ``state_dict``."""
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be an ember.Tensor or None, got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if tensor is not None:
            mark_state(tensor)
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        _setattr(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (what attribute assignment does)."""
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: '{name}' must be an ember.nn.Module or None, got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module
        _setattr(self, name, module)

    register_module = add_module

    def _check_name(self, name: str, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot register a {what} before Module.__init__() is called")
        if not isinstance(name, str):  # (TypeError, as PyTorch's; a bad string is a KeyError)
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what} name must be a non-empty string without '.', got {name!r}")
        if hasattr(type(self), name) and name not in self.__dict__:
            raise KeyError(f"{what} name '{name}' clashes with an attribute of {type(self).__name__}")
        table = {"parameter": self._parameters, "buffer": self._buffers, "module": self._modules}[what]
        if name in self.__dict__ and name not in table:  # as PyTorch: a parameter does not silently become a buffer
            raise KeyError(f"attribute '{name}' already exists")

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path such as ``"encoder.0"``; ``""`` is the module itself."""
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (path '{target}')")
            module = child
        return module

    def get_parameter(self, target: str):
        """The parameter at a dotted path such as ``"encoder.0.weight"``."""
        module, name = self._owner_of(target, "parameter")
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter '{name}' (path '{target}')")
        if module._parameters[name] is None:  # (a placeholder such as an absent bias: not a parameter, as PyTorch)
            raise AttributeError(f"{type(module).__name__}.{name} is None, not a parameter (path '{target}')")
        return module._parameters[name]

    def get_buffer(self, target: str):
        """The buffer at a dotted path such as ``"bn.running_mean"``."""
        module, name = self._owner_of(target, "buffer")
        if name not in module._buffers:
            raise AttributeError(f"{type(module).__name__} has no buffer '{name}' (path '{target}')")
        return module._buffers[name]

    def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
        """Put ``module`` at a dotted path such as ``"encoder.0"`` (the parents must exist; with ``strict`` the
        path's last name must already be a submodule). As PyTorch's, it replaces no attribute but a submodule."""
        if not target:
            raise ValueError("set_submodule: the target must name a submodule, got ''")
        if not isinstance(module, Module):
            raise TypeError(f"set_submodule: expected a Module, got {type(module).__name__}")
        parent, name = self._owner_of(target, "submodule")
        if strict and name not in parent._modules:
            raise AttributeError(f"{type(parent).__name__} has no submodule '{name}' (path '{target}')")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"set_submodule: {type(parent).__name__}.{name} is not a submodule (path '{target}'), "
                                 "so it is not replaced")
        setattr(parent, name, module)

    def _owner_of(self, target: str, what: str) -> tuple[Module, str]:
        path, _, name = target.rpartition(".")
        if not name:
            raise ValueError(f"get_{what}: the target must name a {what}, got {target!r}")
        return self.get_submodule(path), name

    # --- traversal ---
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for this module and every descendant, depth first, each once (with
        ``remove_duplicate``); a module in ``memo`` is skipped, with its descendants."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        """This module and every descendant (a module reached twice, twice without ``remove_duplicate``)."""
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct children."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct child modules."""
        for _, module in self.named_children():
            yield module

    def _named_members(self, table: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (module_prefix + "." + name if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, parameter) in registration order; a shared parameter appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in the order of ``named_parameters``."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, buffer) in registration order."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer, in the order of ``named_buffers``."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # --- modes and gradients ---
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics) here and below."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        _setattr(self, "training", mode)
        for module in self.children():  # each child's own train(), which a subclass may override (a frozen norm)
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode here and below: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradient tracking of every parameter on or off (e.g. to freeze a backbone)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: drop it (default) or fill it with zeros."""
        if set_to_none:
            drop_grads(list(self.parameters()))  # drop_grad ops: a traced call (ember.jit) drops them on every run
            return
        for p in self.parameters():
            if p.grad is None:
                continue
            if not isinstance(p.grad, Tensor):
                drop_grad(p)  # a row-sparse gradient
            else:  # off the graph first, as PyTorch: a create_graph gradient kept its graph, which later
                p.grad.detach_()  # accumulations and second-order gradients then reached
                p.grad.array[...] = 0

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and then on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, target=None, dtype=None, non_blocking: bool = False, *, device=None, memory_format=None) -> Module:
        """Move parameters and buffers to a device and/or cast floating and complex ones to a dtype, in place
        (the Parameter objects stay the same, so optimizers keep their references). ``to(tensor)`` takes the
        tensor's device and dtype; ``memory_format=ember.channels_last`` lays out 4-D ones as (N, H, W, C);
        ``non_blocking`` is accepted (copies finish before ``to`` returns)."""
        if dtype is not None and dtype.__class__ is bool:  # to(dtype, non_blocking), PyTorch's positional form
            dtype = None
        if target is not None:
            if isinstance(target, Device) or is_torch_device(target) or (
                    isinstance(target, str) and target.split(":")[0] in ("cpu", "cuda")):
                device = target
            elif isinstance(target, Tensor):
                device, dtype = target.device, target.dtype
            else:
                dtype = target
        if dtype is not None:
            dtype = _module_dtype(dtype)
        layout = memory_format if memory_format is not None and memory_format.order is not None else None
        return self._convert(device, dtype, layout, "fcV")  # complex ones too, as PyTorch's (double() keeps them)

    def _convert(self, device, dtype, layout, kinds: str) -> Module:
        """Move every parameter, gradient and buffer to ``device``, casting those of the dtype ``kinds`` to
        ``dtype`` and laying out those of ``layout``'s rank in it."""

        def converted(t: Tensor):
            moved = Tensor._make(t.array, None)
            if device is not None:
                moved = moved.to(device=device)
            if dtype is not None and t.dtype.kind in kinds:
                moved = moved.to(dtype=dtype)
            if layout is not None and moved.ndim == len(layout.order):
                moved = layout.arrange(moved, "Module.to")
            return moved.array

        tensors = []  # (name, Tensor): parameters, their gradients and buffers
        for name, p in self.named_parameters():
            tensors.append((name, p))
            if isinstance(p.grad, Tensor):
                tensors.append((name + ".grad", p.grad))
        tensors += list(self.named_buffers())
        if not building():
            for _, t in tensors:
                t.array = converted(t)
            return self
        # inside ember.jit's trace (torch.compile runs the cast too): the module is cast once, at trace time, and
        # the traced code reads the cast arrays, as a call after an eager cast would
        with eagerly() as graph:
            arrays = [None if t.symbolic else converted(t) for _, t in tensors]
        reads = getattr(graph, "reads", None)  # a builder that cannot tell: every tensor counts as read
        for (name, t), array in zip(tensors, arrays):
            read = reads is None or reads(t)
            if t.symbolic or (read and (array.dtype != t.array.dtype or device_of(array) != t.device)):
                why = "was computed in the traced call" if t.symbolic else "was already read by the traced call"
                raise TypeError(f"{self._get_name()}.to(device={device!r}, dtype={dtype!r}) inside ember.jit: "
                                f"{name} ({t.dtype}, {t.device}) {why}; cast the module before its first use in "
                                "the function, or outside it")
        for (_, t), array in zip(tensors, arrays):
            t.array = array
        return self

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """Move parameters and buffers to a GPU: ``device`` an index, ``"cuda:N"`` or a Device (None: the first)."""
        return self.to(cuda_device(device))

    # (floating parameters and buffers only: complex ones keep their dtype, as PyTorch's)
    def float(self) -> Module:
        return self._convert(None, as_dtype("float32"), None, "fV")

    def double(self) -> Module:
        return self._convert(None, as_dtype("float64"), None, "fV")

    def half(self) -> Module:
        return self._convert(None, as_dtype("float16"), None, "fV")

    def bfloat16(self) -> Module:
        return self._convert(None, as_dtype("bfloat16"), None, "fV")

    def type(self, dst_type) -> Module:  # noqa: A003  (PyTorch's name)
        """Cast every parameter and buffer to ``dst_type`` (a dtype, a legacy type such as ``ember.DoubleTensor`` or
        its name), integer ones too, as ``Module.type``; to an integer or bool dtype only once no parameter requires
        grad (PyTorch refuses it too)."""
        dtype = as_dtype(type_target(dst_type))
        if not (is_floating(dtype) or is_complex(dtype)):
            for name, p in self.named_parameters():
                if p.requires_grad:  # (an integer parameter requiring grad failed at its first backward)
                    raise RuntimeError(f"{self._get_name()}.type({dtype}): parameter '{name}' requires grad, which "
                                       "only floating-point and complex tensors can; call requires_grad_(False) first")
        return self._convert(None, dtype, None, "biufcV")

    def share_memory(self) -> Module:
        """Move every parameter and buffer into memory shared with processes forked afterwards
        (``Tensor.share_memory_``)."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.share_memory_()
        return self

    def to_empty(self, *, device=None, recurse: bool = True) -> Module:
        """Give every parameter and buffer new memory on ``device`` (zero-filled: Ember's ``empty``), as
        ``Module.to_empty`` does for a module made on the "meta" device; the values are not kept."""
        target = Device(device if device is not None else "cpu")
        tensors = list(self.parameters(recurse)) + list(self.buffers(recurse))
        for t in tensors:
            t.array = target.xp.zeros(t.shape, t.dtype)
        return self

    # --- state ---
    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer by dotted name, in registration order, detached
        (sharing memory with the module: copy before mutating). The state-dict hooks of each module run around
        its entries (``register_state_dict_pre_hook``, ``register_state_dict_post_hook``)."""
        if destination is None:
            destination = OrderedDict()
        hooks = self.__dict__.get("_state_dict_pre_hooks")
        if hooks:
            for hook in list(hooks.values()):
                hook(self, prefix, keep_vars)
        self._own_state(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        hooks = self.__dict__.get("_state_dict_hooks")
        if hooks:
            for hook, replaces in list(hooks.values()):
                result = hook(self, destination, prefix, {"version": self._version})
                if result is not None:
                    if not replaces:
                        raise RuntimeError("state_dict post-hook must return None (change the state dict in place)")
                    destination = result
        return destination

    def _own_state(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        """This module's own ``state_dict`` entries (not its submodules'), put into ``destination``."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE] = self.get_extra_state()

    def _load_targets(self) -> OrderedDict:
        """What ``load_state_dict`` loads into: ``state_dict(keep_vars=True)``'s entries without its hooks, as
        PyTorch's load reads the modules' own tables (a post-hook that drops or renames keys changes what is saved,
        not what the module holds)."""
        targets = OrderedDict()
        for name, module in self.named_modules(remove_duplicate=False):
            module._own_state(targets, name + "." if name else "", True)
        return targets

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` before ``state_dict`` collects this module's entries."""
        return self._state_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` once ``state_dict`` holds this module's entries
        (its submodules' too); it may change them in place and must return None."""
        return self._state_hook("_state_dict_hooks", (hook, False))

    def _register_state_dict_hook(self, hook: Callable) -> RemovableHandle:
        """PyTorch's older post-hook: as ``register_state_dict_post_hook``, but a returned dict replaces the state
        dict."""
        return self._state_hook("_state_dict_hooks", (hook, True))

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` before ``load_state_dict`` reads this module's entries: it may change ``state_dict`` (a copy
        of the one given) in place, e.g. rename keys of an older layout, and append to the three lists."""
        return self._state_hook("_load_state_dict_pre_hooks", (hook, True))

    def _register_load_state_dict_pre_hook(self, hook: Callable, with_module: bool = False) -> RemovableHandle:
        """PyTorch's older pre-hook: ``hook(state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)``, given the module first ``with_module``."""
        return self._state_hook("_load_state_dict_pre_hooks", (hook, with_module))

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` after ``load_state_dict`` copied the values; keys it removes
        from ``incompatible_keys.missing_keys``/``unexpected_keys`` are not errors under ``strict``. It must
        return None."""
        return self._state_hook("_load_state_dict_post_hooks", hook)

    def _state_hook(self, name: str, entry) -> RemovableHandle:
        hooks = self._own_hooks(name)
        key = global_hooks.next_key()
        hooks[key] = entry
        return RemovableHandle(self, hooks, key)

    def get_extra_state(self):
        """State beyond parameters and buffers for ``state_dict`` (its ``_extra_state`` entry): override it, with
        ``set_extra_state``, to save such state; the base class has none."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called: override "
                           "get_extra_state (and set_extra_state) to keep extra state in the state dict")

    def set_extra_state(self, state) -> None:
        """Take back what ``get_extra_state`` returned (``load_state_dict``)."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called: override "
                           "set_extra_state to load the extra state get_extra_state saves")

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers in place (with ``assign``, make the given
        tensors the parameters and buffers instead, parameters keeping their ``requires_grad``).

        Mis-shaped entries always raise; with ``strict`` missing and unexpected keys raise too. The error
        lists every problem. A key in a submodule's ``_optional_state`` may be missing (BatchNorm's
        ``num_batches_tracked``, absent from checkpoints older than PyTorch 0.4.1): it keeps its value.
        Returns the missing and unexpected keys. A submodule whose class sets
        ``_owns_state_dict`` (a hash embedding) loads its own entries with its ``load_state_dict``, once everything
        is checked (none of its entries: its ``required_entries`` are missing keys); one that has
        ``materialize_from_state`` (a lazy layer) first makes its parameters of the shapes it finds.
        Load-state-dict pre-hooks and ``_load_from_state_dict`` overrides see (and may change) a copy of
        ``state_dict`` first; with post-hooks, as in PyTorch, the values are copied before the hooks run and strict's
        errors are raised after them.
        """
        if not isinstance(state_dict, Mapping):  # (a list of pairs read its pairs as keys: every key "missing")
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        hook_missing, hook_unexpected, error_msgs = [], [], []
        hooked = [(name + "." if name else "", m) for name, m in self.named_modules()
                  if m.__dict__.get("_load_state_dict_pre_hooks") or m.__dict__.get("_load_state_dict_post_hooks")]
        readers = [(name + "." if name else "", m) for name, m in self.named_modules()
                   if m.__dict__.get("_load_state_dict_pre_hooks")
                   or type(m)._load_from_state_dict is not Module._load_from_state_dict]
        if readers:
            state_dict = OrderedDict(state_dict)  # the hooks change a copy, as PyTorch's
            for prefix, module in readers:
                module._load_from_state_dict(state_dict, prefix, {"version": module._version}, strict, hook_missing,
                                             hook_unexpected, error_msgs)
        for name, module in self.named_modules():  # a lazy layer takes its shapes from the state dict
            materialize = getattr(module, "materialize_from_state", None)
            if materialize is not None:
                materialize(state_dict, name + "." if name else "")
        owners = [(name + ".", m) for name, m in self.named_modules() if name and getattr(m, "_owns_state_dict", False)]
        tables, absent = [], []  # loaded with the rest, once everything is checked
        if owners:
            state_dict = dict(state_dict)
            for prefix, module in owners:
                mine = {k[len(prefix):]: state_dict.pop(k) for k in list(state_dict) if k.startswith(prefix)}
                if not mine:  # none of its entries: left as it is, its entries missing keys
                    absent += [prefix + k for k in module.required_entries]
                    continue
                try:
                    module.check_state_dict(mine)
                except (ValueError, TypeError, KeyError) as exc:
                    error_msgs.append(f"{prefix[:-1]}: {exc}")
                tables.append((module, mine))
        own = self._load_targets()
        if owners:
            own = {k: v for k, v in own.items() if not any(k.startswith(prefix) for prefix, _ in owners)}
        # entries older checkpoints lack (BatchNorm's num_batches_tracked): kept as they are, as PyTorch
        optional = {f"{name}.{key}" if name else key for name, m in self.named_modules()
                    for key in getattr(m, "_optional_state", ())}
        missing = [k for k in own if k not in state_dict and k not in optional] + absent + hook_missing
        unexpected = [k for k in state_dict if k not in own] + hook_unexpected
        mismatched, scalars = [], []
        for key, target in own.items():
            if key in state_dict and isinstance(target, Tensor):
                value = state_dict[key]
                if not hasattr(value, "shape"):
                    mismatched.append(f"While copying the parameter named \"{key}\", expected a Tensor or array "
                                      f"from checkpoint but received {type(value).__name__}")
                    continue
                shape = tuple(value.shape)
                if shape == (1,) and target.ndim == 0:  # a scalar as PyTorch before 0.4 saved it: taken, as PyTorch
                    scalars.append(key)
                elif shape != tuple(target.shape):
                    mismatched.append(f"size mismatch for {key}: expected shape {list(target.shape)}, "
                                      f"got {list(shape)}")
        post_hooks = [(module, hook) for _, module in reversed(hooked)
                      for hook in module.__dict__.get("_load_state_dict_post_hooks", {}).values()]
        if not post_hooks:  # nothing is copied unless everything fits
            self._load_errors(mismatched + error_msgs, missing, unexpected, strict)
        elif mismatched or error_msgs:
            self._load_errors(mismatched + error_msgs, [], [], False)
        for module, mine in tables:
            module.load_state_dict(mine, strict)
        if scalars:
            state_dict = {**state_dict, **{key: state_dict[key].reshape(()) for key in scalars}}
        self._copy_state(own, state_dict, assign)
        if post_hooks:  # PyTorch's order: the values copied, the hooks told, then strict's errors
            incompatible = IncompatibleKeys(missing, unexpected)
            for module, hook in post_hooks:
                if hook(module, incompatible) is not None:
                    raise RuntimeError("load_state_dict post-hook must return None (change incompatible_keys in place)")
            self._load_errors([], missing, unexpected, strict)
        return IncompatibleKeys(missing, unexpected)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict, strict: bool,
                              missing_keys: list, unexpected_keys: list, error_msgs: list) -> None:
        """``load_state_dict``'s step for this module, run parents first before anything is checked or copied: it
        runs the module's load-state-dict pre-hooks. An override, as in PyTorch, may rename or convert this module's
        entries (keys starting with ``prefix``) of an older layout (``local_metadata["version"]``) in place, and
        append to the three lists, before calling ``super()._load_from_state_dict(...)``; the entries are then
        checked and copied with the whole state dict's (so code after that call runs before the copy)."""
        for hook, with_module in list(self.__dict__.get("_load_state_dict_pre_hooks", {}).values()):
            arguments = (state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
            hook(self, *arguments) if with_module else hook(*arguments)

    def _load_errors(self, errors: list, missing: list, unexpected: list, strict: bool) -> None:
        """Raise ``load_state_dict``'s error listing every problem, if there is one."""
        errors = list(errors)
        if strict:
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            if unexpected:
                errors.insert(1 if missing else 0,
                              "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))

    def _copy_state(self, own: dict, state_dict, assign: bool) -> None:
        """``load_state_dict``'s copy of the entries of ``state_dict`` into this module's ``own`` ones."""
        with no_grad():  # loading weights is not a recorded op
            for key, target in own.items():
                if key not in state_dict:
                    continue
                if key.endswith(_EXTRA_STATE) and not isinstance(target, Tensor):
                    self.get_submodule(key[:-len(_EXTRA_STATE)].rstrip(".")).set_extra_state(state_dict[key])
                elif assign:
                    self._assign(key, target, state_dict[key])
                else:
                    target.copy_(state_dict[key])

    def _assign(self, key: str, target, value) -> None:
        """``load_state_dict(assign=True)``'s placement of ``value`` at ``key``."""
        module, name = self._owner_of(key, "parameter")
        value = value if isinstance(value, Tensor) else Tensor(value)
        if name in module._parameters:
            if isinstance(value, Parameter):  # itself, as PyTorch: a Parameter given for two tied keys stays one
                setattr(module, name, value.requires_grad_(target.requires_grad))
            else:
                setattr(module, name, Parameter(value.detach(), requires_grad=target.requires_grad))
        else:
            setattr(module, name, value.detach())

    # --- printing ---
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (hyper-parameters); override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        if not self._modules and len(lines) <= 1:  # a many-line extra_repr is indented as the children are
            return f"{self._get_name()}({extra})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))


def _module_dtype(dtype):
    """``Module.to``'s dtype, which must be floating or complex as in PyTorch (integer weights would be truncated)."""
    found = as_dtype(dtype)
    if not (is_floating(found) or is_complex(found)):
        raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={found}")
    return found


def _pair_fuses(first, second, x) -> bool:
    """Whether ``second(first(x))`` may run as the one op of ``first``'s class's ``_fuses_with``: eager Tensors,
    and nothing that would see the pair's inner value (hooks, an instance's own forward, a subclass)."""
    return x.__class__ is Tensor and "_fuses_with" in first.__class__.__dict__ and not first._hooked \
        and not second._hooked and "forward" not in first.__dict__ and "forward" not in second.__dict__ \
        and not building()


def _never_fuses(first, second, x) -> bool:
    return False


_fuses = _pair_fuses  # _never_fuses while a global hook is registered: it sees every module's call


def _install_call() -> None:
    """``Module.__call__`` for the global hooks and the recorder now: every module call runs its hooked path while
    a global hook is registered, and is recorded while ``observe_calls`` records."""
    global _fuses
    hooked = global_hooks.registered()
    call = _recording_call if _called is not None else _hooked_call if hooked else _plain_call
    if Module.__dict__["__call__"].fget is not call:
        Module.__call__ = _CallProperty(call)
    _fuses = _never_fuses if hooked else _pair_fuses


global_hooks.on_change(_install_call)


class Sequential(Module):
    """Modules called in order, each on the previous one's output.

    >>> net = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2))
    >>> net(ember.randn(3, 4)).shape
    (3, 2)
    >>> net[0], len(net)
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x):
        held = None  # a module whose call waits to see the next one: a pair its class fuses runs as one op
        for module in self._modules.values():
            if held is not None:
                fused = held._fuses_with.get(module.__class__)
                if fused is not None and _fuses(held, module, x):
                    x = fused(held, x)
                    held = None
                    continue
                x = held(x)
                held = None
            if module._fuses_with:
                held = module
                continue
            x = module(x)
        return x if held is None else held(x)

    def __getitem__(self, index: int | slice):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._key(index), module)

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in keys:
            delattr(self, key)
        self._renumber()

    def _key(self, index: int) -> str:
        keys = list(self._modules)
        n = len(keys)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} out of range for length {n}")
        return keys[index % n]

    def _renumber(self) -> None:
        # After a deletion the modules are named 0, 1, ... again, custom names included, as PyTorch's (its
        # state_dict keys are those numbers)
        items = list(self._modules.values())
        for key in list(self._modules):
            delattr(self, key)
        for i, module in enumerate(items):
            self.add_module(str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add a module at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Add modules at the end."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert a module before position ``index``."""
        items = list(self._modules.values())
        n = len(items)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert index {index} out of range for length {n}")
        items.insert(index + n if index < 0 else index, module)
        for key in list(self._modules):
            delattr(self, key)
        for i, m in enumerate(items):
            self.add_module(str(i), m)
        return self

    def pop(self, index: int | slice = -1) -> Module | Sequential:
        """Remove the module at ``index`` (or the slice's modules, as a Sequential) and return it."""
        removed = self[index]
        del self[index]
        return removed

    def __add__(self, other: Sequential) -> Sequential:
        """A new Sequential of this one's modules, then ``other``'s (the same module objects)."""
        _check_sequential("+", other)
        return Sequential(*self, *other)

    def __iadd__(self, other: Sequential) -> Sequential:
        _check_sequential("+=", other)
        return self.extend(list(other))

    def __mul__(self, times: int) -> Sequential:
        """A new Sequential repeating this one's modules ``times`` times (the same module objects)."""
        return Sequential(*(list(self) * _repeats("*", times)))

    __rmul__ = __mul__

    def __imul__(self, times: int) -> Sequential:
        return self.extend(list(self) * (_repeats("*=", times) - 1))


def _check_sequential(operator: str, other) -> None:
    if not isinstance(other, Sequential):  # as PyTorch: no other container joins a Sequential
        raise ValueError(f"Sequential {operator}: supports only another Sequential, got {type(other).__name__}")


def _repeats(operator: str, times) -> int:
    if not isinstance(times, int) or isinstance(times, bool):
        raise TypeError(f"Sequential {operator}: the count must be an int, got {type(times).__name__}")
    if times <= 0:
        raise ValueError(f"Sequential {operator}: the count must be positive, got {times}")
    return times


class ModuleList(Module):
    """A list of modules, registered so their parameters are found; it has no forward.

    >>> layers = ember.nn.ModuleList([ember.nn.Linear(4, 4) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    _key = Sequential._key

    def __getitem__(self, index: int | slice):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        setattr(self, self._key(index), module)

    def __delitem__(self, index: int | slice) -> None:
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        items = [m for k, m in self._modules.items() if k not in keys]
        for key in list(self._modules):
            delattr(self, key)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList(list(self) + list(other))

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add modules at the end."""
        for module in modules:
            self.append(module)
        return self

    def pop(self, index: int | slice) -> Module | ModuleList:
        """Remove the module at ``index`` (or the slice's modules, as a ModuleList) and return it."""
        removed = self[index]
        del self[index]
        return removed

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before position ``index``."""
        items = list(self._modules.values())
        items.insert(index, module)
        for key in list(self._modules):
            delattr(self, key)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def forward(self, *args, **kwargs):
        raise TypeError("ModuleList has no forward(); iterate over it and call its modules")

    def __repr__(self) -> str:
        """As PyTorch's: a run of modules that print alike is one line, ``(0-2): 3 x ReLU()``."""
        runs = []  # [first index, last index, text]
        for i, module in enumerate(self):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        if not runs:
            return f"{self._get_name()}()"
        lines = [(f"({first}): " if first == last else f"({first}-{last}): {last - first + 1} x ")
                 + text.replace("\n", "\n  ") for first, last, text in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules keyed by name, registered so their parameters are found; it has no forward.

    >>> heads = ember.nn.ModuleDict({"cls": ember.nn.Linear(8, 3), "reg": ember.nn.Linear(8, 1)})
    >>> heads["reg"](ember.randn(2, 8)).shape
    (2, 1)
    """

    def __init__(self, modules: dict | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove and return the module under ``key``."""
        module = self._modules[key]
        delattr(self, key)
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            delattr(self, key)

    def update(self, modules: dict | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or (name, module) pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self.add_module(key, module)

    def forward(self, *args, **kwargs):
        raise TypeError("ModuleDict has no forward(); index it and call its modules")

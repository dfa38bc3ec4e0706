"""``nn.utils.parametrize``: a parameter or buffer computed by modules from stored originals (PyTorch's API).

``register_parametrization(module, "weight", p)`` moves the weight into ``module.parametrizations.weight.original``
(or ``original0``, ``original1``... when ``p.right_inverse`` returns several tensors) and gives the module's class a
property: reading ``module.weight`` runs the parametrizations on the originals, assigning to it runs their
``right_inverse`` and stores the result in the originals. The module's class becomes a subclass of its own,
``Parametrized<Class>``, made per module (as PyTorch does), so that the property stays with that module; the state
dict holds PyTorch's keys (``parametrizations.weight.original``, a parametrization's buffers under
``parametrizations.weight.0.``), so checkpoints load across. Under ``ember.jit`` the property's ops are traced like
any other and the originals are read live.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from ember.autograd import no_grad
from ember.nn.module import Module, ModuleDict, ModuleList
from ember.nn.parameter import Parameter
from ember.tensor import Tensor

__all__ = [
    "ParametrizationList", "cached", "is_parametrized", "register_parametrization", "remove_parametrizations",
    "transfer_parametrizations_and_params", "type_before_parametrizations",
]

_cache_depth = 0
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Inside the block, each parametrized tensor is computed once, at its first read, and that value reused
    (a weight read at every step of a recurrent loop); the values are dropped at the end of the outermost block.

    >>> with ember.nn.utils.parametrize.cached():
    ...     y = rnn(x)
    """
    global _cache_depth
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache.clear()


def _register(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _store(original: Tensor, value: Tensor) -> None:
    """``original`` made to hold ``value``, the same object kept (an optimizer holds it): copied in place when the
    shapes and dtypes agree, else its array replaced."""
    if tuple(original.shape) == tuple(value.shape) and original.dtype == value.dtype:
        original.copy_(value)
    else:
        original.array = value.detach().array.copy()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the originals they start from."""

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False):
        if not modules:
            raise ValueError("ParametrizationList: needs at least one parametrization")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = tuple(original.shape), original.dtype
        with no_grad():
            new = original
            for module in reversed(list(self)):
                inverse = getattr(module, "right_inverse", None)
                if inverse is not None:
                    try:
                        new = inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, Sequence)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...), got "
                             f"{type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != original.dtype:
                raise ValueError(f"register_parametrization: when right_inverse returns one tensor it may not change "
                                 f"the dtype: original {original.dtype}, right_inverse(original) {new.dtype}")
            if new is not original:
                with no_grad():
                    _store(original, new)
            _register(self, "original", original)
        else:
            for i, part in enumerate(new):
                if not isinstance(part, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors, got element {i} "
                                     f"of type {type(part).__name__}")
                part = part.detach()
                if isinstance(original, Parameter):
                    part = Parameter(part.array, original.requires_grad)
                _register(self, f"original{i}", part)
        if not unsafe:
            value = self()
            if not isinstance(value, Tensor):
                raise ValueError(f"A parametrization must return a tensor, got {type(value).__name__}")
            if value.dtype != dtype or tuple(value.shape) != shape:
                raise ValueError(f"register_parametrization: a parametrization may not change the dtype or shape of "
                                 f"the tensor unless unsafe=True: {dtype}{list(shape)} became "
                                 f"{value.dtype}{list(value.shape)}")

    def originals(self) -> tuple:
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value: Tensor) -> None:
        """Store ``value``: the parametrizations' ``right_inverse`` in reverse order, the result in the originals."""
        with no_grad():
            for module in reversed(list(self)):
                inverse = getattr(module, "right_inverse", None)
                if inverse is None:
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse")
                value = inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor, got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} while "
                                     f"`original` has dtype {self.original.dtype}")
                _store(self.original, value)
            else:
                if not isinstance(value, Sequence) or len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of {self.ntensors} tensors, got "
                                     f"{type(value).__name__}")
                for original, part in zip(self.originals(), value):
                    _store(original, part)

    def forward(self) -> Tensor:
        modules = list(self)
        x = modules[0](*self.originals())
        for module in modules[1:]:
            x = module(x)
        return x


def _property(name: str) -> property:
    def get(self) -> Tensor:
        chain = self.parametrizations[name]
        if not _cache_depth:
            return chain()
        key = (id(self), name)
        value = _cache.get(key)
        if value is None:
            value = _cache[key] = chain()
        return value

    def set_(self, value: Tensor) -> None:
        self.parametrizations[name].right_inverse(value)

    return property(get, set_)


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, when given)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def type_before_parametrizations(module: Module) -> type:
    """The module's class as it was before its first parametrization."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def register_parametrization(module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False):
    """Make ``module.<tensor_name>`` the result of ``parametrization`` on the stored original (see the module
    docstring). A second call on the same tensor applies the new parametrization after the ones there. Returns
    ``module``.

    >>> class Symmetric(ember.nn.Module):
    ...     def forward(self, x):
    ...         return x.triu() + x.triu(1).T
    >>> layer = register_parametrization(ember.nn.Linear(3, 3), "weight", Symmetric())
    """
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be an ember.nn.Module, got "
                        f"{type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            current = getattr(module, tensor_name)
            value = parametrization(current)
            if not isinstance(value, Tensor) or value.dtype != current.dtype or value.shape != current.shape:
                raise ValueError(f"register_parametrization: a parametrization may not change the dtype or shape "
                                 f"of module.{tensor_name} unless unsafe=True: {current.dtype}{list(current.shape)}")
        chain = module.parametrizations[tensor_name]
        chain.append(parametrization)
        chain.unsafe |= unsafe
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"register_parametrization: module '{type(module).__name__}' has no parameter or buffer "
                         f"named '{tensor_name}'")
    original = getattr(module, tensor_name)
    if original is None:
        raise ValueError(f"register_parametrization: module.{tensor_name} is None")
    chain = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {})
        module.parametrizations = ModuleDict()
    setattr(type(module), tensor_name, _property(tensor_name))
    module.parametrizations[tensor_name] = chain
    return module


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True):
    """Remove the parametrizations on ``tensor_name``: it becomes a plain parameter (or buffer) again, holding its
    current parametrized value (``leave_parametrized``, the original Parameter object kept where the shape and
    dtype allow) or its original. Returns ``module``.

    >>> remove_parametrizations(layer, "weight")
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: module {type(module).__name__} does not have a parametrization "
                         f"on {tensor_name}")
    chain = module.parametrizations[tensor_name]
    if chain.is_tensor:
        original = chain.original
        if leave_parametrized:
            with no_grad():
                _store(original, getattr(module, tensor_name))
    elif leave_parametrized:
        # computed in the caller's grad mode: as PyTorch, a Parameter if the value requires grad (any original
        # does), else a buffer
        value = getattr(module, tensor_name)
        original = Parameter(value.detach().array.copy(), True) if value.requires_grad \
            else Tensor._make(value.detach().array.copy(), None)
    else:
        raise ValueError("remove_parametrizations: cannot leave unparametrized (leave_parametrized=False) a tensor "
                         "that is parametrized in terms of a sequence of tensors")
    del module.parametrizations[tensor_name]
    delattr(type(module), tensor_name)
    _register(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module).__bases__[0]
    return module


def transfer_parametrizations_and_params(from_module: Module, to_module: Module, tensor_name: str | None = None):
    """Give ``to_module`` the parametrizations of ``from_module`` (on ``tensor_name``, or on every parametrized
    tensor) and the very originals they start from, so the two share them; a tensor ``to_module`` lacks is made a
    Parameter first. Returns ``to_module`` (unchanged when ``from_module`` is not parametrized).

    >>> transfer_parametrizations_and_params(layer, ember.nn.Linear(3, 3))
    """
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
        source = from_module.parametrizations[name]
        for parametrization in source:
            register_parametrization(to_module, name, parametrization)
        target = to_module.parametrizations[name]
        for i, original in enumerate(source.originals()):
            setattr(target, "original" if source.is_tensor else f"original{i}", original)
    return to_module

"""``ParameterList`` and ``ParameterDict``: Parameters registered on a Module in a list or by key
(``torch.nn.ParameterList``, ``torch.nn.ParameterDict``)."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.tensor import Tensor


def _entry(value):
    """What a ParameterList holds for ``value``: a Parameter for a Tensor, any other object as it is."""
    if isinstance(value, Parameter) or not isinstance(value, Tensor):
        return value
    return Parameter(value)


class ParameterList(Module):
    """Parameters held in a list and found by ``parameters()``, ``state_dict()`` and optimizers.

    >>> weights = ember.nn.ParameterList([ember.nn.Parameter(ember.randn(4, 4)) for _ in range(3)])
    >>> len(list(weights.parameters()))
    3
    """

    def __init__(self, values: Iterable | None = None) -> None:
        super().__init__()
        self._count = 0
        if values is not None:
            self.extend(values)

    def _index(self, index: int) -> int:
        index = operator.index(index)  # (a float such as 1.0 named a new entry "1.0", as PyTorch refuses it)
        if not -self._count <= index < self._count:
            raise IndexError(f"ParameterList: index {index} is out of range for {self._count} parameters")
        return index % self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(self._count)[index]])
        return getattr(self, str(self._index(index)))

    def __setitem__(self, index: int, value) -> None:
        setattr(self, str(self._index(index)), _entry(value))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Parameter]:
        return (self[i] for i in range(self._count))

    def __iadd__(self, values: Iterable) -> ParameterList:
        return self.extend(values)

    def append(self, value) -> ParameterList:
        """Add a parameter at the end (a Tensor is wrapped in a Parameter; any other object is held as it is, not a
        parameter, as PyTorch's list holds it)."""
        setattr(self, str(self._count), _entry(value))
        self._count += 1
        return self

    def extend(self, values: Iterable) -> ParameterList:
        """Add parameters at the end."""
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter of shape {list(p.shape)} ({p.dtype})" if isinstance(p, Tensor)
                         else f"({i}): Object of type: {type(p).__name__}" for i, p in enumerate(self))


class ParameterDict(Module):
    """Parameters keyed by name, found by ``parameters()``, ``state_dict()`` (under their keys) and optimizers;
    a Tensor set into it is wrapped in a Parameter.

    >>> scales = ember.nn.ParameterDict({"a": ember.nn.Parameter(ember.ones(3))})
    >>> list(scales.state_dict())
    ['a']
    """

    def __init__(self, parameters: dict | Iterable[tuple[str, object]] | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        if key not in self._parameters:
            raise KeyError(f"ParameterDict: no parameter {key!r}")
        return self._parameters[key]

    def __setitem__(self, key: str, value) -> None:
        self.register_parameter(key, value if isinstance(value, Parameter) or value is None else Parameter(value))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, key: str, default=None):
        """The parameter under ``key``, or ``default``."""
        return self._parameters.get(key, default)

    def pop(self, key: str) -> Parameter:
        """Remove and return the parameter under ``key``."""
        value = self[key]
        del self[key]
        return value

    def clear(self) -> None:
        for key in list(self._parameters):
            del self[key]

    def setdefault(self, key: str, default=None):
        """The parameter under ``key``, set to ``default`` (a Tensor wrapped in a Parameter) first if absent."""
        if key not in self._parameters:
            self[key] = default
        return self._parameters[key]

    def popitem(self) -> tuple[str, Parameter]:
        """Remove and return the last (key, parameter) pair."""
        if not self._parameters:
            raise KeyError("popitem(): ParameterDict is empty")
        key = next(reversed(self._parameters))
        return key, self.pop(key)

    def copy(self) -> ParameterDict:
        """A new ParameterDict of the same Parameter objects, in the same order."""
        return ParameterDict(OrderedDict(self._parameters))

    def fromkeys(self, keys: Iterable[str], default=None) -> ParameterDict:
        """A new ParameterDict with ``default`` under each of ``keys``."""
        return ParameterDict((key, default) for key in keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._parameters))

    def __or__(self, other) -> ParameterDict:
        merged = self.copy()
        merged.update(other)
        return merged

    def __ror__(self, other):
        merged = other.copy()
        merged.update(self)
        return merged

    def __ior__(self, other) -> ParameterDict:
        self.update(other)
        return self

    def update(self, parameters) -> None:
        """Add (or replace) parameters from a mapping or (key, value) pairs. As PyTorch's, a plain dict's entries
        are added in key order; an OrderedDict's, a ParameterDict's and pairs' in their own order."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = parameters.items()
        elif isinstance(parameters, Mapping):
            items = sorted(parameters.items(), key=lambda item: item[0])
        else:
            items = parameters
        for key, value in items:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter of shape {list(p.shape)} ({p.dtype})" for k, p in self.items())

"""``ParameterList``: a list of Parameters registered on a Module (``torch.nn.ParameterList``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ember.nn.module import Module
from ember.nn.parameter import Parameter


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
        if not -self._count <= index < self._count:
            raise IndexError(f"ParameterList: index {index} is out of range for {self._count} parameters")
        return index % self._count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(self._count)[index]])
        return getattr(self, str(self._index(index)))

    def __setitem__(self, index: int, value) -> None:
        setattr(self, str(self._index(index)), value if isinstance(value, Parameter) else Parameter(value))

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Parameter]:
        return (self[i] for i in range(self._count))

    def __iadd__(self, values: Iterable) -> ParameterList:
        return self.extend(values)

    def append(self, value) -> ParameterList:
        """Add a parameter at the end (a Tensor is wrapped in a Parameter)."""
        setattr(self, str(self._count), value if isinstance(value, Parameter) else Parameter(value))
        self._count += 1
        return self

    def extend(self, values: Iterable) -> ParameterList:
        """Add parameters at the end."""
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter of shape {list(p.shape)} ({p.dtype})" for i, p in enumerate(self))

"""``StructuredParam``: a network's parameters (or gradients) as one list of per-layer dicts, with arithmetic
on all values at once, as tinynn's optimizers and gradient clipping use it."""

from __future__ import annotations

import copy
import operator

import numpy as np


def _values_of(other):
    return other.values if isinstance(other, StructuredParam) else other


class StructuredParam:
    """``param_list``: one dict (name -> array) per layer; ``nt_param_list``: the non-trainable ones."""

    wrt_input = None  # a network's gradients carry their inputs' gradient here (absent from tinynn's pickles)

    def __init__(self, param_list: list, nt_param_list: list | None = None):
        self.param_list = param_list
        self.nt_param_list = nt_param_list
        self.wrt_input = None

    @staticmethod
    def _flat(dicts) -> np.ndarray:
        flat = [value for d in dicts for value in d.values()]
        out = np.empty(len(flat), dtype=object)  # (an object array: the arrays differ in shape)
        out[:] = flat
        return out

    @staticmethod
    def _scatter(dicts, values) -> None:
        count = sum(len(d) for d in dicts)
        if len(values) != count:  # (zip would drop the extra values or leave the last parameters as they were)
            raise ValueError(f"StructuredParam: {len(values)} values given for {count} parameters")
        values = iter(values)
        for d in dicts:
            for name in d:
                d[name] = next(values)

    @property
    def values(self) -> np.ndarray:
        """All arrays, layer by layer, as a 1-D object array."""
        return self._flat(self.param_list)

    @values.setter
    def values(self, values) -> None:
        self._scatter(self.param_list, values)

    @property
    def nt_values(self) -> np.ndarray:
        return self._flat(self.nt_param_list or [])

    @nt_values.setter
    def nt_values(self, values) -> None:
        self._scatter(self.nt_param_list or [], values)

    @property
    def shape(self) -> tuple:
        return tuple({name: value.shape for name, value in d.items()} for d in self.param_list)

    def clip(self, min_=None, max_=None) -> StructuredParam:
        """A copy with every value clipped into [min_, max_]."""
        out = copy.deepcopy(self)
        out.values = [np.clip(v, min_, max_) for v in self.values]
        return out

    def __len__(self) -> int:
        return len(self.values)

    def __neg__(self) -> StructuredParam:
        out = copy.deepcopy(self)
        out.values = -self.values
        return out


def _binary(fn, reflected: bool = False):
    def method(self, other):
        out = copy.deepcopy(self)
        a, b = self.values, _values_of(other)
        out.values = fn(b, a) if reflected else fn(a, b)
        return out

    return method


def _inplace(fn):
    def method(self, other):
        self.values = fn(self.values, _values_of(other))
        return self

    return method


def _compare(fn):
    def method(self, other):
        out = copy.deepcopy(self)
        other = _values_of(other)
        scalar = np.isscalar(other)
        out.values = [fn(v, other if scalar else other[i]) for i, v in enumerate(self.values)]
        return out

    return method


for _name, _fn in {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
                   "pow": operator.pow}.items():
    setattr(StructuredParam, f"__{_name}__", _binary(_fn))
    setattr(StructuredParam, f"__r{_name}__", _binary(_fn, reflected=True))
    setattr(StructuredParam, f"__i{_name}__", _inplace(_fn))
for _name, _fn in {"lt": operator.lt, "gt": operator.gt, "le": operator.le, "ge": operator.ge}.items():
    setattr(StructuredParam, f"__{_name}__", _compare(_fn))
StructuredParam.__and__ = _binary(operator.and_, reflected=True)
StructuredParam.__or__ = _binary(operator.or_, reflected=True)

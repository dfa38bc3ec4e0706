"""Transforms that act on parts of a value (``CatTransform``, ``StackTransform``), change its shape alone
(``ReshapeTransform``) or map it through a distribution's CDF (``CumulativeDistributionTransform``), as
``torch.distributions.transforms``.

>>> t = CatTransform([ExpTransform(), identity_transform], dim=0, lengths=[1, 2])
>>> t(ember.tensor([0.0, 1.0, 2.0]))      # [1, 1, 2]
"""

from __future__ import annotations

import math

from ember import creation, ops
from ember.distributions import constraints
from ember.distributions.transforms import Transform
from ember.distributions.utils import sum_rightmost

__all__ = ["CatTransform", "CumulativeDistributionTransform", "ReshapeTransform", "StackTransform"]


def _transforms(name: str, tseq) -> list:
    tseq = list(tseq)
    if not tseq or not all(isinstance(t, Transform) for t in tseq):
        raise TypeError(f"{name}: expected a non-empty sequence of Transforms, got {tseq!r}")
    return tseq


class ReshapeTransform(Transform):
    """The rightmost dimensions of shape ``in_shape`` reshaped to ``out_shape`` (of as many elements); the
    log-Jacobian is 0.

    >>> ReshapeTransform((4,), (2, 2))(ember.zeros(3, 4)).shape   # (3, 2, 2)
    """

    bijective = True

    def __init__(self, in_shape, out_shape, cache_size: int = 0):
        self.in_shape, self.out_shape = tuple(int(s) for s in in_shape), tuple(int(s) for s in out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise ValueError(f"ReshapeTransform: in_shape {self.in_shape} and out_shape {self.out_shape} have "
                             "different numbers of elements")
        super().__init__(cache_size=cache_size)

    @property
    def domain(self):
        return constraints.independent(constraints.real, len(self.in_shape))

    @property
    def codomain(self):
        return constraints.independent(constraints.real, len(self.out_shape))

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size=cache_size)

    def __eq__(self, other) -> bool:
        return (isinstance(other, ReshapeTransform) and self.in_shape == other.in_shape
                and self.out_shape == other.out_shape)

    __hash__ = object.__hash__

    def _batch(self, shape, event: tuple, name: str) -> tuple:
        shape = tuple(shape)
        if len(shape) < len(event) or shape[len(shape) - len(event):] != event:
            raise ValueError(f"ReshapeTransform: the {name} shape {shape} does not end in {event}")
        return shape[:len(shape) - len(event)]

    def _call(self, x):
        return x.reshape(self._batch(x.shape, self.in_shape, "input") + self.out_shape)

    def _inverse(self, y):
        return y.reshape(self._batch(y.shape, self.out_shape, "input") + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return creation.zeros(self._batch(x.shape, self.in_shape, "input"), dtype=x.dtype)

    def forward_shape(self, shape) -> tuple:
        return self._batch(shape, self.in_shape, "input") + self.out_shape

    def inverse_shape(self, shape) -> tuple:
        return self._batch(shape, self.out_shape, "output") + self.in_shape

    def __repr__(self) -> str:
        return f"ReshapeTransform({self.in_shape}, {self.out_shape})"


class CatTransform(Transform):
    """``tseq[i]`` applied to the i-th piece (``lengths[i]`` long, 1 by default) of a value cut along ``dim``, the
    pieces concatenated again: a transform per block of a parameter vector.

    >>> CatTransform([ExpTransform(), identity_transform], dim=0, lengths=[1, 2])
    """

    def __init__(self, tseq, dim: int = 0, lengths=None, cache_size: int = 0):
        tseq = _transforms("CatTransform", tseq)
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = tseq
        self.lengths = [1] * len(tseq) if lengths is None else [int(n) for n in lengths]
        if len(self.lengths) != len(tseq):
            raise ValueError(f"CatTransform: {len(tseq)} transforms but {len(self.lengths)} lengths")
        self.dim = int(dim)

    @property
    def event_dim(self) -> int:
        return max(t.event_dim for t in self.transforms)

    @property
    def length(self) -> int:
        return sum(self.lengths)

    @property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)

    @property
    def bijective(self) -> bool:
        return all(t.bijective for t in self.transforms)

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size=cache_size)

    def __eq__(self, other) -> bool:
        return (isinstance(other, CatTransform) and self.dim == other.dim and self.lengths == other.lengths
                and len(self.transforms) == len(other.transforms)
                and all(a == b for a, b in zip(self.transforms, other.transforms)))

    __hash__ = object.__hash__

    def _pieces(self, x):
        ndim = len(x.shape)
        if not -ndim <= self.dim < ndim or x.shape[self.dim] != self.length:
            raise ValueError(f"CatTransform: the value's shape {tuple(x.shape)} must have {self.length} elements "
                             f"(lengths {self.lengths}) along dim {self.dim}")
        start = 0
        for length in self.lengths:
            yield x.narrow(self.dim, start, length)
            start += length

    def _call(self, x):
        return ops.cat([t(piece) for t, piece in zip(self.transforms, self._pieces(x))], self.dim)

    def _inverse(self, y):
        return ops.cat([t.inv(piece) for t, piece in zip(self.transforms, self._pieces(y))], self.dim)

    def log_abs_det_jacobian(self, x, y):
        event_dim = self.event_dim
        terms = []
        for t, a, b in zip(self.transforms, self._pieces(x), self._pieces(y)):
            terms.append(sum_rightmost(t.log_abs_det_jacobian(a, b), event_dim - t.event_dim))
        dim = (self.dim - len(x.shape) if self.dim >= 0 else self.dim) + event_dim
        if dim < 0:  # dim is a batch dimension of the log-Jacobians: they join along it
            return ops.cat(terms, dim)
        total = terms[0]  # dim is inside the event: its pieces' log-Jacobians add up
        for term in terms[1:]:
            total = total + term
        return total

    def __repr__(self) -> str:
        return f"CatTransform({self.transforms!r}, dim={self.dim}, lengths={self.lengths})"


class StackTransform(Transform):
    """``tseq[i]`` applied to the i-th slice of a value along ``dim``, the results stacked again.

    >>> StackTransform([ExpTransform(), identity_transform], dim=1)(ember.zeros(3, 2))   # [[1, 0]] * 3
    """

    def __init__(self, tseq, dim: int = 0, cache_size: int = 0):
        tseq = _transforms("StackTransform", tseq)
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms, self.dim = tseq, int(dim)

    @property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)

    @property
    def bijective(self) -> bool:
        return all(t.bijective for t in self.transforms)

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size=cache_size)

    def __eq__(self, other) -> bool:
        return (isinstance(other, StackTransform) and self.dim == other.dim
                and len(self.transforms) == len(other.transforms)
                and all(a == b for a, b in zip(self.transforms, other.transforms)))

    __hash__ = object.__hash__

    def _slices(self, x):
        ndim = len(x.shape)
        if not -ndim <= self.dim < ndim or x.shape[self.dim] != len(self.transforms):
            raise ValueError(f"StackTransform: the value's shape {tuple(x.shape)} must have "
                             f"{len(self.transforms)} slices (one per transform) along dim {self.dim}")
        return [x.select(self.dim, i) for i in range(len(self.transforms))]

    def _call(self, x):
        return ops.stack([t(s) for t, s in zip(self.transforms, self._slices(x))], self.dim)

    def _inverse(self, y):
        return ops.stack([t.inv(s) for t, s in zip(self.transforms, self._slices(y))], self.dim)

    def log_abs_det_jacobian(self, x, y):
        terms = [t.log_abs_det_jacobian(a, b) for t, a, b in zip(self.transforms, self._slices(x), self._slices(y))]
        return ops.stack(terms, self.dim)

    def __repr__(self) -> str:
        return f"StackTransform({self.transforms!r}, dim={self.dim})"


class CumulativeDistributionTransform(Transform):
    """``distribution.cdf``: from the distribution's support onto the unit interval; the log-Jacobian is the
    distribution's ``log_prob`` (a copula's building block).

    >>> CumulativeDistributionTransform(ember.distributions.Normal(0.0, 1.0))(ember.tensor([0.0]))   # [0.5]
    """

    bijective = True
    codomain = constraints.unit_interval
    sign = +1

    def __init__(self, distribution, cache_size: int = 0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    @property
    def domain(self):
        return self.distribution.support

    def with_cache(self, cache_size: int = 1) -> Transform:
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size=cache_size)

    def _call(self, x):
        return self.distribution.cdf(x)

    def _inverse(self, y):
        return self.distribution.icdf(y)

    def log_abs_det_jacobian(self, x, y):
        return self.distribution.log_prob(x)

    def __repr__(self) -> str:
        return f"CumulativeDistributionTransform({self.distribution!r})"

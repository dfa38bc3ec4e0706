"""Building blocks of the CTR models: MLP, FM interaction, DCN-v2 cross network, DLRM dot interaction,
and the MMoE mixture of experts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ember import ops
from ember.creation import zeros
from ember.nn import Linear, Module, ModuleList, ReLU, Sequential, init
from ember.nn.parameter import Parameter
from ember.tensor import Tensor


def mlp(in_features: int, hidden: Sequence[int], out_features: int | None = None) -> Sequential:
    """Linear + ReLU per width of ``hidden``, then a last Linear to ``out_features`` (when given).

    >>> mlp(429, [400, 400], 1)
    """
    layers, width = [], in_features
    for h in hidden:
        layers += [Linear(width, int(h)), ReLU()]
        width = int(h)
    if out_features is not None:
        layers.append(Linear(width, out_features))
    return Sequential(*layers)


def fm_interaction(fields: Tensor) -> Tensor:
    """Factorization-machine second-order term of (B, F, d) field vectors: ``sum_{i<j} <v_i, v_j>`` as (B,),
    computed as ``0.5 * sum_k ((sum_i v_ik)^2 - sum_i v_ik^2)``."""
    total = ops.sum(fields, axis=1)
    squares = ops.sum(fields * fields, axis=1)
    return ops.sum(total * total - squares, axis=1) * 0.5


class CrossNetwork(Module):
    """DCN-v2's cross network: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` for ``num_layers`` full-rank layers.

    >>> CrossNetwork(429, num_layers=3)(x).shape == x.shape
    """

    def __init__(self, width: int, num_layers: int = 3):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"CrossNetwork: num_layers must be >= 1, got {num_layers}")
        self.layers = ModuleList([Linear(width, width) for _ in range(num_layers)])

    def forward(self, x0: Tensor) -> Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class DotInteraction(Module):
    """DLRM's interaction: the pairwise dot products ``<z_i, z_j>`` (i < j) of (B, n, d) vectors, (B, n(n-1)/2)."""

    def __init__(self, num_vectors: int):
        super().__init__()
        rows, cols = np.triu_indices(num_vectors, k=1)
        self.num_vectors = num_vectors
        self._pairs = (rows * num_vectors + cols).astype(np.int64)

    def forward(self, z: Tensor) -> Tensor:
        if z.ndim != 3 or z.shape[1] != self.num_vectors:
            raise ValueError(f"DotInteraction: expected (batch, {self.num_vectors}, dim) vectors, got "
                             f"{list(z.shape)}")
        gram = ops.matmul(z, ops.swapaxes(z, 1, 2))
        flat = ops.reshape(gram, (z.shape[0], self.num_vectors * self.num_vectors))
        return ops.take(flat, Tensor._make(self._pairs, None), axis=1)

    def extra_repr(self) -> str:
        return f"num_vectors={self.num_vectors}"


class MixtureOfExperts(Module):
    """MMoE's shared part: ``num_experts`` expert MLPs and one softmax gate per task; gives one (B, width)
    mixture per task."""

    def __init__(self, in_features: int, expert_hidden: Sequence[int], num_experts: int, num_tasks: int):
        super().__init__()
        if num_experts < 1 or num_tasks < 1 or not expert_hidden:
            raise ValueError(f"MixtureOfExperts: needs num_experts >= 1, num_tasks >= 1 and expert layers, got "
                             f"{num_experts}, {num_tasks}, {list(expert_hidden)}")
        self.experts = ModuleList([mlp(in_features, expert_hidden) for _ in range(num_experts)])
        self.gates = ModuleList([Linear(in_features, num_experts) for _ in range(num_tasks)])
        self.width = int(expert_hidden[-1])

    def forward(self, x: Tensor) -> list[Tensor]:
        experts = ops.stack([expert(x) for expert in self.experts], axis=1)  # (B, E, width)
        mixtures = []
        for gate in self.gates:
            weights = ops.unsqueeze(ops.softmax(gate(x), axis=-1), 2)  # (B, E, 1)
            mixtures.append(ops.sum(experts * weights, axis=1))
        return mixtures


class DenseLinear(Module):
    """A bias-free linear map of the dense features to one logit, starting at zero (a wide part's dense term)."""

    def __init__(self, num_dense: int):
        super().__init__()
        self.weight = Parameter(zeros(num_dense, 1))
        init.zeros_(self.weight)

    def forward(self, dense: Tensor) -> Tensor:
        return ops.reshape(ops.matmul(dense, self.weight), (-1,))

"""``AdaptiveLogSoftmaxWithLoss``: the adaptive softmax of Grave et al. for large vocabularies, as PyTorch's. Frequent
classes (below the first cutoff) sit in a head that also holds one logit per tail cluster; each cluster's classes get
a smaller projection (``in_features // div_value ** (i + 1)`` features) and their own softmax."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember import ops as _ops
from ember.creation import zeros
from ember.nn.layers.embedding_bag import _host
from ember.nn.layers.linear import Linear
from ember.nn.module import Module, ModuleList, Sequential
from ember.tensor import Tensor

__all__ = ["AdaptiveLogSoftmaxWithLoss", "ASMoutput"]

ASMoutput = namedtuple("ASMoutput", ["output", "loss"])
ASMoutput.__doc__ = "``AdaptiveLogSoftmaxWithLoss``'s result: each row's target log-probability and their mean loss."


class AdaptiveLogSoftmaxWithLoss(Module):
    """The adaptive softmax: ``forward(input, target)`` gives ``(output, loss)``, the log-probability of each row's
    target and the mean negative log-likelihood; ``log_prob`` the full (N, n_classes) log-probabilities; ``predict``
    the most likely class. Classes must be sorted by frequency, most frequent first.

    >>> asm = ember.nn.AdaptiveLogSoftmaxWithLoss(16, 100, cutoffs=[10, 50])
    >>> out = asm(ember.randn(8, 16), ember.randint(0, 100, (8,)))
    >>> out.output.shape, out.loss.shape
    ((8,), ())
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0, head_bias: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0 or cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1 \
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: cutoffs must be unique, increasing ints between 1 and "
                             f"n_classes - 1 = {n_classes - 1}, got {cutoffs}")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                                        Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for cluster in self.tail:
            for layer in cluster:
                layer.reset_parameters()

    def _batched(self, input: Tensor, name: str) -> tuple[Tensor, bool]:
        if input.ndim not in (1, 2) or input.shape[-1] != self.in_features:
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss.{name}: input must be (N, {self.in_features}) or "
                             f"({self.in_features},), got shape {list(input.shape)}")
        return (input, True) if input.ndim == 2 else (_ops.unsqueeze(input, 0), False)

    def forward(self, input: Tensor, target) -> ASMoutput:
        x, batched = self._batched(input, "forward")
        if isinstance(target, Tensor) and target.symbolic:
            raise TypeError("AdaptiveLogSoftmaxWithLoss: rows are routed to clusters by the targets' values on the "
                            "host, which a traced graph does not have; call it outside ember.jit, or use log_prob")
        t = _host(target).astype(np.int64)
        if t.ndim != (1 if batched else 0) or (batched and t.shape[0] != x.shape[0]):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: the target must be (N,) for an (N, in_features) input, "
                             f"or 0-D for an unbatched one; got target shape {list(t.shape)} and input shape "
                             f"{list(input.shape)}")
        t = t.reshape(-1)
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: targets must be in [0, {self.n_classes - 1}], got values "
                             f"in [{t.min()}, {t.max()}]")
        rows_all = np.arange(t.size)
        head_index = t.copy()  # the head's column for each row: its class, or its cluster's logit
        output = zeros(t.size, dtype=x.dtype, device=x.device)
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            rows = np.nonzero((t >= low) & (t < high))[0]
            if rows.size == 0:
                continue
            head_index[rows] = self.shortlist_size + i
            cluster = _ops.log_softmax(self.tail[i](x[rows]), 1)
            local = cluster[np.arange(rows.size), t[rows] - low]
            output = _ops.index_add(output, _ops.as_tensor(rows), local)
        head = _ops.log_softmax(self.head(x), 1)
        output = output + head[rows_all, head_index]
        loss = _ops.mean(-output)
        return ASMoutput(output if batched else _ops.squeeze(output, 0), loss)

    def _full_log_prob(self, x: Tensor, head_output: Tensor) -> Tensor:
        head = _ops.log_softmax(head_output, 1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = _ops.log_softmax(self.tail[i](x), 1)
            parts.append(cluster + head[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return _ops.concat(parts, axis=1)

    def log_prob(self, input: Tensor) -> Tensor:
        """The log-probability of every class, (N, n_classes) (or (n_classes,) for an unbatched input)."""
        x, batched = self._batched(input, "log_prob")
        out = self._full_log_prob(x, self.head(x))
        return out if batched else _ops.squeeze(out, 0)

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row, (N,) (or 0-D for an unbatched input)."""
        x, batched = self._batched(input, "predict")
        out = _ops.argmax(self._full_log_prob(x, self.head(x)), 1)
        return out if batched else _ops.squeeze(out, 0)

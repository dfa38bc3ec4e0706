"""``ember.nn.utils``: PyTorch's ``torch.nn.utils`` helpers (gradient clipping, flattening parameters, weight and
spectral normalization, ``parametrize`` and ``parametrizations``) and ``rnn``, its packed and padded sequences."""

from __future__ import annotations

from collections.abc import Iterable

from ember import ops
from ember.autograd import no_grad
from ember.nn.utils import parametrizations, parametrize, rnn, stateless
from ember.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from ember.nn.utils.weight_norm import remove_weight_norm, weight_norm
from ember.optim.clip import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from ember.tensor import Tensor

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
    "parametrizations", "parametrize", "remove_spectral_norm", "remove_weight_norm", "rnn", "spectral_norm",
    "stateless", "vector_to_parameters", "weight_norm",
]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D tensor."""
    return ops.concat([ops.reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vector: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vector`` into ``parameters`` (in place, not recorded)."""
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vector.ndim != 1 or vector.shape[0] != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements, got shape "
                         f"{list(vector.shape)}")
    start = 0
    with no_grad():
        for p in parameters:
            p.copy_(ops.reshape(vector[start:start + p.numel()], p.shape))
            start += p.numel()

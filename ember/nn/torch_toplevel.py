"""PyTorch's top-level spellings of ``nn.functional`` functions (``torch.selu``, ``torch.group_norm``,
``torch.kl_div``...), exported as ``ember.selu`` and so on, with the argument orders of PyTorch's top-level forms:
``instance_norm`` takes weight and bias before the running statistics, and the losses take ``reduction`` as
PyTorch's integer code (0 none, 1 mean, 2 sum) or its name, 0 by default: PyTorch's bindings read their declared
default ``at::Reduction::Mean`` with ``atol``, so ``torch.kl_div(x, t)`` returns the unreduced losses.

>>> ember.group_norm(ember.randn(2, 4, 3), 2).shape
(2, 4, 3)
"""

from __future__ import annotations

from ember.nn import functional as F
from ember.nn.layers.loss import kl_div_unwarned
from ember.tensor import Tensor
from ember.tensor_inplace import _check, _write

__all__ = [
    "celu", "channel_shuffle", "constant_pad_nd", "cosine_embedding_loss", "cosine_similarity",
    "dropout_", "group_norm", "hinge_embedding_loss", "instance_norm", "kl_div", "margin_ranking_loss",
    "native_channel_shuffle", "pairwise_distance", "pixel_shuffle", "pixel_unshuffle", "poisson_nll_loss", "prelu",
    "rms_norm", "selu", "triplet_margin_loss",
]

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(name: str, reduction) -> str:
    """PyTorch's top-level reduction code (0, 1, 2) or a name, as a name."""
    if isinstance(reduction, str):
        return reduction
    if isinstance(reduction, bool) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 0 (none), 1 (mean), 2 (sum) or one of their names, got "
                         f"{reduction!r}")
    return _REDUCTIONS[reduction]


def selu(input: Tensor) -> Tensor:
    """``nn.functional.selu``."""
    return F.selu(input)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``nn.functional.celu``."""
    return F.celu(input, alpha)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``nn.functional.prelu``."""
    return F.prelu(input, weight)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``nn.functional.pixel_shuffle``."""
    return F.pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``nn.functional.pixel_unshuffle``."""
    return F.pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``nn.functional.channel_shuffle``."""
    return F.channel_shuffle(input, groups)


native_channel_shuffle = channel_shuffle


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``nn.functional.cosine_similarity``."""
    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """``nn.functional.pairwise_distance``."""
    return F.pairwise_distance(x1, x2, p, eps, keepdim)


def kl_div(input: Tensor, target: Tensor, reduction=0, *, log_target: bool = False) -> Tensor:
    """``nn.functional.kl_div``; ``reduction`` 1 (mean) is an element mean, where ``nn.functional.kl_div`` asks for
    ``"batchmean"`` (and warns; this, as ``torch.kl_div``, does not)."""
    return kl_div_unwarned(input, target, _reduction("kl_div", reduction), log_target)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction=1) -> Tensor:
    """``nn.functional.poisson_nll_loss``."""
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction("poisson_nll_loss", reduction))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction=0) -> Tensor:
    """``nn.functional.margin_ranking_loss``."""
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction("margin_ranking_loss", reduction))


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction=0) -> Tensor:
    """``nn.functional.cosine_embedding_loss``."""
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction("cosine_embedding_loss", reduction))


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction=0) -> Tensor:
    """``nn.functional.hinge_embedding_loss``."""
    return F.hinge_embedding_loss(input, target, margin, reduction=_reduction("hinge_embedding_loss", reduction))


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction=0) -> Tensor:
    """``nn.functional.triplet_margin_loss``."""
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction("triplet_margin_loss", reduction))


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    """``nn.functional.group_norm`` (``cudnn_enabled`` is accepted and changes nothing)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                  running_var: Tensor | None, use_input_stats: bool, momentum: float, eps: float,
                  cudnn_enabled: bool = True) -> Tensor:
    """``nn.functional.instance_norm`` in ``torch.instance_norm``'s order: weight and bias first."""
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None) -> Tensor:
    """``nn.functional.rms_norm``."""
    return F.rms_norm(input, normalized_shape, weight, eps)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    """``nn.functional.dropout`` written into ``input`` (in place, under Ember's in-place rules)."""
    _check(input, "dropout_")
    if not train or p == 0:
        return input
    return _write(input, "dropout_", F.dropout(input, p, True))


def constant_pad_nd(input: Tensor, pad, value: float = 0) -> Tensor:
    """``nn.functional.pad`` with the constant ``value``."""
    return F.pad(input, tuple(pad), "constant", value)


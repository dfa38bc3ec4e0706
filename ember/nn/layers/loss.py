"""Loss modules: each holds its options and calls the loss function of the same name; ``kl_div`` and the margin
losses (listed in ``nn.functional``) are defined here."""

from __future__ import annotations

import warnings

from ember import ops as _ops
from ember.nn.module import Module
from ember.ops import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    ctc_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from ember.ops.autocast import widened
from ember.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average, reduce, reduction: str, stacklevel: int = 4) -> str:
    """PyTorch's old ``size_average``/``reduce`` flags as a reduction name, with PyTorch's warning (None for both
    leaves ``reduction``); ``stacklevel`` points the warning at the caller's line."""
    if size_average is None and reduce is None:
        return reduction
    for name, flag in (("size_average", size_average), ("reduce", reduce)):
        if isinstance(flag, str):  # a reduction given by position, where PyTorch's signature has the old flags
            raise TypeError(f"{name} is PyTorch's old True/False flag, got {flag!r}; pass reduction={flag!r} by "
                            "keyword")
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='"
                  f"{_legacy_name(size_average, reduce)}' instead.", UserWarning, stacklevel=stacklevel)
    return _legacy_name(size_average, reduce)


def _legacy_name(size_average, reduce) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


class _Loss(Module):
    """The base of the losses (PyTorch's ``_Loss``): its ``reduction``, from PyTorch's old ``size_average`` and
    ``reduce`` flags when they are given."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction='{self.reduction}'"


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer (PyTorch's ``_WeightedLoss``)."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error.

    >>> ember.nn.MSELoss()(ember.zeros(3), ember.ones(3))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error.

    >>> ember.nn.L1Loss()(ember.zeros(3), ember.ones(3))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Quadratic within ``delta`` of the target, linear outside.

    >>> ember.nn.HuberLoss(delta=0.5)(ember.zeros(3), ember.ones(3))
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return huber_loss(input, target, delta=self.delta, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Huber loss divided by ``beta``.

    >>> ember.nn.SmoothL1Loss(beta=0.5)(ember.zeros(3), ember.ones(3))
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return smooth_l1_loss(input, target, beta=self.beta, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices under log-probabilities (N, C, ...).

    >>> ember.nn.NLLLoss()(ember.log_softmax(ember.randn(4, 3)), ember.tensor([0, 2, 1, 0]))
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits (N, C, ...) against class indices or class probabilities.

    >>> ember.nn.CrossEntropyLoss(label_smoothing=0.1)(ember.randn(4, 3), ember.tensor([0, 2, 1, 0]))
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1].

    >>> ember.nn.BCELoss()(ember.tensor([0.2, 0.9]), ember.tensor([0.0, 1.0]))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy of sigmoid(logits), computed stably; ``pos_weight`` scales the positive term.

    >>> ember.nn.BCEWithLogitsLoss(pos_weight=ember.tensor([2.0]))(ember.randn(4, 1), ember.ones(4, 1))
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return binary_cross_entropy_with_logits(input, target, self.weight, self.pos_weight, self.reduction)


class CTCLoss(_Loss):
    """The connectionist temporal classification loss of log-probabilities (T, N, C) against unaligned targets
    (see ``ctc_loss``): ``blank``, the blank label; ``zero_infinity``, zero for impossible alignments.

    >>> ember.nn.CTCLoss()(ember.log_softmax(ember.randn(6, 2, 4), 2), ember.tensor([[1, 2], [3, 1]]), (6, 6), (2, 2))
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths) -> Tensor:
        return ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                        self.zero_infinity)

    def extra_repr(self) -> str:
        options = [f"blank={self.blank}"] if self.blank else []
        if self.reduction != "mean":
            options.append(f"reduction='{self.reduction}'")
        if self.zero_infinity:
            options.append("zero_infinity=True")
        return ", ".join(options)


_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from the log-probabilities ``input``, element by element
    ``target * (log(target) - input)`` (0 where target is 0); ``reduction="batchmean"`` divides the sum by the
    batch size (the mathematical KL divergence; "mean" averages over every element, as PyTorch's default).

    >>> kl_div(ember.log_softmax(ember.randn(2, 5), dim=1), ember.softmax(ember.randn(2, 5), dim=1), "batchmean")
    """
    if reduction == "mean":  # PyTorch's nn.functional.kl_div warns so: the mean is not the KL divergence
        warnings.warn("kl_div: reduction='mean' divides the summed loss by the batch size and the number of classes "
                      "both; reduction='batchmean' divides by the batch size only, the KL divergence", stacklevel=3)
    return kl_div_unwarned(input, target, reduction, log_target)


def kl_div_unwarned(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """``kl_div`` without its warning for ``reduction="mean"`` (PyTorch's top-level ``torch.kl_div`` gives none)."""
    if reduction not in _KL_REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {_KL_REDUCTIONS}, got {reduction!r}")
    input, target = _ops.promote(*widened(input, target))
    if log_target:
        pointwise = _ops.exp(target) * (target - input)
    else:
        # 0 where the target is 0 (0 log 0); a NaN or negative target gives NaN, as PyTorch's xlogy (a test of
        # target > 0 made those 0 and hid them)
        zero = target == 0
        log_target_values = _ops.log(_ops.where(zero, 1.0, target))
        pointwise = _ops.where(zero, 0.0, target * (log_target_values - input))
    if reduction == "none":
        return pointwise
    if reduction == "sum":
        return _ops.sum(pointwise)
    if reduction == "batchmean":
        return _ops.sum(pointwise) / (input.shape[0] if input.ndim else 1)
    return _ops.mean(pointwise)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of the target from log-probabilities (see ``kl_div``).

    >>> kl = ember.nn.KLDivLoss(reduction="batchmean")
    >>> kl(ember.log_softmax(ember.randn(2, 5), 1), ember.softmax(ember.randn(2, 5), 1))
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False) -> None:
        Module.__init__(self)  # not _Loss's check: "batchmean" is a reduction of this loss alone
        reduction = legacy_reduction(size_average, reduce, reduction)
        if reduction not in _KL_REDUCTIONS:
            raise ValueError(f"KLDivLoss: reduction must be one of {_KL_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return kl_div(input, target, self.reduction, self.log_target)

    def extra_repr(self) -> str:
        return f"reduction='{self.reduction}', log_target={self.log_target}"


def _reduce(name: str, loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return _ops.mean(loss)
    if reduction == "sum":
        return _ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _hinge(x: Tensor) -> Tensor:
    return _ops.clip(x, 0.0, None)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``: target 1 ranks input1 higher, -1 input2.

    >>> margin_ranking_loss(ember.randn(4), ember.randn(4), ember.tensor([1.0, -1.0, 1.0, 1.0]))
    """
    if not input1.ndim == input2.ndim == target.ndim:  # PyTorch's check: (N,) inputs and an (N, 1) target made (N, N)
        raise ValueError(f"margin_ranking_loss: input1, input2 and target must have the same number of dimensions, "
                         f"got shapes {list(input1.shape)}, {list(input2.shape)} and {list(target.shape)}")
    input1, input2, target = widened(input1, input2, target)
    return _reduce("margin_ranking_loss", _hinge(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """``input`` where target is 1, ``max(0, margin - input)`` where it is -1 (PyTorch's definition).

    >>> hinge_embedding_loss(ember.rand(4), ember.tensor([1.0, -1.0, 1.0, -1.0]))
    """
    input, target = widened(input, target)
    margin_part = _ops.where(target != 1, _hinge(margin - input), 0.0)
    self_part = _ops.where(target != -1, input, 0.0)
    return _reduce("hinge_embedding_loss", margin_part + self_part, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(input1, input2)`` where target is 1, ``max(0, cos - margin)`` where it is -1, the cosine along
    the last dimension.

    >>> cosine_embedding_loss(ember.randn(4, 8), ember.randn(4, 8), ember.tensor([1.0, -1.0, 1.0, -1.0]))
    """
    if input1.shape != input2.shape or input1.ndim not in (1, 2) or target.ndim != input1.ndim - 1:
        # PyTorch's check: an (N, 1) target of (N, D) inputs made (N, N) losses
        raise ValueError(f"cosine_embedding_loss: inputs must be (N, D) with an (N,) target or (D,) with a 0-d "
                         f"target, the inputs of one shape, got {list(input1.shape)}, {list(input2.shape)} and "
                         f"target {list(target.shape)}")
    input1, input2, target = widened(input1, input2, target)
    dim = input1.ndim - 1
    eps = 1e-12  # PyTorch's, added to each squared magnitude
    product = _ops.sum(input1 * input2, dim)
    magnitudes = (_ops.sum(input1 * input1, dim) + eps) * (_ops.sum(input2 * input2, dim) + eps)
    cos = product / _ops.sqrt(magnitudes)
    loss = _ops.where(target == 1, 1.0 - cos, 0.0) + _ops.where(target == -1, _hinge(cos - margin), 0.0)
    return _reduce("cosine_embedding_loss", loss, reduction)


def _check_triplet_margin(name: str, margin: float) -> None:
    if not margin > 0:  # PyTorch's triplet losses refuse a margin of 0 or less
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")


def _distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    return _ops.norm(x1 - x2 + eps, p, -1)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean") -> Tensor:
    """``max(0, d(anchor, positive) - d(anchor, negative) + margin)`` with the p-norm distance of
    ``pairwise_distance`` along the last dimension (the three broadcast against each other, as in PyTorch);
    ``swap`` takes the smaller of d(anchor, negative) and d(positive, negative).

    >>> triplet_margin_loss(ember.randn(4, 8), ember.randn(4, 8), ember.randn(4, 8))
    """
    _check_triplet_margin("triplet_margin_loss", margin)
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim == 0:
        raise ValueError(f"triplet_margin_loss: anchor, positive and negative must have the same number of "
                         f"dimensions, at least 1, got {list(anchor.shape)}, {list(positive.shape)} and "
                         f"{list(negative.shape)}")
    anchor, positive, negative = widened(anchor, positive, negative)
    d_pos = _distance(anchor, positive, p, eps)
    d_neg = _distance(anchor, negative, p, eps)
    if swap:
        d_neg = _ops.minimum(d_neg, _distance(positive, negative, p, eps))
    return _reduce("triplet_margin_loss", _hinge(margin + d_pos - d_neg), reduction)


class MarginRankingLoss(_Loss):
    """The margin ranking loss of two inputs and a target of 1 or -1 (see ``margin_ranking_loss``).

    >>> ember.nn.MarginRankingLoss(0.5)(ember.randn(4), ember.randn(4), ember.tensor([1.0, -1.0, 1.0, 1.0]))
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """The hinge embedding loss of an input and a target of 1 or -1 (see ``hinge_embedding_loss``).

    >>> ember.nn.HingeEmbeddingLoss()(ember.rand(4), ember.tensor([1.0, -1.0, 1.0, -1.0]))
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return hinge_embedding_loss(input, target, self.margin, self.reduction)


class CosineEmbeddingLoss(_Loss):
    """The cosine embedding loss of two inputs and a target of 1 or -1 (see ``cosine_embedding_loss``).

    >>> ember.nn.CosineEmbeddingLoss()(ember.randn(4, 8), ember.randn(4, 8), ember.tensor([1.0, -1.0, 1.0, 1.0]))
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    """The triplet margin loss of anchors, positives and negatives (see ``triplet_margin_loss``).

    >>> ember.nn.TripletMarginLoss()(ember.randn(4, 8), ember.randn(4, 8), ember.randn(4, 8))
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False, size_average=None,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        _check_triplet_margin(type(self).__name__, margin)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(anchor, positive, negative, self.margin, self.p, self.eps, self.swap,
                                   self.reduction)

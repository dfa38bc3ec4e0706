"""Classification margin losses: ``soft_margin_loss`` (two classes), ``multilabel_soft_margin_loss`` and
``multilabel_margin_loss`` (several labels a sample), ``multi_margin_loss`` (one class a sample), with their
modules."""

from __future__ import annotations

from ember import ops as _ops
from ember.creation import arange
from ember.nn.layers.activation import logsigmoid
from ember.nn.layers.loss import _Loss, _reduce, _WeightedLoss
from ember.ops.autocast import widened
from ember.tensor import Tensor

__all__ = [
    "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "SoftMarginLoss", "multi_margin_loss",
    "multilabel_margin_loss", "multilabel_soft_margin_loss", "soft_margin_loss",
]


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """The two-class logistic loss ``log(1 + exp(-target * input))`` of targets 1 or -1.

    >>> soft_margin_loss(ember.randn(4), ember.tensor([1.0, -1.0, 1.0, -1.0]))
    """
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"soft_margin_loss: input of shape {list(input.shape)} and target of shape "
                         f"{list(target.shape)} must have one shape")
    input, target = _ops.promote(*widened(input, target))
    return _reduce("soft_margin_loss", _ops.softplus(-target * input), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                reduction: str = "mean") -> Tensor:
    """The logistic loss of each class as its own yes/no question, averaged over the classes (the last
    dimension): ``-(target * logsigmoid(x) + (1 - target) * logsigmoid(-x))``, times ``weight`` per class.

    >>> multilabel_soft_margin_loss(ember.randn(2, 3), ember.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    """
    if input.ndim < 1 or tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"multilabel_soft_margin_loss: input of shape {list(input.shape)} and target of shape "
                         f"{list(target.shape)} must have one shape, with the classes last")
    input, target = _ops.promote(input, target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    return _reduce("multilabel_soft_margin_loss", _ops.sum(loss, -1) / input.shape[-1], reduction)


def _class_indices(name: str, target: Tensor, classes: int, lowest: int) -> None:
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices, got dtype {target.dtype}")
    if getattr(target, "symbolic", False):
        return  # its values are known only when the graph runs
    values = target.array
    if bool((values < lowest).any()) or bool((values >= classes).any()):
        raise ValueError(f"{name}: target holds a class index outside [{lowest}, {classes}) for {classes} classes")


def _positive(z: Tensor) -> Tensor:
    """``max(z, 0)`` with no gradient where z is 0 (PyTorch's margin losses count a term only where z > 0)."""
    return _ops.where(z > 0, z, 0.0)


def multilabel_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """The hinge loss between every target class j and every other class i, ``max(0, 1 - (x[j] - x[i]))``,
    summed and divided by the number of classes. ``target`` has the input's shape, (C) or (N, C): each row's
    target classes first, ended by -1 (or by the row's end).

    >>> multilabel_margin_loss(ember.randn(1, 4), ember.tensor([[3, 0, -1, 1]]))
    """
    name = "multilabel_margin_loss"
    if input.ndim not in (1, 2) or tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input and target must be (C) or (N, C) of one shape, got {list(input.shape)} "
                         f"and {list(target.shape)}")
    classes = input.shape[-1]
    _class_indices(name, target, classes, -1)
    (input,) = widened(input)
    listed = _ops.cumsum(_ops.cast(target == -1, "int64"), -1) == 0  # the entries before the first -1
    matches = _ops.unsqueeze(target, -1) == arange(classes, device=input.device)  # [..., j, i]: entry j names class i
    is_target = _ops.any(matches & _ops.unsqueeze(listed, -1), -2)
    picked = _ops.gather(input, -1, _ops.clip(target, 0, None))  # x[target[j]], -1 entries read class 0
    margins = _positive(1.0 - _ops.unsqueeze(picked, -1) + _ops.unsqueeze(input, -2))
    counted = _ops.unsqueeze(listed, -1) & ~_ops.unsqueeze(is_target, -2)
    loss = _ops.sum(_ops.where(counted, margins, 0.0), (-2, -1)) / classes
    return _reduce(name, loss, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      reduction: str = "mean") -> Tensor:
    """The multi-class hinge loss of each sample's class y against every other class i,
    ``max(0, margin - x[y] + x[i]) ** p`` (times ``weight[y]``), summed and divided by the number of classes.
    ``input`` is (N, C) or (C), ``target`` (N) or () class indices (or, as PyTorch, (1) or () for one sample;
    ``reduction="none"`` gives the target's shape); ``p`` is 1 or 2.

    >>> multi_margin_loss(ember.randn(3, 4), ember.tensor([0, 3, 1]), p=2, margin=0.5)
    """
    name = "multi_margin_loss"
    if p not in (1, 2):
        raise ValueError(f"{name}: p must be 1 or 2, got {p!r}")
    batch, target_shape = tuple(input.shape[:-1]), tuple(target.shape)
    if input.ndim not in (1, 2) or target_shape not in ({batch, (), (1,)} if batch in ((), (1,)) else {batch}):
        raise ValueError(f"{name}: input must be (N, C) or (C) and target (N) or (), got {list(input.shape)} and "
                         f"{list(target.shape)}")
    target = _ops.reshape(target, batch)
    classes = input.shape[-1]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != classes):
        raise ValueError(f"{name}: weight must be one number a class, shape [{classes}], got {list(weight.shape)}")
    _class_indices(name, target, classes, 0)
    input, weight = widened(input, weight)
    index = _ops.unsqueeze(target, -1)
    terms = _positive(margin - _ops.gather(input, -1, index) + input)
    if p == 2:
        terms = terms * terms
    if weight is not None:
        terms = terms * _ops.gather(weight, 0, index.reshape(-1)).reshape(index.shape)
    others = index != arange(classes, device=input.device)
    losses = _ops.reshape(_ops.sum(_ops.where(others, terms, 0.0), -1) / classes, target_shape)
    return _reduce(name, losses, reduction)


class SoftMarginLoss(_Loss):
    """The two-class logistic loss (see ``soft_margin_loss``).

    >>> ember.nn.SoftMarginLoss()(ember.randn(4), ember.tensor([1.0, -1.0, 1.0, -1.0]))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """The multi-label logistic loss, with an optional weight per class (see ``multilabel_soft_margin_loss``).

    >>> ember.nn.MultiLabelSoftMarginLoss()(ember.randn(2, 3), ember.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


class MultiLabelMarginLoss(_Loss):
    """The multi-label hinge loss of -1-ended target class lists (see ``multilabel_margin_loss``).

    >>> ember.nn.MultiLabelMarginLoss()(ember.randn(1, 4), ember.tensor([[3, 0, -1, 1]]))
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multilabel_margin_loss(input, target, self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """The multi-class hinge loss (see ``multi_margin_loss``).

    >>> ember.nn.MultiMarginLoss(p=2, margin=0.5)(ember.randn(3, 4), ember.tensor([0, 3, 1]))
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None, size_average=None,
                 reduce=None, reduction: str = "mean") -> None:
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        super().__init__(weight, size_average, reduce, reduction)
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)

    def extra_repr(self) -> str:
        options = [f"p={self.p}", f"margin={self.margin}"]
        if self.reduction != "mean":
            options.append(f"reduction='{self.reduction}'")
        return ", ".join(options)

"""PyTorch's ``torch.nn.functional`` names over Ember's ops.

Most names are the op functions themselves; the few whose PyTorch signature differs (``dim`` for
``axis``, ``linear``, ``embedding``) are thin wrappers, and the ones composed of several ops live beside their
modules in ``nn.layers``.

>>> import ember.nn.functional as F
>>> F.cross_entropy(F.linear(ember.randn(4, 8), ember.randn(3, 8)), ember.tensor([0, 1, 2, 0]))
"""

from __future__ import annotations

import functools
import inspect

from ember import ops as _ops
from ember.graph.ir import current as current_graph
from ember.nn.layers import likelihood_loss as _likelihood
from ember.nn.layers.activation import (
    _softmax_dim,
    celu,
    glu,
    hardsigmoid,
    logsigmoid,
    prelu,
    selu,
    softmin,
    softsign,
)
from ember.nn.layers.attention import scaled_dot_product_attention
from ember.nn.layers.attention_heads import multi_head_attention_forward
from ember.nn.layers.channel_shuffle import channel_shuffle
from ember.nn.layers.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from ember.nn.layers.embedding_bag import embedding_bag
from ember.nn.layers.embedding_renorm import embedding_renorm_, renormed_rows
from ember.nn.layers.fold import fold, unfold
from ember.nn.layers.gumbel import gumbel_softmax
from ember.nn.layers.inplace_activation import (
    celu_,
    elu,
    elu_,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    mish,
    relu,
    relu6,
    relu_,
    rrelu_,
    selu_,
    silu,
    threshold_,
)
from ember.nn.layers.likelihood_loss import gaussian_nll_loss
from ember.nn.layers.linear import bilinear
from ember.nn.layers.loss import (
    cosine_embedding_loss,
    hinge_embedding_loss,
    kl_div,
    kl_div_unwarned,
    legacy_reduction,
    margin_ranking_loss,
    triplet_margin_loss,
)
from ember.nn.layers.lrn import local_response_norm
from ember.nn.layers.margin_loss import (
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from ember.nn.layers.normalization import group_norm, instance_norm, rms_norm
from ember.nn.layers.padding import pad
from ember.nn.layers.pool_variants import (
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices,
    adaptive_max_pool3d_with_indices,
    fractional_max_pool2d,
    fractional_max_pool2d_with_indices,
    fractional_max_pool3d,
    fractional_max_pool3d_with_indices,
    lp_pool1d,
    lp_pool2d,
    lp_pool3d,
    max_pool1d_with_indices,
    max_pool2d_with_indices,
    max_pool3d_with_indices,
)
from ember.nn.layers.pooling import adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d
from ember.nn.layers.rrelu import rrelu
from ember.nn.layers.shrink import threshold
from ember.nn.layers.similarity import cosine_similarity, pairwise_distance
from ember.nn.layers.triplet_distance import triplet_margin_with_distance_loss
from ember.nn.layers.upsample_aliases import upsample, upsample_bilinear, upsample_nearest
from ember.nn.layers.upsampling import interpolate, pixel_shuffle, pixel_unshuffle
from ember.ops import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    affine_grid,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    batch_norm,
    binary_cross_entropy,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    ctc_loss,
    gelu,
    grid_sample,
    hardshrink,
    huber_loss,
    l1_loss,
    layer_norm,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
    mse_loss,
    one_hot,
    pdist,
    sigmoid,
    softplus,
    softshrink,
    tanh,
    tanhshrink,
)
from ember.tensor import Tensor
from ember.torch_keywords import with_torch_keywords, write_out

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d",
    "cross_entropy", "dropout", "elu", "embedding", "gelu", "hardswish", "hardtanh", "huber_loss", "l1_loss",
    "layer_norm",
    "leaky_relu", "linear", "log_softmax", "max_pool1d", "max_pool2d", "mish", "mse_loss", "nll_loss", "one_hot",
    "pad", "relu", "relu6", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus", "tanh",
    "cosine_similarity", "kl_div", "logsigmoid", "normalize", "pairwise_distance", "prelu",
    "scaled_dot_product_attention", "multi_head_attention_forward",
    "celu", "glu", "hardsigmoid", "selu", "softmin", "softsign",
    "group_norm", "instance_norm", "rms_norm",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate", "pixel_shuffle", "pixel_unshuffle",
    "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
    "fold", "unfold", "affine_grid", "grid_sample",
    "ctc_loss", "gumbel_softmax",
    "adaptive_avg_pool3d", "avg_pool3d", "conv3d", "conv_transpose3d", "max_pool3d",
    "gaussian_nll_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
    "poisson_nll_loss", "soft_margin_loss",
    "channel_shuffle",
    "celu_", "elu_", "hardshrink", "hardtanh_", "leaky_relu_", "relu_", "rrelu", "rrelu_", "selu_", "softshrink",
    "tanhshrink", "threshold", "threshold_",
    "alpha_dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout",
    "local_response_norm",
    "bilinear", "embedding_bag", "triplet_margin_with_distance_loss", "upsample", "upsample_bilinear",
    "upsample_nearest",
    "pdist",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices", "fractional_max_pool2d", "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d", "fractional_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d",
    "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d",
    "max_unpool3d",
]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` with weight (out_features, in_features).

    >>> F.linear(ember.randn(2, 4), ember.randn(3, 4)).shape
    (2, 3)
    """
    return _ops.linear(input, weight, bias)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """Softmax along ``dim`` (PyTorch's implicit choice when None: 0 for 0-, 1- and 3-D input, else 1), in
    ``dtype`` when given (the input cast first).

    >>> F.softmax(ember.randn(2, 5), dim=1).sum(axis=1)
    """
    return _ops.softmax(input, dim if dim is not None else _softmax_dim("softmax", input.ndim, _stacklevel), dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """Log-softmax along ``dim`` (PyTorch's implicit choice when None, as ``softmax``), in ``dtype`` when given.

    >>> F.log_softmax(ember.randn(2, 5), dim=1).shape
    (2, 5)
    """
    return _ops.log_softmax(input, dim if dim is not None else _softmax_dim("log_softmax", input.ndim, _stacklevel),
                            dtype)


def embedding(input, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` for integer ids; the ``padding_idx`` rows get no gradient; ``max_norm`` first rescales
    the looked-up rows of a larger ``norm_type``-norm in place; ``scale_grad_by_freq`` divides each id's gradient
    by its count in ``input``.

    >>> F.embedding(ember.tensor([[0, 2]]), ember.randn(5, 3)).shape
    (1, 2, 3)
    """
    if max_norm is not None:
        graph = current_graph()
        if graph is not None and graph.inference:  # (an export: the same values, with no write to the weight)
            return renormed_rows(weight, input, max_norm, norm_type)
        embedding_renorm_(weight, input, max_norm, norm_type)
    return _ops.embedding(input, weight, sparse=sparse, padding_idx=padding_idx,
                          scale_grad_by_freq=scale_grad_by_freq)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """``input`` divided by its p-norm along ``dim``, the norm held at least ``eps``; written into ``out`` when
    given (PyTorch's ``out=``).

    >>> F.normalize(ember.tensor([[3.0, 4.0]]), dim=1)
    """
    result = input / _ops.clip(_ops.norm(input, p, dim, keepdims=True), eps, None)
    return result if out is None else write_out("normalize", result, out)


# The losses whose PyTorch signature has the old size_average/reduce flags before an argument of Ember's: a flag
# given by position was read as that argument (F.nll_loss(x, t, None, False), PyTorch's sum, ignored class 0;
# F.binary_cross_entropy_with_logits(x, t, None, False) weighted the positives by 0).


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``ember.cross_entropy`` with PyTorch's signature (``size_average``/``reduce`` become a reduction, with
    PyTorch's warning).

    >>> F.cross_entropy(ember.randn(4, 3), ember.tensor([0, 2, 1, 0]))
    """
    return _ops.cross_entropy(input, target, weight, ignore_index, legacy_reduction(size_average, reduce, reduction, 3),
                              label_smoothing)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """``ember.nll_loss`` with PyTorch's signature (``size_average``/``reduce`` become a reduction).

    >>> F.nll_loss(ember.log_softmax(ember.randn(4, 3), 1), ember.tensor([0, 2, 1, 0]))
    """
    return _ops.nll_loss(input, target, weight, ignore_index, legacy_reduction(size_average, reduce, reduction, 3))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``ember.smooth_l1_loss`` with PyTorch's signature (``size_average``/``reduce`` become a reduction).

    >>> F.smooth_l1_loss(ember.zeros(3), ember.ones(3), beta=0.5)
    """
    return _ops.smooth_l1_loss(input, target, beta, legacy_reduction(size_average, reduce, reduction, 3))


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, size_average=None,
                     eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """The Poisson negative log-likelihood (``nn.PoissonNLLLoss``) with PyTorch's signature (``size_average``/
    ``reduce`` become a reduction).

    >>> F.poisson_nll_loss(ember.zeros(3), ember.ones(3))
    """
    return _likelihood.poisson_nll_loss(input, target, log_input, full, eps,
                                        legacy_reduction(size_average, reduce, reduction, 3))


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``ember.binary_cross_entropy_with_logits`` with PyTorch's signature (``size_average``/``reduce`` become a
    reduction; ``pos_weight`` comes last).

    >>> F.binary_cross_entropy_with_logits(ember.zeros(3), ember.ones(3))
    """
    return _ops.binary_cross_entropy_with_logits(input, target, weight, pos_weight,
                                                 legacy_reduction(size_average, reduce, reduction, 3))


def _with_legacy_flags(loss, flagged=None):
    """``loss`` with PyTorch's signature: its old ``size_average``/``reduce`` flags just before ``reduction``, which
    they become (with PyTorch's warning), calling ``flagged`` (``loss`` when None) then. Without them the loss is
    called as it is."""
    signature = inspect.signature(loss)
    parameters = list(signature.parameters.values())
    at = [parameter.name for parameter in parameters].index("reduction")
    flags = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)
             for name in ("size_average", "reduce")]
    torch_signature = signature.replace(parameters=parameters[:at] + flags + parameters[at:])

    @functools.wraps(loss)
    def with_flags(*args, **kwargs):
        if len(args) <= at and "size_average" not in kwargs and "reduce" not in kwargs:
            return loss(*args, **kwargs)
        try:
            arguments = torch_signature.bind(*args, **kwargs).arguments
        except TypeError as error:
            raise TypeError(f"{loss.__name__}: {error}") from None
        size_average, reduce = arguments.pop("size_average", None), arguments.pop("reduce", None)
        arguments["reduction"] = legacy_reduction(size_average, reduce, arguments.get("reduction", "mean"), 3)
        return (flagged or loss)(**arguments)

    with_flags.__signature__ = torch_signature
    return with_flags


# The ops that name their first parameter NumPy's way (x, indices): PyTorch's input= binds to it (F.gelu(input=x)
# was a TypeError).
(
    adaptive_avg_pool1d, avg_pool1d, avg_pool2d, avg_pool3d, conv1d, conv2d, conv3d, conv_transpose1d,
    conv_transpose2d, conv_transpose3d, gelu, hardshrink, max_pool1d, max_pool2d, max_pool3d, one_hot, pdist, sigmoid,
    softplus, softshrink, tanh, tanhshrink,
) = (with_torch_keywords(op, op.__name__, ("input",), False) for op in (
    adaptive_avg_pool1d, avg_pool1d, avg_pool2d, avg_pool3d, conv1d, conv2d, conv3d, conv_transpose1d,
    conv_transpose2d, conv_transpose3d, gelu, hardshrink, max_pool1d, max_pool2d, max_pool3d, one_hot, pdist, sigmoid,
    softplus, softshrink, tanh, tanhshrink,
))

(
    binary_cross_entropy, cosine_embedding_loss, hinge_embedding_loss, l1_loss, margin_ranking_loss, mse_loss,
    multi_margin_loss, multilabel_margin_loss, multilabel_soft_margin_loss, soft_margin_loss, triplet_margin_loss,
) = (_with_legacy_flags(loss) for loss in (
    binary_cross_entropy, cosine_embedding_loss, hinge_embedding_loss, l1_loss, margin_ranking_loss, mse_loss,
    multi_margin_loss, multilabel_margin_loss, multilabel_soft_margin_loss, soft_margin_loss, triplet_margin_loss,
))
kl_div = _with_legacy_flags(kl_div, kl_div_unwarned)  # the old flags give no warning for their mean, as PyTorch's

"""The op library. Each module registers primitives in ``REGISTRY`` and defines the public functions;
this package gathers them. It imports nothing above it: values come from the layer above through
``ember.ops.dispatch``, and ``Tensor`` lists its methods itself (``ember.tensor_methods``)."""

# attach ONNX rules and NumPy kernels to the records; register torch.special's Bessel functions and polynomials
from ember.ops import onnx_rules, special_bessel, special_polynomials, standalone  # noqa: F401
from ember.ops import reduction as _reduction
from ember.ops import torch_names as _torch_names
from ember.ops.activation import (
    elu,
    gelu,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    mish,
    relu6,
    silu,
    softmax,
)
from ember.ops.arrange import (
    diff,
    dstack,
    flip,
    hstack,
    index_copy,
    index_fill,
    index_select,
    masked_select,
    meshgrid,
    roll,
    scatter,
    tril,
    triu,
    unflatten,
    vstack,
)
from ember.ops.batch_norm import batch_norm
from ember.ops.binning import bucketize, histogram, histogramdd, isin
from ember.ops.calculus import cumulative_trapezoid, gradient, trapezoid, trapz
from ember.ops.complex_math import angle, polar
from ember.ops.complex_parts import complex, conj, conj_physical, imag, real, view_as_complex, view_as_real
from ember.ops.composed import (
    allclose,
    ceil,
    clamp_max,
    clamp_min,
    count_nonzero,
    equal,
    floor,
    fmod,
    isclose,
    isfinite,
    isinf,
    isnan,
    lerp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    masked_fill,
    nan_to_num,
    reciprocal,
    round,
    rsqrt,
    trunc,
)
from ember.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from ember.ops.conv3d import conv3d, conv_transpose3d
from ember.ops.convert import as_tensor, cast, promote, to_float
from ember.ops.counting import bincount, histc, unique, unique_consecutive
from ember.ops.ctc import ctc_loss
from ember.ops.cumulative import cummax, cummin, logcumsumexp
from ember.ops.decompositions import det, slogdet
from ember.ops.effects import accumulate_grad, assign, drop_grad, random_draw, random_sample, sparse_update, update
from ember.ops.elementwise import (
    abs,
    acos,
    acosh,
    add,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    clip,
    cos,
    cosh,
    div,
    eq,
    erf,
    exp,
    expm1,
    floor_divide,
    ge,
    gt,
    invert,
    le,
    log,
    log1p,
    log2,
    log10,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    nonzero,
    power,
    relu,
    remainder,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    sub,
    tanh,
    true_divide,
    where,
)
from ember.ops.elementwise_names import (
    absolute,
    bitwise_left_shift,
    bitwise_not,
    bitwise_right_shift,
    divide,
    fix,
    fmax,
    fmin,
    frexp,
    greater,
    greater_equal,
    is_complex,
    is_floating_point,
    is_nonzero,
    is_same_size,
    is_signed,
    is_tensor,
    isneginf,
    isposinf,
    isreal,
    ldexp,
    less,
    less_equal,
    multiply,
    negative,
    not_equal,
    numel,
    positive,
    rsub,
    sgn,
    signbit,
    subtract,
    tan,
)
from ember.ops.elementwise_torch import (
    copysign,
    exp2,
    gcd,
    heaviside,
    hypot,
    lcm,
    logaddexp,
    logaddexp2,
    nextafter,
)
from ember.ops.gamma_grad import standard_gamma_grad
from ember.ops.host import host_call, host_token
from ember.ops.householder import geqrf, orgqr
from ember.ops.incomplete_beta import betainc
from ember.ops.incomplete_gamma import igamma, igammac
from ember.ops.index_sets import argwhere, nonzero_static, tril_indices, triu_indices, unravel_index
from ember.ops.indexing import (
    diag,
    diagonal,
    embedding,
    gather,
    getitem,
    index_add,
    index_arrays,
    one_hot,
    pad,
    scatter_add,
    select,
    take,
    unbind,
)
from ember.ops.join import cat, chunk, concat, concatenate, repeat, split, stack, tile
from ember.ops.linalg import dot, linear, matmul
from ember.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    softmax_cross_entropy,
)
from ember.ops.lu import lu_unpack, torch_lu, torch_lu_solve
from ember.ops.matrix_exp import matrix_exp
from ember.ops.matrix_functions import inverse, logdet, matrix_power, pinverse
from ember.ops.matrix_functions import torch_cholesky as cholesky
from ember.ops.matrix_functions import torch_qr as qr
from ember.ops.matrix_functions import torch_svd as svd
from ember.ops.normalization import dropout, layer_norm
from ember.ops.norms_torch import dist, frobenius_norm, nuclear_norm, pdist, renorm
from ember.ops.norms_torch import torch_norm as norm
from ember.ops.pool3d import adaptive_avg_pool3d, avg_pool3d, max_pool3d
from ember.ops.pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from ember.ops.products import addmm, baddbmm, bmm, cdist, cross, einsum, mm, outer, tensordot
from ember.ops.products_torch import (
    addbmm,
    addcdiv,
    addcmul,
    addmv,
    addr,
    chain_matmul,
    inner,
    kron,
    mv,
    trace,
    vander,
    vdot,
)
from ember.ops.quantile import nanquantile, quantile
from ember.ops.reduction import (
    all,
    amax,
    amin,
    aminmax,
    any,
    argmax,
    argmin,
    cumprod,
    cumsum,
    logsumexp,
    mean,
    nanmean,
    nansum,
    prod,
    std,
    sum,
    var,
)
from ember.ops.registry import ELEMENTWISE, NO_ONNX, NON_DIFFERENTIABLE, REGISTRY, Cost, ShapeError, Spec, defop
from ember.ops.sampling import affine_grid, grid_sample
from ember.ops.scatter_reduce import index_reduce, scatter_reduce
from ember.ops.scatter_views import (
    diag_embed,
    diagflat,
    diagonal_scatter,
    index_put,
    masked_scatter,
    put,
    select_scatter,
    slice_scatter,
)
from ember.ops.shape import (
    broadcast_to,
    clone,
    expand,
    flatten,
    permute,
    ravel,
    reshape,
    squeeze,
    stop_gradient,
    swapaxes,
    to_device,
    transpose,
    unbroadcast,
    unsqueeze,
    view,
)
from ember.ops.shrink import hardshrink, softshrink, tanhshrink, threshold
from ember.ops.sorting import argsort, kthvalue, median, mode, msort, nanmedian, searchsorted, sort, topk
from ember.ops.special import (
    digamma,
    entr,
    erfc,
    erfcx,
    erfinv,
    i0,
    i0e,
    i1,
    i1e,
    lgamma,
    log_ndtr,
    ndtri,
    polygamma,
    zeta,
)
from ember.ops.special_composed import (
    deg2rad,
    float_power,
    frac,
    logit,
    multigammaln,
    ndtr,
    rad2deg,
    sinc,
    xlog1py,
    xlogy,
)
from ember.ops.spectral import istft, stft
from ember.ops.statistics import corrcoef, cov, std_mean, var_mean
from ember.ops.triangular import cholesky_inverse, cholesky_solve, triangular_solve
from ember.ops.unpool import max_unpool1d, max_unpool2d, max_unpool3d
from ember.ops.views import (
    as_strided,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    cartesian_prod,
    column_stack,
    combinations,
    dsplit,
    fliplr,
    flipud,
    hsplit,
    moveaxis,
    movedim,
    narrow,
    narrow_copy,
    repeat_interleave,
    rot90,
    split_with_sizes,
    sum_to_size,
    swapdims,
    t,
    take_along_dim,
    tensor_split,
    unfold,
    unsafe_chunk,
    unsafe_split,
    vsplit,
)

# PyTorch's spellings (dim=, keepdim=, max/min(x, dim) -> (values, indices), transpose(x, d0, d1)), applied
# here once so that ember.sum, ember.ops.sum and Tensor.sum are the same function.
(
    all, amax, amin, any, argmax, argmin, cat, chunk, concat, concatenate, cumprod, cumsum, diagonal, flatten,
    gather, index_add, log_softmax, logsumexp, mean, nansum, prod, scatter_add, select, softmax, split, squeeze,
    stack, std, sum, take, unbind, unsqueeze, var, argsort, median, sort, topk, repeat, count_nonzero,
    index_select, norm, nanmean, kthvalue, diff, unflatten, cross, scatter, index_fill, index_copy,
    quantile, nanquantile, nanmedian, mode, aminmax, logcumsumexp, cummax, cummin, reshape, view, expand, permute,
    tile,
) = (_torch_names.with_torch_names(fn) for fn in (
    all, amax, amin, any, argmax, argmin, cat, chunk, concat, concatenate, cumprod, cumsum, diagonal, flatten,
    gather, index_add, log_softmax, logsumexp, mean, nansum, prod, scatter_add, select, softmax, split, squeeze,
    stack, std, sum, take, unbind, unsqueeze, var, argsort, median, sort, topk, repeat, count_nonzero,
    index_select, norm, nanmean, kthvalue, diff, unflatten, cross, scatter, index_fill, index_copy,
    quantile, nanquantile, nanmedian, mode, aminmax, logcumsumexp, cummax, cummin, reshape, view, expand, permute,
    tile,
))
expand_dims = unsqueeze
clamp = clip
pow = power  # noqa: A001  (PyTorch's name)
arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh = asin, acos, atan, atan2, asinh, acosh, atanh
mvlgamma = multigammaln  # PyTorch's top-level name
ger = outer  # PyTorch's older name
# (max() of all elements shares a NaN maximum's gradient among the NaNs, where amax's is NaN, as PyTorch's)
max = _torch_names.extremum("max", _torch_names.with_torch_names(_reduction.max), argmax, maximum,  # noqa: A001
                            _torch_names.MaxResult, gather, squeeze)
min = _torch_names.extremum("min", _torch_names.with_torch_names(_reduction.min), argmin, minimum,  # noqa: A001
                            _torch_names.MinResult, gather, squeeze)
transpose = _torch_names.transpose_any(transpose)
row_stack = vstack

__all__ = [
    "flip", "index_select", "masked_select", "roll", "tril", "triu",
    "addmm", "baddbmm", "bmm", "einsum", "mm", "outer",
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cosh", "expm1", "log2", "log10", "pow", "sinh",
    "clamp_max", "clamp_min", "diff", "dstack", "hstack", "meshgrid", "unflatten", "vstack", "cdist", "cross",
    "tensordot", "nanmean", "kthvalue", "scatter", "index_fill", "index_copy", "bincount", "unique",
    "searchsorted", "affine_grid", "grid_sample",
    "cholesky", "det", "inverse", "logdet", "matrix_power", "pinverse", "qr", "slogdet", "svd",
    "ctc_loss", "stop_gradient",
    "quantile", "nanquantile", "mode", "nanmedian", "histc", "unique_consecutive", "msort",
    "aminmax", "logcumsumexp", "cummax", "cummin",
    "adaptive_avg_pool3d", "avg_pool3d", "conv3d", "conv_transpose3d", "max_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "allclose", "ceil", "count_nonzero", "equal", "floor", "fmod", "isclose", "isfinite", "isinf", "isnan", "lerp",
    "logical_and", "logical_not", "logical_or", "logical_xor", "masked_fill", "nan_to_num", "norm", "reciprocal",
    "round", "rsqrt", "trunc",
    "copysign", "exp2", "gcd", "heaviside", "hypot", "lcm", "logaddexp", "logaddexp2", "nextafter",
    "standard_gamma_grad", "betainc", "igamma", "igammac",
    "argwhere", "as_strided", "atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "cartesian_prod",
    "column_stack", "combinations", "diag_embed", "diagflat", "diagonal_scatter", "dsplit", "fliplr", "flipud",
    "hsplit", "index_put", "index_reduce", "masked_scatter", "movedim", "narrow", "narrow_copy", "nonzero_static",
    "put", "rot90", "row_stack", "scatter_reduce", "select_scatter", "slice_scatter", "split_with_sizes",
    "swapdims", "t", "take_along_dim", "tensor_split", "tril_indices", "triu_indices", "unravel_index",
    "unsafe_chunk", "unsafe_split", "vsplit",
    "absolute", "bitwise_left_shift", "bitwise_not", "bitwise_right_shift", "divide", "fix", "fmax", "fmin", "frexp",
    "greater", "greater_equal", "is_complex", "is_floating_point", "is_nonzero", "is_same_size", "is_signed",
    "is_tensor", "isneginf", "isposinf", "isreal", "ldexp", "less", "less_equal", "multiply", "negative", "not_equal",
    "numel", "positive", "rsub", "sgn", "signbit", "subtract", "tan",
    "digamma", "erfc", "erfcx", "erfinv", "i0", "i0e", "i1", "i1e", "lgamma", "log_ndtr", "ndtri", "polygamma", "zeta",
    "deg2rad", "entr", "float_power", "frac", "logit", "multigammaln", "mvlgamma", "ndtr", "rad2deg", "sinc",
    "xlog1py", "xlogy",
    "hardshrink", "softshrink", "tanhshrink", "threshold",
    "addbmm", "addcdiv", "addcmul", "addmv", "addr", "bucketize", "chain_matmul", "corrcoef", "cov",
    "cumulative_trapezoid", "dist", "frobenius_norm", "ger", "gradient", "histogram", "histogramdd", "inner", "isin",
    "kron", "mv", "nuclear_norm", "pdist", "renorm", "std_mean", "trace", "trapezoid", "trapz", "vander", "var_mean",
    "vdot",
    "Cost", "ELEMENTWISE", "NON_DIFFERENTIABLE", "NO_ONNX", "REGISTRY", "ShapeError", "Spec", "abs", "accumulate_grad",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "add",
    "all", "amax", "amin", "any", "argmax", "argmin", "argsort", "as_tensor", "assign",
    "avg_pool1d", "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "bitwise_and", "bitwise_or", "bitwise_xor",
    "broadcast_to", "cast", "cat", "chunk", "clamp", "clip", "clone", "concat", "concatenate", "conv1d", "conv2d",
    "conv_transpose1d", "conv_transpose2d", "cos", "cross_entropy", "cumprod", "cumsum",
    "defop",
    "diag", "diagonal", "div", "dot", "drop_grad", "dropout", "elu", "embedding", "eq", "erf", "exp", "expand",
    "expand_dims",
    "flatten", "floor_divide", "gather", "ge", "gelu", "getitem", "gt", "hardswish", "hardtanh", "host_call",
    "host_token", "huber_loss", "index_add", "index_arrays", "invert", "l1_loss", "layer_norm", "le", "leaky_relu",
    "linear", "log", "log1p",
    "log_softmax", "logsumexp", "lt", "matmul", "max", "max_pool1d", "max_pool2d", "maximum", "mean", "median", "min",
    "minimum", "mish",
    "moveaxis", "mse_loss", "mul", "nansum", "ne", "neg", "nll_loss", "nonzero", "one_hot", "pad", "permute", "power",
    "prod",
    "promote", "random_draw", "random_sample",
    "ravel", "relu", "relu6", "remainder", "repeat", "repeat_interleave", "reshape", "scatter_add", "select",
    "sigmoid", "sign",
    "silu", "sin", "smooth_l1_loss", "softmax", "softmax_cross_entropy", "softplus", "sort", "sparse_update", "split",
    "sqrt", "square",
    "squeeze",
    "stack", "std",
    "sub", "sum", "swapaxes", "take", "tanh", "tile", "to_device", "to_float", "topk", "transpose", "true_divide",
    "unbind", "unbroadcast",
    "unsqueeze", "update", "var", "where",
    "cholesky_inverse", "cholesky_solve", "geqrf", "lu_unpack", "matrix_exp", "orgqr", "torch_lu", "torch_lu_solve",
    "triangular_solve",
    "angle", "complex", "conj", "conj_physical", "imag", "polar", "real", "view_as_complex", "view_as_real",
    "istft", "stft",
]


"""TensorFlow-1 names over Ember's graph mode: ``import ember.compat.tf as tf`` and a TF-1 script runs.

A ``tf.Tensor`` here is a recipe: an Ember op function and its arguments. ``Session.run`` replays the
recipes its fetches need, for the shapes and dtypes of its feeds, through the same Ember op functions on
symbolic Values (each recipe kind through one entry of ``session.LOWERINGS``): that builds an IR graph,
which the pass pipeline optimizes and the runtime compiles into one Python function, cached per
(fetches, feed signature). A TF-1 name Ember does not have raises an AttributeError saying what to use.

>>> x = tf.placeholder(tf.float32, [None, 1])
>>> w = tf.Variable(tf.zeros([1, 1]))
>>> loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - 1.0))
>>> train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
>>> with tf.Session() as sess:
...     sess.run(tf.global_variables_initializer())
...     sess.run([train, loss], {x: [[1.0], [2.0]]})
"""

from __future__ import annotations

import logging as _logging
import sys
import types

import ember
from ember.compat.tf import (
    app,
    contrib,
    data,
    errors,
    image,
    image_boxes,
    image_color,
    layers,
    losses,
    metrics,
    mixed_precision,
    monitored,
    nn,
    rnn,
    summary,
    summary_media,
    train,
)
from ember.compat.tf import check_ops as _check_ops
from ember.compat.tf import checkpoint_utils as _checkpoint_utils
from ember.compat.tf import coordinator as _coordinator
from ember.compat.tf._core import (
    AUTO_REUSE,
    Graph,
    Operation,
    Tensor,
    TensorShape,
    add_to_collection,
    bfloat16,
    bool,
    constant,
    control_dependencies,
    convert_to_tensor,
    float16,
    float32,
    float64,
    get_collection,
    get_collection_ref,
    get_default_graph,
    get_variable_scope,
    group,
    init_scope,
    int8,
    int16,
    int32,
    int64,
    name_scope,
    no_op,
    placeholder,
    placeholder_with_default,
    reset_default_graph,
    set_random_seed,
    uint8,
    variable_scope,
)
from ember.compat.tf._missing import missing
from ember.compat.tf.array_ops import (
    FUNCTIONS,
    arg_max,
    arg_min,
    argmax,
    argmin,
    categorical,
    clip_by_value,
    concat,
    count_nonzero,
    einsum,
    expand_dims,
    fill,
    gather,
    matmul,
    multinomial,
    one_hot,
    ones,
    ones_like,
    pack,
    pad,
    random_gamma,
    random_normal,
    random_poisson,
    random_shuffle,
    random_uniform,
    range_,
    rank,
    reshape,
    shape,
    size,
    split,
    squeeze,
    stack,
    tensordot,
    tile,
    transpose,
    truncated_normal,
    unpack,
    unstack,
    zeros,
    zeros_like,
)
from ember.compat.tf.array_ops import unary_function as _unary_function
from ember.compat.tf.clip_ops import clip_by_global_norm, clip_by_norm, global_norm
from ember.compat.tf.control_flow_ops import case, cond, switch_case, while_loop
from ember.compat.tf.dimension import Dimension, DType, as_dimension, as_dtype, dimension_value, get_seed
from ember.compat.tf.functional_ops import foldl, foldr, map_fn, scan, vectorized_map
from ember.compat.tf.host_ops import Print, numpy_function, print_, py_func
from ember.compat.tf.index_ops import (
    accumulate_n,
    clip_by_average_norm,
    dynamic_partition,
    dynamic_stitch,
    histogram_fixed_width,
    invert_permutation,
    searchsorted,
    setdiff1d,
    unravel_index,
)
from ember.compat.tf.linalg_ops import (
    adjoint,
    cholesky_solve,
    cross,
    expm,
    logdet,
    lu,
    matrix_solve,
    matrix_solve_ls,
    matvec,
    qr,
    self_adjoint_eig,
    self_adjoint_eigvals,
    set_diag,
    slogdet,
    svd,
    triangular_solve,
)
from ember.compat.tf.manip_ops import reverse_sequence, roll, strided_slice, where_v2
from ember.compat.tf.math_ops import (
    UNARY_FUNCTIONS,
    argsort,
    atan2,
    cholesky,
    cumprod,
    cumsum,
    diag,
    diag_part,
    divide_no_nan,
    eye,
    floormod,
    gather_nd,
    lin_space,
    linspace,
    matrix_band_part,
    matrix_determinant,
    matrix_diag,
    matrix_diag_part,
    matrix_inverse,
    matrix_transpose,
    norm,
    reverse,
    reverse_v2,
    rint,
    saturate_cast,
    scatter_nd,
    sequence_mask,
    slice,
    sort,
    to_double,
    to_float,
    to_int32,
    to_int64,
    top_k,
    trace,
    truncatediv,
    truncatemod,
    unsorted_segment_mean,
    unsorted_segment_sum,
    xdivy,
    xlogy,
)
from ember.compat.tf.math_ops import reciprocal_no_nan as _reciprocal_no_nan
from ember.compat.tf.run_options import RunMetadata, RunOptions
from ember.compat.tf.segment_ops import (
    bincount,
    segment_max,
    segment_mean,
    segment_min,
    segment_prod,
    segment_sum,
    tensor_scatter_add,
    tensor_scatter_nd_add,
    tensor_scatter_nd_sub,
    tensor_scatter_nd_update,
    tensor_scatter_sub,
    tensor_scatter_update,
    unsorted_segment_max,
    unsorted_segment_min,
    unsorted_segment_prod,
)
from ember.compat.tf.session import InteractiveSession, Session, get_default_session
from ember.compat.tf.session_config import ConfigProto, GPUOptions, device
from ember.compat.tf.shape_ops import (
    batch_gather,
    batch_to_space,
    batch_to_space_nd,
    broadcast_dynamic_shape,
    broadcast_static_shape,
    broadcast_to,
    depth_to_space,
    identity_n,
    meshgrid,
    parallel_stack,
    repeat,
    scalar_mul,
    shape_n,
    space_to_batch,
    space_to_batch_nd,
    space_to_depth,
)
from ember.compat.tf.shape_ops import tuple as _tuple
from ember.compat.tf.special_ops import (
    betainc,
    complex,
    complex64,
    complex128,
    confusion_matrix,
    conj,
    cumulative_logsumexp,
    igamma,
    igammac,
    imag,
    lbeta,
    polygamma,
    polyval,
    real,
    reduce_euclidean_norm,
    to_bfloat16,
    zeta,
)
from ember.compat.tf.state_ops import (
    IndexedSlices,
    scatter_add,
    scatter_div,
    scatter_max,
    scatter_min,
    scatter_mul,
    scatter_nd_add,
    scatter_nd_sub,
    scatter_nd_update,
    scatter_sub,
    scatter_update,
)
from ember.compat.tf.template import make_template
from ember.compat.tf.tensor_array import TensorArray
from ember.compat.tf.train import UnconnectedGradients, gradients, hessians
from ember.compat.tf.value_sized import boolean_mask, unique, unique_with_counts, where
from ember.compat.tf.variables import (
    Variable,
    all_variables,
    assign,
    assign_add,
    assign_sub,
    cast,
    constant_initializer,
    get_local_variable,
    get_variable,
    global_variables,
    global_variables_initializer,
    glorot_normal_initializer,
    glorot_uniform_initializer,
    initialize_all_variables,
    initialize_local_variables,
    is_variable_initialized,
    local_variables,
    local_variables_initializer,
    model_variables,
    moving_average_variables,
    ones_initializer,
    random_normal_initializer,
    random_uniform_initializer,
    report_uninitialized_variables,
    trainable_variables,
    truncated_normal_initializer,
    variables_initializer,
    zeros_initializer,
)

__all__ = [  # (plus the names of array_ops.FUNCTIONS, added below)
    "AUTO_REUSE", "Graph", "GraphKeys", "InteractiveSession", "Operation", "Session", "Tensor", "TensorShape",
    "UnconnectedGradients",
    "Variable", "add_n", "add_to_collection", "all_variables", "app", "arg_max", "arg_min", "argmax", "argmin",
    "argsort", "assign", "assign_add", "assign_sub", "atan2", "bfloat16", "bool", "cast", "cholesky",
    "clip_by_global_norm",
    "clip_by_norm", "clip_by_value", "compat", "concat", "cond", "constant", "constant_initializer", "contrib",
    "control_dependencies", "convert_to_tensor", "count_nonzero", "cumprod", "cumsum", "data", "diag", "diag_part",
    "debugging", "disable_eager_execution", "disable_v2_behavior", "dtypes", "einsum", "errors", "expand_dims", "eye",
    "fill",
    "flags", "float16", "float32", "float64", "float_", "floormod", "foldl", "foldr", "gather", "gather_nd",
    "get_collection", "get_default_graph", "get_default_session", "get_variable", "global_norm", "global_variables",
    "global_variables_initializer", "glorot_normal_initializer", "glorot_uniform_initializer", "gradients", "group",
    "image", "initialize_all_variables", "initializers", "int16", "int32", "int64", "int8", "layers", "lin_space",
    "linalg", "linspace", "local_variables", "local_variables_initializer", "logging", "losses", "map_fn", "math",
    "matmul", "metrics",
    "matrix_band_part", "matrix_determinant", "matrix_diag", "matrix_diag_part", "matrix_inverse", "matrix_transpose",
    "mixed_precision", "name_scope", "nn", "no_op", "norm", "one_hot", "ones", "ones_initializer", "ones_like",
    "pack", "pad", "placeholder", "placeholder_with_default", "random", "random_gamma",
    "random_normal", "random_poisson",
    "random_normal_initializer", "random_uniform", "random_uniform_initializer", "range", "rank",
    "reset_default_graph", "reshape", "reverse", "reverse_v2", "rnn", "scan", "scatter_nd", "sequence_mask",
    "set_random_seed", "shape", "size", "slice", "sort", "split", "squeeze", "stack", "summary", "tensordot",
    "tile", "to_double", "to_float", "to_int32", "to_int64", "top_k", "trace", "train", "trainable_variables",
    "transpose", "truncated_normal", "truncated_normal_initializer", "truncatediv", "truncatemod", "uint8",
    "unpack", "unsorted_segment_mean", "unsorted_segment_sum", "unstack", "variable_scope", "variables_initializer",
    "where", "while_loop", "zeros", "zeros_initializer", "zeros_like",
]

range = range_  # noqa: A001  (tf.range)
globals().update(FUNCTIONS)  # the elementwise and reduction names: tf.add, tf.exp, tf.reduce_sum...
globals().update(UNARY_FUNCTIONS)  # tf.round, tf.is_nan, tf.expm1...

float_ = float32
__all__ += sorted(FUNCTIONS) + sorted(UNARY_FUNCTIONS)
dtypes = types.SimpleNamespace(bfloat16=bfloat16, float16=float16, float32=float32, float64=float64, int8=int8,
                               int16=int16, int32=int32, int64=int64, uint8=uint8, bool=bool,
                               complex64=complex64, complex128=complex128, as_dtype=as_dtype, DType=DType)
GraphKeys = types.SimpleNamespace(GLOBAL_VARIABLES="variables", TRAINABLE_VARIABLES="trainable_variables",
                                  SUMMARIES="summaries", LOSSES="losses", UPDATE_OPS="update_ops",
                                  REGULARIZATION_LOSSES="regularization_losses", GLOBAL_STEP="global_step",
                                  LOCAL_VARIABLES="local_variables", MODEL_VARIABLES="model_variables",
                                  MOVING_AVERAGE_VARIABLES="moving_average_variables",
                                  METRIC_VARIABLES=metrics._METRIC_VARIABLES)
initializers = types.SimpleNamespace(
    zeros=zeros_initializer, ones=ones_initializer, constant=constant_initializer,
    random_normal=random_normal_initializer, truncated_normal=truncated_normal_initializer,
    random_uniform=random_uniform_initializer, glorot_uniform=glorot_uniform_initializer,
    glorot_normal=glorot_normal_initializer, global_variables=global_variables_initializer,
)
random = types.SimpleNamespace(shuffle=random_shuffle, categorical=categorical, multinomial=multinomial,
                               normal=random_normal, uniform=random_uniform, truncated_normal=truncated_normal,
                               gamma=random_gamma, poisson=random_poisson,
                               set_random_seed=set_random_seed,
                               log_uniform_candidate_sampler=nn.log_uniform_candidate_sampler,
                               uniform_candidate_sampler=nn.uniform_candidate_sampler,
                               fixed_unigram_candidate_sampler=nn.fixed_unigram_candidate_sampler)
logging = types.SimpleNamespace(
    set_verbosity=lambda level: _logging.getLogger("tensorflow").setLevel(level),
    DEBUG=_logging.DEBUG, INFO=_logging.INFO, WARN=_logging.WARNING, ERROR=_logging.ERROR, FATAL=_logging.FATAL,
    info=_logging.getLogger("tensorflow").info, warning=_logging.getLogger("tensorflow").warning,
)
flags = app.flags
_CHECKS = {name: getattr(_check_ops, name) for name in _check_ops.__all__}  # tf.Assert, tf.assert_equal...
globals().update(_CHECKS)
__all__ += _check_ops.__all__
debugging = types.SimpleNamespace(**_CHECKS, assert_all_finite=_check_ops.verify_tensor_all_finite,
                                  **{name: UNARY_FUNCTIONS[name] for name in ("is_finite", "is_inf", "is_nan")})
newaxis = None  # x[tf.newaxis, :], as NumPy's
random_crop = image.random_crop  # TF-1 has it at the top level too (CIFAR input pipelines call tf.random_crop)
__all__ += ["RunMetadata", "RunOptions"]
__all__ += ["TensorArray", "hessians", "init_scope", "vectorized_map"]
__all__ += ["DType", "Dimension", "as_dimension", "as_dtype", "dimension_value", "get_seed"]
__all__ += ["case", "get_collection_ref", "get_local_variable", "initialize_local_variables", "is_variable_initialized",
            "make_template", "model_variables", "moving_average_variables", "report_uninitialized_variables",
            "switch_case"]
__all__ += ["bincount", "segment_max", "segment_mean", "segment_min", "segment_prod", "segment_sum",
            "tensor_scatter_add", "tensor_scatter_nd_add", "tensor_scatter_nd_sub", "tensor_scatter_nd_update",
            "tensor_scatter_sub", "tensor_scatter_update", "unsorted_segment_max", "unsorted_segment_min",
            "unsorted_segment_prod"]
__all__ += ["div_no_nan", "reverse_sequence", "rint", "roll", "saturate_cast", "strided_slice", "where_v2", "xdivy",
            "xlogy"]
div_no_nan = divide_no_nan  # (TF-1's top-level name; tf.math has divide_no_nan)
__all__ += ["multinomial", "random_shuffle"]
__all__ += ["cholesky_solve", "matrix_set_diag", "matrix_triangular_solve", "qr", "svd"]
matrix_set_diag, matrix_triangular_solve = set_diag, triangular_solve
__all__ += ["IndexedSlices", "scatter_add", "scatter_div", "scatter_max", "scatter_min", "scatter_mul",
            "scatter_nd_add", "scatter_nd_sub", "scatter_nd_update", "scatter_sub", "scatter_update"]
__all__ += ["ConfigProto", "GPUOptions", "Print", "device", "get_variable_scope", "newaxis", "numpy_function", "print",
            "py_func", "random_crop", "boolean_mask", "unique", "unique_with_counts"]
__all__ += ["batch_gather", "batch_to_space", "batch_to_space_nd", "broadcast_dynamic_shape", "broadcast_static_shape",
            "broadcast_to", "depth_to_space", "identity_n", "meshgrid", "parallel_stack", "repeat", "scalar_mul",
            "shape_n", "space_to_batch", "space_to_batch_nd", "space_to_depth", "tuple"]
__all__ += ["accumulate_n", "clip_by_average_norm", "dynamic_partition", "dynamic_stitch", "histogram_fixed_width",
            "invert_permutation", "searchsorted", "setdiff1d", "unravel_index"]
__all__ += ["betainc", "complex", "complex64", "complex128", "confusion_matrix", "conj", "cross", "igamma", "igammac",
            "imag",
            "lbeta", "matrix_solve", "matrix_solve_ls", "polygamma", "real", "self_adjoint_eig", "self_adjoint_eigvals",
            "to_bfloat16", "zeta"]
tuple = _tuple  # noqa: A001  (tf.tuple)
print = print_  # noqa: A001  (tf.print: an op that prints when a Session runs it)
train.experimental = mixed_precision.experimental  # (defined above train: its optimizer wraps train's)
for _module in (image_boxes, image_color):  # tf.image.rgb_to_hsv, ssim, crop_and_resize... (modules over image's)
    for _name in _module.__all__:
        setattr(image, _name, getattr(_module, _name))
for _name in summary_media.__all__:  # tf.summary.image, audio, text, tensor_summary
    setattr(summary, _name, getattr(summary_media, _name))
for _name in monitored.__all__:  # tf.train.MonitoredTrainingSession and its hooks (built over train's Saver)
    setattr(train, _name, getattr(monitored, _name))
for _module in (_coordinator, _checkpoint_utils):  # (built over train's latest_checkpoint)
    for _name in _module.__all__:
        setattr(train, _name, getattr(_module, _name))
        train.__all__.append(_name)


def add_n(inputs, name: str | None = None):
    """The elementwise sum of a list of tensors of one shape and dtype."""
    from ember.compat.tf._core import as_tf, op

    inputs = [as_tf(t) for t in inputs]
    if not inputs:
        raise ValueError("tf.add_n: inputs must be a non-empty list of tensors")
    shapes = {(*t.shape,) for t in inputs if t.shape is not None and None not in t.shape}
    if len(shapes) > 1 or len({t.dtype for t in inputs}) > 1:
        raise ValueError(f"tf.add_n: the inputs must have one shape and dtype, got "
                         f"{[(None if t.shape is None else list(t.shape), str(t.dtype)) for t in inputs]}")
    return op(lambda *xs: sum(xs[1:], xs[0]), (*inputs,), name=name or "AddN")


def disable_v2_behavior() -> None:
    """Accepted for scripts written for ``tensorflow.compat.v1``: Ember's TF is always TF-1 graph mode."""


disable_eager_execution = disable_v2_behavior
compat = types.SimpleNamespace(v1=sys.modules[__name__], dimension_value=dimension_value, as_dimension=as_dimension)

_MATH = ("add_n", "argmax", "argmin", "argsort", "atan2", "count_nonzero", "cumprod", "cumsum", "floormod", "sort",
         "top_k", "truncatediv", "truncatemod", "unsorted_segment_mean", "unsorted_segment_sum", "bincount",
         "segment_max", "segment_mean", "segment_min", "segment_prod", "segment_sum", "unsorted_segment_max",
         "unsorted_segment_min", "unsorted_segment_prod", "divide_no_nan", "rint", "roll",
         "xdivy", "xlogy")
_SPECIAL = {"bessel_i0e": ember.special.i0e, "bessel_i1e": ember.special.i1e, "ndtri": ember.special.ndtri}
math = types.SimpleNamespace(**FUNCTIONS, **UNARY_FUNCTIONS, **{name: globals()[name] for name in _MATH},
                             l2_normalize=nn.l2_normalize, in_top_k=nn.in_top_k, reciprocal_no_nan=_reciprocal_no_nan,
                             log_softmax=nn.log_softmax, confusion_matrix=confusion_matrix,
                             cumulative_logsumexp=cumulative_logsumexp, polyval=polyval,
                             reduce_euclidean_norm=reduce_euclidean_norm,
                             is_non_decreasing=_CHECKS["is_non_decreasing"],
                             is_strictly_increasing=_CHECKS["is_strictly_increasing"], igamma=igamma, igammac=igammac,
                             betainc=betainc, lbeta=lbeta, zeta=zeta, polygamma=polygamma, real=real, imag=imag,
                             conj=conj,
                             **{name: _unary_function(name, fn) for name, fn in _SPECIAL.items()})
linalg = types.SimpleNamespace(
    inv=matrix_inverse, det=matrix_determinant, cholesky=cholesky, diag=matrix_diag, diag_part=matrix_diag_part,
    band_part=matrix_band_part, trace=trace, transpose=matrix_transpose, matmul=matmul, norm=norm, eye=eye,
    einsum=einsum, tensordot=tensordot, l2_normalize=nn.l2_normalize, svd=svd, qr=qr, slogdet=slogdet,
    set_diag=set_diag, cholesky_solve=cholesky_solve, triangular_solve=triangular_solve,
    solve=matrix_solve, lstsq=matrix_solve_ls, eigh=self_adjoint_eig, eigvalsh=self_adjoint_eigvals, cross=cross,
    expm=expm, logdet=logdet, matvec=matvec, lu=lu, adjoint=adjoint, tensor_diag=diag, tensor_diag_part=diag_part,
)

def __getattr__(name: str):
    raise missing(__name__, name, globals())

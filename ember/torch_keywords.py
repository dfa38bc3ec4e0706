"""PyTorch's parameter names and ``out=`` for Ember's top-level functions: ``ember.add(input=a, other=b, out=c)``.

Ember's op functions name their parameters NumPy's way (``x``, ``a, b``). The top-level names PyTorch code calls
are wrapped once here: PyTorch's keyword names bind to the positions PyTorch gives them, and ``out=`` writes the
result into the given tensor, resized as PyTorch resizes it. ``dim=``/``keepdim=`` stay keywords
(``ember.ops.torch_names`` reads them). ``ember.linalg``'s and ``ember.fft``'s functions are wrapped the same way
(``ember.linalg.solve(A=a, B=b, out=x)``). A call without keywords costs one more Python call; ``ember.ops`` and the
Tensor methods are not wrapped.

>>> ember.sum(input=ember.ones(2, 3), dim=1)  # tensor([3., 3.])
>>> ember.mul(a, b, out=c)                     # c holds a * b
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable

from ember.backend.dtypes import can_cast
from ember.grad_mode import is_grad_enabled, no_grad
from ember.ops.torch_names import TORCH_RENAMES
from ember.tensor import Tensor

# PyTorch's positional parameters ("-": none) and whether it takes out=, then the functions with that signature
_SIGNATURES = """
input | out:
    abs absolute acos acosh all aminmax angle any arccos arccosh arcsin arcsinh arctan arctanh argmax asin asinh
    atan atanh bernoulli bitwise_not ceil conj_physical cos cosh deg2rad digamma erf erfc erfinv exp exp2 expm1 fix
    floor frac frexp geqrf i0 inverse isneginf isposinf lgamma log log10 log1p log2 logical_not max mean min msort
    nansum neg negative nonzero prod rad2deg reciprocal round rsqrt sgn sigmoid sign signbit sin sinc sinh sqrt
    square sum tan tanh trunc
input other | out:
    add arctan2 atan2 bitwise_and bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor copysign div divide
    eq floor_divide fmax fmin fmod gcd ge greater greater_equal gt hypot igamma igammac inner kron lcm ldexp le less
    less_equal logaddexp logaddexp2 logical_and logical_or logical_xor lt matmul maximum minimum mul multiply ne
    nextafter not_equal remainder rsub sub subtract true_divide vdot xlogy
input:
    argwhere clone conj corrcoef cov det empty_like fliplr flipud gradient imag is_complex is_floating_point
    is_nonzero is_signed isfinite isinf isnan isreal logdet matrix_exp median nanmedian nonzero_static numel
    ones_like positive rand_like randint_like randn_like ravel real relu slogdet t trace view_as_complex
    view_as_real zeros_like
input dim | out:
    cummax cummin cumprod cumsum log_softmax logcumsumexp softmax std std_mean var var_mean
- | out:
    empty ones rand randint randn zeros
input dim keepdim | out:
    amax amin argmin logsumexp mode nanmean nuclear_norm
tensors | out:
    column_stack dstack hstack row_stack vstack
input dim:
    count_nonzero squeeze unbind unsqueeze
tensors dim | out:
    cat concat concatenate stack
input diagonal | out:
    diag tril triu
input dims:
    flip permute tile
input sections:
    dsplit hsplit vsplit
input weight bias stride padding dilation groups:
    conv1d conv2d conv3d
input weight bias stride padding output_padding groups dilation:
    conv_transpose1d conv_transpose2d conv_transpose3d
input batch1 batch2 | out:
    addbmm baddbmm
input chunks dim:
    chunk unsafe_chunk
input dim index | out:
    gather index_select
input dim index source | out:
    index_add index_copy
input dim index src | out:
    scatter scatter_add
input dim0 dim1:
    swapdims transpose
input exponent | out:
    float_power pow
input mat2 | out:
    bmm mm
input min max | out:
    clamp clip
input offset dim1 dim2:
    diag_embed diagonal
input other rtol atol equal_nan:
    allclose isclose
input q dim keepdim | out:
    nanquantile quantile
input source destination:
    moveaxis movedim
input tensor1 tensor2 | out:
    addcdiv addcmul
input upper | out:
    cholesky cholesky_inverse
input vec2 | out:
    ger outer
start end step | out:
    arange range
A pivot get_infos | out:
    lu
LU_data LU_pivots unpack_data unpack_pivots | out:
    lu_unpack
abs angle | out:
    polar
condition input other | out:
    where
input A upper transpose unitriangular | out:
    triangular_solve
input LU_data LU_pivots | out:
    lu_solve
input axis0 axis1:
    swapaxes
input bins:
    histogramdd
input bins | out:
    histogram
input bins min max | out:
    histc
input boundaries | out:
    bucketize
input dim descending:
    argsort
input dim descending | out:
    sort
input dim index:
    select
input dim index source reduce | out:
    index_reduce
input dim index src reduce:
    scatter_reduce
input dim sizes:
    unflatten
input dim start length:
    narrow
input dim start length | out:
    narrow_copy
input end weight | out:
    lerp
input eps | out:
    logit
input fill_value:
    full_like
input index | out:
    take
input indices dim | out:
    take_along_dim
input input2:
    orgqr
input input2 upper | out:
    cholesky_solve
input k dim keepdim | out:
    kthvalue
input k dim largest sorted | out:
    topk
input k dims:
    rot90
input kernel_size stride padding ceil_mode count_include_pad:
    avg_pool1d
input lambd:
    hardshrink
input mask | out:
    masked_select
input mask value:
    masked_fill
input mat vec | out:
    addmv
input mat1 mat2 | out:
    addmm
input max | out:
    clamp_max
input min | out:
    clamp_min
input n | out:
    matrix_power
input n dim prepend append:
    diff
input nan posinf neginf | out:
    nan_to_num
input num_samples replacement | out:
    multinomial
input offset:
    diagflat
input other:
    equal
input other dim | out:
    cross
input other p:
    dist
input output_size:
    adaptive_avg_pool1d
input p:
    pdist
input p | out:
    mvlgamma
input p dim maxnorm | out:
    renorm
input r with_replacement:
    combinations
input rcond:
    pinverse
input repeats dim:
    repeat_interleave
input sections dim:
    tensor_split
input shape:
    reshape
input shifts dims:
    roll
input size:
    broadcast_to
input size stride storage_offset:
    as_strided
input some | out:
    qr
input some compute_uv | out:
    svd
input sorted return_inverse return_counts dim:
    unique
input split_size dim:
    unsafe_split
input src dim index:
    select_scatter
input src dim start end step:
    slice_scatter
input src offset dim1 dim2:
    diagonal_scatter
input start_dim end_dim:
    flatten
input tensor | out:
    dot
input values | out:
    heaviside
input vec | out:
    mv
input vec1 vec2 | out:
    addr
input weights minlength:
    bincount
mean std | out:
    normal
n | out:
    randperm
n input | out:
    polygamma
n m | out:
    eye
real imag | out:
    complex
size fill_value | out:
    full
sorted_sequence input | out:
    searchsorted
start end steps | out:
    linspace
start end steps base | out:
    logspace
input:
    abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_ ceil_ cos_ cosh_
    deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ fix_ floor_ frac_ get_device i0_ log10_ log1p_ log2_ log_ logit_
    nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_
    trunc_ unique_consecutive zero_
input p dim keepdim | out:
    norm
"""


# torch.linalg's and torch.fft's, in the same form, for ``ember.linalg`` and ``ember.fft``: the names PyTorch's
# bindings take (A or input, not always its documentation's), and out= everywhere PyTorch takes it
NAMESPACE_SIGNATURES = """
A | out:
    det inv inv_ex lu lu_factor lu_factor_ex slogdet svdvals
A:
    diagonal
A B | out:
    solve solve_ex
A full_matrices | out:
    svd
A mode | out:
    qr
input | out:
    cholesky cholesky_ex eig eigvals
input:
    matrix_exp
input B | out:
    solve_triangular
input b rcond:
    lstsq
input ind | out:
    tensorinv
input n | out:
    matrix_power
input other | out:
    cross matmul
input other dims | out:
    tensorsolve
input ord dim keepdim | out:
    matrix_norm norm vector_norm
input p | out:
    cond
input tau | out:
    householder_product
input tol hermitian | out:
    matrix_rank
input rcond hermitian | out:
    pinv
input UPLO | out:
    eigh eigvalsh
LU pivots B | out:
    lu_solve
tensors | out:
    multi_dot
x y | out:
    vecdot
input n dim norm | out:
    fft hfft ifft ihfft irfft rfft
input s dim norm | out:
    fft2 fftn hfft2 hfftn ifft2 ifftn ihfft2 ihfftn irfft2 irfftn rfft2 rfftn
n d | out:
    fftfreq rfftfreq
"""


def _table(text: str = _SIGNATURES) -> dict[str, tuple[tuple[str, ...], bool]]:
    signatures: dict[str, tuple[tuple[str, ...], bool]] = {}
    key = None
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            params, _, takes_out = line.rstrip(":").partition(" | ")
            key = (() if params == "-" else tuple(params.split()), takes_out == "out")
            continue
        for name in line.split():
            signatures[name] = key
    return signatures


def _slots(fn: Callable, torch_params: tuple[str, ...]) -> dict[str, int]:
    """PyTorch's leading parameter names, each with its position (those ``ember.ops.torch_names`` renames
    left out)."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params]
    slots = {}
    for i, name in enumerate(torch_params):
        own = names[i] if i < len(names) else None
        if name in TORCH_RENAMES and own == TORCH_RENAMES[name]:
            continue  # (dim=, keepdim=: fn reads them, dim=() meaning every dimension among them)
        slots[name] = i
    return slots


def with_torch_keywords(fn: Callable, name: str, torch_params: tuple[str, ...], takes_out: bool) -> Callable:
    """``fn`` also accepting PyTorch's keyword names ``torch_params`` for its leading arguments, and ``out=``
    where ``takes_out``."""
    slots: dict[str, int] | None = None

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not kwargs:
            return fn(*args)
        nonlocal slots
        if slots is None:
            slots = _slots(fn, torch_params)
        out = kwargs.pop("out", None) if takes_out else None
        if not slots.keys().isdisjoint(kwargs):
            args = _bind(name, slots, args, kwargs)
        result = fn(*args, **kwargs)
        return result if out is None else write_out(name, result, out)

    return call


def _bind(name: str, slots: dict[str, int], args: tuple, kwargs: dict) -> tuple:
    """``args`` extended by the keyword arguments whose PyTorch position comes next, in order."""
    given = sorted((slots[key], key) for key in kwargs if key in slots)
    for position, key in given:
        if position < len(args):
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
        if position > len(args):
            break  # (an earlier argument is missing: fn's own error names it)
        args = args + (kwargs.pop(key),)
    return args


def write_out(name: str, result, out):
    """``result`` written into ``out`` (a tensor, or a tuple of them for a tuple result), as PyTorch's ``out=``."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}(): out= must be a tuple of {len(result)} tensors, got {type(out).__name__}")
        written = [_write_one(name, r, o) for r, o in zip(result, out)]
        return type(result)(*written) if hasattr(result, "_fields") else tuple(written)
    return _write_one(name, result, out)


def _write_one(name: str, result, out):
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if not isinstance(result, Tensor):
        raise TypeError(f"{name}(): this form returns {type(result).__name__}, not a tensor; it takes no out=")
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic differentiation, but "
                           "one of the arguments requires grad.")
    if not can_cast(result.dtype, out.dtype):
        raise RuntimeError(f"{name}(): result type {result.dtype} can't be cast to the desired output type "
                           f"{out.dtype} (out=)")
    if tuple(out.shape) != tuple(result.shape):
        if out.numel():
            warnings.warn(f"{name}(): an output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape {list(result.shape)}",
                          UserWarning, stacklevel=4)
        out.resize_(*result.shape)
    with no_grad():
        out.copy_(result)
    return out


def install(namespace: dict, signatures: str = _SIGNATURES) -> None:
    """Wrap the functions of ``namespace`` (the ``ember`` module's, or ``NAMESPACE_SIGNATURES``' for
    ``ember.linalg``'s and ``ember.fft``'s) that the table names."""
    for name, (torch_params, takes_out) in _table(signatures).items():
        fn = namespace.get(name)
        if callable(fn) and not isinstance(fn, type):
            namespace[name] = with_torch_keywords(fn, name, torch_params, takes_out)

"""Tensor's operators and op methods, listed in one class (mixed into ``Tensor``).

Each method is the op function itself, taking the tensor first, so ``x.exp()``, ``ember.exp(x)`` and
``ember.ops.exp(x)`` are one code path (and one function object: no extra call on the hot path). Graph
Values are Tensors, so they have the same methods and build graph nodes through them.
"""

from __future__ import annotations

from ember import ops as _ops
from ember.ops import torch_names as _torch_names
from ember.ops.dispatch import TensorLike


class OpMethods(TensorLike):
    """Operators and methods that are op functions (see the module docstring)."""

    __slots__ = ()

    # --- arithmetic, comparison and bitwise operators ---
    __add__ = _ops.add
    __sub__ = _ops.sub
    __mul__ = _ops.mul
    __truediv__ = _ops.true_divide
    __floordiv__ = _ops.floor_divide
    __mod__ = _ops.remainder
    __pow__ = _ops.power
    __matmul__ = _ops.matmul
    __and__ = _ops.bitwise_and
    __or__ = _ops.bitwise_or
    __xor__ = _ops.bitwise_xor
    __lt__ = _ops.lt
    __le__ = _ops.le
    __gt__ = _ops.gt
    __ge__ = _ops.ge
    __neg__ = _ops.neg
    __abs__ = _ops.abs
    __invert__ = _ops.invert

    def __pos__(self):
        return self

    # ``x == None`` and ``x != "a"`` are False and True, as PyTorch's: Python's identity test, not a conversion error
    # (``t in (None, "auto")`` compares so)
    def __eq__(self, other):
        if other is None or other.__class__ is str:
            return NotImplemented
        return _ops.eq(self, other)

    def __ne__(self, other):
        if other is None or other.__class__ is str:
            return NotImplemented
        return _ops.ne(self, other)

    # --- reflected operators: ``2 * x`` ---
    def __radd__(self, other):
        return _ops.add(other, self)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __rtruediv__(self, other):
        return _ops.true_divide(other, self)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __rand__(self, other):
        return _ops.bitwise_and(other, self)

    def __ror__(self, other):
        return _ops.bitwise_or(other, self)

    def __rxor__(self, other):
        return _ops.bitwise_xor(other, self)

    # --- elementwise math ---
    abs = _ops.abs
    add = _ops.add
    sub = _ops.sub
    mul = _ops.mul
    div = _ops.div
    true_divide = _ops.true_divide
    power = _ops.power
    pow = _ops.power
    maximum = _ops.maximum
    minimum = _ops.minimum
    clip = _ops.clip
    clamp = _ops.clip
    clamp_min = _ops.clamp_min
    clamp_max = _ops.clamp_max
    exp = _ops.exp
    log = _ops.log
    log1p = _ops.log1p
    log2 = _ops.log2
    log10 = _ops.log10
    expm1 = _ops.expm1
    asin = _ops.asin
    acos = _ops.acos
    atan = _ops.atan
    atan2 = _ops.atan2
    sinh = _ops.sinh
    cosh = _ops.cosh
    asinh = _ops.asinh
    acosh = _ops.acosh
    atanh = _ops.atanh
    arcsin = _ops.asin
    arccos = _ops.acos
    arctan = _ops.atan
    arctan2 = _ops.atan2
    arcsinh = _ops.asinh
    arccosh = _ops.acosh
    arctanh = _ops.atanh
    sqrt = _ops.sqrt
    sin = _ops.sin
    cos = _ops.cos
    tanh = _ops.tanh
    sigmoid = _ops.sigmoid
    relu = _ops.relu
    hardshrink = _ops.hardshrink
    erf = _ops.erf
    erfc = _ops.erfc
    erfinv = _ops.erfinv
    lgamma = _ops.lgamma
    digamma = _ops.digamma
    i0 = _ops.i0
    sinc = _ops.sinc
    logit = _ops.logit
    xlogy = _ops.xlogy
    mvlgamma = _ops.multigammaln
    exp2 = _ops.exp2
    logaddexp = _ops.logaddexp
    logaddexp2 = _ops.logaddexp2
    hypot = _ops.hypot
    copysign = _ops.copysign
    nextafter = _ops.nextafter
    frac = _ops.frac
    deg2rad = _ops.deg2rad
    rad2deg = _ops.rad2deg
    heaviside = _ops.heaviside
    gcd = _ops.gcd
    lcm = _ops.lcm
    float_power = _ops.float_power
    igamma = _ops.igamma
    igammac = _ops.igammac

    # PyTorch's other elementwise names (ember.ops.elementwise_names)
    tan = _ops.tan
    absolute = _ops.absolute
    negative = _ops.negative
    positive = _ops.positive
    subtract = _ops.subtract
    multiply = _ops.multiply
    divide = _ops.divide
    greater = _ops.greater
    greater_equal = _ops.greater_equal
    less = _ops.less
    less_equal = _ops.less_equal
    not_equal = _ops.not_equal
    fix = _ops.fix
    sgn = _ops.sgn
    conj = _ops.conj
    conj_physical = _ops.conj_physical
    angle = _ops.angle
    stft = _ops.stft
    istft = _ops.istft
    signbit = _ops.signbit
    ldexp = _ops.ldexp
    frexp = _ops.frexp
    fmax = _ops.fmax
    fmin = _ops.fmin
    isposinf = _ops.isposinf
    isneginf = _ops.isneginf
    isreal = _ops.isreal
    is_complex = _ops.is_complex
    is_nonzero = _ops.is_nonzero
    is_same_size = _ops.is_same_size
    is_signed = _ops.is_signed
    bitwise_not = _ops.bitwise_not
    bitwise_left_shift = _ops.bitwise_left_shift
    bitwise_right_shift = _ops.bitwise_right_shift
    __lshift__ = _ops.bitwise_left_shift
    __rshift__ = _ops.bitwise_right_shift

    def __rlshift__(self, other):
        return _ops.bitwise_left_shift(other, self)

    def __rrshift__(self, other):
        return _ops.bitwise_right_shift(other, self)

    def polygamma(self, n: int):
        """``ember.polygamma(n, self)`` (PyTorch's method takes the order as its argument)."""
        return _ops.polygamma(n, self)

    sign = _ops.sign
    square = _ops.square
    matmul = _ops.matmul
    bmm = _ops.bmm
    outer = _ops.outer
    addmm = _ops.addmm
    baddbmm = _ops.baddbmm
    addbmm = _ops.addbmm
    addmv = _ops.addmv
    addr = _ops.addr
    addcmul = _ops.addcmul
    addcdiv = _ops.addcdiv
    mv = _ops.mv
    ger = _ops.outer
    inner = _ops.inner
    vdot = _ops.vdot
    kron = _ops.kron
    trace = _ops.trace
    dist = _ops.dist
    renorm = _ops.renorm
    dot = _ops.dot
    cross = _ops.cross
    det = _ops.det
    logdet = _ops.logdet
    slogdet = _ops.slogdet
    inverse = _ops.inverse
    pinverse = _ops.pinverse
    cholesky = _ops.cholesky
    matrix_power = _ops.matrix_power
    qr = _ops.qr
    svd = _ops.svd
    matrix_exp = _ops.matrix_exp
    cholesky_solve = _ops.cholesky_solve
    lu = _ops.torch_lu
    lu_solve = _ops.torch_lu_solve
    cholesky_inverse = _ops.cholesky_inverse
    triangular_solve = _ops.triangular_solve
    geqrf = _ops.geqrf
    orgqr = _ops.orgqr
    softmax = _ops.softmax
    log_softmax = _ops.log_softmax

    # --- PyTorch's compositions: tests, roundings, fills ---
    isnan = _ops.isnan
    isinf = _ops.isinf
    isfinite = _ops.isfinite
    nan_to_num = _ops.nan_to_num
    reciprocal = _ops.reciprocal
    rsqrt = _ops.rsqrt
    floor = _ops.floor
    ceil = _ops.ceil
    trunc = _ops.trunc
    round = _ops.round
    fmod = _ops.fmod
    remainder = _ops.remainder
    floor_divide = _ops.floor_divide
    neg = _ops.neg
    masked_fill = _ops.masked_fill
    lerp = _ops.lerp
    logical_and = _ops.logical_and
    logical_or = _ops.logical_or
    logical_xor = _ops.logical_xor
    logical_not = _ops.logical_not
    bitwise_and = _ops.bitwise_and
    bitwise_or = _ops.bitwise_or
    bitwise_xor = _ops.bitwise_xor
    count_nonzero = _ops.count_nonzero
    isclose = _ops.isclose
    allclose = _ops.allclose
    equal = _ops.equal
    norm = _ops.norm

    # --- reductions ---
    sum = _ops.sum
    nansum = _ops.nansum
    nanmean = _ops.nanmean
    kthvalue = _ops.kthvalue
    quantile = _ops.quantile
    nanquantile = _ops.nanquantile
    nanmedian = _ops.nanmedian
    mode = _ops.mode
    aminmax = _ops.aminmax
    histc = _ops.histc
    histogram = _ops.histogram
    cov = _ops.cov
    corrcoef = _ops.corrcoef
    diff = _ops.diff
    mean = _ops.mean
    prod = _ops.prod
    std = _ops.std
    var = _ops.var
    max = _ops.max
    min = _ops.min
    amax = _ops.amax
    amin = _ops.amin
    argmax = _ops.argmax
    argmin = _ops.argmin
    all = _ops.all
    any = _ops.any
    logsumexp = _ops.logsumexp
    cumsum = _ops.cumsum
    cumprod = _ops.cumprod
    logcumsumexp = _ops.logcumsumexp
    cummax = _ops.cummax
    cummin = _ops.cummin
    median = _ops.median
    sort = _ops.sort
    msort = _ops.msort
    argsort = _ops.argsort
    topk = _ops.topk
    unique = _ops.unique
    unique_consecutive = _ops.unique_consecutive
    bincount = _ops.bincount
    searchsorted = _ops.searchsorted

    # --- shape and indexing ---
    reshape = _ops.reshape
    view = _ops.view
    flatten = _ops.flatten
    unflatten = _ops.unflatten
    squeeze = _ops.squeeze
    unsqueeze = _ops.unsqueeze
    permute = _ops.permute
    transpose = _ops.transpose
    swapaxes = _ops.swapaxes
    broadcast_to = _ops.broadcast_to
    expand = _ops.expand
    tile = _ops.tile
    repeat = _torch_names.tensor_repeat(_ops.repeat, _ops.tile)  # PyTorch's Tensor.repeat tiles
    repeat_interleave = _ops.repeat_interleave
    chunk = _ops.chunk
    split = _ops.split
    gather = _ops.gather
    take = _ops.take
    select = _ops.select
    unbind = _ops.unbind
    diagonal = _ops.diagonal
    diag = _ops.diag
    nonzero = _ops.nonzero
    flip = _ops.flip
    roll = _ops.roll
    tril = _ops.tril
    triu = _ops.triu
    index_select = _ops.index_select
    masked_select = _ops.masked_select
    index_add = _ops.index_add
    scatter_add = _ops.scatter_add
    scatter = _ops.scatter
    index_fill = _ops.index_fill
    index_copy = _ops.index_copy
    movedim = _ops.movedim
    moveaxis = _ops.moveaxis
    swapdims = _ops.swapdims
    narrow = _ops.narrow
    narrow_copy = _ops.narrow_copy
    take_along_dim = _ops.take_along_dim
    tensor_split = _ops.tensor_split
    hsplit = _ops.hsplit
    vsplit = _ops.vsplit
    dsplit = _ops.dsplit
    split_with_sizes = _ops.split_with_sizes
    unsafe_split = _ops.unsafe_split
    unsafe_chunk = _ops.unsafe_chunk
    fliplr = _ops.fliplr
    flipud = _ops.flipud
    rot90 = _ops.rot90
    argwhere = _ops.argwhere
    nonzero_static = _ops.nonzero_static
    diag_embed = _ops.diag_embed
    diagflat = _ops.diagflat
    diagonal_scatter = _ops.diagonal_scatter
    select_scatter = _ops.select_scatter
    slice_scatter = _ops.slice_scatter
    index_put = _ops.index_put
    index_reduce = _ops.index_reduce
    scatter_reduce = _ops.scatter_reduce
    masked_scatter = _ops.masked_scatter
    put = _ops.put
    unfold = _ops.unfold
    sum_to_size = _ops.sum_to_size
    as_strided = _ops.as_strided
    ravel = _ops.ravel

    def where(self, condition, y):
        """``ember.where(condition, self, y)`` (PyTorch's method takes the tensor as the true branch)."""
        return _ops.where(condition, self, y)

    @property
    def T(self):
        """All axes reversed."""
        return _ops.transpose(self)

    @property
    def mT(self):
        """The last two axes swapped (a batch of matrices transposed)."""
        return _ops.swapaxes(self, -1, -2)

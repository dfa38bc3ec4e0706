"""PyTorch's other in-place Tensor methods (``tan_``, ``eq_``, ``cumsum_``, ``transpose_``, ``fill_diagonal_``,
``exponential_``...) and its top-level in-place functions (``ember.abs_(x)`` is ``x.abs_()``).

They follow ``tensor_inplace``'s rules: the result is written into the tensor's own array (a comparison or a logical
op keeps the tensor's dtype, 1 and 0), or recorded as PyTorch records it where a gradient is wanted; a leaf that
requires grad is changed only under ``ember.no_grad()``, every write marks the tensor for the version check, and a
result that does not fit the tensor's dtype or shape raises.
"""

from __future__ import annotations

import numpy as np

from ember.ops.convert import check_fill_value
from ember.random import exact_integers
from ember.tensor_inplace import (
    _binary,
    _check,
    _check_fill_dtype,
    _in_place,
    _operator,
    _ops,
    _refuse_traced_draw,
    _reshape_in_place,
    _unary,
    _write,
    marked_for_write,
)


def _with_args(fn_name: str, method: str, doc: str):
    """An in-place method passing its arguments on: ``self = fn(self, *args, **kwargs)``."""

    def inplace(self, *args, **kwargs):
        op = getattr(_ops(), fn_name)
        return _in_place(self, method, lambda before: op(before, *args, **kwargs), *args, *kwargs.values())

    inplace.__name__ = method
    inplace.__doc__ = doc
    return inplace


def _draw(tensor, name: str, sample, generator=None, kinds: str = "f"):
    """Write ``sample(rng, shape)`` (from Ember's generator or ``generator``) into ``tensor``, in place; ``kinds``
    are the dtypes the law fills (see ``_check_fill_dtype``)."""
    from ember.backend.devices import move
    from ember.random import numpy_generator

    _check(tensor, name)
    _check_fill_dtype(tensor, name, kinds)
    _refuse_traced_draw(tensor, name)
    marked_for_write(tensor, name)
    tensor.array[...] = move(sample(numpy_generator(generator), tuple(tensor.shape)), tensor.device)
    return tensor


def _positive(name: str, what: str, value) -> None:
    if not value > 0:
        raise ValueError(f"{name}: {what} must be positive, got {value}")


_ONE_ARGUMENT = object()  # random_'s ``to`` when not given, told apart from random_(from, None)


def _random_bounds(dtype: np.dtype, low, high) -> tuple:
    """``random_``'s half-open range [low, high), checked against the dtype: by default every integer the dtype holds
    exactly from ``low``."""
    lowest, highest = exact_integers(dtype)
    if high is None:
        if not lowest <= low <= highest:
            raise ValueError(f"random_: from = {low} is out of bounds for {dtype} (integers in [{lowest}, {highest}])")
        return low, highest + 1
    if not low < high:
        raise ValueError(f"random_: expects from < to, got from={low} and to={high}")
    for what, value in (("from", low), ("to - 1", high - 1)):
        if not lowest <= value <= highest:
            raise ValueError(f"random_: {what} = {value} is out of bounds for {dtype} (integers in [{lowest}, "
                             f"{highest}])")
    return low, high


class TorchInplaceMethods:
    """PyTorch-named in-place Tensor methods (mixed into ``Tensor``); see the module docstring."""

    __slots__ = ()

    # --- unary math ---
    absolute_ = _unary("absolute", "absolute_")
    negative_ = _unary("negative", "negative_")
    arcsin_ = _unary("asin", "arcsin_")
    arccos_ = _unary("acos", "arccos_")
    arctan_ = _unary("atan", "arctan_")
    arcsinh_ = _unary("asinh", "arcsinh_")
    arccosh_ = _unary("acosh", "arccosh_")
    arctanh_ = _unary("atanh", "arctanh_")
    sin_ = _unary("sin", "sin_")
    cos_ = _unary("cos", "cos_")
    tan_ = _unary("tan", "tan_")
    erf_ = _unary("erf", "erf_")
    fix_ = _unary("fix", "fix_")
    sign_ = _unary("sign", "sign_")
    sgn_ = _unary("sgn", "sgn_")
    logical_not_ = _unary("logical_not", "logical_not_")
    bitwise_not_ = _unary("bitwise_not", "bitwise_not_")
    logit_ = _with_args("logit", "logit_", "``self = logit(self, eps)`` written into this tensor's array.")
    mvlgamma_ = _with_args("mvlgamma", "mvlgamma_", "``self = mvlgamma(self, p)`` written into this tensor's array.")

    def polygamma_(self, n: int):
        """``self = polygamma(n, self)`` written into this tensor's array."""
        return _in_place(self, "polygamma_", lambda before: _ops().polygamma(n, before))

    # --- binary math and comparisons (results cast to the tensor's dtype) ---
    arctan2_ = _binary("atan2", "arctan2_")
    ldexp_ = _binary("ldexp", "ldexp_")
    floor_divide_ = _binary("floor_divide", "floor_divide_")
    fmod_ = _binary("fmod", "fmod_")
    remainder_ = _binary("remainder", "remainder_")
    true_divide_ = _binary("true_divide", "true_divide_")
    multiply_ = _binary("mul", "multiply_")
    eq_ = _binary("eq", "eq_")
    ne_ = _binary("ne", "ne_")
    not_equal_ = _binary("ne", "not_equal_")
    ge_ = _binary("ge", "ge_")
    gt_ = _binary("gt", "gt_")
    le_ = _binary("le", "le_")
    lt_ = _binary("lt", "lt_")
    greater_ = _binary("gt", "greater_")
    greater_equal_ = _binary("ge", "greater_equal_")
    less_ = _binary("lt", "less_")
    less_equal_ = _binary("le", "less_equal_")
    logical_and_ = _binary("logical_and", "logical_and_")
    logical_or_ = _binary("logical_or", "logical_or_")
    logical_xor_ = _binary("logical_xor", "logical_xor_")
    bitwise_and_ = _binary("bitwise_and", "bitwise_and_")
    bitwise_or_ = _binary("bitwise_or", "bitwise_or_")
    bitwise_xor_ = _binary("bitwise_xor", "bitwise_xor_")
    bitwise_left_shift_ = _binary("bitwise_left_shift", "bitwise_left_shift_")
    bitwise_right_shift_ = _binary("bitwise_right_shift", "bitwise_right_shift_")
    __ilshift__ = _operator("bitwise_left_shift", "__ilshift__")
    __irshift__ = _operator("bitwise_right_shift", "__irshift__")
    igamma_ = _binary("igamma", "igamma_")
    igammac_ = _binary("igammac", "igammac_")
    divide_ = _with_args("divide", "divide_", "``self = divide(self, other, rounding_mode=...)`` in place.")
    subtract_ = _with_args("subtract", "subtract_", "``self = subtract(self, other, alpha=...)`` in place.")

    def float_power_(self, exponent):
        """``self = float_power(self, exponent)`` in place; the result is float64 (complex128 for complex operands),
        so this tensor must be too."""
        if self.dtype != np.float64 and self.dtype != np.complex128:
            raise RuntimeError(f"float_power_: the result is float64 or complex128 and cannot be written into a tensor "
                               f"of dtype {self.dtype} (shape {list(self.shape)}); use float_power, or .double() first")
        return _in_place(self, "float_power_", lambda before: _ops().float_power(before, exponent), exponent)

    # --- scans and triangles ---
    def cumsum_(self, dim: int, *, dtype=None):
        """Running sums along ``dim`` written into this tensor."""
        return _in_place(self, "cumsum_", lambda before: _ops().cumsum(before, dim, dtype=dtype))

    def cumprod_(self, dim: int, *, dtype=None):
        """Running products along ``dim`` written into this tensor."""
        return _in_place(self, "cumprod_", lambda before: _ops().cumprod(before, dim, dtype=dtype))

    def tril_(self, diagonal: int = 0):
        """Zero the elements above the ``diagonal``-th diagonal, in place."""
        return _in_place(self, "tril_", lambda before: _ops().tril(before, diagonal))

    def triu_(self, diagonal: int = 0):
        """Zero the elements below the ``diagonal``-th diagonal, in place."""
        return _in_place(self, "triu_", lambda before: _ops().triu(before, diagonal))

    def fill_diagonal_(self, fill_value, wrap: bool = False):
        """Set the main diagonal to ``fill_value`` in place: of a matrix (a tall one's diagonal starts again
        after a blank row with ``wrap``), or of a tensor whose dimensions are all equal."""
        shape = tuple(self.shape)
        if len(shape) < 2 or (len(shape) > 2 and len(set(shape)) != 1):
            raise ValueError(f"fill_diagonal_: needs a tensor of at least 2 dimensions, all of one length beyond "
                             f"2, got shape {list(shape)}")
        _check(self, "fill_diagonal_", fill_value)
        check_fill_value("fill_diagonal_", fill_value, self.dtype)
        if not hasattr(self.array, "flags"):
            return _write(self, "fill_diagonal_", self.array)  # (refuses a graph value)
        marked_for_write(self, "fill_diagonal_")
        value = fill_value.item() if hasattr(fill_value, "node") else fill_value
        if not isinstance(value, (complex, np.complexfloating)) or self.dtype.kind != "c":
            # (an integer wraps as PyTorch's: -2 is 254 in uint8; a complex value gives a real tensor its real part)
            value = np.asarray(value).astype(self.dtype)
        self.xp.fill_diagonal(self.array, value, wrap=wrap)
        return self

    # --- axes swapped in place (the tensor becomes the transposed view) ---
    def t_(self):
        """``t()`` in place: a matrix's axes swapped (a tensor of under 2 dimensions is unchanged)."""
        return _reshape_in_place(self, "t_", self.t())

    def transpose_(self, dim0: int, dim1: int):
        """Swap two axes of this tensor in place."""
        return _reshape_in_place(self, "transpose_", _ops().swapaxes(self, dim0, dim1))

    swapdims_ = transpose_

    def swapaxes_(self, axis0: int, axis1: int):
        """Swap two axes of this tensor in place (NumPy's name of ``transpose_``)."""
        return _reshape_in_place(self, "swapaxes_", _ops().swapaxes(self, axis0, axis1))

    # --- random fills from Ember's generator (as normal_ and uniform_) ---
    def cauchy_(self, median: float = 0.0, sigma: float = 1.0, *, generator=None):
        """Fill with draws from the Cauchy distribution of ``median`` and scale ``sigma``, in place."""
        _positive("cauchy_", "sigma", sigma)
        return _draw(self, "cauchy_", lambda rng, shape: median + sigma * rng.standard_cauchy(shape), generator)

    def exponential_(self, lambd: float = 1.0, *, generator=None):
        """Fill with draws from the exponential distribution of rate ``lambd``, in place."""
        _positive("exponential_", "lambd", lambd)
        return _draw(self, "exponential_", lambda rng, shape: rng.exponential(1.0 / lambd, shape), generator)

    def geometric_(self, p: float, *, generator=None):
        """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...), in place."""
        if not 0 < p <= 1:
            raise ValueError(f"geometric_: p must be in (0, 1], got {p}")
        return _draw(self, "geometric_", lambda rng, shape: rng.geometric(p, shape), generator, kinds="fi")

    def log_normal_(self, mean: float = 1.0, std: float = 2.0, *, generator=None):
        """Fill with exp(N(mean, std^2)) draws, in place."""
        _positive("log_normal_", "std", std)
        return _draw(self, "log_normal_", lambda rng, shape: rng.lognormal(mean, std, shape), generator)

    def random_(self, from_: int | None = None, to=_ONE_ARGUMENT, *, generator=None):
        """Fill with integers drawn uniformly from [from, to): ``random_(to)`` from [0, to); ``random_()`` from
        every integer the dtype holds exactly (to 2**24 for float32), and ``random_(from, None)`` those from
        ``from``, in place."""
        if to is _ONE_ARGUMENT:
            from_, to = (0, None) if from_ is None else (0, from_)  # random_() and random_(to), as PyTorch
        elif from_ is None:
            from_ = 0
        _check_fill_dtype(self, "random_", "fib")
        low, high = _random_bounds(np.dtype(self.dtype), int(from_), None if to is None else int(to))
        return _draw(self, "random_", lambda rng, shape: rng.integers(low, high - 1, shape, dtype=np.int64,
                                                                       endpoint=True), generator, kinds="fib")


# ``torch.abs_(x)`` and the others PyTorch has at top level: the Tensor method on ``x``
TOP_LEVEL = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_", "asin_",
    "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_",
    "deg2rad_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_",
    "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
    "reciprocal_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_",
    "trunc_", "xlogy_", "fill_", "zero_", "relu_",
)
__all__ = sorted(TOP_LEVEL)


def _top_level(method: str):
    def fn(x, *args, **kwargs):
        if not hasattr(x, method):
            raise TypeError(f"{method}: expects an Ember tensor, got {type(x).__name__}")
        return getattr(x, method)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = method
    fn.__doc__ = f"``x.{method}(...)``: PyTorch's top-level in-place function."
    return fn


globals().update({name: _top_level(name) for name in TOP_LEVEL})

"""PyTorch's elementwise names (ember.ops.elementwise_names) against PyTorch: values, dtypes (integer inputs, type
promotion), broadcasting, gradients and errors; one of them under ember.jit."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64, torch.int32: np.int32,
           torch.bool: np.bool_, torch.uint8: np.uint8, torch.float16: np.float16, torch.int8: np.int8,
           torch.int16: np.int16}


def _pair(array, grad=False):
    array = np.asarray(array)
    return (ember.tensor(array, requires_grad=grad),
            torch.tensor(array, requires_grad=grad))


def _same(ours, theirs, rtol=1e-6, atol=1e-7):
    theirs = theirs.detach()
    assert ours.dtype == _DTYPES[theirs.dtype], f"dtype {ours.dtype}, torch {theirs.dtype}"
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=rtol, atol=atol)


_FLOATS = np.array([[-1.25, 0.5, 3.0], [2.0, -0.0, 0.75]], np.float32)
_ROW = np.array([1.5, -2.0, 0.25], np.float32)
_INTS = np.array([[-3, 0, 7], [4, -8, 1]], np.int64)


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # tan(inf)
@pytest.mark.parametrize("name", ["absolute", "negative", "positive", "fix", "sgn", "sign", "signbit", "isposinf",
                                  "isneginf", "isreal", "tan"])
@pytest.mark.parametrize("data", [_FLOATS, _INTS, np.array([np.inf, -np.inf, np.nan, -0.0])],
                         ids=["float", "int", "special"])
def test_unary_names_match_torch(name, data):
    x, tx = _pair(data)
    _same(getattr(ember, name)(x), getattr(torch, name)(tx))
    _same(getattr(x, name)(), getattr(tx, name)())


@pytest.mark.parametrize("name", ["subtract", "multiply", "divide", "greater", "greater_equal", "less",
                                  "less_equal", "not_equal", "fmax", "fmin", "ldexp", "rsub"])
@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.int64, np.int64), (np.float32, np.int64),
                                    (np.int32, np.float64)], ids=["ff", "ii", "fi", "id"])
def test_binary_names_match_torch_with_promotion_and_broadcasting(name, dtypes):
    a, ta = _pair(_FLOATS.astype(dtypes[0]) if dtypes[0] != np.int64 else _INTS)
    b, tb = _pair((_ROW * 2).astype(dtypes[1]) if dtypes[1] != np.int64 else np.array([2, -3, 5]))
    _same(getattr(ember, name)(a, b), getattr(torch, name)(ta, tb), rtol=1e-6)
    if name != "rsub":  # (a function only in PyTorch)
        _same(getattr(a, name)(b), getattr(ta, name)(tb), rtol=1e-6)


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_divide_rounding_modes_match_torch(mode):
    for data, row in ((_FLOATS, _ROW), (_INTS, np.array([2, -3, 5]))):
        (a, ta), (b, tb) = _pair(data), _pair(row)
        _same(ember.divide(a, b, rounding_mode=mode), torch.divide(ta, tb, rounding_mode=mode))
        _same(a.divide(b, rounding_mode=mode), ta.divide(tb, rounding_mode=mode))


@pytest.mark.parametrize("alpha", [1, 2, 0.5])
def test_subtract_and_rsub_alpha_match_torch(alpha):
    (a, ta), (b, tb) = _pair(_FLOATS), _pair(_ROW)
    _same(ember.subtract(a, b, alpha=alpha), torch.subtract(ta, tb, alpha=alpha))
    _same(a.subtract(b, alpha=alpha), ta.subtract(tb, alpha=alpha))
    _same(ember.rsub(a, b, alpha=alpha), torch.rsub(ta, tb, alpha=alpha))
    _same(ember.rsub(a, 5.0, alpha=alpha), torch.rsub(ta, 5.0, alpha=alpha))


def _call(lib, name, a, b, **kwargs):
    return getattr(a, name)(b, **kwargs) if name.endswith("_") else getattr(lib, name)(a, b, **kwargs)


@pytest.mark.parametrize("name", ["add", "sub", "subtract", "add_", "sub_"])
def test_alpha_keeps_the_operands_promoted_dtype_as_torch(name):
    # alpha multiplied the second operand first: uint8 + 2 * bool was int64 and bool + 2 * bool was int64 [3, ...]
    # where PyTorch keeps uint8 and bool; a float alpha for int + int8 gave float32 where PyTorch refuses it
    for first, second, alpha in ((np.array([1, 2, 250], np.uint8), np.array([True, False, True]), 2),
                                 (np.array([True, False, True]), np.array([True, True, False]), 2),
                                 (np.array([3, -4, 5], np.int32), np.array([1, 2, 3], np.int8), -3),
                                 (np.array([1.5, 2.0, -1.0], np.float16), np.array([2, 3, 4], np.int64), 0.5)):
        if "sub" in name and second.dtype == np.bool_:
            continue
        (a, ta), (b, tb) = _pair(first), _pair(second)
        _same(_call(ember, name, a, b, alpha=alpha), _call(torch, name, ta, tb, alpha=alpha))
    ints, int8s = ember.tensor([3, 4]), ember.tensor([1, 2], dtype=ember.int8)
    with pytest.raises(TypeError, match=r"(add|sub): a float alpha=0.5 needs floating-point operands, got int64"):
        _call(ember, name, ints, int8s, alpha=0.5)
    with pytest.raises(TypeError, match=r"(add|sub): a complex alpha=1j needs complex operands, got float32"):
        _call(ember, name, ints.float(), int8s, alpha=1j)


def test_subtract_refuses_bools_and_a_float_alpha_for_integers():
    x = ember.tensor([True, False])
    with pytest.raises(TypeError, match="subtract: subtraction of two bool tensors"):
        ember.subtract(x, x)
    with pytest.raises(TypeError, match="sub: a float alpha=0.5 needs floating-point operands"):
        ember.subtract(ember.tensor([3]), ember.tensor([1]), alpha=0.5)
    with pytest.raises(TypeError, match="positive: the \\+ operator on a bool tensor"):
        ember.positive(x)


def test_fmax_fmin_ignore_nan_as_torch_with_its_gradients():
    a = np.array([1.0, np.nan, np.nan, 2.0, 3.0, -1.0], np.float64)
    b = np.array([np.nan, 2.0, np.nan, 2.0, 1.0, 0.0], np.float64)
    for name in ("fmax", "fmin"):
        (x, tx), (y, ty) = _pair(a, grad=True), _pair(b, grad=True)
        out, tout = getattr(ember, name)(x, y), getattr(torch, name)(tx, ty)
        np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
        weights = np.arange(1.0, 7.0)
        (out * ember.tensor(weights)).sum().backward()
        (tout * torch.tensor(weights)).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())  # a tie and a NaN b: all to a
        np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


def test_tan_frexp_ldexp_gradients_match_torch():
    data = np.array([[0.3, -1.1, 2.5], [5.0, -0.7, 1.3]])
    (x, tx), (e, te) = _pair(data, grad=True), _pair(np.array([1.0, -2.0, 3.0]), grad=True)
    loss = (ember.tan(x) * 2 + ember.frexp(x).mantissa * 3 + ember.ldexp(x, e)).sum()
    tloss = (torch.tan(tx) * 2 + torch.frexp(tx).mantissa * 3 + torch.ldexp(tx, te)).sum()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.grad.numpy(), te.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_frexp_matches_torch_for_every_float_dtype(dtype):
    x, tx = _pair(np.array([8.0, 0.0, -3.0, np.inf, -np.inf, 1e-3, 6e-5, 0.375], dtype))
    ours, theirs = ember.frexp(x), torch.frexp(tx)
    _same(ours.mantissa, theirs.mantissa)
    _same(ours.exponent, theirs.exponent)
    mantissa, exponent = x.frexp()
    _same(mantissa, theirs[0])
    with pytest.raises(TypeError, match="frexp: only supports floating-point dtypes"):
        ember.frexp(ember.tensor([1, 2]))


def test_ldexp_dtypes_match_torch():
    for a, b in ((np.float16, np.int64), (np.int64, np.int64), (np.float32, np.float64), (np.int32, np.float32)):
        x, tx = _pair(np.array([1, 3, -2], a))
        y, ty = _pair(np.array([2, -1, 0], b))
        _same(ember.ldexp(x, y), torch.ldexp(tx, ty))

    with pytest.raises(ember.ShapeError, match="ldexp: shapes cannot be broadcast together"):
        ember.ldexp(ember.ones((3, 4)), ember.tensor(np.ones(5, np.int64)))  # (the error named mul)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_ldexp_by_integer_exponents_past_the_power_range_matches_torch(dtype):
    # 2**e was computed in x's dtype first: ldexp(1e-30, 130) was inf in float32 (torch: 1.36e9), ldexp(3, -150) 0
    x, exponent = {np.float16: ([1e-4, 1000.0, 2.0**-24, 1.0], [20, -30, 40, 16]),
                   np.float32: ([1e-30, 3.0, 1e30, 1.0], [130, -150, -160, 128]),
                   np.float64: ([1e-300, 3.0, 1e300, 1.0], [1100, -1076, -1100, 1024])}[dtype]
    for exponent_dtype in (np.int64, np.int32):
        (a, ta), (e, te) = _pair(np.array(x, dtype)), _pair(np.array(exponent, exponent_dtype))
        ours, theirs = ember.ldexp(a, e), torch.ldexp(ta, te)
        assert ours.dtype == dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    a, ta = _pair(np.array(x, dtype))
    np.testing.assert_array_equal(a.ldexp_(e).numpy(), ta.ldexp_(te).numpy())
    x = ember.tensor(np.array(x[:2], dtype), requires_grad=True)
    ember.ldexp(x, ember.tensor([3, 5])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.array([8.0, 32.0], dtype))


def test_bit_shifts_match_torch_also_past_the_width():
    for dtype in (np.int16, np.int32, np.int64, np.uint8):
        a, ta = _pair(np.array([1, 3, 100, 7], dtype) if dtype == np.uint8 else np.array([1, -3, 100, -8], dtype))
        b, tb = _pair(np.array([0, 2, 9, 70], dtype))
        _same(ember.bitwise_left_shift(a, b), torch.bitwise_left_shift(ta, tb))
        _same(ember.bitwise_right_shift(a, b), torch.bitwise_right_shift(ta, tb))
        _same(a << b, ta << tb)
        _same(a >> b, ta >> tb)
    x, tx = _pair(np.array([1, 2]))
    _same(8 >> x, 8 >> tx)
    _same(1 << x, 1 << tx)
    with pytest.raises(TypeError, match="bitwise_left_shift: needs integer tensors"):
        ember.bitwise_left_shift(ember.tensor([1.0]), 2)
    flags = ember.tensor([True, False])  # NumPy shifts two booleans as int8 ([2, 0]); PyTorch refuses, as a graph
    for shift in (lambda a, b: a << b, lambda a, b: a >> b, ember.bitwise_left_shift):
        with pytest.raises(TypeError, match="bitwise_(left|right)_shift: needs integer tensors, got bool"):
            shift(flags, flags)
    _same(flags << ember.tensor([1, 1]), torch.tensor([True, False]) << torch.tensor([1, 1]))


def test_bitwise_not_matches_torch():
    for data in (_INTS, np.array([True, False]), np.array([0, 255], np.uint8)):
        x, tx = _pair(data)
        _same(ember.bitwise_not(x), torch.bitwise_not(tx))
        _same(x.bitwise_not(), tx.bitwise_not())
    with pytest.raises(TypeError, match="bitwise_not: needs integer or bool tensors"):
        ember.bitwise_not(ember.tensor([1.0]))


def test_type_and_size_tests_match_torch():
    for data in (_FLOATS, _INTS, np.array([1], np.uint8), np.array([True]), np.array(0.0), np.array([2.5])):
        x, tx = _pair(data)
        for name in ("is_floating_point", "is_complex", "is_signed", "numel"):
            assert getattr(ember, name)(x) == getattr(torch, name)(tx), name
        assert x.is_signed() == tx.is_signed() and x.is_complex() == tx.is_complex()
        if data.size == 1:
            assert ember.is_nonzero(x) == torch.is_nonzero(tx) == x.is_nonzero()
    assert ember.is_tensor(ember.ones(2)) and not ember.is_tensor(np.ones(2)) and not ember.is_tensor([1.0])
    assert ember.is_same_size(ember.ones(2, 3), ember.zeros(2, 3)) and not ember.ones(2).is_same_size(ember.ones(3))
    with pytest.raises(RuntimeError, match="is_nonzero: a tensor with 2 elements"):
        ember.is_nonzero(ember.ones(2))


def test_the_new_names_trace_under_jit():
    @ember.jit
    def step(x, y):
        m, e = ember.frexp(x)
        return ember.tan(x) + ember.fmax(x, y) + m * ember.ldexp(y, e) + ember.subtract(x, y, alpha=2)

    x = ember.tensor(np.array([[0.3, -1.1], [np.nan, 0.9]]))
    y = ember.tensor(np.array([0.5, np.nan]))
    with ember.no_grad():
        expected = (ember.tan(x) + ember.fmax(x, y) + ember.frexp(x)[0] * ember.ldexp(y, ember.frexp(x)[1])
                    + ember.subtract(x, y, alpha=2))
    np.testing.assert_array_equal(step(x, y).numpy(), expected.numpy())


def test_igamma_igammac_match_torch_with_edge_values_and_the_gradient_for_x():
    inf, nan = np.inf, np.nan
    a = np.array([0.0, 0.0, 1.0, -1.0, 1.0, 2.0, inf, inf, 1.0, nan, 1e6, 0.5, 3.0, 2e4, 7.5, 1e-3])
    x = np.array([0.0, 1.0, 0.0, 1.0, -1.0, inf, 1.0, inf, nan, 1.0, 1e6 + 100, 1e-300, 1e3, 2.1e4, 0.2, 40.0])
    (ea, ta), (ex, tx) = _pair(a), _pair(x)
    for name in ("igamma", "igammac"):
        ours, theirs = getattr(ember, name)(ea, ex), getattr(torch, name)(ta, tx)
        _same(ours, theirs, rtol=1e-10, atol=0)
        _same(getattr(ea, name)(ex), getattr(ta, name)(tx), rtol=1e-10, atol=0)
    _same(ember.special.gammainc(ea, ex), torch.special.gammainc(ta, tx), rtol=1e-10, atol=0)
    _same(ember.special.gammaincc(ea, ex), torch.special.gammaincc(ta, tx), rtol=1e-10, atol=0)
    f32 = np.array([0.5, 2.0, 9.0], np.float32)
    _same(ember.igamma(ember.tensor(f32), ember.tensor(f32[::-1].copy())),
          torch.igamma(torch.tensor(f32), torch.tensor(f32[::-1].copy())), rtol=1e-6)
    (sa, tsa), (sx, tsx) = _pair(np.array([0.7, 2.5, 9.0])), _pair(np.array([[0.3, 2.0, 11.0], [1.5, 0.1, 6.0]]), True)
    for name in ("igamma", "igammac"):
        sx.grad, tsx.grad = None, None
        (getattr(ember, name)(sa, sx) * ember.tensor([1.0, -2.0, 3.0])).sum().backward()
        (getattr(torch, name)(tsa, tsx) * torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)).sum().backward()
        np.testing.assert_allclose(sx.grad.numpy(), tsx.grad.numpy(), rtol=1e-12)


def test_igamma_refuses_integers_and_a_gradient_for_a():
    with pytest.raises(TypeError, match="igamma: needs floating-point inputs"):
        ember.igamma(ember.tensor([1, 2]), ember.tensor([1, 2]))
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="igammac: the gradient for a .* is not implemented"):
        ember.igammac(a, ember.tensor([1.0, 3.0])).sum().backward()


def test_igamma_in_place_matches_torch():
    data, other = np.array([0.5, 2.0, 4.0]), np.array([1.0, 1.5, 9.0])
    for name in ("igamma_", "igammac_"):
        ours, theirs = ember.tensor(data), torch.tensor(data)
        assert getattr(ours, name)(ember.tensor(other)) is ours
        getattr(theirs, name)(torch.tensor(other))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_sign_of_nan_is_zero_as_torchs_also_in_abs_gradient_and_compiled_code():
    data = np.array([np.nan, -np.nan, -2.0, 0.0, -0.0, 3.0], np.float32)
    (x, tx) = _pair(data, grad=True)
    _same(ember.sign(x), torch.sign(tx))
    _same(ember.sign(x.to("bfloat16")).float(), torch.sign(tx.to(torch.bfloat16)).float())
    ember.abs(x).sum().backward()
    torch.abs(tx).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    compiled = ember.jit(lambda t: ember.sign(t) * 2.0)
    np.testing.assert_array_equal(compiled(ember.tensor(data)).numpy(), torch.sign(tx.detach()).numpy() * 2.0)
    one = ember.jit(lambda t: ember.sign(t) + 1.0)  # a one-element graph runs on NumPy scalars
    assert one(ember.tensor([np.nan])).item() == 1.0


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the zero divisor and the infinite dividend, on purpose
def test_fmod_by_an_infinite_divisor_keeps_the_dividend_as_torch():
    a = np.array([5.0, -5.0, 3.5, np.inf, 2.0, 7.0])
    b = np.array([np.inf, -np.inf, 2.0, 2.0, 0.0, -3.0])
    x = ember.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    out, expected = ember.fmod(x, ember.tensor(b)), torch.fmod(xt, torch.tensor(b))
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())




@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64"])
def test_fmod_is_exact_as_torch(dtype):
    # a - trunc(a / b) * b rounded the quotient: fmod(1e8, 3) was 0, and 97% of random float32 results were off
    rng = np.random.default_rng(0)
    a = np.concatenate([[1e8, -1e8, 5.0, -5.0, 7.5, -0.875], rng.standard_normal(2000) * 1000])
    b = np.concatenate([[3.0, 3.0, -3.0, -3.0, -2.0, 2.875], rng.uniform(0.01, 3, 2000) * rng.choice([-1, 1], 2000)])
    if dtype == "int64":
        a, b = a.astype(np.int64), np.where(b.astype(np.int64) == 0, 1, b.astype(np.int64))
    x, y = ember.tensor(a).to(getattr(ember, dtype)), ember.tensor(b).to(getattr(ember, dtype))
    tx, ty = torch.tensor(a).to(getattr(torch, dtype)), torch.tensor(b).to(getattr(torch, dtype))
    np.testing.assert_array_equal(ember.fmod(x, y).to(ember.float64).numpy(), torch.fmod(tx, ty).double().numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_remainder_and_fmod_zeros_take_the_dividends_sign_as_torch(dtype):
    # NumPy's remainder gives a zero the divisor's sign: remainder(-2., 2.) was 0.0 and remainder(2., -2.) -0.0,
    # fmod(-0., 4.) 0.0 (torch: -0.0, 0.0, -0.0)
    a = np.array([-2.0, 2.0, -0.0, 0.0, -0.0, -4.0, 3.0, -3.0, 0.0, -0.0])
    b = np.array([2.0, -2.0, 4.0, -4.0, np.inf, 2.0, -1.5, 1.5, 2.5, -2.5])
    x, y = ember.tensor(a).to(getattr(ember, dtype)), ember.tensor(b).to(getattr(ember, dtype))
    tx, ty = torch.tensor(a).to(getattr(torch, dtype)), torch.tensor(b).to(getattr(torch, dtype))
    for ours, theirs in ((ember.remainder(x, y), torch.remainder(tx, ty)), (x % 2.5, tx % 2.5),
                         (ember.fmod(x, y), torch.fmod(tx, ty))):
        got, want = ours.to(ember.float64).numpy(), theirs.double().numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("name", ["logaddexp2", "hypot", "copysign"])  # (logaddexp takes them, as PyTorch)
def test_binary_float_functions_name_themselves_refusing_complex(name):
    # the error named the helper: "_floats: not implemented for complex tensors"
    z = ember.tensor([1 + 1j])
    with pytest.raises(TypeError, match=f"^{name}: not implemented for complex tensors, got complex64\\[1\\]"):
        getattr(ember, name)(z, z)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(-3)
def test_float_ops_of_two_integer_tensors_convert_each_as_torch():
    # a uint8 tensor with an int8 0-d -3 promoted to uint8 first: true_divide gave [0, 1/253, 2/253]
    x, y = np.array([0, 1, 2], np.uint8), np.array(-3, np.int8)
    for name in ("true_divide", "atan2", "copysign", "xlogy"):
        got = getattr(ember, name)(ember.tensor(x), ember.tensor(y))
        want = getattr(torch, name)(torch.tensor(x), torch.tensor(y))
        assert str(got.dtype) == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)

def test_pow_to_the_zero_has_torchs_zero_gradient_at_zero():
    # b * a^(b - 1) was 0 * inf at a = 0: NaN where PyTorch gives 0
    a, ta = _pair([0.0, 2.0, -1.5], grad=True)
    for exponent in (0.0, 0):
        _same(ember.autograd.grad((a ** exponent).sum(), a)[0], torch.autograd.grad((ta ** exponent).sum(), ta)[0])
    (g,) = ember.autograd.grad((a ** 1.0).sum(), a, create_graph=True)
    (tg,) = torch.autograd.grad((ta ** 1.0).sum(), ta, create_graph=True)
    _same(ember.autograd.grad(g.sum(), a)[0], torch.autograd.grad(tg.sum(), ta)[0])  # the second derivative
    # a ** 0's second derivative: the masked branch's 0 * inf at a = 0 came through as NaN (PyTorch's first
    # derivative has no history at all: zeros)
    (g,) = ember.autograd.grad((a ** 0.0).sum(), a, create_graph=True)
    np.testing.assert_array_equal(ember.autograd.grad(g.sum(), a, allow_unused=True)[0].numpy(), [0.0, 0.0, 0.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # log(-3), log(0)
def test_pow_gradient_in_the_exponent_is_torchs_at_zero_and_negative_bases():
    # a^b log a was masked to 0 wherever a <= 0: a negative base (log undefined) gave 0 where PyTorch gives NaN,
    # and a zero base with b < 0 gave 0 where PyTorch gives -inf
    (a, ta), (b, tb) = _pair([0.0, 2.0, -3.0, 0.0, -2.0], grad=True), _pair([2.0, 1.0, 2.0, -1.0, 3.0], grad=True)
    ours = ember.autograd.grad((a ** b).sum(), (a, b))
    for mine, theirs in zip(ours, torch.autograd.grad((ta ** tb).sum(), (ta, tb))):
        _same(mine, theirs)
    _same(ember.autograd.grad(ember.pow(-2.0, b).sum(), b)[0], torch.autograd.grad(torch.pow(-2.0, tb).sum(), tb)[0])


def test_atan2_at_the_origin_has_torchs_zero_gradient():
    # g / (a^2 + b^2) was 0 / 0 at a = b = 0: NaN where PyTorch gives 0
    (a, ta), (b, tb) = _pair([0.0, 2.0, 0.0], grad=True), _pair([0.0, 0.0, 3.0], grad=True)
    for ours, theirs in zip(ember.autograd.grad(ember.atan2(a, b).sum(), (a, b)),
                            torch.autograd.grad(torch.atan2(ta, tb).sum(), (ta, tb))):
        _same(ours, theirs)


def test_add_and_sub_take_alpha_as_torch():
    # ember.add(a, b, alpha=2) was a TypeError (an unexpected keyword argument)
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    y = ember.add(a, b, alpha=2) + a.sub(b, alpha=0.5)
    y.sum().backward()
    assert y.tolist() == [6.5, 10.0] and a.grad.tolist() == [2.0, 2.0] and b.grad.tolist() == [1.5, 1.5]
    assert ember.add(ember.tensor([1, 2]), ember.tensor([1, 1]), alpha=2).tolist() == [3, 4]

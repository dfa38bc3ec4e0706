"""PyTorch's in-place names (ember.tensor_inplace_torch, and round_/nan_to_num_'s arguments) against PyTorch: values
and dtypes written into the tensor, the version check, the leaf-requiring-grad error, the top-level functions, and
the random fills from Ember's generator."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

_DATA = np.array([[0.3, -0.7, 0.9], [0.45, -0.2, 0.6]], np.float32)
_OTHER = np.array([0.5, -0.7, 2.0], np.float32)
_INTS = np.array([[5, -7, 12], [3, 0, -9]], np.int64)
_INT_OTHER = np.array([2, -3, 5], np.int64)

UNARY = ["absolute_", "negative_", "arcsin_", "arccos_", "arctan_", "arcsinh_", "arctanh_", "sin_", "cos_", "tan_",
         "erf_", "fix_", "sign_", "sgn_", "logical_not_", "logit_", "abs_", "acos_", "asin_", "atan_", "asinh_",
         "atanh_", "ceil_", "floor_", "cosh_", "sinh_", "deg2rad_", "rad2deg_", "erfc_", "exp_", "exp2_", "expm1_",
         "frac_", "i0_", "neg_", "reciprocal_", "round_", "sigmoid_", "sinc_", "square_", "tanh_", "trunc_",
         "nan_to_num_"]
POSITIVE = ["log_", "log10_", "log1p_", "log2_", "sqrt_", "rsqrt_", "arccosh_", "acosh_"]
BINARY = ["arctan2_", "ldexp_", "floor_divide_", "fmod_", "remainder_", "true_divide_", "multiply_", "divide_",
          "subtract_", "eq_", "ne_", "not_equal_", "ge_", "gt_", "le_", "lt_", "greater_", "greater_equal_", "less_",
          "less_equal_", "logical_and_", "logical_or_", "logical_xor_", "xlogy_", "atan2_", "mul_", "div_"]
INTEGER_BINARY = ["bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_left_shift_", "bitwise_right_shift_",
                  "gcd_", "lcm_", "eq_", "lt_", "logical_or_", "remainder_", "floor_divide_", "multiply_",
                  "subtract_", "__ilshift__", "__irshift__"]


def _in_place(name, data, *args, **kwargs):
    """The method on an Ember and a torch tensor of ``data``: both results, checked to be the tensor itself and
    seen through an alias."""
    ours, theirs = ember.tensor(data), torch.tensor(data)
    alias = ours.detach()
    before = ours.dtype
    assert getattr(ours, name)(*args, **kwargs) is ours
    getattr(theirs, name)(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs)
    assert ours.dtype == before and ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(alias.numpy(), ours.numpy())
    return ours.numpy(), theirs.numpy()


def _same(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", UNARY + POSITIVE)
def test_unary_in_place_matches_torch(name):
    data = np.abs(_DATA) + 1.2 if name in POSITIVE else _DATA
    _same(*_in_place(name, data))


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # xlogy_ of a negative y: NaN, as torch's
@pytest.mark.parametrize("name", BINARY)
def test_binary_in_place_matches_torch_and_keeps_the_dtype(name):
    _same(*_in_place(name, _DATA, _OTHER))


@pytest.mark.parametrize("name", INTEGER_BINARY)
def test_integer_in_place_matches_torch(name):
    other = np.abs(_INT_OTHER) if "shift" in name else _INT_OTHER
    _same(*_in_place(name, _INTS, other))


@pytest.mark.parametrize("name, args, kwargs", [
    ("divide_", (_OTHER,), {"rounding_mode": "floor"}), ("divide_", (_OTHER,), {"rounding_mode": "trunc"}),
    ("subtract_", (_OTHER,), {"alpha": 2.5}), ("logit_", (0.35,), {}), ("polygamma_", (2,), {}),
    ("mvlgamma_", (2,), {}), ("round_", (), {"decimals": 1}), ("clamp_min_", (0.0,), {}),
    ("clamp_max_", (0.1,), {}), ("clamp_", (-0.5, 0.5), {}), ("clip_", (-0.1, 0.2), {}),
    ("cumsum_", (1,), {}), ("cumprod_", (0,), {}), ("tril_", (), {}), ("triu_", (1,), {}),
    ("nan_to_num_", (), {"nan": 2.0, "posinf": 7.0}), ("fill_diagonal_", (5.0,), {}),
])
def test_in_place_with_arguments_matches_torch(name, args, kwargs):
    data = np.abs(_DATA) + 1.0 if name in ("polygamma_", "mvlgamma_") else _DATA
    if name == "nan_to_num_":
        data = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
    if name in ("logit_",):
        data = np.abs(_DATA)
    _same(*_in_place(name, data, *args, **kwargs))


def test_integer_tensors_refuse_float_results_and_float_power_needs_float64():
    counts = ember.tensor(_INTS)
    with pytest.raises(RuntimeError, match="tan_: result type float32 cannot be cast to the tensor's dtype int64"):
        counts.tan_()
    with pytest.raises(RuntimeError, match="float_power_: the result is float64 .* dtype float32"):
        ember.tensor(_DATA).float_power_(2)
    with pytest.raises(RuntimeError):
        torch.tensor(_DATA).float_power_(2)
    _same(*_in_place("float_power_", _DATA.astype(np.float64), 3))
    assert counts.bitwise_not_() is counts and counts.numpy().tolist() == (~_INTS).tolist()


def test_float_power_writes_into_complex128_as_torch_and_refuses_complex64():
    # a complex128 tensor holds float_power's complex128 result: it was refused as if the result were float64
    data = (_DATA + 1j * _DATA[::-1]).astype(np.complex128)
    for exponent in (2, 0.5, 1j, _OTHER.astype(np.float64)):
        _same(*_in_place("float_power_", data, exponent))
    with pytest.raises(RuntimeError, match="float_power_: .* dtype complex64"):
        ember.tensor(data.astype(np.complex64)).float_power_(2)
    with pytest.raises(RuntimeError):
        torch.tensor(data.astype(np.complex64)).float_power_(2)


def test_a_write_after_the_forward_makes_backward_raise_as_torchs_version_check():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    x = ember.tensor([0.5, 0.25])
    loss = (w * x).sum()
    x.tan_()
    with pytest.raises(RuntimeError, match="in-place operation after the forward pass"):
        loss.backward()
    w.grad = None
    loss = (w.exp() * ember.tensor([1.0, 1.0])).sum()
    ember.tensor([1.0, 1.0]).exponential_()  # another tensor: no effect on this backward
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)


@pytest.mark.parametrize("statement", ["w.tan_()", "w.eq_(1.0)", "w.cumsum_(0)", "w.t_()", "w.fill_diagonal_(0.0)",
                                       "w.exponential_()", "w.random_(5)", "ember.sin_(w)", "w <<= 1"])
def test_a_leaf_that_requires_grad_is_written_only_under_no_grad(statement):
    w = ember.ones(2, 2, requires_grad=True)
    if statement == "w <<= 1":
        w = ember.ones(2, 2, dtype="int64")
        exec(statement)
        assert w.numpy().tolist() == [[2, 2], [2, 2]]
        return
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        exec(statement)
    with ember.no_grad():
        exec(statement)
    assert w.requires_grad and w.is_leaf


def test_the_output_of_a_recorded_op_is_recorded_as_torch():
    w, tw = ember.tensor([0.5, 1.5], requires_grad=True), torch.tensor([0.5, 1.5], requires_grad=True)
    h, th = w * 2, tw * 2
    h.sin_()
    th.sin_()
    h.sum().backward()
    th.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["t_", "transpose_", "swapaxes_", "swapdims_"])
def test_axes_swapped_in_place_match_torch(name):
    args = () if name == "t_" else (0, 2) if name != "t_" else ()
    data = _DATA if name == "t_" else np.arange(24.0).reshape(2, 3, 4)
    ours, theirs = ember.tensor(data), torch.tensor(data)
    assert getattr(ours, name)(*args) is ours
    getattr(theirs, name)(*args)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("shape, wrap", [((5, 3), False), ((7, 3), True), ((3, 5), False), ((3, 3, 3), False)])
def test_fill_diagonal_matches_torch(shape, wrap):
    _same(*_in_place("fill_diagonal_", np.zeros(shape, np.float32), 2.0, wrap=wrap))
    with pytest.raises(ValueError, match="fill_diagonal_: needs a tensor of at least 2 dimensions"):
        ember.zeros(3, 4, 5).fill_diagonal_(1.0)


def test_top_level_in_place_functions_are_the_methods():
    for name in ("abs_", "tan_", "sin_", "exp_", "clamp_", "fix_", "ldexp_", "round_", "zero_", "fill_"):
        assert callable(getattr(ember, name)) and hasattr(torch, name)
    x = ember.tensor(_DATA)
    assert ember.tan_(x) is x
    _same(x.numpy(), np.tan(_DATA))
    y = ember.tensor(_DATA)
    ember.clamp_(y, min=0.0)
    ember.ldexp_(y, ember.tensor([1.0, 2.0, 3.0]))
    t = torch.tensor(_DATA)
    torch.clamp_(t, min=0.0)
    torch.ldexp_(t, torch.tensor([1.0, 2.0, 3.0]))
    _same(y.numpy(), t.numpy())
    with pytest.raises(TypeError, match="tan_: expects an Ember tensor"):
        ember.tan_(np.ones(3))


def test_random_fills_draw_from_the_seeded_generator_with_the_right_laws():
    n = 20000
    fills = {
        "cauchy_": ((1.0, 2.0), lambda a: abs(np.median(a) - 1.0) < 0.1),
        "exponential_": ((4.0,), lambda a: a.min() >= 0 and abs(a.mean() - 0.25) < 0.01),
        "geometric_": ((0.25,), lambda a: a.min() >= 1 and np.all(a == np.round(a)) and abs(a.mean() - 4.0) < 0.15),
        "log_normal_": ((0.5, 0.3), lambda a: a.min() > 0 and abs(np.log(a).mean() - 0.5) < 0.01),
        "random_": ((3, 9), lambda a: a.min() == 3 and a.max() == 8 and np.all(a == np.round(a))),
    }
    for name, (args, law) in fills.items():
        ember.manual_seed(7)
        a = getattr(ember.zeros(n, dtype="float64"), name)(*args)
        ember.manual_seed(7)
        b = getattr(ember.zeros(n, dtype="float64"), name)(*args)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert law(a.numpy()), name
    t = ember.zeros(n, dtype="float32").random_(10)
    assert t.dtype == np.float32 and t.numpy().min() == 0 and t.numpy().max() == 9
    assert ember.zeros(n, dtype="bool").random_().numpy().mean() > 0.4
    small = ember.zeros(n, dtype="float16").random_()
    assert small.numpy().max() <= 2 ** 11 and small.numpy().min() >= 0
    assert ember.zeros(4, dtype="int64").random_().numpy().min() >= 0


@pytest.mark.parametrize("call, message", [
    (lambda t: t.exponential_(0.0), "exponential_: lambd must be positive"),
    (lambda t: t.geometric_(1.5), "geometric_: p must be in \\(0, 1\\]"),
    (lambda t: t.log_normal_(0.0, -1.0), "log_normal_: std must be positive"),
    (lambda t: t.cauchy_(0.0, 0.0), "cauchy_: sigma must be positive"),
    (lambda t: t.random_(5, 2), "random_: expects from < to"),
])
def test_random_fills_refuse_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call(ember.zeros(3))


def test_shift_operators_rebind_while_a_graph_is_built_as_the_other_operators():
    g = ember.graph.Graph()
    x = g.input("x", (2,), "int64")
    with g.building():
        y = x
        y <<= 1
        y >>= 2
        assert y is not x and y.shape == (2,)
        with pytest.raises(TypeError, match="not recorded into a graph"):
            x.bitwise_left_shift_(1)


@pytest.mark.parametrize("name, args, dtype", [
    ("normal_", (), "int64"), ("uniform_", (0, 10), "int64"), ("exponential_", (), "int32"), ("cauchy_", (), "int64"),
    ("log_normal_", (), "int64"), ("normal_", (), "bool"), ("geometric_", (0.5,), "bool"),
    ("exponential_", (), "complex64"), ("cauchy_", (), "complex64"), ("log_normal_", (), "complex64"),
    ("geometric_", (0.5,), "complex64"), ("random_", (0, 5), "complex128"), ("bernoulli_", (0.5,), "complex64"),
])
def test_random_fills_refuse_the_dtypes_torch_refuses(name, args, dtype):
    # they truncated the draws into integer tensors, or filled only the real part of complex ones
    with pytest.raises(TypeError, match=f"{name}: fills"):
        getattr(ember.zeros(3, dtype=dtype), name)(*args)
    with pytest.raises((RuntimeError, NotImplementedError)):
        getattr(torch.zeros(3, dtype=getattr(torch, dtype)), name)(*args)


def test_normal_and_uniform_fill_both_parts_of_a_complex_tensor_as_torch():
    n = 200000
    ember.manual_seed(0)
    z = ember.zeros(n, dtype="complex128").normal_(1.0, 2.0).numpy()
    t = torch.zeros(n, dtype=torch.complex128).normal_(1.0, 2.0).numpy()
    for part in (np.real, np.imag):
        assert abs(part(z).mean() - part(t).mean()) < 0.02 and abs(part(z).std() - part(t).std()) < 0.02
        assert abs(part(z).std() - np.sqrt(2.0)) < 0.01
    u = ember.zeros(n, dtype="complex64").uniform_(1.0, 3.0).numpy()
    for part in (np.real, np.imag):
        assert part(u).min() >= 1.0 and part(u).max() < 3.0 and abs(part(u).mean() - 2.0) < 0.01


@pytest.mark.parametrize("call, message", [
    (lambda t: t.uniform_(1.0, 0.0), "uniform_: expects a <= b"),
    (lambda t: t.normal_(0.0, -1.0), "normal_: std must be >= 0"),
])
def test_normal_and_uniform_refuse_bad_parameters_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call(ember.zeros(3))


@pytest.mark.parametrize("dtype, a, b, name", [("float16", 0.0, 7e4, "b"), ("float16", -7e4, 0.0, "a"),
                                               ("bfloat16", 0.0, 1e39, "b"), ("complex64", -1e39, 0.0, "a")])
def test_uniform_refuses_bounds_its_dtype_does_not_hold(dtype, a, b, name):
    # the draws past the dtype's largest value were inf, silently; PyTorch refuses ("to is out of bounds")
    with pytest.raises(ValueError, match=rf"uniform_: {name}=\S+ is out of the range of {dtype}"):
        ember.zeros(3, dtype=dtype).uniform_(a, b)
    with pytest.raises(RuntimeError, match="out of bounds"):
        torch.zeros(3, dtype=getattr(torch, dtype)).uniform_(a, b)
    assert np.isfinite(ember.zeros(1000, dtype="float16").uniform_(-6e4, 6e4).numpy()).all()


@pytest.mark.parametrize("dtype, args, message", [
    ("int8", (0, 300), "to - 1 = 299 is out of bounds for int8"),
    ("uint8", (-5, 3), "from = -5 is out of bounds for uint8"),
    ("uint8", (257,), "to - 1 = 256 is out of bounds"),
    ("bool", (0, 3), "to - 1 = 2 is out of bounds for bool"),
    ("float16", (2050,), "to - 1 = 2049 is out of bounds for float16"),
    ("float32", (0,), "expects from < to, got from=0 and to=0"),
])
def test_random_refuses_a_range_the_dtype_does_not_hold(dtype, args, message):
    # int8's random_(0, 300) wrapped around (-128..127 drawn as 0..299 mod 256); random_(0) drew from the full range
    with pytest.raises(ValueError, match=message):
        ember.zeros(3, dtype=dtype).random_(*args)


def test_random_from_and_none_draws_up_to_the_dtypes_maximum_as_torch():
    ember.manual_seed(0)
    drawn = ember.zeros(20000, dtype="uint8").random_(250, None).numpy()
    reference = torch.zeros(20000, dtype=torch.uint8).random_(250, None).numpy()
    assert set(np.unique(drawn)) == set(np.unique(reference)) == set(range(250, 256))
    assert set(np.unique(ember.zeros(20000, dtype="int8").random_(3).numpy())) == {0, 1, 2}
    full = ember.zeros(20000, dtype="int8").random_(-128, 128).numpy()
    assert full.min() == -128 and full.max() == 127

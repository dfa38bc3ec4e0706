"""Complex tensors against PyTorch: values, and gradients of real losses (PyTorch's convention: dL/dRe + i dL/dIm)
through every complex op, eagerly and under ember.jit."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _complex_array(rng, shape, dtype=np.complex128):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def _loss(out, lib):
    """A real loss of any result: |z| summed for complex results (and its square, so the phase matters too)."""
    if out.is_complex():
        return (lib.view_as_real(out) ** 2).sum() + out.abs().sum()
    return (out * out).sum()


def _compare(fn_ember, fn_torch, arrays, atol=1e-10):
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn_ember(*ours), fn_torch(*theirs)
    assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", ""))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=atol, rtol=1e-7)
    _loss(out, ember).backward()
    _loss(expected, torch).backward()
    for a, b in zip(ours, theirs):
        assert a.grad.dtype == a.dtype
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol, rtol=1e-7)


UNARY = {
    "neg": lambda z: -z,
    "exp": lambda z: z.exp(),
    "log": lambda z: z.log(),
    "sqrt": lambda z: z.sqrt(),
    "reciprocal": lambda z: z.reciprocal(),
    "rsqrt": lambda z: z.rsqrt(),
    "square": lambda z: z.square(),
    "abs": lambda z: z.abs(),
    "angle": lambda z: z.angle(),
    "conj": lambda z: z.conj() * z,
    "conj_physical": lambda z: z.conj_physical() * z,
    "real": lambda z: z.real * z.imag,
    "sgn": lambda z: z.sgn() * z,
    "pow_scalar": lambda z: z ** 2.5,
    "scalar_pow": lambda z: (0.5 + 1j) ** z,
    "complex_scalar": lambda z: (z * (2 - 1j) + 1j) / (3 + 1j),
    "sum": lambda z: z.sum(0),
    "prod": lambda z: z.prod(1),
    "cumsum": lambda z: z.cumsum(1),
    "mean": lambda z: z.mean(1, keepdim=True),
    "reshape_t": lambda z: z.reshape(3, 2).T * z.reshape(2, 3),
    "index": lambda z: z[1, ::2] * z[0, 1:],
}
# elementwise functions of a complex variable (refused as 'not implemented for complex tensors' before)
ANALYTIC = ["sin", "cos", "tan", "sinh", "cosh", "tanh", "sigmoid", "log1p", "expm1", "log2", "log10", "exp2",
            "asin", "acos", "atan", "asinh", "acosh", "atanh"]
UNARY.update({name: (lambda name: lambda z: getattr(z, name)())(name) for name in ANALYTIC})


@pytest.mark.parametrize("name", list(UNARY))
def test_unary_ops_and_their_gradients_match_torch(name):
    rng = np.random.default_rng(0)
    _compare(UNARY[name], UNARY[name], [_complex_array(rng, (2, 3))])


# the axes, the branch cuts on them (either sign of a zero imaginary part), |z| = 1, large and tiny moduli
EDGES = [0, 1, -1, 1j, -1j, 2, -2, 2j, -2j, 0.5, -0.5, complex(2, -0.0), complex(-2, -0.0), complex(-0.0, 2),
         complex(0.0, -2), 1e3, -1e3, 1e3j, 50 + 50j, 400 + 1j, -400 + 1j, 1e-20 + 1e-20j, -1e-30, 0.6 + 0.8j,
         complex(1e-300, 1e-300), 1e200 + 1e200j, complex("inf"), complex("nan")]


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("name", ANALYTIC)
def test_complex_elementwise_functions_match_torch_at_branch_cuts_and_edges(name, dtype):
    rtol = 1e-13 if dtype == np.complex128 else 2e-6
    with np.errstate(all="ignore"):
        z = np.array(EDGES, dtype=dtype)
        got = getattr(ember, name)(ember.tensor(z))
    expected = getattr(torch, name)(torch.tensor(z)).numpy()
    assert got.dtype == z.dtype
    np.testing.assert_allclose(got.numpy(), expected, rtol=rtol, atol=0)
    # log1p keeps a small z's real part (NumPy's log(1 + z) gave 0 for -1e-30, 1e-8 off at 1e-8 + 1e-8j)
    if name == "log1p":
        assert got.numpy()[EDGES.index(-1e-30)] == dtype(-1e-30)


@pytest.mark.parametrize("name", ANALYTIC)
def test_complex_elementwise_gradients_match_torch_off_the_cuts_and_finite_differences(name):
    rng = np.random.default_rng(11)
    z = np.concatenate([_complex_array(rng, 8), [0.3 + 0.4j, 2 + 0.5j, -2 + 0.5j, -0.5 - 2j, 3 - 1j, 0.5j]])
    weights = rng.standard_normal((2, z.size))

    def loss(lib, out):
        return (out.real * lib.tensor(weights[0])).sum() + (out.imag * lib.tensor(weights[1])).sum()

    x, y = ember.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    with np.errstate(all="ignore"):
        loss(ember, getattr(ember, name)(x)).backward()
    loss(torch, getattr(torch, name)(y)).backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-10, atol=1e-12)

    def value(w):
        return loss(torch, getattr(torch, name)(torch.tensor(w))).item()

    h = 1e-6  # PyTorch's convention: dL/dRe + i dL/dIm
    steps = np.eye(z.size)
    numeric = [(value(z + h * e) - value(z - h * e) + 1j * (value(z + 1j * h * e) - value(z - 1j * h * e))) / (2 * h)
               for e in steps]
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sin", "tanh", "sigmoid", "log1p", "asin", "acosh", "atanh", "exp2"])
def test_complex_elementwise_double_backward_matches_torch(name):
    z = _complex_array(np.random.default_rng(12), 6)
    x, y = ember.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    grads = []
    for lib, t in ((ember, x), (torch, y)):
        out = getattr(lib, name)(t)
        (g,) = lib.autograd.grad((out.real * out.imag).sum(), t, create_graph=True)
        (g.real * g.imag + g.abs()).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_complex_elementwise_functions_under_jit_equal_eager_mode():
    z = _complex_array(np.random.default_rng(13), (3, 4))

    def step(x):
        w = x.sin() * x.sigmoid() + x.log1p().tanh() - x.acosh() / x.exp2()
        loss = w.abs().sum()
        loss.backward()
        return loss

    traced = ember.jit(step)
    for _ in range(2):
        x = ember.tensor(z, requires_grad=True)
        loss = traced(x)
    eager_x = ember.tensor(z, requires_grad=True)
    assert loss.item() == step(eager_x).item()
    np.testing.assert_array_equal(x.grad.numpy(), eager_x.grad.numpy())


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("axis, keepdims", [(0, False), (1, True), ((0, 1), False), (-1, False)])
def test_logsumexp_of_complex_tensors_matches_torch(axis, keepdims, dtype):
    # (refused as 'not implemented for complex tensors'); the shift is the largest real part, so 800 + 2j overflows
    # nothing, and the gradient is g * conj(exp(z - out))
    z = _complex_array(np.random.default_rng(14), (3, 4), dtype)
    z[0, 0] = 800 + 2j
    x, y = ember.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    got, expected = ember.logsumexp(x, axis, keepdims=keepdims), torch.logsumexp(y, axis, keepdim=keepdims)
    assert got.dtype == z.dtype and got.shape == tuple(expected.shape)
    rtol = 1e-12 if dtype == np.complex128 else 1e-5
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=rtol)
    (got.real * got.imag).sum().backward()
    (expected.real * expected.imag).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=rtol * 10, atol=rtol)
    traced = ember.jit(lambda t: ember.logsumexp(t, axis, keepdims=keepdims))
    np.testing.assert_allclose(traced(ember.tensor(z)).numpy(), expected.detach().numpy(), rtol=rtol)


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_logaddexp_of_complex_tensors_matches_torch_with_broadcasting(dtype):
    # (refused as 'not implemented for complex tensors'); its gradient is g * conj(exp(a - out))
    rng = np.random.default_rng(15)
    a, b = _complex_array(rng, (3, 4), dtype), _complex_array(rng, 4, dtype)
    a[1, 1] = b[1] + 1e-9
    x, y = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    got, expected = ember.logaddexp(x, y), torch.logaddexp(tx, ty)
    rtol = 1e-12 if dtype == np.complex128 else 1e-5
    assert got.dtype == a.dtype
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=rtol)
    (got.real * got.imag).sum().backward()
    (expected.real * expected.imag).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol * 10, atol=rtol)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=rtol * 10, atol=rtol)


def test_logaddexp_of_complex_tensors_at_infinities_and_nans_matches_torch():
    inf, nan = float("inf"), float("nan")
    a = np.array([complex(-inf, 1), complex(inf, 1), complex(inf, 0), complex(nan, 0), complex(1, nan), 1 + 2j,
                  complex(-inf, 0), 0, -1 + 0.5j, 800 + 1j])
    b = np.array([complex(-inf, 2), complex(inf, 2), 3, 1, 1, complex(-inf, 0), 2 + 1j, complex(inf, 0), -1 - 0.5j, 1])
    with np.errstate(all="ignore"):
        got = ember.logaddexp(ember.tensor(a), ember.tensor(b)).numpy()
    np.testing.assert_allclose(got, torch.logaddexp(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-15)
    mixed = ember.logaddexp(ember.tensor([1.0, 2.0]), 1 + 1j)  # a real tensor and a complex number: complex64
    expected = torch.logaddexp(torch.tensor([1.0, 2.0]), torch.tensor(1 + 1j, dtype=torch.complex64))
    assert mixed.dtype == ember.complex64
    np.testing.assert_allclose(mixed.numpy(), expected.numpy(), rtol=1e-6)


def test_sinc_of_complex_tensors_matches_torch():
    z = np.array([0, 0.5, 1j, 2.5 - 1j, 0.3 + 0.2j, 3, -1.5 + 0.7j])
    x, y = ember.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    got, expected = ember.sinc(x), torch.sinc(y)
    assert got.dtype == ember.complex128
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-15)
    (got.real + 0.3 * got.imag).sum().backward()
    (expected.real + 0.3 * expected.imag).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-10, atol=1e-12)


NORMS = {
    "vector_norm": lambda lib, z: lib.linalg.vector_norm(z),
    "vector_norm_1": lambda lib, z: lib.linalg.vector_norm(z, 1, dim=1),
    "vector_norm_inf": lambda lib, z: lib.linalg.vector_norm(z, float("inf"), dim=0, keepdim=True),
    "vector_norm_3": lambda lib, z: lib.linalg.vector_norm(z, 3, dim=-1),
    "vector_norm_dtype": lambda lib, z: lib.linalg.vector_norm(z.to(lib.complex64), dtype=lib.complex128),
    "matrix_norm_fro": lambda lib, z: lib.linalg.matrix_norm(z),
    "matrix_norm_1": lambda lib, z: lib.linalg.matrix_norm(z, 1),
    "matrix_norm_-inf": lambda lib, z: lib.linalg.matrix_norm(z, -float("inf")),
    "linalg_norm": lambda lib, z: lib.linalg.norm(z, dim=1),
    "norm": lambda lib, z: lib.norm(z),
    "tensor_norm_p1": lambda lib, z: z.norm(p=1, dim=0),
    "dist": lambda lib, z: lib.dist(z, z[:1] * 2),
    "renorm": lambda lib, z: lib.renorm(z, 2, 0, 1.0),
}


@pytest.mark.parametrize("name", list(NORMS))
def test_norms_of_complex_tensors_are_those_of_the_moduli_as_torch(name):
    # they were refused (TypeError: not implemented for complex tensors) where PyTorch takes them
    z = _complex_array(np.random.default_rng(3), (2, 3))
    z[0, 1] = 0  # (a zero element: gradient 0, as PyTorch's)
    _compare(lambda x: NORMS[name](ember, x), lambda x: NORMS[name](torch, x), [z])


def test_norms_of_complex_tensors_refuse_a_real_dtype_and_singular_value_norms():
    z = ember.tensor([[1 + 1j, 2j]])
    with pytest.raises(TypeError, match="vector_norm: dtype should be complex for complex inputs"):
        ember.linalg.vector_norm(z, dtype=ember.float64)
    with pytest.raises(TypeError, match="svdvals: expects float32 or float64 matrices, got complex64"):
        ember.linalg.matrix_norm(z, "nuc")


def test_cumprod_gradient_matches_torch_with_and_without_zeros():
    rng = np.random.default_rng(7)
    z = _complex_array(rng, (2, 5))
    _compare(lambda z: z.cumprod(1), lambda z: z.cumprod(1), [z])
    z[0, 1] = z[1, 3] = 0
    _compare(lambda z: z.cumprod(1), lambda z: z.cumprod(1), [z])


@pytest.mark.parametrize("shape", [(2, 3), (2, 5, 3)])
def test_linear_of_complex_tensors_and_its_gradients_match_torch(shape):
    rng = np.random.default_rng(8)
    arrays = [_complex_array(rng, shape), _complex_array(rng, (4, 3)), _complex_array(rng, (4,))]
    _compare(ember.nn.functional.linear, torch.nn.functional.linear, arrays)
    _compare(ember.nn.functional.linear, torch.nn.functional.linear, arrays[:2])


@pytest.mark.parametrize("name", ["float_power", "ldexp"])
def test_float_power_and_ldexp_of_complex_tensors_match_torch(name):
    rng = np.random.default_rng(10)
    fn_ember, fn_torch = getattr(ember, name), getattr(torch, name)
    _compare(fn_ember, fn_torch, [_complex_array(rng, (3,)), _complex_array(rng, (3,))])
    _compare(lambda z: fn_ember(z, 2.5), lambda z: fn_torch(z, torch.tensor(2.5)),
             [_complex_array(rng, (3,), np.complex64)], atol=1e-5)


def test_vdot_conjugates_its_first_argument():
    rng = np.random.default_rng(9)
    _compare(ember.vdot, torch.vdot, [_complex_array(rng, (3,)), _complex_array(rng, (3,))])


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "matmul"])
def test_binary_ops_and_their_gradients_match_torch_with_broadcasting(name):
    rng = np.random.default_rng(1)
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "matmul": lambda a, b: a @ b}[name]
    shapes = ((2, 3), (3, 4)) if name == "matmul" else ((2, 3), (3,))
    _compare(fn, fn, [_complex_array(rng, s) for s in shapes])


def test_real_and_complex_operands_mix_and_the_real_one_gets_a_real_gradient():
    rng = np.random.default_rng(2)
    x, z = rng.standard_normal((2, 3)), _complex_array(rng, (3,))

    def fn(x, z):
        return x * z + z / (x + 2) - x

    _compare(fn, fn, [x, z])


def test_complex64_gradients_match_torch():
    rng = np.random.default_rng(3)
    a, b = _complex_array(rng, (3, 4), np.complex64), _complex_array(rng, (4,), np.complex64)

    def fn(a, b):
        return (a * b).exp() @ b.conj() + a.sum(1)

    _compare(fn, fn, [a, b], atol=1e-4)


@pytest.mark.parametrize("name", ["cat", "stack"])
def test_joins_of_complex_tensors(name):
    rng = np.random.default_rng(4)
    join_e, join_t = getattr(ember, name), getattr(torch, name)
    _compare(lambda a, b: join_e([a, b * 1j]), lambda a, b: join_t([a, b * 1j]),
             [_complex_array(rng, (2, 3)), _complex_array(rng, (2, 3))])


def test_complex_polar_view_as_real_and_view_as_complex():
    rng = np.random.default_rng(5)
    re, im, pairs = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3, 2))

    def fn(lib):
        return lambda re, im, pairs: (lib.complex(re, im) * lib.polar(re.abs() + 0.5, im)
                                      + lib.view_as_complex(pairs) * 1j)

    _compare(fn(ember), fn(torch), [re, im, pairs])
    _compare(lambda z: ember.view_as_real(z * z), lambda z: torch.view_as_real(z * z), [_complex_array(rng, (3,))])


def test_real_and_imag_of_an_indexed_element_stay_0_d_and_send_its_gradient_back():
    # a 0-d part came out 1-d, and the gradient of z[0].imag failed to fit back into z (TypeError)
    for part in ("real", "imag"):
        grads = []
        for lib in (ember, torch):
            z = lib.tensor(np.array([1 + 2j, 3 + 1j]), requires_grad=True)
            out = getattr(z[0], part)
            assert tuple(out.shape) == ()
            out.backward()
            grads.append(z.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1])


def test_abs_and_angle_gradients_at_zero_are_zero_as_torch():
    for lib in (ember, torch):
        z = lib.tensor([0j, 1 + 1j], requires_grad=True)
        (z.abs().sum() + z.angle().sum()).backward()
        np.testing.assert_allclose(np.asarray(z.grad.numpy())[0], 0.0)


def test_pow_gradient_for_a_zero_exponent_is_zero_at_a_zero_base_as_torch():
    # b * a^(b - 1) is 0 * inf at a = 0, b = 0: PyTorch takes 0 there for complex bases as for real ones
    z = np.array([0j, 1 + 1j, -2 + 0.5j])
    for exponent in (0, 0j, np.array([0j, 2j, 0j]), 2):
        grads = []
        for lib in (ember, torch):
            t = lib.tensor(z, requires_grad=True)
            e = lib.tensor(exponent) if isinstance(exponent, np.ndarray) else exponent
            (t ** e).real.sum().backward()
            grads.append(np.asarray(t.grad.numpy()))
        assert np.isfinite(grads[0]).all()
        np.testing.assert_allclose(grads[0], grads[1], atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_angle_of_real_numbers_matches_torch_at_signed_zeros_and_infinities(dtype):
    # NumPy's angle is atan2(0, x): pi for -0.0 where PyTorch's is 0
    values = [-0.0, 0.0, np.nan, -np.inf, np.inf, -2.0, 3.0]
    got = ember.angle(ember.tensor(values, dtype=getattr(ember, dtype))).to(ember.float32).numpy()
    want = torch.angle(torch.tensor(values, dtype=getattr(torch, dtype))).float().numpy()
    np.testing.assert_array_equal(got, want)
    assert not np.signbit(got[:2]).any()


def test_assigning_real_and_imag_writes_the_parts_in_place_as_torch():
    # z.real = v failed (the property had no setter); PyTorch writes through its view, gradients included
    grads = []
    for lib in (ember, torch):
        a = lib.tensor([1 + 1j, 2 - 1j], requires_grad=True)
        v = lib.tensor([3.0, 4.0], requires_grad=True)
        z = a * (1 + 2j)
        z.real = v * 2
        z.imag = z.imag * 3
        (z.abs() ** 2).sum().backward()
        grads.append((z.detach().numpy(), a.grad.numpy(), v.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    x = ember.tensor([1.0, 2.0])
    x.real = ember.tensor([7.0, 6.0])  # (a real tensor's real part is itself)
    assert x.tolist() == [7.0, 6.0]
    with pytest.raises(RuntimeError, match="imag: not implemented for tensors with non-complex dtypes"):
        x.imag = ember.ones(2)
    with pytest.raises(TypeError, match="imag: complex values cannot be written"):
        ember.tensor([1j]).imag = 1j


def test_real_imag_and_view_as_real_are_views_as_torchs():
    # they were copies: z.imag.zero_() and view_as_real(z)[0, 1] = 5 left z as it was, and a part read before
    # z.mul_(2) kept the old values
    results = []
    for lib in (ember, torch):
        z = lib.tensor([[1 + 2j, 3 - 1j], [0.5j, -2.0]]).t()
        re, im = z.real, z.imag
        z.mul_(2)
        parts = (re.tolist(), im.tolist())
        z.real[0, 1] = 7
        z.imag.add_(1)
        lib.view_as_real(z)[1, 0, 1] = -5
        one = lib.tensor(2 + 3j)
        one.imag.zero_()
        results.append((parts, z.tolist(), one.item()))
    assert results[0] == results[1]


def test_is_conj_and_resolve_conj():
    z = ember.tensor([1 + 1j])
    assert not ember.conj(z).is_conj() and ember.is_conj(z) is False
    assert z.resolve_conj() is z and ember.resolve_conj(z) is z


@pytest.mark.parametrize("make", [lambda z: z.conj(), lambda z: ember.conj(z), lambda z: z.mH, lambda z: z.H,
                                  lambda z: z.adjoint()])
def test_writes_into_a_conjugate_are_refused_as_they_would_not_reach_the_tensor(make):
    # PyTorch's conj (and mH, H, adjoint) is a view: writing 5+5j into it makes z's element 5-5j. Ember's conjugate
    # is a new tensor, and the write was silently lost (z kept 1+2j)
    z = ember.tensor([[1 + 2j, 3 - 1j]])
    with pytest.raises(RuntimeError, match=r"__setitem__: .* the conjugate conj\(\)"):
        make(z)[0] = 5 + 5j
    with pytest.raises(RuntimeError, match="mul_: .* read-only"):
        make(z).mul_(2)
    assert z.tolist() == [[1 + 2j, 3 - 1j]]
    assert make(z).clone().mul_(2).tolist() == (make(torch.tensor([[1 + 2j, 3 - 1j]])) * 2).tolist()
    physical = z.conj_physical()  # a new tensor in PyTorch too: writable
    physical[0, 0] = 5j
    assert physical.tolist() == [[5j, 3 + 1j]] and z.tolist() == [[1 + 2j, 3 - 1j]]
    real = ember.tensor([1.0, 2.0])  # a real tensor's conj is the tensor itself, writes reach it as in PyTorch
    real.conj()[0] = 7.0
    assert real.tolist() == [7.0, 2.0]


def test_complex_ops_under_jit_equal_eager_mode_and_torch():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def step(lib, x, y):
        z = lib.complex(x, y)
        w = (z * z.conj() + z.exp() / (z + 2)).sqrt().log() ** 1.5
        loss = (w @ z.T).abs().sum() + lib.view_as_real(w).sum() + w.angle().sum() + w.real.mean() + w.imag.sum()
        loss.backward()
        return loss

    traced = ember.jit(lambda x, y: step(ember, x, y))
    for _ in range(2):
        x, y = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
        loss = traced(x, y)
    ex, ey = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    eager, expected = step(ember, ex, ey), step(torch, tx, ty)
    assert loss.item() == eager.item()
    np.testing.assert_array_equal(x.grad.numpy(), ex.grad.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), ey.grad.numpy())
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), atol=1e-10)


def test_conjugate_transposes_conjugate_complex_tensors():
    rng = np.random.default_rng(11)
    _compare(lambda z: z.H @ z, lambda z: z.H @ z, [_complex_array(rng, (3, 2))])
    _compare(lambda z: z.mH @ z, lambda z: z.mH @ z, [_complex_array(rng, (2, 3, 2))])
    _compare(lambda z: z.adjoint() * 2, lambda z: z.adjoint() * 2, [_complex_array(rng, (2, 3))])


def test_in_place_abs_of_a_complex_tensor_is_refused_as_torch():
    # z.abs_() left a complex tensor holding |z| + 0j
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="abs"):
            lib.tensor([3 + 4j]).abs_()
    assert ember.tensor([-3.0, 2.0]).abs_().tolist() == [3.0, 2.0]


@pytest.mark.parametrize("name, kwargs", [
    ("var", {}), ("std", {"dim": 1}), ("var", {"dim": (0, 1), "correction": 0, "keepdim": True}),
    ("std", {"dim": -1, "unbiased": False}), ("var_mean", {"dim": 0}), ("std_mean", {"dim": 1, "correction": 2}),
])
def test_var_and_std_of_complex_tensors_are_real_as_torchs(name, kwargs):
    # (they were refused: 'not implemented for complex tensors')
    array = _complex_array(np.random.default_rng(7), (3, 5))

    def first(fn):
        return lambda z: fn(z, **kwargs)[0] if name.endswith("_mean") else fn(z, **kwargs)

    _compare(first(getattr(ember, name)), first(getattr(torch, name)), [array])
    if name.endswith("_mean"):  # the mean stays complex
        _compare(lambda z: getattr(ember, name)(z, **kwargs)[1], lambda z: getattr(torch, name)(z, **kwargs)[1],
                 [array])
    got = getattr(ember.tensor(array.astype(np.complex64)), name.removesuffix("_mean"))()
    assert got.dtype == ember.float32

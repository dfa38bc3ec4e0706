"""PyTorch's product, reduction and statistics names (addcmul ... addbmm, mv, inner, vdot, kron, multi_dot, trace,
dist, renorm, cov, corrcoef, trapezoid, cumulative_trapezoid, gradient, logspace, range, bucketize, isin,
histogram, histogramdd, std_mean, var_mean, nuclear_norm, frobenius_norm, pdist, cdist, vander) against PyTorch:
values, dtypes, gradients, the in-place forms, ember.jit and the errors."""

import re
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
NAN = float("nan")
# the comparisons call PyTorch's deprecated frobenius_norm and nuclear_norm on purpose
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated and it is just left for JIT:UserWarning")


def _randn(*shape):
    return RNG.standard_normal(shape)


def _same(ours, theirs, rtol=1e-7, atol=1e-9):
    theirs = theirs.detach().numpy()
    ours = np.asarray(ours.detach().numpy())
    assert ours.shape == theirs.shape and str(ours.dtype) == str(theirs.dtype), (ours.shape, theirs.shape,
                                                                                  ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _outputs(result) -> list:
    return list(result) if isinstance(result, (list, tuple)) else [result]


# name, ember call, torch call, inputs (float64 arrays are differentiated)
CASES = [
    ("addcmul", lambda a, b, c: ember.addcmul(a, b, c, value=-0.5), lambda a, b, c: torch.addcmul(a, b, c, value=-0.5),
     [_randn(3, 1), _randn(4), _randn(3, 4)]),
    ("addcdiv", lambda a, b, c: a.addcdiv(b, c, value=3), lambda a, b, c: a.addcdiv(b, c, value=3),
     [_randn(2, 3), _randn(2, 3), 1.5 + RNG.random((2, 3))]),
    ("addmv", lambda c, m, v: ember.addmv(c, m, v, beta=2, alpha=0.5),
     lambda c, m, v: torch.addmv(c, m, v, beta=2, alpha=0.5), [_randn(1), _randn(3, 4), _randn(4)]),
    ("addmv_beta0", lambda c, m, v: c.addmv(m, v, beta=0), lambda c, m, v: c.addmv(m, v, beta=0),
     [np.full(3, np.nan), _randn(3, 4), _randn(4)]),
    ("addr", lambda c, u, v: ember.addr(c, u, v, beta=0.5), lambda c, u, v: torch.addr(c, u, v, beta=0.5),
     [_randn(3, 4), _randn(3), _randn(4)]),
    ("addbmm", lambda c, a, b: c.addbmm(a, b, alpha=2), lambda c, a, b: c.addbmm(a, b, alpha=2),
     [_randn(4), _randn(3, 2, 5), _randn(3, 5, 4)]),
    ("addmm", lambda c, a, b: c.addmm(a, b, beta=0.5), lambda c, a, b: c.addmm(a, b, beta=0.5),
     [_randn(2, 4), _randn(2, 3), _randn(3, 4)]),
    ("baddbmm", lambda c, a, b: ember.baddbmm(c, a, b, alpha=-1), lambda c, a, b: torch.baddbmm(c, a, b, alpha=-1),
     [_randn(2, 3, 4), _randn(2, 3, 5), _randn(2, 5, 4)]),
    ("mv", lambda m, v: ember.mv(m, v), lambda m, v: torch.mv(m, v), [_randn(3, 4), _randn(4)]),
    ("ger_method", lambda u, v: u.ger(v), lambda u, v: u.outer(v), [_randn(3), _randn(2)]),
    ("inner_matrices", lambda a, b: a.inner(b), lambda a, b: a.inner(b), [_randn(2, 3), _randn(4, 5, 3)]),
    ("inner_scalar", ember.inner, torch.inner, [np.array(1.5), _randn(2, 3)]),
    ("vdot", lambda a, b: a.vdot(b), lambda a, b: a.vdot(b), [_randn(4), _randn(4)]),
    ("kron", lambda a, b: a.kron(b), lambda a, b: a.kron(b), [_randn(3), _randn(2, 2)]),
    ("trace", lambda x: ember.trace(x), lambda x: torch.trace(x), [_randn(4, 3)]),
    ("multi_dot", lambda *xs: ember.linalg.multi_dot(list(xs)), lambda *xs: torch.linalg.multi_dot(list(xs)),
     [_randn(5, 30), _randn(30, 2), _randn(2, 40), _randn(40)]),
    ("multi_dot_vectors", lambda *xs: ember.linalg.multi_dot(xs), lambda *xs: torch.linalg.multi_dot(xs),
     [_randn(3), _randn(3, 4), _randn(4)]),
    ("chain_matmul", ember.chain_matmul, lambda *xs: torch.linalg.multi_dot(xs),
     [_randn(2, 3), _randn(3, 4), _randn(4, 5), _randn(5, 1)]),
    ("dist_inf", lambda a, b: a.dist(b, float("inf")), lambda a, b: a.dist(b, float("inf")), [_randn(3, 4), _randn(4)]),
    ("dist_1_5", lambda a, b: ember.dist(a, b, 1.5), lambda a, b: torch.dist(a, b, 1.5), [_randn(5), _randn(5)]),
    ("renorm", lambda x: x.renorm(3, 1, 1.2), lambda x: x.renorm(3, 1, 1.2), [_randn(3, 4, 2)]),
    ("cov_correction2", lambda x: ember.cov(x, correction=2), lambda x: torch.cov(x, correction=2), [_randn(4, 6)]),
    ("cov_aweights", lambda x, a: x.cov(aweights=a), lambda x, a: x.cov(aweights=a),
     [_randn(2, 5), 0.5 + RNG.random(5)]),
    ("corrcoef", lambda x: x.corrcoef(), lambda x: x.corrcoef(), [_randn(4, 7)]),
    ("corrcoef_one_variable", ember.corrcoef, torch.corrcoef, [_randn(5)]),
    ("std_mean_all", ember.std_mean, torch.std_mean, [_randn(3, 4)]),
    ("std_mean_unbiased_positional", lambda x: ember.std_mean(x, False), lambda x: torch.std_mean(x, False),
     [_randn(6)]),
    ("std_mean_correction", lambda x: ember.std_mean(x, dim=0, correction=0, keepdim=True),
     lambda x: torch.std_mean(x, dim=0, correction=0, keepdim=True), [_randn(3, 4)]),
    ("var_mean_dims", lambda x: ember.var_mean(x, [0, 1], True, True), lambda x: torch.var_mean(x, [0, 1], True, True),
     [_randn(2, 3, 4)]),
    ("trapezoid_nd_x", lambda y, x: ember.trapezoid(y, x, dim=0), lambda y, x: torch.trapezoid(y, x, dim=0),
     [_randn(4, 3), np.cumsum(RNG.random((4, 3)), 0)]),
    ("trapz_x", lambda y, x: ember.trapz(y, x), lambda y, x: torch.trapz(y, x), [_randn(2, 5), np.sort(_randn(5))]),
    ("cumulative_trapezoid_x", lambda y, x: ember.cumulative_trapezoid(y, x), lambda y, x:
     torch.cumulative_trapezoid(y, x), [_randn(3, 4), np.sort(_randn(4))]),
    ("gradient_all_dims", lambda x: ember.gradient(x), lambda x: torch.gradient(x), [_randn(3, 4, 5)]),
    ("gradient_spacings_edge2", lambda x: ember.gradient(x, spacing=[0.5, 3.0], dim=[0, -1], edge_order=2),
     lambda x: torch.gradient(x, spacing=[0.5, 3.0], dim=[0, -1], edge_order=2), [_randn(3, 4)]),
    ("gradient_coordinates", lambda x, c0, c1: ember.gradient(x, spacing=[c0, c1], edge_order=2),
     lambda x, c0, c1: torch.gradient(x, spacing=[c0, c1], edge_order=2),
     [_randn(4, 3), np.array([0.0, 0.4, 1.5, 1.9]), np.array([-1.0, 0.0, 2.5])]),
    ("frobenius_norm", lambda x: ember.frobenius_norm(x, 1, True), lambda x: torch.frobenius_norm(x, 1, True),
     [_randn(3, 4)]),
    ("nuclear_norm_dims", lambda x: ember.nuclear_norm(x, (0, 2)), lambda x: torch.nuclear_norm(x, (0, 2)),
     [_randn(3, 2, 4)]),
    ("nuclear_norm_keepdim", lambda x: ember.nuclear_norm(x, True), lambda x: torch.nuclear_norm(x, True),
     [_randn(4, 3)]),
    ("nuclear_norm_dim_keepdim_keywords", lambda x: ember.nuclear_norm(x, dim=(0, 2), keepdim=True),
     lambda x: torch.nuclear_norm(x, dim=(0, 2), keepdim=True), [_randn(3, 2, 4)]),
    ("nuclear_norm_keepdim_keyword", lambda x: ember.nuclear_norm(x, (1, 2), keepdim=True),
     lambda x: torch.nuclear_norm(x, (1, 2), keepdim=True), [_randn(3, 2, 4)]),
    ("pdist_p3", lambda x: F.pdist(x, 3), lambda x: torch.nn.functional.pdist(x, 3), [_randn(5, 2)]),
    ("pdist_top_level_inf", lambda x: ember.pdist(x, float("inf")), lambda x: torch.pdist(x, float("inf")),
     [_randn(4, 3)]),
    ("cdist_compute_mode", lambda a, b: ember.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
     lambda a, b: torch.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), [_randn(2, 3, 4), _randn(2, 5, 4)]),
    # (torch.vander's own backward fails: its reference is linalg.vander reversed)
    ("vander", lambda x: ember.vander(x, 5), lambda x: torch.linalg.vander(x, N=5).flip(-1), [_randn(3)]),
    ("linalg_vander", lambda x: ember.linalg.vander(x), lambda x: torch.linalg.vander(x), [_randn(2, 4)]),
]


@pytest.mark.parametrize("name, ours, theirs, arrays", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(name, ours, theirs, arrays):
    leaves = [ember.tensor(a, requires_grad=True) for a in arrays]
    torch_leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, expected = _outputs(ours(*leaves)), _outputs(theirs(*torch_leaves))
    assert len(outs) == len(expected)
    for o, e in zip(outs, expected):
        _same(o, e)
    upstream = [RNG.standard_normal(tuple(e.shape)) for e in expected]
    loss = sum((o * ember.tensor(u)).sum() for o, u in zip(outs, upstream))
    torch_loss = sum((e * torch.tensor(u)).sum() for e, u in zip(expected, upstream))
    loss.backward()
    torch_loss.backward()
    for i, (leaf, t) in enumerate(zip(leaves, torch_leaves)):
        if t.grad is None or leaf.grad is None:  # no gradient, or PyTorch's zeros (addmv's ignored input)
            assert not (t.grad is not None and t.grad.numpy().any()), f"input {i}"
            assert not (leaf.grad is not None and leaf.grad.numpy().any()), f"input {i}"
        else:
            _same(leaf.grad, t.grad, rtol=1e-6, atol=1e-8)


def test_pdist_and_cdist_of_equal_rows_have_zero_gradient_as_pytorchs():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, -1.0]])
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (F.pdist(ours) * ember.tensor([2.0, 1.0, -1.0])).sum().backward()
    (torch.nn.functional.pdist(theirs) * torch.tensor([2.0, 1.0, -1.0], dtype=torch.float64)).sum().backward()
    assert np.isfinite(ours.grad.numpy()).all()
    _same(ours.grad, theirs.grad)
    ours.grad = None
    ember.cdist(ours, ours).sum().backward()
    assert np.isfinite(ours.grad.numpy()).all()


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, float("inf")])
def test_cdist_of_rows_with_no_coordinates_is_zero_as_torch(p):
    # p=inf took the largest coordinate of none and failed ("max: the reduction of an empty tensor")
    a, b = np.ones((4, 0)), np.ones((2, 5, 0))
    _same(ember.cdist(ember.tensor(a), ember.tensor(b), p), torch.cdist(torch.tensor(a), torch.tensor(b), p))


def test_cdist_inf_gives_each_tied_coordinate_the_whole_gradient_as_pytorchs():
    # built on the inf-norm, whose gradient shares a tie: [2, 3] - [0, 1] gave 0.5 to each coordinate, PyTorch 1
    rng = np.random.default_rng(0)
    a, b = rng.integers(-2, 3, (5, 4)).astype(float), rng.integers(-2, 3, (6, 4)).astype(float)
    (x, tx), (y, ty) = ((ember.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)) for v in (a, b))
    w = rng.standard_normal((5, 6))
    got, want = ember.cdist(x, y, p=np.inf), torch.cdist(tx, ty, p=np.inf)
    _same(got, want)
    (got * ember.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    _same(x.grad, tx.grad)
    _same(y.grad, ty.grad)


def test_pdist_inf_gives_each_tied_coordinate_the_whole_gradient_as_pytorchs():
    # pdist took the inf-norm's gradient, shared by a tie: rows [0, 0] and [1, -1] gave 0.5 to each, PyTorch 1
    a = np.random.default_rng(1).integers(-2, 3, (6, 3)).astype(float)
    x, tx = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    w = np.random.default_rng(2).standard_normal(15)
    got, want = F.pdist(x, np.inf), torch.nn.functional.pdist(tx, np.inf)
    _same(got, want)
    (got * ember.tensor(w)).sum().backward()
    (want * torch.tensor(w)).sum().backward()
    _same(x.grad, tx.grad)


def test_inf_distances_of_vectors_without_elements_are_zero_as_pytorchs():
    # (the largest of no magnitudes was refused by max)
    x, tx = ember.ones(4, 0), torch.ones(4, 0)
    _same(F.pdist(x, np.inf), torch.nn.functional.pdist(tx, np.inf))
    _same(ember.cdist(x, ember.ones(2, 4, 0), np.inf), torch.cdist(tx, torch.ones(2, 4, 0), np.inf))


def test_cdist_inf_of_an_infinite_difference_is_inf_as_pytorchs():
    # the tied coordinates' magnitudes less the largest were inf - inf: the distance came out NaN
    a, b = np.array([[np.inf, 0.0], [1.0, 2.0], [-np.inf, np.inf]]), np.array([[0.0, 0.0], [5.0, 1.0]])
    want = torch.cdist(torch.tensor(a), torch.tensor(b), p=np.inf)
    _same(ember.cdist(ember.tensor(a), ember.tensor(b), p=np.inf), want)


INTEGER_CASES = [
    ("trace", lambda m: ember.trace(m), lambda m: torch.trace(m)),
    ("vander", lambda m: ember.vander(m[0], 3), lambda m: torch.vander(m[0], 3)),
    ("kron", lambda m: ember.kron(m, m), lambda m: torch.kron(m, m)),
    ("mv", lambda m: ember.mv(m, m[0]), lambda m: torch.mv(m, m[0])),
    ("inner", lambda m: ember.inner(m, m), lambda m: torch.inner(m, m)),
    ("cov", lambda m: ember.cov(m), lambda m: torch.cov(m.float())),
    ("trapezoid", lambda m: ember.trapezoid(m), lambda m: torch.trapezoid(m)),
]


@pytest.mark.parametrize("name, ours, theirs", INTEGER_CASES, ids=[c[0] for c in INTEGER_CASES])
def test_integer_inputs_give_pytorchs_dtypes(name, ours, theirs):
    m = np.arange(1, 10, dtype=np.int32).reshape(3, 3)
    _same(ours(ember.tensor(m)), theirs(torch.tensor(m)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("n", [0, 1, 3])
def test_vander_of_integers_is_int64_for_every_n_as_torch(dtype, n):
    x = np.array([2, 0, 1]).astype(dtype)
    _same(ember.vander(ember.tensor(x), n), torch.vander(torch.tensor(x), n))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("n", [1, 3])
def test_vander_of_complex_numbers_keeps_them_as_torch(dtype, n):
    # torch.vander cast them to int64 (the real parts' integer parts), linalg.vander failed inside
    x = np.array([1 + 2j, 0, -1j, complex(np.nan, 1)], dtype)
    _same(ember.vander(ember.tensor(x), n), torch.vander(torch.tensor(x), n))
    _same(ember.vander(ember.tensor(x), n, increasing=True), torch.vander(torch.tensor(x), n, increasing=True))
    if n > 1:
        _same(ember.linalg.vander(ember.tensor(x), N=n), torch.linalg.vander(torch.tensor(x), N=n))


def test_inplace_forms_write_into_the_tensor():
    c, a, b = _randn(2, 4), _randn(2, 3), _randn(3, 4)
    x = ember.tensor(c)
    same = x.addmm_(ember.tensor(a), ember.tensor(b), beta=0.5, alpha=2)
    assert same is x
    _same(x, torch.tensor(c).addmm_(torch.tensor(a), torch.tensor(b), beta=0.5, alpha=2))
    pairs = [
        ("baddbmm_", [_randn(2, 3, 4), _randn(2, 3, 5), _randn(2, 5, 4)], {"alpha": 0.5}),
        ("addbmm_", [_randn(3, 4), _randn(2, 3, 5), _randn(2, 5, 4)], {"beta": 2}),
        ("addmv_", [_randn(3), _randn(3, 2), _randn(2)], {"beta": 0}),
        ("addr_", [_randn(3, 2), _randn(3), _randn(2)], {"alpha": -1}),
    ]
    for method, (c, a, b), kwargs in pairs:
        x, t = ember.tensor(c), torch.tensor(c)
        getattr(x, method)(ember.tensor(a), ember.tensor(b), **kwargs)
        getattr(t, method)(torch.tensor(a), torch.tensor(b), **kwargs)
        _same(x, t)
    c, a, b = _randn(3), _randn(3), 1 + RNG.random(3)
    x, t = ember.tensor(c), torch.tensor(c)
    x.addcmul_(ember.tensor(a), ember.tensor(b), value=2).addcdiv_(ember.tensor(a), ember.tensor(b), value=0.5)
    t.addcmul_(torch.tensor(a), torch.tensor(b), value=2).addcdiv_(torch.tensor(a), torch.tensor(b), value=0.5)
    _same(x, t)
    c = _randn(3, 4) * 3
    x, t = ember.tensor(c), torch.tensor(c)
    x.renorm_(2, 0, 1.0)
    t.renorm_(2, 0, 1.0)
    _same(x, t, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_lerp_addcmul_and_addcdiv_of_half_precision_round_once_as_torch(dtype):
    # each step was rounded to half precision: bfloat16 lerp results near 0 were off by up to 11 times themselves
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(5000) * 3, rng.standard_normal(5000) * 3
    w, c = rng.random(5000), rng.random(5000) + 0.5

    def both(x):
        return ember.tensor(x).to(getattr(ember, dtype)), torch.tensor(x).to(getattr(torch, dtype))

    (ea, ta), (eb, tb), (ew, tw), (ec, tc) = both(a), both(b), both(w), both(c)
    for got, want in ((ember.lerp(ea, eb, 0.3), torch.lerp(ta, tb, 0.3)),
                      (ember.lerp(ea, eb, ew), torch.lerp(ta, tb, tw)),
                      (ember.addcmul(ea, eb, ec, value=0.3), torch.addcmul(ta, tb, tc, value=0.3)),
                      (ember.addcdiv(ea, eb, ec, value=0.3), torch.addcdiv(ta, tb, tc, value=0.3))):
        assert str(got.dtype) == dtype
        got, want = got.to(ember.float64).numpy(), want.double().numpy()
        assert np.mean(got == want) > 0.99  # (PyTorch fuses some products: the rest are one unit apart)
        np.testing.assert_allclose(got, want, rtol=2.0 ** -(10 if dtype == "float16" else 7), atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_addmm_and_baddbmm_of_half_precision_round_once_as_torch(dtype):
    # the product was rounded to half precision, then alpha times it, then the sum with beta * inp: a third of the
    # elements an ulp off PyTorch's, which computes the whole in float32 and rounds once (addmv now does too, nearer
    # torch's gemv, whose own order of summing leaves some elements an ulp apart still)
    rng = np.random.default_rng(0)

    def both(*shape):
        x = rng.standard_normal(shape)
        return ember.tensor(x).to(getattr(ember, dtype)), torch.tensor(x).to(getattr(torch, dtype))

    for name, shapes in (("addmm", ((6, 7), (6, 64), (64, 7))), ("baddbmm", ((3, 6, 7), (3, 6, 64), (3, 64, 7)))):
        for beta, alpha in ((1, 1), (0.7, 1.3), (0, 2.0)):
            ours, theirs = zip(*(both(*shape) for shape in shapes))
            got = getattr(ember, name)(*ours, beta=beta, alpha=alpha)
            want = getattr(torch, name)(*theirs, beta=beta, alpha=alpha)
            assert str(got.dtype) == dtype
            np.testing.assert_array_equal(got.to(ember.float64).numpy(), want.double().numpy())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_addbmm_of_half_precision_rounds_after_each_matrix_as_torch(dtype):
    # the products were rounded, summed, then scaled and added to beta * inp: bfloat16 elements 0.5 off PyTorch's
    # (42 of 64), whose CPU addbmm is one addmm per matrix of the batches, each computed in float32 and rounded
    rng = np.random.default_rng(0)
    for beta, alpha in ((1, 1), (0.5, 2), (0, 1.3)):
        arrays = [rng.standard_normal(s) for s in ((8, 8), (5, 8, 64), (5, 64, 8))]
        arrays[0][0, 0] = NAN if beta == 0 else arrays[0][0, 0]
        got = ember.addbmm(*(ember.tensor(a).to(getattr(ember, dtype)) for a in arrays), beta=beta, alpha=alpha)
        want = torch.addbmm(*(torch.tensor(a).to(getattr(torch, dtype)) for a in arrays), beta=beta, alpha=alpha)
        assert str(got.dtype) == dtype
        got, want = got.to(ember.float64).numpy(), want.double().numpy()
        assert np.mean(got == want) > 0.95  # (PyTorch's float32 sums in another order: an element an ulp off)
        np.testing.assert_allclose(got, want, rtol=2.0 ** -(10 if dtype == "float16" else 7))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_addr_of_half_precision_as_torch_s_kernel(dtype):
    # alpha * outer(vec1, vec2) was rounded in the other order, with alpha not rounded to the dtype (float16 elements
    # 0.004 off, a third of them), and float16 vectors beside a float32 input had their product rounded to float16
    # (0.002 off); PyTorch's kernel computes (alpha * vec1) * vec2 in the dtype the three promote to
    rng = np.random.default_rng(0)
    low = getattr(torch, dtype)
    for inp_dtype in (low, torch.float32):
        for beta, alpha in ((1, 1), (0.7, 0.3), (0, -1.1), (1, 3)):
            inp, vec1, vec2 = (torch.tensor(rng.standard_normal(s)).to(d) for s, d in
                               (((30, 40), inp_dtype), ((30,), low), ((40,), low)))
            want = torch.addr(inp, vec1, vec2, beta=beta, alpha=alpha)
            got = ember.addr(*(ember.tensor(t.double().numpy()).to(getattr(ember, str(t.dtype)[6:]))
                               for t in (inp, vec1, vec2)), beta=beta, alpha=alpha)
            assert str(got.dtype) == str(want.dtype)[6:]
            if inp_dtype == low:
                np.testing.assert_array_equal(got.to(ember.float64).numpy(), want.double().numpy())
            else:  # (PyTorch fuses the multiply-add: an ulp of float32 apart in places)
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=3e-7, atol=3e-7)


@pytest.mark.parametrize("name, shapes", [("addmm", ((2, 2), (2, 2), (2, 2))), ("addmv", ((2,), (2, 2), (2,))),
                                          ("addr", ((2, 2), (2,), (2,))), ("baddbmm", ((1, 2, 2),) * 3),
                                          ("addbmm", ((2, 2), (1, 2, 2), (1, 2, 2)))])
def test_a_float_beta_or_alpha_for_integer_operands_is_refused_as_torch_addr(name, shapes):
    # the integers were made float32 (addmm(beta=0.5) of int64 gave 7.5 where torch's gives int64); torch.addr
    # refuses the float, its other products truncate it to an integer (0.5 to 0), silently
    arrays = [ember.tensor(np.arange(np.prod(s)).reshape(s)) for s in shapes]
    for kwargs in ({"beta": 0.5}, {"alpha": 2.0}):
        with pytest.raises(TypeError, match=f"{name}: a float {next(iter(kwargs))}="):
            getattr(ember, name)(*arrays, **kwargs)
    _same(getattr(ember, name)(*arrays, beta=2, alpha=3),
          getattr(torch, name)(*[torch.tensor(a.numpy()) for a in arrays], beta=2, alpha=3))


def test_addcmul_and_addcdiv_compute_in_the_promoted_dtype_as_torch():
    # tensor1 * tensor2 was computed in their own dtype first: bfloat16 products for a float16 input were rounded
    # to bfloat16 (80.42 for 80.50), and value * (bool * bool) widened an int8 input to int64
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal(200) * 8 for _ in range(3))
    ea, ta = ember.tensor(a).half(), torch.tensor(a).half()
    (eb, tb), (ec, tc) = ((ember.tensor(x).bfloat16(), torch.tensor(x).bfloat16()) for x in (b, c))
    for name in ("addcmul", "addcdiv"):
        got, want = getattr(ember, name)(ea, eb, ec, value=0.5), getattr(torch, name)(ta, tb, tc, value=0.5)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    ints, flags = np.array([1, 2, 3], np.int8), np.array([True, False, True])
    got = ember.addcmul(ember.tensor(ints), ember.tensor(flags), ember.tensor(flags), value=2)
    want = torch.addcmul(torch.tensor(ints), torch.tensor(flags), torch.tensor(flags), value=2)
    _same(got, want)
    with pytest.raises(TypeError, match="addcmul: a float value=0.5 needs floating-point operands, got int8"):
        ember.addcmul(ember.tensor(ints), ember.tensor(flags), ember.tensor(flags), value=0.5)  # (PyTorch: 0)


def test_addcdiv_of_complex_tensors_as_torch():
    # refused as "integer division is not supported, got tensor1 complex64 and tensor2 complex64"
    z = (_randn(3) + 1j * _randn(3)).astype(np.complex64)
    w = (1 + _randn(3) + 1j * _randn(3)).astype(np.complex64)
    _same(ember.addcdiv(ember.tensor(z), ember.tensor(z), ember.tensor(w), value=0.5),
          torch.addcdiv(torch.tensor(z), torch.tensor(z), torch.tensor(w), value=0.5))


def test_inplace_addmm_refuses_a_result_of_another_shape():
    x = ember.zeros(4, dtype=ember.float64)
    with pytest.raises(RuntimeError, match="addmm_"):
        x.addmm_(ember.ones(2, 3, dtype=ember.float64), ember.ones(3, 4, dtype=ember.float64))


def test_logspace_and_range_match_pytorch():
    for args, kwargs in [((0, 2, 5), {}), ((-1, 1, 4), {"base": 2.0}), ((1, 0, 3), {"dtype": ember.float64}),
                         ((0, 3, 1), {}), ((0, 3, 0), {})]:
        torch_kwargs = {**kwargs, "dtype": torch.float64} if "dtype" in kwargs else kwargs
        _same(ember.logspace(*args, **kwargs), torch.logspace(*args, **torch_kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.range is deprecated
        for args in [(1, 4), (0, 1, 0.25), (0, 1, 0.3), (5, 1, -2), (2, 2)]:
            _same(ember.range(*args), torch.range(*args))
        _same(ember.range(1, 5, 2, dtype=ember.int64), torch.range(1, 5, 2, dtype=torch.int64))
    assert ember.range(0, 1, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="range: the bounds"):
        ember.range(3, 1)
    with pytest.raises(ValueError, match="range: step"):
        ember.range(0, 1, 0)


def test_bucketize_isin_and_searchsorted_sorter_match_pytorch():
    b = np.array([-1.0, 0.0, 0.0, 2.0])
    v = np.array([[-2.0, 0.0, 0.5], [2.0, 3.0, -1.0]])
    for right in (False, True):
        for out_int32 in (False, True):
            _same(ember.bucketize(ember.tensor(v), ember.tensor(b), right=right, out_int32=out_int32),
                  torch.bucketize(torch.tensor(v), torch.tensor(b), right=right, out_int32=out_int32))
    _same(ember.bucketize(0.5, ember.tensor(b)), torch.bucketize(0.5, torch.tensor(b)))
    a, t = np.array([[1, 5, 2], [7, 2, 1]]), np.array([2, 7, 9])
    for invert in (False, True):
        for unique in (False, True):
            _same(ember.isin(ember.tensor(a), ember.tensor(t), invert=invert, assume_unique=unique and invert),
                  torch.isin(torch.tensor(a), torch.tensor(t), invert=invert, assume_unique=unique and invert))
    _same(ember.isin(ember.tensor(a), 2), torch.isin(torch.tensor(a), 2))
    _same(ember.isin(7, ember.tensor(t)), torch.isin(7, torch.tensor(t)))
    seq, sorter = np.array([5.0, 1.0, 3.0]), np.array([1, 2, 0])
    _same(ember.searchsorted(ember.tensor(seq), ember.tensor([2.0, 5.0]), sorter=ember.tensor(sorter), right=True),
          torch.searchsorted(torch.tensor(seq), torch.tensor([2.0, 5.0]), sorter=torch.tensor(sorter), right=True))
    with pytest.raises(ValueError, match="bucketize: boundaries must be 1-D"):
        ember.bucketize(ember.tensor([1.0]), ember.ones(2, 2))


def test_isin_of_bfloat16_with_a_nan_matches_pytorch():
    # NumPy's isin sorts, and a bfloat16 NaN threw the sort out of order: 3 was not found among these
    elements = np.array([3.0, 1.0, np.nan, 5.0], np.float32)
    test = np.array([0, 1, 0, 1, np.nan, 4, 3, 2, 4, 1, 0, 2, 4, 1], np.float32)
    for invert in (False, True):
        ours = ember.isin(ember.tensor(elements).to(ember.bfloat16), ember.tensor(test).to(ember.bfloat16),
                          invert=invert)
        theirs = torch.isin(torch.tensor(elements).bfloat16(), torch.tensor(test).bfloat16(), invert=invert)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("x, kwargs", [
    (_randn(50), {"bins": 7}),
    (_randn(4, 6), {"bins": 3, "range": (-1.0, 0.5)}),
    (_randn(30), {"bins": np.array([-2.0, -0.5, 0.0, 0.1, 3.0])}),
    (_randn(30), {"bins": 4, "weight": RNG.random(30), "density": True}),
    (np.ones(4), {"bins": 3}),
    (np.zeros(0), {"bins": 2}),
    (np.array([1.0, np.nan, 2.0]), {"bins": 2, "range": (0.0, 3.0)}),
    (np.array([0.0, 1.0, 2.0, 3.0]), {"bins": 3}),  # points on the edges; the last edge belongs to the last bin
], ids=["data_range", "range", "edges", "weighted_density", "one_point", "empty", "nan", "on_edges"])
def test_histogram_matches_pytorch(x, kwargs):
    def convert(to, value):
        return to(value) if isinstance(value, np.ndarray) else value

    ours = ember.histogram(ember.tensor(x), **{k: convert(ember.tensor, v) for k, v in kwargs.items()})
    theirs = torch.histogram(torch.tensor(x), **{k: convert(torch.tensor, v) for k, v in kwargs.items()})
    _same(ours.hist, theirs.hist)
    _same(ours.bin_edges, theirs.bin_edges)


def test_histogram_of_bfloat16_with_a_nan_counts_the_values_after_it_as_torch():
    # NumPy's binary search of bfloat16 lost its way after a NaN: 1.2 and 1.7 fell past the last edge, uncounted
    x = np.array([0.1, 0.6, np.nan, 1.2, 1.7], np.float32)
    ours = ember.histogram(ember.tensor(x).to(ember.bfloat16), 4, range=(0.0, 2.0))
    theirs = torch.histogram(torch.tensor(x).bfloat16(), 4, range=(0.0, 2.0))
    np.testing.assert_array_equal(np.float32(ours.hist.numpy()), theirs.hist.float().numpy())  # [1, 1, 1, 1]
    points = np.stack([x, x[::-1]], 1)
    ours = ember.histogramdd(ember.tensor(points).to(ember.bfloat16), [2, 2], range=[0.0, 2.0, 0.0, 2.0])
    theirs = torch.histogramdd(torch.tensor(points).bfloat16(), [2, 2], range=[0.0, 2.0, 0.0, 2.0])
    np.testing.assert_array_equal(np.float32(ours.hist.numpy()), theirs.hist.float().numpy())

def test_histogramdd_matches_pytorch_and_float32_stays_float32():
    x, w = _randn(3, 10, 2).astype(np.float32), RNG.random((3, 10)).astype(np.float32)
    for kwargs in [{"bins": 3}, {"bins": [2, 4], "density": True}, {"bins": [3, 2], "range": [-1.0, 1.0, -2.0, 0.0]}]:
        ours = ember.histogramdd(ember.tensor(x), weight=ember.tensor(w), **kwargs)
        theirs = torch.histogramdd(torch.tensor(x), weight=torch.tensor(w), **kwargs)
        _same(ours.hist, theirs.hist, rtol=1e-5, atol=1e-6)
        for a, b in zip(ours.bin_edges, theirs.bin_edges):
            _same(a, b, rtol=1e-6)
    edges = [ember.tensor([-3.0, 0.0, 3.0]), ember.tensor([-3.0, 3.0])]
    ours = ember.histogramdd(ember.tensor(x.astype(np.float64)), bins=edges)
    torch_edges = [torch.tensor([-3.0, 0.0, 3.0], dtype=torch.float64), torch.tensor([-3.0, 3.0], dtype=torch.float64)]
    theirs = torch.histogramdd(torch.tensor(x.astype(np.float64)), bins=torch_edges)
    _same(ours.hist, theirs.hist)


@pytest.mark.filterwarnings("ignore")  # (PyTorch warns of the zero divisor)
@pytest.mark.parametrize("shape", [(2, 0), (1, 0), (0,)])
def test_cov_and_corrcoef_of_no_observations_are_nan_as_torch(shape):
    x = np.zeros(shape, np.float32)
    for fn, reference in ((ember.cov, torch.cov), (ember.corrcoef, torch.corrcoef)):
        _same(fn(ember.tensor(x)), reference(torch.tensor(x)))


def test_std_mean_and_var_mean_default_to_pytorchs_correction():
    x = _randn(3, 5)
    for fn, reference in ((ember.std_mean, torch.std_mean), (ember.var_mean, torch.var_mean)):
        for ours, theirs in zip(fn(ember.tensor(x), 1), reference(torch.tensor(x), 1)):
            _same(ours, theirs)
    with pytest.raises(TypeError, match="std_mean: give one of unbiased= and correction="):
        ember.std_mean(ember.tensor(x), 1, True, correction=0)


def test_std_of_a_slice_holding_nan_is_nan_and_of_equal_values_zero_with_zero_gradient():
    # std's guard for equal values tested "variance > 0", which NaN fails: a NaN slice's std came out 0
    x = np.array([[NAN, 1.0, 2.0], [1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ember.std_mean(ours, 1), torch.std_mean(theirs, 1)
    _same(out[0], expected[0])
    _same(ember.std(ember.tensor(x), 1, ddof=1), torch.std(torch.tensor(x), 1))
    out[0][1:].sum().backward()
    expected[0][1:].sum().backward()
    _same(ours.grad, theirs.grad)


def test_multi_dot_multiplies_in_the_cheapest_order():
    a, b, c = ember.ones(10, 100), ember.ones(100, 5), ember.ones(5, 50)
    seen = []
    from ember.ops import dispatch

    apply = dispatch.apply

    def spy(op, inputs, *args):
        seen.append((op.name, [tuple(t.shape) for t in inputs]))
        return apply(op, inputs, *args)

    dispatch.apply = spy
    try:
        out = ember.linalg.multi_dot([a, b, c])
    finally:
        dispatch.apply = apply
    # (a @ b) @ c costs 10*100*5 + 10*5*50 = 7,500 multiply-adds; a @ (b @ c) would cost 75,000
    assert [s for name, s in seen if name == "matmul"] == [[(10, 100), (100, 5)], [(10, 5), (5, 50)]]
    np.testing.assert_allclose(out.numpy(), np.full((10, 50), 500.0))


def test_addbmm_of_bool_batches_is_bool_as_addmm_and_baddbmm():
    # the products' sum over the batch counted (int64), so addbmm of bool tensors gave counts where addmm and baddbmm
    # give bool (the OR of the products)
    rng = np.random.default_rng(0)
    inp, batch1, batch2 = (rng.standard_normal(s) > 0.5 for s in ((2, 2), (4, 2, 3), (4, 3, 2)))
    got = ember.addbmm(ember.tensor(inp), ember.tensor(batch1), ember.tensor(batch2))
    assert got.dtype == ember.bool
    np.testing.assert_array_equal(got.numpy(), inp | (np.matmul(batch1, batch2.astype(int)) > 0).any(0))


def test_multi_dot_of_three_at_equal_cost_multiplies_as_torch():
    # a tie between (a @ b) @ c and a @ (b @ c) took the second, where PyTorch's rule for three matrices takes the
    # first: a third of the float16 elements of three 8 x 8 matrices an ulp off
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((8, 8)) for _ in range(3)]
    for dtype in ("float16", "bfloat16"):
        want = torch.linalg.multi_dot([torch.tensor(a).to(getattr(torch, dtype)) for a in arrays]).double().numpy()
        ours = [ember.tensor(a).to(getattr(ember, dtype)) for a in arrays]
        for got in (ember.linalg.multi_dot(ours), ember.chain_matmul(*ours)):
            np.testing.assert_array_equal(got.to(ember.float64).numpy(), want)


def test_jit_traces_the_new_functions():
    def step(x, y, w):
        hist = ember.histogram(x.flatten(), 4, range=(-3.0, 3.0)).hist
        return (ember.addmv(y, x, w, beta=0.5).sum() + ember.trapezoid(x).sum() + ember.gradient(x)[1].sum()
                + F.pdist(x).sum() + ember.cov(x).trace() + ember.kron(w, w).sum() + hist.sum()
                + ember.var_mean(x, 0)[0].sum() + ember.isin(x, y).sum())

    x, y, w = (ember.tensor(_randn(*s).astype(np.float32)) for s in ((3, 4), (3,), (4,)))
    fast = ember.jit(step)
    for _ in range(2):
        np.testing.assert_allclose(fast(x, y, w).numpy(), step(x, y, w).numpy(), rtol=1e-6)


@pytest.mark.parametrize("call, message", [
    (lambda: ember.mv(ember.ones(2, 3), ember.ones(4)), r"mv: the matrix of shape \[2, 3\] and the vector of shape"),
    (lambda: ember.addcdiv(ember.ones(2), ember.tensor([1, 2]), ember.tensor([3, 4])), "addcdiv: integer division"),
    (lambda: ember.vdot(ember.ones(2), ember.ones(3)), r"vdot: the vectors differ in size, shapes \[2\] and \[3\]"),
    # dot was matmul: a matrix-vector (or batched) product where torch.dot refuses anything but two vectors
    (lambda: ember.dot(ember.ones(2, 3), ember.ones(3)), r"dot: expects two 1-D .*, got shapes \[2, 3\] and \[3\]"),
    (lambda: ember.ones(3).dot(ember.ones(3, 4)), r"dot: expects two 1-D tensors of one size, got shapes \[3\] and"),
    (lambda: ember.dot(ember.ones(2), ember.ones(3)), r"dot: expects two 1-D tensors of one size"),
    (lambda: ember.inner(ember.ones(2, 3), ember.ones(2)), r"inner: the last dimensions differ"),
    # a dimension named twice was read as one letter twice: ([0, 0], [0, 1]) summed a's column 0 against b's diagonal
    (lambda: ember.tensordot(ember.ones(3, 3), ember.ones(3, 3), ([0, 0], [0, 1])),
     r"tensordot: the dims \[0, 0\] of the operand of shape \[3, 3\] name a dimension twice"),
    (lambda: ember.tensordot(ember.ones(3, 3), ember.ones(3, 3), ([0, 1], [-1, 1])), r"dims \[1, 1\] of the operand"),
    (lambda: ember.trace(ember.ones(2, 2, 2)), r"trace: the input must be 2-D, got shape \[2, 2, 2\]"),
    (lambda: ember.linalg.multi_dot([ember.ones(2, 3), ember.ones(4, 2)]), r"multi_dot: tensors 0 and 1"),
    (lambda: ember.linalg.multi_dot([ember.ones(2, 3)]), "multi_dot: expects at least two"),
    (lambda: ember.chain_matmul(ember.ones(2, 3), ember.ones(3)), r"chain_matmul: matrix 1 must be 2-D"),
    (lambda: ember.renorm(ember.ones(2, 2), 0, 0, 1.0), "renorm: p must be positive"),
    (lambda: ember.renorm(ember.ones(3), 2, 0, 1.0), r"renorm: expects a tensor of at least 2 dimensions"),
    (lambda: ember.cov(ember.ones(2, 2, 2)), r"cov: expects a 1-D or 2-D tensor"),
    (lambda: ember.cov(ember.ones(2, 3), fweights=ember.tensor([1.0, 2.0, 3.0])), "cov: fweights must have an integer"),
    (lambda: ember.cov(ember.ones(2, 3), aweights=ember.ones(2)), r"cov: aweights must be 1-D with one weight"),
    (lambda: ember.cov(ember.ones(2, 3), fweights=ember.tensor([1, -2, 3])), "cov: fweights must be non-negative"),
    (lambda: ember.gradient(ember.ones(2), edge_order=2), r"gradient: dimension 0 .* needs at least"),
    (lambda: ember.gradient(ember.ones(3, 3), spacing=[1.0]), "gradient: spacing has 1 entries for 2"),
    (lambda: ember.gradient(ember.ones(3), edge_order=3), "gradient: edge_order must be 1 or 2"),
    (lambda: ember.trapezoid(ember.ones(3), ember.ones(4)), "trapezoid: x has 4 points but y has 3"),
    (lambda: ember.trapezoid(ember.ones(3), ember.ones(3), dx=1.0), "trapezoid: give x or dx"),
    (lambda: ember.histogram(ember.tensor([1, 2]), 3), "histogram: expects a floating-point tensor, got int64"),
    (lambda: ember.histogram(ember.ones(3), 3, range=(2.0, 1.0)), "histogram: min should not exceed max"),
    (lambda: ember.histogram(ember.tensor([1.0, float("nan")]), 2), "histogram: the data's range"),
    (lambda: ember.histogram(ember.ones(3), ember.tensor([1.0, 0.0])), "histogram: bin edges must increase"),
    (lambda: ember.histogramdd(ember.ones(4, 2), [2, 3, 4]), "histogramdd: 3 bin specifications for points of 2"),
    (lambda: ember.histogramdd(ember.ones(4, 2), 2, weight=ember.ones(3)), r"histogramdd: weight of shape \[3\]"),
    (lambda: F.pdist(ember.ones(2, 2, 2)), r"pdist: expects a 2-D tensor .*\[2, 2, 2\]"),
    (lambda: ember.cdist(ember.ones(2, 2), ember.ones(2, 2), compute_mode="fast"), "cdist: compute_mode must be"),
    (lambda: ember.nuclear_norm(ember.ones(2, 2, 2)), r"nuclear_norm: expects a 2-D tensor"),
    (lambda: ember.frobenius_norm(ember.ones(2, 2, 2), (0, 1, 2)), "frobenius_norm: dim names at most 2"),
    (lambda: ember.linalg.vander(ember.ones(3), N=1), "linalg.vander: N must be at least 2"),
    (lambda: ember.vander(ember.ones(2, 2)), r"vander: the input must be 1-D"),
])
def test_errors_name_the_function_and_what_was_given(call, message):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert re.search(message, str(info.value)), str(info.value)


@pytest.mark.parametrize("p", [3.0, 1.5, 0.5, -1.0])
def test_norms_of_zero_vectors_and_zero_elements_have_pytorchs_gradients(p):
    # A zero distance (and a zero element for p < 1) gave NaN through the power's derivative at 0
    x = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, -1.0]])
    calls = [
        (lambda t: ember.norm(t, p, dim=1), lambda t: torch.norm(t, p, dim=1)),
        (lambda t: F.pdist(t, p), lambda t: torch.nn.functional.pdist(t, p)),
        (lambda t: ember.cdist(t, t, p), lambda t: torch.cdist(t, t, p)),
        (lambda t: ember.dist(t[0], t[1], p), lambda t: torch.dist(t[0], t[1], p)),
    ] if p > 0 else [(lambda t: ember.norm(t, p, dim=1), lambda t: torch.norm(t, p, dim=1))]
    for ours, theirs in calls:
        a, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = ours(a), theirs(t)
        _same(out, expected)
        out.sum().backward()
        expected.sum().backward()
        assert np.isfinite(a.grad.numpy()).all()
        _same(a.grad, t.grad)


@pytest.mark.parametrize("p", [2, 3.0, 0.5, -1.5])
def test_a_nan_element_makes_the_norm_nan_as_torch(p):
    # the zero-vector guards tested "> 0", which NaN fails: the NaN was read as a zero and the norm came out finite
    x = np.array([[np.nan, 1.0, 2.0], [1.0, 0.0, 3.0]])
    calls = [
        (lambda t: ember.linalg.vector_norm(t, p, dim=1), lambda t: torch.linalg.vector_norm(t, p, dim=1)),
        (lambda t: ember.norm(t, p), lambda t: torch.norm(t, p)),
        (lambda t: ember.dist(t[0], t[1], p), lambda t: torch.dist(t[0], t[1], p)),
    ] + ([(lambda t: F.pdist(t, p), lambda t: torch.nn.functional.pdist(t, p)),
          (lambda t: ember.cdist(t, t, p), lambda t: torch.cdist(t, t, p))] if p > 0 else [])
    for ours, theirs in calls:
        _same(ours(ember.tensor(x)), theirs(torch.tensor(x)))


def test_a_zero_norm_distance_is_differentiable_with_zero_gradient():
    # PyTorch's 0-norm counts the non-zeros and records a zero gradient (its dist even fails there); the count was
    # a constant here, and a backward through it refused
    x = np.array([[1.0, 0.0, np.inf], [2.0, 0.0, -1.0]])
    for call in (lambda t: ember.dist(t[0], t[1], 0), lambda t: ember.linalg.vector_norm(t, 0, dim=1),
                 lambda t: F.pdist(t, 0), lambda t: ember.cdist(t, t, 0)):
        a = ember.tensor(x, requires_grad=True)
        out = call(a)
        assert out.requires_grad
        out.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), np.zeros_like(x))
    np.testing.assert_array_equal(ember.linalg.vector_norm(ember.tensor(x), 0, dim=1).numpy(),
                                  torch.linalg.vector_norm(torch.tensor(x), 0, dim=1).numpy())


@pytest.mark.parametrize("name, inp, operands, beta", [
    ("addr", (3, 3, 3), ((3,), (3,)), 1.0),
    ("addr", (3, 4), ((3,), (3,)), 0.0),
    ("addmv", (2, 3), ((3, 4), (4,)), 1.0),
    ("addbmm", (4, 3, 5), ((2, 3, 4), (2, 4, 5)), 1.0),
    ("addmm", (2, 3, 5), ((3, 4), (4, 5)), 1.0),
    ("baddbmm", (4, 2, 3, 5), ((2, 3, 4), (2, 4, 5)), 0.0),
])
def test_the_input_must_broadcast_to_the_products_shape_as_torch(name, inp, operands, beta):
    # the input broadcast with the product both ways before (a larger result), and was not checked when beta was 0
    arrays = [np.ones(inp, np.float32)] + [np.ones(shape, np.float32) for shape in operands]
    with pytest.raises(RuntimeError):
        getattr(torch, name)(*[torch.tensor(a) for a in arrays], beta=beta)
    with pytest.raises(ValueError, match=re.escape(f"{name}: the input of shape {list(inp)} does not broadcast")):
        getattr(ember, name)(*[ember.tensor(a) for a in arrays], beta=beta)
    product = getattr(torch, name)(torch.tensor(0.0), *[torch.tensor(a) for a in arrays[1:]])
    fits = np.ones(tuple(product.shape)[-1:], np.float32)  # a trailing row broadcasts, as PyTorch's
    _same(getattr(ember, name)(ember.tensor(fits), *[ember.tensor(a) for a in arrays[1:]]),
          getattr(torch, name)(torch.tensor(fits), *[torch.tensor(a) for a in arrays[1:]]))


@pytest.mark.parametrize("name", ["addmm", "addmv", "baddbmm", "addbmm", "addr"])
def test_beta_zero_gives_the_input_torch_s_zero_gradient(name):
    # the input was left out of the graph: autograd.grad raised "input 0 was not used" and .grad stayed None, where
    # PyTorch's gradient is grad * beta, zeros (NaN and inf in the input still ignored)
    rng = np.random.default_rng(0)
    shapes = {"addmm": [(2, 3), (2, 4), (4, 3)], "addmv": [(2,), (2, 4), (4,)], "baddbmm": [(5, 2, 3), (5, 2, 4),
              (5, 4, 3)], "addbmm": [(2, 3), (5, 2, 4), (5, 4, 3)], "addr": [(2, 3), (2,), (3,)]}[name]
    arrays = [rng.standard_normal(s) for s in shapes]
    arrays[0].flat[0] = np.nan
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, want = getattr(ember, name)(*ours, beta=0), getattr(torch, name)(*theirs, beta=0)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    got = ember.autograd.grad(out.sum(), ours)
    expected = torch.autograd.grad(want.sum(), theirs)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["addmm", "addmv", "baddbmm", "addbmm", "addr"])
def test_beta_zero_keeps_the_input_s_dtype_in_the_result(name):
    # beta=0 returned the product as it was: addr of a float64 input and int64 vectors gave int64 (torch's float64),
    # a float32 input over float16 matrices float16, where any other beta promotes the two
    shapes = {"addmm": [(2, 3), (2, 4), (4, 3)], "addmv": [(2,), (2, 4), (4,)], "baddbmm": [(5, 2, 3), (5, 2, 4),
              (5, 4, 3)], "addbmm": [(2, 3), (5, 2, 4), (5, 4, 3)], "addr": [(2, 3), (2,), (3,)]}[name]
    for inp_dtype, dtype in (("float64", "int64"), ("float32", "float16"), ("complex64", "float32")):
        inp = ember.ones(*shapes[0], dtype=getattr(ember, inp_dtype))
        operands = [ember.tensor(np.arange(np.prod(s)).reshape(s) % 3, dtype=getattr(ember, dtype)) for s in shapes[1:]]
        got = getattr(ember, name)(inp, *operands, beta=0)
        assert str(got.dtype) == str(getattr(ember, name)(inp, *operands, beta=2).dtype) == inp_dtype
        np.testing.assert_array_equal(got.numpy(), getattr(ember, name)(inp * 0, *operands).numpy())
    if name == "addr":  # torch.addr promotes (its other products refuse mixed dtypes)
        want = torch.addr(torch.ones(2, 3, dtype=torch.float64), torch.arange(2), torch.arange(3), beta=0)
        _same(ember.addr(ember.ones(2, 3, dtype=ember.float64), ember.arange(2), ember.arange(3), beta=0), want)

"""PyTorch's keyword names and out= on the top-level functions (``ember.add(input=a, other=b, out=c)``)."""

import numpy as np
import pytest

import ember

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4)).astype(np.float32)
B = rng.standard_normal((3, 4)).astype(np.float32)
SQ = rng.standard_normal((3, 3)).astype(np.float32)
SPD = SQ @ SQ.T + 3 * np.eye(3, dtype=np.float32)
L = np.linalg.cholesky(SPD).astype(np.float32)
IDX = np.array([[0, 2], [1, 0], [3, 3]])

# (function, keyword arguments as arrays/values): the same call works in PyTorch with these names
KEYWORD_CALLS = [
    ("sin", dict(input=A)),
    ("exp", dict(input=A)),
    ("sum", dict(input=A, dim=1)),
    ("sum", dict(input=A, dim=1, keepdim=True)),
    ("mean", dict(input=A)),
    ("amax", dict(input=A, dim=())),
    ("cumsum", dict(input=A, dim=0)),
    ("sort", dict(input=A, dim=0, descending=True)),
    ("add", dict(input=A, other=B, alpha=2)),
    ("sub", dict(other=B, input=A)),
    ("mul", dict(input=A, other=2.5)),
    ("pow", dict(input=np.abs(A), exponent=1.5)),
    ("maximum", dict(input=A, other=B)),
    ("matmul", dict(input=A, other=B.T)),
    ("mm", dict(input=A, mat2=B.T)),
    ("where", dict(condition=A > 0, input=A, other=B)),
    ("clamp", dict(input=A, min=-0.5, max=0.5)),
    ("gather", dict(input=A, dim=1, index=IDX)),
    ("transpose", dict(input=A, dim0=0, dim1=1)),
    ("swapaxes", dict(input=A, axis0=0, axis1=1)),
    ("true_divide", dict(input=A, other=B)),
    ("cholesky_solve", dict(input=SQ, input2=L)),
    ("lu", dict(A=SQ, pivot=True, get_infos=True)),
    ("nuclear_norm", dict(input=A, dim=(0, 1), keepdim=True)),
    ("searchsorted", dict(sorted_sequence=np.sort(A[0]), input=B[0])),
    ("isclose", dict(input=A, other=A + 1e-9)),
    ("cat", dict(tensors=[A, B], dim=0)),
    ("atan2", dict(input=A, other=B)),
]


def _ember(value):
    return ember.tensor(value) if isinstance(value, np.ndarray) else (
        [ember.tensor(v) for v in value] if isinstance(value, list) else value)


def _numpy(result):
    if isinstance(result, tuple):
        return [_numpy(r) for r in result]
    return np.asarray(result.detach().numpy() if hasattr(result, "detach") else result)


@pytest.mark.parametrize("name, kwargs", KEYWORD_CALLS, ids=[c[0] for c in KEYWORD_CALLS])
def test_pytorch_keyword_names_bind_as_positions(name, kwargs):
    by_keyword = getattr(ember, name)(**{k: _ember(v) for k, v in kwargs.items()})
    torch = pytest.importorskip("torch")

    def as_torch(value):
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        return [torch.from_numpy(v) for v in value] if isinstance(value, list) else value

    expected = getattr(torch, name)(**{k: as_torch(v) for k, v in kwargs.items()})
    for got, want in zip(np.atleast_1d(np.asarray(_numpy(by_keyword), dtype=object)),
                         np.atleast_1d(np.asarray(_numpy(expected), dtype=object))):
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64),
                                   rtol=1e-5, atol=1e-6)


def test_keyword_input_equals_positional_without_torch():
    x, y = ember.tensor(A), ember.tensor(B)
    np.testing.assert_array_equal(ember.add(input=x, other=y).numpy(), ember.add(x, y).numpy())
    np.testing.assert_array_equal(ember.sum(input=x, dim=0).numpy(), ember.sum(x, 0).numpy())
    np.testing.assert_array_equal(ember.amax(input=x, dim=()).numpy(), ember.amax(x).numpy())  # () is every dim
    z = ember.tensor(A.copy())
    ember.sin_(input=z)
    np.testing.assert_allclose(z.numpy(), np.sin(A), rtol=1e-6)


def test_a_keyword_given_twice_is_refused():
    x = ember.tensor(A)
    with pytest.raises(TypeError, match="add.*multiple values for argument 'input'"):
        ember.add(x, input=x)


def test_out_holds_the_result_and_is_returned():
    x, y = ember.tensor(A), ember.tensor(B)
    out = ember.empty(3, 4)
    assert ember.add(x, y, out=out) is out
    np.testing.assert_allclose(out.numpy(), A + B, rtol=1e-6)
    grown = ember.empty(0)
    ember.matmul(x, y.T, out=grown)  # an empty out is resized silently
    np.testing.assert_allclose(grown.numpy(), A @ B.T, rtol=1e-5)
    index = ember.empty(0, dtype=ember.int64)
    ember.argmax(x, dim=1, out=index)
    np.testing.assert_array_equal(index.numpy(), A.argmax(1))


def test_out_of_another_shape_is_resized_with_a_warning_as_pytorch():
    out = ember.zeros(5)
    with pytest.warns(UserWarning, match=r"add\(\): an output with one or more elements was resized"):
        ember.add(ember.tensor(A), 1.0, out=out)
    np.testing.assert_allclose(out.numpy(), A + 1, rtol=1e-6)


def test_tuple_out_for_values_and_indices():
    values, indices = ember.empty(0), ember.empty(0, dtype=ember.int64)
    result = ember.sort(ember.tensor(A), dim=1, out=(values, indices))
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.numpy(), np.sort(A, 1))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(A, 1))
    with pytest.raises(TypeError, match="sort.*tuple of 2 tensors"):
        ember.sort(ember.tensor(A), out=values)


def test_out_refuses_a_narrowing_cast_and_autograd():
    with pytest.raises(RuntimeError, match=r"add\(\): result type float32 can't be cast to .*int64"):
        ember.add(ember.tensor(A), 1.0, out=ember.empty(3, 4, dtype=ember.int64))
    x = ember.tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        ember.mul(x, 2.0, out=ember.empty(3, 4))
    with ember.no_grad():
        out = ember.mul(x, 2.0, out=ember.empty(3, 4))
    np.testing.assert_allclose(out.numpy(), 2 * A, rtol=1e-6)


def test_functions_pytorch_gives_no_out_refuse_it():
    with pytest.raises(TypeError, match="out"):
        ember.isnan(ember.tensor(A), out=ember.empty(3, 4, dtype=ember.bool))


# torch.linalg's and torch.fft's names: A=/B=/LU=/input= were refused with a TypeError, and out= too (the names
# are those PyTorch's bindings take: input= for cholesky, A= for det)
NAMESPACE_CALLS = [
    ("linalg", "det", dict(A=SQ)),
    ("linalg", "solve", dict(A=SPD, B=SQ, left=False)),
    ("linalg", "cholesky", dict(input=SPD, upper=True)),
    ("linalg", "eigvalsh", dict(input=SPD, UPLO="U")),
    ("linalg", "matrix_norm", dict(input=SQ, ord=1, keepdim=True)),
    ("linalg", "norm", dict(input=SQ, ord="nuc")),
    ("linalg", "vector_norm", dict(input=SQ, ord=3, dim=0)),
    ("linalg", "cross", dict(input=SQ, other=SPD, dim=0)),
    ("linalg", "lstsq", dict(input=SPD, b=SQ, driver="gelsd")),
    ("linalg", "matrix_power", dict(input=SQ, n=-2)),
    ("linalg", "tensorsolve", dict(input=SPD, other=SQ[0])),
    ("linalg", "pinv", dict(input=SQ, rcond=0.3)),
    ("linalg", "lu_solve", dict(LU=SPD, pivots=np.array([1, 2, 3], np.int32), B=SQ)),
    ("fft", "rfft", dict(input=A, n=6, dim=0, norm="ortho")),
    ("fft", "fftfreq", dict(n=5, d=0.5)),
]


@pytest.mark.parametrize("namespace, name, kwargs", NAMESPACE_CALLS, ids=[c[1] for c in NAMESPACE_CALLS])
def test_linalg_and_fft_take_pytorch_keyword_names(namespace, name, kwargs):
    torch = pytest.importorskip("torch")
    got = getattr(getattr(ember, namespace), name)(**{k: _ember(v) for k, v in kwargs.items()})
    want = getattr(getattr(torch, namespace), name)(
        **{k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    for mine, theirs in zip(_numpy(got) if isinstance(got, tuple) else [_numpy(got)],
                            want if isinstance(want, tuple) else [want]):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_linalg_and_fft_write_out():
    a = ember.tensor(SPD)
    out = ember.empty(0)
    assert ember.linalg.inv(a, out=out) is out
    np.testing.assert_allclose(out.numpy() @ SPD, np.eye(3), atol=1e-5)
    q, r = ember.empty(0), ember.empty(0)
    result = ember.linalg.qr(a, out=(q, r))
    assert result.Q is q and result.R is r
    np.testing.assert_allclose(q.numpy() @ r.numpy(), SPD, rtol=1e-5, atol=1e-5)
    spectrum = ember.empty(0, dtype=ember.complex64)
    ember.fft.fft(ember.tensor(A), out=spectrum)
    np.testing.assert_allclose(spectrum.numpy(), np.fft.fft(A), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="out"):
        ember.linalg.matrix_exp(a, out=out)  # (PyTorch's takes no out= there)

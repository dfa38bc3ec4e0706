"""dense @ sparse (a dense first operand, a sparse COO or CSR second one) through ``ember.mm``, ``ember.matmul``,
``@``, the Tensor methods, ``ember.sparse.mm``, ``ember.sparse.addmm`` and ``ember.addmm``, against PyTorch: values,
and gradients for the dense operand and the sparse values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from parity_helpers import traced_step_matches_eager  # noqa: E402

import ember  # noqa: E402

INDICES = [[0, 1, 1, 2, 1, 3], [1, 0, 2, 2, 0, 1]]  # (1, 0) repeated: its values add
VALUES = [1.0, 2.0, 3.0, 4.0, 0.5, -1.5]
SIZE = (4, 3)


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():  # PyTorch's "CSR support is in beta" and invariant-check notes
        warnings.simplefilter("ignore", UserWarning)
        yield


def _sparse(m, values, layout: str):
    """The (4, 3) matrix of INDICES and ``values`` in library ``m``, as a COO tensor (uncoalesced) or CSR matrix."""
    if m is torch:
        coo = torch.sparse_coo_tensor(torch.tensor(INDICES), values, SIZE)
        return coo if layout == "coo" else coo.coalesce().to_sparse_csr()
    coo = ember.sparse_coo_tensor(INDICES, values, SIZE)
    return coo if layout == "coo" else coo.to_sparse_csr()


MAT = np.random.default_rng(3).standard_normal((2, 3))
PRODUCTS = {
    "mm": (lambda d, s: ember.mm(d, s), torch.mm),
    "matmul": (lambda d, s: ember.matmul(d, s), torch.matmul),
    "operator": (lambda d, s: d @ s, lambda d, s: d @ s),
    "Tensor.mm": (lambda d, s: d.mm(s), lambda d, s: d.mm(s)),
    "Tensor.matmul": (lambda d, s: d.matmul(s), lambda d, s: d.matmul(s)),
    # torch.sparse.mm's backward refuses a dense first matrix times a CSR one: torch.mm is the reference
    "sparse.mm": (lambda d, s: ember.sparse.mm(d, s), torch.mm),
    # torch.sparse.addmm and torch.addmm refuse a sparse COO second matrix: the reference is their definition
    "sparse.addmm": (lambda d, s: ember.sparse.addmm(ember.tensor(MAT), d, s, beta=0.5, alpha=2.0),
                     lambda d, s: 0.5 * torch.tensor(MAT) + 2.0 * torch.mm(d, s)),
    "addmm": (lambda d, s: ember.addmm(ember.tensor(MAT), d, s, beta=0.5, alpha=2.0),
              lambda d, s: 0.5 * torch.tensor(MAT) + 2.0 * torch.mm(d, s)),
}


def _compare(ours, theirs, dense: np.ndarray, layout: str) -> None:
    rng = np.random.default_rng(0)
    d, td = ember.tensor(dense, requires_grad=True), torch.tensor(dense, requires_grad=True)
    v = ember.tensor(np.array(VALUES), requires_grad=True)
    tv = torch.tensor(VALUES, dtype=torch.float64, requires_grad=True)
    out, expected = ours(d, _sparse(ember, v, layout)), theirs(td, _sparse(torch, tv, layout))
    assert isinstance(out, ember.Tensor) and tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    weights = rng.standard_normal(tuple(expected.shape))
    (out * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(d.grad.numpy(), td.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_dense_times_sparse_matches_torch_with_gradients(name, layout):
    ours, theirs = PRODUCTS[name]
    _compare(ours, theirs, np.random.default_rng(1).standard_normal((2, 4)), layout)


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("shape", [(4,), (5, 2, 4), (3, 1, 2, 4)])
def test_matmul_of_a_vector_or_a_batch_times_sparse_matches_torch(shape, layout):
    dense = np.random.default_rng(2).standard_normal(shape)
    _compare(lambda d, s: ember.matmul(d, s), torch.matmul, dense, layout)
    _compare(lambda d, s: d @ s, lambda d, s: d @ s, dense, layout)


def test_sparse_first_matmul_matches_torch():
    dense = np.random.default_rng(4).standard_normal((3, 2))
    for layout in ("coo", "csr"):
        _compare(lambda d, s: ember.matmul(s, d), lambda d, s: torch.matmul(s, d), dense, layout)
        _compare(lambda d, s: s.matmul(d), lambda d, s: s.matmul(d), dense, layout)


def test_dense_times_sparse_traces_under_jit():
    s = ember.sparse_coo_tensor(INDICES, VALUES, SIZE, dtype=ember.float64)
    dense = ember.tensor(np.random.default_rng(5).standard_normal((2, 4)), requires_grad=True)
    traced_step_matches_eager(lambda d: d @ s, dense)


@pytest.mark.parametrize("call, error, words", [
    (lambda s: ember.ones(2, 3) @ s, RuntimeError, ["matmul", "[2, 3]", "[4, 3]", "cannot be multiplied"]),
    (lambda s: ember.matmul(ember.ones(5), s), RuntimeError, ["matmul", "[5]", "cannot be multiplied"]),
    (lambda s: ember.mm(ember.ones(2, 2, 4), s), ValueError, ["mm", "2-D", "[2, 2, 4]"]),
    (lambda s: ember.sparse.mm(ember.ones(2, 2, 4), s), RuntimeError, ["sparse.mm", "2-D", "[2, 2, 4]"]),
])
def test_bad_dense_times_sparse_is_refused_naming_the_shapes(call, error, words):
    for layout in ("coo", "csr"):
        with pytest.raises(error) as info:
            call(_sparse(ember, ember.tensor(VALUES), layout))
        for word in words:
            assert word in str(info.value)
    hybrid = ember.sparse_coo_tensor([[0, 1]], [[1.0], [2.0]], (4, 1))  # one sparse dimension, one dense
    with pytest.raises(RuntimeError, match="matmul: a dense tensor times a sparse one needs a 2-D sparse matrix"):
        ember.ones(2, 4) @ hybrid


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_sparse_addmm_with_beta_0_ignores_nan_in_the_input_as_torch(layout):
    # (beta * mat with beta 0 kept mat's NaN and inf: nan where PyTorch gives the product)
    mat = np.array([[np.nan, 1.0, np.inf], [2.0, -np.inf, 3.0], [np.nan, 0.0, 0.0], [1.0, 1.0, 1.0]])
    dense = np.random.default_rng(4).standard_normal((3, 3))
    values = np.array(VALUES)
    for beta in (0.0, 0):
        ours = ember.sparse.addmm(ember.tensor(mat), _sparse(ember, ember.tensor(values), layout), ember.tensor(dense),
                                  beta=beta, alpha=2.0)
        theirs = torch.sparse.addmm(torch.tensor(mat), _sparse(torch, torch.tensor(values), layout),
                                    torch.tensor(dense), beta=beta, alpha=2.0)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("bias", [False, True])
def test_linear_of_a_sparse_input_matches_torch_with_gradients(layout, bias):
    # F.linear and nn.Linear of a sparse input failed inside promote with float()'s TypeError
    rng = np.random.default_rng(5)
    weight, b = rng.standard_normal((2, 3)), rng.standard_normal(2)
    w, tw = ember.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    eb, tb = (ember.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)) if bias else (None, None)
    v = ember.tensor(np.array(VALUES), requires_grad=True)
    tv = torch.tensor(VALUES, dtype=torch.float64, requires_grad=True)
    out = ember.nn.functional.linear(_sparse(ember, v, layout), w, eb)
    expected = torch.nn.functional.linear(_sparse(torch, tv, layout), tw, tb)
    assert isinstance(out, ember.Tensor)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    weights = rng.standard_normal(tuple(expected.shape))
    (out * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12)
    if bias:
        np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    layer = ember.nn.Linear(3, 2, dtype=ember.float64)
    np.testing.assert_allclose(layer(_sparse(ember, v, layout)).detach().numpy(),
                               layer(_sparse(ember, v, layout).to_dense()).detach().numpy(), rtol=1e-12)

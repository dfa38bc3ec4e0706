"""Sparse CSR matrices against PyTorch's: construction, attributes, conversions from and to dense and COO tensors,
and products with dense matrices (ember.sparse.mm, ember.mm, @) with gradients for the values and the dense
operand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from parity_helpers import traced_step_matches_eager  # noqa: E402

import ember  # noqa: E402

CROW, COL, VALUES, SIZE = [0, 2, 3, 3, 5], [0, 2, 1, 0, 3], [1.0, 2.0, 3.0, 4.0, 5.0], (4, 4)


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():  # PyTorch's "CSR support is in beta" and invariant-check notes
        warnings.simplefilter("ignore", UserWarning)
        yield


def _theirs(values=VALUES, **kwargs):
    return torch.sparse_csr_tensor(torch.tensor(CROW), torch.tensor(COL), torch.as_tensor(values, dtype=torch.float64),
                                   SIZE, **kwargs)


def _same_csr(ours, theirs) -> None:
    assert ours.shape == tuple(theirs.shape) and ours._nnz() == theirs._nnz()
    np.testing.assert_array_equal(ours.crow_indices().numpy(), theirs.crow_indices().numpy())
    np.testing.assert_array_equal(ours.col_indices().numpy(), theirs.col_indices().numpy())
    np.testing.assert_allclose(ours.values().detach().numpy(), theirs.values().detach().numpy(), rtol=1e-12)


def test_construction_attributes_and_to_dense_match_torch():
    ours, theirs = ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE, dtype=ember.float64), _theirs()
    _same_csr(ours, theirs)
    assert ours.layout == ember.sparse_csr and repr(ours.layout) == "ember.sparse_csr"
    assert ours.is_sparse_csr and not ours.is_sparse and ours.dtype == np.float64 and ours.ndim == 2
    assert ember.ones(2).layout == ember.strided and not ember.ones(2).is_sparse_csr
    np.testing.assert_array_equal(ours.to_dense().numpy(), theirs.to_dense().numpy())
    inferred = ember.sparse_csr_tensor(CROW, COL, VALUES)
    assert inferred.shape == tuple(torch.sparse_csr_tensor(torch.tensor(CROW), torch.tensor(COL),
                                                           torch.tensor(VALUES)).shape)
    assert ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE, requires_grad=True).requires_grad


def test_conversions_from_and_to_dense_and_coo_match_torch():
    dense = np.array([[0.0, 1.5, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, -1.0, 0.0]])
    _same_csr(ember.tensor(dense).to_sparse_csr(), torch.tensor(dense).to_sparse_csr())
    indices, values = [[0, 2, 1, 0, 2], [1, 0, 2, 1, 3]], [1.0, 2.0, 3.0, 4.0, 5.0]  # (0, 1) repeated: it adds
    coo = ember.sparse_coo_tensor(indices, values, (3, 4))
    _same_csr(coo.to_sparse_csr(), torch.sparse_coo_tensor(indices, values, (3, 4)).to_sparse_csr())
    ours, theirs = ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE), _theirs()
    for back, expected in ((ours.to_sparse_coo(), theirs.to_sparse_coo()), (ours.to_sparse(), theirs.to_sparse())):
        assert back.layout == "sparse_coo" and back.is_coalesced()
        np.testing.assert_array_equal(back.indices().numpy(), expected.indices().numpy())
        np.testing.assert_allclose(back.values().numpy(), expected.values().numpy())
    assert ours.to_sparse_csr() is ours


def test_to_sparse_csr_keeps_the_gradient_of_the_dense_tensor():
    dense = np.array([[0.0, 1.5], [2.0, 0.0], [0.0, -3.0]])
    x, tx = ember.tensor(dense, requires_grad=True), torch.tensor(dense, requires_grad=True)
    weights = np.array([1.0, -2.0, 0.5])
    (x.to_sparse_csr().values() * ember.tensor(weights)).sum().backward()
    (tx.to_sparse_csr().values() * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


PRODUCTS = {
    "sparse.mm": (lambda a, d: ember.sparse.mm(a, d), lambda a, d: torch.sparse.mm(a, d)),
    "mm": (lambda a, d: ember.mm(a, d), lambda a, d: torch.mm(a, d)),
    "matmul_operator": (lambda a, d: a @ d, lambda a, d: a @ d),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products_with_dense_match_torch_with_gradients(name):
    ours, theirs = PRODUCTS[name]
    rng = np.random.default_rng(0)
    dense, weights = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    v, tv = ember.tensor(np.array(VALUES), requires_grad=True), torch.tensor(VALUES, requires_grad=True,
                                                                              dtype=torch.float64)
    d, td = ember.tensor(dense, requires_grad=True), torch.tensor(dense, requires_grad=True)
    out = ours(ember.sparse_csr_tensor(CROW, COL, v, SIZE), d)
    expected = theirs(_theirs(tv), td)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    (out * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(d.grad.numpy(), td.grad.numpy(), rtol=1e-12)


def test_a_leaf_csr_matrix_gets_sparse_mms_gradient():
    rng = np.random.default_rng(1)
    dense = rng.standard_normal((4, 2))
    ours = ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE, dtype=ember.float64, requires_grad=True)
    theirs = _theirs(requires_grad=True)
    ember.sparse.mm(ours, ember.tensor(dense)).sum().backward()
    torch.sparse.mm(theirs, torch.tensor(dense)).sum().backward()
    assert ours.grad.layout == ember.sparse_csr and theirs.grad.layout == torch.sparse_csr
    _same_csr(ours.grad, theirs.grad)


def test_sparse_addmm_sum_and_csr_products():
    a = ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE, dtype=ember.float64)
    t = _theirs()
    dense = np.arange(8.0).reshape(4, 2)
    ours = ember.sparse.addmm(ember.ones(4, 2), a, ember.tensor(dense), beta=0.5, alpha=2.0)
    np.testing.assert_allclose(ours.numpy(),
                               torch.sparse.addmm(torch.ones(4, 2, dtype=torch.float64), t, torch.tensor(dense),
                                                  beta=0.5, alpha=2.0).numpy())
    np.testing.assert_allclose(ember.sparse.sum(a).numpy(), t.to_dense().sum().numpy())
    product = ember.sparse.mm(a, a)
    assert product.layout == ember.sparse_csr
    np.testing.assert_allclose(product.to_dense().numpy(), t.to_dense().numpy() @ t.to_dense().numpy())
    np.testing.assert_allclose((2 * a).to_dense().numpy(), 2 * t.to_dense().numpy())
    vector = ember.sparse.mm(a, ember.ones(4, dtype=ember.float64))
    np.testing.assert_allclose(vector.numpy(), t.to_dense().numpy().sum(1))


def test_a_csr_product_traces_under_jit():
    a = ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE, dtype=ember.float64)
    dense = ember.tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True)
    traced_step_matches_eager(lambda d: a @ d, dense)


@pytest.mark.parametrize("call, error, words", [
    (lambda: ember.sparse_csr_tensor([0, 2, 3], COL, VALUES, SIZE), ValueError, ["crow_indices", "nnz (5)"]),
    (lambda: ember.sparse_csr_tensor([1, 2, 3, 3, 5], COL, VALUES, SIZE), ValueError, ["crow_indices"]),
    (lambda: ember.sparse_csr_tensor(CROW, COL, VALUES, (4, 3)), ValueError, ["col_indices", "3 columns"]),
    (lambda: ember.sparse_csr_tensor(CROW, COL, VALUES, (3, 4)), ValueError, ["size", "4 rows"]),
    (lambda: ember.sparse_csr_tensor(CROW, [0.5, 1.0, 2.0, 0.0, 3.0], VALUES, SIZE), TypeError,
     ["col_indices", "integer"]),
    (lambda: ember.sparse_csr_tensor(CROW, COL, VALUES[:4], SIZE), ValueError, ["values", "5 column indices"]),
    (lambda: ember.sparse.mm(ember.sparse_csr_tensor(CROW, COL, VALUES, SIZE), ember.ones(3, 2)), RuntimeError,
     ["cannot be multiplied", "[4, 4]", "[3, 2]"]),
    (lambda: ember.ones(2, 2, 2).to_sparse_csr(), RuntimeError, ["to_sparse_csr", "2-D", "[2, 2, 2]"]),
    (lambda: ember.sparse.mm(ember.ones(2, 2), ember.ones(2, 2)), TypeError, ["sparse COO or CSR", "Tensor"]),
])
def test_bad_arguments_are_refused_naming_them(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)

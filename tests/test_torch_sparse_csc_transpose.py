"""A CSR matrix's t() / transpose(0, 1) against PyTorch's: a CSC matrix of the same arrays (layout, ccol_indices,
row_indices, values), its conversions and products with dense matrices, with gradients for the values."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402

CROW, COL, SIZE = [0, 2, 3, 3, 5], [0, 2, 1, 0, 3], (4, 5)


@pytest.fixture(autouse=True)
def _quiet_torch():
    with warnings.catch_warnings():  # PyTorch's "CSR support is in beta" and invariant-check notes
        warnings.simplefilter("ignore", UserWarning)
        yield


def _pair(values=None, crow=CROW, col=COL, size=SIZE):
    values = np.arange(1.0, len(col) + 1) if values is None else values
    ours = ember.tensor(np.asarray(values, np.float64), requires_grad=True)
    theirs = torch.tensor(np.asarray(values, np.float64), requires_grad=True)
    return (ember.sparse_csr_tensor(crow, col, ours, size), torch.sparse_csr_tensor(crow, col, theirs, size),
            ours, theirs)


def _same_csc(ours, theirs) -> None:
    assert ours.layout == ember.sparse_csc and theirs.layout == torch.sparse_csc
    assert ours.shape == tuple(theirs.shape) and ours._nnz() == theirs._nnz()
    assert (ours.is_sparse, ours.is_sparse_csr) == (theirs.is_sparse, theirs.is_sparse_csr) == (False, False)
    np.testing.assert_array_equal(ours.ccol_indices().numpy(), theirs.ccol_indices().numpy())
    np.testing.assert_array_equal(ours.row_indices().numpy(), theirs.row_indices().numpy())
    np.testing.assert_array_equal(ours.values().detach().numpy(), theirs.values().detach().numpy())
    np.testing.assert_array_equal(ours.to_dense().detach().numpy(), theirs.to_dense().detach().numpy())


@pytest.mark.parametrize("how", ["t", "transpose01", "transpose10", "transpose-1,0", "T"])
def test_the_transpose_is_a_csc_matrix_as_torch(how):
    ours, theirs, _, _ = _pair()
    calls = {"t": lambda m: m.t(), "transpose01": lambda m: m.transpose(0, 1),
             "transpose10": lambda m: m.transpose(1, 0), "transpose-1,0": lambda m: m.transpose(-1, 0),
             "T": lambda m: m.t().t().t()}
    _same_csc(calls[how](ours), calls[how](theirs))


def test_transposing_a_dimension_with_itself_and_back_gives_csr_as_torch():
    ours, theirs, _, _ = _pair()
    assert ours.transpose(1, 1) is ours and theirs.transpose(1, 1).layout == torch.sparse_csr
    back, t_back = ours.t().t(), theirs.t().t()
    assert back.layout == ember.sparse_csr and t_back.layout == torch.sparse_csr
    np.testing.assert_array_equal(back.crow_indices().numpy(), t_back.crow_indices().numpy())
    np.testing.assert_array_equal(back.to_dense().detach().numpy(), t_back.to_dense().detach().numpy())
    assert ours.t().transpose(0, 1).layout == ember.sparse_csr


@pytest.mark.parametrize("crow,col,size", [(CROW, COL, SIZE), ([0, 0, 0], np.zeros(0, np.int64), (2, 3))])
def test_conversions_of_the_transpose_match_torch(crow, col, size):
    ours, theirs, _, _ = _pair(crow=crow, col=col, size=size)
    csc, t_csc = ours.t(), theirs.t()
    coo, t_coo = csc.to_sparse_coo(), t_csc.to_sparse_coo()
    assert coo.is_coalesced() == t_coo.is_coalesced()
    np.testing.assert_array_equal(coo._indices().numpy(), t_coo._indices().numpy())
    np.testing.assert_array_equal(coo._values().detach().numpy(), t_coo._values().detach().numpy())
    csr, t_csr = csc.to_sparse_csr(), t_csc.to_sparse_csr()
    assert csr.layout == ember.sparse_csr
    np.testing.assert_array_equal(csr.crow_indices().numpy(), t_csr.crow_indices().numpy())
    np.testing.assert_array_equal(csr.col_indices().numpy(), t_csr.col_indices().numpy())
    np.testing.assert_array_equal(csr.values().detach().numpy(), t_csr.values().detach().numpy())
    _same_csc(csc * 2.0, t_csc * 2.0)
    _same_csc(-csc, -t_csc)
    np.testing.assert_allclose(ember.sparse.sum(csc).detach().numpy(), t_csc.to_dense().sum().detach().numpy())


@pytest.mark.parametrize("name", ["@", "mm", "ember.mm", "sparse.mm", "dense @", "ember.matmul dense"])
def test_products_of_the_transpose_match_torch_with_gradients(name):
    ours, theirs, v, tv = _pair()
    rng = np.random.default_rng(0)
    right, left = rng.normal(size=(4, 3)), rng.normal(size=(2, 5))
    calls = {
        "@": (lambda s: s @ ember.tensor(right), lambda s: s @ torch.tensor(right)),
        "mm": (lambda s: s.mm(ember.tensor(right)), lambda s: s.mm(torch.tensor(right))),
        "ember.mm": (lambda s: ember.mm(s, ember.tensor(right)), lambda s: torch.mm(s, torch.tensor(right))),
        "sparse.mm": (lambda s: ember.sparse.mm(s, ember.tensor(right)), lambda s: torch.mm(s, torch.tensor(right))),
        "dense @": (lambda s: ember.tensor(left) @ s, lambda s: torch.tensor(left) @ s),
        "ember.matmul dense": (lambda s: ember.matmul(ember.tensor(left), s), lambda s: torch.tensor(left) @ s),
    }
    ours_fn, theirs_fn = calls[name]
    out, want = ours_fn(ours.t()), theirs_fn(theirs.t())
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    weights = rng.normal(size=tuple(want.shape))
    (out * ember.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12)


def test_bad_arguments_are_refused_naming_them():
    ours, _, _, _ = _pair()
    with pytest.raises(IndexError, match=r"transpose: dimension 2 out of range .*\[-2, 1\]"):
        ours.transpose(0, 2)
    with pytest.raises(IndexError, match="transpose: dimension -3"):
        ours.t().transpose(-3, 0)
    with pytest.raises(TypeError, match="CSC \\* tensor: only a number"):
        ours.t() * ember.ones(5, 4)
    with pytest.raises(TypeError, match=r"not a dense array: call .to_dense\(\)"):
        ember.exp(ours.t())

"""torch.sparse.softmax / log_softmax over a sparse COO tensor's specified entries, against PyTorch: values, pattern,
coalesced flag and the gradient of the values, for uncoalesced, empty, hybrid tensors and negative dims. (PyTorch's
backward with a negative dim is wrong, finite differences say: gradients are compared with its non-negative dim's.)"""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _pair(seed: int, shape=(4, 5), dense=(), nnz=11, coalesce=False):
    rng = np.random.default_rng(seed)
    k = len(shape) - len(dense)
    indices = np.stack([rng.integers(0, shape[i], nnz) for i in range(k)]).astype(np.int64).reshape(k, nnz)
    if nnz > 2:
        indices[:, -1] = indices[:, 0]  # a repeated coordinate: its values add before the softmax
    values = rng.normal(size=(nnz,) + tuple(dense)) * 3
    ours = ember.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    a = ember.sparse_coo_tensor(indices, ours, shape)
    b = torch.sparse_coo_tensor(torch.tensor(indices), theirs, shape, check_invariants=False)
    return (a.coalesce(), b.coalesce(), ours, theirs) if coalesce else (a, b, ours, theirs)


def _check(out, want, ours, theirs, seed=0) -> None:
    assert isinstance(out, ember.sparse.SparseCOOTensor) and out.is_coalesced() == want.is_coalesced()
    assert out.shape == tuple(want.shape) and out.dtype == ember.float64
    np.testing.assert_array_equal(out._indices().numpy(), want._indices().numpy())
    np.testing.assert_allclose(out._values().detach().numpy(), want._values().detach().numpy(), rtol=1e-12,
                               atol=1e-15)
    if not want._nnz():
        return
    weights = np.random.default_rng(seed).normal(size=tuple(want._values().shape))
    (out._values() * ember.tensor(weights)).sum().backward()
    (want.values() * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("coalesce", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_softmax_over_the_specified_entries_matches_torch(log, coalesce, dim):
    a, b, ours, theirs = _pair(dim + 7, coalesce=coalesce)
    ember_fn, torch_fn = (ember.sparse.log_softmax, torch.sparse.log_softmax) if log else \
        (ember.sparse.softmax, torch.sparse.softmax)
    np.testing.assert_allclose(ember_fn(a, dim)._values().detach().numpy(),
                               torch_fn(b.detach(), dim)._values().numpy(), rtol=1e-12)
    _check(ember_fn(a, dim), torch_fn(b, dim % 2), ours, theirs)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_hybrid_and_three_sparse_dims_match_torch(log, dim):
    ember_fn, torch_fn = (ember.sparse.log_softmax, torch.sparse.log_softmax) if log else \
        (ember.sparse.softmax, torch.sparse.softmax)
    a, b, ours, theirs = _pair(3, shape=(3, 4, 2), dense=(2,))
    _check(ember_fn(a, dim), torch_fn(b, dim % 3), ours, theirs, seed=1)
    a, b, ours, theirs = _pair(4, shape=(3, 4, 2), nnz=15)
    _check(ember_fn(a, dim), torch_fn(b, dim % 3), ours, theirs, seed=2)


def test_the_gradient_agrees_with_finite_differences():
    a, _, _, _ = _pair(6, coalesce=True)
    weights = np.random.default_rng(0).normal(size=a._nnz())
    indices, base = a._indices().numpy(), a._values().detach().numpy()

    def loss(values):
        out = ember.sparse.log_softmax(ember.sparse_coo_tensor(indices, values, a.shape), -1)
        return float((out._values().numpy() * weights).sum())

    steps = np.eye(base.size) * 1e-6
    numeric = [(loss(base + step) - loss(base - step)) / 2e-6 for step in steps]
    leaf = ember.tensor(base, requires_grad=True)
    (ember.sparse.log_softmax(ember.sparse_coo_tensor(indices, leaf, a.shape), -1)._values()
     * ember.tensor(weights)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_empty_tensor_dtype_argument_and_minus_infinity_match_torch():
    a, b, ours, theirs = _pair(5, nnz=0)
    _check(ember.sparse.softmax(a, 1), torch.sparse.softmax(b, 1), ours, theirs)
    indices = [[0, 0, 1, 1, 2], [0, 2, 1, 3, 0]]
    values = [1.0, -np.inf, -np.inf, -np.inf, 2.0]  # row 1 holds only -inf: NaN, as PyTorch's
    got = ember.sparse.softmax(ember.sparse_coo_tensor(indices, values, (3, 4)), 1)
    want = torch.sparse.softmax(torch.sparse_coo_tensor(indices, values, (3, 4), check_invariants=False), 1)
    np.testing.assert_array_equal(got._values().numpy(), want._values().numpy())
    got = ember.sparse.softmax(ember.sparse_coo_tensor(indices, [1, 2, 3, 4, 5], (3, 4)), 0, dtype=ember.float32)
    want = torch.sparse.softmax(torch.sparse_coo_tensor(indices, [1, 2, 3, 4, 5], (3, 4), check_invariants=False), 0,
                                dtype=torch.float32)
    assert got.dtype == ember.float32
    np.testing.assert_allclose(got._values().numpy(), want._values().numpy(), rtol=1e-6)


def test_a_leaf_sparse_tensor_gets_a_sparse_gradient_as_torch():
    a, b, _, _ = _pair(6, coalesce=True)
    leaf = ember.sparse_coo_tensor(a.indices(), a.values().detach(), a.shape, requires_grad=True, is_coalesced=True)
    tleaf = b.detach().requires_grad_()
    ember.sparse.sum(ember.sparse.log_softmax(leaf, 0) * 3.0).backward()
    torch.sparse.sum(torch.sparse.log_softmax(tleaf, 0) * 3.0).backward()
    np.testing.assert_allclose(leaf.grad.to_dense().numpy(), tleaf.grad.to_dense().numpy(), rtol=1e-12, atol=1e-14)


def test_bad_input_is_refused_naming_the_function():
    a, _, _, _ = _pair(7)
    with pytest.raises(IndexError, match=r"sparse.softmax: dimension 2 out of range"):
        ember.sparse.softmax(a, 2)
    with pytest.raises(TypeError, match="sparse.log_softmax: expects a sparse COO tensor, got Tensor"):
        ember.sparse.log_softmax(ember.ones(2, 2), 1)
    with pytest.raises(TypeError, match="sparse.softmax: expects a sparse COO tensor, got SparseCSRTensor"):
        ember.sparse.softmax(ember.ones(2, 2).to_sparse_csr(), 1)
    with pytest.raises(TypeError, match="floating-point values, got int64"):
        ember.sparse.softmax(ember.sparse_coo_tensor([[0, 1]], [1, 2], (3,)), 0)
    for method in ("softmax", "log_softmax"):  # a dense softmax of a sparse tensor: refused, as PyTorch's
        with pytest.raises(RuntimeError, match=f"ember.sparse.{method}"):
            getattr(a, method)(1)

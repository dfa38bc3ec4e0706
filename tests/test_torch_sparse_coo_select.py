"""Sparse COO index_select and narrow against torch.sparse (values, patterns, coalesced flags, errors); gradients
against PyTorch's dense index_select / narrow of the dense tensor (PyTorch's own sparse backward of these fails)."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _random(seed: int, shape=(5, 6), dense=(), nnz=12, coalesce=False):
    """(indices, values) with repeated coordinates, and the torch and ember tensors of them."""
    rng = np.random.default_rng(seed)
    k = len(shape) - len(dense)
    indices = np.stack([rng.integers(0, shape[i], nnz) for i in range(k)]).astype(np.int64).reshape(k, nnz)
    if nnz > 2:
        indices[:, -1] = indices[:, 0]  # a duplicate coordinate
    values = rng.normal(size=(nnz,) + tuple(dense))
    theirs = torch.sparse_coo_tensor(torch.tensor(indices), torch.tensor(values), shape, check_invariants=False)
    ours = ember.sparse_coo_tensor(indices, values, shape)
    return (ours.coalesce(), theirs.coalesce()) if coalesce else (ours, theirs)


def _same(ours, theirs, order: bool = True) -> None:
    assert isinstance(ours, ember.sparse.SparseCOOTensor)
    assert ours.shape == tuple(theirs.shape) and ours.is_coalesced() == theirs.is_coalesced()
    assert ours.sparse_dim() == theirs.sparse_dim()
    if order:
        np.testing.assert_array_equal(ours._indices().numpy(), theirs._indices().numpy())
        np.testing.assert_array_equal(ours._values().detach().numpy(), theirs._values().detach().numpy())
    np.testing.assert_array_equal(ours.to_dense().detach().numpy(), theirs.to_dense().numpy())


def _dense_grad_at_entries(theirs, op, weights):
    """Each entry's gradient: PyTorch's gradient of the dense op at that entry's coordinate."""
    dense = theirs.to_dense().clone().requires_grad_()
    (op(dense) * torch.tensor(weights)).sum().backward()
    coords = theirs._indices()
    return dense.grad[tuple(coords)].numpy()


@pytest.mark.parametrize("coalesce", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_index_select_matches_torch(coalesce, dim):
    ours, theirs = _random(0, coalesce=coalesce)
    for index in ([3, 0, 3], [1], [], [2, 2, 2, 2, 5 if dim in (1, -1) else 4]):
        t_index = torch.tensor(index, dtype=torch.long)
        _same(ours.index_select(dim, ember.tensor(np.array(index, np.int64))), theirs.index_select(dim, t_index))


def test_index_select_and_narrow_of_an_empty_tensor_match_torch():
    ours, theirs = _random(1, nnz=0)
    _same(ours.index_select(0, ember.tensor(np.array([1, 1]))), theirs.index_select(0, torch.tensor([1, 1])))
    got, want = ours.narrow(1, 2, 3), theirs.narrow_copy(1, 2, 3)
    assert got.shape == tuple(want.shape) and got._nnz() == want._nnz() == 0


@pytest.mark.parametrize("coalesce", [False, True])
def test_hybrid_index_select_and_narrow_along_sparse_and_dense_dims_match_torch(coalesce):
    ours, theirs = _random(2, shape=(4, 5, 3), dense=(3,), coalesce=coalesce)
    for dim in (0, 1, 2, -1):
        index = [2, 0, 2]
        _same(ours.index_select(dim, ember.tensor(np.array(index))), theirs.index_select(dim, torch.tensor(index)))
        _same(ours.narrow(dim, 1, 2), theirs.narrow_copy(dim % 3, 1, 2))


@pytest.mark.parametrize("coalesce", [False, True])
@pytest.mark.parametrize("dim,start,length", [(0, 1, 3), (1, 0, 6), (-1, 2, 0), (1, 5, 1), (0, -2, 2)])
def test_narrow_matches_torch_narrow_copy(coalesce, dim, start, length):
    ours, theirs = _random(3, coalesce=coalesce)
    want = theirs.narrow_copy(dim % 2, start % theirs.shape[dim], length)  # (its negative dims refused)
    _same(ours.narrow(dim, start, length), want)
    _same(ours.narrow_copy(dim, start, length), want)


@pytest.mark.parametrize("name", ["index_select", "narrow"])
@pytest.mark.parametrize("hybrid", [False, True])
def test_gradients_reach_the_values_as_the_dense_op_s(name, hybrid):
    shape, dense = ((5, 6, 2), (2,)) if hybrid else ((5, 6), ())
    ours, theirs = _random(4, shape=shape, dense=dense)
    values = ember.tensor(ours._values().numpy(), requires_grad=True)
    leaf = ember.sparse_coo_tensor(ours._indices(), values, shape)
    index = [4, 1, 4, 0]
    if name == "index_select":
        out = leaf.index_select(1, ember.tensor(np.array(index)))
        op = lambda d: d.index_select(1, torch.tensor(index))  # noqa: E731
    else:
        out = leaf.narrow(1, 1, 3)
        op = lambda d: d.narrow(1, 1, 3)  # noqa: E731
    weights = np.random.default_rng(5).normal(size=out.shape)
    (out.to_dense() * ember.tensor(weights)).sum().backward()
    np.testing.assert_allclose(values.grad.numpy(), _dense_grad_at_entries(theirs, op, weights), rtol=1e-12)
    assert leaf.grad is not None and leaf.grad.shape == shape


def test_bad_arguments_are_refused_naming_them():
    ours, _ = _random(6)
    with pytest.raises(IndexError, match=r"index_select\(\): index 6 is out of range .* dimension 1"):
        ours.index_select(1, ember.tensor(np.array([6])))
    with pytest.raises(IndexError, match=r"index -1 is out of range"):  # PyTorch's sparse one matches nothing
        ours.index_select(1, ember.tensor(np.array([-1])))
    with pytest.raises(IndexError, match="1-D integer tensor, got float"):
        ours.index_select(1, ember.tensor([1.0]))
    with pytest.raises(IndexError, match=r"1-D integer tensor, got int64\[1, 1\]"):
        ours.index_select(1, ember.tensor(np.array([[1]])))
    with pytest.raises(IndexError, match=r"index_select: dimension 2 out of range .* \[-2, 1\]"):
        ours.index_select(2, ember.tensor(np.array([0])))
    with pytest.raises(IndexError, match=r"narrow\(\): start 5 and length 2 leave dimension 1 of size 6"):
        ours.narrow(1, 5, 2)
    with pytest.raises(RuntimeError, match="length must be non-negative"):
        ours.narrow(1, 0, -1)
    with pytest.raises(TypeError, match="start must be an int"):
        ours.narrow(1, 0.5, 1)
    with pytest.raises(IndexError, match="narrow: dimension -3 out of range"):
        ours.narrow(-3, 0, 1)

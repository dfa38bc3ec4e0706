"""Sparse COO tensors against torch.sparse: construction, to_dense, coalesce, mm and its gradients."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

INDICES = [[0, 1, 1, 2, 1], [1, 0, 2, 2, 0]]  # (1, 0) repeated: its values add
VALUES = [1.0, 2.0, 3.0, 4.0, 0.5]


def test_to_dense_coalesce_and_attributes_match_torch():
    ours = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    theirs = torch.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    np.testing.assert_allclose(ours.to_dense().numpy(), theirs.to_dense().numpy())
    assert ours.shape == tuple(theirs.shape) and ours.is_sparse and ours._nnz() == theirs._nnz() == 5
    assert ours.sparse_dim() == 2 and ours.dense_dim() == 0 and not ours.is_coalesced()
    with pytest.raises(RuntimeError, match="coalesce"):
        ours.indices()
    c, tc = ours.coalesce(), theirs.coalesce()
    np.testing.assert_array_equal(c.indices().numpy(), tc.indices().numpy())
    np.testing.assert_allclose(c.values().numpy(), tc.values().numpy())
    assert c.is_coalesced()
    inferred = ember.sparse_coo_tensor(INDICES, VALUES)
    assert inferred.shape == tuple(torch.sparse_coo_tensor(INDICES, VALUES).shape) == (3, 3)
    np.testing.assert_allclose(ours.t().to_dense().numpy(), theirs.t().to_dense().numpy())
    np.testing.assert_allclose(ember.sparse.sum(ours).numpy(), torch.sparse.sum(theirs).numpy())
    np.testing.assert_allclose(ember.sparse.sum(ours, 0).numpy(), torch.sparse.sum(theirs, 0).to_dense().numpy())


def test_hybrid_values_and_to_sparse():
    values = np.arange(10.0).reshape(5, 2)
    ours = ember.sparse_coo_tensor(INDICES, values, (3, 4, 2))
    theirs = torch.sparse_coo_tensor(INDICES, values, (3, 4, 2))
    np.testing.assert_allclose(ours.to_dense().numpy(), theirs.to_dense().numpy())
    dense = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    s, ts = ember.tensor(dense).to_sparse(), torch.tensor(dense).to_sparse()
    np.testing.assert_array_equal(s.indices().numpy(), ts.indices().numpy())
    np.testing.assert_allclose(s.values().numpy(), ts.values().numpy())
    assert ember.tensor(dense).to_dense() is not None


@pytest.mark.parametrize("vector", [False, True])
def test_mm_values_and_gradients_match_torch(vector):
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(4,) if vector else (4, 3))
    v = ember.tensor(np.array(VALUES), requires_grad=True)
    d = ember.tensor(dense, requires_grad=True)
    out = ember.sparse.mm(ember.sparse_coo_tensor(INDICES, v, (3, 4)), d)
    tv = torch.tensor(VALUES, dtype=torch.float64, requires_grad=True)
    td = torch.tensor(dense, requires_grad=True)
    tsparse = torch.sparse_coo_tensor(torch.tensor(INDICES), tv, (3, 4))
    tout = torch.sparse.mm(tsparse, td[:, None])[:, 0] if vector else torch.sparse.mm(tsparse, td)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
    weights = rng.normal(size=tuple(out.shape))
    (out * ember.tensor(weights)).sum().backward()
    (tout * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(d.grad.numpy(), td.grad.numpy(), rtol=1e-12)


def test_sparse_times_sparse_is_a_sparse_product_with_gradients_as_torch():
    rng = np.random.default_rng(1)
    other_indices, other_values = [[0, 1, 3, 3], [1, 0, 0, 2]], rng.normal(size=4)
    a = ember.tensor(np.array(VALUES), requires_grad=True)
    b = ember.tensor(other_values, requires_grad=True)
    out = ember.sparse.mm(ember.sparse_coo_tensor(INDICES, a, (3, 4)),
                          ember.sparse_coo_tensor(other_indices, b, (4, 3)))
    ta = torch.tensor(VALUES, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(other_values, requires_grad=True)
    tout = torch.sparse.mm(torch.sparse_coo_tensor(torch.tensor(INDICES), ta, (3, 4)),
                           torch.sparse_coo_tensor(torch.tensor(other_indices), tb, (4, 3)))
    assert isinstance(out, ember.sparse.SparseCOOTensor) and out.is_coalesced()
    np.testing.assert_allclose(out.to_dense().detach().numpy(), tout.to_dense().detach().numpy(), rtol=1e-12)
    out.to_dense().sum().backward()
    torch.sparse.sum(tout).backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("values, dtype", [([True, True, False, True, True], "bool"),
                                           ([1, 100, 2, 3, 100], "int8")])
def test_sum_of_all_entries_merges_repeated_coordinates_first_as_torch(values, dtype):
    # (1, 0) twice: True or True is one True entry, and int8 100 + 100 wraps to -56 as in the dense tensor
    ours = ember.sparse_coo_tensor(INDICES, values, (3, 4), dtype=dtype)
    theirs = torch.sparse_coo_tensor(INDICES, values, (3, 4), dtype=getattr(torch, dtype))
    total = ember.sparse.sum(ours)
    assert total.numpy() == torch.sparse.sum(theirs).item() == theirs.to_dense().sum().item()
    assert total.dtype == np.int64
    leaf = ember.tensor(VALUES, requires_grad=True)
    ember.sparse.sum(ember.sparse_coo_tensor(INDICES, leaf, (3, 4))).backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), np.ones(5))


def test_operators_and_errors():
    s = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    dense = ember.ones(4, 2)
    np.testing.assert_allclose((s @ dense).numpy(), s.to_dense().numpy() @ np.ones((4, 2)))
    np.testing.assert_allclose((2 * s).to_dense().numpy(), 2 * s.to_dense().numpy())
    np.testing.assert_allclose((s / 4).to_dense().numpy(), s.to_dense().numpy() / 4)  # (a TypeError before)
    np.testing.assert_allclose((s + s).to_dense().numpy(), 2 * s.to_dense().numpy())
    np.testing.assert_allclose(ember.sparse.addmm(ember.ones(3, 2), s, dense, beta=0.5).numpy(),
                               0.5 + s.to_dense().numpy() @ np.ones((4, 2)))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        ember.sparse.mm(s, ember.ones(3, 2))
    with pytest.raises(ValueError, match="outside the size"):
        ember.sparse_coo_tensor(INDICES, VALUES, (2, 2))
    with pytest.raises(ValueError, match="nnz"):
        ember.sparse_coo_tensor(INDICES, [1.0, 2.0], (3, 4))
    with pytest.raises(TypeError, match="integer"):
        ember.sparse_coo_tensor([[0.5, 1.0]], [1.0, 2.0])


def test_a_graph_convolution_trains():
    ember.manual_seed(0)  # the layer's initial weights (the global stream's state otherwise depends on test order)
    rng = np.random.default_rng(1)
    n = 30
    edges = np.array([(i, (i + 1) % n) for i in range(n)] + [((i + 1) % n, i) for i in range(n)]).T
    adjacency = ember.sparse_coo_tensor(edges, np.full(edges.shape[1], 0.5, np.float32), (n, n))
    features = ember.tensor(rng.normal(size=(n, 4)).astype(np.float32))
    labels = ember.tensor((np.arange(n) % 2).astype(np.int64))
    layer = ember.nn.Linear(4, 2)
    opt = ember.optim.Adam(layer.parameters(), lr=0.05)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = ember.nn.functional.cross_entropy(layer(ember.sparse.mm(adjacency, features)), labels)
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    assert float(loss) < 0.9 * first


def test_dense_plus_and_minus_sparse_are_dense_as_torch_with_gradients():
    # dense + sparse is PyTorch's form (a TypeError from float() inside before); CSR + CSR stays CSR
    dense = np.arange(12.0).reshape(3, 4)
    ours_d, theirs_d = ember.tensor(dense, requires_grad=True), torch.tensor(dense, requires_grad=True)
    leaf, their_leaf = ember.tensor(VALUES, requires_grad=True), torch.tensor(VALUES, requires_grad=True)
    ours = ember.sparse_coo_tensor(INDICES, leaf, (3, 4))
    theirs = torch.sparse_coo_tensor(INDICES, their_leaf, (3, 4))
    weights = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    got, want = (ours_d + ours) * 2 - ours, (theirs_d + theirs) * 2 - theirs
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy())
    (got * ember.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), their_leaf.grad.numpy())
    np.testing.assert_allclose(ours_d.grad.numpy(), theirs_d.grad.numpy())
    np.testing.assert_allclose(ember.add(ember.tensor(dense), ours).detach().numpy(),
                               torch.add(torch.tensor(dense), theirs).detach().numpy())
    difference = ours - ours * 0.5
    assert difference.is_sparse
    np.testing.assert_allclose(difference.to_dense().detach().numpy(),
                               (theirs - theirs * 0.5).to_dense().detach().numpy())
    csr, their_csr = ember.tensor(dense).to_sparse_csr(), torch.tensor(dense).to_sparse_csr()
    np.testing.assert_allclose((ember.tensor(dense) + csr).numpy(), (torch.tensor(dense) + their_csr).numpy())
    total = csr + csr
    assert total.is_sparse_csr
    np.testing.assert_allclose(total.to_dense().numpy(), (their_csr + their_csr).to_dense().numpy())
    np.testing.assert_allclose((csr - csr).to_dense().numpy(), np.zeros((3, 4)))


def test_device_argument_places_the_values():
    # device= was accepted and ignored (a tensor asked for on "cuda" stayed on the CPU without a word)
    assert str(ember.sparse_coo_tensor(INDICES, VALUES, (3, 4), device="cpu").device) == "cpu"
    if ember.cuda_is_available():
        assert "cuda" in str(ember.sparse_coo_tensor(INDICES, VALUES, (3, 4), device="cuda").device)
    else:
        with pytest.raises(RuntimeError, match="cuda"):
            ember.sparse_coo_tensor(INDICES, VALUES, (3, 4), device="cuda")


def test_to_takes_a_device_or_dtype_as_tensor_to_and_numel_as_torch():
    # to("cpu") read the device as a dtype name (TypeError: unknown dtype name 'cpu'); numel() was missing
    coo = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4)), torch.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    csr = ember.tensor(np.eye(3)).to_sparse_csr(), torch.tensor(np.eye(3)).to_sparse_csr()
    for ours, theirs in [coo, csr]:
        assert ours.numel() == theirs.numel()
        assert ours.to("cpu").dtype == ours.dtype
        for ember_dtype, torch_dtype in [(ember.float64, torch.float64), (ember.float16, torch.float16)]:
            moved, their_moved = ours.to("cpu", ember_dtype), theirs.to("cpu", torch_dtype)
            assert moved.to_dense().dtype == ember_dtype and moved.layout == ours.layout
            np.testing.assert_allclose(moved.to_dense().numpy(), their_moved.to_dense().numpy())
        assert ours.to(dtype=ember.float64).dtype == np.float64


def test_transpose_checks_its_dimensions_as_torch():
    # transpose(0, 3) and transpose(2, 1) of a 2-D tensor were read modulo 2 (its transpose, silently); a dimension
    # with itself was refused where PyTorch returns the tensor
    ours = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    theirs = torch.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    for dims in [(0, 1), (-1, 0), (1, -2), (1, 1), (-2, 0)]:
        np.testing.assert_allclose(ours.transpose(*dims).to_dense().numpy(),
                                   theirs.transpose(*dims).to_dense().numpy())
    for dims in [(0, 3), (2, 1), (-3, 0)]:
        with pytest.raises(IndexError, match="out of range"):
            ours.transpose(*dims)
        with pytest.raises(IndexError):
            theirs.transpose(*dims)


def test_times_an_array_or_tensor_is_the_elementwise_product_as_torch():
    # s * np.array([10, 20, 30]) multiplied the values by the array entry by entry ([[0, 10, 0], [40, 0, 90]] for
    # torch's [[0, 20, 0], [20, 0, 90]]), and dense * sparse failed inside with float()'s TypeError
    indices, values = [[0, 1, 1, 1], [1, 0, 2, 0]], [1.0, 2.0, 3.0, 5.0]  # (1, 0) twice
    dense = np.arange(6.0).reshape(2, 3) + 1
    row = np.array([10.0, 20.0, 30.0])
    leaf, their_leaf = ember.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours_d, theirs_d = ember.tensor(dense, requires_grad=True), torch.tensor(dense, requires_grad=True)
    ours = ember.sparse_coo_tensor(indices, leaf, (2, 3), dtype="float64")
    theirs = torch.sparse_coo_tensor(indices, their_leaf, (2, 3), dtype=torch.float64)
    product, their_product = ours_d * ours, theirs_d * theirs
    assert product.is_sparse and product.is_coalesced()
    np.testing.assert_allclose(product.to_dense().detach().numpy(), their_product.to_dense().detach().numpy())
    weights = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    (product.to_dense() * ember.tensor(weights)).sum().backward()
    (their_product.to_dense() * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), their_leaf.grad.numpy())
    np.testing.assert_allclose(ours_d.grad.numpy(), theirs_d.grad.to_dense().numpy())
    want = (theirs * torch.tensor(row)).to_dense().detach().numpy()
    for got in [ours * row, row * ours, ours * ember.tensor(row), ember.mul(ember.tensor(row), ours)]:
        np.testing.assert_allclose(got.to_dense().detach().numpy(), want)
    np.testing.assert_allclose((ours * ours).to_dense().detach().numpy(), (theirs * theirs).to_dense().detach().numpy())
    csr, their_csr = ember.tensor(dense).to_sparse_csr(), torch.tensor(dense).to_sparse_csr()
    assert (csr * ember.tensor(row)).is_sparse_csr
    np.testing.assert_allclose((ember.tensor(dense) * csr).to_dense().numpy(),
                               (torch.tensor(dense) * their_csr).to_dense().numpy())
    with pytest.raises(RuntimeError, match="does not broadcast"):
        ours * ember.ones(2, 2, 3)
    with pytest.raises(TypeError, match="0-d tensor divides"):
        ours / row


def test_sparse_times_sparse_of_another_shape_is_refused_as_torch():
    # a (3,) or (1, 3) sparse tensor was broadcast over the rows of a (2, 3) one ([[0, 0, 9], [4, 0, 5]] kept where
    # PyTorch refuses the product)
    ours = ember.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [9.0, 4.0, 5.0], (2, 3))
    for other in [ember.sparse_coo_tensor([[0, 2]], [1.0, 1.0], (3,)), ember.ones(1, 3).to_sparse(),
                  ember.ones(1, 3).to_sparse_csr()]:
        with pytest.raises(RuntimeError, match=r"sparse \* sparse: shapes \[2, 3\] and \[\d(, 3)?\]"):
            ours * other
        with pytest.raises(RuntimeError, match="differ"):
            ember.mul(other, ours)
    with pytest.raises(RuntimeError, match="differ"):
        ours.to_sparse_csr() * ember.ones(1, 3).to_sparse()
    theirs = torch.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [9.0, 4.0, 5.0], (2, 3))
    with pytest.raises(RuntimeError):
        theirs * torch.ones(1, 3).to_sparse()


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_negating_a_bool_sparse_tensor_is_refused_as_a_dense_one(layout):
    # -s of bool values gave int64 -1s (the values times -1) where the dense tensor's - and PyTorch's refuse it
    dense = ember.tensor([[False, True], [True, False]])
    s = dense.to_sparse() if layout == "coo" else dense.to_sparse_csr()
    with pytest.raises(TypeError, match="bool"):
        _ = -s
    with pytest.raises(TypeError, match="bool"):
        _ = -dense
    for dtype, value in [("uint8", 200), ("int8", -128), ("float16", 3.0)]:
        ours = ember.tensor([[0, value]], dtype=dtype)
        theirs = torch.tensor([[0, value]], dtype=getattr(torch, dtype))
        neg = -(ours.to_sparse() if layout == "coo" else ours.to_sparse_csr())
        assert neg.dtype == ours.dtype and neg.layout == ("sparse_" + layout)
        np.testing.assert_array_equal(neg.to_dense().numpy(), (-theirs).numpy())


@pytest.mark.parametrize("coalesce", [False, True])
def test_grad_of_a_sparse_leaf_is_a_sparse_tensor_as_torch(coalesce):
    # .grad was an AttributeError (the CSR matrix had one); repeated coordinates appear once, as in PyTorch's
    dense = np.arange(8.0, dtype=np.float32).reshape(4, 2)
    ours = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    theirs = torch.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    ours, theirs = ((ours.coalesce(), theirs.coalesce()) if coalesce else (ours, theirs))
    ours.requires_grad_()
    theirs.requires_grad_()
    assert ours.grad is None
    ember.sparse.mm(ours, ember.tensor(dense)).sum().backward()
    torch.sparse.mm(theirs, torch.tensor(dense)).sum().backward()
    assert ours.grad.is_sparse and ours.grad.shape == (3, 4)
    want = theirs.grad.coalesce()
    np.testing.assert_array_equal(ours.grad.indices().numpy(), want.indices().numpy())
    np.testing.assert_allclose(ours.grad.values().numpy(), want.values().numpy())
    np.testing.assert_allclose(ours.grad.to_dense().numpy(), theirs.grad.to_dense().numpy())


@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_a_dense_op_of_a_sparse_tensor_says_to_densify_it(layout):
    # ember.sum, ember.abs, ember.pow, ... of a sparse tensor failed inside NumPy with "float() argument must be a
    # string or a real number, not 'SparseCOOTensor'"
    s = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    s = s if layout == "coo" else s.to_sparse_csr()
    for call in [ember.sum, ember.abs, lambda x: ember.pow(x, 2), ember.tensor]:
        with pytest.raises(TypeError, match=rf"sparse tensor \(layout ember.sparse_{layout}, shape \[3, 4\], float32\)"
                                            r".*\.to_dense\(\)"):
            call(s)
    # the operators and products that take a sparse operand still do, NumPy's on the left included
    row = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose((np.float64(2) * s).to_dense().numpy(), 2 * s.to_dense().numpy())
    np.testing.assert_allclose((row * s).to_dense().numpy(), row * s.to_dense().numpy())
    np.testing.assert_allclose((row + s).numpy(), row + s.to_dense().numpy())
    np.testing.assert_allclose((np.ones((2, 3)) @ s).numpy(), np.ones((2, 3)) @ s.to_dense().numpy())


@pytest.mark.parametrize("exponent", [2, 3, -1, 0.5, 2.5])
def test_pow_and_abs_coalesce_first_as_torch_with_gradients(exponent):
    # s.pow, s ** p, s.abs() and abs(s) were missing (AttributeError, TypeError); a repeated coordinate's values are
    # summed before the power or the absolute value ((-5 + 3) ** 2 = 4, not 25 + 9)
    values = np.array([1.0, -2.0, 3.0, -5.0])
    indices = [[0, 1, 1, 0], [2, 0, 2, 2]]
    leaf, their_leaf = ember.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours = ember.sparse_coo_tensor(indices, leaf, (2, 3))
    theirs = torch.sparse_coo_tensor(indices, their_leaf, (2, 3))
    weights = np.arange(6.0).reshape(2, 3)
    got, want = ours.pow(exponent), theirs.pow(exponent)
    assert got.is_sparse and got.is_coalesced()
    np.testing.assert_allclose(got.to_dense().detach().numpy(), want.to_dense().detach().numpy(), equal_nan=True)
    (got.to_dense() * ember.tensor(weights)).sum().backward()
    (want.to_dense() * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), their_leaf.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose((ours ** exponent).to_dense().detach().numpy(), want.to_dense().detach().numpy(),
                               equal_nan=True)
    for got in [ours.abs(), abs(ours)]:
        np.testing.assert_allclose(got.to_dense().detach().numpy(), theirs.abs().to_dense().detach().numpy())
    csr = ember.tensor([[0.0, -1.0], [2.0, 0.0]]).to_sparse_csr()
    assert abs(csr).layout == ember.sparse_csr
    np.testing.assert_allclose(csr.abs().to_dense().numpy(), [[0.0, 1.0], [2.0, 0.0]])
    with pytest.raises(RuntimeError, match="0th power"):
        ours.pow(0)


def test_sum_of_two_coalesced_tensors_is_coalesced_as_torch():
    # a + b and a - b of coalesced tensors came back uncoalesced, so (a + b).indices() raised where PyTorch's work
    results = {}
    for m in (ember, torch):
        leaf = m.tensor([1.0, 2.0], requires_grad=True)
        a = m.sparse_coo_tensor([[0, 1], [2, 0]], leaf, (2, 3)).coalesce()
        b = m.sparse_coo_tensor([[1, 0], [1, 2]], [3.0, 4.0], (2, 3)).coalesce()
        repeated = m.sparse_coo_tensor([[1, 1], [1, 1]], [3.0, 4.0], (2, 3))
        total, difference = a + b, a - b
        assert total.is_coalesced() and difference.is_coalesced() and not (a + repeated).is_coalesced()
        (total.values() * m.tensor([1.0, 2.0, 3.0])).sum().backward()
        results[m] = [np.asarray(x.detach().numpy()) for x in (total.indices(), total.values(), difference.values(),
                                                                leaf.grad)]
    for ours, theirs in zip(results[ember], results[torch]):
        np.testing.assert_allclose(ours, theirs)


def test_sparse_times_sparse_holds_the_entries_both_hold_as_torch():
    # the product kept every entry of the first tensor (zeros where the second had none: nnz 1 for PyTorch's 0)
    results = {}
    for m in (ember, torch):
        first, second = m.tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True), m.tensor([10.0, 20.0, 30.0, 40.0])
        a = m.sparse_coo_tensor([[0, 1, 1, 0, 2], [2, 0, 2, 2, 1]], first, (3, 3)).coalesce()
        b = m.sparse_coo_tensor([[1, 0, 2, 2], [2, 2, 2, 1]], second, (3, 3)).coalesce()
        product = a * b
        assert product.is_coalesced()
        (product.values() * m.tensor([1.0, 2.0, 3.0])).sum().backward()
        apart = m.sparse_coo_tensor([[0], [0]], [1.0], (3, 3)) * m.sparse_coo_tensor([[1], [1]], [1.0], (3, 3))
        assert apart._nnz() == 0
        results[m] = [np.asarray(x.detach().numpy()) for x in (product.indices(), product.values(), first.grad)]
    for ours, theirs in zip(results[ember], results[torch]):
        np.testing.assert_allclose(ours, theirs)
    csr = ember.tensor(np.eye(3)).to_sparse_csr() * ember.tensor(np.ones((3, 3))).to_sparse_csr()
    assert csr.layout == ember.sparse_csr and csr._nnz() == 3
    with pytest.raises(RuntimeError, match="sparse dims 2, 1"):
        ember.ones(3, 2).to_sparse() * ember.ones(3, 2).to_sparse(1)


def test_to_sparse_of_a_coo_tensor_is_itself_as_torch():
    # to_sparse() and to_sparse_coo() of a COO tensor were AttributeErrors (a CSR matrix and a dense tensor had them)
    ours = ember.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    theirs = torch.sparse_coo_tensor(INDICES, VALUES, (3, 4))
    assert ours.to_sparse() is ours and ours.to_sparse(2) is ours and ours.to_sparse_coo() is ours
    assert theirs.to_sparse() is theirs
    with pytest.raises(RuntimeError, match="2 sparse dimensions"):
        ours.to_sparse(1)
    with pytest.raises(RuntimeError):
        theirs.to_sparse(1)


def test_sparse_tensors_take_torch_s_casts_clone_and_cpu():
    # half(), int(), long(), bool(), bfloat16(), cpu(), clone() and type() were AttributeErrors on both layouts
    dense = np.array([[0.0, 1.5], [-2.0, 0.0]], np.float32)
    for ours, theirs in ((ember.tensor(dense).to_sparse(), torch.tensor(dense).to_sparse()),
                         (ember.tensor(dense).to_sparse_csr(), torch.tensor(dense).to_sparse_csr())):
        for method in ("half", "int", "long", "bool", "bfloat16", "cpu", "clone"):
            got, want = getattr(ours, method)(), getattr(theirs, method)()
            assert got.layout == ours.layout and str(got.dtype) == str(want.dtype).replace("torch.", "")
            np.testing.assert_array_equal(got.to_dense().float().numpy(), want.to_dense().float().numpy())
        assert ours.type(ember.float64).dtype == ember.float64
    copy = ember.tensor(dense).to_sparse()
    clone = copy.clone()
    clone._values().mul_(2)  # new memory: the original keeps its values
    np.testing.assert_array_equal(copy.to_dense().numpy(), dense)
    assert copy.type() == "ember.sparse.FloatTensor"

"""PyTorch's shape, view, split and scatter functions on Ember (ops/views.py, index_sets.py, scatter_views.py,
scatter_reduce.py) against PyTorch itself: values, dtypes, gradients and the errors for bad input."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

# Each call runs as ``call(module, x)`` with x a (2, 3, 4) float64 tensor that requires grad.
CALLS = {
    "movedim": lambda m, x: m.movedim(x, (0, 1), (2, 0)),
    "moveaxis": lambda m, x: x.moveaxis(0, -1),
    "swapdims": lambda m, x: m.swapdims(x, 0, 2),
    "swapdims_keywords": lambda m, x: x.swapdims(dim0=-1, dim1=1),
    "narrow": lambda m, x: m.narrow(x, 1, -2, 2),
    "narrow_empty_at_the_end": lambda m, x: x.narrow(2, 4, 0),
    "narrow_copy": lambda m, x: x.narrow_copy(2, 1, 3),
    "t": lambda m, x: m.t(x[0]),
    "take_along_dim": lambda m, x: m.take_along_dim(x, m.tensor([[[0], [3], [1]]]), 2),
    "take_along_dim_flat": lambda m, x: x.take_along_dim(m.tensor([5, 0, 5])),
    "tensor_split_sections": lambda m, x: m.tensor_split(x, 3, 2),
    "tensor_split_indices": lambda m, x: x.tensor_split(m.tensor([1, 3]), dim=2),
    "hsplit": lambda m, x: m.hsplit(x, 3),
    "vsplit": lambda m, x: x.vsplit([1]),
    "dsplit": lambda m, x: m.dsplit(x, 2),
    "split_with_sizes": lambda m, x: x.split_with_sizes([3, 1], 2),
    "unsafe_split": lambda m, x: m.unsafe_split(x, 2, 2),
    "unsafe_chunk": lambda m, x: x.unsafe_chunk(3, 1),
    "fliplr": lambda m, x: m.fliplr(x),
    "flipud": lambda m, x: x.flipud(),
    "rot90": lambda m, x: m.rot90(x, 1, (1, 2)),
    "rot90_negative": lambda m, x: x.rot90(-1, [0, 2]),
    "column_stack": lambda m, x: m.column_stack([x[0, :, 0], x[0]]),
    "row_stack": lambda m, x: m.row_stack([x[0], x[1, 0]]),
    "block_diag": lambda m, x: m.block_diag(x[0], x[1, 0], x[1, 1, 1]),
    "cartesian_prod": lambda m, x: m.cartesian_prod(x[0, 0], x[1, 1, :2], x[1, 2, :3]),
    "combinations": lambda m, x: m.combinations(x[0, 0], 3),
    "combinations_with_replacement": lambda m, x: m.combinations(x[0, 0], 2, with_replacement=True),
    "unfold": lambda m, x: x.unfold(2, 2, 1),
    "sum_to_size": lambda m, x: x.sum_to_size(2, 1, 4),
    "as_strided": lambda m, x: m.as_strided(x, (3, 2), (2, 5), 1),
    "as_strided_method": lambda m, x: x.as_strided((2, 2, 2), (12, 1, 4)),
    "diag_embed": lambda m, x: m.diag_embed(x, 1, 0, 2),
    "diagflat": lambda m, x: m.diagflat(x[0], -1),
    "diagonal_scatter": lambda m, x: m.diagonal_scatter(x, x[:, :, 0] * 2, 1, 1, 2),
    "select_scatter": lambda m, x: x.select_scatter(x[:, 0] * 3, 1, -1),
    "slice_scatter": lambda m, x: m.slice_scatter(x, x[..., ::2] * 2, 2, 1, None, 2),
    "index_put": lambda m, x: m.index_put(x, (m.tensor([0, 1]), m.tensor([2, 0])), x[0, 0] * 5),
    "index_put_accumulate": lambda m, x: x.index_put((m.tensor([0, 0]), m.tensor([1, 1])), x[1, 0] * 5, True),
    "masked_scatter": lambda m, x: m.masked_scatter(x, x > 0.5, x * 10),
    "put": lambda m, x: x.put(m.tensor([3, -1]), x[0, 0, :2]),
    "put_accumulate": lambda m, x: m.put(x, m.tensor([3, -1, 3]), x[0, 0, :3], accumulate=True),
    "where_method": lambda m, x: x.where(x > 0, x * 2),
    "ravel": lambda m, x: x.ravel(),
    "atleast_3d": lambda m, x: m.atleast_3d(x[0, 0], x[0, 0, 0], x[0]),
}
_INDEX = [[[0, 1, 0, 2]] * 2] * 2
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _include in (True, False):
        CALLS[f"scatter_reduce_{_reduce}_{_include}"] = (
            lambda m, x, r=_reduce, i=_include: m.scatter_reduce(x, 1, m.tensor(_INDEX), x[:, :2] * 3, r,
                                                                 include_self=i))
for _reduce in ("prod", "mean", "amax", "amin"):
    for _include in (True, False):
        CALLS[f"index_reduce_{_reduce}_{_include}"] = (
            lambda m, x, r=_reduce, i=_include: x.index_reduce(2, m.tensor([0, 0, 3]), x[..., :3] * 2, r,
                                                               include_self=i))


def _outputs(result) -> list:
    return list(result) if isinstance(result, (list, tuple)) else [result]


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("name", sorted(CALLS))
def test_values_and_gradients_match_torch(name):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    x, tx = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = _outputs(CALLS[name](ember, x)), _outputs(CALLS[name](torch, tx))
    assert len(ours) == len(theirs)
    weights = [np.random.default_rng(k + 1).standard_normal(tuple(t.shape)) for k, t in enumerate(theirs)]
    for o, t in zip(ours, theirs):
        assert tuple(o.shape) == tuple(t.shape) and str(o.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-12)
    sum((o * ember.tensor(w)).sum() for o, w in zip(ours, weights)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights)).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_scatter_reduce_splits_the_gradient_evenly_among_ties_as_torch(reduce):
    x = np.array([[2.0, 1.0, 5.0], [0.0, 4.0, 5.0]])
    src = np.array([[2.0, 1.0, 5.0], [2.0, 1.0, 5.0], [-1.0, 1.0, 0.0]])
    index = [[0, 0, 1], [0, 0, 1], [1, 0, 1]]
    grads = []
    for m in (ember, torch):
        a, s = m.tensor(x, requires_grad=True), m.tensor(src, requires_grad=True)
        out = m.scatter_reduce(a, 0, m.tensor(index), s, reduce)
        (out * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        grads.append((out.detach().numpy(), a.grad.numpy(), s.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)


def test_scatter_reduce_prod_gradients_with_zeros_match_torch():
    src = np.array([0.0, 2.0, 3.0, 0.0, 0.0, 4.0])
    index = [0, 0, 0, 1, 1, 2]
    for include_self in (True, False):
        grads = []
        for m in (ember, torch):
            a = m.tensor(np.array([1.5, 2.0, 0.0]), requires_grad=True)
            s = m.tensor(src, requires_grad=True)
            m.scatter_reduce(a, 0, m.tensor(index), s, "prod", include_self=include_self).sum().backward()
            grads.append((a.grad.numpy(), s.grad.numpy()))
        np.testing.assert_array_equal(grads[0][0], grads[1][0])
        np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_scatter_reduce_and_index_reduce_on_integers_match_torch():
    x, src = np.array([5, -3, 7, 2]), np.array([4, -8, 1, 9, -2])
    index = [0, 0, 1, 3, 3]
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            ours = ember.scatter_reduce(ember.tensor(x), 0, ember.tensor(index), ember.tensor(src), reduce,
                                        include_self=include_self)
            theirs = torch.scatter_reduce(torch.tensor(x), 0, torch.tensor(index), torch.tensor(src), reduce,
                                          include_self=include_self)
            assert ours.dtype == np.int64
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=f"{reduce} {include_self}")


def test_scatter_index_copy_and_index_fill_take_complex_tensors_as_torch():
    # their counts compared complex numbers (TypeError: lt is not implemented for complex tensors)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)) + 1j * rng.standard_normal((4, 5))
    src = rng.standard_normal((3, 5)) + 1j * rng.standard_normal((3, 5))
    index = np.array([[0, 1, 2, 0, 0], [3, 3, 0, 1, 1], [2, 2, 2, 2, 0]])
    calls = [lambda m, a, s: a.index_fill(1, m.tensor([1, 3]), 1 + 2j),
             lambda m, a, s: a.index_copy(0, m.tensor([2, 0, 1]), s),
             lambda m, a, s: a.scatter(0, m.tensor(index[:1]), s[:1]),
             lambda m, a, s: a.scatter(0, m.tensor(index), 2.0),
             lambda m, a, s: a.scatter_reduce(0, m.tensor(index), s, "sum"),
             lambda m, a, s: a.scatter_reduce(0, m.tensor(index), s, "mean", include_self=False)]
    for call in calls:
        ours = call(ember, ember.tensor(x), ember.tensor(src))
        theirs = call(torch, torch.tensor(x), torch.tensor(src))
        assert ours.dtype == np.complex128
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for m, t in ((ember, a), (torch, b)):
        (t.index_fill(1, m.tensor([1, 3]), 2.0).abs() ** 2).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy())


def test_negative_indices_are_refused_where_torch_refuses_them():
    # NumPy counted -1 from the end: gather, the scatters, index_add/index_copy/index_select and index_reduce
    # read or wrote the last row silently where PyTorch raises
    x = np.arange(12.0).reshape(3, 4)
    calls = [
        ("gather", lambda m, a: a.gather(0, m.tensor([[-1, 0, 0, 0]]))),
        ("scatter_add", lambda m, a: a.scatter_add(0, m.tensor([[-1, 0, 0, 0]]), a[:1])),
        ("scatter_reduce", lambda m, a: a.scatter_reduce(0, m.tensor([[-1, 0, 0, 0]]), a[:1], "amax")),
        ("scatter_add", lambda m, a: a.scatter(0, m.tensor([[-1, 0, 0, 0]]), 5.0)),
        ("index_add", lambda m, a: a.index_add(1, m.tensor([-1]), a[:, :1])),
        ("index_copy", lambda m, a: a.index_copy(0, m.tensor([-1]), a[:1])),
        ("index_select", lambda m, a: a.index_select(1, m.tensor([-1]))),
        ("index_reduce", lambda m, a: a.index_reduce(0, m.tensor([-1]), a[:1], "prod")),
    ]
    for name, call in calls:
        with pytest.raises((IndexError, RuntimeError)):
            call(torch, torch.tensor(x))
        with pytest.raises(IndexError, match=f"{name}: index -1 is out of bounds"):
            call(ember, ember.tensor(x))
    # where PyTorch counts them from the end, so does Ember
    for call in (lambda m, a: m.take_along_dim(a, m.tensor([[-1], [0], [-4]]), 1),
                 lambda m, a: a.index_fill(0, m.tensor([-1]), 5.0), lambda m, a: a.take(m.tensor([-1])),
                 lambda m, a: a[m.tensor([-1])]):
        np.testing.assert_array_equal(call(ember, ember.tensor(x)).numpy(), call(torch, torch.tensor(x)).numpy())


def test_in_place_forms_write_what_the_functions_return():
    a = np.random.default_rng(2).standard_normal((3, 4))
    cases = [
        ("scatter_reduce_", (1, [[0, 0, 3]] * 3, np.ones((3, 3)), "amax"), {"include_self": False}),
        ("index_reduce_", (0, [2, 2], np.full((2, 4), 3.0), "prod"), {}),
        ("masked_scatter_", (a > 0, np.arange(12.0).reshape(3, 4)), {}),
        ("put_", ([0, 11, 0], np.array([1.0, 2.0, 3.0])), {"accumulate": True}),
        ("index_put_", ((np.array([0, 2]), np.array([1, 1])), np.array(7.0)), {}),
    ]
    for name, args, kwargs in cases:
        ours, theirs = ember.tensor(a), torch.tensor(a)
        conv = [(ember.tensor(v) if isinstance(v, (np.ndarray, list)) else
                 tuple(ember.tensor(i) for i in v) if isinstance(v, tuple) else v) for v in args]
        tconv = [(torch.tensor(np.asarray(v)) if isinstance(v, (np.ndarray, list)) else
                  tuple(torch.tensor(i) for i in v) if isinstance(v, tuple) else v) for v in args]
        assert getattr(ours, name)(*conv, **kwargs) is ours
        getattr(theirs, name)(*tconv, **kwargs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)


def test_index_functions_match_torch():
    for row, col, offset in [(3, 4, 1), (4, 3, -1), (0, 2, 0), (5, 5, 7)]:
        for name in ("tril_indices", "triu_indices"):
            ours, theirs = getattr(ember, name)(row, col, offset), getattr(torch, name)(row, col, offset)
            assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ember.tril_indices(3, 3, dtype=ember.int32).dtype == np.int32
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    np.testing.assert_array_equal(ember.argwhere(ember.tensor(a)).numpy(), torch.argwhere(torch.tensor(a)).numpy())
    for size, fill in [(2, -1), (5, 9), (0, -1)]:
        np.testing.assert_array_equal(ember.tensor(a).nonzero_static(size=size, fill_value=fill).numpy(),
                                      torch.tensor(a).nonzero_static(size=size, fill_value=fill).numpy())
    flat = [[-1, 7], [3, 23]]
    ours = ember.unravel_index(ember.tensor(flat), (2, 3, 4))
    theirs = torch.unravel_index(torch.tensor(flat), (2, 3, 4))
    for o, t in zip(ours, theirs, strict=True):
        assert o.dtype == np.int64
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("a", [np.array([[0.0, 1.5, 0.0], [2.0, 0.0, np.nan]]), np.zeros((2, 0)), np.array(3.0),
                               np.array([True, False, True, True])])
def test_nonzero_static_has_a_static_shape_so_jit_traces_it(a):
    # its size is fixed by the argument; it refused to build a graph as nonzero does
    for size, fill in [(2, -1), (6, 9), (0, -1)]:
        expected = torch.nonzero_static(torch.tensor(a), size=size, fill_value=fill).numpy()
        traced = ember.jit(lambda x, size=size, fill=fill: ember.nonzero_static(x, size=size, fill_value=fill))
        for ours in (ember.nonzero_static(ember.tensor(a), size=size, fill_value=fill), traced(ember.tensor(a))):
            assert ours.dtype == np.int64 and ours.shape == expected.shape
            np.testing.assert_array_equal(ours.numpy(), expected)


def test_atleast_forms_match_torch():
    for m_args in [(3.0,), ([1.0, 2.0],), (np.ones((2, 3)),)]:
        for name in ("atleast_1d", "atleast_2d", "atleast_3d"):
            ours, theirs = getattr(ember, name)(ember.tensor(m_args[0])), getattr(torch, name)(torch.tensor(m_args[0]))
            assert ours.shape == tuple(theirs.shape)
    pair = ember.atleast_2d([ember.tensor(1.0), ember.tensor([1.0, 2.0])])
    assert isinstance(pair, tuple) and [p.shape for p in pair] == [(1, 1), (1, 2)]


def test_tensor_split_takes_torch_index_forms():
    a = torch.arange(7)
    for sections in (3, [5, 2, 9], torch.tensor([1, 5]), torch.tensor(2)):
        ours = ember.tensor_split(ember.arange(7), ember.tensor(sections.numpy()) if isinstance(sections, torch.Tensor)
                                  else sections)
        assert [p.tolist() for p in ours] == [p.tolist() for p in torch.tensor_split(a, sections)]
    # PyTorch's keyword names for the second argument (refused as unexpected keywords before)
    for name, value in (("sections", 3), ("indices", [1, 5]), ("tensor_indices_or_sections", [2])):
        ours = ember.arange(7).tensor_split(**{name: ember.tensor(value) if name.startswith("tensor") else value})
        theirs = a.tensor_split(**{name: torch.tensor(value) if name.startswith("tensor") else value})
        assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]


def test_split_and_chunk_of_an_empty_dim_give_torchs_parts():
    # split(2) of an empty dim gave no part and chunk(3) one, where PyTorch gives one and three
    for shape, call in [((0, 5), lambda t: t.split(2)), ((0, 5), lambda t: t.split(0)), ((0, 5), lambda t: t.chunk(3)),
                        ((5, 0), lambda t: t.chunk(4, 1)), ((5, 0), lambda t: t.split(3, dim=1))]:
        ours, theirs = call(ember.zeros(*shape)), call(torch.zeros(*shape))
        assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs]
    with pytest.raises(ValueError, match="split: the part size must be positive"):
        ember.zeros(3).split(0)


def test_cat_skips_1_d_empty_tensors_as_torch():
    # a (0,) tensor beside (3, 4) ones was refused ('shapes must match'), where PyTorch's cat adds nothing for it
    a = np.random.default_rng(0).standard_normal((3, 4))
    for m in (ember, torch):
        x, empty = m.tensor(a, requires_grad=True), m.zeros(0, dtype=m.float32, requires_grad=True)
        joined = [m.cat([empty, x, empty], 1), m.cat([x, empty], dim=-2), m.hstack([empty, x])]
        sum((j * (k + 2)).sum() for k, j in enumerate(joined)).backward()
        if m is ember:
            ours = [j.detach().numpy() for j in joined], x.grad.numpy(), tuple(empty.grad.shape)
        else:
            theirs = [j.detach().numpy() for j in joined], x.grad.numpy(), tuple(empty.grad.shape)
    for o, t in zip(ours[0], theirs[0]):
        assert o.dtype == t.dtype and o.shape == t.shape
        np.testing.assert_array_equal(o, t)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] == theirs[2] == (0,)
    assert ember.jit(lambda x, e: ember.cat([x, e], 1))(ember.ones(2, 3), ember.zeros(0)).shape == (2, 3)
    assert ember.cat([ember.zeros(0), ember.zeros(0, 3)]).shape == (0, 3)
    with pytest.raises(ValueError, match="concat: shapes must match"):
        ember.cat([ember.zeros(0), ember.zeros(3, 4), ember.zeros(2, 5)])


def test_unflatten_reads_the_sizes_against_the_dim_as_torch():
    # sizes were checked against the whole tensor: of (0, 4, 5), (3, 3) gave (0, 3, 3, 5) and (2, -1) failed; and
    # nn.Unflatten took dim modulo the rank, so dim 5 of a 3-d input split dim 2
    for shape, sizes in [((0, 4, 5), (2, -1)), ((0, 4, 5), (1, 4, 1)), ((2, 0, 5), (2, -1)), ((2, 0, 5), (2, 0)),
                         ((2, 4, 5), (-1,))]:
        for ours in (ember.zeros(*shape).unflatten(1, sizes), ember.nn.Unflatten(1, sizes)(ember.zeros(*shape))):
            assert ours.shape == tuple(torch.zeros(*shape).unflatten(1, sizes).shape)
    for shape, sizes in [((0, 4, 5), (3, 3)), ((2, 0, 5), (0, -1)), ((2, 0, 5), (4,)), ((2, 4, 5), (-1, -1)),
                         ((2, 4, 5), (2, -2))]:
        with pytest.raises(RuntimeError):
            torch.zeros(*shape).unflatten(1, sizes)
        with pytest.raises(ValueError, match="unflatten: sizes"):
            ember.zeros(*shape).unflatten(1, sizes)
    with pytest.raises(ValueError, match="unflatten: axis 5 is out of range"):
        ember.nn.Unflatten(5, (2, 2))(ember.zeros(2, 4, 5))
    step = ember.jit(lambda x: x.unflatten(0, (-1, 2)), dynamic=True)
    assert step(ember.zeros(4, 3)).shape == (2, 2, 3) and step(ember.zeros(6, 3)).shape == (3, 2, 3)


def test_unflatten_module_keeps_its_sizes_as_given_and_refuses_a_bare_int_as_torch():
    # the sizes were made a tuple (repr 'unflattened_size=(3, 4)' for PyTorch's [3, 4]), and a bare int failed with
    # "'int' object is not iterable"
    for sizes in ([3, 4], (3, 4), torch.Size([3, 4])):
        ours, theirs = ember.nn.Unflatten(1, sizes), torch.nn.Unflatten(1, sizes)
        assert repr(ours) == repr(theirs)
        assert ours(ember.zeros(2, 12)).shape == tuple(theirs(torch.zeros(2, 12)).shape) == (2, 3, 4)
    with pytest.raises(TypeError, match="unflattened_size must be a tuple"):
        torch.nn.Unflatten(1, 12)
    with pytest.raises(TypeError, match="Unflatten: unflattened_size must be a tuple or list of ints, got int 12"):
        ember.nn.Unflatten(1, 12)


def test_index_select_and_squeeze_of_a_0_d_tensor_as_torch():
    # index_select gave shape [1] where PyTorch keeps the 0-d shape, and squeeze(0) failed inside (IndexError)
    for m in (ember, torch):
        x = m.tensor(2.5, requires_grad=True)
        picked = x.index_select(0, m.tensor([0]))
        assert tuple(picked.shape) == () and tuple(x.squeeze(0).shape) == ()
        (picked * 3).backward()
        assert x.grad.item() == 3.0
    with pytest.raises(IndexError, match="index_select: an index into a 0-d tensor must have one value"):
        ember.tensor(2.5).index_select(0, ember.tensor([0, 0]))


def test_index_add_fill_copy_and_reduce_of_a_0_d_tensor_as_torch():
    # each failed on a 0-d input (index_copy's error named index_add) where PyTorch indexes it as one element
    calls = [lambda m, a, s: a.index_add(0, m.tensor([0]), s, alpha=2),
             lambda m, a, s: a.index_fill(0, m.tensor(0), s),
             lambda m, a, s: a.index_copy(0, m.tensor([0]), s),
             lambda m, a, s: a.index_reduce(0, m.tensor([0]), s, "prod"),
             lambda m, a, s: a.index_reduce(0, m.tensor([0]), s, "mean")]
    for call in calls:
        results = []
        for m in (ember, torch):
            a, s = m.tensor(2.0, requires_grad=True), m.tensor(5.0, requires_grad=True)
            out = call(m, a, s)
            (out * 3).backward()
            results.append((tuple(out.shape), out.item(), a.grad.item(), s.grad.item()))
        assert results[0] == results[1]


def test_swapping_a_0_d_tensors_axis_and_unfolding_it_by_0_as_torch():
    # swapaxes/swapdims/transpose(0, -1) of a 0-d tensor failed (an IndexError from the empty axis list); unfold
    # of a 0-d tensor by size 0 gave its element (shape [1]), where PyTorch's gives none
    calls = [lambda x: x.swapaxes(0, -1), lambda x: x.swapdims(-1, -1), lambda x: x.transpose(0, 0),
             lambda x: x.transpose(-1, 0), lambda x: x.unfold(0, 0, 1), lambda x: x.unfold(-1, 1, 2)]
    for call in calls:
        results = []
        for m in (ember, torch):
            x = m.tensor(2.5, requires_grad=True)
            out = call(x)
            (out * 3).sum().backward()
            results.append((tuple(out.shape), out.tolist(), x.grad.item()))
        assert results[0] == results[1]


def test_as_strided_to_0_d_and_masked_scatter_of_a_0_d_tensor_as_torch():
    # as_strided((), ()) gave shape [1] (ascontiguousarray of a 0-d index), masked_scatter of a 0-d tensor failed
    # in NumPy's nonzero
    for m in (ember, torch):
        x = m.tensor(np.arange(6.0))
        assert tuple(x.as_strided((), (), 4).shape) == () and x.as_strided((), (), 4).item() == 4.0
    results = []
    for m in (ember, torch):
        x, src = m.tensor(1.0, requires_grad=True), m.tensor([5.0, 6.0], requires_grad=True)
        out = x.masked_scatter(m.tensor(True), src)
        (out * 3).backward()
        results.append((tuple(out.shape), out.item(), x.grad.item(), src.grad.tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("call, message", [
    (lambda: ember.hsplit(ember.arange(5), 2), "hsplit: dimension 0 of size 5"),
    (lambda: ember.vsplit(ember.arange(5), 1), "vsplit: expects a tensor of at least 2 dimensions"),
    (lambda: ember.narrow(ember.arange(5), 0, 3, 4), r"narrow: start \(3\) \+ length \(4\) exceeds"),
    (lambda: ember.t(ember.zeros(2, 2, 2)), "t: expects a tensor of at most 2 dimensions"),
    (lambda: ember.tensor(1.0).select(0, 0), "select: a 0-d tensor has no dimension"),
    (lambda: ember.tensor(1.0).unbind(), "unbind: a 0-d tensor has no dimension"),
    (lambda: ember.tensor(1.0).split(1), "split: expects a tensor of at least one dimension"),
    (lambda: ember.tensor(1.0).chunk(1), "chunk: expects a tensor of at least one dimension"),
    (lambda: ember.zeros(2, 3).masked_select(ember.ones(5) > 0), r"masked_select: the mask of shape \[5\]"),
    (lambda: ember.rot90(ember.zeros(2, 2), 1, (0, 0)), "rot90: dims"),
    (lambda: ember.movedim(ember.zeros(2, 3), (0, 1), 0), "movedim: source"),
    (lambda: ember.zeros(2, 3).sum_to_size(4), r"sum_to_size: size \[4\] is not expandable"),
    (lambda: ember.as_strided(ember.zeros(4), (3,), (2,)), "as_strided: size"),
    (lambda: ember.zeros(5).unfold(0, 6, 1), "unfold: size 6 exceeds"),
    (lambda: ember.combinations(ember.zeros(2, 2)), "combinations: expects a 1-D tensor"),
    (lambda: ember.block_diag(ember.zeros(1, 1, 1)), "block_diag: expects tensors of at most 2 dimensions"),
    (lambda: ember.select_scatter(ember.zeros(2, 3), ember.zeros(2), 0, 0), r"select_scatter: src of shape \[2\]"),
    (lambda: ember.masked_scatter(ember.zeros(3), ember.tensor([True, True, False]), ember.zeros(1)),
     "masked_scatter: the mask selects 2 elements"),
    (lambda: ember.put(ember.zeros(3), ember.tensor([3]), ember.zeros(1)), "put: index values"),
    (lambda: ember.index_put(ember.zeros(3), (ember.tensor([0, 1]),), ember.zeros(3)), "index_put: values"),
    (lambda: ember.scatter_reduce(ember.zeros(3), 0, ember.tensor([0]), ember.zeros(1), "max"),
     "scatter_reduce: reduce must be one of"),
    (lambda: ember.scatter_reduce(ember.zeros(3), 0, ember.tensor([[0]]), ember.zeros(1), "amax"),
     "scatter_reduce: index and src must have as many dimensions"),
    (lambda: ember.scatter_reduce(ember.tensor(np.zeros(2, complex)), 0, ember.tensor([0, 0]),
                                  ember.tensor(np.array([1 + 9j, 1 + 1j])), "amax"),
     "scatter_reduce: reduce='amax' is not defined for complex tensors"),
    (lambda: ember.index_reduce(ember.zeros(3, 2), 0, ember.tensor([0]), ember.zeros(2, 2), "amax"),
     r"index_reduce: source of shape \[2, 2\] must have shape \[1, 2\]"),
    (lambda: ember.take_along_dim(ember.zeros(2, 3), ember.tensor([0]), 1), "take_along_dim: input of shape"),
])
def test_bad_input_is_refused_with_the_op_named(call, message):
    with pytest.raises((ValueError, TypeError, IndexError), match=message):
        call()


def test_scatter_reduce_amax_gradient_under_jit_matches_eager_and_torch():
    a = np.random.default_rng(3).standard_normal((3, 4))
    index = ember.tensor([[0, 2, 0, 1], [0, 2, 0, 1]])
    t = torch.tensor(a, requires_grad=True)
    expected = torch.scatter_reduce(t, 0, torch.tensor(index.numpy()), t[1:] * 2, "amax")
    (expected * expected).sum().backward()

    def step(x):
        out = ember.scatter_reduce(x, 0, index, x[1:] * 2, "amax")
        loss = (out * out).sum()
        loss.backward()
        return ember.diag_embed(out).sum(-1), loss

    x = ember.tensor(a, requires_grad=True)
    traced = ember.jit(step)
    for fn in (step, traced, traced):  # eager, the trace, then its compiled code
        x.grad = None
        out, _ = fn(x)
        np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_scatter_reduce_second_order_gradient_matches_torch():
    a, s = np.array([1.5, -2.0, 0.5]), np.array([0.7, 3.0, -1.2, 2.0])
    index = [0, 0, 2, 2]
    results = []
    for m in (ember, torch):
        x, src = m.tensor(a, requires_grad=True), m.tensor(s, requires_grad=True)
        out = m.scatter_reduce(x, 0, m.tensor(index), src, "prod")
        grad = ember.grad if m is ember else torch.autograd.grad
        (gx,) = grad((out ** 2).sum(), x, create_graph=True)
        (gs,) = grad(gx.sum(), src)
        results.append((gx.detach().numpy(), gs.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


class _OtherArrays:
    """NumPy posing as another array module, to run scatter_reduce's path for modules without ufunc.at."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin"])
def test_scatter_reduce_without_ufunc_at_gives_numpys_bits(reduce):
    from ember.ops.scatter_reduce import reduce_at

    rng = np.random.default_rng(4)
    index = rng.integers(0, 3, (5, 6))
    at = (index, np.arange(6)[None, :])
    values = rng.standard_normal((5, 6))
    expected = rng.standard_normal((3, 6))
    got = expected.copy()
    getattr(np, {"prod": "multiply", "amax": "maximum", "amin": "minimum"}[reduce]).at(expected, at, values)
    reduce_at(_OtherArrays(), got, at, values, reduce)
    np.testing.assert_array_equal(got, expected)

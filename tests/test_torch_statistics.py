"""PyTorch's statistics and counting functions (histc, unique with dim, unique_consecutive) against PyTorch:
values, dtypes, shapes, ties, NaN, gradients and errors."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NAN = float("nan")


def _same(ours, theirs, exact=False, rtol=1e-5, atol=1e-6):
    theirs = theirs.detach().numpy()
    ours = np.asarray(ours.detach().numpy())
    assert ours.shape == theirs.shape and str(ours.dtype) == str(theirs.dtype), (ours.shape, theirs.shape,
                                                                                  ours.dtype, theirs.dtype)
    if exact:
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def _both(array, grad=False):
    return ember.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _same_tuple(ours, theirs, exact=True):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        _same(a, b, exact=exact)


def _grads(fn_ours, fn_theirs, array, seed=1):
    """The gradients of sum(f(x) * w) for a random w, ours and PyTorch's."""
    x, tx = _both(array, grad=True)
    out, tout = fn_ours(x), fn_theirs(tx)
    w = np.random.default_rng(seed).standard_normal(tuple(tout.shape)).astype(array.dtype)
    (out * ember.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    return x.grad, tx.grad


# --- histc -------------------------------------------------------------------------------------------------


def test_histc_matches_torch_at_the_edges_outside_the_range_and_with_nan():
    data = np.array([0.0, 1.0, 1.5, 2.0, 3.0, -0.5, 3.5, 2.999, NAN], np.float32)
    for args in ((4, 0, 3), (3, 1, 2), (5, -1, 4), (7, 0.1, 2.9)):
        _same(ember.histc(ember.tensor(data), *args), torch.histc(torch.tensor(data), *args), exact=True)
    finite = data[:-1]
    for array in (finite, finite.astype(np.float64), np.array([2.0, 2.0], np.float32), np.zeros(0, np.float32),
                  np.random.default_rng(0).standard_normal(1000).astype(np.float32)):
        _same(ember.histc(ember.tensor(array), bins=6), torch.histc(torch.tensor(array), bins=6), exact=True)
        _same(ember.tensor(array).histc(), torch.tensor(array).histc(), exact=True)
    x = ember.tensor(finite, requires_grad=True)
    assert not ember.histc(x, 3).requires_grad


def test_histc_errors_name_the_function_and_the_argument():
    with pytest.raises(ValueError, match="histc: bins must be positive, got 0"):
        ember.histc(ember.zeros(3), 0)
    with pytest.raises(ValueError, match=r"histc: max \(1.0\) must be at least min \(2.0\)"):
        ember.histc(ember.zeros(3), 4, 2, 1)
    with pytest.raises(TypeError, match="histc: expects a floating-point tensor, got int64"):
        ember.histc(ember.tensor([1, 2]), 3)
    with pytest.raises(ValueError, match=r"histc: the range \[nan, nan\] is not finite"):
        ember.histc(ember.tensor([1.0, NAN]), 3)
    with pytest.raises(ValueError, match=r"histc: the range \[0.0, inf\] is not finite"):
        ember.histc(ember.tensor([1.0]), 3, 0, float("inf"))


# --- unique with dim, unique_consecutive -------------------------------------------------------------------

_SLICES = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3], [1, 1, 2], [0, 5, 1], [0, 5, 1]])


@pytest.mark.parametrize("options", [{}, {"return_inverse": True}, {"return_counts": True},
                                     {"return_inverse": True, "return_counts": True}])
def test_unique_with_dim_and_unique_consecutive_match_torch(options):
    def check(ours, theirs):
        if options:
            _same_tuple(ours, theirs)
        else:
            _same(ours, theirs, exact=True)

    for array in (_SLICES, _SLICES.astype(np.float32) / 2, _SLICES > 1):
        x, tx = _both(array)
        for dim in (0, 1, -1):
            check(ember.unique(x, dim=dim, **options), torch.unique(tx, dim=dim, **options))
            check(x.unique(sorted=False, dim=dim, **options), tx.unique(sorted=False, dim=dim, **options))
            check(ember.unique_consecutive(x, dim=dim, **options), torch.unique_consecutive(tx, dim=dim, **options))
        check(ember.unique_consecutive(x, **options), torch.unique_consecutive(tx, **options))
        check(x.unique_consecutive(**options), tx.unique_consecutive(**options))
    x, tx = _both(np.zeros((0, 2), np.float32))
    check(ember.unique(x, dim=0, **options), torch.unique(tx, dim=0, **options))
    check(ember.unique_consecutive(x, dim=0, **options), torch.unique_consecutive(tx, dim=0, **options))
    x, tx = _both(np.arange(24).reshape(2, 3, 4) % 3)
    check(ember.unique(x, dim=2, **options), torch.unique(tx, dim=2, **options))
    check(ember.unique_consecutive(x, dim=1, **options), torch.unique_consecutive(tx, dim=1, **options))


def test_unique_keeps_each_nan_as_torch():
    # regression: NaNs were merged into one value (NumPy's unique merges them by default)
    x, tx = _both(np.array([NAN, 1.0, NAN, 1.0, 0.5]))
    _same_tuple(ember.unique(x, return_inverse=True, return_counts=True),
                torch.unique(tx, return_inverse=True, return_counts=True))
    _same_tuple(ember.unique_consecutive(ember.tensor([NAN, NAN, 1.0]), return_counts=True),
                torch.unique_consecutive(torch.tensor([NAN, NAN, 1.0]), return_counts=True))


def test_unique_and_unique_consecutive_refuse_a_graph_and_a_dim_out_of_range():
    with pytest.raises(TypeError, match="unique_consecutive: the size of its result depends on the values"):
        ember.jit(ember.unique_consecutive)(ember.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="unique"):
        ember.unique(ember.zeros(2, 3), dim=2)
    with pytest.raises(ValueError, match="unique_consecutive: dim needs a tensor of at least one dimension"):
        ember.unique_consecutive(ember.tensor(1.0), dim=0)



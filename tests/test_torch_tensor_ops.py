"""PyTorch's tensor functions and methods that Ember spells as PyTorch does, each checked against PyTorch."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _pair(*shape, seed=0, grad=False):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)


def _same(ours, theirs, exact=False):
    theirs = theirs.detach().numpy()
    ours = np.asarray(ours.detach().numpy())
    assert ours.shape == theirs.shape and str(ours.dtype) == str(theirs.dtype), (ours.dtype, theirs.dtype)
    if exact:
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# --- division and clamping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_modes_match_torch_in_values_and_dtypes(mode):
    a, b = np.array([-7, 7, -8, 5, 0]), np.array([2, -2, 2, -3, 4])
    for x, y in ((a, b), (a * 0.75, b * 1.0), (a.astype(np.int32), 3), (a.astype(np.int32), -2.5)):
        ours, theirs = (ember.tensor(y), torch.tensor(y)) if isinstance(y, np.ndarray) else (y, y)
        _same(ember.div(ember.tensor(x), ours, rounding_mode=mode),
              torch.div(torch.tensor(x), theirs, rounding_mode=mode), exact=True)
        _same(ember.tensor(x).div(ours, rounding_mode=mode), torch.tensor(x).div(theirs, rounding_mode=mode),
              exact=True)
    with pytest.raises(ValueError, match="div: rounding_mode must be one of .* got 'round'"):
        ember.div(ember.tensor(a), 2, rounding_mode="round")


def test_div_in_place_with_rounding_mode_and_true_divide_as_torch():
    ours, theirs = ember.tensor([-7.0, 7.5]), torch.tensor([-7.0, 7.5])
    ours.div_(2, rounding_mode="trunc")
    theirs.div_(2, rounding_mode="trunc")
    _same(ours, theirs, exact=True)
    ours /= 4
    theirs /= 4
    _same(ours, theirs, exact=True)
    _same(ember.true_divide(ember.tensor([1, 2]), 4), torch.true_divide(torch.tensor([1, 2]), 4))


def test_clamp_function_and_in_place_method_match_torch():
    (ours, theirs), (lo, lo_t) = _pair(3, 4, grad=True), _pair(4, seed=1)
    _same(ember.clamp(ours, -0.5, 0.5), torch.clamp(theirs, -0.5, 0.5))
    _same(ember.clamp(ours, min=lo), torch.clamp(theirs, min=lo_t))
    ember.clamp(ours, max=0.2).sum().backward()
    torch.clamp(theirs, max=0.2).sum().backward()
    _same(ours.grad, theirs.grad)
    plain, plain_t = _pair(5, seed=2)
    plain.clamp_(min=0.0)
    plain_t.clamp_(min=0.0)
    _same(plain, plain_t)


def test_clamp_with_numpy_scalar_bounds_keeps_the_dtype_as_torch():
    # np.clip widened float32 by a np.float64 bound: float64 out, where the shape rule (and PyTorch) says float32
    x = np.array([-1.0, 0.25, 2.0], np.float32)
    for bounds in ((np.float64(-0.5), np.float64(0.5)), (None, np.float64(0.5)), (np.float32(0.0), 1.0)):
        _same(ember.clamp(ember.tensor(x), *bounds), torch.clamp(torch.tensor(x), *bounds), exact=True)
    ints = np.array([0, 1, 2])
    _same(ember.clamp(ember.tensor(ints), np.float64(0.5)), torch.clamp(torch.tensor(ints), np.float64(0.5)),
          exact=True)
    _same(ember.clamp(ember.tensor(ints, dtype=ember.int32), np.int64(1)),
          torch.clamp(torch.tensor(ints, dtype=torch.int32), np.int64(1)), exact=True)


def test_clamp_of_a_real_tensor_by_a_complex_number_as_torch():
    # np.clip made the result complex: zeros(3).clamp(max=1 + 2j) gave [0j, 0j, 0j], clamp(1 + 0j) complex64 ones;
    # PyTorch refuses an imaginary part and keeps the tensor's dtype for a real-valued complex bound
    x = np.array([-1.0, 0.25, 2.0], np.float32)
    for bounds in ((1 + 0j, None), (-0.5 + 0j, 0.5 + 0j), (None, -1 + 0j)):
        _same(ember.clamp(ember.tensor(x), *bounds), torch.clamp(torch.tensor(x), *bounds), exact=True)
    ours = ember.tensor(x)
    ours.clamp_(0.5 + 0j)
    assert ours.tolist() == [0.5, 0.5, 2.0]
    for call in (lambda t: t.clamp(max=1 + 2j), lambda t: t.clamp_min(1j), lambda t: t.clamp_(-1 - 1j, 1.0)):
        with pytest.raises(TypeError, match=r"clamp: a complex bound .* cannot limit a float32 tensor"):
            call(ember.tensor(x))
        with pytest.raises(RuntimeError):
            call(torch.tensor(x))


def test_clamp_with_a_nan_tensor_bound_gives_nan_as_torch():
    # x < NaN is False: the NaN bound was skipped and x came back unclamped
    x = np.array([0.0, 1.0, np.nan, 2.0, 0.5], np.float32)
    lo = np.array([np.nan, 0.0, 0.0, 1.0, 0.5], np.float32)
    hi = np.array([1.0, np.nan, 1.0, 1.5, 0.5], np.float32)
    for bounds in ((lo, None), (None, hi), (lo, hi), (lo, 1.0)):
        _same(ember.clamp(ember.tensor(x), *(None if b is None else ember.tensor(b) for b in bounds)),
              torch.clamp(torch.tensor(x), *(None if b is None else torch.tensor(b) for b in bounds)), exact=True)


def test_clamp_gives_no_gradient_to_a_nan_input_or_bound_as_torch():
    # a NaN x failed the x < min and x > max tests and kept its gradient of 1, and a NaN tensor bound, which makes
    # the result NaN, got it; PyTorch's masks (min <= x <= max, x < min, x > max) give neither anything
    x = np.array([np.nan, 0.0, 2.0, -2.0, 0.5, np.nan], np.float64)
    lo = np.array([0.0, np.nan, -1.0, -1.0, -1.0, -1.0])
    hi = np.array([1.0, 1.0, np.nan, 1.0, 1.0, 1.0])
    for bounds in ((-1.0, 1.0), (-1.0, None), (None, 1.0), (lo, hi), (lo, None), (None, hi)):
        ours = [ember.tensor(v, requires_grad=True) for v in (x, *bounds) if isinstance(v, np.ndarray)]
        theirs = [torch.tensor(v, requires_grad=True) for v in (x, *bounds) if isinstance(v, np.ndarray)]
        o, t = iter(ours[1:]), iter(theirs[1:])
        ember.clamp(ours[0], *(next(o) if isinstance(b, np.ndarray) else b for b in bounds)).sum().backward()
        torch.clamp(theirs[0], *(next(t) if isinstance(b, np.ndarray) else b for b in bounds)).sum().backward()
        for a, b in zip(ours, theirs):
            _same(a.grad, b.grad, exact=True)


@pytest.mark.parametrize("bounds", [(3, 1), (2.5, 0.5), (1, -1.5)])
def test_clamp_with_min_above_max_gives_max_and_no_gradient_as_torch(bounds):
    for dtype in ("int64", "float32"):
        _same(ember.clamp(ember.tensor([0, 1, 2, 3]).to(getattr(ember, dtype)), *bounds),
              torch.clamp(torch.tensor([0, 1, 2, 3]).to(getattr(torch, dtype)), *bounds), exact=True)
    ours, theirs = ember.tensor([0.0, 1.0, 2.5, 3.0], requires_grad=True), torch.tensor([0.0, 1.0, 2.5, 3.0],
                                                                                       requires_grad=True)
    ours.clamp(*bounds).sum().backward()
    theirs.clamp(*bounds).sum().backward()
    _same(ours.grad, theirs.grad, exact=True)


def test_clamp_of_bfloat16_keeps_its_dtype_as_torch():
    # NumPy promotes bfloat16 with a Python bound to float32 (float16 stays): the result disagreed with the shape
    # rule, and ctc_loss's 'mean' of bfloat16 came back float32
    values = np.array([0.5, 1.5, 3.0], np.float32)
    ours = ember.tensor(values).to(ember.bfloat16)
    theirs = torch.tensor(values).to(torch.bfloat16)
    for lo, hi in ((1.0, None), (None, 2.0), (1.0, 2.0)):
        got, want = ember.clamp(ours, lo, hi), torch.clamp(theirs, lo, hi)
        assert got.dtype == ember.bfloat16
        np.testing.assert_array_equal(got.to(ember.float32).numpy(), want.float().numpy())
    log_probs = ember.tensor(np.log(np.full((6, 2, 4), 0.25, np.float32))).to(ember.bfloat16)
    loss = ember.nn.functional.ctc_loss(log_probs, ember.tensor([[1, 2], [3, 3]]), ember.tensor([6, 5]),
                                        ember.tensor([2, 2]))
    assert loss.dtype == ember.bfloat16


# --- running sums and products -----------------------------------------------------------------------------


def test_cumprod_gradient_through_zeros_matches_torch():
    values = np.array([[0.5, 0.0, 1.5, -2.0], [0.0, 1.3, 0.0, 0.7], [1.2, -0.7, 0.9, 1.1]], np.float32)
    ours, theirs = ember.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    weights = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    (ours.cumprod(1) * ember.tensor(weights)).sum().backward()
    (theirs.cumprod(1) * torch.tensor(weights)).sum().backward()
    _same(ours.grad, theirs.grad)


def _hessians(ours, theirs, values):
    weights = np.random.default_rng(1).standard_normal(values.shape[:1])
    got = ember.autograd.functional.hessian(lambda x: (ours(x).sum(-1) * ember.tensor(weights)).sum(),
                                            ember.tensor(values))
    want = torch.autograd.functional.hessian(lambda x: (theirs(x).sum(-1) * torch.tensor(weights)).sum(),
                                             torch.tensor(values))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_cumprod_hessian_through_zeros_matches_torch():
    # after a row's first zero the gradient was a constant 0, so its derivative with respect to that zero was
    # lost: the Hessian of cumprod([2, 0, 3]).sum() was not symmetric (entry [2, 1] 0, not 2)
    values = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 0.0, 1.3, 0.7, 0.0], [1.2, -0.7, 0.9, 1.1, 0.4]])
    _hessians(lambda x: x.cumprod(1), lambda x: x.cumprod(1), values)


def test_prod_hessian_with_two_zeros_matches_torch():
    # at a zero the gradient (the product of the others) was a constant 0 when another element was zero too, so
    # its derivative with respect to that other zero (the product of the rest) was lost: 0 where PyTorch has 6
    values = np.array([[2.0, 0.0, 3.0, 0.0], [0.0, 1.5, 0.0, 0.0], [1.2, -0.7, 0.0, 1.1], [1.2, -0.7, 0.9, 1.1]])
    _hessians(lambda x: x.prod(1, keepdim=True), lambda x: x.prod(1, keepdim=True), values)
    _hessians(lambda x: x.reshape(1, -1).prod(1, keepdim=True), lambda x: x.reshape(1, -1).prod(1, keepdim=True),
              values[:2])


@pytest.mark.parametrize("name", ["sum", "nansum", "prod", "cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["int32", "int16", "uint8", "float16"])
def test_sums_and_products_stay_in_a_requested_dtype_wrapping_as_torch(name, dtype):
    x = [[100, 200, 7], [3, -4, 90]]
    got = getattr(ember, name)(ember.tensor(x), 1, dtype=getattr(ember, dtype))
    _same(got, getattr(torch, name)(torch.tensor(x), 1, dtype=getattr(torch, dtype)), exact=True)
    assert getattr(ember.tensor(x), name)(1, dtype=getattr(ember, dtype)).dtype == got.dtype


def test_mean_refuses_an_integer_dtype_as_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).mean(dtype=torch.int32)
    with pytest.raises(TypeError, match="mean: dtype must be a floating point or complex dtype, got int32"):
        ember.tensor([1.0, 2.0]).mean(dtype=ember.int32)
    _same(ember.tensor([1, 2]).mean(dtype=ember.float64), torch.tensor([1, 2]).mean(dtype=torch.float64))


def test_cumsum_needs_a_dim_in_range():
    with pytest.raises(TypeError, match=r"cumsum: give the dimension .* shape \[2, 3\]"):
        ember.cumsum(ember.zeros(2, 3))
    with pytest.raises(ValueError, match=r"cumprod.*axis 2.*\[2, 3\]"):
        ember.zeros(2, 3).cumprod(2)


# --- indices of true elements ------------------------------------------------------------------------------


def test_one_argument_where_and_nonzero_give_torchs_indices():
    x = np.array([[0, 1, 0], [2, 0, 3]])
    for cond in (x, x > 0, np.array([0.0, 1.5, 0.0])):
        ours, theirs = ember.where(ember.tensor(cond)), torch.where(torch.tensor(cond))
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b, exact=True)
        _same(ember.tensor(cond).nonzero(), torch.tensor(cond).nonzero(), exact=True)
        for a, b in zip(ember.nonzero(ember.tensor(cond), as_tuple=True), torch.nonzero(torch.tensor(cond),
                                                                                        as_tuple=True)):
            _same(a, b, exact=True)
    picked = ember.tensor(x * 1.0)[ember.where(ember.tensor(x > 0))]
    assert picked.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="where: give both a and b, or neither"):
        ember.where(ember.tensor(x > 0), 1.0)


@pytest.mark.parametrize("dtype, number", [("int8", 1000), ("int8", 200), ("uint8", 256), ("int32", 2 ** 40)])
def test_where_refuses_a_python_int_its_integer_dtype_cannot_hold_as_torch(dtype, number):
    # where(c, int8 tensor, 1000) wrapped the number silently (picking -24); PyTorch refuses it
    cond = np.array([True, False])
    x = np.array([1, 2], dtype=dtype)
    with pytest.raises(RuntimeError, match="without overflow"):
        torch.where(torch.tensor(cond), torch.tensor(x), number)
    for args in ((ember.tensor(x), number), (number, ember.tensor(x))):
        with pytest.raises(RuntimeError, match=f"where: value {number} cannot be converted to {dtype}"):
            ember.where(ember.tensor(cond), *args)
    with pytest.raises(RuntimeError, match="where: value"):
        ember.tensor(x).where(ember.tensor(cond), number)
    # numbers that fit (and a negative one into uint8, which PyTorch wraps too) stay accepted
    for fits in (127 if dtype == "int8" else 255, -1):
        _same(ember.where(ember.tensor(cond), ember.tensor(x), fits),
              torch.where(torch.tensor(cond), torch.tensor(x), fits), exact=True)


# --- indexing by dimension ---------------------------------------------------------------------------------


def test_select_unbind_and_diagonal_name_bad_arguments():
    x = ember.zeros(2, 3)
    with pytest.raises(IndexError, match=r"select: index 3 is out of range for dimension 1 of size 3 .*\[2, 3\]"):
        x.select(1, 3)
    with pytest.raises(ValueError, match=r"diagonal: axis1 and axis2 are both dimension 1 .*\[2, 3\]"):
        x.diagonal(0, 1, -1)
    with pytest.raises(ValueError, match=r"diag: expects a 1-D or 2-D tensor .*\[2, 3, 1\]"):
        ember.diag(ember.zeros(2, 3, 1))
    assert [tuple(t.shape) for t in x.unbind(1)] == [tuple(t.shape) for t in torch.zeros(2, 3).unbind(1)]


# --- adding and putting at indices -------------------------------------------------------------------------


def test_take_reads_the_flattened_tensor_as_torch_take():
    # with no axis it took whole rows along dim 0 (an index below the first size gave rows, silently)
    (x, tx), index = _pair(3, 4, 2, grad=True), np.array([[0, 23], [-1, 5]])
    ours, theirs = ember.take(x, ember.tensor(index)), torch.take(tx, torch.tensor(index))
    _same(ours, theirs, exact=True)
    _same(x.take(ember.tensor(index)), tx.take(torch.tensor(index)), exact=True)
    ours.sum().backward()
    theirs.sum().backward()
    _same(x.grad, tx.grad, exact=True)
    _same(ember.take(x, ember.tensor([2, 0]), 1), torch.index_select(tx, 1, torch.tensor([2, 0])), exact=True)


def test_index_add_takes_torchs_argument_order_and_alpha():
    (ours, theirs), (src, src_t) = _pair(4, 3, grad=True), _pair(3, 3, seed=1, grad=True)
    index = np.array([2, 0, 2])
    result = ours.index_add(0, ember.tensor(index), src, alpha=0.5)
    expected = theirs.index_add(0, torch.tensor(index), src_t, alpha=0.5)
    _same(result, expected)
    _same(ember.index_add(ours, dim=1, index=ember.tensor([1, 1, 0]), source=ours),
          torch.index_add(theirs, dim=1, index=torch.tensor([1, 1, 0]), source=theirs))
    (result * result).sum().backward()
    (expected * expected).sum().backward()
    _same(ours.grad, theirs.grad)
    _same(src.grad, src_t.grad)
    _same(ember.index_add(ours, ember.tensor(index), src), theirs.index_add(0, torch.tensor(index), src_t))
    with pytest.raises(TypeError, match="index_add.* multiple values for argument .index."):
        ember.index_add(ours, 0, ember.tensor(index), index=ember.tensor(index))


@pytest.mark.parametrize("statement", [
    "t.index_add_(1, lib.tensor([0, 2, 0]), lib.ones(2, 3), alpha=2)",
    "t.scatter_add_(0, lib.tensor([[1, 0, 1, 1]]), lib.ones(1, 4))",
    "t.index_put_((lib.tensor([0, 1, 1]), lib.tensor([3, 0, 0])), lib.tensor(5.0), accumulate=True)",
    "t.index_put_((lib.tensor([1, 0]),), lib.tensor([[1.0, 2.0, 3.0, 4.0]]))",
    "t.index_put_((lib.tensor([[True, False, True, False], [False] * 4]),), lib.tensor([7.0, 8.0]))",
])
def test_in_place_index_updates_write_into_every_alias_as_torch(statement):
    results = []
    for lib in (ember, torch):
        t = lib.arange(8.0).reshape(2, 4)
        view = t.detach()
        assert eval(statement) is t
        results.append(view)
    _same(*results, exact=True)


def test_masked_scatter_out_of_place_broadcasts_the_input_to_the_mask_as_torch():
    """A (1, 4) input with a (3, 4) mask was refused ('does not broadcast to the input') where PyTorch's out-of-place
    masked_scatter expands the input; the in-place form still refuses to grow the tensor, as PyTorch's."""
    rng = np.random.default_rng(0)
    x, mask, source = rng.standard_normal((1, 4)), rng.random((3, 4)) > 0.4, rng.standard_normal((3, 4))
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_s, theirs_s = ember.tensor(source, requires_grad=True), torch.tensor(source, requires_grad=True)
    got = ours.masked_scatter(ember.tensor(mask), ours_s)
    expected = theirs.masked_scatter(torch.tensor(mask), theirs_s)
    _same(got, expected, exact=True)
    (got * got).sum().backward()
    (expected * expected).sum().backward()
    _same(ours.grad, theirs.grad)
    _same(ours_s.grad, theirs_s.grad)
    with pytest.raises(RuntimeError):
        torch.tensor(x).masked_scatter_(torch.tensor(mask), torch.tensor(source))
    with pytest.raises((RuntimeError, ValueError)):
        ember.tensor(x).masked_scatter_(ember.tensor(mask), ember.tensor(source))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_index_put_accumulate_adds_each_value_into_the_tensor_in_turn_as_torch(dtype):
    """index_put(accumulate=True) summed the repeated values first and added the sum once, so bfloat16 256 plus
    two ones read 258 where PyTorch's loop rounds 257 back to 256 each time (float32 and float64 off in the last
    bit); it now matches bit for bit, out of place, recorded in place, through put and under ember.jit."""
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal((5, 3)) * 300, rng.standard_normal((9, 3)) * 30
    x[0, 0], v[:2, 0] = 256.0, 1.0
    rows = np.array([0, 0, 2, 4, 2, 2, 0, 1, 4])
    ours_x, ours_v = ember.tensor(x).to(getattr(ember, dtype)), ember.tensor(v).to(getattr(ember, dtype))
    theirs_x, theirs_v = torch.tensor(x).to(getattr(torch, dtype)), torch.tensor(v).to(getattr(torch, dtype))
    expected = theirs_x.index_put((torch.tensor(rows),), theirs_v, accumulate=True)
    recorded = ours_x.clone().requires_grad_(dtype != "bfloat16" and dtype != "float16") * 1
    recorded.index_put_((ember.tensor(rows),), ours_v, accumulate=True)
    jitted = ember.jit(lambda a, b: a.index_put((ember.tensor(rows),), b, accumulate=True))(ours_x, ours_v)
    for ours in (ours_x.index_put((ember.tensor(rows),), ours_v, accumulate=True), recorded, jitted):
        _same(ours.float(), expected.float(), exact=True)
    flat = torch.tensor(rows * 3)
    _same(ours_x.put(ember.tensor(rows * 3), ours_v[:, 0], accumulate=True).float(),
          theirs_x.put(flat, theirs_v[:, 0], accumulate=True).float(), exact=True)


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("grad", [False, True])
def test_index_put_in_place_reads_none_as_a_whole_dim_as_aten(grad, accumulate):
    """A None in index_put_'s indices was a new axis on the eager in-place path, so (None, [0, 2]) wrote rows 0
    and 2 where index_put and ATen's index_put write columns 0 and 2."""
    t = ember.arange(12.0).reshape(4, 3).requires_grad_(grad) * 1
    t.index_put_((None, ember.tensor([0, 2])), ember.tensor(7.0), accumulate=accumulate)
    expected = torch.ops.aten.index_put(torch.arange(12.0).reshape(4, 3), [None, torch.tensor([0, 2])],
                                        torch.tensor(7.0), accumulate)
    _same(t.detach(), expected, exact=True)
    _same(ember.index_put(ember.arange(12.0).reshape(4, 3), (None, ember.tensor([0, 2])), ember.tensor(7.0),
                          accumulate), expected, exact=True)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("statement", [
    "t.put_(lib.tensor([0, -1, 0]), lib.tensor([1.0, 2.0, 3.0]))",
    "t.index_put_((lib.tensor([1, 1, 0]),), lib.tensor([[1.0] * 4, [2.0] * 4, [3.0] * 4]))",
    "t.__setitem__((lib.tensor([0, 1, 0]), slice(None)), lib.tensor([[5.0], [6.0], [7.0]]))",
])
def test_a_position_written_twice_keeps_the_last_value_with_or_without_autograd_as_torch(statement, grad):
    results = []
    for lib in (ember, torch):
        t = lib.arange(8.0).reshape(2, 4).requires_grad_(grad) * 1
        eval(statement)
        results.append(t)
    _same(*results, exact=True)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "bool", "float16"])
@pytest.mark.parametrize("statement", ["t.add_(lib.tensor([1, 1, 1]))", "t.__iand__(lib.tensor([1, 0, 1]))",
                                       "t.masked_fill_(lib.tensor([True, False, True]), 1.5)",
                                       "t.mul_(lib.tensor([2.5, 1.0, 0.5]))"])
def test_in_place_results_cast_into_the_tensors_dtype_where_torch_allows_it(dtype, statement):
    results = []
    for lib in (ember, torch):
        t = lib.tensor([1, 2, 3]).to(getattr(lib, dtype))
        try:
            eval(statement)
        except (RuntimeError, TypeError, ValueError) as error:
            t = type(error)
        results.append(t)
    if isinstance(results[1], type):  # PyTorch refuses: Ember must refuse too
        assert isinstance(results[0], type), (dtype, statement, results[0])
    else:
        _same(*results, exact=True)


def test_in_place_index_updates_follow_the_in_place_autograd_rules():
    w = ember.zeros(3, requires_grad=True)
    for statement in ("w.index_add_(0, ember.tensor([0]), ember.ones(1))",
                      "w.index_put_((ember.tensor([0]),), ember.tensor(1.0))",
                      "w.scatter_add_(0, ember.tensor([0]), ember.ones(1))"):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            eval(statement)
    with ember.no_grad():
        w.index_put_((ember.tensor([2]),), ember.tensor(3.0))
    assert w.tolist() == [0.0, 0.0, 3.0] and w.requires_grad
    counts = ember.zeros(3, dtype=ember.long)
    with pytest.raises(RuntimeError, match="index_put_: self of dtype int64 and values of dtype float32"):
        counts.index_put_((ember.tensor([0]),), ember.tensor([0.5]))
    buffer, source = ember.zeros(3), ember.ones(1, requires_grad=True)
    buffer.index_add_(0, ember.tensor([0]), source)  # recorded, as PyTorch records it
    (buffer * ember.tensor([4.0, 5.0, 6.0])).sum().backward()
    assert buffer.tolist() == [1.0, 0.0, 0.0] and source.grad.tolist() == [4.0]


# --- median, sort, topk, square ------------------------------------------------------------------------------


def test_median_of_all_elements_shares_the_gradient_among_ties_as_torch():
    x = np.array([[1.0, 2.0, 2.0], [2.0, 0.0, 3.0]], np.float32)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    _same(ours.median(), theirs.median(), exact=True)
    (ours.median() * 3).backward()
    (theirs.median() * 3).backward()
    _same(ours.grad, theirs.grad)


def test_median_of_all_elements_with_nan_sends_the_gradient_to_the_nans_as_torch():
    # regression: the NaN median matched no element, and the gradient was NaN everywhere
    for x in (np.array([1.0, np.nan, 2.0]), np.array([np.nan, 0.5, np.nan, 3.0])):
        ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        (ours.median() * 2).backward()
        (theirs.median() * 2).backward()
        _same(ours.grad, theirs.grad)


@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (-1, False)])
def test_median_along_a_dim_gives_values_indices_and_the_gradient_at_the_index_as_torch(dim, keepdim):
    ours, theirs = _pair(5, 4, grad=True)  # distinct values: the indices are unique
    got, want = ember.median(ours, dim=dim, keepdim=keepdim), torch.median(theirs, dim=dim, keepdim=keepdim)
    _same(got.values, want.values, exact=True)
    _same(got.indices, want.indices, exact=True)
    got.values.sum().backward()
    want.values.sum().backward()
    _same(ours.grad, theirs.grad, exact=True)


def test_median_and_sort_treat_nan_as_torch():
    x = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 0.0, 5.0, 1.0]], np.float32)
    ours, theirs = ember.tensor(x), torch.tensor(x)
    _same(ours.median(), theirs.median(), exact=True)
    for got, want in zip(ours.median(1), theirs.median(1)):
        _same(got, want, exact=True)
    for descending in (False, True):
        for got, want in zip(ours.sort(descending=descending), theirs.sort(descending=descending)):
            _same(got, want, exact=True)


def test_median_of_one_element_and_errors():
    _same(ember.tensor(2.5).median(0).values, torch.tensor(2.5).median(0).values)
    _same(ember.tensor(2.5).median(0).indices, torch.tensor(2.5).median(0).indices)
    with pytest.raises(ValueError, match="median: the tensor of shape \\[0\\] has no elements"):
        ember.tensor(np.zeros(0, np.float32)).median()
    with pytest.raises(ValueError, match="topk: k=6 must be in \\[0, 5\\]"):
        ember.topk(ember.ones(2, 5), 6)


def test_topk_and_sort_values_indices_and_gradient_as_torch():
    ours, theirs = _pair(3, 6, grad=True)
    for got, want in zip(ours.topk(3, dim=1), theirs.topk(3, dim=1)):
        _same(got, want, exact=True)
    for got, want in zip(ember.sort(ours, 0), torch.sort(theirs, 0)):
        _same(got, want, exact=True)
    (ours.topk(2).values * ember.tensor([1.0, 2.0])).sum().backward()
    (theirs.topk(2).values * torch.tensor([1.0, 2.0])).sum().backward()
    _same(ours.grad, theirs.grad, exact=True)


def test_square_and_square_in_place_as_torch():
    ours, theirs = _pair(3, 4, grad=True)
    _same(ember.square(ours), torch.square(theirs), exact=True)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    _same(ours.grad, theirs.grad)
    _same(ember.square(ember.tensor([True, False])), torch.square(torch.tensor([True, False])), exact=True)
    a, b = _pair(2, 3)
    assert a.square_() is a
    b.square_()
    _same(a, b, exact=True)



_BOOL_ARITHMETIC = {
    "pow": (lambda a, b: a ** b, "pow"),
    "floordiv": (lambda a, b: a // b, "floor_divide"),
    "mod": (lambda a, b: a % b, "remainder"),
    "trunc": (lambda a, b: a.div(b, rounding_mode="trunc"), "trunc_divide"),
    "fmod": (lambda a, b: a.fmod(b), "remainder"),
}


@pytest.mark.parametrize("name", sorted(_BOOL_ARITHMETIC))
def test_bool_pow_floordiv_and_mod_are_refused_as_torch_in_eager_and_graph_mode(name):
    f, op = _BOOL_ARITHMETIC[name]
    a, b = np.array([True, False, True]), np.array([True, True, False])
    with pytest.raises(NotImplementedError):
        f(torch.tensor(a), torch.tensor(b))
    with pytest.raises(ValueError, match=f"{op}: is not defined for bool inputs .*bool\\[3\\], bool\\[3\\]"):
        f(ember.tensor(a), ember.tensor(b))
    traced = ember.jit(f)
    with pytest.raises(ValueError, match=f"{op}: is not defined for bool inputs"):
        traced(ember.tensor(a), ember.tensor(b))
    spec = ember.ops.registry.Spec((3,), np.dtype(bool))
    with pytest.raises(ValueError, match=f"{op}: is not defined for bool inputs"):
        ember.ops.registry.REGISTRY[op].infer(spec, spec)
    # a bool tensor with an int promotes to int64, in eager mode, in a graph and in PyTorch alike
    _same(f(ember.tensor(a), 2), f(torch.tensor(a), 2), exact=True)
    _same(ember.jit(lambda x: f(x, 2))(ember.tensor(a)), f(torch.tensor(a), 2), exact=True)
    if name in ("pow", "floordiv", "mod"):  # a Python bool on the left
        with pytest.raises(NotImplementedError):
            f(True, torch.tensor(b))
        with pytest.raises(ValueError, match=f"{op}: is not defined for bool inputs"):
            f(True, ember.tensor(b))


@pytest.mark.parametrize("exponent", [True, False])
def test_a_bool_tensor_to_a_python_bool_power_stays_bool_as_torch(exponent):
    a = np.array([True, False, True])
    _same(ember.tensor(a) ** exponent, torch.tensor(a) ** exponent, exact=True)
    _same(ember.tensor(a).pow(exponent), torch.tensor(a).pow(exponent), exact=True)
    _same(ember.jit(lambda x: x ** exponent)(ember.tensor(a)), torch.tensor(a) ** exponent, exact=True)
    for name in ("floordiv", "mod"):
        f, op = _BOOL_ARITHMETIC[name]
        with pytest.raises(NotImplementedError):
            f(torch.tensor(a), exponent)
        with pytest.raises(ValueError, match=f"{op}: is not defined for bool inputs"):
            f(ember.tensor(a), exponent)

# --- PyTorch's argument names of var/std and repeat_interleave ---------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"unbiased": False}, {"unbiased": True}, {"correction": 0}, {"correction": 2}])
def test_var_and_std_take_torchs_unbiased_and_correction(kwargs):
    ours, theirs = _pair(4, 5, grad=True)
    for name in ("var", "std"):
        _same(getattr(ours, name)(dim=1, **kwargs), getattr(theirs, name)(dim=1, **kwargs))
        _same(getattr(ember, name)(ours, **kwargs), getattr(torch, name)(theirs, **kwargs))
    ours.std(0, keepdim=True, **kwargs).sum().backward()
    theirs.std(0, keepdim=True, **kwargs).sum().backward()
    _same(ours.grad, theirs.grad)
    with pytest.raises(TypeError, match="var: give one of ddof=, unbiased= and correction="):
        ember.var(ours, ddof=1, unbiased=True)


def test_repeat_interleave_takes_dim_as_torch():
    ours, theirs = _pair(2, 3)
    _same(ours.repeat_interleave(2, dim=1), theirs.repeat_interleave(2, dim=1), exact=True)
    _same(ember.repeat_interleave(ours, 3), torch.repeat_interleave(theirs, 3), exact=True)


@pytest.mark.parametrize("repeats, dim", [([1, 0, 2], 0), ([2, 1], 1), ([3], 0), ([1, 0, 2, 1, 1, 3], None)])
def test_repeat_interleave_takes_a_count_per_element_as_torch(repeats, dim):
    # repeats as a tensor or sequence was refused (an int only)
    ours, theirs = _pair(3, 2, grad=True)
    out, expected = ember.repeat_interleave(ours, ember.tensor(repeats), dim), torch.repeat_interleave(
        theirs, torch.tensor(repeats), dim)
    _same(out, expected, exact=True)
    _same(ours.repeat_interleave(repeats, dim=dim), expected, exact=True)
    weights = np.random.default_rng(3).standard_normal(tuple(expected.shape)).astype(np.float32)
    (out * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    _same(ours.grad, theirs.grad)


def test_repeat_interleave_of_counts_alone_repeats_their_indices_as_torch():
    _same(ember.repeat_interleave(ember.tensor([2, 0, 3])), torch.repeat_interleave(torch.tensor([2, 0, 3])),
          exact=True)
    with pytest.raises(ValueError, match="repeat_interleave: repeats has 2 counts for the 3 elements"):
        ember.repeat_interleave(ember.ones(3), ember.tensor([1, 2]))


# --- tests, roundings and fills composed from the primitives -------------------------------------------------

_SPECIAL = [0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, 3.7, -3.7, -0.3, 1e30, np.nan, np.inf, -np.inf]


@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc", "isnan", "isinf", "isfinite", "nan_to_num",
                                  "reciprocal", "rsqrt", "logical_not"])
def test_unary_compositions_match_torch_on_special_values(name):
    x = np.array(_SPECIAL, np.float32)
    with np.errstate(all="ignore"):
        _same(getattr(ember, name)(ember.tensor(x)), getattr(torch, name)(torch.tensor(x)), exact=True)
    _same(getattr(ember.tensor(x), name)(), getattr(torch.tensor(x), name)(), exact=True)
    ints = np.array([-3, 0, 4])
    _same(getattr(ember.tensor(ints), name)(), getattr(torch.tensor(ints), name)(), exact=True)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_nan_to_num_defaults_to_each_float_dtypes_finite_limits_as_torch(dtype):
    x = [np.nan, 1.0, np.inf, -np.inf]
    got = ember.nan_to_num(ember.tensor(x).to(getattr(ember, dtype)))
    want = torch.nan_to_num(torch.tensor(x).to(getattr(torch, dtype)))
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    np.testing.assert_array_equal(got.to(ember.float64).numpy(), want.double().numpy())


@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc", "reciprocal", "rsqrt"])
def test_in_place_roundings_write_into_the_tensor_as_torch(name):
    x = np.abs(np.array(_SPECIAL[:9], np.float32))
    ours, theirs = ember.tensor(x), torch.tensor(x)
    assert getattr(ours, name + "_")() is ours
    getattr(theirs, name + "_")()
    _same(ours, theirs, exact=True)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_round_with_decimals_matches_torch_exactly(dtype):
    # float16 was scaled in float16 (round(60000, decimals=1) was inf), and a negative decimals multiplied by the
    # inexact 10.0 ** -3 (round(60000., decimals=-3) was 59999.996)
    x = np.concatenate([[60000.0, 1.26, 2.675, 99999.0, np.inf, np.nan],
                        np.random.default_rng(0).standard_normal(500) * 1000]).astype(np.float32)
    for decimals in (-4, -3, -1, 1, 2, 4, 40):
        got = ember.round(ember.tensor(x).to(getattr(ember, dtype)), decimals=decimals)
        want = torch.round(torch.tensor(x).to(getattr(torch, dtype)), decimals=decimals)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
        np.testing.assert_array_equal(got.to(ember.float64).numpy(), want.double().numpy())


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_round_keeps_the_sign_of_a_negative_rounded_to_zero_as_torch(dtype):
    # -0.4 and -0.5 rounded to +0.0 (floor + 1 and the even halfway), torch's rint gives -0.0
    x = np.array([-0.5, -0.4, -0.0, 0.0, 0.4, 0.5, -1.5, -0.05, 2.5, -3.7], np.float32)
    for decimals in (0, 1):
        got = ember.round(ember.tensor(x).to(getattr(ember, dtype)), decimals=decimals).to(ember.float64).numpy()
        want = torch.round(torch.tensor(x).to(getattr(torch, dtype)), decimals=decimals).double().numpy()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("decimals", [0, 2, -1])
def test_round_gives_no_gradient_at_infinities_and_nan_as_torch(decimals):
    # infinities and NaN passed through round's last where() with gradient 1; torch's round has none anywhere
    x = np.array([1.3, 2.5, np.inf, -np.inf, np.nan])
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ember.round(ours, decimals=decimals).sum().backward()
    torch.round(theirs, decimals=decimals).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_round_with_decimals_refuses_integer_tensors_as_torch(dtype):
    # the integers came back as they were: round(1234, decimals=-2) gave 1234
    x = np.array([1234, 1250, 7])
    for decimals in (-2, 1):
        with pytest.raises(TypeError, match=f"round: decimals is for floating tensors.*{dtype}"):
            ember.round(ember.tensor(x).to(getattr(ember, dtype)), decimals=decimals)
        with pytest.raises((RuntimeError, NotImplementedError)):
            torch.round(torch.tensor(x).to(getattr(torch, dtype)), decimals=decimals)
    np.testing.assert_array_equal(ember.special.round(ember.tensor(x)).numpy(), x)


def test_masked_fill_keeps_the_dtype_and_gives_a_tensor_value_its_gradient_as_torch():
    ours, theirs = _pair(3, 4, grad=True)
    mask = np.random.default_rng(1).random((3, 4)) < 0.5
    value_ours, value_theirs = ember.tensor(2.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    got, want = ours.masked_fill(ember.tensor(mask), value_ours), theirs.masked_fill(torch.tensor(mask), value_theirs)
    _same(got, want, exact=True)
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(ours.grad, theirs.grad)
    _same(value_ours.grad, value_theirs.grad)
    ints = np.arange(4)
    _same(ember.masked_fill(ember.tensor(ints), ember.tensor(ints > 1), 7.9),
          torch.masked_fill(torch.tensor(ints), torch.tensor(ints > 1), 7.9), exact=True)
    with pytest.raises(TypeError, match="masked_fill: the mask must be a bool tensor, got int64"):
        ours.masked_fill(ember.tensor(ints), 0.0)


@pytest.mark.parametrize("weight", [0.25, 0.75, "tensor"])
def test_lerp_matches_torch_in_values_and_gradients(weight):
    (a, ta), (b, tb) = _pair(3, 4, grad=True), _pair(3, 4, seed=1, grad=True)
    w, tw = (weight, weight) if weight != "tensor" else _pair(3, 4, seed=2, grad=True)
    _same(ember.lerp(a, b, w), torch.lerp(ta, tb, tw), exact=weight != "tensor")  # (torch fuses a tensor weight)
    (a.lerp(b, w) ** 2).sum().backward()
    (ta.lerp(tb, tw) ** 2).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    if weight == "tensor":
        _same(w.grad, tw.grad)


def test_lerp_in_place_uses_torchs_formula_exact_at_weight_one():
    # lerp_ computed self + w * (end - self): at w = 1, 1e8 toward 1 gave 0 (1 - 1e8 rounds to -1e8)
    start, end = np.array([1e8, 3.0, -2.0], np.float32), np.array([1.0, 1e-8, 5.0], np.float32)
    for weight in (1.0, [1.0, 0.75, 1.0]):
        w, tw = (weight, weight) if isinstance(weight, float) else (ember.tensor(weight), torch.tensor(weight))
        ours, theirs = ember.tensor(start), torch.tensor(start)
        assert ours.lerp_(ember.tensor(end), w) is ours
        theirs.lerp_(torch.tensor(end), tw)
        _same(ours, theirs, exact=True)


def test_fmod_and_nan_to_num_gradients_match_torch():
    (a, ta), (b, tb) = _pair(3, 4, grad=True), _pair(3, 4, seed=1, grad=True)
    ember.fmod(a * 3, b).sum().backward()
    torch.fmod(ta * 3, tb).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    x = np.array([1.0, np.nan, np.inf, -2.0], np.float32)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (ours.nan_to_num(posinf=5.0) * 3).sum().backward()
    (theirs.nan_to_num(posinf=5.0) * 3).sum().backward()
    _same(ours.grad, theirs.grad, exact=True)


def test_reductions_over_dim_empty_reduce_every_dimension_as_torch():
    # dim=() was NumPy's axis=(): x.sum(dim=[]) gave x back where PyTorch gives the total
    ours, theirs = _pair(3, 4)
    for dim in ((), []):
        for name in ("sum", "nansum", "mean", "nanmean", "std", "var", "amax", "amin", "count_nonzero"):
            for keepdim in ((False, True) if name != "count_nonzero" else (False,)):
                kwargs = {"dim": dim, **({"keepdim": True} if keepdim else {})}
                _same(getattr(ember, name)(ours, **kwargs), getattr(torch, name)(theirs, **kwargs))
        _same(ours.norm(dim=dim), theirs.norm(dim=dim))
        _same(ember.linalg.vector_norm(ours, dim=dim), torch.linalg.vector_norm(theirs, dim=dim))
        _same(ember.logsumexp(ours, dim=dim, keepdim=True), torch.logsumexp(theirs, dim=dim, keepdim=True))
        for got, want in zip(ember.std_mean(ours, dim), torch.std_mean(theirs, dim)):
            _same(got, want)
        for got, want in zip(ember.var_mean(ours, dim=dim), torch.var_mean(theirs, dim=dim)):
            _same(got, want)
    assert ember.sum(ours, axis=()).shape == (3, 4)  # NumPy's axis=() still reduces nothing


def test_isclose_allclose_equal_and_count_nonzero_as_torch():
    a = np.array([1.0, np.inf, np.nan, 2.0, 0.0], np.float32)
    b = np.array([1.0 + 1e-7, np.inf, np.nan, 2.1, 1e-9], np.float32)
    for equal_nan in (False, True):
        _same(ember.isclose(ember.tensor(a), ember.tensor(b), equal_nan=equal_nan),
              torch.isclose(torch.tensor(a), torch.tensor(b), equal_nan=equal_nan), exact=True)
    assert ember.tensor(a[:2]).allclose(ember.tensor(b[:2])) is torch.tensor(a[:2]).allclose(torch.tensor(b[:2]))
    assert not ember.allclose(ember.tensor(a), ember.tensor(b))
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2])) and not ember.equal(ember.ones(2), ember.ones(3))
    x = np.array([[0, 1, 2], [0, 0, 3]])
    _same(ember.count_nonzero(ember.tensor(x), dim=1), torch.count_nonzero(torch.tensor(x), dim=1), exact=True)
    _same(ember.tensor(x).count_nonzero(), torch.tensor(x).count_nonzero(), exact=True)


def test_isclose_of_infinities_and_booleans_as_torch():
    # rtol * |inf| is inf: -inf and 1 were "close" to inf
    a = np.array([np.inf, -np.inf, 1.0, np.inf, -np.inf, 3.0], np.float64)
    b = np.array([np.inf, np.inf, np.inf, 1.0, -np.inf, np.nan], np.float64)
    for rtol in (1e-5, 0.5):
        _same(ember.isclose(ember.tensor(a), ember.tensor(b), rtol=rtol),
              torch.isclose(torch.tensor(a), torch.tensor(b), rtol=rtol), exact=True)
    z = np.array([complex(np.inf, 0), 1 + 1j]), np.array([complex(-np.inf, 0), 1 + 1j])
    _same(ember.isclose(*map(ember.tensor, z)), torch.isclose(*map(torch.tensor, z)), exact=True)
    assert not ember.allclose(ember.tensor([1.0]), ember.tensor([np.inf]))
    t, f = np.array([True, False, True]), np.array([True, True, False])
    _same(ember.isclose(ember.tensor(t), ember.tensor(f)), torch.isclose(torch.tensor(t), torch.tensor(f)),
          exact=True)


def test_isclose_of_integers_and_booleans_in_the_default_float_as_torch():
    # uint8 0 - 2 wrapped to 254, so isclose(0, 2, atol=3) was False one way round and True the other
    cases = [(np.array([0, 250, 2, 5], np.uint8), np.array([2, 5, 0, 250], np.uint8), {"atol": 3}),
             (np.array([-128, 100], np.int8), np.array([127, -100], np.int8), {"atol": 2}),
             (np.array([2**24 + 1, 7]), np.array([2**24, 7]), {"rtol": 0, "atol": 0.5}),  # float32: equal
             (np.array([2**24 + 1, 7]), np.array([2**24, 7]), {"rtol": 0, "atol": 0}),
             (np.array([True, False]), np.array([False, False]), {"atol": 1})]
    for a, b, tolerances in cases:
        _same(ember.isclose(ember.tensor(a), ember.tensor(b), **tolerances),
              torch.isclose(torch.tensor(a), torch.tensor(b), **tolerances), exact=True)
    with pytest.raises(ValueError, match="isclose: atol"):
        ember.isclose(ember.ones(2), ember.ones(2), atol=-1.0)


# --- products: mm, bmm, outer, addmm, baddbmm, einsum ---------------------------------------------------------


def test_einsum_forms_and_gradients_match_torch():
    (a, ta), (b, tb) = _pair(2, 3, 4, grad=True), _pair(2, 5, 4, seed=1, grad=True)
    got, want = ember.einsum("bik,bjk->bij", [a, b]), torch.einsum("bik,bjk->bij", [ta, tb])
    _same(got, want)
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    _same(ember.einsum("bik -> kb", a), torch.einsum("bik -> kb", ta))
    with pytest.raises(ValueError, match="einsum: the letter 'k' has sizes 4 and 3"):
        ember.einsum("ik,kj->ij", ember.ones(2, 4), ember.ones(3, 2))
    with pytest.raises(ValueError, match="einsum: the term 'ij' of 'ij->i' does not fit an operand of shape"):
        ember.einsum("ij->i", ember.ones(2))
    with pytest.raises(ValueError, match=r"einsum: the term '\.\.\.ijk' of .* an operand of rank 2"):
        ember.einsum("...ijk->", ember.ones(2, 2))
    # a letter repeated over two sizes took the diagonal of the (2, 3) matrix; PyTorch refuses it
    with pytest.raises(ValueError, match="einsum: the letter 'i' is repeated in one term over sizes 2 and 3"):
        ember.einsum("ii->i", ember.ones(2, 3))
    # a 0-d operand's empty term was refused ("the term '' of ',i->i' does not fit an operand of shape []")
    (s, ts), (v, tv) = _pair(), _pair(3, seed=1)
    _same(ember.einsum(",i->i", s, v), torch.einsum(",i->i", ts, tv))
    _same(ember.einsum("->", s), torch.einsum("->", ts))


@pytest.mark.parametrize("equation, shapes", [
    ("...ij,jk->...ik", [(2, 3, 4, 5), (5, 6)]),   # attention's projections
    ("...ij,...jk->...ik", [(2, 1, 4, 5), (3, 5, 6)]),  # ranks and batch sizes broadcast
    ("b...d,b...d->b...", [(2, 3, 4), (2, 3, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("i...->...", [(3, 2, 4)]),
    ("...->", [(2, 3)]),
    ("...j,j", [(2, 3, 4), (4,)]),  # implicit output: the ellipsis's axes first
    ("ij...", [(2, 3, 4)]),
    ("...", [()]),
])
def test_einsum_with_ellipses_matches_torch(equation, shapes):
    # ellipses were refused ("einsum: ellipses ('...') are not supported")
    xs = [_pair(*shape, seed=i) for i, shape in enumerate(shapes)]
    got = ember.einsum(equation, *(x for x, _ in xs))
    _same(got, torch.einsum(equation, *(t for _, t in xs)))
    x = xs[0][0].detach().requires_grad_()
    ember.einsum(equation, x, *(e for e, _ in xs[1:])).sum().backward()
    t = xs[0][1].detach().requires_grad_()
    torch.einsum(equation, t, *(u for _, u in xs[1:])).sum().backward()
    _same(x.grad, t.grad)


def test_einsum_broadcasts_dimensions_of_size_one_as_torch():
    # a letter of size 1 in one operand and n in another was refused ("the letter 'b' has sizes 1 and 5")
    for equation, shapes in (("bij,bjk->bik", [(1, 2, 3), (5, 3, 4)]), ("ij,ij->", [(3, 1), (3, 4)]),
                             ("ij,jk", [(2, 1), (3, 4)]), ("bi,bi->b", [(1, 3), (4, 3)]),
                             ("ij,jk,kl->il", [(2, 1), (5, 1), (3, 4)])):
        pairs = [_pair(*shape, seed=i, grad=True) for i, shape in enumerate(shapes)]
        got = ember.einsum(equation, *(p[0] for p in pairs))
        want = torch.einsum(equation, *(p[1] for p in pairs))
        _same(got, want)
        (got * got).sum().backward()
        (want * want).sum().backward()
        for ours, theirs in pairs:
            _same(ours.grad, theirs.grad)


def test_einsum_sublist_form_as_torch():
    # einsum(a, [0, 1, 2], b, [2, 3], [0, 1, 3]) was an AttributeError ('Tensor' object has no attribute 'replace')
    (a, ta), (b, tb), (c, tc) = _pair(2, 3, 4), _pair(4, 5, seed=1), _pair(5, 5, seed=2)
    _same(ember.einsum(a, [0, 1, 2], b, [2, 3], [0, 1, 3]), torch.einsum(ta, [0, 1, 2], tb, [2, 3], [0, 1, 3]))
    _same(ember.einsum(a, [0, 1, 2], b, [2, 51]), torch.einsum(ta, [0, 1, 2], tb, [2, 51]))
    _same(ember.einsum(a, [30, 1, 2], b, [2, 5]), torch.einsum(ta, [30, 1, 2], tb, [2, 5]))  # (the output's order)
    _same(ember.einsum(c, [7, 7], [7]), torch.einsum(tc, [7, 7], [7]))
    _same(ember.einsum(c, (0, 1), (1, 0)), torch.einsum(tc, (0, 1), (1, 0)))
    with pytest.raises(ValueError, match=r"einsum: a sublist must hold integers in \[0, 52\)"):
        ember.einsum(c, [0, 52])


def test_mm_bmm_addmm_baddbmm_as_torch():
    (a, ta), (b, tb), (c, tc) = _pair(2, 3, 4), _pair(2, 4, 5, seed=1), _pair(3, 5, seed=2)
    _same(ember.bmm(a, b), torch.bmm(ta, tb))
    _same(a.bmm(b), ta.bmm(tb))
    _same(ember.mm(a[0], b[0]), torch.mm(ta[0], tb[0]))
    _same(c.addmm(a[1], b[1], alpha=0.5), tc.addmm(ta[1], tb[1], alpha=0.5))
    _same(ember.baddbmm(c, a, b, beta=2.0), torch.baddbmm(tc, ta, tb, beta=2.0))
    nan = ember.tensor(np.full((3, 5), np.nan, np.float32))
    _same(ember.addmm(nan, a[0], b[0], beta=0), torch.addmm(torch.tensor(nan.numpy()), ta[0], tb[0], beta=0))
    with pytest.raises(ValueError, match="bmm: the first batch must be 3-D, got shape \\[3, 4\\]"):
        ember.bmm(a[0], b)
    with pytest.raises(ValueError, match="bmm: the batches differ in size"):
        ember.bmm(a, b[:1])


# --- flip, roll, tril, triu, index_select, masked_select -------------------------------------------------------


def test_flip_roll_and_triangles_match_torch_with_gradients():
    ours, theirs = _pair(3, 4, 5, grad=True)
    weights = np.random.default_rng(3).standard_normal((3, 4, 5)).astype(np.float32)
    for fn in (lambda x: x.flip(-1), lambda x: x.flip([0, 1]), lambda x: x.roll(-2, 2), lambda x: x.roll(7),
               lambda x: x.roll((1, 2), (1, 0)), lambda x: x.roll((1, 2, -4), (2, -1, 0)), lambda x: x.tril(1),
               lambda x: x.triu(-1)):
        ours.grad = theirs.grad = None
        _same(fn(ours), fn(theirs), exact=True)
        (fn(ours) * ember.tensor(weights)).sum().backward()
        (fn(theirs) * torch.tensor(weights)).sum().backward()
        _same(ours.grad, theirs.grad, exact=True)
    with pytest.raises(ValueError, match="flip: dims \\[0, -3\\] name one dimension twice"):
        ours.flip([0, -3])
    with pytest.raises(ValueError, match="roll: 2 shifts and 1 dims"):
        ours.roll((1, 2), 0)
    with pytest.raises(ValueError, match="tril: needs a matrix or a batch of them, got shape \\[5\\]"):
        ember.tril(ember.ones(5))


def test_flip_and_its_forms_copy_so_a_write_into_the_result_leaves_the_input_as_torch():
    for fn in (lambda m, x: x.flip(0), lambda m, x: x.flip(()), lambda m, x: m.fliplr(x), lambda m, x: m.flipud(x),
               lambda m, x: m.rot90(x), lambda m, x: m.rot90(x, 2)):
        (ours, theirs), (leaf, tleaf) = _pair(4, 6), _pair(4, 6, grad=True)
        fn(ember, ours).mul_(0.5)
        fn(torch, theirs).mul_(0.5)
        _same(ours, theirs, exact=True)
        a, b = leaf * 1, tleaf * 1
        fn(ember, a).mul_(0.5)
        fn(torch, b).mul_(0.5)
        (a * a).sum().backward()
        (b * b).sum().backward()
        _same(leaf.grad, tleaf.grad)
    scalar = ember.tensor(3.0)
    scalar.flip(()).add_(1)
    assert scalar.item() == 3.0


def test_index_select_and_masked_select_as_torch():
    ours, theirs = _pair(3, 4, grad=True)
    index = np.array([2, 0, 2])
    got, want = ember.index_select(ours, 0, ember.tensor(index)), torch.index_select(theirs, 0, torch.tensor(index))
    _same(got, want, exact=True)
    got.sum().backward()
    want.sum().backward()
    _same(ours.grad, theirs.grad, exact=True)
    mask = np.array([True, False, True, True])
    _same(ours.masked_select(ember.tensor(mask)), theirs.masked_select(torch.tensor(mask)), exact=True)


def test_norm_forms_and_the_gradient_of_a_zero_vector_match_torch():
    x = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 1.0]], np.float32)
    for kwargs in ({}, {"dim": 1}, {"p": 1, "dim": 0}, {"p": float("inf"), "dim": 1, "keepdim": True}, {"p": 0},
                   {"p": "fro"}):
        _same(ember.tensor(x).norm(**kwargs), torch.tensor(x).norm(**kwargs))
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours.norm(dim=1).sum().backward()
    theirs.norm(dim=1).sum().backward()
    _same(ours.grad, theirs.grad)
    with pytest.raises(ValueError, match="norm: p must be a number, 'fro' or 'nuc', got 'spectral'"):
        ember.norm(ours, "spectral")


# --- logarithms, inverse trigonometric and hyperbolic functions, atan2, pow, clamp_min/clamp_max -------------

_MATH = ["log2", "log10", "expm1", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh"]


@pytest.mark.parametrize("name", _MATH)
def test_unary_math_matches_torch_in_values_gradients_and_domain_edges(name):
    x = np.array([0.3, -0.7, 0.95, 1.5, 2.0, -3.0, 0.0, 1.0, -1.0, np.inf, np.nan], np.float32)
    with np.errstate(all="ignore"):
        _same(getattr(ember, name)(ember.tensor(x)), getattr(torch, name)(torch.tensor(x)))
    inside = np.array([0.2, 0.45, 0.7], np.float32) + (1.5 if name == "acosh" else 0.0)
    ours, theirs = ember.tensor(inside, requires_grad=True), torch.tensor(inside, requires_grad=True)
    (getattr(ours, name)() * ember.tensor([1.0, -2.0, 3.0])).sum().backward()
    (getattr(theirs, name)() * torch.tensor([1.0, -2.0, 3.0])).sum().backward()
    _same(ours.grad, theirs.grad)
    with np.errstate(all="ignore"):  # integers as float32
        _same(getattr(ember.tensor([1, 2]), name)(), getattr(torch.tensor([1, 2]), name)())
    a, b = ember.tensor(inside), torch.tensor(inside)
    assert getattr(a, name + "_")() is a
    getattr(b, name + "_")()
    _same(a, b)


def test_atan2_quadrants_broadcasting_and_gradients_as_torch():
    (a, ta), (b, tb) = _pair(3, 4, grad=True), _pair(4, seed=1, grad=True)
    got, want = ember.atan2(a, b), torch.atan2(ta, tb)
    _same(got, want)
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    signs = np.array([[0.0, -0.0, 1.0, -1.0]], np.float32)
    got, want = ember.tensor(signs).atan2(ember.tensor(signs.T)), torch.tensor(signs).atan2(torch.tensor(signs.T))
    _same(got, want)
    np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(want.numpy()))
    _same(ember.arctan2(ember.tensor([1, -2]), ember.tensor([3, 4])), torch.arctan2(torch.tensor([1, -2]),
                                                                                      torch.tensor([3, 4])))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_give_both_inputs_the_gradient_where_one_is_nan_as_torch(name):
    # where a or b was NaN (neither wins) all of the gradient went to b; PyTorch's masks give it to both
    a = np.array([np.nan, 1.0, np.nan, 2.0, 1.0, 3.0])
    b = np.array([1.0, np.nan, np.nan, 2.0, 3.0, 1.0])
    ours = [ember.tensor(v, requires_grad=True) for v in (a, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    getattr(ember, name)(*ours).sum().backward()
    getattr(torch, name)(*theirs).sum().backward()
    for o, t in zip(ours, theirs):
        _same(o.grad, t.grad, exact=True)


def test_pow_and_clamp_min_max_as_torch():
    (ours, theirs), (lo, lo_t) = _pair(3, 4, grad=True), _pair(4, seed=1)
    _same(ember.pow(ours, 2), torch.pow(theirs, 2))
    _same(ember.pow(2.0, ours), torch.pow(2.0, theirs))
    _same(ember.clamp_min(ours, lo), torch.clamp_min(theirs, lo_t))
    _same(ours.clamp_max(0.25), theirs.clamp_max(0.25))
    _same(ember.clamp_min(ember.tensor([1, 5]), 2.5), torch.clamp_min(torch.tensor([1, 5]), 2.5))
    (ours.clamp_min(lo) * ours.clamp_max(0.1)).sum().backward()
    (theirs.clamp_min(lo_t) * theirs.clamp_max(0.1)).sum().backward()
    _same(ours.grad, theirs.grad)
    plain, plain_t = _pair(5, seed=2)
    assert plain.clamp_min_(0.0) is plain
    plain_t.clamp_min_(0.0)
    _same(plain, plain_t)


# --- joining, grids, differences, products, nanmean, kthvalue and in-place shape changes ---------------------


def test_hstack_vstack_dstack_and_meshgrid_as_torch():
    for shapes in ([(3,), (2,)], [(2, 3), (2, 1)], [(), ()]):
        ours = [ember.tensor(np.arange(np.prod(s), dtype=np.float32).reshape(s)) for s in shapes]
        theirs = [torch.tensor(t.numpy()) for t in ours]
        _same(ember.hstack(ours), torch.hstack(theirs), exact=True)
    for shapes in ([(3,), (2, 3)], [(), ()], [(2, 3), (2, 3)]):
        ours = [ember.tensor(np.arange(np.prod(s), dtype=np.float32).reshape(s)) for s in shapes]
        theirs = [torch.tensor(t.numpy()) for t in ours]
        _same(ember.vstack(ours), torch.vstack(theirs), exact=True)
        _same(ember.dstack(ours[-1:] * 2), torch.dstack(theirs[-1:] * 2), exact=True)
    (a, ta), (b, tb), (c, tc) = _pair(3, grad=True), _pair(2, seed=1, grad=True), _pair(4, seed=2)
    for indexing in ("ij", "xy"):
        for got, want in zip(ember.meshgrid(a, b, c, indexing=indexing), torch.meshgrid(ta, tb, tc,
                                                                                       indexing=indexing)):
            _same(got, want, exact=True)
    got, want = ember.meshgrid([a, b], indexing="xy"), torch.meshgrid([ta, tb], indexing="xy")
    (got[0] * got[1] * 2).sum().backward()
    (want[0] * want[1] * 2).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'ij' or 'xy', got 'yx'"):
        ember.meshgrid(a, b, indexing="yx")


@pytest.mark.parametrize("kwargs", [{}, {"n": 2, "dim": 0}, {"dim": 1, "prepend": "tensor"},
                                    {"n": 3, "append": "tensor"}])
def test_diff_matches_torch_with_prepend_append_and_gradients(kwargs):
    ours, theirs = _pair(4, 5, grad=True)
    kwargs_ours, kwargs_theirs = dict(kwargs), dict(kwargs)
    for key in ("prepend", "append"):
        if key in kwargs:
            shape = (4, 2) if kwargs.get("dim", -1) != 0 else (2, 5)
            kwargs_ours[key], kwargs_theirs[key] = _pair(*shape, seed=3)
    got, want = ours.diff(**kwargs_ours), theirs.diff(**kwargs_theirs)
    _same(got, want)
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(ours.grad, theirs.grad)
    flags = np.array([True, True, False, True])
    _same(ember.diff(ember.tensor(flags)), torch.diff(torch.tensor(flags)), exact=True)


def test_tensordot_cross_and_cdist_match_torch_with_gradients():
    (a, ta), (b, tb) = _pair(2, 3, 4, grad=True), _pair(4, 3, 5, seed=1, grad=True)
    _same(ember.tensordot(a, b, 0), torch.tensordot(ta, tb, 0))
    _same(ember.tensordot(a, b.permute(1, 0, 2), dims=2), torch.tensordot(ta, tb.permute(1, 0, 2), dims=2))
    _same(ember.tensordot(a, b, dims=([2], [0])), torch.tensordot(ta, tb, dims=([2], [0])))
    # dims as a tensor of the two lists was an IndexError ("only one-element integer tensors can be used...")
    pairs = [[1, 2], [1, 0]]
    _same(ember.tensordot(a, b, ember.tensor(pairs)), torch.tensordot(ta, tb, torch.tensor(pairs)))
    got, want = ember.tensordot(a, b, ([1, 2], [1, 0])), torch.tensordot(ta, tb, ([1, 2], [1, 0]))
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    (u, tu), (v, tv) = _pair(3, 4, grad=True), _pair(3, 1, seed=1, grad=True)
    got, want = ember.cross(u, v.expand(3, 4), dim=0), torch.cross(tu, tv.expand(3, 4), dim=0)
    _same(got, want)
    _same(u.cross(v.expand(3, 4)), tu.cross(tv.expand(3, 4)))
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(u.grad, tu.grad)
    _same(v.grad, tv.grad)
    with pytest.raises(ValueError, match="cross: no dimension of size 3 in the shape \\[2, 4\\]"):
        ember.cross(ember.ones(2, 4), ember.ones(2, 4))
    for p in (2.0, 1.0, float("inf"), 3.0):
        (x, tx), (y, ty) = _pair(2, 4, 3, grad=True), _pair(2, 5, 3, seed=1, grad=True)
        got, want = ember.cdist(x, y, p=p), torch.cdist(tx, ty, p=p)
        _same(got, want)
        (got * got).sum().backward()
        (want * want).sum().backward()
        _same(x.grad, tx.grad)
        _same(y.grad, ty.grad)
    same, same_t = _pair(3, 2, grad=True)
    ember.cdist(same, same).sum().backward()
    torch.cdist(same_t, same_t).sum().backward()
    _same(same.grad, same_t.grad)  # zero distances on the diagonal: gradient 0 there, as torch's


def test_nanmean_and_kthvalue_as_torch():
    x = np.array([[1.0, np.nan, 2.5, -1.0], [np.nan] * 4, [0.5, -1.0, 4.0, 3.0]], np.float32)
    ours, theirs = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        _same(ours.nanmean(dim=1), theirs.nanmean(dim=1))
        _same(ember.nanmean(ours), torch.nanmean(theirs))
        _same(ours.nanmean(0, keepdim=True), theirs.nanmean(0, keepdim=True))
    ours.nanmean().backward()
    theirs.nanmean().backward()
    _same(ours.grad, theirs.grad)
    with pytest.raises(TypeError, match="nanmean: needs a floating point tensor, got int64"):
        ember.nanmean(ember.tensor([1, 2]))
    ours, theirs = _pair(4, 5, grad=True)
    for k, dim, keepdim in ((1, 0, False), (3, -1, True), (5, 1, False)):
        got, want = ours.kthvalue(k, dim, keepdim), theirs.kthvalue(k, dim, keepdim)
        _same(got.values, want.values, exact=True)
        _same(got.indices, want.indices, exact=True)
    got, want = ember.kthvalue(ours, 2, dim=0), torch.kthvalue(theirs, 2, dim=0)
    (got.values * 3).sum().backward()
    (want.values * 3).sum().backward()
    _same(ours.grad, theirs.grad, exact=True)
    nan = np.array([3.0, np.nan, 1.0], np.float32)
    _same(ember.tensor(nan).kthvalue(3).values, torch.tensor(nan).kthvalue(3).values, exact=True)
    with pytest.raises(ValueError, match="kthvalue: k=6 must be in \\[1, 5\\]"):
        ours.kthvalue(6)


def test_unflatten_and_in_place_squeeze_unsqueeze_as_torch():
    ours, theirs = _pair(2, 12)
    _same(ours.unflatten(1, (3, -1)), theirs.unflatten(1, (3, -1)), exact=True)
    _same(ember.unflatten(ours, -1, (2, 2, 3)), torch.unflatten(theirs, -1, (2, 2, 3)), exact=True)
    for ours_step, theirs_step in ((lambda t: t.unsqueeze_(1), lambda t: t.unsqueeze_(1)),
                                   (lambda t: t.unsqueeze_(-1), lambda t: t.unsqueeze_(-1)),
                                   (lambda t: t.squeeze_(1), lambda t: t.squeeze_(1)),
                                   (lambda t: t.squeeze_(), lambda t: t.squeeze_())):
        assert ours_step(ours) is ours
        theirs_step(theirs)
        _same(ours, theirs, exact=True)
    leaf = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="unsqueeze_: a leaf tensor that requires grad"):
        leaf.unsqueeze_(0)


# --- scatter, index_fill, index_copy ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_with_src_or_value_matches_torch_with_gradients():
    (ours, theirs), (src, src_t) = _pair(3, 5, grad=True), _pair(2, 5, seed=1, grad=True)
    index = np.array([[0, 1, 2, 0, 1], [2, 0, 1, 1, 2]])  # distinct targets per column: no repeats
    got, want = ours.scatter(0, ember.tensor(index), src), theirs.scatter(0, torch.tensor(index), src_t)
    _same(got, want, exact=True)
    (got * got).sum().backward()
    (want * want).sum().backward()
    _same(ours.grad, theirs.grad)
    _same(src.grad, src_t.grad)
    _same(ember.scatter(ours, 1, ember.tensor(index[:, :3]), 2.5),
          torch.scatter(theirs, 1, torch.tensor(index[:, :3]), 2.5), exact=True)
    _same(ember.scatter(ember.zeros(2, 3, dtype=ember.long), 1, ember.tensor([[2], [0]]), value=7),
          torch.scatter(torch.zeros(2, 3, dtype=torch.long), 1, torch.tensor([[2], [0]]), value=7), exact=True)
    plain, plain_t = _pair(3, 5, seed=2)
    assert plain.scatter_(0, ember.tensor(index), src.detach()) is plain
    plain_t.scatter_(0, torch.tensor(index), src_t.detach())
    _same(plain, plain_t, exact=True)
    for reduce in ("add", "multiply"):  # (deprecated in PyTorch for scatter_reduce's "sum" and "prod")
        _same(ours.scatter(0, ember.tensor(index), src, reduce=reduce),
              theirs.scatter(0, torch.tensor(index), src_t, reduce=reduce), exact=True)
        _same(ours.scatter(1, ember.tensor(index), value=1.5, reduce=reduce),
              theirs.scatter(1, torch.tensor(index), value=1.5, reduce=reduce), exact=True)
    with pytest.raises(ValueError, match="scatter: reduce must be 'add' or 'multiply', got 'max'"):
        ours.scatter(0, ember.tensor(index), src, reduce="max")


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_into_a_bool_tensor_matches_torch():
    # scatter of a bool src or value was refused naming scatter_add (its counts were not bool), and
    # scatter_reduce's "sum" (scatter's reduce="add") refused bool tensors; PyTorch's sum of bools is their or
    arrays = (np.array([True, False, False, True]), np.array([0, 0, 1, 1, 2, 2]),
              np.array([False, False, True, True, False, True]))
    (x, index, src), (x_t, index_t, src_t) = map(ember.tensor, arrays), map(torch.tensor, arrays)
    two, two_t = ember.tensor([1, 2]), torch.tensor([1, 2])
    _same(ember.scatter(x, 0, two, src[:2]), torch.scatter(x_t, 0, two_t, src_t[:2]), exact=True)
    _same(ember.scatter(x, 0, two, True), torch.scatter(x_t, 0, two_t, True), exact=True)
    _same(x.clone().scatter_(0, two, value=True), x_t.clone().scatter_(0, two_t, value=True), exact=True)
    _same(ember.scatter(x, 0, index, src, reduce="add"), torch.scatter(x_t, 0, index_t, src_t, reduce="add"),
          exact=True)
    for include_self in (True, False):
        _same(ember.scatter_reduce(x, 0, index, src, "sum", include_self=include_self),
              torch.scatter_reduce(x_t, 0, index_t, src_t, "sum", include_self=include_self), exact=True)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_scatter_add_sums_in_float32_as_torch(dtype):
    # 3000 ones added in float16 stopped at 2048 (bfloat16: 256); PyTorch sums in float32 and rounds once
    rng = np.random.default_rng(0)
    x, src, index = rng.standard_normal((4, 3)) * 100, rng.standard_normal((3000, 3)), rng.integers(0, 4, (3000, 3))
    ours = [ember.tensor(a, dtype=ember.float32).to(getattr(ember, dtype)) for a in (x, src)]
    theirs = [torch.tensor(a, dtype=torch.float32).to(getattr(torch, dtype)) for a in (x, src)]
    got = ember.scatter_add(ours[0], 0, ember.tensor(index), ours[1])
    want = torch.scatter_add(theirs[0], 0, torch.tensor(index), theirs[1])
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
    for reduce in ("sum", "mean"):
        got = ember.scatter_reduce(ours[0], 0, ember.tensor(index), ours[1], reduce, include_self=False)
        want = torch.scatter_reduce(theirs[0], 0, torch.tensor(index), theirs[1], reduce, include_self=False)
        np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
    leaf, leaf_t = ours[0].detach().requires_grad_(True), theirs[0].detach().requires_grad_(True)
    ember.gather(leaf, 0, ember.tensor(index)).backward(ours[1])
    torch.gather(leaf_t, 0, torch.tensor(index)).backward(theirs[1])
    np.testing.assert_array_equal(leaf.grad.float().numpy(), leaf_t.grad.float().numpy())


def test_index_fill_and_index_copy_match_torch_with_gradients():
    (ours, theirs), (source, source_t) = _pair(4, 3, grad=True), _pair(2, 3, seed=1, grad=True)
    index = np.array([3, 0])
    value, value_t = ember.tensor(-2.0, requires_grad=True), torch.tensor(-2.0, requires_grad=True)
    filled, filled_t = ours.index_fill(0, ember.tensor(index), value), theirs.index_fill(0, torch.tensor(index),
                                                                                         value_t)
    copied, copied_t = ember.index_copy(ours, 0, ember.tensor(index), source), torch.index_copy(
        theirs, 0, torch.tensor(index), source_t)
    _same(filled, filled_t, exact=True)
    _same(copied, copied_t, exact=True)
    (filled * filled + copied * copied * 3).sum().backward()
    (filled_t * filled_t + copied_t * copied_t * 3).sum().backward()
    for a, b in ((ours, theirs), (source, source_t), (value, value_t)):
        _same(a.grad, b.grad)
    _same(ember.index_fill(ember.arange(6).reshape(2, 3), 1, ember.tensor([1]), 9),
          torch.index_fill(torch.arange(6).reshape(2, 3), 1, torch.tensor([1]), 9), exact=True)
    a, b = _pair(4, 3, seed=3)
    assert a.index_fill_(1, ember.tensor([0, 2]), 1.5) is a
    b.index_fill_(1, torch.tensor([0, 2]), 1.5)
    a.index_copy_(0, ember.tensor(index), source.detach())
    b.index_copy_(0, torch.tensor(index), source_t.detach())
    _same(a, b, exact=True)
    with pytest.raises(TypeError, match="index_copy: the index must be an integer tensor, got float32"):
        ember.index_copy(ours, 0, ember.tensor([0.0]), source[:1])


# --- unique and bincount (eager only) ---------------------------------------------------------------------------


def test_unique_and_bincount_match_torch_and_refuse_a_graph():
    x = np.array([[3, 1, 2], [1, 3, 3]])
    for kwargs in ({}, {"return_inverse": True}, {"return_counts": True},
                   {"return_inverse": True, "return_counts": True}):
        got, want = ember.unique(ember.tensor(x), **kwargs), torch.unique(torch.tensor(x), **kwargs)
        for a, b in zip(got if kwargs else [got], want if kwargs else [want]):
            _same(a, b, exact=True)
    _same(ember.tensor(x * 0.5).unique(), torch.tensor(x * 0.5).unique(), exact=True)
    counts = np.array([1, 4, 1, 0, 4])
    _same(ember.bincount(ember.tensor(counts)), torch.bincount(torch.tensor(counts)), exact=True)
    _same(ember.tensor(counts).bincount(minlength=8), torch.tensor(counts).bincount(minlength=8), exact=True)
    for weights in (np.array([0.5, 1.0, 2.0, 0.25, 3.0], np.float32), np.arange(5)):
        _same(ember.bincount(ember.tensor(counts), ember.tensor(weights)),
              torch.bincount(torch.tensor(counts), torch.tensor(weights)))
    with pytest.raises(ValueError, match="bincount: the values must be non-negative"):
        ember.bincount(ember.tensor([1, -1]))
    graph = ember.graph.Graph()
    value = graph.input("x", (None,), "int64")
    with graph.building():
        for fn in (ember.unique, ember.bincount):
            with pytest.raises(TypeError, match=f"{fn.__name__}: the size of its result depends on the values"):
                fn(value)


# --- searchsorted ----------------------------------------------------------------------------------------------


def test_searchsorted_matches_torch_on_ties_nan_scalars_and_batches():
    seq = np.array([1.0, 2.0, 3.0, 3.0, 5.0], np.float32)
    values = np.array([[3.0, np.nan], [0.0, 9.0]], np.float32)
    for kwargs in ({}, {"right": True}, {"side": "right"}, {"side": "left", "out_int32": True}):
        _same(ember.searchsorted(ember.tensor(seq), ember.tensor(values), **kwargs),
              torch.searchsorted(torch.tensor(seq), torch.tensor(values), **kwargs), exact=True)
    _same(ember.searchsorted(ember.tensor(seq), 3), torch.searchsorted(torch.tensor(seq), 3), exact=True)
    _same(ember.searchsorted(ember.tensor(seq), ember.tensor([2, 4])),  # mixed dtypes promote
          torch.searchsorted(torch.tensor(seq), torch.tensor([2, 4])), exact=True)
    rows = np.sort(np.random.default_rng(0).integers(0, 6, (2, 3, 7)), -1)
    queries = np.random.default_rng(1).integers(-1, 7, (2, 3, 4))
    _same(ember.tensor(rows).searchsorted(ember.tensor(queries), right=True),
          torch.searchsorted(torch.tensor(rows), torch.tensor(queries), right=True), exact=True)


def test_searchsorted_of_batched_rows_with_no_values_or_no_boundaries_is_empty_or_zeros_as_torch():
    """Rows of no values ((3, 0)) or no boundaries ((3, 0) sequence) failed inside the row loop's reshape."""
    for seq, values in (((3, 6), (3, 0)), ((3, 0), (3, 4)), ((0, 2, 5), (0, 2, 3)), ((2, 0, 5), (2, 0, 1))):
        seq = np.sort(np.random.default_rng(0).standard_normal(seq), -1)
        values = np.random.default_rng(1).standard_normal(values)
        for right in (False, True):
            _same(ember.searchsorted(ember.tensor(seq), ember.tensor(values), right=right),
                  torch.searchsorted(torch.tensor(seq), torch.tensor(values), right=right), exact=True)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_searchsorted_in_a_sequence_holding_nan_follows_torchs_binary_search(dtype):
    """NumPy's search reads NaN as the largest value, so a NaN value went before a sorted sequence's trailing NaN
    (index 2 of [1, 2, nan], PyTorch 3) and a NaN inside the sequence moved others; PyTorch's loop steps past it."""
    rng = np.random.default_rng(0)
    seq = np.sort(rng.integers(0, 6, (3, 4, 7)).astype(float), -1)
    seq[0, :, 4:] = np.nan
    seq[1, 1, 2] = seq[2, :, 0] = np.nan
    values = rng.integers(-1, 7, (3, 4, 5)).astype(float)
    values[:, 0, 0] = np.nan
    ours, theirs = ember.tensor(seq).to(getattr(ember, dtype)), torch.tensor(seq).to(getattr(torch, dtype))
    ours_v, theirs_v = ember.tensor(values).to(getattr(ember, dtype)), torch.tensor(values).to(getattr(torch, dtype))
    for right in (False, True):
        _same(ember.searchsorted(ours, ours_v, right=right), torch.searchsorted(theirs, theirs_v, right=right),
              exact=True)
        _same(ember.searchsorted(ours[1, 1], ours_v, right=right),
              torch.searchsorted(theirs[1, 1], theirs_v, right=right), exact=True)
        _same(ember.bucketize(ours_v, ours[0, 0], right=right),
              torch.bucketize(theirs_v, theirs[0, 0], right=right), exact=True)
        _same(ember.jit(lambda s, v: ember.searchsorted(s, v, right=right))(ours, ours_v),
              torch.searchsorted(theirs, theirs_v, right=right), exact=True)


def test_searchsorted_refuses_what_torch_refuses():
    seq = ember.zeros((2, 3))
    with pytest.raises(ValueError, match="searchsorted: the values must share the sorted sequence's leading"):
        ember.searchsorted(seq, ember.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"searchsorted: .* leading .*float32\[2, 3\], float32\[3\]"):
        ember.searchsorted(seq, ember.zeros(3))
    with pytest.raises(ValueError, match="searchsorted: .*leading"):
        ember.searchsorted(seq, 1.0)
    with pytest.raises(ValueError, match="searchsorted: the sorted sequence must have at least one dimension"):
        ember.searchsorted(ember.tensor(1.0), ember.zeros(3))
    with pytest.raises(ValueError, match="searchsorted: side must be 'left' or 'right', got 'middle'"):
        ember.searchsorted(ember.zeros(3), ember.zeros(2), side="middle")
    with pytest.raises(ValueError, match="searchsorted: side='left' and right=True ask for opposite sides"):
        ember.searchsorted(ember.zeros(3), ember.zeros(2), right=True, side="left")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_erfinv_matches_torch_in_the_tails_at_the_ends_and_outside(dtype):
    y = np.concatenate([np.linspace(-1, 1, 2001), [1 - 1e-12, -1 + 1e-15, 0.999999, 1.5, -2.0, -0.0, 1e-300,
                                                   float("nan")]]).astype(dtype)
    ours, theirs = ember.erfinv(ember.tensor(y)), torch.erfinv(torch.tensor(y))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=3e-7 if dtype == "float32" else 5e-15, atol=0)
    assert np.signbit(ours.numpy()[-3]) and ours.numpy()[-3] == 0  # erfinv(-0.0) is -0.0
    assert ember.tensor(0.5).erfinv().item() == pytest.approx(0.4769362762)


def test_erfinv_gradient_matches_torch_eagerly_and_under_jit():
    y = np.random.default_rng(0).uniform(-0.99, 0.99, (3, 4))
    x, t = ember.tensor(y, requires_grad=True), torch.tensor(y, requires_grad=True)
    (torch.erfinv(t) ** 2).sum().backward()

    def step(v):
        loss = (ember.erfinv(v) ** 2).sum()
        loss.backward()
        return loss

    traced = ember.jit(step)
    for fn in (step, traced, traced):  # eager, the trace, then its compiled code
        x.grad = None
        fn(x)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_lgamma_digamma_polygamma_match_torch_at_poles_negatives_and_large_values():
    x = np.array([0.0, -0.0, -1.0, -2.5, -0.5, 1e-300, 1e-5, 0.1, 1.0, 3.7, 19.9, 20.0, 55.5, 1e30, np.inf, np.nan])
    pairs = [(ember.lgamma, torch.lgamma, 1e-14), (ember.digamma, torch.digamma, 1e-13),
             (lambda v: ember.polygamma(2, v), lambda v: torch.polygamma(2, v), 1e-13),
             (lambda v: v.polygamma(1), lambda v: v.polygamma(1), 1e-9)]  # torch's trigamma: 1e-10 relative
    for ours, theirs, rtol in pairs:
        a, b = ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy()
        keep = ~((x == -1.0) | (x == np.inf))  # torch's polygamma(n >= 1) there: a finite number, NaN
        np.testing.assert_allclose(a[keep], b[keep], rtol=rtol, atol=0)
    for dtype in ("float32", "float64"):
        assert ember.lgamma(ember.ones(2, dtype=dtype)).dtype == dtype


def test_gamma_functions_gradients_match_torch_to_second_order_and_under_jit():
    y = np.random.default_rng(1).uniform(0.2, 5.0, (2, 3))
    x, t = ember.tensor(y, requires_grad=True), torch.tensor(y, requires_grad=True)
    (gt,) = torch.autograd.grad((torch.lgamma(t) + torch.digamma(t)).sum(), t, create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), t)

    def step(v):
        (g,) = ember.grad((ember.lgamma(v) + ember.digamma(v)).sum(), v, create_graph=True)
        (gg,) = ember.grad(g.sum(), v)
        return g, gg

    traced = ember.jit(step)
    for fn in (step, traced, traced):
        g, gg = fn(x)
        np.testing.assert_allclose(g.detach().numpy(), gt.detach().numpy(), rtol=1e-9)
        np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-8)  # torch's trigamma: 1e-10 absolute
    with pytest.raises(ValueError, match="polygamma: n must be a non-negative integer, got -1"):
        ember.polygamma(-1, x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((2, 0), 1), ((0, 3), 1), ((0, 3), 0)])
def test_softmax_of_an_empty_tensor_is_empty_as_torch(name, shape, axis):
    x = ember.zeros(*shape, requires_grad=True)
    y = getattr(ember, name)(x, axis=axis)
    expected = getattr(torch, name)(torch.zeros(*shape), axis)
    assert tuple(y.shape) == tuple(expected.shape) and str(y.dtype) == "float32"
    y.sum().backward()
    assert tuple(x.grad.shape) == shape


INTEGER_DIVISIONS = ["a // b", "a % b", "a.fmod(b)", "a.div(b, rounding_mode='trunc')",
                     "a.div(b, rounding_mode='floor')", "a.remainder(b)", "a // 0", "a % 0"]


@pytest.mark.parametrize("expression", INTEGER_DIVISIONS)
def test_integer_division_by_zero_raises_as_torchs(expression):
    # NumPy's 0 came back silently: tensor([5, -7]) // tensor([0, 2]) was [0, -4]
    for lib in (ember, torch):
        with pytest.raises((ZeroDivisionError, RuntimeError), match="ZeroDivisionError|division by zero"):
            eval(expression, {"a": lib.tensor([5, -7]), "b": lib.tensor([0, 2])})
    nonzero = expression.replace("0", "b")
    _same(eval(nonzero, {"a": ember.tensor([5, -7]), "b": ember.tensor([3, -2])}),
          eval(nonzero, {"a": torch.tensor([5, -7]), "b": torch.tensor([3, -2])}), exact=True)
    assert (ember.tensor([5.0]) // 0).tolist() == [float("inf")]  # floats divide as IEEE


def test_integers_to_a_negative_integer_power_raise_as_torchs():
    a = ember.tensor([2, 1, -1])
    with pytest.raises(RuntimeError, match=r"pow: integers to negative integer powers are not allowed \(int64\[3\]"):
        a ** -1
    with pytest.raises(RuntimeError, match="integers to negative integer powers"):
        a.pow(-2)
    ta = torch.tensor([2, 1, -1])
    _same(a ** ember.tensor([-1, -2, -3]), ta ** torch.tensor([-1, -2, -3]), exact=True)  # a tensor exponent
    _same(a.float() ** -1, ta.float() ** -1)
    # a NumPy int exponent is a number too: uint8 ** np.int8(-2) took it as 254 and gave [0, 0, 41, 1, 0]
    for base in (ember.tensor([6, 4, 5, 1, 2], dtype=ember.uint8), a):
        with pytest.raises(RuntimeError, match="integers to negative integer powers"):
            base ** np.int8(-2)
        with pytest.raises(RuntimeError):
            torch.tensor(base.numpy()) ** np.int8(-2)


def test_mean_of_no_elements_is_nan_as_torchs():
    # it raised a ValueError where PyTorch gives nan (loss[mask].mean() with an empty mask)
    for shape, dim in (((0,), None), ((0, 3), 0), ((2, 0), 1)):
        ours = ember.zeros(*shape).mean() if dim is None else ember.zeros(*shape).mean(dim)
        theirs = torch.zeros(*shape).mean() if dim is None else torch.zeros(*shape).mean(dim)
        assert ours.shape == tuple(theirs.shape) and np.isnan(ours.numpy()).all() and ours.dtype == ember.float32
    x = ember.zeros(0, 3, requires_grad=True)
    x.mean(0).sum().backward()
    assert x.grad.shape == (0, 3)
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        assert np.isnan(ember.zeros(0).var().item())


@pytest.mark.parametrize("method", ["scatter", "scatter_"])
def test_scatter_of_a_src_of_another_dtype_is_refused_as_torch(method):
    # float src into an int64 tensor was truncated silently ([1.5, 2.5] wrote [1, 2]); PyTorch refuses it
    ours, theirs = ember.zeros(5, dtype=ember.int64), torch.zeros(5, dtype=torch.int64)
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        getattr(theirs, method)(0, torch.tensor([0, 3]), torch.tensor([1.5, 2.5]))
    with pytest.raises(RuntimeError, match=f"{method}: self of dtype int64 and src of dtype float32"):
        getattr(ours, method)(0, ember.tensor([0, 3]), ember.tensor([1.5, 2.5]))
    assert ours.tolist() == [0, 0, 0, 0, 0]
    _same(getattr(ours, method)(0, ember.tensor([0, 3]), ember.tensor([1, 2])),
          getattr(theirs, method)(0, torch.tensor([0, 3]), torch.tensor([1, 2])), exact=True)


@pytest.mark.parametrize(("name", "call"), [
    ("index_put", lambda lib, x: x.index_put((lib.tensor([0]),), lib.tensor([1.5]))),
    ("masked_scatter", lambda lib, x: x.masked_scatter_(lib.tensor([True, False, False]), lib.tensor([1.5]))),
    ("put", lambda lib, x: x.put_(lib.tensor([0]), lib.tensor([1.5]))),
    ("put", lambda lib, x: x.put(lib.tensor([0]), lib.tensor([1.5]))),
])
def test_float_values_written_by_index_into_an_int_tensor_are_refused_as_torch(name, call):
    # they were truncated silently ([1.5] wrote [1]); PyTorch refuses them
    with pytest.raises(RuntimeError, match="dtype"):
        call(torch, torch.zeros(3, dtype=torch.int64))
    ours = ember.zeros(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match=f"{name}_?: self of dtype int64 and \\w+ of dtype float32"):
        call(ember, ours)
    assert ours.tolist() == [0, 0, 0]
    with pytest.raises(RuntimeError, match="index_put: self of dtype float32 and values of dtype float64"):
        ember.zeros(3).index_put((ember.tensor([0]),), ember.tensor([1.5], dtype=ember.float64))  # as PyTorch


_MISMATCHED = {  # each op's call on (lib, self, source of another dtype); PyTorch refuses all of them
    "index_add": lambda lib, x, s: lib.index_add(x, 0, lib.tensor([1, 0]), s),
    "index_copy": lambda lib, x, s: lib.index_copy(x, 0, lib.tensor([1, 0]), s),
    "scatter_add": lambda lib, x, s: lib.scatter_add(x, 0, lib.tensor([[1, 0, 1], [0, 1, 0]]), s),
    "scatter": lambda lib, x, s: lib.scatter(x, 0, lib.tensor([[1, 0, 1], [0, 1, 0]]), s, reduce="add"),
    "scatter_reduce": lambda lib, x, s: lib.scatter_reduce(x, 0, lib.tensor([[1, 0, 1], [0, 1, 0]]), s, "amax"),
    "index_reduce": lambda lib, x, s: x.index_reduce(0, lib.tensor([1, 0]), s, "prod"),
    "masked_scatter": lambda lib, x, s: lib.masked_scatter(x, x > 2, s),
    "index_put": lambda lib, x, s: lib.index_put(x, (lib.tensor([1, 0]),), s),
    "put": lambda lib, x, s: lib.put(x, lib.tensor([1, 0]), s[0, :2]),
    "index_add_": lambda lib, x, s: x.index_add_(0, lib.tensor([1, 0]), s),
    "index_copy_": lambda lib, x, s: x.index_copy_(0, lib.tensor([1, 0]), s),
    "scatter_add_": lambda lib, x, s: x.scatter_add_(0, lib.tensor([[1, 0, 1], [0, 1, 0]]), s),
    "scatter_reduce_": lambda lib, x, s: x.scatter_reduce_(0, lib.tensor([[1, 0, 1], [0, 1, 0]]), s, "sum"),
    "index_reduce_": lambda lib, x, s: x.index_reduce_(0, lib.tensor([1, 0]), s, "mean"),
    "masked_scatter_": lambda lib, x, s: x.masked_scatter_(x > 2, s),
    "index_put_": lambda lib, x, s: x.index_put_((lib.tensor([1, 0]),), s),
    "put_": lambda lib, x, s: x.put_(lib.tensor([1, 0]), s[0, :2]),
}


@pytest.mark.parametrize("name", sorted(_MISMATCHED))
@pytest.mark.parametrize(("dtype", "source_dtype"), [("int64", "float32"), ("float32", "float64"),
                                                      ("float64", "float32"), ("float32", "int64")])
def test_index_and_scatter_ops_refuse_a_source_of_another_dtype_as_torch(name, dtype, source_dtype):
    # they promoted: an int64 tensor's index_add of float32 0.25s gave a float32 result with fractions, float32's
    # index_put of float64 values rounded them; PyTorch refuses any mismatch
    x = np.arange(6).reshape(2, 3).astype(dtype)
    source = (np.arange(6).reshape(2, 3) * 0.5 + 0.25).astype(source_dtype)
    with pytest.raises(RuntimeError):
        _MISMATCHED[name](torch, torch.tensor(x), torch.tensor(source))
    with pytest.raises(RuntimeError, match=f"{name}: self of dtype {dtype} and \\w+ of dtype {source_dtype} must have "
                                        "the same dtype"):
        _MISMATCHED[name](ember, ember.tensor(x), ember.tensor(source))
    same = source.astype(dtype)
    _same(_MISMATCHED[name](ember, ember.tensor(x), ember.tensor(same)),
          _MISMATCHED[name](torch, torch.tensor(x), torch.tensor(same)))


@pytest.mark.parametrize("name", ["index_add", "index_copy", "index_add_", "index_copy_"])
@pytest.mark.parametrize("dim, shape", [(0, (1, 3)), (0, (2, 1)), (0, (3,)), (1, (1, 2)), (1, (4, 1))])
def test_index_add_and_copy_refuse_a_source_that_only_broadcasts_as_torch(name, dim, shape):
    # a source of shape (1, 3) for two rows was broadcast by the eager forward (both rows got its values) where
    # PyTorch (and Ember's own graphs) refuse it
    x, index, source = np.zeros((4, 3)), np.array([0, 2]), np.ones(shape)
    with pytest.raises((RuntimeError, IndexError)):
        getattr(torch.tensor(x), name)(dim, torch.tensor(index), torch.tensor(source))
    with pytest.raises(ValueError, match=f"{name.rstrip('_')}: the source must have shape"):
        getattr(ember.tensor(x), name)(dim, ember.tensor(index), ember.tensor(source))


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin", "sum", "mean"])
@pytest.mark.parametrize("shape", [(1, 3), (3, 1), (2, 3)])
def test_scatter_reduce_refuses_a_src_smaller_than_the_index_as_torch(reduce, shape):
    # "prod", "amax" and "amin" broadcast a (1, 3) src over a (3, 3) index in the eager forward's reduce.at
    # where PyTorch (and Ember's own graphs) refuse it
    x, index, src = np.zeros((3, 4)), np.zeros((3, 3), dtype=np.int64), np.ones(shape)
    with pytest.raises(RuntimeError):
        torch.scatter_reduce(torch.tensor(x), 1, torch.tensor(index), torch.tensor(src), reduce)
    with pytest.raises(ValueError, match="scatter_reduce: src must cover the index"):
        ember.scatter_reduce(ember.tensor(x), 1, ember.tensor(index), ember.tensor(src), reduce)
    with pytest.raises(ValueError, match="scatter_reduce: src must cover the index"):
        ember.tensor(x).scatter_reduce_(1, ember.tensor(index), ember.tensor(src), reduce)


def test_numbers_and_ember_form_keep_casting_and_index_copy_promotes_under_autocast_as_torch():
    x = np.arange(6).reshape(2, 3)
    index = np.array([[1, 0, 1]])
    for reduce, value in (("add", 1.5), ("multiply", 2.7)):  # a number is cast to int64: 1 and 2
        _same(ember.scatter(ember.tensor(x), 0, ember.tensor(index), value=value, reduce=reduce),
              torch.scatter(torch.tensor(x), 0, torch.tensor(index), value=value, reduce=reduce))
    _same(ember.index_add(ember.tensor(x), 0, ember.tensor([0]), ember.tensor(x[:1]), alpha=1.5),
          torch.index_add(torch.tensor(x), 0, torch.tensor([0]), torch.tensor(x[:1]), alpha=1.5))
    # Ember's own form (indices, src, axis) promotes, as documented
    assert ember.index_add(ember.tensor(x), ember.tensor([0]), ember.tensor(x[:1] * 0.5)).dtype == ember.float64
    ours, theirs = ember.zeros(3, 2), torch.zeros(3, 2)
    with ember.autocast("cpu"), torch.autocast("cpu"):
        _same(ember.index_copy(ours, 0, ember.tensor([0, 2]), ember.ones(2, 2, dtype=ember.bfloat16)),
              torch.index_copy(theirs, 0, torch.tensor([0, 2]), torch.ones(2, 2, dtype=torch.bfloat16)))
        with pytest.raises(RuntimeError, match="index_copy_: self of dtype float32 and source of dtype bfloat16"):
            ours.index_copy_(0, ember.tensor([0, 2]), ember.ones(2, 2, dtype=ember.bfloat16))

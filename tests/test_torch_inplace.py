"""PyTorch idioms that must not give silently wrong results: in-place updates and split's part size."""

import warnings

import numpy as np
import pytest
import torch

import ember


def test_manual_sgd_step_under_no_grad_updates_the_parameters_like_torch():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    w0 = rng.standard_normal((3, 1)).astype(np.float32)
    model, reference = ember.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    model.weight.array[...] = w0.T
    model.bias.array[...] = 0.5
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(w0.T))
        reference.bias.fill_(0.5)
    for _ in range(3):
        for net, lib in ((model, ember), (reference, torch)):
            loss = ((net(lib.from_numpy(x)) - lib.from_numpy(y)) ** 2).mean()
            net.zero_grad()
            loss.backward()
            with lib.no_grad():
                for p in net.parameters():
                    p -= 0.1 * p.grad
    np.testing.assert_allclose(model.weight.detach().numpy(), reference.weight.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(model.bias.detach().numpy(), reference.bias.detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("statement, expected", [
    ("t += 2", [3.0, 4.0]), ("t -= 2", [-1.0, 0.0]), ("t *= 3", [3.0, 6.0]), ("t /= 2", [0.5, 1.0]),
    ("t **= 2", [1.0, 4.0]), ("t.add_(1)", [2.0, 3.0]), ("t.add_(ember.tensor([1.0, 1.0]), alpha=-2)", [-1.0, 0.0]),
    ("t.add_(-2, ember.tensor([1.0, 1.0]))", [-1.0, 0.0]), ("t.sub_(1)", [0.0, 1.0]), ("t.mul_(4)", [4.0, 8.0]),
    ("t.div_(4)", [0.25, 0.5]), ("t.zero_()", [0.0, 0.0]), ("t.fill_(7)", [7.0, 7.0]),
    ("t.copy_(ember.tensor([5.0, 6.0]))", [5.0, 6.0]), ("t.clamp_(1.5, 1.8)", [1.5, 1.8]),
    ("t.addcmul_(ember.tensor([2.0, 2.0]), ember.tensor([1.0, 3.0]), value=0.5)", [2.0, 5.0]),
    ("t.neg_()", [-1.0, -2.0]), ("t.masked_fill_(ember.tensor([True, False]), 0.0)", [0.0, 2.0]),
])
def test_in_place_ops_write_into_every_alias(statement, expected):
    t = ember.tensor([1.0, 2.0])
    alias, view = t, t.detach()
    exec(statement)
    assert t is alias
    np.testing.assert_allclose(alias.numpy(), expected)
    np.testing.assert_allclose(view.numpy(), expected)


def test_in_place_on_a_leaf_that_requires_grad_raises_outside_no_grad_as_torch():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    for statement in ("w += 1", "w.add_(1)", "w.zero_()", "w.copy_(ember.zeros(2))", "w.normal_()"):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            exec(statement)
    with pytest.raises(RuntimeError):
        reference = torch.tensor([1.0, 2.0], requires_grad=True)
        reference += 1
    with ember.no_grad():
        w -= 0.5
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.5])
    assert w.requires_grad and w.is_leaf


def test_in_place_ops_that_autograd_records_are_recorded():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    h += 1  # recorded, as PyTorch records it (tests/test_inplace_recorded.py compares with torch)
    buffer = ember.zeros(2)
    buffer += w
    (h * buffer).sum().backward()
    assert w.grad.tolist() == [2 * 1.0 + 3.0, 2 * 2.0 + 5.0]


def test_in_place_ops_keep_shape_and_refuse_narrowing_casts_as_torch():
    counts = ember.tensor([1, 2])
    with pytest.raises(RuntimeError, match="float.* cannot be cast .*int64"):
        counts += 0.5
    counts += 1
    assert counts.dtype == np.int64 and counts.numpy().tolist() == [2, 3]
    row = ember.zeros(3)
    with pytest.raises(RuntimeError, match=r"shape \[2, 3\] does not fit .* \[3\]"):
        row += ember.ones(2, 3)
    half = ember.zeros(2, dtype="float32")
    half += ember.tensor([0.25, 0.5], dtype="float64")
    assert half.dtype == np.float32


def test_in_place_methods_are_refused_on_graph_values_and_operators_rebind():
    g = ember.graph.Graph()
    x = g.input("x", (2,), "float32")
    with g.building():
        y = x
        y += 1  # a symbolic value cannot change in place: the name is rebound to the new value
        assert y is not x and y.shape == (2,)
        with pytest.raises(TypeError, match="not recorded into a graph"):
            x.add_(1)
        with pytest.raises(TypeError, match=r"__setitem__: item assignment .* graph \(float32\[2\]\)"):
            x[0] = 1.0  # (a raw "'Symbol' object does not support item assignment" before)


def test_normal_and_uniform_fill_in_place_from_the_seeded_generator():
    ember.manual_seed(3)
    a = ember.zeros(1000).normal_(2.0, 0.5)
    ember.manual_seed(3)
    b = ember.zeros(1000).normal_(2.0, 0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert abs(a.numpy().mean() - 2.0) < 0.1 and abs(a.numpy().std() - 0.5) < 0.05
    u = ember.zeros(1000).uniform_(-1.0, 3.0)
    assert u.numpy().min() >= -1.0 and u.numpy().max() < 3.0 and u.dtype == np.float32


def test_split_with_an_int_is_the_part_size_as_torch():
    x = np.arange(20, dtype=np.float32).reshape(4, 5)
    for size, axis in ((1, 1), (2, 1), (3, 0), (5, 1)):
        ours = ember.split(ember.tensor(x), size, axis=axis)
        theirs = torch.split(torch.from_numpy(x), size, dim=axis)
        assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert len(ember.tensor(x).split(1, axis=1)) == 5


@pytest.mark.parametrize("statement", [
    "ember.zeros(3, dtype=ember.int8).masked_fill_(mask, 300)",
    "ember.zeros(3, dtype=ember.int8).masked_fill(mask, ember.tensor(300))",
    "ember.zeros(3, dtype=ember.int32).masked_fill_(mask, float('inf'))",
    "ember.zeros(3, dtype=ember.int32).index_fill_(0, ember.tensor([0]), 10 ** 10)",
    "ember.zeros(3, dtype=ember.int8).scatter_(0, ember.tensor([0]), 300)",
    "ember.zeros(3, dtype=ember.float16).fill_(1e5)",
    "ember.zeros(3, dtype=ember.bfloat16).masked_fill_(mask, -1e39)",
    "ember.zeros(3, dtype=ember.uint8).masked_fill_(mask, -2.7)",  # (was 254: only integers wrap)
    "ember.zeros(3, dtype=ember.uint8).index_fill(0, ember.tensor([0]), ember.tensor(-0.5, dtype=ember.float64))",
    "ember.zeros(2, 2, dtype=ember.float16).fill_diagonal_(1e5)",  # (fill_diagonal_ wrote inf, 127 for 127.9 in int8)
    "ember.zeros(2, 2, dtype=ember.int8).fill_diagonal_(127.9)",
])
def test_a_fill_value_the_dtype_cannot_hold_is_refused_as_torch(statement):
    # NumPy's cast wrapped 300 to 44 in int8, made inf the smallest int32 and 1e5 inf in float16, silently
    with pytest.raises(RuntimeError, match=r"value .* cannot be converted to \w+ without overflow"):
        eval(statement, {"ember": ember, "mask": ember.ones(3, dtype=ember.bool)})
    x = ember.zeros(3, dtype=ember.uint8).masked_fill_(ember.ones(3, dtype=ember.bool), -1)  # wraps, as PyTorch's
    assert x.tolist() == [255, 255, 255]
    assert ember.zeros(2, dtype=ember.float16).fill_(-float("inf")).tolist() == [-float("inf")] * 2
    assert ember.zeros(2, 2, dtype=ember.uint8).fill_diagonal_(-2).tolist() == [[254, 0], [0, 254]]


def test_masked_fill_in_place_refuses_what_masked_fill_refuses():
    # an int mask was read as its truth and a 1-element value broadcast: masked_fill and PyTorch refuse both
    x = ember.zeros(2, 3)
    with pytest.raises(TypeError, match="masked_fill_: the mask must be a bool tensor, got int64"):
        x.masked_fill_(ember.ones(3, dtype=ember.int64), 4.0)
    with pytest.raises(ValueError, match=r"masked_fill_: value must be a number or a 0-d tensor, got shape \[1\]"):
        x.masked_fill_(ember.ones(3, dtype=ember.bool), ember.tensor([4.0]))


@pytest.mark.parametrize("statement", ["e.zero_()", "e.fill_(2)", "e.copy_(ember.ones(2, 3))", "e.__setitem__(0, 1)",
                                       "e.normal_()", "e.index_put_((ember.tensor([0]),), ember.tensor(1.0))",
                                       "e.exponential_()", "e.fill_diagonal_(1)"])
def test_writes_into_an_expanded_tensor_are_refused_naming_the_method(statement):
    # NumPy's "ValueError: assignment destination is read-only" named neither the method nor the tensor
    e = ember.zeros(1, 3).expand(2, 3)
    name = statement[2:statement.index("(")]
    with pytest.raises(RuntimeError, match=rf"{name}: the tensor of shape \[2, 3\] is a read-only view"):
        exec(statement, {"ember": ember, "e": e})


@pytest.mark.parametrize("statement", ["v.mul_(0)", "v.fill_(2)", "v.copy_(ember.ones(6))", "v.__setitem__(0, 5.0)",
                                       "v.index_put_((ember.tensor([0]),), ember.tensor(1.0))"])
def test_writes_into_a_view_that_had_to_copy_are_refused(statement):
    # nn.Linear keeps its weight column by column, so weight.view(-1) is a copy: writes into it were lost silently,
    # where PyTorch's view of its (row-major) weight writes through
    lin = ember.nn.Linear(3, 2)
    before = lin.weight.detach().clone()
    name = statement[2:statement.index("(")]
    with ember.no_grad():
        v = lin.weight.view(-1)
        np.testing.assert_array_equal(v.numpy(), before.numpy().reshape(-1))  # reading it is fine
        with pytest.raises(RuntimeError, match=rf"{name}: the tensor of shape \[6\] is read-only: a copy that view"):
            exec(statement, {"ember": ember, "v": v})
    np.testing.assert_array_equal(lin.weight.detach().numpy(), before.numpy())
    t = ember.arange(12.0).reshape(3, 4).t().view(12)  # (PyTorch refuses this view)
    with pytest.raises(RuntimeError, match="a copy that view"):
        t.add_(1)
    w = ember.arange(6.0).reshape(2, 3).view(6)  # a real view still writes through
    w.add_(1)
    assert w.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_view_as_is_view_not_reshape():
    # view_as reshaped: a writable copy of a transposed tensor, whose writes never reached it
    x = ember.zeros(2, 3)
    v = x.t().view_as(ember.zeros(6))
    with pytest.raises(RuntimeError, match="add_: the tensor of shape \\[6\\] is read-only: a copy that view"):
        v.add_(1)
    assert x.sum().item() == 0.0
    x.view_as(ember.zeros(3, 2)).add_(1)  # a real view writes through; reshape_as may copy, as PyTorch's
    r = x.t().reshape_as(ember.zeros(6)).add_(1)
    assert x.tolist() == [[1.0] * 3] * 2 and r.tolist() == [2.0] * 6


@pytest.mark.parametrize("statement", ["w.fill_(1)", "w.mul_(0)", "w.__setitem__(0, 5.0)"])
def test_writes_into_unfold_windows_are_refused(statement):
    # Tensor.unfold's windows are a copy here (PyTorch's are a view of x): x[0].unfold(0, 2, 1).fill_(1) left x as it
    # was, silently (PyTorch writes through, or refuses for overlapping windows)
    x = ember.arange(6.0)
    w = x.unfold(0, 2, 2)
    assert w.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]  # reading is fine
    name = statement[2:statement.index("(")]
    with pytest.raises(RuntimeError, match=rf"{name}: .* the windows Tensor.unfold copied"):
        exec(statement, {"w": w})
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert (w * 2).tolist()[2] == [8.0, 10.0]
    s = ember.as_strided(x, (2, 2), (1, 2))  # as_strided's copy
    with pytest.raises(RuntimeError, match="the copy as_strided made"):
        s.zero_()
    z = ember.view_as_complex(x.reshape(3, 2))  # the same for view_as_complex's copy
    with pytest.raises(RuntimeError, match="the complex copy of view_as_complex"):
        z.mul_(2)
    assert z.tolist() == [1j, 2 + 3j, 4 + 5j]


def test_copy_from_a_source_that_does_not_broadcast_names_the_shapes():
    # a source of as many elements in another shape failed inside NumPy's broadcast_shapes, naming neither
    with pytest.raises(RuntimeError, match=r"copy_: a source of shape \[6\] does not broadcast to \[2, 3\]"):
        ember.zeros(2, 3).copy_(ember.arange(6.0))
    assert ember.zeros(2, 3).copy_(ember.arange(3.0)).tolist() == [[0.0, 1.0, 2.0]] * 2



@pytest.mark.parametrize("statement", [
    "x(ember, 'uint8').fill_(-1)", "x(ember, 'uint8').fill_(ember.tensor(-2))", "x(ember, 'int8').copy_(300)",
    "x(ember, 'float32').fill_(ember.tensor(1 + 2j))", "x(ember, 'int64').fill_(ember.tensor(3 - 1j))",
    "x(ember, 'float32').copy_(2.5 + 1j)", "x(ember, 'float64').copy_(-1.5)", "x(ember, 'bool').fill_(0.5)"])
def test_fill_and_copy_of_a_number_cast_as_torch(statement):
    # NumPy refused to store -1 in uint8 and a complex number in a real tensor ("float() argument must be ... not
    # 'complex'"); PyTorch wraps the one and keeps the real part of the other, as a 0-d tensor's cast does
    def x(lib, dtype):
        return lib.zeros(3, dtype=getattr(lib, dtype))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (both warn that the imaginary part is discarded)
        got = eval(statement, {"ember": ember, "x": x})
        want = eval(statement.replace("ember", "torch"), {"torch": torch, "x": x})
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), want.numpy())

"""In-place ops on views of tensors whose gradient is wanted (``y[0] += 1``, ``y.t().mul_(2)``,
``y.narrow(1, 0, 2).copy_(z)``): written through the view's memory and recorded as PyTorch records them."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

WRITES = {
    "slice_imul": "y[:, :2] *= 2",
    "row_iadd": "y[0] += 1",
    "narrow_copy": "y.narrow(1, 0, 2).copy_(z)",
    "view_add": "y.view(-1).add_(1)",
    "transpose_mul": "y.t().mul_(2)",
    "column_zero": "y[:, 1].zero_()",
    "unsqueeze_relu": "y.unsqueeze(0).relu_()",
    "chained_views_setitem": "y.t()[1:][0, 1] = z[0, 0] * 3",
    "reshaped_slice_sub": "v = y.view(3, 2)[1:]; v.sub_(z[1])",
    "fill_with_tensor": "y[1, ::2].fill_(z[1, 1])",
    "diagonal_mul": "y.diagonal().mul_(3)",
    "offset_diagonal_copy": "y.diagonal(1).copy_(z[0])",
    "transposed_diagonal_setitem": "y.t().diagonal(-1)[0] = z[1, 0]",
    "element_add": "y[1, 2].add_(z[0, 1])",
    "element_of_a_row_mul": "r = y[0]; r[1].mul_(z[1, 1])",
    "two_writes_into_one_row": "y[1].mul_(3); y[1].mul_(z[0, 1])",
    "two_writes_through_one_view": "v = y.t()[1:]; v.add_(3); v.mul_(z)",
}


def _run(lib, statement):
    x = lib.tensor(np.arange(6, dtype=np.float64).reshape(2, 3) - 2, requires_grad=True)
    z = lib.tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    y = x * 1.5
    exec(statement, {}, {"y": y, "z": z})
    (y * y).sum().backward()
    return y.detach().numpy(), x.grad.numpy(), z.grad.numpy() if z.grad is not None else np.zeros((2, 2))


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_through_a_view_gives_torchs_values_and_gradients(name):
    got, want = _run(ember, WRITES[name]), _run(torch, WRITES[name])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_every_view_of_the_written_tensor_sees_the_write_and_differentiates_through_it():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    a = y.t()
    a[0].mul_(3)  # column 0 of y
    assert y.tolist() == [[3.0, 2.0], [9.0, 4.0]] and a.tolist() == [[3.0, 9.0], [2.0, 4.0]]
    (a * ember.tensor([[1.0, 10.0], [100.0, 1000.0]])).sum().backward()
    assert x.grad.tolist() == [[3.0, 100.0], [30.0, 1000.0]]


def test_a_view_of_a_leaf_that_requires_grad_is_refused_as_torch():
    w = ember.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"mul_: a view of a leaf tensor that requires grad \(float32\[2, 3\]\)"):
        w[0].mul_(2)


def test_a_node_that_read_the_old_values_refuses_the_backward():
    x = ember.ones(3, requires_grad=True)
    y = x * 2
    squares = y * y
    y[1:].add_(1)
    with pytest.raises(RuntimeError, match=r"an input of mul"):
        squares.sum().backward()


def test_values_written_by_an_operand_that_requires_grad_into_a_recorded_view():
    x = ember.zeros(2, 3, requires_grad=True)
    s = ember.tensor(2.0, requires_grad=True)
    y = x + 1
    y[0, 1:].mul_(s)
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0, 2.0], [1.0, 1.0, 1.0]] and s.grad.item() == 2.0


def test_a_view_to_the_same_shape_is_a_view_of_its_own_where_gradients_are_recorded():
    # view_as(a) returned a itself: the gradient asked for the view came out as a's ([3, 12] for [2, 8])
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = a.view_as(a)
    assert b is not a
    assert ember.autograd.grad((a * b ** 2).sum(), b)[0].tolist() == [2.0, 8.0]
    plain = ember.ones(3)
    assert plain.view(3) is plain  # nothing recorded: the tensor itself


@pytest.mark.parametrize("statement", ["y[m] *= 2", "y[[1, 0], 1:] -= v[:2]", "y[m] = y[m] * 3"])
def test_an_augmented_assignment_through_an_advanced_index_as_torch(statement):
    # the value read y[m] before y moved to the write: the backward refused (the getitem's input was replaced)
    def run(lib):
        x = lib.tensor(np.arange(6.0).reshape(2, 3) - 2, requires_grad=True)
        v = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1.5
        exec(statement, {}, {"y": y, "v": v, "m": y > 0})
        (y * y).sum().backward()
        return x.grad.numpy(), np.zeros(3) if v.grad is None else v.grad.numpy()

    for got, want in zip(run(ember), run(torch)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_diagonal_is_a_view_as_torchs():
    # writes into x.diagonal() were lost: it was a copy (cov.diagonal().add_(eps) left cov as it was)
    for lib in (ember, torch):
        cov = lib.zeros(2, 3, 3)
        cov.diagonal(0, -2, -1).add_(0.5)
        d = cov[1].diagonal(1)
        cov.mul_(4)  # and the view sees writes into its base
        assert cov.sum().item() == 12.0 and d.tolist() == [0.0, 0.0]
        cov[0].diagonal()[:] = 7
        assert cov[0].tolist() == [[7, 0, 0], [0, 7, 0], [0, 0, 7]]
        assert lib.diag(cov[0]).fill_(1).tolist() == [1, 1, 1] and cov[0, 0, 0].item() == 7  # diag copies


def test_an_element_picked_by_integers_is_a_view_as_torchs():
    # x[0, 2] was NumPy's copied scalar: x[0, 2].add_(100) and x[1][0].mul_(3) left x as it was
    for lib in (ember, torch):
        x = lib.arange(6.0).reshape(2, 3)
        x[0, 2].add_(100)
        x[1][0].mul_(3)
        x.select(1, 1)[0].fill_(-1)
        assert x.tolist() == [[0.0, -1.0, 102.0], [9.0, 4.0, 5.0]]

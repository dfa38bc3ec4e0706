"""nn.Linear stores its weight column by column (an (in, out) matrix seen transposed); the gradient, the optimizer
state and code compiled by ember.jit follow that layout."""

import numpy as np
import pytest

import ember
from ember.nn.layers.linear import column_major
from ember.runtime.arena import lay_out


def _grads(weight_array, x, g, create_graph=False):
    w = ember.from_numpy(weight_array).requires_grad_()
    xt = ember.from_numpy(x).requires_grad_()
    out = ember.linear(xt, w)
    (out * ember.from_numpy(g)).sum().backward(create_graph=create_graph)
    return w.grad, xt.grad


@pytest.mark.parametrize("lead", [(5,), (2, 3)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_weight_gradient_of_a_column_major_weight_keeps_its_layout(lead, create_graph):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 6))
    x, g = rng.standard_normal(lead + (6,)), rng.standard_normal(lead + (4,))
    gw_rows, gx_rows = _grads(np.ascontiguousarray(w), x, g, create_graph)
    gw_cols, gx_cols = _grads(np.asfortranarray(w), x, g, create_graph)
    expected = g.reshape(-1, 4).T @ x.reshape(-1, 6)
    np.testing.assert_allclose(gw_rows.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(gw_cols.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(gx_cols.detach().numpy(), gx_rows.detach().numpy(), rtol=1e-12)
    assert gw_rows.array.flags.c_contiguous
    assert gw_cols.array.flags.f_contiguous and not gw_cols.array.flags.c_contiguous


def test_second_derivative_through_a_column_major_weight():
    rng = np.random.default_rng(1)
    x = ember.from_numpy(rng.standard_normal((3, 5))).requires_grad_()
    w = ember.from_numpy(np.asfortranarray(rng.standard_normal((2, 5)))).requires_grad_()
    y = (ember.linear(x, w) ** 2).sum()
    (gw,) = ember.grad(y, w, create_graph=True)
    (gx,) = ember.grad(gw.sum(), x)
    def f(xv):  # gw.sum() as a function of x
        return (2 * (xv @ w.detach().numpy().T).T @ xv).sum()
    base, eps, numeric = x.detach().numpy(), 1e-6, np.zeros((3, 5))
    for idx in np.ndindex(3, 5):
        step = np.zeros((3, 5))
        step[idx] = eps
        numeric[idx] = (f(base + step) - f(base - step)) / (2 * eps)
    np.testing.assert_allclose(gx.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_training_a_column_major_layer_keeps_the_layout():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(6, 5), ember.nn.ReLU(), ember.nn.Linear(5, 3))
    for layer in (net[0], net[2]):
        layer.weight.array = np.asfortranarray(layer.weight.array)
    optimizer = ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(2)
    x, y = ember.from_numpy(rng.standard_normal((7, 6)).astype(np.float32)), ember.tensor([0, 1, 2, 0, 1, 2, 0])
    first = None
    for _ in range(3):
        optimizer.zero_grad()
        loss = ember.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        first = float(loss) if first is None else first
    assert float(ember.cross_entropy(net(x), y)) < first
    for layer in (net[0], net[2]):
        assert layer.weight.array.flags.f_contiguous and not layer.weight.array.flags.c_contiguous
        assert layer.weight.grad.array.flags.f_contiguous
        assert optimizer.state[layer.weight]["momentum_buffer"].flags.f_contiguous


def test_linear_layers_store_weights_column_major_with_the_same_values():
    ember.manual_seed(4)
    layer = ember.nn.Linear(5, 3)
    ember.manual_seed(4)
    expected = ember.empty(3, 5)
    ember.nn.init.kaiming_uniform_(expected, a=np.sqrt(5))
    assert layer.weight.shape == (3, 5)
    assert layer.weight.array.flags.f_contiguous and not layer.weight.array.flags.c_contiguous
    np.testing.assert_array_equal(layer.weight.detach().numpy(), expected.numpy())


def test_state_dicts_round_trip_and_keep_the_layout():
    weight = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    moved = column_major(ember.tensor(weight))
    assert moved.array.flags.f_contiguous
    np.testing.assert_array_equal(moved.numpy(), weight)
    layer = ember.nn.Linear(3, 2)
    layer.load_state_dict({"weight": ember.tensor(weight), "bias": ember.zeros(2)})
    assert layer.weight.array.flags.f_contiguous
    np.testing.assert_array_equal(layer.state_dict()["weight"].numpy(), weight)
    twin = ember.nn.Linear(3, 2)
    twin.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(twin.weight.detach().numpy(), weight)
    assert twin.weight.array.flags.f_contiguous


def test_arenas_keep_a_column_major_matrix_in_its_order():
    matrix, vector = np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.arange(3.0)
    placed, bias = lay_out([matrix, vector])
    assert placed.flags.f_contiguous and not placed.flags.c_contiguous and placed.base is bias.base
    np.testing.assert_array_equal(placed, matrix)
    np.testing.assert_array_equal(bias, vector)


def _mlp_and_optimizer():
    ember.manual_seed(5)
    net = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    return net, ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


def _train(net, optimizer, x, y):
    optimizer.zero_grad()
    loss = ember.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    return loss


def test_jit_computes_in_the_weights_layout_and_equals_eager_bit_for_bit():
    (eager_net, eager_opt), (net, opt) = _mlp_and_optimizer(), _mlp_and_optimizer()
    step = ember.jit(lambda x, y: _train(net, opt, x, y))
    rng = np.random.default_rng(6)
    for _ in range(4):
        x = ember.from_numpy(rng.standard_normal((7, 6)).astype(np.float32))
        y = ember.from_numpy(rng.integers(0, 3, 7))
        assert step(x, y).item() == _train(eager_net, eager_opt, x, y).item()
    for (name, a), b in zip(eager_net.state_dict().items(), net.state_dict().values()):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=name)
    graph = step.graph_for(x, y)
    marked = [v for v in graph.inputs if v.array.column_major]
    assert [v.array.shape for v in marked] == [(8, 6), (3, 8)]
    for layer in (net[0], net[2]):
        assert layer.weight.array.flags.f_contiguous and not layer.weight.array.flags.c_contiguous
        assert layer.weight.grad.array.flags.f_contiguous
        assert opt.state[layer.weight]["momentum_buffer"].flags.f_contiguous


def test_column_major_weight_gradients_match_finite_differences():
    rng = np.random.default_rng(8)
    layer = ember.nn.Linear(4, 3, dtype=ember.float64)
    assert layer.weight.array.flags.f_contiguous
    x = rng.standard_normal((5, 4))
    target = rng.standard_normal((5, 3))

    def loss_of(weight):
        return float((((x @ weight.T + layer.bias.detach().numpy()) - target) ** 2).sum())

    loss = ((layer(ember.from_numpy(x)) - ember.from_numpy(target)) ** 2).sum()
    loss.backward()
    base, eps, numeric = layer.weight.detach().numpy().copy(), 1e-6, np.zeros((3, 4))
    for idx in np.ndindex(3, 4):
        step = np.zeros((3, 4))
        step[idx] = eps
        numeric[idx] = (loss_of(base + step) - loss_of(base - step)) / (2 * eps)
    np.testing.assert_allclose(layer.weight.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)
    assert layer.weight.grad.array.flags.f_contiguous


def test_linear_of_one_dtype_and_of_mixed_dtypes_give_the_promoted_result():
    """``linear`` hands three values of one dtype to the op as they are; any other mix still goes through
    promotion (the bias cast to the input's dtype), with the same numbers."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    w = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal(3)
    same = ember.nn.functional.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b.astype(np.float32)))
    mixed = ember.nn.functional.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b))  # a float64 bias
    assert same.dtype == mixed.dtype == np.float32
    np.testing.assert_array_equal(same.numpy(), mixed.numpy())
    np.testing.assert_allclose(same.numpy(), x @ w.T + b.astype(np.float32), rtol=1e-6)

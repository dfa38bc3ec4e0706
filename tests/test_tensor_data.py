"""``Tensor.data`` as in PyTorch: a detached Tensor sharing the array; ``x.data = t`` swaps the array.

Each idiom below used to fail or go silently wrong while ``.data`` was the raw array (``p.data.add_`` had no
such method on an ndarray; ``p.data -= lr * p.grad`` stored a Tensor in the array slot). ``Tensor.array`` is
the raw array now. The PyTorch columns run the same lines on torch when it is installed.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import ember
from ember import nn
from ember.graph import Graph

try:
    import torch
except ImportError:  # the comparisons with PyTorch skip; the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _pair(values):
    """The same float32 values as an Ember Parameter and a torch Parameter (or None without torch)."""
    values = np.asarray(values, np.float32)
    ours = nn.Parameter(ember.tensor(values))
    theirs = torch.nn.Parameter(torch.tensor(values)) if torch is not None else None
    return ours, theirs


# --- the getter ---

def test_data_is_a_detached_tensor_sharing_the_array():
    p = nn.Parameter(ember.tensor([1.0, 2.0, 3.0]))
    d = p.data
    assert type(d) is ember.Tensor  # a plain Tensor, not a Parameter (as torch's p.data)
    assert not d.requires_grad and d.node is None and d.is_leaf
    assert d.array is p.array  # zero-copy
    assert p.data is not d  # a new Tensor each time, over the same array
    d[1] = 20.0
    assert p.tolist() == [1.0, 20.0, 3.0]


def test_numpy_and_item_through_data_on_tensors_that_require_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    view = x.data.numpy()
    assert np.shares_memory(view, x.array)
    loss = (x * x).sum()
    assert loss.data.item() == 5.0
    loss.backward()
    np.testing.assert_array_equal(x.grad.data.numpy(), [2.0, 4.0])  # .grad.data too


def test_data_is_cut_from_autograd():
    p = nn.Parameter(ember.tensor([1.0, -2.0, 3.0]))
    (p * p.data).sum().backward()  # only the first factor is on the tape
    np.testing.assert_array_equal(p.grad.array, [1.0, -2.0, 3.0])  # x, not 2x
    with pytest.raises(RuntimeError):
        (p.data * 2).sum().backward()  # nothing on the tape requires grad


def test_in_place_ops_through_data_need_no_no_grad_and_reach_the_parameter():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="no_grad"):
        p.add_(1.0)  # the parameter itself is refused while recording, as in PyTorch
    p.data.add_(ember.tensor([1.0, 1.0]), alpha=-0.5)
    np.testing.assert_array_equal(p.array, [0.5, 1.5])
    p.data.mul_(2.0)
    np.testing.assert_array_equal(p.array, [1.0, 3.0])
    p.data.copy_(ember.tensor([7.0, 8.0]))
    np.testing.assert_array_equal(p.array, [7.0, 8.0])
    p.data.zero_()
    np.testing.assert_array_equal(p.array, [0.0, 0.0])
    assert p.requires_grad and isinstance(p, nn.Parameter)


@needs_torch
@pytest.mark.filterwarnings("ignore:This overload of add_")
def test_the_pytorch_update_idioms_give_torch_results():
    values, grads = [0.5, -1.0, 2.0], [0.1, 0.2, -0.3]
    results = []
    for lib, p in zip((ember, torch), _pair(values)):
        p.grad = lib.tensor(grads)
        p.data.add_(p.grad, alpha=-0.1)  # the usual manual SGD step
        p.data.mul_(0.9)
        p.data.sub_(p.grad.data * 0.5)  # the blitz tutorial's f.data.sub_(f.grad.data * learning_rate)
        p.data.add_(-0.01, p.grad.data)  # the old scalar-first overload, still in tutorials
        with lib.no_grad():
            p.data -= 0.1 * p.grad  # rebinding .data through the setter, same storage
        p.data.clamp_(-1.0, 1.0)
        results.append(np.asarray(p.detach().numpy(), np.float64))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@needs_torch
def test_an_optimizer_sees_what_data_updates_wrote():
    results = []
    for lib, p in zip((ember, torch), _pair([1.0, 2.0, 3.0])):
        opt = lib.optim.SGD([p], lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
            p.data.add_(1.0)  # outside the optimizer, between its steps
            p.data.mul_(0.5)
        results.append(np.asarray(p.detach().numpy(), np.float64))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_normal_init_through_weight_data():
    ember.manual_seed(0)
    m = nn.Linear(200, 300)
    array = m.weight.array
    m.weight.data.normal_(0.0, 0.02)
    m.bias.data.fill_(0.5)
    assert m.weight.array is array  # filled in place
    assert abs(float(array.mean())) < 0.001 and abs(float(array.std()) - 0.02) < 0.001
    assert (m.bias.array == 0.5).all()


# --- the setter ---

def test_setting_data_changes_what_forward_uses_and_keeps_the_parameter():
    m = nn.Linear(3, 2)
    weight = m.weight
    new = ember.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    m.weight.data = new
    m.bias.data = ember.zeros(2)
    assert m.weight is weight and m.weight.array is new.array  # shared, as in PyTorch
    x = ember.tensor([[1.0, 2.0, 3.0]])
    out = m(x)
    np.testing.assert_array_equal(out.array, [[1.0, 6.0]])
    out.sum().backward()
    np.testing.assert_array_equal(m.weight.grad.array, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])  # still a leaf
    new[0, 0] = 5.0  # storage is shared: the parameter sees it
    assert m.weight.array[0, 0] == 5.0


@needs_torch
def test_setting_data_may_change_shape_and_dtype_as_in_pytorch():
    for lib in (ember, torch):
        p = lib.nn.Parameter(lib.zeros(2, 3))
        p.data = lib.ones(4, dtype=lib.float64)
        assert tuple(p.shape) == (4,) and str(p.dtype).endswith("float64") and p.requires_grad
        with pytest.raises(RuntimeError, match="floating point"):
            p.data = lib.zeros(2, dtype=lib.int64)  # a tensor that requires grad stays floating point
        with pytest.raises(TypeError, match="list"):
            p.data = [1.0, 2.0]


def test_setting_data_from_an_array_shares_it_and_checks_it():
    x = ember.zeros(3)
    array = np.arange(4, dtype=np.float32)
    x.data = array  # Ember also takes a NumPy/CuPy array (PyTorch only takes tensors)
    assert x.array is array
    x.data = np.arange(3)  # a tensor that does not require grad may hold integers
    assert x.dtype == np.int64
    with pytest.raises(TypeError, match="dtype"):
        x.data = np.array(["a", "b"])
    with pytest.raises(TypeError, match="float"):
        x.data = 1.0


# --- graph values ---

def test_graph_values_have_no_data():
    g = Graph()
    x = g.input("x", (2, 3), "float32")
    with g.building():
        y = ember.relu(x)
        with pytest.raises(TypeError, match=r"%1 \(float32\[2, 3\]\) is a symbolic graph value"):
            _ = y.data
        with pytest.raises(TypeError, match="symbolic"):
            y.data = ember.zeros(2, 3)
        with pytest.raises(TypeError, match="symbolic"):
            ember.zeros(2, 3).data = y
    assert y.array.shape == (2, 3)  # what a Value holds: a Symbol


def test_jit_names_data_on_a_traced_value():
    @ember.jit
    def f(x):
        return (x.data * 2).sum()

    with pytest.raises(TypeError, match="symbolic graph value"):
        f(ember.ones(3))


# --- copies and files ---

def test_pickle_deepcopy_state_dict_and_checkpoint_round_trips(tmp_path):
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    net[0].weight.data.uniform_(-1.0, 1.0)
    x = ember.randn(5, 3)
    expected = net(x).array
    for copied in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        np.testing.assert_array_equal(copied(x).array, expected)
        assert isinstance(copied[0].weight, nn.Parameter) and copied[0].weight.data.array is copied[0].weight.array
        assert copied[0].weight.array is not net[0].weight.array
    state = net.state_dict()
    assert state["0.weight"].array is net[0].weight.array
    ember.save({"model": state}, str(tmp_path / "net.safetensors"))
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(ember.load(str(tmp_path / "net.safetensors"))["model"])
    np.testing.assert_array_equal(other(x).array, expected)


def test_a_tensor_pickled_before_the_rename_loads():
    # pickles made while the slot was named "data" carry {"data": array, ...} as their slot state
    new = pickle.dumps(ember.tensor([0.0, 1.0, 2.0]), protocol=2)  # (protocol 2: no frames to resize)
    old = new.replace(b"X\x05\x00\x00\x00array", b"X\x04\x00\x00\x00data")  # the slot name's string
    assert old != new
    t = pickle.loads(old)
    assert t.tolist() == [0.0, 1.0, 2.0] and t.array.dtype == np.float32 and not t.requires_grad


# --- the 60-minute blitz's manual SGD, against PyTorch ---

class _LeNet:
    """The blitz "Neural Networks" tutorial's network, written the same way for both frameworks."""

    def __init__(self, lib):
        self.lib = lib
        self.conv1 = lib.nn.Conv2d(1, 6, 5)
        self.conv2 = lib.nn.Conv2d(6, 16, 5)
        self.fc1 = lib.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = lib.nn.Linear(120, 84)
        self.fc3 = lib.nn.Linear(84, 10)

    def layers(self):
        return [self.conv1, self.conv2, self.fc1, self.fc2, self.fc3]

    def __call__(self, x):
        F = self.lib.nn.functional
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


@needs_torch
def test_blitz_manual_sgd_through_data_matches_pytorch():
    """``for f in net.parameters(): f.data.sub_(f.grad.data * learning_rate)`` for a few steps: the same
    weights (copied in through ``.data``), input and target give the same losses and weights (float32)."""
    torch.manual_seed(0)
    theirs = _LeNet(torch)
    ours = _LeNet(ember)
    for mine, reference in zip(ours.layers(), theirs.layers()):
        mine.weight.data = ember.tensor(reference.weight.detach().numpy().copy())
        mine.bias.data.copy_(ember.tensor(reference.bias.detach().numpy()))
    rng = np.random.default_rng(0)
    x, target = rng.standard_normal((4, 1, 32, 32), np.float32), rng.standard_normal((4, 10), np.float32)
    losses = {}
    for lib, net in ((ember, ours), (torch, theirs)):
        params = [p for layer in net.layers() for p in (layer.weight, layer.bias)]
        criterion = lib.nn.MSELoss()
        learning_rate = 0.01
        losses[lib.__name__] = []
        for _ in range(5):
            for p in params:
                p.grad = None
            loss = criterion(net(lib.tensor(x)), lib.tensor(target))
            loss.backward()
            for f in params:
                f.data.sub_(f.grad.data * learning_rate)
            losses[lib.__name__].append(loss.data.item())
    assert losses["ember"][-1] < losses["ember"][0]  # the update did something
    np.testing.assert_allclose(losses["ember"], losses["torch"], rtol=1e-4)
    for mine, reference in zip(ours.layers(), theirs.layers()):
        np.testing.assert_allclose(mine.weight.data.numpy(), reference.weight.data.numpy(), rtol=1e-3, atol=1e-5)

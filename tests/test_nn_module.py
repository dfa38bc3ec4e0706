"""Module, Parameter, containers, init and functional: registration, traversal order, state_dict and its
errors, modes, gradients, hooks, device/dtype moves, printing, and PyTorch's init and F semantics."""

from __future__ import annotations

import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F
from ember.nn import init


class Block(nn.Module):
    def __init__(self, n: int = 4):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.scale = nn.Parameter(ember.ones(n))
        self.register_buffer("steps", ember.zeros(1))
        self.register_buffer("cache", ember.zeros(n), persistent=False)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(Block(), nn.ReLU(), Block())
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


# --- Parameter --------------------------------------------------------------------------------------------


def test_parameter_shares_data_and_requires_grad():
    t = ember.zeros(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    assert p.array is t.array
    array = np.ones(3, np.float32)
    assert nn.Parameter(array).array is array
    assert not nn.Parameter(ember.zeros(2), requires_grad=False).requires_grad
    assert repr(nn.Parameter(ember.zeros(2))).startswith("Parameter containing:\ntensor(")
    assert not hasattr(p, "__dict__")


def test_parameter_copy_and_pickle_stay_parameters():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert isinstance(q, nn.Parameter) and q.requires_grad
        assert q.array is not p.array
        np.testing.assert_array_equal(q.detach().numpy(), [1.0, 2.0])



def test_copied_and_unpickled_parameters_come_without_the_gradient():
    # as PyTorch's: a copy made after a backward starts with no gradient, so its own first backward is not added to
    # the original's (a copied model took 2x the fresh gradient)
    net = nn.Linear(3, 2)
    x = ember.ones(4, 3)
    net(x).sum().backward()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.weight.grad is None and clone.bias.grad is None
        clone(x).sum().backward()
        np.testing.assert_array_equal(clone.weight.grad.numpy(), net.weight.grad.numpy())
    assert net.weight.grad is not None

# --- registration and traversal ------------------------------------------------------------------------------


def test_named_parameters_follow_registration_order():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [  # a module's own parameters, then its children's, like PyTorch
        "encoder.0.scale", "encoder.0.fc.weight", "encoder.0.fc.bias",
        "encoder.2.scale", "encoder.2.fc.weight", "encoder.2.fc.bias",
        "head.weight", "head.bias",
    ]
    assert len(list(net.parameters())) == 8
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.head.named_parameters(prefix="head")] == ["head.weight", "head.bias"]


def test_state_dict_has_nested_keys_and_persistent_buffers_only():
    net = Net()
    keys = list(net.state_dict())
    assert keys == [
        "encoder.0.scale", "encoder.0.steps", "encoder.0.fc.weight", "encoder.0.fc.bias",
        "encoder.2.scale", "encoder.2.steps", "encoder.2.fc.weight", "encoder.2.fc.bias",
        "head.weight", "head.bias",
    ]
    assert "encoder.0.cache" in dict(net.named_buffers())
    state = net.state_dict()
    assert not any(v.requires_grad for v in state.values())
    assert state["head.weight"].array is net.head.weight.array  # detached views, no copies


def test_state_dict_order_matches_torch_for_the_same_structure():
    torch = pytest.importorskip("torch")

    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))

    assert list(build(nn).state_dict()) == list(build(torch.nn).state_dict())


def test_modules_children_and_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert [name for name, _ in net.named_modules()] == ["", "0", "1"]
    assert [name for name, _ in net.named_children()] == ["0", "1"]
    assert list(net.children())[0] is shared
    assert len(list(net.modules())) == 3
    assert net.get_submodule("1") is net[1]


def test_setattr_bookkeeping_and_deletion():
    block = Block()
    assert "fc" in block._modules and "scale" in block._parameters and "steps" in block._buffers
    block.scale = nn.Parameter(ember.zeros(4))  # replacing keeps one entry
    assert list(block._parameters) == ["scale"]
    block.fc = None
    assert block.fc is None and "fc.weight" not in block.state_dict()
    with pytest.raises(TypeError, match="Parameter or None expected"):
        block.scale = ember.zeros(4)
    block.steps = ember.ones(1)  # a buffer may be replaced by a tensor
    assert block.state_dict()["steps"].item() == 1.0
    del block.scale
    assert "scale" not in block._parameters and not hasattr(block, "scale")
    block.plain = 3
    assert block.plain == 3 and "plain" not in block.state_dict()


def test_assigning_before_init_is_an_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_register_checks_names_and_types():
    m = nn.Module()
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", ember.zeros(1))
    with pytest.raises(TypeError, match="ember.Tensor"):
        m.register_buffer("x", np.zeros(1))
    with pytest.raises(KeyError, match="clashes"):
        m.register_parameter("forward", nn.Parameter(ember.zeros(1)))
    m.register_parameter("bias", None)
    assert m.bias is None and list(m.parameters()) == []


def test_assigning_a_parameter_checks_its_name_as_registering_does():
    # as PyTorch's (its assignment registers): setattr(m, "a.b", p) saved a key "a.b" that no path leads to, and
    # m.forward = p hid the method behind a parameter
    m = nn.Linear(1, 1)
    for name, match in (("a.b", "without '.'"), ("", "non-empty"), ("forward", "clashes")):
        with pytest.raises(KeyError, match=match):
            setattr(m, name, nn.Parameter(ember.ones(1)))
    m.plain = 5
    m.plain = nn.Parameter(ember.ones(1))  # a plain attribute is replaced, as PyTorch's
    m.weight = nn.Parameter(ember.zeros(1, 1))
    assert list(m.state_dict()) == ["weight", "bias", "plain"] and callable(m.forward)


def test_register_refuses_a_name_held_by_another_kind_or_attribute():
    # as PyTorch: registering a buffer "weight" on a Linear dropped the parameter from parameters() silently
    lin = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="'weight' already exists"):
        lin.register_buffer("weight", ember.ones(2, 2))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"] and list(lin.buffers()) == []
    m = nn.Module()
    m.register_buffer("b", ember.ones(1))
    m.add_module("c", nn.ReLU())
    m.plain = 5
    with pytest.raises(KeyError, match="'b' already exists"):
        m.register_parameter("b", nn.Parameter(ember.ones(1)))
    with pytest.raises(KeyError, match="'c' already exists"):
        m.register_buffer("c", ember.ones(1))
    with pytest.raises(KeyError, match="'plain' already exists"):
        m.add_module("plain", nn.ReLU())
    m.register_buffer("b", ember.zeros(1), persistent=False)  # re-registering one of its own kind is fine
    assert list(m.state_dict()) == [] and m.b.tolist() == [0.0]


# --- load_state_dict ----------------------------------------------------------------------------------------


def test_load_state_dict_copies_in_place():
    src, dst = Net(), Net()
    weight = dst.head.weight
    dst.load_state_dict(src.state_dict())
    assert dst.head.weight is weight  # same Parameter object: optimizers keep their references
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    x = ember.randn(3, 4)
    src.eval(), dst.eval()
    np.testing.assert_array_equal(src(x).detach().numpy(), dst(x).detach().numpy())


def test_load_state_dict_accepts_numpy_arrays():
    fc = nn.Linear(2, 2)
    fc.load_state_dict({"weight": np.eye(2, dtype=np.float32), "bias": np.zeros(2)})
    np.testing.assert_array_equal(fc.weight.detach().numpy(), np.eye(2))
    assert fc.bias.dtype == np.float32


def test_load_state_dict_lists_every_problem():
    net = Net()
    state = dict(net.state_dict())
    del state["head.bias"]
    state["head.extra"] = ember.zeros(1)
    state["encoder.0.fc.weight"] = ember.zeros(5, 4)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert 'Missing key(s) in state_dict: "head.bias"' in message
    assert 'Unexpected key(s) in state_dict: "head.extra"' in message
    assert "size mismatch for encoder.0.fc.weight: expected shape [4, 4], got [5, 4]" in message


def test_load_state_dict_non_strict_reports_keys_but_still_checks_shapes():
    net = Net()
    state = dict(net.state_dict())
    del state["head.bias"]
    state["junk"] = ember.zeros(1)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["junk"]
    state["head.weight"] = ember.zeros(2, 5)
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):
        net.load_state_dict(state, strict=False)


# --- modes, gradients, apply, to ------------------------------------------------------------------------------


def test_train_and_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.encoder.eval()
    assert net.training and not net.encoder[0].drop.training


def test_train_calls_each_childs_own_train():
    class FrozenNorm(nn.Module):  # a common fine-tuning pattern: the norm stays in eval mode
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(2)

        def train(self, mode: bool = True):
            super().train(mode)
            self.bn.eval()
            return self

        def forward(self, x):
            return self.bn(x)

    net = nn.Sequential(nn.Linear(2, 2), FrozenNorm())
    net.eval()
    net.train()  # set the norm to training mode, bypassing FrozenNorm.train, so its statistics moved
    assert [m.training for m in net.modules()] == [True, True, True, False]
    net(ember.randn(8, 2) * 5 + 3)
    assert net[1].bn.running_mean.tolist() == [0.0, 0.0]


def test_zero_grad_and_requires_grad():
    net = Net()
    net(ember.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.encoder.requires_grad_(False)
    net(ember.randn(2, 4)).sum().backward()
    assert net.encoder[0].fc.weight.grad is None and net.head.weight.grad is not None


def test_zero_grad_without_none_cuts_a_create_graph_gradient_off_its_graph():
    # zeroing in place left the gradient on the graph of create_graph=True: the next backward added onto it and a
    # second-order gradient still reached the old loss (PyTorch detaches first: d/dw sum(2w) = [2, 2], not [8, 14])
    holder = nn.Module()
    holder.w = w = nn.Parameter(ember.tensor([1.0, 2.0]))
    (w**3).sum().backward(create_graph=True)
    holder.zero_grad(set_to_none=False)
    assert not w.grad.requires_grad and w.grad.tolist() == [0.0, 0.0]
    (w**2).sum().backward(create_graph=True)
    assert w.grad.tolist() == [2.0, 4.0]
    assert ember.autograd.grad(w.grad.sum(), w)[0].tolist() == [2.0, 2.0]


def test_apply_visits_children_first():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"

    def reinit(m):
        if isinstance(m, nn.Linear):
            init.zeros_(m.weight)

    net.apply(reinit)
    assert not net.head.weight.detach().numpy().any()


def test_to_dtype_keeps_parameter_objects_and_skips_integer_buffers():
    bn = nn.BatchNorm1d(3)
    weight = bn.weight
    assert bn.to(ember.float64) is bn
    assert bn.weight is weight and bn.weight.dtype == np.float64 and bn.running_mean.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64
    assert bn(ember.randn(4, 3).double()).dtype == np.float64
    bn.float().to("cpu")
    assert bn.weight.dtype == np.float32 and bn.weight.device.type == "cpu"


def test_to_dtype_casts_complex_parameters_and_buffers_as_torch():
    # to(complex128) left a complex64 parameter in complex64 (half its precision); double() keeps it, as PyTorch's
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (ember, torch):
        def make(lib=lib):
            net = lib.nn.Module()
            net.w = lib.nn.Parameter(lib.tensor([1 + 2j], dtype=lib.complex64))
            net.register_buffer("n", lib.tensor([3]))
            net.register_buffer("x", lib.tensor([0.5]))
            return net

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the complex to real cast's warning
            casts = [make().to(lib.complex128), make().to(lib.float64), make().double(), make().half()]
        seen[lib.__name__] = [[str(t.dtype).replace("torch.", "") for t in (net.w, net.n, net.x)] for net in casts]
    assert seen["ember"] == seen["torch"]
    assert seen["ember"][0] == ["complex128", "int64", "complex128"]


def test_forward_hooks_can_replace_inputs_and_outputs():
    fc = nn.Linear(2, 2)
    calls = []
    pre = fc.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = fc.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = fc(ember.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), fc.bias.detach().numpy()[None] + 1, rtol=1e-6)
    assert calls == [(1, 2)]
    pre.remove()
    post.remove()
    assert not fc._hooked
    np.testing.assert_allclose(fc(ember.zeros(1, 2)).detach().numpy(), fc.bias.detach().numpy()[None])


def test_deepcopy_and_pickle_keep_structure():
    net = Net()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert list(clone.state_dict()) == list(net.state_dict())
        assert clone.head.weight is clone.head._parameters["weight"]
        assert clone.head.weight is not net.head.weight
        np.testing.assert_array_equal(clone.head.weight.detach().numpy(), net.head.weight.detach().numpy())


def test_missing_forward_and_attribute_errors():
    with pytest.raises(NotImplementedError, match="no forward"):
        nn.Module()(1)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        nn.Linear(1, 1).nope  # noqa: B018



def test_module_call_read_off_the_class_calls_the_module():
    # ``nn.Module.__call__(module, x)`` (PyTorch wrappers call it so) raised "'property' object is not callable"
    from ember.nn.modules.module import register_module_forward_hook

    net = nn.Linear(3, 2)
    net.register_forward_hook(lambda module, args, output: output * 2)
    x = ember.ones(4, 3)
    expected = (net.forward(x) * 2).detach().numpy()
    np.testing.assert_array_equal(nn.Module.__call__(net, x).detach().numpy(), expected)
    with register_module_forward_hook(lambda module, args, output: output + 1):  # (global hooks first: (y + 1) * 2)
        np.testing.assert_array_equal(nn.Module.__call__(net, x).detach().numpy(), expected + 2)
    np.testing.assert_array_equal(nn.Module.__call__(net, x=x).detach().numpy(), expected)

# --- printing ------------------------------------------------------------------------------------------------


def test_repr_is_nested_like_torch():
    net = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    expected = (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")"
    )
    assert repr(net) == expected
    torch = pytest.importorskip("torch")
    assert repr(torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sequential(torch.nn.ReLU(),
                                                                             torch.nn.Dropout(0.1)))) == expected


def test_repr_of_a_many_line_extra_repr_is_indented_like_torch():
    class Net(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Net()) == "Net(\n  a=1\n  b=2\n)"
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(TorchNet()).replace("TorchNet", "Net") == repr(Net())


def test_module_list_repr_folds_runs_of_alike_modules_as_torch():
    # each module printed on its own line: a 24-block model printed 24 blocks where PyTorch prints (0-23): 24 x
    def make(lib):
        nn = lib.nn
        return nn.Sequential(nn.ModuleList([nn.Sequential(nn.Linear(2, 2)), nn.Sequential(nn.Linear(2, 2)), nn.Tanh(),
                                            nn.ReLU(), nn.ReLU(), nn.ReLU()]), nn.ModuleList())

    assert repr(make(ember)).split("\n")[1:4] == ["  (0): ModuleList(", "    (0-1): 2 x Sequential(",
                                                  "      (0): Linear(in_features=2, out_features=2, bias=True)"]
    assert "(3-5): 3 x ReLU()" in repr(make(ember)) and "(1): ModuleList()" in repr(make(ember))
    torch = pytest.importorskip("torch")
    assert repr(make(ember)) == repr(make(torch))


# --- containers ----------------------------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[-1] is c
    assert tuple(seq(ember.randn(5, 2)).shape) == (5, 1)
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail) == [b, c]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    del seq[0]
    assert [name for name, _ in seq.named_children()] == ["0", "1"]
    seq.insert(0, a)
    assert list(seq)[0] is a and len(seq) == 3
    with pytest.raises(IndexError, match="out of range"):
        seq[5]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and isinstance(named[1], nn.ReLU)
    # a deletion numbers the rest 0, 1, ..., custom names included, as PyTorch's (their state_dict keys follow)
    named = nn.Sequential(OrderedDict([("act", nn.ReLU()), ("fc", nn.Linear(2, 2)), ("out", nn.Tanh())]))
    del named[0]
    assert [name for name, _ in named.named_children()] == ["0", "1"]
    assert list(named.state_dict()) == ["0.weight", "0.bias"]


def test_sequential_insert_negative_index_as_pytorch():
    # -i counts from the end as list.insert does: -2 lands before the second-to-last module, -n before the first
    mods = [nn.Linear(1, 1), nn.ReLU(), nn.Tanh(), nn.Sigmoid()]
    new = nn.Identity()
    seq = nn.Sequential(*mods).insert(-2, new)
    assert list(seq) == [mods[0], mods[1], new, mods[2], mods[3]]
    seq = nn.Sequential(*mods).insert(-4, new)
    assert list(seq) == [new, *mods]
    with pytest.raises(IndexError, match="out of range"):
        nn.Sequential(*mods).insert(-5, new)


def _mlp(seed: int = 0) -> nn.Sequential:
    ember.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))


def _layer_by_layer(net, x):
    for module in net:
        x = module(x)
    return x


def _outputs_and_grads(net, x, forward):
    net.zero_grad()
    out = forward(net, x)
    (out * ember.arange(out.shape[1], dtype="float32")).sum().backward()
    return [out.detach().numpy()] + [p.grad.numpy().copy() for p in net.parameters()]


def _tape_ops(out) -> list:
    """The op names on the tape from ``out`` back, following each node's first input."""
    names, node = [], out.node
    while node is not None:
        names.append(node.op.name)
        node = node.inputs[0].node
    return names[::-1]


def test_sequential_runs_linear_then_relu_as_one_op_with_the_same_numbers():
    net, x = _mlp(), ember.randn(7, 5)
    assert _tape_ops(net(x)) == ["linear_relu", "linear_relu", "linear"]
    fused = _outputs_and_grads(net, x, lambda n, v: n(v))
    apart = _outputs_and_grads(net, x, _layer_by_layer)
    for a, b in zip(fused, apart):
        np.testing.assert_array_equal(a, b)


def test_sequential_keeps_linear_and_relu_apart_where_their_inner_value_shows():
    x = ember.randn(3, 5)
    seen = []
    net = _mlp()
    net[1].register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    assert _tape_ops(net(x)) == ["linear", "relu", "linear_relu", "linear"] and seen[0].shape == (3, 6)
    net = _mlp()
    net[2].register_forward_pre_hook(lambda module, inputs: None)
    assert _tape_ops(net(x)) == ["linear_relu", "linear", "relu", "linear"]
    net = _mlp()
    net[0].forward = lambda v: ember.nn.functional.linear(v, net[0].weight, net[0].bias) * 2.0
    assert _tape_ops(net(x)) == ["linear", "mul", "relu", "linear_relu", "linear"]

    class Scaled(nn.Linear):
        def forward(self, v):
            return super().forward(v) * 0.5

    assert _tape_ops(nn.Sequential(Scaled(5, 3), nn.ReLU())(x)) == ["linear", "mul", "relu"]
    with pytest.raises(TypeError, match="float64"):  # the Linear's own dtype check still speaks
        _mlp()(x.double())
    traced = ember.jit(_mlp())
    traced(x)
    assert [n.op.name for n in traced.graph_for(x).nodes] == ["linear", "relu", "linear", "relu", "linear"]


def test_module_list_and_dict_register_their_modules():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 1))
    layers += [nn.ReLU()]
    assert len(layers) == 4 and len(list(layers.parameters())) == 6
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2"]
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert list(heads.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert isinstance(heads.pop("a"), nn.Linear) and list(heads.keys()) == ["b"]
    with pytest.raises(TypeError, match="no forward"):
        layers(ember.zeros(1))


def test_module_list_pop_removes_and_renumbers():
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.ELU(), nn.Sigmoid()
    layers = nn.ModuleList([a, b, c, d])
    assert layers.pop(1) is b and list(layers) == [a, c, d]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2"]
    popped = layers.pop(slice(0, 2))
    assert isinstance(popped, nn.ModuleList) and list(popped) == [a, c] and list(layers) == [d]


# --- init ----------------------------------------------------------------------------------------------------


def test_init_is_reproducible_with_manual_seed():
    def draw():
        ember.manual_seed(42)
        return nn.Linear(5, 3).weight.detach().numpy().copy()

    np.testing.assert_array_equal(draw(), draw())


@pytest.mark.parametrize(
    "nonlinearity, param, expected",
    [("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
     ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
     ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("selu", None, 0.75)],
)
def test_calculate_gain(nonlinearity, param, expected):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected)
    torch = pytest.importorskip("torch")
    assert torch.nn.init.calculate_gain(nonlinearity, param) == pytest.approx(expected)


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(ember.empty(8, 3, 5, 5)) == (75, 200)
    assert init._calculate_fan_in_and_fan_out(ember.empty(4, 6)) == (6, 4)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(3))


@pytest.mark.parametrize(
    "fill, expected_std, bound",
    [
        (lambda t: init.uniform_(t, -2.0, 2.0), 2 / math.sqrt(3), 2.0),
        (lambda t: init.normal_(t, 0.0, 0.5), 0.5, None),
        (lambda t: init.xavier_uniform_(t, gain=2.0), 2 * math.sqrt(2 / 600), 2 * math.sqrt(6 / 600)),
        (lambda t: init.xavier_normal_(t), math.sqrt(2 / 600), None),
        (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(400) / math.sqrt(3), 1 / math.sqrt(400)),
        (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 200), None),
        (lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), 0.02 * 0.880, 0.04),
    ],
    ids=["uniform", "normal", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "trunc_normal"],
)
def test_random_init_statistics(fill, expected_std, bound):
    ember.manual_seed(0)
    t = ember.empty(200, 400)
    assert fill(t) is t
    values = t.numpy().astype(np.float64)
    assert abs(values.std() / expected_std - 1) < 0.03
    assert abs(values.mean()) < 0.03 * expected_std
    if bound is not None:
        assert np.abs(values).max() <= bound


def test_constant_init_and_orthogonal():
    t = ember.empty(3, 4)
    assert not init.zeros_(t).numpy().any()
    assert (init.ones_(t).numpy() == 1).all()
    assert (init.constant_(t, 0.5).numpy() == 0.5).all()
    np.testing.assert_array_equal(init.eye_(t).numpy(), np.eye(3, 4))
    q = init.orthogonal_(ember.empty(3, 5)).numpy()
    np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-5)


def test_init_preserves_dtype():
    t = ember.empty(10, 10, dtype=ember.float64)
    init.kaiming_uniform_(t)
    assert t.dtype == np.float64


# --- functional ----------------------------------------------------------------------------------------------


def test_functional_matches_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    ex, tx = ember.tensor(x), torch.from_numpy(x)
    pairs = [
        (F.linear(ex, ember.tensor(w), ember.tensor(b)), tF.linear(tx, torch.from_numpy(w), torch.from_numpy(b))),
        (F.linear(ex, ember.tensor(w)), tF.linear(tx, torch.from_numpy(w))),
        (F.softmax(ex, dim=1), tF.softmax(tx, dim=1)),
        (F.log_softmax(ex, dim=-1), tF.log_softmax(tx, dim=-1)),
        (F.pad(ex, (1, 2)), tF.pad(tx, (1, 2))),
        (F.pad(ex, (1, 0, 0, 2), value=3.0), tF.pad(tx, (1, 0, 0, 2), value=3.0)),
        (F.dropout(ex, 0.5, training=False), tF.dropout(tx, 0.5, training=False)),
        (F.gelu(ex, approximate="tanh"), tF.gelu(tx, approximate="tanh")),
        (F.embedding(ember.tensor([[0, 2]]), ember.tensor(w)),
         tF.embedding(torch.tensor([[0, 2]]), torch.from_numpy(w))),
        (F.one_hot(ember.tensor([0, 2, 1]), 3), tF.one_hot(torch.tensor([0, 2, 1]), 3)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)
    assert set(F.__all__) <= set(dir(tF))
    with pytest.raises(ValueError, match="pad: mode must be 'constant', 'reflect', 'replicate' or 'circular'"):
        F.pad(ex, (1, 1), mode="mirror")


def test_functional_embedding_padding_idx_blocks_gradient():
    weight = ember.randn(4, 3, requires_grad=True)
    F.embedding(ember.tensor([1, 3, 1]), weight, padding_idx=1).sum().backward()
    grad = weight.grad.numpy()
    np.testing.assert_array_equal(grad[1], 0)
    np.testing.assert_array_equal(grad[3], 1)


def test_sequential_pop_add_and_multiply_as_torch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        a, b, c = lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 1)
        seq = lib.Sequential(a, b, c)
        assert seq.pop(1) is b and list(seq) == [a, c]
        assert [name for name, _ in seq.named_children()] == ["0", "1"]
        joined = seq + lib.Sequential(b)
        assert isinstance(joined, lib.Sequential) and list(joined) == [a, c, b] and list(seq) == [a, c]
        seq += lib.Sequential(b)
        assert list(seq) == [a, c, b]
        assert list(lib.Sequential(b, a) * 2) == [b, a, b, a] and list(2 * lib.Sequential(b)) == [b, b]
        popped = seq.pop(slice(0, 2))
        assert isinstance(popped, lib.Sequential) and list(popped) == [a, c] and list(seq) == [b]
        with pytest.raises(ValueError, match="Sequential"):
            seq + lib.ModuleList([a])
        with pytest.raises(ValueError):
            seq * 0
    seq = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    seq *= 2
    assert len(seq) == 4 and seq[2] is seq[0]
    assert len(list(seq.parameters())) == 2  # a shared module's parameters count once
    with pytest.raises(IndexError, match="out of range"):
        seq.pop(7)


def _scaled(lib):
    class Scaled(lib.nn.Module):
        def forward(self, x, scale=1.0):
            if scale < 0:
                raise ValueError("negative scale")
            return x * scale

    return Scaled()


def _forward_hook_calls(lib) -> tuple[list, float]:
    """What prepended and keyword-taking forward hooks see and do, in PyTorch's order."""
    module, log = _scaled(lib), []
    module.register_forward_pre_hook(lambda m, args: log.append(("pre", float(args[0].sum()))))
    module.register_forward_pre_hook(
        lambda m, args, kwargs: log.append(("pre_kw", dict(kwargs))) or ((args[0] + 1,), {"scale": 3.0}),
        with_kwargs=True)
    module.register_forward_pre_hook(lambda m, args: log.append(("first",)), prepend=True)
    module.register_forward_hook(lambda m, args, kwargs, out: log.append(("post_kw", kwargs, float(out.sum()))),
                                 with_kwargs=True)
    module.register_forward_hook(lambda m, args, out: out * 2, prepend=True)
    out = module(lib.tensor([1.0, 2.0]), scale=2.0)
    return log, float(out.sum())


def test_forward_hooks_with_kwargs_and_prepend_as_torch():
    torch = pytest.importorskip("torch")
    log, total = _forward_hook_calls(ember)
    assert log == [("first",), ("pre", 3.0), ("pre_kw", {"scale": 2.0}), ("post_kw", {"scale": 3.0}, 30.0)]
    assert total == 30.0
    assert (log, total) == _forward_hook_calls(torch)


def _always_called(lib) -> list:
    """The forward hooks that run when forward raises: only ``always_call`` ones, a failing one silenced."""
    module, log = _scaled(lib), []
    module.register_forward_hook(lambda m, args, out: log.append("plain"))
    module.register_forward_hook(lambda m, args, out: log.append(("always", out)), always_call=True)
    module.register_forward_hook(lambda m, args, kwargs, out: log.append(("always_kw", kwargs)), with_kwargs=True,
                                 always_call=True)
    module.register_forward_hook(lambda m, args, out: 1 / 0, always_call=True)
    with pytest.warns(UserWarning, match="always_call"), pytest.raises(ValueError, match="negative scale"):
        module(lib.tensor([1.0]), scale=-1.0)
    return log


def test_always_call_forward_hooks_run_when_forward_raises_as_torch():
    torch = pytest.importorskip("torch")
    assert _always_called(ember) == [("always", None), ("always_kw", {"scale": -1.0})] == _always_called(torch)


def test_always_call_hooks_run_once_when_a_later_hook_raises():
    module, log = _scaled(ember), []
    module.register_forward_hook(lambda m, args, out: log.append(float(out.sum())), always_call=True)
    module.register_forward_hook(lambda m, args, out: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        module(ember.tensor([2.0]))
    assert log == [2.0]


def test_forward_pre_hook_with_kwargs_must_return_args_and_kwargs():
    module = _scaled(ember)
    module.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="tuple of \\(new_args, new_kwargs\\)"):
        module(ember.tensor([1.0]))


def test_removing_hooks_with_options_restores_the_plain_call():
    module = _scaled(ember)
    handles = [module.register_forward_pre_hook(lambda m, a, k: None, with_kwargs=True, prepend=True),
               module.register_forward_hook(lambda m, a, k, o: o * 2, with_kwargs=True, always_call=True)]
    assert float(module(ember.tensor([1.0])).sum()) == 2.0
    for handle in handles:
        handle.remove()
    assert not module._hooked and not module._hook_options
    assert module.__call__ == module.forward


def test_a_hook_handles_id_is_its_key_in_the_modules_hooks_as_torch():
    # handle.id (PyTorch code looks its hook up by it) raised an AttributeError
    for lib in (ember, pytest.importorskip("torch")):
        module = lib.nn.Identity()
        pre, post = module.register_forward_pre_hook(lambda m, a: None), module.register_forward_hook(print)
        assert list(module._forward_pre_hooks) == [pre.id] and list(module._forward_hooks) == [post.id]
        assert module._forward_hooks[post.id] is print


def _mix(lib):
    class Mix(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(3, 2)

        def forward(self, x, y, scale, z):
            h = self.fc(x * y) * scale
            return h, (h * z).sum()

    return Mix()


def _arrays(values) -> list:
    return [None if v is None else v.detach().numpy().copy() for v in values]


def _backward_hook_calls(lib, state: dict, arrays: list) -> tuple[list, list]:
    """What backward hooks of a module of two inputs that require grad, a number and one that does not, with two
    outputs, receive; and the gradients after the pre-hook and a hook replaced some."""
    module, log = _mix(lib), []
    module.load_state_dict({k: lib.tensor(v) for k, v in state.items()})

    def pre(m, grad_output):
        log.append(("pre", _arrays(grad_output)))
        return grad_output[0] * 2, grad_output[1]

    def full(m, grad_input, grad_output):
        log.append(("full", _arrays(grad_input), _arrays(grad_output)))
        return grad_input[0] * 0.5, grad_input[1] + 1, None, None

    module.register_full_backward_pre_hook(pre)
    module.register_full_backward_hook(full)
    module.register_full_backward_hook(lambda m, grad_input, grad_output: log.append(("next", _arrays(grad_input))))
    x, y, z, w = (lib.tensor(a) for a in arrays)
    x.requires_grad_()
    y.requires_grad_()
    h, s = module(x, y, 2.0, z)
    ((h * w).sum() + 3 * s).backward()
    return log, _arrays([x.grad, y.grad, module.fc.weight.grad, module.fc.bias.grad])


def _assert_close_nested(a, b) -> None:
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for u, v in zip(a, b):
            _assert_close_nested(u, v)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    else:
        assert a == b


def test_full_backward_hooks_see_and_replace_gradients_as_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    state = {k: v.detach().numpy() for k, v in _mix(ember).state_dict().items()}
    arrays = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(2)] + \
        [rng.standard_normal((4, 2)).astype(np.float32) for _ in range(2)]
    log, grads = _backward_hook_calls(ember, state, arrays)
    assert [entry[0] for entry in log] == ["pre", "full", "next"]
    assert log[1][1][2] is None  # the number
    assert not log[1][1][3].any()  # zeros for the input that needs no gradient, as PyTorch
    torch_log, torch_grads = _backward_hook_calls(torch, state, arrays)
    _assert_close_nested((log, grads), (torch_log, torch_grads))


def _hooks_without_input_grads(lib, state: dict, x) -> list:
    """A module whose input needs no gradient: its hook fires with None for it once the outputs' are known."""
    fc, log = lib.nn.Linear(3, 2), []
    fc.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    fc.register_full_backward_hook(lambda m, grad_input, grad_output: log.append(_arrays(grad_input + grad_output)))
    fc(lib.tensor(x)).sum().backward()
    return log + _arrays([fc.weight.grad])


def test_full_backward_hook_of_a_module_whose_inputs_need_no_gradient_as_torch():
    torch = pytest.importorskip("torch")
    state = {k: v.detach().numpy() for k, v in nn.Linear(3, 2).state_dict().items()}
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    log = _hooks_without_input_grads(ember, state, x)
    assert log[0][0] is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch says that the hook fires with the outputs' gradients
        _assert_close_nested(log, _hooks_without_input_grads(torch, state, x))


def test_full_backward_hooks_fire_on_every_backward_and_go_with_their_handles():
    fc, seen = nn.Linear(3, 2), []
    handles = [fc.register_full_backward_hook(lambda m, gi, go: seen.append(float(gi[0].sum()))),
               fc.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))]
    x = ember.ones(2, 3, requires_grad=True)
    out = fc(x)
    assert _tape_ops(out) == ["reshape", "reshape", "linear", "reshape", "reshape"]
    out.sum().backward(retain_graph=True)
    out.sum().backward()
    expected = 2 * 2 * float(fc.weight.sum())
    assert seen == [pytest.approx(expected)] * 2
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.full((2, 3), 2) * fc.weight.detach().numpy().sum(0))
    for handle in handles:
        handle.remove()
    assert not fc._hooked and _tape_ops(fc(x)) == ["linear"]


def _input_grads_after_a_hook_dropping_one(lib) -> tuple:
    class Mul(lib.nn.Module):
        def forward(self, a, b):
            return a * b

    m = Mul()
    m.register_full_backward_hook(lambda m, grad_input, grad_output: (grad_input[0] * 10, None))
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    m(a, b).sum().backward()
    return a.grad.numpy(), b.grad


def test_a_full_backward_hook_returning_none_for_an_input_leaves_it_without_gradient_as_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _input_grads_after_a_hook_dropping_one(ember), _input_grads_after_a_hook_dropping_one(torch)
    np.testing.assert_allclose(ours[0], theirs[0])  # [30, 40]
    assert ours[1] is None and theirs[1] is None  # (Ember's was zeros: an optimizer would decay or step it)


def test_a_full_backward_hook_returning_another_shape_or_dtype_is_refused_naming_the_module():
    for bad in (lambda g: g[:1], lambda g: g.double()):
        fc = nn.Tanh()
        fc.register_full_backward_hook(lambda m, grad_input, grad_output, bad=bad: (bad(grad_input[0]),))
        with pytest.raises(RuntimeError, match="Tanh: backward hook returned .* as gradient 0, which is float32"):
            fc(ember.ones(2, requires_grad=True)).sum().backward()


def test_full_backward_hooks_are_refused_inside_jit_naming_the_module():
    fc = nn.Linear(2, 2)
    fc.register_full_backward_hook(lambda m, grad_input, grad_output: None)
    step = ember.jit(lambda x: fc(x).sum())
    with pytest.raises(TypeError, match="Linear.*backward hook"):
        step(ember.ones(1, 2))


def test_batch_norm_loads_a_state_dict_without_num_batches_tracked():
    # checkpoints older than PyTorch 0.4.1 lack the counter; torch keeps the module's own value
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    net.train()
    net(ember.randn(4, 2))
    old = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    fresh = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    result = fresh.load_state_dict(old)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert int(fresh[1].num_batches_tracked.item()) == 0
    np.testing.assert_array_equal(fresh[1].running_mean.numpy(), net[1].running_mean.numpy())
    with pytest.raises(RuntimeError, match='Missing key.*"1.running_var"'):
        fresh.load_state_dict({k: v for k, v in old.items() if k != "1.running_var"})


def test_state_dict_hooks_run_as_torchs():
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (ember, torch):
        nn, calls = lib.nn, []
        model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        model[0].register_state_dict_pre_hook(lambda m, prefix, keep_vars: calls.append(("pre", prefix)))

        def add_entry(m, state, prefix, metadata, lib=lib):
            calls.append(("post", prefix, metadata["version"]))
            state[prefix + "extra"] = lib.ones(1)

        model[1].register_state_dict_post_hook(add_entry)
        keys = list(model.state_dict())

        def rename(m, state, prefix, metadata, strict, missing, unexpected, errors):
            if prefix + "W" in state:  # an older layout's name
                state[prefix + "weight"] = state.pop(prefix + "W")

        fresh = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
        fresh[0].register_load_state_dict_pre_hook(rename)
        old_layout = {("0.W" if k == "0.weight" else k): v for k, v in model.state_dict().items() if "extra" not in k}
        given = dict(old_layout)
        first = fresh.load_state_dict(old_layout)
        with pytest.raises(RuntimeError, match="Unexpected key"):
            fresh.load_state_dict(model.state_dict())
        fresh.register_load_state_dict_post_hook(
            lambda m, incompatible: incompatible.unexpected_keys.remove("1.extra"))
        second = fresh.load_state_dict(model.state_dict())
        upper = nn.Linear(2, 2)
        upper._register_state_dict_hook(lambda m, state, prefix, metadata: {k.upper(): v for k, v in state.items()})
        seen[lib.__name__] = (calls, keys, list(first), list(second), old_layout == given,
                              list(upper.state_dict()), fresh[0].weight.detach().numpy().tolist())
        assert np.allclose(fresh[0].weight.detach().numpy(), model[0].weight.detach().numpy())
    ours, theirs = seen["ember"], seen["torch"]
    assert ours[:-1] == theirs[:-1]
    assert ours[0] == [("pre", "0."), ("post", "1.", 1)] * 4 and ours[1][-1] == "1.extra"


def test_load_state_dict_loads_what_the_module_holds_not_what_its_state_dict_hooks_save():
    # a post-hook dropping "bias" made load_state_dict call the full state dict's bias unexpected and the saved one
    # complete (the bias silently kept its value)
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (ember, torch):
        model = lib.nn.Linear(2, 2)
        model._register_state_dict_hook(lambda m, state, prefix, metadata: state.pop(prefix + "bias"))
        model.register_state_dict_pre_hook(lambda m, prefix, keep_vars: pytest.fail("state_dict hooks ran on load"))
        with pytest.raises(RuntimeError) as saved:
            model.load_state_dict({"weight": lib.zeros((2, 2))})
        full = model.load_state_dict({"weight": lib.zeros((2, 2)), "bias": lib.full((2,), 3.0)})
        seen[lib.__name__] = (str(saved.value).split(":", 1)[1].strip(), tuple(full), model.bias.tolist())
    assert seen["ember"] == seen["torch"] == ('Missing key(s) in state_dict: "bias".', ([], []), [3.0, 3.0])


def test_load_from_state_dict_overrides_run_as_torchs():
    # an override was never called: an older layout's keys stayed unexpected and its values unconverted
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (ember, torch):

        class Scale(lib.nn.Module):
            _version = 2  # version 1 saved the scale as "gamma", its reciprocal

            def __init__(self):
                super().__init__()
                self.scale = lib.nn.Parameter(lib.ones(2))

            def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs):
                calls.append(prefix)
                if prefix + "gamma" in state_dict:
                    state_dict[prefix + "scale"] = 1 / state_dict.pop(prefix + "gamma")
                if prefix + "broken" in state_dict:
                    error_msgs.append("broken entry")
                super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                              unexpected_keys, error_msgs)

        calls = []
        net = lib.nn.Sequential(lib.nn.Linear(2, 2), Scale())
        old = {k: v for k, v in net.state_dict().items() if k != "1.scale"}
        given = dict(old, **{"1.gamma": lib.tensor([2.0, 4.0])})
        result = net.load_state_dict(given)
        with pytest.raises(RuntimeError, match="broken entry"):
            net.load_state_dict(dict(given, **{"1.broken": lib.ones(1)}), strict=False)
        seen[lib.__name__] = (tuple(result), net[1].scale.tolist(), calls, sorted(given))
    assert seen["ember"] == seen["torch"]
    assert seen["ember"][:3] == (([], []), [0.5, 0.25], ["1."] * 2)


def test_load_state_dict_takes_a_one_element_entry_for_a_scalar_as_torch():
    # PyTorch before 0.4 saved 0-d tensors with shape [1], which PyTorch's load still takes; Ember refused them
    torch = pytest.importorskip("torch")
    seen = {}
    for lib in (ember, torch):
        for assign in (False, True):
            net = lib.nn.Module()
            net.register_buffer("steps", lib.tensor(0))
            net.scale = lib.nn.Parameter(lib.tensor(1.0))
            given = {"steps": lib.tensor([5]), "scale": lib.tensor([2.5])}
            result = net.load_state_dict(given, assign=assign)
            seen[lib.__name__, assign] = (tuple(result), net.steps.tolist(), net.scale.tolist(), tuple(net.scale.shape),
                                          type(net.scale).__name__, tuple(given["steps"].shape))
        with pytest.raises(RuntimeError, match="size mismatch for steps"):
            net.load_state_dict({"steps": lib.tensor([5, 6]), "scale": lib.tensor(1.0)})
    for assign in (False, True):
        assert seen["ember", assign] == seen["torch", assign] == (([], []), 5, 2.5, (), "Parameter", (1,))


def test_load_state_dict_refuses_what_is_no_mapping_as_torch():
    # a list of (key, value) pairs was read as keys: every entry "missing", the pairs "unexpected"
    net = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got list"):
        net.load_state_dict(list(net.state_dict().items()))
    assert net.load_state_dict(net.state_dict()) == ([], [])


def test_linear_with_a_1d_weight_is_a_dot_product_eagerly_and_traced():
    # eager mode took it (the record's forward), a traced call refused it with "weight (out_features, ...)"
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    expected = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    eager = F.linear(ember.tensor(x), ember.tensor(w))
    traced = ember.jit(lambda a, b: F.linear(a, b) * 1)(ember.tensor(x), ember.tensor(w))
    for got in (eager, traced):
        assert got.shape == (5,)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)
    xs, ws = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    F.linear(xs, ws, ember.tensor(0.5)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), np.broadcast_to(w, (5, 3)), rtol=1e-6)
    np.testing.assert_allclose(ws.grad.numpy(), x.sum(0), rtol=1e-5)


def test_the_deprecated_backward_hook_is_refused_naming_the_full_one():
    # register_backward_hook was an AttributeError; its grad_input is the last op's in PyTorch, which Ember cannot match
    with pytest.raises(RuntimeError, match="Linear.register_backward_hook: .* use register_full_backward_hook"):
        ember.nn.Linear(2, 2).register_backward_hook(lambda module, grad_input, grad_output: None)

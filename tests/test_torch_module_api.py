"""Module methods PyTorch code calls: ``load_state_dict(assign=)``, extra state, ``get_parameter``/``get_buffer``/
``set_submodule``, ``modules(remove_duplicate=)``, ``share_memory``, ``to_empty``, ``type``; against torch."""

import copy
import pickle

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")


def _nets():
    return (ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4)),
            torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)))


def test_paths_to_parameters_buffers_and_submodules():
    mine, theirs = _nets()
    assert tuple(mine.get_parameter("0.weight").shape) == tuple(theirs.get_parameter("0.weight").shape)
    assert mine.get_buffer("1.running_var").tolist() == theirs.get_buffer("1.running_var").tolist()
    with pytest.raises(AttributeError, match="has no parameter 'nope'"):
        mine.get_parameter("0.nope")
    with pytest.raises(AttributeError, match="has no buffer 'weight'"):
        mine.get_buffer("0.weight")
    mine[0].bias, theirs[0].bias = None, None  # (get_parameter gave the None placeholder)
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        theirs.get_parameter("0.bias")
    with pytest.raises(AttributeError, match="Linear.bias is None, not a parameter"):
        mine.get_parameter("0.bias")
    mine.set_submodule("1", ember.nn.Identity())
    theirs.set_submodule("1", torch.nn.Identity())
    assert type(mine[1]).__name__ == type(theirs[1]).__name__ == "Identity"
    with pytest.raises(AttributeError, match="has no submodule 'x'"):
        mine.set_submodule("x", ember.nn.ReLU(), strict=True)
    for name in ("0.in_features", "0.forward", "0.weight"):  # (an attribute that is no module was replaced)
        with pytest.raises(AttributeError, match="is not an nn.Module"):
            theirs.set_submodule(name, torch.nn.ReLU())
        with pytest.raises(AttributeError, match="is not a submodule"):
            mine.set_submodule(name, ember.nn.ReLU())
    assert mine[0].in_features == 3 and "forward" not in mine[0].__dict__


def test_modules_with_duplicates():
    shared = ember.nn.Linear(2, 2)
    net = ember.nn.Sequential(shared, shared)
    tshared = torch.nn.Linear(2, 2)
    tnet = torch.nn.Sequential(tshared, tshared)
    assert len(list(net.modules())) == len(list(tnet.modules())) == 2
    assert len(list(net.modules(remove_duplicate=False))) == len(list(tnet.modules(remove_duplicate=False))) == 3


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_modules_skips_the_modules_in_memo(remove_duplicate):
    # the memo given was read as a set of ids: its modules were listed all the same ("0" and "0.0" here)
    names = []
    for nn in (ember.nn, torch.nn):
        net = nn.Sequential(nn.Sequential(nn.ReLU()), nn.Tanh())
        memo = {net[0]}
        names.append([name for name, _ in net.named_modules(memo, "net", remove_duplicate)])
        assert len(memo) == (3 if remove_duplicate else 1)
    assert names[0] == names[1] == ["net", "net.1"]


def test_load_state_dict_assign_takes_the_tensors():
    net = ember.nn.Linear(3, 2)
    weight = ember.arange(6.0).reshape(2, 3)
    state = {"weight": weight, "bias": ember.zeros(2)}
    result = net.load_state_dict(state, assign=True)
    assert result.missing_keys == [] and net.weight.array is weight.array
    assert isinstance(net.weight, ember.nn.Parameter) and net.weight.requires_grad
    net.weight.requires_grad_(False)
    net.load_state_dict({"weight": ember.ones(2, 3), "bias": ember.ones(2)}, assign=True)
    assert not net.weight.requires_grad  # the module's flag is kept, as PyTorch
    copied = ember.nn.Linear(3, 2)
    copied.load_state_dict(state)
    assert copied.weight.array is not weight.array and copied.weight.tolist() == weight.tolist()


def test_load_state_dict_assign_takes_a_given_parameter_itself_so_tied_weights_stay_one():
    # a keep_vars state dict of tied weights gives one Parameter for both keys; assign=True made two Parameters
    # over one memory, which an optimizer then stepped twice (PyTorch: the given Parameter, tied as saved)
    def tied(nn):
        class Tied(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.out = nn.Embedding(5, 4), nn.Linear(4, 5, bias=False)
                self.out.weight = self.emb.weight
        return Tied()

    for nn in (ember.nn, torch.nn):
        state = tied(nn).state_dict(keep_vars=True)
        net = tied(nn)
        net.emb.weight.requires_grad_(False)
        net.load_state_dict(state, assign=True)
        assert net.out.weight is net.emb.weight is state["emb.weight"]
        assert not net.emb.weight.requires_grad and len(list(net.parameters())) == 1


def test_extra_state_round_trips_through_state_dict():
    class Counter(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = ember.nn.Linear(2, 2)
            self.steps = 0

        def get_extra_state(self):
            return {"steps": self.steps}

        def set_extra_state(self, state):
            self.steps = state["steps"]

    a = Counter()
    a.steps = 7
    state = a.state_dict()
    assert list(state) == ["_extra_state", "lin.weight", "lin.bias"]
    b = Counter()
    b.load_state_dict(state)
    assert b.steps == 7
    outer = ember.nn.Sequential(Counter())
    assert "0._extra_state" in outer.state_dict()
    plain = ember.nn.Linear(2, 2)
    assert "_extra_state" not in plain.state_dict()
    with pytest.raises(RuntimeError, match="override get_extra_state"):
        plain.get_extra_state()


def test_share_memory_to_empty_and_type():
    net = ember.nn.Linear(3, 2)
    values = net.weight.tolist()
    assert net.share_memory() is net and net.weight.is_shared() and net.weight.tolist() == values
    assert net.to_empty(device="cpu") is net
    np.testing.assert_array_equal(net.weight.detach().numpy(), np.zeros((2, 3), np.float32))
    assert net.type(ember.float64).weight.dtype == ember.float64


def test_module_type_takes_legacy_types_and_their_names_as_tensor_type():
    # Module.type("torch.DoubleTensor") raised 'unknown dtype name' where Tensor.type and PyTorch's take it
    for dst, ref in (("torch.DoubleTensor", "torch.DoubleTensor"), (ember.HalfTensor, torch.HalfTensor)):
        ours, theirs = ember.nn.BatchNorm1d(2).type(dst), torch.nn.BatchNorm1d(2).type(ref)
        assert [str(t.dtype) for t in (*ours.parameters(), *ours.buffers())] == \
            [str(t.dtype).removeprefix("torch.") for t in (*theirs.parameters(), *theirs.buffers())]
    assert ember.nn.Linear(1, 1).type("ember.FloatTensor").weight.dtype == ember.float32


def test_module_type_to_an_integer_dtype_refuses_parameters_that_require_grad_as_torch():
    # the weight became an int32 Parameter requiring grad: its first backward failed on the gradient's dtype
    net = ember.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="parameter 'weight' requires grad"):
        net.type(ember.int32)
    with pytest.raises(RuntimeError, match="must be floating point or complex"):
        torch.nn.Linear(2, 1).type(torch.int32)
    assert net.weight.dtype == ember.float32 and net.bias.dtype == ember.float32  # nothing cast
    ours, theirs = net.requires_grad_(False).type(ember.int32), torch.nn.Linear(2, 1).requires_grad_(False).type(
        torch.int32)
    assert (str(ours.weight.dtype), type(ours.weight).__name__, ours.weight.requires_grad) == \
        (str(theirs.weight.dtype).removeprefix("torch."), type(theirs.weight).__name__, theirs.weight.requires_grad)


def test_module_type_casts_integer_buffers_and_to_refuses_integer_dtypes():
    bn, ref = ember.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    bn.type(ember.float64)
    ref.type(torch.float64)
    assert [str(b.dtype) for b in bn.buffers()] == [str(b.dtype).removeprefix("torch.") for b in ref.buffers()]
    assert bn.num_batches_tracked.dtype == ember.float64
    net = ember.nn.Linear(2, 2)
    weight = net.weight.detach().numpy().copy()
    with pytest.raises(TypeError, match="floating point or complex"):
        net.to(ember.int32)  # it truncated the weights to integers
    with pytest.raises(TypeError, match="floating point or complex"):
        net.to(ember.zeros(1, dtype=ember.int64))
    assert net.weight.dtype == ember.float32
    np.testing.assert_array_equal(net.weight.detach().numpy(), weight)
    assert net.to(ember.float64).weight.dtype == ember.float64


def test_a_module_or_buffer_assigned_over_a_parameter_is_refused_as_torch():
    # m.bias = nn.Linear(1, 1) silently made bias a child module (the parameter gone from parameters())
    for value in (ember.nn.Linear(1, 1), ember.nn.Buffer(ember.zeros(2))):
        m = ember.nn.Linear(2, 2)
        with pytest.raises(TypeError, match=r"cannot assign \w+ as parameter 'bias' of Linear"):
            m.bias = value
        assert [name for name, _ in m.named_parameters()] == ["weight", "bias"]
    m.bias = None  # None is still taken
    assert m.bias is None


def test_a_state_value_that_is_no_tensor_is_named_in_the_error():
    m = ember.nn.Linear(2, 2)
    state = m.state_dict()
    state["weight"] = [[1.0, 2.0], [3.0, 4.0]]  # was reported as "size mismatch ... got []"
    with pytest.raises(RuntimeError, match=r'parameter named "weight", expected a Tensor or array from checkpoint '
                                           r"but received list"):
        m.load_state_dict(state)


def test_a_name_that_is_no_string_is_a_type_error_as_torch():
    for lib in (ember, torch):
        m = lib.nn.Module()
        with pytest.raises(TypeError, match="name should be a string"):
            m.add_module(3, lib.nn.Linear(1, 1))
        with pytest.raises(KeyError):
            m.add_module("a.b", lib.nn.Linear(1, 1))


def test_writes_into_the_tables_are_what_attributes_read():
    # model surgery as PyTorch code does it (model._modules[name] = new_layer, del module._parameters[name]); reading
    # the attribute afterwards gave the replaced entry
    results = []
    for lib in (ember, torch):
        net = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2)).eval()
        net._modules["1"] = lib.nn.Tanh()
        net[0]._parameters["weight"] = lib.nn.Parameter(lib.ones(2, 2))
        net[0]._parameters["bias"] = lib.nn.Parameter(lib.full((2,), 0.25))
        net[0]._buffers["scale"] = lib.ones(1)
        y = net(lib.tensor(np.array([[0.5, -1.0]], np.float32)))
        del net[0]._parameters["bias"]
        results.append((y.detach().numpy(), type(net[1]).__name__, net[0].weight.detach().numpy(),
                        hasattr(net[0], "bias"), net[0].scale.numpy(), list(net.state_dict())))
        net[0]._parameters.pop("weight")
        net[0]._buffers.clear()
        results[-1] += (hasattr(net[0], "weight"), hasattr(net[0], "scale"))
    mine, theirs = results
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-6)
    assert mine[1:2] + mine[3:4] + mine[5:] == theirs[1:2] + theirs[3:4] + theirs[5:]
    np.testing.assert_array_equal(mine[2], theirs[2])
    np.testing.assert_array_equal(mine[4], theirs[4])


def test_a_jit_trace_sees_a_layer_written_into_the_table():
    net = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.ReLU()).eval()
    traced = ember.jit(net)
    x = ember.tensor(np.array([[0.5, -1.0]], np.float32))
    with ember.no_grad():
        traced(x)
        net._modules["1"] = ember.nn.Tanh()
        np.testing.assert_array_equal(traced(x).numpy(), ember.tanh(net[0](x)).numpy())


def test_tables_follow_their_module_through_copies():
    net = ember.nn.Sequential(ember.nn.Linear(2, 2))
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        twin._modules["0"] = ember.nn.ReLU()
        assert type(twin[0]).__name__ == "ReLU" and type(net[0]).__name__ == "Linear"


def test_a_module_returning_chunks_gets_its_backward_hooks():
    # chunk and split returned lists, which a module's backward hooks do not look into: the hooks never ran
    seen = []
    for lib in (ember, torch):
        class Halves(lib.nn.Module):
            def forward(self, x):
                return x.chunk(2) if len(seen) % 2 == 0 else lib.split(x, [1, 3])

        for _ in range(2):
            grads = []
            halves = Halves()
            halves.register_full_backward_hook(lambda m, gi, go, grads=grads: grads.append(gi[0].numpy().tolist()))
            x = lib.tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
            parts = halves(x)
            (parts[0] * 3).sum().backward()
            seen.append((type(parts).__name__, grads))
    assert seen[:2] == seen[2:]
    assert seen[0] == ("tuple", [[3.0, 3.0, 0.0, 0.0]]) and seen[1] == ("tuple", [[3.0, 0.0, 0.0, 0.0]])


def test_full_backward_hook_gives_zeros_for_tensor_inputs_that_do_not_require_grad():
    # PyTorch's hook sees zeros for such a Tensor once any input requires grad (None for non-Tensors, and None
    # for every input when none requires grad); Ember gave None, and a hook doing arithmetic on it failed
    def grads_seen(lib):
        class Scale(lib.nn.Module):
            def forward(self, a, k, b):
                return a * 2 + b * k

        seen = []
        module = Scale()
        module.register_full_backward_hook(lambda mod, grad_input, grad_output: seen.append(grad_input))
        module(lib.ones(2, dtype=lib.float64), 3, lib.ones(2, requires_grad=True)).sum().backward()
        first = lib.nn.Linear(2, 2)
        first.register_full_backward_hook(lambda mod, grad_input, grad_output: seen.append(grad_input))
        first(lib.ones(1, 2)).sum().backward()
        return seen

    ours, theirs = grads_seen(ember), grads_seen(torch)
    assert ours[0][1] is None and theirs[0][1] is None
    assert ours[0][0].dtype == ember.float64 and not ours[0][0].requires_grad
    np.testing.assert_array_equal(ours[0][0].numpy(), theirs[0][0].numpy())
    np.testing.assert_array_equal(ours[0][2].numpy(), theirs[0][2].numpy())
    assert ours[1] == theirs[1] == (None,)

"""PyTorch tensors and dtypes given to Ember: tensors of every dtype taken bit for bit (bfloat16 included), torch
dtypes wherever a dtype is taken, and torch state dicts loaded into modules and optimizers."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "float16", "bfloat16", "uint8", "int8", "int16", "int32", "int64", "bool",
          "complex64", "complex128"]


def _bits(t) -> np.ndarray:
    """A torch tensor's values as raw integers of its width (bfloat16 too, which ``numpy()`` refuses)."""
    t = t.detach().resolve_conj().resolve_neg().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy()
    return t.numpy()


def _mine(x: ember.Tensor) -> np.ndarray:
    array = np.ascontiguousarray(x.detach().numpy())
    return array.view(np.int16) if x.dtype == ember.bfloat16 else array


def _sample(name: str):
    g = torch.Generator().manual_seed(0)
    values = torch.randn(4, 6, generator=g, dtype=torch.float64) * 50
    if name == "bool":
        return values > 0
    if name.startswith("complex"):
        return torch.complex(values, -values).to(getattr(torch, name))
    return values.to(getattr(torch, name))


@pytest.mark.parametrize("name", DTYPES)
@pytest.mark.parametrize("make", [ember.tensor, ember.as_tensor, ember.asarray])
def test_torch_tensor_of_every_dtype_bit_exact(name, make):
    source = _sample(name)
    for t in (source, source.T, source[1:, ::2], source[2, 3], source[:0]):
        mine = make(t)
        assert mine.dtype == getattr(ember, name) and tuple(mine.shape) == tuple(t.shape)
        np.testing.assert_array_equal(_mine(mine), _bits(t))


def test_torch_tensor_that_requires_grad_conjugated_or_sparse():
    w = torch.randn(3, 2, requires_grad=True)
    mine = ember.tensor(w)
    assert not mine.requires_grad
    np.testing.assert_array_equal(mine.numpy(), w.detach().numpy())
    assert ember.tensor(w, requires_grad=True).requires_grad
    z = torch.randn(3, dtype=torch.complex64)
    np.testing.assert_array_equal(ember.tensor(z.conj()).numpy(), z.conj().resolve_conj().numpy())
    np.testing.assert_array_equal(ember.tensor(z.conj().imag).numpy(), -z.imag.numpy())
    s = torch.eye(3).to_sparse()
    np.testing.assert_array_equal(ember.tensor(s).numpy(), np.eye(3, dtype=np.float32))


def test_parameter_of_a_torch_tensor():
    t = torch.randn(2, 3).to(torch.bfloat16)
    p = ember.nn.Parameter(t)
    assert isinstance(p.array, np.ndarray) and p.dtype == ember.bfloat16 and p.requires_grad
    np.testing.assert_array_equal(_mine(p), _bits(t))


def test_unsupported_torch_dtype_is_named():
    with pytest.raises(TypeError, match="torch.uint16 is not supported"):
        ember.tensor(torch.zeros(2, dtype=torch.uint16))
    with pytest.raises(TypeError, match="torch.float8_e4m3fn is not supported"):
        ember.zeros(2, dtype=torch.float8_e4m3fn)


@pytest.mark.parametrize("name", DTYPES)
def test_torch_dtype_arguments(name):
    theirs, ours = getattr(torch, name), getattr(ember, name)
    assert ember.zeros(2, dtype=theirs).dtype == ours
    assert ember.tensor([1, 0], dtype=theirs).dtype == ours
    assert ember.ones(2, dtype=ember.float64).to(theirs).dtype == ours
    assert ember.ones(2, dtype=ember.float64).type(theirs).dtype == ours


def test_view_as_a_torch_dtype():
    x = ember.tensor([1.0, -2.0])
    np.testing.assert_array_equal(x.view(torch.int32).numpy(), torch.tensor([1.0, -2.0]).view(torch.int32).numpy())
    assert tuple(ember.ones(2, 3).view(torch.Size([3, 2])).shape) == (3, 2)


@pytest.mark.parametrize("name", ["float32", "bfloat16", "float16", "float64"])
def test_module_loads_a_torch_state_dict_bit_exact(name):
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    theirs = theirs.to(getattr(torch, name))
    for assign in (False, True):
        mine = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4), ember.nn.Linear(4, 2))
        mine = mine.to(getattr(torch, name))
        mine.load_state_dict(theirs.state_dict(), assign=assign)
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(_mine(mine.state_dict()[key]), _bits(value), err_msg=key)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_loads_a_bfloat16_torch_state_dict(name):
    w = torch.nn.Parameter(torch.randn(3, 2).to(torch.bfloat16))
    opt = getattr(torch.optim, name)([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w.float() ** 2).sum().backward()
        opt.step()
    mine = ember.nn.Parameter(ember.tensor(w))
    mine_opt = getattr(ember.optim, name)([mine], lr=0.1)
    mine_opt.load_state_dict(opt.state_dict())
    for _ in range(3):
        for p, o in ((w, opt), (mine, mine_opt)):
            o.zero_grad()
            (p.float() ** 2).sum().backward()
            o.step()
    np.testing.assert_array_equal(_mine(mine), _bits(w))


@pytest.mark.parametrize("name", [n for n in DTYPES if n != "bfloat16"])
def test_torch_takes_an_ember_tensor_through_dlpack(name):
    x = ember.tensor(_sample(name))
    for view in (x, x.T, x[1:, ::2], x[2, 3], x[:0]):
        theirs = torch.tensor(view)
        assert theirs.dtype == getattr(torch, name)
        np.testing.assert_array_equal(theirs.numpy(), view.numpy())
    torch.tensor(x)[0, 0] = 1  # a copy
    np.testing.assert_array_equal(x.numpy(), _bits(_sample(name)))
    torch.as_tensor(x)[0, 0] = 0  # shared
    assert x[0, 0].item() == 0


def test_dlpack_refusals_are_named():
    with pytest.raises(RuntimeError, match="requires grad"):
        torch.tensor(ember.ones(2, requires_grad=True))
    with pytest.raises(BufferError, match="bfloat16"):
        torch.from_dlpack(ember.ones(2, dtype=ember.bfloat16))


def test_torch_tensors_as_indices_and_assigned_values():
    x = ember.arange(5.0)
    t = torch.arange(5.0)
    for index in (torch.tensor([1, 3]), torch.tensor([True, False, True, False, True]), torch.tensor(2),
                  torch.tensor([[0, 1]])):
        np.testing.assert_array_equal(x[index].numpy(), t[index].numpy())
    with pytest.warns(UserWarning, match="uint8 is deprecated"):
        np.testing.assert_array_equal(x[torch.tensor([1, 0, 1, 0, 1], dtype=torch.uint8)].numpy(), [0, 2, 4])
    value = torch.randn(3).to(torch.bfloat16)
    mine = ember.zeros(3, dtype=ember.bfloat16)
    mine[:] = value
    np.testing.assert_array_equal(_mine(mine), _bits(value))
    mine = ember.zeros(3)
    mine[1] = torch.tensor(2.0, requires_grad=True)
    assert mine.tolist() == [0.0, 2.0, 0.0]


def test_torch_devices_name_ember_devices():
    cpu = torch.device("cpu")
    assert ember.device(torch.device("cuda", 1)) == ember.device("cuda:1")
    assert ember.tensor([1.0], device=cpu).device == ember.device("cpu")
    assert ember.zeros(2, device=cpu).device == ember.device("cpu")
    moved = ember.ones(2).to(cpu, torch.float64)
    assert moved.device == ember.device("cpu") and moved.dtype == ember.float64
    assert ember.nn.Linear(2, 2).to(cpu).weight.device == ember.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'mps'"):
        ember.ones(2).to(torch.device("mps"))

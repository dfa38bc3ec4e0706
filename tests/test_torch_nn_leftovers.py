"""nn.Buffer, nn.RNNBase/RNNCellBase, nn.DataParallel and nn.NLLLoss2d against torch.nn."""

import copy
import pickle

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")


def test_buffer_assignment_registers_a_buffer_as_torch():
    ours, theirs = nn.Module(), torch.nn.Module()
    for m, lib in ((ours, nn), (theirs, torch.nn)):
        m.kept = lib.Buffer(ember.ones(2) if lib is nn else torch.ones(2))
        m.hidden = lib.Buffer(ember.zeros(1) if lib is nn else torch.zeros(1), persistent=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["kept"]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()] == ["kept", "hidden"]
    assert isinstance(ours.kept, nn.Buffer) and ours.kept.persistent and not ours.hidden.persistent
    ours.kept = ember.full((3,), 5.0)  # a plain tensor replaces a registered buffer
    assert ours.state_dict()["kept"].tolist() == [5.0] * 3
    assert nn.Buffer().shape == (0,)


def test_buffer_shares_data_keeps_requires_grad_and_survives_copies():
    data = ember.ones(2, requires_grad=True)
    buffer = nn.Buffer(data * 2)
    assert buffer.requires_grad and buffer.node is None
    shared = ember.zeros(3)
    plain = nn.Buffer(shared, persistent=False)
    shared.array[0] = 4.0
    assert plain[0].item() == 4.0
    raw = np.zeros(2, np.float32)
    nn.Buffer(raw).array[1] = 3.0
    assert raw[1] == 3.0
    for made in (copy.deepcopy(plain), pickle.loads(pickle.dumps(plain))):
        assert isinstance(made, nn.Buffer) and made.persistent is False and made.tolist() == [4.0, 0.0, 0.0]
    holder = nn.Module()
    holder.steps = nn.Buffer(ember.zeros(1))
    assert isinstance(copy.deepcopy(holder).steps, nn.Buffer)


def test_recurrent_bases_are_the_layers_bases_as_in_torch():
    for name in ("RNN", "LSTM", "GRU"):
        assert isinstance(getattr(nn, name)(3, 4), nn.RNNBase)
        assert isinstance(getattr(torch.nn, name)(3, 4), torch.nn.RNNBase)
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        assert isinstance(getattr(nn, name)(3, 4), nn.RNNCellBase) and not isinstance(getattr(nn, name)(3, 4),
                                                                                       nn.RNNBase)
    base = nn.RNNBase("LSTM", 3, 4)
    assert [n for n, _ in base.named_parameters()] == [n for n, _ in torch.nn.RNNBase("LSTM", 3, 4).named_parameters()]


def test_data_parallel_forwards_and_prefixes_state_dict_keys_as_torch_on_cpu():
    inner = nn.Linear(2, 3)
    wrapped = nn.DataParallel(inner)
    reference = torch.nn.DataParallel(torch.nn.Linear(2, 3))
    assert wrapped.module is inner and wrapped.device_ids == reference.device_ids == []
    assert list(wrapped.state_dict()) == list(reference.state_dict()) == ["module.weight", "module.bias"]
    x = ember.randn(4, 2)
    np.testing.assert_array_equal(wrapped(x).detach().numpy(), inner(x).detach().numpy())
    wrapped(x).sum().backward()
    assert inner.weight.grad is not None
    fresh = nn.DataParallel(nn.Linear(2, 3))
    fresh.load_state_dict(wrapped.state_dict())
    np.testing.assert_array_equal(fresh.module.weight.detach().numpy(), inner.weight.detach().numpy())
    with pytest.raises(TypeError, match="DataParallel: module must be an ember.nn.Module"):
        nn.DataParallel(lambda x: x)


def test_nll_loss_2d_is_nll_loss_with_a_deprecation_warning():
    logits = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    target = np.random.default_rng(1).integers(0, 3, (2, 4, 4))
    with pytest.warns(FutureWarning, match="NLLLoss2d is deprecated"):
        ours = nn.NLLLoss2d()
    with pytest.warns(FutureWarning):
        theirs = torch.nn.NLLLoss2d()
    assert isinstance(ours, nn.NLLLoss)
    x, tx = ember.tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    loss, tloss = ours(ember.log_softmax(x, 1), ember.tensor(target)), theirs(torch.log_softmax(tx, 1),
                                                                               torch.tensor(target))
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-12)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)
    with pytest.warns(FutureWarning):
        assert nn.NLLLoss2d(size_average=False).reduction == "sum"
    with pytest.warns(FutureWarning):
        assert nn.NLLLoss2d(reduce=False).reduction == "none"

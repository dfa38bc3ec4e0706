"""LSTM's proj_size against PyTorch: parameters (weight_hr_l{k}), outputs, final states and every gradient, with
several layers, both directions, batch_first, initial states, unbatched and packed inputs, and under ember.jit."""

from __future__ import annotations

import numpy as np
import pytest
from parity_helpers import copy_to_torch

import ember
from ember import nn

torch = pytest.importorskip("torch")


def _pair(**kwargs):
    ours = nn.LSTM(4, 6, **kwargs).double()
    theirs = torch.nn.LSTM(4, 6, **kwargs).double()
    copy_to_torch(ours, theirs)
    return ours, theirs


def _check(ours_out, theirs_out, ours_inputs, theirs_inputs, ours, theirs):
    """Results equal, then the gradients of a random weighting of all of them, inputs and parameters."""
    rng = np.random.default_rng(1)
    ours_loss = theirs_loss = 0
    for a, b in zip(ours_out, theirs_out):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(tuple(b.shape))
        ours_loss = ours_loss + (a * ember.tensor(g)).sum()
        theirs_loss = theirs_loss + (b * torch.tensor(g)).sum()
    ours_loss.backward()
    theirs_loss.backward()
    for a, b in zip(ours_inputs, theirs_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[name].grad.numpy(), p.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{"proj_size": 3}, {"proj_size": 2, "num_layers": 2, "bidirectional": True},
                                    {"proj_size": 4, "num_layers": 2, "batch_first": True, "bias": False}])
@pytest.mark.parametrize("states", [False, True])
def test_lstm_projection_matches_torch(kwargs, states):
    ours, theirs = _pair(**kwargs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4))
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    arrays = [x] + ([rng.standard_normal((layers, 3 if kwargs.get("batch_first") else 5, kwargs["proj_size"])),
                     rng.standard_normal((layers, 3 if kwargs.get("batch_first") else 5, 6))] if states else [])
    mine = [ember.tensor(a, requires_grad=True) for a in arrays]
    their = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, (h, c) = ours(mine[0], tuple(mine[1:]) if states else None)
    ty, (th, tc) = theirs(their[0], tuple(their[1:]) if states else None)
    assert h.shape == tuple(th.shape) and c.shape == tuple(tc.shape)
    _check([y, h, c], [ty, th, tc], mine, their, ours, theirs)


def test_lstm_projection_of_an_unbatched_input_matches_torch():
    ours, theirs = _pair(proj_size=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 4))
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, (h, c) = ours(a)
    ty, (th, tc) = theirs(b)
    _check([y, h, c], [ty, th, tc], [a], [b], ours, theirs)


def test_lstm_projection_over_a_packed_unsorted_batch_matches_torch():
    ours, theirs = _pair(proj_size=3, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 3, 4))
    a, b = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lengths = [3, 5, 2]
    packed = nn.utils.rnn.pack_padded_sequence(a, lengths, enforce_sorted=False)
    their_packed = torch.nn.utils.rnn.pack_padded_sequence(b, lengths, enforce_sorted=False)
    out, (h, c) = ours(packed)
    their_out, (th, tc) = theirs(their_packed)
    y, _ = nn.utils.rnn.pad_packed_sequence(out)
    ty, _ = torch.nn.utils.rnn.pad_packed_sequence(their_out)
    _check([y, h, c], [ty, th, tc], [a], [b], ours, theirs)


def test_lstm_projection_trains_under_jit_as_eagerly():
    ours, _ = _pair(proj_size=3, num_layers=2)
    x = ember.tensor(np.random.default_rng(0).standard_normal((5, 2, 4)))

    def step(t):
        y, (h, c) = ours(t)
        loss = (y * y).sum() + h.sum() + c.sum()
        loss.backward()
        return loss, ours.weight_hr_l1.grad

    eager = step(x)
    eager_grad = eager[1].numpy().copy()
    traced = ember.jit(step)
    for _ in range(2):
        ours.zero_grad()
        loss, grad = traced(x)
    np.testing.assert_allclose(loss.numpy(), eager[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(grad.numpy(), eager_grad, rtol=1e-12)


def test_lstm_projection_refusals_name_the_argument():
    with pytest.raises(ValueError, match=r"LSTM: proj_size \(6\) must be smaller than hidden_size \(6\)"):
        nn.LSTM(4, 6, proj_size=6)
    with pytest.raises(ValueError, match=r"LSTM: the initial hidden state must have shape \[1, 2, 3\]"):
        nn.LSTM(4, 6, proj_size=3)(ember.randn(5, 2, 4), (ember.zeros(1, 2, 6), ember.zeros(1, 2, 6)))

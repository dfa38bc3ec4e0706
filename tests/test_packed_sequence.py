"""Recurrent layers over packed batches without PyTorch: each sequence's result is the layer's result on that
sequence alone, the layers' errors for packed input, ``ember.jit`` of a packed step, and a sequence classifier
trained on sequences of different lengths."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.utils import rnn

LENGTHS = [2, 5, 3, 5, 1]


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_each_packed_sequence_gets_what_it_gets_alone(kind):
    ember.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(0)
    seqs = [ember.tensor(rng.standard_normal((n, 3))) for n in LENGTHS]
    h0 = ember.tensor(rng.standard_normal((4, len(LENGTHS), 4)))
    state = (h0, h0 * 0.5) if kind == "LSTM" else h0
    with ember.no_grad():
        out, finals = layer(rnn.pack_sequence(seqs, enforce_sorted=False), state)
    finals = finals[0] if kind == "LSTM" else finals
    for i, (seq, got) in enumerate(zip(seqs, rnn.unpack_sequence(out))):
        alone = (h0[:, i:i + 1], h0[:, i:i + 1] * 0.5) if kind == "LSTM" else h0[:, i:i + 1]
        with ember.no_grad():
            want, want_finals = layer(ember.unsqueeze(seq, 1), alone)
        want_finals = want_finals[0] if kind == "LSTM" else want_finals
        np.testing.assert_allclose(got.numpy(), want[:, 0].numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(finals[:, i].numpy(), want_finals[:, 0].numpy(), rtol=1e-12, atol=1e-12)


def test_packed_input_errors_name_the_layer_and_shapes():
    layer = nn.LSTM(3, 4)
    packed = rnn.pack_sequence([ember.randn(3, 3), ember.randn(2, 3)])
    with pytest.raises(ValueError, match=r"LSTM: the initial hidden state must have shape \[1, 2, 4\]"):
        layer(packed, (ember.zeros(1, 3, 4), ember.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match=r"LSTM: a packed input's data must be \(sum of lengths, 3\)"):
        layer(rnn.pack_sequence([ember.randn(3, 5)]))
    with pytest.raises(TypeError, match="LSTM: expected input of dtype float32"):
        layer(packed.double())
    broken = rnn.PackedSequence(packed.data, ember.tensor([1, 2]))
    with pytest.raises(ValueError, match="non-increasing"):
        nn.GRU(3, 4)(broken)


def test_traced_lengths_are_refused_with_the_way_out():
    traced = ember.jit(lambda x, lengths: rnn.pack_padded_sequence(x, lengths).data)
    with pytest.raises(TypeError, match="pack_padded_sequence: lengths must be known numbers.*a tuple as an argument"):
        traced(ember.randn(3, 2, 1), ember.tensor([3, 2]))
    np.testing.assert_array_equal(traced(ember.ones(3, 2, 1), (3, 2)).numpy(), np.ones((5, 1)))


def test_packed_step_under_jit_equals_eager_in_values_and_gradients():
    ember.manual_seed(0)
    layer = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)

    def step(x, h0):
        packed = rnn.pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
        out, h_n = layer(packed, h0)
        padded, _ = rnn.pad_packed_sequence(out, batch_first=True)
        ((padded * padded).sum() + h_n.sum()).backward()
        return padded, h_n

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 5, 3)).astype(np.float32)
    h = rng.standard_normal((4, 5, 4)).astype(np.float32)
    xe, he = ember.tensor(x, requires_grad=True), ember.tensor(h, requires_grad=True)
    padded, h_n = step(xe, he)
    grads = {k: p.grad.numpy().copy() for k, p in layer.named_parameters()}
    traced = ember.jit(step)
    for _ in range(2):  # the trace, then its cached code
        layer.zero_grad()
        xt, ht = ember.tensor(x, requires_grad=True), ember.tensor(h, requires_grad=True)
        got, got_h = traced(xt, ht)
        np.testing.assert_array_equal(got.numpy(), padded.detach().numpy())
        np.testing.assert_array_equal(got_h.numpy(), h_n.detach().numpy())
        np.testing.assert_array_equal(xt.grad.numpy(), xe.grad.numpy())
        np.testing.assert_array_equal(ht.grad.numpy(), he.grad.numpy())
        for key, p in layer.named_parameters():
            np.testing.assert_array_equal(p.grad.numpy(), grads[key])


def test_a_traced_layer_returns_its_packed_output():
    ember.manual_seed(0)
    layer = nn.LSTM(3, 4, bidirectional=True)
    x = ember.randn(5, 5, 3)

    def run(x):
        return layer(rnn.pack_padded_sequence(x, LENGTHS, enforce_sorted=False))

    with ember.no_grad():
        out, (h_n, c_n) = run(x)
        traced = ember.jit(run)
        for _ in range(2):
            got, (got_h, got_c) = traced(x)
            assert type(got) is rnn.PackedSequence and got.batch_sizes.device.type == "cpu"
            for a, b in zip([*got, got_h, got_c], [*out, h_n, c_n]):
                np.testing.assert_array_equal(a.numpy(), b.numpy())


class _Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 16, bidirectional=True)
        self.head = nn.Linear(32, 2)

    def forward(self, packed: rnn.PackedSequence) -> ember.Tensor:
        _, (h_n, _) = self.lstm(packed)
        return self.head(ember.concat([h_n[0], h_n[1]], axis=1))


def _data(count: int, rng) -> tuple[list, np.ndarray]:
    """Sequences of 3-15 steps; the class says whether the first step's first feature exceeds the last step's,
    so a classifier must read each sequence's own first and last step, not the padding's."""
    seqs, labels = [], []
    for n in rng.integers(3, 16, count):
        x = rng.standard_normal((n, 2)).astype(np.float32)
        seqs.append(x)
        labels.append(int(x[0, 0] > x[-1, 0]))
    return seqs, np.array(labels)


def test_a_classifier_of_variable_length_sequences_learns():
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    train, train_labels = _data(512, rng)
    test, test_labels = _data(256, rng)
    model = _Classifier()
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(6):
        order = rng.permutation(len(train))
        for start in range(0, len(train), 32):
            batch = order[start:start + 32]
            packed = rnn.pack_sequence([ember.tensor(train[i]) for i in batch], enforce_sorted=False)
            loss = loss_fn(model(packed), ember.tensor(train_labels[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with ember.no_grad():
        logits = model(rnn.pack_sequence([ember.tensor(s) for s in test], enforce_sorted=False))
    accuracy = float((logits.numpy().argmax(axis=1) == test_labels).mean())
    assert accuracy >= 0.9, accuracy

"""``ember.nn.utils.rnn`` against ``torch.nn.utils.rnn``: padding, packing and unpacking (values, lengths, indices and
gradients), and RNN/LSTM/GRU over packed batches (outputs, final states and every gradient)."""

from __future__ import annotations

import numpy as np
import pytest
from parity_helpers import copy_to_torch

import ember
from ember import nn
from ember.nn.utils import rnn

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn

LENGTHS = [2, 5, 3, 5, 1]  # unsorted, with a tie


def _sequences(lengths, features=3, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, features)) for n in lengths]
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _same(ours, theirs, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy()), theirs.detach().numpy(), rtol=rtol, atol=atol)


def _backward_weighted(ours, theirs, seed=1):
    """Backpropagate the same random weighting of both results."""
    g = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    (ours * ember.tensor(g)).sum().backward()
    (theirs * torch.tensor(g)).sum().backward()


def _packed_fields_equal(ours, theirs):
    for a, b in zip(ours, theirs):
        if b is None:
            assert a is None
        else:
            assert a.dtype == ember.int64 or a is ours.data
            _same(a, b)
    assert ours.batch_sizes.device.type == "cpu"


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_matches_torch_with_gradients(batch_first, padding_side):
    ours, theirs = _sequences(LENGTHS)
    a = rnn.pad_sequence(ours, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)
    b = trnn.pad_sequence(theirs, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)
    _same(a, b)
    _backward_weighted(a, b)
    for x, y in zip(ours, theirs):
        _same(x.grad, y.grad)


def test_pad_sequence_keeps_integer_tokens_and_trailing_dimensions():
    tokens = [np.array([4, 1, 7]), np.array([2])]
    ours = rnn.pad_sequence([ember.tensor(t) for t in tokens], batch_first=True, padding_value=9)
    assert ours.dtype == ember.int64
    assert ours.tolist() == trnn.pad_sequence([torch.tensor(t) for t in tokens], True, 9).tolist()
    images = [np.ones((n, 2, 3)) * n for n in (2, 4)]
    _same(rnn.pad_sequence([ember.tensor(i) for i in images]), trnn.pad_sequence([torch.tensor(i) for i in images]))


@pytest.mark.parametrize("lengths_as", ["list", "tensor"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_sequence_unsorted_matches_torch_with_gradients(batch_first, lengths_as):
    ours, theirs = _sequences(LENGTHS)
    pe, pt = rnn.pad_sequence(ours, batch_first), trnn.pad_sequence(theirs, batch_first)
    lengths_e = LENGTHS if lengths_as == "list" else ember.tensor(LENGTHS)
    lengths_t = LENGTHS if lengths_as == "list" else torch.tensor(LENGTHS)
    a = rnn.pack_padded_sequence(pe, lengths_e, batch_first=batch_first, enforce_sorted=False)
    b = trnn.pack_padded_sequence(pt, lengths_t, batch_first=batch_first, enforce_sorted=False)
    assert isinstance(a, tuple) and a._fields == ("data", "batch_sizes", "sorted_indices", "unsorted_indices")
    _packed_fields_equal(a, b)
    _backward_weighted(a.data, b.data)
    for x, y in zip(ours, theirs):
        _same(x.grad, y.grad)


def test_pack_padded_sequence_sorted_has_no_indices():
    lengths = sorted(LENGTHS, reverse=True)
    ours, theirs = _sequences(lengths)
    a = rnn.pack_padded_sequence(rnn.pad_sequence(ours), lengths)
    b = trnn.pack_padded_sequence(trnn.pad_sequence(theirs), lengths)
    assert a.sorted_indices is None and a.unsorted_indices is None
    _packed_fields_equal(a, b)


@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_packed_sequence_matches_torch_with_gradients(batch_first):
    ours, theirs = _sequences(LENGTHS)
    a = rnn.pack_sequence(ours, enforce_sorted=False)
    b = trnn.pack_sequence(theirs, enforce_sorted=False)
    _packed_fields_equal(a, b)
    pa, la = rnn.pad_packed_sequence(a, batch_first=batch_first, padding_value=7.0, total_length=8)
    pb, lb = trnn.pad_packed_sequence(b, batch_first=batch_first, padding_value=7.0, total_length=8)
    _same(pa, pb)
    assert la.tolist() == lb.tolist() == LENGTHS and la.dtype == ember.int64 and la.device.type == "cpu"
    _backward_weighted(pa, pb)
    for x, y in zip(ours, theirs):
        _same(x.grad, y.grad)


def test_round_trips_of_pad_pack_and_unpack():
    ours, _ = _sequences(LENGTHS)
    arrays = [s.detach().numpy() for s in ours]
    for enforce_sorted, seqs in ((False, ours), (True, sorted(ours, key=len, reverse=True))):
        packed = rnn.pack_sequence(seqs, enforce_sorted=enforce_sorted)
        for got, want in zip(rnn.unpack_sequence(packed), seqs):
            np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    padded = rnn.pad_sequence(ours, batch_first=True)
    for got, want in zip(rnn.unpad_sequence(padded, ember.tensor(LENGTHS), batch_first=True), arrays):
        np.testing.assert_array_equal(got.detach().numpy(), want)
    packed = rnn.pack_padded_sequence(padded, LENGTHS, batch_first=True, enforce_sorted=False)
    again, lengths = rnn.pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(again.detach().numpy(), padded.detach().numpy())
    assert lengths.tolist() == LENGTHS
    theirs = trnn.unpack_sequence(trnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False))
    for got, want in zip(rnn.unpack_sequence(rnn.pack_sequence(ours, enforce_sorted=False)), theirs):
        _same(got, want)


def test_unpack_and_unpad_pass_gradients_like_torch():
    ours, theirs = _sequences(LENGTHS)
    a = rnn.unpack_sequence(rnn.pack_sequence(ours, enforce_sorted=False))
    b = trnn.unpack_sequence(trnn.pack_sequence(theirs, enforce_sorted=False))
    _backward_weighted(ember.concat([s * (i + 1) for i, s in enumerate(a)]),
                       torch.cat([s * (i + 1) for i, s in enumerate(b)]))
    for x, y in zip(ours, theirs):
        _same(x.grad, y.grad)


def test_packed_sequence_to_moves_data_and_keeps_batch_sizes():
    packed = rnn.pack_sequence(_sequences(LENGTHS)[0], enforce_sorted=False)
    assert packed.to(ember.float64) is packed and packed.double() is packed
    single = packed.float()
    assert single.data.dtype == ember.float32 and single.batch_sizes is packed.batch_sizes
    assert single.sorted_indices.tolist() == packed.sorted_indices.tolist() and not single.is_cuda
    assert packed.to("cpu") is packed
    rebuilt = rnn.PackedSequence((packed.data, packed.batch_sizes), sorted_indices=packed.sorted_indices)
    assert rebuilt.unsorted_indices.tolist() == packed.unsorted_indices.tolist()
    perm = torch.tensor([3, 0, 4, 1, 2])
    assert rnn.invert_permutation(ember.tensor(perm.numpy())).tolist() == trnn.invert_permutation(perm).tolist()
    assert rnn.invert_permutation(None) is None


@pytest.mark.parametrize("method", ["double", "float", "half", "long", "int", "short", "char", "byte"])
def test_packed_sequence_casts_as_torch(method):
    ours = getattr(rnn.pack_sequence(_sequences(LENGTHS)[0], enforce_sorted=False), method)()
    theirs = getattr(trnn.pack_sequence(_sequences(LENGTHS)[1], enforce_sorted=False), method)()
    assert str(ours.data.dtype) == str(theirs.data.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.data.detach().numpy(), theirs.data.detach().numpy())
    assert ours.batch_sizes.tolist() == theirs.batch_sizes.tolist() and ours.is_pinned() is theirs.is_pinned()


@pytest.mark.parametrize("call, message", [
    (lambda x: rnn.pack_padded_sequence(x, [2, 3, 1, 1, 1]), "decreasing"),
    (lambda x: rnn.pack_padded_sequence(x, [5, 3, 0, 0, 0]), "positive"),
    (lambda x: rnn.pack_padded_sequence(x, [5, 3]), "2 lengths for a batch of 5"),
    (lambda x: rnn.pack_padded_sequence(x, [6, 3, 1, 1, 1]), r"lie in \[0, 5\]"),
    (lambda x: rnn.pack_padded_sequence(x, [5.5, 3, 1, 1, 1]), "integers"),
    (lambda x: rnn.pad_packed_sequence(rnn.pack_sequence([x[:, 0]]), total_length=3), "total_length"),
    (lambda x: rnn.pad_sequence([x[0], x[:, 0, :2]]), "trailing shape"),
    (lambda x: rnn.pad_sequence([x[0]], padding_side="middle"), "padding_side"),
    (lambda x: rnn.pad_packed_sequence(x), "PackedSequence"),
])
def test_bad_arguments_are_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(ember.zeros(5, 5, 3))


KINDS = {"RNN": {}, "RNN_relu": {"nonlinearity": "relu"}, "LSTM": {}, "GRU": {}}
CONFIGS = [
    {"enforce_sorted": True},
    {"num_layers": 2, "states": True},
    {"bidirectional": True, "states": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True, "states": True},
    {"bidirectional": True, "bias": False},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_layers_on_packed_input_match_torch(kind, config):
    config = dict(config)
    states, enforce_sorted = config.pop("states", False), config.pop("enforce_sorted", False)
    name = kind.split("_")[0]
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    ember.manual_seed(0)
    layer = getattr(nn, name)(3, 4, **config, **KINDS[kind]).double()
    ref = getattr(torch.nn, name)(3, 4, **config, **KINDS[kind]).double()
    copy_to_torch(layer, ref)
    ours, theirs = _sequences(lengths)
    batch_first = config.get("batch_first", False)
    pe = rnn.pack_padded_sequence(rnn.pad_sequence(ours, batch_first), lengths, batch_first, enforce_sorted)
    pt = trnn.pack_padded_sequence(trnn.pad_sequence(theirs, batch_first), lengths, batch_first, enforce_sorted)
    hx_e = hx_t = None
    if states:
        shape = (config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1), len(lengths), 4)
        rng = np.random.default_rng(2)
        arrays = [rng.standard_normal(shape) for _ in range(2 if name == "LSTM" else 1)]
        se = [ember.tensor(a, requires_grad=True) for a in arrays]
        st = [torch.tensor(a, requires_grad=True) for a in arrays]
        hx_e, hx_t = (tuple(se), tuple(st)) if name == "LSTM" else (se[0], st[0])
    out_e, fin_e = layer(pe, hx_e)
    out_t, fin_t = ref(pt, hx_t)
    assert isinstance(out_e, rnn.PackedSequence)
    _packed_fields_equal(out_e, out_t)
    fin_e = list(fin_e) if name == "LSTM" else [fin_e]
    fin_t = list(fin_t) if name == "LSTM" else [fin_t]
    for a, b in zip(fin_e, fin_t):
        _same(a, b, rtol=1e-10)

    g = np.random.default_rng(3).standard_normal(tuple(out_t.data.shape))
    loss_e = (out_e.data * ember.tensor(g)).sum() + sum((f * f).sum() for f in fin_e)
    loss_t = (out_t.data * torch.tensor(g)).sum() + sum((f * f).sum() for f in fin_t)
    loss_e.backward()
    loss_t.backward()
    for x, y in zip(ours, theirs):
        _same(x.grad, y.grad, rtol=1e-9, atol=1e-11)
    if states:
        for x, y in zip(se, st):
            _same(x.grad, y.grad, rtol=1e-9, atol=1e-11)
    theirs_params = dict(ref.named_parameters())
    for key, p in layer.named_parameters():
        _same(p.grad, theirs_params[key].grad, rtol=1e-9, atol=1e-11)


def test_long_packed_sequences_match_torch_in_float32():
    # 40 steps take the blocked slicing of the steps' rows (16 steps or more, with a gradient)
    lengths = [40, 17, 33, 1, 40, 25]
    ember.manual_seed(0)
    layer = nn.LSTM(3, 6, bidirectional=True)
    ref = torch.nn.LSTM(3, 6, bidirectional=True)
    copy_to_torch(layer, ref)
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((n, 3)).astype(np.float32) for n in lengths]
    ours = [ember.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_e, (h_e, _) = layer(rnn.pack_sequence(ours, enforce_sorted=False))
    out_t, (h_t, _) = ref(trnn.pack_sequence(theirs, enforce_sorted=False))
    _same(out_e.data, out_t.data, rtol=1e-4, atol=1e-5)
    _same(h_e, h_t, rtol=1e-4, atol=1e-5)
    (out_e.data.sum() + h_e.sum()).backward()
    (out_t.data.sum() + h_t.sum()).backward()
    for x, y in zip(ours, theirs):
        _same(x.grad, y.grad, rtol=1e-4, atol=1e-5)

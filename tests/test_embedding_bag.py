"""EmbeddingBag: parity with PyTorch (fixed-size and ragged bags, every mode, per_sample_weights,
padding_idx, include_last_offset, empty bags), the row-sparse gradient, errors and a small training run."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.sparse import RowSparse

ROWS, DIM = 12, 4


def _close(actual, expected, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.asarray(actual), expected.detach().numpy(), atol=atol, rtol=1e-4)


def _layout(rng, layout: str):
    """(input, offsets) for a layout; the ragged ones include an empty bag."""
    if layout == "fixed":
        return rng.integers(0, ROWS, (4, 3)), None
    ids = rng.integers(0, ROWS, 10)
    offsets = [0, 3, 3, 7]
    if layout == "ragged_last":
        offsets.append(10)
    return ids, np.array(offsets)


@pytest.mark.parametrize("layout", ["fixed", "ragged", "ragged_last"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_matches_torch(mode, padding_idx, layout):
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    options = {"mode": mode, "padding_idx": padding_idx, "include_last_offset": layout == "ragged_last"}
    bag = nn.EmbeddingBag(ROWS, DIM, **options)
    ref = torch.nn.EmbeddingBag(ROWS, DIM, **options)
    assert list(bag.state_dict()) == list(ref.state_dict())
    ref.load_state_dict({"weight": torch.from_numpy(bag.weight.detach().numpy().copy())})
    ids, offsets = _layout(rng, layout)
    if padding_idx is not None:
        ids.reshape(-1)[[0, 4]] = padding_idx
    weights = rng.standard_normal(ids.shape).astype(np.float32) if mode == "sum" else None
    we = ember.tensor(weights, requires_grad=True) if weights is not None else None
    wt = torch.tensor(weights, requires_grad=True) if weights is not None else None
    out_e = bag(ember.tensor(ids), None if offsets is None else ember.tensor(offsets), we)
    out_t = ref(torch.tensor(ids), None if offsets is None else torch.tensor(offsets), wt)
    _close(out_e.detach().numpy(), out_t)
    g = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_e * ember.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    _close(bag.weight.grad.numpy(), ref.weight.grad)
    if weights is not None:
        _close(we.grad.numpy(), wt.grad)


def test_max_mode_sends_a_tie_to_the_first_row_as_torch():
    # Rows 2 and 5 are equal: PyTorch's max gives each bag's gradient to the first of them in the bag; it was
    # shared out (1/3 each among three tied rows).
    torch = pytest.importorskip("torch")
    table = np.random.default_rng(1).standard_normal((ROWS, DIM)).astype(np.float32)
    table[[5, 8]] = table[2]
    ids = np.array([[2, 5, 8], [8, 2, 1], [5, 5, 2]])
    bag = nn.EmbeddingBag.from_pretrained(ember.tensor(table), freeze=False, mode="max")
    ref = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(table), freeze=False, mode="max")
    out_e, out_t = bag(ember.tensor(ids)), ref(torch.tensor(ids))
    _close(out_e.detach().numpy(), out_t)
    g = np.random.default_rng(2).standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_e * ember.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    _close(bag.weight.grad.numpy(), ref.weight.grad)


def test_padding_row_starts_at_zero():
    bag = nn.EmbeddingBag(ROWS, DIM, padding_idx=3)
    assert not bag.weight.detach().numpy()[3].any()
    assert bag.weight.detach().numpy().std() > 0.5  # N(0, 1) elsewhere


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_sparse_gradient_holds_only_the_bag_rows(mode):
    ember.manual_seed(0)
    dense = nn.EmbeddingBag(ROWS, DIM, mode=mode)
    sparse = nn.EmbeddingBag(ROWS, DIM, mode=mode, sparse=True)
    sparse.load_state_dict(dense.state_dict())
    ids, offsets = ember.tensor([1, 5, 5, 7, 1]), ember.tensor([0, 2])
    for layer in (dense, sparse):
        (layer(ids, offsets) ** 2).sum().backward()
    grad = sparse.weight.grad
    assert isinstance(grad, RowSparse)
    assert set(np.asarray(grad.indices).tolist()) <= {1, 5, 7}
    np.testing.assert_allclose(grad.to_dense().numpy(), dense.weight.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_bags_of_padding_alone_give_zeros_and_a_zero_gradient(mode):
    bag = nn.EmbeddingBag(ROWS, DIM, mode=mode, padding_idx=3)
    out = bag(ember.tensor([3, 3, 3]), ember.tensor([0, 1]))
    assert out.requires_grad and out.shape == (2, DIM) and not out.detach().numpy().any()
    out.sum().backward()  # the weight's gradient is zero, as PyTorch's
    assert not bag.weight.grad.numpy().any()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("mode, weighted", [("sum", False), ("sum", True), ("mean", False)])
def test_low_precision_bags_sum_in_float32_as_torch(dtype, mode, weighted):
    """float16 and bfloat16 bags were summed in their own dtype: 200 rows near 2 came out 16 off a sum of 439 in
    bfloat16 (PyTorch's 0.9); PyTorch weighs and sums in float32, rounds the sum once and divides that for a mean."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    low = torch.tensor(rng.random((50, 8)) * 2 + 1).to(getattr(torch, dtype))
    ids = rng.integers(0, 50, (4, 200))
    weights = torch.tensor(rng.random(ids.shape)).to(low.dtype) if weighted else None
    theirs = torch.nn.functional.embedding_bag(torch.tensor(ids), low, mode=mode, per_sample_weights=weights)
    ours = nn.functional.embedding_bag(
        ember.tensor(ids), ember.tensor(low.float().numpy()).to(getattr(ember, dtype)), mode=mode,
        per_sample_weights=None if weights is None else ember.tensor(weights.float().numpy()).to(getattr(ember, dtype)))
    assert ours.dtype == getattr(ember, dtype)
    np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_errors_name_the_problem():
    bag = nn.EmbeddingBag(ROWS, DIM)
    with pytest.raises(ValueError, match="needs offsets"):
        bag(ember.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="offsets must be None"):
        bag(ember.tensor([[1, 2]]), ember.tensor([0]))
    with pytest.raises(ValueError, match="start at 0"):
        bag(ember.tensor([1, 2, 3]), ember.tensor([1, 2]))
    with pytest.raises(TypeError, match="offsets must hold integer positions, got float32"):
        bag(ember.tensor([1, 2, 3]), ember.tensor([0.0, 1.5]))
    last = nn.EmbeddingBag(ROWS, DIM, include_last_offset=True)  # (the ids past offset 2 were dropped before)
    with pytest.raises(ValueError, match=r"the last offset must be len\(input\) = 3 .*got offsets \[0, 1, 2\]"):
        last(ember.tensor([1, 2, 3]), ember.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="mode='sum'"):
        bag(ember.tensor([[1, 2]]), per_sample_weights=ember.ones(1, 2))
    with pytest.raises(ValueError, match="mode"):
        nn.EmbeddingBag(ROWS, DIM, mode="median")
    summed = nn.EmbeddingBag(ROWS, DIM, mode="sum")  # weights (3, 2) for ids (2, 3): PyTorch refuses them too
    with pytest.raises(ValueError, match=r"per_sample_weights must have the input's shape \[2, 3\], got \[3, 2\]"):
        summed(ember.tensor([[1, 2, 3], [4, 5, 6]]), per_sample_weights=ember.ones(3, 2))
    with pytest.raises(ValueError, match=r"input's shape \[3\], got \[3, 1\]"):
        summed(ember.tensor([1, 2, 3]), ember.tensor([0, 1]), per_sample_weights=ember.ones(3, 1))
    with pytest.raises(IndexError):
        bag(ember.tensor([[1, ROWS]]))


def test_bag_of_words_classifier_learns_with_sparse_updates():
    """Mean bags of token embeddings + a linear head: each class has its own keywords among noise words.
    Plain SGD, applying the embedding's row-sparse gradient only to its rows, reaches >= 95% accuracy."""
    ember.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab, classes, dim = 60, 4, 16
    keywords = np.arange(classes * 5).reshape(classes, 5)  # ids 0..19; 20..59 are noise

    def batch(size):
        labels = rng.integers(0, classes, size)
        ids, offsets = [], []
        for label in labels:
            offsets.append(len(ids))
            n = int(rng.integers(3, 9))
            words = rng.integers(20, vocab, n)
            words[rng.integers(0, n, 2)] = rng.choice(keywords[label], 2)
            ids.extend(words.tolist())
        return ember.tensor(ids), ember.tensor(offsets), ember.tensor(labels)

    bag = nn.EmbeddingBag(vocab, dim, mode="mean", sparse=True)
    head = nn.Linear(dim, classes)
    for _ in range(500):
        ids, offsets, labels = batch(32)
        loss = ember.cross_entropy(head(bag(ids, offsets)), labels)
        bag.zero_grad()
        head.zero_grad()
        loss.backward()
        grad = bag.weight.grad
        assert isinstance(grad, RowSparse)
        np.subtract.at(bag.weight.array, grad.indices, 0.5 * grad.values.array)
        for p in head.parameters():
            p.array -= 0.5 * p.grad.array
    ids, offsets, labels = batch(400)
    with ember.no_grad():
        predicted = head(bag(ids, offsets)).numpy().argmax(1)
    assert (predicted == labels.numpy()).mean() >= 0.95

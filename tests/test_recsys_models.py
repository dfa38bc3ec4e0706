"""CTR models and their layers, and the CTR metrics (group AUC, streaming AUC, log loss)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ember
from ember import metrics
from ember.data.ctr_dataset import CTRDataset
from ember.data.features import criteo_columns
from ember.data.synthetic_ctr import make_synthetic_ctr
from ember.recsys import MODELS, CrossNetwork, DotInteraction, build_model, fm_interaction


@pytest.fixture(scope="module")
def data():
    table = make_synthetic_ctr(1_024, seed=0, second_task=True, max_vocab=200).table
    return CTRDataset(table, criteo_columns())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_a_few_steps(data, name):
    options = {} if name == "lr" else {"embedding_dim": 8}
    if name not in ("lr", "fm"):
        options["hidden"] = [16]
    model = build_model(name, 26, 13, seed=0, **options)
    sparse = ember.optim.Adagrad(model.sparse_parameters(), lr=0.1)
    dense = ember.optim.Adam(model.dense_parameters(), lr=0.01)
    batch = data.take_batch(np.arange(256))
    target = batch.labels if model.num_tasks == 1 else ember.concat(
        [ember.reshape(batch.labels, (-1, 1)), batch.extra_labels], 1)
    losses = []
    for _ in range(8):
        sparse.zero_grad()
        dense.zero_grad()
        out = model(batch)
        assert tuple(out.shape) == ((256,) if model.num_tasks == 1 else (256, 2))
        loss = ember.binary_cross_entropy_with_logits(out, target)
        loss.backward()
        sparse.step()
        dense.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.01, losses
    assert model.sparse_parameters() and all(p.grad is not None for p in model.sparse_parameters())


def test_models_check_their_input(data):
    model = build_model("deepfm", 20, 13, embedding_dim=4, hidden=[8])
    with pytest.raises(ValueError, match="built for 20 fields"):
        model(data.take_batch(np.arange(4)))
    with pytest.raises(ValueError, match="unknown model type 'xgb'"):
        build_model("xgb", 26, 13)
    with pytest.raises(TypeError, match="hidden"):
        build_model("fm", 26, 13, hidden=[8])
    with pytest.raises(ValueError, match=r"each field once, got \[0, 0, 1\]"):  # a field twice in the user tower
        build_model("dssm", 4, 13, user_fields=[0, 0, 1])


def test_fixed_and_hash_tables_give_the_same_shapes(data):
    batch = data.take_batch(np.arange(64))
    fixed = build_model("dlrm", 26, 13, embedding_dim=4, hidden=[8], table="fixed", num_rows=1000)
    hashed = build_model("dlrm", 26, 13, embedding_dim=4, hidden=[8], table="hash")
    assert fixed(batch).shape == hashed(batch).shape == (64,)


@pytest.mark.parametrize("table", ["hash", "fixed"])
@pytest.mark.parametrize("init_std", [-0.01, float("nan"), "0.01"])
def test_tables_refuse_an_init_std_that_is_not_a_number_at_least_zero(table, init_std):
    # a hash table read a negative or NaN init_std as 0: zero rows, on which an FM's pairwise term has no gradient
    with pytest.raises(ValueError, match="make_table: init_std must be a number >= 0"):
        build_model("fm", 26, 13, embedding_dim=4, table=table, num_rows=100, init_std=init_std)


def test_fixed_table_reads_its_rows_unchanged_with_a_row_sparse_gradient():
    from ember.recsys.tables import FixedTable
    from ember.sparse import RowSparse

    table = FixedTable(4, num_rows=10)
    table.weight.array[3] = [3.0, 4.0, 0.0, 0.0]  # norm 5: a max_norm of 1 would rescale it
    before = table.weight.array.copy()
    out = table(np.array([3, 13, 5]))
    np.testing.assert_array_equal(out.detach().numpy(), before[[3, 3, 5]])
    np.testing.assert_array_equal(table.weight.array, before)
    out.sum().backward()
    assert isinstance(table.weight.grad, RowSparse)


def test_layers_against_numpy():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((3, 5, 4)).astype(np.float32)
    brute = sum((v[:, i] * v[:, j]).sum(1) for i, j in itertools.combinations(range(5), 2))
    np.testing.assert_allclose(fm_interaction(ember.tensor(v)).numpy(), brute, rtol=1e-5, atol=1e-5)
    dots = DotInteraction(5)(ember.tensor(v)).numpy()
    expected = np.stack([(v[:, i] * v[:, j]).sum(1) for i, j in itertools.combinations(range(5), 2)], 1)
    np.testing.assert_allclose(dots, expected, rtol=1e-5, atol=1e-5)
    cross = CrossNetwork(4, num_layers=1)
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    w, b = cross.layers[0].weight.detach().numpy(), cross.layers[0].bias.detach().numpy()
    np.testing.assert_allclose(cross(ember.tensor(x0)).detach().numpy(), x0 * (x0 @ w.T + b) + x0, rtol=1e-5, atol=1e-5)


def test_group_auc_streaming_auc_and_log_loss():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5_000)
    p = np.clip(0.3 * y + rng.random(5_000) * 0.7, 0, 1)
    groups = rng.integers(0, 50, 5_000)
    expected = []
    for g in np.unique(groups):
        rows = groups == g
        if 0 < y[rows].sum() < rows.sum():
            expected.append((metrics.roc_auc(p[rows], y[rows]), rows.sum()))
    value = sum(a * n for a, n in expected) / sum(n for _, n in expected)
    assert metrics.group_auc(p, y, groups) == pytest.approx(value)
    assert metrics.group_auc([0.9, 0.1, 0.4, 0.6], [1, 0, 0, 1], [7, 7, 8, 8]) == 1.0
    with pytest.raises(ValueError, match="both positive and negative"):
        metrics.group_auc([0.1, 0.2], [1, 1], [0, 1])
    # three classes: groups of classes 1 and 2 counted class 2 as negative (roc_auc refuses such targets)
    with pytest.raises(ValueError, match=r"group_auc: targets must hold two classes, got 3: \[0, 1, 2\]"):
        metrics.group_auc([0.9, 0.1, 0.4, 0.6], [1, 0, 2, 1], [7, 7, 8, 8])
    assert metrics.group_auc([0.9, 0.1, 0.4, 0.6], [2, 1, 1, 2], [7, 7, 8, 8], pos_label=2) == 1.0
    stream, running = metrics.StreamingAUC(), metrics.LogLoss()
    for part in np.array_split(np.arange(5_000), 7):
        stream.update(p[part], y[part])
        running.update(p[part], y[part])
    assert stream.result() == pytest.approx(metrics.roc_auc(p, y), abs=1e-3)
    assert running.result() == pytest.approx(metrics.log_loss(p, y))
    with pytest.raises(ValueError, match="probabilities"):
        stream.update(np.array([2.0]), np.array([1]))


def test_prefetched_rows_give_the_same_step(data):
    batches = [data.take_batch(np.arange(128)) for _ in range(2)]
    model = build_model("deepfm", 26, 13, embedding_dim=4, hidden=[8], seed=3)
    model.prefetch(batches[1])  # rows found ahead (inserting the new keys), as the loader thread does
    assert len(batches[1].prefetched) == 2 and not batches[0].prefetched
    out = [model(b).detach().numpy() for b in batches]
    np.testing.assert_array_equal(out[0], out[1])


@pytest.mark.parametrize("cast, dtype", [("double", np.float64), ("half", np.float16)])
def test_a_cast_model_gets_its_dtype_from_prefetched_rows_and_pooled_bags(data, cast, dtype):
    """The prefetched rows stayed float32 in a .double() model (its first Linear refused them: the Trainer's
    loader prefetches), and bags pooled to float32 in a .half() one; both are the model's dtype, as its lookups."""
    from ember.data.ctr_dataset import CTRBatch
    from ember.data.readers import CSR

    batch = data.take_batch(np.arange(16))
    model = getattr(build_model("deepfm", 26, 13, embedding_dim=4, hidden=[8], seed=3), cast)()
    plain = model.embedding(batch).detach().numpy()
    model.prefetch(batch)
    assert batch.prefetched
    fields = model.embedding(batch)
    assert fields.dtype == dtype
    np.testing.assert_array_equal(fields.detach().numpy(), plain)
    if cast == "double":
        assert model(batch).dtype == np.float64
    bag = CSR(np.array([0, 2, 3]), np.array([5, 6, 5]), np.ones(3, np.float32), (2, 0))
    for combiner in ("sum", "mean", "max"):
        bagged = CTRBatch(np.zeros(2), np.zeros((2, 0)), np.array([[5], [6]]), (bag,), combiners=(combiner,))
        pooled = model.embedding(bagged)
        assert pooled.dtype == dtype, combiner
        rows = model.embedding.table(np.array([5, 6])).detach().numpy().astype(np.float64)
        expected = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[combiner]
        np.testing.assert_allclose(pooled.detach().numpy()[0, 1], expected, rtol=1e-3, atol=1e-4)


def test_prefetched_rows_admit_and_count_as_the_step_would():
    # the prefetch looked each distinct key up once: a key twice in a batch never reached CountThreshold(2)
    from ember.data.ctr_dataset import CTRBatch
    from ember.embedding import CountThreshold, HashEmbedding
    from ember.recsys import FieldEmbedding

    keys = np.array([[1, 2], [1, 3], [4, 2], [1, 5]])
    tables = []
    for prefetch in (False, True):
        emb = FieldEmbedding(HashEmbedding(4, seed=0, admission=CountThreshold(2), metadata=True))
        batch = CTRBatch(np.zeros(4), np.zeros((4, 0)), keys)
        if prefetch:
            emb.prefetch(batch)
            assert batch.prefetched
        emb(batch)
        tables.append(emb.table.state_dict())
    plain, prefetched = tables
    assert sorted(plain["keys"].tolist()) == [1, 2]
    np.testing.assert_array_equal(prefetched["keys"], plain["keys"])
    np.testing.assert_array_equal(prefetched["meta.freq"], plain["meta.freq"])  # 3 and 2 lookups
    assert sorted(plain["meta.freq"].tolist()) == [2, 3]


def test_field_embedding_pools_bags():
    from ember.data.ctr_dataset import CTRBatch
    from ember.data.readers import CSR
    from ember.recsys import FieldEmbedding, make_table

    emb = FieldEmbedding(make_table(4, "hash", seed=0), combiner="mean")
    keys = np.array([[11], [12]])
    bag = CSR(np.array([0, 2, 2]), np.array([11, 13]), np.ones(2, np.float32), (2, 0))
    out = emb(CTRBatch(np.zeros(2), np.zeros((2, 0)), keys, (bag,))).detach().numpy()
    rows = emb.table(np.array([11, 12, 13])).detach().numpy()
    np.testing.assert_allclose(out[:, 0], rows[:2])
    np.testing.assert_allclose(out[0, 1], (rows[0] + rows[2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(out[1, 1], 0)  # an empty bag pools to zeros


def test_bags_are_pooled_by_their_columns_combiners():
    """Bag(combiner=...) reaches the model: each bag field pools by its column's combiner ("max" as PyTorch's
    embedding_bag, in values and gradient), whatever the field embedding's own default."""
    torch = pytest.importorskip("torch")
    from ember.data.ctr_dataset import CTRTable
    from ember.data.features import Bag, FeatureColumns, Identity
    from ember.recsys import FieldEmbedding, make_table

    class TaggedTable(CTRTable):  # a click log with three tag lists per row besides its categorical column
        def columns(self):
            tags = [np.array([4, 7, 4]), np.array([], np.int64), np.array([9])]
            return {**super().columns(), "s": tags, "m": tags, "x": tags}

    columns = FeatureColumns([Identity("a", 10), Bag("s", 50, "sum"), Bag("m", 50, "mean"), Bag("x", 50, "max")])
    table = TaggedTable(np.zeros(3, np.float32), np.zeros((3, 0), np.float32), np.array([[1], [2], [3]]), (), ("a",))
    dataset = CTRDataset(table, columns)
    batch = dataset.take_batch(np.arange(3))
    assert batch.combiners == ("sum", "mean", "max")
    emb = FieldEmbedding(make_table(4, "fixed", num_rows=10_000, seed=0), combiner="mean")
    out = emb(batch)
    weight = torch.tensor(emb.table.weight.detach().numpy(), requires_grad=True)
    rows = emb.table.num_rows  # (the fixed table's row of a key)
    expected = [torch.nn.functional.embedding(torch.tensor(batch.keys[:, 0] % rows), weight)]
    for bag, mode in zip(batch.bags, ("sum", "mean", "max")):
        expected.append(torch.nn.functional.embedding_bag(torch.tensor(bag.indices % rows), weight,
                                                          torch.tensor(bag.indptr[:-1]), mode=mode))
    expected = torch.stack(expected, 1)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6)
    scale = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    (out * ember.tensor(scale)).sum().backward()
    (expected * torch.tensor(scale)).sum().backward()
    np.testing.assert_allclose(emb.table.weight.grad.to_dense().numpy(), weight.grad.numpy(), rtol=1e-5, atol=1e-6)

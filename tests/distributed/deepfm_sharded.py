"""Run under `ember launch -n N`: ember.recsys.DeepFM with both hash tables (first-order weights and field
vectors) sharded across the ranks trains as one process does on the global batch: per-step losses, dense
weights, every table row with its Adagrad slot, and the predictions. The batches hold the 26 Criteo fields of
the synthetic set plus a bag field (a mean of several rows per example)."""

import numpy as np

import ember
import ember.distributed as dist
from ember.data.ctr_dataset import CTRBatch
from ember.data.features import Bag, FeatureColumns, criteo_columns
from ember.data.synthetic_ctr import make_synthetic_ctr
from ember.recsys import DeepFM

dist.init_process_group(timeout=60)
rank, world = dist.get_rank(), dist.get_world_size()
group = dist.default_group()

data = make_synthetic_ctr(1280, seed=5, max_vocab=300)
rng = np.random.default_rng(5)
tags = [rng.integers(0, 40, rng.integers(0, 4)) for _ in range(len(data.table))]  # bags of 0-3 ids
columns = FeatureColumns(criteo_columns().columns + [Bag("tags")])
features = columns.transform({**data.table.columns(), "tags": tags})
labels = data.table.labels


def batch(rows: np.ndarray) -> CTRBatch:
    return CTRBatch(labels[rows], features.dense[rows], features.keys[rows],
                    tuple(b.take_rows(rows) for b in features.bags))


def build() -> DeepFM:
    ember.manual_seed(1)
    return DeepFM(columns.num_fields, columns.num_dense, embedding_dim=8, hidden=[32, 16], seed=2)


def optimizers(model: DeepFM) -> list:
    return [ember.optim.Adagrad(model.sparse_parameters(), lr=0.05),
            ember.optim.Adam(model.dense_parameters(), lr=1e-3)]


def step(model, opts, b: CTRBatch) -> float:
    for o in opts:
        o.zero_grad()
    loss = ember.binary_cross_entropy_with_logits(model(b), b.labels)
    loss.backward()
    for o in opts:
        o.step()
    return loss.item()


single = build()
sharded = dist.shard_embeddings(build())
assert sum(isinstance(m, dist.ShardedHashEmbedding) for m in sharded.modules()) == 2
ddp = dist.DistributedDataParallel(sharded)
single_opts, sharded_opts = optimizers(single), optimizers(sharded)
train, global_batch = 1024, 256
local = global_batch // world
for _epoch in range(2):
    for lo in range(0, train, global_batch):
        expected = step(single, single_opts, batch(np.arange(lo, lo + global_batch)))
        mine = np.arange(lo + rank * local, lo + (rank + 1) * local)
        loss = group.all_reduce(np.array([step(ddp, sharded_opts, batch(mine))]), dist.ReduceOp.AVG)[0]
        assert abs(loss - expected) <= 1e-5 * abs(expected), (loss, expected)

dense = {id(p) for p in single.dense_parameters()}
mine = dict(sharded.named_parameters())
for name, p in single.named_parameters():
    if id(p) in dense:
        np.testing.assert_allclose(mine[name].detach().numpy(), p.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)

for field in ("linear.weights", "embedding"):
    shard = sharded.get_submodule(field).table.shard.state_dict()
    reference = single.get_submodule(field).table.state_dict()
    assert np.all(dist.shard_of(shard["keys"], world) == rank)
    assert group.all_reduce(np.array([len(shard["keys"])]))[0] == len(reference["keys"])
    where = {k: i for i, k in enumerate(reference["keys"].tolist())}
    rows = np.array([where[k] for k in shard["keys"].tolist()], dtype=np.int64)
    np.testing.assert_allclose(shard["values"], reference["values"][rows], rtol=1e-5, atol=1e-6, err_msg=field)
    slots = [k for k in shard if k.startswith("slot.")]
    assert slots
    for k in slots:
        np.testing.assert_allclose(shard[k], reference[k][rows], rtol=1e-5, atol=1e-6, err_msg=f"{field} {k}")

single.eval()
sharded.eval()
held_out = batch(np.arange(train, len(labels)))
with ember.no_grad():
    np.testing.assert_allclose(sharded(held_out).numpy(), single(held_out).numpy(), rtol=1e-4, atol=1e-5)
print(f"deepfm sharded ok on rank {rank} of {world}")

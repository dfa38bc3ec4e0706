"""Run under `ember launch -n N`: a sharded hash embedding (+ DDP dense part) trains as one process does."""

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.embedding import HashEmbedding

dist.init_process_group(timeout=30)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(0)
ids = rng.integers(0, 10**12, (64, 3))  # unbounded ids, some repeated within and across ranks
ids[::5, 0] = 42
y = rng.integers(0, 2, 64)


class Net(nn.Module):
    def __init__(self, table):
        super().__init__()
        self.table = table
        ember.manual_seed(7)
        self.head = nn.Linear(3 * 8, 2)

    def forward(self, ids):
        return self.head(self.table(ids).reshape(len(ids), -1))


sharded = Net(dist.ShardedHashEmbedding(8, seed=3))
ddp = dist.DistributedDataParallel(sharded)
single = Net(HashEmbedding(8, seed=3))
opts = [ember.optim.Adagrad(m.parameters(), lr=0.2) for m in (sharded, single)]
for lo in range(0, 64, 16):
    for o in opts:
        o.zero_grad()
    ember.cross_entropy(single(ids[lo : lo + 16]), ember.tensor(y[lo : lo + 16])).backward()
    mine = slice(lo + r, lo + 16, n)
    ember.cross_entropy(ddp(ids[mine]), ember.tensor(y[mine])).backward()
    for o in opts:
        o.step()

# every row lives on exactly one rank and equals the single-process row, with its Adagrad slot
state = sharded.table.shard.state_dict()
assert np.all(dist.shard_of(state["keys"], n) == r)
counts = dist.default_group().all_gather(np.array([len(state["keys"])]))
reference = single.table.state_dict()
assert counts.sum() == len(reference["keys"]), (counts, len(reference["keys"]))
where = {k: i for i, k in enumerate(reference["keys"].tolist())}
rows = np.array([where[k] for k in state["keys"].tolist()], dtype=np.int64)
np.testing.assert_allclose(state["values"], reference["values"][rows], rtol=1e-5, atol=1e-6)
slots = [k for k in state if k.startswith("slot.")]
assert slots
for k in slots:
    np.testing.assert_allclose(state[k], reference[k][rows], rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(sharded.head.weight.detach().numpy(), single.head.weight.detach().numpy(), rtol=1e-5,
                           atol=1e-6)
print(f"sharded ok on rank {r} of {n}")

"""Run under `ember launch -n 2`: DistributedDataParallel, and Model.fit in a multi-rank job, refuse a hash-table
embedding replicated on every rank (each rank numbers its rows by the ids it saw, so averaging row-sparse
gradients by row number updated other ids' rows), naming it and the ways to distribute it; a sharded one trains."""

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.embedding import HashEmbedding
from ember.model import Model

dist.init_process_group(timeout=30)
r = dist.get_rank()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.users = HashEmbedding(2, seed=0)
        self.head = nn.Linear(2, 1)

    def forward(self, ids):
        return self.head(self.users(ids)).reshape(-1)


for wrap in (dist.DistributedDataParallel,
             lambda net: Model(net, "mse", ember.optim.Adagrad(net.parameters(), lr=0.1)).fit(
                 np.arange(8), np.zeros(8, np.float32), batch_size=2, verbose=0)):
    try:
        wrap(Net())
    except ValueError as exc:
        assert "['users.weight'] are hash-table embeddings replicated on every rank" in str(exc), exc
        assert "dist.shard_embeddings" in str(exc)
    else:
        raise AssertionError("a replicated hash table was accepted")

net = dist.shard_embeddings(Net())
ddp = dist.DistributedDataParallel(net)
loss = ddp(np.array([10 + r, 20 + r])).sum()
loss.backward()
print(f"ddp hash table ok on rank {r}")

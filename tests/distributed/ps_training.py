"""Run under `ember launch -n 4 --servers 2`: synchronous parameter-server training equals one process on the
global batch; asynchronous training (bounded staleness) reaches the synchronous model's AUC."""

import sys

import numpy as np

import ember
import ember.distributed as dist
from ember import nn
from ember.embedding import HashEmbedding

dist.init_process_group(timeout=60)
staleness = int(sys.argv[1])
rng = np.random.default_rng(0)
truth = rng.standard_normal(400) * 1.5
ids = rng.integers(0, 400, (2048, 3)) + np.array([0, 10**9, 2 * 10**9])  # three fields, unbounded ids
logit = truth[ids % 10**9].sum(1)
y = (rng.random(2048) < 1 / (1 + np.exp(-logit))).astype(np.float32)
train, test = slice(0, 1536), slice(1536, None)


class CTR(nn.Module):
    def __init__(self, table):
        super().__init__()
        self.table = table
        ember.manual_seed(3)
        self.dense = nn.Linear(3 * 4, 1)

    def forward(self, ids):
        return self.dense(self.table(ids).reshape(len(ids), -1)).reshape(-1)


def auc(scores, labels):
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    return (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())


model = CTR(dist.ps.PSEmbedding(4, seed=11))
workers = dist.ps.worker_group()
if dist.ps.is_server():
    dist.ps.serve(lambda params: ember.optim.Adagrad(params, lr=0.3), staleness=staleness)
    sys.exit(0)

rank, world = workers.rank, workers.size
ddp = dist.DistributedDataParallel(model, group=workers)
opt = ember.optim.Adagrad(model.dense.parameters(), lr=0.3)
reference = CTR(HashEmbedding(4, seed=11))
ref_opt = ember.optim.Adagrad(reference.parameters(), lr=0.3)
batch = 64
for _epoch in range(4):
    for lo in range(0, 1536, batch):
        mine = slice(lo + rank, lo + batch, world)
        if lo + batch < 1536:
            model.table.prefetch(ids[lo + batch + rank : lo + 2 * batch : world])
        opt.zero_grad()
        ember.binary_cross_entropy_with_logits(ddp(ids[mine]), ember.tensor(y[mine])).backward()
        opt.step()
        if staleness == 0:
            ref_opt.zero_grad()
            ember.binary_cross_entropy_with_logits(reference(ids[lo : lo + batch]),
                                                   ember.tensor(y[lo : lo + batch])).backward()
            ref_opt.step()

model.eval()
with ember.no_grad():
    score = auc(model(ids[test]).numpy(), y[test])
if staleness == 0:
    keys = np.unique(ids[train])
    with ember.no_grad():
        served = model.table(keys).numpy()
    local = reference.table.table.read(reference.table.table.lookup(keys, train=False))
    np.testing.assert_allclose(served, local, rtol=1e-5, atol=1e-5)  # summation order differs
    np.testing.assert_allclose(model.dense.weight.detach().numpy(), reference.dense.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    reference.eval()
    with ember.no_grad():
        assert abs(score - auc(reference(ids[test]).numpy(), y[test])) < 1e-6
ceiling = auc(logit[test], y[test])
print(f"ps staleness {staleness} auc {score:.4f} ceiling {ceiling:.4f} on worker {rank} of {world}")
dist.ps.shutdown()

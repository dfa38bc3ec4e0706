"""Run under `ember launch -n 3 --servers 2` (one worker): a step whose ids all live on one server still steps
the other server's optimizer, as one table's optimizer steps every batch: SparseAdam's bias correction counts the
step (a server that skipped it trained rows 4e-3 away from one process)."""

import numpy as np

import ember
import ember.distributed as dist
from ember.distributed.sharded import shard_of
from ember.embedding import HashEmbedding

dist.init_process_group(timeout=30)


def optimizer(params) -> ember.optim.Optimizer:
    return ember.optim.SparseAdam(params, lr=0.01)


served = dist.ps.PSEmbedding(4, seed=1)
if dist.ps.is_server():
    dist.ps.serve(optimizer)
else:
    workers, rank = len(dist.ps.worker_ranks()), dist.get_rank()
    every = np.arange(40)
    first_server = every[shard_of(every, len(dist.ps.server_ranks())) == 0]
    single = HashEmbedding(4, seed=1)
    opt = optimizer(single.parameters())
    rng = np.random.default_rng(0)
    for step in range(4):
        ids = [rng.choice(first_server if step < 2 else every, (3, 2)) for _ in range(workers)]
        weights = [ember.tensor(rng.standard_normal((3, 2, 4)).astype(np.float32)) for _ in range(workers)]
        opt.zero_grad()
        (sum((single(i) * w).sum() for i, w in zip(ids, weights)) * (1.0 / workers)).backward()
        opt.step()
        (served(ids[rank]) * weights[rank]).sum().backward()
    single.eval()
    served.eval()
    with ember.no_grad():
        np.testing.assert_allclose(served(every).numpy(), single(every).numpy(), rtol=1e-6, atol=1e-7)
    dist.ps.shutdown()
    print("ps idle shard ok")
